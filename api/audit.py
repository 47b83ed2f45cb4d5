"""The auditor's trail over HTTP: signed checkpoints, inclusion and consistency proofs, export.

Every auction's committed events, in seq order, are the leaves of an RFC 9162 Merkle tree
(:mod:`contracts.transparency`); the leaf bytes are the events' stored canonical bytes
(:mod:`contracts.canonical`). The server signs checkpoints of that tree with its Ed25519
key (the one that signs tokens) as C2SP signed notes (:mod:`contracts.checkpoint`),
under the key name :data:`KEY_NAME`, and keeps each one it issues in the ``checkpoints``
table (migration 0005).

Routes (``add_audit_routes``):

==============================================================  ==========================
``GET /api/v1/audit/key``                                       the verifier key, public
``GET /api/v1/auctions/{id}/checkpoint``                        latest signed checkpoint
``GET /api/v1/auctions/{id}/proofs/inclusion?seq=N[&size=M]``   event N is in the log of M
``GET /api/v1/auctions/{id}/proofs/consistency?from=A&to=B``    log A is a prefix of log B
``GET /api/v1/auctions/{id}/export``                            the bundle (officer, auditor)
``GET /api/v1/auctions/{id}/ocds``                              OCDS release package (same)
==============================================================  ==========================

The first needs no token; the next three any token of the auction; export an overseer's.
An inclusion proof carries the event's canonical bytes only to an overseer or to the
bidder the event is about: the others get its leaf hash, which reveals nothing.

Checkpoints are issued on request and, through :meth:`AuditTrail.on_published`, when an
auction opens, ends a round and closes. The server keeps each auction's tree in memory
once asked (:class:`~contracts.transparency.MerkleLog`, 2 hashes per event; the 64 most
recently used), extended from the store by the events committed since: a request costs
O(k + log² n) for k new events.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from sanic.response import text as text_response

from api import auth
from api.audit_bundle import build_bundle
from api.hub import wire
from api.problems import MAX_INT, Code, ProblemError, problem
from api.storage.ports import EventStore
from contracts import messages as m
from contracts.canonical import event_from_bytes
from contracts.checkpoint import (
    log_origin,
    public_key_bytes,
    sign_checkpoint,
    verifier_key,
)
from contracts.transparency import MerkleLog
from engine import AuctionEnded, AuctionStarted, Event, RoundEnded

__all__ = [
    "ISSUE_ON",
    "KEY_NAME",
    "AuditTrail",
    "CheckpointStore",
    "StreamReader",
    "add_audit_routes",
]

log = logging.getLogger("gavel.audit")

#: The signed-note key name of the server's checkpoints.
KEY_NAME = "gavel-audit"
#: Event types after whose commit a checkpoint is issued (opening, round end, close).
ISSUE_ON = frozenset({AuctionStarted, RoundEnded, AuctionEnded})
_AUCTION = "auction"


#: Reads a stream: ``read(stream_id, after, limit)`` is the canonical bytes of its events
#: with ``seq > after``, in seq order, at most ``limit`` (``None``: all). A tender's log
#: plugs in as ``AuditTrail(None, key, checkpoints, kind="tender", read=...)``.
StreamReader = Callable[[str, int, int | None], Awaitable[list[bytes]]]


def _auction_reader(store: EventStore) -> StreamReader:
    async def read(auction_id: str, after: int, limit: int | None) -> list[bytes]:
        return [row.payload for row in await store.read(auction_id, after=after, limit=limit)]

    return read


class CheckpointStore:
    """The ``checkpoints`` table (migration 0005) on an asyncpg pool."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def record(
        self,
        kind: str,
        stream_id: str,
        size: int,
        root: bytes,
        note: str,
        *,
        reason: str,
        issued_at: int,
    ) -> None:
        """Keep an issued checkpoint; one of the same size is kept as it was. O(log n)."""
        await self.pool.execute(
            "INSERT INTO checkpoints (stream_kind, stream_id, size, root, issued_at, reason,"
            " note) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            kind,
            stream_id,
            size,
            root,
            issued_at,
            reason,
            note,
        )

    async def notes(self, kind: str, stream_id: str) -> list[tuple[int, str, str]]:
        """``(size, reason, note)`` of every kept checkpoint of the stream, by size."""
        rows = await self.pool.fetch(
            "SELECT size, reason, note FROM checkpoints WHERE stream_kind = $1"
            " AND stream_id = $2 ORDER BY size",
            kind,
            stream_id,
        )
        return [(row["size"], row["reason"], row["note"]) for row in rows]


