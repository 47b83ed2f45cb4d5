"""The core's websocket route, ``/ws/v1/auctions/<auction_id>``: the one live route of
:mod:`api.live.route` (shared with the edges) over the node
(:class:`api.live.core_source.CoreSource`), with its handshake limiter; bids and slow
sockets counted on ``/metrics``."""

from __future__ import annotations

from api.http.metrics import Metrics
from api.http.webapp import App
from api.live.core_source import CoreSource
from api.live.route import live_blueprint
from api.node import Node

__all__ = ["add_live_route"]


def add_live_route(app: App, node: Node, metrics: Metrics) -> None:
    """Register the live route's blueprint on ``app`` (call once, before the app starts)."""

    def count_slow() -> None:
        metrics.sockets_dropped_slow += 1

    source = CoreSource(node, on_result=metrics.count_result, on_slow=count_slow)
    app.blueprint(live_blueprint(source, node.settings))
