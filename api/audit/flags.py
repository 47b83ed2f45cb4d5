"""Red flags: patterns in an auction's event log worth a second look (issue 15).

Each flag is a small pure function over the auction's decoded events (in seq order, as
the log holds them: :mod:`engine.events`) returning zero or more :class:`Flag` values;
:func:`red_flags` runs them all (:data:`FLAGS`). A flag names the events behind it
(their seqs), the bidders it is about, the figures that made it fire (amounts in
integer minor units, percentages as :class:`~decimal.Decimal`) and a one-line English
summary for logs and the command line; the auditor's page words them from its catalog.

Flags are **prompts for review, not findings**: each pattern also has innocent causes
(a thin market, a reserve set at the market price, bidders who wait for the end). A flag
that does not apply to a format returns nothing (a Dutch auction has one acceptance, so
no identical offers and no step battles; a sealed bidder sees no other bid, so its
timing and steps say nothing).

Nothing here does I/O or reads a clock. Every flag is O(n) in the events but
``loses_by_one_step``, which looks ahead from each bid of a bidder with enough bids for
the bid that beat it: O(n) per bid in the worst case, O(n²) in all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.events import (
    AuctionCreated,
    AuctionEnded,
    AuctionStarted,
    BidAccepted,
    BidderDisqualified,
    BidderRegistered,
    BidWithdrawn,
    EndExtended,
    Event,
    Outcome,
)
from engine.formats.base import StepRule
from engine.rules import (
    AuctionRules,
    DutchRules,
    EnglishRules,
    MultiRoundRules,
    ReverseRules,
    Side,
)
from engine.scoring import Scoring

__all__ = [
    "FLAGS",
    "LATE_WINDOW_US",
    "MIN_STEP_LOSSES",
    "NEAR_PERCENT",
    "NOTE",
    "Figure",
    "Flag",
    "figures_json",
    "identical_offers",
    "late_bidding",
    "loses_by_one_step",
    "most_disqualified",
    "price_near_reserve",
    "red_flags",
    "single_bidder",
]

#: What the auditor's answers say of every flag.
NOTE = "prompts for review, not findings"

#: A winning price within this percentage of the reserve (sale) or the budget
#: (procurement) fires ``price_near_reserve``: a price that just clears the bar is what a
#: bidder who knew the secret reserve, or bidders sharing the market, would pay. 1 % is
#: tight enough that honest bidding rarely lands there by chance (the usual step is 1 %
#: or more, so an honest final bid is a step or more past the bar more often than not).
NEAR_PERCENT = 1

#: Without a soft close, a bid within this many microseconds (60 s) of the end in force
#: is "late" for ``late_bidding``: too short for others to answer on a human's clock.
#: With a soft close the auction's own window is used instead (a bid there extends the
#: end, which is what the window is for, so only bidding that *waits* for it is odd).
LATE_WINDOW_US = 60_000_000

#: ``loses_by_one_step`` needs at least this many of a bidder's bids, each beaten by
#: exactly one minimum step: once or twice is what honest bidding by the minimum looks
#: like; every time, three times or more, looks like a cover bidder making room.
MIN_STEP_LOSSES = 3

#: One figure: a name and an amount (integer minor units or a count or microseconds) or a
#: percentage (Decimal, exact to two places, rounded half-even).
Figure = tuple[str, int | Decimal]


def figures_json(figures: tuple[Figure, ...]) -> dict[str, Any]:
    """A flag's figures as JSON, by name: amounts as numbers, percentages (Decimal) as
    strings, so no digit is lost to a float."""
    return {name: str(value) if isinstance(value, Decimal) else value for name, value in figures}


@dataclass(frozen=True, slots=True)
class Flag:
    """One red flag: ``code`` (stable, machine-readable), the ``seqs`` of the events
    behind it, the ``bidders`` it is about, the ``figures`` that made it fire, and a
    one-line English ``summary``."""

    code: str
    seqs: tuple[int, ...]
    bidders: tuple[str, ...]
    figures: tuple[Figure, ...]
    summary: str

    def to_json(self) -> dict[str, Any]:
        """The flag as JSON: figures by name, amounts as numbers, percentages as strings."""
        return {
            "code": self.code,
            "seqs": list(self.seqs),
            "bidders": list(self.bidders),
            "figures": figures_json(self.figures),
            "summary": self.summary,
        }


# ----------------------------------------------------------------------------- helpers


def _rules(events: Sequence[Event]) -> tuple[int, AuctionRules] | None:
    first = events[0] if events else None
    return (first.seq, first.rules) if isinstance(first, AuctionCreated) else None


def _side(rules: AuctionRules) -> Side:
    if isinstance(rules, EnglishRules):
        return Side.SALE
    if isinstance(rules, ReverseRules | MultiRoundRules):
        return Side.PROCUREMENT
    return rules.side


def _percent(part: int, whole: int) -> Decimal:
    """``part`` as a percentage of ``whole``, to two places (display; tests use integers)."""
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"))


def _disqualified(events: Sequence[Event]) -> set[str]:
    return {event.bidder for event in events if isinstance(event, BidderDisqualified)}


def _final_offers(events: Sequence[Event]) -> dict[str, tuple[int, int]]:
    """Each bidder's last standing offer: ``bidder -> (price, seq)``. A multi-round tender
    offer counts from its registration; a withdrawn sealed bid and a disqualified bidder's
    offers do not count."""
    offers: dict[str, tuple[int, int]] = {}
    for event in events:
        if isinstance(event, BidderRegistered) and event.initial_bid is not None:
            offers[event.bidder] = (event.initial_bid, event.seq)
        elif isinstance(event, BidAccepted):
            offers[event.bidder] = (event.price, event.seq)
        elif isinstance(event, BidWithdrawn | BidderDisqualified):
            offers.pop(event.bidder, None)
    return offers


def _better(side: Side, price: int, than: int) -> bool:
    return price > than if side is Side.SALE else price < than


# ------------------------------------------------------------------------------- flags


def single_bidder(events: Sequence[Event]) -> tuple[Flag, ...]:
    """One bidder only made offers (a Dutch auction: only one bidder was admitted, since
    its first acceptance ends it anyway). No offers at all is not this flag."""
    found = _rules(events)
    if found is None:
        return ()
    _, rules = found
    out = _disqualified(events)
    if isinstance(rules, DutchRules):
        registered = [e for e in events if isinstance(e, BidderRegistered) and e.bidder not in out]
        if len(registered) != 1:
            return ()
        who = registered[0].bidder
        return (
            Flag(
                "single_bidder",
                (registered[0].seq,),
                (who,),
                (("bidders", 1),),
                f"only {who} was admitted to the Dutch auction",
            ),
        )
    seqs: dict[str, list[int]] = defaultdict(list)
    for event in events:
        if isinstance(event, BidAccepted) or (
            isinstance(event, BidderRegistered) and event.initial_bid is not None
        ):
            seqs[event.bidder].append(event.seq)
    bidders = [who for who in seqs if who not in out]
    if len(bidders) != 1:
        return ()
    who = bidders[0]
    return (
        Flag(
            "single_bidder",
            tuple(seqs[who]),
            (who,),
            (("bidders", 1), ("bids", len(seqs[who]))),
            f"only {who} made offers ({len(seqs[who])})",
        ),
    )


def _reference(rules: AuctionRules) -> int | None:
    """The bar a winning price is measured against: the reserve of a sale, the budget of a
    procurement (a Dutch auction's limit price is either)."""
    if isinstance(rules, DutchRules):
        return rules.limit_price
    if isinstance(rules, EnglishRules):
        return rules.reserve_price
    if isinstance(rules, ReverseRules | MultiRoundRules):
        return rules.start_price
    return rules.reserve_price if rules.side is Side.SALE else rules.start_price


def price_near_reserve(events: Sequence[Event]) -> tuple[Flag, ...]:
    """The awarded price is within :data:`NEAR_PERCENT` of the reserve (a sale) or the
    budget (a procurement), on the right side of it. No reserve or budget: nothing."""
    found = _rules(events)
    # Refused commands may follow the close in the log: look for the close itself.
    ended = next((e for e in reversed(events) if isinstance(e, AuctionEnded)), None)
    if found is None or ended is None:
        return ()
    created, rules = found
    reference = _reference(rules)
    price = ended.price
    if ended.outcome is not Outcome.AWARDED or price is None or reference is None:
        return ()
    side = _side(rules)
    gap = price - reference if side is Side.SALE else reference - price
    if gap < 0 or gap * 100 > reference * NEAR_PERCENT:
        return ()
    winners = ended.winners
    bids = [e.seq for e in events if isinstance(e, BidAccepted) and e.bidder in winners]
    word = "reserve" if side is Side.SALE else "budget"
    percent = _percent(gap, reference)
    return (
        Flag(
            "price_near_reserve",
            (created, *bids[-1:], ended.seq),
            winners,
            (("price", price), (word, reference), ("gap", gap), ("gap_percent", percent)),
            f"the winning price {price} is {percent} % from the {word} {reference}",
        ),
    )


def identical_offers(events: Sequence[Event]) -> tuple[Flag, ...]:
    """Two or more bidders' final offers are the same price (one flag per price). An open
    English sale cannot tie (each bid beats the best) and a Dutch auction has one offer,
    so they never fire."""
    by_price: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for bidder, (price, seq) in _final_offers(events).items():
        by_price[price].append((bidder, seq))
    flags = []
    for price, offers in sorted(by_price.items()):
        if len(offers) < 2:
            continue
        offers.sort(key=lambda offer: offer[1])
        names = tuple(bidder for bidder, _ in offers)
        flags.append(
            Flag(
                "identical_offers",
                tuple(seq for _, seq in offers),
                names,
                (("price", price), ("bidders", len(offers))),
                f"{len(offers)} bidders offered the same price {price}: {', '.join(names)}",
            )
        )
    return tuple(flags)


def late_bidding(events: Sequence[Event]) -> tuple[Flag, ...]:
    """Every bid a bidder placed by hand (or every bid of the auction) came in the final
    window before the end in force at the time: :data:`LATE_WINDOW_US`, or the soft-close
    window. Open English and reverse auctions only (a sealed bidder sees nothing, a Dutch
    or multi-round one bids when the clock or the turn says). Proxy bids are the engine's,
    not the bidder's timing, and are left out."""
    found = _rules(events)
    if found is None or not isinstance(found[1], EnglishRules | ReverseRules):
        return ()
    rules = found[1]
    window = rules.soft_close.window_us if rules.soft_close else LATE_WINDOW_US
    end: int | None = None
    bids: dict[str, list[tuple[int, bool, int]]] = defaultdict(list)
    for event in events:
        if isinstance(event, AuctionStarted | EndExtended):
            end = event.ends_at
        elif isinstance(event, BidAccepted) and not event.proxy and end is not None:
            left = end - event.at
            bids[event.bidder].append((event.seq, left <= window, left))
    if not bids:
        return ()
    every = [bid for placed in bids.values() for bid in placed]
    if all(late for _, late, _ in every) and len(bids) > 1:
        seqs = tuple(sorted(seq for seq, _, _ in every))
        earliest = max(left for _, _, left in every)
        return (
            Flag(
                "late_bidding",
                seqs,
                tuple(sorted(bids)),
                (("window_us", window), ("bids", len(seqs)), ("earliest_left_us", earliest)),
                f"all {len(seqs)} bids came in the last {window // 1_000_000} s before the end",
            ),
        )
    flags = []
    for bidder in sorted(bids):
        placed = bids[bidder]
        if not all(late for _, late, _ in placed):
            continue
        earliest = max(left for _, _, left in placed)
        flags.append(
            Flag(
                "late_bidding",
                tuple(seq for seq, _, _ in placed),
                (bidder,),
                (("window_us", window), ("bids", len(placed)), ("earliest_left_us", earliest)),
                f"all {len(placed)} of {bidder}'s bids came in the last "
                f"{window // 1_000_000} s before the end",
            )
        )
    return tuple(flags)


def loses_by_one_step(events: Sequence[Event]) -> tuple[Flag, ...]:
    """A bidder with at least :data:`MIN_STEP_LOSSES` bids, each one beaten by another
    bidder's hand-placed bid exactly one minimum step better (the first later bid by
    someone else that beats it). Open English and unscored reverse auctions only: a
    proxy's answer is one step by design, so a proxy's beat does not count; sealed, Dutch
    and multi-round auctions have no such race."""
    found = _rules(events)
    if found is None or not isinstance(found[1], EnglishRules | ReverseRules):
        return ()
    rules = found[1]
    if isinstance(rules, ReverseRules) and rules.scoring is not Scoring.NONE:
        return ()
    side = _side(rules)
    step = StepRule(rules.step)
    bids = [event for event in events if isinstance(event, BidAccepted)]
    mine: dict[str, list[BidAccepted]] = defaultdict(list)
    for bid in bids:
        mine[bid.bidder].append(bid)
    flags = []
    for bidder in sorted(mine):
        placed = mine[bidder]
        if len(placed) < MIN_STEP_LOSSES:
            continue
        pairs: list[tuple[BidAccepted, BidAccepted]] = []
        for bid in placed:
            beat = next(
                (
                    later
                    for later in bids
                    if later.seq > bid.seq
                    and later.bidder != bidder
                    and _better(side, later.price, bid.price)
                ),
                None,
            )
            if (
                beat is None
                or beat.proxy
                or abs(beat.price - bid.price) != step.of_price(bid.price)
            ):
                break
            pairs.append((bid, beat))
        else:
            seqs = tuple(sorted({s for pair in pairs for s in (pair[0].seq, pair[1].seq)}))
            rivals = sorted({beat.bidder for _, beat in pairs})
            flags.append(
                Flag(
                    "loses_by_one_step",
                    seqs,
                    (bidder, *rivals),
                    (("bids", len(placed)),),
                    f"each of {bidder}'s {len(placed)} bids was beaten by exactly one step "
                    f"(by {', '.join(rivals)})",
                )
            )
    return tuple(flags)


def most_disqualified(events: Sequence[Event]) -> tuple[Flag, ...]:
    """More than half of the admitted bidders (two or more) were disqualified."""
    registered = [event for event in events if isinstance(event, BidderRegistered)]
    out = [event for event in events if isinstance(event, BidderDisqualified)]
    if len(registered) < 2 or 2 * len(out) <= len(registered):
        return ()
    return (
        Flag(
            "most_disqualified",
            tuple(event.seq for event in out),
            tuple(event.bidder for event in out),
            (("registered", len(registered)), ("disqualified", len(out))),
            f"{len(out)} of {len(registered)} bidders were disqualified",
        ),
    )


#: Every flag, in the order the answers list them.
FLAGS: tuple[Callable[[Sequence[Event]], tuple[Flag, ...]], ...] = (
    single_bidder,
    price_near_reserve,
    identical_offers,
    late_bidding,
    loses_by_one_step,
    most_disqualified,
)


def red_flags(events: Sequence[Event]) -> tuple[Flag, ...]:
    """Every flag :data:`FLAGS` raises on ``events`` (one auction's log, in seq order)."""
    return tuple(flag for check in FLAGS for flag in check(events))
