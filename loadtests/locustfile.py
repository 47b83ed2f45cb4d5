"""Gavel under Locust: users that speak the real protocol, scenarios selected by tag.

Run it against a server on 127.0.0.1 started with its rate limits lifted (README, "Load
testing with Locust")::

    locust -f loadtests/locustfile.py --headless -u 500 -r 50 -t 2m \\
        --host http://127.0.0.1:8000 --tags closing-storm --html report.html

Scenarios (``--tags``, one or several; or name the user classes instead):

==================  ===========================================  ==============================
tag                 users                                        models
==================  ===========================================  ==============================
``steady``          SteadyBidder (10), OfficerUser (1)           steady bidding across many
                                                                 auctions, the back office busy
``closing-storm``   StormBidder                                  hundreds of auctions ending in
                                                                 the same minute, bids in their
                                                                 last seconds, soft close firing
``tender-rush``     TenderSupplier                               sealed envelopes uploaded by
                                                                 many suppliers in the last
                                                                 minute before a deadline
``hot-auction``     HotWatcher (10), HotBidder (1)               watchers flooding one auction
``reconnect-storm`` ReconnectWatcher (10), ReconnectBidder (1)   every socket dropped at once,
                                                                 resuming with ``since``
``officer``         OfficerUser                                  creating, scheduling, inviting
==================  ===========================================  ==============================

Every acknowledgement's latency is a Locust request of type ``ws`` named by the request
(``bid``); a reject is a success named ``reject:<code>``; a lost acknowledgement, a
``seq`` gap (``seq_gap``), an unasked close (``socket``) are failures, so
``--exit-code-on-error 1`` fails the run on any of them. The scenarios' own options are
``--gavel-*`` (``locust -f loadtests/locustfile.py --help``); the officer token is
``GAVEL_OFFICER_TOKEN`` or made with ``gavel officer add`` (same machine as the server).
"""

from __future__ import annotations

from typing import Any, cast

import gevent
from locust import events
from locust.env import Environment

from loadtests.scenarios.bidders import HotBidder, ReconnectBidder, SteadyBidder, StormBidder
from loadtests.scenarios.officer import OfficerUser
from loadtests.scenarios.options import add_options
from loadtests.scenarios.tenders import TenderSupplier
from loadtests.scenarios.watchers import HotWatcher, ReconnectWatcher

__all__ = [
    "HotBidder",
    "HotWatcher",
    "OfficerUser",
    "ReconnectBidder",
    "ReconnectWatcher",
    "SteadyBidder",
    "StormBidder",
    "TenderSupplier",
]


def _options(parser: Any, **_: Any) -> None:
    add_options(parser)


def _only_tagged_users(environment: Environment, **_: Any) -> None:
    """``--tags`` leaves a user class of another scenario with no task, and Locust would
    still spawn it (and fail: "No tasks defined"): filter the tasks now (Locust's own
    filter, which then does nothing more at the start) and drop the classes left empty."""
    environment._filter_tasks_by_tags()
    environment.user_classes[:] = [user for user in environment.user_classes if user.tasks]


def _fresh_loop_clock(**_: Any) -> None:
    """Locust arms its ``--run-time`` timer on gevent's loop clock, which libev last read
    before the imports (seconds ago on a busy machine): the run then ended that much
    early (a 7 s run measured 5.4 s). Read the clock now, just before the timer is set."""
    gevent.get_hub().loop.update_now()


# Locust's EventHook has no annotations.
cast(Any, events.init_command_line_parser).add_listener(_options)
cast(Any, events.init).add_listener(_only_tagged_users)
cast(Any, events.init).add_listener(_fresh_loop_clock)
