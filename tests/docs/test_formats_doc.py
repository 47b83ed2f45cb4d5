"""docs/formats.md's worked examples, run through the engine.

Every fenced block of the doc whose info string is ``gavel`` is one worked example: the
rules object as the wire takes it (JSON, parsed by :func:`contracts.rules_json.rules_from_json`
and validated against the published JSON Schema), then one command a line, each followed by
the events the doc says it produces (``  -> ...``, one a line; none when the command
produces nothing). The test runs each command through :class:`engine.Auction` and asserts
the events, written the same way, are exactly the ones the doc lists: the doc and the
engine cannot disagree. Times are written ``t+N`` (seconds after the rules' ``starts_at``),
amounts in major units (the rules' currency), scores as the operator's story shows them
(:func:`api.auctions.story.score_text`: ``≈`` marks a score rounded to a minor unit).

Command lines::

    register ann [coefficient=0.10] [cost=250.00] [initial=1000.00]
    t+30: ann bid 100.00 | ann proxy 150.00 | ann accept | ann pass | tick
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from api.auctions.story import score_text
from contracts.rules_json import rules_from_json, rules_schema
from engine import Auction
from engine import commands as c
from engine import events as e
from engine.formats.base import StepRule
from engine.money import format_minor, to_minor
from engine.rules import AuctionRules, Step
from engine.scoring import Scoring

DOC = Path(__file__).resolve().parents[2] / "docs" / "formats.md"
_BLOCK = re.compile(r"^```gavel\n(.*?)^```", re.MULTILINE | re.DOTALL)
_COMMAND = re.compile(r"^(register .*|t\+[0-9.]+: .*)$")
S = 1_000_000


def examples() -> list[str]:
    """The text of every worked example of the doc, in order."""
    return _BLOCK.findall(DOC.read_text(encoding="utf-8"))


class Renderer:
    """Events written as the doc writes them."""

    def __init__(self, rules: AuctionRules) -> None:
        self.rules = rules
        self.cur = rules.currency
        self.scored = getattr(rules, "scoring", Scoring.NONE) is not Scoring.NONE

    def time(self, us: int) -> str:
        seconds = Decimal(us - self.rules.starts_at) / S
        return f"t+{seconds.normalize():f}"

    def money(self, minor: int | None) -> str:
        return "none" if minor is None else format_minor(minor, self.cur)

    def priced(self, price: int | None, score: Fraction | int | None) -> str:
        text = self.money(price)
        if self.scored and score is not None:
            text += f" (score {score_text(score, self.cur)})"
        return text

    def event(self, event: Any) -> str:  # noqa: C901, PLR0911, PLR0912
        if isinstance(event, e.BidderRegistered):
            initial = (
                f", initial offer {self.money(event.initial_bid)}" if event.initial_bid else ""
            )
            return f"registered {event.bidder}{initial}"
        if isinstance(event, e.AuctionStarted):
            return "started" + (f", ends {self.time(event.ends_at)}" if event.ends_at else "")
        if isinstance(event, e.BidAccepted):
            by = " (by proxy)" if event.proxy else ""
            return f"{event.bidder} bids {self.priced(event.price, event.score)}{by}"
        if isinstance(event, e.ProxySet):
            return f"{event.bidder}'s proxy limit is {self.money(event.limit)}"
        if isinstance(event, e.EndExtended):
            return f"end moves to {self.time(event.ends_at)}"
        if isinstance(event, e.PriceChanged):
            return f"price {self.money(event.price)} until {self.time(event.next_at)}"
        if isinstance(event, e.RoundStarted):
            return f"round {event.round} starts, order {', '.join(event.order)}"
        if isinstance(event, e.TurnStarted):
            return f"{event.bidder}'s turn until {self.time(event.ends_at)}"
        if isinstance(event, e.TurnEnded):
            text = f"{event.bidder}'s turn ends"
            if event.price is not None:
                text += f" at {self.priced(event.price, event.score)}"
            return text + (", passed" if event.passed else "")
        if isinstance(event, e.RoundEnded):
            after = f", next at {self.time(event.resumes_at)}" if event.resumes_at else ""
            return f"round {event.round} ends{after}"
        if isinstance(event, e.AuctionEnded):
            if event.outcome is e.Outcome.AWARDED:
                who = ", ".join(event.winners)
                return f"ends: awarded to {who} at {self.priced(event.price, event.score)}"
            return f"ends: {event.outcome.value}"
        if isinstance(event, e.CommandRejected):
            return f"refused: {event.reason.value}"
        raise AssertionError(f"no doc form for {event!r}")  # pragma: no cover


def split(text: str) -> tuple[dict[str, Any], list[str]]:
    """An example's rules object (as sent) and its command and event lines."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if _COMMAND.match(line))
    return json.loads("\n".join(lines[:start])), lines[start:]


