// A lot's opened envelopes on the officer's tender page: the documents of the stages
// opened before the financial one (qualification, technical: who sent what, to screen
// bidders out before the prices open), and the offers: the ranking the tender's criterion
// gives them (the server's, GET .../offers "ranking": what an award records), the offers
// that do not rank (invalid, excluded) with why, and the committee's next step: award
// (POST .../award), exclude a bidder with a reason (POST .../exclude, before the
// decision), or hand the prices to a multi-round auction (POST .../auction, when the
// tender's follow-up says so), each after a second, confirming click. After the decision:
// the award, or a link to the auction's officer page.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { moneyLocale, t } from '../../../i18n.js';
import { parseAmount } from '../../../money.js';
import { money } from '../../../view/common.js';
import { refusalText } from '../ceremony.js';
import { award, exclude, handOff } from './api.js';

const S = 1_000_000;

/** A score as the codec writes it (an int, or "n/d" for MEAT) in minor units, rounded
 *  half up to a whole minor unit, as a string of digits. */
export function scoreMinor(score) {
  const text = String(score);
  if (!text.includes('/')) return text;
  const [n, d] = text.split('/').map((part) => BigInt(part));
  return String((2n * n + d) / (2n * d));
}

/** A ref that focuses its element once each time `when` turns true (not at every render:
 *  the page re-renders every second, and the focus must stay where the officer put it). */
function useFocusWhen(when) {
  const ref = useRef(null);
  useEffect(() => {
    if (when) ref.current?.focus();
  }, [when]);
  return ref;
}

/** [ref, cancel]: the ref's element (the button that opened a confirmation) takes the
 *  focus back when `cancel()` closed it, so a keyboard user goes on from where they were. */
function useFocusBack(setState) {
  const ref = useRef(null);
  const back = useRef(false);
  useEffect(() => {
    if (back.current && ref.current) {
      back.current = false;
      ref.current.focus();
    }
  });
  return [
    ref,
    () => {
      back.current = true;
      setState({ step: 'idle' });
    },
  ];
}

function Refusal({ reason }) {
  return reason ? html`<p class="field-error" role="alert" data-reason=${reason}>${refusalText(reason)}</p>` : null;
}

function ExcludeForm({ staff, tender, lot, bidder, onDone, onChange }) {
  const [note, setNote] = useState('');
  const [state, setState] = useState({ step: 'idle' });
  const field = useFocusWhen(true);
  async function confirm(event) {
    event.preventDefault();
    if (!note.trim()) {
      setState({ step: 'refused', reason: 'no_reason' });
      return;
    }
    setState({ step: 'working' });
    const answer = await exclude(staff, tender.id, lot.id, bidder, note.trim());
    if (!answer.ok) {
      setState({ step: 'refused', reason: answer.problem?.code ?? 'failed' });
      return;
    }
    onDone();
    onChange();
  }
  const id = `exclude-note-${lot.id}-${bidder}`;
  return html`<form class="confirm exclude-form" onSubmit=${confirm} data-bidder=${bidder}>
    <label for=${id}>${t('ceremony.exclude_reason', { bidder })}</label>
    <textarea id=${id} class="exclude-note" rows="2" maxlength="1000" value=${note}
      ref=${field}
      onInput=${(e) => setNote(e.currentTarget.value)}></textarea>
    <p class="hint">${t('ceremony.exclude_hint')}</p>
    <div class="actions">
      <button type="submit" class="danger exclude-yes" disabled=${state.step === 'working'}>
        ${t('ceremony.exclude_confirm', { bidder })}
      </button>
      <button type="button" class="exclude-no" onClick=${() => onDone(true)}>${t('ceremony.cancel')}</button>
    </div>
    <${Refusal} reason=${state.step === 'refused' ? state.reason : null} />
  </form>`;
}

function Award({ staff, tender, lot, ranking, onChange }) {
  const [state, setState] = useState({ step: 'idle' });
  const yes = useFocusWhen(state.step === 'confirm');
  const [start, cancel] = useFocusBack(setState);
  const best = ranking[0];
  async function go() {
    setState({ step: 'working' });
    const answer = await award(staff, tender.id, lot.id);
    if (!answer.ok) {
      setState({ step: 'refused', reason: answer.problem?.code ?? 'failed' });
      return;
    }
    setState({ step: 'idle' });
    onChange();
  }
  if (state.step === 'idle' || state.step === 'refused') {
    return html`<div class="award">
      <button type="button" class="primary award-start" ref=${start} onClick=${() => setState({ step: 'confirm' })}>
        ${best ? t('ceremony.award', { bidder: best.bidder }) : t('ceremony.award_none')}
      </button>
      <${Refusal} reason=${state.step === 'refused' ? state.reason : null} />
    </div>`;
  }
  return html`<div class="confirm award-confirm" role="group" aria-labelledby=${`award-q-${lot.id}`}>
    <p id=${`award-q-${lot.id}`}>
      ${best
        ? t('ceremony.award_question', { bidder: best.bidder, price: money(best.price, tender.currency) })
        : t('ceremony.award_question_none')}
    </p>
    <div class="actions">
      <button type="button" class="primary award-yes" disabled=${state.step === 'working'} onClick=${go} ref=${yes}>
        ${t('ceremony.award_confirm')}
      </button>
      <button type="button" class="award-no" onClick=${cancel}>${t('ceremony.cancel')}</button>
    </div>
  </div>`;
}

