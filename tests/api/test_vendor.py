"""The vendored front-end libraries (:mod:`api.vendor`): the committed files match their
lock (``python -m api.vendor --check``), and the refresh's parts on synthetic tarballs,
with no network: the integrity check, the import rewrite, the lock writer, and every
refusal before a byte is written.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tomllib
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from api import vendor
from api.vendor import (
    REGISTRY,
    FetchError,
    ManifestError,
    check,
    check_integrity,
    import_specifiers,
    load_lock,
    load_manifest,
    lock_json,
    main,
    refresh,
    rewrite_imports,
    write,
)
from tests.api.test_layers import ROOT, imports

# ------------------------------------------------------------------ the committed tree


def test_the_committed_vendor_files_match_their_lock() -> None:
    """``python -m api.vendor --check``, as ``make vendor`` leaves the tree: offline."""
    done = subprocess.run(
        [sys.executable, "-m", "api.vendor", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert check() == []


def test_the_committed_lock_names_each_package_its_licence_and_integrity() -> None:
    locked = {p.name: p for p in load_lock((vendor.VENDOR / vendor.LOCK).read_text())}
    assert set(locked) == {"preact", "htm", "uplot", "axe-core"}
    for package in locked.values():
        assert package.tarball.startswith(REGISTRY)
        assert package.integrity.startswith("sha512-")
        assert package.license in {"MIT", "Apache-2.0", "MPL-2.0"}
        assert "LICENSE" in {f.path for f in package.files}
    # The lock is byte for byte what the writer makes of it.
    text = (vendor.VENDOR / vendor.LOCK).read_text()
    assert lock_json(load_lock(text)) == text


def test_no_module_of_the_server_imports_the_vendor_tool() -> None:
    for path in (ROOT / "api").rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found = {i.imported for i in imports(module, path.read_text("utf-8"))}
        assert not {"api.vendor"} & found, path
    source = (ROOT / "api" / "vendor.py").read_text("utf-8")
    assert {i.imported.partition(".")[0] for i in imports("api.vendor", source)} <= set(
        sys.stdlib_module_names
    ) | {"__future__"}


def test_the_readme_names_each_package_its_version_and_licence() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    for package in load_lock((vendor.VENDOR / vendor.LOCK).read_text()):
        row = re.search(
            rf"^\| \[{re.escape(package.name)}\]\([^)]*\) \| ([^|]+) \| ([^|]+) \|", readme, re.M
        )
        assert row is not None, package.name
        assert (row[1].strip(), row[2].strip()) == (package.version, package.license)


def test_an_installed_wheel_carries_every_vendored_file() -> None:
    """pyproject's package-data globs for ``api``, expanded as setuptools expands them
    (``glob``, ``**`` recursive), take each file under ``api/static/vendor``
    (``tests/test_packaging.py`` builds the wheel itself)."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        globs = tomllib.load(file)["tool"]["setuptools"]["package-data"]["api"]
    shipped = {
        path
        for pattern in globs
        for path in glob.glob(str(ROOT / "api" / pattern), recursive=True)
        if Path(path).is_file()
    }
    vendored = {str(p) for p in vendor.VENDOR.rglob("*") if p.is_file()}
    assert vendored and vendored <= shipped, sorted(vendored - shipped)


# ------------------------------------------------------------------------- integrity


def sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def test_integrity_accepts_the_matching_sha512_among_several() -> None:
    check_integrity(b"abc", sri(b"abc"))
    check_integrity(b"abc", f"sha1-AAAA {sri(b'abc')}?opt")
    check_integrity(b"abc", f"{sri(b'other')} {sri(b'abc')}")


@pytest.mark.parametrize(
    ("integrity", "message"),
    [
        (sri(b"abd"), "integrity mismatch"),
        ("sha1-qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", "no sha512"),
        ("", "no sha512"),
        ("sha512-", "integrity mismatch"),
    ],
)
def test_integrity_refuses_a_wrong_or_missing_sha512(integrity: str, message: str) -> None:
    with pytest.raises(FetchError, match=message):
        check_integrity(b"abc", integrity)


# --------------------------------------------------------------------------- rewrites


