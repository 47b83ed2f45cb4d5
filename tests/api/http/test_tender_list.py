"""``GET /api/v1/tenders`` (api/http/tender_list.py): the tenders an officer created or
sits on the committee of, newest first, each with its state in one word and the earliest
deadline still running; a bound token lists its own tender only; other roles and no
token are refused."""

from __future__ import annotations

import uuid

from api.http.tender_list import STATES
from tests.api.conftest import Live
from tests.api.http.test_tenders import KEYS, OFFICERS, T, assert_problem, new_tender, now_us

S = 1_000_000


async def listed(server: Live, token: str) -> list[dict[str, object]]:
    reply = await server.get(T, token)
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["truncated"] is False
    rows: list[dict[str, object]] = body["tenders"]
    assert all(row["state"] in STATES for row in rows)
    return rows


async def test_an_officer_lists_the_tenders_of_their_committee(server: Live) -> None:
    # One still waiting for its key ceremony, one open, one past its deadline.
    waiting = f"t-{uuid.uuid4().hex[:10]}"
    deadline = now_us() + 600 * S
    reply = await server.post(
        T,
        {
            "id": waiting,
            "title": "Street lights",
            "currency": "EUR",
            "officers": [
                {"id": name, "public_key": KEYS[name].encryption_public.hex()} for name in OFFICERS
            ],
            "threshold": 2,
            "lots": [{"id": "L1", "title": "All", "deadline": deadline, "opening_at": deadline}],
        },
        token=server.token("o1", "officer"),
    )
    assert reply.status == 201, reply.body
    open_one = await new_tender(server, close_in=600)
    closed = await new_tender(server, close_in=0.5)
    await closed.wait_deadline()

    rows = await listed(server, server.token("o2", "officer"))  # on the committee
    mine = [row for row in rows if row["id"] in (waiting, open_one.id, closed.id)]
    assert [row["id"] for row in mine] == [closed.id, open_one.id, waiting]  # newest first
    by_id = {row["id"]: row for row in mine}
    assert by_id[waiting]["state"] == "created" and by_id[waiting]["deadline"] is None
    assert by_id[open_one.id]["state"] == "open"
    assert by_id[open_one.id]["deadline"] == open_one.deadline
    assert by_id[closed.id]["state"] == "closed" and by_id[closed.id]["deadline"] is None
    assert by_id[waiting]["title"] == "Street lights" and by_id[waiting]["lots"] == 1
    assert by_id[waiting]["created_by"] == "o1" and by_id[waiting]["currency"] == "EUR"

    # Opened by the quorum: "opening" until decided.
    await closed.open_with("o1", "o2")
    rows = await listed(server, server.token("o1", "officer"))
    assert {row["id"]: row["state"] for row in rows}[closed.id] == "opening"

    # Not on the committee: none of them. Bound to one: that one only.
    assert await listed(server, server.token("o9", "officer")) == []
    bound = await listed(server, server.token("o3", "officer", open_one.id))
    assert [row["id"] for row in bound] == [open_one.id]
    elsewhere = server.token("o3", "officer", "a-somewhere")
    assert await listed(server, elsewhere) == []


async def test_only_officers_list_tenders(server: Live) -> None:
    assert_problem(await server.get(T, server.token("aud", "auditor")), 403, "role_forbidden")
    assert_problem(await server.get(T, server.token("b", "bidder", "t-x")), 403, "role_forbidden")
    assert (await server.get(T)).status == 401
