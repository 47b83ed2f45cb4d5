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
from sanic.server.protocols.http_protocol import HttpProtocol
from sanic.server.websockets.frame import WebsocketFrameAssembler
from sanic.server.websockets.impl import WebsocketImplProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from api.live import sanic_ws
from api.live.flag import Flag
from api.live.hub import wire
from api.live.sanic_ws import (
    HIGH_WATER,
    InvalidText,
    Pinger,
    abandon,
    finish_closing,
    going_away,
    lighten,
    outlet_of,
    read_strictly,
    receive,
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
    # receive(), Pinger and lighten() (issue 16: memory per idle socket):
    for name in ("recv_lock", "recv_cancel", "pings", "keepalive_ping_task"):
        assert name in vars(ws), f"WebsocketImplProtocol.{name} is gone"
    assert callable(ws.fail_connection)
    assert "recv_cancel.cancel()" in inspect.getsource(WebsocketImplProtocol.process_events)
    assert "self.pings" in inspect.getsource(WebsocketImplProtocol.process_pong)
    assert "completed_queue" not in inspect.getsource(WebsocketFrameAssembler.get)
    assert "completed_queue" not in inspect.getsource(WebsocketFrameAssembler.put)
    for name in ("_can_write", "_data_received"):
        assert name in SanicProtocol.__slots__, f"SanicProtocol.{name} is gone"
    assert "_callback_check_timeouts" in HttpProtocol.__slots__
    assert "Timeouts disabled" in inspect.getsource(HttpProtocol.check_timeouts)


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


async def test_abandon_cancels_the_frames_handling_left_waiting_and_drops_later_ones() -> None:
    # Sanic's data_received starts a task per batch of frames and keeps no reference; one
    # waiting for a fetch that never comes was collected pending: "Task was destroyed but
    # it is pending!" at ERROR in the server's log (seen under load in test_ws_fuzz).
    source = inspect.getsource(WebsocketImplProtocol.data_received)
    assert "create_task" in source and "async_data_received" in source
    ws = WebsocketImplProtocol(ServerProtocol(state=State.OPEN))
    read_strictly(ws)
    assert type(ws) is sanic_ws._Tracked
    read_strictly(ws)  # once only
    assert type(ws) is sanic_ws._Tracked

    def text(data: bytes) -> bytes:
        return Frame(Opcode.TEXT, data).serialize(mask=True, extensions=[])

    ws.data_received(text(b"one"))
    ws.data_received(text(b"two"))  # waits behind the first, which waits for a fetch
    await asyncio.sleep(0.01)
    mine = [task for task, owner in sanic_ws._PENDING.items() if owner is ws]
    assert len(mine) == 2 and not any(task.done() for task in mine)
    abandon(ws)
    await asyncio.sleep(0.01)
    assert all(task.cancelled() for task in mine)
    assert ws not in sanic_ws._PENDING.values()
    ws.data_received(text(b"three"))  # after the session: dropped at once, nothing waits
    await asyncio.sleep(0.01)
    assert ws not in sanic_ws._PENDING.values()
    abandon(object())  # not a Sanic websocket: nothing to do


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


# ------------------------------------------------------------- issue 16: lean idle sockets


async def test_receive_reads_in_the_calling_task_and_ends_as_recv_does() -> None:
    ws = WebsocketImplProtocol(ServerProtocol())
    read_strictly(ws)
    reading = asyncio.create_task(receive(ws))
    await asyncio.sleep(0)
    assert ws.recv_cancel is not None and ws.recv_lock.locked()
    await ws.assembler.put(Frame(Opcode.TEXT, b'{"type":"bid"}'))
    assert await asyncio.wait_for(reading, 1) == '{"type":"bid"}'
    assert ws.recv_cancel is None and not ws.recv_lock.locked()

    async def until_closed() -> int:
        try:
            await receive(ws)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            assert task is not None
            return task.cancelling()  # the close frame's, undone: the task goes on
        return -1

    waiting = asyncio.create_task(until_closed())
    await asyncio.sleep(0)
    assert ws.recv_cancel is not None
    ws.recv_cancel.cancel()  # what Sanic does when the peer's close frame arrives
    assert await asyncio.wait_for(waiting, 1) == 0

    other = WebsocketImplProtocol(ServerProtocol())
    read_strictly(other)
    invalid = asyncio.create_task(receive(other))
    await asyncio.sleep(0)
    await other.assembler.put(Frame(Opcode.TEXT, b"\xff"))
    with pytest.raises(InvalidText):
        await asyncio.wait_for(invalid, 1)


async def test_receive_falls_back_to_recv_for_other_objects() -> None:
    class Plain:
        async def recv(self) -> str:
            return "plain"

    assert await receive(Plain()) == "plain"


async def test_the_pinger_pings_each_socket_and_fails_one_without_a_pong() -> None:
    ws, transport = _socket()
    idle, _ = _socket()
    pinger = Pinger(every_s=3600)
    pinger.add(ws)
    pinger.add(idle)
    pinger.add(object())  # not a Sanic websocket: not pinged
    assert len(pinger) == 2
    pinger.round()
    assert transport.written[-1][0] == 0x89  # a ping frame
    (data,) = ws.pings
    await ws.process_pong(Frame(Opcode.PONG, data))  # ws answers, idle does not
    assert not ws.pings
    pinger.round()
    assert len(pinger) == 1 and idle.ws_proto.state is not State.OPEN  # failed: 1011
    assert ws.ws_proto.state is State.OPEN and len(ws.pings) == 1
    (data,) = ws.pings
    await ws.process_pong(Frame(Opcode.PONG, data))
    async with ws.conn_mutex:  # a send in progress: alive, not pinged these rounds
        pinger.round()
        pinger.round()
    assert len(pinger) == 1 and not ws.pings
    pinger.discard(ws)
    assert len(pinger) == 0
    await asyncio.sleep(0)  # its task ends with the next round, no socket left


async def test_lighten_swaps_the_events_for_flags_in_the_same_state() -> None:
    class Proto:
        def __init__(self) -> None:
            self._can_write = asyncio.Event()
            self._can_write.set()
            self._data_received = asyncio.Event()
            self._callback_check_timeouts = asyncio.get_running_loop().call_later(60, print)
            self.websocket = object()

    ws, _ = _socket()
    proto = Proto()
    timer = proto._callback_check_timeouts
    ws.io_proto = proto  # type: ignore[assignment]  # a stand-in for SanicProtocol
    lighten(ws)
    assert type(proto._can_write) is Flag and proto._can_write.is_set()
    assert type(proto._data_received) is Flag and not proto._data_received.is_set()
    assert proto._callback_check_timeouts is None and timer.cancelled()
    lighten(object())  # not a Sanic websocket: nothing to do
