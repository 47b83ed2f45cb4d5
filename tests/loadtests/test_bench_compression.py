"""``gavel bench compression`` (loadtests/bench_compression.py), run small: real frames, every
setting's bytes, CPU and memory per idle socket. No timing is asserted."""

from __future__ import annotations

import io
import json

from loadtests import bench_compression as bench


def test_the_stream_is_real_frames_of_every_kind() -> None:
    frames = bench.stream(bids=8, bidders=3)
    kinds = [kind for kind, _ in frames]
    assert kinds[0] == "welcome" and kinds[-1] == "ack"
    assert kinds.count("history") == 1 + 3 + 1  # created, registered, started
    assert kinds.count("event") == 8 and kinds.count("heartbeat") == 2
    messages = [json.loads(text) for _, text in frames]
    bids = [m for m in messages if m["type"] == "event" and m["event"]["type"] == "BidAccepted"]
    assert [m["seq"] for m in bids] == list(range(6, 14))
    assert messages[-1]["type"] == "ack" and messages[-1]["event"]["you"] is True


def test_main_measures_every_setting() -> None:
    out = io.StringIO()
    assert bench.main(["--json", "--sockets", "20", "--bids", "40", "--repeat", "1"], out) == 0
    figures = json.loads(out.getvalue())
    rows = {row["setting"]: row for row in figures["rows"]}
    assert list(rows) == [setting.name for setting in bench.SETTINGS]
    off = rows.pop("off")
    assert off["saved_share"] == 0.0 and off["us_per_frame"] == 0.0
    alone = rows.pop("per-frame")
    for row in rows.values():
        # JSON compresses, the more so with a window carried over between frames.
        assert alone["saved_share"] < row["saved_share"] < 1, row
        assert row["stream_bytes"] < off["stream_bytes"]
        assert row["us_per_frame"] > 0
        assert row["bytes_per_idle_socket"] > 0
    assert 0.1 < alone["saved_share"] < 0.6 and alone["stream_bytes"] < off["stream_bytes"]
    table = io.StringIO()
    bench._print(figures, table)
    assert "zlib-max" in table.getvalue()
