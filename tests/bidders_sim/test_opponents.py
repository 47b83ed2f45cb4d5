"""The demo's opponents' seeded draws (their live run: tests/api/test_demo.py)."""

from __future__ import annotations

import random

from bidders_sim.opponents import COST_SHARE, PAUSE_S, opponent_pause, opponent_value


def test_the_cost_is_a_whole_amount_within_its_share_of_the_budget() -> None:
    costs = {opponent_value(random.Random(seed), 10_000_000, "EUR") for seed in range(200)}
    low, high = COST_SHARE
    assert all(10_000_000 * low // 1000 <= cost <= 10_000_000 * high // 1000 for cost in costs)
    assert all(cost % 100 == 0 for cost in costs) and len(costs) > 50
    assert opponent_value(random.Random(3), 500_000, "JPY") % 1 == 0
    first = opponent_value(random.Random(7), 10_000_000, "EUR")
    assert first == opponent_value(random.Random(7), 10_000_000, "EUR")


def test_a_pause_is_drawn_afresh_each_time_within_its_range() -> None:
    pause = opponent_pause(random.Random(1))
    pauses = [pause() for _ in range(50)]
    assert all(PAUSE_S[0] <= p <= PAUSE_S[1] for p in pauses) and len(set(pauses)) == 50
    again = opponent_pause(random.Random(1))
    assert [again() for _ in range(50)] == pauses
