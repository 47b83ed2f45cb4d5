"""``api/static/app/verify.js`` in real headless Chromium, loaded from a real server under its
Content-Security-Policy: a supplier's acknowledged bids checked against the auction's signed
record with WebCrypto alone.

An officer creates an English auction over HTTP; two bidders bid over the websocket, one of
them four times. In the page, the module verifies the checkpoint's Ed25519 signature and each
of her bids' inclusion proofs: all four "in the record", against the latest checkpoint and
against the one pushed to her socket at the close, with the very checkpoint and leaf
hashes the Python verifier (:mod:`contracts.checkpoint`, :mod:`contracts.transparency`) finds
on the same data; its RFC 9162 inclusion check agrees with Python's on every (index, size) of a
tree, and on tampered proofs. Then the wire is broken with Playwright's ``page.route``: a
flipped byte in one proof names that bid as not in the record (the others still are); a bad
signature on the checkpoint, a checkpoint signed by another key (also when the key route is
swapped too but the key is pinned) or of another auction refuses everything; an ack that says
another price, a seq that is another bidder's, an event naming another bidder, a proof of
another size or no answer, is named; without Ed25519 in WebCrypto
nothing is taken as proven.

Chromium comes from Debian (``/usr/bin/chromium``), driven by Playwright.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.async_api import Page, Route, async_playwright

from contracts.checkpoint import (
    parse_and_verify,
    parse_verifier_key,
    sign_checkpoint,
    verifier_key,
)
from contracts.transparency import MerkleLog, leaf_hash, verify_inclusion
from tests.api.conftest import Live
from tests.browser import CHROMIUM, CHROMIUM_ARGS, watch_errors

S = 1_000_000
I18N = Path(__file__).resolve().parents[3] / "api" / "static" / "app" / "i18n"
LOAD = "async () => { window.V = await import('/app/verify.js'); return true; }"
VERIFY = "(args) => V.verifyBids(args)"


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    return start_server()


async def _answer(ws: Any, request_id: str) -> dict[str, Any]:
    """The ack (or reject) of ``request_id``, frames in between skipped."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame.get("request_id") == request_id and frame["type"] in ("ack", "reject"):
            return dict(frame)


async def _bid(ws: Any, amount: str) -> dict[str, Any]:
    request_id = uuid.uuid4().hex
    await ws.send(
        json.dumps({"type": "bid", "request_id": request_id, "amount": amount, "currency": "AZN"})
    )
    answer = await _answer(ws, request_id)
    assert answer["type"] == "ack", answer
    return {"seq": answer["seq"], "event": answer["event"]}


async def auction_with_bids(
    server: Live, duration_s: int = 900, close: list[str] | None = None
) -> tuple[str, str, list[dict[str, Any]], dict[str, Any]]:
    """An English auction where ann placed four bids and bob three, alternately: its id,
    ann's token, ann's acks (``{seq, event}``) and bob's first. With ``close``, waits for
    the end and appends the signed checkpoint pushed to ann's socket at the close."""
    starts = time.time_ns() // 1000 + S // 2
    auction = await server.create(
        {
            "format": "english",
            "currency": "AZN",
            "starts_at": starts,
            "ends_at": starts + duration_s * S,
            "start_price": "100.00",
            "step": {"amount": "10.00"},
        }
    )
    ann_token = await server.register(auction, "ann")
    bob_token = await server.register(auction, "bob")
    await server.wait_phase(auction, "running")
    ann = await server.connect(auction, ann_token)
    bob = await server.connect(auction, bob_token)
    try:
        acks: list[dict[str, Any]] = []
        bobs: list[dict[str, Any]] = []
        for step in range(7):
            amount = f"{100 + 10 * step}.00"
            if step % 2 == 0:
                acks.append(await _bid(ann, amount))
            else:
                bobs.append(await _bid(bob, amount))
        ended = False
        while close is not None:
            frame = json.loads(await asyncio.wait_for(ann.recv(), duration_s + 10))
            if frame["type"] == "event" and frame["event"]["type"] == "AuctionEnded":
                ended = True
            elif frame["type"] == "checkpoint" and ended:
                close.append(frame["note"])
                break
    finally:
        await ann.close()
        await bob.close()
    return auction, ann_token, acks, bobs[0]


