// A sealed envelope's signed receipt, checked in the browser: the same bytes, key id and
// signature as contracts/receipts.py (verify_receipt), by WebCrypto's Ed25519.
//
// Signed bytes: "gavel/receipt/v1\n" then the receipt's canonical JSON (keys sorted, no
// whitespace, UTF-8). The key id is the first 16 hex digits of SHA-256 of the server's raw
// public key (GET /api/v1/tenders/server-key). A receipt is also checked against what the
// page sent: its tender, lot, envelope kind, bidder, commitment and action.
//
// Public API:
//   verifyReceipt(signed, serverKeyHex, expected) -> receipt    (async; ReceiptError)
//   receiptFile(signed) -> Blob      the {receipt, signature} file to keep, as the CLI reads it
//   receiptFileName(receipt) -> string
// ReceiptError.key is a catalog key (tender.receipt_*), never shown as a code.

const encoder = new TextEncoder();
const LABEL = 'gavel/receipt/v1\n';
const TYPE = 'gavel-receipt/v1';
const TEXT_FIELDS = ['tender_id', 'lot_id', 'kind', 'bidder_id'];
const FIELDS = [
  'type',
  ...TEXT_FIELDS,
  'commitment',
  'received_at_us',
  'seq',
  'server_key_id',
  'action',
];

export class ReceiptError extends Error {
  constructor(key) {
    super(key);
    this.name = 'ReceiptError';
    this.key = key;
  }
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function unhex(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The receipt's fields, checked for shape; ReceiptError tender.receipt_malformed. */
function checked(signed) {
  const bad = () => new ReceiptError('tender.receipt_malformed');
  if (!signed || typeof signed !== 'object') throw bad();
  const { receipt, signature } = signed;
  if (!receipt || typeof receipt !== 'object' || Array.isArray(receipt)) throw bad();
  const keys = Object.keys(receipt).sort();
  if (keys.join() !== [...FIELDS].sort().join()) throw bad();
  if (receipt.type !== TYPE || !['submitted', 'withdrawn'].includes(receipt.action)) throw bad();
  if (TEXT_FIELDS.some((name) => typeof receipt[name] !== 'string' || !receipt[name])) throw bad();
  if (!/^[0-9a-f]{64}$/.test(receipt.commitment ?? '')) throw bad();
  if (!/^[0-9a-f]{16}$/.test(receipt.server_key_id ?? '')) throw bad();
  for (const name of ['received_at_us', 'seq']) {
    if (!Number.isSafeInteger(receipt[name]) || receipt[name] < 0) throw bad();
  }
  if (typeof signature !== 'string' || !/^[0-9a-f]{128}$/.test(signature)) throw bad();
  return receipt;
}

/** Python's json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False) of the
 *  receipt: ASCII keys (sorted alike in both), strings and safe integers. */
function canonical(receipt) {
  const keys = Object.keys(receipt).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(receipt[k])}`).join(',')}}`;
}

/** The receipt of ``signed`` once its signature verifies against the server's key (hex)
 *  and it says what ``expected`` says (any of tender_id, lot_id, kind, bidder_id,
 *  commitment, action). ReceiptError: tender.receipt_malformed, tender.receipt_wrong_key,
 *  tender.receipt_unsupported (no Ed25519 here), tender.receipt_bad_signature,
 *  tender.receipt_mismatch. */
export async function verifyReceipt(signed, serverKeyHex, expected = {}) {
  const receipt = checked(signed);
  if (typeof serverKeyHex !== 'string' || !/^[0-9a-f]{64}$/.test(serverKeyHex)) {
    throw new ReceiptError('tender.receipt_wrong_key');
  }
  const raw = unhex(serverKeyHex);
  const id = hex(new Uint8Array(await crypto.subtle.digest('SHA-256', raw))).slice(0, 16);
  if (receipt.server_key_id !== id) throw new ReceiptError('tender.receipt_wrong_key');
  let key;
  try {
    key = await crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']);
  } catch {
    throw new ReceiptError('tender.receipt_unsupported');
  }
  let good = false;
  try {
    good = await crypto.subtle.verify(
      { name: 'Ed25519' },
      key,
      unhex(signed.signature),
      encoder.encode(LABEL + canonical(receipt)),
    );
  } catch {
    throw new ReceiptError('tender.receipt_unsupported');
  }
  if (!good) throw new ReceiptError('tender.receipt_bad_signature');
  for (const [name, value] of Object.entries(expected)) {
    if (receipt[name] !== value) throw new ReceiptError('tender.receipt_mismatch');
  }
  return receipt;
}

/** The file to keep: exactly the signed form (``{receipt, signature}``), which
 *  ``SignedReceipt.from_json`` and ``gavel tender`` read. */
export function receiptFile(signed) {
  const body = { receipt: signed.receipt, signature: signed.signature };
  return new Blob([`${JSON.stringify(body, null, 2)}\n`], { type: 'application/json' });
}

export function receiptFileName(receipt) {
  const safe = (text) => String(text).replace(/[^A-Za-z0-9._-]+/g, '_');
  return `receipt-${safe(receipt.tender_id)}-${safe(receipt.lot_id)}-${receipt.seq}.json`;
}
