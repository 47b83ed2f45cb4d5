"""A tender's audit trail against a real server: its own Merkle log, checkpoints and
proofs, the export with the opened ciphertexts, and offline verification that catches
each kind of tampering (a changed commitment, a swapped ciphertext, a removed event, a
changed award) even when the operator re-signs the forged log."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.audit.bundle import BundleInvalid, verify
from api.audit.cli import main as audit_main
from api.audit.trail import KEY_NAME, tender_trail
from contracts.checkpoint import parse_and_verify, parse_verifier_key, sign_checkpoint
from contracts.transparency import MerkleLog, leaf_hash, verify_consistency, verify_inclusion
from engine.tender_records import LotClosed, decode_tender_event
from tests.api.http.test_tenders import Tendering, new_tender

if TYPE_CHECKING:
    from tests.api.conftest import Live

BASE = "/api/v1/audit/tenders/{}"
PRICES = (("ann", 1200), ("bob", 1100), ("cat", 1300))


@pytest.fixture(scope="module")
def server(start_server: Any) -> Live:
    live: Live = start_server()
    return live


async def awarded(server: Live) -> Tendering:
    """A tender whose one lot got three envelopes, was opened by 2 of 3 and awarded."""
    tender = await new_tender(server, threshold=2, close_in=1.0)
    for bidder, price in PRICES:
        reply = await tender.submit(bidder, tender.seal(bidder, price))
        assert reply.status == 201, reply.body
    await tender.wait_deadline()
    await tender.open_with("o1", "o2")
    reply = await server.post(
        f"/api/v1/tenders/{tender.id}/lots/L1/award", {}, token=tender.officer["o1"]
    )
    assert reply.status == 200, reply.body
    return tender


@pytest.fixture(scope="module")
def decided(server: Live) -> Tendering:
    return asyncio.run(awarded(server))


async def published_key(server: Live) -> Any:
    reply = await server.get("/api/v1/audit/key")
    assert reply.status == 200
    return parse_verifier_key(reply.json()["verifier_key"])[1]


async def test_checkpoint_and_proofs_of_a_tender_verify_with_the_published_key(
    server: Live, decided: Tendering
) -> None:
    tender = decided
    public = await published_key(server)
    ann = tender.bidder("ann")
    reply = await server.get(f"{BASE.format(tender.id)}/checkpoint", ann)
    assert reply.status == 200, reply.body
    body = reply.json()
    checkpoint = parse_and_verify(body["note"], KEY_NAME, public)
    assert checkpoint.origin == body["origin"] == f"gavel/tender/{tender.id}"
    log = await tender.events()
    size = checkpoint.size
    assert size == body["size"] == len(log)

    seen_own = []
    for seq in range(1, size + 1):
        reply = await server.get(f"{BASE.format(tender.id)}/proofs/inclusion?seq={seq}", ann)
        assert reply.status == 200, reply.body
        proof = reply.json()
        leaf = bytes.fromhex(proof["leaf_hash"])
        assert verify_inclusion(
            leaf, seq - 1, size, [bytes.fromhex(h) for h in proof["proof"]], checkpoint.root
        )
        if "event" in proof:  # ann's own events, and only those
            assert leaf == leaf_hash(proof["event"].encode())
            event = decode_tender_event(proof["event"].encode())
            assert getattr(event, "bidder", None) == "ann"
            seen_own.append(type(event).__name__)
    # A supplier proves its receipt (with the commitment) is in the signed log.
    assert "EnvelopeReceived" in seen_own and "EnvelopeOpened" in seen_own

    committee = await server.get(
        f"{BASE.format(tender.id)}/proofs/inclusion?seq=1", tender.officer["o3"]
    )
    assert '"type":"TenderCreated"' in committee.json()["event"]
    outsider = await server.get(
        f"{BASE.format(tender.id)}/proofs/inclusion?seq=1", server.token("o9", "officer")
    )
    assert outsider.status == 200 and "event" not in outsider.json()

    for old in range(0, size + 1):
        reply = await server.get(f"{BASE.format(tender.id)}/proofs/consistency?from={old}", ann)
        assert reply.status == 200, reply.body
        body = reply.json()
        first = parse_and_verify(body["from_checkpoint"], KEY_NAME, public)
        assert verify_consistency(
            old, size, first.root, checkpoint.root, [bytes.fromhex(h) for h in body["proof"]]
        )


async def test_the_export_verifies_offline_rechecking_every_opened_envelope(
    server: Live, decided: Tendering, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tender = decided
    for token in (tender.officer["o2"], server.token("aud", "auditor")):
        reply = await server.get(f"{BASE.format(tender.id)}/export", token)
        assert reply.status == 200, reply.body
        bundle = reply.json()
        assert bundle["stream"] == {"kind": "tender", "id": tender.id}
        verified = verify(bundle)
        assert verified.result == "1 of 1 lots decided"
        assert verified.envelopes == 3
    assert [e["bidder"] for e in bundle["envelopes"]] == ["ann", "bob", "cat"]
    assert bundle["result"][0]["winner"] == "bob" and bundle["result"][0]["price"] == 1100
    assert bundle["rules"]["title"] == "Road repairs"

    path = tmp_path / "tender.json"
    path.write_text(json.dumps(bundle))
    key = (await server.get("/api/v1/audit/key")).json()["verifier_key"]
    assert audit_main(["verify", str(path), "--key", key]) == 0
    assert "3 opened envelopes match their commitments" in capsys.readouterr().out
    assert audit_main(["replay", str(path)]) == 1
    assert "replay is for auction bundles" in capsys.readouterr().err

    for token, status, code in (
        (server.token("o9", "officer"), 403, "role_forbidden"),  # not on the committee
        (tender.bidder("ann"), 403, "role_forbidden"),
        (server.token("eve", "observer", tender.id), 403, "role_forbidden"),
        (server.token("o1", "officer", "another"), 403, "wrong_auction"),
    ):
        reply = await server.get(f"{BASE.format(tender.id)}/export", token)
        assert (reply.status, reply.code) == (status, code), reply.body


async def test_envelopes_are_exported_only_after_the_opening(server: Live) -> None:
    tender = await new_tender(server, threshold=1, close_in=30.0)
    assert (await tender.submit("ann", tender.seal("ann", 500))).status == 201
    reply = await server.get(f"{BASE.format(tender.id)}/export", tender.officer["o1"])
    assert reply.status == 200, reply.body
    bundle = reply.json()
    assert bundle["envelopes"] == [] and bundle["result"] == []
    verified = verify(bundle)
    assert (verified.result, verified.envelopes) == ("0 of 1 lots decided", 0)


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/checkpoint", 404, "not_found"),
        ("/proofs/inclusion?seq=1", 404, "not_found"),
        ("/proofs/consistency?from=0", 404, "not_found"),
        ("/export", 404, "not_found"),
    ],
)
async def test_an_unknown_tender_is_not_found(
    server: Live, path: str, status: int, code: str
) -> None:
    reply = await server.get(f"{BASE.format('t-nope')}{path}", server.token("aud", "auditor"))
    assert (reply.status, reply.code) == (status, code)


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ("/proofs/inclusion", "missing_field", "seq"),
        ("/proofs/inclusion?seq=0", "invalid_field", "seq"),
        ("/proofs/inclusion?seq=x", "invalid_field", "seq"),
        ("/proofs/inclusion?seq=1&size=100000", "invalid_field", "size"),
        ("/proofs/consistency", "missing_field", "from"),
        ("/proofs/consistency?from=2&to=1", "invalid_field", "from"),
        ("/proofs/consistency?from=0&to=100000", "invalid_field", "to"),
    ],
)
async def test_bad_proof_parameters_are_problems(
    server: Live, decided: Tendering, query: str, code: str, field: str
) -> None:
    reply = await server.get(f"{BASE.format(decided.id)}{query}", decided.officer["o1"])
    assert reply.status == 422 and reply.json()["code"] == code, reply.body
    assert reply.json()["field"] == field


async def test_tokens_of_another_tender_are_refused(server: Live, decided: Tendering) -> None:
    other = server.token("ann", "bidder", "t-other")
    reply = await server.get(f"{BASE.format(decided.id)}/checkpoint", other)
    assert (reply.status, reply.code) == (403, "wrong_auction")
    reply = await server.get(f"{BASE.format(decided.id)}/checkpoint")
    assert reply.status == 401


async def kept(server: Live, tender_id: str) -> list[str]:
    conn = await asyncpg.connect(server.process.database_url)
    try:
        rows = await conn.fetch(
            "SELECT reason FROM checkpoints WHERE stream_kind = 'tender' AND stream_id = $1"
            " ORDER BY size",
            tender_id,
        )
    finally:
        await conn.close()
    return [row["reason"] for row in rows]


async def test_checkpoints_are_issued_at_deadline_opening_and_award(
    server: Live, decided: Tendering
) -> None:
    """Through ``app.ctx.tender_observers``, which the tender routes call after each
    committed append."""
    import api.http.tenders

    if "tender_observers" not in Path(api.http.tenders.__file__).read_text():
        pytest.skip("the tender routes do not call app.ctx.tender_observers yet")
    reasons: list[str] = []
    for _ in range(100):
        reasons = await kept(server, decided.id)
        if {"LotClosed", "LotOpened", "LotAwarded"} <= set(reasons):
            break
        await asyncio.sleep(0.05)
    # The opening's commit holds StageOpened and LotOpened: one checkpoint, the later name.
    assert {"LotClosed", "LotOpened", "LotAwarded"} <= set(reasons), reasons


async def test_the_tender_trail_issues_on_its_events(server: Live) -> None:
    """The observer's work, driven directly: a LotClosed in a committed batch issues and
    keeps a checkpoint of the tender's log; other events issue nothing."""
    from api.storage import create_pool

    fresh = await new_tender(server, close_in=30.0)  # created and published: 2 events
    pool = await create_pool(server.process.database_url, min_size=1, max_size=2)
    try:
        trail = tender_trail(pool, server.process.key, prefix="gavel")
        trail.on_published(fresh.id, [])
        await trail.drain()
        assert await kept(server, fresh.id) == []
        trail.on_published(fresh.id, [LotClosed(3, 1, "L1", 0)])
        await trail.drain()
        rows = await pool.fetch(
            "SELECT size, reason, note FROM checkpoints WHERE stream_kind = 'tender'"
            " AND stream_id = $1",
            fresh.id,
        )
        assert [(row["size"], row["reason"]) for row in rows] == [(2, "LotClosed")]
        note = parse_and_verify(rows[0]["note"], KEY_NAME, server.process.key.public_key())
        assert note.origin == f"gavel/tender/{fresh.id}" and note.size == 2
    finally:
        await pool.close()


