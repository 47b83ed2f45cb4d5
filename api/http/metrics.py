"""Prometheus text exposition of the service's counters (format version 0.0.4).

Counters live in plain dicts updated inline by the adapters (O(1), no locks: one event
loop); the writer's batch-size and commit-latency histograms and the live gauges
(connected sockets, per-auction queue depth, rate-limit buckets, the closed sockets'
memory reclaimed: :mod:`api.http.reclaim`) are read when ``/metrics`` is scraped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from api.access.ratelimit import buckets_held
from api.auctions.runner import AuctionRunner
from api.http import reclaim
from api.live.hub import Hub
from api.storage.writer import WriterStats

__all__ = ["Metrics"]


class Metrics:
    """The service's counters and the renderer of ``/metrics``."""

    def __init__(self) -> None:
        self.bids_accepted = 0
        self.rejected: Counter[str] = Counter()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.sockets_dropped_slow = 0

    def count_result(self, accepted: bool, reason: str | None) -> None:
        """Record a bid command's result."""
        if accepted:
            self.bids_accepted += 1
        else:
            self.rejected[reason or "unknown"] += 1

    def render(self, hub: Hub, runners: Iterable[AuctionRunner], writer: WriterStats | None) -> str:
        """The exposition text. O(auctions + reasons)."""
        lines = [
            "# HELP gavel_bids_accepted_total Bids accepted by the engine and committed.",
            "# TYPE gavel_bids_accepted_total counter",
            f"gavel_bids_accepted_total {self.bids_accepted}",
            "# HELP gavel_commands_rejected_total Commands rejected, by reason code.",
            "# TYPE gavel_commands_rejected_total counter",
        ]
        for reason, count in sorted(self.rejected.items()):
            lines.append(f'gavel_commands_rejected_total{{reason="{reason}"}} {count}')
        lines += [
            "# HELP gavel_http_responses_total HTTP responses by route and status.",
            "# TYPE gavel_http_responses_total counter",
        ]
        for (route, status), count in sorted(self.requests.items()):
            lines.append(f'gavel_http_responses_total{{route="{route}",status="{status}"}} {count}')
        lines += [
            "# HELP gavel_sockets_connected Websocket subscribers connected now.",
            "# TYPE gavel_sockets_connected gauge",
            f"gavel_sockets_connected {hub.sockets}",
            "# HELP gavel_sockets_dropped_slow_total Sockets closed for falling behind.",
            "# TYPE gavel_sockets_dropped_slow_total counter",
            f"gavel_sockets_dropped_slow_total {self.sockets_dropped_slow}",
            "# HELP gavel_auction_queue_depth Commands waiting for each auction's runner.",
            "# TYPE gavel_auction_queue_depth gauge",
        ]
        for runner in runners:
            lines.append(
                f'gavel_auction_queue_depth{{auction="{runner.auction_id}"}} {runner.queue_depth}'
            )
        if writer is not None:
            lines += _histogram(
                "gavel_commit_batch_events",
                "Events per committed batch.",
                writer.batch_events.cumulative(),
                writer.batch_events.total,
                writer.batch_events.count,
            )
            lines += _histogram(
                "gavel_commit_latency_us",
                "Commit latency of a batch in microseconds.",
                writer.commit_us.cumulative(),
                writer.commit_us.total,
                writer.commit_us.count,
            )
        lines += [
            "# HELP gavel_rate_limit_buckets Token buckets held by the rate limiters.",
            "# TYPE gavel_rate_limit_buckets gauge",
            f"gavel_rate_limit_buckets {buckets_held()}",
            *reclaim.metric_lines(),
        ]
        return "\n".join(lines) + "\n"


def _histogram(
    name: str, help_text: str, buckets: list[tuple[float, int]], total: float, count: int
) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
    for bound, cumulative in buckets:
        label = "+Inf" if bound == float("inf") else f"{bound:g}"
        lines.append(f'{name}_bucket{{le="{label}"}} {cumulative}')
    lines += [f"{name}_sum {total}", f"{name}_count {count}"]
    return lines
