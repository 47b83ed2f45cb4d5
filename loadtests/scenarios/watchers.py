"""Websocket watchers: the auction's public view (``gavel.public``, no token), as anyone with
its link follows it, checking that every ``seq`` arrives once and in order.

A gap, a duplicate or a reordering is a failure named ``seq_gap``; each live event's
delivery (commit to arrival) is a request named ``event``; a reconnection is timed as
``reconnect`` (:mod:`loadtests.scenarios.ws_user`). Public views count against the
server's per-address handshake limit: start it with ``GAVEL_WS_RATE_*`` lifted (README).

- :class:`HotWatcher` (``hot-auction``): watchers flooding one hot auction, which a few
  :class:`~loadtests.scenarios.bidders.HotBidder` s keep moving (ten watchers to a bidder).
- :class:`ReconnectWatcher` (``reconnect-storm``): watchers of ten auctions; every
  ``--gavel-drop-every`` seconds every socket is dropped at once and resumes with
  ``since`` = the last seq seen: the stream must go on at the next seq, whatever was
  committed meanwhile.
"""

from __future__ import annotations

import itertools
import time

import gevent
from locust import constant, tag, task

from loadtests.scenarios.options import options_of
from loadtests.scenarios.pools import pools_for
from loadtests.scenarios.ws_user import SocketUser

__all__ = ["HotWatcher", "ReconnectWatcher"]

_numbers = itertools.count()


class HotWatcher(SocketUser):
    """Follows the hot auction until the run ends."""

    weight = 10
    wait_time = constant(1)

    def on_start(self) -> None:
        """Open the hot auction's public view (the first user provisions it)."""
        super().on_start()
        options = options_of(self.environment)
        auction = pools_for(self.environment, self.host or "").hot()
        self.opened = self.socket(auction.id, None, delivery=True, ack_timeout=options.ack_timeout)

    @tag("hot-auction")
    @task
    def watch(self) -> None:
        """Nothing to do: the reader greenlet checks and reports every frame."""
        if not self.opened.is_open:
            gevent.sleep(1)


class ReconnectWatcher(SocketUser):
    """Follows one of ten auctions, dropping and resuming its socket at every storm."""

    weight = 10
    wait_time = constant(0)

    def on_start(self) -> None:
        """Open the public view of one of the ten auctions."""
        super().on_start()
        options = options_of(self.environment)
        self.pools = pools_for(self.environment, self.host or "")
        auctions = self.pools.few()
        auction = auctions[next(_numbers) % len(auctions)]
        self.opened = self.socket(auction.id, None, delivery=True, ack_timeout=options.ack_timeout)

    @tag("reconnect-storm")
    @task
    def storm(self) -> None:
        """Wait for the next storm, then drop and resume."""
        gevent.sleep(max(0.0, self.pools.next_drop() - time.time()))
        self.opened.resume()
