"""The auction as a format sees it (engine/formats/host.py): ``Auction`` meets the ``Host``
protocol member for member, and the formats are bound to it without importing the auction."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from engine import Auction
from engine.formats.host import Host

FORMATS = Path(__file__).resolve().parents[3] / "engine" / "formats"


def _members() -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(Host).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    }


def test_the_protocol_names_what_formats_use() -> None:
    assert set(_members()) == {
        "phase",
        "seq",
        "bidders",
        "book",
        "emit",
        "reject",
        "finish",
        "eligible",
        "money",
    }


def test_the_auction_has_every_member_with_the_same_parameters() -> None:
    auction = Auction()
    for name, member in _members().items():
        assert hasattr(auction, name), name
        if isinstance(member, property):
            continue
        theirs = inspect.signature(getattr(Auction, name)).parameters
        ours = inspect.signature(member).parameters
        assert list(theirs) == list(ours), name
        assert [p.default for p in theirs.values()] == [p.default for p in ours.values()], name


def test_no_format_module_imports_the_auction() -> None:
    for path in FORMATS.glob("*.py"):
        text = path.read_text("utf-8")
        assert "from engine.auction import" not in text, path.name
        assert "TYPE_CHECKING" not in text, path.name
