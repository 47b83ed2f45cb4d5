// #/audit/tender/<id>: a finished tender's log and its outcome per lot, for the auditor.
//
// Reads the tender's export bundle (GET /api/v1/audit/tenders/<id>/export: every event as
// canonical JSON, the spec and the lots' decisions) and lists the events in words (lot,
// supplier by anonymous label "Supplier N" in order of first appearance, amount), each
// lot's outcome (its winner and price, its ranking, or the auction it was handed to), and
// the tender's red flags when the server has a route for them
// (GET /api/v1/audit/tenders/<id>/flags: shown only when it answers 200). Identifiers
// behind "Details". The verification panel (helper H4's) is loaded lazily, as for auctions.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useMemo, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { formatLocale, has, t } from '../../i18n.js';
import { formatDateTime, formatTime, zoneLabel } from '../../time.js';
import { money } from '../../view/common.js';
import { useStylesheet } from '../style.js';
import { FlagsPanel } from './flags.js';
import { VerifyPanel } from './verify_panel.js';

/** 'LotAwarded' -> 'lot_awarded' (the catalog's keys are lower case). */
function snake(name) {
  return String(name).replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** party -> "Supplier N", in order of first appearance in `events`. */
export function supplierLabels(events) {
  const labels = new Map();
  for (const event of events) {
    const party = event.bidder ?? event.winner ?? null;
    if (party && !labels.has(party)) labels.set(party, t('audit.supplier_label', { number: labels.size + 1 }));
    for (const line of event.ranking ?? []) {
      if (!labels.has(line.bidder)) labels.set(line.bidder, t('audit.supplier_label', { number: labels.size + 1 }));
    }
  }
  return labels;
}


function LotOutcome({ lot, decision, label, currency, locale }) {
  let text = t('audit.lot_open');
  if (decision?.type === 'LotHandedOff') text = t('audit.lot_handed_off');
  else if (decision?.type === 'LotAwarded') {
    text = decision.winner
      ? t('audit.lot_awarded', { winner: label(decision.winner), amount: money(decision.price, currency) })
      : t('audit.lot_not_awarded');
  }
  const ranking = decision?.ranking ?? [];
  return html`<li class="panel lot" data-lot=${lot.lot}>
    <h3>${lot.title || t('audit.lot_named', { lot: lot.lot })}</h3>
    <p class="lot-outcome">
      ${text}
      ${decision ? html` <span class="muted" title=${zoneLabel(decision.at, locale)}>${formatDateTime(decision.at, locale)}</span>` : null}
    </p>
    ${decision?.type === 'LotHandedOff'
      ? html`<p><a href=${`#/audit/auction/${encodeURIComponent(decision.auction_id)}`}>${t('audit.lot_auction_link')}</a></p>`
      : null}
    ${ranking.length
      ? html`<table class="audit-table ranking">
          <caption class="visually-hidden">${t('audit.final_ranking')}</caption>
          <thead>
            <tr>
              <th scope="col">${t('audit.col_rank')}</th>
              <th scope="col">${t('audit.col_supplier')}</th>
              <th scope="col" class="amount">${t('audit.col_amount')}</th>
            </tr>
          </thead>
          <tbody>
            ${ranking.map(
              (line) => html`<tr>
                <td class="num">${line.rank}</td>
                <td>${label(line.bidder)}</td>
                <td class="amount num">${money(line.price, currency)}</td>
              </tr>`,
            )}
          </tbody>
        </table>`
      : null}
  </li>`;
}

export default function AuditTender({ staff, params }) {
  useStylesheet('/app/staff/audit.css');
  const [tenderId] = params;
  const locale = formatLocale();
  const [loaded, setLoaded] = useState({ state: 'loading', bundle: null, problem: null });
  const [flags, setFlags] = useState(null); // null: no flags route (or not yet answered)
  const [shown, setShown] = useState({ seqs: new Set(), index: null });

  useEffect(() => {
    let live = true;
    const base = `/api/v1/audit/tenders/${encodeURIComponent(tenderId)}`;
    staff.fetch(`${base}/export`).then((answer) => {
      if (!live) return;
      if (answer.ok) setLoaded({ state: 'ready', bundle: answer.body, problem: null });
      else setLoaded({ state: 'failed', bundle: null, problem: answer.problem?.code ?? 'failed' });
    });
    staff.fetch(`${base}/flags`).then((answer) => {
      if (live && answer.status === 200) setFlags(answer.body?.flags ?? []);
    });
    return () => {
      live = false;
    };
  }, [tenderId]);

  // Once a flag is shown, bring its first event into view and focus it.
  useEffect(() => {
    if (!shown.seqs.size) return;
    const row = document.getElementById(`tev-${Math.min(...shown.seqs)}`);
    row?.scrollIntoView?.({ block: 'nearest' });
    row?.focus?.({ preventScroll: true });
  }, [shown]);

  const events = useMemo(() => {
    const texts = loaded.bundle?.events ?? [];
    const out = [];
    for (const text of texts) {
      try {
        out.push(JSON.parse(text));
      } catch {
        // Not JSON: the verification panel names it; the list skips it.
      }
    }
    return out;
  }, [loaded.bundle]);
  const labels = useMemo(() => supplierLabels(events), [events]);
  const label = (party) => labels.get(party) ?? party;

  if (loaded.state === 'loading') return html`<main class="staff-main"><p class="loading">${t('ui.loading')}</p></main>`;
  if (loaded.state === 'failed') {
    return html`<main class="staff-main audit" data-ready="yes">
      <h1>${t('audit.tender_title')}</h1>
      <p id="audit-problem" role="alert">${has(`code.${loaded.problem}`) ? t(`code.${loaded.problem}`) : t('audit.load_failed')}</p>
      <p><a href="#/audit">${t('audit.back')}</a></p>
    </main>`;
  }
  const spec = loaded.bundle.rules ?? {};
  const currency = spec.currency ?? 'EUR';
  const decisions = new Map();
  for (const decision of loaded.bundle.result ?? []) decisions.set(decision.lot, decision);
  return html`<main class="staff-main audit audit-tender" data-ready="yes">
    <p class="crumbs"><a href="#/audit">${t('audit.back')}</a></p>
    <h1 id="audit-title">${spec.title || t('audit.tender_title')}</h1>
    <p class="lead">${t('audit.tender_lots', { count: (spec.lots ?? []).length })}</p>
    <h2>${t('audit.lot_outcomes')}</h2>
    <ul class="lots" id="tender-lots">
      ${(spec.lots ?? []).map(
        (lot) => html`<${LotOutcome} lot=${lot} decision=${decisions.get(lot.lot)} label=${label} currency=${currency} locale=${locale} />`,
      )}
    </ul>
    ${flags === null
      ? null
      : html`<${FlagsPanel}
          flags=${flags}
          currency=${currency}
          label=${label}
          shown=${shown.index}
          onShow=${(seqs, index) => setShown({ seqs: new Set(seqs), index })}
        />`}
    <section class="panel" aria-labelledby="tender-events-title">
      <h2 id="tender-events-title">${t('audit.tender_log', { count: events.length })}</h2>
      <div class="table-scroll" tabindex="0" role="region" aria-labelledby="tender-events-title">
        <table class="audit-table events" id="tender-events">
          <thead>
            <tr>
              <th scope="col" class="num">${t('replay.col_seq')}</th>
              <th scope="col">${t('replay.col_time')}</th>
              <th scope="col">${t('replay.col_event')}</th>
              <th scope="col">${t('audit.col_lot')}</th>
              <th scope="col">${t('audit.col_supplier')}</th>
              <th scope="col" class="amount">${t('audit.col_amount')}</th>
            </tr>
          </thead>
          <tbody>
            ${events.map((event) => {
              const key = `audit.tevent_${snake(event.type)}`;
              const party = event.bidder ?? event.winner ?? null;
              const marked = shown.seqs.has(event.seq);
              return html`<tr
                id=${`tev-${event.seq}`}
                tabindex=${marked ? '-1' : null}
                data-seq=${String(event.seq)}
                data-type=${event.type}
                class=${marked ? 'flagged' : ''}
              >
                <td class="num">${event.seq}</td>
                <td class="num" title=${zoneLabel(event.at, locale)}>${formatTime(event.at, locale)}</td>
                <td>
                  ${has(key) ? t(key) : event.type}
                  ${marked ? html` <span class="badge warn">${t('replay.flagged')}</span>` : null}
                </td>
                <td>${event.lot ?? ''}</td>
                <td>${party ? label(party) : ''}</td>
                <td class="amount num">${event.price === null || event.price === undefined ? '' : money(event.price, currency)}</td>
              </tr>`;
            })}
          </tbody>
        </table>
      </div>
    </section>
    <${VerifyPanel} staff=${staff} id=${tenderId} kind="tender" />
    <details class="panel audit-details">
      <summary>${t('audit.details')}</summary>
      <dl>
        <div><dt>${t('audit.tender_id')}</dt><dd><code>${tenderId}</code></dd></div>
        ${[...labels.entries()].map(([party, l]) => html`<div><dt>${l}</dt><dd><code>${party}</code></dd></div>`)}
      </dl>
    </details>
  </main>`;
}
