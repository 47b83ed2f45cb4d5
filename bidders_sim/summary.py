"""``gavel sim``'s summary: what a run did, as one JSON-ready dict and as text.

:func:`summarize` is pure: it reads a :class:`~bidders_sim.sim.SimResult` (the plan, what
each bidder sent and heard, each auction's result as the server recorded it) and
returns the summary (:func:`render` writes it as text; ``--json`` prints the dict):

- ``auctions``: how many, by format and by outcome;
- ``bids_sent`` (every command a bidder sent: bids, proxies, accepts, passes), ``acks``,
  ``rejects`` by code, ``unanswered``, ``errors`` (bidders that stopped early);
- ``ack_latency_ms``: ``p50``, ``p90``, ``p99``, ``max`` of send-to-answer times
  (nearest rank), milliseconds rounded to 0.01;
- ``savings`` per currency: for procurements (reverse, multi-round, a Dutch or sealed
  procurement) the start prices (ceilings) against the prices awarded, ``saved`` as an
  amount and a percent of the start prices; for sales the ``uplift`` of the prices
  awarded over the start prices. Only awarded auctions count; amounts are decimal
  strings in major units, computed in integer minor units;
- ``winners``: per strategy, its bidders, its wins and its share of the awards;
- ``per_auction``: each auction's id, format, outcome, winners (party and strategy),
  start and final price;
- ``wall_time_s``.

O(auctions x bidders + requests log requests).
"""

from __future__ import annotations

import math
from collections import Counter
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from bidders_sim.sim import SimResult
from engine.money import format_minor
from engine.rules import AuctionRules, MultiRoundRules, ReverseRules, Side

__all__ = ["percentile", "render", "summarize"]

_CENT = Decimal("0.01")


def percentile(sorted_values: list[int], fraction: Decimal) -> int | None:
    """The nearest-rank percentile of ``sorted_values`` (ascending), ``None`` if empty.

    >>> percentile([1, 2, 3, 4], Decimal("0.5"))
    2
    """
    if not sorted_values:
        return None
    rank = math.ceil(fraction * len(sorted_values))  # exact: Decimal's ceiling
    return sorted_values[max(1, rank) - 1]


def _ms(micros: int | None) -> float | None:
    if micros is None:
        return None
    return float((Decimal(micros) / 1000).quantize(_CENT, ROUND_HALF_EVEN))


def _percent(part: int, whole: int) -> str | None:
    if whole == 0:
        return None
    return str((Decimal(part) * 100 / whole).quantize(_CENT, ROUND_HALF_EVEN))


def summarize(result: SimResult) -> dict[str, Any]:
    """The summary of ``result`` (see the module docstring)."""
    by_format: Counter[str] = Counter()
    by_outcome: Counter[str] = Counter()
    rejects: Counter[str] = Counter()
    latencies: list[int] = []
    sent = acks = unanswered = errors = 0
    bidders_per_strategy: Counter[str] = Counter()
    wins: Counter[str] = Counter()
    awards = 0
    money: dict[str, dict[str, dict[str, int]]] = {}
    rows = []
    for record in result.auctions:
        plan = record.plan
        by_format[plan.format] += 1
        strategy_of = {bidder.party: bidder.strategy for bidder in plan.bidders}
        for bidder in plan.bidders:
            bidders_per_strategy[bidder.strategy] += 1
        for outcome in record.bidders:
            sent += outcome.sent
            acks += outcome.acks
            unanswered += outcome.unanswered
            errors += outcome.error is not None
            rejects.update(outcome.rejects)
            latencies.extend(outcome.latencies_us)
        ended = record.result
        outcome_name = "not_ended" if ended is None else str(ended["outcome"])
        by_outcome[outcome_name] += 1
        winners = [] if ended is None else list(ended.get("winners") or [])
        for party in winners:
            wins[strategy_of.get(party, "?")] += 1
        start = getattr(plan.rules, "start_price", None)
        price = None if ended is None else ended.get("price")
        currency = plan.rules.currency
        procurement = _is_procurement(plan.rules)
        if outcome_name == "awarded" and isinstance(price, int) and start is not None:
            awards += 1
            side = money.setdefault(currency, {}).setdefault(
                "procurement" if procurement else "sale",
                {"auctions": 0, "start": 0, "final": 0},
            )
            side["auctions"] += 1
            side["start"] += start
            side["final"] += price
        rows.append(
            {
                "id": record.auction_id,
                "format": plan.format,
                "side": "procurement" if procurement else "sale",
                "outcome": outcome_name,
                "winners": [
                    {"party": party, "strategy": strategy_of.get(party, "?")} for party in winners
                ],
                "currency": currency,
                "start_price": None if start is None else format_minor(start, currency),
                "price": price if price is None else format_minor(price, currency),
            }
        )
    latencies.sort()
    return {
        "seed": result.plan.seed,
        "auctions": {
            "total": len(result.auctions),
            "by_format": dict(sorted(by_format.items())),
            "by_outcome": dict(sorted(by_outcome.items())),
        },
        "bids_sent": sent,
        "acks": acks,
        "rejects": dict(sorted(rejects.items())),
        "unanswered": unanswered,
        "errors": errors,
        "ack_latency_ms": {
            "count": len(latencies),
            "p50": _ms(percentile(latencies, Decimal("0.5"))),
            "p90": _ms(percentile(latencies, Decimal("0.9"))),
            "p99": _ms(percentile(latencies, Decimal("0.99"))),
            "max": _ms(latencies[-1] if latencies else None),
        },
        "savings": _savings(money),
        "winners": {
            strategy: {
                "bidders": bidders_per_strategy[strategy],
                "wins": wins[strategy],
                "share": _percent(wins[strategy], awards),
            }
            for strategy in sorted(set(bidders_per_strategy) | set(wins))
        },
        "per_auction": rows,
        "wall_time_s": round(result.wall_time_s, 2),
    }


