"""Leases: which node owns each live auction and tender, with an epoch that fences appends.

The port is :class:`LeaseStore`; its adapters are :class:`PostgresLeaseStore` (the
``leases`` and ``cluster_nodes`` tables of migration ``0010_leases.sql``) and
:class:`MemoryLeaseStore` (tests, one process). Both pass the contract suite in
``tests/api/storage/test_leases.py``. :mod:`api.cluster.ownership` drives them.

A lease is keyed by ``(kind, stream_id)``, kind ``"auction"`` or ``"tender"`` (their ids
live in separate tables and may collide). A node owns a stream while its lease is live:
not expired and not released. Expiry is decided by PostgreSQL's clock only
(``clock_timestamp()``, read when each row is evaluated, so after any lock wait), so
nodes whose clocks differ still agree; every time handed out is microseconds since the
Unix epoch on that clock.

The epoch is the fencing token. It is 1 for a stream's first lease and grows by one at
every acquisition of a lease that was not live (a takeover after expiry, a take after a
release, by any node, the same one included); renewing a live lease keeps it. Every
append that carries an epoch (``epoch=`` of
:meth:`~api.storage.ports.EventAppender.append` and of the tender store's ``append``)
reads the stream's lease row ``FOR SHARE`` inside its own transaction and is refused with
:class:`~api.storage.errors.LeaseLost`, storing nothing, unless the row is there at that
epoch. A takeover updates that row, so it waits until such an append has committed: the
check and the insert can never be split by a takeover, and an old owner that was paused
(SIGSTOP, GC) and resumes after losing its lease cannot write any more. An owner whose
lease ran out but was not taken yet may still write (nobody else can), and renew it.

Call order for a node: :meth:`LeaseStore.heartbeat` on an interval; :meth:`acquire` a
stream (the orphans from :meth:`LeaseStore.orphaned_auctions`), then append with the
returned epoch; :meth:`LeaseStore.renew` every held lease well within the TTL, dropping
the streams it did not renew; :meth:`LeaseStore.release` them when draining. Costs: each
method is one statement (one round trip); ``acquire``, ``holder`` and ``forget_node`` are
O(log n), ``renew``/``release`` O(k log n) for k leases, ``orphaned_auctions`` and
``owned_counts`` a scan of the not-ended auctions / the leases.

Row locks are always taken in ``(kind, stream_id)`` order (``renew``, ``release`` and the
appenders' ``FOR SHARE``), and ``acquire`` locks one row, so a node's renewals and its
own or another node's appends never deadlock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol

import asyncpg

from api.storage.errors import StorageMisuse
from api.storage.ports import AuctionStatus

if TYPE_CHECKING:
    from api.storage.ports import EventStore

__all__ = [
    "KINDS",
    "Lease",
    "LeaseStore",
    "MemoryLeaseStore",
    "NodeInfo",
    "PostgresLeaseStore",
    "check_lease_args",
    "wall_clock_us",
]

#: The kinds of stream a lease may own.
KINDS: Final = frozenset({"auction", "tender"})


@dataclass(frozen=True, slots=True)
class Lease:
    """A stream's lease as its owner holds it.

    ``epoch`` grows by one at every change of owner (a release then re-acquire by the
    same node also counts); ``expires_at_us`` is on PostgreSQL's clock, microseconds
    since the Unix epoch. ``ownerless_us``: on the takeover of an expired lease, the
    microseconds from the previous owner's last renewal to this acquisition; ``None``
    for a fresh or released lease, a renewal, or a lease read by :meth:`holder`.
    """

    kind: str
    stream_id: str
    owner: str
    epoch: int
    expires_at_us: int
    ownerless_us: int | None


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A live node: where it is reached, whether it is draining, its last heartbeat (µs)."""

    node_id: str
    url: str
    draining: bool
    heartbeat_at_us: int


