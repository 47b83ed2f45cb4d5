"""A read-only edge (``api.live.edge``) next to a real core, on real PostgreSQL and sockets.

The edge serves the core's websocket protocol from the core's feed and the shared log:
its frames are the core's, ``since`` resumes without gaps, bids are refused with
``read_only``, and commits made while its feed was cut arrive once, in order, when the
feed is back. The feed-cut test puts a TCP proxy between the edge and the core. The
edge's app and process (its command line, problems, handshake limit, SIGTERM) are
``tests/api/http/test_edge.py``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from api.live.hub import unwire
from loadtests.server_process import free_port
from tests.api.live.test_ws import Tape, bid, closed_with, english, open_tape

if TYPE_CHECKING:
    from tests.api.conftest import Live

# The module's ``core`` and ``edge`` (a quick heartbeat) are tests/api/conftest.py's.


async def post_bid(core: Live, auction: str, token: str, amount: str) -> int:
    """Bid over HTTP on the core; the accepted bid's seq."""
    reply = await core.post(
        f"/api/v1/auctions/{auction}/bids", {"amount": amount, "currency": "EUR"}, token
    )
    assert reply.status == 201, reply.body
    seq: int = reply.json()["seq"]
    return seq


def without_time(frame: dict[str, Any]) -> dict[str, Any]:
    """A welcome without its clock and head (the two processes send it at other times,
    possibly on either side of a commit)."""
    return {key: value for key, value in frame.items() if key not in ("server_time", "seq")}


async def test_watchers_on_the_edge_get_the_same_frames_as_on_the_core(
    core: Live, edge: Live
) -> None:
    auction = await core.create(english(start_in=0.2))
    alice = await core.register(auction, "alice")
    bob = await core.register(auction, "bob")
    await core.wait_phase(auction, "running")
    await post_bid(core, auction, alice, "1.00")

    tokens = {
        "observer": core.token("eye", "observer", auction),
        "officer": core.officer,
        "auditor": core.token("aud", "auditor"),
        "bidder": alice,
    }
    pairs: dict[str, tuple[Tape, Tape]] = {}
    for role, token in tokens.items():
        pairs[role] = (
            await open_tape(core, auction, token),
            await open_tape(edge, auction, token),
        )
    head = 0
    for amount, token in (("2.00", bob), ("3.00", alice), ("4.00", bob)):
        head = await post_bid(core, auction, token, amount)
    for role, (on_core, on_edge) in pairs.items():
        for tape in (on_core, on_edge):
            await tape.wait(lambda t: t.last_seq() >= head)
        assert on_core.seqs() == list(range(1, head + 1)), role
        assert on_edge.events() == on_core.events(), role
        assert without_time(on_edge.messages("welcome")[0]) == without_time(
            on_core.messages("welcome")[0]
        )
    # Labels for everyone but the privileged; identities for officers and auditors.
    bids = [
        e["event"] for e in pairs["observer"][1].events() if e["event"]["type"] == "BidAccepted"
    ]
    assert {b["bidder"] for b in bids} == {"Bidder 1", "Bidder 2"}
    bids = [e["event"] for e in pairs["officer"][1].events() if e["event"]["type"] == "BidAccepted"]
    assert {b["bidder"] for b in bids} == {"alice", "bob"}
    assert pairs["bidder"][1].messages("welcome")[0]["you"] == "Bidder 1"
    # Heartbeats come from the edge as well.
    await pairs["observer"][1].wait(lambda t: t.messages("heartbeat"))
    for on_core, on_edge in pairs.values():
        await on_core.close()
        await on_edge.close()


async def test_checkpoints_reach_watchers_on_the_edge_as_on_the_core(
    core: Live, edge: Live
) -> None:
    auction = await core.create(english(start_in=0.5, duration=1.0))
    watcher = core.token("w", "observer", auction)
    on_core = await open_tape(core, auction, watcher)
    on_edge = await open_tape(edge, auction, watcher)
    # The opening and the close each get a signed checkpoint.
    for tape in (on_core, on_edge):
        await tape.wait(lambda t: len(t.messages("checkpoint")) >= 2, timeout=15)

    def signed(tape: Tape) -> list[tuple[int, str, str]]:
        return [(c["size"], c["root"], c["note"]) for c in tape.messages("checkpoint")]

    assert signed(on_edge) == signed(on_core)
    assert on_edge.events() == on_core.events()
    await on_core.close()
    await on_edge.close()


