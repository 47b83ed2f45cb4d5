"""The service core without HTTP: creation, one runner per auction, loading, recovery.

The in-memory store stands in for PostgreSQL (both pass one contract suite); a fake
clock makes "the server was down while the close passed" a matter of setting a number.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from api.auctions.runner import OutcomeUnknown, RunnerStopped, StorageUnavailable
from api.auctions.service import AuctionExists, Service, UnknownAuction, format_name
from api.auctions.views import Audience
from api.live.hub import Hub, Subscriber, unwire
from api.storage.memory import MemoryEventStore
from api.storage.ports import AuctionRecord, AuctionStatus, Snapshot, StoredEvent
from engine import (
    AuctionCreated,
    AuctionEnded,
    AuctionStarted,
    BidAccepted,
    CommandRejected,
    DutchRules,
    EnglishRules,
    MultiRoundRules,
    PlaceBid,
    Reason,
    RegisterBidder,
    ReverseRules,
    SealedRules,
    Step,
    replay,
)
from engine.codec import decode_event
from engine.snapshot import restore_snapshot

S = 1_000_000
T0 = 1_800_000_000 * S


class Clock:
    """A server clock the test sets by hand (microseconds)."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def english(starts_in: int = 1000, ends_in: int = 3600 * S) -> EnglishRules:
    return EnglishRules("EUR", T0 + starts_in, T0 + starts_in + ends_in, 100, Step(100))


def service(store: MemoryEventStore, clock: Clock, appender: Any = None) -> Service:
    return Service(store, appender or store, Hub(), clock=clock)


async def register(svc: Service, auction_id: str, party: str) -> None:
    events = await svc.submit(
        auction_id, lambda at: RegisterBidder(f"reg-{party}", at, party, Decimal(0))
    )
    assert events[-1].bidder == party  # type: ignore[union-attr]


def place(party: str, amount: str, command_id: str = "") -> Any:
    cid = command_id or f"bid-{party}-{amount}"
    return lambda at: PlaceBid(cid, at, party, Decimal(amount), "EUR")


async def logged(store: MemoryEventStore, auction_id: str) -> list[Any]:
    return [decode_event(row.payload) for row in await store.read(auction_id)]


