"""The supplier's web application's files and the wire contract's JSON Schemas, as one
blueprint.

=====================================  ==================================================
route                                  what
=====================================  ==================================================
``GET /app``                           308 to ``/app/``, the query kept (``app_redirect``)
``GET /app/``                          the application's page, ``index.html`` (``app_page``;
                                       404 until there is one)
``GET /app/<path>``                    a file under ``api/static/app/`` (``app_asset``)
``GET /api/v1/schemas/messages.json``  the websocket protocol's JSON Schemas
                                       (``schemas_messages``)
``GET /api/v1/schemas/http.json``      the HTTP request bodies' JSON Schemas
                                       (``schemas_http``)
``GET /api/v1/schemas/rules.json``     the auction rules' JSON Schemas and the create
                                       body's (``schemas_rules``)
``GET /api/v1/schemas/tender.json``    a tender's creation body's JSON Schema
                                       (``schemas_tender``)
=====================================  ==================================================

The application's files (ES modules, the message catalog ``i18n/<lang>.json``,
stylesheets) are read once, when the blueprint is built: every file under
``api/static/app/`` whose suffix has a media type in :data:`MEDIA`, and nothing else; any
other path is a 404 problem. They are served with the pages' headers
(:data:`api.http.pages.SEAL_CSP`: this origin's scripts only, no framing).

The schemas are generated from :mod:`contracts.messages` and :mod:`contracts.http` by
:func:`contracts.schema.json_schema`, the function ``gavel schemas`` and the OpenAPI
document use (the rules' and the tender body's from :mod:`contracts.rules_schema`, the
OpenAPI document's components), so a page validates what it sends and reads against
the very contract the server parses with, never a copied list of fields. Each document
is one JSON Schema (draft 2020-12): every type under ``$defs`` by class name, and the
document itself accepts any one of them (``anyOf``); :func:`messages_schema` also lists
which ``type`` tag a client sends and which the server sends.

Anyone may load any of these (their rules in :data:`api.access.rules.ROUTES` are "no
token"). The schema routes are API operations (:func:`openapi_paths`); the
application's files are not, like the pages' files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect

from api.http.pages import SEAL_CSP
from api.http.problems import Code, ProblemError, problem
from contracts import http, messages
from contracts.rules_schema import create_auction_schema, rules_components, tender_create_schema
from contracts.schema import json_schema

__all__ = [
    "APP_ROOT",
    "MEDIA",
    "PAGE",
    "app_assets_blueprint",
    "app_files",
    "http_schema",
    "messages_schema",
    "rules_document",
    "tender_document",
]

#: Where the application's files are.
APP_ROOT = Path(__file__).resolve().parent.parent / "static" / "app"
#: The media type of each suffix served; a file with another suffix is not served.
MEDIA = {
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}
#: The file ``/app/`` serves (an invitation link is ``/app/#invite=<code>``).
PAGE = "index.html"
_DRAFT = "https://json-schema.org/draft/2020-12/schema"
_COMPONENTS = "#/components/schemas/"
_HEADERS = {
    "Content-Security-Policy": SEAL_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def app_files(root: Path = APP_ROOT) -> dict[str, Path]:
    """Every file the blueprint serves, by its path under ``/app/`` (``i18n/en.json``).
    Hidden files and folders are left out. O(files)."""
    if not root.is_dir():
        return {}
    return {
        path.relative_to(root).as_posix(): path
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and path.suffix in MEDIA
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    }


def _bundle(title: str, classes: list[type[Any]]) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for cls in classes:
        schema = json_schema(cls)
        schema.pop("$schema", None)
        defs[cls.__name__] = schema
    return {
        "$schema": _DRAFT,
        "title": title,
        "$defs": defs,
        "anyOf": [{"$ref": f"#/$defs/{name}"} for name in defs],
    }


def messages_schema() -> dict[str, Any]:
    """The websocket protocol's schemas: ``$defs`` by class name, each
    :func:`contracts.schema.json_schema` of a message of :mod:`contracts.messages`;
    ``client`` and ``server`` map each ``type`` tag a client sends (receives) to its
    class name; ``protocol`` is the subprotocol (``gavel.v1``)."""
    tables = {
        "client": messages.CLIENT_MESSAGES,
        "server": messages.SERVER_MESSAGES,
    }
    classes = list(dict.fromkeys(cls for table in tables.values() for cls in table.values()))
    bundle = _bundle(f"Gavel websocket protocol {messages.PROTOCOL}", classes)
    bundle["protocol"] = messages.PROTOCOL
    for side, table in tables.items():
        bundle[side] = {tag: cls.__name__ for tag, cls in table.items()}
    return bundle


def http_schema() -> dict[str, Any]:
    """The HTTP request bodies' schemas: ``$defs`` by class name, each
    :func:`contracts.schema.json_schema` of a class of :mod:`contracts.http`."""
    return _bundle("Gavel HTTP request bodies", [getattr(http, name) for name in http.__all__])


def _local_refs(node: Any) -> Any:
    """``node`` with the OpenAPI document's references (``#/components/schemas/X``, in
    ``$ref`` and in a ``discriminator``'s mapping) made this document's (``#/$defs/X``)."""
    if isinstance(node, dict):
        return {key: _local_refs(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_local_refs(each) for each in node]
    if isinstance(node, str) and node.startswith(_COMPONENTS):
        return "#/$defs/" + node.removeprefix(_COMPONENTS)
    return node


def rules_document() -> dict[str, Any]:
    """The auction rules' schemas, as the OpenAPI document's components
    (:func:`contracts.rules_schema.rules_components`) with the create body
    (``CreateAuction``): ``$defs`` by name, the document itself accepts a ``Rules``."""
    defs = {**rules_components(), "CreateAuction": create_auction_schema()}
    return {
        "$schema": _DRAFT,
        "title": "Gavel auction rules",
        "$defs": _local_refs(defs),
        "anyOf": [{"$ref": "#/$defs/Rules"}],
    }


def tender_document() -> dict[str, Any]:
    """A tender's creation body's schema
    (:func:`contracts.rules_schema.tender_create_schema`) under ``$defs`` as
    ``CreateTender``; the document accepts one."""
    return {
        "$schema": _DRAFT,
        "title": "Gavel tender creation body",
        "$defs": {"CreateTender": _local_refs(tender_create_schema())},
        "anyOf": [{"$ref": "#/$defs/CreateTender"}],
    }


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, sort_keys=False).encode("utf-8")


def app_assets_blueprint(root: Path = APP_ROOT) -> Blueprint:
    """The blueprint of the application's files and the schemas (reads them now)."""
    bp = Blueprint("app_assets")
    files = {
        path: (file.read_bytes(), MEDIA[file.suffix]) for path, file in app_files(root).items()
    }
    schemas = {
        "messages": _json(messages_schema()),
        "http": _json(http_schema()),
        "rules": _json(rules_document()),
        "tender": _json(tender_document()),
    }

    def serve(path: str) -> HTTPResponse:
        found = files.get(path)
        if found is None:
            raise ProblemError(problem(Code.NOT_FOUND, "no such file of the application"))
        body, media = found
        return HTTPResponse(body, content_type=media, headers=_HEADERS)

    @bp.get("/app", name="app_redirect", strict_slashes=True)
    async def app_redirect(request: Request) -> HTTPResponse:
        query = f"?{request.query_string}" if request.query_string else ""
        return redirect(f"/app/{query}", status=308)

    @bp.get("/app/", name="app_page", strict_slashes=True)
    async def app_page(request: Request) -> HTTPResponse:
        return serve(PAGE)

    @bp.get("/app/<path:path>", name="app_asset")
    async def app_asset(request: Request, path: str) -> HTTPResponse:
        return serve(path)

    @bp.get("/api/v1/schemas/messages.json", name="schemas_messages")
    async def schemas_messages(request: Request) -> HTTPResponse:
        return HTTPResponse(schemas["messages"], content_type="application/json", headers=_HEADERS)

    @bp.get("/api/v1/schemas/http.json", name="schemas_http")
    async def schemas_http(request: Request) -> HTTPResponse:
        return HTTPResponse(schemas["http"], content_type="application/json", headers=_HEADERS)

    @bp.get("/api/v1/schemas/rules.json", name="schemas_rules")
    async def schemas_rules(request: Request) -> HTTPResponse:
        return HTTPResponse(schemas["rules"], content_type="application/json", headers=_HEADERS)

    @bp.get("/api/v1/schemas/tender.json", name="schemas_tender")
    async def schemas_tender(request: Request) -> HTTPResponse:
        return HTTPResponse(schemas["tender"], content_type="application/json", headers=_HEADERS)

    return bp
