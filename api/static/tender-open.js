// The form on open.html: an officer hands in their share at the opening, as
// `gavel tender hand-in` does from a terminal.
//
// The page takes the officer's token from the URL fragment (/open/?tender=T#token=...; a
// fragment never reaches any server or log, and the page drops it from the address bar)
// or from the token field, and the key file from a file input: it is read here and never
// uploaded. Then: GET /api/v1/tenders/server-key (the key that signed the share at the
// ceremony), GET /api/v1/tenders/{t}/shares/mine, check and decrypt with tender-custody.js
// (forged_share, decrypt_failed: shown, nothing sent), and POST .../lots/{l}/shares with
// {kind, share} and an Idempotency-Key, so a retry after a lost answer never hands in twice.
// The answer says whether the stage opened.
import { CustodyError, decryptShare, parseEncryptedShare, readOfficerKeys, shareToJson } from "./tender-custody.js";
import { fromHex } from "./seal.js";

const API = "/api/v1/tenders";
const form = document.getElementById("open-form");
const status = document.getElementById("status");
const answerOut = document.getElementById("answer");
const offersOut = document.getElementById("offers");
const field = (id) => document.getElementById(id).value.trim();
const setField = (id, value) => {
  document.getElementById(id).value = value;
};
let lots = [];

// A refusal with a machine-readable reason: a custody check or the server's problem code.
class Refused extends Error {
  constructor(reason, detail) {
    super(`${reason}: ${detail}`);
    this.reason = reason;
  }
}

function report(text, error = false) {
  status.className = error ? "error" : "";
  status.textContent = text;
}

function failure(error) {
  const reason = error instanceof CustodyError || error instanceof Refused ? error.reason : "error";
  status.dataset.reason = reason;
  report(reason === "error" ? `Error: ${error.message || error}` : error.message, true);
}

function reset() {
  for (const name of ["reason", "opened", "count", "checked"]) delete status.dataset[name];
  answerOut.textContent = "";
  offersOut.textContent = "";
}

// The claims of a Gavel token, read only to fill the form; the server checks the signature.
function tokenClaims(token) {
  try {
    const segment = token.split(".")[0] || "";
    const base64 = segment.replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4)), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new Refused("malformed", "that is not a Gavel token");
  }
}

async function refusal(response, what) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not a problem document: the status says it all
  }
  const reason = body.code || `http_${response.status}`;
  return new Refused(reason, `${what} (${response.status}): ${body.detail || body.title || ""}`);
}

async function call(path, token, what) {
  const response = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!response.ok) throw await refusal(response, what);
  return response.json();
}

function showLot(name) {
  const lot = lots.find((entry) => entry.id === name);
  if (!lot) return;
  const kind = document.getElementById("kind");
  for (const option of kind.options) option.disabled = !lot.kinds.includes(option.value);
  if (lot.next_stage) kind.value = lot.next_stage;
}

async function loadTender() {
  const token = field("token");
  if (!token) throw new Error("paste your officer token first");
  const claims = tokenClaims(token);
  const tenderId = field("tender") || claims.auction;
  if (!tenderId) throw new Error("type the tender id");
  setField("tender", tenderId);
  const tender = await call(`${API}/${encodeURIComponent(tenderId)}`, token, "the tender did not load");
  lots = tender.lots;
  const wanted = field("lot") || new URLSearchParams(location.search).get("lot");
  const due = lots.filter((lot) => lot.next_stage && lot.phase !== "open");
  const chosen = lots.find((lot) => lot.id === wanted) || due[0] || lots[0];
  setField("lot", chosen.id);
  showLot(chosen.id);
  const stage = chosen.next_stage ? `next stage ${chosen.next_stage}` : "no stage left to open";
  report(
    `Loaded "${tender.title}" as ${claims.sub}: lot ${chosen.id} is ${chosen.phase}, ${stage}, ` +
      `${chosen.shares} of ${tender.threshold} shares handed in.`,
  );
  status.dataset.loaded = tenderId;
}

