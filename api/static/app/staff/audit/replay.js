// The auditor's replay of an ended auction over the live websocket's replay protocol
// (docs/protocol.md "Replaying an ended auction"), and what the page draws from the events
// it holds: the state at that point (live.js's fold, the supplier page's own), the chart's
// points and bands, the bidders' anonymous labels.
//
// ReplaySocket keeps the replay's events in a list, truncated to `seq` on every
// replay_state, so it always holds events 1..n in order (the protocol's promise); the
// page folds that list. Every frame is read and built through the served contract.
//
//   const replay = new ReplaySocket({ auctionId, token, contract, onChange, since });
//   replay.start();                 // subscribe (since: the log's head, so no history is
//                                   // sent as events), then replay it all at once (speed 0)
//   replay.play(speed)  replay.pause()  replay.seekTo(k)  replay.setSpeed(speed)  replay.stop()
//   replay.events  replay.status ('connecting'|'playing'|'paused'|'ended'|'failed')
//   replay.last    replay.error (a reject's or close's code, or null)
//
// seekTo(k) leaves the page holding events 1..k (0..last): a seek to seq k+1, paused where
// it was paused, playing where it played; from the end, a crawling replay from k+1 paused
// at once and, if events of the same instant went out meanwhile, sought again (paused, it
// stays so); the end itself is a replay at speed 0. Pure helpers: stateAt, labelsOf, chartOf.

import { emptyState, fold, ranking } from '../../live.js';

/** The slowest speed the protocol allows: a replay that waits, to be paused at once. */
const CRAWL = '0.000001';

/** The speeds offered (the protocol's decimal strings). */
export const SPEEDS = Object.freeze(['1', '2', '5', '10', '50']);

/** The state after `events` (live.js's fold; an auditor is no party: `you` is null). */
export function stateAt(events) {
  const state = emptyState();
  state.you = null;
  for (const event of events) fold(state, event);
  return state;
}

/** party -> anonymous label ("Bidder 2"), from the BidderRegistered events. */
export function labelsOf(events) {
  const labels = new Map();
  for (const event of events) {
    if (event.type === 'BidderRegistered') labels.set(event.bidder, event.label);
  }
  return labels;
}

/** The final ranking the replayed state shows: [{rank, bidder, price, score}]. */
export function rankingOf(state) {
  return ranking(state).map((row, index) => ({
    rank: index + 1,
    bidder: row.label,
    price: row.price,
    score: row.score ?? null,
  }));
}

/** What OffersChart draws from `events`: each bidder's offers (by label), soft-close
 *  extensions (from the end in force to the new end) and round and turn bands; `text`
 *  of a band comes from `words(kind, params)`. Pure, O(events). */
export function chartOf(events, words = (kind) => kind) {
  const labels = labelsOf(events);
  const label = (party) => labels.get(party) ?? party;
  const points = [];
  const marks = [];
  let multiround = false;
  let endsAt = null;
  let round = null;
  let turn = null;
  for (const event of events) {
    switch (event.type) {
      case 'AuctionCreated':
        multiround = event.rules?.type === 'MultiRoundRules';
        endsAt = event.rules?.ends_at ?? null;
        break;
      case 'AuctionStarted':
        if (event.ends_at !== null && event.ends_at !== undefined) endsAt = event.ends_at;
        break;
      case 'EndExtended':
        marks.push({
          kind: 'extension',
          from_us: endsAt ?? event.at,
          to_us: event.ends_at,
          text: words('extension', { from: endsAt ?? event.at, to: event.ends_at }),
          seq: event.seq,
        });
        endsAt = event.ends_at;
        break;
      case 'BidderRegistered':
        if (event.initial_bid !== null && event.initial_bid !== undefined) {
          points.push({ t_us: event.at, label: label(event.bidder), amount_minor: event.initial_bid });
        }
        break;
      case 'BidAccepted':
        if (!multiround) {
          points.push({ t_us: event.at, label: label(event.bidder), amount_minor: event.price });
        }
        break;
      case 'TurnEnded':
        if (event.price !== null && event.price !== undefined) {
          points.push({ t_us: event.at, label: label(event.bidder), amount_minor: event.price });
        }
        if (turn) {
          marks.push({
            kind: 'turn',
            from_us: turn.at,
            to_us: event.at,
            text: words('turn', { round: turn.round, bidder: label(turn.bidder) }),
            seq: turn.seq,
          });
        }
        turn = null;
        break;
      case 'BidWithdrawn':
      case 'BidderDisqualified':
        points.push({ t_us: event.at, label: label(event.bidder), amount_minor: null });
        break;
      case 'RoundStarted':
        round = { round: event.round, at: event.at, seq: event.seq };
        break;
      case 'TurnStarted':
        turn = { round: round?.round ?? null, bidder: event.bidder, at: event.at, seq: event.seq };
        break;
      case 'RoundEnded':
        if (round) {
          marks.push({
            kind: 'round',
            from_us: round.at,
            to_us: event.at,
            text: words('round', { round: round.round }),
            seq: round.seq,
          });
        }
        round = null;
        break;
      default:
        break;
    }
  }
  return { points, marks, labels };
}

