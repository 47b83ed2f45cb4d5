"""Sealed tenders on three nodes (issue 17): one owner per tender by lease, every other
node forwards its commands there and answers as the owner would. Real ``gavel serve``
processes, one real PostgreSQL, a real NATS (:mod:`tests.api.cluster.nodes`).

One tender goes the whole way: created and published through node 1 (which so holds its
lease), envelopes sealed in Python (:mod:`contracts.sealing`) and uploaded through nodes 2
and 3, one of them retried under its ``Idempotency-Key`` through another node (the same
receipt, recorded once), a late envelope refused with the same problem code through a
node that does not own the tender as through the owner, the shares of two officers of
three (k = 2) handed in through two different nodes (they must all reach the owner's
memory), the offers opened with the right prices and the award recorded; receipts,
views and logs read through each node are the same bytes. A second tender is handed off
to a multi-round auction through node 3, whose auction then lives on node 3 while the
tender stays owned by node 1.
"""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from api.auctions.runner import NotOwner
from api.cluster.bus import Bus
from api.cluster.tender_ownership import TenderOwnership
from api.storage.leases import PostgresLeaseStore
from contracts import custody, sealing
from contracts.receipts import SignedReceipt, verify_receipt
from engine.reasons import Reason
from tests.api.auctions.test_crash import Answer, now_us
from tests.api.cluster.nodes import Cluster
from tests.api.http.test_tenders import KEYS, OFFICERS, S, hand_off_rules

T = "/api/v1/tenders"


def _http(
    method: str, url: str, token: str, body: Any = None, headers: dict[str, str] | None = None
) -> Answer:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, json.loads(response.read()), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Answer(error.code, json.loads(error.read() or b"null"), dict(error.headers))


async def http(
    method: str, url: str, token: str, body: Any = None, headers: dict[str, str] | None = None
) -> Answer:
    return await asyncio.to_thread(_http, method, url, token, body, headers)


@pytest.fixture
async def cluster(pg_dsn: str, tmp_path: Path, nats_url: str):  # type: ignore[no-untyped-def]
    nodes = Cluster(tmp_path, pg_dsn, nats_url)
    await nodes.start()
    try:
        yield nodes
    finally:
        await nodes.stop()


class ClusterTender:
    """One tender on the cluster, its committee o1-o3 (k of 3) and its bidders."""

    def __init__(self, cluster: Cluster, tender_id: str, deadline: int) -> None:
        self.cluster = cluster
        self.id = tender_id
        self.deadline = deadline
        self.public_key = b""
        first = cluster.nodes[0]
        self.officer = {name: first.token(name, "officer") for name in OFFICERS}

    def url(self, node: int, path: str = "") -> str:
        return f"{self.cluster.nodes[node].url}{T}/{self.id}{path}"

    def bidder(self, name: str) -> str:
        return self.cluster.nodes[0].token(name, "bidder", self.id)

    async def create(self, node: int, *, threshold: int, follow_up: str) -> None:
        body = {
            "id": self.id,
            "title": "Bridges",
            "currency": "EUR",
            "officers": [
                {"id": name, "public_key": KEYS[name].encryption_public.hex()} for name in OFFICERS
            ],
            "threshold": threshold,
            "lots": [
                {"id": "L1", "title": "A", "deadline": self.deadline, "opening_at": self.deadline}
            ],
            "publication": "committee",
            "follow_up": follow_up,
            **({"auction_rules": {"format": "multiround"}} if follow_up == "auction" else {}),
        }
        base = self.cluster.nodes[node].url
        created = await http("POST", f"{base}{T}", self.officer["o1"], body)
        assert created.status == 201, created.body
        published = await http("POST", self.url(node, "/ceremony"), self.officer["o1"], {})
        assert published.status == 201, published.body
        self.public_key = bytes.fromhex(published.body["opening_public_key"])

    def seal(self, bidder: str, amount: int) -> bytes:
        info = sealing.envelope_info(self.id, "L1", "financial", bidder, self.deadline)
        offer = sealing.Offer(amount_minor=amount, currency="EUR")
        return sealing.seal(self.public_key, info, sealing.encode_offer(offer))

    async def submit(self, node: int, bidder: str, ciphertext: bytes, key: str = "") -> Answer:
        return await http(
            "POST",
            self.url(node, "/lots/L1/envelopes"),
            self.bidder(bidder),
            {"kind": "financial", "ciphertext": base64.b64encode(ciphertext).decode()},
            {"Idempotency-Key": key} if key else None,
        )

    async def hand_in(self, node: int, officer: str) -> Answer:
        mine = await http("GET", self.url(node, "/shares/mine"), self.officer[officer])
        assert mine.status == 200, mine.body
        share = custody.decrypt_share(
            custody.EncryptedShare.from_json(mine.body),
            KEYS[officer].encryption_private,
            ceremony_public=await server_public(self.cluster, node),
            tender_id=self.id,
        )
        return await http(
            "POST",
            self.url(node, "/lots/L1/shares"),
            self.officer[officer],
            {"kind": "financial", "share": share.to_json()},
        )

    async def wait_deadline(self) -> None:
        while now_us() <= self.deadline:
            await asyncio.sleep(max(0.01, (self.deadline - now_us()) / S + 0.01))

    async def same_everywhere(self, path: str, token: str) -> Any:
        """GET ``path`` through every node: the same status and body (but the clock
        reading ``server_time``); that body."""
        answers = [await http("GET", self.url(i, path), token) for i in range(3)]
        assert all(a.status == 200 for a in answers), [a.body for a in answers]
        bodies = [{k: v for k, v in a.body.items() if k != "server_time"} for a in answers]
        assert bodies[1] == bodies[0] == bodies[2], path
        return answers[0].body


