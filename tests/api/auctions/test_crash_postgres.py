"""Crashes past the application: PostgreSQL itself SIGKILLed under a bid storm, and an edge.

``test_crash.py`` kills the server; here the server lives on and its database dies.
PostgreSQL is a private one (:class:`~tests.api.killable_pg.KillablePostgres`, with a
slow disk), SIGKILLed eight times at random moments while bidders bid as fast as they
are answered (the postmaster alone, or with all its backends at once, which cuts a
COMMIT mid-way), and started again each time (crash recovery). What the issue asks,
checked on the log itself:

* the server recovers without a restart (same process), and the storm goes on;
* every acknowledged bid is in the log, at its seq, as acknowledged;
* no bid answered with a reject is in the log (a reject means nothing changed);
* every request gets exactly one answer: ``ack``, ``reject`` or ``outcome_unknown``
  (counted; the bids in the log are exactly the acked ones plus, perhaps, unknown ones);
* the server's state is the log's (its public state is the replay's).

How fast the storm resumes after PostgreSQL is back is printed, not asserted tightly
(the machine is shared). Two tests then cut one COMMIT deterministically: one sleeps
inside COMMIT and PostgreSQL stays down past ``GAVEL_OUTCOME_WAIT_S`` (the websocket
bidder gets ``outcome_unknown``, not a reject, the HTTP bidder a 503 of that code); the
other is flushed to disk but unanswered when PostgreSQL dies (its bidder hears nothing
while PostgreSQL is down, then a late ``ack``: the bid stands).
The last test SIGKILLs an edge under a crowd of watchers: the core and its bidders do
not notice, and a restarted edge serves every watcher the rest of the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from api.auctions.state import public_state
from api.auctions.views import AuctionViews, Audience
from engine import BidAccepted, replay
from loadtests.server_process import EdgeProcess, ServerProcess
from tests.api.auctions.test_crash import (
    START_MINOR,
    STEP_MINOR,
    S,
    create_auction,
    database_log,
    http,
    minor,
    now_us,
    open_socket,
    reverse_rules,
    subscribe,
    wait_until,
)
from tests.api.killable_pg import KillablePostgres

KILLS = 8
BIDDERS = 12
IN_FLIGHT = 2  # unanswered bids per bidder: a kill always finds some in a commit
ENV = {
    "GAVEL_RATE_PER_S": "100000",
    "GAVEL_RATE_BURST": "100000",
    "GAVEL_SNAPSHOT_EVERY": "200",
    # Far longer than a restart here (2-3 s): every answer should be certain.
    "GAVEL_OUTCOME_WAIT_S": "20",
}


# ------------------------------------------------------------------------------ bidders


@dataclass(slots=True)
class Bidder:
    """One bidder's socket and every answer it got, per request."""

    party: str
    token: str
    prices: dict[str, int] = field(default_factory=dict)  # request_id -> price sent
    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    next_price: int = START_MINOR

    @property
    def unanswered(self) -> list[str]:
        return [rid for rid in self.prices if rid not in self.answers]

    def kind(self, wanted: str) -> list[tuple[str, dict[str, Any]]]:
        """``(request_id, answer)`` of every answer of type ``wanted``."""
        return [(rid, a) for rid, got in self.answers.items() for a in got if a["type"] == wanted]


@dataclass(slots=True)
class Storm:
    """Bidders keeping ``IN_FLIGHT`` bids each unanswered on one auction; every answer
    is kept (with its arrival time), and :meth:`drain` stops it cleanly."""

    bidders: list[Bidder]
    sockets: list[ClientConnection] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stopping: bool = False
    #: ``time.monotonic()`` of every ack, in arrival order.
    ack_times: list[float] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(len(b.kind(kind)) for b in self.bidders)

    async def drain(self, timeout_s: float) -> None:
        """Send no more; wait until every request is answered, then close the sockets."""
        self.stopping = True
        deadline = time.monotonic() + timeout_s
        while any(b.unanswered for b in self.bidders) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for ws in self.sockets:
            await ws.close()
        await asyncio.wait_for(asyncio.gather(*self.tasks), 10)


