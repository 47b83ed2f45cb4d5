// What the two create pages share: the check of a body against the published schema
// (local reading problems first, then the schema's, one per field, only for the fields
// on the screen), the stage machine (edit -> review -> publishing), the status line
// announced to screen readers, and focus moved to the first field in trouble.
//
// useCreate({check}) -> {errors, shownErrors, touch, clearServer, ...}: `check()` answers
// {body, errors: {field: text}}; see create_auction.js for the call order.

import { useEffect, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';

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
