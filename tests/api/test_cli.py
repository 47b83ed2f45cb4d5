"""The ``gavel`` console command: ``demo`` and ``bench engine`` through it, the subcommand
table, the ``gavel.commands`` entry points, and that ``api`` never imports what they name."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import subprocess
import sys
import types
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import api.cli
from api.cli import COMMANDS_GROUP, build_parser, main
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
    """``gavel bench engine --json --commands 4000 --bidders 100``, parsed: enough to
    check the command's output (the benchmark itself: tests/loadtests/test_bench_engine.py).
    Was 20,000 commands: 46 s of a loaded machine against 13 s."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "bench",
            "engine",
            "--json",
            "--commands",
            "4000",
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
    assert commands >= 4_000
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


#: Run in a fresh interpreter: import the CLI, build its parser, answer ``--help`` and a
#: bare ``gavel``, then print the loadtests/bidders_sim modules loaded; then ask for
#: ``gavel bench --help`` (which must load the benchmarks' command) and print them again.
_NO_PLUGIN_IMPORTS = """
import contextlib, io, sys
import api.cli

def loaded():
    return sorted(m for m in sys.modules if m.partition(".")[0] in ("loadtests", "bidders_sim"))

api.cli.build_parser()
help = io.StringIO()
with contextlib.redirect_stdout(help), contextlib.redirect_stderr(io.StringIO()):
    try:
        api.cli.main(["--help"])
    except SystemExit:
        pass
    assert api.cli.main([]) == 2
assert "    demo" in help.getvalue() and "    bench" in help.getvalue(), help.getvalue()
print(loaded())
with contextlib.redirect_stdout(io.StringIO()):
    try:
        api.cli.main(["bench", "--help"])
    except SystemExit:
        pass
print(loaded())
"""


def test_the_cli_imports_no_benchmark_nor_simulated_bidder() -> None:
    """Importing ``api.cli``, building its parser and ``--help`` load no module of
    ``loadtests`` or ``bidders_sim``; running ``bench`` does (so the check can see one)."""
    done = subprocess.run(
        [sys.executable, "-c", _NO_PLUGIN_IMPORTS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    before, after = done.stdout.splitlines()
    assert before == "[]"
    assert "'loadtests.cli'" in after


def _subcommands(parser: object) -> dict[str, str]:
    """name -> help line of a parser's subcommands, in the order ``--help`` lists them."""
    assert isinstance(parser, argparse.ArgumentParser)
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {choice.dest: choice.help or "" for choice in action._choices_actions}


def test_the_subcommands_in_order() -> None:
    """The server's own and the two the installed entry points provide, in the table's order."""
    assert list(_subcommands(build_parser())) == [
        "serve",
        "edge",
        "demo",
        "bench",
        "sim",
        "tender",
        "audit",
        "officer",
        "db",
        "cluster",
    ]


def test_demo_and_bench_come_from_the_installed_entry_points() -> None:
    """pyproject declares them; the editable install wrote them into the metadata."""
    points = {p.name: p.value for p in importlib.metadata.entry_points(group=COMMANDS_GROUP)}
    assert points == {
        "demo": "bidders_sim.cli:main",
        "bench": "loadtests.cli:main",
        "sim": "bidders_sim.sim_cli:main",
    }


def _entry_points(*points: tuple[str, str]) -> object:
    def found(group: str) -> list[EntryPoint]:
        assert group == COMMANDS_GROUP
        return [EntryPoint(name, value, group) for name, value in points]

    return found


def test_an_entry_point_is_offered_only_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``demo``'s entry point there is no ``demo``; an unknown one comes last, its
    target as its help; one named as a server command does not replace it."""
    monkeypatch.setattr(
        api.cli,
        "entry_points",
        _entry_points(
            ("zeta", "tests.api.test_cli:fake_command"),
            ("bench", "tests.api.test_cli:fake_command"),
            ("serve", "tests.api.test_cli:fake_command"),
        ),
    )
    commands = _subcommands(build_parser())
    assert list(commands) == [
        "serve",
        "edge",
        "bench",
        "tender",
        "audit",
        "officer",
        "db",
        "cluster",
        "zeta",
    ]
    assert commands["bench"] == "benchmarks"
    assert commands["serve"] == "run the live auction server"
    assert commands["zeta"] == "(from tests.api.test_cli:fake_command)"
    FAKE_CALLS.clear()
    assert main(["zeta", "a", "--b"]) == 3
    assert main(["bench", "x"]) == 3
    assert FAKE_CALLS == [["a", "--b"], ["x"]]
    with pytest.raises(SystemExit) as exit_info:
        main(["demo"])
    assert exit_info.value.code == 2


#: What :func:`fake_command` was called with.
FAKE_CALLS: list[list[str]] = []


def fake_command(argv: list[str]) -> int:
    """A subcommand's ``main`` for the entry-point tests."""
    FAKE_CALLS.append(argv)
    return 3


def test_a_forwarded_command_returning_none_exits_0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        importlib, "import_module", lambda name: types.SimpleNamespace(main=lambda rest: None)
    )
    assert main(["tender", "keys"]) == 0


def test_a_reader_leaving_early_exits_141(monkeypatch: pytest.MonkeyPatch) -> None:
    """``gavel demo | head``: a broken pipe ends quietly with 141 and stdout on /dev/null."""

    def broken(rest: list[str]) -> int:
        raise BrokenPipeError

    pointed: list[tuple[int, int]] = []
    monkeypatch.setattr(importlib, "import_module", lambda name: types.SimpleNamespace(main=broken))
    monkeypatch.setattr(api.cli.os, "dup2", lambda fd, to: pointed.append((fd, to)))
    monkeypatch.setattr(api.cli.sys, "stdout", types.SimpleNamespace(fileno=lambda: 99))
    assert main(["audit", "verify"]) == 141
    assert [to for _fd, to in pointed] == [99]


def test_unknown_arguments_without_a_subcommand_are_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--verbose"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --verbose" in capsys.readouterr().err
