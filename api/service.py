"""The live service's core, free of HTTP: runners, storage, fan-out and recovery.

``Service`` owns one :class:`~api.runner.AuctionRunner` per loaded auction (at most one:
loading is deduplicated), the shared appender (the group-commit writer), the store and
the hub. Sanic routes and websocket loops call it; nothing else touches an auction.

Call order: ``await recover()`` once at start-up (rebuilds every auction that is not
ended by replaying its log; their timers re-arm from server time, so a close that passed
while the server was down is applied at its own time by the first tick), then
``create``/``submit``/``history`` from any task, then ``await close()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from api.hub import Hub
from api.runner import AuctionRunner, CommandFactory, server_time_us
from api.storage.errors import SeqConflict
from api.storage.ports import AuctionRecord, AuctionStatus, EventAppender, EventStore, StoredEvent
from engine import (
    Auction,
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

__all__ = ["AuctionExists", "Service", "ServiceError", "UnknownAuction"]

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


class Service:
    """Runners, storage and fan-out of every auction this node serves."""

    def __init__(
        self,
        store: EventStore,
        appender: EventAppender,
        hub: Hub,
        *,
        clock: Callable[[], int] = server_time_us,
        max_batch: int = 256,
        queue_limit: int = 10_000,
    ) -> None:
        self.store = store
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

    # ------------------------------------------------------------------ lifecycle

    async def recover(self) -> int:
        """Load every auction that is not ended; return how many. O(total events)."""
        records = await self.store.list_auctions({AuctionStatus.SCHEDULED, AuctionStatus.RUNNING})
        for record in records:
            await self.runner(record.id)
        return len(records)

    async def close(self) -> None:
        """Stop taking commands and finish every queued one."""
        self.closing = True
        await asyncio.gather(*(runner.stop() for runner in self.runners.values()))
        for task in list(self._background):
            with contextlib.suppress(Exception):
                await task

    # ------------------------------------------------------------------ commands

    async def create(self, auction_id: str, rules: AuctionRules, command_id: str) -> list[Event]:
        """Create an auction; return its events once durable (a rejection is not stored).

        Raises :class:`AuctionExists` if the id is taken.
        """
        if auction_id in self.runners or await self.store.last_seq(auction_id):
            raise AuctionExists(auction_id)
        auction = Auction()
        at = self.clock()
        events = auction.handle(CreateAuction(command_id, at, rules))
        if isinstance(events[0], CommandRejected):
            return events
        try:
            await self.appender.append(auction_id, self._stored(auction_id, events))
        except SeqConflict:
            raise AuctionExists(auction_id) from None
        record = AuctionRecord(
            auction_id,
            format_name(rules),
            AuctionStatus.SCHEDULED,
            at,
            encode(rules).decode(),
        )
        await self.store.upsert_auction(record)
        self.hub.channel(auction_id).publish(events)
        if auction_id not in self.runners:
            # A request may have loaded the auction from its log while we awaited the
            # store; a second runner would fork the auction.
            self._start(auction_id, auction)
        return events

    async def submit(self, auction_id: str, make: CommandFactory) -> list[Event]:
        """Run a command on ``auction_id``; return its events once durable.

        Raises :class:`UnknownAuction` and the runner's errors.
        """
        runner = self.runners.get(auction_id) or await self.runner(auction_id)
        if runner is None:
            raise UnknownAuction(auction_id)
        return await runner.submit(make)

    async def runner(self, auction_id: str) -> AuctionRunner | None:
        """The runner of ``auction_id``, loading the auction from its log on first use."""
        runner = self.runners.get(auction_id)
        if runner is not None:
            return runner
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

    async def load(self, auction_id: str) -> Auction | None:
        """Rebuild ``auction_id`` from its stored events (``None`` if it has none)."""
        events = [decode_event(row.payload) for row in await self.store.read(auction_id)]
        if not events:
            return None
        channel = self.hub.channel(auction_id)
        if channel.head < events[-1].seq:
            # Published, not just observed: when a runner reloads after a failed append
            # whose events were committed after all, live subscribers must get them too
            # (on a first load nobody is subscribed yet, so this only folds them).
            channel.publish([event for event in events if event.seq > channel.head])
        return replay(events)

    async def history(self, auction_id: str, after: int) -> list[Event]:
        """Committed events of ``auction_id`` with ``seq > after``, in order."""
        return [decode_event(row.payload) for row in await self.store.read(auction_id, after)]

    # ------------------------------------------------------------------ internals

    def _start(self, auction_id: str, auction: Auction) -> AuctionRunner:
        async def reload() -> Auction:
            rebuilt = await self.load(auction_id)
            assert rebuilt is not None
            return rebuilt

        runner = AuctionRunner(
            auction_id,
            auction,
            self.appender,
            reload=reload,
            publish=self._publish,
            clock=self.clock,
            max_batch=self._max_batch,
            queue_limit=self._queue_limit,
        )
        self.runners[auction_id] = runner
        runner.start()
        return runner

    def _publish(self, auction_id: str, events: list[Event]) -> None:
        self.hub.publish(auction_id, events)
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

    def _in_background(self, coroutine: object) -> None:
        task = asyncio.ensure_future(coroutine)  # type: ignore[call-overload]
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
