"""Red flags of a sealed tender: patterns in its event log worth a second look (issue 15).

The tender counterpart of :mod:`api.audit.flags`: each flag is a small pure function over
the tender's decoded events (in seq order: :mod:`engine.tender_records`) returning zero or
more :class:`TenderFlag` values, one per lot it fires for; :func:`tender_red_flags` runs
them all (:data:`TENDER_FLAGS`). A flag names its lot, the events behind it (their seqs),
the bidders it is about, the figures that made it fire (amounts in integer minor units,
percentages as :class:`~decimal.Decimal`, times in microseconds) and a one-line English
summary; the auditor's page words them from its catalog.

Flags are **prompts for review, not findings** (:data:`~api.audit.flags.NOTE`): a single
offer may be a thin market, identical prices a published price list, late envelopes
suppliers who polish their offers to the last minute.

What an offer is here: a bidder's envelopes standing in a lot when it closed (received,
not withdrawn, the last of each kind); a *price* is an opened financial envelope's
(``EnvelopeOpened`` of kind ``financial``). Nothing here does I/O or reads a clock; every
flag is O(n) in the events (``best_offer_excluded`` O(n + lots · offers)).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from api.audit.flags import NEAR_PERCENT, NOTE, Figure, figures_json
from engine.money import CURRENCIES, to_minor
from engine.tender_records import (
    BidderExcluded,
    EnvelopeInvalid,
    EnvelopeKind,
    EnvelopeOpened,
    EnvelopeReceived,
    EnvelopeWithdrawn,
    LotAwarded,
    LotClosed,
    LotHandedOff,
    ScheduleChanged,
    TenderCreated,
    TenderEvent,
)

__all__ = [
    "LATE_WINDOW_US",
    "NEAR_PERCENT",
    "NOTE",
    "TENDER_FLAGS",
    "TenderFlag",
    "best_offer_excluded",
    "deadline_moved_after_offers",
    "identical_prices",
    "late_offers",
    "most_excluded",
    "price_near_budget",
    "single_offer",
    "tender_red_flags",
]

#: Every offer of a lot (two or more bidders) received within this many microseconds
#: (5 minutes) before the deadline in force fires ``late_offers``. A sealed bidder sees no
#: rival, so one late bidder says little; a whole market that waits for the last minutes
#: is what bidders who share a deadline-day price (or a leaked one) look like.
LATE_WINDOW_US = 5 * 60 * 1_000_000

_FINANCIAL = EnvelopeKind.FINANCIAL


@dataclass(frozen=True, slots=True)
class TenderFlag:
    """One red flag of a tender's lot: ``code`` (stable, machine-readable), the ``lot``,
    the ``seqs`` of the events behind it, the ``bidders`` it is about, the ``figures``
    that made it fire, and a one-line English ``summary``."""

    code: str
    lot: str
    seqs: tuple[int, ...]
    bidders: tuple[str, ...]
    figures: tuple[Figure, ...]
    summary: str

    def to_json(self) -> dict[str, Any]:
        """The flag as JSON: figures by name, amounts as numbers, percentages as strings."""
        return {
            "code": self.code,
            "lot": self.lot,
            "seqs": list(self.seqs),
            "bidders": list(self.bidders),
            "figures": figures_json(self.figures),
            "summary": self.summary,
        }


# ----------------------------------------------------------------------------- helpers


@dataclass(slots=True)
class _Lot:
    """What the flags need of one lot, folded from the log."""

    deadline: int
    #: (bidder, kind) -> the EnvelopeReceived standing now (withdrawn ones removed).
    standing: dict[tuple[str, EnvelopeKind], EnvelopeReceived] = field(default_factory=dict)
    #: The deadline in force when each standing envelope was received.
    due: dict[tuple[str, EnvelopeKind], int] = field(default_factory=dict)
    received: list[EnvelopeReceived] = field(default_factory=list)
    closed: LotClosed | None = None
    #: bidder -> its opened financial envelope.
    prices: dict[str, EnvelopeOpened] = field(default_factory=dict)
    invalid: dict[str, EnvelopeInvalid] = field(default_factory=dict)
    excluded: dict[str, BidderExcluded] = field(default_factory=dict)
    moved: list[ScheduleChanged] = field(default_factory=list)
    decision: LotAwarded | LotHandedOff | None = None

    def bidders(self) -> list[str]:
        """The bidders with an envelope standing, in the order of their first."""
        seen: dict[str, int] = {}
        for (bidder, _), event in self.standing.items():
            seen[bidder] = min(seen.get(bidder, event.seq), event.seq)
        return sorted(seen, key=seen.__getitem__)


def _fold(events: Sequence[TenderEvent]) -> tuple[TenderCreated | None, dict[str, _Lot]]:
    """The tender's creation and its lots as the flags see them; O(n)."""
    created = events[0] if events and isinstance(events[0], TenderCreated) else None
    if created is None:
        return None, {}
    lots = {spec.lot: _Lot(spec.deadline) for spec in created.spec.lots}
    for event in events:
        lot = lots.get(getattr(event, "lot", ""))
        if lot is None:
            continue
        if isinstance(event, ScheduleChanged):
            lot.deadline = event.deadline
            if lot.received:
                lot.moved.append(event)
        elif isinstance(event, EnvelopeReceived):
            lot.received.append(event)
            lot.standing[event.bidder, event.kind] = event
            lot.due[event.bidder, event.kind] = lot.deadline
        elif isinstance(event, EnvelopeWithdrawn):
            lot.standing.pop((event.bidder, event.kind), None)
            lot.due.pop((event.bidder, event.kind), None)
        elif isinstance(event, LotClosed):
            lot.closed = event
        elif isinstance(event, EnvelopeOpened) and event.kind is _FINANCIAL:
            if event.price is not None:
                lot.prices[event.bidder] = event
        elif isinstance(event, EnvelopeInvalid):
            lot.invalid.setdefault(event.bidder, event)
        elif isinstance(event, BidderExcluded):
            lot.excluded[event.bidder] = event
        elif isinstance(event, LotAwarded | LotHandedOff):
            lot.decision = event
    return created, lots


