"""``gavel bench loopback``: what one small socket write costs on this machine.

Why
---
The crowd scenario of ``gavel bench service`` sends about 100,000 watcher frames a second
over loopback TCP, the server and the load generator on the same machine. Every
``send()`` on loopback runs the whole TCP path in the kernel on the sender's CPU: the
sender's side, the receiver's side, and the wake-up of a receiver that sleeps in
``epoll``. That cost is a property of the machine (its kernel, its virtualisation), not
of Gavel, and it sets a floor under the crowd: no server written in any language pays
less for a frame than the kernel charges for the write that carries it. This benchmark
measures the floor, so crowd figures from different machines can be compared.

Workload
--------
A reader process (uvloop, the same event loop as the load generator) accepts
``--sockets`` connections (1,000) and discards what arrives. This process writes
``--size`` bytes (200, about a bid event frame) to them in turn with plain
``socket.send``, paced at ``--rate`` writes a second (in batches every millisecond) for
``--seconds`` (5). No framework, no websocket framing, no Python above the loop.

What is reported
----------------
Writes per second achieved; the writer's CPU per write in microseconds (``getrusage``),
in all and split into kernel (system) and user time (the split follows the kernel's
tick accounting and varies from run to run; the sum is steadier); the reader's CPU per
write; and the cores that 100,000 writes a second cost the writer and the reader
(``writer_cores_per_100k``, ``reader_cores_per_100k``): the crowd's watcher load if every
frame were its own write. The writer's user time is a bare ``send`` call in a loop, about
a microsecond; everything else is the kernel's.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import socket
import sys
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any, TextIO

__all__ = ["main", "measure"]

DEFAULT_SOCKETS = 1_000
DEFAULT_SIZE = 200
DEFAULT_RATE = 50_000
DEFAULT_SECONDS = 5.0


def _reader(pipe: Connection) -> None:
    """The reader process: a uvloop server that discards what arrives, until told to
    stop; then it reports its own CPU seconds."""
    import asyncio

    import uvloop

    class Discard(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            pass

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Discard, "127.0.0.1", 0, backlog=4096)
        pipe.send(server.sockets[0].getsockname()[1])
        await loop.run_in_executor(None, pipe.recv)  # "stop"
        server.close()

    uvloop.run(serve())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    pipe.send((usage.ru_utime, usage.ru_stime))


def measure(
    sockets: int = DEFAULT_SOCKETS,
    size: int = DEFAULT_SIZE,
    rate: int = DEFAULT_RATE,
    seconds: float = DEFAULT_SECONDS,
) -> dict[str, Any]:
    """Run the workload and return its figures (see the module docstring).

    O(rate × seconds) writes; takes ``seconds`` plus about half a second to set up.
    """
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    reader = context.Process(target=_reader, args=(child,), daemon=True)
    reader.start()
    child.close()
    try:
        if not parent.poll(30):
            raise RuntimeError("the reader did not start")
        port = parent.recv()
        conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(sockets)]
        for conn in conns:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        frame = b"x" * size
        time.sleep(0.3)  # every accept done
        per_tick = max(1, rate // 1000)
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        tick = started
        writes = 0
        count = len(conns)
        while True:
            now = time.perf_counter()
            if now - started >= seconds:
                break
            for _ in range(per_tick):
                conns[writes % count].send(frame)
                writes += 1
            tick += 0.001
            if tick > now:
                time.sleep(tick - now)
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        for conn in conns:
            conn.close()
        parent.send("stop")
        if not parent.poll(30):
            raise RuntimeError("the reader did not report")
        reader_user, reader_sys = parent.recv()
    finally:
        reader.join(10)
        if reader.is_alive():
            reader.kill()
    user = after.ru_utime - before.ru_utime
    kernel = after.ru_stime - before.ru_stime
    per = 1e6 / max(1, writes)
    return {
        "bench": "loopback",
        "sockets": sockets,
        "size": size,
        "rate_offered": rate,
        "seconds": round(elapsed, 2),
        "writes_per_s": round(writes / elapsed, 1),
        "writer_us_per_write": round((user + kernel) * per, 2),
        "writer_kernel_us_per_write": round(kernel * per, 2),
        "writer_user_us_per_write": round(user * per, 2),
        "reader_us_per_write": round((reader_user + reader_sys) * per, 2),
        "writer_cores_per_100k": round((user + kernel) * per * 0.1, 2),
        "reader_cores_per_100k": round((reader_user + reader_sys) * per * 0.1, 2),
    }


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """``gavel bench loopback [--json] [--sockets N] [--size B] [--rate R] [--seconds S]``."""
    parser = argparse.ArgumentParser(
        prog="gavel bench loopback",
        description="What one small write to a loopback TCP socket costs on this machine.",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.add_argument("--sockets", type=int, default=DEFAULT_SOCKETS)
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="bytes per write")
    parser.add_argument("--rate", type=int, default=DEFAULT_RATE, help="writes per second")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS)
    args = parser.parse_args(argv)
    out = sys.stdout if out is None else out
    if min(args.sockets, args.size, args.rate) < 1 or args.seconds <= 0:
        parser.error("--sockets, --size, --rate and --seconds must be positive")
    figures = measure(args.sockets, args.size, args.rate, args.seconds)
    if args.json:
        out.write(json.dumps(figures) + "\n")
    else:
        out.write(
            f"{figures['writes_per_s']:,.0f} writes/s of {args.size} bytes to "
            f"{args.sockets} loopback sockets: writer {figures['writer_us_per_write']} µs "
            f"per write (kernel {figures['writer_kernel_us_per_write']}, user "
            f"{figures['writer_user_us_per_write']}), reader "
            f"{figures['reader_us_per_write']} µs; 100,000 writes/s cost the writer "
            f"{figures['writer_cores_per_100k']} cores and the reader "
            f"{figures['reader_cores_per_100k']}\n"
        )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
