"""English ascending (a sale) and reverse open (a procurement) auctions, with proxies.

Both are the same open-outcry auction seen from opposite sides, so one logic object
serves them, working on book keys (lower is better: ``-price`` for a sale, the score for
a procurement).

A bid is accepted when:

- English: the first bid is at least ``start_price``; later ones are at least the best
  price plus the step (a percentage step is of the best price, rounded up).
- Reverse: the price is at most ``start_price`` (the budget ceiling) and, with
  ``beat_best``, its score is at most the best score minus the step (a percentage step is
  of the best score); with ``beat_own``, its price is at most the bidder's own previous
  price minus the step.

Soft close: a bid accepted when at most ``window_us`` remain moves the end by
``extension_us``, never past ``hard_close_at``. Proxy bids extend exactly like manual ones;
the bids of one instant (a bid and the proxy answers it provokes) extend once.

Proxy bidding: after every change the engine lets proxies answer. Proxy bids obey the
same rules as manual ones (they beat the best by a step). The proxy with the strongest
limit wins (equal limits: the one set first), bidding the least it must to beat the
runner-up's limit by a step, capped at its own limit; in an English auction with a
reserve, a proxy whose limit reaches the reserve bids at least the reserve. When the
leader's proxy is the strongest, the challenger's proxy first bids as far as the leader
can still answer, so the contest is on the record, then the leader answers. Every answer
improves the best bid, so resolution ends within ``2 × proxies + 2`` bids. Proxies are
also kept ranked by limit, so after a bid that no proxy can answer (the strongest
challenger's limit cannot beat the new best: the common case) resolution stops in O(1).
A bid command costs O(1) (see :mod:`engine.book`), plus O(p log p + log range) per proxy
answer with p proxies.
"""

from __future__ import annotations

from bisect import insort
from typing import Any

from engine import commands as c
from engine import events as e
from engine.bidder import Bidder
from engine.codec import from_data, to_data
from engine.events import BoundKind
from engine.formats.base import Format, Problem, StepRule, bounded
from engine.formats.host import Host
from engine.formats.view import Close, FormatView, OwnView, ProxyView
from engine.money import to_minor
from engine.reasons import Reason
from engine.rules import EnglishRules, Improvement, ReverseRules, Side
from engine.scoring import Score, Scoring, max_price_for_score

__all__ = ["OpenCry"]


