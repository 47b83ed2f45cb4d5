"""A websocket handshake's checks: its rate (before the upgrade) and its token (after).

Call order for one handshake (:mod:`api.live.route`, and the core's feed,
:mod:`api.live.feed`):

1. :func:`check_handshake`, a request middleware of the route: over the per-address or
   per-token rate, the client gets a plain HTTP 429 (:class:`~api.access.errors.RateLimited`)
   and no upgrade;
2. after the upgrade, :func:`handshake_claims`: the token's claims, or an
   :class:`~api.access.auth.AccessDenied` that the route answers with close code 4401.

The token's signature is checked once per request: both steps share the claims, kept on
``request.ctx``.

:func:`public_handshake` tells the anonymous public view (the ``gavel.public``
subprotocol, no token) from a token's handshake; step 1 counts it per address like any
other (it has no token to count).
"""

from __future__ import annotations

import time
from collections.abc import Container

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sanic import Request

from api.access import auth
from api.access.ratelimit import EdgeRateLimits, TokenBucketLimiter, address_key, rate_limited
from api.settings import Settings

__all__ = [
    "PUBLIC_SUBPROTOCOL",
    "check_handshake",
    "handshake_claims",
    "handshake_limits",
    "public_handshake",
]

#: The subprotocol a client offers (beside ``gavel.v1``, which the server selects) to
#: follow an auction's public view without a token (:mod:`api.live.route`).
PUBLIC_SUBPROTOCOL = "gavel.public"


def handshake_limits(settings: Settings) -> EdgeRateLimits:
    """The handshake buckets: per address (``ws_rate_*``, default the HTTP rate) and per
    token (``ws_token_rate_*``, default a tenth of the per-address bucket)."""
    rate = settings.ws_rate_per_s or settings.rate_per_s
    burst = settings.ws_rate_burst or settings.rate_burst
    return EdgeRateLimits(
        per_address=TokenBucketLimiter(rate=rate, burst=burst),
        per_subject=TokenBucketLimiter(
            rate=settings.ws_token_rate_per_s or rate / 10,
            burst=settings.ws_token_rate_burst or max(1, burst // 10),
        ),
    )


def check_handshake(
    limits: EdgeRateLimits, public_key: Ed25519PublicKey, request: Request, now: float
) -> None:
    """Raise the 429 ``rate_limited`` refusal if this handshake is over its rate.

    Runs before the upgrade (a request middleware of the websocket route), so a refused
    client gets a plain HTTP 429 with ``Retry-After``. The address is checked first, so
    a flood from one address costs no signature check; a token is counted under its
    ``jti`` once its signature holds. A bad token is not refused here: the session
    closes it with 4401 after the upgrade, as documented. ``now``: monotonic seconds.
    """
    address = address_key(request.client_ip or "?")
    wait = limits.per_address.check(address, now)
    if wait is not None:
        raise rate_limited(wait, scope="address")
    try:
        claims = _verified(request, public_key)
    except auth.AccessDenied:
        return
    wait = limits.per_subject.check(claims.jti, now)
    if wait is not None:
        raise rate_limited(wait, scope="token")


def handshake_claims(
    request: Request, public_key: Ed25519PublicKey, revoked: Container[str]
) -> auth.Claims:
    """The claims of a websocket handshake's token (``Authorization`` or the
    ``gavel.bearer.`` subprotocol), verified and not in ``revoked``; else an
    ``AccessDenied``. The signature is checked once per request: :func:`check_handshake`
    and the route share the result. O(token length)."""
    claims = _verified(request, public_key)
    if claims.jti in revoked:
        raise auth.TokenRevoked("the token was revoked")
    return claims


def public_handshake(request: Request) -> bool:
    """Whether ``request`` asks for the public view: it offers :data:`PUBLIC_SUBPROTOCOL`
    and carries no token. Offering it with a token (``Authorization`` or a
    ``gavel.bearer.`` subprotocol) raises ``token_malformed``: a socket has one audience,
    never the one guessed from two. Not offering it: ``False`` (the token's checks
    follow). O(header lengths)."""
    offered = [p.strip() for p in (request.headers.get("sec-websocket-protocol") or "").split(",")]
    if PUBLIC_SUBPROTOCOL not in offered:
        return False
    authorization = request.headers.get("authorization")
    if (authorization is not None and authorization.strip()) or any(
        p.startswith(auth.WS_TOKEN_PREFIX) for p in offered
    ):
        raise auth.TokenMalformed(f"{PUBLIC_SUBPROTOCOL} is the view without a token: send none")
    return True


def _verified(request: Request, public_key: Ed25519PublicKey) -> auth.Claims:
    claims: auth.Claims | None = getattr(request.ctx, "gavel_claims", None)
    if claims is None:
        token = auth.handshake_token(
            request.headers.get("authorization"), request.headers.get("sec-websocket-protocol")
        )
        claims = request.ctx.gavel_claims = auth.verify(public_key, token, now_s=time.time())
    return claims
