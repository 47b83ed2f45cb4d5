"""``gavel bench compression``: what permessage-deflate would save and cost on Gavel's frames.

Why
---
Issue 16: memory per idle socket. The ``websockets`` library's own guide puts a compressed
connection at tens of KiB (its "Memory usage" and "Compression" pages) and shows how
smaller windows (``*_max_window_bits``) and ``memLevel`` bring it down; our frames are
small JSON (100-300 bytes). Does compression pay for them? Gavel's server (Sanic 25)
negotiates no extension at all: its websocket handshake builds the ``websockets``
``ServerProtocol`` without extensions, so every Gavel socket is uncompressed today, and
:func:`api.live.hub.wire` frames each server frame once for every recipient, which only
an uncompressed connection allows. This bench measures what we would gain.

What is measured, for each setting of :data:`SETTINGS` (``off``, the ``websockets``
defaults, the guide's example, a minimal window, zlib's maxima, the default without
context takeover)
-----------------------------------------------------------------------------------------
- **bytes on the wire** for a watcher's stream of real frames, built with
  :mod:`contracts.messages` and the hub's own rendering (:class:`api.live.hub.Channel`):
  the ``welcome``, the auction's history (created, ``--bidders`` registered, started), then
  ``--bids`` ``BidAccepted`` events with a ``heartbeat`` every fourth one, and a bidder's
  ``ack``; each frame as :func:`~api.live.hub.wire` writes it (header included) and as a
  compressed frame of one connection (context takeover: the window carries over between
  frames, which is where JSON's repetition pays). Per kind: the mean size; for the stream:
  the total and the share saved;
- **CPU per frame**: the server's compression of each frame (``PerMessageDeflate.encode``,
  best of ``--repeat`` passes over the stream), in µs per frame;
- **memory per idle socket**: a plain ``websockets`` asyncio server in a child process
  (Sanic cannot negotiate the extension), ``--sockets`` clients that each negotiate the
  setting, send a ``subscribe`` and get a ``welcome`` (both directions have then
  compressed once, as a real watcher's have), then the child's resident set
  ``(open - before) / sockets``; the uncompressed ``off`` row is the baseline of that
  plain server (not Gavel's per-socket figure: see ``gavel bench sockets``).

``--json`` prints one JSON object. Runs in seconds (``--sockets`` 500: about 10 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

__all__ = ["SETTINGS", "Setting", "main", "measure", "stream"]

DEFAULT_SOCKETS = 500
DEFAULT_BIDS = 200
DEFAULT_BIDDERS = 10
DEFAULT_REPEAT = 5
#: A heartbeat after every ``HEARTBEAT_EVERY``-th bid (5 s apart; bids come faster).
HEARTBEAT_EVERY = 4
_AUCTION = "auction-2026-0042"
#: A realistic clock: microseconds of 2026-12-07.
_T0 = 1_796_601_600_000_000


@dataclass(frozen=True, slots=True)
class Setting:
    """One permessage-deflate configuration (``None`` window bits: compression off)."""

    name: str
    window_bits: int | None
    mem_level: int | None
    note: str
    #: Context takeover: the compressor's window carries over between frames (the
    #: default). Without it each frame is compressed alone, so the same compressed
    #: bytes could serve every socket of an audience, as :func:`api.live.hub.wire`'s do.
    takeover: bool = True


SETTINGS = (
    Setting("off", None, None, "no extension: what Gavel (Sanic) negotiates today"),
    Setting("default", 12, 5, "websockets 17's default (window bits 12, memLevel 5)"),
    Setting("guide", 11, 4, "the websockets guide's example (11, memLevel 4)"),
    Setting("minimal", 9, 1, "the smallest zlib allows (9, memLevel 1)"),
    Setting("zlib-max", 15, 8, "zlib's defaults, the RFC's maximum (15, memLevel 8)"),
    Setting("per-frame", 12, 5, "the default without context takeover", takeover=False),
)


def stream(bids: int = DEFAULT_BIDS, bidders: int = DEFAULT_BIDDERS) -> list[tuple[str, str]]:
    """``(kind, text)`` of a watcher's frames in order, plus one bidder's ``ack``: real
    frames, rendered by the hub as a session sends them. O(bids + bidders)."""
    from api.auctions.views import Audience
    from api.live.hub import Channel
    from contracts import messages as m
    from engine import events as e
    from engine.rules import EnglishRules, Step

    channel = Channel(_AUCTION)
    watcher = Audience("observer", "press-1")
    rules = EnglishRules("EUR", _T0 + 60_000_000, _T0 + 3_600_000_000, 10_000, Step(100))
    history: list[Any] = [e.AuctionCreated(1, _T0, rules)]
    for b in range(bidders):
        label = f"Bidder {b + 1}"
        history.append(e.BidderRegistered(2 + b, _T0 + b, f"party-{b}", label, Decimal(0), 0, None))
    history.append(e.AuctionStarted(len(history) + 1, _T0 + 60_000_000, rules.ends_at))
    channel.publish(history)
    out = [("welcome", m.to_json(m.Welcome(m.PROTOCOL, _AUCTION, "observer", None, 0, _T0)))]
    out += [("history", channel.frame(event, watcher)) for event in history]
    at = _T0 + 61_000_000
    price = 10_000
    for i in range(bids):
        at += 1_250_000 + (i * 7919) % 900_000  # a bid every 1.3-2.1 s
        price += 100 * (1 + i % 3)
        seq = channel.head + 1
        bid = e.BidAccepted(seq, at, f"ws-{i:08x}", f"party-{i % bidders}", price, price, False)
        channel.publish([bid])
        out.append(("event", channel.frame(bid, watcher)))
        if i % HEARTBEAT_EVERY == HEARTBEAT_EVERY - 1:
            deadline = channel.committed.next_deadline()
            beat = m.Heartbeat(channel.head, at + 500_000, deadline)
            out.append(("heartbeat", m.to_json(beat)))
    last = bid if bids else None
    if last is not None:
        bidder = Audience("bidder", last.bidder)
        ack = m.Ack("r-000123", last.seq, last.at, channel.views.render(last, bidder))
        out.append(("ack", m.to_json(ack)))
    return out


def _extension(setting: Setting) -> Any:
    """The server side's ``PerMessageDeflate`` of one connection at ``setting``."""
    from websockets.extensions.permessage_deflate import PerMessageDeflate

    assert setting.window_bits is not None and setting.mem_level is not None
    return PerMessageDeflate(
        remote_no_context_takeover=not setting.takeover,
        local_no_context_takeover=not setting.takeover,
        remote_max_window_bits=setting.window_bits,
        local_max_window_bits=setting.window_bits,
        compress_settings={"memLevel": setting.mem_level},
    )


