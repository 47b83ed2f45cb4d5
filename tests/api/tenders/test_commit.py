"""A tender command whose COMMIT was cut is answered for certain, from the log.

Issue 12 item 7, for tenders as for auctions (``tests/api/auctions/test_service.py``): a refusal
("nothing was recorded") must mean nothing changed. Here a real COMMIT on a real
PostgreSQL is cut while its transaction is still in progress: a deferred trigger makes
the COMMIT of an event naming ``held-at-commit`` wait for an advisory lock the test
holds, and the client's connection is dropped meanwhile (the backend, blocked on the
lock, does not notice). The test then decides the transaction's fate: it lets it commit
(release the lock), kills its backend (aborted), or keeps it waiting past the service's
``outcome_wait_s`` (unknown, then a late commit).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from asyncpg.transaction import Transaction  # type: ignore[import-untyped]
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.auctions.runner import OutcomeUnknown
from api.storage.tenders import PostgresTenderStore
from api.tenders.errors import StorageFailed
from api.tenders.service import TenderService, receipt_for
from contracts import sealing
from contracts.receipts import SignedReceipt, verify_receipt
from engine.tender import replay_tender
from engine.tender_records import (
    EnvelopeKind,
    EnvelopeReceived,
    TenderPublished,
    decode_tender_event,
)
from loadtests.server_process import ServerProcess
from tests.api.conftest import DEFAULT_ENV, Live, Reply
from tests.api.http.test_tenders import (
    S,
    T,
    assert_problem,
    committee_spec,
    new_tender,
    server_public,
)
from tests.api.http.test_tenders import Tendering as RouteTender
from tests.api.killable_pg import KillablePostgres
from tests.api.storage.test_listener import PgProxy

#: The bidder whose envelope's COMMIT the trigger holds (and any event whose type is in
#: the table ``hold_types``).
HELD = "held-at-commit"
#: The advisory lock that COMMIT waits for.
LOCK = 4242

HOLD_AT_COMMIT = f"""
CREATE TABLE hold_types (type text PRIMARY KEY);
CREATE FUNCTION hold_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF convert_from(NEW.payload, 'UTF8') LIKE '%{HELD}%'
        OR EXISTS (SELECT FROM hold_types WHERE type = NEW.type) THEN
        PERFORM pg_advisory_xact_lock({LOCK});
    END IF;
    RETURN NEW;
END $$;
CREATE CONSTRAINT TRIGGER hold_at_commit AFTER INSERT ON tender_events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hold_at_commit();
"""

#: What the test does once the COMMIT is cut: given the control connection and the
#: pid of the backend still inside COMMIT.
AfterCut = Callable[[asyncpg.Connection, int], Awaitable[None]]


async def blocked_backend(control: asyncpg.Connection) -> int:
    """The pid of the backend waiting for :data:`LOCK` (inside COMMIT), once there is one."""
    for _ in range(2000):
        pid: int | None = await control.fetchval(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1",
            LOCK,
        )
        if pid is not None:
            return pid
        await asyncio.sleep(0.01)
    raise AssertionError("no COMMIT waited at the trigger")


def cut_at_commit(
    monkeypatch: pytest.MonkeyPatch, control: asyncpg.Connection, after: AfterCut
) -> list[int]:
    """The next COMMIT (it must block at the trigger) loses its connection: the client
    sees it fail while its transaction is in progress; then ``after(control, pid)`` runs.
    Later COMMITs are left alone. Returns the list of the cut backend's pid."""
    original = Transaction.commit
    cut: list[int] = []

    async def commit(self: Any) -> None:
        if cut:
            await original(self)
            return
        committing = asyncio.ensure_future(original(self))
        pid = await blocked_backend(control)
        cut.append(pid)
        self._connection.terminate()  # the answer of COMMIT is lost
        try:
            await committing
        finally:
            await after(control, pid)

    monkeypatch.setattr(Transaction, "commit", commit)
    return cut


async def let_it_commit(control: asyncpg.Connection, pid: int) -> None:
    """The held transaction goes on and commits."""
    await control.execute("SELECT pg_advisory_unlock($1)", LOCK)


async def kill_it(control: asyncpg.Connection, pid: int) -> None:
    """The held transaction's backend dies: it is aborted."""
    await control.execute("SELECT pg_terminate_backend($1)", pid)


