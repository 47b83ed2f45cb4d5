"""``gavel bench snapshot``: what a snapshot costs and what it saves at recovery.

Workload
--------
The English and reverse streams of ``gavel bench engine`` (1,000 bidders near the live
best price, proxies, soft close), cut after ``--events`` events (100,000) while the
auction is still running: the state a server holds when it takes a snapshot or restarts.

What is timed (median of ``--repeat`` runs, wall clock of this process)
-----------------------------------------------------------------------
- ``take_ms``: :func:`engine.snapshot.take_snapshot`, what the runner pays every
  ``GAVEL_SNAPSHOT_EVERY`` events;
- ``restore_ms``: :func:`engine.snapshot.restore_snapshot`, checks included;
- ``replay_ms``: what recovery does without a snapshot, minus the database read: decode
  every stored event (:func:`engine.codec.decode_event`) and fold them
  (:func:`engine.replay`).

Both recoveries end in an auction equal to the live one (checked). Generation is not
timed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from engine import Auction, Phase, replay
from engine.codec import decode_event, encode_event
from engine.snapshot import restore_snapshot, take_snapshot

__all__ = ["main", "measure"]

DEFAULT_EVENTS = 100_000
DEFAULT_BIDDERS = 1_000


def _running_auction(fmt: str, events: int, bidders: int) -> tuple[Auction, list[bytes]]:
    from loadtests.bench_engine import _Feed, _workload

    auction = Auction()
    stored: list[bytes] = []
    for command in _Feed(_workload(fmt, seed=1, bidders=bidders), 10 * events + 10_000):
        if command is None:
            auction, stored = Auction(), []
            continue
        stored += [encode_event(event) for event in auction.handle(command)]
        if len(stored) >= events and auction.phase is Phase.RUNNING:
            return auction, stored
    raise RuntimeError(f"the {fmt} stream ended before {events} events")  # pragma: no cover


def _median_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1e3, 2)


def measure(fmt: str, events: int, bidders: int, repeat: int) -> dict[str, Any]:
    """The figures of one format (see the module docstring). O(events)."""
    auction, stored = _running_auction(fmt, events, bidders)
    snapshot = take_snapshot(auction)
    assert restore_snapshot(snapshot) == auction
    assert replay([decode_event(row) for row in stored]) == auction
    return {
        "bench": "snapshot",
        "format": fmt,
        "events": len(stored),
        "bidders": len(auction.bidders),
        "resting_bids": len(auction.book),
        "snapshot_bytes": len(snapshot),
        "take_ms": _median_ms(lambda: take_snapshot(auction), repeat),
        "restore_ms": _median_ms(lambda: restore_snapshot(snapshot), repeat),
        "replay_ms": _median_ms(
            lambda: replay([decode_event(row) for row in stored]), max(1, repeat // 2)
        ),
    }


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """``gavel bench snapshot [--json] [--events N] [--bidders N] [--repeat N]``."""
    parser = argparse.ArgumentParser(
        prog="gavel bench snapshot",
        description="Snapshot cost against a replay of the whole log.",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per format")
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--bidders", type=int, default=DEFAULT_BIDDERS)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    if min(args.events, args.bidders, args.repeat) < 1:
        parser.error("--events, --bidders and --repeat must be positive")
    out = sys.stdout if out is None else out
    for fmt in ("english", "reverse"):
        figures = measure(fmt, args.events, args.bidders, args.repeat)
        if args.json:
            out.write(json.dumps(figures) + "\n")
        else:
            out.write(
                f"{fmt}: {figures['events']:,} events, {figures['resting_bids']:,} resting "
                f"bids: snapshot {figures['snapshot_bytes']:,} bytes, take "
                f"{figures['take_ms']} ms, restore {figures['restore_ms']} ms; decoding and "
                f"replaying the log {figures['replay_ms']} ms\n"
            )
        out.flush()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
