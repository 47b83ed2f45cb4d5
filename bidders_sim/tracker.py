"""One bidder's knowledge of one auction, folded from the frames the server sends it.

A :class:`Tracker` is the sans-I/O half of a simulated bidder (the websocket loop is
:mod:`bidders_sim.runner`): frames go in through :meth:`Tracker.observe` (``welcome``,
``event``, ``ack``, ``reject``, ``heartbeat``, already parsed from JSON) and the
strategy's :class:`~bidders_sim.strategy.View` comes out of :meth:`Tracker.view`. It owns
no clock: the runner passes the server time it estimates.

What a bidder may see is what the server shows a bidder (``docs/protocol.md``): others by
label, a sealed bid or a multi-round turn's bid as ``Redacted`` until the close, its own
events marked ``"you": true``. ``next_valid`` is worked out from the rules (decoded from
``AuctionCreated`` with :mod:`engine.codec`) and the standing best as the engine does
(:class:`engine.formats.base.StepRule`), corrected by a ``reject``'s ``bound`` until the
best changes. Scored procurements (MEAT, life-cycle cost) rank by a score the bidder
cannot see for others; there ``next_valid`` reads the price as the score.

Call order: ``Tracker()``, then ``observe(frame)`` for every frame in order; ``view(now)``
whenever the strategy is asked (``None`` until the rules are known). Every call is O(1)
but a disqualification (O(bidders)).
"""

from __future__ import annotations

import typing
from typing import Any, Literal

from bidders_sim.strategy import Format, View
from engine.codec import from_data
from engine.formats.base import StepRule
from engine.rules import (
    AuctionRules,
    DutchRules,
    EnglishRules,
    Improvement,
    MultiRoundRules,
    ReverseRules,
    SealedRules,
    Side,
)

__all__ = ["Tracker", "rules_of", "view_format"]

#: The rules classes by the ``type`` their canonical data carries.
_RULES: dict[str, type[Any]] = {cls.__name__: cls for cls in typing.get_args(AuctionRules)}

#: Reject codes whose ``bound`` says where the next valid amount lies.
_BOUNDED = frozenset({"insufficient_improvement", "below_start_price", "above_start_price"})


def rules_of(data: dict[str, Any]) -> AuctionRules:
    """The engine's rules from an ``AuctionCreated`` event's ``rules`` member as a bidder
    sees it (a hidden reserve price is left out: read as none). ``MalformedRecord`` if it
    is not rules. O(fields)."""
    raw = dict(data)
    cls = _RULES.get(raw.get("type", ""))
    if cls is not None and "reserve_price" in cls.__dataclass_fields__:
        raw.setdefault("reserve_price", None)
    rules: AuctionRules = from_data(AuctionRules, raw, "rules")
    return rules


def view_format(rules: AuctionRules) -> tuple[Format, Literal["higher", "lower"]]:
    """The :class:`View` format name of ``rules`` and which way an offer improves."""
    if isinstance(rules, EnglishRules):
        return "english", "higher"
    if isinstance(rules, ReverseRules):
        return "reverse", "lower"
    if isinstance(rules, MultiRoundRules):
        return "multi_round", "lower"
    better: Literal["higher", "lower"] = "higher" if rules.side is Side.SALE else "lower"
    return ("dutch" if isinstance(rules, DutchRules) else "sealed"), better


