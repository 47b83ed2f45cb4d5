"""What the in-process cluster tests (the ``two_nodes`` fixture) share: a reverse auction
created on a node, about to start, with its bidders registered."""

from __future__ import annotations

import asyncio
import time

from api.node import Node
from contracts.rules_json import rules_from_json
from engine import RegisterBidder

S = 1_000_000


async def reverse_auction(node: Node, auction_id: str, parties: tuple[str, ...]) -> int:
    """Create ``auction_id`` on ``node`` (reverse, EUR, from 10,000.00 by 0.01, beat own),
    starting 0.2 s from now, and register ``parties`` in order (seqs 2, 3, ...); its
    ``starts_at`` (µs)."""
    starts_at = time.time_ns() // 1000 + S // 5
    rules = rules_from_json(
        {
            "format": "reverse",
            "currency": "EUR",
            "starts_at": starts_at,
            "ends_at": starts_at + 600 * S,
            "start_price": "10000.00",
            "step": {"amount": "0.01"},
            "improvement": "beat_own",
        }
    )
    await node.svc.create(auction_id, rules, f"create-{auction_id}")
    for party in parties:
        await node.svc.submit(auction_id, lambda at, p=party: RegisterBidder(f"reg-{p}", at, p))
    return starts_at


async def until(at_us: int) -> None:
    """Sleep until just after the wall-clock time ``at_us`` (µs)."""
    await asyncio.sleep(max(0.0, (at_us - time.time_ns() // 1000) / S) + 0.05)
