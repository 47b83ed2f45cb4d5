"""Fan-out: a subscriber's bounded queue (dedup, resume order, overflow, direct frames),
and a channel that renders each event once per audience."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal

import pytest

from api.auctions.views import REDACTED, AuctionViews, Audience
from api.live.hub import Channel, Hub, Subscriber, unwire, wire
from bidders_sim.scripted import Scenario, play, scenarios
from engine import Auction
from engine import events as e
from engine.rules import EnglishRules, SealedRules, Step

OBSERVER = Audience("observer", "press")
OFFICER = Audience("officer", "officer-1")
ACME = Audience("bidder", "acme")
GLOBEX = Audience("bidder", "globex")


def frames(subscriber: Subscriber) -> list[str]:
    """Everything queued, without waiting (websocket frames as their text)."""
    out: list[str] = []
    while subscriber.depth:
        frame = subscriber._frames.pop(0)[1]
        out.append(unwire(frame) if isinstance(frame, bytes) else frame)
    return out


async def drain(subscriber: Subscriber) -> list[str]:
    """Read through ``next()`` until the queue is empty."""
    out: list[str] = []
    while subscriber.depth:
        frame = await subscriber.next()
        assert frame is not None
        subscriber.mark_sent()
        out.append(frame)
    return out


def live(subscriber: Subscriber) -> Subscriber:
    """A subscriber past its (empty) resume, as the session leaves it."""
    subscriber.resume([])
    return subscriber


# ---------------------------------------------------------------------- Subscriber


async def test_push_drops_what_was_already_queued_or_seen() -> None:
    sub = live(Subscriber(OBSERVER, since=5, limit=10))
    for seq in (3, 5, 6, 6, 7, 4, 7, 8):
        sub.push(seq, f"f{seq}")
    assert sub.last_seq == 8
    assert await drain(sub) == ["f6", "f7", "f8"]
    assert sub.sent == 8


async def test_live_frames_are_held_until_the_history_is_queued() -> None:
    sub = Subscriber(OBSERVER, since=2, limit=10)
    # Live events arrive while the session reads the log...
    sub.push(5, "live5")
    sub.push(6, "live6")
    assert sub.depth == 0 and sub.last_seq == 2
    # ... and the log read overlaps them: every seq once, in order.
    sub.resume([(3, "log3"), (4, "log4"), (5, "log5")])
    sub.push(7, "live7")
    assert await drain(sub) == ["log3", "log4", "log5", "live6", "live7"]
    assert (sub.last_seq, sub.sent) == (7, 7)


async def test_a_resume_that_overlaps_nothing_and_one_that_is_all_old() -> None:
    fresh = Subscriber(OBSERVER, since=0, limit=10)
    fresh.resume([])
    fresh.push(1, "one")
    assert await drain(fresh) == ["one"]
    stale = Subscriber(OBSERVER, since=9, limit=10)
    stale.resume([(8, "old8"), (9, "old9")])
    assert stale.depth == 0


async def test_a_long_history_is_not_counted_against_the_live_limit() -> None:
    # Regression: a client 50 events behind with a queue of 4 was dropped at once, and
    # dropped again on every reconnect, so it could never catch up.
    sub = Subscriber(OBSERVER, since=0, limit=4)
    sub.push(51, "live51")
    sub.resume([(seq, f"log{seq}") for seq in range(1, 51)])
    assert not sub.too_slow
    for seq in range(52, 55):  # the live allowance is still there: 1 held + 3
        sub.push(seq, f"live{seq}")
    assert not sub.too_slow
    got = await drain(sub)
    assert got == [f"log{seq}" for seq in range(1, 51)] + [f"live{seq}" for seq in range(51, 55)]


async def test_the_allowance_of_a_history_shrinks_as_it_is_sent() -> None:
    sub = Subscriber(OBSERVER, since=0, limit=2)
    sub.resume([(1, "a"), (2, "b"), (3, "c")])
    assert await sub.next() == "a"
    sub.push(4, "d")
    sub.push(5, "e")
    assert not sub.too_slow  # two live frames queued behind two history frames
    sub.push(6, "f")
    assert sub.too_slow


async def test_overflow_marks_too_slow_drops_the_queue_and_signals() -> None:
    sub = live(Subscriber(OBSERVER, since=0, limit=3))
    dropped = asyncio.create_task(sub.dropped())
    for seq in (1, 2, 3):
        sub.push(seq, f"f{seq}")
    await asyncio.sleep(0)
    assert not sub.too_slow and not dropped.done()
    sub.push(4, "f4")
    assert sub.too_slow and sub.depth == 0
    await asyncio.wait_for(dropped, 1)
    assert await sub.next() is None
    sub.push(5, "f5")
    sub.send_direct("late ack")
    assert sub.depth == 0  # nothing more is queued for a dropped socket


async def test_direct_frames_are_never_deduplicated_and_count_against_the_limit() -> None:
    sub = live(Subscriber(OBSERVER, since=0, limit=3))
    sub.push(1, "event1")
    sub.send_direct("ack")
    sub.send_direct("ack")
    assert await drain(sub) == ["event1", "ack", "ack"]
    assert sub.sent == 1  # a direct frame is not a position in the log
    for _ in range(3):
        sub.send_direct("beat")
    assert not sub.too_slow
    sub.send_direct("beat")
    assert sub.too_slow


async def test_next_waits_for_a_frame_and_close_ends_it() -> None:
    sub = live(Subscriber(OBSERVER, since=0, limit=3))
    waiting = asyncio.create_task(sub.next())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    sub.push(1, "one")
    assert await asyncio.wait_for(waiting, 1) == "one"
    waiting = asyncio.create_task(sub.next())
    await asyncio.sleep(0.01)
    sub.close()
    assert await asyncio.wait_for(waiting, 1) is None
    sub.push(2, "two")
    assert sub.depth == 0 and sub.closed


async def test_mark_sent_tracks_the_highest_event_written() -> None:
    sub = live(Subscriber(OBSERVER, since=10, limit=5))
    sub.push(11, "a")
    sub.send_direct("ack")
    assert await sub.next() == "a"
    assert sub.sent == 10  # queued and taken, but not yet written
    sub.mark_sent()
    assert sub.sent == 11
    assert await sub.next() == "ack"
    sub.mark_sent()
    assert sub.sent == 11


class Socket:
    """An outlet that accepts frames until told to refuse (a full socket buffer)."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.open = True

    def __call__(self, frame: str) -> bool:
        if self.open:
            self.written.append(frame)
        return self.open


