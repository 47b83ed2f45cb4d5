"""The reject reasons (engine/reasons.py): stable wire codes, every one used by the engine,
and the HTTP status each one hints at."""

from __future__ import annotations

import re
from pathlib import Path

from engine.reasons import Reason

ENGINE = Path(__file__).resolve().parents[2] / "engine"

#: The status hints as documented on ``Reason.status_hint``.
FORBIDDEN = {Reason.NOT_TENDER_OFFICER}
NOT_FOUND = {Reason.UNKNOWN_LOT}
CONFLICTS = {
    Reason.AUCTION_EXISTS,
    Reason.AUCTION_NOT_STARTED,
    Reason.AUCTION_CLOSED,
    Reason.BIDDER_ALREADY_REGISTERED,
    Reason.REGISTRATION_CLOSED,
    Reason.OUT_OF_TURN,
    Reason.STALE_PRICE,
    Reason.NO_BID_TO_WITHDRAW,
    Reason.TENDER_EXISTS,
    Reason.TENDER_NOT_PUBLISHED,
    Reason.TENDER_ALREADY_PUBLISHED,
    Reason.SUBMISSION_CLOSED,
    Reason.NO_ENVELOPE,
    Reason.BIDS_SEALED,
    Reason.OPENING_NOT_DUE,
    Reason.STAGE_NOT_CURRENT,
    Reason.DUPLICATE_SHARE,
    Reason.NOT_ENOUGH_SHARES,
    Reason.LOT_NOT_OPENED,
    Reason.LOT_DECIDED,
    Reason.WRONG_FOLLOW_UP,
}


def test_codes_are_distinct_snake_case_and_names_match_them() -> None:
    values = [reason.value for reason in Reason]
    assert len(set(values)) == len(values)
    for reason in Reason:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", reason.value), reason
        assert reason == reason.value  # a StrEnum: the member is its wire code
    # The one name that differs from its code says which format refused.
    odd = {r for r in Reason if r.name.lower() != r.value}
    assert odd == {Reason.NOT_SUPPORTED} and Reason.NOT_SUPPORTED == "not_supported_by_format"


def test_status_hints() -> None:
    for reason in Reason:
        if reason in FORBIDDEN:
            expected = 403
        elif reason in NOT_FOUND:
            expected = 404
        elif reason in CONFLICTS:
            expected = 409
        else:
            expected = 422
        assert reason.status_hint == expected, reason


def test_every_reason_is_raised_somewhere_in_the_engine() -> None:
    source = "\n".join(path.read_text("utf-8") for path in ENGINE.rglob("*.py"))
    source = source.replace((ENGINE / "reasons.py").read_text("utf-8"), "")
    for reason in Reason:
        assert f"Reason.{reason.name}" in source, reason
