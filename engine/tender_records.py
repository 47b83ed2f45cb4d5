"""Sealed tenders: the records (value types, commands, events) of :mod:`engine.tender`.

A tender is published by its committee of officers; suppliers send envelopes that stay
sealed (the server sees ciphertext only; the engine sees the SHA-256 *commitment* of it)
until the opening, when ``threshold`` officers of the committee hand in their key shares.
Each lot has its own deadline, opening time and envelope kinds, opened one stage at a
time in the order the lot lists them (qualification, technical, financial).

Commands carry ``command_id`` and ``at`` (server time, µs) like the auction's; events carry
``seq`` and ``at``. Refusals are :class:`engine.events.CommandRejected` (its ``bidder``
member names the party that asked, bidder or officer). Records are frozen and slotted and
never subclassed; :func:`decode_tender_event` and :func:`decode_tender_command` read their
canonical bytes (:mod:`engine.codec`). Nothing here needs cryptography: commitments and
verdicts on key shares arrive inside commands.
"""

from __future__ import annotations

import string
import typing
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from typing import Any

from engine.codec import decode_as
from engine.commands import Tick
from engine.events import CommandRejected
from engine.money import CURRENCIES

__all__ = [
    "MAX_AMOUNT",
    "MAX_OFFICERS",
    "Award",
    "BidderExcluded",
    "BidsRead",
    "ChangeSchedule",
    "Criterion",
    "CreateTender",
    "DiscardShares",
    "EnvelopeInvalid",
    "EnvelopeKind",
    "EnvelopeOpened",
    "EnvelopeReceived",
    "EnvelopeWithdrawn",
    "ExcludeBidder",
    "Feature",
    "FollowUp",
    "HandOff",
    "LotAwarded",
    "LotClosed",
    "LotHandedOff",
    "LotOpened",
    "LotSpec",
    "MAX_FEATURES",
    "OfferedFeature",
    "Officer",
    "Opening",
    "Publication",
    "PublishTender",
    "Rank",
    "ReadBids",
    "RecordOpening",
    "ScheduleChanged",
    "ShareAccepted",
    "SharesDiscarded",
    "StageOpened",
    "SubmitEnvelope",
    "SubmitShare",
    "TenderCommand",
    "TenderCreated",
    "TenderEvent",
    "TenderPublished",
    "TenderSpec",
    "Tick",
    "WithdrawEnvelope",
    "decode_tender_command",
    "decode_tender_event",
    "feature_value",
    "is_commitment",
    "schedule_problem",
]

#: Most officers a committee may have (a key share's index is one byte).
MAX_OFFICERS = 255

#: Largest offer a tender accepts, in minor units (below 2**53, like every amount).
MAX_AMOUNT = 10**15

#: Most MEAT features a tender may declare.
MAX_FEATURES = 32


class EnvelopeKind(StrEnum):
    """What an envelope holds; a lot opens its kinds in the order it lists them."""

    QUALIFICATION = "qualification"
    TECHNICAL = "technical"
    FINANCIAL = "financial"


class Publication(StrEnum):
    """Who reads opened offers: everyone, or the committee only."""

    PUBLIC = "public"
    COMMITTEE = "committee"


class FollowUp(StrEnum):
    """What a lot's opened prices feed: an award by the tender's criterion, or a
    multi-round auction."""

    AWARD = "award"
    AUCTION = "auction"


class Criterion(StrEnum):
    """How a tender ranks its valid financial offers (lower score is better, ties to the
    earlier receipt); the score is :func:`engine.scoring.score_of`'s.

    - ``price``: the price itself;
    - ``meat``: ``price / (1 + coefficient)``, the coefficient being the sum over the
      tender's declared :class:`Feature` of ``weight × value offered`` (undeclared
      features do not count; a value above the declared maximum makes the offer invalid);
    - ``life_cycle_cost``: ``price + the offer's declared non-price cost``.
    """

    PRICE = "price"
    MEAT = "meat"
    LIFE_CYCLE_COST = "life_cycle_cost"


# ----------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Officer:
    """A committee member: id and X25519 public key (what key shares are encrypted to)."""

    officer: str
    public_key: str


@dataclass(frozen=True, slots=True)
class Feature:
    """A MEAT criterion the tender declares: an offer's value for ``name`` (a plain
    decimal, ``0..maximum``) adds ``weight × value`` to its coefficient."""

    name: str
    weight: Decimal
    maximum: Decimal


@dataclass(frozen=True, slots=True)
class OfferedFeature:
    """A declared feature's value as an opened offer states it (a plain decimal string)."""

    name: str
    value: str


