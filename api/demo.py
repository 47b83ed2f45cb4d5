"""``make run``'s demo: a live reverse auction, an officer and three bidder credentials.

``seed_demo`` runs after start-up when ``--demo`` is set. It creates a fresh auction
(``demo-<time>``: a procurement starting now, 30 minutes long, 2-minute soft close) and
returns the text printed on the terminal (:func:`welcome_text`): what the auction is,
the tokens and ready-to-paste commands, and last, where a newcomer's eye lands, the
links to open (:func:`demo_links`). The node prints it after its own start-up lines, so
nothing follows it while the server runs quietly.
"""

from __future__ import annotations

import time

from api.access import auth
from api.access.credentials import Credentials
from api.auctions.outcomes import new_command_id
from api.auctions.service import Service
from api.settings import Settings
from engine import RegisterBidder, ReverseRules, SoftClose, Step

__all__ = ["demo_links", "seed_demo", "welcome_text"]

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
    return welcome_text(auction_id, settings.base_url, officer, tokens)


def demo_links(base: str) -> list[tuple[str, str]]:
    """The links the welcome ends with, as (what, URL), most useful first.

    Only pages a browser opens as they are, with nothing to type, paste or send first
    (the websocket hint that was here needed a subprotocol and a token, so it could not
    work from a browser's address bar). Still to come here (issue 14): the suppliers'
    invitation links to the demo auction, first, made by :func:`seed_demo`; and the
    landing page ``/`` once it serves one.
    """
    return [("API docs", f"{base}/api/v1/docs")]


def welcome_text(auction_id: str, base: str, officer: str, bidders: dict[str, str]) -> str:
    """The demo's welcome: the auction, the officer's and each bidder's token, commands
    that use them, and the links of :func:`demo_links` last (after everything else, so
    they are what stays on screen)."""
    lines = [
        "",
        f"Demo: reverse auction {auction_id!r}, budget EUR 100,000.00, step EUR 500.00,",
        "30 minutes with a 2-minute soft close. Lowest price wins.",
        "",
        f"Officer token:\n  {officer}",
    ]
    for party, token in bidders.items():
        lines.append(f"Bidder {party!r} token:\n  {token}")
    first = next(iter(bidders.values()))
    first_party = next(iter(bidders))
    lines += [
        "",
        f"Place a bid as {first_party}:",
        f"  curl -s -X POST {base}/api/v1/auctions/{auction_id}/bids \\",
        f"    -H 'Authorization: Bearer {first}' \\",
        "    -H 'Content-Type: application/json' \\",
        """    -d '{"amount": "99000.00", "currency": "EUR"}'""",
        "See the auction:",
        f"  curl -s {base}/api/v1/auctions/{auction_id} -H 'Authorization: Bearer {first}'",
        "",
        f"Gavel is running at {base}",
    ]
    links = demo_links(base)
    width = max(len(what) for what, _ in links) + 1
    lines += [f"  {what + ':':<{width}}  {url}" for what, url in links]
    lines.append("")
    return "\n".join(lines)
