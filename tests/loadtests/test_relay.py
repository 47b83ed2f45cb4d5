"""The bare relay the service benchmark compares with: Gavel's frames and fan-out, no work.
One relay is started in a child process for the module (about a second)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from loadtests.relay import RelayProcess, create_relay, main

_PROTOCOL = [Subprotocol("gavel.v1")]


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayProcess]:
    with RelayProcess(tmp_path_factory.mktemp("relay")) as running:
        yield running


async def _join(relay: RelayProcess, auction: str) -> tuple[ClientConnection, dict[str, object]]:
    ws = await connect(f"{relay.ws_url}/ws/v1/auctions/{auction}", subprotocols=_PROTOCOL)
    await ws.send(json.dumps({"type": "subscribe", "since": 0}))
    return ws, json.loads(await ws.recv())


async def test_welcome_then_every_bid_to_every_socket_and_an_ack(relay: RelayProcess) -> None:
    alice, welcome = await _join(relay, "a-1")
    bob, second = await _join(relay, "a-1")
    try:
        assert alice.subprotocol == "gavel.v1"
        assert (welcome["type"], welcome["you"], welcome["seq"]) == ("welcome", "Bidder 1", 0)
        assert second["you"] == "Bidder 2"
        await alice.send(json.dumps({"type": "bid", "request_id": "r-1", "amount": "12.50"}))
        event = json.loads(await alice.recv())
        ack = json.loads(await alice.recv())
        seen = json.loads(await bob.recv())
        assert event == seen
        assert (event["type"], event["seq"]) == ("event", 1)
        assert event["event"]["price"] == 1250 and event["event"]["bidder"] == "Bidder 1"
        assert (ack["type"], ack["request_id"], ack["seq"]) == ("ack", "r-1", 1)
        assert ack["event"]["you"] is True
    finally:
        await alice.close()
        await bob.close()


async def test_auctions_are_separate_rooms(relay: RelayProcess) -> None:
    ws, welcome = await _join(relay, "a-other")
    try:
        assert (welcome["you"], welcome["seq"]) == ("Bidder 1", 0)
    finally:
        await ws.close()


def test_the_app_has_health_and_the_auction_route() -> None:
    app = create_relay()
    paths = {route.path for route in app.router.routes}
    assert paths == {"healthz", "ws/v1/auctions/<auction_id:str>"}


def test_a_port_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "--port" in capsys.readouterr().err


def test_a_relay_that_dies_at_start_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", "/bin/false")  # exits at once, status 1
    dead = RelayProcess(tmp_path)
    try:
        with pytest.raises(RuntimeError, match="exited early"):
            dead.start(timeout_s=30)
    finally:
        dead.stop()
    assert dead.process is not None and dead.process.returncode == 1
