"""RFC 9457 problems and the strict body parser: every code path of api/http/problems.py."""

from __future__ import annotations

import doctest
import json
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sanic.request import Request

import api.http.problems
from api.http.problems import (
    MAX_INT,
    PROBLEM_MEDIA_TYPE,
    Code,
    Problem,
    ProblemError,
    parse_body,
    parse_object,
    parse_rules,
    problem,
    problem_error_handler,
    problem_from_reason,
    problem_from_rejection,
    query_int,
    require_json,
    to_response,
)
from contracts.bounds import IDENT, Bound
from engine.events import Bound as EngineBound
from engine.events import BoundKind, CommandRejected
from engine.reasons import Reason


def test_doctests() -> None:
    assert doctest.testmod(api.http.problems).failed == 0


# ------------------------------------------------------------------------------ codes


def test_edge_codes_and_engine_reasons_never_overlap() -> None:
    assert not {c.value for c in Code} & {r.value for r in Reason}


@pytest.mark.parametrize("code", list(Code))
def test_every_code_has_an_error_status_and_a_title(code: Code) -> None:
    assert 400 <= code.status <= 599
    assert code.summary and code.summary[0].isupper()


def test_edge_statuses() -> None:
    assert Code.BAD_JSON.status == 400
    assert Code.INVALID_FIELD.status == 422
    assert Code.BODY_TOO_LARGE.status == 413
    assert Code.UNSUPPORTED_MEDIA_TYPE.status == 415
    assert Code.RATE_LIMITED.status == 429
    assert Code.IDEMPOTENCY_KEY_REUSED.status == 422
    assert Code.IDEMPOTENCY_KEY_IN_PROGRESS.status == 409
    assert Code.SHUTTING_DOWN.status == 503


# ---------------------------------------------------------------------------- Problem


def test_problem_serialises_standard_members_then_code_then_extensions() -> None:
    p = problem(
        Code.INVALID_FIELD,
        "expected a string",
        instance="/api/v1/auctions/a-1/bids",
        extra={"pointer": "/amount", "field": "amount"},
    )
    assert p.type == "https://gavel.dev/problems/invalid_field"
    assert list(p.to_dict()) == [
        "type",
        "title",
        "status",
        "detail",
        "instance",
        "code",
        "field",
        "pointer",
    ]
    assert json.loads(p.to_json()) == p.to_dict()
    assert p.to_json() == p.to_json()  # deterministic bytes, for idempotent replays
    assert b'": ' not in p.to_json() and b'", ' not in p.to_json()  # compact


def test_problem_without_instance_omits_it_and_keeps_non_ascii() -> None:
    p = problem(Code.NOT_FOUND, "no auction «a-1»")
    assert "instance" not in p.to_dict()
    assert "«a-1»".encode() in p.to_json()


def test_problem_is_hashable_and_its_mappings_read_only() -> None:
    extra = {"field": "amount"}
    p = problem(Code.INVALID_FIELD, "x", extra=extra, headers={"Allow": "GET"})
    extra["field"] = "changed"
    assert p.extra["field"] == "amount"
    with pytest.raises(TypeError):
        p.extra["field"] = "x"  # type: ignore[index]
    assert hash(p) == hash(problem(Code.INVALID_FIELD, "x", extra={"field": "other"}))
    assert p != problem(Code.INVALID_FIELD, "x", extra={"field": "other"})
    direct = Problem(400, "bad_json", "Malformed", "d")
    assert dict(direct.extra) == {} and dict(direct.headers) == {}


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"status": 200}, ValueError),
        ({"status": 600}, ValueError),
        ({"code": ""}, ValueError),
        ({"extra": {"status": 1}}, ValueError),
        ({"extra": {"type": "x", "code": "y"}}, ValueError),
        ({"retry_after": -1}, ValueError),
        ({"extra": {"when": object()}}, TypeError),
    ],
)
def test_problem_refuses_misuse(kwargs: dict[str, Any], error: type[Exception]) -> None:
    values: dict[str, Any] = {"status": 400, "code": "bad_json", "title": "t", "detail": "d"}
    with pytest.raises(error):
        Problem(**{**values, **kwargs})


