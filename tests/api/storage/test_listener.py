"""The held listener (:mod:`api.storage.listener`) against a private PostgreSQL it outlives.

A :class:`~tests.api.killable_pg.KillablePostgres` is stopped and started again, and
SIGKILLed and started again; the listener must log the loss, reconnect, run its
``on_connect`` hook again (the owner's re-read) and hear the next notification. A
connection that dies without a word (a frozen network, here a proxy that stops
forwarding) is found by the health check. The machine's PostgreSQL is never touched.

:class:`PgProxy` (a TCP proxy to the private server's Unix socket, in a thread of its
own so that module-scoped fixtures can share it) is used by ``test_revocation_restart``
too: it lets one process lose PostgreSQL while another keeps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import doctest
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import asyncpg  # type: ignore[import-untyped]
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import api.storage.listener
from api.storage.listener import (
    Backoff,
    HeldListener,
    describe_dsn,
    redact_dsn,
    scrub_dsn_secrets,
)
from loadtests.server_process import free_port
from tests.api.killable_pg import KillablePostgres

CHANNEL = "gavel_test_channel"


class PgProxy:
    """A TCP proxy on 127.0.0.1 to a PostgreSQL Unix socket directory, run on a loop in
    a thread of its own. ``refuse()`` cuts every connection and refuses new ones until
    ``accept()``; ``freeze()`` stops forwarding on the open connections without closing
    them (a silent network failure) while new ones work. ``dsn`` reaches the server
    through it."""

    def __init__(self, socket_dir: str, database: str = "postgres") -> None:
        self.socket_path = f"{socket_dir}/.s.PGSQL.5432"
        self.port = free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/{database}"
        self._open = True
        self._links: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter, asyncio.Event]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self) -> PgProxy:
        """Listen; returns once it does."""
        self._thread.start()
        self._call(self._listen())
        return self

    def close(self) -> None:
        """Cut everything and stop the thread."""
        self._call(self._shut(stop=True))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def refuse(self) -> None:
        """Cut the open connections and refuse new ones."""
        self._call(self._shut(stop=False))

    def accept(self) -> None:
        """Let new connections through again."""
        self._open = True

    def freeze(self) -> None:
        """Stop forwarding on the open connections, closing none of them."""

        async def freeze() -> None:
            for _, _, flowing in self._links:
                flowing.clear()

        self._call(freeze())

    def _call(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(30)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _shut(self, *, stop: bool) -> None:
        self._open = False
        links, self._links = self._links, []
        for client, upstream, flowing in links:
            client.transport.abort()
            upstream.transport.abort()
            flowing.set()  # a frozen pump wakes up to find its sockets gone
        if stop:
            if self._server is not None:
                self._server.close()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if not self._open:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.socket_path)
        except OSError:
            writer.transport.abort()
            return
        flowing = asyncio.Event()
        flowing.set()
        self._links.append((writer, up_writer, flowing))

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await source.read(65536):
                    await flowing.wait()
                    sink.write(data)
                    await sink.drain()
            with contextlib.suppress(Exception):
                sink.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))


def stop_gracefully(pg: KillablePostgres) -> None:
    """A fast shutdown of ``pg`` (SIGINT: sessions are terminated, data is kept), as an
    operator's ``pg_ctl stop`` or a restart does; ``pg.start()`` brings it back."""
    assert pg.process is not None
    pg.process.send_signal(signal.SIGINT)
    pg.process.wait(60)


@pytest.fixture(scope="module")
def private_pg() -> Iterator[KillablePostgres]:
    """A PostgreSQL of this module's own, which its tests stop, kill and restart."""
    with KillablePostgres() as pg:
        yield pg


async def notify(dsn: str, payload: str) -> None:
    """Send ``payload`` on :data:`CHANNEL` from a connection of its own."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
    finally:
        await conn.close()


async def until(check: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    """Wait (generously: the machine is loaded) until ``check()``."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.02)


def test_doctests() -> None:
    assert doctest.testmod(api.storage.listener).failed == 0


