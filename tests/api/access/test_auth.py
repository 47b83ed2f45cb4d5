"""Signed tokens, authorization checks, token transports and key management."""

from __future__ import annotations

import base64
import contextlib
import doctest
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

import api.access.auth
from api.access.auth import (
    DEFAULT_LEEWAY_S,
    MAX_TOKEN_CHARS,
    SIGNING_KEY_ENV,
    WS_SUBPROTOCOL,
    WS_TOKEN_PREFIX,
    AccessDenied,
    AuthError,
    AuthMisuse,
    Claims,
    Forbidden,
    Role,
    RoleForbidden,
    SigningKeyError,
    TokenBadSignature,
    TokenExpired,
    TokenMalformed,
    TokenMissing,
    TokenNotYetValid,
    Unauthenticated,
    WrongAuction,
    WrongParty,
    bearer_token,
    handshake_token,
    issue,
    load_or_create_signing_key,
    load_public_key,
    new_jti,
    public_key_pem,
    require,
    signing_key_from_env,
    verify,
)
from api.access.errors import AccessError, Refused
from api.http.errors import problem_for
from api.http.problems import to_response

NOW = 1_700_000_000
TTL = 900
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC = KEY.public_key()


def token(
    *,
    sub: str = "bidder-1",
    role: Role = Role.BIDDER,
    auction: str | None = "auction-A",
    ttl_s: int = TTL,
    now_s: int = NOW,
    jti: str = "jti-1",
    key: Ed25519PrivateKey = KEY,
) -> str:
    return issue(key, sub=sub, role=role, auction=auction, ttl_s=ttl_s, now_s=now_s, jti=jti)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(payload: bytes, key: Ed25519PrivateKey = KEY) -> str:
    """A token over arbitrary claims bytes, signed exactly as the format says."""
    segment = b64(payload)
    return f"{segment}.{b64(key.sign(b'gavel-token-v1.' + segment.encode()))}"


def claims_json(**changes: Any) -> bytes:
    claims = {
        "auction": "auction-A",
        "exp": NOW + TTL,
        "iat": NOW,
        "jti": "j",
        "role": "bidder",
        "sub": "bidder-1",
    }
    claims.update(changes)
    return json.dumps({k: v for k, v in claims.items() if v is not ...}).encode()


def test_doctests() -> None:
    assert doctest.testmod(api.access.auth).attempted > 0
    assert doctest.testmod(api.access.auth).failed == 0


# ------------------------------------------------------------------------- round trip


def test_round_trip() -> None:
    t = token()
    claims = verify(PUBLIC, t, now_s=NOW + 1)
    assert claims == Claims("bidder-1", Role.BIDDER, "auction-A", NOW, NOW + TTL, "jti-1")
    assert isinstance(claims.role, Role)


def test_format_is_two_unpadded_base64url_parts_of_canonical_claims() -> None:
    t = token(role=Role.OFFICER, auction=None)
    segment, signature = t.split(".")
    assert "=" not in t
    assert base64.urlsafe_b64decode(segment + "==") == (
        b'{"auction":null,"exp":1700000900,"iat":1700000000,"jti":"jti-1",'
        b'"role":"officer","sub":"bidder-1"}'
    )
    assert len(base64.urlsafe_b64decode(signature + "==")) == 64
    assert token(role=Role.OFFICER, auction=None) == t  # Ed25519 is deterministic
    assert t == signed(base64.urlsafe_b64decode(segment + "=="))


def test_role_may_be_given_as_its_string() -> None:
    t = token(role="auditor", auction=None)  # type: ignore[arg-type]
    assert verify(PUBLIC, t, now_s=NOW).role is Role.AUDITOR


# ---------------------------------------------------------------------- tampering


def test_tampered_claims_fail_the_signature() -> None:
    segment, signature = token().split(".")
    forged = b64(claims_json(sub="bidder-2", jti="jti-1"))
    with pytest.raises(TokenBadSignature) as caught:
        verify(PUBLIC, f"{forged}.{signature}", now_s=NOW)
    assert caught.value.reason == "token_bad_signature"


