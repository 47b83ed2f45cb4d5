"""The websocket session: resume from a seq, stream live, take bids on the same socket.

Call order inside the Sanic handler, after the origin and the token were checked:

1. make ``ws.recv()`` refuse text frames that are not UTF-8 (:func:`read_strictly`), then
   read the first frame, which must be ``subscribe`` (within ``SUBSCRIBE_TIMEOUT_S``);
2. register a :class:`~api.live.hub.Subscriber` (it holds live frames), send ``welcome``,
   take the events after ``since`` (from the channel's memory when it still has them,
   else from the log) and :meth:`~api.live.hub.Subscriber.resume` with them: every event
   after ``since`` arrives exactly once, in order, then live ones;
3. two loops run until the socket closes: the writer (queued frames out, all of them in
   one socket write per wake-up) and the reader (bids in, each answered by ``ack`` or
   ``reject`` once durable; at most ``MAX_IN_FLIGHT`` at a time per socket; replay
   requests go to the connection's :class:`api.live.replay.Replayer`). A
   subscriber whose queue overflows is closed with ``CLOSE_TOO_SLOW`` at once, even
   while its writer is stuck on a full socket. A text frame that is not UTF-8 ends the
   reading: the requests read before it are answered, then the socket is closed with
   ``CLOSE_INVALID_TEXT`` (1007); nothing sent after it is run.

Every command read is answered exactly once: the answer to a committed command is built
under a guard that falls back to a plain ack (:func:`_plain_answer`), and whatever
still fails in a command's task is logged by its done callback, never left to asyncio's
"Task exception was never retrieved".

Heartbeats (server time and next deadline every ``heartbeat_s``) come from one task for
the whole hub: each beat encodes one frame per auction and hands the same bytes to every
socket of that auction; the auctions' beats are spread evenly over the period.

Frames are written as complete websocket frames (:func:`api.live.hub.wire`) straight to the
connection's transport, which is what Sanic's ``ws.send`` does after framing each one:
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
from collections.abc import Callable, Container
from decimal import Decimal
from typing import Any, Protocol

from sanic.exceptions import WebsocketClosed
from sanic.server.websockets.frame import WebsocketFrameAssembler
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from api.access import auth
from api.access.ratelimit import EdgeRateLimits, TokenBucketLimiter, address_key, rate_limited
from api.auctions.outcomes import new_command_id, outcome
from api.auctions.runner import (
    CommandFactory,
    OutcomeUnknown,
    RunnerError,
    RunnerStopped,
    StorageUnavailable,
)
from api.auctions.views import Audience
from api.live.hub import Channel, Hub, Outlet, Subscriber, unwire, wire
from api.live.replay import Replayer
from api.settings import Settings
from api.storage.ports import CommandMark
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

__all__ = [
    "ANSWER_WAIT_S",
    "CLOSE_WAIT_S",
    "HIGH_WATER",
    "InvalidText",
    "MAX_IN_FLIGHT",
    "READ_ONLY",
    "SHUTDOWN_TIMEOUT_S",
    "SUBSCRIBE_TIMEOUT_S",
    "ReadOnly",
    "SessionService",
    "check_handshake",
    "close_going_away",
    "finish_closing",
    "going_away",
    "handshake_claims",
    "handshake_limits",
    "leave",
    "outlet_of",
    "read_strictly",
    "serve_session",
    "stop_reading",
    "until_first_done",
    "write_frames",
]

# The encoder of contracts.messages.to_json (compact, UTF-8 kept), built once.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

log = logging.getLogger("gavel.ws")

SUBSCRIBE_TIMEOUT_S = 10.0
MAX_IN_FLIGHT = 16
#: Bytes a socket may owe (unsent in its transport) before frames wait in its queue: the
#: high-water mark Sanic sets on its transports.
HIGH_WATER = 65536
#: The reject code of a command sent to a read-only edge (:mod:`api.live.edge`): bid on the core.
READ_ONLY = "read_only"
#: How long a socket closed for a frame that is not UTF-8 waits for the answers it owes
#: (commands still committing) before its close frame goes anyway.
ANSWER_WAIT_S = 10.0


class SessionService(Protocol):
    """What a websocket session uses of its service: :class:`api.auctions.service.Service` on the
    core, the read-only :class:`api.live.edge.EdgeService` (whose ``submit`` refuses) on an
    edge."""

    hub: Hub
    closing: bool
    #: Server time in µs, the only clock.
    clock: Callable[[], int]

    async def runner(self, auction_id: str) -> object | None:
        """Something true once ``auction_id`` is live here, ``None`` if it is unknown."""
        ...

    async def history(self, auction_id: str, after: int, limit: int | None = None) -> list[Event]:
        """Committed events of ``auction_id`` after ``after``, in order."""
        ...

    async def submit(
        self, auction_id: str, make: CommandFactory, mark: CommandMark | None = None
    ) -> list[Event]:
        """Run a command; its events once durable."""
        ...


class InvalidText(Exception):
    """What ``ws.recv()`` raises, once :func:`read_strictly` holds, for a text frame that
    is not UTF-8; the socket reads nothing more (RFC 6455 §8.1: fail the connection, with
    1007)."""


class _StrictAssembler(WebsocketFrameAssembler):
    """Sanic's message assembler, except for a text frame that is not UTF-8: the reader's
    pending or next ``get()`` raises :class:`InvalidText`, and every later frame is
    dropped.

    Sanic decodes text frames in the task that handles the bytes read, where the
    ``UnicodeDecodeError`` was never retrieved: the frame, and whatever else was read
    with it, vanished, the socket stayed open, and its requests went unanswered until
    the keep-alive ping failed 40 s later (1011).
    """

    __slots__ = ("invalid",)

    def __init__(self, protocol: Any) -> None:
        super().__init__(protocol)
        self.invalid = False

    async def put(self, frame: Any) -> None:
        """Add ``frame`` to the next message, as Sanic's does; see the class."""
        if self.invalid:
            return
        try:
            await super().put(frame)
        except UnicodeDecodeError:
            # Raised before the frame was added, with no message waiting to be fetched
            # (a put waits for the fetch of its message): wake the reader to fail.
            self.invalid = True
            self.chunks = []
            self.decoder = None
            self.message_complete.set()

    async def get(self, timeout: float | None = None) -> Any:
        """The next message, as Sanic's; :class:`InvalidText` once a text frame was not
        UTF-8."""
        message = await super().get(timeout)
        if self.invalid:
            raise InvalidText("a text frame is not UTF-8")
        return message