def _percent(part: int, whole: int) -> Decimal:
    """``part`` as a percentage of ``whole``, to two places (display; tests use integers)."""
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"))


def _budget(created: TenderCreated) -> int | None:
    """The tender's budget in minor units: the ceiling (``start_price``) of the multi-round
    template its lots hand off to, the only budget a tender states; None without one."""
    try:
        template = json.loads(created.spec.auction_rules or "{}")
        text = template.get("start_price") if isinstance(template, dict) else None
        currency = created.spec.currency
        if not isinstance(text, str) or currency not in CURRENCIES:
            return None
        minor = to_minor(Decimal(text), currency, 10**18)
    except (ValueError, InvalidOperation):
        return None
    return minor if isinstance(minor, int) else None


# ------------------------------------------------------------------------------- flags


def single_offer(events: Sequence[TenderEvent]) -> tuple[TenderFlag, ...]:
    """A lot closed with one bidder's envelopes standing in it (none is not this flag)."""
    _, lots = _fold(events)
    flags = []
    for name, lot in lots.items():
        bidders = lot.bidders()
        if lot.closed is None or len(bidders) != 1:
            continue
        who = bidders[0]
        seqs = sorted(e.seq for (b, _), e in lot.standing.items() if b == who)
        flags.append(
            TenderFlag(
                "single_offer",
                name,
                (*seqs, lot.closed.seq),
                (who,),
                (("bidders", 1),),
                f"lot {name} closed with one offer, {who}'s",
            )
        )
    return tuple(flags)


def price_near_budget(events: Sequence[TenderEvent]) -> tuple[TenderFlag, ...]:
    """A lot's decided price (the award's, or the best price handed off to the auction)
    is within :data:`NEAR_PERCENT` of the budget, at or under it: what bidders who knew
    the budget, or shared the market, would offer. The budget is the multi-round
    template's ``start_price``; a tender that states none never fires."""
    created, lots = _fold(events)
    budget = None if created is None else _budget(created)
    if created is None or budget is None or budget <= 0:
        return ()
    flags = []
    for name, lot in lots.items():
        decision = lot.decision
        if decision is None or not decision.ranking:
            continue
        best = decision.ranking[0]
        price = decision.price if isinstance(decision, LotAwarded) else best.price
        if price is None:
            continue
        gap = budget - price
        if gap < 0 or gap * 100 > budget * NEAR_PERCENT:
            continue
        percent = _percent(gap, budget)
        opened = lot.prices.get(best.bidder)
        flags.append(
            TenderFlag(
                "price_near_budget",
                name,
                (created.seq, *([opened.seq] if opened else []), decision.seq),
                (best.bidder,),
                (("price", price), ("budget", budget), ("gap", gap), ("gap_percent", percent)),
                f"lot {name}: the price {price} is {percent} % under the budget {budget}",
            )
        )
    return tuple(flags)


def identical_prices(events: Sequence[TenderEvent]) -> tuple[TenderFlag, ...]:
    """Two or more bidders' opened financial offers in a lot name the same price (one flag
    per lot and price): sealed offers that agree to the minor unit."""
    _, lots = _fold(events)
    flags = []
    for name, lot in lots.items():
        by_price: dict[int, list[EnvelopeOpened]] = defaultdict(list)
        for opened in lot.prices.values():
            assert opened.price is not None  # _fold keeps priced ones only
            by_price[opened.price].append(opened)
        for price, same in sorted(by_price.items()):
            if len(same) < 2:
                continue
            same.sort(key=lambda event: event.seq)
            names = tuple(event.bidder for event in same)
            flags.append(
                TenderFlag(
                    "identical_prices",
                    name,
                    tuple(event.seq for event in same),
                    names,
                    (("price", price), ("bidders", len(same))),
                    f"lot {name}: {len(same)} bidders offered the same price {price}: "
                    f"{', '.join(names)}",
                )
            )
    return tuple(flags)


