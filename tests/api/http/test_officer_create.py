"""The officer's create forms (``#/officer/new/auction``, ``#/officer/new/tender``:
api/static/app/staff/officer/create_auction.js, create_tender.js) in real headless
Chromium against the live server on real PostgreSQL.

An officer signs in and creates a reverse auction with a soft close from the form: the
server holds exactly the rules typed (amounts in major units, times read in the officer's
own zone, durations in minutes); the review says them in words first. A value the
published schema refuses (a percent step of "abc") is shown beside its field before any
request is sent; a value only the server refuses (a percent step of 150) comes back as
the server's problem, shown beside that field, which gets the focus, and is announced.
The whole form is filled and published with the keyboard alone. A tender with two
committee members (k = 2 of 2), two lots, MEAT features and a multi-round hand-off is
created from its form; a lot whose deadline has passed (only the engine knows) comes back
beside that lot's deadline. axe-core finds nothing serious or critical; the pages are
photographed at 390 and 1280 px (light and dark) into ``test-artifacts/``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from playwright.async_api import Browser, Page

from api.http.app_assets import rules_document, tender_document
from tests.api.conftest import Live
from tests.browser import look, watch_errors

#: The officer's zone in the browser: the form reads its times there.
ZONE = "Asia/Baku"
#: The module's tests run in one event loop, the one its browser lives in.
in_module_loop = pytest.mark.asyncio(loop_scope="module")


def local(moment: datetime) -> str:
    """A datetime-local input's value for ``moment`` in :data:`ZONE`."""
    return moment.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M")


def micros(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000


def minute(offset: timedelta) -> datetime:
    """Now plus ``offset``, to the minute (what a datetime-local input holds)."""
    return (datetime.now(ZoneInfo(ZONE)) + offset).replace(second=0, microsecond=0)


async def officer_page(browser: Browser, server: Live, route: str) -> tuple[Page, list[str]]:
    context = await browser.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id=ZONE, locale="en-GB"
    )
    page = await context.new_page()
    errors = watch_errors(page)
    await page.goto(f"http://127.0.0.1:{server.port}/app/#/officer/{route}")
    await page.fill("#staff-token", server.officer)
    await page.click("#staff-sign-in")
    await page.wait_for_selector("#create-root[data-ready='yes']")
    return page, errors


def posts(page: Page, path: str) -> list[str]:
    """The POSTs ``page`` sends to ``path``, appended as they happen."""
    sent: list[str] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.post_data or "")
            if request.method == "POST" and request.url.endswith(path)
            else None
        ),
    )
    return sent


async def focused(page: Page, element_id: str) -> None:
    """Wait until ``element_id`` has the focus (a page moves it after its next render)."""
    await page.wait_for_function(
        "(id) => document.activeElement?.id === id", arg=element_id, polling=50, timeout=5_000
    )


async def published_id(page: Page, kind: str) -> str:
    await page.wait_for_function(
        f"() => location.hash.startsWith('#/officer/{kind}/')", polling=50, timeout=10_000
    )
    hash_ = await page.evaluate("location.hash")
    return str(hash_).rsplit("/", 1)[1]


@in_module_loop
async def test_a_reverse_auction_with_soft_close_from_the_form(
    browser: Browser, server: Live
) -> None:
    page, errors = await officer_page(browser, server, "new/auction")
    starts, ends = minute(timedelta(hours=2)), minute(timedelta(hours=3))
    cap = minute(timedelta(hours=4))
    assert await page.input_value("#f-format") == "reverse"
    await page.fill("#f-start_price", "12 500.50")
    await page.fill("#f-step_amount", "50")
    await page.check("#f-improvement-beat_own")
    await page.fill("#f-starts_at", local(starts))
    assert await page.input_value("#f-ends_at") == local(ends)  # the close moved with it
    await page.fill("#f-ends_at", local(ends))
    assert await page.is_checked("#f-soft_close")
    await page.fill("#f-window", "2")
    await page.fill("#f-extension", "3")
    await page.fill("#f-hard_close", local(cap))
    await page.uncheck("#f-allow_proxy")
    # Fields another format uses are not on the screen.
    for absent in ("#f-limit_price", "#f-interval", "#f-turn", "#f-pricing", "#f-reserve_price"):
        assert await page.locator(absent).count() == 0, absent
    summary = await page.inner_text("#create-summary")
    assert "3 min later" in summary and "2 min" in summary, summary
    await look(page, "officer-create", raw=("create.",))

    await page.click("#create-review")
    await page.wait_for_selector("#create-root[data-stage='review']")
    await focused(page, "create-review-title")
    words = await page.inner_text("#create-words")
    for text in ("reverse auction", "12,500.50", "50.00", "own offer", "3 min later", "Asia/Baku"):
        assert text in words, (text, words)
    await look(page, "officer-create-review", raw=("create.",))
    await page.click("#create-publish")
    auction = await published_id(page, "auction")

    state = await server.state(auction)
    assert state["rules"] == {
        "format": "reverse",
        "currency": "AZN",
        "starts_at": micros(starts),
        "ends_at": micros(ends),
        "start_price": "12500.50",
        "step": {"amount": "50.00", "percent": None},
        "improvement": "beat_own",
        "scoring": "none",
        "soft_close": {
            "window_us": 120_000_000,
            "extension_us": 180_000_000,
            "hard_close_at": micros(cap),
        },
        "allow_proxy": False,
        "max_amount": state["rules"]["max_amount"],  # the default, not typed
    }
    assert [e for e in errors if "/officer/auction" not in e and "auction.js" not in e] == []


