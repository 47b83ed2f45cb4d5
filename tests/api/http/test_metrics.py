"""The ``/metrics`` text (:mod:`api.http.metrics`): Prometheus exposition format 0.0.4,
its counters, gauges and histograms, and their labels.

The route serving it is ``test_app.py``'s; here :meth:`Metrics.render` is read directly,
over a real hub, real (unstarted) runners and real writer statistics.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

import pytest
from sanic import Sanic

from api.access.ratelimit import TokenBucketLimiter, buckets_held
from api.auctions.runner import AuctionRunner
from api.auctions.views import Audience
from api.http import reclaim
from api.http.metrics import Metrics
from api.live.hub import Hub, Subscriber
from api.storage.memory import MemoryEventStore
from api.storage.writer import BATCH_EVENT_BOUNDS, COMMIT_US_BOUNDS, WriterStats
from engine import Auction, Event, Tick

_SAMPLE = re.compile(r'^([a-z_]+)(?:\{((?:[a-z_]+="[^"]*",?)*)\})? (\S+)$')
_LABEL = re.compile(r'([a-z_]+)="([^"]*)"')


@dataclass
class Exposition:
    """A parsed exposition: each family's type and help, and every sample."""

    types: dict[str, str] = field(default_factory=dict)
    helps: dict[str, str] = field(default_factory=dict)
    samples: list[tuple[str, dict[str, str], str]] = field(default_factory=list)

    def value(self, name: str, **labels: str) -> str:
        found = [v for n, ls, v in self.samples if n == name and ls == labels]
        assert len(found) == 1, (name, labels, found)
        return found[0]

    def labelled(self, name: str) -> list[dict[str, str]]:
        return [ls for n, ls, _ in self.samples if n == name]


def parse(text: str) -> Exposition:
    """Read ``text`` as the 0.0.4 format, failing on anything out of it: a family is
    declared once, HELP then TYPE, before its samples; a histogram's samples are its
    ``_bucket``, ``_sum`` and ``_count``; the text ends with a newline."""
    assert text.endswith("\n") and not text.endswith("\n\n")
    out = Exposition()
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert name not in out.helps and name not in out.types and help_text, line
            out.helps[name] = help_text
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert name in out.helps and name not in out.types, line
            assert kind in ("counter", "gauge", "histogram"), line
            out.types[name] = kind
        else:
            match = _SAMPLE.match(line)
            assert match, line
            name, labels, value = match.groups()
            family = name
            if name not in out.types:
                family = re.sub(r"_(bucket|sum|count)$", "", name)
                assert out.types.get(family) == "histogram", line
            float(value)  # a number, or the test fails here
            # Samples of a family follow its declaration, with no other family between.
            assert family == list(out.types)[-1], line
            out.samples.append((name, dict(_LABEL.findall(labels or "")), value))
    return out


@pytest.fixture(autouse=True)
def _no_reclaimer(monkeypatch: pytest.MonkeyPatch) -> None:
    """No process-wide socket reclaimer, unless a test installs one."""
    monkeypatch.setattr(reclaim, "_installed", None)


def _runner(auction_id: str) -> AuctionRunner:
    store = MemoryEventStore()

    async def reload() -> Auction:
        return Auction()

    def publish(_auction_id: str, _events: list[Event]) -> None:
        pass

    return AuctionRunner(
        auction_id,
        Auction(),
        store,
        reload=reload,
        read=lambda after: store.read(auction_id, after),
        publish=publish,
    )


def test_a_fresh_service_renders_zeros_and_no_labelled_samples() -> None:
    text = Metrics().render(Hub(), [], None)
    found = parse(text)
    assert found.types == {
        "gavel_bids_accepted_total": "counter",
        "gavel_commands_rejected_total": "counter",
        "gavel_http_responses_total": "counter",
        "gavel_sockets_connected": "gauge",
        "gavel_sockets_dropped_slow_total": "counter",
        "gavel_auction_queue_depth": "gauge",
        "gavel_rate_limit_buckets": "gauge",
    }
    assert found.value("gavel_bids_accepted_total") == "0"
    assert found.value("gavel_sockets_connected") == "0"
    assert found.value("gavel_sockets_dropped_slow_total") == "0"
    for name in ("gavel_commands_rejected_total", "gavel_http_responses_total"):
        assert found.labelled(name) == []
    assert found.labelled("gavel_auction_queue_depth") == []


def test_bid_results_count_accepted_and_rejected_by_reason() -> None:
    metrics = Metrics()
    for accepted, reason in [
        (True, None),
        (False, "out_of_turn"),
        (True, None),
        (False, "auction_closed"),
        (False, "out_of_turn"),
        (False, None),  # a refusal without a reason is counted, as "unknown"
        (True, "ignored"),  # an accepted bid's reason counts nowhere
    ]:
        metrics.count_result(accepted, reason)
    assert metrics.bids_accepted == 3
    assert metrics.rejected == {"out_of_turn": 2, "auction_closed": 1, "unknown": 1}
    found = parse(metrics.render(Hub(), [], None))
    assert found.value("gavel_bids_accepted_total") == "3"
    # One sample per reason, sorted by reason (a stable text between scrapes).
    assert found.labelled("gavel_commands_rejected_total") == [
        {"reason": "auction_closed"},
        {"reason": "out_of_turn"},
        {"reason": "unknown"},
    ]
    assert found.value("gavel_commands_rejected_total", reason="out_of_turn") == "2"
    assert found.value("gavel_commands_rejected_total", reason="unknown") == "1"


