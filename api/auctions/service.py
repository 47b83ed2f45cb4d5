"""The live service's core, free of HTTP: runners, storage, fan-out and recovery.

``Service`` owns one :class:`~api.auctions.runner.AuctionRunner` per loaded auction (at most one:
loading is deduplicated), the shared appender (the group-commit writer), the store and
the hub (a :class:`~api.auctions.ports.Publisher`, handed in by the node). Sanic routes and
websocket loops call it; nothing else touches an auction.

Call order: ``await recover()`` once at start-up (rebuilds every auction that is not
ended from its latest snapshot plus the events after it, or from its whole log; their
timers re-arm from server time, so a close that passed while the server was down is
applied at its own time by the first tick), then ``create``/``submit``/``history`` from
any task, then ``await close()``.

Snapshots (:mod:`engine.snapshot`) are taken of an auction's committed state every
``snapshot_every`` events, in the runner's task right after a commit (O(bidders + resting
bids)), and stored in the background; a failed save is logged and retried at the next
commit. They are a cache of the log: one that does not restore, or whose auction has
ended, is ignored and the whole log is replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from api.auctions.ports import CommittedChannel, Owners, Publisher
from api.auctions.runner import (
    OUTCOME_WAIT_S,
    AuctionRunner,
    CommandFactory,
    NotOwner,
    OutcomeUnknown,
    RunnerStopped,
    StorageUnavailable,
    WriterBacklogged,
    learn_fate,
    server_time_us,
)
from api.storage.errors import SeqConflict
from api.storage.ports import (
    AuctionRecord,
    AuctionStatus,
    CommandMark,
    EventAppender,
    EventStore,
    Snapshot,
    StoredEvent,
)
from engine import (
    Auction,
    AuctionCreated,
    AuctionEnded,
    AuctionRules,
    AuctionStarted,
    CommandRejected,
    CreateAuction,
    Event,
    Phase,
    replay,
)
from engine.codec import decode_event, encode, encode_event
from engine.errors import MalformedRecord
from engine.snapshot import restore_snapshot, take_snapshot

__all__ = ["AuctionExists", "Remote", "Service", "ServiceError", "UnknownAuction"]

log = logging.getLogger("gavel.service")


class ServiceError(Exception):
    """Root of the service's own errors.

    ::

        ServiceError
        ├── UnknownAuction    no such auction (404)
        └── AuctionExists     the id is taken (409)
    """


class UnknownAuction(ServiceError):
    """No auction has this id."""


class AuctionExists(ServiceError):
    """An auction with this id already exists."""


def format_name(rules: AuctionRules) -> str:
    """The wire name of a rules object's format: ``EnglishRules`` → ``english``."""
    return type(rules).__name__.removesuffix("Rules").lower()


class Remote:
    """An auction another node owns, as this node's service holds it: commands go to
    the owner (:meth:`Owners.forward`); the channel here is fed from its commits."""

    __slots__ = ("auction_id", "_owners", "last_used")

    def __init__(self, auction_id: str, owners: Owners) -> None:
        self.auction_id = auction_id
        self._owners = owners
        self.last_used = time.monotonic()

    async def submit(self, make: CommandFactory, mark: CommandMark | None = None) -> list[Event]:
        """Run the command at the owner; its ``at`` is the owner's clock, not ours."""
        self.last_used = time.monotonic()
        return await self._owners.forward(self.auction_id, make(0), mark)


