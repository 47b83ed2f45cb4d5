"""The auditor's bundle, verified offline: a clean bundle passes; each kind of tampering
fails and names the first event or checkpoint at fault."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.audit.bundle import (
    FORMAT,
    BundleInvalid,
    EventNotSigned,
    build_bundle,
    decode_fast,
    load_bundle,
    save_bundle,
    verify,
)
from contracts.canonical import event_bytes, event_from_bytes
from contracts.checkpoint import log_origin, sign_checkpoint
from contracts.transparency import MerkleLog, leaf_hash
from engine import AuctionEnded, BidAccepted, CancelAuction, Event
from engine.codec import encode
from engine.errors import MalformedRecord
from engine.tender_records import EnvelopeReceived
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


#: The first accepted bid, the last leaf under checkpoint 2 (size 6): an event the engine
#: still folds, and the close still re-decides, when its price is edited.
BID = next(i for i, e in enumerate(EVENTS, 1) if isinstance(e, BidAccepted))
#: The last accepted bid, inside the range 7..10 of checkpoint 3.
LAST_BID = max(i for i, e in enumerate(EVENTS, 1) if isinstance(e, BidAccepted))
N = len(EVENTS)


def not_signed(bundle: dict[str, Any], seq: int, event_type: str, match: str) -> None:
    """``verify`` names the event at ``seq`` as not the signed log's, in the error's fields
    and in its text."""
    with pytest.raises(EventNotSigned, match=match) as caught:
        verify(bundle)
    assert (caught.value.seq, caught.value.event_type) == (seq, event_type)
    assert str(caught.value).startswith(f"event seq {seq} ({event_type}) ")


def test_an_edited_event_is_named() -> None:
    """Issue 12 item 4: this said only "checkpoint 2 (size 6): its root ... among 4..6"."""
    bundle = bundle_of(EVENTS)
    _edit(bundle, LAST_BID, price=999_999)
    assert (BID, LAST_BID, N) == (6, 9, 10)  # 9: neither the first nor the last under 3
    not_signed(
        bundle,
        LAST_BID,
        "BidAccepted",
        r"does not match the signed log: checkpoint 3 \(size 10\) signs leaf hash "
        r"[0-9a-f]{64} at seq 9, the bundle's event hashes to [0-9a-f]{64}$",
    )
    # Edited in place of the first bid, the last leaf of checkpoint 2: the same.
    bundle = bundle_of(EVENTS)
    _edit(bundle, BID, bidder="bob")
    not_signed(bundle, BID, "BidAccepted", r"checkpoint 2 \(size 6\) signs leaf hash")


def test_an_edit_the_engine_would_refuse_is_named_as_an_edit() -> None:
    """A close dated before the bids: the engine would refuse it, but the signed log says
    first that the event is not the one signed."""
    bundle = bundle_of(EVENTS)
    _edit(bundle, N, at=START)
    not_signed(bundle, N, "AuctionEnded", "does not match the signed log")


def version_1(bundle: dict[str, Any]) -> dict[str, Any]:
    bundle["format"] = "gavel-audit-bundle/1"
    del bundle["manifest"]["leaf_hashes"]
    return bundle


def test_an_event_edited_in_a_version_1_bundle_is_named_by_its_checkpoint() -> None:
    """A ``gavel-audit-bundle/1`` (no leaf hashes) still verifies; an edit in it can only
    be placed between two checkpoints: one signed root does not say which leaf differs."""
    bundle = version_1(bundle_of(EVENTS))
    assert verify(bundle).events == N
    _edit(bundle, BID, price=999_999)
    fails(bundle, r"checkpoint 2 \(size 6\).*among 4\.\.6")
    with_leaves = bundle_of(EVENTS)
    with_leaves["format"] = "gavel-audit-bundle/1"
    fails(with_leaves, r"the manifest has fields its format does not define: \['leaf_hashes'\]")


def test_rewritten_leaf_hashes_are_not_trusted_to_name_an_event() -> None:
    """Leaf hashes rewritten to match an edited event no longer fold to the signed roots:
    the verifier falls back to the checkpoint, and never names an innocent event."""
    bundle = bundle_of(EVENTS)
    _edit(bundle, BID, price=999_999)
    leaves = b"".join(leaf_hash(text.encode()) for text in bundle["events"])
    bundle["manifest"]["leaf_hashes"] = base64.b64encode(leaves).decode()
    fails(bundle, r"checkpoint 2 \(size 6\).*among 4\.\.6")


def test_a_re_signed_edit_with_the_old_manifest_fails_at_the_manifest() -> None:
    """The operator edits a bid and re-signs the log but keeps the manifest: every
    signature and the engine hold, the manifest does not."""
    bundle = bundle_of(EVENTS)
    _edit(bundle, BID, price=999_999)
    payloads = [text.encode() for text in bundle["events"]]
    bundle["checkpoints"] = checkpoints(payloads, [3, 6, N])
    fails(bundle, "the manifest's events_sha256 .* is not the SHA-256 of the bundle's events")


def _appended(bundle: dict[str, Any]) -> None:
    last = event_from_bytes(bundle["events"][-1].encode())
    bundle["events"].append(event_bytes(replace(last, seq=N + 1)).decode())


def _swapped_in_place(bundle: dict[str, Any]) -> None:
    """Events 6 and 7 swapped, each taking the other's seq and time: seq order holds."""
    a, b = (event_from_bytes(bundle["events"][i].encode()) for i in (5, 6))
    bundle["events"][5] = event_bytes(replace(b, seq=a.seq, at=a.at)).decode()
    bundle["events"][6] = event_bytes(replace(a, seq=b.seq, at=b.at)).decode()


