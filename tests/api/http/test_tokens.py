"""api.http.tokens: the credential routes' names (each with its access rule) and methods.
What they answer is tested against a running server (test_app.py, access/test_rules.py)."""

from __future__ import annotations

import base64
import itertools
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sanic import Sanic

from api.access import rules as access
from api.http.tokens import tokens_blueprint
from api.http.webapp import App
from api.node import Node
from api.settings import Settings

_NAMES = itertools.count()


def test_the_credential_routes(tmp_path: Path) -> None:
    seed = base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()
    node = Node(Settings(data_dir=tmp_path, signing_key_pem=seed))
    app: App = Sanic(f"test_tokens_{next(_NAMES)}", configure_logging=False)
    app.blueprint(tokens_blueprint(node))
    app.router.finalize()
    routes = {
        route.name.rpartition(".")[2]: (sorted(route.methods), route.path.replace(":str>", ">"))
        for route in app.router.routes
    }
    assert routes == {
        "issue_token": (["POST"], "api/v1/tokens"),
        "revoke_token": (["POST"], "api/v1/tokens/<jti>/revoke"),
    }
    assert access.rule_for("issue_token").binding is access.Binding.TARGET
    assert access.rule_for("revoke_token").binding is access.Binding.NARROWED