def _is_procurement(rules: AuctionRules) -> bool:
    if isinstance(rules, ReverseRules | MultiRoundRules):
        return True
    return getattr(rules, "side", None) is Side.PROCUREMENT


def _savings(money: dict[str, dict[str, dict[str, int]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for currency, sides in sorted(money.items()):
        entry: dict[str, Any] = {}
        for side, sums in sorted(sides.items()):
            start, final = sums["start"], sums["final"]
            gain = start - final if side == "procurement" else final - start
            entry[side] = {
                "auctions": sums["auctions"],
                "start_total": format_minor(start, currency),
                "final_total": format_minor(final, currency),
                "saved" if side == "procurement" else "uplift": format_minor(gain, currency),
                "percent": _percent(gain, start),
            }
        out[currency] = entry
    return out


def render(summary: dict[str, Any]) -> str:
    """``summary`` as lines of text for a terminal."""
    auctions = summary["auctions"]
    formats = ", ".join(f"{name} {count}" for name, count in auctions["by_format"].items())
    outcomes = ", ".join(f"{name} {count}" for name, count in auctions["by_outcome"].items())
    lines = [
        f"gavel sim (seed {summary['seed']}): {auctions['total']} auctions in "
        f"{summary['wall_time_s']} s",
        f"  formats:   {formats}",
        f"  outcomes:  {outcomes}",
        f"  sent {summary['bids_sent']}, acks {summary['acks']}, "
        f"rejects {sum(summary['rejects'].values())}, unanswered {summary['unanswered']}"
        + (f", bidders stopped by errors {summary['errors']}" if summary["errors"] else ""),
    ]
    if summary["rejects"]:
        reasons = ", ".join(f"{code} {count}" for code, count in summary["rejects"].items())
        lines.append(f"  rejects:   {reasons}")
    latency = summary["ack_latency_ms"]
    if latency["count"]:
        lines.append(
            f"  latency:   p50 {latency['p50']} ms, p90 {latency['p90']} ms, "
            f"p99 {latency['p99']} ms, max {latency['max']} ms ({latency['count']} answers)"
        )
    for currency, sides in summary["savings"].items():
        for side, figures in sides.items():
            gain = figures.get("saved", figures.get("uplift"))
            word = "saved" if side == "procurement" else "uplift"
            lines.append(
                f"  {side}: {figures['auctions']} awarded, start {figures['start_total']} "
                f"-> final {figures['final_total']} {currency}: {word} {gain} "
                f"({figures['percent']} %)"
            )
    lines.append("  winners by strategy:")
    for strategy, figures in summary["winners"].items():
        share = "-" if figures["share"] is None else f"{figures['share']} %"
        lines.append(
            f"    {strategy:<14} {figures['wins']:>3} wins of {figures['bidders']:>3} bidders"
            f"  ({share} of awards)"
        )
    return "\n".join(lines) + "\n"
