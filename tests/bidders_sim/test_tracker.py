"""The tracker folds a bidder's frames into the strategies' View: no server, no event loop.

The frames are made the way the server makes them: the scripted scenarios run through the
real engine (:mod:`bidders_sim.scripted`), each committed event folded into
:class:`api.auctions.views.AuctionViews` and rendered for one bidder, as the hub does.
"""

from __future__ import annotations

from typing import Any

from api.auctions.views import AuctionViews, Audience
from bidders_sim.scripted import (
    START,
    Scenario,
    dutch,
    english,
    multiround,
    play,
    sealed_first_price,
)
from bidders_sim.strategy import View
from bidders_sim.tracker import Tracker, rules_of, view_format
from engine import Auction
from engine.codec import to_data

_S = 1_000_000


def _frames(scenario: Scenario, party: str) -> list[tuple[Any, dict[str, Any]]]:
    """(command, frame) for every event of ``scenario`` as ``party`` sees it."""
    views = AuctionViews()
    audience = Audience("bidder", party)
    out = []
    for command, events in play(scenario, Auction()):
        for event in events:
            views.observe(event)
            frame = {
                "type": "event",
                "seq": event.seq,
                "server_time": event.at,
                "event": views.render(event, audience),
            }
            out.append((command, frame))
    return out


def _until(scenario: Scenario, party: str, seconds: float) -> Tracker:
    """A tracker of ``party`` fed every frame up to ``seconds`` after the start."""
    tracker = Tracker()
    tracker.observe({"type": "welcome", "you": _label(scenario, party), "seq": 0})
    for _command, frame in _frames(scenario, party):
        if frame["server_time"] > START + seconds * _S:
            break
        tracker.observe(frame)
    return tracker


def _label(scenario: Scenario, party: str) -> str:
    for _command, frame in _frames(scenario, party):
        event = frame["event"]
        if event["type"] == "BidderRegistered" and event.get("you"):
            return str(event["bidder"])
    raise AssertionError(f"{party} never registered")


def _view(tracker: Tracker, seconds: float) -> View:
    view = tracker.view(START + round(seconds * _S))
    assert view is not None
    return view


def test_nothing_to_see_before_the_rules() -> None:
    tracker = Tracker()
    tracker.observe({"type": "welcome", "you": "Bidder 1", "seq": 0, "server_time": 5})
    assert tracker.view(10) is None and tracker.label == "Bidder 1" and tracker.server_time == 5


def test_english_next_valid_leading_and_extensions() -> None:
    scenario = english()  # start 1000.00, step 50.00; see its docstring
    before = _view(_until(scenario, "carol", -1), -1)
    assert (before.phase, before.next_valid, before.best) == ("scheduled", None, None)
    assert (before.format, before.better, before.currency) == ("english", "higher", "EUR")
    assert before.bidders == 3 and before.soft_close_window_us == 60 * _S
    opened = _view(_until(scenario, "carol", 10), 10)
    assert (opened.phase, opened.next_valid) == ("running", 100_000)
    # alice's 1000.00, then bob's proxy opens at the reserve 1200.00: carol needs 1250.00.
    view = _view(_until(scenario, "carol", 50), 50)
    assert (view.best, view.next_valid, view.leading) == (120_000, 125_000, False)
    assert view.bids_seen == 2
    # carol leads with 1300.00 only until bob's proxy answers at 1350.00.
    view = _view(_until(scenario, "carol", 100), 100)
    assert (view.best, view.my_best, view.leading) == (135_000, 130_000, False)
    # bob sees his proxy's bid as his own lead, and his limit.
    bob = _view(_until(scenario, "bob", 100), 100)
    assert (bob.leading, bob.my_proxy, bob.my_best) == (True, 180_000, 135_000)
    # The soft close moved the end (carol's 1500.00 at 04:30, inside the last minute).
    late = _view(_until(scenario, "carol", 280), 280)
    assert late.ends_at is not None and late.ends_at > scenario.rules.ends_at  # type: ignore[union-attr]
    ended = _until(scenario, "carol", 10_000)
    assert ended.phase == "ended" and ended.ended is not None
    assert ended.ended["outcome"] == "awarded" and _view(ended, 10_000).next_valid is None


