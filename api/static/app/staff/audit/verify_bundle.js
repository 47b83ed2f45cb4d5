// An auditor's export bundle (api/audit/bundle.py), verified in the browser with WebCrypto
// alone: the checks of `gavel audit verify`, in its order, stopping at the first fault and
// naming it as the CLI does (the same event seq, checkpoint number and reason).
//
// Pure: no DOM, no network. The page fetches the bundle and the server's verifier key and
// hands them in; verifyBundle answers a verdict a person can read (catalog keys bundle.*).
//
// The steps, as api/audit/bundle.py's docstring numbers them:
//
// 1. signatures: the layout (every field, none unknown) and the keys (pinned to the
//    server's published key when one is given, as `--key` does); every checkpoint's Ed25519
//    signature, origin and size; the origin PREFIX/KIND/ID is the bundle's stream;
// 2. events: each event's canonical bytes (sorted keys, no spaces, integers, a known event
//    type), its seq equal to its position, its leaf hash against the manifest's leaf hashes
//    once those fold to every signed root (then a differing event is named: "event seq N
//    (Type) does not match the signed log");
// 3. tree: the Merkle tree grown as the events stream by, its root at each checkpoint's size
//    the signed one; the last checkpoint covers every event;
// 4. result: the bundle's rules are the AuctionCreated rules (in the wire form
//    contracts/rules_json.py writes) and its result the log's AuctionEnded (a tender: the
//    TenderCreated spec and the lots' last decisions; each stored envelope is one the log
//    received at its seq and opened). A tender's openings are checked in step 2 as the
//    CLI checks them before folding: the envelope opened is the one received (not
//    withdrawn), its ciphertext is in the bundle and hashes to its commitment;
// 5. manifest: every field recomputed (count, SHA-256 of the events, root, leaf hashes),
//    exported_at only typed (nothing signs it).
//
// What the page does NOT do, and says so: fold the events into the engine (Auction.apply,
// a tender's fold and invariants, deadlines, rankings) and re-decide a deadline close by
// a Tick: that is the engine's Python, which `gavel audit verify` runs. A bundle the engine
// would refuse but whose every signature, hash and root holds passes here and fails there:
// only an operator holding the signing key can make one.
//
// verifyBundle(bundle, {pinned}) never throws for what the bundle holds. Its answer:
//   {ok, failure: null | {step, code, key, params}, steps: [{step, status, key, params}],
//    summary: {kind, id, origin, events, checkpoints, root, keys, pinned, ended} | null,
//    tree: a LeafTree over the events' leaf hashes (for inclusionProof) | null,
//    signed: {number, size, root} of the last checkpoint | null}
// ``failure.code`` is one of CODES; ``failure.params`` has ``seq`` where an event is named
// and ``checkpoint`` where a checkpoint is.

import { minorToPlain } from '../../money.js';
import {
  LeafTree,
  VerifyError,
  b64decode,
  encoder,
  equal,
  hex,
  leafHash,
  nodeHash,
  parseVerifierKey,
  sha256,
  verifyCheckpoint,
  verifyInclusion,
} from '../../transparency.js';

/** The formats this page reads, each with its manifest's fields (as bundle.FORMATS). */
export const FORMATS = Object.freeze({
  'gavel-audit-bundle/1': ['events', 'events_sha256', 'root', 'exported_at'],
  'gavel-audit-bundle/2': ['events', 'events_sha256', 'root', 'leaf_hashes', 'exported_at'],
});

/** The steps, in order; 'engine' is the CLI's alone and 'proof' the auditor's own. */
export const STEPS = Object.freeze([
  'signatures',
  'events',
  'tree',
  'engine',
  'result',
  'manifest',
]);

