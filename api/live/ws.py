"""The websocket session: resume from a seq, stream live, take bids on the same socket.

Call order inside the Sanic handler, after the origin and the token were checked:

1. make ``ws.recv()`` refuse text frames that are not UTF-8 (:func:`read_strictly`), then
   read the first frame, which must be ``subscribe`` (within ``SUBSCRIBE_TIMEOUT_S``);
2. register a :class:`~api.live.hub.Subscriber` (it holds live frames), send ``welcome``,
   take the events after ``since`` (from the channel's memory when it still has them,
   else from the log) and :meth:`~api.live.hub.Subscriber.resume` with them: every event
   after ``since`` arrives exactly once, in order, then live ones;
3. the reader runs until the socket closes (bids in, each answered by ``ack`` or
   ``reject`` once durable; at most ``MAX_IN_FLIGHT`` at a time per socket; replay
   requests go to the connection's :class:`api.live.replay.Replayer`); frames go
   straight to the socket, and a writer task (queued frames out, all of them in one
   socket write per round) runs only while some are queued. A subscriber whose queue
   overflows is closed with ``CLOSE_TOO_SLOW`` at once, even while its writer is stuck
   on a full socket. A text frame that is not UTF-8 ends the
   reading: the requests read before it are answered, then the socket is closed with
   ``CLOSE_INVALID_TEXT`` (1007); nothing sent after it is run.

Memory per idle socket (issue 16, docs/benchmarks.md): an idle session is one task (the
reader, waiting in :func:`~api.live.sanic_ws.receive`) beside Sanic's connection, handler
and auto-close tasks; keep-alive pings come from one :class:`~api.live.sanic_ws.Pinger`
for all sockets and heartbeats from one task for the hub; nothing is kept that the
welcome and the resume needed. Keep it so: every task, buffer or event added per socket
is multiplied by the thousands of sockets a server holds.

Every command read is answered exactly once: the answer to a committed command is built
under a guard that falls back to a plain ack (:func:`_plain_answer`), and whatever
still fails in a command's task is logged by its done callback, never left to asyncio's
"Task exception was never retrieved".

Heartbeats (server time and next deadline every ``heartbeat_s``) come from one task for
the whole hub: each beat encodes one frame per auction and hands the same bytes to every
socket of that auction; the auctions' beats are spread evenly over the period.

Frames are written as complete websocket frames (:func:`api.live.hub.wire`) straight to the
connection's transport (:mod:`api.live.sanic_ws`, the one module that touches Sanic's
internals), which is what Sanic's ``ws.send`` does after framing each one:
the bytes of a server frame do not depend on the recipient, so they are framed once.
Every such write happens under the same rules as ``ws.send``: connection open, Sanic's
send lock free (or held by our writer), and the transport below its high-water mark
(otherwise the frame waits in the subscriber's bounded queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sanic.exceptions import WebsocketClosed
from websockets.exceptions import ConnectionClosed

from api.auctions.outcomes import new_command_id, outcome
from api.auctions.runner import (
    OutcomeUnknown,
    RunnerError,
    RunnerStopped,
    StorageUnavailable,
)
from api.auctions.views import Audience
from api.live.hub import Channel, Subscriber, unwire, wire
from api.live.replay import Replayer
from api.live.sanic_ws import (
    InvalidText,
    abandon,
    finish_closing,
    going_away,
    lighten,
    outlet_of,
    read_strictly,
    receive,
    write_raw,
)
from api.live.source import SessionSource
from contracts import messages as m
from contracts.decimal import PlainDecimalError, parse_plain
from engine import (
    AcceptPrice,
    BidAccepted,
    Command,
    CommandRejected,
    Event,
    PassTurn,
    PlaceBid,
    SetProxy,
    WithdrawBid,
)

# Besides the session's own names, the handshake's checks (api.live.handshake) and the
# socket helpers (api.live.sanic_ws) are re-exported for the modules importing them here.
__all__ = [
    "ANSWER_WAIT_S",
    "CLOSE_WAIT_S",
    "MAX_IN_FLIGHT",
    "READ_ONLY",
    "SHUTDOWN_TIMEOUT_S",
    "SUBSCRIBE_TIMEOUT_S",
    "ReadOnly",
    "close_going_away",
    "leave",
    "serve_session",
    "until_first_done",
    "write_frames",
]

# The encoder of contracts.messages.to_json (compact, UTF-8 kept), built once.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

log = logging.getLogger("gavel.ws")

SUBSCRIBE_TIMEOUT_S = 10.0
MAX_IN_FLIGHT = 16
#: The reject code of a command sent to a read-only edge (:mod:`api.live.edge`): bid on the core.
READ_ONLY = "read_only"
#: How long a socket closed for a frame that is not UTF-8 waits for the answers it owes
#: (commands still committing) before its close frame goes anyway.
ANSWER_WAIT_S = 10.0


async def _close_invalid_text(ws: Any) -> None:
    """Close with 1007 now, then read (and drop) until the peer's close frame, as a
    shutdown does (:func:`going_away`): closing the TCP connection on unread input would
    reset it and make the peer's kernel drop our close frame."""
    going_away(ws, m.CLOSE_INVALID_TEXT, "invalid UTF-8")
    await finish_closing(ws, CLOSE_WAIT_S)


