"""The supplier app's ES modules (``api/static/app/{i18n,money,time}.js``) in a real
headless Chromium, loaded from a real server under its Content-Security-Policy, each
checked against Python over many cases:

- money.js: its currency table is :data:`engine.money.CURRENCIES`; minor units render
  as :func:`engine.money.format_minor` does; every amount it reads from what a person
  typed is accepted by :func:`contracts.decimal.parse_plain` and is the amount meant
  (the engine's minor units); what it formats in a locale it reads back in that locale,
  to the engine's own string; ambiguous and over-precise input is refused with a catalog
  key (and random typing never yields a digit it did not type);
- time.js: times in a zone are Python's :mod:`zoneinfo` times; countdowns round up;
  the server clock follows frames, not the browser's clock;
- i18n.js: the language from the browser's languages, the switch kept across a reload,
  placeholders filled, every code in plain words;
- contract.js: the page's validator says what ``jsonschema`` says of every value against
  the served schemas (valid ones and every kind of mutation), and what
  :func:`contracts.messages.from_json` says of every client message; messages built in
  the page parse in Python, frames written by Python read in the page.

Chromium comes from Debian (``/usr/bin/chromium``), driven by Playwright, as in
``test_seal_browser.py``.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from jsonschema import Draft202012Validator
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from api.http.app_assets import http_schema, messages_schema
from contracts import messages as m
from contracts.decimal import PATTERN, parse_plain
from contracts.messages import CLIENT_MESSAGES, MessageError, from_json
from engine import commands as c
from engine.auction import Auction
from engine.codec import from_data, to_data
from engine.formats.base import StepRule
from engine.formats.open_cry import OpenCry
from engine.money import CURRENCIES, format_minor, to_minor
from engine.reasons import Reason
from engine.rules import Improvement, ReverseRules, Step
from engine.scoring import Score, Scoring, max_price_for_score, min_price_for_score, score_of
from tests.browser import CHROMIUM, CHROMIUM_ARGS

if TYPE_CHECKING:
    from tests.api.conftest import Live

I18N = Path(__file__).resolve().parents[3] / "api" / "static" / "app" / "i18n"
LIMIT = 10**40
#: Loads the modules into the page as window.M, window.T, window.I and window.C.
LOAD = (
    "async () => { window.M = await import('/app/money.js');"
    " window.T = await import('/app/time.js'); window.I = await import('/app/i18n.js');"
    " window.C = await import('/app/contract.js'); return true; }"
)
#: Locales whose numbers use ASCII digits, across the ways of grouping and of marking
#: decimals: 1,234.5 / 1.234,5 / 1 234,5 (no-break spaces) / 1'234.5 / 12,34,567.5.
LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "ru-RU", "tr-TR", "de-CH", "en-IN", "ja-JP", "az")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _open(context: BrowserContext, server: Live) -> Page:
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
    # A document of the app's origin, under the app's CSP: the catalog, as served.
    page.goto(f"http://127.0.0.1:{server.port}/app/i18n/en.json")
    assert page.evaluate(LOAD)
    page.errors = errors  # type: ignore[attr-defined]
    return page


@pytest.fixture
def page(browser: Browser, server: Live) -> Iterator[Page]:
    context = browser.new_context(locale="en-US", timezone_id="Asia/Baku")
    page = _open(context, server)
    yield page
    errors = page.errors  # type: ignore[attr-defined]
    context.close()
    assert errors == []


# ------------------------------------------------------------------------------ money.js


def test_the_currency_table_and_the_grammar_are_the_engines(page: Page) -> None:
    assert page.evaluate("() => ({...M.CURRENCIES})") == CURRENCIES
    assert page.evaluate("() => M.PLAIN_DECIMAL.source") == f"^{PATTERN}$"
    assert page.evaluate("() => M.MAX_LENGTH") == 64
    assert page.evaluate("() => { try { M.exponent('XXX'); } catch (e) { return e.name; } }") == (
        "RangeError"
    )


def _catalogs() -> dict[str, dict[str, str]]:
    return {lang: json.loads((I18N / f"{lang}.json").read_text("utf-8")) for lang in ("en", "az")}


def _minors(seed: int, count: int) -> list[int]:
    rng = random.Random(seed)
    edge = [0, 1, 5, 9, 10, 99, 100, 101, 999, 1000, 1001, 123456, 9_007_199_254_740_993]
    return edge + [rng.randrange(1, 10 ** rng.randrange(1, 25)) for _ in range(count)]


def test_minor_units_render_as_the_engine_renders_them(page: Page) -> None:
    cases = [
        (str(sign * minor), currency)
        for minor in _minors(1, 60)
        for currency in ("AZN", "JPY", "KWD", "CLF", "EUR")
        for sign in (1, -1)
    ]
    got = page.evaluate("(cases) => cases.map(([m, c]) => M.minorToPlain(m, c))", cases)
    assert got == [format_minor(int(minor), currency) for minor, currency in cases]
    # A number is taken when it is a safe integer, and refused when it is not.
    assert page.evaluate("() => M.minorToPlain(1250, 'EUR')") == "12.50"
    assert page.evaluate(
        "() => [1.5, 2 ** 60, '1.5', 'x'].map(v => { try { M.minorToPlain(v, 'EUR'); "
        "return 'taken'; } catch (e) { return e.name; } })"
    ) == ["RangeError", "RangeError", "SyntaxError", "SyntaxError"]


def _amount(value: str, currency: str) -> int:
    """The engine's minor units of a plain decimal the JS parser answered."""
    minor = to_minor(parse_plain(value), currency, LIMIT)
    assert isinstance(minor, int), (value, minor)
    return minor


