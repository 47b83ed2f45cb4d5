"""``gavel bench audit``: how long offline verification of a large bundle takes.

Workload
--------
One English auction (1,000 bidders by default) whose log has ``events`` events (default
1,000,000): the bidders register, then a seeded stream of bids runs: about two thirds
one to three steps above the best price (accepted), the rest at or under it (refused as
``insufficient_improvement``, so rejections are leaves too); then the close. The engine
writes every event (``Auction.handle``), so the log is one the engine could have written.
A checkpoint is signed every ``every`` events (default 100,000) and at the end, and the
bundle is written to a temporary file, as ``gavel audit export`` writes it.

What is timed
-------------
``gavel audit verify`` end to end on that file, measured apart: ``load_s`` (reading and
parsing the JSON), ``verify_s`` (:func:`api.audit.bundle.verify`: checkpoint signatures,
canonical decoding, the engine's fold, the Merkle tree, the re-decided close). Both are
wall-clock seconds (``perf_counter``) of this single-threaded process, and CPU seconds
(``process_time``) next to them: on a shared machine the CPU figure is the one to
compare. Issue 5's target: under 30 s for 1,000,000 events. Generation is not timed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.audit.bundle import build_bundle, load_bundle, save_bundle, verify
from contracts.canonical import event_bytes
from contracts.checkpoint import log_origin, sign_checkpoint
from contracts.transparency import Frontier, leaf_hash
from engine import (
    Auction,
    AuctionEnded,
    CreateAuction,
    EnglishRules,
    PlaceBid,
    RegisterBidder,
    Step,
    Tick,
)
from loadtests.arguments import positive

__all__ = ["generate", "main", "measure"]

DEFAULT_EVENTS = 1_000_000
DEFAULT_BIDDERS = 1_000
DEFAULT_EVERY = 100_000
_KEY_NAME = "gavel-audit"
_S = 1_000_000


def generate(events: int, bidders: int, every: int, seed: int) -> dict[str, Any]:
    """A bundle of one English auction of at least ``events`` events. O(events)."""
    rng = random.Random(seed)
    starts = 1_800_000_000 * _S
    rules = EnglishRules(
        currency="EUR",
        starts_at=starts,
        ends_at=starts + 10 * 365 * 86_400 * _S,
        start_price=100_000,
        step=Step(amount=100),
    )
    auction = Auction()
    payloads: list[bytes] = []

    def handle(command: Any) -> None:
        payloads.extend(event_bytes(event) for event in auction.handle(command))

    handle(CreateAuction("c-0", starts - 60 * _S, rules))
    names = [f"b{i:05d}" for i in range(bidders)]
    for i, name in enumerate(names):
        handle(RegisterBidder(f"r-{i}", starts - 30 * _S, name))
    at = starts
    handle(Tick("t-0", at))
    best = rules.start_price
    number = 0
    while len(payloads) < events - 1:
        number += 1
        at += rng.randrange(1, 50_000)
        steps = rng.choice((1, 1, 2, 3, 0, -1))
        amount = best + steps * 100
        bidder = rng.choice(names)
        handle(PlaceBid(f"b-{number}", at, bidder, Decimal(amount) / 100, "EUR"))
        best = max(best, amount) if steps > 0 else best
    handle(Tick("t-end", rules.ends_at))
    assert isinstance(auction.ended, AuctionEnded)
    frontier = Frontier()
    origin = log_origin("auction", "bench")
    key = Ed25519PrivateKey.from_private_bytes(bytes(32))
    notes = []
    for size, data in enumerate(payloads, 1):
        frontier.append(leaf_hash(data))
        if size % every == 0 or size == len(payloads):
            notes.append(sign_checkpoint(origin, size, frontier.root(), _KEY_NAME, key))
    return build_bundle(
        kind="auction",
        stream_id="bench",
        origin=origin,
        events=payloads,
        checkpoints=notes,
        keys=[(_KEY_NAME, key.public_key())],
        exported_at=0,
    )


def measure(path: Path) -> dict[str, Any]:
    """Load and verify the bundle at ``path``; the figures."""
    wall, cpu = time.perf_counter(), time.process_time()
    bundle = load_bundle(path)
    load_wall, load_cpu = time.perf_counter() - wall, time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    verified = verify(bundle)
    verify_wall, verify_cpu = time.perf_counter() - wall, time.process_time() - cpu
    total = load_wall + verify_wall
    return {
        "bench": "audit",
        "events": verified.events,
        "checkpoints": verified.checkpoints,
        "result": verified.result,
        "bundle_bytes": path.stat().st_size,
        "load_s": round(load_wall, 3),
        "load_cpu_s": round(load_cpu, 3),
        "verify_s": round(verify_wall, 3),
        "verify_cpu_s": round(verify_cpu, 3),
        "total_s": round(total, 3),
        "total_cpu_s": round(load_cpu + verify_cpu, 3),
        "events_per_s": round(verified.events / total) if total else None,
    }


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """``gavel bench audit [--json] [--events N] [--bidders N] [--every N] [--seed S]``."""
    parser = argparse.ArgumentParser(
        prog="gavel bench audit", description="Time the offline verification of a bundle."
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--events", type=positive, default=DEFAULT_EVENTS, metavar="N")
    parser.add_argument("--bidders", type=positive, default=DEFAULT_BIDDERS, metavar="N")
    parser.add_argument("--every", type=positive, default=DEFAULT_EVERY, metavar="N")
    parser.add_argument("--seed", type=int, default=1, metavar="S")
    args = parser.parse_args(argv)
    out = out or sys.stdout
    with tempfile.TemporaryDirectory(prefix="gavel-bench-audit-") as folder:
        path = Path(folder) / "bundle.json"
        save_bundle(generate(args.events, args.bidders, args.every, args.seed), path)
        figures = measure(path)
    if args.json:
        out.write(json.dumps(figures) + "\n")
    else:
        out.write(
            f"verified {figures['events']:,} events ({figures['bundle_bytes'] / 1e6:.1f} MB, "
            f"{figures['checkpoints']} checkpoints) in {figures['total_s']:.2f} s "
            f"(load {figures['load_s']:.2f} s, verify {figures['verify_s']:.2f} s; "
            f"CPU {figures['total_cpu_s']:.2f} s): {figures['events_per_s']:,} events/s\n"
        )
    return 0
