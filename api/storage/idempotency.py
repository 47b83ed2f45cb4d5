"""Idempotency keys: the storage port, its PostgreSQL adapter, and the runner over it.

A key is scoped per party; the first request with it reserves it and runs the command,
and the command's answer (a :class:`StoredResponse`) is kept with the key for ``ttl_s``.
A retry with the same request fingerprint gets that answer again; another request with
the key is refused (:class:`~api.storage.errors.KeyReused`); a retry while the first
still runs waits for it, at most ``wait_s``, then is refused
(:class:`~api.storage.errors.KeyInProgress`). HTTP's part (parsing the header, the
fingerprint of a request, answering problems) is :mod:`api.http.idempotency`; nothing
here imports HTTP types.

Three layers:

* :class:`IdempotencyKeys`, the port: five primitives, each one atomic step on the
  store (``reserve``, ``lookup``, ``finish``, ``release``, ``purge``). Adapters:
  :class:`PostgresIdempotencyKeys` (table ``idempotency_keys``) and
  :class:`~api.storage.memory.MemoryIdempotencyKeys`. Both pass the one contract suite
  in ``tests/api/storage/test_idempotency_port.py``.
* :class:`IdempotentRunner`: the clock, the lease, the bounded wait and the shielded
  run, over any adapter.
* :func:`current_slot` / :func:`current_mark`: the reservation the running command is
  under, in a context variable that :meth:`IdempotentRunner.run` sets around the
  handler, so a service deep inside a command (the auction or tender service) ties its
  events to the key without importing anything of HTTP.

Two racing requests run the command once: a reservation is one atomic step that
succeeds only for a free key, an expired one, or an abandoned reservation of the same
request. In PostgreSQL it is one statement, ``INSERT … ON CONFLICT DO UPDATE … WHERE
<the old row is expired or abandoned>``: the second inserter waits for the first's
commit, then re-checks the ``WHERE`` against the row that won, which is neither, so it
gets no row back and waits for the answer.

Abandoned reservations: a process that dies between reserving and finishing leaves the
key in progress. After ``lease_s`` (60 s, longer than any command may take) a request
with that key and fingerprint takes the reservation over. The command's events and its
stored answer are two transactions, so the dead process may have committed the events
and died before storing the answer. Each reservation has a ``command_id`` (kept when an
abandoned reservation is taken over), and the transaction that commits the command's
events also records which events they were (a :class:`~api.storage.ports.CommandMark`,
written by the event and tender stores): the new owner's :class:`Slot` then carries that
:class:`Committed` range, and the caller rebuilds the answer from those events instead of
running the command again.

Times are microseconds on the server's wall clock, as everywhere in storage.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

import asyncpg

from api.storage.errors import IdempotencyMisuse, KeyInProgress, KeyReused
from api.storage.ports import CommandMark

__all__ = [
    "Committed",
    "Handler",
    "IdempotencyKeys",
    "IdempotentRunner",
    "KeyRecord",
    "PostgresIdempotencyKeys",
    "Reservation",
    "Slot",
    "StoredResponse",
    "current_mark",
    "current_slot",
]

_log = logging.getLogger(__name__)

#: RFC 9457's media type, which a stored answer with status >= 400 is sent as.
_PROBLEM_MEDIA_TYPE = "application/problem+json"


def _printable(text: str) -> bool:
    return all(" " <= char <= "~" for char in text)


# ------------------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A command's answer as stored: the HTTP status, the body bytes (JSON) and the
    headers a replay must repeat (``Location``), as ``(name, value)`` pairs.

    Raises :class:`IdempotencyMisuse` for a status outside 100-599, a body that is not
    bytes, or headers that are not pairs of printable ASCII.
    """

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if type(self.status) is not int or not 100 <= self.status <= 599:
            raise IdempotencyMisuse(f"not an HTTP status: {self.status!r}")
        if not isinstance(self.body, bytes):
            raise IdempotencyMisuse("the body must be bytes")
        if not all(
            type(pair) is tuple
            and len(pair) == 2
            and all(type(part) is str and _printable(part) for part in pair)
            for pair in self.headers
        ):
            raise IdempotencyMisuse("headers must be (name, value) pairs of printable ASCII")

    @property
    def content_type(self) -> str:
        """``application/problem+json`` for an error, ``application/json`` otherwise."""
        return _PROBLEM_MEDIA_TYPE if self.status >= 400 else "application/json"


