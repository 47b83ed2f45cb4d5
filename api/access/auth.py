"""Short-lived signed tokens: who is asking, in which role, for which auction.

A token is ``base64url(claims).base64url(signature)`` (no padding). The claims are the
canonical JSON (sorted keys, no white space) of::

    {"auction": "a-1" | null, "exp": 1700000900, "iat": 1700000000,
     "jti": "…", "role": "bidder", "sub": "party-7"}

``iat`` and ``exp`` are whole seconds since the Unix epoch; ``auction`` ``null`` means
"any auction" and only an officer's or an auditor's token may carry it. The signature
is Ed25519 over ``b"gavel-token-v1." + <claims segment>``: the prefix separates tokens
from anything else the same key might ever sign, and signing the segment as received
(not re-encoded claims) means the bytes checked are the bytes sent.

Why Ed25519 and not HMAC-SHA256: verification needs only the *public* key. An auditor
can check offline that a token in the log was really issued by this server, and any
process that only verifies (a websocket gateway, a read replica) never holds a key that
could mint tokens; with HMAC every verifier could also forge. The private key never
leaves the server. Cost is no concern at this scale: measured here (2 cores), issuing
takes about 60 µs and a full :func:`verify` about 200 µs, once per HTTP request or per
websocket handshake (bids on an open socket are not re-verified), against the
milliseconds of a committed bid.

Call order, per request: ``bearer_token(header)`` (or :func:`handshake_token` at a
websocket upgrade) → :func:`verify` → :func:`require` with what the route needs (the
app's routes take that from their rule in :mod:`api.access.rules`, which also says who may
mint which token).
Revocation (the ``tokens`` table) is the app's check after :func:`verify`, by ``jti``.
No function here reads a clock: the caller passes ``now_s``, as the engine takes time
inside commands. All checks are O(token length).

Where a websocket client puts its token: browsers cannot set headers on a websocket
(``new WebSocket(url, protocols)`` takes only a URL and subprotocols), so at the
handshake a browser offers two subprotocols, :data:`WS_SUBPROTOCOL` and
:data:`WS_TOKEN_PREFIX` followed by the token; the server selects ``gavel.v1`` and never
echoes the token. Other clients may send ``Authorization: Bearer`` instead. The query
string (``?token=``) is *not* accepted: URLs end up in access logs, proxy logs and
browser history, where a bearer token must never be. Base64url characters and ``.`` are
all valid in a subprotocol token (RFC 6455 §4.1, RFC 9110 §5.6.2).

The exceptions of this module (part of the tree in :mod:`api.access.errors`)::

    AuthError
    ├── AccessDenied (also api.access.errors.Refused)   a request is refused; .reason
    │   ├── Unauthenticated                 401: no valid token, WWW-Authenticate sent
    │   │   ├── TokenMissing                token_missing
    │   │   ├── TokenMalformed              token_malformed
    │   │   ├── TokenBadSignature           token_bad_signature
    │   │   ├── TokenExpired                token_expired
    │   │   ├── TokenNotYetValid            token_not_yet_valid
    │   │   └── TokenRevoked                token_revoked (the app's check, by jti)
    │   └── Forbidden                       403: a valid token that may not do this
    │       ├── RoleForbidden               role_forbidden
    │       ├── WrongAuction                wrong_auction
    │       └── WrongParty                  wrong_party
    ├── SigningKeyError                     the configured key cannot be used
    └── AuthMisuse (also AssertionError)    the caller broke the calling contract
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from api.access.errors import AccessError, Refused
from contracts.codes import Code

__all__ = [
    "DEFAULT_LEEWAY_S",
    "TOKEN_REVOKED",
    "MAX_TOKEN_CHARS",
    "OVERSEERS",
    "SIGNING_KEY_ENV",
    "WS_SUBPROTOCOL",
    "WS_TOKEN_PREFIX",
    "AccessDenied",
    "AuthError",
    "AuthMisuse",
    "Claims",
    "Forbidden",
    "Role",
    "RoleForbidden",
    "SigningKeyError",
    "TokenBadSignature",
    "TokenExpired",
    "TokenMalformed",
    "TokenMissing",
    "TokenNotYetValid",
    "TokenRevoked",
    "Unauthenticated",
    "WrongAuction",
    "WrongParty",
    "bearer_token",
    "handshake_token",
    "issue",
    "load_or_create_signing_key",
    "load_public_key",
    "new_jti",
    "public_key_pem",
    "require",
    "signing_key_from_env",
    "verify",
]

#: Clock skew tolerated by :func:`verify` by default, in seconds. Tokens live minutes
#: and the verifier is usually the issuer; an offline auditor may pass more.
DEFAULT_LEEWAY_S = 5

#: Longest token :func:`verify` looks at; real ones are about 250 characters.
MAX_TOKEN_CHARS = 2048

#: The subprotocol a websocket client offers and the server selects.
WS_SUBPROTOCOL = "gavel.v1"

#: A browser offers ``WS_TOKEN_PREFIX + token`` as a second subprotocol.
WS_TOKEN_PREFIX = "gavel.bearer."

#: The problem code of a revoked token (answered 401 like the other token_* codes).
TOKEN_REVOKED = Code.TOKEN_REVOKED.value

#: Environment variable :func:`signing_key_from_env` reads.
SIGNING_KEY_ENV = "GAVEL_SIGNING_KEY"

# Domain separation: what the key signs is never just the claims.
_SIGNING_CONTEXT = b"gavel-token-v1."
_B64URL = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)
_CLAIM_NAMES = frozenset({"sub", "role", "auction", "iat", "exp", "jti"})
# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_BEARER = re.compile(r"Bearer +([A-Za-z0-9._~+/-]+=*) *", re.ASCII | re.IGNORECASE)
_REALM = 'Bearer realm="gavel"'


class Role(StrEnum):
    """What a token's holder may do; the value is the wire form (and the DB's)."""

    OFFICER = "officer"
    BIDDER = "bidder"
    AUDITOR = "auditor"
    OBSERVER = "observer"


#: Roles that oversee every party and, with ``auction`` null, every auction.
OVERSEERS = frozenset({Role.OFFICER, Role.AUDITOR})

_ROLES = frozenset(Role)


@dataclass(frozen=True, slots=True)
class Claims:
    """The verified content of a token. ``auction`` is ``None`` for "any auction"."""

    sub: str
    role: Role
    auction: str | None
    iat: int
    exp: int
    jti: str


# ------------------------------------------------------------------------------ errors


class AuthError(AccessError):
    """Root of every exception this module raises."""


class AccessDenied(AuthError, Refused):
    """A request is refused. ``reason`` (also ``code``) is the machine-readable code; the
    ``WWW-Authenticate`` challenge is in ``headers`` (a :class:`~api.access.errors.Refused`,
    which :mod:`api.http` answers as the problem its code names)."""

    reason: ClassVar[Code]

    def __init__(self, detail: str) -> None:
        super().__init__(self.reason, detail, headers={"WWW-Authenticate": self._challenge()})

    def _challenge(self) -> str:
        raise NotImplementedError


class Unauthenticated(AccessDenied):
    """401: no valid token. Carries ``WWW-Authenticate`` (RFC 6750 §3)."""

    def _challenge(self) -> str:
        # No error attribute when the request carried no credentials at all (§3.1).
        if self.reason is Code.TOKEN_MISSING:
            return _REALM
        return f'{_REALM}, error="invalid_token"'


class TokenMissing(Unauthenticated):
    """No token in the request."""

    reason = Code.TOKEN_MISSING


class TokenMalformed(Unauthenticated):
    """Not a token of this format, or claims that do not parse."""

    reason = Code.TOKEN_MALFORMED


class TokenBadSignature(Unauthenticated):
    """The signature does not match the claims under this public key."""

    reason = Code.TOKEN_BAD_SIGNATURE


class TokenExpired(Unauthenticated):
    """``now_s`` is at or past ``exp`` (plus the leeway)."""

    reason = Code.TOKEN_EXPIRED


class TokenNotYetValid(Unauthenticated):
    """``now_s`` is before ``iat`` (minus the leeway)."""

    reason = Code.TOKEN_NOT_YET_VALID


class TokenRevoked(Unauthenticated):
    """The token was revoked before it expired (the ``tokens`` table, checked by jti)."""

    reason = Code.TOKEN_REVOKED


class Forbidden(AccessDenied):
    """403: a valid token whose holder may not do this."""

    def _challenge(self) -> str:
        return f'{_REALM}, error="insufficient_scope"'


class RoleForbidden(Forbidden):
    """The token's role is not one the route allows."""

    reason = Code.ROLE_FORBIDDEN


