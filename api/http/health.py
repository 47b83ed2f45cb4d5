"""The operations routes: ``/healthz``, ``/readyz``, ``/metrics``, and the API's documents
(``/api/v1/openapi.json``, ``/api/v1/docs`` and the two files that page loads,
``/api/v1/docs/docs.js`` and ``docs.css`` from ``api/static/``). None reads a token.

``/healthz`` answers as soon as the server listens; ``/readyz`` only once the node is
ready and its database answers (a 503 problem says why not: :func:`not_ready`).
"""

from __future__ import annotations

from pathlib import Path

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html
from sanic.response import json as json_response
from sanic.response import text as text_response

from api.http.metrics import Metrics
from api.http.openapi import DOCS_CSP, DOCS_HTML, openapi_document
from api.http.problems import Code, Problem, ProblemError, problem
from api.http.problems import to_response as problem_response
from api.node import Node
from api.storage.health import database_answers

__all__ = ["ALWAYS_ANSWERED", "health_blueprint", "not_ready"]

#: The files the docs page loads, served under ``/api/v1/docs/``: name -> media type.
_DOCS_FILES = {
    "docs.js": "text/javascript; charset=utf-8",
    "docs.css": "text/css; charset=utf-8",
}
_STATIC = Path(__file__).resolve().parent.parent / "static"
#: What the docs page and its files are served with (the page's policy, :data:`DOCS_CSP`).
_DOCS_HEADERS = {
    "Content-Security-Policy": DOCS_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

#: Answered while the server starts (the rest gets 503 until it is ready).
ALWAYS_ANSWERED = frozenset({"/healthz", "/readyz", "/metrics"})


def not_ready(node: Node) -> Problem:
    """Why ``node`` is not ready: stopping, waiting for its database, or starting."""
    if node.closing:
        return problem(Code.SHUTTING_DOWN, "the server is stopping", retry_after=1)
    if node.waiting is not None:
        return problem(Code.STORAGE_UNAVAILABLE, f"starting: {node.waiting}", retry_after=1)
    return problem(Code.SHUTTING_DOWN, "the server is starting", retry_after=1)


def service_gauges(node: Node) -> str:
    """Prometheus lines for the limits the node enforces: the writer's backlog (what
    load shedding compares with ``GAVEL_WRITER_BACKLOG``), the runners in memory and
    evicted, the snapshots stored and used, the revoked tokens held in memory."""
    service, writer = node.service, node.writer
    gauges: list[tuple[str, str, str, float]] = [
        (
            "gavel_writer_pending_events",
            "gauge",
            "Events waiting for the group-commit writer.",
            writer.pending_events if writer else 0,
        ),
        (
            "gavel_runners_loaded",
            "gauge",
            "Auctions with a runner in memory.",
            len(service.runners) if service else 0,
        ),
        (
            "gavel_runners_evicted_total",
            "counter",
            "Idle ended auctions dropped from memory.",
            service.evicted if service else 0,
        ),
        (
            "gavel_snapshots_saved_total",
            "counter",
            "Auction snapshots stored (every GAVEL_SNAPSHOT_EVERY committed events).",
            service.snapshots_saved if service else 0,
        ),
        (
            "gavel_auctions_restored_from_snapshot_total",
            "counter",
            "Auctions loaded from a snapshot plus the events after it.",
            service.restored_from_snapshot if service else 0,
        ),
        (
            "gavel_tokens_revoked",
            "gauge",
            "Revoked, unexpired tokens held in memory.",
            len(node.revoked),
        ),
    ]
    ownership = node.ownership
    if ownership is not None:
        stats = ownership.stats
        bus = node.bus
        gauges += [
            ("gavel_leases_held", "gauge", "Auction leases this node holds.", len(ownership.held)),
            (
                "gavel_lease_takeovers_total",
                "counter",
                "Leases this node took over after the previous owner's lapsed.",
                stats.takeovers,
            ),
            (
                "gavel_ownerless_seconds_total",
                "counter",
                "Seconds auctions went without an owner, summed over those takeovers.",
                round(stats.ownerless_s, 6),
            ),
            (
                "gavel_ownerless_seconds_max",
                "gauge",
                "The longest time one auction went without an owner before this node took it.",
                round(stats.ownerless_max_s, 6),
            ),
            (
                "gavel_leases_lost_total",
                "counter",
                "Leases this node lost (not renewed in time, or fenced off at an append).",
                stats.lost,
            ),
            (
                "gavel_leases_released_total",
                "counter",
                "Leases this node gave up (draining, hand-off, idle).",
                stats.released,
            ),
            (
                "gavel_forwarded_commands_total",
                "counter",
                "Commands this node sent to the owner of their auction.",
                stats.forwarded,
            ),
            (
                "gavel_forward_failures_total",
                "counter",
                "Forwarded commands that found no owner or no answer in time.",
                stats.forward_failures,
            ),
            (
                "gavel_forwarded_served_total",
                "counter",
                "Commands other nodes forwarded to this one.",
                stats.served,
            ),
            (
                "gavel_bus_connected",
                "gauge",
                "1 while this node is connected to NATS.",
                int(bus is not None and bus.connected),
            ),
        ]
    tenders = node.tender_ownership
    if tenders is not None:
        held = tenders.stats
        gauges += [
            (
                "gavel_tender_leases_held",
                "gauge",
                "Tender leases this node holds.",
                len(tenders.held),
            ),
            (
                "gavel_tender_leases_lost_total",
                "counter",
                "Tender leases this node lost (not renewed in time, or fenced off at an append).",
                held.lost,
            ),
            (
                "gavel_tender_leases_released_total",
                "counter",
                "Tender leases this node gave up (idle, draining).",
                held.released,
            ),
            (
                "gavel_tender_forwarded_total",
                "counter",
                "Tender commands this node sent to the tender's owner.",
                held.forwarded,
            ),
            (
                "gavel_tender_forward_failures_total",
                "counter",
                "Forwarded tender commands that found no owner or no answer in time.",
                held.forward_failures,
            ),
            (
                "gavel_tender_served_total",
                "counter",
                "Tender commands other nodes forwarded to this one.",
                held.served,
            ),
        ]
    lines = []
    for name, kind, help_text, value in gauges:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value}"]
    return "\n".join(lines) + "\n"


