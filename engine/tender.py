"""The sealed-tender state machine: ``handle(command)`` in, events out (records in
:mod:`engine.tender_records`).

Call order for a caller (the tender service, the auditor's replay):

1. ``tender = Tender()``, then ``tender.handle(CreateTender(...))``.
2. For every command, ``events = tender.handle(command)``; persist ``events`` in order.
   ``command.at`` is the server time; it must never go backwards.
3. Deadlines need no timer: any command first closes every lot whose deadline it is past
   (a ``LotClosed`` at the deadline's own time), so an envelope one microsecond late is
   refused whether or not a ``Tick`` got there first. ``next_deadline()`` says when a
   ``Tick`` would close the next lot.

The life of a tender and of each of its lots, with every transition and every refusal
by phase, is the data of :mod:`engine.tender_phases`; :meth:`Tender.apply` folds with
those tables and :meth:`Tender.handle` consults their refusals first.

The state is the fold of the events: ``replay(events) == tender`` always holds. A refused
command yields one :class:`~engine.events.CommandRejected` and changes nothing else;
that is how every refused attempt (a late deadline change, a read of sealed bids, a
forged share) ends up in the log. Per command the work is O(1) apart from the opening
(O(e log e) in the lot's envelopes) and the award (the same).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from engine import tender_records as t
from engine.errors import ClockWentBackwards, CorruptLog, EngineMisuse, IllegalTransition
from engine.events import CommandRejected
from engine.instant import iso_utc
from engine.money import format_minor
from engine.reasons import Reason
from engine.scoring import Scoring, score_of
from engine.tender_phases import (
    LOT_EVENTS,
    LOT_REFUSALS,
    LOT_TRANSITIONS,
    TENDER_REFUSALS,
    TENDER_TRANSITIONS,
    LotPhase,
    TenderPhase,
)

__all__ = [
    "Envelope",
    "LotState",
    "Tender",
    "TenderNotCreated",
    "replay_tender",
]


#: Details of the rejections that need no more than their reason to be said in words.
_NOT_OFFICER = "only an officer on this tender's committee may do this"
_PHASE_DETAILS = {
    Reason.TENDER_EXISTS: "the tender was created already",
    Reason.TENDER_NOT_PUBLISHED: "the tender is not published yet: its key ceremony is pending",
    Reason.TENDER_ALREADY_PUBLISHED: "the tender was published already",
}


class TenderNotCreated(EngineMisuse):
    """A command other than ``CreateTender`` reached a tender that does not exist yet."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """A standing envelope: its commitment, ciphertext size, receipt event's seq and time,
    and the lot's deadline when it arrived (what the supplier sealed it under)."""

    commitment: str
    size: int
    seq: int
    received_at: int
    deadline: int


@dataclass(slots=True)
class LotState:
    """One lot as the events left it."""

    spec: t.LotSpec
    phase: LotPhase = LotPhase.OPEN
    deadline: int = 0
    opening_at: int = 0
    #: Index in ``spec.kinds`` of the next stage to open.
    stage: int = 0
    envelopes: dict[tuple[str, t.EnvelopeKind], Envelope] = field(default_factory=dict)
    #: Officers whose valid share for the current stage is in, in order.
    shares: list[str] = field(default_factory=list)
    opened: dict[tuple[str, t.EnvelopeKind], t.EnvelopeOpened | t.EnvelopeInvalid] = field(
        default_factory=dict
    )
    decision: t.LotAwarded | t.LotHandedOff | None = None
    #: Bidders the committee excluded from the lot.
    excluded: set[str] = field(default_factory=set)

    def live(self, kind: t.EnvelopeKind) -> list[tuple[str, Envelope]]:
        """The envelopes of ``kind`` an opening must open: not withdrawn, not of an
        excluded bidder; by bidder. O(e log e)."""
        return sorted(
            (bidder, envelope)
            for (bidder, envelope_kind), envelope in self.envelopes.items()
            if envelope_kind is kind and bidder not in self.excluded
        )

    @property
    def current_kind(self) -> t.EnvelopeKind | None:
        """The kind the next opening opens (``None`` once every stage is open)."""
        kinds = self.spec.kinds
        return kinds[self.stage] if self.stage < len(kinds) else None


