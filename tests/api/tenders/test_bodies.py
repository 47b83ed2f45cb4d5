"""Tender request bodies (:mod:`api.tenders.bodies`): what each parser takes, what it
refuses and with which error, in which order; and that nothing but a documented
:class:`~api.tenders.errors.BodyError` ever escapes them. No server, no database.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from api.tenders import bodies
from api.tenders.errors import (
    BodyError,
    InvalidCriterion,
    InvalidField,
    MissingField,
    TenderError,
    UnknownField,
)
from contracts import custody, sealing
from contracts.bounds import TIME
from engine.tender_records import (
    Criterion,
    EnvelopeKind,
    Feature,
    FollowUp,
    LotSpec,
    Officer,
    Publication,
)

KEY = "ab" * 32
T0 = 4_102_444_800_000_000


def create_body(**extra: Any) -> dict[str, Any]:
    return {
        "title": "Road repairs",
        "currency": "EUR",
        "officers": [{"id": "o1", "public_key": KEY}],
        "threshold": 1,
        "lots": [{"id": "L1", "deadline": T0, "opening_at": T0}],
        **extra,
    }


def test_a_create_body_becomes_its_spec_with_the_defaults() -> None:
    tender_id, spec = bodies.tender_spec(create_body(id="t-1"))
    assert tender_id == "t-1"
    assert spec.title == "Road repairs" and spec.currency == "EUR" and spec.threshold == 1
    assert spec.officers == (Officer("o1", KEY),)
    assert spec.lots == (LotSpec("L1", "", T0, T0, (EnvelopeKind.FINANCIAL,)),)
    assert spec.publication is Publication.COMMITTEE and spec.follow_up is FollowUp.AWARD
    assert spec.auction_rules == "" and spec.criterion is Criterion.PRICE and spec.features == ()


def test_a_create_body_without_id_gets_a_fresh_one_and_keeps_every_option() -> None:
    first, spec = bodies.tender_spec(
        create_body(
            publication="public",
            follow_up="auction",
            auction_rules={"format": "multiround", "b": 1, "a": [2]},
            criterion="meat",
            features=[{"name": "q", "weight": "0.25", "maximum": "10"}],
            lots=[
                {
                    "id": "L1",
                    "title": "North",
                    "deadline": T0,
                    "opening_at": T0 + 1,
                    "kinds": ["technical", "financial"],
                }
            ],
        )
    )
    second, _ = bodies.tender_spec(create_body())
    assert first.startswith("t-") and len(first) == 14 and first != second
    assert spec.publication is Publication.PUBLIC and spec.follow_up is FollowUp.AUCTION
    # The template is kept as canonical JSON: sorted keys, no spaces.
    assert spec.auction_rules == '{"a":[2],"b":1,"format":"multiround"}'
    assert spec.criterion is Criterion.MEAT
    assert spec.features == (Feature("q", spec.features[0].weight, spec.features[0].maximum),)
    assert str(spec.features[0].weight) == "0.25"
    assert spec.lots[0].title == "North"
    assert spec.lots[0].kinds == (EnvelopeKind.TECHNICAL, EnvelopeKind.FINANCIAL)


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"extra": 1}, UnknownField, "extra"),
        ({"title": None}, InvalidField, "title"),
        ({"id": "t 1"}, InvalidField, "id"),
        ({"id": "x" * 201}, InvalidField, "id"),
        ({"officers": []}, InvalidField, "officers"),
        ({"officers": [{"id": "o1"}]}, InvalidField, "officers"),
        ({"officers": [{"id": "o1", "public_key": "ab" * 31}]}, InvalidField, "officers"),
        (
            {"officers": [{"id": "o1", "public_key": " " + "ab" * 31 + "a"}]},
            InvalidField,
            "officers",
        ),
        ({"officers": [{"id": "o/1", "public_key": KEY}]}, InvalidField, "id"),
        ({"lots": {}}, InvalidField, "lots"),
        ({"lots": [1]}, InvalidField, "lots"),
        ({"lots": [{"id": "L1", "deadline": T0}]}, MissingField, "opening_at"),
        ({"lots": [{"id": "L1", "deadline": T0, "opening_at": T0, "x": 1}]}, UnknownField, "x"),
        ({"lots": [{"id": "L1", "deadline": True, "opening_at": T0}]}, InvalidField, "deadline"),
        ({"lots": [{"id": "L1", "deadline": 10**30, "opening_at": T0}]}, InvalidField, "deadline"),
        (
            {"lots": [{"id": "L1", "deadline": T0, "opening_at": T0, "kinds": "financial"}]},
            InvalidField,
            "lots.kinds",
        ),
        (
            {"lots": [{"id": "L1", "deadline": T0, "opening_at": T0, "kinds": ["x"]}]},
            InvalidField,
            "lots.kinds",
        ),
        (
            {"lots": [{"id": "L1", "deadline": T0, "opening_at": T0, "title": 3}]},
            InvalidField,
            "title",
        ),
        ({"threshold": "1"}, InvalidField, "threshold"),
        ({"currency": ""}, InvalidField, "currency"),
        ({"publication": "secret"}, InvalidField, "publication"),
        ({"follow_up": "lottery"}, InvalidField, "publication"),
    ],
)
def test_a_create_body_is_refused_naming_the_member_at_fault(
    change: dict[str, Any], error: type[BodyError], field: str
) -> None:
    with pytest.raises(error) as raised:
        bodies.tender_spec(create_body(**change))
    assert type(raised.value) is error and raised.value.field == field
    assert str(raised.value)


def test_unknown_members_are_named_before_missing_ones_each_the_first_sorted() -> None:
    with pytest.raises(UnknownField) as unknown:
        bodies.tender_spec({"zz": 1, "aa": 2})
    assert unknown.value.field == "aa" and str(unknown.value) == "unknown field 'aa'"
    with pytest.raises(MissingField) as missing:
        bodies.tender_spec({"title": "t"})
    assert missing.value.field == "currency" and str(missing.value) == "currency is required"


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"criterion": "cheapest"}, "criterion must be one of"),
        ({"features": {}}, "features must be an array of at most"),
        ({"features": [{"name": "q"}]}, "each feature is {name, weight, maximum}"),
        ({"features": [{"name": "q", "weight": 1, "maximum": "1"}]}, "weight must be a plain"),
        ({"features": [{"name": "q", "weight": "1", "maximum": "1e2"}]}, "maximum must be a plain"),
    ],
)
def test_a_criterion_of_the_wrong_form_is_the_engines_invalid_tender(
    extra: dict[str, Any], words: str
) -> None:
    with pytest.raises(InvalidCriterion) as raised:
        bodies.tender_spec(create_body(criterion=extra.pop("criterion", "meat"), **extra))
    assert words in str(raised.value) and raised.value.field is None


def test_a_time_is_an_integer_within_the_apis_bound() -> None:
    assert bodies.time_value({"t": T0}, "t") == T0
    for bad in (1.0, "1", None, True, TIME.maximum + 1 if TIME.maximum is not None else -1):
        with pytest.raises(InvalidField) as raised:
            bodies.time_value({"t": bad}, "t")
        assert str(raised.value).startswith("t: must be an integer")


def test_schedule_exclusion_and_hand_off_bodies() -> None:
    assert bodies.schedule({"deadline": T0, "opening_at": T0 + 1}) == (T0, T0 + 1)
    with pytest.raises(MissingField):
        bodies.schedule({"deadline": T0})
    assert bodies.exclusion({"bidder": "ann"}) == ("ann", "")
    assert bodies.exclusion({"bidder": "ann", "note": "n" * 2000})[1] == "n" * 1000
    with pytest.raises(InvalidField):
        bodies.exclusion({"bidder": "ann", "note": 5})
    handed = bodies.hand_off({"rules": {"format": "multiround"}}, "t" * 90, "L" * 20)
    assert handed.auction_id == ("t" * 90 + "-" + "L" * 20)[:100]
    assert handed.rules == {"format": "multiround"}
    assert bodies.hand_off({"rules": 1, "auction_id": "a-1"}, "t", "L").auction_id == "a-1"
    with pytest.raises(InvalidField):
        bodies.hand_off({"rules": 1, "auction_id": "a 1"}, "t", "L")


def test_an_envelope_body_decodes_standard_base64_and_its_size_is_checked_apart() -> None:
    size = min(sealing.ENVELOPE_SIZES)
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    sent = bodies.submission(
        {"kind": "financial", "ciphertext": base64.b64encode(data).decode(), "deadline": T0}
    )
    assert sent == bodies.Submission(EnvelopeKind.FINANCIAL, data, T0)
    bodies.sealed_size(data)
    with pytest.raises(InvalidField) as raised:
        bodies.sealed_size(data[:-1])
    assert raised.value.field == "ciphertext" and f"{size - 1} bytes" in str(raised.value)
    for bad in ("not base64!", 5, "YQ"):
        with pytest.raises(InvalidField) as raised:
            bodies.submission({"kind": "financial", "ciphertext": bad})
        assert str(raised.value) == "ciphertext: must be standard base64"
    with pytest.raises(InvalidField) as raised:
        bodies.submission({"kind": "price", "ciphertext": ""})
    assert raised.value.field == "kind"


def test_a_share_that_does_not_parse_is_no_error_but_says_why() -> None:
    malformed = bodies.share({"kind": "technical", "share": []})
    assert malformed.kind is EnvelopeKind.TECHNICAL and malformed.share is None
    assert malformed.problem == "malformed: share must be an object"
    wrong = bodies.share({"kind": "financial", "share": {"type": "gavel-share/v1"}})
    assert wrong.share is None and wrong.problem
    with pytest.raises(MissingField):
        bodies.share({"kind": "financial"})


def test_a_share_that_parses_is_handed_on() -> None:
    keys = custody.generate_officer_keys()
    private, _ = custody.generate_opening_key()
    signer = Ed25519PrivateKey.generate()
    [encrypted] = custody.split_key(
        bytearray(private), 1, {"o1": keys.encryption_public}, signer, "t-1"
    )
    share = custody.decrypt_share(
        encrypted,
        keys.encryption_private,
        ceremony_public=signer.public_key().public_bytes_raw(),
        tender_id="t-1",
    )
    sent = bodies.share({"kind": "financial", "share": share.to_json()})
    assert sent == bodies.ShareBody(EnvelopeKind.FINANCIAL, share, "")


#: Any JSON value, for the fuzz below.
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
#: Bodies near a valid one: its members, each maybe replaced by junk, maybe dropped.
_NEAR = st.fixed_dictionaries(
    {},
    optional={
        name: _JSON | st.just(value)
        for name, value in create_body(
            id="t-1", criterion="meat", features=[{"name": "q", "weight": "1", "maximum": "2"}]
        ).items()
    },
)


@settings(max_examples=300, deadline=None)
@given(tree=st.dictionaries(st.text(max_size=12), _JSON) | _NEAR)
def test_only_documented_errors_escape_the_parsers(tree: dict[str, Any]) -> None:
    for parse in (
        bodies.tender_spec,
        bodies.schedule,
        bodies.submission,
        bodies.share,
        bodies.exclusion,
        lambda body: bodies.hand_off(body, "t", "L"),
    ):
        try:
            parse(tree)
        except BodyError as error:
            assert isinstance(error, TenderError) and str(error)