def test_tampered_signature_fails() -> None:
    segment, signature = token().split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[0] ^= 1
    with pytest.raises(TokenBadSignature):
        verify(PUBLIC, f"{segment}.{b64(bytes(raw))}", now_s=NOW)


def test_wrong_key_fails() -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(TokenBadSignature):
        verify(other.public_key(), token(), now_s=NOW)
    with pytest.raises(TokenBadSignature):
        verify(PUBLIC, token(key=other), now_s=NOW)


def test_signature_of_the_bare_claims_is_not_accepted() -> None:
    # Domain separation: a signature over the segment without the context is refused.
    segment = token().split(".")[0]
    bare = b64(KEY.sign(segment.encode()))
    with pytest.raises(TokenBadSignature):
        verify(PUBLIC, f"{segment}.{bare}", now_s=NOW)


# ----------------------------------------------------------------------------- time


def test_expired_by_one_second() -> None:
    t = token()
    exp = NOW + TTL
    assert verify(PUBLIC, t, now_s=exp - 1, leeway_s=0).exp == exp
    with pytest.raises(TokenExpired) as caught:
        verify(PUBLIC, t, now_s=exp, leeway_s=0)
    assert caught.value.reason == "token_expired"
    # With the default leeway, the same: one second past exp + leeway.
    verify(PUBLIC, t, now_s=exp + DEFAULT_LEEWAY_S - 1)
    with pytest.raises(TokenExpired):
        verify(PUBLIC, t, now_s=exp + DEFAULT_LEEWAY_S)


def test_not_yet_valid() -> None:
    t = token()
    verify(PUBLIC, t, now_s=NOW, leeway_s=0)
    verify(PUBLIC, t, now_s=NOW - DEFAULT_LEEWAY_S)
    with pytest.raises(TokenNotYetValid) as caught:
        verify(PUBLIC, t, now_s=NOW - 1, leeway_s=0)
    assert caught.value.reason == "token_not_yet_valid"
    with pytest.raises(TokenNotYetValid):
        verify(PUBLIC, t, now_s=NOW - DEFAULT_LEEWAY_S - 0.5)


# ---------------------------------------------------------------------- malformed


@pytest.mark.parametrize("value", [None, ""])
def test_missing(value: str | None) -> None:
    with pytest.raises(TokenMissing) as caught:
        verify(PUBLIC, value, now_s=NOW)
    assert caught.value.reason == "token_missing"


def _good_parts() -> tuple[str, str]:
    segment, signature = token().split(".")
    return segment, signature


@pytest.mark.parametrize(
    "value",
    [
        "no-dot-at-all",
        _good_parts()[0] + ".",
        "." + _good_parts()[1],
        _good_parts()[0] + "=." + _good_parts()[1],
        _good_parts()[0] + "." + _good_parts()[1] + "==",
        _good_parts()[0] + ".abc" + _good_parts()[1],  # length % 4 == 1
        _good_parts()[0] + ".AAAA" + _good_parts()[1],  # 67-byte signature
        _good_parts()[0] + "." + _good_parts()[1][:-1] + "B",  # non-zero trailing bits
        _good_parts()[0] + "+/" + "." + _good_parts()[1],
        _good_parts()[0] + ".é" + _good_parts()[1],
        ".".join([*_good_parts(), "extra"]),
        "A" * (MAX_TOKEN_CHARS + 1),
    ],
)
def test_malformed_shapes(value: str) -> None:
    with pytest.raises(TokenMalformed) as caught:
        verify(PUBLIC, value, now_s=NOW)
    assert caught.value.reason == "token_malformed"


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"\xff",
        b"[]",
        claims_json(extra=1),
        claims_json(jti=...),
        claims_json(sub=""),
        claims_json(sub=7),
        claims_json(jti=None),
        claims_json(iat=True),
        claims_json(exp=1.5),
        claims_json(exp=NOW),
        claims_json(role="admin"),
        claims_json(role=["bidder"]),
        claims_json(auction=None),
        claims_json(auction=""),
        claims_json(auction=5),
        claims_json(role="observer", auction=None),
    ],
)
def test_malformed_claims_even_when_signed(payload: bytes) -> None:
    with pytest.raises(TokenMalformed):
        verify(PUBLIC, signed(payload), now_s=NOW)


