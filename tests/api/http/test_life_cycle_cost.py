"""One name and one unit for the life-cycle cost on the wire (issue 15).

A client states a bidder's life-cycle cost as ``cost``, a plain decimal string in major
units, like every amount it sends (docs/protocol.md): in the register body of an auction
here, and in a sealed tender offer (version 2, ``tests/contracts/test_sealing.py`` and
``tests/api/tenders/test_award.py``). Events carry it as ``cost`` in integer minor units,
like every amount in an event. The tender's former name, ``non_price_cost_minor``, is
refused in a register body with a 422 problem naming the field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.reasons import Reason
from tests.api.http.test_app import assert_problem, assert_rejected, bid, reverse

if TYPE_CHECKING:
    from tests.api.conftest import Live


def _lcc() -> dict[str, object]:
    return {**reverse(), "scoring": "lcc"}


async def test_a_registered_cost_in_major_units_is_an_event_cost_in_minor_units(
    server: Live,
) -> None:
    auction = await server.create(_lcc())
    ann = await server.register(auction, "ann", cost="250.00")
    await server.register(auction, "bob", cost="100")
    registered = {
        e["event"]["bidder"]: e["event"]["cost"]
        for e in await server.events(auction)
        if e["event"]["type"] == "BidderRegistered"
    }
    assert registered == {"ann": 25_000, "bob": 10_000}
    await server.wait_phase(auction, "running")
    # Scored by price + cost: 900.00 + 250.00 is a score of 1150.00.
    assert (await bid(server, auction, ann, "900.00")).status == 201


async def test_the_old_name_and_other_units_are_refused_with_a_problem(server: Live) -> None:
    auction = await server.create(_lcc())
    path = f"/api/v1/auctions/{auction}/bidders"
    old = await server.post(path, {"party": "ann", "non_price_cost_minor": 25_000}, server.officer)
    assert assert_problem(old, 422, "unknown_field")["field"] == "non_price_cost_minor"
    # A JSON number is not an amount on this wire: a decimal string in major units is.
    number = await server.post(path, {"party": "ann", "cost": 25_000}, server.officer)
    assert assert_problem(number, 422, "invalid_field")["pointer"] == "/cost"
    # More decimals than the currency has: the engine's refusal, naming the field.
    cents = await server.post(path, {"party": "ann", "cost": "2.505"}, server.officer)
    assert "cost" in assert_rejected(cents, Reason.INVALID_SCORING_INPUT)["detail"]
