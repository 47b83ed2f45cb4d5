"""The scenarios' own Locust options (``--gavel-*``), shown in ``locust --help`` and the web UI.

:func:`add_options` is registered on ``events.init_command_line_parser`` by the
locustfile; :func:`options_of` reads them back from a user's environment (the defaults
when Locust runs without a parsed command line, as in a library call). Defaults model a
real run of a few minutes; the smoke tests pass seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from locust.env import Environment

__all__ = ["Options", "add_options", "options_of"]


@dataclass(frozen=True, slots=True)
class Options:
    """What shapes the scenarios (seconds unless said otherwise)."""

    #: Auctions the steady bidders spread over; auctions of each closing-storm wave.
    auctions: int = 100
    #: Seconds from the first user's start to the first wave's close (closing storm,
    #: tender deadline rush); the next waves follow this far apart.
    close_in: float = 60.0
    #: A closing-storm wave's ends are spread evenly over this many seconds.
    close_spread: float = 20.0
    #: The soft close: a bid within this many seconds of the end moves it this much later
    #: (hard close six windows after the scheduled end).
    soft_close: float = 10.0
    #: Most bidders and suppliers act in this many seconds before a close or deadline.
    rush: float = 30.0
    #: Tenders of each deadline-rush wave.
    tenders: int = 5
    #: Reconnect storm: every socket is dropped and resumed this often, all at once.
    drop_every: float = 30.0
    #: A request without an answer after this many seconds is a lost acknowledgement.
    ack_timeout: float = 10.0
    #: Mean seconds a steady bidder thinks between two bids.
    think: float = 2.0


_HELP = {
    "auctions": "auctions of the steady scenario; of each closing-storm wave",
    "close_in": "seconds to the first close/deadline (storm, tender rush), then between waves",
    "close_spread": "seconds over which a closing-storm wave's ends are spread",
    "soft_close": "soft-close window and extension, seconds",
    "rush": "seconds before a close/deadline in which most bidders/suppliers act",
    "tenders": "tenders of each deadline-rush wave",
    "drop_every": "reconnect storm: seconds between drops of every socket",
    "ack_timeout": "seconds after which an unanswered request is a lost acknowledgement",
    "think": "mean seconds between a steady bidder's bids",
}


def add_options(parser: Any) -> None:
    """Add ``--gavel-<name>`` for every :class:`Options` field to Locust's ``parser``."""
    for field in fields(Options):
        default = field.default
        parser.add_argument(
            f"--gavel-{field.name.replace('_', '-')}",
            type=type(default),
            default=default,
            help=_HELP[field.name],
            include_in_web_ui=True,
        )


def options_of(environment: Environment) -> Options:
    """The options of this run (defaults for any Locust did not parse)."""
    parsed = environment.parsed_options
    if parsed is None:
        return Options()
    values: dict[str, Any] = {
        field.name: getattr(parsed, f"gavel_{field.name}", field.default)
        for field in fields(Options)
    }
    return Options(**values)
