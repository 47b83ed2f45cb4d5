"""draw_value: seeded, uniform over the stated per-mille range of the start price."""

from __future__ import annotations

import random

import pytest

from bidders_sim.values import VALUE_RANGES, draw_value


def test_draw_value_is_seeded_and_on_the_right_side() -> None:
    def draws(seed: int, better: str, fmt: str | None = None) -> list[int]:
        rng = random.Random(seed)
        return [draw_value(rng, 100_000, better, format=fmt) for _ in range(300)]

    assert draws(3, "higher") == draws(3, "higher")
    assert draws(3, "higher") != draws(4, "higher")
    sale, buy = draws(5, "higher"), draws(5, "lower")
    assert all(90_000 <= v <= 150_000 for v in sale)
    assert sum(v > 100_000 for v in sale) > 200
    assert all(60_000 <= v <= 105_000 for v in buy)
    assert sum(v < 100_000 for v in buy) > 240
    assert all(50_000 <= v <= 100_000 for v in draws(5, "higher", "dutch"))
    assert all(100_000 <= v <= 150_000 for v in draws(5, "lower", "dutch"))
    with pytest.raises(ValueError):
        draw_value(random.Random(1), 100, "up")


def test_ranges_are_stated_for_both_sides_and_both_families() -> None:
    assert set(VALUE_RANGES) == {(f, b) for f in ("open", "dutch") for b in ("higher", "lower")}
    assert draw_value(random.Random(0), 1, "higher") >= 1
    with pytest.raises(ValueError):
        draw_value(random.Random(1), 0, "higher")
