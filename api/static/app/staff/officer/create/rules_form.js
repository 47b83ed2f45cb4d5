// The auction rules as a form: what the officer types (strings, as typed) turned into
// the rules JSON the server takes (contracts/rules_json.py), which fields each format
// uses, and where a problem lands (a JSON Pointer into the rules -> the form field).
//
// Amounts are typed in major units in the officer's locale (money.js parseAmount) with
// the currency inside the field; durations in minutes or seconds; times with the native
// datetime-local input, read in the officer's own time zone. Nothing here knows a bound:
// the schema the server publishes (schema.js) checks the result, and the server has the
// last word (problems.js shows its answer beside the field it names).
//
// Public API:
//   FORMATS, newRulesForm(nowMs), usedFields(form) -> Set of field names,
//   buildRules(form, locale) -> {rules, local: {field: {key, params}}},
//   fieldOfPointer(pointer, form) -> field name, fieldKind(field) -> 'money'|'duration'|...
//   toLocalInput(ms), fromLocalInput(text) -> ms | null

import { parseAmount } from '../../../money.js';

export const FORMATS = Object.freeze(['english', 'reverse', 'dutch', 'sealed', 'multiround']);

const MINUTE_US = 60_000_000;
const SECOND_US = 1_000_000;

/** What each duration field is typed in (µs per unit). */
export const DURATION_UNITS = Object.freeze({
  window: MINUTE_US,
  extension: MINUTE_US,
  interval: SECOND_US,
  turn: SECOND_US,
  pause: SECOND_US,
});
const MONEY = new Set(['start_price', 'reserve_price', 'limit_price', 'step_amount', 'max_amount']);
const TIMES = new Set(['starts_at', 'ends_at', 'hard_close']);

/** 'money', 'duration', 'time', 'percent' or 'plain': which words a bound is said in. */
export function fieldKind(field) {
  const base = field.replace(/^.*\./, '');
  if (MONEY.has(base)) return 'money';
  if (Object.hasOwn(DURATION_UNITS, base)) return 'duration';
  if (TIMES.has(base)) return 'time';
  if (base === 'step_percent') return 'percent';
  return 'plain';
}

function pad(n) {
  return String(n).padStart(2, '0');
}

/** Milliseconds as the value of a datetime-local input, in this browser's time zone. */
export function toLocalInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local value read in this browser's time zone, in ms; null if not one. */
export function fromLocalInput(text) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text ?? '');
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match.map(Number);
  const date = new Date(y, mo - 1, d, h, mi, s || 0, 0);
  return Number.isNaN(date.getTime()) ? null : date.getTime();
}

/** A fresh form: a reverse auction starting in 15 minutes (to the minute), for an hour. */
export function newRulesForm(nowMs = Date.now()) {
  const start = Math.ceil((nowMs + 15 * 60_000) / 60_000) * 60_000;
  return {
    format: 'reverse',
    side: 'procurement',
    currency: 'AZN',
    starts_at: toLocalInput(start),
    ends_at: toLocalInput(start + 60 * 60_000),
    start_price: '',
    reserve_price: '',
    limit_price: '',
    max_amount: '',
    step_kind: 'amount',
    step_amount: '',
    step_percent: '',
    improvement: 'beat_best',
    scoring: 'none',
    pricing: 'first_price',
    soft_close: true,
    window: '2',
    extension: '2',
    hard_close: '',
    allow_proxy: true,
    interval: '30',
    turn: '120',
    rounds: '3',
    pause: '60',
  };
}

/** The fields `form`'s format uses (as the engine's rules class has them). */
export function usedFields(form, { template = false } = {}) {
  const f = form.format;
  const used = new Set(['format', 'currency', 'starts_at', 'start_price', 'max_amount']);
  const add = (...names) => names.forEach((name) => used.add(name));
  if (f === 'english' || f === 'reverse') {
    add('ends_at', 'step_kind', 'soft_close', 'allow_proxy');
    add(form.step_kind === 'percent' ? 'step_percent' : 'step_amount');
    if (form.soft_close) add('window', 'extension', 'hard_close');
  }
  if (f === 'english') add('reserve_price');
  if (f === 'reverse') add('improvement', 'scoring');
  if (f === 'dutch') add('side', 'step_amount', 'interval', 'limit_price');
  if (f === 'sealed') {
    add('ends_at', 'side', 'pricing', 'reserve_price');
    if (form.side === 'procurement') add('scoring');
  }
  if (f === 'multiround') {
    add('turn', 'rounds', 'pause', 'scoring', 'step_kind');
    add(form.step_kind === 'percent' ? 'step_percent' : 'step_amount');
  }
  if (template) {
    // A tender's hand-off template: the auction's times and currency come with it.
    ['currency', 'starts_at', 'max_amount'].forEach((name) => used.delete(name));
  }
  return used;
}

function duration(text, unit) {
  const plain = String(text ?? '').trim().replace(',', '.');
  if (!/^[0-9]+(\.[0-9]+)?$/.test(plain)) return null;
  return Math.round(Number(plain) * unit);
}

