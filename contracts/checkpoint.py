"""Signed checkpoints: a log's size and root hash, signed, as C2SP tlog-checkpoint text.

A checkpoint is a C2SP *signed note* whose body is three lines (and optional extension
lines), each ending in ``\\n``::

    gavel/auction/A-1                      <- origin: names the log, never reused
    42                                     <- tree size, ASCII decimal, no leading zero
    ZGVhZGJlZWY...=                        <- base64 (standard, padded) of the 32-byte root
                                           <- a blank line ends the body
    — gavel-audit AbCdEf...==              <- one signature line per signer

A signature line is ``U+2014 EM DASH``, a space, the key name, a space and
``base64(key id || signature)``. For Ed25519 (signature type ``0x01``) the key id is the
first four bytes of ``SHA-256(key name || 0x0A || 0x01 || public key)`` and the signature
is Ed25519 over the body bytes, final newline included, blank line excluded. A verifier
key is published as ``name+hex(key id)+base64(0x01 || public key)``
(:func:`verifier_key`).

A holder of a checkpoint holds evidence: the operator cannot later show a log of that
size with another root, nor a longer log that does not extend it (a consistency proof
from :mod:`contracts.transparency` would fail), without the contradiction being visible.

Errors, one tree::

    CheckpointError (ValueError)
    ├── MalformedCheckpoint   the text is not a well-formed signed checkpoint
    ├── UnknownKey            no signature line by the expected key (name and key id)
    └── BadSignature          the expected key's signature does not verify

Every function is O(size of the text).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from contracts.transparency import HASH_SIZE

__all__ = [
    "ED25519",
    "BadSignature",
    "Checkpoint",
    "CheckpointError",
    "MalformedCheckpoint",
    "UnknownKey",
    "checkpoint_body",
    "key_id",
    "log_origin",
    "parse_and_verify",
    "parse_origin",
    "parse_verifier_key",
    "public_key_bytes",
    "sign_checkpoint",
    "verifier_key",
]

#: The C2SP signed-note signature type byte of Ed25519.
ED25519 = b"\x01"
_DASH = "\u2014 "
_MAX_NOTE = 1 << 20
_MAX_SIGNATURES = 100
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


class CheckpointError(ValueError):
    """Root of the checkpoint errors; ``str(error)`` says why."""


class MalformedCheckpoint(CheckpointError):
    """The text is not a well-formed signed checkpoint."""


class UnknownKey(CheckpointError):
    """The checkpoint carries no signature by the expected key."""


class BadSignature(CheckpointError):
    """The expected key's signature over the checkpoint does not verify."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A verified checkpoint: the log ``origin`` had ``size`` leaves with hash ``root``."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def log_origin(kind: str, stream_id: str, prefix: str = "gavel") -> str:
    """The origin line of a stream's log: ``"<prefix>/<kind>/<stream id>"``."""
    return f"{prefix}/{kind}/{stream_id}"


def parse_origin(origin: str) -> tuple[str, str, str]:
    """``(prefix, kind, stream id)`` of an origin line :func:`log_origin` wrote;
    :class:`MalformedCheckpoint` unless all three are non-empty. O(len(origin)).

    The last two ``/`` split it: a stream id never holds one (ids are letters, digits,
    ``-``, ``_`` and ``.``), a kind neither, while a prefix may (``example.org/gavel``).
    So one origin names exactly one stream, which is what binds a bundle's stream to
    its signed checkpoints.
    """
    parts = origin.rsplit("/", 2)
    if len(parts) != 3 or not all(parts):
        raise MalformedCheckpoint(f"the origin {origin!r} is not PREFIX/KIND/ID")
    prefix, kind, stream_id = parts
    return prefix, kind, stream_id


