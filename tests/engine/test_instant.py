"""engine/instant.py: microseconds since the epoch in ISO 8601 UTC, for reject details."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from engine.instant import iso_utc


def test_known_instants() -> None:
    assert iso_utc(0) == "1970-01-01T00:00:00Z"
    assert iso_utc(1_500_000) == "1970-01-01T00:00:01.500000Z"
    assert iso_utc(1_740_819_600_000_000) == "2025-03-01T09:00:00Z"
    assert iso_utc(-1) == "1969-12-31T23:59:59.999999Z"


def test_an_instant_beyond_datetimes_years_is_said_as_the_number() -> None:
    assert iso_utc(10**18) == f"{10**18} us since the epoch"


@given(st.integers(min_value=0, max_value=253_402_300_799_999_999))
def test_the_words_read_back_to_the_same_microsecond(us: int) -> None:
    text = iso_utc(us)
    assert text.endswith("Z")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert moment.tzinfo is not None
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    assert delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds == us
