"""What ``make run`` installs is what the server needs, and nothing of the dev extras.

- The server's import graph needs no dev package: a child Python whose import system
  refuses every top-level module the ``dev`` extras' distributions provide (Playwright,
  Locust, mypy, schemathesis, pytest, ...) imports every module of ``api``, ``engine``
  and ``contracts``, builds the core's app and the ``gavel`` command line.
- Every third-party module those packages import comes from a distribution named in
  ``[project] dependencies`` (so a server-only install, ``pip install .``, has it).
- The Makefile: ``make run`` installs the project without extras, ``make test`` / ``lint``
  / ``bench`` with ``[dev]``; each install is remembered by a stamp named for
  pyproject.toml's checksum, and the dev install also counts as the server's.

By hand (the figures in the issue 14 report): a fresh clone's ``make run`` is serving in
about 15-20 s on the development machine, against about 30 s for the dev install alone.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The packages a server runs (``bidders_sim`` and ``loadtests`` are tools around it).
SERVER_PACKAGES = ("api", "engine", "contracts")


def _name(requirement: str) -> str:
    """A requirement's distribution name, normalised (PEP 503)."""
    found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert found is not None, requirement
    return re.sub(r"[-_.]+", "-", found[0]).lower()


def _project() -> dict[str, object]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert isinstance(project, dict)
    return project


def runtime_distributions() -> set[str]:
    """The distributions of ``[project] dependencies``."""
    requirements = _project()["dependencies"]
    assert isinstance(requirements, list)
    return {_name(r) for r in requirements}


def dev_modules() -> set[str]:
    """The top-level modules the ``dev`` extras' own distributions provide, less any a
    runtime distribution provides too."""
    extras = _project()["optional-dependencies"]
    assert isinstance(extras, dict)
    dev = {_name(r) for r in extras["dev"]}
    runtime = runtime_distributions()
    modules = set()
    for module, dists in packages_distributions().items():
        names = {_name(d) for d in dists}
        if names & dev and not names & runtime and module.isidentifier():
            modules.add(module)
    return modules


#: Run in a child Python: refuse the modules named in argv[1], then import and build what
#: the server does. Prints "ok" at the end.
_CHILD = r"""
import importlib, pkgutil, sys, tempfile

blocked = set(sys.argv[1].split(","))
preloaded = sorted(m for m in sys.modules if m.partition(".")[0] in blocked)
assert not preloaded, f"loaded before the test started: {preloaded}"
refused = []

class RefuseDev:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            refused.append(name)
            raise ModuleNotFoundError(f"a dev package was imported: {name}", name=name)
        return None

sys.meta_path.insert(0, RefuseDev())
try:
    import playwright
except ModuleNotFoundError:
    pass
else:
    raise AssertionError("the blocker let playwright through")
refused.clear()

for package in sys.argv[2].split(","):
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        importlib.import_module(info.name)

import argparse
from api.cli import build_parser
from api.http.app import create_served
from api.http.server import add_arguments
from api.settings import Settings

build_parser()
serve = argparse.ArgumentParser()
add_arguments(serve)
serve.parse_args(["--demo", "--port", "8000"])
with tempfile.TemporaryDirectory() as data:
    served = create_served(Settings.from_env({"GAVEL_DATA_DIR": data}, demo=True))
    assert served.app.router.routes, "no routes"
# Optional imports that fell back are fine for a server-only install; list them anyway.
print("refused:", ",".join(refused))
print("ok")
"""


def test_the_dev_extras_provide_the_packages_a_server_must_not_need() -> None:
    modules = dev_modules()
    assert {"playwright", "locust", "mypy", "schemathesis", "pytest", "hypothesis"} <= modules
    assert not {"sanic", "asyncpg", "cryptography", "websockets"} & modules