@in_module_loop
async def test_the_schema_refuses_inline_and_the_server_beside_its_field(
    browser: Browser, server: Live
) -> None:
    page, _ = await officer_page(browser, server, "new/auction")
    sent = posts(page, "/api/v1/auctions")
    await page.fill("#f-start_price", "1000")
    await page.check("#f-step_kind-percent")
    await page.fill("#f-step_percent", "abc")
    await page.click("#create-review")
    error = page.locator("#f-step_percent-error")
    await error.wait_for()
    assert "percentage" in await error.inner_text()
    assert await page.get_attribute("#f-step_percent", "aria-invalid") == "true"
    assert "f-step_percent-error" in (
        await page.get_attribute("#f-step_percent", "aria-describedby") or ""
    )
    await focused(page, "f-step_percent")
    assert await page.get_attribute("#create-root", "data-stage") == "edit"
    # An amount the money reader refuses is said in its words too, still before any request.
    await page.fill("#f-start_price", "1.005")
    await page.click("#create-review")
    await page.locator("#f-start_price-error").wait_for()
    assert sent == []

    # 150 % fits the schema (a plain decimal); only the server knows a step is at most 100 %.
    await page.fill("#f-start_price", "1000")
    await page.fill("#f-step_percent", "150")
    await page.click("#create-review")
    await page.wait_for_selector("#create-root[data-stage='review']")
    await page.click("#create-publish")
    await page.wait_for_selector("#create-root[data-stage='edit'] #f-step_percent-error")
    text = await page.inner_text("#f-step_percent-error")
    assert "step.percent must be in (0, 100]" in text, text
    assert "not valid" in text  # the catalog's sentence for invalid_rules, then the server's
    assert len(sent) == 1
    await focused(page, "f-step_percent")
    status = page.locator("#create-status")
    assert await status.get_attribute("role") == "alert"
    assert "step.percent" in await status.inner_text()
    # Typing again clears the server's word; a sound step publishes.
    await page.fill("#f-step_percent", "2.5")
    assert await page.locator("#f-step_percent-error").count() == 0
    await page.click("#create-review")
    await page.click("#create-publish")
    auction = await published_id(page, "auction")
    assert (await server.state(auction))["rules"]["step"] == {"amount": "0.00", "percent": "2.5"}


async def tab_to(page: Page, element_id: str, limit: int = 60) -> None:
    """Press Tab until ``element_id`` has the focus."""
    for _ in range(limit):
        if await page.evaluate("document.activeElement?.id") == element_id:
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {element_id}")


@in_module_loop
async def test_the_form_is_filled_and_published_with_the_keyboard_alone(
    browser: Browser, server: Live
) -> None:
    page, _ = await officer_page(browser, server, "new/auction")
    await tab_to(page, "f-format")
    await page.keyboard.press("Home")  # the first format: English
    assert await page.input_value("#f-format") == "english"
    await tab_to(page, "f-start_price")
    await page.keyboard.type("300")
    await tab_to(page, "f-step_amount")
    await page.keyboard.type("10")
    await tab_to(page, "f-reserve_price")
    await page.keyboard.type("450")
    await tab_to(page, "f-soft_close")
    await page.keyboard.press("Space")  # no soft close
    assert not await page.is_checked("#f-soft_close")
    assert await page.locator("#f-window").count() == 0
    await tab_to(page, "create-review")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#create-root[data-stage='review']")
    # Tab on to Publish (the review replaced the button that had the focus: where the
    # focus rests before the first Tab depends on when the browser noticed).
    await tab_to(page, "create-publish")
    await page.keyboard.press("Enter")
    auction = await published_id(page, "auction")
    rules = (await server.state(auction))["rules"]
    assert rules["format"] == "english"
    assert (rules["start_price"], rules["step"]["amount"]) == ("300.00", "10.00")
    assert rules["soft_close"] is None
    assert "reserve_price" not in rules or rules["reserve_price"] in (None, "450.00")


