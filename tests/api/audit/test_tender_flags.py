"""Red flags of a tender (:mod:`api.audit.tender_flags`): every flag fires on a hand-made
event log and stays quiet on its near miss. The logs are built event by event (a
:class:`Log`), the way the tender engine writes them: created, envelopes in, the lot
closed at its deadline, financial envelopes opened, the lot awarded."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from api.audit.cli import main as audit_main
from api.audit.tender_flags import (
    LATE_WINDOW_US,
    NOTE,
    TENDER_FLAGS,
    TenderFlag,
    best_offer_excluded,
    deadline_moved_after_offers,
    identical_prices,
    late_offers,
    most_excluded,
    price_near_budget,
    single_offer,
    tender_red_flags,
)
from engine.tender_records import (
    BidderExcluded,
    EnvelopeInvalid,
    EnvelopeKind,
    EnvelopeOpened,
    EnvelopeReceived,
    EnvelopeWithdrawn,
    FollowUp,
    LotAwarded,
    LotClosed,
    LotHandedOff,
    LotSpec,
    Officer,
    Publication,
    Rank,
    ScheduleChanged,
    TenderCreated,
    TenderEvent,
    TenderSpec,
)
from tests.api.http.test_tenders import new_tender

if TYPE_CHECKING:
    from tests.api.conftest import Live

MIN = 60_000_000  # a minute in microseconds
DEADLINE = 1_790_000_000_000_000
FLAGS = "/api/v1/audit/tenders/{}/flags"
FIN = EnvelopeKind.FINANCIAL
TECH = EnvelopeKind.TECHNICAL


class Log:
    """A tender's event log, written by hand: each method appends one event."""

    def __init__(self, budget: str | None = None, lots: tuple[str, ...] = ("L1",)) -> None:
        template = {"format": "multiround"} | ({"start_price": budget} if budget else {})
        spec = TenderSpec(
            title="Road repairs",
            currency="EUR",
            officers=(Officer("o1", "00" * 32), Officer("o2", "11" * 32)),
            threshold=2,
            lots=tuple(LotSpec(n, n, DEADLINE, DEADLINE, (TECH, FIN)) for n in lots),
            publication=Publication.COMMITTEE,
            follow_up=FollowUp.AUCTION if budget else FollowUp.AWARD,
            auction_rules=json.dumps(template) if budget else "",
        )
        self.events: list[TenderEvent] = [TenderCreated(1, DEADLINE - 60 * MIN, "o1", spec)]

    @property
    def seq(self) -> int:
        return len(self.events) + 1

    def receive(self, bidder: str, before: int, kind: EnvelopeKind = FIN, lot: str = "L1") -> int:
        """``bidder``'s envelope, ``before`` microseconds before the deadline."""
        self.events.append(
            EnvelopeReceived(
                self.seq, DEADLINE - before, bidder, lot, kind, f"c-{bidder}-{kind}", 100, None
            )
        )
        return self.seq - 1

    def withdraw(self, bidder: str, kind: EnvelopeKind = FIN, lot: str = "L1") -> None:
        self.events.append(
            EnvelopeWithdrawn(self.seq, DEADLINE - MIN, bidder, lot, kind, f"c-{bidder}-{kind}")
        )

    def move(self, deadline: int, lot: str = "L1") -> int:
        self.events.append(
            ScheduleChanged(self.seq, DEADLINE - 30 * MIN, "o1", lot, deadline, deadline)
        )
        return self.seq - 1

    def close(self, envelopes: int, lot: str = "L1") -> int:
        self.events.append(LotClosed(self.seq, DEADLINE, lot, envelopes))
        return self.seq - 1

    def open(self, bidder: str, price: int, lot: str = "L1") -> int:
        self.events.append(
            EnvelopeOpened(
                self.seq, DEADLINE + MIN, lot, FIN, bidder, f"c-{bidder}-{FIN}", price, "{}"
            )
        )
        return self.seq - 1

    def invalid(self, bidder: str, kind: EnvelopeKind = FIN, lot: str = "L1") -> int:
        self.events.append(
            EnvelopeInvalid(self.seq, DEADLINE + MIN, lot, kind, bidder, "c", "bad_offer: x")
        )
        return self.seq - 1

    def exclude(self, bidder: str, lot: str = "L1") -> int:
        self.events.append(BidderExcluded(self.seq, DEADLINE + 2 * MIN, "o1", lot, bidder, "why"))
        return self.seq - 1

    def award(self, *ranked: tuple[str, int], lot: str = "L1") -> int:
        ranking = tuple(Rank(i, b, p, p) for i, (b, p) in enumerate(ranked, 1))
        winner, price = ranked[0] if ranked else (None, None)
        self.events.append(
            LotAwarded(self.seq, DEADLINE + 3 * MIN, "o1", lot, winner, price, ranking)
        )
        return self.seq - 1

    def hand_off(self, *ranked: tuple[str, int], lot: str = "L1") -> int:
        ranking = tuple(Rank(i, b, p, p) for i, (b, p) in enumerate(ranked, 1))
        self.events.append(LotHandedOff(self.seq, DEADLINE + 3 * MIN, "o1", lot, "a-1", ranking))
        return self.seq - 1