async def server_public(cluster: Cluster, node: int) -> bytes:
    answer = await http("GET", f"{cluster.nodes[node].url}{T}/server-key", "")
    assert answer.status == 200, answer.body
    return bytes.fromhex(answer.body["public_key"])


async def tender_lease(cluster: Cluster, tender_id: str) -> tuple[str, int] | None:
    conn = await asyncpg.connect(cluster.dsn)
    try:
        row = await conn.fetchrow(
            "SELECT owner, epoch FROM leases WHERE kind = 'tender' AND stream_id = $1"
            " AND expires_at > clock_timestamp() AND NOT released",
            tender_id,
        )
    finally:
        await conn.close()
    return None if row is None else (cluster.node_of(str(row[0])), int(row[1]))


async def tender_log(cluster: Cluster, tender_id: str) -> list[tuple[int, str]]:
    conn = await asyncpg.connect(cluster.dsn)
    try:
        rows = await conn.fetch(
            "SELECT seq, type FROM tender_events WHERE tender_id = $1 ORDER BY seq", tender_id
        )
    finally:
        await conn.close()
    return [(int(row[0]), str(row[1])) for row in rows]


async def test_a_tender_runs_at_its_owner_whichever_node_is_asked(cluster: Cluster) -> None:
    tender = ClusterTender(cluster, f"t-{uuid.uuid4().hex[:8]}", now_us() + 6 * S)
    await tender.create(0, threshold=2, follow_up="award")
    owner = await tender_lease(cluster, tender.id)
    assert owner is not None and owner[0] == cluster.node_id(1), owner
    public = await server_public(cluster, 1)
    assert public == await server_public(cluster, 0)

    # Envelopes through the two nodes that do not own the tender; ann's retried under
    # its Idempotency-Key through a third node gets the same receipt, recorded once.
    ann = tender.seal("ann", 120_00)
    first = await tender.submit(1, "ann", ann, key="ann-1")
    assert first.status == 201, first.body
    retried = await tender.submit(2, "ann", ann, key="ann-1")
    assert (retried.status, retried.body) == (first.status, first.body)
    bob = await tender.submit(2, "bob", tender.seal("bob", 110_00))
    assert bob.status == 201, bob.body
    for answer, bidder in ((first, "ann"), (bob, "bob")):
        signed = SignedReceipt.from_json({k: answer.body[k] for k in ("receipt", "signature")})
        receipt = verify_receipt(signed, public)
        assert (receipt.tender_id, receipt.bidder_id, receipt.action) == (
            tender.id,
            bidder,
            "submitted",
        )
        assert receipt.received_at_us <= tender.deadline
        # The stored receipt, read through each node, is the one answered.
        seq = receipt.seq
        stored = await tender.same_everywhere(f"/receipts/{seq}", tender.officer["o1"])
        assert stored == {k: answer.body[k] for k in stored}

    # A second tender, to be handed off to an auction later (sealed in now: its deadline
    # passes with the first one's).
    second = ClusterTender(cluster, f"t-{uuid.uuid4().hex[:8]}", tender.deadline)
    await second.create(0, threshold=1, follow_up="auction")
    for node, bidder, price in ((1, "ann", 120_00), (2, "bob", 110_00)):
        sent = await second.submit(node, bidder, second.seal(bidder, price))
        assert sent.status == 201, sent.body

    # After the deadline: the same refusal through the owner and through the others.
    await tender.wait_deadline()
    codes = []
    for node in (0, 1, 2):
        late = await tender.submit(node, "cy", tender.seal("cy", 100_00))
        codes.append((late.status, late.body["code"]))
    assert codes == [(409, Reason.SUBMISSION_CLOSED.value)] * 3, codes

    # The shares of o1 and o3 through nodes 2 and 3: both reach the owner, which opens.
    one = await tender.hand_in(1, "o1")
    assert one.status == 201 and one.body["opened"] is False and one.body["count"] == 1, one.body
    two = await tender.hand_in(2, "o3")
    assert two.status == 201 and two.body["opened"] is True, two.body
    offers = await tender.same_everywhere("/lots/L1/offers", tender.officer["o2"])
    assert sorted((o["bidder"], o["price"]) for o in offers["offers"]) == [
        ("ann", 120_00),
        ("bob", 110_00),
    ]
    award = await http("POST", tender.url(2, "/lots/L1/award"), tender.officer["o2"], {})
    assert award.status == 200, award.body
    assert (award.body["event"]["winner"], award.body["event"]["price"]) == ("bob", 110_00)
    again = await http("POST", tender.url(0, "/lots/L1/award"), tender.officer["o2"], {})
    elsewhere = await http("POST", tender.url(1, "/lots/L1/award"), tender.officer["o2"], {})
    assert (again.status, again.body["code"]) == (elsewhere.status, elsewhere.body["code"])
    assert again.status == 409 and again.body["code"] == Reason.LOT_DECIDED.value

    # One owner all along; the log is gapless, ann's envelope in it once.
    assert await tender_lease(cluster, tender.id) == owner
    log = await tender_log(cluster, tender.id)
    assert [seq for seq, _ in log] == list(range(1, len(log) + 1))
    kinds = [kind for _, kind in log]
    assert kinds.count("EnvelopeReceived") == 2 and kinds.count("ShareAccepted") == 2
    assert kinds.count("EnvelopeOpened") == 2 and "SharesDiscarded" not in kinds
    assert kinds[-1] == "CommandRejected" and "LotAwarded" in kinds
    events = await tender.same_everywhere("/events", tender.officer["o1"])
    assert [e["seq"] for e in events["events"]] == [seq for seq, _ in log]
    view = await tender.same_everywhere("", tender.officer["o1"])
    assert view["id"] == tender.id

    # The second tender handed off through node 3: the auction is created (and so
    # owned) there, the tender still at node 1; the opened prices are its initial bids.
    await second.wait_deadline()
    opened = await second.hand_in(1, "o2")
    assert opened.status == 201 and opened.body["opened"] is True, opened.body
    handed = await http(
        "POST",
        second.url(2, "/lots/L1/auction"),
        second.officer["o1"],
        {"rules": hand_off_rules()},
    )
    assert handed.status == 201, handed.body
    auction_id = handed.body["auction_id"]
    assert (await cluster.owner(auction_id) or ("", 0))[0] == cluster.node_id(3)
    assert (await tender_lease(cluster, second.id) or ("", 0))[0] == cluster.node_id(1)
    for node in (0, 1):
        state = await http(
            "GET", f"{cluster.nodes[node].url}/api/v1/auctions/{auction_id}", cluster.officer
        )
        assert state.status == 200, state.body
        ranking = {line["bidder"]: line["price"] for line in state.body["ranking"]}
        assert ranking == {"bob": 110_00, "ann": 120_00}
    assert set(handed.body["tokens"]) == {"ann", "bob"}