# --------------------------------------------------------------- tampering, offline


def canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def resigned(bundle: dict[str, Any], key: Any) -> dict[str, Any]:
    """The operator's forgery: the bundle's events re-signed under one fresh checkpoint
    (so the tree and signatures hold, and only the deeper checks can catch it)."""
    payloads = [text.encode() for text in bundle["events"]]
    log = MerkleLog(payloads)
    note = sign_checkpoint(bundle["origin"], len(payloads), log.root(), KEY_NAME, key)
    forged = dict(bundle, checkpoints=[note])
    forged["manifest"] = dict(bundle["manifest"], events=len(payloads))
    return forged


def edit(bundle: dict[str, Any], kind: str, change: Any, which: int = 0) -> dict[str, Any]:
    """``bundle`` with the ``which``-th event of type ``kind`` changed by ``change``."""
    events = list(bundle["events"])
    found = [i for i, text in enumerate(events) if json.loads(text)["type"] == kind]
    data = json.loads(events[found[which]])
    change(data)
    events[found[which]] = canonical(data)
    return dict(bundle, events=events)


@pytest.fixture(scope="module")
def exported(server: Live, decided: Tendering) -> dict[str, Any]:
    async def fetch() -> dict[str, Any]:
        reply = await server.get(f"{BASE.format(decided.id)}/export", decided.officer["o1"])
        assert reply.status == 200, reply.body
        bundle: dict[str, Any] = reply.json()
        return bundle

    return asyncio.run(fetch())