def test_responses_are_counted_by_route_and_status() -> None:
    metrics = Metrics()
    metrics.requests[("tender_get", 200)] += 2
    metrics.requests[("auction_bid", 409)] += 1
    metrics.requests[("auction_bid", 201)] += 5
    metrics.sockets_dropped_slow = 4
    text = metrics.render(Hub(), [], None)
    assert 'gavel_http_responses_total{route="auction_bid",status="201"} 5\n' in text
    found = parse(text)
    assert found.labelled("gavel_http_responses_total") == [
        {"route": "auction_bid", "status": "201"},
        {"route": "auction_bid", "status": "409"},
        {"route": "tender_get", "status": "200"},
    ]
    assert found.value("gavel_http_responses_total", route="tender_get", status="200") == "2"
    assert found.value("gavel_sockets_dropped_slow_total") == "4"


def test_connected_sockets_are_read_off_the_hub_when_scraped() -> None:
    hub = Hub()
    metrics = Metrics()
    assert parse(metrics.render(hub, [], None)).value("gavel_sockets_connected") == "0"
    watcher = Audience("observer", "press")
    hub.channel("a-1").subscribers.update({Subscriber(watcher), Subscriber(watcher)})
    hub.channel("a-2").subscribers.add(Subscriber(Audience("bidder", "acme")))
    hub.channel("a-3")  # a channel nobody watches counts nothing
    assert parse(metrics.render(hub, [], None)).value("gavel_sockets_connected") == "3"


async def test_queue_depth_is_one_gauge_per_auction_runner() -> None:
    busy, idle = _runner("a-1"), _runner("a-2")
    # Not started: what is submitted stays queued, as behind a slow commit.
    waiting = [asyncio.create_task(busy.submit(lambda now: Tick("tick", now))) for _ in range(2)]
    await asyncio.sleep(0)
    try:
        found = parse(Metrics().render(Hub(), [busy, idle], None))
    finally:
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
    assert found.labelled("gavel_auction_queue_depth") == [
        {"auction": "a-1"},
        {"auction": "a-2"},
    ]
    assert found.value("gavel_auction_queue_depth", auction="a-1") == "2"
    assert found.value("gavel_auction_queue_depth", auction="a-2") == "0"


def test_the_writer_histograms_are_cumulative_with_sum_and_count() -> None:
    stats = WriterStats()
    for events, micros in [(1, 300.0), (3, 800.0), (3, 1_500.5), (7_000, 400_000.0)]:
        stats.committed(appends=1, events=events, auctions=1, micros=micros)
    found = parse(Metrics().render(Hub(), [], stats))
    assert found.types["gavel_commit_batch_events"] == "histogram"
    assert found.types["gavel_commit_latency_us"] == "histogram"

    batch = {
        ls["le"]: int(found.value("gavel_commit_batch_events_bucket", **ls))
        for ls in found.labelled("gavel_commit_batch_events_bucket")
    }
    assert list(batch) == [f"{bound:g}" for bound in BATCH_EVENT_BOUNDS] + ["+Inf"]
    assert batch["1"] == 1 and batch["2"] == 1 and batch["5"] == 3 and batch["5000"] == 3
    assert batch["+Inf"] == 4  # 7,000 events: past every bound
    assert found.value("gavel_commit_batch_events_sum") == "7007"
    assert found.value("gavel_commit_batch_events_count") == "4"

    latency = {
        ls["le"]: int(found.value("gavel_commit_latency_us_bucket", **ls))
        for ls in found.labelled("gavel_commit_latency_us_bucket")
    }
    assert list(latency) == [f"{bound:g}" for bound in COMMIT_US_BOUNDS] + ["+Inf"]
    assert "10000" in latency and "250000" in latency  # plain integers, no exponent
    assert latency["250"] == 0 and latency["500"] == 1 and latency["1000"] == 2
    assert latency["2000"] == 3 and latency["250000"] == 3 and latency["+Inf"] == 4
    counts = list(latency.values())
    assert counts == sorted(counts)
    assert found.value("gavel_commit_latency_us_sum") == "402600.5"
    assert found.value("gavel_commit_latency_us_count") == "4"


def test_a_histogram_sum_keeps_every_digit() -> None:
    """A long-running server's sums grow past a million: ``rate(sum) / rate(count)``
    needs them exact, not rounded to six significant digits (``1.23457e+08``)."""
    stats = WriterStats()
    for _ in range(1_000):
        stats.committed(appends=1, events=12_345, auctions=1, micros=123_456.25)
    found = parse(Metrics().render(Hub(), [], stats))
    assert found.value("gavel_commit_batch_events_sum") == "12345000"
    assert float(found.value("gavel_commit_latency_us_sum")) == 123_456_250.0


def test_no_writer_no_histograms() -> None:
    text = Metrics().render(Hub(), [], None)
    assert "gavel_commit_" not in text


def test_rate_limit_buckets_are_every_limiter_of_the_process() -> None:
    before = int(parse(Metrics().render(Hub(), [], None)).value("gavel_rate_limit_buckets"))
    assert before == buckets_held()
    limiter = TokenBucketLimiter(rate=1.0, burst=2)
    for key in ("10.0.0.1", "10.0.0.2", "10.0.0.1"):
        limiter.check(key, now=0.0)
    after = parse(Metrics().render(Hub(), [], None)).value("gavel_rate_limit_buckets")
    assert int(after) == before + 2


def test_the_reclaimer_figures_close_the_text_once_installed() -> None:
    bare = Metrics().render(Hub(), [], None)
    assert "gavel_sockets_open" not in bare
    reclaim.install(Sanic("metrics_test_reclaim"), enabled=False)
    found = parse(Metrics().render(Hub(), [], None))
    assert found.types["gavel_sockets_open"] == "gauge"
    assert found.value("gavel_sockets_open") == "0"
    # Everything the service counts itself comes first, the reclaimer's figures after.
    families = list(found.types)
    assert families.index("gavel_rate_limit_buckets") < families.index("gavel_sockets_open")
