// The amount field of a bid (view/bid_form.js, view/multiround.js): typed in major units
// with the currency beside it, the least valid bid pre-filled until the person types
// their own, the bound it must meet under it and the reason a typed amount is refused.
//
//   const field = useAmountField({ next, currency, resetKey });
//   <${AmountField} field=${field} bound=${text} disabled=${…} onEdit=${…} />
//   submit: const plain = field.read(); if (plain !== null) … field.clear();
//
// The hook keeps the field's state (what was typed, whether it was, the refusal); the
// component draws it with the ids the page and its tests know: #amount, #bound,
// #amount-error.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { formatLocale, t } from '../i18n.js';
import { minorToPlain, parseAmount } from '../money.js';
import { formatInput } from './common.js';

/** The state of an amount field pre-filled with `next` (minor units, or null) in
 *  `currency`; a new `resetKey` (a new turn) pre-fills it again. */
export function useAmountField({ next, currency, resetKey = '' }) {
  const [text, setText] = useState('');
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState(null);
  const input = useRef(null);
  const locale = formatLocale();
  const nextPlain = next === null || !currency ? '' : minorToPlain(next, currency);
  // Pre-fill the least valid bid until the person types their own.
  const shown = touched ? text : nextPlain ? formatInput(nextPlain, currency, locale) : '';
  useEffect(() => {
    setTouched(false);
    setText('');
    setError(null);
  }, [resetKey]);
  return {
    shown,
    error,
    input,
    currency,
    /** The amount as a plain decimal in major units, or null with the refusal shown. */
    read() {
      const parsed = parseAmount(shown, currency, locale);
      if (!parsed.ok) {
        setError({ key: parsed.key, params: parsed.params });
        return null;
      }
      setError(null);
      return parsed.value;
    },
    /** Back to the pre-filled least valid bid (after a bid was sent). */
    clear() {
      setTouched(false);
      setText('');
    },
    edit(value) {
      setTouched(true);
      setText(value);
      setError(null);
    },
    focus() {
      input.current?.focus();
    },
  };
}

/** The field itself: label, input with its currency, the bound, the refusal. */
export function AmountField({ field, bound = '', disabled = false, onEdit = null }) {
  const { error } = field;
  return html`<label for="amount">${t('ui.amount')}</label>
    <div class="amount-row">
      <input
        id="amount"
        ref=${field.input}
        inputmode="decimal"
        autocomplete="off"
        value=${field.shown}
        disabled=${disabled}
        aria-describedby="bound amount-error"
        aria-invalid=${error ? 'true' : 'false'}
        onInput=${(e) => {
          field.edit(e.currentTarget.value);
          onEdit?.();
        }}
      />
      <span class="unit">${field.currency ?? ''}</span>
    </div>
    <p class="hint num" id="bound">${bound ?? ''}</p>
    <p class="field-error" id="amount-error" role="alert">
      ${error ? t(error.key, error.params) : ''}
    </p>`;
}
