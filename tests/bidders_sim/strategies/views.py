"""Hand-built views for the strategy tests: a plausible running auction per format,
any field overridden by keyword."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bidders_sim.strategy import View

#: 2025-03-01 09:00:00 UTC, in microseconds: every test auction starts then.
START = 1_740_819_600_000_000
SECOND = 1_000_000

_BASE: dict[str, View] = {
    "english": View(
        format="english",
        better="higher",
        currency="EUR",
        now=START + 60 * SECOND,
        phase="running",
        starts_at=START,
        ends_at=START + 300 * SECOND,
        start_price=1000_00,
        best=1200_00,
        leading=False,
        next_valid=1250_00,
        bids_seen=3,
        soft_close_window_us=60 * SECOND,
    ),
    "reverse": View(
        format="reverse",
        better="lower",
        currency="UAH",
        now=START + 60 * SECOND,
        phase="running",
        starts_at=START,
        ends_at=START + 600 * SECOND,
        start_price=100_000_00,
        best=90_000_00,
        leading=False,
        next_valid=89_000_00,
        bids_seen=2,
    ),
    "sealed": View(
        format="sealed",
        better="higher",
        currency="EUR",
        now=START + 60 * SECOND,
        phase="running",
        starts_at=START,
        ends_at=START + 600 * SECOND,
        start_price=20_000_00,
        best=None,
        leading=False,
        next_valid=20_000_00,
        bidders=4,
        pricing="first_price",
    ),
    "dutch": View(
        format="dutch",
        better="higher",
        currency="EUR",
        now=START + 30 * SECOND,
        phase="running",
        starts_at=START,
        ends_at=None,
        start_price=10_000_00,
        best=None,
        leading=False,
        next_valid=None,
        dutch_price=9_500_00,
        dutch_step=500_00,
        dutch_interval_us=20 * SECOND,
    ),
    "multi_round": View(
        format="multi_round",
        better="lower",
        currency="UAH",
        now=START + 10 * SECOND,
        phase="running",
        starts_at=START,
        ends_at=None,
        start_price=55_000_00,
        best=48_000_00,
        leading=False,
        next_valid=49_500_00,
        my_best=50_000_00,
        round=1,
        my_turn=True,
        turn_ends_at=START + 60 * SECOND,
    ),
}


def view(format: str = "english", **changes: Any) -> View:
    """A running ``format`` auction's view with ``changes`` applied."""
    return replace(_BASE[format], **changes)
