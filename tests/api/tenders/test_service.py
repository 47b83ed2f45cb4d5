"""The tender service (:mod:`api.tenders.service`) on its own: the store it is given (a
real PostgreSQL, and the in-memory adapter to show the store is a parameter), the
idempotency mark each command takes, the events a dead reservation committed read back,
and the answers built from events.

The crash windows are tested in ``test_commit.py`` (a COMMIT cut) and ``test_award.py``
(a process dying after the commit); the lifecycle over HTTP in
``tests/api/http/test_tenders.py``.
"""

from __future__ import annotations

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.storage.idempotency import Committed
from api.storage.memory import MemoryIdempotencyKeys, MemoryTenderStore
from api.storage.ports import CommandMark
from api.storage.tenders import PostgresTenderStore, TenderStore
from api.tenders.errors import Refused, TenderExists, UnknownTender
from api.tenders.service import OpeningReport, TenderService, own_event
from engine.events import CommandRejected
from engine.reasons import Reason
from engine.tender_records import (
    ChangeSchedule,
    EnvelopeKind,
    ShareAccepted,
    SharesDiscarded,
    TenderCreated,
    TenderPublished,
)
from tests.api.http.test_tenders import S, committee_spec
from tests.engine.test_tender import OPENING, published

FIN = EnvelopeKind.FINANCIAL


def service_on(store: TenderStore) -> TenderService:
    return TenderService(store, Ed25519PrivateKey.generate(), clock=lambda: 10 * S)


async def test_the_service_keeps_its_tenders_in_the_store_it_is_given(
    pg_pool: asyncpg.Pool,
) -> None:
    memory = MemoryTenderStore()
    for store in (PostgresTenderStore(pg_pool), memory):
        service = service_on(store)
        assert service.store is store
        [created] = await service.create("t1", "o1", committee_spec())
        [published_event] = await service.ceremony("t1", "o1")
        assert isinstance(created, TenderCreated) and isinstance(published_event, TenderPublished)
        assert [row.type for row in await store.read("t1")] == ["TenderCreated", "TenderPublished"]
        # Another service on the same store (another process) finds the tender taken.
        with pytest.raises(TenderExists):
            await service_on(store).create("t1", "o1", committee_spec())


async def test_a_command_commits_its_events_with_the_mark_it_is_given() -> None:
    keys = MemoryIdempotencyKeys()
    service = service_on(MemoryTenderStore(keys))

    async def reserve(key: str, now: int) -> CommandMark:
        reservation = await keys.reserve(
            "p", key, b"f", now=now, expired_before=0, lease_before=now, command_id="c"
        )
        assert reservation is not None
        return CommandMark("p", key, reservation.stamp)

    await service.create("t1", "o1", committee_spec(), await reserve("k-create", 1))
    await service.ceremony("t1", "o1", await reserve("k-ceremony", 1))
    move = await reserve("k-move", 1)

    def schedule(at: int) -> ChangeSchedule:
        return ChangeSchedule("c-move", at, "o1", "L1", 120 * S, 120 * S)

    [moved] = await service.command("t1", schedule, move)
    # A retry after the lease finds what each reservation's command committed.
    found = {}
    for key in ("k-create", "k-ceremony", "k-move"):
        again = await keys.reserve(
            "p", key, b"f", now=10, expired_before=0, lease_before=5, command_id="c2"
        )
        assert again is not None
        found[key] = again.committed
    assert found == {
        "k-create": Committed("t1", 1, 1),
        "k-ceremony": Committed("t1", 2, 2),
        "k-move": Committed("t1", moved.seq, moved.seq),
    }


async def test_recorded_reads_back_what_a_reservation_committed(pg_pool: asyncpg.Pool) -> None:
    service = service_on(PostgresTenderStore(pg_pool))
    [created] = await service.create("t1", "o1", committee_spec())
    [published_event] = await service.ceremony("t1", "o1")
    # A new process: the tender is loaded from its log, then the range is read.
    restarted = service_on(PostgresTenderStore(pg_pool))
    assert await restarted.recorded("t1", 2, 2) == [published_event]
    assert await restarted.recorded("t1", 1, 2) == [created, published_event]
    with pytest.raises(UnknownTender):
        await restarted.recorded("t-none", 1, 1)


def test_own_event_is_the_last_or_the_refusal_raised() -> None:
    run = published()
    assert own_event(run.events) == run.events[-1]
    rejected = CommandRejected(9, 1, "c", "Award", "o9", Reason.NOT_TENDER_OFFICER, "")
    with pytest.raises(Refused) as refused:
        own_event([*run.events, rejected])
    assert refused.value.rejected is rejected
    assert str(refused.value) == "not tender officer"  # the reason in words when no detail


def test_a_share_answer_is_rebuilt_from_the_events_it_committed() -> None:
    run = published()
    run.submit("ann", 10 * S, "ann-1")
    first = run.share("o1", OPENING)
    assert TenderService.share_answer(first) == (first, None)
    second = run.share("o2", OPENING + 1)
    opening = run.opening(OPENING + 2, FIN, {"ann": 900})
    events, report = TenderService.share_answer([*second, *opening])
    assert events == second and isinstance(events[-1], ShareAccepted)
    assert report == OpeningReport(tuple(opening), None)
    discarded = SharesDiscarded(99, OPENING + 3, "L1", FIN, "bad_share: no key")
    events, report = TenderService.share_answer([*second, discarded])
    assert report == OpeningReport((discarded,), "bad_share: no key")