async def test_frames_go_straight_to_the_outlet_when_nothing_is_queued() -> None:
    socket = Socket()
    sub = Subscriber(OBSERVER, since=0, limit=3)
    sub.push(2, "live2")  # held: the history is not read yet
    sub.resume([(1, "log1")], socket)
    # History and held frames are queued for the writer, never sent around it.
    assert socket.written == [] and sub.depth == 2
    sub.push(3, "live3")
    sub.send_direct("ack")
    assert socket.written == []  # still behind the queue
    assert await sub.take() == ["log1", "live2", "live3", "ack"]
    sub.push(4, "live4")  # the writer holds a batch: queue behind it
    assert socket.written == [] and sub.sent == 0
    sub.mark_sent()
    assert sub.sent == 3
    assert await sub.take() == ["live4"]
    sub.mark_sent()
    # The queue is empty and no write is in progress: straight to the socket.
    sub.push(5, "live5")
    sub.send_direct("beat")
    sub.push(5, "dup5")
    assert socket.written == ["live5", "beat"] and sub.depth == 0
    assert (sub.last_seq, sub.sent) == (5, 5)


async def test_a_refusing_outlet_queues_and_a_full_queue_is_too_slow() -> None:
    socket = Socket()
    sub = Subscriber(OBSERVER, since=0, limit=2)
    sub.resume([], socket)
    sub.push(1, "one")
    socket.open = False  # the socket's buffer is above its high-water mark
    sub.push(2, "two")
    sub.push(3, "three")
    assert socket.written == ["one"] and sub.depth == 2 and sub.sent == 1
    socket.open = True  # even once it drains, order is kept: the writer goes first
    sub.push(4, "four")
    assert sub.too_slow and sub.depth == 0
    assert await sub.take() is None
    sub.push(5, "five")
    assert socket.written == ["one"]


