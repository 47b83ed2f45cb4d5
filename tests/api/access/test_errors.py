"""api.access.errors: the package's one root, and what a refusal carries."""

from __future__ import annotations

import pytest

from api.access import at_rest, auth, ratelimit
from api.access.errors import AccessError, RateLimited, Refused, TokenUnknown
from contracts.codes import Code


def test_every_exception_of_the_package_is_an_access_error() -> None:
    for error in (
        Refused,
        RateLimited,
        TokenUnknown,
        auth.AuthError,
        auth.AccessDenied,
        auth.SigningKeyError,
        auth.AuthMisuse,
        ratelimit.RateLimitError,
        ratelimit.RateLimitMisuse,
        at_rest.SealBroken,
    ):
        assert issubclass(error, AccessError), error
    for refusal in (auth.AccessDenied, RateLimited, TokenUnknown):
        assert issubclass(refusal, Refused)
    # Misuse stays an assertion; a broken seal stays a ValueError.
    assert issubclass(auth.AuthMisuse, AssertionError)
    assert issubclass(at_rest.SealBroken, ValueError)


def test_a_refusal_carries_its_code_status_detail_and_headers() -> None:
    refused = Refused(
        Code.NOT_FOUND, "gone", retry_after=3, headers={"X-A": "1"}, extra={"field": "f"}
    )
    assert (refused.code, refused.status, refused.detail) == (Code.NOT_FOUND, 404, "gone")
    assert (refused.retry_after, dict(refused.headers), dict(refused.extra)) == (
        3,
        {"X-A": "1"},
        {"field": "f"},
    )
    assert str(refused) == "404 not_found: gone"
    with pytest.raises(TypeError):
        refused.headers["X-B"] = "2"  # type: ignore[index]


def test_rate_limited_and_token_unknown() -> None:
    limited = RateLimited("slow down", retry_after=2, extra={"retry_after": 2})
    assert (limited.code, limited.status, limited.retry_after) == (Code.RATE_LIMITED, 429, 2)
    assert dict(limited.headers) == {}
    unknown = TokenUnknown()
    assert (unknown.code, unknown.status) == (Code.NOT_FOUND, 404)
    assert unknown.detail == "no token with this id was issued"


def test_an_access_denial_carries_its_challenge() -> None:
    expired = auth.TokenExpired("old")
    assert (expired.code, expired.reason, expired.status) == ("token_expired",) * 2 + (401,)
    assert expired.headers["WWW-Authenticate"] == 'Bearer realm="gavel", error="invalid_token"'
    assert auth.WrongParty("no").headers["WWW-Authenticate"].endswith('"insufficient_scope"')
