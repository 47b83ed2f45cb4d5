"""Everything Gavel does to a Sanic websocket beyond ``recv``/``send``/``close``, in one place.

Sanic's :class:`~sanic.server.websockets.impl.WebsocketImplProtocol` exposes its parts as
plain attributes that its documentation does not promise: ``ws_proto`` (the websockets
sans-I/O protocol), ``io_proto`` (Sanic's asyncio protocol; its ``transport`` and ``send``),
``conn_mutex`` (held by every ``ws.send``) and ``assembler`` (the
:class:`~sanic.server.websockets.frame.WebsocketFrameAssembler` that ``recv`` reads, with
its ``chunks``, ``decoder``, ``message_complete`` and ``write_mutex``). This module is
the only one that touches them; ``tests/api/live/test_sanic_ws.py`` checks each against
the installed Sanic, so an upgrade that moves one fails there, loudly, by name.

What it offers:

- :func:`read_strictly`: ``ws.recv()`` raises :class:`InvalidText` for a text frame that is
  not UTF-8 (Sanic drops such a frame silently: RFC 6455 §8.1 says fail with 1007);
- :func:`outlet_of` and :func:`write_raw`: complete frames written straight to the
  transport, under the same rules as ``ws.send`` (see :mod:`api.live.hub`);
- :func:`going_away`, :func:`finish_closing`, :func:`stop_reading`: the closing handshake
  without the reset that ``ws.close()``/``end_connection`` can cause.

Every function also accepts an object that is not a Sanic websocket (the tests' fakes)
and then falls back to the public methods, as each says.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

from sanic.exceptions import WebsocketClosed
from sanic.server.websockets.frame import WebsocketFrameAssembler
from sanic.server.websockets.impl import WebsocketImplProtocol
from websockets.protocol import State

from api.live.flag import Flag
from api.live.hub import Outlet

__all__ = [
    "HIGH_WATER",
    "PING_EVERY_S",
    "InvalidText",
    "Pinger",
    "abandon",
    "finish_closing",
    "going_away",
    "lighten",
    "outlet_of",
    "read_strictly",
    "receive",
    "stop_reading",
    "write_raw",
]

#: Bytes a socket may owe (unsent in its transport) before frames wait in its queue: the
#: high-water mark Sanic sets on its transports.
HIGH_WATER = 65536


#: What :class:`_StrictAssembler` holds for Sanic's unused ``completed_queue``.
_NO_QUEUE: Any = None


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

    __slots__ = ("invalid", "abandoned")

    def __init__(self, protocol: Any) -> None:
        super().__init__(protocol)
        self.invalid = False
        self.abandoned = False
        # Lean parts for a per-socket object (issue 16): Sanic's events hold a deque
        # each (760 bytes, :mod:`api.live.flag`), and its ``completed_queue`` (four
        # deques, 3 kB) is never used by Sanic.
        self.message_complete = Flag()
        self.message_fetched = Flag()
        self.completed_queue = _NO_QUEUE

    async def put(self, frame: Any) -> None:
        """Add ``frame`` to the next message, as Sanic's does; see the class. Once the
        session is over (:func:`abandon`), nobody will fetch it: dropped at once."""
        if self.invalid or self.abandoned:
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


#: The tasks Sanic's ``data_received`` started for a :class:`_Tracked` socket and that
#: have not ended, with their socket. asyncio itself keeps only weak references to
#: tasks: one waiting for a message fetch that will never come (the session is over)
#: was collected as garbage, pending, and asyncio logged "Task was destroyed but it is
#: pending!" at ERROR. Held here until they end; :func:`abandon` cancels a socket's.
#: One dict for the node, so an idle socket costs nothing for it.
_PENDING: dict[asyncio.Task[Any], Any] = {}


class _Tracked(WebsocketImplProtocol):
    """Sanic's websocket, whose ``data_received`` keeps the task it starts per batch of
    frames in :data:`_PENDING` until it ends (Sanic keeps no reference to it). No state
    of its own: :func:`read_strictly` switches a socket's class to it."""

    def data_received(self, data: Any) -> None:
        """As Sanic's: feed the bytes to the protocol and handle what it produced in a
        task, remembered until it ends."""
        self.ws_proto.receive_data(data)
        data_to_send = self.ws_proto.data_to_send()
        events = self.ws_proto.events_received()
        if data_to_send or events:
            handling = self.async_data_received(data_to_send, events)  # type: ignore[no-untyped-call]
            task = asyncio.create_task(handling)
            _PENDING[task] = self
            task.add_done_callback(_forget_task)


