"""The engine benchmark's workloads and measures, at small sizes. Timing is never asserted."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest

from engine import Auction, CommandRejected, Phase, Reason
from loadtests import bench_engine as bench


def _reasons(fmt: str, commands: int, bidders: int) -> tuple[bench._Feed, Counter[Reason]]:
    """Run a small stream and replay it into fresh auctions, counting rejection reasons."""
    feed = bench._Feed(bench._workload(fmt, 7, bidders), commands)
    reasons: Counter[Reason] = Counter()
    auction = Auction()
    for command in feed:
        if command is None:
            auction = Auction()
            continue
        events = auction.handle(command)
        if events and isinstance(events[-1], CommandRejected):
            reasons[events[-1].reason] += 1
    assert auction == feed.view
    return feed, reasons


#: The rejections each workload promises in the module docstring.
PROMISED: dict[str, set[Reason]] = {
    "english": {
        Reason.INSUFFICIENT_IMPROVEMENT,
        Reason.TOO_MANY_DECIMALS,
        Reason.WRONG_CURRENCY,
        Reason.UNKNOWN_BIDDER,
        Reason.AMOUNT_ZERO,
        Reason.AMOUNT_NEGATIVE,
        Reason.AMOUNT_TOO_LARGE,
    },
    "reverse": {Reason.INSUFFICIENT_IMPROVEMENT, Reason.TOO_MANY_DECIMALS},
    "dutch": {Reason.STALE_PRICE, Reason.AUCTION_CLOSED, Reason.NOT_SUPPORTED},
    "sealed_first": {
        Reason.BELOW_START_PRICE,
        Reason.TOO_MANY_DECIMALS,
        Reason.WRONG_CURRENCY,
        Reason.UNKNOWN_BIDDER,
        Reason.AUCTION_CLOSED,
        Reason.NO_BID_TO_WITHDRAW,
    },
    "sealed_second": {Reason.BELOW_START_PRICE, Reason.AUCTION_CLOSED},
    "multiround": {
        Reason.OUT_OF_TURN,
        Reason.INSUFFICIENT_IMPROVEMENT,
        Reason.ABOVE_START_PRICE,
    },
}


@pytest.mark.parametrize("fmt", bench.FORMATS)
def test_workload_mixes_accepted_and_rejected_commands(fmt: str) -> None:
    feed, reasons = _reasons(fmt, 6_000, 60)
    assert feed.commands >= 6_000
    assert 0 < feed.rejected < feed.commands
    assert sum(reasons.values()) == feed.rejected
    assert PROMISED[fmt] <= set(reasons)
    # Every auction is played to its end.
    assert feed.view.phase is Phase.ENDED


def test_open_workload_is_one_auction_and_soft_close_extends_it() -> None:
    feed = bench._Feed(bench._workload("english", 3, 50), 20_000)
    extended = 0
    for command in feed:
        if command is not None:
            fmt = feed.view.fmt
            extended = max(extended, getattr(fmt, "ends_at", 0))
    assert feed.auctions == 1
    rules = feed.view.rules
    assert rules is not None and extended > rules.ends_at  # type: ignore[union-attr]


def test_workloads_are_deterministic() -> None:
    first = [c for c in bench._Feed(bench._workload("multiround", 5, 10), 800)]
    again = [c for c in bench._Feed(bench._workload("multiround", 5, 10), 800)]
    assert first == again


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        bench._workload("vickrey", 1, 10)


def test_percentile_is_nearest_rank() -> None:
    ordered = list(range(1, 101))
    assert bench._percentile(ordered, 0.50) == 50
    assert bench._percentile(ordered, 0.99) == 99
    assert bench._percentile([5], 0.99) == 5


@pytest.mark.parametrize("fmt", ["english", "reverse", "sealed_first"])
def test_bytes_per_resting_bid_is_measured(fmt: str) -> None:
    per_bid = bench._bytes_per_resting_bid(fmt, 500, 1)
    assert per_bid is not None and 50 < per_bid < 2_000


@pytest.mark.parametrize("fmt", ["dutch", "multiround"])
def test_bytes_per_resting_bid_does_not_apply(fmt: str) -> None:
    assert bench._bytes_per_resting_bid(fmt, 500, 1) is None


def test_measure_and_output() -> None:
    result = bench.measure("sealed_second", 3_000, 40, 1, 300)
    data = result.as_dict()
    assert list(data) == list(bench.KEYS)
    assert data["commands"] == data["accepted"] + data["rejected"]
    assert json.loads(json.dumps(data)) == data
    table = bench.render_table([result])
    assert "sealed_second" in table and "memory per bid" in table

    out = io.StringIO()
    assert bench.run(("dutch",), 1_500, 20, 1, None, True, out) == 0
    (line,) = out.getvalue().splitlines()
    assert json.loads(line)["format"] == "dutch"


# ------------------------------------------------------------- the command line (moved from
# tests/api/test_cli.py: `gavel bench engine`'s flags now belong to bench_engine.build_parser)


def test_format_may_repeat_or_list_several() -> None:
    parser = bench.build_parser()
    args = parser.parse_args(["--format", "dutch", "english"])
    assert args.formats == ["dutch", "english"]
    args = parser.parse_args(["--format", "dutch", "--format", "reverse"])
    assert args.formats == ["dutch", "reverse"]
    args = parser.parse_args([])
    assert args.formats is None and args.commands == 1_000_000 and args.bidders == 1_000


def test_main_prints_json_to_out() -> None:
    out = io.StringIO()
    argv = ["--json", "--format", "dutch", "--commands", "300", "--bidders", "5"]
    assert bench.main([*argv, "--resting", "10"], out) == 0
    (row,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert row["format"] == "dutch" and row["commands"] >= 300


@pytest.mark.parametrize(
    "argv", [["--bidders", "1"], ["--commands", "0"], ["--resting", "-3"], ["--format", "x"]]
)
def test_main_refuses_bad_flags(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2
    assert "usage: gavel bench engine" in capsys.readouterr().err
