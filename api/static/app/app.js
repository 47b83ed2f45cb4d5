// The supplier's page: sign in with an invitation link, then follow and bid in the
// bound auction over the live websocket: English and reverse (bids), Dutch (the clock's
// price, accepted at the price shown) and sealed (place, replace, withdraw; nothing of
// others before the close); when it ends, the engine's result as the server tells it.
//
// Sign-in: /app/#invite=<code> is read once, the fragment dropped from the address bar
// (history.replaceState) and the code exchanged at POST /api/v1/invitations/redeem for
// the supplier's token in one auction or tender, kept in this tab's sessionStorage only
// (session.js: the tab holds several). "Sign out" revokes it
// (POST /api/v1/tokens/<jti>/revoke) and forgets it.
//
// Routes (the fragment; back and forward follow it): #/auction/<id> the live view of
// this tab's session in that auction (its public view without one), #/tender/<id> the
// tender's view (tender/view.js), #/public/<id> the public view of an auction (no token:
// no bid controls, nothing "mine"), #/ "My auctions and tenders" (view/mine.js), or the
// signed-out notice when the tab holds no session. A redeem goes to its route.
//
// Live view: one websocket (docs/protocol.md), every frame checked against the served
// contract (contract.js). Events are folded in seq order; a reconnect (with back-off and
// jitter, at once when the browser is back online) subscribes with since = the last seq
// folded, so no event is missed or folded twice. A request still unanswered when the
// connection drops is shown "not confirmed" and never re-sent; if its bid later shows
// up in the log as ours, it reads "found in the record".

import { html, render } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useLayoutEffect, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import * as i18n from './i18n.js';
import { codeText, t } from './i18n.js';
import { LiveAuction } from './live.js';
import {
  forgetSession,
  listSessions,
  loadSessions,
  markCurrent,
  redeem,
  revoke,
  saveSession,
  takeInvitation,
} from './session.js';
import { Activity } from './view/activity.js';
import { BidForm } from './view/bid_form.js';
import { Banner, Clock, Connection, LanguageSwitch, Notice } from './view/common.js';
import { DutchClock } from './view/dutch.js';
import { MyList, routeOf } from './view/mine.js';
import { PublicFigures, PublicPanel } from './view/public.js';
import { MultiRound, TurnClock } from './view/multiround.js';
import { ProxyPanel } from './view/proxy.js';
import { Result } from './view/result.js';
import { Rules } from './view/rules_panel.js';
import { ScorePanel } from './view/score.js';
import { Figures, Ranking } from './view/standing.js';
import { useContract } from './view/use_contract.js';
import { parseStaffRoute, StaffApp } from './staff/index.js';