def _flipped_signature(bundle: dict[str, Any]) -> None:
    body, _, line = bundle["checkpoints"][1].rpartition("\u2014 ")
    name, encoded = line.split(" ")
    flipped = ("B" if encoded[10] == "A" else "A").join((encoded[:10], encoded[11:]))
    bundle["checkpoints"][1] = f"{body}\u2014 {name} {flipped}"


def _one_leaf_hash_changed(bundle: dict[str, Any]) -> None:
    raw = bytearray(base64.b64decode(bundle["manifest"]["leaf_hashes"]))
    raw[32 * 2] ^= 1  # seq 3's hash
    bundle["manifest"]["leaf_hashes"] = base64.b64encode(raw).decode()


def _intruder_signature(bundle: dict[str, Any]) -> None:
    intruder = Ed25519PrivateKey.generate()
    bundle["checkpoints"][1] = sign_checkpoint(ORIGIN, 6, b"\x00" * 32, NAME, intruder)


#: Every tampering a bundle can suffer short of the signing key, and the reason each
#: fails with. Issue 12 item 4: the stream id, events_sha256 and root edits verified.
TAMPERINGS: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    (
        "stream-id",
        lambda b: b["stream"].update(id="A-2"),
        r"the bundle's stream is auction 'A-2', but its checkpoints sign the log of "
        r"auction 'A-1' \(origin 'gavel/auction/A-1'\)",
    ),
    (
        "stream-kind",
        lambda b: b["stream"].update(kind="tender"),
        "the bundle's stream is tender 'A-1', but its checkpoints sign the log of auction",
    ),
    ("stream-kind-unknown", lambda b: b["stream"].update(kind="lot"), '"kind": "lot"'),
    ("stream-extra-field", lambda b: b["stream"].update(name="x"), '"name": "x"'),
    ("stream-missing", lambda b: b.pop("stream"), "stream is not .*: null"),
    (
        "origin",
        lambda b: b.update(origin="gavel/auction/A-2"),
        r"checkpoint 1 \(size 3\) is for 'gavel/auction/A-1', not 'gavel/auction/A-2'",
    ),
    ("manifest-events", lambda b: b["manifest"].update(events=3), "manifest counts 3 events"),
    (
        "manifest-events-type",
        lambda b: b["manifest"].update(events=str(N)),
        f"manifest counts '{N}' events",
    ),
    (
        "manifest-events-sha256",
        lambda b: b["manifest"].update(events_sha256="0" * 64),
        "the manifest's events_sha256 '0{64}' is not the SHA-256 of the bundle's events",
    ),
    (
        "manifest-root",
        lambda b: b["manifest"].update(root="0" * 64),
        "the manifest's root '0{64}' is not the root of the bundle's events",
    ),
    (
        "manifest-leaf-hashes",
        _one_leaf_hash_changed,
        r"the manifest's leaf_hashes differ from the events' leaf hashes at seq 3$",
    ),
    (
        "manifest-leaf-hashes-short",
        lambda b: b["manifest"].update(leaf_hashes=b["manifest"]["leaf_hashes"][:-44]),
        rf"the manifest's leaf_hashes hold {N - 1} hashes, the bundle {N} events",
    ),
    (
        "manifest-leaf-hashes-not-base64",
        lambda b: b["manifest"].update(leaf_hashes="%%"),
        "leaf_hashes is not the base64 of whole 32-byte hashes",
    ),
    (
        "manifest-exported-at",
        lambda b: b["manifest"].update(exported_at="yesterday"),
        r"exported_at 'yesterday' is not a time \(integer µs\)",
    ),
    (
        "manifest-unknown-field",
        lambda b: b["manifest"].update(signed_by="us"),
        r"the manifest has fields its format does not define: \['signed_by'\]",
    ),
    ("manifest-missing-field", lambda b: b["manifest"].pop("root"), r"manifest lacks \['root'\]"),
    ("manifest-not-object", lambda b: b.update(manifest=[]), "manifest is not an object"),
    (
        "unknown-field",
        lambda b: b.update(note="trust me"),
        r"bundle has fields its format does not define: \['note'\]",
    ),
    ("missing-rules", lambda b: b.pop("rules"), r"bundle lacks \['rules'\]"),
    ("rules", lambda b: b.update(rules={"currency": "USD"}), "rules are not the rules"),
    (
        "result",
        lambda b: b["result"].update(price=1),
        rf"stated result is not the result in event {N} \(AuctionEnded\)",
    ),
    (
        "key-extra-field",
        lambda b: b["keys"][0].update(trusted=True),
        r"key 1 \('gavel-audit'\) has fields its format does not define: \['trusted'\]",
    ),
    (
        "key-name",
        lambda b: b["keys"][0].update(name="other"),
        "key 'other': its verifier key is named 'gavel-audit'",
    ),
    (
        "event-edited",
        lambda b: _edit(b, BID, price=999_999),
        rf"event seq {BID} \(BidAccepted\) does not match the signed log",
    ),
    (
        "event-removed",
        lambda b: b["events"].pop(4),
        r"event 5: has seq 6 where 5 is due \(an event was removed, added or moved\)",
    ),
    (
        "last-event-removed",
        lambda b: (b["events"].pop(), b.update(result=None)),
        rf"checkpoint 3 \(size {N}\) covers more events than the bundle's {N - 1}",
    ),
    (
        "event-appended",
        _appended,
        rf"event seq {N + 1} \(AuctionEnded\) is not in the signed log: its checkpoints "
        rf"sign {N} events",
    ),
    ("events-reordered", lambda b: b["events"].insert(4, b["events"].pop(6)), "event 5: has seq 7"),
    (
        "events-swapped-in-place",
        _swapped_in_place,
        r"event seq 6 \(\w+\) does not match the signed log",
    ),
    (
        "signature-edited",
        _flipped_signature,
        r"checkpoint 2 \(size 6\): the signature of 'gavel-audit' does not verify",
    ),
    (
        "signature-replaced",
        _intruder_signature,
        r"checkpoint 2 \(size 6\): no signature by 'gavel-audit'",
    ),
    (
        "last-checkpoint-removed",
        lambda b: b["checkpoints"].pop(),
        rf"the last checkpoint covers 6 events of {N}: events 7\.\.{N} are not signed",
    ),
    ("all-checkpoints-removed", lambda b: b.update(checkpoints=[]), "holds no checkpoint"),
    ("format", lambda b: b.update(format="other"), "not a gavel-audit-bundle/1 or .*/2 bundle"),
    ("events-not-strings", lambda b: b.update(events="x"), "'events' is not a list of str"),
    ("origin-missing", lambda b: b.update(origin=None), "names no origin"),
    ("keys-empty", lambda b: b.update(keys=[]), "holds no public key"),
    (
        "key-junk",
        lambda b: b.update(keys=[{"name": "k", "verifier_key": "k+00+AA=="}]),
        "key 'k': a verifier key must hold",
    ),
    (
        "event-not-canonical",
        lambda b: b["events"].__setitem__(0, b["events"][0] + " "),
        "event 1: not a canonical",
    ),
]


