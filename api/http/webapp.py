"""Sanic as the adapters type it, so that ``mypy --strict`` checks every route handler.

- :data:`App`: the type of every app we build (Sanic's default config and context, a
  ``SimpleNamespace`` left empty: the routes' shared objects are handed to their
  factories, typed, and :class:`api.http.app.Served` carries what running it needs).
- :func:`websocket_route`: ``@app.websocket(...)`` with a type. Sanic ships ``py.typed``
  but its ``websocket()`` has no return annotation, so every handler it decorates would
  silently lose its type (``untyped-decorator``); this wrapper registers the handler the
  same way and hands back the very function it was given.
- :func:`route_name`: the name of the route a request matched, without its blueprint
  (``Request.route`` is optional in Sanic's types because it is unset before routing).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from types import SimpleNamespace
from typing import Any, TypeAlias, TypeVar

from sanic import Request, Sanic
from sanic.config import Config

__all__ = ["App", "WebsocketHandler", "route_name", "websocket_route"]

#: Every Gavel app (core, edge, the load tests' relay): Sanic's default type arguments.
App: TypeAlias = Sanic[Config, SimpleNamespace]

#: A websocket handler: awaited by Sanic as ``handler(request, ws, **path_parameters)``.
WebsocketHandler: TypeAlias = Callable[..., Coroutine[Any, Any, None]]

_Handler = TypeVar("_Handler", bound=WebsocketHandler)


def websocket_route(
    app: App, uri: str, *, subprotocols: list[str] | None = None, name: str | None = None
) -> Callable[[_Handler], _Handler]:
    """A decorator registering its function as ``app``'s websocket route at ``uri``
    (exactly as ``@app.websocket(uri, subprotocols=..., name=...)``) and returning it
    unchanged, its type kept."""

    def register(handler: _Handler) -> _Handler:
        app.websocket(uri, subprotocols=subprotocols, name=name)(handler)
        return handler

    return register


def route_name(request: Request) -> str:
    """The name of the route ``request`` matched as ``{app}.{handler}``, ``"?"`` if it
    matched none (a request refused before routing: no handler and no route's access rule
    ever sees one).

    A blueprint's route is named ``{app}.{blueprint}.{handler}`` by Sanic; the blueprint
    is left out, so a route keeps its name (its access rule in :mod:`api.access.rules`,
    its label on ``/metrics``) whichever blueprint registers it.
    """
    if request.route is None:
        return "?"
    app, _, rest = request.route.name.partition(".")
    return f"{app}.{rest.rpartition('.')[2]}" if rest else app
