"""Tenders in a cluster when their owner dies or pauses (issue 17), and who issues the
signed checkpoints of a tender's log. Real ``gavel serve`` processes, one real
PostgreSQL, a real NATS (:mod:`tests.api.cluster.nodes`,
:mod:`tests.api.cluster.test_tenders_cluster`).

- SIGKILL of a tender's owner while suppliers upload envelopes through the two other
  nodes: the next command through a survivor takes the lease over (there is no scan for
  tenders: they are claimed on demand once the dead node's lease lapsed), every upload
  that got a receipt is in the log once and its receipt verifies, uploads go on, the log
  is gapless. A second tender had one officer's share handed in before the kill: shares
  live in the owner's memory only, so the new owner records ``SharesDiscarded`` and the
  officers hand theirs in again; both tenders then open on the new owner.
- SIGSTOP of a tender's owner with an envelope upload sent to it over HTTP (held in its
  kernel's buffer); once its lease lapsed another node takes the tender over on the next
  command through it; SIGCONT: the stopped node cannot write at its old epoch (its lease
  is counted lost in ``/metrics``), and its upload is answered by the new owner or
  refused, never stored twice.
- Checkpoints: the receipt routes attach a checkpoint issued by the node that answered
  the HTTP request (often not the owner), the auctions' by the owner's observers, and
  ``GET …/checkpoint`` by whichever node is asked. Every node reads the same committed
  log from PostgreSQL and signs with the cluster's one key; Ed25519 is deterministic and
  the note holds no time, so two nodes' checkpoints of one size are the same bytes, and
  the store keeps the first row of each size (``ON CONFLICT DO NOTHING``: never a
  unique violation, never a 500). The tests check it through real nodes: every receipt's
  checkpoint verifies, covers its seq, has the Merkle root of the log's first ``size``
  rows and is byte-identical to the row kept for that size; checkpoints asked of all
  three nodes at once agree.
- An auction's checkpoints (opening, round ends, close) reach its subscribers on every
  node, not only the owner's (the owner publishes each as a note on the auction's events
  subject, after the events it covers).

Each test starts its own three nodes (a few seconds); the module runs in about 50 s.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from websockets.asyncio.client import connect

from api.audit.trail import KEY_NAME
from contracts import messages as m
from contracts.checkpoint import log_origin, parse_and_verify
from contracts.receipts import SignedReceipt, verify_receipt
from contracts.transparency import root as merkle_root
from engine.reasons import Reason
from tests.api.auctions.test_crash import now_us
from tests.api.cluster.nodes import Cluster
from tests.api.cluster.test_failover import metrics
from tests.api.cluster.test_tenders_cluster import (
    ClusterTender,
    http,
    server_public,
    tender_lease,
)
from tests.api.http.test_tenders import S


@pytest.fixture
async def cluster(pg_dsn: str, tmp_path: Path, nats_url: str):  # type: ignore[no-untyped-def]
    nodes = Cluster(tmp_path, pg_dsn, nats_url)
    await nodes.start()
    try:
        yield nodes
    finally:
        await nodes.stop()


# ------------------------------------------------------------------ helpers


@dataclass(slots=True)
class Upload:
    """One supplier's envelope, retried under one Idempotency-Key until answered."""

    bidder: str
    price: int
    after_kill: bool
    statuses: list[int] = field(default_factory=list)
    #: The 201 answer (receipt, signature, checkpoint), if one came.
    answer: dict[str, Any] | None = None
    #: When it started and ended (monotonic seconds).
    began: float = 0.0
    ended: float = 0.0


async def upload(
    tender: ClusterTender, item: Upload, nodes: tuple[int, ...], until_us: int
) -> None:
    """Send ``item`` through ``nodes`` in turn (the same key each time) until a receipt
    comes, the lot closes, or ``until_us``."""
    sealed = tender.seal(item.bidder, item.price)
    key = f"{tender.id}-{item.bidder}"
    item.began = time.monotonic()
    try:
        for node in itertools.cycle(nodes):
            if now_us() >= until_us:
                return
            answer = await tender.submit(node, item.bidder, sealed, key=key)
            item.statuses.append(answer.status)
            if answer.status == 201:
                item.answer = answer.body
                return
            if isinstance(answer.body, dict) and answer.body.get("code") == (
                Reason.SUBMISSION_CLOSED.value
            ):
                return
            await asyncio.sleep(0.2)
    finally:
        item.ended = time.monotonic()


