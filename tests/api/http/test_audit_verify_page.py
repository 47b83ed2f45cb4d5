"""The auditor's "Verify in the page" (``api/static/app/staff/audit/verify_panel.js``) in real
headless Chromium against a real server: a finished auction's export bundle verified in
the browser with WebCrypto, step by step, with the verdict ``gavel audit verify`` gives.

An English auction runs to its close with two bidders; an auditor signs in to the staff's
pages and opens the auction's audit page. The panel pins the server's published key,
downloads the bundle and shows each step passed (the engine's replay said to be the CLI's),
then proves the event the auditor picks is in the signed log, with the bundle's path and
with the server's own proof. Tampered copies chosen from disk (a bid's amount changed, an
event removed, a checkpoint's signature byte flipped) each fail at the step, event and
checkpoint that ``gavel audit verify --key`` (its ``main``, in this process) names. axe-core
finds nothing serious in the panel; screenshots of it at 390 and 1280 px, light and dark,
verified and failed: ``test-artifacts/audit-verify-*.png``.

The panel is the one the auditor's auction page (staff/audit/auction.js) renders; where
that page does not (yet) show it, the test mounts it in the signed-in staff frame itself
(Preact's render from the vendored module).
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import redirect_stderr
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from api.audit.cli import main as gavel_audit
from tests.api.conftest import Live
from tests.api.http.test_verify_bundle_js import CLI_MESSAGES, cli_verdict
from tests.api.http.test_verify_js import auction_with_bids
from tests.browser import ARTIFACTS, RAW, watch_errors

pytestmark = pytest.mark.asyncio(loop_scope="module")

MOUNT = """async ([id, token]) => {
  const { html, render } = await import('/vendor/htm@3.1.1/htm-preact.mjs');
  const { VerifyPanel } = await import('/app/staff/audit/verify_panel.js');
  const { staffFetch } = await import('/app/staff/session.js');
  const staff = { token, fetch: (path, opts) => staffFetch(token, path, opts) };
  const host = document.createElement('main');
  host.className = 'staff-main';
  const old = document.querySelector('.staff-main');
  if (old) old.replaceWith(host);
  else document.querySelector('.page.staff').append(host);
  render(html`<${VerifyPanel} staff=${staff} kind="auction" id=${id} />`, host);
}"""


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    return start_server()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def finished(server: Live) -> dict[str, Any]:
    """A finished English auction, an auditor's recorded token, the bundle and the key."""
    ended: list[str] = []
    auction, _, _, _ = await auction_with_bids(server, duration_s=3, close=ended)
    reply = await server.post(
        "/api/v1/tokens", {"role": "auditor", "party": "aud", "ttl_s": 7200}, token=server.officer
    )
    assert reply.status in (200, 201), reply.body
    token = reply.json()["token"]
    bundle = (await server.get(f"/api/v1/auctions/{auction}/export", token)).json()
    key = (await server.get("/api/v1/audit/key")).json()["verifier_key"]
    return {"auction": auction, "token": token, "bundle": bundle, "key": key}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def page(server: Live, chromium: Browser, finished: dict[str, Any]) -> AsyncIterator[Page]:
    context = await chromium.new_context(locale="en-US", timezone_id="Asia/Baku")
    page = await context.new_page()
    errors = watch_errors(page)
    auction = finished["auction"]
    await page.goto(f"http://127.0.0.1:{server.port}/app/#/audit/auction/{auction}")
    await page.fill("#staff-token", finished["token"])
    await page.click("#staff-sign-in")
    await page.wait_for_selector('#app[data-page="staff"]')
    await page.wait_for_selector('#verify-panel, #staff-unavailable, [data-ready="yes"]')
    try:  # the auditor's auction page renders the panel once its own data is in
        await page.wait_for_selector("#verify-panel", timeout=5000)
    except PlaywrightTimeout:
        await page.evaluate(MOUNT, [auction, finished["token"]])
    await page.wait_for_selector('#verify-panel[data-ready="yes"]')
    yield page
    await context.close()
    assert errors == []


AXE_PANEL = """async () => (await axe.run('#verify-panel', {resultTypes: ['violations']}))
  .violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)}))"""


