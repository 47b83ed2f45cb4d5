"""api.http.answering: admitting a request, answering its command once per key, and the
problems a command's failures become."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.access import auth
from api.access.errors import RateLimited
from api.auctions.runner import RunnerOverloaded, WriterBacklogged
from api.auctions.service import Service
from api.http import answering
from api.http.idempotency import IdempotencyStore
from api.http.problems import ProblemError
from api.node import Node, NotReady
from api.settings import Settings
from api.storage.memory import MemoryIdempotencyKeys


def _node(tmp_path: Path, **changes: Any) -> Node:
    seed = base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()
    return Node(Settings(data_dir=tmp_path, signing_key_pem=seed, **changes))


def _request(
    route: str = "gavel_1.things.get_auction",
    *,
    token: str | None = None,
    key: str | None = None,
    body: bytes = b"{}",
    ip: str = "192.0.2.1",
) -> Any:
    headers = {}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    if key is not None:
        headers["idempotency-key"] = key
    return SimpleNamespace(
        route=SimpleNamespace(name=route),
        headers=headers,
        client_ip=ip,
        path="/api/v1/things",
        query_string="",
        method="POST",
        body=body,
    )


def test_check_id() -> None:
    assert answering.check_id("a-1_x.y", "id") == "a-1_x.y"
    for bad in ("", "a" * 101, "a b", "é"):
        with pytest.raises(ProblemError) as refused:
            answering.check_id(bad, "party")
        assert refused.value.problem.code == "invalid_field"
        assert refused.value.problem.extra["field"] == "party"


def test_overloaded_says_which_limit() -> None:
    backlog = answering.overloaded(WriterBacklogged("many"))
    queue = answering.overloaded(RunnerOverloaded("full"))
    assert (backlog.status, backlog.code, backlog.retry_after) == (503, "overloaded", 1)
    assert "backlog" in backlog.detail and "too many commands" in queue.detail


def test_claims_read_the_route_name_the_address_and_the_header(tmp_path: Path) -> None:
    node = _node(tmp_path, rate_per_s=0.001, rate_burst=2)  # 2 per token, 8 per address
    token = node.credentials.issue("bidder-1", auth.Role.BIDDER, "a-1")
    claims = answering.claims(node, _request(token=token), "a-1")
    assert claims.sub == "bidder-1"
    with pytest.raises(auth.WrongAuction):
        answering.claims(node, _request(token=token, ip="192.0.2.2"), "a-2")
    with pytest.raises(RateLimited):  # the token's third request
        answering.claims(node, _request(token=token, ip="192.0.2.3"), "a-1")
    for _ in range(8):
        answering.limit_address(node, _request(ip="2001:db8::1"))
    with pytest.raises(RateLimited):
        answering.limit_address(node, _request(ip="2001:db8::2"))  # the same /64


async def test_without_a_key_the_work_simply_runs(tmp_path: Path) -> None:
    node = _node(tmp_path)
    claims = node.credentials.verify_token(node.credentials.issue("p", auth.Role.OFFICER, None))

    async def work() -> answering.Answer:
        return 201, {"ok": True}, {"Location": "/x"}

    response = await answering.respond(node, _request(), claims, work)
    assert (response.status, json.loads(response.body), response.headers["Location"]) == (
        201,
        {"ok": True},
        "/x",
    )


async def test_a_refusal_under_a_key_is_stored_and_replayed_as_its_problem(
    tmp_path: Path,
) -> None:
    node = _node(tmp_path)
    node.idempotency = IdempotencyStore(MemoryIdempotencyKeys())
    claims = node.credentials.verify_token(node.credentials.issue("p", auth.Role.BIDDER, "a-1"))
    runs = []

    async def work() -> answering.Answer:
        runs.append(1)
        raise auth.WrongParty("not yours")

    with pytest.raises(ProblemError) as refused:
        await answering.respond(node, _request(key="k-1"), claims, work)
    assert (refused.value.problem.status, refused.value.problem.code) == (403, "wrong_party")
    # The retry is answered from the store, without running the command again.
    response = await answering.respond(node, _request(key="k-1"), claims, work)
    assert response.status == 403
    assert json.loads(response.body)["code"] == "wrong_party"
    assert response.headers["Idempotent-Replayed"] == "true"
    assert runs == [1]


async def test_a_node_not_ready_under_a_key_releases_it(tmp_path: Path) -> None:
    node = _node(tmp_path)
    node.idempotency = IdempotencyStore(MemoryIdempotencyKeys())
    claims = node.credentials.verify_token(node.credentials.issue("p", auth.Role.BIDDER, "a-1"))
    runs = []

    async def work() -> answering.Answer:
        runs.append(1)
        if len(runs) == 1:
            raise NotReady("the server is not ready")
        return 200, {"token": "secret-stays-sealed-at-rest"}

    with pytest.raises(ProblemError) as refused:
        await answering.respond(node, _request(key="k-2"), claims, work)
    assert (refused.value.problem.status, refused.value.problem.code) == (503, "shutting_down")
    # A 503 is no answer: the retry runs the command.
    response = await answering.respond(node, _request(key="k-2"), claims, work)
    assert json.loads(response.body) == {"token": "secret-stays-sealed-at-rest"}
    assert runs == [1, 1]


async def test_run_answers_the_commands_own_event_or_its_problem(tmp_path: Path) -> None:
    from decimal import Decimal

    from api.http.metrics import Metrics
    from api.live.hub import Hub
    from api.storage.memory import MemoryEventStore
    from engine import EnglishRules, PlaceBid, RegisterBidder, Step

    second = 1_000_000
    now = 1_800_000_000 * second
    node = _node(tmp_path)
    with pytest.raises(NotReady):
        await answering.run(node, "a-1", lambda cid, at: RegisterBidder(cid, at, "p"), prefix="x")
    store = MemoryEventStore()
    node.service = service = Service(store, store, Hub(), clock=lambda: now)
    metrics = Metrics()
    try:
        rules = EnglishRules("EUR", now + 1000, now + 3600 * second, 100, Step(100))
        await service.create("a-1", rules, "create-1")
        accepted, events = await answering.run(
            node,
            "a-1",
            lambda cid, at: RegisterBidder(cid, at, "p", Decimal(0)),
            prefix="register",
            metrics=metrics,
        )
        assert accepted.bidder == "p" and accepted in events
        with pytest.raises(ProblemError) as rejected:
            await answering.run(
                node,
                "a-1",
                lambda cid, at: PlaceBid(cid, at, "stranger", Decimal(200), "EUR"),
                prefix="http",
                metrics=metrics,
            )
        refusal = rejected.value.problem
        assert refusal.detail and {"seq", "server_time"} <= set(refusal.extra)
        assert metrics.rejected == {refusal.code: 1}
        with pytest.raises(ProblemError) as unknown:
            await answering.run(
                node, "a-2", lambda cid, at: RegisterBidder(cid, at, "p"), prefix="x"
            )
        assert (unknown.value.problem.status, unknown.value.problem.code) == (404, "not_found")
    finally:
        await service.close()
