// The tender routes the officer's tender page calls (api/http/tenders.py), with the
// officer's own token; every answer is staffFetch's {ok, status, body, problem}. Commands
// carry an Idempotency-Key, one per click, so a retry after a lost answer runs once.

import { staffFetch } from '../../session.js';

const API = '/api/v1/tenders';

function path(...parts) {
  return `${API}/${parts.map((part) => encodeURIComponent(part)).join('/')}`;
}

function command(staff, url, body) {
  return staffFetch(staff.token, url, {
    method: 'POST',
    body: body ?? {},
    headers: { 'Idempotency-Key': `officer-${crypto.randomUUID()}` },
  });
}

/** The tender as its committee sees it, with offsetUs = server time minus this page's
 *  monotonic clock (µs), so deadlines count down on the server's clock. */
export async function loadTender(staff, tenderId) {
  const sent = performance.now();
  const answer = await staffFetch(staff.token, path(tenderId));
  const received = performance.now();
  if (answer.ok && Number.isSafeInteger(answer.body?.server_time)) {
    answer.offsetUs = answer.body.server_time - Math.round(((sent + received) / 2) * 1000);
  }
  return answer;
}

export const loadOffers = (staff, tenderId, lot) =>
  staffFetch(staff.token, path(tenderId, 'lots', lot, 'offers'));
export const loadServerKey = () => staffFetch(null, `${API}/server-key`);
export const loadMyShare = (staff, tenderId) =>
  staffFetch(staff.token, path(tenderId, 'shares', 'mine'));
export const handInShare = (staff, tenderId, lot, kind, share) =>
  command(staff, path(tenderId, 'lots', lot, 'shares'), { kind, share });
/** The server's key ceremony: the opening key made, split k of n to the committee's keys,
 *  its public half published (POST /tenders/{t}/ceremony). */
export const publish = (staff, tenderId) => command(staff, path(tenderId, 'ceremony'));
export const award = (staff, tenderId, lot) => command(staff, path(tenderId, 'lots', lot, 'award'));
export const exclude = (staff, tenderId, lot, bidder, note) =>
  command(staff, path(tenderId, 'lots', lot, 'exclude'), { bidder, note });
export const handOff = (staff, tenderId, lot, rules) =>
  command(staff, path(tenderId, 'lots', lot, 'auction'), { rules });
