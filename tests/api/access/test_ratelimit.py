"""Token buckets: burst, limit, refill, eviction bounds, the two edge limiters."""

from __future__ import annotations

import doctest
import gc
import random

import pytest

import api.access.ratelimit
from api.access.ratelimit import (
    EdgeRateLimits,
    RateLimitError,
    RateLimitMisuse,
    TokenBucketLimiter,
    address_key,
    rate_limited,
)
from api.http.errors import problem_for
from api.http.problems import to_response


def test_doctests() -> None:
    assert doctest.testmod(api.access.ratelimit).failed == 0


def test_burst_is_allowed_then_limited() -> None:
    limiter = TokenBucketLimiter(rate=2.0, burst=5)
    assert [limiter.check("k", now=10.0) for _ in range(5)] == [None] * 5
    # The sixth needs one token at 2 tokens/s.
    assert limiter.check("k", now=10.0) == pytest.approx(0.5)
    # A refusal takes nothing: asking again at once gives the same answer.
    assert limiter.check("k", now=10.0) == pytest.approx(0.5)
    limiter._check()


def test_refill_over_time() -> None:
    limiter = TokenBucketLimiter(rate=2.0, burst=5)
    for _ in range(5):
        limiter.check("k", now=0.0)
    assert limiter.check("k", now=0.25) == pytest.approx(0.25)  # half a token so far
    assert limiter.check("k", now=0.5) is None
    assert limiter.check("k", now=0.5) == pytest.approx(0.5)
    # A long pause refills to the burst, never beyond.
    assert [limiter.check("k", now=100.0) for _ in range(6)] == [None] * 5 + [pytest.approx(0.5)]
    limiter._check()


def test_keys_are_independent() -> None:
    limiter = TokenBucketLimiter(rate=1.0, burst=1)
    assert limiter.check("a", now=0.0) is None
    assert limiter.check("a", now=0.0) == pytest.approx(1.0)
    assert limiter.check("b", now=0.0) is None


def test_cost() -> None:
    limiter = TokenBucketLimiter(rate=1.0, burst=10)
    assert limiter.check("k", now=0.0, cost=7) is None
    assert limiter.check("k", now=0.0, cost=4) == pytest.approx(1.0)
    assert limiter.check("k", now=0.0, cost=3) is None
    assert limiter.check("k", now=0.0, cost=0.5) == pytest.approx(0.5)


@pytest.mark.parametrize("cost", [0, -1, 10.5])
def test_cost_out_of_range_is_misuse(cost: float) -> None:
    limiter = TokenBucketLimiter(rate=1.0, burst=10)
    with pytest.raises(RateLimitMisuse):
        limiter.check("k", now=0.0, cost=cost)


@pytest.mark.parametrize(
    ("rate", "burst", "max_keys"),
    [
        (0, 1, 1),
        (-1, 1, 1),
        (float("inf"), 1, 1),
        (float("nan"), 1, 1),
        (1, 0.5, 1),
        (1, float("inf"), 1),
        (1, 1, 0),
    ],
)
def test_bad_settings_are_misuse(rate: float, burst: float, max_keys: int) -> None:
    with pytest.raises(RateLimitMisuse):
        TokenBucketLimiter(rate=rate, burst=burst, max_keys=max_keys)


def test_misuse_tree() -> None:
    assert issubclass(RateLimitMisuse, RateLimitError)
    assert issubclass(RateLimitMisuse, AssertionError)
    assert issubclass(RateLimitMisuse, ValueError)


def test_clock_running_backwards_gives_no_tokens() -> None:
    limiter = TokenBucketLimiter(rate=1.0, burst=1)
    assert limiter.check("k", now=100.0) is None
    assert limiter.check("k", now=50.0) == pytest.approx(1.0)
    assert limiter.check("other", now=0.0) is None  # taken as 100.0
    assert limiter.check("k", now=100.5) == pytest.approx(0.5)
    limiter._check()


# ---------------------------------------------------------------------- eviction


def test_memory_is_bounded_by_max_keys_dropping_the_stalest() -> None:
    limiter = TokenBucketLimiter(rate=1.0, burst=3, max_keys=100)
    for i in range(1000):
        limiter.check(f"k{i}", now=i * 0.001)
        assert len(limiter) <= 100
    limiter._check()
    assert len(limiter) == 100
    # The stalest keys were forgotten (their debt forgiven); the newest are kept.
    assert "k0" not in limiter._buckets and "k999" in limiter._buckets


def test_idle_buckets_are_evicted_so_memory_follows_active_keys() -> None:
    limiter = TokenBucketLimiter(rate=1.0, burst=3)  # an empty bucket refills in 3 s
    for i in range(50):
        limiter.check(f"k{i}", now=0.0)
    assert len(limiter) == 50
    limiter.check("k0", now=2.9)  # still refilling: nothing is idle yet
    assert len(limiter) == 50
    limiter.check("fresh", now=3.0)  # k1..k49 are full again: dropped
    assert set(limiter._buckets) == {"k0", "fresh"}
    limiter._check()


