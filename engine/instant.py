"""Instants in words: microseconds since the Unix epoch as an ISO 8601 UTC timestamp.

The core keeps time as integer microseconds (they arrive inside commands); a reject's
detail that names an instant says it as ``2025-03-01T09:00:30Z`` (fractions only when
there are any) so a person reading a problem or a log line need not convert it. Pure
arithmetic on :mod:`datetime` (no clock is read). O(1).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["iso_utc"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_utc(us: int) -> str:
    """``us`` (microseconds since the epoch) as ISO 8601 in UTC with a ``Z``:
    ``iso_utc(0) == "1970-01-01T00:00:00Z"``, ``iso_utc(1_500_000) ==
    "1970-01-01T00:00:01.500000Z"``. Instants outside datetime's years (1..9999) are
    given as the integer itself."""
    try:
        moment = _EPOCH + timedelta(microseconds=us)
    except OverflowError:
        return f"{us} us since the epoch"
    spec = "seconds" if moment.microsecond == 0 else "microseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")