def _wire_size(payload: int) -> int:
    """A server frame's size on the wire: header (2, 4 or 10 bytes) and payload."""
    return payload + (2 if payload < 126 else 4 if payload < 65536 else 10)


def wire_figures(frames: list[tuple[str, str]], setting: Setting, repeat: int) -> dict[str, Any]:
    """Bytes on the wire per kind and for the stream, and µs of compression per frame
    (best of ``repeat`` passes, each a fresh connection). O(repeat × stream)."""
    from websockets.frames import Frame, Opcode

    payloads = [(kind, text.encode()) for kind, text in frames]
    sizes: dict[str, list[int]] = {}
    best = float("inf")
    for _ in range(max(1, repeat)):
        extension = _extension(setting) if setting.window_bits is not None else None
        sizes = {}
        started = time.perf_counter()
        for kind, data in payloads:
            if extension is not None:
                data = extension.encode(Frame(Opcode.TEXT, data)).data
            sizes.setdefault(kind, []).append(_wire_size(len(data)))
        best = min(best, time.perf_counter() - started)
    raw_total = sum(_wire_size(len(data)) for _, data in payloads)
    total = sum(sum(values) for values in sizes.values())
    return {
        "bytes_per_kind": {kind: round(statistics.mean(v), 1) for kind, v in sizes.items()},
        "stream_bytes": total,
        "saved_share": round(1 - total / raw_total, 3),
        "us_per_frame": round(best / len(payloads) * 1e6, 2) if setting.window_bits else 0.0,
    }


# ------------------------------------------------------------------ memory per idle socket


def _serve(name: str) -> None:
    """The child: a plain websockets server at setting ``name`` on a free port (printed),
    answering a ``subscribe`` with a ``welcome`` and then holding the socket idle; prints
    its resident set on each line read from stdin."""
    from websockets.asyncio.server import serve
    from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

    from loadtests.bench_sockets import rss_bytes

    setting = next(s for s in SETTINGS if s.name == name)
    welcome = stream(0, 1)[0][1]
    extensions = None
    if setting.window_bits is not None:
        extensions = [
            ServerPerMessageDeflateFactory(
                server_no_context_takeover=not setting.takeover,
                client_no_context_takeover=not setting.takeover,
                server_max_window_bits=setting.window_bits,
                client_max_window_bits=setting.window_bits,
                compress_settings={"memLevel": setting.mem_level},
            )
        ]

    async def session(ws: Any) -> None:
        await ws.recv()
        await ws.send(welcome)
        await ws.wait_closed()

    async def run() -> None:
        import os

        async with serve(
            session,
            "127.0.0.1",
            0,
            compression=None,
            extensions=extensions,
            ping_interval=None,
        ) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            print(port, flush=True)
            loop = asyncio.get_running_loop()
            while await loop.run_in_executor(None, sys.stdin.readline):
                print(rss_bytes(os.getpid()), flush=True)

    asyncio.run(run())