@dataclass(frozen=True, slots=True)
class Committed:
    """The events a reservation's command committed: seqs ``first_seq..last_seq`` of
    ``auction_id`` (an auction or a tender id), recorded in the transaction that
    committed them."""

    auction_id: str
    first_seq: int
    last_seq: int


@dataclass(frozen=True, slots=True)
class Reservation:
    """What :meth:`IdempotencyKeys.reserve` granted: ``stamp`` identifies the
    reservation (its ``created_at``), ``command_id`` is the id its command runs under,
    ``committed`` the events a previous owner's command committed, if any."""

    stamp: int
    command_id: str
    committed: Committed | None = None


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What the store holds for a key: the fingerprint of the request that reserved it
    and its stored answer (``None`` while the command is in progress)."""

    fingerprint: bytes
    answer: StoredResponse | None


@dataclass(frozen=True, slots=True)
class Slot:
    """What :meth:`IdempotentRunner.begin` found for a key.

    ``replay`` set: the key's answer is stored, send it again and do not run the
    command. ``replay`` ``None``: the key is reserved for the caller (``stamp`` is the
    reservation's ``created_at``, which identifies it), who must then call exactly one
    of :meth:`~IdempotentRunner.finish` or :meth:`~IdempotentRunner.release`.

    ``command_id`` is the id the command must run under (stable across a takeover);
    ``committed`` is set when a previous owner's command already committed its events:
    build the answer from them, do not run the command again.
    """

    party: str
    key: str
    fingerprint: bytes
    stamp: int
    replay: StoredResponse | None = None
    command_id: str = ""
    committed: Committed | None = None


# --------------------------------------------------------------------------------- port


class IdempotencyKeys(Protocol):
    """The storage port of idempotency keys: one row per ``(party, key)``.

    Each method is one atomic step: two concurrent callers (in one process or in
    several on one database) see each other's steps whole, never half.
    """

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
        """Reserve ``(party, key)`` at ``now`` for the request of ``fingerprint``.

        Granted for a key that is free; for an expired one (reserved before
        ``expired_before``: whatever its state and fingerprint, it starts afresh under
        ``command_id``); and for an abandoned reservation of the same request (in
        progress, reserved before ``lease_before``, the same fingerprint: its command id
        and committed range are kept). ``None`` otherwise: the key is held, and
        :meth:`lookup` says by what.
        """
        ...

    async def lookup(self, party: str, key: str) -> KeyRecord | None:
        """The key's record, or ``None`` when there is none (never reserved, released
        or purged)."""
        ...

    async def finish(self, party: str, key: str, stamp: int, answer: StoredResponse) -> bool:
        """Store ``answer`` with the reservation ``stamp`` of the key, if that
        reservation is the key's and is in progress; whether it was."""
        ...

    async def release(self, party: str, key: str, stamp: int, *, abandon_at: int) -> bool:
        """Give up the reservation ``stamp`` of the key, if it is the key's and in
        progress; whether it was. A reservation whose command committed events (a
        :class:`Committed` range is recorded) is kept and backdated to ``abandon_at``
        (past the lease) instead, so the next retry takes it over at once and answers
        from those events; any other is deleted."""
        ...

    async def purge(self, before: int, limit: int) -> int:
        """Delete at most ``limit`` keys reserved before ``before``; how many."""
        ...


# ------------------------------------------------------------------------ PostgreSQL

# $4 now, $5 expiry cutoff, $6 lease cutoff, $7 a fresh command id. The DO UPDATE
# takes over a row only when it is expired (any state, any fingerprint: a new request,
# with a new command id) or an abandoned reservation of the same request (the same
# command, so its command id and any committed outcome are kept); otherwise no row is
# returned, and the conflicting row was locked and re-checked after any concurrent
# inserter committed (READ COMMITTED semantics). In SET, ``k`` is the old row.
_RESERVE = """
INSERT INTO idempotency_keys AS k (party_id, key, request_hash, created_at, command_id)
VALUES ($1, $2, $3, $4, $7)
ON CONFLICT (party_id, key) DO UPDATE
    SET request_hash = EXCLUDED.request_hash,
        status_code = NULL,
        response_body = NULL,
        response_headers = NULL,
        created_at = EXCLUDED.created_at,
        command_id = CASE WHEN k.created_at < $5 OR k.command_id IS NULL
                          THEN EXCLUDED.command_id ELSE k.command_id END,
        auction_id = CASE WHEN k.created_at < $5 THEN NULL ELSE k.auction_id END,
        first_seq = CASE WHEN k.created_at < $5 THEN NULL ELSE k.first_seq END,
        last_seq = CASE WHEN k.created_at < $5 THEN NULL ELSE k.last_seq END
    WHERE k.created_at < $5
       OR (k.status_code IS NULL AND k.created_at < $6
           AND k.request_hash = EXCLUDED.request_hash)
RETURNING created_at, command_id, auction_id, first_seq, last_seq
"""

