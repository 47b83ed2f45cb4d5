// The staff member's sign-in (officer, auditor or observer): one token per tab, pasted or
// read from a file, kept in this tab's sessionStorage under STAFF_KEY only (never
// localStorage, never a cookie, never in the address). Signing out revokes the token
// (POST /api/v1/tokens/<jti>/revoke) and forgets it.
//
// A token is base64url(claims).base64url(signature) (api/access/auth.py): the claims are
// read here only to name the person and route them (role, sub, auction, exp, jti); the
// server checks the signature on every request, so nothing here is trusted for access.
//
// Public API:
//   readClaims(token) -> claims | null          the token's claims, or null if unreadable
//   loadStaff() -> {token, claims} | null        this tab's sign-in (expired: forgotten)
//   saveStaff(token) -> {token, claims}          keep it (after signIn checked it)
//   forgetStaff()                                drop it
//   signIn(text) -> {staff} | {problem: code}    check a pasted token with the server
//   signOut(staff)                               revoke, then forget
//   staffFetch(token, path, {method, body, signal}) -> {ok, status, body, problem}

export const STAFF_KEY = 'gavel.staff';
/** The roles that sign in here (a bidder's token belongs to the supplier's pages). */
export const STAFF_ROLES = Object.freeze(['officer', 'auditor', 'observer']);
const TOKEN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_TOKEN = 4096;

let memory = null; // the sign-in when storage refuses it

function base64urlJson(segment) {
  const b64 = segment.replace(/-/g, '+').replace(/_/g, '/');
  const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
}

export function readClaims(token) {
  if (typeof token !== 'string' || token.length > MAX_TOKEN || !TOKEN.test(token)) return null;
  try {
    const claims = base64urlJson(token.split('.')[0]);
    if (
      typeof claims?.role !== 'string' ||
      typeof claims.sub !== 'string' ||
      typeof claims.jti !== 'string' ||
      !Number.isInteger(claims.exp)
    ) {
      return null;
    }
    return {
      role: claims.role,
      sub: claims.sub,
      jti: claims.jti,
      exp: claims.exp,
      auction: typeof claims.auction === 'string' ? claims.auction : null,
    };
  } catch {
    return null;
  }
}

function expired(claims) {
  return claims.exp * 1000 <= Date.now();
}

export function loadStaff() {
  let token = memory;
  try {
    const raw = sessionStorage.getItem(STAFF_KEY);
    if (raw) token = JSON.parse(raw)?.token ?? null;
  } catch {
    // Storage refused: what this page kept in memory.
  }
  const claims = readClaims(token);
  if (!claims || expired(claims)) {
    if (token) forgetStaff();
    return null;
  }
  return { token, claims };
}

export function saveStaff(token) {
  memory = token;
  try {
    sessionStorage.setItem(STAFF_KEY, JSON.stringify({ token }));
  } catch {
    // The sign-in lasts as long as this page.
  }
  return { token, claims: readClaims(token) };
}

export function forgetStaff() {
  memory = null;
  try {
    sessionStorage.removeItem(STAFF_KEY);
  } catch {
    // Nothing kept.
  }
}

/** The request's answer as {ok, status, body, problem}; a network failure is status 0
 *  with the problem code 'network'. */
export async function staffFetch(token, path, { method = 'GET', body, signal, headers } = {}) {
  const sent = { Accept: 'application/json, application/problem+json', ...(headers ?? {}) };
  if (token) sent.Authorization = `Bearer ${token}`;
  const init = { method, headers: sent, credentials: 'same-origin', signal };
  if (body !== undefined) {
    sent['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    return { ok: false, status: 0, body: null, problem: { code: 'network' } };
  }
  let parsed = null;
  const type = response.headers.get('Content-Type') ?? '';
  if (type.includes('json')) {
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
  }
  const problem = response.ok ? null : parsed && typeof parsed.code === 'string' ? parsed : { code: 'failed' };
  return { ok: response.ok, status: response.status, body: response.ok ? parsed : null, problem };
}

/** Check a pasted token: readable, a staff role, not expired, and accepted by the server
 *  (GET /api/v1/auctions answers any valid token, narrowed to its binding). */
export async function signIn(text) {
  const token = String(text ?? '').trim();
  const claims = readClaims(token);
  if (!claims) return { problem: 'token_unreadable' };
  if (!STAFF_ROLES.includes(claims.role)) return { problem: 'token_not_staff' };
  if (expired(claims)) return { problem: 'token_expired' };
  const answer = await staffFetch(token, '/api/v1/auctions');
  if (!answer.ok) return { problem: answer.problem?.code ?? 'failed' };
  return { staff: saveStaff(token) };
}

export async function signOut(staff) {
  if (staff?.token && staff.claims?.jti) {
    await staffFetch(staff.token, `/api/v1/tokens/${encodeURIComponent(staff.claims.jti)}/revoke`, {
      method: 'POST',
      signal: AbortSignal.timeout(5000),
    });
  }
  forgetStaff();
}
