"""The auction formats: each rules class has its own logic object.

``format_for(auction, rules)`` picks it; the logic lives in one module per format.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.formats.base import Format
from engine.formats.dutch import Dutch
from engine.formats.multiround import MultiRound
from engine.formats.open_cry import OpenCry
from engine.formats.sealed import Sealed
from engine.rules import (
    AuctionRules,
    DutchRules,
    EnglishRules,
    MultiRoundRules,
    ReverseRules,
    SealedRules,
)

if TYPE_CHECKING:
    from engine.auction import Auction

__all__ = ["Format", "format_for"]


def format_for(auction: Auction, rules: AuctionRules) -> Format:
    """The logic object for ``rules``' format, bound to ``auction``."""
    if isinstance(rules, EnglishRules | ReverseRules):
        return OpenCry(auction, rules)
    if isinstance(rules, DutchRules):
        return Dutch(auction, rules)
    if isinstance(rules, SealedRules):
        return Sealed(auction, rules)
    assert isinstance(rules, MultiRoundRules)
    return MultiRound(auction, rules)
