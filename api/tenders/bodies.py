"""Tender request bodies, parsed into the engine's specs and commands' arguments.

Each function takes the JSON object a route received (already a ``dict``: the JSON
itself is parsed by :mod:`api.http.problems`) and returns what the service needs, or
raises a :class:`~api.tenders.errors.BodyError` naming the member at fault. The checks
run in a fixed order (unknown members, then missing ones, then each member in turn), so
a body with several faults always gets the same answer. Every function is O(size of the
body).

What the schemas in the OpenAPI document say of these bodies
(:mod:`api.http.tenders`' table) is what these functions take: a test holds them
together (``tests/api/http/test_openapi_fuzz.py``).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from api.tenders.errors import InvalidCriterion, InvalidField, MissingField, UnknownField
from contracts import custody, sealing
from contracts.bounds import TIME
from engine.tender_records import (
    MAX_FEATURES,
    Criterion,
    EnvelopeKind,
    Feature,
    FollowUp,
    LotSpec,
    Officer,
    Publication,
    TenderSpec,
    feature_value,
)

__all__ = [
    "HandOffBody",
    "ShareBody",
    "Submission",
    "check_fields",
    "criterion",
    "envelope_kind",
    "exclusion",
    "hand_off",
    "schedule",
    "sealed_size",
    "share",
    "submission",
    "tender_spec",
    "text",
    "time_value",
]

_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class Submission:
    """A sealed envelope sent as JSON: its kind, bytes, and the deadline it was sealed
    under (``None``: not given)."""

    kind: EnvelopeKind
    ciphertext: bytes
    sealed_for: int | None


@dataclass(frozen=True, slots=True)
class ShareBody:
    """An officer's decrypted share: ``share`` is ``None`` when it did not parse, and
    ``problem`` then says why (the attempt is still logged, as a refusal)."""

    kind: EnvelopeKind
    share: custody.Share | None
    problem: str


@dataclass(frozen=True, slots=True)
class HandOffBody:
    """A hand-off's auction id (given, or ``<tender>-<lot>`` cut to 100 characters) and
    its rules, still as JSON (the caller parses them)."""

    auction_id: str
    rules: Any


def check_fields(
    tree: dict[str, Any], required: set[str], optional: Iterable[str] = frozenset()
) -> None:
    """:class:`UnknownField` for the first (sorted) member not in ``required`` or
    ``optional``; then :class:`MissingField` for the first missing ``required`` one."""
    unknown = set(tree) - required - set(optional)
    if unknown:
        raise UnknownField(sorted(unknown)[0])
    missing = required - set(tree)
    if missing:
        raise MissingField(sorted(missing)[0])


def text(tree: dict[str, Any], name: str, *, ident: bool = False) -> str:
    """``tree[name]``, a string of 1-200 characters (``ident``: of id characters only)."""
    value = tree.get(name)
    if not isinstance(value, str) or not value or len(value) > 200:
        raise InvalidField(name, "must be a string of 1-200 characters")
    if ident and not set(value) <= _ID_CHARS:
        raise InvalidField(name, "letters, digits, '-', '_' or '.' only")
    return value


def time_value(tree: dict[str, Any], name: str) -> int:
    """``tree[name]``, a time (:data:`contracts.bounds.TIME`)."""
    # Every integer a tender body carries is a time: bounded like all of the API's, so a
    # deadline of 10**30 never reaches the log.
    value = tree.get(name)
    if type(value) is not int or TIME.problem(value) is not None:
        raise InvalidField(name, f"must be an integer, {TIME.description}")
    return value


def _optional_text(tree: dict[str, Any], name: str) -> str:
    value = tree.get(name, "")
    if not isinstance(value, str):
        raise InvalidField(name, "must be a string")
    return value


def envelope_kind(value: Any, name: str = "kind") -> EnvelopeKind:
    """``value`` as an :class:`~engine.tender_records.EnvelopeKind` (``name`` is the
    member it came from, for the error)."""
    try:
        return EnvelopeKind(value)
    except ValueError:
        raise InvalidField(name, f"must be one of {[k.value for k in EnvelopeKind]}") from None


def tender_spec(tree: dict[str, Any]) -> tuple[str, TenderSpec]:
    """A create body: the tender's id (``t-`` and 12 random hex digits when not given)
    and its spec. The engine checks that the spec holds together (officers, threshold,
    dates); this checks its form."""
    check_fields(
        tree,
        {"title", "currency", "officers", "threshold", "lots"},
        {"id", "publication", "follow_up", "auction_rules", "criterion", "features"},
    )
    tender_id = text(tree, "id", ident=True) if "id" in tree else f"t-{uuid.uuid4().hex[:12]}"
    officers_raw = tree["officers"]
    if not isinstance(officers_raw, list) or not officers_raw:
        raise InvalidField("officers", "must be a non-empty array")
    officers = []
    for entry in officers_raw:
        if not isinstance(entry, dict) or set(entry) != {"id", "public_key"}:
            raise InvalidField("officers", "each is {id, public_key}")
        key = text(entry, "public_key")
        # Exactly 64 hex digits: bytes.fromhex would also take spaces, kept in the log.
        if len(key) != 64 or not set(key) <= _HEX_DIGITS:
            raise InvalidField("officers", "public_key is 32 bytes of X25519 key in hex")
        officers.append(Officer(text(entry, "id", ident=True), key))
    lots_raw = tree["lots"]
    if not isinstance(lots_raw, list) or not lots_raw:
        raise InvalidField("lots", "must be a non-empty array")
    lots = []
    for entry in lots_raw:
        if not isinstance(entry, dict):
            raise InvalidField("lots", "each is an object")
        check_fields(entry, {"id", "deadline", "opening_at"}, {"title", "kinds"})
        kinds = entry.get("kinds", ["financial"])
        if not isinstance(kinds, list):
            raise InvalidField("lots.kinds", "must be an array")
        lots.append(
            LotSpec(
                text(entry, "id", ident=True),
                _optional_text(entry, "title"),
                time_value(entry, "deadline"),
                time_value(entry, "opening_at"),
                tuple(envelope_kind(k, "lots.kinds") for k in kinds),
            )
        )
    threshold = tree["threshold"]
    if type(threshold) is not int:
        raise InvalidField("threshold", "must be an integer")
    currency = text(tree, "currency")
    try:
        publication = Publication(tree.get("publication", "committee"))
        follow_up = FollowUp(tree.get("follow_up", "award"))
    except ValueError:
        raise InvalidField("publication", "public|committee; follow_up: award|auction") from None
    rules = tree.get("auction_rules")
    template = ""
    if rules is not None:
        template = json.dumps(rules, sort_keys=True, separators=(",", ":"))
    chosen, features = criterion(tree)
    spec = TenderSpec(
        text(tree, "title"),
        currency,
        tuple(officers),
        threshold,
        tuple(lots),
        publication,
        follow_up,
        template,
        chosen,
        features,
    )
    return tender_id, spec


def criterion(tree: dict[str, Any]) -> tuple[Criterion, tuple[Feature, ...]]:
    """The award criterion of a create body: ``criterion`` (``price`` unless given) and
    ``features`` (``[{name, weight, maximum}]``, decimals as strings). The engine checks
    that they fit together (its ``invalid_tender``); this checks only their form, and
    raises :class:`InvalidCriterion` (the same reason) for a wrong one."""
    raw = tree.get("criterion", Criterion.PRICE.value)
    try:
        chosen = Criterion(raw)
    except ValueError:
        raise InvalidCriterion(
            f"criterion must be one of {[c.value for c in Criterion]}, not {str(raw)[:40]!r}"
        ) from None
    entries = tree.get("features", [])
    if not isinstance(entries, list) or len(entries) > MAX_FEATURES:
        raise InvalidCriterion(f"features must be an array of at most {MAX_FEATURES}")
    features = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"name", "weight", "maximum"}:
            raise InvalidCriterion("each feature is {name, weight, maximum}")
        name = text(entry, "name")
        numbers = []
        for bound in ("weight", "maximum"):
            value = entry[bound]
            number = feature_value(value) if isinstance(value, str) else None
            if number is None:
                raise InvalidCriterion(
                    f'feature {name!r}: {bound} must be a plain decimal string ("0.25")'
                )
            numbers.append(number)
        features.append(Feature(name, numbers[0], numbers[1]))
    return chosen, tuple(features)


def schedule(tree: dict[str, Any]) -> tuple[int, int]:
    """A schedule change: ``(deadline, opening_at)``."""
    check_fields(tree, {"deadline", "opening_at"})
    return time_value(tree, "deadline"), time_value(tree, "opening_at")


def submission(tree: dict[str, Any]) -> Submission:
    """An envelope sent as JSON: ``kind``, ``ciphertext`` (standard base64) and, if the
    client says, the ``deadline`` it was sealed under. Its size is checked apart
    (:func:`sealed_size`), as for the raw upload."""
    check_fields(tree, {"kind", "ciphertext"}, {"deadline"})
    kind = envelope_kind(tree["kind"])
    sealed_for = time_value(tree, "deadline") if "deadline" in tree else None
    raw = tree["ciphertext"]
    try:
        if not isinstance(raw, str):
            raise ValueError
        ciphertext = base64.b64decode(raw.encode("ascii"), validate=True)
    except (ValueError, binascii.Error):
        raise InvalidField("ciphertext", "must be standard base64") from None
    return Submission(kind, ciphertext, sealed_for)


def sealed_size(ciphertext: bytes) -> None:
    """Refuse bytes whose length is not a sealed envelope's (:data:`contracts.sealing.
    ENVELOPE_SIZES`): a client that sent its offer in clear (or anything else) is refused
    before a byte of it reaches the database."""
    if len(ciphertext) not in sealing.ENVELOPE_SIZES:
        raise InvalidField(
            "ciphertext",
            f"{len(ciphertext)} bytes is not the size of a sealed envelope "
            f"(one of {sorted(sealing.ENVELOPE_SIZES)})",
        )


def share(tree: dict[str, Any]) -> ShareBody:
    """A share hand-in: ``kind`` and ``share`` (a ``gavel-share/v1`` object). A share
    that does not parse is not an error here: the service logs the attempt."""
    check_fields(tree, {"kind", "share"})
    kind = envelope_kind(tree["kind"])
    parsed: custody.Share | None = None
    problem = ""
    try:
        if not isinstance(tree["share"], dict):
            raise custody.CustodyError("malformed", "share must be an object")
        parsed = custody.Share.from_json(tree["share"])
    except custody.CustodyError as error:
        problem = f"{error.reason}: {error.detail}"
    return ShareBody(kind, parsed, problem)


def exclusion(tree: dict[str, Any]) -> tuple[str, str]:
    """An exclusion: ``(bidder, note)``, the note kept to its first 1000 characters."""
    check_fields(tree, {"bidder"}, {"note"})
    return text(tree, "bidder"), _optional_text(tree, "note")[:1000]


def hand_off(tree: dict[str, Any], tender_id: str, lot: str) -> HandOffBody:
    """A hand-off: its auction id (by default derived from the tender and the lot, so a
    retry names the same auction) and its rules, unparsed."""
    check_fields(tree, {"rules"}, {"auction_id"})
    auction_id = (
        text(tree, "auction_id", ident=True) if "auction_id" in tree else f"{tender_id}-{lot}"[:100]
    )
    return HandOffBody(auction_id, tree["rules"])
