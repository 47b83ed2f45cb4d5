"""``gavel serve --demo`` (what ``make run`` starts): the printed credentials really work."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

from api.demo import demo_links, welcome_text
from api.storage.postgres import dsn_with_database
from loadtests.server_process import ServerProcess
from tests.api.conftest import _create_database, _drop_databases


def _post(url: str, token: str, body: dict[str, str]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_demo_prints_a_bidder_token_and_a_command_that_places_a_bid(
    pg_server_dsn: str, tmp_path: Path
) -> None:
    name = _create_database(pg_server_dsn)
    process = ServerProcess(
        tmp_path,
        database_url=dsn_with_database(pg_server_dsn, name),
        args=("--demo",),
        env={"GAVEL_LOG_LEVEL": "INFO"},  # the start-up lines, to see the welcome after them
    )
    try:
        process.start()
        text = process.log()
        auction = re.search(r"reverse auction '(demo-\d+)'", text)
        acme = re.search(r"Bidder 'acme' token:\n\s+(\S+)", text)
        assert auction is not None and acme is not None, text
        url = f"{process.url}/api/v1/auctions/{auction[1]}/bids"
        assert f"curl -s -X POST {url}" in text
        # The links come last, after every start-up line; none needs more than a browser:
        # two suppliers' one-time links to the supplier's page, the officer's console and
        # the auditor's desk, the landing page, the docs.
        ending = text.rstrip().splitlines()
        assert ending[-7] == f"Gavel is running at {process.url}", text
        assert ending[-4].split()[-1] == f"{process.url}/app/#/officer", text
        assert ending[-3].split()[-1] == f"{process.url}/app/#/audit", text
        assert ending[-2].split() == ["Landing", "page:", f"{process.url}/"], text
        assert ending[-1].split() == ["API", "docs:", f"{process.url}/api/v1/docs"], text
        invites = re.findall(r"Bid as '(\w+)' \(one-time link, own window\):\s+(\S+)", text)
        assert [party for party, _ in invites] == ["acme", "globex"], text
        for party, link in invites:
            assert link.startswith(f"{process.url}/app/#invite=")
            code = link.partition("#invite=")[2]
            status, redeemed = _post(f"{process.url}/api/v1/invitations/redeem", "", {"code": code})
            assert status == 200 and redeemed["party"] == party, redeemed
            assert redeemed["auction_id"] == auction[1]
            status, again = _post(f"{process.url}/api/v1/invitations/redeem", "", {"code": code})
            assert (status, again["code"]) == (410, "invitation_used")
        assert "ws://" not in text and "Watch it live" not in text
        assert text.index('"msg": "ready"') < text.index("Demo: reverse auction")
        # The demo auction opens two seconds after start-up.
        deadline = time.monotonic() + 15
        while True:
            status, body = _post(url, acme[1], {"amount": "99000.00", "currency": "EUR"})
            if body.get("code") != "auction_not_started" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == 201, body
        event = body["event"]
        assert isinstance(event, dict)
        # 99,000.00 EUR = 9,900,000 cents; the bidder sees itself by label, marked as "you"
        assert (event["price"], event["bidder"], event["you"]) == (9_900_000, "Bidder 1", True)
    finally:
        process.stop()
        _drop_databases(pg_server_dsn, {name})


def test_the_welcome_ends_with_the_links_to_open() -> None:
    text = welcome_text(
        "demo-1", "http://127.0.0.1:8000", "OFF", {"acme": "A", "globex": "G"}, {"acme": "C1"}
    )
    ending = text.splitlines()[-6:]
    assert text.endswith("\n") and ending[0] == "Gavel is running at http://127.0.0.1:8000"
    assert [line.split(":  ")[-1].strip() for line in ending[1:]] == [
        "http://127.0.0.1:8000/app/#invite=C1",
        "http://127.0.0.1:8000/app/#/officer",
        "http://127.0.0.1:8000/app/#/audit",
        "http://127.0.0.1:8000/",
        "http://127.0.0.1:8000/api/v1/docs",
    ]
    # One column of URLs, each after its label.
    assert len({line.index("http") for line in ending[1:]}) == 1
    assert ending[1].startswith("  Bid as 'acme' (one-time link, own window):")
    assert "Officer token:\n  OFF" in text and "Bidder 'globex' token:\n  G" in text
    # The command to paste uses the first bidder's token, and every link is a page.
    assert "Place a bid as acme:" in text and "Bearer A'" in text
    assert all(url.startswith("http://") for _, url in demo_links("http://h:1"))