async def test_close_stops_the_outlet() -> None:
    socket = Socket()
    sub = Subscriber(OBSERVER, since=0, limit=2)
    sub.resume([], socket)
    sub.close()
    sub.push(1, "one")
    sub.send_direct("ack")
    assert socket.written == [] and sub.depth == 0


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_wire_frames_text_as_an_unmasked_final_text_frame(size: int) -> None:
    text = "é" * (size // 2) + "x" * (size % 2)
    payload = text.encode()
    frame = wire(text)
    assert frame[0] == 0x81  # FIN, text
    assert not frame[1] & 0x80  # unmasked: a server's frame
    if len(payload) < 126:
        assert frame[1] == len(payload) and frame[2:] == payload
    elif len(payload) < 65536:
        assert frame[1] == 126 and int.from_bytes(frame[2:4], "big") == len(payload)
    else:
        assert frame[1] == 127 and int.from_bytes(frame[2:10], "big") == len(payload)
    assert frame.endswith(payload) and unwire(frame) == text


def test_wire_is_total_a_lone_surrogate_goes_as_its_json_escape() -> None:
    # The last guard for an answer to a committed command: never an exception, always
    # UTF-8, and in JSON text the escape denotes the same string.
    text = json.dumps({"request_id": "a\ud800\U0001f600"}, ensure_ascii=False)
    frame = wire(text)
    assert unwire(frame) == '{"request_id": "a\\ud800\U0001f600"}'
    assert json.loads(unwire(frame)) == json.loads(text)


# ---------------------------------------------------------------------- Channel, Hub


def sealed_created() -> e.AuctionCreated:
    return e.AuctionCreated(1, 10, SealedRules("EUR", 100, 1000))


def registered(seq: int, party: str, label: str) -> e.BidderRegistered:
    return e.BidderRegistered(seq, 20 + seq, party, label, Decimal(0), 0, None)


async def test_publish_renders_each_event_for_each_audience() -> None:
    channel = Channel("a-1")
    subs = {
        name: live(Subscriber(audience, since=0, limit=100))
        for name, audience in [
            ("acme", ACME),
            ("globex", GLOBEX),
            ("press", OBSERVER),
            ("press2", Audience("observer", "tv")),
            ("boss", OFFICER),
        ]
    }
    channel.subscribers.update(subs.values())
    channel.publish([sealed_created(), registered(2, "acme", "Bidder 1")])
    channel.publish([registered(3, "globex", "Bidder 2")])
    # The channel folds a committed replica of the auction, so the log must be valid.
    started = e.AuctionStarted(4, 100, 1000)
    bid = e.BidAccepted(5, 110, "c-1", "acme", 900, 900, False)
    channel.publish([started, bid])
    assert channel.head == 5
    assert channel.committed.book.best() == (-900, 5, "acme", 900)
    got = {name: [json.loads(f) for f in frames(sub)] for name, sub in subs.items()}
    for messages in got.values():
        assert [m["seq"] for m in messages] == [1, 2, 3, 4, 5]
        assert all(m["type"] == "event" for m in messages)
        assert [m["server_time"] for m in messages] == [10, 22, 23, 100, 110]
    assert got["acme"][4]["event"]["you"] is True and got["acme"][4]["event"]["price"] == 900
    for name in ("globex", "press", "press2", "boss"):
        assert got[name][4]["event"] == REDACTED
    assert got["press"][1]["event"]["bidder"] == "Bidder 1"
    assert got["boss"][1]["event"]["bidder"] == "acme"
    assert got["acme"][1]["event"]["you"] is True
    assert "you" not in got["globex"][1]["event"]


async def test_publish_renders_once_per_audience_class() -> None:
    channel = Channel("a-1")
    channel.publish([sealed_created(), registered(2, "acme", "Bidder 1")])
    watchers = [live(Subscriber(Audience("observer", f"o{i}"), 0, 10)) for i in range(3)]
    others = [live(Subscriber(GLOBEX, 0, 10)), live(Subscriber(Audience("bidder", "x"), 0, 10))]
    owners = [live(Subscriber(ACME, 0, 10)) for _ in range(2)]
    bosses = [live(Subscriber(OFFICER, 0, 10)), live(Subscriber(Audience("auditor", "a"), 0, 10))]
    everyone = watchers + others + owners + bosses
    channel.subscribers.update(everyone)
    channel.publish([e.BidderDisqualified(3, 30, "acme", "note")])
    texts = {id(sub): sub._frames[0][1] for sub in everyone}
    # Same audience class, same frame object: rendered once, appended many times.
    public = {id(texts[id(sub)]) for sub in watchers + others}
    assert len(public) == 1
    assert len({id(texts[id(sub)]) for sub in owners}) == 1
    assert len({id(texts[id(sub)]) for sub in bosses}) == 1
    assert json.loads(unwire(texts[id(owners[0])]))["event"]["you"] is True
    assert json.loads(unwire(texts[id(bosses[0])]))["event"]["bidder"] == "acme"


async def test_observe_folds_without_sending_and_frame_renders_on_demand() -> None:
    channel = Channel("a-1")
    sub = live(Subscriber(OBSERVER, since=0, limit=10))
    channel.subscribers.add(sub)
    channel.observe([sealed_created(), registered(2, "acme", "Bidder 1")])
    assert channel.head == 2 and sub.depth == 0
    assert channel.views.labels == {"acme": "Bidder 1"}
    frame = json.loads(channel.frame(registered(2, "acme", "Bidder 1"), OBSERVER))
    assert frame == {
        "seq": 2,
        "server_time": 22,
        "event": {**frame["event"], "bidder": "Bidder 1"},
        "type": "event",
    }
    channel.publish([])
    assert channel.head == 2


async def test_a_slow_subscriber_does_not_stop_the_others() -> None:
    channel = Channel("a-1")
    slow = live(Subscriber(OBSERVER, since=0, limit=2))
    fast = live(Subscriber(OBSERVER, since=0, limit=100))
    channel.subscribers.update({slow, fast})
    rules = EnglishRules("EUR", 0, 1000, 100, Step(10))
    channel.publish([e.AuctionCreated(1, 0, rules), e.AuctionStarted(2, 0, 1000)])
    for seq in range(3, 13):
        channel.publish([e.EndExtended(seq, seq, 1000 + seq)])
        await asyncio.sleep(0)
    assert slow.too_slow
    assert len(await drain(fast)) == 12


async def test_a_publish_that_fails_never_raises_folds_and_drops_the_sockets(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # publish runs between a commit and the answers to its commands: raising there
    # would leave them unanswered and stop the auction's runner.
    channel = Channel("a-1")
    watcher = live(Subscriber(OBSERVER, since=0, limit=100))
    channel.subscribers.add(watcher)
    rules = EnglishRules("EUR", 0, 1000, 100, Step(10))
    channel.publish([e.AuctionCreated(1, 0, rules)])

    def broken(*args: object) -> object:
        raise RuntimeError("a rendering bug")

    monkeypatch.setattr(AuctionViews, "render", broken)
    channel.publish([e.AuctionStarted(2, 0, 1000), e.EndExtended(3, 5, 1005)])
    assert channel.head == 3 and channel.committed.seq == 3  # folded all the same
    assert watcher.too_slow  # dropped: it resumes from the last seq it got
    assert "publishing failed" in caplog.text
    # The next commit is folded and sent as usual (to the sockets that come next).
    monkeypatch.undo()
    fresh = live(Subscriber(OBSERVER, since=3, limit=100))
    channel.subscribers = {fresh}
    channel.publish([e.EndExtended(4, 6, 1006)])
    assert channel.head == 4
    assert [json.loads(unwire(frame))["seq"] for frame in await drain(fresh)] == [4]


async def test_the_hub_keeps_one_channel_per_auction() -> None:
    hub = Hub()
    assert hub.channel("a") is hub.channel("a")
    assert hub.channel("a") is not hub.channel("b")
    sub = live(Subscriber(OBSERVER, since=0, limit=10))
    hub.channel("a").subscribers.add(sub)
    hub.channel("b").subscribers.add(live(Subscriber(OFFICER, since=0, limit=10)))
    assert hub.sockets == 2
    hub.publish("a", [sealed_created()])
    assert hub.channel("a").head == 1 and hub.channel("b").head == 0
    assert [json.loads(f)["seq"] for f in frames(sub)] == [1]


@pytest.mark.parametrize("limit", [1, 3])
async def test_dropped_returns_only_on_overflow(limit: int) -> None:
    sub = live(Subscriber(OBSERVER, since=0, limit=limit))
    waiter = asyncio.create_task(sub.dropped())
    sub.close()
    await asyncio.sleep(0.01)
    assert not waiter.done()  # closing is not being too slow
    waiter.cancel()
    other = live(Subscriber(OBSERVER, since=0, limit=limit))
    for seq in range(1, limit + 2):
        other.push(seq, "x")
    await asyncio.wait_for(other.dropped(), 1)


async def test_since_serves_recent_history_from_memory() -> None:
    channel = Channel("a-1")
    rules = EnglishRules("EUR", 0, 10**9, 100, Step(10))
    channel.observe([e.AuctionCreated(1, 0, rules), e.AuctionStarted(2, 0, 10**9)])
    channel.publish([e.EndExtended(seq, seq, 10**6 + seq) for seq in range(3, 11)])
    assert channel.since(10) == [] and channel.since(12) == []
    assert [event.seq for event in channel.since(0) or []] == list(range(1, 11))
    assert [event.seq for event in channel.since(7) or []] == [8, 9, 10]
    many = channel.RECENT + 5
    channel.publish([e.EndExtended(seq, seq, 10**6 + seq) for seq in range(11, many + 1)])
    assert channel.since(0) is None  # evicted from memory: the session reads the log
    assert channel.since(4) is None
    kept = channel.since(5)
    assert kept is not None and [event.seq for event in kept] == list(range(6, many + 1))


async def test_a_batch_of_events_goes_to_each_socket_in_one_write() -> None:
    channel = Channel("a-1")
    rules = EnglishRules("EUR", 0, 10**9, 100, Step(10))
    channel.publish([e.AuctionCreated(1, 0, rules), e.AuctionStarted(2, 0, 10**9)])
    written: dict[str, list[bytes]] = {"fresh": [], "behind": []}

    def outlet(name: str) -> Callable[[bytes], bool]:
        def write(frame: bytes) -> bool:
            written[name].append(frame)
            return True

        return write

    fresh = Subscriber(OBSERVER, since=2, limit=10)
    fresh.resume([], outlet("fresh"))
    # Resumed from seq 4 (it read 3 and 4 from the log): only 5 and 6 are new to it.
    behind = Subscriber(OFFICER, since=2, limit=10)
    behind.resume([(3, b"log3"), (4, b"log4")], outlet("behind"))
    held = Subscriber(OBSERVER, since=2, limit=10)  # still reading its history
    channel.subscribers.update({fresh, behind, held})
    channel.publish([e.EndExtended(seq, seq, 10**6 + seq) for seq in range(3, 7)])
    assert len(written["fresh"]) == 1  # four frames, one write
    assert [json.loads(unwire(f))["seq"] for f in split(written["fresh"][0])] == [3, 4, 5, 6]
    assert (fresh.last_seq, fresh.sent) == (6, 6)
    # Queued history goes first: the batch waits behind it, without the seqs it had.
    assert written["behind"] == [] and behind.depth == 4
    assert await behind.take() == [b"log3", b"log4", *channel_frames(channel, OFFICER, 5, 6)]
    assert held.depth == 0
    held.resume([])
    assert [json.loads(f)["seq"] for f in frames(held)] == [3, 4, 5, 6]


def split(data: bytes) -> list[bytes]:
    """The frames of a joined write (payloads under 126 bytes)."""
    out = []
    while data:
        size = 2 + data[1]
        out.append(data[:size])
        data = data[size:]
    return out


def channel_frames(channel: Channel, audience: Audience, *seqs: int) -> list[bytes]:
    """The frames ``audience`` gets for ``seqs`` (from the channel's recent events)."""
    recent = {event.seq: event for event in channel.recent}
    return [wire(channel.frame(recent[seq], audience)) for seq in seqs]


async def test_flushed_waits_for_answers_queue_and_write_in_progress() -> None:
    hub = Hub()
    subscriber = Subscriber(OBSERVER)
    subscriber.resume([])
    hub.channel("a").subscribers.add(subscriber)
    assert subscriber.flushed and await hub.flushed(0.0)

    subscriber.awaiting += 1  # a command of this socket still runs
    assert not subscriber.flushed and not await hub.flushed(0.0)
    subscriber.awaiting -= 1
    subscriber.send_direct(b"answer")  # no outlet: queued for the writer
    assert not subscriber.flushed
    taken = await subscriber.take()
    assert taken == [b"answer"] and not subscriber.flushed  # being written
    import time

    waiting = asyncio.ensure_future(hub.flushed(time.monotonic() + 5))
    await asyncio.sleep(0.02)
    assert not waiting.done()
    subscriber.mark_sent()
    assert await asyncio.wait_for(waiting, 1) is True

    # A closed or too slow subscriber will write nothing more: it never holds shutdown.
    stuck = Subscriber(OBSERVER)
    stuck.resume([])
    stuck.awaiting = 1
    hub.channel("b").subscribers.add(stuck)
    assert not await hub.flushed(time.monotonic() + 0.03)  # gives up at the deadline
    stuck.close()
    assert await hub.flushed(0.0)


async def test_a_checkpoint_sent_during_the_history_read_follows_the_history() -> None:
    subscriber = Subscriber(OBSERVER, since=0)
    subscriber.push(3, b"live-3")  # held: the history is being read
    subscriber.send_direct(b"checkpoint")  # covers seqs up to 3
    subscriber.resume([(1, b"h-1"), (2, b"h-2")])
    assert [frame for _, frame in subscriber._frames] == [b"h-1", b"h-2", b"live-3", b"checkpoint"]


async def test_on_ready_and_on_drop_let_a_session_wait_with_no_task() -> None:
    """Issue 16: a session starts its writer only when frames are queued (``on_ready``,
    ``take_now``) and learns of an overflow by ``on_drop``, not by a task each."""
    sub = Subscriber(OBSERVER, limit=2)
    calls: list[str] = []
    sub.on_ready = lambda: calls.append("ready")
    sub.on_drop = lambda: calls.append("drop")
    sub.push(1, "held")  # before resume: held, nobody woken
    assert calls == [] and sub.take_now() is None
    sub.resume([], outlet=lambda frame: True)
    assert calls == ["ready"] and sub.direct  # held frames are queued, as the history
    assert sub.take_now() == ["held"]
    sub.mark_sent()
    sub.push(2, "live")  # the queue empty, no write in progress: straight out
    assert calls == ["ready"] and sub.sent == 2
    calls.clear()
    sub = Subscriber(OBSERVER, limit=2)
    sub.on_ready = lambda: calls.append("ready")
    sub.on_drop = lambda: calls.append("drop")
    sub.resume([])
    sub.push(2, "a")
    sub.send_direct("ack")
    assert calls == ["ready", "ready"] and not sub.direct
    assert sub.take_now() == ["a", "ack"] and sub.take_now() is None
    sub.mark_sent()
    for seq in (3, 4, 5):
        sub.push(seq, f"f{seq}")
    assert sub.too_slow and calls.count("drop") == 1
    sub.push(6, "f6")
    sub.drop()
    assert calls.count("drop") == 1  # once
    assert sub.take_now() is None


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda s: s.name)
async def test_a_bidders_own_frame_is_its_rendering_in_every_format(scenario: Scenario) -> None:
    # publish splices "you" into the public frame where it can (Channel._own_frame): the
    # result must be, byte for byte, what rendering the event for its bidder gives, in
    # every format (sealed bids and registrations take the full rendering).
    events = [event for _, step in play(scenario, Auction()) for event in step]
    parties = sorted({p for ev in events if (p := getattr(ev, "bidder", None)) is not None})
    channel, reference = Channel("a-1"), Channel("a-1")
    owners = {party: live(Subscriber(Audience("bidder", party), 0, 10_000)) for party in parties}
    public = live(Subscriber(OBSERVER, 0, 10_000))
    channel.subscribers.update([*owners.values(), public])
    expected: dict[str, list[str]] = {party: [] for party in parties}
    expected_public: list[str] = []
    for event in events:
        channel.publish([event])
        reference.observe([event])  # rendered right after the event's own fold, as publish
        expected_public.append(reference.frame(event, OBSERVER))
        for party in parties:
            mine = getattr(event, "bidder", None) == party
            audience = Audience("bidder", party) if mine else OBSERVER
            expected[party].append(reference.frame(event, audience))
    assert frames(public) == expected_public
    for party, subscriber in owners.items():
        assert frames(subscriber) == expected[party], party
    spliced = [f for f in expected[parties[0]] if '"you":true' in f]
    assert spliced  # the bidder's own events were there to compare
