"""The reclaimer's policy, on a fake clock and a fake collector: when a full collection
runs after websockets closed, and what it reports. The live effect (objects back to
their baseline after storms of real sockets) is in ``test_socket_memory.py``."""

from __future__ import annotations

import asyncio
import gc

import pytest
from sanic import Sanic

from api.http import reclaim
from api.http.reclaim import (
    HOLD_S,
    MAX_DUTY,
    MIN_CLOSED,
    SocketReclaimer,
    install,
    resident_bytes,
)
from api.settings import Settings


class Counts:
    """Sockets open now, the collections asked for, and a clock each takes ``pause``
    seconds of."""

    def __init__(self) -> None:
        self.open = 0
        self.collections = 0
        self.time = 0.0
        self.pause = 0.0

    def collect(self) -> int:
        self.collections += 1
        self.time += self.pause
        return 42


def reclaimer(counts: Counts, **options: object) -> SocketReclaimer:
    return SocketReclaimer(
        lambda: counts.open,
        collect=counts.collect,
        clock=lambda: counts.time,
        **options,  # type: ignore[arg-type]
    )


def storm(subject: SocketReclaimer, counts: Counts, sockets: int) -> None:
    """``sockets`` open, then all of them close."""
    for _ in range(sockets):
        subject.opened()
        counts.open += 1
    counts.open -= sockets


def test_closings_are_reclaimed_once_ripe() -> None:
    counts = Counts()
    subject = reclaimer(counts)
    storm(subject, counts, 500)
    assert (subject.closed, subject.unreclaimed) == (500, 500)
    # Sanic still holds the sockets for its close timeout: nothing to free yet.
    assert not subject.tick(0.0)
    assert not subject.tick(HOLD_S - 0.1)
    assert subject.tick(HOLD_S)
    assert (counts.collections, subject.collections, subject.freed_objects) == (1, 1, 42)
    assert subject.unreclaimed == 0
    # Nothing closed since: no second collection.
    assert not subject.tick(3 * HOLD_S)
    assert counts.collections == 1


def test_closings_seen_after_the_horizon_wait_for_their_own() -> None:
    counts = Counts()
    subject = reclaimer(counts)
    storm(subject, counts, 100)
    subject.tick(0.0)
    storm(subject, counts, 100)
    subject.tick(5.0)
    # At HOLD_S only the first 100 are ripe; the second storm waits until HOLD_S + 5.
    assert subject.tick(HOLD_S)
    assert subject.unreclaimed == 100
    assert not subject.tick(HOLD_S + 4.9)
    assert subject.tick(HOLD_S + 5.0)
    assert subject.unreclaimed == 0


def test_a_trickle_waits_for_min_closed() -> None:
    counts = Counts()
    subject = reclaimer(counts)
    now = 0.0
    for _ in range(MIN_CLOSED - 1):
        storm(subject, counts, 1)
        assert not subject.tick(now)
        now += 5.0
    storm(subject, counts, 1)
    assert not subject.tick(now)  # the 64th closing is not ripe yet
    assert subject.tick(now + HOLD_S)
    assert counts.collections == 1


def test_churn_at_a_constant_count_is_counted() -> None:
    # Clients reconnecting: as many open as close, the count never drops.
    counts = Counts()
    counts.open = 1000
    subject = reclaimer(counts)
    subject.opened_total = 1000
    for second in range(0, 60, 5):
        for _ in range(50):
            subject.opened()  # a new socket replaces one that closed
        subject.tick(float(second))
    assert counts.open == 1000 and subject.closed == 600
    assert counts.collections >= 1


def test_the_share_of_open_sockets_sets_the_threshold() -> None:
    # With 10,000 sockets open, 500 closings are not worth a pause over all of them.
    counts = Counts()
    counts.open = 10_000
    subject = reclaimer(counts)
    subject.opened_total = 10_000
    storm(subject, counts, 500)
    subject.tick(0.0)
    assert not subject.tick(HOLD_S)
    storm(subject, counts, 2_000)
    subject.tick(HOLD_S)
    assert subject.tick(2 * HOLD_S)  # 2,500 ripe >= 0.25 x 10,000
    assert counts.collections == 1


