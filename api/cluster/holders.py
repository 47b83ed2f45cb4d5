"""Who holds a stream's lease, as a forwarding node last read it from PostgreSQL.

A node that forwards a command asks PostgreSQL which node holds the stream's lease, and
keeps the answer for at most ``max_age_s`` (the lease renewal period): a holder that was
paused (GC, SIGSTOP) and lost its lease meanwhile is then not asked again for longer than
that, since requests sent to it could only time out. A request that says the holder moved
(no responders, ``NotOwner``) forgets it at once. O(1) per lookup while fresh, one
statement otherwise.
"""

from __future__ import annotations

import time

from api.storage.leases import LeaseStore

__all__ = ["Holders"]


class Holders:
    """The lease holders of one kind of stream, cached briefly (see the module)."""

    def __init__(self, leases: LeaseStore, kind: str, me: str, max_age_s: float) -> None:
        self._leases = leases
        self._kind = kind
        self._me = me
        self._max_age_s = max_age_s
        self._known: dict[str, tuple[str, float]] = {}

    async def holder(self, stream_id: str) -> str | None:
        """The owner holding ``stream_id``'s live lease, unless it is this node
        (``None``: nobody holds it, or this node does)."""
        known = self._known.get(stream_id)
        now = time.monotonic()
        if known is not None and now - known[1] < self._max_age_s:
            return known[0]
        lease = await self._leases.holder(self._kind, stream_id)
        if lease is None or lease.owner == self._me:
            self._known.pop(stream_id, None)
            return None
        self._known[stream_id] = (lease.owner, now)
        return lease.owner

    def forget(self, stream_id: str) -> None:
        """The holder did not answer or said it moved: read it again next time."""
        self._known.pop(stream_id, None)
