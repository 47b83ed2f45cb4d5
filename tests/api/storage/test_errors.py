"""The storage layer's exceptions (:mod:`api.storage.errors`): one root, the tree drawn in
the module's docstring exactly as the classes derive, misuse apart as ``AssertionError``,
and the errors that carry data keep it."""

from __future__ import annotations

import inspect
import re

import pytest

import api.storage.errors as errors
from api.storage.errors import (
    CommitUncertain,
    ReservationLost,
    SeqConflict,
    SeqError,
    SeqGap,
    StorageError,
    StorageMisuse,
)

_CLASSES = {
    name: value
    for name, value in vars(errors).items()
    if inspect.isclass(value)
    and issubclass(value, BaseException)
    and value.__module__ == errors.__name__
}


def _drawn_tree() -> dict[str, str | None]:
    """Each class the docstring draws, by name, with the parent it is drawn under."""
    doc = errors.__doc__ or ""
    drawing = doc.partition("The whole tree::")[2]
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in drawing.splitlines():
        # A class's depth is the column its name starts at, after the branch drawing.
        match = re.match(r"^[\s│├└─]*([A-Z]\w+)", line)
        if not match or match.group(1) not in _CLASSES:
            continue  # a continued explanation, or a blank line
        name, depth = match.group(1), match.start(1)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        assert name not in parents, f"{name} drawn twice"
        parents[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    return parents


def test_every_class_derives_from_the_root() -> None:
    assert _CLASSES["StorageError"] is StorageError
    assert StorageError.__bases__ == (Exception,)
    for cls in _CLASSES.values():
        assert issubclass(cls, StorageError), cls


def test_every_class_is_exported_and_nothing_else() -> None:
    assert set(errors.__all__) == set(_CLASSES)
    assert len(errors.__all__) == len(set(errors.__all__))


def test_the_docstring_draws_every_class_under_its_parent() -> None:
    drawn = _drawn_tree()
    assert set(drawn) == set(_CLASSES)
    assert [name for name, parent in drawn.items() if parent is None] == ["StorageError"]
    for name, parent in drawn.items():
        if name == "StorageError":
            continue
        bases = [base for base in _CLASSES[name].__bases__ if issubclass(base, StorageError)]
        assert [base.__name__ for base in bases] == [parent], name


def test_only_misuse_is_an_assertion_error() -> None:
    """A correct caller never sees an ``AssertionError``: it marks the calling contract
    broken, and only what the docstring puts under StorageMisuse is one."""
    doc = errors.__doc__ or ""
    assert "StorageMisuse (also AssertionError)" in doc
    misuse = {name for name, cls in _CLASSES.items() if issubclass(cls, StorageMisuse)}
    assert misuse == {"StorageMisuse", "InvalidEvents", "SnapshotAhead", "IdempotencyMisuse"}
    for name, cls in _CLASSES.items():
        assert issubclass(cls, AssertionError) == (name in misuse), name
    drawn = _drawn_tree()
    assert {name for name, parent in drawn.items() if parent == "StorageMisuse"} == misuse - {
        "StorageMisuse"
    }


def test_a_seq_error_names_the_stream_and_both_seqs() -> None:
    gap = SeqGap("a-1", 5, 7)
    assert (gap.auction_id, gap.expected, gap.got) == ("a-1", 5, 7)
    assert str(gap) == "auction 'a-1': expected seq 5, got 7"
    # A unique violation alone does not tell which seq the stream needed.
    conflict = SeqConflict("a-2", None, 3)
    assert conflict.expected is None
    assert str(conflict) == "auction 'a-2': expected seq ?, got 3"
    with pytest.raises(SeqError):
        raise conflict


def test_a_lost_reservation_names_its_key() -> None:
    lost = ReservationLost("a-1", "acme", "order-7")
    assert (lost.auction_id, lost.party, lost.key) == ("a-1", "acme", "order-7")
    assert "'order-7'" in str(lost) and "acme" in str(lost) and "'a-1'" in str(lost)


def test_an_uncertain_commit_keeps_its_transaction_and_cause() -> None:
    cause = ConnectionResetError("gone")
    try:
        try:
            raise cause
        except ConnectionResetError as error:
            raise CommitUncertain(7_001, "connection lost") from error
    except CommitUncertain as uncertain:
        assert uncertain.xid == 7_001 and uncertain.__cause__ is cause
        assert str(uncertain) == "commit outcome unknown (transaction 7001): connection lost"
    assert CommitUncertain(None, "x").xid is None
