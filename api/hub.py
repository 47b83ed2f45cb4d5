"""Fan-out of committed events to websocket subscribers, with bounded queues.

Each auction has a :class:`Channel`; each connection a :class:`Subscriber` with a
bounded queue of ready-to-send frames. ``publish`` renders every event once per distinct
audience (privileged, public, and the bidder it concerns) and appends the same text to
every queue, so a broadcast costs O(subscribers) appends and O(1) renders. A subscriber
whose queue is full is marked too slow and :meth:`Subscriber.dropped` returns, so its
session closes it with ``CLOSE_TOO_SLOW`` (even while its writer is stuck on a full
socket); the auction and the other sockets never wait for it. History replayed on
resume does not count against the limit, which bounds the lag behind the live stream.

``publish`` runs in the runner's task after the commit; it never awaits.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any

from api.views import AuctionViews, Audience
from engine import Auction, Event

__all__ = ["Channel", "Hub", "Subscriber"]

# The encoder of contracts.messages.to_json (compact, UTF-8 kept), built once.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class Subscriber:
    """One connection's outbox. The socket's writer loop awaits :meth:`next`."""

    __slots__ = (
        "audience",
        "limit",
        "_frames",
        "_ready",
        "_held",
        "too_slow",
        "closed",
        "last_seq",
        "sent",
        "_current",
        "_backlog",
        "_dropped",
    )

    def __init__(self, audience: Audience, since: int = 0, limit: int = 1000) -> None:
        self.audience = audience
        self.limit = limit
        self._frames: deque[tuple[int, str]] = deque()
        self._ready = asyncio.Event()
        # Live frames that arrive while the history is being read (see resume()).
        self._held: list[tuple[int, str]] | None = []
        self.too_slow = False
        self.closed = False
        #: The highest seq queued for (or sent to) this connection.
        self.last_seq = since
        #: The highest event seq written to the socket: where a dropped client resumes.
        self.sent = since
        self._current = 0
        # History frames still queued (they sit at the head of the queue). They do not
        # count against ``limit``: a client resuming from far behind must be able to
        # catch up, and ``limit`` bounds how far it may fall behind the *live* stream.
        self._backlog = 0
        self._dropped = asyncio.Event()

    def resume(self, history: list[tuple[int, str]]) -> None:
        """Queue the history read from the log, then the live frames held meanwhile.

        Call order for a gapless, duplicate-free resume: create the subscriber (it holds
        live frames), add it to the channel, read the log after ``since``, then call
        ``resume`` with those frames. Every seq arrives exactly once, in order.
        """
        held, self._held = self._held or [], None
        for seq, frame in history:
            if seq > self.last_seq and not self.closed:
                self._frames.append((seq, frame))
                self.last_seq = seq
        self._backlog = len(self._frames)
        if self._frames:
            self._ready.set()
        for seq, frame in held:
            self.push(seq, frame)

    def push(self, seq: int, frame: str) -> None:
        """Queue a frame for ``seq``; frames at or below ``last_seq`` are dropped (dedup)."""
        if self._held is not None:
            self._held.append((seq, frame))
            return
        if self.closed or self.too_slow or seq <= self.last_seq:
            return
        if len(self._frames) - self._backlog >= self.limit:
            self._overflow()
        else:
            self._frames.append((seq, frame))
            self.last_seq = seq
        self._ready.set()

    def send_direct(self, frame: str) -> None:
        """Queue a frame that is not an event (ack, reject, heartbeat); never dropped as dup."""
        if self.closed or self.too_slow:
            return
        if len(self._frames) - self._backlog >= self.limit:
            self._overflow()
        else:
            self._frames.append((0, frame))
        self._ready.set()

    def _overflow(self) -> None:
        self.too_slow = True
        self._frames.clear()
        self._backlog = 0
        self._dropped.set()

    async def dropped(self) -> None:
        """Return once the queue has overflowed (the connection is too slow).

        The writer loop may be stuck in a send to a peer that stopped reading, so it
        cannot notice by itself; the session awaits this alongside it.
        """
        await self._dropped.wait()

    async def next(self) -> str | None:
        """The next frame, waiting if none; ``None`` once too slow or closed."""
        while not self._frames:
            if self.too_slow or self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        if self.too_slow:
            return None
        self._current, frame = self._frames.popleft()
        if self._backlog:
            self._backlog -= 1
        return frame

    def mark_sent(self) -> None:
        """Record that the frame returned by :meth:`next` reached the socket."""
        if self._current > self.sent:
            self.sent = self._current

    def close(self) -> None:
        """Wake the writer loop so it ends."""
        self.closed = True
        self._ready.set()

    @property
    def depth(self) -> int:
        """Frames waiting to be written."""
        return len(self._frames)


class Channel:
    """One auction's subscribers and rendering context."""

    __slots__ = ("auction_id", "views", "subscribers", "head", "committed")

    def __init__(self, auction_id: str) -> None:
        self.auction_id = auction_id
        self.views = AuctionViews()
        self.subscribers: set[Subscriber] = set()
        #: The seq of the last committed event folded in.
        self.head = 0
        #: The auction folded from committed events only: what reads (HTTP state,
        #: heartbeats) show, so no one ever sees a fact that a failed commit could undo.
        #: The runner's own auction may be a batch ahead of it.
        self.committed = Auction()

    def _fold(self, event: Event) -> bool:
        if event.seq != self.head + 1:
            return False  # already folded (a replayed or re-published event)
        self.views.observe(event)
        self.committed.apply(event)
        self.head = event.seq
        return True

    def observe(self, events: list[Event]) -> None:
        """Fold committed events without sending them (recovery)."""
        for event in events:
            self._fold(event)

    def frame(self, event: Event, audience: Audience) -> str:
        """The event frame for ``audience``: the text of ``to_json(EventMessage(...))``."""
        data = self.views.render(event, audience)
        # Built as a plain dict in EventMessage's field order: to_json's
        # dataclasses.asdict deep-copies the rendered event first, which was the largest
        # single cost of publishing under load (bench service, storm profile).
        return _encode({"seq": event.seq, "server_time": event.at, "event": data, "type": "event"})

    def publish(self, events: list[Event]) -> None:
        """Send committed events to every subscriber. O(events × (audiences + subscribers))."""
        subscribers = self.subscribers
        for event in events:
            if not self._fold(event):
                continue
            if not subscribers:
                continue
            cache: dict[Any, str] = {}
            concerns = self.views.concerns(event)
            for subscriber in subscribers:
                audience = subscriber.audience
                if audience.privileged:
                    key: Any = "privileged"
                elif audience.role == "bidder" and audience.party == concerns:
                    key = audience
                else:
                    key = "public"
                text = cache.get(key)
                if text is None:
                    text = cache[key] = self.frame(event, audience)
                subscriber.push(event.seq, text)


class Hub:
    """Every auction's channel."""

    def __init__(self) -> None:
        self.channels: dict[str, Channel] = {}

    def channel(self, auction_id: str) -> Channel:
        """The channel of ``auction_id``, created on first use."""
        channel = self.channels.get(auction_id)
        if channel is None:
            channel = self.channels[auction_id] = Channel(auction_id)
        return channel

    def publish(self, auction_id: str, events: list[Event]) -> None:
        """The runner's publish callback."""
        self.channel(auction_id).publish(events)

    @property
    def sockets(self) -> int:
        """Connected subscribers, over all auctions."""
        return sum(len(channel.subscribers) for channel in self.channels.values())
