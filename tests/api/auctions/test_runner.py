"""The per-auction runner with the in-memory store: batching, durability before the answer,
the failure path, and deadlines driven by a fake clock.

The appenders here are small fakes around :class:`~api.storage.memory.MemoryEventStore`:
one that holds every append until a gate opens (to look at the runner mid-commit) and one
that fails (the storage failure path; the real storage is tested in tests/api/storage).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pytest

from api.auctions.runner import (
    AuctionRunner,
    OutcomeUnknown,
    RunnerOverloaded,
    RunnerStopped,
    StorageUnavailable,
    server_time_us,
)
from api.storage.errors import CommitUncertain
from api.storage.memory import MemoryEventStore
from api.storage.ports import StoredEvent
from engine import (
    Auction,
    AuctionEnded,
    AuctionStarted,
    BidAccepted,
    CommandRejected,
    CreateAuction,
    EnglishRules,
    Event,
    PlaceBid,
    Reason,
    RegisterBidder,
    Step,
    Tick,
    UnknownCommand,
    replay,
)
from engine.codec import decode_event, encode_event

S = 1_000_000
T0 = 1_800_000_000 * S  # the fake clock's epoch


class Clock:
    """A server clock the test sets by hand (microseconds)."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class FakeAppender:
    """Appends to the in-memory store; a test can hold appends at ``gate`` and make the
    next ``failures`` of them fail (with ``store_first``, after storing: a commit whose
    answer was lost). Every call is recorded."""

    def __init__(self, store: MemoryEventStore) -> None:
        self.store = store
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = asyncio.Event()
        self.calls: list[list[StoredEvent]] = []
        self.failures = 0
        self.store_first = False

    async def append(
        self, auction_id: str, events: Sequence[StoredEvent], marks: Sequence[Any] = ()
    ) -> None:
        self.calls.append(list(events))
        self.entered.set()
        await self.gate.wait()
        if self.failures:
            self.failures -= 1
            if self.store_first:
                await self.store.append(auction_id, events, marks)
            raise ConnectionResetError("the database went away")
        await self.store.append(auction_id, events, marks)


