"""The auditor's trail over HTTP: signed checkpoints, inclusion and consistency proofs, export.

Every auction's committed events, in seq order, are the leaves of an RFC 9162 Merkle tree
(:mod:`contracts.transparency`); the leaf bytes are the events' stored canonical bytes
(:mod:`contracts.canonical`). The server signs checkpoints of that tree with its Ed25519
key (the one that signs tokens) as C2SP signed notes (:mod:`contracts.checkpoint`),
under the key name :data:`KEY_NAME`, and keeps each one it issues in the ``checkpoints``
storage (:class:`~api.storage.checkpoints.CheckpointStore`: the ``checkpoints`` table).

Routes (``add_audit_routes``):

==============================================================  ==========================
``GET /api/v1/audit/key``                                       the verifier key, public
``GET /api/v1/auctions/{id}/checkpoint``                        latest signed checkpoint
``GET /api/v1/auctions/{id}/proofs/inclusion?seq=N[&size=M]``   event N is in the log of M
``GET /api/v1/auctions/{id}/proofs/consistency?from=A&to=B``    log A is a prefix of log B
``GET /api/v1/auctions/{id}/export``                            the bundle (officer, auditor)
``GET /api/v1/auctions/{id}/ocds``                              OCDS release package (same)
``GET /api/v1/audit/tenders/{id}/checkpoint``                   a tender's, the same way
``GET /api/v1/audit/tenders/{id}/proofs/inclusion|consistency`` (same parameters)
``GET /api/v1/audit/tenders/{id}/export``                       (committee, auditor)
``GET /api/v1/audit/tenders/{id}/ocds``                         OCDS with lots (same)
==============================================================  ==========================

The first needs no token; the next three any token of the auction; export an overseer's.
An inclusion proof carries the event's canonical bytes only to an overseer or to the
bidder the event is about: the others get its leaf hash, which reveals nothing. For a
tender, "overseer" means an auditor or an officer on the tender's committee (who also
alone may export it), as on the tender routes.

Each tender is a stream of its own (origin ``{prefix}/tender/{id}``): its leaves are the
committed rows of ``tender_events``. Its bundle also holds the ciphertexts of the opened
envelopes, so a verifier re-checks each against the commitment in its receipt.

Checkpoints are issued on request and, through :meth:`AuditTrail.on_published`, when an
auction opens, ends a round and closes, and when a tender's lot closes at its deadline,
opens a stage, is opened, awarded or handed off (the tender service calls
``app.ctx.tender_observers`` after each commit). With ``GAVEL_AUDIT=off`` no observer is
registered (nothing is issued after commits; the routes still answer).

The server keeps each stream's tree in memory once asked
(:class:`~contracts.transparency.MerkleLog`, 2 hashes per event; the 64 most recently
used), extended from the store by the events committed since: a request costs
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
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sanic import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from sanic.response import text as text_response

from api.access import auth
from api.audit.bundle import OpenedBlob, build_bundle
from api.http.openapi import operation
from api.http.problems import MAX_INT, Code, ProblemError, problem, query_int
from api.http.webapp import App
from api.storage.checkpoints import CheckpointStore, PostgresCheckpointStore
from api.storage.ports import EventStore
from api.storage.tenders import PostgresTenderStore, TenderStore
from contracts.canonical import event_from_bytes
from contracts.checkpoint import (
    log_origin,
    public_key_bytes,
    sign_checkpoint,
    verifier_key,
)
from contracts.transparency import MerkleLog
from engine import AuctionEnded, AuctionStarted, Event, RoundEnded, TurnEnded
from engine import tender_records as t
from engine.tender import replay_tender

if TYPE_CHECKING:
    from api.http.app import Gavel

__all__ = [
    "ISSUE_ON",
    "ISSUE_ON_TENDER",
    "KEY_NAME",
    "AuditTrail",
    "StreamReader",
    "add_audit_routes",
    "tender_trail",
]

log = logging.getLogger("gavel.audit")

#: The signed-note key name of the server's checkpoints.
KEY_NAME = "gavel-audit"
#: Event types after whose commit a checkpoint is issued: the opening, each multi-round
#: turn's deadline (the turn's bid becomes public), each round end and the close.
ISSUE_ON = frozenset({AuctionStarted, TurnEnded, RoundEnded, AuctionEnded})
#: Tender event types after whose commit a checkpoint is issued: a deadline (the lot
#: closed), a stage or the whole lot opened, an award or hand-off.
ISSUE_ON_TENDER = frozenset({t.LotClosed, t.StageOpened, t.LotOpened, t.LotAwarded, t.LotHandedOff})
_AUCTION = "auction"
_TENDER = "tender"
#: Reads ciphertexts: ``ciphertexts(tender_id, seqs)`` maps each receipt seq to its bytes.
CiphertextReader = Callable[[str, list[int]], Awaitable[dict[int, bytes]]]


#: Reads a stream: ``read(stream_id, after, limit)`` is the canonical bytes of its events
#: with ``seq > after``, in seq order, at most ``limit`` (``None``: all). A tender's log
#: plugs in as ``AuditTrail(None, key, checkpoints, kind="tender", read=...)``.
StreamReader = Callable[[str, int, int | None], Awaitable[list[bytes]]]


def _payloads(store: EventStore | TenderStore) -> StreamReader:
    """The stream reader over an auction or tender store's ``read``."""

    async def read(stream_id: str, after: int, limit: int | None) -> list[bytes]:
        return [row.payload for row in await store.read(stream_id, after, limit)]

    return read


