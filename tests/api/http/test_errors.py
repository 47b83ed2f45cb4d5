"""api.http.errors: the problems the app answers for each kind of failure."""

from __future__ import annotations

import itertools
import json
from typing import Any

from sanic import Request, Sanic
from sanic.exceptions import MethodNotAllowed, NotFound

from api.access import auth
from api.access.errors import RateLimited, TokenUnknown
from api.auctions.runner import OutcomeUnknown, StorageUnavailable
from api.http.errors import add_error_handlers, problem_for
from api.http.metrics import Metrics
from api.http.problems import Code, ProblemError, problem
from api.http.webapp import App
from api.node import NotReady

_NAMES = itertools.count()


def test_problem_for_a_refusal_keeps_code_detail_retry_and_headers() -> None:
    limited = problem_for(RateLimited("slow", retry_after=2, extra={"retry_after": 2}))
    assert (limited.status, limited.code, limited.detail) == (429, "rate_limited", "slow")
    assert (limited.retry_after, dict(limited.extra)) == (2, {"retry_after": 2})
    denied = problem_for(auth.TokenMissing("none"))
    assert (denied.status, denied.code, denied.title) == (401, "token_missing", "Token missing")
    assert dict(denied.headers) == {"WWW-Authenticate": 'Bearer realm="gavel"'}
    assert problem_for(TokenUnknown()) == problem(
        Code.NOT_FOUND, "no token with this id was issued"
    )


def test_problem_for_a_node_not_ready_is_a_503_to_retry() -> None:
    assert problem_for(NotReady("the server is not ready")) == problem(
        Code.SHUTTING_DOWN, "the server is not ready", retry_after=1
    )


def _app() -> tuple[App, Metrics]:
    app: App = Sanic(f"test_errors_{next(_NAMES)}", configure_logging=False)

    @app.get("/things", name="things")
    async def things(request: Request) -> Any:
        raise AssertionError("never called")

    metrics = Metrics()
    add_error_handlers(app, metrics)
    app.router.finalize()
    return app, metrics


async def _answer(app: App, error: Exception, path: str = "/things") -> tuple[int, Any, Any]:
    request = Request(path.encode(), {}, "1.1", "GET", None, app)
    handler = app.error_handler.lookup(error, None)
    assert handler is not None
    response = await handler(request, error)
    body = json.loads(response.body) if response.body else None
    return response.status, body, response.headers


async def test_each_failure_is_answered_with_its_problem_and_counted() -> None:
    app, metrics = _app()
    status, body, headers = await _answer(app, auth.WrongAuction("other auction"))
    assert (status, body["code"], body["detail"]) == (403, "wrong_auction", "other auction")
    assert headers["WWW-Authenticate"].endswith('"insufficient_scope"')
    status, body, headers = await _answer(app, RateLimited("slow", retry_after=3))
    assert (status, body["code"], headers["Retry-After"]) == (429, "rate_limited", "3")
    status, body, headers = await _answer(app, NotReady("the server is not ready"))
    assert (status, body["code"], headers["Retry-After"]) == (503, "shutting_down", "1")
    status, body, _ = await _answer(app, ProblemError(problem(Code.BAD_JSON, "bad")))
    assert (status, body["code"]) == (400, "bad_json")
    assert metrics.requests == {("?", 403): 1, ("?", 429): 1, ("?", 503): 1, ("?", 400): 1}


async def test_outcome_unknown_storage_and_crashes() -> None:
    app, metrics = _app()
    status, body, headers = await _answer(app, OutcomeUnknown("the commit failed"))
    assert (status, body["code"], headers["Retry-After"]) == (503, "outcome_unknown", "5")
    assert body["detail"].startswith("the commit failed. It may have been recorded")
    status, body, _ = await _answer(app, StorageUnavailable("down"))
    assert (status, body["code"]) == (503, "storage_unavailable")
    status, body, _ = await _answer(app, OSError("connection reset"))
    assert (status, body["code"]) == (503, "storage_unavailable")
    status, body, _ = await _answer(app, RuntimeError("password=hunter2"))
    assert (status, body["code"]) == (500, "internal_error")
    assert "hunter2" not in json.dumps(body)
    assert metrics.requests == {("?", 503): 3}


async def test_sanic_errors_get_their_codes_and_a_405_its_allow() -> None:
    app, _ = _app()
    status, body, _ = await _answer(app, NotFound("no route"))
    assert (status, body["code"]) == (404, "not_found")
    status, body, headers = await _answer(app, MethodNotAllowed("no", "POST", []))
    assert (status, body["code"]) == (405, "method_not_allowed")
    assert headers["Allow"] == "GET"
