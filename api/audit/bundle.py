"""The auditor's bundle: one self-contained JSON file, and its offline verification.

A bundle holds everything needed to check an auction without our database or network::

    {
      "format": "gavel-audit-bundle/2",
      "stream": {"kind": "auction", "id": "A-1"},
      "origin": "gavel/auction/A-1",                 # the checkpoints' origin line
      "keys": [{"name": "gavel-audit", "verifier_key": "gavel-audit+1a2b3c4d+AX..."}],
      "events": ["{\\"at\\":...,\\"type\\":\\"AuctionCreated\\"}", ...],  # canonical
      "checkpoints": ["gavel/auction/A-1\\n3\\n...\\n\\n— gavel-audit ...\\n", ...],
      "rules": {...},                                # contracts.rules_json form
      "result": {... AuctionEnded, canonical data ...} | null,
      "manifest": {"events": n, "events_sha256": "...", "root": "...",
                   "leaf_hashes": "base64 of n × 32 bytes", "exported_at": µs}
    }

Each event is stored as the JSON string whose UTF-8 encoding *is* the event's canonical
bytes (:mod:`contracts.canonical`), so a reader sees the events and the hashes are over
exactly those bytes. The format allows no extensions: a field it does not define, at the
top, in ``stream``, a key, an envelope or the manifest, fails verification, and so does
a missing one. ``gavel-audit-bundle/1`` is the same without ``manifest.leaf_hashes``;
it is still verified, but an edited event is then named only by the checkpoint whose
root it breaks.

:func:`verify` checks, in this order, stopping at the first failure with a message that
names the event (by position and seq) or the checkpoint (by size) at fault:

1. the layout (every field, none unknown) and the keys; every checkpoint's signature
   (by a key of the bundle), origin and size; the origin is ``PREFIX/KIND/ID`` for the
   bundle's ``stream`` (so the kind and id are the ones the signatures bind);
2. each event: canonical bytes, seq = position; its leaf hash against the manifest's
   ``leaf_hashes`` once those are shown to be the signed log's (at the first
   difference, they are folded into a tree that must give every checkpoint's root): a
   differing event is :class:`EventNotSigned`, "event seq N (Type) does not match the
   signed log"; then it must fold into the engine's state (``Auction.apply``: a log
   this engine could not have written is refused);
3. the Merkle tree rebuilt as the events stream by (:class:`~contracts.transparency.Frontier`,
   O(log n) memory): each checkpoint's root at its size; the last checkpoint must cover
   every event (an unsigned tail is refused);
4. the result: the rules equal the ``AuctionCreated`` rules, the stated result equals the
   log's ``AuctionEnded``, and where the close was a deadline, the engine re-decides it:
   a ``Tick`` at the close time on the state just before it must yield that very event;
5. the manifest, every field recomputed: ``events`` the count, ``events_sha256`` the
   SHA-256 of the events' bytes one after another, ``root`` the tree's root (the one the
   last checkpoint signs), ``leaf_hashes`` the events' leaf hashes; ``exported_at`` is
   the exporter's clock, which nothing signs: it must be a time (integer µs), no more.

Verification is O(n log b) for n events and b bidders, O(b + log n) memory beyond the
bundle itself and its decoded leaf hashes (32 bytes an event).

A tender's bundle (``"stream": {"kind": "tender", ...}``) has the same layout; its
``rules`` are the ``TenderCreated`` spec, its ``result`` the list of the lots' decisions
(``LotAwarded`` / ``LotHandedOff`` data, in log order), and it adds ``envelopes``: the
stored ciphertext (base64) of every envelope an opening covered, with the seq of its
``EnvelopeReceived``, lot, kind, bidder and commitment. Steps 1, 3 and 5 are the same;
step 2 folds each event into :class:`engine.tender.Tender` (``replay_tender``'s fold) and
checks the state's invariants (``_check()``) after each command's events (those with
one ``at``: within an opening they need not hold); and before folding each event:

- an ``EnvelopeReceived`` must be no later than its lot's deadline, a ``LotClosed`` at it;
- an ``EnvelopeOpened`` needs the envelope's ciphertext in the bundle, and
  SHA-256(ciphertext) must be the commitment of its ``EnvelopeReceived`` (so what was
  opened is what was sealed before the deadline); an ``EnvelopeInvalid`` must agree with
  it (a ``commitment_mismatch`` only where the stored ciphertext does not match);
- a ``LotAwarded`` / ``LotHandedOff`` must carry the ranking that follows from the opened
  offers under the tender's award criterion (price, MEAT or life-cycle cost: lowest
  score first, ties to the earlier receipt), and the award its first line.

Step 4 compares the stated spec and decisions with the replayed ones, and each envelope
of the bundle with the opened envelope the log received at its seq (lot, kind, bidder,
commitment). What a verifier cannot re-check without the opening key (wiped after the
opening) is the price inside a ciphertext: the commitment check proves which ciphertext
was opened, not what it said.

Errors::

    BundleInvalid         the bundle fails; str(error) names the first fault
    └── EventNotSigned    an event is not the one the signed log holds at its seq
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from pathlib import Path
from typing import Any, Union

from api.audit.errors import AuditError
from contracts.canonical import event_from_bytes
from contracts.checkpoint import (
    CheckpointError,
    parse_and_verify,
    parse_origin,
    parse_verifier_key,
    verifier_key,
)
from contracts.rules_json import rules_to_json
from contracts.transparency import HASH_SIZE, Frontier, leaf_hash
from engine import Auction, AuctionCreated, AuctionEnded, Event, Outcome, Tick
from engine.codec import to_data
from engine.errors import EngineError, MalformedRecord
from engine.tender import Tender
from engine.tender_records import (
    EnvelopeInvalid,
    EnvelopeOpened,
    EnvelopeReceived,
    LotAwarded,
    LotClosed,
    LotHandedOff,
    TenderCreated,
    TenderEvent,
    decode_tender_event,
)

__all__ = [
    "FORMAT",
    "FORMATS",
    "BundleInvalid",
    "EventNotSigned",
    "OpenedBlob",
    "Verified",
    "build_bundle",
    "decode_fast",
    "load_bundle",
    "save_bundle",
    "verify",
]

#: The format :func:`build_bundle` writes.
FORMAT = "gavel-audit-bundle/2"
#: The formats :func:`verify` reads, each with its manifest's fields (``/1`` had no
#: ``leaf_hashes``: its edited events are named by checkpoint only).
FORMATS: dict[str, frozenset[str]] = {
    "gavel-audit-bundle/1": frozenset({"events", "events_sha256", "root", "exported_at"}),
    FORMAT: frozenset({"events", "events_sha256", "root", "leaf_hashes", "exported_at"}),
}
_FIELDS = frozenset(
    {"format", "stream", "origin", "keys", "events", "checkpoints", "rules", "result", "manifest"}
)
_TENDER_FIELDS = _FIELDS | {"envelopes"}
_KINDS = ("auction", "tender")
_KEY_FIELDS = frozenset({"name", "verifier_key"})
_ENVELOPE_FIELDS = frozenset({"seq", "lot", "kind", "bidder", "commitment", "ciphertext"})

#: An opened envelope's stored ciphertext: ``(receipt seq, lot, kind, bidder, commitment,
#: ciphertext)``.
OpenedBlob = tuple[int, str, str, str, str, bytes]

#: ``size → [(checkpoint number, signed root)]``: what the checkpoints sign.
_Due = dict[int, list[tuple[int, bytes]]]


class BundleInvalid(AuditError):
    """The bundle fails verification; ``str(error)`` names the first fault."""


class EventNotSigned(BundleInvalid):
    """The bundle's event at ``seq`` (of type ``event_type``, as the bundle has it) is not
    the one the signed log holds there, or the signed log ends before it: an edited or
    appended event, named."""

    def __init__(self, seq: int, event_type: str, message: str) -> None:
        super().__init__(message)
        self.seq = seq
        self.event_type = event_type


@dataclass(frozen=True, slots=True)
class Verified:
    """What a successful :func:`verify` established."""

    #: The stream, as the checkpoints' origin line names it: ``"auction"`` or ``"tender"``
    #: and its id (the bundle's ``stream`` is checked against it).
    kind: str
    stream_id: str
    origin: str
    events: int
    checkpoints: int
    root: bytes
    #: ``"re-decided"`` (the engine closed it the same way), ``"folded"`` (the close came
    #: from a command, which the log does not keep), or ``"open"`` (not ended); for a
    #: tender ``"N of M lots decided"``.
    result: str
    #: Opened envelopes whose ciphertext was re-checked against its commitment (tenders).
    envelopes: int = 0


@dataclass(frozen=True, slots=True)
class _Layout:
    """Step 1's findings: the stream the signatures bind, the events' texts, the
    checkpoints' texts and what they sign."""

    format: str
    kind: str
    stream_id: str
    origin: str
    events: list[str]
    texts: list[str]
    due: _Due


