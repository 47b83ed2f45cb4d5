"""The demo's opponents: simulated suppliers that answer a newcomer's bids.

``gavel serve --demo`` (:mod:`api.demo`) finds :func:`run_opponents` through the entry
point ``opponents`` of the group ``gavel.demo`` (pyproject.toml), never by importing this
package, and runs it as a task of the server's node. Each opponent is a
:class:`~bidders_sim.strategies.min_step.MinStep` bidder over a real websocket to the
server's own URL (:func:`bidders_sim.runner.run_bidder`): when outbid it answers with the
least valid bid, after a human-like pause, never below its private cost.

Seeded: :func:`opponent_value` and :func:`opponent_pause` draw from
``random.Random(seed)``, in that order, so a test that knows the seed knows the cost.
The cost is uniform over 75 %..88 % of the budget (whole currency units): a person who
keeps bidding wins. Call order: ``await run_opponents(...)`` until the auction ends or
the task is cancelled (the node's shutdown); each opponent reconnects while it lasts.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping

from bidders_sim.runner import run_bidder
from bidders_sim.strategies import build
from engine.money import minor_units

__all__ = ["COST_SHARE", "PAUSE_S", "opponent_pause", "opponent_value", "run_opponents"]

log = logging.getLogger("gavel.demo")

#: An opponent's cost, in per mille of the budget: (low, high), uniform.
COST_SHARE = (750, 880)

#: An opponent's pause before it answers, in seconds: (low, high), uniform.
PAUSE_S = (1.5, 4.0)


def opponent_value(rng: random.Random, budget: int, currency: str) -> int:
    """An opponent's private cost (minor units): :data:`COST_SHARE` of ``budget``, in
    whole units of ``currency``. One draw from ``rng``. O(1)."""
    per_mille = rng.randint(*COST_SHARE)
    unit: int = 10 ** minor_units(currency)
    cost: int = budget * per_mille // 1000 // unit * unit
    return cost


def opponent_pause(rng: random.Random) -> Callable[[], float]:
    """The pause before each answer: a fresh draw from :data:`PAUSE_S` each time."""
    low, high = PAUSE_S
    return lambda: rng.uniform(low, high)


async def run_opponents(
    *,
    ws_url: str,
    auction_id: str,
    tokens: Mapping[str, str],
    budget: int,
    currency: str,
    seed: int,
) -> None:
    """Bid as each of ``tokens`` (party -> bidder token) in the procurement
    ``auction_id`` of ``budget`` (minor units of ``currency``) on the server at
    ``ws_url`` (``ws://host:port``) until it ends; see the module docstring."""
    runs = []
    for number, (party, token) in enumerate(sorted(tokens.items())):
        rng = random.Random(seed + number)
        value = opponent_value(rng, budget, currency)
        strategy = build("min_step", party=party, value=value, rng=rng)
        runs.append(
            run_bidder(
                ws_url,
                auction_id,
                token,
                strategy,
                party=party,
                pause=opponent_pause(rng),
                reconnects=1000,
            )
        )
    # Nothing logged at the start: the demo's welcome, which says who bids back, stays
    # the last thing on the terminal.
    for outcome in await asyncio.gather(*runs):
        if outcome.error is not None:
            log.warning(
                "demo opponent %s stopped: %s",
                outcome.party,
                outcome.error,
                extra={"auction": auction_id},
            )
