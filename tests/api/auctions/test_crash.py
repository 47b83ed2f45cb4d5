"""Durability, proven the hard way: real PostgreSQL, real sockets, a real server process.

The storm test starts a server in a child process, has twenty bidders bid over websockets
as fast as they are acknowledged, SIGKILLs the server in the middle of it, starts a new
server process on the same database and checks what the issue promises:

* every bid that was acknowledged (with its seq) is in the stored log;
* the stored log replays through ``engine.replay`` to the state the restarted server
  reports (its whole public state, ranking included);
* the auction goes on: new bids are accepted and their seqs continue the log without a gap.

The close test kills a server before an auction's close and restarts it after: the close
is applied at its own time, not at the restart. The last tests drive the websocket
adapter against :class:`~api.auctions.service.Service` with an injected clock (on the in-memory
store and on PostgreSQL through the group-commit writer), so a bid can arrive exactly one
microsecond after the close, and show that a client cannot bring its own time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from api.auctions.outcomes import new_command_id
from api.auctions.runner import OutcomeUnknown
from api.auctions.service import Service
from api.auctions.state import public_state
from api.auctions.views import AuctionViews, Audience
from api.http.problems import ProblemError, parse_body
from api.live.core_source import CoreSession
from api.live.hub import Hub
from api.live.ws import serve_session
from api.storage import PostgresEventStore, create_pool, migrate
from api.storage.memory import MemoryEventStore
from api.storage.postgres import dsn_with_database
from api.storage.writer import GroupCommitWriter
from contracts import http as bodies
from contracts import messages as m
from contracts.rules_json import rules_from_json
from engine import (
    AuctionEnded,
    BidAccepted,
    CommandRejected,
    Event,
    PlaceBid,
    Reason,
    RegisterBidder,
    replay,
)
from engine.codec import decode_event
from loadtests.server_process import ServerProcess
from tests.api.conftest import _create_database, _drop_databases

S = 1_000_000  # one second in microseconds
BIDDERS = 20
IN_FLIGHT = 2  # bids each bidder keeps unanswered, so the kill always finds some in flight
STEP_MINOR = 1  # beat_own by one cent: every bid a bidder sends is accepted
START_MINOR = 1_000_000  # 10,000.00 EUR budget ceiling

# The server may be asked many times a second from one address while the test sets up;
# snapshots are taken often, so a restart restores one and replays only the tail.
SERVER_ENV = {
    "GAVEL_RATE_PER_S": "100000",
    "GAVEL_RATE_BURST": "100000",
    "GAVEL_SNAPSHOT_EVERY": "200",
}


# ------------------------------------------------------------------------------ HTTP


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer: status, decoded JSON body and headers."""

    status: int
    body: Any
    headers: dict[str, str]


def _http(method: str, url: str, token: str, body: Any = None) -> Answer:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, json.loads(response.read()), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Answer(error.code, json.loads(error.read() or b"null"), dict(error.headers))


async def http(method: str, url: str, token: str, body: Any = None) -> Answer:
    """``_http`` off the event loop."""
    return await asyncio.to_thread(_http, method, url, token, body)


def now_us() -> int:
    return time.time_ns() // 1000


def minor(amount_minor: int) -> str:
    """A minor-unit amount as the wire's decimal string."""
    return str(Decimal(amount_minor).scaleb(-2).quantize(Decimal("0.01")))


def reverse_rules(starts_at: int, ends_at: int) -> dict[str, Any]:
    """A reverse auction where each bid must beat only the bidder's own by one cent."""
    return {
        "format": "reverse",
        "currency": "EUR",
        "starts_at": starts_at,
        "ends_at": ends_at,
        "start_price": minor(START_MINOR),
        "step": {"amount": minor(STEP_MINOR)},
        "improvement": "beat_own",
    }


