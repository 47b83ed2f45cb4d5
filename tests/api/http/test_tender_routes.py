"""Sealed-tender routes beyond the Annex IV tests: ``Idempotency-Key`` on the commands,
the raw envelope upload (every bucket up to 1 MiB), the retry-safe hand-off and the
service's observers. A real server, real sockets and a real PostgreSQL, as in
``test_tenders.py`` (whose helpers these tests share).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import uuid
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.http.pages import SEAL_CSP
from api.http.tenders import MAX_ENVELOPE
from api.storage.tenders import PostgresTenderStore
from api.tenders.service import TenderService
from contracts import sealing
from contracts.receipts import SignedReceipt, verify_receipt
from engine.events import CommandRejected
from engine.reasons import Reason
from engine.tender_records import (
    EnvelopeKind,
    EnvelopeReceived,
    TenderCreated,
    TenderPublished,
)
from tests.api.conftest import Reply
from tests.api.http.test_tenders import (
    KEYS,
    OFFICERS,
    S,
    T,
    Tendering,
    assert_problem,
    committee_spec,
    hand_off_rules,
    new_tender,
    now_us,
    sealed_for_auction,
    server_public,
)

if TYPE_CHECKING:
    from tests.api.conftest import Live


def key() -> str:
    return f"k-{uuid.uuid4().hex}"


async def post_keyed(server: Live, path: str, body: Any, token: str, idempotency_key: str) -> Reply:
    return await server.request(
        "POST", path, body, token=token, headers={"Idempotency-Key": idempotency_key}
    )


async def upload(
    tender: Tendering,
    bidder: str,
    ciphertext: bytes,
    *,
    kind: str = "financial",
    deadline: int | None = None,
    content_type: str = "application/octet-stream",
    headers: dict[str, str] | None = None,
) -> Reply:
    query = "" if deadline is None else f"?deadline={deadline}"
    return await tender.server.request(
        "POST",
        f"{T}/{tender.id}/lots/L1/envelopes/{kind}{query}",
        body=ciphertext,
        token=tender.bidder(bidder),
        content_type=content_type,
        headers=headers,
    )


def received(log: list[dict[str, Any]], bidder: str) -> list[dict[str, Any]]:
    return [e for e in log if e["type"] == "EnvelopeReceived" and e["bidder"] == bidder]


# ------------------------------------------------------------------ Idempotency-Key


async def test_envelope_submission_is_idempotent_racing_retried_and_reuse_refused(
    server: Live,
) -> None:
    tender = await new_tender(server, close_in=30)
    ciphertext = tender.seal("ann", 1000)
    body = {"kind": "financial", "ciphertext": base64.b64encode(ciphertext).decode()}
    path, token, k = f"{T}/{tender.id}/lots/L1/envelopes", tender.bidder("ann"), key()
    # Two identical requests at once: one envelope, one receipt, answered to both.
    first, second = await asyncio.gather(
        post_keyed(server, path, body, token, k), post_keyed(server, path, body, token, k)
    )
    assert first.status == second.status == 201, (first.body, second.body)
    assert first.json() == second.json()
    replayed = [r.headers.get("idempotent-replayed") for r in (first, second)]
    assert replayed.count("true") == 1
    assert len(received(await tender.events(), "ann")) == 1
    # A retry later: the same signed receipt, marked as replayed, still one envelope.
    retry = await post_keyed(server, path, body, token, k)
    assert retry.status == 201 and retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    signed = SignedReceipt.from_json({n: retry.json()[n] for n in ("receipt", "signature")})
    receipt = verify_receipt(signed, await server_public(server))
    assert receipt.commitment == sealing.commitment(ciphertext)
    assert len(received(await tender.events(), "ann")) == 1
    # The same key for another envelope: refused, nothing recorded.
    other = {**body, "ciphertext": base64.b64encode(tender.seal("ann", 999)).decode()}
    assert_problem(await post_keyed(server, path, other, token, k), 422, "idempotency_key_reused")
    assert len(received(await tender.events(), "ann")) == 1
    # Without a key, each request is a command of its own (a replacement).
    again = await server.post(path, body, token=token)
    assert again.status == 201 and "idempotent-replayed" not in again.headers
    assert again.json()["replaced"] == receipt.commitment
    # A refusal is an answer too: replayed, not run again (the log keeps one refusal).
    k2 = key()
    wrong = {**body, "kind": "technical"}
    refused = await post_keyed(server, path, wrong, token, k2)
    assert_problem(refused, 422, Reason.WRONG_ENVELOPE_KIND.value)
    refused_again = await post_keyed(server, path, wrong, token, k2)
    assert refused_again.headers["idempotent-replayed"] == "true"
    assert refused_again.json() == refused.json()
    rejections = [e for e in await tender.events() if e.get("reason") == "wrong_envelope_kind"]
    assert len(rejections) == 1


async def test_share_submission_is_idempotent_and_the_opening_answer_is_replayed(
    server: Live,
) -> None:
    tender = await new_tender(server, close_in=1.0, threshold=2)
    assert (await tender.submit("ann", tender.seal("ann", 4321))).status == 201
    await tender.wait_deadline()
    path = f"{T}/{tender.id}/lots/L1/shares"
    shares = {o: (await tender.share_of(o)).to_json() for o in ("o1", "o2")}
    k1, k2 = key(), key()
    body1 = {"kind": "financial", "share": shares["o1"]}
    first, racing = await asyncio.gather(
        post_keyed(server, path, body1, tender.officer["o1"], k1),
        post_keyed(server, path, body1, tender.officer["o1"], k1),
    )
    assert first.status == racing.status == 201, (first.body, racing.body)
    assert first.json() == racing.json() and first.json()["count"] == 1
    retry = await post_keyed(server, path, body1, tender.officer["o1"], k1)
    assert retry.headers["idempotent-replayed"] == "true" and retry.json() == first.json()
    log = await tender.events()
    assert [e["officer"] for e in log if e["type"] == "ShareAccepted"] == ["o1"]
    assert not [e for e in log if e.get("reason") == Reason.DUPLICATE_SHARE.value]
    # The same key with another officer's share: refused before anything runs.
    other = {"kind": "financial", "share": shares["o2"]}
    reused = await post_keyed(server, path, other, tender.officer["o1"], k1)
    assert_problem(reused, 422, "idempotency_key_reused")
    # The k-th share opens; its retry gets the same answer, and the lot opened once.
    opening = await post_keyed(server, path, other, tender.officer["o2"], k2)
    assert opening.status == 201 and opening.json()["opened"] is True, opening.body
    again = await post_keyed(server, path, other, tender.officer["o2"], k2)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == opening.json()
    log = await tender.events()
    assert [e["type"] for e in log].count("LotOpened") == 1
    assert [e["price"] for e in log if e["type"] == "EnvelopeOpened"] == [4321]


async def test_every_tender_command_takes_an_idempotency_key(server: Live) -> None:
    o1 = server.token("o1", "officer")
    spec = {
        "title": "keyed",
        "currency": "EUR",
        "officers": [{"id": n, "public_key": KEYS[n].encryption_public.hex()} for n in OFFICERS],
        "threshold": 1,
        "lots": [{"id": "L1", "deadline": now_us() + 2 * S, "opening_at": now_us() + 2 * S}],
        "follow_up": "award",
    }
    k = key()
    # No id in the body: the server picks one, and a retry names the same tender.
    created = await post_keyed(server, T, spec, o1, k)
    assert created.status == 201, created.body
    tender_id = created.json()["id"]
    assert created.headers["location"] == f"{T}/{tender_id}"
    again = await post_keyed(server, T, spec, o1, k)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == created.json() and again.headers["location"] == f"{T}/{tender_id}"
    k = key()
    published = await post_keyed(server, f"{T}/{tender_id}/ceremony", {}, o1, k)
    assert published.status == 201, published.body
    twice = await post_keyed(server, f"{T}/{tender_id}/ceremony", {}, o1, k)
    assert twice.headers["idempotent-replayed"] == "true" and twice.json() == published.json()
    state = (await server.get(f"{T}/{tender_id}", o1)).json()
    deadline = state["lots"][0]["deadline"]
    tender = Tendering(
        server, tender_id, deadline, bytes.fromhex(published.json()["opening_public_key"])
    )
    # Schedule: allowed once; the retry is the same answer, not a second change.
    k = key()
    moved = {"deadline": deadline + S // 2, "opening_at": deadline + S // 2}
    path = f"{T}/{tender_id}/lots/L1/schedule"
    changed = await post_keyed(server, path, moved, o1, k)
    assert changed.status == 200, changed.body
    assert (await post_keyed(server, path, moved, o1, k)).json() == changed.json()
    tender.deadline = moved["deadline"]
    log = await tender.events()
    assert [e["type"] for e in log].count("ScheduleChanged") == 1
    # Withdraw: one receipt, replayed.
    assert (await tender.submit("ann", tender.seal("ann", 50))).status == 201
    assert (await tender.submit("bob", tender.seal("bob", 60))).status == 201
    k = key()
    path = f"{T}/{tender_id}/lots/L1/envelopes/financial/withdraw"
    withdrawn = await post_keyed(server, path, None, tender.bidder("bob"), k)
    assert withdrawn.status == 200, withdrawn.body
    replay = await post_keyed(server, path, None, tender.bidder("bob"), k)
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == withdrawn.json()
    await tender.wait_deadline()
    await tender.open_with("o1")
    # Exclude and award: each answered once.
    k = key()
    path = f"{T}/{tender_id}/lots/L1/exclude"
    refused = await post_keyed(server, path, {"bidder": "bob"}, o1, k)
    assert_problem(refused, 409, Reason.NO_ENVELOPE.value)
    assert (await post_keyed(server, path, {"bidder": "bob"}, o1, k)).json() == refused.json()
    k = key()
    awarded = await post_keyed(server, f"{T}/{tender_id}/lots/L1/award", {}, o1, k)
    assert awarded.status == 200 and awarded.json()["event"]["winner"] == "ann", awarded.body
    replay = await post_keyed(server, f"{T}/{tender_id}/lots/L1/award", {}, o1, k)
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == awarded.json()
    assert [e["type"] for e in await tender.events()].count("LotAwarded") == 1
    assert [e["type"] for e in await tender.events()].count("EnvelopeWithdrawn") == 1


# ------------------------------------------------------------------ raw envelope upload


def _documents(plain_size: int) -> dict[str, bytes]:
    return {"drawings.bin": os.urandom(plain_size)}


@pytest.mark.parametrize(
    ("bucket", "document_size"),
    [(1 << 16, 40_000), (1 << 20, 600_000)],
    ids=["64KiB", "1MiB"],
)
async def test_a_large_envelope_goes_up_raw_and_opens(
    server: Live, bucket: int, document_size: int
) -> None:
    tender = await new_tender(server, close_in=2.0, threshold=2)
    documents = _documents(document_size)
    ciphertext = tender.seal("ann", 77_700, documents=documents)
    assert len(ciphertext) == sealing.ENC_LENGTH + bucket + sealing.TAG_LENGTH
    if bucket == 1 << 16:
        # Too large for the JSON route (the app-wide 16 KiB body limit; a 1 MiB body is
        # cut off mid-send, its connection reset) ...
        too_big = await tender.submit("ann", ciphertext)
        assert_problem(too_big, 413, "body_too_large")
    # ... but not for the raw route, whose own limit is the largest envelope.
    k = key()
    reply = await upload(
        tender, "ann", ciphertext, deadline=tender.deadline, headers={"Idempotency-Key": k}
    )
    assert reply.status == 201, reply.body
    signed = SignedReceipt.from_json({n: reply.json()[n] for n in ("receipt", "signature")})
    receipt = verify_receipt(signed, await server_public(server))
    assert receipt.commitment == hashlib.sha256(ciphertext).hexdigest()
    replay = await upload(
        tender, "ann", ciphertext, deadline=tender.deadline, headers={"Idempotency-Key": k}
    )
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == reply.json()
    assert len(received(await tender.events(), "ann")) == 1
    # The small one still goes through JSON.
    assert (await tender.submit("bob", tender.seal("bob", 88_800))).status == 201
    await tender.wait_deadline()
    await tender.open_with("o1", "o3")
    offers = {o["bidder"]: o for o in (await tender.offers(tender.officer["o2"]))["offers"]}
    assert offers["ann"]["price"] == 77_700 and offers["bob"]["price"] == 88_800
    summary = json.loads(offers["ann"]["document"])
    assert summary["documents"]["drawings.bin"] == {
        "sha256": hashlib.sha256(documents["drawings.bin"]).hexdigest(),
        "size": document_size,
    }


async def _chunked_over_limit(server: Live, tender: Tendering) -> Reply:
    """Stream MAX_ENVELOPE bytes and then one chunk more, chunked, and read the answer
    without waiting for the server to close (it refuses before the rest is sent)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(
            (
                f"POST {T}/{tender.id}/lots/L1/envelopes/financial HTTP/1.1\r\n"
                f"Host: 127.0.0.1\r\nConnection: close\r\n"
                f"Authorization: Bearer {tender.bidder('ann')}\r\n"
                f"Content-Type: application/octet-stream\r\n"
                f"Transfer-Encoding: chunked\r\n\r\n{MAX_ENVELOPE:x}\r\n"
            ).encode()
            + os.urandom(MAX_ENVELOPE)
            + b"\r\n1\r\n"
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        body = await reader.readexactly(int(headers["content-length"]))
    finally:
        writer.close()
    return Reply(int(lines[0].split(" ")[1]), headers, body)


async def test_raw_upload_refusals(server: Live) -> None:
    tender = await new_tender(server, close_in=30)
    ciphertext = tender.seal("ann", 1)
    # Over the limit by its declared length: refused before the body is read.
    declared = await server.raw(
        (
            f"POST {T}/{tender.id}/lots/L1/envelopes/financial HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nConnection: close\r\n"
            f"Authorization: Bearer {tender.bidder('ann')}\r\n"
            f"Content-Type: application/octet-stream\r\n"
            f"Content-Length: {MAX_ENVELOPE + 1}\r\n\r\n"
        ).encode()
    )
    body = assert_problem(declared, 413, "body_too_large")
    assert str(MAX_ENVELOPE) in body["detail"]
    # Over the limit while streaming (chunked, no length declared): the first chunk fills
    # the limit, the next chunk's size line passes it.
    chunked = await _chunked_over_limit(server, tender)
    assert_problem(chunked, 413, "body_too_large")
    # A length that is no envelope's: the JSON route's 422.
    odd = await upload(tender, "ann", ciphertext[:-1])
    assert_problem(odd, 422, "invalid_field")
    plain = await upload(tender, "ann", b'{"amount_minor": 1}')
    assert_problem(plain, 422, "invalid_field")
    assert_problem(
        await upload(tender, "ann", ciphertext, content_type="application/json"),
        415,
        "unsupported_media_type",
    )
    assert_problem(await upload(tender, "ann", ciphertext, kind="price"), 422, "invalid_field")
    assert_problem(
        await upload(tender, "ann", ciphertext, kind="technical"),
        422,
        Reason.WRONG_ENVELOPE_KIND.value,
    )
    moved = await upload(tender, "ann", ciphertext, deadline=tender.deadline + 1)
    assert_problem(moved, 422, Reason.INVALID_SCHEDULE.value)
    bad_deadline = await tender.server.request(
        "POST",
        f"{T}/{tender.id}/lots/L1/envelopes/financial?deadline=soon",
        body=ciphertext,
        token=tender.bidder("ann"),
        content_type="application/octet-stream",
    )
    assert_problem(bad_deadline, 422, "invalid_field")
    officer = await server.request(
        "POST",
        f"{T}/{tender.id}/lots/L1/envelopes/financial",
        body=ciphertext,
        token=tender.officer["o1"],
        content_type="application/octet-stream",
    )
    assert_problem(officer, 403, "role_forbidden")
    # A refusal before the body is read, with a body larger than the app-wide limit.
    big = tender.seal("ann", 1, documents=_documents(40_000))
    stranger = await server.request(
        "POST",
        f"{T}/{tender.id}/lots/L1/envelopes/financial",
        body=big,
        token="junk",
        content_type="application/octet-stream",
    )
    assert stranger.status == 401, stranger.body
    assert received(await tender.events(), "ann") == []
    ok = await upload(tender, "ann", ciphertext, deadline=tender.deadline)
    assert ok.status == 201, ok.body
    document = (await server.get("/api/v1/openapi.json")).json()
    operation = document["paths"][f"{T}/{{tender_id}}/lots/{{lot}}/envelopes/{{kind}}"]["post"]
    assert "application/octet-stream" in operation["requestBody"]["content"]
    assert "Idempotency-Key" in [p["name"] for p in operation["parameters"]]


# ------------------------------------------------------------------ the hand-off, retried


def _rules() -> dict[str, Any]:
    return hand_off_rules(600)


async def _opened_for_auction(server: Live) -> Tendering:
    tender = await sealed_for_auction(server, close_in=1.0)
    await tender.open_with("o1")
    return tender


async def test_a_hand_off_that_crashed_after_creating_the_auction_is_finished_on_retry(
    server: Live,
) -> None:
    tender = await _opened_for_auction(server)
    rules = _rules()
    # The crash: the auction was created under the id the hand-off derives, and one of
    # the two bidders registered, then the process died before LotHandedOff.
    auction_id = f"{tender.id}-L1"
    assert await server.create(rules, auction_id) == auction_id
    await server.register(auction_id, "bob", initial_bid="110.00")
    assert "LotHandedOff" not in [e["type"] for e in await tender.events()]
    retry = await server.post(
        f"{T}/{tender.id}/lots/L1/auction", {"rules": rules}, token=tender.officer["o1"]
    )
    assert retry.status == 201, retry.body
    assert retry.json()["auction_id"] == auction_id
    assert set(retry.json()["tokens"]) == {"ann", "bob"}
    state = await server.state(auction_id)
    assert state["bidders"] == 2
    assert {line["bidder"]: line["price"] for line in state["ranking"]} == {
        "bob": 110_00,
        "ann": 120_00,
    }
    handed = [e for e in await tender.events() if e["type"] == "LotHandedOff"]
    assert [e["auction_id"] for e in handed] == [auction_id]


async def test_a_hand_off_refuses_an_auction_that_is_not_the_lots(server: Live) -> None:
    tender = await _opened_for_auction(server)
    path = f"{T}/{tender.id}/lots/L1/auction"
    # Same id, other rules: someone else's auction.
    other_rules = {**_rules(), "rounds": 2}
    await server.create(other_rules, f"{tender.id}-L1")
    clash = await server.post(path, {"rules": _rules()}, token=tender.officer["o1"])
    assert_problem(clash, 409, Reason.AUCTION_EXISTS.value)
    # Same rules, but a bidder the lot did not rank (or ranked at another price).
    rules = _rules()
    for auction_id, party, price in (("x-1", "mallory", "100.00"), ("x-2", "ann", "99.00")):
        await server.create(rules, auction_id)
        await server.register(auction_id, party, initial_bid=price)
        clash = await server.post(
            path, {"rules": rules, "auction_id": auction_id}, token=tender.officer["o1"]
        )
        assert_problem(clash, 409, Reason.AUCTION_EXISTS.value)
    assert "LotHandedOff" not in [e["type"] for e in await tender.events()]
    # An Idempotency-Key on the hand-off: the retry answers the same auction and tokens.
    k = key()
    body = {"rules": rules, "auction_id": "x-3"}
    handed = await post_keyed(server, path, body, tender.officer["o1"], k)
    assert handed.status == 201, handed.body
    replay = await post_keyed(server, path, body, tender.officer["o1"], k)
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == handed.json()
    assert [e["type"] for e in await tender.events()].count("LotHandedOff") == 1
    # The bidders' credentials are stored sealed, never in clear (api.access.at_rest).
    conn = await asyncpg.connect(server.process.database_url)
    try:
        stored = await conn.fetchval("SELECT response_body FROM idempotency_keys WHERE key = $1", k)
    finally:
        await conn.close()
    tokens = handed.json()["tokens"]
    assert tokens and all(token.encode() not in bytes(stored) for token in tokens.values())


# ------------------------------------------------------------------ observers


async def test_observers_see_every_committed_append_and_cannot_break_it(
    pg_pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[str, list[Any]]] = []

    def broken(tender_id: str, events: list[Any]) -> None:
        raise RuntimeError("observer bug")

    observers = [broken, lambda tender_id, events: seen.append((tender_id, events))]
    clock = [10 * S]
    service = TenderService(
        PostgresTenderStore(pg_pool),
        Ed25519PrivateKey.generate(),
        clock=lambda: clock[0],
        observers=observers,
    )
    assert service.observers is observers  # shared: observers added later are called too
    late: list[int] = []
    observers.append(lambda tender_id, events: late.extend(e.seq for e in events))
    with caplog.at_level(logging.ERROR, logger="gavel.tenders"):
        await service.create("t1", "o1", committee_spec())
        [published] = await service.ceremony("t1", "o1")
    assert "tender observer failed" in caplog.text
    assert [(t, [type(e) for e in events]) for t, events in seen] == [
        ("t1", [TenderCreated]),
        ("t1", [TenderPublished]),
    ]
    info = sealing.envelope_info("t1", "L1", "financial", "ann", 100 * S)
    public = bytes.fromhex(published.public_key)  # type: ignore[union-attr]
    ciphertext = sealing.seal(public, info, sealing.encode_offer(sealing.Offer(5, "EUR")))
    await service.submit("t1", "ann", "L1", EnvelopeKind.FINANCIAL, ciphertext)
    clock[0] = 100 * S + 1
    refused = await service.submit("t1", "bob", "L1", EnvelopeKind.FINANCIAL, ciphertext)
    assert isinstance(seen[2][1][0], EnvelopeReceived)
    # The deadline fact and the refusal, committed together, arrive together and in order.
    assert seen[3] == ("t1", refused) and isinstance(refused[-1], CommandRejected)
    assert [type(e).__name__ for e in refused] == ["LotClosed", "CommandRejected"]
    stored = [r["seq"] for r in await pg_pool.fetch("SELECT seq FROM tender_events ORDER BY seq")]
    assert late == stored == [e.seq for _, events in seen for e in events]
    # A failed commit is not observed.
    before = len(seen)
    await pg_pool.execute(
        "INSERT INTO tender_events (tender_id, seq, type, at, payload) "
        "VALUES ('t1', $1, 'X', 0, '\\x00')",
        stored[-1] + 1,
    )
    with pytest.raises(Exception, match="tender t1"):
        await service.submit("t1", "cy", "L1", EnvelopeKind.FINANCIAL, ciphertext)
    assert len(seen) == before


def test_the_seal_page_csp_allows_no_inline_script() -> None:
    directives = dict(part.strip().split(" ", 1) for part in SEAL_CSP.split(";"))
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in SEAL_CSP and "unsafe-eval" not in SEAL_CSP
    assert directives["default-src"] == "'none'"
