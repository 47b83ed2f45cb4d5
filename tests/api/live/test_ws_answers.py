"""Every websocket command read is answered once, even when building its answer fails.

The session runs on an in-memory service behind a test double of the socket
(:class:`tests.api.auctions.test_crash.FakeSocket`); the failures are injected where a bug would
sit: building the answer of a committed command, and then the fallback too.
"""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

import api.live.ws
from api.auctions.service import Service
from api.auctions.views import Audience
from api.live.core_source import CoreSession
from api.live.replay import Replayer
from api.live.ws import serve_session
from contracts import messages as m
from engine import BidAccepted
from tests.api.auctions.test_crash import (
    STARTS_AT,
    T0,
    Clock,
    FakeSocket,
    S,
    bid,
    service_with_auction,
    session,
)


def _broken(*args: object) -> bytes:
    raise RuntimeError("a bug in building the answer")


async def _running(
    monkeypatch: pytest.MonkeyPatch, *broken: str
) -> tuple[Service, FakeSocket, asyncio.Task[None]]:
    """A session of bidder ann on a running auction, with the functions of
    :mod:`api.live.ws` named in ``broken`` raising."""
    clock = Clock(T0)
    service = await service_with_auction(clock)
    ws, task = await session(service, "ann")
    clock.at = STARTS_AT + S
    for name in broken:
        monkeypatch.setattr(api.live.ws, name, _broken)
    return service, ws, task


async def test_a_committed_command_whose_answer_fails_gets_the_plain_answer(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    service, ws, task = await _running(monkeypatch, "_answer")
    ws.incoming.put_nowait(bid("b-1", "95.00"))
    ack = await ws.answer("b-1")
    events = await service.history("a-1", 0)
    accepted = events[-1]
    assert isinstance(accepted, BidAccepted)
    assert ack == {
        "request_id": "b-1",
        "seq": accepted.seq,
        "server_time": accepted.at,
        "event": {"type": "BidAccepted", "seq": accepted.seq, "at": accepted.at},
        "type": "ack",
    }
    assert "answering a committed command failed" in caplog.text

    # A refusal falls back to the reject with the engine's reason.
    ws.incoming.put_nowait(bid("b-2", "96.00"))
    reject = await ws.answer("b-2")
    assert (reject["type"], reject["code"]) == ("reject", "insufficient_improvement"), reject
    await ws.close()
    await asyncio.wait_for(task, 5)


async def test_an_answer_that_cannot_be_built_at_all_is_logged_not_lost_to_asyncio(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _, ws, task = await _running(monkeypatch, "_answer", "_plain_answer")
    caplog.set_level(logging.ERROR)

    ws.incoming.put_nowait(bid("b-1", "95.00"))
    # The socket goes on: a later frame is still read and answered.
    ws.incoming.put_nowait('{"type": "pass"}')
    error = await ws.answer("none")
    assert (error["type"], error["code"]) == ("error", "missing_field")
    for _ in range(100):
        if "was not answered" in caplog.text:
            break
        await asyncio.sleep(0.01)
    assert "a websocket command was not answered" in caplog.text
    await ws.close()
    await asyncio.wait_for(task, 5)
    gc.collect()  # asyncio reports an unretrieved task exception when the task is freed
    await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text


class ClosingSocket(FakeSocket):
    """A :class:`FakeSocket` that records a close without the closing handshake."""

    def end_connection(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)
        self.incoming.put_nowait(None)


async def test_a_reader_that_fails_is_logged_and_closes_with_1011(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    service = await service_with_auction(Clock(T0))
    ws = ClosingSocket()
    ws.incoming.put_nowait(m.to_json(m.Subscribe(0)))
    task = asyncio.create_task(
        serve_session(
            ws,
            CoreSession(service, service.hub),
            "a-1",
            Audience("observer", "o"),
            queue_limit=100,
            heartbeat_s=60,
        )
    )

    async def broken(self: object, message: object) -> None:
        raise RuntimeError("a bug in the replayer")

    monkeypatch.setattr(Replayer, "handle", broken)
    ws.incoming.put_nowait(m.to_json(m.Replay("p-1")))
    await asyncio.wait_for(task, 5)
    assert ws.closed == (1011, "internal error")
    assert "the websocket reader failed" in caplog.text
