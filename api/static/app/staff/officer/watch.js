// The officer's live watch of one auction:
//
//   import { Watch } from '/app/staff/officer/watch.js';
//   html`<${Watch} staff=${staff} id=${auctionId} onEvent=${(state) => ...} />`
//
// One websocket as the officer (live.js LiveAuction with the officer's token: the
// officer's view carries the parties' identities, docs/protocol.md), every event folded
// as the supplier's page folds it and also kept as it came, for:
// - the clock and the current standing (rank, party and its label, offer);
// - the bidders: party, label, current offer, disqualified or not, and the control to
//   disqualify one with a reason (POST /api/v1/auctions/<id>/disqualify);
// - the chart of offers over time (staff/chart.js), extensions and rounds marked;
// - the full event stream as a table (time, event in words, party, amount), newest
//   first, its raw fields behind a "Details" disclosure per row;
// - cancelling the auction with a reason (POST /api/v1/auctions/<id>/cancel);
// - the rules in words (the supplier's own panel, view/rules_panel.js), collapsed.
// Each officer action asks for a reason, then a second, confirming click; once the
// server records it the page says so and the event shows in the stream.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useMemo, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { codeText, formatLocale, has, language, t } from '../../i18n.js';
import { LiveAuction, ranking } from '../../live.js';
import { formatTime, zoneLabel } from '../../time.js';
import { Banner, Clock, Connection, money } from '../../view/common.js';
import { Rules } from '../../view/rules_panel.js';
import { useContract } from '../../view/use_contract.js';
import { OffersChart } from '../chart.js';
import { useStylesheet } from '../style.js';

/** The most events the table shows (the newest); the chart and standing use them all. */
const SHOWN = 300;

/** LiveAuction that also keeps every event as it came (seq, server_time, event) and the
 *  parties' labels (BidderRegistered: the officer sees the party id and its label). */
class OfficerLive extends LiveAuction {
  constructor(session, contract, onChange) {
    super(session, contract, onChange);
    this.events = [];
    this.labels = new Map(); // party -> label
    this.disqualified = new Map(); // party -> note
  }

  receive(frame, at) {
    if (frame.type === 'event' && frame.seq > this.state.lastSeq) {
      this.events.push({ seq: frame.seq, server_time: frame.server_time, event: frame.event });
      const event = frame.event;
      if (event.type === 'BidderRegistered') this.labels.set(event.bidder, event.label);
      if (event.type === 'BidderDisqualified') this.disqualified.set(event.bidder, event.note ?? '');
    }
    super.receive(frame, at);
  }
}

/** A party as the officer reads it: its id and its anonymous label. */
function partyText(party, labels) {
  if (party === null || party === undefined) return '';
  const label = labels.get(party);
  return label ? `${party} (${label})` : party;
}

function amountOf(event) {
  switch (event.type) {
    case 'BidAccepted':
    case 'TurnEnded':
    case 'PriceChanged':
      return event.price ?? null;
    case 'ProxySet':
      return event.limit ?? null;
    case 'BidderRegistered':
      return event.initial_bid ?? null;
    case 'AuctionEnded':
      return event.price ?? null;
    default:
      return null;
  }
}

/** An event type as a catalog key's tail: BidAccepted -> bid_accepted. */
function snake(type) {
  return type.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
}

