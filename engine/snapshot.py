"""Snapshots: an auction's whole folded state as canonical bytes, and back.

A snapshot taken after event ``seq`` lets recovery skip the events up to ``seq``:
:func:`restore_snapshot`, then ``apply`` the events after it. Two promises, checked
after every step of every format by the stateful tests (``tests/engine/test_stateful.py``):

- ``restore_snapshot(take_snapshot(a)) == a`` with the same clock (``now``), and the
  restored auction decides every later command exactly as ``a`` does (same events);
- ``take_snapshot(restore_snapshot(b)) == b`` for every ``b`` it accepts.

Layout: canonical JSON (keys sorted, no white space, UTF-8)::

    {"v": 1, "seq": 42, "phase": "running", "now": 1700000000000000,
     "rules": <the rules record, as in AuctionCreated> | null,
     "bidders": [[party, label, coefficient "n/d", cost, initial_bid | null,
                  disqualified], ...]                      # registration order
     "book": [[key, seq, party, price], ...],              # registration order
     "format": {...},                                      # Format.snapshot()
     "ended": <the AuctionEnded record> | null}

Keys are ints, or ``"n/d"`` strings for exact fractional scores. The version ``v``
changes whenever the layout or the meaning of any field changes: a snapshot of another
version is refused (``MalformedRecord``), and recovery then replays the whole log, which
is always correct, only slower. A snapshot is a cache of the log, never a source of
truth. Both directions are O(bidders + resting bids).
"""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

from engine import events as e
from engine import rules as r
from engine.auction import Auction
from engine.bidder import Bidder
from engine.codec import dumps, from_data, to_data
from engine.errors import MalformedRecord
from engine.phases import Phase
from engine.scoring import Score

__all__ = ["SNAPSHOT_VERSION", "restore_snapshot", "take_snapshot"]

#: The layout version written by :func:`take_snapshot` (see the module docstring).
SNAPSHOT_VERSION = 1


def take_snapshot(auction: Auction) -> bytes:
    """The canonical bytes of ``auction``'s folded state. O(bidders + resting bids).

    Call between commands (never from inside ``handle``); the auction is not changed.
    """
    fmt = auction.fmt
    tree = {
        "v": SNAPSHOT_VERSION,
        "seq": auction.seq,
        "phase": auction.phase.value,
        "now": auction.now,
        "rules": to_data(auction.rules),
        "bidders": [
            [
                party,
                bidder.label,
                to_data(bidder.coefficient),
                bidder.cost,
                bidder.initial_bid,
                bidder.disqualified,
            ]
            for party, bidder in auction.bidders.items()
        ],
        # entries(), not iteration: a snapshot must not materialize the book's ranking.
        "book": [to_data(entry) for entry in auction.book.entries()],
        "format": {} if fmt is None else fmt.snapshot(),
        "ended": to_data(auction.ended),
    }
    return dumps(tree)


def restore_snapshot(data: bytes) -> Auction:
    """The auction whose snapshot is ``data``. O(bidders + resting bids).

    Raises :class:`~engine.errors.MalformedRecord` for bytes :func:`take_snapshot` did
    not write (other versions, broken JSON, wrong types, a state that breaks the
    auction's invariants).
    """
    try:
        tree = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise MalformedRecord(f"snapshot is not JSON: {error}") from None
    if not isinstance(tree, dict) or tree.get("v") != SNAPSHOT_VERSION:
        raise MalformedRecord(f"not a version {SNAPSHOT_VERSION} snapshot")
    try:
        auction = _restore(tree)
        auction._check()
        if take_snapshot(auction) != data:
            raise MalformedRecord("snapshot is not in canonical form")
    except MalformedRecord:
        raise
    except (AssertionError, KeyError, TypeError, ValueError, IndexError) as error:
        raise MalformedRecord(f"not a snapshot this engine wrote: {error!r}") from None
    return auction


def _restore(tree: dict[str, Any]) -> Auction:
    from engine.formats import format_for

    expected = {"v", "seq", "phase", "now", "rules", "bidders", "book", "format", "ended"}
    if set(tree) != expected:
        raise KeyError(f"snapshot fields {sorted(tree)}")
    auction = Auction()
    auction.phase = Phase(tree["phase"])
    auction.seq = from_data(int, tree["seq"], "seq")
    auction._now = from_data(int, tree["now"], "now")
    rules = from_data(r.AuctionRules | None, tree["rules"], "rules")
    if rules is not None:
        auction.rules = rules
        auction.fmt = format_for(auction, rules)
    for party, label, coefficient, cost, initial_bid, disqualified in tree["bidders"]:
        party = from_data(str, party, "bidders")
        auction.bidders[party] = Bidder(
            from_data(str, label, "bidders"),
            Fraction(from_data(Score, coefficient, "bidders")),
            from_data(int, cost, "bidders"),
            from_data(int | None, initial_bid, "bidders"),
            from_data(bool, disqualified, "bidders"),
        )
        auction.book.intern(party)
    for key, seq, party, price in tree["book"]:
        if party not in auction.bidders:
            raise ValueError(f"a resting bid of an unknown bidder {party!r}")
        score = from_data(Score, key, "score")
        auction.book.place(score, from_data(int, seq, "book"), party, from_data(int, price, "book"))
    if auction.fmt is not None:
        auction.fmt.restore(tree["format"])
    elif tree["format"]:
        raise ValueError("format state without rules")
    auction.ended = from_data(e.AuctionEnded | None, tree["ended"], "ended")
    return auction