def tender_trail(pool: Any, key: Ed25519PrivateKey, *, prefix: str = "gavel") -> AuditTrail:
    """The trail of every tender's log in the ``tender_events`` table of ``pool``."""
    store = PostgresTenderStore(pool)
    return AuditTrail(
        None,
        key,
        PostgresCheckpointStore(pool),
        prefix=prefix,
        kind=_TENDER,
        read=_payloads(store),
        ciphertexts=store.ciphertexts,
    )


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
        ciphertexts: CiphertextReader | None = None,
    ) -> None:
        if read is None:
            if store is None:
                raise ValueError("an AuditTrail reads its stream from a store or a reader")
            read = _payloads(store)
        self.kind = kind
        self.read = read
        #: Where a tender bundle's opened ciphertexts come from (tenders only).
        self.ciphertexts = ciphertexts
        #: Event types whose commit issues a checkpoint (see :meth:`on_published`).
        self.issue_on = ISSUE_ON_TENDER if kind == _TENDER else ISSUE_ON
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

    def sign(self, auction_id: str, size: int, root: bytes) -> str:
        """The signed checkpoint of the first ``size`` events, whose tree hash is
        ``root``. O(1)."""
        return sign_checkpoint(self.origin(auction_id), size, root, self.key_name, self.key)

    async def issue(self, auction_id: str, reason: str) -> tuple[str, int, bytes]:
        """Sign the latest tree of ``auction_id`` and keep the checkpoint; return
        ``(note, size, root)``."""
        tree = await self.tree(auction_id)
        size = tree.size
        root = tree.root(size)
        note = self.sign(auction_id, size, root)
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

    def on_published(self, auction_id: str, events: list[Any]) -> None:
        """After a commit: issue a checkpoint if ``events`` open, end a round or close
        (for a tender: close a lot, open a stage or a lot, award or hand one off).

        Never awaits (it runs in the runner's task): the checkpoint is issued in the
        background, and a failure is logged, never raised into the runner.
        """
        issue_on = self.issue_on
        reasons = [type(e).__name__ for e in events if type(e) in issue_on]
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
        payloads = await self.read(auction_id, 0, size)
        notes: list[str] = []
        if self.checkpoints is not None:
            kept = await self.checkpoints.notes(self.kind, auction_id)
            notes = [each.note for each in kept if each.size <= size]
        if note not in notes:
            notes.append(note)  # Ed25519 is deterministic: a kept one is byte-identical
        envelopes = None
        if self.kind == _TENDER:
            envelopes = await self._opened_envelopes(auction_id, payloads)
        return build_bundle(
            kind=self.kind,
            stream_id=auction_id,
            origin=self.origin(auction_id),
            events=payloads,
            checkpoints=notes,
            keys=[(self.key_name, self.key.public_key())],
            exported_at=time.time_ns() // 1000,
            envelopes=envelopes,
        )

    async def _opened_envelopes(self, tender_id: str, payloads: list[bytes]) -> list[OpenedBlob]:
        """The stored ciphertext of every envelope an opening in ``payloads`` covered,
        as ``(receipt seq, lot, kind, bidder, commitment, ciphertext)``; none before."""
        tender = replay_tender(t.decode_tender_event(data) for data in payloads)
        wanted = [
            (lot.envelopes[key].seq, name, key[1].value, key[0], lot.envelopes[key].commitment)
            for name, lot in tender.lots.items()
            for key in lot.opened
        ]
        if not wanted or self.ciphertexts is None:
            return []
        blobs = await self.ciphertexts(tender_id, [seq for seq, *_ in wanted])
        return [
            (seq, lot, kind, bidder, commitment, blobs[seq])
            for seq, lot, kind, bidder, commitment in sorted(wanted)
            if seq in blobs
        ]


