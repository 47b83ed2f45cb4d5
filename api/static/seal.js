// Gavel sealed envelopes in the browser: the same bytes as contracts/sealing.py.
//
// RFC 9180 HPKE, base mode, single shot, one suite: DHKEM(X25519, HKDF-SHA256) (0x0020),
// HKDF-SHA256 (0x0001), AES-256-GCM (0x0002), built on WebCrypto only (X25519, HMAC,
// AES-GCM, SHA-256; Chromium 133+, Firefox 130+, Safari 17+). No library: the HPKE key
// schedule is a few HMAC calls, and a dependency-free module is easy to review and to serve
// with a strict Content-Security-Policy. Its correctness is pinned by the RFC 9180 test
// vector of this suite and by tests that seal here and open in Python, and the reverse
// (tests/api/http/test_seal_browser.py).
//
// Layout of an envelope: enc (32, ephemeral X25519 public key) || AES-256-GCM ciphertext
// of the padded plaintext || tag (16). The HPKE info is envelopeInfo(...), the plaintext is
// pad(encodeOffer(...)). See docs/security.md, "Sealed tenders: cryptography".
//
// Public API (all async functions return Promises):
//   envelopeInfo(tenderId, lotId, kind, bidderId, deadlineUs) -> Uint8Array
//   pad(bytes) / unpad(bytes) -> Uint8Array
//   encodeOffer(offer) -> Uint8Array ; decodeOffer(bytes) -> offer
//   seal(publicKey, info, plaintext) -> Uint8Array          (async)
//   openEnvelope(privateKey, info, ciphertext) -> Uint8Array (async; tests and tools)
//   commitment(ciphertext) -> lowercase hex SHA-256          (async)
//   sealOffer({tenderKey, tenderId, lotId, kind, bidderId, deadlineUs, offer})
//     -> {ciphertext, ciphertextBase64, commitment}          (async)
// Errors are SealError with a machine-readable .reason, as in Python.

// The currencies and their minor digits: the app's table (engine/money.py's), one copy.
import { CURRENCIES, exponent, minorToPlain } from "/app/money.js";

const subtle = globalThis.crypto.subtle;
const encoder = new TextEncoder();

export const BUCKETS = [1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20];
export const MAX_PLAINTEXT = BUCKETS[BUCKETS.length - 1] - 4;
export const ENC_LENGTH = 32;
export const TAG_LENGTH = 16;
export const ENVELOPE_KINDS = ["qualification", "technical", "financial"];
export const INFO_LABEL = encoder.encode("gavel/envelope/v1");
export const OFFER_VERSION = 2;
const MAX_ID_BYTES = 256;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export class SealError extends Error {
  constructor(reason, detail) {
    super(`${reason}: ${detail}`);
    this.name = "SealError";
    this.reason = reason;
    this.detail = detail;
  }
}

