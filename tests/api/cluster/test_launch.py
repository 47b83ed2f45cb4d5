"""``gavel serve --workers N`` and ``gavel cluster up --nodes N`` (:mod:`api.cluster.launch`):
real processes, a real PostgreSQL, a real NATS.

The database is a fresh one on ``DATABASE_URL`` when that is set, else none is given and
the launcher starts the embedded PostgreSQL in its data directory (the suite runs both
ways). ``--workers`` uses the session's NATS (``nats_url``); ``cluster up`` is run without
``NATS_URL`` and must start, and stop, a nats-server of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest

from api.cluster.cli import main as cluster_main
from api.cluster.launch import LaunchError, check_ports_free, cluster_plan, worker_plan
from api.http.server import _workers
from api.settings import Settings
from api.storage.postgres import dsn_with_database
from loadtests.server_process import free_port

ROOT = Path(__file__).resolve().parents[3]
NODE_LINE = re.compile(r"^(\S+)  (http://\S+)  pid (\d+)( \(restarted\))?$", re.MULTILINE)
#: No rate limit in the way of the probes.
ENV = {"GAVEL_RATE_PER_S": "100000", "GAVEL_RATE_BURST": "100000", "GAVEL_LOG_LEVEL": "INFO"}


@pytest.fixture
def database_url() -> Iterator[str | None]:
    """A fresh database on ``DATABASE_URL`` (dropped after), or ``None``: embedded."""
    server = os.environ.get("DATABASE_URL")
    if not server:
        yield None
        return
    name = f"gavel_launch_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}" TEMPLATE template0'))
    try:
        yield dsn_with_database(server, name)
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(dsn: str, statement: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """Not under pytest's basetemp (the embedded server's user must reach it)."""
    path = Path(tempfile.mkdtemp(prefix="gavel-test-launch-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class Launched:
    """One ``gavel …`` supervisor process, its output in files."""

    def __init__(self, args: list[str], env: dict[str, str], where: Path) -> None:
        self.out_path, self.err_path = where / "out.txt", where / "err.txt"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", *args], env=env, cwd=ROOT, stdout=out, stderr=err
            )
        self.psutil = psutil.Process(self.process.pid)

    @property
    def out(self) -> str:
        return self.out_path.read_text()

    @property
    def err(self) -> str:
        return self.err_path.read_text()

    def wait_for(self, pattern: str, timeout: float = 60.0, *, err: bool = False) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.err if err else self.out, re.MULTILINE)
            if found:
                return found
            assert self.process.poll() is None, (self.out, self.err[-3000:])
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} in:\n{self.out}\n{self.err[-3000:]}")

    def nodes(self) -> dict[str, tuple[str, int]]:
        """node id -> (url, pid) as printed last for each."""
        return {m[1]: (m[2], int(m[3])) for m in NODE_LINE.finditer(self.out)}

    def children(self) -> list[psutil.Process]:
        return [c for c in self.psutil.children() if c.status() != psutil.STATUS_ZOMBIE]

    def servers(self) -> dict[int, psutil.Process]:
        return {c.pid: c for c in self.children() if "serve" in c.cmdline()}

    def stop(self, number: int) -> int:
        """Send ``number``; the supervisor's exit status once it ended."""
        self.process.send_signal(number)
        return self.process.wait(60)

    def kill(self) -> None:
        if self.process.poll() is None:
            for child in self.psutil.children(recursive=True):
                child.kill()
            self.process.kill()
            self.process.wait(10)


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready(url):
        assert time.monotonic() < deadline, f"{url}/readyz never answered 200"
        time.sleep(0.2)


def port_free(port: int) -> bool:
    try:
        socket.create_server(("127.0.0.1", port)).close()
        return True
    except OSError:
        return False


def gone(processes: list[psutil.Process]) -> bool:
    def ended(process: psutil.Process) -> bool:
        try:
            return process.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    return all(ended(p) for p in processes)


