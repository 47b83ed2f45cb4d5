"""What a share submission led to: :class:`OpeningReport` (held apart from the service so
that :mod:`api.tenders.remote` can carry it between nodes without importing the service).

:class:`~api.tenders.service.TenderService` builds it when an officer's share completes
the quorum; :mod:`api.tenders.service` re-exports it. O(1) to build.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.tender_records import TenderEvent

__all__ = ["OpeningReport"]


@dataclass(frozen=True, slots=True)
class OpeningReport:
    """What a share submission led to: the opening's events, or why the key did not
    rebuild (``failure``, a :mod:`contracts.custody` reason and detail)."""

    events: tuple[TenderEvent, ...]
    failure: str | None
