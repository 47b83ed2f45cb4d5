"""One-time invitations: the port (:class:`InvitationStore`) and its PostgreSQL adapter
(:class:`PostgresInvitationStore`, the ``invitations`` table of migrations 0006, 0007 and
0009); the
in-memory adapter is :class:`~api.storage.memory.MemoryInvitationStore`, and both pass
the contract suite in ``tests/api/storage/test_invitations.py``.

An officer invites a party already registered in an auction, or a supplier of a tender
it sits on the committee of (:attr:`Invitation.kind`); the supplier's page exchanges the
invitation's code, once, for that party's token. The code is 32 random
bytes (:func:`new_code`, base64url); only its SHA-256 (:func:`code_hash`) is stored, so
the table gives nobody a usable link. A row is written once (:meth:`InvitationStore.issue`)
and changes at most once: when it is redeemed (:meth:`InvitationStore.redeem`: ``used_at``
and the ``jti`` of the token it gave) or, unused, withdrawn by an officer revoking the
party's access (:meth:`InvitationStore.withdraw`: ``withdrawn_at`` and ``withdrawn_by``;
a withdrawn code is never redeemed); it is never deleted.

Redeeming is atomic and single-use: of any number of concurrent redeems of one code,
exactly one is :attr:`RedeemOutcome.REDEEMED`; the others are
:attr:`RedeemOutcome.USED`. Times are microseconds on the server's wall clock, as
everywhere in storage.

Call order: ``issue`` (after the officer's request is checked) → ``get`` (cheap refusal
of an unknown, used or expired code) → mint and record the token → ``redeem`` with its
jti; hand the token out only when that answers ``REDEEMED``. ``withdraw`` at any time.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import asyncpg

from api.storage.errors import StorageMisuse

__all__ = [
    "CODE_BYTES",
    "CODE_LENGTH",
    "KINDS",
    "Invitation",
    "InvitationStore",
    "PostgresInvitationStore",
    "RedeemOutcome",
    "Redeemed",
    "check_invitation",
    "code_hash",
    "new_code",
    "new_invitation",
    "outcome_of",
]

#: Random bytes in a code: 256 bits, beyond any guessing at any rate limit.
CODE_BYTES = 32
#: Characters of a code: base64url of :data:`CODE_BYTES`, without padding.
CODE_LENGTH = 43
#: What an invitation signs a party into: an auction or a tender.
KINDS = frozenset({"auction", "tender"})


def new_code() -> str:
    """A fresh invitation code: :data:`CODE_BYTES` from :mod:`secrets`, base64url
    without padding (:data:`CODE_LENGTH` characters). O(1)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(CODE_BYTES)).rstrip(b"=").decode()


def code_hash(code: str) -> bytes:
    """What is stored of ``code``: its SHA-256 (32 bytes). O(len(code))."""
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True, slots=True)
class Invitation:
    """One invitation as stored: for ``party`` as ``role`` in ``auction_id`` (an auction
    or a tender: one namespace), issued by ``created_by`` at ``created_at``, redeemable
    before ``expires_at``; the token it gives expires at ``token_not_after`` at the
    latest (``None``: no limit beyond the server's token lifetime). ``used_at`` and
    ``jti``: when it was redeemed and the token it gave (both ``None`` until then).
    ``kind``: whether ``auction_id`` names an auction or a tender (:data:`KINDS`).
    ``withdrawn_at`` and ``withdrawn_by``: when and by whom it was withdrawn unused
    (both ``None`` unless it was)."""

    code_hash: bytes
    auction_id: str
    party: str
    role: str
    created_by: str
    created_at: int
    expires_at: int
    token_not_after: int | None = None
    used_at: int | None = None
    jti: str | None = None
    kind: str = "auction"
    withdrawn_at: int | None = None
    withdrawn_by: str | None = None

    @property
    def used(self) -> bool:
        """Whether the invitation was redeemed."""
        return self.used_at is not None

    @property
    def withdrawn(self) -> bool:
        """Whether the invitation was withdrawn before it was used."""
        return self.withdrawn_at is not None

    def expired(self, now: int) -> bool:
        """Whether it can no longer be redeemed at ``now`` (its expiry is exclusive)."""
        return now >= self.expires_at


