"""``gavel demo``: every scenario printed in order, each with its story and its result."""

from __future__ import annotations

import io

import pytest

from bidders_sim import cli
from bidders_sim.scripted import dutch, scenarios


def test_every_scenario_in_order_numbered() -> None:
    out = io.StringIO()
    assert cli.main([], out) == 0
    text = out.getvalue()
    every = scenarios()
    headings = [line for line in text.splitlines() if line.startswith("━━ ")]
    assert [line.split("  ", 1)[0] for line in headings] == [
        f"━━ {number}/{len(every)}" for number in range(1, len(every) + 1)
    ]
    for heading, scenario in zip(headings, every, strict=True):
        assert heading.split("  ", 1)[1].startswith(scenario.title + " ━")
    assert text.count("outcome  awarded") == len(every)
    # One blank line between scenarios, none before the first.
    assert text.startswith("━━ 1/") and "\n\n━━ 2/" in text


def test_one_scenario_heading_rules_story_and_result() -> None:
    out = io.StringIO()
    cli.print_scenario(dutch(), "3/6", out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("━━ 3/6  Dutch (descending clock) ━")
    assert len(lines[0]) == 86  # the heading fills the event column and the standing
    assert lines[1].startswith("   rules: ")
    assert lines[2].startswith("   watch: ")
    assert lines[4].split() == ["time", "event", "standing"]
    story = lines[5 : lines.index("", 5)]
    assert story and all(line[3] in "+-" and line[6] == ":" for line in story)
    assert "   winner   dana (Bidder 1)" in lines
    assert "   price    8000.00 EUR" in lines


def test_the_standing_is_shown_only_when_it_changes() -> None:
    out = io.StringIO()
    cli.print_scenario(dutch(), "1/1", out)
    story = out.getvalue().split("standing\n", 1)[1].split("\n\n", 1)[0].splitlines()
    shown = [line[89:].strip() for line in story if len(line) > 89]
    assert shown and all(shown[i] != shown[i + 1] for i in range(len(shown) - 1))


def test_the_demo_takes_no_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--fast"])
    assert exit_info.value.code == 2
    assert "usage: gavel demo" in capsys.readouterr().err


def test_help_describes_the_demo(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "Play a scripted auction of every format" in capsys.readouterr().out


def test_by_default_it_prints_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 0
    assert capsys.readouterr().out.count("outcome  awarded") == len(scenarios())
