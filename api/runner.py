"""One task per live auction: the only code that ever touches its ``engine.Auction``.

Commands reach the runner through a bounded queue. The runner takes every command that
is waiting (up to ``max_batch``), stamps each with the server time as it handles it,
runs it through the engine, hands *all* the resulting events to the appender in one
call, and only when that call returns (the events are committed) resolves each
caller's future with the events its command caused and publishes them to watchers.
So an acknowledgement never precedes durability, watchers never see an event that could
be lost, and one commit carries many commands (the writer then batches many auctions'
appends into one transaction as well).

While no command waits, the runner sleeps until ``auction.next_deadline()`` and then
handles a ``Tick``; the engine applies each deadline at its own time, so a late timer
never changes an outcome.

If an append fails the in-memory auction may be ahead of the log, and the batch may
have been committed after all (a connection lost during COMMIT): the runner reads the
log after the last seq it published and lets it decide (:meth:`AuctionRunner._recover`).
Each caller gets its events if the log holds exactly this batch, otherwise
:class:`StorageUnavailable` saying "not committed" or, when the log cannot be read or
does not reach the batch yet, "outcome unknown". Whatever the log holds beyond the
published head is published, and the auction is rebuilt from the log before the next
command. Call order: ``start()``, any number of ``submit()`` from any task, then
``await stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from api.storage.errors import ReservationLost, SeqError, StorageMisuse, WriterClosed
from api.storage.ports import CommandMark, EventAppender, StoredEvent
from engine import Auction, Command, Event, Phase, Tick
from engine.codec import decode_event, encode_event

#: Append errors after which storage guarantees nothing of the batch was stored.
_NOTHING_STORED = (SeqError, StorageMisuse, WriterClosed, ReservationLost)

__all__ = [
    "AuctionRunner",
    "RunnerError",
    "RunnerOverloaded",
    "RunnerStopped",
    "StorageUnavailable",
    "WriterBacklogged",
    "server_time_us",
]

log = logging.getLogger("gavel.runner")

#: Builds the command once the runner knows the server time (microseconds).
CommandFactory = Callable[[int], Command]


class RunnerError(Exception):
    """Root of the runner's errors.

    ::

        RunnerError
        ├── RunnerOverloaded     the auction's queue is full (answer 503, retry later)
        │   └── WriterBacklogged the shared writer holds too many uncommitted events
        ├── RunnerStopped        the server is shutting down (answer 503)
        └── StorageUnavailable   the commit failed; nothing was acknowledged
    """


class RunnerOverloaded(RunnerError):
    """The auction's command queue is full."""


class WriterBacklogged(RunnerOverloaded):
    """The group-commit writer is too far behind: new commands are refused at once
    rather than queued behind a backlog that would time them out anyway."""


class RunnerStopped(RunnerError):
    """The runner no longer takes commands."""


class StorageUnavailable(RunnerError):
    """The events of this command could not be committed; it has no effect."""


def server_time_us() -> int:
    """The server's wall clock in microseconds: the only clock that counts."""
    return time.time_ns() // 1000


#: A command that waited longer than this in the queue (storage down, say) is answered
#: :class:`RunnerOverloaded` instead of run: its caller has likely given up, and an
#: idempotency reservation is taken over after 60 s (``api.idempotency``), so running
#: it later could run one key's command twice.
MAX_WAIT_S = 10.0


@dataclass(slots=True)
class _Request:
    make: CommandFactory | None  # None: a tick
    future: asyncio.Future[list[Event]] | None
    mark: CommandMark | None = None
    #: ``time.monotonic()`` when it was queued.
    queued_at: float = 0.0


