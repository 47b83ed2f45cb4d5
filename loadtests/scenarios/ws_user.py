"""A websocket client for Locust users (websocket-client under gevent), reporting to Locust.

Everything it measures is a Locust request event of type ``ws``, so it lands in Locust's
statistics, charts, ``--csv`` and ``--html`` reports like any HTTP request:

- ``connect`` / ``reconnect``: from dialling to the ``welcome`` frame;
- a request (``bid``): from sending it to its answer; an ``ack`` is a success named by
  the frame's type, a ``reject`` a success named ``reject:<code>``; no answer within
  ``ack_timeout`` (``LostAck``), or the socket closing with it in flight, is a failure
  of that name; ``outcome_unknown`` a failure named ``outcome_unknown``;
- ``event`` (watchers, ``delivery=True``): from the event's commit (its ``server_time``,
  the same clock on one machine) to its arrival, for live events only;
- ``seq_gap``: a failure whenever an event frame's seq is not the one after the last
  (:class:`~loadtests.scenarios.protocol.SeqCheck`), also across reconnections;
- ``socket``: a failure when the server closes or drops the socket unasked;
  ``error:<code>``: a failure for each ``error`` frame.

Call order: ``GavelSocket(...)`` → :meth:`GavelSocket.open` (blocks until ``welcome``) →
:meth:`GavelSocket.request` any number of times (one reader greenlet answers them) →
:meth:`GavelSocket.resume` (drop and reconnect with ``since``) → :meth:`GavelSocket.close`.
"""

from __future__ import annotations

import contextlib
import itertools
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import gevent
import websocket
from gevent.event import AsyncResult
from locust import User
from locust.event import EventHook

from loadtests.scenarios.protocol import ANSWERS, SeqCheck, read, subscribe

__all__ = ["GavelSocket", "LostAck", "SeqGap", "SocketDropped", "SocketUser"]


class LostAck(Exception):
    """A request got no answer: none within the timeout, or the socket closed first."""


class SeqGap(Exception):
    """An event frame's seq was not the next one: a gap, a duplicate or a reordering."""


class SocketDropped(Exception):
    """The server closed or dropped a socket the client had not closed."""


class ServerError(Exception):
    """The server answered a frame with an ``error`` frame."""


@dataclass(slots=True)
class _Pending:
    name: str
    sent_at: float
    answer: AsyncResult[dict[str, Any] | None]


_ids = itertools.count(1)


