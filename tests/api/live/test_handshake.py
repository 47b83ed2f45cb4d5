"""A websocket handshake's checks (:mod:`api.live.handshake`), without a server: the buckets
the settings make, the rate checked per address then per token (a bad token is left to
the route), and the claims verified once per request, refused once revoked."""

from __future__ import annotations

import time
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.access import auth
from api.access.errors import RateLimited
from api.live.handshake import check_handshake, handshake_claims, handshake_limits
from api.settings import Settings

_KEY = Ed25519PrivateKey.generate()


def _token(jti: str = "j-1") -> str:
    return auth.issue(
        _KEY,
        sub="w",
        role=auth.Role.OBSERVER,
        auction="a-1",
        ttl_s=600,
        now_s=int(time.time()),
        jti=jti,
    )


def _request(token: str | None = None, *, subprotocol: bool = False, ip: str = "10.0.0.1") -> Any:
    headers: dict[str, str] = {}
    if token is not None and subprotocol:
        headers["sec-websocket-protocol"] = f"gavel.v1, gavel.bearer.{token}"
    elif token is not None:
        headers["authorization"] = f"Bearer {token}"
    return SimpleNamespace(client_ip=ip, headers=headers, ctx=SimpleNamespace())


def test_the_buckets_default_to_the_http_rate_and_a_tenth_of_it_per_token() -> None:
    limits = handshake_limits(replace(Settings(), rate_per_s=50.0, rate_burst=100))
    assert (limits.per_address.rate, limits.per_address.burst) == (50.0, 100)
    assert (limits.per_subject.rate, limits.per_subject.burst) == (5.0, 10)
    own = replace(
        Settings(),
        ws_rate_per_s=2.0,
        ws_rate_burst=4,
        ws_token_rate_per_s=1.0,
        ws_token_rate_burst=1,
    )
    limits = handshake_limits(own)
    assert (limits.per_address.rate, limits.per_address.burst) == (2.0, 4)
    assert (limits.per_subject.rate, limits.per_subject.burst) == (1.0, 1)


def test_the_address_is_limited_first_then_the_token() -> None:
    settings = replace(Settings(), ws_rate_per_s=0.001, ws_rate_burst=2, ws_token_rate_burst=1)
    limits = handshake_limits(settings)
    public = _KEY.public_key()
    token = _token()
    check_handshake(limits, public, _request(token), 0.0)
    with pytest.raises(RateLimited) as over:
        check_handshake(limits, public, _request(token, ip="10.0.0.2"), 0.0)
    assert "token" in over.value.detail and over.value.retry_after >= 1
    check_handshake(limits, public, _request("garbage"), 0.0)  # a bad token: the route's
    with pytest.raises(RateLimited) as over:
        check_handshake(limits, public, _request(_token("j-2")), 0.0)
    assert "address" in over.value.detail


def test_claims_are_verified_once_per_request_and_refused_once_revoked() -> None:
    public = _KEY.public_key()
    request = _request(_token(), subprotocol=True)
    claims = handshake_claims(request, public, set())
    assert (claims.sub, claims.jti) == ("w", "j-1")
    assert request.ctx.gavel_claims is claims
    other_key = Ed25519PrivateKey.generate().public_key()
    assert handshake_claims(request, other_key, set()) is claims  # not verified again
    with pytest.raises(auth.TokenRevoked):
        handshake_claims(request, public, {"j-1"})
    with pytest.raises(auth.AccessDenied):
        handshake_claims(_request(None), public, set())