def test_overseers_may_hold_any_auction_tokens() -> None:
    for role in ("officer", "auditor"):
        claims = verify(PUBLIC, signed(claims_json(role=role, auction=None)), now_s=NOW)
        assert claims.auction is None


@given(st.text(max_size=400))
def test_fuzz_only_unauthenticated_escapes(value: str) -> None:
    with contextlib.suppress(Unauthenticated):
        verify(PUBLIC, value, now_s=NOW)


# --------------------------------------------------------------------------- issue


@pytest.mark.parametrize(
    "changes",
    [
        {"sub": ""},
        {"jti": ""},
        {"auction": ""},
        {"ttl_s": 0},
        {"ttl_s": -5},
        {"ttl_s": 1.5},
        {"now_s": 1.5},
        {"role": "admin"},
        {"role": Role.BIDDER, "auction": None},
        {"role": Role.OBSERVER, "auction": None},
    ],
)
def test_issue_refuses_misuse(changes: dict[str, Any]) -> None:
    with pytest.raises(AuthMisuse):
        token(**changes)
    assert issubclass(AuthMisuse, AssertionError)


def test_new_jti_is_random_and_url_safe() -> None:
    ids = {new_jti() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 22 and i.replace("-", "").replace("_", "").isalnum() for i in ids)


def test_new_jti_never_begins_with_a_dash() -> None:
    # A leading "-" made `gavel officer revoke JTI` read the id as an option (1 draw in 64).
    assert not any(new_jti().startswith("-") for _ in range(5000))


# ------------------------------------------------------------------------- require


def claims_for(role: Role, auction: str | None = "auction-A", sub: str = "bidder-1") -> Claims:
    return Claims(sub, role, auction, NOW, NOW + TTL, "j")


def test_bidder_token_for_auction_a_used_for_auction_b() -> None:
    claims = verify(PUBLIC, token(auction="auction-A"), now_s=NOW)
    assert require(claims, roles={Role.BIDDER}, auction_id="auction-A") is claims
    with pytest.raises(WrongAuction) as caught:
        require(claims, roles={Role.BIDDER}, auction_id="auction-B")
    assert caught.value.reason == "wrong_auction"
    assert problem_for(caught.value).status == 403


def test_role_forbidden() -> None:
    with pytest.raises(RoleForbidden) as caught:
        require(claims_for(Role.OBSERVER), roles={Role.BIDDER, Role.OFFICER})
    assert caught.value.reason == "role_forbidden"
    assert "bidder, officer" in caught.value.detail


def test_unbound_overseer_passes_any_auction() -> None:
    officer = claims_for(Role.OFFICER, auction=None, sub="officer-1")
    assert require(officer, roles={Role.OFFICER}, auction_id="auction-Z") is officer
    bound = claims_for(Role.AUDITOR, auction="auction-A", sub="auditor-1")
    with pytest.raises(WrongAuction):
        require(bound, auction_id="auction-Z")


def test_wrong_party() -> None:
    bidder = claims_for(Role.BIDDER, sub="bidder-1")
    assert require(bidder, party_id="bidder-1") is bidder
    with pytest.raises(WrongParty) as caught:
        require(bidder, auction_id="auction-A", party_id="bidder-2")
    assert caught.value.reason == "wrong_party"
    with pytest.raises(WrongParty):
        require(claims_for(Role.OBSERVER, sub="obs-1"), party_id="bidder-2")
    for overseer in (Role.OFFICER, Role.AUDITOR):
        require(claims_for(overseer, sub="x"), party_id="bidder-2")


def test_require_with_nothing_to_check_passes() -> None:
    claims = claims_for(Role.OBSERVER)
    assert require(claims) is claims


def test_checks_run_in_order_role_auction_party() -> None:
    claims = claims_for(Role.BIDDER, sub="bidder-1")
    with pytest.raises(RoleForbidden):
        require(claims, roles={Role.OFFICER}, auction_id="auction-B", party_id="x")
    with pytest.raises(WrongAuction):
        require(claims, roles={Role.BIDDER}, auction_id="auction-B", party_id="x")