@pytest.mark.parametrize(
    ("change", "match"),
    [(change, match) for _, change, match in TAMPERINGS],
    ids=[name for name, _, _ in TAMPERINGS],
)
def test_each_tampering_fails_with_its_own_reason(change: Any, match: str) -> None:
    bundle = bundle_of(EVENTS)
    assert verify(copy.deepcopy(bundle)).events == N  # untouched, it verifies
    change(bundle)
    fails(bundle, match)


@pytest.mark.parametrize(
    "leaves",
    [None, 5, "%%", base64.b64encode(bytes(31)).decode(), "AA=", "AB=="],
    ids=["null", "number", "not-base64", "part-of-a-hash", "unpadded", "not-canonical"],
)
def test_leaf_hashes_that_are_not_hashes_are_refused(leaves: Any) -> None:
    bundle = bundle_of(EVENTS)
    bundle["manifest"]["leaf_hashes"] = leaves
    fails(bundle, "leaf_hashes is not the base64 of whole 32-byte hashes")


def test_a_removed_earlier_checkpoint_still_verifies() -> None:
    """What a bundle cannot show: nothing signs the list of checkpoints, and which ones
    were issued depends on background work, so one fewer (not the last) verifies."""
    bundle = bundle_of(EVENTS)
    del bundle["checkpoints"][0]
    assert verify(bundle).checkpoints == 2


