"""Which node runs each tender: leases in PostgreSQL, calls forwarded over NATS.

:class:`TenderOwnership` is the :class:`~api.tenders.ports.TenderOwners` the node hands
the tender service in a cluster. Unlike auctions (spread over the nodes by
:mod:`api.cluster.ownership`), a tender is claimed on demand: by the node that gets its
first command while no live lease exists (kind ``"tender"`` of
:mod:`api.storage.leases`; one statement). The holder keeps it while it is used; its
loop, every ``renew_s`` seconds:

1. renews every tender lease it holds in one statement; one not renewed (taken over
   while this node was paused, PostgreSQL unreachable past the lease's life) is dropped:
   the service's copy is loaded again under the next epoch it gets, and its shares are
   gone with it (the new owner records ``SharesDiscarded``);
2. releases each held tender that sat idle (the service says: no command for
   ``idle_s``, 60 s, none running, and no share waiting for the opening), so any node
   may take it at its next command.

On drain (SIGTERM) every lease is released at once; a command then finds no holder and
the next node that gets one claims the tender.

Calls for a tender another node holds go to that node: one NATS request to the subject
of the holder's node id (``gavel.cmd.t.<node>``), never to a subject all nodes share (a
paused former owner still subscribed must not be handed requests). The holder is read
from PostgreSQL (``holder``) and trusted for ``renew_s`` at most, or until a request says
it moved (:class:`~api.cluster.holders.Holders`). The
payload and the answer are :mod:`api.tenders.remote`'s bytes; this module reads only
the answer's ``error`` member (``NotOwner``: forget the cached holder). What arrives on
this node's subject is handed to ``serve``, the node's callback (which runs it with
:func:`api.tenders.remote.serve_call` on the node's tender service).

Call order: ``TenderOwnership(...)``, ``await start()``; the service calls
:meth:`claim`, :meth:`holding`, :meth:`forward`, :meth:`lost`; on shutdown ``await
drain()`` then ``await stop()``. Costs: :meth:`claim` is O(1) when held, else one
statement; :meth:`forward` one request (plus one statement for an unknown holder); a
round one statement plus O(held).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from api.auctions.runner import NotOwner, OutcomeUnknown
from api.cluster.bus import Bus, BusClosed, NoOwner, RequestTimedOut
from api.cluster.holders import Holders
from api.storage.leases import LeaseStore

if TYPE_CHECKING:
    from api.cluster.bus import Serving

__all__ = ["IDLE_S", "KIND", "TenderOwnership", "TenderOwnershipStats"]

log = logging.getLogger("gavel.cluster")

#: The lease kind of a tender.
KIND = "tender"
#: The bus kind of the subjects tender calls are sent on (one per node).
BUS_KIND = "t"
#: Seconds a held tender may sit unused before its lease is released.
IDLE_S = 60.0


@dataclass(slots=True)
class TenderOwnershipStats:
    """Figures for ``/metrics`` (``gavel_tender_*``)."""

    #: Tender leases taken from a previous owner whose lease had lapsed.
    takeovers: int = 0
    #: Tender leases this node lost (not renewed, or fenced at an append).
    lost: int = 0
    #: Tender leases this node released (idle, drain).
    released: int = 0
    #: Calls sent to another node, and those that found no node serving the tender.
    forwarded: int = 0
    forward_failures: int = 0
    #: Calls other nodes sent here.
    served: int = 0


class TenderOwnership:
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
    ) -> None:
        self.leases = leases
        self.bus = bus
        self.node_id = node_id
        self.ttl_s = ttl_s
        self.renew_s = renew_s
        self._serve = serve
        self._idle = idle
        self.idle_s = idle_s
        self.forward_timeout_s = forward_timeout_s
        #: tender id -> epoch of this node's lease.
        self.held: dict[str, int] = {}
        self.stats = TenderOwnershipStats()
        self.draining = False
        self._claiming: dict[str, asyncio.Future[int | None]] = {}
        #: The lease holders this node forwards to, read again every ``renew_s``.
        self._holders = Holders(leases, KIND, node_id, renew_s)
        self._serving: Serving | None = None
        self._loop: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Serve this node's tender subject and start the loop."""
        self._serving = await self.bus.serve(BUS_KIND, self.node_id, self._handle)
        self._loop = asyncio.create_task(self._run(), name="gavel-tender-ownership")

    async def drain(self) -> None:
        """Claim nothing more and release every tender lease held (shares waiting for an
        opening here are lost: the next owner records ``SharesDiscarded``)."""
        self.draining = True
        held, self.held = dict(self.held), {}
        if held:
            try:
                await self.leases.release(self.node_id, {(KIND, t): e for t, e in held.items()})
                self.stats.released += len(held)
                log.info("tender leases released for draining", extra={"tenders": len(held)})
            except Exception as error:  # noqa: BLE001 - they lapse after ttl_s anyway
                log.warning("releasing tender leases failed", extra={"error": repr(error)})

    async def stop(self) -> None:
        """End the loop and stop serving calls."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(BaseException):
                await self._loop
        if self._serving is not None:
            with contextlib.suppress(Exception):
                await self._serving.stop()
        for task in list(self._handling):
            with contextlib.suppress(BaseException):
                await task

    # ------------------------------------------------------------------ TenderOwners

    async def claim(self, tender_id: str) -> int | None:
        """This node's lease on ``tender_id``: its epoch, or ``None`` while another
        node's lease is live (or this node drains). One statement unless held already."""
        epoch = self.held.get(tender_id)
        if epoch is not None:
            return epoch
        if self.draining:
            return None
        pending = self._claiming.get(tender_id)
        if pending is not None:
            return await pending
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._claiming[tender_id] = future
        try:
            lease = await self.leases.acquire(KIND, tender_id, self.node_id, self.ttl_s)
            epoch = None if lease is None else lease.epoch
            if lease is not None:
                self.held[tender_id] = lease.epoch
                self._holders.forget(tender_id)
                if lease.ownerless_us is not None:
                    self.stats.takeovers += 1
                    log.warning(
                        "tender taken over",
                        extra={
                            "tender": tender_id,
                            "epoch": lease.epoch,
                            "ownerless_s": lease.ownerless_us / 1e6,
                        },
                    )
            future.set_result(epoch)
            return epoch
        except BaseException as error:
            future.set_exception(error)
            future.exception()
            raise
        finally:
            del self._claiming[tender_id]

    def holding(self, tender_id: str) -> int | None:
        """The epoch of this node's lease on ``tender_id``, ``None`` if not held. O(1)."""
        return self.held.get(tender_id)

    def lost(self, tender_id: str) -> None:
        """An append here was fenced off: the lease is another node's now."""
        if self.held.pop(tender_id, None) is not None:
            self.stats.lost += 1

    async def forward(self, tender_id: str, payload: bytes) -> bytes:
        """Send ``payload`` to the holder of ``tender_id``'s lease; its answer's bytes
        (see the module docstring). :class:`NotOwner` when no node serves it now,
        :class:`OutcomeUnknown` when the holder did not answer in time."""
        owner = await self._holders.holder(tender_id)
        if owner is None:
            raise NotOwner(f"tender {tender_id}: no other node holds its lease now")
        self.stats.forwarded += 1
        try:
            reply = await self.bus.request(BUS_KIND, owner, payload, self.forward_timeout_s)
        except (NoOwner, BusClosed):
            self._holders.forget(tender_id)
            self.stats.forward_failures += 1
            raise NotOwner(f"tender {tender_id}: its owner {owner} does not answer") from None
        except RequestTimedOut:
            self._holders.forget(tender_id)
            self.stats.forward_failures += 1
            raise OutcomeUnknown(
                f"the tender's owner did not answer within {self.forward_timeout_s:g} s:"
                " the command may stand; the log tells"
            ) from None
        if _names_not_owner(reply):
            self._holders.forget(tender_id)
        return reply

    # ------------------------------------------------------------------ served here

    async def _handle(self, payload: bytes) -> bytes:
        """A call another node forwarded: the node's ``serve`` answers it."""
        self.stats.served += 1
        task = asyncio.current_task()
        if task is not None:
            self._handling.add(task)
        try:
            return await self._serve(payload)
        finally:
            if task is not None:
                self._handling.discard(task)

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        while True:
            began = time.monotonic()
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - PostgreSQL down: next round
                log.warning("tender ownership round failed", extra={"error": repr(error)})
            await asyncio.sleep(max(0.0, self.renew_s - (time.monotonic() - began)))

    async def round(self) -> None:
        """Renew what is held, drop what was not renewed, release what sat idle. One
        statement to renew, one to release; O(held)."""
        if not self.held:
            return
        asked = dict(self.held)
        renewed = await self.leases.renew(
            self.node_id, {(KIND, t): e for t, e in asked.items()}, self.ttl_s
        )
        for tender_id, epoch in asked.items():
            if (KIND, tender_id) not in renewed and self.held.get(tender_id) == epoch:
                del self.held[tender_id]
                self.stats.lost += 1
                log.warning("tender lease not renewed: dropped", extra={"tender": tender_id})
        if self.draining:
            return
        idle = {
            tender_id: epoch
            for tender_id, epoch in self.held.items()
            if self._idle(tender_id, self.idle_s)
        }
        if not idle:
            return
        for tender_id in idle:
            del self.held[tender_id]
        await self.leases.release(self.node_id, {(KIND, t): e for t, e in idle.items()})
        self.stats.released += len(idle)
        log.info("idle tender leases released", extra={"tenders": len(idle)})


def _names_not_owner(reply: bytes) -> bool:
    """Whether an answer is the owner's ``NotOwner`` (it holds the lease no more)."""
    try:
        body = json.loads(reply)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") == "NotOwner"