async def _open(port: int, setting: Setting, count: int) -> list[Any]:
    """``count`` clients of the child, each negotiating ``setting``, subscribed and
    welcomed."""
    from websockets.asyncio.client import connect
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

    extensions = None
    if setting.window_bits is not None:
        extensions = [
            ClientPerMessageDeflateFactory(
                server_no_context_takeover=not setting.takeover,
                client_no_context_takeover=not setting.takeover,
                server_max_window_bits=setting.window_bits,
                client_max_window_bits=setting.window_bits,
                compress_settings={"memLevel": setting.mem_level},
            )
        ]
    gate = asyncio.Semaphore(50)

    async def one() -> Any:
        async with gate:
            ws = await connect(
                f"ws://127.0.0.1:{port}/",
                compression=None,
                extensions=extensions,
                ping_interval=None,
                open_timeout=60,
            )
            await ws.send('{"type":"subscribe","since":0}')
            await ws.recv()
            if setting.window_bits is not None:
                assert ws.protocol.extensions, "permessage-deflate was not negotiated"
            return ws

    return list(await asyncio.gather(*(one() for _ in range(count))))


def memory_per_socket(setting: Setting, sockets: int) -> int:
    """Bytes of the child server's resident set per idle socket at ``setting``."""
    child = subprocess.Popen(
        [sys.executable, "-m", "loadtests.bench_compression", "--serve", setting.name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert child.stdin is not None and child.stdout is not None
    stdin, stdout = child.stdin, child.stdout

    def rss() -> int:
        stdin.write("rss\n")
        stdin.flush()
        return int(stdout.readline())

    async def run(port: int) -> int:
        warm = await _open(port, setting, 20)  # the code paths and first buffers
        await asyncio.gather(*(ws.close() for ws in warm))
        await asyncio.sleep(0.3)
        before = rss()
        opened = await _open(port, setting, sockets)
        await asyncio.sleep(0.5)
        after = rss()
        await asyncio.gather(*(ws.close() for ws in opened))
        return round((after - before) / sockets)

    try:
        return asyncio.run(run(int(stdout.readline())))
    finally:
        stdin.close()
        child.wait(10)


def measure(
    *,
    sockets: int = DEFAULT_SOCKETS,
    bids: int = DEFAULT_BIDS,
    bidders: int = DEFAULT_BIDDERS,
    repeat: int = DEFAULT_REPEAT,
) -> dict[str, Any]:
    """Every setting's figures (see the module docstring). ``sockets`` 0 skips the
    memory measurement."""
    from loadtests.bench_service import _raise_open_files_limit

    _raise_open_files_limit()
    frames = stream(bids, bidders)
    kinds: dict[str, list[int]] = {}
    for kind, text in frames:
        kinds.setdefault(kind, []).append(len(text.encode()))
    rows = []
    for setting in SETTINGS:
        row: dict[str, Any] = {
            "setting": setting.name,
            "window_bits": setting.window_bits,
            "mem_level": setting.mem_level,
            "note": setting.note,
            **wire_figures(frames, setting, repeat),
        }
        if sockets:
            row["bytes_per_idle_socket"] = memory_per_socket(setting, sockets)
        rows.append(row)
    return {
        "bench": "compression",
        "frames": len(frames),
        "payload_bytes_per_kind": {k: round(statistics.mean(v), 1) for k, v in kinds.items()},
        "sockets": sockets,
        "rows": rows,
    }


def _print(figures: dict[str, Any], out: TextIO) -> None:
    print(
        f"{figures['frames']} frames of a watcher's stream; payload bytes per kind: "
        + ", ".join(f"{k} {v}" for k, v in figures["payload_bytes_per_kind"].items()),
        file=out,
    )
    header = f"{'setting':<10} {'stream B':>9} {'saved':>6} {'µs/frame':>9} {'B/idle socket':>14}"
    print(header, file=out)
    for row in figures["rows"]:
        memory = row.get("bytes_per_idle_socket", "-")
        print(
            f"{row['setting']:<10} {row['stream_bytes']:>9} {row['saved_share']:>6.1%} "
            f"{row['us_per_frame']:>9} {memory!s:>14}",
            file=out,
        )


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Parse ``argv``, run :func:`measure` and print the figures (a table, or ``--json``)."""
    parser = argparse.ArgumentParser(
        prog="gavel bench compression", description=__doc__.split("\n")[0] if __doc__ else None
    )
    parser.add_argument("--sockets", type=int, default=DEFAULT_SOCKETS, help="idle sockets")
    parser.add_argument("--bids", type=int, default=DEFAULT_BIDS, help="bids in the stream")
    parser.add_argument("--bidders", type=int, default=DEFAULT_BIDDERS, help="bidders")
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, help="CPU passes")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the memory child (internal)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.serve)
        return 0
    figures = measure(
        sockets=args.sockets, bids=args.bids, bidders=args.bidders, repeat=args.repeat
    )
    if args.json:
        print(json.dumps(figures), file=out)
    else:
        _print(figures, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
