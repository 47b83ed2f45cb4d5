"""The loopback benchmark at a small size: it writes what it says and reports every
figure. Timing is never asserted."""

from __future__ import annotations

import io
import json

import pytest

from api.cli import main as gavel_main
from loadtests.bench_loopback import main, measure


def test_measure_writes_at_the_offered_rate_and_reports_costs() -> None:
    figures = measure(sockets=20, size=100, rate=2_000, seconds=0.5)
    assert figures["bench"] == "loopback"
    assert (figures["sockets"], figures["size"], figures["rate_offered"]) == (20, 100, 2_000)
    # Paced in batches per millisecond: never more than offered, and not far below.
    assert 500 <= figures["writes_per_s"] <= 2_200
    for name in (
        "writer_us_per_write",
        "writer_kernel_us_per_write",
        "writer_user_us_per_write",
        "reader_us_per_write",
        "writer_cores_per_100k",
        "reader_cores_per_100k",
    ):
        assert figures[name] >= 0
    assert figures["writer_us_per_write"] == pytest.approx(
        figures["writer_kernel_us_per_write"] + figures["writer_user_us_per_write"], abs=0.02
    )


def test_json_through_main() -> None:
    out = io.StringIO()
    argv = ["--json", "--sockets", "5", "--rate", "1000", "--seconds", "0.3"]
    assert main(argv, out) == 0
    assert json.loads(out.getvalue())["sockets"] == 5


def test_text_through_gavel_bench(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "loopback", "--sockets", "3", "--rate", "500", "--seconds", "0.2"]
    assert gavel_main(argv) == 0
    text = capsys.readouterr().out
    assert "writes/s of 200 bytes to 3 loopback sockets" in text and "µs per write" in text


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--rate", "0"])
    assert exit_info.value.code == 2
    assert "must be positive" in capsys.readouterr().err
