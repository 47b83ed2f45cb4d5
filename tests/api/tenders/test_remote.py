"""The wire form of a tender call (:mod:`api.tenders.remote`) and the service's cluster
path (``owners``): every method's call run by :func:`serve_call` on the owner's service
comes back as the same answer, every error as the same class, message and fields; and two
services on one store, with real in-memory leases, run each tender at its one holder,
forward the rest there, and move to the new holder when an append is fenced off.

The cluster with real processes, PostgreSQL and NATS is
``tests/api/cluster/test_tenders_cluster.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.auctions.runner import NotOwner, OutcomeUnknown
from api.storage.idempotency import Committed
from api.storage.leases import MemoryLeaseStore
from api.storage.memory import MemoryIdempotencyKeys, MemoryTenderStore
from api.storage.ports import CommandMark
from api.tenders import remote
from api.tenders.errors import (
    AuctionTaken,
    BodyError,
    DeadlineMoved,
    InvalidCriterion,
    InvalidField,
    MissingField,
    Refused,
    StorageFailed,
    TenderError,
    TenderExists,
    UnknownField,
    UnknownLot,
    UnknownTender,
)
from api.tenders.service import TenderService
from contracts import custody, sealing
from engine.events import CommandRejected
from engine.reasons import Reason
from engine.tender_records import (
    Award,
    ChangeSchedule,
    EnvelopeKind,
    EnvelopeReceived,
    EnvelopeWithdrawn,
    LotAwarded,
    ShareAccepted,
    TenderEvent,
    TenderPublished,
    decode_tender_event,
)
from tests.api.http.test_tenders import KEYS, S, committee_spec

FIN = EnvelopeKind.FINANCIAL


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


async def logged(store: MemoryTenderStore, tender_id: str, seqs: list[int]) -> list[TenderEvent]:
    rows = {row.seq: row for row in await store.read(tender_id)}
    return [decode_tender_event(rows[seq].payload) for seq in seqs]


async def decrypted(service: TenderService, tender_id: str, officer: str) -> custody.Share:
    text = await service.store.share(tender_id, officer)
    assert text is not None
    return custody.decrypt_share(
        custody.EncryptedShare.from_json(json.loads(text)),
        KEYS[officer].encryption_private,
        ceremony_public=service.server_public,
        tender_id=tender_id,
    )


def seal(public_hex: str, tender_id: str, bidder: str, amount: int) -> bytes:
    info = sealing.envelope_info(tender_id, "L1", "financial", bidder, 100 * S)
    offer = sealing.encode_offer(sealing.Offer(amount_minor=amount, currency="EUR"))
    return sealing.seal(bytes.fromhex(public_hex), info, offer)


async def test_every_call_round_trips_to_the_owners_answer() -> None:
    keys = MemoryIdempotencyKeys()
    store, clock = MemoryTenderStore(keys), Clock(10 * S)
    owner = TenderService(store, Ed25519PrivateKey.generate(), clock=clock)
    reservation = await keys.reserve(
        "p", "k", b"f", now=1, expired_before=0, lease_before=1, command_id="c"
    )
    assert reservation is not None
    mark = CommandMark("p", "k", reservation.stamp)

    async def call(payload: bytes) -> Any:
        return remote.decode_answer(await remote.serve_call(owner, payload))

    created = await call(remote.create("t1", "o1", committee_spec(), None))
    assert [type(e).__name__ for e in created] == ["TenderCreated"]
    published = await call(remote.ceremony("t1", "o1", None))
    assert published == await logged(store, "t1", [2])
    public = published[0].public_key
    ciphertext = seal(public, "t1", "ann", 120_00)
    [received] = await call(remote.submit("t1", "ann", "L1", FIN, ciphertext, 100 * S, mark))
    assert isinstance(received, EnvelopeReceived) and received.at == 10 * S
    assert received.commitment == sealing.commitment(ciphertext)
    assert [received] == await logged(store, "t1", [received.seq])
    assert await store.ciphertexts("t1", [received.seq]) == {received.seq: ciphertext}
    # The mark travelled: the owner recorded the envelope's seq in the reservation.
    again = await keys.reserve(
        "p", "k", b"f", now=10, expired_before=0, lease_before=5, command_id="c2"
    )
    assert again is not None and again.committed == Committed("t1", received.seq, received.seq)
    [withdrawn] = await call(remote.withdraw("t1", "ann", "L1", FIN, None))
    assert isinstance(withdrawn, EnvelopeWithdrawn)
    for bidder, price in (("ann", 120_00), ("bob", 110_00)):
        assert await call(
            remote.submit("t1", bidder, "L1", FIN, seal(public, "t1", bidder, price), None, None)
        )
    # A command made once (at 0) is stamped with the owner's clock.
    clock.now = 11 * S
    [moved] = await call(
        remote.command(
            "t1", lambda at: ChangeSchedule("c-move", at, "o1", "L1", 100 * S, 100 * S), None
        )
    )
    assert moved.at == 11 * S and moved == (await logged(store, "t1", [moved.seq]))[0]
    clock.now = 100 * S + 1
    first = await call(
        remote.submit_share("t1", "o1", "L1", FIN, await decrypted(owner, "t1", "o1"), "", None)
    )
    events, report = first
    assert isinstance(events[-1], ShareAccepted) and report is None
    events, report = await call(
        remote.submit_share("t1", "o2", "L1", FIN, await decrypted(owner, "t1", "o2"), "", None)
    )
    assert isinstance(events[-1], ShareAccepted)
    assert report is not None and report.failure is None
    assert list(report.events) == await logged(store, "t1", [e.seq for e in report.events])
    opened = [e for e in report.events if type(e).__name__ == "EnvelopeOpened"]
    assert sorted((e.bidder, e.price) for e in opened) == [("ann", 120_00), ("bob", 110_00)]
    # An unparsed share is logged as a refusal and answered as one.
    events, report = await call(remote.submit_share("t1", "o3", "L1", FIN, None, "malformed", None))
    assert isinstance(events[-1], CommandRejected) and report is None
    [awarded] = await call(remote.command("t1", lambda at: Award("c-award", at, "o1", "L1"), None))
    assert isinstance(awarded, LotAwarded) and (awarded.winner, awarded.price) == ("bob", 110_00)


ERRORS: list[Exception] = [
    TenderError("root"),
    UnknownTender("t9"),
    UnknownLot("L9"),
    TenderExists("t1"),
    StorageFailed("tender t1: OSError"),
    DeadlineMoved(100 * S, 90 * S),
    Refused(CommandRejected(9, 1, "c", "Award", "o9", Reason.NOT_TENDER_OFFICER, "")),
    AuctionTaken("auction 'a1' exists and is not this lot's"),
    BodyError("body", "x"),
    UnknownField("extra"),
    MissingField("lot"),
    InvalidField("deadline", "must be an integer"),
    InvalidCriterion("meat needs features"),
    OutcomeUnknown("storage did not come back"),
    NotOwner("tender t1: no node holds its lease now"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_every_error_comes_back_as_the_same_class_message_and_fields(error: Exception) -> None:
    with pytest.raises(type(error)) as raised:
        remote.decode_answer(remote.encode_error(error))
    again = raised.value
    assert type(again) is type(error) and str(again) == str(error)
    for name in ("deadline", "sealed_for", "lot", "field", "rejected"):
        assert getattr(again, name, None) == getattr(error, name, None), name


async def test_the_owners_refusals_come_back_through_serve_call() -> None:
    owner = TenderService(MemoryTenderStore(), Ed25519PrivateKey.generate(), clock=lambda: 10 * S)

    async def call(payload: bytes) -> Any:
        return remote.decode_answer(await remote.serve_call(owner, payload))

    with pytest.raises(UnknownTender):
        await call(remote.ceremony("t-none", "o1", None))
    await call(remote.create("t1", "o1", committee_spec(), None))
    with pytest.raises(TenderExists):
        await call(remote.create("t1", "o1", committee_spec(), None))
    [published] = await call(remote.ceremony("t1", "o1", None))
    with pytest.raises(DeadlineMoved) as moved:
        await call(remote.submit("t1", "ann", "L1", FIN, b"x" * 64, 90 * S, None))
    assert (moved.value.deadline, moved.value.sealed_for) == (100 * S, 90 * S)
    # A malformed call or answer is refused, never run.
    with pytest.raises(RuntimeError, match="ValueError"):
        remote.decode_answer(await remote.serve_call(owner, b"{not json"))
    with pytest.raises(ValueError, match="malformed tender answer"):
        remote.decode_answer(b"[1]")


# ------------------------------------------------------------------ two services, one store


class LocalOwners:
    """The :class:`~api.tenders.ports.TenderOwners` of one of two in-process nodes over
    real in-memory leases: a call goes straight to the holder's ``serve_call``."""

    def __init__(self, node: str, leases: MemoryLeaseStore, nodes: dict[str, TenderService]):
        self.node, self.leases, self.nodes = node, leases, nodes
        self.held: dict[str, int] = {}
        self.forwarded = 0
        self.lost_count = 0

    async def claim(self, tender_id: str) -> int | None:
        if tender_id in self.held:
            return self.held[tender_id]
        lease = await self.leases.acquire("tender", tender_id, self.node, 30)
        if lease is None:
            return None
        self.held[tender_id] = lease.epoch
        return lease.epoch

    def holding(self, tender_id: str) -> int | None:
        return self.held.get(tender_id)

    async def forward(self, tender_id: str, payload: bytes) -> bytes:
        lease = await self.leases.holder("tender", tender_id)
        holder = None if lease is None else self.nodes.get(lease.owner)
        if lease is None or lease.owner == self.node or holder is None:
            raise NotOwner(tender_id)  # no node serves it now
        self.forwarded += 1
        return await remote.serve_call(holder, payload)

    def lost(self, tender_id: str) -> None:
        self.held.pop(tender_id, None)
        self.lost_count += 1