class ReadOnly(RunnerError):
    """What a read-only service's ``submit`` raises (an edge, :mod:`api.live.edge`): the
    command is answered with a ``reject`` of code :data:`READ_ONLY` and changes nothing."""


async def until_first_done(tasks: list[asyncio.Task[Any]]) -> None:
    """Wait until one of ``tasks`` ends, then cancel the others and wait for them all
    (their errors are theirs: a connection's loops end by closing it)."""
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


async def serve_session(
    ws: Any,
    source: SessionSource,
    auction_id: str,
    audience: Audience,
    *,
    queue_limit: int,
    heartbeat_s: float,
    on_result: Callable[[bool, str | None], None] = lambda accepted, reason: None,
    on_slow: Callable[[], None] = lambda: None,
) -> None:
    """Run one connection to its end. ``ws`` is a Sanic/websockets connection; ``source``
    the node's (:class:`api.live.source.SessionSource`). Once it ends, whatever ended
    it, frames still arriving are dropped and their handling cancelled (:func:`abandon`)."""
    read_strictly(ws)
    lighten(ws)
    try:
        await _serve(
            ws,
            source,
            auction_id,
            audience,
            queue_limit=queue_limit,
            heartbeat_s=heartbeat_s,
            on_result=on_result,
            on_slow=on_slow,
        )
    finally:
        abandon(ws)


