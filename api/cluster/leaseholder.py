"""What a node does with the leases of one kind of stream (auctions, tenders): claim,
renew, lose, release, and send a command to whichever node holds a lease.

:class:`LeaseHolder` is the part :class:`~api.cluster.ownership.Ownership` (auctions) and
:class:`~api.cluster.tender_ownership.TenderOwnership` (tenders) share; each adds its loop's
policy (auctions are spread over the nodes; tenders are claimed on demand and released
when idle) and what a forwarded request carries.

- :meth:`LeaseHolder.claim`: this node's lease on a stream (one statement unless held;
  concurrent claims of one stream share one statement); a takeover of a lapsed lease is
  logged and counted with the time the stream went without an owner.
- :meth:`LeaseHolder.renew_held`: every held lease renewed in one statement; those not
  renewed are dropped and returned (the caller stops running them).
- :meth:`LeaseHolder.request`: one NATS request to the holder's node subject (never a
  subject all owners share: a paused former owner must not be handed requests); the
  holder is read from PostgreSQL and trusted for ``renew_s``
  (:class:`~api.cluster.holders.Holders`). :class:`~api.auctions.runner.NotOwner` when no
  node serves the stream now (nothing ran), :class:`~api.auctions.runner.OutcomeUnknown`
  when the holder did not answer in time (it may have run it).
- :meth:`LeaseHolder.release`, :meth:`LeaseHolder.release_all` (drain),
  :meth:`LeaseHolder.stop`.

Two loops, each every ``renew_s``, each logging a failed turn (PostgreSQL down: the next
one tries again): the **beat** (:meth:`LeaseHolder.beat`: renew every lease held, drop
those not renewed) and the subclass's **round** (``round()``: take, spread, hand off,
release). They are separate so that a long round (taking over a dead node's auctions,
each restored from its snapshot and log) never delays a renewal: one loop doing both
let a busy node's leases lapse while it was restoring others, so other nodes took them,
restored them in turn and let theirs lapse (hundreds of takeovers among live nodes in a
15 s overload run; docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from api.auctions.runner import NotOwner, OutcomeUnknown
from api.cluster.bus import Bus, BusClosed, NoOwner, RequestTimedOut, Serving
from api.cluster.holders import Holders
from api.storage.leases import LeaseStore

__all__ = ["LeaseHolder", "LeaseStats"]

log = logging.getLogger("gavel.cluster")


@dataclass(slots=True)
class LeaseStats:
    """Figures for ``/metrics`` of one kind of lease."""

    #: Leases taken from a previous owner whose lease had lapsed.
    takeovers: int = 0
    #: Seconds streams spent without an owner, summed over those takeovers (from the
    #: previous owner's last renewal to the takeover), and the longest one.
    ownerless_s: float = 0.0
    ownerless_max_s: float = 0.0
    #: Leases this node lost (not renewed, or fenced at an append).
    lost: int = 0
    #: Leases this node released (drain, hand-off, idle).
    released: int = 0
    #: Requests sent to another node, and those that found no owner or no answer.
    forwarded: int = 0
    forward_failures: int = 0
    #: Requests other nodes sent here.
    served: int = 0


class LeaseHolder:
    """This node's leases of one ``kind`` (see the module docstring)."""

    def __init__(
        self,
        leases: LeaseStore,
        bus: Bus,
        *,
        kind: str,
        bus_kind: str,
        node_id: str,
        ttl_s: float,
        renew_s: float,
        forward_timeout_s: float = 12.0,
        beat_leases: LeaseStore | None = None,
    ) -> None:
        self.leases = leases
        #: The store of the beat (heartbeat, renewal): a connection of its own in a node
        #: (api.node), so that a renewal never waits behind look-ups and claims.
        self.beat_leases = beat_leases if beat_leases is not None else leases
        self.bus = bus
        self.kind = kind
        self.bus_kind = bus_kind
        self.node_id = node_id
        self.ttl_s = ttl_s
        self.renew_s = renew_s
        self.forward_timeout_s = forward_timeout_s
        #: stream id -> epoch of this node's lease.
        self.held: dict[str, int] = {}
        self.stats = LeaseStats()
        self.draining = False
        self._claiming: dict[str, asyncio.Future[int | None]] = {}
        #: The lease holders this node forwards to, read again every ``renew_s``.
        self._holders = Holders(leases, kind, node_id, renew_s)
        self._serving: Serving | None = None
        self._loops: list[asyncio.Task[None]] = []
        self._handling: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def serve(self, handler: Callable[[bytes], Awaitable[bytes]], name: str) -> None:
        """Answer requests on this node's subject with ``handler`` (each tracked, so
        :meth:`stop` waits for them) and start the loops (:meth:`beat` and ``round``,
        each every ``renew_s``)."""

        async def handle(payload: bytes) -> bytes:
            self.stats.served += 1
            task = asyncio.current_task()
            if task is not None:
                self._handling.add(task)
            try:
                return await handler(payload)
            finally:
                if task is not None:
                    self._handling.discard(task)

        self._serving = await self.bus.serve(self.bus_kind, self.node_id, handle)
        self._loops = [
            asyncio.create_task(self._every(self.beat, "beat"), name=f"{name}-beat"),
            asyncio.create_task(self._every(self.round, "round"), name=name),
        ]

    async def beat(self) -> None:
        """Renew every lease held (one statement); a lease not renewed is dropped and
        handed to :meth:`dropped`. Runs every ``renew_s`` in its own loop, whatever the
        round is doing. O(held)."""
        for stream_id in await self.renew_held():
            self.dropped(stream_id)

    def dropped(self, stream_id: str) -> None:
        """This node's lease on ``stream_id`` was not renewed: stop running it here (the
        subclass's part; nothing by default)."""

    async def round(self) -> None:
        """One round of the loop; the subclass's policy."""

    async def _every(self, turn: Callable[[], Awaitable[None]], what: str) -> None:
        """``turn()`` every ``renew_s`` until cancelled; a failed turn is logged."""
        while True:
            began = time.monotonic()
            try:
                await turn()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - PostgreSQL down: next turn
                log.warning(f"{self.kind} lease {what} failed", extra={"error": repr(error)})
            await asyncio.sleep(max(0.0, self.renew_s - (time.monotonic() - began)))

    async def release_all(self) -> None:
        """Claim nothing more and release every lease held: any node may take them at
        once (call once the streams stopped running here)."""
        self.draining = True
        held, self.held = dict(self.held), {}
        if not held:
            return
        try:
            await self.leases.release(self.node_id, self._keys(held))
            self.stats.released += len(held)
            log.info(f"{self.kind} leases released for draining", extra={"streams": len(held)})
        except Exception as error:  # noqa: BLE001 - they lapse after ttl_s anyway
            log.warning(f"releasing {self.kind} leases failed", extra={"error": repr(error)})

    async def stop(self) -> None:
        """End the loops, stop serving, wait for the requests being answered."""
        loops, self._loops = self._loops, []
        for task in loops:
            task.cancel()
        for task in loops:
            with contextlib.suppress(BaseException):
                await task
        if self._serving is not None:
            with contextlib.suppress(Exception):
                await self._serving.stop()
        for task in list(self._handling):
            with contextlib.suppress(BaseException):
                await task

    # ------------------------------------------------------------------ leases

    def _keys(self, held: dict[str, int]) -> dict[tuple[str, str], int]:
        return {(self.kind, stream_id): epoch for stream_id, epoch in held.items()}

    def may_claim(self, stream_id: str) -> bool:
        """Whether :meth:`claim` may take ``stream_id`` now (a subclass's veto)."""
        return True

    async def claim(self, stream_id: str) -> int | None:
        """This node's lease on ``stream_id``: its epoch, or ``None`` while another
        node's lease is live (or this node drains). One statement unless held already."""
        epoch = self.held.get(stream_id)
        if epoch is not None:
            return epoch
        if self.draining or not self.may_claim(stream_id):
            return None
        pending = self._claiming.get(stream_id)
        if pending is not None:
            return await pending
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._claiming[stream_id] = future
        try:
            lease = await self.leases.acquire(self.kind, stream_id, self.node_id, self.ttl_s)
            epoch = None if lease is None else lease.epoch
            if lease is not None:
                self.held[stream_id] = lease.epoch
                self._holders.forget(stream_id)
                if lease.ownerless_us is not None:
                    gap = lease.ownerless_us / 1e6
                    self.stats.takeovers += 1
                    self.stats.ownerless_s += gap
                    self.stats.ownerless_max_s = max(self.stats.ownerless_max_s, gap)
                    log.warning(
                        f"{self.kind} taken over",
                        extra={"stream": stream_id, "epoch": lease.epoch, "ownerless_s": gap},
                    )
            future.set_result(epoch)
            return epoch
        except BaseException as error:
            future.set_exception(error)
            future.exception()
            raise
        finally:
            del self._claiming[stream_id]

    def holding(self, stream_id: str) -> int | None:
        """The epoch of this node's lease on ``stream_id``, ``None`` if not held. O(1)."""
        return self.held.get(stream_id)

    def lost(self, stream_id: str) -> None:
        """An append here was fenced off: the lease is another node's now."""
        if self.held.pop(stream_id, None) is not None:
            self.stats.lost += 1

    async def release(self, stream_id: str) -> None:
        """Give the lease up (the stream stopped running here): any node may take it."""
        epoch = self.held.pop(stream_id, None)
        if epoch is None:
            return
        try:
            await self.leases.release(self.node_id, {(self.kind, stream_id): epoch})
            self.stats.released += 1
        except Exception as error:  # noqa: BLE001 - it lapses after ttl_s anyway
            log.warning(
                f"releasing a {self.kind} lease failed",
                extra={"stream": stream_id, "error": repr(error)},
            )

    async def release_idle(self, idle: dict[str, int]) -> None:
        """Release the leases of ``idle`` (stream id -> epoch) in one statement."""
        for stream_id in idle:
            self.held.pop(stream_id, None)
        await self.leases.release(self.node_id, self._keys(idle))
        self.stats.released += len(idle)

    async def renew_held(self) -> list[str]:
        """Renew every lease held in one statement; drop and return those not renewed
        (taken over while this node was paused, or PostgreSQL unreachable past their
        life). O(held)."""
        if not self.held:
            return []
        asked = dict(self.held)
        renewed = await self.beat_leases.renew(self.node_id, self._keys(asked), self.ttl_s)
        dropped = []
        for stream_id, epoch in asked.items():
            if (self.kind, stream_id) not in renewed and self.held.get(stream_id) == epoch:
                del self.held[stream_id]
                self.stats.lost += 1
                log.warning(f"{self.kind} lease not renewed: dropped", extra={"stream": stream_id})
                dropped.append(stream_id)
        return dropped

    # ------------------------------------------------------------------ forwarding

    async def request(self, stream_id: str, payload: bytes) -> bytes:
        """Send ``payload`` to the holder of ``stream_id``'s lease; its answer's bytes.
        :class:`NotOwner` when no other node serves it now (nothing ran),
        :class:`OutcomeUnknown` when the holder did not answer within
        ``forward_timeout_s`` (it may have run it)."""
        owner = await self._holders.holder(stream_id)
        if owner is None:
            raise NotOwner(f"{self.kind} {stream_id}: no other node holds its lease now")
        self.stats.forwarded += 1
        try:
            return await self.bus.request(self.bus_kind, owner, payload, self.forward_timeout_s)
        except (NoOwner, BusClosed):
            self._holders.forget(stream_id)
            self.stats.forward_failures += 1
            raise NotOwner(f"{self.kind} {stream_id}: its owner {owner} does not answer") from None
        except RequestTimedOut:
            self._holders.forget(stream_id)
            self.stats.forward_failures += 1
            raise OutcomeUnknown(
                f"the {self.kind}'s owner did not answer within {self.forward_timeout_s:g} s:"
                " the command may stand; the log tells"
            ) from None

    def moved(self, stream_id: str) -> None:
        """The holder answered that it holds the lease no more: read it again."""
        self._holders.forget(stream_id)
