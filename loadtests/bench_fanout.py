"""``gavel bench fanout``: committed-event fan-out between processes, LISTEN/NOTIFY vs NATS.

Why
---
Several Gavel nodes (issue 17) must pass every committed event to every other node. Two
candidates run on this machine already: PostgreSQL's LISTEN/NOTIFY (``pg_notify`` in the
committing transaction, ``asyncpg`` ``add_listener`` on the other side) and NATS core
pub/sub (:class:`api.cluster.bus.Bus`, what the nodes use). This benchmark measures both
on this machine, the same workload for each, so the choice is written down with figures.

Workload
--------
One publisher process and ``--subscribers`` subscriber processes (2), events of ``--size``
bytes (300, about one bid event), one event per message (one commit batch). Per transport,
three phases of ``--seconds`` each (3):

- ``max``: the publisher sends as fast as it can (NOTIFY: ``--notify-connections`` (4)
  connections, each event its own autocommit transaction, ``synchronous_commit`` as the
  server has it, as Gavel commits; NATS: one connection). Reported: events/s published
  and events/s delivered to *every* subscriber (the slowest one's count over the time from
  the first send to its last receipt).
- ``rate``: the publisher paces ``--rate`` events/s (2,000, in batches every millisecond);
  p50 / p99 / max latency from the publish call (NOTIFY: the call that commits) to the
  subscriber's receipt, over every subscriber, on the system-wide monotonic clock.
- ``slow`` (``--slow-seconds``, default ``--seconds``): as ``rate``, plus one more
  subscriber that sleeps ``--slow-ms`` (50) per message, blocking its process as a node
  that cannot keep up would. Reported: the rate the publisher achieved (does it slow
  down?), the fast subscribers' p99, what the slow one received, and the transport's own
  signal: for NOTIFY the maximum of ``pg_notification_queue_usage()`` (the share of
  PostgreSQL's 8 GB notification queue in use: the slow listener holds the queue's tail
  for every database), for NATS the slow consumers the server counted (``/varz``; known
  when the server's monitoring port is known: ``--own-nats`` or ``--nats-monitor-url``).
  The slow client itself is blocked, so it notices nothing while the phase runs.

Databases and servers: ``--database-url`` (``DATABASE_URL``, else an embedded PostgreSQL);
``--nats-url`` (``NATS_URL``, else 127.0.0.1:4222 if it answers, else a
:class:`~api.cluster.nats_server.LocalNatsServer`); ``--own-nats`` starts a local server
for the run whatever runs already (no other traffic, its slow consumers counted).
Channels and subjects are unique per run, so a shared server carries other traffic
alongside without mixing it in.

Call order: :func:`measure` (or :func:`main` with a command line) → a JSON-able dict.
Cost: about ``6 × seconds`` plus a few seconds of process start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TextIO

from loadtests.arguments import positive

__all__ = ["main", "measure"]

DEFAULT_SECONDS = 3.0
DEFAULT_SUBSCRIBERS = 2
DEFAULT_SIZE = 300
DEFAULT_RATE = 2_000
DEFAULT_SLOW_MS = 50
DEFAULT_NOTIFY_CONNECTIONS = 4
TRANSPORTS = ("notify", "nats")
PHASES = ("max", "rate", "slow")
#: Seconds the fast subscribers get, after the publisher stops, to receive the rest.
DRAIN_S = 10.0
#: PostgreSQL's limit on a NOTIFY payload (bytes, in the default build).
NOTIFY_PAYLOAD_LIMIT = 8000

_STAMP = re.compile(rb'\{"seq":(\d+),"t":(\d+),')

# Shared counters of a subscriber (readable without its cooperation).
_RECEIVED, _LAST_NS = range(2)


def _event(seq: int, size: int) -> bytes:
    """One event of about ``size`` bytes, stamped with the monotonic clock now."""
    head = b'{"seq":%d,"t":%d,"pad":"' % (seq, time.monotonic_ns())
    return head + b"x" * max(0, size - len(head) - 2) + b'"}'


def _loop_runner() -> Callable[[Any], Any]:
    try:
        import uvloop

        return uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return asyncio.run


# ------------------------------------------------------------------ subscriber process


def _subscriber(
    transport: str, url: str, channel: str, slow_s: float, counters: Any, pipe: Connection
) -> None:
    """A subscriber process: receive events of ``channel``, stamp their latency, sleep
    ``slow_s`` per event (blocking) if slow; on "stop" send back the latencies (ns)."""
    latencies: list[int] = []

    def got(data: bytes) -> None:
        now = time.monotonic_ns()
        match = _STAMP.match(data)
        if match is None:
            return
        latencies.append(now - int(match[2]))
        counters[_RECEIVED] += 1
        counters[_LAST_NS] = now
        if slow_s:
            time.sleep(slow_s)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        closer: Callable[[], Any]
        if transport == "nats":
            from api.cluster.bus import Bus

            bus = await Bus.connect(url, name=f"fanout-subscriber-{os.getpid()}")

            def handle(stream_id: str, payloads: list[bytes]) -> None:
                if stream_id == channel:
                    for payload in payloads:
                        got(payload)

            await bus.subscribe_events("a", handle)
            await bus.flush()
            closer = bus.close
        else:
            import asyncpg

            connection = await asyncpg.connect(url)
            await connection.add_listener(
                channel, lambda _c, _pid, _channel, payload: got(payload.encode())
            )
            closer = connection.close
        pipe.send("ready")
        await loop.run_in_executor(None, pipe.recv)  # "stop"
        pipe.send(latencies)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(closer(), 5)

    _loop_runner()(run())


# ------------------------------------------------------------------ publisher process


def _publisher(
    transport: str,
    url: str,
    channel: str,
    mode: str,
    rate: int,
    seconds: float,
    size: int,
    connections: int,
    pipe: Connection,
) -> None:
    """The publisher process: on "go", publish for ``seconds`` (``mode`` "max": as fast
    as possible; else ``rate`` a second), then send back its figures."""

    async def run() -> None:
        loop = asyncio.get_running_loop()
        send: Callable[[int], Any]
        pool: Any = None
        bus: Any = None
        usage: list[float] = []
        if transport == "nats":
            from api.cluster.bus import Bus

            bus = await Bus.connect(url, name=f"fanout-publisher-{os.getpid()}")

            async def send(seq: int) -> None:
                await bus.publish_events("a", channel, [_event(seq, size)])

            workers = 1
        else:
            import asyncpg

            pool = await asyncpg.create_pool(
                url, min_size=connections + 1, max_size=connections + 1
            )

            async def send(seq: int) -> None:
                await pool.execute("SELECT pg_notify($1, $2)", channel, _event(seq, size).decode())

            workers = connections
        pipe.send("ready")
        await loop.run_in_executor(None, pipe.recv)  # "go"

        started_ns = time.monotonic_ns()
        started = started_ns / 1e9
        deadline = started + seconds
        sent = 0
        due: asyncio.Queue[int] = asyncio.Queue()

        async def probe_queue() -> None:
            while True:
                usage.append(float(await pool.fetchval("SELECT pg_notification_queue_usage()")))
                await asyncio.sleep(0.2)

        async def worker() -> None:
            nonlocal sent
            while True:
                if mode == "max":
                    if time.monotonic() >= deadline:
                        return
                    sent += 1
                    await send(sent)
                    if transport == "nats" and sent % 256 == 0:
                        await asyncio.sleep(0)  # let the client's flusher run
                else:
                    seq = await due.get()
                    if seq < 0:
                        return
                    sent += 1
                    await send(seq)

        probe = loop.create_task(probe_queue()) if pool is not None else None
        tasks = [loop.create_task(worker()) for _ in range(workers)]
        offered_left = 0
        if mode != "max":
            queued = 0
            while (now := time.monotonic()) < deadline:
                target = int((now - started) * rate)
                while queued < target:
                    queued += 1
                    due.put_nowait(queued)
                await asyncio.sleep(0.001)
            # The paced phases stop at the deadline: what is still queued is not sent.
            offered_left = due.qsize()
            while not due.empty():
                due.get_nowait()
            for _ in tasks:
                due.put_nowait(-1)
        await asyncio.gather(*tasks)
        if bus is not None:
            await bus.flush()
        elapsed = time.monotonic() - started
        if probe is not None:
            usage.append(float(await pool.fetchval("SELECT pg_notification_queue_usage()")))
            probe.cancel()
        pipe.send(
            {
                "sent": sent,
                "elapsed_s": elapsed,
                "started_ns": started_ns,
                "not_sent_at_deadline": offered_left,
                "queue_usage_max": max(usage) if usage else None,
            }
        )
        if bus is not None:
            await bus.close()
        if pool is not None:
            await pool.close()

    _loop_runner()(run())


# ------------------------------------------------------------------ one phase


@dataclass(frozen=True, slots=True)
class _Subscriber:
    process: multiprocessing.process.BaseProcess
    pipe: Connection
    counters: Any
    slow: bool


def _percentile_ms(sorted_values: Sequence[int], fraction: float) -> float | None:
    """The ``fraction`` percentile of ``sorted_values`` (ns) in ms, rounded; ``None`` if empty."""
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return round(sorted_values[index] / 1e6, 2)


def _phase(
    transport: str,
    url: str,
    mode: str,
    *,
    monitor_url: str | None,
    subscribers: int,
    rate: int,
    seconds: float,
    size: int,
    slow_ms: int,
    connections: int,
) -> dict[str, Any]:
    """Run one phase in fresh processes and return its figures."""
    context = multiprocessing.get_context("spawn")
    channel = f"gavel_fanout_{os.getpid()}_{mode}_{time.monotonic_ns() % 10**9}"
    members: list[_Subscriber] = []
    for index in range(subscribers + (1 if mode == "slow" else 0)):
        slow = mode == "slow" and index == subscribers
        ours, theirs = context.Pipe()
        counters = context.Array("q", 2, lock=False)
        process = context.Process(
            target=_subscriber,
            args=(transport, url, channel, slow_ms / 1000 if slow else 0.0, counters, theirs),
            daemon=True,
        )
        process.start()
        members.append(_Subscriber(process, ours, counters, slow))
    ours, theirs = context.Pipe()
    publisher = context.Process(
        target=_publisher,
        args=(transport, url, channel, mode, rate, seconds, size, connections, theirs),
        daemon=True,
    )
    publisher.start()
    slow_consumers_before = _server_slow_consumers(monitor_url)
    try:
        for member in members:
            _expect(member.pipe, "ready", member.process, 60)
        _expect(ours, "ready", publisher, 60)
        ours.send("go")
        if not ours.poll(seconds + 120):
            raise RuntimeError(f"the {transport} publisher did not finish")
        published: dict[str, Any] = ours.recv()
        fast = [m for m in members if not m.slow]
        drain_deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < drain_deadline and any(
            m.counters[_RECEIVED] < published["sent"] for m in fast
        ):
            time.sleep(0.02)
        results: list[tuple[_Subscriber, list[int] | None]] = []
        for member in members:
            member.pipe.send("stop")
        for member in members:
            latencies = member.pipe.recv() if member.pipe.poll(1.0 if member.slow else 30) else None
            results.append((member, latencies))
        figures = _figures(transport, mode, published, results, rate, seconds)
        if transport == "nats" and mode == "slow":
            after = _server_slow_consumers(monitor_url)
            figures["server_slow_consumers"] = (
                None
                if after is None or slow_consumers_before is None
                else after - slow_consumers_before
            )
        return figures
    finally:
        for member in members:
            if member.slow:  # it would take minutes to get through its backlog
                member.process.terminate()
        processes: list[multiprocessing.process.BaseProcess] = [publisher]
        processes.extend(m.process for m in members)
        for child in processes:
            child.join(3)
            if child.is_alive():
                child.terminate()
                child.join(3)
            if child.is_alive():
                child.kill()
                child.join()


def _expect(pipe: Connection, word: str, process: Any, timeout_s: float) -> None:
    if not pipe.poll(timeout_s) or pipe.recv() != word:
        raise RuntimeError(f"a benchmark process ({process.pid}) did not get {word}")


def _figures(
    transport: str,
    mode: str,
    published: dict[str, Any],
    results: list[tuple[_Subscriber, list[int] | None]],
    rate: int,
    seconds: float,
) -> dict[str, Any]:
    sent = int(published["sent"])
    fast = [(m, lat or []) for m, lat in results if not m.slow]
    latencies = sorted(value for _, lat in fast for value in lat)
    delivered_min = min(int(m.counters[_RECEIVED]) for m, _ in fast)
    # Delivered to every subscriber: the lowest of the fast subscribers' rates, each its
    # count over the time from the first send to its last receipt (one monotonic clock).
    rates = [
        int(m.counters[_RECEIVED]) / ((int(m.counters[_LAST_NS]) - published["started_ns"]) / 1e9)
        if int(m.counters[_LAST_NS]) > published["started_ns"]
        else 0.0
        for m, _ in fast
    ]
    figures: dict[str, Any] = {
        "sent": sent,
        "published_per_s": round(sent / published["elapsed_s"], 1),
        "delivered_to_every": delivered_min,
        "lost": sent - delivered_min,
        "delivered_per_s": round(min(rates), 1),
    }
    if mode != "max":
        figures.update(
            offered_per_s=rate,
            not_sent_at_deadline=published["not_sent_at_deadline"],
            p50_ms=_percentile_ms(latencies, 0.50),
            p99_ms=_percentile_ms(latencies, 0.99),
            max_ms=_percentile_ms(latencies, 1.0),
        )
    if mode == "slow":
        slow = next(m for m, _ in results if m.slow)
        figures.update(
            slow_received=int(slow.counters[_RECEIVED]),
            slow_behind=sent - int(slow.counters[_RECEIVED]),
        )
        if transport == "notify":
            figures["queue_usage_max"] = published["queue_usage_max"]
    return figures


def _server_slow_consumers(monitor_url: str | None) -> int | None:
    """The NATS server's count of slow consumers since it started (``/varz``), ``None``
    if unknown."""
    if monitor_url is None:
        return None
    import urllib.request

    try:
        with urllib.request.urlopen(f"{monitor_url}/varz", timeout=2) as answer:
            return int(json.load(answer)["slow_consumers"])
    except (OSError, ValueError, KeyError):
        return None


# ------------------------------------------------------------------ servers


@contextlib.contextmanager
def _database(url: str | None) -> Iterator[tuple[str, str]]:
    """(URL, where it came from): ``url`` or an embedded PostgreSQL for the run."""
    if url:
        yield url, "DATABASE_URL"
        return
    from api.storage.embedded import start_embedded

    with tempfile.TemporaryDirectory(prefix="gavel-fanout-") as work:
        embedded = start_embedded(Path(work) / "postgres", delete_on_stop=True)
        try:
            yield embedded.dsn, "embedded"
        finally:
            embedded.stop()


@contextlib.contextmanager
def _nats(url: str | None, own: bool) -> Iterator[tuple[str, str, str | None]]:
    """(URL, where it came from, monitoring URL or None): a local nats-server for the run
    if ``own``, else ``url``, else 127.0.0.1:4222 if it answers, else a local one."""
    from api.cluster.nats_server import LocalNatsServer, accepts_connections

    if url and not own:
        yield url, "NATS_URL", None
    elif accepts_connections("127.0.0.1", 4222) and not own:
        yield "nats://127.0.0.1:4222", "127.0.0.1:4222", None
    else:
        with LocalNatsServer(monitor_port=0) as server:
            yield server.url, "local nats-server", server.monitor_url


def _cleaned(url: str) -> str:
    # Without the password, for the report.
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1@", url)


def measure(
    *,
    seconds: float = DEFAULT_SECONDS,
    slow_seconds: float | None = None,
    subscribers: int = DEFAULT_SUBSCRIBERS,
    size: int = DEFAULT_SIZE,
    rate: int = DEFAULT_RATE,
    slow_ms: int = DEFAULT_SLOW_MS,
    connections: int = DEFAULT_NOTIFY_CONNECTIONS,
    database_url: str | None = None,
    nats_url: str | None = None,
    own_nats: bool = False,
    nats_monitor_url: str | None = None,
    transports: Sequence[str] = TRANSPORTS,
) -> dict[str, Any]:
    """Run every phase for every transport; the figures as a JSON-able dict."""
    if size > NOTIFY_PAYLOAD_LIMIT - 1:
        raise ValueError(f"events above {NOTIFY_PAYLOAD_LIMIT - 1} bytes do not fit a NOTIFY")
    result: dict[str, Any] = {
        "bench": "fanout",
        "seconds": seconds,
        "slow_seconds": slow_seconds or seconds,
        "subscribers": subscribers,
        "size": size,
        "rate": rate,
        "slow_ms": slow_ms,
        "notify_connections": connections,
        "cpus": os.cpu_count(),
    }
    with (
        _database(database_url) as (db, db_source),
        _nats(nats_url, own_nats) as (nats, nats_source, monitor_url),
    ):
        result["database"] = db_source
        result["nats_server"] = nats_source
        result["synchronous_commit"] = asyncio.run(_setting(db, "synchronous_commit"))
        for transport in transports:
            url = nats if transport == "nats" else db
            result[transport] = {
                mode: _phase(
                    transport,
                    url,
                    mode,
                    monitor_url=nats_monitor_url or monitor_url,
                    subscribers=subscribers,
                    rate=rate,
                    seconds=(slow_seconds or seconds) if mode == "slow" else seconds,
                    size=size,
                    slow_ms=slow_ms,
                    connections=connections,
                )
                for mode in PHASES
            }
    return result


async def _setting(url: str, name: str) -> str:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        return str(await connection.fetchval("SELECT current_setting($1)", name))
    finally:
        await connection.close()


# ------------------------------------------------------------------ command line


def _text(result: dict[str, Any], out: TextIO) -> None:
    print(
        f"fan-out: 1 publisher, {result['subscribers']} subscribers, {result['size']}-byte "
        f"events, {result['seconds']} s per phase (database: {result['database']}, "
        f"NATS: {result['nats_server']}, synchronous_commit {result['synchronous_commit']})",
        file=out,
    )
    for transport in TRANSPORTS:
        if transport not in result:
            continue
        phases = result[transport]
        top, paced, slow = phases["max"], phases["rate"], phases["slow"]
        print(f"\n{transport}:", file=out)
        print(
            f"  max   published {top['published_per_s']:>9,.0f}/s  delivered to every "
            f"subscriber {top['delivered_per_s']:>9,.0f}/s  lost {top['lost']}",
            file=out,
        )
        print(
            f"  rate  {paced['offered_per_s']:,}/s offered, {paced['published_per_s']:,.0f}/s "
            f"published: p50 {paced['p50_ms']} ms  p99 {paced['p99_ms']} ms  max "
            f"{paced['max_ms']} ms  lost {paced['lost']}",
            file=out,
        )
        extra = (
            f"queue usage max {slow['queue_usage_max']}"
            if transport == "notify"
            else f"slow consumers cut off by the server {slow['server_slow_consumers']}"
        )
        print(
            f"  slow  published {slow['published_per_s']:,.0f}/s, fast p99 {slow['p99_ms']} ms; "
            f"the slow one got {slow['slow_received']} of {slow['sent']}; {extra}",
            file=out,
        )


def build_parser() -> argparse.ArgumentParser:
    """``gavel bench fanout``'s parser."""
    parser = argparse.ArgumentParser(
        prog="gavel bench fanout",
        description="Committed-event fan-out between processes: LISTEN/NOTIFY against NATS.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--seconds", type=float, default=DEFAULT_SECONDS, help="seconds per phase (3)"
    )
    parser.add_argument(
        "--slow-seconds",
        type=float,
        default=None,
        help="seconds of the slow-subscriber phase (default: --seconds)",
    )
    parser.add_argument(
        "--subscribers", type=positive, default=DEFAULT_SUBSCRIBERS, help="subscribers (2)"
    )
    parser.add_argument("--size", type=positive, default=DEFAULT_SIZE, help="event bytes (300)")
    parser.add_argument(
        "--rate", type=positive, default=DEFAULT_RATE, help="events/s of the paced phases (2000)"
    )
    parser.add_argument(
        "--slow-ms",
        type=positive,
        default=DEFAULT_SLOW_MS,
        help="the slow subscriber's ms per event",
    )
    parser.add_argument(
        "--notify-connections",
        type=positive,
        default=DEFAULT_NOTIFY_CONNECTIONS,
        help="the NOTIFY publisher's connections (4)",
    )
    parser.add_argument(
        "--own-nats",
        action="store_true",
        help="start a nats-server for the run even if one runs (its slow consumers counted)",
    )
    parser.add_argument(
        "--nats-monitor-url",
        default=None,
        help="the NATS server's monitoring URL (http://host:8222), to count slow consumers",
    )
    parser.add_argument(
        "--transport", choices=TRANSPORTS, action="append", help="only this one (repeatable)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or None,
        help="PostgreSQL server to use (default: DATABASE_URL, else an embedded one)",
    )
    parser.add_argument(
        "--nats-url",
        default=os.environ.get("NATS_URL") or None,
        help="NATS server (default: NATS_URL, else 127.0.0.1:4222, else a local nats-server)",
    )
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run ``gavel bench fanout`` with ``argv``; print the figures; return 0."""
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    if args.seconds <= 0 or (args.slow_seconds is not None and args.slow_seconds <= 0):
        build_parser().error("--seconds and --slow-seconds must be positive")
    result = measure(
        seconds=args.seconds,
        slow_seconds=args.slow_seconds,
        subscribers=args.subscribers,
        size=args.size,
        rate=args.rate,
        slow_ms=args.slow_ms,
        connections=args.notify_connections,
        database_url=args.database_url,
        nats_url=args.nats_url,
        own_nats=args.own_nats,
        nats_monitor_url=args.nats_monitor_url,
        transports=tuple(args.transport or TRANSPORTS),
    )
    if args.json:
        json.dump(result, out, indent=2)
        print(file=out)
    else:
        _text(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
