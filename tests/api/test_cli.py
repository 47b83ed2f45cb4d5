"""The ``gavel`` console command: ``demo`` and ``bench engine``."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from api.cli import build_parser, main
from loadtests.bench_engine import FORMATS, KEYS

ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_every_format_with_its_result(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for title in (
        "English ascending: proxy bidding and soft close",
        "Reverse open procurement with MEAT scoring",
        "Dutch (descending clock)",
        "Sealed bid, first price",
        "Sealed bid, second price (Vickrey)",
        "Multi-round procurement (Prozorro model): 3 bidders, 3 rounds",
    ):
        assert title in out
    assert out.count("outcome  awarded") == 6
    for winner, price in (
        ("alice (Bidder 1)", "1950.00 EUR"),
        ("gamma (Bidder 3)", "94000.00 UAH"),
        ("dana (Bidder 1)", "8000.00 EUR"),
        ("hana (Bidder 1)", "29000.00 EUR"),
        ("lima (Bidder 1)", "40000.00 EUR"),
        ("vega (Bidder 3)", "44300.00 UAH"),
    ):
        assert f"winner   {winner}\n   price    {price}\n" in out
    # The story unfolds in time, relative to the start.
    assert "+05:40.000000  alice's proxy bids 1850.00 EUR" in out
    assert "soft close: the end moves to +07:00.000000" in out


def test_python_m_api_cli_runs_the_demo() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("outcome  awarded") == 6


@pytest.fixture(scope="module")
def bench_json() -> list[dict[str, object]]:
    """``gavel bench engine --json --commands 20000 --bidders 100``, parsed."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "bench",
            "engine",
            "--json",
            "--commands",
            "20000",
            "--bidders",
            "100",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    return [json.loads(line) for line in lines]


def test_bench_json_prints_one_object_per_format(bench_json: list[dict[str, object]]) -> None:
    assert [row["format"] for row in bench_json] == list(FORMATS)
    for row in bench_json:
        assert list(row) == list(KEYS)


@pytest.mark.parametrize("index", range(len(FORMATS)))
def test_bench_json_values_are_sane(bench_json: list[dict[str, object]], index: int) -> None:
    row = bench_json[index]
    commands, accepted, rejected = row["commands"], row["accepted"], row["rejected"]
    assert isinstance(commands, int) and isinstance(accepted, int) and isinstance(rejected, int)
    assert commands >= 20_000
    assert accepted + rejected == commands
    assert accepted > 0 and rejected > 0
    per_s, p50, p99 = row["commands_per_s"], row["p50_us"], row["p99_us"]
    assert isinstance(per_s, int | float) and per_s > 0
    assert isinstance(p50, int | float) and isinstance(p99, int | float)
    assert 0 < p50 <= p99
    peak = row["peak_memory_bytes"]
    assert isinstance(peak, int) and 0 < peak < 1 << 30
    per_bid = row["bytes_per_resting_bid"]
    if row["format"] in ("dutch", "multiround"):
        assert per_bid is None
    else:
        assert isinstance(per_bid, float) and 50 < per_bid < 2_000
    assert isinstance(row["python"], str) and row["python"].endswith(
        ".".join(map(str, sys.version_info[:2])) + f".{sys.version_info[2]}"
    )
    assert isinstance(row["machine"], str) and row["machine"]


def test_bench_table(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", "engine", "--format", "dutch", "--commands", "1500", "--bidders", "20"]
    assert main([*args, "--resting", "100"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["format", "commands", "accepted"]
    assert out[1].split()[0] == "dutch"
    assert any(line.startswith("targets (issue 2)") for line in out)


def test_format_may_repeat_or_list_several() -> None:
    parser = build_parser()
    args = parser.parse_args(["bench", "engine", "--format", "dutch", "english"])
    assert args.formats == ["dutch", "english"]
    args = parser.parse_args(["bench", "engine", "--format", "dutch", "--format", "reverse"])
    assert args.formats == ["dutch", "reverse"]
    args = parser.parse_args(["bench", "engine"])
    assert args.formats is None and args.commands == 1_000_000 and args.bidders == 1_000


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "engine", "--bidders", "1"],
        ["bench", "engine", "--commands", "0"],
        ["bench", "engine", "--commands", "many"],
        ["bench", "engine", "--format", "vickrey"],
        ["nonsense"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["bench"]])
def test_a_group_without_its_subcommand_prints_help(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert "usage: gavel" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "module", "function"),
    [
        (["serve", "--port", "8123", "--demo"], "api.http.server", "main"),
        (["bench", "service", "--json", "--scenario", "storm"], "loadtests.bench_service", "run"),
    ],
)
def test_forwarding_subcommands_hand_the_rest_of_the_line_over(
    argv: list[str], module: str, function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, list[str]]] = []

    def fake_import(name: str) -> types.SimpleNamespace:
        def target(rest: list[str]) -> int:
            seen.append((name, rest))
            return 7

        return types.SimpleNamespace(**{function: target})

    monkeypatch.setattr(importlib, "import_module", fake_import)
    assert main(argv) == 7
    prefix = 1 if argv[0] == "serve" else 2
    assert seen == [(module, argv[prefix:])]


def test_python_m_api_cli_help_lists_the_subcommands() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0
    for name in ("serve", "demo", "bench"):
        assert f"    {name}" in done.stdout