async def create_auction(
    server: ServerProcess, auction_id: str, rules: dict[str, Any], parties: list[str]
) -> dict[str, str]:
    """Create the auction and register ``parties``; return each party's bidder token."""
    officer = server.token("officer-1", "officer")
    created = await http(
        "POST", f"{server.url}/api/v1/auctions", officer, {"id": auction_id, "rules": rules}
    )
    assert created.status == 201, created.body
    tokens: dict[str, str] = {}
    for party in parties:
        answer = await http(
            "POST", f"{server.url}/api/v1/auctions/{auction_id}/bidders", officer, {"party": party}
        )
        assert answer.status == 201, answer.body
        tokens[party] = answer.body["token"]
    return tokens


async def stored_log(server: ServerProcess, auction_id: str) -> list[dict[str, Any]]:
    """Every event of the auction as an officer reads it over HTTP, 1,000 per page."""
    officer = server.token("officer-1", "officer")
    events: list[dict[str, Any]] = []
    while True:
        after = events[-1]["seq"] if events else 0
        page = await http(
            "GET", f"{server.url}/api/v1/auctions/{auction_id}/events?after={after}", officer
        )
        assert page.status == 200, page.body
        events += page.body["events"]
        if len(page.body["events"]) < 1000:
            return events


def decode(line: dict[str, Any]) -> Event:
    """The engine event of one line of the events route (a privileged view is canonical)."""
    data = line["event"]
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    event = decode_event(text.encode())
    assert (event.seq, event.at) == (line["seq"], line["server_time"])
    return event


async def column(dsn: str, query: str, *args: Any) -> list[Any]:
    """The first column of ``query``'s rows, straight from PostgreSQL."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(query, *args)
    finally:
        await conn.close()
    return [row[0] for row in rows]


async def database_log(dsn: str, auction_id: str) -> list[Event]:
    """The auction's events straight from PostgreSQL, in seq order."""
    query = "SELECT payload FROM events WHERE auction_id = $1 ORDER BY seq"
    return [decode_event(bytes(payload)) for payload in await column(dsn, query, auction_id)]


def restarted(server: ServerProcess) -> ServerProcess:
    """A new server process on the same database, trusting the same tokens."""
    again = ServerProcess(server.data_dir, database_url=server.database_url, env=SERVER_ENV)
    again.key = server.key
    return again


def metric(server: ServerProcess, name: str) -> float:
    """The value of an unlabelled line of the server's ``/metrics``."""
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=30) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def snapshot_seqs(dsn: str, auction_id: str) -> list[int]:
    """The seqs of the auction's stored snapshots."""
    query = "SELECT seq FROM snapshots WHERE auction_id = $1 ORDER BY seq"
    return await column(dsn, query, auction_id)


async def wait_until(at_us: int) -> None:
    delay = (at_us - now_us()) / S
    if delay > 0:
        await asyncio.sleep(delay)


# ------------------------------------------------------------------------------ bidders


@dataclass(slots=True)
class Ack:
    """A bid the server acknowledged: what was sent and what the ack said."""

    request_id: str
    price: int
    seq: int
    server_time: int
    command_id: str


@dataclass(slots=True)
class Bidder:
    """One bidder's socket session and everything it learned."""

    party: str
    token: str
    sent: dict[str, int] = field(default_factory=dict)  # request_id -> price, unanswered
    acks: list[Ack] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    lowest_sent: int = START_MINOR + STEP_MINOR
    welcome: dict[str, Any] | None = None


async def open_socket(server: ServerProcess, auction_id: str, token: str) -> ClientConnection:
    return await connect(
        f"{server.ws_url}/ws/v1/auctions/{auction_id}",
        subprotocols=[m.PROTOCOL, f"gavel.bearer.{token}"],  # type: ignore[list-item]
        open_timeout=10,
    )