class Tender:
    """One sealed tender: a sans-I/O state machine driven by commands, folded from events."""

    __slots__ = ("phase", "seq", "spec", "public_key", "lots", "_now", "_out", "_apply_by_type")

    def __init__(self) -> None:
        self.phase = TenderPhase.NEW
        self.seq = 0
        self.spec: t.TenderSpec | None = None
        #: The opening public key, once the tender is published.
        self.public_key: str | None = None
        self.lots: dict[str, LotState] = {}
        self._now = 0
        self._out: list[t.TenderEvent] = []
        self._apply_by_type: dict[type[Any], Callable[[Any], None]] = {
            t.TenderCreated: self._apply_created,
            t.TenderPublished: self._apply_published,
            t.ScheduleChanged: self._apply_schedule,
            t.EnvelopeReceived: self._apply_received,
            t.EnvelopeWithdrawn: self._apply_withdrawn,
            t.ShareAccepted: self._apply_share,
            t.SharesDiscarded: self._apply_discarded,
            t.EnvelopeOpened: self._apply_opened,
            t.EnvelopeInvalid: self._apply_opened,
            t.StageOpened: self._apply_stage,
            t.BidderExcluded: self._apply_excluded,
            t.LotAwarded: self._apply_decision,
            t.LotHandedOff: self._apply_decision,
        }

    # ------------------------------------------------------------------ commands

    def handle(self, command: t.TenderCommand) -> list[t.TenderEvent]:
        """Decide ``command``; return the events it caused, already applied. O(1) but for
        the opening and the award (O(e log e) in the lot's envelopes).

        Raises only :class:`~engine.errors.EngineMisuse` subclasses, and then changes nothing.
        """
        kind = type(command)
        if kind not in _COMMAND_TYPES:
            raise EngineMisuse(f"not a tender command: {kind.__name__}")
        at = command.at
        if at < self._now:
            raise ClockWentBackwards(f"command at {at} is before {self._now}")
        out: list[t.TenderEvent] = []
        self._out = out
        if self.phase is TenderPhase.NEW:
            if kind is not t.CreateTender:
                raise TenderNotCreated(f"{kind.__name__} before CreateTender")
            self._create(command)  # type: ignore[arg-type]
            self._now = at
            return out
        self._advance(at)
        reason = TENDER_REFUSALS[self.phase].get(kind)
        if reason is not None:
            phase = f"not while the tender is {self.phase.value}"
            self._reject(command, reason, _PHASE_DETAILS.get(reason, phase))
        elif kind is t.Tick:
            pass
        elif kind is t.PublishTender:
            self._publish(command)  # type: ignore[arg-type]
        else:
            lot = self.lots.get(command.lot)  # type: ignore[union-attr]
            if lot is None:
                self._reject(command, Reason.UNKNOWN_LOT, f"no lot {command.lot!r}")  # type: ignore[union-attr]
            else:
                refusal = LOT_REFUSALS[lot.phase].get(kind)
                if refusal is not None:
                    self._reject(command, refusal, f"lot {lot.spec.lot} is {lot.phase.value}")
                else:
                    _LOT_DECIDERS[kind](self, command, lot)
        self._now = at
        return out

    def next_deadline(self) -> int | None:
        """When a ``Tick`` would close the next lot (one µs after its deadline). O(lots)."""
        if self.phase is not TenderPhase.PUBLISHED:
            return None
        due = [lot.deadline + 1 for lot in self.lots.values() if lot.phase is LotPhase.OPEN]
        return min(due, default=None)

    def _advance(self, at: int) -> None:
        """Close every lot whose deadline is before ``at``, each at its deadline."""
        if self.phase is not TenderPhase.PUBLISHED:
            return
        due = sorted(
            (lot.deadline, name)
            for name, lot in self.lots.items()
            if lot.phase is LotPhase.OPEN and lot.deadline < at
        )
        for deadline, name in due:
            lot = self.lots[name]
            self._emit(t.LotClosed(self.seq + 1, deadline, name, len(lot.envelopes)))

    def _create(self, command: t.CreateTender) -> None:
        problem = command.spec.problem(command.at)
        if problem is not None:
            return self._reject(command, Reason.INVALID_TENDER, problem)
        if not self._is_officer(command.by, command.spec):
            return self._reject(command, Reason.NOT_TENDER_OFFICER, _NOT_OFFICER)
        self._emit(t.TenderCreated(self.seq + 1, command.at, command.by, command.spec))

    def _publish(self, command: t.PublishTender) -> None:
        if not self._is_officer(command.by):
            return self._reject(command, Reason.NOT_TENDER_OFFICER, _NOT_OFFICER)
        if not command.public_key or not command.ceremony:
            return self._reject(command, Reason.INVALID_TENDER, "no opening key")
        for lot in self.lots.values():
            if lot.deadline <= command.at:
                return self._reject(
                    command, Reason.INVALID_SCHEDULE, f"lot {lot.spec.lot}: deadline has passed"
                )
        self._emit(
            t.TenderPublished(
                self.seq + 1, command.at, command.by, command.public_key, command.ceremony
            )
        )

    def _change_schedule(self, command: t.ChangeSchedule, lot: LotState) -> None:
        if not self._is_officer(command.by):
            return self._reject(command, Reason.NOT_TENDER_OFFICER, _NOT_OFFICER)
        problem = t.schedule_problem(command.deadline, command.opening_at, command.at)
        if problem is not None:
            return self._reject(command, Reason.INVALID_SCHEDULE, problem)
        self._emit(
            t.ScheduleChanged(
                self.seq + 1,
                command.at,
                command.by,
                lot.spec.lot,
                command.deadline,
                command.opening_at,
            )
        )

    def _submit(self, command: t.SubmitEnvelope, lot: LotState) -> None:
        if command.kind not in lot.spec.kinds:
            return self._reject(command, Reason.WRONG_ENVELOPE_KIND, f"not {command.kind}")
        if not t.is_commitment(command.commitment) or command.size <= 0:
            wanted = "a SHA-256 digest in lower-case hex of a non-empty envelope"
            return self._reject(command, Reason.INVALID_COMMITMENT, wanted)
        before = lot.envelopes.get((command.bidder, command.kind))
        self._emit(
            t.EnvelopeReceived(
                self.seq + 1,
                command.at,
                command.bidder,
                lot.spec.lot,
                command.kind,
                command.commitment,
                command.size,
                None if before is None else before.commitment,
            )
        )

    def _withdraw(self, command: t.WithdrawEnvelope, lot: LotState) -> None:
        before = lot.envelopes.get((command.bidder, command.kind))
        if before is None:
            none = f"no {command.kind} envelope of yours in lot {lot.spec.lot}"
            return self._reject(command, Reason.NO_ENVELOPE, none)
        self._emit(
            t.EnvelopeWithdrawn(
                self.seq + 1,
                command.at,
                command.bidder,
                lot.spec.lot,
                command.kind,
                before.commitment,
            )
        )

    def _read_bids(self, command: t.ReadBids, lot: LotState) -> None:
        if not self._is_officer(command.party):
            return self._reject(command, Reason.NOT_TENDER_OFFICER, _NOT_OFFICER)
        self._emit(t.BidsRead(self.seq + 1, command.at, command.party, lot.spec.lot))

    def _share(self, command: t.SubmitShare, lot: LotState) -> None:
        if command.at < lot.opening_at:
            return self._reject(
                command, Reason.OPENING_NOT_DUE, f"opens at {iso_utc(lot.opening_at)}"
            )
        if command.kind is not lot.current_kind:
            return self._reject(command, Reason.STAGE_NOT_CURRENT, f"now {lot.current_kind}")
        if not self._is_officer(command.officer):
            return self._reject(command, Reason.NOT_TENDER_OFFICER, _NOT_OFFICER)
        if command.verdict:
            return self._reject(command, Reason.INVALID_SHARE, command.verdict)
        if command.officer in lot.shares:
            return self._reject(command, Reason.DUPLICATE_SHARE, "this officer's share is in")
        self._emit(
            t.ShareAccepted(
                self.seq + 1,
                command.at,
                command.officer,
                lot.spec.lot,
                command.kind,
                len(lot.shares) + 1,
            )
        )

    def _discard(self, command: t.DiscardShares, lot: LotState) -> None:
        kind = lot.current_kind
        assert kind is not None  # a lot with no stage left is OPENED, refused by the table
        if not lot.shares:
            return self._reject(command, Reason.NOT_ENOUGH_SHARES, "no shares to discard")
        self._emit(t.SharesDiscarded(self.seq + 1, command.at, lot.spec.lot, kind, command.note))

    def _open(self, command: t.RecordOpening, lot: LotState) -> None:
        spec = self.spec
        assert spec is not None
        if command.kind is not lot.current_kind:
            return self._reject(command, Reason.STAGE_NOT_CURRENT, f"now {lot.current_kind}")
        if len(lot.shares) < spec.threshold:
            return self._reject(
                command,
                Reason.NOT_ENOUGH_SHARES,
                f"{len(lot.shares)} of {spec.threshold} shares",
            )
        expected = {(bidder, envelope.commitment) for bidder, envelope in lot.live(command.kind)}
        found = [(r.bidder, r.commitment) for r in command.results]
        if len(set(found)) != len(found) or set(found) != expected:
            each = "the results must name every live envelope of the stage once, and no other"
            return self._reject(command, Reason.OPENING_MISMATCH, each)
        opened = invalid = 0
        name = lot.spec.lot
        financial = command.kind is t.EnvelopeKind.FINANCIAL
        for result in sorted(command.results, key=lambda r: r.bidder):
            problem = result.problem or self._offer_problem(command.kind, result)
            price = result.price if financial else None
            if problem:
                invalid += 1
                self._emit(
                    t.EnvelopeInvalid(
                        self.seq + 1,
                        command.at,
                        name,
                        command.kind,
                        result.bidder,
                        result.commitment,
                        problem,
                    )
                )
            else:
                opened += 1
                self._emit(
                    t.EnvelopeOpened(
                        self.seq + 1,
                        command.at,
                        name,
                        command.kind,
                        result.bidder,
                        result.commitment,
                        price,
                        result.document,
                        self._declared(result.features) if financial else (),
                        result.cost if financial else None,
                    )
                )
        self._emit(t.StageOpened(self.seq + 1, command.at, name, command.kind, opened, invalid))
        if lot.current_kind is None:
            self._emit(t.LotOpened(self.seq + 1, command.at, name))

    def _offer_problem(self, kind: t.EnvelopeKind, result: t.Opening) -> str:
        """Why an opened offer cannot count ("" if it can): a financial one needs a price
        in the tender's currency within 1..MAX_AMOUNT minor units (said in major units)."""
        spec = self.spec
        assert spec is not None
        if kind is not t.EnvelopeKind.FINANCIAL:
            return ""
        if result.currency != spec.currency:
            return f"{Reason.WRONG_CURRENCY.value}: offer in {result.currency!r}"
        if result.price is None or not 0 < result.price <= t.MAX_AMOUNT:
            cur = spec.currency
            span = f"{format_minor(1, cur)} to {format_minor(t.MAX_AMOUNT, cur)} {cur}"
            return f"{Reason.AMOUNT_INVALID.value}: price must be {span}"
        return self._scoring_problem(result)

    def _scoring_problem(self, result: t.Opening) -> str:
        """Why an offer's scoring inputs cannot count under the tender's criterion: a
        declared feature's value that is not a plain decimal within ``0..maximum``, a
        feature stated twice, or (life-cycle cost) no declared cost within 0..MAX_AMOUNT.
        Undeclared features are ignored: a bidder cannot invent coefficients."""
        spec = self.spec
        assert spec is not None
        invalid = Reason.INVALID_SCORING_INPUT.value
        cost = result.cost
        if cost is not None and (type(cost) is not int or not 0 <= cost <= t.MAX_AMOUNT):
            cur = spec.currency
            span = f"{format_minor(0, cur)} to {format_minor(t.MAX_AMOUNT, cur)} {cur}"
            return f"{invalid}: non-price cost must be {span}"
        if spec.criterion is t.Criterion.LIFE_CYCLE_COST and cost is None:
            return f"{invalid}: a life-cycle-cost tender needs the offer's non-price cost"
        names = [f.name for f in result.features]
        if len(set(names)) != len(names):
            return f"{invalid}: a feature is stated twice"
        declared = {f.name: f for f in spec.features}
        for offered in result.features:
            feature = declared.get(offered.name)
            if feature is None:
                continue
            value = t.feature_value(offered.value)
            if value is None or value > feature.maximum:
                return (
                    f"{invalid}: feature {offered.name!r} must be a plain decimal in "
                    f"0..{feature.maximum}, not {offered.value[:40]!r}"
                )
        return ""

    def _declared(self, offered: tuple[t.OfferedFeature, ...]) -> tuple[t.OfferedFeature, ...]:
        """The offered values of the tender's declared features, by name."""
        spec = self.spec
        assert spec is not None
        names = {f.name for f in spec.features}
        return tuple(sorted((f for f in offered if f.name in names), key=lambda f: f.name))

    def _exclude(self, command: t.ExcludeBidder, lot: LotState) -> None:
        if not self._is_officer(command.by):
            return self._reject(command, Reason.NOT_TENDER_OFFICER, _NOT_OFFICER)
        if not any(bidder == command.bidder for bidder, _ in lot.envelopes):
            return self._reject(command, Reason.NO_ENVELOPE, f"{command.bidder} sent none")
        if command.bidder in lot.excluded:
            return self._reject(command, Reason.BIDDER_DISQUALIFIED, "excluded already")
        self._emit(
            t.BidderExcluded(
                self.seq + 1, command.at, command.by, lot.spec.lot, command.bidder, command.note
            )
        )

    def _award(self, command: t.Award, lot: LotState) -> None:
        if not self._follows(command, lot, t.FollowUp.AWARD):
            return
        ranking = self.ranking(lot.spec.lot)
        best = ranking[0] if ranking else None
        self._emit(
            t.LotAwarded(
                self.seq + 1,
                command.at,
                command.by,
                lot.spec.lot,
                None if best is None else best.bidder,
                None if best is None else best.price,
                ranking,
            )
        )

    def _hand_off(self, command: t.HandOff, lot: LotState) -> None:
        if not self._follows(command, lot, t.FollowUp.AUCTION):
            return
        if not command.auction_id:
            return self._reject(command, Reason.INVALID_TENDER, "no auction id")
        ranking = self.ranking(lot.spec.lot)
        self._emit(
            t.LotHandedOff(
                self.seq + 1, command.at, command.by, lot.spec.lot, command.auction_id, ranking
            )
        )

    def _follows(self, command: t.Award | t.HandOff, lot: LotState, wanted: t.FollowUp) -> bool:
        spec = self.spec
        assert spec is not None
        if spec.follow_up is not wanted:
            self._reject(command, Reason.WRONG_FOLLOW_UP, f"this tender's is {spec.follow_up}")
            return False
        if not self._is_officer(command.by):
            self._reject(command, Reason.NOT_TENDER_OFFICER, _NOT_OFFICER)
            return False
        return True

    # ------------------------------------------------------------------ helpers

    def _is_officer(self, party: str, spec: t.TenderSpec | None = None) -> bool:
        spec = spec or self.spec
        assert spec is not None
        return any(o.officer == party for o in spec.officers)

    def _emit(self, event: t.TenderEvent) -> None:
        self.apply(event)
        self._out.append(event)

    def _reject(self, command: Any, reason: Reason, detail: str = "") -> None:
        party = getattr(command, "bidder", None) or getattr(command, "by", None)
        party = party or getattr(command, "party", None) or getattr(command, "officer", None)
        self._emit(
            CommandRejected(
                self.seq + 1,
                command.at,
                command.command_id,
                type(command).__name__,
                party,
                reason,
                detail,
            )
        )

    # ------------------------------------------------------------------ events

    def apply(self, event: t.TenderEvent) -> None:
        """Fold one event into the state. O(1); :class:`CorruptLog` if it cannot follow."""
        kind = type(event)
        following = TENDER_TRANSITIONS[self.phase].get(kind)
        if following is None:
            raise IllegalTransition(f"{kind.__name__} in tender phase {self.phase.value}")
        lot_following: LotPhase | None = None
        lot: LotState | None = None
        if kind in LOT_EVENTS:
            lot = self.lots.get(event.lot)  # type: ignore[union-attr]
            if lot is None:
                raise CorruptLog(f"{kind.__name__} for an unknown lot")
            lot_following = LOT_TRANSITIONS[lot.phase].get(kind)
            if lot_following is None:
                raise IllegalTransition(f"{kind.__name__} in lot phase {lot.phase.value}")
        if event.seq != self.seq + 1:
            raise CorruptLog(f"event seq {event.seq} does not follow {self.seq}")
        if event.at < self._now and kind is not CommandRejected:
            raise CorruptLog(f"event at {event.at} is before {self._now}")
        handler = self._apply_by_type.get(kind)
        if handler is not None:
            handler(event)
        if lot is not None and lot_following is not None:
            lot.phase = lot_following
        self.phase = following
        self.seq = event.seq
        if event.at > self._now:
            self._now = event.at

    def _apply_created(self, event: t.TenderCreated) -> None:
        self.spec = event.spec
        self.lots = {
            lot.lot: LotState(lot, deadline=lot.deadline, opening_at=lot.opening_at)
            for lot in event.spec.lots
        }

    def _apply_published(self, event: t.TenderPublished) -> None:
        self.public_key = event.public_key

    def _apply_schedule(self, event: t.ScheduleChanged) -> None:
        lot = self.lots[event.lot]
        lot.deadline, lot.opening_at = event.deadline, event.opening_at

    def _apply_received(self, event: t.EnvelopeReceived) -> None:
        lot = self.lots[event.lot]
        lot.envelopes[(event.bidder, event.kind)] = Envelope(
            event.commitment, event.size, event.seq, event.at, lot.deadline
        )

    def _apply_withdrawn(self, event: t.EnvelopeWithdrawn) -> None:
        del self.lots[event.lot].envelopes[(event.bidder, event.kind)]

    def _apply_share(self, event: t.ShareAccepted) -> None:
        self.lots[event.lot].shares.append(event.officer)

    def _apply_discarded(self, event: t.SharesDiscarded) -> None:
        self.lots[event.lot].shares.clear()

    def _apply_opened(self, event: t.EnvelopeOpened | t.EnvelopeInvalid) -> None:
        self.lots[event.lot].opened[(event.bidder, event.kind)] = event

    def _apply_stage(self, event: t.StageOpened) -> None:
        lot = self.lots[event.lot]
        lot.stage += 1
        lot.shares.clear()

    def _apply_excluded(self, event: t.BidderExcluded) -> None:
        self.lots[event.lot].excluded.add(event.bidder)

    def _apply_decision(self, event: t.LotAwarded | t.LotHandedOff) -> None:
        self.lots[event.lot].decision = event

    # ------------------------------------------------------------------ views

    @property
    def now(self) -> int:
        """The latest server time this tender has seen; the next command must not be earlier."""
        return self._now

    def ranking(self, lot: str) -> tuple[t.Rank, ...]:
        """Valid opened financial offers of ``lot``, lowest score under the tender's
        criterion first (:func:`score`), ties to the earlier receipt. O(e log e)."""
        state = self.lots[lot]
        offers = sorted(
            (self.score(opened), state.envelopes[key].seq, opened.bidder, opened.price)
            for key, opened in state.opened.items()
            if isinstance(opened, t.EnvelopeOpened)
            and opened.price is not None
            and opened.bidder not in state.excluded
        )
        return tuple(
            t.Rank(rank, bidder, price, score)
            for rank, (score, _, bidder, price) in enumerate(offers, 1)
        )

    def score(self, opened: t.EnvelopeOpened) -> int | Fraction:
        """The exact score of an opened financial offer under the tender's criterion
        (:func:`engine.scoring.score_of`): the price; ``price / (1 + Σ weight × value)``
        over the declared features it states; or ``price + cost``. O(features)."""
        spec = self.spec
        assert spec is not None and opened.price is not None
        criterion = spec.criterion
        if criterion is t.Criterion.MEAT:
            weights = {f.name: f.weight for f in spec.features}
            coefficient = Fraction(0)
            for offered in opened.features:
                value = t.feature_value(offered.value)
                weight = weights.get(offered.name)
                if value is not None and weight is not None:
                    coefficient += Fraction(weight) * Fraction(value)
            return score_of(Scoring.MEAT, opened.price, coefficient, 0)
        if criterion is t.Criterion.LIFE_CYCLE_COST:
            return score_of(Scoring.LCC, opened.price, Fraction(0), opened.cost or 0)
        return score_of(Scoring.NONE, opened.price, Fraction(0), 0)

    def state(self) -> tuple[object, ...]:
        """Everything the events determine, for comparing a live tender with its replay."""
        return (self.phase, self.seq, self.spec, self.public_key, self.lots)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tender) and self.state() == other.state()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Tender phase={self.phase.value} seq={self.seq} lots={len(self.lots)}>"

    def _check(self) -> None:
        """Assert every invariant of the tender and its lots. O(envelopes)."""
        spec = self.spec
        assert (self.phase is TenderPhase.NEW) == (spec is None)
        assert (self.phase is TenderPhase.PUBLISHED) == (self.public_key is not None)
        if spec is None:
            assert not self.lots
            return
        officers = {o.officer for o in spec.officers}
        assert list(self.lots) == [lot.lot for lot in spec.lots]
        for lot in self.lots.values():
            kinds = lot.spec.kinds
            assert lot.opening_at >= lot.deadline
            assert 0 <= lot.stage <= len(kinds)
            assert (lot.stage == len(kinds)) == (lot.phase in (LotPhase.OPENED, LotPhase.DECIDED))
            assert (lot.decision is not None) == (lot.phase is LotPhase.DECIDED)
            assert len(set(lot.shares)) == len(lot.shares) and set(lot.shares) <= officers
            if lot.phase is LotPhase.OPEN:
                assert lot.stage == 0 and not lot.shares and not lot.opened and not lot.excluded
            assert lot.excluded <= {bidder for bidder, _ in lot.envelopes}
            if self.phase is not TenderPhase.PUBLISHED:
                assert lot.phase is LotPhase.OPEN and not lot.envelopes
            for (_, kind), envelope in lot.envelopes.items():
                assert kind in kinds and t.is_commitment(envelope.commitment)
            for (bidder, kind), opened in lot.opened.items():
                assert kinds.index(kind) < lot.stage
                assert lot.envelopes[(bidder, kind)].commitment == opened.commitment


def replay_tender(events: Iterable[t.TenderEvent]) -> Tender:
    """Rebuild a tender by folding ``events`` in order. O(total events)."""
    tender = Tender()
    for event in events:
        tender.apply(event)
    return tender


_LOT_DECIDERS: dict[type[Any], Callable[[Tender, Any, LotState], None]] = {
    t.ChangeSchedule: Tender._change_schedule,
    t.SubmitEnvelope: Tender._submit,
    t.WithdrawEnvelope: Tender._withdraw,
    t.ReadBids: Tender._read_bids,
    t.SubmitShare: Tender._share,
    t.DiscardShares: Tender._discard,
    t.RecordOpening: Tender._open,
    t.ExcludeBidder: Tender._exclude,
    t.Award: Tender._award,
    t.HandOff: Tender._hand_off,
}
_COMMAND_TYPES = frozenset(typing.get_args(t.TenderCommand))
