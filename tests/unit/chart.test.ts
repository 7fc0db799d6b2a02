import { existsSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildCandleSvg, gapsInWindow, renderCandleChart } from '../../src/market/chart/candle-chart.js';
import { formatPrice, priceTicks, timeTicks } from '../../src/market/chart/ticks.js';
import { NotEnoughDataError } from '../../src/market/errors.js';
import { checkCandles } from '../../src/market/integrity.js';
import { fromColumns, sliceCandles, type CheckedCandles } from '../../src/market/types.js';
import { recordedCandles } from '../helpers/recorded.js';

/*
 * The candle chart, on real recorded candles: binance BTC/USDT 1h from the shared data folder
 * (../shared/data beside the repo, or $DESKBOT_MARKET_DIR). A missing file fails these tests.
 */

const HOUR = 3_600_000;
const SAMPLE_PNG = '/tmp/deskbot-chart-sample.png';
const BTC_FILE = 'binance_BTC-USDT_1h.csv';

/** PNG signature and the IHDR size */
function pngSize(png: Uint8Array): { width: number; height: number } {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  expect(Array.from(png.subarray(0, 8))).toEqual(sig);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  expect(view.getUint32(8)).toBe(13); // IHDR length
  expect(Buffer.from(png.subarray(12, 16)).toString('latin1')).toBe('IHDR');
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

const count = (svg: string, needle: string): number => svg.split(needle).length - 1;

/** gaps found here from the times alone, independently of the integrity module */
function holes(c: CheckedCandles): Array<{ index: number; missing: number }> {
  const out: Array<{ index: number; missing: number }> = [];
  for (let i = 1; i < c.length; i++) {
    const step = (c.time[i] as number) - (c.time[i - 1] as number);
    if (step > c.timeframeMs) out.push({ index: i, missing: step / c.timeframeMs - 1 });
  }
  return out;
}

function synthetic(n: number, row: (i: number) => [number, number, number, number, number], symbol = 'TEST/USDT'): CheckedCandles {
  const cols = [0, 1, 2, 3, 4, 5].map(() => new Float64Array(n)) as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  const start = Date.UTC(2024, 0, 1);
  for (let i = 0; i < n; i++) {
    cols[0][i] = start + i * HOUR;
    row(i).forEach((v, k) => ((cols[k + 1] as Float64Array)[i] = v));
  }
  return checkCandles(fromColumns('binance', symbol, '1h', HOUR, 'replay', ...cols), { live: false, now: Date.now() });
}

// read once, on first use inside a test, so a missing file fails every test that needs it
// (a throwing beforeAll would only mark them skipped)
let cachedBtc: CheckedCandles | null = null;
function loadBtc(): CheckedCandles {
  cachedBtc ??= checkCandles(recordedCandles('binance', 'BTC/USDT', '1h'), { live: false, now: Date.now() });
  return cachedBtc;
}

/** 200 candles with the file's first real gap in the middle */
function windowAroundFirstGap(): { win: CheckedCandles; expected: Array<{ index: number; missing: number }> } {
  const btc = loadBtc();
  const all = holes(btc);
  const first = all[0];
  if (!first) throw new Error(`${BTC_FILE} has no gap; the gap tests need one`);
  const from = Math.max(0, first.index - 100);
  const win = sliceCandles(btc, from, from + 200);
  return { win, expected: holes(win) };
}

describe('candle chart — real BTC/USDT 1h candles', () => {
  it('renders a valid PNG of the requested size (and 1200×700 by default)', () => {
    const btc = loadBtc();
    const c = sliceCandles(btc, btc.length - 300);
    expect(pngSize(renderCandleChart(c, { width: 900, height: 520 }))).toEqual({ width: 900, height: 520 });
    expect(pngSize(renderCandleChart(c))).toEqual({ width: 1200, height: 700 });
    expect(pngSize(renderCandleChart(c, { theme: 'light', width: 640, height: 360 }))).toEqual({ width: 640, height: 360 });
  });

  it('marks exactly the real gaps of the window, with their missing counts, and draws only recorded candles', () => {
    const { win, expected } = windowAroundFirstGap();
    expect(expected.length).toBeGreaterThan(0);
    const svg = buildCandleSvg(win);
    expect(count(svg, '<g class="gap"')).toBe(expected.length);
    const missing = [...svg.matchAll(/<g class="gap" data-missing="(\d+)"/g)].map((m) => Number(m[1]));
    expect(missing).toEqual(expected.map((h) => h.missing));
    for (const h of expected) expect(svg).toContain(`gap: ${h.missing} missing`);
    // one path per recorded candle, none for the missing ones
    expect(count(svg, 'class="candle ')).toBe(win.length);
    expect(count(svg, 'class="candle ')).toBe(200);
  });

  it('a slice keeps its parent gap list, but only the gaps inside the window are drawn', () => {
    const btc = loadBtc();
    const all = holes(btc);
    expect(btc.gaps.length).toBe(all.length);
    const { win, expected } = windowAroundFirstGap();
    expect(win.gaps.length).toBe(all.length); // sliceCandles copies the parent's list
    expect(gapsInWindow(win).map((g) => g.missing)).toEqual(expected.map((h) => h.missing));
    // a contiguous window: no gap marker at all
    const firstGap = all[0] as { index: number };
    const clean = sliceCandles(btc, Math.max(0, firstGap.index - 150), firstGap.index);
    expect(holes(clean)).toEqual([]);
    expect(count(buildCandleSvg(clean), '<g class="gap"')).toBe(0);
  });

  it('draws one candle per input candle from 1 to 2000 (thin candles become lines)', () => {
    const btc = loadBtc();
    for (const n of [1, 2, 37, 500, 2000]) {
      const c = sliceCandles(btc, btc.length - n);
      const svg = buildCandleSvg(c);
      expect(count(svg, 'class="candle ')).toBe(n);
      expect(count(svg, 'class="vol ')).toBe(Array.from(c.volume).filter((v) => v > 0).length);
    }
    expect(pngSize(renderCandleChart(sliceCandles(btc, btc.length - 2000)))).toEqual({ width: 1200, height: 700 });
  });

  it('puts 5–8 readable price ticks on the axis and labels the last close', () => {
    const btc = loadBtc();
    const c = sliceCandles(btc, btc.length - 200);
    const svg = buildCandleSvg(c);
    const last = c.close[c.length - 1] as number;
    expect(svg).toContain(`<text class="last-close"`);
    expect(svg).toContain(`>${formatPrice(last, 2)}</text>`);
    const ticks = priceTicks(Math.min(...c.low), Math.max(...c.high));
    expect(ticks.values.length).toBeGreaterThanOrEqual(5);
    expect(ticks.values.length).toBeLessThanOrEqual(8);
    // at most one tick hidden under the last-close tag
    expect(count(svg, 'class="price-tick"')).toBeGreaterThanOrEqual(ticks.values.length - 2);
    expect(count(svg, 'class="time-tick"')).toBeGreaterThanOrEqual(4);
    expect(svg).toContain('binance BTC/USDT 1h — ');
  });

  it('renders text with the bundled font: the title changes the pixels', () => {
    const btc = loadBtc();
    const c = sliceCandles(btc, btc.length - 120);
    const withTitle = renderCandleChart(c, { width: 600, height: 340, title: 'BTC/USDT' });
    const without = renderCandleChart(c, { width: 600, height: 340, title: '' });
    const other = renderCandleChart(c, { width: 600, height: 340, title: 'ETH/USDT' });
    expect(Buffer.from(withTitle).equals(Buffer.from(without))).toBe(false);
    expect(Buffer.from(withTitle).equals(Buffer.from(other))).toBe(false);
    // and the output is deterministic (no system fonts, nothing random)
    expect(Buffer.from(renderCandleChart(c, { width: 600, height: 340, title: 'BTC/USDT' })).equals(Buffer.from(withTitle))).toBe(true);
  });

  it('dark and light themes differ', () => {
    const btc = loadBtc();
    const c = sliceCandles(btc, btc.length - 100);
    const dark = renderCandleChart(c, { width: 400, height: 300 });
    const light = renderCandleChart(c, { width: 400, height: 300, theme: 'light' });
    expect(Buffer.from(dark).equals(Buffer.from(light))).toBe(false);
  });

  it(`renders 500 candles quickly and saves a 200-candle sample across a gap to ${SAMPLE_PNG}`, () => {
    const btc = loadBtc();
    const c = sliceCandles(btc, btc.length - 500);
    renderCandleChart(c); // warm-up
    const t0 = performance.now();
    const png = renderCandleChart(c);
    const ms = performance.now() - t0;
    expect(pngSize(png).width).toBe(1200);
    expect(ms).toBeLessThan(2000); // ~50 ms on the dev machine; generous for CI

    // the sample: 200 candles across the file's gaps (two of them when the record allows)
    const all = holes(btc);
    const pair = all.findIndex((h, i) => (all[i + 1]?.index ?? Infinity) - h.index < 160);
    const anchor = pair >= 0 ? (all[pair] as { index: number }) : (all[0] as { index: number });
    const from = Math.max(0, anchor.index - 60);
    const sample = sliceCandles(btc, from, from + 200);
    expect(holes(sample).length).toBeGreaterThan(0);
    writeFileSync(SAMPLE_PNG, renderCandleChart(sample));
    expect(existsSync(SAMPLE_PNG)).toBe(true);
  });
});

describe('candle chart — edge cases', () => {
  it('renders a flat series (high == low everywhere, no volume) and a single candle', () => {
    const btc = loadBtc();
    const flat = synthetic(60, () => [42, 42, 42, 42, 0]);
    const svg = buildCandleSvg(flat);
    expect(count(svg, 'class="candle ')).toBe(60);
    expect(count(svg, 'class="vol ')).toBe(0);
    expect(svg).toContain('no volume recorded');
    expect(pngSize(renderCandleChart(flat))).toEqual({ width: 1200, height: 700 });

    const one = sliceCandles(btc, btc.length - 1);
    expect(count(buildCandleSvg(one), 'class="candle ')).toBe(1);
    expect(pngSize(renderCandleChart(one, { width: 500, height: 300 }))).toEqual({ width: 500, height: 300 });
  });

  it('formats tiny prices with enough significant digits, and huge ones with separators', () => {
    const tiny = synthetic(300, (i) => {
      const b = 0.00001234 * (1 + 0.03 * Math.sin(i / 25));
      return [b, b * 1.002, b * 0.998, b * 1.001, 1e9];
    }, 'PEPE/USDT');
    const labels = [...buildCandleSvg(tiny).matchAll(/class="price-tick"[^>]*>([^<]+)</g)].map((m) => m[1] as string);
    expect(labels.length).toBeGreaterThanOrEqual(4);
    expect(new Set(labels).size).toBe(labels.length); // distinct, not all "0.00"
    for (const l of labels) expect(Number(l.replace(/,/g, ''))).toBeGreaterThan(0.00001);
    expect(pngSize(renderCandleChart(tiny))).toEqual({ width: 1200, height: 700 });

    const huge = synthetic(100, (i) => {
      const b = 4.2e11 * (1 + 0.02 * Math.sin(i / 9));
      return [b, b * 1.003, b * 0.997, b * 1.001, 0.5];
    }, 'HUGE/USD');
    const hl = [...buildCandleSvg(huge).matchAll(/class="price-tick"[^>]*>([^<]+)</g)].map((m) => m[1] as string);
    expect(hl.every((l) => /^\d{1,3}(,\d{3})+$/.test(l))).toBe(true);
    expect(pngSize(renderCandleChart(huge))).toEqual({ width: 1200, height: 700 });
  });

  it('refuses an empty series instead of drawing an empty chart', () => {
    const btc = loadBtc();
    const empty = sliceCandles(btc, 0, 0);
    expect(() => renderCandleChart(empty)).toThrow(NotEnoughDataError);
    expect(() => renderCandleChart(empty)).toThrow(/no candles to chart/);
  });

  it('price ticks: 5–8 nice ticks for any magnitude, including flat series', () => {
    for (const base of [1.234e-8, 0.00001234, 0.5, 3.7, 42, 1999, 65_432.1, 3.3e7, 4.2e11]) {
      for (const rel of [0, 1e-6, 0.001, 0.05, 0.8]) {
        const t = priceTicks(base, base * (1 + rel));
        expect(t.values.length, `${base} +${rel}`).toBeGreaterThanOrEqual(5);
        expect(t.values.length, `${base} +${rel}`).toBeLessThanOrEqual(8);
        const text = t.values.map((v) => formatPrice(v, t.decimals));
        expect(new Set(text).size, text.join(' ')).toBe(text.length);
      }
    }
  });

  it('time ticks: hours for a day, days for weeks, months for a year, all UTC-aligned', () => {
    const d0 = Date.UTC(2021, 6, 10, 4);
    const hours = timeTicks(d0, d0 + 24 * HOUR, 10);
    expect(hours.some((t) => /^\d\d:00$/.test(t.label))).toBe(true);
    expect(hours.find((t) => t.major)?.label).toBe('Jul 11');
    const days = timeTicks(d0, d0 + 9 * 24 * HOUR, 12);
    expect(days.every((t) => /^Jul \d+$/.test(t.label))).toBe(true);
    const months = timeTicks(Date.UTC(2021, 3, 3), Date.UTC(2022, 2, 1), 12);
    expect(months.map((t) => t.label)).toContain('2022');
    for (const t of [...hours, ...days, ...months]) expect(t.t % HOUR).toBe(0);
  });
});
