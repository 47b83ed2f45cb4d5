"""Linters as a unit test (after asyncpg's ``test__sourcecode.py``): a clean tree is part of
"the tests pass".

- ``ruff check .`` and ``ruff format --check .`` over the whole repository;
- ``mypy --strict``'s scope: pyproject's ``[tool.mypy] files`` must be every package it
  ships (engine, contracts, api, bidders_sim, loadtests), none of them exempted. mypy
  itself runs in ``make lint``, which ``make test`` runs first (not here: the suite has a
  time budget, and mypy over the whole tree is its slowest check);
- the sans-I/O rule: no module under ``engine/`` imports asyncio, sanic, asyncpg,
  websockets, time, random or os (nor any of their submodules such as ``os.path``), so the
  core can never read a clock, a random source, the network or the disk. A meta-test shows
  that the checker catches each form of forbidden import. (The dependency direction of
  ``api/`` is checked the same way in ``tests/api/test_layers.py``.)

The tools are the ones installed next to the running interpreter (the project's venv), so
the suite checks with the versions ``pyproject.toml`` pins.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

#: Modules the pure core must never import (nor any submodule of them).
FORBIDDEN = ("asyncio", "sanic", "asyncpg", "websockets", "time", "random", "os")


def _tool(name: str, *args: str) -> None:
    """Run the venv's ``name`` from the repository root; fail with its output if unhappy."""
    executable = BIN / name
    if not executable.exists():
        pytest.fail(f"{executable} is missing: install the dev extra (pip install -e '.[dev]')")
    result = subprocess.run(
        [str(executable), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{name} {' '.join(args)} exited with {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}",
            pytrace=False,
        )


def test_ruff_check() -> None:
    """``ruff check .`` reports nothing (rules E, F, W, I, UP, B, SIM from pyproject)."""
    _tool("ruff", "check", ".")


def test_ruff_format() -> None:
    """``ruff format --check .`` would change nothing."""
    _tool("ruff", "format", "--check", ".")


def test_mypy_scope_is_the_shipped_tree() -> None:
    """``[tool.mypy] files`` (what ``make lint`` checks with ``mypy --strict``) are the
    whole shipped tree, with no module's errors ignored."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]
    shipped = {name.rstrip("*") for name in tool["setuptools"]["packages"]["find"]["include"]}
    mypy = tool["mypy"]
    assert set(mypy["files"]) == shipped
    sections = [mypy, *mypy.get("overrides", [])]
    assert not [s for s in sections if "ignore_errors" in s], "strict everywhere, no opt-out"
    assert mypy["strict"] is True


def test_make_test_runs_lint() -> None:
    """``make test`` depends on ``lint`` (ruff check, ruff format --check, mypy --strict)."""
    makefile = (ROOT / "Makefile").read_text("utf-8").splitlines()
    (test,) = [line for line in makefile if line.startswith("test:")]
    assert "lint" in test.split(":", 1)[1].split()
    start = makefile.index(next(line for line in makefile if line.startswith("lint:")))
    recipe = []
    for line in makefile[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    assert recipe == [
        "$(BIN)/ruff check .",
        "$(BIN)/ruff format --check .",
        "$(BIN)/mypy --strict",
    ]


# ------------------------------------------------------------------------- the import rule


def forbidden_imports(source: str, filename: str = "<snippet>") -> Iterator[str]:
    """``file:line: module`` for every forbidden import in ``source``.

    Catches ``import x``, ``import x.y``, ``import x as z``, ``from x import y``,
    ``from x.y import z`` (anywhere: top level, functions, ``if TYPE_CHECKING:``) and
    ``__import__("x")`` / ``importlib.import_module("x")`` with a literal name. Relative
    imports (``from . import x``) stay inside the package and are allowed.
    """
    for node in ast.walk(ast.parse(source, filename)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names = [first.value]
        for name in names:
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN):
                yield f"{filename}:{getattr(node, 'lineno', 0)}: {name}"


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def test_engine_imports_no_io() -> None:
    """No module of the pure core imports a clock, randomness, the OS or a network stack."""
    files = sorted((ROOT / "engine").rglob("*.py"))
    assert files, "engine/ has no Python files?"
    found = [
        hit
        for path in files
        for hit in forbidden_imports(path.read_text("utf-8"), str(path.relative_to(ROOT)))
    ]
    assert not found, "engine/ must stay sans-I/O:\n" + "\n".join(found)


SNIPPET = '''\
"""A module breaking the rule in every way the checker knows."""
from __future__ import annotations
import os.path
import json, time as clock
from random import choice
from asyncio.tasks import sleep
import timeit, ossaudiodev, randomness
from . import time
from .os import path
from engine import random as local

def later() -> None:
    import websockets.client
    __import__("sanic")
    importlib.import_module("asyncpg.pool")
    import_module("json")
'''


def test_import_checker_catches_forbidden_imports() -> None:
    """Meta-test: every forbidden form is reported with its line, and near misses
    (``timeit``, ``ossaudiodev``, relative imports, ``engine.random``) are not."""
    assert sorted(forbidden_imports(SNIPPET, "bad.py")) == sorted(
        [
            "bad.py:3: os.path",
            "bad.py:4: time",
            "bad.py:5: random",
            "bad.py:6: asyncio.tasks",
            "bad.py:13: websockets.client",
            "bad.py:14: sanic",
            "bad.py:15: asyncpg.pool",
        ]
    )


def test_import_checker_passes_clean_code() -> None:
    """Meta-test: the checker has no false alarm on ordinary pure imports."""
    clean = "from decimal import Decimal\nimport dataclasses\nfrom engine.book import OrderBook\n"
    assert list(forbidden_imports(clean)) == []
