"""The tenders package's exception tree (:mod:`api.tenders.errors`): the shape drawn in
its docstring is the classes' own, every error says what happened in words, and each is
answered over HTTP as the problem the tree names (:func:`api.http.tenders.tender_problem`).
"""

from __future__ import annotations

import re

import pytest

import api.tenders.errors as errors
from api.http.tenders import tender_problem
from api.tenders.errors import (
    AuctionTaken,
    DeadlineMoved,
    InvalidCriterion,
    InvalidField,
    MissingField,
    Refused,
    StorageFailed,
    TenderError,
    TenderExists,
    UnknownField,
    UnknownLot,
    UnknownTender,
)
from engine.events import CommandRejected
from engine.reasons import Reason


def drawn_tree() -> dict[str, str]:
    """Each class the docstring draws, with the class drawn above it (by indentation)."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = [(-1, "TenderError")]
    for line in (errors.__doc__ or "").splitlines():
        found = re.match(r"^(\s*)[├└]── (\w+)", line)
        if found is None:
            continue
        depth, name = len(found.group(1)), found.group(2)
        while stack[-1][0] >= depth:
            stack.pop()
        parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_the_tree_is_the_one_in_the_docstring() -> None:
    assert TenderError.__bases__ == (Exception,)
    tree = drawn_tree()
    assert set(tree) | {"TenderError"} == set(errors.__all__)
    for name, parent in tree.items():
        assert getattr(errors, name).__bases__ == (getattr(errors, parent),), name


REJECTED = CommandRejected(7, 42, "c-1", "Award", "o9", Reason.NOT_TENDER_OFFICER, "")

#: One of each error, and the problem it is answered with: status, code, detail, field.
CASES = [
    (UnknownTender("t-1"), 404, "not_found", "no tender 't-1'", None),
    (UnknownLot("L9"), 404, "not_found", "no lot 'L9'", None),
    (TenderExists("t-1"), 409, "tender_exists", "'t-1' exists", None),
    (StorageFailed("t-1: OSError"), 503, "storage_unavailable", "nothing was recorded", None),
    (
        DeadlineMoved(200, 100),
        422,
        "invalid_schedule",
        "sealed for deadline 100, but the lot's deadline is now 200: seal the offer again",
        None,
    ),
    (Refused(REJECTED), 403, "not_tender_officer", "not tender officer", None),
    (AuctionTaken("auction 'a' exists"), 409, "auction_exists", "auction 'a' exists", None),
    (UnknownField("x"), 422, "unknown_field", "unknown field 'x'", "x"),
    (MissingField("x"), 422, "missing_field", "x is required", "x"),
    (InvalidField("x", "must be"), 422, "invalid_field", "x: must be", "x"),
    (InvalidCriterion("features must be"), 422, "invalid_tender", "features must be", None),
]


@pytest.mark.parametrize(("error", "status", "code", "detail", "field"), CASES)
def test_each_error_is_answered_as_the_problem_the_tree_names(
    error: TenderError, status: int, code: str, detail: str, field: str | None
) -> None:
    assert str(error)
    problem = tender_problem(error).problem
    assert (problem.status, problem.code, problem.detail) == (status, code, detail)
    assert problem.extra.get("field") == field
    if isinstance(error, StorageFailed):
        assert problem.retry_after == 1
    if isinstance(error, Refused):
        assert dict(problem.extra) == {"seq": 7, "server_time": 42}


def test_every_error_class_has_a_case() -> None:
    covered = {type(error) for error, *_ in CASES}
    leaves = {getattr(errors, name) for name in errors.__all__} - {TenderError}
    assert leaves - covered == {errors.BodyError}  # abstract: only its subclasses are raised
