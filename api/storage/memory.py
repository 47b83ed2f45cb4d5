"""In-memory adapters of the storage ports: the reference ones, for tests and demos.

:class:`MemoryEventStore` (:class:`~api.storage.ports.EventStore`),
:class:`MemoryIdempotencyKeys` (:class:`~api.storage.idempotency.IdempotencyKeys`),
:class:`MemoryCheckpointStore` (:class:`~api.storage.checkpoints.CheckpointStore`),
:class:`MemoryTenderStore` (:class:`~api.storage.tenders.TenderStore`) and
:class:`MemoryTokenStore` (:class:`~api.storage.tokens.TokenStore`);
:class:`MemoryInvitationStore` (:class:`~api.storage.invitations.InvitationStore`).
They keep nothing across restarts. Each enforces exactly the invariants of its port and
raises exactly the errors the PostgreSQL adapter does; the port's contract suite checks
that. All methods complete without awaiting anything, so under asyncio each call is
atomic, as each PostgreSQL statement or transaction is.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from api.storage.checkpoints import KeptCheckpoint, check_checkpoint
from api.storage.errors import (
    CommitUncertain,
    LeaseLost,
    ReservationLost,
    SeqConflict,
    SeqGap,
    SnapshotAhead,
    StorageMisuse,
)
from api.storage.idempotency import Committed, KeyRecord, Reservation, StoredResponse
from api.storage.invitations import (
    Invitation,
    Redeemed,
    RedeemOutcome,
    check_invitation,
    outcome_of,
)
from api.storage.leases import MemoryLeaseStore
from api.storage.ports import (
    AuctionRecord,
    AuctionStatus,
    CommandMark,
    Snapshot,
    StoredEvent,
    check_append,
    check_read,
)
from api.storage.tenders import EnvelopeBlob, StoredTenderEvent
from api.storage.tokens import TokenRow

__all__ = [
    "MemoryCheckpointStore",
    "MemoryEventStore",
    "MemoryIdempotencyKeys",
    "MemoryInvitationStore",
    "MemoryTenderStore",
    "MemoryTokenStore",
]


class MemoryEventStore:
    """An :class:`~api.storage.ports.EventStore` held in dictionaries.

    Each stream is a list in which event ``seq`` sits at index ``seq - 1``, so reads
    are slices and ``last_seq`` is a length.

    ``keys``: the idempotency keys the appends' marks are recorded in, as PostgreSQL
    records them in ``idempotency_keys``: an append whose mark's reservation is not held
    there raises :class:`~api.storage.errors.ReservationLost`, storing nothing. Without
    them every mark is only kept in :attr:`marks`.

    ``leases``: the lease store fenced appends are checked against, as PostgreSQL checks
    the ``leases`` table: an append with an ``epoch`` that is not its auction's lease
    epoch (or without a lease row, or without ``leases`` at all) raises
    :class:`~api.storage.errors.LeaseLost`, storing nothing. This store becomes the
    auction list of ``leases`` (:attr:`MemoryLeaseStore.auctions`) if it has none.
    """

    def __init__(
        self, keys: MemoryIdempotencyKeys | None = None, leases: MemoryLeaseStore | None = None
    ) -> None:
        self._keys = keys
        self._leases = leases
        if leases is not None and leases.auctions is None:
            leases.auctions = self
        self._streams: dict[str, list[StoredEvent]] = {}
        self._snapshots: dict[str, dict[int, Snapshot]] = {}
        self._auctions: dict[str, AuctionRecord] = {}
        #: Every mark appended with its events, in order.
        self.marks: list[tuple[str, CommandMark]] = []

    async def append(
        self,
        auction_id: str,
        events: Sequence[StoredEvent],
        marks: Sequence[CommandMark] = (),
        *,
        epoch: int | None = None,
    ) -> None:
        """See :meth:`EventAppender.append`. O(len(events))."""
        check_append(auction_id, events)
        _fence(self._leases, "auction", auction_id, epoch)
        keys = self._keys
        if keys is not None:
            for mark in marks:
                if not keys.held(mark.party, mark.key, mark.stamp):
                    raise ReservationLost(auction_id, mark.party, mark.key)
        stream = self._streams.setdefault(auction_id, [])
        expected = len(stream) + 1
        first = events[0].seq
        if first < expected:
            raise SeqConflict(auction_id, expected, first)
        if first > expected:
            raise SeqGap(auction_id, expected, first)
        stream.extend(events)
        self.marks.extend((auction_id, mark) for mark in marks)
        if keys is not None:
            for mark in marks:
                keys.mark(auction_id, mark)

    async def read(
        self, auction_id: str, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """See :meth:`EventStore.read`. O(k) for k events returned."""
        check_read(after, limit)
        stream = self._streams.get(auction_id, [])
        stop = None if limit is None else after + limit
        return stream[after:stop]

    async def last_seq(self, auction_id: str) -> int:
        """See :meth:`EventStore.last_seq`. O(1)."""
        return len(self._streams.get(auction_id, ()))

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """See :meth:`EventStore.save_snapshot`. O(1)."""
        if not 1 <= snapshot.seq <= await self.last_seq(snapshot.auction_id):
            raise SnapshotAhead(
                f"auction {snapshot.auction_id!r}: snapshot at seq {snapshot.seq} "
                "is not backed by stored events"
            )
        self._snapshots.setdefault(snapshot.auction_id, {})[snapshot.seq] = snapshot

    async def load_snapshot(self, auction_id: str) -> Snapshot | None:
        """See :meth:`EventStore.load_snapshot`. O(s) for s snapshots of the auction."""
        snapshots = self._snapshots.get(auction_id)
        if not snapshots:
            return None
        return snapshots[max(snapshots)]

    async def upsert_auction(self, auction: AuctionRecord) -> None:
        """See :meth:`EventStore.upsert_auction`. O(1)."""
        self._auctions[auction.id] = auction

    async def get_auction(self, auction_id: str) -> AuctionRecord | None:
        """See :meth:`EventStore.get_auction`. O(1)."""
        return self._auctions.get(auction_id)

    async def list_auctions(
        self, statuses: Collection[AuctionStatus] | None = None
    ) -> list[AuctionRecord]:
        """See :meth:`EventStore.list_auctions`. O(a log a) for a auctions."""
        wanted = set(AuctionStatus) if statuses is None else set(statuses)
        found = [a for a in self._auctions.values() if a.status in wanted]
        return sorted(found, key=lambda a: (a.created_at, a.id))


def _fence(leases: MemoryLeaseStore | None, kind: str, stream_id: str, epoch: int | None) -> None:
    """Raise :class:`LeaseLost` unless ``epoch`` is ``None`` (unfenced) or the stream's
    lease epoch in ``leases``. O(1)."""
    if epoch is None:
        return
    current = None if leases is None else leases.current_epoch(kind, stream_id)
    if current != epoch:
        raise LeaseLost(stream_id, epoch, current, kind)


@dataclass(frozen=True, slots=True)
class _Key:
    """One key's row, as the ``idempotency_keys`` table holds it."""

    fingerprint: bytes
    stamp: int
    command_id: str
    answer: StoredResponse | None = None
    committed: Committed | None = None


