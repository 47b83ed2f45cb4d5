"""What the tender service needs from the layer above it in a cluster, as a Protocol.

In a cluster (``NATS_URL`` set) each tender is run by exactly one node at a time: the
holder of its lease (kind ``"tender"`` in :mod:`api.storage.leases`), whose epoch every
append of the tender carries. :class:`~api.tenders.service.TenderService` asks
:class:`TenderOwners` for that lease before it runs a command, and sends the command to
the holder when another node has it. The node fills it with
:class:`api.cluster.tender_ownership.TenderOwnership` (leases in PostgreSQL, commands
over NATS); :mod:`api.cluster` and :mod:`api.tenders` share one layer and never import
each other, so what crosses between them is bytes: the wire form of
:mod:`api.tenders.remote`.

Call order is the service's: :meth:`TenderOwners.claim` before each command; with an
epoch the command runs here, else :meth:`TenderOwners.forward`; :meth:`TenderOwners.lost`
when an append was fenced off; :meth:`TenderOwners.holding` (no I/O) before serving a
read from memory. Without owners (one node) none of this happens.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["TenderOwners"]


class TenderOwners(Protocol):
    """Who runs each tender among the cluster's nodes (absent on a single node)."""

    async def claim(self, tender_id: str) -> int | None:
        """This node's lease on ``tender_id`` (taken if free, expired or released): its
        epoch, which every append of the tender must carry; ``None`` while another
        node's lease is live (or this node drains). May raise what the lease store
        raises (nothing was run then)."""
        ...

    def holding(self, tender_id: str) -> int | None:
        """The epoch of this node's lease on ``tender_id`` as last claimed or renewed,
        ``None`` if it holds none. O(1), no I/O."""
        ...

    async def forward(self, tender_id: str, payload: bytes) -> bytes:
        """Send ``payload`` (a call of :mod:`api.tenders.remote`) to the holder of
        ``tender_id``'s lease and return its answer's bytes (events, or the owner's
        error by name: :func:`api.tenders.remote.decode_answer` raises it).

        Raises :class:`~api.auctions.runner.NotOwner` when no node serves the tender now
        (nothing ran: the service tries again) and
        :class:`~api.auctions.runner.OutcomeUnknown` when the owner did not answer in
        time (the command may stand)."""
        ...

    def lost(self, tender_id: str) -> None:
        """An append of ``tender_id`` here was fenced off: another node has its lease."""
        ...
