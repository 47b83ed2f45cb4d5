"""The core's feed of committed events, for read-only edges (:mod:`api.live.edge`).

``GET /ws/v1/feed`` (a websocket) streams every committed event of every auction, in
commit order, one text frame per commit::

    {"auction":"<id>"}
    <canonical bytes of the first event (engine.codec.encode_event)>
    <canonical bytes of the next event>
    ...

and one frame per signed checkpoint the audit trail issues (at an opening, a round's end,
a close; :mod:`api.audit.trail`), which a core pushes to its own watchers too::

    {"auction":"<id>","checkpoint":{"size":N,"root":"<hex>","note":"<checkpoint text>"}}

Lines are separated by ``\\n``. Canonical event JSON never holds a raw newline (JSON
escapes control characters inside strings), so an edge splits the frame on ``\\n`` and
decodes each line with :func:`engine.codec.decode_event` without parsing the whole frame
as one document.

Only a token of role ``auditor`` or ``officer`` that is not bound to an auction may
connect: anything else is closed with 4401 (no valid token: missing, bad, expired,
revoked) or 4403 (a valid token that may not read every auction), with the problem code
as the close reason. The feed carries identities, as an officer's view does.

The frames are built in the service's observer, synchronously after each commit, and
go to each edge through a bounded queue (:class:`~api.live.hub.Subscriber`): an edge whose
queue overflows is closed with ``CLOSE_TOO_SLOW`` and resyncs from PostgreSQL when it
reconnects; the core never waits for it. Events that reach the hub without a commit
observer (an auction's creation, a runner's reload) are not in the feed: the edge reads
them from PostgreSQL when the next fed event of that auction is ahead of what it has.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sanic import Blueprint, Request

from api.access import auth
from api.access import rules as access
from api.access.revocations import Revocations
from api.auctions.views import Audience
from api.live.handshake import handshake_claims
from api.live.hub import Subscriber, wire
from api.live.sanic_ws import outlet_of
from api.live.ws import until_first_done, write_frames
from contracts.messages import CLOSE_AUTH_FAILED, CLOSE_GOING_AWAY, CLOSE_TOO_SLOW
from engine import Event
from engine.codec import encode_event

__all__ = [
    "CLOSE_FORBIDDEN",
    "FEED_PATH",
    "FEED_QUEUE",
    "FEED_ROUTE",
    "FeedNode",
    "checkpoint_frame",
    "feed_blueprint",
    "feed_frame",
]

FEED_PATH = "/ws/v1/feed"
#: The route's name: its rule in :mod:`api.access.rules` is found by it.
FEED_ROUTE = "edge_feed"
#: Commits an edge may owe before it is closed as too slow: a few seconds of the crowd
#: benchmark's whole load, so only an edge that stopped reading is dropped.
FEED_QUEUE = 20_000
#: Close code for a valid token that may not read the feed (the HTTP 403 counterpart).
CLOSE_FORBIDDEN = 4403


def feed_frame(auction_id: str, events: list[Event]) -> str:
    """The feed's text for one commit of ``auction_id``. O(size of the events)."""
    lines = [json.dumps({"auction": auction_id}, separators=(",", ":"), ensure_ascii=False)]
    lines.extend(encode_event(event).decode() for event in events)
    return "\n".join(lines)


def checkpoint_frame(auction_id: str, note: str, size: int, root: bytes) -> str:
    """The feed's text for a checkpoint of ``auction_id``'s log. O(size of the note)."""
    body = {"auction": auction_id, "checkpoint": {"size": size, "root": root.hex(), "note": note}}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


class FeedNode(Protocol):
    """What the feed uses of the core's node (any object with these attributes)."""

    @property
    def observers(self) -> list[Callable[[str, list[Event]], None]]:
        """Called after each commit with ``(auction_id, events)``: the feed adds one."""
        ...

    @property
    def checkpoint_listeners(self) -> list[Callable[[str, str, int, bytes], None]]:
        """Called per checkpoint with ``(auction_id, note, size, root)``: the feed adds one."""
        ...

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The key of the node's tokens."""
        ...

    @property
    def revoked(self) -> Revocations:
        """The revoked tokens (and the sockets to close on a revocation)."""
        ...

    @property
    def closing(self) -> bool:
        """Whether the node is stopping."""
        ...

    @property
    def sockets(self) -> set[Any]:
        """The open websockets the shutdown closes and waits for."""
        ...


def feed_blueprint(node: FeedNode) -> Blueprint:
    """A blueprint holding ``/ws/v1/feed``; hooks its observer into ``node.observers`` and
    ``node.checkpoint_listeners`` (call once per node, before it starts)."""
    feeds: set[Subscriber] = set()

    def observe(auction_id: str, events: list[Event]) -> None:
        # In the runner's task, after the commit: never awaits, never raises (a full
        # queue marks that edge too slow, and its session closes it).
        if not feeds or not events:
            return
        frame = wire(feed_frame(auction_id, events))
        for feed in feeds:
            feed.send_direct(frame)

    def push_checkpoint(auction_id: str, note: str, size: int, root: bytes) -> None:
        if feeds:
            frame = wire(checkpoint_frame(auction_id, note, size, root))
            for feed in feeds:
                feed.send_direct(frame)

    node.observers.append(observe)
    node.checkpoint_listeners.append(push_checkpoint)

    async def feed(request: Request, ws: Any) -> None:
        try:
            claims = handshake_claims(request, node.public_key, node.revoked)
        except auth.AccessDenied as error:
            await ws.close(CLOSE_AUTH_FAILED, error.code.value)
            return
        name = request.route.name if request.route is not None else FEED_ROUTE
        try:
            access.rule_for(name).check(claims)  # unbound auditor/officer
        except auth.AccessDenied as error:
            await ws.close(CLOSE_FORBIDDEN, error.code.value)
            return
        if node.closing:
            await ws.close(CLOSE_GOING_AWAY, "server shutting down")
            return
        node.sockets.add(ws)
        release = node.revoked.close_on_revoke(ws, claims.jti)
        subscriber = Subscriber(Audience(claims.role.value, claims.sub), limit=FEED_QUEUE)
        outlet = outlet_of(ws)
        subscriber.resume([], outlet)
        feeds.add(subscriber)
        try:
            tasks = [
                asyncio.create_task(write_frames(ws, subscriber, raw=outlet is not None)),
                asyncio.create_task(subscriber.dropped()),
                asyncio.create_task(_drain(ws)),
            ]
            await until_first_done(tasks)
            if subscriber.too_slow:
                ws.end_connection(CLOSE_TOO_SLOW, "too slow: resync from the log")
        finally:
            feeds.discard(subscriber)
            subscriber.close()
            release()
            node.sockets.discard(ws)

    blueprint = Blueprint("feed")
    blueprint.add_websocket_route(feed, FEED_PATH, name=FEED_ROUTE)
    return blueprint


async def _drain(ws: Any) -> None:
    """Read (and ignore) what the edge sends, until it closes the connection."""
    while await ws.recv() is not None:
        pass