def new_invitation(
    auction_id: str,
    party: str,
    created_by: str,
    *,
    now: int,
    expires_at: int,
    token_not_after: int | None = None,
    role: str = "bidder",
    kind: str = "auction",
) -> tuple[str, Invitation]:
    """A fresh code (:func:`new_code`) and the :class:`Invitation` to
    :meth:`~InvitationStore.issue` for it: what the officer's route does, and what a
    seeding script (the demo) may do directly. Hand the code out only once the
    invitation is issued. O(1)."""
    code = new_code()
    invitation = Invitation(
        code_hash(code),
        auction_id,
        party,
        role,
        created_by,
        now,
        expires_at,
        token_not_after,
        kind=kind,
    )
    return code, invitation


class RedeemOutcome(StrEnum):
    """What :meth:`InvitationStore.redeem` did."""

    REDEEMED = "redeemed"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class Redeemed:
    """A redeem's ``outcome`` and the invitation as stored after it (``None`` when
    :attr:`RedeemOutcome.UNKNOWN`). A used one answers USED even once expired."""

    outcome: RedeemOutcome
    invitation: Invitation | None


def check_invitation(invitation: Invitation) -> None:
    """Raise :class:`~api.storage.errors.StorageMisuse` unless ``invitation`` may be
    issued: a 32-byte hash, non-empty auction, party and role, a known kind, an expiry
    after its creation, not redeemed nor withdrawn yet. O(1)."""
    if len(invitation.code_hash) != 32:
        raise StorageMisuse(f"a code hash is 32 bytes, got {len(invitation.code_hash)}")
    if not (invitation.auction_id and invitation.party and invitation.role):
        raise StorageMisuse("an invitation names its auction, party and role")
    if invitation.kind not in KINDS:
        raise StorageMisuse(f"an invitation is for one of {sorted(KINDS)}")
    if invitation.expires_at <= invitation.created_at:
        raise StorageMisuse("an invitation expires after it is created")
    if invitation.used_at is not None or invitation.jti is not None:
        raise StorageMisuse("an invitation is issued unused")
    if invitation.withdrawn_at is not None or invitation.withdrawn_by is not None:
        raise StorageMisuse("an invitation is issued not withdrawn")


def outcome_of(found: Invitation | None, at: int) -> RedeemOutcome:
    """Why ``found`` (the stored row, or ``None``) cannot be redeemed at ``at``; or
    :attr:`RedeemOutcome.REDEEMED` when it can. Used wins over withdrawn (never both),
    withdrawn over expired. O(1)."""
    if found is None:
        return RedeemOutcome.UNKNOWN
    if found.used:
        return RedeemOutcome.USED
    if found.withdrawn:
        return RedeemOutcome.WITHDRAWN
    if found.expired(at):
        return RedeemOutcome.EXPIRED
    return RedeemOutcome.REDEEMED


class InvitationStore(Protocol):
    """The storage port of invitations (see the module docstring)."""

    async def issue(self, invitation: Invitation) -> None:
        """Keep a new, unused ``invitation``. Raises
        :class:`~api.storage.errors.StorageMisuse` (keeping nothing) for one
        :func:`check_invitation` refuses or whose hash is stored already. O(log n)."""
        ...

    async def get(self, code_hash: bytes) -> Invitation | None:
        """The invitation of ``code_hash``, or ``None``. O(log n)."""
        ...

    async def redeem(self, code_hash: bytes, *, at: int, jti: str) -> Redeemed:
        """Mark the invitation of ``code_hash`` used at ``at`` by the token ``jti``, if
        it is unused and not expired at ``at``; atomically, so of concurrent redeems
        exactly one wins. Otherwise nothing changes and the outcome says why. O(log n)."""
        ...

    async def for_auction(self, auction_id: str, *, limit: int = 1000) -> list[Invitation]:
        """The invitations of ``auction_id`` (an auction's or a tender's: one namespace),
        newest first (then by code hash), at most ``limit``. O(k log k) for its k
        invitations."""
        ...

    async def withdraw(self, auction_id: str, party: str, *, at: int, by: str) -> list[Invitation]:
        """Withdraw, at ``at`` by ``by``, every invitation of ``party`` in ``auction_id``
        that could still be redeemed at ``at`` (unused, not withdrawn, not expired); the
        rows as withdrawn (none on a second call). A redeem racing it either wins (the
        row is used, not withdrawn) or finds the row withdrawn. O(k) for the party's k
        invitations."""
        ...


