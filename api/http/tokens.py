"""The credential routes: ``POST /api/v1/tokens`` mints a token (never a wider role,
binding or lifetime than the caller's own: :func:`api.access.rules.grant`) and
``POST /api/v1/tokens/<jti>/revoke`` revokes one (durable before the answer:
:meth:`api.access.credentials.Credentials.revoke`).
"""

from __future__ import annotations

import time

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from api.access import auth
from api.access import rules as access
from api.http import answering
from api.http.answering import Answer, check_id
from api.http.problems import Code, ProblemError, parse_body, problem, require_json
from api.node import Node
from contracts import http as bodies

__all__ = ["tokens_blueprint"]


def tokens_blueprint(node: Node) -> Blueprint:
    """The credential routes of ``node``'s app (see the module docstring)."""
    bp = Blueprint("tokens")
    settings = node.settings

    @bp.post("/api/v1/tokens")
    async def issue_token(request: Request) -> HTTPResponse:
        # The binding is checked once the body names the new token's auction.
        claims = answering.claims(node, request, bind=False)
        require_json(request.headers.get("content-type"))
        body = parse_body(request.body, bodies.TokenBody)
        try:
            role = auth.Role(body.role)
        except ValueError:
            raise ProblemError(
                problem(
                    Code.INVALID_FIELD,
                    f"role must be one of {[r.value for r in auth.Role]}",
                    extra={"field": "role"},
                )
            ) from None
        if role not in auth.OVERSEERS and body.auction is None:
            raise ProblemError(
                problem(
                    Code.MISSING_FIELD,
                    f"a {role} token names its auction",
                    extra={"field": "auction"},
                )
            )
        ttl = body.ttl_s or settings.token_ttl_s
        if not 1 <= ttl <= access.MAX_TTL_S:
            raise ProblemError(
                problem(
                    Code.INVALID_FIELD,
                    f"ttl_s must be 1..{access.MAX_TTL_S}",
                    extra={"field": "ttl_s"},
                )
            )
        # An empty auction made auth.issue raise (a 500); a long one a token too long to verify.
        auction = None if body.auction is None else check_id(body.auction, "auction")
        party = check_id(body.party, "party")
        # Never a wider role, binding or lifetime than the caller's own (api.access.rules).
        grant = access.grant(claims, role, auction, ttl, now_s=int(time.time()))

        async def work() -> Answer:
            # Under an Idempotency-Key a retry gets the same credential, not a second one.
            token, jti, lifetime = await node.credentials.mint(party, grant)
            answer = {
                "token": token,
                "jti": jti,
                "role": role.value,
                "party": body.party,
                "expires_in": lifetime,
            }
            return 201, answer

        return await answering.respond(node, request, claims, work)

    @bp.post("/api/v1/tokens/<jti>/revoke")
    async def revoke_token(request: Request, jti: str) -> HTTPResponse:
        claims = answering.claims(node, request)
        if request.body:
            # No body is expected; an empty JSON object is tolerated.
            require_json(request.headers.get("content-type"))
            parse_body(request.body, bodies.EmptyBody)
        if not 1 <= len(jti) <= 100:
            raise ProblemError(problem(Code.NOT_FOUND, "no token with this id was issued"))
        node.svc  # noqa: B018 - 503 while starting or stopping
        row = await node.credentials.revoke(jti, claims)
        return json_response(
            {
                "jti": row.jti,
                "party": row.party_id,
                "role": row.role,
                "auction": row.auction_id,
                "revoked": True,
                "revoked_at": row.revoked_at,
                "revoked_by": row.revoked_by,
            }
        )

    return bp
