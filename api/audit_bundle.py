"""The auditor's bundle: one self-contained JSON file, and its offline verification.

A bundle holds everything needed to check an auction without our database or network::

    {
      "format": "gavel-audit-bundle/1",
      "stream": {"kind": "auction", "id": "A-1"},
      "origin": "gavel/auction/A-1",                 # the checkpoints' origin line
      "keys": [{"name": "gavel-audit", "verifier_key": "gavel-audit+1a2b3c4d+AX..."}],
      "events": ["{\\"at\\":...,\\"type\\":\\"AuctionCreated\\"}", ...],  # canonical
      "checkpoints": ["gavel/auction/A-1\\n3\\n...\\n\\n— gavel-audit ...\\n", ...],
      "rules": {...},                                # contracts.rules_json form
      "result": {... AuctionEnded, canonical data ...} | null,
      "manifest": {"events": n, "events_sha256": "...", "root": "...", "exported_at": µs}
    }

Each event is stored as the JSON string whose UTF-8 encoding *is* the event's canonical
bytes (:mod:`contracts.canonical`), so a reader sees the events and the hashes are over
exactly those bytes.

:func:`verify` checks, in this order, stopping at the first failure with a message that
names the event (by position and seq) or the checkpoint (by size) at fault:

1. the layout and the keys; every checkpoint's signature (by a key of the bundle),
   origin and size (no larger than the log);
2. each event: canonical bytes, seq = position, and it folds into the engine's state
   (``Auction.apply``: a log this engine could not have written is refused);
3. the Merkle tree rebuilt as the events stream by (:class:`~contracts.transparency.Frontier`,
   O(log n) memory): each checkpoint's root at its size; the last checkpoint must cover
   every event (an unsigned tail is refused);
4. the result: the rules equal the ``AuctionCreated`` rules, the stated result equals the
   log's ``AuctionEnded``, and where the close was a deadline, the engine re-decides it:
   a ``Tick`` at the close time on the state just before it must yield that very event.

Verification is O(n log b) for n events and b bidders, O(b + log n) memory beyond the
bundle itself.

A tender's bundle (``"stream": {"kind": "tender", ...}``) has the same layout; its
``rules`` are the ``TenderCreated`` spec, its ``result`` the list of the lots' decisions
(``LotAwarded`` / ``LotHandedOff`` data, in log order), and it adds ``envelopes``: the
stored ciphertext (base64) of every envelope an opening covered, with the seq of its
``EnvelopeReceived``, lot, kind, bidder and commitment. Steps 1 and 3 are the same; step
2 folds each event into :class:`engine.tender.Tender` (``replay_tender``'s fold) and
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

Step 4 compares the stated spec and decisions with the replayed ones. What a verifier
cannot re-check without the opening key (wiped after the opening) is the price inside a
ciphertext: the commitment check proves which ciphertext was opened, not what it said.
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

from contracts.canonical import event_from_bytes
from contracts.checkpoint import (
    CheckpointError,
    parse_and_verify,
    parse_verifier_key,
    verifier_key,
)
from contracts.rules_json import rules_to_json
from contracts.transparency import Frontier, leaf_hash
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
    "BundleInvalid",
    "OpenedBlob",
    "Verified",
    "build_bundle",
    "decode_fast",
    "load_bundle",
    "save_bundle",
    "verify",
]

FORMAT = "gavel-audit-bundle/1"

#: An opened envelope's stored ciphertext: ``(receipt seq, lot, kind, bidder, commitment,
#: ciphertext)``.
OpenedBlob = tuple[int, str, str, str, str, bytes]


class BundleInvalid(Exception):
    """The bundle fails verification; ``str(error)`` names the first fault."""


@dataclass(frozen=True, slots=True)
class Verified:
    """What a successful :func:`verify` established."""

    events: int
    checkpoints: int
    root: bytes
    #: ``"re-decided"`` (the engine closed it the same way), ``"folded"`` (the close came
    #: from a command, which the log does not keep), or ``"open"`` (not ended); for a
    #: tender ``"N of M lots decided"``.
    result: str
    #: Opened envelopes whose ciphertext was re-checked against its commitment (tenders).
    envelopes: int = 0


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
    for data in payloads:
        digest.update(data)
        frontier.append(leaf_hash(data))
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
    fault. ``on_event(event, auction)`` is called after each event is folded (replay of
    an auction's bundle)."""
    events, texts, due = _layout(bundle)
    stream = bundle.get("stream")
    if isinstance(stream, dict) and stream.get("kind") == "tender":
        return _verify_tender(bundle, events, texts, due)

    frontier = Frontier()
    auction = Auction()
    redecided: bool | None = None
    _check_roots(due, frontier)
    for position, text in enumerate(events, 1):
        data = text.encode()
        event = _decoded(position, data, decode_fast, "event")
        if type(event) is AuctionEnded:
            redecided = _redecide(auction, event)
        try:
            auction.apply(event)
        except EngineError as error:
            raise BundleInvalid(
                f"event {position} (seq {event.seq}, {type(event).__name__}): "
                f"the engine refuses it: {error}"
            ) from None
        frontier.append(leaf_hash(data))
        _check_roots(due, frontier)
        if on_event is not None:
            on_event(event, auction)

    _check_coverage(due, len(events))
    _check_result(bundle, auction)
    return Verified(
        events=len(events),
        checkpoints=len(texts),
        root=frontier.root(),
        result="open" if redecided is None else "re-decided" if redecided else "folded",
    )


