"""The application's files and the wire contract's JSON Schemas
(:mod:`api.http.app_assets`): the blueprint's routes, each open to anyone; every file
under ``api/static/app`` served byte for byte with the pages' headers, nothing else; the
served schemas are exactly :mod:`contracts.schema`'s output for every message and body;
and each schema route is an operation of the OpenAPI document. On a real server, as
``test_pages.py`` does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from api.access import rules
from api.http.app_assets import (
    APP_ROOT,
    MEDIA,
    PAGE,
    app_assets_blueprint,
    app_files,
    http_schema,
    messages_schema,
)
from api.http.pages import SEAL_CSP
from contracts import http, messages
from contracts.schema import all_schemas, json_schema

if TYPE_CHECKING:
    from tests.api.conftest import Live

ROUTES = {
    "app_redirect": "/app",
    "app_page": "/app/",
    "app_asset": "/app/<path:path>",
    "schemas_messages": "/api/v1/schemas/messages.json",
    "schemas_http": "/api/v1/schemas/http.json",
    "schemas_rules": "/api/v1/schemas/rules.json",
    "schemas_tender": "/api/v1/schemas/tender.json",
}


def test_the_blueprint_holds_seven_routes_each_open_to_anyone() -> None:
    bp = app_assets_blueprint()
    routes = {route.name.rpartition(".")[2]: route.uri for route in bp._future_routes}
    assert routes == ROUTES
    assert all(rules.rule_for(name) is rules.PUBLIC for name in routes)


def test_the_files_are_the_modules_and_the_catalogs_only(tmp_path: Path) -> None:
    modules = {"i18n.js", "money.js", "time.js", "contract.js"}
    assert modules | {"i18n/en.json", "i18n/az.json"} <= set(app_files())
    assert all(Path(name).suffix in MEDIA for name in app_files())
    # Only known suffixes, no hidden files or folders; a missing folder serves nothing.
    (tmp_path / "a.js").write_text("export {};")
    (tmp_path / "notes.md").write_text("no")
    (tmp_path / ".hidden.js").write_text("no")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.js").write_text("no")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.json").write_text("{}")
    assert set(app_files(tmp_path)) == {"a.js", "sub/b.json"}
    assert app_files(tmp_path / "absent") == {}


def _without_draft(cls: type) -> dict[str, object]:
    schema = json_schema(cls)
    schema.pop("$schema")
    return schema


def test_the_schemas_are_contracts_schema_output_for_every_type() -> None:
    served = messages_schema()
    every = all_schemas()
    wire = {**messages.CLIENT_MESSAGES, **messages.SERVER_MESSAGES}
    assert set(served["$defs"]) == {cls.__name__ for cls in wire.values()}
    for cls in wire.values():
        assert served["$defs"][cls.__name__] == _without_draft(cls)
        assert {**served["$defs"][cls.__name__], "$schema": every[cls.__name__]["$schema"]} == (
            every[cls.__name__]
        )
    assert served["client"] == {tag: cls.__name__ for tag, cls in messages.CLIENT_MESSAGES.items()}
    assert served["server"] == {tag: cls.__name__ for tag, cls in messages.SERVER_MESSAGES.items()}
    assert served["protocol"] == messages.PROTOCOL
    bodies = http_schema()
    assert bodies["$defs"] == {name: _without_draft(getattr(http, name)) for name in http.__all__}
    for document in (served, bodies):
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert document["anyOf"] == [{"$ref": f"#/$defs/{name}"} for name in document["$defs"]]


async def test_every_file_is_served_as_stored_with_the_pages_headers(server: Live) -> None:
    for name, path in app_files().items():
        reply = await server.get(f"/app/{name}")
        assert reply.status == 200, (name, reply.body)
        assert reply.body == path.read_bytes(), name
        assert reply.headers["content-type"] == MEDIA[path.suffix]
        assert reply.headers["content-security-policy"] == SEAL_CSP
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["cache-control"] == "no-cache"
    for missing in ("/app/nope.js", "/app/i18n/fr.json", "/app/../pages.py", "/app/%2e%2e/x.js"):
        reply = await server.get(missing)
        assert reply.status == 404 and reply.code == "not_found", missing
        assert reply.json()["detail"]
    # Under static/app, but not a suffix that is served.
    assert (APP_ROOT / "i18n").is_dir()
    assert (await server.get("/app/i18n")).status == 404


async def test_the_page_is_index_html_and_app_without_a_slash_goes_there(server: Live) -> None:
    page = await server.get("/app/")
    if PAGE in app_files():
        assert page.status == 200 and page.body == (APP_ROOT / PAGE).read_bytes()
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["content-security-policy"] == SEAL_CSP
    else:  # not built yet
        assert page.status == 404 and page.code == "not_found"
    for path, location in (("/app", "/app/"), ("/app?x=1", "/app/?x=1")):
        moved = await server.get(path)
        assert moved.status == 308 and moved.headers["location"] == location


async def test_the_served_schemas_are_the_contracts(server: Live) -> None:
    for name, expected in (("messages", messages_schema()), ("http", http_schema())):
        reply = await server.get(f"/api/v1/schemas/{name}.json")
        assert reply.status == 200
        assert reply.headers["content-type"] == "application/json"
        assert json.loads(reply.body) == expected
