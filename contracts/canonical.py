"""The canonical bytes of the audit log: what a leaf of an event log's Merkle tree is.

There is one canonical form, and it lives in :mod:`engine.codec` (the engine writes it,
the store keeps it byte for byte, the service replays it); this module names it for the
auditor's trail and does not re-implement it. The rules, in full:

- UTF-8 JSON, object keys sorted by code point, no insignificant white space
  (separators ``,`` and ``:``), non-ASCII characters written as themselves (no ``\\u``
  escapes except those JSON requires);
- a record (event, rules object, standing) is an object with its fields plus
  ``"type"``: the record's class name (``"BidAccepted"``);
- integers as JSON numbers (amounts are integer minor units; times are microseconds
  since the epoch; all stay below 2**53); ``Decimal`` values as strings exactly as
  written (``"0.10"``); a score that is a ``Fraction`` as ``"numerator/denominator"``;
  enums as their string values; tuples as arrays; ``None`` as ``null``.

Decoding accepts exactly this form, so ``event_bytes(event_from_bytes(b)) == b`` for every
accepted ``b``, and any change to a stored event's bytes (a digit, a space, a key order)
is either refused or changes its leaf hash.

A log is identified by a *stream*: ``("auction", auction_id)`` today, ``("tender", id)``
when tenders publish theirs. Its leaves are the stream's stored canonical event bytes in
seq order (leaf index = seq - 1); the leaf hash is RFC 9162's ``SHA-256(0x00 || bytes)``
(:func:`contracts.transparency.leaf_hash`). Test vectors: ``tests/contracts/test_canonical.py``.
"""

from __future__ import annotations

from engine.codec import decode_event, encode_event
from engine.events import Event

__all__ = [
    "event_bytes",
    "event_from_bytes",
]


def event_bytes(event: Event) -> bytes:
    """The canonical bytes of an auction event: its leaf in the auction's log. O(size)."""
    return encode_event(event)


def event_from_bytes(data: bytes) -> Event:
    """The auction event whose canonical bytes are ``data``.

    Raises :class:`engine.errors.MalformedRecord` for anything that is not exactly the
    canonical form of an event. O(size).
    """
    return decode_event(data)
