// Money for people: amounts formatted for a locale, and amounts typed by a person read
// into the wire's plain decimal.
//
// The wire carries amounts as plain decimal strings in major units ("98500.00",
// contracts/decimal.py) and the engine counts minor units (engine/money.py). A person
// sees "AZN 98,500.00" or "98.500,00 AZN" (Intl.NumberFormat, the user's locale) and
// types "98 500,00 AZN", "98500.00", "98,500.00" or "98500": parseAmount reads each of
// those, refuses what could mean two amounts or has more decimals than the currency
// (a catalog key with its parameters, never a guess), and answers the plain decimal
// the wire takes. Numbers never pass through a float: digits stay strings.

/** contracts.decimal.PATTERN, anchored: every string parseAmount answers matches it. */
export const PLAIN_DECIMAL = /^-?[0-9]+(\.[0-9]+)?$/;
/** contracts.decimal.MAX_LENGTH. */
export const MAX_LENGTH = 64;

// ISO 4217 minor-unit digits, as engine/money.py's CURRENCIES (a test compares them).
// Intl's own digits differ for some (IQD 0 in CLDR, 3 in ISO 4217): this table decides.
const EXPONENTS = {
  0: 'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF',
  2:
    'AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP ' +
    'BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP ' +
    'GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT ' +
    'LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN ' +
    'NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP ' +
    'SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES ' +
    'VED WST XCD YER ZAR ZMW ZWG',
  3: 'BHD IQD JOD KWD LYD OMR TND',
  4: 'CLF UYW',
};

/** Currency code -> number of minor-unit digits (engine.money.CURRENCIES). */
export const CURRENCIES = Object.freeze(
  Object.fromEntries(
    Object.entries(EXPONENTS).flatMap(([digits, codes]) =>
      codes.split(' ').map((code) => [code, Number(digits)]),
    ),
  ),
);

/** The minor-unit digits of `currency`; RangeError for a currency the engine lacks. */
export function exponent(currency) {
  const digits = CURRENCIES[currency];
  if (digits === undefined) throw new RangeError(`unknown currency ${currency}`);
  return digits;
}

/** Minor units (a safe integer, a BigInt or a string of digits) as the plain decimal
 *  engine.money.format_minor gives: minorToPlain(1250, 'EUR') === '12.50'. */
export function minorToPlain(minor, currency) {
  const digits = exponent(currency);
  if (typeof minor === 'number' && !Number.isSafeInteger(minor)) {
    throw new RangeError('minor units must be an integer');
  }
  const text = String(BigInt(minor)); // BigInt() refuses '1.5', 'abc'
  const negative = text.startsWith('-');
  const abs = negative ? text.slice(1) : text;
  if (!digits) return text;
  const padded = abs.padStart(digits + 1, '0');
  const sign = negative ? '-' : '';
  return `${sign}${padded.slice(0, -digits)}.${padded.slice(-digits)}`;
}

function formatter(currency, locale, display, fraction) {
  return new Intl.NumberFormat(locale, {
    style: 'currency',
    currency,
    currencyDisplay: display,
    minimumFractionDigits: exponent(currency),
    maximumFractionDigits: Math.max(exponent(currency), fraction),
  });
}

/** A plain decimal in major units (a wire amount, "98500.00") for a person:
 *  formatAmount('98500.00', 'AZN', 'en') === 'AZN 98,500.00' (with a no-break space).
 *  Every digit is kept: a value with more decimals than the currency shows them all.
 *  `display` is Intl's currencyDisplay: 'code' (default: one spelling per currency,
 *  so an amount is never read in the wrong currency), 'symbol' or 'narrowSymbol'.
 *  Azerbaijani (any 'az' locale) reads the Azerbaijani way in every browser:
 *  '98 500,00 AZN' (azerbaijani below). */
export function formatAmount(plain, currency, locale, { display = 'code' } = {}) {
  if (typeof plain !== 'string' || !PLAIN_DECIMAL.test(plain) || plain.length > MAX_LENGTH) {
    throw new RangeError('not a plain decimal');
  }
  const fraction = plain.includes('.') ? plain.length - plain.indexOf('.') - 1 : 0;
  if (isAzerbaijani(locale)) return azerbaijani(plain, currency, display, fraction);
  // Intl reads a string as an exact decimal (no float in between).
  return formatter(currency, locale, display, fraction).format(plain);
}

