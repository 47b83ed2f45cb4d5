"""The simulated bidders' strategies, by name, and how to build one.

Each strategy is a small pure class in its own module (see :mod:`bidders_sim.strategy`
for the contract): ``decide(view) -> Action | None`` and ``wake_at(view) -> int | None``,
deterministic given the ``random.Random`` it was built with.

Call order for a runner: draw each bidder's private value with :func:`draw_value`, then
``build(name, party=..., value=..., rng=..., **params)`` once per bidder and auction (for
the ring, one :class:`Ring` per auction shared by its members: ``ring=Ring(members, i)``);
check the auction's format is in ``FORMATS[name]``.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar, Protocol

from bidders_sim.strategies.dutch_waiter import DutchWaiter
from bidders_sim.strategies.jump import Jump
from bidders_sim.strategies.min_step import MinStep
from bidders_sim.strategies.proxy import ProxyBidder
from bidders_sim.strategies.ring import Ring, RingMember
from bidders_sim.strategies.round_passer import RoundPasser
from bidders_sim.strategies.shader import Shader
from bidders_sim.strategies.sniper import Sniper
from bidders_sim.strategies.truthful import Truthful
from bidders_sim.strategy import Strategy
from bidders_sim.values import draw_value

__all__ = ["FORMATS", "STRATEGIES", "Ring", "build", "draw_value"]


class _Registered(Protocol):
    name: ClassVar[str]
    formats: ClassVar[tuple[str, ...]]


_CLASSES: tuple[type[_Registered], ...] = (
    MinStep,
    Jump,
    Sniper,
    ProxyBidder,
    Truthful,
    Shader,
    DutchWaiter,
    RoundPasser,
    RingMember,
)

#: Every strategy class by its name (``gavel sim --strategy NAME``).
STRATEGIES: dict[str, type] = {cls.name: cls for cls in _CLASSES}

#: The ``View.format`` values each strategy plays (elsewhere it only ever answers None).
FORMATS: dict[str, tuple[str, ...]] = {cls.name: cls.formats for cls in _CLASSES}


def build(name: str, *, party: str, value: int, rng: random.Random, **params: Any) -> Strategy:
    """A new strategy ``name`` for bidder ``party`` with private ``value`` (minor units).

    ``params`` are the strategy's own (its class docstring lists them with defaults);
    ``"ring"`` requires ``ring=Ring(...)``. Raises ``ValueError`` for an unknown name, a
    non-positive value or a bad parameter, ``TypeError`` for an unknown parameter. O(1).
    """
    cls = STRATEGIES.get(name)
    if cls is None:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}")
    if value <= 0:
        raise ValueError("value must be positive")
    strategy: Strategy = cls(party=party, value=value, rng=rng, **params)
    return strategy
