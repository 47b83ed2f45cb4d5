"""The websocket protocol, version 1: every message type, defined once.

The server, the browser page, the simulator and the load tests all speak these
messages. Each is a frozen dataclass with a ``type`` tag; ``to_json``/``from_json`` give
the wire form (JSON text, one message per websocket frame). JSON Schemas are generated
from these classes (:mod:`contracts.schema`) and documented in ``docs/protocol.md``.

Every server message carries ``seq`` (the auction's log position it reflects) and
``server_time`` (microseconds since the Unix epoch on the server clock), so a client
can resume exactly where it stopped and run its countdown on server time.

Amounts on the wire are decimal strings in major units (``"12.50"``), never JSON
numbers, so no float ever touches money.

Any role may also ask for a *replay* of an ended auction on the same socket (``replay``,
``seek``, ``pause``, ``resume``): the server then sends ``replay_event`` frames, never
``event`` frames, paced as the events happened, and a ``replay_state`` after each request
(:mod:`api.live.replay`).
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from engine.events import Bound
from engine.money import format_minor

__all__ = [
    "CLIENT_MESSAGES",
    "CLOSE_AUTH_FAILED",
    "CLOSE_BAD_ORIGIN",
    "CLOSE_GOING_AWAY",
    "CLOSE_INVALID_TEXT",
    "CLOSE_PROTOCOL_ERROR",
    "CLOSE_TOO_BIG",
    "CLOSE_TOO_SLOW",
    "CLOSE_TRY_AGAIN",
    "Accept",
    "Ack",
    "bound_member",
    "Bid",
    "ClientMessage",
    "ErrorMessage",
    "EventMessage",
    "Heartbeat",
    "MAX_CLIENT_FRAME",
    "MessageError",
    "OutcomeUnknown",
    "Pass",
    "PROTOCOL",
    "Proxy",
    "Pause",
    "REPLAY_MESSAGES",
    "Reject",
    "Replay",
    "ReplayEvent",
    "ReplayState",
    "Resume",
    "Seek",
    "SERVER_MESSAGES",
    "ServerMessage",
    "Subscribe",
    "Welcome",
    "Withdraw",
    "from_json",
    "to_json",
]

#: The websocket subprotocol name and the ``protocol`` field of ``welcome``.
PROTOCOL = "gavel.v1"

#: Close codes. 1001 is the standard "going away" (server shutting down).
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 4400
CLOSE_AUTH_FAILED = 4401
CLOSE_BAD_ORIGIN = 4403
#: The socket fell behind; reconnect and ``subscribe`` with the last ``seq`` you saw.
CLOSE_TOO_SLOW = 4408
#: The standard "try again later": the log could not be read (storage unavailable);
#: reconnect after a pause, with the last ``seq`` you saw.
CLOSE_TRY_AGAIN = 1013
#: The standard "invalid frame payload data" (RFC 6455 §7.4.1): a text frame that is
#: not UTF-8. The requests read before it are answered first; none after it is run.
CLOSE_INVALID_TEXT = 1007
#: The standard "message too big": a frame over :data:`MAX_CLIENT_FRAME` bytes (sent
#: by the websocket layer at once, as it reads the frame's header).
CLOSE_TOO_BIG = 1009


class MessageError(ValueError):
    """A frame is not a valid message of this protocol; ``code`` says why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


# --------------------------------------------------------------------- client → server


@dataclass(frozen=True, slots=True)
class Subscribe:
    """First message of every connection: stream every event after ``since`` (0: all)."""

    since: int = 0
    type: str = "subscribe"


@dataclass(frozen=True, slots=True)
class Bid:
    """Place a bid of ``amount`` (decimal string) ``currency``. Answered by ack or reject."""

    request_id: str
    amount: str
    currency: str
    type: str = "bid"


@dataclass(frozen=True, slots=True)
class Proxy:
    """Set a secret proxy limit (maximum for a sale, floor for a procurement)."""

    request_id: str
    limit: str
    currency: str
    type: str = "proxy"