@pytest.fixture
async def page(server: Live) -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(locale="en-US")
            page = await context.new_page()
            errors = watch_errors(page)
            # A document of the app's origin, under the app's CSP: the catalog, as served.
            await page.goto(f"http://127.0.0.1:{server.port}/app/i18n/en.json")
            assert await page.evaluate(LOAD)
            yield page
            assert errors == []
        finally:
            await browser.close()


def _flip(hex_hash: str, at: int = 0) -> str:
    data = bytearray(bytes.fromhex(hex_hash))
    data[at] ^= 0x01
    return data.hex()


async def _rewrite(route: Route, change: Callable[[dict[str, Any]], None]) -> None:
    """Answer ``route`` with the server's JSON after ``change``."""
    reply = await route.fetch()
    body = await reply.json()
    change(body)
    await route.fulfill(response=reply, body=json.dumps(body))


def _catalog_keys() -> set[str]:
    return set(json.loads((I18N / "en.json").read_text("utf-8")))


def _keys_of(result: dict[str, Any]) -> set[str]:
    return {result["key"]} | {v["why"] for v in result["bids"] if v["why"]}


# ------------------------------------------------------------------------------ the tests


async def test_every_acknowledged_bid_is_in_the_signed_record(server: Live, page: Page) -> None:
    auction, token, acks, _ = await auction_with_bids(server)
    args = {"auction": auction, "token": token, "bids": acks}
    result = await page.evaluate(VERIFY, args)
    assert result["ok"] is True, result
    assert result["key"] == "verify.all_in_record" and result["params"] == {"count": 4}
    assert [(v["seq"], v["ok"], v["why"]) for v in result["bids"]] == [
        (ack["seq"], True, None) for ack in acks
    ]
    assert _keys_of(result) <= _catalog_keys()
    # The party the events must name is the token's own.
    assert await page.evaluate("(t) => V.tokenParty(t)", token) == "ann"
    assert await page.evaluate("() => V.tokenParty('not a token')") is None
    assert await page.evaluate("() => V.ed25519Supported()") is True

    # The Python verifier, on what the server answers the same bidder, agrees.
    key_reply = await server.get("/api/v1/audit/key")
    name, public_key = parse_verifier_key(key_reply.json()["verifier_key"])
    checkpoint = result["checkpoint"]
    assert checkpoint["origin"] == f"gavel/auction/{auction}"
    for ack, verdict in zip(acks, result["bids"], strict=True):
        reply = await server.get(
            f"/api/v1/auctions/{auction}/proofs/inclusion?seq={ack['seq']}"
            f"&size={checkpoint['size']}",
            token,
        )
        assert reply.status == 200, reply.body
        proof = reply.json()
        signed = parse_and_verify(proof["checkpoint"], name, public_key)
        assert (signed.origin, signed.size, signed.root.hex()) == (
            checkpoint["origin"],
            checkpoint["size"],
            checkpoint["root"],
        )
        leaf = leaf_hash(proof["event"].encode())
        assert leaf.hex() == verdict["leaf"] == proof["leaf_hash"]
        path = [bytes.fromhex(h) for h in proof["proof"]]
        assert verify_inclusion(leaf, ack["seq"] - 1, signed.size, path, signed.root)

    # One bid, and none, say so in their own words.
    one = await page.evaluate(VERIFY, {**args, "bids": acks[:1]})
    assert (one["ok"], one["key"]) == (True, "verify.one_in_record")
    none = await page.evaluate(VERIFY, {**args, "bids": []})
    assert (none["ok"], none["key"]) == (True, "verify.no_bids")


