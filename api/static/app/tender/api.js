// The tender routes the supplier's view calls (api/http/tenders.py), with the session's
// token; every answer comes back as {ok, status, body, code}, never as a thrown error, and
// every refusal is named by a catalog key (problemKey), never shown as a code.

const API = '/api/v1/tenders';

function path(...parts) {
  return `${API}/${parts.map((part) => encodeURIComponent(part)).join('/')}`;
}

async function call(session, method, url, { body, headers = {}, retries = 0 } = {}) {
  let response = null;
  for (let attempt = 0; ; attempt++) {
    try {
      response = await fetch(url, {
        method,
        headers: session ? { Authorization: `Bearer ${session.token}`, ...headers } : headers,
        body,
        credentials: 'same-origin',
        cache: 'no-store',
      });
      if (response.status < 500 || attempt >= retries) break;
    } catch {
      response = null;
      if (attempt >= retries) break;
    }
    await new Promise((resolve) => setTimeout(resolve, 400 * (attempt + 1)));
  }
  if (response === null) return { ok: false, status: 0, body: null, code: null };
  let parsed = null;
  try {
    parsed = await response.json();
  } catch {
    parsed = null;
  }
  const code = !response.ok && typeof parsed?.code === 'string' ? parsed.code : null;
  return { ok: response.ok, status: response.status, body: parsed, code };
}

/** The tender as its bidder may see it, with the server's time (µs) read against this
 *  page's monotonic clock: ``offsetUs`` is server time minus performance.now() in µs. */
export async function loadTender(session, tenderId) {
  const sent = performance.now();
  const answer = await call(session, 'GET', path(tenderId));
  const received = performance.now();
  if (answer.ok && Number.isSafeInteger(answer.body?.server_time)) {
    answer.offsetUs = answer.body.server_time - Math.round(((sent + received) / 2) * 1000);
  }
  return answer;
}

export function loadServerKey() {
  return call(null, 'GET', `${API}/server-key`);
}

export function loadEvents(session, tenderId) {
  return call(session, 'GET', path(tenderId, 'events'));
}

export function loadReceipt(session, tenderId, seq) {
  return call(session, 'GET', `${path(tenderId, 'receipts')}/${Number(seq)}`);
}

/** Upload sealed bytes (application/octet-stream) under the deadline they were sealed
 *  for; one Idempotency-Key per envelope, so a retry after a lost answer gets the same
 *  receipt instead of a second submission. */
export function submitEnvelope(session, tenderId, lotId, kind, deadline, sealed) {
  const url = `${path(tenderId, 'lots', lotId, 'envelopes', kind)}?deadline=${deadline}`;
  return call(session, 'POST', url, {
    body: sealed.ciphertext,
    headers: {
      'Content-Type': 'application/octet-stream',
      'Idempotency-Key': `seal-${sealed.commitment}`,
    },
    retries: 2,
  });
}

export function withdrawEnvelope(session, tenderId, lotId, kind, commitment) {
  return call(session, 'POST', path(tenderId, 'lots', lotId, 'envelopes', kind, 'withdraw'), {
    headers: { 'Idempotency-Key': `withdraw-${commitment}` },
    retries: 2,
  });
}

/** The catalog key that says, in words, why a call failed. */
export function problemKey(answer) {
  switch (answer.code) {
    case 'submission_closed':
      return 'tender.error_closed';
    case 'invalid_schedule':
      return 'tender.error_deadline_moved';
    case 'tender_not_published':
      return 'tender.not_published';
    case 'no_envelope':
      return 'tender.error_no_envelope';
    case 'body_too_large':
      return 'tender.error_too_large';
    case 'token_missing':
    case 'token_malformed':
    case 'token_bad_signature':
    case 'token_expired':
    case 'token_not_yet_valid':
    case 'token_revoked':
      return 'tender.error_signed_out';
    case 'role_forbidden':
    case 'wrong_auction':
    case 'wrong_party':
      return 'tender.error_forbidden';
    case 'not_found':
    case 'unknown_lot':
      return 'tender.error_not_found';
    case 'rate_limited':
    case 'overloaded':
    case 'storage_unavailable':
    case 'shutting_down':
      return 'tender.error_busy';
    default:
      return answer.status === 0 || answer.status >= 500
        ? 'tender.error_network'
        : 'tender.error_refused';
  }
}
