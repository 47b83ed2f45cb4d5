// "Verify in the page": the auditor's check of an export bundle, in this browser.
//
// VerifyPanel({staff, kind, id}) is a section of the auditor's auction or tender page. It
// reads the server's published audit key (GET /api/v1/audit/key: the signer the bundle
// must name, shown with its key id), then, when the auditor asks, downloads the export
// bundle (GET /api/v1/auctions/<id>/export, or /api/v1/audit/tenders/<id>/export) or reads
// a bundle file chosen from disk (the offline case: nothing is sent), and runs
// verify_bundle.js over it: each step with its verdict in words as it completes, the final
// verdict, and on failure the first bad event or checkpoint as `gavel audit verify` names
// it. The engine's replay is the CLI's alone, and the page says so. Once verified, the
// auditor picks an event and the page proves it is in the signed log (the bundle's own
// path, and the server's proof when the bundle came from the server).
//
// Test hooks: #verify-panel carries data-ready="yes" once the key is read, data-source
// ("server" or "file:NAME") and data-verdict ("ok", "failed" or "none") of the last check,
// with data-failed-step/-code/-seq/-checkpoint;
// each step's <li> carries data-step and data-status.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { formatLocale, t } from '../../i18n.js';
import { formatDateTime } from '../../time.js';
import { ed25519Supported, parseVerifierKey } from '../../transparency.js';
import { useStylesheet } from '../style.js';
import { STEPS, inclusionProof, verifyBundle } from './verify_bundle.js';

/** A bundle file larger than this is refused before it is read (a browser tab's memory). */
const MAX_FILE = 256 * 1024 * 1024;

function exportPath(kind, id) {
  const quoted = encodeURIComponent(id);
  return kind === 'tender'
    ? `/api/v1/audit/tenders/${quoted}/export`
    : `/api/v1/auctions/${quoted}/export`;
}

function proofPath(kind, id, seq, size) {
  const quoted = encodeURIComponent(id);
  const base = kind === 'tender' ? `/api/v1/audit/tenders/${quoted}` : `/api/v1/auctions/${quoted}`;
  return `${base}/proofs/inclusion?seq=${seq}&size=${size}`;
}

