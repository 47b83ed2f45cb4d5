"""The dependency direction of ``api/`` (issue 13), checked on the source with ``ast``, as
``tests/test_sourcecode.py`` checks that ``engine/`` stays sans-I/O.

The layers, top to bottom; a module may import its own unit (``api.live.hub`` ->
``api.live.ws``) and any unit of a lower layer, never a unit of its own layer or above::

    7  api.cli                                  the command line: may start any of them
    6  api.http                                 Sanic app, blueprints, problems, OpenAPI
    5  api.node                                 the composition root
    4  api.live  api.tenders  api.audit  api.demo  api.cluster
    3  api.auctions  api.access
    2  api.storage                              every port and its adapters; all SQL
    1  contracts                                wire formats, below api/, never importing it
    0  engine                                   the pure core (its own rule: sans-I/O)

- A unit is a package of ``api/`` (``api.live``) or one of its top-level modules
  (``api.cli``, ``api.node``, ``api.demo``). ``api.demo`` (the demo auction ``gavel serve
  --demo`` seeds) sits with live, tenders and audit: it uses the auctions' service and the
  credentials, and the node runs it. ``api.cli`` sits on top, above ``api.http``: nothing
  but it (and the test and load harnesses) may reach ``api.http``.
- ``api.settings`` and ``api.logs`` are leaves: anyone may import them, they import no
  other unit (``api`` itself, the package's ``__init__``, is one too). ``api.vendor``
  (``make vendor``, standard library only) is a leaf too, though no module imports it
  (``tests/api/test_vendor.py``).
- Only ``api.http`` and ``api.live`` import ``sanic`` or ``websockets``; the one exception
  is ``bidders_sim``, a client of the server like any browser, which speaks the protocol
  with the ``websockets`` client (``websockets.asyncio.client`` and the library's
  exceptions and types), never its server nor ``sanic``.
- Outside ``api/``: ``contracts`` and ``engine`` import nothing of ``api``,
  ``bidders_sim`` or ``loadtests``; ``bidders_sim`` may use ``api`` (the demo's story)
  but not ``api.http``, and of ``loadtests`` only ``loadtests.server_process`` (``gavel
  sim`` without ``--url`` starts its own server as the benchmarks do). ``api`` finds the
  demo's opponents in ``bidders_sim`` through an entry point, as ``api.cli`` finds
  commands, never by importing it. ``loadtests`` and ``tests`` are harnesses above
  everything and are not checked.

Every import counts, wherever it is: at module level, inside a function (an import put
there to dodge a cycle still is one), under ``if TYPE_CHECKING:`` (a type from a higher
layer is a dependency on it), and ``importlib.import_module("…")`` with a literal name.
Relative imports are resolved against the importing module.

:data:`KNOWN_VIOLATIONS` lists the violations tolerated for now: empty since issue 13
landed, and kept so that a rule can be tightened before the tree follows it;
``python -m tests.api.test_layers`` prints today's, in that form.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: The layers of ``api/`` and below, top first (see the module docstring).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("api.cli",),
    ("api.http",),
    ("api.node",),
    ("api.live", "api.tenders", "api.audit", "api.demo", "api.cluster"),
    ("api.auctions", "api.access"),
    ("api.storage",),
    ("contracts",),
    ("engine",),
)

#: Importable by every module of ``api/``; they import no other unit.
LEAVES = ("api", "api.settings", "api.logs", "api.vendor")

#: Only these units may import the HTTP and websocket stacks.
WEB_UNITS = ("api.http", "api.live")
WEB_LIBRARIES = ("sanic", "websockets")
#: What of ``websockets`` the simulated bidders (``bidders_sim``) may import: the client.
WEBSOCKETS_CLIENT = ("websockets.asyncio.client", "websockets.exceptions", "websockets.typing")

#: The packages checked, each file of them read.
CHECKED = ("api", "contracts", "engine", "bidders_sim")

_RANK = {unit: len(LAYERS) - 1 - index for index, units in enumerate(LAYERS) for unit in units}

#: The violations tolerated for now: importer -> imported, as computed by
#: :func:`violations` (run ``python -m tests.api.test_layers`` to print today's). Empty
#: since issue 13 landed (the last, the edge's app starting itself through
#: api.http.server from api.live, left with the app for api.http.edge).
#: ``test_known_violations_still_exist`` fails when one is gone, so it only shrinks.
KNOWN_VIOLATIONS: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True, slots=True, order=True)
class Import:
    """One import found in a module: who, what, on which line and where."""

    module: str
    imported: str
    line: int
    #: ``"module"``, ``"function"`` or ``"type_checking"``.
    where: str = "module"


@dataclass(frozen=True, slots=True, order=True)
class Violation:
    """One import that breaks a rule of the module docstring."""

    module: str
    imported: str
    line: int
    where: str
    rule: str

    @property
    def key(self) -> tuple[str, str]:
        """How :data:`KNOWN_VIOLATIONS` names it: importer, imported."""
        return self.module, self.imported

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.imported} ({self.where}): {self.rule}"


def imports(module: str, source: str, is_package: bool = False) -> Iterator[Import]:
    """Every import in ``source``, the text of ``module`` (``is_package``: its
    ``__init__``), with relative names resolved: ``import x``, ``from x import y``
    (``from api import settings`` gives ``api.settings``), at any depth, and
    ``importlib.import_module`` / ``__import__`` with a literal name."""
    package = module if is_package else module.rpartition(".")[0]
    yield from _walk(ast.parse(source, module), module, package, "module")


def _walk(node: ast.AST, module: str, package: str, where: str) -> Iterator[Import]:
    for child in ast.iter_child_nodes(node):
        inner = where
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            inner = "function" if where == "module" else where
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            yield from _walk_body(child.body, module, package, "type_checking")
            yield from _walk_body(child.orelse, module, package, where)
            continue
        yield from _found(child, module, package, where)
        yield from _walk(child, module, package, inner)


def _walk_body(body: list[ast.stmt], module: str, package: str, where: str) -> Iterator[Import]:
    for statement in body:
        yield from _found(statement, module, package, where)
        yield from _walk(statement, module, package, where)


def _found(node: ast.AST, module: str, package: str, where: str) -> Iterator[Import]:
    line = getattr(node, "lineno", 0)
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield Import(module, alias.name, line, where)
    elif isinstance(node, ast.ImportFrom):
        base = _absolute(node.module, node.level, package)
        for alias in node.names:
            # ``from api import settings`` imports the module api.settings; ``from
            # api.access import auth`` is counted as api.access (the unit is the same).
            named = f"{base}.{alias.name}"
            yield Import(module, named if _is_root(base) else base, line, where)
    elif isinstance(node, ast.Call) and _is_dynamic_import(node.func):
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield Import(module, first.value, line, where)


def _absolute(name: str | None, level: int, package: str) -> str:
    if level == 0:
        return name or ""
    parts = package.split(".")
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _is_root(name: str) -> bool:
    return name in ("api", "contracts", "engine", "bidders_sim", "loadtests")


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def unit_of(name: str) -> str | None:
    """The unit a dotted module name belongs to (``api.live.hub`` -> ``api.live``,
    ``api.node`` -> ``api.node``, ``engine.formats.dutch`` -> ``engine``), or ``None``
    for a module outside the project (the standard library, a dependency)."""
    parts = name.split(".")
    top = parts[0]
    if top == "api":
        return "api" if len(parts) == 1 else f"api.{parts[1]}"
    if top in ("contracts", "engine", "bidders_sim", "loadtests", "tests"):
        return top
    return None


def judge(found: Import) -> str | None:
    """The rule ``found`` breaks, or ``None`` if it keeps them all."""
    importer = unit_of(found.module)
    imported = unit_of(found.imported)
    top = found.imported.partition(".")[0]
    if top in WEB_LIBRARIES:
        if importer in WEB_UNITS:
            return None
        if importer == "bidders_sim" and found.imported.startswith(WEBSOCKETS_CLIENT):
            return None
        return f"only {' and '.join(WEB_UNITS)} import {top}"
    if imported is None or importer is None or imported == importer:
        return None
    if importer == "bidders_sim" and found.imported == "loadtests.server_process":
        return None
    if imported in ("loadtests", "tests"):
        return f"{importer} must not import the harness {imported}"
    if importer == "bidders_sim":
        return "bidders_sim must not reach api.http" if imported == "api.http" else None
    if imported == "bidders_sim":
        return f"{importer} must not import bidders_sim"
    if importer in LEAVES:
        return None if imported in LEAVES else f"the leaf {importer} imports no other unit"
    if imported in LEAVES:
        return None
    if importer not in _RANK:
        return f"{importer} is in no layer: add it to LAYERS"
    if imported not in _RANK:
        return f"{imported} is in no layer: add it to LAYERS"
    if _RANK[imported] < _RANK[importer]:
        return None
    if _RANK[imported] == _RANK[importer]:
        return f"{importer} and {imported} share a layer: neither may import the other"
    return f"{importer} (layer {_RANK[importer]}) reaches up to {imported} ({_RANK[imported]})"


def violations(module: str, source: str, is_package: bool = False) -> list[Violation]:
    """Every import of ``module`` (its text ``source``) that breaks a rule."""
    found = []
    for each in imports(module, source, is_package):
        rule = judge(each)
        if rule is not None:
            found.append(Violation(each.module, each.imported, each.line, each.where, rule))
    return found


def tree_violations(root: Path = ROOT) -> list[Violation]:
    """:func:`violations` over every Python file of :data:`CHECKED` under ``root``."""
    found: list[Violation] = []
    for package in CHECKED:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).with_suffix("")
            parts = relative.parts
            is_package = parts[-1] == "__init__"
            module = ".".join(parts[:-1] if is_package else parts)
            found += violations(module, path.read_text("utf-8"), is_package)
    return sorted(found)


# ----------------------------------------------------------------------------- the tree


def test_api_depends_one_way() -> None:
    """No violation in the tree beyond :data:`KNOWN_VIOLATIONS`."""
    new = [v for v in tree_violations() if v.key not in KNOWN_VIOLATIONS]
    assert not new, "imports against the layers (tests/api/test_layers.py):\n" + "\n".join(
        map(str, new)
    )


def fixed(known: frozenset[tuple[str, str]], found: list[Violation]) -> list[tuple[str, str]]:
    """The violations listed in ``known`` that ``found`` no longer has, in order."""
    return sorted(known - {v.key for v in found})


def test_known_violations_still_exist() -> None:
    """Each listed violation is still in the tree: a fixed one must leave the list."""
    gone = fixed(KNOWN_VIOLATIONS, tree_violations())
    assert not gone, "fixed: remove from KNOWN_VIOLATIONS:\n" + "\n".join(map(str, gone))


def test_a_listed_violation_that_is_gone_is_reported() -> None:
    """The check above on lists of its own: what is listed but no longer found is
    reported, what is still found is not; an empty list reports nothing."""
    found = violations("api.live.edge", "from api.http.server import run_app\n")
    still = ("api.live.edge", "api.http.server")
    assert [v.key for v in found] == [still]
    assert fixed(frozenset({still}), found) == []
    assert fixed(frozenset({still, ("api.live.hub", "api.node")}), found) == [
        ("api.live.hub", "api.node")
    ]
    assert fixed(frozenset({still}), []) == [still]
    assert fixed(frozenset(), found) == []


def test_every_unit_of_api_has_a_layer() -> None:
    """Each package and top-level module of ``api/`` is placed in LAYERS or LEAVES."""
    units = {
        unit_of("api." + (path.stem if path.is_file() else path.name))
        for path in (ROOT / "api").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    placed = set(_RANK) | set(LEAVES)
    assert units - placed == set()


# --------------------------------------------------------------- the checker, on snippets


SNIPPET = '''\
"""api/auctions/service.py, breaking the rules in every way the checker knows."""
from __future__ import annotations
from typing import TYPE_CHECKING
import sanic
from websockets.asyncio.server import serve
from api.live.hub import Hub
from api.auctions import views
from . import runner
from .. import settings
from ..storage.ports import EventStore
from api import logs
import api.access.auth
import contracts.canonical
from engine import Auction
from loadtests import bench_engine

if TYPE_CHECKING:
    from api.http.app import Gavel
    from api.access.auth import Role
else:
    from api.tenders import service

def later() -> None:
    from api.node import Node
    importlib.import_module("api.audit.trail")
    __import__("bidders_sim.scripted")
    async def inner() -> None:
        import api.demo
'''


def test_imports_finds_every_form_and_where_it_is() -> None:
    module = "api.auctions.service"
    found = {(i.imported, i.line, i.where) for i in imports(module, SNIPPET)}
    assert ("api.settings", 9, "module") in found
    assert ("api.auctions", 8, "module") in found
    assert ("api.storage.ports", 10, "module") in found
    assert ("api.logs", 11, "module") in found
    assert ("api.http.app", 18, "type_checking") in found
    assert ("api.tenders", 21, "module") in found
    assert ("api.node", 24, "function") in found
    assert ("api.audit.trail", 25, "function") in found
    assert ("bidders_sim.scripted", 26, "function") in found
    assert ("api.demo", 28, "function") in found


def test_violations_in_the_snippet() -> None:
    """Up, sideways, the web stacks, the harness and bidders are caught; own unit, lower
    layers and leaves are not."""
    found = {(v.imported, v.line) for v in violations("api.auctions.service", SNIPPET)}
    assert found == {
        ("sanic", 4),
        ("websockets.asyncio.server", 5),
        ("api.live.hub", 6),
        ("api.access.auth", 12),
        ("loadtests.bench_engine", 15),
        ("api.http.app", 18),
        ("api.access.auth", 19),  # same layer, even for a type only
        ("api.tenders", 21),
        ("api.node", 24),
        ("api.audit.trail", 25),
        ("bidders_sim.scripted", 26),
        ("api.demo", 28),
    }


def test_relative_imports_resolve_in_a_package_init() -> None:
    source = "from . import hub\nfrom .. import node\nfrom ..storage import ports\n"
    found = [i.imported for i in imports("api.live", source, is_package=True)]
    assert found == ["api.live", "api.node", "api.storage"]
    assert [v.imported for v in violations("api.live", source, is_package=True)] == ["api.node"]


def test_the_rules_outside_api_and_for_leaves() -> None:
    assert violations("api.settings", "import api.logs\nimport json\n") == []
    assert [v.imported for v in violations("api.logs", "from api.storage import x\n")] == [
        "api.storage"
    ]
    assert [v.imported for v in violations("contracts.http", "import api.live\n")] == ["api.live"]
    assert [v.imported for v in violations("engine.book", "import bidders_sim\n")] == [
        "bidders_sim"
    ]
    bidders = "from api.auctions.story import clock\nfrom api.http.app import App\n"
    assert [v.imported for v in violations("bidders_sim.cli", bidders)] == ["api.http.app"]
    assert violations("api.live.ws", "import sanic\nimport websockets\n") == []
    # The simulated bidders are a client: the websockets client, never its server or sanic;
    # of the harness only the server in a child process.
    client = (
        "from websockets.asyncio.client import connect\nfrom websockets.exceptions import X\n"
        "from loadtests.server_process import ServerProcess\n"
    )
    assert violations("bidders_sim.runner", client) == []
    server = "from websockets.asyncio.server import serve\nimport sanic\nimport loadtests.cli\n"
    assert [v.imported for v in violations("bidders_sim.runner", server)] == [
        "websockets.asyncio.server",
        "sanic",
        "loadtests.cli",
    ]
    assert [v.imported for v in violations("api.demo", "import bidders_sim.opponents\n")] == [
        "bidders_sim.opponents"
    ]
    assert violations("api.cli", "import api.http.server\nimport api.live.edge\n") == []
    assert [v.rule for v in violations("api.cli", "import api.newthing\n")] == [
        "api.newthing is in no layer: add it to LAYERS"
    ]


def test_unit_of() -> None:
    assert unit_of("api") == "api"
    assert unit_of("api.http.tenders") == "api.http"
    assert unit_of("api.node") == "api.node"
    assert unit_of("engine.formats.dutch") == "engine"
    assert unit_of("asyncpg") is None


if __name__ == "__main__":
    seen: set[tuple[str, str]] = set()
    for violation in tree_violations():
        if violation.key not in seen:
            seen.add(violation.key)
            where = f"{violation.line}, {violation.where}"
            print(f"        {violation.key!r},  # {where}: {violation.rule}")
