// Where the bidding stands: best offer, mine and my rank (Figures), and the ranking table.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useRef } from '/vendor/preact@11.2.0/hooks.mjs';
import { t } from '../i18n.js';
import { ranking } from '../live.js';
import { labelText, money } from './common.js';
import { isScored, scoreMoney } from './score.js';

export function Figures({ state }) {
  const currency = state.rules?.currency;
  const rows = ranking(state);
  const myIndex = rows.findIndex((row) => row.you);
  const bestRef = useRef(null);
  const bestKey = state.best ? `${state.best.label}:${state.best.price}` : '';
  useEffect(() => {
    const node = bestRef.current;
    if (!node || !bestKey) return;
    node.classList.remove('moved');
    void node.offsetWidth; // restart the highlight
    node.classList.add('moved');
  }, [bestKey]);
  if (state.format === 'sealed' && !state.result) {
    return html`<dl class="figures">
      <dt>${t('sealed.my_bid')}</dt>
      <dd class="num" id="mine">
        ${state.mine !== null ? money(state.mine, currency) : t('ui.no_offer')}
      </dd>
    </dl>`;
  }
  const bestText = state.best
    ? `${money(state.best.price, currency)}${state.best.you ? ` (${t('ui.you')})` : ''}`
    : t('ui.no_offer');
  return html`<dl class="figures">
    <dt>${t('ui.best_offer')}</dt>
    <dd class="best num" id="best" ref=${bestRef}>${bestText}</dd>
    <dt>${t('ui.my_offer')}</dt>
    <dd class="num" id="mine">
      ${state.mine !== null ? money(state.mine, currency) : t('ui.no_offer')}
    </dd>
    <dt>${t('ui.my_rank')}</dt>
    <dd class="num" id="rank" data-rank=${myIndex >= 0 ? myIndex + 1 : ''}>
      ${myIndex >= 0 ? t('ui.rank_of', { rank: myIndex + 1, count: rows.length }) : t('ui.no_offer')}
    </dd>
  </dl>`;
}

export function Ranking({ state }) {
  const currency = state.rules?.currency;
  const rows = ranking(state);
  // A scored procurement ranks by score: each offer's score under its price (a fourth
  // column would scroll sideways on a phone), so the order reads.
  const scored = isScored(state);
  return html`<section class="panel" aria-labelledby="ranking-title">
    <h2 id="ranking-title">${t('ui.ranking')}</h2>
    <div aria-live="polite" id="ranking">
      ${state.format === 'sealed' && !state.result
        ? html`<p class="muted" id="sealed-hidden">${t('sealed.hidden')}</p>`
        : rows.length
        ? html`<table>
            <thead>
              <tr>
                <th scope="col">${t('ui.rank_column')}</th>
                <th scope="col">${t('ui.bidder_column')}</th>
                <th scope="col" class="amount">
                  ${scored ? t('ui.offer_score_column') : t('ui.offer_column')}
                </th>
              </tr>
            </thead>
            <tbody>
              ${rows.map(
                (row, index) => html`<tr class=${row.you ? 'mine' : ''} data-label=${row.label}>
                  <td class="num">${index + 1}</td>
                  <td>${row.you ? t('ui.you') : labelText(row.label)}</td>
                  <td class="amount num">
                    ${money(row.price, currency)}
                    ${scored
                      ? html`<span class="score-line">
                          ${t('ui.score_of', { score: scoreMoney(row.score ?? row.price, currency) })}
                        </span>`
                      : null}
                  </td>
                </tr>`,
              )}
            </tbody>
          </table>`
        : html`<p class="muted">${t('ui.no_offers')}</p>`}
    </div>
  </section>`;
}