class LeaseStore(Protocol):
    """Who owns which stream, and which nodes are alive (see the module docstring)."""

    async def acquire(self, kind: str, stream_id: str, owner: str, ttl_s: float) -> Lease | None:
        """Take the lease of ``(kind, stream_id)`` for ``ttl_s`` seconds if it has no row,
        is expired or was released (epoch + 1, or 1 for a new row); if ``owner`` holds it
        live, renew it (same epoch). ``None`` if another owner's lease is live. Waits
        for any append holding the row ``FOR SHARE`` to finish. One statement."""
        ...

    async def renew(
        self, owner: str, held: Mapping[tuple[str, str], int], ttl_s: float
    ) -> set[tuple[str, str]]:
        """Extend by ``ttl_s`` each lease of ``held`` (``(kind, stream_id) -> epoch``)
        that is still ``owner``'s at that epoch and not released (even if it just
        expired, as long as nobody took it); return the keys renewed. One statement."""
        ...

    async def release(self, owner: str, held: Mapping[tuple[str, str], int]) -> None:
        """Expire now each lease of ``held`` still ``owner``'s at that epoch (the epoch
        is kept), so any node may take it at once. One statement."""
        ...

    async def holder(self, kind: str, stream_id: str) -> Lease | None:
        """The live lease of ``(kind, stream_id)``, or ``None``. O(log n)."""
        ...

    async def orphaned_auctions(self, limit: int) -> list[str]:
        """Ids of at most ``limit`` auctions not ended (scheduled or running) whose lease
        is missing, expired or released, oldest first: what a node should take."""
        ...

    async def owned_counts(self) -> dict[str, int]:
        """The number of live auction leases per owner (owners with none left out)."""
        ...

    async def heartbeat(self, node: str, url: str, ttl_s: float, draining: bool = False) -> None:
        """Record that ``node`` (reached at ``url``) is alive for ``ttl_s`` more seconds,
        and whether it is draining. A node unseen or expired starts afresh."""
        ...

    async def live_nodes(self) -> list[NodeInfo]:
        """The nodes whose heartbeat has not run out, by node id."""
        ...

    async def forget_node(self, node: str) -> None:
        """Remove ``node``'s heartbeat row (a clean shutdown); its leases are untouched."""
        ...


def check_lease_args(kind: str, stream_id: str, owner: str, ttl_s: float) -> None:
    """Raise :class:`StorageMisuse` for an unknown ``kind``, an empty ``stream_id`` or
    ``owner``, or a ``ttl_s`` that is not a positive finite number. O(1)."""
    if kind not in KINDS:
        raise StorageMisuse(f"lease kind must be one of {sorted(KINDS)}, got {kind!r}")
    if not stream_id or not owner:
        raise StorageMisuse("a lease needs a stream id and an owner")
    _check_ttl(ttl_s)


def _check_ttl(ttl_s: float) -> None:
    if not (isinstance(ttl_s, int | float) and math.isfinite(ttl_s) and ttl_s > 0):
        raise StorageMisuse(f"ttl_s must be a positive number of seconds, got {ttl_s!r}")


def _check_held(held: Mapping[tuple[str, str], int]) -> list[tuple[str, str, int]]:
    for kind, _ in held:
        if kind not in KINDS:
            raise StorageMisuse(f"lease kind must be one of {sorted(KINDS)}, got {kind!r}")
    return sorted((kind, stream_id, epoch) for (kind, stream_id), epoch in held.items())


# -- PostgreSQL ---------------------------------------------------------------------

# A timestamptz as microseconds since the Unix epoch (extract returns numeric: exact).
_US = "(extract(epoch FROM {})*1000000)::bigint"

# The row as it was (the statement's snapshot: only used to measure the ownerless time),
# then the upsert. ON CONFLICT DO UPDATE locks the row first, so it waits for appends
# holding it FOR SHARE, then evaluates its WHERE on the newest version.
_ACQUIRE = f"""
WITH before AS (
    SELECT epoch, released, renewed_at FROM leases WHERE kind = $1 AND stream_id = $2
), taken AS (
    INSERT INTO leases AS l (kind, stream_id, owner, epoch, renewed_at, expires_at)
    VALUES ($1, $2, $3, 1, clock_timestamp(),
            clock_timestamp() + make_interval(secs => $4::float8))
    ON CONFLICT (kind, stream_id) DO UPDATE SET
        owner = EXCLUDED.owner,
        epoch = CASE
            WHEN l.owner = EXCLUDED.owner AND NOT l.released
                 AND l.expires_at > clock_timestamp() THEN l.epoch
            ELSE l.epoch + 1 END,
        renewed_at = clock_timestamp(),
        expires_at = clock_timestamp() + make_interval(secs => $4::float8),
        released = false
    WHERE l.owner = EXCLUDED.owner OR l.released OR l.expires_at <= clock_timestamp()
    RETURNING l.owner, l.epoch, l.renewed_at, l.expires_at
)
SELECT t.owner, t.epoch, {_US.format("t.expires_at")},
       CASE WHEN b.epoch IS NOT NULL AND t.epoch = b.epoch + 1 AND NOT b.released
            THEN {_US.format("t.renewed_at")} - {_US.format("b.renewed_at")} END
FROM taken AS t LEFT JOIN before AS b ON true
"""

