"""The order book: resting bids, at most one per bidder, best first.

Every format keeps its standing bids here. A bid is ranked by its *key* (lower is
better: ``-price`` for a sale, the score for a procurement), then by its ``seq`` (the
earlier accepted bid wins a tie). Backed by a ``SortedList`` of ``(key, seq, bidder,
price)`` tuples and a dict from bidder to its tuple.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from sortedcontainers import SortedList

__all__ = ["Entry", "OrderBook"]

#: ``(key, seq, bidder, price)``: lower key is better; ``seq`` breaks ties.
Entry = tuple[int | Fraction, int, str, int]


class OrderBook:
    """Resting bids, one per bidder, in rank order.

    >>> book = OrderBook()
    >>> book.place(-100, 1, "a", 100)
    >>> book.place(-120, 2, "b", 120)
    >>> book.best()
    (-120, 2, 'b', 120)
    >>> book.rank_of("a")
    2
    """

    __slots__ = ("_sorted", "_by_bidder", "_best", "_names")

    def __init__(self) -> None:
        self._sorted = SortedList()
        self._by_bidder: dict[str, Entry] = {}
        # The leading entry, cached: reading it is the hottest operation of every format.
        self._best: Entry | None = None
        # One string object per bidder, shared with the registration: a resting bid
        # must not keep its own copy of the name that arrived with the command.
        self._names: dict[str, str] = {}

    def intern(self, bidder: str) -> None:
        """Keep ``bidder``'s string as the one every entry of that bidder uses. O(1)."""
        self._names.setdefault(bidder, bidder)

    def place(self, key: int | Fraction, seq: int, bidder: str, price: int) -> None:
        """Rest ``bidder``'s bid, replacing its earlier one. O(log n)."""
        bidder = self._names.get(bidder, bidder)
        by_bidder = self._by_bidder
        old = by_bidder.get(bidder)
        if old is not None:
            self._sorted.remove(old)
        entry = (key, seq, bidder, price)
        self._sorted.add(entry)
        by_bidder[bidder] = entry
        best = self._best
        if best is None or entry < best:
            self._best = entry
        elif old is best:
            self._best = self._sorted[0]

    def remove(self, bidder: str) -> Entry | None:
        """Take ``bidder``'s bid out and return it (``None`` if it had none). O(log n)."""
        old = self._by_bidder.pop(bidder, None)
        if old is not None:
            self._sorted.remove(old)
            if old is self._best:
                self._best = self._sorted[0] if self._sorted else None
        return old

    def best(self) -> Entry | None:
        """The leading entry, or ``None`` when the book is empty. O(1)."""
        return self._best

    def get(self, bidder: str) -> Entry | None:
        """``bidder``'s resting entry, or ``None``. O(1)."""
        return self._by_bidder.get(bidder)

    def rank_of(self, bidder: str) -> int | None:
        """``bidder``'s 1-based rank, or ``None`` when it has no bid. O(log n)."""
        entry = self._by_bidder.get(bidder)
        return None if entry is None else self._sorted.index(entry) + 1

    def __len__(self) -> int:
        return len(self._by_bidder)

    def __iter__(self) -> Iterator[Entry]:
        """Entries best first. O(n) for the whole walk."""
        return iter(self._sorted)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OrderBook) and list(self._sorted) == list(other._sorted)

    __hash__ = None  # type: ignore[assignment]

    def _check(self) -> None:
        """Assert every invariant; O(n). Stateful tests call it after each step."""
        self._sorted._check()
        assert len(self._sorted) == len(self._by_bidder)
        assert self._best == (self._sorted[0] if self._sorted else None)
        seqs = set()
        for entry in self._sorted:
            assert self._by_bidder[entry[2]] is entry
            assert entry[1] not in seqs
            seqs.add(entry[1])
