// Inviting suppliers, for an auction or a tender (the tender's page reuses it):
//
//   import { Invitations } from '/app/staff/officer/invite.js';
//   html`<${Invitations} staff=${staff} kind="auction" id=${auctionId} rules=${rules} />`
//
// - register a supplier (an auction: POST /api/v1/auctions/<id>/bidders, with its MEAT
//   coefficient, life-cycle cost or tender-stage offer when the rules ask for them; the
//   token that answer carries is revoked at once: suppliers sign in by their link) and
//   make its one-time invitation link (POST .../invitations: the code exists only in
//   this answer, so the link is shown, copied or downloaded now, never again); a tender
//   has no register: the invitation alone names the supplier;
// - a new link for a supplier already there (the old one stays valid until used or
//   expired);
// - copy a link (the clipboard; a field to copy from where the clipboard is refused),
//   download every link made on this page as CSV (party, link, expires);
// - who has joined (GET .../invitations: used, open, expired, withdrawn; access revoked);
// - revoke a supplier's access, after a reason-free second click: one call (POST
//   .../bidders/<party>/revoke for an auction, .../suppliers/<party>/revoke for a
//   tender) revokes every token the party holds there, however it got it, and withdraws
//   its links not used yet; the page then says both counts in words.
//
// `onChange` (optional) is called after any change the server accepted; `active`
// (default true): false while the component is hidden (another tab), which stops its
// refreshing.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { codeText, formatLocale, has, t } from '../../i18n.js';
import { formatDateTime, zoneLabel } from '../../time.js';
import { useStylesheet } from '../style.js';

/** How long a new link may be used: [seconds, catalog key]; the server's own default
 *  (7 days) is chosen first. */
const LIFETIMES = [
  [3600, 'invite.lifetime_hour'],
  [86_400, 'invite.lifetime_day'],
  [3 * 86_400, 'invite.lifetime_3days'],
  [7 * 86_400, 'invite.lifetime_week'],
];
const DEFAULT_LIFETIME_S = 7 * 86_400;

function base(kind, id) {
  return `/api/v1/${kind === 'tender' ? 'tenders' : 'auctions'}/${encodeURIComponent(id)}`;
}

function when(us) {
  return us === null || us === undefined ? '' : formatDateTime(us, formatLocale());
}

function problemText(problem) {
  if (!problem) return t('invite.failed');
  const code = problem.code;
  if (code && has(`code.${code}`)) return codeText(code);
  if (code === 'network') return t('invite.network');
  return problem.detail || t('invite.failed');
}

/** The absolute address of an invitation's link (the server answers a path). */
export function absoluteLink(link) {
  return new URL(link, location.origin).href;
}

/** RFC 4180 CSV of the links: a header, then party, link, expiry (ISO 8601 UTC and
 *  the officer's local time); every field quoted. */