class OpenCry(Format):
    """Logic of English and reverse open auctions."""

    __slots__ = (
        "rules",
        "ends_at",
        "proxies",
        "_proxy_rank",
        "_step",
        "_beat_own",
        "_start",
        "_sale",
        "_extended_at",
    )

    def __init__(self, auction: Host, rules: EnglishRules | ReverseRules) -> None:
        if isinstance(rules, EnglishRules):
            super().__init__(auction, Side.SALE, Scoring.NONE)
            self._beat_own = False
        else:
            super().__init__(auction, Side.PROCUREMENT, rules.scoring)
            self._beat_own = rules.improvement is Improvement.BEAT_OWN
        self.rules = rules
        self.ends_at = rules.ends_at
        #: bidder -> (limit key, seq of ProxySet, limit price)
        self.proxies: dict[str, tuple[Score, int, int]] = {}
        #: ``(limit key, seq of ProxySet, bidder)`` of every proxy, strongest first.
        self._proxy_rank: list[tuple[Score, int, str]] = []
        self._step = StepRule(rules.step)
        self._start = rules.start_price
        self._sale = self.side is Side.SALE
        self._extended_at = -1

    # -- timing -------------------------------------------------------------------

    def scheduled_end(self) -> int | None:
        return self.ends_at

    def deadline(self) -> int | None:
        return self.ends_at

    def on_deadline(self, due: int, now: int) -> None:
        best = self.auction.book.best()
        reserve = getattr(self.rules, "reserve_price", None)
        if best is not None and reserve is not None and best[3] < reserve:
            self.auction.finish(due, e.Outcome.RESERVE_NOT_MET)
        else:
            self.auction.finish(due, e.Outcome.AWARDED)

    def _soft_close(self, at: int) -> None:
        soft = self.rules.soft_close
        # One extension per instant: a bid and the proxy answers it provokes at the same
        # microsecond are one moment of bidding, not several.
        if soft is None or self.ends_at - at > soft.window_us or self._extended_at == at:
            return
        new_end = self.ends_at + soft.extension_us
        if soft.hard_close_at is not None and new_end > soft.hard_close_at:
            new_end = soft.hard_close_at
        if new_end > self.ends_at:
            auction = self.auction
            auction.emit(e.EndExtended(auction.seq + 1, at, new_end))

    # -- commands -------------------------------------------------------------------

    def decide(self, command: Any) -> None:
        kind = type(command)
        if kind is c.PlaceBid:
            self._bid(command)
        elif kind is c.SetProxy and self.rules.allow_proxy:
            self._set_proxy(command)
        else:
            only = "bids and proxy limits" if self.rules.allow_proxy else "bids (no proxies)"
            self.auction.reject(command, Reason.NOT_SUPPORTED, f"this auction takes {only} only")

    def _bid(self, command: c.PlaceBid) -> None:
        auction = self.auction
        # The hot path of every open auction: the common case inline, rejections delegated.
        bidder = auction.bidders.get(command.bidder)
        if bidder is None or bidder.disqualified:
            auction.eligible(command)
            return
        rules = self.rules
        price: int | Reason | None = None
        if command.currency == rules.currency:
            price = to_minor(command.amount, rules.currency, rules.max_amount)
        if type(price) is not int:
            auction.money(command, command.amount, command.currency)
            return
        score = price if self.scoring is Scoring.NONE else self.score(bidder, price)
        problem = self._price_problem(command.bidder, price, score)
        if problem is not None:
            return auction.reject(command, *problem)
        at = command.at
        auction.emit(
            e.BidAccepted(
                auction.seq + 1, at, command.command_id, command.bidder, price, score, False
            )
        )
        if self.rules.soft_close is not None:
            self._soft_close(at)
        if self.proxies:
            self._answer_proxies(at, command.command_id)

    def _price_problem(self, bidder: str, price: int, score: Score) -> Problem | None:
        book = self.auction.book
        best = book.best()
        currency = self.rules.currency
        if self.side is Side.SALE:
            if best is None:
                if price < self._start:
                    least = bounded(BoundKind.MIN, self._start, currency)
                    return Reason.BELOW_START_PRICE, *least
                return None
            need = best[3] + self._step.of_price(best[3])
            if price < need:
                return Reason.INSUFFICIENT_IMPROVEMENT, *bounded(BoundKind.MIN, need, currency)
            return None
        if price > self._start:
            return Reason.ABOVE_START_PRICE, *bounded(BoundKind.MAX, self._start, currency)
        if self._beat_own:
            own = book.get(bidder)
            if own is not None:
                ceiling = own[3] - self._step.of_price(own[3])
                if price > ceiling:
                    most = bounded(BoundKind.MAX, ceiling, currency)
                    return Reason.INSUFFICIENT_IMPROVEMENT, *most
            return None
        if best is not None:
            ceiling_score = best[0] - self._step.of(best[0])
            if score > ceiling_score:
                if self.scoring is Scoring.NONE and type(ceiling_score) is int:
                    # The score is the price: the ceiling is an amount.
                    most = bounded(BoundKind.MAX, ceiling_score, currency)
                    return Reason.INSUFFICIENT_IMPROVEMENT, *most
                # A score is no amount: exact, as a fraction of minor units.
                return Reason.INSUFFICIENT_IMPROVEMENT, f"score at most {ceiling_score}", None
        return None

    def _set_proxy(self, command: c.SetProxy) -> None:
        auction = self.auction
        bidder = auction.eligible(command)
        if bidder is None:
            return
        limit = auction.money(command, command.limit, command.currency)
        if limit is None:
            return
        best = auction.book.best()
        if best is not None and best[2] == command.bidder:
            # The leader's proxy only defends: it must not be worse than its standing bid.
            if not self._within(best[3], limit):
                own = bounded(self._limit_kind, best[3], self.rules.currency, tail="(your bid)")
                return auction.reject(command, Reason.PROXY_LIMIT_TOO_LOW, *own)
        else:
            lead = self._lead_price(command.bidder, bidder, None)
            if lead is None:
                return auction.reject(command, Reason.PROXY_LIMIT_TOO_LOW, "no valid bid can lead")
            if not self._within(lead, limit):
                need = bounded(self._limit_kind, lead, self.rules.currency, tail="to lead")
                return auction.reject(command, Reason.PROXY_LIMIT_TOO_LOW, *need)
        auction.emit(
            e.ProxySet(auction.seq + 1, command.at, command.command_id, command.bidder, limit)
        )
        self._answer_proxies(command.at, command.command_id)

    def on_disqualified(self, bidder: str, at: int, command_id: str) -> None:
        # The leader may have changed: proxies answer the new one, as after any bid.
        if self.proxies:
            self._answer_proxies(at, command_id)

    # -- proxies --------------------------------------------------------------------

    @property
    def _limit_kind(self) -> BoundKind:
        """What a proxy limit must be of a price: at least it to sell, at most to buy."""
        return BoundKind.MIN if self.side is Side.SALE else BoundKind.MAX

    def _within(self, price: int, limit: int) -> bool:
        """Is ``price`` no more aggressive than the proxy ``limit``?"""
        return price <= limit if self.side is Side.SALE else price >= limit

    def _lead_price(self, name: str, bidder: Bidder, against: Score | None) -> int | None:
        """The least aggressive valid price by which ``name`` beats key ``against`` by a step.

        ``against=None`` means the current best (or the start price on an empty book).
        ``None`` when no valid price exists.
        """
        book = self.auction.book
        if against is None:
            best = book.best()
            if best is None:
                return self._start
            against = best[0]
        if self.side is Side.SALE:
            base = -against
            price = int(base + self._step.of(base))
            return price if price <= self.rules.max_amount else None
        target = against - self._step.of(against)
        price = max_price_for_score(self.scoring, target, bidder.coefficient, bidder.cost)
        price = min(price, self._start)
        if self._beat_own:
            own = book.get(name)
            if own is not None:
                price = min(price, own[3] - self._step.of_price(own[3]))
        return price if price > 0 else None

    def _answer_proxies(self, at: int, command_id: str) -> None:
        auction = self.auction
        best = auction.book.best()
        if best is not None:
            # The strongest proxy that does not lead: if even it cannot beat the best,
            # no proxy can bid (the full pass below would find no contender).
            for limit_key, _, name in self._proxy_rank:
                if name != best[2]:
                    if limit_key >= best[0]:
                        return
                    break
            else:
                return
        bidders = auction.bidders
        proxies = self.proxies
        reserve = self.rules.reserve_price if isinstance(self.rules, EnglishRules) else None
        for _ in range(2 * len(proxies) + 2):
            best = auction.book.best()
            leader = best[2] if best is not None else None
            pool: list[tuple[Score, int, str, int | None, int]] = []
            best_key = best[0] if best is not None else None
            for name, (limit_key, proxy_seq, limit) in proxies.items():
                if name == leader:
                    pool.append((limit_key, proxy_seq, name, None, limit))
                    continue
                if best_key is not None and limit_key >= best_key:
                    # Exhausted: this limit cannot beat the best bid, so the proxy can
                    # neither bid nor push the winner's price (skip the costly lead price).
                    continue
                lead = self._lead_price(name, bidders[name], None)
                if lead is not None and self._within(lead, limit):
                    pool.append((limit_key, proxy_seq, name, lead, limit))
            pool.sort()
            contenders = [entry for entry in pool if entry[3] is not None]
            if not contenders:
                return
            _, _, name, lead, limit = contenders[0]
            assert lead is not None
            strongest = pool[0]
            if strongest[3] is None:
                # The leader's proxy is stronger (or as strong and set first): the top
                # contender bids as far as the leader can still answer by a step.
                price = self._yield_price(name, lead, limit, strongest)
            elif len(pool) == 1:
                price = lead
            else:
                # Beat the runner-up's limit by a step, within our own limit.
                want = self._lead_price(name, bidders[name], pool[1][0])
                if want is None or not self._within(want, limit):
                    want = limit
                price = self._more_aggressive(lead, want)
            if reserve is not None and price < reserve <= limit:
                # A proxy that may reach the reserve bids it at once: below the reserve
                # its bids could never win, and its bidder has said it would pay that.
                price = reserve
            score = self.score(bidders[name], price)
            auction.emit(e.BidAccepted(auction.seq + 1, at, command_id, name, price, score, True))
            if self.rules.soft_close is not None:
                self._soft_close(at)
        raise AssertionError("proxy resolution did not settle")  # pragma: no cover

    def _more_aggressive(self, a: int, b: int) -> int:
        return max(a, b) if self.side is Side.SALE else min(a, b)

    def _yield_price(
        self, name: str, lead: int, limit: int, rival: tuple[Score, int, str, int | None, int]
    ) -> int:
        """The most aggressive price from ``lead`` to ``limit`` that ``rival`` can still beat.

        A binary search over prices, O(log(limit - lead)) lead-price evaluations; ``lead``
        when even that cannot be answered.
        """
        bidder = self.auction.bidders[name]
        rival_bidder = self.auction.bidders[rival[2]]
        sign = 1 if self.side is Side.SALE else -1

        def answerable(price: int) -> bool:
            key = self.key(price, self.score(bidder, price))
            answer = self._lead_price(rival[2], rival_bidder, key)
            return answer is not None and self._within(answer, rival[4])

        if not answerable(lead):
            return lead
        low, high = sign * lead, sign * limit  # in "aggressiveness" order
        while low < high:
            middle = (low + high + 1) // 2
            if answerable(sign * middle):
                low = middle
            else:
                high = middle - 1
        return sign * low

    # -- what may be shown ----------------------------------------------------------

    def view(self) -> FormatView:
        return FormatView(close=Close(self.ends_at))

    def own_view(self, bidder: str) -> OwnView:
        proxy = self.proxies.get(bidder)
        return OwnView(proxy=ProxyView(None if proxy is None else proxy[2]))

    # -- events ---------------------------------------------------------------------

    def evolve(self, event: Any) -> None:
        kind = type(event)
        if kind is e.BidAccepted:
            price = event.price
            self.auction.book.place(
                -price if self._sale else event.score, event.seq, event.bidder, price
            )
        elif kind is e.EndExtended:
            self.ends_at = event.ends_at
            self._extended_at = event.at
        elif kind is e.ProxySet:
            bidder = self.auction.bidders[event.bidder]
            key = self.key(event.limit, self.score(bidder, event.limit))
            self._drop_proxy(event.bidder)
            self.proxies[event.bidder] = (key, event.seq, event.limit)
            insort(self._proxy_rank, (key, event.seq, event.bidder))
        elif kind is e.BidderDisqualified:
            self._drop_proxy(event.bidder)
        elif kind is not e.AuctionStarted:
            super().evolve(event)

    def _drop_proxy(self, bidder: str) -> None:
        old = self.proxies.pop(bidder, None)
        if old is not None:
            self._proxy_rank.remove((old[0], old[1], bidder))

    def state(self) -> tuple[object, ...]:
        return (self.ends_at, self._extended_at, dict(self.proxies))

    def snapshot(self) -> dict[str, Any]:
        return {
            "ends_at": self.ends_at,
            "extended_at": self._extended_at,
            "proxies": [
                [name, to_data(key), seq, limit] for name, (key, seq, limit) in self.proxies.items()
            ],
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.ends_at = from_data(int, data["ends_at"], "ends_at")
        self._extended_at = from_data(int, data["extended_at"], "extended_at")
        for name, key, seq, limit in data["proxies"]:
            name = from_data(str, name, "proxies")
            entry = (
                from_data(Score, key, "proxies"),
                from_data(int, seq, "proxies"),
                from_data(int, limit, "proxies"),
            )
            self.proxies[name] = entry
            self._proxy_rank.append((entry[0], entry[1], name))
        self._proxy_rank.sort()

    def check(self) -> None:
        soft = self.rules.soft_close
        cap = soft.hard_close_at if soft is not None else None
        assert self.ends_at >= self.rules.ends_at
        assert cap is None or self.ends_at <= max(cap, self.rules.ends_at)
        for name in self.proxies:
            assert not self.auction.bidders[name].disqualified
        assert self._proxy_rank == sorted(
            (key, seq, name) for name, (key, seq, _) in self.proxies.items()
        )
