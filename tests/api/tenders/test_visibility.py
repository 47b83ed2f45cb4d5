"""Who may see what of a tender (:mod:`api.tenders.visibility`), on tenders driven through
the engine (``tests/engine/test_tender.py``'s ``Run``): the committee and auditors see
everything, the public what the publication rule allows, a bidder its own. No server.
"""

from __future__ import annotations

import pytest

from api.access.auth import Claims, Role
from api.tenders import visibility
from api.tenders.errors import UnknownLot
from engine.tender_records import Award, Publication
from tests.engine.test_tender import DEADLINE, OPENING, Run, S, published

OFFICER = Claims("o1", Role.OFFICER, None, 0, 1, "j1")
STRANGER_OFFICER = Claims("o9", Role.OFFICER, None, 0, 1, "j2")
AUDITOR = Claims("aud", Role.AUDITOR, None, 0, 1, "j3")
ANN = Claims("ann", Role.BIDDER, None, 0, 1, "j4")
BOB = Claims("bob", Role.BIDDER, None, 0, 1, "j5")
EVERYONE = (OFFICER, STRANGER_OFFICER, AUDITOR, ANN, BOB)


def awarded(publication: Publication) -> Run:
    """ann and bob bid, the lot opens (ann 900, bob 800) and is awarded to bob."""
    run = published(publication=publication)
    run.submit("ann", 10 * S, "ann-1")
    run.submit("bob", 11 * S, "bob-1")
    run.share("o1", OPENING)
    run.share("o2", OPENING + 1)
    run.opening(OPENING + 2, run.tender.lots["L1"].spec.kinds[0], {"ann": 900, "bob": 800})
    run(Award(run.id(), OPENING + 3, "o2", "L1"))
    return run


def test_overseers_are_the_committee_and_auditors() -> None:
    tender = published().tender
    assert [visibility.is_committee(tender, c) for c in EVERYONE] == [
        True,
        False,
        False,
        False,
        False,
    ]
    assert [visibility.is_overseer(tender, c) for c in EVERYONE] == [
        True,
        False,
        True,
        False,
        False,
    ]


@pytest.mark.parametrize("publication", list(Publication))
def test_offers_follow_the_publication_rule_and_a_bidder_sees_its_own(
    publication: Publication,
) -> None:
    tender = awarded(publication).tender
    public = publication is Publication.PUBLIC
    for claims in EVERYONE:
        view = visibility.offers_view(tender, claims, "L1")
        bidders = {offer["bidder"] for offer in view["offers"]}
        if claims in (OFFICER, AUDITOR) or public:
            assert bidders == {"ann", "bob"} and view["decision"]["winner"] == "bob"
        elif claims.role is Role.BIDDER:
            assert bidders == {claims.sub} and view["decision"] is None
        else:
            assert bidders == set() and view["decision"] is None
        assert view["lot"] == "L1" and view["phase"] == "decided"
    with pytest.raises(UnknownLot, match="no lot 'L9'"):
        visibility.offers_view(tender, OFFICER, "L9")


def test_the_log_blanks_other_bidders_and_hides_offers_one_may_not_see() -> None:
    run = awarded(Publication.COMMITTEE)
    shown = {c.sub: visibility.visible_events(run.tender, c, run.events) for c in EVERYONE}
    assert all(len(events) == len(run.events) for events in shown.values())
    full = shown["o1"]
    assert shown["aud"] == full
    assert not any(event.get("hidden") for event in full)
    ann = shown["ann"]
    for mine, event in zip(ann, run.events, strict=True):
        bidder = getattr(event, "bidder", None) or getattr(event, "winner", None)
        if type(event).__name__ in ("EnvelopeOpened", "LotAwarded"):
            # ann's own opened offer is hers to see; the others' and the award (bob's) not.
            assert mine.get("hidden", False) is (bidder != "ann")
            if mine.get("hidden"):
                assert set(mine) == {"type", "seq", "at", "hidden"}
        elif mine.get("bidder", None) is not None:
            assert mine["bidder"] == "ann"
    # The stranger officer sees commitments but no names at all.
    assert all(event.get("bidder") is None for event in shown["o9"])


def test_a_receipt_is_for_its_bidder_and_overseers() -> None:
    tender = published().tender
    assert visibility.may_see_receipt(tender, ANN, "ann")
    assert not visibility.may_see_receipt(tender, BOB, "ann")
    assert visibility.may_see_receipt(tender, OFFICER, "ann")
    assert visibility.may_see_receipt(tender, AUDITOR, "ann")
    assert not visibility.may_see_receipt(tender, STRANGER_OFFICER, "ann")


def test_the_public_view_counts_envelopes_for_overseers_and_closes_a_passed_deadline() -> None:
    run = published()
    run.submit("ann", 10 * S, "ann-1")
    before = visibility.public_view("t-1", run.tender, 20 * S, overseer=True)
    assert before["id"] == "t-1" and before["server_time"] == 20 * S
    assert before["officers"] == ["o1", "o2", "o3"] and before["threshold"] == 2
    assert before["opening_public_key"] == "opening-public"
    [lot] = before["lots"]
    assert lot["phase"] == "open" and lot["envelopes"] == 1 and lot["next_stage"] == "financial"
    anyone = visibility.public_view("t-1", run.tender, DEADLINE + 1, overseer=False)
    [lot] = anyone["lots"]
    # Past the deadline the lot shows closed before any command closed it in the log.
    assert lot["phase"] == "closed" and lot["envelopes"] is None
    assert run.tender.lots["L1"].phase.value == "open"


def test_overseers_see_who_handed_in_and_the_ranking_an_award_would_record() -> None:
    """The officers' opening page shows the quorum filling (who handed in, in order) and,
    once open, the ranking: overseers only (and the public ranking per the rule)."""
    run = published(publication=Publication.COMMITTEE)
    run.submit("ann", 10 * S, "ann-1")
    run.submit("bob", 11 * S, "bob-1")
    run.share("o2", OPENING)
    view = visibility.public_view("t-1", run.tender, OPENING + 1, overseer=True)
    [lot] = view["lots"]
    assert lot["handed_in"] == ["o2"] and lot["shares"] == 1 and lot["excluded"] == []
    assert view["criterion"] == "price" and view["features"] == []
    assert view["auction_rules"] is None
    [hidden] = visibility.public_view("t-1", run.tender, OPENING + 1, overseer=False)["lots"]
    assert hidden["handed_in"] is None and hidden["excluded"] is None
    run.share("o1", OPENING + 1)
    run.opening(OPENING + 2, run.tender.lots["L1"].spec.kinds[0], {"ann": 900, "bob": 800})
    ranking = visibility.offers_view(run.tender, OFFICER, "L1")["ranking"]
    assert [(r["rank"], r["bidder"], r["price"]) for r in ranking] == [
        (1, "bob", 800),
        (2, "ann", 900),
    ]
    assert visibility.offers_view(run.tender, ANN, "L1")["ranking"] == []
    # The ranking the page shows is the one the award records.
    run(Award(run.id(), OPENING + 3, "o2", "L1"))
    decided = visibility.offers_view(run.tender, OFFICER, "L1")
    assert [r["bidder"] for r in decided["decision"]["ranking"]] == ["bob", "ann"]
    assert decided["ranking"] == decided["decision"]["ranking"]
