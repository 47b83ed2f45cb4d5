"""The auction routes under ``/api/v1/auctions``: create, list, read (state, standing,
events), register a bidder, the bidders' commands (bid, proxy, accept, withdraw, pass)
and the officer's (disqualify, cancel).

Every route admits its caller by its rule in :mod:`api.access.rules` (by route name,
:func:`api.http.answering.claims`) and answers commands at most once per
``Idempotency-Key`` (:func:`api.http.answering.respond`); the commands go through the
node's :class:`~api.auctions.service.Service`, so every answer is given only once its
events are committed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from api.access import auth
from api.access import rules as access
from api.auctions.outcomes import new_command_id
from api.auctions.runner import RunnerOverloaded
from api.auctions.service import AuctionExists, format_name
from api.auctions.state import public_state, standing
from api.auctions.views import Audience
from api.http import answering
from api.http.answering import Answer, check_id
from api.http.audit_search import buyer_recorder
from api.http.idempotency import current_slot
from api.http.metrics import Metrics
from api.http.problems import (
    Code,
    ProblemError,
    parse_body,
    parse_object,
    parse_rules,
    problem,
    problem_from_reason,
    problem_from_rejection,
    query_int,
    require_json,
    rules_field,
)
from api.node import Node
from contracts import http as bodies
from contracts.rules_json import rules_to_json
from engine import (
    AcceptPrice,
    BidAccepted,
    CancelAuction,
    Command,
    CommandRejected,
    DisqualifyBidder,
    PassTurn,
    PlaceBid,
    RegisterBidder,
    SetProxy,
    WithdrawBid,
)
from engine.codec import to_data
from engine.reasons import Reason

__all__ = ["auctions_blueprint"]


def _decimal_or_zero(value: Decimal | None) -> Decimal:
    return Decimal(0) if value is None else value


def auctions_blueprint(node: Node, metrics: Metrics) -> Blueprint:
    """The auction routes of ``node``'s app; bid results are counted on ``metrics``."""
    bp = Blueprint("auctions")
    record_buyer = buyer_recorder(node)  # the auditor's search by buyer (issue 15)
    settings = node.settings

    @bp.post("/api/v1/auctions")
    async def create_auction(request: Request) -> HTTPResponse:
        claims = answering.claims(node, request)  # an unbound officer (api.access.rules)
        require_json(request.headers.get("content-type"))
        tree = parse_object(request.body, max_bytes=settings.max_body)
        unknown = set(tree) - {"id", "rules"}
        if unknown:
            field = sorted(unknown)[0]
            raise ProblemError(
                problem(Code.UNKNOWN_FIELD, f"unknown field {field!r}", extra={"field": field})
            )
        if "rules" not in tree:
            raise ProblemError(
                problem(Code.MISSING_FIELD, "rules is required", extra={"field": "rules"})
            )
        chosen = tree.get("id")
        if chosen is not None and not isinstance(chosen, str):
            raise ProblemError(
                problem(Code.INVALID_FIELD, "id must be a string", extra={"field": "id"})
            )
        if chosen:
            check_id(chosen, "id")
        rules = parse_rules(tree["rules"])
        if chosen and await node.id_kind(chosen) == "tender":
            raise ProblemError(
                problem_from_reason(
                    Reason.AUCTION_EXISTS, f"a tender is called {chosen!r}: ids name one thing"
                )
            )

        async def work() -> Answer:
            # Under an Idempotency-Key, the id the server picks and the command id come
            # from the reservation, so a retry after a crash names the same auction.
            slot = current_slot()
            stable = slot.command_id if slot else new_command_id("a").removeprefix("a-")
            auction_id = chosen or f"a-{stable[:12]}"
            try:
                events = await answering.once(
                    node.svc,
                    lambda mark: node.svc.create(auction_id, rules, f"create-{stable}", mark=mark),
                )
            except AuctionExists:
                raise ProblemError(
                    problem_from_reason(Reason.AUCTION_EXISTS, f"auction {auction_id!r} exists")
                ) from None
            except RunnerOverloaded as error:
                raise ProblemError(answering.overloaded(error)) from None
            first = events[0]
            if not isinstance(first, CommandRejected):
                await record_buyer(auction_id, claims.sub)
            if isinstance(first, CommandRejected):
                # invalid_rules names the field at fault, as a parse refusal does.
                named = rules_field(rules, first.detail or "")
                raise ProblemError(problem_from_rejection(first, extra=named))
            body = {
                "id": auction_id,
                "format": format_name(rules),
                "seq": first.seq,
                "rules": rules_to_json(rules),
            }
            return 201, body, {"Location": f"/api/v1/auctions/{auction_id}"}

        return await answering.respond(node, request, claims, work)

    @bp.get("/api/v1/auctions")
    async def list_auctions(request: Request) -> HTTPResponse:
        claims = answering.claims(node, request)
        records = await node.svc.store.list_auctions()
        visible = [
            {"id": r.id, "format": r.format, "status": r.status.value, "created_at": r.created_at}
            for r in records
            if claims.auction is None or claims.auction == r.id
        ]
        return json_response({"auctions": visible})

    @bp.get("/api/v1/auctions/<auction_id>")
    async def get_auction(request: Request, auction_id: str) -> HTTPResponse:
        claims = answering.claims(node, request, auction_id)
        runner = await node.svc.runner(auction_id)
        if runner is None:
            raise ProblemError(problem(Code.NOT_FOUND, f"no auction {auction_id!r}"))
        channel = node.hub.channel(auction_id)
        audience = Audience(claims.role.value, claims.sub)
        return json_response(
            public_state(auction_id, channel.committed, channel.views, audience, node.svc.clock())
        )

    @bp.get("/api/v1/auctions/<auction_id>/me")
    async def my_standing(request: Request, auction_id: str) -> HTTPResponse:
        claims = answering.claims(node, request, auction_id)
        runner = await node.svc.runner(auction_id)
        if runner is None:
            raise ProblemError(problem(Code.NOT_FOUND, f"no auction {auction_id!r}"))
        committed = node.hub.channel(auction_id).committed
        return json_response(standing(committed, claims.sub, node.svc.clock()))

    @bp.get("/api/v1/auctions/<auction_id>/events")
    async def events_after(request: Request, auction_id: str) -> HTTPResponse:
        claims = answering.claims(node, request, auction_id)
        # Above MAX_INT no seq exists, and PostgreSQL's bigint would overflow (a 500).
        after = query_int(request.args, "after", default=0)
        if await node.svc.runner(auction_id) is None:
            raise ProblemError(problem(Code.NOT_FOUND, f"no auction {auction_id!r}"))
        channel = node.hub.channel(auction_id)
        audience = Audience(claims.role.value, claims.sub)
        history = await node.svc.history(auction_id, after)
        return json_response(
            {
                "events": [
                    {
                        "seq": ev.seq,
                        "server_time": ev.at,
                        "event": channel.views.render(ev, audience),
                    }
                    for ev in history[:1000]
                ]
            }
        )

    @bp.post("/api/v1/auctions/<auction_id>/bidders")
    async def register_bidder(request: Request, auction_id: str) -> HTTPResponse:
        claims = answering.claims(node, request, auction_id)
        require_json(request.headers.get("content-type"))
        body = parse_body(request.body, bodies.RegisterBidderBody)
        party = check_id(body.party, "party")
        # Before the command: a token the caller may not mint must leave nothing registered.
        grant = access.grant(
            claims, auth.Role.BIDDER, auction_id, settings.token_ttl_s, now_s=int(time.time())
        )

        async def work() -> tuple[int, dict[str, Any]]:
            accepted, _ = await answering.run(
                node,
                auction_id,
                lambda cid, at: RegisterBidder(
                    cid,
                    at,
                    party,
                    _decimal_or_zero(body.coefficient),
                    _decimal_or_zero(body.cost),
                    body.initial_bid,
                ),
                prefix="register",
                metrics=metrics,
            )
            token, jti, lifetime = await node.credentials.mint(party, grant)
            answer = {
                "bidder": party,
                "label": accepted.label,
                "seq": accepted.seq,
                "token": token,
                "jti": jti,
                "expires_in": lifetime,
            }
            return 201, answer

        return await answering.respond(node, request, claims, work)

    def bidder_route(
        path: str, body_type: type[Any], build: Callable[[Any, str, str, int], Command]
    ) -> None:
        async def handler(request: Request, auction_id: str) -> HTTPResponse:
            claims = answering.claims(node, request, auction_id)
            require_json(request.headers.get("content-type"))
            body = parse_body(request.body, body_type)

            async def work() -> tuple[int, dict[str, Any]]:
                accepted, _ = await answering.run(
                    node,
                    auction_id,
                    lambda cid, at: build(body, claims.sub, cid, at),
                    prefix="http",
                    metrics=metrics,
                )
                if isinstance(accepted, BidAccepted):
                    metrics.count_result(True, None)
                channel = node.hub.channel(auction_id)
                audience = Audience("bidder", claims.sub)
                data = channel.views.render(accepted, audience) if accepted else None
                answer = {
                    "seq": accepted.seq if accepted else None,
                    "server_time": accepted.at if accepted else None,
                    "event": data,
                }
                return 201, answer

            return await answering.respond(node, request, claims, work)

        bp.add_route(
            handler,
            f"/api/v1/auctions/<auction_id>/{path}",
            methods=["POST"],
            name=f"bidder_{path}",
        )

    bidder_route(
        "bids", bodies.BidBody, lambda b, who, cid, at: PlaceBid(cid, at, who, b.amount, b.currency)
    )
    bidder_route(
        "proxy",
        bodies.ProxyBody,
        lambda b, who, cid, at: SetProxy(cid, at, who, b.limit, b.currency),
    )
    bidder_route(
        "accept",
        bodies.AcceptBody,
        lambda b, who, cid, at: AcceptPrice(cid, at, who, b.expected, b.currency),
    )
    bidder_route("withdraw", bodies.EmptyBody, lambda b, who, cid, at: WithdrawBid(cid, at, who))
    bidder_route("pass", bodies.EmptyBody, lambda b, who, cid, at: PassTurn(cid, at, who))

    @bp.post("/api/v1/auctions/<auction_id>/disqualify")
    async def disqualify(request: Request, auction_id: str) -> HTTPResponse:
        claims = answering.claims(node, request, auction_id)
        require_json(request.headers.get("content-type"))
        body = parse_body(request.body, bodies.DisqualifyBody)

        async def work() -> tuple[int, dict[str, Any]]:
            accepted, _ = await answering.run(
                node,
                auction_id,
                lambda cid, at: DisqualifyBidder(cid, at, body.bidder, body.note),
                prefix="officer",
                metrics=metrics,
            )
            return 200, {"seq": accepted.seq, "event": to_data(accepted)}

        return await answering.respond(node, request, claims, work)

    @bp.post("/api/v1/auctions/<auction_id>/cancel")
    async def cancel(request: Request, auction_id: str) -> HTTPResponse:
        claims = answering.claims(node, request, auction_id)
        require_json(request.headers.get("content-type"))
        body = parse_body(request.body, bodies.CancelBody)

        async def work() -> tuple[int, dict[str, Any]]:
            accepted, _ = await answering.run(
                node,
                auction_id,
                lambda cid, at: CancelAuction(cid, at, body.note),
                prefix="officer",
                metrics=metrics,
            )
            return 200, {"seq": accepted.seq, "event": to_data(accepted)}

        return await answering.respond(node, request, claims, work)

    return bp
