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
from engine.auction import Auction, Bidder
from engine.codec import decode_as, to_data
from engine.errors import MalformedRecord
from engine.formats.base import int_field, optional_int_field
from engine.phases import Phase
from engine.scoring import score_from_data, score_to_data

__all__ = ["SNAPSHOT_VERSION", "restore_snapshot", "take_snapshot"]

#: The layout version written by :func:`take_snapshot` (see the module docstring).
SNAPSHOT_VERSION = 1

_RULES = (r.EnglishRules, r.ReverseRules, r.DutchRules, r.SealedRules, r.MultiRoundRules)


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
        "rules": None if auction.rules is None else to_data(auction.rules),
        "bidders": [
            [
                party,
                bidder.label,
                f"{bidder.coefficient.numerator}/{bidder.coefficient.denominator}",
                bidder.cost,
                bidder.initial_bid,
                bidder.disqualified,
            ]
            for party, bidder in auction.bidders.items()
        ],
        # entries(), not iteration: a snapshot must not materialize the book's ranking.
        "book": [
            [score_to_data(key), seq, party, price]
            for key, seq, party, price in auction.book.entries()
        ],
        "format": {} if fmt is None else fmt.snapshot(),
        "ended": None if auction.ended is None else to_data(auction.ended),
    }
    return _canonical(tree)


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
    auction.seq = int_field(tree["seq"])
    auction._now = int_field(tree["now"])
    if tree["rules"] is not None:
        rules = decode_as(_canonical(tree["rules"]), _RULES)
        auction.rules = rules
        auction.fmt = format_for(auction, rules)
    for party, label, coefficient, cost, initial_bid, disqualified in tree["bidders"]:
        if type(party) is not str or type(label) is not str or type(disqualified) is not bool:
            raise TypeError("a bidder's party, label or flag has the wrong type")
        share = score_from_data(coefficient)
        auction.bidders[party] = Bidder(
            label,
            Fraction(share),
            int_field(cost),
            optional_int_field(initial_bid),
            disqualified,
        )
        auction.book.intern(party)
    for key, seq, party, price in tree["book"]:
        if party not in auction.bidders:
            raise ValueError(f"a resting bid of an unknown bidder {party!r}")
        auction.book.place(score_from_data(key), int_field(seq), party, int_field(price))
    if auction.fmt is not None:
        auction.fmt.restore(tree["format"])
    elif tree["format"]:
        raise ValueError("format state without rules")
    if tree["ended"] is not None:
        ended = decode_as(_canonical(tree["ended"]), (e.AuctionEnded,))
        auction.ended = ended
    return auction


def _canonical(tree: Any) -> bytes:
    return json.dumps(tree, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
