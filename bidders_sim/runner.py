"""One simulated bidder's websocket loop: frames in, a strategy's actions out.

:func:`run_bidder` connects to ``/ws/v1/auctions/{id}`` with the bidder's token
(``Authorization: Bearer``, subprotocol ``gavel.v1``; docs/protocol.md "Connecting"),
subscribes, folds every frame into a :class:`~bidders_sim.tracker.Tracker` and asks the
strategy :meth:`~bidders_sim.strategy.Strategy.decide` after every change and again at
:meth:`~bidders_sim.strategy.Strategy.wake_at`. At most one request is in flight: the
next decision waits for its answer (``ack``, ``reject``, ``outcome_unknown`` or an
``error`` frame) and for the events it caused. The server's clock is the clock: the
view's ``now`` is the last frame's ``server_time`` plus the client's monotonic time
since it arrived.

It measures each request's latency (send to answer, on the client's monotonic clock),
counts answers by kind and rejects by code, and returns a :class:`BidderOutcome` once
the auction has ended (or at ``deadline``, or when cancelled: then it raises
``CancelledError`` as usual). A dropped socket is reconnected with ``since`` = the last
seq seen (a request in flight then counts as unanswered), up to ``reconnects`` times;
not after a close or handshake status no reconnect can cure (a revoked token: 4401),
nor after a reject that puts the bidder out (``bidder_disqualified``): the outcome's
``error`` says why it stopped. An action refused by the engine is not sent again, the
same, until something new has happened in the auction (no loop of equal rejects).

``pause`` (the demo's opponents) makes the bidder think before it acts: when the strategy
first wants to act, the runner waits ``pause()`` seconds, asks again with what it knows
then, and sends that answer.

Call order: build a strategy, then ``await run_bidder(...)``; ``listener`` (if given) is
called with ``"sent"``, ``"ack"``, ``"reject"`` as they happen, for a progress display.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from bidders_sim.strategy import Accept, Action, Bid, Pass, Proxy, Strategy, View
from bidders_sim.tracker import Tracker
from engine.money import format_minor

__all__ = ["BidderOutcome", "action_frame", "run_bidder"]

log = logging.getLogger("gavel.sim")

#: Seconds to wait before reconnecting a dropped socket (times the attempt number).
_RECONNECT_PAUSE_S = 0.5

#: Seconds to wait after the end for the answer to a request still in flight.
_LAST_ANSWER_S = 5.0

#: Reject codes after which the bidder has nothing left to do in the auction.
_OUT = frozenset({"bidder_disqualified", "unknown_bidder", "forbidden", "read_only"})

#: Reject codes that mean "nothing was recorded; retry" (not a verdict on the action).
_RETRY = frozenset({"storage_unavailable", "unavailable"})

#: Close codes (and handshake statuses) a reconnect cannot cure: protocol error, a bad or
#: revoked token, a refused origin (docs/protocol.md "Close codes").
_FINAL_CLOSE = frozenset({4400, 4401, 4403})
_FINAL_STATUS = frozenset({400, 401, 403, 404})


@dataclass(frozen=True, slots=True)
class BidderOutcome:
    """What one simulated bidder did and heard. Latencies are microseconds."""

    party: str
    strategy: str
    label: str | None
    sent: int
    acks: int
    rejects: dict[str, int]
    #: Requests that never got an answer (a socket dropped with them in flight).
    unanswered: int
    latencies_us: tuple[int, ...]
    #: The commands sent, in order, as text (``"bid 1150.00"``): the same seed and the
    #: same views give the same commands.
    commands: tuple[str, ...]
    #: The ``AuctionEnded`` event as this bidder saw it, ``None`` if it did not see one.
    ended: dict[str, Any] | None
    #: Why the bidder stopped early (a strategy's error, a socket it could not reopen).
    error: str | None = None


def action_frame(action: Action, request_id: str, currency: str) -> dict[str, Any]:
    """The client frame for ``action`` (amounts as decimal strings in major units)."""
    if isinstance(action, Bid):
        amount = format_minor(action.amount, currency)
        return {"type": "bid", "request_id": request_id, "amount": amount, "currency": currency}
    if isinstance(action, Proxy):
        limit = format_minor(action.limit, currency)
        return {"type": "proxy", "request_id": request_id, "limit": limit, "currency": currency}
    if isinstance(action, Accept):
        expected = format_minor(action.expected, currency)
        return {
            "type": "accept",
            "request_id": request_id,
            "expected": expected,
            "currency": currency,
        }
    assert isinstance(action, Pass)
    return {"type": "pass", "request_id": request_id}


def _command_text(frame: dict[str, Any]) -> str:
    amount = frame.get("amount") or frame.get("limit") or frame.get("expected")
    return f"{frame['type']} {amount}" if amount is not None else str(frame["type"])


@dataclass(slots=True)
class _Bidder:
    """The mutable state of one run (private to :func:`run_bidder`)."""

    strategy: Strategy
    party: str
    tracker: Tracker = field(default_factory=Tracker)
    sent: int = 0
    acks: int = 0
    rejects: Counter[str] = field(default_factory=Counter)
    unanswered: int = 0
    latencies: list[int] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    #: The request in flight: (request_id, monotonic send time).
    in_flight: tuple[str, float] | None = None
    #: Decide only once the events up to this seq (an answer's) are folded.
    hold_seq: int = 0
    #: The monotonic time a paused decision is due, if one is.
    due: float | None = None
    #: The action last refused and the tracker's news then: not sent again until news.
    refused: tuple[Action, int] | None = None
    #: The action in flight (remembered as refused if the answer is a reject).
    sending: Action | None = None
    #: The monotonic time of the last frame (for the server-time estimate).
    heard_at: float = 0.0
    #: The last server time :meth:`now` answered.
    last_now: int = 0
    error: str | None = None

    def now(self) -> int:
        """The server time now, estimated from the last frame; never less than an
        earlier estimate (a frame's time may lag the estimate by a few microseconds)."""
        elapsed = time.monotonic() - self.heard_at
        self.last_now = max(self.last_now, self.tracker.server_time + int(elapsed * 1_000_000))
        return self.last_now

    def outcome(self) -> BidderOutcome:
        return BidderOutcome(
            party=self.party,
            strategy=type(self.strategy).name,
            label=self.tracker.label,
            sent=self.sent,
            acks=self.acks,
            rejects=dict(sorted(self.rejects.items())),
            unanswered=self.unanswered,
            latencies_us=tuple(self.latencies),
            commands=tuple(self.commands),
            ended=self.tracker.ended,
            error=self.error,
        )


async def run_bidder(
    ws_url: str,
    auction_id: str,
    token: str,
    strategy: Strategy,
    *,
    party: str,
    pause: Callable[[], float] | None = None,
    listener: Callable[[str], None] | None = None,
    deadline: float | None = None,
    reconnects: int = 3,
) -> BidderOutcome:
    """Bid in ``auction_id`` as the holder of ``token`` until the auction ends; see the
    module docstring. ``ws_url`` is ``ws://host:port``; ``deadline`` a ``time.monotonic()``
    time to give up at (the outcome then has no ``ended``)."""
    state = _Bidder(strategy, party)
    notify = listener or (lambda _kind: None)
    attempts = 0
    while state.tracker.phase != "ended" and state.error is None:
        if deadline is not None and time.monotonic() >= deadline:
            break
        try:
            async with _open(ws_url, auction_id, token) as ws:
                await ws.send(json.dumps({"type": "subscribe", "since": state.tracker.applied_seq}))
                await _converse(ws, state, pause, notify, deadline)
        except (ConnectionClosed, OSError, InvalidHandshake, TimeoutError) as error:
            if state.in_flight is not None:
                state.unanswered += 1
                state.in_flight = None
            if _final(error):
                state.error = f"refused: {error}"
                break
            attempts += 1
            if attempts > reconnects:
                state.error = f"socket lost: {error!r}"
                break
            delay = _RECONNECT_PAUSE_S * attempts
            if isinstance(error, InvalidStatus) and error.response.status_code == 429:
                delay = max(delay, float(error.response.headers.get("Retry-After", "1")))
            await asyncio.sleep(delay)
    if state.in_flight is not None:
        state.unanswered += 1
        state.in_flight = None
    return state.outcome()


def _final(error: Exception) -> bool:
    """Whether reconnecting after ``error`` cannot help (see :data:`_FINAL_CLOSE`)."""
    if isinstance(error, ConnectionClosed):
        return error.rcvd is not None and error.rcvd.code in _FINAL_CLOSE
    if isinstance(error, InvalidStatus):
        return error.response.status_code in _FINAL_STATUS
    return False


def _open(ws_url: str, auction_id: str, token: str) -> Any:
    return connect(
        f"{ws_url}/ws/v1/auctions/{auction_id}",
        subprotocols=[Subprotocol("gavel.v1")],
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=30,
        compression=None,
        max_queue=None,
    )


async def _converse(
    ws: ClientConnection,
    state: _Bidder,
    pause: Callable[[], float] | None,
    notify: Callable[[str], None],
    deadline: float | None,
) -> None:
    """Read frames and act until the auction ends, the deadline passes or the socket
    closes (``ConnectionClosed``)."""
    tracker = state.tracker
    wake: int | None = None
    while tracker.phase != "ended":
        if deadline is not None and time.monotonic() >= deadline:
            return
        timeout = _timeout(state, wake, deadline)
        try:
            raw = await asyncio.wait_for(ws.recv(), timeout)
        except TimeoutError:
            raw = None
            if deadline is not None and time.monotonic() >= deadline:
                return
        if raw is not None:
            _heard(state, json.loads(raw), notify)
            if tracker.ended is not None:
                await _last_answer(ws, state, notify)
                return
        wake = await _act(ws, state, pause, notify)
        if state.error is not None:
            return


async def _last_answer(ws: ClientConnection, state: _Bidder, notify: Callable[[str], None]) -> None:
    """After the end: wait (up to :data:`_LAST_ANSWER_S`) for the answer of the request
    in flight, which the server sends after the events it caused (the end among them)."""
    give_up = time.monotonic() + _LAST_ANSWER_S
    while state.in_flight is not None and time.monotonic() < give_up:
        try:
            raw = await asyncio.wait_for(ws.recv(), give_up - time.monotonic())
        except TimeoutError:
            break
        _heard(state, json.loads(raw), notify)


def _timeout(state: _Bidder, wake: int | None, deadline: float | None) -> float | None:
    """Seconds until the next thing the bidder must do without news, or ``None``."""
    times: list[float] = []
    if wake is not None:
        times.append((wake - state.now()) / 1_000_000)
    if state.due is not None:
        times.append(state.due - time.monotonic())
    if deadline is not None:
        times.append(deadline - time.monotonic())
    return max(0.0, min(times)) if times else None


def _heard(state: _Bidder, frame: dict[str, Any], notify: Callable[[str], None]) -> None:
    """Fold one frame and settle the request it answers."""
    state.tracker.observe(frame)
    if isinstance(frame.get("server_time"), int):
        state.heard_at = time.monotonic()
    kind = frame.get("type")
    flight = state.in_flight
    if kind not in ("ack", "reject", "outcome_unknown", "error") or flight is None:
        return
    if kind != "error" and frame.get("request_id") != flight[0]:
        return
    state.in_flight = None
    state.latencies.append(int((time.monotonic() - flight[1]) * 1_000_000))
    state.hold_seq = max(state.hold_seq, frame.get("seq", 0) if kind != "error" else 0)
    if kind == "ack":
        state.acks += 1
        notify("ack")
        return
    code = frame.get("code") if kind in ("reject", "error") else "outcome_unknown"
    state.rejects[f"error:{code}" if kind == "error" else str(code)] += 1
    if kind == "reject" and state.sending is not None and code not in _RETRY:
        state.refused = (state.sending, state.tracker.news)
    if code in _OUT:
        state.error = f"out of the auction: {code}"
    notify("reject")


async def _act(
    ws: ClientConnection,
    state: _Bidder,
    pause: Callable[[], float] | None,
    notify: Callable[[str], None],
) -> int | None:
    """Ask the strategy and send its action if it has one and nothing is in flight;
    return when to ask again without news (server time), if ever."""
    tracker = state.tracker
    if state.in_flight is not None or tracker.applied_seq < state.hold_seq:
        return None
    view = tracker.view(state.now())
    if view is None or view.phase == "ended":
        return None
    try:
        action = state.strategy.decide(view)
        wake = state.strategy.wake_at(view)
    except Exception as error:  # noqa: BLE001 - a strategy's bug stops its bidder only
        log.exception("strategy %s failed", type(state.strategy).name)
        state.error = f"strategy failed: {error!r}"
        return None
    if action is None:
        state.due = None
        return wake
    if state.refused == (action, tracker.news):
        return wake  # refused just so, and nothing has happened since: not again
    if pause is not None:
        if state.due is None:
            state.due = time.monotonic() + pause()
            return wake
        if time.monotonic() < state.due:
            return wake
        state.due = None
    await _send(ws, state, action, view, notify)
    return wake


async def _send(
    ws: ClientConnection, state: _Bidder, action: Action, view: View, notify: Callable[[str], None]
) -> None:
    state.sent += 1
    request_id = f"{state.party}-{state.sent}"
    frame = action_frame(action, request_id, view.currency)
    state.commands.append(_command_text(frame))
    state.sending = action
    state.in_flight = (request_id, time.monotonic())
    await ws.send(json.dumps(frame))
    notify("sent")
