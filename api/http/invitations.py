"""Invitation links: signing in without a password or a token in a URL.

- ``POST /api/v1/auctions/<auction_id>/invitations`` (an officer of the auction, or an
  unbound one): a one-time code for a party already registered as a bidder of the
  auction (``POST .../bidders`` registers; this only invites), answered 201 with the
  code, the link that carries it in its fragment (``/app/#invite=<code>``: a fragment
  never reaches a server, its logs or a ``Referer``), when it expires, and whom it is
  for. Under an ``Idempotency-Key`` a retry gets the same code, which the stored answer
  keeps sealed (:mod:`api.access.at_rest`).
- ``POST /api/v1/tenders/<tender_id>/invitations`` (an officer on the tender's
  committee, bound to the tender or unbound): the same for a supplier of a sealed tender.
  A tender has no register of bidders (any bidder token bound to it may seal an offer),
  so any party may be invited; the token a redeem gives is that party's bidder token
  bound to the tender. An unknown tender is 404 ``not_found``; an officer who is not on
  its committee, 403 ``not_tender_officer``.
- ``GET /api/v1/auctions/<auction_id>/invitations`` and
  ``GET /api/v1/tenders/<tender_id>/invitations`` (the same officers): the
  invitations, newest first (at most :data:`LIST_LIMIT`), each with its state
  (``open``, ``used``, ``expired``, ``withdrawn``: by an officer revoking the party's
  access, :mod:`api.http.party_revoke`, with ``withdrawn_at``), when it was used and
  the ``jti`` of the token it gave (so that a leaked link's token can be revoked) and
  whether that token is revoked (``revoked``: the officer's page shows "access
  revoked"); never a code.
- ``POST /api/v1/invitations/redeem`` (no token; rate-limited per address): the code,
  in the body, exchanged once for the bidder's token, minted as a registration mints
  it (:meth:`api.access.credentials.Credentials.mint`: recorded, revocable) and bound
  to the auction. Unknown: 404 ``invitation_unknown``; used: 410 ``invitation_used``;
  expired: 410 ``invitation_expired``; withdrawn: 410 ``invitation_withdrawn``.

Only the code's SHA-256 is stored (:mod:`api.storage.invitations`). No answer but the
issuing one carries the code, no problem echoes it, and the server logs no request
bodies (``access_log`` is off, :mod:`api.logs` writes what a call passes).

A token minted by a bound officer never outlives that officer's own token
(:func:`api.access.rules.grant`): the invitation keeps that limit (``token_not_after``)
and expires by it at the latest, and the token a redeem mints ends by it too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from api.access import auth
from api.access import rules as access
from api.http import answering
from api.http.answering import Answer
from api.http.problems import (
    Code,
    ProblemError,
    parse_body,
    problem,
    problem_from_reason,
    require_json,
)
from api.http.tenders import tender_problem
from api.node import Node, NotReady
from api.storage.invitations import (
    Invitation,
    InvitationStore,
    PostgresInvitationStore,
    RedeemOutcome,
    code_hash,
    new_invitation,
    outcome_of,
)
from api.tenders import visibility
from api.tenders.errors import StorageFailed, TenderError
from contracts import http as bodies
from engine.reasons import Reason

__all__ = [
    "DEFAULT_LIFETIME_S",
    "LINK_PREFIX",
    "LIST_LIMIT",
    "committee_tender",
    "exchange",
    "invitation_store",
    "invitations_blueprint",
    "link_for",
]

#: How long an invitation may be redeemed when the officer does not say: 7 days.
DEFAULT_LIFETIME_S = 7 * 86_400
#: Where the supplier's web application reads the code: the link's fragment.
LINK_PREFIX = "/app/#invite="

_US = 1_000_000

#: The most invitations ``GET .../invitations`` lists (the newest).
LIST_LIMIT = 1000

#: An invitation's state in a listing, by what a redeem would do now.
_STATES = {
    RedeemOutcome.REDEEMED: "open",
    RedeemOutcome.USED: "used",
    RedeemOutcome.EXPIRED: "expired",
    RedeemOutcome.WITHDRAWN: "withdrawn",
}

#: The problem each refused redeem is answered with, and what it says.
_REFUSALS = {
    RedeemOutcome.UNKNOWN: (
        Code.INVITATION_UNKNOWN,
        "no invitation has this code; check the link, or ask the officer for a new one",
    ),
    RedeemOutcome.USED: (
        Code.INVITATION_USED,
        "this invitation was used already; ask the officer for a new one",
    ),
    RedeemOutcome.EXPIRED: (
        Code.INVITATION_EXPIRED,
        "this invitation has expired; ask the officer for a new one",
    ),
    RedeemOutcome.WITHDRAWN: (
        Code.INVITATION_WITHDRAWN,
        "this invitation was withdrawn by the officer; ask the officer for a new one",
    ),
}


def _listed(row: Invitation, now: int, revoked: Container[str]) -> dict[str, Any]:
    """An invitation as an officer sees it: never its code (the server has none);
    ``revoked`` holds the jtis of the revoked tokens not yet expired."""
    return {
        "party": row.party,
        "role": row.role,
        "kind": row.kind,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "used_at": row.used_at,
        "jti": row.jti,
        "state": _STATES[outcome_of(row, now)],
        "withdrawn_at": row.withdrawn_at,
        "revoked": row.jti is not None and row.jti in revoked,
    }


def link_for(code: str) -> str:
    """The link of an invitation: the web application with ``code`` in the fragment."""
    return LINK_PREFIX + code


def _refused(outcome: RedeemOutcome) -> ProblemError:
    code, detail = _REFUSALS[outcome]
    return ProblemError(problem(code, detail))


def invitation_store(node: Node) -> Callable[[], InvitationStore]:
    """The ``invitations`` table on ``node``'s pool, as a factory: :class:`NotReady`
    (503) while the node is starting or stopping."""

    def postgres() -> InvitationStore:
        node.svc  # noqa: B018 - NotReady (503) while starting or stopping
        if node.pool is None:
            raise NotReady("the server is not ready")
        return PostgresInvitationStore(node.pool)

    return postgres


async def committee_tender(node: Node, claims: auth.Claims, tender_id: str) -> None:
    """Refuse unless ``tender_id`` is a tender and ``claims`` an officer on its
    committee: 404 ``not_found``, 403 ``not_tender_officer``, 503 while its log
    cannot be read."""
    try:
        tender = await node.tender_svc.tender(tender_id)
    except StorageFailed:
        raise ProblemError(
            problem(Code.STORAGE_UNAVAILABLE, "the tender cannot be read now", retry_after=1)
        ) from None
    except TenderError as error:
        raise tender_problem(error) from None
    if not visibility.is_committee(tender, claims):
        raise ProblemError(
            problem_from_reason(
                Reason.NOT_TENDER_OFFICER,
                f"{claims.sub!r} is not an officer of tender {tender_id!r}",
            )
        )


def invitations_blueprint(
    node: Node, store: Callable[[], InvitationStore] | None = None
) -> Blueprint:
    """The invitation routes of ``node``'s app (see the module docstring). ``store``
    gives the invitations' storage; by default the ``invitations`` table on the node's
    pool (:class:`NotReady` while starting or stopping)."""
    bp = Blueprint("invitations")
    settings = node.settings

    invitations = store or invitation_store(node)

    async def issue(
        claims: auth.Claims, target: str, kind: str, body: bodies.InvitationBody
    ) -> Answer:
        """Issue an invitation for ``body.party`` in ``target`` (an auction or a tender,
        checked by the caller) and answer 201 with its code and link, once."""
        lifetime_s = body.expires_in_s or DEFAULT_LIFETIME_S
        # What the officer may mint, checked now: the token a redeem gives is this grant.
        grant = access.grant(
            claims, auth.Role.BIDDER, target, settings.token_ttl_s, now_s=int(time.time())
        )
        now = time.time_ns() // 1000
        expires_at = now + lifetime_s * _US
        not_after = None if grant.not_after_s is None else grant.not_after_s * _US
        if not_after is not None:
            # Never past what the officer could mint (its own token's expiry; the
            # grant above left at least a second of it).
            expires_at = max(now + 1, min(expires_at, not_after))
        code, invitation = new_invitation(
            target,
            body.party,
            claims.sub,
            now=now,
            expires_at=expires_at,
            token_not_after=not_after,
            role=grant.role.value,
            kind=kind,
        )
        await invitations().issue(invitation)
        return 201, {
            "code": code,
            "link": link_for(code),
            "expires_at": expires_at,
            "party": body.party,
            f"{kind}_id": target,
            "role": grant.role.value,
            "kind": kind,
        }

    @bp.post("/api/v1/auctions/<auction_id>/invitations")
    async def issue_invitation(request: Request, auction_id: str) -> HTTPResponse:
        claims = answering.claims(node, request, auction_id)
        require_json(request.headers.get("content-type"))
        body = parse_body(request.body, bodies.InvitationBody)
        # What the officer may mint, checked before any work.
        access.grant(
            claims, auth.Role.BIDDER, auction_id, settings.token_ttl_s, now_s=int(time.time())
        )

        async def work() -> Answer:
            # Under an Idempotency-Key a retry gets the stored answer (the same code);
            # this runs once.
            if await node.svc.runner(auction_id) is None:
                raise ProblemError(problem(Code.NOT_FOUND, f"no auction {auction_id!r}"))
            bidder = node.hub.channel(auction_id).committed.bidders.get(body.party)
            if bidder is None:
                raise ProblemError(
                    problem_from_reason(
                        Reason.UNKNOWN_BIDDER,
                        f"{body.party!r} is not a registered bidder of this auction; "
                        f"register it first (POST /api/v1/auctions/{auction_id}/bidders)",
                    )
                )
            if bidder.disqualified:
                raise ProblemError(
                    problem_from_reason(
                        Reason.BIDDER_DISQUALIFIED, f"{body.party!r} was disqualified"
                    )
                )
            return await issue(claims, auction_id, "auction", body)

        return await answering.respond(node, request, claims, work)

    @bp.post("/api/v1/tenders/<tender_id>/invitations", name="issue_tender_invitation")
    async def issue_tender_invitation(request: Request, tender_id: str) -> HTTPResponse:
        claims = answering.claims(node, request, tender_id)
        require_json(request.headers.get("content-type"))
        body = parse_body(request.body, bodies.InvitationBody)
        access.grant(
            claims, auth.Role.BIDDER, tender_id, settings.token_ttl_s, now_s=int(time.time())
        )

        async def work() -> Answer:
            await committee_tender(node, claims, tender_id)
            return await issue(claims, tender_id, "tender", body)

        return await answering.respond(node, request, claims, work)

    @bp.get("/api/v1/tenders/<tender_id>/invitations", name="list_tender_invitations")
    async def list_tender_invitations(request: Request, tender_id: str) -> HTTPResponse:
        claims = answering.claims(node, request, tender_id)
        await committee_tender(node, claims, tender_id)
        rows = await invitations().for_auction(tender_id, limit=LIST_LIMIT)
        now = time.time_ns() // 1000
        return json_response(
            {"invitations": [_listed(row, now, node.credentials.revoked) for row in rows]}
        )

    @bp.get("/api/v1/auctions/<auction_id>/invitations")
    async def list_invitations(request: Request, auction_id: str) -> HTTPResponse:
        answering.claims(node, request, auction_id)
        if await node.svc.runner(auction_id) is None:
            raise ProblemError(problem(Code.NOT_FOUND, f"no auction {auction_id!r}"))
        rows = await invitations().for_auction(auction_id, limit=LIST_LIMIT)
        now = time.time_ns() // 1000
        return json_response(
            {"invitations": [_listed(row, now, node.credentials.revoked) for row in rows]}
        )

    @bp.post("/api/v1/invitations/redeem")
    async def redeem_invitation(request: Request) -> HTTPResponse:
        # No token: the code is the credential. Limited per address, as any route
        # without a token is; 256 random bits are beyond guessing at any rate.
        answering.limit_address(node, request)
        require_json(request.headers.get("content-type"))
        body = parse_body(request.body, bodies.RedeemInvitationBody)
        return json_response(await exchange(node, invitations(), body.code))

    return bp


async def exchange(node: Node, store: InvitationStore, code: str) -> dict[str, Any]:
    """The answer to redeeming ``code``: the bidder's token, minted and recorded, once
    the invitation is claimed with its jti, with the id it is bound to as ``auction_id``
    or ``tender_id`` by the invitation's ``kind``; else the :class:`ProblemError` of an
    unknown, used, expired or withdrawn code.

    The token is minted and recorded first, then the invitation claimed: a token is
    handed out only once it is revocable, and only by the one redeem that claims the
    invitation; a redeem that loses the claim revokes the token it minted (never shown
    to anyone), so no usable credential is left behind.
    """
    hashed = code_hash(code)
    found = await store.get(hashed)
    early = outcome_of(found, time.time_ns() // 1000)
    if found is None or early is not RedeemOutcome.REDEEMED:
        raise _refused(early)  # before any token exists: nothing to clean up
    role = auth.Role(found.role)
    not_after_s = None if found.token_not_after is None else found.token_not_after // _US
    grant = access.Grant(role, found.auction_id, node.settings.token_ttl_s, not_after_s)
    token, jti, lifetime = await node.credentials.mint(found.party, grant)
    redeemed = await store.redeem(hashed, at=time.time_ns() // 1000, jti=jti)
    if redeemed.outcome is not RedeemOutcome.REDEEMED:
        # A concurrent redeem won, or the invitation expired or was withdrawn meanwhile.
        await _withdraw(node, jti)
        raise _refused(redeemed.outcome)
    claims = node.credentials.verify_token(token)
    return {
        "token": token,
        "jti": jti,
        "expires_at": claims.exp * _US,
        "expires_in": lifetime,
        f"{found.kind}_id": found.auction_id,
        "kind": found.kind,
        "party": found.party,
        "role": role.value,
    }


async def _withdraw(node: Node, jti: str) -> None:
    """Revoke token ``jti``, minted for a redeem that lost, as the server itself."""
    tokens = node.credentials.tokens
    if tokens is None:  # pragma: no cover - the storage closed under the request
        return
    now = time.time_ns() // 1000
    row = await tokens.revoke(jti, at=now, by="gavel:invitations")
    if row is not None:
        node.credentials.revoked.add(jti, now, row.expires_at)