def late_offers(events: Sequence[TenderEvent]) -> tuple[TenderFlag, ...]:
    """Every envelope standing in a lot (of two or more bidders) was received within
    :data:`LATE_WINDOW_US` before the deadline in force when it came."""
    _, lots = _fold(events)
    flags = []
    for name, lot in lots.items():
        if len(lot.bidders()) < 2:
            continue
        left = {key: lot.due[key] - event.at for key, event in lot.standing.items()}
        if not all(0 <= gap <= LATE_WINDOW_US for gap in left.values()):
            continue
        seqs = tuple(sorted(event.seq for event in lot.standing.values()))
        earliest = max(left.values())
        flags.append(
            TenderFlag(
                "late_offers",
                name,
                seqs,
                tuple(lot.bidders()),
                (
                    ("window_us", LATE_WINDOW_US),
                    ("envelopes", len(seqs)),
                    ("earliest_left_us", earliest),
                ),
                f"lot {name}: all {len(seqs)} envelopes came in the last "
                f"{LATE_WINDOW_US // 60_000_000} minutes before the deadline",
            )
        )
    return tuple(flags)


def most_excluded(events: Sequence[TenderEvent]) -> tuple[TenderFlag, ...]:
    """More than half of a lot's bidders (two or more) were excluded by the committee or
    had an envelope found invalid at the opening: most offers never ranked."""
    _, lots = _fold(events)
    flags = []
    for name, lot in lots.items():
        bidders = lot.bidders()
        out = [b for b in bidders if b in lot.excluded or b in lot.invalid]
        if len(bidders) < 2 or 2 * len(out) <= len(bidders):
            continue
        behind = [lot.excluded.get(b) or lot.invalid[b] for b in out]
        flags.append(
            TenderFlag(
                "most_excluded",
                name,
                tuple(sorted(event.seq for event in behind)),
                tuple(out),
                (
                    ("bidders", len(bidders)),
                    ("excluded", sum(b in lot.excluded for b in out)),
                    ("invalid", sum(b not in lot.excluded for b in out)),
                ),
                f"lot {name}: {len(out)} of {len(bidders)} bidders' offers were excluded "
                "or invalid",
            )
        )
    return tuple(flags)


def best_offer_excluded(events: Sequence[TenderEvent]) -> tuple[TenderFlag, ...]:
    """The committee excluded the bidder with the lowest opened price of a lot after
    that price was opened: an exclusion decided with the prices in view."""
    _, lots = _fold(events)
    flags = []
    for name, lot in lots.items():
        for bidder, exclusion in lot.excluded.items():
            opened = lot.prices.get(bidder)
            if opened is None or opened.seq > exclusion.seq or opened.price is None:
                continue
            rivals = [
                o.price
                for b, o in lot.prices.items()
                if b != bidder and o.seq < exclusion.seq and o.price is not None
            ]
            if not rivals or opened.price >= min(rivals):
                continue
            flags.append(
                TenderFlag(
                    "best_offer_excluded",
                    name,
                    (opened.seq, exclusion.seq),
                    (bidder,),
                    (("price", opened.price), ("next_price", min(rivals))),
                    f"lot {name}: {bidder}, the lowest price ({opened.price}), was excluded "
                    "after the prices were opened",
                )
            )
    return tuple(flags)


def deadline_moved_after_offers(events: Sequence[TenderEvent]) -> tuple[TenderFlag, ...]:
    """A lot's schedule was changed after envelopes had come in for it: the bidders who
    had not yet submitted got time the others had not planned on."""
    _, lots = _fold(events)
    flags = []
    for name, lot in lots.items():
        if not lot.moved:
            continue
        first = lot.moved[0]
        before = [e for e in lot.received if e.seq < first.seq]
        flags.append(
            TenderFlag(
                "deadline_moved_after_offers",
                name,
                tuple(sorted({e.seq for e in before} | {m.seq for m in lot.moved})),
                tuple(dict.fromkeys(e.bidder for e in before)),
                (("envelopes_before", len(before)), ("changes", len(lot.moved))),
                f"lot {name}: the deadline was changed {len(lot.moved)} time(s) after "
                f"{len(before)} envelope(s) had come in",
            )
        )
    return tuple(flags)


#: Every tender flag, in the order the answers list them.
TENDER_FLAGS: tuple[Callable[[Sequence[TenderEvent]], tuple[TenderFlag, ...]], ...] = (
    single_offer,
    price_near_budget,
    identical_prices,
    late_offers,
    most_excluded,
    best_offer_excluded,
    deadline_moved_after_offers,
)


def tender_red_flags(events: Sequence[TenderEvent]) -> tuple[TenderFlag, ...]:
    """Every flag :data:`TENDER_FLAGS` raises on ``events`` (one tender's log, in seq
    order)."""
    return tuple(flag for check in TENDER_FLAGS for flag in check(events))