async def bid_loop(ws: ClientConnection, bidder: Bidder, storm: Storm) -> None:
    """Bid one cent under the last bid sent whenever fewer than ``IN_FLIGHT`` bids are
    unanswered; record every answer. Ends when the socket closes."""
    counter = 0

    async def send_one() -> None:
        nonlocal counter
        counter += 1
        request_id = f"{bidder.party}-{counter}"
        bidder.next_price -= STEP_MINOR
        bidder.prices[request_id] = bidder.next_price
        frame = {"type": "bid", "request_id": request_id, "amount": minor(bidder.next_price)}
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({**frame, "currency": "EUR"}))

    with contextlib.suppress(ConnectionClosed):
        for _ in range(IN_FLIGHT):
            await send_one()
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] not in ("ack", "reject", "outcome_unknown"):
                continue
            bidder.answers.setdefault(message["request_id"], []).append(message)
            if message["type"] == "ack":
                storm.ack_times.append(time.monotonic())
            if not storm.stopping:
                await send_one()


async def start_storm(server: ServerProcess, auction_id: str, bidders: int) -> Storm:
    """A started reverse auction (each bid must beat only the bidder's own) with
    ``bidders`` bidders storming it over websockets."""
    parties = [f"supplier-{i:02d}" for i in range(bidders)]
    starts_at = now_us() + S // 2
    tokens = await create_auction(
        server, auction_id, reverse_rules(starts_at, starts_at + 900 * S), parties
    )
    storm = Storm([Bidder(party, tokens[party]) for party in parties])
    await wait_until(starts_at + 1000)
    for bidder in storm.bidders:
        ws = await open_socket(server, auction_id, bidder.token)
        await subscribe(ws, 0)
        storm.sockets.append(ws)
        storm.tasks.append(asyncio.create_task(bid_loop(ws, bidder, storm)))
    return storm


async def acks_beyond(storm: Storm, count: int, timeout_s: float) -> None:
    """Wait until ``count`` more acks have arrived (or ``timeout_s`` passed)."""
    goal = len(storm.ack_times) + count
    deadline = time.monotonic() + timeout_s
    while len(storm.ack_times) < goal and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


def learned(server: ServerProcess) -> Counter[str]:
    """The fates of failed commits, as the server logged them (JSON lines)."""
    fates: Counter[str] = Counter()
    for line in server.log_path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict) and entry.get("msg") == "commit outcome learned":
                fates[f"{entry['fate']} after {entry['failure']}"] += entry["commands"]
    return fates


async def check_the_log(server: ServerProcess, dsn: str, auction_id: str, storm: Storm) -> None:
    """Every answer against the log, and the server's state against the log's replay."""
    log = await database_log(dsn, auction_id)
    assert [event.seq for event in log] == list(range(1, len(log) + 1))
    bids = {(event.bidder, event.price): event for event in log if isinstance(event, BidAccepted)}
    unknown: set[tuple[str, int]] = set()
    for bidder in storm.bidders:
        assert not bidder.unanswered, f"{bidder.party}: no answer to {bidder.unanswered}"
        twice = {rid: got for rid, got in bidder.answers.items() if len(got) > 1}
        assert not twice, f"answered more than once: {twice}"
        for request_id, ack in bidder.kind("ack"):
            event = bids.get((bidder.party, bidder.prices[request_id]))
            assert event is not None, f"acknowledged bid lost: {ack}"
            assert (event.seq, event.command_id) == (ack["seq"], ack["event"]["command_id"])
        for request_id, reject in bidder.kind("reject"):
            assert (bidder.party, bidder.prices[request_id]) not in bids, (
                f"a rejected bid stands: {reject}"
            )
            assert reject["code"] in ("storage_unavailable", "unavailable"), reject
        unknown |= {(bidder.party, bidder.prices[rid]) for rid, _ in bidder.kind("outcome_unknown")}
    acked = {(b.party, b.prices[rid]) for b in storm.bidders for rid, _ in b.kind("ack")}
    assert set(bids) - acked <= unknown, "a bid stands that nobody was told might"

    # Memory never parted from the log: the server's state is the log's replay.
    officer = server.token("officer-1", "officer")
    state = await http("GET", f"{server.url}/api/v1/auctions/{auction_id}", officer)
    assert state.status == 200, state.body
    views = AuctionViews()
    for event in log:
        views.observe(event)
    expected = public_state(
        auction_id, replay(log), views, Audience("officer", "officer-1"), state.body["server_time"]
    )
    assert state.body == json.loads(json.dumps(expected))


# ------------------------------------------------------------------------------ the tests