@dataclass(frozen=True, slots=True)
class Accept:
    """Take the Dutch clock price; with ``expected``, only if it is still that price."""

    request_id: str
    expected: str | None = None
    currency: str | None = None
    type: str = "accept"


@dataclass(frozen=True, slots=True)
class Withdraw:
    """Withdraw one's sealed bid before the deadline."""

    request_id: str
    type: str = "withdraw"


@dataclass(frozen=True, slots=True)
class Pass:
    """End one's multi-round turn now."""

    request_id: str
    type: str = "pass"


@dataclass(frozen=True, slots=True)
class Replay:
    """Replay the ended auction's log on this socket, ``speed`` times faster than it
    happened (a decimal string; ``"0"``: no waiting). Events before ``from_seq`` are sent
    at once, the rest paced. Starts over if a replay is running."""

    request_id: str
    speed: str = "1"
    from_seq: int = 1
    type: str = "replay"


@dataclass(frozen=True, slots=True)
class Seek:
    """Continue the replay from event ``seq`` (back or forward; paused stays paused)."""

    request_id: str
    seq: int
    type: str = "seek"


@dataclass(frozen=True, slots=True)
class Pause:
    """Stop the replay where it is."""

    request_id: str
    type: str = "pause"


@dataclass(frozen=True, slots=True)
class Resume:
    """Go on with a paused replay, at ``speed`` if given."""

    request_id: str
    speed: str | None = None
    type: str = "resume"


# --------------------------------------------------------------------- server → client


@dataclass(frozen=True, slots=True)
class Welcome:
    """Sent once after ``subscribe``: who you are here and where the log stands."""

    protocol: str
    auction_id: str
    role: str
    you: str | None
    seq: int
    server_time: int
    type: str = "welcome"


@dataclass(frozen=True, slots=True)
class EventMessage:
    """One event of the log as this connection may see it.

    ``event`` is the event's canonical data with what this role may not see removed;
    an event this role may not see at all arrives as ``{"type": "Redacted"}`` so every
    seq is delivered and a gap is always detectable.
    """

    seq: int
    server_time: int
    event: dict[str, Any]
    type: str = "event"


@dataclass(frozen=True, slots=True)
class Ack:
    """Your request was accepted and is durable; ``seq`` is its first event."""

    request_id: str
    seq: int
    server_time: int
    event: dict[str, Any]
    type: str = "ack"


@dataclass(frozen=True, slots=True)
class Reject:
    """Your request was refused and changed nothing; ``code`` is the engine's reason.

    ``detail`` says why in words, an amount in major units with its currency (``"at least
    1150.00 EUR"``); ``bound`` says the same amount for machines when the refusal names
    one (:func:`bound_member`), else ``null``. Added in protocol 1 without a version
    change: a client that ignores it reads every reject as before."""

    request_id: str
    code: str
    detail: str
    seq: int
    server_time: int
    bound: dict[str, Any] | None = None
    type: str = "reject"


@dataclass(frozen=True, slots=True)
class OutcomeUnknown:
    """Not a refusal: your request ran, its commit failed and the server could not learn
    in time whether it was recorded; it may stand. Once the server answers again, the
    log tells (``/me``, the ranking, the events). The one answer to ``request_id``."""

    request_id: str
    detail: str
    seq: int
    server_time: int
    type: str = "outcome_unknown"


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Sent every few seconds: the server clock and the next deadline, for countdowns."""

    seq: int
    server_time: int
    next_deadline: int | None
    type: str = "heartbeat"


@dataclass(frozen=True, slots=True)
class ErrorMessage:
    """A frame could not be understood; the connection stays open unless it says so."""

    code: str
    detail: str
    seq: int
    server_time: int
    type: str = "error"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed checkpoint of the auction's log (C2SP tlog-checkpoint text in ``note``),
    pushed when one is issued at an opening, round end or close. ``size`` events are
    under ``root`` (hex SHA-256); ``seq`` is the event head it was sent at. Keep it:
    the operator cannot later show a log that contradicts it without detection."""

    seq: int
    server_time: int
    size: int
    root: str
    note: str
    type: str = "checkpoint"


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    """One event of a replay (never mixed up with a live ``event``): the event's data as
    this connection's role may see it now that the auction has ended, exactly as a live
    ``event`` frame sent after the end shows it. ``request_id`` is the ``replay``'s."""

    request_id: str
    seq: int
    server_time: int
    event: dict[str, Any]
    type: str = "replay_event"


