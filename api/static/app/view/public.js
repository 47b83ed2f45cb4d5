// The public view of an auction (/app/#/public/<id>, no token): what an observer sees,
// live, without anything of "mine": the best offer (or the Dutch clock's price; nothing of
// a sealed auction's bids before its close), a note that bidding needs an invitation,
// and at the end the engine's result by label.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { t } from '../i18n.js';
import { labelText, money } from './common.js';

export function PublicFigures({ state }) {
  const currency = state.rules?.currency;
  if (state.format === 'sealed' && !state.result) {
    return html`<p class="muted" id="public-sealed">${t('public.sealed')}</p>`;
  }
  if (state.format === 'dutch') {
    return html`<dl class="figures">
      <dt>${t('public.clock_price')}</dt>
      <dd class="best num" id="best">
        ${state.clockPrice !== null ? money(state.clockPrice, currency) : t('ui.no_offer')}
      </dd>
    </dl>`;
  }
  return html`<dl class="figures">
    <dt>${t('ui.best_offer')}</dt>
    <dd class="best num" id="best">
      ${state.best ? money(state.best.price, currency) : t('ui.no_offer')}
    </dd>
    <dt>${t('public.leader')}</dt>
    <dd id="leader">${state.best ? labelText(state.best.label) : t('ui.no_offer')}</dd>
  </dl>`;
}

export function PublicPanel({ state }) {
  if (state.result) return html`<${PublicResult} state=${state} />`;
  return html`<div class="public-note" id="public-note">
    <h2>${t('public.title')}</h2>
    <p>${t('public.note')}</p>
  </div>`;
}

function PublicResult({ state }) {
  const result = state.result;
  const currency = state.rules?.currency;
  const winner = result.winners.length ? result.winners.map(labelText).join(', ') : null;
  const amount = result.price !== null ? money(result.price, currency) : null;
  const words = {
    awarded: () => t('result.other_won', { winner, amount }),
    no_bids: () => t('result.no_bids'),
    reserve_not_met: () => t('result.reserve_not_met'),
    limit_reached: () => t('result.limit_reached'),
    cancelled: () => t('result.cancelled'),
  };
  const outcome = (words[result.outcome] ?? (() => t('ui.auction_ended')))();
  return html`<div class="final" id="result" data-outcome=${result.outcome} data-price=${result.price ?? ''}>
    <h2>${t('result.title')}</h2>
    <p class="outcome" id="outcome" role="status">${outcome}</p>
    <dl class="figures">
      <dt>${t('result.winner')}</dt>
      <dd id="winner">${winner ?? t('result.no_winner')}</dd>
      <dt>${t('result.price_paid')}</dt>
      <dd class="num" id="price-paid">${amount ?? t('result.no_price')}</dd>
    </dl>
  </div>`;
}
