"""The supplier page's amounts and small polish of issue 14, in a real headless Chromium
against a real server (under its Content-Security-Policy):

- Azerbaijani amounts read the Azerbaijani way in a browser without Azerbaijani locale
  data (Chromium): ``98 500,00 AZN`` (no-break spaces between groups of three, a decimal
  comma, the currency after), the digits those of :func:`engine.money.format_minor`,
  and what is shown reads back to the same amount;
- a refusal's words use the server's ``reject.bound`` (minor units) when it sent one,
  else the bound the page computed from the rules;
- the clock of an ended auction says when it ended in the person's time and zone
  (``Ended at 14:05 (Baku)``), in English and Azerbaijani;
- the first paint, before any script ran, is a spinner named in both languages, with
  no serious accessibility violation (axe-core); screenshots at 390 and 1280 px.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from api.http.vendor_assets import vendored_files
from engine.money import CURRENCIES, format_minor
from tests.browser import CHROMIUM, CHROMIUM_ARGS

if TYPE_CHECKING:
    from tests.api.conftest import Live

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"
I18N = ROOT / "api" / "static" / "app" / "i18n"
NBSP = "\u00a0"
#: Loads money.js, i18n.js and the views' common pieces (with preact) as M, I, V, P.
LOAD = (
    "async () => { window.M = await import('/app/money.js');"
    " window.I = await import('/app/i18n.js');"
    " window.V = await import('/app/view/common.js');"
    " window.P = await import('/vendor/htm@3.1.1/htm-preact.mjs'); return true; }"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _page(browser: Browser, server: Live, locale: str, **options: Any) -> Page:
    context = browser.new_context(locale=locale, timezone_id="Asia/Baku", **options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico")
            else None
        ),
    )
    page.errors = errors  # type: ignore[attr-defined]
    return page


@pytest.fixture
def modules(browser: Browser, server: Live) -> Iterator[Page]:
    """A document of the app's origin (the catalog, as served) with the modules loaded,
    in a browser set to Azerbaijani in Baku."""
    page = _page(browser, server, "az-AZ")
    page.goto(f"http://127.0.0.1:{server.port}/app/i18n/en.json")
    assert page.evaluate(LOAD)
    yield page
    errors = page.errors  # type: ignore[attr-defined]
    page.context.close()
    assert errors == []


def _catalogs() -> dict[str, dict[str, str]]:
    return {lang: json.loads((I18N / f"{lang}.json").read_text("utf-8")) for lang in ("en", "az")}


def azerbaijani(minor: int, currency: str, mark: str | None = None) -> str:
    """What an Azerbaijani reads for ``minor`` units of ``currency``: the engine's own
    digits, groups of three split by no-break spaces, a decimal comma, the currency after."""
    plain = format_minor(minor, currency)
    sign, plain = ("-", plain[1:]) if plain.startswith("-") else ("", plain)
    whole, _, decimals = plain.partition(".")
    grouped = f"{int(whole):,}".replace(",", NBSP)
    number = f"{grouped},{decimals}" if decimals else grouped
    return f"{sign}{number}{NBSP}{mark or currency}"


# ---------------------------------------------------------------------------- money.js


def test_azerbaijani_amounts_are_space_grouped_with_a_decimal_comma(modules: Page) -> None:
    page = modules
    # Chromium has no Azerbaijani number data: Intl would write it the English way.
    assert page.evaluate("() => new Intl.NumberFormat('az').format(1234.5)") != "1.234,5"
    assert page.evaluate("() => M.formatMinor(9850000, 'AZN', 'az')") == f"98{NBSP}500,00{NBSP}AZN"
    symbol = "() => M.formatMinor(9850000, 'AZN', 'az-AZ', {display: 'symbol'})"
    assert page.evaluate(symbol) == f"98{NBSP}500,00{NBSP}₼"
    assert page.evaluate("() => M.formatAmount('98500.005', 'AZN', 'az')") == (
        f"98{NBSP}500,005{NBSP}AZN"  # every digit kept, as in any locale
    )
    # The page hands money.js the Azerbaijani locale; dates keep the Turkish stand-in.
    assert page.evaluate("() => I.moneyLocale('az', ['az-AZ'])") == "az-AZ"
    assert page.evaluate("() => I.moneyLocale('az', ['en-US'])") == "az"
    assert page.evaluate("() => I.moneyLocale('en', ['en-GB'])") == "en-GB"
    assert page.evaluate("() => I.formatLocale('az', ['az-AZ'])") in ("tr", "az-AZ")
    rng = random.Random(14)
    cases = [(0, "AZN"), (1, "AZN"), (-123456789, "EUR"), (10**15, "AZN"), (999, "JPY")]
    for _ in range(200):
        currency = rng.choice(["AZN", "EUR", "JPY", "KWD", "CLF"])
        cases.append((rng.randrange(1, 10 ** rng.randint(1, 16)), currency))
    shown = page.evaluate(
        "(cases) => cases.map(([m, c]) => M.formatMinor(String(m), c, 'az'))", cases
    )
    assert shown == [azerbaijani(minor, currency) for minor, currency in cases]
    # What is shown reads back, in the locales the page reads typing with, to the amount.
    positive = [(minor, currency) for minor, currency in cases if minor > 0]
    read = page.evaluate(
        """(cases) => cases.flatMap(([m, c]) => ['az', I.formatLocale('az', ['az-AZ'])]
            .map((l) => M.parseAmount(M.formatMinor(String(m), c, 'az'), c, l)))""",
        positive,
    )
    expected = [
        {"ok": True, "value": format_minor(minor, currency)}
        for minor, currency in positive
        for _ in range(2)
    ]
    assert read == expected
    assert all(CURRENCIES[currency] >= 0 for _, currency in cases)


# ----------------------------------------------------------------- a refusal in words


def _refused(code: str, bound: dict[str, Any] | None, computed: str | None) -> dict[str, Any]:
    return {
        "status": "refused",
        "code": code,
        "serverBound": bound,
        "bound": computed,
        "minor": "100000",
    }


def _server_bound(kind: str, minor: int, currency: str = "EUR") -> dict[str, Any]:
    amount = format_minor(minor, currency)
    return {"kind": kind, "amount": amount, "amount_minor": minor, "currency": currency}


def test_a_refusal_names_the_servers_bound_else_the_computed_one(modules: Page) -> None:
    page = modules
    catalogs = _catalogs()
    for lang in ("en", "az"):
        page.evaluate("(lang) => I.init({languages: [lang]})", lang)
        assert page.evaluate("() => I.language()") == lang
        words = catalogs[lang]

        def money(minor: int, currency: str = "EUR", lang: str = lang) -> str:
            if lang == "az":
                return azerbaijani(minor, currency)
            plain = format_minor(minor, currency)
            whole, _, decimals = plain.partition(".")
            return f"{currency}{NBSP}{int(whole):,}" + (f".{decimals}" if decimals else "")

        def refused(reason: str, words: dict[str, str] = words) -> str:
            return words["request.refused"].replace("{reason}", words[f"code.{reason}"])

        cases = [
            # The server's bound wins over the page's own (here a stale 1100.00).
            (
                _refused("insufficient_improvement", _server_bound("min", 116000), "110000"),
                refused("insufficient_improvement")
                + " "
                + words["request.would_accept_up"].replace("{amount}", money(116000)),
            ),
            (
                _refused("above_start_price", _server_bound("max", 100000), None),
                refused("above_start_price")
                + " "
                + words["request.would_accept_down"].replace("{amount}", money(100000)),
            ),
            (
                _refused("stale_price", _server_bound("price", 99000), None),
                refused("stale_price")
                + " "
                + words["request.price_now"].replace("{amount}", money(99000)),
            ),
            (
                _refused("below_start_price", _server_bound("min", 5000, "JPY"), None),
                refused("below_start_price")
                + " "
                + words["request.would_accept_up"].replace("{amount}", money(5000, "JPY")),
            ),
            # An older server sends no bound: the page's own, as before.
            (
                _refused("insufficient_improvement", None, "110000"),
                refused("insufficient_improvement")
                + " "
                + words["request.would_accept_up"].replace("{amount}", money(110000)),
            ),
            (_refused("auction_closed", None, None), refused("auction_closed")),
        ]
        got = page.evaluate(
            "(cases) => cases.map((r) => V.requestText(r, 'EUR'))", [r for r, _ in cases]
        )
        assert got == [text for _, text in cases]


# --------------------------------------------------------------------------- the clock

CLOCK = """([state, lang]) => I.setLanguage(lang).then(() => {
    const div = document.createElement('div');
    document.body.replaceChildren(div);
    const clock = {untilUs: () => 0};
    P.render(P.html`<${V.Clock} state=${state} clock=${clock} />`, div);
    return {text: div.querySelector('#clock').textContent.trim(),
            headings: div.querySelectorAll('h2').length,
            role: div.querySelector('#clock').getAttribute('role')};
})"""


def test_the_clock_of_an_ended_auction_says_when_it_ended_in_local_time(
    browser: Browser, server: Live
) -> None:
    page = _page(browser, server, "en-GB")
    page.goto(f"http://127.0.0.1:{server.port}/app/i18n/en.json")
    assert page.evaluate(LOAD)
    catalogs = _catalogs()
    ended_at = int(datetime(2026, 12, 7, 10, 5, 30, tzinfo=UTC).timestamp()) * 1_000_000
    local = datetime.fromtimestamp(ended_at / 1_000_000, ZoneInfo("Asia/Baku"))
    assert local.strftime("%H:%M") == "14:05"
    base = {"phase": "ended", "format": "english", "rules": None, "extension": None}
    english = {**base, "endsAt": ended_at - 60_000_000, "result": {"endedAt": ended_at}}
    got = page.evaluate(CLOCK, [english, "en"])
    assert got == {"text": "Ended at 14:05 (Baku)", "headings": 0, "role": None}
    got = page.evaluate(CLOCK, [english, "az"])
    expected = catalogs["az"]["ui.ended_at"].replace("{time}", "14:05").replace("{zone}", "Baku")
    assert got["text"] == expected
    # A Dutch auction has no scheduled end: the time it ended is the AuctionEnded's.
    dutch = {**base, "format": "dutch", "endsAt": None, "result": {"endedAt": ended_at}}
    assert page.evaluate(CLOCK, [dutch, "en"])["text"] == "Ended at 14:05 (Baku)"
    # Nothing known of when: it says it ended.
    unknown = {**base, "endsAt": None, "result": None}
    assert page.evaluate(CLOCK, [unknown, "en"])["text"] == catalogs["en"]["phase.ended"]
    errors = page.errors  # type: ignore[attr-defined]
    page.context.close()
    assert errors == []


# ---------------------------------------------------------------------- the first paint


@pytest.mark.parametrize("width", [390, 1280])
def test_the_first_paint_is_a_spinner_named_in_both_languages(
    browser: Browser, server: Live, width: int
) -> None:
    page = _page(browser, server, "az-AZ", viewport={"width": width, "height": 800})
    # The page as it is before its script runs (the script held back).
    page.route("**/app/app.js", lambda route: route.abort())
    page.on("console", lambda m: None)
    page.goto(f"http://127.0.0.1:{server.port}/app/")
    spinner = page.locator("#app .spinner")
    assert spinner.is_visible()
    box = spinner.bounding_box()
    assert box is not None and box["width"] >= 40 and box["x"] > 0  # turning: a wider box
    names = page.eval_on_selector_all(
        "#app [lang]", "(spans) => spans.map((s) => [s.lang, s.textContent])"
    )
    assert names == [["en", "Loading…"], ["az", "Yüklənir…"]]
    assert page.get_attribute("#app [role=status]", "role") == "status"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"first-paint-{width}.png"))
    [axe] = [p for p in vendored_files() if p.endswith("/axe.min.js")]
    page.add_script_tag(url=f"/vendor/{axe}")
    serious = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id)"""
    )
    assert serious == []
    page.context.close()