def competitive() -> Log:
    """Three bidders early, distinct prices, all valid, awarded to the lowest: no flag."""
    log = Log()
    for bidder, before in (("ann", 50 * MIN), ("bob", 40 * MIN), ("cat", 3 * MIN)):
        log.receive(bidder, before)
    log.close(3)
    for bidder, price in (("ann", 120_00), ("bob", 110_00), ("cat", 130_00)):
        log.open(bidder, price)
    log.award(("bob", 110_00), ("ann", 120_00), ("cat", 130_00))
    return log


def codes(flags: tuple[TenderFlag, ...]) -> list[str]:
    return [flag.code for flag in flags]


def test_a_competitive_tender_raises_no_flag() -> None:
    assert tender_red_flags(competitive().events) == ()
    assert tender_red_flags([]) == ()


# ------------------------------------------------------------------------- single offer


def test_a_lot_closed_with_one_bidder_is_a_single_offer() -> None:
    log = Log()
    tech = log.receive("ann", 20 * MIN, TECH)
    fin = log.receive("ann", 20 * MIN)
    log.receive("bob", 10 * MIN)
    log.withdraw("bob")
    closed = log.close(2)
    (flag,) = single_offer(log.events)
    assert (flag.lot, flag.seqs, flag.bidders) == ("L1", (tech, fin, closed), ("ann",))
    assert flag.to_json()["figures"] == {"bidders": 1}


def test_two_bidders_or_an_open_lot_are_not_a_single_offer() -> None:
    assert single_offer(competitive().events) == ()
    log = Log()
    log.receive("ann", 20 * MIN)
    assert single_offer(log.events) == ()  # not closed yet: more may come
    log.close(0)
    assert codes(single_offer(log.events)) == ["single_offer"]
    empty = Log()
    empty.close(0)
    assert single_offer(empty.events) == ()  # no offer at all is another matter


# -------------------------------------------------------------------- price near budget


def test_a_price_within_one_percent_under_the_budget_is_flagged() -> None:
    log = Log(budget="1000.00")
    log.receive("ann", 30 * MIN)
    log.receive("bob", 20 * MIN)
    log.close(2)
    opened = log.open("ann", 995_00)
    log.open("bob", 999_99)
    decided = log.hand_off(("ann", 995_00), ("bob", 999_99))
    (flag,) = price_near_budget(log.events)
    assert flag.seqs == (1, opened, decided) and flag.bidders == ("ann",)
    assert dict(flag.figures) == {
        "price": 995_00,
        "budget": 1000_00,
        "gap": 5_00,
        "gap_percent": Decimal("0.50"),
    }


def test_a_price_well_under_over_or_without_a_budget_is_not_flagged() -> None:
    for price in (989_99, 1000_01):  # 1.0001 % under; over the budget
        log = Log(budget="1000.00")
        log.receive("ann", 30 * MIN)
        log.close(1)
        log.open("ann", price)
        log.hand_off(("ann", price))
        assert price_near_budget(log.events) == (), price
    exact = Log(budget="1000.00")
    exact.hand_off(("ann", 990_00))  # exactly 1 %: flagged
    assert codes(price_near_budget(exact.events)) == ["price_near_budget"]
    assert price_near_budget(competitive().events) == ()  # states no budget


