"""Websocket robustness against a live core and edge: frames no honest client sends.

Regressions of issue 12 first (a lone surrogate in ``request_id`` committed a bid that
was never answered; invalid UTF-8 in a text frame wedged its socket for 40 s), then a
seeded fuzzer. The fuzzer speaks RFC 6455 itself over a TCP socket (:class:`RawSocket`)
because the ``websockets`` client refuses to send most of what it sends: text frames
that are not UTF-8, reserved bits and opcodes, unmasked frames, stray continuations.

Each fuzzed socket sends a random sequence of frames, each of a known class, so the
test knows what the server owes it: a request with a ``request_id`` gets exactly one
answer (``ack``, ``reject``, ``replay_state`` or ``outcome_unknown``); a frame that is
not a message gets exactly one ``error``; a last, fatal frame closes the socket with its
documented code (1007 invalid UTF-8, after every request before it was answered; 1009
too big; 1002 broken framing). Meanwhile a control socket must see every event, in
order, and its heartbeats; and the server log must show no error at all.

``GAVEL_FUZZ_SEED`` replays another seed (the default one is fixed, so the suite is
deterministic in what it sends).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from tests.api.live.test_ws import Tape, bid, english, open_tape

if TYPE_CHECKING:
    from tests.api.conftest import Live

SEED = int(os.environ.get("GAVEL_FUZZ_SEED", "20261206"))
#: The largest frame the server reads (WEBSOCKET_MAX_SIZE, contracts.messages).
MAX_FRAME = 4096
#: Fuzzed sockets on the core (a third as many on the edge), and how many run at once.
CASES = 480
AT_ONCE = 8
#: The kinds of frame that answer a request.
ANSWERS = {"ack", "reject", "replay_state", "outcome_unknown"}


# The module's ``core`` and ``edge`` (a quick heartbeat) are tests/api/conftest.py's.


def errors_in_log(live: Live) -> list[str]:
    """The server's log lines at level ERROR or above (JSON lines), and any traceback."""
    text = live.process.log_path.read_text(errors="replace")
    return [
        line
        for line in text.splitlines()
        if '"level": "ERROR"' in line
        or '"level": "CRITICAL"' in line
        or "never retrieved" in line
        or "Traceback" in line
    ]


# ---------------------------------------------------------------------- regressions


@pytest.mark.parametrize("where", ["core", "edge"])
async def test_a_lone_surrogate_is_refused_with_an_error_before_anything_runs(
    core: Live, edge: Live, where: str
) -> None:
    auction = await core.create(english())
    token = await core.register(auction, "sur")
    await core.wait_phase(auction, "running")
    live = core if where == "core" else edge
    tape = await open_tape(live, auction, token)
    await tape.wait(lambda t: t.messages("welcome"))
    head = (await core.state(auction))["seq"]
    for raw, field_name in [
        ('{"type":"bid","request_id":"\\ud800","amount":"5.00","currency":"EUR"}', "request_id"),
        ('{"type":"bid","request_id":"b","amount":"5.00","currency":"EU\\udfffR"}', "currency"),
        ('{"type":"pass","request_id":"c\\u0000"}', "request_id"),
        ('{"type":"pass","request_id":"d","\\udc80":1}', "'\\udc80'"),
        ('{"type":"replay","request_id":"\\ude00x"}', "request_id"),
    ]:
        count = len(tape.messages("error"))
        await tape.ws.send(raw)
        errors = await tape.wait(lambda t, n=count: t.messages("error")[n:])
        assert errors[0]["code"] == "invalid_field", (raw, errors)
        assert errors[0]["detail"].startswith(field_name), (raw, errors)
    # A pair of surrogates is one character, and fine.
    fine = {**bid("6.00"), "request_id": "\\ud83d\\ude00"}
    await tape.ws.send(json.dumps(fine).replace("\\\\", "\\"))
    answer = await tape.wait(lambda t: t.answer("\U0001f600"))
    assert answer["type"] == ("ack" if where == "core" else "reject"), answer
    assert len([f for f in tape.messages() if f.get("request_id") == "\U0001f600"]) == 1
    # Nothing refused took a seq: only the one good bid is in the log.
    logged = [e["event"]["type"] for e in await core.events(auction, head)]
    assert logged == (["BidAccepted"] if where == "core" else [])
    await tape.close()
    assert errors_in_log(live) == []


