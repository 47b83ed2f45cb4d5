"""Exceptions of the audit trail (:mod:`api.audit`).

Every error the package raises on purpose derives from :class:`AuditError`. None is an
HTTP type: :mod:`api.http.audit` answers :class:`TrailUnavailable` with 503
``shutting_down``; a bundle that fails verification and a failed CLI step are reported
by the CLI.

The whole tree::

    AuditError
    ├── TrailUnavailable          the trails' storage is not up (starting or stopping)
    ├── BundleInvalid             a bundle fails verification (api.audit.bundle)
    │   └── EventNotSigned        an event the signed log does not hold there
    └── AuditFailed               a step of ``gavel audit`` failed (api.audit.cli)
"""

from __future__ import annotations

__all__ = ["AuditError", "TrailUnavailable"]


class AuditError(Exception):
    """Root of every exception the audit package raises on purpose."""


class TrailUnavailable(AuditError):
    """The trails' storage is not up: the server is starting or stopping. Retry soon."""