/** Every failure code, by the step it belongs to. */
export const CODES = Object.freeze({
  signatures: [
    'format',
    'stream',
    'not_a_list',
    'no_origin',
    'key_fields',
    'key_invalid',
    'no_key',
    'key_not_pinned',
    'checkpoint_malformed',
    'checkpoint_unsigned',
    'checkpoint_bad_signature',
    'checkpoint_other_log',
    'no_checkpoint',
    'origin_malformed',
    'stream_not_signed',
    'fields',
    'envelope_invalid',
  ],
  events: [
    'not_canonical',
    'seq_order',
    'not_signed',
    'not_in_signed_log',
    'envelope_unknown',
    'envelope_missing',
    'envelope_commitment',
    'envelope_claim',
  ],
  tree: ['root_mismatch', 'missing_events', 'unsigned_tail'],
  result: ['rules', 'result', 'envelope_not_received'],
  manifest: [
    'manifest_not_object',
    'manifest_fields',
    'manifest_count',
    'manifest_sha256',
    'manifest_root',
    'manifest_leaf_format',
    'manifest_leaf_count',
    'manifest_leaf_differs',
    'manifest_exported_at',
  ],
});

/** The event types of each stream (engine.Event, engine.tender_records.TenderEvent); a
 * test checks them against the Python unions. */
export const EVENT_TYPES = Object.freeze({
  auction: [
    'AuctionCreated',
    'AuctionEnded',
    'AuctionStarted',
    'BidAccepted',
    'BidWithdrawn',
    'BidderDisqualified',
    'BidderRegistered',
    'CommandRejected',
    'EndExtended',
    'PriceChanged',
    'ProxySet',
    'RoundEnded',
    'RoundStarted',
    'TurnEnded',
    'TurnStarted',
  ],
  tender: [
    'BidderExcluded',
    'BidsRead',
    'CommandRejected',
    'EnvelopeInvalid',
    'EnvelopeOpened',
    'EnvelopeReceived',
    'EnvelopeWithdrawn',
    'LotAwarded',
    'LotClosed',
    'LotHandedOff',
    'LotOpened',
    'ScheduleChanged',
    'ShareAccepted',
    'SharesDiscarded',
    'StageOpened',
    'TenderCreated',
    'TenderPublished',
  ],
});

const FIELDS = [
  'format',
  'stream',
  'origin',
  'keys',
  'events',
  'checkpoints',
  'rules',
  'result',
  'manifest',
];
const KEY_FIELDS = ['name', 'verifier_key'];
const ENVELOPE_FIELDS = ['seq', 'lot', 'kind', 'bidder', 'commitment', 'ciphertext'];
const HASH = 32;

/** A fault: the first one ends verification. */
class Fault extends Error {
  constructor(code, params = {}) {
    super(code);
    this.code = code;
    this.params = params;
  }
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isInt = (v) => typeof v === 'number' && Number.isSafeInteger(v);

function stepOf(code) {
  return Object.keys(CODES).find((step) => CODES[step].includes(code));
}

/** Python's == on JSON trees (dicts unordered, lists ordered). */
export function sameData(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => sameData(x, b[i]));
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length &&
    keys.every((k) => Object.hasOwn(b, k) && sameData(a[k], b[k]))
  );
}

/** The canonical text of a JSON tree (contracts/canonical.py): keys sorted, no white
 * space, integers only, strings as JSON writes them without \u escapes of non-ASCII. */
export function canonicalText(value) {
  if (value === null || typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || Object.is(value, -0)) throw new TypeError('not an integer');
    return String(value);
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalText).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalText(value[k])}`).join(',')}}`;
}

/** The event whose canonical text is ``text``, or null. */
function decodeEvent(text, kind) {
  let tree;
  try {
    tree = JSON.parse(text);
    if (canonicalText(tree) !== text) return null;
  } catch {
    return null;
  }
  if (!isObject(tree) || !EVENT_TYPES[kind].includes(tree.type) || !isInt(tree.seq)) return null;
  return tree;
}

// ------------------------------------------------------------------- rules, as on the wire

const FORMAT_NAMES = {
  EnglishRules: 'english',
  ReverseRules: 'reverse',
  DutchRules: 'dutch',
  SealedRules: 'sealed',
  MultiRoundRules: 'multiround',
};
const MONEY = new Set(['start_price', 'reserve_price', 'limit_price', 'max_amount', 'amount']);

