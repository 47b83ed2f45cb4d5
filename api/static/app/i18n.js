// The one message catalog of the supplier's pages: every word a person reads comes
// from i18n/<lang>.json through t(key, params).
//
// Languages: English and Azerbaijani. The language is the one the user chose on the
// page (kept in localStorage), else the first of the browser's languages we have
// (navigator.languages: 'az', 'az-AZ', 'az-Latn-AZ' -> az), else English. Keys are
// flat ('code.out_of_turn', 'ui.place_bid'); values may hold {name} placeholders,
// filled from params. A key missing from the chosen language falls back to English,
// then to the key itself, so a page never shows 'undefined'.
//
// Call order: await init() once, then t(); setLanguage() switches (and notifies the
// listeners given to onChange).

/** The languages shipped, each named in itself (for the switch). */
export const LANGUAGES = Object.freeze({ en: 'English', az: 'Azərbaycanca' });
export const DEFAULT_LANGUAGE = 'en';
/** Where the user's choice is kept. */
export const STORAGE_KEY = 'gavel.lang';

const catalogs = new Map(); // lang -> { key: template }
const listeners = new Set();
let current = DEFAULT_LANGUAGE;

function storage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage disabled: the choice lasts for this page only
  }
}

function primary(tag) {
  return String(tag).toLowerCase().split(/[-_]/)[0];
}

/** The language to show: `stored` if it is one we ship, else the first of `languages`
 *  we ship (by primary subtag), else English. Pure. */
export function pickLanguage(languages = [], stored = null) {
  if (stored && Object.hasOwn(LANGUAGES, stored)) return stored;
  for (const tag of languages) {
    const lang = primary(tag);
    if (Object.hasOwn(LANGUAGES, lang)) return lang;
  }
  return DEFAULT_LANGUAGE;
}

function browserLanguages() {
  const nav = globalThis.navigator;
  if (!nav) return [];
  return nav.languages?.length ? [...nav.languages] : [nav.language].filter(Boolean);
}

/** `template` with each {name} replaced by params[name]; a placeholder without a
 *  parameter stays as written (visible in a test, harmless to a reader). Pure. */
export function interpolate(template, params = {}) {
  return template.replace(/\{([A-Za-z0-9_]+)\}/g, (whole, name) =>
    Object.hasOwn(params, name) ? String(params[name]) : whole,
  );
}

/** Fetch and keep the catalog of `lang` (once). */
export async function loadCatalog(lang) {
  if (!Object.hasOwn(LANGUAGES, lang)) throw new RangeError(`no catalog for ${lang}`);
  if (!catalogs.has(lang)) {
    const url = new URL(`./i18n/${lang}.json`, import.meta.url);
    const response = await fetch(url, { credentials: 'same-origin' });
    if (!response.ok) throw new Error(`catalog ${lang}: HTTP ${response.status}`);
    catalogs.set(lang, Object.freeze(await response.json()));
  }
  return catalogs.get(lang);
}

/** Choose the language (the stored choice, else the browser's), load its catalog and
 *  English (the fallback), set <html lang>. Returns the language: English if the
 *  chosen catalog could not be loaded (a page in English beats no page). */
export async function init({ languages = browserLanguages() } = {}) {
  let lang = pickLanguage(languages, storage()?.getItem(STORAGE_KEY));
  await loadCatalog(DEFAULT_LANGUAGE);
  try {
    await loadCatalog(lang);
  } catch {
    lang = DEFAULT_LANGUAGE;
  }
  apply(lang);
  return lang;
}

function apply(lang) {
  current = lang;
  if (globalThis.document) document.documentElement.lang = lang;
  for (const listener of listeners) listener(lang);
}

/** Switch to `lang`, remember the choice, and tell the listeners. */
export async function setLanguage(lang) {
  await loadCatalog(lang);
  storage()?.setItem(STORAGE_KEY, lang);
  apply(lang);
}

/** The language shown now. */
export function language() {
  return current;
}

