import { svgToPng } from '../market/chart/raster.js';
import { CHART_FONT_FAMILY } from '../market/chart/svg.js';
import { formatCompact, formatPrice, priceTicks, timeTicks } from '../market/chart/ticks.js';
import type { Gap } from '../market/types.js';
import { drawdownSeries } from './metrics.js';
import type { BacktestResult } from './run.js';

/**
 * The equity curve and its drawdown as a chart, built as SVG by hand and rasterised like the
 * candle chart (resvg, the chart font loaded explicitly). Top panel: the strategy's equity and
 * buy-and-hold's, marked at every candle close; bottom panel: both drawdowns in percent below
 * their running peaks. x is proportional to time; a hole in the record is a hatched band and the
 * lines break across it (nothing is drawn where no price was recorded). Long series are reduced
 * to the min and max of each pixel column, so extremes (the deepest drawdown) stay visible.
 *
 * Markup hooks: `<path class="equity strategy|hold">`, `<path class="drawdown strategy|hold">`,
 * `<g class="gap" data-missing="N">`.
 */

export interface EquityChartInput {
  title: string;
  subtitle: string;
  /** candle open times; the equity is marked at each close (time + timeframe) */
  time: Float64Array;
  timeframeMs: number;
  initial: number;
  strategy: Float64Array;
  hold: Float64Array;
  gaps: Gap[];
  quote: string;
  strategyLabel: string;
  width?: number;
  height?: number;
}

const P = {
  bg: '#131722',
  grid: '#1f2433',
  axis: '#363c4e',
  text: '#d1d4dc',
  muted: '#848e9c',
  strategy: '#2962ff',
  hold: '#b2b5be',
  dd: '#ef5350',
  gap: '#f0b90b',
};

const esc = (s: string): string => s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string);
const n1 = (v: number): string => String(Math.round(v * 10) / 10);
const textWidth = (s: string, size: number): number => s.length * size * 0.62;

/** polyline points (x, y) reduced to min/max per pixel column, broken into runs at gaps */
function runs(xs: Float64Array, ys: Float64Array, breaks: Uint8Array): string {
  let d = '';
  let col = Number.NaN;
  let lo = 0;
  let hi = 0;
  let first = 0;
  let lastY = 0;
  let open = false;
  const flush = (): void => {
    if (Number.isNaN(col)) return;
    // enter the column at its first value, touch both extremes, leave at its last
    d += `${open ? 'L' : 'M'}${n1(col)} ${n1(first)}`;
    if (hi !== first) d += `L${n1(col)} ${n1(hi)}`;
    if (lo !== hi) d += `L${n1(col)} ${n1(lo)}`;
    if (lastY !== lo) d += `L${n1(col)} ${n1(lastY)}`;
    open = true;
  };
  for (let k = 0; k < xs.length; k++) {
    const x = Math.round(xs[k] as number);
    const y = ys[k] as number;
    if (breaks[k] === 1) {
      flush();
      col = Number.NaN;
      open = false;
    }
    if (x !== col) {
      flush();
      col = x;
      lo = y;
      hi = y;
      first = y;
    } else {
      if (y < hi) hi = y;
      if (y > lo) lo = y;
    }
    lastY = y;
  }
  flush();
  return d;
}

