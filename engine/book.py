"""The order book: resting bids, at most one per bidder, best first.

Every format keeps its standing bids here. A bid is ranked by its *key* (lower is
better: ``-price`` for a sale, the score for a procurement), then by its ``seq`` (the
earlier accepted bid wins a tie). An entry is the tuple ``(key, seq, bidder, price)``.

Layout, chosen for the hot path of open auctions (a bid that beats the best):

- one dict from each registered bidder to its resting entry, or to the bidder's own
  registered name while it has none (so the registration's slot is the bid's slot, and
  every entry shares the registered string instead of the copy its command carried);
- the best entry, cached: reading it is the hottest operation of every format;
- the full ranking as a ``SortedList``, *materialized on first need* (iteration,
  ``rank_of``, losing the best to a withdrawal or a worse replacement) and from then on
  kept in step by every change. An open auction that nobody ranks until its close never
  pays the ``SortedList`` remove and add per bid; a ranked one pays O(log n) as before.
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

    __slots__ = ("_slots", "_count", "_best", "_ranking")

    def __init__(self) -> None:
        # bidder -> its resting entry, or its registered name (a str) while it has none.
        self._slots: dict[str, Entry | str] = {}
        self._count = 0
        self._best: Entry | None = None
        # Every entry in rank order; None until first needed (see the module docstring).
        self._ranking: SortedList | None = None

    def intern(self, bidder: str) -> None:
        """Give ``bidder`` its slot; every entry of that bidder shares this string. O(1)."""
        self._slots.setdefault(bidder, bidder)

    def place(self, key: int | Fraction, seq: int, bidder: str, price: int) -> None:
        """Rest ``bidder``'s bid, replacing its earlier one. O(1), or O(log n) once ranked."""
        slots = self._slots
        current = slots.get(bidder)
        old: Entry | None = None
        if type(current) is tuple:
            old = current
            bidder = current[2]
        elif current is not None:
            bidder = current  # type: ignore[assignment]
        entry = (key, seq, bidder, price)
        slots[bidder] = entry
        ranking = self._ranking
        if ranking is not None:
            if old is not None:
                ranking.remove(old)
            ranking.add(entry)
        if old is None:
            self._count += 1
        best = self._best
        if best is None or entry < best:
            self._best = entry
        elif old is best:
            self._best = self._ranked()[0]

    def remove(self, bidder: str) -> Entry | None:
        """Take ``bidder``'s bid out and return it (``None`` if it had none). O(log n)."""
        old = self._slots.get(bidder)
        if type(old) is not tuple:
            return None
        ranking = self._ranked()
        ranking.remove(old)
        self._slots[bidder] = old[2]
        self._count -= 1
        if old is self._best:
            self._best = ranking[0] if ranking else None
        return old

    def best(self) -> Entry | None:
        """The leading entry, or ``None`` when the book is empty. O(1)."""
        return self._best

    def get(self, bidder: str) -> Entry | None:
        """``bidder``'s resting entry, or ``None``. O(1)."""
        entry = self._slots.get(bidder)
        return entry if type(entry) is tuple else None

    def rank_of(self, bidder: str) -> int | None:
        """``bidder``'s 1-based rank, or ``None`` when it has no bid. O(log n) once ranked."""
        entry = self.get(bidder)
        return None if entry is None else self._ranked().index(entry) + 1

    def _ranked(self) -> SortedList:
        """The ranking, materialized now if it was not yet: O(n log n) once, then O(1)."""
        ranking = self._ranking
        if ranking is None:
            ranking = self._ranking = SortedList(self.entries())
        return ranking

    def entries(self) -> Iterator[Entry]:
        """Every resting entry in no particular order, without ranking them. O(n)."""
        return (entry for entry in self._slots.values() if type(entry) is tuple)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Entry]:
        """Entries best first. O(n) for the whole walk."""
        return iter(self._ranked())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OrderBook) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def _check(self) -> None:
        """Assert every invariant; O(n log n). Stateful tests call it after each step."""
        entries = list(self.entries())
        assert len(entries) == self._count
        assert self._best == (min(entries) if entries else None)
        for name, value in self._slots.items():
            assert (value[2] if type(value) is tuple else value) == name
        if self._ranking is not None:
            self._ranking._check()
            assert list(self._ranking) == sorted(entries)
            for entry in self._ranking:
                assert self._slots[entry[2]] is entry
        seqs = {entry[1] for entry in entries}
        assert len(seqs) == len(entries)
        # Materializing gives the same order the incremental ranking would have kept.
        assert list(SortedList(entries)) == sorted(entries)
