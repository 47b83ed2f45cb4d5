"""The officer's custody modules in a real headless Chromium, on the live server.

At the opening an officer picks its key file (read in the page, never uploaded) and hands
in its share on the application's tender page (``/app/#/officer/tender/<id>``: the page
and the ceremony with two officers are ``test_officer_ceremony.py``): the page fetches the
server key and the encrypted share, verifies the Ed25519 signature, HPKE-opens the value
and checks its digest with WebCrypto (``api/static/tender-custody.js``, served under
``/open/``), then posts the share. These tests pin that decryption to
:func:`contracts.custody.decrypt_share` byte for byte and reason for reason, check that a
wrong key file or a tampered share is refused in the page with nothing sent, under the
application's CSP, and that the old opening page's address (``/open/``) leads there.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.async_api import Page, Route, async_playwright

from api.http.pages import SEAL_CSP
from contracts import custody
from tests.api.http.test_tenders import KEYS, T, new_tender
from tests.browser import CHROMIUM, CHROMIUM_ARGS

if TYPE_CHECKING:
    from tests.api.conftest import Live

# Registered before any page script runs (through the DevTools protocol, so the page's CSP
# does not apply to it): every CSP violation of the page is kept for the test to read.
WATCH_CSP = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""
# Run in the page: the custody module, loaded as the page loads it (same origin, same CSP).
LOAD = "async () => { window.custody = await import('/open/tender-custody.js'); return true; }"


@dataclass
class Watched:
    """A browser page on the live server, and what it did."""

    page: Page
    errors: list[str]  # page errors and console errors
    requests: list[tuple[str, str]]  # (method, url) of every request the page sent
    refused: list[tuple[int, str]]  # (status, url) of every answer >= 400

    async def violations(self) -> list[str]:
        found: list[str] = await self.page.evaluate("window.__violations")
        return found

    def posts(self) -> list[str]:
        return [url for method, url in self.requests if method == "POST"]


@asynccontextmanager
async def opening_page(server: Live, path: str) -> AsyncIterator[Watched]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            watched = Watched(page, [], [], [])
            await page.add_init_script(WATCH_CSP)
            page.on("pageerror", lambda error: watched.errors.append(str(error)))
            # A refused request is logged as "Failed to load resource"; those are checked
            # by status and URL through `refused` instead.
            page.on(
                "console",
                lambda message: (
                    watched.errors.append(message.text)
                    if message.type == "error" and "Failed to load resource" not in message.text
                    else None
                ),
            )
            page.on(
                "request", lambda request: watched.requests.append((request.method, request.url))
            )
            page.on(
                "response",
                lambda reply: (
                    watched.refused.append((reply.status, reply.url))
                    if reply.status >= 400 and not reply.url.endswith("/favicon.ico")
                    else None
                ),
            )
            response = await page.goto(f"http://127.0.0.1:{server.port}{path}")
            assert response is not None and response.status == 200
            assert response.headers["content-security-policy"] == SEAL_CSP
            await page.wait_for_selector("#app[data-ready='yes']")
            yield watched
            assert watched.errors == []
            assert await watched.violations() == []
        finally:
            await browser.close()


async def hand_in(watched: Watched, key_file: str) -> tuple[str, str]:
    """Pick ``key_file`` on the tender page, hand in, and wait for the refusal: its
    reason and its words."""
    page = watched.page
    await page.set_input_files(
        "#key-file-L1",
        files=[
            {"name": "officer.json", "mimeType": "application/json", "buffer": key_file.encode()}
        ],
    )
    form = page.locator("[data-lot='L1'] form.hand-in")
    attempt = int(await form.get_attribute("data-attempt") or "0") + 1
    await page.click("[data-lot='L1'] .hand-in-button")
    await page.wait_for_selector(
        f"[data-lot='L1'] form.hand-in[data-attempt='{attempt}'][data-state='refused']"
    )
    shown = form.locator(".field-error")
    reason = await shown.get_attribute("data-reason") or ""
    return reason, " ".join((await shown.inner_text()).split())


# ------------------------------------------------------------------------ the bytes


def _reason(work: Any) -> str:
    try:
        work()
    except custody.CustodyError as error:
        return error.reason
    return "ok"


async def _js_decrypt(
    page: Page, encrypted: dict[str, Any], private: bytes, ceremony: bytes, tender: str
) -> dict[str, Any]:
    """The page's decryptShare + shareToJson, or ``{"reason": …}`` for a CustodyError."""
    answer: dict[str, Any] = await page.evaluate(
        """async (arg) => {
          const C = window.custody;
          const unhex = (h) => Uint8Array.from(h.match(/../g), (b) => parseInt(b, 16));
          try {
            const share = await C.decryptShare(C.parseEncryptedShare(arg.encrypted),
              unhex(arg.private), {ceremonyPublic: unhex(arg.ceremony), tenderId: arg.tender});
            return {share: C.shareToJson(share)};
          } catch (error) {
            if (!(error instanceof C.CustodyError)) throw error;
            return {reason: error.reason};
          }
        }""",
        {
            "encrypted": encrypted,
            "private": private.hex(),
            "ceremony": ceremony.hex(),
            "tender": tender,
        },
    )
    return answer


