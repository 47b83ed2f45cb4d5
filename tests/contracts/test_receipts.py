"""Receipts: signed by the server, verifiable offline, any change detected."""

from __future__ import annotations

import dataclasses
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given
from hypothesis import strategies as st

from contracts.receipts import (
    Receipt,
    ReceiptError,
    SignedReceipt,
    key_id,
    sign_receipt,
    verify_receipt,
)
from contracts.sealing import commitment

SERVER = ed25519.Ed25519PrivateKey.generate()
SERVER_PUBLIC = SERVER.public_key().public_bytes_raw()


def receipt(**changes: object) -> Receipt:
    fields: dict[str, object] = {
        "tender_id": "T-1",
        "lot_id": "L-1",
        "kind": "financial",
        "bidder_id": "acme",
        "commitment": commitment(b"ciphertext"),
        "received_at_us": 1_767_225_599_999_999,
        "seq": 7,
        "server_key_id": key_id(SERVER_PUBLIC),
    }
    fields.update(changes)
    return Receipt(**fields)  # type: ignore[arg-type]


def test_sign_then_verify() -> None:
    signed = sign_receipt(receipt(), SERVER)
    assert verify_receipt(signed, SERVER_PUBLIC) == receipt()
    assert len(signed.signature) == 64


def test_json_form_round_trips_and_verifies_offline() -> None:
    signed = sign_receipt(receipt(action="withdrawn"), SERVER)
    text = json.dumps(signed.to_json())
    again = SignedReceipt.from_json(text)
    assert again == signed
    assert verify_receipt(again, SERVER_PUBLIC).action == "withdrawn"
    assert json.loads(text)["receipt"]["type"] == "gavel-receipt/v1"


def test_signed_bytes_are_label_and_canonical_json() -> None:
    data = receipt().signed_bytes()
    label, _, body = data.partition(b"\n")
    assert label == b"gavel/receipt/v1"
    assert body == json.dumps(receipt().to_json(), sort_keys=True, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "change",
    [
        {"tender_id": "T-2"},
        {"lot_id": "L-2"},
        {"kind": "technical"},
        {"bidder_id": "rival"},
        {"commitment": commitment(b"other")},
        {"received_at_us": 1_767_225_599_999_998},
        {"seq": 8},
        {"action": "withdrawn"},
    ],
)
def test_any_changed_field_fails_verification(change: dict[str, object]) -> None:
    signed = sign_receipt(receipt(), SERVER)
    altered = dataclasses.replace(signed, receipt=dataclasses.replace(signed.receipt, **change))
    with pytest.raises(ReceiptError) as caught:
        verify_receipt(altered, SERVER_PUBLIC)
    assert caught.value.reason == "bad_signature"


def test_another_server_key_fails() -> None:
    signed = sign_receipt(receipt(), SERVER)
    other = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    with pytest.raises(ReceiptError) as caught:
        verify_receipt(signed, other)
    assert caught.value.reason == "wrong_key"
    # A receipt claiming the other key's id but signed by ours still fails.
    claimed = dataclasses.replace(
        signed, receipt=dataclasses.replace(signed.receipt, server_key_id=key_id(other))
    )
    with pytest.raises(ReceiptError) as caught:
        verify_receipt(claimed, other)
    assert caught.value.reason == "bad_signature"
    with pytest.raises(ReceiptError) as caught:
        verify_receipt(signed, b"short")
    assert caught.value.reason == "malformed"


def test_signing_with_a_key_the_receipt_does_not_name_is_refused() -> None:
    with pytest.raises(ReceiptError) as caught:
        sign_receipt(receipt(), ed25519.Ed25519PrivateKey.generate())
    assert caught.value.reason == "wrong_key"


@pytest.mark.parametrize(
    "change",
    [
        {"tender_id": ""},
        {"bidder_id": "\ud800"},
        {"lot_id": "a\nb"},
        {"commitment": "ABC"},
        {"commitment": "A" * 64},
        {"server_key_id": "xyz"},
        {"received_at_us": -1},
        {"seq": True},
        {"seq": 1.0},
        {"action": "opened"},
    ],
)
def test_invalid_receipts_cannot_be_built(change: dict[str, object]) -> None:
    with pytest.raises(ReceiptError) as caught:
        receipt(**change)
    assert caught.value.reason == "malformed"


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"receipt": {}}',
        '{"receipt": {}, "signature": "00"}',
        '{"receipt": {"type": "x"}, "signature": "' + "0" * 128 + '"}',
        '{"receipt": [], "signature": "' + "0" * 128 + '"}',
    ],
)
def test_malformed_json_is_refused(body: str) -> None:
    with pytest.raises(ReceiptError) as caught:
        SignedReceipt.from_json(body)
    assert caught.value.reason == "malformed"


def test_unknown_or_missing_receipt_fields_are_refused() -> None:
    signed = sign_receipt(receipt(), SERVER).to_json()
    extra = {**signed, "receipt": {**signed["receipt"], "price": 1}}
    with pytest.raises(ReceiptError):
        SignedReceipt.from_json(extra)
    missing = {**signed, "receipt": {k: v for k, v in signed["receipt"].items() if k != "seq"}}
    with pytest.raises(ReceiptError):
        SignedReceipt.from_json(missing)


@given(
    st.text(min_size=1, max_size=20).filter(str.isprintable),
    st.text(min_size=1, max_size=20).filter(str.isprintable),
    st.integers(0, 2**63),
    st.integers(0, 2**40),
)
def test_round_trip_any_identifiers(tender: str, bidder: str, at: int, seq: int) -> None:
    signed = sign_receipt(
        receipt(tender_id=tender, bidder_id=bidder, received_at_us=at, seq=seq), SERVER
    )
    again = SignedReceipt.from_json(json.dumps(signed.to_json()))
    assert verify_receipt(again, SERVER_PUBLIC) == signed.receipt