async def _serve(
    ws: Any,
    source: SessionSource,
    auction_id: str,
    audience: Audience,
    *,
    queue_limit: int,
    heartbeat_s: float,
    on_result: Callable[[bool, str | None], None],
    on_slow: Callable[[], None],
) -> None:
    """:func:`serve_session`'s body, between :func:`read_strictly` and :func:`abandon`."""
    try:
        first = await asyncio.wait_for(ws.recv(), SUBSCRIBE_TIMEOUT_S)
        hello = m.from_json(first) if isinstance(first, str) else None
    except InvalidText:
        await _close_invalid_text(ws)
        return
    except (TimeoutError, m.MessageError) as error:
        detail = getattr(error, "detail", "expected a subscribe message first")
        await ws.close(m.CLOSE_PROTOCOL_ERROR, detail[:120])
        return
    if not isinstance(hello, m.Subscribe) or hello.since < 0:
        await ws.close(m.CLOSE_PROTOCOL_ERROR, "the first message must be subscribe")
        return
    try:
        known = await source.prepare(auction_id)
    except RunnerStopped:
        await ws.close(m.CLOSE_GOING_AWAY, "server shutting down")
        return
    except Exception as error:  # noqa: BLE001 - the log could not be read: not the client's fault
        await _storage_unavailable(ws, auction_id, error)
        return
    if not known:
        await ws.close(m.CLOSE_PROTOCOL_ERROR, "unknown auction")
        return
    channel = source.hub.channel(auction_id)
    if hello.since > channel.head:  # an edge may lag the log
        try:
            await source.catch_up(auction_id)
        except Exception as error:  # noqa: BLE001 - as above
            await _storage_unavailable(ws, auction_id, error)
            return
    if hello.since > channel.head:
        # Nobody can have seen a seq beyond the log; streaming would silently drop every
        # event up to ``since`` (the dedup), so say so instead.
        await ws.close(m.CLOSE_PROTOCOL_ERROR, f"since is beyond the log (seq {channel.head})")
        return
    subscriber = Subscriber(audience, since=hello.since, limit=queue_limit)
    writer = _Writer(ws, subscriber)
    channel.subscribers.add(subscriber)
    since = hello.since
    del first, hello  # an idle socket keeps nothing it no longer needs (issue 16)
    try:
        if not await _welcome(ws, source, channel, auction_id, audience, since, subscriber):
            return
        _beat_all(source, heartbeat_s)
        reader = asyncio.create_task(_read(ws, source, auction_id, audience, subscriber, on_result))
        # No task waits on an idle socket but the reader: frames go straight to the
        # socket (the outlet), and a writer runs only while some are queued (issue 16).
        # An overflow ends the session even while that writer is stuck on a full socket.
        subscriber.on_drop = reader.cancel
        writer.start(reader.cancel)
        session = asyncio.current_task()
        try:
            await reader  # not until_first_done's asyncio.wait: 0.6 kB less per socket
        except asyncio.CancelledError:
            if session is None or session.cancelling():
                raise  # the session itself is cancelled (the reader is, with it)
        if subscriber.too_slow:
            # The writer may have been stuck in a send to a peer that stopped reading
            # (cancelled above); ``close()`` would wait for the same full buffer. So the
            # close frame is queued behind the unread data without waiting, and the
            # transport is closed (or aborted after Sanic's close timeout).
            on_slow()
            ws.end_connection(m.CLOSE_TOO_SLOW, f"too slow: resume from seq {subscriber.sent}")
    finally:
        subscriber.on_drop = subscriber.on_ready = None
        channel.subscribers.discard(subscriber)
        subscriber.close()
        await writer.stop()


async def _welcome(
    ws: Any,
    source: SessionSource,
    channel: Channel,
    auction_id: str,
    audience: Audience,
    since: int,
    subscriber: Subscriber,
) -> bool:
    """Send ``welcome``, then resume ``subscriber`` with the frames after ``since`` (from
    the channel's memory, else the log) and the socket's outlet. ``False`` (the socket
    closed with ``storage_unavailable``) when the log could not be read. A function of
    its own so that the welcome and the history frames are freed once it returns: a
    session's frame lives as long as its socket (issue 16)."""
    you = channel.views.labels.get(audience.party or "") if audience.role == "bidder" else None
    welcome = m.Welcome(m.PROTOCOL, auction_id, audience.role, you, channel.head, source.clock())
    await ws.send(m.to_json(welcome))
    recent = channel.since(since)
    if recent is not None:
        frames = [(event.seq, wire(channel.frame(event, audience))) for event in recent]
    else:
        try:
            frames = await _history(source, channel, auction_id, audience, since)
        except Exception as error:  # noqa: BLE001 - as above
            await _storage_unavailable(ws, auction_id, error)
            return False
    subscriber.resume(frames, outlet_of(ws))
    return True


#: Events read, decoded and rendered per step of a long resume (then the loop runs).
HISTORY_PAGE = 500


async def _history(
    service: SessionSource, channel: Channel, auction_id: str, audience: Audience, since: int
) -> list[tuple[int, bytes]]:
    """The frames of the committed events after ``since``, read from the log a page at
    a time, yielding to the event loop between pages: a resume from far back never
    stalls the auctions and the other sockets. Only events the channel has folded
    (``seq <= head``) are taken: later ones are committed but not yet published, so the
    views cannot render them yet, and they reach the subscriber as live frames (held
    until :meth:`Subscriber.resume`). O(events after ``since``)."""
    frames: list[tuple[int, bytes]] = []
    after = since
    while after < channel.head:
        page = await service.history(auction_id, after, HISTORY_PAGE)
        head = channel.head
        frames += [(ev.seq, wire(channel.frame(ev, audience))) for ev in page if ev.seq <= head]
        if len(page) < HISTORY_PAGE or page[-1].seq >= head:
            break
        after = page[-1].seq
        await asyncio.sleep(0)
    return frames


