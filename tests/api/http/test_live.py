"""api.http.live: the core registers the one live route of api.live.route (blueprint
``live``, route ``live``, its access rule found by that name). Its sessions are tested
against a running server (live/test_ws.py), the route itself in live/test_route.py."""

from __future__ import annotations

import base64
import itertools
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sanic import Sanic

from api.access import rules as access
from api.http.live import add_live_route
from api.http.metrics import Metrics
from api.http.webapp import App
from api.node import Node
from api.settings import Settings
from contracts.messages import PROTOCOL

_NAMES = itertools.count()


def test_the_websocket_route(tmp_path: Path) -> None:
    seed = base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()
    node = Node(Settings(data_dir=tmp_path, signing_key_pem=seed))
    app: App = Sanic(f"test_live_{next(_NAMES)}", configure_logging=False)
    add_live_route(app, node, Metrics())
    app.router.finalize()
    (route,) = app.router.routes
    assert route.name == f"{app.name}.live.live"
    assert route.path == "ws/v1/auctions/<auction_id:str>"
    assert route.extra.websocket
    assert route.handler.keywords == {"subprotocols": (PROTOCOL,)}
    assert access.rule_for(route.name).binding is access.Binding.TARGET
    assert any(middleware for middleware in app.named_request_middleware.values())