# ---------------------------------------------------------------------------- routes


def _hexes(hashes: Collection[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def _visible(event: Event, claims: auth.Claims) -> bool:
    """Whether ``claims`` may read ``event`` itself (not just its hash)."""
    return claims.role in auth.OVERSEERS or getattr(event, "bidder", None) == claims.sub


def add_audit_routes(app: App, gavel: Gavel) -> None:
    """Register the audit routes on ``app``; ``gavel`` is the app's :class:`api.http.app.Gavel`.

    Unless ``GAVEL_AUDIT=off``: adds :meth:`AuditTrail.on_published` to the service's
    observers (called after each commit), so checkpoints are issued at opening, round
    end and close, and pushes each one to the auction's websocket subscribers as a
    ``checkpoint`` message; and the same for tenders through ``app.ctx.tender_observers``
    (the list ``add_tender_routes`` makes, called as ``observer(tender_id, events)``
    after each committed append), when it exists.
    """
    state: dict[str, AuditTrail] = {}
    settings = gavel.settings
    prefix = str(getattr(settings, "audit_prefix", "gavel"))

    def trail() -> AuditTrail:
        found = state.get("trail")
        if found is None:
            service = gavel.svc  # 503 while starting or stopping
            found = state["trail"] = AuditTrail(
                service.store,
                gavel.key,
                PostgresCheckpointStore(gavel.pool) if gavel.pool is not None else None,
                prefix=prefix,
            )
            found.listeners = gavel.checkpoint_listeners
        return found

    def tenders() -> AuditTrail:
        found = state.get("tenders")
        if found is None:
            if gavel.pool is None or gavel.closing:
                raise ProblemError(
                    problem(Code.SHUTTING_DOWN, "the server is not ready", retry_after=1)
                )
            found = state["tenders"] = tender_trail(gavel.pool, gavel.key, prefix=prefix)
        return found

    def checkpoint_after_commit(auction_id: str, events: list[Event]) -> None:
        if gavel.service is not None and not gavel.closing:
            with contextlib.suppress(ProblemError):
                trail().on_published(auction_id, events)

    def tender_checkpoint_after_commit(tender_id: str, events: list[Any]) -> None:
        if gavel.pool is not None and not gavel.closing:
            with contextlib.suppress(ProblemError):
                tenders().on_published(tender_id, events)

    def push_checkpoint(auction_id: str, note: str, size: int, root: bytes) -> None:
        channel = gavel.hub.channels.get(auction_id)
        if channel is not None:
            channel.checkpoint(note, size, root.hex(), time.time_ns() // 1000)

    gavel.checkpoint_listeners.append(push_checkpoint)
    if getattr(settings, "audit", True):
        gavel.observers.append(checkpoint_after_commit)
        tender_observers = getattr(app.ctx, "tender_observers", None)
        if tender_observers is not None:
            tender_observers.append(tender_checkpoint_after_commit)
        else:
            log.warning("no app.ctx.tender_observers: tender checkpoints only on request")
    app.ctx.audit = state

    async def tender_checkpoint(tender_id: str, reason: str) -> dict[str, Any]:
        """A fresh signed checkpoint of the tender's log, as the receipt routes attach
        it (``size``, ``root`` hex, ``note``): the supplier holds a checkpoint that
        covers its own ``EnvelopeReceived``. O(k + log n) for k new events."""
        audit = tenders()
        note, size, root = await audit.issue(tender_id, reason)
        return {"origin": audit.origin(tender_id), "size": size, "root": root.hex(), "note": note}

    app.ctx.tender_checkpoint = tender_checkpoint

    async def drain_checkpoints() -> None:
        for found in list(state.values()):
            await found.drain()

    # After the last commits, before the pool closes.
    gavel.on_stop.append(drain_checkpoints)

    @app.get("/api/v1/audit/key")
    async def audit_key(request: Request) -> HTTPResponse:
        gavel.limit_address(request)
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

    # Auctions: any token of the auction reads checkpoints and proofs; the event itself
    # goes to an overseer or the bidder it is about; officers and auditors export (each
    # route's rule is in api.access.rules.ROUTES, found by the route's name).
    def auction_reader(request: Request, stream_id: str) -> auth.Claims:
        claims: auth.Claims = gavel.claims(request, stream_id)
        return claims

    async def auction_exporter(request: Request, stream_id: str) -> None:
        gavel.claims(request, stream_id)

    async def auction_sees(claims: auth.Claims, stream_id: str, payload: bytes) -> bool:
        return _visible(event_from_bytes(payload), claims)

    _stream_routes(
        app,
        "/api/v1/auctions/<stream_id>",
        "audit_auction",
        trail,
        "auction",
        auction_reader,
        auction_exporter,
        auction_sees,
    )

    # Tenders: the same, with "overseer" meaning an auditor or an officer on the tender's
    # committee (what the tender routes call one).
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
        claims = gavel.claims(request, stream_id)
        if not await tender_overseer(claims, stream_id):
            raise auth.RoleForbidden("only the tender's committee and auditors may export it")

    async def tender_sees(claims: auth.Claims, stream_id: str, payload: bytes) -> bool:
        event = t.decode_tender_event(payload)
        party = getattr(event, "bidder", None)
        if claims.role is auth.Role.BIDDER and party is not None and party == claims.sub:
            return True
        return await tender_overseer(claims, stream_id)

    _stream_routes(
        app,
        "/api/v1/audit/tenders/<stream_id>",
        "audit_tender",
        tenders,
        "tender",
        auction_reader,
        tender_exporter,
        tender_sees,
    )


def _stream_routes(
    app: App,
    base: str,
    name: str,
    trail: Callable[[], AuditTrail],
    noun: str,
    reader: Callable[[Request, str], auth.Claims],
    exporter: Callable[[Request, str], Awaitable[None]],
    sees: Callable[[auth.Claims, str, bytes], Awaitable[bool]],
) -> None:
    """The checkpoint, proof, export and OCDS routes of one kind of stream under
    ``base``."""

    async def known_tree(stream_id: str) -> tuple[AuditTrail, MerkleLog]:
        audit = trail()
        tree = await audit.tree(stream_id)
        if tree.size == 0:
            raise ProblemError(problem(Code.NOT_FOUND, f"no {noun} {stream_id!r}"))
        return audit, tree

    @app.get(f"{base}/checkpoint", name=f"{name}_checkpoint")
    async def checkpoint(request: Request, stream_id: str) -> HTTPResponse:
        reader(request, stream_id)
        audit = trail()
        note, size, root = await audit.issue(stream_id, "request")  # kept only if size > 0
        if size == 0:
            raise ProblemError(problem(Code.NOT_FOUND, f"no {noun} {stream_id!r}"))
        return json_response(
            {"origin": audit.origin(stream_id), "size": size, "root": root.hex(), "note": note}
        )

    @app.get(f"{base}/proofs/inclusion", name=f"{name}_inclusion")
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

    @app.get(f"{base}/proofs/consistency", name=f"{name}_consistency")
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

    @app.get(f"{base}/export", name=f"{name}_export")
    async def export(request: Request, stream_id: str) -> HTTPResponse:
        await exporter(request, stream_id)
        audit, _ = await known_tree(stream_id)
        return json_response(await audit.bundle(stream_id))

    @app.get(f"{base}/ocds", name=f"{name}_ocds")
    async def ocds(request: Request, stream_id: str) -> HTTPResponse:
        from api.audit.ocds import dumps, release_package

        await exporter(request, stream_id)
        audit, _ = await known_tree(stream_id)
        package = release_package(await audit.bundle(stream_id))
        return text_response(dumps(package), content_type="application/json")


#: The two kinds of stream: path prefix under /api/v1, noun, who may read proofs.
_STREAMS = (
    ("/auctions/{auction_id}", "auction", "any token of the auction"),
    ("/audit/tenders/{tender_id}", "tender", "any token of the tender"),
)

#: The audit routes for the OpenAPI document: (path, summary, role, query parameters).
_OPERATIONS: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("/audit/key", "The checkpoint signing key (C2SP verifier key, PEM)", "none", ()),
    *(
        (
            f"{base}/checkpoint",
            f"A fresh signed checkpoint of the {noun}'s log (C2SP tlog-checkpoint)",
            roles,
            (),
        )
        for base, noun, roles in _STREAMS
    ),
    *(
        (
            f"{base}/proofs/inclusion",
            f"RFC 9162 inclusion proof of one event of the {noun}, with a checkpoint",
            roles,
            (("seq", "the event (1-based)"), ("size", "tree size (default: all)")),
        )
        for base, noun, roles in _STREAMS
    ),
    *(
        (
            f"{base}/proofs/consistency",
            f"RFC 9162 consistency proof between two sizes of the {noun}'s log",
            roles,
            (("from", "older tree size"), ("to", "newer tree size (default: all)")),
        )
        for base, noun, roles in _STREAMS
    ),
    *(
        (
            f"{base}/export",
            f"The {noun}'s self-contained audit bundle (gavel audit verify checks it offline)",
            "auditor, officer",
            (),
        )
        for base, noun, _ in _STREAMS
    ),
    *(
        (
            f"{base}/ocds",
            f"The {noun}'s Open Contracting (OCDS) release package",
            "auditor, officer",
            (),
        )
        for base, noun, _ in _STREAMS
    ),
)


#: Query parameters the proof routes read with ``query_int``: their least values, and
#: what the log's state may still refuse (422 invalid_field) in a valid request.
_QUERY_MINIMUM = {"seq": 1, "size": 1, "from": 0, "to": 0}
_STATE_FIELDS = {
    "proofs/inclusion": {"seq": "must be at most size", "size": "must be at most the log's"},
    "proofs/consistency": {"to": "must be at most the log's size", "from": "must be at most to"},
}


def openapi_paths() -> dict[str, Any]:
    """OpenAPI 3.1 path items of the audit routes (for :mod:`api.http.openapi`). O(routes)."""
    paths: dict[str, Any] = {}
    for path, summary, role, query in _OPERATIONS:
        kind = "audit_tender" if path.startswith("/audit/tenders/") else "audit_auction"
        last = path.rsplit("/", 1)[-1]
        name = "audit_key" if path == "/audit/key" else f"{kind}_{last}"
        parameters = [
            {
                "name": each,
                "in": "query",
                "required": each in {"seq", "from"},
                "description": description,
                "schema": {"type": "integer", "minimum": _QUERY_MINIMUM[each], "maximum": MAX_INT},
            }
            for each, description in query
        ]
        paths[f"/api/v1{path}"] = {
            "get": operation(
                "get",
                path,
                name,
                summary,
                role,
                200,
                query=parameters,
                state_fields=next(
                    (fields for end, fields in _STATE_FIELDS.items() if path.endswith(end)), None
                ),
            )
        }
    return paths