def test_rewrite_changes_whole_specifiers_in_import_position_only() -> None:
    source = (
        'import{h as r}from"preact";export{h}from "preact";import "preact";'
        "import('preact');import x from'preact/hooks';var s=\"preact\";"
        'import y from "htm"'
    )
    out, counts = rewrite_imports(source, {"preact": "./preact.mjs", "absent": "./a.mjs"})
    assert out == (
        'import{h as r}from"./preact.mjs";export{h}from "./preact.mjs";import "./preact.mjs";'
        "import('./preact.mjs');import x from'preact/hooks';var s=\"preact\";"
        'import y from "htm"'
    )
    assert counts == {"preact": 4, "absent": 0}
    assert import_specifiers(out) == [
        "./preact.mjs",
        "./preact.mjs",
        "./preact.mjs",
        "./preact.mjs",
        "preact/hooks",
        "htm",
    ]


# ------------------------------------------------------------ a synthetic registry


def tarball(files: Mapping[str, bytes], top: str = "package") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, data in files.items():
            info = tarfile.TarInfo(f"{top}/{path}" if top else path)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


LIB = {
    "package.json": b'{"name": "lib", "license": "MIT"}',
    "LICENSE": b"MIT licence text\n",
    "dist/lib.mjs": b"export const lib = 1;\n",
    "dist/lib.js": b"var lib = 1;\n",
}
UI = {
    "package.json": b'{"name": "ui", "license": {"type": "ISC"}}',
    "LICENCE.md": b"ISC\n",
    "COPYING": b"more\n",
    "dist/ui.mjs": b'import{lib}from"lib";import"./part.mjs";export const ui=lib;\n',
    "dist/part.mjs": b"export {};\n",
    "src/ui.ts": b"no\n",
}
MANIFEST: dict[str, Any] = {
    "packages": [
        {"name": "lib", "version": "1.0.0", "files": [{"from": "dist/lib.mjs", "to": "lib.mjs"}]},
        {
            "name": "ui",
            "version": "2.3.4-beta.1",
            "files": [
                {"from": "dist/ui.mjs", "to": "ui.mjs", "imports": {"lib": "lib/lib.mjs"}},
                {"from": "dist/part.mjs", "to": "part.mjs"},
            ],
        },
    ]
}


class Registry:
    """What :func:`refresh` fetches, from memory; ``answers`` may be edited by a test."""

    def __init__(self, packages: Mapping[str, tuple[str, Mapping[str, bytes]]]) -> None:
        self.answers: dict[str, bytes] = {}
        self.asked: list[str] = []
        for name, (version, files) in packages.items():
            data = tarball(files)
            url = f"{REGISTRY}{name}/-/{name}-{version}.tgz"
            self.answers[url] = data
            dist = {"tarball": url, "integrity": sri(data)}
            meta = {"name": name, "version": version, "dist": dist}
            self.answers[f"{REGISTRY}{name}/{version}"] = json.dumps(meta).encode()
            self.answers[f"{REGISTRY}{name}"] = json.dumps(
                {"dist-tags": {"latest": version}}
            ).encode()

    def get(self, url: str) -> bytes:
        self.asked.append(url)
        return self.answers[url]

    def meta(self, name: str, version: str) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.answers[f"{REGISTRY}{name}/{version}"])
        return found

    def set_meta(self, name: str, version: str, meta: dict[str, Any]) -> None:
        self.answers[f"{REGISTRY}{name}/{version}"] = json.dumps(meta).encode()


@pytest.fixture
def registry() -> Registry:
    return Registry({"lib": ("1.0.0", LIB), "ui": ("2.3.4-beta.1", UI)})


def vendored(root: Path, registry: Registry, manifest: Mapping[str, Any] = MANIFEST) -> Path:
    root.mkdir(exist_ok=True)
    (root / vendor.MANIFEST).write_text(json.dumps(manifest))
    specs = load_manifest(json.dumps(manifest))
    write(refresh(specs, registry.get), root)
    return root


