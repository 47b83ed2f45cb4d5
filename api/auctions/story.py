"""Auction events as plain sentences, for ``gavel demo`` now and ``gavel audit replay`` later.

Everything here is a pure function of an event and the auction it belongs to: no I/O, no
clock. ``auction`` is the state *after* the event was applied (the live demo passes the
state after the whole command, which is the same for everything read here: the rules and
the bidders, which only ever grow). An auditor replaying a log calls ``auction.apply(event)``
and then :func:`describe` for each event in turn.

- :func:`describe` — one event as one line of text.
- :func:`standing` — who leads right now, as far as the format lets the room see it.
- :func:`result` — the closing event as a small block: outcome, winner, price, score,
  ranking.
- :func:`clock`, :func:`money`, :func:`score_text`, :func:`rules_text` — the pieces.

Money is shown with :func:`engine.money.format_minor` and the currency code. Scores are
exact in the engine (``int`` or ``Fraction`` minor units); a score that is not a whole
number of minor units is shown rounded, marked with ``≈``.
"""

from __future__ import annotations

import re
from fractions import Fraction

from engine import (
    Auction,
    AuctionCreated,
    AuctionEnded,
    AuctionRules,
    AuctionStarted,
    BidAccepted,
    BidderDisqualified,
    BidderRegistered,
    BidWithdrawn,
    CommandRejected,
    DutchRules,
    EndExtended,
    EnglishRules,
    Event,
    Improvement,
    MultiRoundRules,
    Outcome,
    Phase,
    PriceChanged,
    Pricing,
    ProxySet,
    ReverseRules,
    RoundEnded,
    RoundStarted,
    Scoring,
    SealedRules,
    Side,
    Step,
    TurnEnded,
    TurnStarted,
)
from engine.formats import Reveal
from engine.money import format_minor
from engine.reasons import Reason
from engine.scoring import Score

__all__ = [
    "clock",
    "describe",
    "format_name",
    "money",
    "result",
    "rules_text",
    "score_text",
    "standing",
]

_OUTCOMES = {
    Outcome.AWARDED: "awarded",
    Outcome.NO_BIDS: "no award: no bids",
    Outcome.RESERVE_NOT_MET: "no award: reserve price not met",
    Outcome.LIMIT_REACHED: "no award: the clock reached its limit",
    Outcome.CANCELLED: "cancelled",
}


def clock(at: int, origin: int) -> str:
    """``at`` relative to ``origin`` as ``±mm:ss.ffffff`` (minutes may exceed 59).

    >>> clock(1_090_250_000, 1_000_000_000)
    '+01:30.250000'
    >>> clock(999_000_000, 1_000_000_000)
    '-00:01.000000'
    """
    offset = at - origin
    sign = "-" if offset < 0 else "+"
    seconds, micros = divmod(abs(offset), 1_000_000)
    minutes, seconds = divmod(seconds, 60)
    return f"{sign}{minutes:02d}:{seconds:02d}.{micros:06d}"


def money(minor: int, currency: str) -> str:
    """``minor`` units of ``currency`` with its code: ``money(195000, "EUR") == "1950.00 EUR"``."""
    return f"{format_minor(minor, currency)} {currency}"


def score_text(score: Score, currency: str) -> str:
    """A score in the currency's major units; ``≈`` marks one rounded to a minor unit.

    >>> score_text(Fraction(84000000, 11), "UAH")
    '≈76363.64'
    >>> score_text(Fraction(7520000), "UAH")
    '75200.00'
    """
    if type(score) is int or score.denominator == 1:
        return format_minor(int(score), currency)
    return "≈" + format_minor(round(score), currency)


def format_name(rules: AuctionRules) -> str:
    """The auction format in a few words."""
    if isinstance(rules, EnglishRules):
        return "English ascending"
    if isinstance(rules, ReverseRules):
        return "reverse open"
    if isinstance(rules, DutchRules):
        return "Dutch" if rules.side is Side.SALE else "reverse Dutch"
    if isinstance(rules, SealedRules):
        pricing = "first-price" if rules.pricing is Pricing.FIRST_PRICE else "second-price"
        return f"sealed {pricing} {rules.side.value}"
    return f"multi-round procurement ({rules.rounds} rounds)"