async def eventually(check: Any, timeout: float = 2.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (value := await check()):
            await asyncio.sleep(0.002)
    return value


def test_format_names() -> None:
    assert format_name(english()) == "english"
    assert format_name(ReverseRules("EUR", 1, 2, 100, Step(1))) == "reverse"
    assert format_name(DutchRules("EUR", 1, 100, 1, 1, 50)) == "dutch"
    assert format_name(SealedRules("EUR", 1, 2)) == "sealed"
    assert format_name(MultiRoundRules("EUR", 1, 1, Step(1))) == "multiround"


async def test_create_stores_records_and_starts_a_runner() -> None:
    store, clock = MemoryEventStore(), Clock()
    svc = service(store, clock)
    events = await svc.create("a-1", english(), "create-1")
    assert [type(ev) for ev in events] == [AuctionCreated]
    assert events[0].at == T0
    assert await logged(store, "a-1") == events
    record = await store.get_auction("a-1")
    assert record is not None
    assert (record.format, record.status, record.created_at) == ("english", "scheduled", T0)
    assert json.loads(record.rules)["type"] == "EnglishRules"
    assert "a-1" in svc.runners and svc.phase("a-1") == "scheduled"
    assert svc.hub.channel("a-1").head == 1
    assert svc.phase("nope") is None
    with pytest.raises(AuctionExists):
        await svc.create("a-1", english(), "create-2")
    await svc.close()


async def test_rules_the_engine_refuses_are_not_stored() -> None:
    store, clock = MemoryEventStore(), Clock()
    svc = service(store, clock)
    events = await svc.create("bad", english(starts_in=-S), "create")
    assert isinstance(events[0], CommandRejected) and events[0].reason is Reason.INVALID_RULES
    assert await store.last_seq("bad") == 0 and await store.get_auction("bad") is None
    assert "bad" not in svc.runners
    assert await svc.runner("bad") is None
    with pytest.raises(UnknownAuction):
        await svc.submit("bad", place("x", "1"))


async def test_an_id_taken_in_the_log_is_taken_even_if_not_loaded() -> None:
    store, clock = MemoryEventStore(), Clock()
    first = service(store, clock)
    await first.create("a-1", english(), "c")
    await first.close()
    second = service(store, clock)
    with pytest.raises(AuctionExists):
        await second.create("a-1", english(), "c2")


async def test_submit_history_and_the_status_projection() -> None:
    store, clock = MemoryEventStore(), Clock()
    svc = service(store, clock)
    await svc.create("a-1", english(starts_in=3600 * S), "c")
    await register(svc, "a-1", "acme")
    clock.now = T0 + 3600 * S  # the runner sleeps toward the start; the bid applies it
    events = await svc.submit("a-1", place("acme", "1.00"))
    assert [type(ev) for ev in events] == [AuctionStarted, BidAccepted]
    history = await svc.history("a-1", 0)
    assert [ev.seq for ev in history] == [1, 2, 3, 4]
    assert [ev.seq for ev in await svc.history("a-1", 2)] == [3, 4]

    async def status() -> AuctionStatus | None:
        record = await store.get_auction("a-1")
        return record.status if record and record.status == "running" else None

    assert await eventually(status) == AuctionStatus.RUNNING
    with pytest.raises(UnknownAuction):
        await svc.submit("nope", place("acme", "1.00"))
    await svc.close()
    with pytest.raises(RunnerStopped):
        await svc.submit("a-1", place("acme", "2.00"))


async def test_an_auction_is_loaded_from_its_log_on_first_use_once() -> None:
    store, clock = MemoryEventStore(), Clock()
    first = service(store, clock)
    await first.create("a-1", english(starts_in=0), "c")
    await register(first, "a-1", "acme")
    await first.submit("a-1", place("acme", "1.00"))
    await first.close()

    second = service(store, clock)
    runners = await asyncio.gather(*(second.runner("a-1") for _ in range(5)))
    assert all(runner is runners[0] for runner in runners)  # loads are deduplicated
    assert runners[0] is not None
    assert runners[0].auction == replay(await logged(store, "a-1"))
    channel = second.hub.channel("a-1")
    assert channel.head == 4 and channel.views.labels == {"acme": "Bidder 1"}
    after = await second.submit("a-1", place("acme", "2.00"))
    assert after[-1].seq == 5
    await second.close()


async def test_a_failed_load_reaches_every_waiter_and_can_be_retried() -> None:
    store, clock = MemoryEventStore(), Clock()
    await service(store, clock).create("a-1", english(), "c")
    svc = service(store, clock)
    real_read = store.read
    failures = 1

    async def flaky(*args: Any, **kwargs: Any) -> list[StoredEvent]:
        nonlocal failures
        await asyncio.sleep(0.01)
        if failures:
            failures -= 1
            raise ConnectionResetError("down")
        return await real_read(*args, **kwargs)

    store.read = flaky  # type: ignore[method-assign]
    results = await asyncio.gather(*(svc.runner("a-1") for _ in range(3)), return_exceptions=True)
    assert all(isinstance(result, ConnectionResetError) for result in results)
    assert await svc.runner("a-1") is not None


async def test_recovery_ends_an_auction_whose_close_passed_while_down() -> None:
    store, clock = MemoryEventStore(), Clock()
    before = service(store, clock)
    rules = english(starts_in=0, ends_in=60 * S)
    await before.create("late", rules, "c")
    await before.create("done", english(starts_in=0, ends_in=S), "c")
    await before.create("later", english(starts_in=7200 * S), "c")
    for auction_id in ("late", "done"):
        await register(before, auction_id, "acme")
        await before.submit(auction_id, place("acme", "5.00"))
    clock.now = T0 + 2 * S
    ended = await before.submit("done", place("acme", "6.00"))
    assert isinstance(ended[0], AuctionEnded)
    await before.close()  # "down": nobody ticks

    async def statuses() -> dict[str, str]:
        return {r.id: r.status.value for r in await store.list_auctions()}

    await eventually(lambda: _true_when(statuses, {"done": "ended"}))
    clock.now = rules.ends_at + 3600 * S  # back an hour after the close
    after = service(store, clock)
    assert await after.recover() == 2  # the not-ended ones: "late" and "later"
    assert set(after.runners) == {"late", "later"}
    log = await eventually(lambda: _ended_log(store, "late"))
    closing = log[-1]
    assert isinstance(closing, AuctionEnded)
    assert closing.at == rules.ends_at  # at its own time, not at the restart
    assert closing.winners == ("acme",) and closing.price == 500
    await eventually(lambda: _true_when(statuses, {"late": "ended", "later": "scheduled"}))
    assert after.runners["later"].auction.phase == "scheduled"
    await after.close()


async def _true_when(read: Any, wanted: dict[str, str]) -> bool:
    got = await read()
    return all(got.get(key) == value for key, value in wanted.items())


async def _ended_log(store: MemoryEventStore, auction_id: str) -> list[Any] | None:
    log = await logged(store, auction_id)
    return log if isinstance(log[-1], AuctionEnded) else None


async def test_events_committed_despite_a_failed_append_still_reach_watchers() -> None:
    # Regression: after a commit whose answer was lost, the runner rebuilt from the log,
    # but the hub only folded the events it found there; live sockets never got them,
    # a gap in their stream.
    store, clock = MemoryEventStore(), Clock()

    class LosesOneAnswer:
        lose = False

        async def append(self, auction_id: str, events: Sequence[StoredEvent]) -> None:
            await store.append(auction_id, events)
            if self.lose:
                self.lose = False
                raise ConnectionResetError("commit answer lost")

    appender = LosesOneAnswer()
    svc = service(store, clock, appender)
    await svc.create("a-1", english(starts_in=3600 * S), "c")
    await register(svc, "a-1", "acme")
    clock.now = T0 + 3600 * S
    watcher = Subscriber(Audience("observer", "press"), since=0, limit=100)
    watcher.resume([])
    svc.hub.channel("a-1").subscribers.add(watcher)
    appender.lose = True
    # The caller is answered from the log (its bid is there), not told it failed.
    answered = await svc.submit("a-1", place("acme", "1.00"))
    assert isinstance(answered[-1], BidAccepted) and answered[-1].seq == 4
    seqs = []
    while watcher.depth:
        frame = await watcher.next()
        text = unwire(frame) if isinstance(frame, bytes) else frame
        seqs.append(json.loads(text or "{}")["seq"])
    assert seqs == [3, 4]  # AuctionStarted and the bid, published once
    assert svc.hub.channel("a-1").head == 4
    next_bid = await svc.submit("a-1", place("acme", "2.00"))
    assert next_bid[-1].seq == 5
    await svc.close()


class FailsOnce:
    """An appender around the in-memory store whose next append fails: ``written`` or
    not before the error (a commit whose answer was lost, or one that never happened).
    Its appends are atomic with the call, so the log alone tells which."""

    def __init__(self, store: MemoryEventStore) -> None:
        self.store = store
        self.fail: bool | None = None  # None: no failure; else: written before it

    async def append(
        self, auction_id: str, events: Sequence[StoredEvent], marks: Sequence[Any] = ()
    ) -> None:
        written, self.fail = self.fail, None
        if written is not None:
            if written:
                await self.store.append(auction_id, events, marks)
            raise ConnectionResetError("the database went away")
        await self.store.append(auction_id, events, marks)


@pytest.mark.parametrize("fate", ["written", "not-written", "unknown"])
async def test_a_create_whose_commit_failed_is_answered_from_the_log(
    fate: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, clock = MemoryEventStore(), Clock()
    appender = FailsOnce(store)
    svc = Service(store, appender, Hub(), clock=clock, outcome_wait_s=0.2)
    appender.fail = fate == "written"
    if fate == "unknown":

        async def down(*args: Any, **kwargs: Any) -> list[StoredEvent]:
            raise ConnectionRefusedError("still down")

        monkeypatch.setattr(store, "read", down)
        with pytest.raises(OutcomeUnknown, match="whether the auction was created"):
            await svc.create("a-1", english(), "c")
    elif fate == "not-written":
        with pytest.raises(StorageUnavailable, match="not created"):
            await svc.create("a-1", english(), "c")
        assert "a-1" not in svc.runners and await store.last_seq("a-1") == 0
        await svc.create("a-1", english(), "c")  # a retry creates it
    else:
        created = await svc.create("a-1", english(), "c")
        assert isinstance(created[0], AuctionCreated)
        assert (await store.get_auction("a-1")) is not None and "a-1" in svc.runners
        with pytest.raises(AuctionExists):
            await svc.create("a-1", english(), "c")
    await svc.close()


#: Fails, at COMMIT only, the append of an event whose payload names "refuse-at-commit".
_REFUSE_AT_COMMIT = """
CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF convert_from(NEW.payload, 'UTF8') LIKE '%refuse-at-commit%' THEN
        RAISE EXCEPTION 'refused at commit';
    END IF;
    RETURN NEW;
END $$;
CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit();
"""


async def test_a_bid_failed_at_commit_on_postgresql_is_refused_once_settled(
    pg_pool: Any,
) -> None:
    """The real path: the group-commit writer's COMMIT fails, the runner hears
    CommitUncertain, asks the writer whether the transaction settled (aborted), reads
    the log, and only then refuses; the auction goes on from the log."""
    from api.storage import GroupCommitWriter, PostgresEventStore

    await pg_pool.execute(_REFUSE_AT_COMMIT)
    clock = Clock()
    async with GroupCommitWriter(pg_pool) as writer:
        svc = Service(PostgresEventStore(pg_pool), writer, Hub(), clock=clock)
        await svc.create("a-1", english(), "c")
        await register(svc, "a-1", "acme")
        clock.now = T0 + S
        with pytest.raises(StorageUnavailable, match="not committed.*refused at commit"):
            await svc.submit("a-1", place("acme", "1.00", "refuse-at-commit"))
        assert writer.stats.appends_failed == 1
        accepted = await svc.submit("a-1", place("acme", "1.00"))
        assert isinstance(accepted[-1], BidAccepted) and accepted[-1].seq == 4
        assert svc.runners["a-1"].auction == replay(await logged(svc.store, "a-1"))  # type: ignore[arg-type]
        await svc.close()


async def test_a_load_racing_a_create_never_starts_two_runners() -> None:
    # Regression: a request that loaded the auction from its log while create() was
    # still writing the auctions row started a second runner: two tasks, one auction.
    store, clock = MemoryEventStore(), Clock()
    real_upsert = store.upsert_auction

    async def slow_upsert(record: AuctionRecord) -> None:
        await asyncio.sleep(0.02)
        await real_upsert(record)

    store.upsert_auction = slow_upsert  # type: ignore[method-assign]
    svc = service(store, clock)
    creating = asyncio.create_task(svc.create("a-1", english(), "c"))
    await asyncio.sleep(0.005)  # the event is stored, the row is not yet
    loaded = await svc.runner("a-1")
    await creating
    assert loaded is svc.runners["a-1"]
    tasks = [t for t in asyncio.all_tasks() if t.get_name() == "gavel-auction-a-1"]
    assert len(tasks) == 1
    await register(svc, "a-1", "acme")
    assert svc.runners["a-1"].auction.seq == 2
    await svc.close()


async def test_a_slow_load_finishing_after_a_create_keeps_the_create_runner() -> None:
    store, clock = MemoryEventStore(), Clock()
    real_read, real_upsert = store.read, store.upsert_auction

    async def slow_read(*args: Any, **kwargs: Any) -> list[StoredEvent]:
        rows = await real_read(*args, **kwargs)
        await asyncio.sleep(0.03)  # read after the create's append, answered after it ends
        return rows

    async def slow_upsert(record: AuctionRecord) -> None:
        await asyncio.sleep(0.01)
        await real_upsert(record)

    store.upsert_auction = slow_upsert  # type: ignore[method-assign]
    svc = service(store, clock)
    creating = asyncio.create_task(svc.create("a-1", english(), "c"))
    await asyncio.sleep(0.002)
    store.read = slow_read  # type: ignore[method-assign]
    loading = asyncio.create_task(svc.runner("a-1"))
    await creating
    created = svc.runners["a-1"]
    assert await loading is created
    tasks = [t for t in asyncio.all_tasks() if t.get_name() == "gavel-auction-a-1"]
    assert len(tasks) == 1
    await svc.close()


async def test_two_creates_racing_for_one_id_make_one_auction() -> None:
    store, clock = MemoryEventStore(), Clock()
    real_last_seq = store.last_seq

    async def slow_last_seq(auction_id: str) -> int:
        seq = await real_last_seq(auction_id)
        await asyncio.sleep(0.01)  # both creates see an empty log
        return seq

    store.last_seq = slow_last_seq  # type: ignore[method-assign]
    svc = service(store, clock)
    results = await asyncio.gather(
        svc.create("a-1", english(), "c-1"),
        svc.create("a-1", english(starts_in=5000), "c-2"),
        return_exceptions=True,
    )
    assert sorted(type(result).__name__ for result in results) == ["AuctionExists", "list"]
    assert await real_last_seq("a-1") == 1
    await svc.close()


# -- idle runners of ended auctions leave memory; overload is refused at once ----------


async def ended_auction(svc: Service, clock: Clock, auction_id: str) -> None:
    """Create ``auction_id``, bid once, and let it end (the late bid is rejected)."""
    rules = EnglishRules("EUR", clock.now, clock.now + S, 100, Step(100))
    created = await svc.create(auction_id, rules, "c")
    assert isinstance(created[0], AuctionCreated)
    await register(svc, auction_id, "acme")
    await svc.submit(auction_id, place("acme", "5.00"))
    clock.now += 2 * S
    late = await svc.submit(auction_id, place("acme", "6.00"))
    assert isinstance(late[0], AuctionEnded)


async def test_ended_idle_runners_are_evicted_and_reload_on_use() -> None:
    import time

    store, clock = MemoryEventStore(), Clock()
    svc = Service(store, store, Hub(), clock=clock, idle_s=60)
    await ended_auction(svc, clock, "done")
    await ended_auction(svc, clock, "watched")
    live = EnglishRules("EUR", clock.now, clock.now + 3600 * S, 100, Step(100))
    await svc.create("live", live, "c")
    watcher = Subscriber(Audience("observer", "press"), since=0, limit=100)
    svc.hub.channel("watched").subscribers.add(watcher)

    assert await svc.evict_idle() == []  # used just now
    later = time.monotonic() + 61
    assert sorted(await svc.evict_idle(later)) == ["done", "watched"]
    assert set(svc.runners) == {"live"} and svc.evicted == 2
    assert "done" not in svc.hub.channels  # nobody watches: its read model goes too
    assert svc.hub.channels["watched"].subscribers == {watcher}  # kept for its watcher
    head = svc.hub.channels["watched"].head

    # A read loads the auction again from its log; a command continues its stream.
    runner = await svc.runner("done")
    assert runner is not None and runner.auction.phase == "ended"
    assert svc.hub.channel("done").head == await store.last_seq("done")
    rejected = await svc.submit("done", place("acme", "7.00"))
    assert isinstance(rejected[-1], CommandRejected)
    assert rejected[-1].reason is Reason.AUCTION_CLOSED
    assert rejected[-1].seq == await store.last_seq("done")
    again = await svc.submit("watched", place("acme", "7.00"))
    assert again[-1].seq == head + 1 == svc.hub.channels["watched"].head
    # Without idle_s nothing is ever evicted.
    keep = Service(store, store, Hub(), clock=clock)
    await keep.runner("done")
    assert await keep.evict_idle(later + 3600) == []
    keep.start_sweeper()  # a no-op
    await keep.close()
    await svc.close()


async def test_a_closing_service_loads_no_auction() -> None:
    """Shutdown finishes the runners it has; a command for an auction not in memory is
    refused (RunnerStopped: 503 / ``unavailable``), not loaded into a new runner."""
    store, clock = MemoryEventStore(), Clock()
    svc = Service(store, store, Hub(), clock=clock)
    await svc.create("loaded", english(), "c-1")
    other = Service(store, store, Hub(), clock=clock)
    await other.create("stored", english(), "c-2")
    await other.close()
    await svc.close()
    with pytest.raises(RunnerStopped):
        await svc.runner("stored")
    with pytest.raises(RunnerStopped):
        await svc.submit("stored", place("acme", "7.00"))
    with pytest.raises(RunnerStopped):
        await svc.submit("loaded", place("acme", "7.00"))
    assert set(svc.runners) == {"loaded"}


async def test_the_sweeper_evicts_in_the_background() -> None:
    store, clock = MemoryEventStore(), Clock()
    svc = Service(store, store, Hub(), clock=clock, idle_s=0.01)
    await ended_auction(svc, clock, "done")
    svc.start_sweeper()
    svc.start_sweeper()  # once is enough

    async def gone() -> bool:
        return "done" not in svc.runners

    await eventually(gone)
    await svc.close()


async def test_a_backlogged_writer_refuses_commands_at_once() -> None:
    from api.auctions.runner import RunnerOverloaded, WriterBacklogged

    class Backlog(MemoryEventStore):
        pending_events = 0

    store, clock = Backlog(), Clock()
    svc = Service(store, store, Hub(), clock=clock, max_backlog=3)
    await svc.create("a-1", english(), "c")
    store.pending_events = 3
    with pytest.raises(WriterBacklogged):
        await svc.submit("a-1", place("acme", "1.00"))
    with pytest.raises(RunnerOverloaded):
        await svc.create("a-2", english(), "c")
    assert await store.last_seq("a-2") == 0
    store.pending_events = 2
    await register(svc, "a-1", "acme")
    await svc.close()


# ---------------------------------------------------------------------- snapshots


class CountingStore:
    """A store that records the ``after`` of every log read, around a real one."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.reads: list[tuple[str, int]] = []

    async def read(self, auction_id: str, after: int = 0, limit: int | None = None) -> Any:
        self.reads.append((auction_id, after))
        return await self.store.read(auction_id, after, limit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.fixture(params=["memory", "postgres"])
async def stores(request: pytest.FixtureRequest, pg_pool: Any) -> Any:
    """(store, appender) pairs: the in-memory store, and PostgreSQL (a fresh database)
    with the group-commit writer."""
    if request.param == "memory":
        store = MemoryEventStore()
        yield store, store
        return
    from api.storage import GroupCommitWriter, PostgresEventStore

    pool = pg_pool
    writer = GroupCommitWriter(pool)
    await writer.start()
    try:
        yield PostgresEventStore(pool), writer
    finally:
        await writer.close()


def _views(svc: Service, auction_id: str) -> tuple[Any, ...]:
    views = svc.hub.channel(auction_id).views
    return tuple(getattr(views, name) for name in type(views).__slots__)


async def _bid_a_while(svc: Service, auction_id: str, clock: Clock, bids: int) -> None:
    for party in ("acme", "globex", "initech"):
        await register(svc, auction_id, party)
    clock.now = T0 + 2 * S
    for number in range(bids):
        party = ("acme", "globex", "initech")[number % 3]
        clock.now += 1000
        events = await svc.submit(auction_id, place(party, f"{10 + number}.00"))
        assert isinstance(events[-1], BidAccepted), events


async def _a_bidding_log(bids: int) -> tuple[MemoryEventStore, Clock, list[Any]]:
    """A store holding auction ``a-1`` after ``bids`` bids (no snapshot), its clock and
    its log."""
    store, clock = MemoryEventStore(), Clock()
    before = service(store, clock)
    await before.create("a-1", english(starts_in=S), "c")
    await _bid_a_while(before, "a-1", clock, bids)
    await before.close()
    return store, clock, await logged(store, "a-1")


async def test_recovery_restores_the_latest_snapshot_and_replays_only_its_tail(
    stores: Any,
) -> None:
    store, appender = stores
    clock = Clock()
    before = Service(store, appender, Hub(), clock=clock, snapshot_every=7)
    await before.create("a-1", english(starts_in=S), "c")
    await _bid_a_while(before, "a-1", clock, 30)
    await before.close()  # waits for the snapshot saves
    log = await logged(store, "a-1")
    snapshot = await store.load_snapshot("a-1")
    assert snapshot is not None and before.snapshots_saved >= 4
    assert len(log) - 7 < snapshot.seq <= len(log)
    plain = Service(store, appender, Hub(), clock=clock)  # snapshots off: the whole log
    await plain.recover()

    counting = CountingStore(store)
    after = Service(counting, appender, Hub(), clock=clock, snapshot_every=7)
    assert await after.recover() == 1
    assert after.restored_from_snapshot == 1
    assert [after for auction, after in counting.reads if auction == "a-1"] == [snapshot.seq]
    runner = after.runners["a-1"]
    assert runner.auction == replay(log) and runner.auction.now == replay(log).now
    channel = after.hub.channel("a-1")
    assert channel.head == len(log) and channel.committed == replay(log)
    assert _views(after, "a-1") == _views(plain, "a-1")
    # A watcher resuming from the start still gets every event (from the log).
    assert channel.since(0) is None
    assert [event.seq for event in await after.history("a-1", 0)] == list(range(1, len(log) + 1))
    # And the auction goes on from where it was.
    clock.now += 1000
    events = await after.submit("a-1", place("acme", "99.00"))
    assert isinstance(events[-1], BidAccepted) and events[-1].seq == len(log) + 1
    await after.close()
    await plain.close()


async def test_a_snapshot_that_does_not_restore_is_ignored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, clock, log = await _a_bidding_log(5)
    await store.save_snapshot(Snapshot("a-1", len(log) - 1, b'{"v":1,"broken":true}'))
    counting = CountingStore(store)
    after = Service(counting, store, Hub(), clock=clock, snapshot_every=3)
    with caplog.at_level("WARNING", logger="gavel.service"):
        await after.recover()
    assert "snapshot ignored" in caplog.text
    assert after.restored_from_snapshot == 0
    assert ("a-1", 0) in counting.reads
    assert after.runners["a-1"].auction == replay(log)
    await after.close()


async def test_no_snapshot_without_snapshot_every_and_none_of_an_ended_auction() -> None:
    store, clock = MemoryEventStore(), Clock()
    off = service(store, clock)
    await off.create("a-1", english(starts_in=S), "c")
    await _bid_a_while(off, "a-1", clock, 12)
    await off.close()
    assert await store.load_snapshot("a-1") is None and off.snapshots_saved == 0

    store, clock = MemoryEventStore(), Clock()
    on = Service(store, store, Hub(), clock=clock, snapshot_every=1)
    await on.create("short", english(starts_in=S, ends_in=S), "c")
    await register(on, "short", "acme")
    clock.now = T0 + 3 * S  # past the close: the next command ends it first
    await on.submit("short", place("acme", "5.00"))
    await on.close()
    saved = await store.load_snapshot("short")
    assert saved is not None
    ended = replay(await logged(store, "short"))
    assert ended.phase == "ended" and saved.seq < ended.seq


async def test_a_failed_snapshot_save_is_logged_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Flaky(MemoryEventStore):
        failures = 1

        async def save_snapshot(self, snapshot: Any) -> None:
            if self.failures:
                self.failures -= 1
                raise OSError("disk full")
            await super().save_snapshot(snapshot)

    store, clock = Flaky(), Clock()
    svc = Service(store, store, Hub(), clock=clock, snapshot_every=4)
    await svc.create("a-1", english(starts_in=S), "c")
    with caplog.at_level("WARNING", logger="gavel.service"):
        await _bid_a_while(svc, "a-1", clock, 6)
        await svc.close()
    assert "snapshot not saved" in caplog.text
    saved = await store.load_snapshot("a-1")
    assert saved is not None and svc.snapshots_saved >= 1
    assert restore_snapshot(saved.payload) == replay(
        [e for e in await logged(store, "a-1") if e.seq <= saved.seq]
    )


async def test_a_snapshot_the_log_does_not_follow_is_dropped_for_the_whole_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from engine import Auction, CreateAuction, Tick
    from engine.snapshot import take_snapshot

    store, clock, log = await _a_bidding_log(3)  # seq 5 is AuctionStarted
    assert isinstance(log[4], AuctionStarted)
    # A running auction at seq 4: the stored seq 5 (a start) cannot follow it.
    other = Auction()
    rules = english(starts_in=0)
    other.handle(CreateAuction("x", T0 - 10, rules))
    other.handle(RegisterBidder("r1", T0 - 5, "ann", Decimal(0)))
    other.handle(RegisterBidder("r2", T0 - 4, "bob", Decimal(0)))
    other.handle(Tick("t", T0 + 1))
    assert other.seq == 4 and other.phase == "running"
    await store.save_snapshot(Snapshot("a-1", 4, take_snapshot(other)))
    after = Service(store, store, Hub(), clock=clock, snapshot_every=3)
    with caplog.at_level("WARNING", logger="gavel.service"):
        await after.recover()
    assert "does not follow the snapshot" in caplog.text
    assert after.restored_from_snapshot == 0
    assert after.runners["a-1"].auction == replay(log)
    assert after.hub.channel("a-1").committed == replay(log)
    await after.close()