#: (typed, currency, locale) -> the plain decimal, or the catalog key of the refusal.
PARSED: list[tuple[str, str, str, str]] = [
    # The examples, in English and Azerbaijani (and its stand-in, Turkish).
    *(
        (typed, "AZN", locale, "98500.00")
        for typed in ("98 500,00 AZN", "98500.00", "98,500.00", "98500", "98500,00")
        for locale in ("en-US", "az", "tr-TR")
    ),
    ("98.500,00 AZN", "AZN", "az", "98500.00"),
    ("98.500,00 ₼", "AZN", "tr-TR", "98500.00"),
    ("₼98,500.00", "AZN", "en-US", "98500.00"),
    ("azn 98500", "AZN", "en-US", "98500.00"),
    ("AZN\u00a098,500.00", "AZN", "en-US", "98500.00"),
    ("98\u202f500,00\u00a0€", "EUR", "fr-FR", "98500.00"),
    ("98'500.00 CHF", "CHF", "de-CH", "98500.00"),
    ("98’500.5", "CHF", "de-CH", "98500.50"),
    ("9,85,000.00", "INR", "en-IN", "985000.00"),
    ("1,234,567.8", "USD", "en-US", "1234567.80"),
    ("1.234.567,8", "EUR", "de-DE", "1234567.80"),
    ("1 234 567", "EUR", "fr-FR", "1234567.00"),
    ("0.5", "EUR", "en-US", "0.50"),
    ("007", "EUR", "en-US", "7.00"),
    ("12.500", "EUR", "de-DE", "12500.00"),  # '.' groups in German
    ("12,500", "EUR", "en-US", "12500.00"),  # ',' groups in English
    ("12,5", "EUR", "en-US", "12.50"),  # two digits after: only a decimal comma
    ("12.50000", "EUR", "en-US", "12.50"),  # trailing zeros are fine
    ("1.250", "KWD", "en-US", "1.250"),  # three decimals are normal in dinars
    ("1,250", "KWD", "en-US", "1250.000"),
    ("98500", "JPY", "ja-JP", "98500"),
    ("98,500", "JPY", "ja-JP", "98500"),
    ("98500.0", "JPY", "ja-JP", "98500"),
    ("１２３", "EUR", "en-US", "123.00"),  # full-width digits, as an IME types them
    ("  42  ", "EUR", "en-US", "42.00"),
    # One separator and three digits, neither the locale's group nor a 3-decimal currency.
    ("98.500", "AZN", "en-US", "money.ambiguous"),
    ("98,500", "AZN", "tr-TR", "money.ambiguous"),  # az's conventions
    ("98,500", "EUR", "de-DE", "money.ambiguous"),
    ("1.250", "EUR", "fr-FR", "money.ambiguous"),
    # Over-precise, wrong, or not a number.
    ("98500.005", "AZN", "en-US", "money.too_many_decimals"),
    ("1,5", "JPY", "ja-JP", "money.no_decimals"),
    ("1.2345", "KWD", "en-US", "money.too_many_decimals"),
    ("98500 EUR", "AZN", "en-US", "money.wrong_currency"),
    ("USD 5", "AZN", "en-US", "money.wrong_currency"),
    ("", "AZN", "en-US", "money.empty"),
    ("AZN", "AZN", "en-US", "money.empty"),
    ("   ", "AZN", "en-US", "money.empty"),
    ("-5", "AZN", "en-US", "money.negative"),
    ("\u22125", "AZN", "en-US", "money.negative"),
    ("0", "AZN", "en-US", "money.zero"),
    ("0,00", "AZN", "az", "money.zero"),
    ("1e3", "AZN", "en-US", "money.not_a_number"),
    ("+5", "AZN", "en-US", "money.not_a_number"),
    (".5", "AZN", "en-US", "money.not_a_number"),
    ("5.", "AZN", "en-US", "money.not_a_number"),
    ("1..5", "AZN", "en-US", "money.not_a_number"),
    ("$5", "AZN", "en-US", "money.not_a_number"),
    ("NaN", "AZN", "en-US", "money.not_a_number"),
    ("Infinity", "AZN", "en-US", "money.not_a_number"),
    ("12 abc", "AZN", "en-US", "money.not_a_number"),
    ("١٢", "AZN", "en-US", "money.not_a_number"),
    ("1,234.567.8", "AZN", "en-US", "money.grouping"),
    ("1.234,567.89", "AZN", "en-US", "money.grouping"),
    ("12,34", "AZN", "en-US", "12.34"),
    ("1,23,456", "AZN", "en-US", "money.grouping"),  # Indian grouping, outside India
    ("1234,567.00", "AZN", "en-US", "money.grouping"),
    ("1 2345", "AZN", "en-US", "money.grouping"),
    ("1,234 567", "AZN", "en-US", "money.grouping"),
    ("9" * 70, "AZN", "en-US", "money.too_long"),
]


