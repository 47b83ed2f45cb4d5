"""What the auctions' service needs from the layer above it, as Protocols.

:class:`~api.auctions.service.Service` publishes every committed event to a read model
kept per auction (a channel: the auction folded from committed events, its head, its
subscribers). That read model lives with the websockets (:class:`api.live.hub.Hub`),
which sit *above* the auctions; so the service names only what it uses of it here, and
the node hands it the hub, which satisfies :class:`Publisher` structurally.

Call order is the service's: ``channel(id)`` to read or restore an auction's committed
state, ``publish(id, events)`` after each commit (never awaits, never raises), and
``release(id)`` when an idle auction leaves memory.
"""

from __future__ import annotations

from typing import Protocol

from engine import Auction, Event

__all__ = ["CommittedChannel", "Publisher"]


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
