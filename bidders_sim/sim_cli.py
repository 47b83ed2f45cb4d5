"""``gavel sim``: simulated bidders over real websockets, against a running server or one
started for the run.

``gavel`` finds this command through the ``gavel.commands`` entry point ``sim``
(pyproject.toml). With ``--url`` it drives that server as the officer whose token is in
``--officer-token-file`` or ``GAVEL_OFFICER_TOKEN`` (``gavel officer add`` prints one);
without, it starts a server of its own (:class:`loadtests.server_process.ServerProcess`:
on ``DATABASE_URL``, else an embedded PostgreSQL in a temporary directory, rate limits
lifted), mints the officer's token with that server's key, and stops it at the end.

It makes a seeded plan (:func:`bidders_sim.plan.make_plan`), runs it
(:func:`bidders_sim.sim.simulate`) with a progress bar on stderr (rich; off with
``--quiet`` or ``--json``) and prints the summary (:mod:`bidders_sim.summary`): as text,
or as one JSON document with ``--json``. ``--plot FILE.png`` draws the price against
time of auction ``--plot-auction N`` (1-based; by default the busiest: the most
commands acknowledged, the first of equals) from its events
(:func:`bidders_sim.plot.price_plot`). Exit status: 0, or 1 with one line on stderr if
the server refused the run, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

from bidders_sim.plan import FORMAT_CHOICES, PlanError, make_plan
from bidders_sim.sim import SimError, SimResult, auction_events, simulate
from bidders_sim.strategies import FORMATS
from bidders_sim.summary import render, summarize

__all__ = ["build_parser", "main"]

#: What a server started by ``gavel sim`` runs with: no rate limit gets in the way.
_UNLIMITED = {
    name: "1000000"
    for name in (
        "GAVEL_RATE_PER_S",
        "GAVEL_RATE_BURST",
        "GAVEL_WS_RATE_PER_S",
        "GAVEL_WS_RATE_BURST",
        "GAVEL_WS_TOKEN_RATE_PER_S",
        "GAVEL_WS_TOKEN_RATE_BURST",
    )
}


def _duration(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value.is_finite() or not 1 <= value <= 86_400:
        raise argparse.ArgumentTypeError("between 1 and 86400 seconds")
    return value


def _strategies(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown strategy {unknown[0] if unknown else text!r}; "
            f"known: {', '.join(sorted(FORMATS))}"
        )
    return names


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """``gavel sim``'s parser."""
    parser = argparse.ArgumentParser(
        prog="gavel sim",
        description="Run simulated bidders over real websockets: M auctions of N bidders, "
        "seeded and reproducible, then print a summary (acks, rejects, latency, savings, "
        "winners by strategy).",
    )
    parser.add_argument(
        "--url", help="a running server (http://host:port); default: start one for the run"
    )
    parser.add_argument(
        "--officer-token-file",
        type=Path,
        help="file holding an officer's token for --url (else GAVEL_OFFICER_TOKEN)",
    )
    parser.add_argument("--auctions", type=_positive, default=4, metavar="M", help="default 4")
    parser.add_argument(
        "--bidders", type=_positive, default=4, metavar="N", help="bidders per auction (4)"
    )
    parser.add_argument(
        "--format",
        choices=FORMAT_CHOICES,
        default="mixed",
        help="every auction's format, or mixed: a seeded draw for each (default)",
    )
    parser.add_argument(
        "--strategies",
        type=_strategies,
        default=(),
        metavar="A,B,...",
        help=f"dealt to bidders in turn ({', '.join(sorted(FORMATS))}); default: a mix "
        "suited to each auction's format",
    )
    parser.add_argument("--seed", type=int, default=1, help="the one seed of the plan (1)")
    parser.add_argument(
        "--duration",
        type=_duration,
        default=Decimal(6),
        metavar="SECONDS",
        help="an auction's length before any extension (6)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="draw price against time")
    parser.add_argument(
        "--plot-auction",
        type=_positive,
        default=None,
        metavar="N",
        help="which auction (default: the one with the most acknowledged commands)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run ``gavel sim`` with ``argv``; the summary goes to ``out`` (stdout)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out = out or sys.stdout
    try:
        plan = make_plan(
            args.seed,
            auctions=args.auctions,
            bidders=args.bidders,
            format=args.format,
            strategies=args.strategies,
            duration_s=args.duration,
        )
    except PlanError as error:
        parser.error(str(error))
    if args.plot_auction is not None and args.plot_auction > args.auctions:
        parser.error("--plot-auction is past the last auction")
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        parser.error("--plot needs matplotlib (pip install -e '.[dev]')")
    if args.url:
        token = _officer_token(args.officer_token_file)
        if token is None:
            parser.error("--url needs --officer-token-file or GAVEL_OFFICER_TOKEN")
        target = _given(args.url, token)
    else:
        target = _started()
    try:
        with target as (url, token):
            with _progress(len(plan.auctions), show=not (args.quiet or args.json)) as listen:
                result = asyncio.run(simulate(plan, url, token, listener=listen))
            if args.plot:
                _plot(result, url, token, args.plot_auction, args.plot)
    except SimError as error:
        print(f"gavel sim: {error}", file=sys.stderr)
        return 1
    summary = summarize(result)
    if args.json:
        out.write(json.dumps(summary, indent=2) + "\n")
    else:
        out.write(render(summary))
        if args.plot:
            out.write(f"  plot: {args.plot}\n")
    return 0


def _officer_token(path: Path | None) -> str | None:
    if path is not None:
        return path.read_text().strip() or None
    return os.environ.get("GAVEL_OFFICER_TOKEN") or None


@contextmanager
def _given(url: str, token: str) -> Iterator[tuple[str, str]]:
    yield url.rstrip("/"), token


@contextmanager
def _started() -> Iterator[tuple[str, str]]:
    """A server of our own for the run (loadtests' ServerProcess), stopped at the end."""
    from loadtests.server_process import ServerProcess

    with tempfile.TemporaryDirectory(prefix="gavel-sim-") as work:
        process = ServerProcess(
            Path(work), database_url=os.environ.get("DATABASE_URL"), env=_UNLIMITED
        )
        print("gavel sim: starting a server ...", file=sys.stderr)
        process.start()
        try:
            yield process.url, process.token("sim-officer", "officer")
        finally:
            process.stop()


@contextmanager
def _progress(total: int, *, show: bool) -> Iterator[Callable[[str], None]]:
    """A listener for :func:`simulate` that drives a rich progress bar on stderr
    (auctions ended of ``total``, commands sent, acks, rejects); a no-op if not ``show``
    or without rich."""
    try:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )
    except ImportError:  # a server-only install: rich comes with the dev extras
        show = False
    if not show:
        yield lambda _kind: None
        return

    counts = {"sent": 0, "ack": 0, "reject": 0}
    with Progress(
        TextColumn("auctions"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task("sim", total=total, counts="")

        def listen(kind: str) -> None:
            if kind == "ended":
                bar.advance(task)
                return
            counts[kind] = counts.get(kind, 0) + 1
            text = f"sent {counts['sent']}  acks {counts['ack']}  rejects {counts['reject']}"
            bar.update(task, counts=text)

        yield listen


def busiest(result: SimResult) -> int:
    """The 1-based number of the auction whose bidders had the most commands
    acknowledged (the first of equals): the one whose plot shows the most. O(bidders)."""
    acks = [sum(bidder.acks for bidder in record.bidders) for record in result.auctions]
    return 1 + acks.index(max(acks))


def _plot(result: SimResult, url: str, token: str, number: int | None, path: Path) -> None:
    from bidders_sim.plot import price_plot

    record = result.auctions[(number or busiest(result)) - 1]
    events: list[dict[str, Any]] = asyncio.run(auction_events(url, token, record.auction_id))
    title = f"{record.auction_id} ({record.plan.format})"
    price_plot(events, path, title=title)
