"""``gavel demo``: play a scripted auction of every format and print its story and result.

``gavel`` finds this command through the ``gavel.commands`` entry point ``demo``
(pyproject.toml), so the server package never imports the simulated bidders. The
scenarios are :func:`bidders_sim.scripted.scenarios`; the words are
:mod:`api.auctions.story`'s, the same the live story uses.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from api.auctions.story import clock, describe, result, rules_text, standing
from bidders_sim.scripted import Scenario, play, scenarios
from engine import Auction

__all__ = ["build_parser", "main", "print_scenario"]

#: The width of the event column; the standing follows it.
_EVENT_WIDTH = 70


def build_parser() -> argparse.ArgumentParser:
    """``gavel demo``'s parser: no arguments of its own."""
    return argparse.ArgumentParser(
        prog="gavel demo",
        description="Play a scripted auction of every format through the engine and "
        "print, for each, its story as it unfolds and its result.",
    )


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Play every scenario in order, printing each to ``out`` (default: ``sys.stdout``),
    and return 0. Unknown arguments exit 2 with the usage (argparse)."""
    build_parser().parse_args(argv)
    out = out or sys.stdout
    every = scenarios()
    for number, scenario in enumerate(every, 1):
        if number > 1:
            out.write("\n")
        print_scenario(scenario, f"{number}/{len(every)}", out)
    return 0


def print_scenario(scenario: Scenario, number: str, out: TextIO) -> None:
    """Play ``scenario`` on a new auction and print its story line by line, then its
    result. ``number`` (such as ``"2/6"``) heads it."""
    heading = f"━━ {number}  {scenario.title} "
    out.write(heading + "━" * max(0, _EVENT_WIDTH + 16 - len(heading)) + "\n")
    out.write(f"   rules: {rules_text(scenario.rules)}\n")
    out.write(f"   watch: {scenario.about}\n\n")
    out.write(f"   {'time':<14} {'event':<{_EVENT_WIDTH}} standing\n")
    auction = Auction()
    origin = scenario.rules.starts_at
    shown = ""
    for _command, events in play(scenario, auction):
        now = standing(auction)
        for index, event in enumerate(events):
            text = describe(event, auction)
            line = f"   {clock(event.at, origin)}  {text}"
            if index == len(events) - 1 and now != shown:
                # The standing after the whole command, beside its last event, and only
                # when it changed, so the eye catches every change.
                line = f"{line:<{_EVENT_WIDTH + 19}} {now}"
                shown = now
            out.write(line.rstrip() + "\n")
    out.write("\n")
    for line in result(auction):
        out.write(f"   {line}\n")