# The leases of $2/$3/$4 (kind, stream_id, epoch) still $1's at that epoch and not
# released, locked in (kind, stream_id) order (see the module docstring: no deadlock).
_HELD = """
WITH held AS (
    SELECT l.kind, l.stream_id, l.epoch
    FROM leases AS l
    JOIN unnest($2::text[], $3::text[], $4::bigint[]) AS h(kind, stream_id, epoch)
      ON l.kind = h.kind AND l.stream_id = h.stream_id AND l.epoch = h.epoch
    WHERE l.owner = $1 AND NOT l.released
    ORDER BY l.kind, l.stream_id
    FOR UPDATE OF l
)
UPDATE leases AS l SET {set}
FROM held
WHERE l.kind = held.kind AND l.stream_id = held.stream_id AND l.epoch = held.epoch
  AND l.owner = $1 AND NOT l.released
RETURNING l.kind, l.stream_id
"""

_RENEW = _HELD.format(
    set="renewed_at = clock_timestamp(),"
    " expires_at = clock_timestamp() + make_interval(secs => $5::float8)"
)

_RELEASE = _HELD.format(set="expires_at = clock_timestamp(), released = true")

_HOLDER = f"""
SELECT owner, epoch, {_US.format("expires_at")} FROM leases
WHERE kind = $1 AND stream_id = $2 AND NOT released AND expires_at > clock_timestamp()
"""

# `status <> 'ended'` matches the partial index auctions_not_ended (0001_core.sql).
_ORPHANED = """
SELECT a.id FROM auctions AS a
LEFT JOIN leases AS l ON l.kind = 'auction' AND l.stream_id = a.id
WHERE a.status <> 'ended'
  AND (l.stream_id IS NULL OR l.released OR l.expires_at <= clock_timestamp())
ORDER BY a.created_at, a.id
LIMIT $1
"""

_OWNED = """
SELECT owner, count(*) FROM leases
WHERE kind = 'auction' AND NOT released AND expires_at > clock_timestamp()
GROUP BY owner
"""

# A node whose previous heartbeat ran out starts afresh (started_at).
_HEARTBEAT = """
INSERT INTO cluster_nodes AS n (node_id, url, started_at, heartbeat_at, expires_at, draining)
VALUES ($1, $2, clock_timestamp(), clock_timestamp(),
        clock_timestamp() + make_interval(secs => $3::float8), $4)
ON CONFLICT (node_id) DO UPDATE SET
    url = EXCLUDED.url,
    started_at = CASE WHEN n.expires_at <= clock_timestamp() THEN EXCLUDED.started_at
                      ELSE n.started_at END,
    heartbeat_at = EXCLUDED.heartbeat_at,
    expires_at = EXCLUDED.expires_at,
    draining = EXCLUDED.draining
"""

_LIVE_NODES = f"""
SELECT node_id, url, draining, {_US.format("heartbeat_at")} FROM cluster_nodes
WHERE expires_at > clock_timestamp()
ORDER BY node_id
"""