function dumpRules(value, currency, name, owner) {
  if (isObject(value) && typeof value.type === 'string') {
    const out = {};
    for (const [field, inner] of Object.entries(value)) {
      if (field !== 'type') out[field] = dumpRules(inner, currency, field, value.type);
    }
    return out;
  }
  const money = MONEY.has(name) || (owner === 'DutchRules' && name === 'step');
  if (isInt(value) && owner && money) return minorToPlain(value, currency);
  return value;
}

/** contracts.rules_json.rules_to_json of an AuctionCreated event's (canonical) rules. */
export function rulesToJson(rules) {
  if (!isObject(rules) || !Object.hasOwn(FORMAT_NAMES, rules.type)) return { unknown: rules };
  try {
    return { ...dumpRules(rules, rules.currency, '', null), format: FORMAT_NAMES[rules.type] };
  } catch {
    return { unknown: rules }; // an unknown currency: nothing the bundle can equal
  }
}

// ------------------------------------------------------------------------ step 1: layout

function exactFields(tree, fields, code, params) {
  const unknown = Object.keys(tree)
    .filter((k) => !fields.includes(k))
    .sort();
  if (unknown.length) throw new Fault(code, { ...params, names: unknown.join(', ') });
  const missing = fields.filter((k) => !Object.hasOwn(tree, k)).sort();
  if (missing.length) throw new Fault(code, { ...params, names: missing.join(', ') });
}

function list(bundle, name, check) {
  const value = bundle[name];
  if (!Array.isArray(value) || !value.every(check)) throw new Fault('not_a_list', { name });
  return value;
}

/** The bundle's keys, each ``{name, keyId, publicKey, raw, text}``. */
async function readKeys(bundle) {
  const keys = [];
  const entries = list(bundle, 'keys', isObject);
  for (const [i, entry] of entries.entries()) {
    exactFields(entry, KEY_FIELDS, 'key_fields', { number: i + 1, name: String(entry.name) });
    let key;
    try {
      key = await parseVerifierKey(String(entry.verifier_key));
    } catch {
      throw new Fault('key_invalid', { name: String(entry.name) });
    }
    if (key.name !== entry.name) throw new Fault('key_invalid', { name: String(entry.name) });
    keys.push({ ...key, text: entry.verifier_key });
  }
  return keys;
}

/** Keep only the bundle's key that is ``pinned`` (a parsed verifier key), as `--key`. */
async function pinKey(bundle, pinned) {
  for (const entry of Array.isArray(bundle.keys) ? bundle.keys : []) {
    try {
      const found = await parseVerifierKey(String(entry?.verifier_key));
      if (found.name === pinned.name && equal(found.raw, pinned.raw)) {
        return { ...bundle, keys: [entry] };
      }
    } catch {
      // Not a key: passed over, as the CLI does.
    }
  }
  throw new Fault('key_not_pinned', { key: pinned.text });
}

const CHECKPOINT_CODES = {
  'verify.checkpoint_bad_signature': 'checkpoint_bad_signature',
  'verify.checkpoint_unsigned': 'checkpoint_unsigned',
};

async function readCheckpoint(text, keys, number) {
  let first = null;
  for (const key of keys) {
    try {
      return await verifyCheckpoint(text, key);
    } catch (error) {
      const code = error instanceof VerifyError ? CHECKPOINT_CODES[error.key] : null;
      first ??= code ?? 'checkpoint_malformed';
    }
  }
  const size = text.split('\n').length > 2 ? text.split('\n')[1] : '?';
  throw new Fault(first, { checkpoint: number, size, key: keys.map((k) => k.name).join(', ') });
}