class Service:
    """Runners, storage and fan-out of every auction this node serves."""

    def __init__(
        self,
        store: EventStore,
        appender: EventAppender,
        hub: Publisher,
        *,
        clock: Callable[[], int] = server_time_us,
        max_batch: int = 256,
        queue_limit: int = 10_000,
        idle_s: float | None = None,
        max_backlog: int | None = None,
        observers: list[Callable[[str, list[Event]], None]] | None = None,
        snapshot_every: int = 0,
        outcome_wait_s: float = OUTCOME_WAIT_S,
        owners: Owners | None = None,
        handover_s: float = 8.0,
    ) -> None:
        self.store = store
        #: The cluster's leases and forwarding (``None``: one node runs every auction).
        self.owners = owners
        #: Auctions another node owns, by id (only with ``owners``).
        self.remotes: dict[str, Remote] = {}
        #: Seconds a command waits for an auction's lease to settle on some node.
        self.handover_s = handover_s
        self.appender = appender
        self.hub = hub
        self.clock = clock
        self.runners: dict[str, AuctionRunner] = {}
        self._loading: dict[str, asyncio.Future[AuctionRunner | None]] = {}
        self._max_batch = max_batch
        self._queue_limit = queue_limit
        self._background: set[asyncio.Task[None]] = set()
        self._status_lock = asyncio.Lock()
        self.closing = False
        self._idle_s = idle_s
        self._max_backlog = max_backlog
        #: Seconds the callers of a failed commit wait for its fate (``api.auctions.runner``).
        self.outcome_wait_s = outcome_wait_s
        # What tells an uncertain commit's fate (the PostgreSQL appenders have it).
        self._settled = getattr(appender, "settled", None)
        self._sweeper: asyncio.Task[None] | None = None
        #: Runners dropped from memory because their ended auction sat idle.
        self.evicted = 0
        #: Called as ``observer(auction_id, events)`` after each commit, once the hub
        #: has published them (the audit trail issues checkpoints here). Must not await
        #: and must not raise: they run in the runner's task.
        self.observers = observers if observers is not None else []
        #: Committed events between snapshots of an auction (0: none are taken).
        self.snapshot_every = max(0, snapshot_every)
        # auction -> seq of its latest snapshot (stored or being stored).
        self._snapshot_seq: dict[str, int] = {}
        self._saving: set[str] = set()
        #: Snapshots stored, and auctions loaded from one (figures for tests and metrics).
        self.snapshots_saved = 0
        self.restored_from_snapshot = 0

    # ------------------------------------------------------------------ lifecycle

    async def recover(self) -> int:
        """Load every auction that is not ended; return how many. O(total events)."""
        records = await self.store.list_auctions({AuctionStatus.SCHEDULED, AuctionStatus.RUNNING})
        if self.owners is not None:
            # The leases spread them over the nodes (api.cluster.ownership takes its share).
            return 0
        for record in records:
            await self.runner(record.id)
        return len(records)

    def start_sweeper(self) -> None:
        """Run :meth:`evict_idle` in the background, every ``idle_s / 2`` seconds (at
        most 30). A no-op without ``idle_s``. Call once, after :meth:`recover`."""
        if self._idle_s is None or self._sweeper is not None:
            return
        every = min(max(self._idle_s / 2, 0.01), 30.0)

        async def sweep() -> None:
            while True:
                await asyncio.sleep(every)
                try:
                    await self.evict_idle()
                except Exception:
                    log.exception("evicting idle runners failed")

        self._sweeper = asyncio.create_task(sweep(), name="gavel-runner-sweeper")

    async def evict_idle(self, now: float | None = None) -> list[str]:
        """Stop and forget the runners of ended auctions idle for ``idle_s`` (``now``:
        ``time.monotonic()``); their hub channels too when nobody is subscribed.

        The auction stays in the log: the next read or command loads it again (one
        replay). Choosing and removing happen without awaiting, so no command can reach
        a runner being evicted (a runner with a queued or running command, or used
        within ``idle_s``, is kept). Returns the evicted auction ids. O(runners).
        """
        if self._idle_s is None:
            return []
        now = time.monotonic() if now is None else now
        evicted: list[AuctionRunner] = []
        for auction_id, runner in list(self.runners.items()):
            if not runner.evictable(now, self._idle_s):
                continue
            del self.runners[auction_id]
            self._snapshot_seq.pop(auction_id, None)
            self.hub.release(auction_id)
            evicted.append(runner)
        for auction_id, remote in list(self.remotes.items()):
            if now - remote.last_used >= self._idle_s:
                del self.remotes[auction_id]
                self.hub.release(auction_id)
        # Counted as they leave memory, before their tasks wind down: /metrics never
        # shows a runner gone and not counted.
        self.evicted += len(evicted)
        await asyncio.gather(*(runner.stop() for runner in evicted))
        if self.owners is not None:
            for runner in evicted:
                await self.owners.release(runner.auction_id)
        if evicted:
            log.info("evicted idle runners", extra={"auctions": len(evicted)})
        return [runner.auction_id for runner in evicted]

    async def close(self) -> None:
        """Stop taking commands and finish every queued one."""
        self.closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await asyncio.gather(*(runner.stop() for runner in self.runners.values()))
        for task in list(self._background):
            with contextlib.suppress(Exception):
                await task

    # ------------------------------------------------------------------ commands

    async def create(
        self,
        auction_id: str,
        rules: AuctionRules,
        command_id: str,
        mark: CommandMark | None = None,
    ) -> list[Event]:
        """Create an auction; return its events once durable (a rejection is not stored).

        ``mark`` is committed with the events (an idempotent request's reservation).
        Raises :class:`AuctionExists` if the id is taken. A failed commit is answered as
        the runner answers one (:func:`~api.auctions.runner.learn_fate`): created after all,
        :class:`~api.auctions.runner.StorageUnavailable` if certainly not, or
        :class:`~api.auctions.runner.OutcomeUnknown`.
        """
        self._check_backlog()
        if (
            auction_id in self.runners
            or auction_id in self.remotes
            or await self.store.last_seq(auction_id)
        ):
            raise AuctionExists(auction_id)
        auction = Auction()
        at = self.clock()
        events = auction.handle(CreateAuction(command_id, at, rules))
        if isinstance(events[0], CommandRejected):
            return events
        epoch = None
        if self.owners is not None:
            epoch = await self.owners.claim(auction_id)
            if epoch is None:
                raise AuctionExists(auction_id)  # another node is creating it
        stored = self._stored(auction_id, events)
        try:
            marks = (
                None
                if mark is None
                else [replace(mark, first_seq=events[0].seq, last_seq=events[-1].seq)]
            )
            if epoch is not None:
                await self.appender.append(auction_id, stored, marks or (), epoch=epoch)
            elif marks is None:
                await self.appender.append(auction_id, stored)
            else:
                await self.appender.append(auction_id, stored, marks)
        except SeqConflict:
            await self._unclaim(auction_id)
            raise AuctionExists(auction_id) from None
        except Exception as error:  # noqa: BLE001 - learn what was stored
            try:
                await self._created_after_all(auction_id, stored, error)
            except BaseException:
                await self._unclaim(auction_id)
                raise
        record = AuctionRecord(
            auction_id,
            format_name(rules),
            AuctionStatus.SCHEDULED,
            at,
            encode(rules).decode(),
        )
        await self.store.upsert_auction(record)
        self.hub.publish(auction_id, events)
        if auction_id not in self.runners:
            # A request may have loaded the auction from its log while we awaited the
            # store; a second runner would fork the auction.
            self._start(auction_id, auction, epoch)
        return events

    async def _unclaim(self, auction_id: str) -> None:
        """Give up the lease a create took for an auction that was not created."""
        if self.owners is not None and auction_id not in self.runners:
            await self.owners.release(auction_id)

    async def _created_after_all(
        self, auction_id: str, stored: list[StoredEvent], error: Exception
    ) -> None:
        """Return if the failed append of a new auction's ``stored`` events was
        committed after all; else raise what its caller must hear."""
        fate = await learn_fate(
            error,
            stored,
            read=lambda after: self.store.read(auction_id, after),
            settled=self._settled,
            wait_s=self.outcome_wait_s,
            giving_up=lambda: self.closing,
        )
        if fate.verdict == "absent":
            if fate.rows:
                raise AuctionExists(auction_id) from error  # someone else's events
            raise StorageUnavailable(f"not created: {error}") from error
        if fate.verdict == "unknown":
            raise OutcomeUnknown(
                f"storage did not come back within {self.outcome_wait_s:g} s to tell "
                f"whether the auction was created: {error}"
            ) from error

    async def submit(
        self, auction_id: str, make: CommandFactory, mark: CommandMark | None = None
    ) -> list[Event]:
        """Run a command on ``auction_id``; return its events once durable.

        ``mark`` is committed with the events (an idempotent request's reservation).
        Raises :class:`UnknownAuction` and the runner's errors.
        """
        self._check_backlog()
        if self.owners is not None:
            return await self._submit_anywhere(auction_id, make, mark)
        runner = self.runners.get(auction_id) or await self.runner(auction_id)
        if runner is None:
            raise UnknownAuction(auction_id)
        try:
            return await runner.submit(make, mark)
        except RunnerStopped:
            # Evicted between lookup and submit (the command was not queued): load anew.
            if self.closing or self.runners.get(auction_id) is runner:
                raise
            runner = await self.runner(auction_id)
            if runner is None:
                raise UnknownAuction(auction_id) from None
            return await runner.submit(make, mark)

    async def _submit_anywhere(
        self, auction_id: str, make: CommandFactory, mark: CommandMark | None
    ) -> list[Event]:
        """:meth:`submit` in a cluster: here if this node owns the auction, else at its
        owner; again wherever the lease is now after a :class:`NotOwner` (the command ran
        nowhere), for up to :attr:`handover_s`. O(1) tries while the lease is settled."""
        deadline = time.monotonic() + self.handover_s
        pause = 0.05
        while True:
            runs = self.runners.get(auction_id) or self.remotes.get(auction_id)
            if runs is None:
                runs = await self.runner(auction_id)
            if runs is None:
                raise UnknownAuction(auction_id)
            try:
                return await runs.submit(make, mark)
            except (NotOwner, RunnerStopped) as error:
                if self.closing:
                    raise RunnerStopped(auction_id) from error
                if self.remotes.get(auction_id) is runs:
                    del self.remotes[auction_id]
                if time.monotonic() + pause > deadline:
                    raise StorageUnavailable(
                        f"not committed: no node took the auction's lease within "
                        f"{self.handover_s:g} s ({error})"
                    ) from error
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.5)

    def _check_backlog(self) -> None:
        """Raise :class:`WriterBacklogged` when the writer holds ``max_backlog`` events."""
        if self._max_backlog is not None:
            backlog = getattr(self.appender, "pending_events", 0)
            if backlog >= self._max_backlog:
                raise WriterBacklogged(f"{backlog} events wait for the writer")

    async def recorded(self, auction_id: str, first_seq: int, last_seq: int) -> list[Event]:
        """The committed events ``first_seq..last_seq`` of ``auction_id``: what an
        idempotent command caused before its process died (:class:`CommandMark`).

        The auction's record is written if that process died before writing it, and
        the auction is loaded, so it is served as if its command had answered.
        O(last_seq - first_seq + log n).
        """
        rows = await self.store.read(auction_id, first_seq - 1, last_seq - first_seq + 1)
        events = [decode_event(row.payload) for row in rows]
        created = events[0] if events else None
        if isinstance(created, AuctionCreated) and await self.store.get_auction(auction_id) is None:
            record = AuctionRecord(
                auction_id,
                format_name(created.rules),
                AuctionStatus.SCHEDULED,
                created.at,
                encode(created.rules).decode(),
            )
            await self.store.upsert_auction(record)
        await self.runner(auction_id)
        return events

    async def runner(self, auction_id: str) -> AuctionRunner | Remote | None:
        """The runner of ``auction_id``, loading the auction from its log on first use;
        in a cluster, a :class:`Remote` when another node owns it (its channel primed
        here). ``None``: no such auction.

        Raises :class:`RunnerStopped` once :meth:`close` began: no auction is loaded then.
        """
        runner = self.runners.get(auction_id)
        if runner is not None:
            runner.last_used = time.monotonic()
            return runner
        remote = self.remotes.get(auction_id)
        if remote is not None:
            remote.last_used = time.monotonic()
            return remote
        if self.closing:
            raise RunnerStopped(auction_id)
        if self.owners is not None:
            return await self._owned_or_remote(auction_id)
        pending = self._loading.get(auction_id)
        if pending is not None:
            return await pending
        future: asyncio.Future[AuctionRunner | None] = asyncio.get_running_loop().create_future()
        self._loading[auction_id] = future
        try:
            auction = await self.load(auction_id)
            runner = self.runners.get(auction_id)  # create() may have started it meanwhile
            if runner is None and auction is not None:
                runner = self._start(auction_id, auction)
            future.set_result(runner)
            return runner
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # mark retrieved: the caller re-raises it
            raise
        finally:
            del self._loading[auction_id]

    async def _owned_or_remote(self, auction_id: str) -> AuctionRunner | Remote | None:
        """In a cluster: run ``auction_id`` here under this node's lease when it can be
        had, else follow it as a :class:`Remote`. ``None`` if it has no events."""
        assert self.owners is not None
        pending = self._loading.get(auction_id)
        if pending is not None:
            found = await pending
            return found or self.remotes.get(auction_id)
        if not await self.store.last_seq(auction_id):
            return None
        epoch = await self.owners.claim(auction_id)
        if epoch is None:
            if not await self.owners.follow(auction_id):
                return None
            remote = self.remotes.get(auction_id)
            if remote is None and auction_id not in self.runners:
                remote = self.remotes[auction_id] = Remote(auction_id, self.owners)
            return remote or self.runners.get(auction_id)
        return await self.take(auction_id, epoch)

    async def take(self, auction_id: str, epoch: int) -> AuctionRunner | None:
        """Run ``auction_id`` here under the lease of ``epoch`` this node just took:
        rebuilt from its latest snapshot and the log (every commit of the previous owner
        is there: its appends were fenced by the lease), timers re-armed from server
        time. Returns the runner (the running one if there is one). O(replay)."""
        self.remotes.pop(auction_id, None)
        runner = self.runners.get(auction_id)
        if runner is not None:
            runner.epoch = epoch
            return runner
        pending = self._loading.get(auction_id)
        if pending is not None:
            return await pending
        future: asyncio.Future[AuctionRunner | None] = asyncio.get_running_loop().create_future()
        self._loading[auction_id] = future
        try:
            auction = await self.load(auction_id)
            runner = self.runners.get(auction_id)
            if runner is None and auction is not None:
                runner = self._start(auction_id, auction, epoch)
            future.set_result(runner)
            return runner
        except BaseException as error:
            future.set_exception(error)
            future.exception()
            raise
        finally:
            del self._loading[auction_id]

    async def hand_off(self, auction_id: str) -> None:
        """Stop running ``auction_id`` here (this node drains, or gives its share up):
        its queued commands finish first, then the lease is released so another node
        takes it at once. Commands arriving meanwhile follow the lease."""
        runner = self.runners.pop(auction_id, None)
        if runner is None:
            return
        self._snapshot_seq.pop(auction_id, None)
        await runner.stop()
        if self.owners is not None:
            await self.owners.release(auction_id)

    def disown(self, auction_id: str) -> None:
        """This node's lease on ``auction_id`` is gone (not renewed in time, taken over):
        drop its runner at once; commands queued there are answered :class:`NotOwner`
        by the fenced appends or run again at the new owner."""
        runner = self.runners.pop(auction_id, None)
        if runner is not None:
            self._snapshot_seq.pop(auction_id, None)
            runner.abandon("this node's lease on the auction was not renewed in time")
            self._in_background(runner.stop())

    async def load(self, auction_id: str) -> Auction | None:
        """Rebuild ``auction_id`` from its latest snapshot and the events after it, or
        from its whole log (``None`` if it has no events). O(bidders + resting bids +
        events after the snapshot)."""
        channel = self.hub.channel(auction_id)
        snapshot = await self._restorable(auction_id)
        if snapshot is not None:
            payload, auction = snapshot
            seq = auction.seq
            start = channel.head if 0 < channel.head < seq else seq
            rows = await self.store.read(auction_id, start)
            events = [decode_event(row.payload) for row in rows]
            try:
                for event in events:
                    if event.seq > seq:
                        auction.apply(event)
            except Exception as error:  # noqa: BLE001 - CorruptLog and kin: a cache gone bad
                log.warning(
                    "the log does not follow the snapshot, replaying the whole log",
                    extra={"auction": auction_id, "seq": seq, "error": str(error)},
                )
            else:
                self.restored_from_snapshot += 1
                if channel.head == 0:
                    channel.restore(restore_snapshot(payload))
                self._catch_up(channel, events)
                return auction
        events = [decode_event(row.payload) for row in await self.store.read(auction_id)]
        if not events:
            return None
        self._catch_up(channel, events)
        return replay(events)

    @staticmethod
    def _catch_up(channel: CommittedChannel, events: list[Event]) -> None:
        if events and channel.head < events[-1].seq:
            # Published, not just observed: when a runner reloads after a failed append
            # whose events were committed after all, live subscribers must get them too
            # (on a first load nobody is subscribed yet, so this only folds them).
            channel.publish([event for event in events if event.seq > channel.head])

    async def _restorable(self, auction_id: str) -> tuple[bytes, Auction] | None:
        """The bytes of ``auction_id``'s latest snapshot and the auction they restore,
        or ``None`` (none, snapshots off, or one that does not restore to an auction
        still going on)."""
        if not self.snapshot_every:
            return None
        snapshot = await self.store.load_snapshot(auction_id)
        if snapshot is None:
            return None
        try:
            auction = restore_snapshot(snapshot.payload)
        except MalformedRecord as error:
            log.warning(
                "snapshot ignored, replaying the whole log",
                extra={"auction": auction_id, "seq": snapshot.seq, "error": str(error)},
            )
            return None
        if auction.seq != snapshot.seq or auction.phase is Phase.ENDED:
            return None
        self._snapshot_seq[auction_id] = max(self._snapshot_seq.get(auction_id, 0), auction.seq)
        return snapshot.payload, auction

    async def history(self, auction_id: str, after: int, limit: int | None = None) -> list[Event]:
        """Committed events of ``auction_id`` with ``seq > after``, in order (at most
        ``limit``)."""
        rows = await self.store.read(auction_id, after, limit)
        return [decode_event(row.payload) for row in rows]

    # ------------------------------------------------------------------ internals

    def _start(self, auction_id: str, auction: Auction, epoch: int | None = None) -> AuctionRunner:
        async def reload() -> Auction:
            rebuilt = await self.load(auction_id)
            assert rebuilt is not None
            return rebuilt

        def lost() -> None:
            if self.runners.get(auction_id) is runner:
                del self.runners[auction_id]
                self._snapshot_seq.pop(auction_id, None)
            if self.owners is not None:
                self.owners.lost(auction_id)

        runner = AuctionRunner(
            auction_id,
            auction,
            self.appender,
            reload=reload,
            read=lambda after: self.store.read(auction_id, after),
            publish=self._publish,
            clock=self.clock,
            max_batch=self._max_batch,
            queue_limit=self._queue_limit,
            settled=self._settled,
            outcome_wait_s=self.outcome_wait_s,
            epoch=epoch,
            on_lost=lost,
        )
        self.runners[auction_id] = runner
        runner.start()
        return runner

    def _publish(self, auction_id: str, events: list[Event]) -> None:
        self.hub.publish(auction_id, events)
        for observer in self.observers:
            observer(auction_id, events)
        if self.snapshot_every:
            self._maybe_snapshot(auction_id)
        status = None
        for event in events:
            kind = type(event)
            if kind is AuctionStarted or kind is AuctionEnded:
                status = AuctionStatus.ENDED if kind is AuctionEnded else AuctionStatus.RUNNING
        if status is not None:
            self._in_background(self._set_status(auction_id, status))

    async def _set_status(self, auction_id: str, status: AuctionStatus) -> None:
        # The auctions row is a projection; updates run one at a time, in publish order
        # (asyncio.Lock is FIFO), and never move an ended auction back.
        async with self._status_lock:
            await self._write_status(auction_id, status)

    async def _write_status(self, auction_id: str, status: AuctionStatus) -> None:
        record = await self.store.get_auction(auction_id)
        if record is not None and record.status is not AuctionStatus.ENDED:
            await self.store.upsert_auction(
                AuctionRecord(record.id, record.format, status, record.created_at, record.rules)
            )

    def _maybe_snapshot(self, auction_id: str) -> None:
        # The channel's auction is folded from committed events only: exactly what a
        # snapshot may hold. Ended auctions are never loaded for bidding again.
        committed = self.hub.channel(auction_id).committed
        seq = committed.seq
        if (
            seq - self._snapshot_seq.get(auction_id, 0) < self.snapshot_every
            or auction_id in self._saving
            or committed.phase is Phase.ENDED
        ):
            return
        self._saving.add(auction_id)
        snapshot = Snapshot(auction_id, seq, take_snapshot(committed))
        self._in_background(self._save_snapshot(snapshot))

    async def _save_snapshot(self, snapshot: Snapshot) -> None:
        try:
            await self.store.save_snapshot(snapshot)
        except Exception as error:  # noqa: BLE001 - a cache: the next commit tries again
            log.warning(
                "snapshot not saved",
                extra={"auction": snapshot.auction_id, "seq": snapshot.seq, "error": repr(error)},
            )
        else:
            seq = max(self._snapshot_seq.get(snapshot.auction_id, 0), snapshot.seq)
            self._snapshot_seq[snapshot.auction_id] = seq
            self.snapshots_saved += 1
        finally:
            self._saving.discard(snapshot.auction_id)

    def _in_background(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @staticmethod
    def _stored(auction_id: str, events: list[Event]) -> list[StoredEvent]:
        return [
            StoredEvent(auction_id, event.seq, type(event).__name__, event.at, encode_event(event))
            for event in events
        ]

    def phase(self, auction_id: str) -> Phase | None:
        """The live phase of a loaded auction (``None`` if not loaded)."""
        runner = self.runners.get(auction_id)
        return None if runner is None else runner.auction.phase