/** The rules JSON of `form` and the problems found while reading what was typed
 *  ({field: {key, params}}: an amount or a number that cannot be read). An empty field
 *  is left out (the schema then says what is required). O(fields). */
export function buildRules(form, locale, { template = false, currency = form.currency } = {}) {
  const used = usedFields(form, { template });
  const rules = { format: form.format };
  const local = {};
  if (used.has('currency')) rules.currency = form.currency;
  const money = (field) => {
    const text = String(form[field] ?? '').trim();
    if (!text) return undefined;
    const read = parseAmount(text, currency, locale);
    if (read.ok) return read.value;
    local[field] = { key: read.key, params: read.params ?? {} };
    return undefined;
  };
  const time = (field) => {
    if (!form[field]) return undefined;
    const ms = fromLocalInput(form[field]);
    if (ms === null) {
      local[field] = { key: 'create.invalid_datetime', params: {} };
      return undefined;
    }
    return ms * 1000;
  };
  const span = (field) => {
    if (String(form[field] ?? '').trim() === '') return undefined;
    const us = duration(form[field], DURATION_UNITS[field]);
    if (us === null) local[field] = { key: 'create.invalid_number', params: {} };
    return us ?? undefined;
  };
  const put = (name, value) => {
    if (value !== undefined) rules[name] = value;
  };
  if (used.has('starts_at')) put('starts_at', time('starts_at'));
  if (used.has('ends_at')) put('ends_at', time('ends_at'));
  if (used.has('side')) rules.side = form.side === 'sale' ? 'sale' : 'procurement';
  if (used.has('pricing')) rules.pricing = form.pricing;
  for (const name of ['start_price', 'reserve_price', 'limit_price', 'max_amount']) {
    if (used.has(name)) put(name, money(name));
  }
  if (form.format === 'dutch') {
    put('step', money('step_amount'));
  } else if (used.has('step_amount')) {
    const amount = money('step_amount');
    const empty = !String(form.step_amount ?? '').trim();
    if (!(template && empty)) rules.step = amount === undefined ? {} : { amount };
    if (empty && !template) local.step_amount = { key: 'create.invalid_required', params: {} };
  } else if (used.has('step_percent')) {
    const text = String(form.step_percent ?? '').trim().replace(',', '.').replace(/\s*%$/, '');
    if (!(template && !text)) rules.step = text ? { percent: text } : {};
    if (!text && !template) local.step_percent = { key: 'create.invalid_required', params: {} };
  }
  if (used.has('improvement')) rules.improvement = form.improvement;
  if (used.has('scoring')) rules.scoring = form.scoring;
  if (used.has('allow_proxy')) rules.allow_proxy = Boolean(form.allow_proxy);
  if (used.has('soft_close')) {
    if (form.soft_close) {
      const soft = {};
      const window = span('window');
      const extension = span('extension');
      if (window !== undefined) soft.window_us = window;
      if (extension !== undefined) soft.extension_us = extension;
      const cap = time('hard_close');
      if (cap !== undefined) soft.hard_close_at = cap;
      rules.soft_close = soft;
    } else {
      rules.soft_close = null;
    }
  }
  if (used.has('interval')) put('interval_us', span('interval'));
  if (used.has('turn')) put('turn_us', span('turn'));
  if (used.has('pause')) put('pause_us', span('pause'));
  if (used.has('rounds')) {
    const text = String(form.rounds ?? '').trim();
    if (text) {
      if (/^-?[0-9]+$/.test(text)) rules.rounds = Number(text);
      else local.rounds = { key: 'create.invalid_number', params: {} };
    }
  }
  return { rules, local };
}

const POINTER_FIELDS = Object.freeze({
  '/soft_close': 'window',
  '/soft_close/window_us': 'window',
  '/soft_close/extension_us': 'extension',
  '/soft_close/hard_close_at': 'hard_close',
  '/step/amount': 'step_amount',
  '/step/percent': 'step_percent',
  '/interval_us': 'interval',
  '/turn_us': 'turn',
  '/pause_us': 'pause',
});

/** The form field a problem at `pointer` (into the rules object) belongs to. */
export function fieldOfPointer(pointer, form) {
  if (Object.hasOwn(POINTER_FIELDS, pointer)) return POINTER_FIELDS[pointer];
  if (pointer === '/step' || pointer.startsWith('/step/')) {
    return form.format !== 'dutch' && form.step_kind === 'percent' ? 'step_percent' : 'step_amount';
  }
  const top = pointer.split('/')[1] ?? '';
  return top || 'format';
}

/** A server problem's `field` ('rules.step.amount') as a pointer into the rules
 *  ('/step/amount'); null when it names no part of the rules. */
export function pointerOfServerField(field) {
  if (typeof field !== 'string' || !field.startsWith('rules')) return null;
  const rest = field.slice('rules'.length).replace(/^\./, '');
  return rest ? `/${rest.split('.').join('/')}` : '';
}
