// The opening ceremony of one lot's current stage, on the officer's tender page.
//
// Each committee member opens the tender page with their own token and hands in their
// share with their own key file: the file is read here (tender-custody.js readOfficerKeys),
// never uploaded; the share the server sealed to them at the key ceremony is fetched
// (GET .../shares/mine), its Ed25519 signature checked against the server key and
// HPKE-opened in the page (decryptShare), and only the decrypted share is posted
// (POST .../lots/{l}/shares). The quorum (k of n, who has handed in) comes from the
// tender's view, which the page polls every second, so every member's page fills live.
// A refusal (a wrong key file, a forged share, too early) is said in words; with a
// custody refusal nothing is sent.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { decryptShare, parseEncryptedShare, readOfficerKeys, shareToJson } from '/open/tender-custody.js';
import { fromHex } from '/open/seal.js';
import { codeText, has, t } from '../../i18n.js';
import { handInShare, loadMyShare, loadServerKey } from './ceremony/api.js';

/** The words for a refusal's reason (a custody check's or the server's problem code). */
export function refusalText(reason) {
  const key = `ceremony.error_${reason}`;
  return has(key) ? t(key) : codeText(reason);
}

class Refused extends Error {
  constructor(reason) {
    super(reason);
    this.reason = reason;
  }
}

// Read the key file, fetch, check and decrypt this officer's share; nothing sent.
async function decryptMine(staff, tenderId, file) {
  let keys;
  try {
    keys = await readOfficerKeys(await file.text());
  } catch (error) {
    throw new Refused(error?.reason ?? 'malformed');
  }
  try {
    const serverKey = await loadServerKey();
    if (!serverKey.ok) throw new Refused(serverKey.problem?.code ?? 'network');
    const mine = await loadMyShare(staff, tenderId);
    if (!mine.ok) throw new Refused(mine.problem?.code === 'not_found' ? 'no_share' : (mine.problem?.code ?? 'failed'));
    try {
      return await decryptShare(parseEncryptedShare(mine.body), keys.encryptionPrivate, {
        ceremonyPublic: fromHex(serverKey.body.public_key),
        tenderId,
      });
    } catch (error) {
      throw new Refused(error?.reason ?? 'malformed');
    }
  } finally {
    keys.encryptionPrivate.fill(0); // best effort: the page keeps no copy of the key
    keys.signingPrivate.fill(0);
  }
}

/** k of n, who has handed in: the committee as a list, the count as a live status. */
export function Quorum({ tender, lot, me }) {
  // Who handed in is for the committee and auditors (handed_in is null for others: the
  // count alone, lot.shares, is public).
  const known = Array.isArray(lot.handed_in);
  const handed = known ? lot.handed_in : [];
  const total = known ? handed.length : lot.shares;
  const k = tender.threshold;
  const n = tender.officers.length;
  const count = Math.min(total, k);
  return html`<div class="quorum" data-count=${total} data-k=${k}>
    <p class="quorum-figure" role="status" aria-live="polite" id=${`quorum-${lot.id}`}>
      <span class="num quorum-count">${t('ceremony.quorum', { count: total, k })}</span>
      <span class="quorum-of">${t('ceremony.quorum_of', { n })}</span>
    </p>
    <div class="quorum-bar" aria-hidden="true">
      ${Array.from({ length: k }, (_, i) => html`<span class=${i < count ? 'filled' : ''}></span>`)}
    </div>
    ${known
      ? html`<ul class="quorum-members">
          ${tender.officers.map((officer) => {
            const done = handed.includes(officer);
            return html`<li class=${done ? 'done' : 'waiting'} data-officer=${officer}>
              <span class="mark" aria-hidden="true">${done ? '✓' : '…'}</span>
              <span class="who">${officer}${officer === me ? ` ${t('ceremony.you')}` : ''}</span>
              <span class="state">${done ? t('ceremony.handed_in') : t('ceremony.waiting')}</span>
            </li>`;
          })}
        </ul>`
      : html`<p class="hint">${t('ceremony.committee_only')}</p>`}
  </div>`;
}

/** The stage's ceremony: the quorum, and this officer's hand-in. `nowUs` is the server's
 *  time as the page knows it; `onChange` reloads the tender after a hand-in. */
export function Ceremony({ staff, tender, lot, nowUs, onChange }) {
  const me = staff.claims.sub;
  const [file, setFile] = useState(null);
  const [state, setState] = useState({ step: 'idle' });
  const attempts = useRef(0); // one per press, so a repeated refusal is a new verdict
  const handed = lot.handed_in ?? [];
  const member = tender.officers.includes(me);
  const mine = handed.includes(me);
  const early = nowUs < lot.opening_at;
  const stage = lot.next_stage;
  const left = Math.max(0, tender.threshold - handed.length);

  async function handIn(event) {
    event.preventDefault();
    attempts.current += 1;
    if (!file) {
      setState({ step: 'refused', reason: 'no_file' });
      return;
    }
    setState({ step: 'working' });
    try {
      const share = await decryptMine(staff, tender.id, file);
      const body = shareToJson(share);
      share.value.fill(0);
      const answer = await handInShare(staff, tender.id, lot.id, stage, body);
      if (!answer.ok) throw new Refused(answer.problem?.code ?? 'failed');
      setState({ step: 'done', opened: Boolean(answer.body.opened), count: answer.body.count });
      onChange();
    } catch (error) {
      setState({ step: 'refused', reason: error instanceof Refused ? error.reason : 'failed' });
    }
  }

  let action;
  if (!member) {
    action = html`<p class="muted">${t('ceremony.not_member')}</p>`;
  } else if (mine) {
    action = html`<p class="ceremony-mine" id=${`mine-${lot.id}`}>
      ${left ? t('ceremony.yours_in', { left }) : t('ceremony.yours_in_opening')}
    </p>`;
  } else {
    const error = state.step === 'refused' ? refusalText(state.reason) : '';
    action = html`<form class="hand-in" onSubmit=${handIn} data-state=${state.step} data-attempt=${attempts.current}>
      <label for=${`key-file-${lot.id}`}>${t('ceremony.key_file')}</label>
      <p class="hint" id=${`key-file-hint-${lot.id}`}>${t('ceremony.key_file_hint')}</p>
      <input
        id=${`key-file-${lot.id}`}
        class="key-file"
        type="file"
        accept=".json,application/json"
        aria-describedby=${`key-file-hint-${lot.id}`}
        onChange=${(e) => setFile(e.currentTarget.files?.[0] ?? null)}
      />
      ${early
        ? html`<p class="hint">${t('ceremony.not_yet')}</p>`
        : null}
      <button type="submit" class="primary hand-in-button" disabled=${state.step === 'working' || early}>
        ${state.step === 'working' ? t('ceremony.handing_in') : t('ceremony.hand_in')}
      </button>
      <p class="field-error" role="alert" data-reason=${state.step === 'refused' ? state.reason : ''}>
        ${error}
      </p>
    </form>`;
  }
  return html`<section class="ceremony" aria-labelledby=${`ceremony-title-${lot.id}`}>
    <h3 id=${`ceremony-title-${lot.id}`}>
      ${t('ceremony.title', { stage: t(`ceremony.stage_${stage}`) })}
    </h3>
    <p class="hint">${t('ceremony.explain', { k: tender.threshold })}</p>
    <${Quorum} tender=${tender} lot=${lot} me=${me} />
    ${action}
  </section>`;
}
