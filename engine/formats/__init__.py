"""The auction formats: each rules class has its own logic object.

``format_for(auction, rules)`` picks it; the logic lives in one module per format.
``secrecy_for(rules)`` says what the format keeps secret and until when, from the rules
alone (for an adapter that has seen ``AuctionCreated`` but holds no auction); what may be
shown is described in :mod:`engine.formats.view`.
"""

from __future__ import annotations

from engine.formats.base import Format
from engine.formats.dutch import Dutch
from engine.formats.host import Host
from engine.formats.multiround import MultiRound
from engine.formats.open_cry import OpenCry
from engine.formats.sealed import Sealed
from engine.formats.view import FormatView, Moment, OwnView, Reveal, Secrecy
from engine.rules import (
    AuctionRules,
    DutchRules,
    EnglishRules,
    MultiRoundRules,
    ReverseRules,
    SealedRules,
)

__all__ = [
    "Format",
    "FormatView",
    "Moment",
    "OwnView",
    "Reveal",
    "Secrecy",
    "format_for",
    "secrecy_for",
]

#: The logic class of each rules class (rules classes are never subclassed).
_FORMATS: dict[type[object], type[Format]] = {
    EnglishRules: OpenCry,
    ReverseRules: OpenCry,
    DutchRules: Dutch,
    SealedRules: Sealed,
    MultiRoundRules: MultiRound,
}


def format_for(auction: Host, rules: AuctionRules) -> Format:
    """The logic object for ``rules``' format, bound to ``auction``."""
    if isinstance(rules, EnglishRules | ReverseRules):
        return OpenCry(auction, rules)
    if isinstance(rules, DutchRules):
        return Dutch(auction, rules)
    if isinstance(rules, SealedRules):
        return Sealed(auction, rules)
    assert isinstance(rules, MultiRoundRules)
    return MultiRound(auction, rules)


def secrecy_for(rules: AuctionRules) -> Secrecy:
    """What an auction with ``rules`` keeps secret, and until when: the ``secrecy`` of
    its format. O(1).

    >>> from engine.rules import SealedRules
    >>> secrecy_for(SealedRules("EUR", 0, 10)).bids
    <Reveal.AT_CLOSE: 'at_close'>
    """
    return _FORMATS[type(rules)].secrecy
