"""``api/static/app/staff/audit/verify_bundle.js`` in real headless Chromium, loaded from a
real server under its Content-Security-Policy, against the Python verifier
(:func:`api.audit.bundle.verify`, what ``gavel audit verify`` runs) on the same bundles.

Every tampering of ``tests/api/audit/test_bundle.py`` (and the ones its other tests make:
a version-1 bundle edited, leaf hashes rewritten, a re-signed edit under the old manifest,
a pinned key the bundle lacks) gets the same verdict in the page as from the CLI: ok, or
the same step, reason, event seq and checkpoint number. The one documented difference:
what only the engine's replay refuses (a close re-signed by the key's holder that the
engine would decide otherwise) passes the page, which says the engine's replay is the
CLI's. The page's inclusion path of every event equals :class:`MerkleLog`'s and verifies
against the signed root; a flipped hash does not. The page's event types and its wire form
of the rules agree with the Python ones.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import typing
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.async_api import Browser, Page

from api.audit.bundle import BundleInvalid, verify
from api.audit.cli import _pinned
from bidders_sim.scripted import scenarios
from contracts.checkpoint import verifier_key
from contracts.rules_json import rules_from_json, rules_to_json
from contracts.transparency import MerkleLog, leaf_hash
from engine import AuctionEnded, Event
from engine.codec import to_data
from engine.money import CURRENCIES
from engine.tender_records import TenderEvent
from tests.api.audit.test_bundle import (
    BID,
    EVENTS,
    KEY,
    NAME,
    TAMPERINGS,
    TENDER_TAMPERINGS,
    N,
    _edit,
    bundle_of,
    checkpoints,
    tender_bundle,
    version_1,
)
from tests.api.conftest import Live
from tests.browser import watch_errors

pytestmark = pytest.mark.asyncio(loop_scope="module")

I18N = Path(__file__).resolve().parents[3] / "api" / "static" / "app" / "i18n"

LOAD = "async () => { window.B = await import('/app/staff/audit/verify_bundle.js'); return true; }"
VERIFY = """async ([bundle, pinned]) => {
  const a = await B.verifyBundle(bundle, { pinned });
  const f = a.failure;
  return { ok: a.ok, step: f?.step ?? null, code: f?.code ?? null,
           seq: f?.params?.seq ?? null, checkpoint: f?.params?.checkpoint ?? null,
           steps: a.steps.map((s) => [s.step, s.status]) };
}"""

#: The CLI's messages, first match wins: (step, code, pattern). ``seq`` is read from
#: "event N" / "event seq N" / "at seq N", ``checkpoint`` from "checkpoint N".
CLI_MESSAGES: list[tuple[str, str, str]] = [
    ("signatures", "format", r"^not a gavel-audit-bundle"),
    ("signatures", "stream", r"^the bundle's stream is not \{"),
    ("signatures", "not_a_list", r"^the bundle's '\w+' is not a list"),
    ("signatures", "no_origin", r"names no origin"),
    ("signatures", "key_fields", r"^key \d+ \(.*\) (has fields|lacks)"),
    ("signatures", "key_invalid", r"^key '.*': "),
    ("signatures", "no_key", r"holds no public key"),
    ("signatures", "key_not_pinned", r"is not signed by the pinned key"),
    ("signatures", "checkpoint_bad_signature", r"^checkpoint \d+ \(size \S+\): the signature"),
    ("signatures", "checkpoint_unsigned", r"^checkpoint \d+ \(size \S+\): no signature by"),
    ("signatures", "checkpoint_other_log", r"^checkpoint \d+ \(size \d+\) is for "),
    ("tree", "root_mismatch", r"^checkpoint \d+ \(size \d+\): its root"),
    ("signatures", "checkpoint_malformed", r"^checkpoint \d+ \(size \S+\): "),
    ("signatures", "no_checkpoint", r"holds no checkpoint"),
    ("signatures", "origin_malformed", r"^the checkpoints' origin"),
    ("signatures", "stream_not_signed", r"^the bundle's stream is .* but its checkpoints sign"),
    ("signatures", "fields", r"^the gavel-audit-bundle/\d bundle (has fields|lacks)"),
    ("signatures", "envelope_invalid", r"^envelope \d+ of the bundle"),
    ("result", "envelope_not_received", r"^the bundle's envelope of seq \d+"),
    ("events", "not_canonical", r"^event \d+: not a canonical"),
    ("events", "seq_order", r"^event \d+: has seq"),
    ("events", "not_signed", r"^event seq \d+ \(\w+\) does not match the signed log"),
    ("events", "not_in_signed_log", r"^event seq \d+ \(\w+\) is not in the signed log"),
    ("events", "envelope_unknown", r"^event \d+ \(seq \d+, \w+\): .* was not received"),
    ("events", "envelope_missing", r"^event \d+ \(seq \d+, \w+\): the bundle holds no ciphertext"),
    ("events", "envelope_commitment", r"^event \d+ \(seq \d+, \w+\): SHA-256 of the ciphertext"),
    ("events", "envelope_claim", r"^event \d+ \(seq \d+, \w+\): says the stored ciphertext"),
    ("engine", "engine", r"the engine (refuses|closes)|breaks an invariant|deadline|ranks|awards"),
    ("tree", "missing_events", r"^checkpoint \d+ \(size \d+\) covers more events"),
    ("tree", "unsigned_tail", r"^the last checkpoint covers"),
    ("result", "rules", r"^the bundle's rules are not"),
    ("result", "result", r"^the bundle's stated result"),
    ("manifest", "manifest_not_object", r"^the bundle's manifest is not an object"),
    ("manifest", "manifest_fields", r"^the manifest (has fields|lacks)"),
    ("manifest", "manifest_count", r"^the manifest counts"),
    ("manifest", "manifest_sha256", r"^the manifest's events_sha256"),
    ("manifest", "manifest_root", r"^the manifest's root"),
    ("manifest", "manifest_leaf_format", r"^the manifest's leaf_hashes is not the base64"),
    ("manifest", "manifest_leaf_count", r"^the manifest's leaf_hashes hold"),
    ("manifest", "manifest_leaf_differs", r"^the manifest's leaf_hashes differ"),
    ("manifest", "manifest_exported_at", r"^the manifest's exported_at"),
]


def _number(pattern: str, text: str) -> int | None:
    found = re.search(pattern, text)
    return int(found.group(1)) if found else None


def cli_verdict(bundle: dict[str, Any], pinned: str | None = None) -> dict[str, Any]:
    """What ``gavel audit verify [--key pinned]`` says of ``bundle``, as the page's fields."""
    bundle = copy.deepcopy(bundle)
    try:
        if pinned is not None:
            _pinned(bundle, pinned, out=None)  # type: ignore[arg-type]
        verify(bundle)
    except BundleInvalid as error:
        text = str(error)
        for step, code, pattern in CLI_MESSAGES:
            if re.search(pattern, text):
                seq = _number(r"^event (?:seq )?(\d+)", text) or _number(r"at seq (\d+)$", text)
                checkpoint = _number(r"^checkpoint (\d+)", text)
                if code in ("missing_events", "not_signed"):
                    checkpoint = _number(r"checkpoint (\d+) \(size", text)
                if code == "envelope_not_received":
                    seq = _number(r"envelope of seq (\d+)", text)
                if code == "result":
                    seq = _number(r"result in event (\d+)", text)
                found = {"step": step, "code": code, "seq": seq, "checkpoint": checkpoint}
                return {"ok": False, **found}
        raise AssertionError(f"a CLI message this test does not know: {text}") from None
    return {"ok": True, "step": None, "code": None, "seq": None, "checkpoint": None}


