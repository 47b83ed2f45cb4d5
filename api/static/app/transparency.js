// The signed log's primitives, checked with nothing but WebCrypto: shared by verify.js (a
// supplier's bids in the signed record) and staff/audit/verify_bundle.js (an auditor's
// export bundle, verified in the page).
//
// - RFC 9162 Merkle trees (contracts/transparency.py): leafHash, nodeHash, verifyInclusion,
//   and inclusionPath / treeRoot over a list of leaf hashes;
// - C2SP signed notes (contracts/checkpoint.py): parseVerifierKey, verifyCheckpoint;
// - canonical base64 and hex (b64decode, hexdecode, hex) as the Python side reads them.
//
// Failures are VerifyError with a catalog key (verify.* in i18n/{en,az}.json); a caller
// with its own words maps the keys.

const DASH = '\u2014 ';
const ED25519 = 0x01;
const HEX64 = /^[0-9a-f]{64}$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const SIZE = /^(0|[1-9][0-9]{0,15})$/;
const MAX_NOTE = 1 << 20;
export const encoder = new TextEncoder();

/** A refusal of the whole check: ``key`` is its catalog key. */
export class VerifyError extends Error {
  constructor(key, params = {}) {
    super(key);
    this.name = 'VerifyError';
    this.key = key;
    this.params = params;
  }
}