def read_strictly(ws: Any) -> None:
    """Make ``ws.recv()`` raise :class:`InvalidText` for a text frame that is not UTF-8
    (:class:`_StrictAssembler`). Call it before the handler's first ``await``: Sanic
    hands the socket's frames to the assembler only in tasks that start after it. Does
    nothing to a socket that is not a Sanic websocket, or that already holds a frame."""
    assembler = getattr(ws, "assembler", None)
    if (
        type(assembler) is WebsocketFrameAssembler
        and not assembler.chunks
        and not assembler.message_complete.is_set()
        and not assembler.write_mutex.locked()
    ):
        ws.assembler = _StrictAssembler(ws)


async def _close_invalid_text(ws: Any) -> None:
    """Close with 1007 now, then read (and drop) until the peer's close frame, as a
    shutdown does (:func:`going_away`): closing the TCP connection on unread input would
    reset it and make the peer's kernel drop our close frame."""
    going_away(ws, m.CLOSE_INVALID_TEXT, "invalid UTF-8")
    await finish_closing(ws, CLOSE_WAIT_S)


class ReadOnly(RunnerError):
    """What a read-only service's ``submit`` raises (an edge, :mod:`api.live.edge`): the
    command is answered with a ``reject`` of code :data:`READ_ONLY` and changes nothing."""


