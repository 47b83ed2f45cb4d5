"""Schemathesis against the served OpenAPI document: the server does what it says.

A real server (``start_server``) gets an auction with a registered bidder, a second
auction for the officer's destructive commands, a published sealed tender and a token
to revoke; then ``schemathesis run`` reads ``/api/v1/openapi.json`` and sends what the
document allows (and what it does not), with a valid token for each operation's role
and the path parameters pinned to those fixtures. The stateful phase follows the
document's links: create an auction, register a bidder, bid with the token it got.

It fails on:

- any 5xx (``not_a_server_error``);
- any response the document does not describe: an undocumented status, a body that
  does not match its schema, a missing header (``status_code_conformance``,
  ``response_schema_conformance``, ``content_type_conformance``,
  ``response_headers_conformance``), a 405 without ``Allow`` (``unsupported_method``);
- a request the document calls invalid that is accepted (``negative_data_rejection``);
- a request the document calls valid that is refused for a reason the document does not
  state (:func:`refused_only_for_stated_reasons`): a shape code (``invalid_field``,
  ``missing_field``, ...) is never the answer to a valid request, except ``invalid_field``
  for a field the operation lists in ``x-state-fields``. Refusals for the token (401,
  403), the state (404, 409, the engine's 422 reasons) or the load (429) are stated.

Seeded and deterministic (``--seed``, ``generation.deterministic``, no example
database), and bounded: ``MAX_TIME_S`` for the whole run, ``MAX_EXAMPLES`` per
operation and phase. On a slow machine fewer cases run; none fails for slowness.

This module is also schemathesis's hooks module (``SCHEMATHESIS_HOOKS``): importing it
registers the custom check.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest
import schemathesis

from api.http.operations import SHAPE_CODES
from contracts import custody

if TYPE_CHECKING:
    from tests.api.conftest import Live

S = 1_000_000
#: The budgets of the two runs (examples, coverage and fuzzing with the ids pinned; then
#: the stateful phase, free to follow links): schemathesis stops starting cases after
#: them, and fuzzing repeats until its run's budget is spent. And the cases per
#: operation and phase. About 45 s in all, on a loaded two-core machine: 30 s let the
#: examples and coverage phases finish (~19 s) and fuzz every operation (61 of 61, ~825
#: cases); 12 s of stateful runs follow all 10 links (8 s reached 9). Was 45 s + 20 s
#: (~2,100 + 460 cases): the suite's 20 minutes need the room, the checks are the same.
MAX_TIME_S = 30
STATEFUL_TIME_S = 12
MAX_EXAMPLES = 8
SEED = 20_240_601
ROOT = Path(__file__).resolve().parents[3]

#: Operations a bidder calls (every other one: the officer). Auction ones use the bidder
#: of the fixture auction, tender ones the supplier of the fixture tender.
_AUCTION_BIDDER = (
    "bidder_bids",
    "bidder_proxy",
    "bidder_accept",
    "bidder_withdraw",
    "bidder_pass",
    "my_standing",
)
_TENDER_BIDDER = ("tender_submit", "tender_upload", "tender_withdraw")
#: Operations an auditor calls (the audit trail of both kinds of stream), and reads an
#: observer of the fixture auction makes.
_AUDITED = tuple(
    f"audit_{kind}_{what}"
    for kind in ("auction", "tender")
    for what in ("checkpoint", "inclusion", "consistency", "export", "ocds")
)
_OBSERVED = ("list_auctions", "get_auction", "events_after")
#: Officer commands that end or spoil an auction: aimed at an auction of their own.
_DESTRUCTIVE = ("cancel", "disqualify")
#: Not fuzzed: the raw envelope upload takes bodies of exactly 1072 bytes .. 1 MiB + 48,
#: which schemathesis cannot generate within the budget (90 s for nothing); its schema
#: is exact all the same, and tests/api/http/test_tender_routes.py covers the route.
_NOT_FUZZED = ("tender_upload",)


#: The environment variable that hands the operations' tokens to schemathesis.
_TOKENS_VARIABLE = "GAVEL_FUZZ_TOKENS"


def _minted(authorization: str | None) -> bool:
    """Whether ``authorization`` carries a token the server minted (its claims read)."""
    claims = (authorization or "").removeprefix("Bearer ").split(".")[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    except ValueError:
        return False
    # A generated header may decode to any JSON value (a number, a list): only an
    # object with a role is a minted token's claims.
    return isinstance(decoded, dict) and "role" in decoded


@schemathesis.auth(refresh_interval=None)
class Tokens:
    """Each operation's bearer token, from ``GAVEL_FUZZ_TOKENS`` (by operation id).

    Not schemathesis's configured headers: those win over the token a link brings (the
    new bidder's, from its registration), and one operation's leaked into others'. A
    token a link brought stays.
    """

    def __init__(self) -> None:
        self.tokens: dict[str, str] = json.loads(os.environ.get(_TOKENS_VARIABLE, "{}"))

    def get(self, case: Any, ctx: Any) -> str | None:
        """The token of ``case``'s operation, if it has one."""
        return self.tokens.get(case.operation.definition.raw.get("operationId", ""))

    def set(self, case: Any, data: str | None, ctx: Any) -> None:
        """Send ``data`` as the bearer token, unless a link brought one."""
        headers = dict(case.headers or {})
        if data is None or _minted(headers.get("Authorization")):
            return
        headers["Authorization"] = f"Bearer {data}"
        case.headers = headers