# ---------------------------------------------------------------------- identical prices


def test_identical_opened_prices_are_flagged_per_price() -> None:
    log = Log()
    for bidder in ("ann", "bob", "cat", "dan"):
        log.receive(bidder, 30 * MIN)
    log.close(4)
    a = log.open("ann", 100_00)
    b = log.open("bob", 100_00)
    log.open("cat", 101_00)
    d = log.open("dan", 100_00)
    (flag,) = identical_prices(log.events)
    assert (flag.seqs, flag.bidders) == ((a, b, d), ("ann", "bob", "dan"))
    assert dict(flag.figures) == {"price": 100_00, "bidders": 3}


def test_distinct_prices_are_not_identical() -> None:
    assert identical_prices(competitive().events) == ()
    log = Log(lots=("L1", "L2"))
    log.receive("ann", 30 * MIN)
    log.receive("bob", 30 * MIN, lot="L2")
    log.open("ann", 100_00)
    log.open("bob", 100_00, lot="L2")  # the same price in another lot is no tie
    assert identical_prices(log.events) == ()


# --------------------------------------------------------------------------- late offers


def test_a_lot_whose_every_envelope_came_in_the_last_minutes_is_flagged() -> None:
    log = Log()
    a = log.receive("ann", 4 * MIN)
    b = log.receive("bob", 2 * MIN, TECH)
    c = log.receive("bob", MIN)
    log.close(3)
    (flag,) = late_offers(log.events)
    assert (flag.seqs, flag.bidders) == ((a, b, c), ("ann", "bob"))
    assert dict(flag.figures) == {
        "window_us": LATE_WINDOW_US,
        "envelopes": 3,
        "earliest_left_us": 4 * MIN,
    }


def test_one_early_envelope_or_a_single_bidder_is_not_late_bidding() -> None:
    assert late_offers(competitive().events) == ()  # cat was late, ann and bob were not
    alone = Log()
    alone.receive("ann", MIN)
    assert late_offers(alone.events) == ()
    # Against the deadline in force when it came: an extension makes an envelope early.
    moved = Log()
    moved.move(DEADLINE + 60 * MIN)
    moved.receive("ann", MIN)
    moved.receive("bob", MIN)
    assert late_offers(moved.events) == ()


# ------------------------------------------------------------------------- most excluded


def test_most_bidders_excluded_or_invalid_is_flagged() -> None:
    log = Log()
    for bidder in ("ann", "bob", "cat"):
        log.receive(bidder, 30 * MIN)
    log.close(3)
    bad = log.invalid("ann", TECH)
    log.open("bob", 100_00)
    log.open("cat", 90_00)
    out = log.exclude("cat")
    (flag,) = most_excluded(log.events)
    assert (flag.seqs, flag.bidders) == ((bad, out), ("ann", "cat"))
    assert dict(flag.figures) == {"bidders": 3, "excluded": 1, "invalid": 1}


def test_half_or_fewer_excluded_is_not_most() -> None:
    log = Log()
    for bidder in ("ann", "bob"):
        log.receive(bidder, 30 * MIN)
    log.exclude("ann")
    assert most_excluded(log.events) == ()  # 1 of 2 is not more than half
    assert most_excluded(competitive().events) == ()


# ------------------------------------------------------------------- best offer excluded


def test_excluding_the_lowest_price_after_the_opening_is_flagged() -> None:
    log = competitive()
    out = log.exclude("bob")
    (flag,) = best_offer_excluded(log.events)
    assert (flag.lot, flag.bidders, flag.seqs[1]) == ("L1", ("bob",), out)
    assert dict(flag.figures) == {"price": 110_00, "next_price": 120_00}


def test_excluding_another_bidder_or_before_the_opening_is_not_flagged() -> None:
    log = competitive()
    log.exclude("cat")  # the highest price
    assert best_offer_excluded(log.events) == ()
    early = Log()
    early.receive("ann", 30 * MIN)
    early.receive("bob", 30 * MIN)
    early.close(2)
    early.exclude("bob")  # after the qualification stage, before any price was seen
    early.open("ann", 120_00)
    early.open("bob", 110_00)
    assert best_offer_excluded(early.events) == ()