def _parse(page: Page, cases: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = page.evaluate(
        "(cases) => cases.map(([s, c, l]) => M.parseAmount(s, c, l))", cases
    )
    return result


def test_typed_amounts_are_read_as_meant_or_refused_with_a_catalog_key(page: Page) -> None:
    keys = set(json.loads((I18N / "en.json").read_text("utf-8")))
    got = _parse(page, [(typed, currency, locale) for typed, currency, locale, _ in PARSED])
    for (typed, currency, locale, expected), answer in zip(PARSED, got, strict=True):
        where = (typed, currency, locale, answer)
        if expected.startswith("money."):
            assert answer["ok"] is False and answer["key"] == expected, where
            assert answer["key"] in keys, where
            continue
        assert answer == {"ok": True, "value": expected}, where
        # The wire grammar takes it, and it is the amount meant, to the minor unit.
        assert parse_plain(answer["value"]) == Decimal(expected), where
        assert _amount(answer["value"], currency) == _amount(expected, currency), where


def test_a_refusal_carries_what_its_sentence_needs(page: Page) -> None:
    catalog = json.loads((I18N / "en.json").read_text("utf-8"))
    ambiguous, decimals, none, currency = _parse(
        page,
        [
            ("98.500", "AZN", "en-US"),
            ("1.0051", "EUR", "en-US"),
            ("1.5", "JPY", "en-US"),
            ("5 EUR", "AZN", "en-US"),
        ],
    )
    assert ambiguous["params"] == {"grouped": "98500", "decimal": "98.500"}
    assert decimals["params"] == {"currency": "EUR", "digits": 2}
    assert none["params"] == {"currency": "JPY"}
    assert currency["params"] == {"currency": "AZN"}
    for answer in (ambiguous, decimals, none, currency):
        wanted = set(re.findall(r"\{(\w+)\}", catalog[answer["key"]]))
        assert wanted == set(answer["params"]), answer


def test_what_is_formatted_in_a_locale_reads_back_as_the_engines_amount(page: Page) -> None:
    cases = [
        (str(minor), currency, locale, display)
        for minor in _minors(2, 25)[1:]
        for currency in ("AZN", "EUR", "JPY", "KWD", "INR", "CHF")
        for locale in LOCALES
        for display in ("code", "symbol", "narrowSymbol")
    ]
    got = page.evaluate(
        "(cases) => cases.map(([m, c, l, d]) => {"
        "  const shown = M.formatMinor(m, c, l, {display: d});"
        "  return [shown, M.parseAmount(shown, c, l)]; })",
        cases,
    )
    wrong = [
        (case, shown, answer)
        for case, (shown, answer) in zip(cases, got, strict=True)
        if answer != {"ok": True, "value": format_minor(int(case[0]), case[1])}
    ]
    assert wrong == []
    # Every digit is shown, and in the user's conventions.
    assert page.evaluate("() => M.formatAmount('98500.00', 'AZN', 'en-US')") == "AZN\xa098,500.00"
    assert page.evaluate("() => M.formatAmount('98500.00', 'AZN', 'tr-TR')") == "AZN\xa098.500,00"
    assert page.evaluate("() => M.formatAmount('12.505', 'EUR', 'en-US')") == "EUR\xa012.505"
    assert page.evaluate(
        "() => M.formatAmount('123456789012345678901234.125', 'KWD', 'en-US')"
    ) == ("KWD\xa0123,456,789,012,345,678,901,234.125")
    refused = page.evaluate(
        "() => ['1e3', ' 1', 12, '1'.repeat(65)].map(v => {"
        " try { M.formatAmount(v, 'EUR', 'en'); return 'taken'; } catch (e) { return e.name; } })"
    )
    assert refused == ["RangeError"] * 4


def test_random_typing_never_yields_an_amount_not_typed(page: Page) -> None:
    """Fuzz: any text the parser takes is a plain decimal the wire accepts, with the
    currency's decimals, holding exactly the digits typed (leading zeros dropped,
    trailing zeros added or dropped): no digit lost, none invented."""
    rng = random.Random(14)
    alphabet = "0123456789" * 3 + " .,.,'-AZNEUR€₼\u00a0"
    texts = [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 14))) for _ in range(3000)
    ]
    cases = [
        (text, currency, locale)
        for text in texts
        for currency, locale in (("AZN", "en-US"), ("EUR", "de-DE"), ("AZN", "tr-TR"))
    ]
    taken = 0
    for (text, currency, _), answer in zip(cases, _parse(page, cases), strict=True):
        if not answer["ok"]:
            assert answer["key"].startswith("money."), answer
            continue
        taken += 1
        value = answer["value"]
        assert parse_plain(value) > 0 and len(value) <= 64, (text, value)
        assert len(value.partition(".")[2]) == CURRENCIES[currency], (text, value)
        typed = "".join(ch for ch in text if ch.isdigit()).lstrip("0").rstrip("0")
        assert value.replace(".", "").lstrip("0").rstrip("0") == typed, (text, value)
    assert taken > 300  # the fuzz reached the accepting paths


# ------------------------------------------------------------------------------- time.js

ZONES = ("Asia/Baku", "America/New_York", "Europe/London", "UTC", "Australia/Lord_Howe")