async def test_sigkill_of_postgresql_during_a_bid_storm(tmp_path: Path) -> None:
    # A slow disk: every COMMIT waits 10 ms before its WAL flush, so that most kills
    # find a COMMIT on its way (the case where the outcome is really unknown).
    slow_disk = {"commit_delay": "10000", "commit_siblings": "0"}
    pg = await asyncio.to_thread(KillablePostgres(settings=slow_disk).start)
    server = ServerProcess(tmp_path, database_url=pg.dsn, env=ENV)
    recoveries: list[float] = []
    try:
        await asyncio.to_thread(server.start)
        pid = server.process.pid if server.process else None
        storm = await start_storm(server, "pg-storm", BIDDERS)
        await acks_beyond(storm, 300, 30)
        rng = random.Random(12)
        for kill in range(KILLS):
            # Not right after an ack (a commit has just ended then): at a random moment.
            await asyncio.sleep(rng.uniform(0, 0.3))
            # Every other time the backends die too, at once (a COMMIT is cut mid-way).
            await asyncio.to_thread(functools.partial(pg.kill, everything=kill % 2 == 1))
            await asyncio.sleep(rng.uniform(0.1, 1.0))  # down for a while, bids keep coming
            await asyncio.to_thread(pg.start)
            back = time.monotonic()
            before = len(storm.ack_times)
            await acks_beyond(storm, 100, 30)
            after = [t for t in storm.ack_times[before:] if t >= back]
            recoveries.append(after[0] - back if after else float("inf"))
        await storm.drain(60)
        assert server.process is not None and server.process.poll() is None, server.log()
        assert server.process.pid == pid  # recovered without a restart
        await check_the_log(server, pg.dsn, "pg-storm", storm)
    finally:
        await asyncio.to_thread(server.kill)
        await asyncio.to_thread(pg.close)

    fates = learned(server)
    acks, rejects = storm.count("ack"), storm.count("reject")
    unknowns = storm.count("outcome_unknown")
    print(
        f"\n{pg.kills} SIGKILLs of PostgreSQL: {acks} acks, {rejects} rejects, "
        f"{unknowns} outcome_unknown; failed commits' fates {dict(fates)}; "
        f"first ack after PostgreSQL was back: {', '.join(f'{r:.2f}' for r in recoveries)} s"
    )
    assert all(r < 30 for r in recoveries), recoveries  # the storm resumed every time
    assert sum(fates.values()) > 0, "no commit ever failed: the kills proved nothing"


#: Makes the COMMIT of a bid by party "slow-commit" sleep (a deferred trigger): the test
#: can kill PostgreSQL while that COMMIT is on its way.
SLOW_COMMIT = """
CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.type = 'BidAccepted' AND convert_from(NEW.payload, 'UTF8') LIKE '%slow-commit%'
    THEN PERFORM pg_sleep(60); END IF;
    RETURN NEW;
END $$;
CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();
"""


async def answer_to(ws: ClientConnection, request_id: str) -> dict[str, Any]:
    """The next frame that answers ``request_id`` (events on the way are skipped)."""
    while True:
        frame: dict[str, Any] = json.loads(await ws.recv())
        if frame.get("request_id") == request_id:
            return frame


async def waiting(dsn: str, wait_event: str) -> int:
    """How many sessions wait on ``wait_event`` (``PgSleep``, ``SyncRep``)."""
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event = $1", wait_event
        )
        return count
    finally:
        await conn.close()


