import { NotEnoughDataError } from '../errors.js';
import type { CheckedCandles, Gap } from '../types.js';
import { formatCompact, formatPrice, niceStep, priceTicks, recordedDecimals, significantDecimals, timeTicks } from './ticks.js';
import { utcMinute } from '../../kernel/utc.js';

/**
 * Candles → SVG string: a price panel (~75 %) with candles and a right-hand price axis, a
 * volume panel (~25 %) with bars coloured like their candles, and a UTC time axis. The x axis
 * is proportional to time, so a hole in the record is empty space; each hole also gets a
 * hatched band with a "gap: N missing" label. Only recorded candles are drawn — nothing is
 * interpolated or filled in. The SVG uses one font family (CHART_FONT_FAMILY), which the
 * rasteriser loads explicitly.
 *
 * Markup hooks (tests and tooling count these): every candle is one
 * `<path class="candle up|down">`, every non-zero volume one `<rect class="vol up|down">`,
 * every gap one `<g class="gap" data-missing="N">`; axis labels are `<text class="price-tick">`
 * and `<text class="time-tick">`, the last close `<text class="last-close">`.
 */

export type ChartTheme = 'dark' | 'light';

export interface CandleChartOptions {
  /** pixels; default 1200 */
  width?: number;
  /** pixels; default 700 */
  height?: number;
  /** headline; default "exchange SYMBOL tf — first → last UTC"; '' for none */
  title?: string;
  /** default 'dark' (what traders look at all day) */
  theme?: ChartTheme;
}

export const CHART_FONT_FAMILY = 'DejaVu Sans';
export const DEFAULT_CHART_WIDTH = 1200;
export const DEFAULT_CHART_HEIGHT = 700;

interface Palette {
  bg: string;
  grid: string;
  gridMajor: string;
  axis: string;
  text: string;
  muted: string;
  up: string;
  down: string;
  gap: string;
  gapText: string;
  labelText: string;
}

const PALETTES: Record<ChartTheme, Palette> = {
  dark: {
    bg: '#131722',
    grid: '#1f2433',
    gridMajor: '#2a3042',
    axis: '#363c4e',
    text: '#d1d4dc',
    muted: '#848e9c',
    up: '#26a69a',
    down: '#ef5350',
    gap: '#f0b90b',
    gapText: '#f0b90b',
    labelText: '#ffffff',
  },
  light: {
    bg: '#ffffff',
    grid: '#eef0f4',
    gridMajor: '#dfe2ea',
    axis: '#c8ccd6',
    text: '#131722',
    muted: '#6a7185',
    up: '#089981',
    down: '#f23645',
    gap: '#d68a00',
    gapText: '#a15c00',
    labelText: '#ffffff',
  },
};

/** rough advance width of DejaVu Sans (digits are 0.636 em; letters average a bit less) */
const textWidth = (s: string, size: number): number => s.length * size * 0.62;

const esc = (s: string): string => s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string);

/** `a` over `b` at `alpha`, as #rrggbb */
function mix(a: string, b: string, alpha: number): string {
  const ch = (hex: string, k: number): number => parseInt(hex.slice(1 + 2 * k, 3 + 2 * k), 16);
  let out = '#';
  for (let k = 0; k < 3; k++) out += Math.round(ch(a, k) * alpha + ch(b, k) * (1 - alpha)).toString(16).padStart(2, '0');
  return out;
}

/** one decimal is plenty for SVG coordinates */
const n1 = (v: number): string => String(Math.round(v * 10) / 10);

export function defaultTitle(c: Pick<CheckedCandles, 'exchange' | 'symbol' | 'timeframe' | 'time' | 'length'>): string {
  const first = c.time[0] as number;
  const last = c.time[c.length - 1] as number;
  return `${c.exchange} ${c.symbol} ${c.timeframe} — ${utcMinute(first)} → ${utcMinute(last)} UTC`;
}

/** the gaps that lie inside this series' window (a slice keeps its parent's gap list) */
export function gapsInWindow(c: CheckedCandles): Gap[] {
  if (c.length === 0) return [];
  const first = c.time[0] as number;
  const last = c.time[c.length - 1] as number;
  return c.gaps.filter((g) => g.after >= first && g.before <= last && g.missing > 0);
}

