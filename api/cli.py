"""The ``gavel`` console command: one entry point, one small function per subcommand.

``main(argv)`` parses the command line and calls the chosen subcommand's ``run(args)``,
whose return value is the exit status. ``python -m api.cli …`` is the same as ``gavel …``.

Adding a subcommand (``tender …``, ``audit …``): write an ``_add_<name>(commands)``
function that adds its parser to ``commands`` and sets ``run`` with ``set_defaults``, then
list it in :data:`_SUBCOMMANDS`. Keep the work itself in the package it belongs to (the
demo in ``bidders_sim/`` and ``api/auctions/story.py``, the benchmark in ``loadtests/``) and import
it inside ``run``, so one subcommand's dependencies never load for another. A module that
parses its own arguments (``main(argv) -> int``) is registered in one line with
:func:`_add_forwarding`, as ``serve`` and ``bench service`` are.

Subcommands today:

- ``gavel serve …`` runs the server (:func:`api.http.server.main` parses its flags).
- ``gavel edge …`` runs a read-only edge for watchers (:func:`api.live.edge.main`).
- ``gavel demo`` plays a scripted auction of every format and prints its story and result.
- ``gavel bench engine [--json] [--commands N] [--bidders N] [--format NAME …] [--seed S]``
  measures the engine (see :mod:`loadtests.bench_engine`).
- ``gavel bench service …`` loads the live service (:func:`loadtests.bench_service.run`).
- ``gavel bench audit [--json] [--events N]`` times ``gavel audit verify`` on a generated
  bundle (:mod:`loadtests.bench_audit`).
- ``gavel bench snapshot [--json] [--events N]`` times taking and restoring a snapshot
  against decoding and replaying the log (:mod:`loadtests.bench_snapshot`).
- ``gavel bench loopback [--json] …`` measures what one small loopback TCP write costs
  this machine's kernel, the floor under the crowd's fan-out
  (:mod:`loadtests.bench_loopback`).
- ``gavel bench sockets [--json] [--sockets N] [--cycles K] …`` opens and closes
  storms of idle websockets against a server and reports its memory per socket and
  whether what stays is a leak (:mod:`loadtests.bench_sockets`).
- ``gavel tender …`` does the sealed-tender steps offline: officer keys, the key ceremony,
  sealing, receipts and the opening (:mod:`api.tenders.cli`).
- ``gavel audit …`` exports an auction's audit bundle, verifies it offline and replays
  it (:mod:`api.audit.cli`).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from bidders_sim.scripted import Scenario

__all__ = ["main", "build_parser"]

#: The width of the event column in the demo; the standing follows it.
_EVENT_WIDTH = 70


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gavel`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "forward", False):
        args.parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if run is None:
        # A group such as ``gavel`` or ``gavel bench`` without its subcommand.
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


def build_parser() -> argparse.ArgumentParser:
    """The whole ``gavel`` command line, every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="gavel",
        description="Gavel: an e-procurement and e-auction engine.",
    )
    parser.set_defaults(parser=parser)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in _SUBCOMMANDS:
        add(commands)
    return parser


# ------------------------------------------------------------------------ forwarding


def _add_forwarding(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    target: str,
    help: str,
) -> None:
    """Register ``name`` as a subcommand whose own module parses the rest of the line.

    ``target`` is ``"module:function"``; the function takes the arguments after ``name``
    (``list[str]``) and returns the exit status. The module is imported only when the
    subcommand runs, so its dependencies (Sanic, asyncpg, …) never slow other subcommands,
    and ``gavel NAME --help`` is answered by the module's own parser.
    """
    parser = commands.add_parser(name, help=help, add_help=False)
    parser.set_defaults(run=functools.partial(_run_forwarded, target), parser=parser, forward=True)


def _run_forwarded(target: str, args: argparse.Namespace) -> int:
    module_name, _, function = target.partition(":")
    module = importlib.import_module(module_name)
    status = getattr(module, function)(list(args.rest))
    return int(status or 0)


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_forwarding(commands, "serve", "api.http.server:main", "run the live auction server")


