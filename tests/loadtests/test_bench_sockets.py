"""The socket-storm benchmark at a small size, against a real server process and
PostgreSQL: it opens and closes what it says and reports every figure; the verdict's
rules on made-up rows. Memory figures are never asserted beyond their sign."""

from __future__ import annotations

import json
import resource
from typing import Any

import pytest

from api.cli import main as gavel_main
from api.http.reclaim import MIN_CLOSED
from loadtests import bench_sockets
from loadtests.bench_sockets import _figures, main, measure, rss_bytes

MB = 1_000_000


def test_measure_reports_every_figure_and_reclaims(pg_server_dsn: str) -> None:
    # Enough sockets for a reclaim of the storm on its own (MIN_CLOSED). One cycle: each
    # waits ~16 s for the reclaimer's hold; storms after storms are test_socket_memory's.
    sockets = MIN_CLOSED + 6
    figures = measure(
        sockets,
        1,
        auctions=2,
        bidders=2,
        settle_s=0.2,
        database_url=pg_server_dsn,
        debug=True,
    )
    assert (figures["bench"], figures["sockets"], figures["cycles"]) == ("sockets", sockets, 1)
    assert figures["baseline_rss"] > 10 * MB and figures["per_socket_bytes"] > 0
    assert figures["verdict"].startswith("undecided")  # one cycle cannot tell
    assert figures["leaked_gauges"] == {}
    assert figures["server_env"]["GAVEL_DEBUG_MEMORY"] == "on"
    for row in figures["rows"]:
        assert row["peak_rss"] > 0 and row["closed_rss"] > 0
        assert row["open_gauges"]["gavel_sockets_open"] == sockets
        assert row["open_gauges"]["gavel_sockets_connected"] == sockets
        assert row["closed_gauges"]["gavel_sockets_open"] == 0
        assert row["closed_gauges"]["gavel_sockets_unreclaimed"] == 0
        assert row["python_objects"] > 0 and row["untrimmed_rss"] > 0
    assert figures["rows"][-1]["reclaims"] >= 1
    assert figures["baseline_python_objects"] > 0


def test_json_through_gavel_bench_without_reclaim(
    pg_server_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench", "sockets", "--json", "--sockets", "8", "--cycles", "1", "--no-reclaim"]
    argv += ["--auctions", "1", "--bidders", "1", "--settle", "0", "--database-url", pg_server_dsn]
    argv += ["--server-env", "MALLOC_ARENA_MAX=2"]
    assert gavel_main(argv) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["server_env"]["GAVEL_RECLAIM"] == "off"
    assert figures["server_env"]["MALLOC_ARENA_MAX"] == "2"
    assert figures["rows"][0]["reclaims"] == 0
    assert "python_objects" not in figures["rows"][0]


def rows(*closed_mb: float, peak_mb: float = 100.0, leak: dict[str, float] | None = None) -> Any:
    gauges = {"gavel_sockets_open": 0.0, "gavel_rate_limit_buckets": 3.0}
    return [
        {
            "open_s": 1.0,
            "close_s": 15.0,
            "peak_rss": int(peak_mb * MB),
            "closed_rss": int(value * MB),
            "open_gauges": {**gauges, "gavel_sockets_open": 1000.0},
            "closed_gauges": {**gauges, **(leak or {})},
        }
        for value in closed_mb
    ]


def verdict(table: list[dict[str, Any]]) -> str:
    baseline = {"gavel_sockets_open": 0.0, "gavel_rate_limit_buckets": 3.0}
    figures = _figures(1000, 60 * MB, baseline, table, {}, {})
    assert figures["per_socket_bytes"] == 40_000
    return str(figures["verdict"])


def test_the_verdict() -> None:
    # 40 MB per storm; after the first storm memory stays at 90 MB: the allocator.
    assert verdict(rows(90, 90.5, 90.2, 90.4)).startswith("plateau")
    # 5 MB more after every storm: something per socket stays.
    assert verdict(rows(90, 95, 100, 105)).startswith("growth")
    # A registry that does not empty is a leak whatever the resident set does.
    table = rows(90, 90, 90, leak={"gavel_sockets_open": 7.0})
    assert verdict(table).startswith("leak")
    assert verdict(rows(90, 90)).startswith("undecided")


def test_buckets_leak_only_beyond_one_storms_worth() -> None:
    table = rows(90, 90, 90)
    for row in table:
        # One per token of the storm, some dropped already; the last storm's are
        # dropped when the limiter is next asked.
        row["open_gauges"]["gavel_rate_limit_buckets"] = 803.0
        row["closed_gauges"]["gavel_rate_limit_buckets"] = 803.0
    assert verdict(table).startswith("plateau")
    table[-1]["open_gauges"]["gavel_rate_limit_buckets"] = 2_100.0  # two storms' worth
    assert verdict(table).startswith("leak")


def test_text_report() -> None:
    figures = _figures(1000, 60 * MB, {"gavel_sockets_open": 0.0}, rows(90, 90, 90), {}, {})
    figures["rows"][-1].update(reclaims=2, reclaim_max_ms=12.5, python_objects=2400)
    text = bench_sockets._text(figures)
    assert "per socket: 40.0 kB" in text and "verdict: plateau" in text
    assert "longest pause 12.5 ms" in text and "2,400" in text


def test_rss_bytes_of_this_process() -> None:
    import os

    assert rss_bytes(os.getpid()) > MB


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sockets", "0"], "must be positive"),
        (["--settle", "-1"], "must not be negative"),
        (["--server-env", "NOVALUE"], "NAME=VALUE"),
    ],
)
def test_bad_arguments_are_refused(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_more_sockets_than_files_are_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1024, 1024))
    with pytest.raises(SystemExit):
        main(["--sockets", "2000"])
    assert "the hard limit is 1024" in capsys.readouterr().err
