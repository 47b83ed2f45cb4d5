"""Determinism: the same commands give byte-identical serialized events.

A fixed command stream per format (built from a seeded ``random.Random``, so it is the same
on every run and machine) is fed to a fresh ``Auction``; the SHA-256 of the concatenated
canonical event bytes is its fingerprint. The fingerprints must agree

- between two runs in this process (no state leaks between auctions), and
- with two subprocesses started with different ``PYTHONHASHSEED`` values (no dependence on
  set or dict-of-str iteration order, ``id()`` or anything else that varies per process).

Run this module as a script (``python -m tests.engine.test_determinism``) to print the
fingerprints as JSON; the subprocess test does exactly that.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from engine import (
    AcceptPrice,
    Auction,
    AuctionEnded,
    AuctionRules,
    BidAccepted,
    CancelAuction,
    CreateAuction,
    DisqualifyBidder,
    DutchRules,
    EnglishRules,
    Event,
    Improvement,
    MultiRoundRules,
    PassTurn,
    PlaceBid,
    Pricing,
    RegisterBidder,
    ReverseRules,
    Scoring,
    SealedRules,
    SetProxy,
    Side,
    SoftClose,
    Step,
    Tick,
    WithdrawBid,
)
from engine.codec import encode_event
from engine.commands import Command

ROOT = Path(__file__).resolve().parents[2]
S = 1_000_000
T0 = 1_700_000_000 * S
START = T0 + 10 * S
BIDDERS = [f"bidder-{n:02d}" for n in range(12)] + ["zoë", "Ωmega"]

RULES: dict[str, AuctionRules] = {
    "english": EnglishRules(
        "EUR",
        START,
        START + 60 * S,
        10_000,
        Step(percent=Decimal("2.5")),
        reserve_price=20_000,
        soft_close=SoftClose(10 * S, 5 * S, hard_close_at=START + 90 * S),
    ),
    "reverse_meat": ReverseRules(
        "EUR", START, START + 60 * S, 1_000_000, Step(amount=500), scoring=Scoring.MEAT
    ),
    "reverse_lcc_own": ReverseRules(
        "KWD",
        START,
        START + 60 * S,
        1_000_000,
        Step(percent=Decimal(1)),
        improvement=Improvement.BEAT_OWN,
        scoring=Scoring.LCC,
        soft_close=SoftClose(5 * S, 5 * S),
    ),
    "dutch_sale": DutchRules("JPY", START, 50_000, 700, 2 * S, 10_000),
    "dutch_procurement": DutchRules("EUR", START, 10_000, 250, S, 30_000, side=Side.PROCUREMENT),
    "sealed_second_sale": SealedRules(
        "EUR", START, START + 60 * S, Pricing.SECOND_PRICE, start_price=5_000
    ),
    "sealed_first_meat": SealedRules(
        "EUR",
        START,
        START + 60 * S,
        Pricing.FIRST_PRICE,
        Side.PROCUREMENT,
        start_price=900_000,
        scoring=Scoring.MEAT,
    ),
    "multiround_lcc": MultiRoundRules(
        "EUR", START, 3 * S, Step(amount=1_000), pause_us=2 * S, scoring=Scoring.LCC
    ),
}


def _stream(name: str, rules: AuctionRules) -> Iterator[Command]:
    """A fixed, varied command stream for ``rules``: registrations, plausible and junk
    bids, proxies, acceptances, withdrawals, passes, a disqualification and ticks."""
    rng = random.Random(f"gavel-determinism-{name}")
    ids = iter(range(1, 10**6))

    def cid() -> str:
        return f"{name}-{next(ids)}"

    at = T0
    yield CreateAuction(cid(), at, rules)
    multi = isinstance(rules, MultiRoundRules)
    for bidder in BIDDERS:
        at += rng.randrange(S // 10)
        yield RegisterBidder(
            cid(),
            at,
            bidder,
            coefficient=Decimal(rng.choice(["0", "0.05", "0.1", "0.25", "1.5"])),
            cost=Decimal(rng.choice(["0", "12.50", "300"])),
            initial_bid=Decimal(rng.randrange(600_000, 1_000_000)) / 100 if multi else None,
        )
    start = rules.starts_at
    base = getattr(rules, "start_price", None) or 10_000
    currency = rules.currency
    scale = Decimal(10) ** {"EUR": 2, "JPY": 0, "KWD": 3}[currency]
    up = isinstance(rules, EnglishRules) or getattr(rules, "side", None) is Side.SALE
    at = start - S
    for i in range(400):
        at += rng.randrange(S // 2)
        bidder = rng.choice(BIDDERS + ["stranger"])
        drift = base * i // 400
        price = base + drift if up else base - drift // 2
        amount = Decimal(max(1, price + rng.randrange(-500, 2_000))) / scale
        kind = rng.random()
        if kind < 0.45:
            yield PlaceBid(cid(), at, bidder, amount, currency)
        elif kind < 0.55:
            yield SetProxy(cid(), at, bidder, amount * Decimal("1.3" if up else "0.8"), currency)
        elif kind < 0.60:
            junk = rng.choice(["-1", "0", "NaN", "1E+40", "0.0000001", "10.5"])
            yield PlaceBid(cid(), at, bidder, Decimal(junk), rng.choice([currency, "USD"]))
        elif kind < 0.66:
            yield AcceptPrice(cid(), at, bidder)
        elif kind < 0.70:
            yield WithdrawBid(cid(), at, bidder)
        elif kind < 0.78:
            yield PassTurn(cid(), at, bidder)
        elif kind < 0.785:
            yield DisqualifyBidder(cid(), at, bidder, note="audit")
        else:
            yield Tick(cid(), at)
    yield Tick(cid(), at + 3_600 * S)
    yield CancelAuction(cid(), at + 3_601 * S)


def run(name: str) -> list[Event]:
    """Feed the fixed stream of ``name`` to a fresh auction; every event, in order."""
    auction = Auction()
    events: list[Event] = []
    for command in _stream(name, RULES[name]):
        events.extend(auction.handle(command))
    return events


def fingerprint(events: list[Event]) -> str:
    """SHA-256 of the concatenated canonical bytes of ``events``."""
    digest = hashlib.sha256()
    for event in events:
        digest.update(encode_event(event))
    return digest.hexdigest()


def fingerprints() -> dict[str, str]:
    """The fingerprint of every format's fixed stream."""
    return {name: fingerprint(run(name)) for name in RULES}


