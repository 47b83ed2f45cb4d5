"""One simulated bidder's websocket loop against a real server: frames folded, requests
answered and timed, a reject's bound obeyed, the end seen."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

from bidders_sim.runner import action_frame, run_bidder
from bidders_sim.sim import Officer
from bidders_sim.strategy import Accept, Action, Bid, Pass, Proxy, View
from contracts.rules_json import rules_to_json
from engine.rules import EnglishRules, SoftClose, Step
from tests.api.conftest import Live

_S = 1_000_000


class Stubborn:
    """Bids ``next_valid - 1`` once (refused: a step short), then ``next_valid`` whenever
    it does not lead, up to ``limit``."""

    name: ClassVar[str] = "stubborn"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.tried_short = False
        self.views: list[View] = []

    def decide(self, view: View) -> Action | None:
        self.views.append(view)
        if view.next_valid is None or view.leading or view.next_valid > self.limit:
            return None
        if not self.tried_short and view.best is not None:
            self.tried_short = True
            return Bid(view.next_valid - 1)
        return Bid(view.next_valid)

    def wake_at(self, view: View) -> int | None:
        return None


def _auction(server: Live, officer: Officer, name: str) -> tuple[str, dict[str, str]]:
    now = int(time.time() * _S)
    rules = EnglishRules(
        "EUR",
        starts_at=now + _S,
        ends_at=now + 4 * _S,
        start_price=100_000,
        step=Step(amount=1_000),
        soft_close=SoftClose(_S // 2, _S // 2, hard_close_at=now + 8 * _S),
    )
    officer.request("POST", "/api/v1/auctions", {"id": name, "rules": rules_to_json(rules)})
    tokens = {}
    for party in ("alice", "bob"):
        answer = officer.request("POST", f"/api/v1/auctions/{name}/bidders", {"party": party})
        tokens[party] = answer["token"]
    return name, tokens


async def test_two_bidders_bid_up_to_their_limits(server: Live) -> None:
    officer = Officer(f"http://127.0.0.1:{server.port}", server.officer)
    auction_id, tokens = _auction(server, officer, "runner-1")
    ws_url = f"ws://127.0.0.1:{server.port}"
    alice, bob = Stubborn(limit=110_000), Stubborn(limit=105_000)
    heard: list[str] = []
    first, second = await asyncio.gather(
        run_bidder(
            ws_url, auction_id, tokens["alice"], alice, party="alice", listener=heard.append
        ),
        run_bidder(ws_url, auction_id, tokens["bob"], bob, party="bob"),
    )
    for outcome in (first, second):
        assert outcome.error is None and outcome.unanswered == 0
        assert outcome.ended is not None and outcome.ended["outcome"] == "awarded"
        # The bid a step short is refused (and a race lost to the other bidder may be).
        assert set(outcome.rejects) == {"insufficient_improvement"}, outcome
        refused = outcome.rejects["insufficient_improvement"]
        assert outcome.sent == outcome.acks + refused == len(outcome.latencies_us)
        assert all(latency > 0 for latency in outcome.latencies_us)
        assert outcome.strategy == "stubborn" and outcome.label is not None
    # alice outlasts bob (limit 1050.00): she wins at 1050.00 or a step over it, by
    # which of them reached 1050.00 first.
    assert first.ended is not None and first.ended["winners"] == [first.label]
    price = first.ended["price"]
    assert price in (105_000, 106_000)
    state = officer.request("GET", f"/api/v1/auctions/{auction_id}")
    assert state["result"]["winners"] == ["alice"] and state["result"]["price"] == price
    assert heard.count("sent") == first.sent and heard.count("ack") == first.acks
    assert first.commands[0] == "bid 1000.00"
    # The server's clock drove the views: they advance, and none came before the start.
    nows = [view.now for view in alice.views]
    assert nows == sorted(nows) and alice.views[-1].bidders == 2


def test_action_frames() -> None:
    assert action_frame(Bid(123_456), "r-1", "EUR") == {
        "type": "bid",
        "request_id": "r-1",
        "amount": "1234.56",
        "currency": "EUR",
    }
    assert action_frame(Proxy(100), "r-2", "JPY")["limit"] == "100"
    assert action_frame(Accept(95_000), "r-3", "EUR")["expected"] == "950.00"
    assert action_frame(Pass(), "r-4", "EUR") == {"type": "pass", "request_id": "r-4"}


class Relentless:
    """Bids 0.01 (under any start price) whenever asked."""

    name: ClassVar[str] = "relentless"

    def decide(self, view: View) -> Action | None:
        return Bid(1) if view.phase == "running" else None

    def wake_at(self, view: View) -> int | None:
        return None


async def test_a_refused_bid_is_not_repeated_and_some_endings_are_final(server: Live) -> None:
    """The same refused bid waits for news; a disqualification puts the bidder out; a
    revoked token's socket (4401) is not reopened."""
    officer = Officer(f"http://127.0.0.1:{server.port}", server.officer)
    auction_id, tokens = _auction(server, officer, "runner-2")
    ws_url = f"ws://127.0.0.1:{server.port}"

    async def officer_acts() -> None:
        await asyncio.sleep(2.0)  # bidding opened a second ago
        await officer.call(
            "POST", f"/api/v1/auctions/{auction_id}/disqualify", {"bidder": "alice", "note": "t"}
        )
        await asyncio.sleep(1.0)
        await officer.call("POST", f"/api/v1/auctions/{auction_id}/bidders/bob/revoke", {})

    alice, bob, _ = await asyncio.gather(
        run_bidder(ws_url, auction_id, tokens["alice"], Relentless(), party="alice"),
        run_bidder(ws_url, auction_id, tokens["bob"], Relentless(), party="bob"),
        officer_acts(),
    )
    # alice: refused once, silent until the news of her disqualification, then out.
    assert alice.commands == ("bid 0.01", "bid 0.01"), alice
    assert alice.rejects == {"below_start_price": 1, "bidder_disqualified": 1}
    assert alice.error == "out of the auction: bidder_disqualified" and alice.ended is None
    # bob: refused again only after news (alice's disqualification), then his socket
    # closed for the revoked token, and not reopened.
    assert bob.commands == ("bid 0.01", "bid 0.01") and bob.rejects == {"below_start_price": 2}
    assert bob.error is not None and bob.error.startswith("refused:") and "4401" in bob.error