def feature_value(text: str) -> Decimal | None:
    """``text`` as a finite non-negative plain decimal (``"0.25"``), else ``None``. O(len)."""
    if not text or len(text) > 40 or not set(text) <= _PLAIN or text.count(".") > 1:
        return None
    if text.startswith(".") or text.endswith("."):
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the character check excludes it
        return None
    return value if value.is_finite() and value >= 0 else None


_PLAIN = frozenset("0123456789.")


@dataclass(frozen=True, slots=True)
class LotSpec:
    """One lot: envelopes until ``deadline`` (inclusive), shares from ``opening_at`` on."""

    lot: str
    title: str
    deadline: int
    opening_at: int
    kinds: tuple[EnvelopeKind, ...]


@dataclass(frozen=True, slots=True)
class TenderSpec:
    """What a tender is. ``auction_rules`` is the multi-round template (JSON text, read by
    the service, opaque here) when ``follow_up`` is ``auction``, else empty.
    ``criterion`` ranks the opened offers; ``features`` are the MEAT features (only with
    ``meat``). Both are always recorded: the canonical codec refuses a record without
    them (:func:`decode_tender_event` raises ``MalformedRecord``); the defaults serve
    code that builds a spec."""

    title: str
    currency: str
    officers: tuple[Officer, ...]
    threshold: int
    lots: tuple[LotSpec, ...]
    publication: Publication
    follow_up: FollowUp
    auction_rules: str
    criterion: Criterion = Criterion.PRICE
    features: tuple[Feature, ...] = ()

    def problem(self, at: int) -> str | None:
        """Why this spec cannot make a tender at server time ``at`` (``None`` if it can)."""
        ids = [o.officer for o in self.officers]
        if self.currency not in CURRENCIES:
            return f"unknown currency {self.currency!r}"
        if not 1 <= len(ids) <= MAX_OFFICERS or len(set(ids)) != len(ids):
            return f"officers must be distinct, 1 to {MAX_OFFICERS} of them"
        if not 1 <= self.threshold <= len(ids):
            return f"threshold must be 1..{len(ids)}"
        lots = [lot.lot for lot in self.lots]
        if not lots or len(set(lots)) != len(lots):
            return "lots must be distinct and at least one"
        for lot in self.lots:
            problem = schedule_problem(lot.deadline, lot.opening_at, at)
            if problem is not None:
                return f"lot {lot.lot}: {problem}"
            if not lot.kinds or len(set(lot.kinds)) != len(lot.kinds):
                return f"lot {lot.lot}: envelope kinds must be distinct and at least one"
        if (self.follow_up is FollowUp.AUCTION) != bool(self.auction_rules):
            return "auction_rules is needed by, and only by, follow_up auction"
        return self._criterion_problem()

    def _criterion_problem(self) -> str | None:
        features = self.features
        if self.criterion is not Criterion.MEAT:
            if features:
                return f"features are for the meat criterion only, not {self.criterion.value}"
            return None
        if not 1 <= len(features) <= MAX_FEATURES:
            return f"the meat criterion needs 1 to {MAX_FEATURES} declared features"
        names = [f.name for f in features]
        if len(set(names)) != len(names) or not all(0 < len(n) <= 100 for n in names):
            return "feature names must be distinct, 1 to 100 characters"
        for feature in features:
            for bound, value in (("weight", feature.weight), ("maximum", feature.maximum)):
                if not value.is_finite() or not 0 < value <= 1000:
                    return f"feature {feature.name!r}: {bound} must be a decimal in (0, 1000]"
        return None


def schedule_problem(deadline: int, opening_at: int, at: int) -> str | None:
    """Why a deadline and opening time cannot be set at ``at`` (``None`` if they can)."""
    if deadline <= at:
        return "deadline must be in the future"
    if opening_at < deadline:
        return "opening_at must not be before the deadline"
    return None


_HEX = frozenset(string.hexdigits.lower())


def is_commitment(value: str) -> bool:
    """Whether ``value`` is a SHA-256 digest in lower-case hex. O(1)."""
    return len(value) == 64 and set(value) <= _HEX


@dataclass(frozen=True, slots=True)
class Opening:
    """What the opening found in one envelope: its ``price`` (minor units) and ``currency``
    (financial envelopes), its ``document`` (a digest or summary, other kinds), or the
    ``problem`` that made it invalid (then the other fields are ignored). ``features``
    (every feature the offer states) and ``cost`` (its declared non-price cost in minor
    units, if any) feed the award criterion of a financial envelope."""

    bidder: str
    commitment: str
    price: int | None
    currency: str
    document: str
    problem: str
    features: tuple[OfferedFeature, ...] = ()
    cost: int | None = None