def test_the_stream_is_the_one_the_origin_names_whatever_the_prefix() -> None:
    origin = log_origin("auction", "A-1", "example.org/gavel")
    payloads = [event_bytes(event) for event in EVENTS]
    log = MerkleLog(payloads)
    bundle = build_bundle(
        kind="auction",
        stream_id="A-1",
        origin=origin,
        events=payloads,
        checkpoints=[sign_checkpoint(origin, N, log.root(), NAME, KEY)],
        keys=[(NAME, KEY.public_key())],
        exported_at=1,
    )
    verified = verify(bundle)
    assert (verified.kind, verified.stream_id, verified.origin) == ("auction", "A-1", origin)
    bundle["stream"]["id"] = "gavel/auction/A-1"
    fails(bundle, "stream is auction 'gavel/auction/A-1', but its checkpoints sign")
    # An origin that is not PREFIX/KIND/ID names no stream.
    bare = "A-1"
    bundle = bundle_of(EVENTS)
    bundle["origin"] = bare
    bundle["checkpoints"] = [sign_checkpoint(bare, N, log.root(), NAME, KEY)]
    fails(bundle, "the checkpoints' origin: the origin 'A-1' is not PREFIX/KIND/ID")


def test_exported_at_is_only_typed() -> None:
    """``exported_at`` is the exporter's clock and nothing signs it: another integer
    verifies (docs/audit.md says so); only its type is checked."""
    bundle = bundle_of(EVENTS)
    bundle["manifest"]["exported_at"] = 2
    assert verify(bundle).events == N
    for wrong in (-1, True, 1.5, None):
        bundle["manifest"]["exported_at"] = wrong
        fails(bundle, "exported_at .* is not a time")


def test_a_re_signed_forged_close_is_refused_by_the_engine() -> None:
    """The operator rewrites the close and signs the new log with its own key: the
    signatures hold, but the engine closes the auction differently."""
    events = list(EVENTS)
    ended = events[-1]
    assert isinstance(ended, AuctionEnded)
    events[-1] = replace(ended, winners=("bob",))
    bundle = bundle_of(events)
    fails(bundle, rf"event {N} \(AuctionEnded\): the engine closes the auction")


def test_a_close_dated_before_the_last_event_is_refused() -> None:
    events = list(EVENTS)
    events[-1] = replace(events[-1], at=START)
    bundle = bundle_of(events)
    fails(bundle, rf"event {N} \(seq {N}, AuctionEnded\): the engine refuses it")


def test_an_impossible_event_is_refused_by_the_engine() -> None:
    events = list(EVENTS)
    events.insert(1, replace(events[-1], seq=2))
    events = [replace(e, seq=i) for i, e in enumerate(events, 1)]
    bundle = bundle_of(events, [len(events)])
    fails(bundle, r"event 2 \(seq 2, AuctionEnded\)|event 3 \(seq 3, .*\): the engine refuses")


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


# ------------------------------------------------------------------- a tender's bundle


def tender_bundle() -> dict[str, Any]:
    """A tender (tests/engine/test_tender.py's) whose lot took three envelopes, one
    withdrawn, was opened (two opened envelopes with their ciphertexts) and awarded."""
    from tests.engine.test_tender import FIN, OPENING, S, published
    from tests.engine.test_tender import Award as AwardLot
    from tests.engine.test_tender import WithdrawEnvelope as Withdraw

    run = published()
    sealed = {"ann": "ann's sealed offer", "bob": "bob's sealed offer", "cat": "cat's"}
    for i, (bidder, text) in enumerate(sealed.items()):
        run.submit(bidder, (10 + i) * S, text)
    run(Withdraw(run.id(), 20 * S, "cat", "L1", FIN))
    run.share("o1", OPENING)
    run.share("o2", OPENING + 1)
    run.opening(OPENING + 2, FIN, {"ann": 900_00, "bob": 800_00})
    run(AwardLot(run.id(), OPENING + 3, "o2", "L1"))
    payloads = [encode(event) for event in run.events]
    origin = log_origin("tender", "T-1")
    opened = [
        (e.seq, e.lot, e.kind.value, e.bidder, e.commitment, sealed[e.bidder].encode())
        for e in run.events
        if isinstance(e, EnvelopeReceived) and e.bidder != "cat"
    ]
    log = MerkleLog(payloads)
    return build_bundle(
        kind="tender",
        stream_id="T-1",
        origin=origin,
        events=payloads,
        checkpoints=[sign_checkpoint(origin, size, log.root(size), NAME, KEY) for size in (4, 9)]
        + [sign_checkpoint(origin, log.size, log.root(), NAME, KEY)],
        keys=[(NAME, KEY.public_key())],
        exported_at=1,
        envelopes=opened,
    )