@pytest.mark.parametrize(
    ("reason", "status", "title"),
    [
        (Reason.AUCTION_CLOSED, 409, "Auction closed"),
        (Reason.TOO_MANY_DECIMALS, 422, "Too many decimals"),
        (Reason.NOT_SUPPORTED, 422, "Not supported by format"),
    ],
)
def test_problem_from_reason(reason: Reason, status: int, title: str) -> None:
    p = problem_from_reason(reason, "detail", instance="/x", extra={"seq": 7})
    assert (p.status, p.code, p.title, p.instance) == (status, reason.value, title, "/x")
    assert p.status == reason.status_hint
    assert p.to_dict()["seq"] == 7
    assert p.type.endswith("/" + reason.value)


def test_problem_from_rejection_adds_the_bound_of_a_refused_amount() -> None:
    """RFC 9457 extension member ``bound``: the amount the detail names, for machines."""
    bounded = CommandRejected(
        3,
        10,
        "c",
        "PlaceBid",
        "ann",
        Reason.INSUFFICIENT_IMPROVEMENT,
        "at least 1150.00 EUR",
        EngineBound(BoundKind.MIN, 115000, "EUR"),
    )
    body = problem_from_rejection(bounded, extra={"seq": 3}).to_dict()
    assert (body["status"], body["code"], body["detail"]) == (
        422,
        "insufficient_improvement",
        "at least 1150.00 EUR",
    )
    assert body["bound"] == {
        "kind": "min",
        "amount": "1150.00",
        "amount_minor": 115000,
        "currency": "EUR",
    }
    assert body["seq"] == 3
    plain = CommandRejected(4, 11, "d", "PlaceBid", "ann", Reason.AUCTION_CLOSED, "")
    body = problem_from_rejection(plain).to_dict()
    assert "bound" not in body
    assert (body["status"], body["detail"]) == (409, "auction closed")


def test_problem_error_carries_the_problem() -> None:
    p = problem(Code.FORBIDDEN, "nope")
    error = ProblemError(p)
    assert error.problem is p
    assert str(error) == "403 forbidden: nope"


# ---------------------------------------------------------------------------- Sanic


def test_to_response() -> None:
    p = problem(Code.METHOD_NOT_ALLOWED, "use POST", headers={"Allow": "POST"})
    response = to_response(p)
    assert response.status == 405
    assert response.content_type == PROBLEM_MEDIA_TYPE
    assert response.body == p.to_json()
    assert response.headers["Allow"] == "POST"
    assert "Retry-After" not in response.headers


@pytest.mark.parametrize("code", [Code.RATE_LIMITED, Code.STORAGE_UNAVAILABLE])
def test_to_response_sends_retry_after(code: Code) -> None:
    response = to_response(problem(code, "later", retry_after=3))
    assert response.status == code.status
    assert response.headers["Retry-After"] == "3"


def test_error_handler_answers_problems_and_hides_other_errors() -> None:
    request = cast(Request, None)  # the handler never looks at it
    answered = problem_error_handler(request, ProblemError(problem(Code.NOT_FOUND, "gone")))
    assert answered.status == 404
    hidden = problem_error_handler(request, RuntimeError("password=hunter2"))
    assert hidden.status == 500
    assert hidden.body is not None and b"hunter2" not in hidden.body
    assert json.loads(hidden.body)["code"] == "internal_error"


# ---------------------------------------------------------------------- media types


@pytest.mark.parametrize(
    "value",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        'application/json;charset="UTF-8"',
        "application/json; foo=bar",
    ],
)
def test_require_json_accepts(value: str) -> None:
    require_json(value)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin-1",
    ],
)
def test_require_json_refuses(value: str | None) -> None:
    with pytest.raises(ProblemError) as caught:
        require_json(value)
    assert caught.value.problem.code == "unsupported_media_type"
    assert caught.value.problem.status == 415


# ---------------------------------------------------------------------- parse_body


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True)
class Lot:
    amount: Decimal
    label: str | None = None


@dataclass(frozen=True)
class Command:
    bidder: str
    amount: Decimal
    quantity: int
    proxy: bool
    side: Side
    lots: tuple[Lot, ...] = ()
    note: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    limit: Lot | None = None