/** An event in words, from the catalog (watch.ev_<type in snake case>). */
export function eventText(event, labels, currency) {
  const locale = formatLocale();
  const party = partyText(event.bidder, labels);
  const params = { party };
  switch (event.type) {
    case 'AuctionStarted':
      return event.ends_at
        ? t('watch.ev_auction_started_until', { time: formatTime(event.ends_at, locale) })
        : t('watch.ev_auction_started');
    case 'EndExtended':
      return t('watch.ev_end_extended', { time: formatTime(event.ends_at, locale) });
    case 'BidAccepted':
      return t(event.proxy ? 'watch.ev_bid_accepted_proxy' : 'watch.ev_bid_accepted', params);
    case 'BidderDisqualified':
      return t('watch.ev_bidder_disqualified', { party, note: event.note || t('watch.no_reason') });
    case 'CommandRejected':
      return t('watch.ev_command_rejected', {
        party: party || t('watch.someone'),
        reason: has(`code.${event.reason}`) ? codeText(event.reason) : event.reason,
      });
    case 'RoundStarted':
    case 'RoundEnded':
      return t(`watch.ev_${snake(event.type)}`, { round: event.round });
    case 'TurnStarted':
      return t('watch.ev_turn_started', { party, round: event.round, time: formatTime(event.ends_at, locale) });
    case 'TurnEnded':
      return t(event.passed ? 'watch.ev_turn_ended_passed' : 'watch.ev_turn_ended', { party, round: event.round });
    case 'AuctionEnded': {
      const winners = (event.winners ?? []).map((w) => partyText(w, labels)).join(', ');
      const outcome = has(`watch.outcome_${event.outcome}`) ? t(`watch.outcome_${event.outcome}`) : event.outcome;
      if (winners) return t('watch.ev_auction_ended_won', { outcome, winners });
      if (event.note) return t('watch.ev_auction_ended_note', { outcome, note: event.note });
      return t('watch.ev_auction_ended', { outcome });
    }
    case 'Redacted':
      return t('watch.ev_redacted');
    default:
      return has(`watch.ev_${snake(event.type)}`) ? t(`watch.ev_${snake(event.type)}`, params) : event.type;
  }
}

/** An event's fields as name/value pairs for the "Details" disclosure (no JSON). */
function fieldsOf(value, prefix = '') {
  const pairs = [];
  for (const [name, inner] of Object.entries(value ?? {})) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (inner !== null && typeof inner === 'object' && !Array.isArray(inner)) {
      pairs.push(...fieldsOf(inner, key));
    } else if (Array.isArray(inner)) {
      if (inner.every((x) => x === null || typeof x !== 'object')) pairs.push([key, inner.join(', ')]);
      else inner.forEach((item, i) => pairs.push(...fieldsOf(item, `${key}[${i + 1}]`)));
    } else {
      pairs.push([key, String(inner)]);
    }
  }
  return pairs;
}

/** The chart's points and marks from the events as they came. O(events). */
export function chartOf(events, format) {
  const points = [];
  const marks = [];
  let endsAt = null;
  let round = null;
  let turn = null;
  for (const { event } of events) {
    switch (event.type) {
      case 'AuctionCreated':
        endsAt = event.rules?.ends_at ?? null;
        break;
      case 'AuctionStarted':
        if (event.ends_at) endsAt = event.ends_at;
        break;
      case 'EndExtended':
        marks.push({
          kind: 'extension',
          from_us: endsAt ?? event.at,
          to_us: event.ends_at,
          text: t('watch.mark_extension', { time: formatTime(event.ends_at, formatLocale()) }),
        });
        endsAt = event.ends_at;
        break;
      case 'BidAccepted':
        if (format !== 'multiround') points.push({ t_us: event.at, label: event.bidder, amount_minor: event.price });
        break;
      case 'BidderRegistered':
        if (event.initial_bid !== null && event.initial_bid !== undefined) {
          points.push({ t_us: event.at, label: event.bidder, amount_minor: event.initial_bid });
        }
        break;
      case 'TurnEnded':
        if (event.price !== null && event.price !== undefined) {
          points.push({ t_us: event.at, label: event.bidder, amount_minor: event.price });
        }
        if (turn) marks.push({ kind: 'turn', from_us: turn, to_us: event.at, text: '' });
        turn = null;
        break;
      case 'TurnStarted':
        turn = event.at;
        break;
      case 'RoundStarted':
        round = { at: event.at, round: event.round };
        break;
      case 'RoundEnded':
        if (round) {
          marks.push({ kind: 'round', from_us: round.at, to_us: event.at, text: t('watch.mark_round', { round: round.round }) });
        }
        round = null;
        break;
      case 'BidWithdrawn':
      case 'BidderDisqualified':
        points.push({ t_us: event.at, label: event.bidder, amount_minor: null });
        break;
      default:
        break;
    }
  }
  return { points, marks };
}

