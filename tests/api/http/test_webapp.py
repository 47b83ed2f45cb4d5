"""api.http.webapp: the typed websocket decorator registers exactly what ``@app.websocket``
would, and hands back the handler itself; ``route_name`` before and after routing."""

from __future__ import annotations

import itertools
from typing import Any

from sanic import Request, Sanic

from api.http.webapp import App, route_name, websocket_route

_NAMES = itertools.count()


def _app() -> App:
    return Sanic(f"test_webapp_{next(_NAMES)}", configure_logging=False)


async def _handler(request: Request, ws: Any, auction_id: str) -> None:
    """A websocket handler that does nothing."""


def test_websocket_route_registers_the_handler_and_returns_it_unchanged() -> None:
    app = _app()
    returned = websocket_route(app, "/ws/<auction_id>", subprotocols=["gavel.v1"], name="live")(
        _handler
    )
    assert returned is _handler
    app.router.finalize()
    (route,) = app.router.routes
    assert route.name == f"{app.name}.live"
    assert route.extra.websocket
    # Sanic wraps the handler with its subprotocols for the upgrade.
    assert route.handler.args == (_handler,)
    assert route.handler.keywords == {"subprotocols": ("gavel.v1",)}


def test_websocket_route_defaults_to_the_handlers_name() -> None:
    app = _app()
    websocket_route(app, "/ws/<auction_id>")(_handler)
    app.router.finalize()
    (route,) = app.router.routes
    assert route.name == f"{app.name}._handler"
    assert route.handler.keywords == {"subprotocols": None}


def test_route_name_is_the_matched_routes_and_a_placeholder_before_routing() -> None:
    app = _app()
    websocket_route(app, "/ws/<auction_id>", name="live")(_handler)
    app.router.finalize()
    request = Request(b"/ws/a1", {}, "1.1", "GET", None, app)
    assert route_name(request) == "?"
    request.route = app.router.routes[0]
    assert route_name(request) == f"{app.name}.live"


def test_route_name_leaves_the_blueprint_out() -> None:
    """A route keeps its name (access rule, metrics label) whichever blueprint holds it."""
    from sanic import Blueprint
    from sanic.response import HTTPResponse, empty

    app = _app()
    bp = Blueprint("things")

    @bp.get("/things", name="list_things")
    async def list_things(request: Request) -> HTTPResponse:
        return empty()

    app.blueprint(bp)
    app.router.finalize()
    (route,) = app.router.routes
    assert route.name == f"{app.name}.things.list_things"
    request = Request(b"/things", {}, "1.1", "GET", None, app)
    request.route = route
    assert route_name(request) == f"{app.name}.list_things"