// Fetch, check and decrypt this officer's share; nothing is sent.
async function decryptMine() {
  const token = field("token");
  const tenderId = field("tender");
  if (!token || !tenderId) throw new Error("give your token and the tender");
  const file = document.getElementById("key-file").files[0];
  if (!file) throw new Error("choose your officer key file");
  const keys = await readOfficerKeys(await file.text());
  try {
    const serverKey = await call(`${API}/server-key`, null, "the server key did not load");
    const json = await call(`${API}/${encodeURIComponent(tenderId)}/shares/mine`, token, "your share did not load");
    return await decryptShare(parseEncryptedShare(json), keys.encryptionPrivate, {
      ceremonyPublic: fromHex(serverKey.public_key),
      tenderId,
    });
  } finally {
    keys.encryptionPrivate.fill(0); // best effort: the page keeps no copy of the key
    keys.signingPrivate.fill(0);
  }
}

async function check() {
  const share = await decryptMine();
  share.value.fill(0);
  report(
    `Your share checks out: share ${share.index} of ${share.n} (${share.k} needed), ` +
      `signed by the server and decrypted with your key. Nothing was sent.`,
  );
  status.dataset.checked = String(share.index);
}

async function post(path, token, key, body) {
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(path, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "Idempotency-Key": key },
        body,
      });
      if (response.status < 500 || attempt >= 2) return response;
    } catch (error) {
      if (attempt >= 2) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)));
  }
}

async function handIn() {
  const token = field("token");
  const tenderId = field("tender");
  const lotId = field("lot");
  const kind = field("kind");
  if (!lotId) throw new Error("give the lot");
  const share = await decryptMine();
  const body = JSON.stringify({ kind, share: shareToJson(share) });
  share.value.fill(0);
  const path = `${API}/${encodeURIComponent(tenderId)}/lots/${encodeURIComponent(lotId)}/shares`;
  // One key per click, kept by its retries: a retry after a lost answer hands the share in
  // once. Not one key per stage: the server keeps a refusal (say opening_not_due, a click
  // before the opening time) as the key's answer, and a later click must run again.
  const key = `share-${share.officer_id}-${crypto.randomUUID()}`.slice(0, 255);
  const response = await post(path, token, key, body);
  if (!response.ok) throw await refusal(response, "the share was refused");
  const answer = await response.json();
  answerOut.textContent = JSON.stringify(answer, null, 2);
  status.dataset.count = String(answer.count);
  status.dataset.opened = String(answer.opened);
  if (!answer.opened) {
    report(`Share handed in (${answer.count} so far). The ${kind} stage opens when enough officers have handed in.`);
    return;
  }
  report(`Share handed in: the ${kind} stage of lot ${lotId} is open.`);
  const offers = await call(
    `${API}/${encodeURIComponent(tenderId)}/lots/${encodeURIComponent(lotId)}/offers`,
    token,
    "the opened offers did not load",
  );
  offersOut.textContent = JSON.stringify(offers.offers, null, 2);
}

function run(work, text) {
  reset();
  report(text);
  work().catch(failure);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  run(handIn, "Checking, decrypting and handing in your share…");
});
document.getElementById("check").addEventListener("click", () => run(check, "Checking your share…"));
document.getElementById("load").addEventListener("click", () => run(loadTender, "Loading…"));
document.getElementById("lot").addEventListener("change", () => showLot(field("lot")));

// ?tender=&lot=&kind= fill the form; a token in the fragment loads the tender and is then
// dropped from the address bar, so it is not left in the history.
const query = new URLSearchParams(location.search);
for (const name of ["tender", "lot", "kind"]) if (query.get(name)) setField(name, query.get(name));
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get("token")) {
  setField("token", fragment.get("token"));
  history.replaceState(null, "", location.pathname + location.search);
  let bound = null;
  try {
    bound = tokenClaims(field("token")).auction;
  } catch {
    // a malformed token: the server will say so at the first request
  }
  if (field("tender") || bound) run(loadTender, "Loading…");
}
