"""Fan-out of committed events to websocket subscribers, with bounded queues.

Each auction has a :class:`Channel`; each connection a :class:`Subscriber`. ``publish``
renders every event once per distinct audience (privileged, public, and the bidder it
concerns) and encodes it once as a complete websocket frame (:func:`wire`): a server's
frames are unmasked and Gavel negotiates no extension, so the bytes are the same for
every recipient. Each recipient then costs O(1): the frame is written straight to its
socket when nothing is queued before it and the socket keeps up (the session's *outlet*,
see :meth:`Subscriber.resume`), and queued otherwise. The session's writer task drains
the whole queue in one write per wake-up.

The queue is bounded. A subscriber whose queue is full is marked too slow and
:meth:`Subscriber.dropped` returns, so its session closes it with ``CLOSE_TOO_SLOW``
(even while its writer is stuck on a full socket); the auction and the other sockets
never wait for it. History replayed on resume does not count against the limit, which
bounds the lag behind the live stream.

Each channel keeps its most recent committed events (:attr:`Channel.RECENT`), so a
subscriber that resumes from a recent seq gets its history without reading the log.

``publish`` runs in the runner's task after the commit; it never awaits, and never raises
(the commit's commands are answered after it).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from api.auctions.views import REDACTED, AuctionViews, Audience
from api.live.flag import Flag
from contracts import messages as m
from engine import Auction, BidderRegistered, Event

__all__ = ["Channel", "Hub", "Outlet", "Subscriber", "unwire", "wire"]

log = logging.getLogger("gavel.hub")

# Who stands for each rendering class: every non-privileged audience sees an event as an
# observer does unless it is the concerned bidder; officers and auditors see the same.
_PUBLIC = Audience("observer")
_PRIVILEGED = Audience("officer")

# The encoder of contracts.messages.to_json (compact, UTF-8 kept), built once.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

#: How an event frame (:meth:`Channel.frame`) ends, after the event's members, and the
#: member a bidder's own events add last (see :meth:`Channel._own_frame`).
_TAIL = '},"type":"event"}'
_YOU = ',"you":true'

#: Tries to write one complete frame to the socket at once; ``False`` if it may not now
#: (the socket's buffer is above its high-water mark, another send is in progress, the
#: connection is closing), and the frame is then queued instead.
Outlet = Callable[[bytes], bool]


def wire(text: str) -> bytes:
    """``text`` as one unmasked, unfragmented RFC 6455 text frame (a server's frame).

    Total: never raises. A lone surrogate, which UTF-8 cannot encode, is written as its
    ``\\uXXXX`` escape, which in JSON text (where it can only stand inside a string)
    denotes the same string; the parsers refuse such strings on the way in, so this is
    the last guard for an answer to a command that has already been committed.
    O(len(text)). Only valid on a connection without extensions (no permessage-deflate).
    """
    try:
        payload = text.encode()
    except UnicodeEncodeError:
        payload = text.encode("utf-8", "backslashreplace")
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65536:
        return b"\x81\x7e" + size.to_bytes(2, "big") + payload
    return b"\x81\x7f" + size.to_bytes(8, "big") + payload


def unwire(frame: bytes) -> str:
    """The text of a frame made by :func:`wire`. O(len(frame))."""
    size = frame[1]
    start = 2 if size < 126 else 4 if size == 126 else 10
    return frame[start:].decode()


class Subscriber:
    """One connection's outbox: a bounded queue of complete frames, and an outlet.

    Frames are opaque to the subscriber (the session uses :func:`wire` bytes).
    """

    __slots__ = (
        "audience",
        "privileged",
        "own",
        "limit",
        "_frames",
        "_ready",
        "_held",
        "_outlet",
        "_writing",
        "too_slow",
        "closed",
        "last_seq",
        "sent",
        "_current",
        "_backlog",
        "_dropped",
        "awaiting",
        "on_drop",
        "on_ready",
    )

    def __init__(self, audience: Audience, since: int = 0, limit: int = 1000) -> None:
        self.audience = audience
        #: Rendering class, fixed for the connection: identities shown, and the party
        #: whose own events this socket sees as its own (bidders only).
        self.privileged = audience.privileged
        self.own = audience.party if audience.role == "bidder" else None
        self.limit = limit
        # A list, not a deque: a deque allocates its first block (760 bytes) up front,
        # and an idle socket's queue is empty (issue 16); :meth:`take` swaps it whole.
        self._frames: list[tuple[int, Any]] = []
        self._ready: asyncio.Event = Flag()
        # Live frames that arrive while the history is being read (see resume()).
        self._held: list[tuple[int, Any]] | None = []
        self._outlet: Outlet | None = None
        # The writer holds frames it took from the queue and has not written yet.
        self._writing = False
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
        self._dropped: asyncio.Event = Flag()
        #: Commands of this connection still running, whose answer is not queued yet.
        self.awaiting = 0
        #: Called once when the queue overflows (the session ends the connection): the
        #: session's alternative to a task awaiting :meth:`dropped`.
        self.on_drop: Callable[[], object] | None = None
        #: Called whenever frames were queued (the queue was empty, or a write is in
        #: progress): a session that starts its writer only then sets it (no task
        #: waits on an idle socket, issue 16); others await :meth:`take`.
        self.on_ready: Callable[[], object] | None = None

    @property
    def live(self) -> bool:
        """Past :meth:`resume`: frames now go to the socket (or its queue)."""
        return self._held is None

    def resume(self, history: list[tuple[int, Any]], outlet: Outlet | None = None) -> None:
        """Queue the history read from the log, then the live frames held meanwhile.

        Call order for a gapless, duplicate-free resume: create the subscriber (it holds
        live frames), add it to the channel, send what must come first (``welcome``),
        read the log after ``since``, then call ``resume`` with those frames. Every seq
        arrives exactly once, in order. From then on a frame goes straight to
        ``outlet`` when the queue is empty and no write is in progress; otherwise (or
        without an outlet) it is queued for the writer (:meth:`take`).
        """
        held, self._held = self._held or [], None
        for seq, frame in history:
            if seq > self.last_seq and not self.closed:
                self._frames.append((seq, frame))
                self.last_seq = seq
        self._backlog = len(self._frames)
        if self._frames:
            self._wake()
        for seq, frame in held:
            if seq:
                self.push(seq, frame)
            else:
                self.send_direct(frame)
        self._outlet = outlet

    def push(self, seq: int, frame: Any) -> None:
        """Send or queue a frame for ``seq``; frames at or below ``last_seq`` are dropped
        (dedup). O(1)."""
        if self._held is not None:
            self._held.append((seq, frame))
            return
        if self.closed or self.too_slow or seq <= self.last_seq:
            return
        self.last_seq = seq
        outlet = self._outlet
        if outlet is not None and not self._frames and not self._writing and outlet(frame):
            self.sent = seq
            return
        if len(self._frames) - self._backlog >= self.limit:
            self._overflow()
        else:
            self._frames.append((seq, frame))
        self._wake()

    def push_many(self, frames: list[tuple[int, bytes]], joined: bytes | None = None) -> None:
        """:meth:`push` each ``(seq, frame)`` (seqs ascending); what goes straight to the
        outlet goes as one write (``joined``, if given, is all the frames joined).
        O(frames)."""
        if self._held is None and not self.closed and not self.too_slow:
            outlet = self._outlet
            if outlet is not None and not self._frames and not self._writing:
                last = self.last_seq
                if joined is None or frames[0][0] <= last:
                    joined = b"".join([frame for seq, frame in frames if seq > last])
                if joined and outlet(joined):
                    self.last_seq = self.sent = frames[-1][0]
                    return
        for seq, frame in frames:
            self.push(seq, frame)

    def send_direct(self, frame: Any) -> None:
        """Send or queue a frame that is not an event (ack, reject, heartbeat,
        checkpoint); never dropped as a duplicate. Before :meth:`resume` it is held with
        the live frames, so it follows the history it may refer to. O(1)."""
        if self.closed or self.too_slow:
            return
        if self._held is not None:
            self._held.append((0, frame))
            return
        outlet = self._outlet
        if outlet is not None and not self._frames and not self._writing and outlet(frame):
            return
        if len(self._frames) - self._backlog >= self.limit:
            self._overflow()
        else:
            self._frames.append((0, frame))
        self._wake()

    def _wake(self) -> None:
        self._ready.set()
        if self.on_ready is not None and not self.too_slow:
            self.on_ready()

    def drop(self) -> None:
        """Send nothing more and end the session as :attr:`too_slow` (closed with
        ``CLOSE_TOO_SLOW``): the client resumes from the last seq it got. O(1)."""
        self._overflow()

    def _overflow(self) -> None:
        first = not self.too_slow
        self.too_slow = True
        self._frames.clear()
        self._backlog = 0
        self._dropped.set()
        if first and self.on_drop is not None:
            self.on_drop()

    async def dropped(self) -> None:
        """Return once the queue has overflowed (the connection is too slow).

        The writer loop may be stuck in a send to a peer that stopped reading, so it
        cannot notice by itself; a session awaits this alongside it, or sets
        :attr:`on_drop` (no task).
        """
        await self._dropped.wait()

    async def _wait(self) -> bool:
        while not self._frames:
            if self.too_slow or self.closed:
                return False
            self._ready.clear()
            await self._ready.wait()
        return not self.too_slow

    async def next(self) -> Any | None:
        """The next frame, waiting if none; ``None`` once too slow or closed.

        Call :meth:`mark_sent` once it is written. O(queued frames) (the queue is a
        list; the sessions' writers use :meth:`take`).
        """
        if not await self._wait():
            return None
        self._current, frame = self._frames.pop(0)
        if self._backlog:
            self._backlog -= 1
        self._writing = True
        return frame

    async def take(self) -> list[Any] | None:
        """Every queued frame at once, waiting if none; ``None`` once too slow or closed.

        O(frames). Until :meth:`mark_sent`, new frames are queued behind these (never
        sent through the outlet), so the order on the socket is the order of the calls.
        """
        if not await self._wait():
            return None
        return self.take_now()

    def take_now(self) -> list[Any] | None:
        """Every queued frame at once, without waiting: ``None`` if there is none, or
        once too slow or closed. O(frames). Then as :meth:`take`."""
        if not self._frames or self.too_slow or self.closed:
            return None
        batch = self._frames
        self._frames = []
        self._backlog = 0
        self._current = max((seq for seq, _ in batch), default=0)
        self._writing = True
        return [frame for _, frame in batch]

    def mark_sent(self) -> None:
        """Record that the frames returned by :meth:`next` or :meth:`take` reached the
        socket."""
        if self._current > self.sent:
            self.sent = self._current
        self._writing = False

    def close(self) -> None:
        """Wake the writer loop so it ends; nothing is sent any more."""
        self.closed = True
        self._outlet = None
        self._ready.set()

    @property
    def direct(self) -> bool:
        """Past :meth:`resume` with an outlet: frames are :func:`wire` bytes written
        straight to the socket (what the session's writer writes them as)."""
        return self._outlet is not None

    @property
    def depth(self) -> int:
        """Frames waiting to be written."""
        return len(self._frames)

    @property
    def flushed(self) -> bool:
        """Nothing left to write: no command awaits its answer, the queue is empty and
        no write is in progress; or nothing will be written any more (closed or too
        slow)."""
        return self.closed or self.too_slow or not (self.awaiting or self._frames or self._writing)


class Channel:
    """One auction's subscribers, rendering context and recent committed events."""

    #: Committed events kept in memory for resumes (the log is read for older ones): a
    #: reconnect near the head and a page opened early in an auction read no storage,
    #: while memory stays O(RECENT) per auction.
    RECENT = 256

    __slots__ = ("auction_id", "views", "subscribers", "head", "committed", "recent")

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
        #: The last committed events, consecutive seqs ending at ``head``.
        self.recent: deque[Event] = deque(maxlen=self.RECENT)

    def _fold(self, event: Event) -> bool:
        if event.seq != self.head + 1:
            return False  # already folded (a replayed or re-published event)
        self.views.observe(event)
        self.committed.apply(event)
        self.head = event.seq
        self.recent.append(event)
        return True

    def restore(self, auction: Auction) -> None:
        """Start from ``auction``, restored from a snapshot at its ``seq``, instead of
        folding the events up to it; the channel must be empty (``head == 0``). The
        recent events start empty, so a resume from before ``seq`` reads the log.
        O(bidders)."""
        if self.head:
            raise ValueError(f"channel {self.auction_id!r} already folded seq {self.head}")
        self.views.restore(auction)
        self.committed = auction
        self.head = auction.seq

    def observe(self, events: list[Event]) -> None:
        """Fold committed events without sending them (recovery)."""
        for event in events:
            self._fold(event)

    def since(self, after: int) -> list[Event] | None:
        """The committed events with ``seq > after`` if all are still in memory, else
        ``None`` (read the log). O(returned events)."""
        recent = self.recent
        if after >= self.head:
            return []
        if not recent or recent[0].seq > after + 1:
            return None
        return list(itertools.islice(recent, after + 1 - recent[0].seq, None))

    def frame(self, event: Event, audience: Audience) -> str:
        """The event frame for ``audience``: the text of ``to_json(EventMessage(...))``."""
        return self._frame_of(event, self.views.render(event, audience))

    @staticmethod
    def _frame_of(event: Event, data: dict[str, Any]) -> str:
        # Built as a plain dict in EventMessage's field order: to_json's
        # dataclasses.asdict deep-copies the rendered event first, which was the largest
        # single cost of publishing under load (bench service, storm profile).
        return _encode({"seq": event.seq, "server_time": event.at, "event": data, "type": "event"})

    def _own_frame(self, event: Event, party: str, shown: dict[str, Any], public: str) -> str:
        """The frame of ``event`` for the bidder ``party`` it concerns, given the public's
        rendering ``shown`` and its frame ``public``: :meth:`frame` for that bidder.

        Where the public sees the event (it is not redacted) and it is no registration
        (whose initial offer the public may not see), the bidder's rendering is the
        public's with ``"you": true`` added last (:meth:`AuctionViews.render`), so its
        frame is the public frame with that member spliced in before the event's closing
        brace: no second rendering and encoding of the event (about a tenth of the
        server's time in the storm, where every event is a bid concerning a subscriber).
        ``tests/api/live/test_hub.py`` checks the splice against :meth:`frame` for every
        event of every format. O(size of the frame)."""
        if shown is REDACTED or type(event) is BidderRegistered or not public.endswith(_TAIL):
            return self.frame(event, Audience("bidder", party))
        return public[: -len(_TAIL)] + _YOU + _TAIL

    def publish(self, events: list[Event]) -> None:
        """Send committed events to every subscriber (:meth:`_send`). Never raises.

        It runs in the runner's task between the commit and the answers to its commands,
        so an exception here would leave committed commands unanswered (and stop the
        runner). If sending fails (a bug in rendering, say), it is logged, the events
        are still folded, so reads and heartbeats stay right, and every subscriber of
        the channel is dropped (:meth:`Subscriber.drop`): each resumes from the last seq
        it got, so none misses one.
        """
        try:
            self._send(events)
        except Exception:  # noqa: BLE001 - see above
            where = {"auction": self.auction_id}
            log.exception("publishing failed; dropping the auction's sockets", extra=where)
            try:
                self.observe(events)
            except Exception:  # noqa: BLE001 - the views are broken: reads may lag
                log.exception("folding committed events failed", extra=where)
            for subscriber in list(self.subscribers):
                subscriber.drop()

    def _send(self, events: list[Event]) -> None:
        """Fold committed events and send them to every subscriber.

        Each event is rendered at most three times, right after its own fold (the views
        must not see later events): for the privileged, for the public, and for the
        bidder it concerns. A batch of several events (from a runner that had a backlog)
        goes to each socket as one write of the frames joined once per rendering, so
        under load the number of writes follows the number of commits, not of events.
        O(events × size of an event + subscribers × (1 + own events)).
        """
        subscribers = self.subscribers
        if not subscribers:
            for event in events:
                self._fold(event)
            return
        privileged = public = False
        owners: set[str] = set()
        for subscriber in subscribers:
            if subscriber.privileged:
                privileged = True
            else:
                public = True
                if subscriber.own is not None:
                    owners.add(subscriber.own)
        rendered: list[tuple[int, bytes, bytes, str | None, bytes]] = []
        for event in events:
            if not self._fold(event):
                continue
            concerns = self.views.concerns(event)
            shown = self.views.render(event, _PUBLIC) if public else REDACTED
            public_text = self._frame_of(event, shown) if public else ""
            rendered.append(
                (
                    event.seq,
                    wire(self.frame(event, _PRIVILEGED)) if privileged else b"",
                    wire(public_text) if public else b"",
                    concerns,
                    wire(self._own_frame(event, concerns, shown, public_text))
                    if concerns is not None and concerns in owners
                    else b"",
                )
            )
        if len(rendered) == 1:
            seq, for_privileged, for_public, concerns, for_owner = rendered[0]
            for subscriber in subscribers:
                if subscriber.privileged:
                    subscriber.push(seq, for_privileged)
                elif concerns is not None and subscriber.own == concerns:
                    subscriber.push(seq, for_owner)
                else:
                    subscriber.push(seq, for_public)
        elif rendered:
            concerned = {item[3] for item in rendered}
            as_privileged = [(item[0], item[1]) for item in rendered]
            as_public = [(item[0], item[2]) for item in rendered]
            joined_privileged = b"".join([item[1] for item in rendered])
            joined_public = b"".join([item[2] for item in rendered])
            for subscriber in subscribers:
                own = subscriber.own
                if subscriber.privileged:
                    subscriber.push_many(as_privileged, joined_privileged)
                elif own is not None and own in concerned:
                    subscriber.push_many(
                        [(seq, b if c == own else a) for seq, _, a, c, b in rendered]
                    )
                else:
                    subscriber.push_many(as_public, joined_public)

    def checkpoint(self, note: str, size: int, root: str, now: int) -> None:
        """Send a ``checkpoint`` message (``root`` in hex, ``now`` the server time) to
        every subscriber, if there are any. O(subscribers)."""
        if self.subscribers:
            message = m.Checkpoint(self.head, now, size, root, note)
            self.broadcast(wire(m.to_json(message)))

    def broadcast(self, frame: bytes) -> None:
        """Send a frame that is not an event (a checkpoint) to every subscriber, in
        whatever role. O(subscribers)."""
        for subscriber in self.subscribers:
            subscriber.send_direct(frame)


class Hub:
    """Every auction's channel; an :class:`api.auctions.ports.Publisher` for the service."""

    def __init__(self) -> None:
        self.channels: dict[str, Channel] = {}
        #: The heartbeat task of the sessions (one for every socket; see api.live.ws).
        self.beating: asyncio.Task[None] | None = None

    def channel(self, auction_id: str) -> Channel:
        """The channel of ``auction_id``, created on first use."""
        channel = self.channels.get(auction_id)
        if channel is None:
            channel = self.channels[auction_id] = Channel(auction_id)
        return channel

    def publish(self, auction_id: str, events: list[Event]) -> None:
        """The runner's publish callback."""
        self.channel(auction_id).publish(events)

    def release(self, auction_id: str) -> None:
        """Forget ``auction_id``'s channel if nobody is subscribed to it (its auction
        left memory; the next use folds it again from the log). O(1)."""
        channel = self.channels.get(auction_id)
        if channel is not None and not channel.subscribers:
            del self.channels[auction_id]

    async def flushed(self, deadline: float) -> bool:
        """Wait until every subscriber has written what it owes (see
        :attr:`Subscriber.flushed`) or ``time.monotonic()`` passes ``deadline``;
        ``True`` if all did. Polls every 10 ms; O(subscribers) per poll."""
        while True:
            if all(
                subscriber.flushed
                for channel in self.channels.values()
                for subscriber in channel.subscribers
            ):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)

    @property
    def sockets(self) -> int:
        """Connected subscribers, over all auctions."""
        return sum(len(channel.subscribers) for channel in self.channels.values())