#: Numbers the fresh idempotency keys of :func:`before_call`.
_KEYS = itertools.count(1)


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """A fresh ``Idempotency-Key`` for every valid request that carries one.

    Generated keys repeat ("0", "!"), and a key used again with another body is refused
    (422 ``idempotency_key_reused``, as documented): most creates would never run.
    Replays themselves are tested in test_idempotency_http.py.
    """
    meta = case.meta
    headers = case.headers or {}
    if meta is not None and meta.generation.mode.is_positive and "Idempotency-Key" in headers:
        headers["Idempotency-Key"] = f"fuzz-{next(_KEYS)}"


@schemathesis.check
def refused_only_for_stated_reasons(ctx: Any, response: Any, case: Any) -> bool | None:
    """A request the document calls valid is refused only for a reason it states.

    Schemathesis's own ``positive_data_acceptance`` counts every 422 as a failure; but
    the engine refuses well-formed content with 422 reasons of its own (a bid below the
    start price) that no schema can state. So that check admits 422, and this one looks
    at the code: a shape code means the document called valid what the server cannot
    even read.
    """
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if not 400 <= response.status_code < 500:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    if code not in SHAPE_CODES:
        return None
    stated = case.operation.definition.raw.get("x-state-fields") or {}
    if code == "invalid_field" and body.get("field") in stated:
        return None
    raise AssertionError(
        f"a request the document calls valid was refused: {response.status_code} {code} "
        f"({body.get('detail')})"
    )


def _now_us() -> int:
    return time.time_ns() // 1000


def _english(starts_at: int, seconds: int = 1) -> dict[str, Any]:
    return {
        "format": "english",
        "currency": "EUR",
        "starts_at": starts_at,
        "ends_at": starts_at + seconds * S,
        "start_price": "100.00",
        "step": {"amount": "1.00"},
    }


async def _fixtures(server: Live) -> dict[str, str]:
    """What the pinned parameters name: made through the API, as a client would."""
    officer = server.officer
    english = _english(_now_us() + 2 * S, 3600)
    auction = await server.create(english, f"a-fuzz-{uuid.uuid4().hex[:6]}")
    bidder = await server.register(auction, "p-fuzz")
    spoiled = await server.create(english, f"a-spoil-{uuid.uuid4().hex[:6]}")
    await server.register(spoiled, "p-spoil")

    keys = custody.generate_officer_keys()
    tender = f"t-fuzz-{uuid.uuid4().hex[:6]}"
    deadline = _now_us() + 3600 * S
    created = await server.post(
        "/api/v1/tenders",
        {
            "id": tender,
            "title": "Fuzzed tender",
            "currency": "EUR",
            "officers": [{"id": "officer-1", "public_key": keys.encryption_public.hex()}],
            "threshold": 1,
            "lots": [{"id": "L1", "deadline": deadline, "opening_at": deadline}],
        },
        token=officer,
    )
    assert created.status == 201, created.body
    published = await server.post(f"/api/v1/tenders/{tender}/ceremony", {}, token=officer)
    assert published.status == 201, published.body

    issued = await server.post(
        "/api/v1/tokens",
        {"role": "observer", "party": "watcher", "auction": auction},
        token=officer,
    )
    assert issued.status == 201, issued.body
    return {
        "auction": auction,
        "bidder": bidder,
        "spoiled": spoiled,
        "tender": tender,
        "supplier": server.token("supplier-1", "bidder", tender),
        "jti": issued.json()["jti"],
    }


def _toml(value: Any) -> str:
    # A JSON string or array of strings is also a TOML one (basic strings, same escapes).
    return json.dumps(value, ensure_ascii=True)


