"""``gavel serve``: run the server (one process: one writer per auction lives here).

Flags override the environment (see :mod:`api.settings`). ``--demo`` also creates a
demo auction with an officer and three bidder credentials and prints ready-to-paste
commands, so a newcomer places a bid in the first minute.

A database that is down at start-up is waited for (what orchestrators expect): the
server listens at once, ``/healthz`` answers 200, ``/readyz`` and every other route 503
with a problem body, and start-up is retried with back-off, one log line per attempt,
until the database answers. ``--db-wait-s`` (``GAVEL_DB_WAIT_S``) bounds the wait: past
it the server logs one line naming ``DATABASE_URL`` and exits with status 1.

The listening socket is bound before anything else starts (no embedded database, no
storage): a port already in use, or an address this machine cannot listen on, is one
log line naming ``GAVEL_PORT`` / ``--port`` (or ``GAVEL_HOST`` / ``--host``) and exit
status 1, never a traceback (:func:`listen`).

``--workers N`` (N > 1; ``0`` or ``auto``: one per core) runs N processes of ``gavel
serve`` on one port: this process binds ``host:port`` once, hands the socket to every
worker (``GAVEL_LISTEN_FD``), so the kernel spreads the connections over them, and
supervises them as nodes of one cluster (:mod:`api.cluster.launch`: shared database,
NATS and signing key; a worker that dies is restarted). ``--workers 1``, the default, is
the single process described above.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import logging
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path

from sanic.server.socket import bind_socket

from api.http import reclaim
from api.http.app import Served, create_served
from api.http.webapp import App
from api.live.ws import SHUTDOWN_TIMEOUT_S
from api.logs import configure_logging
from api.settings import Settings

__all__ = ["CannotListen", "add_arguments", "listen", "main", "run_app", "serve"]

log = logging.getLogger("gavel.server")


class CannotListen(Exception):
    """The server cannot listen where its settings say; the message is the one line to
    print (what happened, and which setting to change)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``gavel serve``."""
    parser.add_argument("--host", help="address to listen on (GAVEL_HOST)")
    parser.add_argument("--port", type=int, help="port (GAVEL_PORT)")
    parser.add_argument("--data-dir", type=Path, help="embedded database and key (GAVEL_DATA_DIR)")
    parser.add_argument("--database-url", help="PostgreSQL URL (DATABASE_URL)")
    parser.add_argument(
        "--commit-mode", choices=["group", "single"], help="group commit or one per append"
    )
    parser.add_argument("--commit-window-us", type=int, help="group-commit window")
    parser.add_argument("--demo", action="store_true", default=None, help="seed a demo auction")
    parser.add_argument("--log-level", help="DEBUG, INFO or WARNING")
    parser.add_argument(
        "--db-wait-s",
        type=float,
        help="seconds to wait for the database before exiting (GAVEL_DB_WAIT_S; unset: no limit)",
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help="processes on this one port, each a cluster node (0 or auto: one per core; 1)",
    )


def serve(args: argparse.Namespace) -> int:
    """Run until interrupted (SIGINT/SIGTERM stop it gracefully)."""
    settings = Settings.from_env(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        database_url=args.database_url,
        commit_mode=args.commit_mode,
        commit_window_us=args.commit_window_us,
        demo=args.demo,
        log_level=args.log_level,
        db_wait_s=args.db_wait_s,
    )
    workers = getattr(args, "workers", 1) or (os.cpu_count() or 1)
    if workers > 1:
        return _serve_workers(settings, workers)
    return run_app(lambda: create_served(settings), settings)


def _serve_workers(settings: Settings, workers: int) -> int:
    """Bind ``host:port`` once and run ``workers`` processes of ``gavel serve`` on it
    (:func:`api.cluster.launch.run`); the exit status."""
    from api.cluster.launch import run, worker_plan

    configure_logging(settings.log_level)
    try:
        sock = listen(settings.host, settings.port)
    except CannotListen as error:
        log.error("%s", error, extra={"host": settings.host, "port": settings.port})
        return 1
    with sock:
        port = int(sock.getsockname()[1])
        return run(worker_plan(settings, workers, port, sock.fileno()))


def _workers(text: str) -> int:
    """``--workers``: a whole number, 0 or ``auto`` meaning one per core (returned as 0)."""
    if text.strip().lower() == "auto":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a whole number nor auto") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 (one per core), auto, or more")
    return value


def run_app(make: Callable[[], Served], settings: Settings) -> int:
    """Configure logging and the collector, build the app with ``make()`` and run it in
    this process until interrupted: the core (``gavel serve``) and ``gavel edge``
    (:mod:`api.http.edge`). Returns the exit status: ``served.exit_code`` once the server
    stopped (0, or 1 after a start-up that gave up), or 1 at once when it cannot listen
    (:func:`listen`; one ERROR line, ``make()`` never called). A worker of ``gavel serve
    --workers`` (``settings.listen_fd`` set) serves the listening socket it inherited
    instead of binding one."""
    configure_logging(settings.log_level)
    if settings.listen_fd is not None:
        # A worker of ``gavel serve --workers``: the parent bound the socket for all.
        sock = socket.socket(fileno=settings.listen_fd)
    else:
        try:
            sock = listen(settings.host, settings.port)
        except CannotListen as error:
            log.error("%s", error, extra={"host": settings.host, "port": settings.port})
            return 1
    # Thousands of sockets make many long-lived objects; with the default thresholds the
    # collector paused the server for up to 850 ms under the crowd benchmark. Fewer,
    # larger young-generation runs brought the longest pause to about 30 ms.
    gc.set_threshold(50_000, 50, 1000)
    served = make()
    app = served.app
    # Those thresholds all but rule out full collections, which alone free what closed
    # websockets leave in reference cycles: run one after enough of them closed.
    reclaim.install(app, enabled=settings.reclaim, debug=settings.debug_memory)
    _stop_gracefully_on_signals(served)
    # Sanic serves the socket bound above and closes it when it stops.
    app.run(
        sock=sock,
        single_process=True,
        access_log=False,
        motd=False,
        register_sys_signals=False,
    )
    return served.exit_code


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, bound as Sanic binds its own
    (``SO_REUSEADDR``, backlog 100, inheritable); :class:`CannotListen` with the line to
    print when the port is taken, not allowed, or the address is not this machine's."""
    where = f"{host}:{port}"
    try:
        return bind_socket(host, port)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            reason = f"port {port} is already in use on {host}"
            fix = "stop what uses it, or choose another port with GAVEL_PORT or --port"
        elif error.errno == errno.EACCES:
            reason = f"not allowed to listen on port {port} ({where})"
            fix = "choose a port above 1023 with GAVEL_PORT or --port"
        elif isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
            reason = f"cannot listen on {where}: {host!r} is not an address of this machine"
            fix = "set GAVEL_HOST or --host (e.g. 127.0.0.1, or 0.0.0.0 for every interface)"
        else:
            reason = f"cannot listen on {where}: {error.strerror or error}"
            fix = "check GAVEL_HOST / --host and GAVEL_PORT / --port"
        raise CannotListen(f"{reason}: {fix}") from None
    except OverflowError:  # a port outside 0-65535
        raise CannotListen(
            f"cannot listen on {where}: a port is 0-65535; set GAVEL_PORT or --port"
        ) from None


def _stop_gracefully_on_signals(served: Served) -> None:
    """SIGTERM or SIGINT: await ``served.graceful()`` while the server still runs, then
    stop Sanic; a second signal stops it at once.

    Sanic's own handler stops the event loop first and runs the shutdown listeners
    afterwards; under uvloop the first of those runs is cut short after one step, so
    a shutdown that awaits (finish the queued commands, answer them, close the sockets,
    flush the writer) was abandoned half way.
    """

    @served.app.after_server_start
    async def _install(app: App) -> None:
        loop = asyncio.get_running_loop()
        started: list[asyncio.Task[None]] = []

        async def graceful() -> None:
            try:
                await asyncio.wait_for(served.graceful(), SHUTDOWN_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - stop anyway
                logging.getLogger("gavel.server").exception("graceful shutdown failed")
            finally:
                app.stop()

        def on_signal() -> None:
            if started:
                app.stop()
                return
            started.append(loop.create_task(graceful()))

        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, on_signal)


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m api.http.server``."""
    parser = argparse.ArgumentParser(prog="gavel serve", description=__doc__)
    add_arguments(parser)
    return serve(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