@dataclass(frozen=True, slots=True)
class ReplayState:
    """Where the replay stands, after each request and at its end. ``status`` is
    ``playing``, ``paused`` or ``ended``; the client keeps the replay events up to
    ``seq`` and drops any later one it holds (after a seek back); the next
    ``replay_event`` is ``seq + 1``. ``last`` is the log's last seq."""

    request_id: str
    status: str
    seq: int
    last: int
    speed: str
    server_time: int
    type: str = "replay_state"


ClientMessage = Subscribe | Bid | Proxy | Accept | Withdraw | Pass | Replay | Seek | Pause | Resume
ServerMessage = (
    Welcome
    | EventMessage
    | Ack
    | Reject
    | OutcomeUnknown
    | Heartbeat
    | ErrorMessage
    | Checkpoint
    | ReplayEvent
    | ReplayState
)
#: The client messages of a replay (handled by :mod:`api.live.replay`, not as commands).
REPLAY_MESSAGES = frozenset({Replay, Seek, Pause, Resume})

CLIENT_MESSAGES: dict[str, type[Any]] = {
    cls.__dataclass_fields__["type"].default: cls for cls in typing.get_args(ClientMessage)
}
SERVER_MESSAGES: dict[str, type[Any]] = {
    cls.__dataclass_fields__["type"].default: cls for cls in typing.get_args(ServerMessage)
}

#: The largest client frame the server reads, in bytes; a larger one closes the socket
#: with :data:`CLOSE_TOO_BIG` (there is no error frame for it).
MAX_CLIENT_FRAME = 4096


def bound_member(bound: Bound | None) -> dict[str, Any] | None:
    """The wire form of a rejection's :class:`~engine.events.Bound`, as a ``reject``'s
    ``bound`` and a problem's ``bound`` member carry it: ``kind`` (``min``: the amount had
    to be at least this; ``max``: at most; ``price``: exactly, the clock's price),
    ``amount`` (major units, a plain decimal string as every wire amount),
    ``amount_minor`` (integer minor units) and ``currency``. O(digits).

    >>> from engine.events import BoundKind
    >>> bound_member(Bound(BoundKind.MIN, 115000, "EUR"))
    {'kind': 'min', 'amount': '1150.00', 'amount_minor': 115000, 'currency': 'EUR'}
    """
    if bound is None:
        return None
    return {
        "kind": bound.kind.value,
        "amount": format_minor(bound.amount, bound.currency),
        "amount_minor": bound.amount,
        "currency": bound.currency,
    }


def to_json(message: Any) -> str:
    """The wire form of a message: compact JSON with the fields in declaration order."""
    return json.dumps(dataclasses.asdict(message), separators=(",", ":"), ensure_ascii=False)