async def test_two_services_run_a_tender_at_its_holder_and_move_when_fenced() -> None:
    now = [1_000 * S]
    leases = MemoryLeaseStore(clock=lambda: now[0])
    store = MemoryTenderStore(leases=leases)
    key = Ed25519PrivateKey.generate()
    nodes: dict[str, TenderService] = {}
    owners = {name: LocalOwners(name, leases, nodes) for name in ("a", "b")}
    for name in ("a", "b"):
        nodes[name] = TenderService(store, key, clock=lambda: 10 * S, owners=owners[name])
    a, b = nodes["a"], nodes["b"]
    await a.create("t1", "o1", committee_spec())
    [published] = await b.ceremony("t1", "o1")  # forwarded to a, which holds it
    assert isinstance(published, TenderPublished)
    assert owners["b"].forwarded == 1 and "t1" not in owners["b"].held
    # b's reads are views of the log, current after each of a's commits.
    assert (await b.tender("t1")).public_key == published.public_key
    [received] = await b.submit(
        "t1", "ann", "L1", FIN, seal(published.public_key, "t1", "ann", 5), sealed_for=100 * S
    )
    assert (await b.tender("t1")).seq == received.seq == (await a.tender("t1")).seq
    # a is paused past its lease; b takes the tender over at its next command.
    now[0] += 60 * S
    owners["b"].held.clear()
    [bob] = await b.submit("t1", "bob", "L1", FIN, seal(published.public_key, "t1", "bob", 4))
    assert owners["b"].held == {"t1": 2} and bob.seq == received.seq + 1
    # a still believes it holds epoch 1: its append is fenced off, and the command goes
    # to b instead, recorded once.
    [cy] = await a.submit("t1", "cy", "L1", FIN, seal(published.public_key, "t1", "cy", 3))
    assert owners["a"].lost_count == 1 and owners["a"].forwarded == 1
    assert cy.seq == bob.seq + 1
    assert [row.seq for row in await store.read("t1")] == list(range(1, cy.seq + 1))
    assert (await a.tender("t1")).seq == cy.seq
    # A call served for another node is never forwarded again.
    with a.serving(), pytest.raises(NotOwner):
        await a.withdraw("t1", "cy", "L1", FIN)
    # b holds the lease but no longer answers: nothing is recorded, StorageFailed after
    # the hand-over wait.
    del nodes["b"]
    a.handover_s = 0.2
    with pytest.raises(StorageFailed, match="no node took its lease"):
        await a.withdraw("t1", "cy", "L1", FIN)
    assert [row.seq for row in await store.read("t1")] == list(range(1, cy.seq + 1))
