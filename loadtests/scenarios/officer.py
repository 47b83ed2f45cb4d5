"""The officer's side of the load: its token, the HTTP calls that provision the other
users, and :class:`OfficerUser`, who creates, schedules and invites as a user of its own.

The token: ``GAVEL_OFFICER_TOKEN`` when set, else ``gavel officer add --name locust
--ttl 2h`` run once per Locust process (:func:`officer_token`). That command signs with
the server's key, so it must run where the server runs, with the same ``GAVEL_DATA_DIR``
or ``DATABASE_URL``. Nothing is pasted by hand.

:class:`Officer` is the provisioning client, one per Locust process: every call is an
HTTP request on Locust's own ``HttpSession``, so it appears in the statistics (names
begin with ``officer:``), and a refusal fails the run (:class:`ProvisioningFailed`).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from typing import Any

import gevent.lock
from locust import HttpUser, between, tag, task
from locust.clients import HttpSession
from locust.env import Environment
from urllib3 import PoolManager

__all__ = ["Officer", "OfficerUser", "ProvisioningFailed", "officer_for", "officer_token"]

_S = 1_000_000
#: Connections the provisioning session keeps to the server (callers beyond wait).
_CONNECTIONS = 32
_TOKEN_ENV = "GAVEL_OFFICER_TOKEN"
_token: list[str] = []
_token_lock = gevent.lock.Semaphore()
_officers: dict[int, Officer] = {}


_NONE: frozenset[str] = frozenset()


def _code_of(status: int, text: str) -> str:
    """The problem's ``code`` (``late_start`` for a 422 refusing ``rules.starts_at``)."""
    try:
        problem = json.loads(text)
    except ValueError:
        return str(status)
    if not isinstance(problem, dict):
        return str(status)
    if problem.get("field") == "rules.starts_at":
        return "late_start"
    return str(problem.get("code", status))


class ProvisioningFailed(RuntimeError):
    """The server refused what the officer needed to set a scenario up."""


