"""Sealed tenders over HTTP against a real server, real sockets and a real PostgreSQL.

The tests named ``test_annex_iv_*`` are the seven requirements of issue 4, each mapped to
Directive 2014/24/EU Annex IV; the others cover the rest of the lifecycle (award, the
hand-off to a multi-round auction) and the refusals of the routes. Suppliers seal with
:mod:`contracts.sealing` and officers decrypt their shares with :mod:`contracts.custody`,
exactly as the CLI and the browser do: the server only ever receives ciphertext.

Deadlines are real: a tender closes a second or two after it is created and the tests
sleep until the server's clock (the same machine's) is past it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import time
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.storage.tenders import PostgresTenderStore
from api.tenders.errors import StorageFailed, TenderExists
from api.tenders.service import TenderService, receipt_for
from contracts import custody, sealing
from contracts.receipts import SignedReceipt, verify_receipt
from engine.codec import encode
from engine.events import CommandRejected
from engine.reasons import Reason
from engine.tender_records import (
    EnvelopeKind,
    EnvelopeReceived,
    ExcludeBidder,
    FollowUp,
    LotSpec,
    Officer,
    Publication,
    TenderSpec,
)

if TYPE_CHECKING:
    from tests.api.conftest import Live, Reply

S = 1_000_000
T = "/api/v1/tenders"
OFFICERS = ("o1", "o2", "o3")
KEYS = {name: custody.generate_officer_keys() for name in OFFICERS}
#: Plaintext markers that must never be readable before the opening.
SECRET_PRICE = 987_654_321
SECRET_DOC = b"SECRET-TECHNICAL-PROPOSAL-7f3a9c"


def now_us() -> int:
    return time.time_ns() // 1000


def committee_spec(
    title: str = "t", kinds: tuple[EnvelopeKind, ...] = (EnvelopeKind.FINANCIAL,)
) -> TenderSpec:
    """A tender opened by 2 of the officers o1-o3, one lot ``L1`` whose deadline and
    opening are at 100 s of a test clock, awarded by the committee."""
    return TenderSpec(
        title,
        "EUR",
        tuple(Officer(n, KEYS[n].encryption_public.hex()) for n in OFFICERS),
        2,
        (LotSpec("L1", "", 100 * S, 100 * S, kinds),),
        Publication.COMMITTEE,
        FollowUp.AWARD,
        "",
    )


def assert_problem(reply: Reply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, (reply.status, reply.body)
    assert reply.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = reply.json()
    assert body["code"] == code, body
    return body


class Tendering:
    """One tender on the live server, with its committee and bidders."""

    def __init__(self, server: Live, tender_id: str, deadline: int, public_key: bytes) -> None:
        self.server = server
        self.id = tender_id
        self.deadline = deadline
        self.public_key = public_key
        self.officer = {name: server.token(name, "officer") for name in OFFICERS}

    def bidder(self, name: str) -> str:
        return self.server.token(name, "bidder", self.id)

    def seal(
        self,
        bidder: str,
        amount: int,
        *,
        tender_id: str | None = None,
        deadline: int | None = None,
        currency: str = "EUR",
        documents: dict[str, bytes] | None = None,
    ) -> bytes:
        info = sealing.envelope_info(
            tender_id or self.id, "L1", "financial", bidder, deadline or self.deadline
        )
        offer = sealing.Offer(amount_minor=amount, currency=currency, documents=documents or {})
        return sealing.seal(self.public_key, info, sealing.encode_offer(offer))

    async def submit(self, bidder: str, ciphertext: bytes, kind: str = "financial") -> Reply:
        return await self.server.post(
            f"{T}/{self.id}/lots/L1/envelopes",
            {"kind": kind, "ciphertext": base64.b64encode(ciphertext).decode()},
            token=self.bidder(bidder),
        )

    async def share_of(self, officer: str) -> custody.Share:
        reply = await self.server.get(f"{T}/{self.id}/shares/mine", self.officer[officer])
        assert reply.status == 200, reply.body
        encrypted = custody.EncryptedShare.from_json(reply.json())
        return custody.decrypt_share(
            encrypted,
            KEYS[officer].encryption_private,
            ceremony_public=await server_public(self.server),
            tender_id=self.id,
        )

    async def hand_in(self, officer: str, share: custody.Share | dict[str, Any]) -> Reply:
        body = share.to_json() if isinstance(share, custody.Share) else share
        return await self.server.post(
            f"{T}/{self.id}/lots/L1/shares",
            {"kind": "financial", "share": body},
            token=self.officer[officer],
        )

    async def events(self, token: str | None = None) -> list[dict[str, Any]]:
        reply = await self.server.get(f"{T}/{self.id}/events", token or self.officer["o1"])
        assert reply.status == 200, reply.body
        events: list[dict[str, Any]] = reply.json()["events"]
        return events

    async def offers(self, token: str) -> dict[str, Any]:
        reply = await self.server.get(f"{T}/{self.id}/lots/L1/offers", token)
        assert reply.status == 200, reply.body
        body: dict[str, Any] = reply.json()
        return body

    async def wait_deadline(self) -> None:
        while now_us() <= self.deadline:
            await asyncio.sleep(max(0.01, (self.deadline - now_us()) / S + 0.01))

    async def open_with(self, *officers: str) -> Reply:
        reply = None
        for officer in officers:
            reply = await self.hand_in(officer, await self.share_of(officer))
            assert reply.status == 201, reply.body
        assert reply is not None
        return reply


async def server_public(server: Live) -> bytes:
    reply = await server.get(f"{T}/server-key")
    assert reply.status == 200, reply.body
    return bytes.fromhex(reply.json()["public_key"])


async def new_tender(
    server: Live,
    *,
    close_in: float = 1.5,
    threshold: int = 2,
    publication: str = "committee",
    follow_up: str = "award",
) -> Tendering:
    tender_id = f"t-{uuid.uuid4().hex[:10]}"
    deadline = now_us() + int(close_in * S)
    o1 = server.token("o1", "officer")
    reply = await server.post(
        T,
        {
            "id": tender_id,
            "title": "Road repairs",
            "currency": "EUR",
            "officers": [
                {"id": name, "public_key": KEYS[name].encryption_public.hex()} for name in OFFICERS
            ],
            "threshold": threshold,
            "lots": [{"id": "L1", "title": "North", "deadline": deadline, "opening_at": deadline}],
            "publication": publication,
            "follow_up": follow_up,
            **({"auction_rules": {"format": "multiround"}} if follow_up == "auction" else {}),
        },
        token=o1,
    )
    assert reply.status == 201, reply.body
    reply = await server.post(f"{T}/{tender_id}/ceremony", {}, token=o1)
    assert reply.status == 201, reply.body
    return Tendering(server, tender_id, deadline, bytes.fromhex(reply.json()["opening_public_key"]))


async def sealed_for_auction(server: Live, *, close_in: float = 1.5) -> Tendering:
    """A tender whose lot goes on to an auction (threshold 1), with ann (120.00) and bob
    (110.00) sealed in and its deadline past; not opened yet."""
    tender = await new_tender(server, close_in=close_in, threshold=1, follow_up="auction")
    for bidder, price in (("ann", 120_00), ("bob", 110_00)):
        assert (await tender.submit(bidder, tender.seal(bidder, price))).status == 201
    await tender.wait_deadline()
    return tender


def hand_off_rules(starts_in_s: int = 60) -> dict[str, Any]:
    """The rules of the auction a hand-off creates: one round of multiround, in EUR."""
    return {
        "format": "multiround",
        "currency": "EUR",
        "starts_at": now_us() + starts_in_s * S,
        "turn_us": 30 * S,
        "step": {"amount": "1.00"},
        "rounds": 1,
    }


# ------------------------------------------------------------------ Annex IV (a)


async def test_annex_iv_a_receipt_time_is_the_servers_and_verifies_offline(server: Live) -> None:
    tender = await new_tender(server)
    ciphertext = tender.seal("ann", 1000)
    before = now_us()
    reply = await tender.submit("ann", ciphertext)
    after = now_us()
    assert reply.status == 201, reply.body
    signed = SignedReceipt.from_json({k: reply.json()[k] for k in ("receipt", "signature")})
    # Offline: only the published key and the receipt itself.
    receipt = verify_receipt(signed, await server_public(server))
    assert before <= receipt.received_at_us <= after <= tender.deadline
    assert receipt.commitment == hashlib.sha256(ciphertext).hexdigest()
    assert (receipt.tender_id, receipt.lot_id, receipt.bidder_id) == (tender.id, "L1", "ann")
    tampered = SignedReceipt(
        replace(receipt, received_at_us=receipt.received_at_us - 1), signed.signature
    )
    with pytest.raises(ValueError, match="bad_signature"):
        verify_receipt(tampered, await server_public(server))
    await tender.wait_deadline()
    late = await tender.submit("bob", tender.seal("bob", 900))
    body = assert_problem(late, 409, Reason.SUBMISSION_CLOSED.value)
    assert body["server_time"] > tender.deadline


async def test_annex_iv_a_one_microsecond_after_the_deadline_on_the_server_clock(
    pg_pool: asyncpg.Pool,
) -> None:
    """The service with a clock we hold: at the deadline accepted, one µs later refused;
    both in PostgreSQL, and the receipt verifies with the public key alone."""
    service, clock, key, opening_public = await _service_tender(pg_pool, (EnvelopeKind.FINANCIAL,))
    info = sealing.envelope_info("t1", "L1", "financial", "ann", 100 * S)
    ciphertext = sealing.seal(opening_public, info, sealing.encode_offer(sealing.Offer(5, "EUR")))
    clock[0] = 100 * S
    [received] = await service.submit("t1", "ann", "L1", EnvelopeKind.FINANCIAL, ciphertext)
    assert isinstance(received, EnvelopeReceived) and received.at == 100 * S
    receipt = verify_receipt(receipt_for("t1", received, key), key.public_key().public_bytes_raw())
    assert receipt.received_at_us == 100 * S
    assert receipt.commitment == hashlib.sha256(ciphertext).hexdigest()
    clock[0] = 100 * S + 1
    events = await service.submit("t1", "bob", "L1", EnvelopeKind.FINANCIAL, ciphertext)
    assert isinstance(events[-1], CommandRejected)
    assert events[-1].reason is Reason.SUBMISSION_CLOSED and events[-1].at == 100 * S + 1
    stored = await pg_pool.fetch(
        "SELECT type FROM tender_events WHERE tender_id = 't1' ORDER BY seq"
    )
    assert [r["type"] for r in stored][-2:] == ["LotClosed", "CommandRejected"]
    assert await pg_pool.fetchval("SELECT count(*) FROM tender_envelopes") == 1


# ------------------------------------------------------------------ Annex IV (b, g)


async def test_annex_iv_b_no_plaintext_in_the_database_or_any_route_before_the_deadline(
    server: Live,
) -> None:
    tender = await new_tender(server, close_in=30, publication="public")
    reply = await tender.submit(
        "ann", tender.seal("ann", SECRET_PRICE, documents={"proposal.txt": SECRET_DOC})
    )
    assert reply.status == 201
    seq = reply.json()["receipt"]["seq"]
    markers = [
        str(SECRET_PRICE).encode(),
        SECRET_DOC,
        base64.b64encode(SECRET_DOC),
        base64.b64encode(SECRET_DOC)[:24],
    ]
    # Every route a party might use, by every kind of party.
    observer = server.token("eve", "observer", tender.id)
    tokens = [tender.officer["o1"], tender.bidder("ann"), tender.bidder("bob"), observer]
    paths = [
        f"{T}/server-key",
        f"{T}/{tender.id}",
        f"{T}/{tender.id}/events",
        f"{T}/{tender.id}/shares/mine",
        f"{T}/{tender.id}/receipts/{seq}",
        f"{T}/{tender.id}/lots/L1/envelopes",
        f"{T}/{tender.id}/lots/L1/offers",
    ]
    refusals = 0
    for token in tokens:
        for path in paths:
            answer = await server.get(path, token)
            assert answer.status < 500, (path, answer.body)
            for marker in markers:
                assert marker not in answer.body, (path, marker)
            if path.endswith("/lots/L1/envelopes"):
                assert_problem(answer, 409, Reason.BIDS_SEALED.value)
                refusals += 1
    # Each refused read is in the log, with who asked.
    refused = [
        e
        for e in await tender.events()
        if e["type"] == "CommandRejected" and e["command"] == "ReadBids"
    ]
    assert len(refused) == refusals == len(tokens)
    assert {e["bidder"] for e in refused} == {"o1", "ann", "bob", "eve"}
    # A full dump of the database: every row of every table, text and bytes.
    conn = await asyncpg.connect(server.process.database_url)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        assert {"tender_events", "tender_envelopes", "tender_shares"} <= {
            t["tablename"] for t in tables
        }
        for table in tables:
            for row in await conn.fetch(f'SELECT * FROM "{table["tablename"]}"'):
                for value in row.values():
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    for marker in markers:
                        assert marker not in raw, (table["tablename"], marker)
    finally:
        await conn.close()


# ------------------------------------------------------------------ Annex IV (c, g)


async def test_annex_iv_c_only_tender_officers_change_the_deadline_and_only_before_it(
    server: Live,
) -> None:
    tender = await new_tender(server, close_in=1.0)
    path = f"{T}/{tender.id}/lots/L1/schedule"
    new_deadline = tender.deadline + int(0.5 * S)
    body = {"deadline": new_deadline, "opening_at": new_deadline}
    outsider = await server.post(path, body, token=server.officer)  # an officer, not of this tender
    assert_problem(outsider, 403, Reason.NOT_TENDER_OFFICER.value)
    bidder = await server.post(path, body, token=tender.bidder("ann"))
    assert_problem(bidder, 403, Reason.NOT_TENDER_OFFICER.value)
    past = now_us() - 60 * S  # a deadline in the past: in range, refused by the engine
    bad = await server.post(
        path, {"deadline": past, "opening_at": past}, token=tender.officer["o2"]
    )
    assert_problem(bad, 422, Reason.INVALID_SCHEDULE.value)
    sealed_early = tender.seal("ann", 100)  # under the deadline before the change
    changed = await server.post(path, body, token=tender.officer["o2"])
    assert changed.status == 200, changed.body
    stale = await server.post(
        f"{T}/{tender.id}/lots/L1/envelopes",
        {
            "kind": "financial",
            "ciphertext": base64.b64encode(sealed_early).decode(),
            "deadline": tender.deadline,
        },
        token=tender.bidder("ann"),
    )
    assert_problem(stale, 422, Reason.INVALID_SCHEDULE.value)  # told to seal again
    tender.deadline = new_deadline
    state = (await server.get(f"{T}/{tender.id}", tender.officer["o1"])).json()
    assert state["lots"][0]["deadline"] == new_deadline
    await tender.wait_deadline()
    late = await server.post(
        path,
        {"deadline": now_us() + 60 * S, "opening_at": now_us() + 60 * S},
        token=tender.officer["o1"],
    )
    assert_problem(late, 409, Reason.SUBMISSION_CLOSED.value)
    attempts = [
        (e["type"], e.get("by") or e.get("bidder"), e.get("reason"))
        for e in await tender.events()
        if e["type"] == "ScheduleChanged" or e.get("command") == "ChangeSchedule"
    ]
    assert attempts == [
        ("CommandRejected", "officer-1", "not_tender_officer"),
        ("CommandRejected", "ann", "not_tender_officer"),
        ("CommandRejected", "o2", "invalid_schedule"),
        ("ScheduleChanged", "o2", None),
        ("CommandRejected", "o1", "submission_closed"),
    ]


# ------------------------------------------------------------------ Annex IV (e)


async def test_annex_iv_e_k_minus_1_shares_open_nothing_k_distinct_open_all(server: Live) -> None:
    tender = await new_tender(server, threshold=2)
    for bidder, price in (("ann", 1200), ("bob", 1100), ("cat", 1300)):
        assert (await tender.submit(bidder, tender.seal(bidder, price))).status == 201
    early = await tender.hand_in("o1", await tender.share_of("o1"))
    assert_problem(early, 409, Reason.OPENING_NOT_DUE.value)  # valid share, before the deadline
    await tender.wait_deadline()
    listed = await server.get(f"{T}/{tender.id}/lots/L1/envelopes", tender.officer["o2"])
    assert listed.status == 200, listed.body
    assert [e["bidder"] for e in listed.json()["envelopes"]] == ["ann", "bob", "cat"]
    peek = await server.get(f"{T}/{tender.id}/lots/L1/envelopes", tender.bidder("ann"))
    assert_problem(peek, 403, Reason.NOT_TENDER_OFFICER.value)
    share_o1 = await tender.share_of("o1")
    first = await tender.hand_in("o1", share_o1)
    assert first.status == 201 and first.json() == {
        "seq": first.json()["seq"],
        "count": 1,
        "opened": False,
    }
    assert (await tender.offers(tender.officer["o1"]))["offers"] == []
    # Forged: a share value that does not match its signed digest.
    forged = share_o1.to_json() | {"value": bytes(32).hex(), "officer_id": "o2"}
    body = assert_problem(await tender.hand_in("o2", forged), 422, Reason.INVALID_SHARE.value)
    assert "forged_share" in body["detail"]
    # Someone else's (real) share, handed in by o2: refused.
    stolen = assert_problem(await tender.hand_in("o2", share_o1), 422, Reason.INVALID_SHARE.value)
    assert "o1" in stolen["detail"]
    malformed = await tender.hand_in("o2", {"type": "nope"})
    assert_problem(malformed, 422, Reason.INVALID_SHARE.value)
    duplicate = await tender.hand_in("o1", share_o1)
    assert_problem(duplicate, 409, Reason.DUPLICATE_SHARE.value)
    assert (await tender.offers(tender.officer["o1"]))["offers"] == []
    opened = await tender.hand_in("o3", await tender.share_of("o3"))
    assert opened.status == 201 and opened.json()["opened"] is True
    offers = (await tender.offers(tender.officer["o2"]))["offers"]
    assert sorted((o["bidder"], o["price"]) for o in offers) == [
        ("ann", 1200),
        ("bob", 1100),
        ("cat", 1300),
    ]
    log = await tender.events()
    kinds = [e["type"] for e in log]
    assert kinds.count("ShareAccepted") == 2 and kinds.count("EnvelopeOpened") == 3
    assert kinds.count("BidsRead") == 1
    assert "StageOpened" in kinds and "LotOpened" in kinds
    # After the opening no stage is left: another share is refused.
    again = await tender.hand_in("o2", await tender.share_of("o2"))
    assert_problem(again, 409, Reason.STAGE_NOT_CURRENT.value)
    award = await server.post(f"{T}/{tender.id}/lots/L1/award", {}, token=tender.officer["o2"])
    assert award.status == 200, award.body
    assert award.json()["event"]["winner"] == "bob" and award.json()["event"]["price"] == 1100


# ------------------------------------------------------------------ Annex IV (d, f)


@pytest.mark.parametrize("publication", ["committee", "public"])
async def test_annex_iv_d_f_plaintext_to_the_committee_and_per_publication_rule(
    server: Live, publication: str
) -> None:
    tender = await new_tender(server, threshold=1, publication=publication)
    for bidder, price in (("ann", 500), ("bob", 400)):
        assert (await tender.submit(bidder, tender.seal(bidder, price))).status == 201
    observer = server.token("eve", "observer", tender.id)
    ann, bob = tender.bidder("ann"), tender.bidder("bob")
    for token in (tender.officer["o1"], ann, bob, observer):
        assert (await tender.offers(token))["offers"] == []  # nothing before the opening
    await tender.wait_deadline()
    reply = await tender.open_with("o1")
    assert reply.json()["opened"] is True

    def bidders(body: dict[str, Any]) -> list[str]:
        return sorted(o["bidder"] for o in body["offers"])

    assert bidders(await tender.offers(tender.officer["o3"])) == ["ann", "bob"]
    assert bidders(await tender.offers(server.token("aud", "auditor"))) == ["ann", "bob"]
    if publication == "public":
        assert bidders(await tender.offers(observer)) == ["ann", "bob"]
        assert bidders(await tender.offers(ann)) == ["ann", "bob"]
    else:
        assert bidders(await tender.offers(observer)) == []
        assert bidders(await tender.offers(ann)) == ["ann"]  # its own, never another's
        assert bidders(await tender.offers(bob)) == ["bob"]
        hidden = [e for e in await tender.events(ann) if e["type"] == "EnvelopeOpened"]
        assert [e.get("bidder") for e in hidden] == ["ann", None]
        assert all("price" not in e for e in hidden if e.get("hidden"))


# ------------------------------------------------------------------ Annex IV (g)


async def test_annex_iv_g_a_moved_ciphertext_fails_to_open_and_is_recorded(server: Live) -> None:
    tender = await new_tender(server, threshold=1)
    other = await new_tender(server, threshold=1)
    annes = tender.seal("ann", 700)
    assert (await tender.submit("ann", annes)).status == 201
    assert (await tender.submit("bob", annes)).status == 201  # ann's envelope, bob's name
    foreign = other.seal("cat", 650)  # sealed for another tender (and its key)
    assert (await tender.submit("cat", foreign)).status == 201
    rebound = tender.seal("dan", 600, tender_id=other.id)  # right key, another tender's info
    assert (await tender.submit("dan", rebound)).status == 201
    garbage = b"\x00" * min(sealing.ENVELOPE_SIZES)  # the right size, but no envelope
    assert (await tender.submit("eve", garbage)).status == 201
    clear = await tender.submit("fay", sealing.encode_offer(sealing.Offer(1, "EUR")))
    assert_problem(clear, 422, "invalid_field")  # an offer sent in clear is never stored
    await tender.wait_deadline()
    assert (await tender.open_with("o2")).json()["opened"] is True
    log = await tender.events()
    opened = {e["bidder"]: e for e in log if e["type"] in ("EnvelopeOpened", "EnvelopeInvalid")}
    assert opened["ann"]["type"] == "EnvelopeOpened" and opened["ann"]["price"] == 700
    for bidder in ("bob", "cat", "dan"):
        assert opened[bidder]["type"] == "EnvelopeInvalid"
        assert opened[bidder]["reason"].startswith("decrypt_failed"), opened[bidder]
    assert opened["eve"]["reason"].startswith("decrypt_failed")
    assert "fay" not in opened
    stage = next(e for e in log if e["type"] == "StageOpened")
    assert (stage["opened"], stage["invalid"]) == (1, 4)


# ------------------------------------------------------------------ Annex IV, 7


async def test_annex_iv_supplier_proves_receipt_commitment_in_log_before_deadline(
    server: Live,
) -> None:
    tender = await new_tender(server)
    ciphertext = tender.seal("ann", 800)
    first = (await tender.submit("ann", ciphertext)).json()
    replacement = tender.seal("ann", 750)
    second = (await tender.submit("ann", replacement)).json()
    assert second["replaced"] == hashlib.sha256(ciphertext).hexdigest()
    receipt = second["receipt"]
    assert receipt["commitment"] == hashlib.sha256(replacement).hexdigest()
    log = await tender.events(tender.bidder("ann"))  # the bidder reads the log itself
    received = [e for e in log if e["type"] == "EnvelopeReceived" and e["bidder"] == "ann"]
    assert [(e["seq"], e["commitment"], e["at"]) for e in received] == [
        (r["receipt"]["seq"], r["receipt"]["commitment"], r["receipt"]["received_at_us"])
        for r in (first, second)
    ]
    assert all(e["at"] <= tender.deadline for e in received)
    assert (await tender.submit("bob", tender.seal("bob", 700))).status == 201
    names = {e["bidder"] for e in await tender.events(tender.bidder("ann")) if "bidder" in e}
    assert names == {"ann", None}  # other tenderers' names are not for ann to know
    names = {e["bidder"] for e in await tender.events() if "bidder" in e}
    assert names == {"ann", "bob"}  # the committee sees them
    again = await server.get(f"{T}/{tender.id}/receipts/{receipt['seq']}", tender.bidder("ann"))
    assert again.status == 200 and again.json() == {k: second[k] for k in ("receipt", "signature")}
    other = await server.get(f"{T}/{tender.id}/receipts/{receipt['seq']}", tender.bidder("bob"))
    assert_problem(other, 403, "wrong_party")
    outsider = await server.get(f"{T}/{tender.id}/receipts/{receipt['seq']}", server.officer)
    assert_problem(outsider, 403, "wrong_party")  # an officer, but not of this tender
    committee = await server.get(f"{T}/{tender.id}/receipts/{receipt['seq']}", tender.officer["o3"])
    assert committee.status == 200
    withdrawn = await server.post(
        f"{T}/{tender.id}/lots/L1/envelopes/financial/withdraw", {}, token=tender.bidder("ann")
    )
    assert withdrawn.status == 200 and withdrawn.json()["receipt"]["action"] == "withdrawn"
    nothing = await server.post(
        f"{T}/{tender.id}/lots/L1/envelopes/financial/withdraw", {}, token=tender.bidder("ann")
    )
    assert_problem(nothing, 409, Reason.NO_ENVELOPE.value)


# ------------------------------------------------------------------ the rest


async def test_hand_off_makes_the_opened_prices_initial_bids_of_a_multiround_auction(
    server: Live,
) -> None:
    tender = await sealed_for_auction(server)
    rules = hand_off_rules()
    early = await server.post(
        f"{T}/{tender.id}/lots/L1/auction", {"rules": rules}, token=tender.officer["o1"]
    )
    assert_problem(early, 409, Reason.LOT_NOT_OPENED.value)
    await tender.open_with("o1")
    award = await server.post(f"{T}/{tender.id}/lots/L1/award", {}, token=tender.officer["o1"])
    assert_problem(award, 409, Reason.WRONG_FOLLOW_UP.value)
    reply = await server.post(
        f"{T}/{tender.id}/lots/L1/auction", {"rules": rules}, token=tender.officer["o1"]
    )
    assert reply.status == 201, reply.body
    auction_id = reply.json()["auction_id"]
    state = await server.state(auction_id)
    assert state["format"] == "multiround" and state["bidders"] == 2
    ranking = {line["bidder"]: line["price"] for line in state["ranking"]}
    assert ranking == {"bob": 110_00, "ann": 120_00}
    assert set(reply.json()["tokens"]) == {"ann", "bob"}
    twice = await server.post(
        f"{T}/{tender.id}/lots/L1/auction", {"rules": rules}, token=tender.officer["o1"]
    )
    assert_problem(twice, 409, Reason.LOT_DECIDED.value)


async def test_route_refusals(server: Live) -> None:
    o1 = server.token("o1", "officer")
    missing = await server.get(f"{T}/t-none", o1)
    assert_problem(missing, 404, "not_found")
    tender = await new_tender(server, close_in=30)
    again = await server.post(
        T,
        {
            "id": tender.id,
            "title": "x",
            "currency": "EUR",
            "threshold": 1,
            "officers": [{"id": "o1", "public_key": KEYS["o1"].encryption_public.hex()}],
            "lots": [{"id": "L1", "deadline": now_us() + S, "opening_at": now_us() + S}],
        },
        token=o1,
    )
    assert_problem(again, 409, Reason.TENDER_EXISTS.value)
    invalid = await server.post(
        T,
        {
            "title": "x",
            "currency": "EUR",
            "threshold": 3,
            "officers": [{"id": "o1", "public_key": KEYS["o1"].encryption_public.hex()}],
            "lots": [{"id": "L1", "deadline": now_us() + S, "opening_at": now_us() + S}],
        },
        token=o1,
    )
    assert_problem(invalid, 422, Reason.INVALID_TENDER.value)
    assert_problem(
        await server.post(T, {"title": "x", "colour": 1}, token=o1), 422, "unknown_field"
    )
    assert_problem(await server.post(T, {"title": "x"}, token=o1), 422, "missing_field")
    twice = await server.post(f"{T}/{tender.id}/ceremony", {}, token=o1)
    assert_problem(twice, 409, Reason.TENDER_ALREADY_PUBLISHED.value)
    bidder = tender.bidder("ann")
    sealed = base64.b64encode(tender.seal("ann", 1)).decode()
    wrong_lot = await server.post(
        f"{T}/{tender.id}/lots/L9/envelopes",
        {"kind": "financial", "ciphertext": sealed},
        token=bidder,
    )
    assert_problem(wrong_lot, 404, Reason.UNKNOWN_LOT.value)
    wrong_kind = await tender.submit("ann", tender.seal("ann", 1), kind="technical")
    assert_problem(wrong_kind, 422, Reason.WRONG_ENVELOPE_KIND.value)
    bad_b64 = await server.post(
        f"{T}/{tender.id}/lots/L1/envelopes",
        {"kind": "financial", "ciphertext": "!!"},
        token=bidder,
    )
    assert_problem(bad_b64, 422, "invalid_field")
    officer_submits = await server.post(
        f"{T}/{tender.id}/lots/L1/envelopes", {"kind": "financial", "ciphertext": "AAAA"}, token=o1
    )
    assert_problem(officer_submits, 403, "role_forbidden")
    other_tender = server.token("ann", "bidder", "t-other")
    assert_problem(
        await server.post(
            f"{T}/{tender.id}/lots/L1/envelopes",
            {"kind": "financial", "ciphertext": "AAAA"},
            token=other_tender,
        ),
        403,
        "wrong_auction",
    )
    assert_problem(
        await server.post(f"{T}/{tender.id}/lots/L1/award", {}, token=o1),
        409,
        Reason.LOT_NOT_OPENED.value,
    )
    assert_problem(
        await server.post(f"{T}/{tender.id}/lots/L1/exclude", {"bidder": "ann"}, token=o1),
        409,
        Reason.OPENING_NOT_DUE.value,
    )


# ------------------------------------------------------------------ the service, on its own


async def _service_tender(
    pg_pool: asyncpg.Pool, kinds: tuple[EnvelopeKind, ...]
) -> tuple[TenderService, list[int], Ed25519PrivateKey, bytes]:
    clock = [10 * S]
    key = Ed25519PrivateKey.generate()
    service = TenderService(PostgresTenderStore(pg_pool), key, clock=lambda: clock[0])
    await service.create("t1", "o1", committee_spec(kinds=kinds))
    [published] = await service.ceremony("t1", "o1")
    return service, clock, key, bytes.fromhex(published.public_key)  # type: ignore[union-attr]


async def _share(service: TenderService, officer: str, key: Ed25519PrivateKey) -> custody.Share:
    text = await service.store.share("t1", officer)
    assert text is not None
    return custody.decrypt_share(
        custody.EncryptedShare.from_json(json.loads(text)),
        KEYS[officer].encryption_private,
        ceremony_public=key.public_key().public_bytes_raw(),
        tender_id="t1",
    )


async def test_shares_lost_in_a_restart_are_discarded_and_handed_in_again(
    pg_pool: asyncpg.Pool,
) -> None:
    service, clock, key, public = await _service_tender(pg_pool, (EnvelopeKind.FINANCIAL,))
    info = sealing.envelope_info("t1", "L1", "financial", "ann", 100 * S)
    offer = sealing.encode_offer(sealing.Offer(4200, "EUR"))
    await service.submit(
        "t1", "ann", "L1", EnvelopeKind.FINANCIAL, sealing.seal(public, info, offer)
    )
    clock[0] = 101 * S
    share = await _share(service, "o1", key)
    events, report = await service.submit_share("t1", "o1", "L1", EnvelopeKind.FINANCIAL, share)
    assert type(events[-1]).__name__ == "ShareAccepted" and report is None
    # A new process: the log says o1 handed in a share, but no memory holds it.
    restarted = TenderService(PostgresTenderStore(pg_pool), key, clock=lambda: clock[0])
    tender = await restarted.tender("t1")
    assert tender.lots["L1"].shares == []
    assert [e.type for e in await restarted.store.read("t1")][-1] == "SharesDiscarded"
    await restarted.submit_share("t1", "o1", "L1", EnvelopeKind.FINANCIAL, share)
    events, report = await restarted.submit_share(
        "t1", "o2", "L1", EnvelopeKind.FINANCIAL, await _share(restarted, "o2", key)
    )
    assert report is not None and report.failure is None
    opened = [e for e in report.events if type(e).__name__ == "EnvelopeOpened"]
    assert [(e.bidder, e.price) for e in opened] == [("ann", 4200)]  # type: ignore[union-attr]


async def test_envelope_kinds_open_in_stages_each_with_its_own_quorum(
    pg_pool: asyncpg.Pool,
) -> None:
    kinds = (EnvelopeKind.TECHNICAL, EnvelopeKind.FINANCIAL)
    service, clock, key, public = await _service_tender(pg_pool, kinds)
    for bidder in ("ann", "bob"):
        for kind, offer in (
            (EnvelopeKind.TECHNICAL, sealing.Offer(0, "EUR", documents={"plan.pdf": SECRET_DOC})),
            (EnvelopeKind.FINANCIAL, sealing.Offer(9900, "EUR")),
        ):
            info = sealing.envelope_info("t1", "L1", kind.value, bidder, 100 * S)
            sealed = sealing.seal(public, info, sealing.encode_offer(offer))
            await service.submit("t1", bidder, "L1", kind, sealed)
    clock[0] = 101 * S
    for officer in ("o1", "o3"):
        _, report = await service.submit_share(
            "t1", officer, "L1", EnvelopeKind.TECHNICAL, await _share(service, officer, key)
        )
    assert report is not None
    technical = report.events[0]
    assert type(technical).__name__ == "EnvelopeOpened" and technical.price is None  # type: ignore[union-attr]
    assert hashlib.sha256(SECRET_DOC).hexdigest() in technical.document  # type: ignore[union-attr]
    tender = await service.tender("t1")
    assert tender.lots["L1"].current_kind is EnvelopeKind.FINANCIAL
    assert ("ann", EnvelopeKind.FINANCIAL) not in tender.lots["L1"].opened  # still sealed
    # The committee excludes bob on his technical offer: his price is never opened.
    [excluded] = await service.command(
        "t1", lambda at: ExcludeBidder("x1", at, "o2", "L1", "bob", "technical offer fails")
    )
    assert type(excluded).__name__ == "BidderExcluded"
    for officer in ("o2", "o3"):
        _, report = await service.submit_share(
            "t1", officer, "L1", EnvelopeKind.FINANCIAL, await _share(service, officer, key)
        )
    assert report is not None
    assert [type(e).__name__ for e in report.events][-2:] == ["StageOpened", "LotOpened"]
    assert report.events[0].price == 9900  # type: ignore[union-attr]
    opened = [e.bidder for e in report.events if type(e).__name__ == "EnvelopeOpened"]  # type: ignore[union-attr]
    assert opened == ["ann"]
    tender = await service.tender("t1")
    assert ("bob", EnvelopeKind.FINANCIAL) not in tender.lots["L1"].opened


async def test_unpublished_tender_takes_no_envelopes_and_routes_are_in_openapi(
    server: Live,
) -> None:
    o1 = server.token("o1", "officer")
    reply = await server.post(
        T,
        {
            "title": "no ceremony yet",
            "currency": "EUR",
            "threshold": 1,
            "officers": [{"id": "o1", "public_key": KEYS["o1"].encryption_public.hex()}],
            "lots": [{"id": "L1", "deadline": now_us() + 60 * S, "opening_at": now_us() + 60 * S}],
        },
        token=o1,
    )
    assert reply.status == 201, reply.body
    tender_id = reply.json()["id"]
    state = (await server.get(f"{T}/{tender_id}", o1)).json()
    assert state["phase"] == "created" and state["opening_public_key"] is None
    early = await server.post(
        f"{T}/{tender_id}/lots/L1/envelopes",
        {"kind": "financial", "ciphertext": base64.b64encode(bytes(1072)).decode()},
        token=server.token("ann", "bidder", tender_id),
    )
    assert_problem(early, 409, Reason.TENDER_NOT_PUBLISHED.value)
    document = (await server.get("/api/v1/openapi.json")).json()
    assert "/api/v1/tenders/{tender_id}/lots/{lot}/envelopes" in document["paths"]
    assert "/api/v1/tenders/server-key" in document["paths"]


async def test_junk_at_the_tender_routes_never_gets_a_5xx(server: Live) -> None:
    tender = await new_tender(server, close_in=60)
    rng = random.Random(4)
    junk: list[Any] = [None, True, -1, 2**60, 1.5, "", "x" * 300, [], {}, {"a": 1}, "financial"]
    tokens = [
        None,
        "junk",
        tender.officer["o1"],
        server.officer,
        tender.bidder("ann"),
        server.token("eve", "observer", tender.id),
    ]
    fields = ["kind", "ciphertext", "share", "deadline", "opening_at", "rules", "auction_id", "id"]
    paths = [
        ("POST", T),
        ("POST", f"{T}/{tender.id}/ceremony"),
        ("POST", f"{T}/{tender.id}/lots/L1/schedule"),
        ("POST", f"{T}/{tender.id}/lots/L1/envelopes"),
        ("POST", f"{T}/{tender.id}/lots/L1/envelopes/financial/withdraw"),
        ("POST", f"{T}/{tender.id}/lots/L1/envelopes/financial"),
        ("POST", f"{T}/{tender.id}/lots/L1/envelopes/%00"),
        ("POST", f"{T}/{tender.id}/lots/%00/envelopes/x/withdraw"),
        ("POST", f"{T}/{tender.id}/lots/L1/shares"),
        ("POST", f"{T}/{tender.id}/lots/L1/award"),
        ("POST", f"{T}/{tender.id}/lots/L1/auction"),
        ("GET", f"{T}/{tender.id}/receipts/99999999999999999999"),
        ("GET", f"{T}/{tender.id}/lots/nope/envelopes"),
        ("GET", f"{T}/{tender.id}/lots/nope/offers"),
        ("GET", f"{T}/nope/events"),
    ]
    for _ in range(150):
        method, path = rng.choice(paths)
        tree = {rng.choice(fields): rng.choice(junk) for _ in range(rng.randint(0, 3))}
        if path == T and rng.random() < 0.5:
            tree = {
                "title": rng.choice(junk),
                "currency": rng.choice(["EUR", "XXX", 1]),
                "threshold": rng.choice(junk),
                "officers": rng.choice([[{"id": "o1", "public_key": "00" * 32}], junk[-2]]),
                "lots": [{"id": "L1", "deadline": rng.choice(junk), "opening_at": 1}],
            }
        reply = await server.request(
            method, path, tree if method == "POST" else None, token=rng.choice(tokens)
        )
        assert reply.status < 500, (method, path, tree, reply.body)


async def test_a_failed_commit_acknowledges_nothing_and_the_log_stays_the_truth(
    pg_pool: asyncpg.Pool,
) -> None:
    service, clock, _, public = await _service_tender(pg_pool, (EnvelopeKind.FINANCIAL,))
    # Another writer takes seq 3 first (a second process, say).
    intruder = CommandRejected(3, 10 * S, "x", "ReadBids", "o3", Reason.BIDS_SEALED, "")
    await pg_pool.execute(
        "INSERT INTO tender_events (tender_id, seq, type, at, payload) VALUES ($1, $2, $3, $4, $5)",
        "t1",
        3,
        "CommandRejected",
        10 * S,
        encode(intruder),
    )
    info = sealing.envelope_info("t1", "L1", "financial", "ann", 100 * S)
    sealed = sealing.seal(public, info, sealing.encode_offer(sealing.Offer(1, "EUR")))
    with pytest.raises(StorageFailed):
        await service.submit("t1", "ann", "L1", EnvelopeKind.FINANCIAL, sealed)
    assert await pg_pool.fetchval("SELECT count(*) FROM tender_envelopes") == 0
    # The next command starts from the log, intruder included, and goes through.
    [received] = await service.submit("t1", "ann", "L1", EnvelopeKind.FINANCIAL, sealed)
    assert isinstance(received, EnvelopeReceived) and received.seq == 4
    tender = await service.tender("t1")
    assert tender.seq == 4 and list(tender.lots["L1"].envelopes) == [
        ("ann", EnvelopeKind.FINANCIAL)
    ]
    assert await pg_pool.fetchval("SELECT count(*) FROM tender_envelopes") == 1
    with pytest.raises(TenderExists):
        await service.create("t1", "o1", tender.spec)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- fuzz


async def test_junk_on_tender_and_audit_routes_never_gets_a_5xx(server: Live) -> None:
    """Random methods, paths, bodies, media types and tokens on every tender route and
    the tenders' audit routes: always a 4xx problem or a success, never a 5xx."""
    import random

    tender = await new_tender(server, close_in=30)
    rng = random.Random(20261127)
    tokens = [
        None,
        "junk",
        tender.officer["o1"],
        tender.bidder("ann"),
        server.token("aud", "auditor"),
        server.token("x", "bidder", "t-other"),
    ]
    base = f"{T}/{tender.id}"
    audit = f"/api/v1/audit/tenders/{tender.id}"
    routes = [
        ("POST", T),
        ("GET", f"{T}/server-key"),
        ("GET", base),
        ("POST", f"{base}/ceremony"),
        ("GET", f"{base}/events"),
        ("GET", f"{base}/shares/mine"),
        ("POST", f"{base}/lots/L1/schedule"),
        ("POST", f"{base}/lots/L1/envelopes"),
        ("POST", f"{base}/lots/L1/envelopes/financial"),
        ("POST", f"{base}/lots/L1/envelopes/financial/withdraw"),
        ("GET", f"{base}/receipts/1"),
        ("GET", f"{base}/lots/L1/envelopes"),
        ("POST", f"{base}/lots/L1/shares"),
        ("GET", f"{base}/lots/L1/offers"),
        ("POST", f"{base}/lots/L1/exclude"),
        ("POST", f"{base}/lots/L1/award"),
        ("POST", f"{base}/lots/L1/auction"),
        ("GET", f"{audit}/checkpoint"),
        ("GET", f"{audit}/proofs/inclusion"),
        ("GET", f"{audit}/proofs/consistency"),
        ("GET", f"{audit}/export"),
        ("GET", f"{audit}/ocds"),
    ]
    junk: list[Any] = [
        None, True, 0, -1, 2**64, 1e308, "", "x" * 300, "\u0000", "1e999", [], {}, [1],
        {"a": {}}, "EUR", "financial", "L1", "o1", "../../etc", "AAAA", "%00",
    ]  # fmt: skip
    fields = [
        "id", "title", "currency", "officers", "threshold", "lots", "publication",
        "follow_up", "kind", "ciphertext", "deadline", "opening_at", "share", "bidder",
        "note", "rules", "auction_id", "criterion", "features",
    ]  # fmt: skip
    raw = [b"", b"{", b"null", b"[]", b"\xff\xfe", b'{"a":' * 3000, b"\x00" * 1072]
    suffixes = ["", "?seq=-1", "?seq=1e3", "?from=x&to=2", "?size=99999999999999999999", "/x"]
    for _ in range(220):
        method, path = rng.choice(routes)
        if rng.random() < 0.1:
            method = rng.choice(["GET", "PUT", "DELETE", "PATCH"])
        path += rng.choice(suffixes) if rng.random() < 0.3 else ""
        if rng.random() < 0.3:
            body = rng.choice(raw)
        else:
            body = json.dumps({rng.choice(fields): rng.choice(junk) for _ in range(3)}).encode()
        media = rng.choice(["application/json", "application/octet-stream", "text/plain", None])
        reply = await server.request(
            method, path, body=body, token=rng.choice(tokens), content_type=media
        )
        assert reply.status < 500, (method, path, body[:120], reply.status, reply.body[:300])
        if reply.status >= 400:
            assert reply.headers["content-type"].startswith("application/problem+json"), (
                method,
                path,
                reply.status,
            )