def from_json(text: str | bytes, table: dict[str, type[Any]] = CLIENT_MESSAGES) -> Any:
    """Parse one frame into a message of ``table``; :class:`MessageError` if it is not one.

    Strict, as the HTTP bodies are read (``api.http.problems.parse_body``): bytes must be
    UTF-8; ``NaN``, ``Infinity`` and a member name given twice are not JSON
    (``bad_json``: parsers disagree on which twin wins); unknown fields, missing fields
    and wrong JSON types are errors; and no string anywhere in the frame, member names
    included, may hold NUL or a lone surrogate (``invalid_field``, naming the top-level
    member): a lone surrogate cannot be encoded as UTF-8, so an answer echoing it could
    never be sent. O(size).

    The size of a frame is not checked here: the server's websocket layer refuses a
    frame over :data:`MAX_CLIENT_FRAME` bytes as it reads its header, closing the socket
    with :data:`CLOSE_TOO_BIG` (``docs/protocol.md``, close codes); such a frame never
    reaches this parser, so no error frame exists for it.
    """
    try:
        if not isinstance(text, str):
            # json.loads would also guess UTF-16 and UTF-32, and pass encoded surrogates.
            text = bytes(text).decode("utf-8")
        data = _DECODER.decode(text)
    except (ValueError, RecursionError) as error:
        # UnicodeDecodeError and JSONDecodeError are ValueErrors, as are our refusals of
        # twins and constants and Python's limit on the digits of an int.
        detail = "the frame is not JSON"
        if isinstance(error, _Refused):
            detail += f": {error}"
        raise MessageError("bad_json", detail) from None
    if not isinstance(data, dict):
        raise MessageError("bad_message", "a message is a JSON object")
    # A parsed string can hold NUL or a surrogate only from a \\u escape (the parser refuses
    # raw control characters in strings) or from a str that holds one already.
    unsendable = _unsendable(data) if "\\u" in text or not text.isascii() else None
    if unsendable is not None:
        raise MessageError(
            "invalid_field", f"{unsendable} holds NUL or a lone surrogate (not Unicode text)"
        )
    kind = data.get("type")
    cls = table.get(kind) if type(kind) is str else None
    if cls is None:
        raise MessageError("unknown_type", f"unknown message type {data.get('type')!r}")
    hints, fields = _shape(cls)
    unknown = set(data) - set(fields)
    if unknown:
        raise MessageError("unknown_field", f"unknown field(s) {sorted(unknown)}")
    for name, field in fields.items():
        required = (
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        if name not in data:
            if required:
                raise MessageError("missing_field", f"{name} is required")
            continue
        if not _matches(hints[name], data[name]):
            raise MessageError("invalid_field", f"{name} has the wrong type")
    return cls(**data)


class _Refused(ValueError):
    """Valid for Python's parser, not JSON for this protocol."""


def _members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _Refused(f"member {name!r} appears more than once")
            seen.add(name)
    return members


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON")


# Built once: json.loads with hooks builds a decoder per call, which doubled the cost.
_DECODER = json.JSONDecoder(object_pairs_hook=_members, parse_constant=_no_constant)


# NUL, and the surrogates: after parsing, a string holds a surrogate only unpaired (the
# parser joins an escaped pair into one code point).
_UNSENDABLE = re.compile("[\x00\ud800-\udfff]")


def _unsendable(data: dict[str, Any]) -> str | None:
    """The first top-level member of ``data`` with NUL or a lone surrogate in its name or
    anywhere in its value (escaped for display), or ``None``. Iterative: a value may nest
    as deep as the parser allows. O(size)."""
    search = _UNSENDABLE.search
    for name, value in data.items():
        stack = [name, value]
        while stack:
            item = stack.pop()
            if type(item) is str:
                if search(item) is not None:
                    # ascii(): the name itself may hold what cannot be sent.
                    return name if search(name) is None else ascii(name)
            elif type(item) is dict:
                stack += item.keys()
                stack += item.values()
            elif type(item) is list:
                stack += item
    return None


_Shape = tuple[dict[str, Any], dict[str, "dataclasses.Field[Any]"]]
_SHAPES: dict[type[Any], _Shape] = {}


def _shape(cls: type[Any]) -> _Shape:
    """Type hints and fields of a message class, computed once (they are costly)."""
    shape = _SHAPES.get(cls)
    if shape is None:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        shape = _SHAPES[cls] = (typing.get_type_hints(cls), fields)
    return shape


def _matches(hint: Any, value: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(_matches(option, value) for option in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is int:
        return type(value) is int
    if hint is str:
        return type(value) is str
    if origin is dict:
        return isinstance(value, dict)
    return False  # pragma: no cover - every field type is listed above
