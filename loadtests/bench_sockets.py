"""``gavel bench sockets``: the server's memory through storms of idle sockets.

Why
---
Issue 12 (security, item 10): 2,000 idle sockets took the server from 59 to 264 MB of
resident memory, and it stayed there after every socket had closed. Memory that stays
after a storm is either a leak (something per socket is kept: the next storm adds as
much again) or the C allocator keeping the pages it freed for reuse (the next storm
reuses them: memory plateaus). Repeating the storm tells which.

Workload
--------
A server process (:class:`~loadtests.server_process.ServerProcess`) on a fresh database
of ``DATABASE_URL`` or an embedded PostgreSQL, rate limits lifted (one address opens
thousands of sockets). ``--auctions`` (10) English auctions with ``--bidders`` (10)
registered parties each. Then ``--cycles`` (5) times: open ``--sockets`` (2,000)
websockets spread over the auctions, one in four a bidder's and the others watchers',
each with a token minted for it (a fresh ``jti``, as every new client has), each
subscribed and welcomed; wait ``--settle`` seconds (2) and read the server's memory;
close every socket and wait until the server's per-socket gauges on ``/metrics`` are
back to their values before the first storm and no reclaim is due
(:mod:`api.http.reclaim`: a full collection once the closings are 11 s old, so this takes
about 15 s), wait ``--settle`` seconds, read its memory again.

What is reported
----------------
- the server's resident set (``VmRSS`` of ``/proc/<pid>/status``) before the first
  storm (``baseline``), with every socket open (``peak``) and after they all closed
  (``closed``), per cycle, in MB (10^6 bytes);
- per socket: ``(peak - baseline) / sockets`` in kB, median over the cycles;
- the trend: the slope of the resident set after a close over cycles 2 to K (the first
  storm sets the allocator's level), per cycle and as a share of one storm's footprint
  (``peak - baseline``). A leak adds about what it keeps per socket every cycle;
  allocator retention stops growing (``verdict``);
- the server's per-socket gauges (``gavel_sockets_*``, ``gavel_rate_limit_buckets``)
  before the first storm, with every socket open and after the close: a structure that
  stays above its baseline is a leak whatever the resident set says;
- the full collections the server ran after the closings (each followed by glibc's
  ``malloc_trim(0)``), and the longest pause;
- with ``--debug`` (the server runs with ``GAVEL_DEBUG_MEMORY=on``): its live Python
  objects after each close, and its resident set after the last collection, before the
  trim: what the trim gave back.

``--no-reclaim`` runs the server with ``GAVEL_RECLAIM=off``, as it was before the fix;
``--server-env NAME=VALUE`` adds to its environment (``MALLOC_ARENA_MAX=2``,
``PYTHONMALLOC=malloc``). The bench raises its own soft limit of open files to the hard
limit (the server inherits it) and refuses a ``--sockets`` above what that allows.
``--json`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from loadtests.arguments import positive

__all__ = ["main", "measure", "rss_bytes"]

DEFAULT_SOCKETS = 2_000
DEFAULT_CYCLES = 5
DEFAULT_AUCTIONS = 10
DEFAULT_BIDDERS = 10
DEFAULT_SETTLE_S = 2.0
#: Handshakes in flight at once: Sanic's listen backlog is 100.
OPENING = 50
#: Every ``BIDDER_EVERY``-th socket is a bidder's, the others watchers'.
BIDDER_EVERY = 4
#: Files the bench needs besides its sockets (the interpreter, the pipes, HTTP calls).
SPARE_FILES = 200
#: A cycle whose closed resident set grows by more than this share of one storm's
#: footprint over the one before counts as growth (allocator noise stays well below).
LEAK_SHARE = 0.05
#: Buckets beyond one per socket of a storm that still are no leak (addresses, officers).
SPARE_BUCKETS = 50

_MB = 1_000_000
_SERVER_ENV = {
    # One address opens thousands of sockets: rate limits are for the public.
    "GAVEL_RATE_PER_S": "1000000",
    "GAVEL_RATE_BURST": "1000000",
    "GAVEL_LOG_LEVEL": "WARNING",
}
#: The gauges that count per-socket structures (:mod:`api.http.metrics`, :mod:`api.http.reclaim`).
_GAUGE_PREFIXES = ("gavel_sockets_", "gavel_rate_limit_buckets")
_UNRECLAIMED = "gavel_sockets_unreclaimed"
_BUCKETS = "gavel_rate_limit_buckets"


def rss_bytes(pid: int) -> int:
    """The resident set of process ``pid`` in bytes (``VmRSS``, Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _metrics(url: str) -> dict[str, float]:
    """``/metrics`` as ``{name{labels}: value}`` (comments left out)."""
    with urllib.request.urlopen(url + "/metrics", timeout=60) as answer:
        text = answer.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def _gauges(metrics: dict[str, float]) -> dict[str, float]:
    return {
        name: value
        for name, value in metrics.items()
        if name.startswith(_GAUGE_PREFIXES) and "_total" not in name
    }


async def _open_all(ws_url: str, plan: list[tuple[str, str]]) -> list[Any]:
    """Open, subscribe and await the ``welcome`` of every ``(auction, token)``."""
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    gate = asyncio.Semaphore(OPENING)

    async def open_one(auction_id: str, token: str) -> Any:
        async with gate:
            ws = await connect(
                f"{ws_url}/ws/v1/auctions/{auction_id}",
                subprotocols=[Subprotocol("gavel.v1"), Subprotocol(f"gavel.bearer.{token}")],
                open_timeout=60,
                compression=None,
                ping_interval=None,
                # Read every frame as it comes (heartbeats every 5 s), as a browser
                # does: a client that stops reading stops answering the server's pings.
                max_queue=None,
            )
            await ws.send(json.dumps({"type": "subscribe", "since": 0}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if frame["type"] == "welcome":
                    return ws

    return list(await asyncio.gather(*(open_one(a, t) for a, t in plan)))


async def _close_all(sockets: list[Any]) -> None:
    gate = asyncio.Semaphore(OPENING * 4)

    async def close_one(ws: Any) -> None:
        async with gate:
            await ws.close()

    await asyncio.gather(*(close_one(ws) for ws in sockets))


def _settled(now: dict[str, float], baseline: dict[str, float]) -> bool:
    """Every socket of the storm gone and no reclaim due (fewer unreclaimed closings
    than the reclaimer waits for: a storm smaller than that stays until a later one)."""
    from api.http.reclaim import MIN_CLOSED

    return now.get(_UNRECLAIMED, 0.0) < MIN_CLOSED and all(
        now.get(name, 0.0) <= value
        for name, value in baseline.items()
        if name not in (_UNRECLAIMED, _BUCKETS)
    )


async def _wait_for(
    url: str, baseline: dict[str, float], timeout_s: float = 90.0
) -> dict[str, float]:
    """Poll ``/metrics`` until :func:`_settled` (or the timeout passes); the gauges last
    read."""
    deadline = time.monotonic() + timeout_s
    while True:
        now = _gauges(await asyncio.to_thread(_metrics, url))
        if _settled(now, baseline) or time.monotonic() > deadline:
            return now
        await asyncio.sleep(0.5)


def _plan(server: Any, auctions: list[str], bidders: int, sockets: int) -> list[tuple[str, str]]:
    """``(auction, token)`` per socket, each token minted now (a fresh ``jti``)."""
    plan = []
    for i in range(sockets):
        auction_id = auctions[i % len(auctions)]
        if i % BIDDER_EVERY == 0:
            party = f"{auction_id}-p{(i // len(auctions)) % bidders}"
            token = server.token(party, "bidder", auction_id)
        else:
            token = server.token(f"watcher-{i}", "observer", auction_id)
        plan.append((auction_id, token))
    return plan


def _setup(server: Any, auctions: int, bidders: int) -> list[str]:
    """Create the auctions (English, running for an hour) and register their bidders."""
    from loadtests.bench_service import _post

    officer = server.token("bench-officer", "officer")
    ids = []
    starts_at = 0
    for a in range(auctions):
        auction_id = f"mem-{a:03d}"
        starts_at = time.time_ns() // 1000 + 1_000_000  # bidders register meanwhile
        rules = {
            "format": "english",
            "currency": "EUR",
            "starts_at": starts_at,
            "ends_at": starts_at + 3600 * 1_000_000,
            "start_price": "100.00",
            "step": {"amount": "1.00"},
        }
        _post(f"{server.url}/api/v1/auctions", officer, {"id": auction_id, "rules": rules})
        for b in range(bidders):
            url = f"{server.url}/api/v1/auctions/{auction_id}/bidders"
            _post(url, officer, {"party": f"{auction_id}-p{b}"})
        ids.append(auction_id)
    time.sleep(max(0.0, (starts_at - time.time_ns() // 1000) / 1e6) + 0.2)
    return ids


def measure(
    sockets: int = DEFAULT_SOCKETS,
    cycles: int = DEFAULT_CYCLES,
    *,
    auctions: int = DEFAULT_AUCTIONS,
    bidders: int = DEFAULT_BIDDERS,
    settle_s: float = DEFAULT_SETTLE_S,
    database_url: str | None = None,
    reclaim: bool = True,
    debug: bool = False,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run the storms and return the figures (see the module docstring).

    ``env`` adds to the server's environment (``MALLOC_ARENA_MAX``, say). Takes about
    ``cycles`` × (the time to open and close ``sockets`` + 2 × ``settle_s``).
    """
    from loadtests.bench_service import _Database, _raise_open_files_limit
    from loadtests.server_process import ServerProcess

    _raise_open_files_limit()  # the server inherits it
    server_env = {**_SERVER_ENV, **(env or {})}
    if not reclaim:
        server_env["GAVEL_RECLAIM"] = "off"
    if debug:
        server_env["GAVEL_DEBUG_MEMORY"] = "on"
    with tempfile.TemporaryDirectory(prefix="gavel-bench-") as tmp:
        work = Path(tmp)
        with _Database(database_url, work) as db, db.fresh() as dsn:
            server = ServerProcess(work, database_url=dsn, env=server_env).start()
            try:
                assert server.process is not None
                pid = server.process.pid
                ids = _setup(server, auctions, bidders)
                time.sleep(settle_s)
                before = _metrics(server.url)
                baseline_gauges = _gauges(before)
                baseline = rss_bytes(pid)
                rows = asyncio.run(_storms(server, ids, sockets, cycles, bidders, settle_s, before))
            finally:
                server.stop()
    return _figures(sockets, baseline, baseline_gauges, rows, _debug_figures(before), server_env)


async def _storms(
    server: Any,
    ids: list[str],
    sockets: int,
    cycles: int,
    bidders: int,
    settle_s: float,
    before: dict[str, float],
) -> list[dict[str, Any]]:
    """The cycles, in one event loop (a client socket belongs to the loop it opened in)."""
    assert server.process is not None
    pid = server.process.pid
    baseline_gauges = _gauges(before)
    rows = []
    for _ in range(cycles):
        plan = _plan(server, ids, bidders, sockets)
        started = time.perf_counter()
        opened = await _open_all(server.ws_url, plan)
        open_s = time.perf_counter() - started
        await asyncio.sleep(settle_s)
        peak = rss_bytes(pid)
        open_gauges = _gauges(await asyncio.to_thread(_metrics, server.url))
        started = time.perf_counter()
        await _close_all(opened)
        del opened
        closed_gauges = await _wait_for(server.url, baseline_gauges)
        close_s = time.perf_counter() - started
        await asyncio.sleep(settle_s)
        after = await asyncio.to_thread(_metrics, server.url)
        rows.append(
            {
                "open_s": round(open_s, 2),
                "close_s": round(close_s, 2),
                "peak_rss": peak,
                "closed_rss": rss_bytes(pid),
                "open_gauges": open_gauges,
                "closed_gauges": closed_gauges,
                **_debug_figures(after),
            }
        )
    return rows


def _debug_figures(metrics: dict[str, float]) -> dict[str, Any]:
    """What the server's debug gauges say, when it has them."""
    out: dict[str, Any] = {}
    if "gavel_debug_python_objects" in metrics:
        out["python_objects"] = int(metrics["gavel_debug_python_objects"])
    if "gavel_gc_reclaims_total" in metrics:
        out["reclaims"] = int(metrics["gavel_gc_reclaims_total"])
        out["reclaim_max_ms"] = round(metrics["gavel_gc_reclaim_max_seconds"] * 1000, 1)
    if "gavel_debug_rss_after_collect_bytes" in metrics:
        out["untrimmed_rss"] = int(metrics["gavel_debug_rss_after_collect_bytes"])
    return out


def _figures(
    sockets: int,
    baseline: int,
    baseline_gauges: dict[str, float],
    rows: list[dict[str, Any]],
    before: dict[str, Any],
    server_env: dict[str, str],
) -> dict[str, Any]:
    """The report: the rows, per-socket memory and the trend across the cycles."""
    from loadtests.bench_service import _machine

    per_socket = statistics.median((row["peak_rss"] - baseline) / sockets for row in rows)
    closed = [row["closed_rss"] for row in rows]
    footprint = max(1, statistics.median(row["peak_rss"] for row in rows) - baseline)
    # The first storm sets the allocator's level; what matters is whether later ones add.
    later = closed[1:] if len(closed) > 1 else closed
    growth = 0.0
    if len(later) >= 2:
        growth = statistics.linear_regression(range(len(later)), later).slope
    leaked = {
        name: value
        for name, value in rows[-1]["closed_gauges"].items()
        if name not in (_UNRECLAIMED, _BUCKETS) and value > baseline_gauges.get(name, 0.0)
    }
    # A limiter drops idle buckets when it is next asked, so the last storm's stay until
    # the next handshake (and some of this storm's went already): buckets leak if a
    # storm finds more than one storm's worth.
    buckets = rows[-1]["open_gauges"].get(_BUCKETS, 0.0)
    if buckets > baseline_gauges.get(_BUCKETS, 0.0) + sockets + SPARE_BUCKETS:
        leaked[_BUCKETS] = buckets
    if leaked:
        verdict = "leak: per-socket structures stay above their baseline"
    elif len(closed) < 3:
        verdict = "undecided: run at least 3 cycles"
    elif growth > LEAK_SHARE * footprint:
        verdict = "growth: memory after a close rises cycle over cycle"
    else:
        verdict = "plateau: the allocator keeps the pages, nothing per socket is retained"
    return {
        "bench": "sockets",
        "sockets": sockets,
        "cycles": len(rows),
        "server_env": {k: v for k, v in server_env.items() if not k.startswith("GAVEL_RATE")},
        "baseline_rss": baseline,
        "baseline_gauges": baseline_gauges,
        **{f"baseline_{k}": v for k, v in before.items() if k == "python_objects"},
        "rows": rows,
        "per_socket_bytes": round(per_socket),
        "closed_growth_per_cycle_bytes": round(growth),
        "closed_growth_share": round(growth / footprint, 4),
        "retained_share": round((statistics.median(later) - baseline) / footprint, 3),
        "leaked_gauges": leaked,
        "verdict": verdict,
        "machine": _machine(),
    }


def _mb(value: int) -> str:
    return f"{value / _MB:.1f}"


def _short(gauges: dict[str, float]) -> str:
    return ", ".join(f"{name.removeprefix('gavel_')} {value:g}" for name, value in gauges.items())


def _text(figures: dict[str, Any]) -> str:
    rows = figures["rows"]
    lines = [
        f"{figures['sockets']} idle sockets, {figures['cycles']} cycles; server RSS baseline "
        f"{_mb(figures['baseline_rss'])} MB",
        f"{'cycle':>5}{'open s':>8}{'close s':>8}{'peak MB':>9}{'closed MB':>11}"
        f"{'untrimmed MB':>14}{'py objects':>12}",
    ]
    for number, row in enumerate(rows, 1):
        untrimmed = _mb(row["untrimmed_rss"]) if "untrimmed_rss" in row else "-"
        objects = f"{row['python_objects']:,}" if "python_objects" in row else "-"
        lines.append(
            f"{number:>5}{row['open_s']:>8.2f}{row['close_s']:>8.2f}{_mb(row['peak_rss']):>9}"
            f"{_mb(row['closed_rss']):>11}{untrimmed:>14}{objects:>12}"
        )
    lines += [
        f"per socket: {figures['per_socket_bytes'] / 1000:.1f} kB ((peak - baseline) / sockets,"
        " median over the cycles)",
        f"after a close, from cycle 2 on: {figures['closed_growth_per_cycle_bytes'] / _MB:+.2f}"
        f" MB per cycle ({figures['closed_growth_share']:+.1%} of one storm's footprint); "
        f"{figures['retained_share']:.0%} of the footprint stays",
        f"gauges before: {_short(figures['baseline_gauges'])}",
        f"gauges open (last cycle): {_short(rows[-1]['open_gauges'])}",
        f"gauges after the close: {_short(rows[-1]['closed_gauges'])}",
    ]
    if "reclaims" in rows[-1]:
        lines.append(
            f"full collections after closings: {rows[-1]['reclaims']}, longest pause "
            f"{rows[-1]['reclaim_max_ms']} ms"
        )
    lines.append(f"verdict: {figures['verdict']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """``gavel bench sockets [--json] [--sockets N] [--cycles K] …``; 0 on success."""
    import resource

    parser = argparse.ArgumentParser(
        prog="gavel bench sockets",
        description="The server's memory through repeated storms of idle websockets: "
        "per-socket memory, and whether what stays after a storm is a leak.",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.add_argument("--sockets", type=positive, default=DEFAULT_SOCKETS)
    parser.add_argument("--cycles", type=positive, default=DEFAULT_CYCLES)
    parser.add_argument("--auctions", type=positive, default=DEFAULT_AUCTIONS)
    parser.add_argument(
        "--bidders", type=positive, default=DEFAULT_BIDDERS, help="registered per auction"
    )
    parser.add_argument(
        "--settle", type=float, default=DEFAULT_SETTLE_S, help="seconds before each reading"
    )
    parser.add_argument(
        "--no-reclaim",
        action="store_true",
        help="run the server with GAVEL_RECLAIM=off (no full collection after sockets close)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="run the server with GAVEL_DEBUG_MEMORY=on: its Python objects, and its "
        "resident set after each reclaim's collection, before the malloc_trim(0)",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="add to the server's environment (MALLOC_ARENA_MAX=2, say); repeatable",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or None,
        help="PostgreSQL server to use (default: DATABASE_URL, else an embedded one)",
    )
    args = parser.parse_args(argv)
    out = sys.stdout if out is None else out
    if args.settle < 0:
        parser.error("--settle must not be negative")
    env = {}
    for item in args.server_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--server-env takes NAME=VALUE, not {item!r}")
        env[name] = value
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and args.sockets + SPARE_FILES > hard:
        parser.error(
            f"--sockets {args.sockets} needs {args.sockets + SPARE_FILES} open files; "
            f"the hard limit is {hard} (ulimit -Hn)"
        )
    figures = measure(
        args.sockets,
        args.cycles,
        auctions=args.auctions,
        bidders=args.bidders,
        settle_s=args.settle,
        database_url=args.database_url,
        reclaim=not args.no_reclaim,
        debug=args.debug,
        env=env,
    )
    out.write((json.dumps(figures) if args.json else _text(figures)) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
