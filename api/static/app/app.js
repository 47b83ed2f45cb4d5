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
import { useEffect, useLayoutEffect, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { loadContract } from './contract.js';
import * as i18n from './i18n.js';
import { codeText, t } from './i18n.js';
import { LiveAuction } from './live.js';
import { forgetSession, loadSession, revoke, redeem, saveSession, takeInvitation } from './session.js';
import { Activity } from './view/activity.js';
import { BidForm } from './view/bid_form.js';
import { Banner, Clock, Connection, LanguageSwitch, Notice } from './view/common.js';
import { DutchClock } from './view/dutch.js';
import { Result } from './view/result.js';
import { Rules } from './view/rules_panel.js';
import { Figures, Ranking } from './view/standing.js';

function LiveView({ session, contract, onSignOut }) {
  const [, setTick] = useState(0);
  const liveRef = useRef(null);
  if (!liveRef.current) {
    // Called at most once per animation frame (live.js changed()): a burst of frames
    // folds at once and renders once.
    liveRef.current = new LiveAuction(session, contract, () => setTick((n) => n + 1));
  }
  const live = liveRef.current;
  useLayoutEffect(() => live.rendered());
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
          ? html`<${Result} state=${state} session=${session} />`
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
