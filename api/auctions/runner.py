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

If an append fails, the in-memory auction may be ahead of the log, and the batch may
have been committed after all (a connection lost during COMMIT). A refusal must mean
that nothing changed, so the batch's callers are not answered until its fate is known
for certain (:func:`learn_fate`): the runner waits until the failed transaction can no
longer commit and the log can be read (retrying with back-off while storage is down),
and the log's bytes decide. Each caller then gets its events if the log holds exactly
this batch (published first, once, like any commit), or :class:`StorageUnavailable`
("not committed": certainly not stored) if not. Only when that cannot be learned
within ``outcome_wait_s`` (``GAVEL_OUTCOME_WAIT_S``) do they get
:class:`OutcomeUnknown`, which is *not* a refusal: the command may stand. Either way
the auction is rebuilt from the log, once the log can no longer change under it,
before any further command is decided (:meth:`AuctionRunner._recover`); commands
queued meanwhile wait. Call order: ``start()``, any number of ``submit()`` from any
task, then ``await stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Generic, Literal, Protocol, TypeVar

from api.storage.errors import (
    CommitUncertain,
    LeaseLost,
    ReservationLost,
    SeqError,
    StorageMisuse,
    WriterClosed,
)
from api.storage.listener import Backoff
from api.storage.ports import CommandMark, EventAppender, StoredEvent
from engine import Auction, Command, Event, Phase, Tick
from engine.codec import decode_event, encode_event

#: Append errors after which storage guarantees nothing of the batch was stored.
_NOTHING_STORED = (SeqError, StorageMisuse, WriterClosed, ReservationLost, LeaseLost)

__all__ = [
    "OUTCOME_WAIT_S",
    "AuctionRunner",
    "Fate",
    "LoggedRow",
    "NotOwner",
    "OutcomeUnknown",
    "RunnerError",
    "RunnerOverloaded",
    "RunnerStopped",
    "StorageUnavailable",
    "WriterBacklogged",
    "learn_fate",
    "server_time_us",
]

log = logging.getLogger("gavel.runner")

#: Builds the command once the runner knows the server time (microseconds).
CommandFactory = Callable[[int], Command]

#: Says whether the append that raised a :class:`CommitUncertain` can no longer commit
#: (``settled`` of the PostgreSQL appenders); raises while storage cannot be asked.
Settled = Callable[[CommitUncertain], Awaitable[bool]]


class RunnerError(Exception):
    """Root of the runner's errors.

    ::

        RunnerError
        ├── RunnerOverloaded     the auction's queue is full (answer 503, retry later)
        │   └── WriterBacklogged the shared writer holds too many uncommitted events
        ├── RunnerStopped        the server is shutting down (answer 503)
        ├── StorageUnavailable   the commit failed and nothing was stored (a refusal)
        ├── NotOwner             this node no longer owns the auction (its lease was
        │                        taken over): nothing was stored; run it at the owner
        └── OutcomeUnknown       the commit failed and whether it was stored could
                                 not be learned in time (not a refusal: it may stand)
    """


class RunnerOverloaded(RunnerError):
    """The auction's command queue is full."""


class WriterBacklogged(RunnerOverloaded):
    """The group-commit writer is too far behind: new commands are refused at once
    rather than queued behind a backlog that would time them out anyway."""


class RunnerStopped(RunnerError):
    """The runner no longer takes commands."""


class StorageUnavailable(RunnerError):
    """The events of this command were not committed, for certain; it has no effect."""


class NotOwner(RunnerError):
    """This node does not own the auction (any more): another node took its lease over
    (:class:`~api.storage.errors.LeaseLost` at the append) or none holds it. The command
    was not stored; the service runs it again where the lease is now."""


class OutcomeUnknown(RunnerError):
    """The command ran, its commit failed, and storage did not come back within
    ``outcome_wait_s`` to tell whether it was stored: it may stand or not. Not a
    refusal; the client learns the fate from the log (its ``/me``, the ranking, the
    events) once the service answers again."""


def server_time_us() -> int:
    """The server's wall clock in microseconds: the only clock that counts."""
    return time.time_ns() // 1000


#: A command that waited longer than this in the queue (storage down, say) is answered
#: :class:`RunnerOverloaded` instead of run: its caller has likely given up, and an
#: idempotency reservation is taken over after 60 s (``api.http.idempotency``), so running
#: it later could run one key's command twice.
MAX_WAIT_S = 10.0

#: How long the callers of a failed commit wait for its fate at most, by default
#: (``GAVEL_OUTCOME_WAIT_S``) before they hear :class:`OutcomeUnknown`. Long enough for
#: a PostgreSQL restart or fail-over, short of client and idempotency lease timeouts.
OUTCOME_WAIT_S = 30.0

