"""The vendored libraries' blueprint (:mod:`api.http.vendor_assets`): its one route, open
to anyone by its rule, and every file the lock records served byte for byte from
``api/static/vendor`` with its media type, the pages' policy and a year's cache; nothing
else (not the manifest, not the lock, not a path that climbs out). The libraries run in a
browser in ``test_vendor_browser.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from api.access import rules
from api.http.pages import SEAL_CSP
from api.http.vendor_assets import VENDOR_CACHE, vendor_blueprint, vendored_files

if TYPE_CHECKING:
    from tests.api.conftest import Live

VENDOR = Path(__file__).resolve().parents[3] / "api" / "static" / "vendor"


def test_the_blueprint_holds_one_route_open_to_anyone() -> None:
    bp = vendor_blueprint()
    routes = {route.name.rpartition(".")[2]: route.uri for route in bp._future_routes}
    assert routes == {"vendor_asset": "/vendor/<path:path>"}
    assert rules.rule_for("vendor_asset") is rules.PUBLIC


def test_the_files_served_are_those_the_lock_records() -> None:
    lock = json.loads((VENDOR / "vendor.lock.json").read_text())
    recorded = {
        f"{p['name']}@{p['version']}/{f['path']}" for p in lock["packages"] for f in p["files"]
    }
    files = vendored_files()
    assert set(files) == recorded
    assert all(path.is_file() for path in files.values())
    assert {"preact@11.2.0/preact.mjs", "axe-core@4.14.1/LICENSE"} <= set(files)


def test_no_lock_serves_nothing(tmp_path: Path) -> None:
    assert vendored_files(tmp_path) == {}
    (tmp_path / "vendor.lock.json").write_text("{")
    assert vendored_files(tmp_path) == {}


async def test_every_recorded_file_is_served_as_stored_with_its_headers(server: Live) -> None:
    media = {".mjs": "text/javascript", ".js": "text/javascript", ".css": "text/css"}
    for path, file in sorted(vendored_files().items()):
        reply = await server.get(f"/vendor/{path}")
        assert reply.status == 200, (path, reply.body[:200])
        assert reply.body == file.read_bytes(), path
        assert reply.headers["content-type"].startswith(media.get(file.suffix, "text/plain"))
        assert reply.headers["content-security-policy"] == SEAL_CSP
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["cache-control"] == VENDOR_CACHE


async def test_anything_else_under_vendor_is_not_found(server: Live) -> None:
    for path in (
        "/vendor/vendor.json",
        "/vendor/vendor.lock.json",
        "/vendor/preact@11.2.0/",
        "/vendor/preact@11.2.0/../../pages.py",
        "/vendor/preact@11.2.0/%2e%2e/vendor.json",
        "/vendor/preact@0.0.1/preact.mjs",
        "/vendor/preact@11.2.0/package.json",
    ):
        reply = await server.get(path)
        assert reply.status == 404, (path, reply.status)
    missing = await server.get("/vendor/nope.mjs")
    assert missing.code == "not_found" and "nope.mjs" in missing.json()["detail"]