async function layout(bundle) {
  const format = bundle.format;
  if (!Object.hasOwn(FORMATS, format)) throw new Fault('format');
  const stream = bundle.stream;
  if (
    !isObject(stream) ||
    Object.keys(stream).length !== 2 ||
    !Object.hasOwn(stream, 'kind') ||
    !Object.hasOwn(stream, 'id') ||
    !['auction', 'tender'].includes(stream.kind) ||
    typeof stream.id !== 'string' ||
    !stream.id
  ) {
    throw new Fault('stream');
  }
  const events = list(bundle, 'events', (v) => typeof v === 'string');
  const texts = list(bundle, 'checkpoints', (v) => typeof v === 'string');
  const origin = bundle.origin;
  if (typeof origin !== 'string') throw new Fault('no_origin');
  const keys = await readKeys(bundle);
  if (!keys.length) throw new Fault('no_key');
  const due = new Map(); // size -> [{number, root}]
  const signed = [];
  for (const [i, text] of texts.entries()) {
    const checkpoint = await readCheckpoint(text, keys, i + 1);
    if (checkpoint.origin !== origin) {
      throw new Fault('checkpoint_other_log', {
        checkpoint: i + 1,
        size: checkpoint.size,
        origin: checkpoint.origin,
      });
    }
    if (!due.has(checkpoint.size)) due.set(checkpoint.size, []);
    due.get(checkpoint.size).push({ number: i + 1, root: checkpoint.root });
    signed.push({ number: i + 1, size: checkpoint.size, root: checkpoint.root });
  }
  if (!texts.length) throw new Fault('no_checkpoint');
  const parts = origin.split('/');
  const [prefix, kind, id] = [parts.slice(0, -2).join('/'), parts.at(-2), parts.at(-1)];
  if (parts.length < 3 || !prefix || !kind || !id) throw new Fault('origin_malformed', { origin });
  if (kind !== stream.kind || id !== stream.id) {
    throw new Fault('stream_not_signed', { kind: stream.kind, id: stream.id, origin });
  }
  const fields = stream.kind === 'tender' ? [...FIELDS, 'envelopes'] : FIELDS;
  exactFields(bundle, fields, 'fields', {});
  return { format, kind, id, origin, events, texts, due, keys, signed };
}

// ------------------------------------------------------------------ steps 2 and 3: the tree

/** The tree as the events stream by: a frontier of subtree hashes (contracts.transparency
 * .Frontier), the checkpoints due at each size, the manifest's stated leaf hashes. */
class Tree {
  constructor(plan, manifest) {
    this.plan = plan;
    this.due = plan.due;
    this.hashes = [];
    this.size = 0;
    this.leaves = [];
    this.manifest = isObject(manifest) ? manifest : null;
    this.stated = this.statedLeaves();
    this.differs = 0;
  }

  statedLeaves() {
    if (!this.manifest || !FORMATS[this.plan.format].includes('leaf_hashes')) return null;
    try {
      const stated = b64decode(this.manifest.leaf_hashes, 'bundle');
      return stated.length % HASH ? null : stated;
    } catch {
      return null;
    }
  }

  static async rootOf(hashes) {
    if (!hashes.length) return sha256();
    let acc = hashes.at(-1);
    for (let i = hashes.length - 2; i >= 0; i--) acc = await nodeHash(hashes[i], acc);
    return acc;
  }

  static async append(frontier, hashed) {
    let size = frontier.size;
    let h = hashed;
    while (size % 2 === 1) {
      h = await nodeHash(frontier.hashes.pop(), h);
      size = Math.floor(size / 2);
    }
    frontier.hashes.push(h);
    frontier.size += 1;
  }

  async checkRoots() {
    const expected = this.due.get(this.size);
    if (!expected) return;
    const actual = await Tree.rootOf(this.hashes);
    for (const { number, root } of expected) {
      if (!equal(root, actual)) {
        const earlier = [...this.due.keys()].filter((s) => s < this.size);
        throw new Fault('root_mismatch', {
          checkpoint: number,
          size: this.size,
          first: Math.max(0, ...earlier) + 1,
          last: this.size,
        });
      }
    }
  }

  /** Whether ``stated`` are the signed log's leaves: every checkpoint's root holds. */
  async signs(stated) {
    if (stated.length !== Math.max(...this.due.keys()) * HASH) return false;
    const frontier = { hashes: [], size: 0 };
    for (let at = 0; at < stated.length; at += HASH) {
      await Tree.append(frontier, stated.slice(at, at + HASH));
      const expected = this.due.get(frontier.size);
      if (expected) {
        const root = await Tree.rootOf(frontier.hashes);
        if (!expected.every((e) => equal(e.root, root))) return false;
      }
    }
    return true;
  }

