"""Price against time of one auction, drawn from its event log: ``gavel sim --plot``.

:func:`price_plot` reads the canonical event dicts an officer gets from
``GET /api/v1/auctions/{id}/events`` (either the bare dicts or that endpoint's items,
``{"seq", "server_time", "event"}``) and writes a PNG: each bidder's accepted bids as a
step line with markers (hollow for bids its proxy made; a withdrawal ends the line), a
multi-round bidder's initial offer at the start and its passes as crosses, the Dutch
clock as a line, a dashed line at each soft-close extension, shaded bands for rounds, the
start and reserve prices, the end, and the winner emphasised with its price.

matplotlib is imported inside :func:`price_plot` (the Agg backend, through its object API:
no pyplot, no global state, no display), so importing this module costs nothing and the
server never needs matplotlib. O(events) to read; drawing is matplotlib's.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from math import nan
from typing import Any

__all__ = ["PlotData", "plot_data", "price_plot"]

_SECOND = 1_000_000


@dataclass(slots=True)
class PlotData:
    """What the plot shows, read from the events; times are microseconds, amounts minor
    units (the drawing converts)."""

    currency: str = ""
    started_at: int | None = None
    ended_at: int | None = None
    #: The end the auction started with (a soft close moves the real one).
    scheduled_end: int | None = None
    start_price: int | None = None
    reserve_price: int | None = None
    #: bidder -> [(at, price, by_proxy)] of its accepted bids, in order; a price of
    #: ``None`` is a withdrawal (the line stops there).
    bids: dict[str, list[tuple[int, int | None, bool]]] = field(default_factory=dict)
    #: bidder -> its multi-round initial offer.
    initial: dict[str, int] = field(default_factory=dict)
    #: (at, bidder, standing price) of each passed multi-round turn.
    passes: list[tuple[int, str, int | None]] = field(default_factory=list)
    #: (at, price) of each Dutch clock price.
    clock: list[tuple[int, int]] = field(default_factory=list)
    #: (at, new end) of each soft-close extension.
    extensions: list[tuple[int, int]] = field(default_factory=list)
    #: round -> (started_at, ended_at or None).
    rounds: dict[int, tuple[int, int | None]] = field(default_factory=dict)
    winners: tuple[str, ...] = ()
    price: int | None = None
    outcome: str | None = None


def _unwrap(item: Mapping[str, Any]) -> Mapping[str, Any]:
    inner = item.get("event")
    return inner if isinstance(inner, Mapping) else item


def plot_data(events: Iterable[Mapping[str, Any]]) -> PlotData:
    """Read ``events`` (canonical dicts, in log order) into :class:`PlotData`. O(events);
    unknown and hidden events are skipped."""
    data = PlotData()
    for item in events:
        event = _unwrap(item)
        kind, at = event.get("type"), event.get("at")
        if not isinstance(at, int):
            continue
        if kind == "AuctionCreated":
            rules = event.get("rules") or {}
            data.currency = str(rules.get("currency", ""))
            data.start_price = rules.get("start_price")
            data.reserve_price = rules.get("reserve_price")
            if data.started_at is None and isinstance(rules.get("starts_at"), int):
                data.started_at = rules["starts_at"]
        elif kind == "AuctionStarted":
            data.started_at = at
            if isinstance(event.get("ends_at"), int):
                data.scheduled_end = event["ends_at"]
        elif kind == "BidderRegistered" and isinstance(event.get("initial_bid"), int):
            data.initial[event["bidder"]] = event["initial_bid"]
        elif kind == "BidAccepted" and isinstance(event.get("price"), int):
            mine = data.bids.setdefault(str(event["bidder"]), [])
            mine.append((at, event["price"], bool(event.get("proxy"))))
        elif kind == "BidWithdrawn" and event.get("bidder") in data.bids:
            data.bids[str(event["bidder"])].append((at, None, False))
        elif kind == "TurnEnded" and event.get("passed"):
            data.passes.append((at, str(event["bidder"]), event.get("price")))
        elif kind == "PriceChanged":
            data.clock.append((at, event["price"]))
        elif kind == "EndExtended":
            data.extensions.append((at, event["ends_at"]))
        elif kind == "RoundStarted":
            data.rounds[event["round"]] = (at, None)
        elif kind == "RoundEnded" and event.get("round") in data.rounds:
            data.rounds[event["round"]] = (data.rounds[event["round"]][0], at)
        elif kind == "AuctionEnded":
            data.ended_at = at
            data.winners = tuple(event.get("winners") or ())
            data.price = event.get("price")
            data.outcome = event.get("outcome")
    return data


def price_plot(
    events: list[dict[str, Any]],
    path: pathlib.Path,
    *,
    title: str,
    currency_exponent: int = 2,
) -> None:
    """Write the price-against-time PNG of one auction's ``events`` to ``path``.

    ``currency_exponent``: the currency's minor-unit digits (2 for EUR, 0 for JPY).
    Raises ``ImportError`` when matplotlib is not installed (``pip install -e .[dev]``).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    data = plot_data(events)
    origin = data.started_at
    if origin is None:
        times = [_unwrap(e).get("at") for e in events]
        origin = min((t for t in times if isinstance(t, int)), default=0)

    def x(at: int) -> float:
        return (at - origin) / _SECOND

    def major(minor: int) -> Decimal:
        return Decimal(minor).scaleb(-currency_exponent)

    # Amounts become floats only here, as matplotlib's coordinates; every amount a person
    # reads (the winner's price, the start and reserve labels) is written from the Decimal.
    def y(minor: int) -> float:
        return float(major(minor))

    currency = data.currency or "minor units"
    figure = Figure(figsize=(10, 5.6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.set_title(title)
    ax.set_xlabel("time from the start (s)")
    ax.set_ylabel(f"price ({currency})")
    ax.yaxis.set_major_formatter(
        FuncFormatter(lambda value, _: f"{value:,.{max(currency_exponent, 0)}f}")
    )
    ax.grid(True, color="#dddddd", linewidth=0.6)

    for number, (begun, over) in sorted(data.rounds.items()):
        end = over if over is not None else data.ended_at
        if end is None:
            continue
        ax.axvspan(x(begun), x(end), color="#4c72b0", alpha=0.07 if number % 2 else 0.13, lw=0)
        ax.annotate(
            f"round {number}",
            xy=(x(begun), 1),
            xycoords=("data", "axes fraction"),
            xytext=(3, -12),
            textcoords="offset points",
            fontsize=8,
            color="#4c72b0",
        )

    for price, words, style in (
        (data.start_price, "start price", ":"),
        (data.reserve_price, "reserve price", "-."),
    ):
        if price is not None and not data.clock:
            ax.axhline(y(price), color="#888888", linestyle=style, linewidth=0.9)
            ax.annotate(
                f"{words} {major(price)}",
                xy=(0, y(price)),
                xycoords=("axes fraction", "data"),
                xytext=(3, 2),
                textcoords="offset points",
                fontsize=8,
                color="#666666",
            )

    if data.clock:
        end = data.ended_at if data.ended_at is not None else data.clock[-1][0]
        steps = [*data.clock, (end, data.clock[-1][1])]
        ax.step(
            [x(at) for at, _ in steps],
            [y(price) for _, price in steps],
            where="post",
            color="#999999",
            linewidth=2.2,
            label="Dutch clock",
        )

    for number, (at, ends_at) in enumerate(data.extensions):
        ax.axvline(
            x(at),
            color="#dd8452",
            linestyle="--",
            linewidth=1,
            label="soft-close extension" if number == 0 else None,
        )
        ax.annotate(
            f"end → {x(ends_at):g} s",
            xy=(x(at), 0),
            xycoords=("data", "axes fraction"),
            xytext=(2, 3),
            textcoords="offset points",
            rotation=90,
            fontsize=7,
            color="#dd8452",
        )

    colours = ["#4c72b0", "#55a868", "#c44e52", "#8172b2", "#937860", "#da8bc3", "#8c8c8c"]
    names = sorted(set(data.bids) | set(data.initial) | {b for _, b, _ in data.passes})
    for index, name in enumerate(names):
        colour = colours[index % len(colours)]
        won = name in data.winners
        points: list[tuple[int, int | None, bool]] = []
        if name in data.initial:
            points.append((origin, data.initial[name], False))
        points += data.bids.get(name, [])
        label = f"{name} (winner)" if won else name
        if points:
            line_end = data.ended_at if data.ended_at is not None else points[-1][0]
            xs = [x(at) for at, _, _ in points] + [x(max(line_end, points[-1][0]))]
            # A withdrawal is a gap (NaN: matplotlib draws no line through it).
            ys = [nan if price is None else y(price) for _, price, _ in points]
            ys.append(ys[-1])
            ax.step(
                xs,
                ys,
                where="post",
                color=colour,
                linewidth=2.6 if won else 1.1,
                alpha=1 if won else 0.8,
                label=label,
                zorder=3 if won else 2,
            )
            for at, price, by_proxy in points:
                if price is None:
                    continue
                ax.plot(
                    x(at),
                    y(price),
                    marker="o",
                    markersize=7 if won else 5,
                    markerfacecolor="white" if by_proxy else colour,
                    markeredgecolor=colour,
                    zorder=4,
                )
        for at, who, price in data.passes:
            if who == name and price is not None:
                ax.plot(x(at), y(price), marker="x", markersize=8, color=colour, zorder=4)

    if any(p for marks in data.bids.values() for _, _, p in marks):
        ax.plot([], [], marker="o", linestyle="", markerfacecolor="white", color="#444444",
                label="bid by proxy")  # fmt: skip
    if data.passes:
        ax.plot([], [], marker="x", linestyle="", color="#444444", label="passed turn")

    if data.scheduled_end is not None and data.scheduled_end != data.ended_at:
        ax.axvline(
            x(data.scheduled_end), color="#222222", linestyle=":", lw=1, label="scheduled end"
        )
    if data.ended_at is not None:
        ax.axvline(x(data.ended_at), color="#222222", linewidth=1.2, label="end")
        if data.price is not None and data.winners:
            words = f"{', '.join(data.winners)} wins at {major(data.price)} {currency}"
            ax.annotate(
                words,
                xy=(x(data.ended_at), y(data.price)),
                xytext=(-14, 16),
                textcoords="offset points",
                ha="right",
                fontsize=10,
                fontweight="bold",
                bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "#bbbbbb", "alpha": 0.9},
                zorder=6,
                arrowprops={"arrowstyle": "-", "color": "#222222", "lw": 0.8},
            )
            ax.plot(
                x(data.ended_at), y(data.price), marker="*", markersize=16, color="#f0b400",
                markeredgecolor="#222222", zorder=5,
            )  # fmt: skip
        elif data.outcome:
            ax.set_title(f"{title} (no award: {data.outcome})")

    ax.margins(x=0.04, y=0.12)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8, framealpha=0.9)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