def rules_text(rules: AuctionRules) -> str:
    """The rules that matter to a bidder, in one line."""
    cur = rules.currency
    parts = [format_name(rules)]
    if isinstance(rules, EnglishRules | ReverseRules):
        parts.append(
            ("start " if isinstance(rules, EnglishRules) else "ceiling ")
            + money(rules.start_price, cur)
        )
        parts.append("step " + _step_text(rules.step, cur))
        if isinstance(rules, EnglishRules) and rules.reserve_price is not None:
            parts.append("reserve " + money(rules.reserve_price, cur))
        if isinstance(rules, ReverseRules):
            beat = "the best bid" if rules.improvement is Improvement.BEAT_BEST else "own bid"
            parts.append(f"must beat {beat}")
        if rules.soft_close is not None:
            soft = rules.soft_close
            parts.append(
                f"soft close: a bid in the last {soft.window_us // 1_000_000} s "
                f"adds {soft.extension_us // 1_000_000} s"
            )
    elif isinstance(rules, DutchRules):
        parts.append(
            f"from {money(rules.start_price, cur)} by {format_minor(rules.step, cur)} "
            f"every {rules.interval_us / 1_000_000:g} s to {money(rules.limit_price, cur)}"
        )
    elif isinstance(rules, SealedRules):
        if rules.start_price is not None:
            word = "minimum " if rules.side is Side.SALE else "ceiling "
            parts.append(word + money(rules.start_price, cur))
        if rules.reserve_price is not None:
            parts.append("reserve " + money(rules.reserve_price, cur))
    else:
        parts.append(f"turns of {rules.turn_us / 1_000_000:g} s")
        parts.append("step " + _step_text(rules.step, cur))
        if rules.start_price is not None:
            parts.append("ceiling " + money(rules.start_price, cur))
    scoring = getattr(rules, "scoring", Scoring.NONE)
    if scoring is Scoring.MEAT:
        parts.append("ranked by MEAT: price / (1 + coefficient)")
    elif scoring is Scoring.LCC:
        parts.append("ranked by life-cycle cost: price + running cost")
    return ", ".join(parts)


def _step_text(step: Step, currency: str) -> str:
    if step.percent is not None:
        return f"{step.percent} %"
    return format_minor(step.amount, currency)