async def test_since_resumes_on_the_edge_without_gaps(core: Live, edge: Live) -> None:
    auction = await core.create(english(start_in=0.2))
    token = await core.register(auction, "p")
    await core.wait_phase(auction, "running")
    for amount in ("1.00", "2.00", "3.00"):
        await post_bid(core, auction, token, amount)
    watcher = core.token("w", "observer", auction)
    first = await open_tape(edge, auction, watcher)
    head = (await core.state(auction))["seq"]
    await first.wait(lambda t: t.last_seq() == head)
    await first.close()
    seen = head - 2
    # Commits while nobody of this auction is connected to the edge.
    for amount in ("4.00", "5.00"):
        await post_bid(core, auction, token, amount)
    resumed = await open_tape(edge, auction, watcher, since=seen)
    head = await post_bid(core, auction, token, "6.00")
    await resumed.wait(lambda t: t.last_seq() == head)
    assert resumed.seqs() == list(range(seen + 1, head + 1))
    # since beyond the log is refused, as on the core.
    ahead = await edge.connect(auction, watcher, since=head + 100)
    assert (await closed_with(ahead))[0] == 4400
    await resumed.close()


async def test_a_bid_on_the_edge_is_rejected_read_only_and_changes_nothing(
    core: Live, edge: Live
) -> None:
    auction = await core.create(english(start_in=0.2))
    token = await core.register(auction, "p")
    await core.wait_phase(auction, "running")
    before = await core.state(auction)
    tape = await open_tape(edge, auction, token)
    await tape.wait(lambda t: t.messages("welcome"))
    message = bid("5.00")
    reject = await tape.request(message)
    assert reject["type"] == "reject" and reject["code"] == "read_only", reject
    assert reject["request_id"] == message["request_id"]
    assert reject["seq"] == before["seq"]
    # Not a bidder: refused as on the core.
    observer = await open_tape(edge, auction, core.token("w", "observer", auction))
    refused = await observer.request(bid("6.00"))
    assert refused["code"] == "forbidden"
    assert (await core.state(auction))["seq"] == before["seq"]
    assert await core.events(auction, before["seq"]) == []
    await tape.close()
    await observer.close()


async def test_an_unknown_auction_and_bad_tokens_are_refused(core: Live, edge: Live) -> None:
    ws = await edge.connect("no-such-auction", core.officer)
    assert await closed_with(ws) == (4400, "unknown auction")
    auction = await core.create(english(start_in=60))
    other = await core.create(english(start_in=60))
    for token, reason in [
        ("garbage", "token_malformed"),
        (core.officer[:-4] + "AAAA", "token_bad_signature"),
        (core.token("p", "bidder", other), "wrong_auction"),
    ]:
        ws = await edge.connect(auction, token, since=None)
        assert await closed_with(ws) == (4401, reason)
    ws = await edge.connect(auction, core.officer, since=None, origin="https://evil.example")
    assert (await closed_with(ws))[0] == 4403


async def test_a_token_revoked_on_the_core_closes_its_edge_socket(core: Live, edge: Live) -> None:
    auction = await core.create(english(start_in=60))
    reply = await core.post(
        "/api/v1/tokens", {"party": "w", "role": "observer", "auction": auction}, core.officer
    )
    assert reply.status == 201, reply.body
    issued = reply.json()
    tape = await open_tape(edge, auction, issued["token"])
    await tape.wait(lambda t: t.messages("welcome"))
    revoked = await core.post(f"/api/v1/tokens/{issued['jti']}/revoke", None, core.officer)
    assert revoked.status == 200
    await tape.wait(lambda t: t.closed is not None)
    assert tape.closed is not None and tape.closed.rcvd is not None
    assert tape.closed.rcvd.code == 4401