def handshake_limits(settings: Settings) -> EdgeRateLimits:
    """The handshake buckets: per address (``ws_rate_*``, default the HTTP rate) and per
    token (``ws_token_rate_*``, default a tenth of the per-address bucket)."""
    rate = settings.ws_rate_per_s or settings.rate_per_s
    burst = settings.ws_rate_burst or settings.rate_burst
    return EdgeRateLimits(
        per_address=TokenBucketLimiter(rate=rate, burst=burst),
        per_subject=TokenBucketLimiter(
            rate=settings.ws_token_rate_per_s or rate / 10,
            burst=settings.ws_token_rate_burst or max(1, burst // 10),
        ),
    )


def check_handshake(limits: EdgeRateLimits, public_key: Any, request: Any, now: float) -> None:
    """Raise the 429 ``rate_limited`` problem if this handshake is over its rate.

    Runs before the upgrade (a request middleware of the websocket route), so a refused
    client gets a plain HTTP 429 with ``Retry-After``. The address is checked first, so
    a flood from one address costs no signature check; a token is counted under its
    ``jti`` once its signature holds. A bad token is not refused here: the session
    closes it with 4401 after the upgrade, as documented. ``now``: monotonic seconds.
    """
    address = address_key(request.client_ip or "?")
    wait = limits.per_address.check(address, now)
    if wait is not None:
        raise rate_limited(wait, scope="address")
    try:
        claims = _verified(request, public_key)
    except auth.AccessDenied:
        return
    wait = limits.per_subject.check(claims.jti, now)
    if wait is not None:
        raise rate_limited(wait, scope="token")


def handshake_claims(request: Any, public_key: Any, revoked: Container[str]) -> auth.Claims:
    """The claims of a websocket handshake's token (``Authorization`` or the
    ``gavel.bearer.`` subprotocol), verified and not in ``revoked``; else an
    ``AccessDenied``. The signature is checked once per request: :func:`check_handshake`
    and the route share the result. O(token length)."""
    claims = _verified(request, public_key)
    if claims.jti in revoked:
        raise auth.TokenRevoked("the token was revoked")
    return claims


def _verified(request: Any, public_key: Any) -> auth.Claims:
    claims: auth.Claims | None = getattr(request.ctx, "gavel_claims", None)
    if claims is None:
        token = auth.handshake_token(
            request.headers.get("authorization"), request.headers.get("sec-websocket-protocol")
        )
        claims = request.ctx.gavel_claims = auth.verify(public_key, token, now_s=time.time())
    return claims


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
    service: SessionService,
    auction_id: str,
    audience: Audience,
    *,
    queue_limit: int,
    heartbeat_s: float,
    on_result: Callable[[bool, str | None], None] = lambda accepted, reason: None,
    on_slow: Callable[[], None] = lambda: None,
) -> None:
    """Run one connection to its end. ``ws`` is a Sanic/websockets connection."""
    clock = service.clock
    read_strictly(ws)
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
        runner = await service.runner(auction_id)
    except RunnerStopped:
        await ws.close(m.CLOSE_GOING_AWAY, "server shutting down")
        return
    except Exception as error:  # noqa: BLE001 - the log could not be read: not the client's fault
        await _storage_unavailable(ws, auction_id, error)
        return
    if runner is None:
        await ws.close(m.CLOSE_PROTOCOL_ERROR, "unknown auction")
        return
    channel = service.hub.channel(auction_id)
    catch_up = getattr(service, "catch_up", None)  # an edge may lag the log
    if hello.since > channel.head and catch_up is not None:
        try:
            await catch_up(auction_id)
        except Exception as error:  # noqa: BLE001 - as above
            await _storage_unavailable(ws, auction_id, error)
            return
    if hello.since > channel.head:
        # Nobody can have seen a seq beyond the log; streaming would silently drop every
        # event up to ``since`` (the dedup), so say so instead.
        await ws.close(m.CLOSE_PROTOCOL_ERROR, f"since is beyond the log (seq {channel.head})")
        return
    subscriber = Subscriber(audience, since=hello.since, limit=queue_limit)
    channel.subscribers.add(subscriber)
    try:
        you = channel.views.labels.get(audience.party or "") if audience.role == "bidder" else None
        welcome = m.Welcome(m.PROTOCOL, auction_id, audience.role, you, channel.head, clock())
        await ws.send(m.to_json(welcome))
        recent = channel.since(hello.since)
        if recent is not None:
            frames = [(event.seq, wire(channel.frame(event, audience))) for event in recent]
        else:
            try:
                frames = await _history(service, channel, auction_id, audience, hello.since)
            except Exception as error:  # noqa: BLE001 - as above
                await _storage_unavailable(ws, auction_id, error)
                return
        outlet = outlet_of(ws)
        subscriber.resume(frames, outlet)
        _beat_all(service, heartbeat_s)
        tasks = [
            asyncio.create_task(write_frames(ws, subscriber, raw=outlet is not None)),
            asyncio.create_task(subscriber.dropped()),
            asyncio.create_task(_read(ws, service, auction_id, audience, subscriber, on_result)),
        ]
        await until_first_done(tasks)
        if subscriber.too_slow:
            # The writer may have been stuck in a send to a peer that stopped reading
            # (cancelled above); ``close()`` would wait for the same full buffer. So the
            # close frame is queued behind the unread data without waiting, and the
            # transport is closed (or aborted after Sanic's close timeout).
            on_slow()
            ws.end_connection(m.CLOSE_TOO_SLOW, f"too slow: resume from seq {subscriber.sent}")
    finally:
        channel.subscribers.discard(subscriber)
        subscriber.close()


#: Events read, decoded and rendered per step of a long resume (then the loop runs).
HISTORY_PAGE = 500


