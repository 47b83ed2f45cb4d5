"""What the browser tests share: Debian's Chromium (never a downloaded one), the flags it
runs headless with, and one watcher of a page's errors."""

from __future__ import annotations

from typing import Any

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "watch_errors"]

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