class Harness:
    """A runner on one English auction (acme and globex registered), its store, and
    what it published. ``starts_in`` is relative to the fake clock's ``T0``; ``None``
    means the auction started before the runner took over."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        starts_in: int | None = None,
        ends_in: int = 3600 * S,
        **options: Any,
    ) -> None:
        self.clock = clock or Clock()
        self.store = MemoryEventStore()
        self.appender = FakeAppender(self.store)
        self.published: list[list[Event]] = []
        starts_at = T0 - 500 if starts_in is None else T0 + starts_in
        self.started = starts_in is None
        self.rules = EnglishRules("EUR", starts_at, starts_at + ends_in, 100, Step(100))
        self.options = options
        self.runner: AuctionRunner

    async def start(self) -> Harness:
        auction = Auction()
        events = auction.handle(CreateAuction("create", T0 - 1000, self.rules))
        for party in ("acme", "globex"):
            events += auction.handle(RegisterBidder(f"reg-{party}", T0 - 1000, party))
        if self.started:
            events += auction.handle(Tick("tick", self.rules.starts_at))
        await self.store.append("a-1", stored(events))

        async def reload() -> Auction:
            return replay(await self.logged())

        self.runner = AuctionRunner(
            "a-1",
            auction,
            self.appender,
            reload=reload,
            read=lambda after: self.store.read("a-1", after),
            publish=lambda auction_id, events: self.published.append(list(events)),
            clock=self.clock,
            **self.options,
        )
        self.runner.start()
        return self

    async def logged(self) -> list[Event]:
        """The stored log, decoded."""
        return [decode_event(row.payload) for row in await self.store.read("a-1")]

    def flat(self) -> list[Event]:
        """Every published event, in order."""
        return [event for batch in self.published for event in batch]


def stored(events: list[Event]) -> list[StoredEvent]:
    return [StoredEvent("a-1", ev.seq, type(ev).__name__, ev.at, encode_event(ev)) for ev in events]


def bid(party: str, amount: str, command_id: str | None = None) -> Callable[[int], PlaceBid]:
    """A command factory: the runner stamps the time."""
    cid = command_id or f"bid-{party}-{amount}"
    return lambda at: PlaceBid(cid, at, party, Decimal(amount), "EUR")


async def eventually(check: Callable[[], Any], timeout: float = 2.0) -> Any:
    """Poll ``check`` until it is truthy."""
    async with asyncio.timeout(timeout):
        while not (value := check()):
            await asyncio.sleep(0.001)
    return value


# ---------------------------------------------------------------------- the happy path


async def test_a_command_is_answered_with_its_events_once_committed() -> None:
    h = await Harness().start()
    events = await h.runner.submit(bid("acme", "1.00"))
    assert [type(ev) for ev in events] == [BidAccepted]
    assert (events[0].seq, events[0].price, events[0].at, events[0].bidder) == (5, 100, T0, "acme")
    assert (await h.logged())[-1] == events[0]
    assert h.published == [events]
    assert h.runner.auction.seq == 5
    rejected = await h.runner.submit(bid("acme", "1.50"))
    assert isinstance(rejected[0], CommandRejected)
    assert rejected[0].reason is Reason.INSUFFICIENT_IMPROVEMENT
    assert (await h.logged())[-1] == rejected[0]  # rejections are committed too
    assert replay(await h.logged()) == h.runner.auction
    assert h.runner.queue_depth == 0 and not h.runner.done
    await h.runner.stop()
    assert h.runner.done


async def test_waiting_commands_go_in_one_batch_and_are_answered_after_the_append() -> None:
    h = await Harness().start()
    h.appender.gate.clear()
    first = asyncio.create_task(h.runner.submit(bid("acme", "1.00")))
    await asyncio.wait_for(h.appender.entered.wait(), 1)
    # While the first commit is in flight, five more commands queue up.
    parties = ["globex", "acme", "globex", "acme", "globex"]
    rest = [
        asyncio.create_task(h.runner.submit(bid(party, f"{n}.00")))
        for n, party in enumerate(parties, start=2)
    ]
    await asyncio.sleep(0.01)
    assert h.runner.queue_depth == 5
    assert not first.done() and not any(task.done() for task in rest)
    assert h.published == []  # nobody sees an event that is not durable yet
    assert await h.store.last_seq("a-1") == 4

    log_length_when_answered: list[int] = []
    for task in [first, *rest]:
        task.add_done_callback(
            lambda _: log_length_when_answered.append(len(h.store._streams["a-1"]))
        )
    h.appender.gate.set()
    results = await asyncio.gather(first, *rest)
    assert [len(call) for call in h.appender.calls] == [1, 5]  # one append for the five
    assert [len(batch) for batch in h.published] == [1, 5]
    assert [result[0].price for result in results] == [100, 200, 300, 400, 500, 600]
    for result, length in zip(results, log_length_when_answered, strict=True):
        assert result[0].seq <= length  # each answer came after its events were stored
    await h.runner.stop()


async def test_a_batch_is_capped_at_max_batch() -> None:
    h = await Harness(max_batch=2).start()
    h.appender.gate.clear()
    first = asyncio.create_task(h.runner.submit(bid("acme", "1.00")))
    await asyncio.wait_for(h.appender.entered.wait(), 1)
    tasks = [asyncio.create_task(h.runner.submit(bid("acme", f"{n}.00"))) for n in range(2, 7)]
    await asyncio.sleep(0.01)
    h.appender.gate.set()
    await asyncio.gather(first, *tasks)
    assert [len(call) for call in h.appender.calls] == [1, 2, 2, 1]


async def test_a_command_that_cannot_be_built_fails_alone() -> None:
    h = await Harness().start()
    h.appender.gate.clear()
    blocker = asyncio.create_task(h.runner.submit(bid("acme", "1.00")))
    await asyncio.wait_for(h.appender.entered.wait(), 1)

    def broken(at: int) -> PlaceBid:
        raise ValueError("bad factory")

    bad = asyncio.create_task(h.runner.submit(broken))
    not_a_command = asyncio.create_task(h.runner.submit(lambda at: "tick"))  # type: ignore[arg-type, return-value]
    good = asyncio.create_task(h.runner.submit(bid("globex", "2.00")))
    await asyncio.sleep(0.01)
    h.appender.gate.set()
    with pytest.raises(ValueError, match="bad factory"):
        await bad
    with pytest.raises(UnknownCommand):
        await not_a_command
    assert isinstance((await good)[-1], BidAccepted)
    await blocker
    assert replay(await h.logged()) == h.runner.auction


# ---------------------------------------------------------------------- failures


async def test_a_failed_append_that_stored_nothing_is_refused_for_certain() -> None:
    h = await Harness().start()
    assert isinstance((await h.runner.submit(bid("acme", "1.00")))[-1], BidAccepted)
    before = h.runner.auction.seq
    h.appender.failures = 1
    # The connection went away and the log, once read, does not hold the batch (this
    # appender's appends are atomic with the call): "not committed", for certain.
    with pytest.raises(StorageUnavailable, match="not committed.*went away"):
        await h.runner.submit(bid("globex", "2.00"))
    # The in-memory auction had moved ahead of the log; it was rebuilt from the log.
    assert h.runner.auction.seq == before == await h.store.last_seq("a-1")
    assert len(h.published) == 1  # the lost bid was never shown to anyone
    retried = await h.runner.submit(bid("globex", "2.00"))
    assert retried[-1].seq == before + 1
    assert replay(await h.logged()) == h.runner.auction


async def test_every_caller_of_a_failed_batch_hears_about_it() -> None:
    h = await Harness().start()
    h.appender.gate.clear()
    first = asyncio.create_task(h.runner.submit(bid("acme", "1.00")))
    await asyncio.wait_for(h.appender.entered.wait(), 1)
    batch = [asyncio.create_task(h.runner.submit(bid("globex", f"{n}.00"))) for n in (2, 3, 4)]
    await asyncio.sleep(0.01)
    h.appender.failures = 2  # the first commit and the batch behind it
    h.appender.gate.set()
    results = await asyncio.gather(first, *batch, return_exceptions=True)
    assert all(isinstance(result, StorageUnavailable) for result in results), results
    assert [len(call) for call in h.appender.calls] == [1, 3]
    assert h.published == []
    assert h.runner.auction.seq == 4 == await h.store.last_seq("a-1")


async def test_a_publish_that_raises_never_leaves_a_committed_command_unanswered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Publishing runs between a commit and its answers: an observer that raises there
    # (a bug, a broken view) must not leave the committed command unanswered or stop
    # the auction (issue 12, item 2: "no exception after a commit" may).
    h = await Harness().start()
    calls: list[list[Event]] = []

    def broken(auction_id: str, events: list[Event]) -> None:
        calls.append(list(events))
        if len(calls) == 1:
            raise RuntimeError("an observer failed")

    h.runner._publish = broken
    answered = await asyncio.wait_for(h.runner.submit(bid("acme", "1.00")), 5)
    assert [type(event) for event in answered] == [BidAccepted]
    assert answered == (await h.logged())[-1:]
    assert "publishing committed events failed" in caplog.text
    after = await asyncio.wait_for(h.runner.submit(bid("globex", "2.00")), 5)
    assert isinstance(after[-1], BidAccepted) and calls == [answered, after]
    assert not h.runner.done
    await h.runner.stop()


async def test_a_commit_whose_answer_was_lost_is_answered_from_the_log() -> None:
    h = await Harness().start()
    h.appender.failures = 1
    h.appender.store_first = True
    # The events were stored after all (the error came after the commit): the log
    # says so, and the caller gets its events, not a "not recorded" it would retry.
    answered = await h.runner.submit(bid("acme", "1.00"))
    assert [type(event) for event in answered] == [BidAccepted]
    assert answered[-1].seq == 5 and answered == (await h.logged())[-1:]
    # ... and published, as every commit is: observers (audit, edges) see it once.
    assert h.published == [answered]
    # The rebuilt auction has them, so the next command continues the log instead of
    # colliding with it.
    assert h.runner.auction.seq == await h.store.last_seq("a-1") == 5
    after = await h.runner.submit(bid("globex", "2.00"))
    assert after[-1].seq == 6 and isinstance(after[-1], BidAccepted)
    assert replay(await h.logged()) == h.runner.auction


async def test_an_append_that_stored_nothing_is_not_committed() -> None:
    from api.storage.errors import SeqConflict

    h = await Harness().start()

    async def conflict(*args: Any, **kwargs: Any) -> None:
        raise SeqConflict("a-1", None, 5)

    h.appender.append = conflict  # type: ignore[method-assign]
    with pytest.raises(StorageUnavailable, match="not committed"):
        await h.runner.submit(bid("acme", "1.00"))


async def test_other_events_at_the_batchs_seqs_are_not_its_commit() -> None:
    """A batch fails while the log gets other events at its seqs (a commit whose answer
    was lost, landing late): its caller is not acknowledged with those; they are
    published and the auction continues from them."""
    h = await Harness().start()
    real_append = h.store.append

    async def late_commit_then_fail(
        auction_id: str, events: Sequence[StoredEvent], marks: Sequence[Any] = ()
    ) -> None:
        auction = replay(await h.logged())
        other = auction.handle(bid("globex", "3.00")(T0))
        await real_append(auction_id, stored(other))
        raise ConnectionResetError("commit answer lost")

    h.appender.append = late_commit_then_fail  # type: ignore[method-assign]
    with pytest.raises(StorageUnavailable, match="not committed"):
        await h.runner.submit(bid("acme", "1.00"))
    logged = await h.logged()
    assert logged[-1].bidder == "globex"  # type: ignore[attr-defined]
    assert h.published == [logged[-1:]]
    assert h.runner.auction == replay(logged)


class Outage:
    """Makes the harness's store unreadable until :meth:`end` (storage down); counts
    the reads refused meanwhile."""

    def __init__(self, h: Harness) -> None:
        self.refused = 0
        self.down = True
        real_read = h.store.read

        async def read(*args: Any, **kwargs: Any) -> list[StoredEvent]:
            if self.down:
                self.refused += 1
                raise ConnectionRefusedError("still down")
            return await real_read(*args, **kwargs)

        h.store.read = read  # type: ignore[method-assign]

    def end(self) -> None:
        self.down = False


@pytest.mark.parametrize("written", [True, False], ids=["written", "not-written"])
async def test_the_answer_waits_for_storage_then_is_certain(written: bool) -> None:
    """The commit fails and the log cannot be read: the caller is not answered (neither
    refused nor acknowledged) and nothing else of the auction is decided until storage
    is back; then the log decides: an ack if the batch was written, else a refusal."""
    h = await Harness().start()
    h.appender.failures = 1
    h.appender.store_first = written
    outage = Outage(h)
    held = asyncio.create_task(h.runner.submit(bid("acme", "1.00")))
    await eventually(lambda: outage.refused >= 3)  # retried with back-off
    behind = asyncio.create_task(h.runner.submit(bid("globex", "2.00")))
    await asyncio.sleep(0.1)
    assert not held.done() and not behind.done()
    assert h.runner.queue_depth == 1  # the next command waits: not decided on a guess
    outage.end()
    if written:
        answered = await asyncio.wait_for(held, 5)
        assert isinstance(answered[-1], BidAccepted) and answered[-1].seq == 5
    else:
        with pytest.raises(StorageUnavailable, match="not committed"):
            await asyncio.wait_for(held, 5)
    after = await asyncio.wait_for(behind, 5)
    assert after[-1].seq == (6 if written else 5)
    logged = await h.logged()
    assert [e.bidder for e in logged if isinstance(e, BidAccepted)] == (  # type: ignore[attr-defined]
        ["acme", "globex"] if written else ["globex"]
    )
    # Each commit published once, in order; memory and log agree.
    assert [e.seq for e in h.flat()] == [e.seq for e in logged[4:]]
    assert h.runner.auction == replay(logged)


class UncertainAppender(FakeAppender):
    """A PostgreSQL-like appender: a failure at COMMIT raises :class:`CommitUncertain`
    and :meth:`settled` says whether its transaction may still commit; here it stays in
    progress until the test calls :meth:`settle`, which may commit it late. The next
    ``early_failures`` appends fail before COMMIT (nothing stored) with a plain error."""

    def __init__(self, store: MemoryEventStore) -> None:
        super().__init__(store)
        self.in_doubt: tuple[str, list[StoredEvent]] | None = None
        self.asked = 0
        self.early_failures = 0

    async def append(
        self, auction_id: str, events: Sequence[StoredEvent], marks: Sequence[Any] = ()
    ) -> None:
        if self.early_failures:
            self.early_failures -= 1
            raise ConnectionResetError("lost before COMMIT")
        if self.failures:
            self.failures -= 1
            self.in_doubt = (auction_id, list(events))
            raise CommitUncertain(41, "connection lost at COMMIT")
        await self.store.append(auction_id, events, marks)

    async def settled(self, error: CommitUncertain) -> bool:
        assert error.xid == 41
        self.asked += 1
        return self.in_doubt is None

    async def settle(self, *, commit: bool) -> None:
        assert self.in_doubt is not None
        if commit:
            await self.store.append(*self.in_doubt)
        self.in_doubt = None


def uncertain(h: Harness) -> UncertainAppender:
    appender = UncertainAppender(h.store)
    h.runner._appender = appender
    h.runner._settled = appender.settled
    return appender


@pytest.mark.parametrize("commits", [True, False], ids=["commits-late", "aborts"])
async def test_an_uncertain_commit_is_judged_only_once_its_transaction_settled(
    commits: bool,
) -> None:
    """The log can be read and lacks the batch, but its transaction is still in progress
    (a backend finishing a COMMIT whose client is gone): that absence proves nothing,
    so the caller waits; once the transaction is settled the log decides."""
    h = await Harness().start()
    appender = uncertain(h)
    appender.failures = 1
    held = asyncio.create_task(h.runner.submit(bid("acme", "1.00")))
    await eventually(lambda: appender.asked >= 3)
    assert not held.done()
    assert await h.store.last_seq("a-1") == 4  # absent from the log, for now
    await appender.settle(commit=commits)
    if commits:
        answered = await asyncio.wait_for(held, 5)
        assert answered == (await h.logged())[-1:] and h.published == [answered]
    else:
        with pytest.raises(StorageUnavailable, match="not committed"):
            await asyncio.wait_for(held, 5)
        assert h.published == []
    assert h.runner.auction == replay(await h.logged())


async def test_an_appender_that_tells_uncertain_commits_apart_is_believed() -> None:
    """With ``settled``, any error but :class:`CommitUncertain` came before COMMIT:
    refused at once, even while the log cannot be read to confirm it."""
    h = await Harness().start()
    appender = uncertain(h)
    appender.early_failures = 1
    outage = Outage(h)
    with pytest.raises(StorageUnavailable, match="not committed"):
        await asyncio.wait_for(h.runner.submit(bid("acme", "1.00")), 5)
    assert outage.down  # answered while the log still could not be read
    outage.end()
    answered = await asyncio.wait_for(h.runner.submit(bid("acme", "1.00")), 5)
    assert answered[-1].seq == 5  # rebuilt once storage was back, nothing lost or doubled


@pytest.mark.parametrize("written", [True, False], ids=["written", "not-written"])
async def test_past_the_deadline_the_answer_is_outcome_unknown_not_a_refusal(
    written: bool,
) -> None:
    """Storage stays down past ``outcome_wait_s``: the caller hears OutcomeUnknown,
    which is no refusal (not a StorageUnavailable). The runner still rebuilds from the
    log before deciding anything else, and a batch written after all is published then,
    once."""
    h = await Harness(outcome_wait_s=0.2).start()
    h.appender.failures = 1
    h.appender.store_first = written
    outage = Outage(h)
    with pytest.raises(OutcomeUnknown, match="within 0.2 s") as caught:
        await asyncio.wait_for(h.runner.submit(bid("acme", "1.00")), 5)
    assert not isinstance(caught.value, StorageUnavailable)
    behind = asyncio.create_task(h.runner.submit(bid("globex", "2.00")))
    await asyncio.sleep(0.1)
    assert not behind.done()
    outage.end()
    after = await asyncio.wait_for(behind, 5)
    logged = await h.logged()
    assert after[-1].seq == logged[-1].seq == (6 if written else 5)
    assert [e.seq for e in h.flat()] == [e.seq for e in logged[4:]]
    assert h.runner.auction == replay(logged)


async def test_stopping_while_storage_is_down_answers_and_ends() -> None:
    h = await Harness().start()
    h.appender.failures = 1
    outage = Outage(h)
    held = asyncio.create_task(h.runner.submit(bid("acme", "1.00")))
    await eventually(lambda: outage.refused >= 1)
    queued = asyncio.create_task(h.runner.submit(bid("globex", "2.00")))
    await asyncio.sleep(0.05)
    # stop() must not wait for storage: the held command cannot learn its fate (not a
    # refusal), the queued one never ran (a refusal).
    await asyncio.wait_for(h.runner.stop(), 3)
    with pytest.raises(OutcomeUnknown):
        await held
    with pytest.raises(StorageUnavailable, match="not run"):
        await queued


async def test_a_command_that_waited_too_long_is_refused_not_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import api.auctions.runner

    h = await Harness().start()
    h.appender.gate.clear()
    first = asyncio.create_task(h.runner.submit(bid("acme", "1.00")))
    await asyncio.wait_for(h.appender.entered.wait(), 1)
    # Queued behind a commit that hangs (storage down without an error, say) for
    # longer than MAX_WAIT_S: by the time the runner gets to it, nobody may be waiting
    # for it any more, and an idempotency lease could have been taken over.
    late = asyncio.create_task(h.runner.submit(bid("globex", "2.00")))
    await asyncio.sleep(0.05)
    monkeypatch.setattr(api.auctions.runner, "MAX_WAIT_S", 0.01)
    h.appender.gate.set()
    assert isinstance((await first)[-1], BidAccepted)
    with pytest.raises(RunnerOverloaded, match="waited over"):
        await late
    assert [type(e) for e in await h.logged()][-1] is BidAccepted
    assert (await h.logged())[-1].bidder == "acme"  # type: ignore[union-attr]
    monkeypatch.undo()
    assert isinstance((await h.runner.submit(bid("globex", "2.00")))[-1], BidAccepted)


async def test_a_command_with_a_queue_budget_is_refused_when_it_runs_out_and_never_runs() -> None:
    h = await Harness().start()
    h.appender.gate.clear()
    first = asyncio.create_task(h.runner.submit(bid("acme", "1.00")))
    await asyncio.wait_for(h.appender.entered.wait(), 1)
    # A forwarded command, given 0.2 s in the queue, behind a commit that hangs: refused
    # when its budget runs out, while the commit still hangs (its caller still listens).
    began = time.monotonic()
    budgeted = asyncio.create_task(h.runner.submit(bid("acme", "2.00"), max_wait_s=0.2))
    unbudgeted = asyncio.create_task(h.runner.submit(bid("globex", "3.00")))
    with pytest.raises(RunnerOverloaded, match=r"waited over 0\.2 s in the queue; not run"):
        await budgeted
    assert 0.2 <= time.monotonic() - began < 1.0
    assert not first.done() and not unbudgeted.done()
    h.appender.gate.set()
    assert isinstance((await first)[-1], BidAccepted)
    assert isinstance((await unbudgeted)[-1], BidAccepted)  # no budget: it waits its turn
    ids = [getattr(e, "command_id", None) for e in await h.logged()]
    assert "bid-acme-2.00" not in ids and ids[-1] == "bid-globex-3.00"
    # Taken into a batch in time, a budgeted command runs, and its timer is gone.
    done = await h.runner.submit(bid("acme", "4.00"), max_wait_s=0.05)
    assert isinstance(done[-1], BidAccepted)
    await asyncio.sleep(0.1)
    assert [getattr(e, "command_id", None) for e in await h.logged()][-1] == "bid-acme-4.00"


async def test_a_full_queue_is_overloaded_and_a_stopped_runner_refuses() -> None:
    h = await Harness(queue_limit=1).start()
    h.appender.gate.clear()
    first = asyncio.create_task(h.runner.submit(bid("acme", "1.00")))
    await asyncio.wait_for(h.appender.entered.wait(), 1)
    second = asyncio.create_task(h.runner.submit(bid("acme", "2.00")))
    await asyncio.sleep(0.01)
    with pytest.raises(RunnerOverloaded):
        await h.runner.submit(bid("acme", "3.00"))
    h.appender.gate.set()
    stopping = asyncio.create_task(h.runner.stop())
    # stop() finishes what was queued before it.
    assert isinstance((await first)[-1], BidAccepted)
    assert isinstance((await second)[-1], BidAccepted)
    await stopping
    assert h.runner.done
    with pytest.raises(RunnerStopped):
        await h.runner.submit(bid("acme", "4.00"))


async def test_stop_wakes_an_idle_runner() -> None:
    h = await Harness(starts_in=3600 * S).start()  # nothing due for an hour
    await asyncio.sleep(0.01)
    await asyncio.wait_for(h.runner.stop(), 1)
    assert h.runner.done


# ---------------------------------------------------------------------- time


async def test_deadlines_fire_through_ticks_at_their_own_time() -> None:
    clock = Clock()
    # Short fake gaps keep the runner's real sleeps to a millisecond or two.
    h = await Harness(clock=clock, starts_in=2000, ends_in=3000).start()
    await asyncio.sleep(0.02)
    assert h.published == []  # the fake clock has not reached the start
    clock.now = T0 + 2500
    started = await eventually(h.flat)
    assert isinstance(started[0], AuctionStarted) and started[0].at == T0 + 2000
    await h.runner.submit(bid("acme", "1.00"))
    clock.now = T0 + 99_000  # long after the end, then a tick comes
    ended = await eventually(lambda: [ev for ev in h.flat() if isinstance(ev, AuctionEnded)])
    assert ended[0].at == T0 + 5000  # the close, not the late tick
    assert ended[0].winners == ("acme",)
    assert (await h.logged())[-1] == ended[0]
    assert h.runner.auction.next_deadline() is None


async def test_a_bid_after_the_close_is_rejected_though_no_tick_ran() -> None:
    clock = Clock()
    h = await Harness(clock=clock).start()
    await h.runner.submit(bid("acme", "1.00"))
    ends_at = h.rules.ends_at
    # The runner now sleeps toward a close an hour away (real time); the fake clock jumps
    # one microsecond past it, and the next thing the runner hears of is a bid.
    clock.now = ends_at + 1
    events = await asyncio.wait_for(h.runner.submit(bid("globex", "2.00", "late")), 1)
    assert [type(ev) for ev in events] == [AuctionEnded, CommandRejected]
    assert events[0].at == ends_at and events[0].winners == ("acme",)
    assert events[1].reason is Reason.AUCTION_CLOSED and events[1].at == ends_at + 1
    assert h.published[-1] == events  # one commit: the close came with the bid


async def test_the_runner_never_hands_the_engine_a_time_that_went_backwards() -> None:
    clock = Clock()
    h = await Harness(clock=clock).start()
    first = await h.runner.submit(bid("acme", "1.00"))
    clock.now -= 10 * S  # the wall clock stepped back
    second = await h.runner.submit(bid("globex", "2.00"))
    assert second[-1].at == first[-1].at


def test_server_time_is_the_wall_clock_in_microseconds() -> None:
    assert abs(server_time_us() - time.time_ns() // 1000) < S


async def test_marks_travel_with_their_commands_events_in_one_append() -> None:
    from api.storage.ports import CommandMark

    h = await Harness().start()
    h.store.marks.clear()
    h.appender.gate.clear()
    h.appender.entered.clear()
    first = asyncio.create_task(h.runner.submit(bid("acme", "1.00")))
    await h.appender.entered.wait()  # the runner holds the first batch at the gate
    marked = [CommandMark("acme", "k-1", 11), CommandMark("globex", "k-2", 22)]
    tasks = [
        asyncio.create_task(h.runner.submit(bid("acme", "2.00"), marked[0])),
        asyncio.create_task(h.runner.submit(bid("globex", "3.00"), marked[1])),
    ]
    await eventually(lambda: h.runner.queue_depth == 2)
    h.appender.gate.set()
    events = [await task for task in [first, *tasks]]
    # The appender of a real store got the marks with the seqs each command caused.
    assert [(a, m.key, m.first_seq, m.last_seq) for a, m in h.store.marks] == [
        ("a-1", "k-1", events[1][0].seq, events[1][-1].seq),
        ("a-1", "k-2", events[2][0].seq, events[2][-1].seq),
    ]
    await h.runner.stop()


async def test_only_an_ended_idle_runner_is_evictable() -> None:
    h = await Harness(ends_in=S).start()
    later = time.monotonic() + 3600
    assert not h.runner.evictable(later, 60)  # running
    h.clock.now = h.rules.ends_at + 1
    await h.runner.submit(bid("acme", "1.00"))  # rejected: the close applies first
    assert h.runner.auction.phase == "ended"
    assert not h.runner.evictable(time.monotonic(), 60)  # just used
    assert h.runner.evictable(later, 60)
    h.appender.gate.clear()
    h.appender.entered.clear()
    pending = asyncio.create_task(h.runner.submit(bid("acme", "2.00")))
    await h.appender.entered.wait()
    assert not h.runner.evictable(later, 60)  # a command in hand
    h.appender.gate.set()
    await pending
    await h.runner.stop()
