"""Worked examples for engine.book: one resting bid per bidder, best (lowest key) first."""

from __future__ import annotations

import doctest
from fractions import Fraction

import pytest

import engine.book
from engine.book import OrderBook


def sale_book(*bids: tuple[str, int]) -> OrderBook:
    """A sale book: key is -price, seq is the position in ``bids`` (1-based)."""
    book = OrderBook()
    for seq, (bidder, price) in enumerate(bids, 1):
        book.place(-price, seq, bidder, price)
    return book


def test_doctests() -> None:
    assert doctest.testmod(engine.book).failed == 0


def test_empty_book() -> None:
    book = OrderBook()
    assert book.best() is None
    assert len(book) == 0
    assert list(book) == []
    assert book.get("ann") is None
    assert book.rank_of("ann") is None
    assert book.remove("ann") is None
    book._check()


def test_higher_price_leads_a_sale() -> None:
    # keys -100 and -120: -120 is lower, so bob's 120 leads
    book = sale_book(("ann", 100), ("bob", 120))
    assert book.best() == (-120, 2, "bob", 120)
    assert book.rank_of("bob") == 1
    assert book.rank_of("ann") == 2
    assert book.get("ann") == (-100, 1, "ann", 100)
    assert len(book) == 2
    book._check()


def test_iteration_is_best_first() -> None:
    # prices 100, 130, 120 rank 130, 120, 100
    book = sale_book(("ann", 100), ("bob", 130), ("cat", 120))
    assert [bidder for _, _, bidder, _ in book] == ["bob", "cat", "ann"]


def test_tie_goes_to_the_earlier_seq_whatever_the_insertion_order() -> None:
    book = OrderBook()
    book.place(-100, 5, "ann", 100)
    # same key, seq 3 < 5: bob was accepted first and leads although placed second
    book.place(-100, 3, "bob", 100)
    assert book.best() == (-100, 3, "bob", 100)
    assert book.rank_of("ann") == 2
    book._check()


def test_procurement_keys_may_mix_ints_and_fractions() -> None:
    book = OrderBook()
    book.place(1000, 1, "ann", 1000)
    # MEAT score 2000/3 = 666.67 < 1000: cat leads
    book.place(Fraction(2000, 3), 2, "cat", 1000)
    # equal score 1000 = Fraction(1000): the earlier seq 1 (ann) stays ahead of seq 3
    book.place(Fraction(1000), 3, "bob", 1100)
    assert [bidder for _, _, bidder, _ in book] == ["cat", "ann", "bob"]
    book._check()


def test_place_replaces_the_bidders_earlier_bid() -> None:
    book = sale_book(("ann", 100), ("bob", 120))
    book.place(-150, 3, "ann", 150)
    # ann still has one entry, now 150 at seq 3, and leads
    assert len(book) == 2
    assert book.get("ann") == (-150, 3, "ann", 150)
    assert book.best() == (-150, 3, "ann", 150)
    assert book.rank_of("bob") == 2
    book._check()


def test_replacing_the_best_with_a_worse_bid_hands_over_the_lead() -> None:
    book = sale_book(("ann", 100), ("bob", 120))
    # bob drops from 120 to 90: ann's 100 now leads
    book.place(-90, 3, "bob", 90)
    assert book.best() == (-100, 1, "ann", 100)
    assert book.rank_of("bob") == 2
    book._check()


def test_replacing_a_trailing_bid_keeps_the_leader() -> None:
    book = sale_book(("ann", 100), ("bob", 120))
    # ann goes 100 -> 110, still below 120
    book.place(-110, 3, "ann", 110)
    assert book.best() == (-120, 2, "bob", 120)
    assert book.rank_of("ann") == 2
    book._check()


def test_remove_the_best_promotes_the_runner_up() -> None:
    book = sale_book(("ann", 100), ("bob", 120), ("cat", 110))
    assert book.remove("bob") == (-120, 2, "bob", 120)
    # left: cat 110, ann 100
    assert book.best() == (-110, 3, "cat", 110)
    assert book.get("bob") is None
    assert book.rank_of("bob") is None
    assert len(book) == 2
    book._check()


