"""The revoked tokens a process holds in memory, and the sockets to close on revocation.

Every HTTP request and websocket handshake checks its token's ``jti`` against this list,
so the check is a dict lookup, never a query. The list is loaded from the ``tokens``
table at start-up and kept current by the process's own revocations and by those other
processes announce over PostgreSQL notifications, both through :meth:`Revocations.add`.
:func:`keep_current` does the listening, on a
:class:`~api.storage.listener.HeldListener`: it survives a restart of PostgreSQL, and
after every (re)connection it reads the table again (:meth:`Revocations.load`), since
notifications sent while it was away are lost. An entry lives until its token would have
expired anyway (:meth:`Revocations.prune`), so memory is bounded by the tokens revoked
within one token lifetime.

An open socket is closed with 4401 ``token_revoked`` when its token is revoked, however
the process hears of it (:meth:`Revocations.close_on_revoke`). The core
(:class:`api.node.Node`) and the edge (:class:`api.live.edge.Edge`) share this module.

Call order: ``load`` at start-up (and again after a reconnection), ``add`` and
``close_on_revoke`` (and the function it returns, when the socket ends) in any order;
``prune`` from time to time.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from api.access import auth
from api.storage.listener import HeldListener
from api.storage.tokens import REVOKED_CHANNEL, TokenStore
from contracts.messages import CLOSE_AUTH_FAILED

__all__ = ["LONGEST_TOKEN_US", "Revocations", "keep_current"]

#: How long an entry heard without its expiry is kept: the longest token life.
LONGEST_TOKEN_US = 7 * 86400 * 1_000_000

log = logging.getLogger("gavel.revocations")


class Revocations:
    """``jti -> expiry`` (µs) of the revoked, unexpired tokens, and per ``jti`` the
    sockets that hold it. Supports ``jti in revocations`` and ``len``."""

    __slots__ = ("_expiry", "_sockets")

    def __init__(self) -> None:
        self._expiry: dict[str, int] = {}
        self._sockets: dict[str, set[Any]] = {}

    def __contains__(self, jti: object) -> bool:
        return jti in self._expiry

    def __len__(self) -> int:
        return len(self._expiry)

    def load(self, expiry: Mapping[str, int]) -> int:
        """Add the ``{jti: expires_at}`` read from storage and close the open sockets of
        those not known yet (revoked while this process was not listening). Returns how
        many were new. O(len(expiry) + their sockets)."""
        new = 0
        for jti, expires_at in expiry.items():
            if jti not in self._expiry:
                self._revoke(jti, expires_at)
                new += 1
        return new

    def add(self, jti: str, now: int, expires_at: int | None = None) -> bool:
        """Record that ``jti`` was revoked (here, or heard from another process without
        its expiry: ``expires_at`` is then ``now`` plus the longest token life) and close
        its open sockets. Prunes expired entries first. ``False`` if it was known.
        O(expired entries + its sockets)."""
        self.prune(now)
        if jti in self._expiry:
            return False
        self._revoke(jti, now + LONGEST_TOKEN_US if expires_at is None else expires_at)
        return True

    def _revoke(self, jti: str, expires_at: int) -> None:
        """Record a new entry and close its sockets."""
        self._expiry[jti] = expires_at
        for ws in list(self._sockets.pop(jti, ())):
            with contextlib.suppress(Exception):
                ws.end_connection(CLOSE_AUTH_FAILED, auth.TOKEN_REVOKED)

    def prune(self, now: int) -> None:
        """Forget the entries whose token has expired at ``now`` (with the verifier's
        leeway: a token is refused for a while after its ``exp``). O(entries)."""
        horizon = now - auth.DEFAULT_LEEWAY_S * 1_000_000
        for jti in [jti for jti, expires in self._expiry.items() if expires <= horizon]:
            del self._expiry[jti]

    def close_on_revoke(self, ws: Any, jti: str) -> Callable[[], None]:
        """Close ``ws`` (``end_connection(4401, "token_revoked")``) once ``jti`` is
        revoked; returns the function to call when the socket ends. Call after the
        handshake's check; a ``jti`` revoked meanwhile closes ``ws`` at once. O(1)."""
        if jti in self._expiry:
            with contextlib.suppress(Exception):
                ws.end_connection(CLOSE_AUTH_FAILED, auth.TOKEN_REVOKED)
            return _nothing
        self._sockets.setdefault(jti, set()).add(ws)

        def release() -> None:
            sockets = self._sockets.get(jti)
            if sockets is not None:
                sockets.discard(ws)
                if not sockets:
                    del self._sockets[jti]

        return release

    def _check(self) -> None:
        """Invariant: no socket waits on a jti already revoked; no empty socket set."""
        for jti, sockets in self._sockets.items():
            assert sockets, jti
            assert jti not in self._expiry, jti


def _wall_clock_us() -> int:
    """The server's wall clock in microseconds (what tokens' expiries are kept in)."""
    return time.time_ns() // 1000


def keep_current(
    revoked: Revocations,
    tokens: TokenStore,
    dsn: str,
    *,
    name: str,
    clock: Callable[[], int] = _wall_clock_us,
) -> HeldListener:
    """The listener that keeps ``revoked`` current from the ``tokens`` table on ``dsn``:
    every notification on :data:`~api.storage.tokens.REVOKED_CHANNEL` is an
    :meth:`~Revocations.add`, and every (re)connection reads the revoked, unexpired
    tokens again (:meth:`~Revocations.load`: at start-up, the initial load). Call its
    ``start()`` (which returns once the list is loaded) and, at shutdown, ``stop()``."""

    def heard(jti: str) -> None:
        # Another process (or this one) revoked jti: the expiry is unknown here.
        revoked.add(jti, clock())

    loaded = [False]

    async def read() -> None:
        now = clock()
        revoked.prune(now)
        # Since the verifier's leeway ago, as prune keeps them: a token expired a moment
        # ago still verifies, so its revocation must still be enforced.
        new = revoked.load(await tokens.revoked(now - auth.DEFAULT_LEEWAY_S * 1_000_000))
        if new and loaded[0]:
            # After a reconnection: revoked while this process could not hear it.
            log.warning(
                "%s: %d revocations made while it was not listening are enforced now",
                name,
                new,
                extra={"listener": name, "missed": new},
            )
        loaded[0] = True

    return HeldListener(dsn, {REVOKED_CHANNEL: heard}, on_connect=read, name=name)


def _nothing() -> None:
    """The release function of a socket that was never registered."""
