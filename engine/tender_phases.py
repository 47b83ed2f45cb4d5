"""Every phase of a sealed tender and of each of its lots, and every transition, in tables.

The tender's counterpart of :mod:`engine.phases`, folded with by :mod:`engine.tender`:

- ``TENDER_TRANSITIONS[tender phase][event type]`` is the tender's phase after the event;
- ``LOT_TRANSITIONS[lot phase][event type]`` is the phase of the event's lot after it (for
  the :data:`LOT_EVENTS`, which name a lot); a lot event also needs a row in the tender's
  table (it keeps a published tender published).

An event with no row in the current phase (of the tender, or of its lot) is an
:class:`~engine.errors.IllegalTransition`: the log is not one this engine wrote.

- ``TENDER_REFUSALS[tender phase][command type]`` is the reason a command is rejected in
  that tender phase before anything else is looked at;
- ``LOT_REFUSALS[lot phase][command type]`` is the reason a lot command is rejected in
  its lot's phase (once the lot is found). Commands without a row go on to the rules.

Every lookup is O(1). ::

    tender: NEW ─TenderCreated→ CREATED ─TenderPublished→ PUBLISHED
    lot:    OPEN ─LotClosed→ CLOSED ─(StageOpened per kind)… LotOpened→ OPENED
                                                     ─LotAwarded | LotHandedOff→ DECIDED
"""

from __future__ import annotations

from enum import StrEnum

from engine import tender_records as t
from engine.events import CommandRejected
from engine.reasons import Reason

__all__ = [
    "LOT_EVENTS",
    "LOT_REFUSALS",
    "LOT_TRANSITIONS",
    "TENDER_REFUSALS",
    "TENDER_TRANSITIONS",
    "LotPhase",
    "TenderPhase",
]


class TenderPhase(StrEnum):
    """Where a tender is: created (key ceremony pending), published (taking envelopes)."""

    NEW = "new"
    CREATED = "created"
    PUBLISHED = "published"


class LotPhase(StrEnum):
    """Where a lot is: taking envelopes, sealed past its deadline, opened, decided."""

    OPEN = "open"
    CLOSED = "closed"
    OPENED = "opened"
    DECIDED = "decided"


_NEW, _CREATED, _PUBLISHED = TenderPhase
_OPEN, _CLOSED, _OPENED, _DECIDED = LotPhase

#: Events that concern one lot (they have a ``lot`` member), by the lot phase they need.
LOT_TRANSITIONS: dict[LotPhase, dict[type[object], LotPhase]] = {
    _OPEN: {
        t.ScheduleChanged: _OPEN,
        t.EnvelopeReceived: _OPEN,
        t.EnvelopeWithdrawn: _OPEN,
        t.LotClosed: _CLOSED,
    },
    _CLOSED: {
        t.BidsRead: _CLOSED,
        t.ShareAccepted: _CLOSED,
        t.SharesDiscarded: _CLOSED,
        t.EnvelopeOpened: _CLOSED,
        t.EnvelopeInvalid: _CLOSED,
        t.StageOpened: _CLOSED,
        t.BidderExcluded: _CLOSED,
        t.LotOpened: _OPENED,
    },
    _OPENED: {
        t.BidsRead: _OPENED,
        t.BidderExcluded: _OPENED,
        t.LotAwarded: _DECIDED,
        t.LotHandedOff: _DECIDED,
    },
    _DECIDED: {t.BidsRead: _DECIDED},
}

#: The events that concern one lot: the tender applies them to that lot's row too.
LOT_EVENTS = frozenset(kind for row in LOT_TRANSITIONS.values() for kind in row)

#: Tender-level phase after each event; lot events keep the tender where it is.
TENDER_TRANSITIONS: dict[TenderPhase, dict[type[object], TenderPhase]] = {
    _NEW: {t.TenderCreated: _CREATED, CommandRejected: _NEW},
    _CREATED: {
        t.TenderPublished: _PUBLISHED,
        t.ScheduleChanged: _CREATED,
        CommandRejected: _CREATED,
    },
    _PUBLISHED: {CommandRejected: _PUBLISHED, **{kind: _PUBLISHED for kind in LOT_EVENTS}},
}

_AFTER_PUBLICATION = (
    t.SubmitEnvelope,
    t.WithdrawEnvelope,
    t.ReadBids,
    t.SubmitShare,
    t.DiscardShares,
    t.RecordOpening,
    t.ExcludeBidder,
    t.Award,
    t.HandOff,
)

#: Commands refused in a tender phase before anything else is looked at.
TENDER_REFUSALS: dict[TenderPhase, dict[type[object], Reason]] = {
    _NEW: {},
    _CREATED: {
        t.CreateTender: Reason.TENDER_EXISTS,
        **{kind: Reason.TENDER_NOT_PUBLISHED for kind in _AFTER_PUBLICATION},
    },
    _PUBLISHED: {
        t.CreateTender: Reason.TENDER_EXISTS,
        t.PublishTender: Reason.TENDER_ALREADY_PUBLISHED,
    },
}

_BEFORE_DEADLINE = (t.ChangeSchedule, t.SubmitEnvelope, t.WithdrawEnvelope)
_OPENING = (t.SubmitShare, t.DiscardShares, t.RecordOpening)

#: Lot commands refused in a lot phase (after the lot is found).
LOT_REFUSALS: dict[LotPhase, dict[type[object], Reason]] = {
    _OPEN: {
        t.ReadBids: Reason.BIDS_SEALED,
        **{kind: Reason.OPENING_NOT_DUE for kind in _OPENING},
        t.ExcludeBidder: Reason.OPENING_NOT_DUE,
        t.Award: Reason.LOT_NOT_OPENED,
        t.HandOff: Reason.LOT_NOT_OPENED,
    },
    _CLOSED: {
        **{kind: Reason.SUBMISSION_CLOSED for kind in _BEFORE_DEADLINE},
        t.Award: Reason.LOT_NOT_OPENED,
        t.HandOff: Reason.LOT_NOT_OPENED,
    },
    _OPENED: {
        **{kind: Reason.SUBMISSION_CLOSED for kind in _BEFORE_DEADLINE},
        **{kind: Reason.STAGE_NOT_CURRENT for kind in _OPENING},
    },
    _DECIDED: {
        **{kind: Reason.SUBMISSION_CLOSED for kind in _BEFORE_DEADLINE},
        **{kind: Reason.STAGE_NOT_CURRENT for kind in _OPENING},
        t.ExcludeBidder: Reason.LOT_DECIDED,
        t.Award: Reason.LOT_DECIDED,
        t.HandOff: Reason.LOT_DECIDED,
    },
}
