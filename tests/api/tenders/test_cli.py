"""``gavel tender``: officer keys, ceremony, sealing, receipts and the opening, on files."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from api.cli import main as gavel
from api.tenders.cli import envelope_json, main
from contracts.receipts import Receipt, key_id, sign_receipt
from contracts.sealing import envelope_info, seal

TENDER = "T-7"
DEADLINE = 1_767_225_600_000_000


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    status = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def committee(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """Three officers, a 2-of-3 ceremony; returns paths and keys."""
    officers: dict[str, str] = {}
    for name in ("alice", "bob", "carol"):
        status, out, _ = run(capsys, "keygen-officer", "--out", tmp_path / f"{name}.key")
        assert status == 0
        officers[name] = json.loads(out)["encryption_public"]
    argv: list[object] = ["ceremony", "--tender", TENDER, "--k", 2, "--out-dir", tmp_path / "c"]
    for name, public in officers.items():
        argv += ["--officer", f"{name}={public}"]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    summary = json.loads(out)
    assert summary["k"] == 2 and summary["n"] == 3
    return {
        "dir": tmp_path,
        "opening_public": summary["opening_public"],
        "ceremony_public": summary["ceremony_public"],
    }


def seal_offer(
    capsys: pytest.CaptureFixture[str], c: dict[str, Any], bidder: str, amount: str, *extra: object
) -> Path:
    out_path = c["dir"] / f"{bidder}.envelope.json"
    status, out, err = run(
        capsys,
        "seal",
        "--tender-key",
        c["opening_public"],
        "--tender",
        TENDER,
        "--lot",
        "L-1",
        "--kind",
        "financial",
        "--bidder",
        bidder,
        "--deadline-us",
        DEADLINE,
        "--amount",
        amount,
        "--currency",
        "EUR",
        "--out",
        out_path,
        *extra,
    )
    assert status == 0, err
    assert len(json.loads(out)["commitment"]) == 64
    return out_path


def officer_args(c: dict[str, Any], *names: str) -> list[object]:
    argv: list[object] = []
    for name in names:
        argv += ["--officer", c["dir"] / f"{name}.key", c["dir"] / "c" / "shares" / f"{name}.json"]
    return argv


def open_args(c: dict[str, Any]) -> list[object]:
    return [
        "open",
        "--tender",
        TENDER,
        "--tender-key",
        c["opening_public"],
        "--ceremony-key",
        c["ceremony_public"],
    ]


def test_keygen_writes_a_private_file_and_prints_the_public_half(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "me.key"
    status, out, _ = run(capsys, "keygen-officer", "--out", path)
    assert status == 0
    public = json.loads(out)
    assert set(public) == {"encryption_public", "signing_public"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["encryption_public"] == public["encryption_public"]
    # Never overwrite a key by accident.
    status, _, err = run(capsys, "keygen-officer", "--out", path)
    assert status == 1 and "exists" in err
    assert run(capsys, "keygen-officer", "--out", path, "--force")[0] == 0


def test_seal_then_open_with_k_officers(
    committee: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    doc = committee["dir"] / "spec.pdf"
    doc.write_bytes(b"%PDF-1.7")
    acme = seal_offer(capsys, committee, "acme", "123.45", "--feature", "warranty=0.1")
    rival = seal_offer(capsys, committee, "rival", "110", "--cost", "5", "--document", doc)
    status, out, err = run(
        capsys, *open_args(committee), *officer_args(committee, "carol", "alice"), acme, rival
    )
    assert status == 0, err
    opened = {record["bidder_id"]: record for record in lines(out)}
    assert opened["acme"]["status"] == "opened"
    assert opened["acme"]["offer"] == {
        "amount": "123.45",
        "currency": "EUR",
        "features": {"warranty": "0.1"},
        "version": 2,
    }
    # One name and one unit for the life-cycle cost, as on the wire: ``cost``, major units.
    assert opened["rival"]["offer"]["amount"] == "110.00"
    assert opened["rival"]["offer"]["cost"] == "5.00"
    assert opened["rival"]["offer"]["documents"] == {"spec.pdf": "JVBERi0xLjc="}


def test_k_minus_one_officers_open_nothing(
    committee: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    acme = seal_offer(capsys, committee, "acme", "1")
    status, out, err = run(capsys, *open_args(committee), *officer_args(committee, "bob"), acme)
    assert status == 1
    assert out == ""
    assert "too_few_shares" in err


def test_the_same_officer_twice_is_a_duplicate(
    committee: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, *open_args(committee), *officer_args(committee, "bob", "bob"))
    assert status == 1 and "duplicate_share" in err


def test_a_forged_decrypted_share_is_rejected(
    committee: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    c = committee
    for name in ("alice", "bob"):
        status, _, err = run(
            capsys,
            "decrypt-share",
            "--officer-key",
            c["dir"] / f"{name}.key",
            "--share",
            c["dir"] / "c" / "shares" / f"{name}.json",
            "--ceremony-key",
            c["ceremony_public"],
            "--out",
            c["dir"] / f"{name}.share",
        )
        assert status == 0, err
    assert stat.S_IMODE((c["dir"] / "alice.share").stat().st_mode) == 0o600
    forged = json.loads((c["dir"] / "bob.share").read_text())
    forged["value"] = "00" * 32
    (c["dir"] / "forged.share").write_text(json.dumps(forged))
    acme = seal_offer(capsys, c, "acme", "0.07")
    status, _, err = run(
        capsys,
        *open_args(c),
        "--share",
        c["dir"] / "alice.share",
        "--share",
        c["dir"] / "forged.share",
    )
    assert status == 1 and "forged_share" in err
    status, out, _ = run(
        capsys,
        *open_args(c),
        "--share",
        c["dir"] / "alice.share",
        "--share",
        c["dir"] / "bob.share",
        acme,
    )
    assert status == 0
    assert lines(out)[0]["offer"]["amount"] == "0.07"


def test_wrong_officer_key_cannot_decrypt_a_share(
    committee: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    c = committee
    argv = ["--officer", c["dir"] / "alice.key", c["dir"] / "c" / "shares" / "bob.json"]
    status, _, err = run(capsys, *open_args(c), *argv, *officer_args(c, "carol"))
    assert status == 1 and "decrypt_failed" in err


def test_a_moved_or_broken_envelope_is_listed_invalid(
    committee: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    c = committee
    acme = seal_offer(capsys, c, "acme", "100")
    moved = json.loads(acme.read_text())
    moved["bidder_id"] = "rival"  # the same ciphertext claimed by another bidder
    (c["dir"] / "moved.json").write_text(json.dumps(moved))
    other_tender = {**json.loads(acme.read_text()), "tender_id": "T-other"}
    (c["dir"] / "other.json").write_text(json.dumps(other_tender))
    (c["dir"] / "junk.json").write_text("not json")
    # Sealed to the right key but not an offer inside.
    info = envelope_info(TENDER, "L-1", "financial", "odd", DEADLINE)

    odd = envelope_json(
        TENDER,
        "L-1",
        "financial",
        "odd",
        DEADLINE,
        seal(bytes.fromhex(c["opening_public"]), info, b"{}"),
    )
    (c["dir"] / "odd.json").write_text(json.dumps(odd))
    status, out, _ = run(
        capsys,
        *open_args(c),
        *officer_args(c, "alice", "bob"),
        acme,
        c["dir"] / "moved.json",
        c["dir"] / "other.json",
        c["dir"] / "junk.json",
        c["dir"] / "odd.json",
        c["dir"] / "missing.json",
    )
    assert status == 0
    records = lines(out)
    assert [(r["status"], r.get("reason")) for r in records] == [
        ("opened", None),
        ("invalid", "decrypt_failed"),
        ("invalid", "wrong_tender"),
        ("invalid", "malformed"),
        ("invalid", "bad_offer"),
        ("invalid", "malformed"),
    ]


def test_verify_receipt_offline(
    committee: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    c = committee
    acme = seal_offer(capsys, c, "acme", "100")
    envelope = json.loads(acme.read_text())
    server = ed25519.Ed25519PrivateKey.generate()
    server_public = server.public_key().public_bytes_raw()
    receipt = Receipt(
        tender_id=TENDER,
        lot_id="L-1",
        kind="financial",
        bidder_id="acme",
        commitment=envelope["commitment"],
        received_at_us=DEADLINE - 1,
        seq=3,
        server_key_id=key_id(server_public),
    )
    path = c["dir"] / "receipt.json"
    path.write_text(json.dumps(sign_receipt(receipt, server).to_json()))
    status, out, _ = run(capsys, "verify-receipt", path, "--server-key", server_public.hex())
    assert status == 0 and json.loads(out)["valid"] is True
    status, _, _ = run(
        capsys, "verify-receipt", path, "--server-key", server_public.hex(), "--envelope", acme
    )
    assert status == 0
    # Another envelope: the receipt does not cover it.
    rival = seal_offer(capsys, c, "rival", "100")
    status, _, err = run(
        capsys, "verify-receipt", path, "--server-key", server_public.hex(), "--envelope", rival
    )
    assert status == 1 and "envelope_mismatch" in err
    # A changed receipt, or another key, fails.
    body = json.loads(path.read_text())
    body["receipt"]["received_at_us"] = DEADLINE - 2
    path.write_text(json.dumps(body))
    status, _, err = run(capsys, "verify-receipt", path, "--server-key", server_public.hex())
    assert status == 1 and "bad_signature" in err
    other = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    status, _, err = run(capsys, "verify-receipt", path, "--server-key", other.hex())
    assert status == 1 and "wrong_key" in err


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["seal", "--tender-key", "xyz"])
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        main(["seal", "--amount", "1e3"])
    assert caught.value.code == 2
    assert main([]) == 2
    capsys.readouterr()


def test_bad_offer_values_are_reported(
    committee: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(
        capsys,
        "seal",
        "--tender-key",
        committee["opening_public"],
        "--tender",
        TENDER,
        "--lot",
        "L-1",
        "--bidder",
        "acme",
        "--deadline-us",
        DEADLINE,
        "--amount",
        1,
        "--currency",
        "euro",
        "--out",
        committee["dir"] / "x.json",
    )
    assert status == 1 and "bad_offer" in err


def test_gavel_forwards_to_tender(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gavel(["tender", "keygen-officer", "--out", str(tmp_path / "k.json")]) == 0
    assert "encryption_public" in capsys.readouterr().out


def test_more_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["seal", "--feature", "novalue"],
        ["ceremony", "--officer", "nokey"],
    ):
        with pytest.raises(SystemExit) as caught:
            main(argv)
        assert caught.value.code == 2
    capsys.readouterr()


def test_ceremony_refuses_an_officer_listed_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    public = "11" * 32
    status, _, err = run(
        capsys,
        "ceremony",
        "--tender",
        TENDER,
        "--k",
        1,
        "--officer",
        f"a={public}",
        "--officer",
        f"a={public}",
        "--out-dir",
        tmp_path,
    )
    assert status == 1 and "duplicate_officer" in err


def test_open_reports_bad_files(
    committee: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    c = committee
    acme = seal_offer(capsys, c, "acme", "1")
    body = json.loads(acme.read_text())
    cases = {
        "not-envelope.json": {**body, "type": "other"},
        "bad-base64.json": {**body, "ciphertext": "%%%"},
        "swapped.json": {**body, "commitment": "0" * 64},
        "array.json": [],
    }
    for name, content in cases.items():
        (c["dir"] / name).write_text(json.dumps(content))
    status, out, _ = run(
        capsys,
        *open_args(c),
        *officer_args(c, "alice", "bob"),
        *(c["dir"] / name for name in cases),
    )
    assert status == 0
    assert [r["reason"] for r in lines(out)] == ["malformed"] * 4
    assert "does not match its commitment" in lines(out)[2]["detail"]
    # No shares at all, or a share file that is not a share.
    status, _, err = run(capsys, *open_args(c), acme)
    assert status == 1 and "too_few_shares" in err
    status, _, err = run(capsys, *open_args(c), "--share", acme)
    assert status == 1 and "malformed" in err
    # A missing file is a file error, not a traceback.
    status, _, err = run(capsys, *open_args(c), "--share", c["dir"] / "nope.json")
    assert status == 1 and "file_error" in err


# --------------------------------------------------------------------------- submit


async def test_submit_uploads_an_envelope_once_and_verifies_its_receipt(
    server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``gavel tender seal`` then ``submit`` against a live server: the receipt verifies
    with the published key, a retry is answered from the idempotency record (one
    envelope in the log), and a refusal exits 1 with the server's reason code."""
    import asyncio

    from tests.api.http.test_tenders import new_tender, server_public

    tender = await new_tender(server, close_in=30)
    envelope = tmp_path / "env.json"
    sealed = [
        "seal",
        "--tender-key",
        tender.public_key.hex(),
        "--tender",
        tender.id,
        "--lot",
        "L1",
        "--bidder",
        "ann",
        "--deadline-us",
        tender.deadline,
        "--amount",
        "42",
        "--currency",
        "EUR",
        "--out",
        envelope,
    ]
    assert run(capsys, *sealed)[0] == 0
    key = (await server_public(server)).hex()
    receipt = tmp_path / "receipt.json"
    submit = ["submit", envelope, "--url", f"http://127.0.0.1:{server.port}"]
    token = ["--token", tender.bidder("ann")]
    for _ in range(2):  # the second is a retry
        status, out, err = await asyncio.to_thread(
            run, capsys, *submit, *token, "--server-key", key, "--out", receipt
        )
        assert status == 0, err
        answer = lines(out)[0]
        assert answer["verified"] is True
        assert answer["commitment"] == json.loads(envelope.read_text())["commitment"]
    assert (
        run(capsys, "verify-receipt", receipt, "--server-key", key, "--envelope", envelope)[0] == 0
    )
    log = (await server.get(f"/api/v1/tenders/{tender.id}/events", tender.officer["o1"])).json()
    events = log["events"] if isinstance(log, dict) else log
    assert len([e for e in events if e["type"] == "EnvelopeReceived"]) == 1
    # A token for another tender: the server refuses, exit 1 with its reason code.
    elsewhere = server.token("ann", "bidder", "t-other")
    status, _, err = await asyncio.to_thread(run, capsys, *submit, "--token", elsewhere)
    assert status == 1
    assert err.startswith("gavel tender: wrong_auction: "), err

    # The officers' side from a terminal: after the deadline, hand in k = 2 shares.
    from tests.api.http.test_tenders import KEYS

    for name in ("o1", "o2"):
        (tmp_path / f"{name}.json").write_text(KEYS[name].to_json())
    hand_in = ["hand-in", "--url", f"http://127.0.0.1:{server.port}", "--tender", tender.id]
    hand_in += ["--lot", "L1"]
    early = await asyncio.to_thread(
        run,
        capsys,
        *hand_in,
        "--token",
        tender.officer["o1"],
        "--officer-key",
        tmp_path / "o1.json",
    )
    assert early[0] == 1 and early[2].startswith("gavel tender: opening_not_due: "), early
    # A stranger's key file cannot decrypt o1's share: refused before anything is sent.
    stranger = tmp_path / "stranger.json"
    assert run(capsys, "keygen-officer", "--out", stranger)[0] == 0
    wrong = await asyncio.to_thread(
        run, capsys, *hand_in, "--token", tender.officer["o1"], "--officer-key", stranger
    )
    assert wrong[0] == 1, wrong