async def test_against_the_checkpoint_pushed_at_the_close(server: Live, page: Page) -> None:
    close: list[str] = []
    auction, token, acks, _ = await auction_with_bids(server, duration_s=5, close=close)
    args = {"auction": auction, "token": token, "bids": acks, "checkpoint": close[0]}
    result = await page.evaluate(VERIFY, args)
    assert (result["ok"], result["key"]) == (True, "verify.all_in_record"), result
    # The checkpoint the result was computed from: it covers the close.
    events = await server.events(auction)
    assert events[-1]["event"]["type"] == "AuctionEnded"
    assert result["checkpoint"]["size"] == events[-1]["seq"]


async def test_the_inclusion_check_is_rfc_9162s_as_python_has_it(page: Page) -> None:
    rng = random.Random(14)
    tree = MerkleLog()
    leaves = [rng.randbytes(rng.randrange(0, 40)) for _ in range(19)]
    for data in leaves:
        tree.append(data)
    cases: list[tuple[str, int, int, list[str], str]] = []
    for size in range(1, tree.size + 1):
        root = tree.root(size).hex()
        for index in range(size):
            data = leaves[index].hex()
            proof = [h.hex() for h in tree.inclusion_proof(index, size)]
            cases.append((data, index, size, proof, root))
            cases.append((data, (index + 1) % size, size, proof, root))  # another place
            if proof:
                tampered = [*proof]
                at = rng.randrange(len(proof))
                tampered[at] = _flip(proof[at], rng.randrange(32))
                cases.append((data, index, size, tampered, root))
                cases.append((data, index, size, proof[:-1], root))  # one hash short
    expected = [
        verify_inclusion(
            leaf_hash(bytes.fromhex(data)),
            index,
            size,
            [bytes.fromhex(h) for h in proof],
            bytes.fromhex(root),
        )
        for data, index, size, proof, root in cases
    ]
    got = await page.evaluate(
        """async (cases) => {
          const bytes = (h) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
          const out = [];
          for (const [data, index, size, proof, root] of cases) {
            const leaf = await V.leafHash(bytes(data));
            out.push(await V.verifyInclusion(leaf, index, size, proof.map(bytes), bytes(root)));
          }
          return out;
        }""",
        cases,
    )
    assert got == expected
    assert expected.count(True) == tree.size * (tree.size + 1) // 2 + 1  # + size 1, "another"
    # Out of range or too long: false, never an exception.
    leaf, root = leaf_hash(leaves[0]).hex(), tree.root(1).hex()
    assert await page.evaluate(
        """async ([leaf, root]) => {
          const bytes = (h) => Uint8Array.from(h.match(/../g), (x) => parseInt(x, 16));
          const l = bytes(leaf), r = bytes(root);
          return [await V.verifyInclusion(l, 0, 1, [], r), await V.verifyInclusion(l, 1, 1, [], r),
                  await V.verifyInclusion(l, -1, 1, [], r), await V.verifyInclusion(l, 0, 0, [], r),
                  await V.verifyInclusion(l, 0, 1, [r], r)];
        }""",
        [leaf, root],
    ) == [True, False, False, False, False]


async def test_a_flipped_byte_in_a_proof_names_that_bid(server: Live, page: Page) -> None:
    auction, token, acks, _ = await auction_with_bids(server)
    broken = acks[1]["seq"]

    async def flip(route: Route) -> None:
        await _rewrite(route, lambda body: body.update(proof=[_flip(body["proof"][0], 7)]))

    await page.route(f"**/api/v1/auctions/{auction}/proofs/inclusion?seq={broken}&*", flip)
    result = await page.evaluate(VERIFY, {"auction": auction, "token": token, "bids": acks})
    assert result["ok"] is False
    assert (result["key"], result["params"]) == ("verify.some_missing", {"count": 4, "missing": 1})
    assert [(v["seq"], v["why"]) for v in result["bids"]] == [
        (ack["seq"], "verify.why_proof_fails" if ack["seq"] == broken else None) for ack in acks
    ]
    assert result["checkpoint"] is not None  # the record itself held
    assert _keys_of(result) <= _catalog_keys()