def _tokens(
    server: Live, fixtures: dict[str, str], operations: list[str], *, stateful: bool
) -> dict[str, str]:
    """The token of each operation, by id: every role at work.

    The officer's by default; the fixture bidder's and supplier's for their commands;
    an auditor's for the audit trail; an observer of the fixture auction reads it. In
    the stateful run the ids are not the fixtures': the officer reads, and the auction
    bidder's token comes with the link from its registration.
    """
    tokens = dict.fromkeys(operations, server.officer)
    tokens.update(dict.fromkeys(_TENDER_BIDDER, fixtures["supplier"]))
    if not stateful:
        tokens.update(dict.fromkeys(_AUCTION_BIDDER, fixtures["bidder"]))
        tokens.update(dict.fromkeys(_AUDITED, server.token("auditor-1", "auditor")))
        observer = server.token("watcher", "observer", fixtures["auction"])
        tokens.update(dict.fromkeys(_OBSERVED, observer))
    else:
        for name in _AUCTION_BIDDER:
            tokens.pop(name, None)
    return tokens


def _config(fixtures: dict[str, str], *, stateful: bool) -> str:
    """schemathesis.toml: the budget, the checks, the pinned ids (not when stateful: the
    configured values would win over what the links supply)."""
    lines = [
        f"seed = {SEED}",
        f"max-time = {STATEFUL_TIME_S if stateful else MAX_TIME_S}",
        "workers = 1",
        "[generation]",
        'database = "none"',
        "deterministic = true",
        f"max-examples = {MAX_EXAMPLES}",
        "[checks.positive_data_acceptance]",
        # 422 too: the engine's refusals; refused_only_for_stated_reasons checks the code.
        # 413 too: a body the schema allows can still pass the server's size limit (a
        # tender of 255 officers with their keys), which every body operation documents.
        'expected-statuses = ["2xx", "401", "403", "404", "409", "413", "422", "429"]',
        "[phases.stateful.inference]",
        # Only the document's own links: inferred ones guess at ids and tokens.
        "algorithms = []",
    ]
    if not stateful:
        lines += [
            "[parameters]",
            f'"path.auction_id" = {_toml(fixtures["auction"])}',
            f'"path.tender_id" = {_toml(fixtures["tender"])}',
            '"path.lot" = "L1"',
            f'"path.jti" = {_toml(fixtures["jti"])}',
            "[[operations]]",
            f"include-operation-id = {_toml(list(_DESTRUCTIVE))}",
            f'parameters = {{ "path.auction_id" = {_toml(fixtures["spoiled"])} }}',
        ]
    lines += ["[[operations]]", f"include-operation-id = {_toml(list(_NOT_FUZZED))}"]
    lines.append("enabled = false")
    return "\n".join(lines) + "\n"


def run_schemathesis(
    server: Live, config: str, tokens: dict[str, str], workdir: Path, phases: str
) -> subprocess.CompletedProcess[str]:
    """``schemathesis run --phases phases`` against ``server`` with ``config``, each
    operation authenticated with its token in ``tokens`` (see :class:`Tokens`)."""
    path = workdir / f"schemathesis-{phases.replace(',', '-')}.toml"
    path.write_text(config)
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.api.http.test_openapi_fuzz",
        "PYTHONPATH": str(ROOT),
        _TOKENS_VARIABLE: json.dumps(tokens),
    }
    url = f"http://127.0.0.1:{server.port}"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(path),
            "run",
            f"{url}/api/v1/openapi.json",
            "--url",
            url,
            "--phases",
            phases,
            "--checks",
            "all",
            # The stateful run sends the bidder's token a link brought; ignored_auth takes
            # it for generated data and wants a 401. The first run checks every route's auth.
            *(["--exclude-checks", "ignored_auth"] if phases == "stateful" else []),
            "--no-color",
            "--output-truncate",
            "false",
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        # The budget bounds the cases; this bounds everything else (a hung request).
        timeout=MAX_TIME_S * 5,
        check=False,
    )


# ------------------------------------------------------------------ issue 12, items 5 and 6


async def test_a_time_out_of_range_is_refused_naming_the_field(server: Live) -> None:
    """Item 5: ``starts_at`` 10**30 was accepted and its /ocds answered 500. Every time
    the API takes is within 2000-01-01..2200-01-01 (contracts.bounds.TIME)."""
    for rules, field in [
        (_english(10**30), "rules.starts_at"),
        (_english(-1), "rules.starts_at"),
        ({**_english(_now_us() + S), "ends_at": 10**30}, "rules.ends_at"),
        (
            {**_english(_now_us() + S), "soft_close": {"window_us": 0, "extension_us": S}},
            "rules.soft_close.window_us",
        ),
    ]:
        auction = f"a-bounds-{uuid.uuid4().hex[:6]}"
        reply = await server.post(
            "/api/v1/auctions", {"id": auction, "rules": rules}, token=server.officer
        )
        assert (reply.status, reply.code) == (422, "invalid_field"), reply.body
        assert reply.json()["field"] == field
        listed = (await server.get("/api/v1/auctions", server.officer)).json()["auctions"]
        assert auction not in {entry["id"] for entry in listed}  # nothing was created
    tender = {
        "title": "t",
        "currency": "EUR",
        "officers": [{"id": "officer-1", "public_key": "09" * 32}],
        "threshold": 1,
        "lots": [{"id": "L1", "deadline": 10**30, "opening_at": 10**30}],
    }
    reply = await server.post("/api/v1/tenders", tender, token=server.officer)
    assert (reply.status, reply.code, reply.json()["field"]) == (422, "invalid_field", "deadline")