class AuctionRunner:
    """Owns one auction: a queue in, durable events out."""

    def __init__(
        self,
        auction_id: str,
        auction: Auction,
        appender: EventAppender,
        *,
        reload: Callable[[], Awaitable[Auction]],
        read: Callable[[int], Awaitable[list[StoredEvent]]],
        publish: Callable[[str, list[Event]], None],
        clock: Callable[[], int] = server_time_us,
        max_batch: int = 256,
        queue_limit: int = 10_000,
    ) -> None:
        self.auction_id = auction_id
        self.auction = auction
        self._appender = appender
        self._reload = reload
        self._read = read
        self._publish = publish
        self._clock = clock
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Request] = asyncio.Queue(queue_limit)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # Set when the runner gave up (stopping while storage is down): the task ends.
        self._broken = False
        self._last_at = auction.now
        self._busy = False
        #: ``time.monotonic()`` of the last command or read that used this runner.
        self.last_used = time.monotonic()

    @property
    def queue_depth(self) -> int:
        """Commands waiting for the runner."""
        return self._queue.qsize()

    @property
    def done(self) -> bool:
        """True once the task has finished (stopped, or the auction ended and went idle)."""
        return self._task is not None and self._task.done()

    def evictable(self, now: float, idle_s: float) -> bool:
        """Whether the auction has ended and the runner did nothing for ``idle_s``
        seconds (``now`` is ``time.monotonic()``): no queued command, none in hand. O(1).
        """
        return (
            self.auction.phase is Phase.ENDED
            and not self._busy
            and self._queue.empty()
            and now - self.last_used >= idle_s
        )

    def start(self) -> None:
        """Start the task. Call once, inside the running event loop."""
        self._task = asyncio.create_task(self._run(), name=f"gavel-auction-{self.auction_id}")

    async def submit(self, make: CommandFactory, mark: CommandMark | None = None) -> list[Event]:
        """Run one command; return its events once they are committed.

        ``mark`` (an idempotent command's reservation) is committed with the events,
        its seqs filled in. Raises :class:`RunnerOverloaded`, :class:`RunnerStopped` or
        :class:`StorageUnavailable`; in each case the command had no effect.
        """
        if self._stopping:
            raise RunnerStopped(self.auction_id)
        self.last_used = time.monotonic()
        future: asyncio.Future[list[Event]] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Request(make, future, mark, time.monotonic()))
        except asyncio.QueueFull:
            raise RunnerOverloaded(self.auction_id) from None
        return await future

    async def stop(self) -> None:
        """Finish every command already queued, then end the task."""
        self._stopping = True
        if self._task is not None and not self._task.done():
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(_Request(None, None))
            await self._task

    # ------------------------------------------------------------------ the task

    async def _run(self) -> None:
        queue = self._queue
        while True:
            batch = self._drain()
            if not batch:
                if self._stopping:
                    return
                first = await self._wait()
                batch = [first] if first is not None else []
                batch += self._drain()
            self._busy = True
            try:
                await self._process(batch)
            finally:
                self._busy = False
            if self._broken or (self._stopping and queue.empty()):
                return

    def _drain(self) -> list[_Request]:
        queue = self._queue
        batch: list[_Request] = []
        while len(batch) < self._max_batch and not queue.empty():
            batch.append(queue.get_nowait())
        return batch

    async def _wait(self) -> _Request | None:
        """The next request, or ``None`` when the auction's next deadline comes first."""
        due = self.auction.next_deadline()
        if due is None:
            return await self._queue.get()
        delay = max(0.0, (due - self._clock()) / 1e6)
        try:
            return await asyncio.wait_for(self._queue.get(), delay)
        except TimeoutError:
            return None

    async def _process(self, batch: list[_Request]) -> None:
        auction = self.auction
        events: list[Event] = []
        answers: list[tuple[asyncio.Future[list[Event]], list[Event]]] = []
        marks: list[CommandMark] = []
        if not batch:
            # A deadline passed: let the engine apply it.
            events = auction.handle(self._tick())
        stale = time.monotonic() - MAX_WAIT_S
        for request in batch:
            if request.make is None:
                continue
            if request.queued_at < stale:
                if request.future is not None and not request.future.done():
                    request.future.set_exception(
                        RunnerOverloaded(f"waited over {MAX_WAIT_S:.0f} s in the queue; not run")
                    )
                continue
            try:
                caused = auction.handle(request.make(self._now()))
            except Exception as error:  # noqa: BLE001 - a bad request must not stop the auction
                # The engine changes nothing when it raises (EngineMisuse), so the
                # auction goes on; only this caller hears about it.
                if request.future is not None and not request.future.done():
                    request.future.set_exception(error)
                continue
            events += caused
            if request.mark is not None and caused:
                marks.append(
                    replace(request.mark, first_seq=caused[0].seq, last_seq=caused[-1].seq)
                )
            if request.future is not None:
                answers.append((request.future, caused))
        if events:
            stored = [
                StoredEvent(self.auction_id, ev.seq, type(ev).__name__, ev.at, encode_event(ev))
                for ev in events
            ]
            try:
                if marks:
                    await self._appender.append(self.auction_id, stored, marks)
                else:
                    await self._appender.append(self.auction_id, stored)
            except Exception as error:  # noqa: BLE001 - the outcome is not known yet
                log.error(
                    "commit failed, rebuilding from the log",
                    extra={"auction": self.auction_id, "error": repr(error)},
                )
                await self._recover(error, stored, answers)
                return
            self._publish(self.auction_id, events)
        for future, caused in answers:
            if not future.done():
                future.set_result(caused)

    async def _recover(
        self,
        error: Exception,
        stored: list[StoredEvent],
        answers: list[tuple[asyncio.Future[list[Event]], list[Event]]],
    ) -> None:
        """After a failed append of ``stored``: answer its callers from the log, publish
        what the log holds beyond the published head, rebuild the auction.

        Only this runner appends to this auction and an append is all or nothing, so
        the batch is durable exactly when the rows at its seqs are its own bytes.
        """
        head = stored[0].seq - 1  # the last seq committed and published before it
        logged = await self._read_once(head)
        if isinstance(error, _NOTHING_STORED):
            verdict = "absent"
        elif logged is None or len(logged) < len(stored):
            verdict = "unknown"  # unreadable, or not there yet: a late commit may land
        elif [row.payload for row in logged[: len(stored)]] == [row.payload for row in stored]:
            verdict = "durable"
        else:
            verdict = "absent"  # other events hold those seqs
        for future, caused in answers:
            if future.done():
                continue
            if verdict == "durable":
                future.set_result(caused)
            elif verdict == "absent":
                future.set_exception(StorageUnavailable(f"not committed: {error}"))
            else:
                future.set_exception(
                    StorageUnavailable(f"commit outcome unknown, check the log: {error}")
                )
        rebuilt = await self._reload_once() or await self._rebuild()
        if rebuilt is None:
            self._give_up()
            return
        self.auction = rebuilt
        self._last_at = max(self._last_at, rebuilt.now)
        if rebuilt.seq > head:
            # Committed after all (this batch, or one whose answer was lost before):
            # the observers (audit trail, edges' feed, status, snapshots) must see it
            # as they see every commit; the hub has it already and ignores repeats.
            if logged is None or logged[-1].seq < rebuilt.seq:
                logged = await self._read_once(head)
            if logged:
                self._publish(
                    self.auction_id,
                    [decode_event(row.payload) for row in logged if row.seq <= rebuilt.seq],
                )

    async def _read_once(self, after: int) -> list[StoredEvent] | None:
        """The stored rows after ``after``, or ``None`` if the log cannot be read now."""
        try:
            return await self._read(after)
        except Exception as error:  # noqa: BLE001 - storage still down
            log.error("read failed", extra={"auction": self.auction_id, "error": repr(error)})
            return None

    def _give_up(self) -> None:
        """The server stops while the log cannot be read: answer every queued command
        (none ran) and end the task."""
        self._broken = True
        while not self._queue.empty():
            request = self._queue.get_nowait()
            if request.future is not None and not request.future.done():
                request.future.set_exception(
                    StorageUnavailable("storage unavailable while the server stops; not run")
                )

    async def _reload_once(self) -> Auction | None:
        """The auction rebuilt from the log, or ``None`` if the log cannot be read now."""
        try:
            return await self._reload()
        except Exception as error:  # noqa: BLE001 - storage still down
            log.error("reload failed", extra={"auction": self.auction_id, "error": repr(error)})
            return None

    async def _rebuild(self) -> Auction | None:
        """The auction rebuilt from the log, trying every half second until it can be
        read (commands queued meanwhile wait, up to :data:`MAX_WAIT_S`); ``None`` once
        the runner is stopping (shutdown must not wait for storage to come back)."""
        while not self._stopping:
            await asyncio.sleep(0.5)
            rebuilt = await self._reload_once()
            if rebuilt is not None:
                return rebuilt
        return None

    def _now(self) -> int:
        # Never hand the engine a time before one it has seen (the wall clock may step).
        at = self._clock()
        if at < self._last_at:
            at = self._last_at
        self._last_at = at
        return at

    def _tick(self) -> Tick:
        at = self._now()
        return Tick(f"tick-{at}", at)