async def test_a_bad_or_foreign_checkpoint_refuses_everything(server: Live, page: Page) -> None:
    auction, token, acks, _ = await auction_with_bids(server)
    args = {"auction": auction, "token": token, "bids": acks}
    checkpoint_url = f"**/api/v1/auctions/{auction}/checkpoint"
    key_reply = await server.get("/api/v1/audit/key")
    real_key = key_reply.json()["verifier_key"]

    def refused(result: dict[str, Any], key: str) -> None:
        assert result["ok"] is False and result["key"] == key, result
        assert result["checkpoint"] is None
        assert [(v["seq"], v["ok"], v["why"]) for v in result["bids"]] == [
            (ack["seq"], False, "verify.why_refused") for ack in acks
        ]
        assert _keys_of(result) <= _catalog_keys()

    # A flipped bit in the Ed25519 signature.
    def bad_signature(body: dict[str, Any]) -> None:
        text, _, line = body["note"].rstrip("\n").rpartition("\n")
        name, encoded = line.rsplit(" ", 1)
        data = bytearray(base64.b64decode(encoded))
        data[10] ^= 0x01
        body["note"] = f"{text}\n{name} {base64.b64encode(bytes(data)).decode()}\n"

    async def with_bad_signature(route: Route) -> None:
        await _rewrite(route, bad_signature)

    await page.route(checkpoint_url, with_bad_signature)
    refused(await page.evaluate(VERIFY, args), "verify.checkpoint_bad_signature")
    await page.unroute(checkpoint_url)

    # Another root under the server's signature: the signature no longer covers the body.
    def other_root(body: dict[str, Any]) -> None:
        origin, size, root, rest = body["note"].split("\n", 3)
        root = base64.b64encode(bytes(32)).decode()
        body["note"] = "\n".join((origin, size, root, rest))

    async def with_other_root(route: Route) -> None:
        await _rewrite(route, other_root)

    await page.route(checkpoint_url, with_other_root)
    refused(await page.evaluate(VERIFY, args), "verify.checkpoint_bad_signature")
    await page.unroute(checkpoint_url)

    # The same log, signed by another key under the same name: no signature by the key.
    other = Ed25519PrivateKey.generate()

    def foreign(body: dict[str, Any]) -> None:
        body["note"] = sign_checkpoint(
            body["origin"], body["size"], bytes.fromhex(body["root"]), "gavel-audit", other
        )

    async def with_foreign(route: Route) -> None:
        await _rewrite(route, foreign)

    await page.route(checkpoint_url, with_foreign)
    refused(await page.evaluate(VERIFY, args), "verify.checkpoint_unsigned")

    # Swap the published key as well: a page that pins the key still refuses.
    async def other_key(route: Route) -> None:
        await _rewrite(
            route,
            lambda body: body.update(verifier_key=verifier_key("gavel-audit", other.public_key())),
        )

    await page.route("**/api/v1/audit/key", other_key)
    assert (await page.evaluate(VERIFY, args))["ok"] is True  # unpinned, it is fooled...
    refused(
        await page.evaluate(VERIFY, {**args, "verifierKey": real_key}),
        "verify.checkpoint_unsigned",
    )
    await page.unroute("**/api/v1/audit/key")
    await page.unroute(checkpoint_url)

    # A genuine checkpoint, of another auction's log.
    stranger, stranger_token, _, _ = await auction_with_bids(server)
    reply = await server.get(f"/api/v1/auctions/{stranger}/checkpoint", stranger_token)
    assert reply.status == 200
    refused(
        await page.evaluate(VERIFY, {**args, "checkpoint": reply.json()["note"]}),
        "verify.checkpoint_other_log",
    )
    # A checkpoint that is not one, or a key that is not one.
    refused(
        await page.evaluate(VERIFY, {**args, "checkpoint": "gavel/auction/x\n1\n"}),
        "verify.checkpoint_malformed",
    )
    refused(
        await page.evaluate(VERIFY, {**args, "verifierKey": real_key[:-4] + "AAA="}),
        "verify.key_invalid",
    )