def _resigned(
    share: custody.EncryptedShare, signer: Ed25519PrivateKey, **changes: Any
) -> custody.EncryptedShare:
    changed = replace(share, **changes)
    return replace(changed, signature=signer.sign(changed.signed_bytes()))


async def test_the_page_decrypts_a_python_share_to_the_same_share_json(server: Live) -> None:
    officers = {"o1": custody.generate_officer_keys(), "ö-2": custody.generate_officer_keys()}
    officers["o3"] = custody.generate_officer_keys()
    private, public = custody.generate_opening_key()
    signer = Ed25519PrivateKey.generate()
    ceremony = signer.public_key().public_bytes_raw()
    tender = "t-bytes-é"
    shares = custody.split_key(
        bytearray(private), 2, {n: k.encryption_public for n, k in officers.items()}, signer, tender
    )
    async with opening_page(server, "/app/") as watched:
        page = watched.page
        assert await page.evaluate(LOAD)
        from_page = []
        for encrypted in shares:
            keys = officers[encrypted.officer_id]
            expected = custody.decrypt_share(
                encrypted, keys.encryption_private, ceremony_public=ceremony, tender_id=tender
            ).to_json()
            answer = await _js_decrypt(
                page, encrypted.to_json(), keys.encryption_private, ceremony, tender
            )
            # The same JSON, in the same member order, as Share.to_json.
            assert answer["share"] == expected
            assert list(answer["share"]) == list(expected)
            from_page.append(custody.Share.from_json(answer["share"]))
        # The page's shares rebuild the opening key.
        key = custody.combine(from_page[:2], 2, public, ceremony_public=ceremony, tender_id=tender)
        assert bytes(key) == private

        first, second = shares[0], shares[1]
        flipped = bytes(b ^ (i == 40) for i, b in enumerate(first.ciphertext))
        mine, theirs = officers["o1"].encryption_private, officers["o3"].encryption_private
        other_signer = Ed25519PrivateKey.generate()
        bad_digest = hashlib.sha256(b"x").digest()
        moved = _resigned(first, signer, ciphertext=second.ciphertext)
        cases: list[tuple[str, custody.EncryptedShare, bytes, str, str]] = [
            ("a stranger's key", first, theirs, tender, "decrypt_failed"),
            ("one bit of the ciphertext", replace(first, ciphertext=flipped), mine, tender,
             "forged_share"),
            ("signed by another key", _resigned(first, other_signer), mine, tender,
             "forged_share"),
            ("another tender's opening", first, mine, "t-other", "forged_share"),
            ("a signed digest of another value", _resigned(first, signer, value_digest=bad_digest),
             mine, tender, "forged_share"),
            # o2's sealed value under o1's record, signed: info binds officer and index.
            ("a value moved to another slot", moved,
             officers[second.officer_id].encryption_private, tender, "decrypt_failed"),
        ]  # fmt: skip
        for name, encrypted, key_bytes, tender_id, reason in cases:
            python = _reason(
                lambda e=encrypted, k=key_bytes, t=tender_id: custody.decrypt_share(
                    e, k, ceremony_public=ceremony, tender_id=t
                )
            )
            answer = await _js_decrypt(page, encrypted.to_json(), key_bytes, ceremony, tender_id)
            assert (python, answer.get("reason")) == (reason, reason), name

        # Malformed records are refused by the parser, as EncryptedShare.from_json does.
        for name, change in (
            ("no type", {"type": None}),
            ("index 0", {"index": 0}),
            ("short digest", {"value_digest": "ab" * 31}),
            ("not base64", {"ciphertext": "***"}),
            ("empty officer", {"officer_id": ""}),
        ):
            body = {**first.to_json(), **change}
            python = _reason(lambda b=body: custody.EncryptedShare.from_json(b))
            answer = await _js_decrypt(
                page, body, officers["o1"].encryption_private, ceremony, tender
            )
            assert (python, answer.get("reason")) == ("malformed", "malformed"), name