def fails(bundle: dict[str, Any], match: str) -> None:
    with pytest.raises(BundleInvalid, match=match):
        verify(bundle)


def test_a_changed_event_without_the_key_breaks_the_signed_root(
    exported: dict[str, Any],
) -> None:
    bundle = edit(exported, "EnvelopeReceived", lambda e: e.update(size=e["size"] + 1))
    fails(bundle, r"event seq \d+ \(EnvelopeReceived\) does not match the signed log")


def test_a_changed_commitment_is_caught_by_the_ciphertext(
    server: Live, exported: dict[str, Any]
) -> None:
    """The operator rewrites bob's commitment in the receipt and the opening alike."""
    fake = "ab" * 32

    def bob(data: dict[str, Any]) -> None:
        if data.get("bidder") == "bob":
            data["commitment"] = fake

    bundle = exported
    for which in range(3):
        bundle = edit(bundle, "EnvelopeReceived", bob, which)
        bundle = edit(bundle, "EnvelopeOpened", bob, which)
    fails(resigned(bundle, server.process.key), r"SHA-256 of the ciphertext .* is not its")
    # Only the receipt changed: the opening is of an envelope that was never received.
    only = edit(exported, "EnvelopeReceived", bob, 1)
    fails(resigned(only, server.process.key), r"EnvelopeOpened\): bob's financial envelope")