def describe(event: Event, auction: Auction) -> str:
    """One line saying what ``event`` means. ``auction`` has already applied it. O(1).

    Raises ``TypeError`` for an object that is not an engine event.
    """
    rules = auction.rules
    assert rules is not None, "describe() needs an auction that has applied AuctionCreated"
    cur = rules.currency
    origin = rules.starts_at
    kind = type(event)
    if kind is AuctionCreated:
        return f"auction created: {format_name(rules)}, opens at {clock(rules.starts_at, origin)}"
    if kind is AuctionStarted:
        assert isinstance(event, AuctionStarted)
        if event.ends_at is None:
            return "bidding opens"
        return f"bidding opens; closes at {clock(event.ends_at, origin)}"
    if kind is BidderRegistered:
        assert isinstance(event, BidderRegistered)
        extras = []
        if event.coefficient:
            extras.append(f"MEAT coefficient {event.coefficient}")
        if event.cost:
            extras.append(f"running cost {money(event.cost, cur)}")
        if event.initial_bid is not None:
            extras.append(f"initial offer {money(event.initial_bid, cur)}")
        tail = f" ({', '.join(extras)})" if extras else ""
        return f"{event.bidder} registers as {event.label}{tail}"
    if kind is BidderDisqualified:
        assert isinstance(event, BidderDisqualified)
        note = f": {event.note}" if event.note else ""
        return f"{event.bidder} is disqualified{note}"
    if kind is BidAccepted:
        assert isinstance(event, BidAccepted)
        return _bid_text(event, rules)
    if kind is BidWithdrawn:
        assert isinstance(event, BidWithdrawn)
        return f"{event.bidder} withdraws its sealed bid"
    if kind is ProxySet:
        assert isinstance(event, ProxySet)
        word = "maximum" if isinstance(rules, EnglishRules) else "floor"
        return f"{event.bidder} sets a proxy (secret {word} {money(event.limit, cur)})"
    if kind is EndExtended:
        assert isinstance(event, EndExtended)
        return f"soft close: the end moves to {clock(event.ends_at, origin)}"
    if kind is PriceChanged:
        assert isinstance(event, PriceChanged)
        return f"clock price {money(event.price, cur)} until {clock(event.next_at, origin)}"
    if kind is RoundStarted:
        assert isinstance(event, RoundStarted)
        return f"round {event.round} starts; turn order {' → '.join(event.order)}"
    if kind is TurnStarted:
        assert isinstance(event, TurnStarted)
        return f"round {event.round}: {event.bidder}'s turn until {clock(event.ends_at, origin)}"
    if kind is TurnEnded:
        assert isinstance(event, TurnEnded)
        how = " passes" if event.passed else "'s turn ends"
        if event.price is None:
            return f"round {event.round}: {event.bidder}{how}, no offer"
        offer = _priced(event.price, event.score, cur)
        return f"round {event.round}: {event.bidder}{how}, offer {offer}"
    if kind is RoundEnded:
        assert isinstance(event, RoundEnded)
        if event.resumes_at is None:
            return f"round {event.round} ends (the last)"
        return f"round {event.round} ends; next round at {clock(event.resumes_at, origin)}"
    if kind is AuctionEnded:
        assert isinstance(event, AuctionEnded)
        return "auction ends: " + _outcome_text(event, cur)
    if kind is CommandRejected:
        assert isinstance(event, CommandRejected)
        who = event.bidder if event.bidder is not None else "officer"
        words = event.detail
        if event.bound is None and event.reason in _LEGACY_AMOUNTS:
            words = _detail_text(words, cur)  # logged before details named major units
        detail = f" ({words})" if words else ""
        return f"✗ {who}: {event.command} rejected, {event.reason.value}{detail}"
    raise TypeError(f"not an engine event: {kind.__name__}")


#: The reasons whose detail, in logs older than ``CommandRejected.bound``, ended in minor
#: units (or a score); others may end in a number that is no amount (a time in µs).
_LEGACY_AMOUNTS = frozenset(
    {
        Reason.BELOW_START_PRICE,
        Reason.ABOVE_START_PRICE,
        Reason.INSUFFICIENT_IMPROVEMENT,
        Reason.PROXY_LIMIT_TOO_LOW,
        Reason.STALE_PRICE,
    }
)


def _detail_text(detail: str, currency: str) -> str:
    """A rejection detail as logs before ``CommandRejected.bound`` worded it, its trailing
    amount (minor units) shown in currency; the engine now words amounts in major units
    itself (``"at least 1100.00 EUR"``), and a score stays as the engine says it.

    Old details read like ``"at least 110000"`` or ``"score at most 84000000/11"``;
    any other text is returned as recorded.

    >>> _detail_text("at least 110000", "EUR")
    'at least 1100.00 EUR'
    >>> _detail_text("score at most 84000000/11", "UAH")
    'score at most ≈76363.64'
    """
    match = _TRAILING_AMOUNT.fullmatch(detail)
    if match is None:
        return detail
    words, number = match.groups()
    if "/" in number or words.startswith("score"):
        return words + score_text(Fraction(number), currency)
    return words + money(int(number), currency)


_TRAILING_AMOUNT = re.compile(r"(.*\s)(-?\d+(?:/\d+)?)")


