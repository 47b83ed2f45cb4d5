"""``gavel bench capacity``: the socket layout and its open-files arithmetic, and a tiny
real ladder (a server, an edge, generators, real websockets) whose report is checked
for its fields and their consistency, never for a speed."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from loadtests import bench_capacity
from loadtests.bench_capacity import SPARE_FILES, Layout


def test_the_layout_puts_watchers_on_the_edges_and_auctions_on_the_generators() -> None:
    layout = Layout(auctions=5, bidders=1, watchers=9, edges=2, generators=2)
    assert layout.sockets == 50
    assert layout.per_process() == {
        "server": 5,
        "edge-0": 23,
        "edge-1": 22,
        "generator-0": 30,
        "generator-1": 20,
    }
    alone = Layout(auctions=5, bidders=1, watchers=9, edges=0, generators=1)
    assert alone.per_process() == {"server": 50, "generator-0": 50}
    assert alone.fits(50 + SPARE_FILES) and not alone.fits(49 + SPARE_FILES)


def test_generators_are_added_and_auctions_cut_to_the_open_files_limit() -> None:
    files = 20_000
    layout = Layout(auctions=2_000, bidders=1, watchers=9, edges=1, generators=1)
    wider = layout.with_generators_for(files)
    assert wider.generators == 2 and wider.fits(files)
    # The server alone holds every socket: 1,980 auctions of 10 fit under 20,000 - 200.
    assert Layout(1, 1, 9, 0, 1).largest_fitting(files) == 1_980
    # One edge holds the watchers: 9 a auction.
    assert Layout(1, 1, 9, 1, 1).largest_fitting(files) == 2_200
    assert Layout(1, 1, 9, 2, 1).largest_fitting(files) == 4_400


def test_the_ladder_grows_is_cut_to_the_limit_and_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The ladder's arithmetic, each step answered at once (no server)."""
    fail_at: list[int] = []

    def step(db: object, work: object, layout: Layout, args: object) -> dict[str, Any]:
        failure = "p99 120.0 ms >= 100 ms" if layout.auctions in fail_at else None
        return {
            "auctions": layout.auctions,
            "generators": layout.generators,
            "passed": failure is None,
            "failure": failure,
        }

    monkeypatch.setattr(bench_capacity, "_step", step)

    def ladder(files: int, *argv: str) -> tuple[list[tuple[int, int]], str]:
        args = bench_capacity._parser().parse_args(["--database-url=unused", *argv])
        steps, stopped_by = bench_capacity._ladder(args, files, lambda step: None)
        return [(s["auctions"], s["generators"]) for s in steps], stopped_by

    # 250, 500, 1000, 2000 on one edge; 2,200 fit under 20,000 files, then no more.
    steps, stopped_by = ladder(20_000, "--edges=1", "--generators=1")
    assert steps == [(250, 1), (500, 1), (1000, 1), (2000, 2), (2200, 2)]
    assert stopped_by.startswith("open-files limit 20000: 2201 auctions would put 19809 ")
    assert "edge-0" in stopped_by
    steps, stopped_by = ladder(100_000, "--edges=2", "--factor=1.5", "--max-auctions=1000")
    assert [auctions for auctions, _ in steps] == [250, 375, 562, 843, 1000]
    assert stopped_by == "reached --max-auctions 1000"
    fail_at.append(500)
    steps, stopped_by = ladder(20_000, "--edges=2")
    assert [auctions for auctions, _ in steps] == [250, 500]
    assert stopped_by == "step 2 failed: p99 120.0 ms >= 100 ms"
    # --keep-going climbs past a step that missed (this one measured: it has cpu figures).
    monkeypatch.setattr(
        bench_capacity, "_step", lambda *a: {**step(*a), "cpu_cores": {"server": 0.5}}
    )
    steps, stopped_by = ladder(20_000, "--edges=2", "--keep-going", "--max-auctions=2000")
    assert [auctions for auctions, _ in steps] == [250, 500, 1000, 2000]
    assert stopped_by == "reached --max-auctions 2000"


def test_one_real_step_reports_consistent_figures(
    pg_server_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A limit of 290 files lets the edge hold 90 watchers: 10 auctions of 9, and the
    # ladder stops there; their 100 sockets need a second generator.
    limit = {"soft": SPARE_FILES + 90, "hard": SPARE_FILES + 90, "hard_raisable": False}
    monkeypatch.setattr(bench_capacity, "open_files_limit", lambda: limit)
    out = io.StringIO()
    argv = [
        "--json",
        "--start-auctions=10",
        "--watchers-per-auction=9",
        "--rate=20",
        "--seconds=1",
        "--settle=0.3",
        "--edges=1",
        "--generators=1",
        f"--database-url={pg_server_dsn}",
    ]
    assert bench_capacity.main(argv, out=out) == 0
    report = json.loads(out.getvalue())
    assert report["benchmark"] == "capacity" and report["open_files"] == limit
    assert set(report["checkout"]) == {"commit", "modified"}  # this test runs in a checkout
    (step,) = report["steps"]
    assert (step["auctions"], step["sockets"], step["generators"]) == (10, 100, 2)
    assert report["stopped_by"].startswith("open-files limit 290")
    check_step(step)
    assert report["last_good"]["auctions"] == 10 and report["first_failing"] is None
    assert set(report["meets"]) == {"auctions", "sockets", "p99_under_100ms_at_200_bids_per_s"}
    assert report["meets_targets"] is False  # 10 auctions are not 2,000
    assert isinstance(report["limit_at_last_good"], str)

    # The human table: one row per step and the verdict line.
    assert bench_capacity._row(step).split()[:3] == ["1", "10", "100"]
    assert bench_capacity._verdict_line(report).startswith("verdict: 10 live auctions, 100 sockets")


def check_step(step: dict[str, Any]) -> None:
    assert step["passed"] is True and step["failure"] is None, step.get("failure")
    auctions = step["auctions"]
    assert step["bidders"] == auctions and step["watchers"] == 9 * auctions
    generators = [f"generator-{index}" for index in range(step["generators"])]
    assert step["sockets_per_process"] == {
        "server": auctions,
        "edge-0": 9 * auctions,
        **{name: 10 * auctions // len(generators) for name in generators},
    }
    assert step["rejects"] == 0 and step["dropped_sockets"] == 0
    assert step["bids_per_s"] > 0 and step["acks"] > 0
    assert 0 < step["ack_p50_ms"] <= step["ack_p99_ms"] <= step["ack_max_ms"]
    assert step["watcher_events_per_s"] > 0
    assert set(step["cpu_cores"]) == {
        "server",
        "edge-0",
        "postgres",
        "other_processes",
        *generators,
    }
    assert all(used >= 0 for used in step["cpu_cores"].values())
    assert step["machine_cores_busy"] == pytest.approx(sum(step["cpu_cores"].values()), abs=0.05)
    assert set(step["saturated"]) <= set(step["cpu_cores"])
    assert set(step["rss"]) == {"server", "edge-0", *generators}
    for name in ("server", "edge-0"):
        memory = step["rss"][name]
        assert memory["empty_mb"] > 0 and memory["with_sockets_mb"] > 0
    # Per socket on the server and on the edge; per auction on the server: numbers (the
    # allocator may hand back pages, so no sign is asserted for tiny steps).
    assert set(step["kb_per_idle_socket"]) == {"server", "edge-0"}
    assert isinstance(step["kb_per_live_auction"], float)
    assert set(step["run_queue_wait_share"]) == {"server", "edge-0"}
    assert all(share >= 0 for share in step["run_queue_wait_share"].values())
