"""Key custody for sealed tenders: the k-of-n key ceremony and the opening.

At the key ceremony a tender gets an X25519 opening key pair
(:func:`generate_opening_key`). The public half is published; suppliers seal to it
(:mod:`contracts.sealing`). The private half is split with Shamir secret sharing among
the n committee officers (:func:`split_key`), each share encrypted to that officer's own
X25519 key and signed with the ceremony's Ed25519 key; then the private key is wiped, so
nobody keeps it at rest. At the opening, each officer decrypts their share
(:func:`decrypt_share`) and submits it; any k valid shares from distinct officers rebuild
the key (:func:`combine`), which opens the envelopes and is wiped again.

**Shamir.** We use pycryptodome's ``Crypto.Protocol.SecretSharing.Shamir`` (GF(2^128),
the polynomial ``x^128 + x^7 + x^2 + x + 1``, its default mode without the ``ssss``
quirk) rather than our own field arithmetic. It shares 16-byte secrets only, so the
32-byte X25519 key is split as two independent 16-byte halves (bytes 0..15 and 16..31),
each with a fresh random polynomial of degree k-1, and officer ``i`` (1-based, officers in
sorted id order) gets the two y values at the same x = ``i``. A share value is
``y_first_half (16) || y_second_half (16)``. k-1 shares reveal nothing about either half.

**Share envelope.** Each share value is HPKE-sealed (same suite as envelopes) to the
officer's X25519 key with ``info`` = :func:`share_info` (tender, officer, index, opening
public key), so a share cannot be replayed to another tender or officer slot. The ceremony
signs (Ed25519) the canonical bytes of the tender, officer, index, k, n, the opening
public key, the SHA-256 of the ciphertext and a SHA-256 digest of the share value
(:func:`share_digest`). The digest lets anyone holding the signed record check a
decrypted share submitted at the opening; a share value is 256 uniformly random bits, so
its digest discloses nothing usable.

**Wiping.** :func:`combine` returns the key in a ``bytearray``; call :func:`wipe` on it
as soon as the envelopes are open. This is best effort only: CPython and the libraries
make transient immutable copies (``bytes`` arguments, the ints inside pycryptodome's
field elements, OpenSSL's key object, which OpenSSL itself clears on free) that Python
cannot zero, and the memory may have been swapped. The guarantee we rely on is the
absence of any copy *at rest* (disk, database, logs), not perfect memory hygiene.

Errors: :class:`CustodyError` (a ``ValueError``) with a machine-readable ``reason``:
``bad_key``, ``bad_threshold``, ``malformed``, ``decrypt_failed`` (the share is not for
this officer key), ``forged_share`` (bad signature, wrong tender or opening key, a value
that does not match its digest, or a combination that does not give the public key),
``duplicate_share`` (two shares with one index or one officer), ``too_few_shares``.

Call order: ceremony: :func:`generate_officer_keys` (each officer, once) ->
:func:`generate_opening_key` -> :func:`split_key` -> wipe the private key. Opening:
:func:`decrypt_share` (each officer) -> :func:`verify_share` (server, on receipt) ->
:func:`combine` -> open envelopes -> :func:`wipe`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from Crypto.Protocol.SecretSharing import Shamir
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

__all__ = [
    "MAX_OFFICERS",
    "CustodyError",
    "EncryptedShare",
    "OfficerKeys",
    "Share",
    "combine",
    "decrypt_share",
    "generate_officer_keys",
    "generate_opening_key",
    "share_digest",
    "share_info",
    "split_key",
    "verify_share",
    "wipe",
]

#: The most officers a committee may have (share indices fit one byte).
MAX_OFFICERS = 255
_KEY = 32
_HALF = 16
_SHARE_INFO_LABEL = b"gavel/share/v1"
_SHARE_DIGEST_LABEL = b"gavel/share-digest/v1"
_SHARE_SIGNED_LABEL = b"gavel/share-signed/v1"
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


class CustodyError(ValueError):
    """Root of every error this module raises on purpose; ``reason`` says which."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# ------------------------------------------------------------------------------- keys


