"""The live sources' Protocols (:mod:`api.live.source`): every implementation has every
member, so the route and the sessions run alike on the core and on an edge. (mypy checks
the types where each is passed; this checks the names at run time too.)"""

from __future__ import annotations

from typing import Any

import pytest

from api.live.core_source import CoreSession, CoreSource
from api.live.edge import Edge, EdgeService
from api.live.hub import Hub
from api.live.source import LiveSource, SessionSource
from api.settings import Settings
from api.storage.memory import MemoryEventStore


def _members(protocol: type) -> set[str]:
    return {
        name for name in vars(protocol) if not name.startswith("_") and name not in {"__init__"}
    }


def test_the_protocols_name_what_the_route_and_a_session_use() -> None:
    assert _members(SessionSource) == {
        "hub",
        "clock",
        "closing",
        "prepare",
        "catch_up",
        "history",
        "submit",
    }
    assert _members(LiveSource) == {
        "public_key",
        "revoked",
        "access_rules",
        "sockets",
        "closing",
        "serving",
        "on_result",
        "on_slow",
    }


@pytest.mark.parametrize(
    "make",
    [
        lambda: EdgeService(MemoryEventStore(), Hub()),
        lambda: CoreSession(object(), Hub()),  # type: ignore[arg-type]  # names only
    ],
    ids=["edge", "core"],
)
def test_every_session_source_has_every_member(make: Any) -> None:
    # dir(), not hasattr(): a property is not called (the core's reads its service).
    assert _members(SessionSource) <= set(dir(make()))


@pytest.mark.parametrize(
    "make",
    [
        lambda: Edge(Settings(), "http://127.0.0.1:1", "token"),
        lambda: CoreSource(object()),  # type: ignore[arg-type]  # names only
    ],
    ids=["edge", "core"],
)
def test_every_live_source_has_every_member(make: Any) -> None:
    assert _members(LiveSource) <= set(dir(make()))
