"""The audit package's exceptions (:mod:`api.audit.errors`): one root, drawn in its docstring."""

from __future__ import annotations

import api.audit.errors
from api.audit.bundle import BundleInvalid, EventNotSigned
from api.audit.cli import AuditFailed
from api.audit.errors import AuditError, TrailUnavailable


def test_one_root() -> None:
    for leaf in (TrailUnavailable, BundleInvalid, EventNotSigned, AuditFailed):
        assert issubclass(leaf, AuditError)
    assert issubclass(EventNotSigned, BundleInvalid)
    assert not issubclass(AuditError, AssertionError)


def test_the_docstring_draws_every_class() -> None:
    tree = api.audit.errors.__doc__ or ""
    for each in (AuditError, TrailUnavailable, BundleInvalid, EventNotSigned, AuditFailed):
        assert each.__name__ in tree
