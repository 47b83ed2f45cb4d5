"""HTTP routes of sealed tenders, under ``/api/v1/tenders``.

``add_tender_routes(app, gavel)`` adds them; :class:`~api.tenders.service.TenderService`
does the work (created on first use, once the pool is up). Errors are RFC 9457 problems
like the rest of the API; an engine refusal carries its :class:`~engine.reasons.Reason`
as ``code``, with its ``status_hint`` (403 for "not an officer of this tender", 404 for
an unknown lot, 409 for the wrong moment, 422 for bad content).

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
``GET  /seal/`` (``/seal/seal.js``, ...)                     anyone   the sealing page, its files
``GET  /open/`` (``/open/tender-open.js``, ...)              anyone   the opening page, its files
==========================================================  =======  ========================

"who" in full, with how a token's auction binding applies (it names the tender here), is
each route's rule in :data:`api.access.rules.ROUTES`. Creating a tender and handing a lot off
need an officer whose token is not bound to an auction or a tender: they reach beyond
one (the hand-off creates an auction and mints its bidders' tokens).

Every ``POST`` takes an ``Idempotency-Key`` (``Gavel.respond``): a retry with the same key
and body gets the first answer again (``Idempotent-Replayed: true``), racing duplicates
run once, the same key with another body is 422 ``idempotency_key_reused``. The command's
events commit with a mark of the key's reservation, so a retry after a crash between that
commit and the stored answer is answered from the log, not run again. The tender
service calls each of ``app.ctx.tender_observers`` with ``(tender_id, events)`` after every
commit.

Every read of bids before the deadline and every schedule change, allowed or not, is an
event in the tender's log. Before the opening no route can return a plaintext offer: the
server has none (envelopes arrive sealed; see :mod:`contracts.sealing`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextvars
import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sanic import Request
from sanic.exceptions import PayloadTooLarge
from sanic.response import HTTPResponse, redirect
from sanic.response import json as json_response

from api.access import auth
from api.access import rules as access
from api.auctions.outcomes import new_command_id
from api.auctions.service import AuctionExists
from api.http.idempotency import current_slot
from api.http.openapi import EXAMPLE_TIME, time_query
from api.http.openapi import operation as openapi_operation
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
from api.http.webapp import App
from api.tenders.service import (
    DeadlineMoved,
    StorageFailed,
    TenderExists,
    TenderService,
    UnknownTender,
    receipt_for,
)
from contracts import custody, sealing
from contracts.bounds import TENDER_IDENT, TIME
from contracts.receipts import key_id
from engine.codec import to_data
from engine.commands import RegisterBidder
from engine.events import AuctionCreated, BidderRegistered, CommandRejected
from engine.money import minor_units
from engine.reasons import Reason
from engine.rules import MultiRoundRules
from engine.tender import Tender, replay_tender
from engine.tender_records import (
    MAX_FEATURES,
    Award,
    ChangeSchedule,
    Criterion,
    EnvelopeInvalid,
    EnvelopeKind,
    EnvelopeOpened,
    EnvelopeReceived,
    EnvelopeWithdrawn,
    ExcludeBidder,
    Feature,
    FollowUp,
    HandOff,
    LotAwarded,
    LotHandedOff,
    LotSpec,
    Officer,
    Publication,
    Rank,
    ReadBids,
    ShareAccepted,
    TenderEvent,
    TenderPublished,
    TenderSpec,
    decode_tender_event,
    feature_value,
)

if TYPE_CHECKING:
    from api.http.app import Gavel

__all__ = ["MAX_ENVELOPE", "add_tender_routes", "openapi_paths"]

_P = "/api/v1/tenders"
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
#: The largest sealed envelope, in bytes: the raw upload route's own body limit.
MAX_ENVELOPE = max(sealing.ENVELOPE_SIZES)
#: What a command's ``work`` returns to ``Gavel.respond``: status, body[, headers].
Answer = tuple[int, dict[str, Any]] | tuple[int, dict[str, Any], dict[str, str]]
#: The supplier's sealing page and what it loads, served under ``/seal/``.
_STATIC = Path(__file__).resolve().parent.parent / "static"
_SEAL_FILES = {
    "": ("seal.html", "text/html; charset=utf-8"),
    "seal.js": ("seal.js", "text/javascript; charset=utf-8"),
    "seal-page.js": ("seal-page.js", "text/javascript; charset=utf-8"),
    "tender-seal.css": ("tender-seal.css", "text/css; charset=utf-8"),
}
#: The officer's opening page and what it loads, served under ``/open/``.
_OPEN_FILES = {
    "": ("open.html", "text/html; charset=utf-8"),
    "seal.js": ("seal.js", "text/javascript; charset=utf-8"),
    "tender-custody.js": ("tender-custody.js", "text/javascript; charset=utf-8"),
    "tender-open.js": ("tender-open.js", "text/javascript; charset=utf-8"),
    "tender-seal.css": ("tender-seal.css", "text/css; charset=utf-8"),
}
#: Both pages run their own module scripts only, talk to this server only, and may not be
#: framed: a token in the fragment, an offer typed in and a key file read stay on this origin.
SEAL_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
#: Events whose content is an opened offer: shown per the tender's publication rule.
_OFFER_EVENTS = (EnvelopeOpened, EnvelopeInvalid, LotAwarded, LotHandedOff)


def _refusal(rejected: CommandRejected) -> ProblemError:
    reason = rejected.reason
    return ProblemError(
        problem_from_reason(
            reason,
            rejected.detail or reason.value.replace("_", " "),
            extra={"seq": rejected.seq, "server_time": rejected.at},
        )
    )


def _own(events: list[TenderEvent]) -> TenderEvent:
    """The command's own (last) event; raise its problem if it was refused."""
    last = events[-1]
    if isinstance(last, CommandRejected):
        raise _refusal(last)
    return last


