"""Signed checkpoints in the C2SP tlog-checkpoint / signed-note text format."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.checkpoint import (
    BadSignature,
    Checkpoint,
    CheckpointError,
    MalformedCheckpoint,
    UnknownKey,
    checkpoint_body,
    key_id,
    log_origin,
    parse_and_verify,
    parse_origin,
    parse_verifier_key,
    public_key_bytes,
    sign_checkpoint,
    verifier_key,
)
from contracts.transparency import root

# RFC 8032 test 1: a fixed key, so the signature bytes are deterministic.
SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
KEY = Ed25519PrivateKey.from_private_bytes(SEED)
PUBLIC = KEY.public_key()
NAME = "gavel-audit"
ORIGIN = log_origin("auction", "A-1")
ROOT = root([b"a", b"b", b"c"])


def signed(size: int = 3, digest: bytes = ROOT) -> str:
    return sign_checkpoint(ORIGIN, size, digest, NAME, KEY)


def test_layout() -> None:
    text = signed()
    body, _, sig = text.partition("\n\n")
    assert body.split("\n") == ["gavel/auction/A-1", "3", base64.b64encode(ROOT).decode()]
    assert sig.startswith("\u2014 gavel-audit ") and sig.endswith("\n")
    data = base64.b64decode(sig.split(" ")[2])
    assert len(data) == 4 + 64
    expected_id = hashlib.sha256(b"gavel-audit\n\x01" + public_key_bytes(PUBLIC)).digest()[:4]
    assert data[:4] == expected_id == key_id(NAME, PUBLIC)
    PUBLIC.verify(data[4:], (body + "\n").encode())


@pytest.mark.parametrize(
    ("kind", "stream_id", "prefix"),
    [("auction", "A-1", "gavel"), ("tender", "t-0a1b", "example.org/gavel"), ("auction", "x", "p")],
)
def test_an_origin_names_one_stream(kind: str, stream_id: str, prefix: str) -> None:
    assert parse_origin(log_origin(kind, stream_id, prefix)) == (prefix, kind, stream_id)


@pytest.mark.parametrize("origin", ["A-1", "auction/A-1", "/auction/A-1", "gavel//A-1", "a/b/"])
def test_an_origin_without_prefix_kind_and_id_is_refused(origin: str) -> None:
    with pytest.raises(MalformedCheckpoint, match="is not PREFIX/KIND/ID"):
        parse_origin(origin)


def test_round_trip() -> None:
    assert parse_and_verify(signed(), NAME, PUBLIC) == Checkpoint(ORIGIN, 3, ROOT)
    with_ext = sign_checkpoint(ORIGIN, 0, ROOT, NAME, KEY, extensions=("closed",))
    assert parse_and_verify(with_ext, NAME, PUBLIC).extensions == ("closed",)


def test_a_tampered_size_root_or_signature_is_refused() -> None:
    text = signed()
    with pytest.raises(BadSignature):
        parse_and_verify(text.replace("\n3\n", "\n4\n", 1), NAME, PUBLIC)
    other = base64.b64encode(root([b"a", b"b", b"x"])).decode()
    with pytest.raises(BadSignature):
        parse_and_verify(text.replace(base64.b64encode(ROOT).decode(), other), NAME, PUBLIC)
    with pytest.raises(BadSignature):
        parse_and_verify(text.replace(ORIGIN, "gavel/auction/A-2"), NAME, PUBLIC)
    line = text.rsplit("\n", 2)[1]
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[-1] ^= 1
    forged = text.replace(line.split(" ")[2], base64.b64encode(bytes(raw)).decode())
    with pytest.raises(BadSignature):
        parse_and_verify(forged, NAME, PUBLIC)


def test_another_key_is_not_the_expected_one() -> None:
    intruder = Ed25519PrivateKey.generate()
    text = sign_checkpoint(ORIGIN, 3, ROOT, NAME, intruder)
    with pytest.raises(UnknownKey):
        parse_and_verify(text, NAME, PUBLIC)
    with pytest.raises(UnknownKey):
        parse_and_verify(signed(), "someone-else", PUBLIC)
    # A witness's extra line is ignored; ours still decides.
    witness = sign_checkpoint(ORIGIN, 3, ROOT, "witness", intruder).split("\n\n")[1]
    assert parse_and_verify(signed() + witness, NAME, PUBLIC).size == 3


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("gavel\n3\n", "blank line"),
        ("gavel\n3", "ends with a newline"),
        ("gavel\n3\nAAAA\n", "blank line"),
        ("gavel\n3\n\n\u2014 gavel-audit AAAA\n", "origin, size and root"),
        ("\n3\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 n AAAAAA==\n", "origin"),
        ("g\n03\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 n AAAAAA==\n", "decimal"),
        ("g\n-1\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 n AAAAAA==\n", "decimal"),
        ("g\n1\nAAAA\n\n\u2014 n AAAAAA==\n", "32 bytes"),
        ("g\n1\n*AAA\n\n\u2014 n AAAAAA==\n", "base64"),
        ("g\n1\n" + base64.b64encode(ROOT).decode() + "\n\n", "no signature"),
        ("g\n1\n" + base64.b64encode(ROOT).decode() + "\n\n- n AAAAAA==\n", "em dash"),
        ("g\n1\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 nAAAAAA==\n", "name"),
        ("g\n1\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 n AAAA\n", "too short"),
        ("g\n1\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 n AAAAAB==\n", "canonical"),
    ],
)
def test_malformed_text_names_its_fault(text: str, why: str) -> None:
    with pytest.raises(MalformedCheckpoint, match=why):
        parse_and_verify(text, NAME, PUBLIC)


def test_limits_and_bad_arguments() -> None:
    body = "g\n1\n" + base64.b64encode(ROOT).decode() + "\n\n"
    with pytest.raises(MalformedCheckpoint, match="too many"):
        parse_and_verify(body + "\u2014 n AAAAAAAA\n" * 101, NAME, PUBLIC)
    with pytest.raises(MalformedCheckpoint, match="too large"):
        parse_and_verify("x" * (1 << 21), NAME, PUBLIC)
    with pytest.raises(MalformedCheckpoint, match="extension"):
        parse_and_verify(body.replace("\n\n", "\n\n\n") + "\u2014 n AAAAAA==\n", NAME, PUBLIC)
    for bad in [("", 1, ROOT), ("a\nb", 1, ROOT), ("o", -1, ROOT), ("o", 1, b"short")]:
        with pytest.raises(MalformedCheckpoint):
            checkpoint_body(*bad)
    with pytest.raises(MalformedCheckpoint):
        checkpoint_body("o", 1, ROOT, ("",))
    for name in ("", "a b", "a+b"):
        with pytest.raises(CheckpointError):
            sign_checkpoint(ORIGIN, 1, ROOT, name, KEY)


def test_verifier_key_round_trip() -> None:
    text = verifier_key(NAME, PUBLIC)
    name, hex_id, _ = text.split("+", 2)
    assert (name, hex_id) == (NAME, key_id(NAME, PUBLIC).hex())
    parsed_name, parsed = parse_verifier_key(text)
    assert parsed_name == NAME and public_key_bytes(parsed) == public_key_bytes(PUBLIC)
    for bad in ("nokey", f"{NAME}+00000000+" + text.split("+", 2)[2], f"{NAME}+{hex_id}+AAAA"):
        with pytest.raises(MalformedCheckpoint):
            parse_verifier_key(bad)


@settings(deadline=None)
@given(st.integers(0, 2**63), st.binary(min_size=32, max_size=32), st.text(min_size=1))
def test_any_checkpoint_round_trips(size: int, digest: bytes, origin: str) -> None:
    origin = origin.replace("\n", "").strip() or "o"
    text = sign_checkpoint(origin, size, digest, NAME, KEY)
    assert parse_and_verify(text, NAME, PUBLIC) == Checkpoint(origin, size, digest)
