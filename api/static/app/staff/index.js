// The staff's pages (officer and auditor) in the same application as the supplier's:
// app.js hands every #/officer... and #/audit... route here.
//
// StaffApp signs the person in (a token pasted or read from a file: session.js), draws the
// header (who, in which role, the language, sign out) and the area's navigation, and loads
// the page module of the route lazily (import() once per module). A page module has
// `export default function Page({ staff, params })`: `params` are the route pattern's
// groups, `staff` is {token, claims, fetch(path, opts)} (session.js staffFetch with the
// token). A module that cannot load shows a notice, never a stack trace.
//
// Routes (ROUTES): the area ('officer' or 'audit') and the rest of the fragment matched in
// order; the first match wins. An officer may use both areas; an auditor or observer only
// the auditor's (their officer routes show "not for your role").

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useLayoutEffect, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { codeText, has, t } from '../i18n.js';
import { formatDateTime } from '../time.js';
import { formatLocale } from '../i18n.js';
import { LanguageSwitch } from '../view/common.js';
import { loadStaff, signIn, signOut, staffFetch } from './session.js';
import { addStylesheet } from './style.js';

/** area -> [[pattern, module path relative to this file, nav key]]. */
export const ROUTES = Object.freeze({
  officer: [
    [/^$/, './officer/home.js'],
    [/^new\/auction$/, './officer/create_auction.js'],
    [/^new\/tender$/, './officer/create_tender.js'],
    [/^auction\/([^/]+)$/, './officer/auction.js'],
    [/^tender\/([^/]+)$/, './officer/tender.js'],
    [/^keys$/, './officer/keys.js'],
  ],
  audit: [
    [/^$/, './audit/search.js'],
    [/^auction\/([^/]+)$/, './audit/auction.js'],
    [/^tender\/([^/]+)$/, './audit/tender.js'],
  ],
});

/** Who may open each area. */
const AREA_ROLES = Object.freeze({ officer: ['officer'], audit: ['officer', 'auditor', 'observer'] });

/** The navigation of each area: [fragment, catalog key]. */
const NAV = Object.freeze({
  officer: [
    ['#/officer', 'staff.nav_home'],
    ['#/officer/new/auction', 'staff.nav_new_auction'],
    ['#/officer/new/tender', 'staff.nav_new_tender'],
    ['#/officer/keys', 'staff.nav_keys'],
    ['#/audit', 'staff.nav_audit'],
  ],
  audit: [['#/audit', 'staff.nav_audit']],
});

/** The staff route a fragment names: {kind: 'staff', area, rest} or null. */
export function parseStaffRoute(hash) {
  const match = /^#\/(officer|audit)(?:\/(.*))?$/.exec(hash ?? '');
  if (!match) return null;
  return { kind: 'staff', area: match[1], rest: match[2] ?? '' };
}

/** The module and its parameters for a staff route, or null when none matches. */
export function pageOf(route) {
  for (const [pattern, module] of ROUTES[route.area] ?? []) {
    const match = pattern.exec(route.rest);
    if (!match) continue;
    try {
      return { module, params: match.slice(1).map(decodeURIComponent) };
    } catch {
      return null;
    }
  }
  return null;
}

const modules = new Map(); // module path -> Promise of the module (a failure is retried)

function loadModule(path) {
  if (!modules.has(path)) {
    modules.set(
      path,
      import(path).catch((error) => {
        modules.delete(path);
        throw error;
      }),
    );
  }
  return modules.get(path);
}

