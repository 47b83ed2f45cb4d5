// This tab's sessions: each invitation code taken from the address's fragment is
// exchanged once for the supplier's token in one auction or one tender, kept in this
// tab's sessionStorage only (never localStorage, never a cookie); signing out of one
// revokes its token and forgets it.
//
// A session is {kind: 'auction'|'tender', id, token, jti, party, expires_at (µs)}; the
// tab holds any number of them, one per kind and id (a second redeem for the same
// auction replaces the first), oldest first, under SESSIONS_KEY.
//
// Before several sessions, the tab held one auction session under LEGACY_KEY as
// {token, jti, auction, party, expires_at}. loadSessions() still reads such a one and
// adds it to the list. The key also mirrors the auction session this tab opened last,
// in that shape (plus kind and id), for the pages and tools of the one-session page; it
// is dropped with that session.

const SESSIONS_KEY = 'gavel.sessions';
const LEGACY_KEY = 'gavel.session';
const KINDS = new Set(['auction', 'tender']);

function read(key) {
  try {
    const raw = sessionStorage.getItem(key);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage refused: the sessions last as long as this page.
  }
}

let memory = null; // the list when storage refuses it

function valid(session) {
  return (
    !!session &&
    KINDS.has(session.kind) &&
    typeof session.id === 'string' &&
    session.id !== '' &&
    typeof session.token === 'string' &&
    typeof session.jti === 'string'
  );
}

/** A session of the one-session page ({token, jti, auction, ...}) in today's shape. */
export function fromLegacy(old) {
  if (!old || typeof old.token !== 'string') return null;
  const session = {
    kind: old.kind === 'tender' ? 'tender' : 'auction',
    id: old.id ?? old.auction,
    token: old.token,
    jti: old.jti,
    party: old.party ?? null,
    expires_at: old.expires_at ?? null,
  };
  return valid(session) ? session : null;
}

function same(a, b) {
  return a.kind === b.kind && a.id === b.id;
}

function store(list) {
  memory = list;
  write(SESSIONS_KEY, list);
}

/** Every session of this tab, oldest first, and the one-session page's if it was new
 *  here (`migrated`: the page was left with it; the caller may show it at once). */
export function loadSessions() {
  const stored = read(SESSIONS_KEY);
  const list = Array.isArray(stored) ? stored.filter(valid) : (memory ?? []);
  const legacy = fromLegacy(read(LEGACY_KEY));
  let migrated = null;
  if (legacy && !list.some((s) => same(s, legacy))) {
    list.push(legacy);
    migrated = legacy;
  }
  store(list);
  return { sessions: list, migrated };
}

export function listSessions() {
  return loadSessions().sessions;
}

export function findSession(kind, id) {
  return listSessions().find((s) => s.kind === kind && s.id === id) ?? null;
}

/** Keep `session` (replacing this tab's session of the same kind and id). */
export function saveSession(session) {
  const list = listSessions().filter((s) => !same(s, session));
  list.push(session);
  store(list);
}

/** The auction session this tab opened last, in the one-session page's shape too. */
export function markCurrent(session) {
  if (session.kind !== 'auction') return;
  write(LEGACY_KEY, { ...session, auction: session.id });
}

/** Forget `session` here (its token is not revoked: see revoke()). */
export function forgetSession(session) {
  store(listSessions().filter((s) => !same(s, session)));
  const legacy = fromLegacy(read(LEGACY_KEY));
  if (legacy && same(legacy, session)) write(LEGACY_KEY, null);
}

/** The invitation code in the address's fragment (#invite=<code>), dropped from the
 *  address at once; null when the fragment holds none (it is left alone then). */
export function takeInvitation() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const code = params.get('invite');
  if (!params.has('invite')) return null;
  history.replaceState(null, '', location.pathname + location.search);
  return code || null;
}

export async function problemCode(response) {
  try {
    const body = await response.json();
    return typeof body?.code === 'string' ? body.code : null;
  } catch {
    return null;
  }
}

/** The session a redeem answer gives: an auction's ({auction_id}, kind 'auction' or
 *  none) or a tender's ({tender_id, kind: 'tender'}); null for anything else. */
export function sessionFromAnswer(body) {
  const kind = body?.kind ?? (body?.tender_id !== undefined ? 'tender' : 'auction');
  const session = {
    kind,
    id: kind === 'tender' ? body?.tender_id : body?.auction_id,
    token: body?.token,
    jti: body?.jti,
    party: body?.party ?? null,
    expires_at: body?.expires_at ?? null,
  };
  return valid(session) ? session : null;
}

export async function redeem(code) {
  let response;
  try {
    response = await fetch('/api/v1/invitations/redeem', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ code }),
      credentials: 'same-origin',
    });
  } catch {
    return { problem: 'failed' };
  }
  if (!response.ok) return { problem: (await problemCode(response)) ?? 'failed' };
  let session = null;
  try {
    session = sessionFromAnswer(await response.json());
  } catch {
    session = null;
  }
  return session ? { session } : { problem: 'failed' };
}

export async function revoke(session) {
  try {
    await fetch(`/api/v1/tokens/${encodeURIComponent(session.jti)}/revoke`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${session.token}` },
      credentials: 'same-origin',
      signal: AbortSignal.timeout(5000),
    });
  } catch {
    // Offline: the token is forgotten here all the same and expires by itself.
  }
}