def _forget_task(task: asyncio.Task[Any]) -> None:
    _PENDING.pop(task, None)


def abandon(ws: Any) -> None:
    """The session of ``ws`` is over and nothing will read it again: drop the frames
    that still arrive (they are not fetched: Sanic's ``put`` would wait for ever) and
    cancel the tasks still handling earlier ones, waiting for that fetch. Call it once
    the session has ended, whatever ended it. O(pending tasks of the node)."""
    assembler = getattr(ws, "assembler", None)
    if isinstance(assembler, _StrictAssembler):
        assembler.abandoned = True
    for task in [task for task, owner in _PENDING.items() if owner is ws]:
        task.cancel()


def read_strictly(ws: Any) -> None:
    """Make ``ws.recv()`` raise :class:`InvalidText` for a text frame that is not UTF-8
    (:class:`_StrictAssembler`), and keep the tasks that handle its frames until they end
    (:class:`_Tracked`; :func:`abandon` at the session's end). Call it before the
    handler's first ``await``: Sanic hands the socket's frames to the assembler only in
    tasks that start after it. Does nothing to a socket that is not a Sanic websocket;
    leaves the assembler of one that already holds a frame."""
    if type(ws) is WebsocketImplProtocol:
        ws.__class__ = _Tracked
    assembler = getattr(ws, "assembler", None)
    if (
        type(assembler) is WebsocketFrameAssembler
        and not assembler.chunks
        and not assembler.message_complete.is_set()
        and not assembler.write_mutex.locked()
    ):
        ws.assembler = _StrictAssembler(ws)


async def receive(ws: Any) -> Any:
    """The next message of ``ws``, as ``ws.recv()`` returns it (and raising what it
    raises: ``CancelledError`` once the peer's close frame arrived or the connection
    was lost, ``WebsocketClosed`` once closed), but awaited in the calling task: Sanic's
    ``recv`` starts a task per call, and a reader waits in one for as long as its socket
    is idle (a task, its coroutine and the ``asyncio.wait`` around it: about 1 kB,
    issue 16). Only for a socket :func:`read_strictly` took (else ``ws.recv()``)."""
    assembler = getattr(ws, "assembler", None)
    if not isinstance(assembler, _StrictAssembler) or ws.recv_lock.locked():
        return await ws.recv()
    task = asyncio.current_task()
    assert task is not None
    woken = False

    def close_arrived(_: Any) -> None:
        # Sanic cancels ``recv_cancel`` when the peer's close frame arrives and when
        # the connection is lost: end the wait as its ``recv`` does.
        nonlocal woken
        woken = True
        task.cancel()

    async with ws.recv_lock:
        if ws.ws_proto.state is State.CLOSED:
            raise WebsocketClosed("Cannot receive from websocket interface after it is closed.")
        cancel = ws.recv_cancel = asyncio.get_running_loop().create_future()
        cancel.add_done_callback(close_arrived)
        try:
            # Sanic's own get (one coroutine less than _StrictAssembler.get), then its check.
            message = await WebsocketFrameAssembler.get(assembler)
            if assembler.invalid:
                raise InvalidText("a text frame is not UTF-8")
            return message
        except asyncio.CancelledError:
            if woken:
                task.uncancel()  # the cancellation was this wait's, not the task's
            raise
        finally:
            cancel.remove_done_callback(close_arrived)
            ws.recv_cancel = None


def lighten(ws: Any) -> None:
    """Swap the two ``asyncio.Event`` of ``ws``'s Sanic protocol (``_can_write``,
    ``_data_received``) for :class:`~api.live.flag.Flag` ones in the same state, and
    drop its HTTP timeout timer: 1.8 kB less per socket (issue 16). Call it in the
    handler before its first ``await``, when nobody waits on the events (after the
    upgrade, Sanic's protocol only sets and clears them, and ``send`` waits on
    ``_can_write``). Does nothing to an object that is not a Sanic websocket, or to an
    event someone waits on."""
    proto = getattr(ws, "io_proto", None)
    # Sanic's check of HTTP timeouts does nothing to an upgraded connection but return
    # (its "Timeouts disabled"); its timer, pending or fired, is 0.3 kB kept for nothing.
    timer = getattr(proto, "_callback_check_timeouts", None)
    if timer is not None and getattr(proto, "websocket", None) is not None:
        timer.cancel()  # asyncio's or uvloop's TimerHandle
        proto._callback_check_timeouts = None  # type: ignore[union-attr]
    for name in ("_can_write", "_data_received"):
        event = getattr(proto, name, None)
        if type(event) is asyncio.Event and not event._waiters:
            flag = Flag()
            if event.is_set():
                flag.set()
            setattr(proto, name, flag)


