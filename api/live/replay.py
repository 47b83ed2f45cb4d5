"""Replays of ended auctions over the websocket, for the auditor's page.

A connection (any role, already subscribed) sends ``replay {request_id, speed,
from_seq}``; the server answers ``replay_state`` and then sends every event of the log as
a ``replay_event`` frame (never a live ``event`` frame): those before ``from_seq`` at
once, the rest paced by the events' own server times divided by ``speed``, a quiet
stretch waiting at most :data:`LONGEST_GAP_US` / ``speed``. ``seek {seq}`` continues from
``seq`` (events the client lacks up to it are sent at once; after a seek back the
client drops what it holds beyond), ``pause`` and ``resume [speed]`` do what they say;
each is answered by a ``replay_state`` or a typed ``reject`` (:data:`REASONS`), and a
``replay_state`` with status ``ended`` follows the last event.

Each event is rendered for the connection's role exactly as a live frame sent after the
end shows it (:class:`api.auctions.views.AuctionViews`, folded over the whole log), so a replay
reveals nothing a late subscriber would not see.

:func:`offsets` is the pacing as a pure function (tested without a loop); the
:class:`Replayer` of a connection runs it with asyncio. Only the connection's reader
(:mod:`api.live.ws`) calls :meth:`Replayer.handle`; the replay's own task only sends.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from api.auctions.views import AuctionViews, Audience
from api.live.hub import Subscriber, wire
from api.live.source import SessionSource
from contracts import messages as m
from engine import Event

__all__ = ["LONGEST_GAP_US", "MAX_SPEED", "REASONS", "Replayer", "offsets", "parse_speed"]

#: A quiet stretch of the log waits at most this long (µs) at speed 1.
LONGEST_GAP_US = 2_000_000
#: The fastest pacing a client may ask for (``"0"``, no waiting at all, is allowed too).
MAX_SPEED = Decimal(10_000)

#: Reject codes of the replay requests.
REASONS = {
    "auction_not_ended": "only an ended auction is replayed",
    "invalid_speed": f"speed is a plain decimal string from 0 to {MAX_SPEED}",
    "invalid_seq": "the seq is not one of the log's",
    "no_replay": "ask for a replay first",
    "replay_not_playing": "the replay is not playing",
    "replay_not_paused": "the replay is not paused",
}

_SPEED = re.compile(r"[0-9]{1,6}(\.[0-9]{1,6})?", re.ASCII)
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def parse_speed(text: str) -> Decimal | None:
    """``text`` as a speed (``Decimal`` 0..:data:`MAX_SPEED`), or ``None`` if it is not
    one (no sign, exponent, NaN or more than 6 decimals). O(len)."""
    if _SPEED.fullmatch(text) is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        return None
    return value if value <= MAX_SPEED else None


def offsets(times: Sequence[int], speed: Decimal) -> list[Fraction]:
    """When to send each event, in seconds after the first of ``times`` (server times in
    µs, not decreasing): each gap divided by ``speed``, a gap longer than
    :data:`LONGEST_GAP_US` counted as that long; all 0 at speed 0. Exact. O(n)."""
    if not times:
        return []
    if speed == 0:
        return [Fraction(0)] * len(times)
    rate = Fraction(speed) * 1_000_000
    out = [Fraction(0)]
    total = 0
    for before, after in zip(times, times[1:], strict=False):
        total += min(max(after - before, 0), LONGEST_GAP_US)
        out.append(total / rate)
    return out


class Replayer:
    """One connection's replay: the log, the position, and the task that paces it."""

    def __init__(
        self, service: SessionSource, auction_id: str, audience: Audience, subscriber: Subscriber
    ) -> None:
        self.service = service
        self.auction_id = auction_id
        self.audience = audience
        self.subscriber = subscriber
        self.events: list[Event] = []
        self.frames: list[dict[str, Any]] = []  # each event rendered for the audience
        #: The ``request_id`` of the running replay (its frames carry it).
        self.request_id = ""
        #: The highest seq sent in this replay (the client holds 1..sent).
        self.sent = 0
        self.status = "ended"
        self.speed = Decimal(1)
        self._task: asyncio.Task[None] | None = None

    async def handle(self, message: Any) -> None:
        """Answer one replay request (``Replay``, ``Seek``, ``Pause``, ``Resume``)."""
        if isinstance(message, m.Replay):
            await self._replay(message)
        elif not self.request_id:
            self._reject(message.request_id, "no_replay")
        elif isinstance(message, m.Seek):
            self._seek(message)
        elif isinstance(message, m.Pause):
            if self.status != "playing":
                self._reject(message.request_id, "replay_not_playing")
                return
            self._stop()
            self.status = "paused"
            self._state(message.request_id)
        else:
            self._resume(message)

    def stop(self) -> None:
        """End the pacing task (the connection is closing)."""
        self._stop()

    # ------------------------------------------------------------------ requests

    async def _replay(self, message: m.Replay) -> None:
        speed = parse_speed(message.speed)
        if speed is None:
            self._reject(message.request_id, "invalid_speed")
            return
        if not self.frames:  # never loaded, or loaded before the end: read it again
            await self._load()
        if not self.frames:
            self._reject(message.request_id, "auction_not_ended")
            return
        if not 1 <= message.from_seq <= len(self.events):
            self._reject(message.request_id, "invalid_seq", f"from_seq must be 1..{self.last}")
            return
        self._stop()
        self.request_id = message.request_id
        self.speed = speed
        self.sent = 0
        self.status = "playing"
        self._state(message.request_id)
        self._start(message.from_seq)

    def _seek(self, message: m.Seek) -> None:
        if not 1 <= message.seq <= self.last:
            self._reject(message.request_id, "invalid_seq", f"seq must be 1..{self.last}")
            return
        self._stop()
        self.sent = min(self.sent, message.seq - 1)
        if self.status == "ended":
            self.status = "playing"
        self._state(message.request_id)
        # Paused stays paused, with the client holding everything before ``seq``.
        self._start(message.seq, paced=self.status == "playing")

    def _resume(self, message: m.Resume) -> None:
        speed = self.speed if message.speed is None else parse_speed(message.speed)
        if speed is None:
            self._reject(message.request_id, "invalid_speed")
            return
        if self.status != "paused":
            self._reject(message.request_id, "replay_not_paused")
            return
        self.speed = speed
        self.status = "playing"
        self._state(message.request_id)
        self._start(self.sent + 1)

    # ------------------------------------------------------------------ sending

    @property
    def last(self) -> int:
        """The log's last seq."""
        return len(self.events)

    async def _load(self) -> None:
        events = await self.service.history(self.auction_id, 0)
        views = AuctionViews()
        for event in events:
            views.observe(event)
        self.events = events
        # Rendered once the whole log is folded: as a live frame after the end shows it.
        self.frames = (
            [views.render(event, self.audience) for event in events] if views.ended else []
        )

    def _start(self, start: int, *, paced: bool = True) -> None:
        self._task = asyncio.create_task(self._run(start, paced))

    def _stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()

    async def _run(self, start: int, paced: bool) -> None:
        """Send what the client lacks before ``start`` at once, then (``paced``) the rest
        as it happened; then the ``ended`` state."""
        await self._send_upto(start - 1)
        if not paced:
            return
        loop = asyncio.get_running_loop()
        times = [event.at for event in self.events[start - 1 :]]
        began = loop.time()
        for seq, offset in enumerate(offsets(times, self.speed), start):
            wait = began + float(offset) - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            await self._send_upto(seq)
        self.status = "ended"
        self._state(self.request_id)
        self._task = None

    async def _send_upto(self, seq: int) -> None:
        subscriber = self.subscriber
        clock = self.service.clock
        while self.sent < seq:
            # A burst (the part before from_seq, a seek forward) waits for the socket
            # rather than overflow its queue and be dropped as too slow.
            while subscriber.depth > subscriber.limit // 2 and not subscriber.closed:
                await asyncio.sleep(0.005)
            if subscriber.closed or subscriber.too_slow:
                return
            self.sent += 1
            frame = {
                "request_id": self.request_id,
                "seq": self.sent,
                "server_time": clock(),
                "event": self.frames[self.sent - 1],
                "type": "replay_event",
            }
            subscriber.send_direct(wire(_encode(frame)))

    def _state(self, request_id: str) -> None:
        state = m.ReplayState(
            request_id, self.status, self.sent, self.last, str(self.speed), self.service.clock()
        )
        self.subscriber.send_direct(wire(m.to_json(state)))

    def _reject(self, request_id: str, code: str, detail: str = "") -> None:
        head = self.service.hub.channel(self.auction_id).head
        reject = m.Reject(request_id, code, detail or REASONS[code], head, self.service.clock())
        self.subscriber.send_direct(wire(m.to_json(reject)))
