"""The edge's app and process (:mod:`api.http.edge`): ``gavel edge``'s command line, its
error handlers (the core's problems), its handshake limiter (the core's 429), and a
graceful stop on SIGTERM. What the edge serves over its sockets is
``tests/api/live/test_edge.py``'s.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from api.http.app import Served
from api.http.edge import create_edge, create_edge_app
from api.settings import Settings
from tests.api.conftest import QUICK_HEARTBEAT_S, Live
from tests.api.live.test_ws import closed_with, english, open_tape

# The module's ``core`` (a quick heartbeat) is tests/api/conftest.py's.

_PARTIES = itertools.count(1)


def test_gavel_edge_needs_a_token_and_the_cores_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.cli import main

    monkeypatch.delenv("GAVEL_EDGE_TOKEN", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["edge", "--core-url", "http://127.0.0.1:1"])
    assert exited.value.code == 2
    assert "--token" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["edge", "--core-url", "http://127.0.0.1:1", "--token", "t"])
    assert exited.value.code == 2
    assert "--database-url" in capsys.readouterr().err


def test_the_edge_is_served_with_its_stop_as_the_graceful_step() -> None:
    """What run_app needs, typed: the app, the edge's stop for SIGTERM/SIGINT, status 0
    (nothing of the edge changes it); its routes are the live route and the probes."""
    served = create_edge(Settings(), "http://127.0.0.1:1", "unused")
    assert isinstance(served, Served) and served.exit_code == 0
    assert getattr(served.graceful, "__name__", "") == "stop"
    names = {route.name.rpartition(".")[2] for route in served.app.router.routes}
    assert names == {"healthz", "readyz", "live"}
    assert create_edge_app(Settings(), "http://127.0.0.1:1", "unused").name.startswith(
        "gavel_edge_"
    )


async def test_an_edge_answers_an_unknown_path_with_the_cores_problem(
    core: Live, start_edge: Callable[..., Live]
) -> None:
    edge = start_edge(core)
    for live in (core, edge):
        reply = await live.get("/no/such/path")
        assert (reply.status, reply.code) == (404, "not_found"), reply.body
        assert reply.headers["content-type"].startswith("application/problem+json")


async def test_a_burst_of_handshakes_to_an_edge_gets_429_as_on_the_core(
    core: Live, start_edge: Callable[..., Live]
) -> None:
    # Three handshakes per address, two per token, refilling too slowly to matter here
    # (the core's own test: tests/api/live/test_ws.py).
    limited = start_edge(
        core,
        GAVEL_WS_RATE_PER_S="0.001",
        GAVEL_WS_RATE_BURST="3",
        GAVEL_WS_TOKEN_RATE_PER_S="0.001",
        GAVEL_WS_TOKEN_RATE_BURST="2",
        GAVEL_HEARTBEAT_S=str(QUICK_HEARTBEAT_S),
    )
    auction = await core.create(english(start_in=60))

    def observer() -> str:
        return core.token(f"o-{next(_PARTIES)}", "observer", auction)

    async def refused(token: str, address: str) -> Any:
        with pytest.raises(InvalidStatus) as caught:
            await limited.connect(auction, token, local_addr=(address, 0))
        return caught.value.response

    # A burst from one address: the first three connect, the fourth is refused before
    # the upgrade with the core's problem.
    tapes = [await open_tape(limited, auction, observer()) for _ in range(3)]
    for tape in tapes:
        await tape.wait(lambda t: t.messages("welcome"))
    answer = await refused(observer(), "127.0.0.1")
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) >= 1
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    problem = json.loads(answer.body)
    assert problem["code"] == "rate_limited" and "address" in problem["detail"]
    assert problem["status"] == 429
    # Another address still connects; the open sockets keep streaming.
    shared = observer()
    other = await open_tape(limited, auction, shared, local_addr=("127.0.0.2", 0))
    await other.wait(lambda t: t.messages("welcome"))
    for tape in tapes:
        await tape.wait(lambda t: t.messages("heartbeat"))
        assert tape.closed is None
    # Per token: the same token from a fresh address is over its own bucket.
    second = await open_tape(limited, auction, shared, local_addr=("127.0.0.2", 0))
    await second.wait(lambda t: t.messages("welcome"))
    answer = await refused(shared, "127.0.0.3")
    assert answer.status_code == 429
    assert "token" in json.loads(answer.body)["detail"]
    # A bad token is not the limiter's business: closed with 4401 after the upgrade.
    ws = await limited.connect(auction, "garbage", since=None, local_addr=("127.0.0.4", 0))
    assert await closed_with(ws) == (4401, "token_malformed")
    for tape in [*tapes, other, second]:
        await tape.close()


async def test_an_edge_stopped_by_sigterm_says_going_away_to_its_watchers(
    core: Live, start_edge: Callable[..., Live]
) -> None:
    doomed = start_edge(core)
    auction = await core.create(english(start_in=0.2))
    tape = await open_tape(doomed, auction, core.token("w", "observer", auction))
    await tape.wait(lambda t: t.messages("welcome"))
    process = doomed.process.process
    assert process is not None
    process.terminate()
    assert await asyncio.to_thread(process.wait, 20) == 0
    await tape.wait(lambda t: t.closed is not None)
    assert tape.closed is not None and tape.closed.rcvd is not None
    assert (tape.closed.rcvd.code, tape.closed.rcvd.reason) == (1001, "server shutting down")
