// "Your bids are in the signed record of this auction", checked in the browser.
//
// For each bid the server acknowledged, verifyBids fetches an inclusion proof against one
// signed checkpoint of the auction's log and checks, with nothing but WebCrypto:
//
// 1. the checkpoint (a C2SP signed note, contracts/checkpoint.py): a signature line by
//    the audit key (its name and 4-byte key id, SHA-256(name || 0x0A || 0x01 || key)[:4])
//    whose Ed25519 signature verifies over the body; the origin names this auction's log
//    (PREFIX/auction/ID); the size and root are read from the signed body, never from a
//    field beside it;
// 2. the event: the canonical bytes the proof carries (only the bidder it is about, or
//    an overseer, gets them) say what the acknowledgement said: the same seq, a
//    BidAccepted by this party, every field of the ack's event equal;
// 3. the proof: the leaf SHA-256(0x00 || bytes) folds with the proof's hashes, as RFC 9162
//    §2.1.3.2 says (contracts/transparency.py), to the signed root at the signed size.
//
// Anything that cannot be checked fails closed: no Ed25519 in WebCrypto, an unreadable key
// or checkpoint, a signature that does not verify, the log of another auction: every bid
// is refused. A bid whose proof or event does not hold is named, with why. Words are
// catalog keys (verify.* in i18n/{en,az}.json) with their parameters.

import {
  VerifyError,
  hexdecode,
  hex,
  leafHash,
  nodeHash,
  verifyInclusion,
  ed25519Supported,
  parseVerifierKey,
  verifyCheckpoint,
  encoder,
} from './transparency.js';

// The primitives stay importable from here, as before they moved.
export {
  VerifyError,
  ed25519Supported,
  leafHash,
  nodeHash,
  parseVerifierKey,
  verifyCheckpoint,
  verifyInclusion,
};

/** The ``sub`` of a Gavel token ``claims.signature`` (base64url; the claims are JSON,
 * api/access/auth.py), or null. Read, not verified: the server verified it. */
export function tokenParty(token) {
  try {
    const parts = String(token).split('.');
    if (parts.length !== 2) return null;
    const part = parts[0].replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(part + '='.repeat((4 - (part.length % 4)) % 4));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    const sub = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)).sub;
    return typeof sub === 'string' ? sub : null;
  } catch {
    return null;
  }
}

function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  return (
    ka.length === Object.keys(b).length &&
    ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]))
  );
}

/** Why the logged event (canonical text) is not the bid that was acknowledged, or null. */
function differs(text, bid, party) {
  let logged;
  try {
    logged = JSON.parse(text);
  } catch {
    return 'verify.why_event_unreadable';
  }
  if (logged === null || typeof logged !== 'object' || logged.type !== 'BidAccepted') {
    return 'verify.why_not_a_bid';
  }
  if (logged.seq !== bid.seq) return 'verify.why_other_seq';
  if (party !== null && logged.bidder !== party) return 'verify.why_other_bidder';
  // The ack shows the event as the bidder sees it: its label for the party, and "you".
  for (const [name, value] of Object.entries(bid.event ?? {})) {
    if (name === 'bidder' || name === 'you') continue;
    if (!deepEqual(logged[name], value)) return 'verify.why_event_differs';
  }
  return null;
}

async function getJson(fetchFn, url, token) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const reply = await fetchFn(url, { headers, cache: 'no-store', credentials: 'omit' });
  if (!reply.ok) throw new VerifyError('verify.unreachable', { status: reply.status });
  return reply.json();
}

async function checkBid(fetchFn, base, auction, token, checkpoint, bid, party) {
  const verdict = (key, extra = {}) => ({ seq: bid.seq, ok: key === null, why: key, ...extra });
  if (!Number.isSafeInteger(bid.seq) || bid.seq < 1) return verdict('verify.why_bad_seq');
  if (bid.seq > checkpoint.size) return verdict('verify.why_after_checkpoint');
  const query = `seq=${bid.seq}&size=${checkpoint.size}`;
  let answer;
  try {
    answer = await getJson(
      fetchFn,
      `${base}/api/v1/auctions/${encodeURIComponent(auction)}/proofs/inclusion?${query}`,
      token,
    );
  } catch (error) {
    return verdict('verify.why_no_proof', { status: error.params?.status ?? null });
  }
  if (answer?.seq !== bid.seq || answer?.size !== checkpoint.size) {
    return verdict('verify.why_other_proof');
  }
  if (typeof answer.event !== 'string') return verdict('verify.why_no_event');
  const why = differs(answer.event, bid, party);
  if (why) return verdict(why);
  if (!Array.isArray(answer.proof) || answer.proof.length > 64) {
    return verdict('verify.why_proof_fails');
  }
  let path;
  try {
    path = answer.proof.map((h) => hexdecode(h, 'verify.why_proof_fails'));
  } catch {
    return verdict('verify.why_proof_fails');
  }
  const leaf = await leafHash(encoder.encode(answer.event));
  const holds = await verifyInclusion(leaf, bid.seq - 1, checkpoint.size, path, checkpoint.root);
  return verdict(holds ? null : 'verify.why_proof_fails', { leaf: hex(leaf) });
}