function SignIn({ onSignedIn, area }) {
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const field = useRef(null);
  useEffect(() => field.current?.focus(), []);
  async function submit(event) {
    event.preventDefault();
    setProblem(null);
    setBusy(true);
    const result = await signIn(field.current.value);
    setBusy(false);
    if (result.staff) {
      field.current.value = '';
      onSignedIn(result.staff);
    } else {
      setProblem(result.problem);
      field.current.focus();
    }
  }
  async function readFile(event) {
    const file = event.target.files?.[0];
    if (!file) return;
    if (file.size > 8192) {
      setProblem('token_unreadable');
      return;
    }
    field.current.value = (await file.text()).trim();
    setProblem(null);
  }
  const text = problem
    ? has(`staff.problem_${problem}`)
      ? t(`staff.problem_${problem}`)
      : has(`code.${problem}`)
        ? codeText(problem)
        : t('staff.problem_failed')
    : null;
  return html`<main class="staff-signin" id="staff-signin">
    <h1>${t(area === 'audit' ? 'staff.signin_title_audit' : 'staff.signin_title')}</h1>
    <p class="muted">${t('staff.signin_intro')}</p>
    <form onSubmit=${submit} novalidate>
      <label for="staff-token">${t('staff.token_label')}</label>
      <textarea
        id="staff-token"
        ref=${field}
        rows="3"
        spellcheck="false"
        autocomplete="off"
        autocapitalize="off"
        aria-invalid=${problem ? 'true' : 'false'}
        aria-describedby=${problem ? 'staff-problem' : 'staff-token-hint'}
      ></textarea>
      <p class="hint" id="staff-token-hint">${t('staff.token_hint')}</p>
      ${text ? html`<p class="field-error" id="staff-problem" role="alert">${text}</p>` : null}
      <label class="file-pick" for="staff-token-file">${t('staff.token_file')}</label>
      <input id="staff-token-file" type="file" accept=".txt,.token,text/plain" onChange=${readFile} />
      <button type="submit" class="primary" id="staff-sign-in" disabled=${busy}>
        ${busy ? t('staff.signing_in') : t('staff.sign_in')}
      </button>
    </form>
    <${LanguageSwitch} />
  </main>`;
}

function Header({ staff, area, onSignOut }) {
  const { claims } = staff;
  const until = formatDateTime(claims.exp * 1_000_000, formatLocale());
  return html`<header class="bar staff-bar">
    <p class="staff-brand"><a href=${area === 'audit' ? '#/audit' : '#/officer'}>${t('ui.app_name')}</a></p>
    <nav aria-label=${t('staff.nav')}>
      <ul class="staff-nav">
        ${(claims.role === 'officer' ? NAV.officer : NAV.audit).map(
          ([href, key]) => html`<li><a href=${href} aria-current=${location.hash === href ? 'page' : null}>${t(key)}</a></li>`,
        )}
      </ul>
    </nav>
    <p class="staff-who" id="staff-who" title=${t('staff.valid_until', { time: until })}>
      <span class="badge">${t(`staff.role_${claims.role}`)}</span> <span>${claims.sub}</span>
    </p>
    <${LanguageSwitch} />
    <button type="button" id="staff-sign-out" onClick=${onSignOut}>${t('ui.sign_out')}</button>
  </header>`;
}

function Loaded({ page, staff }) {
  const [found, setFound] = useState({ Page: null, failed: false });
  useEffect(() => {
    let live = true;
    setFound({ Page: null, failed: false });
    loadModule(page.module).then(
      (module) => live && setFound({ Page: module.default ?? null, failed: !module.default }),
      () => live && setFound({ Page: null, failed: true }),
    );
    return () => {
      live = false;
    };
  }, [page.module]);
  if (found.failed) {
    return html`<main class="staff-main"><p class="notice-text" id="staff-unavailable">${t('staff.unavailable')}</p></main>`;
  }
  if (!found.Page) return html`<main class="staff-main"><p class="loading">${t('ui.loading')}</p></main>`;
  const Page = found.Page;
  return html`<${Page} key=${page.params.join('/')} staff=${staff} params=${page.params} />`;
}

/** The staff's pages for `route` (parseStaffRoute's answer). */
export function StaffApp({ route }) {
  addStylesheet('/app/staff/staff.css');
  const [staff, setStaff] = useState(() => withFetch(loadStaff()));
  useLayoutEffect(() => {
    document.getElementById('app').dataset.page = staff ? 'staff' : 'staff_signin';
  });
  if (!staff) return html`<${SignIn} area=${route.area} onSignedIn=${(s) => setStaff(withFetch(s))} />`;
  async function leave() {
    await signOut(staff);
    setStaff(null);
  }
  const allowed = AREA_ROLES[route.area].includes(staff.claims.role);
  const page = allowed ? pageOf(route) : null;
  return html`<div class="page staff">
    <${Header} staff=${staff} area=${route.area} onSignOut=${leave} />
    ${!allowed
      ? html`<main class="staff-main"><p id="staff-forbidden">${t('staff.not_for_role')}</p></main>`
      : page
        ? html`<${Loaded} key=${page.module} page=${page} staff=${staff} />`
        : html`<main class="staff-main"><p id="staff-not-found">${t('staff.not_found')}</p></main>`}
  </div>`;
}

function withFetch(staff) {
  if (!staff) return null;
  return { ...staff, fetch: (path, opts) => staffFetch(staff.token, path, opts) };
}