async def test_a_commit_cut_by_a_crash_is_outcome_unknown_past_the_deadline(
    tmp_path: Path,
) -> None:
    """A bid whose COMMIT is on its way when PostgreSQL dies, and PostgreSQL stays down
    past ``GAVEL_OUTCOME_WAIT_S``: the answer is ``outcome_unknown`` over the websocket
    and a 503 ``outcome_unknown`` over HTTP, never a reject. Once PostgreSQL is back the
    log tells (here: not stored, the COMMIT never finished) and the auction goes on."""
    pg = await asyncio.to_thread(KillablePostgres().start)
    # One transaction per append, so that both bids sleep in COMMIT at the same time.
    env = {**ENV, "GAVEL_OUTCOME_WAIT_S": "1", "GAVEL_COMMIT_MODE": "single"}
    server = ServerProcess(tmp_path, database_url=pg.dsn, env=env)
    try:
        await asyncio.to_thread(server.start)
        starts_at = now_us() + S // 2
        rules = reverse_rules(starts_at, starts_at + 900 * S)
        tokens = {}
        for auction_id in ("by-socket", "by-http"):
            made = await create_auction(server, auction_id, rules, ["slow-commit", "other"])
            tokens[auction_id] = made
        conn = await asyncpg.connect(pg.dsn)
        await conn.execute(SLOW_COMMIT)
        await conn.close()
        await wait_until(starts_at + 1000)

        ws = await open_socket(server, "by-socket", tokens["by-socket"]["slow-commit"])
        await subscribe(ws, 0)
        await ws.send(
            json.dumps({"type": "bid", "request_id": "r-1", "amount": "99.00", "currency": "EUR"})
        )
        posted = asyncio.create_task(
            http(
                "POST",
                f"{server.url}/api/v1/auctions/by-http/bids",
                tokens["by-http"]["slow-commit"],
                {"amount": "99.00", "currency": "EUR"},
            )
        )
        deadline = time.monotonic() + 30
        while await waiting(pg.dsn, "PgSleep") < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert await waiting(pg.dsn, "PgSleep") == 2
        await asyncio.to_thread(pg.kill)

        answer = await asyncio.wait_for(answer_to(ws, "r-1"), 30)
        assert answer["type"] == "outcome_unknown", answer
        assert "within 1 s" in answer["detail"]
        reply = await asyncio.wait_for(posted, 30)
        assert (reply.status, reply.body["code"]) == (503, "outcome_unknown"), reply.body
        assert reply.body["type"] == "https://gavel.dev/problems/outcome_unknown"
        assert reply.headers.get("Retry-After") == "5"

        await asyncio.to_thread(pg.start)
        # The log tells: the COMMIT never finished, so neither bid stands. Bidding goes
        # on, from the log: a new bid waits until its runner has rebuilt the auction.
        for auction_id in ("by-socket", "by-http"):
            log = await database_log(pg.dsn, auction_id)
            assert not [event for event in log if isinstance(event, BidAccepted)]
            again = await http(
                "POST",
                f"{server.url}/api/v1/auctions/{auction_id}/bids",
                tokens[auction_id]["other"],
                {"amount": "98.00", "currency": "EUR"},
            )
            assert again.status == 201, again.body
            assert again.body["seq"] == log[-1].seq + 1
        await ws.close()
        assert server.process is not None and server.process.poll() is None
    finally:
        await asyncio.to_thread(server.kill)
        await asyncio.to_thread(pg.close)


async def test_a_commit_flushed_as_postgresql_died_is_acked_once_it_is_back(
    tmp_path: Path,
) -> None:
    """The opposite fate: the COMMIT record is on disk but PostgreSQL dies before it
    answers (here it waits for a synchronous standby that does not exist, then every
    process is killed). The bidder is answered neither way while PostgreSQL is down;
    once it is back the transaction reads as committed and the log holds the bid, so
    the answer is an ``ack``, late, and watchers get the event once, before it."""
    pg = await asyncio.to_thread(KillablePostgres().start)
    server = ServerProcess(tmp_path, database_url=pg.dsn, env=ENV)
    try:
        await asyncio.to_thread(server.start)
        starts_at = now_us() + S // 2
        rules = reverse_rules(starts_at, starts_at + 900 * S)
        tokens = await create_auction(server, "flushed", rules, ["ann"])
        await wait_until(starts_at + 1000)
        ws = await open_socket(server, "flushed", tokens["ann"])
        await subscribe(ws, 0)
        watcher = await open_socket(server, "flushed", server.token("eye", "observer", "flushed"))
        await subscribe(watcher, 0)

        conn = await asyncpg.connect(pg.dsn)
        await conn.execute("ALTER SYSTEM SET synchronous_standby_names = 'nobody'")
        await conn.execute("SELECT pg_reload_conf()")
        await conn.close()
        # The reload is asynchronous: the postmaster rereads the file, then signals the
        # backends (the server's pooled ones included), each rereading it before its
        # next command. A bid committed before that was not held (CI, a loaded machine):
        # wait until a new connection has the setting, i.e. the backends were signalled.
        deadline = time.monotonic() + 10
        while True:
            conn = await asyncpg.connect(pg.dsn)
            setting = await conn.fetchval("SHOW synchronous_standby_names")
            await conn.close()
            if setting == "nobody" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        assert setting == "nobody"
        await asyncio.sleep(0.2)  # and each backend has had its signal
        await ws.send(
            json.dumps({"type": "bid", "request_id": "r-1", "amount": "99.00", "currency": "EUR"})
        )
        deadline = time.monotonic() + 30
        while await waiting(pg.dsn, "SyncRep") < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert await waiting(pg.dsn, "SyncRep") >= 1  # flushed, not yet answered
        await asyncio.to_thread(functools.partial(pg.kill, everything=True))
        with contextlib.suppress(TimeoutError):
            early = await asyncio.wait_for(answer_to(ws, "r-1"), 1.5)
            raise AssertionError(f"answered while PostgreSQL was down: {early}")
        pg.settings["synchronous_standby_names"] = ""  # outranks ALTER SYSTEM's file
        await asyncio.to_thread(pg.start)

        answer = await asyncio.wait_for(answer_to(ws, "r-1"), 30)
        assert answer["type"] == "ack", answer
        log = await database_log(pg.dsn, "flushed")
        assert isinstance(log[-1], BidAccepted) and log[-1].seq == answer["seq"]
        seen: list[int] = []
        async with asyncio.timeout(30):
            while answer["seq"] not in seen:
                frame = json.loads(await watcher.recv())
                if frame["type"] == "event":
                    seen.append(frame["seq"])
        assert seen == list(range(1, answer["seq"] + 1))  # each event once, in order
        await ws.close()
        await watcher.close()
    finally:
        await asyncio.to_thread(server.kill)
        await asyncio.to_thread(pg.close)