@pytest.fixture(scope="module")
def server(start_server: Callable[..., Live]) -> Live:
    return start_server()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def page(server: Live, chromium: Browser) -> AsyncIterator[Page]:
    context = await chromium.new_context(locale="en-US")
    page = await context.new_page()
    errors = watch_errors(page)
    # A document of the app's origin, under the app's CSP: the catalog, as served.
    await page.goto(f"http://127.0.0.1:{server.port}/app/i18n/en.json")
    assert await page.evaluate(LOAD)
    yield page
    await context.close()
    assert errors == []


async def page_verdict(page: Page, bundle: dict[str, Any], pinned: str | None = None) -> Any:
    return await page.evaluate(VERIFY, [bundle, pinned])


def _same(page_says: dict[str, Any], cli_says: dict[str, Any]) -> None:
    mine = {k: page_says[k] for k in cli_says}
    assert mine == cli_says, (mine, cli_says)


def _rewritten_leaves(bundle: dict[str, Any]) -> None:
    _edit(bundle, BID, price=999_999)
    leaves = b"".join(leaf_hash(text.encode()) for text in bundle["events"])
    bundle["manifest"]["leaf_hashes"] = base64.b64encode(leaves).decode()


def _re_signed_edit(bundle: dict[str, Any]) -> None:
    _edit(bundle, BID, price=999_999)
    bundle["checkpoints"] = checkpoints([t.encode() for t in bundle["events"]], [3, 6, N])