async def look_panel(page: Page, name: str) -> None:
    """The panel as a person sees it (the page around it is its own test's): no raw value,
    nothing wider than itself from 320 to 1280 px, axe-core nothing serious or critical in
    the light and the dark theme; screenshots of the panel at 390 and 1280 px, light and
    dark: ``test-artifacts/<name>-<scheme>-<width>.png``. Leaves the page light at 1280."""
    from api.http.vendor_assets import vendored_files

    ARTIFACTS.mkdir(exist_ok=True)
    shown = await page.inner_text("#verify-panel")
    for word in RAW:
        assert word not in shown, (name, word, shown)
    assert not re.search(r"\b(bundle|verify)\.[a-z_]+", shown), (name, shown)  # a catalog key
    if not await page.evaluate("typeof axe !== 'undefined'"):
        [axe] = [p for p in vendored_files() if p.endswith("/axe.min.js")]
        await page.add_script_tag(url=f"/vendor/{axe}")
    panel = page.locator("#verify-panel")
    for scheme in ("light", "dark"):
        await page.emulate_media(color_scheme=scheme)
        for width, height in ((320, 640), (390, 844), (1280, 900)):
            await page.set_viewport_size({"width": width, "height": height})
            wide = await panel.evaluate("(p) => p.scrollWidth - p.clientWidth")
            assert wide <= 0, f"{name}: the panel scrolls sideways at {width} px"
            if width != 320:
                await panel.screenshot(path=str(ARTIFACTS / f"{name}-{scheme}-{width}.png"))
        assert await page.evaluate(AXE_PANEL) == [], (name, scheme)
    await page.emulate_media(color_scheme="light")
    await page.set_viewport_size({"width": 1280, "height": 900})


async def _verdict(page: Page, source: str) -> dict[str, Any]:
    await page.wait_for_selector(
        f'#verify-panel[data-source="{source}"]:not([data-verdict="none"])'
    )
    return await page.evaluate(
        """() => {
          const p = document.getElementById('verify-panel');
          const n = (v) => (v === '' ? null : Number(v));
          return {
            ok: p.dataset.verdict === 'ok',
            step: p.dataset.failedStep || null,
            code: p.dataset.failedCode || null,
            seq: n(p.dataset.failedSeq),
            checkpoint: n(p.dataset.failedCheckpoint),
            steps: [...p.querySelectorAll('[data-step]')].map(
              (li) => [li.dataset.step, li.dataset.status, li.innerText]),
            verdict: document.getElementById('verify-verdict')?.innerText ?? '',
          };
        }"""
    )


def _cli(bundle: dict[str, Any], key: str, tmp: Path) -> dict[str, Any]:
    """``gavel audit verify --key KEY`` of ``bundle`` (its main, in this process), as the
    page's fields; the same as :func:`cli_verdict` says."""
    path = tmp / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    stderr = io.StringIO()
    with redirect_stderr(stderr):
        status = gavel_audit(["verify", str(path), "--key", key], out=io.StringIO())
    said = cli_verdict(bundle, key)
    assert status == (0 if said["ok"] else 1)
    if status:
        message = stderr.getvalue().removeprefix("gavel audit: ")
        step = next(s for s, c, pattern in CLI_MESSAGES if c == said["code"])
        assert step == said["step"], message
    return said


async def _open_file(page: Page, bundle: dict[str, Any], tmp: Path, name: str) -> None:
    path = tmp / name
    path.write_text(json.dumps(bundle), encoding="utf-8")
    # A fresh verdict: the panel resets to "none" as it starts reading.
    await page.set_input_files("#verify-file", str(path))


