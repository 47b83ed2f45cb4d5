"""GET /api/v1/audit/search (:mod:`api.http.audit_search`) on a real server: finished
auctions only, by id, buyer (the creating officer), format, kind and end time; who may
search and what a bound token finds; every refusal names its field."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

from tests.api.http.test_app import english, reverse
from tests.api.http.test_tenders import T, new_tender

if TYPE_CHECKING:
    from tests.api.conftest import Live

SEARCH = "/api/v1/audit/search"


@pytest.fixture(scope="module")
def server(start_server: Any) -> Live:
    live: Live = start_server()
    return live


async def _create(server: Live, rules: dict[str, Any], officer: str, auction: str) -> str:
    reply = await server.post("/api/v1/auctions", {"id": auction, "rules": rules}, token=officer)
    assert reply.status == 201, reply.body
    return auction


async def _world(server: Live) -> dict[str, str]:
    """Two finished auctions by two buyers (one with a bid) and a running one."""
    tag = uuid.uuid4().hex[:6]
    alice = server.token("buyer-alice", "officer")
    bob = server.token("buyer-bob", "officer")
    sold = await _create(server, english(start_in=0.3, duration=1.5), alice, f"sold-{tag}")
    empty = await _create(server, reverse(start_in=0.3, duration=1.0), bob, f"empty-{tag}")
    running = await _create(server, english(start_in=0.3, duration=60), alice, f"run-{tag}")
    ann = await server.register(sold, "ann")
    await server.wait_phase(sold, "running")
    reply = await server.post(
        f"/api/v1/auctions/{sold}/bids", {"amount": "120.00", "currency": "EUR"}, ann
    )
    assert reply.status in (200, 201), reply.body
    await server.wait_phase(sold, "ended")
    await server.wait_phase(empty, "ended")
    return {"sold": sold, "empty": empty, "running": running, "tag": tag}


@pytest.fixture(scope="module")
def world(server: Live) -> dict[str, str]:
    return asyncio.run(_world(server))


async def _ids(server: Live, query: str, token: str | None = None) -> list[str]:
    reply = await server.get(f"{SEARCH}?{query}", token or server.token("aud", "auditor"))
    assert reply.status == 200, reply.body
    return [row["id"] for row in reply.json()["results"]]


async def test_finished_auctions_only_with_buyer_outcome_and_price(
    server: Live, world: dict[str, str]
) -> None:
    reply = await server.get(f"{SEARCH}?q={world['tag']}", server.token("aud", "auditor"))
    assert reply.status == 200, reply.body
    body = reply.json()
    rows = {row["id"]: row for row in body["results"]}
    assert set(rows) == {world["sold"], world["empty"]}  # not the running one
    assert body["truncated"] is False
    sold = rows[world["sold"]]
    assert sold["kind"] == "auction" and sold["format"] == "english"
    assert sold["buyer"] == "buyer-alice"
    assert sold["outcome"] == "awarded" and sold["price"] == 12000
    assert sold["currency"] == "EUR"
    assert sold["ended_at"] >= sold["created_at"]
    assert rows[world["empty"]]["outcome"] == "no_bids"
    assert rows[world["empty"]]["buyer"] == "buyer-bob"
    # Newest end first.
    ends = [row["ended_at"] for row in body["results"]]
    assert ends == sorted(ends, reverse=True)


async def test_filters(server: Live, world: dict[str, str]) -> None:
    tag = world["tag"]
    assert await _ids(server, f"q={world['sold'].upper()}") == [world["sold"]]
    assert await _ids(server, f"q={tag}&buyer=ALICE") == [world["sold"]]
    assert await _ids(server, f"q={tag}&format=reverse") == [world["empty"]]
    assert await _ids(server, f"q={tag}&format=tender") == []
    assert await _ids(server, f"q={tag}&kind=tender") == []
    assert set(await _ids(server, f"q={tag}&kind=auction")) == {world["sold"], world["empty"]}
    reply = await server.get(f"{SEARCH}?q={world['sold']}", server.token("aud", "auditor"))
    ended = reply.json()["results"][0]["ended_at"]
    assert await _ids(server, f"q={world['sold']}&from={ended}&to={ended}") == [world["sold"]]
    assert await _ids(server, f"q={world['sold']}&from={ended + 1}") == []
    assert await _ids(server, f"q={world['sold']}&to={ended - 1}") == []
    # The pattern's own characters are text, not wildcards.
    assert await _ids(server, "q=%25") == []
    assert await _ids(server, "q=_") == []


async def test_who_may_search(server: Live, world: dict[str, str]) -> None:
    tag = world["tag"]
    # An officer (any) sees every auction; a bound officer or auditor only its own.
    assert len(await _ids(server, f"q={tag}", server.officer)) == 2
    bound = server.token("aud-2", "auditor", world["empty"])
    assert await _ids(server, f"q={tag}", bound) == [world["empty"]]
    bidder = server.token("ann", "bidder", world["sold"])
    reply = await server.get(SEARCH, bidder)
    assert reply.status == 403 and reply.json()["code"] == "role_forbidden"
    reply = await server.get(SEARCH)
    assert reply.status == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("format=auction", "format"),
        ("kind=lot", "kind"),
        ("from=-1", "from"),
        ("to=x", "to"),
        ("from=10&to=5", "from"),
        ("q=" + "a" * 101, "q"),
        ("buyer=" + quote("\x01"), "buyer"),
        ("q=" + quote("\x00"), "q"),
    ],
)
async def test_bad_parameters_are_refused_naming_the_field(
    server: Live, query: str, field: str
) -> None:
    reply = await server.get(f"{SEARCH}?{query}", server.token("aud", "auditor"))
    assert reply.status == 422, reply.body
    body = reply.json()
    assert body["code"] == "invalid_field" and body["field"] == field


async def _awarded_tender(server: Live) -> str:
    tender = await new_tender(server, threshold=1)
    for bidder, price in (("ann", 12_00), ("bob", 11_00)):
        assert (await tender.submit(bidder, tender.seal(bidder, price))).status == 201
    await tender.wait_deadline()
    await tender.open_with("o1")
    reply = await server.post(f"{T}/{tender.id}/lots/L1/award", {}, token=tender.officer["o1"])
    assert reply.status == 200, reply.body
    return tender.id


async def test_a_finished_tender_is_found_by_its_committee_and_auditors(server: Live) -> None:
    unfinished = await new_tender(server, close_in=60)
    tender = await _awarded_tender(server)
    auditor = server.token("aud", "auditor")
    reply = await server.get(f"{SEARCH}?kind=tender", auditor)
    rows = {row["id"]: row for row in reply.json()["results"]}
    assert tender in rows and unfinished.id not in rows
    row = rows[tender]
    assert (row["kind"], row["format"], row["title"], row["buyer"]) == (
        "tender",
        "tender",
        "Road repairs",
        "o1",
    )
    assert (row["outcome"], row["price"], row["currency"], row["lots"]) == (
        "awarded",
        1100,
        "EUR",
        1,
    )
    assert await _ids(server, f"q={tender}&format=tender", auditor) == [tender]
    assert await _ids(server, f"q={tender}&buyer=O1", auditor) == [tender]
    assert await _ids(server, f"q={tender}&buyer=o2", auditor) == []
    assert await _ids(server, f"q={tender}&format=english", auditor) == []
    assert await _ids(server, f"q={tender}&to={row['ended_at'] - 1}", auditor) == []
    # An officer sees the tenders whose committee it is on, not the others.
    assert await _ids(server, f"q={tender}", server.token("o2", "officer")) == [tender]
    assert await _ids(server, f"q={tender}", server.officer) == []
