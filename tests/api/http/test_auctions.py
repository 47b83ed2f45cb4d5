"""api.http.auctions: the blueprint's routes, their names (each with its access rule) and
methods. What they answer is tested against a running server (test_app.py)."""

from __future__ import annotations

import base64
import itertools
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sanic import Sanic

from api.access import rules as access
from api.http.auctions import auctions_blueprint
from api.http.metrics import Metrics
from api.http.webapp import App
from api.node import Node
from api.settings import Settings

_NAMES = itertools.count()


def test_every_auction_route_has_its_name_method_and_rule(tmp_path: Path) -> None:
    seed = base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()
    node = Node(Settings(data_dir=tmp_path, signing_key_pem=seed))
    app: App = Sanic(f"test_auctions_{next(_NAMES)}", configure_logging=False)
    app.blueprint(auctions_blueprint(node, Metrics()))
    app.router.finalize()
    routes = {
        route.name.rpartition(".")[2]: (sorted(route.methods), route.path.replace(":str>", ">"))
        for route in app.router.routes
    }
    base = "api/v1/auctions"
    assert routes == {
        "create_auction": (["POST"], base),
        "list_auctions": (["GET"], base),
        "get_auction": (["GET"], f"{base}/<auction_id>"),
        "my_standing": (["GET"], f"{base}/<auction_id>/me"),
        "events_after": (["GET"], f"{base}/<auction_id>/events"),
        "register_bidder": (["POST"], f"{base}/<auction_id>/bidders"),
        "bidder_bids": (["POST"], f"{base}/<auction_id>/bids"),
        "bidder_proxy": (["POST"], f"{base}/<auction_id>/proxy"),
        "bidder_accept": (["POST"], f"{base}/<auction_id>/accept"),
        "bidder_withdraw": (["POST"], f"{base}/<auction_id>/withdraw"),
        "bidder_pass": (["POST"], f"{base}/<auction_id>/pass"),
        "disqualify": (["POST"], f"{base}/<auction_id>/disqualify"),
        "cancel": (["POST"], f"{base}/<auction_id>/cancel"),
    }
    for name in routes:
        assert access.rule_for(name) is not access.PUBLIC, name