def _too_large(declared: int | None) -> ProblemError:
    size = "the body" if declared is None else f"the body ({declared} bytes)"
    return ProblemError(
        problem(
            Code.BODY_TOO_LARGE,
            f"{size} is larger than the largest sealed envelope ({MAX_ENVELOPE} bytes)",
        )
    )


def _invalid(field: str, detail: str) -> ProblemError:
    return ProblemError(problem(Code.INVALID_FIELD, f"{field}: {detail}", extra={"field": field}))


def _fields(
    tree: dict[str, Any], required: set[str], optional: frozenset[str] | set[str] = frozenset()
) -> None:
    unknown = set(tree) - required - optional
    if unknown:
        name = sorted(unknown)[0]
        raise ProblemError(
            problem(Code.UNKNOWN_FIELD, f"unknown field {name!r}", extra={"field": name})
        )
    missing = required - set(tree)
    if missing:
        name = sorted(missing)[0]
        raise ProblemError(
            problem(Code.MISSING_FIELD, f"{name} is required", extra={"field": name})
        )


def _text(tree: dict[str, Any], name: str, *, ident: bool = False) -> str:
    value = tree.get(name)
    if not isinstance(value, str) or not value or len(value) > 200:
        raise _invalid(name, "must be a string of 1-200 characters")
    if ident and not set(value) <= _ID_CHARS:
        raise _invalid(name, "letters, digits, '-', '_' or '.' only")
    return value


def _int(tree: dict[str, Any], name: str) -> int:
    # Every integer a tender body carries is a time: bounded like all of the API's
    # (contracts.bounds.TIME), so a deadline of 10**30 never reaches the log.
    value = tree.get(name)
    if type(value) is not int or TIME.problem(value) is not None:
        raise _invalid(name, f"must be an integer, {TIME.description}")
    return value


def _optional_text(tree: dict[str, Any], name: str) -> str:
    value = tree.get(name, "")
    if not isinstance(value, str):
        raise _invalid(name, "must be a string")
    return value


def _kind(value: Any, name: str = "kind") -> EnvelopeKind:
    try:
        return EnvelopeKind(value)
    except ValueError:
        raise _invalid(name, f"must be one of {[k.value for k in EnvelopeKind]}") from None


def _spec(tree: dict[str, Any]) -> tuple[str, TenderSpec]:
    _fields(
        tree,
        {"title", "currency", "officers", "threshold", "lots"},
        {"id", "publication", "follow_up", "auction_rules", "criterion", "features"},
    )
    tender_id = _text(tree, "id", ident=True) if "id" in tree else f"t-{uuid.uuid4().hex[:12]}"
    officers_raw = tree["officers"]
    if not isinstance(officers_raw, list) or not officers_raw:
        raise _invalid("officers", "must be a non-empty array")
    officers = []
    for entry in officers_raw:
        if not isinstance(entry, dict) or set(entry) != {"id", "public_key"}:
            raise _invalid("officers", "each is {id, public_key}")
        key = _text(entry, "public_key")
        # Exactly 64 hex digits: bytes.fromhex would also take spaces, kept in the log.
        if len(key) != 64 or not set(key) <= _HEX_DIGITS:
            raise _invalid("officers", "public_key is 32 bytes of X25519 key in hex")
        officers.append(Officer(_text(entry, "id", ident=True), key))
    lots_raw = tree["lots"]
    if not isinstance(lots_raw, list) or not lots_raw:
        raise _invalid("lots", "must be a non-empty array")
    lots = []
    for entry in lots_raw:
        if not isinstance(entry, dict):
            raise _invalid("lots", "each is an object")
        _fields(entry, {"id", "deadline", "opening_at"}, {"title", "kinds"})
        kinds = entry.get("kinds", ["financial"])
        if not isinstance(kinds, list):
            raise _invalid("lots.kinds", "must be an array")
        lots.append(
            LotSpec(
                _text(entry, "id", ident=True),
                _optional_text(entry, "title"),
                _int(entry, "deadline"),
                _int(entry, "opening_at"),
                tuple(_kind(k, "lots.kinds") for k in kinds),
            )
        )
    threshold = tree["threshold"]
    if type(threshold) is not int:
        raise _invalid("threshold", "must be an integer")
    currency = _text(tree, "currency")
    try:
        publication = Publication(tree.get("publication", "committee"))
        follow_up = FollowUp(tree.get("follow_up", "award"))
    except ValueError:
        raise _invalid("publication", "public|committee; follow_up: award|auction") from None
    rules = tree.get("auction_rules")
    template = ""
    if rules is not None:
        template = json.dumps(rules, sort_keys=True, separators=(",", ":"))
    criterion, features = _criterion(tree)
    spec = TenderSpec(
        _text(tree, "title"),
        currency,
        tuple(officers),
        threshold,
        tuple(lots),
        publication,
        follow_up,
        template,
        criterion,
        features,
    )
    return tender_id, spec


