"""The browser pages of sealed tenders, as their own blueprint: the supplier's sealing
page under ``/seal/``, with the files it loads, and under ``/open/`` the officer's
custody modules (``tender-custody.js``, ``seal.js``) that the officer's pages of the web
application import (``api/static/app/staff/officer/``: the opening ceremony and the key
ceremony). The opening page that was served at ``/open/`` is now the application's
``#/officer/tender/<id>``: ``/open/`` redirects there.

==========================================  ========================================
route                                       what
==========================================  ========================================
``GET /seal``, ``GET /open``                308 to ``/seal/``, ``/open/`` (query kept)
``GET /seal/``                              the sealing page
``GET /open/``                              308 to ``/app/#/officer/tender/<tender>``
                                            (``?tender=``), else ``/app/#/officer``
``GET /seal/<name>``, ``GET /open/<name>``  a file of the allow-list, else 404
==========================================  ========================================

Each path has its own allow-list of files (read from ``api/static/`` once, when the
blueprint is built); nothing else under ``static/`` is served. Anyone may load them (the
routes' rule in :data:`api.access.rules.ROUTES` is "no token"): a token, an offer typed
in and a key file read stay in the browser, which talks to this origin only
(:data:`SEAL_CSP`).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect

from api.http.problems import Code, ProblemError, problem

__all__ = ["SEAL_CSP", "pages_blueprint"]

#: Where the pages' files are.
_STATIC = Path(__file__).resolve().parent.parent / "static"
#: The supplier's sealing page and what it loads, served under ``/seal/``: path → (file,
#: media type).
_SEAL_FILES = {
    "": ("seal.html", "text/html; charset=utf-8"),
    "seal.js": ("seal.js", "text/javascript; charset=utf-8"),
    "seal-page.js": ("seal-page.js", "text/javascript; charset=utf-8"),
    "tender-seal.css": ("tender-seal.css", "text/css; charset=utf-8"),
}
#: The officer's custody modules, served under ``/open/`` for the application's officer
#: pages to import.
_OPEN_FILES = {
    "seal.js": ("seal.js", "text/javascript; charset=utf-8"),
    "tender-custody.js": ("tender-custody.js", "text/javascript; charset=utf-8"),
}
#: What an ``?tender=`` of an old opening link may be to be carried over (an id's bound).
_TENDER_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")  # contracts.bounds.TENDER_IDENT
#: Both pages run their own module scripts only, talk to this server only, and may not be
#: framed: a token in the fragment, an offer typed in and a key file read stay on this origin.
SEAL_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def pages_blueprint() -> Blueprint:
    """The blueprint of the sealing and opening pages (reads their files now)."""
    bp = Blueprint("pages")
    files = {"seal": _SEAL_FILES, "open": _OPEN_FILES}
    contents = {
        page: {path: (_STATIC / name).read_bytes() for path, (name, _) in listed.items()}
        for page, listed in files.items()
    }

    def asset(page: str, path: str) -> HTTPResponse:
        if path not in contents[page]:
            raise ProblemError(problem(Code.NOT_FOUND, f"no file {path!r}"))
        return HTTPResponse(
            contents[page][path],
            content_type=files[page][path][1],
            headers={
                "Content-Security-Policy": SEAL_CSP,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-cache",
            },
        )

    def to_page(request: Request, page: str) -> HTTPResponse:
        query = f"?{request.query_string}" if request.query_string else ""
        return redirect(f"/{page}/{query}", status=308)

    @bp.get("/seal", name="tender_seal_redirect", strict_slashes=True)
    async def seal_redirect(request: Request) -> HTTPResponse:
        return to_page(request, "seal")

    @bp.get("/seal/", name="tender_seal_page", strict_slashes=True)
    async def seal_page(request: Request) -> HTTPResponse:
        return asset("seal", "")

    @bp.get("/seal/<name>", name="tender_seal_asset")
    async def seal_asset(request: Request, name: str) -> HTTPResponse:
        return asset("seal", name)

    @bp.get("/open", name="tender_open_redirect", strict_slashes=True)
    async def open_redirect(request: Request) -> HTTPResponse:
        return to_page(request, "open")

    @bp.get("/open/", name="tender_open_page", strict_slashes=True)
    async def open_page(request: Request) -> HTTPResponse:
        # The opening ceremony is the application's officer page now. A token an old
        # link carried in its fragment is dropped (the Location has a fragment of its
        # own): the officer signs in there.
        tender = request.args.get("tender", "")
        where = "#/officer"
        if _TENDER_ID.fullmatch(tender):
            where = f"#/officer/tender/{quote(tender, safe='')}"
        return redirect(f"/app/{where}", status=308)

    @bp.get("/open/<name>", name="tender_open_asset")
    async def open_asset(request: Request, name: str) -> HTTPResponse:
        return asset("open", name)

    return bp