def test_times_are_shown_in_the_zone_as_python_computes_them(page: Page) -> None:
    rng = random.Random(7)
    instants = [
        1_711_846_800_000_000,  # 2024-03-31 01:00 UTC: London's clocks go forward
        1_730_595_600_000_000,  # 2024-11-03 01:00 UTC
        0,
        *(rng.randrange(0, 4_102_444_800_000_000) for _ in range(40)),
    ]
    cases = [(us, zone) for us in instants for zone in ZONES]
    got = page.evaluate(
        "(cases) => cases.map(([us, z]) => [T.formatTime(us, 'en-GB', {timeZone: z}),"
        " T.formatDateTime(us, 'en-GB', {timeZone: z}), T.zoneLabel(us, 'en-GB', {timeZone: z})])",
        cases,
    )
    for (us, zone), (time, date_time, label) in zip(cases, got, strict=True):
        local = datetime.fromtimestamp(us // 1_000_000, UTC).astimezone(ZoneInfo(zone))
        assert time == local.strftime("%H:%M:%S"), (us, zone)
        assert date_time == local.strftime("%d/%m/%Y, %H:%M"), (us, zone)
        offset = local.strftime("%z")
        expected = {f"GMT{offset[:3]}:{offset[3:]}"} | ({"GMT"} if offset == "+0000" else set())
        assert label in {f"{zone} ({each})" for each in expected}, (us, zone)


def test_the_users_own_zone_is_the_default(page: Page) -> None:
    # The context's zone is Asia/Baku (UTC+4, no summer time since 2016).
    assert page.evaluate("() => T.formatTime(0, 'en-GB')") == "04:00:00"
    assert page.evaluate("() => T.formatTime(0, 'en-GB', {seconds: false})") == "04:00"
    assert page.evaluate("() => T.zoneLabel(0, 'en-GB')") == "Asia/Baku (GMT+04:00)"
    assert page.evaluate("() => T.formatTime(13n * 3600n * 1000000n, 'en-US')") == "5:00:00 PM"
    assert page.evaluate("() => T.formatDateTime('0', 'tr-TR')") == "01.01.1970 04:00"


def test_countdowns_round_up_and_stop_at_zero(page: Page) -> None:
    cases = {
        -5_000_000: "0:00",
        0: "0:00",
        1: "0:01",
        1_000_000: "0:01",
        1_000_001: "0:02",
        59_000_000: "0:59",
        60_000_000: "1:00",
        252_000_000: "4:12",
        3_600_000_000: "1:00:00",
        3_723_000_000: "1:02:03",
        100 * 3_600_000_000: "100:00:00",
    }
    got = page.evaluate("(cases) => cases.map(T.formatCountdown)", list(cases))
    assert got == list(cases.values())


def test_the_server_clock_follows_frames_not_the_browser(page: Page) -> None:
    result = page.evaluate(
        """() => {
        let now = 0;  // the monotonic clock, in ms, moved by the test
        const clock = new T.ServerClock(() => now);
        const out = [clock.known, clock.nowUs(), clock.untilUs(5)];
        clock.observe(1_000_000_000, 0);
        now = 500;
        out.push(clock.nowUs());                 // 500 ms later on the server too
        clock.observe(1_000_200_000);            // a frame that spent 300 ms in flight
        out.push(clock.nowUs());                 // ... does not pull the clock back
        clock.observe(1_000_900_000);            // the server is ahead of the estimate
        out.push(clock.nowUs(), clock.untilUs(1_001_900_000), clock.known);
        clock.reset();
        out.push(clock.known, clock.nowUs());
        return out;
    }"""
    )
    assert result == [
        False,
        None,
        None,
        1_000_500_000,
        1_000_500_000,
        1_000_900_000,
        1_000_000,
        True,
        False,
        None,
    ]


def test_a_wrong_browser_clock_does_not_move_the_countdown(browser: Browser, server: Live) -> None:
    """The browser's wall clock set five minutes wrong: the server clock, fed a frame's
    server_time, counts from the server's time all the same."""
    context = browser.new_context(locale="en-US")
    try:
        page = context.new_page()
        page.clock.install(time=datetime.now(UTC).timestamp() + 300)
        page.goto(f"http://127.0.0.1:{server.port}/app/i18n/en.json")
        page.evaluate(LOAD)
        server_now = int(datetime.now(UTC).timestamp() * 1_000_000)
        left = page.evaluate(
            "(now) => { const c = new T.ServerClock(); c.observe(now);"
            " return T.formatCountdown(c.untilUs(now + 61_000_000)); }",
            server_now,
        )
        assert left in ("1:01", "1:00")
        assert abs(page.evaluate("() => Date.now()") / 1000 - datetime.now(UTC).timestamp()) > 250
    finally:
        context.close()


# ------------------------------------------------------------------------------- i18n.js


def test_the_language_is_picked_from_the_choice_then_the_browser(page: Page) -> None:
    cases = [
        (["az-AZ"], None, "az"),
        (["az-Latn-AZ", "en"], None, "az"),
        (["AZ"], None, "az"),
        (["en-US", "az"], None, "en"),
        (["fr-FR", "az"], None, "az"),
        (["fr-FR", "de"], None, "en"),
        ([], None, "en"),
        (["en-US"], "az", "az"),
        (["az"], "en", "en"),
        (["az"], "fr", "az"),  # a stored choice we do not ship is ignored
    ]
    got = page.evaluate(
        "(cases) => cases.map(([l, s]) => I.pickLanguage(l, s))",
        [[languages, stored] for languages, stored, _ in cases],
    )
    assert got == [expected for _, _, expected in cases]


@pytest.mark.parametrize(("locale", "lang"), [("az-AZ", "az"), ("en-GB", "en"), ("fr-FR", "en")])
def test_init_follows_the_browser_and_the_switch_is_kept(
    browser: Browser, server: Live, locale: str, lang: str
) -> None:
    catalogs = _catalogs()
    context = browser.new_context(locale=locale)
    try:
        page = _open(context, server)
        assert page.evaluate("() => I.init()") == lang
        assert page.evaluate("() => [document.documentElement.lang, I.language()]") == [lang, lang]
        assert page.evaluate("() => I.t('ui.place_bid')") == catalogs[lang]["ui.place_bid"]
        other = "en" if lang == "az" else "az"
        heard = page.evaluate(
            "async (other) => { const heard = []; const stop = I.onChange(l => heard.push(l));"
            " await I.setLanguage(other); stop(); await I.setLanguage(other); return heard; }",
            other,
        )
        assert heard == [other]
        assert page.evaluate("() => I.t('ui.place_bid')") == catalogs[other]["ui.place_bid"]
        # The choice outlives the page.
        page.reload()
        page.evaluate(LOAD)
        assert page.evaluate("() => I.init()") == other
        assert page.evaluate("() => localStorage.getItem(I.STORAGE_KEY)") == other
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()


def test_t_fills_placeholders_and_every_code_reads_in_plain_words(page: Page) -> None:
    catalogs = _catalogs()
    page.evaluate("() => I.init({languages: ['az']})")
    assert page.evaluate("() => I.t('ui.rank_of', {rank: 1, count: 3})") == "1 (cəmi 3 iştirakçı)"
    assert page.evaluate("() => I.t('ui.rank_of', {rank: 2})") == "2 (cəmi {count} iştirakçı)"
    assert page.evaluate("() => I.t('no.such_key')") == "no.such_key"
    assert page.evaluate("() => I.interpolate('{a}{a} {b}', {a: '$&', b: 0})") == "$&$& 0"
    reasons = [reason.value for reason in Reason]
    got = page.evaluate("(codes) => codes.map(I.codeText)", reasons)
    assert got == [catalogs["az"][f"code.{code}"] for code in reasons]
    assert page.evaluate("() => I.codeText('brand_new')") == "Rədd edildi (brand_new)."
    assert page.evaluate("() => [I.closeText(4401), I.closeText(4999)]") == [
        catalogs["az"]["close.4401"],
        "Bağlantı bağlandı (4999); yenidən qoşulur.",
    ]
    page.evaluate("() => I.setLanguage('en')")
    assert page.evaluate("() => I.codeText('out_of_turn')") == catalogs["en"]["code.out_of_turn"]
    assert page.evaluate("() => I.has('code.out_of_turn') && !I.has('nope')")


def test_amounts_in_azerbaijani_use_azerbaijani_conventions(page: Page) -> None:
    """Where the browser cannot format Azerbaijani (Chromium formats 'az' as English),
    numbers and dates use Turkish's identical numeric conventions; where it can, its own."""
    locale = page.evaluate("() => I.formatLocale('az', ['az-AZ'])")
    assert locale in ("tr", "az-AZ")
    assert page.evaluate("(l) => M.formatMinor(9850000, 'AZN', l)", locale) == "AZN\xa098.500,00"
    assert page.evaluate("(l) => M.parseAmount('98.500,00 AZN', 'AZN', l)", locale) == {
        "ok": True,
        "value": "98500.00",
    }
    assert page.evaluate("(l) => T.formatDateTime(0, l, {timeZone: 'UTC'})", locale) == (
        "01.01.1970 00:00"
    )
    assert page.evaluate("() => I.formatLocale('en', ['fr', 'en-GB'])") == "en-GB"
    assert page.evaluate("() => I.formatLocale('en', ['fr'])") == "en"


# --------------------------------------------------------------------------- contract.js

#: Strings that meet or break the contract's patterns and bounds.
_STRINGS = ("12.50", "abc", "a" * 43, "text", "", "1e3", "x" * 65, "ab\x00c", "ü" * 64, "-0.5")
#: Values of every JSON type, to put where another is wanted.
_VALUES: tuple[Any, ...] = (
    *_STRINGS,
    None,
    True,
    False,
    0,
    -1,
    1,
    1.5,
    10**20,
    604_801,
    2_592_000,
    {},
    [],
    {"a": 1},
)


def _example(schema: dict[str, Any], document: dict[str, Any]) -> Any:
    """A valid value of ``schema`` (a schema of the served documents)."""
    if "$ref" in schema:
        return _example(document["$defs"][schema["$ref"].rpartition("/")[2]], document)
    if "anyOf" in schema:
        return _example(schema["anyOf"][0], document)
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: _example(sub, document) for name, sub in props.items()}
    if kind == "integer":
        return max(schema.get("minimum", 1), min(1, schema.get("maximum", 1)))
    if kind == "string":
        pattern = re.compile(schema.get("pattern", ""))
        return next(s for s in _STRINGS if pattern.search(s) and len(s) <= 64)
    return {"null": None, "boolean": True}[kind]