async def bid_storm(ws: ClientConnection, bidder: Bidder, budget: int | None = None) -> None:
    """Keep ``IN_FLIGHT`` bids unanswered, each one cent under the last one sent.

    Ends when the socket closes (the server was killed) or, with ``budget``, once that
    many bids were answered. Each ack is recorded with its seq.
    """
    counter = 0

    async def send_one() -> None:
        nonlocal counter
        counter += 1
        request_id = f"{bidder.party}-{counter}"
        price = bidder.lowest_sent - STEP_MINOR
        bidder.lowest_sent = price
        bidder.sent[request_id] = price
        frame = {"type": "bid", "request_id": request_id, "amount": minor(price)}
        await ws.send(json.dumps({**frame, "currency": "EUR"}))

    async def send_next() -> None:
        # Once the server said goodbye, sending fails; the answers it wrote before its
        # close frame are still read below.
        with contextlib.suppress(ConnectionClosed):
            await send_one()

    answered = 0
    with contextlib.suppress(ConnectionClosed):
        for _ in range(IN_FLIGHT if budget is None else min(IN_FLIGHT, budget)):
            await send_one()
        async for raw in ws:
            message = json.loads(raw)
            kind = message["type"]
            if kind not in ("ack", "reject"):
                continue
            price = bidder.sent.pop(message["request_id"])
            if kind == "ack":
                bidder.acks.append(
                    Ack(
                        message["request_id"],
                        price,
                        message["seq"],
                        message["server_time"],
                        message["event"]["command_id"],
                    )
                )
            else:
                bidder.rejects.append(message)
            answered += 1
            if budget is not None and answered >= budget:
                return
            if budget is None or answered + len(bidder.sent) < budget:
                await send_next()


async def subscribe(ws: ClientConnection, since: int) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "subscribe", "since": since}))
    welcome = json.loads(await ws.recv())
    assert welcome["type"] == "welcome", welcome
    return dict(welcome)


# ------------------------------------------------------------------------------ the storm


async def start_storm(
    server: ServerProcess, auction_id: str, *, acked: int
) -> tuple[list[Bidder], list[ClientConnection], list[asyncio.Task[None]]]:
    """Create a started reverse auction with ``BIDDERS`` bidders, have each subscribe
    and storm it (:func:`bid_storm`); return once ``acked`` bids were acknowledged (or
    30 s passed)."""
    parties = [f"supplier-{i:02d}" for i in range(BIDDERS)]
    starts_at = now_us() + S // 2
    rules = reverse_rules(starts_at, starts_at + 600 * S)
    tokens = await create_auction(server, auction_id, rules, parties)
    bidders = [Bidder(party, tokens[party]) for party in parties]
    await wait_until(starts_at + 1000)
    sockets = [await open_socket(server, auction_id, b.token) for b in bidders]
    for ws, bidder in zip(sockets, bidders, strict=True):
        bidder.welcome = await subscribe(ws, 0)
    storm = [asyncio.create_task(bid_storm(ws, b)) for ws, b in zip(sockets, bidders, strict=True)]
    deadline = time.monotonic() + 30
    while sum(len(b.acks) for b in bidders) < acked and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return bidders, sockets, storm