def test_a_rejects_bound_corrects_next_valid_until_the_best_moves() -> None:
    tracker = _until(english(), "carol", 50)
    assert _view(tracker, 50).next_valid == 125_000
    bound = {"kind": "min", "amount": "1300.00", "amount_minor": 130_000, "currency": "EUR"}
    tracker.observe(
        {"type": "reject", "code": "insufficient_improvement", "bound": bound, "seq": 9}
    )
    assert _view(tracker, 50).next_valid == 130_000
    tracker.observe(
        {
            "type": "event",
            "seq": tracker.applied_seq + 1,
            "server_time": START + 51 * _S,
            "event": {"type": "BidAccepted", "bidder": "Bidder 1", "price": 140_000},
        }
    )
    assert _view(tracker, 52).next_valid == 145_000
    # A frame already folded (a replay after a reconnect) is not folded again.
    tracker.observe(
        {
            "type": "event",
            "seq": 3,
            "event": {"type": "BidAccepted", "bidder": "Bidder 1", "price": 999_999},
        }
    )
    assert _view(tracker, 52).best == 140_000
    # Rejections and what is redacted are no news (a refused action waits for news).
    news = tracker.news
    for seq, kind in (
        (tracker.applied_seq + 1, "CommandRejected"),
        (tracker.applied_seq + 2, "Redacted"),
    ):
        tracker.observe({"type": "event", "seq": seq, "event": {"type": kind}})
    assert tracker.news == news


def test_dutch_clock() -> None:
    scenario = dutch()  # 10000.00 falling by 500.00 every 20 s
    view = _view(_until(scenario, "dana", 45), 45)
    assert (view.format, view.better, view.dutch_price, view.next_valid) == (
        "dutch",
        "higher",
        900_000,
        None,
    )
    assert (view.dutch_step, view.dutch_interval_us) == (50_000, 20 * _S)
    assert view.start_price == 1_000_000
    won = _until(scenario, "dana", 10_000)
    assert won.ended is not None and won.ended["winners"] == [_label(scenario, "dana")]
    assert _view(won, 10_000).leading


def test_sealed_bids_stay_hidden_and_one_bid_closes_next_valid() -> None:
    scenario = sealed_first_price()  # minimum 20000.00; hana bids at 01:00
    view = _view(_until(scenario, "ivan", 100), 100)
    assert (view.format, view.pricing, view.next_valid, view.best) == (
        "sealed",
        "first_price",
        2_000_000,
        None,
    )
    assert view.bids_seen == 0  # hana's bid arrived as Redacted
    hana = _view(_until(scenario, "hana", 100), 100)
    assert (hana.my_best, hana.next_valid) == (2_600_000, None)
    # jun withdraws (06:00): he may bid again.
    jun = _view(_until(scenario, "jun", 400), 400)
    assert (jun.my_best, jun.next_valid) == (None, 2_000_000)


def test_multiround_turns() -> None:
    scenario = multiround()  # orion 50000.00, polaris 48000.00, vega 52000.00; step 1 %
    waiting = _view(_until(scenario, "orion", 25), 25)  # vega's turn first
    assert (waiting.format, waiting.my_turn, waiting.next_valid, waiting.round) == (
        "multi_round",
        False,
        None,
        1,
    )
    assert waiting.my_best == 5_000_000
    turn = _view(_until(scenario, "orion", 65), 65)  # orion's turn: beat 50000.00 by 1 %
    assert (turn.my_turn, turn.next_valid) == (True, 4_950_000)
    assert turn.turn_ends_at is not None and turn.best == 4_750_000  # vega's turn ended
    after = _view(_until(scenario, "orion", 85), 85)  # orion bid 47000.00 in its turn
    assert (after.my_turn, after.my_best, after.next_valid) == (True, 4_700_000, None)


def test_rules_as_a_bidder_sees_them() -> None:
    for scenario in (english(), dutch(), sealed_first_price(), multiround()):
        data = to_data(scenario.rules)
        data.pop("reserve_price", None)  # hidden from bidders
        rules = rules_of(data)
        assert rules.currency == scenario.rules.currency
        assert getattr(rules, "reserve_price", None) is None
    assert view_format(multiround().rules) == ("multi_round", "lower")