_COLUMNS = (
    "code_hash, auction_id, party, role, created_by, created_at, expires_at,"
    " token_not_after, used_at, jti, kind, withdrawn_at, withdrawn_by"
)

# Only an unused row that has not expired is claimed: under READ COMMITTED a second
# concurrent UPDATE waits for the first to commit, then re-reads the row and finds it
# used, so it claims nothing.
_CLAIM = f"""
UPDATE invitations SET used_at = $2, jti = $3
WHERE code_hash = $1 AND used_at IS NULL AND withdrawn_at IS NULL AND expires_at > $2
RETURNING {_COLUMNS}
"""


def _row(record: asyncpg.Record) -> Invitation:
    return Invitation(
        bytes(record["code_hash"]),
        record["auction_id"],
        record["party"],
        record["role"],
        record["created_by"],
        record["created_at"],
        record["expires_at"],
        record["token_not_after"],
        record["used_at"],
        record["jti"],
        record["kind"],
        record["withdrawn_at"],
        record["withdrawn_by"],
    )


class PostgresInvitationStore:
    """:class:`InvitationStore` in the ``invitations`` table of an asyncpg pool
    (migrations 0006, 0007 and 0009). Each method is one statement, but a refused
    redeem, which reads the row again to say why."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def issue(self, invitation: Invitation) -> None:
        """See :meth:`InvitationStore.issue`: one ``INSERT``."""
        check_invitation(invitation)
        i = invitation
        try:
            await self._pool.execute(
                f"INSERT INTO invitations ({_COLUMNS})"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL, $9, NULL, NULL)",
                i.code_hash,
                i.auction_id,
                i.party,
                i.role,
                i.created_by,
                i.created_at,
                i.expires_at,
                i.token_not_after,
                i.kind,
            )
        except asyncpg.UniqueViolationError:
            raise StorageMisuse("an invitation's code hash is stored once") from None

    async def get(self, code_hash: bytes) -> Invitation | None:
        """See :meth:`InvitationStore.get`: one primary key probe."""
        record = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM invitations WHERE code_hash = $1", code_hash
        )
        return None if record is None else _row(record)

    async def redeem(self, code_hash: bytes, *, at: int, jti: str) -> Redeemed:
        """See :meth:`InvitationStore.redeem`: one conditional ``UPDATE``; when it
        claims nothing, a second statement (a fresh snapshot, which sees a concurrent
        winner's commit) reads why."""
        if not jti:
            raise StorageMisuse("a redeem names the token it gave")
        record = await self._pool.fetchrow(_CLAIM, code_hash, at, jti)
        if record is not None:
            return Redeemed(RedeemOutcome.REDEEMED, _row(record))
        found = await self.get(code_hash)
        outcome = outcome_of(found, at)
        if outcome is RedeemOutcome.REDEEMED:
            # Claimable now but not when claimed: inserted between the two statements.
            return Redeemed(RedeemOutcome.UNKNOWN, None)
        return Redeemed(outcome, found)

    async def for_auction(self, auction_id: str, *, limit: int = 1000) -> list[Invitation]:
        """See :meth:`InvitationStore.for_auction`: one index range scan and a sort."""
        records = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM invitations WHERE auction_id = $1"
            " ORDER BY created_at DESC, code_hash LIMIT $2",
            auction_id,
            limit,
        )
        return [_row(record) for record in records]

    async def withdraw(self, auction_id: str, party: str, *, at: int, by: str) -> list[Invitation]:
        """See :meth:`InvitationStore.withdraw`: one conditional ``UPDATE`` (a concurrent
        redeem of one of the rows commits first or finds it withdrawn)."""
        if not by:
            raise StorageMisuse("a withdrawal names who withdrew")
        records = await self._pool.fetch(
            "UPDATE invitations SET withdrawn_at = $3, withdrawn_by = $4"
            " WHERE auction_id = $1 AND party = $2 AND used_at IS NULL"
            " AND withdrawn_at IS NULL AND expires_at > $3"
            f" RETURNING {_COLUMNS}",
            auction_id,
            party,
            at,
            by,
        )
        rows = [_row(record) for record in records]
        rows.sort(key=lambda row: (-row.created_at, row.code_hash))
        return rows