# ------------------------------------------------------------ naming a database safely

#: What a password is made of here: a marker no other part holds, then any of the
#: characters that break a URL's parsing (brackets, ``/``, ``?``, ``#``, ``@``, ``%``).
_SECRET = "s3cr3t"
_URL_TEXT = st.text(alphabet="ab:/?#@[]%.=&-_ 9\x00\u00e9", max_size=20)


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://u:s3cr3t@[::1",
        "postgresql://u:s3cr3t@[::1]:x/db",
        "postgresql://u:s3cr3t@[zz]/db",
        "postgresql://u:s3cr3t@db]/x",
        "postgresql://u:s3cr3t@host:99999/db",
        "postgresql://u:s3/cr3t@host/db",
        "postgresql://u:s3cr3t/@host/db",
        "postgresql://u:s3?cr3t@host/db",
        "postgresql://u:s3#cr3t@host/db",
        "postgresql://u:s3cr3t@@host/db",
        "postgresql://u:s3[cr3t@host/db",
        "postgresql://u@host/db?password=s3cr3t",
        "postgresql://u@[::1/db?password=s3cr3t",
        "postgresql://u@host/db?password=s3cr3t@x",
        "u:s3cr3t@host/db",
        "postgresql://u:s3cr3t@",
        "",
    ],
)
def test_a_malformed_url_is_named_without_its_password_and_without_raising(dsn: str) -> None:
    for shown in (redact_dsn(dsn), describe_dsn(dsn)):
        assert isinstance(shown, str) and "cr3t" not in shown, shown


def test_a_url_urllib_refuses_still_names_its_user_and_host() -> None:
    assert redact_dsn("postgresql://gavel:s3cr3t@[::1") == "postgresql://gavel@[::1"
    assert describe_dsn("postgresql://gavel:s3cr3t@[::1/db") == "[::1/db"
    assert redact_dsn("postgresql://[::1") == "postgresql://[::1"


@given(
    user=_URL_TEXT,
    password=_URL_TEXT,
    rest=_URL_TEXT,
    scheme=st.sampled_from(["postgresql://", "postgres://", "", "x:"]),
)
def test_no_url_makes_redact_or_describe_raise_or_show_its_password(
    scheme: str, user: str, password: str, rest: str
) -> None:
    """Whatever follows the user's ``:`` up to an ``@`` (by the URL grammar, or the last
    ``@`` for a URL urllib cannot read) never shows, whatever the other parts hold."""
    assume(":" not in user and "@" not in user)
    secret = _SECRET + password
    dsn = f"{scheme}{user}:{secret}@{rest}"
    assume(_SECRET not in scheme + user + rest and _SECRET not in unquote(rest))
    for shown in (redact_dsn(dsn), describe_dsn(dsn)):
        assert _SECRET not in shown, (dsn, shown)
        assert _SECRET not in unquote(shown), (dsn, shown)


@given(st.text(max_size=40))
def test_redact_and_describe_are_total(dsn: str) -> None:
    assert isinstance(redact_dsn(dsn), str)
    assert isinstance(describe_dsn(dsn), str)


