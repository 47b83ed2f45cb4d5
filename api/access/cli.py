"""``gavel officer …``: the first officer's credential on a fresh server, without the demo.

``gavel officer add [--name NAME] [--ttl DURATION] [--role auditor]`` signs an officer
token (or, with ``--role auditor``, an auditor's: it reads every auction's and tender's
trail, searches the finished ones and exports them, and changes nothing) bound to no
auction with the server's own signing key (``GAVEL_SIGNING_KEY``, or the key file
``GAVEL_DATA_DIR/signing-key.pem`` that ``gavel serve`` created), records its row in the
``tokens`` table as the server does for every token it mints (so it is listed and
revocable), and prints the token, and nothing else, on stdout, once; what it is (name,
jti, expiry) goes to stderr. Nothing secret is logged.

``gavel officer list [--all]`` lists the officer and auditor tokens that are neither expired nor
revoked (``--all``: every recorded token of any role, expired and revoked ones too);
``gavel officer revoke JTI`` revokes one (any role). A running server learns of the
revocation at once (``NOTIFY``, :mod:`api.storage.tokens`) and refuses the token from
then on.

The database is the one ``gavel serve`` uses (:mod:`api.storage.offline`): with the
server running, its embedded PostgreSQL is shared and left running; without it, the
embedded server is started for the command and stopped again. No need to stop anything.

Exit status: 0 done, 2 refused with one line on stderr (no signing key, no database or
an unreachable one, an unknown jti, bad arguments).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.access import auth
from api.access.credentials import Credentials
from api.settings import Settings
from api.storage.errors import StorageError
from api.storage.offline import database_dsn, list_tokens, open_pool
from api.storage.tokens import PostgresTokenStore, TokenRow

__all__ = ["KEY_FILE", "CliRefusal", "main", "parse_duration", "signing_key"]

#: The key file ``gavel serve`` creates in its data directory when ``GAVEL_SIGNING_KEY``
#: is unset (:func:`api.node._signing_key`).
KEY_FILE = "signing-key.pem"

#: The lifetime of ``officer add`` unless ``--ttl`` says otherwise.
DEFAULT_TTL_S = 7 * 24 * 3600

_DURATION = re.compile(r"(\d+)([smhd]?)")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class CliRefusal(Exception):
    """A refusal of the command: its message is the one line printed (exit 2)."""


def parse_duration(text: str) -> int:
    """``"3600"``, ``"90m"``, ``"12h"``, ``"30d"`` as seconds (> 0); else
    ``argparse.ArgumentTypeError`` (which argparse shows as it is)."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or int(match[1]) <= 0:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 3600, 90m, 12h, 30d)")
    return int(match[1]) * _UNIT_S[match[2]]


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The key the server signs with: ``GAVEL_SIGNING_KEY``, else its key file, which
    must exist (this command never creates one: a key made here would not be the one a
    server with ``GAVEL_SIGNING_KEY`` set uses). :class:`CliRefusal` otherwise."""
    try:
        if settings.signing_key_pem:
            key = auth.signing_key_from_env({auth.SIGNING_KEY_ENV: settings.signing_key_pem})
            assert key is not None
            return key
        path = Path(settings.data_dir) / KEY_FILE
        if not path.is_file():
            raise CliRefusal(
                f"no signing key: {auth.SIGNING_KEY_ENV} is unset and {path} does not exist"
                " (run `gavel serve` once to create it, or set the variable)"
            )
        return auth.load_or_create_signing_key(path)
    except auth.SigningKeyError as error:
        raise CliRefusal(f"unusable signing key: {error}") from None


def _when(us: int) -> str:
    return datetime.datetime.fromtimestamp(us / 1e6, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _line(row: TokenRow) -> str:
    state = f"revoked {_when(row.revoked_at)} by {row.revoked_by}" if row.revoked_at else "active"
    if row.revoked_at is None and row.expires_at <= time.time_ns() // 1000:
        state = "expired"
    return "\t".join(
        (
            row.jti,
            row.role,
            row.party_id,
            row.auction_id or "-",
            _when(row.issued_at),
            _when(row.expires_at),
            state,
        )
    )


async def _add(
    settings: Settings, key: Ed25519PrivateKey, name: str, ttl_s: int, role: auth.Role
) -> int:
    credentials = Credentials(key, token_ttl_s=ttl_s, rate_per_s=1.0, rate_burst=1)
    with database_dsn(settings) as dsn:
        async with open_pool(dsn) as pool:
            credentials.tokens = PostgresTokenStore(pool)
            token, jti = await credentials.issue_recorded(name, role, None, ttl_s)
    expires = _when((int(time.time()) + ttl_s) * 1_000_000)
    print(
        f"gavel officer: {role.value} token for {name!r} recorded (jti {jti}, bound to no auction,"
        f" expires {expires}); it is printed once, on stdout",
        file=sys.stderr,
    )
    print(token, flush=True)
    return 0


async def _list(settings: Settings, everything: bool) -> int:
    with database_dsn(settings) as dsn:
        async with open_pool(dsn) as pool:
            if everything:
                rows = await list_tokens(pool)
            else:
                now = time.time_ns() // 1000
                rows = sorted(
                    [
                        *await list_tokens(pool, role="officer", now=now),
                        *await list_tokens(pool, role="auditor", now=now),
                    ],
                    key=lambda row: (row.issued_at, row.jti),
                )
    print("jti\trole\tname\tauction\tissued\texpires\tstate")
    for row in rows:
        print(_line(row))
    return 0


async def _revoke(settings: Settings, jti: str, by: str) -> int:
    with database_dsn(settings) as dsn:
        async with open_pool(dsn) as pool:
            row = await PostgresTokenStore(pool).revoke(jti, at=time.time_ns() // 1000, by=by)
    if row is None:
        raise CliRefusal(f"no token with jti {jti!r} was ever recorded here")
    print(_line(row))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gavel officer",
        description="Officer credentials from the server's signing key, on its database"
        " (DATABASE_URL or the embedded one), while the server runs or not.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="the server's data directory (./var)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add = commands.add_parser(
        "add",
        parents=[common],
        help="mint and record an officer token; print it once on stdout",
        description="Mint an officer token bound to no auction, record it (listed,"
        " revocable) and print it once on stdout.",
    )
    add.add_argument("--name", default="officer", help="who holds it (the token's sub)")
    add.add_argument(
        "--role",
        choices=("officer", "auditor"),
        default="officer",
        help="officer (default), or auditor: reads and exports every trail, changes nothing",
    )
    add.add_argument(
        "--ttl",
        type=parse_duration,
        default=DEFAULT_TTL_S,
        metavar="DURATION",
        help="lifetime: seconds or 90m, 12h, 30d (default 7d)",
    )
    listing = commands.add_parser(
        "list",
        parents=[common],
        help="list the active officer and auditor tokens",
        description="List recorded tokens.",
    )
    listing.add_argument(
        "--all", action="store_true", help="every token of any role, expired and revoked too"
    )
    revoke = commands.add_parser(
        "revoke",
        parents=[common],
        help="revoke a token by its jti",
        description="Revoke a token by its jti.",
    )
    revoke.add_argument(
        "jti",
        help="the token's id; one beginning with '-' (minted before it was ruled out) after '--'",
    )
    revoke.add_argument("--by", default="operator", help="recorded as who revoked it")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``gavel officer`` with ``argv``; the exit status (see the module docstring)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        settings = Settings.from_env(data_dir=args.data_dir)
        if args.command == "add":
            if not args.name.strip():
                raise CliRefusal("--name must not be empty")
            role = auth.Role(args.role)
            return asyncio.run(_add(settings, signing_key(settings), args.name, args.ttl, role))
        if args.command == "list":
            return asyncio.run(_list(settings, args.all))
        return asyncio.run(_revoke(settings, args.jti, args.by))
    except (CliRefusal, StorageError) as error:
        print(f"gavel officer: {str(error).strip().splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