def _bid_text(event: BidAccepted, rules: AuctionRules) -> str:
    cur = rules.currency
    priced = _priced(event.price, event.score, cur)
    if event.proxy:
        return f"{event.bidder}'s proxy bids {priced}"
    if isinstance(rules, DutchRules):
        return f"{event.bidder} takes the price: {priced}"
    if isinstance(rules, SealedRules):
        return f"{event.bidder} seals a bid of {priced} (hidden until the close)"
    if isinstance(rules, MultiRoundRules):
        return f"{event.bidder} bids {priced} (private until the turn ends)"
    return f"{event.bidder} bids {priced}"


def _priced(price: int, score: Score | None, currency: str) -> str:
    """A price, and its score when that differs from the price."""
    text = money(price, currency)
    if score is None or score == price:
        return text
    return f"{text}, score {score_text(score, currency)}"


def _outcome_text(event: AuctionEnded, currency: str) -> str:
    text = _OUTCOMES[event.outcome]
    if event.winners and event.price is not None:
        text += f" to {', '.join(event.winners)} at {money(event.price, currency)}"
    if event.note:
        text += f" ({event.note})"
    return text


def standing(auction: Auction) -> str:
    """Where the auction stands now, as the room may see it (what the format's secrecy
    keeps until the close, sealed bids, is counted, never shown). O(1)."""
    rules = auction.rules
    if rules is None:
        return ""
    cur = rules.currency
    origin = rules.starts_at
    phase = auction.phase
    if phase is Phase.ENDED:
        return "closed"
    if phase is Phase.SCHEDULED:
        count = len(auction.bidders)
        return f"{count} bidder{'' if count == 1 else 's'} registered"
    fmt = auction.fmt
    assert fmt is not None
    view = fmt.view()
    best = auction.book.best()
    if view.clock is not None:
        price = view.clock.price
        return "" if price is None else f"clock {money(price, cur)}"
    if fmt.secrecy.book is Reveal.AT_CLOSE:
        # The room may count the bids, never see them.
        count = len(auction.book)
        return f"{count} sealed bid{'' if count == 1 else 's'}"
    if view.rounds is not None:
        lead = "" if best is None else f" · leader {best[2]} {_priced(best[3], best[0], cur)}"
        if phase is Phase.PAUSED:
            return f"after round {view.rounds.round}{lead}"
        return f"round {view.rounds.round}{lead}"
    closes = ""
    if view.close is not None:
        closes = f" · closes {clock(view.close.ends_at, origin)}"
    if best is None:
        return f"no bids yet{closes}"
    score = None if fmt.side is Side.SALE else best[0]
    return f"leader {best[2]} {_priced(best[3], score, cur)}{closes}"


def result(auction: Auction) -> list[str]:
    """The closing block of an ended auction: outcome, winner, price, score, ranking.

    Lines carry no indentation; an empty list means the auction has not ended.
    """
    ended = auction.ended
    rules = auction.rules
    if ended is None or rules is None:
        return []
    cur = rules.currency
    lines = [f"outcome  {_OUTCOMES[ended.outcome]}"]
    if ended.winners:
        labels = ", ".join(f"{w} ({auction.bidders[w].label})" for w in ended.winners)
        lines.append(f"winner   {labels}")
    if ended.price is not None:
        lines.append(f"price    {money(ended.price, cur)}")
    if ended.score is not None and ended.score != ended.price:
        lines.append(f"score    {_exact_score(ended.score, cur)}")
    if ended.note:
        lines.append(f"note     {ended.note}")
    if ended.ranking:
        scored = any(s.score != s.price for s in ended.ranking)
        width = max(len(s.bidder) for s in ended.ranking)
        lines.append("ranking")
        for s in ended.ranking:
            row = f"  {s.rank:>2}. {s.bidder:<{width}}  {money(s.price, cur):>16}"
            if scored:
                row += f"  score {score_text(s.score, cur):>12}"
            lines.append(row)
    return lines


def _exact_score(score: Score, currency: str) -> str:
    text = score_text(score, currency)
    if isinstance(score, Fraction) and score.denominator != 1:
        text += f" (exactly {score.numerator}/{score.denominator} minor units)"
    return text
