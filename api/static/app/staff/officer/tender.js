// #/officer/tender/<id>: a sealed tender as its committee sees it, and its opening.
//
// The tender's state (a tender just created is published here: the server's key
// ceremony, POST .../ceremony), its lots with their deadlines and opening times in the
// officer's time zone, its suppliers (for the committee: Invitations from ./invite.js,
// when that module exists), and per lot after the deadline: the opening ceremony
// (./ceremony.js: the quorum filling live, this officer's hand-in with their own key
// file), then the documents of the earlier stages and the opened offers with their
// ranking, the award, exclusions and the hand-off (./ceremony/offers.js).
//
// The page polls the tender's view every second while a lot is not decided (the view
// says who has handed in a share: api/tenders/visibility.py), and each lot's offers once
// its log has moved past the deadline; its root carries data-ready="yes" once loaded.
// Identifiers and the opening key sit behind "Details".

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { codeText, formatLocale, t } from '../../i18n.js';
import { formatCountdown, formatDateTime, zoneLabel } from '../../time.js';
import { useStylesheet } from '../style.js';
import { Ceremony } from './ceremony.js';
import { loadOffers, loadTender, publish } from './ceremony/api.js';
import { Offers } from './ceremony/offers.js';

const POLL_MS = 1000;

function When({ us, label, cls }) {
  const locale = formatLocale();
  return html`<div class=${cls}>
    <dt>${label}</dt>
    <dd class="num" title=${zoneLabel(us, locale)}>
      ${formatDateTime(us, locale)} <span class="zone">${zoneLabel(us, locale)}</span>
    </dd>
  </div>`;
}

function phaseText(tender, lot) {
  if (tender.phase !== 'published') return t('tenderofficer.phase_unpublished');
  if (lot.phase === 'closed' && lot.next_stage) return t('tenderofficer.phase_opening');
  return t(`tenderofficer.phase_${lot.phase}`);
}

function Lot({ staff, tender, lot, offers, nowUs, onChange }) {
  const open = lot.phase === 'open' && tender.phase === 'published';
  const ceremony = !open && lot.phase === 'closed' && lot.next_stage;
  return html`<section class="panel lot" data-lot=${lot.id} data-phase=${lot.phase}
    aria-labelledby=${`lot-title-${lot.id}`}>
    <div class="lot-head">
      <h2 id=${`lot-title-${lot.id}`}>${lot.title || t('tenderofficer.lot_untitled', { id: lot.id })}</h2>
      <span class=${`badge phase-${tender.phase === 'published' ? lot.phase : 'unpublished'}`}>${phaseText(tender, lot)}</span>
    </div>
    <dl class="facts">
      <${When} us=${lot.deadline} label=${t('tenderofficer.deadline')} cls="deadline" />
      <${When} us=${lot.opening_at} label=${t('tenderofficer.opening_at')} cls="opening" />
      ${lot.envelopes === null
        ? null
        : html`<div><dt>${t('tenderofficer.envelopes')}</dt><dd class="num envelopes">${lot.envelopes}</dd></div>`}
      <div><dt>${t('tenderofficer.stages')}</dt>
        <dd>${lot.kinds.map((kind) => t(`ceremony.stage_${kind}`)).join(', ')}</dd></div>
    </dl>
    ${open
      ? html`<p class="sealed-note">
          ${t('tenderofficer.sealed_until')}
          <span class="num countdown" role="timer">${formatCountdown(lot.deadline - nowUs)}</span>
        </p>`
      : null}
    ${offers && (offers.offers.length || offers.decision || lot.phase === 'opened')
      ? html`<${Offers} staff=${staff} tender=${tender} lot=${lot} offers=${offers} nowUs=${nowUs} onChange=${onChange} />`
      : null}
    ${ceremony ? html`<${Ceremony} staff=${staff} tender=${tender} lot=${lot} nowUs=${nowUs} onChange=${onChange} />` : null}
  </section>`;
}

/** A tender created but not published: the committee's member publishes it (the key
 *  ceremony on the server), after a second, confirming press. */
