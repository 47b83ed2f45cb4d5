"""The core's websocket route, ``/ws/v1/auctions/<auction_id>`` (protocol ``gavel.v1``),
and the handshake rate limit that runs before its upgrade (a refused handshake gets an
HTTP 429 problem).

Registered on the app itself (route name ``live``), not on a blueprint: the handshake
limiter is a named middleware of ``{app.name}.live``. One route shared by the core and
the edges is :mod:`api.live`'s to give; until then this is the core's.
"""

from __future__ import annotations

import time
from typing import Any

from sanic import Request

from api.access import auth
from api.access import rules as access
from api.auctions.views import Audience
from api.http.metrics import Metrics
from api.http.webapp import App, route_name, websocket_route
from api.live.core_source import CoreSession
from api.live.ws import (
    CLOSE_WAIT_S,
    check_handshake,
    handshake_claims,
    handshake_limits,
    leave,
    serve_session,
)
from api.node import Node
from contracts.messages import CLOSE_BAD_ORIGIN, CLOSE_GOING_AWAY, PROTOCOL

__all__ = ["add_live_route"]


def add_live_route(app: App, node: Node, metrics: Metrics) -> None:
    """Register the websocket route and its handshake limiter on ``app``."""
    settings = node.settings
    handshakes = handshake_limits(settings)

    async def limit_handshakes(request: Request) -> None:
        # Before the upgrade: a refused handshake gets an HTTP 429 problem.
        check_handshake(handshakes, node.public_key, request, time.monotonic())

    @websocket_route(app, "/ws/v1/auctions/<auction_id>", subprotocols=[PROTOCOL])
    async def live(request: Request, ws: Any, auction_id: str) -> None:
        origin = request.headers.get("origin")
        if origin is not None and origin not in settings.origins:
            await ws.close(CLOSE_BAD_ORIGIN, "origin not allowed")
            return
        try:
            claims = access.rule_for(route_name(request)).check(
                handshake_claims(request, node.public_key, node.revoked), auction_id
            )
        except auth.AccessDenied as error:
            await ws.close(4401, error.code.value)
            return
        if node.closing:
            await ws.close(CLOSE_GOING_AWAY, "server shutting down")
            return
        node.sockets.add(ws)
        release = node.revoked.close_on_revoke(ws, claims.jti)
        try:
            await serve_session(
                ws,
                CoreSession(node.svc, node.hub),
                auction_id,
                Audience(claims.role.value, claims.sub),
                queue_limit=settings.socket_queue,
                heartbeat_s=settings.heartbeat_s,
                on_result=metrics.count_result,
                on_slow=lambda: setattr(
                    metrics, "sockets_dropped_slow", metrics.sockets_dropped_slow + 1
                ),
            )
        finally:
            release()
            await leave(ws, node.sockets, closing=node.closing, timeout_s=CLOSE_WAIT_S)

    app.register_named_middleware(limit_handshakes, [f"{app.name}.live"])
