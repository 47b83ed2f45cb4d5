"""Sealed envelopes: HPKE encryption of tender offers to a tender's opening key.

An envelope is sealed on the supplier's side (this module, or ``api/static/seal.js`` in
the browser, which implements the same bytes) and opened only at the opening, once k
officers have rebuilt the opening key (:mod:`contracts.custody`). The server stores the
ciphertext and its :func:`commitment`, never the plaintext.

The scheme, RFC 9180 HPKE in base mode with one fixed suite:

- KEM ``DHKEM(X25519, HKDF-SHA256)`` (0x0020), KDF ``HKDF-SHA256`` (0x0001), AEAD
  ``AES-256-GCM`` (0x0002), single-shot, empty AAD.
- ``info`` is :func:`envelope_info`: a versioned, length-prefixed binding of the tender,
  lot, envelope kind, bidder and deadline. The HPKE key schedule mixes it into the AEAD
  key, so a ciphertext moved to another tender, lot, kind, bidder or deadline fails to
  decrypt (:class:`DecryptFailed`).
- The plaintext is :func:`pad`-ded to a fixed bucket (:data:`BUCKETS`) first, so the
  ciphertext length tells only the bucket.

Ciphertext layout (bytes)::

    enc (32: the sender's ephemeral X25519 public key) || AEAD ciphertext (bucket) || tag (16)

so a valid envelope is exactly ``32 + bucket + 16`` bytes long for a bucket in
:data:`BUCKETS` (:data:`ENVELOPE_SIZES`).

Call order for a supplier: :func:`encode_offer` -> :func:`seal` (which pads) ->
:func:`commitment` (to compare with the receipt). At the opening:
:func:`open_envelope` (which unpads) -> :func:`decode_offer`.

Errors: everything raised on purpose is a :class:`SealError` (a ``ValueError``) with a
machine-readable :attr:`SealError.reason`::

    SealError                   reason
    ├── BadKey                  "bad_key"          a key of the wrong type or length
    ├── BadInfo                 "bad_info"         an envelope_info field out of range
    ├── TooLarge                "too_large"        plaintext above the largest bucket
    ├── MalformedEnvelope       "malformed"        not 32 + bucket + 16 bytes
    ├── DecryptFailed           "decrypt_failed"   wrong key, info or tampered bytes
    ├── BadPadding              "bad_padding"      decrypts, but the padding is wrong
    ├── BadOffer                "bad_offer"        decrypts, but is no valid offer
    └── CommitmentMismatch      "commitment_mismatch"  stored bytes differ from the log

Every function here is pure apart from the randomness of :func:`seal` (a fresh
ephemeral key per envelope) and costs O(size of the envelope).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import x25519

from engine.money import CURRENCIES, format_minor

__all__ = [
    "BUCKETS",
    "ENVELOPE_KINDS",
    "ENVELOPE_SIZES",
    "ENC_LENGTH",
    "INFO_LABEL",
    "KEY_LENGTH",
    "MAX_PLAINTEXT",
    "OFFER_VERSION",
    "TAG_LENGTH",
    "BadInfo",
    "BadKey",
    "BadOffer",
    "BadPadding",
    "CommitmentMismatch",
    "DecryptFailed",
    "MalformedEnvelope",
    "Offer",
    "SealError",
    "TooLarge",
    "commitment",
    "decode_offer",
    "encode_offer",
    "offer_amount",
    "envelope_info",
    "open_envelope",
    "open_offer",
    "pad",
    "public_key_of",
    "seal",
    "unpad",
]

#: Padded plaintext sizes in bytes: 1 KiB, 4 KiB, 16 KiB, 64 KiB, 256 KiB, 1 MiB.
BUCKETS: tuple[int, ...] = (1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20)
#: The 4-byte big-endian length prefix that :func:`pad` writes before the plaintext.
_LENGTH_PREFIX = 4
#: The largest plaintext :func:`pad` accepts (1 MiB minus the length prefix).
MAX_PLAINTEXT = BUCKETS[-1] - _LENGTH_PREFIX
#: Length of the HPKE ``enc`` (an X25519 public key) at the start of a ciphertext.
ENC_LENGTH = 32
#: Length of the AES-GCM tag at the end of a ciphertext.
TAG_LENGTH = 16
#: Length of raw X25519 private and public keys.
KEY_LENGTH = 32
#: Every valid envelope length: ``enc || padded plaintext || tag``.
ENVELOPE_SIZES: frozenset[int] = frozenset(ENC_LENGTH + b + TAG_LENGTH for b in BUCKETS)
#: The envelope kinds, opened at different stages of a tender.
ENVELOPE_KINDS: frozenset[str] = frozenset({"qualification", "technical", "financial"})
#: Domain separation label and format version at the start of every ``info``.
INFO_LABEL = b"gavel/envelope/v1"
#: The ``version`` field of the offer plaintext :func:`encode_offer` writes (2: amounts
#: as decimal strings in major units; :func:`decode_offer` still reads version 1).
OFFER_VERSION = 2
#: Upper bound, in UTF-8 bytes, of each identifier bound into ``info``.
_MAX_ID_BYTES = 256

_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)

# JavaScript's Number.MAX_SAFE_INTEGER: amounts above it would not survive the browser.
_MAX_SAFE_INTEGER = (1 << 53) - 1
_CURRENCY = re.compile(r"[A-Z]{3}")
_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?")


class SealError(ValueError):
    """Root of every error this module raises on purpose; :attr:`reason` says which."""

    reason: ClassVar[str] = "seal_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadKey(SealError):
    """A key is not a raw 32-byte X25519 key."""

    reason = "bad_key"


class BadInfo(SealError):
    """An :func:`envelope_info` field is empty, too long or of the wrong kind."""

    reason = "bad_info"


class TooLarge(SealError):
    """The plaintext exceeds :data:`MAX_PLAINTEXT`."""

    reason = "too_large"


class MalformedEnvelope(SealError):
    """The ciphertext does not have a valid envelope length (:data:`ENVELOPE_SIZES`)."""

    reason = "malformed"


class DecryptFailed(SealError):
    """Authentication failed: wrong key, wrong ``info`` (moved envelope) or tampering."""

    reason = "decrypt_failed"


class BadPadding(SealError):
    """The envelope decrypted but its padding is not what :func:`pad` writes."""

    reason = "bad_padding"


class BadOffer(SealError):
    """The envelope decrypted but the plaintext is not a valid offer."""

    reason = "bad_offer"


class CommitmentMismatch(SealError):
    """The ciphertext is not the one whose commitment was logged at submission."""

    reason = "commitment_mismatch"


# ------------------------------------------------------------------------------ info


def envelope_info(
    tender_id: str, lot_id: str, kind: str, bidder_id: str, deadline_us: int
) -> bytes:
    """The HPKE ``info`` that binds an envelope to its place; O(length of the ids).

    Layout: :data:`INFO_LABEL`, then each of ``tender_id``, ``lot_id``, ``kind`` and
    ``bidder_id`` as a 2-byte big-endian length and its UTF-8 bytes, then ``deadline_us``
    as an 8-byte big-endian signed integer. Length prefixes make it injective: no two
    different tuples give the same bytes.

    >>> envelope_info("t", "l", "financial", "b", 1)[len(INFO_LABEL):]
    b'\\x00\\x01t\\x00\\x01l\\x00\\tfinancial\\x00\\x01b\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x01'

    Raises :class:`BadInfo` for an empty or over-long id (256 UTF-8 bytes at most), a
    ``kind`` not in :data:`ENVELOPE_KINDS`, or a deadline outside 0..2**63-1.
    """
    if kind not in ENVELOPE_KINDS:
        raise BadInfo(f"unknown envelope kind {kind!r}")
    if type(deadline_us) is not int or not 0 <= deadline_us < (1 << 63):
        raise BadInfo("deadline_us must be an int in 0..2**63-1")
    parts = [INFO_LABEL]
    for name, value in (
        ("tender_id", tender_id),
        ("lot_id", lot_id),
        ("kind", kind),
        ("bidder_id", bidder_id),
    ):
        if not isinstance(value, str) or not value:
            raise BadInfo(f"{name} must be a non-empty string")
        try:
            encoded = value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadInfo(f"{name} is not valid Unicode") from None
        if len(encoded) > _MAX_ID_BYTES:
            raise BadInfo(f"{name} is longer than {_MAX_ID_BYTES} UTF-8 bytes")
        parts.append(struct.pack(">H", len(encoded)) + encoded)
    parts.append(struct.pack(">q", deadline_us))
    return b"".join(parts)


# --------------------------------------------------------------------------- padding


def pad(plaintext: bytes) -> bytes:
    """``plaintext`` padded to the smallest bucket that holds it; O(bucket).

    Layout: 4-byte big-endian plaintext length, the plaintext, zero bytes up to the
    bucket size (one of :data:`BUCKETS`). Raises :class:`TooLarge` above
    :data:`MAX_PLAINTEXT`.

    >>> len(pad(b"")), len(pad(b"x" * 1020)), len(pad(b"x" * 1021))
    (1024, 1024, 4096)
    """
    needed = _LENGTH_PREFIX + len(plaintext)
    for bucket in BUCKETS:
        if needed <= bucket:
            return struct.pack(">I", len(plaintext)) + plaintext + bytes(bucket - needed)
    raise TooLarge(f"plaintext of {len(plaintext)} bytes exceeds {MAX_PLAINTEXT}")


def unpad(padded: bytes) -> bytes:
    """The plaintext inside ``padded`` (the inverse of :func:`pad`); O(len(padded)).

    Raises :class:`BadPadding` unless ``padded`` is exactly what :func:`pad` would write:
    a bucket size, a length that fits, and only zero bytes after the plaintext.
    """
    if len(padded) not in BUCKETS:
        raise BadPadding(f"padded length {len(padded)} is not a bucket size")
    (length,) = struct.unpack_from(">I", padded)
    end = _LENGTH_PREFIX + length
    if end > len(padded):
        raise BadPadding("declared length exceeds the bucket")
    if any(padded[end:]):
        raise BadPadding("non-zero bytes after the plaintext")
    if _smallest_bucket(end) != len(padded):
        raise BadPadding("plaintext is padded to a larger bucket than needed")
    return bytes(padded[_LENGTH_PREFIX:end])


def _smallest_bucket(needed: int) -> int:
    return next(bucket for bucket in BUCKETS if needed <= bucket)


# ---------------------------------------------------------------------------- sealing


def public_key_of(private_key: bytes | bytearray) -> bytes:
    """The raw X25519 public key of a raw private key; raises :class:`BadKey`."""
    return _private_key(private_key).public_key().public_bytes_raw()


def seal(public_key: bytes, info: bytes, plaintext: bytes) -> bytes:
    """Encrypt ``plaintext`` (padded first) to ``public_key`` under ``info``.

    ``public_key`` is the raw 32-byte X25519 opening key of the tender; ``info`` comes
    from :func:`envelope_info`. Returns ``enc || ct`` as in the module docstring; each
    call uses a fresh ephemeral key, so sealing the same offer twice gives different
    bytes. O(bucket). Raises :class:`BadKey` or :class:`TooLarge`.
    """
    if not isinstance(public_key, bytes) or len(public_key) != KEY_LENGTH:
        raise BadKey("public key must be 32 raw bytes")
    padded = pad(plaintext)
    key = x25519.X25519PublicKey.from_public_bytes(public_key)
    try:
        return _SUITE.encrypt(padded, key, info=info)
    except ValueError:
        # A small-order point gives an all-zero shared secret, which HPKE refuses.
        raise BadKey("not a usable X25519 public key (small order)") from None


def open_envelope(private_key: bytes | bytearray, info: bytes, ciphertext: bytes) -> bytes:
    """Decrypt an envelope made by :func:`seal` and return the unpadded plaintext.

    ``private_key`` is the raw 32-byte opening key (a ``bytearray`` the caller wipes
    is fine). O(len(ciphertext)). Raises :class:`BadKey`, :class:`MalformedEnvelope`
    (wrong length), :class:`DecryptFailed` (wrong key, wrong ``info``, tampering) or
    :class:`BadPadding`.
    """
    key = _private_key(private_key)
    if len(ciphertext) not in ENVELOPE_SIZES:
        raise MalformedEnvelope(f"an envelope of {len(ciphertext)} bytes has no valid size")
    try:
        padded = _SUITE.decrypt(bytes(ciphertext), key, info=info)
    except InvalidTag:
        raise DecryptFailed("the envelope does not open with this key and info") from None
    return unpad(padded)


def _private_key(private_key: bytes | bytearray) -> x25519.X25519PrivateKey:
    if not isinstance(private_key, bytes | bytearray) or len(private_key) != KEY_LENGTH:
        raise BadKey("private key must be 32 raw bytes")
    return x25519.X25519PrivateKey.from_private_bytes(bytes(private_key))


def commitment(ciphertext: bytes) -> str:
    """The commitment to an envelope: lowercase hex SHA-256 of the ciphertext; O(n)."""
    return hashlib.sha256(ciphertext).hexdigest()


def open_offer(
    private_key: bytes | bytearray, info: bytes, ciphertext: bytes, expected_commitment: str
) -> Offer:
    """The opening of one stored envelope: check it against the commitment logged at
    submission, decrypt, unpad and parse; O(len(ciphertext)).

    Raises :class:`CommitmentMismatch` first if ``commitment(ciphertext)`` differs, then
    whatever :func:`open_envelope` and :func:`decode_offer` raise. Every failure is a
    :class:`SealError` whose ``reason`` the opening records for that envelope.
    """
    if commitment(ciphertext) != expected_commitment:
        raise CommitmentMismatch("the stored ciphertext does not match its logged commitment")
    return decode_offer(open_envelope(private_key, info, ciphertext))


# ----------------------------------------------------------------------------- offers


@dataclass(frozen=True, slots=True)
class Offer:
    """What a supplier offers: the plaintext of an envelope, held in minor units.

    ``amount_minor`` is the price in minor units (0..2**53-1, so the browser can carry
    it exactly); ``currency`` an ISO 4217 code. ``features`` maps a non-price criterion
    to a non-negative decimal string (MEAT coefficients); ``cost_minor`` is the declared
    life-cycle cost (LCC), if any, in minor units. ``documents`` maps a file name to its
    bytes. A qualification or technical envelope may carry documents with price 0.

    On the wire (:func:`encode_offer`) the price and the cost are ``amount`` and ``cost``,
    decimal strings in major units like every amount a client sends (docs/protocol.md);
    the ``_minor`` names here are this module's integers, the unit the engine keeps.
    """

    amount_minor: int
    currency: str
    features: Mapping[str, str] = field(default_factory=dict)
    cost_minor: int | None = None
    documents: Mapping[str, bytes] = field(default_factory=dict)


def encode_offer(offer: Offer) -> bytes:
    """The canonical JSON bytes of ``offer`` (version 2); O(size). Raises :class:`BadOffer`.

    Canonical: UTF-8, keys sorted, no whitespace, ``amount`` and ``cost`` plain decimals
    in major units with exactly the currency's minor digits (``engine.money``), documents
    in standard base64 with padding, absent options omitted; so equal offers give equal
    bytes (the browser's ``encodeOffer`` writes the same)::

        {"amount":"123.45","cost":"0.00","currency":"EUR","documents":{...},
         "features":{...},"version":2}

    >>> encode_offer(Offer(amount_minor=12345, currency="EUR"))
    b'{"amount":"123.45","currency":"EUR","version":2}'
    """
    _check_offer(offer)
    if offer.currency not in CURRENCIES:
        raise BadOffer(f"unknown currency {offer.currency!r}")
    body: dict[str, Any] = {
        "version": OFFER_VERSION,
        "amount": format_minor(offer.amount_minor, offer.currency),
        "currency": offer.currency,
    }
    if offer.features:
        body["features"] = dict(offer.features)
    if offer.cost_minor is not None:
        body["cost"] = format_minor(offer.cost_minor, offer.currency)
    if offer.documents:
        body["documents"] = {
            name: base64.b64encode(data).decode("ascii") for name, data in offer.documents.items()
        }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


#: The fields of each offer version. Version 1 (``amount_minor``, ``non_price_cost_minor``:
#: integers in minor units) is what envelopes sealed before the life-cycle cost got one
#: name and unit hold; they still open. Nothing writes it any more.
_OFFER_FIELDS: dict[int, frozenset[str]] = {
    1: frozenset(
        {"version", "amount_minor", "currency", "features", "non_price_cost_minor", "documents"}
    ),
    2: frozenset({"version", "amount", "currency", "features", "cost", "documents"}),
}


def decode_offer(data: bytes) -> Offer:
    """Parse an offer written by :func:`encode_offer` (or a version 1 one); O(size).

    Accepts only the canonical form's fields and types (unknown keys, such as version 1's
    ``non_price_cost_minor`` in a version 2 offer, floats, booleans, bad base64, amounts
    with more decimals than the currency has are refused); raises :class:`BadOffer` with
    the reason in its detail.
    """
    try:
        body = json.loads(
            bytes(data).decode("utf-8"),
            parse_float=_refuse_float,
            parse_constant=_refuse_float,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadOffer(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadOffer("an offer is a JSON object")
    version = body.get("version")
    if type(version) is not int or version not in _OFFER_FIELDS:
        raise BadOffer(f"version must be {OFFER_VERSION} (or 1, sealed before it)")
    unknown = set(body) - _OFFER_FIELDS[version]
    if unknown:
        raise BadOffer(f"unknown fields {sorted(unknown)} in a version {version} offer")
    features = body.get("features", {})
    if not isinstance(features, dict):
        raise BadOffer("features must be an object")
    documents_text = body.get("documents", {})
    if not isinstance(documents_text, dict):
        raise BadOffer("documents must be an object")
    documents: dict[str, bytes] = {}
    for name, text in documents_text.items():
        if not isinstance(text, str):
            raise BadOffer(f"document {name!r} must be a base64 string")
        try:
            documents[name] = base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise BadOffer(f"document {name!r} is not valid base64") from None
    currency = body.get("currency", "")
    if version == 1:
        amount = body.get("amount_minor", -1)  # checked by _check_offer
        cost = body.get("non_price_cost_minor")
    else:
        amount = offer_amount(body.get("amount"), currency, "amount")
        cost = None if "cost" not in body else offer_amount(body["cost"], currency, "cost")
    offer = Offer(
        amount_minor=amount,
        currency=currency,
        features=features,
        cost_minor=cost,
        documents=documents,
    )
    _check_offer(offer)
    return offer


def offer_amount(text: object, currency: object, name: str = "amount") -> int:
    """A version 2 offer's ``amount`` or ``cost`` (``name``, for the message): a plain
    decimal string in major units of a known ``currency``, in minor units within
    0..2**53-1; O(len(text)). Raises :class:`BadOffer`.

    >>> offer_amount("123.4", "EUR")
    12340
    """
    if not isinstance(currency, str) or currency not in CURRENCIES:
        raise BadOffer(f"currency must be a known ISO 4217 code, not {currency!r}")
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
        raise BadOffer(f"{name} must be a plain non-negative decimal string in major units")
    whole, _, fraction = text.partition(".")
    digits = CURRENCIES[currency]
    kept = fraction.rstrip("0")
    if len(kept) > digits:
        raise BadOffer(f"{name}: {currency} amounts have at most {digits} decimals")
    if len(whole) > 20:
        raise BadOffer(f"{name} must be at most {_MAX_SAFE_INTEGER} minor units")
    minor = int(whole + kept.ljust(digits, "0"))
    if minor > _MAX_SAFE_INTEGER:
        raise BadOffer(f"{name} must be at most {_MAX_SAFE_INTEGER} minor units")
    return minor


def _refuse_float(text: str) -> Any:
    raise BadOffer(f"non-integer number {text}")


def _check_offer(offer: Offer) -> None:
    if not _is_amount(offer.amount_minor):
        raise BadOffer("amount_minor must be an integer in 0..2**53-1")
    if not isinstance(offer.currency, str) or not _CURRENCY.fullmatch(offer.currency):
        raise BadOffer("currency must be three capital letters (ISO 4217)")
    if offer.cost_minor is not None and not _is_amount(offer.cost_minor):
        raise BadOffer("cost_minor must be an integer in 0..2**53-1")
    for name, value in offer.features.items():
        if not isinstance(name, str) or not name or not isinstance(value, str):
            raise BadOffer("features map non-empty names to decimal strings")
        if not _DECIMAL.fullmatch(value):
            raise BadOffer(f"feature {name!r} must be a plain non-negative decimal string")
    for name, data in offer.documents.items():
        if not isinstance(name, str) or not name or not isinstance(data, bytes):
            raise BadOffer("documents map non-empty names to bytes")


def _is_amount(value: object) -> bool:
    return type(value) is int and 0 <= value <= _MAX_SAFE_INTEGER
