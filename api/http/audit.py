"""The auditor's trail over HTTP: the verifier key, checkpoints, proofs, export, OCDS.

==============================================================  ==========================
``GET /api/v1/audit/key``                                       the verifier key, public
``GET /api/v1/auctions/{id}/checkpoint``                        latest signed checkpoint
``GET /api/v1/auctions/{id}/proofs/inclusion?seq=N[&size=M]``   event N is in the log of M
``GET /api/v1/auctions/{id}/proofs/consistency?from=A&to=B``    log A is a prefix of log B
``GET /api/v1/auctions/{id}/export``                            the bundle (officer, auditor)
``GET /api/v1/auctions/{id}/ocds``                              OCDS release package (same)
``GET /api/v1/audit/auctions/{id}/flags``                       red flags of its log (same)
``GET /api/v1/audit/tenders/{id}/checkpoint``                   a tender's, the same way
``GET /api/v1/audit/tenders/{id}/proofs/inclusion|consistency`` (same parameters)
``GET /api/v1/audit/tenders/{id}/export``                       (committee, auditor)
``GET /api/v1/audit/tenders/{id}/ocds``                         OCDS with lots (same)
``GET /api/v1/audit/tenders/{id}/flags``                        red flags of its log (same)
==============================================================  ==========================

The first needs no token; the next three any token of the auction; export an overseer's
(each route's rule is in :data:`api.access.rules.ROUTES`, found by the route's name). An
inclusion proof carries the event's canonical bytes only to an overseer or to the bidder
the event is about: the others get its leaf hash, which reveals nothing. For a tender,
"overseer" means an auditor or an officer on the tender's committee (who also alone may
export it), as on the tender routes.

While the server starts or stops, every route but the key's answers 503
``shutting_down`` (the trails' :class:`~api.audit.errors.TrailUnavailable`, raised as
the node's :class:`~api.node.NotReady`). The trails themselves are
:mod:`api.audit.trail`'s; :func:`audit_blueprint` builds the
node's (:class:`~api.audit.trail.AuditTrails`, on the node's storage), hooks them to the
node (see there) and returns the routes. Their OpenAPI operations are in
:mod:`api.http.audit_operations`.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from sanic.response import text as text_response

from api.access import auth
from api.audit.bundle import decode_fast
from api.audit.errors import TrailUnavailable
from api.audit.flags import NOTE as FLAGS_NOTE
from api.audit.flags import red_flags
from api.audit.ocds import dumps, release_package
from api.audit.tender_flags import tender_red_flags
from api.audit.trail import KEY_NAME, AuditTrail, AuditTrails, TrailStorage
from api.http import answering
from api.http.problems import Code, ProblemError, problem, query_int
from api.node import Node, NotReady
from api.storage.checkpoints import PostgresCheckpointStore
from api.storage.tenders import PostgresTenderStore
from contracts.canonical import event_from_bytes
from contracts.checkpoint import public_key_bytes, verifier_key
from contracts.transparency import MerkleLog
from engine import Event
from engine import tender_records as t

__all__ = ["audit_blueprint", "node_trails"]


def _hexes(hashes: Collection[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def _visible(event: Event, claims: auth.Claims) -> bool:
    """Whether ``claims`` may read ``event`` itself (not just its hash)."""
    return claims.role in auth.OVERSEERS or getattr(event, "bidder", None) == claims.sub


def node_trails(node: Node) -> AuditTrails:
    """The audit trails of ``node``, on its storage once it is up, hooked to it.

    Sets :attr:`Node.audit` and :attr:`Node.tender_checkpoint` (which raises the node's
    :class:`~api.node.NotReady`, answered 503, while the storage is not up); tells each checkpoint
    issued after an auction's commit to the node's :attr:`~Node.checkpoint_listeners`,
    among them one that pushes it to the auction's websocket subscribers as a
    ``checkpoint`` message; unless ``GAVEL_AUDIT=off``, adds the trails' observers to
    :attr:`Node.observers` and :attr:`Node.tender_observers` (checkpoints at opening,
    round end and close, and at a tender's deadline, openings and decisions); and drains
    the trails in :attr:`Node.on_stop`, after the last commits, before the pool closes.
    """
    settings = node.settings

    def up() -> bool:
        return node.service is not None and node.pool is not None and not node.closing

    def storage() -> TrailStorage:
        # Called only while up(): the service and the pool are there.
        assert node.service is not None and node.pool is not None
        return TrailStorage(
            node.service.store, PostgresTenderStore(node.pool), PostgresCheckpointStore(node.pool)
        )

    trails = AuditTrails(
        node.key,
        storage,
        up,
        listeners=node.checkpoint_listeners,
        prefix=str(getattr(settings, "audit_prefix", "gavel")),
    )

    def push_checkpoint(auction_id: str, note: str, size: int, root: bytes) -> None:
        channel = node.hub.channels.get(auction_id)
        if channel is not None:
            channel.checkpoint(note, size, root.hex(), time.time_ns() // 1000)

    node.checkpoint_listeners.append(push_checkpoint)
    if getattr(settings, "audit", True):
        node.observers.append(trails.after_commit)
        node.tender_observers.append(trails.after_tender_commit)

    async def tender_checkpoint(tender_id: str, reason: str) -> dict[str, Any]:
        try:
            return await trails.tender_checkpoint(tender_id, reason)
        except TrailUnavailable as error:
            raise NotReady(str(error)) from None

    node.audit = trails
    node.tender_checkpoint = tender_checkpoint
    node.on_stop.append(trails.drain)
    return trails


def audit_blueprint(node: Node) -> Blueprint:
    """The audit routes of ``node``'s app (see the module docstring), over
    :func:`node_trails` of ``node``."""
    bp = Blueprint("audit")
    trails = node_trails(node)

    def trail_of(get: Callable[[], AuditTrail]) -> Callable[[], AuditTrail]:
        def found() -> AuditTrail:
            try:
                return get()
            except TrailUnavailable as error:
                raise NotReady(str(error)) from None

        return found

    @bp.get("/api/v1/audit/key")
    async def audit_key(request: Request) -> HTTPResponse:
        answering.limit_address(node, request)
        public = node.key.public_key()
        return json_response(
            {
                "name": KEY_NAME,
                "algorithm": "Ed25519",
                "public_key": base64.b64encode(public_key_bytes(public)).decode(),
                "verifier_key": verifier_key(KEY_NAME, public),
                "public_key_pem": auth.public_key_pem(public).decode(),
            }
        )

    # Auctions: any token of the auction reads checkpoints and proofs; the event itself
    # goes to an overseer or the bidder it is about; officers and auditors export.
    def auction_reader(request: Request, stream_id: str) -> auth.Claims:
        return answering.claims(node, request, stream_id)

    async def auction_exporter(request: Request, stream_id: str) -> None:
        answering.claims(node, request, stream_id)

    async def auction_sees(claims: auth.Claims, stream_id: str, payload: bytes) -> bool:
        return _visible(event_from_bytes(payload), claims)

    _stream_routes(
        bp,
        "/api/v1/auctions/<stream_id>",
        "audit_auction",
        trail_of(trails.auctions),
        "auction",
        auction_reader,
        auction_exporter,
        auction_sees,
    )

    # Red flags of an auction's log (issue 15): for its overseers, like the export.
    auction_trail = trail_of(trails.auctions)

    @bp.get("/api/v1/audit/auctions/<stream_id>/flags", name="audit_auction_flags")
    async def auction_flags(request: Request, stream_id: str) -> HTTPResponse:
        answering.claims(node, request, stream_id)
        payloads = await auction_trail().read(stream_id, 0, None)
        if not payloads:
            raise ProblemError(problem(Code.NOT_FOUND, f"no auction {stream_id!r}"))
        events = [decode_fast(payload) for payload in payloads]
        return json_response(
            {
                "auction_id": stream_id,
                "flags": [flag.to_json() for flag in red_flags(events)],
                "note": FLAGS_NOTE,
            }
        )

    # Tenders: the same, with "overseer" meaning an auditor or an officer on the tender's
    # committee (what the tender routes call one).
    tenders = trail_of(trails.tenders)

    async def committee(stream_id: str) -> frozenset[str]:
        first = await tenders().read(stream_id, 0, 1)
        if not first:
            return frozenset()
        created = t.decode_tender_event(first[0])
        if not isinstance(created, t.TenderCreated):
            return frozenset()
        return frozenset(o.officer for o in created.spec.officers)

    async def tender_overseer(claims: auth.Claims, stream_id: str) -> bool:
        if claims.role is auth.Role.AUDITOR:
            return True
        return claims.role is auth.Role.OFFICER and claims.sub in await committee(stream_id)

    async def tender_exporter(request: Request, stream_id: str) -> None:
        claims = answering.claims(node, request, stream_id)
        if not await tender_overseer(claims, stream_id):
            raise auth.RoleForbidden("only the tender's committee and auditors may export it")

    async def tender_sees(claims: auth.Claims, stream_id: str, payload: bytes) -> bool:
        event = t.decode_tender_event(payload)
        party = getattr(event, "bidder", None)
        if claims.role is auth.Role.BIDDER and party is not None and party == claims.sub:
            return True
        return await tender_overseer(claims, stream_id)

    _stream_routes(
        bp,
        "/api/v1/audit/tenders/<stream_id>",
        "audit_tender",
        tenders,
        "tender",
        auction_reader,
        tender_exporter,
        tender_sees,
    )

    # Red flags of a tender's log (api.audit.tender_flags): its overseers, like the export.
    @bp.get("/api/v1/audit/tenders/<stream_id>/flags", name="audit_tender_flags")
    async def tender_flags(request: Request, stream_id: str) -> HTTPResponse:
        await tender_exporter(request, stream_id)
        payloads = await tenders().read(stream_id, 0, None)
        if not payloads:
            raise ProblemError(problem(Code.NOT_FOUND, f"no tender {stream_id!r}"))
        events = [t.decode_tender_event(payload) for payload in payloads]
        return json_response(
            {
                "tender_id": stream_id,
                "flags": [flag.to_json() for flag in tender_red_flags(events)],
                "note": FLAGS_NOTE,
            }
        )

    return bp


def _stream_routes(
    bp: Blueprint,
    base: str,
    name: str,
    trail: Callable[[], AuditTrail],
    noun: str,
    reader: Callable[[Request, str], auth.Claims],
    exporter: Callable[[Request, str], Awaitable[None]],
    sees: Callable[[auth.Claims, str, bytes], Awaitable[bool]],
) -> None:
    """The checkpoint, proof, export and OCDS routes of one kind of stream under
    ``base``, named ``{name}_checkpoint`` and so on."""

    async def known_tree(stream_id: str) -> tuple[AuditTrail, MerkleLog]:
        audit = trail()
        tree = await audit.tree(stream_id)
        if tree.size == 0:
            raise ProblemError(problem(Code.NOT_FOUND, f"no {noun} {stream_id!r}"))
        return audit, tree

    @bp.get(f"{base}/checkpoint", name=f"{name}_checkpoint")
    async def checkpoint(request: Request, stream_id: str) -> HTTPResponse:
        reader(request, stream_id)
        audit = trail()
        note, size, root = await audit.issue(stream_id, "request")  # kept only if size > 0
        if size == 0:
            raise ProblemError(problem(Code.NOT_FOUND, f"no {noun} {stream_id!r}"))
        return json_response(
            {"origin": audit.origin(stream_id), "size": size, "root": root.hex(), "note": note}
        )

    @bp.get(f"{base}/proofs/inclusion", name=f"{name}_inclusion")
    async def inclusion(request: Request, stream_id: str) -> HTTPResponse:
        claims = reader(request, stream_id)
        seq = query_int(request.args, "seq")
        audit, tree = await known_tree(stream_id)
        size = query_int(request.args, "size", default=tree.size)
        if size > tree.size or size < 1:
            raise ProblemError(
                problem(
                    Code.INVALID_FIELD,
                    f"size must be 1..{tree.size}, the events committed",
                    extra={"field": "size"},
                )
            )
        if not 1 <= seq <= size:
            raise ProblemError(
                problem(Code.INVALID_FIELD, f"seq must be 1..{size}", extra={"field": "seq"})
            )
        payload = (await audit.read(stream_id, seq - 1, 1))[0]
        root = tree.root(size)
        body: dict[str, Any] = {
            "seq": seq,
            "size": size,
            "leaf_index": seq - 1,
            "leaf_hash": tree.leaf_hash(seq - 1).hex(),
            "proof": _hexes(tree.inclusion_proof(seq - 1, size)),
            "root": root.hex(),
            "checkpoint": audit.sign(stream_id, size, root),
        }
        if await sees(claims, stream_id, payload):
            body["event"] = payload.decode()
        return json_response(body)

    @bp.get(f"{base}/proofs/consistency", name=f"{name}_consistency")
    async def consistency(request: Request, stream_id: str) -> HTTPResponse:
        reader(request, stream_id)
        old = query_int(request.args, "from")
        audit, tree = await known_tree(stream_id)
        new = query_int(request.args, "to", default=tree.size)
        if new > tree.size:
            raise ProblemError(
                problem(
                    Code.INVALID_FIELD,
                    f"to must be at most {tree.size}, the events committed",
                    extra={"field": "to"},
                )
            )
        if old > new:
            raise ProblemError(
                problem(Code.INVALID_FIELD, "from must not exceed to", extra={"field": "from"})
            )
        old_root, new_root = tree.root(old), tree.root(new)
        return json_response(
            {
                "from": old,
                "to": new,
                "proof": _hexes(tree.consistency_proof(old, new)),
                "from_root": old_root.hex(),
                "to_root": new_root.hex(),
                "from_checkpoint": audit.sign(stream_id, old, old_root),
                "to_checkpoint": audit.sign(stream_id, new, new_root),
            }
        )

    @bp.get(f"{base}/export", name=f"{name}_export")
    async def export(request: Request, stream_id: str) -> HTTPResponse:
        await exporter(request, stream_id)
        audit, _ = await known_tree(stream_id)
        return json_response(await audit.bundle(stream_id))

    @bp.get(f"{base}/ocds", name=f"{name}_ocds")
    async def ocds(request: Request, stream_id: str) -> HTTPResponse:
        await exporter(request, stream_id)
        audit, _ = await known_tree(stream_id)
        package = release_package(await audit.bundle(stream_id))
        return text_response(dumps(package), content_type="application/json")