def _version_1_edit(bundle: dict[str, Any]) -> None:
    version_1(bundle)
    _edit(bundle, BID, price=999_999)


EXTRA: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
    ("untouched", lambda b: None),
    ("version-1", version_1),
    ("version-1-edited", _version_1_edit),
    ("leaf-hashes-rewritten", _rewritten_leaves),
    ("re-signed-edit-old-manifest", _re_signed_edit),
    ("earlier-checkpoint-removed", lambda b: b["checkpoints"].pop(0)),
    ("close-edited-to-a-time-the-engine-refuses", lambda b: _edit(b, N, at=0)),
]


async def test_every_tampering_gets_the_verdict_the_cli_gives(page: Page) -> None:
    cases = [(name, change) for name, change, _ in TAMPERINGS] + EXTRA
    codes = await page.evaluate("() => B.CODES")
    for name, change in cases:
        bundle = bundle_of(EVENTS)
        change(bundle)
        cli = cli_verdict(bundle)
        assert cli["code"] is None or cli["code"] in codes[cli["step"]], (name, cli)
        said = await page_verdict(page, bundle)
        assert {k: said[k] for k in cli} == cli, (name, said, cli)
        steps = dict(said["steps"])
        if cli["ok"]:
            assert set(steps.values()) == {"ok", "not_checked"}, (name, steps)
        else:
            assert steps[cli["step"]] == "failed", (name, steps)
            assert list(steps.values()).count("failed") == 1, (name, steps)


async def test_a_tender_bundle_and_its_tamperings_get_the_cli_verdict(page: Page) -> None:
    """A tender's bundle: the same steps; its spec, decisions and stored envelopes checked
    against the log (each envelope's ciphertext against its receipt's commitment)."""
    cases = [(name, change) for name, change, _ in TENDER_TAMPERINGS] + [
        ("ciphertext-edited", lambda b: b["envelopes"][1].update(ciphertext="AAAA")),
        ("ciphertext-removed", lambda b: b["envelopes"].pop(0)),
    ]
    for name, change in [("untouched", lambda b: None), *cases]:
        bundle = tender_bundle()
        change(bundle)
        cli = cli_verdict(bundle)
        said = await page_verdict(page, bundle)
        assert {k: said[k] for k in cli} == cli, (name, said, cli)


async def test_a_pinned_key_is_required_as_the_cli_requires_it(page: Page) -> None:
    bundle = bundle_of(EVENTS)
    ours = verifier_key(NAME, KEY.public_key())
    other = verifier_key(NAME, Ed25519PrivateKey.generate().public_key())
    for pinned, ok in ((ours, True), (other, False)):
        cli = cli_verdict(bundle, pinned)
        assert cli["ok"] is ok
        _same(await page_verdict(page, bundle, pinned), cli)


async def test_what_only_the_engine_refuses_passes_the_page_and_it_says_so(page: Page) -> None:
    """The key's holder rewrites the close and re-signs: every signature, hash and root
    holds; only the engine's re-decision (the CLI's) refuses it. The page does not claim
    to have replayed: its engine step is ``not_checked``."""
    events: list[Event] = list(EVENTS)
    ended = events[-1]
    assert isinstance(ended, AuctionEnded)
    events[-1] = replace(ended, winners=("bob",))
    bundle = bundle_of(events)
    assert cli_verdict(bundle)["code"] == "engine"
    said = await page_verdict(page, bundle)
    assert said["ok"] is True
    assert dict(said["steps"])["engine"] == "not_checked"


