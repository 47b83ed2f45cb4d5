"""Argument types shared by the benchmarks' command lines (``argparse`` ``type=``)."""

from __future__ import annotations

import argparse

__all__ = ["not_negative", "positive"]


def positive(text: str) -> int:
    """``text`` as a whole number of at least 1, else argparse's usage error."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be positive (a whole number, 1 or more)")
    return value


def not_negative(text: str) -> int:
    """``text`` as a whole number of at least 0, else argparse's usage error."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value