async def test_an_upload_deadline_in_other_digits_is_refused_not_a_500(server: Live) -> None:
    # "²".isdigit() is true and int("²") raises: that was a 500.
    token = server.token("supplier-1", "bidder", "t-none")
    for deadline in ("%C2%B2", "99999999999999999", str(10**15)):
        reply = await server.request(
            "POST",
            f"/api/v1/tenders/t-none/lots/L1/envelopes/financial?deadline={deadline}",
            body=b"x",
            token=token,
            content_type="application/octet-stream",
        )
        assert (reply.status, reply.code) == (422, "invalid_field"), reply.body


def _example_path(path: str) -> str:
    values = {"{kind}": "financial", "{seq}": "1"}
    return "/".join(
        values.get(part, "x") if part.startswith("{") else part for part in path.split("/")
    )


async def test_an_empty_body_is_refused_by_the_schema_exactly_when_by_the_server(
    server: Live,
) -> None:
    """Item 6: ``POST /tenders {}`` was valid by the document and refused by the server
    (and 12 other shapes like it). Now for every JSON body: the document refuses ``{}``
    exactly when the server refuses it for its form."""
    document = (await server.get("/api/v1/openapi.json")).json()
    checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            # The document itself is the root, so that its "#/components/..." resolve.
            escaped = path.replace("~", "~0").replace("/", "~1")
            pointer = f"#/paths/{escaped}/{method}/requestBody/content/application~1json/schema"
            schema_says = jsonschema.Draft202012Validator({**document, "$ref": pointer}).is_valid(
                {}
            )
            bidder = operation["operationId"] in _AUCTION_BIDDER + _TENDER_BIDDER
            token = server.token("p-1", "bidder", "x") if bidder else server.officer
            reply = await server.post(_example_path(path), {}, token=token)
            server_says = reply.code not in SHAPE_CODES
            assert schema_says == server_says, (method, path, reply.status, reply.body)
            checked += 1
    assert checked >= 15
    reply = await server.post("/api/v1/tenders", {}, token=server.officer)
    assert (reply.status, reply.code) == (422, "missing_field")


async def test_an_unsupported_method_is_405_with_allow(server: Live) -> None:
    """Item 6: ``TRACE`` answered 405 without ``Allow`` on paths with parameters. Every
    documented path now lists exactly its documented methods."""
    document = (await server.get("/api/v1/openapi.json")).json()
    for path, item in document["paths"].items():
        for method in ("TRACE", "PUT", "DELETE", "PATCH"):
            reply = await server.request(method, _example_path(path), token=server.officer)
            assert (reply.status, reply.code) == (405, "method_not_allowed"), (path, reply.body)
            allowed = {name.strip() for name in reply.headers["allow"].split(",")}
            assert allowed == {name.upper() for name in item}, path


# ------------------------------------------------------------------ the fuzzer


async def test_the_server_does_what_its_openapi_document_says(server: Live, tmp_path: Path) -> None:
    fixtures = await _fixtures(server)
    document = (await server.get("/api/v1/openapi.json")).json()
    operations = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    for phases, stateful in (("examples,coverage,fuzzing", False), ("stateful", True)):
        tokens = _tokens(server, fixtures, operations, stateful=stateful)
        done = run_schemathesis(
            server, _config(fixtures, stateful=stateful), tokens, tmp_path, phases
        )
        report = done.stdout + done.stderr
        print(report[-4000:])  # shown with -s, and by pytest on failure
        assert done.returncode == 0, report[-20_000:]
        assert "passed" in report  # the run tested something


@pytest.mark.parametrize(
    ("authorization", "minted"),
    [
        (None, False),
        ("Bearer ", False),
        ("Bearer MQ.x", False),  # claims decode to the JSON number 1
        ("Bearer WzFd.x", False),  # [1]
        ("Bearer e30.x", False),  # {}
        ("Bearer eyJyb2xlIjoieCJ9.x", True),  # {"role":"x"}
        ("Bearer !!!.x", False),
    ],
)
def test_minted_reads_any_header(authorization: str | None, minted: bool) -> None:
    assert _minted(authorization) is minted