async def test_hand_in_from_a_terminal_opens_the_stage_with_k_shares(
    server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Suppliers seal and submit, officers hand in their shares, all with the CLI: the
    second of k = 2 shares opens the stage and the offers are the sealed prices."""
    import asyncio

    from tests.api.http.test_tenders import KEYS, new_tender

    tender = await new_tender(server, close_in=2.0)
    url = f"http://127.0.0.1:{server.port}"
    for bidder, amount in (("ann", "7"), ("bob", "6.50")):
        envelope = tmp_path / f"{bidder}.json"
        sealed = ["seal", "--tender-key", tender.public_key.hex(), "--tender", tender.id]
        sealed += ["--lot", "L1", "--bidder", bidder, "--deadline-us", tender.deadline]
        sealed += ["--amount", amount, "--currency", "EUR", "--out", envelope]
        assert run(capsys, *sealed)[0] == 0
        submitted = await asyncio.to_thread(
            run, capsys, "submit", envelope, "--url", url, "--token", tender.bidder(bidder)
        )
        assert submitted[0] == 0, submitted
    for name in ("o1", "o2"):
        (tmp_path / f"{name}.json").write_text(KEYS[name].to_json())
    # Too early: refused; a later run must not get that refusal replayed.
    early = await asyncio.to_thread(
        run,
        capsys,
        *("hand-in", "--url", url, "--tender", tender.id, "--lot", "L1"),
        *("--token", tender.officer["o1"], "--officer-key", tmp_path / "o1.json"),
    )
    assert early[0] == 1 and "opening_not_due" in early[2], early
    await tender.wait_deadline()
    answers = []
    for name in ("o1", "o2"):
        status, out, err = await asyncio.to_thread(
            run,
            capsys,
            *("hand-in", "--url", url, "--tender", tender.id, "--lot", "L1"),
            *("--token", tender.officer[name], "--officer-key", tmp_path / f"{name}.json"),
        )
        assert status == 0, err
        answers.append(lines(out)[0])
    assert answers[0]["opened"] is False and answers[1]["opened"] is True
    offers = (await tender.offers(tender.officer["o3"]))["offers"]
    assert sorted((o["bidder"], o["price"]) for o in offers) == [("ann", 700), ("bob", 650)]