def build_bundle(
    *,
    kind: str,
    stream_id: str,
    origin: str,
    events: Iterable[bytes],
    checkpoints: Iterable[str],
    keys: Iterable[tuple[str, Any]],
    exported_at: int,
    envelopes: Iterable[OpenedBlob] | None = None,
) -> dict[str, Any]:
    """A bundle of one auction's or tender's log. ``events`` are the canonical bytes in
    seq order; ``keys`` are ``(key name, Ed25519PublicKey)``; ``envelopes`` the opened
    ciphertexts of a tender. The rules and the result are read from the events. O(n)."""
    payloads = list(events)
    rules: Any = None
    result: Any = None
    digest = hashlib.sha256()
    frontier = Frontier()
    leaves = bytearray()
    for data in payloads:
        digest.update(data)
        hashed = leaf_hash(data)
        leaves += hashed
        frontier.append(hashed)
    if kind == "tender":
        decided = []
        for data in payloads:
            event = decode_tender_event(data)
            if isinstance(event, TenderCreated):
                rules = to_data(event.spec)
            elif isinstance(event, (LotAwarded, LotHandedOff)):
                decided.append(to_data(event))
        result = decided
    elif payloads:
        first = event_from_bytes(payloads[0])
        if isinstance(first, AuctionCreated):
            rules = rules_to_json(first.rules)
        last = event_from_bytes(payloads[-1])
        if isinstance(last, AuctionEnded):
            result = to_data(last)
    extra: dict[str, Any] = {}
    if kind == "tender":
        extra["envelopes"] = [
            {
                "seq": seq,
                "lot": lot,
                "kind": envelope_kind,
                "bidder": bidder,
                "commitment": commitment,
                "ciphertext": base64.b64encode(ciphertext).decode(),
            }
            for seq, lot, envelope_kind, bidder, commitment, ciphertext in envelopes or ()
        ]
    return {
        "format": FORMAT,
        "stream": {"kind": kind, "id": stream_id},
        "origin": origin,
        "keys": [{"name": name, "verifier_key": verifier_key(name, key)} for name, key in keys],
        "events": [data.decode() for data in payloads],
        "checkpoints": list(checkpoints),
        "rules": rules,
        "result": result,
        **extra,
        "manifest": {
            "events": len(payloads),
            "events_sha256": digest.hexdigest(),
            "root": frontier.root().hex(),
            # Authenticated by the signed roots they fold to, these let a verifier name
            # an edited event: a root alone says only that some leaf under it differs.
            "leaf_hashes": base64.b64encode(leaves).decode(),
            "exported_at": exported_at,
        },
    }