@pytest.mark.parametrize("where", ["core", "edge"])
async def test_invalid_utf8_closes_with_1007_at_once_after_the_answers_it_owes(
    core: Live, edge: Live, where: str
) -> None:
    auction = await core.create(english())
    token = await core.register(auction, f"utf-{where}")
    await core.wait_phase(auction, "running")
    live = core if where == "core" else edge
    other = await open_tape(live, auction, core.token("eye", "observer", auction))
    await other.wait(lambda t: t.messages("welcome"))
    tape = await open_tape(live, auction, token)
    await tape.wait(lambda t: t.messages("welcome"))
    # Requests sent just before the bad frame are answered before the close.
    before = [bid(f"{amount}.00") for amount in range(2, 6)]
    started = time.monotonic()
    for message in before:
        await tape.ws.send(json.dumps(message))
    await tape.ws.send(b'{"type":"pass","request_id":"\xff"}', text=True)
    await tape.wait(lambda t: t.closed is not None, timeout=15)
    assert tape.closed is not None and tape.closed.rcvd is not None
    assert (tape.closed.rcvd.code, tape.closed.rcvd.reason) == (1007, "invalid UTF-8")
    assert time.monotonic() - started < 10  # not the 40 s of the keep-alive ping
    for message in before:
        assert tape.answer(message["request_id"]) is not None, message
    # The other socket was never disturbed, and a new one bids (or is refused) at once.
    again = await open_tape(live, auction, token)
    answer = await again.request(bid("9.00"))
    assert answer["type"] == ("ack" if where == "core" else "reject"), answer
    if where == "core":
        await other.wait(lambda t: t.event(answer["seq"]))
    assert other.closed is None
    # The same for a first frame that is not UTF-8.
    ws = await live.connect(auction, token, since=None)
    first = Tape(ws)
    await ws.send(b'{"type":"subscribe","since":0,"x":"\xc3\x28"}', text=True)
    await first.wait(lambda t: t.closed is not None)
    assert first.closed is not None and first.closed.rcvd is not None
    assert first.closed.rcvd.code == 1007
    for each in (again, other):
        await each.close()
    assert errors_in_log(live) == []


async def test_binary_frames_are_answered_with_an_error(core: Live) -> None:
    auction = await core.create(english())
    token = await core.register(auction, "bin")
    await core.wait_phase(auction, "running")
    tape = await open_tape(core, auction, token)
    await tape.wait(lambda t: t.messages("welcome"))
    await tape.ws.send(json.dumps(bid("5.00")).encode())  # a binary frame
    errors = await tape.wait(lambda t: t.messages("error"))
    assert errors[0]["code"] == "binary_frame", errors
    assert (await tape.request(bid("5.00")))["type"] == "ack"
    await tape.close()


# ---------------------------------------------------------------------- a raw client


class RawSocket:
    """A websocket client that sends whatever it is told, frame by frame (RFC 6455)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        #: The server's text frames, parsed, in arrival order.
        self.frames: list[dict[str, Any]] = []
        #: The server's close frame: (code, reason); ``None`` until it comes.
        self.closed: tuple[int, str] | None = None
        #: The connection ended (EOF or reset).
        self.ended = asyncio.Event()
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, live: Live, auction: str, token: str) -> RawSocket:
        """The websocket handshake, as a browser makes it."""
        reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /ws/v1/auctions/{auction} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{live.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Protocol: gavel.v1, gavel.bearer.{token}\r\n\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    def send(
        self,
        opcode: int,
        payload: bytes,
        *,
        fin: bool = True,
        rsv: int = 0,
        masked: bool = True,
    ) -> None:
        """Write one frame (``rsv``: the three reserved bits, as 0-7)."""
        first = (0x80 if fin else 0) | (rsv << 4) | opcode
        size = len(payload)
        mask_bit = 0x80 if masked else 0
        if size < 126:
            head = bytes((first, mask_bit | size))
        elif size < 65536:
            head = bytes((first, mask_bit | 126)) + struct.pack("!H", size)
        else:
            head = bytes((first, mask_bit | 127)) + struct.pack("!Q", size)
        if masked:
            key = os.urandom(4)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            head += key
        with contextlib.suppress(ConnectionError):
            self.writer.write(head + payload)

    async def _read(self) -> None:
        try:
            while True:
                b0, b1 = await self.reader.readexactly(2)
                size = b1 & 0x7F
                if size == 126:
                    (size,) = struct.unpack("!H", await self.reader.readexactly(2))
                elif size == 127:
                    (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
                payload = await self.reader.readexactly(size)
                opcode = b0 & 0x0F
                if opcode == 1:
                    self.frames.append(json.loads(payload))
                elif opcode == 8:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    self.closed = (code, payload[2:].decode())
                    self.send(8, payload[:2])  # the closing handshake
                elif opcode == 9:
                    self.send(10, payload)
                self._changed.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.ended.set()
            self._changed.set()

    async def wait(self, done: Callable[[], Any], timeout: float) -> bool:
        """Wait until ``done()`` is truthy (then ``True``) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return True

    def answers(self, request_id: str) -> list[dict[str, Any]]:
        """Every answer to ``request_id`` so far."""
        return [f for f in self.frames if f["type"] in ANSWERS and f["request_id"] == request_id]

    def errors(self) -> list[dict[str, Any]]:
        """The ``error`` frames so far."""
        return [f for f in self.frames if f["type"] == "error"]

    async def close(self) -> None:
        """Send a close frame (unless the server closed), then drop the connection."""
        if self.closed is None and not self.ended.is_set():
            self.send(8, struct.pack("!H", 1000))
            await self.wait(lambda: self.ended.is_set(), 5)
        self.writer.close()
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


