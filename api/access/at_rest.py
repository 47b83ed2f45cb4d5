"""Secrets the server must keep in its database, sealed so the database alone does not
give them away.

The only such secret today is a credential inside a stored idempotent answer: a retry of
``POST /api/v1/tokens``, of a bidder's registration or of an invitation under the same
``Idempotency-Key`` must get the same token (or invitation code) back, so the answer is
stored (``idempotency_keys``), but a token in clear there would let anyone who reads
the table, or a backup of it, act as that party (or redeem that invitation).
:class:`AtRest` seals such fields with AES-256-GCM under a key derived (HKDF-SHA256) from
the server's Ed25519 signing key: whoever can read the table but not the key sees
``sealed.v1.…``; whoever has the key could mint tokens anyway.

Call order: build once from the signing key; :meth:`AtRest.seal_fields` on an answer
before it is stored, :meth:`AtRest.open_fields` on the stored bytes before they are
sent (first answer and replays alike).
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from api.access.errors import AccessError

__all__ = ["PREFIX", "SECRET_FIELDS", "AtRest", "SealBroken"]

#: Marks a sealed value (version 1: AES-256-GCM, 12-byte random nonce).
PREFIX = "sealed.v1."
#: Top-level answer fields that hold secrets: a string, or an object of them (the lot
#: hand-off answers with ``tokens``: one per ranked bidder; an invitation, with its
#: one-time ``code`` and the ``link`` that carries it).
SECRET_FIELDS = ("token", "tokens", "code", "link")
_INFO = b"gavel/at-rest/v1"


class SealBroken(AccessError, ValueError):
    """A sealed value that does not open under this key (the key changed, or the bytes
    were altered)."""


class AtRest:
    """Seal and open secret fields with a key derived from ``signing_key``."""

    __slots__ = ("_aead",)

    def __init__(self, signing_key: Ed25519PrivateKey) -> None:
        seed = signing_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(seed)
        self._aead = AESGCM(key)

    def seal(self, text: str) -> str:
        """``text`` sealed; a fresh nonce each time. O(len(text))."""
        nonce = os.urandom(12)
        sealed = nonce + self._aead.encrypt(nonce, text.encode(), _INFO)
        return PREFIX + base64.urlsafe_b64encode(sealed).decode()

    def open(self, value: str) -> str:
        """The text :meth:`seal` sealed; raises :class:`SealBroken`."""
        if not value.startswith(PREFIX):
            raise SealBroken("not a sealed value")
        try:
            raw = base64.urlsafe_b64decode(value[len(PREFIX) :])
            return self._aead.decrypt(raw[:12], raw[12:], _INFO).decode()
        except Exception as error:  # noqa: BLE001 - InvalidTag, bad base64, bad UTF-8
            raise SealBroken("the sealed value does not open under this key") from error

    def seal_fields(self, body: Any) -> Any:
        """``body`` with the strings under its :data:`SECRET_FIELDS` (at any depth below
        them) sealed."""
        if not isinstance(body, dict) or not any(k in body for k in SECRET_FIELDS):
            return body
        return {
            key: self._map(value, self.seal) if key in SECRET_FIELDS else value
            for key, value in body.items()
        }

    def open_fields(self, raw: bytes) -> bytes:
        """The JSON bytes ``raw`` with every sealed secret field opened (unchanged when
        there is none). Raises :class:`SealBroken`."""
        if PREFIX.encode() not in raw:
            return raw
        body = json.loads(raw)
        opened = {
            key: self._map(value, self._open_sealed) if key in SECRET_FIELDS else value
            for key, value in body.items()
        }
        return json.dumps(opened, separators=(",", ":")).encode()

    def _open_sealed(self, value: str) -> str:
        return self.open(value) if value.startswith(PREFIX) else value

    def _map(self, value: Any, change: Any) -> Any:
        """``value`` with ``change`` applied to each string in it (objects recursed)."""
        if isinstance(value, str):
            return change(value)
        if isinstance(value, dict):
            return {key: self._map(item, change) for key, item in value.items()}
        return value
