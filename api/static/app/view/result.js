// The result when the auction ends: outcome, winner (by label), price paid and my position,
// and my bids checked against the auction's signed record (record.js).

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { t } from '../i18n.js';
import { ranking } from '../live.js';
import { labelText, money } from './common.js';
import { Record } from './record.js';

export function Result({ state, session = null }) {
  const result = state.result;
  const currency = state.rules?.currency;
  const rows = ranking(state);
  const myIndex = rows.findIndex((row) => row.you);
  const won = state.you !== null && result.winners.includes(state.you);
  const winner = result.winners.length
    ? won
      ? t('ui.you')
      : result.winners.map(labelText).join(', ')
    : null;
  const amount = result.price !== null ? money(result.price, currency) : null;
  let outcome;
  switch (result.outcome) {
    case 'awarded':
      outcome = won
        ? t('result.you_won', { amount })
        : t('result.other_won', { winner, amount });
      break;
    case 'no_bids':
      outcome = t('result.no_bids');
      break;
    case 'reserve_not_met':
      outcome = t('result.reserve_not_met');
      break;
    case 'limit_reached':
      outcome = t('result.limit_reached');
      break;
    case 'cancelled':
      outcome = t('result.cancelled');
      break;
    default:
      outcome = t('ui.auction_ended');
  }
  return html`<div
    class="final"
    id="result"
    data-outcome=${result.outcome}
    data-won=${won ? 'yes' : 'no'}
    data-price=${result.price ?? ''}
  >
    <h2>${t('result.title')}</h2>
    <p class=${`outcome${won ? ' won' : ''}`} id="outcome" role="status">${outcome}</p>
    <dl class="figures">
      <dt>${t('result.winner')}</dt>
      <dd id="winner">${winner ?? t('result.no_winner')}</dd>
      <dt>${t('result.price_paid')}</dt>
      <dd class="num" id="price-paid">${amount ?? t('result.no_price')}</dd>
      <dt>${t('result.my_position')}</dt>
      <dd class="num" id="my-position" data-rank=${myIndex >= 0 ? myIndex + 1 : ''}>
        ${myIndex >= 0
          ? t('ui.rank_of', { rank: myIndex + 1, count: rows.length })
          : t('result.not_ranked')}
      </dd>
    </dl>
    <${Record} state=${state} session=${session} />
  </div>`;
}

/** The Dutch clock: the price now, where it goes next and when, and Accept at that price. */
