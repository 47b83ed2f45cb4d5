"""``make run``'s demo: a live reverse auction, an officer and three bidder credentials.

``seed_demo`` runs after start-up when ``--demo`` is set. It creates a fresh auction
(``demo-<time>``: a procurement starting now, 30 minutes long, 2-minute soft close) and
returns the text printed on the terminal: tokens and ready-to-paste commands.
"""

from __future__ import annotations

import time

from api.access import auth
from api.access.credentials import Credentials
from api.auctions.outcomes import new_command_id
from api.auctions.service import Service
from api.settings import Settings
from engine import RegisterBidder, ReverseRules, SoftClose, Step

__all__ = ["seed_demo"]

_MINUTE = 60_000_000


async def seed_demo(service: Service, credentials: Credentials, settings: Settings) -> str:
    """Create the demo auction on ``service`` and its credentials; return the welcome
    text. The tokens are issued unrecorded: call ``credentials.record_tokens()`` before
    printing the text (the node's start-up does)."""
    now = service.clock()
    auction_id = f"demo-{int(time.time())}"
    rules = ReverseRules(
        currency="EUR",
        starts_at=now + 2_000_000,
        ends_at=now + 30 * _MINUTE,
        start_price=10_000_000,  # EUR 100,000.00: the budget ceiling
        step=Step(amount=50_000),  # EUR 500.00
        soft_close=SoftClose(window_us=2 * _MINUTE, extension_us=2 * _MINUTE),
    )
    await service.create(auction_id, rules, new_command_id("demo"))
    officer = credentials.issue("demo-officer", auth.Role.OFFICER, None)
    tokens = {}
    for party in ("acme", "globex", "initech"):

        def register(at: int, party: str = party) -> RegisterBidder:
            return RegisterBidder(new_command_id("demo"), at, party)

        await service.submit(auction_id, register)
        tokens[party] = credentials.issue(party, auth.Role.BIDDER, auction_id)
    base = settings.base_url
    lines = [
        "",
        "Gavel is running at " + base,
        f"Demo: reverse auction {auction_id!r}, budget EUR 100,000.00, step EUR 500.00,",
        "30 minutes with a 2-minute soft close. Lowest price wins.",
        "",
        f"Officer token:\n  {officer}",
    ]
    for party, token in tokens.items():
        lines.append(f"Bidder {party!r} token:\n  {token}")
    acme = tokens["acme"]
    lines += [
        "",
        "Place a bid as acme:",
        f"  curl -s -X POST {base}/api/v1/auctions/{auction_id}/bids \\",
        f"    -H 'Authorization: Bearer {acme}' \\",
        "    -H 'Content-Type: application/json' \\",
        """    -d '{"amount": "99000.00", "currency": "EUR"}'""",
        "See the auction:",
        f"  curl -s {base}/api/v1/auctions/{auction_id} -H 'Authorization: Bearer {acme}'",
        'Watch it live (websocket, send {"type": "subscribe", "since": 0} first):',
        f"  ws://{settings.host}:{settings.port}/ws/v1/auctions/{auction_id}",
        f"API docs: {base}/api/v1/docs",
        "",
    ]
    return "\n".join(lines)