def save_bundle(bundle: dict[str, Any], path: Path) -> None:
    """Write ``bundle`` to ``path`` as UTF-8 JSON (one event per line, for diffs)."""
    head = {k: v for k, v in bundle.items() if k != "events"}
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"events": [\n')
        events = bundle["events"]
        for i, text in enumerate(events):
            out.write(json.dumps(text, ensure_ascii=False))
            out.write(",\n" if i + 1 < len(events) else "\n")
        out.write("],\n")
        out.write(json.dumps(head, ensure_ascii=False, indent=1)[1:].lstrip())
        out.write("\n")


def load_bundle(path: Path) -> dict[str, Any]:
    """Read a bundle file; :class:`BundleInvalid` if it is not JSON."""
    try:
        with open(path, encoding="utf-8") as source:
            data = json.load(source)
    except (OSError, ValueError) as error:
        raise BundleInvalid(f"cannot read the bundle: {error}") from None
    if not isinstance(data, dict):
        raise BundleInvalid("the bundle is not a JSON object")
    return data


def verify(
    bundle: dict[str, Any], on_event: Callable[[Event, Auction], None] | None = None
) -> Verified:
    """Check ``bundle`` as the module docstring says; :class:`BundleInvalid` at the first
    fault (:class:`EventNotSigned` for an edited or appended event). ``on_event(event,
    auction)`` is called after each event is folded (replay of an auction's bundle)."""
    layout = _layout(bundle)
    if layout.kind == "tender":
        return _verify_tender(bundle, layout)

    tree = _Tree(layout, bundle)
    auction = Auction()
    redecided: bool | None = None
    for position, text in enumerate(layout.events, 1):
        data = text.encode()
        event = _decoded(position, data, decode_fast, "event")
        hashed = tree.leaf(position, data, type(event).__name__)
        if type(event) is AuctionEnded:
            redecided = _redecide(auction, event)
        try:
            auction.apply(event)
        except EngineError as error:
            raise BundleInvalid(
                f"event {position} (seq {event.seq}, {type(event).__name__}): "
                f"the engine refuses it: {error}"
            ) from None
        tree.grow(hashed)
        if on_event is not None:
            on_event(event, auction)

    tree.cover()
    _check_result(bundle, auction)
    tree.check_manifest()
    return _verified(
        layout, tree, "open" if redecided is None else "re-decided" if redecided else "folded"
    )


def _verified(layout: _Layout, tree: _Tree, result: str, envelopes: int = 0) -> Verified:
    return Verified(
        kind=layout.kind,
        stream_id=layout.stream_id,
        origin=layout.origin,
        events=len(layout.events),
        checkpoints=len(layout.texts),
        root=tree.root(),
        result=result,
        envelopes=envelopes,
    )


def _layout(bundle: dict[str, Any]) -> _Layout:
    """Step 1: every field there and none unknown; the checkpoints, each signed by a key
    of the bundle and for its origin; the origin names the bundle's stream."""
    form = bundle.get("format")
    if form not in FORMATS:
        raise BundleInvalid(f"not a {' or '.join(FORMATS)} bundle")
    stream = bundle.get("stream")
    if (
        not isinstance(stream, dict)
        or set(stream) != {"kind", "id"}
        or stream["kind"] not in _KINDS
        or not isinstance(stream["id"], str)
        or not stream["id"]
    ):
        raise BundleInvalid(
            'the bundle\'s stream is not {"kind": "auction" or "tender", "id": "..."}: '
            f"{json.dumps(stream)}"
        )
    kind, stream_id = stream["kind"], stream["id"]
    events = _list(bundle, "events", str)
    texts = _list(bundle, "checkpoints", str)
    origin = bundle.get("origin")
    if not isinstance(origin, str):
        raise BundleInvalid("the bundle names no origin")
    keys = []
    for number, entry in enumerate(_list(bundle, "keys", dict), 1):
        name = entry.get("name")
        _fields(entry, _KEY_FIELDS, f"key {number} ({name!r})")
        try:
            keys.append(parse_verifier_key(str(entry["verifier_key"])))
        except (CheckpointError, ValueError) as error:
            raise BundleInvalid(f"key {name!r}: {error}") from None
        if keys[-1][0] != name:
            raise BundleInvalid(f"key {name!r}: its verifier key is named {keys[-1][0]!r}")
    if not keys:
        raise BundleInvalid("the bundle holds no public key")

    due: _Due = {}
    for number, text in enumerate(texts, 1):
        checkpoint = _checkpoint(text, keys, number)
        if checkpoint.origin != origin:
            raise BundleInvalid(
                f"checkpoint {number} (size {checkpoint.size}) is for {checkpoint.origin!r}, "
                f"not {origin!r}"
            )
        due.setdefault(checkpoint.size, []).append((number, checkpoint.root))
    if not texts:
        raise BundleInvalid("the bundle holds no checkpoint")
    # The stream must be the one the signatures name: without this a bundle's id (which
    # `gavel audit ocds` publishes under) could be edited while every signature holds.
    try:
        _, signed_kind, signed_id = parse_origin(origin)
    except CheckpointError as error:
        raise BundleInvalid(f"the checkpoints' origin: {error}") from None
    if (signed_kind, signed_id) != (kind, stream_id):
        raise BundleInvalid(
            f"the bundle's stream is {kind} {stream_id!r}, but its checkpoints sign the log "
            f"of {signed_kind} {signed_id!r} (origin {origin!r})"
        )
    _fields(bundle, _TENDER_FIELDS if kind == "tender" else _FIELDS, f"the {form} bundle")
    return _Layout(form, kind, stream_id, origin, events, texts, due)


def _fields(tree: dict[str, Any], fields: frozenset[str], what: str) -> None:
    """``tree`` has exactly ``fields``: the format defines no extension points."""
    unknown = sorted(set(tree) - fields)
    if unknown:
        raise BundleInvalid(f"{what} has fields its format does not define: {unknown}")
    missing = sorted(fields - set(tree))
    if missing:
        raise BundleInvalid(f"{what} lacks {missing}")


class _Tree:
    """The bundle's events as they stream by, against what is signed and what is stated.

    Per event, :meth:`leaf` (before the event is folded) hashes it, adds it to the
    SHA-256 of all events and compares its leaf hash with the manifest's; :meth:`grow`
    (after) appends it to the tree and checks a checkpoint's root at that size. Then
    :meth:`cover` and :meth:`check_manifest`. O(1) amortized per event, O(log n) memory,
    besides one O(n) fold of the manifest's leaf hashes at the first difference.

    The manifest's leaf hashes are nobody's word until they fold into a tree whose root
    at every checkpoint's size is the signed one; then they *are* the signed log's
    leaves, and the first event that differs from them is the edited one. Until a
    difference, nothing needs to be trusted: the roots check the events themselves.
    """

    __slots__ = ("_digest", "_due", "_frontier", "_layout", "_manifest", "_stated", "differs")

    def __init__(self, layout: _Layout, bundle: dict[str, Any]) -> None:
        self._layout = layout
        self._due = layout.due
        self._frontier = Frontier()
        self._digest = hashlib.sha256()
        manifest = bundle.get("manifest")
        self._manifest: dict[str, Any] | None = manifest if isinstance(manifest, dict) else None
        self._stated = self._stated_leaves()
        #: The first seq whose leaf hash is not the manifest's (0: none so far).
        self.differs = 0
        _check_roots(self._due, self._frontier)

    def _stated_leaves(self) -> bytes | None:
        """The manifest's leaf hashes, or ``None`` if the format has none or they are not
        base64 of whole hashes (:meth:`check_manifest` then says so)."""
        if self._manifest is None or "leaf_hashes" not in FORMATS[self._layout.format]:
            return None
        text = self._manifest.get("leaf_hashes")
        if not isinstance(text, str):
            return None
        try:
            stated = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(stated) % HASH_SIZE or base64.b64encode(stated).decode() != text:
            return None
        return stated

    def leaf(self, position: int, data: bytes, event_type: str) -> bytes:
        """The leaf hash of event ``position`` (its bytes ``data``); :class:`EventNotSigned`
        if the manifest's leaf hashes are the signed log's and it is not there. O(1),
        O(n) once at the first difference."""
        hashed = leaf_hash(data)
        self._digest.update(data)
        stated = self._stated
        if stated is None or self.differs:
            return hashed
        at = (position - 1) * HASH_SIZE
        if stated[at : at + HASH_SIZE] == hashed:
            return hashed
        self.differs = position
        if not self._signs(stated):
            return hashed  # edited too (or re-signed): the roots will judge the events
        seq = f"event seq {position} ({event_type})"
        if at >= len(stated):
            raise EventNotSigned(
                position,
                event_type,
                f"{seq} is not in the signed log: its checkpoints sign "
                f"{len(stated) // HASH_SIZE} events",
            )
        size = min(size for size in self._due if size >= position)
        number = self._due[size][0][0]
        raise EventNotSigned(
            position,
            event_type,
            f"{seq} does not match the signed log: checkpoint {number} (size {size}) signs "
            f"leaf hash {stated[at : at + HASH_SIZE].hex()} at seq {position}, the bundle's "
            f"event hashes to {hashed.hex()}",
        )

    def _signs(self, stated: bytes) -> bool:
        """Whether ``stated`` are the leaves of the signed log: the last checkpoint covers
        them all and their tree's root at every checkpoint's size is the signed one (size
        0 was checked when the tree was made). O(n)."""
        due = self._due
        if len(stated) != max(due) * HASH_SIZE:
            return False
        frontier = Frontier()
        for at in range(0, len(stated), HASH_SIZE):
            frontier.append(stated[at : at + HASH_SIZE])
            if not _roots_hold(due, frontier):
                return False
        return True

    def grow(self, hashed: bytes) -> None:
        """Append the event just folded; check a checkpoint's root at the new size."""
        self._frontier.append(hashed)
        _check_roots(self._due, self._frontier)

    def root(self) -> bytes:
        """The root of the events appended so far. O(log n)."""
        return self._frontier.root()

    def cover(self) -> None:
        """The last checkpoint must cover exactly the bundle's events."""
        due, count = self._due, self._frontier.size
        beyond = max(due)
        if beyond > count:
            number = due[beyond][0][0]
            raise BundleInvalid(
                f"checkpoint {number} (size {beyond}) covers more events than the bundle's "
                f"{count}: events {count + 1}..{beyond} are missing"
            )
        if beyond < count:
            raise BundleInvalid(
                f"the last checkpoint covers {beyond} events of {count}: "
                f"events {beyond + 1}..{count} are not signed"
            )

    def check_manifest(self) -> None:
        """Step 5: every manifest field, none unknown, is what the events give."""
        manifest = self._manifest
        if manifest is None:
            raise BundleInvalid("the bundle's manifest is not an object")
        fields = FORMATS[self._layout.format]
        _fields(manifest, fields, "the manifest")
        count = self._frontier.size
        stated = manifest["events"]
        if type(stated) is not int or stated != count:
            raise BundleInvalid(f"the manifest counts {stated!r} events, the log holds {count}")
        digest = self._digest.hexdigest()
        if manifest["events_sha256"] != digest:
            raise BundleInvalid(
                f"the manifest's events_sha256 {manifest['events_sha256']!r} is not the "
                f"SHA-256 of the bundle's events, {digest}"
            )
        root = self.root().hex()
        if manifest["root"] != root:
            raise BundleInvalid(
                f"the manifest's root {manifest['root']!r} is not the root of the bundle's "
                f"events, {root} (the one the last checkpoint signs)"
            )
        if "leaf_hashes" in fields:
            leaves = self._stated
            if leaves is None:
                raise BundleInvalid(
                    "the manifest's leaf_hashes is not the base64 of whole 32-byte hashes"
                )
            if len(leaves) != count * HASH_SIZE:
                raise BundleInvalid(
                    f"the manifest's leaf_hashes hold {len(leaves) // HASH_SIZE} hashes, "
                    f"the bundle {count} events"
                )
            if self.differs:
                raise BundleInvalid(
                    "the manifest's leaf_hashes differ from the events' leaf hashes at "
                    f"seq {self.differs}"
                )
        # Nothing signs the export time: a verifier can only see that it is one.
        exported_at = manifest["exported_at"]
        if type(exported_at) is not int or exported_at < 0:
            raise BundleInvalid(
                f"the manifest's exported_at {exported_at!r} is not a time (integer µs)"
            )


# ------------------------------------------------------------------------- tenders


def _ciphertexts(bundle: dict[str, Any]) -> dict[int, tuple[dict[str, Any], bytes]]:
    """The bundle's opened envelopes by receipt seq, ciphertexts decoded."""
    found: dict[int, tuple[dict[str, Any], bytes]] = {}
    for number, entry in enumerate(_list(bundle, "envelopes", dict), 1):
        _fields(entry, _ENVELOPE_FIELDS, f"envelope {number} of the bundle")
        seq, text = entry.get("seq"), entry.get("ciphertext")
        try:
            if type(seq) is not int or not isinstance(text, str) or seq in found:
                raise ValueError("needs a distinct integer seq and a base64 ciphertext")
            found[seq] = (entry, base64.b64decode(text, validate=True))
        except (ValueError, binascii.Error) as error:
            raise BundleInvalid(f"envelope {number} of the bundle: {error}") from None
    return found


def _decoded(position: int, data: bytes, decode: Callable[[bytes], Any], what: str) -> Any:
    """The ``what`` whose canonical bytes are ``data``, the ``position``-th of the log;
    ``BundleInvalid`` unless it decodes and its seq is ``position``. O(len(data))."""
    try:
        event = decode(data)
    except MalformedRecord as error:
        raise BundleInvalid(f"event {position}: not a canonical {what} ({error})") from None
    if event.seq != position:
        raise BundleInvalid(
            f"event {position}: has seq {event.seq} where {position} is due "
            "(an event was removed, added or moved)"
        )
    return event


def _verify_tender(bundle: dict[str, Any], layout: _Layout) -> Verified:
    blobs = _ciphertexts(bundle)
    tree = _Tree(layout, bundle)
    tender = Tender()
    rechecked = 0
    before = ("", -1)  # the last event folded (where, at): a command's events share ``at``
    for position, text in enumerate(layout.events, 1):
        data = text.encode()
        event = _decoded(position, data, decode_tender_event, "tender event")
        hashed = tree.leaf(position, data, type(event).__name__)
        if event.at != before[1]:
            _invariants(tender, before[0])
        where = f"event {position} (seq {event.seq}, {type(event).__name__})"
        rechecked += _tender_facts(tender, event, blobs, where)
        try:
            tender.apply(event)
        except EngineError as error:
            raise BundleInvalid(f"{where}: the engine refuses it: {error}") from None
        before = (where, event.at)
        tree.grow(hashed)
    _invariants(tender, before[0])

    tree.cover()
    spec = None if tender.spec is None else to_data(tender.spec)
    if bundle.get("rules") != spec:
        raise BundleInvalid("the bundle's rules are not the spec the tender was created with")
    decided = [lot.decision for lot in tender.lots.values() if lot.decision is not None]
    decided.sort(key=lambda event: event.seq)
    replayed = [to_data(event) for event in decided]
    if bundle.get("result") != replayed:
        raise BundleInvalid(
            "the bundle's stated result is not the lots' decisions in the log: "
            f"stated {json.dumps(bundle.get('result'))}, replayed {json.dumps(replayed)}"
        )
    _check_envelopes(blobs, tender)
    tree.check_manifest()
    return _verified(layout, tree, f"{len(decided)} of {len(tender.lots)} lots decided", rechecked)


def _check_envelopes(blobs: dict[int, tuple[dict[str, Any], bytes]], tender: Tender) -> None:
    """Each envelope of the bundle is one an opening in the log covered, and says what
    the log received at its seq: the OCDS release and a reader take these fields as the
    log's, so an edit must not pass (its ciphertext is checked during the fold)."""
    opened = {
        lot.envelopes[key].seq: (name, key[1].value, key[0], lot.envelopes[key].commitment)
        for name, lot in tender.lots.items()
        for key in lot.opened
    }
    for seq, (entry, _) in sorted(blobs.items()):
        stated = tuple(entry[field] for field in ("lot", "kind", "bidder", "commitment"))
        expected = opened.get(seq)
        if expected is None:
            raise BundleInvalid(
                f"the bundle's envelope of seq {seq}: no opening in the log covers an "
                f"envelope received at seq {seq}"
            )
        if stated != expected:
            raise BundleInvalid(
                f"the bundle's envelope of seq {seq} says (lot, kind, bidder, commitment) "
                f"{stated}, the log's envelope received at seq {seq} is {expected}"
            )


def _invariants(tender: Tender, where: str) -> None:
    """``tender._check()`` between two commands (within one, an opening's results are
    folded before its ``StageOpened``, and the invariants need not hold)."""
    try:
        tender._check()
    except AssertionError:
        raise BundleInvalid(
            f"{where}: the tender's state breaks an invariant after it "
            "(an opening that is not of the envelope received, say)"
        ) from None


def _tender_facts(
    tender: Tender,
    event: TenderEvent,
    blobs: dict[int, tuple[dict[str, Any], bytes]],
    where: str,
) -> int:
    """What the fold does not check, on the state before ``event``: receipts before the
    deadline, closes at it, openings of the committed ciphertexts, decisions that follow
    from the opened prices. Returns 1 if an envelope's ciphertext was re-checked."""
    lot = tender.lots.get(getattr(event, "lot", ""))
    if lot is None:
        return 0  # not a lot event, or an unknown lot: the fold refuses the latter
    if isinstance(event, EnvelopeReceived) and event.at > lot.deadline:
        raise BundleInvalid(
            f"{where}: received at {event.at}, after the lot's deadline {lot.deadline}"
        )
    if isinstance(event, LotClosed) and event.at != lot.deadline:
        raise BundleInvalid(
            f"{where}: closes the lot at {event.at}, its deadline is {lot.deadline}"
        )
    if isinstance(event, (EnvelopeOpened, EnvelopeInvalid)):
        envelope = lot.envelopes.get((event.bidder, event.kind))
        if envelope is None or envelope.commitment != event.commitment:
            raise BundleInvalid(
                f"{where}: {event.bidder}'s {event.kind} envelope with commitment "
                f"{event.commitment} was not received (or was withdrawn or replaced)"
            )
        blob = blobs.get(envelope.seq)
        if blob is None:
            if isinstance(event, EnvelopeInvalid) and event.reason.startswith("missing_ciphertext"):
                return 0
            raise BundleInvalid(
                f"{where}: the bundle holds no ciphertext of the envelope received at seq "
                f"{envelope.seq}"
            )
        matches = hashlib.sha256(blob[1]).hexdigest() == envelope.commitment
        claims_mismatch = isinstance(event, EnvelopeInvalid) and event.reason.startswith(
            "commitment_mismatch"
        )
        if not matches and not claims_mismatch:
            raise BundleInvalid(
                f"{where}: SHA-256 of the ciphertext of the envelope received at seq "
                f"{envelope.seq} is not its commitment {envelope.commitment}: what was "
                "opened is not what was sealed"
            )
        if matches and claims_mismatch:
            raise BundleInvalid(
                f"{where}: says the stored ciphertext does not match its commitment, "
                f"but the bundle's ciphertext of seq {envelope.seq} does"
            )
        return 1
    if isinstance(event, (LotAwarded, LotHandedOff)):
        ranking = tender.ranking(event.lot)
        if event.ranking != ranking:
            raise BundleInvalid(
                f"{where}: ranks {_ranks(event.ranking)}, the opened offers rank {_ranks(ranking)}"
            )
        if isinstance(event, LotAwarded):
            best = ranking[0] if ranking else None
            winner = None if best is None else (best.bidder, best.price)
            if (event.winner, event.price) != (winner or (None, None)):
                raise BundleInvalid(
                    f"{where}: awards {event.winner} at {event.price}, the best valid opened "
                    f"offer under the tender's criterion is {winner}"
                )
    return 0


def _ranks(ranking: Iterable[Any]) -> str:
    lines = [f"{r.rank}. {r.bidder} {r.price} (score {r.score})" for r in ranking]
    return "[" + ", ".join(lines) + "]"


# --------------------------------------------------------------- fast event decoding
# decode_event is exact but general (it walks type hints per field); a million events
# spent most of verification there. For the event types whose fields are all scalars
# (ints, strings, booleans, enums, scores, None), the decoded tree *is* the record's
# canonical data, so one C-speed json.dumps proves canonical form; anything unusual
# falls back to decode_event, which gives the exact error. Tested to agree with it.

_ScalarCheck = Callable[[Any], Any]
_MISSING = object()


def _scalar(hint: Any) -> _ScalarCheck | None:
    options = typing.get_args(hint) if typing.get_origin(hint) in (Union, types.UnionType) else ()
    nullable = type(None) in options
    kinds = [o for o in options if o is not type(None)] if options else [hint]
    if set(kinds) == {int, Fraction}:

        def check(raw: Any) -> Any:
            if type(raw) is int or (raw is None and nullable):
                return raw
            if type(raw) is str:
                top, slash, bottom = raw.partition("/")
                try:
                    value = Fraction(int(top), int(bottom)) if slash else None
                except (ValueError, ZeroDivisionError):
                    return _MISSING
                if value is not None and f"{value.numerator}/{value.denominator}" == raw:
                    return value
            return _MISSING

        return check
    if len(kinds) != 1:
        return None
    kind = kinds[0]
    if kind in (int, str, bool):

        def plain(raw: Any) -> Any:
            return raw if type(raw) is kind or (raw is None and nullable) else _MISSING

        return plain
    if isinstance(kind, type) and issubclass(kind, Enum):
        values = {member.value: member for member in kind}

        def member(raw: Any) -> Any:
            if raw is None and nullable:
                return None
            return values.get(raw, _MISSING) if type(raw) is str else _MISSING

        return member
    return None


def _fast_specs() -> dict[str, tuple[type[Any], tuple[tuple[str, _ScalarCheck], ...]]]:
    specs = {}
    for cls in typing.get_args(Event):
        hints = typing.get_type_hints(cls)
        checks = [(f.name, _scalar(hints[f.name])) for f in dataclasses.fields(cls)]
        if all(check is not None for _, check in checks):
            specs[cls.__name__] = (cls, tuple((n, c) for n, c in checks if c is not None))
    return specs


_FAST = _fast_specs()
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def decode_fast(data: bytes) -> Event:
    """``event_from_bytes(data)``, faster for the scalar-only event types. O(size)."""
    try:
        tree = json.loads(data)
    except ValueError:
        return event_from_bytes(data)
    kind = tree.get("type") if type(tree) is dict else None
    # Only a string can name a type: a list there is unhashable, and must fail as a
    # malformed record (the codec's answer), not as a TypeError.
    spec = _FAST.get(kind) if type(kind) is str else None
    if spec is None or len(tree) != len(spec[1]) + 1:
        return event_from_bytes(data)
    cls, fields = spec
    values = []
    for name, check in fields:
        value = check(tree.get(name, _MISSING))
        if value is _MISSING:
            return event_from_bytes(data)
        values.append(value)
    if _canonical(tree).encode() != data:
        return event_from_bytes(data)
    return typing.cast(Event, cls(*values))


def _list(bundle: dict[str, Any], name: str, kind: type[Any]) -> list[Any]:
    value = bundle.get(name)
    if not isinstance(value, list) or not all(isinstance(item, kind) for item in value):
        raise BundleInvalid(f"the bundle's {name!r} is not a list of {kind.__name__}")
    return value


def _checkpoint(text: str, keys: list[tuple[str, Any]], number: int) -> Any:
    errors = []
    for name, key in keys:
        try:
            return parse_and_verify(text, name, key)
        except CheckpointError as error:
            errors.append(str(error))
    size = text.split("\n")[1] if text.count("\n") > 1 else "?"
    raise BundleInvalid(f"checkpoint {number} (size {size}): {'; '.join(errors)}")


def _roots_hold(due: _Due, frontier: Frontier) -> bool:
    """Whether every checkpoint of the frontier's size signs its root. O(log n)."""
    expected = due.get(frontier.size)
    return not expected or all(root == frontier.root() for _, root in expected)


def _check_roots(due: _Due, frontier: Frontier) -> None:
    expected = due.get(frontier.size)
    if not expected:
        return
    actual = frontier.root()
    for number, root in expected:
        if root != actual:
            earlier = [size for size in due if size < frontier.size]
            first = max(earlier, default=0) + 1
            raise BundleInvalid(
                f"checkpoint {number} (size {frontier.size}): its root {root.hex()} is not "
                f"the root {actual.hex()} of the bundle's first {frontier.size} events: "
                f"an event among {first}..{frontier.size} differs from the one signed"
            )


def _redecide(before: Auction, ended: AuctionEnded) -> bool:
    """Whether the engine, told the time of the close, itself closes the auction so.

    A close that a command caused (an accepted Dutch price, a cancellation, a last
    turn) is not re-decided: commands are not in the log. Raises :class:`BundleInvalid`
    when a deadline close decides differently from the log.
    """
    if ended.outcome is Outcome.CANCELLED:
        return False
    trial = copy.deepcopy(before)
    try:
        produced = trial.handle(Tick("audit-redecide", ended.at))
    except EngineError:
        return False
    closes = [event for event in produced if type(event) is AuctionEnded]
    if not closes or len(produced) != 1:
        return False
    if closes[0] != ended:
        raise BundleInvalid(
            f"event {ended.seq} (AuctionEnded): the engine closes the auction at "
            f"{ended.at} with {to_data(closes[0])}, the log says {to_data(ended)}"
        )
    return True


def _check_result(bundle: dict[str, Any], auction: Auction) -> None:
    created_rules = auction.rules
    replayed_rules = None if created_rules is None else rules_to_json(created_rules)
    if bundle.get("rules") != replayed_rules:
        raise BundleInvalid("the bundle's rules are not the rules the auction was created with")
    stated = bundle.get("result")
    actual = None if auction.ended is None else to_data(auction.ended)
    if stated != actual:
        where = f"event {auction.ended.seq} (AuctionEnded)" if auction.ended else "the log"
        raise BundleInvalid(
            f"the bundle's stated result is not the result in {where}: "
            f"stated {json.dumps(stated)}, replayed {json.dumps(actual)}"
        )
