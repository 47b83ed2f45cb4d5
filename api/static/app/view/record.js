// The signed record, checked in this browser once the auction has ended: are my bids in it?
//
// After AuctionEnded the panel reads my acknowledged bids (the auction's events, as the
// server shows them to me: BidAccepted with you = true, by seq), the audit key and the
// auction's latest signed checkpoint (it must cover the end), then verify.js checks the
// checkpoint's Ed25519 signature and each bid's inclusion proof against it, in WebCrypto.
// It says in words that my bids are in the signed record, or names each one that is not
// (amount and time, and why), or that nothing could be checked (offline: with a retry;
// a signature that does not verify: nothing is taken as proven). The checkpoint itself
// is offered as a JSON file to keep; its size and root are in the details.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { formatLocale, t } from '../i18n.js';
import { formatTime } from '../time.js';
import { verifyBids } from '../verify.js';
import { money } from './common.js';

/** The events route answers at most this many events a call. */
const PAGE = 1000;

/** A busy server (429) is asked again this many times, after its Retry-After (at most
 * MAX_WAIT_S): a supplier with many bids asks for many proofs at once. */
const RETRIES = 5;
const MAX_WAIT_S = 5;

/** Nothing came back: no network, or no server. */
class Unreachable extends Error {}

/** ``fetch``, asking again after a 429 as the server says (the rate limit per token). */
export async function patientFetch(url, options) {
  for (let attempt = 0; ; attempt += 1) {
    const reply = await fetch(url, options);
    if (reply.status !== 429 || attempt >= RETRIES) return reply;
    const said = Number.parseInt(reply.headers.get('Retry-After') ?? '', 10);
    const wait = Number.isFinite(said) && said > 0 ? Math.min(said, MAX_WAIT_S) : 1;
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
}

async function getJson(url, token = null) {
  let reply;
  try {
    reply = await patientFetch(url, {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new Unreachable('offline');
  }
  if (!reply.ok) throw new Error(`HTTP ${reply.status}`);
  return reply.json();
}

/** My acknowledged bids, ``[{seq, event}]`` in seq order, from the auction's events, and
 * the seq of its end (0 if none). */
async function myBids(base, token) {
  const bids = [];
  let end = 0;
  let after = 0;
  for (;;) {
    const { events = [] } = await getJson(`${base}/events?after=${after}`, token);
    const before = after;
    for (const item of events) {
      if (item?.event?.type === 'BidAccepted' && item.event.you === true) {
        bids.push({ seq: item.seq, event: item.event });
      }
      if (item?.event?.type === 'AuctionEnded') end = item.seq;
      after = Math.max(after, item?.seq ?? after);
    }
    // A short page is the last; a full one that did not move on would never end.
    if (events.length < PAGE || after === before) return { bids, end };
  }
}

/** The check, start to end: ``{phase, result, bids, download}`` (see Record). */
async function check(auction, token) {
  const base = `/api/v1/auctions/${encodeURIComponent(auction)}`;
  const { bids, end } = await myBids(base, token);
  const key = (await getJson('/api/v1/audit/key')).verifier_key;
  const signed = await getJson(`${base}/checkpoint`, token);
  const download = {
    auction,
    origin: signed.origin,
    size: signed.size,
    root: signed.root,
    note: signed.note,
    verifier_key: key,
  };
  const result = await verifyBids({
    auction,
    token,
    bids,
    checkpoint: signed.note,
    verifierKey: key,
    fetch: patientFetch,
  });
  // The record the result was computed from covers the end; an older one does not.
  const early = result.checkpoint !== null && result.checkpoint.size < end;
  return { phase: 'done', result, bids, download, early };
}

/** Whether every bid not proven failed only for want of an answer (no network). */
function onlyUnreachable(result) {
  const missing = result.bids.filter((v) => !v.ok);
  return (
    result.key === 'verify.unreachable' ||
    (missing.length > 0 &&
      missing.every((v) => v.why === 'verify.why_no_proof' && (v.status ?? null) === null))
  );
}

function bidText(bid, currency) {
  if (!bid) return { amount: '', time: '' };
  return {
    amount: money(bid.event.price, currency),
    time: formatTime(bid.event.at, formatLocale()),
  };
}

function DownloadLink({ data }) {
  const [url, setUrl] = useState(null);
  useEffect(() => {
    const blob = new Blob([`${JSON.stringify(data, null, 2)}\n`], { type: 'application/json' });
    const made = URL.createObjectURL(blob);
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [data]);
  if (!url) return null;
  const name = `gavel-${data.auction}-checkpoint-${data.size}.json`;
  return html`<p class="hint">
    <a id="record-download" href=${url} download=${name}>${t('record.download')}</a>
  </p>`;
}

/** The panel; ``session`` is this tab's session in the auction (its ``token``, and the
 * auction's ``id``, or ``auction`` in the one-session shape). Without a token (a
 * watcher), nothing is checked and nothing shown. */
export function Record({ state, session }) {
  const auction = session?.id ?? session?.auction ?? null;
  const token = session?.token ?? null;
  const [run, setRun] = useState(0);
  const [checked, setCheck] = useState({ phase: 'checking' });
  useEffect(() => {
    if (!auction || !token) return undefined;
    let live = true;
    setCheck({ phase: 'checking' });
    check(auction, token).then(
      (done) => live && setCheck(done),
      (error) => live && setCheck({ phase: error instanceof Unreachable ? 'offline' : 'failed' }),
    );
    return () => {
      live = false;
    };
  }, [run, auction, token]);
  if (!auction || !token) return null;

  const currency = state.rules?.currency;
  const { phase, result, bids = [], download, early = false } = checked;
  const bySeq = new Map(bids.map((bid) => [bid.seq, bid]));
  let tone = 'unknown';
  let shown = phase;
  let words;
  let retry = false;
  let missing = [];
  if (phase === 'checking') {
    words = t('verify.checking');
  } else if (phase === 'offline' || (phase === 'done' && onlyUnreachable(result))) {
    shown = 'offline';
    words = t('record.offline');
    retry = true;
  } else if (phase === 'failed') {
    words = t('verify.unreachable');
    retry = true;
  } else if (early) {
    shown = 'not_proven';
    tone = 'refused';
    words = t('record.before_end');
    missing = result.bids.filter((v) => !v.ok && v.why !== 'verify.why_refused');
  } else if (result.ok) {
    shown = 'proven';
    tone = 'confirmed';
    words = t(result.key, result.params);
  } else {
    shown = 'not_proven';
    tone = 'refused';
    words = t(result.key, result.params);
    missing = result.bids.filter((v) => !v.ok && v.why !== 'verify.why_refused');
    // A proof that did not come (no network): checking again may show it.
    retry = missing.some((v) => v.why === 'verify.why_no_proof');
  }
  const verdicts = phase === 'done' ? result.bids : [];
  return html`<section
    class="record"
    id="record"
    aria-labelledby="record-title"
    data-state=${shown}
  >
    <h2 id="record-title">${t('record.title')}</h2>
    <p class="hint">${t('record.intro')}</p>
    <p
      class=${`record-status status-${tone}`}
      id="record-status"
      role="status"
      aria-live="polite"
      aria-busy=${phase === 'checking' ? 'true' : 'false'}
    >
      ${words}
    </p>
    ${missing.length
      ? html`<ul class="record-missing" id="record-missing">
          ${missing.map((v) => {
            const bid = bySeq.get(v.seq);
            return html`<li key=${v.seq} data-seq=${v.seq}>
              ${t('record.not_proven', { ...bidText(bid, currency), why: t(v.why) })}
            </li>`;
          })}
        </ul>`
      : null}
    ${retry
      ? html`<button type="button" id="record-retry" onClick=${() => setRun((n) => n + 1)}>
          ${t('record.retry')}
        </button>`
      : null}
    ${download ? html`<${DownloadLink} data=${download} />` : null}
    ${phase === 'done' && result.checkpoint
      ? html`<details class="record-details" id="record-details">
          <summary>${t('record.details')}</summary>
          <ul>
            <li>${t('record.origin', { origin: result.checkpoint.origin })}</li>
            <li>${t('record.size', { size: result.checkpoint.size })}</li>
            <li class="num">${t('record.root', { root: result.checkpoint.root })}</li>
            ${verdicts.map((v) => {
              const bid = bySeq.get(v.seq);
              const verdict = v.ok
                ? t('verify.bid_in_record')
                : t('verify.bid_not_in_record', { why: t(v.why) });
              return html`<li key=${v.seq}>
                ${t('record.bid_line', { ...bidText(bid, currency), verdict })}
              </li>`;
            })}
          </ul>
        </details>`
      : null}
  </section>`;
}