GOOD: dict[str, Any] = {
    "bidder": "b-1",
    "amount": "12.50",
    "quantity": 3,
    "proxy": False,
    "side": "buy",
}


def body(**changes: Any) -> bytes:
    data = {**GOOD, **changes}
    return json.dumps({k: v for k, v in data.items() if v is not ...}).encode()


def refused(raw: bytes, schema: type[Any] = Command, **kwargs: Any) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        parse_body(raw, schema, **kwargs)
    return caught.value


def test_parse_body_builds_the_record_with_defaults() -> None:
    parsed = parse_body(body(), Command)
    assert parsed == Command("b-1", Decimal("12.50"), 3, False, Side.BUY)
    assert str(parsed.amount) == "12.50"  # exactly as written
    assert parsed.lots == () and parsed.tags == () and parsed.note is None


def test_parse_body_reads_every_supported_shape() -> None:
    raw = body(
        lots=[{"amount": "1"}, {"amount": "-0.5", "label": None}],
        note=None,
        tags=["a", "é"],
        limit={"amount": "99.999", "label": "cap"},
        side="sell",
        proxy=True,
        quantity=-MAX_INT,
    )
    parsed = parse_body(raw, Command)
    assert parsed.lots == (Lot(Decimal("1")), Lot(Decimal("-0.5")))
    assert parsed.tags == ("a", "é")
    assert parsed.limit == Lot(Decimal("99.999"), "cap")
    assert parsed.side is Side.SELL and parsed.proxy is True and parsed.quantity == -MAX_INT


def test_body_too_large() -> None:
    error = refused(body(), max_bytes=10)
    assert (error.problem.status, error.problem.code) == (413, "body_too_large")
    assert parse_body(body(), Command, max_bytes=len(body())) is not None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"\xff\xfe{}",
        b'{"bidder": "b", "bidder": "c"}',
        b'{"amount": NaN}',
        b'{"amount": Infinity}',
        b'{"quantity": -Infinity}',
        b"[" * 20_000 + b"]" * 20_000,
        b'{"quantity": ' + b"1" * 5000 + b"}",
        b"[]",
        b'"text"',
        b"null",
        b"12",
    ],
)
def test_bad_json(raw: bytes) -> None:
    error = refused(raw)
    assert (error.problem.status, error.problem.code) == (400, "bad_json")


def test_unknown_field_names_it_with_an_escaped_pointer() -> None:
    error = refused(body(**{"a/b~c": 1, "zzz": 2}))
    assert (error.problem.status, error.problem.code) == (422, "unknown_field")
    assert error.problem.extra == {"field": "a/b~c", "pointer": "/a~1b~0c"}


def test_missing_field() -> None:
    error = refused(body(side=...))
    assert error.problem.code == "missing_field"
    assert error.problem.extra == {"field": "side", "pointer": "/side"}


def test_nested_unknown_and_missing_fields() -> None:
    error = refused(body(lots=[{"amount": "1"}, {"amount": "2", "x": 1}]))
    assert error.problem.code == "unknown_field"
    assert error.problem.extra["pointer"] == "/lots/1/x"
    error = refused(body(limit={}))
    assert error.problem.code == "missing_field"
    assert error.problem.extra["pointer"] == "/limit/amount"


@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        ({"bidder": 7}, "/bidder"),
        ({"bidder": None}, "/bidder"),
        ({"bidder": "nul\x00"}, "/bidder"),
        ({"quantity": True}, "/quantity"),
        ({"quantity": 1.5}, "/quantity"),
        ({"quantity": "3"}, "/quantity"),
        ({"quantity": MAX_INT + 1}, "/quantity"),
        ({"quantity": -MAX_INT - 1}, "/quantity"),
        ({"proxy": 0}, "/proxy"),
        ({"proxy": "true"}, "/proxy"),
        ({"side": "BUY"}, "/side"),
        ({"side": 1}, "/side"),
        ({"lots": {"amount": "1"}}, "/lots"),
        ({"lots": ["1"]}, "/lots/0"),
        ({"lots": [{"amount": 1}]}, "/lots/0/amount"),
        ({"limit": []}, "/limit"),
        ({"tags": ["a", 1]}, "/tags/1"),
        ({"note": 5}, "/note"),
    ],
)
def test_invalid_field(changes: dict[str, Any], pointer: str) -> None:
    error = refused(body(**changes))
    assert (error.problem.status, error.problem.code) == (422, "invalid_field")
    assert error.problem.extra["pointer"] == pointer
    # `field` names the innermost member; array items name their array.
    assert error.problem.extra["field"] == [s for s in pointer.split("/") if not s.isdigit()][-1]


