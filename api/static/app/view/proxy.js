// Automatic bidding in an open auction (the proxy message; rules.allow_proxy): a secret
// limit, a maximum in an English auction and a floor in a reverse one, that the engine
// bids up (or down) to by the minimum step on my behalf. The limit is shown to me only
// (the server sends no one else's), and the engine's bids for it are listed as such.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { formatLocale, t } from '../i18n.js';
import { parseAmount } from '../money.js';
import { formatTime, zoneLabel } from '../time.js';
import { money, requestText } from './common.js';

/** Whether the page offers a proxy limit: an English or reverse auction that allows it. */
export function allowsProxy(state) {
  return (
    (state.format === 'english' || state.format === 'reverse') &&
    state.rules?.allow_proxy !== false &&
    !state.result
  );
}

export function ProxyPanel({ state, live }) {
  const [text, setText] = useState('');
  const [error, setError] = useState(null);
  const input = useRef(null);
  if (!allowsProxy(state)) return null;
  const currency = state.rules.currency;
  const locale = formatLocale();
  const english = state.format === 'english';
  const open = state.phase === 'running' && state.conn === 'live';
  const limit = state.proxyLimit;
  const request = state.requests.find((r) => r.kind === 'proxy') ?? null;

  function submit(event) {
    event.preventDefault();
    if (!open) return;
    const read = parseAmount(text, currency, locale);
    if (!read.ok) {
      setError({ key: read.key, params: read.params });
      return;
    }
    setError(null);
    if (live.proxy(read.value)) {
      setText('');
      input.current?.focus();
    }
  }

  const action =
    limit === null ? t('proxy.set') : english ? t('proxy.raise') : t('proxy.lower');
  return html`<form class="proxy" id="proxy-form" onSubmit=${submit} novalidate>
    <h2 id="proxy-title">${t('proxy.title')}</h2>
    <p class="hint">${english ? t('proxy.explain_max') : t('proxy.explain_floor')}</p>
    <p id="proxy-limit-now" class="num">
      ${limit === null
        ? t('proxy.none')
        : t(english ? 'proxy.my_max' : 'proxy.my_floor', { amount: money(limit, currency) })}
    </p>
    <label for="proxy-limit">${english ? t('proxy.max_label') : t('proxy.floor_label')}</label>
    <div class="amount-row">
      <input
        id="proxy-limit"
        ref=${input}
        inputmode="decimal"
        autocomplete="off"
        value=${text}
        aria-describedby="proxy-error proxy-answer"
        aria-invalid=${error ? 'true' : 'false'}
        onInput=${(e) => {
          setText(e.currentTarget.value);
          setError(null);
        }}
      />
      <span class="unit">${currency}</span>
      <button type="submit" id="proxy-set" disabled=${!open}>${action}</button>
    </div>
    <p class="field-error" id="proxy-error" role="alert">${error ? t(error.key, error.params) : ''}</p>
    <p class=${`result ${request?.status ?? ''}`} id="proxy-answer" aria-live="polite">
      ${request ? requestText(request, currency) : ''}
    </p>
    ${state.proxyBids.length
      ? html`<h3 class="mr-sub" id="proxy-bids-title">${t('proxy.bids_title')}</h3>
          <ul class="proxy-bids" id="proxy-bids" aria-labelledby="proxy-bids-title">
            ${state.proxyBids.map(
              (b) => html`<li data-price=${b.price}>
                <span class="num" title=${zoneLabel(b.at, locale)}>${formatTime(b.at, locale)}</span>
                ${' '}${t('proxy.bid_by_limit', { amount: money(b.price, currency) })}
              </li>`,
            )}
          </ul>`
      : null}
  </form>`;
}