def _candidates(name: str, document: dict[str, Any]) -> list[Any]:
    """A valid value of ``$defs[name]``, its required fields alone, and every mutation:
    each required field dropped, an unknown field, each field given each kind of value,
    and values that are not objects."""
    schema = document["$defs"][name]
    full = _example(schema, document)
    required = {key: full[key] for key in schema["required"]}
    out: list[Any] = [full, required, {**full, "bogus": 1}, [], "x", None]
    out += [{k: v for k, v in full.items() if k != gone} for gone in schema["required"]]
    out += [{**full, field: value} for field in full for value in _VALUES]
    return out


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    return {"messages": messages_schema(), "http": http_schema()}


def _load_contracts(page: Page) -> None:
    page.evaluate(
        "async () => { window.K = {messages: await C.loadContract(),"
        " http: await C.loadContract('/api/v1/schemas/http.json')}; }"
    )


def test_the_pages_validator_says_what_jsonschema_says(
    page: Page, documents: dict[str, dict[str, Any]]
) -> None:
    _load_contracts(page)
    for which, document in documents.items():
        Draft202012Validator.check_schema(document)
        cases = [
            (name, value) for name in document["$defs"] for value in _candidates(name, document)
        ]
        verdicts = page.evaluate(
            "([which, cases]) => cases.map(([n, v]) => K[which].check(n, v).length === 0)",
            [which, cases],
        )
        expected = [
            Draft202012Validator({**document, "$ref": f"#/$defs/{name}"}).is_valid(value)
            for name, value in cases
        ]
        differ = [case for case, a, b in zip(cases, verdicts, expected, strict=True) if a != b]
        assert differ == []
        assert 0 < sum(expected) < len(expected)