async def test_sigkill_during_a_bid_storm_loses_no_acknowledged_bid(
    pg_dsn: str, tmp_path: Path
) -> None:
    server = ServerProcess(tmp_path, database_url=pg_dsn, env=SERVER_ENV)
    await asyncio.to_thread(server.start)
    try:
        auction_id = "storm"
        # Let the storm run until plenty of bids are acknowledged, then pull the plug.
        bidders, sockets, storm = await start_storm(server, auction_id, acked=1500)
        server.kill()
        await asyncio.wait_for(asyncio.gather(*storm), 10)
        for ws in sockets:
            await ws.close()
    finally:
        server.kill()

    acked = [ack for b in bidders for ack in b.acks]
    in_flight = sum(len(b.sent) for b in bidders)
    assert len(acked) >= 1500, "the storm never got going"
    assert in_flight > 0, "the kill found no bid in flight: it proves nothing"
    assert not [r for b in bidders for r in b.rejects], "every bid of the storm is valid"

    again = restarted(server)
    await asyncio.to_thread(again.start)
    try:
        lines = await stored_log(again, auction_id)
        log = [decode(line) for line in lines]

        # The HTTP view and the database hold the same log, gapless from seq 1.
        assert log == await database_log(pg_dsn, auction_id)
        assert [event.seq for event in log] == list(range(1, len(log) + 1))
        assert len(log) > 1000, "paging must have been exercised"

        # Every acknowledged bid is there, at its seq, as that bidder's bid at that price.
        by_seq = {event.seq: event for event in log}
        for bidder in bidders:
            for ack in bidder.acks:
                event = by_seq.get(ack.seq)
                assert isinstance(event, BidAccepted), (ack, event)
                assert (event.bidder, event.price, event.command_id, event.at) == (
                    bidder.party,
                    ack.price,
                    ack.command_id,
                    ack.server_time,
                )

        # It was rebuilt from its latest snapshot plus the tail, not from the whole log.
        snapshots = await snapshot_seqs(pg_dsn, auction_id)
        assert snapshots and snapshots[-1] > log[-1].seq - 400, (snapshots, log[-1].seq)
        assert (
            await asyncio.to_thread(metric, again, "gavel_auctions_restored_from_snapshot_total")
            == 1
        )

        # The stored log replays to what the restarted server says.
        officer = again.token("officer-1", "officer")
        state = await http("GET", f"{again.url}/api/v1/auctions/{auction_id}", officer)
        assert state.status == 200, state.body
        replayed = replay(log)
        views = AuctionViews()
        for event in log:
            views.observe(event)
        expected = public_state(
            auction_id, replayed, views, Audience("officer", "officer-1"), state.body["server_time"]
        )
        assert state.body == json.loads(json.dumps(expected))
        assert state.body["phase"] == "running"
        assert state.body["seq"] == log[-1].seq
        assert len(state.body["ranking"]) == BIDDERS

        # The auction goes on: every bidder resumes and bids again; seqs continue.
        head = log[-1].seq
        for bidder in bidders:
            bidder.acks.clear()
            bidder.sent.clear()
        sockets = [await open_socket(again, auction_id, b.token) for b in bidders]
        for ws in sockets:
            welcome = await subscribe(ws, head)
            assert welcome["seq"] == head
        rounds = 3
        await asyncio.wait_for(
            asyncio.gather(
                *(bid_storm(ws, b, budget=rounds) for ws, b in zip(sockets, bidders, strict=True))
            ),
            30,
        )
        for ws in sockets:
            await ws.close()
        assert not [r for b in bidders for r in b.rejects]
        new_seqs = sorted(ack.seq for b in bidders for ack in b.acks)
        assert new_seqs == list(range(head + 1, head + 1 + rounds * BIDDERS))
        after = [decode(line) for line in await stored_log(again, auction_id)]
        assert [event.seq for event in after] == list(range(1, head + 1 + rounds * BIDDERS))
        assert after[:head] == log
    finally:
        await asyncio.to_thread(again.stop)


async def test_sigterm_during_a_bid_storm_answers_every_committed_bid_before_going_away(
    pg_dsn: str, tmp_path: Path
) -> None:
    """Graceful shutdown: stop accepting, finish and commit what is queued, send its
    answers, then close every socket with 1001. No bid is committed unanswered."""
    server = ServerProcess(tmp_path, database_url=pg_dsn, env=SERVER_ENV)
    await asyncio.to_thread(server.start)
    try:
        auction_id = "term"
        bidders, sockets, storm = await start_storm(server, auction_id, acked=500)
        exit_code = await asyncio.to_thread(server.stop)
        await asyncio.wait_for(asyncio.gather(*storm), 10)
    finally:
        server.kill()

    assert exit_code == 0, server.log()
    assert sum(len(b.acks) for b in bidders) >= 500, "the storm never got going"
    # Every socket was told the server is going away (not dropped).
    assert {(ws.close_code, ws.close_reason) for ws in sockets} == {
        (m.CLOSE_GOING_AWAY, "server shutting down")
    }
    # A bid refused during the shutdown is refused with a typed reject, never dropped
    # after being committed: every BidAccepted stored was acknowledged to its bidder.
    for bidder in bidders:
        assert all(r["code"] == "unavailable" for r in bidder.rejects), bidder.rejects
    acked = {ack.command_id: ack.seq for b in bidders for ack in b.acks}
    stored = {
        event.command_id: event.seq
        for event in await database_log(pg_dsn, auction_id)
        if isinstance(event, BidAccepted)
    }
    assert stored == acked, (
        f"{len(set(stored) - set(acked))} committed bids were never acknowledged"
    )