async def test_inclusion_proofs_of_every_event_agree_with_python(page: Page) -> None:
    bundle = bundle_of(EVENTS)
    log = MerkleLog(text.encode() for text in bundle["events"])
    proofs = await page.evaluate(
        """async (bundle) => {
          const a = await B.verifyBundle(bundle);
          const out = [];
          for (let seq = 1; seq <= a.signed.size; seq++) out.push(await B.inclusionProof(a, seq));
          const good = out[2];
          const bad = [...good.path];
          bad[0] = (bad[0][0] === '0' ? '1' : '0') + bad[0].slice(1);
          out.push(await B.inclusionProof(a, 3, bad));
          out.push(await B.inclusionProof(a, 3, good.path));
          out.push(await B.inclusionProof(a, 0));
          return out;
        }""",
        bundle,
    )
    for seq, proof in enumerate(proofs[:N], 1):
        assert proof["ok"] is True and proof["size"] == N
        assert proof["path"] == [h.hex() for h in log.inclusion_proof(seq - 1, N)]
        assert proof["leaf"] == leaf_hash(bundle["events"][seq - 1].encode()).hex()
        assert proof["root"] == log.root().hex()
    assert [p["ok"] for p in proofs[N:]] == [False, True, False]


def _some_rules() -> list[Any]:
    """Rules of every format: the simulated bidders' scenarios, the examples of
    docs/formats.md, and the first scenario's in every currency the engine knows."""
    found = [scenario.rules for scenario in scenarios()]
    doc = (I18N.parents[3] / "docs" / "formats.md").read_text(encoding="utf-8")
    for block in re.findall(r"^```(?:gavel|json)\n(.*?)^```", doc, re.M | re.S):
        lines = block.splitlines()
        end = next((i for i, line in enumerate(lines) if not line.startswith((" ", "{"))), None)
        try:
            found.append(rules_from_json(json.loads("\n".join(lines[:end]))))
        except ValueError:
            continue  # not a rules object
    return found + [replace(found[0], currency=code) for code in CURRENCIES]


async def test_event_types_and_the_rules_wire_form_are_the_pythons(page: Page) -> None:
    types = await page.evaluate("() => B.EVENT_TYPES")
    assert types["auction"] == sorted(c.__name__ for c in typing.get_args(Event))
    assert types["tender"] == sorted(c.__name__ for c in typing.get_args(TenderEvent))
    pairs = [[json.loads(json.dumps(to_data(r))), rules_to_json(r)] for r in _some_rules()]
    assert len(pairs) > 10
    got = await page.evaluate("(pairs) => pairs.map(([data]) => B.rulesToJson(data))", pairs)
    for (data, wire), mine in zip(pairs, got, strict=True):
        assert mine == wire, data


async def test_every_word_the_panel_can_show_is_in_both_catalogs(page: Page) -> None:
    """Each step, status, failure and event type the module can name has its sentence."""
    codes = await page.evaluate("() => B.CODES")
    steps = await page.evaluate("() => B.STEPS")
    types = await page.evaluate("() => B.EVENT_TYPES")
    wanted = {f"bundle.fail_{code}" for found in codes.values() for code in found}
    wanted |= {f"bundle.step_{step}" for step in steps}
    statuses = ("waiting", "running", "ok", "failed", "not_checked")
    wanted |= {f"bundle.status_{status}" for status in statuses}
    snake = re.compile(r"(?<!^)(?=[A-Z])")
    wanted |= {
        f"bundle.event_{snake.sub('_', name).lower()}" for kind in types.values() for name in kind
    }
    for lang in ("en", "az"):
        catalog = json.loads((I18N / f"{lang}.json").read_text("utf-8"))
        assert wanted <= set(catalog), (lang, sorted(wanted - set(catalog)))
