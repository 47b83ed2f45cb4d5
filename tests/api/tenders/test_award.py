"""Award criteria through the HTTP routes, and the ``Idempotency-Key`` crash window of the
tender commands (events committed with the key's mark, the answer never stored).

The criteria's arithmetic is tested in ``tests/engine/test_tender.py``; here a MEAT tender
goes the whole way on a live server (create with declared features, offers sealed in
Python with ``contracts.sealing``, k-of-n opening, award), and bad criteria are refused.
The crash window is tested on the tender service over a real PostgreSQL: a first run
commits its events and dies before storing its answer; a retry after the key's lease, in
a new service (a new process), is answered from the log and adds no event.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.http.idempotency import IdempotencyStore, Slot, StoredResponse
from api.http.tenders import once
from api.storage.idempotency import PostgresIdempotencyKeys
from api.storage.tenders import PostgresTenderStore
from api.tenders.service import TenderService, receipt_for
from contracts import custody, sealing
from engine.tender_records import (
    Award,
    EnvelopeKind,
    EnvelopeReceived,
    ShareAccepted,
)
from tests.api.http.test_tenders import (
    KEYS,
    OFFICERS,
    S,
    T,
    Tendering,
    assert_problem,
    committee_spec,
    now_us,
)

if TYPE_CHECKING:
    from tests.api.conftest import Live

FIN = EnvelopeKind.FINANCIAL


def _body(tender_id: str, deadline: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": tender_id,
        "title": "Ambulances",
        "currency": "EUR",
        "officers": [{"id": n, "public_key": KEYS[n].encryption_public.hex()} for n in OFFICERS],
        "threshold": 2,
        "lots": [{"id": "L1", "deadline": deadline, "opening_at": deadline}],
        "publication": "committee",
        **extra,
    }


def _seal(tender: Tendering, bidder: str, offer: sealing.Offer) -> bytes:
    info = sealing.envelope_info(tender.id, "L1", "financial", bidder, tender.deadline)
    return sealing.seal(tender.public_key, info, sealing.encode_offer(offer))


# ------------------------------------------------------------------ criteria over HTTP


async def test_a_meat_tender_is_awarded_by_score_through_the_routes(server: Live) -> None:
    tender_id = f"t-{uuid.uuid4().hex[:10]}"
    deadline = now_us() + int(1.5 * S)
    o1 = server.token("o1", "officer")
    features = [
        {"name": "quality", "weight": "1", "maximum": "0.5"},
        {"name": "delivery", "weight": "0.5", "maximum": "0.2"},
    ]
    created = await server.post(
        T, _body(tender_id, deadline, criterion="meat", features=features), token=o1
    )
    assert created.status == 201, created.body
    published = await server.post(f"{T}/{tender_id}/ceremony", {}, token=o1)
    assert published.status == 201, published.body
    tender = Tendering(
        server, tender_id, deadline, bytes.fromhex(published.json()["opening_public_key"])
    )
    offers = {
        # 1100.00 / (1 + 0.1) = 1000.00
        "ann": sealing.Offer(1100_00, "EUR", features={"quality": "0.1"}),
        # 1050.00 / (1 + 0.05 + 0.5 * 0.1) = 1050000/11 minor units, about 954.55
        "bob": sealing.Offer(1050_00, "EUR", features={"quality": "0.05", "delivery": "0.1"}),
        # 1000.00 / 1: "prestige" is not declared and counts for nothing
        "cat": sealing.Offer(1000_00, "EUR", features={"prestige": "9"}),
        # quality above the declared maximum: invalid, never ranked
        "dan": sealing.Offer(900_00, "EUR", features={"quality": "0.6"}),
    }
    for bidder, offer in offers.items():
        reply = await tender.submit(bidder, _seal(tender, bidder, offer))
        assert reply.status == 201, reply.body
    await tender.wait_deadline()
    opened = await tender.open_with("o1", "o2")
    assert opened.json()["opened"] is True
    shown = (await tender.offers(tender.officer["o1"]))["offers"]
    assert [o.get("reason", "")[:21] for o in shown if o["type"] == "EnvelopeInvalid"] == [
        "invalid_scoring_input"
    ]
    bob = next(o for o in shown if o["bidder"] == "bob")
    assert bob["features"] == [
        {"name": "delivery", "type": "OfferedFeature", "value": "0.1"},
        {"name": "quality", "type": "OfferedFeature", "value": "0.05"},
    ]
    awarded = await server.post(f"{T}/{tender_id}/lots/L1/award", {}, token=o1)
    assert awarded.status == 200, awarded.body
    event = awarded.json()["event"]
    assert (event["winner"], event["price"]) == ("bob", 1050_00)
    assert [(r["rank"], r["bidder"], r["price"], r["score"]) for r in event["ranking"]] == [
        (1, "bob", 105000, "1050000/11"),
        (2, "ann", 110000, "100000/1"),  # ties with cat: ann's envelope came first
        (3, "cat", 100000, "100000/1"),
    ]
    state = (await server.get(f"{T}/{tender_id}/events", o1)).json()["events"]
    spec = state[0]["spec"]
    assert spec["criterion"] == "meat"
    assert [(f["name"], f["weight"], f["maximum"]) for f in spec["features"]] == [
        ("quality", "1", "0.5"),
        ("delivery", "0.5", "0.2"),
    ]


async def test_a_life_cycle_cost_tender_reads_cost_in_major_units_and_old_envelopes(
    server: Live,
) -> None:
    """One name and unit for the life-cycle cost: a version 2 offer's ``cost`` (major
    units) ranks as price + cost; an envelope sealed before the upgrade (version 1,
    ``non_price_cost_minor`` in minor units) still opens and ranks alike; the old name in
    a version 2 offer is refused by name; no cost at all is an invalid scoring input."""
    tender_id = f"t-{uuid.uuid4().hex[:10]}"
    deadline = now_us() + int(1.5 * S)
    o1 = server.token("o1", "officer")
    created = await server.post(
        T, _body(tender_id, deadline, criterion="life_cycle_cost"), token=o1
    )
    assert created.status == 201, created.body
    published = await server.post(f"{T}/{tender_id}/ceremony", {}, token=o1)
    assert published.status == 201, published.body
    tender = Tendering(
        server, tender_id, deadline, bytes.fromhex(published.json()["opening_public_key"])
    )
    plaintexts = {
        # 1000.00 + 250.00 = 1250.00, sealed the old way
        "ann": b'{"amount_minor":100000,"currency":"EUR","non_price_cost_minor":25000,"version":1}',
        # 1100.00 + 100.00 = 1200.00: the best
        "bob": sealing.encode_offer(sealing.Offer(1100_00, "EUR", cost_minor=100_00)),
        # no cost: cannot rank by life-cycle cost
        "cat": sealing.encode_offer(sealing.Offer(900_00, "EUR")),
        # the old name in the new version
        "dan": b'{"amount":"800.00","currency":"EUR","non_price_cost_minor":1,"version":2}',
    }
    assert plaintexts["bob"] == b'{"amount":"1100.00","cost":"100.00","currency":"EUR","version":2}'
    for bidder, plain in plaintexts.items():
        info = sealing.envelope_info(tender.id, "L1", "financial", bidder, tender.deadline)
        reply = await tender.submit(bidder, sealing.seal(tender.public_key, info, plain))
        assert reply.status == 201, reply.body
    await tender.wait_deadline()
    assert (await tender.open_with("o1", "o2")).json()["opened"] is True
    shown = {o["bidder"]: o for o in (await tender.offers(tender.officer["o1"]))["offers"]}
    # Events keep integer minor units, as every amount in an event (docs/protocol.md).
    assert (shown["ann"]["price"], shown["ann"]["cost"]) == (100_000, 25_000)
    assert (shown["bob"]["price"], shown["bob"]["cost"]) == (110_000, 10_000)
    assert shown["cat"]["reason"].startswith("invalid_scoring_input")
    assert (
        shown["dan"]["reason"].startswith("bad_offer")
        and "non_price_cost_minor" in (shown["dan"]["reason"])
    )
    awarded = await server.post(f"{T}/{tender_id}/lots/L1/award", {}, token=o1)
    assert awarded.status == 200, awarded.body
    ranking = awarded.json()["event"]["ranking"]
    assert [(r["bidder"], r["price"], r["score"]) for r in ranking] == [
        ("bob", 110_000, 120_000),
        ("ann", 100_000, 125_000),
    ]


@pytest.mark.parametrize(
    ("extra", "detail"),
    [
        ({"criterion": "cheapest"}, "criterion must be one of"),
        ({"criterion": "meat"}, "the meat criterion needs 1 to 32 declared features"),
        (
            {"criterion": "price", "features": [{"name": "q", "weight": "1", "maximum": "1"}]},
            "features are for the meat criterion only",
        ),
        ({"criterion": "meat", "features": {"q": 1}}, "features must be an array"),
        ({"criterion": "meat", "features": [{"name": "q"}]}, "each feature is"),
        (
            {"criterion": "meat", "features": [{"name": "q", "weight": 1, "maximum": "1"}]},
            "weight must be a plain decimal string",
        ),
        (
            {"criterion": "meat", "features": [{"name": "q", "weight": "1", "maximum": "-1"}]},
            "maximum must be a plain decimal string",
        ),
        (
            {"criterion": "meat", "features": [{"name": "q", "weight": "0", "maximum": "1"}]},
            "weight must be a decimal in (0, 1000]",
        ),
        (
            {
                "criterion": "meat",
                "features": [
                    {"name": "q", "weight": "1", "maximum": "1"},
                    {"name": "q", "weight": "2", "maximum": "1"},
                ],
            },
            "feature names must be distinct",
        ),
    ],
)
async def test_an_invalid_criterion_is_422_invalid_tender(
    server: Live, extra: dict[str, Any], detail: str
) -> None:
    tender_id = f"t-{uuid.uuid4().hex[:10]}"
    o1 = server.token("o1", "officer")
    reply = await server.post(T, _body(tender_id, now_us() + 60 * S, **extra), token=o1)
    body = assert_problem(reply, 422, "invalid_tender")
    assert detail in body["detail"], body
    assert (await server.get(f"{T}/{tender_id}", o1)).status == 404


# ------------------------------------------------------------------ the crash window


class Clock:
    """Server and wall clock in one, moved by hand (µs)."""

    def __init__(self) -> None:
        self.now = 10 * S

    def __call__(self) -> int:
        return self.now


class Crash(Exception):
    """The process dies after the command's commit, before its answer is stored."""