class WrongAuction(Forbidden):
    """The token is bound to another auction."""

    reason = Code.WRONG_AUCTION


class WrongParty(Forbidden):
    """A party tried to act as, or read the private data of, another party."""

    reason = Code.WRONG_PARTY


class SigningKeyError(AuthError):
    """The configured signing key is missing, unreadable, of the wrong type, or stored
    with permissions others can read."""


class AuthMisuse(AuthError, AssertionError):
    """The caller broke the calling contract (an empty ``sub``, a ``ttl_s`` <= 0, …)."""


# ------------------------------------------------------------------------------ tokens


def new_jti() -> str:
    """A fresh random token id: 128 bits, base64url, never beginning with ``-``.

    A leading ``-`` would make ``gavel officer revoke JTI`` read the id as an option (1 in
    64 ids did); such a draw is thrown away and another taken. Pass it to :func:`issue`.
    """
    while (jti := secrets.token_urlsafe(16)).startswith("-"):
        pass
    return jti


def issue(
    key: Ed25519PrivateKey,
    *,
    sub: str,
    role: Role,
    auction: str | None,
    ttl_s: int,
    now_s: int,
    jti: str,
) -> str:
    """Sign a token for ``sub`` acting as ``role``, valid from ``now_s`` for ``ttl_s`` s.

    ``auction`` ``None`` (any auction) is allowed for :data:`OVERSEERS` only. Raises
    :class:`AuthMisuse` for empty ids, a non-positive ``ttl_s`` or a non-overseer
    without an auction. O(1).
    """
    if not sub or not jti or auction == "":
        raise AuthMisuse("sub, jti and auction must be non-empty strings")
    if type(ttl_s) is not int or ttl_s <= 0 or type(now_s) is not int:
        raise AuthMisuse("ttl_s must be a positive int and now_s an int")
    if role not in _ROLES:
        raise AuthMisuse(f"unknown role {role!r}")
    role = Role(role)
    if auction is None and role not in OVERSEERS:
        raise AuthMisuse(f"a {role} token must name its auction")
    claims = {
        "auction": auction,
        "exp": now_s + ttl_s,
        "iat": now_s,
        "jti": jti,
        "role": role.value,
        "sub": sub,
    }
    segment = _b64encode(_canonical(claims))
    signature = key.sign(_SIGNING_CONTEXT + segment.encode("ascii"))
    return f"{segment}.{_b64encode(signature)}"


