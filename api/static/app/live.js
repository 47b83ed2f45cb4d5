// The auction as its events tell it (fold) and the one websocket that follows it
// (LiveAuction): every frame checked against the served contract (contract.js), events
// folded in seq order; a reconnect (with back-off and jitter, at once when the browser is
// back online) subscribes with since = the last seq folded, so no event is missed or
// folded twice. A request still unanswered when the connection drops is shown "not
// confirmed" and never re-sent; if its bid later shows up in the log as ours, it reads
// "found in the record".

import {
  compareScores,
  leadPrice,
  nextValidBid as engineNext,
  readScore,
  scoreOf,
} from './rules.js';
import { ServerClock } from './time.js';

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


/** The least valid bid now (rules.js), minor units as a BigInt, or null. */
export function nextValidBid(state) {
  const scored = { bestScore: readScore(state.best?.score), me: state.me };
  return engineNext(state.rules, state.format, state.best?.price ?? null, state.mine, scored);
}

/** The price by which I would lead now (rules.js leadPrice), minor units, or null: my
 *  coefficient and cost come with my own BidderRegistered. */
export function priceToLead(state) {
  if (!state.rules || !state.me) return null;
  const rivals = ranking(state).filter((row) => !row.you);
  const best = state.format === 'multiround' ? rivals[0] : state.best;
  const bestScore = best ? readScore(best.score ?? best.price) : null;
  return leadPrice(state.rules, state.format, bestScore, state.mine, state.me);
}

/** My place now (1 is best) and how many are ranked, or null without an offer. */
export function myPlace(state) {
  const rows = ranking(state);
  const index = rows.findIndex((row) => row.you);
  return index < 0 ? null : { rank: index + 1, count: rows.length };
}

export function formatName(rulesType) {
  return (
    {
      EnglishRules: 'english',
      ReverseRules: 'reverse',
      DutchRules: 'dutch',
      SealedRules: 'sealed',
      MultiRoundRules: 'multiround',
    }[rulesType] ?? 'other'
  );
}

/** The auction as its events tell it, and this page's requests. */
export function emptyState() {
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
    me: null, // my own BidderRegistered: {label, coefficient, cost}
    placeAfter: new Map(), // seq of an event of mine -> my place after it (notePlace)
    proxyLimit: null, // my proxy limit (minor units), shown only to me
    proxyBids: [], // the engine's bids for my proxy: {price, at, seq}
    round: 0, // multi-round: the round, its order (worst offer first) and the turn
    order: [],
    turn: null, // {bidder, endsAt, you}
    resumesAt: null,
    turnBid: null, // my private bid in my running turn (minor units)
    turns: [], // my ended turns, latest first: {round, passed, price, before, after}
    missingOffers: false, // some offer in the round's order is not known to this page
  };
}

export function ranking(state) {
  // Once ended, the ranking is the engine's final one (it also names sealed bids).
  if (state.result) {
    return state.result.ranking.map((line) => ({
      label: line.label,
      price: line.price,
      score: line.score,
      seq: line.rank,
      you: state.you !== null && line.label === state.you,
    }));
  }
  const sale =
    state.format === 'english' ||
    ((state.format === 'dutch' || state.format === 'sealed') && state.rules?.side === 'sale');
  // A procurement ranks by score (the price itself without scoring), ties to the earlier.
  return [...state.offers.entries()]
    .map(([label, offer]) => ({ label, ...offer }))
    .sort((a, b) => {
      if (!sale && a.score !== undefined && b.score !== undefined) {
        const order = compareScores(readScore(a.score), readScore(b.score));
        return order || a.seq - b.seq;
      }
      const pa = BigInt(a.price);
      const pb = BigInt(b.price);
      if (pa !== pb) return (sale ? pb > pa : pa > pb) ? 1 : -1;
      return a.seq - b.seq;
    });
}