class GavelSocket:
    """One websocket to one auction (``/ws/v1/auctions/{id}``), as one user holds it.

    ``token`` ``None`` opens the public view (``gavel.public``). ``on_event`` is called
    with every ``event`` frame (in the reader greenlet); ``delivery`` reports each live
    event's delivery latency as ``event``.
    """

    def __init__(
        self,
        fire: EventHook,
        url: str,
        token: str | None,
        *,
        ack_timeout: float,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        delivery: bool = False,
    ) -> None:
        # Locust's EventHook.fire has no annotations.
        self._fire: Callable[..., None] = fire.fire
        self.url = url
        self.token = token
        self.ack_timeout = ack_timeout
        self.on_event = on_event
        self.delivery = delivery
        self.check = SeqCheck()
        self._ws: websocket.WebSocket | None = None
        self._reader: gevent.Greenlet[Any, Any] | None = None
        self._pending: dict[str, _Pending] = {}
        self._closing = False
        self._live_from = 0

    # ------------------------------------------------------------------ reporting
    def _report(
        self, name: str, started: float, length: int = 0, error: Exception | None = None
    ) -> None:
        self._fire(
            request_type="ws",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=error,
            context={},
        )

    def _fail(self, name: str, error: Exception) -> None:
        self._report(name, time.perf_counter(), 0, error)

    # ------------------------------------------------------------------ lifecycle
    def open(self, name: str = "connect") -> None:
        """Dial, subscribe from ``check.last`` and wait for ``welcome``; reported as
        ``name``. Raises (after reporting a failure) when it cannot."""
        started = time.perf_counter()
        protocols = ["gavel.v1"] if self.token else ["gavel.v1", "gavel.public"]
        header = [f"Authorization: Bearer {self.token}"] if self.token else []
        try:
            ws = websocket.create_connection(
                self.url, subprotocols=protocols, header=header, timeout=self.ack_timeout
            )
            ws.send(subscribe(self.check.last))
            welcome = read(ws.recv())
            if welcome["type"] != "welcome":
                raise SocketDropped(f"the first frame was {welcome['type']!r}, not welcome")
        except Exception as error:
            self._report(name, started, 0, error)
            raise
        ws.settimeout(None)
        self._live_from = int(welcome["seq"])
        self._ws = ws
        self._closing = False
        self._reader = gevent.spawn(self._read, ws)
        self._report(name, started)

    def close(self) -> None:
        """Close the socket without reporting; requests in flight are forgotten."""
        self._closing = True
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):  # a socket that may be gone already
                ws.send_close()
            cast(Any, ws).shutdown()  # websocket-client leaves it unannotated
        if self._reader is not None:
            self._reader.kill(block=False)
            self._reader = None
        for pending in self._pending.values():
            pending.answer.set(None)
        self._pending.clear()

    def resume(self) -> None:
        """Drop the socket (once no request is in flight, at most ``ack_timeout``) and
        reconnect with ``since`` = the last seq seen; reported as ``reconnect``."""
        deadline = time.monotonic() + self.ack_timeout
        while self._pending and time.monotonic() < deadline:
            gevent.sleep(0.01)
        self.close()
        self.open("reconnect")

    @property
    def is_open(self) -> bool:
        """Whether the socket is open (the reader has not seen it close)."""
        return self._ws is not None

    # ------------------------------------------------------------------ requests
    def request(self, name: str, frame: Callable[[str], str]) -> dict[str, Any] | None:
        """Send ``frame(request_id)`` and wait for its answer (``None``: lost, reported).

        The answer is reported by the reader as it arrives (see the module docstring)."""
        ws = self._ws
        if ws is None:
            self._fail(name, LostAck("the socket is closed"))
            return None
        request_id = f"r{next(_ids)}"
        pending = _Pending(name, time.perf_counter(), AsyncResult())
        self._pending[request_id] = pending
        try:
            ws.send(frame(request_id))
        except Exception as error:
            self._pending.pop(request_id, None)
            self._fail(name, LostAck(f"could not send: {error!r}"))
            return None
        try:
            answer: dict[str, Any] | None = pending.answer.get(timeout=self.ack_timeout)
        except gevent.Timeout:
            if self._pending.pop(request_id, None) is not None:
                self._fail(name, LostAck(f"no answer within {self.ack_timeout} s"))
            return None
        return answer

    # ------------------------------------------------------------------ reading
    def _read(self, ws: websocket.WebSocket) -> None:
        while True:
            try:
                opcode, data = ws.recv_data()
            except Exception as error:
                self._dropped(f"{type(error).__name__}: {error}")
                return
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                self._dropped(f"closed by the server: {code} {data[2:].decode(errors='replace')}")
                return
            try:
                self._frame(read(data), len(data))
            except Exception as error:
                self._fail("frame", error)

    def _dropped(self, why: str) -> None:
        if self._closing:
            return
        self._ws = None
        self._fail("socket", SocketDropped(why))
        for pending in self._pending.values():
            self._report(pending.name, pending.sent_at, 0, LostAck(f"socket closed: {why}"))
            pending.answer.set(None)
        self._pending.clear()

    def _frame(self, frame: dict[str, Any], length: int) -> None:
        kind = frame["type"]
        if kind == "event":
            seq = int(frame["seq"])
            problem = self.check.observe(seq)
            if problem is not None:
                self._fail("seq_gap", SeqGap(problem))
            if self.delivery and seq > self._live_from:
                age_ms = (time.time_ns() // 1000 - int(frame["server_time"])) / 1000
                self._fire(
                    request_type="ws",
                    name="event",
                    response_time=max(0.0, age_ms),
                    response_length=length,
                    exception=None,
                    context={},
                )
            if self.on_event is not None:
                self.on_event(frame)
        elif kind in ANSWERS:
            pending = self._pending.pop(str(frame.get("request_id")), None)
            if pending is None:
                return  # answered after its timeout: already reported lost
            if kind == "ack":
                self._report(pending.name, pending.sent_at, length)
            elif kind == "reject":
                self._report(f"reject:{frame['code']}", pending.sent_at, length)
            else:
                self._report("outcome_unknown", pending.sent_at, length, LostAck(frame["detail"]))
            pending.answer.set(frame)
        elif kind == "error":
            self._fail(f"error:{frame['code']}", ServerError(frame.get("detail", "")))


class SocketUser(User):
    """A Locust user holding :class:`GavelSocket` s; closes them when it stops."""

    abstract = True

    def on_start(self) -> None:
        """No socket yet."""
        self.sockets: list[GavelSocket] = []

    def socket(
        self,
        auction_id: str,
        token: str | None,
        *,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        delivery: bool = False,
        ack_timeout: float = 10.0,
    ) -> GavelSocket:
        """Open (and keep) a socket to ``auction_id`` on this user's host."""
        host = (self.host or "").rstrip("/")
        url = host.replace("http", "ws", 1) + f"/ws/v1/auctions/{auction_id}"
        opened = GavelSocket(
            self.environment.events.request,
            url,
            token,
            ack_timeout=ack_timeout,
            on_event=on_event,
            delivery=delivery,
        )
        opened.open()
        self.sockets.append(opened)
        return opened

    def forget(self, opened: GavelSocket) -> None:
        """Close ``opened`` and stop holding it."""
        opened.close()
        if opened in self.sockets:
            self.sockets.remove(opened)

    def on_stop(self) -> None:
        """Close every socket (the run is over: requests in flight are not lost)."""
        for opened in self.sockets:
            opened.close()
        self.sockets.clear()
