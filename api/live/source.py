"""What the live route and its sessions use of the node they run on: the core or an edge.

Two Protocols, because a node builds its routes before it starts, and serves sessions
only once it has started (its storage open, its service built):

- :class:`LiveSource`, the route's (:mod:`api.live.route`), from the app's creation on:
  the handshake's key, revocations and access rules, the socket registry the shutdown
  waits for, whether the node is closing, the counters, and :meth:`LiveSource.serving`,
  the node's :class:`SessionSource` once it serves (``None`` while starting or closing:
  the route then closes the socket with 1001);
- :class:`SessionSource`, one session's (:func:`api.live.ws.serve_session`,
  :class:`api.live.replay.Replayer`): the clock, the hub to subscribe to, the auction
  made current here, the log read after a seq, and commands.

The core implements them with :class:`api.live.core_source.CoreSource` (over its
:class:`~api.auctions.service.Service`), a read-only edge with :class:`api.live.edge.Edge`
and :class:`api.live.edge.EdgeService` (whose :meth:`~SessionSource.submit` refuses).

A session calls, in this order: :meth:`SessionSource.prepare` once, then
:meth:`SessionSource.catch_up` if the client resumes from beyond the channel's head,
then :meth:`SessionSource.history` (for a resume older than the channel's memory) and
:meth:`SessionSource.submit` (per command) any number of times.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from api.access.revocations import Revocations
from api.access.rules import Rule
from api.auctions.runner import CommandFactory
from api.live.hub import Hub
from engine import Event

__all__ = ["LiveSource", "SessionSource"]


class SessionSource(Protocol):
    """What one websocket session uses of the node serving it."""

    @property
    def hub(self) -> Hub:
        """Every auction's channel: the session subscribes to its auction's."""
        ...

    @property
    def clock(self) -> Callable[[], int]:
        """Server time in µs, the only clock."""
        ...

    @property
    def closing(self) -> bool:
        """Whether the node is stopping (the heartbeats stop)."""
        ...

    async def prepare(self, auction_id: str) -> bool:
        """Make ``auction_id``'s channel current here (the core loads its runner, an edge
        reads its log); ``False`` if the auction is unknown. Raises
        :class:`~api.auctions.runner.RunnerStopped` once the node is stopping, and what
        reading the log raised."""
        ...

    async def catch_up(self, auction_id: str) -> None:
        """Bring ``auction_id``'s channel up to the log now: a client resumes from a seq
        beyond its head. A no-op where the channel is the log's head (the core); raises
        what reading the log raised."""
        ...

    async def history(self, auction_id: str, after: int, limit: int | None = None) -> list[Event]:
        """Committed events of ``auction_id`` with ``seq > after``, in order (at most
        ``limit``)."""
        ...

    async def submit(self, auction_id: str, make: CommandFactory) -> list[Event]:
        """Run a command; its events once durable. Raises a
        :class:`~api.auctions.runner.RunnerError` (``ReadOnly`` on an edge) when it is not
        run."""
        ...


class LiveSource(Protocol):
    """What the live route uses of its node, from the app's creation on."""

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The key the node's tokens are verified with (read at each handshake: an edge
        learns it from the core at start-up)."""
        ...

    @property
    def revoked(self) -> Revocations:
        """The revoked tokens, and the sockets to close when one is revoked."""
        ...

    @property
    def access_rules(self) -> Mapping[str, Rule]:
        """The node's access rules by route name (:data:`api.access.rules.ROUTES` on the
        core, :data:`api.access.rules.EDGE_ROUTES` on an edge)."""
        ...

    @property
    def sockets(self) -> set[Any]:
        """The open websockets: the shutdown closes them (1001) and waits for each to
        leave this set."""
        ...

    @property
    def closing(self) -> bool:
        """Whether the node is stopping: a session that ends now waits for its peer's
        close frame."""
        ...

    def serving(self) -> SessionSource | None:
        """The node's sessions' source, or ``None`` while it is starting or stopping."""
        ...

    def on_result(self, accepted: bool, reason: str | None) -> None:
        """Count a bid's outcome (``reason``: the engine's, for a rejected one)."""
        ...

    def on_slow(self) -> None:
        """Count a socket closed for falling behind."""
        ...
