// A scored procurement (MEAT or life-cycle cost: engine/scoring.py): the ranking is by
// score, not price. My raw price and my score side by side, the leader's, and the price
// I would need to lead, reckoned as the engine does (rules.js, exact BigInt rationals)
// with my own coefficient or cost, which come with my own registration.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { t } from '../i18n.js';
import { priceToLead, ranking } from '../live.js';
import { readScore } from '../rules.js';
import { money } from './common.js';

/** Whether the page shows the score panel: a procurement scored by MEAT or LCC. */
export function isScored(state) {
  const scoring = state.rules?.scoring;
  return (
    (state.format === 'reverse' || state.format === 'multiround') &&
    !!scoring &&
    scoring !== 'none'
  );
}

/** A score (minor units, maybe a fraction) as money, rounded half up to a minor unit;
 *  '≈' marks a rounded one. Display only: comparisons use the exact score. */
export function scoreMoney(raw, currency) {
  const score = readScore(raw);
  if (score === null) return t('ui.no_offer');
  const whole = (2n * score.n + score.d) / (2n * score.d);
  const exact = whole * score.d === score.n;
  return `${exact ? '' : '≈ '}${money(whole, currency)}`;
}

function Row({ id, who, row, currency }) {
  return html`<tr id=${id} class=${row?.you ? 'mine' : ''}>
    <th scope="row">${who}</th>
    <td class="amount num">${row ? money(row.price, currency) : t('ui.no_offer')}</td>
    <td class="amount num">${row ? scoreMoney(row.score ?? row.price, currency) : t('ui.no_offer')}</td>
  </tr>`;
}

export function ScorePanel({ state }) {
  // Mine beside the leader's: a bidder's page (the public view has no 'mine').
  if (!isScored(state) || state.result || !state.me) return null;
  const currency = state.rules.currency;
  const rows = ranking(state);
  const mine = rows.find((row) => row.you) ?? null;
  const leader = rows[0] ?? null;
  const me = state.me;
  const scoring = state.rules.scoring;
  const rule =
    scoring === 'meat'
      ? t('score.rule_meat', { coefficient: me?.coefficient ?? '0' })
      : t('score.rule_lcc', { cost: money(me?.cost ?? 0, currency) });
  const lead = priceToLead(state);
  let leadText;
  if (leader && mine && leader.you) leadText = t('score.you_lead');
  else if (lead === null) leadText = t('score.no_lead');
  else leadText = money(lead, currency);
  return html`<section class="score" id="score" aria-labelledby="score-title">
    <h2 id="score-title">${t('score.title')}</h2>
    <p class="hint" id="score-rule">${rule}</p>
    <table>
      <thead>
        <tr>
          <td></td>
          <th scope="col" class="amount">${t('score.price')}</th>
          <th scope="col" class="amount">${t('score.score')}</th>
        </tr>
      </thead>
      <tbody>
        <${Row} id="score-mine" who=${t('score.mine')} row=${mine} currency=${currency} />
        <${Row} id="score-leader" who=${t('score.leader')} row=${leader} currency=${currency} />
      </tbody>
    </table>
    <dl class="figures">
      <dt>${t('score.price_to_lead')}</dt>
      <dd class="num" id="price-to-lead" data-minor=${lead === null ? '' : String(lead)}>${leadText}</dd>
    </dl>
  </section>`;
}
