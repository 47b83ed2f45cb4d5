// The supplier's view of a sealed tender (issue 14), mounted by the app for a #/tender/<id>
// session: {kind: 'tender', id, token, jti, party, expires_at}.
//
// The tender and its lots come from the server (GET /api/v1/tenders/{t}); each lot shows
// its deadline in local time and a countdown on the server's clock (the answer's
// server_time, read against performance.now(): the browser's own clock is never used).
// A lot that has closed says so up front, with no form. For an open lot the supplier types
// a price in major units (money.js parseAmount, then integer minor units: never a float)
// and may attach documents; the offer is sealed in this browser (/seal/seal.js, HPKE to the
// tender's opening key), and only the ciphertext is uploaded. The signed receipt that comes
// back is shown in words, verified here against the server's key (receipt.js) and offered
// as a file to keep. Before the deadline the offer may be replaced (seal again) or
// withdrawn (with its own signed receipt). On load, the supplier's own envelopes are found
// in the tender's log and their receipts fetched and verified again.
//
// A life-cycle-cost tender's form asks for the cost too; a MEAT tender's asks for a value
// per declared feature (labelled with the tender's own name for it, its bounds beside it,
// each checked as the engine will read it, features.js, and refused beside its own field
// before anything is sealed), sealed in the offer's `features` and listed on the receipt.
// Once the committee has opened the lot, the supplier's own opened offer is shown with
// what it stated and the score the tender's criterion gives it, computed as the engine
// does (exact, marked ≈ where rounded).
//
// Every problem is said in words from the catalog (tender.*), never as a code or a raw
// JavaScript error.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { SealError, sealOffer } from '/seal/seal.js';
import * as i18n from '../i18n.js';
import { formatLocale, moneyLocale, t } from '../i18n.js';
import { exponent, formatMinor, parseAmount } from '../money.js';
import { formatCountdown, formatDateTime, zoneLabel } from '../time.js';
import { LanguageSwitch } from '../view/common.js';
import {
  loadEvents,
  loadReceipt,
  loadServerKey,
  loadTender,
  problemKey,
  submitEnvelope,
  withdrawEnvelope,
} from './api.js';
import { meatScore, parseFeature, showDecimal } from './features.js';
import { ReceiptError, receiptFile, receiptFileName, verifyReceipt } from './receipt.js';

const STYLE_ID = 'tender-style';
/** How often the lots and the server's time are read again (ms). */
const REFRESH_MS = 30_000;

/** The view's own stylesheet, linked once (this origin's files only, as the CSP says). */
function useStylesheet() {
  useEffect(() => {
    if (document.getElementById(STYLE_ID)) return;
    const link = document.createElement('link');
    link.id = STYLE_ID;
    link.rel = 'stylesheet';
    link.href = new URL('./tender.css', import.meta.url).pathname;
    document.head.append(link);
  }, []);
}

function slot(lot, kind) {
  return `${lot}\u0000${kind}`;
}

function kindName(kind) {
  switch (kind) {
    case 'qualification':
      return t('tender.kind_qualification');
    case 'technical':
      return t('tender.kind_technical');
    default:
      return t('tender.kind_financial');
  }
}

function when(us) {
  const locale = formatLocale();
  return { time: formatDateTime(us, locale, { seconds: true }), zone: zoneLabel(us, locale) };
}

/** Minor units (a safe integer) of a plain decimal parseAmount gave, or null if too large
 *  to seal (the offer's amount is an integer below 2**53). */
function plainMinor(plain) {
  const minor = BigInt(plain.replace('.', ''));
  return minor > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(minor);
}

async function readDocuments(files) {
  const documents = {};
  for (const file of files) documents[file.name] = new Uint8Array(await file.arrayBuffer());
  return documents;
}

/** A receipt as an entry of the view: {signed, receipt, replaced, problem, sent}; ``sent``
 *  ({minor, currency, names}) is what this page sealed, known here only. */
async function entryOf(signed, serverKey, expected, replaced = null, sent = null) {
  try {
    const receipt = await verifyReceipt(signed, serverKey, expected);
    return { signed, receipt, replaced, problem: null, sent };
  } catch (error) {
    const key = error instanceof ReceiptError ? error.key : 'tender.receipt_malformed';
    return { signed, receipt: null, replaced, problem: key, sent };
  }
}

