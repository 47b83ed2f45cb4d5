"""The exceptions of :mod:`api.access`, rooted in :class:`AccessError`.

A refusal carries what the HTTP edge needs to answer it (the machine-readable
:class:`~contracts.codes.Code`, a detail, the seconds to wait, the response headers such
as ``WWW-Authenticate``) without this package importing any HTTP type: :mod:`api.http`
maps a :class:`Refused` to the same RFC 9457 problem the code names, and a websocket
session closes with its ``code``.

The whole tree::

    AccessError                              root of every exception api.access raises
    ├── Refused                              a request is refused: .code .detail .status
    │   │                                    .retry_after .headers .extra
    │   ├── auth.AccessDenied (also auth.AuthError)   401/403, WWW-Authenticate sent
    │   │   ├── auth.Unauthenticated         token_missing, token_malformed,
    │   │   │                                token_bad_signature, token_expired,
    │   │   │                                token_not_yet_valid, token_revoked
    │   │   └── auth.Forbidden               role_forbidden, wrong_auction, wrong_party
    │   ├── RateLimited                      429 rate_limited, Retry-After
    │   └── TokenUnknown                     404 not_found: a jti never issued here
    ├── auth.AuthError                       root of api.access.auth's own exceptions
    │   ├── auth.SigningKeyError             the configured key cannot be used
    │   └── auth.AuthMisuse (also AssertionError)
    ├── ratelimit.RateLimitError
    │   └── ratelimit.RateLimitMisuse (also AssertionError, ValueError)
    └── at_rest.SealBroken (also ValueError) a sealed value does not open with this key
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from contracts.codes import Code

__all__ = ["AccessError", "RateLimited", "Refused", "TokenUnknown"]


class AccessError(Exception):
    """Root of every exception :mod:`api.access` raises."""


class Refused(AccessError):
    """A request is refused for ``code``; ``detail`` says why in words.

    ``retry_after`` (whole seconds) and ``headers`` are for the response, ``extra`` for
    the problem's extension members. ``status`` is the code's HTTP status.
    """

    def __init__(
        self,
        code: Code,
        detail: str,
        *,
        retry_after: int | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code.status} {code.value}: {detail}")
        self.code = code
        self.detail = detail
        self.retry_after = retry_after
        self.headers: Mapping[str, str] = MappingProxyType(dict(headers or {}))
        self.extra: Mapping[str, Any] = MappingProxyType(dict(extra or {}))

    @property
    def status(self) -> int:
        """The HTTP status the refusal is answered with (the code's)."""
        return self.code.status


class RateLimited(Refused):
    """429 ``rate_limited``: the caller is over its rate; retry after ``retry_after`` s."""

    def __init__(
        self, detail: str, *, retry_after: int, extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(Code.RATE_LIMITED, detail, retry_after=retry_after, extra=extra)


class TokenUnknown(Refused):
    """404 ``not_found``: no token with this jti was issued by this server."""

    def __init__(self, detail: str = "no token with this id was issued") -> None:
        super().__init__(Code.NOT_FOUND, detail)
