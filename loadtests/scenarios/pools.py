"""What the scenarios share in one Locust process: auctions and tenders, made on demand by
the :class:`~loadtests.scenarios.officer.Officer` the first time a user needs them.

Each process (a local run, or each worker of a distributed one) provisions its own, under
ids that begin with a run prefix unique to it, so runs and workers never collide. Time
zero (``t0``) is the first user's call: a closing-storm wave ``i`` ends from
``t0 + (i + 1) * close_in`` on, spread over ``close_spread``; a tender-rush wave ``i``
has its deadline at ``t0 + (i + 1) * close_in``; reconnect storms drop every socket at
``t0 + k * drop_every``. A user joins the first wave whose close is still ahead.

Every method may block on the officer's HTTP calls (O(auctions) requests the first time,
a dict look-up after); a gevent lock per pool makes the first caller provision it while
the others wait.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass

import gevent.lock
import gevent.pool
from locust.env import Environment

from contracts import custody
from loadtests.scenarios.bidding import Auction
from loadtests.scenarios.officer import Officer, ProvisioningFailed, now_us, officer_for
from loadtests.scenarios.options import Options, options_of

__all__ = ["Auction", "Pools", "Tender", "pools_for"]

_S = 1_000_000
#: Officer requests in flight at once while provisioning a pool.
_CONCURRENT = 8
#: Auctions of the reconnect storm and of the hot-auction bidders' neighbours.
_FEW = 10


@dataclass(frozen=True, slots=True)
class Tender:
    """A one-lot tender a scenario made: its deadline (µs) and opening public key."""

    id: str
    deadline: int
    public_key: bytes


class Pools:
    """The auctions and tenders of one Locust process (see the module docstring)."""

    def __init__(self, environment: Environment, host: str) -> None:
        self.options: Options = options_of(environment)
        self.officer: Officer = officer_for(environment, host)
        self.t0 = time.time()
        self.prefix = f"lc{os.getpid()}{uuid.uuid4().hex[:6]}"
        self._lock = gevent.lock.Semaphore()
        self._made: dict[str, list[Auction]] = {}
        self._tenders: dict[int, list[Tender]] = {}
        self._locks: dict[str, gevent.lock.Semaphore] = {}
        self._parties = 0
        # The committee's key: generated here, its private half never needed (nobody
        # opens the envelopes during a load test).
        self._officer_keys = custody.generate_officer_keys()

    def party(self, kind: str) -> str:
        """A party id unique in this process (``<prefix>-<kind><n>``)."""
        self._parties += 1
        return f"{self.prefix}-{kind}{self._parties}"

    def _once(self, key: str) -> gevent.lock.Semaphore:
        with self._lock:
            return self._locks.setdefault(key, gevent.lock.Semaphore())

    def _auctions(self, key: str, count: int, ends: list[int], soft: float | None) -> list[Auction]:
        with self._once(key):
            if key not in self._made:
                made = [Auction(f"{self.prefix}-{key}-{n}", ends[n]) for n in range(count)]
                pool = gevent.pool.Pool(_CONCURRENT)
                creating = [
                    pool.spawn(
                        self.officer.create_english,
                        auction.id,
                        ends_at=auction.ends_at,
                        soft_close_s=soft,
                    )
                    for auction in made
                ]
                pool.join()
                # One refused creation is a failure event already (the run fails); the
                # others go on, and no later caller creates the pool again.
                made = [a for a, g in zip(made, creating, strict=True) if g.successful()]
                if not made:
                    raise ProvisioningFailed(f"no auction of {key!r} could be created")
                self._made[key] = made
            return self._made[key]

    def steady(self) -> list[Auction]:
        """``auctions`` auctions open for two hours (no soft close)."""
        count = self.options.auctions
        return self._auctions("steady", count, [now_us() + 7200 * _S] * count, None)

    def few(self) -> list[Auction]:
        """Ten auctions open for two hours: the reconnect storm's."""
        return self._auctions("few", _FEW, [now_us() + 7200 * _S] * _FEW, None)

    def hot(self) -> Auction:
        """The one hot auction, open for two hours."""
        return self._auctions("hot", 1, [now_us() + 7200 * _S], None)[0]

    def wave_index(self, lead_s: float = 0.0) -> int:
        """The first wave whose close is more than ``lead_s`` seconds ahead."""
        elapsed = time.time() + lead_s - self.t0
        return max(0, int(elapsed // self.options.close_in))

    def closing_wave(self, index: int) -> list[Auction]:
        """Wave ``index`` of the closing storm: ``auctions`` auctions with a soft close,
        their scheduled ends spread evenly over ``close_spread`` from
        ``t0 + (index + 1) * close_in``."""
        options = self.options
        first = int((self.t0 + (index + 1) * options.close_in) * _S)
        count = options.auctions
        ends = [first + int(options.close_spread * _S * n / count) for n in range(count)]
        return self._auctions(f"w{index}", count, ends, options.soft_close)

    def tender_wave(self, index: int) -> list[Tender]:
        """Wave ``index`` of the deadline rush: ``tenders`` tenders whose deadline is
        ``t0 + (index + 1) * close_in``."""
        with self._once(f"t{index}"):
            if index not in self._tenders:
                deadline = int((self.t0 + (index + 1) * self.options.close_in) * _S)
                public = self._officer_keys.encryption_public
                ids = [f"{self.prefix}-t{index}-{n}" for n in range(self.options.tenders)]
                pool = gevent.pool.Pool(_CONCURRENT)
                keys = pool.map(
                    lambda tender_id: self.officer.create_tender(tender_id, deadline, public), ids
                )
                pairs = zip(ids, keys, strict=True)
                self._tenders[index] = [Tender(name, deadline, key) for name, key in pairs]
            return self._tenders[index]

    def next_drop(self) -> float:
        """The wall-clock time of the next reconnect storm (every ``drop_every`` s)."""
        period = self.options.drop_every
        return self.t0 + (int((time.time() - self.t0) // period) + 1) * period


_pools: dict[int, Pools] = {}
_pools_lock = gevent.lock.Semaphore()


def pools_for(environment: Environment, host: str) -> Pools:
    """This process's :class:`Pools` (made on the first call, which fixes ``t0``)."""
    with _pools_lock:
        pools = _pools.get(id(environment))
        if pools is None:
            pools = _pools[id(environment)] = Pools(environment, host)
        return pools