/** A two-step officer action: a reason, then a confirming click. */
function ReasonedAction({ id, label, question, confirmLabel, onSubmit, onClose = null, danger = true }) {
  // Opened at once when the caller already asked (a bidder's row), else behind a button.
  const [step, setStep] = useState(onClose ? 'reason' : 'idle'); // idle | reason | confirm | busy
  const close = () => {
    setStep('idle');
    onClose?.();
  };
  const [reason, setReason] = useState('');
  const [problem, setProblem] = useState(null);
  const field = useRef(null);
  const confirmRef = useRef(null);
  useEffect(() => {
    if (step === 'reason') field.current?.focus();
    if (step === 'confirm') confirmRef.current?.focus();
  }, [step]);
  if (step === 'idle') {
    return html`<button type="button" class="danger-outline" id=${`${id}-start`} onClick=${() => setStep('reason')}>
      ${label}
    </button>`;
  }
  async function confirm() {
    setStep('busy');
    const failed = await onSubmit(reason.trim());
    if (failed) {
      setProblem(failed);
      setStep('reason');
    } else {
      setStep('idle');
      setReason('');
      setProblem(null);
    }
  }
  function next(event) {
    event.preventDefault();
    if (!reason.trim()) {
      setProblem(t('watch.reason_missing'));
      field.current?.focus();
      return;
    }
    setProblem(null);
    setStep('confirm');
  }
  return html`<form class="reasoned" id=${`${id}-form`} onSubmit=${next} novalidate>
    <label for=${`${id}-reason`}>${t('watch.reason')}</label>
    <textarea
      id=${`${id}-reason`}
      ref=${field}
      rows="2"
      value=${reason}
      disabled=${step !== 'reason'}
      aria-invalid=${problem ? 'true' : 'false'}
      aria-describedby=${problem ? `${id}-problem` : `${id}-hint`}
      onInput=${(e) => setReason(e.currentTarget.value)}
    ></textarea>
    <p class="hint" id=${`${id}-hint`}>${t('watch.reason_hint')}</p>
    ${problem ? html`<p class="field-error" id=${`${id}-problem`} role="alert">${problem}</p>` : null}
    ${step === 'reason'
      ? html`<div class="row">
          <button type="submit" class=${danger ? 'danger' : 'primary'} id=${`${id}-next`}>${label}</button>
          <button type="button" onClick=${close}>${t('ui.cancel')}</button>
        </div>`
      : html`<div class="row confirm-row" role="alert">
          <span>${question}</span>
          <button type="button" class="danger" id=${`${id}-confirm`} ref=${confirmRef} disabled=${step === 'busy'} onClick=${confirm}>
            ${confirmLabel}
          </button>
          <button type="button" disabled=${step === 'busy'} onClick=${() => setStep('reason')}>${t('watch.go_back')}</button>
        </div>`}
  </form>`;
}

function problemText(answer) {
  const code = answer.problem?.code;
  if (code && has(`code.${code}`)) return codeText(code);
  return answer.problem?.detail || t('watch.action_failed');
}

function Bidders({ live, state, staff, id, onRecorded }) {
  const currency = state.rules?.currency;
  const [chosen, setChosen] = useState(null);
  const offers = state.offers;
  const parties = [...live.labels.keys()];
  const ended = state.phase === 'ended';
  if (!parties.length) return html`<p class="muted" id="watch-no-bidders">${t('watch.no_bidders')}</p>`;
  async function disqualify(party, note) {
    const answer = await staff.fetch(`/api/v1/auctions/${encodeURIComponent(id)}/disqualify`, {
      method: 'POST',
      body: { bidder: party, note },
    });
    if (!answer.ok) return problemText(answer);
    setChosen(null);
    onRecorded(t('watch.recorded_disqualify', { party: partyText(party, live.labels), seq: answer.body.seq }), answer.body.seq);
    return null;
  }
  return html`<div class="table-wrap">
    <table class="staff-table" id="watch-bidders">
      <thead>
        <tr>
          <th scope="col">${t('watch.col_party')}</th>
          <th scope="col" class="amount">${t('watch.col_offer')}</th>
          <th scope="col">${t('watch.col_status')}</th>
        </tr>
      </thead>
      <tbody>
        ${parties.map((party) => {
          const offer = offers.get(party);
          const out = live.disqualified.has(party);
          return html`<tr data-party=${party} data-out=${out ? 'yes' : 'no'}>
            <th scope="row"><span class="party">${party}</span> <span class="muted label">${live.labels.get(party)}</span></th>
            <td class="amount num">${offer ? money(offer.price, currency) : html`<span class="muted">${t('watch.no_offer')}</span>`}</td>
            <td>
              ${out
                ? html`<span class="badge danger-badge">${t('watch.disqualified')}</span>
                    <span class="muted note">${live.disqualified.get(party)}</span>`
                : ended
                  ? html`<span class="muted">${t('watch.in_auction')}</span>`
                  : chosen === party
                    ? html`<${ReasonedAction}
                        id="disqualify"
                        label=${t('watch.disqualify')}
                        question=${t('watch.disqualify_question', { party: partyText(party, live.labels) })}
                        confirmLabel=${t('watch.disqualify_confirm')}
                        onSubmit=${(note) => disqualify(party, note)}
                        onClose=${() => setChosen(null)}
                      />`
                    : html`<button type="button" class="danger-outline disqualify" data-party=${party} onClick=${() => setChosen(party)}>
                        ${t('watch.disqualify')}
                      </button>`}
            </td>
          </tr>`;
        })}
      </tbody>
    </table>
  </div>`;
}