def test_collections_take_at_most_max_duty_of_the_time() -> None:
    counts = Counts()
    counts.pause = 0.5
    subject = reclaimer(counts)
    storm(subject, counts, 1000)
    subject.tick(0.0)
    storm(subject, counts, 1000)
    subject.tick(1.0)
    assert subject.tick(HOLD_S)  # the first storm: 0.5 s
    # The second is ripe at HOLD_S + 1 but waits until 0.5 / MAX_DUTY = 5 s later.
    assert not subject.tick(HOLD_S + 1.0)
    assert not subject.tick(HOLD_S + 4.9)
    assert subject.tick(HOLD_S + 0.5 / MAX_DUTY)
    assert subject.pause_s_max == 0.5 and subject.unreclaimed == 0


def test_disabled_counts_but_never_collects() -> None:
    counts = Counts()
    subject = reclaimer(counts, enabled=False)
    storm(subject, counts, 500)
    assert not subject.tick(0.0) and not subject.tick(100.0)
    assert counts.collections == 0
    assert (subject.closed, subject.unreclaimed) == (500, 0)
    assert "gavel_gc_reclaims_total 0" in subject.metric_lines()


def test_metric_lines() -> None:
    counts = Counts()
    subject = reclaimer(counts)
    storm(subject, counts, 100)
    subject.opened()
    counts.open += 1
    subject.tick(0.0)
    subject.tick(HOLD_S)
    lines = subject.metric_lines()
    for line in (
        "gavel_sockets_opened_total 101",
        "gavel_sockets_open 1",
        "gavel_sockets_unreclaimed 0",
        "gavel_gc_reclaims_total 1",
        "gavel_gc_reclaimed_objects_total 42",
        "# TYPE gavel_gc_reclaim_max_seconds gauge",
    ):
        assert line in lines
    assert not any(line.startswith("gavel_debug_") for line in lines)


def test_each_collection_is_followed_by_a_trim() -> None:
    counts = Counts()
    subject = reclaimer(counts)
    trims = []
    subject._trim = lambda: trims.append(1)
    storm(subject, counts, 100)
    subject.tick(0.0)
    subject.tick(HOLD_S)
    assert trims == [1]
    assert "# TYPE gavel_malloc_trim_max_seconds gauge" in subject.metric_lines()
    assert reclaimer(counts, trim=False)._trim is None


def test_debug_adds_objects_and_resident_set() -> None:
    counts = Counts()
    subject = reclaimer(counts, debug=True)
    storm(subject, counts, 100)
    subject.tick(0.0)
    subject.tick(HOLD_S)
    assert subject.rss_after_collect and subject.rss_after_trim
    values = dict(line.split(" ") for line in subject.metric_lines() if line[0] != "#")
    assert int(values["gavel_debug_python_objects"]) > 0
    assert int(values["gavel_debug_rss_bytes"]) > 0
    assert "gavel_debug_rss_after_trim_bytes" in values


def test_the_default_collector_is_a_full_collection() -> None:
    subject = SocketReclaimer(lambda: 0)
    assert subject._collect is gc.collect


def test_resident_bytes() -> None:
    rss = resident_bytes()
    assert rss is not None and rss > 1_000_000


async def test_run_ticks_until_cancelled() -> None:
    counts = Counts()
    subject = reclaimer(counts, hold_s=0.0)
    storm(subject, counts, MIN_CLOSED)
    task = asyncio.create_task(subject.run(every_s=0.01))
    for _ in range(500):
        if counts.collections:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    assert counts.collections == 1


def test_install_registers_on_the_app_and_feeds_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reclaim, "_installed", None)
    assert reclaim.metric_lines() == []
    app = Sanic("reclaim_test_app")
    subject = install(app, enabled=False)
    assert subject.open_now() == 0 and not subject.enabled
    assert "gavel_sockets_open 0" in reclaim.metric_lines()
    # The counting on a running server: test_socket_memory.py.


def test_settings() -> None:
    assert Settings.from_env({}).reclaim and not Settings.from_env({}).debug_memory
    env = {"GAVEL_RECLAIM": "off", "GAVEL_DEBUG_MEMORY": "on"}
    settings = Settings.from_env(env)
    assert not settings.reclaim and settings.debug_memory