  async leaf(position, data, type) {
    const hashed = await leafHash(data);
    this.leaves.push(hashed);
    const stated = this.stated;
    if (stated === null || this.differs) return hashed;
    const at = (position - 1) * HASH;
    if (equal(stated.slice(at, at + HASH), hashed)) return hashed;
    this.differs = position;
    if (!(await this.signs(stated))) return hashed;
    if (at >= stated.length) {
      throw new Fault('not_in_signed_log', { seq: position, type, count: stated.length / HASH });
    }
    const size = Math.min(...[...this.due.keys()].filter((s) => s >= position));
    throw new Fault('not_signed', {
      seq: position,
      type,
      checkpoint: this.due.get(size)[0].number,
      size,
    });
  }

  async grow(hashed) {
    await Tree.append(this, hashed);
    await this.checkRoots();
  }

  cover() {
    const beyond = Math.max(...this.due.keys());
    const count = this.size;
    if (beyond > count) {
      throw new Fault('missing_events', {
        checkpoint: this.due.get(beyond)[0].number,
        size: beyond,
        count,
        first: count + 1,
        last: beyond,
      });
    }
    if (beyond < count) {
      throw new Fault('unsigned_tail', { size: beyond, count, first: beyond + 1, last: count });
    }
  }

  async checkManifest(bytes) {
    const manifest = this.manifest;
    if (manifest === null) throw new Fault('manifest_not_object');
    const fields = FORMATS[this.plan.format];
    exactFields(manifest, fields, 'manifest_fields', {});
    const count = this.size;
    if (!isInt(manifest.events) || manifest.events !== count) {
      throw new Fault('manifest_count', { stated: JSON.stringify(manifest.events), count });
    }
    const digest = hex(await sha256(...bytes));
    if (manifest.events_sha256 !== digest) throw new Fault('manifest_sha256', { digest });
    const root = hex(await Tree.rootOf(this.hashes));
    if (manifest.root !== root) throw new Fault('manifest_root', { root });
    if (fields.includes('leaf_hashes')) {
      if (this.stated === null) throw new Fault('manifest_leaf_format');
      if (this.stated.length !== count * HASH) {
        throw new Fault('manifest_leaf_count', { stated: this.stated.length / HASH, count });
      }
      if (this.differs) throw new Fault('manifest_leaf_differs', { seq: this.differs });
    }
    if (!isInt(manifest.exported_at) || manifest.exported_at < 0) {
      throw new Fault('manifest_exported_at');
    }
  }
}

// ------------------------------------------------------------------------ step 4: result

function checkAuctionResult(bundle, events) {
  const created = events.find((e) => e.type === 'AuctionCreated');
  const rules = created ? rulesToJson(created.rules) : null;
  if (!sameData(bundle.rules ?? null, rules)) throw new Fault('rules');
  const ended = events.findLast((e) => e.type === 'AuctionEnded') ?? null;
  if (!sameData(bundle.result ?? null, ended)) {
    throw new Fault('result', ended ? { seq: ended.seq } : {});
  }
  return ended;
}

/** A tender's envelopes as the fold keeps them: ``lot/bidder/kind`` -> {seq, commitment}. */
function envelopeKey(event) {
  return JSON.stringify([event.lot, event.bidder, event.kind]);
}

/** What the CLI checks of an opening before folding it (bundle._tender_facts): the
 * envelope opened is the one received (and not withdrawn), the bundle holds its
 * ciphertext, and SHA-256 of that is the commitment, unless the log says it is not. */
async function checkOpening(event, position, envelopes, blobs) {
  if (event.type === 'EnvelopeReceived') {
    envelopes.set(envelopeKey(event), { seq: event.seq, commitment: event.commitment });
  } else if (event.type === 'EnvelopeWithdrawn') {
    envelopes.delete(envelopeKey(event));
  }
  if (event.type !== 'EnvelopeOpened' && event.type !== 'EnvelopeInvalid') return;
  const where = { seq: position, type: event.type };
  const envelope = envelopes.get(envelopeKey(event));
  if (!envelope || envelope.commitment !== event.commitment) {
    throw new Fault('envelope_unknown', where);
  }
  const blob = blobs.get(envelope.seq);
  const reason = typeof event.reason === 'string' ? event.reason : '';
  if (!blob) {
    if (event.type === 'EnvelopeInvalid' && reason.startsWith('missing_ciphertext')) return;
    throw new Fault('envelope_missing', { ...where, received: envelope.seq });
  }
  const matches = hex(await sha256(blob.data)) === envelope.commitment;
  const claims = event.type === 'EnvelopeInvalid' && reason.startsWith('commitment_mismatch');
  const opened = { ...where, received: envelope.seq };
  if (!matches && !claims) throw new Fault('envelope_commitment', opened);
  if (matches && claims) throw new Fault('envelope_claim', opened);
}

