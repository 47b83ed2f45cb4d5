"""The auditor's search: ``GET /api/v1/audit/search`` (issue 15).

Finished auctions (ended, whatever the outcome) and finished tenders (every lot awarded
or handed off to an auction), newest end first, at most :data:`LIMIT` (``truncated`` says
when more matched). Query parameters, all optional, all combined:

=========  ====================================================================
``q``      text in the id (case-insensitive), at most 100 characters, no control one
``buyer``  text in the buyer's identity: the officer who created it (the token's
           ``sub``; ``auction_buyers`` for auctions, ``TenderCreated.by`` for tenders)
``from``   ended at or after this server time (microseconds since the epoch)
``to``     ended at or before it
``format`` ``english``, ``reverse``, ``dutch``, ``sealed``, ``multiround`` or ``tender``
``kind``   ``auction`` or ``tender``
=========  ====================================================================

Who: an auditor or an officer (:data:`api.access.rules.ROUTES`, ``NARROWED``): a token
bound to one auction or tender finds that one only; an officer sees a tender only if on
its committee or its creator (as the tender's own audit routes). Each row: ``kind``,
``id``, ``format``, ``buyer`` (``null`` when not recorded), ``created_at``, ``ended_at``,
``outcome``, ``price`` (integer minor units or ``null``), ``currency``; a tender's also
``title`` and ``lots``. A bad parameter is 422 ``invalid_field`` naming it in ``field``.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from api.access import auth
from api.audit.bundle import decode_fast
from api.http import answering
from api.http.problems import Code, ProblemError, problem, query_int
from api.node import Node, NotReady
from api.storage import audit_search as store
from engine import tender_records as t
from engine.events import AuctionEnded

__all__ = [
    "AUCTION_FORMATS",
    "CONTROL",
    "FORMATS",
    "KINDS",
    "LIMIT",
    "MAX_TEXT",
    "audit_search_blueprint",
    "buyer_recorder",
]

#: At most this many rows in one answer.
LIMIT = 200

#: The auction formats (``auctions.format``); ``tender`` is the tenders' own.
AUCTION_FORMATS = ("english", "reverse", "dutch", "sealed", "multiround")
FORMATS = (*AUCTION_FORMATS, "tender")
KINDS = ("auction", "tender")
#: The longest ``q`` or ``buyer``.
MAX_TEXT = 100


#: What ``q`` and ``buyer`` may not hold: control characters (C0, DEL, C1). The same
#: class is the OpenAPI pattern of both, so the document and the route agree.
CONTROL = "\x00-\x1f\x7f-\x9f"
_CONTROL = re.compile(f"[{CONTROL}]")


def _text(request: Request, name: str) -> str | None:
    raw: str | None = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raw = "\x00"  # a lone surrogate: refused below like a control character
    if len(raw) > MAX_TEXT or _CONTROL.search(raw):
        raise ProblemError(
            problem(
                Code.INVALID_FIELD,
                f"{name} must be at most {MAX_TEXT} characters, none a control character",
                extra={"field": name},
            )
        )
    return raw


def _choice(request: Request, name: str, choices: tuple[str, ...]) -> str | None:
    raw: str | None = request.args.get(name)
    if raw is None or raw == "":
        return None
    if raw not in choices:
        raise ProblemError(
            problem(
                Code.INVALID_FIELD,
                f"{name} must be one of {', '.join(choices)}",
                extra={"field": name},
            )
        )
    return str(raw)


def _currency(rules: str) -> str | None:
    try:
        value = json.loads(rules).get("currency")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _tender_rows(rows: list[store.TenderRow]) -> list[dict[str, Any]]:
    """Each tender whose every lot is decided, as a search row (buyer = its creator)."""
    out = []
    created: t.TenderCreated | None = None
    decided: dict[str, tuple[str, int | None, int]] = {}
    for index, row in enumerate(rows):
        if row.seq == 1:
            first = t.decode_tender_event(row.payload)
            created = first if isinstance(first, t.TenderCreated) else None
            decided = {}
        elif created is not None:
            event = t.decode_tender_event(row.payload)
            if isinstance(event, t.LotAwarded):
                decided[event.lot] = (
                    "awarded" if event.winner else "not_awarded",
                    event.price,
                    event.at,
                )
            elif isinstance(event, t.LotHandedOff):
                decided[event.lot] = ("handed_off", None, event.at)
        last = index + 1 == len(rows) or rows[index + 1].tender_id != row.tender_id
        if not last or created is None:
            continue
        lots = [lot.lot for lot in created.spec.lots]
        if not lots or any(lot not in decided for lot in lots):
            continue
        outcomes = {decided[lot][0] for lot in lots}
        prices = [decided[lot][1] for lot in lots]
        out.append(
            {
                "kind": "tender",
                "id": row.tender_id,
                "format": "tender",
                "title": created.spec.title,
                "buyer": created.by,
                "committee": [o.officer for o in created.spec.officers],
                "created_at": created.at,
                "ended_at": max(decided[lot][2] for lot in lots),
                "outcome": outcomes.pop() if len(outcomes) == 1 else "mixed",
                "price": prices[0] if len(prices) == 1 else None,
                "currency": created.spec.currency,
                "lots": len(lots),
            }
        )
    return out


def buyer_recorder(node: Node) -> Any:
    """``record(auction_id, officer)``: keep ``officer`` as the auction's buyer (the
    create route calls it once the auction exists; no-op without PostgreSQL)."""

    async def record(auction_id: str, officer: str) -> None:
        if node.pool is not None:
            await store.record_buyer(node.pool, auction_id, officer, time.time_ns() // 1000)

    return record


def audit_search_blueprint(node: Node) -> Blueprint:
    """The search route of ``node`` (see the module docstring)."""
    bp = Blueprint("audit_search")

    @bp.get("/api/v1/audit/search", name="audit_search")
    async def audit_search(request: Request) -> HTTPResponse:
        claims = answering.claims(node, request)
        text = _text(request, "q")
        buyer = _text(request, "buyer")
        start = query_int(request.args, "from", default=-1)
        end = query_int(request.args, "to", default=-1)
        fmt = _choice(request, "format", FORMATS)
        kind = _choice(request, "kind", KINDS)
        ended_from = None if start < 0 else start
        ended_to = None if end < 0 else end
        if ended_from is not None and ended_to is not None and ended_from > ended_to:
            raise ProblemError(
                problem(Code.INVALID_FIELD, "from must not exceed to", extra={"field": "from"})
            )
        pool = node.pool
        if pool is None:
            raise NotReady("storage is not up")
        ids = None if claims.auction is None else [claims.auction]
        found: list[dict[str, Any]] = []
        if kind in (None, "auction") and fmt != "tender":
            for row in await store.finished_auctions(
                pool,
                ids=ids,
                text=text,
                buyer=buyer,
                formats=None if fmt is None else [fmt],
                ended_from=ended_from,
                ended_to=ended_to,
                limit=LIMIT + 1,
            ):
                ended = decode_fast(row.ended)
                assert isinstance(ended, AuctionEnded)
                found.append(
                    {
                        "kind": "auction",
                        "id": row.id,
                        "format": row.format,
                        "buyer": row.buyer,
                        "created_at": row.created_at,
                        "ended_at": row.ended_at,
                        "outcome": ended.outcome.value,
                        "price": ended.price,
                        "currency": _currency(row.rules),
                    }
                )
        if kind in (None, "tender") and fmt in (None, "tender"):
            for entry in _tender_rows(await store.tender_records(pool, ids)):
                committee = entry.pop("committee")
                if claims.role is auth.Role.OFFICER and claims.sub not in (
                    *committee,
                    entry["buyer"],
                ):
                    continue
                if text is not None and text.casefold() not in entry["id"].casefold():
                    continue
                if buyer is not None and buyer.casefold() not in entry["buyer"].casefold():
                    continue
                if ended_from is not None and entry["ended_at"] < ended_from:
                    continue
                if ended_to is not None and entry["ended_at"] > ended_to:
                    continue
                found.append(entry)
        found.sort(key=lambda row: (-row["ended_at"], row["id"]))
        return json_response({"results": found[:LIMIT], "truncated": len(found) > LIMIT})

    return bp
