"""``gavel officer add --role auditor`` (issue 15): the auditor's desk's credential from the
server's signing key, recorded, listed and accepted by the running server for the audit
routes, refused for an officer's act."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.api.conftest import Live
from tests.api.test_cli_officer import create_auction, gavel, listed, server_env


async def test_an_auditor_token_searches_and_may_not_create(server: Live, tmp_path: Path) -> None:
    env = server_env(server, tmp_path)
    done = gavel("officer", "add", "--role", "auditor", "--name", "dora", env=env)
    assert done.returncode == 0, done.stderr
    assert "auditor token for 'dora'" in done.stderr
    token = done.stdout.strip()
    payload = token.split(".")[0]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert (claims["role"], claims["sub"], claims["auction"]) == ("auditor", "dora", None)
    reply = await server.get("/api/v1/audit/search", token)
    assert reply.status == 200, reply.body
    status, _ = await create_auction(server, token)
    assert status == 403
    rows = listed(gavel("officer", "list", env=env))
    assert rows[claims["jti"]][1:3] == ["auditor", "dora"]


def test_another_role_is_refused(server: Live, tmp_path: Path) -> None:
    done = gavel("officer", "add", "--role", "bidder", env=server_env(server, tmp_path))
    assert done.returncode == 2 and done.stdout == ""
    assert "--role" in done.stderr