async def test_a_close_that_passed_while_the_server_was_down_is_applied_at_its_own_time(
    pg_dsn: str, tmp_path: Path
) -> None:
    server = ServerProcess(tmp_path, database_url=pg_dsn, env=SERVER_ENV)
    await asyncio.to_thread(server.start)
    auction_id = "closes-while-down"
    try:
        starts_at = now_us() + S // 2
        ends_at = starts_at + 4 * S  # room for a slow machine to set up before the kill
        tokens = await create_auction(
            server, auction_id, reverse_rules(starts_at, ends_at), ["ann", "bob"]
        )
        await wait_until(starts_at + 1000)
        url = f"{server.url}/api/v1/auctions/{auction_id}/bids"
        for party, amount in (("ann", "90.00"), ("bob", "80.00")):
            answer = await http("POST", url, tokens[party], {"amount": amount, "currency": "EUR"})
            assert answer.status == 201, answer.body
    finally:
        server.kill()
    assert now_us() < ends_at, "the server must die before the close"

    await wait_until(ends_at + S)
    again = restarted(server)
    restart_at = now_us()
    await asyncio.to_thread(again.start)
    try:
        officer = again.token("officer-1", "officer")
        # Recovery re-arms the timer as the server comes up; the tick lands a moment later.
        give_up = time.monotonic() + 10
        while True:
            log = [decode(line) for line in await stored_log(again, auction_id)]
            if isinstance(log[-1], AuctionEnded) or time.monotonic() > give_up:
                break
            await asyncio.sleep(0.05)
        ended = log[-1]
        assert isinstance(ended, AuctionEnded)
        assert ended.at == ends_at < restart_at - S // 2
        assert ended.winners == ("bob",)
        state = await http("GET", f"{again.url}/api/v1/auctions/{auction_id}", officer)
        assert state.body["phase"] == "ended"
        assert state.body["result"]["at"] == ends_at
        assert replay(log) == replay(await database_log(pg_dsn, auction_id))
        late = await http(
            "POST",
            f"{again.url}/api/v1/auctions/{auction_id}/bids",
            tokens["ann"],
            {"amount": "70.00", "currency": "EUR"},
        )
        assert (late.status, late.body["code"]) == (409, "auction_closed")
    finally:
        await asyncio.to_thread(again.stop)


# ------------------------------------------------------------- server time at the close