async def _history(
    service: SessionService, channel: Channel, auction_id: str, audience: Audience, since: int
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


def outlet_of(ws: Any) -> Outlet | None:
    """Direct writes of complete frames to ``ws``'s transport, or ``None`` if this
    connection's framing is not :func:`~api.live.hub.wire`'s (an extension was negotiated)."""
    proto = getattr(ws, "ws_proto", None)
    transport = _transport(ws)
    if proto is None or transport is None or proto.extensions:
        return None
    mutex = ws.conn_mutex
    opened = State.OPEN
    write = transport.write
    buffered = transport.get_write_buffer_size
    closing = transport.is_closing

    def outlet(frame: bytes) -> bool:
        # The same checks as ws.send, without waiting: open, nobody else sending (a
        # ping, a close), and the peer keeping up; else the frame is queued.
        if proto.state is not opened or mutex.locked() or closing() or buffered() > HIGH_WATER:
            return False
        write(frame)
        return True

    return outlet


#: How long a shutdown waits for its sockets: their answers written, their peers'
#: close frames read (core and edges).
CLOSE_WAIT_S = 2.0
#: How long a whole graceful shutdown may take before the process stops anyway.
SHUTDOWN_TIMEOUT_S = 15.0


def _transport(ws: Any) -> Any:
    """The asyncio transport under a Sanic websocket, or ``None`` (closed, or a test
    double)."""
    return getattr(getattr(ws, "io_proto", None), "transport", None)


def stop_reading(ws: Any) -> None:
    """Read nothing more from ``ws`` for now (shutdown: no new request is taken)."""
    transport = _transport(ws)
    if transport is not None:
        with contextlib.suppress(Exception):
            transport.pause_reading()


def going_away(ws: Any, code: int, reason: str) -> None:
    """Send ``ws`` a close frame now, behind what it was sent, without waiting and
    without closing the TCP connection, and read on: the peer answers with its own close
    frame (the session ends; :func:`finish_closing` covers a session that ended first),
    and only then is the connection closed.

    Sanic's ``end_connection`` closes the transport right after its close frame when its
    auto-closer has finished; a peer whose requests arrived after the last read then
    gets a reset, which makes its kernel discard what it had not read yet (its last
    answers and the close frame). Falls back to ``end_connection`` for objects that are
    not Sanic websockets.
    """
    proto = getattr(ws, "ws_proto", None)
    transport = _transport(ws)
    if proto is None or transport is None:
        ws.end_connection(code, reason)
        return
    if proto.state is State.OPEN:
        proto.send_close(code, reason)
        for data in proto.data_to_send():
            transport.write(data)
    # Reading goes on (shutdown paused it: stop_reading) so the peer's close frame and
    # whatever it sent before it are read; requests among them are not run.
    with contextlib.suppress(Exception):
        transport.resume_reading()


async def finish_closing(ws: Any, timeout_s: float) -> None:
    """After the server's close frame: read, and drop, what the peer still sends until
    its close frame completes the handshake, for at most ``timeout_s``.

    Sanic closes the TCP connection as soon as the handler returns; with unread input
    the kernel answers that close with a reset, and the peer's kernel then discards
    what the peer had not read yet, the last answers and the close frame included.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    transport = _transport(ws)
    if transport is not None:
        with contextlib.suppress(Exception):
            transport.resume_reading()
    while ws.ws_proto.state is not State.CLOSED and loop.time() < deadline:
        try:
            await ws.recv(timeout=max(0.0, deadline - loop.time()))
        except asyncio.CancelledError:
            # Sanic cancels a pending recv when the peer's close frame arrives.
            if ws.ws_proto.state is not State.CLOSED:
                raise
        except Exception:  # noqa: BLE001 - closed meanwhile: nothing more to read
            return


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
            # What ws.send does, for many frames in one write: under its lock, on an
            # open connection, waiting while the transport is above its high-water mark.
            async with ws.conn_mutex:
                if ws.ws_proto.state is not State.OPEN:
                    return
                await ws.io_proto.send(b"".join(frames))
        else:
            for frame in frames:
                await send(unwire(frame))
        subscriber.mark_sent()


def _beat_all(service: SessionService, every: float) -> None:
    """Start the hub's heartbeat task unless it runs."""
    hub = service.hub
    if hub.beating is None or hub.beating.done():
        hub.beating = asyncio.create_task(_beat(service, every))


async def _beat(service: SessionService, every: float) -> None:
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
    service: SessionService,
    auction_id: str,
    audience: Audience,
    subscriber: Subscriber,
    on_result: Callable[[bool, str | None], None],
) -> None:
    in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
    pending: set[asyncio.Task[None]] = set()
    clock = service.clock
    channel = service.hub.channel(auction_id)
    replayer: Replayer | None = None  # made on the first replay request (api.live.replay)
    answered = functools.partial(_answered, in_flight, subscriber, auction_id)
    try:
        replay_types = m.REPLAY_MESSAGES
        while True:
            try:
                raw = await ws.recv()
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
    service: SessionService,
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
        return _wired(
            m.Reject(request_id, rejected.reason.value, rejected.detail, rejected.seq, rejected.at)
        )
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
        reason = first.reason.value
        return _wired(m.Reject(request_id, reason, first.detail, first.seq, first.at))
    if first is None:  # no event at all (the engine always makes one): nothing to show
        return _wired(m.Ack(request_id, head, now, {}))
    event = {"type": type(first).__name__, "seq": first.seq, "at": first.at}
    return _wired(m.Ack(request_id, first.seq, first.at, event))


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
