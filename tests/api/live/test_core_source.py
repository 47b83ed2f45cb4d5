"""The core's live sources (:mod:`api.live.core_source`) over a real in-memory service: a
:class:`CoreSession` makes auctions current by loading their runners and submits to them;
a :class:`CoreSource` serves only while its node's service runs and is not closing."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from api.access import rules as access
from api.access.revocations import Revocations
from api.auctions.outcomes import new_command_id
from api.auctions.runner import RunnerStopped
from api.auctions.service import Service
from api.live.core_source import CoreNode, CoreSession, CoreSource
from api.live.hub import Hub
from api.live.source import LiveSource, SessionSource
from engine import RegisterBidder
from tests.api.auctions.test_crash import T0, Clock, service_with_auction

_KEY = Ed25519PrivateKey.generate().public_key()


@dataclass
class Node:
    """A stand-in for the core's node (the attributes :class:`CoreNode` names)."""

    hub: Hub
    service: Service | None = None
    closing: bool = False
    sockets: set[Any] = field(default_factory=set)
    public_key: Ed25519PublicKey = field(default_factory=lambda: _KEY)
    revoked: Revocations = field(default_factory=Revocations)


def _session(service: Service) -> CoreSession:
    hub = service.hub
    assert isinstance(hub, Hub)
    return CoreSession(service, hub)


async def test_a_core_session_loads_runners_reads_the_log_and_submits() -> None:
    service = await service_with_auction(Clock(T0))
    session: SessionSource = _session(service)
    assert session.clock() == T0 and not session.closing
    assert session.hub is service.hub
    assert await session.prepare("a-1")
    assert not await session.prepare("no-such-auction")
    await session.catch_up("a-1")  # nothing to do on the core
    head = session.hub.channel("a-1").head
    assert [event.seq for event in await session.history("a-1", 0)] == list(range(1, head + 1))
    assert [event.seq for event in await session.history("a-1", 0, 1)] == [1]
    events = await session.submit(
        "a-1",
        lambda at: RegisterBidder(new_command_id("r"), at, "cy", Decimal(0), Decimal(0), None),
    )
    assert events[-1].seq == head + 1 == session.hub.channel("a-1").head
    await service.close()
    assert session.closing
    with pytest.raises(RunnerStopped):
        await session.prepare("other")


async def test_a_core_source_serves_only_while_its_service_runs() -> None:
    counted: list[tuple[bool, str | None]] = []
    slow: list[None] = []
    node = Node(Hub())
    typed_node: CoreNode = node
    source: LiveSource = CoreSource(
        typed_node, on_result=lambda a, r: counted.append((a, r)), on_slow=lambda: slow.append(None)
    )
    assert source.serving() is None  # not started
    service = await service_with_auction(Clock(T0))
    node.service, node.hub = service, _session(service).hub
    serving = source.serving()
    assert isinstance(serving, CoreSession) and serving.hub is node.hub
    assert source.public_key is _KEY and source.revoked is node.revoked
    assert source.sockets is node.sockets and source.access_rules is access.ROUTES
    assert not source.closing
    node.closing = True
    assert source.closing and source.serving() is None
    source.on_result(False, "insufficient_improvement")
    source.on_slow()
    assert counted == [(False, "insufficient_improvement")] and slow == [None]
    await service.close()


def test_a_core_source_counts_nothing_by_default() -> None:
    source = CoreSource(Node(Hub()))
    source.on_result(True, None)
    source.on_slow()
