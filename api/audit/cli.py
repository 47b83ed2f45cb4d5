"""``gavel audit …``: export an auction's bundle, verify it offline, replay it for people.

Subcommands (``gavel audit SUBCOMMAND --help`` for the details):

- ``export AUCTION -o BUNDLE (--url URL --token TOKEN | --database-url URL) [--tender]``
  writes the auction's bundle (:mod:`api.audit.bundle`): from a running server (``GET
  /api/v1/auctions/{id}/export``, an officer's or auditor's token), or straight from the
  database, signing a fresh checkpoint with the server's key (``GAVEL_SIGNING_KEY``, or
  ``signing-key.pem`` under ``--data-dir``; never created here). With ``--tender`` the
  id is a tender's (``GET /api/v1/audit/tenders/{id}/export``, a committee officer's or
  auditor's token), and the bundle holds the opened envelopes' ciphertexts too.
- ``verify BUNDLE [--key VERIFIER_KEY]`` checks the bundle with no database and no
  network: signatures, the stream the checkpoints' origin names, the Merkle tree and
  every checkpoint, the engine's replay, the result and every manifest field. An edited
  event is named: ``event seq N (Type) does not match the signed log``. ``--key`` pins
  the server's published verifier key (``GET /api/v1/audit/key``); without it the
  bundle's own keys are trusted, which proves integrity but not origin, and a line says
  so.
- ``ocds BUNDLE [-o FILE]`` verifies the bundle, then writes its Open Contracting Data
  Standard release package (:mod:`api.audit.ocds`) for the stream the checkpoints sign; a
  bundle that fails writes nothing.
- ``flags BUNDLE [--key VERIFIER_KEY] [--json]`` verifies the bundle, then prints the
  red flags of its log (:mod:`api.audit.flags`, or :mod:`api.audit.tender_flags` for a
  tender's bundle, each naming its lot), each with the seqs of the events behind it:
  prompts for review, not findings. ``--json`` prints what ``GET
  /api/v1/audit/auctions/{id}/flags`` (or ``/audit/tenders/{id}/flags``) answers.
- ``replay BUNDLE [--speed X]`` verifies the bundle while printing its story as it
  unfolds (time, event, standing), waiting between events as they happened, ``X`` times
  faster (``--speed 0``: no waiting; a quiet stretch waits at most 2 s), then the
  result.

Exit status: 0 verified (or written), 1 the bundle fails (the first failing event or
checkpoint is named on stderr as ``gavel audit: REASON``) or the export failed, 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from api.access import auth
from api.auctions.story import clock, describe, result, rules_text, standing
from api.audit.bundle import BundleInvalid, Verified, load_bundle, save_bundle, verify
from api.audit.errors import AuditError
from api.audit.flags import NOTE as FLAGS_NOTE
from api.audit.flags import Flag, red_flags
from api.audit.ocds import dumps, release_package
from api.audit.tender_flags import TenderFlag, tender_red_flags
from api.audit.trail import AuditTrail, tender_trail
from api.storage import PostgresEventStore, create_pool
from api.storage.checkpoints import PostgresCheckpointStore
from contracts.checkpoint import CheckpointError, parse_verifier_key, public_key_bytes
from engine import Auction, Event
from engine.tender_records import decode_tender_event

__all__ = ["build_parser", "main"]

_EVENT_WIDTH = 70
#: A replay waits at most this long between two events: quiet hours are skipped.
_LONGEST_WAIT_S = 2.0


class AuditFailed(AuditError):
    """A step failed; ``str(error)`` is the message for stderr."""


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run ``gavel audit`` with ``argv``; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace, TextIO], int] | None = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return run(args, out or sys.stdout)
    except (AuditFailed, BundleInvalid) as error:
        sys.stderr.write(f"gavel audit: {error}\n")
        return 1


def build_parser() -> argparse.ArgumentParser:
    """The ``gavel audit`` command line."""
    parser = argparse.ArgumentParser(
        prog="gavel audit", description="The auditor's trail: export, verify, replay, red flags."
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    export = commands.add_parser("export", help="write an auction's audit bundle")
    export.add_argument("auction", help="the auction id (with --tender: the tender id)")
    export.add_argument("--tender", action="store_true", help="export a tender's log")
    export.add_argument("-o", "--out", required=True, type=Path, help="the bundle file")
    export.add_argument("--url", help="the server, e.g. http://127.0.0.1:8000")
    export.add_argument("--token", help="an officer's or auditor's token (with --url)")
    export.add_argument("--database-url", help="read the database directly (default: DATABASE_URL)")
    export.add_argument(
        "--data-dir", type=Path, default=None, help="where the server's signing-key.pem is"
    )
    export.set_defaults(run=_export)

    check = commands.add_parser("verify", help="verify a bundle offline")
    check.add_argument("bundle", type=Path)
    check.add_argument("--key", help="the server's verifier key (name+id+key) to require")
    check.set_defaults(run=_verify)

    replay = commands.add_parser("replay", help="print a bundle's story as it unfolds")
    replay.add_argument("bundle", type=Path)
    replay.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        help="times faster than it happened; 0 prints without waiting (default: 1)",
    )
    replay.add_argument("--key", help="the server's verifier key (name+id+key) to require")
    replay.set_defaults(run=_replay)

    flags = commands.add_parser("flags", help="verify a bundle, then print its red flags")
    flags.add_argument("bundle", type=Path)
    flags.add_argument("--key", help="the server's verifier key (name+id+key) to require")
    flags.add_argument("--json", action="store_true", help="print the flags as JSON")
    flags.set_defaults(run=_flags)

    ocds = commands.add_parser("ocds", help="verify a bundle, then write its OCDS package")
    ocds.add_argument("bundle", type=Path)
    ocds.add_argument("-o", "--out", type=Path, help="the package file (default: stdout)")
    ocds.add_argument("--key", help="the server's verifier key (name+id+key) to require")
    ocds.add_argument("--ocid-prefix", default="ocds-gavel0", help="the publisher's prefix")
    ocds.add_argument("--publisher", default="Gavel", help="the publisher's name")
    ocds.set_defaults(run=_ocds)
    return parser


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a finite number >= 0")
    return value


# ---------------------------------------------------------------------------- export


def _export(args: argparse.Namespace, out: TextIO) -> int:
    if args.url:
        if not args.token:
            raise AuditFailed("--url needs --token (an officer's or auditor's token)")
        bundle = _fetch(args.url, args.token, args.auction, tender=args.tender)
    else:
        dsn = args.database_url or os.environ.get("DATABASE_URL")
        if not dsn:
            raise AuditFailed("give --url and --token, or --database-url (or DATABASE_URL)")
        bundle = asyncio.run(_from_database(dsn, args.auction, args.data_dir, args.tender))
    save_bundle(bundle, args.out)
    out.write(
        f"wrote {args.out}: {len(bundle['events'])} events, "
        f"{len(bundle['checkpoints'])} checkpoints\n"
    )
    return 0


def _fetch(url: str, token: str, auction_id: str, *, tender: bool = False) -> dict[str, Any]:
    quoted = urllib.parse.quote(auction_id, safe="")
    path = f"audit/tenders/{quoted}" if tender else f"auctions/{quoted}"
    request = urllib.request.Request(
        f"{url.rstrip('/')}/api/v1/{path}/export",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            data: dict[str, Any] = json.load(response)
            return data
    except urllib.error.HTTPError as error:
        try:
            detail = json.load(error)
            why = f"{detail.get('code')}: {detail.get('detail')}"
        except ValueError:
            why = error.reason
        raise AuditFailed(f"the server refused the export ({error.code} {why})") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise AuditFailed(f"cannot export from {url}: {error}") from None


async def _from_database(
    dsn: str, auction_id: str, data_dir: Path | None, tender: bool = False
) -> dict[str, Any]:

    key = auth.signing_key_from_env()
    if key is None:
        path = (data_dir or Path(os.environ.get("GAVEL_DATA_DIR", "var"))) / "signing-key.pem"
        if not path.exists():
            raise AuditFailed(f"no GAVEL_SIGNING_KEY and no {path}: the server's key is needed")
        key = auth.load_or_create_signing_key(path)
    try:
        pool = await create_pool(dsn, min_size=1, max_size=2)
    except (OSError, Exception) as error:  # asyncpg raises many kinds
        raise AuditFailed(f"cannot connect to the database: {error}") from None
    try:
        prefix = os.environ.get("GAVEL_AUDIT_PREFIX") or "gavel"
        if tender:
            trail = tender_trail(pool, key, prefix=prefix)
        else:
            trail = AuditTrail(
                PostgresEventStore(pool), key, PostgresCheckpointStore(pool), prefix=prefix
            )
        if (await trail.tree(auction_id)).size == 0:
            noun = "tender" if tender else "auction"
            raise AuditFailed(f"no {noun} {auction_id!r} in the database")
        return await trail.bundle(auction_id)
    finally:
        await pool.close()


# ---------------------------------------------------------------------------- verify


def _pinned(bundle: dict[str, Any], key: str | None, out: TextIO) -> None:
    """Keep only the pinned key in ``bundle`` (it must be there); or say what is trusted."""
    keys = bundle.get("keys")
    if key is None:
        names = [k.get("verifier_key") for k in keys or [] if isinstance(k, dict)]
        out.write(f"trusting the bundle's own keys: {', '.join(map(str, names))}\n")
        return
    try:
        name, public = parse_verifier_key(key)
    except CheckpointError as error:
        raise AuditFailed(f"--key: {error}") from None
    wanted = public_key_bytes(public)
    for entry in keys or []:
        try:
            found = parse_verifier_key(str(entry.get("verifier_key")))
        except (CheckpointError, AttributeError):
            continue
        if found[0] == name and public_key_bytes(found[1]) == wanted:
            bundle["keys"] = [entry]
            return
    raise BundleInvalid(f"the bundle is not signed by the pinned key {key}")


def _verify(args: argparse.Namespace, out: TextIO) -> int:
    bundle = load_bundle(args.bundle)
    _pinned(bundle, args.key, out)
    verified = verify(bundle)
    _summary(verified, out)
    return 0


def _summary(verified: Verified, out: TextIO) -> None:
    envelopes = (
        f", {verified.envelopes} opened envelopes match their commitments"
        if verified.envelopes
        else ""
    )
    out.write(
        f"verified: {verified.kind} {verified.stream_id} (log {verified.origin}), "
        f"{verified.events} events, {verified.checkpoints} checkpoints, "
        f"root {verified.root.hex()}, result {verified.result}{envelopes}\n"
    )


def _auction_only(bundle: dict[str, Any], what: str) -> None:
    stream = bundle.get("stream")
    if isinstance(stream, dict) and stream.get("kind") == "tender":
        raise AuditFailed(f"{what} is for auction bundles; check a tender's with verify")


# ---------------------------------------------------------------------------- replay


def _replay(args: argparse.Namespace, out: TextIO) -> int:

    bundle = load_bundle(args.bundle)
    _auction_only(bundle, "replay")
    _pinned(bundle, args.key, out)
    speed: float = args.speed
    shown: dict[str, Any] = {"standing": "", "at": None}

    def step(event: Event, auction: Auction) -> None:
        rules = auction.rules
        assert rules is not None
        if shown["at"] is None:
            out.write(f"   rules: {rules_text(rules)}\n\n")
            out.write(f"   {'time':<14} {'event':<{_EVENT_WIDTH}} standing\n")
        elif speed > 0:
            gap = min(_LONGEST_WAIT_S, (event.at - int(shown["at"] or 0)) / 1_000_000 / speed)
            if gap > 0:
                out.flush()
                time.sleep(gap)
        shown["at"] = event.at
        line = f"   {clock(event.at, rules.starts_at)}  {describe(event, auction)}"
        now = standing(auction)
        if now != shown["standing"]:
            line = f"{line:<{_EVENT_WIDTH + 19}} {now}"
            shown["standing"] = now
        out.write(line.rstrip() + "\n")

    auction_box: list[Auction] = []

    def keep(event: Event, auction: Auction) -> None:
        if not auction_box:
            auction_box.append(auction)
        step(event, auction)

    verified = verify(bundle, on_event=keep)
    out.write("\n")
    if auction_box:
        for line in result(auction_box[0]):
            out.write(f"   {line}\n")
    _summary(verified, out)
    return 0


# ----------------------------------------------------------------------------- flags


def _flags(args: argparse.Namespace, out: TextIO) -> int:
    bundle = load_bundle(args.bundle)
    _pinned(bundle, args.key, sys.stderr)
    events: list[Event] = []
    verified = verify(bundle, on_event=lambda event, _: events.append(event))
    found: Sequence[Flag | TenderFlag]
    if verified.kind == "tender":
        # verify() has checked every event text against the signed log: decode those.
        found = tender_red_flags([decode_tender_event(text.encode()) for text in bundle["events"]])
    else:
        found = red_flags(events)
    if args.json:
        body = {
            f"{verified.kind}_id": verified.stream_id,
            "flags": [flag.to_json() for flag in found],
            "note": FLAGS_NOTE,
        }
        out.write(json.dumps(body, indent=1) + "\n")
        return 0
    out.write(f"{len(found)} red flags in {verified.kind} {verified.stream_id} ({FLAGS_NOTE})\n")
    for flag in found:
        seqs = ", ".join(map(str, flag.seqs))
        out.write(f"   {flag.code}: {flag.summary} (events {seqs})\n")
    return 0


# ------------------------------------------------------------------------------ ocds


def _ocds(args: argparse.Namespace, out: TextIO) -> int:

    bundle = load_bundle(args.bundle)
    _pinned(bundle, args.key, sys.stderr)
    verified = verify(bundle)  # raises before anything is written
    # The release is named after what the signatures bind, not after a field of the
    # file (verify has checked they agree; this keeps it so if the reading ever drifts).
    signed = {**bundle, "stream": {"kind": verified.kind, "id": verified.stream_id}}
    text = dumps(
        release_package(signed, ocid_prefix=args.ocid_prefix, publisher=args.publisher),
        indent=1,
    )
    if args.out is None:
        out.write(text + "\n")
    else:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0
