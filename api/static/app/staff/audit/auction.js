// #/audit/auction/<id>: the auditor's replay of a finished auction.
//
// Loads the auction as the server reports it (GET /api/v1/auctions/<id>: its rules and its
// result) and its red flags (GET /api/v1/audit/auctions/<id>/flags), and replays its log
// over the websocket (replay.js): play, pause, speed and a timeline to seek. Beside the
// event list, the state at that point (live.js's fold of the events held): best offer,
// ranking, the end in force, round and turn. The offers-over-time chart (staff/chart.js)
// per anonymous bidder label with the soft-close extensions and rounds and turns marked,
// and the final ranking the replay ends in next to the result the server reports, with
// whether they agree. Flags show the events behind them (highlighted, jumped to).
// Identifiers (the auction's, the parties') are behind "Details". The verification panel
// is helper H4's (verify_panel.js), imported lazily: without it the page works the same.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useMemo, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { loadContract } from '../../contract.js';
import { formatLocale, has, t } from '../../i18n.js';
import { formatDateTime, formatTime, zoneLabel } from '../../time.js';
import { labelText, money } from '../../view/common.js';
import { OffersChart } from '../chart.js';
import { useStylesheet } from '../style.js';
import { FlagsPanel } from './flags.js';
import { chartOf, labelsOf, rankingOf, ReplaySocket, SPEEDS, stateAt } from './replay.js';
import { VerifyPanel } from './verify_panel.js';

