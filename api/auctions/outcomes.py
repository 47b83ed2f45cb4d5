"""From a command's events to the answer its caller gets: accepted, or rejected and why.

Both adapters (HTTP and websocket) build commands with :func:`new_command_id` and read
the result with :func:`outcome`. A command's events may begin with facts that a passing
deadline caused (a close, a new Dutch price); the answer is the event the command itself
caused, found by its ``command_id``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from engine import CommandRejected, Event

__all__ = ["Outcome", "new_command_id", "outcome"]


def new_command_id(prefix: str) -> str:
    """A fresh command id, unique per auction (random: 122 bits)."""
    return f"{prefix}-{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one command: ``accepted`` is its first own event, or it was rejected."""

    accepted: Event | None
    rejected: CommandRejected | None
    events: list[Event]


def outcome(events: list[Event], command_id: str) -> Outcome:
    """Find the command's own result among ``events``. O(len(events))."""
    for event in events:
        if getattr(event, "command_id", None) == command_id:
            if isinstance(event, CommandRejected):
                return Outcome(None, event, events)
            return Outcome(event, None, events)
    # Commands that cause no event of their own (a pass that ends a turn, a cancel, a
    # disqualification) are accepted; their effect is the events themselves.
    return Outcome(events[-1] if events else None, None, events)
