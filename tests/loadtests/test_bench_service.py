"""Smoke test of ``gavel bench service``: both scenarios, tiny sizes, real processes.

It checks the shape of the JSON and that the figures are sane (bids were acknowledged,
nothing was rejected or dropped, percentiles are ordered); it never asserts a speed.
"""

from __future__ import annotations

import json

import pytest

from loadtests import bench_service

RUN_KEYS = {
    "acks_per_s",
    "ack_p50_ms",
    "ack_p99_ms",
    "rejects",
    "frames_in_per_s",
    "dropped_sockets",
    "cpu_cores",
    "saturated",
}


def check_run(run: dict[str, object], *groups: str) -> None:
    assert set(run) >= RUN_KEYS, RUN_KEYS - set(run)
    assert run["rejects"] == 0, run.get("sample_reject")
    assert run["dropped_sockets"] == 0
    assert isinstance(run["acks_per_s"], float) and run["acks_per_s"] > 0
    p50, p99 = run["ack_p50_ms"], run["ack_p99_ms"]
    assert isinstance(p50, float) and isinstance(p99, float)
    assert 0 < p50 <= p99
    cpu = run["cpu_cores"]
    assert isinstance(cpu, dict) and set(groups) <= set(cpu)
    assert all(isinstance(used, float) and used >= 0 for used in cpu.values())
    assert isinstance(run["saturated"], str)


def test_both_scenarios_report_sane_json(
    pg_server_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "--json",
        "--auctions=2",
        "--bidders=3",
        "--watchers=2",
        "--rate=5",
        "--seconds=1.5",
        "--warmup=0.5",
        f"--database-url={pg_server_dsn}",
    ]
    assert bench_service.run(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    storm, crowd = lines
    assert [storm["scenario"], crowd["scenario"]] == ["storm", "crowd"]

    assert (storm["auctions"], storm["bidders_per_auction"], storm["sockets"]) == (2, 3, 6)
    check_run(storm["gavel"], "server", "postgres", "generator")
    check_run(storm["gavel_single_commit"], "server", "postgres", "generator")
    check_run(storm["relay"], "server", "generator")
    assert storm["gavel"]["commit_mode"] == "group"
    assert storm["gavel_single_commit"]["commit_mode"] == "single"
    assert storm["ratio_to_relay"] > 0
    assert storm["group_commit_gain"] > 0
    assert storm["target_ratio"] == bench_service.TARGET_RELAY_RATIO
    assert isinstance(storm["meets_target"], bool)

    assert crowd["sockets"] == 2 * (3 + 2)
    assert crowd["offered_bids_per_s"] == 2 * 3 * 5
    check_run(crowd, "server", "postgres", "generator")
    assert crowd["watcher_events_per_s"] > 0
    assert 0 < crowd["fanout_p50_ms"] <= crowd["fanout_p99_ms"]
    assert set(crowd["targets"]) == {"ack_p99_ms", "fanout_p99_ms"}
    assert isinstance(crowd["meets_targets"], bool)
    for line in lines:
        assert line["database"] == "DATABASE_URL"
        assert line["machine"]["nproc"] >= 1


def test_the_table_is_readable(pg_server_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "--scenario=storm",
        "--skip-single",
        "--skip-relay",
        "--auctions=1",
        "--bidders=2",
        "--seconds=0.5",
        "--warmup=0.2",
        f"--database-url={pg_server_dsn}",
    ]
    assert bench_service.run(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("== storm (2 sockets")
    assert "acks/s" in out and "gavel" in out
