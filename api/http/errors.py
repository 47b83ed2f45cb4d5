"""How the app answers what went wrong: every exception a route lets out becomes an
RFC 9457 problem (:mod:`api.http.problems`).

- :class:`~api.http.problems.ProblemError`: its problem;
- :class:`~api.access.errors.Refused` (tokens, route rules, rate limits, unknown jtis)
  and :class:`~api.node.NotReady`: the problem :func:`problem_for` makes of them, the
  same the routes answered when those were problems themselves;
- Sanic's own errors (404, 405 with ``Allow``, 413, 400, ...): the matching code;
- :class:`~api.auctions.runner.OutcomeUnknown`: 503 ``outcome_unknown`` (not a refusal);
- storage failing under a route: 503 ``storage_unavailable``;
- anything else: a bare 500 ``internal_error`` that says nothing about it.

Each handled refusal is counted on ``/metrics`` by route and status
(:attr:`api.http.metrics.Metrics.requests`). Call :func:`add_error_handlers` once per app.
"""

from __future__ import annotations

import logging

import asyncpg
from sanic import Request
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse

from api.access.errors import Refused
from api.auctions.runner import OutcomeUnknown, StorageUnavailable
from api.http.metrics import Metrics
from api.http.problems import Code, Problem, ProblemError, problem
from api.http.problems import to_response as problem_response
from api.http.webapp import App, route_name
from api.node import NotReady

__all__ = ["add_error_handlers", "problem_for"]

log = logging.getLogger("gavel.app")

#: The methods a 405's ``Allow`` header may list (what the routes are registered with).
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def problem_for(error: Refused | NotReady) -> Problem:
    """The problem a refusal of :mod:`api.access` or a node that is not ready is answered
    with: the refusal's code, detail, ``Retry-After``, headers and extension members;
    503 ``shutting_down`` (retry after 1 s) for :class:`~api.node.NotReady`. O(1)."""
    if isinstance(error, NotReady):
        return problem(Code.SHUTTING_DOWN, str(error), retry_after=1)
    return problem(
        error.code,
        error.detail,
        retry_after=error.retry_after,
        headers=error.headers,
        extra=error.extra,
    )


def _allowed_methods(request: Request) -> list[str]:
    """The methods some route of ``request``'s app answers on ``request.path``. O(methods)."""
    allowed = []
    for method in _METHODS:
        try:
            request.app.router.get(request.path, method, None)
        except SanicException:
            continue
        allowed.append(method)
    return allowed


def add_error_handlers(app: App, metrics: Metrics) -> None:
    """Register the app's exception handlers (see the module docstring) on ``app``."""

    @app.exception(ProblemError)
    async def _problem(request: Request, error: ProblemError) -> HTTPResponse:
        metrics.requests[(route_name(request), error.problem.status)] += 1
        return problem_response(error.problem)

    @app.exception(Refused, NotReady)
    async def _refused(request: Request, error: Refused | NotReady) -> HTTPResponse:
        answer = problem_for(error)
        metrics.requests[(route_name(request), answer.status)] += 1
        return problem_response(answer)

    @app.exception(SanicException)
    async def _sanic_error(request: Request, error: SanicException) -> HTTPResponse:
        status = getattr(error, "status_code", 500) or 500
        code = {
            404: Code.NOT_FOUND,
            405: Code.METHOD_NOT_ALLOWED,
            413: Code.BODY_TOO_LARGE,
            400: Code.BAD_REQUEST,
            503: Code.SHUTTING_DOWN,
        }.get(status)
        # Keep Sanic's headers: a 405 must carry Allow (RFC 9110 §15.5.6).
        headers = {k: str(v) for k, v in (getattr(error, "headers", None) or {}).items()}
        if status == 405 and not any(name.lower() == "allow" for name in headers):
            # Sanic's router leaves Allow out on paths with parameters (TRACE on
            # /tenders/{t}/lots/{l}/envelopes): ask the router what the path takes.
            headers["Allow"] = ", ".join(_allowed_methods(request))
        if code is None:
            # Another client error of the HTTP layer (417 for an unknown Expect, ...): a
            # 4xx, never the 500 that INTERNAL_ERROR would make of it.
            status = status if 400 <= status < 500 else 500
            return problem_response(
                Problem(
                    status=status,
                    code=Code.BAD_REQUEST.value if status < 500 else Code.INTERNAL_ERROR.value,
                    title="Bad request" if status < 500 else Code.INTERNAL_ERROR.summary,
                    detail=str(error) or "the request was refused",
                    headers=headers,
                )
            )
        return problem_response(problem(code, str(error) or code.value, headers=headers))

    @app.exception(OutcomeUnknown)
    async def _outcome_unknown(request: Request, error: Exception) -> HTTPResponse:
        # Not a refusal (api.auctions.runner): the command ran, its commit failed and storage did
        # not come back in time to tell whether it stands. A distinct 503, so that no
        # client takes it for "nothing changed"; the log will tell.
        log.error("commit outcome unknown", extra={"path": request.path, "error": str(error)})
        metrics.requests[(route_name(request), 503)] += 1
        return problem_response(
            problem(
                Code.OUTCOME_UNKNOWN,
                f"{error}. It may have been recorded: once the service answers again, check"
                " /me, the ranking or the events (a retry under the same Idempotency-Key"
                " is answered from the log)",
                retry_after=5,
            )
        )

    @app.exception(asyncpg.PostgresError, asyncpg.InterfaceError, OSError, StorageUnavailable)
    async def _storage_error(request: Request, error: Exception) -> HTTPResponse:
        # PostgreSQL failed under a route, outside the runners (which answer
        # StorageUnavailable themselves): an idempotency reservation, a read of the log.
        # Nothing was changed by this request's failed statement; retrying is the remedy.
        log.error("storage error", extra={"path": request.path, "error": repr(error)})
        metrics.requests[(route_name(request), 503)] += 1
        return problem_response(
            problem(Code.STORAGE_UNAVAILABLE, "storage is unavailable; retry", retry_after=1)
        )

    @app.exception(Exception)
    async def _crash(request: Request, error: Exception) -> HTTPResponse:
        log.exception("unhandled error", extra={"path": request.path})
        return problem_response(problem(Code.INTERNAL_ERROR, "the server failed to answer"))
