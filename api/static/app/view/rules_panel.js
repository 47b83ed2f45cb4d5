// The auction's rules in words, its time zone, identifier and the events received.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { formatLocale, t } from '../i18n.js';
import { formatCountdown, zoneLabel } from '../time.js';
import { money } from './common.js';

export function Rules({ state, auction }) {
  const { rules } = state;
  if (!rules) return null;
  const currency = rules.currency;
  const dutch = state.format === 'dutch';
  const sealed = state.format === 'sealed';
  const multiround = state.format === 'multiround';
  let stepText;
  if (sealed) {
    stepText = t(rules.pricing === 'second_price' ? 'sealed.second_price' : 'sealed.first_price');
  } else if (dutch) {
    stepText = t('dutch.step_rule', {
      amount: money(rules.step, currency),
      interval: formatCountdown(rules.interval_us),
    });
  } else if (rules.step.percent !== null && rules.step.percent !== undefined) {
    stepText = t('ui.step_percent', { percent: rules.step.percent });
  } else {
    stepText = t('ui.step', { amount: money(rules.step.amount, currency) });
  }
  const soft = rules.soft_close;
  return html`<details class="panel" id="details">
    <summary>${t('ui.rules')} · ${t('ui.details')}</summary>
    <ul>
      ${multiround ? html`<li>${t('multiround.order_rule')}</li>` : null}
      ${rules.start_price !== null && rules.start_price !== undefined
        ? html`<li>${t('ui.start_price', { amount: money(rules.start_price, currency) })}</li>`
        : null}
      <li>${stepText}</li>
      <li>
        ${multiround
          ? t('multiround.rounds_rule', {
              rounds: rules.rounds,
              turn: formatCountdown(rules.turn_us),
              pause: formatCountdown(rules.pause_us ?? 0),
            })
          : sealed
          ? t('sealed.replace_rule')
          : dutch
          ? t(rules.side === 'sale' ? 'dutch.floor_rule' : 'dutch.ceiling_rule', {
              amount: money(rules.limit_price, currency),
            })
          : soft
          ? t('ui.soft_close_rule', {
              window: formatCountdown(soft.window_us),
              extension: formatCountdown(soft.extension_us),
            })
          : t('ui.no_soft_close')}
      </li>
      <li>${t('ui.time_zone', { zone: zoneLabel(state.endsAt ?? Date.now() * 1000, formatLocale()) })}</li>
      <li>${t('ui.auction_id', { id: auction })}</li>
      <li id="event-count">${t('ui.events_received', { count: state.received, seq: state.lastSeq })}</li>
    </ul>
  </details>`;
}