def verify(
    public_key: Ed25519PublicKey,
    token: str | None,
    *,
    now_s: float,
    leeway_s: float = DEFAULT_LEEWAY_S,
) -> Claims:
    """The claims of ``token`` if it is well formed, signed by ``public_key`` and
    current at ``now_s``; else the matching :class:`Unauthenticated` error.

    Checks, in order: present (``token_missing``), shape and base64url
    (``token_malformed``), signature (``token_bad_signature``: before the claims are
    even parsed, so unsigned input never reaches the JSON parser), claims
    (``token_malformed``), ``now_s >= exp + leeway_s`` (``token_expired``), ``now_s <
    iat - leeway_s`` (``token_not_yet_valid``). O(token length).
    """
    if not token:
        raise TokenMissing("no token was sent")
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenMalformed("the token is too long")
    segment, dot, encoded_signature = token.partition(".")
    if not dot:
        raise TokenMalformed("a token has two dot-separated parts")
    payload = _b64decode(segment)
    signature = _b64decode(encoded_signature)
    if len(signature) != 64:
        raise TokenMalformed("an Ed25519 signature is 64 bytes")
    try:
        public_key.verify(signature, _SIGNING_CONTEXT + segment.encode("ascii"))
    except InvalidSignature:
        raise TokenBadSignature("the token's signature does not verify") from None
    claims = _claims(payload)
    if now_s >= claims.exp + leeway_s:
        raise TokenExpired(f"the token expired at {claims.exp}")
    if now_s < claims.iat - leeway_s:
        raise TokenNotYetValid(f"the token is valid from {claims.iat}")
    return claims