function toLocalInput(us) {
  const date = new Date(Math.floor(us / 1000));
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function HandOff({ staff, tender, lot, nowUs, onChange }) {
  const template = tender.auction_rules ?? {};
  const [form, setForm] = useState(() => ({
    starts: toLocalInput(Math.max(template.starts_at ?? 0, nowUs + 10 * 60 * S)),
    turnMinutes: String(Math.max(1, Math.round((template.turn_us ?? 5 * 60 * S) / (60 * S)))),
    rounds: String(template.rounds ?? 3),
    step: template.step?.amount ?? '',
  }));
  const [state, setState] = useState({ step: 'idle' });
  const yes = useFocusWhen(state.step === 'confirm');
  const [start, cancel] = useFocusBack(setState);
  const set = (name) => (event) => setForm({ ...form, [name]: event.currentTarget.value });
  function rules() {
    const startsMs = new Date(form.starts).getTime();
    const turn = Number(form.turnMinutes);
    const rounds = Number(form.rounds);
    if (!Number.isFinite(startsMs)) return { field: 'starts' };
    if (!Number.isInteger(turn) || turn < 1) return { field: 'turn' };
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) return { field: 'rounds' };
    const body = {
      ...template,
      format: 'multiround',
      currency: tender.currency,
      starts_at: startsMs * 1000,
      turn_us: turn * 60 * S,
      rounds,
    };
    if (!template.step?.percent) {
      const parsed = parseAmount(form.step, tender.currency, moneyLocale());
      if (!parsed.ok) return { field: 'step' };
      body.step = { amount: parsed.value };
    }
    return { body };
  }
  async function confirm() {
    const made = rules();
    if (!made.body) {
      setState({ step: 'refused', reason: `bad_${made.field}` });
      return;
    }
    setState({ step: 'working' });
    const answer = await handOff(staff, tender.id, lot.id, made.body);
    if (!answer.ok) {
      setState({ step: 'refused', reason: answer.problem?.code ?? 'failed', detail: answer.problem?.detail });
      return;
    }
    setState({ step: 'idle' });
    onChange();
  }
  const id = (name) => `handoff-${name}-${lot.id}`;
  return html`<form class="handoff" onSubmit=${(e) => { e.preventDefault(); setState({ step: 'confirm' }); }}>
    <h4>${t('ceremony.handoff_title')}</h4>
    <p class="hint">${t('ceremony.handoff_explain')}</p>
    <label for=${id('starts')}>${t('ceremony.handoff_starts')}</label>
    <input id=${id('starts')} type="datetime-local" value=${form.starts} onInput=${set('starts')} required />
    <label for=${id('turn')}>${t('ceremony.handoff_turn')}</label>
    <div class="unit-row"><input id=${id('turn')} type="number" min="1" inputmode="numeric"
      value=${form.turnMinutes} onInput=${set('turnMinutes')} /><span class="unit">${t('ceremony.minutes')}</span></div>
    <label for=${id('rounds')}>${t('ceremony.handoff_rounds')}</label>
    <input id=${id('rounds')} type="number" min="1" max="100" inputmode="numeric" value=${form.rounds}
      onInput=${set('rounds')} />
    ${template.step?.percent
      ? html`<p>${t('ceremony.handoff_step_percent', { percent: template.step.percent })}</p>`
      : html`<label for=${id('step')}>${t('ceremony.handoff_step')}</label>
          <div class="unit-row"><input id=${id('step')} inputmode="decimal" placeholder="100.00" value=${form.step}
            onInput=${set('step')} /><span class="unit">${tender.currency}</span></div>`}
    ${state.step === 'confirm' || state.step === 'working'
      ? html`<div class="confirm" role="group" aria-labelledby=${id('q')}>
          <p id=${id('q')}>${t('ceremony.handoff_question')}</p>
          <div class="actions">
            <button type="button" class="primary handoff-yes" disabled=${state.step === 'working'} onClick=${confirm}
              ref=${yes}>${t('ceremony.handoff_confirm')}</button>
            <button type="button" class="handoff-no" onClick=${cancel}>${t('ceremony.cancel')}</button>
          </div>
        </div>`
      : html`<button type="submit" class="primary handoff-start" ref=${start}>${t('ceremony.handoff')}</button>`}
    <${Refusal} reason=${state.step === 'refused' ? state.reason : null} />
  </form>`;
}

