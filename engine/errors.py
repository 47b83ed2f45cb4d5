"""Exceptions raised by the auction core.

A peer's bad input never raises: it becomes a :class:`~engine.events.CommandRejected`
event with a :class:`~engine.reasons.Reason`. Exceptions mean the *caller* (the runner
that drives the engine) broke the calling contract, or the event log handed to
:func:`~engine.auction.replay` is not one this engine could have written.

The whole tree::

    EngineError
    ├── EngineMisuse (also AssertionError)        the caller broke the contract
    │   ├── ClockWentBackwards                    a command's time is before the last one
    │   ├── AuctionNotCreated                     a command before CreateAuction
    │   └── UnknownCommand                        not a command type of this engine
    └── CorruptLog                                an event cannot follow the state
        ├── IllegalTransition                     no row in the phase table for it
        └── MalformedRecord                       bytes that do not decode to a record
"""

from __future__ import annotations

__all__ = [
    "AuctionNotCreated",
    "ClockWentBackwards",
    "CorruptLog",
    "EngineError",
    "EngineMisuse",
    "IllegalTransition",
    "MalformedRecord",
    "UnknownCommand",
]


class EngineError(Exception):
    """Root of every exception the engine raises."""


class EngineMisuse(EngineError, AssertionError):
    """The caller broke the engine's calling contract; nothing was changed."""


class ClockWentBackwards(EngineMisuse):
    """A command's ``at`` is earlier than the time the auction has already seen."""


class AuctionNotCreated(EngineMisuse):
    """A command other than ``CreateAuction`` reached an auction that does not exist yet."""


class UnknownCommand(EngineMisuse):
    """The object handed to ``handle`` is not a command of this engine."""


class CorruptLog(EngineError):
    """An event handed to ``apply`` cannot follow the current state."""


class IllegalTransition(CorruptLog):
    """The phase table has no row for this event in the current phase."""


class MalformedRecord(CorruptLog):
    """Bytes handed to the codec are not the canonical form of an event or command."""