class FakeSocket:
    """Just enough of a Sanic websocket for :func:`api.live.ws.serve_session`."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[str | None] = asyncio.Queue()
        self.outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed: tuple[int, str] | None = None

    async def recv(self) -> str | None:
        return await self.incoming.get()

    async def send(self, frame: str) -> None:
        self.outgoing.put_nowait(json.loads(frame))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)
        self.incoming.put_nowait(None)

    async def answer(self, request_id: str) -> dict[str, Any]:
        """The ack, reject or error for ``request_id``; events on the way are skipped."""
        while True:
            frame = await asyncio.wait_for(self.outgoing.get(), 5)
            answers = ("ack", "reject", "outcome_unknown")
            if frame["type"] in answers and frame["request_id"] == request_id:
                return frame
            if frame["type"] == "error":
                return frame


class Clock:
    """The server clock, set by the test."""

    def __init__(self, at: int) -> None:
        self.at = at

    def __call__(self) -> int:
        return self.at


T0 = 1_800_000_000 * S
STARTS_AT = T0 + 10 * S
ENDS_AT = T0 + 3600 * S


async def service_with_auction(clock: Clock, store: Any = None, appender: Any = None) -> Service:
    """A service on auction ``a-1`` (ann and bob registered) with the given clock, on
    ``store`` and ``appender`` (default: one in-memory store for both)."""
    store = store or MemoryEventStore()
    service = Service(store, appender or store, Hub(), clock=clock)
    rules = rules_from_json(reverse_rules(STARTS_AT, ENDS_AT))
    created = await service.create("a-1", rules, new_command_id("create"))
    assert not isinstance(created[0], CommandRejected)
    for party in ("ann", "bob"):
        events = await service.submit(
            "a-1",
            lambda at, party=party: RegisterBidder(
                new_command_id("r"), at, party, Decimal(0), Decimal(0), None
            ),
        )
        assert not isinstance(events[0], CommandRejected)
    return service


async def session(service: Service, party: str) -> tuple[FakeSocket, asyncio.Task[None]]:
    ws = FakeSocket()
    ws.incoming.put_nowait(m.to_json(m.Subscribe(0)))
    task = asyncio.create_task(
        serve_session(
            ws,
            CoreSession(service, service.hub),
            "a-1",
            Audience("bidder", party),
            queue_limit=1000,
            heartbeat_s=60,
        )
    )
    welcome = await asyncio.wait_for(ws.outgoing.get(), 5)
    assert welcome["type"] == "welcome"
    return ws, task


def bid(request_id: str, amount: str, **extra: Any) -> str:
    return json.dumps(
        {"type": "bid", "request_id": request_id, "amount": amount, "currency": "EUR", **extra}
    )


@pytest.mark.parametrize("storage", ["memory", "postgresql"])
@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(-1, True), (0, False), (1, False)],
    ids=["one-us-before-the-close", "at-the-close", "one-us-after-the-close"],
)
async def test_the_close_is_decided_by_server_time_to_the_microsecond(
    offset: int, accepted: bool, storage: str, pg_server_dsn: str
) -> None:
    """The clock is injected (a real one cannot be set to the microsecond); on
    ``postgresql`` every event goes through the group-commit writer into a real
    database, and the stored log is checked too."""
    clock = Clock(T0)
    writer: GroupCommitWriter | None = None
    pool: Any = None
    database = None
    if storage == "postgresql":
        database = _create_database(pg_server_dsn)
        pool = await create_pool(dsn_with_database(pg_server_dsn, database))
        async with pool.acquire() as conn:
            await migrate(conn)
        writer = GroupCommitWriter(pool)
        await writer.start()
        service = await service_with_auction(clock, PostgresEventStore(pool), writer)
    else:
        service = await service_with_auction(clock)
    ws, task = await session(service, "ann")
    try:
        clock.at = STARTS_AT + S
        ws.incoming.put_nowait(bid("early", "95.00"))
        assert (await ws.answer("early"))["type"] == "ack"

        clock.at = ENDS_AT + offset
        ws.incoming.put_nowait(bid("edge", "90.00"))
        answer = await ws.answer("edge")
        assert answer["server_time"] == ENDS_AT + offset
        runner = service.runners["a-1"]
        if accepted:
            assert answer["type"] == "ack"
            assert runner.auction.phase.value == "running"
        else:
            assert (answer["type"], answer["code"]) == ("reject", Reason.AUCTION_CLOSED.value)
            ended = runner.auction.ended
            assert ended is not None and ended.at == ENDS_AT
            assert ended.winners == ("ann",)
            assert runner.auction.book.get("ann")[3] == 9500  # type: ignore[index]
        # What was stored says the same: the bid at the close (or after) is not there.
        stored = [decode_event(row.payload) for row in await service.store.read("a-1")]
        bids = [event for event in stored if isinstance(event, BidAccepted)]
        assert [bid.price for bid in bids] == ([9500, 9000] if accepted else [9500])
    finally:
        await ws.close()
        await task
        await service.close()
        if writer is not None:
            await writer.close()
            await pool.close()
            _drop_databases(pg_server_dsn, {database})


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OSError("connection refused"), ("reject", "storage_unavailable")),
        (OutcomeUnknown("storage did not come back within 30 s"), ("outcome_unknown", None)),
    ],
    ids=["fails-outside-the-runner", "outcome-unknown"],
)
async def test_a_command_that_fails_is_still_answered(
    error: Exception, expected: tuple[str, str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any failure before the runner (loading an evicted auction from a failing log,
    say) is answered with a typed reject; the request is never left unanswered. A
    commit whose fate the runner could not learn (OutcomeUnknown) gets its own frame,
    ``outcome_unknown``: never a reject, since it may stand."""
    clock = Clock(T0)
    service = await service_with_auction(clock)
    ws, task = await session(service, "ann")
    clock.at = STARTS_AT + S
    try:

        async def failing(auction_id: str, make: Any, mark: Any = None) -> list[Event]:
            raise error

        monkeypatch.setattr(service, "submit", failing)
        ws.incoming.put_nowait(bid("lost", "95.00"))
        answer = await ws.answer("lost")
        assert (answer["type"], answer.get("code")) == expected, answer
        if isinstance(error, OutcomeUnknown):
            assert answer["detail"] == str(error)
        monkeypatch.undo()
        ws.incoming.put_nowait(bid("fine", "95.00"))
        assert (await ws.answer("fine"))["type"] == "ack"
    finally:
        await ws.close()
        await task
        await service.close()


