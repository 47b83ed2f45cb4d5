"""Websocket bidders: each holds one bidder's socket to one English auction and bids.

Every bid is a request reported to Locust (``bid`` when acknowledged, ``reject:<code>``
when refused, a failure when lost: :mod:`loadtests.scenarios.ws_user`). A bidder reads
the auction's events to bid what a person would: the least valid bid (start price, or
the best plus one step) plus up to two steps, never above its own private limit when it
has one, and not while it leads. Registration (its token) is the officer's HTTP call.

Users and what they model (tags select them: ``--tags steady`` …):

- :class:`SteadyBidder` (``steady``): steady bidding across many auctions: each user
  bids on one of ``--gavel-auctions`` auctions every ``--gavel-think`` seconds on average.
- :class:`StormBidder` (``closing-storm``): a closing storm: waves of
  ``--gavel-auctions`` auctions whose ends fall within ``--gavel-close-spread`` seconds,
  every ``--gavel-close-in`` seconds; each bidder joins an auction of the next wave,
  bids once early perhaps, then in the last ``--gavel-rush`` seconds (most of them in
  the last few: the start of its rush is skewed to the end), every fraction of the
  soft-close window, up to its private limit, so the soft close fires and extends the
  end until the bidding dies down (or the hard close); then it joins the next wave.
- :class:`HotBidder` (``hot-auction``): a few bidders keep the hot auction moving while
  the watchers (:mod:`loadtests.scenarios.watchers`) flood it.
- :class:`ReconnectBidder` (``reconnect-storm``): bids on one of ten auctions and, with
  every other socket, drops and resumes its socket with ``since`` every
  ``--gavel-drop-every`` seconds (it waits for its request in flight first).
"""

from __future__ import annotations

import itertools
import random
import time
from typing import Any

import gevent
from locust import between, tag, task

from loadtests.scenarios.bidding import Bidding
from loadtests.scenarios.officer import ProvisioningFailed, now_us
from loadtests.scenarios.options import options_of
from loadtests.scenarios.pools import Auction, Pools, pools_for
from loadtests.scenarios.protocol import bid
from loadtests.scenarios.ws_user import GavelSocket, SocketUser

__all__ = ["HotBidder", "ReconnectBidder", "SteadyBidder", "StormBidder"]

_S = 1_000_000
_numbers = itertools.count()


class _Bidder(SocketUser):
    abstract = True

    def on_start(self) -> None:
        """Find the pools (the first user provisions them)."""
        super().on_start()
        self.number = next(_numbers)
        self.rng = random.Random()
        self.pools: Pools = pools_for(self.environment, self.host or "")
        self.options = options_of(self.environment)

    def join(
        self, auction: Auction, limit_minor: int | None = None, *, closes: bool = False
    ) -> tuple[GavelSocket, Bidding] | None:
        """Register with ``auction`` (the officer) and open a bidder's socket to it
        (``None``: the auction closed before the registration reached it).

        ``closes``: report the close as it reaches this bidder: each ``EndExtended``
        (the soft close firing) as ``event:EndExtended``, timed from its commit, and the
        ``AuctionEnded`` as ``event:AuctionEnded``, timed from the end then due."""
        token = self.pools.officer.register(auction.id, self.pools.party("b"))
        if token is None:
            return None
        state = Bidding(auction, limit_minor)
        fire = self.environment.events.request.fire

        def on_event(frame: dict[str, Any]) -> None:
            event = frame["event"]
            kind = event.get("type")
            due = state.ends_at if kind == "AuctionEnded" else int(event.get("at", 0))
            state.on_event(frame)
            if closes and kind in ("EndExtended", "AuctionEnded"):
                late_ms = (now_us() - due) / 1000
                fire(
                    request_type="ws",
                    name=f"event:{kind}",
                    response_time=max(0.0, late_ms),
                    response_length=0,
                    exception=None,
                    context={},
                )

        opened = self.socket(
            auction.id, token, on_event=on_event, ack_timeout=self.options.ack_timeout
        )
        return opened, state

    def join_open(self, auction: Auction) -> tuple[GavelSocket, Bidding]:
        """:meth:`join` an auction open for hours (its registration cannot come late)."""
        joined = self.join(auction)
        if joined is None:
            raise ProvisioningFailed(f"auction {auction.id!r} closed before its time")
        return joined

    def bid_once(self, opened: GavelSocket, state: Bidding) -> None:
        """Place the next bid, if any, and wait for its answer."""
        amount = state.amount(self.rng)
        if amount is None:
            return
        currency = state.auction.currency
        answer = opened.request("bid", lambda request_id: bid(request_id, amount, currency))
        if answer is not None and answer["type"] == "reject":
            state.refused(answer)