# -------------------------------------------------------------------------- errors


def test_error_tree() -> None:
    for leaf in (TokenMissing, TokenMalformed, TokenBadSignature, TokenExpired, TokenNotYetValid):
        assert issubclass(leaf, Unauthenticated)
    for denial in (RoleForbidden, WrongAuction, WrongParty):
        assert issubclass(denial, Forbidden)
    for middle in (Unauthenticated, Forbidden):
        assert issubclass(middle, AccessDenied)
    for branch in (AccessDenied, SigningKeyError, AuthMisuse):
        assert issubclass(branch, AuthError)
    assert issubclass(AccessDenied, Refused) and issubclass(AuthError, AccessError)


def test_errors_are_problems_with_www_authenticate() -> None:
    missing = to_response(problem_for(TokenMissing("none")))
    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="gavel"'
    expired = to_response(problem_for(TokenExpired("old")))
    assert expired.headers["WWW-Authenticate"] == 'Bearer realm="gavel", error="invalid_token"'
    assert expired.body is not None and json.loads(expired.body)["code"] == "token_expired"
    forbidden = to_response(problem_for(WrongParty("no")))
    assert forbidden.status == 403
    assert forbidden.headers["WWW-Authenticate"].endswith('error="insufficient_scope"')


# ---------------------------------------------------------------------- transports


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc.def", "abc.def"),
        ("bearer abc.def", "abc.def"),
        ("BEARER   abc-_~+/.def==  ", "abc-_~+/.def=="),
        ("  Bearer x ", "x"),
    ],
)
def test_bearer_token(header: str, expected: str) -> None:
    assert bearer_token(header) == expected


@pytest.mark.parametrize("header", [None, "", "   "])
def test_bearer_token_missing(header: str | None) -> None:
    with pytest.raises(TokenMissing):
        bearer_token(header)


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwdw==", "Bearer", "Bearer ", "Bearer a b", "Bearerabc", "Bearer a=b"]
)
def test_bearer_token_malformed(header: str) -> None:
    with pytest.raises(TokenMalformed):
        bearer_token(header)


def test_handshake_token_from_subprotocol() -> None:
    t = token()
    offered = f"{WS_SUBPROTOCOL}, {WS_TOKEN_PREFIX}{t}"
    assert handshake_token(None, offered) == t
    assert handshake_token("", offered) == t
    assert verify(PUBLIC, handshake_token(None, offered), now_s=NOW).sub == "bidder-1"


def test_handshake_token_from_authorization() -> None:
    assert handshake_token("Bearer tok", None) == "tok"
    assert handshake_token("Bearer tok", WS_SUBPROTOCOL) == "tok"


@pytest.mark.parametrize(
    ("authorization", "subprotocols", "error"),
    [
        (None, None, TokenMissing),
        (None, WS_SUBPROTOCOL, TokenMissing),
        (None, f"{WS_SUBPROTOCOL}, {WS_TOKEN_PREFIX}", TokenMissing),
        ("Bearer a", f"{WS_TOKEN_PREFIX}b", TokenMalformed),
        (None, f"{WS_TOKEN_PREFIX}a, {WS_TOKEN_PREFIX}b", TokenMalformed),
        ("Basic x", None, TokenMalformed),
    ],
)
def test_handshake_token_refusals(
    authorization: str | None, subprotocols: str | None, error: type[Exception]
) -> None:
    with pytest.raises(error):
        handshake_token(authorization, subprotocols)


def test_tokens_fit_in_a_subprotocol() -> None:
    # RFC 9110 tchar: what a Sec-WebSocket-Protocol element may hold.
    tchar = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert set(WS_TOKEN_PREFIX + token()) <= tchar


# ---------------------------------------------------------------------------- keys


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_load_or_create_creates_a_private_file_once(tmp_path: Path) -> None:
    path = tmp_path / "var" / "keys" / "signing.pem"
    key = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public_bytes(load_or_create_signing_key(path)) == public_bytes(key)
    assert [p.name for p in path.parent.iterdir()] == ["signing.pem"]  # no temporary left
    t = token(key=key)
    assert verify(key.public_key(), t, now_s=NOW).sub == "bidder-1"


