"""All SQL of ``api/`` lives in ``api/storage/`` (issue 13): no module elsewhere in ``api/``
holds a string literal that starts with an SQL statement, checked on the source with
``ast``, as ``tests/api/test_layers.py`` checks the dependency direction.

A string counts when, after leading white space, it starts with one of
:data:`STATEMENTS` in capitals followed by white space and more text (``"SELECT 1"``,
``"\\n    DELETE FROM keys WHERE ..."``). Prose (``"Create an auction"``) and a bare HTTP
method (``"DELETE"``) do not. Every string literal is looked at: plain, bytes aside,
docstrings, and the literal parts of f-strings (the start of ``f"SELECT {x} FROM t"``).
Nothing is allow-listed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: The statements whose text must stay in :mod:`api.storage`.
STATEMENTS = (
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "CREATE",
    "ALTER",
    "DROP",
    "TRUNCATE",
    "WITH",
    "LISTEN",
    "NOTIFY",
)

_SQL = re.compile(rf"\A\s*(?:{'|'.join(STATEMENTS)})\s+\S")


@dataclass(frozen=True, slots=True, order=True)
class SqlString:
    """One string literal of a module that starts with an SQL statement."""

    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text!r}"


def sql_strings(path: str, source: str) -> Iterator[SqlString]:
    """The string literals of ``source`` (a module at ``path``) that start with SQL, in
    the order ``ast.walk`` meets them. O(size of the module)."""
    for node in ast.walk(ast.parse(source, path)):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _SQL.match(node.value)
        ):
            yield SqlString(path, node.lineno, node.value.strip().splitlines()[0][:60])


def outside_storage(root: Path = ROOT) -> list[SqlString]:
    """Every SQL string of ``api/`` outside ``api/storage/``, sorted."""
    api = root / "api"
    found: list[SqlString] = []
    for path in sorted(api.rglob("*.py")):
        relative = path.relative_to(root)
        if relative.parts[1] == "storage":
            continue
        found.extend(sql_strings(relative.as_posix(), path.read_text(encoding="utf-8")))
    return sorted(found)


def test_no_sql_outside_api_storage() -> None:
    found = outside_storage()
    assert not found, "SQL outside api/storage/:\n" + "\n".join(map(str, found))


def test_storage_itself_is_scanned_and_has_sql() -> None:
    # The checker would pass on any tree if it found nothing anywhere: it finds
    # api.storage's statements when pointed at them.
    ids = ROOT / "api" / "storage" / "ids.py"
    assert list(sql_strings("api/storage/ids.py", ids.read_text(encoding="utf-8")))


_SNIPPET = '''
"""Create an auction: prose is not SQL."""
METHODS = ("GET", "DELETE")
ONE = "SELECT 1"
PURGE = """
    DELETE FROM idempotency_keys WHERE expires_at < $1
"""


async def f(pool, table):
    await pool.execute(f"INSERT INTO {table} VALUES ($1)", 1)
    await pool.execute(f"{table} SELECT")
    return "select 1", b"SELECT 1", "UPDATEs are counted", "WITH"
'''


def test_the_checker_on_a_snippet() -> None:
    found = [(s.line, s.text) for s in sql_strings("snippet.py", _SNIPPET)]
    assert sorted(found) == [
        (4, "SELECT 1"),
        (5, "DELETE FROM idempotency_keys WHERE expires_at < $1"),
        (11, "INSERT INTO"),
    ]
