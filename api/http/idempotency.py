"""``Idempotency-Key`` for commands, kept in PostgreSQL (table ``idempotency_keys``).

Semantics follow the IETF draft "The Idempotency-Key HTTP Header Field"
(draft-ietf-httpapi-idempotency-key-header):

* the key is 1-255 printable ASCII characters (:func:`parse_key`), scoped per party
  (the token's ``sub``), so two parties never see each other's keys;
* a request's fingerprint is SHA-256 over the method, the request target and the
  canonical body (:func:`fingerprint`), so white space and member order do not matter;
* the first request with a key reserves it (a row with ``status_code`` NULL: in
  progress) and runs; its answer is stored with the row;
* a retry with the same key and fingerprint gets the stored answer, marked
  ``Idempotent-Replayed: true``; the same key with another fingerprint is refused with
  422 ``idempotency_key_reused``;
* a retry while the first request still runs *waits* for it (polling, at most
  ``wait_s``) and then gets its answer. A client that retries after a timeout (the
  reason keys exist) is usually racing a request that is about to finish; answering
  409 at once would make it retry again, and waiting a little gives it the real answer.
  Only when the wait runs out is it 409 ``idempotency_key_in_progress``, with
  ``Retry-After``;
* keys expire ``ttl_s`` (24 h) after their reservation: the key may then be used again,
  and :meth:`IdempotencyStore.purge_expired` deletes the rows.

Two racing requests run the command once: the reservation is one statement, ``INSERT
… ON CONFLICT DO UPDATE … WHERE <the old row is expired or abandoned>``. PostgreSQL
makes the second inserter wait for the first's commit, then re-checks the ``WHERE``
against the row that won, which is neither: it gets no row back, and waits.

What gets stored: the handler's response, and a :class:`~api.http.problems.ProblemError`
with a 4xx status (other than 429) that it raises, since those are the command's
answer (an auction that is closed stays closed). Any other exception, a 5xx or a 429
releases the reservation (the row is deleted) so that a retry runs the command again.

API: :meth:`IdempotencyStore.run` is the one the app uses. It runs ``begin → handler →
finish`` in a task shielded from the caller's cancellation: Sanic cancels a handler
when its client disconnects, and a client that timed out and disconnected is precisely
the one that will retry. Shielded, the first run still completes and stores its answer,
and the retry receives it; a context manager (``async with``) could not do that, which
is why there is none. :meth:`~IdempotencyStore.begin`, :meth:`~IdempotencyStore.finish`
and :meth:`~IdempotencyStore.release` are the primitives, for callers that do their own
shielding. Call order::

    key = parse_key(request.headers.get("Idempotency-Key"))        # 400 if malformed
    if key is None: ... run the command without idempotency ...
    response, replayed = await store.run(claims.sub, key,
                                         fingerprint(method, target, body), handler)
    return to_http(response, replayed=replayed)

Abandoned reservations: a process that dies between reserving and finishing leaves a
row in progress. After ``lease_s`` (60 s, longer than any command may take) a request
with that key and fingerprint takes the reservation over. The command's events and its
stored answer are two transactions (events commit through the group-commit writer), so
the dead process may have committed the events and died before storing the answer.
That window is closed durably: each reservation gets a ``command_id`` (kept when an
abandoned reservation is taken over), and the transaction that commits the command's
events also records, in the key's row, which events they were (``auction_id``,
``first_seq``, ``last_seq``; see :class:`~api.storage.ports.CommandMark`). The new
owner's :class:`Slot` then carries that :class:`Committed` range, and the app rebuilds
the answer from those events instead of running the command again. The handler finds
its slot with :func:`current_slot` (a context variable set around it).

Stored answers keep their status, body and the headers that matter (``Location`` of a
201, migration 0003); replays get ``application/problem+json`` for status >= 400 and
``application/json`` otherwise. Times are microseconds on the server's wall clock, as
everywhere in storage.

The exceptions of this module::

    IdempotencyError
    ├── IdempotencyRefused (also api.http.problems.ProblemError)   a request is refused
    │   ├── IdempotencyKeyInvalid       400 idempotency_key_invalid
    │   ├── IdempotencyKeyReused        422 idempotency_key_reused
    │   └── IdempotencyKeyInProgress    409 idempotency_key_in_progress (Retry-After)
    └── IdempotencyMisuse (also AssertionError)   the caller broke the calling contract

asyncpg's own errors (a lost connection) are not wrapped, as in ``api.storage``: they
mean "storage unavailable, try again", which the app answers with 503.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar

import asyncpg
from sanic.response import HTTPResponse

from api.http.problems import PROBLEM_MEDIA_TYPE, Code, ProblemError, problem
from api.storage.ports import CommandMark

__all__ = [
    "IDEMPOTENCY_KEY_HEADER",
    "MAX_KEY_CHARS",
    "REPLAYED_HEADER",
    "Handler",
    "IdempotencyError",
    "IdempotencyKeyInProgress",
    "IdempotencyKeyInvalid",
    "IdempotencyKeyReused",
    "IdempotencyMisuse",
    "IdempotencyRefused",
    "IdempotencyStore",
    "Committed",
    "Slot",
    "StoredResponse",
    "current_mark",
    "current_slot",
    "fingerprint",
    "parse_key",
    "to_http",
]

#: The request header that carries the key.
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"

#: The response header that marks a stored answer sent again.
REPLAYED_HEADER = "Idempotent-Replayed"

#: Longest key accepted, in characters.
MAX_KEY_CHARS = 255

_log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------ errors


class IdempotencyError(Exception):
    """Root of every exception this module raises."""


class IdempotencyRefused(IdempotencyError, ProblemError):
    """A request is refused; ``problem`` is the RFC 9457 answer."""

    code: ClassVar[Code]

    def __init__(self, detail: str, *, retry_after: int | None = None) -> None:
        super().__init__(problem(self.code, detail, retry_after=retry_after))


class IdempotencyKeyInvalid(IdempotencyRefused):
    """The header is not 1-255 printable ASCII characters (bare or as an sf-string)."""

    code = Code.IDEMPOTENCY_KEY_INVALID


class IdempotencyKeyReused(IdempotencyRefused):
    """The key was used by this party for a request with another fingerprint."""

    code = Code.IDEMPOTENCY_KEY_REUSED


class IdempotencyKeyInProgress(IdempotencyRefused):
    """The first request with this key still runs after the bounded wait."""

    code = Code.IDEMPOTENCY_KEY_IN_PROGRESS


class IdempotencyMisuse(IdempotencyError, AssertionError):
    """The caller broke the calling contract (finishing a replayed slot, a handler that
    returned something other than a :class:`StoredResponse`, bad settings)."""


# ------------------------------------------------------------------------ sans-I/O part


def parse_key(header_value: str | None) -> str | None:
    """The key of an ``Idempotency-Key`` header value; ``None`` when there is none.

    The draft defines the value as a Structured Field string (``"abc-123"``, RFC 8941
    §3.3.3); many clients send it bare (``abc-123``). Both are accepted and mean the
    same key. The key must be 1-255 characters from printable ASCII (0x20-0x7E);
    anything else raises :class:`IdempotencyKeyInvalid`. O(len(header_value)).

    >>> parse_key('"a\\\\"b"'), parse_key(" order-7 "), parse_key(None)
    ('a"b', 'order-7', None)
    """
    if header_value is None:
        return None
    value = header_value.strip(" \t")
    if value.startswith('"'):
        key = _sf_string(value)
    else:
        key = value
        if not _printable(key):
            raise IdempotencyKeyInvalid("the key must be printable ASCII")
    if not 1 <= len(key) <= MAX_KEY_CHARS:
        raise IdempotencyKeyInvalid(f"the key must be 1-{MAX_KEY_CHARS} characters")
    return key


def _printable(text: str) -> bool:
    return all(" " <= char <= "~" for char in text)


def _sf_string(value: str) -> str:
    # RFC 8941 §4.2.5: DQUOTE *( unescaped / "\" ( DQUOTE / "\" ) ) DQUOTE.
    if len(value) < 2 or not value.endswith('"'):
        raise IdempotencyKeyInvalid("an unterminated quoted key")
    chars: list[str] = []
    escaped = False
    for char in value[1:-1]:
        if escaped:
            if char not in '"\\':
                raise IdempotencyKeyInvalid('only \\" and \\\\ may be escaped in a key')
            chars.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"' or not _printable(char):
            raise IdempotencyKeyInvalid("the key must be printable ASCII, quotes escaped")
        else:
            chars.append(char)
    if escaped:
        raise IdempotencyKeyInvalid("the key ends with a lone backslash")
    return "".join(chars)


def fingerprint(method: str, target: str, body: bytes) -> bytes:
    """SHA-256 over the method, the request target (path and query as received) and
    the canonical body: 32 bytes, stored as ``request_hash``. O(len(body)).

    A JSON body is canonicalised (members sorted, no insignificant white space, numbers
    kept exactly as written, ``"12.50"`` and ``12.50`` stay distinct), so a retry that
    re-serialises the same object matches. A body that is not JSON (or has a member
    twice) is hashed as raw bytes. Each part is length-prefixed, so no two different
    requests frame into the same bytes.
    """
    digest = hashlib.sha256()
    for part in (method.upper().encode(), target.encode("utf-8", "surrogateescape")):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    canonical = _canonical_body(body)
    digest.update(b"J" if canonical is not None else b"R")
    digest.update(canonical if canonical is not None else body)
    return digest.digest()


class _Number(str):
    """A JSON number, kept as its text so that canonicalising never goes through float."""


def _canonical_body(body: bytes) -> bytes | None:
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        members = dict(pairs)
        if len(members) != len(pairs):
            raise ValueError("duplicate member")
        return members

    try:
        tree = json.loads(
            body,
            object_pairs_hook=unique,
            parse_float=_Number,
            parse_int=_Number,
            parse_constant=_Number,
        )
        return _dump(tree).encode("utf-8", "surrogatepass")
    except (ValueError, RecursionError):
        return None


def _dump(value: Any) -> str:
    if isinstance(value, _Number):
        return str.__str__(value)
    if isinstance(value, dict):
        members = (f"{_dump(name)}:{_dump(value[name])}" for name in sorted(value))
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A command's answer as stored: the HTTP status, the body bytes (JSON) and the
    headers a replay must repeat (``Location``), as ``(name, value)`` pairs."""

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

    def _headers_json(self) -> str | None:
        return json.dumps(dict(self.headers)) if self.headers else None

    @staticmethod
    def _from_row(status: int, body: bytes, headers: str | None) -> StoredResponse:
        pairs = tuple(json.loads(headers).items()) if headers else ()
        return StoredResponse(status, body, pairs)

    @property
    def content_type(self) -> str:
        """``application/problem+json`` for an error, ``application/json`` otherwise."""
        return PROBLEM_MEDIA_TYPE if self.status >= 400 else "application/json"


