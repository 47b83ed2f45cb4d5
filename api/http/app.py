"""The Sanic application: HTTP JSON under ``/api/v1``, websockets under ``/ws/v1``.

``create_served(settings)`` builds the app (``create_app(settings)``: the app alone)
around one :class:`~api.node.Node` (the composition root: storage, service, credentials,
hub), registers the error handlers (:mod:`api.http.errors`) and one blueprint per
resource: operations and documents (:mod:`api.http.health`), auctions
(:mod:`api.http.auctions`), credentials (:mod:`api.http.tokens`), tenders, the audit
trail and the edges' feed; plus the core's websocket route (:mod:`api.http.live`). The
routes' shared state is the node's typed attributes and the app's
:class:`~api.http.metrics.Metrics`, handed to each factory.

Its listeners run the node's start-up in the background once the server listens
(``/healthz`` answers at once, everything else but ``/readyz`` and ``/metrics`` gets 503
until the node is ready) and the node's graceful shutdown before the server stops
(refuse new work, close sockets with 1001 "going away", finish every queued command,
flush the writer, close the pool, stop the embedded server).

:class:`Served` is an app with what :func:`api.http.server.run_app` needs to run it as a
process (the core's and the edge's, :mod:`api.http.edge`): what to await on SIGTERM or
SIGINT, and the exit status, typed rather than hung off the app's context.

Every route checks its token (:mod:`api.access`), its rate limits (per token and per
address) and its body (:func:`api.http.problems.parse_body`); errors are RFC 9457 problem
details with a machine-readable ``code``; an engine rejection carries the engine's
reason.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from api.http.app_assets import app_assets_blueprint
from api.http.auctions import auctions_blueprint
from api.http.audit import audit_blueprint
from api.http.audit_search import audit_search_blueprint
from api.http.errors import add_error_handlers
from api.http.health import ALWAYS_ANSWERED, health_blueprint, not_ready
from api.http.idempotency import IdempotencyStore
from api.http.invitations import invitations_blueprint
from api.http.landing import landing_blueprint
from api.http.live import add_live_route
from api.http.metrics import Metrics
from api.http.pages import pages_blueprint
from api.http.party_revoke import party_revoke_blueprint
from api.http.problems import to_response as problem_response
from api.http.public import public_blueprint
from api.http.tender_list import tender_list_blueprint
from api.http.tenders import tenders_blueprint
from api.http.tokens import tokens_blueprint
from api.http.vendor_assets import vendor_blueprint
from api.http.webapp import App
from api.live.feed import feed_blueprint
from api.live.ws import SHUTDOWN_TIMEOUT_S
from api.node import DatabaseUnreachable, Node
from api.settings import Settings
from contracts.messages import MAX_CLIENT_FRAME

__all__ = ["DatabaseUnreachable", "Served", "create_app", "create_served"]

log = logging.getLogger("gavel.app")

_APP_NAMES = itertools.count(1)


@dataclass(slots=True)
class Served:
    """An app and what :func:`api.http.server.run_app` needs to run it as a process.

    ``graceful`` is awaited on the first SIGTERM or SIGINT while the server still runs
    (then Sanic stops). ``exit_code`` is the process's exit status once the server has
    stopped: 0, unless the app's own listeners set another (the core's start-up giving
    up sets 1, then stops the server). Not frozen for that one field, which only the
    app's listeners write, on the event loop.
    """

    app: App
    graceful: Callable[[], Awaitable[None]]
    exit_code: int = 0


def create_app(settings: Settings | None = None) -> App:
    """The Gavel server as a Sanic app. Call order: build, then ``app.run()`` (or test)."""
    return create_served(settings).app


def create_served(settings: Settings | None = None) -> Served:
    """The Gavel server as a :class:`Served`: its app, ``graceful`` the node's stop, and
    ``exit_code`` 1 once the node's start-up gave up. Call order: build, then
    :func:`api.http.server.run_app` (or ``served.app.run()``)."""
    settings = settings or Settings.from_env()
    app = Sanic(f"gavel_{next(_APP_NAMES)}", configure_logging=False)
    app.config.REQUEST_MAX_SIZE = settings.max_body
    app.config.WEBSOCKET_MAX_SIZE = MAX_CLIENT_FRAME
    app.config.WEBSOCKET_PING_INTERVAL = 20
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = 10.0
    app.config.KEEP_ALIVE_TIMEOUT = 30
    # The idempotency runner answering in problems: it stores a command's 4xx refusal.
    node = Node(settings, answers=IdempotencyStore)
    metrics = Metrics()
    # SIGTERM and SIGINT run Node.stop while the server still runs (api.http.server.run_app),
    # then stop Sanic; the before_server_stop listener below is for other ways of stopping,
    # and is a no-op after that. It runs before Sanic's own listener that cancels every
    # websocket handler (which would close the sockets with 1000 while their last commands
    # still commit).
    served = Served(app, graceful=node.stop)

    @app.after_server_start
    async def _start(app: App) -> None:
        # In the background, the server already listening: /healthz answers at once,
        # /readyz and every other route 503 until the storage is up (start-up may wait
        # for the database). If start-up gives up, stop with exit status 1.
        async def give_up() -> None:
            served.exit_code = 1
            await node.stop()
            app.stop()

        node.begin(give_up)

    async def _until_ready(request: Request) -> HTTPResponse | None:
        # Starting: everything but the operations routes gets a 503 problem (websocket
        # handshakes too: this runs before the upgrade). Stopping is left to the routes,
        # which finish what they can.
        if node.ready or node.closing or request.path in ALWAYS_ANSWERED:
            return None
        return problem_response(not_ready(node))

    app.register_middleware(_until_ready, "request", priority=1000)  # before all others

    @app.listener("before_server_stop", priority=-100)
    async def _stop(app: App) -> None:
        # Bounded: Sanic has removed its signal handlers by now, so nothing else could
        # end a shutdown stuck on storage that is down.
        try:
            await asyncio.wait_for(node.stop(), SHUTDOWN_TIMEOUT_S)
        except TimeoutError:
            log.error("shutdown did not finish in %.0f s; stopping anyway", SHUTDOWN_TIMEOUT_S)

    add_error_handlers(app, metrics)
    app.blueprint(health_blueprint(node, metrics))
    app.blueprint(auctions_blueprint(node, metrics))
    app.blueprint(tokens_blueprint(node))
    app.blueprint(invitations_blueprint(node))  # invitation links (issue 14)
    app.blueprint(party_revoke_blueprint(node))  # revoking a supplier's access (issue 15)
    add_live_route(app, node, metrics)
    app.blueprint(tenders_blueprint(node, metrics))  # sealed tenders (issue 4)
    app.blueprint(tender_list_blueprint(node))  # the officer's list of tenders (issue 15)
    app.blueprint(pages_blueprint())  # their sealing and opening pages
    app.blueprint(audit_blueprint(node))  # the auditor's trail (issue 5)
    app.blueprint(audit_search_blueprint(node))  # the auditor's search (issue 15)
    app.blueprint(feed_blueprint(node))  # the read-only edges' feed (issue 3)
    app.blueprint(app_assets_blueprint())  # the supplier's app files and the JSON Schemas
    app.blueprint(vendor_blueprint())  # vendored front-end libraries (issue 14)
    app.blueprint(public_blueprint(node))  # the public list of live and upcoming auctions
    app.blueprint(landing_blueprint())  # the landing page, / (issue 14)
    return served
