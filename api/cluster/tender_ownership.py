"""Which node runs each tender: leases in PostgreSQL, calls forwarded over NATS.

:class:`TenderOwnership` is the :class:`~api.tenders.ports.TenderOwners` the node hands
the tender service in a cluster. Unlike auctions (spread over the nodes by
:mod:`api.cluster.ownership`), a tender is claimed on demand: by the node that gets its
first command while no live lease exists (kind ``"tender"`` of
:mod:`api.storage.leases`; one statement). The holder keeps it while it is used; its
two loops, every ``renew_s`` seconds:

1. the beat renews every tender lease it holds in one statement; one not renewed (taken
   over while this node was paused, PostgreSQL unreachable past the lease's life) is
   dropped: the service's copy is loaded again under the next epoch it gets, and its
   shares are gone with it (the new owner records ``SharesDiscarded``);
2. the round releases each held tender that sat idle (the service says: no command for
   ``idle_s``, 60 s, none running, and no share waiting for the opening), so any node
   may take it at its next command.

On drain (SIGTERM) every lease is released at once; a command then finds no holder and
the next node that gets one claims the tender.

Calls for a tender another node holds go to that node: one NATS request to the subject
of the holder's node id (``<cluster>.cmd.t.<node>``), never to a subject all nodes share (a
paused former owner still subscribed must not be handed requests). The holder is read
from PostgreSQL (``holder``) and trusted for ``renew_s`` at most, or until a request says
it moved (:class:`~api.cluster.leaseholder.LeaseHolder`, shared with auctions). The
payload and the answer are :mod:`api.tenders.remote`'s bytes; this module reads only
the answer's ``error`` member (``NotOwner``: forget the cached holder). What arrives on
this node's subject is handed to ``serve``, the node's callback (which runs it with
:func:`api.tenders.remote.serve_call` on the node's tender service).

Call order: ``TenderOwnership(...)``, ``await start()``; the service calls
:meth:`claim`, :meth:`holding`, :meth:`forward`, :meth:`lost`; on shutdown ``await
drain()`` then ``await stop()``. Costs: :meth:`claim` is O(1) when held, else one
statement; :meth:`forward` one request (plus one statement for an unknown holder); a
beat one statement, a round one statement plus O(held).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from api.cluster.bus import Bus
from api.cluster.leaseholder import LeaseHolder
from api.storage.leases import LeaseStore

__all__ = ["BUS_KIND", "IDLE_S", "KIND", "TenderOwnership"]

log = logging.getLogger("gavel.cluster")

#: The lease kind of a tender.
KIND = "tender"
#: The bus kind of the subjects tender calls are sent on (one per node).
BUS_KIND = "t"
#: Seconds a held tender may sit unused before its lease is released.
IDLE_S = 60.0


class TenderOwnership(LeaseHolder):
    """This node's tender leases, its loop, and the forwarding of calls (see the module)."""

    def __init__(
        self,
        leases: LeaseStore,
        bus: Bus,
        *,
        node_id: str,
        ttl_s: float,
        renew_s: float,
        serve: Callable[[bytes], Awaitable[bytes]],
        idle: Callable[[str, float], bool],
        idle_s: float = IDLE_S,
        forward_timeout_s: float = 12.0,
        beat_leases: LeaseStore | None = None,
    ) -> None:
        super().__init__(
            leases,
            bus,
            kind=KIND,
            bus_kind=BUS_KIND,
            node_id=node_id,
            ttl_s=ttl_s,
            renew_s=renew_s,
            forward_timeout_s=forward_timeout_s,
            beat_leases=beat_leases,
        )
        self._serve = serve
        self._idle = idle
        self.idle_s = idle_s

    async def start(self) -> None:
        """Serve this node's tender subject and start the loops."""
        await self.serve(self._serve, "gavel-tender-ownership")

    async def drain(self) -> None:
        """Claim nothing more and release every tender lease held (shares waiting for an
        opening here are lost: the next owner records ``SharesDiscarded``)."""
        await self.release_all()

    async def forward(self, tender_id: str, payload: bytes) -> bytes:
        """Send ``payload`` to the holder of ``tender_id``'s lease; its answer's bytes
        (see the module docstring). :class:`NotOwner` when no node serves it now,
        :class:`OutcomeUnknown` when the holder did not answer in time."""
        reply = await self.request(tender_id, payload)
        if _names_not_owner(reply):
            self.moved(tender_id)
        return reply

    async def round(self) -> None:
        """Release what sat idle (the renewal is the beat's: see
        :class:`~api.cluster.leaseholder.LeaseHolder`). One statement; O(held)."""
        if self.draining or not self.held:
            return
        idle = {
            tender_id: epoch
            for tender_id, epoch in self.held.items()
            if self._idle(tender_id, self.idle_s)
        }
        if idle:
            await self.release_idle(idle)
            log.info("idle tender leases released", extra={"tenders": len(idle)})


def _names_not_owner(reply: bytes) -> bool:
    """Whether an answer is the owner's ``NotOwner`` (it holds the lease no more)."""
    try:
        body = json.loads(reply)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") == "NotOwner"
