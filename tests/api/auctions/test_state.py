"""The read models of api/auctions/state.py: an auction's public state and a bidder's standing.

No I/O: auctions are driven through the engine, their events folded into
:class:`api.auctions.views.AuctionViews`, and the read models checked for each audience in
each format (the shapes pinned for an English sale; what each format adds and hides).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from api.auctions.state import public_state, standing
from api.auctions.views import AuctionViews, Audience
from engine import (
    Auction,
    CancelAuction,
    Command,
    CreateAuction,
    DutchRules,
    MultiRoundRules,
    PassTurn,
    PlaceBid,
    RegisterBidder,
    SealedRules,
    SetProxy,
    Step,
    Tick,
)
from engine.rules import AuctionRules
from tests.engine.helpers import END, START, S, english

OFFICER = Audience("officer", "officer-1")
AUDITOR = Audience("auditor", "auditor-1")
OBSERVER = Audience("observer", "press")
ANN = Audience("bidder", "ann")
ROOM = (OBSERVER, ANN)
NOW = 7


class Live:
    """An auction and its views, fed the same events."""

    def __init__(self, rules: AuctionRules) -> None:
        self.auction = Auction()
        self.views = AuctionViews()
        self.count = 0
        self(CreateAuction("create", 0, rules))

    def __call__(self, command: Command) -> None:
        for event in self.auction.handle(command):
            self.views.observe(event)

    def register(self, bidder: str, offer: str | None = None) -> None:
        initial = None if offer is None else Decimal(offer)
        self(RegisterBidder(f"r-{bidder}", 1, bidder, initial_bid=initial))

    def bid(self, bidder: str, amount: str, at: int) -> None:
        self.count += 1
        self(PlaceBid(f"b-{self.count}", at, bidder, Decimal(amount), "EUR"))

    def state(self, audience: Audience) -> dict[str, Any]:
        return public_state("a-1", self.auction, self.views, audience, NOW)


def test_an_english_sale_as_the_room_and_as_an_officer() -> None:
    live = Live(english(reserve_price=1_500))
    live.register("ann")
    live.register("bob")
    live(Tick("open", START))
    live.bid("bob", "11.00", START + S)
    observed = live.state(OBSERVER)
    assert observed == {
        "id": "a-1",
        "format": "english",
        "phase": "running",
        "seq": 5,
        "server_time": NOW,
        "next_deadline": END,
        "currency": "EUR",
        "rules": observed["rules"],
        "bidders": 2,
        "ranking": [{"rank": 1, "bidder": "Bidder 2", "price": 1_100, "score": 1_100}],
        "ends_at": END,
    }
    assert "reserve_price" not in observed["rules"] and observed["rules"]["format"] == "english"
    assert live.state(ANN) == observed  # a bidder sees others by label, like the room
    officer = live.state(OFFICER)
    assert officer["rules"]["reserve_price"] == "15.00"
    assert officer["ranking"] == [{"rank": 1, "bidder": "bob", "price": 1_100, "score": 1_100}]
    assert live.state(AUDITOR) == officer


def test_a_result_names_bidders_by_label_for_the_room() -> None:
    live = Live(english())
    live.register("ann")
    live(Tick("open", START))
    live.bid("ann", "10.00", START + S)
    live(Tick("close", END))
    result = live.state(OBSERVER)["result"]
    assert result["outcome"] == "awarded" and result["winners"] == ["Bidder 1"]
    assert [line["bidder"] for line in result["ranking"]] == ["Bidder 1"]
    assert live.state(OFFICER)["result"]["winners"] == ["ann"]
    assert "result" not in Live(english()).state(OFFICER)


def test_sealed_bids_stay_out_of_the_state_until_the_end_even_for_officers() -> None:
    live = Live(SealedRules("EUR", START, END))
    live.register("ann")
    live(Tick("open", START))
    live.bid("ann", "5.00", START + S)
    for audience in (OFFICER, AUDITOR, *ROOM):
        state = live.state(audience)
        assert state["ranking"] is None
        assert not {"ends_at", "price", "round", "turn"} & set(state)
    own = standing(live.auction, "ann", NOW)
    assert own["price"] == 500 and own["rank"] is None and own["leading"] is None
    assert "proxy_limit" not in own and "your_turn" not in own
    live(Tick("close", END))
    assert live.state(OBSERVER)["ranking"] == [
        {"rank": 1, "bidder": "Bidder 1", "price": 500, "score": 500}
    ]
    assert standing(live.auction, "ann", NOW)["rank"] == 1


def test_a_cancelled_sealed_auction_never_opens_its_bids() -> None:
    # A cancel is no close: the sealed book stays sealed for everyone, officers too,
    # as the published result (an empty ranking) and the redacted events already do.
    live = Live(SealedRules("EUR", START, END))
    live.register("ann")
    live.register("bob")
    live(Tick("open", START))
    live.bid("ann", "5.00", START + S)
    live.bid("bob", "6.00", START + S)
    live(CancelAuction("cancel", START + 2 * S))
    assert live.auction.ended is not None and live.auction.ended.ranking == ()
    for audience in (OFFICER, AUDITOR, *ROOM):
        assert live.state(audience)["ranking"] is None
    own = standing(live.auction, "ann", NOW)
    assert own["price"] == 500 and own["rank"] is None and own["leading"] is None


def test_a_cancelled_open_auction_still_shows_its_book() -> None:
    live = Live(english())
    live.register("ann")
    live(Tick("open", START))
    live.bid("ann", "10.00", START + S)
    live(CancelAuction("cancel", START + 2 * S))
    assert live.state(OBSERVER)["ranking"] == [
        {"rank": 1, "bidder": "Bidder 1", "price": 1_000, "score": 1_000}
    ]


def test_a_dutch_clock_shows_its_price() -> None:
    live = Live(DutchRules("EUR", START, 1_000, 100, 10 * S, 500))
    live.register("ann")
    assert live.state(OBSERVER)["price"] is None
    live(Tick("open", START + 10 * S))
    state = live.state(OBSERVER)
    assert state["price"] == 900 and state["ranking"] == []
    assert "ends_at" not in state and "round" not in state


def test_multiround_offers_are_for_officers_until_the_start_then_turns_are_public() -> None:
    live = Live(MultiRoundRules("EUR", START, 30 * S, Step(amount=100), rounds=1))
    live.register("ann", "10.00")
    live.register("bob", "9.00")
    for audience in ROOM:
        state = live.state(audience)
        assert state["ranking"] is None and state["round"] == 0 and state["turn"] is None
    assert [line["bidder"] for line in live.state(OFFICER)["ranking"]] == ["bob", "ann"]
    ann = standing(live.auction, "ann", NOW)
    assert ann["price"] == 1_000 and ann["rank"] is None and ann["leading"] is None
    assert ann["your_turn"] is False and ann["pending_price"] is None
    live(Tick("open", START))
    state = live.state(OBSERVER)
    assert [line["bidder"] for line in state["ranking"]] == ["Bidder 2", "Bidder 1"]
    assert state["round"] == 1
    assert state["turn"] == {"bidder": "Bidder 1", "ends_at": START + 30 * S}
    assert live.state(OFFICER)["turn"]["bidder"] == "ann"
    live.bid("ann", "8.00", START + S)  # private until the turn ends
    assert [line["price"] for line in live.state(OBSERVER)["ranking"]] == [900, 1_000]
    ann = standing(live.auction, "ann", NOW)
    assert (ann["rank"], ann["leading"]) == (2, False)
    assert (ann["your_turn"], ann["pending_price"]) == (True, 800)
    bob = standing(live.auction, "bob", NOW)
    assert (bob["rank"], bob["leading"], bob["your_turn"], bob["pending_price"]) == (
        1,
        True,
        False,
        None,
    )
    live(PassTurn("pass", START + 2 * S, "ann"))
    assert live.state(OBSERVER)["turn"]["bidder"] == "Bidder 2"
    assert standing(live.auction, "ann", NOW)["leading"] is True


def test_a_bidders_standing_in_an_open_auction_with_its_proxy() -> None:
    live = Live(english())
    live.register("ann")
    live.register("bob")
    assert standing(live.auction, "zed", NOW) == {"registered": False, "server_time": NOW}
    live(Tick("open", START))
    live(SetProxy("proxy", START + S, "ann", Decimal("20.00"), "EUR"))
    live.bid("bob", "12.00", START + 2 * S)  # ann's proxy answers at 13.00
    assert standing(live.auction, "ann", NOW) == {
        "registered": True,
        "bidder": "ann",
        "label": "Bidder 1",
        "disqualified": False,
        "phase": "running",
        "seq": live.auction.seq,
        "server_time": NOW,
        "next_deadline": END,
        "price": 1_300,
        "rank": 1,
        "leading": True,
        "proxy_limit": 2_000,
    }
    bob = standing(live.auction, "bob", NOW)
    assert (bob["price"], bob["rank"], bob["leading"], bob["proxy_limit"]) == (
        1_200,
        2,
        False,
        None,
    )
