"""What a strategy may bid: the direction an offer improves, its private value, and the
legality of an action in a :class:`~bidders_sim.strategy.View`.

Every strategy asks these before it answers, so none ever returns a bid past its value or
one its format cannot take. All functions are pure and O(1); amounts are integer minor
units.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Literal

from bidders_sim.strategy import Accept, Action, Bid, Pass, Proxy, View

__all__ = [
    "OPEN_CRY",
    "Share",
    "affordable",
    "as_fraction",
    "better_than",
    "is_legal",
    "no_worse",
    "open_bid",
    "toward",
]

#: The formats with a standing best that anyone may improve at any time.
OPEN_CRY = ("english", "reverse")

Better = Literal["higher", "lower"]

#: A fraction-valued parameter as a caller may give it: ``"0.9"``, ``Decimal("0.9")``,
#: ``Fraction(9, 10)``, ``1`` or ``0.9``.
Share = Fraction | Decimal | int | str | float


def no_worse(better: Better, amount: int, than: int) -> bool:
    """Is ``amount`` at least as good an offer as ``than``? (sale: ``>=``; buy: ``<=``)"""
    return amount >= than if better == "higher" else amount <= than


def better_than(better: Better, amount: int, than: int) -> bool:
    """Is ``amount`` a strictly better offer than ``than``?"""
    return amount > than if better == "higher" else amount < than


def affordable(better: Better, amount: int, value: int) -> bool:
    """Is ``amount`` within the private ``value`` (a buyer pays at most it; a seller on a
    procurement takes at least it)?"""
    return no_worse(better, value, amount)


def toward(better: Better, base: int, by: int) -> int:
    """``base`` moved ``by`` minor units in the improving direction (``by`` may be 0)."""
    return base + by if better == "higher" else base - by


def as_fraction(number: Share) -> Fraction:
    """A parameter as an exact fraction: ``"0.9"``, ``Decimal("0.9")``, ``Fraction(9, 10)``
    or ``1``. A float is read through its shortest ``repr`` (``0.9`` -> ``9/10``)."""
    if isinstance(number, float):
        return Fraction(repr(number))
    return Fraction(number)


def open_bid(view: View) -> int | None:
    """The least improving amount a bidder may bid now, if it may bid at all."""
    if view.phase != "running":
        return None
    return view.next_valid


def is_legal(view: View, action: Action, value: int) -> bool:
    """Whether ``action`` is one the auction can take now within ``value``. O(1).

    The invariant every strategy keeps (the property test checks it): a :class:`Bid` only
    where bids are taken, no worse than ``next_valid`` and within value; a :class:`Proxy`
    only open-cry, a limit within value that can lead; an :class:`Accept` only of the Dutch
    clock's price within value; a :class:`Pass` only on the bidder's own multi-round turn.
    """
    better = view.better
    running = view.phase == "running"
    if isinstance(action, Bid):
        floor = view.next_valid
        return (
            running
            and view.format != "dutch"
            and floor is not None
            and (view.format != "multi_round" or view.my_turn)
            and action.amount > 0
            and no_worse(better, action.amount, floor)
            and affordable(better, action.amount, value)
        )
    if isinstance(action, Proxy):
        floor = view.next_valid
        return (
            running
            and view.format in OPEN_CRY
            and floor is not None
            and affordable(better, action.limit, value)
            and no_worse(better, action.limit, floor)
        )
    if isinstance(action, Accept):
        return (
            running
            and view.format == "dutch"
            and view.dutch_price is not None
            and action.expected == view.dutch_price
            and affordable(better, action.expected, value)
        )
    if isinstance(action, Pass):
        return running and view.format == "multi_round" and view.my_turn
    return False  # pragma: no cover - Action is closed