class MemoryIdempotencyKeys:
    """An :class:`~api.storage.idempotency.IdempotencyKeys` held in a dictionary keyed
    by ``(party, key)``.

    An event store records a command's events with :meth:`mark`, as the PostgreSQL
    appenders record a :class:`~api.storage.ports.CommandMark` in their transaction.
    """

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], _Key] = {}

    async def reserve(
        self,
        party: str,
        key: str,
        fingerprint: bytes,
        *,
        now: int,
        expired_before: int,
        lease_before: int,
        command_id: str,
    ) -> Reservation | None:
        """See :meth:`IdempotencyKeys.reserve`. O(1)."""
        old = self._keys.get((party, key))
        if old is None or old.stamp < expired_before:
            row = _Key(fingerprint, now, command_id)
        elif old.answer is None and old.stamp < lease_before and old.fingerprint == fingerprint:
            row = replace(old, stamp=now, command_id=old.command_id or command_id)
        else:
            return None
        self._keys[party, key] = row
        return Reservation(row.stamp, row.command_id, row.committed)

    async def lookup(self, party: str, key: str) -> KeyRecord | None:
        """See :meth:`IdempotencyKeys.lookup`. O(1)."""
        row = self._keys.get((party, key))
        return None if row is None else KeyRecord(row.fingerprint, row.answer)

    def held(self, party: str, key: str, stamp: int) -> bool:
        """Whether the reservation ``stamp`` of ``(party, key)`` is the key's and in
        progress (what an append with its mark checks first). O(1)."""
        return self._held(party, key, stamp) is not None

    def _held(self, party: str, key: str, stamp: int) -> _Key | None:
        row = self._keys.get((party, key))
        if row is None or row.stamp != stamp or row.answer is not None:
            return None
        return row

    async def finish(self, party: str, key: str, stamp: int, answer: StoredResponse) -> bool:
        """See :meth:`IdempotencyKeys.finish`. O(1)."""
        row = self._held(party, key, stamp)
        if row is None:
            return False
        self._keys[party, key] = replace(row, answer=answer)
        return True

    async def release(self, party: str, key: str, stamp: int, *, abandon_at: int) -> bool:
        """See :meth:`IdempotencyKeys.release`. O(1)."""
        row = self._held(party, key, stamp)
        if row is None:
            return False
        if row.committed is None:
            del self._keys[party, key]
        else:
            self._keys[party, key] = replace(row, stamp=abandon_at)
        return True

    async def purge(self, before: int, limit: int) -> int:
        """See :meth:`IdempotencyKeys.purge`. O(keys)."""
        old = [name for name, row in self._keys.items() if row.stamp < before][:limit]
        for name in old:
            del self._keys[name]
        return len(old)

    def mark(self, stream_id: str, mark: CommandMark) -> bool:
        """Record that ``mark``'s command committed seqs ``mark.first_seq..last_seq`` of
        ``stream_id``, if its reservation is still held (same stamp, in progress);
        whether it was. Call it where the events are stored, in the same step. O(1)."""
        row = self._held(mark.party, mark.key, mark.stamp)
        if row is None:
            return False
        committed = Committed(stream_id, mark.first_seq, mark.last_seq)
        self._keys[mark.party, mark.key] = replace(row, committed=committed)
        return True