def test_a_swapped_ciphertext_is_caught(exported: dict[str, Any]) -> None:
    envelopes = [dict(e) for e in exported["envelopes"]]
    envelopes[0]["ciphertext"], envelopes[1]["ciphertext"] = (
        envelopes[1]["ciphertext"],
        envelopes[0]["ciphertext"],
    )
    fails(dict(exported, envelopes=envelopes), r"EnvelopeOpened\): SHA-256 of the ciphertext")
    missing = dict(exported, envelopes=exported["envelopes"][1:])
    fails(missing, r"the bundle holds no ciphertext of the envelope received at seq")
    junk = [dict(exported["envelopes"][0], ciphertext="not base64!")]
    fails(dict(exported, envelopes=junk), r"envelope 1 of the bundle")
    flipped = bytearray(base64.b64decode(exported["envelopes"][2]["ciphertext"]))
    flipped[-1] ^= 1
    one_bit = [*exported["envelopes"][:2], dict(exported["envelopes"][2])]
    one_bit[2]["ciphertext"] = base64.b64encode(bytes(flipped)).decode()
    fails(dict(exported, envelopes=one_bit), r"is not its commitment")


def test_a_removed_event_is_caught(server: Live, exported: dict[str, Any]) -> None:
    events = list(exported["events"])
    received = next(i for i, text in enumerate(events) if '"EnvelopeReceived"' in text)
    del events[received]
    bundle = dict(exported, events=events)
    fails(resigned(bundle, server.process.key), rf"event {received + 1}: has seq {received + 2}")


def test_a_changed_award_is_caught(server: Live, exported: dict[str, Any]) -> None:
    def to_ann(data: dict[str, Any]) -> None:
        data["winner"], data["price"] = "ann", 1200

    bundle = edit(exported, "LotAwarded", to_ann)
    awarded = json.loads(next(t for t in bundle["events"] if '"LotAwarded"' in t))
    bundle["result"] = [awarded]
    fails(resigned(bundle, server.process.key), r"LotAwarded\): awards ann at 1200")

    def reranked(data: dict[str, Any]) -> None:
        data["ranking"] = list(reversed(data["ranking"]))

    bundle = edit(exported, "LotAwarded", reranked)
    bundle["result"] = [json.loads(next(t for t in bundle["events"] if '"LotAwarded"' in t))]
    fails(resigned(bundle, server.process.key), r"LotAwarded\): ranks \[3\. cat 1300")
    # A stated result that is not the log's.
    stated = dict(exported, result=[])
    fails(stated, r"stated result is not the lots' decisions")


def test_a_late_receipt_and_a_moved_close_are_caught(
    server: Live, exported: dict[str, Any]
) -> None:
    closed = json.loads(next(t for t in exported["events"] if '"LotClosed"' in t))
    late = edit(exported, "EnvelopeReceived", lambda e: e.update(at=closed["at"] + 1), 2)
    fails(resigned(late, server.process.key), r"after the lot's deadline")
    moved = edit(exported, "LotClosed", lambda e: e.update(at=e["at"] - 1))
    fails(resigned(moved, server.process.key), r"closes the lot at")


