"""Revoking a supplier's access, in one call: every token it holds for the auction or
tender, and every link of it not used yet.

- ``POST /api/v1/auctions/<auction_id>/bidders/<party>/revoke`` (an officer of the
  auction, bound to it or unbound: the rule of :data:`api.access.rules.REVOKE_OTHERS`);
- ``POST /api/v1/tenders/<tender_id>/suppliers/<party>/revoke`` (the same, and on the
  tender's committee: 403 ``not_tender_officer`` otherwise).

Each revokes every token of ``party`` bound to that auction or tender that is not revoked
and has not expired, however it was minted (an invitation's redeem, a registration over
the API, ``POST /tokens``), in one statement (:meth:`api.storage.tokens.TokenStore.revoke_party`);
adds each to this process's revocations, which closes the websockets holding it at once
with 4401 ``token_revoked`` (:class:`api.access.revocations.Revocations`), while other
processes hear of it by ``NOTIFY``; then withdraws the party's invitations that could
still be redeemed (:meth:`api.storage.invitations.InvitationStore.withdraw`: a redeem of
one answers 410 ``invitation_withdrawn``). A redeem racing the call either finds its link
withdrawn (and revokes the token it minted) or claims it first; its token was recorded
before that claim, so the second pass over the tokens, after the withdrawal, revokes it
(that pass usually finds nothing).

The answer (200) counts what changed: ``tokens_revoked`` and ``links_withdrawn``, with the
revoked ``jtis``; a second call changes nothing and answers zeros (idempotent). Refusals:
404 ``not_found`` for no such auction or tender; 404 ``unknown_party`` for a party that
has no registration (an auction), no token and no invitation there; 403 as the rule
says. The tokens of the caller itself are not exempt: an officer revoking its own party
ends its own access too, as it asked.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from api.access import auth
from api.http import answering
from api.http.answering import Answer
from api.http.invitations import committee_tender, invitation_store
from api.http.problems import (
    Code,
    ProblemError,
    parse_body,
    problem,
    require_json,
)
from api.node import Node, NotReady
from api.storage.invitations import InvitationStore
from contracts import http as bodies

__all__ = ["party_revoke_blueprint"]

_MAX_ID = 100


def party_revoke_blueprint(
    node: Node, store: Callable[[], InvitationStore] | None = None
) -> Blueprint:
    """The revoke-access routes of ``node``'s app (see the module docstring). ``store``
    gives the invitations' storage; by default the ``invitations`` table on the node's
    pool (:class:`NotReady` while starting or stopping)."""
    bp = Blueprint("party_revoke")

    invitations = store or invitation_store(node)

    def no_body(request: Request) -> None:
        if request.body:
            # No body is expected; an empty JSON object is tolerated.
            require_json(request.headers.get("content-type"))
            parse_body(request.body, bodies.EmptyBody)

    async def known(target: str, party: str, registered: bool) -> bool:
        """Whether ``party`` has anything in ``target``: a registration, a token (even
        revoked or expired) or an invitation (even used or withdrawn)."""
        if registered:
            return True
        tokens = node.credentials.tokens
        if tokens is not None and await tokens.issued_to(party, target) > 0:
            return True
        rows = await invitations().for_auction(target, limit=100_000)
        return any(row.party == party for row in rows)

    async def revoke(claims: auth.Claims, target: str, kind: str, party: str) -> Answer:
        """Revoke ``party``'s tokens in ``target``, withdraw its open links, count both."""
        tokens = node.credentials.tokens
        if tokens is None:  # pragma: no cover - the storage closed under the request
            raise NotReady("the server is not ready")
        now = time.time_ns() // 1000
        # As the verifier has it: a token expired a moment ago still verifies.
        alive_after = now - auth.DEFAULT_LEEWAY_S * 1_000_000
        revoked = await tokens.revoke_party(
            party, target, at=now, by=claims.sub, alive_after=alive_after
        )
        withdrawn = await invitations().withdraw(target, party, at=now, by=claims.sub)
        # A redeem that won its link just before the withdrawal minted a token after the
        # first pass: this pass revokes it (usually nothing).
        revoked += await tokens.revoke_party(
            party, target, at=now, by=claims.sub, alive_after=alive_after
        )
        for row in revoked:
            # Refused from now on in this process, its open sockets closed (4401).
            node.credentials.revoked.add(row.jti, now, row.expires_at)
        return 200, {
            f"{kind}_id": target,
            "kind": kind,
            "party": party,
            "tokens_revoked": len(revoked),
            "links_withdrawn": len(withdrawn),
            "jtis": [row.jti for row in revoked],
            "revoked_at": now,
            "revoked_by": claims.sub,
        }

    def unknown(party: str, where: str) -> ProblemError:
        return ProblemError(
            problem(
                Code.UNKNOWN_PARTY,
                f"{party!r} has no registration, token or invitation in {where}",
            )
        )

    @bp.post("/api/v1/auctions/<auction_id>/bidders/<party>/revoke", name="revoke_bidder")
    async def revoke_bidder(request: Request, auction_id: str, party: str) -> HTTPResponse:
        claims = answering.claims(node, request, auction_id)
        no_body(request)

        async def work() -> Answer:
            if await node.svc.runner(auction_id) is None:
                raise ProblemError(problem(Code.NOT_FOUND, f"no auction {auction_id!r}"))
            bidders = node.hub.channel(auction_id).committed.bidders
            if len(party) > _MAX_ID or not await known(auction_id, party, party in bidders):
                raise unknown(party[:_MAX_ID], f"auction {auction_id!r}")
            return await revoke(claims, auction_id, "auction", party)

        return await answering.respond(node, request, claims, work)

    @bp.post("/api/v1/tenders/<tender_id>/suppliers/<party>/revoke", name="revoke_supplier")
    async def revoke_supplier(request: Request, tender_id: str, party: str) -> HTTPResponse:
        claims = answering.claims(node, request, tender_id)
        no_body(request)

        async def work() -> Answer:
            await committee_tender(node, claims, tender_id)
            if len(party) > _MAX_ID or not await known(tender_id, party, False):
                raise unknown(party[:_MAX_ID], f"tender {tender_id!r}")
            return await revoke(claims, tender_id, "tender", party)

        return await answering.respond(node, request, claims, work)

    return bp