@in_module_loop
async def test_every_format_publishes_from_the_form_in_either_language(
    browser: Browser, server: Live
) -> None:
    page, _ = await officer_page(browser, server, "new/auction")
    await page.click(".lang button[lang='az']")
    await page.wait_for_function(
        "() => document.querySelector('h1')?.textContent === 'Yeni hərrac'"
    )
    shown = await page.inner_text("#create-root")
    assert "create." not in shown and "Büdcə həddi" in shown
    await page.click(".lang button[lang='en']")
    cases: list[tuple[str, dict[str, str], dict[str, Any]]] = [
        (
            "dutch",
            {"#f-start_price": "100", "#f-step_amount": "5", "#f-limit_price": "150"},
            {"side": "procurement", "step": "5.00", "interval_us": 30_000_000},
        ),
        (
            "sealed",
            {"#f-reserve_price": "900"},
            {"pricing": "second_price", "reserve_price": "900.00", "scoring": "lcc"},
        ),
        (
            "multiround",
            {"#f-step_amount": "1", "#f-turn": "45", "#f-rounds": "2", "#f-pause": "0"},
            {"turn_us": 45_000_000, "rounds": 2, "pause_us": 0, "scoring": "meat"},
        ),
    ]
    for fmt, fields, expect in cases:
        await page.evaluate("() => { location.hash = '#/officer/new/auction'; }")
        await page.wait_for_selector("#create-root[data-stage='edit'] #f-format")
        await page.select_option("#f-format", fmt)
        for selector, value in fields.items():
            await page.fill(selector, value)
        if fmt == "sealed":
            await page.check("#f-pricing-second_price")
            await page.check("#f-scoring-lcc")
        if fmt == "multiround":
            await page.check("#f-scoring-meat")
        await page.click("#create-review")
        await page.click("#create-publish")
        rules = (await server.state(await published_id(page, "auction")))["rules"]
        assert rules["format"] == fmt
        assert {key: rules[key] for key in expect} == expect, rules


#: Bodies the page's validator and jsonschema must judge alike (rules, then tenders).
RULES_CASES: list[Any] = [
    {
        "format": "reverse",
        "currency": "AZN",
        "starts_at": 1_790_000_000_000_000,
        "ends_at": 1_790_000_600_000_000,
        "start_price": "10.00",
        "step": {"amount": "1.00"},
    },
    {
        "format": "reverse",
        "currency": "AZN",
        "starts_at": 1_790_000_000_000_000,
        "ends_at": 1_790_000_600_000_000,
        "start_price": "10.00",
        "step": {"percent": "x"},
    },
    {
        "format": "dutch",
        "currency": "EUR",
        "starts_at": 1_790_000_000_000_000,
        "start_price": "10.00",
        "step": "1.00",
        "interval_us": 1_000_000,
        "limit_price": "5.00",
    },
    {
        "format": "dutch",
        "currency": "EUR",
        "starts_at": 1_790_000_000_000_000,
        "start_price": "10.00",
        "step": "1.00",
        "interval_us": 0,
        "limit_price": "5.00",
    },
    {
        "format": "sealed",
        "currency": "USD",
        "starts_at": 1_790_000_000_000_000,
        "ends_at": 1_790_000_600_000_000,
        "pricing": "third_price",
    },
    {
        "format": "multiround",
        "currency": "AZN",
        "starts_at": 1_790_000_000_000_000,
        "turn_us": 60_000_000,
        "step": {"amount": "1"},
        "rounds": 0,
    },
    {
        "format": "english",
        "currency": "XXX",
        "starts_at": 1_790_000_000_000_000,
        "ends_at": 1_790_000_600_000_000,
        "start_price": "1",
        "step": {"amount": "1"},
    },
    {
        "format": "english",
        "currency": "AZN",
        "starts_at": 1_790_000_000_000_000,
        "ends_at": 1_790_000_600_000_000,
        "start_price": "1",
        "step": {"amount": "1"},
        "soft_close": None,
        "reserve_price": None,
        "colour": "red",
    },
    {
        "format": "english",
        "currency": "AZN",
        "starts_at": 1_790_000_000_000_000,
        "ends_at": 1_790_000_600_000_000,
        "start_price": "1",
        "step": {"amount": "1"},
        "soft_close": {"window_us": 1, "extension_us": 1, "hard_close_at": None},
    },
    {"format": "auction"},
    "reverse",
]


