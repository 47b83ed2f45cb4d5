"""The audit routes (:mod:`api.http.audit`) against a real server: checkpoints, proofs,
export, and every reject."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from api.audit.bundle import verify
from api.audit.trail import KEY_NAME
from contracts.checkpoint import parse_and_verify, parse_verifier_key
from contracts.transparency import leaf_hash, verify_consistency, verify_inclusion
from tests.api.http.test_app import english

if TYPE_CHECKING:
    from tests.api.conftest import Live


@pytest.fixture(scope="module")
def server(start_server: Any) -> Live:
    live: Live = start_server()
    return live


BASE = "/api/v1/auctions/{}"


async def finished(server: Live) -> tuple[str, dict[str, str]]:
    """An English auction with two bidders and three bids, closed."""
    auction = await server.create(english(start_in=0.5, duration=3.0))
    tokens = {name: await server.register(auction, name) for name in ("ann", "bob")}
    await server.wait_phase(auction, "running")
    for who, amount in (("ann", "100.00"), ("bob", "101.00"), ("ann", "100.50")):
        await server.post(
            f"{BASE.format(auction)}/bids", {"amount": amount, "currency": "EUR"}, tokens[who]
        )
    await server.wait_phase(auction, "ended")
    return auction, tokens


@pytest.fixture(scope="module")
def closed(server: Live) -> tuple[str, dict[str, str]]:
    return asyncio.run(finished(server))


async def verifier(server: Live) -> Any:
    reply = await server.get("/api/v1/audit/key")
    assert reply.status == 200
    body = reply.json()
    name, public = parse_verifier_key(body["verifier_key"])
    assert name == body["name"] == KEY_NAME
    assert body["algorithm"] == "Ed25519"
    assert body["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    return public


async def test_checkpoint_and_proofs_verify_with_the_published_key(
    server: Live, closed: tuple[str, dict[str, str]]
) -> None:
    auction, tokens = closed
    public = await verifier(server)
    reply = await server.get(f"{BASE.format(auction)}/checkpoint", tokens["ann"])
    assert reply.status == 200, reply.body
    body = reply.json()
    checkpoint = parse_and_verify(body["note"], KEY_NAME, public)
    assert checkpoint.origin == body["origin"] == f"gavel/auction/{auction}"
    size = checkpoint.size
    assert size == body["size"] == len(await server.events(auction))
    assert checkpoint.root.hex() == body["root"]

    for seq in range(1, size + 1):
        reply = await server.get(
            f"{BASE.format(auction)}/proofs/inclusion?seq={seq}&size={size}", tokens["ann"]
        )
        assert reply.status == 200, reply.body
        proof = reply.json()
        assert parse_and_verify(proof["checkpoint"], KEY_NAME, public) == checkpoint
        leaf = bytes.fromhex(proof["leaf_hash"])
        assert verify_inclusion(
            leaf, seq - 1, size, [bytes.fromhex(h) for h in proof["proof"]], checkpoint.root
        )
        if "event" in proof:  # ann sees her own events, and only those
            assert leaf == leaf_hash(proof["event"].encode())
            assert '"bidder":"bob"' not in proof["event"]

    officer_view = await server.get(
        f"{BASE.format(auction)}/proofs/inclusion?seq=1", server.officer
    )
    assert '"type":"AuctionCreated"' in officer_view.json()["event"]
    bidder_view = await server.get(f"{BASE.format(auction)}/proofs/inclusion?seq=1", tokens["bob"])
    assert "event" not in bidder_view.json()

    for old in range(0, size + 1):
        reply = await server.get(
            f"{BASE.format(auction)}/proofs/consistency?from={old}&to={size}", tokens["bob"]
        )
        assert reply.status == 200, reply.body
        body = reply.json()
        first = parse_and_verify(body["from_checkpoint"], KEY_NAME, public)
        second = parse_and_verify(body["to_checkpoint"], KEY_NAME, public)
        assert second.root == checkpoint.root
        assert verify_consistency(
            old, size, first.root, second.root, [bytes.fromhex(h) for h in body["proof"]]
        )


async def test_export_verifies_offline_and_holds_the_issued_checkpoints(
    server: Live, closed: tuple[str, dict[str, str]]
) -> None:
    auction, _ = closed
    for token in (server.officer, server.token("aud-1", "auditor")):
        reply = await server.get(f"{BASE.format(auction)}/export", token)
        assert reply.status == 200, reply.body
        bundle = reply.json()
        verified = verify(bundle)
        assert verified.result == "re-decided"
        assert bundle["result"]["winners"] == ["bob"]

    # Issued at the opening and at the close (in the background), kept in the table.
    async def kept() -> list[Any]:
        conn = await asyncpg.connect(server.process.database_url)
        try:
            return list(
                await conn.fetch(
                    "SELECT size, reason FROM checkpoints WHERE stream_id = $1 ORDER BY size",
                    auction,
                )
            )
        finally:
            await conn.close()

    rows = await kept()
    reasons = {row["reason"] for row in rows}
    assert {"AuctionStarted", "AuctionEnded"} <= reasons, rows
    assert len(bundle["checkpoints"]) == len(rows)


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/checkpoint", 404, "not_found"),
        ("/proofs/inclusion?seq=1", 404, "not_found"),
        ("/proofs/consistency?from=0", 404, "not_found"),
        ("/export", 404, "not_found"),
        ("/ocds", 404, "not_found"),
    ],
)
async def test_an_unknown_auction_is_not_found(
    server: Live, path: str, status: int, code: str
) -> None:
    reply = await server.get(f"{BASE.format('nope')}{path}", server.officer)
    assert (reply.status, reply.code) == (status, code)


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ("/proofs/inclusion", "missing_field", "seq"),
        ("/proofs/inclusion?seq=abc", "invalid_field", "seq"),
        ("/proofs/inclusion?seq=-1", "invalid_field", "seq"),
        ("/proofs/inclusion?seq=0", "invalid_field", "seq"),
        ("/proofs/inclusion?seq=99999999999999999999", "invalid_field", "seq"),
        ("/proofs/inclusion?seq=1000", "invalid_field", "seq"),
        ("/proofs/inclusion?seq=3&size=2", "invalid_field", "seq"),
        ("/proofs/inclusion?seq=1&size=0", "invalid_field", "size"),
        ("/proofs/inclusion?seq=1&size=1000", "invalid_field", "size"),
        ("/proofs/inclusion?seq=1&size=x", "invalid_field", "size"),
        ("/proofs/consistency", "missing_field", "from"),
        ("/proofs/consistency?from=x", "invalid_field", "from"),
        ("/proofs/consistency?from=3&to=2", "invalid_field", "from"),
        ("/proofs/consistency?from=1&to=1000", "invalid_field", "to"),
        ("/proofs/consistency?from=1&to=%C2%B2", "invalid_field", "to"),
    ],
)
async def test_bad_parameters_are_problems(
    server: Live, closed: tuple[str, dict[str, str]], query: str, code: str, field: str
) -> None:
    auction, _ = closed
    reply = await server.get(f"{BASE.format(auction)}{query}", server.officer)
    assert reply.status == 422, reply.body
    assert (reply.code, reply.json()["field"]) == (code, field)


async def test_who_may_ask(server: Live, closed: tuple[str, dict[str, str]]) -> None:
    auction, tokens = closed
    for path in ("/checkpoint", "/proofs/inclusion?seq=1", "/proofs/consistency?from=1"):
        assert (await server.get(f"{BASE.format(auction)}{path}")).code == "token_missing"
        other = server.token("eve", "bidder", "another-auction")
        assert (await server.get(f"{BASE.format(auction)}{path}", other)).code == "wrong_auction"
    export = f"{BASE.format(auction)}/export"
    assert (await server.get(export, tokens["ann"])).code == "role_forbidden"
    observer = server.token("obs", "observer", auction)
    assert (await server.get(export, observer)).code == "role_forbidden"
    assert (await server.get(export)).code == "token_missing"
    ocds = f"{BASE.format(auction)}/ocds"
    assert (await server.get(ocds, tokens["ann"])).code == "role_forbidden"


FLAGS = "/api/v1/audit/auctions/{}/flags"


async def test_red_flags_of_a_closed_auction_name_the_events_behind_them(
    server: Live, closed: tuple[str, dict[str, str]]
) -> None:
    """Both bids came in the 3 s the auction ran, so the 60 s window holds them all."""
    auction, _ = closed
    for token in (server.officer, server.token("aud-2", "auditor", auction)):
        reply = await server.get(FLAGS.format(auction), token)
        assert reply.status == 200, reply.body
        body = reply.json()
        assert body["auction_id"] == auction
        assert body["note"] == "prompts for review, not findings"
        assert [flag["code"] for flag in body["flags"]] == ["late_bidding"]
    flag = body["flags"][0]
    assert flag["bidders"] == ["ann", "bob"]
    assert flag["figures"]["bids"] == 2 and flag["figures"]["window_us"] == 60_000_000
    events = {entry["seq"]: entry["event"] for entry in await server.events(auction)}
    assert [events[seq]["type"] for seq in flag["seqs"]] == ["BidAccepted", "BidAccepted"]
    assert flag["summary"].startswith("all 2 bids came in the last 60 s")


async def test_red_flags_of_an_auction_without_bids_are_none(server: Live) -> None:
    auction = await server.create(english(start_in=0.2, duration=30.0))
    await server.register(auction, "ann")
    reply = await server.get(FLAGS.format(auction), server.token("aud-3", "auditor"))
    assert reply.status == 200, reply.body
    assert reply.json()["flags"] == []


async def test_red_flags_are_for_overseers_of_a_known_auction(
    server: Live, closed: tuple[str, dict[str, str]]
) -> None:
    auction, tokens = closed
    path = FLAGS.format(auction)
    assert (await server.get(path)).code == "token_missing"
    assert (await server.get(path, tokens["ann"])).code == "role_forbidden"
    observer = server.token("obs", "observer", auction)
    assert (await server.get(path, observer)).code == "role_forbidden"
    other = server.token("aud-4", "auditor", "another-auction")
    assert (await server.get(path, other)).code == "wrong_auction"
    unknown = await server.get(FLAGS.format("nope"), server.officer)
    assert (unknown.status, unknown.code) == (404, "not_found")


async def test_ocds_of_a_closed_auction(server: Live, closed: tuple[str, dict[str, str]]) -> None:
    from decimal import Decimal

    import jsonschema

    from tests.api.audit.test_ocds import RELEASE_PACKAGE

    auction, _ = closed
    reply = await server.get(f"{BASE.format(auction)}/ocds", server.token("aud", "auditor"))
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"].startswith("application/json")
    tree = json.loads(reply.body, parse_float=Decimal)
    jsonschema.Draft4Validator(RELEASE_PACKAGE).validate(tree)
    (release,) = tree["releases"]
    assert release["awards"][0]["suppliers"][0]["id"] == "bob"
    assert release["awards"][0]["value"] == {"amount": Decimal("101.00"), "currency": "EUR"}


async def test_checkpoints_are_pushed_to_connected_sockets(server: Live) -> None:
    """Opening and close each push a ``checkpoint`` frame that verifies with the
    published key and covers the events the socket has seen."""
    from tests.api.live.test_ws import open_tape

    public = await verifier(server)
    auction = await server.create(english(start_in=0.5, duration=2.0))
    bidder = await server.register(auction, "ann")
    watching = await open_tape(server, auction, bidder)
    officer = await open_tape(server, auction, server.officer)
    await server.wait_phase(auction, "running")
    await server.post(
        f"{BASE.format(auction)}/bids", {"amount": "100.00", "currency": "EUR"}, bidder
    )
    await server.wait_phase(auction, "ended")
    for tape in (watching, officer):
        await tape.wait(lambda t: len(t.messages("checkpoint")) >= 2, timeout=15)
        pushed = tape.messages("checkpoint")
        sizes = []
        for message in pushed:
            checkpoint = parse_and_verify(message["note"], KEY_NAME, public)
            assert checkpoint.root.hex() == message["root"]
            assert checkpoint.size == message["size"] <= message["seq"]
            sizes.append(checkpoint.size)
        assert sizes == sorted(sizes) and sizes[-1] == max(e["seq"] for e in tape.events())
        await tape.close()


def test_the_audit_settings_are_read_from_the_environment() -> None:
    from api.settings import Settings

    assert Settings.from_env({}).audit is True
    assert Settings.from_env({}).audit_prefix == "gavel"
    for off in ("off", "OFF", "0", "false", "no"):
        assert Settings.from_env({"GAVEL_AUDIT": off}).audit is False
    for on in ("on", "1", "True", "yes", ""):
        assert Settings.from_env({"GAVEL_AUDIT": on}).audit is True
    with pytest.raises(ValueError, match="GAVEL_AUDIT must be on or off"):
        Settings.from_env({"GAVEL_AUDIT": "maybe"})
    assert Settings.from_env({"GAVEL_AUDIT_PREFIX": "acme.example"}).audit_prefix == (
        "acme.example"
    )


async def test_audit_off_issues_nothing_after_commits_and_the_prefix_names_the_origin(
    start_server: Any,
) -> None:
    """``GAVEL_AUDIT=off`` (the append-cost benchmark's switch): no checkpoint is issued
    at the opening or the close, the routes still answer; ``GAVEL_AUDIT_PREFIX`` is the
    first part of every origin."""
    quiet: Live = start_server(GAVEL_AUDIT="off", GAVEL_AUDIT_PREFIX="acme.example")
    auction, _ = await finished(quiet)
    conn = await asyncpg.connect(quiet.process.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM checkpoints") == 0
    finally:
        await conn.close()
    reply = await quiet.get(f"{BASE.format(auction)}/checkpoint", quiet.officer)
    assert reply.status == 200, reply.body
    assert reply.json()["origin"] == f"acme.example/auction/{auction}"
    bundle = (await quiet.get(f"{BASE.format(auction)}/export", quiet.officer)).json()
    assert verify(bundle).result == "re-decided"
    assert bundle["origin"] == f"acme.example/auction/{auction}"