async def _storage_unavailable(ws: Any, auction_id: str, error: Exception) -> None:
    log.error(
        "subscribe failed: the log could not be read",
        extra={"auction": auction_id, "error": repr(error)},
    )
    await ws.close(m.CLOSE_TRY_AGAIN, "storage_unavailable")


#: How long a shutdown waits for its sockets: their answers written, their peers'
#: close frames read (core and edges).
CLOSE_WAIT_S = 2.0
#: How long a whole graceful shutdown may take before the process stops anyway.
SHUTDOWN_TIMEOUT_S = 15.0


async def close_going_away(sockets: set[Any], deadline: float) -> None:
    """Shutdown: send every socket in ``sockets`` the 1001 close frame
    (:func:`going_away`), then wait until their sessions have left ``sockets`` (see
    :func:`leave`) or ``time.monotonic()`` passes ``deadline``; a peer that never
    answers is left to Sanic's close timeout."""
    for ws in list(sockets):
        # Not ``await ws.close()``: it waits for room in the socket's buffer, which a
        # peer that stopped reading never makes. The close frame is queued behind what
        # the socket still owes, without waiting.
        with contextlib.suppress(Exception):
            going_away(ws, m.CLOSE_GOING_AWAY, "server shutting down")
    while sockets and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


async def leave(ws: Any, sockets: set[Any], *, closing: bool, timeout_s: float) -> None:
    """The end of a websocket route: during shutdown (``closing``) wait for the peer's
    close frame (:func:`finish_closing`), then forget ``ws`` (``sockets``: the ones the
    shutdown waits for), whatever happens."""
    try:
        if closing:
            await finish_closing(ws, timeout_s)
    finally:
        sockets.discard(ws)


class _Writer:
    """A session's writer, run only while frames are queued: :meth:`start` makes
    ``subscriber`` call :meth:`wake` whenever it queues frames, which starts a task
    writing them (all of them in one write per round, :func:`write_frames`'s way) until
    the queue is empty. Once the connection is no longer open (or a write fails),
    ``on_closed`` is called: the session ends. Call order: ``start`` once the
    subscriber resumed (what is queued by then is written at once), :meth:`stop` at the
    session's end."""

    __slots__ = ("ws", "subscriber", "task", "on_closed")

    def __init__(self, ws: Any, subscriber: Subscriber) -> None:
        self.ws = ws
        self.subscriber = subscriber
        self.task: asyncio.Task[None] | None = None
        self.on_closed: Callable[[], object] = _nothing

    def start(self, on_closed: Callable[[], object]) -> None:
        """Write what is queued now and whatever is queued later."""
        self.on_closed = on_closed
        self.subscriber.on_ready = self.wake
        self.wake()

    def wake(self) -> None:
        """Start the writing task unless it runs. O(1)."""
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            await self._write_queued()
        finally:
            if self.task is asyncio.current_task():
                self.task = None  # a finished task is 0.9 kB kept for nothing (issue 16)

    async def _write_queued(self) -> None:
        ws, subscriber = self.ws, self.subscriber
        while (frames := subscriber.take_now()) is not None:
            try:
                if subscriber.direct:
                    # What ws.send does, for many frames in one write (api.live.sanic_ws).
                    written = await write_raw(ws, b"".join(frames))
                else:
                    written = await _send_each(ws, frames)
            except Exception:  # noqa: BLE001 - the connection failed: the session ends
                written = False
            if not written:
                self.on_closed()
                return
            subscriber.mark_sent()
            del frames

    async def stop(self) -> None:
        """Cancel the writing task, if it runs, and wait for it."""
        task, self.task = self.task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


async def _send_each(ws: Any, frames: list[Any]) -> bool:
    """Send each of ``frames`` (:func:`~api.live.hub.wire` bytes) with ``ws.send``;
    ``False`` once the connection is closed."""
    try:
        for frame in frames:
            await ws.send(unwire(frame))
    except (ConnectionClosed, WebsocketClosed):
        return False
    return True


