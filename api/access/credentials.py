"""The server's credentials: its signing key, the tokens it issues, records, verifies and
revokes, and the rate limits of whoever presents one.

One :class:`Credentials` per server process (the node builds it). No HTTP types: a
request is described by what the checks read of it (the matched route's name, the peer
address, the ``Authorization`` header), and every refusal is an
:class:`~api.access.errors.Refused` (:mod:`api.http` answers it as a problem).

Call order:

- issuing: :meth:`Credentials.issue` queues a token's ``tokens`` row, written by the next
  :meth:`~Credentials.record_tokens` (hand the token out only after that, so that it can
  be revoked); :meth:`~Credentials.issue_recorded` and :meth:`~Credentials.mint` write it
  at once. The rows go to :attr:`Credentials.tokens`, set once storage is up.
- per request: :meth:`Credentials.claims` (address limit → token → signature, expiry,
  revocation → token limit → the route's rule and binding).
"""

from __future__ import annotations

import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.access import auth
from api.access import rules as access
from api.access.at_rest import AtRest
from api.access.errors import RateLimited, TokenUnknown
from api.access.ratelimit import TokenBucketLimiter, address_key
from api.access.revocations import Revocations
from api.storage.tokens import TokenRow, TokenStore

__all__ = ["Credentials"]


