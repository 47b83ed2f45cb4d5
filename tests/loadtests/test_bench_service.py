"""Smoke test of ``gavel bench service``: both scenarios, tiny sizes, real processes.

It checks the shape of the JSON and that the figures are sane (bids were acknowledged,
nothing was rejected or dropped, percentiles are ordered); it never asserts a speed.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from loadtests import bench_service

RUN_KEYS = {
    "acks_per_s",
    "ack_p50_ms",
    "ack_p99_ms",
    "rejects",
    "not_acked",
    "frames_in_per_s",
    "dropped_sockets",
    "cpu_cores",
    "saturated",
}


def check_run(run: dict[str, object], *groups: str) -> None:
    assert set(run) >= RUN_KEYS, RUN_KEYS - set(run)
    assert run["rejects"] == 0 and run["not_acked"] == {}, run.get("sample_reject")
    assert run["dropped_sockets"] == 0
    assert isinstance(run["acks_per_s"], float) and run["acks_per_s"] > 0
    p50, p99 = run["ack_p50_ms"], run["ack_p99_ms"]
    assert isinstance(p50, float) and isinstance(p99, float)
    assert 0 < p50 <= p99
    cpu = run["cpu_cores"]
    assert isinstance(cpu, dict) and set(groups) <= set(cpu)
    assert all(isinstance(used, float) and used >= 0 for used in cpu.values())
    assert isinstance(run["saturated"], str)


def test_answers_that_are_not_acks_are_counted_by_kind() -> None:
    stats = bench_service._Stats()
    for raw in (
        b'{"type":"reject","request_id":"1","code":"unavailable","detail":"waited"}',
        b'{"type":"reject","request_id":"2","code":"unavailable","detail":"waited"}',
        b'{"type":"outcome_unknown","request_id":"3","detail":"no answer","seq":9}',
        b"not json",
        b'{"request_id":"4","seq":7,"type":"ack"}',
    ):
        stats.answered(raw, 0.0)
    assert (stats.acks, stats.rejects) == (1, 4)
    assert stats.not_acked == {"unavailable": 2, "outcome_unknown": 1, "undecodable": 1}
    merged = bench_service._Stats()
    bench_service._merge(merged, bench_service._sparse(stats))
    bench_service._merge(merged, bench_service._sparse(stats))
    assert merged.not_acked == {"unavailable": 4, "outcome_unknown": 2, "undecodable": 2}


def test_both_scenarios_report_sane_json(
    pg_server_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "--json",
        "--auctions=2",
        "--bidders=3",
        "--watchers=2",
        "--rate=5",
        "--seconds=1.5",
        "--warmup=0.5",
        f"--database-url={pg_server_dsn}",
    ]
    assert bench_service.run(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    storm, crowd = lines
    assert [storm["scenario"], crowd["scenario"]] == ["storm", "crowd"]

    assert (storm["auctions"], storm["bidders_per_auction"], storm["sockets"]) == (2, 3, 6)
    check_run(storm["gavel"], "server", "postgres", "generator")
    check_run(storm["gavel_single_commit"], "server", "postgres", "generator")
    check_run(storm["relay"], "server", "generator")
    assert storm["gavel"]["commit_mode"] == "group"
    assert storm["gavel_single_commit"]["commit_mode"] == "single"
    assert storm["ratio_to_relay"] > 0
    assert storm["group_commit_gain"] > 0
    assert storm["target_ratio"] == bench_service.TARGET_RELAY_RATIO
    assert isinstance(storm["meets_target"], bool)

    assert crowd["sockets"] == 2 * (3 + 2)
    assert crowd["offered_bids_per_s"] == 2 * 3 * 5
    check_run(crowd, "server", "postgres", "generator")
    assert crowd["watcher_events_per_s"] > 0
    assert 0 < crowd["fanout_p50_ms"] <= crowd["fanout_p99_ms"]
    assert crowd["loopback_us_per_write"]["writer"] > 0
    assert crowd["loopback_us_per_write"]["reader"] > 0
    assert set(crowd["targets"]) == {"ack_p99_ms", "fanout_p99_ms"}
    assert isinstance(crowd["meets_targets"], bool)
    # The same crowd against the bare relay: its watchers got the relay's events.
    check_run(crowd["relay"], "server", "generator")
    assert crowd["relay"]["watcher_events_per_s"] > 0
    assert 0 < crowd["relay"]["fanout_p50_ms"] <= crowd["relay"]["fanout_p99_ms"]
    for line in lines:
        assert line["database"] == "DATABASE_URL"
        assert line["machine"]["nproc"] >= 1


def test_the_table_is_readable(pg_server_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "--scenario=storm",
        "--skip-single",
        "--skip-relay",
        "--auctions=1",
        "--bidders=2",
        "--seconds=0.5",
        "--warmup=0.2",
        f"--database-url={pg_server_dsn}",
    ]
    assert bench_service.run(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("== storm (2 sockets")
    assert "acks/s" in out and "gavel" in out


def test_the_crowd_can_still_run_on_the_websockets_client(
    pg_server_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "--json",
        "--scenario=crowd",
        "--websockets-client",
        "--skip-relay",
        "--auctions=1",
        "--bidders=2",
        "--watchers=2",
        "--rate=5",
        "--seconds=1",
        "--warmup=0.3",
        f"--database-url={pg_server_dsn}",
    ]
    assert bench_service.run(argv) == 0
    crowd = json.loads(capsys.readouterr().out)
    check_run(crowd, "server", "postgres", "generator")
    assert crowd["watcher_events_per_s"] > 0
    assert "relay" not in crowd  # --skip-relay


def test_the_crowd_watchers_can_go_to_edges(
    pg_server_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "--json",
        "--scenario=crowd",
        "--edges=2",
        "--skip-relay",
        "--auctions=2",
        "--bidders=2",
        "--watchers=3",
        "--rate=5",
        "--seconds=1.5",
        "--warmup=0.5",
        f"--database-url={pg_server_dsn}",
    ]
    assert bench_service.run(argv) == 0
    crowd = json.loads(capsys.readouterr().out)
    assert crowd["edges"] == 2
    check_run(crowd, "server", "edge", "postgres", "generator")
    # Every watcher (all on the edges) got events, as many as on the server would.
    assert crowd["watcher_events_per_s"] > 0
    assert crowd["fanout_p50_ms"] is not None


def test_a_plan_path_names_its_edge() -> None:
    assert bench_service._target("ws://127.0.0.1:1", "/ws/v1/auctions/a") == (
        "ws://127.0.0.1:1",
        "/ws/v1/auctions/a",
    )
    assert bench_service._target("ws://127.0.0.1:1", "ws://127.0.0.1:2/ws/v1/auctions/a") == (
        "ws://127.0.0.1:2",
        "/ws/v1/auctions/a",
    )


class _Transport:
    """What a _RawSocket writes, and whether it was closed."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def _server_frame(opcode: int, payload: bytes) -> bytes:
    size = len(payload)
    if size < 126:
        return bytes((0x80 | opcode, size)) + payload
    return bytes((0x80 | opcode, 126)) + size.to_bytes(2, "big") + payload


