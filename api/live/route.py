"""The websocket route ``/ws/v1/auctions/<auction_id>``, one for the core and every edge.

:func:`live_blueprint` builds it over a :class:`~api.live.source.LiveSource` (the core's
:class:`~api.live.core_source.CoreSource`, an edge's :class:`~api.live.edge.Edge`), so the
two behave alike by construction. For one handshake, in this order:

1. before the upgrade (a request middleware of the blueprint, unless
   ``limit_handshakes=False``): the handshake's rate per address, then per token
   (:func:`~api.live.handshake.check_handshake`); over it, the middleware raises
   :class:`~api.access.errors.RateLimited` and the app answers the HTTP 429 problem (its
   error handlers map refusals: :mod:`api.http.errors`), with no upgrade;
2. after it: an ``Origin`` not in ``settings.origins`` is closed with 4403
   (``CLOSE_BAD_ORIGIN``); a token that is missing, bad, expired, revoked, or not admitted
   by the route's access rule (looked up by the route's name, ``live``, in
   ``source.access_rules``) with 4401 and the refusal's code as the reason; a node that
   is starting or stopping with 1001;
3. the session (:func:`~api.live.ws.serve_session`) runs, its socket registered in
   ``source.sockets`` and closed with 4401 if its token is revoked meanwhile; at its end,
   during a shutdown, the peer's close frame is awaited (:func:`~api.live.ws.leave`).

**The public view.** A handshake that offers the ``gavel.public`` subprotocol
(:data:`~api.live.handshake.PUBLIC_SUBPROTOCOL`) and carries no token at all is the
anonymous, read-only subscription of anyone holding the auction's link: step 2 reads no
token and the session runs for the audience :data:`api.access.rules.PUBLIC_LIVE_ROLE`
(an observer, without a party): bidders by anonymous label only, sealed bids and proxy
limits not before the close, no rejections, no reserve. Every command it sends is
refused with a typed ``reject`` (``forbidden``: it bids as nobody); replays are read
like any other subscriber's. Its handshakes count against the per-address rate of step
1 like every other; with a token besides ``gavel.public`` the handshake is refused
(4401 ``token_malformed``: one audience per socket, never a guess). No socket of its
is revocable, as it holds nothing to revoke.
"""

from __future__ import annotations

import time
from typing import Any

from sanic import Blueprint, Request
from sanic.compat import Header

from api.access import auth
from api.access import rules as access
from api.auctions.views import Audience
from api.live.handshake import (
    check_handshake,
    handshake_claims,
    handshake_limits,
    public_handshake,
)
from api.live.sanic_ws import Pinger
from api.live.source import LiveSource
from api.live.ws import CLOSE_WAIT_S, leave, serve_session
from api.settings import Settings
from contracts.messages import CLOSE_AUTH_FAILED, CLOSE_BAD_ORIGIN, CLOSE_GOING_AWAY, PROTOCOL

__all__ = ["LIVE_PATH", "LIVE_ROUTE", "live_blueprint"]

LIVE_PATH = "/ws/v1/auctions/<auction_id>"
#: The route's name: its rule in :mod:`api.access.rules` is found by it.
LIVE_ROUTE = "live"


def live_blueprint(
    source: LiveSource, settings: Settings, *, limit_handshakes: bool = True
) -> Blueprint:
    """A blueprint holding the live route and its handshake limiter, over ``source``.

    ``settings``: the allowed origins, the handshake rates (``ws_rate_*``, ``rate_*``),
    each socket's queue and the heartbeat period. ``limit_handshakes``: add the limiter
    (only on an app whose error handlers answer a
    :class:`~api.access.errors.Refused` with its problem). Register the blueprint with
    ``app.blueprint(...)`` before the app starts; ``source`` is read at each handshake,
    so it may start later.
    """
    blueprint = Blueprint("live")
    limits = handshake_limits(settings)
    pinger = Pinger()

    async def limit(request: Request) -> None:
        # Before the upgrade: a refused handshake gets an HTTP 429 problem.
        check_handshake(limits, source.public_key, request, time.monotonic())

    async def live(request: Request, ws: Any, auction_id: str) -> None:
        origin = request.headers.get("origin")
        if origin is not None and origin not in settings.origins:
            await ws.close(CLOSE_BAD_ORIGIN, "origin not allowed")
            return
        try:
            if public_handshake(request):
                claims = None
                audience = Audience(access.PUBLIC_LIVE_ROLE.value)
            else:
                rule = access.rule_for(_route_name(request), source.access_rules)
                claims = rule.check(
                    handshake_claims(request, source.public_key, source.revoked), auction_id
                )
                audience = Audience(claims.role.value, claims.sub)
        except auth.AccessDenied as error:
            await ws.close(CLOSE_AUTH_FAILED, error.code.value)
            return
        session = source.serving()
        if session is None:
            await ws.close(CLOSE_GOING_AWAY, "server shutting down")
            return
        _forget_head(request)
        source.sockets.add(ws)
        pinger.add(ws)
        release = _nothing if claims is None else source.revoked.close_on_revoke(ws, claims.jti)
        try:
            await serve_session(
                ws,
                session,
                auction_id,
                audience,
                queue_limit=settings.socket_queue,
                heartbeat_s=settings.heartbeat_s,
                on_result=source.on_result,
                on_slow=source.on_slow,
            )
        finally:
            release()
            pinger.discard(ws)
            await leave(ws, source.sockets, closing=source.closing, timeout_s=CLOSE_WAIT_S)

    blueprint.add_websocket_route(live, LIVE_PATH, name=LIVE_ROUTE, subprotocols=[PROTOCOL])
    if limit_handshakes:
        blueprint.on_request(limit)
    return blueprint


#: The headers an upgraded request holds once read (never written to: Sanic reads a
#: request's headers only before its handler runs).
_NO_HEADERS = Header()


def _forget_head(request: Request) -> None:
    """Drop the upgraded request's head and headers, read by now (origin, token): Sanic
    keeps the request as long as its socket, and they were 1.5-2 kB of it (the token
    among them twice; issue 16)."""
    request.headers = _NO_HEADERS
    request.head = b""


def _nothing() -> None:
    """The release of a socket that holds no token (the public view): nothing to undo."""


def _route_name(request: Request) -> str:
    # Sanic types the route as optional (unset before routing); a handler always has one.
    return request.route.name if request.route is not None else LIVE_ROUTE