_LOOKUP = """
SELECT request_hash, status_code, response_body, response_headers
FROM idempotency_keys WHERE party_id = $1 AND key = $2
"""

# Both guard on the stamp: a slow owner whose reservation was taken over must neither
# overwrite nor delete the new owner's row.
_FINISH = """
UPDATE idempotency_keys SET status_code = $4, response_body = $5, response_headers = $6
WHERE party_id = $1 AND key = $2 AND created_at = $3 AND status_code IS NULL
"""

# A reservation whose command committed events (first_seq set) is backdated ($4)
# instead of deleted. The two branches are exclusive.
_RELEASE = """
WITH deleted AS (
    DELETE FROM idempotency_keys
    WHERE party_id = $1 AND key = $2 AND created_at = $3 AND status_code IS NULL
      AND first_seq IS NULL
    RETURNING 1
), abandoned AS (
    UPDATE idempotency_keys SET created_at = $4
    WHERE party_id = $1 AND key = $2 AND created_at = $3 AND status_code IS NULL
      AND first_seq IS NOT NULL
    RETURNING 1
)
SELECT (SELECT count(*) FROM deleted) + (SELECT count(*) FROM abandoned)
"""

# Batches keep each purge transaction short; created_at is indexed.
_PURGE = """
DELETE FROM idempotency_keys WHERE (party_id, key) IN (
    SELECT party_id, key FROM idempotency_keys WHERE created_at < $1 LIMIT $2
)
"""


def _headers_json(headers: tuple[tuple[str, str], ...]) -> str | None:
    return json.dumps(dict(headers)) if headers else None


def _headers_from_json(text: str | None) -> tuple[tuple[str, str], ...]:
    return tuple(json.loads(text).items()) if text else ()