class PostgresLeaseStore:
    """:class:`LeaseStore` in the ``leases`` and ``cluster_nodes`` tables, on an asyncpg
    pool migrated by :func:`api.storage.migrate.migrate`. Each method is one statement
    in a transaction of its own."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def acquire(self, kind: str, stream_id: str, owner: str, ttl_s: float) -> Lease | None:
        """See :meth:`LeaseStore.acquire`: one ``INSERT … ON CONFLICT DO UPDATE``."""
        check_lease_args(kind, stream_id, owner, ttl_s)
        row = await self._pool.fetchrow(_ACQUIRE, kind, stream_id, owner, float(ttl_s))
        if row is None:
            return None
        ownerless = None if row[3] is None else int(row[3])
        return Lease(kind, stream_id, str(row[0]), int(row[1]), int(row[2]), ownerless)

    async def renew(
        self, owner: str, held: Mapping[tuple[str, str], int], ttl_s: float
    ) -> set[tuple[str, str]]:
        """See :meth:`LeaseStore.renew`: one ``UPDATE``, rows locked in key order."""
        _check_ttl(ttl_s)
        return await self._update(_RENEW, owner, held, float(ttl_s))

    async def release(self, owner: str, held: Mapping[tuple[str, str], int]) -> None:
        """See :meth:`LeaseStore.release`: one ``UPDATE``, rows locked in key order."""
        await self._update(_RELEASE, owner, held)

    async def _update(
        self, sql: str, owner: str, held: Mapping[tuple[str, str], int], *extra: object
    ) -> set[tuple[str, str]]:
        rows = _check_held(held)
        if not rows:
            return set()
        found = await self._pool.fetch(
            sql,
            owner,
            [kind for kind, _, _ in rows],
            [stream_id for _, stream_id, _ in rows],
            [epoch for _, _, epoch in rows],
            *extra,
        )
        return {(str(row[0]), str(row[1])) for row in found}

    async def holder(self, kind: str, stream_id: str) -> Lease | None:
        """See :meth:`LeaseStore.holder`: one primary key probe."""
        row = await self._pool.fetchrow(_HOLDER, kind, stream_id)
        if row is None:
            return None
        return Lease(kind, stream_id, str(row[0]), int(row[1]), int(row[2]), None)

    async def orphaned_auctions(self, limit: int) -> list[str]:
        """See :meth:`LeaseStore.orphaned_auctions`: the not-ended auctions, each probed
        for its lease."""
        if limit < 0:
            raise StorageMisuse(f"limit must be >= 0, got {limit}")
        rows = await self._pool.fetch(_ORPHANED, limit)
        return [str(row[0]) for row in rows]

    async def owned_counts(self) -> dict[str, int]:
        """See :meth:`LeaseStore.owned_counts`: a scan of the leases."""
        rows = await self._pool.fetch(_OWNED)
        return {str(row[0]): int(row[1]) for row in rows}

    async def heartbeat(self, node: str, url: str, ttl_s: float, draining: bool = False) -> None:
        """See :meth:`LeaseStore.heartbeat`: one upsert."""
        _check_ttl(ttl_s)
        await self._pool.execute(_HEARTBEAT, node, url, float(ttl_s), draining)

    async def live_nodes(self) -> list[NodeInfo]:
        """See :meth:`LeaseStore.live_nodes`: a scan of the (few) nodes."""
        rows = await self._pool.fetch(_LIVE_NODES)
        return [NodeInfo(str(r[0]), str(r[1]), bool(r[2]), int(r[3])) for r in rows]

    async def forget_node(self, node: str) -> None:
        """See :meth:`LeaseStore.forget_node`: one delete."""
        await self._pool.execute("DELETE FROM cluster_nodes WHERE node_id = $1", node)


# -- in memory ------------------------------------------------------------------------


def wall_clock_us() -> Callable[[], int]:
    """A clock of microseconds since the Unix epoch that never goes backwards."""
    last = 0

    def now() -> int:
        nonlocal last
        last = max(last, time.time_ns() // 1000)
        return last

    return now


@dataclass(slots=True)
class _Row:
    owner: str
    epoch: int
    renewed_at_us: int
    expires_at_us: int
    released: bool = False

    def live(self, now: int) -> bool:
        return not self.released and self.expires_at_us > now


@dataclass(slots=True)
class _Node:
    url: str
    started_at_us: int
    heartbeat_at_us: int
    expires_at_us: int
    draining: bool


@dataclass(slots=True)
class MemoryLeaseStore:
    """:class:`LeaseStore` held in dictionaries, on ``clock`` (microseconds; inject a
    fake one in tests; by default the wall clock, never going backwards).

    ``auctions``: the event store whose not-ended auctions :meth:`orphaned_auctions`
    lists (none without it). A :class:`~api.storage.memory.MemoryEventStore` built with
    ``leases=`` this store sets itself here when it is unset. Its fenced appends read
    :meth:`current_epoch`. Every method completes without awaiting anything but
    ``auctions``' listing, so each is atomic under asyncio, as a statement is.
    """

    clock: Callable[[], int] = field(default_factory=wall_clock_us)
    auctions: EventStore | None = None
    _rows: dict[tuple[str, str], _Row] = field(default_factory=dict, init=False, repr=False)
    _nodes: dict[str, _Node] = field(default_factory=dict, init=False, repr=False)

    def current_epoch(self, kind: str, stream_id: str) -> int | None:
        """The epoch of the stream's lease row, live or not; ``None`` without a row.
        What a fenced append compares its epoch with. O(1)."""
        row = self._rows.get((kind, stream_id))
        return None if row is None else row.epoch

    def _check(self) -> None:
        """Assert the store's invariants (for property tests): epochs >= 1, a row's
        renewal not after its expiry unless released. O(n)."""
        for key, row in self._rows.items():
            assert key[0] in KINDS and row.epoch >= 1, (key, row)
            assert row.released or row.renewed_at_us <= row.expires_at_us, (key, row)

    async def acquire(self, kind: str, stream_id: str, owner: str, ttl_s: float) -> Lease | None:
        """See :meth:`LeaseStore.acquire`. O(1)."""
        check_lease_args(kind, stream_id, owner, ttl_s)
        now = self.clock()
        expires = now + _micros(ttl_s)
        row = self._rows.get((kind, stream_id))
        if row is None:
            self._rows[(kind, stream_id)] = _Row(owner, 1, now, expires)
            return Lease(kind, stream_id, owner, 1, expires, None)
        if row.live(now):
            if row.owner != owner:
                return None
            row.renewed_at_us, row.expires_at_us = now, expires
            return Lease(kind, stream_id, owner, row.epoch, expires, None)
        ownerless = None if row.released else now - row.renewed_at_us
        row.owner, row.epoch, row.released = owner, row.epoch + 1, False
        row.renewed_at_us, row.expires_at_us = now, expires
        return Lease(kind, stream_id, owner, row.epoch, expires, ownerless)

    async def renew(
        self, owner: str, held: Mapping[tuple[str, str], int], ttl_s: float
    ) -> set[tuple[str, str]]:
        """See :meth:`LeaseStore.renew`. O(k)."""
        _check_ttl(ttl_s)
        now = self.clock()
        renewed: set[tuple[str, str]] = set()
        for kind, stream_id, epoch in _check_held(held):
            row = self._rows.get((kind, stream_id))
            if row is not None and row.owner == owner and row.epoch == epoch and not row.released:
                row.renewed_at_us, row.expires_at_us = now, now + _micros(ttl_s)
                renewed.add((kind, stream_id))
        return renewed

    async def release(self, owner: str, held: Mapping[tuple[str, str], int]) -> None:
        """See :meth:`LeaseStore.release`. O(k)."""
        now = self.clock()
        for kind, stream_id, epoch in _check_held(held):
            row = self._rows.get((kind, stream_id))
            if row is not None and row.owner == owner and row.epoch == epoch and not row.released:
                row.expires_at_us, row.released = now, True

    async def holder(self, kind: str, stream_id: str) -> Lease | None:
        """See :meth:`LeaseStore.holder`. O(1)."""
        row = self._rows.get((kind, stream_id))
        if row is None or not row.live(self.clock()):
            return None
        return Lease(kind, stream_id, row.owner, row.epoch, row.expires_at_us, None)

    async def orphaned_auctions(self, limit: int) -> list[str]:
        """See :meth:`LeaseStore.orphaned_auctions`. O(a log a) for a auctions."""
        if limit < 0:
            raise StorageMisuse(f"limit must be >= 0, got {limit}")
        if self.auctions is None:
            return []
        records = await self.auctions.list_auctions(
            {AuctionStatus.SCHEDULED, AuctionStatus.RUNNING}
        )
        now = self.clock()
        orphans = []
        for record in records:
            row = self._rows.get(("auction", record.id))
            if row is None or not row.live(now):
                orphans.append(record.id)
        return orphans[:limit]

    async def owned_counts(self) -> dict[str, int]:
        """See :meth:`LeaseStore.owned_counts`. O(n)."""
        now = self.clock()
        counts: dict[str, int] = {}
        for (kind, _), row in self._rows.items():
            if kind == "auction" and row.live(now):
                counts[row.owner] = counts.get(row.owner, 0) + 1
        return counts

    async def heartbeat(self, node: str, url: str, ttl_s: float, draining: bool = False) -> None:
        """See :meth:`LeaseStore.heartbeat`. O(1)."""
        _check_ttl(ttl_s)
        now = self.clock()
        known = self._nodes.get(node)
        started = known.started_at_us if known and known.expires_at_us > now else now
        self._nodes[node] = _Node(url, started, now, now + _micros(ttl_s), draining)

    async def live_nodes(self) -> list[NodeInfo]:
        """See :meth:`LeaseStore.live_nodes`. O(n log n)."""
        now = self.clock()
        return [
            NodeInfo(node_id, n.url, n.draining, n.heartbeat_at_us)
            for node_id, n in sorted(self._nodes.items())
            if n.expires_at_us > now
        ]

    async def forget_node(self, node: str) -> None:
        """See :meth:`LeaseStore.forget_node`. O(1)."""
        self._nodes.pop(node, None)


def _micros(seconds: float) -> int:
    return round(seconds * 1_000_000)
