"""api.http.health: why a node is not ready, the service gauges, and the routes' names."""

from __future__ import annotations

import base64
import itertools
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sanic import Sanic

from api.access import rules as access
from api.http.health import ALWAYS_ANSWERED, health_blueprint, not_ready, service_gauges
from api.http.metrics import Metrics
from api.http.webapp import App
from api.node import Node
from api.settings import Settings

_NAMES = itertools.count()


def _node(tmp_path: Path) -> Node:
    seed = base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()
    return Node(Settings(data_dir=tmp_path, signing_key_pem=seed))


def test_not_ready_says_starting_waiting_or_stopping(tmp_path: Path) -> None:
    node = _node(tmp_path)
    starting = not_ready(node)
    assert (starting.status, starting.code, starting.detail) == (
        503,
        "shutting_down",
        "the server is starting",
    )
    node.waiting = "waiting for the database (attempt 2 failed)"
    waiting = not_ready(node)
    assert (waiting.code, waiting.retry_after) == ("storage_unavailable", 1)
    assert waiting.detail == "starting: waiting for the database (attempt 2 failed)"
    node.closing = True
    assert not_ready(node).detail == "the server is stopping"


def test_service_gauges_before_start_are_zero(tmp_path: Path) -> None:
    node = _node(tmp_path)
    node.revoked.add("jti-1", 0, 10**18)
    text = service_gauges(node)
    assert "gavel_writer_pending_events 0\n" in text
    assert "gavel_runners_loaded 0\n" in text
    assert "gavel_tokens_revoked 1\n" in text
    assert text.count("# TYPE ") == 6


def test_the_routes_are_public_and_always_answered(tmp_path: Path) -> None:
    app: App = Sanic(f"test_health_{next(_NAMES)}", configure_logging=False)
    app.blueprint(health_blueprint(_node(tmp_path), Metrics()))
    app.router.finalize()
    names = {route.name.rpartition(".")[2]: route.path for route in app.router.routes}
    assert names == {
        "healthz": "healthz",
        "readyz": "readyz",
        "metrics": "metrics",
        "openapi": "api/v1/openapi.json",
        "docs": "api/v1/docs",
        "docs_asset": "api/v1/docs/<name:str>",
    }
    for name in names:
        assert access.rule_for(name) is access.PUBLIC
    assert {"/healthz", "/readyz", "/metrics"} == ALWAYS_ANSWERED
