// The open auctions' bidding rule as the engine applies it (engine/formats/open_cry.py,
// engine/formats/base.py's StepRule), so the page can pre-fill and name the least
// aggressive bid the engine will take. Amounts are minor units as BigInts (the rules of
// an AuctionCreated event carry integers); never a float.

/** A percentage as a fraction of BigInts: '2.5' -> [25n, 1000n]. */
function fraction(percent) {
  const text = String(percent);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text)) throw new RangeError('not a percentage');
  const [whole, decimals = ''] = text.split('.');
  return [BigInt(whole + decimals), 100n * 10n ** BigInt(decimals.length)];
}

/** ceil(a / b) for b > 0. */
function ceilDiv(a, b) {
  const q = a / b;
  return a % b !== 0n && a > 0n ? q + 1n : q;
}

/** StepRule.of_price: the step at `price` (minor units): the fixed amount, or the
 *  percentage of the price rounded up to a whole minor unit. */
export function stepAt(step, price) {
  if (step.percent === null || step.percent === undefined) return BigInt(step.amount);
  const [num, den] = fraction(step.percent);
  return ceilDiv(BigInt(price) * num, den);
}

/** The least aggressive bid the engine accepts now, in minor units (BigInt), or null
 *  when the page cannot tell or no valid bid exists.
 *
 *  - English: the start price on an empty book, else the best plus a step (never above
 *    max_amount).
 *  - Reverse: at most the start price; with beat_best, at most the best minus a step;
 *    with beat_own, at most one's own last price minus a step. With a scoring rule the
 *    engine compares scores the page does not know: null once there is a best.
 *
 *  `best` and `mine` are minor units (or null). */
export function nextValidBid(rules, format, best, mine) {
  if (!rules) return null;
  const start = BigInt(rules.start_price);
  if (format === 'english') {
    const need = best === null ? start : BigInt(best) + stepAt(rules.step, best);
    return need <= BigInt(rules.max_amount) ? need : null;
  }
  if (format !== 'reverse') return null;
  let ceiling = start;
  if (rules.improvement === 'beat_own') {
    if (mine !== null) {
      const own = BigInt(mine) - stepAt(rules.step, mine);
      if (own < ceiling) ceiling = own;
    }
  } else if (best !== null) {
    if (rules.scoring && rules.scoring !== 'none') return null;
    const beat = BigInt(best) - stepAt(rules.step, best);
    if (beat < ceiling) ceiling = beat;
  }
  return ceiling > 0n ? ceiling : null;
}
