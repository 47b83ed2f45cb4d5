"""The core's live sources: :class:`CoreSource` for the route, :class:`CoreSession` for sessions.

The core's sessions run on its :class:`~api.auctions.service.Service`: an auction is made
current by loading its runner, commands are submitted to it, and the channel (folded
from what the runners publish) is the log's head, so there is never anything to catch
up. :class:`CoreSource` reads what the route needs off the core's node, passed in as a
:class:`CoreNode` (any object with those attributes: nothing here imports the node or
:mod:`api.http`), at each handshake, so it may be built before the node starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from api.access import rules as access
from api.access.revocations import Revocations
from api.auctions.runner import CommandFactory
from api.auctions.service import Service
from api.live.hub import Hub
from api.live.source import SessionSource
from engine import Event

__all__ = ["CoreNode", "CoreSession", "CoreSource"]


class CoreNode(Protocol):
    """What :class:`CoreSource` reads off the core's node, at each handshake."""

    @property
    def hub(self) -> Hub:
        """The hub the node's service publishes to."""
        ...

    @property
    def service(self) -> Service | None:
        """The auctions' service, ``None`` until started."""
        ...

    @property
    def closing(self) -> bool:
        """Whether the node is stopping."""
        ...

    @property
    def sockets(self) -> set[Any]:
        """The open websockets the shutdown closes and waits for."""
        ...

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The key of the node's tokens."""
        ...

    @property
    def revoked(self) -> Revocations:
        """The revoked tokens (and the sockets to close on a revocation)."""
        ...


class CoreSession:
    """A :class:`~api.live.source.SessionSource` over the core's ``service`` and the
    ``hub`` it publishes to."""

    __slots__ = ("_service", "hub")

    def __init__(self, service: Service, hub: Hub) -> None:
        self._service = service
        self.hub = hub

    @property
    def clock(self) -> Callable[[], int]:
        """The service's clock (µs)."""
        return self._service.clock

    @property
    def closing(self) -> bool:
        """Whether the service is closing."""
        return self._service.closing

    async def prepare(self, auction_id: str) -> bool:
        """Load ``auction_id``'s runner (from its log on first use); ``False`` if it has no
        events. Raises :class:`~api.auctions.runner.RunnerStopped` once closing."""
        return await self._service.runner(auction_id) is not None

    async def catch_up(self, auction_id: str) -> None:
        """Nothing: the core's channel is what its runner committed."""

    async def history(self, auction_id: str, after: int, limit: int | None = None) -> list[Event]:
        """The service's :meth:`~api.auctions.service.Service.history`."""
        return await self._service.history(auction_id, after, limit)

    async def submit(self, auction_id: str, make: CommandFactory) -> list[Event]:
        """The service's :meth:`~api.auctions.service.Service.submit`."""
        return await self._service.submit(auction_id, make)


class CoreSource:
    """The core's :class:`~api.live.source.LiveSource`: ``node``'s key, revocations,
    sockets and service, read when a handshake needs them; ``on_result`` and ``on_slow``
    count bids and slow sockets (the node's metrics)."""

    __slots__ = ("_node", "_on_result", "_on_slow")

    def __init__(
        self,
        node: CoreNode,
        *,
        on_result: Callable[[bool, str | None], None] = lambda accepted, reason: None,
        on_slow: Callable[[], None] = lambda: None,
    ) -> None:
        self._node = node
        self._on_result = on_result
        self._on_slow = on_slow

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The node's token key."""
        return self._node.public_key

    @property
    def revoked(self) -> Revocations:
        """The node's revocations."""
        return self._node.revoked

    @property
    def access_rules(self) -> Mapping[str, access.Rule]:
        """The core's rules (:data:`api.access.rules.ROUTES`)."""
        return access.ROUTES

    @property
    def sockets(self) -> set[Any]:
        """The node's open websockets."""
        return self._node.sockets

    @property
    def closing(self) -> bool:
        """Whether the node is stopping."""
        return self._node.closing

    def serving(self) -> SessionSource | None:
        """A :class:`CoreSession` on the node's service; ``None`` before it started or
        once it is stopping."""
        node = self._node
        service = node.service
        if service is None or node.closing:
            return None
        return CoreSession(service, node.hub)

    def on_result(self, accepted: bool, reason: str | None) -> None:
        """Count a bid's outcome."""
        self._on_result(accepted, reason)

    def on_slow(self) -> None:
        """Count a socket closed for falling behind."""
        self._on_slow()