function readEnvelopes(bundle) {
  const found = new Map();
  const entries = list(bundle, 'envelopes', isObject);
  for (const [i, entry] of entries.entries()) {
    exactFields(entry, ENVELOPE_FIELDS, 'envelope_invalid', { number: i + 1 });
    let data = null;
    try {
      data = b64decode(entry.ciphertext, 'bundle');
    } catch {
      // refused below
    }
    if (!isInt(entry.seq) || data === null || found.has(entry.seq)) {
      throw new Fault('envelope_invalid', { number: i + 1 });
    }
    found.set(entry.seq, { entry, data });
  }
  return found;
}

async function checkTenderResult(bundle, events, blobs) {
  const created = events.find((e) => e.type === 'TenderCreated');
  if (!sameData(bundle.rules ?? null, created ? created.spec : null)) throw new Fault('rules');
  const decisions = new Map();
  for (const event of events) {
    if (event.type === 'LotAwarded' || event.type === 'LotHandedOff') {
      decisions.set(event.lot, event);
    }
  }
  const decided = [...decisions.values()].sort((a, b) => a.seq - b.seq);
  if (!sameData(bundle.result ?? null, decided)) throw new Fault('result');
  // Each stored envelope is one an opening in the log covered, as received at its seq.
  for (const [seq, { entry }] of [...blobs.entries()].sort((a, b) => a[0] - b[0])) {
    const received = events[seq - 1];
    const opened = events.some(
      (e) =>
        (e.type === 'EnvelopeOpened' || e.type === 'EnvelopeInvalid') &&
        e.lot === entry.lot &&
        e.bidder === entry.bidder &&
        e.kind === entry.kind &&
        e.commitment === entry.commitment,
    );
    const same =
      received?.type === 'EnvelopeReceived' &&
      ['lot', 'kind', 'bidder', 'commitment'].every((f) => received[f] === entry[f]);
    if (!same || !opened) throw new Fault('envelope_not_received', { seq });
  }
  return decided.length ? decided.at(-1) : null;
}

// ---------------------------------------------------------------------------- verifyBundle

/**
 * Verify ``bundle`` (the parsed JSON of an export) as `gavel audit verify` does, minus the
 * engine's replay. ``pinned``: the server's verifier key text (``name+id+key``), to require
 * as the signer (the CLI's ``--key``); null trusts the bundle's own keys (integrity, not
 * origin). ``onStep(step, status)`` is told as each step starts and ends.
 */
