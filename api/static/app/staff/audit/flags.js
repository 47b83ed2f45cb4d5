// Red flags of an auction's or a tender's log (GET /api/v1/audit/auctions/<id>/flags,
// api/audit/flags.py; a tender's, per lot: api/audit/tender_flags.py), in words: each flag's title, what made it fire (its figures: amounts
// in major units with the currency, times in seconds), the bidders by anonymous label, and
// a button that shows the events behind it (the page highlights them and jumps there).
// The panel says first that these are prompts for review, not findings.
//
//   html`<${FlagsPanel} flags=${flags} currency="AZN" label=${(party) => 'Bidder 1'}
//                        onShow=${(seqs, index) => ...} shown=${index or null} />`

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { has, t } from '../../i18n.js';
import { labelText, money } from '../../view/common.js';

/** The flag's description in words (catalog flags.<code>_text, else the server's own
 *  English summary, which names parties: only for codes this page does not know). */
export function flagText(flag, currency, label = (party) => party) {
  const figures = flag.figures ?? {};
  const amount = (name) =>
    figures[name] === undefined || figures[name] === null ? '' : money(figures[name], currency);
  const params = {
    ...figures,
    count: figures.bidders ?? '',
    price: amount('price'),
    reserve: amount('reserve'),
    budget: amount('budget'),
    gap: amount('gap'),
    next_price: amount('next_price'),
    minutes: figures.window_us === undefined ? '' : Math.round(figures.window_us / 60e6),
    out: (figures.excluded ?? 0) + (figures.invalid ?? 0),
    percent: figures.gap_percent ?? '',
    seconds: figures.window_us === undefined ? '' : Math.round(figures.window_us / 1e6),
    bidders: (flag.bidders ?? []).map((party) => labelText(label(party))).join(', '),
  };
  let key = `flags.${flag.code}_text`;
  if (flag.code === 'single_bidder' && figures.bids === undefined) key = 'flags.single_bidder_dutch_text';
  if (flag.code === 'price_near_reserve' && figures.budget !== undefined) key = 'flags.price_near_budget_text';
  if (flag.code === 'late_bidding' && (flag.bidders ?? []).length === 1) key = 'flags.late_bidding_one_text';
  return has(key) ? t(key, params) : flag.summary ?? '';
}

export function flagTitle(flag) {
  const key = `flags.${flag.code}_title`;
  return has(key) ? t(key) : t('flags.other_title');
}

export function FlagsPanel({ flags, currency, label, onShow, shown = null, state = 'ready' }) {
  return html`<section class="panel audit-flags" id="flags" aria-labelledby="flags-title">
    <h2 id="flags-title">${t('flags.title')}</h2>
    <p class="flags-note" id="flags-note">${t('flags.note')}</p>
    ${state === 'loading'
      ? html`<p class="muted">${t('ui.loading')}</p>`
      : state === 'failed'
        ? html`<p class="muted" id="flags-failed">${t('flags.failed')}</p>`
        : !flags.length
          ? html`<p class="muted" id="flags-none">${t('flags.none')}</p>`
          : html`<ul class="flag-list">
              ${flags.map(
                (flag, index) => html`<li
                  class=${`flag${shown === index ? ' shown' : ''}`}
                  data-code=${flag.code}
                  id=${`flag-${index}`}
                >
                  <h3>${flagTitle(flag)}</h3>
                  ${flag.lot ? html`<p class="muted flag-lot">${t('flags.lot', { lot: flag.lot })}</p>` : null}
                  <p>${flagText(flag, currency, label)}</p>
                  ${onShow && (flag.seqs ?? []).length
                    ? html`<button
                        type="button"
                        class="show-events"
                        aria-pressed=${String(shown === index)}
                        onClick=${() => onShow(flag.seqs, index)}
                      >
                        ${t('flags.show_events', { count: flag.seqs.length })}
                      </button>`
                    : null}
                </li>`,
              )}
            </ul>`}
  </section>`;
}
