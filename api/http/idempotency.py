"""``Idempotency-Key`` for commands over HTTP: the header, the request's fingerprint, the answers.

Semantics follow the IETF draft "The Idempotency-Key HTTP Header Field"
(draft-ietf-httpapi-idempotency-key-header):

* the key is 1-255 printable ASCII characters (:func:`parse_key`), scoped per party
  (the token's ``sub``), so two parties never see each other's keys;
* a request's fingerprint is SHA-256 over the method, the request target and the
  canonical body (:func:`fingerprint`), so white space and member order do not matter;
* the first request with a key reserves it and runs; its answer is stored with the key;
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
  and :meth:`IdempotencyStore.purge_expired` deletes them.

The keys, the race between two requests, the lease of an abandoned reservation, the
committed range a crashed command leaves, and the context variables that tell a command
which reservation it runs under (:func:`current_slot`, :func:`current_mark`) are
storage's: :mod:`api.storage.idempotency`, re-exported here for the routes. What is
HTTP's is this module: :class:`IdempotencyStore` is that module's
:class:`~api.storage.idempotency.IdempotentRunner` answering in problems. It stores a
:class:`~api.http.problems.ProblemError` with a 4xx status (other than 429) that the
handler raises, since those are the command's answer (an auction that is closed stays
closed); any other exception, a 5xx or a 429 releases the reservation so that a retry
runs the command again. And it raises the storage refusals as problems.

Call order::

    key = parse_key(request.headers.get("Idempotency-Key"))        # 400 if malformed
    if key is None: ... run the command without idempotency ...
    response, replayed = await store.run(claims.sub, key,
                                         fingerprint(method, target, body), handler)
    return to_http(response, replayed=replayed)

Stored answers keep their status, body and the headers that matter (``Location`` of a
201, migration 0003); replays get ``application/problem+json`` for status >= 400 and
``application/json`` otherwise.

The exceptions of this module::

    IdempotencyError
    └── IdempotencyRefused (also api.http.problems.ProblemError)   a request is refused
        ├── IdempotencyKeyInvalid       400 idempotency_key_invalid
        ├── IdempotencyKeyReused        422 idempotency_key_reused
        └── IdempotencyKeyInProgress    409 idempotency_key_in_progress (Retry-After)

Misuse (a bad key, answer or setting) raises storage's
:class:`~api.storage.errors.IdempotencyMisuse` (an ``AssertionError``), re-exported here.
The store's own errors (a lost connection) are not wrapped: they mean "storage
unavailable, try again", which the app answers with 503.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

from sanic.response import HTTPResponse

from api.http.problems import Code, ProblemError, problem
from api.storage.errors import IdempotencyMisuse, KeyInProgress, KeyReused
from api.storage.idempotency import (
    Committed,
    Handler,
    IdempotencyKeys,
    IdempotentRunner,
    Slot,
    StoredResponse,
    current_mark,
    current_slot,
)

__all__ = [
    "IDEMPOTENCY_KEY_HEADER",
    "MAX_KEY_CHARS",
    "REPLAYED_HEADER",
    "Committed",
    "Handler",
    "IdempotencyError",
    "IdempotencyKeyInProgress",
    "IdempotencyKeyInvalid",
    "IdempotencyKeyReused",
    "IdempotencyKeys",
    "IdempotencyMisuse",
    "IdempotencyRefused",
    "IdempotencyStore",
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


# ------------------------------------------------------------------------------ errors


class IdempotencyError(Exception):
    """Root of every exception this module raises (the refusals of a request)."""


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


class IdempotencyStore(IdempotentRunner):
    """The :class:`~api.storage.idempotency.IdempotentRunner` of the HTTP routes.

    ``keys`` is the storage adapter (:class:`~api.storage.idempotency.PostgresIdempotencyKeys`
    in the server); the settings are the runner's. A handler's
    :class:`~api.http.problems.ProblemError` with a 4xx status other than 429 is stored
    as the command's answer; :meth:`begin` (so :meth:`run` too) raises
    :class:`IdempotencyKeyReused` and :class:`IdempotencyKeyInProgress` for storage's
    refusals.
    """

    def stored_answer(self, error: Exception) -> StoredResponse | None:
        """A rejection's problem, stored as the command's answer; ``None`` (release the
        key) for anything else, a 5xx or a 429."""
        if isinstance(error, ProblemError):
            status = error.problem.status
            if status < 500 and status != 429:
                return StoredResponse(status, error.problem.to_json())
        return None

    async def begin(self, party: str, key: str, fingerprint: bytes) -> Slot:
        """See :meth:`IdempotentRunner.begin`; its refusals raised as problems (422 for
        a reused key, 409 with ``Retry-After: 1`` for one still in progress)."""
        try:
            return await super().begin(party, key, fingerprint)
        except KeyReused as refused:
            raise IdempotencyKeyReused(str(refused)) from None
        except KeyInProgress as refused:
            raise IdempotencyKeyInProgress(str(refused), retry_after=1) from None