function Standing({ live, state }) {
  const currency = state.rules?.currency;
  const rows = ranking(state);
  if (state.format === 'sealed' && !state.result) return html`<p class="muted">${t('watch.sealed_hidden')}</p>`;
  if (!rows.length) return html`<p class="muted" id="watch-no-offers">${t('watch.no_offers')}</p>`;
  return html`<ol class="standing" id="watch-standing" aria-live="polite">
    ${rows.map(
      (row, index) => html`<li data-party=${row.label} class=${index === 0 ? 'best' : ''}>
        <span class="rank num">${index + 1}</span>
        <span class="who">${partyText(row.label, live.labels)}</span>
        <span class="amount num">${money(row.price, currency)}</span>
      </li>`,
    )}
  </ol>`;
}

function EventsTable({ live, currency, highlight }) {
  const locale = formatLocale();
  const shown = live.events.slice(-SHOWN).reverse();
  return html`<div class="table-wrap events-wrap">
    <table class="staff-table events" id="watch-events">
      <caption class="sr-only">${t('watch.events')}</caption>
      <thead>
        <tr>
          <th scope="col">${t('watch.col_time')}</th>
          <th scope="col">${t('watch.col_event')}</th>
          <th scope="col" class="party-col">${t('watch.col_party')}</th>
          <th scope="col" class="amount">${t('watch.col_amount')}</th>
        </tr>
      </thead>
      <tbody>
        ${shown.map(({ seq, server_time: at, event }) => {
          const amount = amountOf(event);
          return html`<tr id=${`event-${seq}`} data-seq=${seq} data-type=${event.type} class=${seq === highlight ? 'recorded' : ''}>
            <td class="num"><time title=${zoneLabel(event.at ?? at, locale)}>${formatTime(event.at ?? at, locale)}</time></td>
            <td>
              <span class="what">${eventText(event, live.labels, currency)}</span>
              <details class="raw">
                <summary>${t('ui.details')}</summary>
                <dl>
                  <dt>${t('watch.field_seq')}</dt><dd class="num">${seq}</dd>
                  ${fieldsOf(event).map(([name, value]) => html`<dt>${name}</dt><dd>${value}</dd>`)}
                </dl>
              </details>
            </td>
            <td class="party-col">${partyText(event.bidder, live.labels)}</td>
            <td class="amount num">${amount === null ? '' : money(amount, currency)}</td>
          </tr>`;
        })}
      </tbody>
    </table>
  </div>`;
}

export function Watch({ staff, id, onEvent = null }) {
  useStylesheet('/app/staff/watch.css');
  const { contract, failed } = useContract();
  if (failed) return html`<p class="field-error" role="alert">${t('watch.contract_failed')}</p>`;
  if (!contract) return html`<p class="loading" role="status">${t('ui.loading')}</p>`;
  return html`<${Watching} staff=${staff} id=${id} contract=${contract} onEvent=${onEvent} />`;
}

