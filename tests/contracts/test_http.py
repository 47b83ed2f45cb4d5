"""The HTTP request bodies: frozen slotted dataclasses, which fields are required, and the
token lifetime's range."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from decimal import Decimal

import pytest

from contracts import http
from contracts.bounds import Bound


def _bodies() -> list[type[object]]:
    return [getattr(http, name) for name in http.__all__]


def test_all_names_every_body_defined_here() -> None:
    defined = {
        name
        for name, value in vars(http).items()
        if inspect.isclass(value) and value.__module__ == http.__name__
    }
    assert set(http.__all__) == defined


@pytest.mark.parametrize("cls", _bodies(), ids=lambda cls: cls.__name__)
def test_each_body_is_a_frozen_slotted_dataclass(cls: type[object]) -> None:
    assert dataclasses.is_dataclass(cls)
    assert "__slots__" in vars(cls)
    params = cls.__dataclass_params__
    assert params.frozen
    assert cls.__doc__


def _required(cls: type[object]) -> list[str]:
    return [
        field.name
        for field in dataclasses.fields(cls)
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
    ]


@pytest.mark.parametrize(
    ("cls", "required"),
    [
        (http.RegisterBidderBody, ["party"]),
        (http.BidBody, ["amount", "currency"]),
        (http.ProxyBody, ["limit", "currency"]),
        (http.AcceptBody, []),
        (http.EmptyBody, []),
        (http.DisqualifyBody, ["bidder"]),
        (http.CancelBody, []),
        (http.TokenBody, ["role", "party"]),
    ],
)
def test_required_fields_are_those_without_a_default(
    cls: type[object], required: list[str]
) -> None:
    assert _required(cls) == required


def test_defaults_and_immutability() -> None:
    bid = http.BidBody(amount=Decimal("12.50"), currency="EUR")
    with pytest.raises(dataclasses.FrozenInstanceError):
        bid.amount = Decimal(1)
    assert http.CancelBody().note == "" and http.DisqualifyBody("b-1").note == ""
    register = http.RegisterBidderBody("p-1")
    assert (register.name, register.coefficient, register.cost, register.initial_bid) == (
        None,
        None,
        None,
        None,
    )
    token = http.TokenBody("observer", "press")
    assert (token.auction, token.ttl_s) == (None, None)


def test_a_token_lives_from_0_to_one_week() -> None:
    hints = typing.get_type_hints(http.TokenBody, include_extras=True)
    ttl = typing.get_args(hints["ttl_s"])[0]  # TokenTtl | None
    (bound,) = [extra for extra in typing.get_args(ttl)[1:] if isinstance(extra, Bound)]
    assert bound.problem(0) is None and bound.problem(7 * 86_400) is None
    assert bound.problem(-1) == "must be within 0..604800 (seconds; 0 for the default)"
    assert bound.problem(7 * 86_400 + 1) is not None
