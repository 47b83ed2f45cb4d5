"""A bare websocket relay on Gavel's stack: the ceiling the service benchmark compares with.

Same Sanic websocket layer, same route, same subprotocol, same frames, none of the work:
no token check, no engine, no storage. Each connection sends ``subscribe`` first and gets
a ``welcome``; each ``bid`` is answered the way Gavel answers it, with an ``event`` frame
of the same shape and size to every socket of its "auction" (the sender included, as
Gavel's subscriber sees its own bid too) followed by an ``ack`` to the sender. So the
relay's rate, driven by the same load generator, is what one Python process can push
through this stack, and Gavel's rate divided by it is the cost of everything else.
The fan-out is Gavel's own (:class:`api.live.hub.Subscriber` outboxes with the session's
outlet and writer from :mod:`api.live.ws`: each frame framed once, written straight to every
socket that keeps up), so the ratio compares the work, not two ways of sending.

Run it as ``python -m loadtests.relay --port N`` (127.0.0.1 only); it stops on SIGTERM or
SIGINT. :class:`RelayProcess` starts one in a child process and waits until it answers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from api.auctions.views import Audience
from api.http.webapp import App, websocket_route
from api.live.hub import Subscriber, wire
from api.live.sanic_ws import outlet_of
from api.live.ws import write_frames
from contracts.messages import MAX_CLIENT_FRAME
from loadtests.server_process import end_process

__all__ = ["RelayProcess", "create_relay", "main"]

_PROTOCOL = "gavel.v1"
_QUEUE = 1000  # frames a socket may owe, as GAVEL_SOCKET_QUEUE's default


class _Room:
    """One auction's sockets and its seq counter."""

    __slots__ = ("sockets", "seq")

    def __init__(self) -> None:
        self.sockets: set[Subscriber] = set()
        self.seq = 0


def create_relay() -> App:
    """The relay app: ``/healthz`` and ``/ws/v1/auctions/<id>``."""
    app = Sanic("gavel_relay", configure_logging=False)
    app.config.WEBSOCKET_MAX_SIZE = MAX_CLIENT_FRAME
    app.config.WEBSOCKET_PING_INTERVAL = 20
    rooms: dict[str, _Room] = {}

    @app.get("/healthz")
    async def healthz(request: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    @websocket_route(app, "/ws/v1/auctions/<auction_id>", subprotocols=[_PROTOCOL])
    async def relay(request: Request, ws: Any, auction_id: str) -> None:
        room = rooms.get(auction_id)
        if room is None:
            room = rooms[auction_id] = _Room()
        first = await ws.recv()
        if first is None:
            return
        label = f"Bidder {len(room.sockets) + 1}"
        welcome = {
            "protocol": _PROTOCOL,
            "auction_id": auction_id,
            "role": "bidder",
            "you": label,
            "seq": room.seq,
            "server_time": time.time_ns() // 1000,
            "type": "welcome",
        }
        await ws.send(json.dumps(welcome, separators=(",", ":")))
        # Gavel's fan-out, as its sessions use it: one bounded outbox per socket, each
        # frame framed once and written straight to every socket that keeps up.
        outlet = outlet_of(ws)
        me = Subscriber(Audience("bidder", label), since=room.seq, limit=_QUEUE)
        me.resume([], outlet)
        writer = asyncio.create_task(write_frames(ws, me, raw=outlet is not None))
        room.sockets.add(me)
        try:
            while not writer.done():
                raw = await ws.recv()
                if raw is None:
                    return
                message = json.loads(raw)
                room.seq += 1
                now = time.time_ns() // 1000
                price = int(message["amount"].replace(".", ""))
                event = {
                    "seq": room.seq,
                    "at": now,
                    "command_id": "ws-0123456789abcdef0123456789abcdef",
                    "bidder": label,
                    "price": price,
                    "score": price,
                    "proxy": False,
                    "type": "BidAccepted",
                }
                frame = wire(
                    json.dumps(
                        {"seq": room.seq, "server_time": now, "event": event, "type": "event"},
                        separators=(",", ":"),
                    )
                )
                for other in room.sockets:
                    other.push(room.seq, frame)
                ack = {
                    "request_id": message["request_id"],
                    "seq": room.seq,
                    "server_time": now,
                    "event": {**event, "you": True},
                    "type": "ack",
                }
                me.send_direct(wire(json.dumps(ack, separators=(",", ":"))))
        finally:
            room.sockets.discard(me)
            me.close()
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer

    return app


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m loadtests.relay``."""
    parser = argparse.ArgumentParser(prog="python -m loadtests.relay", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    create_relay().run(
        host="127.0.0.1", port=args.port, single_process=True, access_log=False, motd=False
    )
    return 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RelayProcess:
    """The relay in a child process. Call order: ``start()`` → ``ws_url`` → ``stop()``."""

    def __init__(self, log_dir: Path, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.log_path = Path(log_dir) / f"relay-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:<port>``."""
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> RelayProcess:
        """Spawn the relay and wait until it accepts connections."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "loadtests.relay", "--port", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=os.environ.copy(),
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the relay exited early: {self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the relay did not start in {timeout_s} s")

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.process is not None:
            end_process(self.process, timeout_s=timeout_s)

    def __enter__(self) -> RelayProcess:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


if __name__ == "__main__":
    raise SystemExit(main())