def test_the_pages_client_messages_are_what_the_server_parses(
    page: Page, documents: dict[str, dict[str, Any]]
) -> None:
    _load_contracts(page)
    document = documents["messages"]
    for tag, cls in CLIENT_MESSAGES.items():
        # Values the frame parser refuses beyond the schema (NUL is not sendable text).
        cases = [
            value
            for value in _candidates(cls.__name__, document)
            if "\x00" not in json.dumps(value).encode().decode("unicode_escape")
        ]
        built = page.evaluate(
            "([tag, cases]) => cases.map(v => { try {"
            " const {type, ...fields} = v; return K.messages.message(tag, fields); }"
            " catch (e) { return e.name; } })",
            [tag, [value for value in cases if isinstance(value, dict)]],
        )
        for value, answer in zip(
            [value for value in cases if isinstance(value, dict)], built, strict=True
        ):
            try:
                parsed = from_json(json.dumps({**value, "type": tag}))
            except MessageError:
                assert answer == "ContractError", (tag, value)
            else:
                assert answer == {**value, "type": tag}, (tag, value)
                assert from_json(json.dumps(answer)) == parsed


def test_frames_written_by_python_read_in_the_page(page: Page) -> None:
    _load_contracts(page)
    frames = [
        m.to_json(m.Heartbeat(seq=3, server_time=1_700_000_000_000_000, next_deadline=None)),
        m.to_json(m.Reject("r1", "out_of_turn", "not your turn", 4, 1_700_000_000_000_001)),
        m.to_json(m.ErrorMessage("bad_json", "the frame is not JSON", 4, 1)),
    ]
    read = page.evaluate("(frames) => frames.map(f => K.messages.read(f).type)", frames)
    assert read == ["heartbeat", "reject", "error"]
    refused = page.evaluate(
        "(frames) => frames.map(f => { try { K.messages.read(f); return 'read'; }"
        " catch (e) { return [e.name, e.message, e.problems.map(p => p.path)]; } })",
        [
            "not json",
            '{"type": "bid"}',
            frames[0].replace('"seq":3', '"seq":"3"'),
            frames[1][:-1] + ',"extra":1}',
        ],
    )
    assert refused == [
        ["ContractError", "the frame is not JSON", []],
        ["ContractError", "no server message bid", []],
        ["ContractError", "heartbeat does not fit the contract", ["/seq"]],
        ["ContractError", "reject does not fit the contract", ["/extra"]],
    ]
    assert page.evaluate("() => K.messages.protocol") == m.PROTOCOL
    assert page.evaluate("() => K.messages.fields('Bid')") == {
        "all": ["request_id", "amount", "currency", "type"],
        "required": ["request_id", "amount", "currency", "type"],
    }


def test_a_contract_with_a_keyword_the_page_cannot_check_is_refused(page: Page) -> None:
    got = page.evaluate(
        "() => [{$defs: {X: {type: 'string', format: 'email'}}}, {$defs: {X: 5}}, {oneOf: []}]"
        ".map(d => { try { new C.Contract(d); return 'taken'; } catch (e) { return e.message; } })"
    )
    assert got == [
        "#/$defs/X: unsupported keyword format",
        "#/$defs/X: not a schema",
        "#: unsupported keyword oneOf",
    ]


def test_translate_fills_the_marked_elements_as_text(page: Page) -> None:
    catalogs = _catalogs()
    got = page.evaluate(
        """async () => {
        await I.init({languages: ['az']});
        document.body.innerHTML = `
          <h1 data-i18n="ui.place_bid">?</h1>
          <p id="rank" data-i18n="ui.rank_of" data-i18n-params='{"rank": 2, "count": 5}'></p>
          <input id="amount" data-i18n-placeholder="ui.amount" data-i18n-aria-label="ui.amount">
          <p id="bad" data-i18n="ui.rank_of" data-i18n-params="{nope"></p>
          <p id="markup" data-i18n="code.unknown" data-i18n-params='{"code": "<b>x</b>"}'></p>`;
        I.translate();
        const first = [document.querySelector('h1').textContent,
          document.querySelector('#rank').textContent,
          document.querySelector('#amount').placeholder,
          document.querySelector('#amount').getAttribute('aria-label'),
          document.querySelector('#bad').textContent,
          document.querySelector('#markup').children.length];
        const stop = I.onChange(() => I.translate());
        await I.setLanguage('en');
        stop();
        return [first, document.querySelector('h1').textContent];
    }"""
    )
    assert got == [
        [
            catalogs["az"]["ui.place_bid"],
            "2 (cəmi 5 iştirakçı)",
            catalogs["az"]["ui.amount"],
            catalogs["az"]["ui.amount"],
            catalogs["az"]["ui.rank_of"],
            0,
        ],
        catalogs["en"]["ui.place_bid"],
    ]


def test_a_catalog_that_cannot_be_loaded_leaves_the_page_in_english(
    browser: Browser, server: Live
) -> None:
    context = browser.new_context(locale="az-AZ")
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{server.port}/app/i18n/en.json")
        page.route("**/app/i18n/az.json", lambda route: route.abort())
        page.evaluate(LOAD)
        assert page.evaluate("() => I.init()") == "en"
        assert page.evaluate("() => [I.language(), I.t('ui.place_bid')]") == ["en", "Place bid"]
    finally:
        context.close()


