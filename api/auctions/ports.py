"""What the auctions' service needs from the layer above it, as Protocols.

:class:`~api.auctions.service.Service` publishes every committed event to a read model
kept per auction (a channel: the auction folded from committed events, its head, its
subscribers). That read model lives with the websockets (:class:`api.live.hub.Hub`),
which sit *above* the auctions; so the service names only what it uses of it here, and
the node hands it the hub, which satisfies :class:`Publisher` structurally.

Call order is the service's: ``channel(id)`` to read or restore an auction's committed
state, ``publish(id, events)`` after each commit (never awaits, never raises), and
``release(id)`` when an idle auction leaves memory.

In a cluster (``NATS_URL`` set) the service also needs to know which node owns each
auction and to reach the owner: :class:`Owners`, which the node fills with
:class:`api.cluster.ownership.Ownership` (leases in PostgreSQL, commands over NATS).
"""

from __future__ import annotations

from typing import Protocol

from api.storage.ports import CommandMark
from engine import Auction, Command, Event

__all__ = ["CommittedChannel", "Owners", "Publisher"]


class CommittedChannel(Protocol):
    """One auction's committed state as the service reads and feeds it."""

    @property
    def head(self) -> int:
        """The seq of the last committed event folded in (0: none)."""
        ...

    @property
    def committed(self) -> Auction:
        """The auction folded from committed events only (what snapshots are taken of)."""
        ...

    def publish(self, events: list[Event]) -> None:
        """Fold committed events (those after :attr:`head`) and send them to whoever
        watches. Never raises."""
        ...

    def restore(self, auction: Auction) -> None:
        """Start from ``auction`` (restored from a snapshot) instead of folding the events
        up to its seq; only while :attr:`head` is 0."""
        ...


class Publisher(Protocol):
    """Every auction's :class:`CommittedChannel`, by auction id."""

    def channel(self, auction_id: str) -> CommittedChannel:
        """The channel of ``auction_id``, created on first use."""
        ...

    def publish(self, auction_id: str, events: list[Event]) -> None:
        """``channel(auction_id).publish(events)``: the runner's publish callback."""
        ...

    def release(self, auction_id: str) -> None:
        """Forget ``auction_id``'s channel unless someone watches it (an idle auction
        left memory; the next use starts it again from the log)."""
        ...


class Owners(Protocol):
    """Who runs each auction among the cluster's nodes (absent on a single node).

    The service asks :meth:`claim` before it runs an auction here; when another node
    holds it, the service keeps only the auction's channel (:meth:`follow`) and sends its
    commands to the owner (:meth:`forward`).
    """

    async def claim(self, auction_id: str) -> int | None:
        """This node's lease on ``auction_id`` (taken if free, expired or released):
        its epoch, which every append of the auction must carry; ``None`` while another
        node's lease is live."""
        ...

    async def follow(self, auction_id: str) -> bool:
        """Prime ``auction_id``'s channel from the log and keep it fed with the owner's
        commits; ``False`` if it has no events."""
        ...

    async def forward(
        self, auction_id: str, command: Command, mark: CommandMark | None
    ) -> list[Event]:
        """Run ``command`` (its ``at`` is replaced by the owner's clock) at the owner and
        return its committed events, with the owner's errors (the runner's, and
        ``UnknownAuction``) raised here; ``NotOwner`` when no node serves the auction now
        (nothing was run). Only after the channel of ``auction_id`` here holds them."""
        ...

    def lost(self, auction_id: str) -> None:
        """The runner of ``auction_id`` was fenced off (another node took the lease)."""
        ...

    async def release(self, auction_id: str) -> None:
        """Give up this node's lease on ``auction_id`` (its runner has stopped)."""
        ...