def test_the_spinner_gives_way_to_the_page(browser: Browser, server: Live) -> None:
    page = _page(browser, server, "en-US")
    page.goto(f"http://127.0.0.1:{server.port}/app/")
    page.wait_for_selector("#app[data-ready='yes']")
    assert page.locator("#app .spinner").count() == 0
    errors = page.errors  # type: ignore[attr-defined]
    page.context.close()
    assert errors == []


def test_the_bid_forms_prefill_is_written_as_the_amounts_are(modules: Page) -> None:
    """In Azerbaijani the least valid bid is pre-filled as money() shows amounts, without
    the currency, and the page's parser (the date stand-in's locale) reads it back."""
    page = modules
    page.evaluate("() => I.init({languages: ['az']})")
    cases = [("98500.00", "AZN"), ("4.318", "KWD"), ("1000000.125", "KWD"), ("5000", "JPY")]
    shown = page.evaluate(
        "(cases) => cases.map(([p, c]) => V.formatInput(p, c, I.formatLocale()))", cases
    )
    assert shown == [f"98{NBSP}500,00", "4,318", f"1{NBSP}000{NBSP}000,125", f"5{NBSP}000"]
    read = page.evaluate(
        """(cases) => cases.map(([p, c]) =>
            M.parseAmount(V.formatInput(p, c, I.formatLocale()), c, I.formatLocale()))""",
        cases,
    )
    assert read == [{"ok": True, "value": plain} for plain, _ in cases]
    page.evaluate("() => I.setLanguage('en')")
    assert page.evaluate("() => V.formatInput('98500.00', 'AZN', 'en-US')") == "98,500.00"