async def test_a_listener_hears_again_after_postgresql_restarts_and_is_killed(
    private_pg: KillablePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gavel.listener")
    heard: list[str] = []
    hooks: list[int] = []
    fail_next = [False]

    async def on_connect() -> None:
        hooks.append(len(heard))
        if fail_next[0]:
            # The owner's re-read failing (the database went again): retried, not fatal.
            fail_next[0] = False
            raise ConnectionResetError("the re-read failed")

    listener = HeldListener(
        private_pg.dsn,
        {CHANNEL: heard.append},
        on_connect=on_connect,
        name="test",
        backoff=Backoff(0.05, 0.5),
    )
    await listener.start()
    try:
        assert (listener.connected, listener.connections, hooks) == (True, 1, [0])
        await notify(private_pg.dsn, "one")
        await until(lambda: heard == ["one"], "the first notification")

        # Stop and start: the listener reconnects, re-reads, hears the next one.
        fail_next[0] = True
        await asyncio.to_thread(stop_gracefully, private_pg)
        await until(lambda: not listener.connected, "the loss noticed")
        await asyncio.to_thread(private_pg.start)
        await until(lambda: listener.connections == 2, "reconnected after a restart")
        assert listener.losses == 1 and len(hooks) >= 3  # the failed re-read was retried
        await notify(private_pg.dsn, "two")
        await until(lambda: heard == ["one", "two"], "a notification after the restart")

        # SIGKILL of the postmaster, then a start (crash recovery): the same.
        await asyncio.to_thread(private_pg.kill)
        await asyncio.to_thread(private_pg.start)
        await until(lambda: listener.connections == 3, "reconnected after a kill")
        await notify(private_pg.dsn, "three")
        await until(lambda: heard == ["one", "two", "three"], "a notification after the kill")
        assert listener.losses == 2
    finally:
        await listener.stop()
    assert not listener.connected
    # One line when lost, one when back (with the gap), per loss.
    lost = [r for r in caplog.records if "lost its connection" in r.getMessage()]
    back = [r for r in caplog.records if "listening again after a gap" in r.getMessage()]
    assert len(lost) == len(back) == 2
    assert all(r.levelno == logging.WARNING and r.gap_s > 0 for r in back)  # type: ignore[attr-defined]
    assert "socket " in lost[0].getMessage()  # names the database, not its password


async def test_a_connection_that_dies_silently_is_found_by_the_health_check(
    private_pg: KillablePostgres,
) -> None:
    proxy = PgProxy(str(private_pg.data_dir)).start()
    heard: list[str] = []
    listener = HeldListener(
        proxy.dsn,
        {CHANNEL: heard.append},
        name="test",
        backoff=Backoff(0.05, 0.5),
        health_every_s=0.2,
        health_timeout_s=1.0,
    )
    await listener.start()
    try:
        # Nothing arrives and nothing closes: only the health check can tell.
        proxy.freeze()
        await until(lambda: listener.connections == 2, "a frozen connection replaced")
        assert listener.losses == 1
        await notify(private_pg.dsn, "after")
        await until(lambda: heard == ["after"], "a notification on the new connection")

        # Refused for a while: it keeps trying, and is back once let through.
        proxy.refuse()
        await until(lambda: not listener.connected, "the cut noticed")
        proxy.accept()
        await until(lambda: listener.connections == 3, "reconnected once let through")
    finally:
        await listener.stop()
        proxy.close()


async def test_a_listener_that_cannot_connect_at_start_raises_and_holds_nothing() -> None:
    listener = HeldListener(f"postgresql://postgres@127.0.0.1:{free_port()}/x", {CHANNEL: print})
    with pytest.raises(OSError):
        await listener.start()
    assert (listener.connected, listener.connections) == (False, 0)
    await listener.stop()  # harmless
    with pytest.raises(RuntimeError):
        await listener.start()  # once only


@pytest.mark.parametrize(
    ("text", "dsn", "scrubbed"),
    [
        (
            "invalid literal for int() with base 10: 's3cret'",
            "postgresql://gavel:s3cret/pw@[zz]/gavel",
            "invalid literal for int() with base 10: '***'",
        ),
        ("'pw', 's3cret/pw'", "postgresql://gavel:s3cret/pw@h/x", "'***', '***'"),
        ("password=hunter22", "postgresql://u@h/x?password=hunter22", "password=***"),
        (
            "scheme 'mysql' is not postgresql",
            "mysql://root:pw@h/x",
            "scheme 'mysql' is not postgresql",
        ),
        ("no secrets at all", "postgresql://u@h/x", "no secrets at all"),
        ("total on text that is no URL", "::::@@@", "total on text that is no URL"),
    ],
)
def test_a_driver_message_is_scrubbed_of_every_piece_of_the_secrets(
    text: str, dsn: str, scrubbed: str
) -> None:
    assert scrub_dsn_secrets(text, dsn) == scrubbed