/** 'BidAccepted' -> 'bid_accepted' (the catalog's keys are lower case). */
export function snake(name) {
  return String(name).replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** The event's line in the list: its words (catalog replay.event_<Type>) and amount. */
function eventWords(event, label, currency) {
  const params = {
    bidder: event.bidder ? labelText(label(event.bidder)) : '',
    round: event.round ?? '',
  };
  const key = `replay.event_${snake(event.type)}`;
  let text = has(key) ? t(key, params) : event.type;
  if (event.type === 'BidAccepted' && event.proxy) text = t('replay.event_proxy_bid', params);
  if (event.type === 'TurnEnded' && event.passed) text = t('replay.event_turn_passed', params);
  let amount = null;
  for (const field of ['price', 'initial_bid', 'limit']) {
    if (event[field] !== null && event[field] !== undefined) {
      amount = event[field];
      break;
    }
  }
  if (event.type === 'EndExtended') amount = null;
  return { text, amount: amount === null ? '' : money(amount, currency) };
}

function outcomeText(result, label, currency) {
  if (!result) return '';
  if (result.outcome === 'awarded') {
    const winner = (result.winners ?? []).map((w) => labelText(label(w))).join(', ');
    return t('audit.outcome_won', { winner, amount: money(result.price, currency) });
  }
  return has(`result.${result.outcome}`) ? t(`result.${result.outcome}`) : result.outcome;
}

function RankingTable({ id, rows, label, currency, caption }) {
  if (!rows.length) return html`<p class="muted" id=${id}>${t('audit.no_offers')}</p>`;
  return html`<table class="audit-table ranking" id=${id}>
    <caption class="visually-hidden">${caption}</caption>
    <thead>
      <tr>
        <th scope="col">${t('audit.col_rank')}</th>
        <th scope="col">${t('audit.col_bidder')}</th>
        <th scope="col" class="amount">${t('audit.col_amount')}</th>
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (row) => html`<tr data-bidder=${labelText(label(row.bidder))} data-price=${String(row.price ?? '')}>
          <td class="num">${row.rank}</td>
          <td>${labelText(label(row.bidder))}</td>
          <td class="amount num">${row.price === null || row.price === undefined ? '—' : money(row.price, currency)}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

function StatePanel({ state, label, currency, held, locale }) {
  const best = state.best;
  const rows = rankingOf(state);
  return html`<section class="panel replay-state" id="replay-state" aria-labelledby="replay-state-title">
    <h2 id="replay-state-title">${t('replay.state_title', { seq: held })}</h2>
    <dl class="replay-figures">
      <div>
        <dt>${t('replay.phase')}</dt>
        <dd id="state-phase" data-phase=${state.phase}>${t(`phase.${state.phase}`)}</dd>
      </div>
      <div>
        <dt>${t('replay.best_offer')}</dt>
        <dd class="num" id="state-best" data-price=${best ? String(best.price) : ''}>
          ${best ? `${money(best.price, currency)} · ${labelText(label(best.label))}` : t('audit.none')}
        </dd>
      </div>
      ${state.endsAt !== null && state.endsAt !== undefined && state.format !== 'multiround'
        ? html`<div>
            <dt>${t('replay.ends_at')}</dt>
            <dd class="num" id="state-ends" title=${zoneLabel(state.endsAt, locale)}>
              ${formatTime(state.endsAt, locale)}
              ${state.extension ? html` <span class="badge warn">${t('replay.extended')}</span>` : null}
            </dd>
          </div>`
        : null}
      ${state.format === 'multiround'
        ? html`<div>
              <dt>${t('replay.round')}</dt>
              <dd class="num" id="state-round">${state.round || '—'}</dd>
            </div>
            <div>
              <dt>${t('replay.turn')}</dt>
              <dd id="state-turn">${state.turn ? labelText(label(state.turn.bidder)) : '—'}</dd>
            </div>`
        : null}
    </dl>
    <h3>${t('replay.standing')}</h3>
    <${RankingTable} id="state-ranking" rows=${rows} label=${label} currency=${currency} caption=${t('replay.standing')} />
  </section>`;
}

function EventList({ events, label, currency, highlight, locale, listRef }) {
  return html`<section class="panel replay-events" aria-labelledby="replay-events-title">
    <h2 id="replay-events-title">${t('replay.events_title', { count: events.length })}</h2>
    <div class="table-scroll" ref=${listRef} tabindex="0" role="region" aria-labelledby="replay-events-title">
      <table class="audit-table events" id="replay-events">
        <thead>
          <tr>
            <th scope="col" class="num">${t('replay.col_seq')}</th>
            <th scope="col">${t('replay.col_time')}</th>
            <th scope="col">${t('replay.col_event')}</th>
            <th scope="col" class="amount">${t('audit.col_amount')}</th>
          </tr>
        </thead>
        <tbody>
          ${events.map((event) => {
            const words = eventWords(event, label, currency);
            const marked = highlight.has(event.seq);
            return html`<tr
              id=${`ev-${event.seq}`}
              data-seq=${String(event.seq)}
              data-type=${event.type}
              class=${marked ? 'flagged' : ''}
              tabindex=${marked ? '-1' : null}
            >
              <td class="num">${event.seq}</td>
              <td class="num" title=${zoneLabel(event.at, locale)}>${formatTime(event.at, locale)}</td>
              <td>${words.text}${marked ? html` <span class="badge warn">${t('replay.flagged')}</span>` : null}</td>
              <td class="amount num">${words.amount}</td>
            </tr>`;
          })}
        </tbody>
      </table>
    </div>
  </section>`;
}

function Controls({ replay, held, last, events, locale }) {
  const playing = replay.status === 'playing';
  const at = events.length ? events[events.length - 1].at : null;
  const where = t('replay.position', { seq: held, last: last ?? 0 });
  return html`<section class="panel replay-controls" aria-label=${t('replay.controls')}>
    <div class="control-row">
      <button
        type="button"
        class="primary"
        id="replay-play"
        disabled=${replay.status === 'connecting' || replay.status === 'failed'}
        onClick=${() => (playing ? replay.pause() : replay.play())}
      >
        ${playing ? t('replay.pause') : t('replay.play')}
      </button>
      <label class="speed">
        <span>${t('replay.speed')}</span>
        <select id="replay-speed" value=${replay.speed} onChange=${(e) => replay.setSpeed(e.target.value)}>
          ${SPEEDS.map((speed) => html`<option value=${speed}>${t('replay.speed_value', { speed })}</option>`)}
        </select>
      </label>
      <p class="replay-status" role="status" id="replay-status" data-status=${replay.status} data-held=${String(held)}>
        ${t(`replay.status_${replay.status}`)} · ${where}${at !== null ? ` · ${formatTime(at, locale)}` : ''}
      </p>
    </div>
    <label class="timeline" for="replay-timeline">${t('replay.timeline')}</label>
    <input
      type="range"
      id="replay-timeline"
      min="0"
      max=${String(last ?? 0)}
      step="1"
      value=${String(held)}
      aria-valuetext=${where}
      disabled=${last === null}
      onChange=${(e) => replay.seekTo(Number(e.target.value))}
    />
  </section>`;
}


export default function AuditAuction({ staff, params }) {
  useStylesheet('/app/staff/audit.css');
  const [auctionId] = params;
  const locale = formatLocale();
  const [info, setInfo] = useState({ state: 'loading', auction: null, problem: null });
  const [flags, setFlags] = useState({ state: 'loading', list: [] });
  const [, setTick] = useState(0);
  const [highlight, setHighlight] = useState({ seqs: new Set(), index: null });
  const replayRef = useRef(null);
  const listRef = useRef(null);

  useEffect(() => {
    let live = true;
    (async () => {
      const path = `/api/v1/auctions/${encodeURIComponent(auctionId)}`;
      const answer = await staff.fetch(path);
      if (!live) return;
      if (!answer.ok) {
        setInfo({ state: 'failed', auction: null, problem: answer.problem?.code ?? 'failed' });
        return;
      }
      setInfo({ state: 'ready', auction: answer.body, problem: null });
      if (answer.body.phase !== 'ended') return;
      const [contract, flagged] = await Promise.all([
        loadContract(),
        staff.fetch(`/api/v1/audit/auctions/${encodeURIComponent(auctionId)}/flags`),
      ]);
      if (!live) return;
      setFlags(flagged.ok ? { state: 'ready', list: flagged.body.flags ?? [] } : { state: 'failed', list: [] });
      const replay = new ReplaySocket({
        auctionId,
        token: staff.token,
        contract,
        since: answer.body.seq ?? 0,
        onChange: () => setTick((n) => n + 1),
      });
      replayRef.current = replay;
      replay.start();
    })();
    return () => {
      live = false;
      replayRef.current?.stop();
    };
  }, [auctionId]);

  const replay = replayRef.current;
  const events = replay ? replay.events : [];
  const held = events.length;
  const lastSeq = held ? events[held - 1].seq : 0;
  const state = useMemo(() => stateAt(events), [lastSeq, held, replay?.status]);
  const allLabels = useMemo(() => labelsOf(events), [lastSeq, held]);
  const label = (party) => allLabels.get(party) ?? party;
  const auction = info.auction;
  const currency = auction?.currency ?? 'EUR';
  const words = (kind, p) =>
    kind === 'extension'
      ? t('replay.mark_extension', { from: formatTime(p.from, locale), to: formatTime(p.to, locale) })
      : kind === 'round'
        ? t('replay.mark_round', p)
        : t('replay.mark_turn', { round: p.round ?? '', bidder: labelText(p.bidder) });
  const chart = useMemo(() => chartOf(events, words), [lastSeq, held, locale]);
  const result = auction?.result ?? null;
  const replayRows = rankingOf(state);
  const ended = state.phase === 'ended' && replay?.status === 'ended';
  const agrees =
    ended &&
    result &&
    JSON.stringify(replayRows.map((r) => [r.bidder, String(r.price)])) ===
      JSON.stringify((result.ranking ?? []).map((r) => [r.bidder, String(r.price)]));

  // Once the flagged events are held, bring the first into view and focus it.
  useEffect(() => {
    if (!highlight.seqs.size) return;
    const first = Math.min(...highlight.seqs);
    const row = document.getElementById(`ev-${first}`);
    if (row) {
      row.scrollIntoView?.({ block: 'nearest' });
      row.focus?.({ preventScroll: true });
    }
  }, [highlight, held]);

  function showFlag(seqs, index) {
    setHighlight({ seqs: new Set(seqs), index });
    const wanted = Math.max(...seqs);
    if (replay && wanted > held) replay.seekTo(wanted);
  }

  if (info.state === 'loading') {
    return html`<main class="staff-main"><p class="loading">${t('ui.loading')}</p></main>`;
  }
  if (info.state === 'failed') {
    return html`<main class="staff-main audit" data-ready="yes">
      <h1>${t('audit.replay_title')}</h1>
      <p id="audit-problem" role="alert">${has(`code.${info.problem}`) ? t(`code.${info.problem}`) : t('audit.load_failed')}</p>
      <p><a href="#/audit">${t('audit.back')}</a></p>
    </main>`;
  }
  const formatWords = has(`format.${auction.format}`) ? t(`format.${auction.format}`) : auction.format;
  if (auction.phase !== 'ended') {
    return html`<main class="staff-main audit" data-ready="yes">
      <h1>${formatWords}</h1>
      <p id="audit-not-ended">${t('audit.not_ended')}</p>
      <p><a href="#/audit">${t('audit.back')}</a></p>
    </main>`;
  }
  const ready = replay && replay.status !== 'connecting' && flags.state !== 'loading';
  const winner = result?.winners?.[0] ? label(result.winners[0]) : null;
  const endedAt = result?.at ?? null;
  return html`<main class="staff-main audit audit-replay" data-ready=${ready ? 'yes' : 'no'}>
    <p class="crumbs"><a href="#/audit">${t('audit.back')}</a></p>
    <h1 id="audit-title">${t('audit.replay_heading', { format: formatWords })}</h1>
    <p class="lead" id="audit-outcome">
      ${outcomeText(result, label, currency)}
      ${endedAt ? html` <span class="muted" title=${zoneLabel(endedAt, locale)}>${t('audit.ended_at', { time: formatDateTime(endedAt, locale, { seconds: true }) })}</span>` : null}
    </p>
    ${replay?.error
      ? html`<p class="banner" role="alert" id="replay-error">${has(`replay.error_${replay.error}`) ? t(`replay.error_${replay.error}`) : t('replay.error')}</p>`
      : null}
    <${Controls} replay=${replay ?? { status: 'connecting', speed: '1' }} held=${held} last=${replay?.last ?? null} events=${events} locale=${locale} />
    <div class="replay-grid">
      <${StatePanel} state=${state} label=${label} currency=${currency} held=${held} locale=${locale} />
      <${EventList} events=${events} label=${label} currency=${currency} highlight=${highlight.seqs} locale=${locale} listRef=${listRef} />
    </div>
    <div class="replay-grid chart-row">
      <section class="panel replay-chart" aria-label=${t('chart.title')}>
        <${OffersChart}
          points=${chart.points}
          marks=${chart.marks}
          labels=${[...chart.labels.values()].map((l) => ({ label: l, text: labelText(l) }))}
          winner=${winner}
          currency=${currency}
          until_us=${held ? events[held - 1].at : null}
          id="replay-chart"
        />
        ${chart.marks.length
          ? html`<ul class="mark-list" id="chart-marks">
              ${chart.marks.map(
                (mark) => html`<li data-kind=${mark.kind}><span class=${`band-key ${mark.kind}`} aria-hidden="true"></span>${mark.text}</li>`,
              )}
            </ul>`
          : null}
      </section>
      <section class="panel final-ranking" aria-labelledby="final-title">
        <h2 id="final-title">${t('audit.final_ranking')}</h2>
        <${RankingTable} id="result-ranking" rows=${result?.ranking ?? []} label=${label} currency=${currency} caption=${t('audit.final_ranking')} />
        <p id="ranking-check" data-agrees=${ended ? (agrees ? 'yes' : 'no') : 'pending'} class=${ended ? (agrees ? 'ok' : 'bad') : 'muted'}>
          ${ended ? (agrees ? t('audit.ranking_agrees') : t('audit.ranking_differs')) : t('audit.ranking_pending')}
        </p>
      </section>
    </div>
    <${FlagsPanel}
      flags=${flags.list}
      state=${flags.state}
      currency=${currency}
      label=${label}
      shown=${highlight.index}
      onShow=${showFlag}
    />
    <${VerifyPanel} staff=${staff} id=${auctionId} kind="auction" />
    <details class="panel audit-details" id="audit-details">
      <summary>${t('audit.details')}</summary>
      <dl>
        <div><dt>${t('audit.auction_id')}</dt><dd><code>${auctionId}</code></dd></div>
        ${[...allLabels.entries()].map(
          ([party, l]) => html`<div><dt>${labelText(l)}</dt><dd><code>${party}</code></dd></div>`,
        )}
      </dl>
    </details>
  </main>`;
}