/** No-break space: groups and the currency stay on one line with the digits. */
const NBSP = '\u00a0';

function isAzerbaijani(locale) {
  return /^az(-|$)/i.test(String(locale ?? ''));
}

/** An amount the Azerbaijani way, whatever this browser's locale data (Chromium has
 *  none for 'az' and would format it as English): groups of three digits split by
 *  no-break spaces, a decimal comma, the currency after, '98 500,00 AZN' or
 *  '98 500,00 ₼' (display 'symbol'/'narrowSymbol': the manat sign). Built from the
 *  digits of the string itself, never from a number. */
function azerbaijani(plain, currency, display, fraction) {
  const negative = plain.startsWith('-');
  const [whole, decimals = ''] = (negative ? plain.slice(1) : plain).split('.');
  const digits = Math.max(exponent(currency), fraction);
  const kept = decimals.padEnd(digits, '0');
  const trimmed = whole.replace(/^0+(?=[0-9])/, '');
  const grouped = trimmed.replace(/\B(?=([0-9]{3})+$)/g, NBSP);
  const number = kept ? `${grouped},${kept}` : grouped;
  return `${negative ? '-' : ''}${number}${NBSP}${currencyMark(currency, display)}`;
}

/** How Azerbaijani writes `currency` for `display`: its code, or its sign where it
 *  has one of its own (₼ for AZN; others as Intl's narrow symbol, else the code). */
function currencyMark(currency, display) {
  if (display === 'code') return currency;
  if (currency === 'AZN') return '₼';
  try {
    const parts = new Intl.NumberFormat('en', {
      style: 'currency',
      currency,
      currencyDisplay: display,
    }).formatToParts(1);
    return parts.find((p) => p.type === 'currency')?.value ?? currency;
  } catch {
    return currency;
  }
}

/** Minor units for a person: formatMinor(9850000, 'AZN', 'en') === 'AZN 98,500.00'. */
export function formatMinor(minor, currency, locale, options = {}) {
  return formatAmount(minorToPlain(minor, currency), currency, locale, options);
}

// ---------------------------------------------------------------------------- parsing

/** The locale's decimal and group separators, and whether it groups the Indian way
 *  (12,34,567), as Intl shows them. */
export function separators(locale) {
  // Azerbaijani as formatAmount writes it, whatever the browser's data.
  if (isAzerbaijani(locale)) return { decimal: ',', group: ' ', indian: false };
  const parts = new Intl.NumberFormat(locale, { useGrouping: true }).formatToParts(1234567.5);
  const of = (type) => (parts.find((p) => p.type === type)?.value ?? '').normalize('NFKC');
  const integers = parts.filter((p) => p.type === 'integer').map((p) => p.value);
  return {
    decimal: of('decimal') || '.',
    group: of('group'),
    indian: integers.length === 3 && integers[1].length === 2,
  };
}

function affixes(currency, locale) {
  const found = new Set([currency]);
  for (const display of ['symbol', 'narrowSymbol']) {
    try {
      const parts = new Intl.NumberFormat(locale, {
        style: 'currency',
        currency,
        currencyDisplay: display,
      }).formatToParts(1);
      const part = parts.find((p) => p.type === 'currency');
      if (part) found.add(part.value.normalize('NFKC').trim());
    } catch {
      // A currency Intl does not know has its code only.
    }
  }
  return [...found].filter(Boolean).sort((a, b) => b.length - a.length);
}

function refuse(key, params = {}) {
  return { ok: false, key, params };
}

function stripCurrency(text, currency, locale) {
  const upper = text.toUpperCase();
  for (const affix of affixes(currency, locale)) {
    const wanted = affix.toUpperCase();
    if (upper.startsWith(wanted)) return text.slice(affix.length).trim();
    if (upper.endsWith(wanted)) return text.slice(0, text.length - affix.length).trim();
  }
  return text;
}

