"""Each Locust scenario for a few seconds: real Locust (headless, a subprocess each, all at
once), one real server process on PostgreSQL, real websockets and HTTP.

A run passes when Locust exits 0 with ``--exit-code-on-error 1`` (no failure event at
all: no lost acknowledgement, no ``seq_gap``, no dropped socket, no refused provisioning)
and its CSV statistics hold requests for the names the scenario must produce. Speed is
never asserted here (docs/benchmarks.md has the measured runs).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Live, start_server  # noqa: F401 - the module's server fixture

ROOT = Path(__file__).resolve().parents[2]
LOCUST = Path(sys.executable).with_name("locust")

#: Per scenario: users, seconds, its ``--gavel-*`` options, the names it must report.
SCENARIOS: dict[str, tuple[int, int, list[str], set[str]]] = {
    "steady": (12, 5, ["--gavel-auctions", "3", "--gavel-think", "0.3"], {"bid", "connect"}),
    "closing-storm": (
        30,
        11,
        # 20 auctions ending within the same second, 5 s in: time to provision them on a
        # loaded machine; a soft close of 1 s keeps every end (hard close) within the run.
        ["--gavel-auctions", "20", "--gavel-close-in", "5", "--gavel-close-spread", "1"]
        + ["--gavel-soft-close", "1", "--gavel-rush", "2"],
        {"bid", "event:EndExtended", "event:AuctionEnded"},
    ),
    "tender-rush": (
        12,
        5,
        ["--gavel-tenders", "2", "--gavel-close-in", "3", "--gavel-rush", "2"],
        {"envelope", "officer:key ceremony"},
    ),
    "hot-auction": (22, 4, ["--gavel-think", "0.2"], {"bid", "event", "connect"}),
    "reconnect-storm": (
        22,
        6,
        ["--gavel-drop-every", "2", "--gavel-think", "0.2"],
        {"reconnect", "event", "bid"},
    ),
}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def runs(
    start_server: Callable[..., Live],  # noqa: F811 - the fixture imported above
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, dict[str, Any]]]:
    """Every scenario run at once against one server: exit code, output and CSV rows."""
    server = start_server()
    work = tmp_path_factory.mktemp("locust")
    env = {
        **os.environ,
        "GAVEL_OFFICER_TOKEN": server.token("locust", "officer", ttl_s=600),
        "PYTHONPATH": str(ROOT),
    }
    started: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    for tag, (users, seconds, options, _) in SCENARIOS.items():
        command = [str(LOCUST), "-f", str(ROOT / "loadtests" / "locustfile.py"), "--headless"]
        command += ["-u", str(users), "-r", str(users), "-t", f"{seconds}s"]
        command += ["--host", server.process.url, "--tags", tag, "--only-summary"]
        command += ["--csv", str(work / tag), "--exit-code-on-error", "1", *options]
        log = work / f"{tag}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        started[tag] = (process, log)
    results: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 60
    for tag, (process, log) in started.items():
        try:
            code = process.wait(max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        results[tag] = {
            "code": code,
            "log": log.read_text(errors="replace")[-6000:],
            "stats": _rows(work / f"{tag}_stats.csv"),
            "failures": _rows(work / f"{tag}_failures.csv"),
        }
    yield results


@pytest.mark.parametrize("tag", list(SCENARIOS))
def test_scenario_runs_without_a_failure(tag: str, runs: dict[str, dict[str, Any]]) -> None:
    run = runs[tag]
    assert run["failures"] == [], (run["failures"], run["log"])
    assert run["code"] == 0, run["log"]
    counts = {row["Name"]: int(row["Request Count"]) for row in run["stats"]}
    fails = {row["Name"]: int(row["Failure Count"]) for row in run["stats"]}
    assert fails["Aggregated"] == 0, run["log"]
    for name in SCENARIOS[tag][3]:
        assert counts.get(name, 0) > 0, (name, counts, run["log"])
    for name in counts:
        # No lost acknowledgement, gap or dropped socket got so much as a row.
        assert name not in ("seq_gap", "socket", "outcome_unknown"), run["log"]
