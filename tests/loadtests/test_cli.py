"""``gavel bench``: every target listed, each forwarding the rest of its line to its own
module, and the group's help; ``gavel`` reaches it only through its entry point."""

from __future__ import annotations

import importlib
import importlib.util
import types

import pytest

from api.cli import main as gavel_main
from loadtests import cli


def test_every_target_names_a_callable_main_of_loadtests() -> None:
    assert [name for name, _target, _help in cli.TARGETS] == [
        "engine",
        "service",
        "audit",
        "snapshot",
        "loopback",
        "sockets",
        "capacity",
        "compression",
        "fanout",
        "all",
    ]
    for _name, target, help in cli.TARGETS:
        module_name, _, function = target.partition(":")
        assert module_name.startswith("loadtests.bench_") and help
        if importlib.util.find_spec(module_name) is None:
            continue  # registered ahead of its module (written by another change)
        assert callable(getattr(importlib.import_module(module_name), function))


@pytest.mark.parametrize("name", [name for name, _target, _help in cli.TARGETS])
def test_each_target_gets_the_rest_of_its_line(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    target = dict((n, t) for n, t, _h in cli.TARGETS)[name]
    module_name, _, function = target.partition(":")
    seen: list[tuple[str, list[str]]] = []

    def fake_import(imported: str) -> types.SimpleNamespace:
        def run(rest: list[str]) -> int:
            seen.append((imported, rest))
            return 5

        return types.SimpleNamespace(**{function: run})

    monkeypatch.setattr(importlib, "import_module", fake_import)
    assert cli.main([name, "--json", "x"]) == 5
    assert seen == [(module_name, ["--json", "x"])]


def test_without_a_target_the_targets_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: gavel bench [-h] TARGET ...")
    for name, _target, help in cli.TARGETS:
        assert f"    {name}" in err and help.split()[0] in err
    assert "Benchmarks. Choose what to measure." in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    assert "targets:" in capsys.readouterr().out


def test_an_unknown_target_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["nonsense"])
    assert exit_info.value.code == 2
    assert "usage: gavel bench" in capsys.readouterr().err


def test_gavel_bench_is_this_command(capsys: pytest.CaptureFixture[str]) -> None:
    """Through ``gavel``'s entry point, the same group answers."""
    assert gavel_main(["bench"]) == 2
    assert capsys.readouterr().err.startswith("usage: gavel bench [-h] TARGET ...")