def to_http(response: StoredResponse, *, replayed: bool) -> HTTPResponse:
    """The Sanic response for ``response``; a replay carries ``Idempotent-Replayed``."""
    headers = dict(response.headers)
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return HTTPResponse(
        response.body,
        status=response.status,
        headers=headers,
        content_type=response.content_type,
    )


@dataclass(frozen=True, slots=True)
class Committed:
    """The events a reservation's command committed: seqs ``first_seq..last_seq`` of
    ``auction_id``, recorded in the transaction that committed them."""

    auction_id: str
    first_seq: int
    last_seq: int


@dataclass(frozen=True, slots=True)
class Slot:
    """What :meth:`IdempotencyStore.begin` found for a key.

    ``replay`` set: the key's answer is stored, send it again and do not run the
    command. ``replay`` ``None``: the key is reserved for the caller (``stamp`` is the
    reservation's ``created_at``, which identifies it), who must then call exactly one
    of :meth:`~IdempotencyStore.finish` or :meth:`~IdempotencyStore.release`.

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


_SLOT: ContextVar[Slot | None] = ContextVar("gavel_idempotency_slot", default=None)


def current_mark() -> CommandMark | None:
    """The mark that ties the running command's events to its idempotency reservation
    (``None`` without one); the store fills in the seqs when it commits them."""
    slot = _SLOT.get()
    return None if slot is None else CommandMark(slot.party, slot.key, slot.stamp)


def current_slot() -> Slot | None:
    """The reserved :class:`Slot` whose handler is running in this task, if any.

    :meth:`IdempotencyStore.run` sets it around the handler, so code deep inside a
    command (the app's ``Gavel.run``) can tie the command's events to the key.
    """
    return _SLOT.get()


#: What :meth:`IdempotencyStore.run` runs: the command, returning its answer.
Handler = Callable[[], Awaitable[StoredResponse]]


# --------------------------------------------------------------------------------- SQL

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

# A reservation whose command committed events (first_seq set: a commit whose answer
# was lost, say) is not deleted, which would let a retry run the command again: it is
# backdated past the lease ($4) instead, so the next retry takes it over at once and
# answers from those events. The two branches are exclusive.
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


def _wall_clock_us() -> int:
    return time.time_ns() // 1000


# ------------------------------------------------------------------------------ store


class IdempotencyStore:
    """Idempotency keys on an asyncpg pool whose schema has ``idempotency_keys``.

    ``ttl_s``: how long a key is remembered; ``lease_s``: how long a reservation may go
    unfinished before another request takes it over; ``wait_s``: how long a duplicate
    waits for the first request, polling every ``poll_s`` doubling up to 0.25 s;
    ``clock_us``: wall-clock microseconds (injected for tests).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        ttl_s: float = 24 * 3600,
        lease_s: float = 60,
        wait_s: float = 2.0,
        poll_s: float = 0.01,
        clock_us: Callable[[], int] = _wall_clock_us,
    ) -> None:
        if not (ttl_s > lease_s > 0 and wait_s >= 0 and poll_s > 0):
            raise IdempotencyMisuse("need ttl_s > lease_s > 0, wait_s >= 0 and poll_s > 0")
        self._pool = pool
        self._ttl_us = int(ttl_s * 1_000_000)
        self._lease_us = int(lease_s * 1_000_000)
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._clock_us = clock_us
        # Strong references to shielded runs: the loop keeps only weak ones.
        self._running: set[asyncio.Task[tuple[StoredResponse, bool]]] = set()

    async def run(
        self, party: str, key: str, fingerprint: bytes, handler: Handler
    ) -> tuple[StoredResponse, bool]:
        """Answer a command at most once per ``(party, key)``: ``(response, replayed)``.

        ``begin``, then, if the key was reserved, ``handler()`` and ``finish``, all in
        one task that the caller's cancellation does not reach (see the module
        docstring). Raises the ``IdempotencyRefused`` errors of :meth:`begin`, and
        re-raises what the handler raised after storing or releasing as described
        above. A handler that returns anything but a :class:`StoredResponse` releases
        the key and raises :class:`IdempotencyMisuse`. Statements: two for a first
        run (reserve, finish), two for a replay (reserve, lookup), two per poll.
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
        pool closes, so abandoned clients' commands still store their answers."""
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
        except ProblemError as error:
            status = error.problem.status
            if status < 500 and status != 429:
                await self.finish(slot, StoredResponse(status, error.problem.to_json()))
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
        :meth:`release` next) or a replay. Raises :class:`IdempotencyKeyReused` for
        another fingerprint, :class:`IdempotencyKeyInProgress` if the first request
        still runs after ``wait_s``. ``party`` and ``key`` must be non-empty and
        ``fingerprint`` 32 bytes (:class:`IdempotencyMisuse`).
        """
        if not party or not key or len(fingerprint) != 32:
            raise IdempotencyMisuse("need a party, a key and a 32-byte fingerprint")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_s
        delay = self._poll_s
        while True:
            now = self._clock_us()
            reserved = await self._pool.fetchrow(
                _RESERVE,
                party,
                key,
                fingerprint,
                now,
                now - self._ttl_us,
                now - self._lease_us,
                uuid.uuid4().hex,
            )
            if reserved is not None:
                committed = None
                if reserved["first_seq"] is not None:
                    committed = Committed(
                        reserved["auction_id"], reserved["first_seq"], reserved["last_seq"]
                    )
                return Slot(
                    party,
                    key,
                    fingerprint,
                    reserved["created_at"],
                    command_id=reserved["command_id"],
                    committed=committed,
                )
            row = await self._lookup(party, key)
            if row is None:
                # Released or purged since the reserve: the key is free, reserve it now.
                # No spin: each pass needs another request's whole reserve and release.
                continue
            if bytes(row["request_hash"]) != fingerprint:
                raise IdempotencyKeyReused("this idempotency key was used for a different request")
            if row["status_code"] is not None:
                stored = StoredResponse._from_row(
                    row["status_code"], bytes(row["response_body"]), row["response_headers"]
                )
                return Slot(party, key, fingerprint, now, replay=stored)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise IdempotencyKeyInProgress(
                    "a request with this idempotency key is still in progress", retry_after=1
                )
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.25)

    async def _lookup(self, party: str, key: str) -> asyncpg.Record | None:
        # A method of its own so that a test can make a concurrent release happen here.
        return await self._pool.fetchrow(_LOOKUP, party, key)

    async def finish(self, slot: Slot, response: StoredResponse) -> bool:
        """Store ``response`` as the answer of reserved ``slot``. One statement.

        Returns ``False`` (and stores nothing) when the reservation is no longer the
        slot's: taken over after ``lease_s``, expired and purged, or finished already.
        """
        if slot.replay is not None:
            raise IdempotencyMisuse("a replayed slot has nothing to finish")
        result = await self._pool.execute(
            _FINISH,
            slot.party,
            slot.key,
            slot.stamp,
            response.status,
            response.body,
            response._headers_json(),
        )
        stored: bool = result == "UPDATE 1"
        if not stored:
            _log.warning("idempotency key %r of %r lost its reservation", slot.key, slot.party)
        return stored

    async def release(self, slot: Slot) -> bool:
        """Give up reserved ``slot`` so that a retry runs the command. One statement.

        If the command's events were committed after all (the row carries their
        :class:`Committed` mark), the row is kept and made available to the next retry
        at once, which answers from those events. Returns ``False`` when the
        reservation was no longer the slot's.
        """
        if slot.replay is not None:
            raise IdempotencyMisuse("a replayed slot has nothing to release")
        expired = self._clock_us() - self._lease_us - 1
        count = await self._pool.fetchval(_RELEASE, slot.party, slot.key, slot.stamp, expired)
        return bool(count)

    async def _release_quietly(self, slot: Slot) -> None:
        # Called while another exception propagates, which must stay the one raised;
        # if this fails the reservation is only abandoned, and the lease recovers it.
        try:
            await self.release(slot)
        except Exception:
            _log.exception("could not release idempotency key %r of %r", slot.key, slot.party)

    async def purge_expired(self, *, batch: int = 10_000) -> int:
        """Delete the keys older than ``ttl_s``; return how many. Run it periodically
        (hourly is plenty: expired rows that linger are ignored anyway). O(expired)."""
        cutoff = self._clock_us() - self._ttl_us
        total = 0
        while True:
            result = await self._pool.execute(_PURGE, cutoff, batch)
            deleted = int(result.split()[-1])
            total += deleted
            if deleted < batch:
                return total
