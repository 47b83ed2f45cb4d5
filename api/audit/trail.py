"""The auditor's trail: signed checkpoints of each log's Merkle tree, and export bundles.

Every auction's committed events, in seq order, are the leaves of an RFC 9162 Merkle tree
(:mod:`contracts.transparency`); the leaf bytes are the events' stored canonical bytes
(:mod:`contracts.canonical`). The server signs checkpoints of that tree with its Ed25519
key (the one that signs tokens) as C2SP signed notes (:mod:`contracts.checkpoint`),
under the key name :data:`KEY_NAME`, and keeps each one it issues in storage
(:class:`~api.storage.checkpoints.CheckpointStore`: the ``checkpoints`` table).

Each tender is a stream of its own (origin ``{prefix}/tender/{id}``): its leaves are the
committed rows of ``tender_events``. Its bundle also holds the ciphertexts of the opened
envelopes, so a verifier re-checks each against the commitment in its receipt.

Checkpoints are issued on request and, through :meth:`AuditTrail.on_published`, when an
auction opens, ends a round and closes, and when a tender's lot closes at its deadline,
opens a stage, is opened, awarded or handed off: :class:`AuditTrails` (the server's two
trails) gives its :meth:`~AuditTrails.after_commit` and
:meth:`~AuditTrails.after_tender_commit` to the services' observers. With
``GAVEL_AUDIT=off`` they are not given (nothing is issued after commits; the routes
still answer).

The routes are HTTP's (:mod:`api.http.audit`); nothing here imports an HTTP type.

The server keeps each stream's tree in memory once asked
(:class:`~contracts.transparency.MerkleLog`, 2 hashes per event; the 64 most recently
used), extended from the store by the events committed since: a request costs
O(k + log² n) for k new events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.audit.bundle import OpenedBlob, build_bundle
from api.audit.errors import TrailUnavailable
from api.storage.checkpoints import CheckpointStore, PostgresCheckpointStore
from api.storage.ports import EventStore
from api.storage.tenders import PostgresTenderStore, TenderStore
from contracts.checkpoint import log_origin, sign_checkpoint
from contracts.transparency import MerkleLog
from engine import AuctionEnded, AuctionStarted, RoundEnded, TurnEnded
from engine import tender_records as t
from engine.tender import replay_tender

__all__ = [
    "ISSUE_ON",
    "ISSUE_ON_TENDER",
    "KEY_NAME",
    "AuditTrail",
    "AuditTrails",
    "CheckpointListener",
    "StreamReader",
    "TrailStorage",
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
#: Told of each checkpoint issued after a commit: ``(stream_id, note, size, root)``.
CheckpointListener = Callable[[str, str, int, bytes], None]
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


def _tenders(
    store: TenderStore, key: Ed25519PrivateKey, checkpoints: CheckpointStore | None, prefix: str
) -> AuditTrail:
    """The trail of every tender's log in ``store``."""
    return AuditTrail(
        None,
        key,
        checkpoints,
        prefix=prefix,
        kind=_TENDER,
        read=_payloads(store),
        ciphertexts=store.ciphertexts,
    )


def tender_trail(pool: Any, key: Ed25519PrivateKey, *, prefix: str = "gavel") -> AuditTrail:
    """The trail of every tender's log in the ``tender_events`` table of ``pool``."""
    return _tenders(PostgresTenderStore(pool), key, PostgresCheckpointStore(pool), prefix)


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
        self.listeners: list[CheckpointListener] = []

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


@dataclass(frozen=True, slots=True)
class TrailStorage:
    """What the trails read and keep: the auctions' events, the tenders' tables and the
    kept checkpoints."""

    events: EventStore
    tenders: TenderStore
    checkpoints: CheckpointStore


class AuditTrails:
    """The server's two audit trails, every auction's and every tender's, built on first
    use from ``storage()``.

    ``storage()`` gives the stores once they are up; ``up()`` says whether they are (the
    server is neither starting nor stopping). ``listeners`` are told of each checkpoint
    issued after an auction's commit (the websocket push), as
    :attr:`AuditTrail.listeners`. ``prefix`` starts each log's origin.

    Call order: build; give :meth:`after_commit` to the auction service's observers and
    :meth:`after_tender_commit` to the tender service's (unless the trail is off); serve
    (:meth:`auctions`, :meth:`tenders`, :meth:`tender_checkpoint` from the routes);
    :meth:`drain` once the last commits are observed, before the storage closes.
    """

    def __init__(
        self,
        key: Ed25519PrivateKey,
        storage: Callable[[], TrailStorage],
        up: Callable[[], bool],
        *,
        listeners: list[CheckpointListener] | None = None,
        prefix: str = "gavel",
    ) -> None:
        self.key = key
        self.prefix = prefix
        self.listeners = [] if listeners is None else listeners
        self._storage = storage
        self._up = up
        self._auctions: AuditTrail | None = None
        self._tenders: AuditTrail | None = None

    def _stores(self) -> TrailStorage:
        if not self._up():
            raise TrailUnavailable("the server is not ready")
        return self._storage()

    def auctions(self) -> AuditTrail:
        """The auctions' trail. Raises :class:`TrailUnavailable` while the storage is not
        up, until it was built once. O(1)."""
        if self._auctions is None:
            stores = self._stores()
            trail = AuditTrail(stores.events, self.key, stores.checkpoints, prefix=self.prefix)
            trail.listeners = self.listeners
            self._auctions = trail
        return self._auctions

    def tenders(self) -> AuditTrail:
        """The tenders' trail; as :meth:`auctions`. O(1)."""
        if self._tenders is None:
            stores = self._stores()
            self._tenders = _tenders(stores.tenders, self.key, stores.checkpoints, self.prefix)
        return self._tenders

    def after_commit(self, auction_id: str, events: list[Any]) -> None:
        """An auction service observer: :meth:`AuditTrail.on_published` while the storage
        is up. Never awaits, never raises."""
        if self._up():
            with contextlib.suppress(TrailUnavailable):
                self.auctions().on_published(auction_id, events)

    def after_tender_commit(self, tender_id: str, events: list[Any]) -> None:
        """A tender service observer; as :meth:`after_commit`."""
        if self._up():
            with contextlib.suppress(TrailUnavailable):
                self.tenders().on_published(tender_id, events)

    async def tender_checkpoint(self, tender_id: str, reason: str) -> dict[str, Any]:
        """A fresh signed checkpoint of the tender's log, as the receipt routes attach
        it (``origin``, ``size``, ``root`` hex, ``note``): the supplier holds a checkpoint
        that covers its own ``EnvelopeReceived``. Raises :class:`TrailUnavailable` as
        :meth:`tenders` does. O(k + log n) for k new events."""
        trail = self.tenders()
        note, size, root = await trail.issue(tender_id, reason)
        return {"origin": trail.origin(tender_id), "size": size, "root": root.hex(), "note": note}

    async def drain(self) -> None:
        """Wait for the checkpoints being issued in the background, by either trail."""
        for trail in (self._auctions, self._tenders):
            if trail is not None:
                await trail.drain()
