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
from typing import Any

from sanic.server.websockets.frame import WebsocketFrameAssembler
from websockets.protocol import State

from api.live.hub import Outlet

__all__ = [
    "HIGH_WATER",
    "InvalidText",
    "finish_closing",
    "going_away",
    "outlet_of",
    "read_strictly",
    "stop_reading",
    "write_raw",
]

#: Bytes a socket may owe (unsent in its transport) before frames wait in its queue: the
#: high-water mark Sanic sets on its transports.
HIGH_WATER = 65536


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