def test_a_refresh_writes_the_files_the_licences_and_the_lock(
    tmp_path: Path, registry: Registry
) -> None:
    root = vendored(tmp_path / "vendor", registry)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "lib@1.0.0/LICENSE",
        "lib@1.0.0/lib.mjs",
        "ui@2.3.4-beta.1/COPYING",
        "ui@2.3.4-beta.1/LICENCE.md",
        "ui@2.3.4-beta.1/part.mjs",
        "ui@2.3.4-beta.1/ui.mjs",
        "vendor.json",
        "vendor.lock.json",
    ]
    assert (root / "ui@2.3.4-beta.1/ui.mjs").read_bytes() == (
        b'import{lib}from"../lib@1.0.0/lib.mjs";import"./part.mjs";export const ui=lib;\n'
    )
    assert (root / "lib@1.0.0/LICENSE").read_bytes() == LIB["LICENSE"]
    lock = json.loads((root / vendor.LOCK).read_text())
    [lib, ui] = lock["packages"]
    tgz = registry.answers[f"{REGISTRY}ui/-/ui-2.3.4-beta.1.tgz"]
    assert ui["tarball"] == f"{REGISTRY}ui/-/ui-2.3.4-beta.1.tgz"
    assert ui["integrity"] == sri(tgz)
    assert (lib["license"], ui["license"]) == ("MIT", "ISC")
    assert ui["files"][0] == {
        "path": "ui.mjs",
        "from": "dist/ui.mjs",
        "sha256": hashlib.sha256((root / "ui@2.3.4-beta.1/ui.mjs").read_bytes()).hexdigest(),
        "imports": {"lib": "../lib@1.0.0/lib.mjs"},
    }
    assert [f["path"] for f in ui["files"]] == ["ui.mjs", "part.mjs", "COPYING", "LICENCE.md"]
    assert check(root) == []
    assert main(["--check"], root) == 0
    # Once more, the same bytes: the lock does not churn.
    before = (root / vendor.LOCK).read_bytes()
    vendored(root, registry)
    assert (root / vendor.LOCK).read_bytes() == before


def test_a_new_version_replaces_the_old_folder(tmp_path: Path, registry: Registry) -> None:
    root = vendored(tmp_path / "vendor", registry)
    (root / "lib@1.0.0" / "stray.js").write_text("x")
    newer = Registry({"lib": ("1.1.0", LIB), "ui": ("2.3.4-beta.1", UI)})
    manifest = json.loads(json.dumps(MANIFEST))
    manifest["packages"][0]["version"] = "1.1.0"
    vendored(root, newer, manifest)
    assert not (root / "lib@1.0.0").exists()
    assert (
        (root / "ui@2.3.4-beta.1/ui.mjs")
        .read_text()
        .startswith('import{lib}from"../lib@1.1.0/lib.mjs"')
    )
    assert check(root) == []