def _criterion(tree: dict[str, Any]) -> tuple[Criterion, tuple[Feature, ...]]:
    """The award criterion of a create body: ``criterion`` (``price`` unless given) and
    ``features`` (``[{name, weight, maximum}]``, decimals as strings). The engine checks
    that they fit together (422 ``invalid_tender``); this checks only their form."""
    raw = tree.get("criterion", Criterion.PRICE.value)
    try:
        criterion = Criterion(raw)
    except ValueError:
        raise ProblemError(
            problem_from_reason(
                Reason.INVALID_TENDER,
                f"criterion must be one of {[c.value for c in Criterion]}, not {str(raw)[:40]!r}",
            )
        ) from None
    entries = tree.get("features", [])
    if not isinstance(entries, list) or len(entries) > MAX_FEATURES:
        raise ProblemError(
            problem_from_reason(
                Reason.INVALID_TENDER, f"features must be an array of at most {MAX_FEATURES}"
            )
        )
    features = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"name", "weight", "maximum"}:
            raise ProblemError(
                problem_from_reason(
                    Reason.INVALID_TENDER, "each feature is {name, weight, maximum}"
                )
            )
        name = _text(entry, "name")
        numbers = []
        for bound in ("weight", "maximum"):
            value = entry[bound]
            number = feature_value(value) if isinstance(value, str) else None
            if number is None:
                raise ProblemError(
                    problem_from_reason(
                        Reason.INVALID_TENDER,
                        f'feature {name!r}: {bound} must be a plain decimal string ("0.25")',
                    )
                )
            numbers.append(number)
        features.append(Feature(name, numbers[0], numbers[1]))
    return criterion, tuple(features)


def _is_committee(tender: Tender, claims: auth.Claims) -> bool:
    spec = tender.spec
    assert spec is not None
    return claims.role is auth.Role.OFFICER and any(o.officer == claims.sub for o in spec.officers)


def _may_see_offers(tender: Tender, claims: auth.Claims, bidder: str) -> bool:
    """Committee and auditors always; the public if the rule says so; a bidder its own."""
    spec = tender.spec
    assert spec is not None
    return (
        _is_committee(tender, claims)
        or claims.role is auth.Role.AUDITOR
        or spec.publication is Publication.PUBLIC
        or (claims.role is auth.Role.BIDDER and claims.sub == bidder)
    )


def _public(tender_id: str, tender: Tender, now: int, overseer: bool) -> dict[str, Any]:
    """The tender as anyone may see it; envelope counts for the committee and auditors."""
    spec = tender.spec
    assert spec is not None
    return {
        "id": tender_id,
        "title": spec.title,
        "currency": spec.currency,
        "phase": tender.phase.value,
        "seq": tender.seq,
        "server_time": now,
        "officers": [o.officer for o in spec.officers],
        "threshold": spec.threshold,
        "publication": spec.publication.value,
        "follow_up": spec.follow_up.value,
        "opening_public_key": tender.public_key,
        "lots": [
            {
                "id": name,
                "title": lot.spec.title,
                "deadline": lot.deadline,
                "opening_at": lot.opening_at,
                "kinds": [k.value for k in lot.spec.kinds],
                # A deadline that passed closes the lot at the next command; say so now.
                "phase": "closed"
                if lot.phase.value == "open" and now > lot.deadline
                else lot.phase.value,
                "next_stage": None if lot.current_kind is None else lot.current_kind.value,
                "shares": len(lot.shares),
                "envelopes": len(lot.envelopes) if overseer else None,
            }
            for name, lot in tender.lots.items()
        ],
    }