/**
 * Check that each of my acknowledged bids is in the signed record of an auction.
 *
 * ``bids``: ``[{seq, event}]``, the ``seq`` and ``event`` of each ``ack``. ``token``: the
 * bidder's token (its ``sub`` is the party the events must name, unless ``party`` is given).
 * ``checkpoint``: a signed note to check against (the one the result was computed from,
 * pushed at the close); by default the auction's latest. ``verifierKey``: a pinned
 * ``name+id+key``; by default the one /api/v1/audit/key publishes.
 *
 * Answers ``{ok, key, params, checkpoint, bids}``: ``ok`` when every bid is in the record;
 * ``key``/``params`` the sentence (``verify.all_in_record`` {count}, ``verify.one_in_record``,
 * ``verify.no_bids``, ``verify.some_missing`` {count, missing}, or a refusal of the whole
 * check: ``verify.unsupported``, ``verify.unreachable``, ``verify.key_invalid``,
 * ``verify.checkpoint_*``); ``checkpoint``
 * the verified ``{origin, size, root}`` (root in hex) or null; ``bids`` one verdict per bid,
 * in order: ``{seq, ok, why}`` with ``why`` a ``verify.why_*`` key when it is not in.
 * Never throws for what the network or the server sends.
 */
export async function verifyBids({
  base = '',
  auction,
  token,
  bids,
  party = null,
  checkpoint = null,
  verifierKey = null,
  fetch: fetchFn = globalThis.fetch.bind(globalThis),
}) {
  const refused = (error) => ({
    ok: false,
    key: error instanceof VerifyError ? error.key : 'verify.unreachable',
    params: error instanceof VerifyError ? error.params : {},
    checkpoint: null,
    bids: bids.map((bid) => ({ seq: bid.seq, ok: false, why: 'verify.why_refused' })),
  });
  if (!(await ed25519Supported())) return refused(new VerifyError('verify.unsupported'));
  let signed;
  try {
    const key = await parseVerifierKey(
      verifierKey ?? (await getJson(fetchFn, `${base}/api/v1/audit/key`, null)).verifier_key,
    );
    const note =
      checkpoint ??
      (await getJson(
        fetchFn,
        `${base}/api/v1/auctions/${encodeURIComponent(auction)}/checkpoint`,
        token,
      )).note;
    signed = await verifyCheckpoint(note, key);
    // PREFIX/auction/ID, split at the last two '/': an id never holds one.
    const parts = signed.origin.split('/');
    const prefix = parts.slice(0, -2).join('/');
    if (!prefix || parts.at(-1) !== auction || parts.at(-2) !== 'auction') {
      throw new VerifyError('verify.checkpoint_other_log');
    }
  } catch (error) {
    return refused(error);
  }
  const me = party ?? tokenParty(token);
  const verdicts = [];
  for (const bid of bids) {
    verdicts.push(await checkBid(fetchFn, base, auction, token, signed, bid, me));
  }
  const missing = verdicts.filter((v) => !v.ok);
  const shown = { origin: signed.origin, size: signed.size, root: hex(signed.root) };
  if (!missing.length) {
    const many = verdicts.length > 1 ? 'verify.all_in_record' : 'verify.one_in_record';
    return {
      ok: true,
      key: verdicts.length ? many : 'verify.no_bids',
      params: { count: verdicts.length },
      checkpoint: shown,
      bids: verdicts,
    };
  }
  return {
    ok: false,
    key: 'verify.some_missing',
    params: { count: verdicts.length, missing: missing.length },
    checkpoint: shown,
    bids: verdicts,
  };
}