def _layout(bundle: dict[str, Any]) -> tuple[list[str], list[str], dict[int, list[Any]]]:
    """Step 1: the events, the checkpoints' texts, and ``size → [(number, root)]`` of
    the checkpoints, each signed by a key of the bundle and for its origin."""
    if bundle.get("format") != FORMAT:
        raise BundleInvalid(f"not a {FORMAT} bundle")
    events = _list(bundle, "events", str)
    texts = _list(bundle, "checkpoints", str)
    origin = bundle.get("origin")
    if not isinstance(origin, str):
        raise BundleInvalid("the bundle names no origin")
    keys = []
    for entry in _list(bundle, "keys", dict):
        try:
            keys.append(parse_verifier_key(str(entry.get("verifier_key"))))
        except (CheckpointError, ValueError) as error:
            raise BundleInvalid(f"key {entry.get('name')!r}: {error}") from None
    if not keys:
        raise BundleInvalid("the bundle holds no public key")

    due: dict[int, list[tuple[int, bytes]]] = {}
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
    return events, texts, due


def _check_coverage(due: dict[int, list[tuple[int, bytes]]], count: int) -> None:
    """The last checkpoint must cover exactly the bundle's ``count`` events."""
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


# ------------------------------------------------------------------------- tenders


def _ciphertexts(bundle: dict[str, Any]) -> dict[int, tuple[dict[str, Any], bytes]]:
    """The bundle's opened envelopes by receipt seq, ciphertexts decoded."""
    found: dict[int, tuple[dict[str, Any], bytes]] = {}
    for number, entry in enumerate(_list(bundle, "envelopes", dict), 1):
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


def _verify_tender(
    bundle: dict[str, Any],
    events: list[str],
    texts: list[str],
    due: dict[int, list[tuple[int, bytes]]],
) -> Verified:
    blobs = _ciphertexts(bundle)
    frontier = Frontier()
    tender = Tender()
    rechecked = 0
    before = ("", -1)  # the last event folded (where, at): a command's events share ``at``
    _check_roots(due, frontier)
    for position, text in enumerate(events, 1):
        data = text.encode()
        event = _decoded(position, data, decode_tender_event, "tender event")
        if event.at != before[1]:
            _invariants(tender, before[0])
        where = f"event {position} (seq {event.seq}, {type(event).__name__})"
        rechecked += _tender_facts(tender, event, blobs, where)
        try:
            tender.apply(event)
        except EngineError as error:
            raise BundleInvalid(f"{where}: the engine refuses it: {error}") from None
        before = (where, event.at)
        frontier.append(leaf_hash(data))
        _check_roots(due, frontier)
    _invariants(tender, before[0])

    _check_coverage(due, len(events))
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
    manifest = bundle.get("manifest")
    if isinstance(manifest, dict) and manifest.get("events") not in (None, tender.seq):
        raise BundleInvalid(
            f"the manifest counts {manifest.get('events')} events, the log holds {tender.seq}"
        )
    return Verified(
        events=len(events),
        checkpoints=len(texts),
        root=frontier.root(),
        result=f"{len(decided)} of {len(tender.lots)} lots decided",
        envelopes=rechecked,
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
    spec = _FAST.get(tree.get("type")) if type(tree) is dict else None  # type: ignore[arg-type]
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


def _check_roots(due: dict[int, list[tuple[int, bytes]]], frontier: Frontier) -> None:
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
    stated_rules = bundle.get("rules")
    if created_rules is not None and stated_rules != rules_to_json(created_rules):
        raise BundleInvalid("the bundle's rules are not the rules the auction was created with")
    stated = bundle.get("result")
    actual = None if auction.ended is None else to_data(auction.ended)
    if stated != actual:
        where = f"event {auction.ended.seq} (AuctionEnded)" if auction.ended else "the log"
        raise BundleInvalid(
            f"the bundle's stated result is not the result in {where}: "
            f"stated {json.dumps(stated)}, replayed {json.dumps(actual)}"
        )
    manifest = bundle.get("manifest")
    if isinstance(manifest, dict) and manifest.get("events") not in (None, auction.seq):
        raise BundleInvalid(
            f"the manifest counts {manifest.get('events')} events, the log holds {auction.seq}"
        )
