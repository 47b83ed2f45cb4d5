"""HTTP routes of sealed tenders, under ``/api/v1/tenders``: a blueprint of thin routes.

Each route checks the token (:func:`api.http.answering.claims`, by the route's rule),
parses its body (:mod:`api.tenders.bodies`), calls the
:class:`~api.tenders.service.TenderService` or the hand-off saga
(:mod:`api.tenders.handoff`), and turns what it gets into JSON or, for a
:class:`~api.tenders.errors.TenderError`, into an RFC 9457 problem like the rest of the
API. An engine refusal carries its :class:`~engine.reasons.Reason` as ``code``, with its
``status_hint`` (403 for "not an officer of this tender", 404 for an unknown lot, 409
for the wrong moment, 422 for bad content). Who sees what is :mod:`api.tenders.visibility`.

==========================================================  =======  ========================
route                                                       who      what
==========================================================  =======  ========================
``GET  /tenders/server-key``                                anyone   the receipt/ceremony key
``POST /tenders``                                           officer  create a tender
``POST /tenders/{t}/ceremony``                              officer  key ceremony, publish
``GET  /tenders/{t}``                                       any      public part, opening key
``GET  /tenders/{t}/events``                                any      the log, as you may see it
``GET  /tenders/{t}/shares/mine``                           officer  your encrypted share
``POST /tenders/{t}/lots/{l}/schedule``                     any      change deadline (logged)
``POST /tenders/{t}/lots/{l}/envelopes``                    bidder   submit/replace (receipt)
``POST /tenders/{t}/lots/{l}/envelopes/{kind}``             bidder   the same, raw bytes, ≤1 MiB
``POST /tenders/{t}/lots/{l}/envelopes/{kind}/withdraw``    bidder   withdraw (receipt)
``GET  /tenders/{t}/receipts/{seq}``                        bidder   a receipt again
``GET  /tenders/{t}/lots/{l}/envelopes``                    any      list bids (logged)
``POST /tenders/{t}/lots/{l}/shares``                       officer  hand in a share; opens
``GET  /tenders/{t}/lots/{l}/offers``                       any      opened offers (rule)
``POST /tenders/{t}/lots/{l}/exclude``                      officer  exclude a bidder
``POST /tenders/{t}/lots/{l}/award``                        officer  award by the criterion
``POST /tenders/{t}/lots/{l}/auction``                      officer  hand off to multi-round
==========================================================  =======  ========================

The sealing and opening pages are :mod:`api.http.pages`; the OpenAPI operations of these
routes are :mod:`api.http.tender_operations`.

"who" in full, with how a token's auction binding applies (it names the tender here), is
each route's rule in :data:`api.access.rules.ROUTES`. Creating a tender and handing a lot off
need an officer whose token is not bound to an auction or a tender: they reach beyond
one (the hand-off creates an auction and mints its bidders' tokens).

Every ``POST`` takes an ``Idempotency-Key`` (:func:`api.http.answering.respond`): a
retry with the same key and body gets the first answer again (``Idempotent-Replayed:
true``), racing duplicates run once, the same key with another body is 422
``idempotency_key_reused``. The command's events commit with the mark of the key's
reservation (the service's ``mark``), so a retry after a crash between that commit and
the stored answer is answered from the log (:func:`once`), not run again. The tender
service calls each of the node's ``tender_observers`` with ``(tender_id, events)`` after
every commit.

Every read of bids before the deadline and every schedule change, allowed or not, is an
event in the tender's log. Before the opening no route can return a plaintext offer: the
server has none (envelopes arrive sealed; see :mod:`contracts.sealing`).
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, TypeVar, overload

from sanic import Blueprint, Request
from sanic.exceptions import PayloadTooLarge
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from api.access import auth
from api.access import rules as access
from api.auctions.outcomes import new_command_id
from api.http import answering
from api.http.idempotency import current_mark, current_slot
from api.http.metrics import Metrics
from api.http.problems import (
    Code,
    ProblemError,
    parse_object,
    parse_rules,
    problem,
    problem_from_reason,
    query_int,
    require_json,
)
from api.node import Node
from api.storage.ports import CommandMark
from api.tenders import bodies, handoff, visibility
from api.tenders.errors import (
    AuctionTaken,
    BodyError,
    DeadlineMoved,
    InvalidCriterion,
    MissingField,
    Refused,
    StorageFailed,
    TenderError,
    TenderExists,
    UnknownField,
    UnknownLot,
    UnknownTender,
)
from api.tenders.service import TenderService, own_event, receipt_for
from contracts import sealing
from contracts.receipts import key_id
from engine.codec import to_data
from engine.commands import Command, RegisterBidder
from engine.events import CommandRejected, Event
from engine.reasons import Reason
from engine.rules import AuctionRules
from engine.tender import Tender
from engine.tender_records import (
    Award,
    ChangeSchedule,
    EnvelopeKind,
    EnvelopeReceived,
    EnvelopeWithdrawn,
    ExcludeBidder,
    LotHandedOff,
    ReadBids,
    ShareAccepted,
    TenderCommand,
    TenderEvent,
    TenderPublished,
    TenderSpec,
    decode_tender_event,
)

__all__ = [
    "MAX_ENVELOPE",
    "once",
    "tender_problem",
    "tenders_blueprint",
]

_P = "/api/v1/tenders"
#: The largest sealed envelope, in bytes: the raw upload route's own body limit.
MAX_ENVELOPE = max(sealing.ENVELOPE_SIZES)
#: What a command's ``work`` returns: status, body[, headers].
Answer = answering.Answer
_T = TypeVar("_T")


# ------------------------------------------------------------------ errors as problems


def _refusal(rejected: CommandRejected) -> ProblemError:
    reason = rejected.reason
    return ProblemError(
        problem_from_reason(
            reason,
            rejected.detail or reason.value.replace("_", " "),
            extra={"seq": rejected.seq, "server_time": rejected.at},
        )
    )


def tender_problem(error: TenderError) -> ProblemError:
    """The problem a route answers ``error`` with (the same status, code, detail and
    ``field`` as when the routes built them inline). A :class:`StorageFailed` is a
    command that recorded nothing here; a read that fails says so itself (the
    blueprint's ``load``). O(1)."""
    if isinstance(error, Refused):
        return _refusal(error.rejected)
    if isinstance(error, UnknownTender):
        return ProblemError(problem(Code.NOT_FOUND, f"no tender {str(error)!r}"))
    if isinstance(error, UnknownLot):
        return ProblemError(problem(Code.NOT_FOUND, str(error)))
    if isinstance(error, StorageFailed):
        return ProblemError(
            problem(Code.STORAGE_UNAVAILABLE, "nothing was recorded", retry_after=1)
        )
    if isinstance(error, TenderExists):
        return ProblemError(problem_from_reason(Reason.TENDER_EXISTS, f"{str(error)!r} exists"))
    if isinstance(error, DeadlineMoved):
        # The deadline the client sealed under is bound into the HPKE info: if the
        # officers moved it since, the envelope would never open; say so now.
        return ProblemError(
            problem_from_reason(Reason.INVALID_SCHEDULE, f"{error}: seal the offer again")
        )
    if isinstance(error, AuctionTaken):
        return ProblemError(problem_from_reason(Reason.AUCTION_EXISTS, str(error)))
    if isinstance(error, InvalidCriterion):
        return ProblemError(problem_from_reason(Reason.INVALID_TENDER, str(error)))
    if isinstance(error, BodyError):
        code = Code.INVALID_FIELD
        if isinstance(error, UnknownField):
            code = Code.UNKNOWN_FIELD
        elif isinstance(error, MissingField):
            code = Code.MISSING_FIELD
        return ProblemError(problem(code, str(error), extra={"field": error.field}))
    raise AssertionError(f"no problem for {type(error).__name__}")  # a new TenderError


_TOP_FIELDS = ("currency", "officers", "threshold", "lots", "auction_rules", "criterion")


def _create_field(spec: TenderSpec, rejected: CommandRejected) -> dict[str, str]:
    """Where in the create body the engine's refusal of ``spec`` points, as a parse
    refusal names its field: ``field`` (the body's member) and ``pointer`` (``/lots/0/
    deadline`` for ``"lot L1: deadline must be in the future"``); ``{}`` when the sentence
    names none. O(lots + features)."""
    detail = rejected.detail or ""
    if rejected.reason is Reason.NOT_TENDER_OFFICER:
        return {"field": "officers", "pointer": "/officers"}
    lot = re.match(r"lot (\S+): (.*)$", detail)
    if lot:
        ids = [each.lot for each in spec.lots]
        at = ids.index(lot[1]) if lot[1] in ids else 0
        words = lot[2]
        member = next((m for m in ("deadline", "opening_at") if words.startswith(m)), "kinds")
        return {"field": "lots", "pointer": f"/lots/{at}/{member}"}
    feature = re.match(r"feature '(.*)': (weight|maximum) ", detail)
    if feature:
        names = [each.name for each in spec.features]
        at = names.index(feature[1]) if feature[1] in names else 0
        return {"field": "features", "pointer": f"/features/{at}/{feature[2]}"}
    for word in re.findall(r"[a-z_]+", detail):
        name = "features" if word in ("feature", "features") else word
        if name in (*_TOP_FIELDS, "features"):
            return {"field": name, "pointer": f"/{name}"}
    return {}


@contextmanager
def _problems() -> Iterator[None]:
    """Turn a :class:`TenderError` raised inside into its problem."""
    try:
        yield
    except TenderError as error:
        raise tender_problem(error) from None


@overload
async def once(
    svc: TenderService,
    tender_id: str,
    run: Callable[[CommandMark | None], Awaitable[list[TenderEvent]]],
) -> list[TenderEvent]: ...


@overload
async def once(
    svc: TenderService,
    tender_id: str,
    run: Callable[[CommandMark | None], Awaitable[_T]],
    answer: Callable[[list[TenderEvent]], _T],
) -> _T: ...


async def once(
    svc: TenderService,
    tender_id: str,
    run: Callable[[CommandMark | None], Awaitable[Any]],
    answer: Callable[[list[TenderEvent]], Any] | None = None,
) -> Any:
    """``run(mark)`` under the running request's idempotency reservation (its mark; ``None``
    without one); or, when a previous, dead owner of the reservation had committed the
    command's events on ``tender_id`` already, those events read back
    (:meth:`TenderService.recorded`), through ``answer`` if given: never run twice."""
    slot = current_slot()
    done = None if slot is None else slot.committed
    if done is not None and done.auction_id == tender_id:
        events = await svc.recorded(tender_id, done.first_seq, done.last_seq)
        return events if answer is None else answer(events)
    return await run(current_mark())


class _Auctions:
    """The hand-off saga's :class:`~api.tenders.handoff.Auctions`, over the node's service;
    registrations run as any auction command (:func:`api.http.answering.run`: its
    refusals are problems)."""

    def __init__(self, node: Node, metrics: Metrics | None) -> None:
        self._node = node
        self._metrics = metrics

    async def history(self, auction_id: str, after: int) -> list[Event]:
        return await self._node.svc.history(auction_id, after)

    async def create(self, auction_id: str, rules: AuctionRules, command_id: str) -> list[Event]:
        return await self._node.svc.create(auction_id, rules, command_id)

    async def register(self, auction_id: str, bidder: str, initial: Decimal) -> None:
        def register(cid: str, at: int) -> Command:
            return RegisterBidder(cid, at, bidder, Decimal(0), Decimal(0), initial)

        # Run outside the request's idempotency slot (a fresh context): the slot
        # belongs to the hand-off, not to these registrations in another log.
        await asyncio.create_task(
            answering.run(
                self._node, auction_id, register, prefix="register", metrics=self._metrics
            ),
            context=contextvars.Context(),
        )


# ------------------------------------------------------------------ the blueprint


def tenders_blueprint(node: Node, metrics: Metrics | None = None) -> Blueprint:
    """The tender routes; they share ``node`` (keys, tokens, the tender service; ``metrics``
    counts the hand-off's registrations as any auction command). The service is the
    node's (:attr:`Node.tender_svc`, built with its storage): while it is not to be used,
    a route raises :class:`~api.node.NotReady`, answered 503 ``shutting_down``. It calls
    each of ``node.tender_observers`` (the list itself: observers added later are called
    too) after every commit."""
    bp = Blueprint("tenders")
    key = node.key

    def service() -> TenderService:
        return node.tender_svc

    async def load(tender_id: str) -> Tender:
        try:
            return await service().tender(tender_id)
        except StorageFailed:
            # Its last commit's fate is still being learned (or storage is down).
            raise ProblemError(
                problem(Code.STORAGE_UNAVAILABLE, "the tender cannot be read now", retry_after=1)
            ) from None
        except TenderError as error:
            raise tender_problem(error) from None

    def body(request: Request) -> dict[str, Any]:
        require_json(request.headers.get("content-type"))
        return parse_object(request.body, max_bytes=node.settings.max_body)

    async def respond(
        request: Request, claims: auth.Claims, work: Callable[[], Awaitable[Answer]]
    ) -> HTTPResponse:
        """:func:`api.http.answering.respond` of ``work``, its tender errors answered as
        problems (and so stored under the request's ``Idempotency-Key`` as any refusal)."""

        async def answered() -> Answer:
            with _problems():
                return await work()

        return await answering.respond(node, request, claims, answered)

    async def command(tender_id: str, make: Callable[[int], TenderCommand]) -> TenderEvent:
        """Run ``make(at)`` on the tender; its own event (or its refusal, raised)."""
        svc = service()
        events = await once(svc, tender_id, lambda mark: svc.command(tender_id, make, mark))
        return own_event(events)

    async def answer_command(
        request: Request,
        claims: auth.Claims,
        tender_id: str,
        make: Callable[[int], TenderCommand],
    ) -> HTTPResponse:
        """Run ``make(at)`` on the tender (under the request's ``Idempotency-Key``) and
        answer 200 with its own event, or the problem its refusal maps to."""

        async def work() -> Answer:
            own = await command(tender_id, make)
            return 200, {"seq": own.seq, "event": to_data(own)}

        return await respond(request, claims, work)

    # ------------------------------------------------------------------ keys

    @bp.get(f"{_P}/server-key", name="tender_server_key")
    async def server_key(request: Request) -> HTTPResponse:
        public = key.public_key().public_bytes_raw()
        return json_response(
            {
                "algorithm": "Ed25519",
                "public_key": public.hex(),
                "key_id": key_id(public),
                "pem": auth.public_key_pem(key).decode(),
            }
        )

    # ------------------------------------------------------------------ tenders

    @bp.post(_P, name="tender_create")
    async def create(request: Request) -> HTTPResponse:
        claims = answering.claims(
            node, request
        )  # an officer not bound to an auction (api.access.rules)
        tree = body(request)
        chosen = "id" in tree
        with _problems():
            tender_id, spec = bodies.tender_spec(tree)
        if chosen and await node.id_kind(tender_id) == "auction":
            # A token's binding names an auction or a tender: never two things at once.
            raise ProblemError(
                problem_from_reason(
                    Reason.TENDER_EXISTS, f"an auction is called {tender_id!r}: ids name one thing"
                )
            )

        async def work() -> Answer:
            # Under an Idempotency-Key the id the server picks comes from the reservation,
            # so a retry names the same tender (and finds its own answer).
            slot = current_slot()
            made = tender_id if chosen or slot is None else f"t-{slot.command_id[:12]}"
            svc = service()
            events = await once(svc, made, lambda mark: svc.create(made, claims.sub, spec, mark))
            last = events[-1]
            if isinstance(last, CommandRejected):
                # The engine's refusal names the body's field at fault, as a parse refusal does.
                answer = tender_problem(Refused(last)).problem
                extra = {**answer.extra, **_create_field(spec, last)}
                raise ProblemError(dataclasses.replace(answer, extra=extra))
            created = own_event(events)
            return 201, {"id": made, "seq": created.seq}, {"Location": f"{_P}/{made}"}

        return await respond(request, claims, work)

    @bp.post(f"{_P}/<tender_id>/ceremony", name="tender_ceremony")
    async def ceremony(request: Request, tender_id: str) -> HTTPResponse:
        claims = answering.claims(node, request, tender_id)

        async def work() -> Answer:
            svc = service()
            events = await once(
                svc, tender_id, lambda mark: svc.ceremony(tender_id, claims.sub, mark)
            )
            published = own_event(events)
            assert isinstance(published, TenderPublished)  # a ceremony's own event
            return 201, {
                "seq": published.seq,
                "opening_public_key": published.public_key,
                "ceremony": published.ceremony,
            }

        return await respond(request, claims, work)

    @bp.get(f"{_P}/<tender_id>", name="tender_get")
    async def get(request: Request, tender_id: str) -> HTTPResponse:
        claims = answering.claims(node, request, tender_id)
        tender = await load(tender_id)
        overseer = visibility.is_overseer(tender, claims)
        return json_response(visibility.public_view(tender_id, tender, service().clock(), overseer))

    @bp.get(f"{_P}/<tender_id>/events", name="tender_events")
    async def events(request: Request, tender_id: str) -> HTTPResponse:
        claims = answering.claims(node, request, tender_id)
        tender = await load(tender_id)
        history = await service().history(tender_id)
        return json_response({"events": visibility.visible_events(tender, claims, history)})

    @bp.get(f"{_P}/<tender_id>/shares/mine", name="tender_my_share")
    async def my_share(request: Request, tender_id: str) -> HTTPResponse:
        claims = answering.claims(node, request, tender_id)
        await load(tender_id)
        text = await service().store.share(tender_id, claims.sub)
        if text is None:
            raise ProblemError(problem(Code.NOT_FOUND, f"no share for {claims.sub!r}"))
        return json_response(json.loads(text))

    # ------------------------------------------------------------------ lots

    @bp.post(f"{_P}/<tender_id>/lots/<lot>/schedule", name="tender_schedule")
    async def schedule(request: Request, tender_id: str, lot: str) -> HTTPResponse:
        # Any role may *try*: the engine refuses and logs anyone who is not an officer
        # of this tender, so every attempt is in the log.
        claims = answering.claims(node, request, tender_id)
        tree = body(request)
        with _problems():
            deadline, opening_at = bodies.schedule(tree)

        return await answer_command(
            request,
            claims,
            tender_id,
            lambda at: ChangeSchedule(
                new_command_id("schedule"), at, claims.sub, lot, deadline, opening_at
            ),
        )

    async def envelope(
        request: Request,
        claims: auth.Claims,
        tender_id: str,
        lot: str,
        kind: EnvelopeKind,
        ciphertext: bytes,
        sealed_for: int | None,
    ) -> HTTPResponse:
        """Store one sealed envelope (either upload route) and answer its signed receipt."""
        with _problems():
            bodies.sealed_size(ciphertext)

        async def work() -> Answer:
            svc = service()
            events = await once(
                svc,
                tender_id,
                lambda mark: svc.submit(
                    tender_id, claims.sub, lot, kind, ciphertext, sealed_for=sealed_for, mark=mark
                ),
            )
            received = own_event(events)
            assert isinstance(received, EnvelopeReceived)
            signed = receipt_for(tender_id, received, key)
            answer = {**signed.to_json(), "replaced": received.replaced}
            # With the audit trail on: a signed checkpoint of the tender's log that
            # covers this receipt, so the supplier can later prove it was in the log.
            checkpoint = node.tender_checkpoint
            if checkpoint is not None:
                answer["checkpoint"] = await checkpoint(tender_id, "receipt")
            return 201, answer

        return await respond(request, claims, work)

    @bp.post(f"{_P}/<tender_id>/lots/<lot>/envelopes", name="tender_submit")
    async def submit(request: Request, tender_id: str, lot: str) -> HTTPResponse:
        claims = answering.claims(node, request, tender_id)
        tree = body(request)
        with _problems():
            sent = bodies.submission(tree)
        return await envelope(
            request, claims, tender_id, lot, sent.kind, sent.ciphertext, sent.sealed_for
        )

    @bp.post(f"{_P}/<tender_id>/lots/<lot>/envelopes/<kind>", name="tender_upload", stream=True)
    async def upload(request: Request, tender_id: str, lot: str, kind: str) -> HTTPResponse:
        # A streaming route: Sanic lifts the app-wide body limit (GAVEL_MAX_BODY) for it,
        # and this route sets its own, the largest sealed envelope. Nothing is read
        # before the token is checked, and a declared length over the limit is refused
        # before a byte of the body is read.
        claims = answering.claims(node, request, tender_id)
        with _problems():
            which = bodies.envelope_kind(kind)
        media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if media != "application/octet-stream":
            raise ProblemError(
                problem(
                    Code.UNSUPPORTED_MEDIA_TYPE,
                    "send the envelope's bytes as application/octet-stream",
                )
            )
        sealed_for = None
        if "deadline" in request.args:
            deadline = {"deadline": query_int(request.args, "deadline")}
            with _problems():
                sealed_for = bodies.time_value(deadline, "deadline")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_ENVELOPE:
            raise _too_large(int(declared))
        if request.stream is not None:
            request.stream.request_max_size = MAX_ENVELOPE
        try:
            # Sanic's Request.receive_body has no annotations at all (a gap in its types).
            await request.receive_body()  # type: ignore[no-untyped-call]
        except PayloadTooLarge:
            raise _too_large(None) from None
        return await envelope(request, claims, tender_id, lot, which, request.body, sealed_for)

    @bp.post(f"{_P}/<tender_id>/lots/<lot>/envelopes/<kind>/withdraw", name="tender_withdraw")
    async def withdraw(request: Request, tender_id: str, lot: str, kind: str) -> HTTPResponse:
        claims = answering.claims(node, request, tender_id)
        with _problems():
            which = bodies.envelope_kind(kind)

        async def work() -> Answer:
            svc = service()
            events = await once(
                svc,
                tender_id,
                lambda mark: svc.withdraw(tender_id, claims.sub, lot, which, mark),
            )
            withdrawn = own_event(events)
            assert isinstance(withdrawn, EnvelopeWithdrawn)
            return 200, receipt_for(tender_id, withdrawn, key).to_json()

        return await respond(request, claims, work)

    @bp.get(f"{_P}/<tender_id>/receipts/<seq:int>", name="tender_receipt")
    async def receipt(request: Request, tender_id: str, seq: int) -> HTTPResponse:
        claims = answering.claims(node, request, tender_id)
        stored = await service().store.event(tender_id, seq) if 0 < seq < 2**62 else None
        event = None
        if stored is not None:
            event = decode_tender_event(stored.payload)
        if not isinstance(event, EnvelopeReceived | EnvelopeWithdrawn):
            raise ProblemError(problem(Code.NOT_FOUND, f"no receipt at seq {seq}"))
        tender = await load(tender_id)
        if not visibility.may_see_receipt(tender, claims, event.bidder):
            raise auth.WrongParty("a receipt is for its bidder, the committee and auditors")
        return json_response(receipt_for(tender_id, event, key).to_json())

    @bp.get(f"{_P}/<tender_id>/lots/<lot>/envelopes", name="tender_bids")
    async def bids(request: Request, tender_id: str, lot: str) -> HTTPResponse:
        claims = answering.claims(node, request, tender_id)
        with _problems():
            read = await command(
                tender_id, lambda at: ReadBids(new_command_id("read"), at, claims.sub, lot)
            )
        tender = await load(tender_id)
        state = tender.lots[lot]
        return json_response(
            {
                "seq": read.seq,
                "envelopes": [
                    {
                        "bidder": bidder,
                        "kind": kind.value,
                        "commitment": envelope.commitment,
                        "size": envelope.size,
                        "received_at": envelope.received_at,
                        "seq": envelope.seq,
                    }
                    for (bidder, kind), envelope in sorted(state.envelopes.items())
                ],
            }
        )

    @bp.post(f"{_P}/<tender_id>/lots/<lot>/shares", name="tender_share")
    async def share(request: Request, tender_id: str, lot: str) -> HTTPResponse:
        claims = answering.claims(node, request, tender_id)
        tree = body(request)
        with _problems():
            sent = bodies.share(tree)

        async def work() -> Answer:
            svc = service()
            events, report = await once(
                svc,
                tender_id,
                lambda mark: svc.submit_share(
                    tender_id, claims.sub, lot, sent.kind, sent.share, sent.problem, mark
                ),
                TenderService.share_answer,
            )
            accepted = own_event(events)
            assert isinstance(accepted, ShareAccepted)  # a share's own event
            answer: dict[str, Any] = {
                "seq": accepted.seq,
                "count": accepted.count,
                "opened": False,
            }
            if report is not None:
                if report.failure is not None:
                    raise ProblemError(
                        problem_from_reason(
                            Reason.INVALID_SHARE,
                            "the shares did not rebuild the key and were discarded: "
                            + report.failure,
                        )
                    )
                rejected = [e for e in report.events if isinstance(e, CommandRejected)]
                if rejected:
                    raise _refusal(rejected[0])
                answer["opened"] = True
                answer["opened_events"] = [e.seq for e in report.events]
            return 201, answer

        return await respond(request, claims, work)

    @bp.get(f"{_P}/<tender_id>/lots/<lot>/offers", name="tender_offers")
    async def offers(request: Request, tender_id: str, lot: str) -> HTTPResponse:
        claims = answering.claims(node, request, tender_id)
        tender = await load(tender_id)
        with _problems():
            return json_response(visibility.offers_view(tender, claims, lot))

    @bp.post(f"{_P}/<tender_id>/lots/<lot>/exclude", name="tender_exclude")
    async def exclude(request: Request, tender_id: str, lot: str) -> HTTPResponse:
        claims = answering.claims(node, request, tender_id)
        tree = body(request)
        with _problems():
            bidder, note = bodies.exclusion(tree)

        return await answer_command(
            request,
            claims,
            tender_id,
            lambda at: ExcludeBidder(new_command_id("exclude"), at, claims.sub, lot, bidder, note),
        )

    @bp.post(f"{_P}/<tender_id>/lots/<lot>/award", name="tender_award")
    async def award(request: Request, tender_id: str, lot: str) -> HTTPResponse:
        claims = answering.claims(node, request, tender_id)

        return await answer_command(
            request,
            claims,
            tender_id,
            lambda at: Award(new_command_id("award"), at, claims.sub, lot),
        )

    @bp.post(f"{_P}/<tender_id>/lots/<lot>/auction", name="tender_hand_off")
    async def hand_off(request: Request, tender_id: str, lot: str) -> HTTPResponse:
        # It creates an auction and mints its bidders' tokens: an officer not bound to
        # an auction or a tender only (api.access.rules).
        claims = answering.claims(node, request)
        tree = body(request)
        with _problems():
            sent = bodies.hand_off(tree, tender_id, lot)
        auction_id = sent.auction_id
        rules = parse_rules(sent.rules)

        def mint_for(auction: str) -> access.Grant:
            now_s = service().clock() // 1_000_000
            ttl = node.settings.token_ttl_s
            return access.grant(claims, auth.Role.BIDDER, auction, ttl, now_s=now_s)

        # Checked before any work; again for the auction the log names (the same one).
        mint_for(auction_id)
        if await node.id_kind(auction_id) == "tender":
            raise ProblemError(
                problem_from_reason(
                    Reason.AUCTION_EXISTS, f"a tender is called {auction_id!r}: ids name one thing"
                )
            )

        async def work() -> Answer:
            tender = await load(tender_id)
            svc = service()
            auctions = _Auctions(node, metrics)

            async def run(mark: CommandMark | None) -> TenderEvent:
                return await handoff.hand_off(
                    svc,
                    auctions,
                    tender_id,
                    tender,
                    lot,
                    claims.sub,
                    auction_id,
                    rules,
                    mark,
                )

            # A previous attempt under this Idempotency-Key that recorded the hand-off (its
            # auction exists then) and died before answering is answered from the log.
            handed = await once(svc, tender_id, run, own_event)
            assert isinstance(handed, LotHandedOff)
            tokens, jtis = {}, {}
            grant = mint_for(handed.auction_id)
            for rank in handed.ranking:
                tokens[rank.bidder], jtis[rank.bidder], _ = await node.credentials.mint(
                    rank.bidder, grant
                )
            return 201, {
                "seq": handed.seq,
                "auction_id": handed.auction_id,
                "event": to_data(handed),
                "tokens": tokens,
                "jtis": jtis,
            }

        return await respond(request, claims, work)

    return bp


def _too_large(declared: int | None) -> ProblemError:
    size = "the body" if declared is None else f"the body ({declared} bytes)"
    return ProblemError(
        problem(
            Code.BODY_TOO_LARGE,
            f"{size} is larger than the largest sealed envelope ({MAX_ENVELOPE} bytes)",
        )
    )
