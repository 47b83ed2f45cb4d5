"""The pages blueprint (:mod:`api.http.pages`): its routes, each open to anyone by its
rule, and every allow-listed file served byte for byte from ``api/static`` with the
pages' headers, on a real server; ``/open/`` sends the officer to the application's
opening ceremony. The pages themselves run in a browser in ``test_tender_seal_page.py``,
``test_tender_open_page.py`` and ``test_officer_ceremony.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from api.access import rules
from api.http.pages import SEAL_CSP, pages_blueprint

if TYPE_CHECKING:
    from tests.api.conftest import Live

STATIC = Path(__file__).resolve().parents[3] / "api" / "static"


def test_the_blueprint_holds_the_six_page_routes_each_open_to_anyone() -> None:
    bp = pages_blueprint()
    routes = {route.name.rpartition(".")[2]: route.uri for route in bp._future_routes}
    assert routes == {
        "tender_seal_redirect": "/seal",
        "tender_seal_page": "/seal/",
        "tender_seal_asset": "/seal/<name>",
        "tender_open_redirect": "/open",
        "tender_open_page": "/open/",
        "tender_open_asset": "/open/<name>",
    }
    assert all(rules.rule_for(name) is rules.PUBLIC for name in routes)


async def test_every_listed_file_is_served_as_stored_with_the_pages_headers(
    server: Live,
) -> None:
    for page, files, html in (
        ("seal", ("seal.js", "seal-page.js", "tender-seal.css"), True),
        ("open", ("seal.js", "tender-custody.js"), False),
    ):
        listed = ((f"/{page}/", f"{page}.html"),) if html else ()
        for path, name in (*listed, *((f"/{page}/{f}", f) for f in files)):
            reply = await server.get(path)
            assert reply.status == 200, (path, reply.body)
            assert reply.body == (STATIC / name).read_bytes(), path
            assert reply.headers["content-security-policy"] == SEAL_CSP
            assert reply.headers["cache-control"] == "no-cache"
        assert (await server.get(f"/{page}/{page}.html")).code == "not_found"
        moved = await server.get(f"/{page}")
        assert moved.status == 308 and moved.headers["location"] == f"/{page}/"
