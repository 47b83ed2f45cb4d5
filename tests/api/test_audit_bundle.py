"""The auditor's bundle, verified offline: a clean bundle passes; each kind of tampering
fails and names the first event or checkpoint at fault."""

from __future__ import annotations

import json
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.audit_bundle import (
    FORMAT,
    BundleInvalid,
    build_bundle,
    decode_fast,
    load_bundle,
    save_bundle,
    verify,
)
from contracts.canonical import event_bytes, event_from_bytes
from contracts.checkpoint import log_origin, sign_checkpoint
from contracts.transparency import MerkleLog
from engine import AuctionEnded, BidAccepted, CancelAuction, Event
from engine.errors import MalformedRecord
from tests.engine.helpers import END, START, english, started

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
NAME = "gavel-audit"
ORIGIN = log_origin("auction", "A-1")


def english_log() -> list[Event]:
    run = started(english())
    run.bid("ann", "10.00", START + 1)
    run.bid("bob", "12.00", START + 2)
    run.bid("ann", "11.00", START + 3)  # rejected: below the step
    run.bid("ann", "15.00", START + 4)
    run.tick(END + 10)
    assert isinstance(run.events[-1], AuctionEnded)
    return run.events


def checkpoints(payloads: list[bytes], sizes: list[int], key: Any = KEY) -> list[str]:
    log = MerkleLog(payloads)
    return [sign_checkpoint(ORIGIN, size, log.root(size), NAME, key) for size in sizes]


def bundle_of(events: list[Event], sizes: list[int] | None = None) -> dict[str, Any]:
    payloads = [event_bytes(event) for event in events]
    sizes = sizes if sizes is not None else [3, 6, len(payloads)]
    return build_bundle(
        kind="auction",
        stream_id="A-1",
        origin=ORIGIN,
        events=payloads,
        checkpoints=checkpoints(payloads, sizes),
        keys=[(NAME, KEY.public_key())],
        exported_at=1,
    )


EVENTS = english_log()


def fails(bundle: dict[str, Any], match: str) -> None:
    with pytest.raises(BundleInvalid, match=match):
        verify(bundle)


def test_a_clean_bundle_verifies_and_the_close_is_re_decided(tmp_path: Path) -> None:
    bundle = bundle_of(EVENTS)
    assert bundle["format"] == FORMAT
    assert bundle["result"]["type"] == "AuctionEnded"
    assert bundle["rules"]["currency"] == "EUR"
    seen: list[int] = []
    verified = verify(bundle, on_event=lambda event, auction: seen.append(event.seq))
    assert verified.events == len(EVENTS) == len(seen)
    assert verified.checkpoints == 3
    assert verified.result == "re-decided"
    assert verified.root == MerkleLog(event_bytes(e) for e in EVENTS).root()
    path = tmp_path / "bundle.json"
    save_bundle(bundle, path)
    assert load_bundle(path) == bundle
    assert verify(load_bundle(path)).events == len(EVENTS)


def test_an_open_or_cancelled_auction_verifies() -> None:
    assert verify(bundle_of(EVENTS[:-1], [len(EVENTS) - 1])).result == "open"
    run = started(english())
    run(CancelAuction("c", START + 5, "withdrawn"))
    assert verify(bundle_of(run.events, [len(run.events)])).result == "folded"


def _edit(bundle: dict[str, Any], position: int, **changes: Any) -> None:
    event = event_from_bytes(bundle["events"][position - 1].encode())
    bundle["events"][position - 1] = event_bytes(replace(event, **changes)).decode()


def test_a_changed_amount_fails_at_its_checkpoint() -> None:
    bundle = bundle_of(EVENTS)
    position = next(i for i, e in enumerate(EVENTS, 1) if isinstance(e, BidAccepted))
    _edit(bundle, position, price=999_999)
    fails(bundle, r"checkpoint 2 \(size 6\).*among 4\.\.6")