@in_module_loop
async def test_the_pages_validator_judges_as_jsonschema_does(
    browser: Browser, server: Live
) -> None:
    page, _ = await officer_page(browser, server, "new/auction")
    tender = {
        "title": "T",
        "currency": "AZN",
        "threshold": 1,
        "officers": [{"id": "officer-1", "public_key": "ab" * 32}],
        "lots": [
            {
                "id": "l1",
                "deadline": 1_790_000_000_000_000,
                "opening_at": 1_790_000_000_000_001,
                "kinds": ["financial"],
            }
        ],
    }
    tenders = [
        tender,
        {**tender, "lots": []},
        {**tender, "threshold": 0},
        {**tender, "lots": [{**tender["lots"][0], "kinds": ["financial", "financial"]}]},
        {**tender, "features": [{"name": "w", "weight": "1e2", "maximum": "1"}]},
        {**tender, "auction_rules": {"format": "multiround", "rounds": 2}},
        {**tender, "auction_rules": {"format": "english"}},
    ]
    verdicts = await page.evaluate(
        """async ([rules, tenders]) => {
            const S = await import('/app/staff/officer/create/schema.js');
            const r = await S.loadSchema('/api/v1/schemas/rules.json');
            const t = await S.loadSchema('/api/v1/schemas/tender.json');
            return [rules.map((v) => r.check('Rules', v).map((p) => p.pointer)),
                    tenders.map((v) => t.check('CreateTender', v).map((p) => p.pointer))];
        }""",
        [RULES_CASES, tenders],
    )
    rules_doc = jsonschema.Draft202012Validator(rules_document())
    tender_doc = jsonschema.Draft202012Validator(tender_document())
    for value, found in zip(RULES_CASES, verdicts[0], strict=True):
        assert (found == []) is rules_doc.is_valid(value), (value, found)
    for value, found in zip(tenders, verdicts[1], strict=True):
        assert (found == []) is tender_doc.is_valid(value), (value, found)
    # Each problem names where: the field the form shows it beside.
    assert verdicts[0][1] == ["/step/percent"]
    assert verdicts[0][3] == ["/interval_us"]
    assert verdicts[0][5] == ["/rounds"]
    assert verdicts[0][9] == ["/format"]
    assert verdicts[1][2] == ["/threshold"]


def public_key() -> str:
    return X25519PrivateKey.generate().public_key().public_bytes_raw().hex()


@in_module_loop
async def test_a_tender_with_lots_committee_meat_and_hand_off_from_the_form(
    browser: Browser, server: Live
) -> None:
    page, errors = await officer_page(browser, server, "new/tender")
    deadline, opening = minute(timedelta(days=3)), minute(timedelta(days=3, hours=1))
    await page.fill("#f-title", "Office chairs 2027")
    assert await page.input_value("#f-officers-0-id") == "officer-1"  # who is signed in
    await page.fill("#f-officers-0-public_key", "not a key")
    await page.click("#create-add-officers")
    await focused(page, "f-officers-1-id")
    await page.keyboard.type("officer-2")
    await page.fill("#f-officers-1-public_key", public_key())
    await page.fill("#f-threshold", "2")
    await page.fill("#f-lots-0-title", "Chairs")
    # A deadline already past fits the schema; the engine refuses it (below).
    await page.fill("#f-lots-0-deadline", local(minute(timedelta(hours=-1))))
    await page.fill("#f-lots-0-opening_at", local(opening))
    await page.check("#f-lots-0-kinds-technical")
    await page.click("#create-add-lots")
    await page.fill("#f-lots-1-title", "Desks")
    await page.check("#f-criterion-meat")
    await page.fill("#f-features-0-name", "warranty years")
    await page.fill("#f-features-0-weight", "0.1")
    await page.fill("#f-features-0-maximum", "5")
    await page.check("#f-follow_up-auction")
    await page.fill("#f-ar-turn", "90")
    await page.fill("#f-ar-rounds", "2")
    await page.fill("#f-ar-step_amount", "25")
    # The first key is refused by the schema before anything is sent.
    sent = posts(page, "/api/v1/tenders")
    await page.click("#create-review")
    await page.locator("#f-officers-0-public_key-error").wait_for()
    await focused(page, "f-officers-0-public_key")
    assert sent == []
    await page.fill("#f-officers-0-public_key", public_key())
    await look(page, "officer-create-tender", raw=("create.",))

    await page.click("#create-review")
    await page.click("#create-publish")
    error = page.locator("#create-root[data-stage='edit'] #f-lots-0-deadline-error")
    await error.wait_for()
    assert "deadline must be in the future" in await error.inner_text()
    await focused(page, "f-lots-0-deadline")
    await page.fill("#f-lots-0-deadline", local(deadline))
    assert await error.count() == 0
    await page.click("#create-review")
    await page.wait_for_selector("#create-root[data-stage='review']")
    words = await page.inner_text("#create-words")
    for text in ("Any 2 of these 2", "Chairs", "Desks", "warranty years", "90 s", "25.00"):
        assert text in words, (text, words)
    await look(page, "officer-create-tender-review", raw=("create.",))
    await page.click("#create-publish")
    tender = await published_id(page, "tender")

    reply = await server.get(f"/api/v1/tenders/{tender}", token=server.officer)
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.json()
    assert (body["title"], body["threshold"], body["officers"]) == (
        "Office chairs 2027",
        2,
        ["officer-1", "officer-2"],
    )
    assert [(lot["id"], lot["title"]) for lot in body["lots"]] == [
        ("lot-1", "Chairs"),
        ("lot-2", "Desks"),
    ]
    first = body["lots"][0]
    assert (first["deadline"], first["opening_at"]) == (micros(deadline), micros(opening))
    assert first["kinds"] == ["technical", "financial"]
    assert (body["criterion"], body["follow_up"]) == ("meat", "auction")
    assert body["features"] == [{"name": "warranty years", "weight": "0.1", "maximum": "5"}]
    assert body["auction_rules"] == {
        "format": "multiround",
        "turn_us": 90_000_000,
        "rounds": 2,
        "pause_us": 60_000_000,
        "step": {"amount": "25.00"},
        "scoring": "none",
    }
    expected = r"officer/tender|tender\.js|^422 .*/api/v1/tenders$"  # the refusal above
    assert [e for e in errors if not re.search(expected, e)] == []