class SteadyBidder(_Bidder):
    """Bids on one of the steady scenario's auctions every ``think`` seconds (about)."""

    weight = 10

    def wait_time(self) -> float:
        """Uniform between half and one and a half ``--gavel-think``."""
        return self.rng.uniform(0.5, 1.5) * self.options.think

    def on_start(self) -> None:
        """Register with an auction of the steady pool, by turns, and connect."""
        super().on_start()
        auctions = self.pools.steady()
        self.opened, self.state = self.join_open(auctions[self.number % len(auctions)])

    @tag("steady")
    @task
    def place_bid(self) -> None:
        """One bid."""
        self.bid_once(self.opened, self.state)


class StormBidder(_Bidder):
    """Joins the next closing wave, bids in its last seconds, moves on (module docstring)."""

    wait_time = between(0, 0.1)

    @tag("closing-storm")
    @task
    def one_closing(self) -> None:
        """Take part in one auction of the next wave until it ends."""
        options = self.options
        lead = max(1.0, options.soft_close)
        wave = self.pools.wave_index()
        auctions = [a for a in self.pools.closing_wave(wave) if a.ends_at > now_us() + lead * _S]
        if not auctions:
            gevent.sleep(0.2)
            return
        auction = auctions[self.number % len(auctions)]
        limit = auction.start_minor + self.rng.randrange(60) * auction.step_minor
        joined = self.join(auction, limit, closes=True)
        if joined is None:
            return  # it closed before the registration reached it: the next wave
        opened, state = joined
        rush_us = int(options.rush * _S)
        # Most bidders start in the last seconds: the start is skewed to the end.
        starts = state.ends_at - int(rush_us * self.rng.random() ** 3)
        if self.rng.random() < 0.3:
            self.bid_once(opened, state)  # an early bid now and then
        hard_stop = state.ends_at + int(8 * options.soft_close * _S) + 10 * _S
        while not state.ended and now_us() < hard_stop:
            now = now_us()
            if now < starts:
                gevent.sleep(min(1.0, (starts - now) / _S))
            elif now > state.ends_at:
                gevent.sleep(0.05)  # the close is due: wait for AuctionEnded
            else:
                self.bid_once(opened, state)
                gevent.sleep(self.rng.uniform(0.1, 0.5) * options.soft_close)
        self.forget(opened)


class HotBidder(_Bidder):
    """Bids on the hot auction every ``think`` seconds (about)."""

    weight = 1

    def wait_time(self) -> float:
        """Uniform between half and one and a half ``--gavel-think``."""
        return self.rng.uniform(0.5, 1.5) * self.options.think

    def on_start(self) -> None:
        """Register with the hot auction and connect."""
        super().on_start()
        self.opened, self.state = self.join_open(self.pools.hot())

    @tag("hot-auction")
    @task
    def place_bid(self) -> None:
        """One bid."""
        self.bid_once(self.opened, self.state)


class ReconnectBidder(_Bidder):
    """Bids on one of ten auctions; drops and resumes its socket at every storm."""

    weight = 1

    def wait_time(self) -> float:
        """Uniform between half and one and a half ``--gavel-think``; no later than the
        next storm."""
        think = self.rng.uniform(0.5, 1.5) * self.options.think
        return max(0.0, min(think, self.drop_at - time.time()))

    def on_start(self) -> None:
        """Register with one of the ten auctions and connect."""
        super().on_start()
        auctions = self.pools.few()
        # Two bidders to an auction, so that they outbid each other.
        self.opened, self.state = self.join_open(auctions[self.number // 2 % len(auctions)])
        self.drop_at = self.pools.next_drop()

    @tag("reconnect-storm")
    @task
    def place_bid(self) -> None:
        """One bid, or the drop and resume when the storm is due."""
        if time.time() >= self.drop_at:
            self.opened.resume()
            self.drop_at = self.pools.next_drop()
        else:
            self.bid_once(self.opened, self.state)