/** Call `listener(lang)` after every switch; returns a function that stops it. */
export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Whether the catalog (of the current language, or English) has `key`. */
export function has(key) {
  return [current, DEFAULT_LANGUAGE].some((lang) => Object.hasOwn(catalogs.get(lang) ?? {}, key));
}

/** The text of `key` in the current language with `params` filled in. */
export function t(key, params = {}) {
  for (const lang of [current, DEFAULT_LANGUAGE]) {
    const catalog = catalogs.get(lang);
    if (catalog && Object.hasOwn(catalog, key)) return interpolate(catalog[key], params);
  }
  return key;
}

// data-i18n-<attribute> names the key of an attribute's text.
const ATTRIBUTES = ['title', 'placeholder', 'aria-label', 'alt'];

/** Put the current language's text into every element under `root` that names a key:
 *  data-i18n="key" for its text, data-i18n-title (-placeholder, -aria-label, -alt) for
 *  that attribute; data-i18n-params holds the placeholders' values as JSON. Text goes
 *  in as text (textContent), never as markup. Call after init() and from onChange(). */
export function translate(root = globalThis.document) {
  const selector = ['[data-i18n]', ...ATTRIBUTES.map((a) => `[data-i18n-${a}]`)].join(',');
  for (const element of root.querySelectorAll(selector)) {
    let params = {};
    try {
      params = JSON.parse(element.dataset.i18nParams ?? '{}');
    } catch {
      // Bad parameters leave the placeholders showing, never break the page.
    }
    if (element.hasAttribute('data-i18n')) {
      element.textContent = t(element.getAttribute('data-i18n'), params);
    }
    for (const attribute of ATTRIBUTES) {
      const key = element.getAttribute(`data-i18n-${attribute}`);
      if (key) element.setAttribute(attribute, t(key, params));
    }
  }
}

/** A refusal's machine code (an engine reason, a problem code, a websocket error
 *  frame's code) in plain words. */
export function codeText(code) {
  const key = `code.${code}`;
  return has(key) ? t(key) : t('code.unknown', { code });
}

/** A websocket close code (a CloseEvent's code) in plain words. */
export function closeText(closeCode) {
  const key = `close.${closeCode}`;
  return has(key) ? t(key) : t('close.unknown', { code: closeCode });
}

// Numbers and dates in Azerbaijani: some browsers (Chromium among them) ship no
// Azerbaijani formatting data and format 'az' as English. Turkish writes numbers and
// numeric dates as Azerbaijani does (1.234,56; 07.12.2026; 24-hour clock), so it stands
// in, for numeric formats only (money.js and time.js never spell a month).
const FORMAT_FALLBACK = { az: 'tr' };

function formatsAsItself(lang) {
  // Azerbaijani groups with '.' and marks decimals with ','.
  const probe = { az: '1.234,5' }[lang];
  return !probe || new Intl.NumberFormat(lang).format(1234.5) === probe;
}

/** The locale to hand Intl for numbers and times in `lang`: the first of the browser's
 *  languages in `lang` (so en-GB keeps its own date order), else `lang` itself, or its
 *  stand-in where this browser cannot format `lang`. */
export function formatLocale(lang = current, languages = browserLanguages()) {
  if (!formatsAsItself(lang)) return FORMAT_FALLBACK[lang];
  const own = languages.find((tag) => primary(tag) === lang);
  try {
    return own ? Intl.getCanonicalLocales(own)[0] : lang;
  } catch {
    return lang;
  }
}

/** The locale to hand money.js for amounts in `lang`: formatLocale's, except that
 *  Azerbaijani stays Azerbaijani (the browser's own az tag, else 'az'), because money.js
 *  writes Azerbaijani amounts itself ('98 500,00 AZN': space-grouped, decimal comma),
 *  the same in every browser, where Turkish, the stand-in for dates, groups with '.'. */
export function moneyLocale(lang = current, languages = browserLanguages()) {
  if (lang !== 'az') return formatLocale(lang, languages);
  const own = languages.find((tag) => primary(tag) === lang);
  try {
    return own ? Intl.getCanonicalLocales(own)[0] : lang;
  } catch {
    return lang;
  }
}