// ---------------------------------------------------------------------------- bytes

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function u16(n) {
  return new Uint8Array([(n >> 8) & 0xff, n & 0xff]);
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(text) {
  if (typeof text !== "string" || !/^([0-9a-fA-F]{2})*$/.test(text)) {
    throw new SealError("bad_key", "not a hex string");
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function fromBase64(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) {
    throw new SealError("bad_offer", "not standard base64");
  }
  const binary = atob(text);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

// ----------------------------------------------------------------------------- info

export function envelopeInfo(tenderId, lotId, kind, bidderId, deadlineUs) {
  if (!ENVELOPE_KINDS.includes(kind)) throw new SealError("bad_info", `unknown envelope kind ${kind}`);
  if (!["number", "bigint", "string"].includes(typeof deadlineUs)) {
    throw new SealError("bad_info", "deadline_us must be an integer");
  }
  let deadline;
  try {
    deadline = BigInt(deadlineUs);
  } catch {
    throw new SealError("bad_info", "deadline_us must be an integer");
  }
  if (typeof deadlineUs === "number" && !Number.isSafeInteger(deadlineUs)) {
    throw new SealError("bad_info", "deadline_us must be a safe integer (or a BigInt/string)");
  }
  if (deadline < 0n || deadline >= 1n << 63n) {
    throw new SealError("bad_info", "deadline_us must be in 0..2**63-1");
  }
  const parts = [INFO_LABEL];
  for (const [name, value] of [
    ["tender_id", tenderId],
    ["lot_id", lotId],
    ["kind", kind],
    ["bidder_id", bidderId],
  ]) {
    if (typeof value !== "string" || value === "") {
      throw new SealError("bad_info", `${name} must be a non-empty string`);
    }
    if (!value.isWellFormed()) throw new SealError("bad_info", `${name} is not valid Unicode`);
    const encoded = encoder.encode(value);
    if (encoded.length > MAX_ID_BYTES) {
      throw new SealError("bad_info", `${name} is longer than ${MAX_ID_BYTES} UTF-8 bytes`);
    }
    parts.push(u16(encoded.length), encoded);
  }
  const tail = new Uint8Array(8);
  new DataView(tail.buffer).setBigInt64(0, deadline, false);
  parts.push(tail);
  return concat(...parts);
}

// -------------------------------------------------------------------------- padding

export function pad(plaintext) {
  const needed = 4 + plaintext.length;
  const bucket = BUCKETS.find((b) => needed <= b);
  if (bucket === undefined) {
    throw new SealError("too_large", `plaintext of ${plaintext.length} bytes exceeds ${MAX_PLAINTEXT}`);
  }
  const out = new Uint8Array(bucket);
  new DataView(out.buffer).setUint32(0, plaintext.length, false);
  out.set(plaintext, 4);
  return out;
}

export function unpad(padded) {
  if (!BUCKETS.includes(padded.length)) throw new SealError("bad_padding", "not a bucket size");
  const length = new DataView(padded.buffer, padded.byteOffset, padded.length).getUint32(0, false);
  const end = 4 + length;
  if (end > padded.length) throw new SealError("bad_padding", "declared length exceeds the bucket");
  if (padded.subarray(end).some((b) => b !== 0)) {
    throw new SealError("bad_padding", "non-zero bytes after the plaintext");
  }
  if (BUCKETS.find((b) => end <= b) !== padded.length) {
    throw new SealError("bad_padding", "plaintext is padded to a larger bucket than needed");
  }
  return padded.slice(4, end);
}

// --------------------------------------------------------------------------- offers

// Python's json.dumps(sort_keys=True) orders keys by code point; JavaScript's default sort
// orders by UTF-16 code unit. They differ only for astral characters, handled here.
function byCodePoint(a, b) {
  const x = Array.from(a, (c) => c.codePointAt(0));
  const y = Array.from(b, (c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}

function canonical(value) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value).sort(byCodePoint);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

const CURRENCY = /^[A-Z]{3}$/;
const DECIMAL = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;

function isAmount(value) {
  return Number.isSafeInteger(value) && value >= 0 && value <= MAX_SAFE;
}

// A version 2 offer's amount or cost: a plain decimal string in major units of a known
// currency -> minor units as a BigInt within 0..2**53-1 (contracts.sealing.offer_amount).
export function offerAmount(text, currency, name = "amount") {
  let digits;
  try {
    digits = exponent(currency);
  } catch {
    throw new SealError("bad_offer", `currency must be a known ISO 4217 code, not ${currency}`);
  }
  if (typeof text !== "string" || !DECIMAL.test(text)) {
    throw new SealError("bad_offer", `${name} must be a plain non-negative decimal string in major units`);
  }
  const [whole, fraction = ""] = text.split(".");
  const kept = fraction.replace(/0+$/, "");
  if (kept.length > digits) {
    throw new SealError("bad_offer", `${name}: ${currency} amounts have at most ${digits} decimals`);
  }
  const minor = whole.length > 20 ? null : BigInt(whole + kept.padEnd(digits, "0"));
  if (minor === null || minor > BigInt(MAX_SAFE)) {
    throw new SealError("bad_offer", `${name} must be at most ${MAX_SAFE} minor units`);
  }
  return minor;
}

function checkOffer(offer) {
  if (typeof offer.currency !== "string" || !CURRENCY.test(offer.currency)) {
    throw new SealError("bad_offer", "currency must be three capital letters (ISO 4217)");
  }
  for (const old of ["amount_minor", "non_price_cost_minor"]) {
    if (old in offer) {
      throw new SealError("bad_offer", `${old} is gone: amount and cost are decimal strings in major units`);
    }
  }
  offerAmount(offer.amount, offer.currency, "amount");
  if (offer.cost !== undefined && offer.cost !== null) offerAmount(offer.cost, offer.currency, "cost");
  for (const [name, value] of Object.entries(offer.features ?? {})) {
    if (!name || typeof value !== "string" || !DECIMAL.test(value)) {
      throw new SealError("bad_offer", `feature ${name} must be a plain non-negative decimal string`);
    }
  }
  for (const [name, data] of Object.entries(offer.documents ?? {})) {
    if (!name || !(data instanceof Uint8Array)) {
      throw new SealError("bad_offer", "documents map non-empty names to Uint8Array");
    }
  }
}

// The plain decimal with exactly the currency's minor digits: "5" EUR -> "5.00".
function canonicalAmount(text, currency, name) {
  return minorToPlain(offerAmount(text, currency, name), currency);
}

// offer: {amount: "123.45", currency, cost?: "5.00", features?: {name: "decimal"},
//         documents?: {name: Uint8Array}}: the price and the life-cycle cost are decimal
// strings in major units, as every amount a client sends. The same canonical JSON
// (version 2) as Python's encode_offer.
export function encodeOffer(offer) {
  checkOffer(offer);
  const { currency } = offer;
  const body = { version: OFFER_VERSION, amount: canonicalAmount(offer.amount, currency, "amount"), currency };
  if (offer.features && Object.keys(offer.features).length) body.features = { ...offer.features };
  if (offer.cost !== undefined && offer.cost !== null) body.cost = canonicalAmount(offer.cost, currency, "cost");
  if (offer.documents && Object.keys(offer.documents).length) {
    body.documents = Object.fromEntries(
      Object.entries(offer.documents).map(([name, data]) => [name, toBase64(data)]),
    );
  }
  for (const key of Object.keys(body.features ?? {})) {
    if (!key.isWellFormed()) throw new SealError("bad_offer", "feature names must be valid Unicode");
  }
  return encoder.encode(canonical(body));
}

// Version 1 (amount_minor, non_price_cost_minor: integers in minor units) is what
// envelopes sealed before version 2 hold; they still open, read into version 2's shape.
const OFFER_FIELDS = {
  1: ["version", "amount_minor", "currency", "features", "non_price_cost_minor", "documents"],
  2: ["version", "amount", "currency", "features", "cost", "documents"],
};

// -> {amount, currency, cost (or null), features, documents}, amounts as canonical
// decimal strings in major units whichever version the bytes hold.
export function decodeOffer(bytes) {
  let body;
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw new SealError("bad_offer", `not JSON: ${error.message}`);
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new SealError("bad_offer", "an offer is a JSON object");
  }
  const allowed = OFFER_FIELDS[body.version];
  if (!Number.isInteger(body.version) || !allowed) {
    throw new SealError("bad_offer", `version must be ${OFFER_VERSION} (or 1, sealed before it)`);
  }
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length) throw new SealError("bad_offer", `unknown fields ${unknown} in a version ${body.version} offer`);
  const documents = {};
  const docs = body.documents ?? {};
  if (docs === null || typeof docs !== "object" || Array.isArray(docs)) {
    throw new SealError("bad_offer", "documents must be an object");
  }
  for (const [name, text] of Object.entries(docs)) documents[name] = fromBase64(text);
  const features = body.features ?? {};
  if (features === null || typeof features !== "object" || Array.isArray(features)) {
    throw new SealError("bad_offer", "features must be an object");
  }
  let { amount, cost } = body;
  if (body.version === 1) {
    const { currency } = body;
    const major = (minor, name) => {
      if (!isAmount(minor)) throw new SealError("bad_offer", `${name} must be an integer in 0..2**53-1`);
      if (typeof currency !== "string" || !CURRENCY.test(currency) || !(currency in CURRENCIES)) {
        throw new SealError("bad_offer", "currency must be a known ISO 4217 code");
      }
      return minorToPlain(minor, currency);
    };
    amount = major(body.amount_minor, "amount_minor");
    cost = body.non_price_cost_minor == null ? null : major(body.non_price_cost_minor, "non_price_cost_minor");
  }
  const offer = { amount, currency: body.currency, cost: cost ?? null, features, documents };
  checkOffer(offer);
  offer.amount = canonicalAmount(offer.amount, offer.currency, "amount");
  if (offer.cost !== null) offer.cost = canonicalAmount(offer.cost, offer.currency, "cost");
  return offer;
}

// ----------------------------------------------------------------------------- HPKE

const KEM_ID = 0x0020;
const KDF_ID = 0x0001;
const AEAD_ID = 0x0002;
const NK = 32;
const NN = 12;
const NSECRET = 32;
const HPKE_V1 = encoder.encode("HPKE-v1");
const KEM_SUITE = concat(encoder.encode("KEM"), u16(KEM_ID));
const HPKE_SUITE = concat(encoder.encode("HPKE"), u16(KEM_ID), u16(KDF_ID), u16(AEAD_ID));
// PKCS #8 wrapping of a raw X25519 private key (RFC 8410): WebCrypto imports private
// X25519 keys only as PKCS #8 or JWK.
const PKCS8_X25519_PREFIX = fromHex("302e020100300506032b656e04220420");

async function hmac(key, data) {
  // RFC 5869: an absent salt is HashLen zero bytes (equal to the empty key under HMAC).
  const raw = key.length ? key : new Uint8Array(32);
  const handle = await subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", handle, data));
}

async function labeledExtract(suite, salt, label, ikm) {
  return hmac(salt, concat(HPKE_V1, suite, encoder.encode(label), ikm));
}

async function labeledExpand(suite, prk, label, info, length) {
  const labeledInfo = concat(u16(length), HPKE_V1, suite, encoder.encode(label), info);
  const out = new Uint8Array(length);
  let block = new Uint8Array(0);
  for (let i = 1, at = 0; at < length; i++) {
    block = await hmac(prk, concat(block, labeledInfo, new Uint8Array([i])));
    out.set(block.subarray(0, Math.min(block.length, length - at)), at);
    at += block.length;
  }
  return out;
}

async function importPrivate(raw) {
  if (!(raw instanceof Uint8Array) || raw.length !== 32) throw new SealError("bad_key", "private key must be 32 bytes");
  return subtle.importKey("pkcs8", concat(PKCS8_X25519_PREFIX, raw), { name: "X25519" }, true, ["deriveBits"]);
}

async function importPublic(raw) {
  if (!(raw instanceof Uint8Array) || raw.length !== 32) throw new SealError("bad_key", "public key must be 32 bytes");
  return subtle.importKey("raw", raw, { name: "X25519" }, true, []);
}

async function publicOf(privateHandle) {
  const jwk = await subtle.exportKey("jwk", privateHandle);
  return fromBase64Url(jwk.x);
}

function fromBase64Url(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return fromBase64(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
}

async function dh(privateHandle, publicHandle) {
  try {
    return new Uint8Array(await subtle.deriveBits({ name: "X25519", public: publicHandle }, privateHandle, 256));
  } catch {
    // WebCrypto refuses an all-zero shared secret (a small-order public key).
    throw new SealError("decrypt_failed", "invalid X25519 public value");
  }
}

async function sharedSecret(dhValue, kemContext) {
  const prk = await labeledExtract(KEM_SUITE, new Uint8Array(0), "eae_prk", dhValue);
  return labeledExpand(KEM_SUITE, prk, "shared_secret", kemContext, NSECRET);
}

async function keySchedule(shared, info) {
  const empty = new Uint8Array(0);
  const pskIdHash = await labeledExtract(HPKE_SUITE, empty, "psk_id_hash", empty);
  const infoHash = await labeledExtract(HPKE_SUITE, empty, "info_hash", info);
  const context = concat(new Uint8Array([0]), pskIdHash, infoHash); // mode_base
  const secret = await labeledExtract(HPKE_SUITE, shared, "secret", empty);
  const key = await labeledExpand(HPKE_SUITE, secret, "key", context, NK);
  const nonce = await labeledExpand(HPKE_SUITE, secret, "base_nonce", context, NN);
  return { key, nonce };
}

// Single-shot HPKE seal (sequence number 0). `options.ephemeralPrivate` (raw 32 bytes) and
// `options.aad` exist for the RFC 9180 test vectors only; envelopes use neither.
export async function hpkeSeal(publicKey, info, plaintext, options = {}) {
  const recipient = await importPublic(publicKey);
  let ephemeral;
  let enc;
  if (options.ephemeralPrivate) {
    ephemeral = await importPrivate(options.ephemeralPrivate);
    enc = await publicOf(ephemeral);
  } else {
    const pair = await subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]);
    ephemeral = pair.privateKey;
    enc = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
  }
  const shared = await sharedSecret(await dh(ephemeral, recipient), concat(enc, publicKey));
  const { key, nonce } = await keySchedule(shared, info);
  const aes = await subtle.importKey("raw", key, { name: "AES-GCM" }, false, ["encrypt"]);
  const params = { name: "AES-GCM", iv: nonce, tagLength: 128 };
  if (options.aad) params.additionalData = options.aad;
  const ct = new Uint8Array(await subtle.encrypt(params, aes, plaintext));
  return concat(enc, ct);
}

export async function hpkeOpen(privateKey, info, ciphertext, options = {}) {
  if (ciphertext.length < ENC_LENGTH + TAG_LENGTH) throw new SealError("malformed", "too short");
  const recipient = await importPrivate(privateKey);
  const enc = ciphertext.slice(0, ENC_LENGTH);
  let sender;
  try {
    sender = await importPublic(enc);
  } catch {
    throw new SealError("decrypt_failed", "bad enc");
  }
  const shared = await sharedSecret(await dh(recipient, sender), concat(enc, await publicOf(recipient)));
  const { key, nonce } = await keySchedule(shared, info);
  const aes = await subtle.importKey("raw", key, { name: "AES-GCM" }, false, ["decrypt"]);
  const params = { name: "AES-GCM", iv: nonce, tagLength: 128 };
  if (options.aad) params.additionalData = options.aad;
  try {
    return new Uint8Array(await subtle.decrypt(params, aes, ciphertext.slice(ENC_LENGTH)));
  } catch {
    throw new SealError("decrypt_failed", "the envelope does not open with this key and info");
  }
}

// ------------------------------------------------------------------------ envelopes

export async function seal(publicKey, info, plaintext) {
  return hpkeSeal(publicKey, info, pad(plaintext));
}

export async function openEnvelope(privateKey, info, ciphertext) {
  const sizes = BUCKETS.map((b) => ENC_LENGTH + b + TAG_LENGTH);
  if (!sizes.includes(ciphertext.length)) {
    throw new SealError("malformed", `an envelope of ${ciphertext.length} bytes has no valid size`);
  }
  return unpad(await hpkeOpen(privateKey, info, ciphertext));
}

export async function commitment(ciphertext) {
  return toHex(new Uint8Array(await subtle.digest("SHA-256", ciphertext)));
}

// The supplier's one call: seal an offer for a tender; tenderKey is hex or Uint8Array.
export async function sealOffer({ tenderKey, tenderId, lotId, kind = "financial", bidderId, deadlineUs, offer }) {
  const key = typeof tenderKey === "string" ? fromHex(tenderKey) : tenderKey;
  const info = envelopeInfo(tenderId, lotId, kind, bidderId, deadlineUs);
  const ciphertext = await seal(key, info, encodeOffer(offer));
  return { ciphertext, ciphertextBase64: toBase64(ciphertext), commitment: await commitment(ciphertext) };
}