def _nothing() -> None:
    """Nothing to do."""


async def write_frames(ws: Any, subscriber: Subscriber, *, raw: bool) -> None:
    """The writer loop of a connection: every queued frame, in one write per wake-up.

    ``raw`` (the connection has an :func:`outlet_of`): the frames are :func:`~api.live.hub.wire`
    bytes, written under Sanic's send lock; else each is sent with ``ws.send``. Returns
    when the subscriber is closed or too slow, or the connection is no longer open.
    """
    send = ws.send
    while True:
        frames = await subscriber.take()
        if frames is None:
            return
        if raw:
            # What ws.send does, for many frames in one write (api.live.sanic_ws).
            if not await write_raw(ws, b"".join(frames)):
                return
        else:
            for frame in frames:
                await send(unwire(frame))
        subscriber.mark_sent()
        del frames  # not kept while waiting for the next ones (issue 16)


def _beat_all(service: SessionSource, every: float) -> None:
    """Start the hub's heartbeat task unless it runs."""
    hub = service.hub
    if hub.beating is None or hub.beating.done():
        hub.beating = asyncio.create_task(_beat(service, every))


async def _beat(service: SessionSource, every: float) -> None:
    # One frame per auction and beat, the same bytes for each of its sockets; ends when
    # no socket is left (the next session starts it again). The auctions' beats are
    # spread over the period: beating 6,000 sockets at once stalled the loop for tens of
    # milliseconds every period, which showed in the crowd benchmark's p99.
    hub = service.hub
    await asyncio.sleep(every)
    while hub.sockets and not service.closing:
        channels = [channel for channel in hub.channels.values() if channel.subscribers]
        pause = every / max(1, len(channels))
        for channel in channels:
            deadline = channel.committed.next_deadline()
            frame = wire(m.to_json(m.Heartbeat(channel.head, service.clock(), deadline)))
            for subscriber in list(channel.subscribers):
                if subscriber.live:
                    subscriber.send_direct(frame)
            await asyncio.sleep(pause)
        if not channels:
            await asyncio.sleep(every)


async def _read(
    ws: Any,
    service: SessionSource,
    auction_id: str,
    audience: Audience,
    subscriber: Subscriber,
    on_result: Callable[[bool, str | None], None],
) -> None:
    # The commands' bookkeeping is made on the first command (most sockets only watch:
    # issue 16), as the replayer is on the first replay request (api.live.replay).
    in_flight: asyncio.Semaphore | None = None
    pending: set[asyncio.Task[None]] | None = None
    answered: Callable[[asyncio.Task[None]], None] | None = None
    clock = service.clock
    channel = service.hub.channel(auction_id)
    replayer: Replayer | None = None
    try:
        replay_types = m.REPLAY_MESSAGES
        while True:
            try:
                raw = await receive(ws)
            except InvalidText:
                if replayer is not None:
                    replayer.stop()
                await _until_answered(subscriber, ANSWER_WAIT_S)
                await _close_invalid_text(ws)
                return
            if raw is None:
                return
            if type(raw) is not str:
                frame = m.ErrorMessage("binary_frame", _BINARY, channel.head, clock())
                subscriber.send_direct(_wired(frame))
                continue
            try:
                message = m.from_json(raw)
            except m.MessageError as error:
                frame = m.ErrorMessage(error.code, error.detail, channel.head, clock())
                subscriber.send_direct(_wired(frame))
                continue
            if isinstance(message, m.Subscribe):
                frame = m.ErrorMessage(
                    "already_subscribed", "subscribe once", channel.head, clock()
                )
                subscriber.send_direct(_wired(frame))
                continue
            if type(message) in replay_types:
                if replayer is None:
                    replayer = Replayer(service, auction_id, audience, subscriber)
                await replayer.handle(message)
                continue
            request_id = message.request_id
            if audience.role != "bidder" or audience.party is None:
                subscriber.send_direct(
                    _wired(
                        m.Reject(request_id, "forbidden", "only bidders bid", channel.head, clock())
                    )
                )
                continue
            try:
                make, command_id = _factory(message, audience.party)
            except PlainDecimalError as error:
                # The code an HTTP body with that amount gets; the detail names the member.
                reject = m.Reject(request_id, "invalid_field", error.detail, channel.head, clock())
                subscriber.send_direct(_wired(reject))
                continue
            if in_flight is None or pending is None or answered is None:
                in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
                pending = set()
                answered = functools.partial(_answered, in_flight, subscriber, auction_id)
            await in_flight.acquire()
            subscriber.awaiting += 1  # until _submit has queued its answer
            task = asyncio.create_task(
                _submit(
                    service,
                    auction_id,
                    audience,
                    subscriber,
                    request_id,
                    make,
                    command_id,
                    on_result,
                )
            )
            pending.add(task)
            task.add_done_callback(pending.discard)
            task.add_done_callback(answered)
    except (ConnectionClosed, WebsocketClosed):
        return  # the peer went away
    except Exception:  # noqa: BLE001 - a bug: say so, in the log and to the peer
        log.exception("the websocket reader failed", extra={"auction": auction_id})
        going_away(ws, _CLOSE_INTERNAL_ERROR, "internal error")
    finally:
        if replayer is not None:
            replayer.stop()