def run_example(text: str) -> tuple[list[str], list[str]]:
    """(what the doc says, what the engine does), line for line."""
    wire, lines = split(text)
    jsonschema.Draft202012Validator(rules_schema()).validate(wire)
    rules = rules_from_json(wire)
    auction = Auction()
    ids = (f"cmd-{n}" for n in itertools.count(1))
    created = auction.handle(c.CreateAuction(next(ids), 0, rules))
    assert isinstance(created[0], e.AuctionCreated), created
    render = Renderer(rules)
    said: list[str] = []
    done: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        if line.startswith("  -> "):
            said.append(f"{line[5:].rstrip()}")
            continue
        assert _COMMAND.match(line), f"not a command or an event: {line!r}"
        said.append(line)
        done.append(line)
        for event in auction.handle(_command(line, rules, next(ids))):
            done.append(render.event(event))
    return said, done


def _command(line: str, rules: AuctionRules, command_id: str) -> c.Command:
    if line.startswith("register "):
        who, *options = line.split()[1:]
        given = dict(option.split("=") for option in options)
        initial = given.get("initial")
        return c.RegisterBidder(
            command_id,
            0,
            who,
            Decimal(given.get("coefficient", "0")),
            Decimal(given.get("cost", "0")),
            Decimal(initial) if initial else None,
        )
    when, what = line.split(": ", 1)
    at = rules.starts_at + int(Decimal(when[2:]) * S)
    if what == "tick":
        return c.Tick(command_id, at)
    who, verb, *rest = what.split()
    if verb == "bid":
        return c.PlaceBid(command_id, at, who, Decimal(rest[0]), rules.currency)
    if verb == "proxy":
        return c.SetProxy(command_id, at, who, Decimal(rest[0]), rules.currency)
    if verb == "accept":
        return c.AcceptPrice(command_id, at, who)
    if verb == "pass":
        return c.PassTurn(command_id, at, who)
    raise AssertionError(f"unknown command {line!r}")  # pragma: no cover


def test_the_doc_has_a_worked_example_of_every_format() -> None:
    formats = [split(text)[0]["format"] for text in examples()]
    assert set(formats) == {"english", "reverse", "dutch", "sealed", "multiround"}


@pytest.mark.parametrize("number", range(len(examples())))
def test_worked_example(number: int) -> None:
    said, done = run_example(examples()[number])
    assert done == said


def test_the_hand_off_example_is_multiround_rules_the_server_takes() -> None:
    blocks = re.findall(r"^```json\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)
    assert blocks
    for block in blocks:
        wire = json.loads(block)
        jsonschema.Draft202012Validator(rules_schema()).validate(wire)
        assert rules_from_json(wire).problem() is None
        assert wire["format"] == "multiround"


def test_the_doc_says_the_start_time_right() -> None:
    text = " ".join(DOC.read_text(encoding="utf-8").split())
    starts = datetime.fromtimestamp(1_790_000_000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert f"(1790000000000000 µs, {starts})" in text
    assert all(split(example)[0]["starts_at"] == 1_790_000_000_000_000 for example in examples())


def test_the_minor_units_the_prose_quotes_are_the_amounts_it_names() -> None:
    """'500.00 EUR (50000 minor units)', '98499 minor units, 984.99', '1500 (15.00)'."""
    text = " ".join(DOC.read_text(encoding="utf-8").split())
    pairs = [
        (major, minor)
        for pattern in (
            r"([0-9]+\.[0-9]{2})[^()0-9]{0,5}\(([0-9]+) minor units",
            r"`([0-9]+\.[0-9]{2})` EUR is ([0-9]+) minor units",
        )
        for major, minor in re.findall(pattern, text)
    ]
    pairs += [
        (major, minor) for minor, major in re.findall(r"([0-9]+) \(([0-9]+\.[0-9]{2})\)", text)
    ]
    pairs += [
        (major, minor) for minor, major in re.findall(r"([0-9]+) minor units, ([0-9.]+)", text)
    ]
    assert len(pairs) >= 8, pairs
    for major, minor in pairs:
        assert to_minor(Decimal(major), "EUR", 10**15) == int(minor), (major, minor)


def test_the_percent_step_is_as_the_prose_computes_it() -> None:
    text = " ".join(DOC.read_text(encoding="utf-8").split())
    assert "1.5 % × 99999 = 1499.985 minor units, rounded up to 1500 (15.00)" in text
    assert Decimal("0.015") * 99999 == Decimal("1499.985")
    assert StepRule(Step(percent=Decimal("1.5"))).of(99_999) == 1500
    assert "107700 / 1.1 = 97909.09… minor units, shown ≈979.09" in text
    assert Fraction(107_700) / Fraction("1.1") == Fraction(1_077_000, 11)
    assert score_text(Fraction(1_077_000, 11), "EUR") == "≈979.09"
