"""The wire form of a :class:`~api.tenders.service.TenderService` call and its answer, for
a command that arrives at a node which does not hold the tender's lease.

The calling node's service builds the call (one function per command method:
:func:`create`, :func:`ceremony`, :func:`submit`, :func:`withdraw`, :func:`command`,
:func:`submit_share`) and hands the bytes to its
:class:`~api.tenders.ports.TenderOwners`, which carries them to the owner over NATS; the
owner runs them with :func:`serve_call` on its own service and answers bytes that
:func:`decode_answer` turns back into what the method returns, or raises the owner's
error again: the SAME class with the same message and fields, so the HTTP layer answers
the same problem and reject code as on the owner. Idempotency travels too: the call
carries the request's :class:`~api.storage.ports.CommandMark`, which the owner records
with the events.

Form (JSON objects, UTF-8)::

    call    {"method": <name>, "tender": <id>, "mark": {party, key, stamp, first_seq,
             last_seq} | null, "args": {...}}      bytes in base64, records in their
                                                   canonical JSON (engine.codec)
    answer  {"events": [<canonical event>...]}                       a command's events
            {"events": [...], "report": {"events": [...], "failure": str | null} | null}
                                                                     submit_share's
            {"error": <class name>, "detail": str, ...its fields}    the owner's error

A :func:`command` call carries ``make(0)``, the command made once; the owner re-stamps
it with its own clock (``dataclasses.replace(command, at=at)``), as the auctions'
forwarding does. Errors the owner may answer: every
:class:`~api.tenders.errors.TenderError` class,
:class:`~api.auctions.runner.OutcomeUnknown`, :class:`~api.auctions.runner.NotOwner`
(it does not hold the lease any more: the caller tries where the lease is now); any
other is raised as ``RuntimeError`` with its detail.

Complexity: O(size of the call or answer) each way.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from api.auctions.runner import NotOwner, OutcomeUnknown
from api.storage.ports import CommandMark
from api.tenders.errors import (
    AuctionTaken,
    BodyError,
    DeadlineMoved,
    InvalidCriterion,
    InvalidField,
    MissingField,
    Refused,
    StorageFailed,
    TenderError,
    TenderExists,
    UnknownField,
    UnknownLot,
    UnknownTender,
)
from api.tenders.reports import OpeningReport
from contracts import custody
from engine.codec import decode_as, encode
from engine.events import CommandRejected
from engine.tender_records import (
    EnvelopeKind,
    TenderCommand,
    TenderEvent,
    TenderSpec,
    decode_tender_command,
    decode_tender_event,
)

if TYPE_CHECKING:
    from api.tenders.service import TenderService

__all__ = [
    "ERRORS",
    "ShareAnswer",
    "ceremony",
    "command",
    "create",
    "decode_answer",
    "decode_events",
    "decode_share_answer",
    "encode_error",
    "serve_call",
    "submit",
    "submit_share",
    "withdraw",
]

log = logging.getLogger("gavel.tenders")

#: What :meth:`TenderService.submit_share` returns.
ShareAnswer = tuple[list[TenderEvent], OpeningReport | None]

#: The owner's errors a caller raises again, by class name.
ERRORS: dict[str, type[Exception]] = {
    cls.__name__: cls
    for cls in (
        TenderError,
        UnknownTender,
        UnknownLot,
        TenderExists,
        StorageFailed,
        DeadlineMoved,
        Refused,
        AuctionTaken,
        BodyError,
        UnknownField,
        MissingField,
        InvalidField,
        InvalidCriterion,
        OutcomeUnknown,
        NotOwner,
    )
}


# ------------------------------------------------------------------ calls


def _call(method: str, tender_id: str, mark: CommandMark | None, **args: Any) -> bytes:
    body = {
        "method": method,
        "tender": tender_id,
        "mark": None if mark is None else dataclasses.asdict(mark),
        "args": args,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def create(tender_id: str, by: str, spec: TenderSpec, mark: CommandMark | None) -> bytes:
    """The call of :meth:`TenderService.create`."""
    return _call("create", tender_id, mark, by=by, spec=encode(spec).decode())


def ceremony(tender_id: str, by: str, mark: CommandMark | None) -> bytes:
    """The call of :meth:`TenderService.ceremony`."""
    return _call("ceremony", tender_id, mark, by=by)


def submit(
    tender_id: str,
    bidder: str,
    lot: str,
    kind: EnvelopeKind,
    ciphertext: bytes,
    sealed_for: int | None,
    mark: CommandMark | None,
) -> bytes:
    """The call of :meth:`TenderService.submit`."""
    return _call(
        "submit",
        tender_id,
        mark,
        bidder=bidder,
        lot=lot,
        kind=kind.value,
        ciphertext=base64.b64encode(ciphertext).decode(),
        sealed_for=sealed_for,
    )


def withdraw(
    tender_id: str, bidder: str, lot: str, kind: EnvelopeKind, mark: CommandMark | None
) -> bytes:
    """The call of :meth:`TenderService.withdraw`."""
    return _call("withdraw", tender_id, mark, bidder=bidder, lot=lot, kind=kind.value)


def command(
    tender_id: str, make: Callable[[int], TenderCommand], mark: CommandMark | None
) -> bytes:
    """The call of :meth:`TenderService.command`: ``make(0)``, re-stamped by the owner."""
    return _call("command", tender_id, mark, command=encode(make(0)).decode())


def submit_share(
    tender_id: str,
    officer: str,
    lot: str,
    kind: EnvelopeKind,
    share: custody.Share | None,
    problem: str,
    mark: CommandMark | None,
) -> bytes:
    """The call of :meth:`TenderService.submit_share` (the share's secret value travels:
    NATS between the nodes must be as private as the officer's HTTPS request was)."""
    return _call(
        "submit_share",
        tender_id,
        mark,
        officer=officer,
        lot=lot,
        kind=kind.value,
        share=None if share is None else share.to_json(),
        problem=problem,
    )


# ------------------------------------------------------------------ the owner's side


async def serve_call(service: TenderService, payload: bytes) -> bytes:
    """Run the call ``payload`` on ``service`` (the owner's, never forwarding it again:
    :meth:`TenderService.serving`) and answer its result or its error (see the module).
    Never raises. O(the call)."""
    try:
        body = json.loads(payload)
        method = str(body["method"])
        tender_id = str(body["tender"])
        raw_mark = body.get("mark")
        mark = None if raw_mark is None else CommandMark(**raw_mark)
        args = body["args"]
        run = _dispatch(service, method, tender_id, args, mark)
    except Exception as error:  # noqa: BLE001 - a peer's bug: answer it, never crash
        return encode_error(ValueError(f"malformed tender call: {error!r}"))
    try:
        with service.serving():
            result = await run()
    except (TenderError, OutcomeUnknown, NotOwner) as error:
        return encode_error(error)
    except Exception as error:  # noqa: BLE001 - every call gets its answer
        log.exception("a forwarded tender call failed", extra={"tender": tender_id})
        return encode_error(RuntimeError(repr(error)))
    if method == "submit_share":
        events, report = result
        answer: dict[str, Any] = {
            "events": _events(events),
            "report": None
            if report is None
            else {"events": _events(report.events), "failure": report.failure},
        }
    else:
        answer = {"events": _events(result)}
    return json.dumps(answer, separators=(",", ":")).encode()


def _dispatch(
    service: TenderService,
    method: str,
    tender_id: str,
    args: dict[str, Any],
    mark: CommandMark | None,
) -> Callable[[], Any]:
    """The coroutine function that runs ``method`` with ``args`` (parsed here, so a
    malformed call is refused before anything runs)."""
    if method == "create":
        spec = decode_as(str(args["spec"]).encode(), (TenderSpec,))
        by = str(args["by"])
        return lambda: service.create(tender_id, by, spec, mark)
    if method == "ceremony":
        by = str(args["by"])
        return lambda: service.ceremony(tender_id, by, mark)
    if method == "submit":
        bidder, lot = str(args["bidder"]), str(args["lot"])
        kind = EnvelopeKind(args["kind"])
        ciphertext = base64.b64decode(str(args["ciphertext"]), validate=True)
        sealed = args["sealed_for"]
        sealed_for = None if sealed is None else int(sealed)
        return lambda: service.submit(
            tender_id, bidder, lot, kind, ciphertext, sealed_for=sealed_for, mark=mark
        )
    if method == "withdraw":
        bidder, lot = str(args["bidder"]), str(args["lot"])
        kind = EnvelopeKind(args["kind"])
        return lambda: service.withdraw(tender_id, bidder, lot, kind, mark)
    if method == "command":
        made = decode_tender_command(str(args["command"]).encode())
        return lambda: service.command(tender_id, lambda at: dataclasses.replace(made, at=at), mark)
    if method == "submit_share":
        officer, lot = str(args["officer"]), str(args["lot"])
        kind = EnvelopeKind(args["kind"])
        raw = args["share"]
        share = None if raw is None else custody.Share.from_json(raw)
        problem = str(args["problem"])
        return lambda: service.submit_share(tender_id, officer, lot, kind, share, problem, mark)
    raise ValueError(f"unknown method {method!r}")


def _events(events: Any) -> list[str]:
    return [encode(event).decode() for event in events]


def encode_error(error: Exception) -> bytes:
    """The answer that makes the caller raise ``error`` again (see the module)."""
    body: dict[str, Any] = {"error": type(error).__name__, "detail": str(error)}
    if isinstance(error, DeadlineMoved):
        body["deadline"], body["sealed_for"] = error.deadline, error.sealed_for
    elif isinstance(error, UnknownLot):
        body["lot"] = error.lot
    elif isinstance(error, Refused):
        body["rejected"] = encode(error.rejected).decode()
    elif isinstance(error, BodyError):
        body["field"] = error.field
    return json.dumps(body, separators=(",", ":")).encode()


# ------------------------------------------------------------------ the caller's side

#: Errors built from their fields, not their message alone.
_WITH_FIELDS: frozenset[type[Exception]] = frozenset(
    {DeadlineMoved, UnknownLot, Refused, UnknownField, MissingField, InvalidField}
)


def _error(body: dict[str, Any]) -> Exception:
    """The exception an error answer names, rebuilt with the same message and fields."""
    name, detail = str(body["error"]), str(body.get("detail", ""))
    cls = ERRORS.get(name)
    if cls is DeadlineMoved:
        return DeadlineMoved(int(body["deadline"]), int(body["sealed_for"]))
    if cls is UnknownLot:
        return UnknownLot(str(body["lot"]))
    if cls is Refused:
        rejected = decode_tender_event(str(body["rejected"]).encode())
        if isinstance(rejected, CommandRejected):
            return Refused(rejected)
    field = body.get("field")
    if cls is UnknownField and field is not None:
        return UnknownField(str(field))
    if cls is MissingField and field is not None:
        return MissingField(str(field))
    if cls is InvalidField and field is not None:
        prefix = f"{field}: "
        return InvalidField(str(field), detail.removeprefix(prefix))
    if cls is BodyError:
        return BodyError(detail, None if field is None else str(field))
    if cls is not None and cls not in _WITH_FIELDS:
        return cls(detail)
    return RuntimeError(f"{name}: {detail}")


def decode_answer(data: bytes) -> list[TenderEvent] | ShareAnswer:
    """What the owner's method returned (a list of events, or submit_share's pair), or
    its error raised here. ``ValueError`` for an answer that does not parse."""
    try:
        body = json.loads(data)
        if not isinstance(body, dict):
            raise TypeError("not an object")
        if "error" in body:
            error = _error(body)
        else:
            events = [decode_tender_event(text.encode()) for text in body["events"]]
            if "report" not in body:
                return events
            raw = body["report"]
            report = (
                None
                if raw is None
                else OpeningReport(
                    tuple(decode_tender_event(text.encode()) for text in raw["events"]),
                    None if raw["failure"] is None else str(raw["failure"]),
                )
            )
            return events, report
    except Exception as problem:  # noqa: BLE001 - a peer's bug
        raise ValueError(f"malformed tender answer: {problem!r}") from problem
    raise error


def decode_events(data: bytes) -> list[TenderEvent]:
    """:func:`decode_answer` of a command's answer (a list of events)."""
    answer = decode_answer(data)
    if not isinstance(answer, list):
        raise ValueError("malformed tender answer: a share's answer, events expected")
    return answer


def decode_share_answer(data: bytes) -> ShareAnswer:
    """:func:`decode_answer` of :func:`submit_share`'s answer."""
    answer = decode_answer(data)
    if not isinstance(answer, tuple):
        raise ValueError("malformed tender answer: events, a share's answer expected")
    return answer