def test_lone_surrogate_is_an_invalid_field() -> None:
    error = refused(b'{"bidder": "\\ud800", "amount": "1", "quantity": 1, "proxy": true}')
    assert error.problem.code == "invalid_field"
    assert error.problem.extra["field"] == "bidder"
    assert "surrogate" in error.problem.detail


@pytest.mark.parametrize(
    "raw", [b'{"title": "\\ud800"}', b'{"\\udfff": 1}', b'{"lots": [{"note": "a\\udc00"}]}']
)
def test_parse_object_refuses_a_lone_surrogate_anywhere(raw: bytes) -> None:
    # A free-form body has no field-by-field check to name it; left in, a tender title
    # holding one failed when its event was encoded (a 500).
    with pytest.raises(ProblemError) as caught:
        parse_object(raw)
    assert (caught.value.problem.status, caught.value.problem.code) == (400, "bad_json")
    assert parse_object('{"title": "😀 \\ud83d\\ude00"}'.encode()) == {"title": "😀 😀"}


@pytest.mark.parametrize("amount", ["0", "12.50", "-3", "0.0001", "007.10", "1" * 64])
def test_decimal_amounts_accepted(amount: str) -> None:
    assert parse_body(body(amount=amount), Command).amount == Decimal(amount)


@pytest.mark.parametrize(
    "amount",
    [
        12.5,
        12,
        "",
        "1e3",
        "1E+2",
        " 12.5 ",
        "NaN",
        "Infinity",
        "+1",
        ".5",
        "1.",
        " 1",
        "1 ",
        "1_000",
        "١٢",
        "1,5",
        "1" * 65,
        "--1",
    ],
)
def test_decimal_amounts_refused(amount: Any) -> None:
    error = refused(body(amount=amount))
    assert error.problem.code == "invalid_field"
    assert error.problem.extra["field"] == "amount"
    assert '"12.50"' in error.problem.detail


def test_json_numbers_never_reach_a_decimal_field() -> None:
    # The literal 12.50 as a JSON number: refused, not silently turned into 12.5.
    error = refused(b'{"bidder":"b","amount":12.50,"quantity":1,"proxy":true,"side":"buy"}')
    assert error.problem.extra["field"] == "amount"


@dataclass
class NotSupported:
    size: float


@dataclass
class BadUnion:
    value: int | str


@dataclass
class BadTuple:
    pair: tuple[int, int]


@dataclass
class NestedBad:
    inner: NotSupported | None = None


@pytest.mark.parametrize("schema", [NotSupported, BadUnion, BadTuple, NestedBad, dict, int])
def test_unsupported_schemas_fail_on_first_use(schema: type[Any]) -> None:
    # Even a body that does not carry the bad field fails: the schema is checked whole.
    with pytest.raises(TypeError):
        parse_body(b"{}", schema)


def test_schema_instance_is_not_a_schema() -> None:
    with pytest.raises(TypeError):
        parse_body(b"{}", cast(Any, Lot(Decimal(1))))


@given(st.binary(max_size=300))
def test_fuzz_only_problems_escape_from_bytes(raw: bytes) -> None:
    try:
        parse_body(raw, Command)
    except ProblemError as error:
        assert error.problem.status in {400, 413, 422}


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    _containers,
    max_leaves=8,
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from([*GOOD, "lots", "limit", "tags", "x"]), _json))
def test_fuzz_only_problems_escape_from_objects(tree: dict[str, Any]) -> None:
    raw = json.dumps({**GOOD, **tree}).encode()
    try:
        parsed = parse_body(raw, Command)
    except ProblemError as error:
        assert error.problem.code in {"bad_json", "invalid_field", "missing_field", "unknown_field"}
    else:
        assert isinstance(parsed, Command)