# Back-off between attempts to learn a fate or rebuild from the log: from the first to
# the last delay, doubling. Short first, so an auction is back within a fraction of a
# second of its storage.
_RETRY_FIRST_S = 0.05
_RETRY_LAST_S = 0.5


class LoggedRow(Protocol):
    """A stored row of an append-only log: an auction's :class:`StoredEvent` or a
    tender's ``StoredTenderEvent`` (:func:`learn_fate` reads either log)."""

    @property
    def seq(self) -> int: ...

    @property
    def payload(self) -> bytes: ...


#: The row type of the log a :func:`learn_fate` call reads.
RowT = TypeVar("RowT", bound=LoggedRow)


@dataclass(frozen=True, slots=True)
class Fate(Generic[RowT]):
    """What became of a failed append, as the log tells it.

    ``verdict``: ``"stored"`` (the log holds exactly its events at its seqs),
    ``"absent"`` (certainly not stored, and it cannot be any more) or ``"unknown"``.
    ``rows``: the log after the append's head as read to decide (``None`` unless read).
    """

    verdict: Literal["stored", "absent", "unknown"]
    rows: list[RowT] | None = None


async def learn_fate(
    error: Exception,
    stored: Sequence[RowT],
    *,
    read: Callable[[int], Awaitable[list[RowT]]],
    settled: Settled | None,
    wait_s: float,
    giving_up: Callable[[], bool] = lambda: False,
) -> Fate[RowT]:
    """The fate of the append of ``stored`` (one stream's events: an auction's, or a
    tender's, :mod:`api.tenders.service`) that raised ``error``.

    * ``error`` says nothing was stored (:class:`SeqError`, :class:`ReservationLost`,
      :class:`WriterClosed`, misuse), or the appender tells uncertain commits apart
      (``settled`` given) and ``error`` is not a :class:`CommitUncertain`: absent, at once.
    * Otherwise, until ``wait_s`` seconds have passed or ``giving_up()`` (the server
      stops): once ``settled(error)`` says its transaction can no longer commit (at
      once for an appender without ``settled``: its appends are atomic with the call),
      the log after the append's head is ``read``; the rows at its seqs decide. Only
      one task appends to a stream (its auction's runner, its tender's lock holder),
      so they are the append's own bytes exactly when it was stored. Storage errors
      meanwhile are retried with back-off.
    * Then, unknown.

    ``read(after)`` returns the stream's rows with ``seq > after``.
    """
    if isinstance(error, _NOTHING_STORED) or (
        settled is not None and not isinstance(error, CommitUncertain)
    ):
        return Fate("absent")
    head = stored[0].seq - 1
    deadline = time.monotonic() + wait_s
    backoff = Backoff(_RETRY_FIRST_S, _RETRY_LAST_S)
    while True:
        try:
            if settled is None or not isinstance(error, CommitUncertain) or await settled(error):
                rows = await read(head)
                mine = [row.payload for row in rows[: len(stored)]]
                ours = mine == [row.payload for row in stored]
                return Fate("stored" if ours else "absent", rows)
        except Exception as failure:  # noqa: BLE001 - storage still down: try again
            log.warning("commit outcome not learned yet", extra={"error": repr(failure)})
        remaining = deadline - time.monotonic()
        if remaining <= 0 or giving_up():
            return Fate("unknown")
        await asyncio.sleep(min(backoff.next(), remaining))


@dataclass(slots=True)
class _Request:
    make: CommandFactory | None  # None: a tick
    future: asyncio.Future[list[Event]] | None
    mark: CommandMark | None = None
    #: ``time.monotonic()`` when it was queued.
    queued_at: float = 0.0
    #: The timer of a command given a queue budget (:meth:`AuctionRunner.submit`'s
    #: ``max_wait_s``); cancelled when the command is taken into a batch.
    expiry: asyncio.TimerHandle | None = None
    #: Set when that budget ran out first: refused, so never run.
    expired: bool = False


def _expire(request: _Request, max_wait_s: float) -> None:
    """``request`` waited its whole budget in the queue: refuse it now (it will be
    skipped when its turn comes), so that its caller hears a certain "not run" while
    it is still listening."""
    future = request.future
    if future is not None and not future.done():
        request.expired = True
        future.set_exception(
            RunnerOverloaded(f"waited over {max_wait_s:g} s in the queue; not run")
        )


