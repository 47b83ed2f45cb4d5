"""Sealing in a real headless Chromium: the browser's bytes and Python's are the same.

``api/static/seal.js`` implements HPKE on WebCrypto; these tests pin it to the RFC 9180
test vector of our suite, seal in the browser (through the ``seal.html`` form) and open in
Python, seal in Python and open in the browser, and compare ``info``, padding and offer
encoding byte for byte. The page is served from a local HTTP server on 127.0.0.1 (a
secure context, so WebCrypto is available). Chromium comes from Debian (``/usr/bin/chromium``);
Playwright drives it without downloading a browser.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from contracts.custody import generate_opening_key
from contracts.sealing import (
    DecryptFailed,
    Offer,
    commitment,
    decode_offer,
    encode_offer,
    envelope_info,
    open_envelope,
    pad,
    seal,
)
from engine.money import format_minor
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.contracts.test_sealing import RFC9180_X25519_SHA256_AES256

STATIC = Path(__file__).resolve().parents[3] / "api" / "static"
DEADLINE = 1_767_225_600_000_000

# Run in the page: load the module once and expose it as window.seal.
LOAD = "async () => { window.seal = await import('/seal.js'); return Object.keys(window.seal); }"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
    }

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(STATIC))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base_url}/seal.html")
    assert "sealOffer" in page.evaluate(LOAD)
    yield page
    page.close()
    assert errors == []


def js(page: Page, body: str, arg: Any = None) -> Any:
    """Evaluate ``async (arg) => { body }`` with the module as ``S`` and hex helpers."""
    return page.evaluate(
        "async (arg) => { const S = window.seal; const hex = S.toHex, unhex = S.fromHex; "
        + body
        + " }",
        arg,
    )


def test_webcrypto_hpke_matches_the_rfc9180_vector(page: Page) -> None:
    v = RFC9180_X25519_SHA256_AES256
    skem = "179d4b53b6365c45b600c4163b61d95cbc2f4d9e36f1695558dce265ab8bab11"  # the vector's skEm
    sealed = js(
        page,
        "return hex(await S.hpkeSeal(unhex(arg.pkRm), unhex(arg.info), unhex(arg.pt),"
        " {ephemeralPrivate: unhex(arg.skEm), aad: unhex(arg.aad)}));",
        {**v, "skEm": skem},
    )
    assert sealed == v["enc"] + v["ct"]
    opened = js(
        page,
        "return hex(await S.hpkeOpen(unhex(arg.skRm), unhex(arg.info),"
        " unhex(arg.enc + arg.ct), {aad: unhex(arg.aad)}));",
        v,
    )
    assert opened == v["pt"]


def test_sealed_in_the_browser_form_opens_in_python(page: Page, tmp_path: Path) -> None:
    private, public = generate_opening_key()
    document = tmp_path / "spec.txt"
    document.write_bytes("Technical spec — ünïcødé\n".encode() * 50)
    page.fill("#tender-key", public.hex())
    page.fill("#tender", "T-1")
    page.fill("#lot", "L-1")
    page.select_option("#kind", "financial")
    page.fill("#bidder", "acme")
    page.fill("#deadline", str(DEADLINE))
    page.fill("#amount", "12345.67")
    page.fill("#cost", "250")
    page.fill("#currency", "EUR")
    page.set_input_files("#documents", str(document))
    page.click("#seal")
    page.wait_for_selector("#status[data-commitment]")
    envelope = json.loads(page.input_value("#envelope"))
    assert envelope["type"] == "gavel-envelope/v1"
    ciphertext = base64.b64decode(envelope["ciphertext"])
    assert envelope["commitment"] == commitment(ciphertext)
    assert page.get_attribute("#status", "data-commitment") == commitment(ciphertext)
    info = envelope_info("T-1", "L-1", "financial", "acme", DEADLINE)
    offer = decode_offer(open_envelope(private, info, ciphertext))
    assert offer == Offer(
        amount_minor=1_234_567,
        currency="EUR",
        cost_minor=25_000,
        documents={"spec.txt": document.read_bytes()},
    )
    # Bound to the bidder: the same bytes claimed by another bidder do not open.
    with pytest.raises(DecryptFailed):
        open_envelope(
            private, envelope_info("T-1", "L-1", "financial", "rival", DEADLINE), ciphertext
        )


def test_the_form_reports_a_bad_offer(page: Page) -> None:
    _, public = generate_opening_key()
    for selector, value in (
        ("#tender-key", public.hex()),
        ("#tender", "T-1"),
        ("#lot", "L-1"),
        ("#bidder", "acme"),
        ("#deadline", str(DEADLINE)),
        ("#amount", "10"),
        ("#currency", "eur"),
    ):
        page.fill(selector, value)
    page.click("#seal")
    page.wait_for_selector("#status.error")
    assert "bad_offer" in page.text_content("#status")
    assert page.input_value("#envelope") == ""


def test_sealed_in_python_opens_in_the_browser(page: Page) -> None:
    private, public = generate_opening_key()
    offer = Offer(
        amount_minor=9_007_199_254_740_991,
        currency="UAH",
        features={"warranty": "0.25", "délai": "3"},
        cost_minor=42,
        documents={"a.pdf": bytes(range(256))},
    )
    info = envelope_info("T-9", "L-2", "financial", "bidder-ü", DEADLINE)
    ciphertext = seal(public, info, encode_offer(offer))
    arg = {"key": private.hex(), "ct": ciphertext.hex(), "deadline": str(DEADLINE)}
    result = js(
        page,
        "const info = S.envelopeInfo('T-9', 'L-2', 'financial', 'bidder-ü', BigInt(arg.deadline));"
        "const plain = await S.openEnvelope(unhex(arg.key), info, unhex(arg.ct));"
        "const offer = S.decodeOffer(plain);"
        "offer.documents = Object.fromEntries(Object.entries(offer.documents)"
        "  .map(([k, v]) => [k, hex(v)]));"
        "let moved = null;"
        "try { await S.openEnvelope(unhex(arg.key),"
        "  S.envelopeInfo('T-9', 'L-2', 'financial', 'other', BigInt(arg.deadline)),"
        "  unhex(arg.ct)); } catch (e) { moved = e.reason; }"
        "return {offer, plain: hex(plain), commitment: await S.commitment(unhex(arg.ct)), moved};",
        arg,
    )
    assert bytes.fromhex(result["plain"]) == encode_offer(offer)
    assert result["offer"] == {
        "amount": "90071992547409.91",
        "currency": "UAH",
        "cost": "0.42",
        "features": {"warranty": "0.25", "délai": "3"},
        "documents": {"a.pdf": bytes(range(256)).hex()},
    }
    assert result["commitment"] == commitment(ciphertext)
    assert result["moved"] == "decrypt_failed"


@pytest.mark.parametrize(
    ("tender", "lot", "kind", "bidder", "deadline"),
    [
        ("T-1", "L-1", "financial", "acme", DEADLINE),
        ("tender/2026/ü", "lot 😀", "technical", "ООО Ромашка", 0),
        ("x" * 256, "y", "qualification", "z", 2**63 - 1),
    ],
)
def test_info_bytes_are_identical(
    page: Page, tender: str, lot: str, kind: str, bidder: str, deadline: int
) -> None:
    arg = {"t": tender, "l": lot, "k": kind, "b": bidder, "d": str(deadline)}
    browser_info = js(
        page, "return hex(S.envelopeInfo(arg.t, arg.l, arg.k, arg.b, BigInt(arg.d)));", arg
    )
    assert browser_info == envelope_info(tender, lot, kind, bidder, deadline).hex()


def test_bad_info_is_refused_alike(page: Page) -> None:
    reasons = js(
        page,
        "const out = [];"
        "for (const args of [['', 'l', 'financial', 'b', 1], ['t', 'l', 'price', 'b', 1],"
        "  ['t', 'l', 'financial', 'b', -1], ['t'.repeat(257), 'l', 'financial', 'b', 1],"
        "  ['\\ud800', 'l', 'financial', 'b', 1], ['t', 'l', 'financial', 'b', true]]) {"
        "  try { S.envelopeInfo(...args); out.push(null); } catch (e) { out.push(e.reason); } }"
        "return out;",
    )
    assert reasons == ["bad_info"] * 6


@pytest.mark.parametrize("length", [0, 1, 1020, 1021, 5000])
def test_padding_is_identical(page: Page, length: int) -> None:
    data = bytes(i % 251 for i in range(length))
    result = js(page, "const p = S.pad(unhex(arg)); return [hex(p), hex(S.unpad(p))];", data.hex())
    assert result == [pad(data).hex(), data.hex()]


def test_offer_encoding_is_identical(page: Page) -> None:
    cases = [
        Offer(amount_minor=0, currency="EUR"),
        Offer(amount_minor=12_345, currency="PLN", cost_minor=0),
        Offer(amount_minor=1_500, currency="JPY", cost_minor=7),
        Offer(amount_minor=1_001, currency="KWD"),
        Offer(
            amount_minor=1,
            currency="EUR",
            # Keys that sort differently by UTF-16 code unit and by code point.
            features={"\uffff": "1", "😀": "2", 'a\n"b': "0.5", "é": "10"},
            documents={"z.bin": b"\x00\xff" * 10, "ä.txt": b""},
        ),
    ]
    for offer in cases:
        cost = offer.cost_minor
        arg = {
            # The browser takes major units; "5" and "5.00" EUR seal the same bytes.
            "amount": _unpadded(format_minor(offer.amount_minor, offer.currency)),
            "currency": offer.currency,
            "features": dict(offer.features),
            "cost": None if cost is None else format_minor(cost, offer.currency),
            "documents": {name: data.hex() for name, data in offer.documents.items()},
        }
        encoded = js(
            page,
            "arg.documents = Object.fromEntries(Object.entries(arg.documents)"
            "  .map(([k, v]) => [k, unhex(v)]));"
            "return hex(S.encodeOffer(arg));",
            arg,
        )
        assert bytes.fromhex(encoded) == encode_offer(offer)


def _unpadded(plain: str) -> str:
    return plain.rstrip("0").rstrip(".") if "." in plain else plain


def test_the_browser_writes_one_cost_name_and_still_reads_version_1(page: Page) -> None:
    """``cost`` and ``amount`` in major units; the version 1 minor-unit names are refused
    when sealing (a clear bad_offer) but read from envelopes sealed before."""
    old = b'{"amount_minor":12345,"currency":"EUR","non_price_cost_minor":500,"version":1}'
    result = js(
        page,
        "const out = {};"
        "try { S.encodeOffer({amount_minor: 1, currency: 'EUR'}); } catch (e) {"
        "  out.refused = [e.reason, e.message]; }"
        "try { S.encodeOffer({amount: '1', cost: '0.001', currency: 'EUR'}); } catch (e) {"
        "  out.decimals = e.message; }"
        "out.old = S.decodeOffer(unhex(arg));"
        "return out;",
        old.hex(),
    )
    assert result["refused"][0] == "bad_offer" and "amount_minor" in result["refused"][1]
    assert "at most 2 decimals" in result["decimals"]
    assert result["old"] == {
        "amount": "123.45",
        "currency": "EUR",
        "cost": "5.00",
        "features": {},
        "documents": {},
    }


def test_a_tampered_envelope_fails_in_the_browser(page: Page) -> None:
    private, public = generate_opening_key()
    info = envelope_info("T-1", "L-1", "financial", "acme", DEADLINE)
    ciphertext = bytearray(seal(public, info, b"{}"))
    ciphertext[100] ^= 1
    arg = {"key": private.hex(), "ct": ciphertext.hex(), "info": info.hex()}
    reasons = js(
        page,
        "const out = [];"
        "for (const ct of [arg.ct, arg.ct.slice(2)]) {"
        "  try { await S.openEnvelope(unhex(arg.key), unhex(arg.info), unhex(ct));"
        "    out.push(null); }"
        "  catch (e) { out.push(e.reason); } }"
        "return out;",
        arg,
    )
    assert reasons == ["decrypt_failed", "malformed"]