def test_check_finds_every_way_the_tree_drifts(
    tmp_path: Path, registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    root = vendored(tmp_path / "vendor", registry)
    (root / "lib@1.0.0/lib.mjs").write_text("export const lib = 2;\n")
    (root / "ui@2.3.4-beta.1/LICENCE.md").unlink()
    (root / "ui@2.3.4-beta.1/extra.css").write_text("")
    assert sorted(check(root)) == [
        "lib@1.0.0/lib.mjs: sha256 differs from the lock",
        "ui@2.3.4-beta.1/LICENCE.md: missing",
        "ui@2.3.4-beta.1/extra.css: not recorded in the lock",
    ]
    assert main(["--check"], root) == 1
    assert "sha256 differs" in capsys.readouterr().err


def test_check_holds_the_lock_to_the_manifest(tmp_path: Path, registry: Registry) -> None:
    root = vendored(tmp_path / "vendor", registry)
    manifest = json.loads(json.dumps(MANIFEST))
    manifest["packages"][0]["version"] = "1.0.1"
    manifest["packages"][1]["files"][1]["from"] = "dist/other.mjs"
    (root / vendor.MANIFEST).write_text(json.dumps(manifest))
    assert check(root) == [
        "lib: locked 1.0.0, wanted 1.0.1",
        # ui.mjs's import of lib would now be ../lib@1.0.1/lib.mjs.
        "ui@2.3.4-beta.1/ui.mjs: the lock does not record it as listed",
        "ui@2.3.4-beta.1/part.mjs: the lock does not record it as listed",
        "lib@1.0.0/LICENSE: not recorded in the lock",
        "lib@1.0.0/lib.mjs: not recorded in the lock",
        # ui.mjs imports lib's file, which the lock no longer vouches for.
        "ui@2.3.4-beta.1/ui.mjs: import '../lib@1.0.0/lib.mjs' names no vendored file",
    ]
    (root / vendor.MANIFEST).write_text(json.dumps({"packages": MANIFEST["packages"][:1]}))
    assert check(root)[0] == "the lock has ['lib', 'ui'], the manifest ['lib']"


def test_check_reports_an_unreadable_manifest_or_lock(tmp_path: Path) -> None:
    assert "vendor.json" in check(tmp_path)[0]
    (tmp_path / vendor.MANIFEST).write_text(json.dumps(MANIFEST))
    (tmp_path / vendor.LOCK).write_text("{")
    assert check(tmp_path) == [f"{vendor.LOCK} is not JSON: " + _json_error("{")]


def _json_error(text: str) -> str:
    try:
        json.loads(text)
    except ValueError as error:
        return str(error)
    raise AssertionError


# ---------------------------------------------------- refusals, before anything is written


def edit(registry: Registry, name: str, version: str, **dist: Any) -> None:
    meta = registry.meta(name, version)
    meta["dist"].update(dist)
    registry.set_meta(name, version, meta)


def repack(registry: Registry, name: str, version: str, files: Mapping[str, bytes] | bytes) -> None:
    data = files if isinstance(files, bytes) else tarball(files)
    url = f"{REGISTRY}{name}/-/{name}-{version}.tgz"
    registry.answers[url] = data
    edit(registry, name, version, integrity=sri(data))


REFUSALS: list[tuple[str, Callable[[Registry], None], str]] = [
    (
        "tampered tarball",
        lambda r: r.answers.update({f"{REGISTRY}lib/-/lib-1.0.0.tgz": tarball({**LIB, "x": b""})}),
        "lib@1.0.0: integrity mismatch",
    ),
    (
        "sha1 only",
        lambda r: edit(r, "lib", "1.0.0", integrity="sha1-AAAA"),
        "lib@1.0.0: no sha512",
    ),
    ("no integrity", lambda r: edit(r, "lib", "1.0.0", integrity=None), "no dist.integrity"),
    (
        "tarball elsewhere",
        lambda r: edit(r, "lib", "1.0.0", tarball="https://cdn.example/lib.tgz"),
        "is not on https://registry.npmjs.org/",
    ),
    (
        "another version answered",
        lambda r: r.set_meta("lib", "1.0.0", {**r.meta("lib", "1.0.0"), "version": "9.9.9"}),
        "another package or version",
    ),
    (
        "not JSON",
        lambda r: r.answers.update({f"{REGISTRY}lib/1.0.0": b"<html>"}),
        "not JSON",
    ),
    (
        "listed file missing",
        lambda r: repack(r, "lib", "1.0.0", {k: v for k, v in LIB.items() if k != "dist/lib.mjs"}),
        "no file 'dist/lib.mjs'",
    ),
    (
        "no licence file",
        lambda r: repack(r, "lib", "1.0.0", {k: v for k, v in LIB.items() if k != "LICENSE"}),
        "no licence file",
    ),
    (
        "no licence name",
        lambda r: repack(r, "lib", "1.0.0", {**LIB, "package.json": b'{"name": "lib"}'}),
        "names no licence",
    ),
    (
        "no package.json",
        lambda r: repack(r, "lib", "1.0.0", {k: v for k, v in LIB.items() if k != "package.json"}),
        "no readable package.json",
    ),
    (
        "a bare import left",
        lambda r: repack(r, "lib", "1.0.0", {**LIB, "dist/lib.mjs": b'import "other";'}),
        "lib@1.0.0/lib.mjs: bare import 'other'",
    ),
    (
        "a relative import to nothing vendored",
        lambda r: repack(r, "lib", "1.0.0", {**LIB, "dist/lib.mjs": b'import "./gone.mjs";'}),
        "import './gone.mjs' names no vendored file",
    ),
    (
        "a rewrite that finds nothing",
        lambda r: repack(r, "ui", "2.3.4-beta.1", {**UI, "dist/ui.mjs": b"export const ui=1;"}),
        "imports ['lib'] not found to rewrite",
    ),
    (
        "not UTF-8",
        lambda r: repack(r, "lib", "1.0.0", {**LIB, "dist/lib.mjs": b"\xff\xfe"}),
        "not UTF-8",
    ),
    (
        "not a tarball",
        lambda r: repack(r, "lib", "1.0.0", b"nope"),
        "not a readable tarball",
    ),
]


@pytest.mark.parametrize(("case", "spoil", "message"), REFUSALS, ids=[c[0] for c in REFUSALS])
def test_a_refresh_refuses_and_writes_nothing(
    tmp_path: Path,
    registry: Registry,
    case: str,
    spoil: Callable[[Registry], None],
    message: str,
) -> None:
    root = vendored(tmp_path / "vendor", registry)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    spoil(registry)
    with pytest.raises(FetchError, match=message.replace("[", r"\[").replace("(", r"\(")):
        vendored(root, registry)
    (root / vendor.MANIFEST).write_text(json.dumps(MANIFEST))
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_only_regular_files_inside_the_package_are_read(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in {**{f"package/{k}": v for k, v in LIB.items()}}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name in ("package/../escape.mjs", "package/dist/link.mjs"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE if "link" in name else tarfile.REGTYPE
            info.linkname = "/etc/passwd"
            archive.addfile(info, io.BytesIO(b""))
    spec = load_manifest(json.dumps({"packages": MANIFEST["packages"][:1]}))[0]
    url = f"{REGISTRY}lib/-/lib-1.0.0.tgz"
    data = buffer.getvalue()
    meta = {"name": "lib", "version": "1.0.0", "dist": {"tarball": url, "integrity": sri(data)}}
    fetched = vendor.read_package(spec, meta, data, {"lib": "1.0.0"})
    assert sorted(fetched.contents) == ["LICENSE", "lib.mjs"]
    escaping = vendor.PackageSpec("lib", "1.0.0", (vendor.FileSpec("dist/link.mjs", "l.mjs"),))
    with pytest.raises(FetchError, match="no file 'dist/link.mjs'"):
        vendor.read_package(escaping, meta, data, {"lib": "1.0.0"})


# ---------------------------------------------------------------------- the manifest


def package(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "lib",
        "version": "1.0.0",
        "files": [{"from": "dist/lib.mjs", "to": "lib.mjs"}],
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[", "is not JSON"),
        ("[]", "expected an object"),
        ({"packages": {}}, "'packages' must be a list"),
        ({"packages": [package(version="^1.0.0")]}, "is not exact"),
        ({"packages": [package(version="latest")]}, "is not exact"),
        ({"packages": [package(name="@scope/lib")]}, "not an unscoped npm package name"),
        ({"packages": [package(name=3)]}, "'name' must be a str"),
        ({"packages": [package(files=[])]}, "no files listed"),
        ({"packages": [package(), package()]}, "listed twice"),
        ({"packages": [package(files=[{"from": "../x", "to": "x.mjs"}])]}, "inside the package"),
        ({"packages": [package(files=[{"from": "/x", "to": "x.mjs"}])]}, "inside the package"),
        ({"packages": [package(files=[{"from": "x", "to": "a/x.mjs"}])]}, "plain file name"),
        ({"packages": [package(files=[{"from": "x", "to": ".."}])]}, "plain file name"),
        ({"packages": [package(files=[{"from": "x", "to": "LICENSE"}])]}, "licence"),
        (
            {
                "packages": [
                    package(files=[{"from": "x", "to": "x.mjs"}, {"from": "y", "to": "x.mjs"}])
                ]
            },
            "written twice",
        ),
        (
            {
                "packages": [
                    package(files=[{"from": "x", "to": "x.js", "imports": {"a": "lib/x.js"}}])
                ]
            },
            "no .mjs module",
        ),
        (
            {"packages": [package(files=[{"from": "x", "to": "x.mjs", "imports": {"a": 1}}])]},
            "map strings to strings",
        ),
        (
            {
                "packages": [
                    package(files=[{"from": "x", "to": "x.mjs", "imports": {"a": "b/c.mjs"}}])
                ]
            },
            "is not a vendored file",
        ),
    ],
)
def test_a_bad_manifest_is_refused_naming_the_problem(document: Any, message: str) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(ManifestError, match=message):
        load_manifest(text)


def test_the_committed_manifest_reads_and_each_package_has_its_folder() -> None:
    specs = load_manifest((vendor.VENDOR / vendor.MANIFEST).read_text())
    assert {s.name for s in specs} == {"preact", "htm", "uplot", "axe-core"}
    assert all((vendor.VENDOR / s.directory).is_dir() for s in specs)


# ---------------------------------------------------------------------- the command


def test_outdated_names_the_packages_behind_the_latest_tag(registry: Registry) -> None:
    specs = load_manifest(json.dumps(MANIFEST))
    assert vendor.outdated(specs, registry.get) == []
    registry.answers[f"{REGISTRY}lib"] = b'{"dist-tags": {"latest": "1.2.0"}}'
    assert vendor.outdated(specs, registry.get) == ["lib: pinned 1.0.0, latest 1.2.0"]
    registry.answers[f"{REGISTRY}lib"] = b"<html>"
    with pytest.raises(FetchError, match="lib: the registry's answer is not JSON"):
        vendor.outdated(specs, registry.get)


def test_main_reports_a_bad_manifest_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / vendor.MANIFEST).write_text('{"packages": [{"name": "x"}]}')
    assert main([], tmp_path) == 1
    assert capsys.readouterr().err.startswith("vendor: vendor.json: package 'x'")


def test_http_get_refuses_anything_but_https() -> None:
    with pytest.raises(FetchError, match="not https"):
        vendor.http_get("http://registry.npmjs.org/preact")


def test_https_redirects_only() -> None:
    handler = vendor._HttpsRedirectsOnly()
    request = urllib.request.Request(f"{REGISTRY}preact")
    with pytest.raises(FetchError, match="refusing a redirect to http://"):
        handler.redirect_request(request, None, 302, "Found", {}, "http://registry.example/x")
    moved = handler.redirect_request(request, None, 302, "Found", {}, "https://registry.example/x")
    assert moved is not None and moved.full_url == "https://registry.example/x"


def test_a_write_that_fails_leaves_the_tree_and_its_lock_as_they_were(
    tmp_path: Path, registry: Registry
) -> None:
    root = vendored(tmp_path / "vendor", registry)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    good = refresh(load_manifest(json.dumps(MANIFEST)), registry.get)
    spoilt = vendor.Fetched(good[0].locked, {**good[0].contents, "sub/dir.mjs": b""})
    with pytest.raises(OSError):
        write([spoilt, *good[1:]], root)
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert {p: d for p, d in after.items() if ".staging" not in p.parts} == before
    assert any(".staging: not recorded" in line or ".staging/" in line for line in check(root))
    write(good, root)  # the next refresh clears the staging folder
    assert not (root / ".staging").exists() and check(root) == []


def test_main_refreshes_lists_outdated_and_refuses_without_writing(
    tmp_path: Path, registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "vendor"
    root.mkdir()
    (root / vendor.MANIFEST).write_text(json.dumps(MANIFEST))
    assert main([], root, registry.get) == 0
    assert capsys.readouterr().out.splitlines() == [
        "vendor: lib@1.0.0 (MIT)",
        "vendor: ui@2.3.4-beta.1 (ISC)",
    ]
    assert check(root) == []
    assert main(["--outdated"], root, registry.get) == 0
    assert capsys.readouterr().out == "vendor: every package is at its latest\n"
    registry.answers[f"{REGISTRY}ui"] = b'{"dist-tags": {"latest": "3.0.0"}}'
    assert main(["--outdated"], root, registry.get) == 0
    assert capsys.readouterr().out == "ui: pinned 2.3.4-beta.1, latest 3.0.0\n"
    before = (root / vendor.LOCK).read_bytes()
    edit(registry, "lib", "1.0.0", integrity=sri(b"else"))
    assert main([], root, registry.get) == 1
    assert "lib@1.0.0: integrity mismatch" in capsys.readouterr().err
    assert (root / vendor.LOCK).read_bytes() == before


def test_check_holds_the_lock_to_listed_files_and_licences(
    tmp_path: Path, registry: Registry
) -> None:
    root = vendored(tmp_path / "vendor", registry)
    lock = json.loads((root / vendor.LOCK).read_text())
    lib = lock["packages"][0]
    lib["files"] = [f for f in lib["files"] if f["path"] != "LICENSE"]
    lib["files"].append({"path": "more.mjs", "from": "dist/more.mjs", "sha256": "0"})
    lib["license"] = " "
    (root / vendor.LOCK).write_text(json.dumps(lock))
    assert check(root) == [
        "lib@1.0.0: the lock records files not listed: ['more.mjs']",
        "lib@1.0.0: no licence file",
        "lib@1.0.0: no licence name",
        "lib@1.0.0/more.mjs: missing",
        "lib@1.0.0/LICENSE: not recorded in the lock",
    ]