def add_tender_routes(app: App, gavel: Gavel) -> None:
    """Add the tender routes to ``app``; they share ``gavel`` (keys, tokens, pool)."""
    box: dict[str, TenderService] = {}
    key = gavel.key
    assert key is not None
    # Other parts of the app (the audit trail) hear of every committed tender event by
    # appending to this list; the service is created later and shares it.
    observers: list[Callable[[str, list[Any]], None]] = []
    app.ctx.tender_observers = observers

    def service() -> TenderService:
        svc = box.get("svc")
        if svc is None:
            if gavel.pool is None or gavel.closing:
                raise ProblemError(
                    problem(Code.SHUTTING_DOWN, "the server is not ready", retry_after=1)
                )
            # A commit cut at COMMIT is answered as the auctions' are (api.auctions.runner):
            # after its fate is learned, within the same GAVEL_OUTCOME_WAIT_S.
            svc = box["svc"] = TenderService(
                gavel.pool,
                key,
                observers=observers,
                outcome_wait_s=gavel.settings.outcome_wait_s,
                closing=lambda: gavel.closing,
            )
        return svc

    async def load(tender_id: str) -> Tender:
        try:
            return await service().tender(tender_id)
        except UnknownTender:
            raise ProblemError(problem(Code.NOT_FOUND, f"no tender {tender_id!r}")) from None
        except StorageFailed:
            # Its last commit's fate is still being learned (or storage is down).
            raise ProblemError(
                problem(Code.STORAGE_UNAVAILABLE, "the tender cannot be read now", retry_after=1)
            ) from None

    async def run(tender_id: str, work: Callable[[TenderService], Any]) -> Any:
        try:
            return await work(service())
        except UnknownTender:
            raise ProblemError(problem(Code.NOT_FOUND, f"no tender {tender_id!r}")) from None
        except StorageFailed:
            raise ProblemError(
                problem(Code.STORAGE_UNAVAILABLE, "nothing was recorded", retry_after=1)
            ) from None

    def body(request: Request) -> dict[str, Any]:
        require_json(request.headers.get("content-type"))
        return parse_object(request.body, max_bytes=gavel.settings.max_body)

    async def answer_command(
        request: Request,
        claims: auth.Claims,
        tender_id: str,
        make: Callable[[int], Any],
    ) -> HTTPResponse:
        """Run ``make(at)`` on the tender (under the request's ``Idempotency-Key``) and
        answer 200 with its own event, or the problem its refusal maps to."""

        async def work() -> Answer:
            events = await run(tender_id, lambda svc: svc.command(tender_id, make))
            own = _own(events)
            return 200, {"seq": own.seq, "event": to_data(own)}

        return await gavel.respond(request, claims, work)

    # ------------------------------------------------------------ the sealing and opening pages

    # Each page has its own allow-list of files; nothing else under static/ is served.
    pages = {
        page: {path: (_STATIC / name).read_bytes() for path, (name, _) in files.items()}
        for page, files in (("seal", _SEAL_FILES), ("open", _OPEN_FILES))
    }
    media = {"seal": _SEAL_FILES, "open": _OPEN_FILES}

    def asset(page: str, path: str) -> HTTPResponse:
        if path not in pages[page]:
            raise ProblemError(problem(Code.NOT_FOUND, f"no file {path!r}"))
        return HTTPResponse(
            pages[page][path],
            content_type=media[page][path][1],
            headers={
                "Content-Security-Policy": SEAL_CSP,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-cache",
            },
        )

    @app.get("/seal", name="tender_seal_redirect", strict_slashes=True)
    async def seal_redirect(request: Request) -> HTTPResponse:
        query = f"?{request.query_string}" if request.query_string else ""
        return redirect(f"/seal/{query}", status=308)

    @app.get("/seal/", name="tender_seal_page", strict_slashes=True)
    async def seal_page(request: Request) -> HTTPResponse:
        return asset("seal", "")

    @app.get("/seal/<name>", name="tender_seal_asset")
    async def seal_asset(request: Request, name: str) -> HTTPResponse:
        return asset("seal", name)

    @app.get("/open", name="tender_open_redirect", strict_slashes=True)
    async def open_redirect(request: Request) -> HTTPResponse:
        query = f"?{request.query_string}" if request.query_string else ""
        return redirect(f"/open/{query}", status=308)

    @app.get("/open/", name="tender_open_page", strict_slashes=True)
    async def open_page(request: Request) -> HTTPResponse:
        return asset("open", "")

    @app.get("/open/<name>", name="tender_open_asset")
    async def open_asset(request: Request, name: str) -> HTTPResponse:
        return asset("open", name)

    # ------------------------------------------------------------------ keys

    @app.get(f"{_P}/server-key", name="tender_server_key")
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

    @app.post(_P, name="tender_create")
    async def create(request: Request) -> HTTPResponse:
        claims = gavel.claims(request)  # an officer not bound to an auction (api.access.rules)
        tree = body(request)
        chosen = "id" in tree
        tender_id, spec = _spec(tree)
        if chosen and await gavel.id_kind(tender_id) == "auction":
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
            try:
                events = await run(made, lambda svc: svc.create(made, claims.sub, spec))
            except TenderExists:
                raise ProblemError(
                    problem_from_reason(Reason.TENDER_EXISTS, f"{made!r} exists")
                ) from None
            created = _own(events)
            return 201, {"id": made, "seq": created.seq}, {"Location": f"{_P}/{made}"}

        return await gavel.respond(request, claims, work)

    @app.post(f"{_P}/<tender_id>/ceremony", name="tender_ceremony")
    async def ceremony(request: Request, tender_id: str) -> HTTPResponse:
        claims = gavel.claims(request, tender_id)

        async def work() -> Answer:
            events = await run(tender_id, lambda svc: svc.ceremony(tender_id, claims.sub))
            published = _own(events)
            assert isinstance(published, TenderPublished)  # a ceremony's own event
            return 201, {
                "seq": published.seq,
                "opening_public_key": published.public_key,
                "ceremony": published.ceremony,
            }

        return await gavel.respond(request, claims, work)

    @app.get(f"{_P}/<tender_id>", name="tender_get")
    async def get(request: Request, tender_id: str) -> HTTPResponse:
        claims = gavel.claims(request, tender_id)
        tender = await load(tender_id)
        overseer = _is_committee(tender, claims) or claims.role is auth.Role.AUDITOR
        return json_response(_public(tender_id, tender, service().clock(), overseer))

    @app.get(f"{_P}/<tender_id>/events", name="tender_events")
    async def events(request: Request, tender_id: str) -> HTTPResponse:
        claims = gavel.claims(request, tender_id)
        tender = await load(tender_id)
        overseer = _is_committee(tender, claims) or claims.role is auth.Role.AUDITOR
        shown = []
        for event in await service().history(tender_id):
            data = to_data(event)
            bidder = getattr(event, "bidder", None) or getattr(event, "winner", None) or ""
            if isinstance(event, _OFFER_EVENTS):
                if not _may_see_offers(tender, claims, bidder):
                    data = {
                        "type": type(event).__name__,
                        "seq": event.seq,
                        "at": event.at,
                        "hidden": True,
                    }
            elif not overseer and data.get("bidder") not in (None, claims.sub):
                # Who else is tendering is not for other parties to know: they see the
                # commitments (and find their own), not the names.
                data["bidder"] = None
            shown.append(data)
        return json_response({"events": shown})

    @app.get(f"{_P}/<tender_id>/shares/mine", name="tender_my_share")
    async def my_share(request: Request, tender_id: str) -> HTTPResponse:
        claims = gavel.claims(request, tender_id)
        await load(tender_id)
        text = await service().store.share(tender_id, claims.sub)
        if text is None:
            raise ProblemError(problem(Code.NOT_FOUND, f"no share for {claims.sub!r}"))
        return json_response(json.loads(text))

    # ------------------------------------------------------------------ lots

    @app.post(f"{_P}/<tender_id>/lots/<lot>/schedule", name="tender_schedule")
    async def schedule(request: Request, tender_id: str, lot: str) -> HTTPResponse:
        # Any role may *try*: the engine refuses and logs anyone who is not an officer
        # of this tender, so every attempt is in the log.
        claims = gavel.claims(request, tender_id)
        tree = body(request)
        _fields(tree, {"deadline", "opening_at"})
        deadline, opening_at = _int(tree, "deadline"), _int(tree, "opening_at")

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
        if len(ciphertext) not in sealing.ENVELOPE_SIZES:
            # Only sealed envelopes are stored: a client that sent its offer in clear
            # (or anything else) is refused before a byte of it reaches the database.
            raise _invalid(
                "ciphertext",
                f"{len(ciphertext)} bytes is not the size of a sealed envelope "
                f"(one of {sorted(sealing.ENVELOPE_SIZES)})",
            )

        async def work() -> Answer:
            try:
                events = await run(
                    tender_id,
                    lambda svc: svc.submit(
                        tender_id, claims.sub, lot, kind, ciphertext, sealed_for=sealed_for
                    ),
                )
            except DeadlineMoved as moved:
                # The deadline the client sealed under is bound into the HPKE info: if the
                # officers moved it since, the envelope would never open; say so now.
                raise ProblemError(
                    problem_from_reason(
                        Reason.INVALID_SCHEDULE,
                        f"sealed for deadline {sealed_for}, but the lot's deadline is now "
                        f"{moved.deadline}: seal the offer again",
                    )
                ) from None
            received = _own(events)
            assert isinstance(received, EnvelopeReceived)
            signed = receipt_for(tender_id, received, key)
            answer = {**signed.to_json(), "replaced": received.replaced}
            # With the audit trail on: a signed checkpoint of the tender's log that
            # covers this receipt, so the supplier can later prove it was in the log.
            checkpoint = getattr(request.app.ctx, "tender_checkpoint", None)
            if checkpoint is not None:
                answer["checkpoint"] = await checkpoint(tender_id, "receipt")
            return 201, answer

        return await gavel.respond(request, claims, work)

    @app.post(f"{_P}/<tender_id>/lots/<lot>/envelopes", name="tender_submit")
    async def submit(request: Request, tender_id: str, lot: str) -> HTTPResponse:
        claims = gavel.claims(request, tender_id)
        tree = body(request)
        _fields(tree, {"kind", "ciphertext"}, {"deadline"})
        kind = _kind(tree["kind"])
        sealed_for = _int(tree, "deadline") if "deadline" in tree else None
        raw = tree["ciphertext"]
        try:
            if not isinstance(raw, str):
                raise ValueError
            ciphertext = base64.b64decode(raw.encode("ascii"), validate=True)
        except (ValueError, binascii.Error):
            raise _invalid("ciphertext", "must be standard base64") from None
        return await envelope(request, claims, tender_id, lot, kind, ciphertext, sealed_for)

    @app.post(
        f"{_P}/<tender_id>/lots/<lot>/envelopes/<kind>",
        name="tender_upload",
        stream=True,
    )
    async def upload(request: Request, tender_id: str, lot: str, kind: str) -> HTTPResponse:
        # A streaming route: Sanic lifts the app-wide body limit (GAVEL_MAX_BODY) for it,
        # and this route sets its own, the largest sealed envelope. Nothing is read
        # before the token is checked, and a declared length over the limit is refused
        # before a byte of the body is read.
        claims = gavel.claims(request, tender_id)
        which = _kind(kind)
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
            sealed_for = _int({"deadline": query_int(request.args, "deadline")}, "deadline")
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

    @app.post(f"{_P}/<tender_id>/lots/<lot>/envelopes/<kind>/withdraw", name="tender_withdraw")
    async def withdraw(request: Request, tender_id: str, lot: str, kind: str) -> HTTPResponse:
        claims = gavel.claims(request, tender_id)
        which = _kind(kind)

        async def work() -> Answer:
            events = await run(
                tender_id, lambda svc: svc.withdraw(tender_id, claims.sub, lot, which)
            )
            withdrawn = _own(events)
            assert isinstance(withdrawn, EnvelopeWithdrawn)
            return 200, receipt_for(tender_id, withdrawn, key).to_json()

        return await gavel.respond(request, claims, work)

    @app.get(f"{_P}/<tender_id>/receipts/<seq:int>", name="tender_receipt")
    async def receipt(request: Request, tender_id: str, seq: int) -> HTTPResponse:
        claims = gavel.claims(request, tender_id)
        stored = await service().store.event(tender_id, seq) if 0 < seq < 2**62 else None
        event = None
        if stored is not None:
            event = decode_tender_event(stored.payload)
        if not isinstance(event, EnvelopeReceived | EnvelopeWithdrawn):
            raise ProblemError(problem(Code.NOT_FOUND, f"no receipt at seq {seq}"))
        tender = await load(tender_id)
        overseer = _is_committee(tender, claims) or claims.role is auth.Role.AUDITOR
        if not overseer and not (claims.role is auth.Role.BIDDER and claims.sub == event.bidder):
            raise auth.WrongParty("a receipt is for its bidder, the committee and auditors")
        return json_response(receipt_for(tender_id, event, key).to_json())

    @app.get(f"{_P}/<tender_id>/lots/<lot>/envelopes", name="tender_bids")
    async def bids(request: Request, tender_id: str, lot: str) -> HTTPResponse:
        claims = gavel.claims(request, tender_id)
        events = await run(
            tender_id,
            lambda svc: svc.command(
                tender_id, lambda at: ReadBids(new_command_id("read"), at, claims.sub, lot)
            ),
        )
        read = _own(events)
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

    @app.post(f"{_P}/<tender_id>/lots/<lot>/shares", name="tender_share")
    async def share(request: Request, tender_id: str, lot: str) -> HTTPResponse:
        claims = gavel.claims(request, tender_id)
        tree = body(request)
        _fields(tree, {"kind", "share"})
        kind = _kind(tree["kind"])
        parsed: custody.Share | None = None
        problem_text = ""
        try:
            if not isinstance(tree["share"], dict):
                raise custody.CustodyError("malformed", "share must be an object")
            parsed = custody.Share.from_json(tree["share"])
        except custody.CustodyError as error:
            problem_text = f"{error.reason}: {error.detail}"

        async def work() -> Answer:
            events, report = await run(
                tender_id,
                lambda svc: svc.submit_share(
                    tender_id, claims.sub, lot, kind, parsed, problem_text
                ),
            )
            accepted = _own(events)
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

        return await gavel.respond(request, claims, work)

    @app.get(f"{_P}/<tender_id>/lots/<lot>/offers", name="tender_offers")
    async def offers(request: Request, tender_id: str, lot: str) -> HTTPResponse:
        claims = gavel.claims(request, tender_id)
        tender = await load(tender_id)
        state = tender.lots.get(lot)
        if state is None:
            raise ProblemError(problem(Code.NOT_FOUND, f"no lot {lot!r}"))
        shown = [
            to_data(opened)
            for (bidder, _), opened in sorted(state.opened.items())
            if _may_see_offers(tender, claims, bidder)
        ]
        return json_response(
            {
                "lot": lot,
                "phase": state.phase.value,
                "offers": shown,
                "decision": to_data(state.decision)
                if state.decision is not None and _may_see_offers(tender, claims, "")
                else None,
            }
        )

    @app.post(f"{_P}/<tender_id>/lots/<lot>/exclude", name="tender_exclude")
    async def exclude(request: Request, tender_id: str, lot: str) -> HTTPResponse:
        claims = gavel.claims(request, tender_id)
        tree = body(request)
        _fields(tree, {"bidder"}, {"note"})
        bidder = _text(tree, "bidder")
        note = _optional_text(tree, "note")[:1000]

        return await answer_command(
            request,
            claims,
            tender_id,
            lambda at: ExcludeBidder(new_command_id("exclude"), at, claims.sub, lot, bidder, note),
        )

    @app.post(f"{_P}/<tender_id>/lots/<lot>/award", name="tender_award")
    async def award(request: Request, tender_id: str, lot: str) -> HTTPResponse:
        claims = gavel.claims(request, tender_id)

        return await answer_command(
            request,
            claims,
            tender_id,
            lambda at: Award(new_command_id("award"), at, claims.sub, lot),
        )

    @app.post(f"{_P}/<tender_id>/lots/<lot>/auction", name="tender_hand_off")
    async def hand_off(request: Request, tender_id: str, lot: str) -> HTTPResponse:
        # It creates an auction and mints its bidders' tokens: an officer not bound to
        # an auction or a tender only (api.access.rules).
        claims = gavel.claims(request)
        tree = body(request)
        _fields(tree, {"rules"}, {"auction_id"})
        auction_id = (
            _text(tree, "auction_id", ident=True)
            if "auction_id" in tree
            else f"{tender_id}-{lot}"[:100]
        )
        rules = parse_rules(tree["rules"])

        def mint_for(auction: str) -> access.Grant:
            now_s = service().clock() // 1_000_000
            ttl = gavel.settings.token_ttl_s
            return access.grant(claims, auth.Role.BIDDER, auction, ttl, now_s=now_s)

        # Checked before any work; again for the auction the log names (the same one).
        mint_for(auction_id)
        if await gavel.id_kind(auction_id) == "tender":
            raise ProblemError(
                problem_from_reason(
                    Reason.AUCTION_EXISTS, f"a tender is called {auction_id!r}: ids name one thing"
                )
            )

        async def work() -> Answer:
            tender = await load(tender_id)
            spec = tender.spec
            assert spec is not None
            done = await service().recorded(tender_id)
            if done is not None:
                # A previous attempt under this Idempotency-Key recorded the hand-off (its
                # auction exists then) and died before answering: answer from the log.
                return await handed_off(_own(done))
            if not isinstance(rules, MultiRoundRules) or rules.currency != spec.currency:
                raise _invalid("rules", f"must be a multiround auction in {spec.currency}")
            if lot not in tender.lots:
                raise ProblemError(problem(Code.NOT_FOUND, f"no lot {lot!r}"))
            # Dry run first: the engine says whether a hand-off is allowed now, before an
            # auction is created for it. The recorded HandOff comes after the auction exists.
            probe = replay_tender(await service().history(tender_id))
            dry = probe.handle(
                HandOff("probe", max(probe.now, service().clock()), claims.sub, lot, auction_id)
            )
            if isinstance(dry[-1], CommandRejected):
                # The refusal is logged for real, like every refused attempt.
                events = await run(
                    tender_id,
                    lambda svc: svc.command(
                        tender_id,
                        lambda at: HandOff(
                            new_command_id("handoff"), at, claims.sub, lot, auction_id
                        ),
                    ),
                )
                _own(events)
            probed = dry[-1]
            assert isinstance(probed, LotHandedOff)  # the dry run's hand-off was allowed
            ranking = probed.ranking
            # Auction first, then the tender's record of it. A crash in between leaves an
            # auction the tender does not name yet; a retry (same id: by default it is
            # derived from the tender and the lot) finds it, checks that it is this lot's
            # and finishes the job instead of failing.
            await _auction_for_lot(auction_id, rules, ranking, spec.currency)
            events = await run(
                tender_id,
                lambda svc: svc.command(
                    tender_id,
                    lambda at: HandOff(new_command_id("handoff"), at, claims.sub, lot, auction_id),
                ),
            )
            return await handed_off(_own(events))

        async def handed_off(handed: TenderEvent) -> Answer:
            assert isinstance(handed, LotHandedOff)
            tokens, jtis = {}, {}
            grant = mint_for(handed.auction_id)
            for rank in handed.ranking:
                tokens[rank.bidder], jtis[rank.bidder], _ = await gavel.mint(rank.bidder, grant)
            return 201, {
                "seq": handed.seq,
                "auction_id": handed.auction_id,
                "event": to_data(handed),
                "tokens": tokens,
                "jtis": jtis,
            }

        return await gavel.respond(request, claims, work)

    async def _auction_for_lot(
        auction_id: str, rules: MultiRoundRules, ranking: tuple[Rank, ...], currency: str
    ) -> None:
        """Make ``auction_id`` the lot's multi-round auction: created with ``rules``, each
        ranked bidder registered with its opened price as initial bid.

        An auction that exists already is taken as a previous attempt's (a crash before
        ``LotHandedOff`` was recorded) only if it was created with the same rules and
        every bidder it registered is ranked here with the same price; the bidders still
        missing are then registered. Anything else is 409 ``auction_exists``.
        """
        svc = gavel.svc
        prices = {rank.bidder: rank.price for rank in ranking}
        exists = problem_from_reason(
            Reason.AUCTION_EXISTS, f"auction {auction_id!r} exists and is not this lot's"
        )
        history = await svc.history(auction_id, 0)
        if not history:
            try:
                created = await svc.create(auction_id, rules, new_command_id("create"))
            except AuctionExists:
                history = await svc.history(auction_id, 0)  # another attempt, meanwhile
            else:
                if isinstance(created[0], CommandRejected):
                    raise _refusal(created[0])
        registered: dict[str, int | None] = {}
        if history:
            first = history[0]
            if not isinstance(first, AuctionCreated) or first.rules != rules:
                raise ProblemError(exists)
            for event in history:
                if isinstance(event, BidderRegistered):
                    registered[event.bidder] = event.initial_bid
            if any(prices.get(bidder) != price for bidder, price in registered.items()):
                raise ProblemError(exists)
        scale = Decimal(10) ** minor_units(currency)
        for rank in ranking:
            if rank.bidder in registered:
                continue
            initial = Decimal(rank.price) / scale

            def register(
                cid: str, at: int, bidder: str = rank.bidder, initial: Decimal = initial
            ) -> RegisterBidder:
                return RegisterBidder(cid, at, bidder, Decimal(0), Decimal(0), initial)

            # Run outside the request's idempotency slot (a fresh context): the slot
            # belongs to the hand-off, not to these registrations in another log.
            await asyncio.create_task(
                gavel.run(auction_id, register, prefix="register"),
                context=contextvars.Context(),
            )