_BINARY = "frames are JSON text; binary frames are not read"
#: The standard "internal error": the server could not go on with this socket.
_CLOSE_INTERNAL_ERROR = 1011


async def _until_answered(subscriber: Subscriber, timeout_s: float) -> None:
    """Wait until ``subscriber`` owes nothing (:attr:`Subscriber.flushed`), at most
    ``timeout_s``. Polls every 10 ms."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not subscriber.flushed and loop.time() < deadline:
        await asyncio.sleep(0.01)


def _answered(
    in_flight: asyncio.Semaphore, subscriber: Subscriber, auction_id: str, task: asyncio.Task[None]
) -> None:
    """A command of the socket has queued its answer (see :attr:`Subscriber.flushed`), or
    failed to: then it is logged here, not left to "Task exception was never retrieved"."""
    in_flight.release()
    subscriber.awaiting -= 1
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error(
            "a websocket command was not answered", exc_info=error, extra={"auction": auction_id}
        )


async def _submit(
    service: SessionSource,
    auction_id: str,
    audience: Audience,
    subscriber: Subscriber,
    request_id: str,
    make: Callable[[int], Command],
    command_id: str,
    on_result: Callable[[bool, str | None], None],
) -> None:
    """Run a bidder's command and queue its one answer: an ack or a typed reject."""
    channel = service.hub.channel(auction_id)
    try:
        events = await service.submit(auction_id, make)
    except Exception as error:  # noqa: BLE001 - every request gets its answer
        detail = str(error)
        if isinstance(error, OutcomeUnknown):
            # Not a reject: the command may stand (api.auctions.runner); docs/protocol.md.
            unknown = m.OutcomeUnknown(request_id, detail, channel.head, service.clock())
            subscriber.send_direct(_wired(unknown))
            return
        if isinstance(error, ReadOnly):
            code = READ_ONLY
        elif isinstance(error, StorageUnavailable):
            code = "storage_unavailable"
        elif isinstance(error, RunnerError):
            code = "unavailable"
        else:
            # Loading an evicted auction from a failing log, say: nothing ran.
            log.error("command not run", extra={"auction": auction_id, "error": repr(error)})
            code, detail = "storage_unavailable", "the auction's log could not be read"
        frame = m.Reject(request_id, code, detail, channel.head, service.clock())
        subscriber.send_direct(_wired(frame))
        return
    # The command is committed: whatever fails now, its caller still gets its answer.
    try:
        answer = _answer(channel, audience, request_id, events, command_id, on_result)
    except Exception:  # noqa: BLE001 - a bug, logged; the plain answer cannot fail
        log.exception(
            "answering a committed command failed; sending a plain answer",
            extra={"auction": auction_id},
        )
        answer = _plain_answer(request_id, events, command_id, channel.head, service.clock())
    subscriber.send_direct(answer)


