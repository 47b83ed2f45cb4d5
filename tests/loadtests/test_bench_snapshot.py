"""The snapshot benchmark at a small size: both recoveries match and every figure is
reported. Timing is never asserted."""

from __future__ import annotations

import io
import json

import pytest

from api.cli import main as gavel_main
from loadtests.bench_snapshot import main, measure


def test_measure_reports_a_running_auction_and_every_figure() -> None:
    figures = measure("reverse", events=600, bidders=20, repeat=2)
    assert figures["bench"] == "snapshot" and figures["format"] == "reverse"
    assert figures["events"] >= 600 and figures["bidders"] == 20
    assert 0 < figures["resting_bids"] <= 20 and figures["snapshot_bytes"] > 0
    for name in ("take_ms", "restore_ms", "replay_ms"):
        assert figures[name] >= 0


def test_json_lines_through_main() -> None:
    out = io.StringIO()
    assert main(["--json", "--events", "300", "--bidders", "10", "--repeat", "1"], out) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["format"] for line in lines] == ["english", "reverse"]


def test_text_through_gavel_bench(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "snapshot", "--events", "200", "--bidders", "5", "--repeat", "1"]
    assert gavel_main(argv) == 0
    text = capsys.readouterr().out
    assert text.startswith("english: ") and "replaying the log" in text


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--events", "0"])
    assert "must be positive" in capsys.readouterr().err