async def log_rows(cluster: Cluster, tender_id: str) -> list[tuple[int, str, bytes]]:
    """``(seq, type, payload)`` of the tender's log, from PostgreSQL."""
    conn = await asyncpg.connect(cluster.dsn)
    try:
        rows = await conn.fetch(
            "SELECT seq, type, payload FROM tender_events WHERE tender_id = $1 ORDER BY seq",
            tender_id,
        )
    finally:
        await conn.close()
    return [(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]


async def kept_checkpoints(cluster: Cluster, tender_id: str) -> dict[int, str]:
    """Size -> note of every checkpoint kept for the tender."""
    conn = await asyncpg.connect(cluster.dsn)
    try:
        rows = await conn.fetch(
            "SELECT size, note FROM checkpoints WHERE stream_kind = 'tender' AND stream_id = $1",
            tender_id,
        )
    finally:
        await conn.close()
    return {int(r[0]): str(r[1]) for r in rows}


async def check_receipts(
    cluster: Cluster, tender: ClusterTender, answers: dict[str, dict[str, Any]]
) -> None:
    """Each answer (bidder -> 201 body) is a receipt that verifies, at a seq of the log
    holding that bidder's ``EnvelopeReceived``; its checkpoint verifies, covers the seq,
    has the root of the log's first ``size`` rows and is the row kept for that size."""
    public = await server_public(cluster, 1)
    key = cluster.nodes[0].key.public_key()
    rows = await log_rows(cluster, tender.id)
    kept = await kept_checkpoints(cluster, tender.id)
    by_seq = {seq: kind for seq, kind, _ in rows}
    for bidder, body in answers.items():
        signed = SignedReceipt.from_json({k: body[k] for k in ("receipt", "signature")})
        receipt = verify_receipt(signed, public)
        assert (receipt.tender_id, receipt.bidder_id, receipt.action) == (
            tender.id,
            bidder,
            "submitted",
        )
        assert by_seq.get(receipt.seq) == "EnvelopeReceived", (bidder, receipt.seq)
        checkpoint = body["checkpoint"]
        signed_cp = parse_and_verify(checkpoint["note"], KEY_NAME, key)
        assert signed_cp.origin == log_origin("tender", tender.id) == checkpoint["origin"]
        assert signed_cp.size == checkpoint["size"] >= receipt.seq
        leaves = [payload for _, _, payload in rows[: signed_cp.size]]
        assert signed_cp.root == merkle_root(leaves) == bytes.fromhex(checkpoint["root"])
        assert kept.get(signed_cp.size) == checkpoint["note"], (bidder, signed_cp.size)


def envelopes_once(log: list[tuple[int, str, bytes]], tender: ClusterTender) -> dict[str, int]:
    """Bidder -> how many ``EnvelopeReceived`` of theirs the log holds."""
    from engine.tender_records import EnvelopeReceived, decode_tender_event

    counts: dict[str, int] = {}
    for _, kind, payload in log:
        if kind == "EnvelopeReceived":
            event = decode_tender_event(payload)
            assert isinstance(event, EnvelopeReceived)
            counts[event.bidder] = counts.get(event.bidder, 0) + 1
    return counts


def gapless(log: list[tuple[int, str, bytes]]) -> None:
    assert [seq for seq, _, _ in log] == list(range(1, len(log) + 1))


# ------------------------------------------------------------------ SIGKILL


async def test_sigkill_of_a_tenders_owner_loses_no_receipted_envelope(cluster: Cluster) -> None:
    began = now_us()
    tender = ClusterTender(cluster, f"tk-{uuid.uuid4().hex[:8]}", began + 16 * S)
    await tender.create(0, threshold=2, follow_up="award")
    # A second tender whose deadline passes before the kill: one share handed in then.
    early = ClusterTender(cluster, f"tk-{uuid.uuid4().hex[:8]}", began + 4 * S)
    await early.create(0, threshold=2, follow_up="award")
    owner = await tender_lease(cluster, tender.id)
    assert owner is not None and owner[0] == cluster.node_id(1), owner
    assert (await tender_lease(cluster, early.id) or ("", 0))[0] == cluster.node_id(1)
    for node, bidder, price in ((1, "ann", 120_00), (2, "bob", 110_00)):
        sent = await early.submit(node, bidder, early.seal(bidder, price))
        assert sent.status == 201, sent.body

    # Suppliers upload through nodes 2 and 3 (neither owns the tender): a new one every
    # 0.15 s, up to 6 at a time (those in flight at the owner when it dies wait for the
    # forward's timeout, 12 s, and are answered OutcomeUnknown; they retry their key).
    uploads: list[Upload] = []
    killed = asyncio.Event()
    stopping = asyncio.Event()
    cutoff = tender.deadline - 2 * S

    async def suppliers_arrive() -> None:
        running: set[asyncio.Task[None]] = set()
        for n in itertools.count():
            if stopping.is_set() or now_us() >= cutoff:
                break
            if len(running) < 6:
                item = Upload(f"s{n}", 100_00 + n, killed.is_set())
                uploads.append(item)
                task = asyncio.create_task(upload(tender, item, (1 + n % 2, 2 - n % 2), cutoff))
                running.add(task)
                task.add_done_callback(running.discard)
            await asyncio.sleep(0.15)
        await asyncio.gather(*running)

    suppliers = [asyncio.create_task(suppliers_arrive())]
    try:
        # o1's share of the early tender reaches the owner's memory (through node 2).
        await early.wait_deadline()
        first = await early.hand_in(1, "o1")
        assert first.status == 201 and first.body["opened"] is False, first.body
        assert first.body["count"] == 1, first.body
        while sum(u.answer is not None for u in uploads) < 6 and now_us() < cutoff:
            await asyncio.sleep(0.05)
        assert sum(u.answer is not None for u in uploads) >= 6, "uploads never got going"

        cluster.nodes[0].kill()
        killed.set()
        killed_at = time.monotonic()
        # Uploads go on through the survivors: the next command takes the lease over.
        while now_us() < cutoff - S // 2:
            if sum(u.after_kill and u.answer is not None for u in uploads) >= 6:
                break
            await asyncio.sleep(0.05)
        stopping.set()
        await asyncio.wait_for(asyncio.gather(*suppliers), 60)
    finally:
        stopping.set()
        for task in suppliers:
            task.cancel()
    after = [u for u in uploads if u.after_kill and u.answer is not None]
    assert len(after) >= 3, [(u.bidder, u.statuses) for u in uploads if u.after_kill]
    taken = await tender_lease(cluster, tender.id)
    assert taken is not None and taken[0] != owner[0] and taken[1] > owner[1], (owner, taken)
    around = [u for u in uploads if u.ended > killed_at]
    print(
        f"\ntender failover: {len(uploads)} uploads, {sum(u.answer is not None for u in uploads)}"
        f" receipts, {len(after)} after the kill; lease {owner} -> {taken}; around the kill"
        f" (start, end, statuses; s after it): "
        + ", ".join(
            f"({u.began - killed_at:.1f}, {u.ended - killed_at:.1f}, {u.statuses})" for u in around
        )
    )

    # Every receipted upload is in the log once; none is in twice; the log is gapless.
    log = await log_rows(cluster, tender.id)
    gapless(log)
    counts = envelopes_once(log, tender)
    receipted = {u.bidder: u.answer for u in uploads if u.answer is not None}
    assert all(counts.get(bidder) == 1 for bidder in receipted), counts
    assert set(counts) <= {u.bidder for u in uploads} and max(counts.values()) == 1, counts
    await check_receipts(cluster, tender, receipted)

    # The early tender: o1's share died with its owner. Handed in again (o2 then o1)
    # through the survivors, it opens on the new owner.
    second = await early.hand_in(2, "o2")
    assert second.status == 201 and second.body["opened"] is False, second.body
    again = await early.hand_in(1, "o1")
    assert again.status == 201 and again.body["opened"] is True, again.body
    kinds = [kind for _, kind, _ in await log_rows(cluster, early.id)]
    assert kinds.count("SharesDiscarded") == 1, kinds
    assert kinds.index("SharesDiscarded") > kinds.index("ShareAccepted"), kinds
    assert kinds.count("ShareAccepted") == 3 and kinds.count("EnvelopeOpened") == 2, kinds
    offers = await http("GET", early.url(2, "/lots/L1/offers"), early.officer["o2"])
    assert sorted((o["bidder"], o["price"]) for o in offers.body["offers"]) == [
        ("ann", 120_00),
        ("bob", 110_00),
    ]

    # The big tender opens on the new owner too, with every stored offer.
    await tender.wait_deadline()
    assert (await tender.hand_in(1, "o3")).body["opened"] is False
    opened = await tender.hand_in(2, "o2")
    assert opened.status == 201 and opened.body["opened"] is True, opened.body
    offers = await http("GET", tender.url(1, "/lots/L1/offers"), tender.officer["o1"])
    assert offers.status == 200, offers.body
    prices = {u.bidder: u.price for u in uploads}
    got = {o["bidder"]: o["price"] for o in offers.body["offers"]}
    assert set(receipted) <= set(got) and all(prices[b] == p for b, p in got.items()), got
    log = await log_rows(cluster, tender.id)
    gapless(log)
    assert [kind for _, kind, _ in log].count("EnvelopeOpened") == len(got)
    assert "SharesDiscarded" not in [kind for _, kind, _ in log]


# ------------------------------------------------------------------ SIGSTOP


async def test_a_paused_tender_owner_cannot_write_after_losing_its_lease(
    cluster: Cluster,
) -> None:
    tender = ClusterTender(cluster, f"ts-{uuid.uuid4().hex[:8]}", now_us() + 30 * S)
    await tender.create(0, threshold=2, follow_up="award")
    owner = await tender_lease(cluster, tender.id)
    assert owner is not None and owner[0] == cluster.node_id(1), owner
    answers: dict[str, dict[str, Any]] = {}
    for node, bidder in ((1, "ann"), (2, "bob")):
        sent = await tender.submit(node, bidder, tender.seal(bidder, 120_00), key=bidder)
        assert sent.status == 201, sent.body
        answers[bidder] = sent.body

    paused = cluster.nodes[0]
    assert paused.process is not None
    os.kill(paused.process.pid, signal.SIGSTOP)
    try:
        # An upload sent to the paused owner waits in its kernel's socket buffer.
        cy = tender.seal("cy", 90_00)
        late = asyncio.create_task(tender.submit(0, "cy", cy, key="cy-late"))
        # Its lease lapses (no renewal); the next command through node 2 takes it over.
        deadline = time.monotonic() + 15
        while await tender_lease(cluster, tender.id) == owner and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert await tender_lease(cluster, tender.id) != owner
        dan = await tender.submit(1, "dan", tender.seal("dan", 100_00), key="dan")
        assert dan.status == 201, dan.body
        answers["dan"] = dan.body
        taken = await tender_lease(cluster, tender.id)
        assert taken is not None and taken[0] == cluster.node_id(2) and taken[1] > owner[1]
    finally:
        os.kill(paused.process.pid, signal.SIGCONT)
    answer = await asyncio.wait_for(late, 40)
    # Node 3 last sent this tender's commands to node 1: it learns the new holder from
    # node 1's answer (NotOwner) and goes there.
    eve = await tender.submit(2, "eve", tender.seal("eve", 95_00), key="eve")
    assert eve.status == 201, eve.body
    answers["eve"] = eve.body
    # Answered by the new owner (the paused node's append is fenced off and the command
    # forwarded) or refused; never a receipt for something not stored.
    assert answer.status in (201, 409, 503, 504), answer.body
    if answer.status == 201:
        answers["cy"] = answer.body
    # The same key through another node: the same answer, still stored at most once.
    retried = await tender.submit(2, "cy", cy, key="cy-late")
    if answer.status == 201:
        assert (retried.status, retried.body) == (answer.status, answer.body)
    elif retried.status == 201:
        answers["cy"] = retried.body
    await asyncio.sleep(1.5)  # the resumed node's renewal round has run

    resumed = metrics(paused.url)
    assert resumed.get("gavel_tender_leases_lost_total", 0) >= 1, resumed
    assert resumed.get("gavel_tender_leases_held", 0) == 0, resumed
    said = paused.log_path.read_text(errors="replace")
    print(
        f"\npaused owner: late upload answered {answer.status};"
        f" fenced at an append: {'tender lease lost at an append' in said};"
        f" renewal refused: {'tender lease not renewed' in said}"
    )
    assert "tender lease lost at an append" in said or "tender lease not renewed" in said

    log = await log_rows(cluster, tender.id)
    gapless(log)
    counts = envelopes_once(log, tender)
    assert all(n == 1 for n in counts.values()), counts
    assert set(answers) <= set(counts) <= set(answers) | {"cy"}, (counts, answers)
    await check_receipts(cluster, tender, answers)
    assert await tender_lease(cluster, tender.id) == taken

    # Checkpoints of the log asked of all three nodes at once (one of them the owner):
    # the same note from each, the one kept for that size; never a 500.
    asked = await asyncio.gather(
        *(
            http("GET", f"{node.url}/api/v1/audit/tenders/{tender.id}/checkpoint", token)
            for node in cluster.nodes
            for token in (tender.officer["o1"], tender.officer["o2"])
        )
    )
    assert all(a.status == 200 for a in asked), [(a.status, a.body) for a in asked]
    assert len({a.body["note"] for a in asked}) == 1, [a.body for a in asked]
    assert asked[0].body["size"] == len(log)
    kept = await kept_checkpoints(cluster, tender.id)
    assert kept[len(log)] == asked[0].body["note"]


# ------------------------------------------------------------------ auction checkpoints


async def _watch(cluster: Cluster, node: int, auction_id: str, token: str) -> list[str]:
    """The types of the messages a subscriber at node ``node`` gets until a while after
    the auction's close (``checkpoint`` frames included)."""
    url = f"{cluster.nodes[node].ws_url}/ws/v1/auctions/{auction_id}"
    got: list[str] = []
    async with connect(
        url,
        subprotocols=[m.PROTOCOL, f"gavel.bearer.{token}"],  # type: ignore[list-item]
        open_timeout=5,
    ) as ws:
        await ws.send(json.dumps({"type": "subscribe", "since": 0}))
        closed_at: float | None = None
        while closed_at is None or time.monotonic() < closed_at + 2.0:
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
            except TimeoutError:
                continue
            got.append(message["type"])
            if message["type"] == "event" and message["event"]["type"] == "AuctionEnded":
                closed_at = time.monotonic()
            if closed_at is None and len(got) > 200:
                break
    return got


async def test_an_auctions_checkpoint_reaches_subscribers_on_every_node(
    cluster: Cluster,
) -> None:
    auction = f"cp-{cluster.tag}"
    tokens = await cluster.create(auction, ["ann", "bob"], seconds=4.0)
    owner, _, _ = await cluster.wait_for_owner(auction)
    at = cluster.index_of(owner)
    elsewhere = (at + 1) % 3
    there, here = await asyncio.gather(
        _watch(cluster, at, auction, tokens["ann"]),
        _watch(cluster, elsewhere, auction, tokens["bob"]),
    )
    assert "checkpoint" in there, there  # the owner's subscriber gets the close's
    assert "checkpoint" in here, here  # and a subscriber on another node too