async def shift_tab_lands_on(page: Page, element_id: str) -> None:
    """Shift+Tab from the focused element lands on ``element_id``; Tab comes back."""
    here = await page.evaluate("document.activeElement?.id")
    await page.keyboard.press("Shift+Tab")
    assert await page.evaluate("document.activeElement?.id") == element_id
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement?.id") == here


@in_module_loop
async def test_a_tender_is_filled_and_published_with_the_keyboard_alone(
    browser: Browser, server: Live
) -> None:
    """Tab, Shift+Tab, Space, Enter and typing only: a second committee member and a
    second lot added with their buttons, the focus on each new item's first field."""
    page, errors = await officer_page(browser, server, "new/tender")
    first, second = public_key(), public_key()
    await tab_to(page, "f-title")
    await page.keyboard.type("Printer paper 2027")
    await tab_to(page, "f-officers-0-public_key")
    await page.keyboard.type(first)
    await tab_to(page, "create-add-officers")
    await page.keyboard.press("Enter")
    await focused(page, "f-officers-1-id")
    await shift_tab_lands_on(page, "create-remove-officers-1")
    await page.keyboard.type("officer-2")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement?.id") == "f-officers-1-public_key"
    await page.keyboard.type(second)
    await tab_to(page, "f-threshold")
    await page.keyboard.press("Backspace")
    await page.keyboard.type("2")
    await tab_to(page, "f-lots-0-title")
    await page.keyboard.type("Paper")
    await tab_to(page, "f-lots-0-kinds-technical")
    await page.keyboard.press("Space")
    assert await page.is_checked("#f-lots-0-kinds-technical")
    await tab_to(page, "create-add-lots")
    await page.keyboard.press("Space")
    await focused(page, "f-lots-1-title")
    await shift_tab_lands_on(page, "create-remove-lots-1")
    await page.keyboard.type("Toner")
    await tab_to(page, "create-review")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#create-root[data-stage='review']")
    await focused(page, "create-review-title")
    await tab_to(page, "create-publish", limit=5)
    await page.keyboard.press("Enter")
    tender = await published_id(page, "tender")

    reply = await server.get(f"/api/v1/tenders/{tender}", token=server.officer)
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.json()
    assert (body["title"], body["threshold"], body["officers"]) == (
        "Printer paper 2027",
        2,
        ["officer-1", "officer-2"],
    )
    assert [(lot["id"], lot["title"]) for lot in body["lots"]] == [
        ("lot-1", "Paper"),
        ("lot-2", "Toner"),
    ]
    assert [lot["kinds"] for lot in body["lots"]] == [["technical", "financial"], ["financial"]]
    assert (body["criterion"], body["follow_up"]) == ("price", "award")
    assert [e for e in errors if not re.search(r"officer/tender|tender\.js", e)] == []
