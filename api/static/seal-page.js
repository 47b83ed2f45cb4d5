// The form on seal.html: read the fields, seal with seal.js, and either show the envelope
// JSON (the same "gavel-envelope/v1" file `gavel tender seal` writes) or, when the page is
// served by the Gavel server (GET /seal/), submit it and show the signed receipt.
//
// Served by the server, the page takes the bidder's token from the URL fragment
// (/seal/#token=...; a fragment never reaches any server or log) or from the token field,
// loads the tender (GET /api/v1/tenders/{t}: opening key, lots, deadlines), seals in the
// browser and uploads the ciphertext bytes (POST .../lots/{l}/envelopes/{kind}?deadline=,
// application/octet-stream) with an Idempotency-Key, so a retry of the same envelope never
// counts twice. Only ciphertext ever leaves the browser.
//
// A MEAT tender's financial envelope also states a value for each feature the tender
// declares: one field per feature, read and refused as the supplier's application reads
// them (/app/tender/features.js, the engine's feature_value) and in its words (the
// application's English catalog, tender.feature_*: this page is in English), sealed in
// the offer's `features`. Nothing is sealed while a value is refused.
import { parseFeature, showDecimal } from "/app/tender/features.js";
import { loadCatalog, t } from "/app/i18n.js";
import { SealError, sealOffer } from "./seal.js";

const API = "/api/v1/tenders";
const form = document.getElementById("seal-form");
const status = document.getElementById("status");
const output = document.getElementById("envelope");
const receiptOut = document.getElementById("receipt");
const field = (id) => document.getElementById(id).value.trim();
const setField = (id, value) => {
  document.getElementById(id).value = value;
};
let lots = [];
// The declared features of a MEAT tender ([{name, weight, maximum}]), else none.
let features = [];
// The page's words are English; so is the locale values are read in.
const LOCALE = "en";

class FeaturesRefused extends Error {}

async function readFiles(input) {
  const documents = {};
  for (const file of input.files) documents[file.name] = new Uint8Array(await file.arrayBuffer());
  return documents;
}

function report(text, error = false) {
  status.className = error ? "error" : "";
  status.textContent = text;
}

function failure(error) {
  if (error instanceof FeaturesRefused) {
    report(t("tender.feature_fix"), true);
    return;
  }
  report(error instanceof SealError ? error.message : `Error: ${error.message || error}`, true);
}

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.textContent = text;
  return node;
}

const featureBox = document.getElementById("features");

// One row per declared feature: its name as the label, its bounds and weight below.
function showFeatures() {
  const rows = document.getElementById("feature-rows");
  rows.replaceChildren();
  document.getElementById("features-legend").textContent = features.length ? t("tender.feature_legend") : "";
  document.getElementById("features-intro").textContent = features.length ? t("tender.feature_intro") : "";
  features.forEach((feature, i) => {
    const id = `feature-${i}`;
    const row = element("div", { class: "feature-row", "data-feature": feature.name });
    row.append(
      element("label", { for: id }, feature.name),
      element("input", {
        id,
        class: "feature",
        name: id,
        inputmode: "decimal",
        autocomplete: "off",
        spellcheck: "false",
        "aria-describedby": `${id}-hint`,
        "aria-invalid": "false",
      }),
      element(
        "p",
        { class: "hint", id: `${id}-hint` },
        t("tender.feature_hint", {
          maximum: showDecimal(feature.maximum, LOCALE),
          weight: showDecimal(feature.weight, LOCALE),
        }),
      ),
    );
    rows.append(row);
  });
  showFeatureBox();
}

// Features are stated with the price: only in the financial envelope.
function showFeatureBox() {
  featureBox.hidden = !(features.length && field("kind") === "financial");
}

// The typed values as the offer's features ({name: value}); a refused value is said
// beside its field (the first one focused) and nothing is sealed.
function readFeatures() {
  if (featureBox.hidden) return {};
  const stated = {};
  let first = null;
  features.forEach((feature, i) => {
    const input = document.getElementById(`feature-${i}`);
    document.getElementById(`feature-${i}-error`)?.remove();
    const read = parseFeature(input.value, feature, LOCALE);
    input.setAttribute("aria-invalid", read.ok ? "false" : "true");
    input.setAttribute("aria-describedby", read.ok ? `feature-${i}-hint` : `feature-${i}-hint feature-${i}-error`);
    if (read.ok) {
      stated[feature.name] = read.value;
      return;
    }
    const error = element("p", { class: "error feature-error", id: `feature-${i}-error` }, t(read.key, read.params));
    input.parentElement.append(error);
    first ??= input;
  });
  if (first) {
    first.focus();
    throw new FeaturesRefused();
  }
  return stated;
}

