// This tab's session: the invitation code taken from the address's fragment and
// exchanged once for the bidder's token, kept in sessionStorage only; sign-out revokes it.

const SESSION_KEY = 'gavel.session';

export function loadSession() {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    const session = raw ? JSON.parse(raw) : null;
    return session && typeof session.token === 'string' ? session : null;
  } catch {
    return null;
  }
}

export function saveSession(session) {
  try {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  } catch {
    // Storage refused: the session lasts as long as this page.
  }
}

export function forgetSession() {
  try {
    sessionStorage.removeItem(SESSION_KEY);
  } catch {
    // Nothing kept.
  }
}

/** The invitation code in the address's fragment, dropped from the address at once. */
export function takeInvitation() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const code = params.get('invite');
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
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
  const body = await response.json();
  return {
    session: {
      token: body.token,
      jti: body.jti,
      auction: body.auction_id,
      party: body.party,
      expires_at: body.expires_at,
    },
  };
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
