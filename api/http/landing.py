"""The landing page: what a visitor opening the server's address sees.

=======================  ===============================================================
route                    what
=======================  ===============================================================
``GET /``                the page, ``api/static/landing/index.html`` (``landing_page``)
``GET /landing/<path>``  a file under ``api/static/landing/`` (``landing_asset``)
=======================  ===============================================================

The page says what this server is, lists the live and upcoming auctions (it reads
``GET /api/v1/public/auctions``, :mod:`api.http.public`, and shows times in the visitor's
zone), and links each audience to its way in: suppliers (an invitation link from the
officer), officers (the API docs and the ``gavel`` command), auditors (``gavel audit``)
and the API docs. Its words come from the supplier application's catalog
(``/app/i18n/<lang>.json``) through ``/app/i18n.js``; it imports ``/app/time.js``.

The files are read once, when the blueprint is built, and served with the pages' headers
(:data:`api.http.pages.SEAL_CSP`: this origin's scripts and styles only, no inline
script, no framing). Any other path is a 404 problem. Both routes are public (their rules
in :data:`api.access.rules.ROUTES`); they are pages, not API operations.
"""

from __future__ import annotations

from pathlib import Path

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from api.http.app_assets import MEDIA, app_files
from api.http.pages import SEAL_CSP
from api.http.problems import Code, ProblemError, problem

__all__ = ["LANDING_ROOT", "PAGE", "landing_blueprint"]

#: Where the landing page's files are.
LANDING_ROOT = Path(__file__).resolve().parent.parent / "static" / "landing"
#: The file ``/`` serves.
PAGE = "index.html"
_HEADERS = {
    "Content-Security-Policy": SEAL_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def landing_blueprint(root: Path = LANDING_ROOT) -> Blueprint:
    """The blueprint of ``/`` and the landing page's files (reads them now)."""
    bp = Blueprint("landing")
    files = {
        path: (file.read_bytes(), MEDIA[file.suffix]) for path, file in app_files(root).items()
    }

    def serve(path: str) -> HTTPResponse:
        found = files.get(path)
        if found is None:
            raise ProblemError(problem(Code.NOT_FOUND, "no such file of the landing page"))
        body, media = found
        return HTTPResponse(body, content_type=media, headers=_HEADERS)

    @bp.get("/", name="landing_page", strict_slashes=True)
    async def landing_page(request: Request) -> HTTPResponse:
        return serve(PAGE)

    @bp.get("/landing/<path:path>", name="landing_asset")
    async def landing_asset(request: Request, path: str) -> HTTPResponse:
        return serve(path)

    return bp