// The claims of a Gavel token: base64url(canonical JSON).base64url(signature). Read only to
// fill the form (bidder and tender); the server checks the signature.
function tokenClaims(token) {
  const segment = token.split(".")[0] || "";
  const base64 = segment.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

async function problemText(response) {
  try {
    const body = await response.json();
    return `${response.status} ${body.code || ""}: ${body.detail || body.title || ""}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

function showLot(name) {
  const lot = lots.find((entry) => entry.id === name);
  if (!lot) return;
  setField("deadline", String(lot.deadline));
  const kind = document.getElementById("kind");
  for (const option of kind.options) option.disabled = !lot.kinds.includes(option.value);
  if (!lot.kinds.includes(kind.value)) kind.value = lot.kinds[lot.kinds.length - 1];
  showFeatureBox();
}

async function loadTender() {
  const token = field("token");
  if (!token) throw new Error("paste your bidder token first");
  const claims = tokenClaims(token);
  setField("bidder", claims.sub);
  const tenderId = field("tender") || claims.auction;
  setField("tender", tenderId);
  const response = await fetch(`${API}/${encodeURIComponent(tenderId)}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!response.ok) throw new Error(`the tender did not load: ${await problemText(response)}`);
  const tender = await response.json();
  if (!tender.opening_public_key) throw new Error("the tender is not published yet");
  setField("tender-key", tender.opening_public_key);
  setField("currency", tender.currency);
  features = tender.criterion === "meat" ? (tender.features ?? []) : [];
  if (features.length) await loadCatalog("en");
  showFeatures();
  lots = tender.lots;
  const wanted = new URLSearchParams(location.search).get("lot");
  const open = lots.filter((lot) => lot.phase === "open");
  const chosen = lots.find((lot) => lot.id === (field("lot") || wanted)) || open[0] || lots[0];
  setField("lot", chosen.id);
  showLot(chosen.id);
  report(`Loaded "${tender.title}": lot ${chosen.id} closes at ${chosen.deadline} µs.`);
  status.dataset.loaded = tenderId;
}

async function sealFromForm() {
  const stated = readFeatures();
  const place = {
    tenderId: field("tender"),
    lotId: field("lot"),
    kind: field("kind"),
    bidderId: field("bidder"),
    deadlineUs: BigInt(field("deadline")),
  };
  const sealed = await sealOffer({
    tenderKey: field("tender-key").toLowerCase(),
    ...place,
    offer: {
      amount: field("amount"),
      cost: field("cost") || null,
      features: stated,
      currency: field("currency"),
      documents: await readFiles(document.getElementById("documents")),
    },
  });
  return { place, sealed };
}

async function submitSealed() {
  const token = field("token");
  if (!token) throw new Error("paste your bidder token and load the tender first");
  const { place, sealed } = await sealFromForm();
  const path =
    `${API}/${encodeURIComponent(place.tenderId)}/lots/${encodeURIComponent(place.lotId)}` +
    `/envelopes/${place.kind}?deadline=${place.deadlineUs}`;
  // One key per sealed envelope: resending these bytes (a retry after a lost answer)
  // gets the same receipt back instead of a second submission.
  const key = `seal-${sealed.commitment}`;
  let response;
  for (let attempt = 0; ; attempt++) {
    try {
      response = await fetch(path, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${token}`,
          "Content-Type": "application/octet-stream",
          "Idempotency-Key": key,
        },
        body: sealed.ciphertext,
      });
      if (response.status < 500 || attempt >= 2) break;
    } catch (error) {
      if (attempt >= 2) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)));
  }
  if (!response.ok) throw new Error(`the envelope was refused: ${await problemText(response)}`);
  const signed = await response.json();
  if (signed.receipt.commitment !== sealed.commitment) {
    throw new Error("the receipt names another commitment: keep this page and report it");
  }
  receiptOut.textContent = JSON.stringify(signed, null, 2);
  report(
    `Submitted. Receipt #${signed.receipt.seq} at ${signed.receipt.received_at_us} µs, ` +
      `commitment ${sealed.commitment}`,
  );
  status.dataset.commitment = sealed.commitment;
  status.dataset.receiptSeq = String(signed.receipt.seq);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  report("Sealing…");
  output.value = "";
  try {
    const { place, sealed } = await sealFromForm();
    const envelope = {
      type: "gavel-envelope/v1",
      tender_id: place.tenderId,
      lot_id: place.lotId,
      kind: place.kind,
      bidder_id: place.bidderId,
      deadline_us: Number(place.deadlineUs),
      ciphertext: sealed.ciphertextBase64,
      commitment: sealed.commitment,
    };
    output.value = JSON.stringify(envelope, null, 2);
    report(`Sealed. Commitment ${sealed.commitment}`);
    status.dataset.commitment = sealed.commitment;
  } catch (error) {
    failure(error);
  }
});

document.getElementById("load").addEventListener("click", () => {
  report("Loading…");
  loadTender().catch(failure);
});

document.getElementById("submit").addEventListener("click", () => {
  report("Sealing and submitting…");
  receiptOut.textContent = "";
  delete status.dataset.commitment;
  submitSealed().catch(failure);
});

document.getElementById("lot").addEventListener("change", () => showLot(field("lot")));
document.getElementById("kind").addEventListener("change", showFeatureBox);

// A token in the fragment (/seal/#token=...) fills the form and loads the tender; it is
// then dropped from the address bar, so it is not left in the history.
const fragment = new URLSearchParams(location.hash.slice(1));
const query = new URLSearchParams(location.search);
if (query.get("tender")) setField("tender", query.get("tender"));
if (fragment.get("token")) {
  setField("token", fragment.get("token"));
  history.replaceState(null, "", location.pathname + location.search);
  report("Loading…");
  loadTender().catch(failure);
}