async def test_a_bid_the_record_does_not_hold_as_acknowledged_is_named(
    server: Live, page: Page
) -> None:
    auction, token, acks, bobs = await auction_with_bids(server)
    forged = {**acks[2], "event": {**acks[2]["event"], "price": acks[2]["event"]["price"] + 1}}
    late = {"seq": 10_000, "event": acks[3]["event"]}
    bids = [acks[0], forged, bobs, late]
    result = await page.evaluate(VERIFY, {"auction": auction, "token": token, "bids": bids})
    assert (result["key"], result["params"]) == ("verify.some_missing", {"count": 4, "missing": 3})
    assert [(v["seq"], v["why"]) for v in result["bids"]] == [
        (acks[0]["seq"], None),
        (acks[2]["seq"], "verify.why_event_differs"),
        (bobs["seq"], "verify.why_no_event"),  # bob's bid: ann is shown its hash only
        (10_000, "verify.why_after_checkpoint"),
    ]

    # A proof of another size, and no answer at all: that bid is named, the others hold.
    async def other_size(route: Route) -> None:
        await _rewrite(route, lambda body: body.update(size=body["size"] - 1))

    inclusion = f"**/api/v1/auctions/{auction}/proofs/inclusion?seq="
    await page.route(f"{inclusion}{acks[0]['seq']}&*", other_size)
    await page.route(f"{inclusion}{acks[1]['seq']}&*", lambda route: route.abort())
    lost = await page.evaluate(VERIFY, {"auction": auction, "token": token, "bids": acks})
    assert [v["why"] for v in lost["bids"]] == [
        "verify.why_other_proof",
        "verify.why_no_proof",
        None,
        None,
    ]
    await page.unroute(f"{inclusion}{acks[0]['seq']}&*")
    await page.unroute(f"{inclusion}{acks[1]['seq']}&*")

    # The event served for her bid names another bidder: by default the token's party
    # is the one the event must name.
    def to_bob(body: dict[str, Any]) -> None:
        event = json.loads(body["event"])
        event["bidder"] = "bob"
        body["event"] = json.dumps(event, sort_keys=True, separators=(",", ":"))

    async def bobs_event(route: Route) -> None:
        await _rewrite(route, to_bob)

    await page.route(f"{inclusion}{acks[0]['seq']}&*", bobs_event)
    swapped = await page.evaluate(VERIFY, {"auction": auction, "token": token, "bids": acks})
    assert [v["why"] for v in swapped["bids"]] == ["verify.why_other_bidder", None, None, None]
    await page.unroute(f"{inclusion}{acks[0]['seq']}&*")

    # Another party than the token's: its own bids are not that party's.
    other = await page.evaluate(
        VERIFY, {"auction": auction, "token": token, "bids": acks[:1], "party": "bob"}
    )
    assert other["bids"][0]["why"] == "verify.why_other_bidder"
    assert _keys_of(result) | _keys_of(lost) | _keys_of(other) <= _catalog_keys()


async def test_without_ed25519_in_webcrypto_nothing_is_proven(server: Live, page: Page) -> None:
    auction, token, acks, _ = await auction_with_bids(server)
    await page.evaluate(
        """() => {
          const importKey = crypto.subtle.importKey.bind(crypto.subtle);
          crypto.subtle.importKey = (format, data, algorithm, ...rest) =>
            algorithm?.name === 'Ed25519'
              ? Promise.reject(new DOMException('no', 'NotSupportedError'))
              : importKey(format, data, algorithm, ...rest);
        }"""
    )
    result = await page.evaluate(VERIFY, {"auction": auction, "token": token, "bids": acks})
    assert (result["ok"], result["key"]) == (False, "verify.unsupported")
    assert all(v["why"] == "verify.why_refused" for v in result["bids"])