export async function verifyBundle(bundle, { pinned = null, onStep = () => {} } = {}) {
  const steps = Object.fromEntries(STEPS.map((s) => [s, { step: s, status: 'waiting' }]));
  steps.engine = { step: 'engine', status: 'not_checked', key: 'bundle.step_engine_cli' };
  const mark = (step, status, key = null, params = {}) => {
    Object.assign(steps[step], { status, key, params });
    onStep(step, status);
  };
  const answer = { ok: false, failure: null, summary: null, tree: null, signed: null };
  let current = 'signatures';
  try {
    if (!isObject(bundle)) throw new Fault('format');
    mark('signatures', 'running');
    let pinnedKey = null;
    if (pinned !== null) {
      try {
        pinnedKey = { ...(await parseVerifierKey(pinned)), text: pinned };
      } catch {
        throw new Fault('key_invalid', { name: String(pinned).split('+')[0] });
      }
      bundle = await pinKey(bundle, pinnedKey);
    }
    const plan = await layout(bundle);
    const blobs = plan.kind === 'tender' ? readEnvelopes(bundle) : new Map();
    const last = plan.signed.reduce((a, b) => (b.size >= a.size ? b : a));
    answer.signed = { ...last, root: hex(last.root) };
    mark('signatures', 'ok', 'bundle.step_signatures_ok', {
      count: plan.texts.length,
      key: plan.keys.map((k) => `${k.name} (${hex(k.keyId)})`).join(', '),
    });

    current = 'events';
    mark('events', 'running');
    mark('tree', 'running');
    const tree = new Tree(plan, bundle.manifest);
    current = 'tree';
    await tree.checkRoots(); // a checkpoint of size 0 signs the empty tree
    const events = [];
    const bytes = [];
    const envelopes = new Map();
    for (const [i, text] of plan.events.entries()) {
      const position = i + 1;
      current = 'events';
      const data = encoder.encode(text);
      bytes.push(data);
      const event = decodeEvent(text, plan.kind);
      if (event === null) throw new Fault('not_canonical', { seq: position });
      if (event.seq !== position) {
        throw new Fault('seq_order', { seq: position, found: event.seq });
      }
      const hashed = await tree.leaf(position, data, event.type);
      if (plan.kind === 'tender') await checkOpening(event, position, envelopes, blobs);
      events.push(event);
      current = 'tree';
      await tree.grow(hashed);
    }
    tree.cover();
    mark('events', 'ok', 'bundle.step_events_ok', { count: events.length });
    mark('tree', 'ok', 'bundle.step_tree_ok', {
      count: plan.texts.length,
      root: answer.signed.root,
    });

    current = 'result';
    mark('result', 'running');
    const ended =
      plan.kind === 'tender'
        ? await checkTenderResult(bundle, events, blobs)
        : checkAuctionResult(bundle, events);
    mark('result', 'ok', ended ? 'bundle.step_result_ok' : 'bundle.step_result_open', {
      seq: ended?.seq ?? 0,
    });

    current = 'manifest';
    mark('manifest', 'running');
    await tree.checkManifest(bytes);
    mark('manifest', 'ok', 'bundle.step_manifest_ok', { count: events.length });

    answer.ok = true;
    answer.tree = new LeafTree(tree.leaves);
    answer.events = events;
    answer.summary = {
      kind: plan.kind,
      id: plan.id,
      origin: plan.origin,
      events: events.length,
      checkpoints: plan.texts.length,
      root: answer.signed.root,
      keys: plan.keys.map((k) => k.text),
      pinned: pinnedKey !== null,
      ended: ended !== null,
    };
  } catch (error) {
    if (!(error instanceof Fault)) throw error;
    const step = stepOf(error.code) ?? current;
    answer.failure = {
      step,
      code: error.code,
      key: `bundle.fail_${error.code}`,
      params: error.params,
    };
    mark(step, 'failed', answer.failure.key, error.params);
    for (const s of STEPS) if (steps[s].status === 'running') mark(s, 'waiting');
  }
  answer.steps = STEPS.map((s) => steps[s]);
  return answer;
}

/**
 * The inclusion proof of event ``seq`` in the log the last checkpoint signs, computed from
 * the verified bundle (``verified`` is verifyBundle's answer with ok) and checked against
 * the signed root as any proof would be (RFC 9162 §2.1.3.2). ``proof`` may be a path
 * another party gave (the server's, hex hashes); by default the bundle's own.
 * Answers ``{ok, seq, size, leaf, path, root}`` (hashes in hex).
 */
export async function inclusionProof(verified, seq, proof = null) {
  const { size, root } = verified.signed;
  if (!Number.isSafeInteger(seq) || seq < 1 || seq > size) {
    return { ok: false, seq, size, leaf: null, path: [], root };
  }
  const leaf = verified.tree.leaves[seq - 1];
  const path = proof
    ? proof.map((h) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16)))
    : await verified.tree.inclusionPath(seq - 1, size);
  const rootBytes = Uint8Array.from(root.match(/../g), (b) => parseInt(b, 16));
  const ok = await verifyInclusion(leaf, seq - 1, size, path, rootBytes);
  return { ok, seq, size, leaf: hex(leaf), path: path.map(hex), root };
}
