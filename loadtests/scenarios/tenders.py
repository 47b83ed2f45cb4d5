"""The sealed-tender deadline rush: suppliers uploading envelopes in the last minute.

:class:`TenderSupplier` (tag ``tender-rush``) models it: waves of ``--gavel-tenders``
tenders (one lot each, a committee of the Locust officer alone) whose deadline falls
``--gavel-close-in`` seconds apart. Each supplier takes a tender of the next wave, gets a
bidder's token bound to it (the officer mints it), seals a price offer to the tender's
opening key on its own side (:mod:`contracts.sealing`: HPKE, as the supplier's browser
and ``gavel tender seal`` do; no asyncio) and uploads it in the last ``--gavel-rush``
seconds before the deadline, most of them in the very last ones (the moment is skewed
to the end); one in three replaces its envelope once more before the deadline.

Each upload is an HTTP request named ``envelope`` (201 with a signed receipt). An upload
the server refuses because the deadline passed meanwhile is not an error of the server:
it is a success named ``refused:<code>``; any other refusal is a failure.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import random

import gevent
from locust import HttpUser, between, tag, task

from contracts import sealing
from loadtests.scenarios.officer import now_us
from loadtests.scenarios.options import options_of
from loadtests.scenarios.pools import Tender, pools_for

__all__ = ["TenderSupplier", "seal_offer"]

_S = 1_000_000
_numbers = itertools.count()
#: The refusals that mean "too late", which a deadline rush is bound to meet.
_LATE = frozenset({"submission_closed"})


def seal_offer(tender: Tender, supplier: str, amount_minor: int) -> bytes:
    """A financial envelope of ``amount_minor`` EUR sealed for ``supplier`` in lot ``L1``
    of ``tender`` (bound to its deadline); O(envelope)."""
    info = sealing.envelope_info(tender.id, "L1", "financial", supplier, tender.deadline)
    offer = sealing.encode_offer(sealing.Offer(amount_minor=amount_minor, currency="EUR"))
    return sealing.seal(tender.public_key, info, offer)


class TenderSupplier(HttpUser):
    """One supplier per tender of each wave it joins (module docstring)."""

    wait_time = between(0, 0.1)

    def on_start(self) -> None:
        """Find the pools (the first user provisions the first wave)."""
        self.number = next(_numbers)
        self.rng = random.Random()
        self.options = options_of(self.environment)
        self.pools = pools_for(self.environment, self.host or "")

    @tag("tender-rush")
    @task
    def one_deadline(self) -> None:
        """Seal and upload to a tender of the next wave just before its deadline."""
        wave = self.pools.tender_wave(self.pools.wave_index())
        tenders = [t for t in wave if t.deadline > now_us() + _S]
        if not tenders:
            gevent.sleep(0.2)
            return
        tender = tenders[self.number % len(tenders)]
        supplier = self.pools.party("s")
        token = self.pools.officer.mint("bidder", supplier, tender.id)
        uploads = 2 if self.rng.random() < 1 / 3 else 1
        rush_us = int(self.options.rush * _S)
        # Skewed to the end: most uploads land in the last seconds.
        moments = sorted(
            tender.deadline - int(rush_us * self.rng.random() ** 3) for _ in range(uploads)
        )
        for moment in moments:
            gevent.sleep(max(0.0, (moment - now_us()) / _S))
            self.upload(tender, supplier, token)
        gevent.sleep(max(0.0, (tender.deadline - now_us()) / _S))

    def upload(self, tender: Tender, supplier: str, token: str) -> None:
        """POST one sealed envelope; 201 is ``envelope``, a late refusal ``refused:<code>``."""
        amount = 1_000_00 + self.rng.randrange(100_000)
        ciphertext = seal_offer(tender, supplier, amount)
        body = {"kind": "financial", "ciphertext": base64.b64encode(ciphertext).decode()}
        with self.client.post(
            f"/api/v1/tenders/{tender.id}/lots/L1/envelopes",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            name="envelope",
            catch_response=True,
        ) as answer:
            if answer.status_code == 201:
                answer.success()
                return
            code = ""
            with contextlib.suppress(ValueError):
                code = str(answer.json().get("code", ""))
            if code in _LATE:
                answer.request_meta["name"] = f"refused:{code}"
                answer.success()
            else:
                answer.failure(f"{answer.status_code} {code}: {answer.text[:200]}")
