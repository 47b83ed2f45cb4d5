// The supplier's page: sign in with an invitation link, then follow and bid in the
// bound auction over the live websocket: English and reverse (bids), Dutch (the clock's
// price, accepted at the price shown) and sealed (place, replace, withdraw; nothing of
// others before the close); when it ends, the engine's result as the server tells it.
//
// Sign-in: /app/#invite=<code> is read once, the fragment dropped from the address bar
// (history.replaceState) and the code exchanged at POST /api/v1/invitations/redeem for
// the bidder's token, kept in this tab's sessionStorage only. "Sign out" revokes it
// (POST /api/v1/tokens/<jti>/revoke) and forgets it.
//
// Live view: one websocket (docs/protocol.md), every frame checked against the served
// contract (contract.js). Events are folded in seq order; a reconnect (with back-off and
// jitter, at once when the browser is back online) subscribes with since = the last seq
// folded, so no event is missed or folded twice. A request still unanswered when the
// connection drops is shown "not confirmed" and never re-sent; if its bid later shows
// up in the log as ours, it reads "found in the record".

import { html, render } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { loadContract } from './contract.js';
import * as i18n from './i18n.js';
import { codeText, closeText, formatLocale, t } from './i18n.js';
import { formatMinor, minorToPlain, parseAmount } from './money.js';
import { nextValidBid as engineNext } from './rules.js';
import { ServerClock, formatCountdown, formatTime, zoneLabel } from './time.js';

const SESSION_KEY = 'gavel.session';
/** How far from the best offer a bid may be before the page asks to confirm it. */
const FAR_FRACTION = 0.2;
const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];
/** Without any frame for this long the connection is taken as dead (heartbeats come
 *  every GAVEL_HEARTBEAT_S, 5 s by default; the wait adapts to the gap seen). */
const DEFAULT_SILENCE_MS = 15000;
/** Reasons whose refusal is followed by the bid that would have been accepted. */
const BOUND_REASONS = new Set([
  'insufficient_improvement',
  'below_start_price',
  'above_start_price',
]);

// ------------------------------------------------------------------ session (this tab)

function loadSession() {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    const session = raw ? JSON.parse(raw) : null;
    return session && typeof session.token === 'string' ? session : null;
  } catch {
    return null;
  }
}

function saveSession(session) {
  try {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  } catch {
    // Storage refused: the session lasts as long as this page.
  }
}

function forgetSession() {
  try {
    sessionStorage.removeItem(SESSION_KEY);
  } catch {
    // Nothing kept.
  }
}

/** The invitation code in the address's fragment, dropped from the address at once. */
function takeInvitation() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const code = params.get('invite');
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  return code || null;
}

async function problemCode(response) {
  try {
    const body = await response.json();
    return typeof body?.code === 'string' ? body.code : null;
  } catch {
    return null;
  }
}

async function redeem(code) {
  let response;
  try {
    response = await fetch('/api/v1/invitations/redeem', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ code }),
      credentials: 'same-origin',
    });
  } catch {
    return { problem: 'failed' };
  }
  if (!response.ok) return { problem: (await problemCode(response)) ?? 'failed' };
  const body = await response.json();
  return {
    session: {
      token: body.token,
      jti: body.jti,
      auction: body.auction_id,
      party: body.party,
      expires_at: body.expires_at,
    },
  };
}