async def test_the_page_reads_an_officer_key_file_as_python_does(server: Live) -> None:
    keys = KEYS["o1"]
    good = json.loads(keys.to_json())
    other = KEYS["o2"].public_json()
    bare = {k: good[k] for k in ("type", "encryption_private", "signing_private")}
    files = {
        "the key file": (keys.to_json(), "ok"),
        "no public halves": (json.dumps(bare), "ok"),
        "another signing public": (
            json.dumps({**good, "signing_public": other["signing_public"]}),
            "bad_key",
        ),
        "another encryption public": (
            json.dumps({**good, "encryption_public": other["encryption_public"]}),
            "bad_key",
        ),
        "not a key file": (json.dumps({**good, "type": "gavel-envelope/v1"}), "malformed"),
        "short key": (json.dumps({**good, "encryption_private": "00" * 31}), "malformed"),
        "not JSON": ("{", "malformed"),
        "a list": ("[]", "malformed"),
    }
    async with opening_page(server, "/app/") as watched:
        assert await watched.page.evaluate(LOAD)
        for name, (text, reason) in files.items():
            assert _reason(lambda t=text: custody.OfficerKeys.from_json(t)) == reason, name
            answer = await watched.page.evaluate(
                """async (text) => {
                  try {
                    const keys = await window.custody.readOfficerKeys(text);
                    return {reason: "ok", publics: [keys.encryptionPublic, keys.signingPublic]};
                  } catch (error) {
                    return {reason: error.reason};
                  }
                }""",
                text,
            )
            assert answer["reason"] == reason, name
            if reason == "ok":
                assert answer["publics"] == [good["encryption_public"], good["signing_public"]]


# ------------------------------------------------------------------- the live page


async def test_a_wrong_key_file_or_a_tampered_share_is_refused_and_nothing_is_sent(
    server: Live,
) -> None:
    tender = await new_tender(server, close_in=0.3, threshold=2)
    await tender.wait_deadline()

    async def tamper(route: Route) -> None:
        reply = await route.fetch()
        body = await reply.json()
        ciphertext = bytearray(base64.b64decode(body["ciphertext"]))
        ciphertext[-1] ^= 1
        body["ciphertext"] = base64.b64encode(bytes(ciphertext)).decode()
        await route.fulfill(response=reply, json=body)

    async with opening_page(server, f"/app/#/officer/tender/{tender.id}") as o1:
        page = o1.page
        await page.fill("#staff-token", tender.officer["o1"])
        await page.click("#staff-sign-in")
        await page.wait_for_selector("[data-lot='L1'] .hand-in-button:not([disabled])")
        # A stranger's key file, and another officer's: the share does not open.
        for keys in (custody.generate_officer_keys(), KEYS["o2"]):
            reason, words = await hand_in(o1, keys.to_json())
            assert reason == "decrypt_failed", words
            assert "does not open with this key file" in words
        # A key file whose public half is not its private key's.
        body = {**json.loads(KEYS["o1"].to_json()), "signing_public": "00" * 32}
        assert (await hand_in(o1, json.dumps(body)))[0] == "bad_key"
        # A share altered on its way to the page: the server's signature does not verify.
        await page.route(f"**{T}/{tender.id}/shares/mine", tamper)
        reason, words = await hand_in(o1, KEYS["o1"].to_json())
        assert reason == "forged_share" and "signature" in words, words
        await page.unroute(f"**{T}/{tender.id}/shares/mine")
        assert o1.posts() == [] and o1.refused == []

    reply = await server.get(f"{T}/{tender.id}", tender.officer["o1"])
    assert reply.json()["lots"][0]["shares"] == 0
    assert not [e for e in await tender.events() if "Share" in e["type"]]


async def test_the_custody_modules_are_served_and_the_old_page_leads_to_the_app(
    server: Live,
) -> None:
    for path in ("/open/tender-custody.js", "/open/seal.js"):
        reply = await server.get(path)
        assert reply.status == 200, (path, reply.body)
        assert reply.headers["content-type"].startswith("text/javascript")
        assert reply.headers["content-security-policy"] == SEAL_CSP
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["referrer-policy"] == "no-referrer"
    # The opening page is the application's tender page now; an old link leads there
    # (its token, in the fragment, never reaches the server and is not carried over).
    for query, where in (
        ("?tender=t-1&lot=L1", "/app/#/officer/tender/t-1"),
        ("", "/app/#/officer"),
        ("?tender=../x", "/app/#/officer"),
        ("?tender=%3Cb%3E", "/app/#/officer"),
    ):
        moved = await server.get(f"/open/{query}")
        assert moved.status == 308 and moved.headers["location"] == where, (query, moved.headers)
    moved = await server.get("/open?tender=t-1")
    assert moved.status == 308 and moved.headers["location"] == "/open/?tender=t-1"
    # Each path serves its own files only; the old page's script is gone.
    for gone in ("/open/tender-open.js", "/open/open.html", "/open/tender-seal.css"):
        assert (await server.get(gone)).code == "not_found", gone
    assert (await server.get("/open/seal-page.js")).code == "not_found"
    assert (await server.get("/seal/tender-custody.js")).code == "not_found"
    assert (await server.get("/open/../app.py")).status == 404
