"""What the in-memory adapters (:mod:`api.storage.memory`) add to their ports' contracts.

Each adapter's behaviour as a port is in its port's contract suite (``test_ports.py``,
``test_idempotency.py``, ``test_tenders.py``, ``test_tokens.py``, ``test_checkpoints.py``);
here: the marks an event store keeps (and records in its idempotency keys), and how
the keys take a mark.
"""

from __future__ import annotations

import pytest

from api.storage.checkpoints import CheckpointStore
from api.storage.errors import ReservationLost
from api.storage.idempotency import Committed, IdempotencyKeys
from api.storage.memory import (
    MemoryCheckpointStore,
    MemoryEventStore,
    MemoryIdempotencyKeys,
    MemoryTenderStore,
    MemoryTokenStore,
)
from api.storage.ports import CommandMark, EventStore, StoredEvent
from api.storage.tenders import TenderStore
from api.storage.tokens import TokenStore


def test_each_adapter_is_typed_as_its_port() -> None:
    # A static check: `mypy --strict tests/api/storage/test_memory.py` fails on an adapter
    # that drifts from its port (tests are outside pyproject's mypy files).
    ports: tuple[EventStore, IdempotencyKeys, TenderStore, TokenStore, CheckpointStore] = (
        MemoryEventStore(),
        MemoryIdempotencyKeys(),
        MemoryTenderStore(),
        MemoryTokenStore(),
        MemoryCheckpointStore(),
    )
    assert len(ports) == 5


async def test_the_event_store_keeps_every_mark_in_order() -> None:
    store = MemoryEventStore()
    first = CommandMark("p", "k1", 1, 1, 1)
    second = CommandMark("p", "k2", 2, 2, 3)
    await store.append("a", [StoredEvent("a", 1, "t", 0, b"1")], [first])
    await store.append("a", [StoredEvent("a", s, "t", 0, b"x") for s in (2, 3)], [second])
    assert store.marks == [("a", first), ("a", second)]


async def test_a_mark_needs_its_reservation_held() -> None:
    keys = MemoryIdempotencyKeys()
    reserved = await keys.reserve(
        "p", "k", b"f" * 32, now=100, expired_before=0, lease_before=90, command_id="c"
    )
    assert reserved is not None and keys.held("p", "k", 100)
    assert not keys.held("p", "k", 99) and not keys.held("p", "other", 100)
    assert not keys.mark("t-1", CommandMark("p", "k", 99, 1, 2))
    assert keys.mark("t-1", CommandMark("p", "k", 100, 1, 2))
    again = await keys.reserve(
        "p", "k", b"f" * 32, now=200, expired_before=0, lease_before=190, command_id="d"
    )
    assert again is not None and again.committed == Committed("t-1", 1, 2)
    assert again.command_id == "c"


async def test_an_event_store_with_keys_refuses_a_lost_mark() -> None:
    keys = MemoryIdempotencyKeys()
    store = MemoryEventStore(keys)
    await keys.reserve(
        "p", "k", b"f" * 32, now=100, expired_before=0, lease_before=90, command_id="c"
    )
    with pytest.raises(ReservationLost):
        await store.append("a", [StoredEvent("a", 1, "t", 0, b"1")], [CommandMark("p", "k", 99)])
    assert await store.last_seq("a") == 0 and store.marks == []
    await store.append("a", [StoredEvent("a", 1, "t", 0, b"1")], [CommandMark("p", "k", 100, 1, 1)])
    assert not keys.held("p", "k", 99) and keys.held("p", "k", 100)
    taken = await keys.reserve(
        "p", "k", b"f" * 32, now=200, expired_before=0, lease_before=190, command_id="d"
    )
    assert taken is not None and taken.committed == Committed("a", 1, 1)