def running_in(directory: Path) -> list[str]:
    """Command lines of the processes naming ``directory`` (the embedded PostgreSQL's)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or ())
        if str(directory) in line:
            found.append(line)
    return found


def child_env(database_url: str | None, data_dir: Path, **more: str) -> dict[str, str]:
    env = {**os.environ, **ENV, "GAVEL_DATA_DIR": str(data_dir)}
    for name in ("DATABASE_URL", "NATS_URL", "GAVEL_SIGNING_KEY", "GAVEL_NODE_ID", "GAVEL_CLUSTER"):
        env.pop(name, None)
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return {**env, **more}


def test_serve_with_two_workers_shares_one_port_restarts_a_dead_one_and_stops_on_sigterm(
    database_url: str | None, data_dir: Path, nats_url: str
) -> None:
    port = free_port()
    prefix = f"w{uuid.uuid4().hex[:6]}"
    env = child_env(
        database_url, data_dir, NATS_URL=nats_url, GAVEL_NODE_ID=prefix, GAVEL_CLUSTER=prefix
    )
    launched = Launched(["serve", "--workers", "2", "--port", str(port)], env, data_dir)
    try:
        launched.wait_for(f"^gavel serve: 2 workers share http://127.0.0.1:{port}$")
        launched.wait_for(rf"^{prefix}-2  ")
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        nodes = launched.nodes()
        assert sorted(nodes) == [f"{prefix}-1", f"{prefix}-2"]
        assert {where for where, _ in nodes.values()} == {url}
        pids = {pid for _, pid in nodes.values()}
        servers = launched.servers()
        assert set(servers) == pids  # both workers run, children of the supervisor
        for worker in servers.values():  # each serves the one socket it inherited
            assert worker.environ()["GAVEL_LISTEN_FD"]
            assert worker.environ()["NATS_URL"] == nats_url
        assert len({w.environ()["GAVEL_SIGNING_KEY"] for w in servers.values()}) == 1
        launched.wait_for(rf"^ready: {url} answers /readyz$")

        # A worker that dies is reported and restarted; the port serves meanwhile.
        dead = nodes[f"{prefix}-2"][1]
        os.kill(dead, signal.SIGKILL)
        launched.wait_for(rf"{prefix}-2 \(pid {dead}\) was killed by SIGKILL", err=True)
        restarted = launched.wait_for(rf"^{prefix}-2  {url}  pid (\d+)  \(restarted\)$")
        assert int(restarted[1]) != dead and int(restarted[1]) in launched.servers()
        assert ready(url)

        every = launched.psutil.children(recursive=True)
        assert launched.stop(signal.SIGTERM) == 0
        assert gone(every)  # no worker left
        assert port_free(port)
        assert not running_in(data_dir)  # nor the embedded PostgreSQL, if it started one
    finally:
        launched.kill()


def test_cluster_up_starts_nats_and_three_nodes_prints_them_and_stops_all_on_sigint(
    database_url: str | None, data_dir: Path
) -> None:
    base = _consecutive_free_ports(3)
    env = child_env(database_url, data_dir)  # no NATS_URL: it starts its own nats-server
    launched = Launched(["cluster", "up", "--nodes", "3", "--base-port", str(base)], env, data_dir)
    try:
        launched.wait_for(r"^Try failover by hand:$")
        nodes = launched.nodes()
        assert nodes.keys() == {"node-1", "node-2", "node-3"}
        for number in (1, 2, 3):
            assert nodes[f"node-{number}"][0] == f"http://127.0.0.1:{base + number - 1}"
        out = launched.out
        nats = re.search(r"^nats      (nats://127\.0\.0\.1:(\d+))  \(.*started here", out, re.M)
        assert nats, out
        assert re.search(r"^database  postgresql://", out, re.M), out
        if database_url is None:
            assert "(embedded, started here in" in out
        assert f"kill -9 {nodes['node-1'][1]}" in out
        for url, _ in nodes.values():
            wait_ready(url)
        launched.wait_for(r"^ready: 3 of 3 answer /readyz$")
        children = launched.children()
        servers = launched.servers()
        assert set(servers) == {pid for _, pid in nodes.values()}
        (nats_server,) = [c for c in children if "nats-server" in c.name()]
        assert all(s.environ()["NATS_URL"] == nats[1] for s in servers.values())

        # A node that dies is reported, not restarted (failover is the others' job).
        dead = nodes["node-3"][1]
        os.kill(dead, signal.SIGKILL)
        launched.wait_for(rf"node-3 \(pid {dead}\) was killed by SIGKILL; not restarted", err=True)
        time.sleep(1.5)
        assert len(launched.servers()) == 2 and "(restarted)" not in launched.out

        every = launched.psutil.children(recursive=True)
        assert launched.stop(signal.SIGINT) == 0
        assert gone(every) and gone([nats_server])
        assert all(port_free(base + i) for i in range(3))
        assert port_free(int(nats[2]))
        assert not running_in(data_dir)
    finally:
        launched.kill()


def test_the_plans() -> None:
    settings = Settings(host="127.0.0.1", demo=True)
    workers = worker_plan(settings, 3, 8123, listen_fd=7)
    assert [n.node_id for n in workers.nodes] == ["node-1", "node-2", "node-3"]
    assert {n.url for n in workers.nodes} == {"http://127.0.0.1:8123"}
    assert [n.first_args for n in workers.nodes] == [("--demo",), (), ()]  # one seeds
    assert workers.restart and workers.listen_fd == 7
    cluster = cluster_plan(Settings(host="0.0.0.0", node_id="eu"), 2, 9001)
    assert [(n.node_id, n.port, n.url) for n in cluster.nodes] == [
        ("eu-1", 9001, "http://127.0.0.1:9001"),
        ("eu-2", 9002, "http://127.0.0.1:9002"),
    ]
    assert not cluster.restart and cluster.listen_fd is None


def test_workers_flag() -> None:
    assert _workers("auto") == 0 and _workers("0") == 0 and _workers("4") == 4
    for bad in ("-1", "many"):
        with pytest.raises(argparse.ArgumentTypeError):
            _workers(bad)


def test_cluster_up_on_a_taken_port_is_one_line_and_status_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(LaunchError, match=f"127.0.0.1:{port}"):
            check_ports_free("127.0.0.1", [port])
        assert cluster_main(["up", "--nodes", "1", "--base-port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--base-port" in err
    assert cluster_main([]) == 2


def _consecutive_free_ports(count: int) -> int:
    for _ in range(50):
        base = random.randrange(20_000, 40_000)
        try:
            check_ports_free("127.0.0.1", range(base, base + count))
        except LaunchError:
            continue
        return base
    raise AssertionError("no free ports")
