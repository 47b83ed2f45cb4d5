// The rules in plain words, from the rules JSON the form is about to send (the same
// object, so the preview says exactly what will be published): the format and who
// wins, the prices, the step, the times in the officer's zone, the soft close, the
// scoring, the multi-round turns, the Dutch clock. No identifiers, no minor units.
//
// Public API: rulesSentences(rules, {currency}) -> [text], RulesWords({rules, ...}).

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { formatLocale, moneyLocale, t } from '../../../i18n.js';
import { formatAmount } from '../../../money.js';
import { formatDateTime, zoneLabel } from '../../../time.js';

/** A duration (µs) in words: '2 min', '90 s', '1 h 30 min'. */
export function durationWords(us) {
  const seconds = Math.round(Number(us) / 1_000_000);
  if (seconds % 60 !== 0 || seconds === 0) return t('create.dur_seconds', { n: seconds });
  const minutes = seconds / 60;
  if (minutes % 60 !== 0) {
    return minutes > 60
      ? t('create.dur_hours_minutes', { h: Math.floor(minutes / 60), m: minutes % 60 })
      : t('create.dur_minutes', { n: minutes });
  }
  return t('create.dur_hours', { n: minutes / 60 });
}

function amount(plain, currency) {
  return formatAmount(plain, currency, moneyLocale());
}

function when(us) {
  return formatDateTime(us, formatLocale());
}

function stepSentence(rules, currency) {
  const step = rules.step ?? {};
  const own = rules.format === 'multiround' || rules.improvement === 'beat_own';
  if (step.percent !== undefined && step.percent !== null) {
    return t(own ? 'create.words_step_percent_own' : 'create.words_step_percent', { percent: step.percent });
  }
  if (step.amount === undefined) return null;
  const value = amount(step.amount, currency);
  return t(own ? 'create.words_step_own' : 'create.words_step', { amount: value });
}

/** The sentences saying what `rules` mean. O(fields). */
export function rulesSentences(rules, { currency = rules.currency, template = false } = {}) {
  const out = [];
  const f = rules.format;
  const sale = f === 'english' || ((f === 'dutch' || f === 'sealed') && rules.side === 'sale');
  const kind = f === 'dutch' || f === 'sealed' ? `${f}_${sale ? 'sale' : 'procurement'}` : f;
  out.push(t(`create.words_format_${kind}`));
  if (!template && currency) out.push(t('create.words_currency', { currency }));
  if (!template && rules.starts_at !== undefined) {
    const zone = zoneLabel(rules.starts_at, formatLocale());
    out.push(
      rules.ends_at !== undefined
        ? t('create.words_window', { start: when(rules.starts_at), end: when(rules.ends_at), zone })
        : t('create.words_opens', { start: when(rules.starts_at), zone }),
    );
  }
  const price = rules.start_price;
  if (price !== undefined && price !== null) {
    const key = f === 'dutch' ? 'create.words_clock_start' : sale ? 'create.words_start_sale' : 'create.words_budget';
    out.push(t(key, { amount: amount(price, currency) }));
  }
  if (f === 'dutch') {
    if (rules.step !== undefined && rules.interval_us !== undefined) {
      out.push(
        t(sale ? 'create.words_clock_down' : 'create.words_clock_up', {
          amount: amount(rules.step, currency),
          interval: durationWords(rules.interval_us),
        }),
      );
    }
    if (rules.limit_price !== undefined) {
      out.push(t(sale ? 'create.words_floor' : 'create.words_ceiling', { amount: amount(rules.limit_price, currency) }));
    }
    out.push(t('create.words_dutch_first'));
  } else if (f !== 'sealed') {
    const step = stepSentence(rules, currency);
    if (step) out.push(step);
  }
  if (rules.reserve_price !== undefined && rules.reserve_price !== null) {
    out.push(t(sale ? 'create.words_reserve_sale' : 'create.words_reserve_procurement', {
      amount: amount(rules.reserve_price, currency),
    }));
  }
  if (f === 'sealed') {
    out.push(t('create.words_sealed_one'));
    out.push(t(rules.pricing === 'second_price' ? 'create.words_second_price' : 'create.words_first_price'));
  }
  if (f === 'multiround') {
    out.push(
      t('create.words_rounds', {
        rounds: rules.rounds ?? 3,
        turn: rules.turn_us !== undefined ? durationWords(rules.turn_us) : '—',
        pause: durationWords(rules.pause_us ?? 0),
      }),
    );
  }
  if (f === 'english' || f === 'reverse') {
    const soft = rules.soft_close;
    if (soft && soft.window_us !== undefined && soft.extension_us !== undefined) {
      const words = { window: durationWords(soft.window_us), extension: durationWords(soft.extension_us) };
      out.push(t('create.words_soft_close', words));
      out.push(
        soft.hard_close_at !== undefined && soft.hard_close_at !== null
          ? t('create.words_hard_cap', { time: when(soft.hard_close_at) })
          : t('create.words_no_cap'),
      );
    } else {
      out.push(t('create.words_no_soft_close'));
    }
    out.push(t(rules.allow_proxy === false ? 'create.words_no_proxy' : 'create.words_proxy'));
  }
  if (rules.scoring === 'meat') out.push(t('create.words_meat'));
  else if (rules.scoring === 'lcc') out.push(t('create.words_lcc'));
  if (rules.max_amount !== undefined && rules.max_amount !== null) {
    out.push(t('create.words_max_amount', { amount: amount(rules.max_amount, currency) }));
  }
  return out;
}

/** The sentences as a list. */
export function RulesWords({ rules, currency, template = false, id }) {
  return html`<ul class="words" id=${id}>
    ${rulesSentences(rules, { currency, template }).map((text) => html`<li>${text}</li>`)}
  </ul>`;
}
