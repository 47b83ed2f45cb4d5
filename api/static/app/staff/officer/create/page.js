// What the two create pages share: the check of a body against the published schema
// (local reading problems first, then the schema's, one per field, only for the fields
// on the screen), the stage machine (edit -> review -> publishing), the status line
// announced to screen readers, and focus moved to the first field in trouble.
//
// useCreate({check}) -> {errors, shownErrors, touch, clearServer, ...}: `check()` answers
// {body, errors: {field: text}}; see create_auction.js for the call order.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { t } from '../../../i18n.js';
import { fieldId } from './fields.js';
import { serverMessage } from './problems.js';

/** A fresh Idempotency-Key for one publication (a retry of the same one reuses it). */
export function newKey() {
  if (globalThis.crypto?.randomUUID) return `create-${crypto.randomUUID()}`;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `create-${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

// Whether a pointer button is down: a field left by pressing a button is marked visited
// only once the press is over, so the problem that then appears (and moves what is
// below it) never takes the click away from the button pressed.
let pointerDown = false;
globalThis.addEventListener?.('pointerdown', () => { pointerDown = true; }, true);
globalThis.addEventListener?.('pointerup', () => { pointerDown = false; }, true);

function afterPointer(run) {
  if (!pointerDown) {
    run();
    return;
  }
  globalThis.addEventListener('pointerup', () => setTimeout(run, 0), { once: true, capture: true });
}

/** The form's state around its data: which fields were visited, whether the officer
 *  asked to review (then every problem shows), the server's problems by field, the
 *  stage, the status line and the field to focus after the next render. */
export function useCreateState() {
  const [touched, setTouched] = useState(() => new Set());
  const [attempted, setAttempted] = useState(false);
  const [server, setServer] = useState({});
  const [stage, setStage] = useState('edit');
  const [status, setStatus] = useState(null);
  const [focus, setFocus] = useState(null);
  const key = useRef(null);
  useEffect(() => {
    if (!focus) return;
    const root = document.getElementById('create-root');
    const target =
      focus.name === '*'
        ? root?.querySelector('[aria-invalid="true"]')
        : document.getElementById(focus.name);
    if (target) {
      target.focus({ preventScroll: true });
      target.scrollIntoView({ block: 'center' });
    }
  }, [focus]);
  return {
    touched,
    touch(name) {
      if (!name || touched.has(name)) return;
      afterPointer(() => setTouched((old) => (old.has(name) ? old : new Set([...old, name]))));
    },
    attempted,
    setAttempted,
    server,
    setServer,
    clearServer(name) {
      if (Object.hasOwn(server, name)) {
        const rest = { ...server };
        delete rest[name];
        setServer(rest);
      }
    },
    stage,
    setStage,
    status,
    setStatus,
    focusOn(id) {
      setFocus({ name: id, at: Date.now() + Math.random() });
    },
    key,
  };
}

/** The problems to show now: every one after a review was asked for, else those of the
 *  fields visited; the server's on top. */
export function shownErrors(state, errors) {
  const shown = {};
  for (const [name, text] of Object.entries(errors)) {
    if (state.attempted || state.touched.has(name)) shown[name] = text;
  }
  return { ...shown, ...state.server };
}

/** The review and publish steps both create pages share. `review(event)` shows every
 *  problem (counted in the status, the first one focused) or moves to the review with a
 *  fresh Idempotency-Key; `publish()` POSTs `result.body` to `path` with that key and goes
 *  to `routeOf(body)` when the server made it; otherwise back to the form with the
 *  server's problem beside the field `fieldOf(problem)` names (focused at
 *  `focusOf(field)`), or in the status line when it names none on the screen.
 *  Call from the page's component after useCreateState; O(1) apart from the request. */
export function reviewAndPublish(state, result, staff, { path, routeOf, fieldOf, focusOf = fieldId }) {
  function review(event) {
    event.preventDefault();
    state.setAttempted(true);
    const count = Object.keys(result.errors).length;
    if (count) {
      state.setStatus({ kind: 'error', text: t('create.status_fix', { count }) });
      state.focusOn('*');
      return;
    }
    state.key.current = newKey();
    state.setStatus(null);
    state.setStage('review');
  }

  async function publish() {
    state.setStage('publishing');
    state.setStatus({ kind: 'info', text: t('create.status_publishing') });
    const answer = await staff.fetch(path, {
      method: 'POST',
      body: result.body,
      headers: { 'Idempotency-Key': state.key.current },
    });
    const route = answer.ok ? routeOf(answer.body ?? {}) : null;
    if (route) {
      state.setStatus({ kind: 'ok', text: t('create.status_published') });
      location.hash = route;
      return;
    }
    const problem = answer.problem ?? {};
    const text = serverMessage(problem);
    const field = fieldOf(problem);
    state.setStage('edit');
    if (!field) {
      state.setStatus({ kind: 'error', text: t('create.status_refused', { text }) });
      state.focusOn('create-status');
      return;
    }
    state.setServer({ [field]: text });
    state.setStatus({ kind: 'error', text: t('create.status_refused_field', { text }) });
    if (field === 'id') globalThis.document.getElementById('create-details')?.setAttribute('open', '');
    state.focusOn(focusOf(field));
  }

  return { review, publish };
}

/** A create page before its form: loading its schemas, or `failed` to (said in words
 *  under the page's `title`). */
export function CreateWaiting({ failed, title }) {
  if (failed) {
    return html`<main class="staff-main create" id="create-root" data-ready="no">
      <h1>${title}</h1>
      <p class="field-error" role="alert">${t('create.schema_failed')}</p>
    </main>`;
  }
  return html`<main class="staff-main create" id="create-root"><p class="loading">${t('ui.loading')}</p></main>`;
}