function Decision({ tender, decision }) {
  if (decision.type === 'LotHandedOff') {
    return html`<div class="decision" data-decision="handoff">
      <p>${t('ceremony.handed_off')}</p>
      <a class="button primary" href=${`#/officer/auction/${encodeURIComponent(decision.auction_id)}`}>
        ${t('ceremony.open_auction')}</a>
    </div>`;
  }
  return html`<div class="decision" data-decision="award" data-winner=${decision.winner ?? ''}>
    <p class="decision-text">
      ${decision.winner
        ? t('ceremony.awarded', { bidder: decision.winner, price: money(decision.price, tender.currency), by: decision.by })
        : t('ceremony.awarded_none', { by: decision.by })}
    </p>
  </div>`;
}

/** The documents an opened envelope's summary names (the server's JSON: name -> size,
 *  SHA-256), as [{name, size}]; none when it does not read. */
export function documentsOf(summary) {
  try {
    const parsed = JSON.parse(summary || '{}');
    return Object.entries(parsed.documents ?? {}).map(([name, doc]) => ({ name, size: Number(doc.size) }));
  } catch {
    return [];
  }
}

function sizeText(bytes) {
  if (!Number.isFinite(bytes)) return '';
  if (bytes < 1024) return t('ceremony.size_bytes', { n: bytes });
  return t('ceremony.size_kib', { n: Math.ceil(bytes / 1024) });
}

/** The envelopes of the stages before the financial one, per bidder, each with its
 *  documents, and the exclusion while the lot is not decided. */
function Documents({ staff, tender, lot, offers, excluding, setExcluding, closeExclusion, onChange }) {
  const opened = offers.offers.filter((o) => o.kind !== 'financial');
  if (!opened.length) return null;
  const excluded = new Set(lot.excluded ?? []);
  const open = lot.phase !== 'decided';
  return html`<section class="documents" aria-labelledby=${`documents-title-${lot.id}`}>
    <h3 id=${`documents-title-${lot.id}`}>${t('ceremony.documents_title')}</h3>
    <ul class="envelopes">
      ${opened.map((o) => {
        const docs = o.type === 'EnvelopeOpened' ? documentsOf(o.document) : [];
        const key = `${o.bidder}-${o.kind}`;
        return html`<li data-bidder=${o.bidder} data-kind=${o.kind} key=${key}>
          <div class="envelope-head">
            <strong>${o.bidder}</strong>
            <span class="muted">${t(`ceremony.stage_${o.kind}`)}</span>
            ${excluded.has(o.bidder)
              ? html`<span class="badge excluded">${t('ceremony.unranked_excluded')}</span>`
              : open
                ? html`<button type="button" class="exclude" data-bidder=${o.bidder} aria-expanded=${String(excluding === o.bidder)}
                    onClick=${() => setExcluding(excluding === o.bidder ? null : o.bidder)}>
                    ${t('ceremony.exclude')}<span class="sr-only"> ${o.bidder}</span>
                  </button>`
                : null}
          </div>
          ${o.type === 'EnvelopeInvalid'
            ? html`<p class="field-error">${t('ceremony.unranked_invalid')}</p>`
            : docs.length
              ? html`<ul class="docs">${docs.map((d) => html`<li><span class="doc-name">${d.name}</span>
                  <span class="muted num"> ${sizeText(d.size)}</span></li>`)}</ul>`
              : html`<p class="muted">${t('ceremony.no_documents')}</p>`}
          ${excluding === o.bidder && open && !excluded.has(o.bidder)
            ? html`<${ExcludeForm} staff=${staff} tender=${tender} lot=${lot} bidder=${o.bidder}
                onDone=${(cancelled) => closeExclusion(cancelled)} onChange=${onChange} />`
            : null}
        </li>`;
      })}
    </ul>
  </section>`;
}

function offerNote(offer, tender) {
  const notes = [];
  if (offer.features?.length) {
    notes.push(offer.features.map((f) => `${f.name}: ${f.value}`).join(', '));
  }
  if (offer.cost !== null && offer.cost !== undefined && tender.criterion === 'life_cycle_cost') {
    notes.push(t('ceremony.cost', { cost: money(offer.cost, tender.currency) }));
  }
  return notes.join(' · ');
}

/** The lot's opened offers and the step after them. */
export function Offers({ staff, tender, lot, offers, nowUs, onChange }) {
  const [excluding, setExcluding] = useState(null);
  const back = useRef(null); // the bidder whose Exclude button takes the focus back
  // A cancelled exclusion gives the focus back to its row's Exclude button.
  function closeExclusion(cancelled) {
    back.current = cancelled ? excluding : null;
    setExcluding(null);
  }
  useEffect(() => {
    if (back.current === null || excluding !== null) return;
    const bidder = back.current;
    back.current = null;
    const root = document.querySelector(`[data-lot="${CSS.escape(lot.id)}"]`);
    [...(root?.querySelectorAll('button.exclude') ?? [])].find((b) => b.dataset.bidder === bidder)?.focus();
  });
  const ranking = offers.ranking ?? [];
  const scored = tender.criterion !== 'price';
  const decided = offers.decision ?? null;
  const byBidder = new Map(
    offers.offers.filter((o) => o.type === 'EnvelopeOpened' && o.kind === 'financial').map((o) => [o.bidder, o]),
  );
  const ranked = new Set(ranking.map((r) => r.bidder));
  const excluded = new Set(lot.excluded ?? []);
  const unranked = offers.offers.filter((o) => o.kind === 'financial' && !ranked.has(o.bidder));
  const documents = html`<${Documents} staff=${staff} tender=${tender} lot=${lot} offers=${offers}
    excluding=${excluding} setExcluding=${setExcluding} closeExclusion=${closeExclusion} onChange=${onChange} />`;
  if (lot.phase === 'closed') return documents; // the financial stage is still sealed
  return html`${documents}<section class="offers" aria-labelledby=${`offers-title-${lot.id}`} data-ranked=${ranking.length}>
    <h3 id=${`offers-title-${lot.id}`}>${t('ceremony.offers_title')}</h3>
    ${ranking.length
      ? html`<div class="table-wrap"><table class="ranking">
          <caption class="sr-only">${t('ceremony.offers_caption', { lot: lot.title || lot.id })}</caption>
          <thead><tr>
            <th scope="col">${t('ceremony.col_rank')}</th>
            <th scope="col">${t('ceremony.col_supplier')}</th>
            <th scope="col" class="amount">${t('ceremony.col_price')}</th>
            ${scored ? html`<th scope="col" class="amount">${t(`ceremony.col_score_${tender.criterion}`)}</th>` : null}
            ${decided ? null : html`<th scope="col"><span class="sr-only">${t('ceremony.col_actions')}</span></th>`}
          </tr></thead>
          <tbody>
            ${ranking.map((r) => html`<tr data-bidder=${r.bidder} data-rank=${r.rank} data-price=${r.price}>
              <td class="num">${r.rank}</td>
              <td class="supplier">${r.bidder}${offerNote(byBidder.get(r.bidder) ?? {}, tender)
                ? html`<span class="after">${offerNote(byBidder.get(r.bidder), tender)}</span>` : null}</td>
              <td class="amount num">${money(r.price, tender.currency)}</td>
              ${scored ? html`<td class="amount num">${money(scoreMinor(r.score), tender.currency)}</td>` : null}
              ${decided ? null : html`<td class="row-actions">
                <button type="button" class="exclude" data-bidder=${r.bidder} aria-expanded=${String(excluding === r.bidder)}
                  onClick=${() => setExcluding(excluding === r.bidder ? null : r.bidder)}>
                  ${t('ceremony.exclude')}<span class="sr-only"> ${r.bidder}</span>
                </button>
              </td>`}
            </tr>
            ${excluding === r.bidder && !decided
              ? html`<tr class="exclude-row"><td colspan=${scored ? 5 : 4}>
                  <${ExcludeForm} staff=${staff} tender=${tender} lot=${lot} bidder=${r.bidder}
                    onDone=${(cancelled) => closeExclusion(cancelled)} onChange=${onChange} />
                </td></tr>`
              : null}`)}
          </tbody>
        </table></div>`
      : html`<p class="muted">${t('ceremony.no_valid_offers')}</p>`}
    ${unranked.length
      ? html`<h4>${t('ceremony.unranked_title')}</h4>
          <ul class="unranked">
            ${unranked.map((o) => html`<li data-bidder=${o.bidder}>
              <strong>${o.bidder}</strong>: ${excluded.has(o.bidder)
                ? t('ceremony.unranked_excluded')
                : o.type === 'EnvelopeInvalid'
                  ? t('ceremony.unranked_invalid', { reason: o.reason })
                  : t('ceremony.unranked_other')}
            </li>`)}
          </ul>`
      : null}
    ${decided
      ? html`<${Decision} tender=${tender} decision=${decided} />`
      : lot.phase !== 'opened'
        ? null
        : tender.follow_up === 'auction'
          ? html`<${HandOff} staff=${staff} tender=${tender} lot=${lot} nowUs=${nowUs} onChange=${onChange} />`
          : html`<${Award} staff=${staff} tender=${tender} lot=${lot} ranking=${ranking} onChange=${onChange} />`}
  </section>`;
}
