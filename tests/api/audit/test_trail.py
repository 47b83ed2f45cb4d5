"""The auditor's trail without HTTP (:mod:`api.audit.trail`): one stream's tree and its
checkpoints (:class:`AuditTrail`), and the server's two trails (:class:`AuditTrails`)
over the in-memory adapters of the storage ports."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.audit.bundle import verify
from api.audit.errors import TrailUnavailable
from api.audit.trail import ISSUE_ON, KEY_NAME, AuditTrail, AuditTrails, TrailStorage
from api.storage.memory import MemoryCheckpointStore, MemoryEventStore, MemoryTenderStore
from api.storage.ports import StoredEvent
from api.storage.tenders import StoredTenderEvent
from contracts.canonical import event_bytes
from contracts.checkpoint import parse_and_verify
from contracts.transparency import root
from engine import BidAccepted, TurnEnded
from engine.errors import MalformedRecord
from engine.tender_records import LotClosed
from tests.api.audit.test_bundle import EVENTS


async def test_the_trail_keeps_few_trees_and_rebuilds_evicted_ones() -> None:
    store = MemoryEventStore()
    payloads = [event_bytes(e) for e in EVENTS]
    for auction in ("a", "b"):
        await store.append(
            auction,
            [
                StoredEvent(auction, e.seq, type(e).__name__, e.at, p)
                for e, p in zip(EVENTS, payloads, strict=True)
            ],
        )
    key = Ed25519PrivateKey.generate()
    trail = AuditTrail(store, key, None, max_trees=1)
    for auction in ("a", "b", "a"):
        note, size, digest = await trail.issue(auction, "test")
        assert (size, digest) == (len(EVENTS), root(payloads))
        assert (
            parse_and_verify(note, KEY_NAME, key.public_key()).origin == f"gavel/auction/{auction}"
        )
        assert list(trail._trees) == [auction]
    bundle = await trail.bundle("b")
    assert verify(bundle).events == len(EVENTS)
    assert (await trail.tree("unknown")).size == 0
    trail.on_published("a", [])  # nothing to issue
    heard: list[tuple[str, int]] = []
    trail.listeners.append(lambda auction, note, size, digest: heard.append((auction, size)))

    def broken(*args: object) -> None:
        raise RuntimeError("a listener's failure is logged, never raised")

    trail.listeners.append(broken)
    trail.on_published("b", [EVENTS[-1]])  # AuctionEnded: a checkpoint is issued
    await trail.drain()
    assert heard == [("b", len(EVENTS))]
    # Every deadline counts: a multi-round turn's end issues one too; a bid does not.
    turn_over = TurnEnded(99, 1, 1, "ann", None, None, True)
    trail.on_published("b", [e for e in EVENTS if type(e) is BidAccepted])
    trail.on_published("b", [turn_over])
    await trail.drain()
    assert heard == [("b", len(EVENTS))] * 2
    assert TurnEnded in ISSUE_ON

    class Failing(MemoryEventStore):
        async def read(self, *args: object, **kwargs: object) -> list[StoredEvent]:
            raise OSError("the database went away")

    with pytest.raises(ValueError):
        AuditTrail(None, key, None)

    async def tender_log(stream: str, after: int, limit: int | None) -> list[bytes]:
        rows = [b"envelope 1", b"envelope 2", b"opened"][after:]
        return rows if limit is None else rows[:limit]

    tenders = AuditTrail(None, key, None, kind="tender", read=tender_log)
    note, size, digest = await tenders.issue("T-1", "test")
    checkpoint = parse_and_verify(note, KEY_NAME, key.public_key())
    assert (checkpoint.origin, size) == ("gavel/tender/T-1", 3)
    assert digest == root([b"envelope 1", b"envelope 2", b"opened"])
    assert tenders.issue_on != trail.issue_on  # tender deadlines, openings, decisions
    with pytest.raises(MalformedRecord):  # a tender bundle reads its events
        await tenders.bundle("T-1")

    failing = AuditTrail(Failing(), key, None)
    failing.listeners.append(lambda *args: heard.append(("never", 0)))
    failing.on_published("a", [EVENTS[-1]])
    await failing.drain()
    assert heard == [("b", len(EVENTS))] * 2


async def stored(store: MemoryEventStore, auction: str) -> list[bytes]:
    payloads = [event_bytes(e) for e in EVENTS]
    await store.append(
        auction,
        [
            StoredEvent(auction, e.seq, type(e).__name__, e.at, p)
            for e, p in zip(EVENTS, payloads, strict=True)
        ],
    )
    return payloads


class World:
    """The stores of :class:`AuditTrails`, a switch for ``up()``, and a count of builds."""

    def __init__(self) -> None:
        self.events = MemoryEventStore()
        self.tenders = MemoryTenderStore()
        self.checkpoints = MemoryCheckpointStore()
        self.is_up = False
        self.built = 0

    def storage(self) -> TrailStorage:
        self.built += 1
        return TrailStorage(self.events, self.tenders, self.checkpoints)

    def up(self) -> bool:
        return self.is_up


async def test_the_trails_wait_for_the_storage_then_build_once() -> None:
    world = World()
    heard: list[Any] = []
    trails = AuditTrails(
        Ed25519PrivateKey.generate(),
        world.storage,
        world.up,
        listeners=[lambda *args: heard.append(args[:3])],
        prefix="test",
    )
    with pytest.raises(TrailUnavailable):
        trails.auctions()
    with pytest.raises(TrailUnavailable):
        await trails.tender_checkpoint("T-1", "receipt")
    trails.after_commit("a", [EVENTS[-1]])  # down: nothing, no error
    trails.after_tender_commit("T-1", [LotClosed(3, 1, "L1", 0)])
    await trails.drain()
    assert world.built == 0 and heard == []

    world.is_up = True
    payloads = await stored(world.events, "a")
    await world.tenders.append("T-1", [StoredTenderEvent(1, "TenderCreated", 1, b"created")])
    assert trails.auctions() is trails.auctions() and trails.tenders() is trails.tenders()
    assert world.built == 2
    trails.after_commit("a", [e for e in EVENTS if type(e) is BidAccepted])  # no checkpoint
    trails.after_commit("a", [EVENTS[-1]])  # AuctionEnded: one
    trails.after_tender_commit("T-1", [LotClosed(3, 1, "L1", 0)])
    await trails.drain()
    size = len(EVENTS)
    assert [(a, s) for a, _, s in heard] == [("a", size)]
    assert [c.reason for c in await world.checkpoints.notes("auction", "a")] == ["AuctionEnded"]
    assert [c.reason for c in await world.checkpoints.notes("tender", "T-1")] == ["LotClosed"]
    answer = await trails.tender_checkpoint("T-1", "receipt")
    assert answer["origin"] == "test/tender/T-1" and answer["size"] == 1
    assert answer["root"] == root([b"created"]).hex()
    assert trails.auctions().origin("a") == "test/auction/a"
    assert (await trails.auctions().tree("a")).root(size) == root(payloads)

    world.is_up = False  # stopping: built trails still answer, commits issue nothing
    trails.after_commit("a", [EVENTS[-1]])
    await trails.drain()
    assert len(heard) == 1 and trails.auctions() is not None


def test_the_trails_listeners_are_the_callers_list() -> None:
    world = World()
    world.is_up = True
    listeners: list[Any] = []
    trails = AuditTrails(Ed25519PrivateKey.generate(), world.storage, world.up, listeners=listeners)
    assert trails.auctions().listeners is listeners
    assert AuditTrails(Ed25519PrivateKey.generate(), world.storage, world.up).listeners == []


def test_the_trail_imports_no_http() -> None:
    # The dependency direction: api.http -> api.node -> api.audit -> storage, never back.
    code = (
        "import sys, api.audit.trail, api.audit.bundle, api.audit.ocds, api.audit.errors; "
        "print(sorted(m for m in sys.modules if m.startswith(('sanic', 'api.http', 'api.node'))))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert found.stdout.strip() == b"[]"
