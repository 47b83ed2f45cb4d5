"""The errors of :mod:`api.tenders`: one root, :class:`TenderError`.

::

    TenderError
    ├── UnknownTender     no such tender                                   (404 not_found)
    ├── UnknownLot        the tender has no such lot                       (404 not_found)
    ├── TenderExists      the id is taken                                  (409 tender_exists)
    ├── StorageFailed     the commit failed; nothing was recorded, for certain  (503)
    ├── DeadlineMoved     sealed for a deadline the lot no longer has      (422 invalid_schedule)
    ├── Refused           the engine refused the command (its CommandRejected, logged)
    ├── AuctionTaken      the hand-off's auction id names something else   (409 auction_exists)
    └── BodyError         a request body that does not parse (422); ``field`` names the member
        ├── UnknownField  a member the body may not have                   (unknown_field)
        ├── MissingField  a member the body must have                      (missing_field)
        ├── InvalidField  a member of the wrong form                       (invalid_field)
        └── InvalidCriterion  the award criterion or its features          (invalid_tender)

A commit whose outcome could not be learned in time raises
:class:`api.auctions.runner.OutcomeUnknown` instead (503 ``outcome_unknown``, not a refusal).

Nothing here knows HTTP: :mod:`api.http.tenders` maps each class to its problem (the
status and code in brackets above); the message of each error is the problem's detail.
"""

from __future__ import annotations

from engine.events import CommandRejected

__all__ = [
    "AuctionTaken",
    "BodyError",
    "DeadlineMoved",
    "InvalidCriterion",
    "InvalidField",
    "MissingField",
    "Refused",
    "StorageFailed",
    "TenderError",
    "TenderExists",
    "UnknownField",
    "UnknownLot",
    "UnknownTender",
]


class TenderError(Exception):
    """Root of the errors of :mod:`api.tenders` (the tree is in the module docstring)."""


class UnknownTender(TenderError):
    """No tender has this id."""


class UnknownLot(TenderError):
    """The tender has no lot of this name; ``str(error)`` says which."""

    def __init__(self, lot: str) -> None:
        super().__init__(f"no lot {lot!r}")
        self.lot = lot


class TenderExists(TenderError):
    """A tender with this id already exists."""


class StorageFailed(TenderError):
    """The events were not committed, for certain: nothing happened; the tender is
    reloaded from its log before its next command."""


class DeadlineMoved(TenderError):
    """An envelope sealed under a deadline the lot no longer has: it would never open.

    ``deadline`` is the lot's deadline now, ``sealed_for`` the one the envelope was sealed
    under. Nothing was recorded.
    """

    def __init__(self, deadline: int, sealed_for: int) -> None:
        super().__init__(
            f"sealed for deadline {sealed_for}, but the lot's deadline is now {deadline}"
        )
        self.deadline = deadline
        self.sealed_for = sealed_for


class Refused(TenderError):
    """The engine refused a command: ``rejected`` is its (logged) ``CommandRejected``."""

    def __init__(self, rejected: CommandRejected) -> None:
        super().__init__(rejected.detail or rejected.reason.value.replace("_", " "))
        self.rejected = rejected


class AuctionTaken(TenderError):
    """The auction a lot is handed off to cannot be this lot's: the id names a tender, or
    an auction created with other rules or other bidders. ``str(error)`` says which."""


class BodyError(TenderError):
    """A request body (or query) that does not parse. ``field`` is the member at fault
    (``None`` when no one member is), ``str(error)`` the detail."""

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.field = field


class UnknownField(BodyError):
    """A member the body may not have."""

    def __init__(self, field: str) -> None:
        super().__init__(f"unknown field {field!r}", field)


class MissingField(BodyError):
    """A member the body must have."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} is required", field)


class InvalidField(BodyError):
    """A member of the wrong type or form: the detail is ``"<field>: <why>"``."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field}: {why}", field)


class InvalidCriterion(BodyError):
    """The award criterion or its features, in a form the engine would not take (the
    engine's own ``invalid_tender`` reason; no ``field``)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
