"""The Locust users' frames and the seq check, without a socket."""

from __future__ import annotations

import json

import pytest

from loadtests.scenarios.protocol import SeqCheck, bid, read, subscribe


def test_frames_carry_decimal_strings_in_major_units() -> None:
    assert json.loads(subscribe(7)) == {"type": "subscribe", "since": 7}
    frame = json.loads(bid("r1", 12345, "EUR"))
    assert frame == {"type": "bid", "request_id": "r1", "amount": "123.45", "currency": "EUR"}
    assert json.loads(bid("r2", 5, "JPY"))["amount"] == "5"


def test_read_takes_only_objects_with_a_type() -> None:
    assert read(b'{"type": "ack", "seq": 3}') == {"type": "ack", "seq": 3}
    for text in ("[1]", '{"seq": 1}', '{"type": 1}'):
        with pytest.raises(ValueError):
            read(text)


def test_seq_check_names_gaps_duplicates_and_reordering_once() -> None:
    check = SeqCheck()
    assert [check.observe(seq) for seq in (1, 2, 3)] == [None, None, None]
    assert check.observe(6) == "gap: expected seq 4, got 6 (2 missing)"
    assert check.observe(7) is None  # one gap, one report
    assert check.observe(7) == "duplicate: seq 7 after 7"
    assert check.observe(5) == "out of order: seq 5 after 7"
    assert check.last == 7  # the since to resume with


def test_seq_check_resumes_from_since() -> None:
    check = SeqCheck(last=40)
    assert check.observe(41) is None
    assert check.observe(43) is not None
