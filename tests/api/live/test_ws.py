"""The live stream over real websockets, against a real server process and PostgreSQL.

Clients connect as a browser does (subprotocols ``gavel.v1`` and ``gavel.bearer.<token>``)
with the ``websockets`` library. A :class:`Tape` reads a socket in the background and
timestamps every frame, so tests can wait for conditions, check seqs for gaps and
duplicates, and measure latency while other clients misbehave.

The module's server runs with a short heartbeat, a small per-socket queue (so a slow
consumer is dropped after a few megabytes, not after minutes) and a body limit large
enough for the officer notes that fill a slow socket's buffers quickly.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from api.access import auth
from api.live.hub import Channel
from contracts import messages as m

if TYPE_CHECKING:
    from tests.api.conftest import Live

S = 1_000_000
QUEUE = 64
HEARTBEAT_S = 0.25
ORIGINS = "https://gavel.example,http://localhost:3000"


def now_us() -> int:
    """The wall clock in microseconds (the server's clock: same machine)."""
    return time.time_ns() // 1000


@pytest.fixture(scope="module")
def live(start_server: Callable[..., Live]) -> Live:
    """The module's server."""
    return start_server(
        GAVEL_HEARTBEAT_S=str(HEARTBEAT_S),
        GAVEL_SOCKET_QUEUE=str(QUEUE),
        GAVEL_MAX_BODY="200000",
        GAVEL_ALLOWED_ORIGINS=ORIGINS,
    )


class Tape:
    """Reads one socket in the background; every frame with its local arrival time."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[tuple[float, dict[str, Any]]] = []
        self.closed: ConnectionClosed | None = None
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.frames.append((time.monotonic(), json.loads(raw)))
                self._changed.set()
        except ConnectionClosed as closed:
            self.closed = closed
        else:
            self.closed = self.ws.protocol.close_exc  # a normal close ends the loop
        self._changed.set()

    async def wait(self, done: Callable[[Tape], Any], timeout: float = 10.0) -> Any:
        """Wait until ``done(self)`` is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = done(self)
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; last frames: {self.messages()[-5:]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def messages(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The frames (of one ``type``), in arrival order."""
        return [f for _, f in self.frames if kind is None or f["type"] == kind]

    def events(self) -> list[dict[str, Any]]:
        """The ``event`` frames."""
        return self.messages("event")

    def seqs(self) -> list[int]:
        """Seqs of the event frames, in arrival order."""
        return [f["seq"] for f in self.events()]

    def last_seq(self) -> int:
        """The highest event seq received (0 if none)."""
        return max(self.seqs(), default=0)

    def event(self, seq: int) -> dict[str, Any] | None:
        """The ``event`` payload delivered for ``seq``."""
        return next((f["event"] for f in self.events() if f["seq"] == seq), None)

    def arrival(self, seq: int) -> float | None:
        """When the event frame for ``seq`` arrived (``time.monotonic()``)."""
        return next((at for at, f in self.frames if f["type"] == "event" and f["seq"] == seq), None)

    def answer(self, request_id: str) -> dict[str, Any] | None:
        """The ack or reject for ``request_id``."""
        return next(
            (
                f
                for f in self.messages()
                if f.get("request_id") == request_id and f["type"] in ("ack", "reject")
            ),
            None,
        )

    async def request(self, message: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """Send a client message; wait for its ack or reject."""
        await self.ws.send(json.dumps(message))
        found: dict[str, Any] = await self.wait(
            lambda tape: tape.answer(message["request_id"]), timeout
        )
        return found

    async def close(self) -> None:
        """Close the socket and stop reading."""
        await self.ws.close()
        with contextlib.suppress(Exception):
            await self._task


async def open_tape(live: Live, auction: str, token: str, since: int = 0, **opts: Any) -> Tape:
    """Connect, subscribe and start reading."""
    return Tape(await live.connect(auction, token, since=since, **opts))


async def closed_with(ws: ClientConnection, timeout: float = 10.0) -> tuple[int, str]:
    """Read until the server closes; its close code and reason."""
    with pytest.raises(ConnectionClosed) as caught:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    rcvd = caught.value.rcvd
    assert rcvd is not None, caught.value
    return rcvd.code, rcvd.reason


def english(start_in: float = 0.3, duration: float = 60.0) -> dict[str, Any]:
    """An English auction with a 1.00 step."""
    starts = now_us() + int(start_in * S)
    return {
        "format": "english",
        "currency": "EUR",
        "starts_at": starts,
        "ends_at": starts + int(duration * S),
        "start_price": "1.00",
        "step": {"amount": "1.00"},
    }


_REQUEST_IDS = itertools.count(1)


def bid(amount: str, currency: str = "EUR") -> dict[str, Any]:
    """A bid message with a fresh request id."""
    return {
        "type": "bid",
        "request_id": f"r-{next(_REQUEST_IDS)}",
        "amount": amount,
        "currency": currency,
    }


# ---------------------------------------------------------------------- the session


async def test_welcome_then_history_then_live(live: Live) -> None:
    rules = english()
    auction = await live.create(rules)
    token = await live.register(auction, "early")
    await live.wait_phase(auction, "running")
    for amount in ("1.00", "2.00"):
        reply = await live.post(
            f"/api/v1/auctions/{auction}/bids", {"amount": amount, "currency": "EUR"}, token
        )
        assert reply.status == 201
    head = (await live.state(auction))["seq"]

    ws = await live.connect(auction, live.token("eye", "observer", auction), since=0)
    assert ws.subprotocol == "gavel.v1"  # selected; the token is never echoed
    welcome = json.loads(await ws.recv())
    assert welcome == {
        "protocol": "gavel.v1",
        "auction_id": auction,
        "role": "observer",
        "you": None,
        "seq": head,
        "server_time": welcome["server_time"],
        "type": "welcome",
    }
    assert abs(welcome["server_time"] - now_us()) < 2 * S
    tape = Tape(ws)
    await tape.wait(lambda t: t.last_seq() == head)
    assert tape.seqs() == list(range(1, head + 1))
    first = tape.events()[0]
    assert first["event"]["type"] == "AuctionCreated"
    assert first["server_time"] == first["event"]["at"]
    assert [e["event"]["type"] for e in tape.events()][-2:] == ["BidAccepted", "BidAccepted"]

    reply = await live.post(
        f"/api/v1/auctions/{auction}/bids", {"amount": "3.00", "currency": "EUR"}, token
    )
    live_seq = reply.json()["seq"]
    await tape.wait(lambda t: t.last_seq() == live_seq)
    assert tape.seqs() == list(range(1, live_seq + 1))
    assert tape.event(live_seq)["bidder"] == "Bidder 1"  # type: ignore[index]

    # A bidder is welcomed with its own label; resuming from the head sends no history.
    bidder = Tape(await live.connect(auction, token, since=live_seq))
    await bidder.wait(lambda t: t.messages("welcome"))
    assert bidder.messages("welcome")[0]["you"] == "Bidder 1"
    assert bidder.messages("welcome")[0]["role"] == "bidder"
    await asyncio.sleep(2 * HEARTBEAT_S)
    assert bidder.events() == []
    await bidder.close()
    await tape.close()


async def test_heartbeats_carry_server_time_and_the_next_deadline(live: Live) -> None:
    rules = english(duration=30)
    auction = await live.create(rules)
    tape = await open_tape(live, auction, live.officer)
    await tape.wait(lambda t: len(t.messages("heartbeat")) >= 3, timeout=5)
    beats = tape.frames
    heartbeats = [(at, f) for at, f in beats if f["type"] == "heartbeat"]
    for _, beat in heartbeats:
        assert set(beat) == {"seq", "server_time", "next_deadline", "type"}
        assert abs(beat["server_time"] - now_us()) < 2 * S
        assert beat["next_deadline"] in (rules["starts_at"], rules["ends_at"])
        assert beat["seq"] >= 1
    times = [beat["server_time"] for _, beat in heartbeats]
    assert times == sorted(times)
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(heartbeats)]
    assert all(HEARTBEAT_S * 0.5 < gap < HEARTBEAT_S * 4 for gap in gaps), gaps
    await tape.wait(lambda t: t.messages("heartbeat")[-1]["next_deadline"] == rules["ends_at"])
    await tape.close()


@pytest.mark.parametrize("amount", ["1e5", "1E+2", " 12.5 ", "+12", "NaN", "1_000"])
async def test_an_amount_outside_the_grammar_gets_the_same_code_over_http_and_socket(
    live: Live, amount: str
) -> None:
    # contracts.decimal is the one parser of both: invalid_field, naming the member.
    auction = await live.create(english())
    token = await live.register(auction, "same")
    await live.wait_phase(auction, "running")
    over_http = await live.post(
        f"/api/v1/auctions/{auction}/bids", {"amount": amount, "currency": "EUR"}, token
    )
    problem = over_http.json()
    assert (over_http.status, problem["code"], problem["field"]) == (422, "invalid_field", "amount")
    tape = await open_tape(live, auction, token)
    await tape.wait(lambda t: t.messages("welcome"))
    reject = await tape.request(bid(amount))
    assert (reject["type"], reject["code"]) == ("reject", problem["code"])
    # The same words, the socket's led by the member's name (HTTP has it in `field`).
    assert reject["detail"] == f"amount {problem['detail']}"
    await tape.close()


async def test_a_frame_over_the_limit_closes_1009_without_an_error_frame(live: Live) -> None:
    # docs/protocol.md, close codes: a frame over 4096 bytes (contracts.messages
    # MAX_CLIENT_FRAME) closes the socket with 1009; no error frame exists for it.
    auction = await live.create(english())
    tape = await open_tape(live, auction, live.officer)
    await tape.wait(lambda t: t.messages("welcome"))
    head = '{"type": "pass", "request_id": "big", "pad": "'
    at_limit = head + "x" * (m.MAX_CLIENT_FRAME - len(head) - 2) + '"}'
    assert len(at_limit.encode()) == m.MAX_CLIENT_FRAME
    await tape.ws.send(at_limit)  # read, and answered as any frame is
    error = await tape.wait(lambda t: t.messages("error"))
    assert error[0]["code"] == "unknown_field"
    await tape.ws.send(at_limit + " ")  # one byte more (and still JSON)
    await tape.wait(lambda t: t.closed)
    assert tape.closed is not None and tape.closed.rcvd is not None
    assert tape.closed.rcvd.code == m.CLOSE_TOO_BIG == 1009
    assert len(tape.messages("error")) == 1  # nothing answered the big frame


async def test_bids_on_the_socket_are_acked_or_rejected_by_request_id(live: Live) -> None:
    auction = await live.create(english())
    token = await live.register(auction, "sock")
    other = await live.register(auction, "other")
    await live.wait_phase(auction, "running")
    tape = await open_tape(live, auction, token)
    await tape.wait(lambda t: t.messages("welcome"))

    first = bid("5.00")
    ack = await tape.request(first)
    assert ack["type"] == "ack" and ack["request_id"] == first["request_id"]
    assert ack["event"]["type"] == "BidAccepted" and ack["event"]["price"] == 500
    assert ack["event"]["bidder"] == "Bidder 1" and ack["event"]["you"] is True
    assert ack["seq"] == ack["event"]["seq"] and ack["server_time"] == ack["event"]["at"]
    # Acknowledged only once durable, so the log already holds it.
    logged = [e for e in await live.events(auction, ack["seq"] - 1)]
    assert logged[0]["event"]["command_id"] == ack["event"]["command_id"]
    await tape.wait(lambda t: t.event(ack["seq"]))
    assert tape.event(ack["seq"]) == ack["event"]

    for message, code in [
        (bid("5.50"), "insufficient_improvement"),
        (bid("9.00", "USD"), "wrong_currency"),
        (bid("9.001"), "too_many_decimals"),
        # Not a plain decimal (contracts.decimal): the code an HTTP body gets for it.
        (bid("abc"), "invalid_field"),
        (bid("1E+2"), "invalid_field"),
        (bid(" 12.5 "), "invalid_field"),
        (bid("1e5"), "invalid_field"),
        ({"type": "withdraw", "request_id": "w-1"}, "not_supported_by_format"),
    ]:
        reject = await tape.request(message)
        assert reject["type"] == "reject" and reject["code"] == code, reject
        assert reject["request_id"] == message["request_id"]
        assert isinstance(reject["seq"], int)
        assert isinstance(reject["detail"], str) and reject["detail"].strip(), reject  # says why
        if code == "invalid_field":  # the detail names the member, as HTTP's `field` does
            assert reject["detail"].startswith("amount "), reject

    # Frames that are not messages are answered with an error; the socket stays open.
    for raw, code in [
        ("not json", "bad_json"),
        ("[1]", "bad_message"),
        ('{"type": "shout"}', "unknown_type"),
        ('{"type": "bid", "request_id": "n", "amount": 5, "currency": "EUR"}', "invalid_field"),
        ('{"type": "bid", "request_id": "n", "currency": "EUR"}', "missing_field"),
        ('{"type": "pass", "request_id": "n", "extra": 1}', "unknown_field"),
        ('{"type": "subscribe", "since": 0}', "already_subscribed"),
    ]:
        count = len(tape.messages("error"))
        await tape.ws.send(raw)
        await tape.wait(lambda t, n=count: len(t.messages("error")) > n)
        error = tape.messages("error")[-1]
        assert error["code"] == code, (raw, error)
        assert {"detail", "seq", "server_time"} <= set(error)
    assert (await tape.request(bid("6.00")))["type"] == "ack"

    # Many requests in flight at once: each gets exactly one answer.
    burst = [bid(f"{amount}.00") for amount in range(7, 47)]
    for message in burst:
        await tape.ws.send(json.dumps(message))
    await tape.wait(lambda t: all(t.answer(m["request_id"]) for m in burst))
    answers = [tape.answer(m["request_id"]) for m in burst]
    assert all(a is not None and a["type"] in ("ack", "reject") for a in answers)
    replies = [f for f in tape.messages() if f.get("request_id", "").startswith("r-")]
    assert len({f["request_id"] for f in replies}) == len(replies)  # never answered twice

    # Observers cannot bid; another bidder's socket bids as that bidder only.
    watcher = await open_tape(live, auction, live.token("eye", "observer", auction))
    refused = await watcher.request(bid("100.00"))
    assert (refused["type"], refused["code"]) == ("reject", "forbidden")
    theirs = await open_tape(live, auction, other)
    top = (await live.state(auction))["ranking"][0]["price"] // 100
    ack = await theirs.request(bid(f"{top + 1}.00"))
    assert ack["event"]["bidder"] == "Bidder 2" and ack["event"]["you"] is True
    await tape.wait(lambda t: t.event(ack["seq"]))
    assert tape.event(ack["seq"])["bidder"] == "Bidder 2"  # type: ignore[index]
    assert "you" not in tape.event(ack["seq"])  # type: ignore[operator]
    for each in (tape, watcher, theirs):
        await each.close()


async def test_resume_delivers_exactly_the_missed_events_while_bidding_goes_on(
    live: Live,
) -> None:
    auction = await live.create(english())
    tokens = [await live.register(auction, f"racer-{i}") for i in range(3)]
    observer = live.token("eye", "observer", auction)
    await live.wait_phase(auction, "running")
    reference = await open_tape(live, auction, observer)
    prices = itertools.count(1)
    stop = asyncio.Event()

    async def keep_bidding(token: str) -> int:
        tape = await open_tape(live, auction, token)
        sent = 0
        while not stop.is_set():
            answer = await tape.request(bid(f"{next(prices)}.00"))
            assert answer["type"] in ("ack", "reject")
            sent += 1
        await tape.close()
        return sent

    bidders = [asyncio.create_task(keep_bidding(token)) for token in tokens]
    try:
        seen: list[dict[str, Any]] = []
        since = 0
        for _ in range(3):
            tape = await open_tape(live, auction, observer, since=since)
            target = since + 15
            await tape.wait(lambda t, n=target: t.last_seq() >= n)
            frames = tape.events()
            assert [f["seq"] for f in frames] == list(range(since + 1, since + 1 + len(frames)))
            seen += frames
            await tape.close()
            since = frames[-1]["seq"]
            # Miss some events while the others keep bidding.
            await reference.wait(lambda t, n=since: t.last_seq() >= n + 20)
        tape = await open_tape(live, auction, observer, since=since)
        await asyncio.sleep(0.2)
    finally:
        stop.set()
        sent = await asyncio.gather(*bidders)
    assert sum(sent) > 40
    head = (await live.state(auction))["seq"]
    await tape.wait(lambda t: t.last_seq() >= head)
    await reference.wait(lambda t: t.last_seq() >= head)
    seen += tape.events()
    # Every seq exactly once, in order, and each as the reference observer saw it.
    assert [f["seq"] for f in seen] == list(range(1, head + 1))
    assert reference.seqs() == list(range(1, head + 1))
    assert [f["event"] for f in seen] == [f["event"] for f in reference.events()]
    await tape.close()
    await reference.close()


async def test_a_history_longer_than_the_socket_queue_is_delivered(live: Live) -> None:
    # Regression: history used to count against the live queue, so a client more than
    # GAVEL_SOCKET_QUEUE events behind was closed as too slow, over and over.
    auction = await live.create(english(start_in=60))
    semaphore = asyncio.Semaphore(8)

    async def register(i: int) -> None:
        async with semaphore:
            await live.register(auction, f"crowd-{i}")

    await asyncio.gather(*(register(i) for i in range(2 * QUEUE)))
    head = 2 * QUEUE + 1
    tape = await open_tape(live, auction, live.officer)
    await tape.wait(lambda t: t.last_seq() >= head or t.closed)
    assert tape.closed is None
    assert tape.seqs() == list(range(1, head + 1))
    await tape.close()


async def test_history_beyond_the_channels_memory_is_read_from_the_log(live: Live) -> None:
    auction = await live.create(english(start_in=60))
    semaphore = asyncio.Semaphore(8)

    async def register(i: int) -> None:
        async with semaphore:
            await live.register(auction, f"many-{i}")

    await asyncio.gather(*(register(i) for i in range(Channel.RECENT + 20)))
    head = Channel.RECENT + 21
    far = await open_tape(live, auction, live.officer)  # seq 1 is no longer in memory
    near = await open_tape(live, auction, live.officer, since=head - 3)  # in memory
    for tape in (far, near):
        await tape.wait(lambda t: t.last_seq() >= head or t.closed)
        assert tape.closed is None
    assert far.seqs() == list(range(1, head + 1))
    assert near.seqs() == [head - 2, head - 1, head]
    # Both paths render the same frames, and live events follow either without a gap.
    for seq in near.seqs():
        assert near.event(seq) == far.event(seq)
    await live.register(auction, "late")
    for tape in (far, near):
        await tape.wait(lambda t: t.last_seq() == head + 1)
    assert far.seqs()[-2:] == near.seqs()[-2:] == [head, head + 1]
    await far.close()
    await near.close()


# ---------------------------------------------------------------------- the handshake


async def test_origins_are_checked_against_the_allow_list(live: Live) -> None:
    auction = await live.create(english(start_in=60))
    for origin in ("https://evil.example", f"http://127.0.0.1:{live.port}", "null"):
        ws = await live.connect(auction, live.officer, since=None, origin=origin)
        assert await closed_with(ws) == (4403, "origin not allowed")
    for origin in ORIGINS.split(",") + [None]:  # non-browser clients send no Origin
        tape = await open_tape(live, auction, live.officer, origin=origin)
        await tape.wait(lambda t: t.messages("welcome"))
        assert tape.closed is None
        await tape.close()


async def test_bad_tokens_are_closed_with_4401(live: Live) -> None:
    auction = await live.create(english(start_in=60))
    other = await live.create(english(start_in=60))
    key = live.process.key
    expired = auth.issue(
        key,
        sub="o",
        role=auth.Role.OFFICER,
        auction=None,
        ttl_s=1,
        now_s=int(time.time()) - 600,
        jti=auth.new_jti(),
    )
    for token, reason in [
        ("garbage", "token_malformed"),
        (expired, "token_expired"),
        (live.officer[:-4] + "AAAA", "token_bad_signature"),
        (live.token("p", "bidder", other), "wrong_auction"),
    ]:
        ws = await live.connect(auction, token, since=None)
        assert await closed_with(ws) == (4401, reason)
    # No token at all: only the protocol is offered.
    async with connect(
        f"ws://127.0.0.1:{live.port}/ws/v1/auctions/{auction}",
        subprotocols=["gavel.v1"],  # type: ignore[list-item]
    ) as ws:
        assert await closed_with(ws) == (4401, "token_missing")
    # An Authorization header works for clients that can send one (the protocol is
    # still negotiated: a client that offers no subprotocol is refused at the upgrade).
    async with connect(
        f"ws://127.0.0.1:{live.port}/ws/v1/auctions/{auction}",
        subprotocols=["gavel.v1"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {live.officer}"},
    ) as ws:
        await ws.send(json.dumps({"type": "subscribe", "since": 0}))
        assert json.loads(await ws.recv())["type"] == "welcome"
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            f"ws://127.0.0.1:{live.port}/ws/v1/auctions/{auction}",
            additional_headers={"Authorization": f"Bearer {live.officer}"},
        )
    assert refused.value.response.status_code == 400
    # Both ways at once is one token too many.
    async with connect(
        f"ws://127.0.0.1:{live.port}/ws/v1/auctions/{auction}",
        subprotocols=["gavel.v1", f"gavel.bearer.{live.officer}"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {live.officer}"},
    ) as ws:
        assert await closed_with(ws) == (4401, "token_malformed")


async def test_handshakes_over_the_rate_are_refused_with_429_before_the_upgrade(
    start_server: Callable[..., Live],
) -> None:
    # Three handshakes per address, two per token, refilling too slowly to matter here.
    limited = start_server(
        GAVEL_WS_RATE_PER_S="0.001",
        GAVEL_WS_RATE_BURST="3",
        GAVEL_WS_TOKEN_RATE_PER_S="0.001",
        GAVEL_WS_TOKEN_RATE_BURST="2",
        GAVEL_HEARTBEAT_S=str(HEARTBEAT_S),
    )
    auction = await limited.create(english(start_in=60))

    def observer() -> str:
        return limited.token(f"o-{next(_REQUEST_IDS)}", "observer", auction)

    async def refused(token: str, address: str) -> Any:
        with pytest.raises(InvalidStatus) as caught:
            await limited.connect(auction, token, local_addr=(address, 0))
        return caught.value.response

    # A burst from one address: the first three connect, the fourth is refused.
    tapes = [await open_tape(limited, auction, observer()) for _ in range(3)]
    for tape in tapes:
        await tape.wait(lambda t: t.messages("welcome"))
    answer = await refused(observer(), "127.0.0.1")
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) >= 1
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    problem = json.loads(answer.body)
    assert problem["code"] == "rate_limited" and "address" in problem["detail"]
    # Meanwhile another address still connects, and the open sockets keep streaming.
    shared = observer()
    other = await open_tape(limited, auction, shared, local_addr=("127.0.0.2", 0))
    await other.wait(lambda t: t.messages("welcome"))
    await other.wait(lambda t: t.messages("heartbeat"))
    for tape in tapes:
        await tape.wait(lambda t: t.messages("heartbeat"))
        assert tape.closed is None
    # Per token: the same token from a third, fresh address is over its own bucket.
    second = await open_tape(limited, auction, shared, local_addr=("127.0.0.2", 0))
    await second.wait(lambda t: t.messages("welcome"))
    answer = await refused(shared, "127.0.0.3")
    assert answer.status_code == 429
    assert "token" in json.loads(answer.body)["detail"]
    # A bad token is not the limiter's business: it is closed with 4401 after the upgrade.
    ws = await limited.connect(auction, "garbage", since=None, local_addr=("127.0.0.4", 0))
    assert await closed_with(ws) == (4401, "token_malformed")
    for tape in [*tapes, other, second]:
        await tape.close()


async def test_the_first_message_must_be_a_valid_subscribe(live: Live) -> None:
    auction = await live.create(english(start_in=60))
    for first in [
        json.dumps(bid("1.00")),
        "hello",
        '{"type": "subscribe", "since": -1}',
        '{"type": "subscribe", "since": "0"}',
        # Regression: a since beyond the log silently swallowed every event up to it.
        '{"type": "subscribe", "since": 1000}',
        '{"type": "subscribe", "since": 100000000000000000000000}',
    ]:
        ws = await live.connect(auction, live.officer, since=None)
        await ws.send(first)
        code, _ = await closed_with(ws)
        assert code == 4400, first
    ws = await live.connect("no-such-auction", live.officer, since=0)
    assert await closed_with(ws) == (4400, "unknown auction")
    with pytest.raises(InvalidStatus) as refused:
        await live.connect(f"{auction}/extra", live.officer)
    assert refused.value.response.status_code == 404


# ---------------------------------------------------------------------- visibility


async def test_sealed_bids_are_never_streamed_before_the_end(live: Live) -> None:
    starts = now_us() + int(0.2 * S)
    rules = {
        "format": "sealed",
        "currency": "EUR",
        "starts_at": starts,
        "ends_at": starts + int(1.2 * S),
        "reserve_price": "10.00",
    }
    auction = await live.create(rules)
    t1 = await live.register(auction, "sealer-1")
    t2 = await live.register(auction, "sealer-2")
    one = await open_tape(live, auction, t1)
    two = await open_tape(live, auction, t2)
    eye = await open_tape(live, auction, live.token("eye", "observer", auction))
    boss = await open_tape(live, auction, live.officer)
    await live.wait_phase(auction, "running")

    ack1 = await one.request(bid("70.00"))
    ack2 = await two.request(bid("60.00"))
    assert ack1["event"]["price"] == 7000 and ack2["event"]["price"] == 6000
    ack2b = await two.request(bid("65.00"))  # a sealed bid may be replaced
    for tape in (one, two, eye, boss):
        await tape.wait(lambda t: t.last_seq() >= ack2b["seq"])
    for seq, owner in [(ack1["seq"], one), (ack2["seq"], two), (ack2b["seq"], two)]:
        for tape in (one, two, eye, boss):
            event = tape.event(seq)
            if tape is owner:
                assert event is not None and event["type"] == "BidAccepted" and event["you"]
            else:
                assert event == {"type": "Redacted"}, (seq, event)
    # No amount leaks through the public state either.
    for token in (t2, live.token("eye", "observer", auction), live.officer):
        assert (await live.state(auction, token))["ranking"] is None

    for tape in (one, two, eye, boss):
        await tape.wait(lambda t: any(e["event"]["type"] == "AuctionEnded" for e in t.events()))
    ended = {id(tape): tape.events()[-1]["event"] for tape in (one, two, eye, boss)}
    for tape in (one, two, eye):
        final = ended[id(tape)]
        assert final["type"] == "AuctionEnded" and final["outcome"] == "awarded"
        assert final["winners"] == ["Bidder 1"] and final["price"] == 7000
        assert [(r["bidder"], r["price"]) for r in final["ranking"]] == [
            ("Bidder 1", 7000),
            ("Bidder 2", 6500),
        ]
    officer_view = ended[id(boss)]
    assert officer_view["winners"] == ["sealer-1"]
    assert [r["bidder"] for r in officer_view["ranking"]] == ["sealer-1", "sealer-2"]
    # Before the end, no frame to the observer carried an amount.
    for frame in eye.events()[:-1]:
        assert not {"price", "limit", "ranking"} & set(frame["event"]), frame
    # After the end the log may be read in full (still by label).
    late = await open_tape(live, auction, live.token("late", "observer", auction))
    head = ack2b["seq"] + 1
    await late.wait(lambda t: t.last_seq() >= head)
    assert late.event(ack1["seq"])["bidder"] == "Bidder 1"  # type: ignore[index]
    assert late.event(ack1["seq"])["price"] == 7000  # type: ignore[index]
    for tape in (one, two, eye, boss, late):
        await tape.close()


async def test_a_multiround_bid_is_private_until_its_turn_ends(live: Live) -> None:
    rules = {
        "format": "multiround",
        "currency": "EUR",
        "starts_at": now_us() + int(0.5 * S),
        "turn_us": 20 * S,
        "step": {"amount": "1.00"},
        "rounds": 1,
    }
    auction = await live.create(rules)
    t1 = await live.register(auction, "mr-1", initial_bid="900.00")
    t2 = await live.register(auction, "mr-2", initial_bid="800.00")
    one = await open_tape(live, auction, t1)
    two = await open_tape(live, auction, t2)
    eye = await open_tape(live, auction, live.token("eye", "observer", auction))
    boss = await open_tape(live, auction, live.officer)

    def turn_of(tape: Tape) -> str | None:
        started = [e["event"] for e in tape.events() if e["event"]["type"] == "TurnStarted"]
        return started[-1]["bidder"] if started else None

    await boss.wait(lambda t: turn_of(t) == "mr-1")
    await eye.wait(lambda t: turn_of(t) == "Bidder 1")

    started = next(e["event"] for e in eye.events() if e["event"]["type"] == "RoundStarted")
    assert started["order"] == ["Bidder 1", "Bidder 2"]  # worst offer first, by label
    officer_round = next(e["event"] for e in boss.events() if e["event"]["type"] == "RoundStarted")
    assert officer_round["order"] == ["mr-1", "mr-2"]

    out_of_turn = await two.request(bid("700.00"))
    assert (out_of_turn["type"], out_of_turn["code"]) == ("reject", "out_of_turn")
    ack = await one.request(bid("850.00"))
    assert ack["type"] == "ack" and ack["event"]["price"] == 85000
    for tape in (one, two, eye, boss):
        await tape.wait(lambda t: t.last_seq() >= ack["seq"])
    assert eye.event(out_of_turn["seq"]) == {"type": "Redacted"}
    assert one.event(out_of_turn["seq"]) == {"type": "Redacted"}
    rejected = boss.event(out_of_turn["seq"])
    assert rejected is not None and rejected["bidder"] == "mr-2"  # officers see rejections
    for tape in (two, eye, boss):
        assert tape.event(ack["seq"]) == {"type": "Redacted"}
    assert one.event(ack["seq"])["price"] == 85000  # type: ignore[index]
    assert (await live.state(auction, t2))["ranking"][1]["price"] == 90000  # not yet public

    passed = await one.request({"type": "pass", "request_id": "pass-1"})
    assert passed["type"] == "ack"
    for tape, name in [(one, "Bidder 1"), (two, "Bidder 1"), (eye, "Bidder 1"), (boss, "mr-1")]:
        turn_end = await tape.wait(
            lambda t: next(
                (e["event"] for e in t.events() if e["event"]["type"] == "TurnEnded"), None
            )
        )
        assert (turn_end["bidder"], turn_end["price"], turn_end["passed"]) == (name, 85000, True)

    await two.request({"type": "pass", "request_id": "pass-2"})
    for tape in (one, two, eye, boss):
        await tape.wait(lambda t: t.events() and t.events()[-1]["event"]["type"] == "AuctionEnded")
    assert eye.events()[-1]["event"]["winners"] == ["Bidder 2"]
    assert two.events()[-1]["event"]["winners"] == ["Bidder 2"]
    assert boss.events()[-1]["event"]["winners"] == ["mr-2"]
    for tape in (one, two, eye):
        assert "mr-1" not in json.dumps(tape.events()) and "mr-2" not in json.dumps(tape.events())
    for tape in (one, two, eye, boss):
        await tape.close()


# ---------------------------------------------------------------------- slow consumers


async def test_a_socket_that_stops_reading_is_dropped_and_others_keep_their_latency(
    live: Live,
) -> None:
    auction = await live.create(english())
    runner = await live.register(auction, "fast")
    fodder = [f"fodder-{i}" for i in range(160)]
    semaphore = asyncio.Semaphore(8)

    async def register(party: str) -> None:
        async with semaphore:
            await live.register(auction, party)

    await asyncio.gather(*(register(party) for party in fodder))
    await live.wait_phase(auction, "running")
    head = (await live.state(auction))["seq"]

    # The slow client: a tiny receive buffer, and a library told to stop reading at once.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", live.port))
    slow = await live.connect(
        auction, live.officer, since=head, sock=sock, max_queue=1, ping_interval=None
    )
    watcher = await open_tape(live, auction, live.token("eye", "observer", auction), since=head)
    bidder = await open_tape(live, auction, runner, since=head)
    prices = itertools.count(1)
    latencies: list[tuple[float, float]] = []  # (ack, seen by the watcher), seconds

    async def one_bid() -> None:
        sent = time.monotonic()
        message = bid(f"{next(prices)}.00")
        answer = await bidder.request(message)
        acked = time.monotonic()
        assert answer["type"] == "ack", answer
        seen = await watcher.wait(lambda t: t.arrival(answer["seq"]))
        latencies.append((acked - sent, seen - sent))

    for _ in range(20):
        await one_bid()
    before = list(latencies)
    latencies.clear()

    async def gauge(name: str) -> float:
        for line in (await live.metrics()).splitlines():
            if line.startswith(name + " "):
                return float(line.split(" ")[1])
        raise AssertionError(f"no {name}")

    drops_before = await gauge("gavel_sockets_dropped_slow_total")
    sockets_before = await gauge("gavel_sockets_connected")  # slow, watcher and bidder

    async def dropped() -> bool:
        return await gauge("gavel_sockets_dropped_slow_total") > drops_before

    stop = asyncio.Event()

    async def keep_bidding() -> None:
        while not stop.is_set():
            await one_bid()
            await asyncio.sleep(0.01)

    received: list[int] = []

    async def read_slow() -> ConnectionClosed:
        """The slow client, reading again: what was buffered, then the close frame."""
        try:
            async with asyncio.timeout(30):
                while True:
                    frame = json.loads(await slow.recv())
                    if frame["type"] == "event":
                        received.append(frame["seq"])
        except ConnectionClosed as closed:
            return closed
        raise AssertionError("the slow socket was never closed")

    bidding = asyncio.create_task(keep_bidding())
    note = "n" * 60_000  # each event now costs the slow socket's buffers 60 kB
    started = time.monotonic()
    try:
        for index, party in enumerate(fodder):
            reply = await live.post(
                f"/api/v1/auctions/{auction}/disqualify",
                {"bidder": party, "note": note},
                live.officer,
            )
            assert reply.status == 200, reply.body
            if index % 5 == 4 and await dropped():
                break
        else:
            raise AssertionError("the slow socket was never dropped")
        # Once dropped, the slow client reads again at once: the server keeps the
        # unread frames and its close frame for Sanic's GRACEFUL_TCP_CLOSE_TIMEOUT
        # (5 s) and then aborts the connection, which a busy machine could outlast if
        # the reading waited for the checks below.
        reading = asyncio.create_task(read_slow())
        await asyncio.sleep(0.3)  # the others go on after the drop
    finally:
        stop.set()
        await bidding
    during = latencies
    drop_took = time.monotonic() - started

    assert len(during) >= 5
    worst_before = max(max(pair) for pair in before)
    worst_during = max(max(pair) for pair in during)
    assert worst_during < 1.0, (worst_before, worst_during, drop_took)
    assert await gauge("gavel_sockets_connected") == sockets_before - 1  # the slow one left
    # The others got every event, in order, none missing.
    final = (await live.state(auction))["seq"]
    for tape in (watcher, bidder):
        await tape.wait(lambda t: t.last_seq() >= final)
        assert tape.closed is None
        assert tape.seqs() == list(range(head + 1, final + 1))

    # The slow client, reading again, got what was buffered, then 4408 with its resume
    # point, which is exactly the last event it received.
    rcvd = (await reading).rcvd
    assert rcvd is not None and rcvd.code == 4408
    resume_from = int(rcvd.reason.rsplit(" ", 1)[1])
    assert received == list(range(head + 1, resume_from + 1))
    assert resume_from < final
    # ... and resuming from there delivers the rest, exactly.
    again = await open_tape(live, auction, live.officer, since=resume_from)
    await again.wait(lambda t: t.last_seq() >= final)
    assert again.seqs() == list(range(resume_from + 1, final + 1))
    for tape in (watcher, bidder, again):
        await tape.close()


@contextlib.asynccontextmanager
async def events_table_gone(live: Live) -> Any:
    """The server's events table renamed away for the block: every read of a log
    fails in PostgreSQL itself, as when storage is unavailable."""
    import asyncpg  # type: ignore[import-untyped]

    dsn = live.process.database_url
    assert dsn is not None
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("ALTER TABLE events RENAME TO events_gone")
        try:
            yield
        finally:
            await conn.execute("ALTER TABLE events_gone RENAME TO events")
    finally:
        await conn.close()


async def test_a_log_that_cannot_be_read_closes_with_try_again_later(live: Live) -> None:
    auction = await live.create(english(start_in=60))
    token = live.token("w", "observer", auction)
    async with events_table_gone(live):
        # An auction not in memory must be read from the log: that fails, and says so.
        ws = await live.connect("not-loaded-yet", live.officer)
        assert await closed_with(ws) == (1013, "storage_unavailable")
        # A loaded auction's recent events are in memory: watching it still works.
        tape = await open_tape(live, auction, token)
        await tape.wait(lambda t: t.seqs())
        assert tape.seqs()[0] == 1 and tape.closed is None
        await tape.close()
    # Storage back: the unknown auction is unknown again, not unavailable.
    ws = await live.connect("not-loaded-yet", live.officer)
    assert await closed_with(ws) == (4400, "unknown auction")


async def test_a_resume_from_the_log_is_paged_gapless_and_only_up_to_the_head(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Read a page at a time (the loop runs between pages); an event committed but not
    yet published is not rendered from the log (the views have not seen it) but comes
    live, rendered with its bidder's label."""
    import api.live.ws
    from api.auctions.views import Audience
    from api.live.core_source import CoreSession
    from api.storage.ports import StoredEvent
    from engine import RegisterBidder
    from engine.codec import encode_event
    from tests.api.auctions.test_crash import T0, Clock, FakeSocket, service_with_auction

    monkeypatch.setattr(api.live.ws, "HISTORY_PAGE", 2)
    service = await service_with_auction(Clock(T0))  # seqs 1..3: created, ann, bob
    channel = service.hub.channel("a-1")
    channel.recent.clear()  # as if long ago: read from the log
    # Committed, not yet published (the runner is between its commit and its publish).
    runner = service.runners["a-1"]
    (late,) = runner.auction.handle(RegisterBidder("r-cy", T0, "cyan"))
    await service.store.append(
        "a-1", [StoredEvent("a-1", late.seq, type(late).__name__, late.at, encode_event(late))]
    )
    ws = FakeSocket()
    ws.incoming.put_nowait(json.dumps({"type": "subscribe", "since": 0}))
    task = asyncio.create_task(
        api.live.ws.serve_session(
            ws,
            CoreSession(service, service.hub),
            "a-1",
            Audience("observer", "w"),
            queue_limit=100,
            heartbeat_s=60,
        )
    )
    assert (await asyncio.wait_for(ws.outgoing.get(), 5))["type"] == "welcome"
    await asyncio.sleep(0.05)
    channel.publish([late])  # the runner's publish
    frames = []
    while len(frames) < 4:
        frame = await asyncio.wait_for(ws.outgoing.get(), 5)
        if frame["type"] == "event":
            frames.append(frame)
    assert [f["seq"] for f in frames] == [1, 2, 3, 4]
    assert frames[3]["event"]["bidder"] == "Bidder 3"
    await ws.close()
    await task
    await service.close()


async def test_an_offer_of_compression_is_declined(live: Live) -> None:
    """Issue 16: the server negotiates no permessage-deflate (Sanic offers no extension,
    and the hub frames each frame once for every socket), whatever the client offers;
    ``gavel bench compression`` measured what it would save and cost (docs/benchmarks.md)."""
    auction = await live.create(english())
    ws = await live.connect(auction, live.token("eye", "observer", auction), compression="deflate")
    try:
        assert json.loads(await ws.recv())["type"] == "welcome"
        assert ws.protocol.extensions == []
        assert "Sec-WebSocket-Extensions" not in (ws.response.headers if ws.response else {})
    finally:
        await ws.close()
