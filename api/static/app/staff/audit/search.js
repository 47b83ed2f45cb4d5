// #/audit: finished auctions and tenders (GET /api/v1/audit/search), searchable by id,
// buyer, the date they ended (a range of days in the user's own zone) and format; a
// table with a sticky header, amounts right-aligned, times in the user's zone, each row
// linking to its replay (an auction) or its log (a tender); each id behind its row's
// "Details". The last search is kept while the app runs (back from a replay finds it).

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { formatLocale, has, t } from '../../i18n.js';
import { formatDateTime, zoneLabel } from '../../time.js';
import { money } from '../../view/common.js';
import { useStylesheet } from '../style.js';

export const FORMATS = Object.freeze(['english', 'reverse', 'dutch', 'sealed', 'multiround', 'tender']);

/** Microseconds since the epoch of local midnight starting `date` ('YYYY-MM-DD'), or of
 *  the next midnight minus 1 µs when `end` (the day's last instant), or null. */
export function dayBound(date, end = false) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date ?? '');
  if (!match) return null;
  const [year, month, day] = match.slice(1).map(Number);
  const ms = end ? new Date(year, month - 1, day + 1).getTime() - 1 : new Date(year, month - 1, day).getTime();
  return Number.isFinite(ms) && ms >= 0 ? ms * 1000 + (end ? 999 : 0) : null;
}

/** The search's query string for the API from the form's `filters`. */
export function searchQuery(filters) {
  const query = new URLSearchParams();
  if (filters.q?.trim()) query.set('q', filters.q.trim());
  if (filters.buyer?.trim()) query.set('buyer', filters.buyer.trim());
  const from = dayBound(filters.from);
  const to = dayBound(filters.to, true);
  if (from !== null) query.set('from', String(from));
  if (to !== null) query.set('to', String(to));
  if (filters.format) query.set('format', filters.format);
  return query.toString();
}

/** The last search of this page (kept while the app runs: back from a replay finds it). */
let lastFilters = { q: '', buyer: '', from: '', to: '', format: '' };

function outcomeWords(row) {
  const key = `audit.outcome_${row.outcome}`;
  return has(key) ? t(key) : row.outcome;
}

