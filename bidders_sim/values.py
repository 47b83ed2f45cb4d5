"""Private values: what each simulated bidder would at most pay (or at least take),
drawn from a stated distribution, seeded.

Call :func:`draw_value` once per bidder with the runner's seeded ``random.Random``; the
same seed and call order give the same values. Integer arithmetic only: the draw is a
uniform integer, so values are reproducible on every platform (no floating point).
"""

from __future__ import annotations

import random

__all__ = ["VALUE_RANGES", "draw_value"]

#: The range of a value, in per mille of the start price, by format family and side:
#: ``(low, high)``, drawn uniformly (both ends included).
VALUE_RANGES: dict[tuple[str, str], tuple[int, int]] = {
    # A sale's start price is its minimum: most buyers value the lot above it (5 in 6).
    ("open", "higher"): (900, 1500),
    # A procurement's start price is its ceiling: most suppliers can do it cheaper (8 in 9).
    ("open", "lower"): (600, 1050),
    # A Dutch sale's clock starts high and falls: buyers value it below the start.
    ("dutch", "higher"): (500, 1000),
    # A reverse Dutch clock starts low and rises: suppliers want more than the start.
    ("dutch", "lower"): (1000, 1500),
}


def draw_value(
    rng: random.Random, start_price: int, better: str, *, format: str | None = None
) -> int:
    """A private value in minor units, uniform over :data:`VALUE_RANGES` of
    ``start_price`` (rounded down to a minor unit, at least 1). O(1); one draw from ``rng``.

    ``better``: ``"higher"`` (a sale) or ``"lower"`` (a procurement). ``format``:
    ``"dutch"`` for a clock auction, where the start price is the clock's first price
    (a sale's top, a procurement's bottom); any other format, or ``None``, draws around a
    minimum (sale) or ceiling (procurement): English, reverse, sealed, multi-round.

    >>> draw_value(random.Random(1), 100_000, "higher")
    104089
    """
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', not {better!r}")
    if start_price <= 0:
        raise ValueError("start_price must be positive")
    low, high = VALUE_RANGES["dutch" if format == "dutch" else "open", better]
    per_mille = rng.randint(low * 1000, high * 1000)
    return max(1, start_price * per_mille // 1_000_000)
