"""``make run``'s demo: a live reverse auction, an officer and three bidder credentials.

``seed_demo`` runs after start-up when ``--demo`` is set. It creates a fresh auction
(``demo-<time>``: a procurement starting now, 30 minutes long, 2-minute soft close),
invites two of its suppliers (one-time links to the supplier's page, ``/app/#invite=…``,
valid until the auction ends) and returns the text printed on the terminal
(:func:`welcome_text`): what the auction is, the tokens and ready-to-paste commands, and
last, where a newcomer's eye lands, the links to open (:func:`demo_links`): the two
suppliers' pages first (open each in its own window and bid one against the other), then
the landing page and the API docs. The node prints it after its own start-up lines, so
nothing follows it while the server runs quietly.
"""

from __future__ import annotations

import time

from api.access import auth
from api.access.credentials import Credentials
from api.auctions.outcomes import new_command_id
from api.auctions.service import Service
from api.settings import Settings
from api.storage.invitations import InvitationStore, new_invitation
from engine import RegisterBidder, ReverseRules, SoftClose, Step

__all__ = ["demo_links", "seed_demo", "welcome_text"]

_MINUTE = 60_000_000


#: The suppliers of the demo auction; the first two get invitation links.
PARTIES = ("acme", "globex", "initech")
INVITED = PARTIES[:2]


async def seed_demo(
    service: Service, credentials: Credentials, settings: Settings, invitations: InvitationStore
) -> str:
    """Create the demo auction on ``service``, its credentials and the invitations of
    :data:`INVITED` in ``invitations``; return the welcome text. The tokens are issued
    unrecorded: call ``credentials.record_tokens()`` before printing the text (the node's
    start-up does)."""
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
    for party in PARTIES:

        def register(at: int, party: str = party) -> RegisterBidder:
            return RegisterBidder(new_command_id("demo"), at, party)

        await service.submit(auction_id, register)
        tokens[party] = credentials.issue(party, auth.Role.BIDDER, auction_id)
    codes = {}
    for party in INVITED:
        code, invitation = new_invitation(
            auction_id, party, "demo-officer", now=now, expires_at=rules.ends_at
        )
        await invitations.issue(invitation)
        codes[party] = code
    return welcome_text(auction_id, settings.base_url, officer, tokens, codes)


def demo_links(base: str, invited: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The links the welcome ends with, as (what, URL), most useful first: each invited
    supplier's one-time link to the supplier's page (``invited``: party -> code), the
    officer's console and the auditor's desk (signed in with the officer's token the
    welcome prints), the landing page, the API docs.

    Only pages a browser opens as they are, with nothing to type, paste or send first
    (a websocket hint needs a subprotocol and a token, so it cannot work from a
    browser's address bar).
    """
    links = [
        (f"Bid as {party!r} (one-time link, own window)", f"{base}/app/#invite={code}")
        for party, code in (invited or {}).items()
    ]
    staff = [
        ("Officer's console (sign in with the officer token above)", f"{base}/app/#/officer"),
        ("Auditor's desk (the same token)", f"{base}/app/#/audit"),
    ]
    return [*links, *staff, ("Landing page", f"{base}/"), ("API docs", f"{base}/api/v1/docs")]


def welcome_text(
    auction_id: str,
    base: str,
    officer: str,
    bidders: dict[str, str],
    invited: dict[str, str] | None = None,
) -> str:
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
    links = demo_links(base, invited)
    width = max(len(what) for what, _ in links) + 1
    lines += [f"  {what + ':':<{width}}  {url}" for what, url in links]
    lines.append("")
    return "\n".join(lines)