export function buildCandleSvg(c: CheckedCandles, opts: CandleChartOptions = {}): string {
  const n = c.length;
  if (n === 0) throw new NotEnoughDataError(`${c.exchange} ${c.symbol} ${c.timeframe}: no candles to chart`);
  const W = Math.round(opts.width ?? DEFAULT_CHART_WIDTH);
  const H = Math.round(opts.height ?? DEFAULT_CHART_HEIGHT);
  if (!(W >= 200 && H >= 150 && W <= 8000 && H <= 8000)) throw new RangeError(`chart size ${W}×${H} is outside 200×150 … 8000×8000`);
  const pal = PALETTES[opts.theme ?? 'dark'];
  const title = opts.title ?? defaultTitle(c);
  const { time, open, high, low, close, volume } = c;
  const tf = c.timeframeMs > 0 ? c.timeframeMs : 60_000;

  // ---- data ranges --------------------------------------------------------------------------
  let lo = Infinity;
  let hi = -Infinity;
  let vmax = 0;
  for (let i = 0; i < n; i++) {
    const l = low[i] as number;
    const h = high[i] as number;
    if (l < lo) lo = l;
    if (h > hi) hi = h;
    const v = volume[i] as number;
    if (v > vmax) vmax = v;
  }
  const pt = priceTicks(lo, hi);
  const lastClose = close[n - 1] as number;
  // the record's own precision (from the latest candles) for the last-close label and header,
  // but no more than 8 significant digits, and never fewer decimals than the ticks
  const priceDecimals = Math.max(pt.decimals, Math.min(recordedDecimals(close, n - 200), significantDecimals(lastClose, 8)));
  const lastUp = lastClose >= (open[n - 1] as number);

  // ---- layout -------------------------------------------------------------------------------
  const FS = 11; // axis label size
  const lastLabel = formatPrice(lastClose, priceDecimals);
  const tickLabels = pt.values.map((v) => formatPrice(v, pt.decimals));
  const longest = Math.max(textWidth(lastLabel, FS), ...tickLabels.map((s) => textWidth(s, FS)));
  const axisW = Math.ceil(Math.min(W * 0.45, Math.max(56, longest + 20)));
  const L = 12;
  const R = W - axisW;
  const headerH = 56;
  const timeAxisH = 26;
  const panelGap = 10;
  const PT = headerH;
  const usable = H - headerH - timeAxisH - panelGap;
  const PB = PT + Math.round(usable * 0.75);
  const VT = PB + panelGap;
  const VB = H - timeAxisH;
  const plotW = R - L;

  // x: time-proportional; candle i occupies [t, t + tf). At least 24 slots wide so a few
  // candles are not drawn as slabs, centred when there are few.
  const t0 = time[0] as number;
  const tEnd = (time[n - 1] as number) + tf;
  const minSpan = 24 * tf;
  const extra = Math.max(0, minSpan - (tEnd - t0)) / 2;
  const padT = Math.max(tf * 0.6, (tEnd - t0) * 0.004);
  const d0 = t0 - padT - extra;
  const d1 = tEnd + padT + extra;
  const X = (t: number): number => L + ((t - d0) / (d1 - d0)) * plotW;
  const slot = (plotW * tf) / (d1 - d0);
  const Y = (p: number): number => PT + ((pt.max - p) / (pt.max - pt.min)) * (PB - PT);
  const vTop = VT + 16; // room for the panel caption
  const VY = (v: number): number => (vmax > 0 ? VB - (v / vmax) * (VB - vTop) : VB);

  // body width: odd whole pixels so the 1 px wick sits in the middle; below 3 px a candle is a line
  let bw = Math.min(41, Math.floor(slot * 0.72));
  if (bw < 3 && slot >= 4) bw = 3; // keep a 3 px body while there is still a pixel between candles
  if (bw % 2 === 0) bw -= 1;
  const lineMode = bw < 3;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${CHART_FONT_FAMILY}">`,
    `<defs><pattern id="gap-hatch" patternUnits="userSpaceOnUse" width="7" height="7" patternTransform="rotate(45)">` +
      `<rect x="0" y="0" width="2" height="7" fill="${pal.gap}" fill-opacity="0.22"/></pattern>` +
      `<clipPath id="plot"><rect x="${L}" y="${PT}" width="${plotW}" height="${VB - PT}"/></clipPath></defs>`,
    `<rect width="${W}" height="${H}" fill="${pal.bg}"/>`,
  );

  // ---- header -------------------------------------------------------------------------------
  // line 1: title (bold); line 2: the last candle's OHLC and the change over the window;
  // the facts (candles, gaps, source) go right-aligned on whichever line has room
  const gaps = gapsInWindow(c);
  {
    const o = open[n - 1] as number;
    const h = high[n - 1] as number;
    const l = low[n - 1] as number;
    const col = lastUp ? pal.up : pal.down;
    const firstOpen = open[0] as number;
    const chg = firstOpen > 0 ? ((lastClose - firstOpen) / firstOpen) * 100 : 0;
    const chgText = `${chg >= 0 ? '+' : ''}${chg.toFixed(2)}%`;
    const ohlc: Array<[string, number]> = [
      ['O', o],
      ['H', h],
      ['L', l],
      ['C', lastClose],
    ];
    let plain = '';
    let spans = '';
    for (const [k, v] of ohlc) {
      const val = formatPrice(v, priceDecimals);
      plain += `${k} ${val}   `;
      spans += `<tspan fill="${pal.muted}">${k} </tspan><tspan fill="${col}">${esc(val)}</tspan><tspan>   </tspan>`;
    }
    plain += `window ${chgText}`;
    spans += `<tspan fill="${pal.muted}">window </tspan><tspan fill="${chg >= 0 ? pal.up : pal.down}">${chgText}</tspan>`;
    out.push(`<text class="ohlc" x="${L}" y="44" font-size="12" xml:space="preserve">${spans}</text>`);

    const missing = gaps.reduce((s, g) => s + g.missing, 0);
    const facts = [
      `${n} candle${n === 1 ? '' : 's'}`,
      gaps.length === 0 ? 'no gaps' : `${gaps.length} gap${gaps.length === 1 ? '' : 's'} (${missing} missing)`,
      c.source === 'replay' ? 'recorded data' : 'live',
    ].join('  ·  ');
    const factsW = textWidth(facts, 11);
    const titleW = title === '' ? 0 : textWidth(title, 15) * 1.1; // bold runs wider
    const ohlcW = textWidth(plain, 12);
    const room = W - 12 - L - 24;
    const factsY = titleW + factsW <= room ? 22 : ohlcW + factsW <= room ? 44 : null;
    if (title !== '') out.push(`<text class="title" x="${L}" y="22" font-size="15" font-weight="bold" fill="${pal.text}">${esc(title)}</text>`);
    if (factsY !== null) out.push(`<text class="facts" x="${W - 12}" y="${factsY}" font-size="11" text-anchor="end" fill="${pal.muted}">${esc(facts)}</text>`);
  }

  // ---- grid ---------------------------------------------------------------------------------
  const grid: string[] = [];
  for (const v of pt.values) {
    const y = Math.round(Y(v)) + 0.5;
    grid.push(`M${L} ${y}H${R}`);
  }
  const maxTimeLabels = Math.max(2, Math.floor(plotW / 96));
  const tticks = timeTicks(d0, d1, maxTimeLabels);
  const gridMajor: string[] = [];
  for (const tk of tticks) {
    const x = Math.round(X(tk.t)) + 0.5;
    if (x < L || x > R) continue;
    (tk.major ? gridMajor : grid).push(`M${x} ${PT}V${PB}M${x} ${VT}V${VB}`);
  }
  out.push(`<path d="${grid.join('')}" stroke="${pal.grid}" stroke-width="1" fill="none"/>`);
  if (gridMajor.length > 0) out.push(`<path d="${gridMajor.join('')}" stroke="${pal.gridMajor}" stroke-width="1" fill="none"/>`);

  // ---- gaps (behind the candles; they never overlap a recorded candle) ------------------------
  const gapLabels: string[] = [];
  const rowsEnd: number[] = []; // right edge of the last label in each row, to stack close gaps
  for (const g of gaps) {
    let x0 = X(g.after + tf);
    let x1 = X(g.before);
    if (x1 - x0 < 4) {
      const mid = (x0 + x1) / 2;
      x0 = mid - 2;
      x1 = mid + 2;
    }
    const a = Math.round(x0);
    const b = Math.round(x1);
    const label = `gap: ${g.missing} missing`;
    out.push(
      `<g class="gap" data-missing="${g.missing}" data-after="${g.after}" data-before="${g.before}">` +
        `<rect x="${a}" y="${PT}" width="${b - a}" height="${VB - PT}" fill="url(#gap-hatch)"/>` +
        `<path d="M${a + 0.5} ${PT}V${VB}M${b - 0.5} ${PT}V${VB}" stroke="${pal.gap}" stroke-width="1" stroke-dasharray="4 3" stroke-opacity="0.75" fill="none"/>` +
        `</g>`,
    );
    // label: a small pill at the bottom of the price panel, stacked upward when gaps are close
    const lw = textWidth(label, 10) + 10;
    let lx = (a + b) / 2 - lw / 2;
    lx = Math.max(L + 2, Math.min(R - lw - 2, lx));
    let row = rowsEnd.findIndex((end) => end + 6 <= lx);
    if (row === -1 && rowsEnd.length < 4) row = rowsEnd.push(-Infinity) - 1;
    if (row === -1) continue; // too crowded to label; the band is still drawn and the header counts it
    rowsEnd[row] = lx + lw;
    const ly = PB - 22 - row * 20;
    gapLabels.push(
      `<g class="gap-label"><rect x="${n1(lx)}" y="${ly}" width="${n1(lw)}" height="16" rx="3" fill="${pal.bg}" stroke="${pal.gap}" stroke-width="1" fill-opacity="0.92"/>` +
        `<text x="${n1(lx + lw / 2)}" y="${ly + 12}" font-size="10" text-anchor="middle" fill="${pal.gapText}">${esc(label)}</text></g>`,
    );
  }

  // ---- last close: a dotted line behind the candles, a tag on the axis (drawn last) ----------
  const lastCol = lastUp ? pal.up : pal.down;
  const ly = Math.round(Y(lastClose)) + 0.5;
  out.push(`<path d="M${L} ${ly}H${R}" stroke="${lastCol}" stroke-width="1" stroke-dasharray="2 3" stroke-opacity="0.9"/>`);

  // ---- candles and volume --------------------------------------------------------------------
  const candles: string[] = [];
  const vols: string[] = [];
  // volume bars: candle colours blended into the background (solid colours: no per-element
  // opacity, which costs resvg a layer per bar)
  const volUp = mix(pal.up, pal.bg, 0.55);
  const volDown = mix(pal.down, pal.bg, 0.55);
  for (let i = 0; i < n; i++) {
    const t = time[i] as number;
    const o = open[i] as number;
    const h = high[i] as number;
    const l = low[i] as number;
    const cl = close[i] as number;
    const up = cl >= o;
    const cls = up ? 'up' : 'down';
    const fill = up ? pal.up : pal.down;
    const cx = X(t + tf / 2);
    const wx = Math.floor(cx);
    const yh = Math.round(Y(h));
    const yl = Math.max(yh + 1, Math.round(Y(l)));
    let d: string;
    if (lineMode) {
      d = `M${wx} ${yh}h1V${yl}h-1Z`;
    } else {
      const bx = wx - (bw - 1) / 2;
      const yt = Math.round(Y(Math.max(o, cl)));
      const yb = Math.max(yt + 1, Math.round(Y(Math.min(o, cl))));
      d = `M${wx} ${yh}h1V${yl}h-1ZM${bx} ${yt}h${bw}V${yb}h${-bw}Z`;
    }
    candles.push(`<path class="candle ${cls}" d="${d}" fill="${fill}"/>`);
    const v = volume[i] as number;
    if (!(v > 0)) continue; // nothing traded: no bar (the candle above is still drawn)
    const vy = Math.min(VB - 1, Math.round(VY(v)));
    const vx = lineMode ? wx : wx - (bw - 1) / 2;
    const vw = lineMode ? 1 : bw;
    vols.push(`<rect class="vol ${cls}" x="${vx}" y="${vy}" width="${vw}" height="${VB - vy}" fill="${up ? volUp : volDown}"/>`);
  }
  out.push(`<g clip-path="url(#plot)">`, ...candles, ...vols, `</g>`);


  // ---- axes ----------------------------------------------------------------------------------
  out.push(`<path d="M${R + 0.5} ${PT}V${VB}M${L} ${PB + 0.5}H${R}M${L} ${VB + 0.5}H${R + 5}" stroke="${pal.axis}" stroke-width="1" fill="none"/>`);
  const axisText: string[] = [];
  let lastTickY = -Infinity;
  for (let k = 0; k < pt.values.length; k++) {
    const v = pt.values[k] as number;
    const y = Y(v);
    if (y < PT + 6 || y > PB - 4) continue;
    if (Math.abs(y - ly) < 15) continue; // the last-close label covers this one
    if (Math.abs(y - lastTickY) < 14) continue; // a very short panel: keep labels apart
    lastTickY = y;
    axisText.push(`<path d="M${R} ${Math.round(y) + 0.5}h4" stroke="${pal.axis}"/>`);
    axisText.push(`<text class="price-tick" x="${R + 8}" y="${n1(y + FS * 0.36)}" font-size="${FS}" fill="${pal.muted}">${esc(tickLabels[k] as string)}</text>`);
  }
  // volume axis: two to four compact ticks
  if (vmax > 0) {
    const vstep = niceStep(vmax / 4);
    for (let v = vstep; v <= vmax * (1 + 1e-9); v += vstep) {
      const y = VY(v);
      if (y < vTop - 2 || VB - y < 12) continue;
      axisText.push(`<path d="M${R} ${Math.round(y) + 0.5}h4" stroke="${pal.axis}"/>`);
      axisText.push(`<text x="${R + 8}" y="${n1(y + FS * 0.36)}" font-size="10" fill="${pal.muted}">${esc(formatCompact(v))}</text>`);
    }
  }
  const base = c.symbol.split('/')[0] ?? c.symbol;
  const lastVol = volume[n - 1] as number;
  axisText.push(
    `<text x="${L + 6}" y="${VT + 12}" font-size="10" xml:space="preserve"><tspan fill="${pal.muted}">Volume ${esc(base)}  </tspan><tspan fill="${lastCol}">${esc(formatCompact(lastVol))}</tspan></text>`,
  );
  if (vmax === 0) axisText.push(`<text x="${(L + R) / 2}" y="${(vTop + VB) / 2}" font-size="11" text-anchor="middle" fill="${pal.muted}">no volume recorded</text>`);

  // time labels, dropped where they would collide or run off the plot
  let lastRight = -Infinity;
  for (const tk of tticks) {
    const x = X(tk.t);
    const w = textWidth(tk.label, FS);
    if (x - w / 2 < L || x + w / 2 > R) continue;
    if (x - w / 2 < lastRight + 8) continue;
    lastRight = x + w / 2;
    axisText.push(`<path d="M${Math.round(x) + 0.5} ${VB}v4" stroke="${pal.axis}"/>`);
    axisText.push(
      `<text class="time-tick" x="${n1(x)}" y="${VB + 17}" font-size="${FS}" text-anchor="middle" fill="${tk.major ? pal.text : pal.muted}"${tk.major ? ' font-weight="bold"' : ''}>${esc(tk.label)}</text>`,
    );
  }
  axisText.push(`<text x="${W - 8}" y="${VB + 17}" font-size="10" text-anchor="end" fill="${pal.muted}">UTC</text>`);
  out.push(...axisText);

  // last-close tag on the axis (drawn over the tick labels)
  out.push(
    `<rect x="${R + 1}" y="${ly - 9.5}" width="${axisW - 4}" height="19" rx="2" fill="${lastCol}"/>`,
    `<text class="last-close" x="${R + 8}" y="${n1(ly + FS * 0.36)}" font-size="${FS}" font-weight="bold" fill="${pal.labelText}">${esc(lastLabel)}</text>`,
  );
  out.push(...gapLabels);
  out.push('</svg>');
  return out.join('\n');
}