class Tracker:
    """The state of one auction as one bidder sees it; see the module docstring."""

    __slots__ = (
        "_bids_seen",
        "_bidders",
        "_book",
        "_correction",
        "_offer_before_turn",
        "applied_seq",
        "best",
        "best_label",
        "better",
        "bid_this_turn",
        "dutch_price",
        "ended",
        "ends_at",
        "format",
        "label",
        "my_best",
        "my_proxy",
        "my_turn",
        "news",
        "phase",
        "round",
        "rules",
        "server_time",
        "step",
        "turn_ends_at",
    )

    def __init__(self) -> None:
        self.rules: AuctionRules | None = None
        self.format: Format = "english"
        self.better: Literal["higher", "lower"] = "higher"
        self.step: StepRule | None = None
        #: This bidder's label (``welcome``'s ``you``), ``None`` until welcomed.
        self.label: str | None = None
        #: The last event's seq folded; frames of a seq at or below it are not folded again.
        self.applied_seq = 0
        #: The latest ``server_time`` of any frame (microseconds).
        self.server_time = 0
        self.phase: Literal["scheduled", "running", "ended"] = "scheduled"
        self.ends_at: int | None = None
        self.best: int | None = None
        self.best_label: str | None = None
        self.my_best: int | None = None
        #: This bidder's standing proxy limit (its last ``ProxySet``).
        self.my_proxy: int | None = None
        self.dutch_price: int | None = None
        self.round: int | None = None
        self.my_turn = False
        self.turn_ends_at: int | None = None
        #: Whether this bidder has bid in its current multi-round turn.
        self.bid_this_turn = False
        #: The ``AuctionEnded`` event's data once the auction is over.
        self.ended: dict[str, Any] | None = None
        #: Events folded that may change what the bidder sees: all but rejections and
        #: what is redacted (a runner does not repeat a refused action until this moves).
        self.news = 0
        self._book: dict[str, int] = {}
        self._bids_seen = 0
        self._bidders = 0
        self._offer_before_turn: int | None = None
        #: A reject's bound: (kind, amount in minor units, the best it was given against).
        self._correction: tuple[str, int, int | None] | None = None

    # -- frames in ------------------------------------------------------------------

    def observe(self, frame: dict[str, Any]) -> None:
        """Fold one server frame. Events are folded once each, in seq order: an ``event``
        frame at or below :attr:`applied_seq` (a replayed one after a reconnect) is
        skipped; an ``ack`` is not folded (its event arrives as an ``event`` frame too)."""
        server_time = frame.get("server_time")
        if isinstance(server_time, int) and server_time > self.server_time:
            self.server_time = server_time
        kind = frame.get("type")
        if kind == "welcome":
            you = frame.get("you")
            self.label = you if isinstance(you, str) else None
        elif kind == "event":
            seq = frame.get("seq", 0)
            if seq > self.applied_seq:
                self.applied_seq = seq
                self._fold(frame["event"])
        elif kind == "reject":
            bound = frame.get("bound")
            if frame.get("code") in _BOUNDED and isinstance(bound, dict):
                self._correction = (bound["kind"], bound["amount_minor"], self.best)

    def _fold(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        own = event.get("you") is True
        if kind not in ("CommandRejected", "Redacted"):
            self.news += 1
        if kind == "AuctionCreated":
            self._created(rules_of(event["rules"]))
        elif kind == "AuctionStarted":
            self.phase = "running"
            self.ends_at = event.get("ends_at")
        elif kind == "BidderRegistered":
            self._bidders += 1
            if own and event.get("initial_bid") is not None:
                self.my_best = event["initial_bid"]
                self._offer(event["bidder"], event["initial_bid"])
        elif kind == "BidAccepted":
            self._bids_seen += 1
            self._accepted(event["bidder"], event["price"], own)
        elif kind == "ProxySet":
            if own:
                self.my_proxy = event["limit"]
        elif kind == "Redacted":
            # A sealed bid or a turn's private bid (or a proxy limit, or another's
            # rejection, which a runner cannot tell apart): counted as news only.
            pass
        elif kind == "BidWithdrawn":
            if own:
                self.my_best = None
            self._book.pop(event["bidder"], None)
        elif kind == "BidderDisqualified":
            self._bidders -= 1
            self._book.pop(event["bidder"], None)
            self._rebest()
        elif kind == "EndExtended":
            self.ends_at = event["ends_at"]
        elif kind == "PriceChanged":
            self.phase = "running"
            self.dutch_price = event["price"]
        elif kind == "RoundStarted":
            self.phase = "running"
            self.round = event["round"]
        elif kind == "TurnStarted":
            self.round = event["round"]
            self.my_turn = own
            self.turn_ends_at = event["ends_at"]
            self.bid_this_turn = False
            self._offer_before_turn = self.my_best
            self._correction = None
        elif kind == "TurnEnded":
            if event.get("price") is not None and not event.get("passed"):
                self._bids_seen += 1
            if event.get("price") is not None:
                self._offer(event["bidder"], event["price"])
                if own:
                    self.my_best = event["price"]
            self.my_turn = False
            self.turn_ends_at = None
        elif kind == "RoundEnded":
            self.my_turn = False
            self.turn_ends_at = None
        elif kind == "AuctionEnded":
            self.phase = "ended"
            self.ended = event
            self.my_turn = False

    def _created(self, rules: AuctionRules) -> None:
        self.rules = rules
        self.format, self.better = view_format(rules)
        step = getattr(rules, "step", None)
        self.step = StepRule(step) if step is not None and not isinstance(step, int) else None
        self.ends_at = getattr(rules, "ends_at", None)

    def _accepted(self, label: str, price: int, own: bool) -> None:
        if own:
            self.my_best = price
            if self.format == "multi_round":
                self.bid_this_turn = True
                return  # private until the turn ends: not an offer yet
            if self.format == "sealed":
                return
        if self.format == "multi_round":
            return
        self._book[label] = price
        if self.best is None or self._beats(price, self.best):
            self.best, self.best_label = price, label
            self._correction = None
        if self.format == "dutch":
            self.best, self.best_label = price, label

    def _offer(self, label: str, price: int) -> None:
        self._book[label] = price
        self._rebest()

    def _rebest(self) -> None:
        best: tuple[str, int] | None = None
        for label, price in self._book.items():
            if best is None or self._beats(price, best[1]):
                best = (label, price)
        self.best_label, self.best = best if best is not None else (None, None)
        self._correction = None

    def _beats(self, price: int, other: int) -> bool:
        return price > other if self.better == "higher" else price < other

    # -- the view out ---------------------------------------------------------------

    def view(self, now: int) -> View | None:
        """What the strategy sees at server time ``now``; ``None`` before the rules are
        known (before ``AuctionCreated`` has been folded)."""
        rules = self.rules
        if rules is None:
            return None
        soft = getattr(rules, "soft_close", None)
        return View(
            format=self.format,
            better=self.better,
            currency=rules.currency,
            now=now,
            phase=self.phase,
            starts_at=rules.starts_at,
            ends_at=self.ends_at,
            start_price=getattr(rules, "start_price", None),
            best=self.best,
            leading=self.label is not None and self.best_label == self.label,
            next_valid=self._next_valid(rules),
            my_best=self.my_best,
            bids_seen=self._bids_seen,
            soft_close_window_us=None if soft is None else soft.window_us,
            dutch_price=self.dutch_price,
            round=self.round,
            my_turn=self.my_turn,
            turn_ends_at=self.turn_ends_at,
            my_proxy=self.my_proxy,
            bidders=self._bidders,
            pricing=rules.pricing.value if isinstance(rules, SealedRules) else None,
            dutch_step=rules.step if isinstance(rules, DutchRules) else None,
            dutch_interval_us=rules.interval_us if isinstance(rules, DutchRules) else None,
        )

    def _next_valid(self, rules: AuctionRules) -> int | None:
        if self.phase != "running":
            return None
        least = self._least(rules)
        correction = self._correction
        if least is None or correction is None or correction[2] != self.best:
            return least
        kind, amount, _ = correction
        if kind == "min":
            return max(least, amount)
        if kind == "max":
            return min(least, amount)
        return least

    def _least(self, rules: AuctionRules) -> int | None:
        """The least improving amount the rules take from this bidder now (see View)."""
        step = self.step
        if isinstance(rules, EnglishRules):
            assert step is not None
            best = self.best
            return rules.start_price if best is None else best + step.of_price(best)
        if isinstance(rules, ReverseRules):
            assert step is not None
            if rules.improvement is Improvement.BEAT_OWN:
                own = self.my_best
                return rules.start_price if own is None else own - step.of_price(own)
            best = self.best
            least = rules.start_price if best is None else best - step.of_price(best)
            return least if least > 0 else None
        if isinstance(rules, SealedRules):
            if self.my_best is not None:
                return None
            if rules.start_price is not None:
                return rules.start_price
            return 1 if rules.side is Side.SALE else rules.max_amount
        if isinstance(rules, MultiRoundRules):
            assert step is not None
            if not self.my_turn or self.bid_this_turn:
                return None
            before = self._offer_before_turn
            if before is None:
                return rules.start_price
            least = before - step.of_price(before)
            return least if least > 0 else None
        return None  # a Dutch clock takes accepts, not bids