def require(
    claims: Claims,
    *,
    roles: Collection[Role] | None = None,
    auction_id: str | None = None,
    party_id: str | None = None,
) -> Claims:
    """Check that ``claims`` may act here; return them (for chaining) or raise.

    * ``roles``: the roles the route allows (``role_forbidden`` otherwise);
    * ``auction_id``: the auction the request is about; a token bound to another
      auction gets ``wrong_auction`` (a token with ``auction`` null passes);
    * ``party_id``: the party whose data or identity is at stake (the bidder in
      ``/auctions/{a}/bidders/{b}/standing``, the bidder a bid is placed for). A holder
      in :data:`OVERSEERS` passes; anyone else must be that party (``wrong_party``).

    Checks run in that order. O(len(roles)).
    """
    if roles is not None and claims.role not in roles:
        allowed = ", ".join(sorted(roles))
        article = "an" if claims.role.value[0] in "aeiou" else "a"
        raise RoleForbidden(f"{article} {claims.role} may not do this; allowed: {allowed}")
    if auction_id is not None and claims.auction is not None and claims.auction != auction_id:
        raise WrongAuction(f"the token is for auction {claims.auction!r}, not {auction_id!r}")
    if party_id is not None and claims.role not in OVERSEERS and claims.sub != party_id:
        raise WrongParty("a party may act only as itself")
    return claims


# ------------------------------------------------------------------------ transports


