// A MEAT tender's features on the supplier's page (docs/tenders.md, "Award criteria"):
// reading what a person typed as a feature's value the way the engine will read it
// (engine.tender_records.feature_value: a plain non-negative decimal, at most 40
// characters, within 0..maximum), showing the tender's bounds in the reader's locale,
// and the score an opened offer gets (engine.tender.Tender.score: price / (1 + Σ weight ×
// value) over the declared features it states, an exact fraction), all in exact integer
// arithmetic (BigInt): never a float.

import { separators } from '../money.js';

/** Longest value the engine reads (engine.tender_records.feature_value). */
export const MAX_FEATURE_LENGTH = 40;

const PLAIN = /^[0-9]+(\.[0-9]+)?$/;
// What the server writes for a declared weight or maximum: str(Decimal), which may use
// an exponent ("1E+3", "5E-7").
const DECIMAL = /^([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/;

/** A non-negative decimal string (plain or str(Decimal)'s exponent form) as an exact
 *  {n, scale} (value = n / 10^scale, both BigInt-safe), or null. O(length). */
export function exact(text) {
  const match = DECIMAL.exec(String(text ?? ''));
  if (!match) return null;
  const [, whole, fraction = '', power = '0'] = match;
  let n = BigInt(whole + fraction);
  let scale = fraction.length - Number(power);
  if (scale < 0) {
    n *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { n, scale };
}

/** ``text`` (an exact value of :func:`exact`) as a plain decimal string ("1000", "0.0000005"). */
export function plain(text) {
  const value = exact(text);
  if (!value) return String(text ?? '');
  if (value.scale === 0) return String(value.n);
  const digits = String(value.n).padStart(value.scale + 1, '0');
  const whole = digits.slice(0, -value.scale);
  const fraction = digits.slice(-value.scale).replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : whole;
}

/** A declared bound (weight, maximum) as a person reads it in ``locale``: the locale's
 *  decimal separator, every digit kept ("0,25" in Azerbaijani). */
export function showDecimal(text, locale) {
  return plain(text).replace('.', separators(locale).decimal);
}

function compare(a, b) {
  const scale = Math.max(a.scale, b.scale);
  const left = a.n * 10n ** BigInt(scale - a.scale);
  const right = b.n * 10n ** BigInt(scale - b.scale);
  return left < right ? -1 : left > right ? 1 : 0;
}

/** What a person typed as the value of ``feature`` ({name, weight, maximum}) in
 *  ``locale``: {ok: true, value} with ``value`` the plain decimal the offer carries (the
 *  typed digits as they are, the locale's decimal comma read as a point), or {ok: false,
 *  key, params}: a catalog key (tender.feature_*) saying why not. Only the locale's
 *  decimal separator or a point is a decimal mark; group separators are refused (a value
 *  is at most 1000, and "1,000" read the wrong way would be a different offer).
 *  O(length of the text). */
export function parseFeature(text, feature, locale) {
  const maximum = showDecimal(feature.maximum, locale);
  const s = String(text ?? '').normalize('NFKC').trim();
  if (!s) return { ok: false, key: 'tender.feature_empty', params: { maximum } };
  if (s.startsWith('-') || s.startsWith('\u2212')) {
    return { ok: false, key: 'tender.feature_negative', params: { maximum } };
  }
  const mark = separators(locale).decimal;
  const read = mark === '.' ? s : s.replace(mark, '.');
  if (!PLAIN.test(read)) {
    return {
      ok: false,
      key: 'tender.feature_not_number',
      params: { maximum, example: `2${mark}5` },
    };
  }
  if (read.length > MAX_FEATURE_LENGTH) {
    return { ok: false, key: 'tender.feature_too_long', params: { length: MAX_FEATURE_LENGTH } };
  }
  const bound = exact(feature.maximum);
  if (bound && compare(exact(read), bound) > 0) {
    return { ok: false, key: 'tender.feature_above_maximum', params: { maximum } };
  }
  return { ok: true, value: read };
}

/** The exact score of an opened financial offer under MEAT, as the engine computes it:
 *  ``price`` (minor units) / (1 + Σ weight × value) over the tender's declared
 *  ``features`` the offer states (``offered``: [{name, value}]; undeclared names and
 *  unreadable values count for nothing). Answers {minor, exact}: ``minor`` the score in
 *  minor units rounded half up to a whole one (a string of digits), ``exact`` whether no
 *  rounding happened (else it is shown marked ≈, docs/formats.md), ``coefficient`` the
 *  Σ weight × value as a plain decimal. O(features). */
export function meatScore(price, features, offered) {
  const weights = new Map(features.map((f) => [f.name, exact(f.weight)]));
  // Σ weight × value as num / 10^scale, over one common power of ten.
  let num = 0n;
  let scale = 0;
  for (const { name, value } of offered ?? []) {
    const weight = weights.get(name);
    const stated = PLAIN.test(String(value ?? '')) ? exact(value) : null;
    if (!weight || !stated) continue;
    const termScale = weight.scale + stated.scale;
    const term = weight.n * stated.n;
    if (termScale > scale) {
      num *= 10n ** BigInt(termScale - scale);
      scale = termScale;
    }
    num += term * 10n ** BigInt(scale - termScale);
  }
  const den = 10n ** BigInt(scale);
  // price / (1 + num/den) = price · den / (den + num)
  const top = BigInt(price) * den;
  const bottom = den + num;
  const rounded = (2n * top + bottom) / (2n * bottom);
  const coefficient = scale ? plain(`${num}E-${scale}`) : String(num);
  return { minor: String(rounded), exact: top % bottom === 0n, coefficient };
}
