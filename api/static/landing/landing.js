// The landing page (/): what this server is, its live and upcoming auctions, and the way
// in for each audience. Every word comes from the supplier application's catalog
// (/app/i18n/<lang>.json) through /app/i18n.js; times are shown in the visitor's zone
// through /app/time.js and count down on the server's clock (the list's server_time),
// never the browser's. Nodes are built with textContent: no markup from data.
//
// The list is GET /api/v1/public/auctions (no token): id, format, phase, currency,
// starts_at, ends_at, next_deadline, nothing more. Each auction links to its public view
// on the supplier's page (/app/#/public/<id>). It is fetched again every 30 s and
// when a shown deadline passes (an auction starts or ends by itself).

import * as i18n from '/app/i18n.js';
import { ServerClock, formatCountdown, formatDateTime, zoneLabel } from '/app/time.js';

const LIST_URL = '/api/v1/public/auctions';
const REFRESH_MS = 30_000;
const clock = new ServerClock();
let answer = null; // the last list, or null before the first (or after a failure)
let failed = false;
let refreshTimer = null;
let fetching = false;
let quickPending = false; // a quick look is scheduled

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function locale() {
  return i18n.formatLocale();
}

function timeNode(us) {
  const node = el('time', 'when', formatDateTime(us, locale()));
  node.dateTime = new Date(Math.floor(Number(us) / 1000)).toISOString();
  node.title = zoneLabel(us, locale());
  return node;
}

function row(label, value) {
  const wrap = el('div', 'fact');
  wrap.append(el('dt', null, label));
  const dd = el('dd');
  dd.append(value);
  wrap.append(dd);
  return wrap;
}

// The countdown an entry shows: to its start while scheduled, to its close while
// running, else to its next deadline (a multi-round turn); null when it has none.
function countdownOf(entry) {
  if (entry.phase === 'scheduled') return { key: 'ui.starts_in', at: entry.starts_at };
  if (entry.ends_at !== null) return { key: 'ui.ends_in', at: entry.ends_at };
  if (entry.next_deadline !== null) return { key: 'ui.next_deadline', at: entry.next_deadline };
  return null;
}

function card(entry) {
  const item = el('li', `auction phase-${entry.phase}`);
  item.dataset.auction = entry.id;
  item.dataset.phase = entry.phase;
  const head = el('div', 'auction-head');
  head.append(el('h3', 'auction-format', i18n.t(`format.${entry.format}`)));
  head.append(el('span', `badge badge-${entry.phase}`, i18n.t(`phase.${entry.phase}`)));
  item.append(head);

  const count = countdownOf(entry);
  if (count) {
    const clockLine = el('p', 'auction-clock');
    clockLine.append(el('span', 'clock-label', i18n.t(count.key)));
    const value = el('span', 'countdown');
    value.dataset.at = String(count.at);
    clockLine.append(value);
    item.append(clockLine);
  }

  const facts = el('dl', 'auction-facts');
  facts.append(row(i18n.t('landing.starts'), timeNode(entry.starts_at)));
  if (entry.ends_at !== null) facts.append(row(i18n.t('landing.ends'), timeNode(entry.ends_at)));
  facts.append(row(i18n.t('landing.currency'), el('span', 'currency', entry.currency)));
  item.append(facts);
  item.append(el('p', 'auction-id', i18n.t('landing.auction_id', { id: entry.id })));
  // Its public view on the supplier's page: live, read-only, no token.
  const watch = el('a', 'auction-watch', i18n.t('public.watch'));
  watch.href = `/app/#/public/${encodeURIComponent(entry.id)}`;
  watch.setAttribute('aria-label', `${i18n.t('public.watch')}: ${i18n.t('landing.auction_id', { id: entry.id })}`);
  item.append(watch);
  return item;
}

// A deadline that passed gets a few quick looks (1 s, then 2 s, then 4 s apart: the
// server may take a moment to move on), then only the 30 s refresh: a server that has
// not moved on is not asked every second.
const QUICK_LOOKS_MS = [1000, 2000, 4000];
const looked = new Map(); // deadline (µs, as text) -> quick looks asked for it

function tick() {
  let soon = null;
  for (const node of document.querySelectorAll('.countdown[data-at]')) {
    const left = clock.untilUs(node.dataset.at);
    if (left === null) continue;
    node.textContent = formatCountdown(left);
    const count = looked.get(node.dataset.at) ?? 0;
    if (left <= 0 && count < QUICK_LOOKS_MS.length && !fetching && !quickPending) {
      looked.set(node.dataset.at, count + 1);
      soon = Math.min(soon ?? Infinity, QUICK_LOOKS_MS[count]);
    }
  }
  if (soon !== null) {
    quickPending = true;
    schedule(soon); // it started or ended by itself: ask again soon
  }
}

// A paragraph whose data-code names a command: the command set as code, inside the
// catalog's sentence (its {command} placeholder), as nodes, never markup.
function setCommands() {
  for (const node of document.querySelectorAll('[data-code]')) {
    const mark = '\u0000';
    const [before, after = ''] = i18n.t(node.dataset.i18n, { command: mark }).split(mark);
    node.replaceChildren(before, el('code', null, node.dataset.code), after);
  }
}

function render() {
  const main = document.getElementById('main');
  const list = document.getElementById('auctions');
  const status = document.getElementById('list-status');
  const zone = document.getElementById('zone');
  i18n.translate();
  setCommands();
  list.replaceChildren();
  zone.textContent = '';
  if (answer === null) {
    status.textContent = failed ? i18n.t('landing.unavailable') : i18n.t('ui.loading');
    status.classList.toggle('status-error', failed);
    status.classList.remove('status-empty');
    status.hidden = false;
    main.dataset.state = failed ? 'error' : 'loading';
    return;
  }
  status.classList.remove('status-error');
  const entries = answer.auctions;
  status.classList.toggle('status-empty', entries.length === 0);
  if (entries.length === 0) {
    status.textContent = i18n.t('landing.none');
  } else if (answer.more) {
    status.textContent = i18n.t('landing.more', { count: entries.length });
  } else {
    status.textContent = '';
  }
  status.hidden = status.textContent === '';
  list.append(...entries.map(card));
  if (entries.length) {
    zone.textContent = i18n.t('ui.time_zone', { zone: zoneLabel(answer.server_time, locale()) });
  }
  main.dataset.state = 'ready';
  main.dataset.count = String(entries.length);
  tick();
}

function schedule(ms) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(load, ms);
}

async function load() {
  if (fetching) return;
  fetching = true;
  quickPending = false;
  try {
    const response = await fetch(LIST_URL, { credentials: 'omit', cache: 'no-store' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = await response.json();
    clock.observe(body.server_time);
    answer = body;
    failed = false;
  } catch {
    // Keep what was shown; say so only when there was nothing to show.
    failed = answer === null;
  } finally {
    fetching = false;
  }
  render();
  schedule(REFRESH_MS);
}

function showLanguage(lang) {
  for (const button of document.querySelectorAll('.lang-button')) {
    const on = button.dataset.lang === lang;
    button.setAttribute('aria-pressed', String(on));
    button.title = i18n.LANGUAGES[button.dataset.lang];
  }
}

async function start() {
  const lang = await i18n.init();
  showLanguage(lang);
  i18n.onChange((chosen) => {
    showLanguage(chosen);
    render();
  });
  for (const button of document.querySelectorAll('.lang-button')) {
    button.addEventListener('click', () => i18n.setLanguage(button.dataset.lang));
  }
  render();
  setInterval(tick, 1000);
  await load();
}

start();
