"""Three Gavel nodes on one machine, and bidders that move between them, for the
cluster tests: real processes, one real PostgreSQL database, a real NATS.

:class:`Cluster` starts ``gavel serve`` processes (separate ports, one signing key, one
database, ``NATS_URL``), each named uniquely for the test so that tests sharing one NATS
server never hear each other. :class:`Roamer` is a bidder over websockets that keeps
one bid in flight, records every ack, and when its node goes away reconnects to the next
node and resumes from the last seq it saw; every event it receives is checked to follow
the one before (no gap, no repeat) across reconnections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from contracts import messages as m
from engine import Event
from engine.codec import decode_event
from loadtests.server_process import ServerProcess
from tests.api.auctions.test_crash import http, minor, now_us

S = 1_000_000

#: Rate limits lifted (the test asks often from one address), snapshots often.
NODE_ENV = {
    "GAVEL_RATE_PER_S": "100000",
    "GAVEL_RATE_BURST": "100000",
    "GAVEL_WS_RATE_PER_S": "100000",
    "GAVEL_WS_RATE_BURST": "100000",
    "GAVEL_SNAPSHOT_EVERY": "100",
    "GAVEL_LOG_LEVEL": "INFO",
}


class Cluster:
    """``size`` nodes of one cluster (see the module docstring)."""

    def __init__(self, tmp_path: Path, dsn: str, nats_url: str, size: int = 3) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.dsn = dsn
        self.nats_url = nats_url
        self.nodes: list[ServerProcess] = []
        for index in range(1, size + 1):
            node = ServerProcess(
                tmp_path / f"node-{index}",
                database_url=dsn,
                env={
                    **NODE_ENV,
                    "NATS_URL": nats_url,
                    "GAVEL_CLUSTER": f"test-{self.tag}",
                    "GAVEL_NODE_ID": self.node_id(index),
                },
            )
            if self.nodes:
                node.key = self.nodes[0].key
            self.nodes.append(node)

    def node_id(self, index: int) -> str:
        """The name of node ``index`` (1-based), unique to this cluster."""
        return f"n{index}-{self.tag}"

    def index_of(self, node_id: str) -> int:
        """0-based position of the node named ``node_id``."""
        return int(node_id.split("-")[0][1:]) - 1

    @staticmethod
    def node_of(owner: str) -> str:
        """The node id of a lease owner (``<node id>.<token drawn at start>``)."""
        node, dot, token = owner.rpartition(".")
        assert dot and len(token) == 6, owner
        return node

    async def start(self, count: int | None = None) -> None:
        """Start the first ``count`` nodes (all by default): the first alone (it applies
        the migrations), then the others together."""
        first, *others = self.nodes[:count]
        await asyncio.to_thread(first.start)
        await asyncio.gather(*(asyncio.to_thread(node.start) for node in others))

    async def owners(self) -> dict[str, int]:
        """Live auction leases per node id, from PostgreSQL."""
        conn = await asyncpg.connect(self.dsn)
        try:
            rows = await conn.fetch(
                "SELECT owner, count(*) FROM leases WHERE kind = 'auction'"
                " AND expires_at > clock_timestamp() AND NOT released GROUP BY owner"
            )
        finally:
            await conn.close()
        return {self.node_of(str(row[0])): int(row[1]) for row in rows}

    def restart(self, index: int) -> ServerProcess:
        """Node ``index`` (0-based) started again on its port, data dir and key."""
        old = self.nodes[index]
        again = ServerProcess(old.data_dir, database_url=self.dsn, port=old.port, env=old.extra_env)
        again.key = old.key
        self.nodes[index] = again
        again.start()
        return again

    async def stop(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.kill()

    @property
    def officer(self) -> str:
        return self.nodes[0].token("officer-1", "officer")

    async def owner(self, auction_id: str) -> tuple[str, int] | None:
        """``(node id, epoch)`` of the live lease on the auction, from PostgreSQL."""
        conn = await asyncpg.connect(self.dsn)
        try:
            row = await conn.fetchrow(
                "SELECT owner, epoch FROM leases WHERE kind = 'auction' AND stream_id = $1"
                " AND expires_at > clock_timestamp() AND NOT released",
                auction_id,
            )
        finally:
            await conn.close()
        return None if row is None else (self.node_of(str(row[0])), int(row[1]))

    async def wait_for_owner(
        self, auction_id: str, *, other_than: str | None = None, timeout_s: float = 15.0
    ) -> tuple[str, int, float]:
        """Poll until a node other than ``other_than`` holds the lease: ``(node id,
        epoch, seconds waited)``."""
        began = time.monotonic()
        while time.monotonic() - began < timeout_s:
            found = await self.owner(auction_id)
            if found is not None and found[0] != other_than:
                return found[0], found[1], time.monotonic() - began
            await asyncio.sleep(0.05)
        raise AssertionError(f"no node other than {other_than} took {auction_id} in {timeout_s} s")

    async def log(self, auction_id: str) -> list[Event]:
        """The auction's events straight from PostgreSQL, in seq order."""
        conn = await asyncpg.connect(self.dsn)
        try:
            rows = await conn.fetch(
                "SELECT payload FROM events WHERE auction_id = $1 ORDER BY seq", auction_id
            )
        finally:
            await conn.close()
        return [decode_event(bytes(row[0])) for row in rows]

    async def quiet_log(self, auction_id: str, quiet_s: float = 1.5) -> list[Event]:
        """The auction's log once it stopped growing for ``quiet_s`` seconds (a command
        that waited for a lease to settle may commit seconds after its client left)."""
        events = await self.log(auction_id)
        while True:
            await asyncio.sleep(quiet_s)
            again = await self.log(auction_id)
            if len(again) == len(events):
                return again
            events = again

    async def create(
        self, auction_id: str, parties: list[str], *, seconds: float = 600.0, node: int = 0
    ) -> dict[str, str]:
        """A reverse auction (each bid beats one's own by a cent) starting now, created
        and its bidders registered through node ``node``; each party's token."""
        url = self.nodes[node].url
        starts_at = now_us() + S // 5
        rules = {
            "format": "reverse",
            "currency": "EUR",
            "starts_at": starts_at,
            "ends_at": starts_at + int(seconds * S),
            "start_price": minor(1_000_000),
            "step": {"amount": minor(1)},
            "improvement": "beat_own",
        }
        created = await http(
            "POST", f"{url}/api/v1/auctions", self.officer, {"id": auction_id, "rules": rules}
        )
        assert created.status == 201, created.body
        tokens = {}
        for party in parties:
            answer = await http(
                "POST",
                f"{url}/api/v1/auctions/{auction_id}/bidders",
                self.officer,
                {"party": party},
            )
            assert answer.status == 201, answer.body
            tokens[party] = answer.body["token"]
        delay = (starts_at - now_us()) / S + 0.05
        if delay > 0:
            await asyncio.sleep(delay)
        return tokens


