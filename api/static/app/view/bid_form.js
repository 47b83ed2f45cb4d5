// The bid form for English, reverse and sealed auctions: the least valid bid pre-filled,
// typed in major units, a confirmation for a bid far from the best (a typo guard).

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { formatLocale, t } from '../i18n.js';
import { nextValidBid, plainToMinor } from '../live.js';
import { minorToPlain, parseAmount } from '../money.js';
import { formatInput, money, requestText } from './common.js';

/** How far from the best offer a bid may be before the page asks to confirm it. */
const FAR_FRACTION = 0.2;

export function BidForm({ state, live }) {
  const currency = state.rules?.currency;
  const next = nextValidBid(state);
  const nextPlain = next === null || !currency ? '' : minorToPlain(next, currency);
  const [text, setText] = useState('');
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState(null);
  const [confirming, setConfirming] = useState(null);
  const input = useRef(null);
  const locale = formatLocale();
  // Pre-fill the least valid bid until the person types their own.
  const shown = touched ? text : nextPlain ? formatInput(nextPlain, currency, locale) : '';
  const open = state.phase === 'running' && state.conn === 'live';

  const cancelRef = useRef(null);
  // The typo guard takes the focus (on Cancel: a second Enter must not place a far bid);
  // leaving it gives the focus back to the amount.
  useEffect(() => {
    if (confirming) cancelRef.current?.focus();
  }, [confirming]);

  function place(plain) {
    if (live.bid(plain)) {
      setTouched(false);
      setText('');
      setConfirming(null);
      input.current?.focus();
    }
  }

  function cancel() {
    setConfirming(null);
    input.current?.focus();
  }

  function submit(event) {
    event.preventDefault();
    if (!currency) return;
    const read = parseAmount(shown, currency, locale);
    if (!read.ok) {
      setError({ key: read.key, params: read.params });
      return;
    }
    setError(null);
    if (state.best && state.format !== 'sealed') {
      const best = Number(BigInt(state.best.price));
      const amount = Number(BigInt(plainToMinor(read.value)));
      const away = Math.abs(amount - best) / best;
      if (away > FAR_FRACTION) {
        setConfirming({ plain: read.value, percent: Math.round(away * 100) });
        return;
      }
    }
    place(read.value);
  }

  const bound =
    next === null
      ? null
      : t(state.format === 'english' ? 'ui.lowest_valid_bid' : 'ui.highest_valid_bid', {
          amount: money(next, currency),
        });
  return html`<form class="bid" id="bid-form" onSubmit=${submit} novalidate>
    <label for="amount">${t('ui.amount')}</label>
    <div class="amount-row">
      <input
        id="amount"
        ref=${input}
        inputmode="decimal"
        autocomplete="off"
        value=${shown}
        aria-describedby="bound amount-error"
        aria-invalid=${error ? 'true' : 'false'}
        onInput=${(e) => {
          setTouched(true);
          setText(e.currentTarget.value);
          setError(null);
          setConfirming(null);
        }}
      />
      <span class="unit">${currency ?? ''}</span>
    </div>
    <p class="hint num" id="bound">${bound ?? ''}</p>
    <p class="field-error" id="amount-error" role="alert">
      ${error ? t(error.key, error.params) : ''}
    </p>
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
                onClick=${() => live.withdraw() && input.current?.focus()}
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