export function fold(state, event) {
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
      if (state.format === 'multiround') {
        // A turn's bid stays private until TurnEnded makes it the offer.
        if (event.you) state.turnBid = event.price;
        break;
      }
      if (event.you && event.proxy) {
        state.proxyBids.unshift({ price: event.price, at: event.at, seq: event.seq });
      }
      state.offers.set(event.bidder, {
        price: event.price,
        score: event.score,
        seq: event.seq,
        you: !!event.you,
      });
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
    case 'BidderRegistered':
      if (event.you) {
        state.me = { label: event.bidder, coefficient: event.coefficient, cost: event.cost };
      }
      if (state.format === 'multiround' && event.initial_bid !== null && event.initial_bid !== undefined) {
        const score = scoreText(state.rules, event.initial_bid, event);
        const offer = { price: event.initial_bid, score, seq: event.seq, you: !!event.you };
        state.offers.set(event.bidder, offer);
        if (event.you) state.mine = event.initial_bid;
      }
      break;
    case 'ProxySet':
      if (event.you) state.proxyLimit = event.limit;
      break;
    case 'RoundStarted':
      state.round = event.round;
      state.order = event.order ?? [];
      state.turn = null;
      state.resumesAt = null;
      state.missingOffers = state.order.some((label) => !state.offers.has(label));
      break;
    case 'TurnStarted': {
      const you = state.you !== null && event.bidder === state.you;
      state.turn = { bidder: event.bidder, endsAt: event.ends_at, you };
      if (you) {
        state.turnBid = null;
        // My new turn starts clean: an answer from an earlier turn would read as this one's.
        if (state.lastAnswer && state.lastAnswer.status !== 'sending') state.lastAnswer = null;
      }
      break;
    }
    case 'TurnEnded': {
      const you = state.you !== null && event.bidder === state.you;
      // Until now the ranking is the one from before the turn (its bid was private).
      const before = you ? myPlace(state) : null;
      const old = state.offers.get(event.bidder);
      if (event.price !== null && event.price !== undefined) {
        const moved = !old || String(old.price) !== String(event.price);
        state.offers.set(event.bidder, {
          price: event.price,
          score: event.score,
          seq: moved ? event.seq : old.seq,
          you,
        });
        if (you) state.mine = event.price;
      }
      state.turn = null;
      if (you) {
        state.turnBid = null;
        state.turns.unshift({
          round: event.round,
          passed: !!event.passed,
          price: event.price ?? null,
          before,
          after: null, // set below, once the ranking has the new offer
        });
      }
      break;
    }
    case 'RoundEnded':
      state.turn = null;
      state.resumesAt = event.resumes_at ?? null;
      break;
    case 'AuctionEnded':
      state.phase = 'ended';
      state.turn = null;
      state.result = {
        outcome: event.outcome,
        winners: event.winners ?? [],
        price: event.price ?? null,
        endedAt: event.at ?? null,
        ranking: (event.ranking ?? [])
          .map((line) => ({
            rank: line.rank,
            label: line.bidder,
            price: line.price,
            score: line.score,
          }))
          .sort((a, b) => a.rank - b.rank),
      };
      break;
    default:
      break;
  }
  const [first] = ranking(state);
  state.best = first ?? null;
  notePlace(state, event);
  if (event.type === 'TurnEnded' && state.turns[0] && state.turns[0].after === null) {
    state.turns[0].after = myPlace(state);
  }
}

/** The formats whose offers are open while bidding runs (my place is known live). */
const OPEN_FORMATS = new Set(['english', 'reverse']);

/** After an event of mine (a bid of mine, or the engine's for my proxy) in an open
 *  format, where it put me ({rank, count}), kept by the event's seq for my history: the
 *  ack of a request names the event it made (ack.seq), and the row says "event 12: now 1
 *  of 2" whichever of the two frames came first. At most 500 kept. O(n log n) (the
 *  ranking), like the best offer's. */
function notePlace(state, event) {
  if (!event.you || event.type !== 'BidAccepted' || !OPEN_FORMATS.has(state.format)) return;
  const place = myPlace(state);
  if (!place) return;
  state.placeAfter.set(event.seq, place);
  if (state.placeAfter.size > 500) state.placeAfter.delete(state.placeAfter.keys().next().value);
  for (const request of state.requests) {
    if (request.seq === event.seq) request.after = place;
  }
}

/** Offers this page has not seen (a multi-round auction's tender-stage offers of
 *  others, hidden until bidding opened, to a page that joined before) taken from the
 *  ranking of GET /api/v1/auctions/{id}; what the page has seen itself is kept. */
export function fillOffers(state, rows) {
  if (!Array.isArray(rows)) return false;
  let filled = false;
  for (const row of rows) {
    if (state.offers.has(row.bidder)) continue;
    const you = state.you !== null && row.bidder === state.you;
    state.offers.set(row.bidder, { price: row.price, score: row.score, seq: row.rank, you });
    filled = true;
  }
  state.missingOffers = state.order.some((label) => !state.offers.has(label));
  const [first] = ranking(state);
  state.best = first ?? null;
  return filled;
}

/** A registered offer's score in the engine's wire form (an integer, or "n/d"). */
function scoreText(rules, price, bidder) {
  const score = scoreOf(rules?.scoring ?? 'none', price, bidder.coefficient ?? '0', bidder.cost ?? 0);
  return score.fraction ? `${score.n}/${score.d}` : score.n.toString();
}