@dataclass(slots=True)
class Roamer:
    """A bidder that moves to another node when its own goes away."""

    party: str
    token: str
    auction_id: str
    cluster: Cluster
    node: int
    #: seq -> (price, request id) of each acknowledged bid.
    acks: dict[int, tuple[int, str]] = field(default_factory=dict)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    #: Bids sent whose answer never came (their socket closed first): they may stand.
    unanswered: list[int] = field(default_factory=list)
    #: Every event seq received, in order, across reconnections.
    seen: list[int] = field(default_factory=list)
    reconnects: int = 0
    next_price: int = 1_000_000 - 1
    counter: int = 0
    stopping: bool = False

    async def _connect(self) -> ClientConnection:
        nodes = self.cluster.nodes
        for attempt in range(200):
            node = nodes[(self.node + attempt) % len(nodes)]
            try:
                ws = await connect(
                    f"{node.ws_url}/ws/v1/auctions/{self.auction_id}",
                    subprotocols=[m.PROTOCOL, f"gavel.bearer.{self.token}"],  # type: ignore[list-item]
                    open_timeout=5,
                )
            except (OSError, InvalidHandshake, InvalidStatus, TimeoutError):
                await asyncio.sleep(0.1)
                continue
            self.node = (self.node + attempt) % len(nodes)
            since = self.seen[-1] if self.seen else 0
            await ws.send(json.dumps({"type": "subscribe", "since": since}))
            return ws
        raise AssertionError(f"{self.party} found no node to connect to")

    def _saw(self, seq: int) -> None:
        expected = self.seen[-1] + 1 if self.seen else 1
        assert seq == expected, f"{self.party}: event {seq} after {self.seen[-1:]} (gap or repeat)"
        self.seen.append(seq)

    async def run(self, bids: int | None = None) -> None:
        """Bid until :attr:`stopping` (or ``bids`` answered), one bid in flight."""
        answered = 0
        while not self.stopping and (bids is None or answered < bids):
            ws = await self._connect()
            in_flight: tuple[str, int] | None = None
            try:
                while not self.stopping and (bids is None or answered < bids):
                    if in_flight is None:
                        self.counter += 1
                        request_id = f"{self.party}-{self.counter}"
                        in_flight = (request_id, self.next_price)
                        self.next_price -= 1
                        await ws.send(
                            json.dumps(
                                {
                                    "type": "bid",
                                    "request_id": request_id,
                                    "amount": minor(in_flight[1]),
                                    "currency": "EUR",
                                }
                            )
                        )
                    message = json.loads(await asyncio.wait_for(ws.recv(), 20))
                    kind = message["type"]
                    if kind == "event":
                        self._saw(int(message["seq"]))
                    elif kind in ("ack", "reject", "outcome_unknown") and in_flight is not None:
                        assert message["request_id"] == in_flight[0], message
                        if kind == "ack":
                            self.acks[int(message["seq"])] = (in_flight[1], in_flight[0])
                        elif kind == "reject":
                            self.rejects.append(message)
                        else:
                            self.unanswered.append(in_flight[1])
                        answered += 1
                        in_flight = None
            except (ConnectionClosed, TimeoutError, OSError):
                if in_flight is not None:
                    self.unanswered.append(in_flight[1])
                self.reconnects += 1
                self.node += 1
            finally:
                with contextlib.suppress(Exception):
                    await ws.close()

    async def settle(self, head: int, timeout_s: float = 15.0) -> None:
        """Read (reconnecting if need be) until event ``head`` was seen."""
        deadline = time.monotonic() + timeout_s
        while (not self.seen or self.seen[-1] < head) and time.monotonic() < deadline:
            ws = await self._connect()
            try:
                while (not self.seen or self.seen[-1] < head) and time.monotonic() < deadline:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    if message["type"] == "event":
                        self._saw(int(message["seq"]))
            except (ConnectionClosed, TimeoutError, OSError):
                self.node += 1
            finally:
                with contextlib.suppress(Exception):
                    await ws.close()
        assert self.seen and self.seen[-1] >= head, (self.party, self.seen[-3:], head)


def check_log(events: list[Event], roamers: list[Roamer]) -> None:
    """The log is gapless from 1; every ack is there at its seq as its bidder's bid at
    its price; every roamer saw exactly the log's seqs."""
    from engine import BidAccepted

    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    by_seq = {event.seq: event for event in events}
    for roamer in roamers:
        for seq, (price, _request_id) in roamer.acks.items():
            event = by_seq.get(seq)
            assert isinstance(event, BidAccepted), (roamer.party, seq, event)
            assert (event.bidder, event.price) == (roamer.party, price)
        assert roamer.seen == list(range(1, len(events) + 1)), (
            roamer.party,
            roamer.seen[-3:],
            len(events),
        )
    # No bid stands twice: each (bidder, price) at most once.
    bids = [(e.bidder, e.price) for e in events if isinstance(e, BidAccepted)]
    assert len(bids) == len(set(bids))
