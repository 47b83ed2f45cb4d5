"""The websocket protocol: strict parsing, the wire form, and schemas that match it."""

from __future__ import annotations

import doctest
import json

import jsonschema
import pytest

from contracts import messages as m
from contracts.schema import all_schemas, json_schema
from engine.events import Bound, BoundKind

SAMPLES: list[object] = [
    m.Subscribe(since=7),
    m.Bid("r1", "12.50", "EUR"),
    m.Proxy("r2", "10.00", "EUR"),
    m.Accept("r3"),
    m.Accept("r4", "9.00", "EUR"),
    m.Withdraw("r5"),
    m.Pass("r6"),
    m.Welcome(m.PROTOCOL, "a1", "bidder", "Bidder 1", 3, 1_700_000_000_000_000),
    m.EventMessage(4, 1_700_000_000_000_001, {"type": "Redacted"}),
    m.Ack("r1", 5, 1, {"type": "BidAccepted"}),
    m.Reject("r1", "auction_closed", "too late", 6, 2),
    m.Heartbeat(6, 3, None),
    m.Reject(
        "r2",
        "insufficient_improvement",
        "at least 1150.00 EUR",
        7,
        3,
        {"kind": "min", "amount": "1150.00", "amount_minor": 115000, "currency": "EUR"},
    ),
    m.ErrorMessage("bad_json", "not JSON", 6, 4),
    m.Checkpoint(6, 5, 6, "00" * 32, "gavel/auction/a1\n6\nAAAA\n\n— gavel-audit x\n"),
]
REPLAY_CLIENT: list[object] = [
    m.Replay("q1"),
    m.Replay("q2", "10", 5),
    m.Seek("q3", 7),
    m.Pause("q4"),
    m.Resume("q5"),
    m.Resume("q6", "0.5"),
]
REPLAY_SERVER: list[object] = [
    m.ReplayEvent("q1", 3, 7, {"type": "BidAccepted", "seq": 3}),
    m.ReplayState("q1", "paused", 3, 9, "10", 8),
]


@pytest.mark.parametrize(
    "message", SAMPLES + REPLAY_CLIENT + REPLAY_SERVER, ids=lambda message: type(message).__name__
)
def test_every_message_validates_against_its_generated_schema(message: object) -> None:
    schema = json_schema(type(message))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(m.to_json(message)), schema)


@pytest.mark.parametrize(
    "message", SAMPLES[:7] + REPLAY_CLIENT, ids=lambda message: type(message).__name__
)
def test_client_messages_round_trip(message: object) -> None:
    assert m.from_json(m.to_json(message)) == message


def test_server_messages_parse_with_the_server_table() -> None:
    for message in SAMPLES[7:] + REPLAY_SERVER:
        assert m.from_json(m.to_json(message), m.SERVER_MESSAGES) == message