@dataclass(frozen=True, slots=True)
class Rank:
    """One line of a lot's ranking: 1 is best (lowest ``score``). ``price`` is the offer's
    raw price, ``score`` what ranked it under the tender's criterion (``int`` for
    ``price`` and ``life_cycle_cost``, an exact ``Fraction`` for ``meat``)."""

    rank: int
    bidder: str
    price: int
    score: int | Fraction


# ----------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class CreateTender:
    """Create a tender; ``by`` must be one of its officers."""

    command_id: str
    at: int
    by: str
    spec: TenderSpec


@dataclass(frozen=True, slots=True)
class PublishTender:
    """Open the tender to envelopes after the key ceremony: its opening public key and the
    digest of the encrypted shares the committee received."""

    command_id: str
    at: int
    by: str
    public_key: str
    ceremony: str


@dataclass(frozen=True, slots=True)
class ChangeSchedule:
    """Move a lot's deadline and opening time (officers of the tender, before the deadline)."""

    command_id: str
    at: int
    by: str
    lot: str
    deadline: int
    opening_at: int


@dataclass(frozen=True, slots=True)
class SubmitEnvelope:
    """A bidder's sealed envelope; a second one of the same kind replaces the first."""

    command_id: str
    at: int
    bidder: str
    lot: str
    kind: EnvelopeKind
    commitment: str
    size: int


@dataclass(frozen=True, slots=True)
class WithdrawEnvelope:
    """A bidder takes its envelope of ``kind`` back before the deadline."""

    command_id: str
    at: int
    bidder: str
    lot: str
    kind: EnvelopeKind


@dataclass(frozen=True, slots=True)
class ReadBids:
    """``party`` asks for the list of envelopes of a lot (refused, and logged, before the
    deadline; after it, officers of the tender only)."""

    command_id: str
    at: int
    party: str
    lot: str


@dataclass(frozen=True, slots=True)
class SubmitShare:
    """An officer's key share for the lot's current stage. ``verdict`` is empty when the
    service found the share valid, else its reason (``forged_share``, …)."""

    command_id: str
    at: int
    officer: str
    lot: str
    kind: EnvelopeKind
    verdict: str


@dataclass(frozen=True, slots=True)
class DiscardShares:
    """Forget the shares of the current stage (they did not rebuild the key, or the server
    restarted and lost them: shares are only ever held in memory)."""

    command_id: str
    at: int
    lot: str
    note: str


@dataclass(frozen=True, slots=True)
class RecordOpening:
    """The service opened every envelope of the lot's current stage with the rebuilt key."""

    command_id: str
    at: int
    lot: str
    kind: EnvelopeKind
    results: tuple[Opening, ...]


@dataclass(frozen=True, slots=True)
class ExcludeBidder:
    """The committee excludes a bidder from the lot after the deadline (it failed the
    qualification, say): its later envelopes are never opened, its price never ranks."""

    command_id: str
    at: int
    by: str
    lot: str
    bidder: str
    note: str


@dataclass(frozen=True, slots=True)
class Award:
    """Award an opened lot to its best valid financial offer under the tender's criterion."""

    command_id: str
    at: int
    by: str
    lot: str


@dataclass(frozen=True, slots=True)
class HandOff:
    """Record that the lot's opened prices became the initial bids of ``auction_id``."""

    command_id: str
    at: int
    by: str
    lot: str
    auction_id: str


TenderCommand = (
    CreateTender
    | PublishTender
    | ChangeSchedule
    | SubmitEnvelope
    | WithdrawEnvelope
    | ReadBids
    | SubmitShare
    | DiscardShares
    | RecordOpening
    | ExcludeBidder
    | Award
    | HandOff
    | Tick
)

# ------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class TenderCreated:
    """The tender exists, not yet open to envelopes."""

    seq: int
    at: int
    by: str
    spec: TenderSpec


@dataclass(frozen=True, slots=True)
class TenderPublished:
    """Envelopes are accepted from now on, sealed to ``public_key``."""

    seq: int
    at: int
    by: str
    public_key: str
    ceremony: str


@dataclass(frozen=True, slots=True)
class ScheduleChanged:
    """An officer of the tender moved the lot's deadline and opening time."""

    seq: int
    at: int
    by: str
    lot: str
    deadline: int
    opening_at: int


@dataclass(frozen=True, slots=True)
class EnvelopeReceived:
    """An envelope arrived at ``at`` (the receipt time); ``replaced`` is the commitment of
    the envelope it replaces, if any."""

    seq: int
    at: int
    bidder: str
    lot: str
    kind: EnvelopeKind
    commitment: str
    size: int
    replaced: str | None