function LiveView({ session, contract, onSignOut }) {
  // Without a token: the public view (no bid controls, nothing "mine").
  const watching = !session.token;
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
      ${watching
        ? html`<span class="badge" id="public-badge">${t('public.badge')}</span>`
        : html`<a href="#/" id="to-list" class="button">${t('nav.my_list')}</a>
            <button type="button" id="sign-out" onClick=${onSignOut}>${t('ui.sign_out')}</button>`}
    </header>
    <${Banner} state=${state} now=${performance.now()} />
    <main class="live">
      <section class="panel status" aria-label=${t('ui.time_left')}>
        ${state.format === 'multiround'
          ? html`<${TurnClock} state=${state} clock=${live.clock} />`
          : html`<${Clock} state=${state} clock=${live.clock} />`}
        ${watching
          ? state.result
            ? null
            : html`<${PublicFigures} state=${state} />`
          : state.format === 'dutch' || state.result
            ? null
            : html`<${Figures} state=${state} />`}
        <${ScorePanel} state=${state} />
      </section>
      <section class="panel bidpanel" aria-label=${state.result ? t('result.title') : watching ? t('public.title') : t('ui.place_bid')}>
        ${watching
          ? html`<${PublicPanel} state=${state} />`
          : state.result
          ? html`<${Result} state=${state} session=${session} />`
          : state.format === 'dutch'
            ? html`<${DutchClock} state=${state} live=${live} clock=${live.clock} />`
            : state.format === 'multiround'
              ? html`<${MultiRound} state=${state} live=${live} />`
              : html`<${BidForm} state=${state} live=${live} /><${ProxyPanel} state=${state} live=${live} />`}
      </section>
      <div class="side">
        <${Ranking} state=${state} />
        ${watching ? null : html`<${Activity} state=${state} />`}
      </div>
      <${Rules} state=${state} auction=${session.id} />
    </main>
  </div>`;
}

/** The route the fragment names: {kind: 'auction'|'tender'|'public', id}, a staff route
 *  ({kind: 'staff', area, rest}: staff/index.js) or {kind: 'home'}. */
export function parseRoute(hash) {
  const staff = parseStaffRoute(hash);
  if (staff) return staff;
  const match = /^#\/(auction|tender|public)\/([^/?#]+)$/.exec(hash ?? '');
  if (!match) return { kind: 'home' };
  try {
    return { kind: match[1], id: decodeURIComponent(match[2]) };
  } catch {
    return { kind: 'home' };
  }
}

function Live({ session, onSignOut }) {
  const { contract, failed } = useContract();
  useEffect(() => {
    if (session.token) markCurrent(session);
  }, [session]);
  if (failed) return html`<${Notice} title=${t('ui.app_name')} text=${t('signin.failed')} />`;
  if (!contract) return html`<p class="loading">${t('ui.loading')}</p>`;
  return html`<${LiveView} session=${session} contract=${contract} onSignOut=${onSignOut} />`;
}

let tenderModule = null; // import('./tender/view.js'), once

function Tender({ session, onSignOut }) {
  const [found, setFound] = useState({ view: null, failed: false });
  useEffect(() => {
    let live = true;
    tenderModule ??= import('./tender/view.js');
    tenderModule.then(
      (module) => live && setFound({ view: module.TenderView ?? null, failed: !module.TenderView }),
      () => live && setFound({ view: null, failed: true }),
    );
    return () => {
      live = false;
    };
  }, []);
  if (found.failed) {
    return html`<${Notice}
      title=${t('nav.tender_title')}
      text=${t('nav.tender_unavailable')}
      action=${html`<p><a href="#/">${t('nav.my_list')}</a></p>`}
    />`;
  }
  if (!found.view) return html`<p class="loading">${t('ui.loading')}</p>`;
  const View = found.view;
  return html`<${View} session=${session} onSignOut=${onSignOut} />`;
}

function App({ boot }) {
  const [, setLang] = useState(i18n.language());
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  const [sessions, setSessions] = useState(() => listSessions());
  const [problem, setProblem] = useState(boot.problem ?? null);
  const [signing, setSigning] = useState(false);
  useEffect(() => i18n.onChange((lang) => setLang(lang)), []);
  useEffect(() => {
    // Another invitation link opened in this tab changes only the fragment: redeemed
    // here as at boot, then its route.
    const follow = async () => {
      const code = takeInvitation();
      let failed = null;
      if (code) {
        setSigning(true);
        failed = await signIn(code);
        setSigning(false);
      }
      setProblem(failed);
      setRoute(parseRoute(location.hash));
      setSessions(listSessions());
    };
    addEventListener('hashchange', follow);
    return () => removeEventListener('hashchange', follow);
  }, []);

  const session =
    route.kind === 'auction' || route.kind === 'tender'
      ? (sessions.find((s) => s.kind === route.kind && s.id === route.id) ?? null)
      : null;
  let page = 'signed_out';
  if (route.kind === 'staff') page = 'staff';
  else if (signing) page = 'signing_in';
  else if (problem) page = 'problem';
  else if (route.kind === 'auction') page = session ? 'live' : 'public';
  else if (route.kind === 'public') page = 'public';
  else if (route.kind === 'tender') page = session ? 'tender' : 'signed_out';
  else if (sessions.length) page = 'mine';
  useLayoutEffect(() => {
    // Set as the page renders (tests and tools read it once data-ready is set); the
    // staff's pages set their own.
    document.title = t('ui.app_name');
    if (page !== 'staff') document.getElementById('app').dataset.page = page;
  });

  function leave(remaining) {
    setSessions(remaining);
    // Another session left: the list; none: the signed-out notice (the list's route).
    if (location.hash && location.hash !== '#/') location.hash = '#/';
    else setRoute({ kind: 'home' });
  }
  async function signOut(which) {
    // Revoked first (a few seconds at most), then forgotten: signed out means the token
    // no longer works, unless the server could not be reached.
    await revoke(which);
    forgetSession(which);
    leave(listSessions());
  }
  async function signOutAll() {
    const all = listSessions();
    await Promise.all(all.map(revoke));
    for (const one of all) forgetSession(one);
    leave(listSessions());
  }

  const toList = sessions.length
    ? html`<p><a href="#/" id="to-list">${t('nav.my_list')}</a></p>`
    : null;
  if (page === 'staff') return html`<${StaffApp} route=${route} />`;
  if (page === 'signing_in') return html`<p class="loading">${t('signin.signing_in')}</p>`;
  if (page === 'problem') {
    const known = ['invitation_used', 'invitation_expired', 'invitation_unknown', 'invitation_withdrawn'];
    const text = known.includes(problem) ? codeText(problem) : t('signin.failed');
    return html`<${Notice} title=${t('signin.problem_title')} text=${text} action=${toList} />`;
  }
  if (page === 'live') {
    return html`<${Live} key=${`a:${session.id}`} session=${session} onSignOut=${() => signOut(session)} />`;
  }
  if (page === 'public') {
    const watched = { kind: 'auction', id: route.id, token: null };
    return html`<${Live} key=${`p:${route.id}`} session=${watched} onSignOut=${null} />`;
  }
  if (page === 'tender') {
    return html`<${Tender} key=${`t:${session.id}`} session=${session} onSignOut=${() => signOut(session)} />`;
  }
  if (page === 'mine') {
    return html`<${MyList} sessions=${sessions} onSignOut=${signOut} onSignOutAll=${signOutAll} />`;
  }
  return html`<${Notice} title=${t('signin.signed_out')} text=${t('signin.open_link')} action=${toList} />`;
}

/** Redeem `code`, keep its session and go to its route (replacing the address);
 *  the problem's code when it cannot be redeemed, else null. */
async function signIn(code) {
  const result = await redeem(code);
  if (!result.session) return result.problem;
  saveSession(result.session);
  history.replaceState(null, '', location.pathname + location.search + routeOf(result.session));
  return null;
}

async function boot() {
  const root = document.getElementById('app');
  await i18n.init();
  const code = takeInvitation();
  let problem = null;
  if (code) {
    render(html`<p class="loading">${t('signin.signing_in')}</p>`, root);
    problem = await signIn(code);
  }
  const { migrated } = loadSessions();
  if (migrated && !problem && parseRoute(location.hash).kind === 'home' && !location.hash) {
    // A tab left by the one-session page: back to the auction it showed.
    history.replaceState(null, '', location.pathname + location.search + routeOf(migrated));
  }
  root.replaceChildren();
  render(html`<${App} boot=${{ problem }} />`, root);
  root.dataset.ready = 'yes';
}

boot().catch(() => {
  const root = document.getElementById('app');
  // Before the catalog could load: both languages, as the first paint names itself.
  root.textContent = 'Gavel could not start. Reload the page. · Gavel başlaya bilmədi. Səhifəni yeniləyin.';
  root.dataset.ready = 'error';
});
