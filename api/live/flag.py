"""A lean :class:`asyncio.Event` for objects that live once per socket.

``asyncio.Event`` makes a ``collections.deque`` for its waiters up front, and a deque
allocates its first block with it: 760 bytes per event on CPython 3.11, whether anyone
ever waits or not. An idle websocket held seven of them (its session's queue, Sanic's
protocol and frame assembler: issue 16, docs/benchmarks.md). :class:`Flag` is a drop-in
``asyncio.Event`` (same methods, same semantics, an instance of it) that keeps its
waiters in a list made on the first :meth:`Flag.wait`: about 150 bytes until then.

Call order: as ``asyncio.Event``; create it anywhere, wait on it from the running loop.
Every method is O(1) but :meth:`Flag.set`, O(waiters).
"""

from __future__ import annotations

import asyncio
from typing import Literal

__all__ = ["Flag"]


class Flag(asyncio.Event):
    """``asyncio.Event`` with its waiters' list made lazily (see the module)."""

    __slots__ = ("_on", "_waiting")

    def __init__(self) -> None:  # asyncio.Event.__init__ (its deque) deliberately skipped
        self._on = False
        self._waiting: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        """Whether the flag is set."""
        return self._on

    def set(self) -> None:
        """Set the flag and wake every waiter. O(waiters)."""
        if not self._on:
            self._on = True
            for waiter in self._waiting or ():
                if not waiter.done():
                    waiter.set_result(None)

    def clear(self) -> None:
        """Unset the flag: :meth:`wait` waits again."""
        self._on = False

    async def wait(self) -> Literal[True]:
        """Return ``True`` once the flag is set (at once if it is)."""
        if self._on:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiting is None:
            self._waiting = []
        self._waiting.append(waiter)
        try:
            await waiter
            return True
        finally:
            self._waiting.remove(waiter)

    def __repr__(self) -> str:
        return f"<Flag {'set' if self._on else 'unset'}>"
