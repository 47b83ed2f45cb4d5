// #/officer/keys: the key ceremony of one committee member, in the browser.
//
// The member makes two key pairs with WebCrypto (X25519 to receive their share of a
// tender's opening key, Ed25519 to sign), downloads the private key file and registers
// the public X25519 key with whoever creates the tender (its committee lists each officer
// as {id, public_key}). The file is OfficerKeys.to_json's (contracts/custody.py): the same
// members, sorted, indented by two, a newline at the end, so `gavel tender ...` and the
// opening page (tender-custody.js readOfficerKeys) read it. Nothing here sends a request:
// the private part exists in this page's memory and in the downloaded file only.
//
// An officer who already has a key file (from `gavel tender keygen-officer` or this page)
// can read it here to see its public key again; the file is read locally, never sent.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { readOfficerKeys } from '/open/tender-custody.js';
import { t } from '../../i18n.js';
import { useStylesheet } from '../style.js';

const subtle = globalThis.crypto.subtle;

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// A raw private key (32 bytes) from its PKCS #8 wrapping (RFC 8410: the key is the tail).
async function rawPrivate(key) {
  const der = new Uint8Array(await subtle.exportKey('pkcs8', key));
  return der.slice(der.length - 32);
}

/** A fresh officer key file: {text, publicKey, signingPublic}. The text is exactly what
 *  OfficerKeys.to_json writes for these keys. */
export async function makeKeyFile() {
  const encryption = await subtle.generateKey({ name: 'X25519' }, true, ['deriveBits']);
  const signing = await subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
  const encPrivate = await rawPrivate(encryption.privateKey);
  const sigPrivate = await rawPrivate(signing.privateKey);
  const body = {
    encryption_private: hex(encPrivate),
    encryption_public: hex(new Uint8Array(await subtle.exportKey('raw', encryption.publicKey))),
    signing_private: hex(sigPrivate),
    signing_public: hex(new Uint8Array(await subtle.exportKey('raw', signing.publicKey))),
    type: 'gavel-officer-keys/v1',
  };
  encPrivate.fill(0);
  sigPrivate.fill(0);
  const text = `${JSON.stringify(body, null, 2)}\n`;
  // Read back as the opening page will: the public halves must be the private keys'.
  const check = await readOfficerKeys(text);
  check.encryptionPrivate.fill(0);
  check.signingPrivate.fill(0);
  return { text, publicKey: body.encryption_public, signingPublic: body.signing_public };
}

function fileName(sub) {
  const safe = String(sub ?? 'officer').replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 60);
  return `gavel-officer-key-${safe}.json`;
}

function PublicKey({ value, who, prefix }) {
  const [copied, setCopied] = useState(null);
  const field = useRef(null);
  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('yes');
    } catch {
      field.current?.select();
      setCopied('select');
    }
  }
  return html`<div class="keys-public">
    <label for=${`${prefix}-public-key`}>${t('keys.public_label')}</label>
    <div class="keys-copy-row">
      <textarea
        id=${`${prefix}-public-key`}
        ref=${field}
        class="keys-hex"
        readonly
        rows="2"
        spellcheck="false"
        autocomplete="off"
        onFocus=${(event) => event.currentTarget.select()}
        value=${value}
      ></textarea>
      <button type="button" id=${`${prefix}-copy`} onClick=${copy}>${t('keys.copy')}</button>
    </div>
    <p class="hint" role="status" id=${`${prefix}-copied`}>
      ${copied === 'yes' ? t('keys.copied') : copied === 'select' ? t('keys.copy_select') : ''}
    </p>
    <h3>${t('keys.register_title')}</h3>
    <p>${t('keys.register_text', { name: who })}</p>
  </div>`;
}

function MakeKeys({ staff }) {
  const [state, setState] = useState({ step: 'idle' });
  const [href, setHref] = useState(null);
  useEffect(() => () => href && URL.revokeObjectURL(href), [href]);
  async function make() {
    setState({ step: 'working' });
    try {
      const made = await makeKeyFile();
      const url = URL.createObjectURL(new Blob([made.text], { type: 'application/json' }));
      setHref(url);
      setState({ step: 'made', publicKey: made.publicKey, saved: false });
    } catch {
      setState({ step: 'failed' });
    }
  }
  const sub = staff?.claims?.sub ?? '';
  return html`<section class="panel keys-make" aria-labelledby="keys-make-title">
    <h2 id="keys-make-title">${t('keys.make_title')}</h2>
    <ol class="keys-steps">
      <li>${t('keys.step_make')}</li>
      <li>${t('keys.step_save')}</li>
      <li>${t('keys.step_register')}</li>
    </ol>
    ${state.step !== 'made'
      ? html`<button
          type="button"
          class="primary"
          id="keys-make"
          disabled=${state.step === 'working'}
          onClick=${make}
        >
          ${state.step === 'working' ? t('keys.making') : t('keys.make')}
        </button>`
      : null}
    ${state.step === 'failed' ? html`<p class="field-error" role="alert">${t('keys.failed')}</p>` : null}
    ${state.step === 'made'
      ? html`<div id="keys-made" data-public=${state.publicKey}>
          <p class="keys-done" role="status">${t('keys.made')}</p>
          <a
            class="button primary"
            id="keys-download"
            href=${href}
            download=${fileName(sub)}
            onClick=${() => setState({ ...state, saved: true })}
            >${t('keys.download')}</a
          >
          <p class="confirm">${t('keys.keep_safe')}</p>
          <${PublicKey} value=${state.publicKey} who=${sub} prefix="keys" />
          <button type="button" id="keys-again" onClick=${make}>${t('keys.make_again')}</button>
          <p class="hint">${t('keys.make_again_hint')}</p>
        </div>`
      : null}
  </section>`;
}

function ReadKeys({ staff }) {
  const [state, setState] = useState({ step: 'idle' });
  async function read(event) {
    const file = event.currentTarget.files?.[0];
    if (!file) return;
    try {
      const keys = await readOfficerKeys(await file.text());
      keys.encryptionPrivate.fill(0);
      keys.signingPrivate.fill(0);
      setState({ step: 'read', publicKey: keys.encryptionPublic });
    } catch (error) {
      setState({ step: 'failed', reason: error?.reason ?? 'malformed' });
    }
  }
  return html`<section class="panel keys-read" aria-labelledby="keys-read-title">
    <h2 id="keys-read-title">${t('keys.read_title')}</h2>
    <label for="keys-file">${t('keys.read_label')}</label>
    <p class="hint" id="keys-file-hint">${t('keys.read_hint')}</p>
    <input
      id="keys-file"
      type="file"
      accept=".json,application/json"
      aria-describedby="keys-file-hint"
      onChange=${read}
    />
    ${state.step === 'failed'
      ? html`<p class="field-error" role="alert" id="keys-read-error">
          ${t(state.reason === 'bad_key' ? 'keys.read_bad_key' : 'keys.read_malformed')}
        </p>`
      : null}
    ${state.step === 'read'
      ? html`<${PublicKey} value=${state.publicKey} who=${staff?.claims?.sub ?? ''} prefix="keys-read" />`
      : null}
  </section>`;
}

export default function Page({ staff }) {
  useStylesheet('/app/staff/ceremony.css');
  return html`<main class="staff-main officer-keys" id="officer-keys" data-ready="yes">
    <h1>${t('keys.title')}</h1>
    <p class="keys-lead">${t('keys.lead')}</p>
    <p class="keys-private-note">${t('keys.private_note')}</p>
    <div class="keys-grid">
      <${MakeKeys} staff=${staff} />
      <${ReadKeys} staff=${staff} />
    </div>
  </main>`;
}