# ------------------------------------------------------------------ numbers and bounds


@pytest.mark.parametrize(("text", "value"), [("1.0", 1), ("1e0", 1), ("7.8e1", 78), ("-0.0", 0)])
def test_a_number_without_a_fraction_is_an_integer(text: str, value: int) -> None:
    """As in JSON Schema (what the OpenAPI document says): JSON has one kind of number,
    and a client may write the integer 78 as 78.0. Exactly: no float rounding."""
    raw = body().replace(b'"quantity": 3', f'"quantity": {text}'.encode())
    assert parse_body(raw, Command).quantity == value


@pytest.mark.parametrize("text", ["1.5", "7258118399999999.7", "1e999999999", "1e-999999999"])
def test_a_number_with_a_fraction_or_out_of_range_is_not(text: str) -> None:
    raw = body().replace(b'"quantity": 3', f'"quantity": {text}'.encode())
    error = refused(raw)
    assert (error.problem.code, error.problem.extra["field"]) == ("invalid_field", "quantity")


@dataclass(frozen=True)
class Bounded:
    who: Annotated[str, IDENT]
    ttl: Annotated[int, Bound(minimum=1, maximum=10, description="seconds")] | None = None


def test_annotated_bounds_are_enforced_and_name_the_field() -> None:
    assert parse_body(b'{"who": "p-1", "ttl": 10}', Bounded) == Bounded("p-1", 10)
    assert parse_body(b'{"who": "p-1", "ttl": null}', Bounded).ttl is None
    for raw, name in [
        (b'{"who": "a b"}', "who"),
        (b'{"who": ""}', "who"),
        (b'{"who": "' + b"x" * 101 + b'"}', "who"),
        (b'{"who": "p", "ttl": 0}', "ttl"),
        (b'{"who": "p", "ttl": 11}', "ttl"),
    ]:
        error = refused(raw, Bounded)
        assert (error.problem.code, error.problem.extra["field"]) == ("invalid_field", name)
        assert error.problem.detail.startswith(f"{name} must be")


@dataclass(frozen=True)
class BadAnnotation:
    who: Annotated[str, "not a bound"]


def test_only_bounds_may_annotate_a_field() -> None:
    with pytest.raises(TypeError):
        parse_body(b"{}", BadAnnotation)


def test_parse_rules_names_the_field_with_the_right_code() -> None:
    rules = {
        "format": "english",
        "currency": "EUR",
        "starts_at": 10**30,
        "ends_at": 10**30 + 1,
        "start_price": "10.00",
        "step": {"amount": "1.00"},
    }
    with pytest.raises(ProblemError) as caught:
        parse_rules(rules)
    assert (caught.value.problem.status, caught.value.problem.code) == (422, "invalid_field")
    assert caught.value.problem.extra["field"] == "rules.starts_at"
    rules.update(starts_at=1_800_000_000_000_000, ends_at=1_800_000_001_000_000)
    with pytest.raises(ProblemError) as caught:
        parse_rules({**rules, "start_price": "10.001"})
    assert (caught.value.problem.status, caught.value.problem.code) == (422, "too_many_decimals")
    assert caught.value.problem.extra["field"] == "rules.start_price"
    assert parse_rules(rules).starts_at == 1_800_000_000_000_000


@pytest.mark.parametrize("raw", ["+5", " 5", "5 ", "1_0", "\u0665", "\u00b2", "-1", "", "1" * 17])
def test_query_int_takes_ascii_digits_only(raw: str) -> None:
    with pytest.raises(ProblemError) as caught:
        query_int({"after": raw}, "after")
    assert caught.value.problem.code == "invalid_field"
    assert caught.value.problem.extra["field"] == "after"


def test_query_int_bounds_defaults_and_requires() -> None:
    assert query_int({"n": "0"}, "n") == 0
    assert query_int({"n": "7"}, "n", top=7) == 7
    assert query_int({}, "n", default=3) == 3
    with pytest.raises(ProblemError) as caught:
        query_int({"n": "8"}, "n", top=7)
    assert caught.value.problem.code == "invalid_field"
    with pytest.raises(ProblemError) as caught:
        query_int({}, "n")
    assert caught.value.problem.code == "missing_field"