class MemoryCheckpointStore:
    """A :class:`~api.storage.checkpoints.CheckpointStore` held in a dictionary: per
    stream, the kept checkpoints by size."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str], dict[int, KeptCheckpoint]] = {}

    async def record(
        self,
        kind: str,
        stream_id: str,
        size: int,
        root: bytes,
        note: str,
        *,
        reason: str,
        issued_at: int,
    ) -> None:
        """See :meth:`CheckpointStore.record`. O(1)."""
        check_checkpoint(kind, size, root)
        self._kept.setdefault((kind, stream_id), {}).setdefault(
            size, KeptCheckpoint(size, reason, note)
        )

    async def notes(self, kind: str, stream_id: str) -> list[KeptCheckpoint]:
        """See :meth:`CheckpointStore.notes`. O(k log k) for k kept."""
        kept = self._kept.get((kind, stream_id), {})
        return [kept[size] for size in sorted(kept)]


class MemoryTenderStore:
    """A :class:`~api.storage.tenders.TenderStore` held in dictionaries.

    ``keys``: the idempotency keys a mark is recorded in (its reservation must be held
    there, as in PostgreSQL); without them, an append with a mark finds no reservation
    and raises :class:`~api.storage.errors.ReservationLost`. What PostgreSQL refuses
    through its constraints (a seq below 1, an envelope whose event is not stored, a
    second share of an officer) is refused here as
    :class:`~api.storage.errors.StorageMisuse`, storing nothing. ``leases``: what fenced
    appends are checked against, as for :class:`MemoryEventStore` (kind ``"tender"``).
    """

    def __init__(
        self, keys: MemoryIdempotencyKeys | None = None, leases: MemoryLeaseStore | None = None
    ) -> None:
        self._keys = keys
        self._leases = leases
        self._events: dict[str, dict[int, StoredTenderEvent]] = {}
        self._envelopes: dict[str, dict[int, EnvelopeBlob]] = {}
        self._shares: dict[tuple[str, str], str] = {}

    async def append(
        self,
        tender_id: str,
        events: Sequence[StoredTenderEvent],
        envelopes: Sequence[EnvelopeBlob] = (),
        shares: Sequence[tuple[str, str]] = (),
        mark: CommandMark | None = None,
        *,
        epoch: int | None = None,
    ) -> None:
        """See :meth:`TenderStore.append`. O(rows)."""
        _fence(self._leases, "tender", tender_id, epoch)
        if mark is not None and (
            self._keys is None or not self._keys.held(mark.party, mark.key, mark.stamp)
        ):
            raise ReservationLost(tender_id, mark.party, mark.key)
        stored = self._events.get(tender_id, {})
        seqs = [event.seq for event in events]
        for seq in seqs:
            if seq < 1:
                raise StorageMisuse(f"tender {tender_id!r}: seqs start at 1, got {seq}")
            if seq in stored or seqs.count(seq) > 1:
                raise SeqConflict(tender_id, None, seqs[0])
        sealed = self._envelopes.get(tender_id, {})
        sealing = [blob.seq for blob in envelopes]
        for seq in sealing:
            if seq in sealed or sealing.count(seq) > 1:
                raise StorageMisuse(f"tender {tender_id!r}: a second envelope at {seq}")
            if seq not in stored and seq not in seqs:
                raise StorageMisuse(f"tender {tender_id!r}: no event {seq} for its envelope")
        officers = [officer for officer, _ in shares]
        for officer in officers:
            if (tender_id, officer) in self._shares or officers.count(officer) > 1:
                raise StorageMisuse(f"tender {tender_id!r}: a second share of {officer!r}")
        self._events.setdefault(tender_id, {}).update((event.seq, event) for event in events)
        self._envelopes.setdefault(tender_id, {}).update((blob.seq, blob) for blob in envelopes)
        self._shares.update(((tender_id, officer), share) for officer, share in shares)
        if mark is not None and self._keys is not None:
            self._keys.mark(tender_id, mark)

    async def settled(self, error: CommitUncertain) -> bool:
        """See :meth:`TenderStore.settled`: always settled (nothing is left in flight)."""
        return True

    async def read(
        self, tender_id: str, after: int = 0, limit: int | None = None
    ) -> list[StoredTenderEvent]:
        """See :meth:`TenderStore.read`. O(n log n) for n events of the tender."""
        stored = self._events.get(tender_id, {})
        found = [stored[seq] for seq in sorted(stored) if seq > after]
        return found if limit is None else found[:limit]

    async def event(self, tender_id: str, seq: int) -> StoredTenderEvent | None:
        """See :meth:`TenderStore.event`. O(1)."""
        return self._events.get(tender_id, {}).get(seq)

    async def ciphertexts(self, tender_id: str, seqs: Sequence[int]) -> dict[int, bytes]:
        """See :meth:`TenderStore.ciphertexts`. O(len(seqs))."""
        sealed = self._envelopes.get(tender_id, {})
        return {seq: sealed[seq].ciphertext for seq in seqs if seq in sealed}

    async def share(self, tender_id: str, officer_id: str) -> str | None:
        """See :meth:`TenderStore.share`. O(1)."""
        return self._shares.get((tender_id, officer_id))


class MemoryTokenStore:
    """A :class:`~api.storage.tokens.TokenStore` held in a dictionary by jti.

    A jti recorded twice is refused as :class:`~api.storage.errors.StorageMisuse`
    (PostgreSQL's primary key), recording none of the rows. A revocation reaches no
    other process: there is none.
    """

    def __init__(self) -> None:
        self._rows: dict[str, TokenRow] = {}

    async def record(self, rows: list[TokenRow]) -> None:
        """See :meth:`TokenStore.record`. O(len(rows))."""
        jtis = [row.jti for row in rows]
        if len(set(jtis)) != len(jtis) or any(jti in self._rows for jti in jtis):
            raise StorageMisuse("a token id is recorded once")
        self._rows.update((row.jti, replace(row, revoked_at=None, revoked_by=None)) for row in rows)

    async def get(self, jti: str) -> TokenRow | None:
        """See :meth:`TokenStore.get`. O(1)."""
        return self._rows.get(jti)

    async def revoke(self, jti: str, *, at: int, by: str) -> TokenRow | None:
        """See :meth:`TokenStore.revoke`. O(1)."""
        row = self._rows.get(jti)
        if row is not None and not row.revoked:
            row = self._rows[jti] = replace(row, revoked_at=at, revoked_by=by)
        return row

    async def revoked(self, now: int) -> dict[str, int]:
        """See :meth:`TokenStore.revoked`. O(n) for n tokens."""
        return {
            r.jti: r.expires_at for r in self._rows.values() if r.revoked and r.expires_at > now
        }

    async def issued_to(self, party_id: str, auction_id: str) -> int:
        """See :meth:`TokenStore.issued_to`. O(n) for n tokens."""
        return sum(
            1 for r in self._rows.values() if (r.party_id, r.auction_id) == (party_id, auction_id)
        )

    async def revoke_party(
        self, party_id: str, auction_id: str, *, at: int, by: str, alive_after: int | None = None
    ) -> list[TokenRow]:
        """See :meth:`TokenStore.revoke_party`. O(n) for n tokens."""
        after = at if alive_after is None else alive_after
        revoked = []
        for jti, row in self._rows.items():
            if (
                row.party_id == party_id
                and row.auction_id == auction_id
                and not row.revoked
                and row.expires_at > after
            ):
                revoked.append(replace(row, revoked_at=at, revoked_by=by))
                self._rows[jti] = revoked[-1]
        revoked.sort(key=lambda row: (row.issued_at, row.jti))
        return revoked


class MemoryInvitationStore:
    """An :class:`~api.storage.invitations.InvitationStore` held in a dictionary by code
    hash. A hash issued twice is refused as :class:`~api.storage.errors.StorageMisuse`
    (PostgreSQL's primary key); a redeem is one step, so it is atomic under asyncio."""

    def __init__(self) -> None:
        self._rows: dict[bytes, Invitation] = {}

    async def issue(self, invitation: Invitation) -> None:
        """See :meth:`InvitationStore.issue`. O(1)."""
        check_invitation(invitation)
        if invitation.code_hash in self._rows:
            raise StorageMisuse("an invitation's code hash is stored once")
        self._rows[invitation.code_hash] = invitation

    async def get(self, code_hash: bytes) -> Invitation | None:
        """See :meth:`InvitationStore.get`. O(1)."""
        return self._rows.get(code_hash)

    async def redeem(self, code_hash: bytes, *, at: int, jti: str) -> Redeemed:
        """See :meth:`InvitationStore.redeem`. O(1)."""
        if not jti:
            raise StorageMisuse("a redeem names the token it gave")
        found = self._rows.get(code_hash)
        outcome = outcome_of(found, at)
        if found is not None and outcome is RedeemOutcome.REDEEMED:
            found = self._rows[code_hash] = replace(found, used_at=at, jti=jti)
        return Redeemed(outcome, found)

    async def for_auction(self, auction_id: str, *, limit: int = 1000) -> list[Invitation]:
        """See :meth:`InvitationStore.for_auction`. O(n log n) for n invitations."""
        rows = [row for row in self._rows.values() if row.auction_id == auction_id]
        rows.sort(key=lambda row: (-row.created_at, row.code_hash))
        return rows[:limit]

    async def withdraw(self, auction_id: str, party: str, *, at: int, by: str) -> list[Invitation]:
        """See :meth:`InvitationStore.withdraw`. O(n log n) for n invitations."""
        if not by:
            raise StorageMisuse("a withdrawal names who withdrew")
        rows = []
        for code_hash, row in self._rows.items():
            if (
                row.auction_id == auction_id
                and row.party == party
                and outcome_of(row, at) is RedeemOutcome.REDEEMED
            ):
                rows.append(replace(row, withdrawn_at=at, withdrawn_by=by))
                self._rows[code_hash] = rows[-1]
        rows.sort(key=lambda row: (-row.created_at, row.code_hash))
        return rows