def test_remove_a_trailing_bid_keeps_the_leader() -> None:
    book = sale_book(("ann", 100), ("bob", 120))
    assert book.remove("ann") == (-100, 1, "ann", 100)
    assert book.best() == (-120, 2, "bob", 120)
    book._check()


def test_remove_the_last_bid_empties_the_book() -> None:
    book = sale_book(("ann", 100))
    book.remove("ann")
    assert book.best() is None
    assert len(book) == 0
    book._check()


def test_remove_unknown_bidder_changes_nothing() -> None:
    book = sale_book(("ann", 100))
    assert book.remove("zed") is None
    assert book == sale_book(("ann", 100))


def test_equal_books_hold_the_same_entries_whatever_the_history() -> None:
    direct = sale_book(("ann", 100), ("bob", 120))
    # same final entries reached through a replaced and a removed bid
    detour = OrderBook()
    detour.place(-50, 1, "ann", 50)
    detour.place(-120, 2, "bob", 120)
    detour.place(-70, 7, "cat", 70)
    detour.place(-100, 1, "ann", 100)
    detour.remove("cat")
    assert detour == direct


def test_books_differ_by_any_field() -> None:
    book = sale_book(("ann", 100))
    assert book != sale_book(("ann", 101))
    assert book != sale_book(("bob", 100))
    assert book != OrderBook()
    assert book != [(-100, 1, "ann", 100)]


def test_book_is_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(OrderBook())


def test_check_catches_an_entry_missing_from_the_index() -> None:
    book = sale_book(("ann", 100), ("bob", 120))
    del book._slots["ann"]
    with pytest.raises(AssertionError):
        book._check()


def test_check_catches_a_stale_index_entry() -> None:
    book = sale_book(("ann", 100))
    assert book.rank_of("ann") == 1  # materializes the ranking
    book._slots["ann"] = (-100, 1, "".join(["an", "n"]), 100)  # equal, not the ranked tuple
    with pytest.raises(AssertionError):
        book._check()


def test_check_catches_a_slot_under_another_name() -> None:
    book = sale_book(("ann", 100))
    book._slots["bob"] = "ann"
    with pytest.raises(AssertionError):
        book._check()


def test_beating_the_best_never_materializes_the_ranking() -> None:
    book = sale_book(*((f"b{i % 3}", 100 + i) for i in range(10)))
    assert book._ranking is None
    assert book.best() == (-109, 10, "b0", 109)
    assert len(book) == 3
    book._check()


def test_a_materialized_ranking_follows_every_change() -> None:
    book = sale_book(("ann", 100), ("bob", 120), ("cat", 110))
    assert book.rank_of("ann") == 3
    book.place(-130, 4, "ann", 130)
    book.place(-105, 5, "dan", 105)
    book.remove("bob")
    book._check()
    assert [entry[2] for entry in book] == ["ann", "cat", "dan"]
    assert book.rank_of("dan") == 3


def test_losing_the_best_to_a_worse_replacement_finds_the_next_best() -> None:
    book = sale_book(("ann", 100), ("bob", 120))
    book.place(-90, 3, "bob", 90)  # a sealed bid replaced by a lower one
    assert book.best() == (-100, 1, "ann", 100)
    book._check()


def test_entries_share_the_registered_name() -> None:
    book = OrderBook()
    registered = "".join(["a", "nn"])
    book.intern(registered)
    book.place(-100, 1, "".join(["an", "n"]), 100)
    entry = book.get("ann")
    assert entry is not None and entry[2] is registered
    book.remove("ann")
    book.place(-90, 2, "".join(["a", "n", "n"]), 90)
    entry = book.get("ann")
    assert entry is not None and entry[2] is registered
    book._check()


def test_check_catches_a_repeated_seq() -> None:
    book = OrderBook()
    book.place(-100, 1, "ann", 100)
    book.place(-90, 1, "bob", 90)  # two bids cannot have been accepted by one event
    with pytest.raises(AssertionError):
        book._check()
