"""The audit benchmark at a small size: its bundle verifies, its figures are complete.
Timing is never asserted."""

from __future__ import annotations

import io
import json

from api.audit.bundle import verify
from api.cli import main as gavel_main
from loadtests.bench_audit import generate, main


def test_the_generated_bundle_is_a_real_auction_that_verifies() -> None:
    bundle = generate(2_000, bidders=20, every=500, seed=3)
    events = [json.loads(text)["type"] for text in bundle["events"]]
    assert len(events) >= 2_000
    assert events[0] == "AuctionCreated" and events[-1] == "AuctionEnded"
    assert {"BidAccepted", "CommandRejected"} <= set(events)
    verified = verify(bundle)
    assert verified.events == len(events)
    assert verified.checkpoints == len(events) // 500 + (len(events) % 500 > 0)
    assert verified.result == "re-decided"


def test_json_figures() -> None:
    out = io.StringIO()
    assert main(["--json", "--events", "1500", "--bidders", "10", "--every", "400"], out) == 0
    figures = json.loads(out.getvalue())
    assert figures["bench"] == "audit"
    assert figures["events"] >= 1500
    assert figures["result"] == "re-decided"
    for name in ("load_s", "verify_s", "total_s", "load_cpu_s", "verify_cpu_s", "total_cpu_s"):
        assert figures[name] >= 0
    assert figures["bundle_bytes"] > 1500 * 50


def test_text_figures_through_gavel_bench(capsys: object) -> None:
    assert gavel_main(["bench", "audit", "--events", "300", "--bidders", "5"]) == 0
    text = capsys.readouterr().out  # type: ignore[attr-defined]
    assert text.startswith("verified ") and "events/s" in text