class DyingStore(IdempotencyStore):
    """An idempotency store whose process dies just before it stores an answer."""

    async def finish(self, slot: Slot, response: StoredResponse) -> bool:
        raise Crash


Handler = Callable[[TenderService], Awaitable[dict[str, Any]]]


async def crash_then_retry(
    pg_pool: asyncpg.Pool,
    clock: Clock,
    key: Ed25519PrivateKey,
    service: TenderService,
    handler: Handler,
) -> tuple[dict[str, Any], dict[str, Any], list[bytes], list[bytes]]:
    """Run ``handler`` under a fresh key in ``service``, die before the answer is stored;
    then retry after the lease in a new service. Returns the first answer (as the handler
    built it), the retry's, and the log before and after the retry."""
    idempotency_key = f"k-{uuid.uuid4().hex}"
    fingerprint = uuid.uuid4().bytes * 2
    first: list[dict[str, Any]] = []

    async def dying() -> StoredResponse:
        first.append(await handler(service))
        return StoredResponse(200, json.dumps(first[0]).encode())

    with pytest.raises(Crash):
        dying_store = DyingStore(PostgresIdempotencyKeys(pg_pool), clock_us=clock)
        await dying_store.run("p", idempotency_key, fingerprint, dying)
    row = await pg_pool.fetchrow(
        "SELECT status_code, auction_id, first_seq, last_seq FROM idempotency_keys WHERE key = $1",
        idempotency_key,
    )
    assert row["status_code"] is None and row["auction_id"] is not None
    assert row["first_seq"] is not None and row["first_seq"] <= row["last_seq"]
    tender_id = row["auction_id"]
    before = [r.payload for r in await service.store.read(tender_id)]
    assert row["last_seq"] == len(before)  # the mark names the command's last event

    clock.now += 61 * S  # the key's lease (60 s) has run out: a retry takes it over
    restarted = TenderService(PostgresTenderStore(pg_pool), key, clock=clock)

    async def again() -> StoredResponse:
        return StoredResponse(200, json.dumps(await handler(restarted)).encode())

    store = IdempotencyStore(PostgresIdempotencyKeys(pg_pool), clock_us=clock)
    response, replayed = await store.run("p", idempotency_key, fingerprint, again)
    assert not replayed  # rebuilt from the log by the new owner, not a stored answer
    after = [r.payload for r in await restarted.store.read(tender_id)]
    # From now on the answer is stored: a further retry is a plain replay.
    response_2, replayed_2 = await store.run("p", idempotency_key, fingerprint, again)
    assert replayed_2 and response_2 == response
    return first[0], json.loads(response.body), before, after