def _tender_event(bundle: dict[str, Any], kind: str) -> int:
    return next(i for i, text in enumerate(bundle["events"], 1) if f'"type":"{kind}"' in text)


def _received_edited(bundle: dict[str, Any]) -> None:
    position = _tender_event(bundle, "EnvelopeReceived")
    data = json.loads(bundle["events"][position - 1])
    data["size"] += 1
    bundle["events"][position - 1] = json.dumps(data, sort_keys=True, separators=(",", ":"))


def _withdrawn_envelope_added(bundle: dict[str, Any]) -> None:
    position = max(
        i for i, text in enumerate(bundle["events"], 1) if '"type":"EnvelopeReceived"' in text
    )
    cat = json.loads(bundle["events"][position - 1])
    bundle["envelopes"].append(
        {
            "seq": position,
            "lot": "L1",
            "kind": "financial",
            "bidder": "cat",
            "commitment": cat["commitment"],
            "ciphertext": base64.b64encode(b"cat's").decode(),
        }
    )


TENDER_TAMPERINGS: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    (
        "stream-id",
        lambda b: b["stream"].update(id="T-2"),
        "the bundle's stream is tender 'T-2', but its checkpoints sign the log of tender 'T-1'",
    ),
    (
        "stream-kind",
        lambda b: (b["stream"].update(kind="auction"), b.pop("envelopes")),
        "the bundle's stream is auction 'T-1', but its checkpoints sign the log of tender",
    ),
    ("envelopes-missing", lambda b: b.pop("envelopes"), r"bundle lacks \['envelopes'\]"),
    (
        "event-edited",
        _received_edited,
        r"event seq 3 \(EnvelopeReceived\) does not match the signed log: checkpoint 1 \(size 4\)",
    ),
    (
        "envelope-bidder",
        lambda b: b["envelopes"][0].update(bidder="eve"),
        r"the bundle's envelope of seq 3 says \(lot, kind, bidder, commitment\) \('L1', "
        r"'financial', 'eve', '[0-9a-f]{64}'\), the log's envelope received at seq 3 is "
        r"\('L1', 'financial', 'ann', ",
    ),
    (
        "envelope-lot",
        lambda b: b["envelopes"][1].update(lot="L2"),
        r"envelope of seq 4 says .*\('L2', 'financial', 'bob'",
    ),
    (
        "envelope-commitment",
        lambda b: b["envelopes"][1].update(commitment="ab" * 32),
        r"envelope of seq 4 says .*'bob', '(ab){32}'\)",
    ),
    (
        "envelope-not-opened",
        _withdrawn_envelope_added,
        "the bundle's envelope of seq 5: no opening in the log covers an envelope received",
    ),
    (
        "envelope-extra-field",
        lambda b: b["envelopes"][0].update(price=1),
        r"envelope 1 of the bundle has fields its format does not define: \['price'\]",
    ),
    (
        "manifest-root",
        lambda b: b["manifest"].update(root="0" * 64),
        "the manifest's root '0{64}' is not the root",
    ),
]


@pytest.mark.parametrize(
    ("change", "match"),
    [(change, match) for _, change, match in TENDER_TAMPERINGS],
    ids=[name for name, _, _ in TENDER_TAMPERINGS],
)
def test_each_tampering_of_a_tender_bundle_fails_with_its_own_reason(
    change: Any, match: str
) -> None:
    bundle = tender_bundle()
    verified = verify(copy.deepcopy(bundle))  # untouched, it verifies
    assert (verified.kind, verified.stream_id, verified.envelopes) == ("tender", "T-1", 2)
    assert verified.result == "1 of 1 lots decided"
    change(bundle)
    fails(bundle, match)


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
    out += [b'{"type":["BidAccepted"]}', b'{"type":{"a":1}}', b'{"type":1}']  # not a name
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