def bearer_token(header_value: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value (RFC 6750 §2.1).

    The scheme is case-insensitive (RFC 9110 §11.1). No header, or an empty one, is
    ``token_missing``; another scheme or a value that is not a b64token is
    ``token_malformed``. O(len(header_value)).

    >>> bearer_token("bearer eyJhdWN0aW9uIjpudWxsfQ.c2ln")
    'eyJhdWN0aW9uIjpudWxsfQ.c2ln'
    """
    if header_value is None or not header_value.strip():
        raise TokenMissing("no Authorization header")
    match = _BEARER.fullmatch(header_value.strip())
    if match is None:
        raise TokenMalformed("expected 'Authorization: Bearer <token>'")
    return match[1]


def handshake_token(authorization: str | None, subprotocols: str | None) -> str:
    """The token of a websocket upgrade request: from ``Authorization`` (non-browser
    clients) or from the ``Sec-WebSocket-Protocol`` header value (browsers, as
    ``gavel.bearer.<token>``; see the module docstring for why not ``?token=``).

    Both at once is ``token_malformed``: RFC 6750 §2 lets a client use one method per
    request, so two tokens that might disagree are never reconciled. Neither is
    ``token_missing``. O(header lengths).
    """
    offered = [p.strip() for p in (subprotocols or "").split(",")]
    carried = [p[len(WS_TOKEN_PREFIX) :] for p in offered if p.startswith(WS_TOKEN_PREFIX)]
    if len(carried) > 1:
        raise TokenMalformed("more than one token subprotocol")
    if authorization is not None and authorization.strip():
        if carried:
            raise TokenMalformed("a token in both Authorization and Sec-WebSocket-Protocol")
        return bearer_token(authorization)
    if not carried or not carried[0]:
        raise TokenMissing(
            f"send 'Authorization: Bearer <token>' or the subprotocol {WS_TOKEN_PREFIX}<token>"
        )
    return carried[0]


# ------------------------------------------------------------------------------ keys


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The PKCS#8 PEM private key at ``path``, created (mode 0600) if absent.

    For ``make run``: the key lives under the data directory and survives restarts, so
    tokens printed at start-up stay valid. Creation is atomic and never clobbers:
    the PEM is written and fsynced to a private temporary file, then hard-linked to
    ``path`` (``link`` fails if ``path`` exists), so two processes starting together
    end up with the same key and nobody ever reads half a file. An existing key that
    group or others may read is refused (:class:`SigningKeyError`), as ``ssh`` does.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(pem)
                file.flush()
                os.fsync(file.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass  # another process won the race: use its key, read below
            else:
                _fsync_directory(path.parent)
        finally:
            temporary.unlink(missing_ok=True)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningKeyError(f"{path} is accessible by group or others; chmod 600 it")
    return _private_key_from_pem(path.read_bytes(), str(path))


def signing_key_from_env(
    environ: Mapping[str, str] | None = None, name: str = SIGNING_KEY_ENV
) -> Ed25519PrivateKey | None:
    """The private key in environment variable ``name``, or ``None`` when unset/empty.

    The value is either a PKCS#8 PEM (``-----BEGIN PRIVATE KEY-----``…; literal ``\\n``
    sequences are accepted for one-line secrets) or the standard or url-safe base64 of
    the raw 32-byte Ed25519 seed. Anything else is :class:`SigningKeyError`.
    """
    value = (os.environ if environ is None else environ).get(name, "").strip()
    if not value:
        return None
    if value.startswith("-----BEGIN"):
        return _private_key_from_pem(value.replace("\\n", "\n").encode(), name)
    try:
        raw = base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
    except binascii.Error:
        raise SigningKeyError(f"{name} is neither a PEM key nor base64") from None
    if len(raw) != 32:
        raise SigningKeyError(f"{name} holds {len(raw)} bytes; an Ed25519 seed is 32")
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The SubjectPublicKeyInfo PEM of ``key``: what an auditor needs to verify tokens."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """The Ed25519 public key of a PEM from :func:`public_key_pem`; else SigningKeyError."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as error:
        raise SigningKeyError(f"not a PEM public key: {error}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"expected an Ed25519 public key, got {type(key).__name__}")
    return key


# ------------------------------------------------------------------------- internals


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    # Strict: the alphabet only, no padding, and canonical (unused trailing bits zero),
    # so exactly one string encodes each token and nothing is silently skipped.
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise TokenMalformed("a token part is not unpadded base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64encode(data) != text:
        raise TokenMalformed("a token part is not canonical base64url")
    return data


def _claims(payload: bytes) -> Claims:
    # Only a payload our key signed gets here, but a key shared with an older or buggy
    # issuer must still not crash the server: every field is checked.
    try:
        data = json.loads(payload)
    except ValueError:
        raise TokenMalformed("the claims are not JSON") from None
    if not isinstance(data, dict) or set(data) != _CLAIM_NAMES:
        raise TokenMalformed(f"the claims must be exactly {sorted(_CLAIM_NAMES)}")
    sub, role, auction = data["sub"], data["role"], data["auction"]
    iat, exp, jti = data["iat"], data["exp"], data["jti"]
    if not (type(sub) is str and sub and type(jti) is str and jti):
        raise TokenMalformed("sub and jti must be non-empty strings")
    if type(iat) is not int or type(exp) is not int or exp <= iat:
        raise TokenMalformed("iat and exp must be integers with exp > iat")
    if type(role) is not str or role not in _ROLES:
        raise TokenMalformed(f"unknown role {role!r}")
    if not ((type(auction) is str and auction) or (auction is None and role in OVERSEERS)):
        raise TokenMalformed("auction must be a non-empty string (or null for overseers)")
    return Claims(sub=sub, role=Role(role), auction=auction, iat=iat, exp=exp, jti=jti)


def _private_key_from_pem(pem: bytes, where: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise SigningKeyError(f"{where}: not an unencrypted PEM private key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{where}: expected an Ed25519 key, got {type(key).__name__}")
    return key


def _fsync_directory(directory: Path) -> None:
    # The new name is durable only once the directory entry is: a crash right after
    # start-up must not lose the key that signed the tokens just printed.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