async def _decrypted(service: TenderService, tender_id: str, officer: str, key: Any) -> Any:
    text = await service.store.share(tender_id, officer)
    assert text is not None
    return custody.decrypt_share(
        custody.EncryptedShare.from_json(json.loads(text)),
        KEYS[officer].encryption_private,
        ceremony_public=key.public_key().public_bytes_raw(),
        tender_id=tender_id,
    )


async def test_a_crash_after_the_commit_is_answered_from_the_log_on_retry(
    pg_pool: asyncpg.Pool,
) -> None:
    clock = Clock()
    key = Ed25519PrivateKey.generate()
    service = TenderService(PostgresTenderStore(pg_pool), key, clock=clock)
    tender_id = f"t-{uuid.uuid4().hex[:10]}"

    # Create: the retry finds its own tender instead of "tender exists".
    async def create(svc: TenderService) -> dict[str, Any]:
        spec = committee_spec("crash")
        events = await once(svc, tender_id, lambda mark: svc.create(tender_id, "o1", spec, mark))
        return {"seq": events[-1].seq, "type": type(events[-1]).__name__}

    first, retried, before, after = await crash_then_retry(pg_pool, clock, key, service, create)
    assert first == retried == {"seq": 1, "type": "TenderCreated"} and after == before

    service = TenderService(PostgresTenderStore(pg_pool), key, clock=clock)
    [published] = await service.ceremony(tender_id, "o1")
    public = bytes.fromhex(published.public_key)  # type: ignore[union-attr]
    info = sealing.envelope_info(tender_id, "L1", "financial", "ann", 100 * S)
    ciphertext = sealing.seal(public, info, sealing.encode_offer(sealing.Offer(4200, "EUR")))

    # An envelope: the same signed receipt, one envelope in the log (no replacement).
    async def submit(svc: TenderService) -> dict[str, Any]:
        events = await once(
            svc,
            tender_id,
            lambda mark: svc.submit(tender_id, "ann", "L1", FIN, ciphertext, mark=mark),
        )
        received = events[-1]
        assert isinstance(received, EnvelopeReceived)
        return receipt_for(tender_id, received, key).to_json()

    first, retried, before, after = await crash_then_retry(pg_pool, clock, key, service, submit)
    assert first == retried and after == before
    assert [p for p in after if b'"EnvelopeReceived"' in p] == [before[-1]]

    # The k-th share, whose commit opens the lot: the retry answers the opening, no
    # duplicate_share, the lot opened once.
    clock.now = max(clock.now, 101 * S)
    service = TenderService(PostgresTenderStore(pg_pool), key, clock=clock)
    share_1 = await _decrypted(service, tender_id, "o1", key)
    await service.submit_share(tender_id, "o1", "L1", FIN, share_1)
    share_2 = await _decrypted(service, tender_id, "o2", key)

    async def hand_in(svc: TenderService) -> dict[str, Any]:
        events, report = await once(
            svc,
            tender_id,
            lambda mark: svc.submit_share(tender_id, "o2", "L1", FIN, share_2, mark=mark),
            TenderService.share_answer,
        )
        assert isinstance(events[-1], ShareAccepted)
        return {
            "seq": events[-1].seq,
            "count": events[-1].count,
            "opened": [type(e).__name__ for e in report.events] if report else None,
            "failure": report.failure if report else None,
        }

    first, retried, before, after = await crash_then_retry(pg_pool, clock, key, service, hand_in)
    assert first == retried and after == before
    assert retried["count"] == 2 and retried["failure"] is None
    assert retried["opened"] == ["EnvelopeOpened", "StageOpened", "LotOpened"]
    assert sum(b'"LotOpened"' in p for p in after) == 1

    # A plain command (the award) through ``command``: one award.
    async def award(svc: TenderService) -> dict[str, Any]:
        def make(at: int) -> Award:
            return Award("award", at, "o1", "L1")

        events = await once(svc, tender_id, lambda mark: svc.command(tender_id, make, mark))
        return {"seq": events[-1].seq, "type": type(events[-1]).__name__}

    first, retried, before, after = await crash_then_retry(pg_pool, clock, key, service, award)
    assert first == retried and retried["type"] == "LotAwarded" and after == before


async def test_a_mark_from_another_stream_or_no_key_changes_nothing(pg_pool: asyncpg.Pool) -> None:
    clock = Clock()
    key = Ed25519PrivateKey.generate()
    service = TenderService(PostgresTenderStore(pg_pool), key, clock=clock)
    # Without an Idempotency-Key there is no slot: no mark, nothing answered from the log.
    marks: list[Any] = []

    async def create(mark: Any) -> list[Any]:
        marks.append(mark)
        return await service.create("t-a", "o1", committee_spec("crash"), mark)

    await once(service, "t-a", create)
    assert marks == [None]
    assert await pg_pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0
