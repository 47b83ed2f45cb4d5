"""Closed websockets' memory given back: one full collection after enough sockets closed.

Why
---
A websocket that closed leaves its objects in reference cycles: Sanic's protocol and
websocket objects, the ``websockets`` state machine, the handler's tasks and request,
about 60 Python objects and 20 kB per socket. Only the cyclic garbage collector frees
them, and only a *full* collection, because a socket lives long enough for its objects
to reach the oldest generation. The server runs the collector with the thresholds
``(50_000, 50, 1000)`` and freezes what it loaded at start-up (:mod:`api.http.server`,
:mod:`api.http.app`), which keeps its pauses short under load, but a full collection then
waits for 50,000 young ones: in practice it never comes. So every storm of sockets
stayed in memory, and the next storm added as much again (issue 12, item 10:
``gavel bench sockets`` measured the resident set growing by about 20 kB per socket
per storm, without end). Lowering the threshold would bring back the long pauses the
thresholds were raised against, and would still not help a server that went quiet
after a storm: collections follow allocations, not time.

What
----
:class:`SocketReclaimer` counts the websockets opened (Sanic's
``websocket.handler.before`` signal) and the ones still open (Sanic's
``app.websocket_tasks``): ``opened - open`` are the closings, churn at a constant
count included. Sanic keeps a closed socket's objects alive for its close timeout
(10 s: the transport's ``abort`` stays scheduled), so a closing is *ripe*
:data:`HOLD_S` after it was counted. Every :data:`CHECK_S` seconds, once the ripe
closings not yet reclaimed reach ``max(MIN_CLOSED, SHARE × open sockets)``, one full
collection runs, then glibc's ``malloc_trim(0)`` gives the C heap's free pages back to
the system (1-3 ms; 15 MB of the 90 MB a storm of 2,000 sockets took, the rest stays
in Python's own arenas, pinned by a few objects that outlive the storm, for the next
storm to reuse).

The collection blocks the event loop for O(tracked objects): those of the open
sockets (about 210 each) and the garbage (about 60 per closed socket), about 150 µs
per socket of either kind on the benchmark machine (a 2,000-socket storm: 0.25 s;
1,000 closings among 3,000 open sockets: 0.6 s). Waiting for a share of the open
sockets to close first keeps that O(1) per closed socket over time and the garbage
under a quarter of what the open sockets hold, the rule CPython itself applies to its
oldest generation; and after a pause of ``p`` seconds the next collection waits at
least ``p / MAX_DUTY`` (10 ``p``), so churn of any speed stalls the server at most a
tenth of the time (past about 600 closings a second, memory waits instead).
``gavel_gc_reclaim_max_seconds`` on ``/metrics`` shows the longest pause.

The collector is the process's, so there is one reclaimer per process:
:func:`install` sets it up on the app (the core and the edges both run through
:func:`api.http.server.run_app`), and :func:`metric_lines` renders its figures for
``/metrics``. ``GAVEL_RECLAIM=off`` keeps the counting and skips the collections (as
the server was before; memory then grows with every socket that ever closed);
``GAVEL_DEBUG_MEMORY=on`` adds the live Python objects and the resident set to
``/metrics`` (an O(objects) walk per scrape) and records the resident set after each
collection and after the trim that follows it.

Call order: :func:`install` before the app runs; the rest is driven by Sanic.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api.http.webapp import App

__all__ = [
    "CHECK_S",
    "HOLD_S",
    "MAX_DUTY",
    "MIN_CLOSED",
    "SHARE",
    "SocketReclaimer",
    "install",
    "metric_lines",
    "resident_bytes",
]

log = logging.getLogger("gavel.reclaim")

#: Seconds between two looks at the counts.
CHECK_S = 5.0
#: Seconds after which a closing is ripe: Sanic's close timeout (10 s, during which it
#: keeps the socket's transport scheduled for an abort) and a margin.
HOLD_S = 11.0
#: Fewest ripe closings worth a full collection (about 1.3 MB of garbage).
MIN_CLOSED = 64
#: Ripe closings, as a share of the open sockets, worth a full collection.
SHARE = 0.25
#: The largest share of the time collections may take: after a pause of ``p`` seconds
#: the next collection waits ``p / MAX_DUTY`` seconds.
MAX_DUTY = 0.1


def resident_bytes() -> int | None:
    """This process's resident set (``VmRSS``) in bytes, or ``None`` off Linux."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return None


