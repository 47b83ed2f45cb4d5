// Pieces every view uses: money and labels in words, the language switch, the notice
// page, the connection badge and banner, the clock panel and a request's state in words.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import * as i18n from '../i18n.js';
import { closeText, codeText, formatLocale, moneyLocale, t } from '../i18n.js';
import { formatAmount, formatMinor, PLAIN_DECIMAL } from '../money.js';
import { formatCountdown, formatTime, zoneLabel } from '../time.js';

export function money(minor, currency) {
  return formatMinor(minor, currency, moneyLocale());
}

export function labelText(label) {
  const number = /([0-9]+)$/.exec(label ?? '');
  return number ? t('ui.bidder_label', { number: number[1] }) : String(label ?? '');
}


export function LanguageSwitch() {
  const current = i18n.language();
  return html`<div class="lang" role="group" aria-label=${t('ui.language')}>
    ${Object.entries(i18n.LANGUAGES).map(
      ([lang, name]) => html`<button
        type="button"
        lang=${lang}
        aria-pressed=${String(lang === current)}
        title=${name}
        onClick=${() => i18n.setLanguage(lang)}
      >
        ${lang.toUpperCase()}
      </button>`,
    )}
  </div>`;
}

export function Notice({ title, text, action }) {
  return html`<main class="notice" id="notice">
    <h1>${title}</h1>
    <p id="notice-text">${text}</p>
    ${action ?? null}
    <${LanguageSwitch} />
  </main>`;
}

export function Connection({ state }) {
  return html`<span class=${`conn ${state.conn}`} id="connection" data-state=${state.conn}>
    <span class="dot" aria-hidden="true"></span>
    <span>${t(`connection.${state.conn}`)}</span>
  </span>`;
}

export function Banner({ state, now }) {
  if (state.fatal) return html`<p class="banner offline" role="alert">${closeText(state.fatal)}</p>`;
  if (state.conn === 'offline') {
    return html`<p class="banner offline">${t('connection.banner_offline')}</p>`;
  }
  if (state.conn === 'reconnecting') {
    const seconds = state.retryAt ? Math.max(0, Math.ceil((state.retryAt - now) / 1000)) : 0;
    return html`<p class="banner">${t('connection.banner_reconnecting', { seconds })}</p>`;
  }
  return null;
}

export function Clock({ state, clock }) {
  const locale = formatLocale();
  let label = t('phase.new');
  let value = '';
  let soft = false;
  let ended = false;
  if (state.phase === 'scheduled' && state.rules) {
    label = t('ui.starts_in');
    value = formatCountdown(clock.untilUs(state.rules.starts_at) ?? 0);
  } else if (state.phase === 'running' && state.format === 'dutch' && state.nextAt !== null) {
    label = t('dutch.next_in');
    value = formatCountdown(clock.untilUs(state.nextAt) ?? 0);
  } else if (state.phase === 'running' && state.endsAt !== null) {
    label = t('ui.ends_in');
    const left = clock.untilUs(state.endsAt) ?? 0;
    value = formatCountdown(left);
    soft = !!state.rules?.soft_close && left <= state.rules.soft_close.window_us;
  } else if (state.phase === 'ended') {
    // When it ended, in the person's own time and zone: "Ended at 14:05 (Baku)" (the
    // sentence says it all: no heading over it).
    label = null;
    ended = true;
    const at = state.result?.endedAt ?? state.endsAt;
    const time = at === null || at === undefined ? null : formatTime(at, locale, { seconds: false });
    value = time === null ? t('phase.ended') : t('ui.ended_at', { time, zone: cityOf(locale) });
  }
  const endTitle =
    state.endsAt !== null ? `${formatTime(state.endsAt, locale)} ${zoneLabel(state.endsAt, locale)}` : '';
  return html`<div>
    ${label === null ? null : html`<h2>${label}</h2>`}
    <p
      class=${`clock num${soft ? ' soft' : ''}${ended ? ' ended' : ''}`}
      id="clock"
      title=${endTitle}
      role=${ended ? null : 'timer'}
    >
      ${value}
    </p>
    ${soft ? html`<p class="hint">${t('ui.soft_close')}</p>` : null}
    ${state.extension
      ? html`<p class="hint">
          ${t('ui.extended', {
            duration: formatCountdown(state.extension.to - state.extension.from),
            time: formatTime(state.extension.at, locale),
          })}
        </p>`
      : null}
  </div>`;
}

/** The city of the person's time zone, as a zone label reads it: 'Asia/Baku' -> 'Baku'. */
function cityOf(locale) {
  const zone = new Intl.DateTimeFormat(locale).resolvedOptions().timeZone ?? '';
  return zone.split('/').at(-1).replaceAll('_', ' ') || zone;
}

export function formatInput(plain, currency, locale) {
  // The amount as the person would type it: grouped, the locale's decimal mark, no code.
  if (i18n.language() === 'az') {
    // As money() shows Azerbaijani amounts ('98 500,00'), not the date stand-in's way.
    return formatAmount(plain, currency, moneyLocale()).replace(/\u00a0[^\u00a0]*$/, '');
  }
  const digits = plain.includes('.') ? plain.length - plain.indexOf('.') - 1 : 0;
  return new Intl.NumberFormat(locale, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(plain);
}

export function requestText(request, currency) {
  switch (request.status) {
    case 'sending':
      return t('request.sending');
    case 'confirmed':
      return t('request.confirmed');
    case 'found':
      return t('request.found_later');
    case 'refused': {
      const reason = codeText(request.code);
      const refused = t('request.refused', { reason });
      // The server's bound (reject.bound: the amount the refusal names) when it sent one,
      // read from its decimal string (amount_minor is a JSON number, exact only below
      // 2^53); else the bound this page computed from the rules.
      const server = request.serverBound;
      if (server && typeof server.amount === 'string' && PLAIN_DECIMAL.test(server.amount)) {
        const amount = formatAmount(server.amount, server.currency ?? currency, moneyLocale());
        const key = { min: 'would_accept_up', max: 'would_accept_down' }[server.kind];
        if (key) return `${refused} ${t(`request.${key}`, { amount })}`;
        if (server.kind === 'price') return `${refused} ${t('request.price_now', { amount })}`;
      }
      if (!request.bound || request.minor === null) return refused;
      const key = BigInt(request.bound) >= BigInt(request.minor) ? 'up' : 'down';
      const hint = t(`request.would_accept_${key}`, { amount: money(request.bound, currency) });
      return `${refused} ${hint}`;
    }
    default:
      return t('request.not_confirmed');
  }
}