function validGroups(runs, indian) {
  if (runs.length === 1) return true;
  const [first, ...rest] = runs;
  if (first.startsWith('0') || first.length > 3) return false;
  const last = rest.at(-1);
  if (rest.slice(0, -1).every((run) => run.length === 3) && last.length === 3) return true;
  // 12,34,567: the last group has three digits, the ones before it two.
  const twos = rest.slice(0, -1).every((run) => run.length === 2);
  return indian && first.length <= 2 && last.length === 3 && twos;
}

/** What a person typed, read as an amount of `currency` in major units.
 *
 *  Answers {ok: true, value} with `value` a plain decimal with exactly the currency's
 *  decimals ('98500.00'; '98500' for JPY), which contracts.decimal.parse_plain reads
 *  as the same amount; or {ok: false, key, params}: a catalog key (money.*) saying why
 *  not. Accepted: spaces, '.', ',' or an apostrophe between groups of three digits
 *  (two then three where the locale groups so), one decimal separator ('.' or ','),
 *  the currency's code or symbol before or after. A single '.' or ',' followed by
 *  exactly three digits may group or may be a decimal point: it is read by the locale's
 *  group separator, else refused as ambiguous (money.ambiguous with both readings).
 *  O(length of the text). */
export function parseAmount(text, currency, locale) {
  const digits = exponent(currency);
  if (typeof text !== 'string') return refuse('money.empty');
  let s = text.normalize('NFKC').replace(/\u2212/g, '-').replace(/\s+/g, ' ').trim();
  if (!s) return refuse('money.empty');
  if (s.length > 2 * MAX_LENGTH) return refuse('money.too_long');
  s = stripCurrency(s, currency, locale);
  if (!s) return refuse('money.empty');
  const other = s.match(/^([A-Za-z]{3})\b|\b([A-Za-z]{3})$/);
  if (other) {
    const code = (other[1] || other[2]).toUpperCase();
    if (code !== currency && CURRENCIES[code] !== undefined) {
      return refuse('money.wrong_currency', { currency });
    }
  }
  if (s.startsWith('-')) return refuse('money.negative');
  if (!/^[0-9]+([ .,'\u2019][0-9]+)*$/.test(s)) return refuse('money.not_a_number');
  const runs = s.split(/[ .,'\u2019]/);
  const seps = [...s.matchAll(/[ .,'\u2019]/g)].map((m) => m[0]);
  const locals = separators(locale);
  let integers = runs;
  let fraction = '';
  const last = seps.at(-1);
  if (last === '.' || last === ',') {
    const once = seps.indexOf(last) === seps.length - 1;
    let decimal = once && seps.length > 1;
    if (once && seps.length === 1) {
      const [whole, after] = runs;
      if (after.length !== 3 || whole.startsWith('0') || whole.length > 3) {
        decimal = true;
      } else if (last === locals.group) {
        decimal = false;
      } else if (last === locals.decimal && digits >= 3) {
        decimal = true;
      } else {
        return refuse('money.ambiguous', {
          grouped: `${whole}${after}`,
          decimal: `${whole}.${after}`,
        });
      }
    }
    if (decimal) {
      integers = runs.slice(0, -1);
      fraction = runs.at(-1);
    }
  }
  const groupSeps = new Set(seps.slice(0, integers.length - 1));
  if (groupSeps.size > 1 || !validGroups(integers, locals.indian)) {
    return refuse('money.grouping');
  }
  if (fraction.length > digits) {
    if (/[^0]/.test(fraction.slice(digits))) {
      return digits
        ? refuse('money.too_many_decimals', { currency, digits })
        : refuse('money.no_decimals', { currency });
    }
    fraction = fraction.slice(0, digits);
  }
  const whole = integers.join('').replace(/^0+(?=[0-9])/, '');
  const value = digits ? `${whole}.${fraction.padEnd(digits, '0')}` : whole;
  if (!/[1-9]/.test(value)) return refuse('money.zero');
  if (value.length > MAX_LENGTH) return refuse('money.too_long');
  return { ok: true, value };
}