function hexOf(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** An event type in words: 'BidAccepted' -> t('bundle.event_bid_accepted'). */
function eventName(type) {
  const snake = String(type).replace(/[A-Z]/g, (c, at) => (at ? '_' : '') + c.toLowerCase());
  return t(`bundle.event_${snake}`);
}

/** The words of a step's or a failure's key: an event type in params named in words. */
function say(key, params = {}) {
  const named = { ...params };
  if (typeof named.type === 'string') named.type = eventName(named.type);
  return t(key, named);
}

/** What the last check read, for tests: 'server', 'file:NAME' or ''. */
function sourceOf(run) {
  if (!run.source) return '';
  return run.source.kind === 'file' ? `file:${run.source.name}` : 'server';
}

/** The steps before a check: the engine's replay is said up front to be the CLI's. */
function idle() {
  const steps = Object.fromEntries(STEPS.map((s) => [s, { status: 'waiting' }]));
  steps.engine = { status: 'not_checked', key: 'bundle.step_engine_cli' };
  return steps;
}

function Step({ step, state }) {
  const status = state.status;
  return html`<li class=${`verify-step is-${status}`} data-step=${step} data-status=${status}>
    <span class="verify-mark" aria-hidden="true"></span>
    <div>
      <p class="verify-step-title">
        <strong>${t(`bundle.step_${step}`)}</strong>
        <span class="verify-status">${t(`bundle.status_${status}`)}</span>
      </p>
      ${state.key ? html`<p class="verify-step-text">${say(state.key, state.params)}</p>` : null}
    </div>
  </li>`;
}

function Verdict({ answer, source }) {
  if (!answer) return null;
  const where =
    source.kind === 'file'
      ? t('bundle.source_file', { name: source.name })
      : t('bundle.source_server', { time: formatDateTime(source.at, formatLocale()) });
  if (answer.ok) {
    const s = answer.summary;
    return html`<div class="verify-verdict is-ok" id="verify-verdict">
      <p class="verify-verdict-head">
        ${t(s.kind === 'tender' ? 'bundle.verdict_ok_tender' : 'bundle.verdict_ok_auction', {
          id: s.id,
          count: s.events,
        })}
      </p>
      <p>${t(s.pinned ? 'bundle.verdict_signer_pinned' : 'bundle.verdict_signer_own')}</p>
      <p class="muted">${where}</p>
    </div>`;
  }
  const f = answer.failure;
  return html`<div class="verify-verdict is-failed" id="verify-verdict">
    <p class="verify-verdict-head">${t('bundle.verdict_failed')}</p>
    <p id="verify-reason">${say(f.key, f.params)}</p>
    <p class="muted">${where}</p>
  </div>`;
}

function Proof({ answer, staff, kind, id, fromServer }) {
  const count = answer.signed.size;
  const [seq, setSeq] = useState(String(count));
  const [proved, setProved] = useState(null);
  const [busy, setBusy] = useState(false);
  const number = Number(seq);
  const valid = /^[0-9]+$/.test(seq.trim()) && number >= 1 && number <= count;
  async function prove(event) {
    event.preventDefault();
    if (!valid) return;
    setBusy(true);
    const own = await inclusionProof(answer, number);
    let server = null;
    if (fromServer) {
      const reply = await staff.fetch(proofPath(kind, id, number, count));
      const path = reply.ok && Array.isArray(reply.body?.proof) ? reply.body.proof : null;
      server = path ? (await inclusionProof(answer, number, path)).ok : false;
    }
    const type = answer.events[number - 1]?.type ?? '';
    setProved({ own, server, type });
    setBusy(false);
  }
  return html`<section class="verify-proof" aria-labelledby="verify-proof-title">
    <h3 id="verify-proof-title">${t('bundle.proof_title')}</h3>
    <p class="muted">${t('bundle.proof_intro')}</p>
    <form class="verify-proof-form" onSubmit=${prove} novalidate>
      <div class="verify-field">
        <label for="verify-seq">${t('bundle.proof_label', { count })}</label>
        <input
          id="verify-seq"
          type="text"
          inputmode="numeric"
          autocomplete="off"
          value=${seq}
          aria-invalid=${valid ? 'false' : 'true'}
          aria-describedby="verify-seq-hint"
          onInput=${(e) => setSeq(e.currentTarget.value)}
        />
        <p class="hint" id="verify-seq-hint">
          ${valid ? t('bundle.proof_hint', { count }) : t('bundle.proof_out_of_range', { count })}
        </p>
      </div>
      <button type="submit" id="verify-prove" disabled=${busy || !valid}>
        ${t('bundle.proof_button')}
      </button>
    </form>
    ${proved
      ? html`<div
          class=${`verify-proof-result ${proved.own.ok ? 'is-ok' : 'is-failed'}`}
          id="verify-proof-result"
          data-ok=${proved.own.ok ? 'yes' : 'no'}
          data-server=${proved.server === null ? 'none' : proved.server ? 'yes' : 'no'}
          role="status"
        >
          <p>
            ${proved.own.ok
              ? t('bundle.proof_ok', {
                  seq: proved.own.seq,
                  type: eventName(proved.type),
                  size: proved.own.size,
                  hashes: proved.own.path.length,
                })
              : t('bundle.proof_failed', { seq: proved.own.seq })}
          </p>
          ${proved.server === null
            ? null
            : html`<p>
                ${t(proved.server ? 'bundle.proof_server_ok' : 'bundle.proof_server_failed')}
              </p>`}
          <details>
            <summary>${t('bundle.details')}</summary>
            <dl class="verify-details">
              <dt>${t('bundle.detail_leaf')}</dt>
              <dd><code>${proved.own.leaf}</code></dd>
              <dt>${t('bundle.detail_path')}</dt>
              <dd>${proved.own.path.map((h) => html`<code key=${h}>${h}</code>`)}</dd>
              <dt>${t('bundle.detail_root')}</dt>
              <dd><code>${proved.own.root}</code></dd>
            </dl>
          </details>
        </div>`
      : null}
  </section>`;
}

function SaveLink({ bundle, name }) {
  const [url, setUrl] = useState(null);
  useEffect(() => {
    const blob = new Blob([JSON.stringify(bundle)], { type: 'application/json' });
    const made = URL.createObjectURL(blob);
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [bundle]);
  if (!url) return null;
  return html`<p class="verify-save">
    <a id="verify-save" href=${url} download=${name}>${t('bundle.save')}</a>
  </p>`;
}

/** The auditor's in-page verification of ``kind`` ``id``'s export bundle. */
export function VerifyPanel({ staff, kind = 'auction', id }) {
  useStylesheet('/app/staff/verify.css');
  const [key, setKey] = useState({ phase: 'loading' });
  const [steps, setSteps] = useState(idle);
  const [run, setRun] = useState({ phase: 'idle' });
  const fileField = useRef(null);

  useEffect(() => {
    let live = true;
    (async () => {
      if (!(await ed25519Supported())) return live && setKey({ phase: 'unsupported' });
      const reply = await staff.fetch('/api/v1/audit/key');
      const text = reply.ok ? reply.body?.verifier_key : null;
      try {
        const parsed = await parseVerifierKey(text);
        if (live) setKey({ phase: 'pinned', text, name: parsed.name, id: hexOf(parsed.keyId) });
      } catch {
        if (live) setKey({ phase: 'unpinned' });
      }
    })();
    return () => {
      live = false;
    };
  }, [staff]);

  async function check(bundle, source) {
    const current = idle();
    setSteps({ ...current });
    setRun({ phase: 'checking', source });
    let answer;
    try {
      answer = await verifyBundle(bundle, {
        pinned: key.phase === 'pinned' ? key.text : null,
        onStep: (step, status) => {
          current[step] = { ...current[step], status };
          setSteps({ ...current });
        },
      });
    } catch {
      // Not a shape any check foresaw: nothing is taken as verified.
      setSteps(idle());
      setRun({ phase: 'broken' });
      return;
    }
    setSteps(Object.fromEntries(answer.steps.map((s) => [s.step, s])));
    setRun({ phase: 'done', source, answer, bundle });
  }

  async function fromServer() {
    setRun({ phase: 'downloading' });
    setSteps(idle());
    const reply = await staff.fetch(exportPath(kind, id));
    if (!reply.ok || reply.body === null || typeof reply.body !== 'object') {
      setRun({ phase: 'unreachable', status: reply.status || '—' });
      return;
    }
    await check(reply.body, { kind: 'server', at: Date.now() * 1000 });
  }

  async function fromFile(event) {
    const file = event.currentTarget.files?.[0];
    if (!file) return;
    setSteps(idle());
    let bundle;
    try {
      if (file.size > MAX_FILE) throw new RangeError('too large');
      bundle = JSON.parse(await file.text());
    } catch {
      setRun({ phase: 'unreadable', name: file.name });
      return;
    }
    await check(bundle, { kind: 'file', name: file.name });
  }

  const ready = key.phase !== 'loading';
  const busy = run.phase === 'downloading' || run.phase === 'checking';
  const answer = run.phase === 'done' ? run.answer : null;
  const failure = answer?.failure ?? null;
  const elsewhere = answer?.ok && (answer.summary.kind !== kind || answer.summary.id !== id);
  const other = elsewhere ? answer.summary : null;
  return html`<section
    class="verify-panel"
    id="verify-panel"
    aria-labelledby="verify-title"
    data-ready=${ready ? 'yes' : 'no'}
    data-verdict=${answer ? (answer.ok ? 'ok' : 'failed') : 'none'}
    data-source=${sourceOf(run)}
    data-failed-step=${failure?.step ?? ''}
    data-failed-code=${failure?.code ?? ''}
    data-failed-seq=${failure?.params?.seq ?? ''}
    data-failed-checkpoint=${failure?.params?.checkpoint ?? ''}
  >
    <h2 id="verify-title">${t('bundle.title')}</h2>
    <p class="verify-intro">${t('bundle.intro')}</p>
    ${key.phase === 'unsupported'
      ? html`<p class="verify-warning" role="alert">${t('bundle.unsupported')}</p>`
      : html`<p class="verify-key" id="verify-key">
          ${key.phase === 'pinned'
            ? t('bundle.key_pinned', { name: key.name, id: key.id })
            : key.phase === 'unpinned'
              ? t('bundle.key_unpinned')
              : t('bundle.key_loading')}
        </p>`}
    <div class="verify-actions">
      <button
        type="button"
        class="primary"
        id="verify-download"
        disabled=${!ready || busy || key.phase === 'unsupported'}
        onClick=${fromServer}
      >
        ${t('bundle.check_server')}
      </button>
      <div class="verify-file">
        <label for="verify-file">${t('bundle.check_file')}</label>
        <input
          id="verify-file"
          type="file"
          accept=".json,application/json"
          ref=${fileField}
          disabled=${!ready || busy || key.phase === 'unsupported'}
          aria-describedby="verify-file-hint"
          onChange=${fromFile}
        />
        <p class="hint" id="verify-file-hint">${t('bundle.file_hint')}</p>
      </div>
    </div>
    <p class="verify-progress" aria-live="polite">
      ${run.phase === 'downloading'
        ? t('bundle.downloading')
        : run.phase === 'checking'
          ? t('bundle.checking')
          : ''}
    </p>
    ${run.phase === 'unreachable'
      ? html`<p class="verify-warning" role="alert" id="verify-problem">
          ${t('bundle.unreachable', { status: run.status })}
        </p>`
      : null}
    ${run.phase === 'broken'
      ? html`<p class="verify-warning" role="alert" id="verify-problem">${t('bundle.broken')}</p>`
      : null}
    ${run.phase === 'unreadable'
      ? html`<p class="verify-warning" role="alert" id="verify-problem">
          ${t('bundle.unreadable', { name: run.name })}
        </p>`
      : null}
    <div aria-live="polite">
      ${answer ? html`<${Verdict} answer=${answer} source=${run.source} />` : null}
    </div>
    <ol class="verify-steps" aria-label=${t('bundle.steps')}>
      ${STEPS.map((step) => html`<${Step} key=${step} step=${step} state=${steps[step]} />`)}
    </ol>
    ${other
      ? html`<p class="verify-warning" id="verify-other">
          ${t('bundle.other_stream', { id: other.id })}
        </p>`
      : null}
    ${answer?.ok
      ? html`<${Proof}
          key=${answer.signed.root}
          answer=${answer}
          staff=${staff}
          kind=${kind}
          id=${id}
          fromServer=${run.source.kind === 'server'}
        />`
      : null}
    ${answer && run.source.kind === 'server'
      ? html`<${SaveLink} bundle=${run.bundle} name=${`gavel-${kind}-${id}-bundle.json`} />`
      : null}
    ${answer?.ok
      ? html`<details class="verify-more">
          <summary>${t('bundle.details_record')}</summary>
          <dl class="verify-details">
            <dt>${t('bundle.detail_origin')}</dt>
            <dd><code>${answer.summary.origin}</code></dd>
            <dt>${t('bundle.detail_root')}</dt>
            <dd><code>${answer.summary.root}</code></dd>
            <dt>${t('bundle.detail_key')}</dt>
            <dd>${answer.summary.keys.map((k) => html`<code key=${k}>${k}</code>`)}</dd>
          </dl>
        </details>`
      : null}
  </section>`;
}

export default VerifyPanel;