function Publish({ staff, tender, onChange }) {
  const [state, setState] = useState({ step: 'idle' });
  const yes = useRef(null);
  const start = useRef(null);
  const back = useRef(false); // Cancel: the focus goes back to the Publish button
  useEffect(() => {
    if (state.step === 'confirm') yes.current?.focus();
    if (state.step === 'idle' && back.current) {
      back.current = false;
      start.current?.focus();
    }
  }, [state.step]);
  const member = tender.officers.includes(staff.claims.sub);
  async function go() {
    setState({ step: 'working' });
    const answer = await publish(staff, tender.id);
    if (!answer.ok) {
      setState({ step: 'refused', code: answer.problem?.code ?? 'failed' });
      return;
    }
    setState({ step: 'idle' });
    onChange();
  }
  return html`<section class="panel publish" id="publish" aria-labelledby="publish-title">
    <h2 id="publish-title">${t('tenderofficer.publish_title')}</h2>
    <p>${t('tenderofficer.publish_text', { k: tender.threshold, n: tender.officers.length })}</p>
    ${!member
      ? html`<p class="muted">${t('ceremony.not_member')}</p>`
      : state.step === 'confirm' || state.step === 'working'
        ? html`<div class="confirm" role="group" aria-labelledby="publish-q">
            <p id="publish-q">${t('tenderofficer.publish_question')}</p>
            <div class="actions">
              <button type="button" class="primary publish-yes" ref=${yes} disabled=${state.step === 'working'} onClick=${go}>
                ${state.step === 'working' ? t('tenderofficer.publishing') : t('tenderofficer.publish_confirm')}
              </button>
              <button type="button" class="publish-no" onClick=${() => {
                back.current = true;
                setState({ step: 'idle' });
              }}>${t('ceremony.cancel')}</button>
            </div>
          </div>`
        : html`<button type="button" class="primary publish-start" ref=${start} onClick=${() => setState({ step: 'confirm' })}>
            ${t('tenderofficer.publish')}
          </button>`}
    ${state.step === 'refused'
      ? html`<p class="field-error" role="alert" data-reason=${state.code}>${codeText(state.code)}</p>`
      : null}
  </section>`;
}

function Suppliers({ staff, tender }) {
  const [module, setModule] = useState(null);
  useEffect(() => {
    let live = true;
    import('./invite.js')
      .then((loaded) => live && loaded.Invitations && setModule(() => loaded.Invitations))
      .catch(() => undefined); // not there yet: the section says how to invite instead
    return () => {
      live = false;
    };
  }, []);
  // Invitations is a panel with its own heading; without it, a panel that says how.
  if (module) return html`<${module} staff=${staff} kind="tender" id=${tender.id} />`;
  return html`<section class="panel suppliers" aria-labelledby="suppliers-title">
    <h2 id="suppliers-title">${t('tenderofficer.suppliers')}</h2>
    <p class="muted">${t('tenderofficer.suppliers_none')}</p>
  </section>`;
}

