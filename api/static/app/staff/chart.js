// The offers-over-time chart: one component for the officer's live watch and the
// auditor's replay, drawn by the vendored uPlot.
//
//   import { OffersChart } from '/app/staff/chart.js';
//   html`<${OffersChart} points=${points} marks=${marks} labels=${labels}
//                         winner=${winner} currency="AZN" />`
//
// - points: [{t_us, label, amount_minor}] in any order: each is a bidder's offer from
//   t_us (microseconds since the epoch) on; amount_minor is integer minor units (a
//   number, a BigInt or a digit string), or null when the bidder's offer ended then
//   (withdrawn, disqualified). A bidder's line steps from offer to offer and runs on to
//   the right edge (the last time of any point or mark, or `until_us` when given).
// - marks: [{kind: 'extension'|'round'|'turn', from_us, to_us, text}]: vertical bands
//   behind the lines (a soft-close extension from the old end to the new one, a round,
//   a turn); from_us === to_us draws a line. `text` (already translated) is read in the
//   chart's text description, which screen readers get instead of the canvas.
// - labels: the legend's order: bidder labels as in points (strings), or
//   [{label, text}] to show `text` (e.g. a party's name as an officer sees it, or
//   labelText(label)) for `label`. Labels found only in points are appended.
// - winner: the label whose line is drawn thicker (and named in the legend), or null.
// - currency: the ISO code of the amounts (their exponent and the axis's formatting).
// - from_us, until_us (optional): the left and right edges of the time axis when the
//   points do not reach them (e.g. the auction's start, and the clock now or its end);
//   the lines run on to until_us.
// - id (optional): the figure's id (default "offers-chart").
// - caption (optional): the figure's caption (default "Offers over time"; null: none,
//   when the page's own heading names it).
//
// The legend is a row of toggle buttons (aria-pressed), one per bidder, and doubles as a
// filter: pressing one hides or shows that bidder's line. Colours come from the page's
// tokens (--accent, --ok, --warn, ...) so light and dark themes both read; the stylesheet
// is /app/staff/chart.css (loaded by the component). Amounts are plotted as minor units
// (exact below 2^53) and every label on the axis is formatted as money in the page's
// locale; times on the axis are in the user's zone.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useMemo, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import uPlot from '/vendor/uplot@1.6.32/uPlot.mjs';
import { formatLocale, moneyLocale, t } from '../i18n.js';
import { formatMinor } from '../money.js';
import { formatTime } from '../time.js';
import { useStylesheet } from './style.js';

const PALETTE = ['#0b5cad', '#b3261e', '#1b6e35', '#8a5200', '#6b3fa0', '#00707a', '#a3326b', '#545b66'];
const PALETTE_DARK = ['#7cb6ff', '#ff9a8f', '#7fd49a', '#f3c26b', '#c9a7ff', '#6fd6df', '#ff8fc6', '#a9b0ba'];
const BAND = { extension: 'warn', round: 'accent', turn: 'muted' };

function dark() {
  return globalThis.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;
}