class Credentials:
    """What the server knows about who may ask: its key, its tokens, their revocations
    and the callers' rate limits.

    ``token_ttl_s`` is the default lifetime of an issued token; the limiters allow
    ``rate_per_s`` (burst ``rate_burst``) per token and four times that per address.
    """

    def __init__(
        self, key: Ed25519PrivateKey, *, token_ttl_s: int, rate_per_s: float, rate_burst: int
    ) -> None:
        self.key = key
        self.public_key = key.public_key()
        #: Seals credentials stored in answers kept for replay (idempotency keys).
        self.at_rest = AtRest(key)
        self.token_ttl_s = token_ttl_s
        self.by_token = TokenBucketLimiter(rate=rate_per_s, burst=rate_burst)
        self.by_address = TokenBucketLimiter(rate=rate_per_s * 4, burst=rate_burst * 4)
        #: Every revoked token not yet expired: checked on every request and handshake,
        #: so it is a dict lookup, never a query; and the sockets to close on revocation.
        self.revoked = Revocations()
        #: The ``tokens`` table; ``None`` until the node's storage is up.
        self.tokens: TokenStore | None = None
        self._unrecorded: list[TokenRow] = []

    # -- issuing -----------------------------------------------------------------

    def issue(
        self, sub: str, role: auth.Role, auction: str | None, ttl_s: int | None = None
    ) -> str:
        """A signed token for ``sub`` as ``role``; its ``tokens`` row is queued.

        The row is written by the next :meth:`record_tokens` (which the node's start-up
        calls after the demo): hand a token out only after that, so that it can be
        revoked.
        """
        token, row = self._mint(sub, role, auction, ttl_s)
        self._unrecorded.append(row)
        return token

    def _mint(
        self, sub: str, role: auth.Role, auction: str | None, ttl_s: int | None
    ) -> tuple[str, TokenRow]:
        now_s = int(time.time())
        ttl = ttl_s or self.token_ttl_s
        jti = auth.new_jti()
        token = auth.issue(
            self.key, sub=sub, role=role, auction=auction, ttl_s=ttl, now_s=now_s, jti=jti
        )
        row = TokenRow(jti, sub, role.value, auction, now_s * 1_000_000, (now_s + ttl) * 1_000_000)
        return token, row

    async def record_tokens(self) -> None:
        """Write the ``tokens`` rows of every token issued since the last call (kept for
        the first call after start-up while :attr:`tokens` is unset)."""
        if self.tokens is None:
            return
        rows, self._unrecorded = self._unrecorded, []
        if rows:
            try:
                await self.tokens.record(rows)
            except BaseException:
                self._unrecorded[:0] = rows
                raise

    async def issue_recorded(
        self, sub: str, role: auth.Role, auction: str | None, ttl_s: int | None = None
    ) -> tuple[str, str]:
        """A token and its jti, its row written: the token may be handed out."""
        token, row = self._mint(sub, role, auction, ttl_s)
        if self.tokens is not None:
            await self.tokens.record([row])
        return token, row.jti

    async def mint(self, sub: str, grant: access.Grant) -> tuple[str, str, int]:
        """A token for ``sub`` as a caller's checked ``grant`` allows (see
        :func:`api.access.rules.grant`), its row written; with its jti and lifetime in s."""
        ttl = grant.lifetime(int(time.time()))
        token, jti = await self.issue_recorded(sub, grant.role, grant.auction, ttl)
        return token, jti, ttl

    # -- checking ------------------------------------------------------------------

    def verify_token(self, token: str | None) -> auth.Claims:
        """The claims of a valid token that is not revoked; else an ``AccessDenied``.

        What every HTTP route and the websocket handshake check. O(token length).
        """
        claims = auth.verify(self.public_key, token, now_s=time.time())
        if claims.jti in self.revoked:
            raise auth.TokenRevoked("the token was revoked")
        return claims

    def claims(
        self,
        route: str,
        address: str,
        authorization: str | None,
        target: str | None = None,
        *,
        bind: bool = True,
    ) -> auth.Claims:
        """Check a request to the route named ``route`` from peer ``address`` carrying
        the ``Authorization`` header ``authorization``: rate-limit the address, verify
        the bearer token, rate-limit the token, then check it against the route's rule
        in :data:`api.access.rules.ROUTES`: its role, then its binding with ``target``,
        the auction or tender the request acts on.

        ``bind=False`` leaves the binding to the route, which learns its target later
        (``POST /tokens``: the new token's auction, checked by :func:`api.access.rules.grant`).
        Raises :class:`~api.access.errors.Refused` (``AccessDenied``, ``RateLimited``).
        """
        rule = access.rule_for(route)
        self.limit_address(address)
        token = auth.bearer_token(authorization)
        claims = self.verify_token(token)
        self.limit(self.by_token, claims.jti)
        rule.admit(claims)
        return rule.bind(claims, target) if bind else claims

    def limit_address(self, address: str) -> None:
        """Raise :class:`~api.access.errors.RateLimited` when peer ``address`` is over its
        rate (IPv6 addresses count per /64: see :func:`~api.access.ratelimit.address_key`)."""
        self.limit(self.by_address, address_key(address))

    def limit(self, limiter: TokenBucketLimiter, key: str) -> None:
        """Raise :class:`~api.access.errors.RateLimited` when ``key`` is over its rate."""
        retry = limiter.check(key, time.monotonic())
        if retry is not None:
            raise RateLimited(
                "too many requests; slow down", retry_after=max(1, int(retry + 0.999))
            )

    # -- revocation ----------------------------------------------------------------

    async def revoke(self, jti: str, by: auth.Claims) -> TokenRow:
        """Revoke token ``jti`` on behalf of ``by``; durable before it returns.

        ``by`` may revoke its own token; another's, as :data:`api.access.rules.REVOKE_OTHERS`
        says (an officer, of the revoked token's auction or of none). Raises
        :class:`~api.access.errors.TokenUnknown` for a jti never issued by this server,
        ``AccessDenied`` otherwise refused. Call once storage is up.
        """
        assert self.tokens is not None
        if jti != by.jti:
            access.REVOKE_OTHERS.admit(by)  # role first: a bidder learns nothing of jtis
        row = await self.tokens.get(jti)
        if row is None:
            raise TokenUnknown()
        if jti != by.jti:
            # A token not bound to an auction (row None) is beyond any bound officer.
            access.REVOKE_OTHERS.bind(by, row.auction_id)
        now = time.time_ns() // 1000
        revoked = await self.tokens.revoke(jti, at=now, by=by.sub)
        assert revoked is not None
        self.revoked.add(jti, now, revoked.expires_at)
        return revoked
