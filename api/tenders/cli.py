"""``gavel tender …``: each step of a sealed tender from a terminal, offline, on files.

Subcommands (``gavel tender SUBCOMMAND --help`` for the details):

- ``keygen-officer --out KEY.json`` makes an officer's key file (X25519 to receive a
  share, Ed25519 to sign) with mode 0600 and prints its public half as JSON.
- ``ceremony --tender T --k K --officer ID=PUB … --out-dir DIR`` runs an offline key
  ceremony: a fresh opening key split k of n among the officers; writes
  ``DIR/tender.json`` (opening and ceremony public keys) and ``DIR/shares/ID.json``
  (each share sealed to its officer); the opening private key is never written.
- ``seal --tender-key PUB --tender T --lot L --kind K --bidder B --deadline-us N
  --amount DEC --currency CUR [--feature NAME=DEC …] [--cost DEC] [--document FILE …]
  --out ENVELOPE.json`` seals an offer (the price and the life-cycle cost in major units,
  ``--amount 123.45 --cost 5.00``, as on the wire); prints the envelope's commitment.
- ``submit ENVELOPE.json --url URL --token TOKEN [--out RECEIPT.json] [--server-key
  PUB]`` uploads a sealed envelope to a running server (the raw upload route, with an
  ``Idempotency-Key`` derived from the commitment, so a retry is safe), writes the signed
  receipt, and with ``--server-key`` verifies it before reporting success.
- ``hand-in --url URL --token TOKEN --officer-key KEY.json --tender T --lot L [--kind
  K]`` is an officer's step at the opening against a running server: fetch the share,
  check the server's signature, decrypt it and hand it in (the k-th opens the stage).
- ``decrypt-share --officer-key KEY.json --share SHARE.json --ceremony-key PUB --out
  FILE`` is an officer's step at the opening: checks and decrypts their share into the
  form they submit.
- ``verify-receipt RECEIPT.json --server-key PUB [--envelope ENVELOPE.json]`` checks a
  receipt offline; exit status 0 if it verifies (and matches the envelope), else 1.
- ``open --tender-key PUB --ceremony-key PUB (--officer KEY.json SHARE.json | --share
  DECRYPTED.json) … ENVELOPE.json …`` rebuilds the key from k shares, opens every
  envelope and prints one JSON line per envelope (``opened`` with the offer, or
  ``invalid`` with the reason); the key is wiped afterwards.

Keys on the command line are raw keys in lowercase hex (64 digits). Exit status: 0 done,
1 a cryptographic or file error (printed as ``gavel tender: REASON: detail``), 2 usage.

Extending: :func:`build_parser` gives one subparser per subcommand, each made by an
``_add_<name>`` function that sets ``run``. Only ``submit`` and ``hand-in`` talk to a
server (:func:`_call`).
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from cryptography.hazmat.primitives.asymmetric import ed25519

from contracts.custody import (
    CustodyError,
    EncryptedShare,
    OfficerKeys,
    Share,
    combine,
    decrypt_share,
    generate_officer_keys,
    generate_opening_key,
    split_key,
    wipe,
)
from contracts.receipts import Receipt, ReceiptError, SignedReceipt, verify_receipt
from contracts.sealing import (
    ENVELOPE_KINDS,
    Offer,
    SealError,
    commitment,
    decode_offer,
    encode_offer,
    envelope_info,
    offer_amount,
    open_envelope,
    seal,
)

__all__ = ["build_parser", "main", "read_envelope", "envelope_json"]

_ENVELOPE_TYPE = "gavel-envelope/v1"
_PLAIN_MAJOR = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?")
_TENDER_TYPE = "gavel-tender-keys/v1"


class _CommandError(Exception):
    """A failure to report as ``REASON: detail`` with exit status 1."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gavel tender`` with ``argv`` and return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace, TextIO], int] | None = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return run(args, sys.stdout)
    except (SealError, CustodyError, ReceiptError, _CommandError) as exc:
        reason = getattr(exc, "reason", "error")
        detail = getattr(exc, "detail", str(exc))
        print(f"gavel tender: {reason}: {detail}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"gavel tender: file_error: {exc}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    """The ``gavel tender`` parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="gavel tender",
        description="Sealed tenders from a terminal: officer keys, sealing offers, "
        "verifying receipts, the key ceremony and the opening.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in (
        _add_keygen_officer,
        _add_ceremony,
        _add_seal,
        _add_submit,
        _add_hand_in,
        _add_decrypt_share,
        _add_verify_receipt,
        _add_open,
    ):
        add(commands)
    return parser


# ------------------------------------------------------------------------- arguments


def _key(text: str) -> bytes:
    """A raw 32-byte key given as 64 hex digits."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise argparse.ArgumentTypeError("a key is 64 hex digits (32 raw bytes)")
    return raw


def _major(text: str) -> str:
    if not _PLAIN_MAJOR.fullmatch(text):
        raise argparse.ArgumentTypeError(
            "an amount is a plain non-negative decimal in major units, e.g. 123.45"
        )
    return text


def _feature(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError("a feature is NAME=DECIMAL")
    return name, value


def _officer_key(text: str) -> tuple[str, bytes]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError("an officer is ID=PUBLIC_KEY_HEX")
    return name, _key(value)


# -------------------------------------------------------------------- keygen-officer


def _add_keygen_officer(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "keygen-officer",
        help="make an officer key file and print its public half",
        description="Generate an officer's X25519 (shares) and Ed25519 (signing) keys. "
        "The file holds the private keys (mode 0600); the public half is printed as "
        "JSON for the tender's committee list.",
    )
    parser.add_argument("--out", type=Path, required=True, help="key file to create")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.set_defaults(run=_run_keygen_officer)


def _run_keygen_officer(args: argparse.Namespace, out: TextIO) -> int:
    keys = generate_officer_keys()
    _write_private(args.out, keys.to_json(), force=args.force)
    out.write(json.dumps(keys.public_json(), sort_keys=True) + "\n")
    return 0


def _write_private(path: Path, text: str, *, force: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise _CommandError("exists", f"{path} exists (use --force to overwrite)") from None
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)


# -------------------------------------------------------------------------- ceremony


def _add_ceremony(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "ceremony",
        help="offline key ceremony: split a fresh opening key k of n",
        description="Create a tender opening key, split it k of n among the officers "
        "(each share sealed to the officer and signed by the ceremony key), and write "
        "the public keys and the encrypted shares. The private key is never written.",
    )
    parser.add_argument("--tender", required=True, help="tender id")
    parser.add_argument("--k", type=int, required=True, help="shares needed to open")
    parser.add_argument(
        "--officer",
        dest="officers",
        action="append",
        type=_officer_key,
        required=True,
        metavar="ID=PUB",
        help="an officer and their encryption public key (repeat, n times)",
    )
    parser.add_argument("--out-dir", type=Path, required=True, help="directory to write")
    parser.set_defaults(run=_run_ceremony)


def _run_ceremony(args: argparse.Namespace, out: TextIO) -> int:
    officers = dict(args.officers)
    if len(officers) != len(args.officers):
        raise _CommandError("duplicate_officer", "an officer id is listed twice")
    signer = ed25519.Ed25519PrivateKey.generate()
    private_raw, public = generate_opening_key()
    private = bytearray(private_raw)
    try:
        shares = split_key(private, args.k, officers, signer, args.tender)
    finally:
        wipe(private)
    directory: Path = args.out_dir
    (directory / "shares").mkdir(parents=True, exist_ok=True)
    summary = {
        "type": _TENDER_TYPE,
        "tender_id": args.tender,
        "k": args.k,
        "n": len(officers),
        "opening_public": public.hex(),
        "ceremony_public": signer.public_key().public_bytes_raw().hex(),
        "officers": sorted(officers),
    }
    (directory / "tender.json").write_text(json.dumps(summary, indent=2) + "\n")
    for share in shares:
        path = directory / "shares" / f"{share.officer_id}.json"
        path.write_text(json.dumps(share.to_json(), indent=2) + "\n")
    out.write(json.dumps(summary, sort_keys=True) + "\n")
    return 0


# ------------------------------------------------------------------------------ seal


def _add_seal(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "seal",
        help="seal an offer to a tender's opening key",
        description="Encrypt an offer (HPKE, bound to tender, lot, kind, bidder and "
        "deadline) and write the envelope file; print its commitment.",
    )
    parser.add_argument("--tender-key", type=_key, required=True, help="opening public key")
    parser.add_argument("--tender", required=True, help="tender id")
    parser.add_argument("--lot", required=True, help="lot id")
    parser.add_argument("--kind", choices=sorted(ENVELOPE_KINDS), default="financial")
    parser.add_argument("--bidder", required=True, help="bidder id")
    parser.add_argument("--deadline-us", type=int, required=True, help="deadline, µs")
    parser.add_argument("--amount", type=_major, default="0", help="price, major units")
    parser.add_argument("--currency", required=True, help="ISO 4217 code, e.g. EUR")
    parser.add_argument(
        "--feature",
        dest="features",
        action="append",
        type=_feature,
        default=[],
        metavar="NAME=DEC",
        help="a non-price feature coefficient (repeat)",
    )
    parser.add_argument("--cost", type=_major, default=None, help="life-cycle cost, major units")
    parser.add_argument(
        "--document",
        dest="documents",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="attach a file (repeat); its base name is kept",
    )
    parser.add_argument("--out", type=Path, required=True, help="envelope file to write")
    parser.set_defaults(run=_run_seal)


def _run_seal(args: argparse.Namespace, out: TextIO) -> int:
    offer = Offer(
        amount_minor=offer_amount(args.amount, args.currency),
        currency=args.currency,
        features=dict(args.features),
        cost_minor=None if args.cost is None else offer_amount(args.cost, args.currency, "cost"),
        documents={path.name: path.read_bytes() for path in args.documents},
    )
    info = envelope_info(args.tender, args.lot, args.kind, args.bidder, args.deadline_us)
    ciphertext = seal(args.tender_key, info, encode_offer(offer))
    body = envelope_json(
        args.tender, args.lot, args.kind, args.bidder, args.deadline_us, ciphertext
    )
    args.out.write_text(json.dumps(body, indent=2) + "\n")
    out.write(json.dumps({"commitment": body["commitment"], "bytes": len(ciphertext)}) + "\n")
    return 0


def envelope_json(
    tender_id: str, lot_id: str, kind: str, bidder_id: str, deadline_us: int, ciphertext: bytes
) -> dict[str, Any]:
    """The envelope file's JSON: where it belongs, the base64 ciphertext, its commitment."""
    return {
        "type": _ENVELOPE_TYPE,
        "tender_id": tender_id,
        "lot_id": lot_id,
        "kind": kind,
        "bidder_id": bidder_id,
        "deadline_us": deadline_us,
        "ciphertext": base64.b64encode(ciphertext).decode("ascii"),
        "commitment": commitment(ciphertext),
    }


def read_envelope(path: Path) -> tuple[dict[str, Any], bytes]:
    """Read an envelope file: its JSON and the ciphertext (checked against the
    commitment); raises ``_CommandError("malformed")``."""
    body = _read_json(path)
    if body.get("type") != _ENVELOPE_TYPE:
        raise _CommandError("malformed", f"{path} is not a gavel envelope")
    try:
        ciphertext = base64.b64decode(str(body.get("ciphertext")), validate=True)
    except ValueError:
        raise _CommandError("malformed", f"{path}: ciphertext is not base64") from None
    if commitment(ciphertext) != body.get("commitment"):
        raise _CommandError("malformed", f"{path}: ciphertext does not match its commitment")
    return body, ciphertext


def _read_json(path: Path) -> dict[str, Any]:
    try:
        body = json.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise _CommandError("malformed", f"{path} is not JSON") from None
    if not isinstance(body, dict):
        raise _CommandError("malformed", f"{path} is not a JSON object")
    return body


# --------------------------------------------------------------------------- submit


def _add_submit(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "submit",
        help="upload a sealed envelope to the server and keep its signed receipt",
        description="Upload ENVELOPE (from `gavel tender seal`) to a running Gavel server "
        "as the bidder whose token is given; write the signed receipt.",
    )
    parser.add_argument("envelope", type=Path, metavar="ENVELOPE", help="envelope file")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    parser.add_argument("--token", required=True, help="the bidder's token for the tender")
    parser.add_argument("--out", type=Path, help="receipt file to write (default: stdout only)")
    parser.add_argument(
        "--server-key", type=_key, help="server public key: verify the receipt before exit 0"
    )
    parser.set_defaults(run=_run_submit)


def _run_submit(args: argparse.Namespace, out: TextIO) -> int:
    body, ciphertext = read_envelope(args.envelope)
    quote = functools.partial(urllib.parse.quote, safe="")
    url = (
        f"{args.url.rstrip('/')}/api/v1/tenders/{quote(body['tender_id'])}/lots/"
        f"{quote(body['lot_id'])}/envelopes/{quote(body['kind'])}"
        f"?deadline={int(body['deadline_us'])}"
    )
    answer = _call(
        url,
        args.token,
        ciphertext,
        "application/octet-stream",
        # The same envelope always gets the same key: a retry never submits twice.
        f"seal-{body['commitment']}",
    )
    signed_json = {"receipt": answer["receipt"], "signature": answer["signature"]}
    if args.server_key is not None:
        _check_receipt_names(
            body, verify_receipt(SignedReceipt.from_json(signed_json), args.server_key)
        )
    if args.out is not None:
        args.out.write_text(json.dumps(signed_json, indent=2) + "\n")
    summary = {
        "commitment": body["commitment"],
        "verified": args.server_key is not None,
        "replaced": answer.get("replaced"),
        **signed_json,
    }
    out.write(json.dumps(summary, sort_keys=True) + "\n")
    return 0


def _call(
    url: str,
    token: str,
    data: bytes | None = None,
    content_type: str = "application/json",
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """GET ``url`` (or POST ``data``) as the token's holder; the JSON answer, or
    ``_CommandError`` with the server's problem code."""
    headers = {"Authorization": f"Bearer {token}"}
    if data is not None:
        headers["Content-Type"] = content_type
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    request = urllib.request.Request(
        url, data=data, method="GET" if data is None else "POST", headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (user URL)
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as error:
        try:
            problem = json.loads(error.read())
            reason, detail = str(problem["code"]), str(problem.get("detail", ""))
        except (ValueError, KeyError, TypeError):
            reason, detail = "http_error", f"HTTP {error.code}"
        raise _CommandError(reason, detail) from None
    except urllib.error.URLError as error:
        raise _CommandError("unreachable", f"{url}: {error.reason}") from None


# --------------------------------------------------------------------------- hand-in


def _add_hand_in(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "hand-in",
        help="at the opening: fetch, check, decrypt and hand in your share to the server",
        description="An officer's step at the opening, against a running server: fetch "
        "your encrypted share of the tender, check the server's signature on it, decrypt "
        "it with your key file and hand it in for one stage of one lot. The k-th share "
        "opens the stage; the answer is printed.",
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    parser.add_argument("--token", required=True, help="your officer token")
    parser.add_argument("--officer-key", type=Path, required=True, help="your key file")
    parser.add_argument("--tender", required=True, help="tender id")
    parser.add_argument("--lot", required=True, help="lot id")
    parser.add_argument("--kind", choices=sorted(ENVELOPE_KINDS), default="financial")
    parser.set_defaults(run=_run_hand_in)


def _run_hand_in(args: argparse.Namespace, out: TextIO) -> int:
    base = f"{args.url.rstrip('/')}/api/v1/tenders"
    quote = functools.partial(urllib.parse.quote, safe="")
    tender, lot = quote(args.tender), quote(args.lot)
    server_key = bytes.fromhex(str(_call(f"{base}/server-key", args.token)["public_key"]))
    encrypted = EncryptedShare.from_json(_call(f"{base}/{tender}/shares/mine", args.token))
    keys = OfficerKeys.from_json(Path(args.officer_key).read_text(encoding="utf-8"))
    share = decrypt_share(
        encrypted, keys.encryption_private, ceremony_public=server_key, tender_id=args.tender
    )
    body = json.dumps({"kind": args.kind, "share": share.to_json()}).encode()
    answer = _call(
        f"{base}/{tender}/lots/{lot}/shares",
        args.token,
        body,
        # One key per run: the server keeps a refusal as the key's answer, so a fixed key
        # would replay an early "opening_not_due" forever. A share already accepted is
        # refused by the engine instead (duplicate_share).
        idempotency_key=f"share-{uuid.uuid4().hex}",
    )
    out.write(json.dumps(answer, sort_keys=True) + "\n")
    return 0


# -------------------------------------------------------------------- decrypt-share


def _add_decrypt_share(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "decrypt-share",
        help="check and decrypt your share for the opening",
        description="Verify the ceremony signature on your encrypted share, decrypt it "
        "with your officer key and write the share to submit at the opening (secret: "
        "mode 0600).",
    )
    parser.add_argument("--officer-key", type=Path, required=True, help="your key file")
    parser.add_argument("--share", type=Path, required=True, help="your encrypted share")
    parser.add_argument("--ceremony-key", type=_key, required=True, help="ceremony public key")
    parser.add_argument("--tender", help="tender id (default: the share's)")
    parser.add_argument("--out", type=Path, required=True, help="decrypted share to write")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.set_defaults(run=_run_decrypt_share)


def _run_decrypt_share(args: argparse.Namespace, out: TextIO) -> int:
    share = _decrypt(args.officer_key, args.share, args.ceremony_key, args.tender)
    _write_private(args.out, json.dumps(share.to_json(), indent=2) + "\n", force=args.force)
    out.write(json.dumps({"officer_id": share.officer_id, "index": share.index}) + "\n")
    return 0


def _decrypt(key_path: Path, share_path: Path, ceremony_key: bytes, tender: str | None) -> Share:
    keys = OfficerKeys.from_json(Path(key_path).read_text(encoding="utf-8"))
    encrypted = EncryptedShare.from_json(_read_json(share_path))
    return decrypt_share(
        encrypted,
        keys.encryption_private,
        ceremony_public=ceremony_key,
        tender_id=tender or encrypted.tender_id,
    )


# ------------------------------------------------------------------- verify-receipt


def _add_verify_receipt(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "verify-receipt",
        help="check a submission receipt offline",
        description="Verify the server's Ed25519 signature on a receipt; with --envelope, "
        "also check that the receipt is for that envelope. Exit 0 if valid, 1 if not.",
    )
    parser.add_argument("receipt", type=Path, help="receipt JSON file")
    parser.add_argument("--server-key", type=_key, required=True, help="server public key")
    parser.add_argument("--envelope", type=Path, help="the envelope file it should cover")
    parser.set_defaults(run=_run_verify_receipt)


def _run_verify_receipt(args: argparse.Namespace, out: TextIO) -> int:
    signed = SignedReceipt.from_json(_read_json(args.receipt))
    receipt = verify_receipt(signed, args.server_key)
    if args.envelope is not None:
        _check_receipt_names(read_envelope(args.envelope)[0], receipt)
    out.write(json.dumps({"valid": True, **receipt.to_json()}, sort_keys=True) + "\n")
    return 0


def _check_receipt_names(body: dict[str, Any], receipt: Receipt) -> None:
    """Raise ``envelope_mismatch`` unless ``receipt`` names the envelope whose header is
    ``body``: the same tender, lot, kind, bidder and commitment."""
    place = ("tender_id", "lot_id", "kind", "bidder_id", "commitment")
    mismatched = [name for name in place if body.get(name) != getattr(receipt, name)]
    if mismatched:
        raise _CommandError(
            "envelope_mismatch", f"receipt and envelope differ in {', '.join(mismatched)}"
        )


# ------------------------------------------------------------------------------ open


def _add_open(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "open",
        help="rebuild the opening key from k shares and open envelopes",
        description="Combine k shares (officer key file + encrypted share, or decrypted "
        "shares), check the result against the tender's opening public key, open each "
        "envelope and print one JSON line per envelope. Envelopes that fail are listed "
        "as invalid with a reason. The key is wiped when done.",
    )
    parser.add_argument("envelopes", nargs="*", type=Path, metavar="ENVELOPE")
    parser.add_argument("--tender-key", type=_key, required=True, help="opening public key")
    parser.add_argument("--ceremony-key", type=_key, required=True, help="ceremony public key")
    parser.add_argument("--tender", required=True, help="tender id")
    parser.add_argument(
        "--officer",
        dest="officers",
        action="append",
        nargs=2,
        type=Path,
        default=[],
        metavar=("KEY", "SHARE"),
        help="an officer key file and that officer's encrypted share (repeat)",
    )
    parser.add_argument(
        "--share",
        dest="shares",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="a share decrypted with decrypt-share (repeat)",
    )
    parser.set_defaults(run=_run_open)


def _run_open(args: argparse.Namespace, out: TextIO) -> int:
    shares = [
        _decrypt(key_path, share_path, args.ceremony_key, args.tender)
        for key_path, share_path in args.officers
    ]
    for path in args.shares:
        try:
            shares.append(Share.from_json(_read_json(path)))
        except CustodyError as exc:
            raise _CommandError(exc.reason, f"{path}: {exc.detail}") from None
    if not shares:
        raise _CommandError("too_few_shares", "give shares with --officer or --share")
    k = shares[0].k
    key = combine(
        shares, k, args.tender_key, ceremony_public=args.ceremony_key, tender_id=args.tender
    )
    try:
        for path in args.envelopes:
            out.write(json.dumps(_open_one(key, args.tender, path), sort_keys=True) + "\n")
    finally:
        wipe(key)
    return 0


def _open_one(key: bytearray, tender: str, path: Path) -> dict[str, Any]:
    """Open one envelope file; failures become an ``invalid`` record, never an exit."""
    try:
        body, ciphertext = read_envelope(path)
    except (_CommandError, OSError) as exc:
        return {"file": str(path), "status": "invalid", "reason": "malformed", "detail": str(exc)}
    record: dict[str, Any] = {
        "file": str(path),
        **{name: body.get(name) for name in ("tender_id", "lot_id", "kind", "bidder_id")},
        "commitment": body["commitment"],
    }
    try:
        if body.get("tender_id") != tender:
            raise _CommandError("wrong_tender", f"envelope of tender {body.get('tender_id')!r}")
        info = envelope_info(
            str(body.get("tender_id")),
            str(body.get("lot_id")),
            str(body.get("kind")),
            str(body.get("bidder_id")),
            body.get("deadline_us", -1),  # envelope_info checks it
        )
        offer = decode_offer(open_envelope(key, info, ciphertext))
    except (SealError, _CommandError) as exc:
        return {**record, "status": "invalid", "reason": exc.reason, "detail": str(exc)}
    return {**record, "status": "opened", "offer": json.loads(encode_offer(offer))}


if __name__ == "__main__":
    raise SystemExit(main())
