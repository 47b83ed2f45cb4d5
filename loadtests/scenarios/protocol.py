"""The live protocol's frames as the Locust users speak them (docs/protocol.md), no I/O.

Client frames are built here (``subscribe``, ``bid``), server frames are read here
(:func:`read`), and :class:`SeqCheck` holds the one invariant a watcher checks: every
``event`` frame's ``seq`` is the one after the last, across reconnections with ``since``.
Amounts go out as decimal strings in major units (:func:`engine.money.format_minor`),
never floats. Everything is O(size of one frame).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.money import format_minor

__all__ = ["ANSWERS", "SeqCheck", "bid", "read", "subscribe"]

#: The frame types that answer a request (exactly one per ``request_id``).
ANSWERS = frozenset({"ack", "reject", "outcome_unknown"})


def subscribe(since: int) -> str:
    """The first frame on every socket: the events after ``since`` (0: all of them)."""
    return json.dumps({"type": "subscribe", "since": since})


def bid(request_id: str, amount_minor: int, currency: str) -> str:
    """A ``bid`` frame for ``amount_minor`` minor units of ``currency``."""
    amount = format_minor(amount_minor, currency)
    return json.dumps(
        {"type": "bid", "request_id": request_id, "amount": amount, "currency": currency}
    )


def read(text: str | bytes) -> dict[str, Any]:
    """One server frame as a dict; ``ValueError`` when it is not a JSON object with a type."""
    frame = json.loads(text)
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise ValueError(f"not a protocol frame: {str(text)[:80]!r}")
    return frame


@dataclass(slots=True)
class SeqCheck:
    """The last ``seq`` of an ``event`` frame seen on one auction; 0 before any.

    Call :meth:`observe` with each event frame's ``seq`` in arrival order; it returns
    ``None`` when the frame is the next one, else a sentence naming the gap, duplicate or
    reordering (and keeps the larger seq, so one gap is reported once). ``last`` is the
    ``since`` to resume with after a reconnection.
    """

    last: int = 0

    def observe(self, seq: int) -> str | None:
        """Check ``seq`` against the last one and remember it. O(1)."""
        expected = self.last + 1
        if seq == expected:
            self.last = seq
            return None
        if seq > expected:
            problem = f"gap: expected seq {expected}, got {seq} ({seq - expected} missing)"
            self.last = seq
            return problem
        kind = "duplicate" if seq == self.last else "out of order"
        return f"{kind}: seq {seq} after {self.last}"