def _add_edge(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_forwarding(
        commands,
        "edge",
        "api.live.edge:main",
        "a read-only edge: watchers' websockets off the core",
    )


def _add_tender(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_forwarding(
        commands, "tender", "api.tenders.cli:main", "sealed tenders: keys, sealing, receipts"
    )


def _add_audit(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_forwarding(
        commands, "audit", "api.audit.cli:main", "the auditor's trail: export, verify, replay"
    )


# ----------------------------------------------------------------------------- demo


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "demo",
        help="play a sample auction of every format and print its story",
        description="Play a scripted auction of every format through the engine and "
        "print, for each, its story as it unfolds and its result.",
    )
    parser.set_defaults(run=_run_demo, parser=parser)


def _run_demo(args: argparse.Namespace) -> int:
    from bidders_sim.scripted import scenarios

    out = sys.stdout
    every = scenarios()
    for number, scenario in enumerate(every, 1):
        if number > 1:
            out.write("\n")
        _print_scenario(scenario, f"{number}/{len(every)}", out)
    return 0


def _print_scenario(scenario: Scenario, number: str, out: TextIO) -> None:
    """Play ``scenario`` and print its story line by line, then its result."""
    from api.auctions.story import clock, describe, result, rules_text, standing
    from bidders_sim.scripted import play
    from engine import Auction

    heading = f"━━ {number}  {scenario.title} "
    out.write(heading + "━" * max(0, _EVENT_WIDTH + 16 - len(heading)) + "\n")
    out.write(f"   rules: {rules_text(scenario.rules)}\n")
    out.write(f"   watch: {scenario.about}\n\n")
    out.write(f"   {'time':<14} {'event':<{_EVENT_WIDTH}} standing\n")
    auction = Auction()
    origin = scenario.rules.starts_at
    shown = ""
    for _command, events in play(scenario, auction):
        now = standing(auction)
        for index, event in enumerate(events):
            text = describe(event, auction)
            line = f"   {clock(event.at, origin)}  {text}"
            if index == len(events) - 1 and now != shown:
                # The standing after the whole command, beside its last event, and only
                # when it changed, so the eye catches every change.
                line = f"{line:<{_EVENT_WIDTH + 19}} {now}"
                shown = now
            out.write(line.rstrip() + "\n")
    out.write("\n")
    for line in result(auction):
        out.write(f"   {line}\n")


# ---------------------------------------------------------------------------- bench


def _add_bench(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "bench",
        help="benchmarks",
        description="Benchmarks. Choose what to measure.",
    )
    parser.set_defaults(parser=parser)
    targets = parser.add_subparsers(title="targets", metavar="TARGET")
    _add_bench_engine(targets)
    _add_forwarding(
        targets,
        "service",
        "loadtests.bench_service:run",
        "the live service under load over real websockets",
    )
    _add_forwarding(
        targets, "audit", "loadtests.bench_audit:main", "offline verification of a large bundle"
    )
    _add_forwarding(
        targets,
        "snapshot",
        "loadtests.bench_snapshot:main",
        "snapshot cost against a replay of the whole log",
    )
    _add_forwarding(
        targets,
        "loopback",
        "loadtests.bench_loopback:main",
        "what one small loopback socket write costs on this machine",
    )
    _add_forwarding(
        targets,
        "sockets",
        "loadtests.bench_sockets:main",
        "the server's memory through storms of idle websockets: per socket, leak or not",
    )


def _add_bench_engine(targets: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from loadtests.bench_engine import DEFAULT_BIDDERS, DEFAULT_COMMANDS, FORMATS

    parser = targets.add_parser(
        "engine",
        help="commands per second, latency and memory of the pure engine, per format",
        description="Drive the engine with seeded bid streams, one run per format, and "
        "report throughput, p50/p99 latency, peak memory and bytes per resting bid.",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object per format per line"
    )
    parser.add_argument(
        "--commands",
        type=_positive,
        default=DEFAULT_COMMANDS,
        metavar="N",
        help="commands per format, at least (default: %(default)s)",
    )
    parser.add_argument(
        "--bidders",
        type=_at_least_two,
        default=DEFAULT_BIDDERS,
        metavar="N",
        help="bidders per auction (default: %(default)s)",
    )
    parser.add_argument(
        "--format",
        dest="formats",
        action="extend",
        nargs="+",
        choices=FORMATS,
        metavar="NAME",
        help=f"formats to run, any of {', '.join(FORMATS)} (default: all)",
    )
    parser.add_argument(
        "--resting",
        type=_positive,
        default=None,
        metavar="N",
        help="resting bids for the bytes-per-resting-bid measure "
        "(default: 100000, or commands / 10 when that is smaller, at least 1000)",
    )
    parser.add_argument("--seed", type=int, default=1, metavar="S", help="random seed")
    parser.set_defaults(run=_run_bench_engine, parser=parser)


def _run_bench_engine(args: argparse.Namespace) -> int:
    from loadtests.bench_engine import FORMATS, run

    return run(
        formats=tuple(args.formats or FORMATS),
        commands=args.commands,
        bidders=args.bidders,
        seed=args.seed,
        resting=args.resting,
        as_json=args.json,
        out=sys.stdout,
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _at_least_two(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError("must be at least 2")
    return value


#: Every subcommand, in the order ``gavel --help`` lists them.
_SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    _add_serve,
    _add_edge,
    _add_demo,
    _add_bench,
    _add_tender,
    _add_audit,
)


if __name__ == "__main__":
    raise SystemExit(main())
