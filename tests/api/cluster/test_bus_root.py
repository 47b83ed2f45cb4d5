"""Clusters sharing one NATS server never hear each other: every subject begins with the
cluster's name (``GAVEL_CLUSTER``)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from api.cluster.bus import Bus, BusError, NoOwner


async def test_two_clusters_on_one_nats_server_are_apart(nats_url: str) -> None:
    tag = uuid.uuid4().hex[:8]
    left = await Bus.connect(nats_url, name="left", root=f"left-{tag}")
    right = await Bus.connect(nats_url, name="right", root=f"right-{tag}")
    try:
        heard: dict[str, list[tuple[str, list[bytes]]]] = {"left": [], "right": []}
        await left.subscribe_events("a", lambda s, p: heard["left"].append((s, p)))
        await right.subscribe_events("a", lambda s, p: heard["right"].append((s, p)))

        async def echo(payload: bytes) -> bytes:
            return b"left:" + payload

        serving = await left.serve("n", "node-1", echo)
        await left.flush()
        await right.flush()
        await left.publish_events("a", "auction-1", [b'{"seq":1}'])
        assert await left.request("n", "node-1", b"x", 5.0) == b"left:x"
        # The same subject within the other cluster: nobody serves it there.
        with pytest.raises(NoOwner):
            await right.request("n", "node-1", b"x", 5.0)
        await left.flush()
        deadline = asyncio.get_running_loop().time() + 5
        while not heard["left"] and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        assert heard["left"] == [("auction-1", [b'{"seq":1}'])]
        assert heard["right"] == []
        await serving.stop()
    finally:
        await left.close()
        await right.close()


@pytest.mark.parametrize("root", ["", "a.b", "a b", "x*", "x" * 65])
async def test_a_cluster_name_is_one_subject_token(nats_url: str, root: str) -> None:
    with pytest.raises(BusError):
        await Bus.connect(nats_url, name="bad", root=root)


async def test_a_note_keeps_its_place_among_the_commits(nats_url: str) -> None:
    bus = await Bus.connect(nats_url, name="notes", root=f"notes-{uuid.uuid4().hex[:8]}")
    try:
        heard: list[tuple[str, object]] = []
        await bus.subscribe_events(
            "a",
            lambda s, p: heard.append(("events", p)),
            on_note=lambda s, n: heard.append(("note", n)),
        )
        await bus.flush()
        await bus.publish_events("a", "x", [b'{"seq":1}'])
        await bus.publish_note("a", "x", b'{"size":1}')
        await bus.publish_events("a", "x", [b'{"seq":2}'])
        deadline = asyncio.get_running_loop().time() + 5
        while len(heard) < 3 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        assert heard == [
            ("events", [b'{"seq":1}']),
            ("note", b'{"size":1}'),
            ("events", [b'{"seq":2}']),
        ]
    finally:
        await bus.close()
