"""What the browser tests share: Debian's Chromium (never a downloaded one), the flags it
runs headless with, one watcher of a page's errors, axe-core's serious findings and the
page check with screenshots (:func:`look`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["ARTIFACTS", "CHROMIUM", "CHROMIUM_ARGS", "axe_serious", "look", "watch_errors"]

#: Where the screenshots go (ignored by git).
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
#: What a person must never read on a page: raw JSON, JavaScript's placeholders.
RAW = ("{", "}", "undefined", "NaN", "null", "[object")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def watch_errors(page: Any) -> list[str]:
    """Script errors, console errors (a CSP or Trusted Types violation among them) and
    failed loads (status >= 400) of ``page``, appended as they happen; the browser's own
    request for ``/favicon.ico`` aside. Works for Playwright's sync and async pages; call
    it before the page loads anything."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Failed to load resource" not in message.text
            else None
        ),
    )
    page.on(
        "response",
        lambda reply: (
            errors.append(f"{reply.status} {reply.url}")
            if reply.status >= 400 and not reply.url.endswith("/favicon.ico")
            else None
        ),
    )
    return errors


async def axe_serious(page: Any) -> list[dict[str, Any]]:
    """axe-core's (vendored) serious and critical violations on ``page``'s document."""
    from api.http.vendor_assets import vendored_files

    [axe] = [p for p in vendored_files() if p.endswith("/axe.min.js")]
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.add_script_tag(url=f"/vendor/{axe}")
    found: list[dict[str, Any]] = await page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)}))"""
    )
    return found


async def look(page: Any, name: str, raw: tuple[str, ...] = ()) -> None:
    """Check ``page`` as a person sees it, then photograph it: no raw value shown (:data:`RAW`
    and ``raw``, e.g. catalog key prefixes), nothing scrolls sideways from 320 to 1280 px,
    axe finds nothing serious or critical in the light and the dark theme; screenshots at
    390x844 and 1280x900, light and dark, as ``test-artifacts/<name>-<scheme>-<width>.png``.
    Leaves the page light at 1280x900."""
    ARTIFACTS.mkdir(exist_ok=True)
    shown = await page.evaluate("() => document.body.innerText")
    for word in RAW + raw:
        assert word not in shown, (name, word, shown)
    for scheme in ("light", "dark"):
        await page.emulate_media(color_scheme=scheme)
        for width, height in ((320, 640), (390, 844), (1280, 900)):
            await page.set_viewport_size({"width": width, "height": height})
            await page.wait_for_timeout(100)
            overflow = await page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name} scrolls sideways at {width} px"
            if width != 320:
                path = ARTIFACTS / f"{name}-{scheme}-{width}.png"
                await page.screenshot(path=str(path), full_page=True)
        assert await axe_serious(page) == [], (name, scheme)
    await page.emulate_media(color_scheme="light")
    await page.set_viewport_size({"width": 1280, "height": 900})
