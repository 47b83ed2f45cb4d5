"""Replays of ended auctions over the websocket: the pure pacing, then real sockets
against a real server (order, pacing, seek forward and back, pause, and every reject).

No assertion here is about how long anything takes: pacing is shown by what has (not)
arrived when a request is answered, with margins of seconds."""

from __future__ import annotations

import asyncio
import itertools
import json
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import pytest

from api.live.replay import LONGEST_GAP_US, REASONS, offsets, parse_speed
from tests.api.live.test_ws import Tape, english, open_tape

if TYPE_CHECKING:
    from tests.api.conftest import Live

BASE = "/api/v1/auctions/{}"
_IDS = itertools.count(1)
#: So slow that the second event of any log is many seconds away.
CRAWL = "0.000001"


# ------------------------------------------------------------------ pure pacing


def test_offsets_divide_the_gaps_by_the_speed_and_clamp_quiet_stretches() -> None:
    times = [100, 100, 1_100, 10_000_000, 10_500_000]
    assert offsets(times, Decimal(1)) == [
        0,
        0,
        Fraction(1_000, 10**6),
        Fraction(1_000 + LONGEST_GAP_US, 10**6),
        Fraction(1_000 + LONGEST_GAP_US + 500_000, 10**6),
    ]
    assert offsets(times, Decimal(10)) == [o / 10 for o in offsets(times, Decimal(1))]
    assert offsets(times, Decimal("0.5")) == [o * 2 for o in offsets(times, Decimal(1))]
    assert offsets(times, Decimal(0)) == [0] * 5
    assert offsets([], Decimal(1)) == []
    assert offsets([5, 3], Decimal(1)) == [0, 0]  # never backwards


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", Decimal(1)),
        ("0", Decimal(0)),
        ("2.5", Decimal("2.5")),
        ("10000", Decimal(10_000)),
        ("10001", None),
        ("-1", None),
        ("1e3", None),
        ("NaN", None),
        ("", None),
        (" 1", None),
        ("1.0000001", None),
        ("١", None),
    ],
)
def test_speeds_are_plain_decimals_up_to_the_maximum(text: str, value: Decimal | None) -> None:
    assert parse_speed(text) == value


# ------------------------------------------------------------------ live


@pytest.fixture(scope="module")
def server(start_server: Any) -> Live:
    live: Live = start_server()
    return live


async def finished(server: Live) -> tuple[str, dict[str, str]]:
    auction = await server.create(english(start_in=0.3, duration=1.5))
    tokens = {name: await server.register(auction, name) for name in ("ann", "bob")}
    await server.wait_phase(auction, "running")
    for who, amount in (("ann", "5.00"), ("bob", "6.00"), ("ann", "5.50"), ("ann", "8.00")):
        await server.post(
            f"{BASE.format(auction)}/bids", {"amount": amount, "currency": "EUR"}, tokens[who]
        )
    await server.wait_phase(auction, "ended")
    return auction, tokens


@pytest.fixture(scope="module")
def ended(server: Live) -> tuple[str, dict[str, str]]:
    return asyncio.run(finished(server))


def request(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "request_id": f"q-{next(_IDS)}", **fields}


async def ask(tape: Tape, message: dict[str, Any]) -> dict[str, Any]:
    """Send a replay request; its ``replay_state`` or ``reject``."""
    await tape.ws.send(json.dumps(message))
    found: dict[str, Any] = await tape.wait(
        lambda t: next(
            (
                f
                for f in t.messages()
                if f.get("request_id") == message["request_id"]
                and f["type"] in ("replay_state", "reject")
            ),
            None,
        )
    )
    return found


def held(tape: Tape) -> list[dict[str, Any]]:
    """The replay events the client keeps: each ``replay_state`` drops those beyond its
    ``seq`` (a seek back), as the protocol says."""
    kept: list[dict[str, Any]] = []
    for frame in tape.messages():
        if frame["type"] == "replay_state":
            kept = [f for f in kept if f["seq"] <= frame["seq"]]
        elif frame["type"] == "replay_event":
            kept.append(frame)
    return kept


async def history(tape: Tape, last: int) -> None:
    await tape.wait(lambda t: t.last_seq() >= last)


async def test_a_replay_sends_every_event_in_order_rendered_as_live(
    server: Live, ended: tuple[str, dict[str, str]]
) -> None:
    auction, tokens = ended
    last = len(await server.events(auction))
    for token in (server.token("aud-1", "auditor", auction), tokens["ann"]):
        tape = await open_tape(server, auction, token)
        await history(tape, last)
        state = await ask(tape, request("replay", speed="0"))
        assert (state["status"], state["seq"], state["last"]) == ("playing", 0, last)
        await tape.wait(lambda t: t.messages("replay_state")[-1]["status"] == "ended")
        frames = tape.messages("replay_event")
        assert [f["seq"] for f in frames] == list(range(1, last + 1))
        assert {f["request_id"] for f in frames} == {state["request_id"]}
        # The same data a live frame sent after the end carries, for this role.
        assert [f["event"] for f in frames] == [tape.event(seq) for seq in range(1, last + 1)]
        assert tape.messages("replay_state")[-1]["seq"] == last
        # Live event frames and replay frames never mix: no event frame came after.
        assert len(tape.events()) == last
        await tape.close()
    ann_view = [f["event"] for f in frames]
    assert any(e.get("you") for e in ann_view) and '"bob"' not in json.dumps(ann_view)