# ------------------------------------------------------------------ TenderOwnership alone


async def test_tender_ownership_claims_forwards_releases_idle_and_drains(
    pg_pool: asyncpg.Pool, nats_url: str
) -> None:
    """Two :class:`TenderOwnership` over one real PostgreSQL and NATS, in one process:
    the first command's node holds the lease, the other forwards to it, an idle tender is
    released at the next round and taken by the next node asked, a drain releases all."""
    root = f"test-{uuid.uuid4().hex[:8]}"
    buses = [await Bus.connect(nats_url, name=f"t{i}", root=root) for i in range(2)]
    idle = {"a": False, "b": False}

    def make(name: str, bus: Bus) -> TenderOwnership:
        async def serve(payload: bytes) -> bytes:
            return json.dumps({"events": [], "at": name, "got": payload.decode()}).encode()

        return TenderOwnership(
            PostgresLeaseStore(pg_pool),
            bus,
            node_id=name,
            ttl_s=5,
            renew_s=1,
            serve=serve,
            idle=lambda tender_id, idle_s: idle[name],
            forward_timeout_s=5,
        )

    a, b = make("a", buses[0]), make("b", buses[1])
    try:
        await a.start()
        await b.start()
        await buses[0].flush()
        await buses[1].flush()
        assert await a.claim("t1") == 1 and a.holding("t1") == 1
        assert await b.claim("t1") is None and b.holding("t1") is None
        with pytest.raises(NotOwner):
            await a.forward("t1", b"{}")  # it holds the lease itself: nobody to send it to
        answer = json.loads(await b.forward("t1", b"call"))
        assert (answer["at"], answer["got"]) == ("a", "call")
        assert (b.stats.forwarded, a.stats.served) == (1, 1)
        await a.beat()
        await a.round()  # renewed, not idle: kept
        assert a.holding("t1") == 1
        idle["a"] = True
        await a.round()
        assert a.holding("t1") is None and a.stats.released == 1
        assert await b.claim("t1") == 2  # a released it: the next node asked takes it
        await b.drain()
        assert b.holding("t1") is None and await b.claim("t1") is None  # draining
        assert await a.claim("t1") == 3
        # A holder that does not answer: NotOwner, the holder forgotten.
        await a.stop()
        await buses[0].flush()  # the unsubscription has reached the server
        with pytest.raises(NotOwner):
            await b.forward("t1", b"call")
    finally:
        for ownership in (a, b):
            await ownership.stop()
        for bus in buses:
            await bus.close()
