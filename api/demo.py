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

The demo's opponents: the third supplier, :data:`OPPONENT` (no link goes to it), is a
simulated bidder that answers a newcomer's bids over a real websocket to the server's own
URL. Its code lives in ``bidders_sim`` (``bidders_sim/opponents.py``), which the server
never imports: :func:`find_opponents` loads it through the entry point ``opponents`` of
the group :data:`OPPONENTS_GROUP`, as ``gavel`` finds its optional commands. Without it
(an install without ``bidders_sim``) the demo runs without an opponent and its welcome
says so. Call order: ``demo = await seed_demo(...)``, record the tokens, print
``demo.welcome``, then ``demo.start_opponents()`` (the node keeps the task and cancels it
on shutdown).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import zlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from api.access import auth
from api.access.credentials import Credentials
from api.auctions.outcomes import new_command_id
from api.auctions.service import Service
from api.settings import Settings
from api.storage.invitations import InvitationStore, new_invitation
from engine import BidderRegistered, RegisterBidder, ReverseRules, SoftClose, Step

__all__ = [
    "OPPONENT",
    "OPPONENTS_GROUP",
    "Demo",
    "demo_links",
    "find_opponents",
    "opponent_seed",
    "seed_demo",
    "welcome_text",
]

log = logging.getLogger("gavel.demo")

_MINUTE = 60_000_000


#: The suppliers of the demo auction; the first two get invitation links.
PARTIES = ("acme", "globex", "initech")
INVITED = PARTIES[:2]
#: The supplier a simulated bidder plays (when ``bidders_sim`` is installed).
OPPONENT = PARTIES[2]

#: The entry-point group the demo's opponents come from (pyproject.toml).
OPPONENTS_GROUP = "gavel.demo"

#: What the ``opponents`` entry point holds (:func:`bidders_sim.opponents.run_opponents`):
#: called with keywords ``ws_url``, ``auction_id``, ``tokens`` (party -> token),
#: ``budget``, ``currency`` and ``seed``; runs until the auction ends.
RunOpponents = Callable[..., Coroutine[Any, Any, None]]


def find_opponents() -> RunOpponents | None:
    """The ``opponents`` entry point of :data:`OPPONENTS_GROUP`, loaded; ``None`` when
    none is installed or it does not load (logged)."""
    for point in entry_points(group=OPPONENTS_GROUP):
        if point.name == "opponents":
            try:
                found: RunOpponents = point.load()
            except ModuleNotFoundError as error:  # declared, but bidders_sim is not installed
                log.warning("the demo runs without opponents: %s", error)
                return None
            except Exception:  # noqa: BLE001 - a broken optional package: no opponents
                log.exception("the demo's opponents did not load")
                return None
            return found
    return None


def opponent_seed(auction_id: str) -> int:
    """The seed of the demo's opponents in ``auction_id``: the same auction id, the same
    costs and pauses. O(len)."""
    return zlib.crc32(auction_id.encode())


@dataclass(frozen=True, slots=True)
class Demo:
    """The seeded demo: its welcome text and what starts its opponents."""

    welcome: str
    auction_id: str
    #: Makes the opponents' run, ready to start (``None``: no ``bidders_sim``).
    opponents: Callable[[], Coroutine[Any, Any, None]] | None = None

    def start_opponents(self) -> asyncio.Task[None] | None:
        """Start the opponents as a task (the caller keeps it and cancels it on
        shutdown); ``None`` without opponents. Call once, after the tokens are recorded
        and the server answers."""
        if self.opponents is None:
            return None
        return asyncio.get_running_loop().create_task(
            self.opponents(), name=f"gavel-demo-opponents-{self.auction_id}"
        )


def _own_ws_url(settings: Settings) -> str:
    """Where this server answers websockets, from inside it: loopback for a wildcard."""
    host = settings.host
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"ws://{host}:{settings.port}"


async def seed_demo(
    service: Service,
    credentials: Credentials,
    settings: Settings,
    invitations: InvitationStore,
    opponents: RunOpponents | None = None,
) -> Demo:
    """Create the demo auction on ``service``, its credentials and the invitations of
    :data:`INVITED` in ``invitations``; return the :class:`Demo` (its welcome text, and
    the run of ``opponents``, by default :func:`find_opponents`, as :data:`OPPONENT`).
    The tokens are issued unrecorded: call ``credentials.record_tokens()`` before printing
    the text (the node's start-up does)."""
    if opponents is None:
        opponents = find_opponents()
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
    labels = {}
    for party in PARTIES:

        def register(at: int, party: str = party) -> RegisterBidder:
            return RegisterBidder(new_command_id("demo"), at, party)

        events = await service.submit(auction_id, register)
        labels[party] = next(
            (event.label for event in events if isinstance(event, BidderRegistered)), party
        )
        tokens[party] = credentials.issue(party, auth.Role.BIDDER, auction_id)
    codes = {}
    for party in INVITED:
        code, invitation = new_invitation(
            auction_id, party, "demo-officer", now=now, expires_at=rules.ends_at
        )
        await invitations.issue(invitation)
        codes[party] = code
    run = None
    if opponents is not None:
        run = functools.partial(
            opponents,
            ws_url=_own_ws_url(settings),
            auction_id=auction_id,
            tokens={OPPONENT: tokens[OPPONENT]},
            budget=rules.start_price,
            currency=rules.currency,
            seed=opponent_seed(auction_id),
        )
    opponent = (OPPONENT, labels[OPPONENT]) if run is not None else None
    text = welcome_text(auction_id, settings.base_url, officer, tokens, codes, opponent)
    return Demo(text, auction_id, run)


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
    opponent: tuple[str, str] | None = None,
) -> str:
    """The demo's welcome: the auction, who bids back (``opponent``: its party and
    label, or ``None`` when no simulated bidder runs), the officer's and each bidder's
    token, commands that use them, and the links of :func:`demo_links` last (after
    everything else, so they are what stays on screen)."""
    lines = [
        "",
        f"Demo: reverse auction {auction_id!r}, budget EUR 100,000.00, step EUR 500.00,",
        "30 minutes with a 2-minute soft close. Lowest price wins.",
    ]
    if opponent is not None:
        party, label = opponent
        lines += [
            f"{party} ({label}) bids back: a simulated supplier that answers your offers",
            "after a few seconds, down to a private cost of its own. Beat it to win.",
        ]
    else:
        lines += ["No simulated opponent bids (bidders_sim is not installed): bring a friend."]
    lines += [
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
