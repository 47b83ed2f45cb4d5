"""What every route does with a request: admit it, then answer its command at most once.

- :func:`claims`: the request's verified claims, as the route's rule admits them
  (:meth:`api.access.credentials.Credentials.claims`: address limit, token, token limit,
  role, binding); a refusal propagates as :class:`~api.access.errors.Refused`.
- :func:`respond`: run a command's ``work`` once per ``Idempotency-Key``
  (:mod:`api.http.idempotency`) and answer it as JSON.
- :func:`run`: submit an auction command and answer with its own event, or raise the
  problem its rejection makes.

Call order in a command route: ``claims`` → parse the body → ``respond(node, request,
claims, work)`` where ``work`` calls ``run`` (or the service) and returns the answer.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from api.access import auth
from api.access.at_rest import SealBroken
from api.access.errors import Refused
from api.auctions.outcomes import new_command_id, outcome
from api.auctions.runner import (
    RunnerOverloaded,
    RunnerStopped,
    StorageUnavailable,
    WriterBacklogged,
)
from api.auctions.service import Service, UnknownAuction
from api.http.errors import problem_for
from api.http.idempotency import (
    StoredResponse,
    current_mark,
    current_slot,
    fingerprint,
    parse_key,
    to_http,
)
from api.http.metrics import Metrics
from api.http.problems import Code, Problem, ProblemError, problem, problem_from_rejection
from api.http.webapp import route_name
from api.node import Node, NotReady
from api.storage import CommandMark
from engine import AcceptPrice, Command, Event, PlaceBid, SetProxy

__all__ = [
    "Answer",
    "check_id",
    "claims",
    "limit_address",
    "once",
    "overloaded",
    "respond",
    "run",
]

#: Commands whose results the bid metrics count (by type name, as CommandRejected has it).
_BID_COMMANDS = frozenset({PlaceBid.__name__, SetProxy.__name__, AcceptPrice.__name__})

_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")

#: What a command's ``work`` returns: ``(status, body)`` or ``(status, body, headers)``.
Answer = tuple[int, dict[str, Any]] | tuple[int, dict[str, Any], dict[str, str]]


def claims(
    node: Node, request: Request, target: str | None = None, *, bind: bool = True
) -> auth.Claims:
    """Verify the request's bearer token, rate-limit it, and check it against the
    route's rule in :data:`api.access.rules.ROUTES` (found by the route's name): its role,
    then its binding with ``target``, the auction or tender the request acts on.

    ``bind=False`` leaves the binding to the route, which learns its target later
    (``POST /tokens``: the new token's auction, checked by :func:`api.access.rules.grant`).
    """
    return node.credentials.claims(
        route_name(request),
        request.client_ip or "?",
        request.headers.get("authorization"),
        target,
        bind=bind,
    )


def limit_address(node: Node, request: Request) -> None:
    """Refuse (429) when the request's address is over its rate (IPv6 counts per /64)."""
    node.credentials.limit_address(request.client_ip or "?")


def check_id(value: str, what: str) -> str:
    """``value`` if it may name an auction, a party or a token's auction (1-100 of
    letters, digits, ``-``, ``_``, ``.``); else a 422 ``invalid_field`` problem. O(len)."""
    if not 1 <= len(value) <= 100 or not set(value) <= _ID_CHARS:
        raise ProblemError(
            problem(
                Code.INVALID_FIELD,
                f"{what} must be 1-100 characters of letters, digits, '-', '_' or '.'",
                extra={"field": what},
            )
        )
    return value


def _answer(answer: Answer) -> tuple[int, dict[str, Any], dict[str, str]]:
    if len(answer) == 2:
        return answer[0], answer[1], {}
    return answer


async def respond(
    node: Node,
    request: Request,
    claims: auth.Claims,
    work: Callable[[], Awaitable[Answer]],
) -> HTTPResponse:
    """Answer a command, at most once per ``Idempotency-Key`` (scoped to the party).

    Without the header the command simply runs. With it, a retry with the same body
    gets the stored answer, headers included (``Idempotent-Replayed: true``),
    another body gets 422 ``idempotency_key_reused``, and two racing requests run
    the command once. ``work`` returns ``(status, body)`` or ``(status, body,
    headers)``; a refusal it raises is stored as the problem it is answered with.
    """
    store = node.idempotency
    key = parse_key(request.headers.get("idempotency-key"))
    if key is None or store is None:
        status, body, headers = _answer(await work())
        return json_response(body, status=status, headers=headers)
    at_rest = node.credentials.at_rest

    async def handler() -> StoredResponse:
        try:
            status, body, headers = _answer(await work())
        except (Refused, NotReady) as error:
            # The store keeps (or releases) what a problem says: give it the problem.
            raise ProblemError(problem_for(error)) from None
        # A credential in the answer is stored sealed (api.access.at_rest), never in clear.
        return StoredResponse(
            status,
            json.dumps(at_rest.seal_fields(body), separators=(",", ":")).encode(),
            tuple(headers.items()),
        )

    target = request.path + (f"?{request.query_string}" if request.query_string else "")
    response, replayed = await store.run(
        claims.sub, key, fingerprint(request.method, target, request.body), handler
    )
    try:
        opened = replace(response, body=at_rest.open_fields(response.body))
    except SealBroken:
        raise ProblemError(
            problem(
                Code.IDEMPOTENCY_KEY_REUSED,
                "the stored answer for this key cannot be opened with the current "
                "signing key; retry with a new Idempotency-Key",
            )
        ) from None
    return to_http(opened, replayed=replayed)


async def run(
    node: Node,
    auction_id: str,
    make: Callable[[str, int], Command],
    *,
    prefix: str,
    metrics: Metrics | None = None,
) -> tuple[Any, Any]:
    """Run a command; answer with its own event, or raise the problem it caused.

    Under an ``Idempotency-Key`` (:func:`~api.http.idempotency.current_slot`) the command
    runs under the reservation's command id and its events commit with a mark of
    the reservation; if a previous, dead owner of the reservation had committed
    them already, they are read back and answered instead of running it again.
    A rejected bid is counted on ``metrics`` (when given).
    """
    slot = current_slot()
    command_id = f"{prefix}-{slot.command_id}" if slot else new_command_id(prefix)
    try:
        events = await once(
            node.svc,
            lambda mark: node.svc.submit(auction_id, lambda at: make(command_id, at), mark),
        )
    except UnknownAuction:
        raise ProblemError(problem(Code.NOT_FOUND, f"no auction {auction_id!r}")) from None
    except RunnerOverloaded as error:
        raise ProblemError(overloaded(error)) from None
    except RunnerStopped:
        raise ProblemError(
            problem(Code.SHUTTING_DOWN, "the auction is not taking commands", retry_after=1)
        ) from None
    except StorageUnavailable as error:
        # "not committed": certainly not stored. (An OutcomeUnknown, which is no
        # refusal, goes to its own handler: 503 outcome_unknown.)
        raise ProblemError(problem(Code.STORAGE_UNAVAILABLE, str(error), retry_after=1)) from None
    result = outcome(events, command_id)
    if result.rejected is not None:
        rejected = result.rejected
        if rejected.command in _BID_COMMANDS and metrics is not None:
            metrics.count_result(False, rejected.reason.value)
        raise ProblemError(
            problem_from_rejection(
                rejected, extra={"seq": rejected.seq, "server_time": rejected.at}
            )
        )
    return result.accepted, events


def overloaded(error: RunnerOverloaded) -> Problem:
    """503 ``overloaded``: the auction's queue is full or the writer is backlogged.

    Refused at once, before any work, so a client retries after ``Retry-After`` instead
    of waiting behind a queue that would time it out.
    """
    what = (
        "the server is writing a backlog"
        if isinstance(error, WriterBacklogged)
        else "this auction has too many commands waiting"
    )
    return problem(Code.OVERLOADED, f"{what}; retry shortly", retry_after=1)


async def once(
    svc: Service, run: Callable[[CommandMark | None], Awaitable[list[Event]]]
) -> list[Event]:
    """``run(mark)`` under the running request's idempotency reservation; or, when a
    previous, dead owner of the reservation had committed the command's events already,
    those events read back (the command never runs twice)."""
    slot = current_slot()
    done = None if slot is None else slot.committed
    if done is not None:
        return await svc.recorded(done.auction_id, done.first_seq, done.last_seq)
    return await run(current_mark())
