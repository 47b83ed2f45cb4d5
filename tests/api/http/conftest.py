"""The async browser fixtures the supplier-page test modules share.

* ``chromium`` (module scope, the module's event loop): one headless Chromium, Debian's
  (:data:`tests.browser.CHROMIUM`), launched once per module (about a second; six on a
  loaded machine) and closed when the module ends;
* ``browser`` (per test, the module's loop): that Chromium for one test; each supplier
  gets a context of its own in it (cookies, storage and sockets apart, as separate
  browsers have them), and every context the test opened is closed when it ends, passed
  or failed. A module whose pages outlive one test (a module-scoped scene) overrides
  ``browser`` with the bare ``chromium``.

Tests using them run in the module's loop: ``pytest.mark.asyncio(loop_scope="module")``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Browser]:
    """One headless Chromium for the module's tests."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def browser(chromium: Browser) -> AsyncIterator[Browser]:
    """The module's Chromium for one test; the contexts it opened closed after it."""
    yield chromium
    for context in list(chromium.contexts):
        await context.close()
