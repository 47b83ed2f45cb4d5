"""The vendored libraries in a real headless Chromium (Debian's), loaded from the live
server under the pages' strict Content-Security-Policy.

A tiny page, answered at the server's origin with :data:`api.http.pages.SEAL_CSP` (the
test fulfils its two requests in the browser: the page is not part of the app), imports
preact, its hooks and htm's preact binding from ``/vendor/`` with no import map (the
policy allows none inline), renders a component with state and counts clicks; it draws a
uPlot chart with uPlot's stylesheet; then axe-core, loaded from ``/vendor/`` too, finds no
serious or critical violation on it. No script error and no policy violation on the way,
and an inline script is refused, so the policy really was in force. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playwright.async_api import Page, Route, async_playwright

from api.http.pages import SEAL_CSP
from api.http.vendor_assets import vendored_files
from tests.browser import CHROMIUM, CHROMIUM_ARGS, watch_errors

if TYPE_CHECKING:
    from tests.api.conftest import Live

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
#: Where the test's own page answers, on the server's origin (no route of the app).
PAGE = "/__vendor-test__/"


def vendored(suffix: str) -> str:
    """The ``/vendor/`` URL of the one recorded file whose path ends with ``suffix``."""
    [path] = [p for p in vendored_files() if p.endswith(suffix)]
    return f"/vendor/{path}"


def page_files() -> dict[str, tuple[str, str]]:
    """The test page and its module, by path: (media type, text)."""
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vendored libraries</title>
<link rel="stylesheet" href="{vendored("/uPlot.min.css")}">
</head>
<body>
<main>
<h1>Vendored libraries</h1>
<div id="app"></div>
<figure><figcaption>Offers over time</figcaption><div id="chart"></div></figure>
</main>
<script type="module" src="{PAGE}page.mjs"></script>
</body>
</html>
"""
    module = f"""import {{ html, render }} from "{vendored("/htm-preact.mjs")}";
import {{ useState }} from "{vendored("/hooks.mjs")}";
import uPlot from "{vendored("/uPlot.mjs")}";

function Counter() {{
  const [count, setCount] = useState(0);
  return html`
    <p id="count" aria-live="polite">Clicked ${{count}} times</p>
    <button id="more" type="button" onClick=${{() => setCount(count + 1)}}>Add one</button>`;
}}

render(html`<${{Counter}} />`, document.getElementById("app"));
new uPlot(
  {{ width: 320, height: 160, series: [{{}}, {{ label: "Bidder 1", stroke: "#0b5cad" }}] }},
  [[1, 2, 3], [99000, 98000, 97500]],
  document.getElementById("chart"),
);
document.body.dataset.ready = "yes";
"""
    return {
        PAGE: ("text/html; charset=utf-8", html),
        f"{PAGE}page.mjs": ("text/javascript; charset=utf-8", module),
    }


async def serve_the_page(page: Page, origin: str) -> None:
    files = page_files()

    async def fulfil(route: Route) -> None:
        path = route.request.url.removeprefix(origin)
        media, text = files[path]
        headers = {"Content-Security-Policy": SEAL_CSP, "X-Content-Type-Options": "nosniff"}
        await route.fulfill(status=200, content_type=media, body=text, headers=headers)

    await page.route(f"{origin}{PAGE}**", fulfil)


async def test_preact_hooks_htm_and_uplot_run_under_the_policy_and_axe_finds_nothing_serious(
    server: Live,
) -> None:
    origin = f"http://127.0.0.1:{server.port}"
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            errors = watch_errors(page)
            await serve_the_page(page, origin)
            response = await page.goto(f"{origin}{PAGE}")
            assert response is not None and response.status == 200
            assert response.headers["content-security-policy"] == SEAL_CSP
            await page.wait_for_selector("body[data-ready=yes]")
            assert await page.text_content("#count") == "Clicked 0 times"
            for expected in (1, 2, 3):
                await page.click("#more")
                await page.wait_for_function(
                    f"document.getElementById('count').textContent === 'Clicked {expected} times'"
                )
            assert await page.locator("#chart canvas").count() == 1
            assert await page.locator("#chart .u-legend").count() == 1  # uPlot's own markup
            await page.screenshot(path=str(ARTIFACTS / "vendor-page-390.png"), full_page=True)

            await page.add_script_tag(url=vendored("/axe.min.js"))
            found: list[dict[str, Any]] = await page.evaluate(
                """async () => (await axe.run(document, {resultTypes: ['violations']}))
                    .violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                           nodes: v.nodes.map(n => n.target.join(' '))}))"""
            )
            serious = [v for v in found if v["impact"] in ("serious", "critical")]
            assert serious == [], json.dumps(serious, indent=1)
            assert errors == []

            # The policy was in force: an inline script is refused.
            refused = await page.evaluate(
                """() => new Promise(done => {
                    document.addEventListener('securitypolicyviolation',
                        event => done(event.violatedDirective), {once: true});
                    const script = document.createElement('script');
                    script.textContent = 'window.inlineRan = true';
                    document.body.append(script);
                })"""
            )
            assert refused.startswith("script-src")
            assert await page.evaluate("window.inlineRan === undefined")
        finally:
            await browser.close()