#: Seconds between two pings of a socket (Sanic's ``WEBSOCKET_PING_INTERVAL``, as the apps
#: set it), and how long its pong may take: a socket whose pong has not come by the next
#: round is failed with 1011, as Sanic's own keep-alive does.
PING_EVERY_S = 20.0


class Pinger:
    """One task that pings every socket added to it every ``every_s`` seconds, instead
    of Sanic's keep-alive task per socket (a task, its coroutine and its timer: about
    1.2 kB per idle socket, issue 16).

    Each round first fails (1011, "keepalive ping timeout") the sockets whose pong to
    the previous round's ping has not come, then pings the others, writing the ping
    frame straight to the transport as ``ws.ping()`` would, unless a send is in
    progress (the socket is busy, so alive: it is pinged next round). A dead peer is
    thus failed 20-40 s after it went silent, as with Sanic's task (20 s idle, 20 s
    for the pong). O(sockets) per round, no await inside it.

    Call order: :meth:`add` once the session runs (it cancels Sanic's keep-alive task),
    :meth:`discard` when it ends; the task starts with the first socket and ends when
    none is left. Objects that are not Sanic websockets are not pinged.
    """

    __slots__ = ("every_s", "_sockets", "_task")

    def __init__(self, every_s: float = PING_EVERY_S) -> None:
        self.every_s = every_s
        self._sockets: dict[Any, asyncio.Future[None] | None] = {}
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._sockets)

    def add(self, ws: Any) -> None:
        """Ping ``ws`` from now on, and stop Sanic's keep-alive task of it."""
        keepalive = getattr(ws, "keepalive_ping_task", None)
        if keepalive is None and getattr(ws, "ws_proto", None) is None:
            return  # not a Sanic websocket
        if keepalive is not None:
            keepalive.cancel()
            ws.keepalive_ping_task = None
        self._sockets[ws] = None
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def discard(self, ws: Any) -> None:
        """Ping ``ws`` no more."""
        self._sockets.pop(ws, None)

    async def _run(self) -> None:
        while self._sockets:
            await asyncio.sleep(self.every_s)
            self.round()

    def round(self) -> None:
        """Fail the sockets whose last ping got no pong, ping every other one."""
        for ws, pong in list(self._sockets.items()):
            if pong is not None and not pong.done():
                del self._sockets[ws]
                with contextlib.suppress(Exception):
                    ws.fail_connection(1011, "keepalive ping timeout")
                continue
            self._sockets[ws] = _ping(ws)


def _ping(ws: Any) -> asyncio.Future[None] | None:
    """Send ``ws`` a ping now (what ``ws.ping()`` does, without waiting for its send
    lock): the future its pong resolves, or ``None`` if it was not pinged (not open, or
    a send in progress)."""
    transport = _transport(ws)
    proto = ws.ws_proto
    if transport is None or proto.state is not State.OPEN or ws.conn_mutex.locked():
        return None
    data = secrets.token_bytes(4)
    while data in ws.pings:
        data = secrets.token_bytes(4)
    pong: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    ws.pings[data] = pong
    proto.send_ping(data)
    for chunk in proto.data_to_send():
        transport.write(chunk)
    return pong


def _transport(ws: Any) -> Any:
    """The asyncio transport under a Sanic websocket, or ``None`` (closed, or a test
    double)."""
    return getattr(getattr(ws, "io_proto", None), "transport", None)


def outlet_of(ws: Any) -> Outlet | None:
    """Direct writes of complete frames to ``ws``'s transport, or ``None`` if this
    connection's framing is not :func:`~api.live.hub.wire`'s (an extension was
    negotiated) or ``ws`` is no Sanic websocket."""
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


async def write_raw(ws: Any, data: bytes) -> bool:
    """Write ``data`` (complete frames, :func:`~api.live.hub.wire`'s) as ``ws.send`` writes
    one frame: under Sanic's send lock, on an open connection, waiting while the
    transport is above its high-water mark. ``False`` (nothing written) once the
    connection is no longer open. Only for a socket :func:`outlet_of` accepted."""
    async with ws.conn_mutex:
        if ws.ws_proto.state is not State.OPEN:
            return False
        await ws.io_proto.send(data)
    return True


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
