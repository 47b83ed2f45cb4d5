"""The officer's list of tenders: ``GET /api/v1/tenders`` (issue 15, the officer's home).

The tenders an officer created or sits on the committee of (as the tender's own
routes decide: :func:`api.tenders.visibility.is_committee`, or ``TenderCreated.by``),
newest first, at most :data:`LIMIT` (``truncated`` says when more were found); a token
bound to one tender finds that one only (``NARROWED``, :data:`api.access.rules.ROUTES`).
Each row: ``id``, ``title``, ``currency``, ``created_by``, ``created_at``, ``lots`` (how
many), ``deadline`` (the earliest deadline of a lot still taking envelopes, ``null`` when
none is) and ``state``, the tender as a whole in one word:

============  =====================================================================
``created``   the committee's key ceremony is pending: no envelope is taken yet
``open``      some lot takes envelopes until its deadline
``closed``    no lot takes envelopes; some lot waits to be opened
``opening``   some lot is opened and not yet decided
``decided``   every lot is awarded or handed off to an auction
============  =====================================================================

The first events of every tender are read once (:func:`api.storage.audit_search.tender_records`),
then each listed tender is read from its service (as ``GET /api/v1/tenders/<id>``):
O(tenders + listed tenders' events).
"""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from api.http import answering
from api.http.operations import operation
from api.node import Node, NotReady
from api.storage import audit_search as store
from api.tenders.errors import StorageFailed, TenderError
from engine import tender_records as t
from engine.tender import Tender
from engine.tender_phases import LotPhase, TenderPhase

__all__ = ["LIMIT", "STATES", "openapi_paths", "tender_list_blueprint", "tender_state"]

#: At most this many tenders in one answer (the newest).
LIMIT = 200

#: Every ``state`` a row may have (see the module docstring).
STATES = ("created", "open", "closed", "opening", "decided")


def tender_state(tender: Tender, now: int) -> tuple[str, int | None]:
    """The tender's state in one word (:data:`STATES`) at server time ``now``, and the
    earliest deadline of a lot still taking envelopes (``None``: none is). O(lots)."""
    if tender.phase is not TenderPhase.PUBLISHED:
        return "created", None
    lots = list(tender.lots.values())
    # A deadline that passed closes its lot at the next command (public_view says so too).
    taking = [lot.deadline for lot in lots if lot.phase is LotPhase.OPEN and now <= lot.deadline]
    if taking:
        return "open", min(taking)
    if lots and all(lot.phase is LotPhase.DECIDED for lot in lots):
        return "decided", None
    if any(lot.phase is LotPhase.OPENED for lot in lots):
        return "opening", None
    return "closed", None


def tender_list_blueprint(node: Node) -> Blueprint:
    """The route of ``node`` (see the module docstring)."""
    bp = Blueprint("tender_list")

    @bp.get("/api/v1/tenders", name="list_tenders")
    async def list_tenders(request: Request) -> HTTPResponse:
        claims = answering.claims(node, request)
        pool = node.pool
        if pool is None:
            raise NotReady("storage is not up")
        ids = None if claims.auction is None else [claims.auction]
        created: list[t.TenderCreated] = []
        names: list[str] = []
        for row in await store.tender_records(pool, ids):
            if row.seq != 1:
                continue
            first = t.decode_tender_event(row.payload)
            if not isinstance(first, t.TenderCreated):
                continue
            if claims.sub != first.by and not any(
                o.officer == claims.sub for o in first.spec.officers
            ):
                continue
            created.append(first)
            names.append(row.tender_id)
        order = sorted(range(len(created)), key=lambda i: (-created[i].at, names[i]))
        service = node.tender_svc
        now = service.clock()
        rows: list[dict[str, Any]] = []
        for i in order[:LIMIT]:
            head = created[i]
            try:
                tender = await service.tender(names[i])
            except (StorageFailed, TenderError):
                continue  # unreadable now: its own page says why
            state, deadline = tender_state(tender, now)
            rows.append(
                {
                    "id": names[i],
                    "title": head.spec.title,
                    "currency": head.spec.currency,
                    "created_by": head.by,
                    "created_at": head.at,
                    "lots": len(head.spec.lots),
                    "deadline": deadline,
                    "state": state,
                }
            )
        return json_response({"tenders": rows, "truncated": len(order) > LIMIT})

    return bp


_LISTED = {
    "type": "object",
    "required": ["tenders", "truncated"],
    "properties": {
        "tenders": {
            "type": "array",
            "maxItems": LIMIT,
            "items": {
                "type": "object",
                "required": [
                    "id",
                    "title",
                    "currency",
                    "created_by",
                    "created_at",
                    "lots",
                    "deadline",
                    "state",
                ],
                "properties": {
                    "id": {"type": "string"},
                    "title": {"type": "string"},
                    "currency": {"type": "string"},
                    "created_by": {"type": "string"},
                    "created_at": {"type": "integer"},
                    "lots": {"type": "integer", "minimum": 0},
                    "deadline": {"type": ["integer", "null"]},
                    "state": {"enum": list(STATES)},
                },
            },
        },
        "truncated": {"type": "boolean"},
    },
}


def openapi_paths() -> dict[str, Any]:
    """The OpenAPI path item of ``GET /api/v1/tenders`` (merged with the tenders' own
    ``POST`` by :mod:`api.http.openapi`)."""
    return {
        "/api/v1/tenders": {
            "get": operation(
                "get",
                "/tenders",
                "list_tenders",
                "The tenders the officer created or sits on the committee of, newest first",
                "officer",
                200,
                success=_LISTED,
                description=(
                    "At most 200 (truncated says when more were found); a token bound to"
                    " one tender lists that one only. state: created (key ceremony"
                    " pending), open, closed, opening or decided; deadline: the earliest"
                    " deadline of a lot still taking envelopes."
                ),
            )
        }
    }