async def keep_it(control: asyncpg.Connection, pid: int) -> None:
    """The held transaction stays in progress (until the test releases the lock)."""


@pytest.fixture
async def control(pg_dsn: str, pg_pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own, holding :data:`LOCK`, with the trigger installed."""
    await pg_pool.execute(HOLD_AT_COMMIT)
    conn = await asyncpg.connect(pg_dsn)
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK)
    try:
        yield conn
    finally:
        await conn.close()


class Tendering:
    """A published tender ``t1`` served by a :class:`TenderService` on ``pg_pool``."""

    def __init__(self, service: TenderService, public: bytes, key: Ed25519PrivateKey) -> None:
        self.service = service
        self.public = public
        self.key = key
        self.seen: list[Any] = []
        service.observers.append(lambda _tender_id, events: self.seen.extend(events))

    @classmethod
    async def start(cls, pg_pool: asyncpg.Pool, outcome_wait_s: float) -> Tendering:
        key = Ed25519PrivateKey.generate()
        service = TenderService(
            PostgresTenderStore(pg_pool), key, clock=lambda: 10 * S, outcome_wait_s=outcome_wait_s
        )
        await service.create("t1", "o1", committee_spec(kinds=(EnvelopeKind.FINANCIAL,)))
        [published] = await service.ceremony("t1", "o1")
        assert isinstance(published, TenderPublished)
        return cls(service, bytes.fromhex(published.public_key), key)

    async def submit(self, bidder: str) -> list[Any]:
        info = sealing.envelope_info("t1", "L1", "financial", bidder, 100 * S)
        sealed = sealing.seal(self.public, info, sealing.encode_offer(sealing.Offer(7, "EUR")))
        return await self.service.submit("t1", bidder, "L1", EnvelopeKind.FINANCIAL, sealed)

    async def logged(self) -> list[Any]:
        return [decode_tender_event(row.payload) for row in await self.service.store.read("t1")]

    async def envelopes(self) -> list[str]:
        rows = await self.service.store._pool.fetch(
            "SELECT bidder_id FROM tender_envelopes WHERE tender_id = 't1' ORDER BY seq"
        )
        return [row["bidder_id"] for row in rows]

    async def in_step(self) -> None:
        """Memory and log agree: the tender as served is the log's replay."""
        assert await self.service.tender("t1") == replay_tender(await self.logged())


async def test_an_envelope_whose_commit_was_cut_but_stands_gets_its_receipt(
    pg_pool: asyncpg.Pool, control: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    tender = await Tendering.start(pg_pool, outcome_wait_s=30)
    cut = cut_at_commit(monkeypatch, control, let_it_commit)
    [received] = await tender.submit(HELD)
    assert cut, "the COMMIT was not cut"
    # The answer is the one a returned COMMIT gets: the receipt of the logged event.
    assert isinstance(received, EnvelopeReceived) and received.bidder == HELD
    receipt = verify_receipt(
        receipt_for("t1", received, tender.key), tender.key.public_key().public_bytes_raw()
    )
    assert receipt.seq == received.seq
    assert (await tender.logged())[-1] == received
    assert await tender.envelopes() == [HELD]
    assert tender.seen == [received]  # observers heard of it, once
    [bob] = await tender.submit("bob")
    assert bob.seq == received.seq + 1
    await tender.in_step()


@pytest.mark.parametrize("held", ["TenderCreated", "TenderPublished"])
async def test_a_create_or_key_ceremony_whose_cut_commit_stands_is_answered_as_committed(
    pg_pool: asyncpg.Pool,
    control: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    held: str,
) -> None:
    """Every tender command goes the same way (here the two that are not ``_run``'s
    alone: the create, and the ceremony whose shares are stored with its event)."""
    await control.execute("INSERT INTO hold_types VALUES ($1)", held)
    service = TenderService(
        PostgresTenderStore(pg_pool), Ed25519PrivateKey.generate(), clock=lambda: 10 * S
    )
    spec = committee_spec(kinds=(EnvelopeKind.FINANCIAL,))
    if held == "TenderPublished":
        await service.create("t1", "o1", spec)
    cut = cut_at_commit(monkeypatch, control, let_it_commit)
    [created] = await service.create("t1", "o1", spec) if held == "TenderCreated" else [None]
    [published] = await service.ceremony("t1", "o1")
    assert cut, "the COMMIT was not cut"
    assert isinstance(published, TenderPublished)
    logged = [decode_tender_event(row.payload) for row in await service.store.read("t1")]
    assert [type(e).__name__ for e in logged] == ["TenderCreated", "TenderPublished"]
    assert created is None or logged[0] == created
    assert logged[1] == published
    assert all([await service.store.share("t1", o.officer) for o in spec.officers])
    assert await service.tender("t1") == replay_tender(logged)


async def refused_after_cut(
    pg_pool: asyncpg.Pool,
    control: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    after: AfterCut,
    outcome_wait_s: float,
    error: type[Exception],
) -> tuple[Tendering, int]:
    """A new tender, and ``HELD``'s envelope cut at COMMIT, then ``after``: its
    submission raised ``error``. The tender and its log's length before the upload."""
    tender = await Tendering.start(pg_pool, outcome_wait_s=outcome_wait_s)
    head = len(await tender.logged())
    cut = cut_at_commit(monkeypatch, control, after)
    with pytest.raises(error, match="t1: CommitUncertain|whether it was recorded"):
        await tender.submit(HELD)
    assert cut, "the COMMIT was not cut"
    return tender, head


async def test_an_envelope_whose_cut_commit_did_not_stand_is_refused_for_certain(
    pg_pool: asyncpg.Pool, control: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    tender, head = await refused_after_cut(
        pg_pool, control, monkeypatch, kill_it, 30, StorageFailed
    )
    assert len(await tender.logged()) == head and await tender.envelopes() == []
    assert tender.seen == []
    # Refused means nothing changed: the same envelope goes in again, at the same seq.
    await control.execute("SELECT pg_advisory_unlock($1)", LOCK)
    [received] = await tender.submit(HELD)
    assert received.seq == head + 1 and await tender.envelopes() == [HELD]
    await tender.in_step()


async def test_an_envelope_whose_cut_commit_stays_unknown_is_not_refused(
    pg_pool: asyncpg.Pool, control: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    tender, head = await refused_after_cut(
        pg_pool, control, monkeypatch, keep_it, 0.2, OutcomeUnknown
    )
    # While the transaction may still commit, the tender is not decided on: the next
    # command does not run (a certain refusal: it did not).
    with pytest.raises(StorageFailed, match="not settled"):
        await tender.submit("bob")
    # It commits late; the next command starts from a log that holds it.
    await control.execute("SELECT pg_advisory_unlock($1)", LOCK)
    for _ in range(1000):
        if len(await tender.logged()) > head:
            break
        await asyncio.sleep(0.01)
    [bob] = await tender.submit("bob")
    assert bob.seq == head + 2
    logged = await tender.logged()
    assert isinstance(logged[head], EnvelopeReceived) and logged[head].bidder == HELD
    assert await tender.envelopes() == [HELD, "bob"]
    # The late commit reached the observers before the next command's events.
    assert tender.seen == [logged[head], bob]
    await tender.in_step()


# ------------------------------------------------------------------ the route's answers
#
# A real server process on a PostgreSQL of this module's own, reached through a proxy
# (tests.api.storage.test_listener.PgProxy): the test cuts the server's connections while its
# COMMIT waits at the trigger, then decides the transaction's fate as above.

#: The server's GAVEL_OUTCOME_WAIT_S: long enough for the test to decide a fate after
#: the cut on a loaded machine, short enough for the unknown case to be cheap.
ROUTE_WAIT_S = 3


@pytest.fixture(scope="module")
def cut_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Live, PgProxy, str]]:
    """``(server, proxy, dsn)``: the server reaches its PostgreSQL through ``proxy``,
    the test through ``dsn``; the trigger is installed."""
    pg = KillablePostgres().start()
    proxy = PgProxy(str(pg.data_dir)).start()
    process = ServerProcess(
        Path(tmp_path_factory.mktemp("server")),
        database_url=proxy.dsn,
        env={**DEFAULT_ENV, "GAVEL_OUTCOME_WAIT_S": str(ROUTE_WAIT_S)},
    )
    try:
        process.start()  # migrates the database

        async def install() -> None:
            conn = await asyncpg.connect(pg.dsn)
            try:
                await conn.execute(HOLD_AT_COMMIT)
            finally:
                await conn.close()

        asyncio.run(install())
        yield Live(process), proxy, pg.dsn
    finally:
        process.stop()
        proxy.close()
        pg.close()


async def upload_cut_at_commit(
    cut_server: tuple[Live, PgProxy, str],
    after: AfterCut,
    meanwhile: Callable[[RouteTender], Awaitable[None]] | None = None,
) -> tuple[Reply, RouteTender, int]:
    """Upload ``HELD``'s envelope to a new tender, cut the server's connections while its
    COMMIT waits at the trigger, run ``after``, and ``meanwhile`` once the upload is
    answered, before the lock is released; the reply, the tender and the log's length
    before the upload."""
    server, proxy, dsn = cut_server
    tender = await new_tender(server, close_in=600)
    head = len(await tender.events())
    control = await asyncpg.connect(dsn)
    try:
        await control.execute("SELECT pg_advisory_lock($1)", LOCK)
        uploading = asyncio.create_task(tender.submit(HELD, tender.seal(HELD, 1000)))
        pid = await blocked_backend(control)
        proxy.refuse()  # every connection of the server cut, the one in COMMIT too
        proxy.accept()
        await after(control, pid)
        reply = await uploading
        if meanwhile is not None:
            await meanwhile(tender)
        await control.execute("SELECT pg_advisory_unlock_all()")
    finally:
        await control.close()
    return reply, tender, head


async def test_route_an_upload_cut_at_commit_that_stands_gets_its_receipt(
    cut_server: tuple[Live, PgProxy, str],
) -> None:
    reply, tender, head = await upload_cut_at_commit(cut_server, let_it_commit)
    assert reply.status == 201, reply.body
    signed = SignedReceipt.from_json({n: reply.json()[n] for n in ("receipt", "signature")})
    receipt = verify_receipt(signed, await server_public(cut_server[0]))
    logged = await tender.events()
    assert [e["bidder"] for e in logged[head:]] == [HELD] and receipt.seq == head + 1
    assert (await tender.submit("bob", tender.seal("bob", 900))).status == 201


async def test_route_an_upload_cut_at_commit_that_did_not_stand_is_503_nothing_recorded(
    cut_server: tuple[Live, PgProxy, str],
) -> None:
    reply, tender, head = await upload_cut_at_commit(cut_server, kill_it)
    body = assert_problem(reply, 503, "storage_unavailable")
    assert body["detail"] == "nothing was recorded"
    assert len(await tender.events()) == head
    # Nothing changed: the same envelope goes in again, at the same seq.
    again = await tender.submit(HELD, tender.seal(HELD, 1000))
    assert again.status == 201 and again.json()["receipt"]["seq"] == head + 1


async def test_route_an_upload_cut_at_commit_still_unknown_is_503_outcome_unknown(
    cut_server: tuple[Live, PgProxy, str],
) -> None:
    async def while_it_may_commit(tender: RouteTender) -> None:
        # The tender is not decided on, nor read, from a log that may still change: a
        # command is refused for certain (it did not run), a read is refused.
        bob = await tender.submit("bob", tender.seal("bob", 900))
        assert assert_problem(bob, 503, "storage_unavailable")["detail"] == "nothing was recorded"
        read = await tender.server.request("GET", f"{T}/{tender.id}", token=tender.bidder("bob"))
        assert_problem(read, 503, "storage_unavailable")

    reply, tender, head = await upload_cut_at_commit(cut_server, keep_it, while_it_may_commit)
    body = assert_problem(reply, 503, "outcome_unknown")
    assert "may have been recorded" in body["detail"]
    # The lock is released: the transaction commits late, and the tender goes on from a
    # log that holds it (a command refused meanwhile did not run: retried here).
    for _ in range(600):
        bob = await tender.submit("bob", tender.seal("bob", 900))
        if bob.status != 503:
            break
        await asyncio.sleep(0.05)
    assert bob.status == 201, bob.body
    logged = await tender.events()
    assert [e.get("bidder") for e in logged[head:]] == [HELD, "bob"]