async def test_pacing_pause_seek_forward_and_back_and_resume(
    server: Live, ended: tuple[str, dict[str, str]]
) -> None:
    auction, _ = ended
    last = len(await server.events(auction))
    tape = await open_tape(server, auction, server.officer)
    await history(tape, last)
    state = await ask(tape, request("replay", speed=CRAWL))
    replay_id = state["request_id"]
    await tape.wait(lambda t: t.messages("replay_event"))
    paused = await ask(tape, request("pause"))
    # Paced: at this speed the second event is hours away.
    assert (paused["status"], paused["seq"]) == ("paused", 1), paused
    assert [f["seq"] for f in held(tape)] == [1]

    # Forward while paused: what lies before the target arrives at once, still paused.
    forward = await ask(tape, request("seek", seq=last - 1))
    assert (forward["status"], forward["seq"]) == ("paused", 1)
    await tape.wait(lambda t: len(held(t)) == last - 2)
    assert [f["seq"] for f in held(tape)] == list(range(1, last - 1))

    # Back while paused: the client drops what lies beyond.
    back = await ask(tape, request("seek", seq=3))
    assert (back["status"], back["seq"]) == ("paused", 2)
    assert [f["seq"] for f in held(tape)] == [1, 2]

    # Resume slowly: event 3 goes at once (it is where we are), 4 is far away.
    resumed = await ask(tape, request("resume", speed=CRAWL))
    assert (resumed["status"], resumed["seq"], resumed["speed"]) == ("playing", 2, CRAWL)
    await tape.wait(lambda t: len(held(t)) == 3)
    # Forward while playing: the gap is filled at once, then paced from the target.
    jumped = await ask(tape, request("seek", seq=last))
    assert (jumped["status"], jumped["seq"]) == ("playing", 3)
    await tape.wait(lambda t: t.messages("replay_state")[-1]["status"] == "ended")
    assert [f["seq"] for f in held(tape)] == list(range(1, last + 1))
    assert {f["request_id"] for f in tape.messages("replay_event")} == {replay_id}

    # After the end a seek back plays again; pause, then a fresh replay from the middle.
    again = await ask(tape, request("seek", seq=2))
    assert (again["status"], again["seq"]) == ("playing", 1)
    await ask(tape, request("pause"))
    middle = await ask(tape, request("replay", speed=CRAWL, from_seq=4))
    assert (middle["status"], middle["seq"]) == ("playing", 0)
    await tape.wait(lambda t: len(held(t)) == 4)  # 1..3 at once, then 4 (offset 0)
    stopped = await ask(tape, request("pause"))
    assert stopped["seq"] == 4 and [f["seq"] for f in held(tape)] == [1, 2, 3, 4]
    await tape.close()


async def test_every_replay_reject(server: Live, ended: tuple[str, dict[str, str]]) -> None:
    auction, _ = ended
    last = len(await server.events(auction))
    tape = await open_tape(server, auction, server.token("aud-2", "auditor"))
    await history(tape, last)

    async def rejected(message: dict[str, Any], code: str) -> None:
        answer = await ask(tape, message)
        assert (answer["type"], answer["code"]) == ("reject", code), answer
        assert answer["detail"]

    for kind, extra in (("seek", {"seq": 1}), ("pause", {}), ("resume", {})):
        await rejected(request(kind, **extra), "no_replay")
    for speed in ("-1", "fast", "1e2", "10001"):
        await rejected(request("replay", speed=speed), "invalid_speed")
    for start in (0, -3, last + 1):
        await rejected(request("replay", from_seq=start), "invalid_seq")
    await ask(tape, request("replay", speed=CRAWL))
    await rejected(request("resume"), "replay_not_paused")
    await rejected(request("seek", seq=0), "invalid_seq")
    await rejected(request("seek", seq=last + 1), "invalid_seq")
    await ask(tape, request("pause"))
    await rejected(request("pause"), "replay_not_playing")
    await rejected(request("resume", speed="x"), "invalid_speed")
    await ask(tape, request("resume", speed="0"))
    await tape.wait(lambda t: t.messages("replay_state")[-1]["status"] == "ended")
    await rejected(request("pause"), "replay_not_playing")
    # A malformed replay request is a protocol error frame, not a reject.
    await tape.ws.send(json.dumps({"type": "replay", "request_id": "x", "speed": 2}))
    await tape.wait(lambda t: any(f["code"] == "invalid_field" for f in t.messages("error")))
    await tape.close()

    running = await server.create(english(start_in=0.2, duration=60.0))
    live = await open_tape(server, running, server.officer)
    await live.wait(lambda t: t.messages("welcome"))
    answer = await ask(live, request("replay"))
    assert (answer["type"], answer["code"]) == ("reject", "auction_not_ended")
    assert not live.messages("replay_event")
    await live.close()
    assert set(REASONS) == {
        "auction_not_ended",
        "invalid_speed",
        "invalid_seq",
        "no_replay",
        "replay_not_playing",
        "replay_not_paused",
    }


async def test_a_socket_refused_while_running_can_replay_once_the_auction_ends(
    server: Live,
) -> None:
    auction = await server.create(english(start_in=0.2, duration=1.0))
    tape = await open_tape(server, auction, server.officer)
    await tape.wait(lambda t: t.messages("welcome"))
    early = await ask(tape, request("replay"))
    assert (early["type"], early["code"]) == ("reject", "auction_not_ended")
    await server.wait_phase(auction, "ended")
    later = await ask(tape, request("replay", speed="0"))
    assert (later["type"], later["status"]) == ("replay_state", "playing"), later
    await tape.wait(lambda t: t.messages("replay_state")[-1]["status"] == "ended")
    replayed = [f["seq"] for f in tape.messages("replay_event")]
    assert replayed == list(range(1, len(replayed) + 1)) and replayed
    await tape.close()