/** One connection to the auction, reconnecting by itself; `onChange` after each change.
 *  `session`: {id, token} (a supplier's), or {id, token: null}: the public view. */
export class LiveAuction {
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
    this.renderFrame = null;
    this.perf = perfLog();
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
    if (this.renderFrame !== null) cancelAnimationFrame(this.renderFrame);
    this.renderFrame = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
  }

  /** Something changed. The state is already folded (each frame at once); the page is
   *  told at most once per animation frame, however many frames arrived meanwhile, so a
   *  burst of events costs one render. */
  changed() {
    if (this.renderFrame !== null) return;
    this.renderFrame = requestAnimationFrame(() => {
      this.renderFrame = null;
      this.onChange(this.state);
    });
  }

  /** The page committed a render of the state as it is now (call it from a layout
   *  effect): with ?perf, every event folded since shows from this moment on. */
  rendered() {
    this.perf?.shown(this.state.lastSeq, performance.now());
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
    const auction = this.session.id ?? this.session.auction;
    const url = `${scheme}//${location.host}/ws/v1/auctions/${encodeURIComponent(auction)}`;
    // Without a token: the auction's public view (read-only, what an observer sees).
    const token = this.session.token;
    const protocols = token ? ['gavel.v1', `gavel.bearer.${token}`] : ['gavel.v1', 'gavel.public'];
    let ws;
    try {
      ws = new WebSocket(url, protocols);
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
      const at = performance.now();
      this.lastFrameAt = at;
      let frame;
      try {
        frame = this.contract.read(message.data);
      } catch {
        return; // not a frame of the contract: nothing to fold, nothing shown
      }
      this.receive(frame, at);
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

  receive(frame, at = performance.now()) {
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
        this.perf?.arrived(frame.seq, at);
        break;
      case 'ack': {
        const request = this.pending.get(frame.request_id);
        if (request) {
          request.seq = frame.seq;
          request.after = state.placeAfter.get(frame.seq) ?? null;
        }
        this.answer(frame.request_id, 'confirmed');
        break;
      }
      case 'reject':
        this.answer(frame.request_id, 'refused', frame.code, frame.bound ?? null);
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

  answer(requestId, status, code = null, bound = null) {
    const request = this.pending.get(requestId);
    if (!request) return;
    this.pending.delete(requestId);
    request.status = status;
    request.serverBound = bound; // a reject's bound: the amount it names (protocol.md)
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

  /** Read the offers this page has not seen from the auction's state (fillOffers). */
  async fillOffers() {
    if (this.filling) return;
    this.filling = true;
    try {
      const auction = this.session.id ?? this.session.auction;
      const path = `/api/v1/auctions/${encodeURIComponent(auction)}`;
      const reply = await fetch(path, { headers: { Authorization: `Bearer ${this.session.token}` } });
      if (reply.ok && fillOffers(this.state, (await reply.json()).ranking)) this.changed();
    } catch {
      // Not reached: the offers show as each turn ends.
    } finally {
      this.filling = false;
    }
  }

  /** End my multi-round turn now, keeping my offer. */
  pass() {
    return this.send('pass', null, null);
  }

  /** Set (or change) my secret proxy limit to `plain` (major units). */
  proxy(plain) {
    return this.send('proxy', 'limit', plain);
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

/** With ?perf in the page's address: for each event frame, performance.now() when it
 *  arrived and when the DOM first showed it (the last PERF_SIZE frames), in
 *  window.__gavelPerf = {events: [{seq, arrived, shown}], renders} for a test or the
 *  console to read. Without ?perf: null, nothing kept. */
const PERF_SIZE = 4096;

function perfLog() {
  if (typeof location === 'undefined' || !new URLSearchParams(location.search).has('perf')) {
    return null;
  }
  const log = { events: [], renders: 0 };
  let unshown = 0; // events[unshown..] have no shown time yet
  globalThis.__gavelPerf = log;
  return {
    arrived(seq, at) {
      log.events.push({ seq, arrived: at, shown: null });
      if (log.events.length > PERF_SIZE) {
        log.events.shift();
        unshown = Math.max(0, unshown - 1);
      }
    },
    shown(lastSeq, at) {
      log.renders += 1;
      while (unshown < log.events.length && log.events[unshown].seq <= lastSeq) {
        log.events[unshown].shown = at;
        unshown += 1;
      }
    },
  };
}

export function plainToMinor(plain) {
  return BigInt(plain.replace('.', '')).toString();
}