# ------------------------------------------------------------------------------ an edge


@dataclass(slots=True)
class Watcher:
    """One watcher of the auction: every event seq it was sent, over all its sessions."""

    token: str
    seqs: list[int] = field(default_factory=list)

    async def watch(self, edge: ServerProcess, auction_id: str) -> None:
        """One session from the last seq seen; returns when the socket closes."""
        with contextlib.suppress(ConnectionClosed, OSError):
            ws = await open_socket(edge, auction_id, self.token)
            async with ws:
                await subscribe(ws, self.seqs[-1] if self.seqs else 0)
                async for raw in ws:
                    frame = json.loads(raw)
                    if frame["type"] == "event":
                        self.seqs.append(frame["seq"])


async def test_sigkill_of_an_edge_leaves_the_core_alone_and_a_restarted_edge_serves(
    pg_dsn: str, tmp_path: Path
) -> None:
    core = ServerProcess(tmp_path, database_url=pg_dsn, env=ENV)
    await asyncio.to_thread(core.start)
    edge = EdgeProcess(tmp_path, core, env=ENV)
    again: EdgeProcess | None = None
    sessions: list[asyncio.Task[None]] = []
    try:
        await asyncio.to_thread(edge.start)
        storm = await start_storm(core, "edge-storm", 6)
        watchers = [Watcher(core.token(f"eye-{i}", "observer", "edge-storm")) for i in range(40)]
        sessions = [asyncio.create_task(w.watch(edge, "edge-storm")) for w in watchers]
        await acks_beyond(storm, 200, 30)
        await asyncio.to_thread(edge.kill)
        await asyncio.wait_for(asyncio.gather(*sessions), 10)  # every socket dropped
        # The core's bidders do not notice: acks keep coming, nothing refused.
        await acks_beyond(storm, 200, 30)
        assert storm.count("reject") == 0

        again = EdgeProcess(tmp_path, core, env=ENV, port=edge.port)  # same address
        await asyncio.to_thread(again.start)
        sessions = [asyncio.create_task(w.watch(again, "edge-storm")) for w in watchers]
        await acks_beyond(storm, 100, 30)
        await storm.drain(30)
        head = (await database_log(pg_dsn, "edge-storm"))[-1].seq
        deadline = time.monotonic() + 30
        while any(w.seqs[-1:] != [head] for w in watchers) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        # Every watcher got every event once, in order, across the edge's death.
        for watcher in watchers:
            assert watcher.seqs == list(range(1, head + 1)), watcher.seqs[-5:]
        assert core.process is not None and core.process.poll() is None
        await check_the_log(core, pg_dsn, "edge-storm", storm)
        assert storm.count("ack") == sum(len(b.prices) for b in storm.bidders)
    finally:
        if again is not None:
            await asyncio.to_thread(again.kill)
        await asyncio.to_thread(edge.kill)
        await asyncio.to_thread(core.kill)
        for task in sessions:
            task.cancel()