/** One replay of one auction on its own websocket (see the top of this file). */
export class ReplaySocket {
  constructor({ auctionId, token, contract, onChange, since = 0 }) {
    this.auctionId = auctionId;
    this.since = since; // the log's head when the page read it: no history sent again
    this.token = token;
    this.contract = contract;
    this.onChange = onChange;
    this.events = [];
    this.status = 'connecting';
    this.last = null;
    this.error = null;
    this.speed = '1';
    this.ws = null;
    this.counter = 0;
    this.replayId = null; // the request_id of the replay whose events we keep
    this.target = null; // a seek from the end: the events to hold once paused
    this.stopped = false;
  }

  start() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${scheme}//${location.host}/ws/v1/auctions/${encodeURIComponent(this.auctionId)}`;
    const ws = new WebSocket(url, ['gavel.v1', `gavel.bearer.${this.token}`]);
    this.ws = ws;
    ws.onopen = () => {
      // Live `event` frames are not the replay's (an ended auction has none after its head).
      ws.send(JSON.stringify(this.contract.message('subscribe', { since: this.since })));
    };
    ws.onmessage = (message) => {
      let frame;
      try {
        frame = this.contract.read(message.data);
      } catch {
        return;
      }
      this.receive(frame);
    };
    ws.onclose = (event) => {
      if (this.stopped || ws !== this.ws) return;
      this.ws = null;
      this.status = 'failed';
      this.error = this.error ?? (event.reason || String(event.code));
      this.onChange();
    };
  }

  stop() {
    this.stopped = true;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
  }

  receive(frame) {
    switch (frame.type) {
      case 'welcome':
        this.last = frame.seq;
        this.replay('0', 1); // everything at once: the page opens on the final state
        return;
      case 'replay_event':
        if (frame.request_id !== this.replayId || frame.seq !== this.events.length + 1) return;
        this.events.push(frame.event);
        break;
      case 'replay_state':
        if (this.events.length > frame.seq) this.events.length = frame.seq;
        this.status = frame.status;
        this.last = frame.last;
        this.error = null;
        if (this.target !== null && frame.status === 'paused') {
          // Events of the same instant may have gone out before the pause: seek again,
          // paused now, so it stays paused with exactly the events asked for.
          if (frame.seq === this.target) this.target = null;
          else this.send('seek', { seq: this.target + 1 });
        }
        break;
      case 'reject':
        // A pause that came after the end, a resume after a pause that did not: the
        // replay_state frames already say where it stands.
        if (frame.code === 'replay_not_playing' || frame.code === 'replay_not_paused') return;
        this.error = frame.code;
        break;
      default:
        return;
    }
    this.onChange();
  }

  send(type, fields = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return null;
    this.counter += 1;
    const id = `p-${this.counter}`;
    this.ws.send(JSON.stringify(this.contract.message(type, { request_id: id, ...fields })));
    return id;
  }

  replay(speed, fromSeq) {
    this.target = null;
    const id = this.send('replay', { speed, from_seq: fromSeq });
    if (id) this.replayId = id;
  }

  /** Play at `speed` from where it is (from the start once it has ended). */
  play(speed = this.speed) {
    this.speed = speed;
    this.target = null;
    if (this.status === 'paused') this.send('resume', { speed });
    else if (this.status === 'ended') this.replay(speed, 1);
  }

  pause() {
    if (this.status === 'playing') this.send('pause');
  }

  /** A new speed: at once while playing (pause, then resume at it). */
  setSpeed(speed) {
    this.speed = speed;
    if (this.status === 'playing') {
      this.send('pause');
      this.send('resume', { speed });
    }
  }

  /** Hold events 1..k (0 <= k <= last), paused unless it is playing. */
  seekTo(k) {
    const last = this.last ?? 0;
    if (k >= last) {
      this.replay('0', 1);
      return;
    }
    if (this.status === 'ended') {
      // A seek would play on at the last replay's speed (0 after the opening one): start
      // a crawling replay from k + 1 instead, and pause it (then seek exactly, paused).
      this.replay(CRAWL, k + 1);
      this.target = k;
      this.send('pause');
      return;
    }
    this.target = null;
    this.send('seek', { seq: k + 1 });
  }
}