def generate_opening_key() -> tuple[bytes, bytes]:
    """A fresh tender opening key pair: ``(private, public)``, raw 32 bytes each."""
    private = x25519.X25519PrivateKey.generate()
    return private.private_bytes_raw(), private.public_key().public_bytes_raw()


@dataclass(frozen=True, slots=True, repr=False)
class OfficerKeys:
    """An officer's two key pairs: X25519 to receive shares, Ed25519 to sign.

    Both private keys are raw 32 bytes (the Ed25519 one is the seed). The key file the
    CLI writes is :meth:`to_json`; only :meth:`public_json` is ever sent to the server.
    ``repr`` hides the private keys.
    """

    encryption_private: bytes
    signing_private: bytes

    def __post_init__(self) -> None:
        for name in ("encryption_private", "signing_private"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != _KEY:
                raise CustodyError("bad_key", f"{name} must be 32 raw bytes")

    def __repr__(self) -> str:
        return f"OfficerKeys(encryption_public={self.encryption_public.hex()})"

    @property
    def encryption_public(self) -> bytes:
        """The raw X25519 public key shares are encrypted to."""
        return (
            x25519.X25519PrivateKey.from_private_bytes(self.encryption_private)
            .public_key()
            .public_bytes_raw()
        )

    @property
    def signing_key(self) -> ed25519.Ed25519PrivateKey:
        """The Ed25519 signing key (for example to sign a share submission)."""
        return ed25519.Ed25519PrivateKey.from_private_bytes(self.signing_private)

    @property
    def signing_public(self) -> bytes:
        """The raw Ed25519 public key."""
        return self.signing_key.public_key().public_bytes_raw()

    def public_json(self) -> dict[str, str]:
        """The public halves, hex: ``{"encryption_public": …, "signing_public": …}``."""
        return {
            "encryption_public": self.encryption_public.hex(),
            "signing_public": self.signing_public.hex(),
        }

    def to_json(self) -> str:
        """The key file: a JSON object with both private keys and the public halves (hex)."""
        body = {
            "type": "gavel-officer-keys/v1",
            "encryption_private": self.encryption_private.hex(),
            "signing_private": self.signing_private.hex(),
            **self.public_json(),
        }
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> OfficerKeys:
        """Read a key file written by :meth:`to_json`; raises ``CustodyError("malformed")``
        or ``("bad_key")`` if the public halves do not match the private keys."""
        body = _json_object(text, "officer key file")
        if body.get("type") != "gavel-officer-keys/v1":
            raise CustodyError("malformed", "not a gavel officer key file")
        keys = cls(
            encryption_private=_hex(body, "encryption_private", _KEY),
            signing_private=_hex(body, "signing_private", _KEY),
        )
        for name, value in keys.public_json().items():
            if body.get(name, value) != value:
                raise CustodyError("bad_key", f"{name} does not match the private key")
        return keys


def generate_officer_keys() -> OfficerKeys:
    """Fresh officer keys (X25519 + Ed25519), from the operating system's randomness."""
    return OfficerKeys(
        encryption_private=x25519.X25519PrivateKey.generate().private_bytes_raw(),
        signing_private=ed25519.Ed25519PrivateKey.generate().private_bytes_raw(),
    )


# ----------------------------------------------------------------------------- shares


@dataclass(frozen=True, slots=True)
class EncryptedShare:
    """One officer's share as the ceremony hands it out: sealed to them and signed.

    Safe to store on the server and to publish: ``ciphertext`` opens only with the
    officer's X25519 private key. ``signer_public`` is informative; verification uses the
    ceremony key the caller expects.
    """

    tender_id: str
    officer_id: str
    index: int
    k: int
    n: int
    opening_public: bytes
    value_digest: bytes
    ciphertext: bytes
    signer_public: bytes
    signature: bytes

    def signed_bytes(self) -> bytes:
        """The canonical bytes the ceremony signs (see :func:`_signed_bytes`)."""
        return _signed_bytes(
            self.tender_id,
            self.officer_id,
            self.index,
            self.k,
            self.n,
            self.opening_public,
            self.value_digest,
            hashlib.sha256(self.ciphertext).digest(),
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form: bytes as lowercase hex (ciphertext as base64)."""
        return {
            "type": "gavel-encrypted-share/v1",
            "tender_id": self.tender_id,
            "officer_id": self.officer_id,
            "index": self.index,
            "k": self.k,
            "n": self.n,
            "opening_public": self.opening_public.hex(),
            "value_digest": self.value_digest.hex(),
            "ciphertext": base64.b64encode(self.ciphertext).decode("ascii"),
            "signer_public": self.signer_public.hex(),
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> EncryptedShare:
        """Parse :meth:`to_json`; raises ``CustodyError("malformed")``."""
        if body.get("type") != "gavel-encrypted-share/v1":
            raise CustodyError("malformed", "not a gavel encrypted share")
        try:
            ciphertext = base64.b64decode(str(body.get("ciphertext", "")), validate=True)
        except binascii.Error:
            raise CustodyError("malformed", "ciphertext is not base64") from None
        return cls(
            tender_id=_text(body, "tender_id"),
            officer_id=_text(body, "officer_id"),
            index=_int(body, "index"),
            k=_int(body, "k"),
            n=_int(body, "n"),
            opening_public=_hex(body, "opening_public", _KEY),
            value_digest=_hex(body, "value_digest", 32),
            ciphertext=ciphertext,
            signer_public=_hex(body, "signer_public", _KEY),
            signature=_hex(body, "signature", 64),
        )


@dataclass(frozen=True, slots=True, repr=False)
class Share:
    """A decrypted share, as an officer submits it at the opening.

    Carries the signed record of its :class:`EncryptedShare` (everything but the
    ciphertext, whose SHA-256 is kept instead) so the receiver can check it with
    :func:`verify_share` before :func:`combine`. ``value`` is secret; ``repr`` hides it.
    """

    tender_id: str
    officer_id: str
    index: int
    k: int
    n: int
    opening_public: bytes
    value_digest: bytes
    ciphertext_digest: bytes
    signature: bytes
    value: bytes

    def __repr__(self) -> str:
        return (
            f"Share(tender_id={self.tender_id!r}, officer_id={self.officer_id!r}, "
            f"index={self.index})"
        )

    def signed_bytes(self) -> bytes:
        """The canonical bytes the ceremony signed for this share."""
        return _signed_bytes(
            self.tender_id,
            self.officer_id,
            self.index,
            self.k,
            self.n,
            self.opening_public,
            self.value_digest,
            self.ciphertext_digest,
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form, bytes as lowercase hex. Contains the secret share value."""
        return {
            "type": "gavel-share/v1",
            "tender_id": self.tender_id,
            "officer_id": self.officer_id,
            "index": self.index,
            "k": self.k,
            "n": self.n,
            "opening_public": self.opening_public.hex(),
            "value_digest": self.value_digest.hex(),
            "ciphertext_digest": self.ciphertext_digest.hex(),
            "signature": self.signature.hex(),
            "value": self.value.hex(),
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Share:
        """Parse :meth:`to_json`; raises ``CustodyError("malformed")``."""
        if body.get("type") != "gavel-share/v1":
            raise CustodyError("malformed", "not a gavel share")
        return cls(
            tender_id=_text(body, "tender_id"),
            officer_id=_text(body, "officer_id"),
            index=_int(body, "index"),
            k=_int(body, "k"),
            n=_int(body, "n"),
            opening_public=_hex(body, "opening_public", _KEY),
            value_digest=_hex(body, "value_digest", 32),
            ciphertext_digest=_hex(body, "ciphertext_digest", 32),
            signature=_hex(body, "signature", 64),
            value=_hex(body, "value", _KEY),
        )


def share_info(tender_id: str, officer_id: str, index: int, opening_public: bytes) -> bytes:
    """The HPKE ``info`` of a share envelope: label, then length-prefixed tender and
    officer ids (2-byte lengths, UTF-8), the index (2 bytes) and the opening public key."""
    return b"".join(
        (
            _SHARE_INFO_LABEL,
            _field(tender_id),
            _field(officer_id),
            struct.pack(">H", index),
            opening_public,
        )
    )


def share_digest(tender_id: str, officer_id: str, index: int, value: bytes) -> bytes:
    """SHA-256 over a label, the tender, officer, index and share value (32 bytes)."""
    return hashlib.sha256(
        b"".join(
            (
                _SHARE_DIGEST_LABEL,
                _field(tender_id),
                _field(officer_id),
                struct.pack(">H", index),
                value,
            )
        )
    ).digest()


def split_key(
    private: bytes | bytearray,
    k: int,
    officers: Mapping[str, bytes],
    ceremony_signer: ed25519.Ed25519PrivateKey,
    tender_id: str,
) -> list[EncryptedShare]:
    """Split the opening key ``private`` into ``len(officers)`` shares, any ``k`` of
    which rebuild it; one :class:`EncryptedShare` per officer, in sorted officer order.

    ``officers`` maps officer id to that officer's raw X25519 public key. Requires
    ``1 <= k <= n <= 255`` (``k == 1`` gives every officer the whole key). Each share is
    sealed to its officer and signed by ``ceremony_signer``. O(n * k) field operations.
    Raises ``CustodyError`` (``bad_key``, ``bad_threshold``). The caller wipes
    ``private`` afterwards (pass a ``bytearray`` and :func:`wipe` it).
    """
    if not isinstance(private, bytes | bytearray) or len(private) != _KEY:
        raise CustodyError("bad_key", "the opening key must be 32 raw bytes")
    n = len(officers)
    if type(k) is not int or not 1 <= k <= n or n > MAX_OFFICERS:
        raise CustodyError("bad_threshold", f"need 1 <= k <= n <= {MAX_OFFICERS}, got k={k} n={n}")
    if not isinstance(tender_id, str) or not tender_id:
        raise CustodyError("malformed", "tender_id must be a non-empty string")
    opening_public = (
        x25519.X25519PrivateKey.from_private_bytes(bytes(private)).public_key().public_bytes_raw()
    )
    recipients: list[tuple[str, x25519.X25519PublicKey]] = []
    for officer_id in sorted(officers):
        if not isinstance(officer_id, str) or not officer_id:
            raise CustodyError("malformed", "officer ids must be non-empty strings")
        recipients.append((officer_id, _x25519_public(officers[officer_id], officer_id)))
    first = Shamir.split(k, n, bytes(private[:_HALF]))
    second = Shamir.split(k, n, bytes(private[_HALF:]))
    signer_public = ceremony_signer.public_key().public_bytes_raw()
    shares: list[EncryptedShare] = []
    for (officer_id, officer_key), (x1, y1), (x2, y2) in zip(
        recipients, first, second, strict=True
    ):
        assert x1 == x2  # pycryptodome numbers shares 1..n in both splits
        value = y1 + y2
        ciphertext = _SUITE.encrypt(
            value, officer_key, info=share_info(tender_id, officer_id, x1, opening_public)
        )
        digest = share_digest(tender_id, officer_id, x1, value)
        signed = _signed_bytes(
            tender_id,
            officer_id,
            x1,
            k,
            n,
            opening_public,
            digest,
            hashlib.sha256(ciphertext).digest(),
        )
        shares.append(
            EncryptedShare(
                tender_id=tender_id,
                officer_id=officer_id,
                index=x1,
                k=k,
                n=n,
                opening_public=opening_public,
                value_digest=digest,
                ciphertext=ciphertext,
                signer_public=signer_public,
                signature=ceremony_signer.sign(signed),
            )
        )
    return shares


def decrypt_share(
    share: EncryptedShare,
    officer_private: bytes | bytearray,
    *,
    ceremony_public: bytes,
    tender_id: str,
) -> Share:
    """The officer's side of the opening: check and decrypt their share; O(1).

    Verifies the ceremony signature against ``ceremony_public`` (the published ceremony
    key, raw Ed25519) and that the share belongs to ``tender_id`` (``forged_share``),
    then decrypts with the officer's raw X25519 private key (``decrypt_failed`` if the
    share was sealed to someone else or altered).
    """
    _check_signature(share.signed_bytes(), share.signature, ceremony_public)
    if share.tender_id != tender_id:
        raise CustodyError("forged_share", f"the share is for tender {share.tender_id!r}")
    if not isinstance(officer_private, bytes | bytearray) or len(officer_private) != _KEY:
        raise CustodyError("bad_key", "the officer key must be 32 raw bytes")
    key = x25519.X25519PrivateKey.from_private_bytes(bytes(officer_private))
    try:
        value = _SUITE.decrypt(
            share.ciphertext,
            key,
            info=share_info(share.tender_id, share.officer_id, share.index, share.opening_public),
        )
    except InvalidTag:
        raise CustodyError("decrypt_failed", "the share does not open with this key") from None
    if share_digest(share.tender_id, share.officer_id, share.index, value) != share.value_digest:
        raise CustodyError("forged_share", "the share value does not match its signed digest")
    return Share(
        tender_id=share.tender_id,
        officer_id=share.officer_id,
        index=share.index,
        k=share.k,
        n=share.n,
        opening_public=share.opening_public,
        value_digest=share.value_digest,
        ciphertext_digest=hashlib.sha256(share.ciphertext).digest(),
        signature=share.signature,
        value=value,
    )


def verify_share(share: Share, *, ceremony_public: bytes, tender_id: str) -> None:
    """Check a submitted :class:`Share` before combining; O(1).

    Raises ``CustodyError("forged_share")`` unless the ceremony signature over its record
    verifies with ``ceremony_public``, it belongs to ``tender_id``, and its value matches
    the signed digest; ``malformed`` for a value of the wrong length.
    """
    if not isinstance(share.value, bytes) or len(share.value) != _KEY:
        raise CustodyError("malformed", "a share value is 32 bytes")
    _check_signature(share.signed_bytes(), share.signature, ceremony_public)
    if share.tender_id != tender_id:
        raise CustodyError("forged_share", f"the share is for tender {share.tender_id!r}")
    if share_digest(share.tender_id, share.officer_id, share.index, share.value) != (
        share.value_digest
    ):
        raise CustodyError("forged_share", "the share value does not match its signed digest")


def combine(
    shares: Sequence[Share],
    k: int,
    expected_public: bytes,
    *,
    ceremony_public: bytes | None = None,
    tender_id: str | None = None,
) -> bytearray:
    """Rebuild the opening key from at least ``k`` shares; O(k^2) field operations.

    With ``ceremony_public`` and ``tender_id`` given, each share is first checked with
    :func:`verify_share` (do so unless the shares were verified on receipt). Then:
    ``duplicate_share`` if two shares have one index or one officer; ``forged_share`` if
    a share names another opening key or threshold; ``too_few_shares`` below ``k``; the
    first ``k`` shares by index are interpolated, and ``forged_share`` is raised if the
    result is not the private key of ``expected_public`` (the final, unconditional check).

    Returns the key in a ``bytearray``: :func:`wipe` it when done.
    """
    if ceremony_public is not None or tender_id is not None:
        if ceremony_public is None or tender_id is None:
            raise CustodyError("malformed", "give both ceremony_public and tender_id, or neither")
        for share in shares:
            verify_share(share, ceremony_public=ceremony_public, tender_id=tender_id)
    indices: set[int] = set()
    officer_ids: set[str] = set()
    for share in shares:
        if share.index in indices or share.officer_id in officer_ids:
            raise CustodyError(
                "duplicate_share",
                f"two shares from officer {share.officer_id!r} or index {share.index}",
            )
        indices.add(share.index)
        officer_ids.add(share.officer_id)
        if share.opening_public != expected_public or share.k != k:
            raise CustodyError("forged_share", "a share belongs to another key or threshold")
        if len(share.value) != _KEY or not 1 <= share.index <= MAX_OFFICERS:
            raise CustodyError("malformed", "a share value is 32 bytes, its index 1..255")
    if len(shares) < k:
        raise CustodyError("too_few_shares", f"{len(shares)} shares, {k} needed")
    chosen = sorted(shares, key=lambda share: share.index)[:k]
    key = bytearray(_KEY)
    key[:_HALF] = Shamir.combine([(s.index, s.value[:_HALF]) for s in chosen])
    key[_HALF:] = Shamir.combine([(s.index, s.value[_HALF:]) for s in chosen])
    public = x25519.X25519PrivateKey.from_private_bytes(bytes(key)).public_key().public_bytes_raw()
    if public != expected_public:
        wipe(key)
        raise CustodyError("forged_share", "the shares do not rebuild the opening key")
    return key


def wipe(secret: bytearray) -> None:
    """Overwrite ``secret`` with zeros in place (best effort; see the module docstring)."""
    secret[:] = bytes(len(secret))


# ---------------------------------------------------------------------------- helpers


def _signed_bytes(
    tender_id: str,
    officer_id: str,
    index: int,
    k: int,
    n: int,
    opening_public: bytes,
    value_digest: bytes,
    ciphertext_digest: bytes,
) -> bytes:
    return b"".join(
        (
            _SHARE_SIGNED_LABEL,
            _field(tender_id),
            _field(officer_id),
            struct.pack(">HHH", index, k, n),
            opening_public,
            value_digest,
            ciphertext_digest,
        )
    )


def _check_signature(signed: bytes, signature: bytes, ceremony_public: bytes) -> None:
    try:
        key = ed25519.Ed25519PublicKey.from_public_bytes(ceremony_public)
    except ValueError:
        raise CustodyError("bad_key", "the ceremony key must be 32 raw bytes") from None
    try:
        key.verify(signature, signed)
    except InvalidSignature:
        raise CustodyError("forged_share", "the ceremony signature does not verify") from None


def _field(text: str) -> bytes:
    encoded = text.encode("utf-8")
    if len(encoded) > 0xFFFF:
        raise CustodyError("malformed", "identifier too long")
    return struct.pack(">H", len(encoded)) + encoded


def _x25519_public(raw: bytes, officer_id: str) -> x25519.X25519PublicKey:
    if not isinstance(raw, bytes) or len(raw) != _KEY:
        raise CustodyError("bad_key", f"officer {officer_id!r}: public key must be 32 raw bytes")
    return x25519.X25519PublicKey.from_public_bytes(raw)


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError:
        raise CustodyError("malformed", f"{what} is not JSON") from None
    if not isinstance(body, dict):
        raise CustodyError("malformed", f"{what} is not a JSON object")
    return body


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise CustodyError("malformed", f"{name} must be a non-empty string")
    return value


def _int(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if type(value) is not int or not 0 < value <= MAX_OFFICERS:
        raise CustodyError("malformed", f"{name} must be an integer in 1..{MAX_OFFICERS}")
    return value


def _hex(body: Mapping[str, Any], name: str, length: int) -> bytes:
    value = body.get(name)
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else None
    except ValueError:
        raw = None
    if raw is None or len(raw) != length:
        raise CustodyError("malformed", f"{name} must be {length} bytes in hex")
    return raw