def public_key_bytes(public_key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key."""
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte C2SP key id: ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``."""
    _check_name(name)
    data = name.encode() + b"\n" + ED25519 + public_key_bytes(public_key)
    return hashlib.sha256(data).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The published verifier key: ``name+hex(key id)+base64(0x01 || public key)``."""
    raw = base64.b64encode(ED25519 + public_key_bytes(public_key)).decode()
    return f"{name}+{key_id(name, public_key).hex()}+{raw}"


def parse_verifier_key(text: str) -> tuple[str, Ed25519PublicKey]:
    """The key name and public key of a verifier key; :class:`MalformedCheckpoint` if the
    text is not one, or its key id does not match its key."""
    # A name holds no "+", a hex id neither; the base64 key may.
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise MalformedCheckpoint("a verifier key is name+keyid+key")
    name, hex_id, raw = parts
    _check_name(name)
    data = _b64(raw, "verifier key")
    if len(data) != 33 or data[:1] != ED25519:
        raise MalformedCheckpoint("a verifier key must hold an Ed25519 (type 0x01) key")
    public_key = Ed25519PublicKey.from_public_bytes(data[1:])
    if key_id(name, public_key).hex() != hex_id:
        raise MalformedCheckpoint("the verifier key's id does not match its key")
    return name, public_key


def checkpoint_body(origin: str, size: int, root: bytes, extensions: tuple[str, ...] = ()) -> str:
    """The signed body: origin, size and base64 root, then extension lines, each ``\\n``-ended."""
    if not origin or "\n" in origin or origin != origin.strip():
        raise MalformedCheckpoint("the origin must be one non-empty line without edge spaces")
    if type(size) is not int or size < 0:
        raise MalformedCheckpoint("the tree size must be a non-negative integer")
    if len(root) != HASH_SIZE:
        raise MalformedCheckpoint(f"the root hash must be {HASH_SIZE} bytes")
    for line in extensions:
        if not line or "\n" in line:
            raise MalformedCheckpoint("an extension line must be non-empty, one line")
    lines = [origin, str(size), base64.b64encode(root).decode(), *extensions]
    return "".join(line + "\n" for line in lines)


def sign_checkpoint(
    origin: str,
    size: int,
    root: bytes,
    key_name: str,
    private_key: Ed25519PrivateKey,
    extensions: tuple[str, ...] = (),
) -> str:
    """The signed checkpoint text of ``(origin, size, root)`` under ``key_name``."""
    body = checkpoint_body(origin, size, root, extensions)
    signature = private_key.sign(body.encode())
    hint = key_id(key_name, private_key.public_key())
    line = f"{_DASH}{key_name} {base64.b64encode(hint + signature).decode()}\n"
    return body + "\n" + line


def parse_and_verify(text: str, key_name: str, public_key: Ed25519PublicKey) -> Checkpoint:
    """The checkpoint in ``text`` once ``key_name``'s signature over it verifies.

    Signature lines of other keys are ignored (they may be witnesses). The first line
    whose name and key id match the expected key decides: it must verify. Raises
    :class:`MalformedCheckpoint`, :class:`UnknownKey` or :class:`BadSignature`.
    """
    if len(text) > _MAX_NOTE:
        raise MalformedCheckpoint("the checkpoint is too large")
    if not text.endswith("\n"):
        raise MalformedCheckpoint("a signed note ends with a newline")
    split = text.rfind("\n\n")
    if split < 0:
        raise MalformedCheckpoint("no blank line between the body and the signatures")
    body, signatures = text[: split + 1], text[split + 2 :]
    checkpoint = _parse_body(body)
    wanted = key_id(key_name, public_key)
    lines = signatures.split("\n")[:-1]
    if not lines:
        raise MalformedCheckpoint("no signature line")
    if len(lines) > _MAX_SIGNATURES:
        raise MalformedCheckpoint("too many signature lines")
    for number, line in enumerate(lines, 1):
        if not line.startswith(_DASH):
            raise MalformedCheckpoint(f"signature line {number} does not start with an em dash")
        name, space, encoded = line[len(_DASH) :].partition(" ")
        if not space or not name or " " in encoded:
            raise MalformedCheckpoint(f"signature line {number} is not '— name signature'")
        data = _b64(encoded, f"signature line {number}")
        if len(data) < 5:
            raise MalformedCheckpoint(f"signature line {number} is too short")
        if name != key_name or data[:4] != wanted:
            continue
        try:
            public_key.verify(data[4:], body.encode())
        except InvalidSignature:
            raise BadSignature(f"the signature of {key_name!r} does not verify") from None
        return checkpoint
    raise UnknownKey(f"no signature by {key_name!r} with key id {wanted.hex()}")


def _parse_body(body: str) -> Checkpoint:
    lines = body.split("\n")[:-1]
    if len(lines) < 3:
        raise MalformedCheckpoint("a checkpoint body has origin, size and root lines")
    origin, size, root, *extensions = lines
    if not origin:
        raise MalformedCheckpoint("the origin line is empty")
    if not _SIZE.fullmatch(size):
        raise MalformedCheckpoint(f"the tree size {size!r} is not a canonical decimal")
    digest = _b64(root, "the root hash")
    if len(digest) != HASH_SIZE:
        raise MalformedCheckpoint(f"the root hash is not {HASH_SIZE} bytes")
    if any(not line for line in extensions):
        raise MalformedCheckpoint("an empty extension line")
    return Checkpoint(origin, int(size), digest, tuple(extensions))


def _b64(text: str, what: str) -> bytes:
    if not _B64.fullmatch(text) or len(text) % 4:
        raise MalformedCheckpoint(f"{what} is not standard base64")
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error:  # pragma: no cover - the pattern and length rule it out
        raise MalformedCheckpoint(f"{what} is not standard base64") from None
    if base64.b64encode(data).decode() != text:
        raise MalformedCheckpoint(f"{what} is not canonical base64")
    return data


def _check_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise MalformedCheckpoint("a key name is non-empty, without spaces or '+'")