class AuditTrail:
    """Each auction's Merkle tree, kept current from the event store, and its checkpoints.

    Call :meth:`tree` to get an auction's tree over every committed event; then sign
    any size of it with :meth:`sign`, or :meth:`issue` (sign the latest and keep it).
    """

    def __init__(
        self,
        store: EventStore | None,
        key: Ed25519PrivateKey,
        checkpoints: CheckpointStore | None,
        *,
        prefix: str = "gavel",
        key_name: str = KEY_NAME,
        max_trees: int = 64,
        kind: str = _AUCTION,
        read: StreamReader | None = None,
    ) -> None:
        if read is None:
            if store is None:
                raise ValueError("an AuditTrail reads its stream from a store or a reader")
            read = _auction_reader(store)
        self.store = store
        self.kind = kind
        self.read = read
        self.key = key
        self.checkpoints = checkpoints
        self.prefix = prefix
        self.key_name = key_name
        #: The most recently used trees, at most ``max_trees``; an evicted one is
        #: rebuilt from the store on its next use (O(n)).
        self._trees: OrderedDict[str, MerkleLog] = OrderedDict()
        self.max_trees = max_trees
        self._locks: dict[str, asyncio.Lock] = {}
        self._background: set[asyncio.Task[None]] = set()
        #: Called as ``listener(auction_id, note, size, root)`` after each checkpoint
        #: issued at an opening, round end or close (see :meth:`on_published`): where
        #: the websocket layer pushes it to the auction's subscribers.
        self.listeners: list[Callable[[str, str, int, bytes], None]] = []

    def origin(self, auction_id: str) -> str:
        """The checkpoints' origin line of ``auction_id``'s log."""
        return log_origin(self.kind, auction_id, self.prefix)

    async def tree(self, auction_id: str) -> MerkleLog:
        """The tree over every committed event of ``auction_id`` (empty if none).

        O(k) for the k events committed since the last call, O(1) reads otherwise.
        """
        lock = self._locks.setdefault(auction_id, asyncio.Lock())
        async with lock:
            tree = self._trees.get(auction_id)
            if tree is None:
                tree = MerkleLog()
            for payload in await self.read(auction_id, tree.size, None):
                tree.append(payload)
            if tree.size:
                self._trees[auction_id] = tree
                self._trees.move_to_end(auction_id)
                while len(self._trees) > self.max_trees:
                    evicted, _ = self._trees.popitem(last=False)
                    self._locks.pop(evicted, None)
            return tree

    def sign(self, auction_id: str, tree: MerkleLog, size: int) -> str:
        """The signed checkpoint of the first ``size`` events. O(log n)."""
        return sign_checkpoint(
            self.origin(auction_id), size, tree.root(size), self.key_name, self.key
        )

    async def issue(self, auction_id: str, reason: str) -> tuple[str, int, bytes]:
        """Sign the latest tree of ``auction_id`` and keep the checkpoint; return
        ``(note, size, root)``."""
        tree = await self.tree(auction_id)
        size = tree.size
        note = self.sign(auction_id, tree, size)
        root = tree.root(size)
        if self.checkpoints is not None and size:
            await self.checkpoints.record(
                self.kind,
                auction_id,
                size,
                root,
                note,
                reason=reason,
                issued_at=time.time_ns() // 1000,
            )
        return note, size, root

    def on_published(self, auction_id: str, events: list[Event]) -> None:
        """After a commit: issue a checkpoint if ``events`` open, end a round or close.

        Never awaits (it runs in the runner's task): the checkpoint is issued in the
        background, and a failure is logged, never raised into the runner.
        """
        reasons = [type(e).__name__ for e in events if type(e) in ISSUE_ON]
        if not reasons:
            return
        task = asyncio.ensure_future(self._issue_quietly(auction_id, reasons[-1]))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _issue_quietly(self, auction_id: str, reason: str) -> None:
        try:
            note, size, root = await self.issue(auction_id, reason)
        except Exception:
            log.exception("checkpoint not issued", extra={"auction": auction_id})
            return
        for listener in list(self.listeners):
            try:
                listener(auction_id, note, size, root)
            except Exception:
                log.exception("checkpoint listener failed", extra={"auction": auction_id})

    async def drain(self) -> None:
        """Wait for the checkpoints being issued in the background."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def bundle(self, auction_id: str) -> dict[str, Any]:
        """The export bundle of ``auction_id``: its committed events up to a fresh
        checkpoint over them (kept too), and every kept checkpoint up to that size."""
        note, size, _ = await self.issue(auction_id, "export")
        if self.kind != _AUCTION:
            raise NotImplementedError(f"no bundle format for {self.kind} streams yet")
        payloads = await self.read(auction_id, 0, size)
        notes: list[str] = []
        if self.checkpoints is not None:
            kept = await self.checkpoints.notes(self.kind, auction_id)
            notes = [text for at, _, text in kept if at <= size]
        if note not in notes:
            notes.append(note)  # Ed25519 is deterministic: a kept one is byte-identical
        return build_bundle(
            kind=_AUCTION,
            stream_id=auction_id,
            origin=self.origin(auction_id),
            events=payloads,
            checkpoints=notes,
            keys=[(self.key_name, self.key.public_key())],
            exported_at=time.time_ns() // 1000,
        )


# ---------------------------------------------------------------------------- routes


def _int_arg(request: Request, name: str, *, default: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        if default is not None:
            return default
        raise ProblemError(
            problem(
                Code.MISSING_FIELD, f"query parameter {name} is required", extra={"field": name}
            )
        )
    if not raw.isascii() or not raw.isdigit() or len(raw) > 16 or int(raw) > MAX_INT:
        raise ProblemError(
            problem(
                Code.INVALID_FIELD,
                f"{name} must be a non-negative integer",
                extra={"field": name},
            )
        )
    return int(raw)


def _hexes(hashes: Collection[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def _visible(event: Event, claims: auth.Claims) -> bool:
    """Whether ``claims`` may read ``event`` itself (not just its hash)."""
    return claims.role in auth.OVERSEERS or getattr(event, "bidder", None) == claims.sub


def add_audit_routes(app: Sanic, gavel: Any) -> None:
    """Register the audit routes on ``app``; ``gavel`` is the app's :class:`api.app.Gavel`.

    Also adds :meth:`AuditTrail.on_published` to the service's observers (called after
    each commit), so checkpoints are issued at opening, round end and close, and pushes
    each one to the auction's websocket subscribers as a ``checkpoint`` message.
    """
    state: dict[str, AuditTrail] = {}

    def trail() -> AuditTrail:
        found = state.get("trail")
        if found is None:
            service = gavel.svc  # 503 while starting or stopping
            found = state["trail"] = AuditTrail(
                service.store,
                gavel.key,
                CheckpointStore(gavel.pool) if gavel.pool is not None else None,
                prefix=str(gavel.settings.extra.get("audit_prefix", "gavel")),
            )
            found.listeners.append(push_checkpoint)
        return found

    def checkpoint_after_commit(auction_id: str, events: list[Event]) -> None:
        if gavel.service is not None and not gavel.closing:
            with contextlib.suppress(ProblemError):
                trail().on_published(auction_id, events)

    def push_checkpoint(auction_id: str, note: str, size: int, root: bytes) -> None:
        channel = gavel.hub.channels.get(auction_id)
        if channel is not None and channel.subscribers:
            message = m.Checkpoint(channel.head, time.time_ns() // 1000, size, root.hex(), note)
            channel.broadcast(wire(m.to_json(message)))

    gavel.observers.append(checkpoint_after_commit)
    app.ctx.audit = state

    @app.before_server_stop
    async def _drain_checkpoints(app: Sanic) -> None:
        found = state.get("trail")
        if found is not None:
            await found.drain()

    async def known_tree(auction_id: str) -> tuple[AuditTrail, MerkleLog]:
        audit = trail()
        tree = await audit.tree(auction_id)
        if tree.size == 0:
            raise ProblemError(problem(Code.NOT_FOUND, f"no auction {auction_id!r}"))
        return audit, tree

    @app.get("/api/v1/audit/key")
    async def audit_key(request: Request) -> HTTPResponse:
        gavel.limit(gavel.by_address, request.client_ip or "?")
        public = gavel.key.public_key()
        return json_response(
            {
                "name": KEY_NAME,
                "algorithm": "Ed25519",
                "public_key": base64.b64encode(public_key_bytes(public)).decode(),
                "verifier_key": verifier_key(KEY_NAME, public),
                "public_key_pem": auth.public_key_pem(public).decode(),
            }
        )

    @app.get("/api/v1/auctions/<auction_id>/checkpoint")
    async def checkpoint(request: Request, auction_id: str) -> HTTPResponse:
        gavel.claims(request, auction_id=auction_id)
        audit, _ = await known_tree(auction_id)
        note, size, root = await audit.issue(auction_id, "request")
        return json_response(
            {"origin": audit.origin(auction_id), "size": size, "root": root.hex(), "note": note}
        )

    @app.get("/api/v1/auctions/<auction_id>/proofs/inclusion")
    async def inclusion(request: Request, auction_id: str) -> HTTPResponse:
        claims = gavel.claims(request, auction_id=auction_id)
        seq = _int_arg(request, "seq")
        audit, tree = await known_tree(auction_id)
        size = _int_arg(request, "size", default=tree.size)
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
        payload = (await audit.read(auction_id, seq - 1, 1))[0]
        event = event_from_bytes(payload)
        body: dict[str, Any] = {
            "seq": seq,
            "size": size,
            "leaf_index": seq - 1,
            "leaf_hash": tree.leaf_hash(seq - 1).hex(),
            "proof": _hexes(tree.inclusion_proof(seq - 1, size)),
            "root": tree.root(size).hex(),
            "checkpoint": audit.sign(auction_id, tree, size),
        }
        if _visible(event, claims):
            body["event"] = payload.decode()
        return json_response(body)

    @app.get("/api/v1/auctions/<auction_id>/proofs/consistency")
    async def consistency(request: Request, auction_id: str) -> HTTPResponse:
        gavel.claims(request, auction_id=auction_id)
        old = _int_arg(request, "from")
        audit, tree = await known_tree(auction_id)
        new = _int_arg(request, "to", default=tree.size)
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
        return json_response(
            {
                "from": old,
                "to": new,
                "proof": _hexes(tree.consistency_proof(old, new)),
                "from_root": tree.root(old).hex(),
                "to_root": tree.root(new).hex(),
                "from_checkpoint": audit.sign(auction_id, tree, old),
                "to_checkpoint": audit.sign(auction_id, tree, new),
            }
        )

    @app.get("/api/v1/auctions/<auction_id>/export")
    async def export(request: Request, auction_id: str) -> HTTPResponse:
        gavel.claims(request, auth.OVERSEERS, auction_id)
        audit, _ = await known_tree(auction_id)
        return json_response(await audit.bundle(auction_id))

    @app.get("/api/v1/auctions/<auction_id>/ocds")
    async def ocds(request: Request, auction_id: str) -> HTTPResponse:
        from api.ocds import dumps, release_package

        gavel.claims(request, auth.OVERSEERS, auction_id)
        audit, _ = await known_tree(auction_id)
        package = release_package(await audit.bundle(auction_id))
        return text_response(dumps(package), content_type="application/json")
