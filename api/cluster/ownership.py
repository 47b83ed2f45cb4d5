"""Which node runs each auction: leases in PostgreSQL, commands forwarded over NATS.

:class:`Ownership` is the :class:`~api.auctions.ports.Owners` the node hands the
auctions' service in a cluster. It holds this node's leases (auction id -> epoch,
:mod:`api.storage.leases`) and runs two loops, each every ``renew_s`` seconds:

1. the beat: heartbeat this node (``cluster_nodes``), renew every lease it holds in one
   statement; a lease not renewed (taken over while this node was paused, or PostgreSQL
   unreachable past the lease's life) is dropped and its runner abandoned
   (:meth:`Service.disown`). A loop of its own, so that a long round never delays it;
2. the round: unless draining, take auctions that are live and have no live lease (their
   owner died, drained, or gave them up), up to this node's fair share
   ``ceil(leased + orphaned / live nodes)``; an auction left orphaned for two rounds is
   taken whatever the share (a node counted live may be the dead one);
3. hand off what is held beyond ``share + 1`` (a node joined): at most
   :data:`HAND_OFF_PER_ROUND` a round, each after its queued commands finished.

So an owner that dies loses its auctions after at most ``ttl_s`` (the lease lapses) plus
``renew_s`` (the next scan of a live node): 3 + 1 s by default. Every append carries the
lease's epoch and PostgreSQL refuses it in the same transaction once the epoch moved on,
so an owner paused past its lease (GC, SIGSTOP) never writes again; its runner learns
it at its first append (:class:`~api.storage.errors.LeaseLost`) or renewal.

Commands for an auction another node owns go to that node: one NATS request to the
subject of the lease holder's node id (``<cluster>.cmd.n.<node>``), never to a subject all
owners share: a paused former owner still subscribed must not be handed requests.
The holder is read from PostgreSQL and trusted for ``renew_s`` at most, or until a request
says it moved. (Claiming, renewing, releasing and the request itself are
:class:`~api.cluster.leaseholder.LeaseHolder`'s, shared with tenders.)
Answers carry the committed events or the owner's error by name, raised here as the
owner raised it (same reject codes and idempotency: the mark travels with the command).
A forwarded command may wait in the owner's queue for :data:`QUEUE_SHARE` of the forward
timeout; then the owner refuses it (``overloaded``, not run) while the forwarding node is
still waiting, so an overloaded owner is heard as such and not as ``outcome_unknown``.

Call order: ``Ownership(...)``, set :attr:`service`, ``await start()``; the service calls
:meth:`claim`, :meth:`follow`, :meth:`forward`, :meth:`lost`, :meth:`release`; on
shutdown ``await drain()`` (after the service closed its runners: every lease released
so other nodes take over at once), then ``await stop()``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace

from api.auctions.runner import (
    MAX_WAIT_S,
    NotOwner,
    OutcomeUnknown,
    RunnerError,
    RunnerOverloaded,
    RunnerStopped,
    StorageUnavailable,
    WriterBacklogged,
)
from api.auctions.service import Service, UnknownAuction
from api.cluster.bus import Bus
from api.cluster.leaseholder import LeaseHolder
from api.storage.leases import LeaseStore
from api.storage.ports import CommandMark
from engine import Command, Event
from engine.codec import decode_command, decode_event, encode_command, encode_event
from engine.errors import EngineMisuse

__all__ = ["HAND_OFF_PER_ROUND", "KIND", "QUEUE_SHARE", "Ownership"]

log = logging.getLogger("gavel.cluster")

#: The lease kind of an auction (tenders have their own).
KIND = "auction"
#: Leases handed off per round when this node holds more than its share.
HAND_OFF_PER_ROUND = 20
#: Orphans taken per round at most (a node coming up takes its share over a few rounds).
TAKE_PER_ROUND = 200
#: The part of the forward timeout a forwarded command may wait in the owner's queue
#: before the owner refuses it (``overloaded``, not run): the rest is for the answer's
#: way back through two busy processes, so that an overloaded owner is heard as
#: "overloaded" rather than as silence (``outcome_unknown``).
QUEUE_SHARE = 0.5

# The owner's errors a forwarded command may come back with, by class name.
_ERRORS: dict[str, type[Exception]] = {
    cls.__name__: cls
    for cls in (
        NotOwner,
        OutcomeUnknown,
        RunnerOverloaded,
        WriterBacklogged,
        RunnerStopped,
        StorageUnavailable,
        UnknownAuction,
        EngineMisuse,
    )
}


class Ownership(LeaseHolder):
    """This node's auction leases, its loop, and the forwarding of commands (see the
    module)."""

    def __init__(
        self,
        leases: LeaseStore,
        bus: Bus,
        *,
        node_id: str,
        url: str,
        ttl_s: float,
        renew_s: float,
        follow: Callable[[str], Awaitable[bool]],
        fill: Callable[[str, list[Event]], Awaitable[None]],
        forward_timeout_s: float = 12.0,
        beat_leases: LeaseStore | None = None,
    ) -> None:
        super().__init__(
            leases,
            bus,
            kind=KIND,
            bus_kind="n",
            node_id=node_id,
            ttl_s=ttl_s,
            renew_s=renew_s,
            forward_timeout_s=forward_timeout_s,
            beat_leases=beat_leases,
        )
        self.url = url
        self._follow = follow
        self._fill = fill
        #: Set by the node before :meth:`start`.
        self.service: Service | None = None
        self._orphans_seen: set[str] = set()
        #: auction id -> ``time.monotonic()`` of its hand-off: not claimed back on demand
        #: for ``ttl_s`` (another node's scan takes it), or balancing would bounce.
        self._handed_off: dict[str, float] = {}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Heartbeat, serve this node's command subject, and start the loop."""
        await self.leases.heartbeat(self.node_id, self.url, self.ttl_s)
        await self.serve(self._handle, "gavel-ownership")

    async def drain(self) -> None:
        """Stop taking auctions and release every lease held (call after the service
        stopped its runners: their queued commands are committed). Other nodes take
        them at their next scan, within ``renew_s``."""
        self.draining = True
        with contextlib.suppress(Exception):
            await self.leases.heartbeat(self.node_id, self.url, self.ttl_s, draining=True)
        await self.release_all()

    async def stop(self) -> None:
        """End the loop, stop serving commands, forget this node."""
        await super().stop()
        with contextlib.suppress(Exception):
            await self.leases.forget_node(self.node_id)

    # ------------------------------------------------------------------ Owners

    def may_claim(self, auction_id: str) -> bool:
        """Not an auction this node handed off less than ``ttl_s`` ago."""
        handed = self._handed_off.get(auction_id)
        if handed is None:
            return True
        if time.monotonic() - handed < self.ttl_s:
            return False
        del self._handed_off[auction_id]
        return True

    async def follow(self, auction_id: str) -> bool:
        """Prime ``auction_id``'s channel here; the events subscription keeps it fed."""
        return await self._follow(auction_id)

    async def forward(
        self, auction_id: str, command: Command, mark: CommandMark | None
    ) -> list[Event]:
        """Run ``command`` at the owner of ``auction_id`` (see the module docstring)."""
        body = {
            "auction": auction_id,
            "command": encode_command(command).decode(),
            "mark": None if mark is None else asdict(mark),
            # The owner's queue may hold it this long; then it is refused, not run, and
            # the answer still has half the timeout to come back (not outcome_unknown).
            "queue_s": self.forward_timeout_s * QUEUE_SHARE,
        }
        answer = json.loads(await self.request(auction_id, json.dumps(body).encode()))
        error = answer.get("error")
        if error is not None:
            if error == "NotOwner":
                self.moved(auction_id)
            raise _ERRORS.get(error, RuntimeError)(answer.get("detail", error))
        events = [decode_event(text.encode()) for text in answer["events"]]
        await self._fill(auction_id, events)
        return events

    # ------------------------------------------------------------------ served here

    async def _handle(self, payload: bytes) -> bytes:
        """A command another node forwarded: run it on this node's runner (which the
        lease must still be this node's), answer its events or its error by name."""
        service = self.service
        try:
            body = json.loads(payload)
            auction_id = str(body["auction"])
            command = decode_command(str(body["command"]).encode())
            raw_mark = body.get("mark")
            mark = None if raw_mark is None else CommandMark(**raw_mark)
            queue_s = min(MAX_WAIT_S, float(body.get("queue_s", MAX_WAIT_S)))
            if not queue_s > 0:
                raise ValueError(f"queue_s must be positive, not {body.get('queue_s')!r}")
        except Exception as error:  # noqa: BLE001 - a peer's bug: answer it, don't crash
            return _error("ValueError", f"malformed forwarded command: {error}")
        try:
            if service is None or service.closing:
                raise NotOwner(f"{auction_id}: node {self.node_id} is stopping")
            runner = service.runners.get(auction_id)
            if runner is None:
                epoch = self.held.get(auction_id)
                if epoch is None:
                    raise NotOwner(f"{auction_id}: node {self.node_id} does not own it")
                runner = await service.take(auction_id, epoch)
                if runner is None:
                    raise UnknownAuction(auction_id)
            events = await runner.submit(
                lambda at: replace(command, at=at), mark, max_wait_s=queue_s
            )
        except (RunnerError, UnknownAuction, EngineMisuse) as error:
            return _error(type(error).__name__, str(error))
        except Exception as error:  # noqa: BLE001 - every request gets its answer
            log.exception("a forwarded command failed", extra={"auction": auction_id})
            return _error("RuntimeError", repr(error))
        return json.dumps({"events": [encode_event(e).decode() for e in events]}).encode()

    async def beat(self) -> None:
        """This node's heartbeat, then every lease renewed (its own loop: see
        :class:`~api.cluster.leaseholder.LeaseHolder`). Two statements."""
        await self.beat_leases.heartbeat(self.node_id, self.url, self.ttl_s, draining=self.draining)
        await super().beat()

    def dropped(self, stream_id: str) -> None:
        """Not renewed: the runner is abandoned (its queued commands refused, none run)."""
        if self.service is not None:
            self.service.disown(stream_id)

    async def round(self) -> None:
        """One round of the loop (see the module docstring). O(held + orphans)."""
        service = self.service
        assert service is not None
        if self.draining or service.closing:
            return
        nodes = [node for node in await self.leases.live_nodes() if not node.draining]
        orphans = await self.leases.orphaned_auctions(TAKE_PER_ROUND * 4)
        counts = await self.leases.owned_counts()
        total = sum(counts.values()) + len(orphans)
        share = math.ceil(total / max(1, len(nodes)))
        mine = counts.get(self.node_id, 0)
        random.shuffle(orphans)
        overdue = [a for a in orphans if a in self._orphans_seen]
        fresh = [a for a in orphans if a not in self._orphans_seen]
        wanted = overdue + fresh[: max(0, share - mine - len(overdue))]
        self._orphans_seen = set(orphans) - set(wanted)
        for auction_id in wanted[:TAKE_PER_ROUND]:
            taken = await self.claim(auction_id)
            if taken is not None:
                await service.take(auction_id, taken)
        excess = min(mine, len(self.held)) - (share + 1)
        if excess > 0 and len(nodes) > 1:
            for auction_id in list(self.held)[: min(excess, HAND_OFF_PER_ROUND)]:
                self._handed_off[auction_id] = time.monotonic()
                await service.hand_off(auction_id)
        now = time.monotonic()
        for auction_id, at in list(self._handed_off.items()):
            if now - at >= self.ttl_s:
                del self._handed_off[auction_id]


def _error(name: str, detail: str) -> bytes:
    return json.dumps({"error": name, "detail": detail}).encode()
