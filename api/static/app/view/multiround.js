// The multi-round auction (the Prozorro model): the round and its turn order, whose turn
// it is and how long it has left on the server's clock, my turn with its bid and pass,
// and my place before and after each of my turns. A turn's bid stays private until the
// turn ends (the server sends no one else's): only mine is shown, as mine.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect } from '/vendor/preact@11.2.0/hooks.mjs';
import { t } from '../i18n.js';
import { myPlace, nextValidBid } from '../live.js';
import { formatCountdown } from '../time.js';
import { AmountField, useAmountField } from './amount_field.js';
import { labelText, money, requestText } from './common.js';

function placeText(place) {
  return place ? t('ui.rank_of', { rank: place.rank, count: place.count }) : t('ui.no_offer');
}

/** The status panel's clock for a multi-round auction: the turn's time, or the pause's. */
export function TurnClock({ state, clock }) {
  let label = t('phase.new');
  let value = '';
  let deadline = null;
  if (state.phase === 'scheduled' && state.rules) {
    label = t('ui.starts_in');
    deadline = state.rules.starts_at;
  } else if (state.phase === 'running' && state.turn) {
    label = state.turn.you ? t('multiround.your_time') : t('multiround.turn_time');
    deadline = state.turn.endsAt;
  } else if (state.phase === 'running' && state.resumesAt !== null) {
    label = t('multiround.next_round_in');
    deadline = state.resumesAt;
  } else if (state.phase === 'ended') {
    label = t('ui.time_left');
    value = t('phase.ended');
  }
  if (deadline !== null) value = formatCountdown(clock.untilUs(deadline) ?? 0);
  const mine = state.phase === 'running' && state.turn?.you;
  return html`<div>
    <h2>${label}</h2>
    <p class=${`clock num${mine ? ' soft' : ''}`} id="clock" role="timer">${value}</p>
  </div>`;
}

function TurnOrder({ state }) {
  const order = state.order;
  if (!order.length) return null;
  // The round goes from the worst offer to the best: the leader bids last.
  const current = state.turn?.bidder ?? null;
  const done = new Set();
  if (current !== null) {
    for (const label of order) {
      if (label === current) break;
      done.add(label);
    }
  }
  return html`<div>
    <h3 class="mr-sub" id="order-title">${t('multiround.order')}</h3>
    <ol class="mr-order" id="turn-order" aria-labelledby="order-title">
      ${order.map((label) => {
        const you = label === state.you;
        const now = label === current;
        const status = now ? 'now' : done.has(label) ? 'done' : 'waiting';
        return html`<li class=${`${status}${you ? ' mine' : ''}`} data-label=${label} data-status=${status}
          aria-current=${now ? 'step' : null}>
          <span>${you ? t('ui.you') : labelText(label)}</span>
          <span class="muted">${t(`multiround.status_${status}`)}</span>
        </li>`;
      })}
    </ol>
  </div>`;
}

function TurnForm({ state, live }) {
  const currency = state.rules?.currency;
  const next = state.turn?.you ? nextValidBid(state) : null;
  const mine = state.phase === 'running' && !!state.turn?.you;
  const open = mine && state.conn === 'live';
  // A new turn starts with the least valid bid pre-filled again.
  const turnKey = state.turn ? `${state.round}:${state.turn.bidder}` : '';
  const field = useAmountField({ next, currency, resetKey: turnKey });

  function submit(event) {
    event.preventDefault();
    if (!currency || !open) return;
    const plain = field.read();
    if (plain !== null && live.bid(plain)) field.clear();
  }

  const request = state.lastAnswer;
  return html`<form class="bid" id="turn-form" onSubmit=${submit} novalidate>
    <${AmountField}
      field=${field}
      bound=${next === null ? '' : t('ui.highest_valid_bid', { amount: money(next, currency) })}
      disabled=${!mine}
    />
    <div class="actions mr-actions">
      <button type="submit" class="primary" id="place" disabled=${!open}>
        ${state.turnBid === null ? t('ui.place_bid') : t('multiround.replace_bid')}
      </button>
      <button type="button" id="pass" disabled=${!open} onClick=${() => open && live.pass()}>
        ${t('multiround.pass')}
      </button>
    </div>
    <p class=${`result ${request?.status ?? ''}`} id="last-answer" aria-live="assertive">
      ${request ? requestText(request, currency) : ''}
    </p>
  </form>`;
}

/** The bid panel of a multi-round auction. */
export function MultiRound({ state, live }) {
  const currency = state.rules?.currency;
  const turn = state.turn;
  const rounds = state.rules?.rounds ?? 0;
  let whose;
  if (state.phase === 'scheduled') whose = t('ui.not_started');
  else if (turn?.you) whose = t('multiround.your_turn');
  else if (turn) whose = t('multiround.turn_of', { bidder: labelText(turn.bidder) });
  else if (state.resumesAt !== null) whose = t('multiround.between_rounds');
  else whose = t('multiround.no_turn');
  const last = state.turns[0] ?? null;
  // Joined before the start: the others' tender-stage offers were hidden then.
  useEffect(() => {
    if (state.missingOffers) live.fillOffers();
  }, [state.missingOffers, state.round]);
  return html`<div class=${`multiround${turn?.you ? ' my-turn' : ''}`} id="multiround">
    <h2 id="round">
      ${state.round
        ? t('multiround.round_of', { round: state.round, rounds })
        : t('multiround.before_rounds', { rounds })}
    </h2>
    <p class=${`mr-whose${turn?.you ? ' mine' : ''}`} id="whose-turn" aria-live="polite">${whose}</p>
    ${state.turnBid !== null
      ? html`<p class="hint num" id="turn-bid">
          ${t('multiround.turn_bid', { amount: money(state.turnBid, currency) })}
        </p>`
      : null}
    <${TurnForm} state=${state} live=${live} />
    <dl class="figures mr-places" id="my-places">
      <dt>${t('multiround.place_before')}</dt>
      <dd class="num" id="place-before">
        ${turn?.you ? placeText(myPlace(state)) : last ? placeText(last.before) : t('ui.no_offer')}
      </dd>
      <dt>${t('multiround.place_after')}</dt>
      <dd class="num" id="place-after">
        ${turn?.you || !last ? '–' : placeText(last.after)}
      </dd>
    </dl>
    ${last && !turn?.you
      ? html`<p class="hint" id="last-turn">
          ${t(last.passed ? 'multiround.you_passed' : 'multiround.turn_ended', {
            round: last.round,
            amount: last.price === null ? t('ui.no_offer') : money(last.price, currency),
          })}
        </p>`
      : null}
    <${TurnOrder} state=${state} />
  </div>`;
}
