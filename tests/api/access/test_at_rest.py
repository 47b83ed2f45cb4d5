"""Secrets kept at rest (:mod:`api.access.at_rest`): sealed with a key derived from the signing
key, opened only with it."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.access.at_rest import PREFIX, AtRest, SealBroken


def test_a_sealed_value_opens_with_the_same_key_only() -> None:
    key = Ed25519PrivateKey.generate()
    at_rest = AtRest(key)
    sealed = at_rest.seal("eyJ0b2tlbiI6MX0.sig")
    assert sealed.startswith(PREFIX) and "eyJ0b2tlbiI6MX0" not in sealed
    assert at_rest.seal("eyJ0b2tlbiI6MX0.sig") != sealed  # a fresh nonce each time
    assert AtRest(key).open(sealed) == "eyJ0b2tlbiI6MX0.sig"  # derived, not random
    with pytest.raises(SealBroken):
        AtRest(Ed25519PrivateKey.generate()).open(sealed)
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    for broken in (tampered, "plain", PREFIX + "!!!"):
        with pytest.raises(SealBroken):
            at_rest.open(broken)


def test_only_the_secret_fields_of_an_answer_are_sealed_and_opened() -> None:
    at_rest = AtRest(Ed25519PrivateKey.generate())
    answer = {"bidder": "acme", "label": "Bidder 1", "seq": 3, "token": "t0k3n.sig"}
    sealed = at_rest.seal_fields(answer)
    assert {k: v for k, v in sealed.items() if k != "token"} == {
        k: v for k, v in answer.items() if k != "token"
    }
    assert sealed["token"].startswith(PREFIX)
    raw = json.dumps(sealed, separators=(",", ":")).encode()
    assert b"t0k3n" not in raw
    assert json.loads(at_rest.open_fields(raw)) == answer
    # Answers without secrets pass through untouched, bytes and all.
    assert at_rest.seal_fields([1, 2]) == [1, 2]
    plain = b'{"seq":4,"event":{"type":"BidAccepted"}}'
    assert at_rest.open_fields(plain) is plain


def test_the_tokens_of_a_hand_off_are_sealed_one_by_one() -> None:
    at_rest = AtRest(Ed25519PrivateKey.generate())
    answer = {"seq": 9, "auction_id": "t-1-L1", "tokens": {"ann": "a.sig", "bob": "b.sig"}}
    sealed = at_rest.seal_fields(answer)
    assert all(value.startswith(PREFIX) for value in sealed["tokens"].values())
    raw = json.dumps(sealed, separators=(",", ":")).encode()
    assert b"a.sig" not in raw and b"b.sig" not in raw
    assert json.loads(at_rest.open_fields(raw)) == answer