def health_blueprint(node: Node, metrics: Metrics) -> Blueprint:
    """The operations and documents routes of ``node``'s app (see the module docstring)."""
    bp = Blueprint("health")
    docs_files = {name: (_STATIC / name).read_bytes() for name in _DOCS_FILES}

    @bp.get("/healthz")
    async def healthz(request: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    @bp.get("/readyz")
    async def readyz(request: Request) -> HTTPResponse:
        # 200 only when the database answers now; a 503 problem says why not.
        if not node.ready or node.pool is None:
            return problem_response(not_ready(node))
        if not await database_answers(node.pool):
            return problem_response(
                problem(Code.STORAGE_UNAVAILABLE, "the database does not answer", retry_after=1)
            )
        return json_response({"status": "ready"})

    @bp.get("/metrics", name="metrics")
    async def metrics_text(request: Request) -> HTTPResponse:
        service = node.service
        body = metrics.render(
            node.hub,
            service.runners.values() if service else (),
            node.writer.stats if node.writer else None,
        )
        body += service_gauges(node)
        return text_response(body, content_type="text/plain; version=0.0.4; charset=utf-8")

    @bp.get("/api/v1/openapi.json")
    async def openapi(request: Request) -> HTTPResponse:
        return json_response(openapi_document())

    @bp.get("/api/v1/docs")
    async def docs(request: Request) -> HTTPResponse:
        return html(DOCS_HTML, headers=_DOCS_HEADERS)

    @bp.get("/api/v1/docs/<name>", name="docs_asset")
    async def docs_asset(request: Request, name: str) -> HTTPResponse:
        if name not in docs_files:
            raise ProblemError(problem(Code.NOT_FOUND, f"no file {name!r}"))
        return HTTPResponse(docs_files[name], content_type=_DOCS_FILES[name], headers=_DOCS_HEADERS)

    return bp