def test_a_removed_event_is_named() -> None:
    bundle = bundle_of(EVENTS)
    del bundle["events"][4]
    fails(bundle, r"event 5: has seq 6 where 5 is due")


def test_a_removed_last_event_is_missing_from_the_checkpoint() -> None:
    bundle = bundle_of(EVENTS)
    bundle["events"].pop()
    bundle["result"] = None
    fails(
        bundle, rf"checkpoint 3 \(size {len(EVENTS)}\) covers more events.*events {len(EVENTS)}\.\."
    )


def test_reordered_events_are_named() -> None:
    bundle = bundle_of(EVENTS)
    events = bundle["events"]
    events[5], events[6] = events[6], events[5]
    fails(bundle, r"event 6: has seq 7 where 6 is due")


def test_reordered_and_renumbered_events_fail_the_engine_or_a_checkpoint() -> None:
    bundle = bundle_of(EVENTS)
    a, b = (event_from_bytes(bundle["events"][i].encode()) for i in (5, 6))
    bundle["events"][5] = event_bytes(replace(b, seq=a.seq, at=a.at)).decode()
    bundle["events"][6] = event_bytes(replace(a, seq=b.seq, at=b.at)).decode()
    fails(bundle, r"checkpoint 2 \(size 6\).*among 4\.\.6")


def test_a_forged_signature_is_named() -> None:
    bundle = bundle_of(EVENTS)
    text = bundle["checkpoints"][1]
    intruder = Ed25519PrivateKey.generate()
    bundle["checkpoints"][1] = sign_checkpoint(ORIGIN, 6, b"\x00" * 32, NAME, intruder)
    fails(bundle, r"checkpoint 2 \(size 6\): no signature by 'gavel-audit'")
    body, _, line = text.rpartition("\u2014 ")
    name, encoded = line.split(" ")
    flipped = ("B" if encoded[10] == "A" else "A").join((encoded[:10], encoded[11:]))
    bundle["checkpoints"][1] = f"{body}\u2014 {name} {flipped}"
    fails(bundle, r"checkpoint 2 \(size 6\): the signature of 'gavel-audit' does not verify")


def test_a_changed_result_is_named() -> None:
    bundle = bundle_of(EVENTS)
    bundle["result"]["price"] = 1
    fails(bundle, rf"stated result is not the result in event {len(EVENTS)} \(AuctionEnded\)")


def test_a_re_signed_forged_close_is_refused_by_the_engine() -> None:
    """The operator rewrites the close and signs the new log with its own key: the
    signatures hold, but the engine closes the auction differently."""
    events = list(EVENTS)
    ended = events[-1]
    assert isinstance(ended, AuctionEnded)
    events[-1] = replace(ended, winners=("bob",))
    bundle = bundle_of(events)
    fails(bundle, rf"event {len(EVENTS)} \(AuctionEnded\): the engine closes the auction")


def test_a_close_dated_before_the_last_event_is_refused() -> None:
    events = list(EVENTS)
    events[-1] = replace(events[-1], at=START)
    bundle = bundle_of(events)
    n = len(EVENTS)
    fails(bundle, rf"event {n} \(seq {n}, AuctionEnded\): the engine refuses it")