# ----------------------------------------------------------- deadline moved after offers


def test_a_deadline_moved_after_envelopes_came_in_is_flagged() -> None:
    log = Log()
    a = log.receive("ann", 40 * MIN)
    moved = log.move(DEADLINE + 60 * MIN)
    log.receive("bob", 10 * MIN)
    (flag,) = deadline_moved_after_offers(log.events)
    assert (flag.seqs, flag.bidders) == ((a, moved), ("ann",))
    assert dict(flag.figures) == {"envelopes_before": 1, "changes": 1}


def test_a_deadline_moved_before_any_envelope_is_not_flagged() -> None:
    log = Log()
    log.move(DEADLINE + 60 * MIN)
    log.receive("ann", 10 * MIN)
    assert deadline_moved_after_offers(log.events) == ()
    other = Log(lots=("L1", "L2"))
    other.receive("ann", 40 * MIN, lot="L2")
    other.move(DEADLINE + 60 * MIN, lot="L1")  # another lot's envelope does not count
    assert deadline_moved_after_offers(other.events) == ()


# --------------------------------------------------------------------------------- all


def test_every_flag_is_run_and_its_json_is_plain() -> None:
    assert len(TENDER_FLAGS) == 7
    log = Log(budget="1000.00")
    log.receive("ann", MIN)
    log.close(1)
    log.open("ann", 999_00)
    log.hand_off(("ann", 999_00))
    flags = tender_red_flags(log.events)
    assert codes(flags) == ["single_offer", "price_near_budget"]
    body: dict[str, Any] = flags[1].to_json()
    assert body["lot"] == "L1" and body["figures"]["gap_percent"] == "0.10"
    assert json.loads(json.dumps(body)) == body
    assert NOTE == "prompts for review, not findings"


@pytest.mark.parametrize("check", TENDER_FLAGS, ids=lambda check: check.__name__)
def test_no_flag_fails_on_a_log_without_its_creation(check: Any) -> None:
    log = competitive()
    assert check(log.events[1:]) == ()


# ------------------------------------------------------------- the route and the CLI


@pytest.fixture(scope="module")
def server(start_server: Any) -> Live:
    live: Live = start_server()
    return live


async def test_the_route_and_the_cli_answer_a_real_tenders_flags(
    server: Live, tmp_path: Path
) -> None:
    """One offer in a lot, two identical prices in none: the server's answer, and
    ``gavel audit flags`` on the exported bundle, name the single offer with its events;
    a bidder may not read them, an unknown tender is 404."""
    tender = await new_tender(server, threshold=2, close_in=1.0)
    assert (await tender.submit("ann", tender.seal("ann", 990_00))).status == 201
    await tender.wait_deadline()
    await tender.open_with("o1", "o2")
    auditor = server.token("aud", "auditor")
    reply = await server.get(FLAGS.format(tender.id), auditor)
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["tender_id"] == tender.id and body["note"] == NOTE
    (flag,) = body["flags"]
    assert (flag["code"], flag["lot"], flag["bidders"]) == ("single_offer", "L1", ["ann"])
    kinds = {e["seq"]: e["type"] for e in await tender.events()}
    assert [kinds[seq] for seq in flag["seqs"]] == ["EnvelopeReceived", "LotClosed"]
    # The committee reads them too; a bidder does not; no such tender is 404.
    assert (await server.get(FLAGS.format(tender.id), tender.officer["o1"])).status == 200
    assert (await server.get(FLAGS.format(tender.id), tender.bidder("ann"))).status == 403
    assert (await server.get(FLAGS.format("t-none"), auditor)).status == 404

    exported = await server.get(f"/api/v1/audit/tenders/{tender.id}/export", auditor)
    assert exported.status == 200, exported.body
    path = tmp_path / "tender.json"
    path.write_bytes(exported.body)
    out = io.StringIO()
    assert audit_main(["flags", str(path), "--json"], out=out) == 0
    assert json.loads(out.getvalue()) == body
    out = io.StringIO()
    assert audit_main(["flags", str(path)], out=out) == 0
    text = out.getvalue()
    assert text.startswith(f"1 red flags in tender {tender.id} ({NOTE})")
    assert "single_offer: lot L1 closed with one offer, ann's" in text