// ------------------------------------------------------------------------ the receipt

function ReceiptPanel({ entry, lot, kind }) {
  const [url, setUrl] = useState(null);
  useEffect(() => {
    if (!entry.receipt) return undefined;
    const made = URL.createObjectURL(receiptFile(entry.signed));
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [entry.signed]);
  if (!entry.receipt) {
    return html`<div class="receipt bad" data-verified="no" role="alert">
      <p>${t(entry.problem)}</p>
      <p>${t('tender.receipt_keep')}</p>
    </div>`;
  }
  const receipt = entry.receipt;
  const at = when(receipt.received_at_us);
  const withdrawn = receipt.action === 'withdrawn';
  return html`<div
    class=${`receipt ${withdrawn ? 'withdrawn' : 'submitted'}`}
    data-verified="yes"
    data-seq=${receipt.seq}
    data-action=${receipt.action}
    data-commitment=${receipt.commitment}
  >
    <h3>${withdrawn ? t('tender.receipt_withdrawn_title') : t('tender.receipt_title')}</h3>
    <p class="receipt-words">
      ${withdrawn
        ? t('tender.receipt_withdrawn', { time: at.time, zone: at.zone, seq: receipt.seq })
        : t('tender.receipt_received', { time: at.time, zone: at.zone, seq: receipt.seq })}
      ${entry.replaced && !withdrawn ? ` ${t('tender.receipt_replaced')}` : ''}
    </p>
    ${entry.sent && !withdrawn && entry.sent.priced
      ? html`<p class="sent-price num">
          ${t('tender.receipt_price', {
            amount: formatMinor(entry.sent.minor, entry.sent.currency, moneyLocale()),
          })}
        </p>`
      : null}
    ${entry.sent && !withdrawn && entry.sent.cost != null
      ? html`<p class="sent-cost num">
          ${t('tender.receipt_cost', {
            amount: formatMinor(entry.sent.cost, entry.sent.currency, moneyLocale()),
          })}
        </p>`
      : null}
    ${entry.sent && !withdrawn && entry.sent.features?.length
      ? html`<div class="sent-features">
          <p>${t('tender.feature_receipt')}</p>
          <ul>
            ${entry.sent.features.map(
              (f) => html`<li data-feature=${f.name}>
                ${t('tender.feature_stated', { name: f.name, value: showDecimal(f.value, formatLocale()) })}
              </li>`,
            )}
          </ul>
        </div>`
      : null}
    ${entry.sent && !withdrawn && entry.sent.names.length
      ? html`<p class="sent-documents">
          ${t('tender.receipt_documents', { names: entry.sent.names.join(', ') })}
        </p>`
      : null}
    <p class="verified">${t('tender.receipt_verified')}</p>
    ${url
      ? html`<a class="download" href=${url} download=${receiptFileName(receipt)}>
          ${t('tender.receipt_download')}
        </a>`
      : null}
    <details>
      <summary>${t('tender.details')}</summary>
      <dl class="facts">
        <dt>${t('tender.lot')}</dt>
        <dd>${lot.title ? `${lot.title} (${lot.id})` : lot.id}</dd>
        <dt>${t('tender.envelope')}</dt>
        <dd>${kindName(kind)}</dd>
        <dt>${t('tender.fingerprint')}</dt>
        <dd class="hash">${receipt.commitment}</dd>
        <dt>${t('tender.server_key')}</dt>
        <dd class="hash">${receipt.server_key_id}</dd>
      </dl>
    </details>
  </div>`;
}

// ------------------------------------------------------------------------ the opened offer

/** The supplier's own envelope as the committee opened it: the price, what it stated
 *  for each declared feature (or its cost) and the score the tender's criterion gives it,
 *  computed as the engine does (features.js meatScore; price + cost). */
function OpenedPanel({ tender, opening }) {
  const at = when(opening.at);
  if (opening.type === 'EnvelopeInvalid') {
    return html`<div class="opened bad" data-opened="invalid">
      <h3>${t('tender.opened_title')}</h3>
      <p>${t('tender.opened_invalid', { time: at.time, zone: at.zone })}</p>
    </div>`;
  }
  const currency = tender.currency;
  const amount = (minor) => formatMinor(minor, currency, moneyLocale());
  const financial = opening.kind === 'financial' && opening.price != null;
  const declared = new Set((tender.features ?? []).map((f) => f.name));
  const stated = (opening.features ?? []).filter((f) => declared.has(f.name));
  // The score as a figure, and how it was reached in words beneath it.
  let score = null;
  if (financial && tender.criterion === 'meat') {
    const got = meatScore(opening.price, tender.features ?? [], stated);
    score = {
      figure: `${got.exact ? '' : '≈'}${amount(got.minor)}`,
      how: t(got.exact ? 'tender.opened_score_meat' : 'tender.opened_score_meat_about', {
        coefficient: showDecimal(got.coefficient, formatLocale()),
      }),
    };
  } else if (financial && tender.criterion === 'life_cycle_cost') {
    score = {
      figure: amount(opening.price + (opening.cost ?? 0)),
      how: t('tender.opened_score_lcc'),
    };
  }
  return html`<div class="opened" data-opened="yes">
    <h3>${t('tender.opened_title')}</h3>
    <p>${t('tender.opened_at', { time: at.time, zone: at.zone })}</p>
    ${financial
      ? html`<p class="opened-price num">${t('tender.opened_price', { amount: amount(opening.price) })}</p>`
      : null}
    ${financial && opening.cost != null && tender.criterion === 'life_cycle_cost'
      ? html`<p class="opened-cost num">${t('tender.opened_cost', { amount: amount(opening.cost) })}</p>`
      : null}
    ${financial && tender.criterion === 'meat'
      ? html`<ul class="opened-features">
          ${(tender.features ?? []).map((feature) => {
            const found = stated.find((f) => f.name === feature.name);
            return html`<li data-feature=${feature.name} data-value=${found?.value ?? ''}>
              ${found
                ? t('tender.feature_stated', {
                    name: feature.name,
                    value: showDecimal(found.value, formatLocale()),
                  })
                : t('tender.feature_not_stated', { name: feature.name })}
            </li>`;
          })}
        </ul>`
      : null}
    ${score
      ? html`<p class="opened-score num">${t('tender.opened_score', { score: score.figure })}</p>
          <p class="opened-how hint">${score.how}</p>`
      : null}
  </div>`;
}

// ------------------------------------------------------------------------ the offer form

function OfferForm({ session, tender, lot, kind, replacing, onDone, onCancel, onStale }) {
  const [text, setText] = useState('');
  const [costText, setCostText] = useState('');
  const [featureText, setFeatureText] = useState({});
  const [featureErrors, setFeatureErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const files = useRef(null);
  const featureRow = useRef(null);
  const currency = tender.currency;
  const priced = kind === 'financial';
  // A life-cycle-cost tender ranks by price + cost: the offer states its cost, sealed
  // with the price, in major units like the price (the wire's one name and unit).
  const costed = priced && tender.criterion === 'life_cycle_cost';
  // A MEAT tender ranks by price / (1 + sum of weight x value): the offer states a value
  // for each declared feature, sealed with the price in the offer's `features`.
  const features = priced && tender.criterion === 'meat' ? (tender.features ?? []) : [];
  const id = `${lot.id}-${kind}`.replace(/[^A-Za-z0-9_-]/g, '_');

  async function submit(event) {
    event.preventDefault();
    if (busy) return;
    setError(null);
    const locale = formatLocale();
    // Each feature's value is checked beside its own field before anything is sealed.
    const stated = {};
    const refused = {};
    for (const feature of features) {
      const read = parseFeature(featureText[feature.name] ?? '', feature, locale);
      if (read.ok) stated[feature.name] = read.value;
      else refused[feature.name] = { key: read.key, params: read.params };
    }
    setFeatureErrors(refused);
    const firstBad = features.findIndex((feature) => refused[feature.name]);
    if (firstBad >= 0) {
      featureRow.current?.querySelectorAll('input.feature')[firstBad]?.focus();
      setError(t('tender.feature_fix'));
      return;
    }
    let amount = 0;
    let plain = '0';
    if (priced) {
      const read = parseAmount(text, currency, locale);
      if (!read.ok) {
        setError(t(read.key, read.params));
        return;
      }
      plain = read.value;
      amount = plainMinor(read.value);
      if (amount === null) {
        setError(t('tender.amount_too_large'));
        return;
      }
    }
    let cost = null;
    if (costed) {
      const read = parseAmount(costText, currency, locale);
      if (!read.ok) {
        setError(t('tender.cost_error', { reason: t(read.key, read.params) }));
        return;
      }
      if (plainMinor(read.value) === null) {
        setError(t('tender.cost_error', { reason: t('tender.amount_too_large') }));
        return;
      }
      cost = read.value;
    }
    setBusy(true);
    try {
      let sealed;
      const documents = await readDocuments(files.current?.files ?? []);
      try {
        sealed = await sealOffer({
          tenderKey: tender.opening_public_key,
          tenderId: tender.id,
          lotId: lot.id,
          kind,
          bidderId: session.party,
          deadlineUs: String(lot.deadline),
          offer: {
            amount: plain, // major units, as every amount on the wire
            cost,
            currency,
            features: stated,
            documents,
          },
        });
      } catch (sealing) {
        const tooLarge = sealing instanceof SealError && sealing.reason === 'too_large';
        setError(t(tooLarge ? 'tender.documents_too_large' : 'tender.error_seal'));
        return;
      }
      const answer = await submitEnvelope(session, tender.id, lot.id, kind, lot.deadline, sealed);
      if (!answer.ok) {
        const key = problemKey(answer);
        setError(t(key));
        if (key === 'tender.error_deadline_moved' || key === 'tender.error_closed') onStale();
        return;
      }
      const expected = {
        tender_id: tender.id,
        lot_id: lot.id,
        kind,
        bidder_id: session.party,
        commitment: sealed.commitment,
        action: 'submitted',
      };
      const sent = {
        priced,
        minor: amount,
        cost: cost === null ? null : plainMinor(cost),
        currency,
        features: features.map((feature) => ({ name: feature.name, value: stated[feature.name] })),
        names: Object.keys(documents),
      };
      const replaced = answer.body?.replaced ?? null;
      onDone(await entryOf(answer.body, tender.serverKey, expected, replaced, sent));
    } catch {
      setError(t('tender.error_network'));
    } finally {
      setBusy(false);
    }
  }

  return html`<form class="offer" data-kind=${kind} onSubmit=${submit} noValidate>
    ${priced
      ? html`<label for=${`price-${id}`}>${t('tender.price_label')}</label>
          <div class="amount-row">
            <input
              id=${`price-${id}`}
              class="price"
              name="price"
              inputmode="decimal"
              autocomplete="off"
              value=${text}
              aria-describedby=${`hint-${id}`}
              aria-invalid=${error ? 'true' : 'false'}
              onInput=${(e) => setText(e.currentTarget.value)}
            />
            <span class="unit">${currency}</span>
          </div>`
      : null}
    ${costed
      ? html`<label for=${`cost-${id}`}>${t('tender.cost_label')}</label>
          <div class="amount-row">
            <input
              id=${`cost-${id}`}
              class="cost"
              name="cost"
              inputmode="decimal"
              autocomplete="off"
              value=${costText}
              aria-describedby=${`cost-hint-${id}`}
              aria-invalid=${error ? 'true' : 'false'}
              onInput=${(e) => setCostText(e.currentTarget.value)}
            />
            <span class="unit">${currency}</span>
          </div>
          <p class="hint" id=${`cost-hint-${id}`}>${t('tender.cost_hint')}</p>`
      : null}
    ${features.length
      ? html`<fieldset class="features" ref=${featureRow}>
          <legend>${t('tender.feature_legend')}</legend>
          <p class="hint">${t('tender.feature_intro')}</p>
          ${features.map((feature, i) => {
            const fid = `feature-${id}-${i}`;
            const bad = featureErrors[feature.name];
            return html`<div class="feature-row" data-feature=${feature.name} key=${feature.name}>
              <label for=${fid}>${feature.name}</label>
              <input
                id=${fid}
                class="feature"
                name=${`feature-${i}`}
                inputmode="decimal"
                autocomplete="off"
                value=${featureText[feature.name] ?? ''}
                aria-describedby=${`${fid}-hint${bad ? ` ${fid}-error` : ''}`}
                aria-invalid=${bad ? 'true' : 'false'}
                onInput=${(e) => {
                  const value = e.currentTarget.value;
                  setFeatureText((before) => ({ ...before, [feature.name]: value }));
                }}
              />
              <p class="hint" id=${`${fid}-hint`}>
                ${t('tender.feature_hint', {
                  maximum: showDecimal(feature.maximum, formatLocale()),
                  weight: showDecimal(feature.weight, formatLocale()),
                })}
              </p>
              ${bad
                ? html`<p class="field-error feature-error" id=${`${fid}-error`} role="alert">
                    ${t(bad.key, bad.params)}
                  </p>`
                : null}
            </div>`;
          })}
        </fieldset>`
      : null}
    <label for=${`docs-${id}`}>${t('tender.documents_label')}</label>
    <input id=${`docs-${id}`} class="documents" type="file" multiple ref=${files} />
    <p class="hint" id=${`hint-${id}`}>${t('tender.sealed_hint')}</p>
    <p class="field-error" role="alert">${error ?? ''}</p>
    <div class="actions">
      <button type="submit" class="primary seal" disabled=${busy}>
        ${busy
          ? t('tender.sealing')
          : replacing
            ? t('tender.seal_replace')
            : t('tender.seal_submit')}
      </button>
      ${replacing
        ? html`<button type="button" class="cancel" onClick=${onCancel}>${t('tender.cancel')}</button>`
        : null}
    </div>
  </form>`;
}

// ------------------------------------------------------------------------ one envelope

function Envelope({ session, tender, lot, kind, entry, opening, open, onEntry, onStale }) {
  const [replacing, setReplacing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const live = entry?.receipt?.action === 'submitted';

  async function withdraw() {
    if (busy || !live) return;
    setBusy(true);
    setError(null);
    try {
      const commitment = entry.receipt.commitment;
      const answer = await withdrawEnvelope(session, tender.id, lot.id, kind, commitment);
      if (!answer.ok) {
        const key = problemKey(answer);
        setError(t(key));
        if (key === 'tender.error_closed') onStale();
        return;
      }
      const expected = {
        tender_id: tender.id,
        lot_id: lot.id,
        kind,
        bidder_id: session.party,
        commitment,
        action: 'withdrawn',
      };
      onEntry(await entryOf(answer.body, tender.serverKey, expected));
      setConfirming(false);
    } catch {
      setError(t('tender.error_network'));
    } finally {
      setBusy(false);
    }
  }

  const showForm = open && (!live || replacing);
  return html`<div class="envelope" data-kind=${kind} data-state=${live ? 'in' : entry ? 'withdrawn' : 'none'}>
    ${lot.kinds.length > 1 ? html`<h3>${kindName(kind)}</h3>` : null}
    ${opening ? html`<${OpenedPanel} tender=${tender} opening=${opening} />` : null}
    ${entry ? html`<${ReceiptPanel} entry=${entry} lot=${lot} kind=${kind} />` : null}
    ${open && live && !replacing
      ? html`<div class="actions envelope-actions">
          <button type="button" class="replace" onClick=${() => setReplacing(true)}>
            ${t('tender.replace')}
          </button>
          ${confirming
            ? html`<div class="confirm" role="group" aria-label=${t('tender.withdraw')}>
                <p>${t('tender.withdraw_confirm')}</p>
                <div class="actions">
                  <button type="button" class="withdraw-yes" disabled=${busy} onClick=${withdraw}>
                    ${t('tender.withdraw_yes')}
                  </button>
                  <button type="button" class="cancel" onClick=${() => setConfirming(false)}>
                    ${t('tender.cancel')}
                  </button>
                </div>
              </div>`
            : html`<button type="button" class="withdraw" onClick=${() => setConfirming(true)}>
                ${t('tender.withdraw')}
              </button>`}
          ${error ? html`<p class="field-error" role="alert">${error}</p>` : null}
        </div>`
      : null}
    ${showForm
      ? html`<${OfferForm}
          session=${session}
          tender=${tender}
          lot=${lot}
          kind=${kind}
          replacing=${replacing}
          onCancel=${() => setReplacing(false)}
          onStale=${onStale}
          onDone=${(made) => {
            onEntry(made);
            setReplacing(false);
          }}
        />`
      : null}
  </div>`;
}

// ------------------------------------------------------------------------ one lot

function Lot({ session, tender, lot, nowUs, entries, openings, onEntry, onStale }) {
  const locale = formatLocale();
  const deadline = lot.deadline;
  const closed = lot.phase !== 'open' || nowUs > deadline;
  const published = !!tender.opening_public_key;
  const at = when(deadline);
  const titleId = `lot-title-${lot.id}`.replace(/[^A-Za-z0-9_-]/g, '_');
  return html`<section
    class="panel lot"
    data-lot=${lot.id}
    data-phase=${closed ? 'closed' : 'open'}
    aria-labelledby=${titleId}
  >
    <h2 id=${titleId}>${lot.title || t('tender.lot_untitled')}</h2>
    <p class="deadline">${t('tender.deadline', { time: at.time, zone: at.zone })}</p>
    ${closed
      ? html`<p class="closed-note" role="status">
          ${t('tender.lot_closed', { time: formatDateTime(deadline, locale, { seconds: true }) })}
        </p>`
      : html`<div class="countdown">
          <span class="muted">${t('tender.closes_in')}</span>
          <span class="clock num" role="timer">${formatCountdown(deadline - nowUs)}</span>
        </div>`}
    ${!closed && !published ? html`<p class="hint">${t('tender.not_published')}</p>` : null}
    ${lot.kinds.map(
      (kind) => html`<${Envelope}
        key=${kind}
        session=${session}
        tender=${tender}
        lot=${lot}
        kind=${kind}
        entry=${entries.get(slot(lot.id, kind)) ?? null}
        opening=${openings.get(slot(lot.id, kind)) ?? null}
        open=${!closed && published}
        onEntry=${(entry) => onEntry(slot(lot.id, kind), entry)}
        onStale=${onStale}
      />`,
    )}
  </section>`;
}

// ------------------------------------------------------------------------ loading

/** The supplier's own opened envelopes in the tender's log (``events``): the last
 *  EnvelopeOpened or EnvelopeInvalid of each (lot, kind), by slot. A bidder sees its own
 *  (api/tenders/visibility.py); one the log hides is skipped. */
function myOpenings(session, events) {
  const openings = new Map();
  for (const event of events) {
    if (event?.hidden || event?.bidder !== session.party) continue;
    if (event.type === 'EnvelopeOpened' || event.type === 'EnvelopeInvalid') {
      openings.set(slot(event.lot, event.kind), event);
    }
  }
  return openings;
}

/** The tender's log as this bidder may see it (an empty list if it cannot be read). */
async function myLog(session, tenderId) {
  const log = await loadEvents(session, tenderId);
  return log.ok && Array.isArray(log.body?.events) ? log.body.events : [];
}

/** The supplier's own envelopes in the tender's log (``events``): the last receipt of
 *  each (lot, kind), fetched and verified. */
async function myEntries(session, tender, serverKey, events) {
  const entries = new Map();
  const last = new Map();
  for (const event of events) {
    if (event?.bidder !== session.party) continue;
    if (event.type === 'EnvelopeReceived' || event.type === 'EnvelopeWithdrawn') {
      last.set(slot(event.lot, event.kind), event);
    }
  }
  for (const [key, event] of last) {
    const answer = await loadReceipt(session, tender.id, event.seq);
    if (!answer.ok) continue;
    const expected = {
      tender_id: tender.id,
      lot_id: event.lot,
      kind: event.kind,
      bidder_id: session.party,
      commitment: event.commitment,
    };
    entries.set(key, await entryOf(answer.body, serverKey, expected, event.replaced ?? null));
  }
  return entries;
}

/** Where each lot's opening stands, as one string: it changes when a stage opens. */
function stagesOf(tender) {
  return (tender.lots ?? []).map((lot) => `${lot.id}\u0000${lot.phase}\u0000${lot.next_stage}`).join('\u0001');
}

async function load(session) {
  const [answer, key] = await Promise.all([loadTender(session, session.id), loadServerKey()]);
  if (!answer.ok) return { status: 'failed', problem: problemKey(answer) };
  const serverKey = key.ok ? key.body?.public_key : null;
  const tender = { ...answer.body, serverKey };
  try {
    exponent(tender.currency);
  } catch {
    return { status: 'failed', problem: 'tender.error_currency' };
  }
  const events = await myLog(session, tender.id);
  const entries = await myEntries(session, tender, serverKey, events);
  const openings = myOpenings(session, events);
  return { status: 'ready', tender, offsetUs: answer.offsetUs ?? 0, entries, openings };
}

// ------------------------------------------------------------------------ the view

export function TenderView({ session, onSignOut }) {
  useStylesheet();
  const [, setLang] = useState(i18n.language());
  const [, setTick] = useState(0);
  const [model, setModel] = useState({ status: 'loading' });
  const [reloads, setReloads] = useState(0);
  const seenStages = useRef(null);
  useEffect(() => i18n.onChange((lang) => setLang(lang)), []);
  useEffect(() => {
    let current = true;
    load(session)
      .then((loaded) => {
        if (!current) return;
        if (loaded.status === 'ready') seenStages.current = stagesOf(loaded.tender);
        setModel(loaded);
      })
      .catch(() => current && setModel({ status: 'failed', problem: 'tender.error_network' }));
    return () => {
      current = false;
    };
  }, [session.id, session.token, reloads]);
  useEffect(() => {
    const timer = setInterval(() => setTick((n) => n + 1), 500);
    return () => clearInterval(timer);
  }, []);
  useEffect(() => {
    // Every half minute the lots (a deadline the officers moved, a lot closed) and the
    // server's time again; a failed read keeps what is shown.
    const timer = setInterval(async () => {
      const answer = await loadTender(session, session.id);
      if (!answer.ok || !Array.isArray(answer.body?.lots)) return;
      // A stage opened since (a lot's phase or next stage moved on past its deadline):
      // the supplier's own opened envelopes are in the log now.
      const stages = stagesOf(answer.body);
      const moved = stages !== seenStages.current && answer.body.lots.some((lot) => lot.phase !== 'open');
      seenStages.current = stages;
      const openings = moved ? myOpenings(session, await myLog(session, session.id)) : null;
      setModel((before) =>
        before.status !== 'ready'
          ? before
          : {
              ...before,
              tender: { ...answer.body, serverKey: before.tender.serverKey },
              offsetUs: answer.offsetUs ?? before.offsetUs,
              openings: openings ?? before.openings,
            },
      );
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, [session.id, session.token]);
  useEffect(() => {
    const root = document.getElementById('app');
    if (root) root.dataset.tender = model.status;
  });

  const header = (title) => html`<header class="bar">
    <h1 id="tender-title">${title}</h1>
    <span class="badge">${t('tender.badge')}</span>
    <${LanguageSwitch} />
    <button type="button" id="sign-out" onClick=${onSignOut}>${t('ui.sign_out')}</button>
  </header>`;

  if (model.status === 'loading') {
    return html`<div class="page tender" id="tender-view" data-status="loading">
      ${header(t('tender.loading_title'))}
      <p class="loading">${t('tender.loading')}</p>
    </div>`;
  }
  if (model.status === 'failed') {
    return html`<div class="page tender" id="tender-view" data-status="failed">
      ${header(t('tender.badge'))}
      <main class="tender-main">
        <section class="panel" role="alert">
          <p id="tender-problem">${t(model.problem)}</p>
          <button type="button" onClick=${() => setReloads((n) => n + 1)}>${t('tender.retry')}</button>
        </section>
      </main>
    </div>`;
  }
  const { tender, offsetUs, entries, openings } = model;
  const nowUs = Math.round(performance.now() * 1000) + offsetUs;
  const onEntry = (key, entry) =>
    setModel((before) => {
      const next = new Map(before.entries);
      next.set(key, entry);
      return { ...before, entries: next };
    });
  return html`<div class="page tender" id="tender-view" data-status="ready" data-tender=${tender.id}>
    ${header(tender.title)}
    <main class="tender-main">
      <nav aria-label=${t('tender.my_list')}>
        <a href="#/" id="to-list" class="to-list">${t('tender.my_list')}</a>
      </nav>
      <p class="intro">
        ${t('tender.intro', { party: session.party })}
        ${' '}${t('tender.currency_note', { currency: tender.currency })}
      </p>
      ${!tender.serverKey ? html`<p class="banner" role="alert">${t('tender.no_server_key')}</p>` : null}
      ${tender.lots.map(
        (lot) => html`<${Lot}
          key=${lot.id}
          session=${session}
          tender=${tender}
          lot=${lot}
          nowUs=${nowUs}
          entries=${entries}
          openings=${openings}
          onEntry=${onEntry}
          onStale=${() => setReloads((n) => n + 1)}
        />`,
      )}
    </main>
  </div>`;
}