def test_the_server_imports_and_builds_its_app_without_any_dev_package() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, ",".join(sorted(dev_modules())), ",".join(SERVER_PACKAGES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout.endswith("ok\n"), result.stderr[-3000:]


def third_party_imports() -> dict[str, set[str]]:
    """Every top-level module imported by a server package's source (any form, any
    place: a function-local or TYPE_CHECKING import counts), stdlib and first-party left
    out; module -> the files importing it."""
    first_party = {path.name for path in ROOT.iterdir() if (path / "__init__.py").exists()}
    found: dict[str, set[str]] = {}
    for package in SERVER_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.partition(".")[0]
                    if top not in sys.stdlib_module_names and top not in first_party:
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_third_party_module_the_server_imports_is_a_runtime_dependency() -> None:
    provided = packages_distributions()
    runtime = runtime_distributions()
    imported = third_party_imports()
    assert {"sanic", "asyncpg", "cryptography"} <= set(imported)  # the scan sees them
    missing = {
        module: sorted(where)
        for module, where in imported.items()
        if not {_name(d) for d in provided.get(module, [])} & runtime
    }
    assert not missing, f"imported, but no [project] dependency provides them: {missing}"


# ------------------------------------------------------------------------------ Makefile

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="no make")


def make_dry_run(*args: str) -> list[str]:
    """The commands ``make -n ARGS`` would run in the repository."""
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.splitlines()


def installs(commands: list[str]) -> list[str]:
    """What each ``pip install`` in ``commands`` installs (its last argument)."""
    return [line.split()[-1] for line in commands if "pip install" in line and "-e" in line]


@needs_make
def test_make_run_installs_the_server_alone_and_make_test_the_dev_extras() -> None:
    assert installs(make_dry_run("-B", "run")) == ["."]
    for target in ("test", "lint", "bench"):
        assert installs(make_dry_run("-B", target)) == ["'.[dev]'"], target


@needs_make
def test_the_install_stamps_are_keyed_on_pyprojects_checksum(tmp_path: Path) -> None:
    checksum = subprocess.run(
        "cksum < pyproject.toml", shell=True, cwd=ROOT, capture_output=True, text=True
    ).stdout.split()[0]
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()

    def stamps(*names: str) -> None:
        for old in venv.glob(".installed-*"):
            old.unlink()
        for name in names:
            (venv / f".installed-{name}").touch()

    def run_installs(target: str) -> list[str]:
        return installs(make_dry_run(target, f"VENV={venv}"))

    stamps()  # a fresh venv: each target installs what it needs
    assert (run_installs("run"), run_installs("lint")) == (["."], ["'.[dev]'"])
    stamps(f"server-{checksum}")  # after `make run`: `make test` still adds the extras
    assert (run_installs("run"), run_installs("lint")) == ([], ["'.[dev]'"])
    stamps(f"dev-{checksum}", f"server-{checksum}")  # after `make test`: nothing to do
    assert (run_installs("run"), run_installs("lint")) == ([], [])
    stamps("dev-1", "server-1")  # pyproject changed since
    assert (run_installs("run"), run_installs("lint")) == (["."], ["'.[dev]'"])


# ------------------------------------------------------------------------- the wheel


def test_the_wheel_holds_every_file_of_the_server_packages(tmp_path: Path) -> None:
    """A server-only install (``pip install .``, not editable) serves the pages: every file
    git tracks under api/, engine/ and contracts/ (the static pages and their vendored
    libraries, the migrations, ``py.typed``) is in the wheel built from them."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", "pyproject.toml", "README.md", *SERVER_PACKAGES],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    tracked = [name for name in listed.split("\0") if name and (ROOT / name).is_file()]
    source = tmp_path / "source"
    for name in tracked:  # the tree as committed or being edited, never the build's litter
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + [str(source), "-w", str(wheels)],
        capture_output=True,
        check=True,
        timeout=120,
    )
    [wheel] = wheels.glob("gavel-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packed = set(archive.namelist())
    missing = sorted(
        name for name in tracked if name.startswith(SERVER_PACKAGES) and name not in packed
    )
    assert missing == [], f"not in the wheel (pyproject's package-data): {missing}"
    assert "api/static/docs.js" in packed and "api/storage/migrations/0001_core.sql" in packed