@dataclass(frozen=True, slots=True)
class EnvelopeWithdrawn:
    """The bidder withdrew its envelope; it will not be opened."""

    seq: int
    at: int
    bidder: str
    lot: str
    kind: EnvelopeKind
    commitment: str


@dataclass(frozen=True, slots=True)
class LotClosed:
    """The deadline passed (``at`` is the deadline): no more envelopes, reads allowed."""

    seq: int
    at: int
    lot: str
    envelopes: int


@dataclass(frozen=True, slots=True)
class BidsRead:
    """``party`` read the lot's list of envelopes (after the deadline)."""

    seq: int
    at: int
    party: str
    lot: str


@dataclass(frozen=True, slots=True)
class ShareAccepted:
    """A distinct officer's valid share for the stage is in; ``count`` so far."""

    seq: int
    at: int
    officer: str
    lot: str
    kind: EnvelopeKind
    count: int


@dataclass(frozen=True, slots=True)
class SharesDiscarded:
    """The stage's shares were dropped; officers hand them in again."""

    seq: int
    at: int
    lot: str
    kind: EnvelopeKind
    note: str


@dataclass(frozen=True, slots=True)
class EnvelopeOpened:
    """An envelope decrypted and matched its commitment; ``price`` in minor units for a
    financial one, ``document`` for the others. A financial one also records what its
    score needs: the values of the tender's declared ``features`` it states (by name)
    and its declared non-price ``cost``."""

    seq: int
    at: int
    lot: str
    kind: EnvelopeKind
    bidder: str
    commitment: str
    price: int | None
    document: str
    features: tuple[OfferedFeature, ...] = ()
    cost: int | None = None


@dataclass(frozen=True, slots=True)
class EnvelopeInvalid:
    """An envelope failed to open, to match its commitment, or to parse: ``reason``."""

    seq: int
    at: int
    lot: str
    kind: EnvelopeKind
    bidder: str
    commitment: str
    reason: str


@dataclass(frozen=True, slots=True)
class StageOpened:
    """Every envelope of ``kind`` in the lot is opened or recorded invalid; key wiped."""

    seq: int
    at: int
    lot: str
    kind: EnvelopeKind
    opened: int
    invalid: int


@dataclass(frozen=True, slots=True)
class BidderExcluded:
    """An officer of the tender excluded ``bidder`` from the lot, for ``note``."""

    seq: int
    at: int
    by: str
    lot: str
    bidder: str
    note: str


@dataclass(frozen=True, slots=True)
class LotOpened:
    """The lot's last stage is opened: it waits for its award or hand-off."""

    seq: int
    at: int
    lot: str


@dataclass(frozen=True, slots=True)
class LotAwarded:
    """The lot went to ``winner`` at ``price`` (its raw price; ``None`` when no valid
    offer); ``ranking`` gives every valid offer's price and score."""

    seq: int
    at: int
    by: str
    lot: str
    winner: str | None
    price: int | None
    ranking: tuple[Rank, ...]


@dataclass(frozen=True, slots=True)
class LotHandedOff:
    """The lot's opened prices are the initial bids of the multi-round ``auction_id``."""

    seq: int
    at: int
    by: str
    lot: str
    auction_id: str
    ranking: tuple[Rank, ...]


TenderEvent = (
    TenderCreated
    | TenderPublished
    | ScheduleChanged
    | EnvelopeReceived
    | EnvelopeWithdrawn
    | LotClosed
    | BidsRead
    | ShareAccepted
    | SharesDiscarded
    | EnvelopeOpened
    | EnvelopeInvalid
    | StageOpened
    | BidderExcluded
    | LotOpened
    | LotAwarded
    | LotHandedOff
    | CommandRejected
)

_EVENT_TYPES: tuple[type[Any], ...] = typing.get_args(TenderEvent)
_COMMAND_TYPES: tuple[type[Any], ...] = typing.get_args(TenderCommand)


def decode_tender_event(data: bytes) -> TenderEvent:
    """The tender event whose canonical bytes are ``data``; ``MalformedRecord`` otherwise.
    O(size)."""
    return typing.cast(TenderEvent, decode_as(data, _EVENT_TYPES))


def decode_tender_command(data: bytes) -> TenderCommand:
    """The tender command whose canonical bytes are ``data``; ``MalformedRecord`` otherwise."""
    return typing.cast(TenderCommand, decode_as(data, _COMMAND_TYPES))
