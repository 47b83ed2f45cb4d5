"""The edge's reason codes: each has a status and a summary, the values never clash with
the engine's reasons, and the statuses follow the rules the module states."""

from __future__ import annotations

import pytest

from contracts.codes import Code
from engine.reasons import Reason


@pytest.mark.parametrize("code", list(Code))
def test_every_code_has_a_status_and_a_summary(code: Code) -> None:
    assert code.value == code.name.lower()
    assert 400 <= code.status < 600
    assert code.summary and code.summary[0].isupper() and not code.summary.endswith(".")


def test_the_edge_and_the_engine_never_share_a_code() -> None:
    assert {code.value for code in Code}.isdisjoint(reason.value for reason in Reason)


def test_syntax_is_400_and_content_422() -> None:
    assert Code.BAD_JSON.status == Code.BAD_REQUEST.status == 400
    for code in (Code.INVALID_FIELD, Code.UNKNOWN_FIELD, Code.MISSING_FIELD):
        assert code.status == 422


def test_who_is_asking_401_or_403() -> None:
    assert {c.status for c in Code if c.value.startswith("token_")} == {401}
    assert Code.UNAUTHORIZED.status == 401
    for code in (Code.FORBIDDEN, Code.ROLE_FORBIDDEN, Code.WRONG_AUCTION, Code.WRONG_PARTY):
        assert code.status == 403


def test_the_server_side_codes() -> None:
    assert Code.RATE_LIMITED.status == 429
    assert Code.IDEMPOTENCY_KEY_IN_PROGRESS.status == 409
    for code in (
        Code.STORAGE_UNAVAILABLE,
        Code.OUTCOME_UNKNOWN,
        Code.SHUTTING_DOWN,
        Code.OVERLOADED,
    ):
        assert code.status == 503
    assert Code.INTERNAL_ERROR.status == 500


def test_a_code_is_its_wire_string() -> None:
    assert Code("rate_limited") is Code.RATE_LIMITED
    assert f"{Code.OVERLOADED}" == "overloaded"
    with pytest.raises(ValueError):
        Code("insufficient_improvement")  # an engine reason, not an edge code