# ---------------------------------------------------------------------- the fuzzer


@dataclass
class Script:
    """What one socket sends, and what the server owes it."""

    frames: list[tuple[int, bytes, bool, int, bool]] = field(default_factory=list)
    #: Requests that must be answered exactly once.
    requests: list[str] = field(default_factory=list)
    #: Frames that must each be answered with one ``error`` (code, or None: any code).
    errors: list[str | None] = field(default_factory=list)
    #: Frames that must each get one answer or one ``error``, whichever (mutants).
    unknown: int = 0
    #: The close code the last frame causes (None: the socket stays open).
    close: int | None = None
    notes: list[str] = field(default_factory=list)

    def text(self, data: str | bytes, note: str) -> None:
        self.frames.append((1, data.encode() if isinstance(data, str) else data, True, 0, True))
        self.notes.append(note)


class Fuzzer:
    """A seeded generator of frames; each is added to a :class:`Script` with its due."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.count = 0

    def request_id(self) -> str:
        self.count += 1
        rng = self.rng
        tail = rng.choice(["", "é", "\U0001f600", "\u202e", "x" * rng.randint(1, 300), " \t"])
        return f"f{self.count}-{tail}"

    def request(self, script: Script) -> None:
        rng = self.rng
        rid = self.request_id()
        kind = rng.choice(["bid", "bid", "bid", "proxy", "accept", "withdraw", "pass", "replay"])
        amount = rng.choice(["1.00", "5", "99999999.99", "0.001", "-1", "1e3", "abc", "١٢"])
        message: dict[str, Any] = {"type": kind, "request_id": rid}
        if kind == "bid":
            message |= {"amount": amount, "currency": rng.choice(["EUR", "USD", "€", ""])}
        elif kind == "proxy":
            message |= {"limit": amount, "currency": "EUR"}
        elif kind == "accept" and rng.random() < 0.5:
            message |= {"expected": amount, "currency": "EUR"}
        elif kind == "replay":
            message |= {"speed": rng.choice(["1", "0", "-1", "1e9"]), "from_seq": 10**30}
        text = json.dumps(message, ensure_ascii=rng.random() < 0.5)
        script.requests.append(rid)
        if rng.random() < 0.2 and len(text) > 3:
            # Fragmented: the same message in two or three frames.
            data = text.encode()
            cuts = sorted(rng.sample(range(1, len(data)), min(2, len(data) - 1)))
            parts = [data[i:j] for i, j in zip([0, *cuts], [*cuts, len(data)], strict=True)]
            for index, part in enumerate(parts):
                opcode = 1 if index == 0 else 0
                script.frames.append((opcode, part, index == len(parts) - 1, 0, True))
            script.notes.append(f"fragmented {kind}")
        else:
            script.text(text, kind)

    def junk(self, script: Script) -> None:
        """A frame that is not a message: one ``error`` is owed."""
        rng = self.rng
        rid = self.request_id()
        nest = rng.randint(1, (MAX_FRAME - 100) // 2)
        choices: list[tuple[str | bytes, str | None]] = [
            ('{"type":"bid","request_id":"\\ud800","amount":"1","currency":"E"}', "invalid_field"),
            ('{"type":"pass","request_id":' + json.dumps(rid)[:-1] + '\\udbff"}', "invalid_field"),
            ('{"type":"pass","request_id":"a","x\\udc00":1}', "invalid_field"),
            ('{"type":"bid","request_id":"a","amount":"1","currency":"\\u0000"}', "invalid_field"),
            ('{"type":"pass","request_id":"a","request_id":"b"}', "bad_json"),
            ('{"type":"pass","type":"pass","request_id":"a"}', "bad_json"),
            ('{"type":"seek","request_id":"a","seq":NaN}', "bad_json"),
            ('{"type":"seek","request_id":"a","seq":-Infinity}', "bad_json"),
            ('{"type":"seek","request_id":"a","seq":1e999}', "invalid_field"),
            ('{"type":"bid","request_id":"a","amount":1e308,"currency":"EUR"}', "invalid_field"),
            ('{"type":"subscribe","since":' + "9" * 4000 + "}", None),
            ('{"type":"pass","request_id":' + "[" * nest + "]" * nest + "}", None),
            ("[" * nest, "bad_json"),
            ('{"type":"pass","request_id":"a"', "bad_json"),
            ("", "bad_json"),
            ("\ufeff{}", "bad_json"),
            ("null", "bad_message"),
            ('"\\ud800"', "bad_message"),
            ('{"type":"shout"}', "unknown_type"),
            ('{"type":{"\\ud800":1}}', "invalid_field"),
            ('{"type":"pass","request_id":"a","extra":[1,{"\\ud800":2}]}', "invalid_field"),
            ('{"type":"pass"}', "missing_field"),
            ('{"type":"pass","request_id":7}', "invalid_field"),
            ('{"type":"subscribe","since":0}', "already_subscribed"),
            (bytes(rng.randrange(32, 127) for _ in range(rng.randint(1, 60))), None),
        ]
        data, code = rng.choice(choices)
        if rng.random() < 0.15:
            # Binary: whatever it holds, the server does not read it.
            payload = data if isinstance(data, bytes) else data.encode()
            script.frames.append((2, payload, True, 0, True))
            script.notes.append("binary")
            script.errors.append("binary_frame")
            return
        script.text(data, f"junk {code}")
        script.errors.append(code)

    def mutant(self, script: Script) -> None:
        """A valid message with a few characters changed: valid or not, one reply."""
        rng = self.rng
        message = {"type": "bid", "request_id": self.request_id(), "amount": "3.00"}
        text = list(json.dumps({**message, "currency": "EUR"}))
        for _ in range(rng.randint(1, 4)):
            spot = rng.randrange(len(text))
            action = rng.randrange(3)
            char = rng.choice('{}[]":,\\u0123456789abcdefnulltrue \ud800é\U0001f600')
            if action == 0:
                del text[spot]
            elif action == 1:
                text.insert(spot, char)
            else:
                text[spot] = char
        data = "".join(text).encode("utf-8", "replace")  # a raw surrogate: not sent as such
        script.text(data, "mutant")
        script.unknown += 1

    def fatal(self, script: Script) -> None:
        """A last frame that closes the socket."""
        rng = self.rng
        choice = rng.randrange(12)
        if choice <= 4:
            text = json.dumps({"type": "pass", "request_id": self.request_id()}).encode()
            spot = rng.randrange(len(text))
            bad = rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])
            data = text[:spot] + bad + text[spot:]
            if choice >= 3:
                # Over two fragments, cut inside the bad sequence.
                cut = spot + 1
                script.frames.append((1, data[:cut], False, 0, True))
                script.frames.append((0, data[cut:], True, 0, True))
                script.notes.append("fragmented invalid UTF-8")
            else:
                script.text(data, "invalid UTF-8")
            script.close = 1007
            return
        script.close = 1002
        if choice == 5:
            script.text(b'{"type":"pass","request_id":"' + b"x" * MAX_FRAME + b'"}', "too big")
            script.close = 1009
        elif choice == 6:
            script.frames.append((1, b'{"type":"pass","request_id":"r"}', True, 4, True))
            script.notes.append("reserved bit")
        elif choice == 7:
            script.frames.append((rng.choice([3, 7, 11, 15]), b"{}", True, 0, True))
            script.notes.append("reserved opcode")
        elif choice == 8:
            script.frames.append((0, b"{}", True, 0, True))
            script.notes.append("continuation without a start")
        elif choice == 9:
            script.frames.append((1, b'{"type":"pass","request_id":"r"}', True, 0, False))
            script.notes.append("unmasked")
        elif choice == 10:
            script.frames.append((9, b"p" * 126, True, 0, True))
            script.notes.append("control frame over 125 bytes")
        else:
            script.frames.append((9, b"p", False, 0, True))
            script.notes.append("fragmented control frame")

    def script(self) -> Script:
        rng = self.rng
        script = Script()
        for _ in range(rng.randint(1, 10)):
            roll = rng.random()
            if roll < 0.4:
                self.request(script)
            elif roll < 0.75:
                self.junk(script)
            elif roll < 0.9:
                self.mutant(script)
            else:
                script.frames.append((9, os.urandom(rng.randint(0, 20)), True, 0, True))
                script.notes.append("ping")
        if rng.random() < 0.4:
            self.fatal(script)
        return script


async def run_script(live: Live, auction: str, token: str, script: Script, label: str) -> None:
    """Send ``script`` on a fresh socket and check that the server paid what it owes."""
    sock = await RawSocket.open(live, auction, token)
    try:
        sock.send(1, b'{"type":"subscribe","since":0}')
        assert await sock.wait(lambda: any(f["type"] == "welcome" for f in sock.frames), 10)
        for opcode, payload, fin, rsv, masked in script.frames:
            sock.send(opcode, payload, fin=fin, rsv=rsv, masked=masked)
        await sock.writer.drain()
        where = f"{label}: {script.notes}"

        owed = len(script.requests) + len(script.errors) + script.unknown

        def replies() -> int:
            return len([f for f in sock.frames if f["type"] in ANSWERS or f["type"] == "error"])

        def paid() -> bool:
            answered = all(sock.answers(rid) for rid in script.requests)
            return answered and replies() >= owed

        if script.close is None:
            assert await sock.wait(paid, 20), (where, sock.frames[-5:])
        else:
            assert await sock.wait(lambda: sock.ended.is_set(), 20), (where, sock.frames[-5:])
            assert sock.closed is not None and sock.closed[0] == script.close, (where, sock.closed)
            if script.close == 1007:
                # Everything before the bad frame was answered, before the close.
                assert paid(), (where, sock.frames[-5:])
        for rid in script.requests:
            assert len(sock.answers(rid)) <= 1, (where, rid, sock.answers(rid))
        if script.close in (None, 1007):
            # One reply per message, no more; the known errors with their codes, in order.
            assert replies() == owed, (where, sock.frames)
            if not script.unknown:
                codes = [error["code"] for error in sock.errors()]
                for got, want in zip(codes, script.errors, strict=True):
                    assert want is None or got == want, (where, codes, script.errors)
    finally:
        await sock.close()


@pytest.mark.parametrize("where", ["core", "edge"])
async def test_fuzzed_frames_get_one_answer_each_or_the_documented_close(
    core: Live, edge: Live, where: str
) -> None:
    live = core if where == "core" else edge
    rules = english(duration=600)
    auction = await core.create(rules)
    tokens = [await core.register(auction, f"fz-{where}-{i}") for i in range(4)]
    tokens.append(core.token("eye", "observer", auction))
    await core.wait_phase(auction, "running")
    control = await open_tape(live, auction, core.token("ctl", "observer", auction))
    await control.wait(lambda t: t.messages("welcome"))
    fuzzer = Fuzzer(SEED + (where == "edge"))
    cases = CASES if where == "core" else CASES // 3
    closes: dict[int | None, int] = {}
    started = time.monotonic()
    for batch in range(0, cases, AT_ONCE):
        scripts = [fuzzer.script() for _ in range(AT_ONCE)]
        for script in scripts:
            closes[script.close] = closes.get(script.close, 0) + 1
        await asyncio.gather(
            *(
                run_script(live, auction, fuzzer.rng.choice(tokens), s, f"seed {SEED} #{batch + i}")
                for i, s in enumerate(scripts)
            )
        )
    elapsed = time.monotonic() - started
    # The control socket saw every event once, in order, and its heartbeats went on.
    head = (await core.state(auction))["seq"]
    await control.wait(lambda t: t.last_seq() == head, timeout=15)
    assert control.seqs() == list(range(1, head + 1))
    beats = len(control.messages("heartbeat"))
    await control.wait(lambda t: len(t.messages("heartbeat")) >= beats + 2)
    assert control.closed is None
    # And the auction still takes a plain bid at once.
    ranking = (await core.state(auction))["ranking"]
    top = ranking[0]["price"] // 100 if ranking else 0
    tape = await open_tape(live, auction, tokens[0])
    answer = await tape.request(bid(f"{top + 2}.00"))
    assert answer["type"] == ("ack" if where == "core" else "reject"), answer
    await tape.close()
    await control.close()
    assert errors_in_log(live) == []
    print(f"{where}: {cases} fuzzed sockets in {elapsed:.1f} s, seed {SEED}, closes {closes}")