function ResultsTable({ rows, locale }) {
  return html`<div class="table-scroll results" tabindex="0" role="region" aria-labelledby="results-title">
    <table class="audit-table stacking" id="audit-results">
      <thead>
        <tr>
          <th scope="col">${t('audit.col_what')}</th>
          <th scope="col">${t('audit.col_buyer')}</th>
          <th scope="col">${t('audit.col_ended')}</th>
          <th scope="col">${t('audit.col_outcome')}</th>
          <th scope="col" class="amount">${t('audit.col_price')}</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map((row) => {
          const href = `#/audit/${row.kind}/${encodeURIComponent(row.id)}`;
          const name = row.kind === 'tender' ? row.title || t('audit.format_tender') : t(`format.${row.format}`);
          return html`<tr data-id=${row.id} data-kind=${row.kind} data-format=${row.format}>
            <td>
              <a href=${href} class="row-link">${name}</a>
              <details class="row-details">
                <summary>${t('audit.details')}</summary>
                <code class="row-id">${row.id}</code>
              </details>
            </td>
            <td data-label=${t('audit.col_buyer')}>${row.buyer ?? html`<span class="muted">${t('audit.buyer_unknown')}</span>`}</td>
            <td class="num" data-label=${t('audit.col_ended')} title=${zoneLabel(row.ended_at, locale)}>${formatDateTime(row.ended_at, locale)}</td>
            <td data-label=${t('audit.col_outcome')}>${outcomeWords(row)}</td>
            <td class="amount num" data-label=${t('audit.col_price')}>${row.price === null || row.price === undefined || !row.currency ? '—' : money(row.price, row.currency)}</td>
          </tr>`;
        })}
      </tbody>
    </table>
  </div>`;
}

export default function AuditSearch({ staff }) {
  useStylesheet('/app/staff/audit.css');
  const locale = formatLocale();
  const [filters, setFilters] = useState(() => lastFilters);
  const [found, setFound] = useState({ state: 'loading', rows: [], truncated: false, problem: null, done: 0 });
  const form = useRef(null);

  useEffect(() => {
    let live = true;
    setFound((old) => ({ ...old, state: 'loading' }));
    const query = searchQuery(filters);
    staff.fetch(`/api/v1/audit/search${query ? `?${query}` : ''}`).then((answer) => {
      if (!live) return;
      if (answer.ok) {
        setFound((old) => ({ state: 'ready', rows: answer.body.results, truncated: answer.body.truncated, problem: null, done: old.done + 1 }));
      } else {
        setFound((old) => ({ state: 'failed', rows: [], truncated: false, problem: answer.problem, done: old.done + 1 }));
      }
    });
    return () => {
      live = false;
    };
  }, [filters]);

  function submit(event) {
    event.preventDefault();
    const data = new FormData(form.current);
    const next = {
      q: String(data.get('q') ?? ''),
      buyer: String(data.get('buyer') ?? ''),
      from: String(data.get('from') ?? ''),
      to: String(data.get('to') ?? ''),
      format: String(data.get('format') ?? ''),
    };
    lastFilters = next;
    setFilters(next);
  }

  function clear() {
    form.current.reset();
    lastFilters = { q: '', buyer: '', from: '', to: '', format: '' };
    setFilters(lastFilters);
  }

  const problemField = found.problem?.field;
  return html`<main
    class="staff-main audit audit-search"
    data-ready=${found.state === 'loading' ? 'no' : 'yes'}
    data-searches=${String(found.done)}
  >
    <h1>${t('audit.search_title')}</h1>
    <p class="muted">${t('audit.search_intro')}</p>
    <form class="panel search-form" ref=${form} onSubmit=${submit} role="search" aria-label=${t('audit.search_title')}>
      <div class="field">
        <label for="search-q">${t('audit.field_id')}</label>
        <input id="search-q" name="q" type="search" value=${filters.q} maxlength="100" autocomplete="off" placeholder=${t('audit.field_id_example')} aria-invalid=${problemField === 'q' ? 'true' : 'false'} />
      </div>
      <div class="field">
        <label for="search-buyer">${t('audit.field_buyer')}</label>
        <input id="search-buyer" name="buyer" type="search" value=${filters.buyer} maxlength="100" autocomplete="off" placeholder=${t('audit.field_buyer_example')} aria-invalid=${problemField === 'buyer' ? 'true' : 'false'} />
      </div>
      <div class="field">
        <label for="search-from">${t('audit.field_from')}</label>
        <input id="search-from" name="from" type="date" value=${filters.from} aria-invalid=${problemField === 'from' ? 'true' : 'false'} />
      </div>
      <div class="field">
        <label for="search-to">${t('audit.field_to')}</label>
        <input id="search-to" name="to" type="date" value=${filters.to} />
      </div>
      <div class="field">
        <label for="search-format">${t('audit.field_format')}</label>
        <select id="search-format" name="format" value=${filters.format}>
          <option value="">${t('audit.format_any')}</option>
          ${FORMATS.map((f) => html`<option value=${f}>${t(f === 'tender' ? 'audit.format_tender' : `format.${f}`)}</option>`)}
        </select>
      </div>
      <div class="actions">
        <button type="submit" class="primary" id="search-go">${t('audit.search')}</button>
        <button type="button" id="search-clear" onClick=${clear}>${t('audit.clear')}</button>
      </div>
    </form>
    <h2 id="results-title">${t('audit.results_title')}</h2>
    <p role="status" id="search-status" class="muted">
      ${found.state === 'loading'
        ? t('ui.loading')
        : found.state === 'failed'
          ? html`<span class="field-error" id="search-problem">${problemField ? t('audit.problem_field', { field: t(`audit.field_${problemField === 'q' ? 'id' : problemField}`) }) : t('audit.load_failed')}</span>`
          : found.rows.length
            ? t(found.truncated ? 'audit.results_truncated' : 'audit.results_count', { count: found.rows.length })
            : t('audit.results_none')}
    </p>
    ${found.rows.length ? html`<${ResultsTable} rows=${found.rows} locale=${locale} />` : null}
  </main>`;
}
