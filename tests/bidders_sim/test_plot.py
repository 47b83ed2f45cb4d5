"""price_plot: PNGs of real engine runs (English with extensions, multi-round, Dutch, sealed),
written to test-artifacts/ and looked at; matplotlib stays out of a plain import."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bidders_sim.plot import plot_data, price_plot
from bidders_sim.scripted import (
    Scenario,
    dutch,
    english,
    multiround,
    play,
    sealed_first_price,
)
from engine import Auction
from engine.codec import to_data
from tests.browser import ARTIFACTS

pytest.importorskip("matplotlib")


def officer_events(scenario: Scenario) -> list[dict[str, Any]]:
    """The scenario's events as GET /api/v1/auctions/{id}/events lists them."""
    auction = Auction()
    events = [event for _, caused in play(scenario, auction) for event in caused]
    return [{"seq": ev.seq, "server_time": ev.at, "event": to_data(ev)} for ev in events]


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


@pytest.mark.parametrize(
    ("build", "title"),
    [
        (english, "English sale with soft close"),
        (multiround, "Multi-round procurement"),
        (dutch, "Dutch sale"),
        (sealed_first_price, "Sealed first-price sale (jun withdraws)"),
    ],
)
def test_price_plot_writes_a_png(build: Any, title: str) -> None:
    scenario = build()
    path = ARTIFACTS / f"plot-{scenario.name}.png"
    path.unlink(missing_ok=True)
    price_plot(officer_events(scenario), path, title=title)
    assert png_size(path) == (1000, 560)
    assert 20_000 < path.stat().st_size < 400_000


def test_plot_data_reads_what_is_drawn() -> None:
    data = plot_data(officer_events(english()))
    assert data.currency == "EUR" and data.start_price == 1000_00 and data.reserve_price == 1200_00
    assert [end for _, end in data.extensions] == [
        data.started_at + s * 1_000_000  # type: ignore[operator]
        for s in (360, 420, 480)
    ]
    assert data.winners == ("alice",) and data.price == 1950_00
    assert data.bids["alice"][-1][1:] == (1950_00, True)
    rounds = plot_data(officer_events(multiround()))
    assert sorted(rounds.rounds) == [1, 2, 3] and all(e for _, e in rounds.rounds.values())
    assert rounds.initial == {"orion": 50_000_00, "polaris": 48_000_00, "vega": 52_000_00}
    assert [who for _, who, _ in rounds.passes] == ["polaris", "orion"]
    sealed = plot_data(officer_events(sealed_first_price()))
    assert [price for _, price, _ in sealed.bids["jun"]] == [31_000_00, None, 28_500_00]
    clock = plot_data([item["event"] for item in officer_events(dutch())])  # bare dicts too
    assert [price for _, price in clock.clock][:2] == [10_000_00, 9_500_00]


def test_an_empty_log_still_draws(tmp_path: Path) -> None:
    price_plot([], tmp_path / "empty.png", title="nothing yet")
    assert png_size(tmp_path / "empty.png") == (1000, 560)


def test_importing_the_module_does_not_import_matplotlib() -> None:
    code = "import sys, bidders_sim.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