def _answer(
    channel: Channel,
    audience: Audience,
    request_id: str,
    events: list[Event],
    command_id: str,
    on_result: Callable[[bool, str | None], None],
) -> bytes:
    """The frame answering a committed command: its ack, or its reject."""
    result = outcome(events, command_id)
    if result.rejected is not None:
        rejected = result.rejected
        on_result(False, rejected.reason.value)
        return _wired(_reject(request_id, rejected))
    accepted = result.accepted
    assert accepted is not None
    if isinstance(accepted, BidAccepted):
        # Counted as the HTTP edge does: proxies, withdrawals and passes are no bids.
        on_result(True, None)
    data = channel.views.render(accepted, audience)
    # The text of to_json(m.Ack(...)) in Ack's field order, without the deep copy of
    # ``data`` that to_json's dataclasses.asdict makes (4% of the server's time in the
    # bench service storm profile).
    ack = {
        "request_id": request_id,
        "seq": accepted.seq,
        "server_time": accepted.at,
        "event": data,
        "type": "ack",
    }
    return wire(_encode(ack))


def _plain_answer(
    request_id: str, events: list[Event], command_id: str, head: int, now: int
) -> bytes:
    """The answer built from plain values only, when :func:`_answer` failed: the reject
    with the engine's reason, or an ack whose ``event`` holds only the type, ``seq`` and
    ``at`` of the command's event (the socket gets the event itself as an ``event``
    frame, as its role may see it). ``request_id`` passed :func:`contracts.messages.
    from_json`, and :func:`~api.live.hub.wire` is total, so this cannot raise."""
    own = [event for event in events if getattr(event, "command_id", None) == command_id]
    first = own[0] if own else events[-1] if events else None
    if isinstance(first, CommandRejected):
        return _wired(_reject(request_id, first))
    if first is None:  # no event at all (the engine always makes one): nothing to show
        return _wired(m.Ack(request_id, head, now, {}))
    event = {"type": type(first).__name__, "seq": first.seq, "at": first.at}
    return _wired(m.Ack(request_id, first.seq, first.at, event))


def _reject(request_id: str, rejected: CommandRejected) -> m.Reject:
    """The ``reject`` answering ``request_id`` for the engine's ``rejected``: its reason,
    its detail (amounts in major units) and its bound, minor units for machines. O(1)."""
    bound = m.bound_member(rejected.bound)
    return m.Reject(
        request_id, rejected.reason.value, rejected.detail, rejected.seq, rejected.at, bound
    )


def _decimal(name: str, text: str | None) -> Decimal | None:
    """Member ``name``'s ``text`` read by the one plain-decimal parser (contracts.decimal),
    as the HTTP bodies and the rules are; ``None`` stays ``None``. Raises
    :class:`PlainDecimalError` whose detail begins with ``name``, as an ``invalid_field``
    error frame's does. O(len(text))."""
    if text is None:
        return None
    try:
        return parse_plain(text)
    except PlainDecimalError as error:
        raise PlainDecimalError(f"{name} {error.detail}") from None


def _factory(message: Any, party: str) -> tuple[Callable[[int], Command], str]:
    """The command factory for a bidder's message, and its command id."""
    cid = new_command_id("ws")
    if isinstance(message, m.Bid):
        amount = _decimal("amount", message.amount)
        assert amount is not None
        currency = message.currency
        return (lambda at: PlaceBid(cid, at, party, amount, currency)), cid
    if isinstance(message, m.Proxy):
        limit = _decimal("limit", message.limit)
        assert limit is not None
        currency = message.currency
        return (lambda at: SetProxy(cid, at, party, limit, currency)), cid
    if isinstance(message, m.Accept):
        expected = _decimal("expected", message.expected)
        currency_or_none = message.currency
        return (lambda at: AcceptPrice(cid, at, party, expected, currency_or_none)), cid
    if isinstance(message, m.Withdraw):
        return (lambda at: WithdrawBid(cid, at, party)), cid
    assert isinstance(message, m.Pass)
    return (lambda at: PassTurn(cid, at, party)), cid


def _wired(message: Any) -> bytes:
    return wire(m.to_json(message))
