"""The service's view of the hub (:mod:`api.auctions.ports`): the live hub satisfies it, and
``release`` forgets only channels nobody watches."""

from __future__ import annotations

from api.auctions.ports import CommittedChannel, Publisher
from api.auctions.views import Audience
from api.live.hub import Hub, Subscriber
from engine import Auction, CreateAuction
from engine.rules import EnglishRules, Step


def _publisher(hub: Publisher) -> Publisher:
    # Typed on purpose: mypy checks that Hub is a Publisher (structurally).
    return hub


def test_the_hub_is_a_publisher_whose_channels_hold_the_committed_state() -> None:
    publisher = _publisher(Hub())
    events = Auction().handle(
        CreateAuction("c", 10, EnglishRules("EUR", 100, 9000, 100, Step(100)))
    )
    publisher.publish("a-1", events)
    channel: CommittedChannel = publisher.channel("a-1")
    assert channel.head == events[-1].seq
    assert channel.committed.seq == events[-1].seq


def test_release_forgets_a_channel_only_when_nobody_watches_it() -> None:
    hub = Hub()
    hub.channel("idle")
    hub.channel("watched").subscribers.add(Subscriber(Audience("observer", "o")))
    for auction_id in ("idle", "watched", "never-seen"):
        hub.release(auction_id)
    assert set(hub.channels) == {"watched"}