export default function Page({ staff, params }) {
  useStylesheet('/app/staff/ceremony.css');
  const tenderId = params?.[0] ?? '';
  const [view, setView] = useState({ status: 'loading' });
  const [offers, setOffers] = useState({});
  const [, setTick] = useState(0);
  const seen = useRef({}); // lot -> the tender seq its offers were loaded at
  const offset = useRef(null);

  // Load the tender (and the offers of lots whose log moved); true while there is
  // something left to watch (a lot not decided yet).
  async function refresh() {
    const answer = await loadTender(staff, tenderId);
    if (!answer.ok) {
      setView((old) => (old.status === 'ready' && answer.status === 0 ? old : { status: 'failed', code: answer.problem?.code }));
      return answer.status === 0; // a network failure: try again
    }
    if (answer.offsetUs !== undefined) offset.current = answer.offsetUs;
    const tender = answer.body;
    setView({ status: 'ready', tender });
    for (const lot of tender.lots) {
      if (lot.phase === 'open' || seen.current[lot.id] === tender.seq) continue;
      const got = await loadOffers(staff, tenderId, lot.id);
      if (got.ok) {
        seen.current[lot.id] = tender.seq;
        setOffers((old) => ({ ...old, [lot.id]: got.body }));
      }
    }
    return tender.lots.some((lot) => lot.phase !== 'decided');
  }

  useEffect(() => {
    let stopped = false;
    let timer = null;
    async function loop() {
      const watching = await refresh();
      if (!stopped && watching) timer = setTimeout(loop, POLL_MS);
    }
    loop();
    const clock = setInterval(() => setTick((n) => n + 1), 1000);
    return () => {
      stopped = true;
      clearTimeout(timer);
      clearInterval(clock);
    };
  }, [tenderId]);

  if (view.status === 'loading') {
    return html`<main class="staff-main officer-tender" id="officer-tender" data-ready="no">
      <p class="loading" role="status">${t('tenderofficer.loading')}</p>
    </main>`;
  }
  if (view.status === 'failed') {
    return html`<main class="staff-main officer-tender" id="officer-tender" data-ready="yes" data-failed=${view.code ?? ''}>
      <h1>${t('tenderofficer.failed_title')}</h1>
      <p class="field-error" role="alert">${codeText(view.code ?? 'failed')}</p>
      <p><a href="#/officer">${t('tenderofficer.back')}</a></p>
    </main>`;
  }
  const tender = view.tender;
  const nowUs = offset.current === null ? Date.now() * 1000 : Math.round(performance.now() * 1000) + offset.current;
  const onChange = () => refresh();
  return html`<main class="staff-main officer-tender" id="officer-tender" data-ready="yes" data-seq=${tender.seq}>
    <div class="tender-head">
      <h1 id="tender-title">${tender.title}</h1>
      <span class=${`badge tender-${tender.phase}`}>${t(`tenderofficer.tender_${tender.phase}`)}</span>
    </div>
    <dl class="facts tender-facts">
      <div><dt>${t('tenderofficer.currency')}</dt><dd>${tender.currency}</dd></div>
      <div><dt>${t('tenderofficer.criterion')}</dt><dd>${t(`tenderofficer.criterion_${tender.criterion}`)}</dd></div>
      <div><dt>${t('tenderofficer.follow_up')}</dt><dd>${t(`tenderofficer.follow_up_${tender.follow_up}`)}</dd></div>
      <div><dt>${t('tenderofficer.committee')}</dt>
        <dd>${t('tenderofficer.committee_text', { k: tender.threshold, n: tender.officers.length })}</dd></div>
      <div><dt>${t('tenderofficer.publication')}</dt><dd>${t(`tenderofficer.publication_${tender.publication}`)}</dd></div>
      ${tender.features?.length
        ? html`<div><dt>${t('tenderofficer.features')}</dt>
            <dd>${tender.features.map((f) => t('tenderofficer.feature', { name: f.name, weight: f.weight, maximum: f.maximum })).join('; ')}</dd></div>`
        : null}
    </dl>
    ${tender.phase === 'created' ? html`<${Publish} staff=${staff} tender=${tender} onChange=${onChange} />` : null}
    ${tender.lots.map((lot) => html`<${Lot} key=${lot.id} staff=${staff} tender=${tender} lot=${lot}
      offers=${offers[lot.id]} nowUs=${nowUs} onChange=${onChange} />`)}
    ${tender.officers.includes(staff.claims.sub) ? html`<${Suppliers} staff=${staff} tender=${tender} />` : null}
    <details class="details">
      <summary>${t('tenderofficer.details')}</summary>
      <dl class="facts">
        <div><dt>${t('tenderofficer.tender_id')}</dt><dd class="mono">${tender.id}</dd></div>
        <div><dt>${t('tenderofficer.lot_ids')}</dt><dd class="mono">${tender.lots.map((lot) => lot.id).join(', ')}</dd></div>
        <div><dt>${t('tenderofficer.opening_key')}</dt><dd class="mono">${tender.opening_public_key ?? '-'}</dd></div>
      </dl>
    </details>
  </main>`;
}