def officer_token() -> str:
    """This process's officer token (env ``GAVEL_OFFICER_TOKEN`` or ``gavel officer add``).

    The first call may run the command (a second or so); later calls return the same token.
    """
    with _token_lock:
        if not _token:
            given = os.environ.get(_TOKEN_ENV, "").strip()
            if not given:
                command = [sys.executable, "-m", "api.cli", "officer", "add"]
                command += ["--name", "locust", "--ttl", "2h"]
                done = subprocess.run(command, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    raise ProvisioningFailed(
                        f"no {_TOKEN_ENV} and `gavel officer add` failed (run Locust where the "
                        f"server runs, with its GAVEL_DATA_DIR or DATABASE_URL): {done.stderr}"
                    )
                given = done.stdout.strip()
            _token.append(given)
        return _token[0]


def token_party(token: str) -> str:
    """The ``sub`` (party) a Gavel token names: its first part is base64url JSON claims."""
    claims = token.split(".", 1)[0]
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    return str(decoded["sub"])


def now_us() -> int:
    """Wall-clock microseconds: the server's clock on the same machine."""
    return time.time_ns() // 1000


class Officer:
    """Provisioning over HTTP with the officer token; one per process (:func:`officer_for`)."""

    def __init__(self, environment: Environment, host: str, token: str) -> None:
        # Every user of the process provisions through this one session: keep as many
        # connections as its concurrent callers (urllib3 keeps 10 by default, and warns).
        pool = PoolManager(maxsize=_CONNECTIONS, block=True)
        self.session = HttpSession(host, environment.events.request, None, pool_manager=pool)
        self.session.headers["Authorization"] = f"Bearer {token}"
        #: The officer's own party id: a tender's committee must name it.
        self.party = token_party(token)

    def post(
        self, path: str, body: dict[str, Any], name: str, *, tolerate: frozenset[str] = _NONE
    ) -> dict[str, Any] | None:
        """POST ``body``; the answer's JSON, or :class:`ProvisioningFailed` (also a failure
        event named ``officer:<name>``). A refusal whose problem code is in ``tolerate``
        (what a loaded machine brings about: the request reached the server after the
        start it asked for, ``late_start``, or after the auction closed) is ``None``,
        reported as a success named ``officer:<name> (<code>)``."""
        with self.session.post(
            path, json=body, name=f"officer:{name}", catch_response=True
        ) as answer:
            if answer.status_code in (200, 201):
                result: dict[str, Any] = answer.json()
                return result
            code = _code_of(answer.status_code, answer.text)
            if code in tolerate:
                answer.request_meta["name"] = f"officer:{name} ({code})"
                answer.success()
                return None
            answer.failure(f"{answer.status_code} {answer.text[:300]}")
            raise ProvisioningFailed(f"POST {path}: {answer.status_code} {answer.text[:300]}")

    def _post(self, path: str, body: dict[str, Any], name: str) -> dict[str, Any]:
        answer = self.post(path, body, name)
        assert answer is not None  # only a call that tolerates refusals answers None
        return answer

    def create_english(
        self, auction_id: str, *, ends_at: int, soft_close_s: float | None = None
    ) -> None:
        """An English sale in EUR from 100.00 by 1.00 steps, open from half a second after
        now until ``ends_at`` (µs; at least a second after the start); a soft close of
        ``soft_close_s`` window and extension, hard close six windows after ``ends_at``,
        when given. A request that reaches the server after its own start is sent again
        with a later one, half a second later each time (three times at most)."""
        for attempt in range(1, 4):
            starts_at = now_us() + attempt * _S // 2
            # A wave provisioned late (an overloaded machine) still gets a second of bidding.
            end = max(ends_at, starts_at + _S)
            rules: dict[str, Any] = {
                "format": "english",
                "currency": "EUR",
                "starts_at": starts_at,
                "ends_at": end,
                "start_price": "100.00",
                "step": {"amount": "1.00"},
            }
            if soft_close_s:
                window = int(soft_close_s * _S)
                rules["soft_close"] = {
                    "window_us": window,
                    "extension_us": window,
                    "hard_close_at": end + 6 * window,
                }
            body = {"id": auction_id, "rules": rules}
            tolerate = frozenset({"late_start"}) if attempt < 3 else _NONE
            if self.post("/api/v1/auctions", body, "create auction", tolerate=tolerate):
                return

    def register(self, auction_id: str, party: str) -> str | None:
        """Register ``party`` as a bidder of ``auction_id``; its token, or ``None`` when
        the auction closed before the registration reached it."""
        answer = self.post(
            f"/api/v1/auctions/{auction_id}/bidders",
            {"party": party},
            "register bidder",
            tolerate=frozenset({"auction_closed"}),
        )
        return None if answer is None else str(answer["token"])

    def mint(self, role: str, party: str, auction: str) -> str:
        """A ``role`` token for ``party`` bound to ``auction`` (an auction's or a tender's id)."""
        body = {"role": role, "party": party, "auction": auction, "ttl_s": 7200}
        return str(self._post("/api/v1/tokens", body, f"mint {role} token")["token"])

    def create_tender(self, tender_id: str, deadline: int, officer_public: bytes) -> bytes:
        """A one-lot (``L1``) price-only tender whose committee is this officer alone
        (threshold 1, ``officer_public`` its X25519 key), deadline and opening at
        ``deadline`` (µs), published at once; the opening public key envelopes are sealed to."""
        body = {
            "id": tender_id,
            "title": "Locust deadline rush",
            "currency": "EUR",
            "officers": [{"id": self.party, "public_key": officer_public.hex()}],
            "threshold": 1,
            "lots": [{"id": "L1", "title": "L1", "deadline": deadline, "opening_at": deadline}],
            "publication": "committee",
            "follow_up": "award",
        }
        self._post("/api/v1/tenders", body, "create tender")
        published = self._post(f"/api/v1/tenders/{tender_id}/ceremony", {}, "key ceremony")
        return bytes.fromhex(published["opening_public_key"])


def officer_for(environment: Environment, host: str) -> Officer:
    """This process's :class:`Officer` for ``environment`` (made on the first call)."""
    with _token_lock:
        officer = _officers.get(id(environment))
    if officer is None:
        officer = Officer(environment, host, officer_token())
        with _token_lock:
            officer = _officers.setdefault(id(environment), officer)
    return officer


class OfficerUser(HttpUser):
    """An officer at the console: creates and schedules an auction (starting in 5 s,
    ending in 10 min), registers three suppliers and invites one of them (a one-time
    link), then reads its auction and invitations back between its other duties.

    Models the back office working while the bidders bid; each call is a Locust request
    named by what it does. Tag ``officer`` (alone), and part of ``steady``.
    """

    wait_time = between(1, 3)
    weight = 1

    def on_start(self) -> None:
        """Sign in with the officer token; no auction yet."""
        self.client.headers["Authorization"] = f"Bearer {officer_token()}"
        self.auctions: list[str] = []

    @tag("officer", "steady")
    @task(1)
    def create_schedule_and_invite(self) -> None:
        """POST an auction, three bidders and an invitation; list the invitations."""
        auction_id = f"off-{os.getpid()}-{time.time_ns():x}"
        rules = {
            "format": "english",
            "currency": "EUR",
            "starts_at": now_us() + 5 * _S,
            "ends_at": now_us() + 600 * _S,
            "start_price": "100.00",
            "step": {"amount": "1.00"},
        }
        answer = self.client.post(
            "/api/v1/auctions", json={"id": auction_id, "rules": rules}, name="create auction"
        )
        if answer.status_code != 201:
            return
        self.auctions.append(auction_id)
        for n in range(3):
            self.client.post(
                f"/api/v1/auctions/{auction_id}/bidders",
                json={"party": f"s{n}"},
                name="register bidder",
            )
        self.client.post(
            f"/api/v1/auctions/{auction_id}/invitations",
            json={"party": "s0"},
            name="invite bidder",
        )
        self.client.get(f"/api/v1/auctions/{auction_id}/invitations", name="list invitations")

    @tag("officer", "steady")
    @task(3)
    def read_back(self) -> None:
        """GET one of its auctions and its event log."""
        if not self.auctions:
            return
        auction_id = self.auctions[-1]
        self.client.get(f"/api/v1/auctions/{auction_id}", name="get auction")
        self.client.get(f"/api/v1/auctions/{auction_id}/events?after=0", name="get events")
