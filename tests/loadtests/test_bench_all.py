"""``gavel bench all``: the fold of runs into figures (pure, on hand-made runs), then the
whole command on two real targets at tiny sizes (child processes, a few seconds) and on a
failing one. Timing is never asserted."""

from __future__ import annotations

import json
import statistics

import pytest

from loadtests.bench_all import figures_of, leaves, main, unit_of


def _storm(acks: int, relay: int, ratio: float, single: bool = True) -> dict[str, object]:
    row: dict[str, object] = {
        "scenario": "storm",
        "sockets": 1000,
        "gavel": {"commit_mode": "group", "acks_per_s": acks, "saturated": "server"},
        "relay": {"acks_per_s": relay, "ack_p99_ms": None},
        "ratio_to_relay": ratio,
        "meets_target": ratio >= 0.9,
    }
    if single:
        row["gavel_single_commit"] = {"acks_per_s": acks // 2}
    return row


def test_leaves_key_named_rows_and_skip_booleans_and_none() -> None:
    run = [_storm(900, 1000, 0.9), {"scenario": "crowd", "fanout_p99_ms": 12.5}]
    found = dict(leaves(run))
    assert found == {
        "storm.sockets": 1000,
        "storm.gavel.acks_per_s": 900,
        "storm.relay.acks_per_s": 1000,
        "storm.ratio_to_relay": 0.9,
        "storm.gavel_single_commit.acks_per_s": 450,
        "crowd.fanout_p99_ms": 12.5,
    }


def test_leaves_index_unnamed_rows_and_flatten_one_unnamed_object() -> None:
    assert dict(leaves([{"bench": "audit", "total_s": 2.0}])) == {"total_s": 2.0}
    assert dict(leaves([{"a": 1}, {"a": 2}])) == {"0.a": 1, "1.a": 2}
    assert dict(leaves({"rows": [{"format": "dutch", "p99_us": 3}, [7]]})) == {
        "rows.dutch.p99_us": 3,
        "rows.1.0": 7,
    }


def test_figures_are_median_min_max_of_paths_present_in_every_run() -> None:
    runs = [
        [_storm(900, 1000, 0.9)],
        [_storm(1200, 1000, 1.2, single=False)],
        [_storm(1000, 1100, 0.909)],
    ]
    figures = figures_of(runs)
    assert figures["storm.gavel.acks_per_s"] == {
        "median": 1000,
        "min": 900,
        "max": 1200,
        "unit": "1/s",
    }
    assert figures["storm.ratio_to_relay"] == {"median": 0.909, "min": 0.9, "max": 1.2}
    assert figures["storm.sockets"] == {"median": 1000, "min": 1000, "max": 1000}
    # missing from the second run: no figure; booleans and None never are
    assert "storm.gavel_single_commit.acks_per_s" not in figures
    assert not any("meets_target" in path or "ack_p99_ms" in path for path in figures)


def test_an_even_count_gives_the_mean_of_the_middle_two() -> None:
    figures = figures_of([{"take_ms": 0.1}, {"take_ms": 0.2}, {"take_ms": 4}, {"take_ms": 1}])
    assert figures["take_ms"] == {"median": 0.6, "min": 0.1, "max": 4, "unit": "ms"}
    assert figures_of([{"n": 3}, {"n": 5}])["n"]["median"] == 4
    assert figures_of([]) == {}


@pytest.mark.parametrize(
    ("path", "unit"),
    [
        ("storm.gavel.acks_per_s", "1/s"),
        ("english.take_ms", "ms"),
        ("dutch.p99_us", "µs"),
        ("total_cpu_s", "s"),
        ("bundle_bytes", "bytes"),
        ("rss_mb", "MB"),
        ("storm.sockets", None),
    ],
)
def test_units_come_from_the_figure_names(path: str, unit: str | None) -> None:
    assert unit_of(path) == unit


def test_two_real_targets_twice_at_tiny_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "--only",
        "snapshot,audit",
        "--repeat",
        "2",
        "--quick",
        "--args",
        "audit=--events 300 --bidders 5 --every 100",
        "--args",
        "snapshot=--events 200 --bidders 5 --repeat 1",
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert captured.err.count(" ok (") == 4
    assert set(document) >= {"machine", "commit", "started_at", "repeat", "targets"}
    assert document["repeat"] == 2 and document["quick"] is True
    assert document["machine"]["cores"] >= 1 and document["machine"]["python"]
    assert "sanic" in document["machine"]["packages"]
    assert len(document["commit"]["sha"]) == 40 and isinstance(document["commit"]["dirty"], bool)
    assert list(document["targets"]) == ["audit", "snapshot"]  # always the fixed order
    audit, snapshot = document["targets"]["audit"], document["targets"]["snapshot"]
    assert audit["command"][-6:] == ["--events", "300", "--bidders", "5", "--every", "100"]
    assert "bench" in audit["command"] and "--json" in audit["command"]
    for target in (audit, snapshot):
        assert len(target["runs"]) == 2 and len(target["wall_s"]) == 2
        assert "errors" not in target
    assert [row["format"] for row in snapshot["runs"][0]] == ["english", "reverse"]
    # every figure is the median/min/max of the raw runs at its path
    for path, rows in (("total_s", audit["runs"]), ("reverse.replay_ms", snapshot["runs"])):
        values = [dict(leaves(run))[path] for run in rows]
        figure = (audit if rows is audit["runs"] else snapshot)["figures"][path]
        assert figure["min"] == min(values) and figure["max"] == max(values)
        assert figure["median"] == pytest.approx(statistics.median(values))
    assert audit["figures"]["events"] == {"median": 300, "min": 300, "max": 300}
    assert snapshot["figures"]["english.events"]["median"] >= 200


def test_a_failing_target_is_recorded_and_fails_the_whole(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--only", "audit", "--repeat", "1", "--args", "audit=--events 0"]) == 1
    audit = json.loads(capsys.readouterr().out)["targets"]["audit"]
    assert audit["runs"] == [] and audit["figures"] == {}
    (error,) = audit["errors"]
    assert error["run"] == 1 and error["exit_code"] == 2
    assert "--events" in error["stderr"]


def test_text_instead_of_json_and_a_timeout_are_recorded(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # --help prints its usage and exits 0: not JSON.
    argv = ["--only", "audit,snapshot", "--args", "audit=--help", "--timeout", "60"]
    argv += ["--args", "snapshot=--events 300 --bidders 5", "--repeat", "1"]
    assert main(argv) == 1
    document = json.loads(capsys.readouterr().out)
    (error,) = document["targets"]["audit"]["errors"]
    assert error["error"].startswith("not JSON") and "usage: gavel bench audit" in error["stdout"]
    assert "errors" not in document["targets"]["snapshot"]  # one failure spoils no other
    assert main(["--only", "snapshot", "--repeat", "1", "--timeout", "0.05"]) == 1
    (error,) = json.loads(capsys.readouterr().out)["targets"]["snapshot"]["errors"]
    assert error["error"] == "timed out after 0.05 s"


def test_bad_lines_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--only", "engine,nope"], ["--repeat", "0"], ["--args", "nope=--x"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    assert "nope" in capsys.readouterr().err
