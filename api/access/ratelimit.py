"""Token-bucket rate limits for the edge: one limiter per token subject, one per address.

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second; a
request takes ``cost`` tokens (1 by default) or is refused with the seconds until it
could pass. New keys start with a full bucket, so a client may burst at once and then
settles at ``rate``.

No clock is read here: ``now`` is a monotonic time in seconds passed in by the caller
(``time.monotonic()`` in the app, plain numbers in tests). Each check is O(1)
amortised: a dict lookup plus an ``OrderedDict`` move, and the eviction of at most the
buckets that went idle since.

Memory is bounded by ``max_keys``. Buckets sit in least-recently-used order, so the
head is the stalest. A bucket that has refilled to ``burst`` carries no information (a
new bucket would start just as full), so every check first drops such idle buckets
from the head: memory follows the set of *active* keys. Only if more than ``max_keys``
keys are active at once is the stalest non-idle bucket dropped too, which forgives that
client its debt; the alternative, refusing new keys, would let a flood of addresses lock
every newcomer out.

Every limiter of the process is counted by :func:`buckets_held` (``/metrics``:
``gavel_rate_limit_buckets``), so a storm of clients whose buckets were never dropped
would show there.

Call order in the app, per request: :func:`address_key` on the peer address →
:meth:`EdgeRateLimits.check` with the token's ``sub`` once verified (``None`` before)
→ on a number, raise :func:`rate_limited` (a 429 refusal with ``Retry-After``).

The exceptions of this module (part of the tree in :mod:`api.access.errors`)::

    RateLimitError
    └── RateLimitMisuse (also AssertionError, ValueError)   bad settings or cost

Being limited is not an exception: :meth:`TokenBucketLimiter.check` returns it.
"""

from __future__ import annotations

import ipaddress
import math
import weakref
from collections import OrderedDict
from dataclasses import dataclass

from api.access.errors import AccessError, RateLimited

__all__ = [
    "EdgeRateLimits",
    "RateLimitError",
    "RateLimitMisuse",
    "TokenBucketLimiter",
    "address_key",
    "buckets_held",
    "rate_limited",
]


class RateLimitError(AccessError):
    """Root of every exception this module raises."""


class RateLimitMisuse(RateLimitError, AssertionError, ValueError):
    """Settings that cannot work (a rate <= 0, ``max_keys`` < 1) or a cost above the
    burst, which no amount of waiting would ever let through."""


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class TokenBucketLimiter:
    """Token buckets by key, at most ``max_keys`` of them.

    >>> limiter = TokenBucketLimiter(rate=1.0, burst=2)
    >>> [limiter.check("a", now=0.0) for _ in range(3)]
    [None, None, 1.0]
    >>> limiter.check("a", now=1.0) is None
    True
    """

    def __init__(self, *, rate: float, burst: float, max_keys: int = 100_000) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise RateLimitMisuse(f"rate must be a positive number, not {rate!r}")
        if not (burst >= 1 and math.isfinite(burst)):
            raise RateLimitMisuse(f"burst must be at least 1, not {burst!r}")
        if max_keys < 1:
            raise RateLimitMisuse(f"max_keys must be at least 1, not {max_keys!r}")
        self.rate = float(rate)
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._now = -math.inf  # latest time seen: the limiter's clock never runs back
        # Seconds an empty bucket needs to refill: a bucket unseen for that long is idle.
        self._refill_s = self.burst / self.rate
        _LIMITERS.add(self)

    def __len__(self) -> int:
        """Number of buckets held. O(1)."""
        return len(self._buckets)

    def check(self, key: str, now: float, cost: float = 1.0) -> float | None:
        """Take ``cost`` tokens from ``key``'s bucket: ``None`` if they were there, else
        the seconds (> 0) until they will be, and nothing is taken.

        ``now`` should come from a monotonic clock; a ``now`` earlier than one already
        seen is taken as that latest time (no refill, no error). O(1) amortised.
        """
        if not 0 < cost <= self.burst:
            raise RateLimitMisuse(f"cost must be in (0, burst={self.burst}], not {cost!r}")
        # Clamping keeps the buckets' stamps in LRU order, which _evict_idle relies on.
        now = self._now = max(self._now, now)
        self._evict_idle(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._buckets.popitem(last=False)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return None
        return (cost - bucket.tokens) / self.rate

    def _evict_idle(self, now: float) -> None:
        # The head is the least recently used. Its last check left it at most full, so
        # after _refill_s without a check it is full again: dropping it loses nothing.
        # Each bucket is dropped at most once, so this is O(1) amortised per check.
        buckets = self._buckets
        while buckets:
            head = next(iter(buckets.values()))
            if now - head.stamp < self._refill_s:
                return
            buckets.popitem(last=False)

    def _check(self) -> None:
        """Assert every internal invariant (tests call it after each operation)."""
        assert len(self._buckets) <= self.max_keys
        stamps = [bucket.stamp for bucket in self._buckets.values()]
        assert stamps == sorted(stamps), "LRU order must follow the last-check times"
        assert not stamps or stamps[-1] <= self._now
        for bucket in self._buckets.values():
            assert 0 <= bucket.tokens <= self.burst


#: Every limiter alive in this process (weakly: a limiter dropped is forgotten).
_LIMITERS: weakref.WeakSet[TokenBucketLimiter] = weakref.WeakSet()


def buckets_held() -> int:
    """Buckets held by every limiter alive in this process. O(limiters)."""
    return sum(len(limiter) for limiter in list(_LIMITERS))


def address_key(address: str) -> str:
    """The rate-limit key of a client address.

    IPv4 addresses are their own key. An IPv6 client controls a whole /64 (SLAAC hands
    out 2**64 addresses per link), so IPv6 addresses are keyed by their /64 prefix, or
    limiting per address would be no limit at all; IPv4-mapped IPv6 is keyed as IPv4.
    A string that is not an IP address (a Unix socket peer) is its own key. O(1).

    >>> address_key("2001:db8::1"), address_key("::ffff:192.0.2.1")
    ('2001:db8::/64', '192.0.2.1')
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(frozen=True, slots=True)
class EdgeRateLimits:
    """The two limiters of the edge: by client address (every request, signed in or
    not) and by token subject (so one party spread over many addresses is one client).
    """

    per_address: TokenBucketLimiter
    per_subject: TokenBucketLimiter

    def check(self, *, address: str, subject: str | None, now: float) -> float | None:
        """``None`` if the request may pass both limiters, else the seconds to wait.

        The address is checked first and a refusal there takes nothing from the
        subject's bucket. ``address`` is a key from :func:`address_key`. O(1) amortised.
        """
        wait = self.per_address.check(address, now)
        if wait is not None or subject is None:
            return wait
        return self.per_subject.check(subject, now)


def rate_limited(retry_after_s: float, *, scope: str = "client") -> RateLimited:
    """The 429 ``rate_limited`` refusal to raise for a wait of ``retry_after_s`` seconds.

    ``Retry-After`` takes whole seconds (RFC 9110 §10.2.3), so the wait is rounded up:
    a client that honours it is never refused again for being early.
    """
    seconds = max(1, math.ceil(retry_after_s))
    return RateLimited(
        f"too many requests from this {scope}; retry in {seconds} s",
        retry_after=seconds,
        extra={"retry_after": seconds},
    )