def _unmask(frame: bytes) -> tuple[int, bytes]:
    assert frame[1] & 0x80, "a client frame must be masked"
    size, at = frame[1] & 0x7F, 2
    if size == 126:
        size, at = int.from_bytes(frame[2:4], "big"), 4
    key, payload = frame[at : at + 4], frame[at + 4 :]
    assert len(payload) == size
    return frame[0] & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def test_the_raw_client_masks_what_it_sends_and_splits_what_it_receives() -> None:
    lost: list[bool] = []
    sock = bench_service._RawSocket(b"GET / HTTP/1.1\r\n\r\n", lambda: lost.append(True))
    transport = _Transport()
    sock.connection_made(transport)  # type: ignore[arg-type]
    assert transport.written == [b"GET / HTTP/1.1\r\n\r\n"]
    texts: list[bytes] = []
    sock.on_text = texts.append
    long = b'{"seq":2,"pad":"' + b"x" * 300 + b'"}'
    stream = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        + _server_frame(0x1, b'{"seq":1}')
        + _server_frame(0x9, b"ping!")
        + _server_frame(0x1, long)
        + _server_frame(0x1, b"")
    )
    # Any chunking gives the same frames: one byte at a time, then all at once.
    for step in (1, 7, len(stream)):
        texts.clear()
        del transport.written[1:]
        sock.open, sock.buffer = False, b""
        sock.upgraded = asyncio.get_running_loop().create_future()
        for at in range(0, len(stream), step):
            sock.data_received(stream[at : at + step])
        assert sock.upgraded.done() and sock.open
        assert texts == [b'{"seq":1}', long, b""]
        assert [_unmask(frame) for frame in transport.written[1:]] == [(0xA, b"ping!")]
    sock.send('{"type":"bid"}')
    assert _unmask(transport.written[-1]) == (0x1, b'{"type":"bid"}')
    big = "y" * 200
    sock.send(big)
    assert _unmask(transport.written[-1]) == (0x1, big.encode())
    sock.data_received(_server_frame(0x8, (1000).to_bytes(2, "big")))
    assert transport.closed and not sock.open
    sock.connection_lost(None)
    assert lost == []  # closed by the server's close frame, not lost while open


async def test_the_raw_client_reports_a_refused_upgrade_and_a_lost_socket() -> None:
    lost: list[bool] = []
    sock = bench_service._RawSocket(b"GET / HTTP/1.1\r\n\r\n", lambda: lost.append(True))
    transport = _Transport()
    sock.connection_made(transport)  # type: ignore[arg-type]
    sock.data_received(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n\r\n{}")
    with pytest.raises(OSError, match="429"):
        await sock.upgraded
    assert transport.closed
    other = bench_service._RawSocket(b"GET / HTTP/1.1\r\n\r\n", lambda: lost.append(True))
    other.connection_made(_Transport())  # type: ignore[arg-type]
    other.data_received(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
    other.connection_lost(ConnectionResetError())
    assert lost == [True]
