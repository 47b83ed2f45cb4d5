// The Dutch clock: the price now, where it goes next and when, and Accept at that price.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useRef } from '/vendor/preact@11.2.0/hooks.mjs';
import { t } from '../i18n.js';
import { minorToPlain } from '../money.js';
import { formatCountdown } from '../time.js';
import { money, requestText } from './common.js';

export function DutchClock({ state, live, clock }) {
  const rules = state.rules;
  const currency = rules?.currency;
  const price = state.clockPrice;
  const open = state.phase === 'running' && state.conn === 'live' && price !== null;
  const acceptRef = useRef(null);
  let next = null;
  if (rules && price !== null) {
    const step = BigInt(rules.step);
    const sale = rules.side === 'sale';
    const moved = sale ? BigInt(price) - step : BigInt(price) + step;
    const inside = sale ? moved >= BigInt(rules.limit_price) : moved <= BigInt(rules.limit_price);
    const wait = formatCountdown(state.nextAt !== null ? (clock.untilUs(state.nextAt) ?? 0) : 0);
    next = inside
      ? t(sale ? 'dutch.falls_to' : 'dutch.rises_to', { amount: money(moved, currency), time: wait })
      : t('dutch.last_price', { time: wait });
  }
  function accept() {
    if (!open) return;
    live.accept(minorToPlain(price, currency));
    acceptRef.current?.focus();
  }
  return html`<div class="dutch" id="dutch">
    <h2 id="dutch-title">${t('dutch.price_now')}</h2>
    <p class="clock num" id="dutch-price" data-price=${price ?? ''} aria-labelledby="dutch-title">
      ${price !== null ? money(price, currency) : t('dutch.not_yet')}
    </p>
    <p class="hint num" id="dutch-next">${next ?? ''}</p>
    <button
      type="button"
      class="primary"
      id="accept"
      ref=${acceptRef}
      disabled=${!open}
      data-price=${price ?? ''}
      onClick=${accept}
    >
      ${price !== null ? t('dutch.accept', { amount: money(price, currency) }) : t('dutch.accept_idle')}
    </button>
    ${state.phase === 'scheduled' ? html`<p class="hint">${t('ui.not_started')}</p>` : null}
    <p class=${`result ${state.lastAnswer?.status ?? ''}`} id="last-answer" aria-live="assertive">
      ${state.lastAnswer ? requestText(state.lastAnswer, currency) : ''}
    </p>
  </div>`;
}