class PostgresIdempotencyKeys:
    """:class:`IdempotencyKeys` in the ``idempotency_keys`` table (migrations 0002 and
    0003) of an asyncpg pool. Each method is one statement."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

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
        """See :meth:`IdempotencyKeys.reserve`: one ``INSERT … ON CONFLICT``."""
        row = await self._pool.fetchrow(
            _RESERVE, party, key, fingerprint, now, expired_before, lease_before, command_id
        )
        if row is None:
            return None
        committed = None
        if row["first_seq"] is not None:
            committed = Committed(row["auction_id"], row["first_seq"], row["last_seq"])
        return Reservation(row["created_at"], row["command_id"], committed)

    async def lookup(self, party: str, key: str) -> KeyRecord | None:
        """See :meth:`IdempotencyKeys.lookup`: one primary key probe."""
        row = await self._pool.fetchrow(_LOOKUP, party, key)
        if row is None:
            return None
        answer = None
        if row["status_code"] is not None:
            answer = StoredResponse(
                row["status_code"],
                bytes(row["response_body"]),
                _headers_from_json(row["response_headers"]),
            )
        return KeyRecord(bytes(row["request_hash"]), answer)

    async def finish(self, party: str, key: str, stamp: int, answer: StoredResponse) -> bool:
        """See :meth:`IdempotencyKeys.finish`: one ``UPDATE``."""
        result = await self._pool.execute(
            _FINISH,
            party,
            key,
            stamp,
            answer.status,
            answer.body,
            _headers_json(answer.headers),
        )
        stored: bool = result == "UPDATE 1"
        return stored

    async def release(self, party: str, key: str, stamp: int, *, abandon_at: int) -> bool:
        """See :meth:`IdempotencyKeys.release`: one statement."""
        count = await self._pool.fetchval(_RELEASE, party, key, stamp, abandon_at)
        return bool(count)

    async def purge(self, before: int, limit: int) -> int:
        """See :meth:`IdempotencyKeys.purge`: one ``DELETE``, by the ``created_at`` index."""
        result = await self._pool.execute(_PURGE, before, limit)
        return int(result.split()[-1])


# ------------------------------------------------------------------- the running slot

_SLOT: ContextVar[Slot | None] = ContextVar("gavel_idempotency_slot", default=None)


def current_slot() -> Slot | None:
    """The reserved :class:`Slot` whose handler is running in this task, if any.

    :meth:`IdempotentRunner.run` sets it around the handler, so code deep inside a
    command (the auction or tender service) can tie the command's events to the key.
    """
    return _SLOT.get()


def current_mark() -> CommandMark | None:
    """The mark that ties the running command's events to its idempotency reservation
    (``None`` without one); the store fills in the seqs when it commits them."""
    slot = _SLOT.get()
    return None if slot is None else CommandMark(slot.party, slot.key, slot.stamp)


# ---------------------------------------------------------------------------- runner

#: What :meth:`IdempotentRunner.run` runs: the command, returning its answer.
Handler = Callable[[], Awaitable[StoredResponse]]


def _wall_clock_us() -> int:
    return time.time_ns() // 1000


class IdempotentRunner:
    """Commands answered at most once per ``(party, key)``, over an adapter of
    :class:`IdempotencyKeys`.

    ``ttl_s``: how long a key is remembered; ``lease_s``: how long a reservation may go
    unfinished before another request takes it over; ``wait_s``: how long a duplicate
    waits for the first request, polling every ``poll_s`` doubling up to 0.25 s;
    ``clock_us``: wall-clock microseconds (injected for tests). Raises
    :class:`IdempotencyMisuse` unless ``ttl_s > lease_s > 0``, ``wait_s >= 0`` and
    ``poll_s > 0``.

    :meth:`run` is the one to use. It runs ``begin → handler → finish`` in a task
    shielded from the caller's cancellation: a server cancels a handler when its client
    disconnects, and a client that timed out and disconnected is precisely the one that
    will retry. Shielded, the first run still completes and stores its answer, and the
    retry receives it; a context manager (``async with``) could not do that, which is
    why there is none. :meth:`begin`, :meth:`finish` and :meth:`release` are the
    primitives, for callers that do their own shielding.

    Which errors of a handler are the command's answer (stored, as a rejection is) and
    which release the key (so that a retry runs the command again) is for a subclass to
    say in :meth:`stored_answer`: here, every error releases it.
    """

    def __init__(
        self,
        keys: IdempotencyKeys,
        *,
        ttl_s: float = 24 * 3600,
        lease_s: float = 60,
        wait_s: float = 2.0,
        poll_s: float = 0.01,
        clock_us: Callable[[], int] = _wall_clock_us,
    ) -> None:
        if not (ttl_s > lease_s > 0 and wait_s >= 0 and poll_s > 0):
            raise IdempotencyMisuse("need ttl_s > lease_s > 0, wait_s >= 0 and poll_s > 0")
        self.keys = keys
        self._ttl_us = int(ttl_s * 1_000_000)
        self._lease_us = int(lease_s * 1_000_000)
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._clock_us = clock_us
        # Strong references to shielded runs: the loop keeps only weak ones.
        self._running: set[asyncio.Task[tuple[StoredResponse, bool]]] = set()

    def stored_answer(self, error: Exception) -> StoredResponse | None:
        """The answer to store when the handler raised ``error``; ``None`` (here,
        always) releases the key instead."""
        return None

    async def run(
        self, party: str, key: str, fingerprint: bytes, handler: Handler
    ) -> tuple[StoredResponse, bool]:
        """Answer a command at most once per ``(party, key)``: ``(response, replayed)``.

        ``begin``, then, if the key was reserved, ``handler()`` and ``finish``, all in
        one task that the caller's cancellation does not reach. Raises the errors of
        :meth:`begin`, and re-raises what the handler raised after storing its
        :meth:`stored_answer` or releasing the key. A handler that returns anything but
        a :class:`StoredResponse` releases the key and raises
        :class:`IdempotencyMisuse`. Store steps: two for a first run (reserve, finish),
        two for a replay (reserve, lookup), two per poll.
        """
        task = asyncio.ensure_future(self._run(party, key, fingerprint, handler))
        self._running.add(task)
        task.add_done_callback(self._forget)
        return await asyncio.shield(task)

    def _forget(self, task: asyncio.Task[tuple[StoredResponse, bool]]) -> None:
        self._running.discard(task)
        if not task.cancelled():
            # Retrieve it, so an error nobody awaits (the caller was cancelled) is not
            # reported as "never retrieved"; run() re-raises it to a caller still there.
            task.exception()

    async def drain(self) -> None:
        """Wait for every shielded run to finish: call at graceful shutdown, before the
        store closes, so abandoned clients' commands still store their answers."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _run(
        self, party: str, key: str, fingerprint: bytes, handler: Handler
    ) -> tuple[StoredResponse, bool]:
        slot = await self.begin(party, key, fingerprint)
        if slot.replay is not None:
            return slot.replay, True
        _SLOT.set(slot)  # this task's own context: the caller's is untouched
        try:
            response = await handler()
        except Exception as error:
            answer = self.stored_answer(error)
            if answer is not None:
                await self.finish(slot, answer)
            else:
                await self._release_quietly(slot)
            raise
        except BaseException:
            await self._release_quietly(slot)
            raise
        if not isinstance(response, StoredResponse):
            await self._release_quietly(slot)
            raise IdempotencyMisuse(f"the handler returned {type(response).__name__}")
        await self.finish(slot, response)
        return response, False

    async def begin(self, party: str, key: str, fingerprint: bytes) -> Slot:
        """Reserve ``key`` for ``party``, or find its stored answer.

        Returns a :class:`Slot`: reserved (``replay`` None; call :meth:`finish` or
        :meth:`release` next) or a replay. Raises :class:`KeyReused` for another
        fingerprint, :class:`KeyInProgress` if the first request still runs after
        ``wait_s``. ``party`` and ``key`` must be non-empty and ``fingerprint`` 32 bytes
        (:class:`IdempotencyMisuse`, before any I/O).
        """
        if not party or not key or len(fingerprint) != 32:
            raise IdempotencyMisuse("need a party, a key and a 32-byte fingerprint")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_s
        delay = self._poll_s
        while True:
            now = self._clock_us()
            reserved = await self.keys.reserve(
                party,
                key,
                fingerprint,
                now=now,
                expired_before=now - self._ttl_us,
                lease_before=now - self._lease_us,
                command_id=uuid.uuid4().hex,
            )
            if reserved is not None:
                return Slot(
                    party,
                    key,
                    fingerprint,
                    reserved.stamp,
                    command_id=reserved.command_id,
                    committed=reserved.committed,
                )
            record = await self._lookup(party, key)
            if record is None:
                # Released or purged since the reserve: the key is free, reserve it now.
                # No spin: each pass needs another request's whole reserve and release.
                continue
            if record.fingerprint != fingerprint:
                raise KeyReused("this idempotency key was used for a different request")
            if record.answer is not None:
                return Slot(party, key, fingerprint, now, replay=record.answer)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise KeyInProgress("a request with this idempotency key is still in progress")
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.25)

    async def _lookup(self, party: str, key: str) -> KeyRecord | None:
        # A method of its own so that a test can make a concurrent release happen here.
        return await self.keys.lookup(party, key)

    async def finish(self, slot: Slot, response: StoredResponse) -> bool:
        """Store ``response`` as the answer of reserved ``slot``. One store step.

        Returns ``False`` (and stores nothing) when the reservation is no longer the
        slot's: taken over after ``lease_s``, expired and purged, or finished already.
        """
        if slot.replay is not None:
            raise IdempotencyMisuse("a replayed slot has nothing to finish")
        stored = await self.keys.finish(slot.party, slot.key, slot.stamp, response)
        if not stored:
            _log.warning("idempotency key %r of %r lost its reservation", slot.key, slot.party)
        return stored

    async def release(self, slot: Slot) -> bool:
        """Give up reserved ``slot`` so that a retry runs the command. One store step.

        If the command's events were committed after all (the key carries their
        :class:`Committed` mark), the key is kept and made available to the next retry
        at once, which answers from those events. Returns ``False`` when the
        reservation was no longer the slot's.
        """
        if slot.replay is not None:
            raise IdempotencyMisuse("a replayed slot has nothing to release")
        abandon_at = self._clock_us() - self._lease_us - 1
        return await self.keys.release(slot.party, slot.key, slot.stamp, abandon_at=abandon_at)

    async def _release_quietly(self, slot: Slot) -> None:
        # Called while another exception propagates, which must stay the one raised;
        # if this fails the reservation is only abandoned, and the lease recovers it.
        try:
            await self.release(slot)
        except Exception:
            _log.exception("could not release idempotency key %r of %r", slot.key, slot.party)

    async def purge_expired(self, *, batch: int = 10_000) -> int:
        """Delete the keys older than ``ttl_s``; return how many. Run it periodically
        (hourly is plenty: expired keys that linger are ignored anyway). O(expired)."""
        cutoff = self._clock_us() - self._ttl_us
        total = 0
        while True:
            deleted = await self.keys.purge(cutoff, batch)
            total += deleted
            if deleted < batch:
                return total