export function buildEquitySvg(x: EquityChartInput): string {
  const n = x.time.length;
  if (n === 0 || x.strategy.length !== n || x.hold.length !== n) throw new RangeError(`equity chart: ${n} times, ${x.strategy.length} and ${x.hold.length} equity points`);
  const W = x.width ?? 1200;
  const H = x.height ?? 700;
  const tf = x.timeframeMs;
  const closeAt = (k: number): number => (x.time[k] as number) + tf;

  let lo = x.initial;
  let hi = x.initial;
  for (let k = 0; k < n; k++) {
    for (const v of [x.strategy[k] as number, x.hold[k] as number]) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const ddS = drawdownSeries(x.strategy, x.initial);
  const ddH = drawdownSeries(x.hold, x.initial);
  let ddMax = 0;
  for (let k = 0; k < n; k++) ddMax = Math.max(ddMax, ddS[k] as number, ddH[k] as number);

  const pt = priceTicks(lo, hi);
  const labels = pt.values.map((v) => formatPrice(v, Math.max(0, Math.min(2, pt.decimals))));
  const axisW = Math.ceil(Math.max(64, ...labels.map((l) => textWidth(l, 11) + 20)));
  const L = 12;
  const R = W - axisW;
  const PT = 62;
  const timeAxisH = 26;
  const gapPx = 12;
  const usable = H - PT - timeAxisH - gapPx;
  const PB = PT + Math.round(usable * 0.68);
  const DT = PB + gapPx;
  const DB = H - timeAxisH;
  const plotW = R - L;

  const t0 = x.time[0] as number;
  const t1 = closeAt(n - 1);
  const pad = Math.max(tf, (t1 - t0) * 0.004);
  const d0 = t0 - pad;
  const d1 = t1 + pad;
  const X = (t: number): number => L + ((t - d0) / (d1 - d0)) * plotW;
  const Y = (v: number): number => PT + ((pt.max - v) / (pt.max - pt.min)) * (PB - PT);
  const ddTop = DT + 16;
  const ddScale = ddMax > 0 ? ddMax * 1.08 : 0.01;
  const DY = (d: number): number => ddTop + (d / ddScale) * (DB - ddTop);

  const xs = new Float64Array(n + 1);
  const ys = new Float64Array(n + 1);
  const yh = new Float64Array(n + 1);
  const ds = new Float64Array(n + 1);
  const dh = new Float64Array(n + 1);
  const breaks = new Uint8Array(n + 1);
  // the start: the initial equity at the first open, no drawdown
  xs[0] = X(t0);
  ys[0] = Y(x.initial);
  yh[0] = Y(x.initial);
  ds[0] = DY(0);
  dh[0] = DY(0);
  for (let k = 0; k < n; k++) {
    xs[k + 1] = X(closeAt(k));
    ys[k + 1] = Y(x.strategy[k] as number);
    yh[k + 1] = Y(x.hold[k] as number);
    ds[k + 1] = DY(ddS[k] as number);
    dh[k + 1] = DY(ddH[k] as number);
    // a candle that does not follow its predecessor: the line breaks over the hole
    if (k > 0 && (x.time[k] as number) - (x.time[k - 1] as number) !== tf) breaks[k + 1] = 1;
  }

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${CHART_FONT_FAMILY}">`,
    `<defs><pattern id="gap-hatch" patternUnits="userSpaceOnUse" width="7" height="7" patternTransform="rotate(45)"><rect x="0" y="0" width="2" height="7" fill="${P.gap}" fill-opacity="0.22"/></pattern>` +
      `<clipPath id="plot"><rect x="${L}" y="${PT}" width="${plotW}" height="${DB - PT}"/></clipPath></defs>`,
    `<rect width="${W}" height="${H}" fill="${P.bg}"/>`,
    `<text class="title" x="${L}" y="22" font-size="15" font-weight="bold" fill="${P.text}">${esc(x.title)}</text>`,
    `<text class="subtitle" x="${L}" y="42" font-size="12" fill="${P.muted}">${esc(x.subtitle)}</text>`,
  );

  // grid and axes
  const grid: string[] = [];
  for (const v of pt.values) grid.push(`M${L} ${Math.round(Y(v)) + 0.5}H${R}`);
  const tticks = timeTicks(d0, d1, Math.max(2, Math.floor(plotW / 96)));
  for (const tk of tticks) {
    const gx = Math.round(X(tk.t)) + 0.5;
    if (gx >= L && gx <= R) grid.push(`M${gx} ${PT}V${PB}M${gx} ${DT}V${DB}`);
  }
  const ddStep = ddScale > 0.5 ? 0.2 : ddScale > 0.2 ? 0.1 : ddScale > 0.08 ? 0.05 : ddScale > 0.03 ? 0.01 : 0.005;
  const ddTicks: number[] = [];
  for (let d = 0; d <= ddScale + 1e-12; d += ddStep) ddTicks.push(d);
  for (const d of ddTicks) grid.push(`M${L} ${Math.round(DY(d)) + 0.5}H${R}`);
  out.push(`<path d="${grid.join('')}" stroke="${P.grid}" stroke-width="1" fill="none"/>`);

  // gaps
  for (const g of x.gaps) {
    if (g.after + tf < t0 || g.before > t1) continue;
    const a = Math.round(Math.max(L, X(g.after + tf)));
    const b = Math.max(a + 3, Math.round(Math.min(R, X(g.before))));
    out.push(`<g class="gap" data-missing="${g.missing}"><rect x="${a}" y="${PT}" width="${b - a}" height="${DB - PT}" fill="url(#gap-hatch)"/></g>`);
  }

  // the initial equity, dotted
  const yi = Math.round(Y(x.initial)) + 0.5;
  out.push(`<path d="M${L} ${yi}H${R}" stroke="${P.muted}" stroke-width="1" stroke-dasharray="2 4" fill="none"/>`);

  out.push(`<g clip-path="url(#plot)">`);
  out.push(`<path class="equity hold" d="${runs(xs, yh, breaks)}" stroke="${P.hold}" stroke-width="1.2" fill="none" stroke-linejoin="round"/>`);
  out.push(`<path class="equity strategy" d="${runs(xs, ys, breaks)}" stroke="${P.strategy}" stroke-width="1.6" fill="none" stroke-linejoin="round"/>`);
  out.push(`<path class="drawdown hold" d="${runs(xs, dh, breaks)}" stroke="${P.hold}" stroke-width="1" fill="none"/>`);
  out.push(`<path class="drawdown strategy" d="${runs(xs, ds, breaks)}" stroke="${P.dd}" stroke-width="1.4" fill="none"/>`);
  out.push(`</g>`);

  // axes, labels, legend
  out.push(`<path d="M${R + 0.5} ${PT}V${DB}M${L} ${PB + 0.5}H${R}M${L} ${DB + 0.5}H${R + 5}" stroke="${P.axis}" stroke-width="1" fill="none"/>`);
  pt.values.forEach((v, i) => {
    const y = Y(v);
    if (y < PT + 6 || y > PB - 4) return;
    out.push(`<text class="equity-tick" x="${R + 8}" y="${n1(y + 4)}" font-size="11" fill="${P.muted}">${esc(labels[i] as string)}</text>`);
  });
  for (const d of ddTicks) {
    const y = DY(d);
    if (y > DB - 4) continue;
    out.push(`<text class="dd-tick" x="${R + 8}" y="${n1(y + 4)}" font-size="10" fill="${P.muted}">${d === 0 ? '0 %' : `−${formatCompact(Math.round(d * 1000) / 10)} %`}</text>`);
  }
  out.push(`<text x="${L + 6}" y="${PT + 14}" font-size="11" fill="${P.muted}">equity (${esc(x.quote)})</text>`);
  out.push(`<text x="${L + 6}" y="${DT + 12}" font-size="10" fill="${P.muted}">drawdown from the running peak</text>`);
  const legend = [
    [P.strategy, x.strategyLabel],
    [P.hold, 'buy & hold'],
  ] as const;
  let lx = R - 8;
  for (let i = legend.length - 1; i >= 0; i--) {
    const [color, label] = legend[i] as readonly [string, string];
    const w = textWidth(label, 11) + 26;
    lx -= w;
    out.push(`<path d="M${n1(lx)} ${PT + 10}h16" stroke="${color}" stroke-width="2.5"/><text x="${n1(lx + 20)}" y="${PT + 14}" font-size="11" fill="${P.text}">${esc(label)}</text>`);
  }
  let lastRight = Number.NEGATIVE_INFINITY;
  for (const tk of tticks) {
    const tx = X(tk.t);
    const w = textWidth(tk.label, 11);
    if (tx - w / 2 < L || tx + w / 2 > R || tx - w / 2 < lastRight + 8) continue;
    lastRight = tx + w / 2;
    out.push(`<text class="time-tick" x="${n1(tx)}" y="${DB + 17}" font-size="11" text-anchor="middle" fill="${tk.major ? P.text : P.muted}">${esc(tk.label)}</text>`);
  }
  out.push(`<text x="${W - 8}" y="${DB + 17}" font-size="10" text-anchor="end" fill="${P.muted}">UTC</text>`);
  out.push('</svg>');
  return out.join('\n');
}

export function equityChartInput(r: BacktestResult): EquityChartInput {
  const m = r.metrics;
  const b = r.buyAndHold;
  const pct = (v: number): string => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(2)} %`;
  return {
    title: `${r.strategy.label} · ${r.meta.exchange} ${r.meta.symbol} ${r.meta.timeframe}`,
    subtitle: `strategy ${pct(m.totalReturn)} (max drawdown ${pct(-m.maxDrawdown)}, ${m.trades} trades) · buy & hold ${pct(b.totalReturn)} (max drawdown ${pct(-b.maxDrawdown)}) · net of fees and slippage`,
    time: r.candles.time.subarray(r.start, r.end),
    timeframeMs: r.meta.timeframeMs,
    initial: r.settings.initialCash,
    strategy: r.equity,
    hold: r.buyAndHoldEquity,
    gaps: r.gaps,
    quote: r.meta.symbol.split('/')[1] ?? '',
    strategyLabel: r.strategy.label,
  };
}

/** The equity + drawdown chart of a run as PNG bytes. */
export function renderEquityChart(r: BacktestResult, size: { width?: number; height?: number } = {}): Uint8Array {
  return svgToPng(buildEquitySvg({ ...equityChartInput(r), ...size }));
}