def test_an_impossible_event_is_refused_by_the_engine() -> None:
    events = list(EVENTS)
    events.insert(1, replace(events[-1], seq=2))
    events = [replace(e, seq=i) for i, e in enumerate(events, 1)]
    bundle = bundle_of(events, [len(events)])
    fails(bundle, r"event 2 \(seq 2, AuctionEnded\)|event 3 \(seq 3, .*\): the engine refuses")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda b: b.update(format="other"), "not a gavel-audit-bundle/1 bundle"),
        (lambda b: b.update(events="x"), "'events' is not a list of str"),
        (lambda b: b.update(origin=None), "names no origin"),
        (lambda b: b.update(keys=[]), "holds no public key"),
        (lambda b: b.update(keys=[{"name": "k", "verifier_key": "k+00+AA=="}]), "key 'k'"),
        (lambda b: b.update(checkpoints=[]), "holds no checkpoint"),
        (lambda b: b["checkpoints"].pop(), r"covers 6 events of \d+: events 7\.\.\d+ are not"),
        (lambda b: b.update(rules={"currency": "USD"}), "rules are not the rules"),
        (lambda b: b["manifest"].update(events=3), "manifest counts 3 events"),
        (lambda b: b["events"].__setitem__(0, b["events"][0] + " "), "event 1: not a canonical"),
    ],
)
def test_malformed_bundles_are_refused(change: Any, match: str) -> None:
    bundle = bundle_of(EVENTS)
    change(bundle)
    fails(bundle, match)


def test_a_checkpoint_of_another_log_is_refused() -> None:
    bundle = bundle_of(EVENTS)
    payloads = [e.encode() for e in bundle["events"]]
    other = sign_checkpoint("gavel/auction/B", 3, MerkleLog(payloads).root(3), NAME, KEY)
    bundle["checkpoints"][0] = other
    fails(bundle, "checkpoint 1 .* is for 'gavel/auction/B'")


def test_unreadable_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleInvalid, match="cannot read"):
        load_bundle(tmp_path / "missing.json")
    (tmp_path / "list.json").write_text(json.dumps([1]))
    with pytest.raises(BundleInvalid, match="not a JSON object"):
        load_bundle(tmp_path / "list.json")


# ------------------------------------------------------------ the fast decoding path


def _outcome(decode: Any, data: bytes) -> Any:
    try:
        return ("ok", decode(data))
    except MalformedRecord as error:
        return ("error", str(error))


def _variants(data: bytes) -> list[bytes]:
    tree = json.loads(data)
    out = [data, data + b" ", b" " + data, data.replace(b":", b": ", 1)]
    out.append(json.dumps(tree, sort_keys=False, separators=(",", ":")).encode())
    for key, value in tree.items():
        if key == "type":
            continue
        for other in (None, True, 1, 1.0, "x", "1/2", "2/4", "-3/1", "--3/1", "1/0", [], {}):
            if other != value or type(other) is not type(value):
                changed = {**tree, key: other}
                out.append(json.dumps(changed, sort_keys=True, separators=(",", ":")).encode())
        missing = {k: v for k, v in tree.items() if k != key}
        out.append(json.dumps(missing, sort_keys=True, separators=(",", ":")).encode())
    extra = {**tree, "zzz": 1}
    out.append(json.dumps(extra, sort_keys=True, separators=(",", ":")).encode())
    out.append(b'{"type":"BidAccepted","type":"BidAccepted"}')
    out += [b"{", b"\xff", b"[]", b'"x"']
    out.append(data.replace(b"}", b',"seq":1}', 1))  # a duplicate key
    return out


def test_the_fast_decoder_agrees_with_the_codec() -> None:
    from tests.engine.helpers import started as start

    samples = [event_bytes(e) for e in EVENTS]
    run = start(english())
    run.proxy("ann", "20.00", START + 1)
    run.bid("bob", "12.00", START + 2)
    samples += [event_bytes(e) for e in run.events]
    samples.append(
        event_bytes(BidAccepted(9, 10, "c", "ann", 10, Fraction(-7, 3), False))  # a MEAT score
    )
    assert {json.loads(s)["type"] for s in samples} >= {"BidAccepted", "CommandRejected"}
    checked = 0
    for data in samples:
        for variant in _variants(data):
            fast, slow = _outcome(decode_fast, variant), _outcome(event_from_bytes, variant)
            assert fast[0] == slow[0], (variant, fast, slow)
            if fast[0] == "ok":
                assert fast[1] == slow[1] and type(fast[1]) is type(slow[1])
            checked += 1
    assert checked > 500
