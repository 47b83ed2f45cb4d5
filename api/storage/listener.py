"""A LISTEN that outlives its connection: :class:`HeldListener`, and the back-off it retries with.

PostgreSQL delivers a notification only to the sessions listening at the moment it is
committed; one sent while a listener's connection is down is lost for good, and asyncpg
neither reconnects a lost connection nor says anything about it. So a process that
learns of other processes' changes through ``LISTEN`` (revocations: :mod:`api.access.revocations`)
would go deaf, silently, at the first restart of PostgreSQL.

:class:`HeldListener` holds one dedicated connection (not a pool slot: it is held for the
life of the process) listening on its channels, and watches it three ways: asyncpg's
termination callback (the server closed it: a stop, a crash, ``pg_terminate_backend``),
and a ``SELECT 1`` every :data:`HEALTH_EVERY_S` seconds that must answer within
:data:`HEALTH_TIMEOUT_S` (a connection that died without a word: a cut network, a frozen
host). Once lost, it logs one line, reconnects with :class:`Backoff` (0.5 s doubling to
5 s), and after each new connection has its ``LISTEN`` in place it awaits the owner's
``on_connect`` hook, then logs one line with the gap's length.

Why the hook runs *after* ``LISTEN``: whatever was committed before the hook's read is in
that read, whatever is committed after ``LISTEN`` is notified; with this order nothing
falls between the two (something may arrive both ways: handlers must be idempotent). The
first connection runs the hook too, so an owner loads its state in the same place it
re-reads it.

:func:`describe_dsn` names a database for log lines (host and port, or the socket
directory, and the database) without the user's password; :func:`redact_dsn` is the URL
without it.

Call order: ``start()`` once (raises if the first connection fails; nothing is held
then), then ``stop()`` once. Handlers run on the event loop, must not block, and must
not raise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

__all__ = [
    "BACKOFF_FIRST_S",
    "BACKOFF_MAX_S",
    "CONNECT_ERRORS",
    "HEALTH_EVERY_S",
    "HEALTH_TIMEOUT_S",
    "HOOK_TIMEOUT_S",
    "Backoff",
    "HeldListener",
    "describe_dsn",
    "error_line",
    "redact_dsn",
    "scrub_dsn_secrets",
]

log = logging.getLogger("gavel.listener")

#: Seconds before the first retry of a connection, doubled after each failure up to the
#: cap: quick after a brief blip, and at most one attempt (and log line) every 5 s.
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 5.0
#: Seconds between health checks of an idle listening connection, and how long one may
#: take before the connection counts as lost.
HEALTH_EVERY_S = 5.0
HEALTH_TIMEOUT_S = 5.0
#: How long the ``on_connect`` hook (a re-read) may take before the attempt counts as failed.
HOOK_TIMEOUT_S = 60.0
#: What a connection attempt raises when the database is away (not a misconfiguration).
CONNECT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)
#: Query parameters of a DSN that say where the server is; every other one (a
#: ``password`` among them) is left out of :func:`redact_dsn`.
_WHERE_PARAMS = ("host", "port", "dbname", "user")
#: A URL's scheme and its ``://`` (RFC 3986: a letter, then letters, digits, ``+-.``).
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


class Backoff:
    """Delays that double from ``first_s`` up to ``max_s``: ``next()`` gives the next one,
    ``reset()`` starts again from ``first_s``. O(1)."""

    __slots__ = ("_delay", "first_s", "max_s")

    def __init__(self, first_s: float = BACKOFF_FIRST_S, max_s: float = BACKOFF_MAX_S) -> None:
        self.first_s = first_s
        self.max_s = max_s
        self._delay = first_s

    def next(self) -> float:
        """The delay to wait now; the one after it is twice as long (capped).

        >>> b = Backoff(0.5, 5.0)
        >>> [b.next() for _ in range(6)]
        [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
        """
        delay = self._delay
        self._delay = min(delay * 2, self.max_s)
        return delay

    def reset(self) -> None:
        """Start again from ``first_s`` (after a success)."""
        self._delay = self.first_s


def _split(dsn: str) -> SplitResult | None:
    """``dsn`` split as a URL, or ``None`` if it is none we can show safely: urllib
    refuses it (an unclosed ``[``, a bad IPv6 address), or an ``@`` follows its netloc
    (a password holding an unencoded ``/``, ``?`` or ``#`` ends the netloc early, and the
    rest of it would show as the path, the query or the fragment)."""
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return None
    if "@" in parts.path or "@" in parts.query or "@" in parts.fragment:
        return None
    return parts


def _raw_parts(dsn: str) -> tuple[str, str, str]:
    """``dsn`` read by text alone, for a URL :func:`_split` refused: the scheme with its
    ``://`` (if any), the user (the userinfo up to its first ``:``, ``@``, ``/``, ``?``
    or ``#``; empty without an ``@``) and what follows the last ``@`` up to a ``?`` or
    ``#``. The password sits between the user and that ``@``, the query may hold
    another: neither is returned. O(len(dsn))."""
    scheme = _SCHEME.match(dsn)
    prefix = scheme.group() if scheme else ""
    rest = dsn[len(prefix) :]
    userinfo, at, tail = rest.rpartition("@")
    # The user ends at the first character that cannot be in it: a ``:`` before the
    # password, or the ``@``, ``/``, ``?`` or ``#`` of text that is no user at all.
    user = re.split(r"[:@/?#]", userinfo, maxsplit=1)[0] if at else ""
    if not at:
        tail = rest
    return prefix, user, tail.partition("?")[0].partition("#")[0]


def redact_dsn(dsn: str) -> str:
    """``dsn`` without its password (in the user part or the query): safe to log. Total:
    any text gives a string, never the password (a URL urllib refuses, or whose password
    holds an unencoded ``/``, ``?`` or ``#``, is shown as its scheme, user and what
    follows the last ``@``, without a query). O(len(dsn)).

    >>> redact_dsn("postgresql://gavel:s3cret@db.example:5433/gavel?password=x&sslmode=require")
    'postgresql://gavel@db.example:5433/gavel'
    >>> redact_dsn("postgresql://postgres:@/postgres?host=/tmp/pg")
    'postgresql://postgres@/postgres?host=%2Ftmp%2Fpg'
    >>> redact_dsn("postgresql://u:s3cret@[::1")
    'postgresql://u@[::1'
    >>> redact_dsn("postgresql://u:s3/cr?et@db/x?password=y")
    'postgresql://u@db/x'
    """
    parts = _split(dsn)
    if parts is None:
        prefix, user, tail = _raw_parts(dsn)
        return f"{prefix}{user}@{tail}" if user else f"{prefix}{tail}"
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    netloc_text = f"{user}@{netloc[2]}" if user else netloc[2]
    query = [(k, v) for k, v in parse_qsl(parts.query) if k in _WHERE_PARAMS]
    return urlunsplit(parts._replace(netloc=netloc_text, query=urlencode(query), fragment=""))


def scrub_dsn_secrets(text: str, dsn: str) -> str:
    """``text`` (a driver's message about ``dsn``) with every piece of ``dsn``'s secrets
    replaced by ``***``: the userinfo after the user, and every query value (a driver may
    quote part of a malformed password, e.g. ``int() ... 's3cret'`` for a port). Pieces
    are each secret whole and split at ``/ ? # : @ & =``, of two or more characters,
    longest first.
    Total; O(len(text) x pieces).

    >>> scrub_dsn_secrets("invalid literal for int(): 's3cret'", "postgresql://u:s3cret/pw@[zz]/x")
    "invalid literal for int(): '***'"
    >>> scrub_dsn_secrets("scheme 'mysql' is not postgresql", "mysql://root:pw@h/x")
    "scheme 'mysql' is not postgresql"
    """
    prefix, user, _ = _raw_parts(dsn)
    rest = dsn[len(prefix) :]
    userinfo, at, _tail = rest.rpartition("@")
    secrets = [userinfo[len(user) :].removeprefix(":")] if at else []
    secrets += [pair.partition("=")[2] for pair in rest.partition("?")[2].split("&")]
    pieces = {piece for secret in secrets for piece in re.split(r"[/?#:@&=]", secret)}
    pieces.update(secrets)
    for piece in sorted((p for p in pieces if len(p) >= 2), key=len, reverse=True):
        text = text.replace(piece, "***")
    return text


def describe_dsn(dsn: str) -> str:
    """Where ``dsn`` points, for a log line: ``host:port/database`` or
    ``socket DIR/database``. Never the user's password; total, as :func:`redact_dsn`
    (a URL it cannot read is described by what follows its last ``@``). O(len(dsn)).

    >>> describe_dsn("postgresql://gavel:s3cret@db.example:5433/gavel")
    'db.example:5433/gavel'
    >>> describe_dsn("postgresql://postgres:@/test?host=/tmp/pg")
    'socket /tmp/pg/test'
    >>> describe_dsn("postgresql://u@localhost/x")
    'localhost:5432/x'
    >>> describe_dsn("postgresql://u:s3cret@[::1")
    '[::1'
    """
    parts = _split(dsn)
    if parts is None:
        return _raw_parts(dsn)[2]
    query = dict(parse_qsl(parts.query))
    database = parts.path.lstrip("/") or query.get("dbname", "")
    host = query.get("host") or parts.hostname or "localhost"
    if host.startswith("/"):
        return f"socket {host.rstrip('/')}/{database}"
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: show it as written
        return f"{parts.netloc.rpartition('@')[2]}/{database}"
    return f"{host}:{port or query.get('port') or 5432}/{database}"


class HeldListener:
    """One dedicated connection ``LISTEN``-ing on ``handlers``' channels, restored after
    every loss (see the module's docstring).

    ``handlers`` maps a channel to ``handler(payload)``. ``on_connect()`` is awaited
    after every (re)connection, once its ``LISTEN`` is in place: re-read what may have
    been missed. ``name`` tells the log lines apart. Read ``connected``,
    ``connections`` (established so far) and ``losses`` for state and tests.
    """

    def __init__(
        self,
        dsn: str,
        handlers: Mapping[str, Callable[[str], None]],
        *,
        on_connect: Callable[[], Awaitable[None]] | None = None,
        name: str = "listener",
        backoff: Backoff | None = None,
        health_every_s: float = HEALTH_EVERY_S,
        health_timeout_s: float = HEALTH_TIMEOUT_S,
    ) -> None:
        self._dsn = dsn
        self._handlers = dict(handlers)
        self._on_connect = on_connect
        self.name = name
        self._backoff = backoff or Backoff()
        self._health_every_s = health_every_s
        self._health_timeout_s = health_timeout_s
        self._conn: Any = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.connected = False
        self.connections = 0
        self.losses = 0

    async def start(self) -> None:
        """Connect, ``LISTEN``, await ``on_connect``; then keep it so in the background.

        Raises what the first attempt raised (and holds nothing then)."""
        if self._task is not None or self._stopping:
            raise RuntimeError("a HeldListener is started once")
        await self._connect()
        self._task = asyncio.create_task(self._hold(), name=f"gavel-{self.name}")

    async def stop(self) -> None:
        """Stop listening and close the connection. Idempotent."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        self._close()

    # ------------------------------------------------------------------ inside

    async def _connect(self) -> None:
        """One attempt: a new connection, its ``LISTEN``s, the hook. On failure nothing is
        held and the error propagates."""
        self._lost = lost = asyncio.Event()
        conn = await asyncpg.connect(
            self._dsn,
            timeout=self._health_timeout_s * 2,
            server_settings={"application_name": f"gavel-{self.name}"},
        )
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            for channel, handler in self._handlers.items():
                await conn.add_listener(channel, _deliver(handler))
            self._conn = conn
            if self._on_connect is not None:
                # Bounded: a re-read stuck on a frozen server must not leave the listener
                # stuck with it (deaf, and saying nothing); it counts as a failed attempt.
                await asyncio.wait_for(self._on_connect(), HOOK_TIMEOUT_S)
        except BaseException:
            self._conn = None
            conn.terminate()
            raise
        self.connected = True
        self.connections += 1

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        self.connected = False
        if conn is not None and not conn.is_closed():
            # terminate, not close: close() waits on a server that may be gone.
            conn.terminate()

    async def _hold(self) -> None:
        while not self._stopping:
            await self._watch()
            if self._stopping:
                return
            self._close()
            self.losses += 1
            lost_at = time.monotonic()
            log.warning(
                "%s: lost its connection to the database at %s; notifications are missed"
                " until it is back",
                self.name,
                describe_dsn(self._dsn),
                extra={"listener": self.name},
            )
            attempts = await self._reconnect()
            gap_s = time.monotonic() - lost_at
            log.warning(
                "%s: listening again after a gap of %.1f s (%d attempts); what was missed"
                " was read again",
                self.name,
                gap_s,
                attempts,
                extra={"listener": self.name, "gap_s": round(gap_s, 3), "attempts": attempts},
            )

    async def _watch(self) -> None:
        """Return once the connection is lost: closed under us, or a health check that
        failed or did not answer in time."""
        conn, lost = self._conn, self._lost
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), self._health_every_s)
                return
            try:
                await asyncio.wait_for(conn.fetchval("SELECT 1"), self._health_timeout_s)
            except CONNECT_ERRORS:
                return
            except Exception:  # noqa: BLE001 - never end deaf: treat it as a loss, loudly
                log.exception("%s: the health check failed unexpectedly", self.name)
                return

    async def _reconnect(self) -> int:
        """Retry :meth:`_connect` with back-off until it succeeds; the attempts made."""
        self._backoff.reset()
        attempts = 0
        while True:
            await asyncio.sleep(self._backoff.next())
            attempts += 1
            try:
                await self._connect()
                return attempts
            except CONNECT_ERRORS as error:
                log.info(
                    "%s: reconnecting to %s failed (attempt %d): %s",
                    self.name,
                    describe_dsn(self._dsn),
                    attempts,
                    error_line(error),
                    extra={"listener": self.name},
                )
            except Exception:  # noqa: BLE001 - a bug in a hook: keep trying, loudly
                log.exception("%s: reconnecting failed (attempt %d)", self.name, attempts)


def _deliver(handler: Callable[[str], None]) -> Callable[[Any, int, str, object], None]:
    """The asyncpg notification callback that hands ``handler`` the payload."""

    def deliver(connection: Any, pid: int, channel: str, payload: object) -> None:
        # A NOTIFY payload is text, which asyncpg passes as str (its stubs say object).
        handler(str(payload))

    return deliver


def error_line(error: BaseException) -> str:
    """``error`` as ``Type: first line of its message``."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
