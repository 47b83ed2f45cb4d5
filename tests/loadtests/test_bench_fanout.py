"""The fan-out benchmark at a small size: one short run reports every figure for both
transports. Speed is never asserted."""

from __future__ import annotations

import io
import json

import pytest

from loadtests.bench_fanout import main


def test_one_short_run_reports_both_transports() -> None:
    out = io.StringIO()
    argv = ["--json", "--seconds", "0.5", "--subscribers", "1", "--rate", "500", "--size", "200"]
    assert main(argv, out) == 0
    result = json.loads(out.getvalue())
    assert result["bench"] == "fanout"
    assert (result["subscribers"], result["size"], result["rate"]) == (1, 200, 500)
    for transport in ("notify", "nats"):
        phases = result[transport]
        assert set(phases) == {"max", "rate", "slow"}
        for figures in phases.values():
            assert figures["sent"] > 0
            assert figures["published_per_s"] > 0
            assert figures["delivered_per_s"] >= 0
            assert 0 <= figures["delivered_to_every"] <= figures["sent"]
        for mode in ("rate", "slow"):
            figures = phases[mode]
            assert 0 <= figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
        assert 0 <= phases["slow"]["slow_received"] <= phases["slow"]["sent"]
    assert 0 <= result["notify"]["slow"]["queue_usage_max"] <= 1
    assert "server_slow_consumers" in result["nats"]["slow"]


def test_refuses_what_is_not_a_size() -> None:
    with pytest.raises(SystemExit):
        main(["--subscribers", "0"])
