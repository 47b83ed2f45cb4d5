// The officer's page of one auction (#/officer/auction/<id>): its format, state and
// times, then two tabs: Suppliers (invite.js: register, invite, who joined, revoke) and
// Live (watch.js: identities, the event stream, the chart, the standing, disqualify and
// cancel). Both stay mounted (the live socket keeps running while the officer invites).

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { codeText, formatLocale, has, t } from '../../i18n.js';
import { formatDateTime, zoneLabel } from '../../time.js';
import { useStylesheet } from '../style.js';
import { Invitations } from './invite.js';
import { Watch } from './watch.js';

const TABS = ['suppliers', 'live'];

function Time({ us }) {
  if (us === null || us === undefined) return html`<span class="muted">—</span>`;
  const locale = formatLocale();
  return html`<time class="num" title=${zoneLabel(us, locale)}>${formatDateTime(us, locale)}</time>`;
}

function Tabs({ tab, onTab }) {
  const refs = useRef({});
  function key(event) {
    const index = TABS.indexOf(tab);
    let next = null;
    if (event.key === 'ArrowRight') next = TABS[(index + 1) % TABS.length];
    if (event.key === 'ArrowLeft') next = TABS[(index + TABS.length - 1) % TABS.length];
    if (event.key === 'Home') next = TABS[0];
    if (event.key === 'End') next = TABS[TABS.length - 1];
    if (next) {
      event.preventDefault();
      onTab(next);
      refs.current[next]?.focus();
    }
  }
  return html`<div class="tabs" role="tablist" aria-label=${t('watch.tabs')} onKeyDown=${key}>
    ${TABS.map(
      (name) => html`<button
        type="button"
        role="tab"
        id=${`tab-${name}`}
        ref=${(node) => {
          refs.current[name] = node;
        }}
        aria-selected=${String(tab === name)}
        aria-controls=${`panel-${name}`}
        tabindex=${tab === name ? '0' : '-1'}
        onClick=${() => onTab(name)}
      >
        ${t(`watch.tab_${name}`)}
      </button>`,
    )}
  </div>`;
}

export default function Page({ staff, params }) {
  useStylesheet('/app/staff/watch.css');
  const [id] = params;
  const [auction, setAuction] = useState(null); // GET /api/v1/auctions/<id>, or {problem}
  const [tab, setTab] = useState(null);
  const [phase, setPhase] = useState(null);
  useEffect(() => {
    let live = true;
    document.title = `${id} · ${t('ui.app_name')}`;
    staff.fetch(`/api/v1/auctions/${encodeURIComponent(id)}`).then((answer) => {
      if (!live) return;
      if (!answer.ok) {
        setAuction({ problem: answer.problem ?? { code: 'failed' } });
        return;
      }
      setAuction(answer.body);
      setPhase(answer.body.phase);
      // A running or finished auction opens on its live view; one being set up, on its suppliers.
      setTab(answer.body.phase === 'running' || answer.body.phase === 'ended' ? 'live' : 'suppliers');
    });
    return () => {
      live = false;
    };
  }, [id]);

  if (auction === null) {
    return html`<main class="staff-main officer-auction" data-ready="no"><p class="loading" role="status">${t('ui.loading')}</p></main>`;
  }
  if (auction.problem) {
    const code = auction.problem.code;
    return html`<main class="staff-main officer-auction" id="officer-auction" data-ready="yes">
      <h1>${t('watch.unavailable_title')}</h1>
      <p class="field-error" role="alert" id="auction-problem">
        ${code === 'not_found' ? t('watch.not_found') : has(`code.${code}`) ? codeText(code) : t('watch.action_failed')}
      </p>
      <p><a href="#/officer">${t('watch.back_home')}</a></p>
    </main>`;
  }
  const rules = auction.rules ?? {};
  const shownPhase = phase ?? auction.phase;
  return html`<main class="staff-main officer-auction" id="officer-auction" data-ready="yes" data-auction=${id}>
    <p class="crumbs"><a href="#/officer">${t('watch.back_home')}</a></p>
    <div class="auction-head">
      <h1 id="auction-title">${id}</h1>
      <span class="badge" id="auction-format">${has(`format.${auction.format}`) ? t(`format.${auction.format}`) : auction.format}</span>
      <span class=${`badge phase-${shownPhase}`} id="auction-phase">${has(`phase.${shownPhase}`) ? t(`phase.${shownPhase}`) : shownPhase}</span>
    </div>
    <dl class="auction-times">
      <dt>${t('watch.starts')}</dt>
      <dd><${Time} us=${rules.starts_at} /></dd>
      <dt>${t('watch.ends')}</dt>
      <dd><${Time} us=${auction.ends_at ?? rules.ends_at} /></dd>
      <dt>${t('watch.currency')}</dt>
      <dd>${auction.currency}</dd>
    </dl>
    <${Tabs} tab=${tab} onTab=${setTab} />
    <div role="tabpanel" id="panel-suppliers" aria-labelledby="tab-suppliers" hidden=${tab !== 'suppliers'}>
      <${Invitations} staff=${staff} kind="auction" id=${id} rules=${rules} active=${tab === 'suppliers'} />
    </div>
    <div role="tabpanel" id="panel-live" aria-labelledby="tab-live" hidden=${tab !== 'live'}>
      <${Watch} staff=${staff} id=${id} onEvent=${(state) => setPhase(state.phase === 'new' ? null : state.phase)} />
    </div>
  </main>`;
}
