"""The vendored front-end libraries: ``make vendor`` (``python -m api.vendor``) refreshes
them from the npm registry, ``python -m api.vendor --check`` verifies them offline.

What we want is written by hand in ``api/static/vendor/vendor.json``; what we got is
written by this module in ``api/static/vendor/vendor.lock.json``; the files themselves
sit in ``api/static/vendor/<package>@<version>/`` and are committed, so nothing is fetched
to run or test Gavel, and no Node.js is needed. The server serves them under ``/vendor/``
(:mod:`api.http.vendor_assets`), reading only the lock; it never imports this module.

The manifest (``vendor.json``)::

    {"packages": [
      {"name": "preact", "version": "11.2.0",
       "files": [
         {"from": "dist/preact.mjs", "to": "preact.mjs"},
         {"from": "hooks/dist/hooks.mjs", "to": "hooks.mjs",
          "imports": {"preact": "preact/preact.mjs"}}]}]}

- ``version`` is exact (``1.2.3``, no range): the same manifest always gives the same bytes.
- ``from`` is a file of the package's tarball (without its top folder, ``package/``);
  ``to`` is the plain file name it is written as. A name ending ``.mjs`` is an ES module:
  each of its import specifiers must be relative and name another vendored file.
- ``imports`` rewrites bare import specifiers (``from "preact"``), which a browser
  resolves only through an import map (and the pages' Content-Security-Policy forbids the
  inline script one needs), to a vendored file named ``<package>/<to>``: it is written as a
  relative URL, ``./preact.mjs`` within the package, ``../preact@11.2.0/preact.mjs`` across.
- Each package's licence files (``LICENSE``, ``LICENSE-3RD-PARTY.txt``, ``COPYING``…, at the
  top of the tarball) are always taken; a package without one is refused.

Refreshing, in this order (:func:`refresh`), nothing written until everything is verified:

1. each package's metadata, ``https://registry.npmjs.org/<name>/<version>``: its
   ``dist.tarball`` (which must be on the registry) and ``dist.integrity``;
2. the tarball, whose SHA-512 must be the one ``dist.integrity`` names (SRI form,
   ``sha512-<base64>``; a registry that gives only SHA-1 is refused);
3. the listed files and the licences read from it, the imports rewritten and checked,
   the licence's name read from the tarball's ``package.json``;
4. then, every package's folder rewritten, folders of versions no longer listed removed,
   and the lock written last: per package its version, tarball URL, integrity, licence
   and each written file with its source, the imports rewritten in it and its SHA-256.

:func:`check` (``--check``, run by ``tests/api/test_vendor.py``) needs no network: the lock
says what the manifest asks, every recorded file is on disk with its SHA-256 and nothing
else is, every package has a licence, and every ES module imports only vendored files.
``--outdated`` asks the registry for each package's ``latest`` tag and prints those that
differ from the pinned version (it changes nothing).

Errors: :class:`VendorError` is the root; :class:`ManifestError` (the manifest or lock
cannot be read as described) and :class:`FetchError` (the registry, a tarball, its
integrity or its contents). What ``--check`` finds is a list of lines, not an error.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import posixpath
import re
import shutil
import sys
import tarfile
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "LOCK",
    "MANIFEST",
    "REGISTRY",
    "VENDOR",
    "FetchError",
    "Fetched",
    "FileSpec",
    "LockedFile",
    "LockedPackage",
    "ManifestError",
    "PackageSpec",
    "VendorError",
    "check",
    "check_integrity",
    "http_get",
    "import_specifiers",
    "load_manifest",
    "load_lock",
    "lock_json",
    "main",
    "outdated",
    "read_package",
    "refresh",
    "rewrite_imports",
    "write",
]

#: Where the vendored files, the manifest and the lock live.
VENDOR = Path(__file__).resolve().parent / "static" / "vendor"
MANIFEST = "vendor.json"
LOCK = "vendor.lock.json"
REGISTRY = "https://registry.npmjs.org/"

#: An unscoped npm name (scoped ones would need a folder scheme: none is vendored yet).
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
_VERSION = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_LICENCE = re.compile(r"(?:LICEN[CS]E|COPYING)(?:[.-][A-Za-z0-9.-]*)?", re.IGNORECASE)
#: The import specifiers of an ES module: ``from "x"`` (import and export), ``import "x"``
#: and ``import("x")``, minified or not. A string that merely looks like one inside a
#: literal would be caught too: then the check fails loudly rather than missing an import.
_SPECIFIER = re.compile(r"""(\bfrom\s*|\bimport\s*(?:\(\s*)?)(["'])([^"'\n]+)\2""")
_TIMEOUT = 60.0


class VendorError(Exception):
    """The root of this module's errors."""


class ManifestError(VendorError):
    """The manifest or the lock is not what the module docstring describes."""


class FetchError(VendorError):
    """The registry's answer, a tarball, its integrity or its contents are refused."""


# ------------------------------------------------------------------------ the manifest


@dataclass(frozen=True, slots=True)
class FileSpec:
    """One file to take from a package: its path in the tarball, the name written, and the
    bare import specifiers to rewrite (specifier -> ``<package>/<file name>``)."""

    source: str
    name: str
    imports: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PackageSpec:
    """One package of the manifest, at its exact version."""

    name: str
    version: str
    files: tuple[FileSpec, ...]

    @property
    def directory(self) -> str:
        """The folder its files are written to, under :data:`VENDOR`."""
        return f"{self.name}@{self.version}"


def load_manifest(text: str) -> tuple[PackageSpec, ...]:
    """The packages of a manifest's text; :class:`ManifestError` names what is wrong."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ManifestError(f"{MANIFEST} is not JSON: {error}") from None
    packages = _field(document, "packages", list, MANIFEST)
    specs = tuple(_package_spec(each) for each in packages)
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ManifestError(f"{MANIFEST}: a package is listed twice: {names}")
    targets = {spec.name: {f.name for f in spec.files} for spec in specs}
    for spec in specs:
        for each in spec.files:
            for specifier, target in each.imports.items():
                package, _, name = target.partition("/")
                if name not in targets.get(package, set()):
                    raise ManifestError(
                        f"{spec.name}/{each.name}: import {specifier!r} -> {target!r} is not a"
                        " vendored file (<package>/<file name> of this manifest)"
                    )
    return specs


def _package_spec(document: object) -> PackageSpec:
    name = _field(document, "name", str, "a package")
    where = f"{MANIFEST}: package {name!r}"
    if not _NAME.fullmatch(name):
        raise ManifestError(f"{where}: not an unscoped npm package name")
    version = _field(document, "version", str, where)
    if not _VERSION.fullmatch(version):
        raise ManifestError(f"{where}: version {version!r} is not exact (like 1.2.3)")
    files = tuple(_file_spec(each, where) for each in _field(document, "files", list, where))
    if not files:
        raise ManifestError(f"{where}: no files listed")
    written = [f.name for f in files]
    if len(set(written)) != len(written):
        raise ManifestError(f"{where}: a file name is written twice: {written}")
    return PackageSpec(name, version, files)


def _file_spec(document: object, where: str) -> FileSpec:
    source = _field(document, "from", str, where)
    name = _field(document, "to", str, where)
    if not _FILE_NAME.fullmatch(name) or _LICENCE.fullmatch(name):
        raise ManifestError(f"{where}: {name!r} is not a plain file name (nor a licence's)")
    parts = source.split("/")
    if source.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ManifestError(f"{where}: {source!r} is not a path inside the package")
    imports = _field(document, "imports", dict, where, default={})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in imports.items()):
        raise ManifestError(f"{where}: {name}'s imports map strings to strings")
    if imports and not name.endswith(".mjs"):
        raise ManifestError(f"{where}: imports rewritten in {name!r}, which is no .mjs module")
    return FileSpec(source, name, dict(imports))


def _field(document: object, key: str, kind: type, where: str, default: Any = None) -> Any:
    if not isinstance(document, dict):
        raise ManifestError(f"{where}: expected an object, got {type(document).__name__}")
    if key not in document and default is not None:
        return default
    value = document.get(key)
    if not isinstance(value, kind):
        raise ManifestError(f"{where}: {key!r} must be a {kind.__name__}")
    return value


# ----------------------------------------------------------------- integrity, rewrites


def check_integrity(data: bytes, integrity: str) -> None:
    """Raise :class:`FetchError` unless ``data`` has the SHA-512 that ``integrity`` (an SRI
    string, possibly several hashes separated by spaces) names. Only SHA-512 counts: an
    SRI string without one is refused, whatever else it lists."""
    wanted = [
        token.partition("-")[2].partition("?")[0]
        for token in integrity.split()
        if token.startswith("sha512-")
    ]
    if not wanted:
        raise FetchError(f"no sha512 in the integrity {integrity!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")
    if actual not in wanted:
        raise FetchError(f"integrity mismatch: got sha512-{actual}, expected {integrity}")


def import_specifiers(source: str) -> list[str]:
    """Every import specifier of an ES module's text, in order (see :data:`_SPECIFIER`)."""
    return [match.group(3) for match in _SPECIFIER.finditer(source)]


def rewrite_imports(source: str, imports: Mapping[str, str]) -> tuple[str, dict[str, int]]:
    """``source`` with each import specifier that is a key of ``imports`` replaced by its
    value (a URL), and how many times each was replaced; only whole specifiers in import
    position change, never the same text elsewhere (``"preact/hooks"`` is not ``"preact"``)."""
    counts = dict.fromkeys(imports, 0)

    def replace(match: re.Match[str]) -> str:
        specifier = match.group(3)
        if specifier not in imports:
            return match.group(0)
        counts[specifier] += 1
        quote = match.group(2)
        return f"{match.group(1)}{quote}{imports[specifier]}{quote}"

    return _SPECIFIER.sub(replace, source), counts


def _relative(spec: PackageSpec, target: str, versions: Mapping[str, str]) -> str:
    package, _, name = target.partition("/")
    if package == spec.name:
        return f"./{name}"
    return f"../{package}@{versions[package]}/{name}"


# ------------------------------------------------------------------------- the lock


@dataclass(frozen=True, slots=True)
class LockedFile:
    """A written file: its path under its package's folder, where it came from, the
    imports rewritten in it (specifier -> URL) and its SHA-256 as written."""

    path: str
    source: str
    sha256: str
    imports: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LockedPackage:
    """A vendored package as the lock records it."""

    name: str
    version: str
    tarball: str
    integrity: str
    license: str
    files: tuple[LockedFile, ...]

    @property
    def directory(self) -> str:
        """Its folder under :data:`VENDOR`."""
        return f"{self.name}@{self.version}"


def lock_json(packages: Sequence[LockedPackage]) -> str:
    """The lock's text: stable (sorted packages, files in manifest order, two-space
    indent, a final newline), so a refresh that changes nothing changes no byte."""
    document = {
        "comment": "Written by `make vendor` (python -m api.vendor) from vendor.json. "
        "Do not edit: `python -m api.vendor --check` compares the files with it.",
        "registry": REGISTRY,
        "packages": [
            {
                "name": p.name,
                "version": p.version,
                "tarball": p.tarball,
                "integrity": p.integrity,
                "license": p.license,
                "files": [
                    {
                        "path": f.path,
                        "from": f.source,
                        "sha256": f.sha256,
                        **({"imports": dict(f.imports)} if f.imports else {}),
                    }
                    for f in p.files
                ],
            }
            for p in sorted(packages, key=lambda p: p.name)
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def load_lock(text: str) -> tuple[LockedPackage, ...]:
    """The packages of a lock's text (:func:`lock_json`'s form)."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ManifestError(f"{LOCK} is not JSON: {error}") from None
    packages = []
    for each in _field(document, "packages", list, LOCK):
        files = tuple(
            LockedFile(
                _field(f, "path", str, LOCK),
                _field(f, "from", str, LOCK),
                _field(f, "sha256", str, LOCK),
                _field(f, "imports", dict, LOCK, default={}),
            )
            for f in _field(each, "files", list, LOCK)
        )
        name, version, tarball, integrity, licence = (
            _field(each, key, str, LOCK)
            for key in ("name", "version", "tarball", "integrity", "license")
        )
        packages.append(LockedPackage(name, version, tarball, integrity, licence, files))
    return tuple(packages)


# ------------------------------------------------------------------------ refreshing


@dataclass(frozen=True, slots=True)
class Fetched:
    """A package read and verified, ready to write: its lock entry and the bytes of each
    of its files, by path."""

    locked: LockedPackage
    contents: Mapping[str, bytes]


def read_package(
    spec: PackageSpec,
    metadata: Mapping[str, Any],
    tarball: bytes,
    versions: Mapping[str, str],
) -> Fetched:
    """Verify ``tarball`` against ``metadata`` (the registry's document of
    ``spec.name@spec.version``), take the listed files and the licences from it and
    rewrite their imports (``versions``: every manifest package's version, for URLs
    across packages). Raises :class:`FetchError`; touches no file."""
    where = spec.directory
    if metadata.get("name") != spec.name or metadata.get("version") != spec.version:
        raise FetchError(f"{where}: the registry answered for another package or version")
    dist = metadata.get("dist")
    url = dist.get("tarball") if isinstance(dist, dict) else None
    integrity = dist.get("integrity") if isinstance(dist, dict) else None
    if not isinstance(url, str) or not url.startswith(REGISTRY):
        raise FetchError(f"{where}: tarball {url!r} is not on {REGISTRY}")
    if not isinstance(integrity, str):
        raise FetchError(f"{where}: the registry gives no dist.integrity")
    try:
        check_integrity(tarball, integrity)
    except FetchError as error:
        raise FetchError(f"{where}: {error}") from None
    listed = {each.source for each in spec.files}
    members = _members(tarball, where, lambda path: path in listed or _is_licence(path))
    licence = _licence_name(members.get("package.json"), where)
    contents: dict[str, bytes] = {}
    files: list[LockedFile] = []
    for each in spec.files:
        if each.source not in members:
            raise FetchError(f"{where}: no file {each.source!r} in the tarball")
        data = members[each.source]
        rewritten: dict[str, str] = {}
        if each.name.endswith(".mjs"):
            urls = {s: _relative(spec, t, versions) for s, t in each.imports.items()}
            text, counts = rewrite_imports(_text(data, where, each.source), urls)
            unused = sorted(s for s, n in counts.items() if n == 0)
            if unused:
                raise FetchError(f"{where}/{each.name}: imports {unused} not found to rewrite")
            data = text.encode("utf-8")
            rewritten = urls
        contents[each.name] = data
        files.append(LockedFile(each.name, each.source, _sha256(data), rewritten))
    licences = sorted(path for path in members if _is_licence(path))
    if not licences:
        raise FetchError(f"{where}: no licence file (LICENSE, COPYING…) in the tarball")
    for path in licences:
        contents[path] = members[path]
        files.append(LockedFile(path, path, _sha256(members[path])))
    locked = LockedPackage(spec.name, spec.version, url, integrity, licence, tuple(files))
    return Fetched(locked, contents)


def _is_licence(path: str) -> bool:
    return "/" not in path and _LICENCE.fullmatch(path) is not None


def _members(tarball: bytes, where: str, wanted: Callable[[str], bool]) -> dict[str, bytes]:
    # The regular files ``wanted`` picks, and package.json, by their paths without the
    # tarball's top folder ("package/" as npm packs it, sometimes another name); links,
    # folders and odd paths are skipped, and nothing is extracted to disk.
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:*") as archive:
            for member in archive:
                _, _, path = member.name.partition("/")
                parts = path.split("/")
                if not member.isfile() or any(p in ("", ".", "..") for p in parts):
                    continue
                if path != "package.json" and not wanted(path):
                    continue
                extracted = archive.extractfile(member)
                if extracted is not None:
                    found[path] = extracted.read()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise FetchError(f"{where}: not a readable tarball: {error}") from None
    return found


def _licence_name(package_json: bytes | None, where: str) -> str:
    try:
        document = json.loads(package_json or b"")
    except ValueError:
        raise FetchError(f"{where}: no readable package.json in the tarball") from None
    licence = document.get("license") if isinstance(document, dict) else None
    if isinstance(licence, dict):  # the old {"type": "MIT", "url": ...} form
        licence = licence.get("type")
    if not isinstance(licence, str) or not licence.strip():
        raise FetchError(f"{where}: package.json names no licence")
    return licence


def _text(data: bytes, where: str, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FetchError(f"{where}: {path} is not UTF-8 text") from None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _HttpsRedirectsOnly(urllib.request.HTTPRedirectHandler):
    # The registry does not redirect today; if it ever does, never to plain HTTP.
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urllib.parse.urlsplit(newurl).scheme != "https":
            raise FetchError(f"refusing a redirect to {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpsRedirectsOnly)


def http_get(url: str) -> bytes:
    """GET ``url`` over HTTPS and return its body (the default fetcher of :func:`refresh`)."""
    if urllib.parse.urlsplit(url).scheme != "https":
        raise FetchError(f"refusing a URL that is not https: {url}")
    request = urllib.request.Request(url, headers={"Accept": "application/json, */*"})
    try:
        with _OPENER.open(request, timeout=_TIMEOUT) as answer:
            body: bytes = answer.read()
            return body
    except OSError as error:  # URLError and HTTPError are OSErrors
        raise FetchError(f"GET {url}: {error}") from None


def refresh(specs: Sequence[PackageSpec], get: Callable[[str], bytes] = http_get) -> list[Fetched]:
    """Fetch and verify every package of ``specs`` through ``get`` (URL -> body); nothing
    is written (see :func:`write`). Raises :class:`FetchError` at the first problem."""
    versions = {spec.name: spec.version for spec in specs}
    fetched = []
    for spec in specs:
        url = f"{REGISTRY}{spec.name}/{spec.version}"
        try:
            metadata = json.loads(get(url))
        except ValueError:
            raise FetchError(f"{spec.directory}: the registry's answer is not JSON") from None
        if not isinstance(metadata, dict):
            raise FetchError(f"{spec.directory}: the registry's answer is not an object")
        dist = metadata.get("dist")
        tarball = dist.get("tarball") if isinstance(dist, dict) else None
        if not isinstance(tarball, str) or not tarball.startswith(REGISTRY):
            raise FetchError(f"{spec.directory}: tarball {tarball!r} is not on {REGISTRY}")
        fetched.append(read_package(spec, metadata, get(tarball), versions))
    _check_modules({f.locked.directory: f.contents for f in fetched})
    return fetched


def _check_modules(contents: Mapping[str, Mapping[str, bytes]]) -> None:
    problems = list(_module_problems(contents))
    if problems:
        raise FetchError("\n".join(problems))


def _module_problems(contents: Mapping[str, Mapping[str, bytes]]) -> Iterator[str]:
    # Every specifier of every .mjs file is a relative URL naming a vendored file.
    known = {f"{directory}/{name}" for directory, files in contents.items() for name in files}
    for directory, files in contents.items():
        for name, data in files.items():
            if not name.endswith(".mjs"):
                continue
            for specifier in import_specifiers(data.decode("utf-8", "replace")):
                target = posixpath.normpath(posixpath.join(directory, specifier))
                if not specifier.startswith(("./", "../")):
                    yield f"{directory}/{name}: bare import {specifier!r} (add it to imports)"
                elif target not in known:
                    yield f"{directory}/{name}: import {specifier!r} names no vendored file"


def write(fetched: Sequence[Fetched], root: Path = VENDOR) -> None:
    """Write every fetched package's folder under ``root`` (its old content replaced),
    remove the folders of packages no longer listed, and write the lock last.

    Every file is first written to a staging folder (``root/.staging``); only when all
    are written do the folders move into place, so a failed write (a full disk) leaves
    the old tree and its lock as they were, with a staging folder ``--check`` reports."""
    staging = root / _STAGING
    if staging.exists():
        shutil.rmtree(staging)
    for each in fetched:
        folder = staging / each.locked.directory
        folder.mkdir(parents=True)
        for name, data in each.contents.items():
            (folder / name).write_bytes(data)
    (staging / LOCK).write_text(lock_json([f.locked for f in fetched]), "utf-8")
    keep = {f.locked.directory for f in fetched}
    for folder in root.iterdir():
        if folder.is_dir() and "@" in folder.name:
            shutil.rmtree(folder)
    for directory in sorted(keep):
        (staging / directory).rename(root / directory)
    (staging / LOCK).replace(root / LOCK)
    staging.rmdir()


_STAGING = ".staging"


# ------------------------------------------------------------------------- checking


def check(root: Path = VENDOR) -> list[str]:
    """What is wrong with the vendored files under ``root``, offline (empty: all good):
    the lock against the manifest, each file's SHA-256, no file unrecorded, a licence
    for every package, every ES module's imports."""
    try:
        specs = load_manifest((root / MANIFEST).read_text("utf-8"))
        locked = load_lock((root / LOCK).read_text("utf-8"))
    except (OSError, ManifestError) as error:
        return [str(error)]
    problems: list[str] = []
    versions = {spec.name: spec.version for spec in specs}
    by_name = {p.name: p for p in locked}
    if sorted(by_name) != sorted(versions) or len(by_name) != len(locked):
        problems.append(f"the lock has {sorted(by_name)}, the manifest {sorted(versions)}")
    recorded = {MANIFEST, LOCK}
    contents: dict[str, dict[str, bytes]] = {}
    for spec in specs:
        package = by_name.get(spec.name)
        if package is None:
            continue
        where = package.directory
        if package.version != spec.version:
            problems.append(f"{spec.name}: locked {package.version}, wanted {spec.version}")
            continue
        files = {f.path: f for f in package.files}
        for each in spec.files:
            entry = files.get(each.name)
            urls = {s: _relative(spec, t, versions) for s, t in each.imports.items()}
            if entry is None or entry.source != each.source or dict(entry.imports) != urls:
                problems.append(f"{where}/{each.name}: the lock does not record it as listed")
        wanted = {f.name for f in spec.files}
        licences = [p for p in files if _is_licence(p)]
        extra = sorted(set(files) - wanted - set(licences))
        if extra:
            problems.append(f"{where}: the lock records files not listed: {extra}")
        if not licences:
            problems.append(f"{where}: no licence file")
        if not package.license.strip():
            problems.append(f"{where}: no licence name")
        contents[where] = {}
        for path, entry in files.items():
            recorded.add(f"{where}/{path}")
            try:
                data = (root / where / path).read_bytes()
            except OSError:
                problems.append(f"{where}/{path}: missing")
                continue
            contents[where][path] = data
            if _sha256(data) != entry.sha256:
                problems.append(f"{where}/{path}: sha256 differs from the lock")
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()}
    problems += [f"{path}: not recorded in the lock" for path in sorted(on_disk - recorded)]
    problems += _module_problems(contents)
    return problems


# ---------------------------------------------------------------------- the command


def outdated(specs: Sequence[PackageSpec], get: Callable[[str], bytes] = http_get) -> list[str]:
    """One line per package whose registry ``latest`` tag is not the pinned version."""
    lines = []
    for spec in specs:
        try:
            document = json.loads(get(f"{REGISTRY}{spec.name}"))
        except ValueError:
            raise FetchError(f"{spec.name}: the registry's answer is not JSON") from None
        latest = document.get("dist-tags", {}).get("latest") if isinstance(document, dict) else None
        if latest != spec.version:
            lines.append(f"{spec.name}: pinned {spec.version}, latest {latest}")
    return lines


def main(
    argv: Sequence[str] | None = None,
    root: Path = VENDOR,
    get: Callable[[str], bytes] = http_get,
) -> int:
    """``python -m api.vendor [--check | --outdated]``: refresh, verify or compare (``root``
    and ``get``, the registry's fetcher, for tests)."""
    parser = argparse.ArgumentParser(
        prog="python -m api.vendor",
        description="Refresh the vendored front-end libraries from the npm registry.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="verify the files offline")
    mode.add_argument("--outdated", action="store_true", help="list newer registry versions")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(root)
        for line in problems:
            print(f"vendor: {line}", file=sys.stderr)
        if not problems:
            print(f"vendor: {root} matches {LOCK}")
        return 1 if problems else 0
    try:
        specs = load_manifest((root / MANIFEST).read_text("utf-8"))
        if args.outdated:
            lines = outdated(specs, get)
            print("\n".join(lines) if lines else "vendor: every package is at its latest")
            return 0
        fetched = refresh(specs, get)
    except (OSError, VendorError) as error:
        print(f"vendor: {error}", file=sys.stderr)
        return 1
    write(fetched, root)
    for each in fetched:
        print(f"vendor: {each.locked.directory} ({each.locked.license})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
