"""Who may see what of a tender: its public part, its log, offers, receipts.

The rules, in one place:

- the committee (the tender's officers) and auditors are *overseers*: they see the
  envelope counts, every bidder's name in the log and every receipt;
- opened offers (and the award that names a winner) are shown to overseers always, to
  anyone when the tender's publication rule is ``public``, and to a bidder its own;
- anyone else sees the log with the other bidders' names blanked (the commitments stay:
  a supplier finds its own) and the opened offers it may not see as ``hidden``;
- who has handed in a share of the stage being opened (the opening ceremony's quorum,
  shown live on the officers' page) and who is excluded: overseers only.

Before the opening no rule here can show a plaintext offer: the server has none. Every
function is pure (a replayed :class:`~engine.tender.Tender` and the caller's claims in,
plain data out) and O(size of what it returns) unless it says otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from api.access.auth import Claims, Role
from api.tenders.errors import UnknownLot
from engine.codec import to_data
from engine.tender import Tender
from engine.tender_records import (
    EnvelopeInvalid,
    EnvelopeOpened,
    LotAwarded,
    LotHandedOff,
    Publication,
    TenderEvent,
)

__all__ = [
    "is_committee",
    "is_overseer",
    "may_see_offers",
    "may_see_receipt",
    "offers_view",
    "public_view",
    "visible_events",
]

#: Events whose content is an opened offer: shown per the tender's publication rule.
_OFFER_EVENTS = (EnvelopeOpened, EnvelopeInvalid, LotAwarded, LotHandedOff)


def is_committee(tender: Tender, claims: Claims) -> bool:
    """Whether ``claims`` are an officer of ``tender``'s committee. O(officers)."""
    spec = tender.spec
    assert spec is not None
    return claims.role is Role.OFFICER and any(o.officer == claims.sub for o in spec.officers)


def is_overseer(tender: Tender, claims: Claims) -> bool:
    """The committee and auditors. O(officers)."""
    return is_committee(tender, claims) or claims.role is Role.AUDITOR


def may_see_offers(tender: Tender, claims: Claims, bidder: str) -> bool:
    """Committee and auditors always; the public if the rule says so; a bidder its own
    (``bidder`` ``""``: an offer of no one in particular). O(officers)."""
    spec = tender.spec
    assert spec is not None
    return (
        is_overseer(tender, claims)
        or spec.publication is Publication.PUBLIC
        or (claims.role is Role.BIDDER and claims.sub == bidder)
    )


def may_see_receipt(tender: Tender, claims: Claims, bidder: str) -> bool:
    """A receipt is for its bidder, the committee and auditors. O(officers)."""
    return is_overseer(tender, claims) or (claims.role is Role.BIDDER and claims.sub == bidder)


def public_view(tender_id: str, tender: Tender, now: int, overseer: bool) -> dict[str, Any]:
    """The tender as anyone may see it at server time ``now``; envelope counts, the
    officers who handed in a share of each lot's current stage (``handed_in``, in order)
    and the excluded bidders only for an ``overseer``. O(lots · officers)."""
    spec = tender.spec
    assert spec is not None
    return {
        "id": tender_id,
        "title": spec.title,
        "currency": spec.currency,
        "phase": tender.phase.value,
        "seq": tender.seq,
        "server_time": now,
        "officers": [o.officer for o in spec.officers],
        "threshold": spec.threshold,
        "publication": spec.publication.value,
        "follow_up": spec.follow_up.value,
        "criterion": spec.criterion.value,
        "features": [
            {"name": f.name, "weight": str(f.weight), "maximum": str(f.maximum)}
            for f in spec.features
        ],
        # The multi-round template the hand-off starts from (recorded as given).
        "auction_rules": json.loads(spec.auction_rules) if spec.auction_rules else None,
        "opening_public_key": tender.public_key,
        "lots": [
            {
                "id": name,
                "title": lot.spec.title,
                "deadline": lot.deadline,
                "opening_at": lot.opening_at,
                "kinds": [k.value for k in lot.spec.kinds],
                # A deadline that passed closes the lot at the next command; say so now.
                "phase": "closed"
                if lot.phase.value == "open" and now > lot.deadline
                else lot.phase.value,
                "next_stage": None if lot.current_kind is None else lot.current_kind.value,
                "shares": len(lot.shares),
                "envelopes": len(lot.envelopes) if overseer else None,
                "handed_in": list(lot.shares) if overseer else None,
                "excluded": sorted(lot.excluded) if overseer else None,
            }
            for name, lot in tender.lots.items()
        ],
    }


def visible_events(
    tender: Tender, claims: Claims, history: Iterable[TenderEvent]
) -> list[dict[str, Any]]:
    """The tender's log (``history``, every committed event in order) as ``claims`` may
    see it, each event as its JSON data. O(events · officers)."""
    overseer = is_overseer(tender, claims)
    shown = []
    for event in history:
        data = to_data(event)
        bidder = getattr(event, "bidder", None) or getattr(event, "winner", None) or ""
        if isinstance(event, _OFFER_EVENTS):
            if not may_see_offers(tender, claims, bidder):
                data = {
                    "type": type(event).__name__,
                    "seq": event.seq,
                    "at": event.at,
                    "hidden": True,
                }
        elif not overseer and data.get("bidder") not in (None, claims.sub):
            # Who else is tendering is not for other parties to know: they see the
            # commitments (and find their own), not the names.
            data["bidder"] = None
        shown.append(data)
    return shown


def offers_view(tender: Tender, claims: Claims, lot: str) -> dict[str, Any]:
    """A lot's opened offers that ``claims`` may see, and, if they may see every offer,
    the ranking the tender's criterion gives them now (valid financial offers of bidders
    not excluded; what an award would record) and its decision (the award or the
    hand-off); :class:`~api.tenders.errors.UnknownLot` if the tender has no such lot.
    O(offers · (officers + log offers))."""
    state = tender.lots.get(lot)
    if state is None:
        raise UnknownLot(lot)
    shown = [
        to_data(opened)
        for (bidder, _), opened in sorted(state.opened.items())
        if may_see_offers(tender, claims, bidder)
    ]
    everything = may_see_offers(tender, claims, "")
    return {
        "lot": lot,
        "phase": state.phase.value,
        "offers": shown,
        "ranking": [to_data(rank) for rank in tender.ranking(lot)] if everything else [],
        "decision": to_data(state.decision) if state.decision is not None and everything else None,
    }