def _malloc_trim() -> Callable[[], Any] | None:
    """glibc's ``malloc_trim(0)``, or ``None`` where there is none (musl, macOS)."""
    try:
        trim: Callable[[int], Any] = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    return lambda: trim(0)


class SocketReclaimer:
    """Counts websockets opened and open, and runs a full collection once enough closed.

    ``open_now()`` returns the sockets open now; :meth:`opened` is called once per
    socket, before it counts as open. :meth:`tick` is the policy (see the module
    docstring); ``collect`` runs a full collection and returns the objects it freed.
    O(1) per socket; :meth:`tick` O(samples within ``hold_s``) plus the collection.
    """

    def __init__(
        self,
        open_now: Callable[[], int],
        *,
        enabled: bool = True,
        debug: bool = False,
        trim: bool = True,
        hold_s: float = HOLD_S,
        min_closed: int = MIN_CLOSED,
        share: float = SHARE,
        max_duty: float = MAX_DUTY,
        collect: Callable[[], int] = gc.collect,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.open_now = open_now
        self.enabled = enabled
        self.debug = debug
        self.hold_s = hold_s
        self.min_closed = min_closed
        self.share = share
        self.max_duty = max_duty
        self._not_before = -math.inf
        self._collect = collect
        self._clock = clock
        #: Sockets opened since the start.
        self.opened_total = 0
        #: Closings covered by a collection (all of them when ``enabled`` is off).
        self.reclaimed = 0
        self.collections = 0
        self.freed_objects = 0
        self.pause_s_total = 0.0
        self.pause_s_max = 0.0
        self.trim_s_max = 0.0
        #: With ``debug``: the resident set after the last collection, then after the
        #: ``malloc_trim(0)`` that followed it.
        self.rss_after_collect: int | None = None
        self.rss_after_trim: int | None = None
        # (time, closings seen by then), oldest first: when each closing became known.
        self._samples: deque[tuple[float, int]] = deque()
        self._trim = _malloc_trim() if trim else None

    def opened(self) -> None:
        """Count a socket opened. O(1)."""
        self.opened_total += 1

    @property
    def closed(self) -> int:
        """Sockets closed since the start. O(1)."""
        return max(0, self.opened_total - self.open_now())

    @property
    def unreclaimed(self) -> int:
        """Closed sockets whose memory no collection has covered yet. O(1)."""
        return self.closed - self.reclaimed if self.enabled else 0

    def tick(self, now: float | None = None) -> bool:
        """Look at the counts; run a full collection if it is due. ``True`` if it ran."""
        now = self._clock() if now is None else now
        closed = self.closed
        if not self.enabled:
            self.reclaimed = closed
            return False
        samples = self._samples
        samples.append((now, closed))
        # Keep one sample at or before the horizon: the closings known by then are ripe.
        horizon = now - self.hold_s
        while len(samples) > 1 and samples[1][0] <= horizon:
            samples.popleft()
        if samples[0][0] > horizon:
            return False
        ripe = samples[0][1]
        due = max(self.min_closed, self.share * self.open_now())
        if ripe - self.reclaimed < due or now < self._not_before:
            return False
        self._run(ripe, now)
        return True

    def _run(self, ripe: int, now: float) -> None:
        started = self._clock()
        freed = self._collect()
        pause = self._clock() - started
        # Churn fast enough to make collections back to back must not stall the server
        # most of the time: past MAX_DUTY, memory waits instead.
        self._not_before = now + pause / self.max_duty
        self.reclaimed = ripe
        self.collections += 1
        self.freed_objects += freed
        self.pause_s_total += pause
        self.pause_s_max = max(self.pause_s_max, pause)
        if self.debug:
            self.rss_after_collect = resident_bytes()
        trim_s = 0.0
        if self._trim is not None:
            started = time.perf_counter()
            self._trim()
            trim_s = time.perf_counter() - started
            self.trim_s_max = max(self.trim_s_max, trim_s)
        if self.debug:
            self.rss_after_trim = resident_bytes()
        log.info(
            "reclaimed closed sockets",
            extra={
                "closed": ripe,
                "freed_objects": freed,
                "pause_ms": round(pause * 1000, 1),
                "trim_ms": round(trim_s * 1000, 1),
            },
        )

    async def run(self, every_s: float = CHECK_S) -> None:
        """:meth:`tick` every ``every_s`` seconds until cancelled."""
        while True:
            await asyncio.sleep(every_s)
            self.tick()

    def metric_lines(self) -> list[str]:
        """Prometheus lines of the counts, the collections and the trims (``debug``: also
        the live Python objects and the resident set, an O(objects) walk)."""
        figures: list[tuple[str, str, str, float | int]] = [
            ("gavel_sockets_opened_total", "counter", "Websockets opened.", self.opened_total),
            ("gavel_sockets_open", "gauge", "Websocket handlers running.", self.open_now()),
            (
                "gavel_sockets_unreclaimed",
                "gauge",
                "Closed websockets whose memory no full collection has covered yet.",
                self.unreclaimed,
            ),
            (
                "gavel_gc_reclaims_total",
                "counter",
                "Full collections run after websockets closed.",
                self.collections,
            ),
            (
                "gavel_gc_reclaimed_objects_total",
                "counter",
                "Objects those collections freed.",
                self.freed_objects,
            ),
            (
                "gavel_gc_reclaim_seconds_total",
                "counter",
                "Seconds those collections paused the server.",
                round(self.pause_s_total, 6),
            ),
            (
                "gavel_gc_reclaim_max_seconds",
                "gauge",
                "The longest of those pauses.",
                round(self.pause_s_max, 6),
            ),
            (
                "gavel_malloc_trim_max_seconds",
                "gauge",
                "The longest malloc_trim(0) after a reclaim.",
                round(self.trim_s_max, 6),
            ),
        ]
        if self.debug:
            figures += [
                (
                    "gavel_debug_python_objects",
                    "gauge",
                    "Objects the collector tracks, frozen ones aside.",
                    len(gc.get_objects()),
                ),
                ("gavel_debug_rss_bytes", "gauge", "Resident set.", resident_bytes() or 0),
            ]
            for name, rss in (
                ("gavel_debug_rss_after_collect_bytes", self.rss_after_collect),
                ("gavel_debug_rss_after_trim_bytes", self.rss_after_trim),
            ):
                if rss is not None:
                    figures.append((name, "gauge", "Resident set after the last reclaim.", rss))
        lines = []
        for name, kind, help_text, value in figures:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value}"]
        return lines


_installed: SocketReclaimer | None = None


def install(app: App, *, enabled: bool = True, debug: bool = False) -> SocketReclaimer:
    """The process's reclaimer, counting ``app``'s websockets and ticking while it runs.

    Call before the app starts (Sanic fixes its signal handlers then). A second call
    replaces the first reclaimer (a test that builds several apps in one process).
    """
    global _installed
    reclaimer = SocketReclaimer(lambda: len(app.websocket_tasks), enabled=enabled, debug=debug)
    _installed = reclaimer
    task: list[asyncio.Task[None]] = []

    @app.signal("websocket.handler.before")
    async def _opened(**_: Any) -> None:
        reclaimer.opened()

    @app.after_server_start
    async def _start(app: App) -> None:
        task.append(asyncio.create_task(reclaimer.run(), name="gavel-reclaim"))

    @app.before_server_stop
    async def _stop(app: App) -> None:
        for running in task:
            running.cancel()

    return reclaimer


def metric_lines() -> list[str]:
    """The installed reclaimer's lines for ``/metrics`` (none before :func:`install`)."""
    return _installed.metric_lines() if _installed is not None else []