export function b64decode(text, key) {
  if (typeof text !== 'string' || !B64.test(text) || text.length % 4) throw new VerifyError(key);
  let binary;
  try {
    binary = atob(text);
  } catch {
    throw new VerifyError(key);
  }
  // Canonical only, as the Python side: no stray bits in the padding.
  if (btoa(binary) !== text) throw new VerifyError(key);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export function hexdecode(text, key) {
  if (typeof text !== 'string' || !HEX64.test(text)) throw new VerifyError(key);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export async function sha256(...parts) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', concat(...parts)));
}

/** SHA-256(0x00 || data): the hash of one leaf (RFC 9162 §2.1). */
export function leafHash(data) {
  return sha256(Uint8Array.of(0), data);
}

/** SHA-256(0x01 || left || right): the hash of an interior node. */
export function nodeHash(left, right) {
  return sha256(Uint8Array.of(1), left, right);
}

/** Whether ``proof`` (hashes, leaf side first) puts the leaf hash ``leaf`` at ``index`` of
 * the tree of ``size`` leaves whose hash is ``root``: RFC 9162 §2.1.3.2. */
export async function verifyInclusion(leaf, index, size, proof, root) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    return false;
  }
  // Index arithmetic below 2**53 with plain numbers: halving, never bitwise (32-bit) ops.
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  const odd = (n) => n % 2 === 1;
  for (const p of proof) {
    if (sn === 0 || !(p instanceof Uint8Array) || p.length !== 32) return false;
    if (odd(fn) || fn === sn) {
      r = await nodeHash(p, r);
      if (!odd(fn)) {
        while (fn !== 0 && !odd(fn)) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

// A valid Ed25519 public key (RFC 8032 §7.1, test 1): a browser may refuse to import a
// byte string that is not a point, which is not what the probe asks.
const PROBE_KEY = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';

/** Whether this browser's WebCrypto verifies Ed25519 signatures. */
export async function ed25519Supported() {
  try {
    const key = await crypto.subtle.importKey(
      'raw',
      hexdecode(PROBE_KEY, 'verify.unsupported'),
      { name: 'Ed25519' },
      false,
      ['verify'],
    );
    return key.algorithm.name === 'Ed25519';
  } catch {
    return false;
  }
}

/** ``{name, keyId, publicKey, raw}`` of a verifier key ``name+hex(key id)+base64(0x01 || key)``,
 * its key id checked against its key; VerifyError ``verify.key_invalid`` otherwise. */
export async function parseVerifierKey(text) {
  const bad = 'verify.key_invalid';
  if (typeof text !== 'string') throw new VerifyError(bad);
  const first = text.indexOf('+');
  const second = text.indexOf('+', first + 1);
  if (first < 1 || second < 0) throw new VerifyError(bad);
  const name = text.slice(0, first);
  const id = text.slice(first + 1, second);
  const data = b64decode(text.slice(second + 1), bad);
  if (/\s/.test(name) || data.length !== 33 || data[0] !== ED25519) throw new VerifyError(bad);
  const keyId = await keyIdOf(name, data.slice(1));
  if (hex(keyId) !== id) throw new VerifyError(bad);
  let publicKey;
  try {
    publicKey = await crypto.subtle.importKey('raw', data.slice(1), { name: 'Ed25519' }, false, [
      'verify',
    ]);
  } catch {
    throw new VerifyError(bad);
  }
  return { name, keyId, publicKey, raw: data.slice(1) };
}

async function keyIdOf(name, raw) {
  return (await sha256(encoder.encode(`${name}\n`), Uint8Array.of(ED25519), raw)).slice(0, 4);
}

/** ``{origin, size, root}`` of a signed checkpoint once ``key``'s signature verifies
 * (``key`` from parseVerifierKey). Signature lines of other keys are passed over; the first
 * by the key's name and id decides. VerifyError: ``verify.checkpoint_malformed``,
 * ``verify.checkpoint_unsigned`` (no line by the key) or ``verify.checkpoint_bad_signature``. */
export async function verifyCheckpoint(note, key) {
  const bad = 'verify.checkpoint_malformed';
  if (typeof note !== 'string' || note.length > MAX_NOTE || !note.endsWith('\n')) {
    throw new VerifyError(bad);
  }
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new VerifyError(bad);
  const body = note.slice(0, split + 1);
  const [origin, size, root, ...extensions] = body.split('\n').slice(0, -1);
  if (!origin || !SIZE.test(size ?? '') || extensions.some((line) => !line)) {
    throw new VerifyError(bad);
  }
  const rootBytes = b64decode(root, bad);
  if (rootBytes.length !== 32) throw new VerifyError(bad);
  const lines = note.slice(split + 2).split('\n').slice(0, -1);
  if (!lines.length) throw new VerifyError(bad);
  for (const line of lines) {
    if (!line.startsWith(DASH)) throw new VerifyError(bad);
    const rest = line.slice(DASH.length);
    const space = rest.indexOf(' ');
    if (space < 1 || rest.indexOf(' ', space + 1) >= 0) throw new VerifyError(bad);
    const data = b64decode(rest.slice(space + 1), bad);
    if (data.length < 5) throw new VerifyError(bad);
    if (rest.slice(0, space) !== key.name || !equal(data.slice(0, 4), key.keyId)) continue;
    const good = await crypto.subtle.verify(
      { name: 'Ed25519' },
      key.publicKey,
      data.slice(4),
      encoder.encode(body),
    );
    if (!good) throw new VerifyError('verify.checkpoint_bad_signature');
    return { origin, size: Number(size), root: rootBytes };
  }
  throw new VerifyError('verify.checkpoint_unsigned');
}

/** The RFC 9162 split: the largest power of two strictly smaller than ``n`` (n >= 2). */
function split(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH over leaf hashes: a memo of subtree hashes of ``leaves`` (Uint8Array each), so the
 * root at any size and any inclusion path cost O(n) hashes once, then O(log n). */
export class LeafTree {
  constructor(leaves) {
    this.leaves = leaves;
    this.memo = new Map();
  }

  /** MTH(leaves[lo:hi]); the empty tree's hash is SHA-256 of nothing. */
  async hash(lo, hi) {
    if (hi - lo === 0) return sha256();
    if (hi - lo === 1) return this.leaves[lo];
    const id = `${lo}:${hi}`;
    let found = this.memo.get(id);
    if (!found) {
      const k = split(hi - lo);
      found = await nodeHash(await this.hash(lo, lo + k), await this.hash(lo + k, hi));
      this.memo.set(id, found);
    }
    return found;
  }

  /** PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, leaf side first. */
  async inclusionPath(index, size) {
    if (!(index >= 0 && index < size && size <= this.leaves.length)) {
      throw new RangeError(`leaf ${index} is not in a tree of size ${size}`);
    }
    const path = [];
    let lo = 0;
    let hi = size;
    while (hi - lo > 1) {
      const k = split(hi - lo);
      if (index < lo + k) {
        path.push(await this.hash(lo + k, hi));
        hi = lo + k;
      } else {
        path.push(await this.hash(lo, lo + k));
        lo += k;
      }
    }
    return path.reverse();
  }
}
