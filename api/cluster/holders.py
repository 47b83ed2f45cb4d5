"""Who holds a stream's lease, as a forwarding node last read it from PostgreSQL.

A node that forwards a command asks PostgreSQL which node holds the stream's lease, and
keeps the answer for at most ``max_age_s`` (the lease renewal period): a holder that was
paused (GC, SIGSTOP) and lost its lease meanwhile is then not asked again for longer than
that, since requests sent to it could only time out. A request that says the holder moved
(no responders, ``NotOwner``) forgets it at once. O(1) per lookup while fresh, one
statement otherwise, shared by every lookup of the same stream made while it runs; "no
holder" is kept for :data:`VACANT_S`, so that the commands waiting for an ownerless
stream's next owner (each retrying) do not each ask PostgreSQL: under an overload such a
herd filled the leases' pool, and the lease renewals waited behind it.
"""

from __future__ import annotations

import asyncio
import time

from api.storage.leases import LeaseStore

__all__ = ["VACANT_S", "Holders"]

#: Seconds a "nobody holds it" answer is reused (at most ``max_age_s``).
VACANT_S = 0.2


class Holders:
    """The lease holders of one kind of stream, cached briefly (see the module)."""

    def __init__(self, leases: LeaseStore, kind: str, me: str, max_age_s: float) -> None:
        self._leases = leases
        self._kind = kind
        self._me = me
        self._max_age_s = max_age_s
        #: stream id -> (holder, or None for nobody or this node; when it was read).
        self._known: dict[str, tuple[str | None, float]] = {}
        self._reading: dict[str, asyncio.Future[str | None]] = {}

    async def holder(self, stream_id: str) -> str | None:
        """The owner holding ``stream_id``'s live lease, unless it is this node
        (``None``: nobody holds it, or this node does)."""
        known = self._known.get(stream_id)
        if known is not None:
            owner, read_at = known
            age = time.monotonic() - read_at
            if age < (self._max_age_s if owner is not None else min(VACANT_S, self._max_age_s)):
                return owner
        while (reading := self._reading.get(stream_id)) is not None:
            try:
                return await asyncio.shield(reading)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                # The reader was cancelled, not this caller: join the next read, or
                # read it here.
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._reading[stream_id] = future
        try:
            now = time.monotonic()
            lease = await self._leases.holder(self._kind, stream_id)
            owner = None if lease is None or lease.owner == self._me else lease.owner
            self._known[stream_id] = (owner, now)
            future.set_result(owner)
            return owner
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: the waiters, if any, get it too
            raise
        finally:
            if self._reading.get(stream_id) is future:
                del self._reading[stream_id]

    def forget(self, stream_id: str) -> None:
        """The holder did not answer or said it moved: read it again next time."""
        self._known.pop(stream_id, None)