async def test_client_supplied_times_are_refused_and_server_time_stamps_every_event() -> None:
    clock = Clock(T0)
    service = await service_with_auction(clock)
    ws, task = await session(service, "ann")
    try:
        clock.at = ENDS_AT + 1
        # A client claiming the bid was made before the close gets nowhere: the protocol
        # has no field for a client time, so the frame is refused as a whole...
        for name in ("at", "server_time", "client_time"):
            ws.incoming.put_nowait(bid(f"sneaky-{name}", "90.00", **{name: ENDS_AT - S}))
            answer = await ws.answer(f"sneaky-{name}")
            assert (answer["type"], answer["code"]) == ("error", "unknown_field")
        with pytest.raises(ProblemError) as refused:
            parse_body(b'{"amount": "90.00", "currency": "EUR", "at": 1}', bodies.BidBody)
        assert refused.value.problem.code == "unknown_field"

        # A well-formed bid is stamped with the server clock, which says it is too late.
        ws.incoming.put_nowait(bid("honest", "90.00"))
        answer = await ws.answer("honest")
        assert (answer["type"], answer["code"], answer["server_time"]) == (
            "reject",
            "auction_closed",
            ENDS_AT + 1,
        )
        log = [decode_event(row.payload) for row in await service.store.read("a-1")]
        assert [type(e).__name__ for e in log[-3:]] == [
            "AuctionStarted",
            "AuctionEnded",
            "CommandRejected",
        ]
        assert [e.at for e in log[-3:]] == [STARTS_AT, ENDS_AT, ENDS_AT + 1]
    finally:
        await ws.close()
        await task
        await service.close()


async def test_the_server_clock_stamps_commands_built_by_the_service() -> None:
    clock = Clock(T0)
    service = await service_with_auction(clock)
    try:
        seen: list[int] = []

        def make(at: int) -> PlaceBid:
            seen.append(at)
            return PlaceBid(new_command_id("b"), at, "bob", Decimal("99.00"), "EUR")

        clock.at = STARTS_AT + 123
        events = await service.submit("a-1", make)
        assert seen == [STARTS_AT + 123]
        assert [(type(e).__name__, e.at) for e in events] == [
            ("AuctionStarted", STARTS_AT),
            ("BidAccepted", STARTS_AT + 123),
        ]
        # A clock that steps back never moves the auction back.
        clock.at = STARTS_AT + 100

        def make_again(at: int) -> PlaceBid:
            return PlaceBid(new_command_id("b"), at, "bob", Decimal("98.00"), "EUR")

        (again,) = await service.submit("a-1", make_again)
        assert again.at == STARTS_AT + 123
    finally:
        await service.close()