def _typed(rng: random.Random, minor: int, currency: str) -> str:
    """``minor`` units of ``currency`` as a person might type them, built apart from
    money.js: a decimal mark, a way of grouping, extra trailing zeros or none, the
    currency's code before or after (any case), spaces."""
    whole, _, frac = format_minor(minor, currency).partition(".")
    mark = rng.choice(".,")
    group = rng.choice(["", "", " ", "\u00a0", "\u202f", "'", ",."[mark == ","]])
    runs = []
    while whole:
        runs.insert(0, whole[-3:])
        whole = whole[:-3]
    text = group.join(runs)
    frac += "0" * rng.choice((0, 0, 1, 2))
    if frac and (frac.strip("0") or rng.random() < 0.5):
        text += mark + frac
    code = rng.choice((currency, currency.lower(), ""))
    space = rng.choice(("", " "))
    return rng.choice((f"{code}{space}{text}", f"{text}{space}{code}", f" {text} "))


def test_amounts_typed_in_many_styles_are_read_as_the_amount_meant(page: Page) -> None:
    """For amounts typed from known minor units: the parser answers exactly the engine's
    string for it, or, only for one '.' or ',' followed by three digits (98,500 or
    98.500: a group or a decimal mark), one of its two readings or money.ambiguous."""
    rng = random.Random(1414)
    cases = []
    for _ in range(4000):
        currency = rng.choice(("AZN", "EUR", "JPY", "KWD", "USD"))
        minor = rng.randrange(1, 10 ** rng.randrange(1, 16))
        cases.append((_typed(rng, minor, currency), currency, rng.choice(LOCALES), minor))
    got = _parse(page, [case[:3] for case in cases])
    shape = re.compile(r"[0-9]{1,3}[.,][0-9]{3}")
    ambiguous = 0
    for (typed, currency, locale, minor), answer in zip(cases, got, strict=True):
        meant = format_minor(minor, currency)
        number = re.sub(r"[A-Za-z\s]", "", typed)
        if answer == {"ok": True, "value": meant}:
            continue
        assert shape.fullmatch(number), (typed, currency, locale, meant, answer)
        ambiguous += 1
        if answer["ok"]:  # the other reading: the locale's, or a dinar's three decimals
            readings = {Decimal(re.sub("[.,]", "", number)), Decimal(number.replace(",", "."))}
            assert parse_plain(answer["value"]) in readings, (typed, locale, answer)
        else:
            assert answer["key"] in ("money.ambiguous", "money.too_many_decimals"), answer
    assert ambiguous < len(cases) // 4


# ------------------------------------------------------------------------------ rules.js
# The scored formats' arithmetic (engine/scoring.py, StepRule.of, open_cry's lead price)
# in the page's exact BigInt rationals, against the engine's own functions.

LOAD_RULES = "async () => { window.R = await import('/app/rules.js'); return true; }"
#: A score as the page's rational, back in the engine's wire form (engine/codec.py).
WIRE = "(s) => s === null ? null : (s.fraction ? `${s.n}/${s.d}` : String(s.n))"
COEFFICIENTS = ("0", "0.1", "0.10", "0.25", "1.333", "2", "0.0001", "7.5", "100")
SCORE_STEPS = (
    {"amount": 1000, "percent": None},
    {"amount": 1, "percent": None},
    {"amount": 0, "percent": "2.5"},
    {"amount": 0, "percent": "0.01"},
    {"amount": 0, "percent": "33.333"},
)


def _wire(score: Any) -> str:
    return str(to_data(score))


def _step(spec: dict[str, Any]) -> Step:
    percent = spec["percent"]
    return Step(amount=spec["amount"], percent=None if percent is None else Decimal(percent))


def test_scores_and_their_inverses_are_the_engines(page: Page) -> None:
    assert page.evaluate(LOAD_RULES)
    rng = random.Random(14)
    cases: list[dict[str, Any]] = []
    for _ in range(400):
        scoring = rng.choice(list(Scoring))
        coefficient = rng.choice(COEFFICIENTS)
        cost = rng.choice([0, 1, 250, rng.randrange(10**9)])
        price = rng.choice([1, 99, 100_000, rng.randrange(1, 10**15)])
        score: Score = (
            Fraction(rng.randrange(1, 10**14), rng.randrange(1, 10**4))
            if rng.random() < 0.5
            else rng.randrange(1, 10**14)
        )
        cases.append(
            {
                "scoring": scoring.value,
                "coefficient": coefficient,
                "cost": cost,
                "price": price,
                "score": to_data(score),
                "step": rng.choice(SCORE_STEPS),
            }
        )
    got = page.evaluate(
        f"""(cases) => {{ const wire = {WIRE};
            return cases.map((c) => {{
              const score = R.readScore(c.score);
              const of = R.scoreOf(c.scoring, c.price, c.coefficient, c.cost);
              return [
                wire(of),
                String(R.maxPriceForScore(c.scoring, score, c.coefficient, c.cost)),
                String(R.minPriceForScore(c.scoring, score, c.coefficient, c.cost)),
                wire(R.stepOfScore(c.step, score)),
                R.compareScores(of, score),
                wire(score),
              ];
            }}); }}""",
        cases,
    )
    expected = []
    for case in cases:
        scoring = Scoring(case["scoring"])
        coefficient, cost = Fraction(Decimal(case["coefficient"])), case["cost"]
        score = from_data(Score, case["score"], "score")
        of = score_of(scoring, case["price"], coefficient, cost)
        expected.append(
            [
                _wire(of),
                str(max_price_for_score(scoring, score, coefficient, cost)),
                str(min_price_for_score(scoring, score, coefficient, cost)),
                _wire(StepRule(_step(case["step"])).of(score)),
                (of > score) - (of < score),
                _wire(score),
            ]
        )
    assert got == expected


