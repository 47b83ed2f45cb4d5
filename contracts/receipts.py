"""Submission receipts: the server's signed word that an envelope arrived, and when.

On each submission (or withdrawal) of a sealed envelope the server assigns the receipt
time from its own clock, appends the envelope's commitment (SHA-256 of the ciphertext,
:func:`contracts.sealing.commitment`) to the tender's event log at position ``seq``, and
returns a :class:`SignedReceipt`. The supplier keeps it and can check it offline with
:func:`verify_receipt` and the server's published Ed25519 public key: the receipt proves
the commitment was logged at that time, before the deadline.

Signed bytes: ``b"gavel/receipt/v1\\n"`` followed by the canonical JSON of the receipt
(:meth:`Receipt.to_json` with sorted keys, no whitespace, UTF-8). The signature is Ed25519
(RFC 8032, 64 bytes). ``server_key_id`` is :func:`key_id` of the signing key, so a
verifier holding several published keys (rotation) knows which one to use.

JSON form (files, HTTP)::

    {"receipt": {"action": "submitted", "bidder_id": …, "commitment": "<64 hex>",
                 "kind": "financial", "lot_id": …, "received_at_us": 1700000000000000,
                 "seq": 7, "server_key_id": "<16 hex>", "tender_id": …,
                 "type": "gavel-receipt/v1"},
     "signature": "<128 hex>"}

Errors: :class:`ReceiptError` (a ``ValueError``) with ``reason`` ``malformed``,
``wrong_key`` (the receipt names another server key) or ``bad_signature``.
Every function is O(size of the receipt).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

__all__ = [
    "RECEIPT_ACTIONS",
    "Receipt",
    "ReceiptError",
    "SignedReceipt",
    "key_id",
    "sign_receipt",
    "verify_receipt",
]

#: What a receipt acknowledges.
RECEIPT_ACTIONS: frozenset[str] = frozenset({"submitted", "withdrawn"})
_LABEL = b"gavel/receipt/v1\n"
_TYPE = "gavel-receipt/v1"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX16 = re.compile(r"[0-9a-f]{16}")


class ReceiptError(ValueError):
    """Root of every error this module raises on purpose; ``reason`` says which."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def key_id(server_public: bytes) -> str:
    """A short name for an Ed25519 public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(server_public).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the server acknowledges: ``commitment`` of an envelope of ``kind`` from
    ``bidder_id`` for ``tender_id``/``lot_id``, logged at ``seq`` at ``received_at_us``
    (server clock, microseconds). ``action`` is ``submitted`` (also for a replacement)
    or ``withdrawn`` (``commitment`` is then the withdrawn envelope's)."""

    tender_id: str
    lot_id: str
    kind: str
    bidder_id: str
    commitment: str
    received_at_us: int
    seq: int
    server_key_id: str
    action: str = "submitted"

    def __post_init__(self) -> None:
        for name in ("tender_id", "lot_id", "kind", "bidder_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value or not value.isprintable():
                raise ReceiptError("malformed", f"{name} must be a non-empty printable string")
        if not isinstance(self.commitment, str) or not _HEX64.fullmatch(self.commitment):
            raise ReceiptError("malformed", "commitment must be 64 lowercase hex digits")
        if not isinstance(self.server_key_id, str) or not _HEX16.fullmatch(self.server_key_id):
            raise ReceiptError("malformed", "server_key_id must be 16 lowercase hex digits")
        for name in ("received_at_us", "seq"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ReceiptError("malformed", f"{name} must be a non-negative integer")
        if self.action not in RECEIPT_ACTIONS:
            raise ReceiptError("malformed", f"action must be one of {sorted(RECEIPT_ACTIONS)}")

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this receipt (the ``receipt`` member of the signed form)."""
        return {
            "type": _TYPE,
            "tender_id": self.tender_id,
            "lot_id": self.lot_id,
            "kind": self.kind,
            "bidder_id": self.bidder_id,
            "commitment": self.commitment,
            "received_at_us": self.received_at_us,
            "seq": self.seq,
            "server_key_id": self.server_key_id,
            "action": self.action,
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Receipt:
        """Parse :meth:`to_json`; raises ``ReceiptError("malformed")``."""
        if not isinstance(body, Mapping) or body.get("type") != _TYPE:
            raise ReceiptError("malformed", "not a gavel receipt")
        known = set(cls.__dataclass_fields__) | {"type"}
        if set(body) - known:
            raise ReceiptError("malformed", f"unknown fields {sorted(set(body) - known)}")
        missing = set(cls.__dataclass_fields__) - {"action"} - set(body)
        if missing:
            raise ReceiptError("malformed", f"missing fields {sorted(missing)}")
        return cls(**{name: value for name, value in body.items() if name != "type"})

    def signed_bytes(self) -> bytes:
        """The exact bytes the server signs: label, then canonical JSON."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return _LABEL + text.encode("utf-8")


@dataclass(frozen=True, slots=True)
class SignedReceipt:
    """A :class:`Receipt` with the server's Ed25519 ``signature`` (64 bytes)."""

    receipt: Receipt
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        """``{"receipt": {…}, "signature": "<hex>"}``."""
        return {"receipt": self.receipt.to_json(), "signature": self.signature.hex()}

    @classmethod
    def from_json(cls, body: Any) -> SignedReceipt:
        """Parse :meth:`to_json` (a dict, or its JSON text); raises ``ReceiptError``."""
        if isinstance(body, str | bytes):
            try:
                body = json.loads(body)
            except ValueError:
                raise ReceiptError("malformed", "not JSON") from None
        if not isinstance(body, dict) or set(body) != {"receipt", "signature"}:
            raise ReceiptError("malformed", "expected an object with receipt and signature")
        signature = body["signature"]
        if not isinstance(signature, str) or not re.fullmatch(r"[0-9a-f]{128}", signature):
            raise ReceiptError("malformed", "signature must be 128 lowercase hex digits")
        return cls(receipt=Receipt.from_json(body["receipt"]), signature=bytes.fromhex(signature))


def sign_receipt(receipt: Receipt, server_key: ed25519.Ed25519PrivateKey) -> SignedReceipt:
    """Sign ``receipt`` with the server's key. Raises ``ReceiptError("wrong_key")`` if
    ``receipt.server_key_id`` is not this key's :func:`key_id`."""
    public = server_key.public_key().public_bytes_raw()
    if receipt.server_key_id != key_id(public):
        raise ReceiptError("wrong_key", "server_key_id does not name this signing key")
    return SignedReceipt(receipt=receipt, signature=server_key.sign(receipt.signed_bytes()))


def verify_receipt(signed: SignedReceipt, server_public: bytes) -> Receipt:
    """Check ``signed`` against the server's raw Ed25519 public key and return the
    receipt; raises ``ReceiptError`` (``wrong_key``, ``bad_signature``, ``malformed``)."""
    try:
        key = ed25519.Ed25519PublicKey.from_public_bytes(server_public)
    except (ValueError, TypeError):
        raise ReceiptError("malformed", "the server key must be 32 raw bytes") from None
    if signed.receipt.server_key_id != key_id(server_public):
        raise ReceiptError("wrong_key", "the receipt was signed with another server key")
    try:
        key.verify(signed.signature, signed.receipt.signed_bytes())
    except InvalidSignature:
        raise ReceiptError("bad_signature", "the signature does not verify") from None
    return signed.receipt