async def test_the_tender_ocds_release_has_lots_bids_and_the_award(
    server: Live, decided: Tendering, exported: dict[str, Any]
) -> None:
    from api.audit.ocds import release_package
    from tests.api.audit.test_ocds import validate

    package = validate(release_package(exported))
    release = package["releases"][0]
    assert release["tag"] == ["tender", "award"]
    tender = release["tender"]
    assert (tender["status"], tender["title"], tender["numberOfTenderers"]) == (
        "complete",
        "Road repairs",
        3,
    )
    assert tender["lots"] == [{"id": "L1", "title": "North", "status": "complete"}]
    assert tender["techniques"] == {"hasElectronicAuction": False}
    details = {bid["tenderers"][0]["id"]: bid for bid in release["bids"]["details"]}
    assert {name: str(bid["value"]["amount"]) for name, bid in details.items()} == {
        "ann": "12.00",
        "bob": "11.00",
        "cat": "13.00",
    }
    assert all(
        bid["relatedLots"] == ["L1"] and bid["status"] == "valid" for bid in details.values()
    )
    (award,) = release["awards"]
    assert award["suppliers"] == [{"id": "bob", "name": "bob"}]
    assert award["relatedBids"] == [details["bob"]["id"]] and award["relatedLots"] == ["L1"]
    assert str(award["value"]["amount"]) == "11.00"
    stats = {s["measure"]: s["value"] for s in release["bids"]["statistics"]}
    assert stats["envelopesReceived"] == 3 and stats["envelopesOpened"] == 3

    reply = await server.get(f"{BASE.format(decided.id)}/ocds", decided.officer["o2"])
    assert reply.status == 200, reply.body
    assert validate(reply.json())["releases"][0]["awards"][0]["suppliers"][0]["id"] == "bob"
    refused = await server.get(f"{BASE.format(decided.id)}/ocds", decided.bidder("ann"))
    assert (refused.status, refused.code) == (403, "role_forbidden")


async def test_a_hand_off_is_an_electronic_auction_in_ocds(server: Live) -> None:
    from api.audit.ocds import release_package
    from tests.api.audit.test_ocds import validate
    from tests.api.http.test_tenders import hand_off_rules, sealed_for_auction

    tender = await sealed_for_auction(server, close_in=1.0)
    await tender.open_with("o1")
    rules = hand_off_rules()
    reply = await server.post(
        f"/api/v1/tenders/{tender.id}/lots/L1/auction", {"rules": rules}, token=tender.officer["o1"]
    )
    assert reply.status == 201, reply.body
    bundle = (await server.get(f"{BASE.format(tender.id)}/export", tender.officer["o1"])).json()
    assert verify(bundle).result == "1 of 1 lots decided"
    assert bundle["result"][0]["type"] == "LotHandedOff"
    release = validate(release_package(bundle))["releases"][0]
    techniques = release["tender"]["techniques"]
    assert techniques["hasElectronicAuction"] is True
    assert reply.json()["auction_id"] in techniques["electronicAuction"]["description"]
    assert release["tender"]["submissionMethod"] == ["electronicSubmission", "electronicAuction"]
    assert "awards" not in release and release["tender"]["lots"][0]["status"] == "active"
    # The forged ranking of a hand-off is caught like an award's.
    ranked = edit(bundle, "LotHandedOff", lambda e: e.update(ranking=e["ranking"][:1]))
    ranked["result"] = [json.loads(next(t for t in ranked["events"] if "LotHandedOff" in t))]
    fails(
        resigned(ranked, server.process.key),
        r"LotHandedOff\): ranks \[1\. bob 11000 \(score 11000\)\]",
    )


async def test_a_receipt_carries_a_signed_checkpoint_that_covers_it(server: Live) -> None:
    """Every envelope receipt comes with a fresh checkpoint of the tender's log whose
    tree holds the receipt's own ``EnvelopeReceived``: the supplier can prove, with an
    inclusion proof against it, that its commitment was logged before the deadline."""
    tender = await new_tender(server, close_in=30)
    public = await published_key(server)
    reply = await tender.submit("ann", tender.seal("ann", 1234))
    assert reply.status == 201, reply.body
    answer = reply.json()
    checkpoint = parse_and_verify(answer["checkpoint"]["note"], KEY_NAME, public)
    assert checkpoint.origin == f"gavel/tender/{tender.id}"
    seq = answer["receipt"]["seq"]
    assert checkpoint.size == answer["checkpoint"]["size"] >= seq
    assert checkpoint.root.hex() == answer["checkpoint"]["root"]
    proof = (
        await server.get(
            f"{BASE.format(tender.id)}/proofs/inclusion?seq={seq}&size={checkpoint.size}",
            tender.bidder("ann"),
        )
    ).json()
    assert json.loads(proof["event"])["commitment"] == answer["receipt"]["commitment"]
    assert verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]),
        seq - 1,
        checkpoint.size,
        [bytes.fromhex(h) for h in proof["proof"]],
        checkpoint.root,
    )
    assert checkpoint.size <= len(await tender.events())