def _reverse_book(
    rng: random.Random, scoring: Scoring, step: dict[str, Any], improvement: Improvement
) -> tuple[Auction, dict[str, Any]]:
    """A running reverse auction (the engine's) with a few scored bids in its book."""
    auction = Auction()
    start_price = rng.choice([10**6, 10**9])
    rules = ReverseRules(
        "AZN", 10, 1000, start_price, _step(step), improvement=improvement, scoring=scoring
    )
    auction.handle(c.CreateAuction("c", 1, rules))
    coefficients = {}
    for name in ("me", "rival", "third"):
        coefficient = rng.choice(COEFFICIENTS)
        coefficients[name] = coefficient
        cost = Decimal(rng.randrange(0, 10**4)) / 100
        auction.handle(c.RegisterBidder(f"r-{name}", 2, name, Decimal(coefficient), cost))
    auction.handle(c.Tick("t", 10))
    for turn in range(rng.randrange(0, 5)):
        name = rng.choice(("me", "rival", "third"))
        price = rng.randrange(start_price // 3, start_price + 1)
        auction.handle(c.PlaceBid(f"b-{turn}", 11 + turn, name, Decimal(price) / 100, "AZN"))
    me = auction.bidders["me"]
    best = auction.book.best()
    own = auction.book.get("me")
    case = {
        "rules": {
            "start_price": start_price,
            "step": step,
            "scoring": scoring.value,
            "improvement": improvement.value,
            "max_amount": 10**15,
        },
        "best": None if best is None else to_data(best[0]),
        "bestPrice": None if best is None else best[3],
        "mine": None if own is None else own[3],
        "me": {"coefficient": coefficients["me"], "cost": me.cost},
    }
    return auction, case


def test_the_price_to_lead_is_the_engines(page: Page) -> None:
    """rules.js leadPrice against open_cry's own lead price on real engine books (every
    scoring, step and improvement), and the multi-round one (a score strictly below the
    best's, within the step of my own offer) against scoring.py."""
    assert page.evaluate(LOAD_RULES)
    rng = random.Random(7)
    cases: list[dict[str, Any]] = []
    expected: list[str | None] = []
    for index in range(300):
        scoring = list(Scoring)[index % 3]
        step = SCORE_STEPS[index % len(SCORE_STEPS)]
        improvement = rng.choice(list(Improvement))
        auction, case = _reverse_book(rng, scoring, step, improvement)
        assert isinstance(auction.fmt, OpenCry)
        lead = auction.fmt._lead_price("me", auction.bidders["me"], None)
        cases.append({**case, "format": "reverse"})
        expected.append(None if lead is None else str(lead))
        # The least valid bid of a scored beat_best auction is that lead price too.
        if improvement is Improvement.BEAT_BEST and case["best"] is not None:
            cases.append({**case, "format": "reverse", "next": True})
            expected.append(None if lead is None else str(lead))
    for _ in range(300):
        scoring = rng.choice(list(Scoring))
        coefficient, cost = rng.choice(COEFFICIENTS), rng.randrange(0, 10**6)
        step = rng.choice(SCORE_STEPS)
        mine = rng.randrange(1, 10**9)
        best = score_of(
            scoring,
            rng.randrange(1, 10**9),
            Fraction(Decimal(rng.choice(COEFFICIENTS))),
            rng.randrange(0, 10**6),
        )
        fraction = Fraction(Decimal(coefficient))
        price = min(
            min_price_for_score(scoring, best, fraction, cost) - 1,
            mine - StepRule(_step(step)).of_price(mine),
        )
        if price > 0:
            assert score_of(scoring, price, fraction, cost) < best
            assert price == mine - StepRule(_step(step)).of_price(mine) or not (
                score_of(scoring, price + 1, fraction, cost) < best
            )
        cases.append(
            {
                "rules": {"step": step, "scoring": scoring.value},
                "format": "multiround",
                "best": to_data(best),
                "mine": mine,
                "me": {"coefficient": coefficient, "cost": cost},
            }
        )
        expected.append(str(price) if price > 0 else None)
    got = page.evaluate(
        """(cases) => cases.map((c) => {
            const best = R.readScore(c.best);
            const lead = c.next
              ? R.nextValidBid(c.rules, c.format, c.bestPrice, c.mine, {bestScore: best, me: c.me})
              : R.leadPrice(c.rules, c.format, best, c.mine, c.me);
            return lead === null ? null : String(lead);
        })""",
        cases,
    )
    assert got == expected


def test_formats_without_a_least_valid_bid_give_none_not_an_error(page: Page) -> None:
    """A sealed or Dutch auction may have no start price: the page's rule says "no bound"
    (null) instead of throwing on BigInt(null), which left the sealed bid form blank."""
    page.evaluate(LOAD_RULES)
    sealed = {"type": "SealedRules", "start_price": None, "step": None, "max_amount": 10**12}
    for fmt in ("sealed", "dutch", "other"):
        assert page.evaluate(f"(r) => R.nextValidBid(r, '{fmt}', null, null)", sealed) is None
        assert page.evaluate(f"(r) => R.nextValidBid(r, '{fmt}', '500', '400')", sealed) is None
    english = {"start_price": None, "step": {"amount": 100}, "max_amount": 10**12}
    assert page.evaluate("(r) => R.nextValidBid(r, 'english', null, null)", english) is None