class Proxy:
    """A TCP proxy to ``port`` that can cut every connection and refuse new ones."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = free_port()
        self.open = True
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.writers |= {writer, up_writer}

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self.writers -= {writer, up_writer}

    def cut(self) -> None:
        """Drop every proxied connection and refuse new ones."""
        self.open = False
        for writer in list(self.writers):
            writer.transport.abort()

    def restore(self) -> None:
        self.open = True

    async def stop(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()


async def test_the_edge_catches_up_after_its_feed_is_cut_and_restored(
    core: Live, start_edge: Callable[..., Live]
) -> None:
    proxy = Proxy(core.port)
    await proxy.start()
    try:
        # Started in a thread: it waits for the edge to be ready, which needs this
        # loop to run the proxy.
        edge = await asyncio.to_thread(start_edge, core, f"http://127.0.0.1:{proxy.port}")
        auction = await core.create(english(start_in=0.2))
        token = await core.register(auction, "p")
        await core.wait_phase(auction, "running")
        await post_bid(core, auction, token, "1.00")
        tape = await open_tape(edge, auction, core.token("w", "observer", auction))
        head = await post_bid(core, auction, token, "2.00")
        await tape.wait(lambda t: t.last_seq() == head)  # live through the feed

        proxy.cut()
        for amount in ("3.00", "4.00", "5.00"):
            head = await post_bid(core, auction, token, amount)
        await asyncio.sleep(0.3)
        assert tape.last_seq() < head  # nothing reached the edge meanwhile
        proxy.restore()
        # No further commit: the resync after reconnecting delivers them.
        await tape.wait(lambda t: t.last_seq() == head, timeout=15)
        head = await post_bid(core, auction, token, "6.00")
        await tape.wait(lambda t: t.last_seq() == head)
        assert tape.seqs() == list(range(1, head + 1))
        readyz = await edge.get("/readyz")
        assert readyz.json()["feed_connections"] >= 2
        await tape.close()
    finally:
        await proxy.stop()


async def test_a_commit_fed_ahead_of_the_channel_is_caught_up_from_the_log(
    core: Live, edge: Live
) -> None:
    # Two auctions interleaved: one watcher joins while the other auction's bids flow,
    # so its priming read races the feed; every seq arrives once, in order.
    auction = await core.create(english(start_in=0.2))
    token = await core.register(auction, "p")
    await core.wait_phase(auction, "running")

    async def bids(count: int) -> int:
        last = 0
        for n in range(count):
            last = await post_bid(core, auction, token, f"{n + 1}.00")
        return last

    bidding = asyncio.create_task(bids(30))
    tapes = []
    for _ in range(5):
        tapes.append(await open_tape(edge, auction, core.token("w", "observer", auction)))
        await asyncio.sleep(0.02)
    head = await bidding
    for tape in tapes:
        await tape.wait(lambda t: t.last_seq() == head)
        assert tape.seqs() == list(range(1, head + 1))
        await tape.close()


def test_channels_without_sockets_leave_memory_after_the_idle_time() -> None:
    """``EdgeService.sweep``: a channel with no socket for ``idle_s`` is dropped (the next
    subscriber primes it again from the log); one with a socket, or caught up right
    now, stays; the clock restarts whenever a channel is found in use."""
    from api.auctions.views import Audience
    from api.live.edge import EdgeService
    from api.live.hub import Hub, Subscriber

    hub = Hub()
    service = EdgeService(None, hub)  # type: ignore[arg-type]  # sweep reads no storage
    watched, idle, syncing = hub.channel("watched"), hub.channel("idle"), hub.channel("sync")
    watched.subscribers.add(Subscriber(Audience("observer", "o")))
    service._syncs["sync"] = None  # type: ignore[assignment]  # a catch-up in flight
    assert service.sweep(now=0.0, idle_s=60.0) == 0  # first seen empty: the clock starts
    assert service.sweep(now=59.0, idle_s=60.0) == 0
    assert service.sweep(now=60.0, idle_s=60.0) == 1
    assert set(hub.channels) == {"watched", "sync"} and service.evicted == 1
    # A socket leaves: the channel goes one idle period after it was last seen in use
    # (the sweep at 60), not at once.
    watched.subscribers.clear()
    del service._syncs["sync"]
    assert service.sweep(now=100.0, idle_s=60.0) == 0
    assert service.sweep(now=119.0, idle_s=60.0) == 0
    assert service.sweep(now=121.0, idle_s=60.0) == 2
    assert hub.channels == {} and service.evicted == 3
    assert idle is not None and syncing is not None


async def test_an_edge_that_cannot_read_the_log_says_try_again_later(
    core: Live, edge: Live
) -> None:
    from tests.api.live.test_ws import events_table_gone

    auction = await core.create(english(start_in=60))
    token = core.token("w", "observer", auction)
    async with events_table_gone(core):
        # The edge has never seen this auction: it must read the log, which fails.
        ws = await edge.connect(auction, token)
        assert await closed_with(ws) == (1013, "storage_unavailable")
    # Storage back: the next subscribe primes the channel and streams as ever.
    tape = await open_tape(edge, auction, token)
    await tape.wait(lambda t: t.seqs())
    assert tape.seqs()[0] == 1
    await tape.close()


async def test_a_resume_from_a_seq_the_edge_was_not_fed_yet_catches_up_first() -> None:
    """An edge's channel may trail the log by the feed's delay; a client that saw a
    later seq elsewhere (the core, another edge) resumes here from it, not a 4400."""
    from api.auctions.views import Audience
    from api.live.edge import EdgeService
    from api.live.hub import Hub
    from api.live.ws import serve_session
    from api.storage.memory import MemoryEventStore
    from api.storage.ports import StoredEvent
    from contracts import messages as m
    from engine import Auction, CreateAuction, RegisterBidder, replay
    from engine.codec import encode_event
    from engine.rules import EnglishRules, Step
    from tests.api.auctions.test_crash import FakeSocket

    auction = Auction()
    events = auction.handle(
        CreateAuction("c", 10, EnglishRules("EUR", 100, 10_000, 100, Step(100)))
    )
    for party in ("acme", "globex", "initech"):
        events += auction.handle(RegisterBidder(f"r-{party}", 20, party))
    store = MemoryEventStore()
    await store.append(
        "a-1",
        [StoredEvent("a-1", ev.seq, type(ev).__name__, ev.at, encode_event(ev)) for ev in events],
    )
    service = EdgeService(store, Hub())
    service.hub.channel("a-1").publish(events[:-1])  # fed up to the last event but one
    assert replay(events).seq == 4 and service.hub.channel("a-1").head == 3
    ws = FakeSocket()
    ws.incoming.put_nowait(m.to_json(m.Subscribe(4)))
    task = asyncio.create_task(
        serve_session(
            ws, service, "a-1", Audience("observer", "w"), queue_limit=100, heartbeat_s=60
        )
    )
    welcome = await asyncio.wait_for(ws.outgoing.get(), 5)
    assert welcome["type"] == "welcome" and welcome["seq"] == 4, welcome
    assert ws.closed is None
    await ws.close()
    await task


async def test_a_checkpoint_fed_during_a_catch_up_follows_the_events_it_covers() -> None:
    from api.auctions.views import Audience
    from api.live.edge import EdgeService
    from api.live.hub import Hub, Subscriber
    from api.storage.memory import MemoryEventStore
    from api.storage.ports import StoredEvent
    from engine import Auction, CreateAuction, RegisterBidder
    from engine.codec import encode_event
    from engine.rules import EnglishRules, Step

    auction = Auction()
    events = auction.handle(CreateAuction("c", 10, EnglishRules("EUR", 100, 9000, 100, Step(100))))
    events += auction.handle(RegisterBidder("r", 20, "acme"))
    store = MemoryEventStore()
    rows = [StoredEvent("a-1", e.seq, type(e).__name__, e.at, encode_event(e)) for e in events]
    await store.append("a-1", rows)
    service = EdgeService(store, Hub())
    channel = service.hub.channel("a-1")
    watcher = Subscriber(Audience("observer", "w"))
    watcher.resume([])
    channel.subscribers.add(watcher)
    service.fed("a-1", events[1:])  # a gap: the edge catches up from the log
    service.checkpoint("a-1", {"note": "n", "size": 2, "root": "00" * 32})
    assert watcher.depth == 0  # nothing yet: the checkpoint waits for its events
    await asyncio.wait_for(service._sync("a-1"), 5)
    kinds = [json.loads(unwire(frame))["type"] for _, frame in watcher._frames]
    assert kinds == ["event", "event", "checkpoint"]