class AuctionRunner:
    """Owns one auction: a queue in, durable events out.

    ``reload()`` rebuilds the auction from the log, ``read(after)`` returns its stored
    rows with ``seq > after``, ``publish(auction_id, events)`` hands committed events to
    the watchers. ``settled`` is the appender's, if it raises
    :class:`CommitUncertain` for every failure that may have stored something (then any
    other failure means nothing was stored); see :func:`learn_fate`.
    """

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
        settled: Settled | None = None,
        outcome_wait_s: float = OUTCOME_WAIT_S,
        epoch: int | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.auction_id = auction_id
        #: The lease's epoch every append carries (``None``: one node, no leases): an
        #: append under an epoch that is no longer current is refused by storage.
        self.epoch = epoch
        self._on_lost = on_lost
        #: Set once an append was fenced off: the task ends, every command is refused
        #: with :class:`NotOwner`.
        self.lost = False
        self.auction = auction
        self._appender = appender
        self._reload = reload
        self._read = read
        self._publish = publish
        self._clock = clock
        self._max_batch = max_batch
        self._settled = settled
        self._outcome_wait_s = outcome_wait_s
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

    async def submit(
        self,
        make: CommandFactory,
        mark: CommandMark | None = None,
        *,
        max_wait_s: float | None = None,
    ) -> list[Event]:
        """Run one command; return its events once they are committed.

        ``mark`` (an idempotent command's reservation) is committed with the events,
        its seqs filled in. Raises :class:`RunnerOverloaded`, :class:`RunnerStopped` or
        :class:`StorageUnavailable`, in each case the command had no effect; or
        :class:`OutcomeUnknown`: it may have. After a failed commit the answer may come
        late (up to ``outcome_wait_s``), never wrong.

        ``max_wait_s``: a command still queued after that many seconds is refused with
        :class:`RunnerOverloaded` at that moment (a timer), not when its turn comes, and
        never runs. A command forwarded by another node carries half of that node's
        forward timeout (:mod:`api.cluster.ownership`), so that node hears "not run"
        before it would give up and answer ``outcome_unknown``. Without it, a command
        waits up to :data:`MAX_WAIT_S` and is refused when its turn comes.
        """
        if self.lost:
            raise NotOwner(self.auction_id)
        if self._stopping:
            raise RunnerStopped(self.auction_id)
        self.last_used = time.monotonic()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Event]] = loop.create_future()
        request = _Request(make, future, mark, time.monotonic())
        try:
            self._queue.put_nowait(request)
        except asyncio.QueueFull:
            raise RunnerOverloaded(self.auction_id) from None
        if max_wait_s is not None:
            request.expiry = loop.call_later(max_wait_s, _expire, request, max_wait_s)
        return await future

    def abandon(self, reason: str) -> None:
        """This node's lease is gone: refuse every queued command with
        :class:`NotOwner` (none ran) and end the task after the batch in hand (whose
        append, if the lease was taken over, is fenced off too). O(queued)."""
        self.lost = True
        refusal = NotOwner(f"{self.auction_id}: {reason}")
        while not self._queue.empty():
            request = self._queue.get_nowait()
            if request.future is not None and not request.future.done():
                request.future.set_exception(refusal)
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(_Request(None, None))

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
            if self._broken or self.lost or (self._stopping and queue.empty()):
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
            if request.expiry is not None:
                request.expiry.cancel()  # taken: the rest of its life is the commit's
            if request.expired:
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
                if self.epoch is not None:
                    await self._appender.append(self.auction_id, stored, marks, epoch=self.epoch)
                elif marks:
                    await self._appender.append(self.auction_id, stored, marks)
                else:
                    await self._appender.append(self.auction_id, stored)
            except LeaseLost as error:
                self._fenced(error, answers)
                return
            except Exception as error:  # noqa: BLE001 - the outcome is not known yet
                log.error(
                    "commit failed, rebuilding from the log",
                    extra={"auction": self.auction_id, "error": repr(error)},
                )
                await self._recover(error, stored, answers)
                return
            self._publish_committed(events)
        for future, caused in answers:
            if not future.done():
                future.set_result(caused)

    async def _recover(
        self,
        error: Exception,
        stored: list[StoredEvent],
        answers: list[tuple[asyncio.Future[list[Event]], list[Event]]],
    ) -> None:
        """After a failed append of ``stored``: learn its fate (:func:`learn_fate`,
        waiting up to ``outcome_wait_s``), publish what the log holds beyond the
        published head, answer the batch's callers for certain (or
        :class:`OutcomeUnknown`), then rebuild the auction from the log before anything
        else is decided."""
        head = stored[0].seq - 1  # the last seq committed and published before it
        began = time.monotonic()
        fate = await learn_fate(
            error,
            stored,
            read=self._read,
            settled=self._settled,
            wait_s=self._outcome_wait_s,
            giving_up=lambda: self._stopping,
        )
        log.warning(
            "commit outcome learned",
            extra={
                "auction": self.auction_id,
                "fate": fate.verdict,
                "failure": type(error).__name__,
                "commands": len(answers),
                "waited_s": round(time.monotonic() - began, 3),
            },
        )
        published = head
        if fate.rows:
            # Committed facts (this batch, or a late commit of an earlier one whose
            # answer was lost), published before any answer, as on the normal path: an
            # ack never precedes its event, and observers see each commit once.
            self._publish_committed([decode_event(row.payload) for row in fate.rows])
            published = fate.rows[-1].seq
        for future, caused in answers:
            if future.done():
                continue
            if fate.verdict == "stored":
                future.set_result(caused)
            elif fate.verdict == "absent":
                future.set_exception(StorageUnavailable(f"not committed: {error}"))
            else:
                future.set_exception(
                    OutcomeUnknown(
                        f"storage did not come back within {self._outcome_wait_s:g} s to "
                        f"tell whether it was recorded: {error}"
                    )
                )
        # An unknown fate may still turn into a commit: rebuild only once the failed
        # transaction can no longer commit, so memory and log never part again.
        pending = error if fate.verdict == "unknown" else None
        rebuilt = await self._rebuild(pending)
        if rebuilt is None:
            self._give_up()
            return
        self.auction = rebuilt
        self._last_at = max(self._last_at, rebuilt.now)
        if rebuilt.seq > published:
            # Committed after all, learned only now (an unknown fate that was a commit):
            # the observers (audit trail, edges' feed, status, snapshots) must see it
            # as they see every commit; the hub has it already and ignores repeats.
            rows = await self._read_once(published)
            if rows:
                self._publish_committed(
                    [decode_event(row.payload) for row in rows if row.seq <= rebuilt.seq]
                )

    def _fenced(
        self, error: LeaseLost, answers: list[tuple[asyncio.Future[list[Event]], list[Event]]]
    ) -> None:
        """Another node took the lease over: nothing of the batch was stored (the
        append was refused in its transaction). Refuse the batch and everything queued
        with :class:`NotOwner` (none of it ran; the service runs it at the new owner),
        tell the service, and end the task. The auction in memory is dropped with it."""
        log.warning(
            "lease lost: another node owns the auction now",
            extra={"auction": self.auction_id, "epoch": self.epoch, "error": str(error)},
        )
        self.lost = True
        refusal = NotOwner(f"{self.auction_id}: the lease moved to another node ({error})")
        for future, _ in answers:
            if not future.done():
                future.set_exception(refusal)
        while not self._queue.empty():
            request = self._queue.get_nowait()
            if request.future is not None and not request.future.done():
                request.future.set_exception(refusal)
        if self._on_lost is not None:
            self._on_lost()

    def _publish_committed(self, events: list[Event]) -> None:
        """Hand committed ``events`` to ``publish``; never raises. It runs between a
        commit and its answers, so a failure there (an observer's bug) must neither leave
        the committed commands unanswered nor end the auction's task: it is logged."""
        try:
            self._publish(self.auction_id, events)
        except Exception:  # noqa: BLE001 - see above
            log.exception(
                "publishing committed events failed",
                extra={"auction": self.auction_id, "seqs": [events[0].seq, events[-1].seq]},
            )

    async def _read_once(self, after: int) -> list[StoredEvent] | None:
        """The stored rows after ``after``, or ``None`` if the log cannot be read now."""
        try:
            return await self._read(after)
        except Exception as error:  # noqa: BLE001 - storage down again
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

    async def _rebuild(self, pending: Exception | None) -> Auction | None:
        """The auction rebuilt from the log, trying with back-off until it can be read
        and, if ``pending`` is a :class:`CommitUncertain` whose fate is unknown, until
        its transaction can no longer commit (commands queued meanwhile wait, up to
        :data:`MAX_WAIT_S`). ``None`` once the runner is stopping (shutdown must not
        wait for storage to come back)."""
        backoff = Backoff(_RETRY_FIRST_S, _RETRY_LAST_S)
        while True:
            try:
                if (
                    self._settled is None
                    or not isinstance(pending, CommitUncertain)
                    or await self._settled(pending)
                ):
                    return await self._reload()
            except Exception as error:  # noqa: BLE001 - storage still down
                log.error(
                    "rebuild failed", extra={"auction": self.auction_id, "error": repr(error)}
                )
            if self._stopping:
                return None
            await asyncio.sleep(backoff.next())

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
