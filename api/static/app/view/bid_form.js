// The bid form for English, reverse and sealed auctions: the least valid bid pre-filled,
// typed in major units, a confirmation for a bid far from the best (a typo guard).

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { t } from '../i18n.js';
import { nextValidBid, plainToMinor } from '../live.js';
import { AmountField, useAmountField } from './amount_field.js';
import { money, requestText } from './common.js';

/** How far from the best offer a bid may be before the page asks to confirm it. */
const FAR_FRACTION = 0.2;

export function BidForm({ state, live }) {
  const currency = state.rules?.currency;
  const next = nextValidBid(state);
  const field = useAmountField({ next, currency });
  const [confirming, setConfirming] = useState(null);
  const open = state.phase === 'running' && state.conn === 'live';

  const cancelRef = useRef(null);
  // The typo guard takes the focus (on Cancel: a second Enter must not place a far bid);
  // leaving it gives the focus back to the amount.
  useEffect(() => {
    if (confirming) cancelRef.current?.focus();
  }, [confirming]);

  function place(plain) {
    if (live.bid(plain)) {
      field.clear();
      setConfirming(null);
      field.focus();
    }
  }

  function cancel() {
    setConfirming(null);
    field.focus();
  }

  function submit(event) {
    event.preventDefault();
    if (!currency) return;
    const plain = field.read();
    if (plain === null) return;
    if (state.best && state.format !== 'sealed') {
      const best = Number(BigInt(state.best.price));
      const amount = Number(BigInt(plainToMinor(plain)));
      const away = Math.abs(amount - best) / best;
      if (away > FAR_FRACTION) {
        setConfirming({ plain, percent: Math.round(away * 100) });
        return;
      }
    }
    place(plain);
  }

  const bound =
    next === null
      ? null
      : t(state.format === 'english' ? 'ui.lowest_valid_bid' : 'ui.highest_valid_bid', {
          amount: money(next, currency),
        });
  return html`<form class="bid" id="bid-form" onSubmit=${submit} novalidate>
    <${AmountField} field=${field} bound=${bound} onEdit=${() => setConfirming(null)} />
    ${confirming
      ? html`<div
          class="confirm"
          id="far-confirm"
          role="group"
          aria-labelledby="far-text"
          onKeyDown=${(e) => {
            if (e.key === 'Escape') cancel();
          }}
        >
          <p id="far-text">${t('ui.far_bid_confirm', { percent: confirming.percent })}</p>
          <div class="actions">
            <button type="button" class="primary" id="far-yes" onClick=${() => place(confirming.plain)}>
              ${t('ui.confirm')}
            </button>
            <button type="button" id="far-no" ref=${cancelRef} onClick=${cancel}>
              ${t('ui.cancel')}
            </button>
          </div>
        </div>`
      : html`<div class="actions">
          <button type="submit" class="primary" id="place" disabled=${!open}>
            ${state.format !== 'sealed'
              ? t('ui.place_bid')
              : state.mine === null
                ? t('sealed.place')
                : t('sealed.replace')}
          </button>
          ${state.format === 'sealed' && state.mine !== null
            ? html`<button
                type="button"
                id="withdraw"
                disabled=${!open}
                onClick=${() => live.withdraw() && field.focus()}
              >
                ${t('sealed.withdraw')}
              </button>`
            : null}
        </div>`}
    ${state.format === 'sealed' && state.phase === 'running'
      ? html`<p class="hint" id="sealed-note">${t('sealed.note')}</p>`
      : null}
    ${state.phase === 'scheduled' ? html`<p class="hint">${t('ui.not_started')}</p>` : null}
    ${state.phase === 'ended' ? html`<p class="hint">${t('ui.auction_ended')}</p>` : null}
    <p class=${`result ${state.lastAnswer?.status ?? ''}`} id="last-answer" aria-live="assertive">
      ${state.lastAnswer ? requestText(state.lastAnswer, currency) : ''}
    </p>
  </form>`;
}

/** The outcome in words, the winner, the price paid and where I finished. */
