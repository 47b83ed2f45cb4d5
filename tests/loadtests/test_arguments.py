"""The benchmarks' shared argument types."""

from __future__ import annotations

import argparse

import pytest

from loadtests.arguments import not_negative, positive


def test_positive_takes_one_and_more() -> None:
    assert positive("1") == 1 and positive("250") == 250
    for bad in ("0", "-3"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive(bad)
    with pytest.raises(ValueError):
        positive("many")


def test_not_negative_takes_zero_and_more() -> None:
    assert not_negative("0") == 0 and not_negative("2") == 2
    with pytest.raises(argparse.ArgumentTypeError):
        not_negative("-1")
