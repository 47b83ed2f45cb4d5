// The officer's side of the opening in the browser: the same checks and bytes as
// contracts/custody.py `decrypt_share`.
//
// An encrypted share (EncryptedShare.to_json, "gavel-encrypted-share/v1") is signed by the
// server's ceremony key (Ed25519) over signedBytes(...) and HPKE-sealed to the officer's
// X25519 key with info = shareInfo(...), in the suite of seal.js (whose hpkeOpen is the
// receiver side used here). decryptShare verifies the signature, checks the tender, opens
// the value, checks it against the signed digest and returns the share to hand in;
// shareToJson writes it exactly as Share.to_json does. WebCrypto only (Ed25519, X25519,
// HMAC, AES-GCM, SHA-256; Chromium 137+, Firefox 130+, Safari 17+). Pinned to Python by
// tests/api/http/test_tender_open_page.py.
//
// Public API (async functions return Promises):
//   parseEncryptedShare(json) -> share (bytes as Uint8Array)       EncryptedShare.from_json
//   readOfficerKeys(text) -> {encryptionPrivate, ...}   (async)    OfficerKeys.from_json
//   shareInfo(tenderId, officerId, index, openingPublic) -> Uint8Array
//   shareDigest(tenderId, officerId, index, value) -> Uint8Array  (async)
//   signedBytes(tenderId, officerId, index, k, n, openingPublic, valueDigest, ciphertextDigest)
//   decryptShare(encrypted, officerPrivate, {ceremonyPublic, tenderId}) -> share (async)
//   shareToJson(share) -> the "gavel-share/v1" object, keys in Share.to_json's order
// Errors are CustodyError with .reason as in Python: malformed, bad_key, forged_share,
// decrypt_failed.
import { concat, hpkeOpen, toHex } from "./seal.js";

const subtle = globalThis.crypto.subtle;
const encoder = new TextEncoder();
const KEY = 32;
const MAX_OFFICERS = 255;
const SHARE_INFO_LABEL = encoder.encode("gavel/share/v1");
const SHARE_DIGEST_LABEL = encoder.encode("gavel/share-digest/v1");
const SHARE_SIGNED_LABEL = encoder.encode("gavel/share-signed/v1");
// PKCS #8 wrappings of raw private keys (RFC 8410): WebCrypto imports private X25519 and
// Ed25519 keys only as PKCS #8 or JWK.
const PKCS8_X25519 = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20];
const PKCS8_ED25519 = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

export class CustodyError extends Error {
  constructor(reason, detail) {
    super(`${reason}: ${detail}`);
    this.name = "CustodyError";
    this.reason = reason;
    this.detail = detail;
  }
}

// ---------------------------------------------------------------------------- bytes

function u16(...numbers) {
  const out = new Uint8Array(2 * numbers.length);
  const view = new DataView(out.buffer);
  numbers.forEach((n, i) => view.setUint16(2 * i, n, false));
  return out;
}

// A length-prefixed identifier, as custody._field: 2-byte big-endian length, UTF-8.
function field(text) {
  if (typeof text !== "string" || !text.isWellFormed()) throw new CustodyError("malformed", "identifier is not text");
  const encoded = encoder.encode(text);
  if (encoded.length > 0xffff) throw new CustodyError("malformed", "identifier too long");
  return concat(u16(encoded.length), encoded);
}

async function sha256(bytes) {
  return new Uint8Array(await subtle.digest("SHA-256", bytes));
}

