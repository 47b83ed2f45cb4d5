// The form on seal.html: read the fields, seal with seal.js, show the envelope JSON
// (the same "gavel-envelope/v1" file `gavel tender seal` writes).
import { SealError, sealOffer } from "./seal.js";

const form = document.getElementById("seal-form");
const status = document.getElementById("status");
const output = document.getElementById("envelope");

async function readFiles(input) {
  const documents = {};
  for (const file of input.files) documents[file.name] = new Uint8Array(await file.arrayBuffer());
  return documents;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  status.textContent = "Sealing…";
  status.className = "";
  output.value = "";
  const field = (id) => document.getElementById(id).value.trim();
  try {
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
        amount_minor: Number(field("amount")),
        currency: field("currency"),
        documents: await readFiles(document.getElementById("documents")),
      },
    });
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
    status.textContent = `Sealed. Commitment ${sealed.commitment}`;
    status.dataset.commitment = sealed.commitment;
  } catch (error) {
    status.className = "error";
    status.textContent = error instanceof SealError ? error.message : `Error: ${error}`;
  }
});