def _in_subprocess(hash_seed: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    result = subprocess.run(
        [sys.executable, "-m", "tests.engine.test_determinism"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, str] = json.loads(result.stdout)
    return parsed


# ------------------------------------------------------------------------- tests


def test_streams_are_not_trivial() -> None:
    """Every stream gets bids accepted and the auction to an end, so the fingerprints cover
    real bidding, not a pile of rejections."""
    for name in RULES:
        events = run(name)
        assert any(type(event) is BidAccepted for event in events), name
        assert type(events[-1]) is AuctionEnded or any(
            type(event) is AuctionEnded for event in events
        ), name


def test_same_commands_same_bytes_in_process() -> None:
    """Two runs in one process produce identical event bytes, event by event."""
    for name in RULES:
        first = [encode_event(event) for event in run(name)]
        second = [encode_event(event) for event in run(name)]
        assert first == second, name


def test_same_commands_same_bytes_across_hash_seeds() -> None:
    """Two fresh interpreters with different hash seeds agree with this process."""
    here = fingerprints()
    for seed in ("0", "4242"):
        assert _in_subprocess(seed) == here, f"PYTHONHASHSEED={seed}"


def main() -> None:
    """Print every format's fingerprint as one JSON object."""
    print(json.dumps(fingerprints(), sort_keys=True))


if __name__ == "__main__":
    main()