function Watching({ staff, id, contract, onEvent }) {
  const [, setTick] = useState(0);
  const [recorded, setRecorded] = useState(null); // {text, seq}
  const liveRef = useRef(null);
  if (!liveRef.current) {
    liveRef.current = new OfficerLive({ id, token: staff.token }, contract, () => setTick((n) => n + 1));
  }
  const live = liveRef.current;
  const state = live.state;
  useEffect(() => {
    live.start();
    const timer = setInterval(() => setTick((n) => n + 1), 500);
    return () => {
      clearInterval(timer);
      live.stop();
    };
  }, []);
  useEffect(() => {
    onEvent?.(state);
  }, [state.lastSeq, state.phase]);
  const currency = state.rules?.currency;
  const { points, marks } = useMemo(() => chartOf(live.events, state.format), [state.lastSeq]);
  const labels = useMemo(
    () => [...live.labels.entries()].map(([party, label]) => ({ label: party, text: `${party} (${label})` })),
    [live.labels.size],
  );
  const winner = state.result?.winners?.[0] ?? null;
  // The time axis: from the start to now while running (to the second), to the end after.
  const startedAt = live.events.find((e) => e.event.type === 'AuctionStarted')?.event.at ?? null;
  const untilUs =
    state.phase === 'running' && live.clock.nowUs() !== null
      ? Math.floor(live.clock.nowUs() / 1_000_000) * 1_000_000
      : (state.result?.endedAt ?? null);

  async function cancel(note) {
    const answer = await staff.fetch(`/api/v1/auctions/${encodeURIComponent(id)}/cancel`, {
      method: 'POST',
      body: { note },
    });
    if (!answer.ok) return problemText(answer);
    setRecorded({ text: t('watch.recorded_cancel', { seq: answer.body.seq }), seq: answer.body.seq });
    return null;
  }
  // The stream's table is drawn again only when an event came (or the language or the
  // highlighted event changed), not on every tick of the clock.
  const table = useMemo(
    () => html`<${EventsTable} live=${live} currency=${currency} highlight=${recorded?.seq ?? null} />`,
    [state.lastSeq, currency, recorded?.seq, language()],
  );
  const ready = state.conn === 'live' && state.rules !== null;
  return html`<div class="watch" id="watch" data-ready=${ready ? 'yes' : 'no'} data-last-seq=${state.lastSeq} data-phase=${state.phase}>
    <${Banner} state=${state} now=${performance.now()} />
    <div class="watch-grid">
      <section class="panel watch-status" aria-labelledby="watch-status-title">
        <h2 id="watch-status-title" class="sr-only">${t('watch.status')}</h2>
        <p class="watch-conn"><span role="status" aria-live="polite"><${Connection} state=${state} /></span></p>
        ${state.rules ? html`<${Clock} state=${state} clock=${live.clock} />` : null}
        <p class="recorded-notice" role="status" id="watch-recorded">${recorded ? recorded.text : ''}</p>
        <h3>${t('watch.standing')}</h3>
        ${state.rules ? html`<${Standing} live=${live} state=${state} />` : null}
      </section>
      <section class="panel watch-chart" aria-labelledby="watch-chart-title">
        <h2 id="watch-chart-title">${t('watch.chart')}</h2>
        ${currency
          ? html`<${OffersChart}
              points=${points}
              marks=${marks}
              labels=${labels}
              winner=${winner}
              currency=${currency}
              from_us=${startedAt}
              until_us=${untilUs}
              caption=${null}
            />`
          : null}
      </section>
      <section class="panel watch-bidders" aria-labelledby="watch-bidders-title">
        <h2 id="watch-bidders-title">${t('watch.bidders')}</h2>
        ${state.rules
          ? html`<${Bidders}
              live=${live}
              state=${state}
              staff=${staff}
              id=${id}
              onRecorded=${(text, seq) => setRecorded({ text, seq })}
            />`
          : null}
        ${state.phase !== 'ended' && state.rules
          ? html`<div class="cancel-box">
              <h3>${t('watch.cancel_title')}</h3>
              <p class="hint">${t('watch.cancel_hint')}</p>
              <${ReasonedAction}
                id="cancel"
                label=${t('watch.cancel')}
                question=${t('watch.cancel_question')}
                confirmLabel=${t('watch.cancel_confirm')}
                onSubmit=${cancel}
              />
            </div>`
          : null}
      </section>
      <${Rules} state=${state} auction=${id} />
      <section class="panel watch-events" aria-labelledby="watch-events-title">
        <h2 id="watch-events-title">${t('watch.events')}</h2>
        <p class="hint">${t('watch.events_hint', { zone: zoneLabel(Date.now() * 1000, formatLocale()) })}</p>
        ${table}
      </section>
    </div>
  </div>`;
}