async function revoke(session) {
  try {
    await fetch(`/api/v1/tokens/${encodeURIComponent(session.jti)}/revoke`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${session.token}` },
      credentials: 'same-origin',
      signal: AbortSignal.timeout(5000),
    });
  } catch {
    // Offline: the token is forgotten here all the same and expires by itself.
  }
}

// ------------------------------------------------------------------ the live state

/** The least valid bid now (rules.js), minor units as a BigInt, or null. */
function nextValidBid(state) {
  return engineNext(state.rules, state.format, state.best?.price ?? null, state.mine);
}

function labelText(label) {
  const number = /([0-9]+)$/.exec(label ?? '');
  return number ? t('ui.bidder_label', { number: number[1] }) : String(label ?? '');
}

function formatName(rulesType) {
  return (
    {
      EnglishRules: 'english',
      ReverseRules: 'reverse',
      DutchRules: 'dutch',
      SealedRules: 'sealed',
    }[rulesType] ?? 'other'
  );
}

/** The auction as its events tell it, and this page's requests. */
function emptyState() {
  return {
    conn: 'connecting',
    retryAt: null,
    fatal: null,
    you: null,
    lastSeq: 0,
    received: 0,
    duplicates: 0,
    gaps: 0,
    rules: null,
    format: null,
    phase: 'new',
    endsAt: null,
    extension: null,
    offers: new Map(), // label -> {price, seq, you}
    best: null,
    mine: null,
    requests: [], // {id, amount (plain), minor, at, status, reason}
    lastAnswer: null,
    result: null, // the AuctionEnded event as shown to me: {outcome, winners, price, ranking}
    clockPrice: null, // Dutch: the price on the clock (minor units) and when it moves next
    nextAt: null,
  };
}

function ranking(state) {
  // Once ended, the ranking is the engine's final one (it also names sealed bids).
  if (state.result) {
    return state.result.ranking.map((line) => ({
      label: line.label,
      price: line.price,
      seq: line.rank,
      you: state.you !== null && line.label === state.you,
    }));
  }
  const sale =
    state.format === 'english' ||
    ((state.format === 'dutch' || state.format === 'sealed') && state.rules?.side === 'sale');
  return [...state.offers.entries()]
    .map(([label, offer]) => ({ label, ...offer }))
    .sort((a, b) => {
      const pa = BigInt(a.price);
      const pb = BigInt(b.price);
      if (pa !== pb) return (sale ? pb > pa : pa > pb) ? 1 : -1;
      return a.seq - b.seq;
    });
}

function fold(state, event) {
  switch (event.type) {
    case 'AuctionCreated':
      state.rules = event.rules;
      state.format = formatName(event.rules?.type);
      state.endsAt = event.rules?.ends_at ?? null;
      state.phase = 'scheduled';
      break;
    case 'AuctionStarted':
      state.phase = 'running';
      if (event.ends_at !== null && event.ends_at !== undefined) state.endsAt = event.ends_at;
      break;
    case 'PriceChanged':
      state.clockPrice = event.price;
      state.nextAt = event.next_at ?? null;
      break;
    case 'EndExtended':
      state.extension = { from: state.endsAt, to: event.ends_at, at: event.at };
      state.endsAt = event.ends_at;
      break;
    case 'BidAccepted':
      state.offers.set(event.bidder, { price: event.price, seq: event.seq, you: !!event.you });
      if (event.you) {
        state.mine = event.price;
        for (const request of state.requests) {
          if (
            (request.status === 'not_confirmed' || request.status === 'unknown') &&
            String(request.minor) === String(event.price)
          ) {
            request.status = 'found';
          }
        }
      }
      break;
    case 'BidWithdrawn':
    case 'BidderDisqualified':
      if (state.offers.get(event.bidder)?.you) state.mine = null;
      state.offers.delete(event.bidder);
      break;
    case 'AuctionEnded':
      state.phase = 'ended';
      state.result = {
        outcome: event.outcome,
        winners: event.winners ?? [],
        price: event.price ?? null,
        ranking: (event.ranking ?? [])
          .map((line) => ({ rank: line.rank, label: line.bidder, price: line.price }))
          .sort((a, b) => a.rank - b.rank),
      };
      break;
    default:
      break;
  }
  const [first] = ranking(state);
  state.best = first ?? null;
}

/** One connection to the auction, reconnecting by itself; `onChange` after each change. */
class LiveAuction {
  constructor(session, contract, onChange) {
    this.session = session;
    this.contract = contract;
    this.onChange = onChange;
    this.state = emptyState();
    this.clock = new ServerClock();
    this.ws = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.watchdog = null;
    this.lastFrameAt = 0;
    this.heartbeatGap = null;
    this.lastHeartbeatAt = null;
    this.counter = 0;
    this.stopped = false;
    this.pending = new Map(); // request_id -> request
    this.onOnline = () => this.connect();
    this.onOffline = () => this.drop('offline');
  }

  start() {
    addEventListener('online', this.onOnline);
    addEventListener('offline', this.onOffline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    removeEventListener('online', this.onOnline);
    removeEventListener('offline', this.onOffline);
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
  }

  changed() {
    this.onChange(this.state);
  }

  connect() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    if (navigator.onLine === false) {
      this.state.conn = 'offline';
      this.changed();
      return;
    }
    this.state.conn = this.attempt ? 'reconnecting' : 'connecting';
    this.state.retryAt = null;
    this.changed();
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${scheme}//${location.host}/ws/v1/auctions/${encodeURIComponent(this.session.auction)}`;
    let ws;
    try {
      ws = new WebSocket(url, ['gavel.v1', `gavel.bearer.${this.session.token}`]);
    } catch {
      this.schedule();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this.lastFrameAt = performance.now();
      ws.send(JSON.stringify(this.contract.message('subscribe', { since: this.state.lastSeq })));
      clearInterval(this.watchdog);
      this.watchdog = setInterval(() => this.checkSilence(ws), 1000);
    };
    ws.onmessage = (message) => {
      if (ws !== this.ws) return;
      this.lastFrameAt = performance.now();
      let frame;
      try {
        frame = this.contract.read(message.data);
      } catch {
        return; // not a frame of the contract: nothing to fold, nothing shown
      }
      this.receive(frame);
    };
    ws.onclose = (event) => {
      if (ws !== this.ws) return;
      this.drop(event.code);
    };
  }

  checkSilence(ws) {
    if (ws !== this.ws) return;
    const limit = this.heartbeatGap ? Math.max(2000, this.heartbeatGap * 3) : DEFAULT_SILENCE_MS;
    if (performance.now() - this.lastFrameAt > limit) this.drop(1006);
  }

  /** The connection is gone (a close code, or 'offline'): unanswered requests are not
   *  confirmed, never re-sent; reconnect unless the close says not to. */
  drop(reason) {
    const ws = this.ws;
    this.ws = null;
    clearInterval(this.watchdog);
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      try {
        ws.close();
      } catch {
        // already closing
      }
    }
    for (const request of this.pending.values()) request.status = 'not_confirmed';
    this.pending.clear();
    if (this.stopped) return;
    if (reason === 4401 || reason === 4400 || reason === 4403) {
      this.state.fatal = reason;
      this.state.conn = 'offline';
      this.stopped = true;
      this.changed();
      return;
    }
    if (reason === 'offline' || navigator.onLine === false) {
      this.state.conn = 'offline';
      this.changed();
      return;
    }
    this.schedule();
  }

  schedule() {
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    const delay = Math.round(base * (0.5 + Math.random() * 0.5));
    this.attempt += 1;
    this.state.conn = 'reconnecting';
    this.state.retryAt = performance.now() + delay;
    this.changed();
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  receive(frame) {
    const state = this.state;
    // A new connection may reach another server: its clock is learnt afresh from its
    // welcome on (the countdown keeps the last estimate meanwhile, never 0:00).
    if (frame.type === 'welcome') this.clock.reset();
    this.clock.observe(frame.server_time);
    switch (frame.type) {
      case 'welcome':
        state.you = frame.you ?? null;
        state.conn = 'live';
        this.attempt = 0;
        break;
      case 'event':
        if (frame.seq <= state.lastSeq) {
          state.duplicates += 1;
          return;
        }
        if (frame.seq !== state.lastSeq + 1) state.gaps += 1;
        state.lastSeq = frame.seq;
        state.received += 1;
        fold(state, frame.event);
        break;
      case 'ack':
        this.answer(frame.request_id, 'confirmed');
        break;
      case 'reject':
        this.answer(frame.request_id, 'refused', frame.code);
        break;
      case 'outcome_unknown':
        this.answer(frame.request_id, 'unknown');
        break;
      case 'heartbeat': {
        const now = performance.now();
        if (this.lastHeartbeatAt !== null) this.heartbeatGap = now - this.lastHeartbeatAt;
        this.lastHeartbeatAt = now;
        break;
      }
      default:
        break;
    }
    this.changed();
  }

  answer(requestId, status, code = null) {
    const request = this.pending.get(requestId);
    if (!request) return;
    this.pending.delete(requestId);
    request.status = status;
    if (code) {
      request.code = code;
      const next = BOUND_REASONS.has(code) ? nextValidBid(this.state) : null;
      request.bound = next === null ? null : String(next);
    }
    this.state.lastAnswer = request;
  }

  /** Send a bid of `plain` (major units); false when there is no connection. */
  bid(plain) {
    return this.send('bid', 'amount', plain);
  }

  /** Accept the Dutch clock's price `plain` (major units, the price shown): the server
   *  refuses it (stale_price) if the clock has moved on. */
  accept(plain) {
    return this.send('accept', 'expected', plain);
  }

  /** Withdraw my sealed bid. */
  withdraw() {
    return this.send('withdraw', null, null);
  }

  send(type, member, plain) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || this.state.conn !== 'live') return false;
    this.counter += 1;
    const id = `r-${Date.now().toString(36)}-${this.counter}`;
    const currency = this.state.rules.currency;
    const fields = member ? { request_id: id, [member]: plain, currency } : { request_id: id };
    const frame = this.contract.message(type, fields);
    const request = {
      id,
      kind: type,
      amount: plain ?? '',
      minor: plain === null ? null : plainToMinor(plain),
      at: this.clock.nowUs(),
      status: 'sending',
      code: null,
      bound: null,
    };
    this.state.requests.unshift(request);
    this.pending.set(id, request);
    this.state.lastAnswer = request;
    ws.send(JSON.stringify(frame));
    this.changed();
    return true;
  }
}