function equal(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function fromBase64Url(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

// ------------------------------------------------------------------------- parsing

function object(body, what) {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new CustodyError("malformed", `${what} is not a JSON object`);
  }
  return body;
}

function text(body, name) {
  const value = body[name];
  if (typeof value !== "string" || value === "") throw new CustodyError("malformed", `${name} must be a non-empty string`);
  return value;
}

function int(body, name) {
  const value = body[name];
  if (!Number.isInteger(value) || value <= 0 || value > MAX_OFFICERS) {
    throw new CustodyError("malformed", `${name} must be an integer in 1..${MAX_OFFICERS}`);
  }
  return value;
}

function hex(body, name, length) {
  const value = body[name];
  if (typeof value !== "string" || value.length !== 2 * length || !/^[0-9a-fA-F]*$/.test(value)) {
    throw new CustodyError("malformed", `${name} must be ${length} bytes in hex`);
  }
  return Uint8Array.from({ length }, (_, i) => parseInt(value.slice(2 * i, 2 * i + 2), 16));
}

function base64(value, name) {
  const textValue = String(value ?? "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(textValue) || textValue.length % 4) {
    throw new CustodyError("malformed", `${name} is not base64`);
  }
  try {
    return Uint8Array.from(atob(textValue), (c) => c.charCodeAt(0));
  } catch {
    throw new CustodyError("malformed", `${name} is not base64`);
  }
}

// EncryptedShare.from_json: the share as GET /tenders/{t}/shares/mine answers it.
export function parseEncryptedShare(json) {
  const body = object(json, "encrypted share");
  if (body.type !== "gavel-encrypted-share/v1") throw new CustodyError("malformed", "not a gavel encrypted share");
  const ciphertext = base64(body.ciphertext, "ciphertext");
  return {
    tender_id: text(body, "tender_id"),
    officer_id: text(body, "officer_id"),
    index: int(body, "index"),
    k: int(body, "k"),
    n: int(body, "n"),
    opening_public: hex(body, "opening_public", KEY),
    value_digest: hex(body, "value_digest", 32),
    ciphertext,
    signer_public: hex(body, "signer_public", KEY),
    signature: hex(body, "signature", 64),
  };
}

// OfficerKeys.from_json: the key file `gavel tender keygen-officer` writes. The public
// halves, when present, must be those of the private keys (bad_key otherwise).
export async function readOfficerKeys(fileText) {
  let body;
  try {
    body = JSON.parse(fileText);
  } catch {
    throw new CustodyError("malformed", "officer key file is not JSON");
  }
  object(body, "officer key file");
  if (body.type !== "gavel-officer-keys/v1") throw new CustodyError("malformed", "not a gavel officer key file");
  const encryptionPrivate = hex(body, "encryption_private", KEY);
  const signingPrivate = hex(body, "signing_private", KEY);
  const publics = {
    encryption_public: toHex(await publicOf(encryptionPrivate, PKCS8_X25519, "X25519", ["deriveBits"])),
    signing_public: toHex(await publicOf(signingPrivate, PKCS8_ED25519, "Ed25519", ["sign"])),
  };
  for (const [name, value] of Object.entries(publics)) {
    if (name in body && body[name] !== value) throw new CustodyError("bad_key", `${name} does not match the private key`);
  }
  return {
    encryptionPrivate,
    signingPrivate,
    encryptionPublic: publics.encryption_public,
    signingPublic: publics.signing_public,
  };
}

async function publicOf(raw, prefix, algorithm, usages) {
  let handle;
  try {
    handle = await subtle.importKey("pkcs8", concat(new Uint8Array(prefix), raw), { name: algorithm }, true, usages);
  } catch {
    throw new CustodyError("bad_key", `not a usable ${algorithm} private key`);
  }
  return fromBase64Url((await subtle.exportKey("jwk", handle)).x);
}

// ------------------------------------------------------------------------- records

export function shareInfo(tenderId, officerId, index, openingPublic) {
  return concat(SHARE_INFO_LABEL, field(tenderId), field(officerId), u16(index), openingPublic);
}

export async function shareDigest(tenderId, officerId, index, value) {
  return sha256(concat(SHARE_DIGEST_LABEL, field(tenderId), field(officerId), u16(index), value));
}

export function signedBytes(tenderId, officerId, index, k, n, openingPublic, valueDigest, ciphertextDigest) {
  return concat(
    SHARE_SIGNED_LABEL,
    field(tenderId),
    field(officerId),
    u16(index, k, n),
    openingPublic,
    valueDigest,
    ciphertextDigest,
  );
}

async function checkSignature(signed, signature, ceremonyPublic) {
  if (!(ceremonyPublic instanceof Uint8Array) || ceremonyPublic.length !== KEY) {
    throw new CustodyError("bad_key", "the ceremony key must be 32 raw bytes");
  }
  let key;
  try {
    key = await subtle.importKey("raw", ceremonyPublic, { name: "Ed25519" }, false, ["verify"]);
  } catch {
    throw new CustodyError("bad_key", "the ceremony key is not an Ed25519 key");
  }
  if (!(await subtle.verify({ name: "Ed25519" }, key, signature, signed))) {
    throw new CustodyError("forged_share", "the ceremony signature does not verify");
  }
}

// decrypt_share: verify the ceremony signature (ceremonyPublic: the server key, raw 32
// bytes) and the tender, open the value with the officer's raw X25519 private key, check
// it against the signed digest. Returns the Share (bytes as Uint8Array, for shareToJson).
export async function decryptShare(encrypted, officerPrivate, { ceremonyPublic, tenderId }) {
  const ciphertextDigest = await sha256(encrypted.ciphertext);
  const signed = signedBytes(
    encrypted.tender_id,
    encrypted.officer_id,
    encrypted.index,
    encrypted.k,
    encrypted.n,
    encrypted.opening_public,
    encrypted.value_digest,
    ciphertextDigest,
  );
  await checkSignature(signed, encrypted.signature, ceremonyPublic);
  if (encrypted.tender_id !== tenderId) {
    throw new CustodyError("forged_share", `the share is for tender ${JSON.stringify(encrypted.tender_id)}`);
  }
  if (!(officerPrivate instanceof Uint8Array) || officerPrivate.length !== KEY) {
    throw new CustodyError("bad_key", "the officer key must be 32 raw bytes");
  }
  const info = shareInfo(encrypted.tender_id, encrypted.officer_id, encrypted.index, encrypted.opening_public);
  let value;
  try {
    value = await hpkeOpen(officerPrivate, info, encrypted.ciphertext);
  } catch {
    // Python's HPKE answers InvalidTag for every failure here (short input included).
    throw new CustodyError("decrypt_failed", "the share does not open with this key");
  }
  const digest = await shareDigest(encrypted.tender_id, encrypted.officer_id, encrypted.index, value);
  if (!equal(digest, encrypted.value_digest)) {
    throw new CustodyError("forged_share", "the share value does not match its signed digest");
  }
  return {
    tender_id: encrypted.tender_id,
    officer_id: encrypted.officer_id,
    index: encrypted.index,
    k: encrypted.k,
    n: encrypted.n,
    opening_public: encrypted.opening_public,
    value_digest: encrypted.value_digest,
    ciphertext_digest: ciphertextDigest,
    signature: encrypted.signature,
    value,
  };
}

// Share.to_json: the body's "share" member at POST .../lots/{l}/shares. Holds the secret value.
export function shareToJson(share) {
  return {
    type: "gavel-share/v1",
    tender_id: share.tender_id,
    officer_id: share.officer_id,
    index: share.index,
    k: share.k,
    n: share.n,
    opening_public: toHex(share.opening_public),
    value_digest: toHex(share.value_digest),
    ciphertext_digest: toHex(share.ciphertext_digest),
    signature: toHex(share.signature),
    value: toHex(share.value),
  };
}
