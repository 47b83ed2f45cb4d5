"""The visibility rules, every event type for every role, in each kind of auction.

No event loop, no I/O: :class:`api.auctions.views.AuctionViews` folds events and renders them.
The matrix test walks format × (before, after the end) × event type × audience and checks
each rendering against the rules stated in the module docstring; the smaller tests pin
the exact shapes.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from api.auctions.views import PRIVILEGED, REDACTED, AuctionViews, Audience, hide_reserve
from api.live.hub import Channel
from engine import Auction, CreateAuction, Phase
from engine import events as e
from engine.codec import to_data
from engine.formats import Reveal, Secrecy, secrecy_for
from engine.reasons import Reason
from engine.rules import EnglishRules, MultiRoundRules, SealedRules, Step
from engine.snapshot import restore_snapshot, take_snapshot
from loadtests.bench_engine import FORMATS, _Feed, _workload
from tests.engine.helpers import english

OFFICER = Audience("officer", "officer-7")
AUDITOR = Audience("auditor", "auditor-1")
OBSERVER = Audience("observer", "press")
OWN = Audience("bidder", "acme")  # every sample event below concerns acme
OTHER = Audience("bidder", "globex")
AUDIENCES = [OFFICER, AUDITOR, OBSERVER, OWN, OTHER]
PARTIES = ("acme", "globex")

RULES = {
    "open": EnglishRules("EUR", 100, 1000, 500, Step(100), reserve_price=5000),
    "sealed": SealedRules("EUR", 100, 1000, reserve_price=5000),
    "multiround": MultiRoundRules("EUR", 100, 60, Step(100)),
}
SECRET_BEFORE_END = {
    "open": {e.ProxySet},
    "sealed": {e.ProxySet, e.BidAccepted, e.BidWithdrawn},
    "multiround": {e.ProxySet, e.BidAccepted, e.BidWithdrawn},
}


def sample_events() -> list[Any]:
    """One event of every type; each that names a bidder names acme."""
    ranking = (e.Standing(1, "acme", 900, 900), e.Standing(2, "globex", 950, 950))
    return [
        e.AuctionCreated(1, 10, RULES["open"]),
        e.AuctionStarted(2, 100, 1000),
        e.BidderRegistered(3, 20, "acme", "Bidder 1", Decimal(0), 0, None),
        e.BidderDisqualified(4, 30, "acme", "late papers"),
        e.BidAccepted(5, 110, "c-1", "acme", 900, 900, False),
        e.BidWithdrawn(6, 120, "c-2", "acme"),
        e.ProxySet(7, 130, "c-3", "acme", 800),
        e.EndExtended(8, 140, 1100),
        e.PriceChanged(9, 150, 700, 200),
        e.RoundStarted(10, 160, 1, ("acme", "globex")),
        e.TurnStarted(11, 160, 1, "acme", 220),
        e.TurnEnded(12, 170, 1, "acme", 900, 900, True),
        e.RoundEnded(13, 180, 1, 240),
        e.AuctionEnded(14, 1000, e.Outcome.AWARDED, ("acme",), 900, 900, ranking, ""),
        e.CommandRejected(15, 190, "c-4", "PlaceBid", "acme", Reason.AUCTION_CLOSED, "late"),
    ]


def views_for(mode: str, ended: bool) -> AuctionViews:
    """Views of a ``mode`` auction with acme (Bidder 1) and globex (Bidder 2) registered."""
    views = AuctionViews()
    views.observe(e.AuctionCreated(1, 10, RULES[mode]))
    views.observe(e.BidderRegistered(2, 20, "acme", "Bidder 1", Decimal(0), 0, None))
    views.observe(e.BidderRegistered(3, 30, "globex", "Bidder 2", Decimal(0), 0, None))
    if ended:
        views.observe(e.AuctionEnded(4, 1000, e.Outcome.NO_BIDS, (), None, None, (), ""))
    return views


def test_audiences() -> None:
    assert {"officer", "auditor"} == PRIVILEGED
    assert OFFICER.privileged and AUDITOR.privileged
    assert not (OBSERVER.privileged or OWN.privileged or OTHER.privileged)


def test_the_fold_keeps_labels_format_and_end() -> None:
    views = AuctionViews()
    assert (views.labels, views.secrecy, views.ended) == ({}, Secrecy(), False)
    views.observe(e.AuctionCreated(1, 10, RULES["sealed"]))
    assert views.secrecy == secrecy_for(RULES["sealed"])
    assert views.secrecy.bids is Reveal.AT_CLOSE and views.secrecy.offers is Reveal.AT_ONCE
    views.observe(e.BidderRegistered(2, 20, "acme", "Bidder 1", Decimal(0), 0, None))
    views.observe(e.BidAccepted(3, 110, "c", "acme", 900, 900, False))  # folds nothing
    assert views.labels == {"acme": "Bidder 1"} and not views.ended
    views.observe(e.AuctionEnded(4, 1000, e.Outcome.NO_BIDS, (), None, None, (), ""))
    assert views.ended
    multi = AuctionViews()
    multi.observe(e.AuctionCreated(1, 10, RULES["multiround"]))
    assert multi.secrecy.offers is Reveal.AT_START and multi.secrecy.bids is Reveal.AT_CLOSE
    assert not multi.started
    multi.observe(e.AuctionStarted(2, 100, None))
    assert multi.started and not multi.opened


def test_concerns_names_the_bidder_of_an_event() -> None:
    views = views_for("open", ended=False)
    for event in sample_events():
        assert views.concerns(event) == getattr(event, "bidder", None)


@pytest.mark.parametrize("mode", ["open", "sealed", "multiround"])
@pytest.mark.parametrize("ended", [False, True], ids=["live", "ended"])
def test_every_event_for_every_role(mode: str, ended: bool) -> None:
    views = views_for(mode, ended)
    for event in sample_events():
        kind = type(event)
        full = to_data(event)
        for audience in AUDIENCES:
            shown = views.render(event, audience)
            where = (mode, ended, kind.__name__, audience.role, audience.party)
            own = audience == OWN
            secret = kind in SECRET_BEFORE_END[mode] and not ended
            if secret and not own:
                # Hidden even from officers: no sealed amount, no proxy limit.
                assert shown == REDACTED, where
                continue
            if kind is e.CommandRejected and not (own or audience.privileged):
                assert shown == REDACTED, where
                continue
            if audience.privileged:
                assert shown == full, where
                continue
            text = json.dumps(shown)
            for party in PARTIES:
                assert f'"{party}"' not in text, where
            assert ("you" in shown) is (own and "bidder" in full), where
            if own and "bidder" in full:
                assert shown["you"] is True
            if "bidder" in full:
                assert shown["bidder"] == "Bidder 1", where
            for key, value in full.items():
                if key not in {"bidder", "order", "winners", "ranking", "rules"}:
                    assert shown[key] == value, where


def test_labels_replace_party_ids_in_lists() -> None:
    views = views_for("multiround", ended=False)
    started = e.RoundStarted(10, 160, 1, ("globex", "acme", "stranger"))
    assert views.render(started, OBSERVER)["order"] == ["Bidder 2", "Bidder 1", "?"]
    assert views.render(started, OFFICER)["order"] == ["globex", "acme", "stranger"]
    ranking = (e.Standing(1, "globex", 900, 900), e.Standing(2, "acme", 950, 950))
    ended = e.AuctionEnded(14, 1000, e.Outcome.AWARDED, ("globex",), 900, 900, ranking, "")
    for audience in (OBSERVER, OWN, OTHER):
        shown = views.render(ended, audience)
        assert shown["winners"] == ["Bidder 2"]
        assert [line["bidder"] for line in shown["ranking"]] == ["Bidder 2", "Bidder 1"]
        assert [line["price"] for line in shown["ranking"]] == [900, 950]
        assert "you" not in shown
    assert views.render(ended, AUDITOR)["winners"] == ["globex"]


def test_a_hidden_reserve_is_for_officers_and_auditors_only() -> None:
    views = views_for("open", ended=False)
    created = e.AuctionCreated(1, 10, RULES["open"])
    for audience in (OBSERVER, OWN, OTHER):
        rules = views.render(created, audience)["rules"]
        assert "reserve_price" not in rules and rules["start_price"] == 500
    for audience in (OFFICER, AUDITOR):
        assert views.render(created, audience)["rules"]["reserve_price"] == 5000
    # Rendering never changes the event or a later rendering.
    assert created.rules.reserve_price == 5000
    assert views.render(created, OFFICER)["rules"]["reserve_price"] == 5000


def test_own_events_are_marked_and_others_are_not() -> None:
    views = views_for("open", ended=False)
    bid = e.BidAccepted(5, 110, "c-1", "acme", 900, 900, False)
    assert views.render(bid, OWN) == {**to_data(bid), "bidder": "Bidder 1", "you": True}
    assert views.render(bid, OTHER) == {**to_data(bid), "bidder": "Bidder 1"}
    assert views.render(bid, OBSERVER) == views.render(bid, OTHER)
    # A bidder unknown to the views (not folded yet) is never shown by id.
    ghost = e.BidAccepted(6, 111, "c-2", "initech", 800, 800, False)
    assert views.render(ghost, OBSERVER)["bidder"] == "?"


def test_sealed_and_multiround_bids_open_at_the_end() -> None:
    for mode in ("sealed", "multiround"):
        views = views_for(mode, ended=False)
        bid = e.BidAccepted(5, 110, "c-1", "acme", 900, 900, False)
        withdrawn = e.BidWithdrawn(6, 120, "c-2", "acme")
        for event in (bid, withdrawn):
            assert views.render(event, OTHER) == REDACTED
            assert views.render(event, OFFICER) == REDACTED
            assert views.render(event, OWN)["you"] is True
        views.observe(e.AuctionEnded(7, 1000, e.Outcome.NO_BIDS, (), None, None, (), ""))
        assert views.render(bid, OTHER)["price"] == 900
        assert views.render(bid, OFFICER)["bidder"] == "acme"
    # In an open auction bids are public as they happen; proxies never are, until the end.
    views = views_for("open", ended=False)
    assert views.render(e.BidAccepted(5, 110, "c", "acme", 900, 900, True), OTHER)["proxy"]
    proxy = e.ProxySet(7, 130, "c-3", "acme", 800)
    assert views.render(proxy, OFFICER) == REDACTED
    assert views.render(proxy, OWN)["limit"] == 800


def test_a_cancelled_auction_is_never_opened() -> None:
    """A cancelled sealed (or multi-round) auction keeps its bids secret for ever, also
    for a client that subscribes from seq 0 after the cancel (the history is rendered
    with the views of the ended auction)."""
    for mode in ("sealed", "multiround"):
        views = views_for(mode, ended=False)
        views.observe(e.AuctionEnded(7, 1000, e.Outcome.CANCELLED, (), None, None, (), "x"))
        assert views.ended and not views.opened
        bid = e.BidAccepted(5, 110, "c-1", "acme", 900, 900, False)
        for audience in (OTHER, OBSERVER, OFFICER, AUDITOR):
            assert views.render(bid, audience) == REDACTED, (mode, audience)
        assert views.render(bid, OWN)["price"] == 900


@pytest.mark.parametrize("fmt", FORMATS)
def test_views_restored_from_a_snapshot_equal_the_views_folded_from_events(fmt: str) -> None:
    feed = _Feed(_workload(fmt, seed=3, bidders=12), 1_500)
    auction, folded = Auction(), AuctionViews()
    compared = 0
    for index, command in enumerate(feed):
        if command is None:
            auction, folded = Auction(), AuctionViews()
            continue
        for event in auction.handle(command):
            folded.observe(event)
        if index % 13 == 0 and auction.phase is not Phase.ENDED:
            restored = AuctionViews()
            restored.restore(restore_snapshot(take_snapshot(auction)))
            assert _slots(restored) == _slots(folded)
            compared += 1
    assert compared > 20


def test_views_refuse_an_ended_auction_and_a_channel_restores_only_when_empty() -> None:
    feed = _Feed(_workload("sealed_first", seed=3, bidders=4), 200)
    auction = Auction()
    for command in feed:
        if command is None:
            if auction.phase is Phase.ENDED:
                break
            auction = Auction()
            continue
        auction.handle(command)
    assert auction.phase is Phase.ENDED
    with pytest.raises(ValueError, match="ended"):
        AuctionViews().restore(auction)
    live = Auction()
    rules = english()
    live.handle(CreateAuction("c", rules.starts_at - 10, rules))
    channel = Channel("a-1")
    channel.restore(live)
    assert channel.head == live.seq == 1 and channel.committed is live
    with pytest.raises(ValueError, match="already folded"):
        channel.restore(live)


def _slots(views: AuctionViews) -> tuple[Any, ...]:
    return tuple(getattr(views, name) for name in type(views).__slots__)


def test_hide_reserve_drops_the_reserve_for_the_room_only_and_changes_in_place() -> None:
    for audience in (OBSERVER, OWN, OTHER):
        rules = {"start_price": 500, "reserve_price": 5000}
        assert hide_reserve(rules, audience) is rules == {"start_price": 500}
    for audience in (OFFICER, AUDITOR):
        rules = {"start_price": 500, "reserve_price": 5000}
        assert hide_reserve(rules, audience) == {"start_price": 500, "reserve_price": 5000}
    assert hide_reserve({}, OBSERVER) == {}  # no reserve to hide
