"""What :mod:`api.live.sanic_ws` relies on in the installed Sanic, checked by name, and what it
does with it, on Sanic's real websocket objects (no server: a stand-in transport).

If a Sanic upgrade renames or moves one of these attributes, the first test fails and
says which; fix ``api/live/sanic_ws.py`` (the only module that touches them) then.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from sanic.server.protocols.base_protocol import SanicProtocol
from sanic.server.websockets.frame import WebsocketFrameAssembler
from sanic.server.websockets.impl import WebsocketImplProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from api.live import sanic_ws
from api.live.hub import wire
from api.live.sanic_ws import (
    HIGH_WATER,
    InvalidText,
    finish_closing,
    going_away,
    outlet_of,
    read_strictly,
    stop_reading,
    write_raw,
)


class Transport:
    """An asyncio transport's surface as the module uses it."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.buffered = 0
        self.closing = False
        self.reading = True

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


class IO:
    """Sanic's protocol object under a websocket: its ``transport`` and ``send``."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def send(self, data: bytes) -> None:
        self.transport.write(data)


def _socket(state: State = State.OPEN) -> tuple[WebsocketImplProtocol, Transport]:
    proto = ServerProtocol()
    proto.state = state
    ws = WebsocketImplProtocol(proto)
    transport = Transport()
    ws.io_proto = IO(transport)  # type: ignore[assignment]  # a stand-in for SanicProtocol
    return ws, transport


def test_sanic_still_has_what_the_module_relies_on() -> None:
    ws = WebsocketImplProtocol(ServerProtocol())
    for name in ("ws_proto", "io_proto", "conn_mutex", "assembler"):
        assert name in vars(ws), f"WebsocketImplProtocol.{name} is gone"
    assert isinstance(ws.conn_mutex, asyncio.Lock)
    assert type(ws.assembler) is WebsocketFrameAssembler
    for name in ("chunks", "decoder", "message_complete", "write_mutex"):
        assert hasattr(ws.assembler, name), f"WebsocketFrameAssembler.{name} is gone"
    for name in ("put", "get"):
        assert inspect.iscoroutinefunction(getattr(WebsocketFrameAssembler, name)), name
    assert "timeout" in inspect.signature(WebsocketFrameAssembler.get).parameters
    assert inspect.iscoroutinefunction(SanicProtocol.send)
    assert "transport" in inspect.getsource(SanicProtocol.connection_made)
    assert callable(ws.end_connection)
    assert ws.ws_proto.extensions == []


async def test_read_strictly_raises_invalid_text_for_a_text_frame_that_is_not_utf8() -> None:
    ws = WebsocketImplProtocol(ServerProtocol())
    read_strictly(ws)
    assembler = ws.assembler
    assert type(assembler) is sanic_ws._StrictAssembler
    read_strictly(ws)  # once only
    assert ws.assembler is assembler
    getting = asyncio.create_task(assembler.get())
    await asyncio.sleep(0)
    await assembler.put(Frame(Opcode.TEXT, b"\xff\xfe"))
    with pytest.raises(InvalidText):
        await asyncio.wait_for(getting, 1)
    await assembler.put(Frame(Opcode.TEXT, b"later"))  # dropped: nothing more is read
    assert assembler.chunks == []


async def test_read_strictly_passes_valid_text_and_leaves_other_sockets_alone() -> None:
    ws = WebsocketImplProtocol(ServerProtocol())
    read_strictly(ws)
    getting = asyncio.create_task(ws.assembler.get())
    await asyncio.sleep(0)
    await ws.assembler.put(Frame(Opcode.TEXT, "héllo".encode()))
    assert await asyncio.wait_for(getting, 1) == "héllo"
    busy = WebsocketImplProtocol(ServerProtocol())
    busy.assembler.chunks.append("x")  # a frame already held: not swapped
    read_strictly(busy)
    assert type(busy.assembler) is WebsocketFrameAssembler
    read_strictly(object())  # not a Sanic websocket: nothing to do


async def test_outlet_writes_only_while_open_free_and_below_the_high_water_mark() -> None:
    ws, transport = _socket()
    outlet = outlet_of(ws)
    assert outlet is not None
    assert outlet(b"a") and transport.written == [b"a"]
    transport.buffered = HIGH_WATER + 1
    assert not outlet(b"b")
    transport.buffered = 0
    async with ws.conn_mutex:  # a ws.send in progress
        assert not outlet(b"c")
    transport.closing = True
    assert not outlet(b"d")
    assert transport.written == [b"a"]
    assert outlet_of(object()) is None
    ws.ws_proto.extensions = [object()]  # type: ignore[list-item]  # framing not wire()'s
    assert outlet_of(ws) is None


async def test_write_raw_writes_under_the_send_lock_while_open() -> None:
    ws, transport = _socket()
    frame = wire("{}")
    assert await write_raw(ws, frame)
    assert transport.written == [frame]
    closed, _ = _socket(State.CLOSING)
    assert not await write_raw(closed, frame)


async def test_going_away_sends_the_close_frame_and_reads_on() -> None:
    ws, transport = _socket()
    stop_reading(ws)
    assert not transport.reading
    going_away(ws, 1001, "server shutting down")
    assert ws.ws_proto.state is State.CLOSING
    (close,) = transport.written
    assert close[0] == 0x88 and close[2:4] == (1001).to_bytes(2, "big")
    assert transport.reading
    # A socket that is no Sanic websocket falls back to end_connection.
    ended: list[tuple[int, str]] = []

    class Plain:
        def end_connection(self, code: int, reason: str) -> None:
            ended.append((code, reason))

    going_away(Plain(), 1007, "invalid UTF-8")
    assert ended == [(1007, "invalid UTF-8")]
    stop_reading(Plain())  # nothing to pause


async def test_finish_closing_reads_until_closed_or_the_deadline() -> None:
    ws, _ = _socket(State.CLOSED)
    await finish_closing(ws, 1.0)  # already closed: returns at once
    reads: list[Any] = []

    class Peer:
        ws_proto = ServerProtocol()

        async def recv(self, timeout: float | None = None) -> str:
            reads.append(timeout)
            if len(reads) == 2:
                self.ws_proto.state = State.CLOSED
            return "dropped"

    peer = Peer()
    await finish_closing(peer, 1.0)
    assert len(reads) == 2


async def test_finish_closing_stops_when_reading_fails() -> None:
    class Gone:
        ws_proto = ServerProtocol()

        async def recv(self, timeout: float | None = None) -> str:
            raise ConnectionResetError("closed meanwhile")

    await asyncio.wait_for(finish_closing(Gone(), 5.0), 1)