def test_load_or_create_loses_a_creation_race_gracefully(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "signing.pem"
    winner = Ed25519PrivateKey.generate()
    real_link = os.link

    def other_process_links_first(src: Any, dst: Any) -> None:
        pem = winner.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
        real_link(src, dst)

    monkeypatch.setattr(os, "link", other_process_links_first)
    assert public_bytes(load_or_create_signing_key(path)) == public_bytes(winner)
    assert [p.name for p in tmp_path.iterdir()] == ["signing.pem"]


def test_load_or_create_refuses_a_readable_key(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    load_or_create_signing_key(path)
    path.chmod(0o640)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        load_or_create_signing_key(path)


def test_load_or_create_refuses_garbage_and_other_key_types(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    path.write_bytes(b"garbage")
    path.chmod(0o600)
    with pytest.raises(SigningKeyError, match="not an unencrypted PEM"):
        load_or_create_signing_key(path)
    path.write_bytes(_ec_private_pem())
    with pytest.raises(SigningKeyError, match="expected an Ed25519 key"):
        load_or_create_signing_key(path)


def _ec_private_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _seed(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize(
    "value",
    [
        _pem(KEY),
        _pem(KEY).replace("\n", "\\n"),
        base64.b64encode(_seed(KEY)).decode(),
        base64.urlsafe_b64encode(_seed(KEY)).decode().rstrip("=") + "=",
        "  " + base64.b64encode(_seed(KEY)).decode() + "\n",
    ],
)
def test_signing_key_from_env(value: str) -> None:
    key = signing_key_from_env({SIGNING_KEY_ENV: value})
    assert key is not None and public_bytes(key) == public_bytes(KEY)


def test_signing_key_from_env_unset_or_empty() -> None:
    assert signing_key_from_env({}) is None
    assert signing_key_from_env({SIGNING_KEY_ENV: "  "}) is None
    assert signing_key_from_env({"OTHER": _pem(KEY)}, name="OTHER") is not None


def test_signing_key_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SIGNING_KEY_ENV, base64.b64encode(_seed(KEY)).decode())
    key = signing_key_from_env()
    assert key is not None and public_bytes(key) == public_bytes(KEY)
    monkeypatch.delenv(SIGNING_KEY_ENV)
    assert signing_key_from_env() is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not base64 at all!", "neither a PEM key nor base64"),
        (base64.b64encode(b"short").decode(), "holds 5 bytes"),
        ("-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----", "not an unencrypted"),
        (_ec_private_pem().decode(), "expected an Ed25519 key"),
    ],
)
def test_signing_key_from_env_refuses(value: str, message: str) -> None:
    with pytest.raises(SigningKeyError, match=message):
        signing_key_from_env({SIGNING_KEY_ENV: value})


def test_public_key_pem_round_trip_for_offline_verification() -> None:
    pem = public_key_pem(KEY)
    assert pem == public_key_pem(PUBLIC)
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    auditor_key = load_public_key(pem)
    assert verify(auditor_key, token(), now_s=NOW).jti == "jti-1"


def test_load_public_key_refuses() -> None:
    with pytest.raises(SigningKeyError, match="not a PEM public key"):
        load_public_key(b"nope")
    ec_public = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(SigningKeyError, match="expected an Ed25519 public key"):
        load_public_key(ec_public)


def test_a_revoked_token_is_a_401_with_its_own_code() -> None:
    from api.access import auth

    error = auth.TokenRevoked("the token was revoked")
    assert isinstance(error, auth.Unauthenticated) and isinstance(error, auth.AccessDenied)
    assert error.reason == auth.TOKEN_REVOKED == "token_revoked"
    assert (problem_for(error).status, problem_for(error).code) == (401, "token_revoked")
    challenge = problem_for(error).headers["WWW-Authenticate"]
    assert challenge == 'Bearer realm="gavel", error="invalid_token"'
