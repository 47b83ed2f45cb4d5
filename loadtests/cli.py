"""``gavel bench …``: every benchmark, one subcommand each.

``gavel`` finds this command through the ``gavel.commands`` entry point ``bench``
(pyproject.toml), so the server package never imports the benchmarks. Each target is a
module's ``main(argv) -> int`` (``run`` for ``service``) that parses the rest of the line,
imported only when chosen:

- ``gavel bench engine [--json] [--commands N] [--bidders N] [--format NAME …] [--seed S]``
  measures the engine (:mod:`loadtests.bench_engine`);
- ``gavel bench service …`` loads the live service (:func:`loadtests.bench_service.run`);
- ``gavel bench audit [--json] [--events N]`` times ``gavel audit verify`` on a generated
  bundle (:mod:`loadtests.bench_audit`);
- ``gavel bench snapshot [--json] [--events N]`` times taking and restoring a snapshot
  against decoding and replaying the log (:mod:`loadtests.bench_snapshot`);
- ``gavel bench loopback [--json] …`` measures what one small loopback TCP write costs
  this machine's kernel, the floor under the crowd's fan-out (:mod:`loadtests.bench_loopback`);
- ``gavel bench sockets [--json] [--sockets N] [--cycles K] …`` opens and closes storms of
  idle websockets against a server and reports its memory per socket and whether what
  stays is a leak (:mod:`loadtests.bench_sockets`);
- ``gavel bench capacity [--json] [--start-auctions N] [--edges N] [--generators G] …``
  raises the live auctions and sockets one node holds under a steady bid rate until the
  p99 acknowledgement passes 100 ms, and says which process's CPU is the limit
  (:mod:`loadtests.bench_capacity`);
- ``gavel bench compression [--json] …`` compares permessage-deflate with none for our
  frames: bytes, memory, CPU (:mod:`loadtests.bench_compression`);
- ``gavel bench fanout [--json] [--seconds S] [--subscribers N] …`` measures committed-event
  fan-out between processes over PostgreSQL LISTEN/NOTIFY against NATS: events/s, latency,
  a slow subscriber (:mod:`loadtests.bench_fanout`);
- ``gavel bench all [--json] …`` runs every benchmark, repeated, into one JSON document
  (:mod:`loadtests.bench_all`).

The storage writer's micro-benchmark (:mod:`loadtests.bench_storage`) has no subcommand:
it is a function for tests and notebooks.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from api.cli import add_forwarding, dispatch

__all__ = ["TARGETS", "build_parser", "main"]

#: Every benchmark, in the order ``gavel bench --help`` lists them: its name, the
#: ``"module:function"`` that parses and runs the rest of the line, and its help line.
TARGETS: tuple[tuple[str, str, str], ...] = (
    (
        "engine",
        "loadtests.bench_engine:main",
        "commands per second, latency and memory of the pure engine, per format",
    ),
    (
        "service",
        "loadtests.bench_service:run",
        "the live service under load over real websockets",
    ),
    ("audit", "loadtests.bench_audit:main", "offline verification of a large bundle"),
    (
        "snapshot",
        "loadtests.bench_snapshot:main",
        "snapshot cost against a replay of the whole log",
    ),
    (
        "loopback",
        "loadtests.bench_loopback:main",
        "what one small loopback socket write costs on this machine",
    ),
    (
        "sockets",
        "loadtests.bench_sockets:main",
        "the server's memory through storms of idle websockets: per socket, leak or not",
    ),
    (
        "capacity",
        "loadtests.bench_capacity:main",
        "how many live auctions and sockets one node holds at a steady bid rate",
    ),
    (
        "compression",
        "loadtests.bench_compression:main",
        "permessage-deflate against none for our frames: bytes, memory, CPU",
    ),
    (
        "fanout",
        "loadtests.bench_fanout:main",
        "committed-event fan-out between processes: LISTEN/NOTIFY against NATS",
    ),
    ("all", "loadtests.bench_all:main", "every benchmark, repeated: one JSON document"),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gavel bench`` with ``argv`` (the arguments after ``bench``); return the exit
    status. Without a target it prints the list of targets on stderr and returns 2."""
    return dispatch(build_parser(), argv)


def build_parser() -> argparse.ArgumentParser:
    """``gavel bench``'s parser: one forwarding subcommand per entry of :data:`TARGETS`."""
    parser = argparse.ArgumentParser(
        prog="gavel bench",
        description="Benchmarks. Choose what to measure.",
    )
    parser.set_defaults(parser=parser)
    targets = parser.add_subparsers(title="targets", metavar="TARGET")
    for name, target, help in TARGETS:
        add_forwarding(targets, name, target, help)
    return parser
