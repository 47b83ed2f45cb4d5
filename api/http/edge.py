"""The read-only edge as a Sanic app and a process: ``gavel edge``.

``gavel edge --core-url URL --token T [--host H] [--port P] [--database-url URL]``
runs :func:`create_edge` with :func:`api.http.server.run_app`, as ``gavel serve`` runs
the core. The edge's app serves ``/ws/v1/auctions/<id>`` with the core's route
(:func:`api.live.route.live_blueprint` over :class:`api.live.edge.Edge`, its
:class:`~api.live.source.LiveSource`), its handshake limiter included, plus ``/healthz``
and ``/readyz``. Its error handlers are the core's (:func:`api.http.errors.add_error_handlers`):
a handshake over its rate gets the same 429 ``rate_limited`` problem with ``Retry-After``
as on the core, an unknown path the same 404 problem. What the edge does (its sources,
the feed client, catch-ups, revocations) is :mod:`api.live.edge`'s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os

from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from api.http.app import Served
from api.http.errors import add_error_handlers
from api.http.metrics import Metrics
from api.http.server import run_app
from api.http.webapp import App
from api.live.edge import Edge
from api.live.route import live_blueprint
from api.live.ws import SHUTDOWN_TIMEOUT_S
from api.settings import Settings
from contracts.messages import MAX_CLIENT_FRAME

__all__ = ["create_edge", "create_edge_app", "main"]

_APP_NAMES = itertools.count(1)


def create_edge(settings: Settings, core_url: str, token: str) -> Served:
    """The edge as a :class:`~api.http.app.Served`: its app, ``graceful`` the edge's
    stop (on SIGTERM/SIGINT: close the sockets with 1001, then the feed and the pool).
    ``token``: an auditor's or officer's token of the core, not bound to an auction, for
    its feed. Call order: build, then :func:`api.http.server.run_app`."""
    app = Sanic(f"gavel_edge_{next(_APP_NAMES)}", configure_logging=False)
    app.config.WEBSOCKET_MAX_SIZE = MAX_CLIENT_FRAME
    app.config.WEBSOCKET_PING_INTERVAL = 20
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = 10.0
    edge = Edge(settings, core_url, token)

    @app.before_server_start
    async def _start(app: App) -> None:
        await edge.start()

    @app.before_server_stop
    async def _stop(app: App) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(edge.stop(), SHUTDOWN_TIMEOUT_S)

    @app.get("/healthz")
    async def healthz(request: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    @app.get("/readyz")
    async def readyz(request: Request) -> HTTPResponse:
        ready = edge.service is not None and edge.feed_up.is_set() and not edge.closing
        listener = edge.listener
        return json_response(
            {
                "ready": ready,
                "feed_connections": edge.feed_connections,
                # Whether revocations are heard now, and how often it (re)connected.
                "listening": listener is not None and listener.connected,
                "listener_connections": listener.connections if listener else 0,
            },
            status=200 if ready else 503,
        )

    # The core's problems for what the routes raise; the edge serves no /metrics, so the
    # refusals are counted in a Metrics of its own that nobody reads.
    add_error_handlers(app, Metrics())
    app.blueprint(live_blueprint(edge, settings))
    return Served(app, graceful=edge.stop)


def create_edge_app(settings: Settings, core_url: str, token: str) -> App:
    """The edge's app alone (:func:`create_edge`), e.g. to list its routes."""
    return create_edge(settings, core_url, token).app


def main(argv: list[str] | None = None) -> int:
    """``gavel edge``: run an edge until interrupted; the exit status."""
    parser = argparse.ArgumentParser(prog="gavel edge", description=__doc__.split("\n\n")[0])
    parser.add_argument("--core-url", required=True, help="the core, e.g. http://127.0.0.1:8000")
    parser.add_argument(
        "--token",
        default=os.environ.get("GAVEL_EDGE_TOKEN"),
        help="an auditor's or officer's token for the feed (GAVEL_EDGE_TOKEN)",
    )
    parser.add_argument("--host", help="address to listen on (GAVEL_HOST)")
    parser.add_argument("--port", type=int, help="port (GAVEL_PORT)")
    parser.add_argument("--database-url", help="the core's PostgreSQL (DATABASE_URL)")
    parser.add_argument("--log-level", help="DEBUG, INFO or WARNING")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token (or GAVEL_EDGE_TOKEN) is required")
    settings = Settings.from_env(
        host=args.host, port=args.port, database_url=args.database_url, log_level=args.log_level
    )
    if settings.database_url is None:
        parser.error("--database-url (or DATABASE_URL) is required: the core's database")
    return run_app(lambda: create_edge(settings, args.core_url, args.token), settings)


if __name__ == "__main__":
    raise SystemExit(main())