def test_evicting_idle_buckets_changes_no_answer() -> None:
    # A reference model that never forgets a key answers exactly like the limiter.
    rate, burst = 1.0, 2.0
    limiter = TokenBucketLimiter(rate=rate, burst=burst)
    model: dict[str, tuple[float, float]] = {}
    rng = random.Random(7)
    now = 0.0
    for step in range(3000):
        now += rng.choice([0.0, 0.1, 0.5, 2.5])
        key = f"k{rng.randrange(20)}"
        tokens, stamp = model.get(key, (burst, now))
        tokens = min(burst, tokens + (now - stamp) * rate)
        expected = None if tokens >= 1 else (1 - tokens) / rate
        model[key] = (tokens - 1 if expected is None else tokens, now)
        assert limiter.check(key, now) == pytest.approx(expected), step
        limiter._check()
    assert len(limiter) < len(model)  # it did forget idle keys along the way


def test_random_operations_keep_the_invariants() -> None:
    rng = random.Random(1234)
    limiter = TokenBucketLimiter(rate=5.0, burst=4, max_keys=16)
    now = 0.0
    for _ in range(5000):
        now += rng.random() * 0.3
        limiter.check(f"k{rng.randrange(40)}", now, cost=rng.choice([1, 1, 2, 0.5]))
        limiter._check()


# ---------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("::1", "::/64"),
        ("/run/gavel.sock", "/run/gavel.sock"),
        ("", ""),
    ],
)
def test_address_key(address: str, key: str) -> None:
    assert address_key(address) == key


def test_one_ipv6_client_rotating_addresses_is_one_client() -> None:
    limiter = TokenBucketLimiter(rate=1.0, burst=3)
    answers = [limiter.check(address_key(f"2001:db8:0:1::{i:x}"), now=0.0) for i in range(1, 5)]
    assert answers[:3] == [None] * 3 and answers[3] is not None


# ------------------------------------------------------------------------ edge pair


def edge() -> EdgeRateLimits:
    return EdgeRateLimits(
        per_address=TokenBucketLimiter(rate=1.0, burst=3),
        per_subject=TokenBucketLimiter(rate=1.0, burst=2),
    )


def test_subject_limit_spans_addresses() -> None:
    limits = edge()
    assert limits.check(address="192.0.2.1", subject="bidder-1", now=0.0) is None
    assert limits.check(address="192.0.2.2", subject="bidder-1", now=0.0) is None
    assert limits.check(address="192.0.2.3", subject="bidder-1", now=0.0) == pytest.approx(1.0)
    assert limits.check(address="192.0.2.3", subject="bidder-2", now=0.0) is None


def test_address_limit_applies_without_a_subject_and_spares_the_subject() -> None:
    limits = edge()
    for _ in range(3):
        assert limits.check(address="192.0.2.1", subject=None, now=0.0) is None
    assert limits.check(address="192.0.2.1", subject="bidder-1", now=0.0) == pytest.approx(1.0)
    # The refusal by address took nothing from bidder-1's bucket.
    assert limits.check(address="192.0.2.9", subject="bidder-1", now=0.0) is None
    assert limits.check(address="192.0.2.9", subject="bidder-1", now=0.0) is None


@pytest.mark.parametrize(("wait", "seconds"), [(0.01, 1), (1.0, 1), (1.2, 2), (59.5, 60)])
def test_rate_limited_problem(wait: float, seconds: int) -> None:
    error = problem_for(rate_limited(wait, scope="token"))
    assert error.status == 429
    assert error.code == "rate_limited"
    assert error.retry_after == seconds
    assert error.extra["retry_after"] == seconds
    assert "token" in error.detail
    response = to_response(error)
    assert response.headers["Retry-After"] == str(seconds)


def test_http_requests_from_one_ipv6_prefix_share_the_address_bucket() -> None:
    """The HTTP routes' address limit (``Credentials.limit_address``) groups IPv6 by /64,
    as the websocket handshake does: rotating addresses in one prefix is one client."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from api.access.credentials import Credentials
    from api.access.errors import RateLimited

    credentials = Credentials(  # 4 per address
        Ed25519PrivateKey.generate(), token_ttl_s=3600, rate_per_s=0.001, rate_burst=1
    )
    for i in range(1, 5):
        credentials.limit_address(f"2001:db8:0:1::{i:x}")
    with pytest.raises(RateLimited) as refused:
        credentials.limit_address("2001:db8:0:1::99")
    refusal = problem_for(refused.value)
    assert (refusal.status, refusal.code) == (429, "rate_limited")
    # Another prefix, and an IPv4 client, have buckets of their own.
    credentials.limit_address("2001:db8:0:2::1")
    credentials.limit_address("192.0.2.7")


def test_buckets_held_counts_every_live_limiter() -> None:
    from api.access.ratelimit import buckets_held

    # Limiters an earlier test left for the collector would otherwise leave the count
    # between here and the asserts (the suite's worker processes run many tests each).
    gc.collect()
    before = buckets_held()
    first = TokenBucketLimiter(rate=1.0, burst=1)
    second = TokenBucketLimiter(rate=1.0, burst=1)
    for key in ("a", "b", "c"):
        first.check(key, now=0.0)
    second.check("a", now=0.0)
    assert buckets_held() == before + 4
    # Idle buckets go at the next check; a dropped limiter is forgotten.
    first.check("d", now=10.0)
    assert buckets_held() == before + 2
    del second
    assert buckets_held() == before + 1
