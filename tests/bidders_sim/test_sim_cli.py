"""``gavel sim`` end to end: a server of its own (or a running one), JSON out, a plot."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from api.storage.postgres import dsn_with_database
from bidders_sim import sim_cli
from tests.api.conftest import Live, _create_database, _drop_databases


def test_json_from_a_server_of_its_own_and_a_plot(
    pg_server_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _create_database(pg_server_dsn)
    monkeypatch.setenv("DATABASE_URL", dsn_with_database(pg_server_dsn, name))
    plot = tmp_path / "english.png"
    out = io.StringIO()
    try:
        status = sim_cli.main(
            [
                "--json",
                "--auctions", "2",
                "--bidders", "3",
                "--format", "english",
                "--strategies", "min_step,jump,sniper",
                "--duration", "3",
                "--seed", "4",
                "--plot", str(plot),
                "--plot-auction", "2",
            ],
            out,
        )  # fmt: skip
    finally:
        _drop_databases(pg_server_dsn, {name})
    assert status == 0
    summary = json.loads(out.getvalue())
    assert summary["seed"] == 4 and summary["auctions"]["by_format"] == {"english": 2}
    assert set(summary["winners"]) == {"min_step", "jump", "sniper"}
    assert summary["bids_sent"] > 0 and summary["acks"] > 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000


def test_text_against_a_running_server(
    server: Live, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = tmp_path / "officer.token"
    token.write_text(server.officer + "\n")
    out = io.StringIO()
    url = f"http://127.0.0.1:{server.port}"
    argv = ["--url", url, "--officer-token-file", str(token), "--auctions", "1", "--bidders", "2"]
    assert sim_cli.main([*argv, "--format", "sealed", "--duration", "2"], out) == 0
    text = out.getvalue()
    assert text.startswith("gavel sim (seed 1): 1 auctions in ")
    assert "formats:   sealed 1" in text and "winners by strategy:" in text
    # The progress bar went to stderr, not into the summary.
    assert "auctions" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--url", "http://127.0.0.1:1"], "needs --officer-token-file or GAVEL_OFFICER_TOKEN"),
        (["--strategies", "psychic"], "unknown strategy 'psychic'"),
        (["--duration", "0.5"], "between 1 and 86400 seconds"),
        (["--auctions", "2", "--plot-auction", "3"], "past the last auction"),
    ],
)
def test_bad_arguments(
    argv: list[str],
    words: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GAVEL_OFFICER_TOKEN", raising=False)
    with pytest.raises(SystemExit) as exited:
        sim_cli.main(argv)
    assert exited.value.code == 2 and words in capsys.readouterr().err


def test_the_plot_shows_the_busiest_auction_by_default() -> None:
    def record(*acks: int) -> SimpleNamespace:
        return SimpleNamespace(bidders=[SimpleNamespace(acks=n) for n in acks])

    result = SimpleNamespace(auctions=[record(1, 2), record(3, 4), record(0, 7), record(2)])
    assert sim_cli.busiest(result) == 2  # 7 acks; the first of the two with 7
