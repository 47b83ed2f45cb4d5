// "My auctions and tenders" (/app/#/): every session of this tab, each with its state,
// its next deadline in the reader's time zone and a link to it; sign out of one, or of all.
//
// An auction's state is GET /api/v1/auctions/{id}, a tender's GET /api/v1/tenders/{id},
// each with that session's own token; fetched when the list is shown and every 30 s. A
// token the server no longer takes (expired, revoked) reads "sign-in no longer valid".

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { formatLocale, t } from '../i18n.js';
import { formatDateTime, zoneLabel } from '../time.js';
import { LanguageSwitch } from './common.js';

const REFRESH_MS = 30_000;

/** The route of a session (the hash the list links to). */
export function routeOf(session) {
  return `#/${session.kind}/${encodeURIComponent(session.id)}`;
}

function key(session) {
  return `${session.kind}:${session.id}`;
}

/** What the list shows of an auction's state: {name, phase, deadline: {at, what}}. */
export function auctionLine(state) {
  const names = {
    english: () => t('format.english'),
    reverse: () => t('format.reverse'),
    dutch: () => t('format.dutch'),
    sealed: () => t('format.sealed'),
    multiround: () => t('format.multiround'),
  };
  const name = (names[state.format] ?? (() => t('mine.auction')))();
  const phases = {
    new: () => t('phase.new'),
    scheduled: () => t('phase.scheduled'),
    running: () => t('phase.running'),
    paused: () => t('phase.paused'),
    ended: () => t('phase.ended'),
  };
  const phase = (phases[state.phase] ?? (() => t('mine.unknown')))();
  let deadline = null;
  if (state.phase !== 'ended' && state.next_deadline !== null && state.next_deadline !== undefined) {
    const what = state.phase === 'scheduled' ? t('mine.starts') : t('mine.ends');
    deadline = { at: state.next_deadline, what };
  }
  return { name, phase, deadline, ended: state.phase === 'ended' };
}

/** What the list shows of a tender's state: its title, a phase in words and the next
 *  deadline of its lots (submission, then opening) still ahead on the server's clock. */
export function tenderLine(tender) {
  const now = tender.server_time;
  const lots = tender.lots ?? [];
  const ahead = (at) => typeof at === 'number' && at > now;
  const submissions = lots.map((lot) => lot.deadline).filter(ahead);
  const openings = lots.map((lot) => lot.opening_at).filter(ahead);
  let deadline = null;
  if (submissions.length) {
    deadline = { at: Math.min(...submissions), what: t('mine.submit_by') };
  } else if (openings.length) {
    deadline = { at: Math.min(...openings), what: t('mine.opens') };
  }
  let phase;
  if (tender.phase !== 'published') phase = t('mine.tender_preparing');
  else if (lots.some((lot) => lot.phase === 'open' && ahead(lot.deadline))) phase = t('mine.tender_open');
  else if (lots.length && lots.every((lot) => lot.phase === 'decided')) phase = t('mine.tender_decided');
  else phase = t('mine.tender_closed');
  const name = typeof tender.title === 'string' && tender.title ? tender.title : t('mine.tender');
  return { name, phase, deadline, ended: false };
}

async function fetchLine(session) {
  const path =
    session.kind === 'tender'
      ? `/api/v1/tenders/${encodeURIComponent(session.id)}`
      : `/api/v1/auctions/${encodeURIComponent(session.id)}`;
  let response;
  try {
    response = await fetch(path, {
      headers: { Authorization: `Bearer ${session.token}` },
      credentials: 'same-origin',
      cache: 'no-store',
      signal: AbortSignal.timeout(10_000),
    });
  } catch {
    return { problem: 'unreachable' };
  }
  if (response.status === 401) return { problem: 'invalid' };
  if (!response.ok) return { problem: 'unreachable' };
  try {
    const body = await response.json();
    return { line: session.kind === 'tender' ? tenderLine(body) : auctionLine(body) };
  } catch {
    return { problem: 'unreachable' };
  }
}

function When({ deadline }) {
  if (!deadline) return html`<span class="muted">${t('mine.no_deadline')}</span>`;
  const locale = formatLocale();
  const iso = new Date(Math.floor(Number(deadline.at) / 1000)).toISOString();
  return html`<span class="mine-what">${deadline.what}</span>
    <time class="num" datetime=${iso} title=${zoneLabel(deadline.at, locale)}>
      ${formatDateTime(deadline.at, locale)}
    </time>`;
}

function Item({ session, found, onSignOut }) {
  const line = found?.line;
  const kindText = session.kind === 'tender' ? t('mine.tender') : t('mine.auction');
  const name = line ? line.name : kindText;
  let state;
  if (!found) state = t('ui.loading');
  else if (found.problem === 'invalid') state = t('mine.invalid');
  else if (found.problem) state = t('mine.unreachable');
  else state = line.phase;
  return html`<li
    class="mine-item"
    data-kind=${session.kind}
    data-id=${session.id}
    data-state=${found ? (found.problem ?? 'ok') : 'loading'}
  >
    <div class="mine-head">
      <h2><a href=${routeOf(session)} class="mine-link">${name}</a></h2>
      <span class="badge mine-state">${state}</span>
    </div>
    <p class="mine-id muted">${kindText} · <span class="num">${session.id}</span></p>
    <p class="mine-deadline"><${When} deadline=${line?.deadline ?? null} /></p>
    <div class="mine-actions">
      <a class="button primary" href=${routeOf(session)} aria-label=${`${t('mine.open')}: ${name} ${session.id}`}>
        ${t('mine.open')}
      </a>
      <button
        type="button"
        class="mine-sign-out"
        aria-label=${`${t('ui.sign_out')}: ${name} ${session.id}`}
        onClick=${() => onSignOut(session)}
      >
        ${t('ui.sign_out')}
      </button>
    </div>
  </li>`;
}

export function MyList({ sessions, onSignOut, onSignOutAll }) {
  const [found, setFound] = useState(() => new Map());
  const ids = sessions.map(key).join('|');
  useEffect(() => {
    let live = true;
    async function load() {
      const results = await Promise.all(sessions.map(fetchLine));
      if (!live) return;
      setFound(new Map(sessions.map((session, i) => [key(session), results[i]])));
    }
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [ids]);
  const zone = zoneLabel(Date.now() * 1000, formatLocale());
  const ready = sessions.every((session) => found.has(key(session)));
  return html`<div class="page">
    <header class="bar">
      <h1 id="mine-title">${t('mine.title')}</h1>
      <${LanguageSwitch} />
      <button type="button" id="sign-out-all" onClick=${onSignOutAll}>${t('mine.sign_out_all')}</button>
    </header>
    <main class="mine" id="mine" data-ready=${ready ? 'yes' : 'no'}>
      <p class="muted" id="mine-zone">${t('ui.time_zone', { zone })}</p>
      <ul class="mine-list">
        ${sessions.map(
          (session) => html`<${Item}
            key=${key(session)}
            session=${session}
            found=${found.get(key(session))}
            onSignOut=${onSignOut}
          />`,
        )}
      </ul>
    </main>
  </div>`;
}