def test_replay_messages_are_their_own_types() -> None:
    """Replay frames are never ``event`` frames, and the reader tells replay requests
    from commands by type."""
    assert {m.Replay, m.Seek, m.Pause, m.Resume} == m.REPLAY_MESSAGES
    assert m.ReplayEvent("q", 1, 1, {}).type != m.EventMessage(1, 1, {}).type
    with pytest.raises(m.MessageError) as missing:
        m.from_json('{"type": "seek", "request_id": "q"}')
    assert missing.value.code == "missing_field"
    with pytest.raises(m.MessageError) as number:
        m.from_json('{"type": "replay", "request_id": "q", "speed": 10}')
    assert number.value.code == "invalid_field"  # speeds are decimal strings


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_message"),
        ('{"type": "shout"}', "unknown_type"),
        ('{"type": ["bid"]}', "unknown_type"),
        (
            '{"type": "bid", "request_id": "r", "amount": "1", "currency": "EUR", "x": 1}',
            "unknown_field",
        ),
        ('{"type": "bid", "request_id": "r", "currency": "EUR"}', "missing_field"),
        ('{"type": "bid", "request_id": "r", "amount": 12.5, "currency": "EUR"}', "invalid_field"),
        ('{"type": "subscribe", "since": "3"}', "invalid_field"),
        ('{"type": "subscribe", "since": true}', "invalid_field"),
        ('{"type": "accept", "request_id": "r", "expected": null}', None),
        # The size is the websocket layer's to refuse (close 1009), not the parser's.
        ("x" * (m.MAX_CLIENT_FRAME + 1), "bad_json"),
        ('{"type": "pass", "request_id": "' + "r" * m.MAX_CLIENT_FRAME + '"}', None),
        ("[" * 2000, "bad_json"),
        # Read as strictly as the HTTP bodies: twins, constants, only UTF-8 bytes.
        ('{"type": "pass", "request_id": "a", "request_id": "b"}', "bad_json"),
        ('{"type": "seek", "request_id": "a", "seq": NaN}', "bad_json"),
        ('{"type": "seek", "request_id": "a", "seq": Infinity}', "bad_json"),
        ('{"type": "seek", "request_id": "a", "seq": 1e999}', "invalid_field"),
        ('{"type": "pass", "request_id": "a"}'.encode("utf-16"), "bad_json"),
        (b'{"type": "pass", "request_id": "\xff"}', "bad_json"),
        (b'{"type": "pass", "request_id": "\xed\xa0\x80"}', "bad_json"),  # CESU-8
        (b'{"type": "pass", "request_id": "\xc3\xa9"}', None),
        # No string anywhere may hold NUL or a lone surrogate: no answer could echo it.
        ('{"type": "pass", "request_id": "\\ud800"}', "invalid_field"),
        ('{"type": "pass", "request_id": "\\udfffx"}', "invalid_field"),
        ('{"type": "pass", "request_id": "a\\u0000"}', "invalid_field"),
        ('{"type": "pass", "request_id": "\ud800"}', "invalid_field"),  # a str that holds one
        ('{"type": "shout\\ud800"}', "invalid_field"),
        ('{"type": "pass", "request_id": "a", "\\udc00": 1}', "invalid_field"),
        ('{"type": "pass", "x": [[{"y": ["\\ud800"]}]]}', "invalid_field"),
        # As deep as the parser goes, and the check of the strings still holds (iterative).
        ('{"type": "pass", "x": ' + "[" * 900 + '"é"' + "]" * 900 + "}", "unknown_field"),
        ('{"type": "pass", "request_id": "\\ud83d\\ude00"}', None),  # a pair: one character
    ],
)
def test_bad_frames_are_refused_with_a_code(frame: str | bytes, code: str | None) -> None:
    if code is None:
        assert isinstance(m.from_json(frame), m.Accept | m.Pass)
        return
    with pytest.raises(m.MessageError) as caught:
        m.from_json(frame)
    assert caught.value.code == code


def test_a_string_that_cannot_be_sent_is_named_in_the_error() -> None:
    for frame, named in [
        ('{"type": "bid", "request_id": "r", "amount": "1", "currency": "E\\ud800"}', "currency"),
        ('{"type": "pass", "request_id": "r", "\\ud800": 1}', "'\\ud800'"),
        ('{"type": "pass", "request_id": "r", "n\\u0000": 1}', "'n\\x00'"),
    ]:
        with pytest.raises(m.MessageError) as caught:
            m.from_json(frame)
        assert caught.value.code == "invalid_field"
        assert caught.value.detail.startswith(f"{named} holds NUL or a lone surrogate")
        caught.value.detail.encode()  # the error itself can always be sent
    with pytest.raises(m.MessageError) as twin:
        m.from_json('{"type": "pass", "request_id": "a", "request_id": "b"}')
    assert twin.value.detail == "the frame is not JSON: member 'request_id' appears more than once"


def test_amounts_are_strings_in_the_schemas() -> None:
    bid = json_schema(m.Bid)
    assert bid["properties"]["amount"] == {"type": "string"}
    assert bid["required"] == ["request_id", "amount", "currency", "type"]
    assert bid["additionalProperties"] is False


def test_all_schemas_names_every_wire_type() -> None:
    schemas = all_schemas()
    for cls in [*m.CLIENT_MESSAGES.values(), *m.SERVER_MESSAGES.values()]:
        assert cls.__name__ in schemas
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    body = schemas["BidBody"]
    assert body["properties"]["amount"]["pattern"] == r"^-?[0-9]+(\.[0-9]+)?$"


def test_a_rejects_bound_says_its_amount_in_major_and_minor_units() -> None:
    """``bound`` is optional (``null`` when no amount is named) and, when present, the
    engine's bound in both units: what the page and the docs read."""
    assert doctest.testmod(m).failed == 0
    assert json.loads(m.to_json(m.Reject("r", "auction_closed", "late", 1, 2)))["bound"] is None
    assert "bound" not in json_schema(m.Reject)["required"]
    for kind in BoundKind:
        for minor, currency, major in [
            (1, "JPY", "1"),
            (5, "EUR", "0.05"),
            (1234567, "KWD", "1234.567"),
        ]:
            member = m.bound_member(Bound(kind, minor, currency))
            assert member == {
                "kind": kind.value,
                "amount": major,
                "amount_minor": minor,
                "currency": currency,
            }
    assert m.bound_member(None) is None
