// The officer's home (#/officer): their auctions (GET /api/v1/auctions, each one's state
// from GET /api/v1/auctions/<id> for its times) and tenders (GET /api/v1/tenders), each
// with its format, state and times in the officer's zone, linked to its page; and the
// way to a new auction, a new tender and the committee keys.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { formatLocale, has, t } from '../../i18n.js';
import { formatDateTime, zoneLabel } from '../../time.js';
import { useStylesheet } from '../style.js';

/** The most auctions whose times are read (the newest): one request each. */
const DETAILED = 40;

function when(us) {
  if (us === null || us === undefined) return '';
  return formatDateTime(us, formatLocale());
}

function Time({ us }) {
  if (us === null || us === undefined) return html`<span class="muted">—</span>`;
  const locale = formatLocale();
  return html`<time class="num" datetime=${new Date(Number(us) / 1000).toISOString()} title=${zoneLabel(us, locale)}>
    ${when(us)}
  </time>`;
}

function phaseText(phase) {
  return has(`phase.${phase}`) ? t(`phase.${phase}`) : phase;
}

function formatText(format) {
  return has(`format.${format}`) ? t(`format.${format}`) : format;
}

/** The auctions, newest first, with the times of the newest DETAILED read from their states. */
async function loadAuctions(staff) {
  const answer = await staff.fetch('/api/v1/auctions');
  if (!answer.ok) return { problem: answer.problem };
  const rows = [...(answer.body?.auctions ?? [])].sort((a, b) => b.created_at - a.created_at);
  const detailed = await Promise.all(
    rows.slice(0, DETAILED).map((row) =>
      staff.fetch(`/api/v1/auctions/${encodeURIComponent(row.id)}`).then((r) => (r.ok ? r.body : null)),
    ),
  );
  return {
    rows: rows.map((row, i) => {
      const state = detailed[i] ?? null;
      return {
        ...row,
        phase: state?.phase ?? row.status,
        starts_at: state?.rules?.starts_at ?? null,
        ends_at: state?.result?.at ?? state?.ends_at ?? state?.rules?.ends_at ?? null,
        bidders: state?.bidders ?? null,
      };
    }),
  };
}

async function loadTenders(staff) {
  const answer = await staff.fetch('/api/v1/tenders');
  if (!answer.ok) return { rows: [], missing: true };
  const rows = [...(answer.body?.tenders ?? [])].sort((a, b) => b.created_at - a.created_at);
  return { rows };
}

function Auctions({ rows }) {
  if (!rows.length) return html`<p class="muted" id="home-no-auctions">${t('home.no_auctions')}</p>`;
  return html`<div class="table-wrap">
    <table class="staff-table cards" id="home-auctions">
      <caption class="sr-only">${t('home.auctions')}</caption>
      <thead>
        <tr>
          <th scope="col">${t('home.col_auction')}</th>
          <th scope="col">${t('home.col_format')}</th>
          <th scope="col">${t('home.col_state')}</th>
          <th scope="col">${t('home.col_starts')}</th>
          <th scope="col">${t('home.col_ends')}</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (row) => html`<tr data-id=${row.id} data-phase=${row.phase}>
            <th scope="row">
              <a href=${`#/officer/auction/${encodeURIComponent(row.id)}`}>${row.id}</a>
            </th>
            <td data-label=${t('home.col_format')}>${formatText(row.format)}</td>
            <td data-label=${t('home.col_state')}><span class=${`badge phase-${row.phase}`}>${phaseText(row.phase)}</span></td>
            <td data-label=${t('home.col_starts')}><${Time} us=${row.starts_at} /></td>
            <td data-label=${t('home.col_ends')}><${Time} us=${row.ends_at} /></td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function Tenders({ rows }) {
  if (!rows.length) return html`<p class="muted" id="home-no-tenders">${t('home.no_tenders')}</p>`;
  return html`<div class="table-wrap">
    <table class="staff-table cards" id="home-tenders">
      <caption class="sr-only">${t('home.tenders')}</caption>
      <thead>
        <tr>
          <th scope="col">${t('home.col_tender')}</th>
          <th scope="col">${t('home.col_lots')}</th>
          <th scope="col">${t('home.col_state')}</th>
          <th scope="col">${t('home.col_deadline')}</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (row) => html`<tr data-id=${row.id} data-state=${row.state}>
            <th scope="row">
              <a href=${`#/officer/tender/${encodeURIComponent(row.id)}`}>${row.title || row.id}</a>
            </th>
            <td class="num" data-label=${t('home.col_lots')}>${row.lots}</td>
            <td data-label=${t('home.col_state')}><span class=${`badge tender-${row.state}`}>${has(`home.tender_${row.state}`) ? t(`home.tender_${row.state}`) : row.state}</span></td>
            <td data-label=${t('home.col_deadline')}><${Time} us=${row.deadline} /></td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

export default function Page({ staff }) {
  useStylesheet('/app/staff/watch.css');
  const [auctions, setAuctions] = useState(null);
  const [tenders, setTenders] = useState(null);
  useEffect(() => {
    let live = true;
    document.title = `${t('home.title')} · ${t('ui.app_name')}`;
    loadAuctions(staff).then((found) => live && setAuctions(found));
    loadTenders(staff).then((found) => live && setTenders(found));
    return () => {
      live = false;
    };
  }, []);
  const ready = auctions !== null && tenders !== null;
  return html`<main class="staff-main officer-home" id="officer-home" data-ready=${ready ? 'yes' : 'no'}>
    <div class="home-head">
      <h1>${t('home.title')}</h1>
      <p class="home-actions">
        <a class="button primary" href="#/officer/new/auction" id="home-new-auction">${t('home.new_auction')}</a>
        <a class="button" href="#/officer/new/tender" id="home-new-tender">${t('home.new_tender')}</a>
        <a class="button" href="#/officer/keys" id="home-keys">${t('home.keys')}</a>
      </p>
    </div>
    <p class="muted">${t('home.zone', { zone: zoneLabel(Date.now() * 1000, formatLocale()) })}</p>
    <section class="panel" aria-labelledby="home-auctions-title">
      <h2 id="home-auctions-title">${t('home.auctions')}</h2>
      ${auctions === null
        ? html`<p class="loading" role="status">${t('ui.loading')}</p>`
        : auctions.problem
          ? html`<p class="field-error" role="alert">${t('home.load_failed')}</p>`
          : html`<${Auctions} rows=${auctions.rows} />`}
    </section>
    <section class="panel" aria-labelledby="home-tenders-title">
      <h2 id="home-tenders-title">${t('home.tenders')}</h2>
      ${tenders === null
        ? html`<p class="loading" role="status">${t('ui.loading')}</p>`
        : html`<${Tenders} rows=${tenders.rows} />`}
    </section>
  </main>`;
}
