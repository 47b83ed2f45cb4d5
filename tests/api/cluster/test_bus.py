"""The NATS bus against a real server (the session's ``nats_url``): subjects, events in
order, request/reply, no owner, timeouts, the owner queue group, reconnection.

The server may be shared with other tests: every test uses stream ids of its own and
ignores events of other streams."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.cluster.bus import (
    Bus,
    BusClosed,
    BusError,
    NoOwner,
    RequestTimedOut,
    stream_id_of,
    subject_token,
)
from api.cluster.nats_server import LocalNatsServer

ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"


@given(st.text(alphabet=ID_ALPHABET, min_size=1, max_size=200))
def test_subject_token_round_trip(stream_id: str) -> None:
    token = subject_token(stream_id)
    assert "." not in token and "*" not in token and ">" not in token
    assert stream_id_of(token) == stream_id


@pytest.mark.parametrize("bad", ["", "a b", "x*", "a>", "é", "a~b", "x" * 201])
def test_subject_token_refuses_what_is_not_an_id(bad: str) -> None:
    with pytest.raises(ValueError):
        subject_token(bad)


def _unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    bus = await Bus.connect(nats_url, name="test-bus")
    yield bus
    await bus.close()


async def _wait_until(predicate: object, timeout_s: float = 5.0) -> None:
    assert callable(predicate)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


async def test_events_arrive_in_order_for_several_streams(nats_url: str, bus: Bus) -> None:
    streams = [_unique("lot"), _unique("lot-2"), _unique("x")]
    received: dict[str, list[bytes]] = {s: [] for s in streams}

    def handler(stream_id: str, payloads: list[bytes]) -> None:
        if stream_id in received:
            received[stream_id].extend(payloads)

    subscriber = await Bus.connect(nats_url, name="test-subscriber")
    try:
        await subscriber.subscribe_events("a", handler)
        await subscriber.flush()
        sent: dict[str, list[bytes]] = {s: [] for s in streams}
        for seq in range(1, 201):
            stream = streams[seq % 3]
            batch = [b'{"seq":%d,"n":%d}' % (seq, k) for k in range(1 + seq % 3)]
            sent[stream].extend(batch)
            await bus.publish_events("a", stream, batch)
        await _wait_until(lambda: all(len(received[s]) == len(sent[s]) for s in streams))
        assert received == sent
        assert bus.stats.published == 200
        assert subscriber.stats.received >= 200
    finally:
        await subscriber.close()


async def test_tender_events_do_not_reach_auction_subscribers(bus: Bus) -> None:
    stream = _unique("t")
    auctions: list[str] = []
    tenders: list[str] = []
    await bus.subscribe_events("a", lambda s, p: auctions.append(s))
    await bus.subscribe_events("t", lambda s, p: tenders.append(s))
    await bus.flush()
    await bus.publish_events("t", stream, [b"{}"])
    await _wait_until(lambda: stream in tenders)
    assert stream not in auctions
    with pytest.raises(ValueError):
        await bus.publish_events("x", stream, [b"{}"])


async def test_request_reply_round_trip(nats_url: str, bus: Bus) -> None:
    stream = _unique("auction")

    async def echo(payload: bytes) -> bytes:
        return b"ok:" + payload

    owner = await Bus.connect(nats_url, name="test-owner")
    try:
        serving = await owner.serve("a", stream, echo)
        await owner.flush()
        assert await bus.request("a", stream, b"bid 10", timeout_s=2.0) == b"ok:bid 10"
        assert owner.stats.served == 1 and bus.stats.requests == 1
        await serving.stop()
    finally:
        await owner.close()


async def test_no_owner_comes_quickly(bus: Bus) -> None:
    stream = _unique("nobody")
    started = asyncio.get_running_loop().time()
    with pytest.raises(NoOwner):
        await bus.request("a", stream, b"hello", timeout_s=5.0)
    # Answered by the server, not by the timeout (generous bound: a shared machine).
    assert asyncio.get_running_loop().time() - started < 4.0
    assert bus.stats.no_owner == 1


async def test_a_hanging_handler_times_out(bus: Bus) -> None:
    stream = _unique("slow")
    release = asyncio.Event()

    async def hang(payload: bytes) -> bytes:
        await release.wait()
        return b"late"

    serving = await bus.serve("a", stream, hang)
    await bus.flush()
    with pytest.raises(RequestTimedOut):
        await bus.request("a", stream, b"x", timeout_s=0.3)
    assert bus.stats.timeouts == 1
    release.set()
    await serving.stop()


async def test_queue_group_answers_each_request_exactly_once(nats_url: str, bus: Bus) -> None:
    stream = _unique("moving")
    handled: list[tuple[str, bytes]] = []

    def server(name: str) -> object:
        async def handle(payload: bytes) -> bytes:
            handled.append((name, payload))
            return name.encode()

        return handle

    first = await Bus.connect(nats_url, name="owner-1")
    second = await Bus.connect(nats_url, name="owner-2")
    try:
        for node, name in ((first, "one"), (second, "two")):
            await node.serve("a", stream, server(name))  # type: ignore[arg-type]
            await node.flush()
        answers = await asyncio.gather(
            *(bus.request("a", stream, b"%d" % i, timeout_s=3.0) for i in range(60))
        )
        assert sorted(payload for _, payload in handled) == sorted(b"%d" % i for i in range(60))
        assert set(answers) <= {b"one", b"two"}
        assert first.stats.served + second.stats.served == 60
    finally:
        await first.close()
        await second.close()


async def test_stop_then_no_owner(bus: Bus) -> None:
    stream = _unique("stopped")

    async def echo(payload: bytes) -> bytes:
        return payload

    serving = await bus.serve("t", stream, echo)
    await bus.flush()
    assert await bus.request("t", stream, b"a", timeout_s=2.0) == b"a"
    await serving.stop()
    await bus.flush()
    with pytest.raises(NoOwner):
        await bus.request("t", stream, b"b", timeout_s=2.0)
    await serving.stop()  # twice: harmless


async def test_closed_bus_raises_bus_closed(nats_url: str) -> None:
    bus = await Bus.connect(nats_url, name="closing")
    await bus.close()
    assert not bus.connected
    with pytest.raises(BusClosed):
        await bus.publish_events("a", "x", [b"{}"])
    with pytest.raises(BusClosed):
        await bus.request("a", "x", b"", timeout_s=1.0)
    await bus.close()  # twice: harmless


async def test_connect_to_nothing_is_a_bus_error() -> None:
    from api.cluster.nats_server import free_port

    with pytest.raises(BusError):
        await Bus.connect(f"nats://127.0.0.1:{free_port()}", name="nowhere")


async def test_reconnect_calls_back_and_publishing_works_again() -> None:
    reconnected = asyncio.Event()
    disconnected = asyncio.Event()

    async def on_reconnect() -> None:
        reconnected.set()

    async def on_disconnect() -> None:
        disconnected.set()

    with LocalNatsServer() as server:
        bus = await Bus.connect(
            server.url, name="reconnecting", on_reconnect=on_reconnect, on_disconnect=on_disconnect
        )
        try:
            stream = _unique("again")
            seen: list[list[bytes]] = []
            await bus.subscribe_events("a", lambda s, p: seen.append(p) if s == stream else None)
            await asyncio.to_thread(server.stop)
            await asyncio.wait_for(disconnected.wait(), 10)
            assert not bus.connected
            await asyncio.to_thread(server.start)
            await asyncio.wait_for(reconnected.wait(), 10)
            assert bus.connected and bus.stats.reconnects == 1
            # The subscription was restored with the connection.
            await bus.publish_events("a", stream, [b"1", b"2"])
            await _wait_until(lambda: seen == [[b"1", b"2"]])
        finally:
            await bus.close()


async def test_close_lets_requests_being_handled_answer(nats_url: str, bus: Bus) -> None:
    stream = _unique("closing")
    started = asyncio.Event()

    async def slow(payload: bytes) -> bytes:
        started.set()
        await asyncio.sleep(0.2)
        return b"done"

    owner = await Bus.connect(nats_url, name="closing-owner")
    serving = await owner.serve("a", stream, slow)
    await owner.flush()
    answer = asyncio.ensure_future(bus.request("a", stream, b"x", timeout_s=3.0))
    await asyncio.wait_for(started.wait(), 3)
    await serving.stop()
    await owner.close()
    assert await answer == b"done"
