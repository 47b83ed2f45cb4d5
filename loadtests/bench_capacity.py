"""``gavel bench capacity``: how far one node goes (issue 16).

Why
---
Issue 16 asks how many live auctions and connected sockets one server holds while a
steady bid rate flows, and what stops it. Target on a 2-core machine: at least 2,000
live auctions and 20,000 sockets (most of them watchers) with a p99 acknowledgement under
100 ms at 200 bids/s in all.

Workload
--------
A ladder of steps. Step ``k`` holds ``A_k`` auctions (``--start-auctions``, then times
``--factor``, at most ``--max-auctions``), each with ``--bidders-per-auction`` bidder
sockets and ``--watchers-per-auction`` watcher sockets. Every step runs on a fresh
server process (:class:`~loadtests.server_process.ServerProcess`, rate limits lifted) on
a fresh database of ``DATABASE_URL`` or an embedded PostgreSQL, with ``--edges N``
read-only edge processes (:class:`~loadtests.server_process.EdgeProcess`) holding the
watchers when N > 0 (the bidders always talk to the server). In order:

1. the server's (and edges') resident set with nothing yet;
2. the auctions are created and their bidders registered over HTTP
   (:func:`loadtests.bench_service._setup_auctions`: reverse auctions, one-cent steps,
   ``beat_own``, an hour long: every bid is accepted and the auctions outlive the run),
   ``--settle`` seconds pass, the resident set again: memory per live auction;
3. ``--generators G`` load-generator processes (:func:`loadtests.bench_service._drive`,
   the raw websocket client; more processes when the open-files limit needs them) open
   every socket and subscribe; once all are open and idle, the resident sets again:
   memory per idle socket on the process holding them;
4. the bidders bid, open loop, ``--rate`` bids/s in all spread evenly over every bidder;
   after ``--settle`` seconds of warm-up, ``--seconds`` are measured: acknowledgement
   latency (send to ``ack`` on the generator: p50, p99, max), bids/s acknowledged, the
   watchers' events/s and fan-out p99 (the event's ``server_time`` to its receipt, as
   ``gavel bench service``'s crowd reports it; no target here), and the CPU of the
   server, each edge, each generator and PostgreSQL (all its processes on the machine,
   in sum) over the window, and the share of it the server and each edge spent runnable
   but waiting for a core (``/proc/<pid>/schedstat``: high when the machine is short of
   cores, whoever uses them).

A step fails when its p99 reaches ``--p99-ms`` (100), a socket is dropped, fewer than
90 % of the offered bids are acknowledged, or a process fails. The ladder stops at the
first failing step (with ``--keep-going``, only at one where a process failed: on a
machine shared with other work one noisy step does not end the curve, and the verdict
takes the largest step that passed), at ``--max-auctions``, or when the next step would
not fit under the open-files limit (each socket is a file on the process that holds it;
the bench raises its soft limit to the hard one, or beyond when it may, and the children
inherit it; a step that would overflow is cut to the largest that fits, run, and then
the ladder stops). A process at 90 % of a core or more counts as saturated; the report
names the saturated processes of the last good step and of the first failing one, and
says so when the load generator is the limit.

``--json`` prints one JSON document (and each step's table row on stderr as it finishes);
otherwise a table row per step as it finishes and a verdict line against the targets.
Call :func:`main` with the arguments after ``gavel bench capacity``. Takes about
``settle * 2 + seconds`` plus set-up (a few seconds per thousand auctions) per step.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from loadtests.arguments import not_negative, positive
from loadtests.bench_service import (
    _SERVER_ENV,
    _Database,
    _drive,
    _machine,
    _percentile,
    _postgres_pids,
    _setup_auctions,
)
from loadtests.bench_sockets import rss_bytes

__all__ = ["Layout", "main", "open_files_limit"]

#: Targets of issue 16.
TARGET_AUCTIONS = 2_000
TARGET_SOCKETS = 20_000
TARGET_P99_MS = 100.0
TARGET_RATE = 200.0
#: A process at this share of one core or more is saturated.
SATURATED_CORES = 0.9
#: A step acknowledging less than this share of the offered bids fails.
RATE_SHARE = 0.9
#: Files a process needs besides its sockets (interpreter, pipes, database pool, logs).
SPARE_FILES = 200
#: The limit of open files asked for when the hard limit may be raised (root with
#: CAP_SYS_RESOURCE); the kernel's ``fs.nr_open`` bounds it.
WANTED_FILES = 262_144

_MB = 1_000_000
_KB = 1_000


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the sockets of one step go: per auction ``bidders`` bidder sockets on the
    server and ``watchers`` watcher sockets on the server (``edges == 0``) or spread
    round-robin over the edges; auctions spread round-robin over ``generators``."""

    auctions: int
    bidders: int
    watchers: int
    edges: int
    generators: int

    @property
    def sockets(self) -> int:
        """Every socket of the step."""
        return self.auctions * (self.bidders + self.watchers)

    def per_process(self) -> dict[str, int]:
        """Sockets held by each process (the most an edge or generator gets)."""
        watchers = self.auctions * self.watchers
        held = {"server": self.auctions * self.bidders + (0 if self.edges else watchers)}
        for index in range(self.edges):
            held[f"edge-{index}"] = watchers // self.edges + (index < watchers % self.edges)
        for index in range(self.generators):
            share = self.auctions // self.generators + (index < self.auctions % self.generators)
            held[f"generator-{index}"] = share * (self.bidders + self.watchers)
        return held

    def fits(self, files: int) -> bool:
        """Whether every process stays under ``files`` open files."""
        return max(self.per_process().values()) + SPARE_FILES <= files

    def with_generators_for(self, files: int) -> Layout:
        """This layout with at least as many generators as ``files`` needs."""
        per_auction = self.bidders + self.watchers
        room = max(1, (files - SPARE_FILES) // max(1, per_auction))
        needed = max(self.generators, math.ceil(self.auctions / room))
        return Layout(self.auctions, self.bidders, self.watchers, self.edges, needed)

    def largest_fitting(self, files: int) -> int:
        """The most auctions the server and edges can hold under ``files`` (generators
        are added as needed, so they do not bound it). O(log n)."""
        low, high = 0, 10_000_000
        while low < high:
            middle = (low + high + 1) // 2
            trial = Layout(middle, self.bidders, self.watchers, self.edges, 1)
            held = trial.per_process()
            held.pop("generator-0")
            if max(held.values()) + SPARE_FILES <= files:
                low = middle
            else:
                high = middle - 1
        return low


def open_files_limit() -> dict[str, Any]:
    """Raise this process's limit of open files as far as allowed (children inherit it):
    beyond the hard limit when permitted, else the soft limit to the hard one. Returns
    the limit in force and whether the hard limit could be raised."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    raisable = False
    if hard != resource.RLIM_INFINITY and hard < WANTED_FILES:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (WANTED_FILES, WANTED_FILES))
            raisable = True
    if not raisable and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {"soft": soft, "hard": hard, "hard_raisable": raisable}


def _rss(pids: dict[str, int]) -> dict[str, int]:
    found: dict[str, int] = {}
    for name, pid in pids.items():
        with contextlib.suppress(OSError, RuntimeError):
            found[name] = rss_bytes(pid)
    return found


def _checkout() -> dict[str, Any]:
    """The checkout the run measures: its commit and the tracked files modified in its
    working tree (the server runs the working tree: in a shared checkout, others' edits
    in progress are measured too). Empty outside a git checkout."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout

    try:
        head = git("rev-parse", "--short=12", "HEAD").strip()
        modified = git("diff", "--name-only", "HEAD").split()
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": head, "modified": modified}


# ------------------------------------------------------------------ one step


def _step(db: _Database, work: Path, layout: Layout, args: argparse.Namespace) -> dict[str, Any]:
    """Run one step of the ladder on a fresh server and database; its figures."""
    from loadtests.server_process import EdgeProcess, ServerProcess

    result: dict[str, Any] = {
        "auctions": layout.auctions,
        "sockets": layout.sockets,
        "bidders": layout.auctions * layout.bidders,
        "watchers": layout.auctions * layout.watchers,
        "edges": layout.edges,
        "generators": layout.generators,
        "sockets_per_process": layout.per_process(),
        "offered_bids_per_s": args.rate,
    }
    with db.fresh() as dsn:
        server = ServerProcess(
            work, database_url=dsn, env=dict(_SERVER_ENV), args=("--commit-mode", "group")
        ).start()
        edges: list[EdgeProcess] = []
        try:
            for _ in range(layout.edges):
                edge = EdgeProcess(work, server, env=dict(_SERVER_ENV))
                edges.append(edge)
                edge.start()
            assert server.process is not None
            pids = {"server": server.process.pid}
            for index, edge in enumerate(edges):
                assert edge.process is not None
                pids[f"edge-{index}"] = edge.process.pid
            time.sleep(min(1.0, args.settle))
            empty = _rss(pids)
            started = time.monotonic()
            plan = [
                (path, token, "paced" if kind == "bid" else kind)
                for path, token, kind in _setup_auctions(
                    server,
                    layout.auctions,
                    layout.bidders,
                    layout.watchers,
                    [edge.ws_url for edge in edges],
                )
            ]
            result["setup_s"] = round(time.monotonic() - started, 1)
            time.sleep(args.settle)
            with_auctions = _rss(pids)
            idle: dict[str, int] = {}

            def ready(generator_pids: list[int]) -> None:
                time.sleep(min(1.0, args.settle))  # the last subscriptions' backlogs
                idle.update(_rss(pids))
                for index, pid in enumerate(generator_pids):
                    with contextlib.suppress(OSError, RuntimeError):
                        idle[f"generator-{index}"] = rss_bytes(pid)

            groups: dict[str, Callable[[], list[int]]] = {
                name: _pid_group(pid) for name, pid in pids.items()
            }
            groups["postgres"] = _postgres_pids
            waits: dict[str, tuple[int, int]] = {}
            started = time.monotonic()
            stats, cpu, measured = _drive(
                server.ws_url,
                plan,
                generators=layout.generators,
                warmup_s=args.settle,
                seconds=args.seconds,
                cpu_groups=groups,
                rate=args.rate / (layout.auctions * layout.bidders),
                raw=True,
                on_ready=ready,
                on_measure=lambda seconds: waits.update(_run_queue(pids)),
                split_generators=True,
            )
            result["run_s"] = round(time.monotonic() - started, 1)
            result["run_queue_wait_share"] = _wait_shares(waits, _run_queue(pids))
        except Exception as error:  # noqa: BLE001 - a failing step is a result of the ladder
            result.update(passed=False, failure=f"error: {error}"[:500])
            return result
        finally:
            for edge in edges:
                edge.stop()
            server.stop()
    return _figures(result, layout, args, stats, cpu, measured, empty, with_auctions, idle)


def _run_queue(pids: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Per process: nanoseconds spent runnable but waiting for a core so far
    (``/proc/<pid>/schedstat``, second field) and the monotonic clock in ns."""
    found: dict[str, tuple[int, int]] = {}
    for name, pid in pids.items():
        with contextlib.suppress(OSError, ValueError, IndexError):
            waited = int(Path(f"/proc/{pid}/schedstat").read_text().split()[1])
            found[name] = (waited, time.monotonic_ns())
    return found


def _wait_shares(
    first: dict[str, tuple[int, int]], last: dict[str, tuple[int, int]]
) -> dict[str, float]:
    """The share of the time between two :func:`_run_queue` samples each process spent
    waiting for a core: near 0 on an idle machine; high, the machine is short of cores."""
    shares: dict[str, float] = {}
    for name, (waited, at) in first.items():
        if name in last and last[name][1] > at:
            shares[name] = round((last[name][0] - waited) / (last[name][1] - at), 3)
    return shares


def _pid_group(pid: int) -> Callable[[], list[int]]:
    return lambda: [pid]


def _figures(
    result: dict[str, Any],
    layout: Layout,
    args: argparse.Namespace,
    stats: Any,
    cpu: dict[str, float],
    measured: float,
    empty: dict[str, int],
    with_auctions: dict[str, int],
    idle: dict[str, int],
) -> dict[str, Any]:
    """Fill ``result`` with a measured step's figures and its pass or failure."""
    held = layout.per_process()
    rss: dict[str, dict[str, float]] = {}
    per_socket: dict[str, float | None] = {}
    for name in empty:
        rss[name] = {
            "empty_mb": round(empty[name] / _MB, 1),
            "with_auctions_mb": round(with_auctions.get(name, 0) / _MB, 1),
            "with_sockets_mb": round(idle.get(name, 0) / _MB, 1),
        }
        if held.get(name) and name in idle and name in with_auctions:
            per_socket[name] = round((idle[name] - with_auctions[name]) / held[name] / _KB, 2)
    for name, value in idle.items():
        if name.startswith("generator-"):
            rss[name] = {"with_sockets_mb": round(value / _MB, 1)}
    growth = with_auctions.get("server", 0) - empty.get("server", 0)
    acks_per_s = round(stats.acks / measured, 1)
    p99 = _percentile(stats.ack_hist, 0.99)
    saturated = sorted(
        name for name, used in cpu.items() if name != "other_processes" and used >= SATURATED_CORES
    )
    result.update(
        {
            "bids_per_s": acks_per_s,
            "ack_p50_ms": _percentile(stats.ack_hist, 0.50),
            "ack_p99_ms": p99,
            "ack_max_ms": _percentile(stats.ack_hist, 1.0),
            "acks": stats.acks,
            "rejects": stats.rejects,
            "dropped_sockets": stats.dropped,
            "connect_errors": stats.connect_errors,
            "watcher_events_per_s": round(stats.events / measured, 1),
            "fanout_p99_ms": _percentile(stats.fanout_hist, 0.99),
            "rss": rss,
            "kb_per_live_auction": round(growth / layout.auctions / _KB, 2),
            "kb_per_idle_socket": per_socket,
            "cpu_cores": cpu,
            "machine_cores_busy": round(sum(cpu.values()), 2),
            "saturated": saturated,
            "measured_s": round(measured, 2),
        }
    )
    if stats.sample_reject:
        result["sample_reject"] = stats.sample_reject
    failure = None
    if p99 is None:
        failure = "no bid acknowledged"
    elif p99 >= args.p99_ms:
        failure = f"p99 {p99} ms >= {args.p99_ms:g} ms"
    elif stats.dropped:
        failure = f"{stats.dropped} sockets dropped"
    elif acks_per_s < RATE_SHARE * args.rate:
        failure = f"only {acks_per_s} of {args.rate:g} bids/s acknowledged"
    result["passed"] = failure is None
    result["failure"] = failure
    return result


# ------------------------------------------------------------------ the ladder


def _ladder(
    args: argparse.Namespace, files: int, on_step: Callable[[dict[str, Any]], None]
) -> tuple[list[dict[str, Any]], str]:
    """Run the steps; returns them and why the ladder stopped."""
    shape = Layout(args.start_auctions, args.bidders_per_auction, args.watchers, args.edges, 1)
    auctions = min(args.start_auctions, args.max_auctions)
    fitting = shape.largest_fitting(files)
    if fitting < auctions:
        auctions = fitting
    steps: list[dict[str, Any]] = []
    if auctions < 1:
        return steps, f"open-files limit {files}: not even one auction fits"
    with tempfile.TemporaryDirectory(prefix="gavel-capacity-") as tmp:
        work = Path(tmp)
        with _Database(args.database_url, work) as db:
            while True:
                layout = Layout(
                    auctions, args.bidders_per_auction, args.watchers, args.edges, args.generators
                ).with_generators_for(files)
                step = _step(db, work, layout, args)
                step["step"] = len(steps) + 1
                steps.append(step)
                on_step(step)
                failed = not step["passed"]
                if failed and (not args.keep_going or "cpu_cores" not in step):
                    return steps, f"step {step['step']} failed: {step['failure']}"
                if auctions >= args.max_auctions:
                    return steps, f"reached --max-auctions {args.max_auctions}"
                wanted = min(args.max_auctions, max(auctions + 1, round(auctions * args.factor)))
                if fitting < wanted:
                    if fitting <= auctions:
                        held = Layout(
                            auctions + 1, args.bidders_per_auction, args.watchers, args.edges, 1
                        ).per_process()
                        held.pop("generator-0")
                        name = max(held, key=lambda key: held[key])
                        return steps, (
                            f"open-files limit {files}: {auctions + 1} auctions would put "
                            f"{held[name]} sockets on the {name} (use more --edges)"
                        )
                    wanted = fitting
                auctions = wanted


def _limit(step: dict[str, Any] | None) -> str | None:
    """Which process limits ``step``: its saturated processes, a generator first."""
    if step is None or "cpu_cores" not in step:
        return None
    cpu = step["cpu_cores"]
    generators = [name for name in step["saturated"] if name.startswith("generator-")]
    if generators:
        return (
            "the load generator (" + ", ".join(f"{n} {cpu[n]:.2f} cores" for n in generators) + ")"
        )
    if step["saturated"]:
        return ", ".join(f"{name} ({cpu[name]:.2f} cores)" for name in step["saturated"])
    busy = step["machine_cores_busy"]
    cores = os.cpu_count() or 1
    if busy >= 0.9 * cores:
        others = cpu.get("other_processes", 0.0)
        return (
            f"the machine: {busy:.2f} of {cores} cores busy ({busy - others:.2f} ours, "
            f"{others:.2f} other processes'), no single process saturated"
        )
    top = max((n for n in cpu if n != "other_processes"), key=lambda n: cpu[n])
    return f"no process saturated (busiest: {top} {cpu[top]:.2f} cores)"


def _verdict(
    steps: list[dict[str, Any]], stopped_by: str, args: argparse.Namespace
) -> dict[str, Any]:
    good = [step for step in steps if step["passed"]]
    failing = next((step for step in steps if not step["passed"]), None)
    best = good[-1] if good else None
    meets = {
        "auctions": bool(best and best["auctions"] >= TARGET_AUCTIONS),
        "sockets": bool(best and best["sockets"] >= TARGET_SOCKETS),
        "p99_under_100ms_at_200_bids_per_s": bool(
            best
            and best["ack_p99_ms"] is not None
            and best["ack_p99_ms"] < TARGET_P99_MS
            and args.rate >= TARGET_RATE
            and best["bids_per_s"] >= RATE_SHARE * TARGET_RATE
        ),
    }
    return {
        "stopped_by": stopped_by,
        "last_good": None
        if best is None
        else {k: best[k] for k in ("step", "auctions", "sockets", "bids_per_s", "ack_p99_ms")},
        "first_failing": None
        if failing is None
        else {k: failing.get(k) for k in ("step", "auctions", "sockets", "failure")},
        "limit_at_last_good": _limit(best),
        "limit_at_first_failing": _limit(failing),
        "targets": {
            "auctions": TARGET_AUCTIONS,
            "sockets": TARGET_SOCKETS,
            "ack_p99_ms": TARGET_P99_MS,
            "bids_per_s": TARGET_RATE,
        },
        "meets": meets,
        "meets_targets": all(meets.values()),
    }


# ------------------------------------------------------------------ output


def _header() -> str:
    return (
        f"{'step':>4} {'auctions':>8} {'sockets':>8} {'bids/s':>7} {'p50':>7} {'p99':>7} "
        f"{'max':>7} {'fan p99':>8} {'srv MB':>7} {'kB/auc':>7} {'kB/sock':>15}  "
        "cpu (cores)  result"
    )


def _row(step: dict[str, Any]) -> str:
    if "cpu_cores" not in step:
        return (
            f"{step['step']:>4} {step['auctions']:>8} {step['sockets']:>8}  FAIL {step['failure']}"
        )
    per_socket = step["kb_per_idle_socket"]
    sockets = "/".join(f"{per_socket[n]:.1f}" for n in per_socket if per_socket[n] is not None)
    cpu = " ".join(
        f"{name.replace('generator', 'gen')} {used:.2f}" for name, used in step["cpu_cores"].items()
    )
    waits = step.get("run_queue_wait_share", {})
    if waits:
        cpu += "  waiting for a core " + " ".join(f"{n} {w:.0%}" for n, w in waits.items())
    verdict = "ok" if step["passed"] else f"FAIL {step['failure']}"
    return (
        f"{step['step']:>4} {step['auctions']:>8} {step['sockets']:>8} "
        f"{step['bids_per_s']:>7.1f} {step['ack_p50_ms'] or 0:>7.2f} "
        f"{step['ack_p99_ms'] or 0:>7.2f} "
        f"{step['ack_max_ms'] or 0:>7.1f} {step['fanout_p99_ms'] or 0:>8.1f} "
        f"{step['rss']['server']['with_sockets_mb']:>7.1f} "
        f"{step['kb_per_live_auction']:>7.1f} {sockets:>15}  {cpu}  {verdict}"
    )


def _verdict_line(verdict: dict[str, Any]) -> str:
    best = verdict["last_good"]
    reached = (
        "no step passed"
        if best is None
        else f"{best['auctions']} live auctions, {best['sockets']} sockets, "
        f"{best['bids_per_s']} bids/s at p99 {best['ack_p99_ms']} ms"
    )
    answer = "MEETS" if verdict["meets_targets"] else "MISSES"
    return (
        f"verdict: {reached}: {answer} the targets (>= {TARGET_AUCTIONS} auctions, "
        f">= {TARGET_SOCKETS} sockets, p99 < {TARGET_P99_MS:g} ms at {TARGET_RATE:g} bids/s); "
        f"stopped by {verdict['stopped_by']}; limit at the last good step: "
        f"{verdict['limit_at_last_good']}; at the first failing: "
        f"{verdict['limit_at_first_failing']}"
    )


# ------------------------------------------------------------------ command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gavel bench capacity",
        description="Raise the live auctions and sockets on one node under a steady bid "
        "rate until the p99 acknowledgement passes the limit; say what limits.",
    )
    parser.add_argument("--json", action="store_true", help="one JSON document")
    parser.add_argument("--start-auctions", type=positive, default=250, help="first step")
    parser.add_argument("--factor", type=float, default=2.0, help="auctions times this per step")
    parser.add_argument("--max-auctions", type=positive, default=4_000, help="last step at most")
    parser.add_argument("--watchers-per-auction", dest="watchers", type=not_negative, default=9)
    parser.add_argument("--bidders-per-auction", type=positive, default=1)
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="bids/s in all")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per step")
    parser.add_argument(
        "--settle", type=float, default=5.0, help="seconds before reading memory and warm-up"
    )
    parser.add_argument("--p99-ms", type=float, default=TARGET_P99_MS, help="a step fails here")
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="climb on past a step that missed (not one that broke): on a busy machine, "
        "the whole curve; the verdict takes the largest step that passed",
    )
    parser.add_argument(
        "--edges", type=not_negative, default=0, help="read-only edges holding the watchers"
    )
    parser.add_argument(
        "--generators",
        type=positive,
        default=2,
        help="load-generator processes (more when the open-files limit needs them)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or None,
        help="PostgreSQL server to use (default: DATABASE_URL, else an embedded one)",
    )
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the ladder with the arguments after ``gavel bench capacity``; print the table
    (or ``--json``) on ``out`` (stdout). 0 when the ladder ran, whatever it found."""
    args = _parser().parse_args(list(argv) if argv is not None else None)
    if args.factor <= 1.0:
        raise SystemExit("gavel bench capacity: --factor must be above 1")
    out = out or sys.stdout
    limit = open_files_limit()
    if not args.json:
        print(
            f"open files: {limit['soft']} per process "
            f"(hard limit {'raised' if limit['hard_raisable'] else 'fixed'}); "
            f"{args.watchers} watchers and {args.bidders_per_auction} bidders per auction, "
            f"{args.rate:g} bids/s in all, {args.edges} edges",
            file=out,
            flush=True,
        )
        print(_header(), file=out, flush=True)

    def on_step(step: dict[str, Any]) -> None:
        # Under --json, the rows go to stderr as progress: a ladder takes minutes.
        print(_row(step), file=sys.stderr if args.json else out, flush=True)

    steps, stopped_by = _ladder(args, limit["soft"], on_step)
    verdict = _verdict(steps, stopped_by, args)
    if args.json:
        document = {
            "benchmark": "capacity",
            "checkout": _checkout(),
            "machine": _machine(),
            "database": "DATABASE_URL" if args.database_url else "embedded",
            "open_files": limit,
            "settings": {
                "start_auctions": args.start_auctions,
                "factor": args.factor,
                "max_auctions": args.max_auctions,
                "watchers_per_auction": args.watchers,
                "bidders_per_auction": args.bidders_per_auction,
                "rate": args.rate,
                "seconds": args.seconds,
                "settle": args.settle,
                "p99_ms": args.p99_ms,
                "edges": args.edges,
                "generators": args.generators,
            },
            "steps": steps,
            **verdict,
        }
        print(json.dumps(document), file=out, flush=True)
    else:
        print(_verdict_line(verdict), file=out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