function plainToMinor(plain) {
  return BigInt(plain.replace('.', '')).toString();
}

// ------------------------------------------------------------------ components

function money(minor, currency) {
  return formatMinor(minor, currency, formatLocale());
}

function LanguageSwitch() {
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

function Notice({ title, text, action }) {
  return html`<main class="notice" id="notice">
    <h1>${title}</h1>
    <p id="notice-text">${text}</p>
    ${action ?? null}
    <${LanguageSwitch} />
  </main>`;
}

function Connection({ state }) {
  return html`<span class=${`conn ${state.conn}`} id="connection" data-state=${state.conn}>
    <span class="dot" aria-hidden="true"></span>
    <span>${t(`connection.${state.conn}`)}</span>
  </span>`;
}

function Banner({ state, now }) {
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

function Clock({ state, clock }) {
  const locale = formatLocale();
  let label = t('phase.new');
  let value = '';
  let soft = false;
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
    label = t('ui.time_left');
    value = t('phase.ended');
  }
  const endTitle =
    state.endsAt !== null ? `${formatTime(state.endsAt, locale)} ${zoneLabel(state.endsAt, locale)}` : '';
  return html`<div>
    <h2>${label}</h2>
    <p class=${`clock num${soft ? ' soft' : ''}`} id="clock" title=${endTitle} role="timer">
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

function Figures({ state }) {
  const currency = state.rules?.currency;
  const rows = ranking(state);
  const myIndex = rows.findIndex((row) => row.you);
  const bestRef = useRef(null);
  const bestKey = state.best ? `${state.best.label}:${state.best.price}` : '';
  useEffect(() => {
    const node = bestRef.current;
    if (!node || !bestKey) return;
    node.classList.remove('moved');
    void node.offsetWidth; // restart the highlight
    node.classList.add('moved');
  }, [bestKey]);
  if (state.format === 'sealed' && !state.result) {
    return html`<dl class="figures">
      <dt>${t('sealed.my_bid')}</dt>
      <dd class="num" id="mine">
        ${state.mine !== null ? money(state.mine, currency) : t('ui.no_offer')}
      </dd>
    </dl>`;
  }
  const bestText = state.best
    ? `${money(state.best.price, currency)}${state.best.you ? ` (${t('ui.you')})` : ''}`
    : t('ui.no_offer');
  return html`<dl class="figures">
    <dt>${t('ui.best_offer')}</dt>
    <dd class="best num" id="best" ref=${bestRef}>${bestText}</dd>
    <dt>${t('ui.my_offer')}</dt>
    <dd class="num" id="mine">
      ${state.mine !== null ? money(state.mine, currency) : t('ui.no_offer')}
    </dd>
    <dt>${t('ui.my_rank')}</dt>
    <dd class="num" id="rank" data-rank=${myIndex >= 0 ? myIndex + 1 : ''}>
      ${myIndex >= 0 ? t('ui.rank_of', { rank: myIndex + 1, count: rows.length }) : t('ui.no_offer')}
    </dd>
  </dl>`;
}

function BidForm({ state, live }) {
  const currency = state.rules?.currency;
  const next = nextValidBid(state);
  const nextPlain = next === null || !currency ? '' : minorToPlain(next, currency);
  const [text, setText] = useState('');
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState(null);
  const [confirming, setConfirming] = useState(null);
  const input = useRef(null);
  const locale = formatLocale();
  // Pre-fill the least valid bid until the person types their own.
  const shown = touched ? text : nextPlain ? formatInput(nextPlain, currency, locale) : '';
  const open = state.phase === 'running' && state.conn === 'live';

  const cancelRef = useRef(null);
  // The typo guard takes the focus (on Cancel: a second Enter must not place a far bid);
  // leaving it gives the focus back to the amount.
  useEffect(() => {
    if (confirming) cancelRef.current?.focus();
  }, [confirming]);

  function place(plain) {
    if (live.bid(plain)) {
      setTouched(false);
      setText('');
      setConfirming(null);
      input.current?.focus();
    }
  }

  function cancel() {
    setConfirming(null);
    input.current?.focus();
  }

  function submit(event) {
    event.preventDefault();
    if (!currency) return;
    const read = parseAmount(shown, currency, locale);
    if (!read.ok) {
      setError({ key: read.key, params: read.params });
      return;
    }
    setError(null);
    if (state.best && state.format !== 'sealed') {
      const best = Number(BigInt(state.best.price));
      const amount = Number(BigInt(plainToMinor(read.value)));
      const away = Math.abs(amount - best) / best;
      if (away > FAR_FRACTION) {
        setConfirming({ plain: read.value, percent: Math.round(away * 100) });
        return;
      }
    }
    place(read.value);
  }

  const bound =
    next === null
      ? null
      : t(state.format === 'english' ? 'ui.lowest_valid_bid' : 'ui.highest_valid_bid', {
          amount: money(next, currency),
        });
  return html`<form class="bid" id="bid-form" onSubmit=${submit} novalidate>
    <label for="amount">${t('ui.amount')}</label>
    <div class="amount-row">
      <input
        id="amount"
        ref=${input}
        inputmode="decimal"
        autocomplete="off"
        value=${shown}
        aria-describedby="bound amount-error"
        aria-invalid=${error ? 'true' : 'false'}
        onInput=${(e) => {
          setTouched(true);
          setText(e.currentTarget.value);
          setError(null);
          setConfirming(null);
        }}
      />
      <span class="unit">${currency ?? ''}</span>
    </div>
    <p class="hint num" id="bound">${bound ?? ''}</p>
    <p class="field-error" id="amount-error" role="alert">
      ${error ? t(error.key, error.params) : ''}
    </p>
    ${confirming
      ? html`<div
          class="confirm"
          id="far-confirm"
          role="group"
          aria-labelledby="far-text"
          onKeyDown=${(e) => {
            if (e.key === 'Escape') cancel();
          }}
        >
          <p id="far-text">${t('ui.far_bid_confirm', { percent: confirming.percent })}</p>
          <div class="actions">
            <button type="button" class="primary" id="far-yes" onClick=${() => place(confirming.plain)}>
              ${t('ui.confirm')}
            </button>
            <button type="button" id="far-no" ref=${cancelRef} onClick=${cancel}>
              ${t('ui.cancel')}
            </button>
          </div>
        </div>`
      : html`<div class="actions">
          <button type="submit" class="primary" id="place" disabled=${!open}>
            ${state.format !== 'sealed'
              ? t('ui.place_bid')
              : state.mine === null
                ? t('sealed.place')
                : t('sealed.replace')}
          </button>
          ${state.format === 'sealed' && state.mine !== null
            ? html`<button
                type="button"
                id="withdraw"
                disabled=${!open}
                onClick=${() => live.withdraw() && input.current?.focus()}
              >
                ${t('sealed.withdraw')}
              </button>`
            : null}
        </div>`}
    ${state.format === 'sealed' && state.phase === 'running'
      ? html`<p class="hint" id="sealed-note">${t('sealed.note')}</p>`
      : null}
    ${state.phase === 'scheduled' ? html`<p class="hint">${t('ui.not_started')}</p>` : null}
    ${state.phase === 'ended' ? html`<p class="hint">${t('ui.auction_ended')}</p>` : null}
    <p class=${`result ${state.lastAnswer?.status ?? ''}`} id="last-answer" aria-live="assertive">
      ${state.lastAnswer ? requestText(state.lastAnswer, currency) : ''}
    </p>
  </form>`;
}

/** The outcome in words, the winner, the price paid and where I finished. */
function Result({ state }) {
  const result = state.result;
  const currency = state.rules?.currency;
  const rows = ranking(state);
  const myIndex = rows.findIndex((row) => row.you);
  const won = state.you !== null && result.winners.includes(state.you);
  const winner = result.winners.length
    ? won
      ? t('ui.you')
      : result.winners.map(labelText).join(', ')
    : null;
  const amount = result.price !== null ? money(result.price, currency) : null;
  let outcome;
  switch (result.outcome) {
    case 'awarded':
      outcome = won
        ? t('result.you_won', { amount })
        : t('result.other_won', { winner, amount });
      break;
    case 'no_bids':
      outcome = t('result.no_bids');
      break;
    case 'reserve_not_met':
      outcome = t('result.reserve_not_met');
      break;
    case 'limit_reached':
      outcome = t('result.limit_reached');
      break;
    case 'cancelled':
      outcome = t('result.cancelled');
      break;
    default:
      outcome = t('ui.auction_ended');
  }
  return html`<div
    class="final"
    id="result"
    data-outcome=${result.outcome}
    data-won=${won ? 'yes' : 'no'}
    data-price=${result.price ?? ''}
  >
    <h2>${t('result.title')}</h2>
    <p class=${`outcome${won ? ' won' : ''}`} id="outcome" role="status">${outcome}</p>
    <dl class="figures">
      <dt>${t('result.winner')}</dt>
      <dd id="winner">${winner ?? t('result.no_winner')}</dd>
      <dt>${t('result.price_paid')}</dt>
      <dd class="num" id="price-paid">${amount ?? t('result.no_price')}</dd>
      <dt>${t('result.my_position')}</dt>
      <dd class="num" id="my-position" data-rank=${myIndex >= 0 ? myIndex + 1 : ''}>
        ${myIndex >= 0
          ? t('ui.rank_of', { rank: myIndex + 1, count: rows.length })
          : t('result.not_ranked')}
      </dd>
    </dl>
  </div>`;
}

/** The Dutch clock: the price now, where it goes next and when, and Accept at that price. */
function DutchClock({ state, live, clock }) {
  const rules = state.rules;
  const currency = rules?.currency;
  const price = state.clockPrice;
  const open = state.phase === 'running' && state.conn === 'live' && price !== null;
  const acceptRef = useRef(null);
  let next = null;
  if (rules && price !== null) {
    const step = BigInt(rules.step);
    const sale = rules.side === 'sale';
    const moved = sale ? BigInt(price) - step : BigInt(price) + step;
    const inside = sale ? moved >= BigInt(rules.limit_price) : moved <= BigInt(rules.limit_price);
    const wait = formatCountdown(state.nextAt !== null ? (clock.untilUs(state.nextAt) ?? 0) : 0);
    next = inside
      ? t(sale ? 'dutch.falls_to' : 'dutch.rises_to', { amount: money(moved, currency), time: wait })
      : t('dutch.last_price', { time: wait });
  }
  function accept() {
    if (!open) return;
    live.accept(minorToPlain(price, currency));
    acceptRef.current?.focus();
  }
  return html`<div class="dutch" id="dutch">
    <h2 id="dutch-title">${t('dutch.price_now')}</h2>
    <p class="clock num" id="dutch-price" data-price=${price ?? ''} aria-labelledby="dutch-title">
      ${price !== null ? money(price, currency) : t('dutch.not_yet')}
    </p>
    <p class="hint num" id="dutch-next">${next ?? ''}</p>
    <button
      type="button"
      class="primary"
      id="accept"
      ref=${acceptRef}
      disabled=${!open}
      data-price=${price ?? ''}
      onClick=${accept}
    >
      ${price !== null ? t('dutch.accept', { amount: money(price, currency) }) : t('dutch.accept_idle')}
    </button>
    ${state.phase === 'scheduled' ? html`<p class="hint">${t('ui.not_started')}</p>` : null}
    <p class=${`result ${state.lastAnswer?.status ?? ''}`} id="last-answer" aria-live="assertive">
      ${state.lastAnswer ? requestText(state.lastAnswer, currency) : ''}
    </p>
  </div>`;
}

function formatInput(plain, currency, locale) {
  // The amount as the person would type it: grouped, the locale's decimal mark, no code.
  const digits = plain.includes('.') ? plain.length - plain.indexOf('.') - 1 : 0;
  return new Intl.NumberFormat(locale, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(plain);
}

function requestText(request, currency) {
  switch (request.status) {
    case 'sending':
      return t('request.sending');
    case 'confirmed':
      return t('request.confirmed');
    case 'found':
      return t('request.found_later');
    case 'refused': {
      const reason = codeText(request.code);
      if (!request.bound || request.minor === null) return t('request.refused', { reason });
      const key = BigInt(request.bound) >= BigInt(request.minor) ? 'up' : 'down';
      const hint = t(`request.would_accept_${key}`, { amount: money(request.bound, currency) });
      return `${t('request.refused', { reason })} ${hint}`;
    }
    default:
      return t('request.not_confirmed');
  }
}

function Ranking({ state }) {
  const currency = state.rules?.currency;
  const rows = ranking(state);
  return html`<section class="panel" aria-labelledby="ranking-title">
    <h2 id="ranking-title">${t('ui.ranking')}</h2>
    <div aria-live="polite" id="ranking">
      ${state.format === 'sealed' && !state.result
        ? html`<p class="muted" id="sealed-hidden">${t('sealed.hidden')}</p>`
        : rows.length
        ? html`<table>
            <thead>
              <tr>
                <th scope="col">${t('ui.rank_column')}</th>
                <th scope="col">${t('ui.bidder_column')}</th>
                <th scope="col" class="amount">${t('ui.offer_column')}</th>
              </tr>
            </thead>
            <tbody>
              ${rows.map(
                (row, index) => html`<tr class=${row.you ? 'mine' : ''} data-label=${row.label}>
                  <td class="num">${index + 1}</td>
                  <td>${row.you ? t('ui.you') : labelText(row.label)}</td>
                  <td class="amount num">${money(row.price, currency)}</td>
                </tr>`,
              )}
            </tbody>
          </table>`
        : html`<p class="muted">${t('ui.no_offers')}</p>`}
    </div>
  </section>`;
}

function Activity({ state }) {
  const currency = state.rules?.currency;
  const locale = formatLocale();
  return html`<section class="panel" aria-labelledby="activity-title">
    <h2 id="activity-title">${t('ui.my_activity')}</h2>
    <div aria-live="polite" id="activity">
      ${state.requests.length
        ? html`<table>
            <thead>
              <tr>
                <th scope="col">${t('ui.time_column')}</th>
                <th scope="col" class="amount">${t('ui.offer_column')}</th>
                <th scope="col">${t('ui.status_column')}</th>
              </tr>
            </thead>
            <tbody>
              ${state.requests.map(
                (request) => html`<tr data-status=${request.status} data-amount=${request.amount}>
                  <td class="num" title=${request.at ? zoneLabel(request.at, locale) : ''}>
                    ${request.at ? formatTime(request.at, locale) : ''}
                  </td>
                  <td class="amount num">
                    ${request.minor === null ? t('sealed.withdrawal') : money(request.minor, currency)}
                  </td>
                  <td class=${`status-${request.status}`}>${requestText(request, currency)}</td>
                </tr>`,
              )}
            </tbody>
          </table>`
        : html`<p class="muted">${t('ui.no_requests')}</p>`}
    </div>
  </section>`;
}

function Rules({ state, auction }) {
  const { rules } = state;
  if (!rules) return null;
  const currency = rules.currency;
  const dutch = state.format === 'dutch';
  const sealed = state.format === 'sealed';
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
      ${rules.start_price !== null && rules.start_price !== undefined
        ? html`<li>${t('ui.start_price', { amount: money(rules.start_price, currency) })}</li>`
        : null}
      <li>${stepText}</li>
      <li>
        ${sealed
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

function LiveView({ session, contract, onSignOut }) {
  const [, setTick] = useState(0);
  const liveRef = useRef(null);
  if (!liveRef.current) {
    liveRef.current = new LiveAuction(session, contract, () => setTick((n) => n + 1));
  }
  const live = liveRef.current;
  const state = live.state;
  useEffect(() => {
    live.start();
    const timer = setInterval(() => setTick((n) => n + 1), 250);
    return () => {
      clearInterval(timer);
      live.stop();
    };
  }, []);
  useEffect(() => {
    const root = document.getElementById('app');
    root.dataset.lastSeq = String(state.lastSeq);
    root.dataset.received = String(state.received);
    root.dataset.duplicates = String(state.duplicates);
    root.dataset.gaps = String(state.gaps);
    root.dataset.phase = state.phase;
  });
  // No auction has a name of its own yet: the heading is its format; the identifier is
  // in the details.
  const heading = state.format && state.format !== 'other' ? t(`format.${state.format}`) : '';
  return html`<div class="page">
    <header class="bar">
      <h1 id="format">${heading || t('ui.app_name')}</h1>
      ${state.phase === 'running'
        ? null
        : html`<span class="badge" id="phase">${t(`phase.${state.phase}`)}</span>`}
      <span role="status" aria-live="polite" aria-label=${t('ui.connection')}>
        <${Connection} state=${state} />
      </span>
      <${LanguageSwitch} />
      <button type="button" id="sign-out" onClick=${onSignOut}>${t('ui.sign_out')}</button>
    </header>
    <${Banner} state=${state} now=${performance.now()} />
    <main class="live">
      <section class="panel status" aria-label=${t('ui.time_left')}>
        <${Clock} state=${state} clock=${live.clock} />
        ${state.format === 'dutch' || state.result ? null : html`<${Figures} state=${state} />`}
      </section>
      <section class="panel bidpanel" aria-label=${state.result ? t('result.title') : t('ui.place_bid')}>
        ${state.result
          ? html`<${Result} state=${state} />`
          : state.format === 'dutch'
            ? html`<${DutchClock} state=${state} live=${live} clock=${live.clock} />`
            : html`<${BidForm} state=${state} live=${live} />`}
      </section>
      <div class="side">
        <${Ranking} state=${state} />
        <${Activity} state=${state} />
      </div>
      <${Rules} state=${state} auction=${session.auction} />
    </main>
  </div>`;
}

function App({ boot }) {
  const [, setLang] = useState(i18n.language());
  const [view, setView] = useState(boot);
  useEffect(() => i18n.onChange((lang) => setLang(lang)), []);
  useEffect(() => {
    document.title = t('ui.app_name');
    document.getElementById('app').dataset.page = view.page;
  });
  async function signOut() {
    // Revoked first (a few seconds at most), then forgotten: the signed-out page means
    // the token no longer works, unless the server could not be reached.
    const session = view.session;
    if (session) await revoke(session);
    forgetSession();
    setView({ page: 'signed_out' });
  }
  if (view.page === 'live') {
    return html`<${LiveView} session=${view.session} contract=${view.contract} onSignOut=${signOut} />`;
  }
  if (view.page === 'problem') {
    const known = ['invitation_used', 'invitation_expired', 'invitation_unknown'];
    const text = known.includes(view.code) ? codeText(view.code) : t('signin.failed');
    return html`<${Notice} title=${t('signin.problem_title')} text=${text} />`;
  }
  if (view.page === 'error') {
    return html`<${Notice} title=${t('ui.app_name')} text=${t('signin.failed')} />`;
  }
  return html`<${Notice} title=${t('signin.signed_out')} text=${t('signin.open_link')} />`;
}

async function boot() {
  const root = document.getElementById('app');
  await i18n.init();
  const code = takeInvitation();
  let view;
  if (code) {
    render(html`<p class="loading">${t('signin.signing_in')}</p>`, root);
    const result = await redeem(code);
    if (result.session) {
      saveSession(result.session);
    } else {
      view = { page: 'problem', code: result.problem };
    }
  }
  const session = loadSession();
  if (!view && session) {
    try {
      view = { page: 'live', session, contract: await loadContract() };
    } catch {
      view = { page: 'error' };
    }
  }
  view ??= { page: 'signed_out' };
  root.replaceChildren();
  render(html`<${App} boot=${view} />`, root);
  root.dataset.page = view.page;
  root.dataset.ready = 'yes';
}

boot().catch(() => {
  const root = document.getElementById('app');
  root.textContent = 'Gavel could not start. Reload the page.';
  root.dataset.ready = 'error';
});