export function linksCsv(links) {
  const quote = (value) => `"${String(value).replaceAll('"', '""')}"`;
  const lines = [['party', 'link', 'expires_at_utc', 'expires_local'].map(quote).join(',')];
  for (const item of links) {
    lines.push(
      [item.party, item.link, new Date(item.expires_at / 1000).toISOString(), when(item.expires_at)]
        .map(quote)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** The parties of the auction (registered, disqualified) from its log as an officer
 *  reads it, read on from `known` ({after, found: Map party -> {party, label,
 *  disqualified}}, updated in place): only the events after the last one read. */
async function loadBidders(staff, kind, id, known) {
  if (kind !== 'auction') return [];
  for (;;) {
    const answer = await staff.fetch(`${base(kind, id)}/events?after=${known.after}`);
    if (!answer.ok) return null;
    const events = answer.body?.events ?? [];
    for (const row of events) {
      const event = row.event ?? {};
      if (event.type === 'BidderRegistered') {
        known.found.set(event.bidder, { party: event.bidder, label: event.label, disqualified: false });
      } else if (event.type === 'BidderDisqualified' && known.found.has(event.bidder)) {
        known.found.get(event.bidder).disqualified = true;
      }
    }
    if (events.length) known.after = events[events.length - 1].seq;
    if (events.length < 1000) break;
  }
  return [...known.found.values()].map((bidder) => ({ ...bidder }));
}

/** One row per party: its registration (an auction) and its invitations, newest first. */
function merge(bidders, invitations) {
  const rows = new Map();
  for (const bidder of bidders ?? []) rows.set(bidder.party, { ...bidder, invitations: [] });
  for (const item of invitations ?? []) {
    if (!rows.has(item.party)) rows.set(item.party, { party: item.party, label: null, disqualified: false, invitations: [] });
    rows.get(item.party).invitations.push(item);
  }
  return [...rows.values()];
}

/** A party's standing in words: joined (with when), waiting (a link not used yet),
 *  revoked, withdrawn (its links withdrawn before any was used), expired, none. */
function standingOf(row) {
  const used = row.invitations.filter((i) => i.state === 'used');
  const live = used.filter((i) => !i.revoked);
  if (live.length) return { key: 'joined', at: Math.max(...live.map((i) => i.used_at ?? 0)) };
  const open = row.invitations.filter((i) => i.state === 'open');
  if (open.length) return { key: 'waiting', at: Math.max(...open.map((i) => i.expires_at)) };
  if (used.length) return { key: 'revoked', at: null };
  if (row.invitations.some((i) => i.state === 'withdrawn')) return { key: 'withdrawn', at: null };
  if (row.invitations.length) return { key: 'expired', at: null };
  return { key: 'not_invited', at: null };
}

/** How many of a party's links were withdrawn unused. */
function withdrawnCount(row) {
  return row.invitations.filter((i) => i.state === 'withdrawn').length;
}

function CopyButton({ link, party }) {
  const [state, setState] = useState(null);
  const field = useRef(null);
  async function copy() {
    try {
      await navigator.clipboard.writeText(link);
      setState('copied');
    } catch {
      // No clipboard (permissions, an insecure origin): select the link to copy by hand.
      setState('manual');
      requestAnimationFrame(() => field.current?.select());
    }
  }
  return html`<span class="copy">
    <button type="button" class="copy-link" data-party=${party} onClick=${copy}>${t('invite.copy')}</button>
    <span class="copy-state" role="status">${state === 'copied' ? t('invite.copied') : ''}</span>
    ${state === 'manual'
      ? html`<label class="manual-copy">
          <span>${t('invite.copy_manual')}</span>
          <input ref=${field} readonly value=${link} />
        </label>`
      : null}
  </span>`;
}

function RevokeButton({ row, onRevoke }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(null);
  // Nothing left to end once its access was revoked or its links withdrawn (a token
  // from elsewhere is still ended by the call, which is why the other states offer it).
  if (['revoked', 'withdrawn'].includes(standingOf(row).key)) return null;
  async function confirm() {
    setBusy(true);
    const failed = await onRevoke(row);
    setBusy(false);
    setAsking(false);
    setProblem(failed);
  }
  if (!asking) {
    return html`<span>
      <button type="button" class="revoke danger-outline" data-party=${row.party} onClick=${() => setAsking(true)}>
        ${t('invite.revoke')}
      </button>
      ${problem ? html`<span class="field-error" role="alert">${problemText(problem)}</span>` : null}
    </span>`;
  }
  // Its links not used yet are withdrawn by the same call: say so before the officer confirms.
  const open = row.invitations.filter((i) => i.state === 'open');
  return html`<span class="confirm-row" role="group" aria-label=${t('invite.revoke_confirm_label', { party: row.party })}>
    <span>${t('invite.revoke_question', { party: row.party })}</span>
    ${open.length ? html`<span class="revoke-open">${t('invite.revoke_withdraws', { count: open.length })}</span>` : null}
    <button type="button" class="danger revoke-confirm" data-party=${row.party} disabled=${busy} onClick=${confirm}>
      ${t('invite.revoke_confirm')}
    </button>
    <button type="button" onClick=${() => setAsking(false)}>${t('ui.cancel')}</button>
  </span>`;
}

function RegisterForm({ staff, kind, id, rules, onIssued }) {
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const party = useRef(null);
  const coefficient = useRef(null);
  const cost = useRef(null);
  const initial = useRef(null);
  const lifetime = useRef(null);
  const scored = kind === 'auction' && rules?.scoring && rules.scoring !== 'none';
  const multiround = kind === 'auction' && rules?.format === 'multiround';
  async function submit(event) {
    event.preventDefault();
    const name = party.current.value.trim();
    if (!name) {
      setProblem({ field: 'party', text: t('invite.party_missing') });
      party.current.focus();
      return;
    }
    setBusy(true);
    setProblem(null);
    if (kind === 'auction') {
      const body = { party: name };
      if (scored && coefficient.current?.value.trim()) body.coefficient = coefficient.current.value.trim();
      if (scored && cost.current?.value.trim()) body.cost = cost.current.value.trim();
      if (multiround && initial.current?.value.trim()) body.initial_bid = initial.current.value.trim();
      const registered = await staff.fetch(`${base(kind, id)}/bidders`, { method: 'POST', body });
      if (!registered.ok) {
        setBusy(false);
        setProblem({ field: registered.problem?.field ?? 'party', text: problemText(registered.problem) });
        return;
      }
      // The registration's token is nobody's: the supplier signs in by the link.
      const jti = registered.body?.jti;
      if (jti) await staff.fetch(`/api/v1/tokens/${encodeURIComponent(jti)}/revoke`, { method: 'POST' });
    }
    const expires = Number(lifetime.current?.value ?? DEFAULT_LIFETIME_S);
    const issued = await staff.fetch(`${base(kind, id)}/invitations`, {
      method: 'POST',
      body: { party: name, expires_in_s: expires },
    });
    setBusy(false);
    if (!issued.ok) {
      setProblem({ field: 'party', text: problemText(issued.problem) });
      return;
    }
    party.current.value = '';
    for (const ref of [coefficient, cost, initial]) if (ref.current) ref.current.value = '';
    onIssued(issued.body);
    party.current.focus();
  }
  const error = (field) =>
    problem && problem.field === field
      ? html`<p class="field-error" id=${`invite-${field}-error`} role="alert">${problem.text}</p>`
      : null;
  const described = (field, hint) => (problem?.field === field ? `invite-${field}-error` : hint);
  return html`<form class="invite-form" id="invite-form" onSubmit=${submit} novalidate>
    <div class="field">
      <label for="invite-party">${t('invite.party')}</label>
      <input
        id="invite-party"
        ref=${party}
        autocomplete="off"
        spellcheck="false"
        placeholder=${t('invite.party_example')}
        aria-invalid=${problem?.field === 'party' ? 'true' : 'false'}
        aria-describedby=${described('party', 'invite-party-hint')}
      />
      <p class="hint" id="invite-party-hint">${t('invite.party_hint')}</p>
      ${error('party')}
    </div>
    ${scored
      ? html`<div class="field">
            <label for="invite-coefficient">${t('invite.coefficient')}</label>
            <input id="invite-coefficient" ref=${coefficient} inputmode="decimal" placeholder="0.85" aria-describedby=${described('coefficient', null)} />
            ${error('coefficient')}
          </div>
          <div class="field">
            <label for="invite-cost">${t('invite.cost', { currency: rules.currency })}</label>
            <input id="invite-cost" ref=${cost} inputmode="decimal" placeholder="1200.00" aria-describedby=${described('cost', null)} />
            ${error('cost')}
          </div>`
      : null}
    ${multiround
      ? html`<div class="field">
          <label for="invite-initial">${t('invite.initial_bid', { currency: rules.currency })}</label>
          <input id="invite-initial" ref=${initial} inputmode="decimal" placeholder="98000.00" aria-describedby=${described('initial_bid', null)} />
          ${error('initial_bid')}
        </div>`
      : null}
    <div class="field">
      <label for="invite-lifetime">${t('invite.lifetime')}</label>
      <select id="invite-lifetime" ref=${lifetime} aria-describedby="invite-lifetime-hint">
        ${LIFETIMES.map(
          ([seconds, key]) => html`<option value=${seconds} selected=${seconds === DEFAULT_LIFETIME_S}>${t(key)}</option>`,
        )}
      </select>
      <p class="hint" id="invite-lifetime-hint">${t('invite.lifetime_hint')}</p>
    </div>
    ${problem && !['party', 'coefficient', 'cost', 'initial_bid'].includes(problem.field)
      ? html`<p class="field-error" role="alert">${problem.text}</p>`
      : null}
    <button type="submit" class="primary" id="invite-submit" disabled=${busy}>
      ${kind === 'auction' ? t('invite.register_and_invite') : t('invite.invite')}
    </button>
  </form>`;
}

export function Invitations({ staff, kind = 'auction', id, rules = null, onChange = null, active = true }) {
  useStylesheet('/app/staff/watch.css');
  const known = useRef({ after: 0, found: new Map() });
  const [rows, setRows] = useState(null);
  const [failed, setFailed] = useState(false);
  const [links, setLinks] = useState([]); // made on this page: {party, link, expires_at}
  const [notice, setNotice] = useState('');
  const [revoked, setRevoked] = useState(''); // the last revocation's counts, in words

  async function reload() {
    const [bidders, listed] = await Promise.all([
      loadBidders(staff, kind, id, known.current),
      staff.fetch(`${base(kind, id)}/invitations`),
    ]);
    if (bidders === null || !listed.ok) {
      setFailed(true);
      setRows([]);
      return;
    }
    setFailed(false);
    setRows(merge(bidders, listed.body?.invitations ?? []));
  }
  useEffect(() => {
    known.current = { after: 0, found: new Map() };
  }, [kind, id]);
  useEffect(() => {
    if (!active) return undefined; // another tab shows: nothing to refresh
    reload();
    const timer = setInterval(reload, 3000); // who has joined, without a reload
    return () => clearInterval(timer);
  }, [kind, id, active]);

  function issued(body) {
    const item = { party: body.party, link: absoluteLink(body.link), expires_at: body.expires_at };
    setLinks((old) => [item, ...old]);
    setNotice(t('invite.issued', { party: body.party }));
    reload();
    onChange?.();
  }

  async function another(party) {
    const answer = await staff.fetch(`${base(kind, id)}/invitations`, { method: 'POST', body: { party } });
    if (answer.ok) issued(answer.body);
    else setNotice(problemText(answer.problem));
  }

  async function revoke(row) {
    const who = kind === 'tender' ? 'suppliers' : 'bidders';
    const answer = await staff.fetch(`${base(kind, id)}/${who}/${encodeURIComponent(row.party)}/revoke`, { method: 'POST' });
    if (!answer.ok) return answer.problem;
    const tokens = answer.body?.tokens_revoked ?? 0;
    const withdrawn = answer.body?.links_withdrawn ?? 0;
    setRevoked(t('invite.revoked_counts', { party: row.party, tokens, links: withdrawn }));
    // Its links made here no longer sign in: nothing left to copy or download.
    setLinks((old) => old.filter((item) => item.party !== row.party));
    await reload();
    onChange?.();
    return null;
  }

  function download() {
    const blob = new Blob([linksCsv(links)], { type: 'text/csv;charset=utf-8' });
    const url = URL.createObjectURL(blob);
    const anchor = document.createElement('a');
    anchor.href = url;
    anchor.download = `invitations-${id}.csv`;
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  const latest = new Map();
  for (const item of links) if (!latest.has(item.party)) latest.set(item.party, item);
  return html`<section class="panel invitations" id="invitations" aria-labelledby="invitations-title" data-ready=${rows === null ? 'no' : 'yes'}>
    <h2 id="invitations-title">${t('invite.title')}</h2>
    <${RegisterForm} staff=${staff} kind=${kind} id=${id} rules=${rules} onIssued=${issued} />
    <p class="hint">${t('invite.once')}</p>
    <p class="sr-only" role="status" id="invite-notice">${notice}</p>
    ${revoked ? html`<p class="hint" role="status" id="invite-revoked">${revoked}</p>` : null}
    ${links.length
      ? html`<div class="new-links" id="invite-links">
          <h3>${t('invite.links_title')}</h3>
          <ul>
            ${links.map(
              (item) => html`<li data-party=${item.party}>
                <span class="party">${item.party}</span>
                <code class="link">${item.link}</code>
                <span class="muted">${t('invite.expires', { time: when(item.expires_at) })}</span>
                <${CopyButton} link=${item.link} party=${item.party} />
              </li>`,
            )}
          </ul>
          <button type="button" id="invite-download" onClick=${download}>${t('invite.download')}</button>
        </div>`
      : null}
    <h3>${t('invite.who_title')}</h3>
    ${rows === null
      ? html`<p class="loading" role="status">${t('ui.loading')}</p>`
      : failed
        ? html`<p class="field-error" role="alert">${t('invite.load_failed')}</p>`
        : !rows.length
          ? html`<p class="muted" id="invite-none">${t('invite.none')}</p>`
          : html`<div class="table-wrap">
              <table class="staff-table" id="invite-table">
                <thead>
                  <tr>
                    <th scope="col">${t('invite.col_party')}</th>
                    <th scope="col">${t('invite.col_state')}</th>
                    <th scope="col">${t('invite.col_actions')}</th>
                  </tr>
                </thead>
                <tbody>
                  ${rows.map((row) => {
                    const standing = standingOf(row);
                    return html`<tr data-party=${row.party} data-state=${standing.key}>
                      <th scope="row">
                        <span class="party">${row.party}</span>
                        ${row.label ? html` <span class="muted label">${row.label}</span>` : null}
                        ${row.disqualified ? html` <span class="badge danger-badge">${t('invite.disqualified')}</span>` : null}
                      </th>
                      <td>
                        <span class=${`badge state-${standing.key}`}>${t(`invite.state_${standing.key}`)}</span>
                        ${standing.at ? html`<span class="muted when"> ${when(standing.at)}</span>` : null}
                        ${withdrawnCount(row) && standing.key !== 'withdrawn'
                          ? html`<span class="muted withdrawn"> ${t('invite.links_withdrawn', { count: withdrawnCount(row) })}</span>`
                          : null}
                      </td>
                      <td class="actions"><div class="actions-row">
                        ${latest.has(row.party) ? html`<${CopyButton} link=${latest.get(row.party).link} party=${row.party} />` : null}
                        ${row.disqualified
                          ? null
                          : html`<button type="button" class="new-link" data-party=${row.party} onClick=${() => another(row.party)}>
                              ${t('invite.new_link')}
                            </button>`}
                        <${RevokeButton} row=${row} onRevoke=${revoke} />
                        </div></td>
                    </tr>`;
                  })}
                </tbody>
              </table>
            </div>`}
    <p class="muted hint">${t('invite.zone', { zone: zoneLabel(Date.now() * 1000, formatLocale()) })}</p>
  </section>`;
}
