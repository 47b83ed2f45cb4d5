// Times for people, on the server's clock.
//
// Every server message carries server_time (microseconds since the Unix epoch on the
// server's clock, contracts/messages.py); deadlines are microseconds too. A countdown
// runs on ServerClock, which follows the server's time from those frames with the
// page's monotonic clock (performance.now()) in between, never the browser's wall
// clock, which may be minutes wrong. Times are shown in the user's time zone
// (Intl.DateTimeFormat), with the zone's name for a tooltip.

const US_PER_MS = 1000;

// 'numeric' hours read 5:00:00 even where the day has 24 hours (en-GB, tr); such a
// clock is written 05:00:00.
function hourStyle(locale, timeZone) {
  const probe = new Intl.DateTimeFormat(locale, { timeZone, hour: 'numeric' });
  const { hourCycle } = probe.resolvedOptions();
  return hourCycle === 'h23' || hourCycle === 'h24' ? '2-digit' : 'numeric';
}

function toMs(us) {
  const value = Number(us); // a BigInt too: server times fit a double exactly
  if (!Number.isFinite(value)) throw new RangeError('not a time in microseconds');
  return Math.floor(value / US_PER_MS);
}

/** A server time (µs) as a time of day in `locale`: '14:58:03' (en-GB), '2:58:03 PM'
 *  (en-US). `timeZone` defaults to the user's own. */
export function formatTime(us, locale, { timeZone, seconds = true } = {}) {
  return new Intl.DateTimeFormat(locale, {
    timeZone,
    hour: hourStyle(locale, timeZone),
    minute: '2-digit',
    ...(seconds ? { second: '2-digit' } : {}),
  }).format(toMs(us));
}

/** A server time (µs) as a date and time in `locale`, numeric (no month names, which a
 *  locale's fallback could spell in another language). */
export function formatDateTime(us, locale, { timeZone, seconds = false } = {}) {
  return new Intl.DateTimeFormat(locale, {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: hourStyle(locale, timeZone),
    minute: '2-digit',
    ...(seconds ? { second: '2-digit' } : {}),
  }).format(toMs(us));
}

/** The time zone times are shown in, for a tooltip: its IANA name and its offset at
 *  `us`, e.g. 'Asia/Baku (GMT+04:00)'. */
export function zoneLabel(us, locale, { timeZone } = {}) {
  const format = new Intl.DateTimeFormat(locale, { timeZone, timeZoneName: 'longOffset' });
  const zone = format.resolvedOptions().timeZone;
  const offset = format.formatToParts(toMs(us)).find((p) => p.type === 'timeZoneName');
  return offset ? `${zone} (${offset.value})` : zone;
}

/** A span of time (µs) as a clock: '4:12', '1:02:03', rounded up to the second (a
 *  countdown reads 0:01 until the last microsecond, 0:00 only when time is up); a
 *  negative span reads '0:00'. */
export function formatCountdown(us) {
  const total = Math.max(0, Math.ceil(Number(us) / 1_000_000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = String(total % 60).padStart(2, '0');
  return hours ? `${hours}:${String(minutes).padStart(2, '0')}:${secs}` : `${minutes}:${secs}`;
}

/** The server's clock as the page knows it: observe() each frame's server_time as it
 *  arrives, then nowUs() between frames. A frame is read late, never early, so the
 *  estimate is the latest server time any frame proves (a delayed frame cannot pull the
 *  clock back); reset() after a reconnect (the new server's clock may differ).
 *  `monotonic` is performance.now() unless a test gives its own (ms). */
export class ServerClock {
  constructor(monotonic = () => performance.now()) {
    this._monotonic = monotonic;
    this._offset = null; // server µs minus monotonic µs
  }

  /** Learn from a frame's server_time (µs), received at `at` (monotonic ms, now). */
  observe(serverTimeUs, at = this._monotonic()) {
    const offset = Number(serverTimeUs) - at * US_PER_MS;
    if (!Number.isFinite(offset)) throw new RangeError('not a time in microseconds');
    if (this._offset === null || offset > this._offset) this._offset = offset;
  }

  /** Whether any frame has been observed since construction or reset(). */
  get known() {
    return this._offset !== null;
  }

  /** The server's time now (µs), or null before the first frame. */
  nowUs() {
    return this._offset === null ? null : Math.round(this._offset + this._monotonic() * US_PER_MS);
  }

  /** Microseconds until `deadlineUs` on the server's clock (negative once passed), or
   *  null before the first frame. */
  untilUs(deadlineUs) {
    const now = this.nowUs();
    return now === null ? null : Number(deadlineUs) - now;
  }

  /** Forget what was learnt (a new connection, perhaps a new server). */
  reset() {
    this._offset = null;
  }
}