def _canonical(tree: dict[str, Any]) -> str:
    return json.dumps(tree, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def amount_changed(bundle: dict[str, Any]) -> int:
    """The second accepted bid's price raised by one minor unit; its seq."""
    bids = [i for i, text in enumerate(bundle["events"]) if '"type":"BidAccepted"' in text]
    at = bids[1]
    event = json.loads(bundle["events"][at])
    event["price"] += 1
    bundle["events"][at] = _canonical(event)
    return int(event["seq"])


def event_removed(bundle: dict[str, Any]) -> int:
    """The third event removed: the fourth takes its place."""
    del bundle["events"][2]
    return 3


def signature_flipped(bundle: dict[str, Any]) -> int:
    """One bit of the last checkpoint's signature flipped; that checkpoint's number."""
    note = bundle["checkpoints"][-1]
    body, _, line = note.rpartition("\u2014 ")
    name, encoded = line.rstrip("\n").split(" ")
    raw = bytearray(base64.b64decode(encoded))
    raw[10] ^= 0x01
    bundle["checkpoints"][-1] = f"{body}\u2014 {name} {base64.b64encode(raw).decode()}\n"
    return len(bundle["checkpoints"])


async def test_a_finished_auction_verifies_in_the_page_step_by_step(
    page: Page, finished: dict[str, Any], tmp_path: Path
) -> None:
    assert _cli(finished["bundle"], finished["key"], tmp_path)["ok"] is True
    key_line = await page.inner_text("#verify-key")
    assert "gavel-audit" in key_line and finished["key"].split("+")[1] in key_line
    await page.click("#verify-download")
    said = await _verdict(page, "server")
    assert said["ok"] is True, said
    statuses = {step: status for step, status, _ in said["steps"]}
    assert statuses == {
        "signatures": "ok",
        "events": "ok",
        "tree": "ok",
        "engine": "not_checked",
        "result": "ok",
        "manifest": "ok",
    }
    texts = {step: text for step, _, text in said["steps"]}
    count = len(finished["bundle"]["events"])
    assert f"All {count} events are in canonical form" in texts["events"]
    assert "gavel audit verify" in texts["engine"]
    assert f"signed record of auction {finished['auction']}, {count} events" in said["verdict"]
    assert "server's published audit key" in said["verdict"]

    # The auditor picks a bid; the bundle's path and the server's proof both hold.
    bid = next(i for i, text in enumerate(finished["bundle"]["events"], 1) if "BidAccepted" in text)
    await page.fill("#verify-seq", str(bid))
    await page.click("#verify-prove")
    result = await page.wait_for_selector("#verify-proof-result")
    assert await result.get_attribute("data-ok") == "yes"
    await page.wait_for_selector('#verify-proof-result[data-server="yes"]')
    text = await result.inner_text()
    assert f"Event {bid} (bid accepted) is in the signed log of {count} events" in text
    assert "server's own proof of this event leads to the same signed root" in text
    # Out of range: said, and nothing is proven.
    await page.fill("#verify-seq", str(count + 1))
    assert await page.get_attribute("#verify-seq", "aria-invalid") == "true"
    assert await page.is_disabled("#verify-prove")
    await page.fill("#verify-seq", str(bid))
    assert await page.get_attribute("#verify-save", "download")
    await look_panel(page, "audit-verify")


@pytest.mark.parametrize(
    "tamper", [amount_changed, event_removed, signature_flipped], ids=lambda f: f.__name__
)
async def test_a_tampered_bundle_names_the_first_bad_event_as_the_cli_does(
    page: Page, finished: dict[str, Any], tmp_path: Path, tamper: Callable[[dict[str, Any]], int]
) -> None:
    bundle = json.loads(json.dumps(finished["bundle"]))
    where = tamper(bundle)
    cli = _cli(bundle, finished["key"], tmp_path)
    assert cli["ok"] is False
    assert where in (cli["seq"], cli["checkpoint"]), cli
    await _open_file(page, bundle, tmp_path, f"{tamper.__name__}.json")
    said = await _verdict(page, f"file:{tamper.__name__}.json")
    assert {k: said[k] for k in cli} == cli, (said, cli)
    statuses = [status for _, status, _ in said["steps"]]
    assert statuses.count("failed") == 1
    assert f"The file {tamper.__name__}.json." in said["verdict"]
    reason = await page.inner_text("#verify-reason")
    if tamper is amount_changed:
        assert reason.startswith(f"Event {where} (bid accepted) does not match the signed log")
    elif tamper is event_removed:
        assert reason.startswith(f"Event {where} has number {where + 1} where {where} is due")
    else:
        assert reason.startswith(f"Checkpoint {where} (size ")
        assert "does not verify" in reason
    if tamper is amount_changed:
        await look_panel(page, "audit-verify-failed")


async def test_a_file_that_is_not_a_bundle_is_refused_in_words(page: Page, tmp_path: Path) -> None:
    path = tmp_path / "notes.json"
    path.write_text("these are not the events", encoding="utf-8")
    await page.set_input_files("#verify-file", str(path))
    problem = await page.wait_for_selector("#verify-problem")
    assert (
        await problem.inner_text()
        == "The file notes.json is not a bundle: it is not readable JSON."
    )
    assert await page.get_attribute("#verify-panel", "data-verdict") == "none"
    statuses = await page.eval_on_selector_all(
        "[data-step]", "(s) => s.map((e) => e.dataset.status)"
    )
    assert set(statuses) == {"waiting", "not_checked"}