def _base64_of(sizes: tuple[int, ...]) -> str:
    """A pattern of standard base64 (with padding) of exactly one of ``sizes`` bytes."""
    tails = {0: "", 1: "[A-Za-z0-9+/]{2}==", 2: "[A-Za-z0-9+/]{3}="}
    return "|".join(
        f"(?:[A-Za-z0-9+/]{{4}}){{{size // 3}}}{tails[size % 3]}" for size in sorted(sizes)
    )


#: Envelope sizes the JSON route can carry under the default body limit (16 KiB): the
#: larger ones go to the raw upload route.
_JSON_ENVELOPES = tuple(size for size in sealing.ENVELOPE_SIZES if size * 4 // 3 < 16_000)
_ID = {"type": "string", **TENDER_IDENT.schema()}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 200}
_TIME = {"type": "integer", **TIME.schema()}
_KIND = {"type": "string", "enum": [kind.value for kind in EnvelopeKind]}
_FEATURE_NUMBER = {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$", "maxLength": 40}


def _closed(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


#: The JSON body of each tender command, as ``_spec``, ``_criterion`` and the routes
#: read it (a test holds them together: tests/api/http/test_openapi_fuzz.py).
_BODIES: dict[str, dict[str, Any]] = {
    "tender_create": _closed(
        ["title", "currency", "officers", "threshold", "lots"],
        {
            "id": _ID,
            "title": _TEXT,
            "currency": _TEXT,
            "officers": {
                "type": "array",
                "minItems": 1,
                "items": _closed(
                    ["id", "public_key"],
                    {
                        "id": _ID,
                        "public_key": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
                    },
                ),
            },
            "threshold": {"type": "integer"},
            "lots": {
                "type": "array",
                "minItems": 1,
                "items": _closed(
                    ["id", "deadline", "opening_at"],
                    {
                        "id": _ID,
                        "title": {"type": "string"},
                        "deadline": _TIME,
                        "opening_at": _TIME,
                        "kinds": {"type": "array", "items": _KIND},
                    },
                ),
            },
            "publication": {"type": "string", "enum": [p.value for p in Publication]},
            "follow_up": {"type": "string", "enum": [f.value for f in FollowUp]},
            "auction_rules": {"description": "the multi-round template (follow_up auction)"},
            "criterion": {"type": "string", "enum": [c.value for c in Criterion]},
            "features": {
                "type": "array",
                "maxItems": MAX_FEATURES,
                "items": _closed(
                    ["name", "weight", "maximum"],
                    {"name": _TEXT, "weight": _FEATURE_NUMBER, "maximum": _FEATURE_NUMBER},
                ),
            },
        },
    )
    | {
        "examples": [
            {
                "title": "Road repairs",
                "currency": "EUR",
                "officers": [{"id": "officer-1", "public_key": "09" * 32}],
                "threshold": 1,
                "lots": [{"id": "L1", "deadline": EXAMPLE_TIME, "opening_at": EXAMPLE_TIME}],
            }
        ]
    },
    "tender_schedule": {
        **_closed(["deadline", "opening_at"], {"deadline": _TIME, "opening_at": _TIME}),
        "examples": [{"deadline": EXAMPLE_TIME, "opening_at": EXAMPLE_TIME}],
    },
    "tender_submit": _closed(
        ["kind", "ciphertext"],
        {
            "kind": _KIND,
            "ciphertext": {
                "type": "string",
                "pattern": f"^(?:{_base64_of(_JSON_ENVELOPES)})$",
                "description": "a sealed envelope, standard base64",
            },
            "deadline": _TIME,
        },
    ),
    "tender_upload": {
        "type": "string",
        "format": "binary",
        "description": "a sealed envelope's bytes: one of "
        + ", ".join(str(size) for size in sorted(sealing.ENVELOPE_SIZES)),
        "oneOf": [
            {"minLength": size, "maxLength": size} for size in sorted(sealing.ENVELOPE_SIZES)
        ],
    },
    "tender_share": _closed(
        ["kind", "share"],
        {"kind": _KIND, "share": {"type": "object", "description": "a gavel-share/v1"}},
    ),
    "tender_exclude": _closed(
        ["bidder"],
        {
            "bidder": _TEXT,
            "note": {"type": "string", "description": "kept to its first 1000 characters"},
        },
    ),
    "tender_hand_off": _closed(
        ["rules"],
        {
            "rules": {
                "allOf": [
                    {"$ref": "#/components/schemas/Rules"},
                    {"properties": {"format": {"const": "multiround"}}},
                ],
                "description": "multi-round rules in the tender's currency",
            },
            "auction_id": _ID,
        },
    ),
}
#: Fields whose value the schema cannot check alone: refused (422 invalid_field) against
#: the tender's state.
_STATE_FIELDS = {"tender_hand_off": {"rules": "must be in the tender's currency"}}

#: (method, path under /api/v1, operation id, summary, role, success status) of every
#: tender route; the operation id is the Sanic route's name.
_OPERATIONS: tuple[tuple[str, str, str, str, str, int], ...] = (
    (
        "get",
        "/tenders/server-key",
        "tender_server_key",
        "The server's Ed25519 receipt and ceremony key",
        "none",
        200,
    ),
    (
        "post",
        "/tenders",
        "tender_create",
        "Create a sealed tender (you must be on its committee)",
        "officer",
        201,
    ),
    (
        "post",
        "/tenders/{tender_id}/ceremony",
        "tender_ceremony",
        "Key ceremony, then publication",
        "officer",
        201,
    ),
    (
        "get",
        "/tenders/{tender_id}",
        "tender_get",
        "A tender's public part and opening key",
        "any",
        200,
    ),
    (
        "get",
        "/tenders/{tender_id}/events",
        "tender_events",
        "The tender's log, as you may see it",
        "any",
        200,
    ),
    (
        "get",
        "/tenders/{tender_id}/shares/mine",
        "tender_my_share",
        "Your encrypted key share",
        "officer",
        200,
    ),
    (
        "post",
        "/tenders/{tender_id}/lots/{lot}/schedule",
        "tender_schedule",
        "Change a lot's deadline and opening time (every attempt is logged)",
        "officer of the tender",
        200,
    ),
    (
        "post",
        "/tenders/{tender_id}/lots/{lot}/envelopes",
        "tender_submit",
        "Submit or replace a sealed envelope (base64 JSON, up to the 4 KiB bucket); "
        "answers a signed receipt",
        "bidder",
        201,
    ),
    (
        "post",
        "/tenders/{tender_id}/lots/{lot}/envelopes/{kind}",
        "tender_upload",
        "Upload a sealed envelope's bytes (application/octet-stream, every size up to "
        "1 MiB; ?deadline= the one sealed under); answers a signed receipt",
        "bidder",
        201,
    ),
    (
        "get",
        "/tenders/{tender_id}/lots/{lot}/envelopes",
        "tender_bids",
        "List envelopes (refused and logged before the deadline)",
        "officer of the tender",
        200,
    ),
    (
        "post",
        "/tenders/{tender_id}/lots/{lot}/envelopes/{kind}/withdraw",
        "tender_withdraw",
        "Withdraw your envelope of a kind; answers a signed receipt",
        "bidder",
        200,
    ),
    (
        "get",
        "/tenders/{tender_id}/receipts/{seq}",
        "tender_receipt",
        "A receipt again",
        "bidder",
        200,
    ),
    (
        "post",
        "/tenders/{tender_id}/lots/{lot}/shares",
        "tender_share",
        "Hand in your decrypted share; the k-th opens the stage",
        "officer of the tender",
        201,
    ),
    (
        "get",
        "/tenders/{tender_id}/lots/{lot}/offers",
        "tender_offers",
        "Opened offers, per the publication rule",
        "any",
        200,
    ),
    (
        "post",
        "/tenders/{tender_id}/lots/{lot}/exclude",
        "tender_exclude",
        "Exclude a bidder from the lot's later stages and ranking",
        "officer of the tender",
        200,
    ),
    (
        "post",
        "/tenders/{tender_id}/lots/{lot}/award",
        "tender_award",
        "Award to the best offer under the tender's criterion (price, meat, life_cycle_cost)",
        "officer",
        200,
    ),
    (
        "post",
        "/tenders/{tender_id}/lots/{lot}/auction",
        "tender_hand_off",
        "Hand the opened prices to a new multi-round auction",
        "officer",
        201,
    ),
)


def openapi_paths() -> dict[str, Any]:
    """OpenAPI 3.1 path items of the tender routes (for :mod:`api.http.openapi`)."""
    paths: dict[str, Any] = {}
    for method, path, name, summary, role, status in _OPERATIONS:
        raw = name == "tender_upload"
        operation = openapi_operation(
            method,
            path,
            name,
            summary,
            role,
            status,
            body=_BODIES.get(name),
            media="application/octet-stream" if raw else "application/json",
            query=[time_query("deadline", "the deadline the envelope was sealed under")]
            if raw
            else (),
            headers={"Location": {"schema": {"type": "string"}}}
            if name == "tender_create"
            else None,
            state_fields=_STATE_FIELDS.get(name),
            # Listing envelopes is a command (every read before the deadline is logged).
            statuses=(409,) if name == "tender_bids" else (),
        )
        paths.setdefault(f"/api/v1{path}", {})[method] = operation
    return paths