function token(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

function minorNumber(value) {
  if (value === null || value === undefined) return null;
  return Number(typeof value === 'bigint' ? value : BigInt(value));
}

/** The legend's entries: [{label, text}], in the order given, then the rest of points'. */
export function legendOf(labels, points) {
  const entries = [];
  const seen = new Set();
  for (const item of labels ?? []) {
    const entry = typeof item === 'string' ? { label: item, text: item } : item;
    if (seen.has(entry.label)) continue;
    seen.add(entry.label);
    entries.push({ label: entry.label, text: entry.text ?? entry.label });
  }
  for (const point of points ?? []) {
    if (seen.has(point.label)) continue;
    seen.add(point.label);
    entries.push({ label: point.label, text: point.label });
  }
  return entries;
}

/** uPlot's aligned data: [xs (seconds), ys per entry] where each bidder's offer carries
 *  on from each of its points to the next (null before its first, after an end).
 *  O(points x bidders). */
export function alignData(points, entries, untilUs = null, marks = [], fromUs = null) {
  const sorted = [...(points ?? [])].sort((a, b) => a.t_us - b.t_us);
  const times = new Set(sorted.map((p) => p.t_us));
  if (fromUs !== null && fromUs !== undefined && (!sorted.length || fromUs < sorted[0].t_us)) {
    times.add(fromUs);
  }
  let last = sorted.length ? sorted[sorted.length - 1].t_us : null;
  for (const mark of marks ?? []) {
    for (const at of [mark.from_us, mark.to_us]) {
      if (at !== null && at !== undefined && (last === null || at > last)) last = at;
    }
  }
  if (untilUs !== null && untilUs !== undefined && (last === null || untilUs > last)) last = untilUs;
  if (last !== null) times.add(last);
  const xs = [...times].sort((a, b) => a - b);
  const index = new Map(entries.map((entry, i) => [entry.label, i]));
  const current = entries.map(() => null);
  const ys = entries.map(() => new Array(xs.length).fill(null));
  let next = 0;
  xs.forEach((at, column) => {
    while (next < sorted.length && sorted[next].t_us <= at) {
      const point = sorted[next];
      const row = index.get(point.label);
      if (row !== undefined) current[row] = minorNumber(point.amount_minor);
      next += 1;
    }
    current.forEach((value, row) => {
      ys[row][column] = value;
    });
  });
  return [xs.map((us) => us / 1e6), ...ys];
}

/** The chart in words, for screen readers and the figure's caption: each bidder's last
 *  offer and the marks. */
function describe(entries, data, marks, winner, currency) {
  const parts = entries.map((entry, row) => {
    const ys = data[row + 1];
    let value = null;
    for (let i = ys.length - 1; i >= 0 && value === null; i -= 1) value = ys[i];
    const amount = value === null ? t('chart.no_offer') : formatMinor(BigInt(value), currency, moneyLocale());
    const name = entry.label === winner ? t('chart.winner_named', { name: entry.text }) : entry.text;
    return `${name}: ${amount}`;
  });
  const marked = (marks ?? []).map((mark) => mark.text).filter(Boolean);
  return [t('chart.summary', { count: entries.length }), ...parts, ...marked].join('; ');
}

export function OffersChart({
  points,
  marks = [],
  labels = [],
  winner = null,
  currency,
  from_us = null,
  until_us = null,
  id = 'offers-chart',
  caption = undefined,
}) {
  useStylesheet('/vendor/uplot@1.6.32/uPlot.min.css');
  useStylesheet('/app/staff/chart.css');
  const holder = useRef(null);
  const plot = useRef(null);
  const [hidden, setHidden] = useState(() => new Set());
  const entries = useMemo(() => legendOf(labels, points), [labels, points]);
  const data = useMemo(
    () => alignData(points, entries, until_us, marks, from_us),
    [points, entries, until_us, marks, from_us],
  );
  // The theme's colours are read when the chart is built: rebuilt when the theme changes.
  const [scheme, setScheme] = useState(() => (dark() ? 'dark' : 'light'));
  useEffect(() => {
    const query = globalThis.matchMedia?.('(prefers-color-scheme: dark)');
    if (!query) return undefined;
    const changed = () => setScheme(query.matches ? 'dark' : 'light');
    query.addEventListener('change', changed);
    return () => query.removeEventListener('change', changed);
  }, []);
  const colours = scheme === 'dark' ? PALETTE_DARK : PALETTE;
  const colourOf = (row) => colours[row % colours.length];
  const shape = `${entries.map((entry) => entry.label).join('\u0000')}|${winner}|${currency}|${scheme}`;

  // (Re)built when the bidders, the winner or the currency change; else only fed data.
  useEffect(() => {
    const element = holder.current;
    if (!element) return undefined;
    const width = Math.max(240, element.clientWidth || 600);
    const height = width < 500 ? 220 : 300;
    const locale = formatLocale();
    const opts = {
      width,
      height,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: {
          time: true,
          // The data's own span (the auction's, when from_us/until_us are given), at least
          // ten seconds wide so a burst of bids within a second still reads.
          range: (u, min, max) => (max - min < 10 ? [min - 1, min + 10] : [min, max]),
        },
      },
      axes: [
        {
          stroke: token('--muted', '#545b66'),
          grid: { stroke: token('--line', '#d5d9df'), width: 1 },
          values: (u, splits) => splits.map((s) => formatTime(Math.round(s * 1e6), locale)),
          // Ticks on whole seconds and minutes: never two labels reading the same time.
          incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400],
          space: 80,
        },
        {
          stroke: token('--muted', '#545b66'),
          grid: { stroke: token('--line', '#d5d9df'), width: 1 },
          values: (u, splits) =>
            splits.map((s) => formatMinor(BigInt(Math.round(s)), currency, moneyLocale())),
          // As wide as the longest label (measured in the axis's font), never clipped.
          size: (u, values) => {
            if (!values?.length) return 60;
            const ctx = u.ctx;
            ctx.save();
            ctx.font = u.axes[1].font?.[0] ?? '12px system-ui';
            const widest = Math.max(...values.map((v) => ctx.measureText(v).width));
            ctx.restore();
            return Math.ceil(widest / (devicePixelRatio || 1)) + 24;
          },
        },
      ],
      series: [
        {},
        ...entries.map((entry, row) => ({
          label: entry.text,
          stroke: colourOf(row),
          width: entry.label === winner ? 4 : 2,
          dash: entry.label === winner || row < colours.length ? undefined : [6, 4],
          points: { show: true, size: entry.label === winner ? 8 : 6 },
          paths: uPlot.paths.stepped({ align: 1 }),
          show: !hidden.has(entry.label),
        })),
      ],
      hooks: {
        drawClear: [
          (u) => {
            const ctx = u.ctx;
            const top = u.bbox.top;
            const tall = u.bbox.height;
            for (const mark of u.__marks ?? []) {
              const left = u.valToPos(mark.from_us / 1e6, 'x', true);
              const right = u.valToPos(mark.to_us / 1e6, 'x', true);
              ctx.save();
              ctx.fillStyle = token(`--${BAND[mark.kind] ?? 'muted'}`, '#8a5200');
              if (right - left >= 2) {
                ctx.globalAlpha = 0.14;
                ctx.fillRect(left, top, right - left, tall);
              } else {
                ctx.globalAlpha = 0.6;
                ctx.fillRect(left - 1, top, 2, tall);
              }
              ctx.restore();
            }
          },
        ],
      },
    };
    const chart = new uPlot(opts, data, element);
    chart.__marks = marks;
    plot.current = chart;
    const observer = new ResizeObserver(() => {
      const w = Math.max(240, element.clientWidth);
      if (w && w !== chart.width) chart.setSize({ width: w, height: w < 500 ? 220 : 300 });
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [shape]);

  useEffect(() => {
    const chart = plot.current;
    if (!chart) return;
    chart.__marks = marks;
    chart.setData(data);
  }, [data, marks]);

  const toggle = (label, row) => {
    const next = new Set(hidden);
    if (next.has(label)) next.delete(label);
    else next.add(label);
    setHidden(next);
    plot.current?.setSeries(row + 1, { show: !next.has(label) });
  };

  const summary = describe(entries, data, marks, winner, currency);
  return html`<figure class="offers-chart" id=${id} data-lines=${String(entries.length)}>
    ${caption === null ? null : html`<figcaption class="chart-title">${caption ?? t('chart.title')}</figcaption>`}
    <div class="chart-canvas" ref=${holder} role="img" aria-label=${summary}></div>
    ${entries.length === 0 ? html`<p class="muted chart-empty">${t('chart.empty')}</p>` : null}
    <div class="chart-legend" role="group" aria-label=${t('chart.legend')}>
      ${entries.map(
        (entry, row) => html`<button
          type="button"
          class=${`chart-key${entry.label === winner ? ' winner' : ''}`}
          data-label=${entry.label}
          aria-pressed=${String(!hidden.has(entry.label))}
          title=${t('chart.toggle')}
          onClick=${() => toggle(entry.label, row)}
        >
          <span class="swatch" aria-hidden="true" style=${{ background: colourOf(row) }}></span>
          <span>${entry.text}</span>
          ${entry.label === winner ? html` <span class="badge">${t('chart.winner')}</span>` : null}
        </button>`,
      )}
    </div>
    ${(marks ?? []).length
      ? html`<p class="chart-marks muted">
          <span class="band-key extension" aria-hidden="true"></span>${t('chart.band_extension')}
          <span class="band-key round" aria-hidden="true"></span>${t('chart.band_round')}
        </p>`
      : null}
  </figure>`;
}
