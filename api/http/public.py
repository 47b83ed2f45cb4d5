"""The public list of live and upcoming auctions: ``GET /api/v1/public/auctions`` (no
token; limited per address, as every route without a token is).

It is what the landing page (:mod:`api.http.landing`) shows a visitor who holds no token:
each auction that is scheduled or running (a paused multi-round auction is running),
newest first, at most :data:`LIST_LIMIT` of them (``more`` says whether others were
left out). Ended auctions are not listed, cancelled ones neither (a cancel ends them).

**What a visitor sees is never more than an observer does.** Each entry is a handful of
fields picked from :func:`api.auctions.state.public_state` rendered for the observer
audience (labels only, no reserve, nothing of a sealed book before the close):

=================  ================================================================
field              what
=================  ================================================================
``id``             the auction's id (its public view is ``/api/v1/auctions/{id}``
                   for a token holder)
``format``         ``english``, ``reverse``, ``dutch``, ``sealed``, ``multiround``
``phase``          ``scheduled``, ``running`` or ``paused``
``currency``       the ISO 4217 code of its amounts
``starts_at``      when bidding opens (server time, microseconds)
``ends_at``        the current close of a format with one (a soft close moves it;
                   a sealed auction's is its rules'), else ``null``
``next_deadline``  the next moment the auction changes by itself, else ``null``
=================  ================================================================

Deliberately less than an observer: no prices (start price, clock price, ranking), no
bidder count and no labels. A visitor without a token has no part in any auction, and
the number of bidders in a procurement is a signal colluders look for; the landing page
needs none of it.

The answer also carries ``server_time`` (microseconds), so a page can count down on the
server's clock rather than the browser's.
"""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from api.auctions.state import public_state
from api.auctions.views import Audience
from api.http import answering
from api.node import Node
from api.storage import AuctionStatus
from engine import Phase

__all__ = ["FIELDS", "LIST_LIMIT", "public_blueprint", "public_entry"]

#: The most auctions one answer lists (newest first).
LIST_LIMIT = 100
#: The fields of one entry, all of them present in every entry.
FIELDS = ("id", "format", "phase", "currency", "starts_at", "ends_at", "next_deadline")
#: Who a visitor is, for the views: an observer, the least privileged reader.
_VISITOR = Audience("observer")
_LISTED = frozenset({Phase.SCHEDULED, Phase.RUNNING, Phase.PAUSED})


def public_entry(state: dict[str, Any]) -> dict[str, Any]:
    """The entry of one auction from its ``public_state`` for the observer audience:
    only :data:`FIELDS`, each taken from that state (never computed beside it). O(1)."""
    return {
        "id": state["id"],
        "format": state["format"],
        "phase": state["phase"],
        "currency": state["currency"],
        "starts_at": state["rules"].get("starts_at"),
        # A soft close moves an open-cry close (the state's ends_at); a sealed close is
        # its rules'; a multi-round auction has none.
        "ends_at": state.get("ends_at", state["rules"].get("ends_at")),
        "next_deadline": state["next_deadline"],
    }


def public_blueprint(node: Node) -> Blueprint:
    """The blueprint of ``GET /api/v1/public/auctions`` (route ``public_auctions``)."""
    bp = Blueprint("public")

    @bp.get("/api/v1/public/auctions", name="public_auctions")
    async def public_auctions(request: Request) -> HTTPResponse:
        answering.limit_address(node, request)
        records = await node.svc.store.list_auctions(
            {AuctionStatus.SCHEDULED, AuctionStatus.RUNNING}
        )
        now = node.svc.clock()
        listed: list[dict[str, Any]] = []
        more = False
        # The store lists oldest first; newest first here, by (created_at, id) reversed.
        for record in reversed(records):
            if await node.svc.runner(record.id) is None:
                continue
            auction = node.hub.channel(record.id).committed
            # The stored status may lag the committed state by a commit: the state decides.
            if auction.phase not in _LISTED or auction.ended is not None:
                continue
            if len(listed) == LIST_LIMIT:
                more = True
                break
            views = node.hub.channel(record.id).views
            listed.append(public_entry(public_state(record.id, auction, views, _VISITOR, now)))
        return json_response({"server_time": now, "auctions": listed, "more": more})

    return bp
