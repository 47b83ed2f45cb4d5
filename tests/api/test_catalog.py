"""The message catalog of the supplier's pages (``api/static/app/i18n/{en,az}.json``):
every machine code a page can meet has a plain sentence in both languages, and the two
languages say the same things (the same keys, the same placeholders).

What a page can meet, gathered from where each is defined, not from a list kept here:

- every engine reason (:class:`engine.reasons.Reason`) and every problem code
  (:class:`contracts.codes.Code`): ``code.<value>``;
- every code of a websocket ``error`` or ``reject`` frame: those the protocol documents
  (``docs/protocol.md``, "Error frames") and every string literal the server passes as
  one (``ErrorMessage(code, ...)``, ``MessageError(code, ...)``, ``Reject(id, code, ...)``
  anywhere in ``api/`` and ``contracts/``): ``code.<value>``;
- every websocket close code: the ``CLOSE_*`` constants of :mod:`contracts.messages`,
  the rows of the protocol's close-code table, and the two a browser reports by itself
  (1000 normal, 1006 lost): ``close.<number>``;
- every auction format (:data:`contracts.rules_json.FORMATS`) and phase
  (:class:`engine.phases.Phase`), and the connection states the issue names.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from contracts import messages
from contracts.codes import Code
from contracts.rules_json import FORMATS
from engine.phases import Phase
from engine.reasons import Reason

ROOT = Path(__file__).resolve().parents[2]
I18N = ROOT / "api" / "static" / "app" / "i18n"
LANGUAGES = ("en", "az")
PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+)\}")
#: The connection and request states of issue 14 (live, reconnecting, offline, not confirmed).
STATES = (
    "connection.connecting",
    "connection.live",
    "connection.reconnecting",
    "connection.offline",
    "request.sending",
    "request.confirmed",
    "request.refused",
    "request.not_confirmed",
)
#: Close codes a browser's CloseEvent reports without the server sending them.
BROWSER_CLOSES = (1000, 1006)


def _no_twins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names)), f"a key appears twice: {names}"
    return dict(pairs)


def load(lang: str) -> dict[str, str]:
    """The catalog of ``lang``, refusing a key given twice (JSON would keep the last)."""
    data = json.loads((I18N / f"{lang}.json").read_text("utf-8"), object_pairs_hook=_no_twins)
    assert isinstance(data, dict)
    return data


def documented_error_codes() -> set[str]:
    """The codes of the protocol document's "Error frames" table."""
    text = (ROOT / "docs" / "protocol.md").read_text("utf-8")
    section = text.split("## Error frames", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE))


def documented_close_codes() -> set[int]:
    """The websocket close codes of the protocol document's close-code table."""
    text = (ROOT / "docs" / "protocol.md").read_text("utf-8")
    section = text.split("## Close codes", 1)[1].split("\n## ", 1)[0]
    return {int(code) for code in re.findall(r"^\| (\d{4}) \|", section, re.MULTILINE)}


#: Where a frame's code sits among a constructor's positional arguments.
_CODE_ARGUMENT = {"ErrorMessage": 0, "MessageError": 0, "Reject": 1}


def sent_codes() -> set[str]:
    """Every string literal the server's code passes as an error or reject frame's code."""
    found: set[str] = set()
    for path in [*(ROOT / "api").rglob("*.py"), *(ROOT / "contracts").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            at = _CODE_ARGUMENT.get(name)
            if at is None or len(node.args) <= at:
                continue
            argument = node.args[at]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                found.add(argument.value)
    return found


def close_codes() -> set[int]:
    constants = {getattr(messages, name) for name in messages.__all__ if name.startswith("CLOSE_")}
    return constants | documented_close_codes() | set(BROWSER_CLOSES)


def required_keys() -> set[str]:
    codes = {*Reason, *Code, *documented_error_codes(), *sent_codes()}
    return {
        *(f"code.{code}" for code in codes),
        "code.unknown",
        *(f"close.{code}" for code in close_codes()),
        "close.unknown",
        *(f"format.{name}" for name in FORMATS),
        *(f"phase.{phase}" for phase in Phase),
        *STATES,
    }


def test_the_sources_of_codes_are_read() -> None:
    """The gatherers find what they are meant to (so an empty list cannot pass)."""
    assert {"bad_json", "binary_frame", "already_subscribed"} <= documented_error_codes()
    assert {"binary_frame", "already_subscribed", "bad_message", "forbidden"} <= sent_codes()
    assert {1001, 1007, 1009, 1013, 4400, 4401, 4403, 4408} <= close_codes()
    # Engine reasons and problem codes never overlap, so one "code." namespace holds both.
    assert not {r.value for r in Reason} & {c.value for c in Code}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_code_a_page_can_meet_has_a_sentence(lang: str) -> None:
    missing = sorted(required_keys() - set(load(lang)))
    assert missing == [], f"{lang}.json lacks {missing}"


def test_both_languages_have_the_same_keys_in_the_same_order() -> None:
    en, az = load("en"), load("az")
    assert sorted(set(en) ^ set(az)) == []
    assert list(en) == list(az)  # one order: a reviewer reads the two side by side


def test_placeholders_are_the_same_in_both_languages() -> None:
    en, az = load("en"), load("az")
    differ = {
        key: (sorted(PLACEHOLDER.findall(en[key])), sorted(PLACEHOLDER.findall(az[key])))
        for key in en
        if set(PLACEHOLDER.findall(en[key])) != set(PLACEHOLDER.findall(az.get(key, "")))
    }
    assert differ == {}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_entry_is_plain_text(lang: str) -> None:
    """Non-empty strings, trimmed; braces only in ``{name}`` placeholders; no markup."""
    for key, text in load(lang).items():
        assert re.fullmatch(r"[a-z]+\.[a-z0-9_]+", key), key
        assert isinstance(text, str) and text.strip() == text and text, key
        assert "{" not in PLACEHOLDER.sub("", text) and "}" not in PLACEHOLDER.sub("", text), key
        assert "<" not in text and ">" not in text, key


def test_azerbaijani_is_azerbaijani_in_latin_script() -> None:
    """No Cyrillic, and not English left untranslated: nearly every sentence differs
    from the English one and most use letters only Azerbaijani has."""
    en, az = load("en"), load("az")
    assert not [key for key, text in az.items() if re.search("[\u0400-\u04ff]", text)]
    same = [key for key in az if az[key] == en[key]]
    # The product's name, and the two procurement words Azerbaijani takes as they are
    # ("tender", "lot": the words of the public procurement law and its portal; "audit",
    # "auditor": the words of the Chamber of Accounts).
    words = ["ui.app_name", "mine.tender", "nav.tender_title", "tender.lot"]
    words += ["staff.nav_audit", "staff.role_auditor"]
    assert sorted(same) == sorted(words), same
    special = [key for key, text in az.items() if re.search("[əğıöüşçİƏĞÖÜŞÇ]", text)]
    assert len(special) > 0.8 * len(az)
