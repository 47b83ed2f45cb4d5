"""``gavel cluster …``: a local cluster on one machine, for a newcomer to try failover by hand.

``gavel cluster up --nodes 3 [--base-port 8001] [--host 127.0.0.1] [--demo]`` starts the
embedded PostgreSQL (unless ``DATABASE_URL``), a ``nats-server`` from the wheel (unless
``NATS_URL``) and N nodes of ``gavel serve`` on ports ``base .. base+N-1``, prints one
line per node (``node-1  http://127.0.0.1:8001  pid 1234``), the NATS URL, the database
and how to try failover, and runs until Ctrl-C, which stops all of it. A node that dies
is reported, not restarted. Everything else is :mod:`api.cluster.launch`.

Call order: :func:`main` parses, checks the ports are free (one line and status 1 if
not), then :func:`api.cluster.launch.run`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from api.cluster.launch import LaunchError, check_ports_free, cluster_plan, run
from api.logs import configure_logging
from api.settings import Settings

__all__ = ["build_parser", "main"]

#: The first node's port unless ``--base-port`` says otherwise (8000 is ``gavel serve``'s).
BASE_PORT = 8001


def build_parser() -> argparse.ArgumentParser:
    """``gavel cluster`` and its one subcommand, ``up``."""
    parser = argparse.ArgumentParser(
        prog="gavel cluster", description="A local cluster of Gavel nodes on this machine."
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command")
    up = commands.add_parser(
        "up",
        help="start PostgreSQL, NATS and N nodes here; Ctrl-C stops all",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    up.add_argument("--nodes", type=_positive, default=3, help="how many nodes (default 3)")
    up.add_argument(
        "--base-port", type=int, default=BASE_PORT, help=f"the first node's port ({BASE_PORT})"
    )
    up.add_argument("--host", help="address the nodes listen on (GAVEL_HOST; 127.0.0.1)")
    up.add_argument(
        "--data-dir", type=Path, help="embedded database, NATS store, key (GAVEL_DATA_DIR)"
    )
    up.add_argument("--database-url", help="PostgreSQL URL (DATABASE_URL; unset: embedded)")
    up.add_argument(
        "--demo", action="store_true", default=None, help="node-1 seeds a live demo auction"
    )
    up.add_argument("--log-level", help="the nodes' DEBUG, INFO or WARNING")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gavel cluster`` with ``argv``; the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "up":
        parser.print_help()
        return 2
    settings = Settings.from_env(
        host=args.host,
        data_dir=args.data_dir,
        database_url=args.database_url,
        demo=args.demo,
        log_level=args.log_level,
    )
    plan = cluster_plan(settings, args.nodes, args.base_port)
    try:
        check_ports_free(settings.host, [node.port for node in plan.nodes])
    except LaunchError as error:
        print(f"gavel cluster up: {error}", file=sys.stderr)
        return 1
    configure_logging(settings.log_level)
    return run(plan)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value
