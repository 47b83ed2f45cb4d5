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
 *    engine compares scores: the best's score beaten by a step, priced with my own
 *    coefficient and cost (leadPrice); null when the page does not know them.
 *  - Multi-round: my offer from before the turn minus a step.
 *
 *  `best` and `mine` are minor units (or null); `scored` is {bestScore, me} for a
 *  scored auction (leadPrice's arguments). */
export function nextValidBid(rules, format, best, mine, scored = null) {
  if (!rules) return null;
  if (format === 'multiround') {
    if (mine === null) return null;
    const own = BigInt(mine) - stepAt(rules.step, mine);
    return own > 0n ? own : null;
  }
  if (format !== 'english' && format !== 'reverse') return null;
  // A sealed or Dutch auction may have no start price; English and reverse always do.
  if (rules.start_price === null || rules.start_price === undefined) return null;
  const start = BigInt(rules.start_price);
  if (format === 'english') {
    const need = best === null ? start : BigInt(best) + stepAt(rules.step, best);
    return need <= BigInt(rules.max_amount) ? need : null;
  }
  let ceiling = start;
  if (rules.improvement === 'beat_own') {
    if (mine !== null) {
      const own = BigInt(mine) - stepAt(rules.step, mine);
      if (own < ceiling) ceiling = own;
    }
  } else if (best !== null) {
    if (rules.scoring && rules.scoring !== 'none') {
      if (!scored?.me || !scored.bestScore) return null;
      return leadPrice(rules, format, scored.bestScore, mine, scored.me);
    }
    const beat = BigInt(best) - stepAt(rules.step, best);
    if (beat < ceiling) ceiling = beat;
  }
  return ceiling > 0n ? ceiling : null;
}

// ------------------------------------------------------------------------- scoring
// engine/scoring.py in exact arithmetic: a score is {n, d, fraction} (BigInts, d > 0,
// n/d in lowest terms); `fraction` says whether the engine holds it as a Fraction (MEAT)
// or an int (NONE, LCC), which a percentage step treats differently (StepRule.of).

function gcd(a, b) {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y) [x, y] = [y, x % y];
  return x;
}

function ratio(n, d, isFraction) {
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1n;
  return { n: n / g, d: d / g, fraction: isFraction };
}

/** floor(a / b) for b > 0. */
function floorDiv(a, b) {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

/** A score as the engine writes it (engine/codec.py): an integer, or "n/d" (a Fraction). */
export function readScore(raw) {
  if (raw === null || raw === undefined) return null;
  if (typeof raw === 'string' && raw.includes('/')) {
    const [n, d] = raw.split('/');
    return ratio(BigInt(n), BigInt(d), true);
  }
  return ratio(BigInt(raw), 1n, false);
}

/** A decimal string ("0.10") as [numerator, denominator] BigInts. */
export function readDecimal(text) {
  const value = String(text ?? '0');
  if (!/^-?[0-9]+(\.[0-9]+)?$/.test(value)) throw new RangeError('not a decimal');
  const [whole, decimals = ''] = value.split('.');
  return [BigInt(whole + decimals), 10n ** BigInt(decimals.length)];
}

/** -1, 0 or 1 as score `a` is lower (better), equal to or higher than `b`. */
export function compareScores(a, b) {
  const left = a.n * b.d;
  const right = b.n * a.d;
  return left < right ? -1 : left > right ? 1 : 0;
}

/** score_of: the exact score of `price` (minor units) for a bidder's coefficient (a
 *  decimal string) and cost (minor units). */
export function scoreOf(scoring, price, coefficient, cost) {
  const p = BigInt(price);
  if (scoring === 'meat') {
    const [cn, cd] = readDecimal(coefficient);
    return ratio(p * cd, cd + cn, true);
  }
  if (scoring === 'lcc') return ratio(p + BigInt(cost), 1n, false);
  return ratio(p, 1n, false);
}

/** max_price_for_score: the highest integer price whose score is at most `score`. */
export function maxPriceForScore(scoring, score, coefficient, cost) {
  if (scoring === 'meat') {
    const [cn, cd] = readDecimal(coefficient);
    return floorDiv(score.n * (cd + cn), score.d * cd);
  }
  const whole = floorDiv(score.n, score.d);
  return scoring === 'lcc' ? whole - BigInt(cost) : whole;
}

/** min_price_for_score: the lowest integer price whose score is at least `score`. */
export function minPriceForScore(scoring, score, coefficient, cost) {
  if (scoring === 'meat') {
    const [cn, cd] = readDecimal(coefficient);
    return -floorDiv(-score.n * (cd + cn), score.d * cd);
  }
  const whole = -floorDiv(-score.n, score.d);
  return scoring === 'lcc' ? whole - BigInt(cost) : whole;
}

/** StepRule.of: the step at a score: the fixed amount, or the percentage of it (rounded
 *  up to a whole minor unit for an int score, exact for a Fraction). */
export function stepOfScore(step, score) {
  if (step.percent === null || step.percent === undefined) {
    return ratio(BigInt(step.amount), 1n, false);
  }
  const [num, den] = fraction(step.percent);
  if (!score.fraction) return ratio(ceilDiv(score.n * num, den), 1n, false);
  return ratio(score.n * num, score.d * den, true);
}

function minus(a, b) {
  return ratio(a.n * b.d - b.n * a.d, a.d * b.d, a.fraction || b.fraction);
}

/** The price by which I would lead (minor units, BigInt), or null when none would:
 *
 *  - reverse (open_cry's lead price): beat the best score by a step, at most the start
 *    price, and with beat_own at most my own price minus a step;
 *  - multiround: a score strictly below the best's (a tie goes to the earlier offer), and
 *    at most my offer from before the turn minus a step.
 *
 *  `bestScore` is the leader's score as read by readScore (null: no offer yet), `mine`
 *  my standing price (or null), `me` my {coefficient, cost}. */
export function leadPrice(rules, format, bestScore, mine, me) {
  if (!rules || !me) return null;
  const scoring = rules.scoring ?? 'none';
  let price;
  if (format === 'reverse') {
    if (bestScore === null) return BigInt(rules.start_price);
    const target = minus(bestScore, stepOfScore(rules.step, bestScore));
    price = maxPriceForScore(scoring, target, me.coefficient, me.cost);
    if (price > BigInt(rules.start_price)) price = BigInt(rules.start_price);
  } else if (format === 'multiround') {
    if (bestScore === null || mine === null) return null;
    price = minPriceForScore(scoring, bestScore, me.coefficient, me.cost) - 1n;
  } else {
    return null;
  }
  if (mine !== null && (format === 'multiround' || rules.improvement === 'beat_own')) {
    const own = BigInt(mine) - stepAt(rules.step, mine);
    if (own < price) price = own;
  }
  return price > 0n ? price : null;
}
