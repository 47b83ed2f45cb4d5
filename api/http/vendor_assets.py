"""The vendored front-end libraries, served under ``/vendor/`` as their own blueprint.

==================================  ==============================================
route                               what
==================================  ==============================================
``GET /vendor/<package>@<v>/<f>``   a file the lock records (``vendor_asset``), else 404
==================================  ==============================================

What is served is exactly what ``api/static/vendor/vendor.lock.json`` records (read once,
when the blueprint is built): each package's files and its licences, by the path
``make vendor`` wrote them to (:mod:`api.vendor`, which this module does not import: it
reads the lock's JSON). ES modules (``.mjs``) and scripts are ``text/javascript``, so a
page may ``import`` them under :data:`api.http.pages.SEAL_CSP` (``script-src 'self'``);
axe-core, vendored for the accessibility tests, is served too: it is a public library
and running it needs no more than loading it.

A path names a package's version, so its bytes never change: the answer may be cached
for a year (``immutable``). Anyone may load them (the rule in
:data:`api.access.rules.ROUTES` is "no token"). Like the pages' files, these are not
API operations and are not in the OpenAPI document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from api.http.pages import SEAL_CSP
from api.http.problems import Code, ProblemError, problem

__all__ = ["VENDOR_CACHE", "vendor_blueprint", "vendored_files"]

#: Where ``make vendor`` writes the libraries and their lock.
_VENDOR = Path(__file__).resolve().parent.parent / "static" / "vendor"
_LOCK = "vendor.lock.json"
#: Media types by suffix; anything else (a licence) is plain text.
_MEDIA = {
    ".mjs": "text/javascript; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
_TEXT = "text/plain; charset=utf-8"
#: A versioned path's bytes never change.
VENDOR_CACHE = "public, max-age=31536000, immutable"


def vendored_files(root: Path = _VENDOR) -> dict[str, Path]:
    """Every file the lock under ``root`` records, by its path under ``/vendor/``
    (``preact@11.2.0/preact.mjs``). A missing or unreadable lock serves nothing."""
    try:
        lock = json.loads((root / _LOCK).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    files: dict[str, Path] = {}
    for package in lock.get("packages", []):
        folder = f"{package['name']}@{package['version']}"
        for each in package["files"]:
            files[f"{folder}/{each['path']}"] = root / folder / each["path"]
    return files


def vendor_blueprint(root: Path = _VENDOR) -> Blueprint:
    """The blueprint of ``/vendor/`` (reads the recorded files now)."""
    bp = Blueprint("vendor_assets")
    contents: Mapping[str, tuple[bytes, str]] = {
        path: (file.read_bytes(), _MEDIA.get(file.suffix, _TEXT))
        for path, file in vendored_files(root).items()
    }

    @bp.get("/vendor/<path:path>", name="vendor_asset")
    async def vendor_asset(request: Request, path: str) -> HTTPResponse:
        found = contents.get(path)
        if found is None:
            raise ProblemError(problem(Code.NOT_FOUND, f"no vendored file {path!r}"))
        body, media = found
        return HTTPResponse(
            body,
            content_type=media,
            headers={
                "Content-Security-Policy": SEAL_CSP,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": VENDOR_CACHE,
            },
        )

    return bp
