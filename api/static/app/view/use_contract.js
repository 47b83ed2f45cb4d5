// The served wire contract (contract.js loadContract) as a hook: fetched once per page and
// shared by every view that needs it (the supplier's live view, the officer's watch); a
// failed fetch is tried again by the next view that asks.
//
// useContract() -> {contract, failed}: contract null until it has loaded.

import { useEffect, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { loadContract } from '../contract.js';

let contractLoad = null; // the one fetch in flight or done

export function useContract() {
  const [found, setFound] = useState({ contract: null, failed: false });
  useEffect(() => {
    let live = true;
    contractLoad ??= loadContract().catch((error) => {
      contractLoad = null;
      throw error;
    });
    contractLoad.then(
      (contract) => live && setFound({ contract, failed: false }),
      () => live && setFound({ contract: null, failed: true }),
    );
    return () => {
      live = false;
    };
  }, []);
  return found;
}
