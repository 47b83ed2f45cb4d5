"""A Gavel server in a child process, on a free loopback port: for tests and benchmarks.

``ServerProcess`` starts ``python -m api.http.server`` with a signing key it generated (so
the caller can mint tokens without asking the server), waits until ``/readyz`` answers,
and can stop it gracefully (SIGTERM) or kill it outright (SIGKILL, for crash tests).
Call order: ``start()`` → use ``url`` / ``token()`` → ``stop()`` or ``kill()``; or use it
as a context manager.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.access import auth

__all__ = ["EdgeProcess", "ServerProcess", "end_process", "free_port"]


def end_process(
    process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout_s: float = 20.0
) -> int | None:
    """Send ``sig`` to ``process`` if it still runs and wait up to ``timeout_s`` for it to
    end; SIGKILL it (and wait as long again) if it lingers. Its return code."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout_s)
    return process.returncode


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    """One server child process."""

    def __init__(
        self,
        data_dir: Path,
        *,
        database_url: str | None = None,
        port: int | None = None,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = Path(data_dir)
        self.database_url = database_url
        self.port = port or free_port()
        self.key = Ed25519PrivateKey.generate()
        self.extra_env = env or {}
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:<port>``."""
        return f"ws://127.0.0.1:{self.port}"

    def token(self, sub: str, role: str, auction: str | None = None, ttl_s: int = 3600) -> str:
        """A token signed with the server's key."""
        return auth.issue(
            self.key,
            sub=sub,
            role=auth.Role(role),
            auction=auction,
            ttl_s=ttl_s,
            now_s=int(time.time()),
            jti=auth.new_jti(),
        )

    def _environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "GAVEL_SIGNING_KEY": base64.b64encode(self.key.private_bytes_raw()).decode(),
            "GAVEL_LOG_LEVEL": os.environ.get("GAVEL_LOG_LEVEL", "WARNING"),
            **self.extra_env,
        }

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "api.http.server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            *self.args,
        ]

    def start(self, timeout_s: float = 60.0) -> ServerProcess:
        """Spawn the server and wait until it is ready; raise with its log if it is not."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = self._environment()
        env.pop("DATABASE_URL", None)
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        command = self._command()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"the server was not ready in {timeout_s} s:\n{self.log()}")

    def log(self) -> str:
        """The tail of the server's output."""
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """SIGKILL: no shutdown at all, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM and wait for the graceful shutdown; SIGKILL if it takes too long."""
        return None if self.process is None else end_process(self.process, timeout_s=timeout_s)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


class EdgeProcess(ServerProcess):
    """A read-only edge (``python -m api.http.edge``) of a running :class:`ServerProcess`.

    It shares the core's database and verifies the core's tokens (it fetches the core's
    public key; it never gets the private one): :meth:`token` mints with the core's key,
    so tests and benchmarks use an edge as they use the core. Its feed token is an
    auditor's, minted here.
    """

    def __init__(
        self,
        data_dir: Path,
        core: ServerProcess,
        *,
        port: int | None = None,
        env: dict[str, str] | None = None,
        core_url: str | None = None,
    ) -> None:
        super().__init__(data_dir, database_url=core.database_url, port=port, env=env)
        self.core = core
        #: Where the edge reaches the core (default ``core.url``; a test may put a proxy
        #: in between).
        self.core_url = core_url or core.url
        self.key = core.key
        self.log_path = self.data_dir / f"edge-{self.port}.log"

    def _environment(self) -> dict[str, str]:
        env = {
            **os.environ,
            "GAVEL_LOG_LEVEL": os.environ.get("GAVEL_LOG_LEVEL", "WARNING"),
            "GAVEL_EDGE_TOKEN": self.core.token("edge", "auditor", ttl_s=7 * 86400),
            **self.extra_env,
        }
        env.pop("GAVEL_SIGNING_KEY", None)
        return env

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "api.http.edge",
            "--core-url",
            self.core_url,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
