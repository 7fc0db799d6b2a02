import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyHmm,
  buildFeatures,
  FEATURE_COUNT,
  FEATURE_NAMES,
  FEATURE_WARMUP,
  featureSeries,
  fitRegimeHmm,
  hmmColumn,
  logReturns,
  rowValid,
  samplesOf,
  segmentsOf,
  sequences,
  fitScaler,
  type FeatureInput,
  type HmmParams,
  type SeriesColumns,
} from '../../src/ml/index.js';
import { recordedCandles } from '../helpers/recorded.js';

const H = 3_600_000;
const btc = recordedCandles('binance', 'BTC/USDT', '1h');

/** a fixed HMM (calm and volatile states of hourly returns), so features depend on candles only */
const HMM: HmmParams = {
  means: [0.0002, -0.0005],
  variances: [0.003 ** 2, 0.012 ** 2],
  transition: [
    [0.97, 0.03],
    [0.08, 0.92],
  ],
  initial: [0.5, 0.5],
};

/** candles from a seeded random walk: steps in (−4 %, +4 %), wicks and volumes from the same draws */
function candles(steps: number[], start = 100): FeatureInput & { time: Float64Array; open: Float64Array } {
  const n = steps.length;
  const c = { time: new Float64Array(n), open: new Float64Array(n), high: new Float64Array(n), low: new Float64Array(n), close: new Float64Array(n), volume: new Float64Array(n) };
  let price = start;
  for (let i = 0; i < n; i++) {
    const s = steps[i] as number;
    const open = price;
    price = price * (1 + s * 0.04);
    c.time[i] = i * H;
    c.open[i] = open;
    c.close[i] = price;
    c.high[i] = Math.max(open, price) * (1 + Math.abs(s) * 0.01);
    c.low[i] = Math.min(open, price) * (1 - Math.abs(s) * 0.01);
    c.volume[i] = 10 + 1000 * Math.abs(s);
  }
  return c;
}

/** the first k candles (views) */
const prefix = (c: FeatureInput, k: number): FeatureInput => ({
  high: c.high.subarray(0, k),
  low: c.low.subarray(0, k),
  close: c.close.subarray(0, k),
  volume: c.volume.subarray(0, k),
});

const same = (a: number, b: number): boolean => Object.is(a, b);

describe('features: no look-ahead', () => {
  it('appending future candles never changes the feature rows of earlier candles (property, bit for bit)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 60, maxLength: 260 }),
        fc.integer({ min: 1, max: 200 }),
        (steps, cut) => {
          const full = candles(steps);
          const k = Math.min(cut, steps.length);
          const a = buildFeatures(prefix(full, k), HMM);
          const b = buildFeatures(full, HMM);
          for (let i = 0; i < k * FEATURE_COUNT; i++) if (!same(a.data[i] as number, b.data[i] as number)) return false;
          return true;
        },
      ),
      { numRuns: 60 },
    );
  });

  it('changing candles after t (the future its label reads) leaves every row up to t unchanged', () => {
    const n = 400;
    const c = prefix(btc, n);
    const base = buildFeatures(c, HMM);
    const t = 300;
    const shocked = { ...c, close: c.close.slice(), high: c.high.slice(), low: c.low.slice(), volume: c.volume.slice() };
    for (let i = t + 1; i < n; i++) {
      shocked.close[i] = (shocked.close[i] as number) * 1.5;
      shocked.high[i] = (shocked.high[i] as number) * 1.5;
      shocked.low[i] = (shocked.low[i] as number) * 1.5;
      shocked.volume[i] = 0;
    }
    const after = buildFeatures(shocked, HMM);
    for (let i = 0; i < (t + 1) * FEATURE_COUNT; i++) expect(same(after.data[i] as number, base.data[i] as number)).toBe(true);
    // ...and the rows after t did change (the features do read the candles)
    expect(after.data[(t + 1) * FEATURE_COUNT]).not.toBe(base.data[(t + 1) * FEATURE_COUNT]);
  });

  it('the HMM column is the forward filter: the value at t uses returns up to t only', () => {
    const c = prefix(btc, 500);
    const full = hmmColumn(c.close, HMM);
    const part = hmmColumn(c.close.subarray(0, 200), HMM);
    for (let t = 0; t < 200; t++) expect(same(part[t] as number, full[t] as number)).toBe(true);
    expect(Number.isNaN(full[0] as number)).toBe(true);
    for (let t = 1; t < 500; t++) {
      expect(full[t]).toBeGreaterThanOrEqual(0);
      expect(full[t]).toBeLessThanOrEqual(1);
    }
  });
});

describe('features: definitions', () => {
  const c = prefix(btc, 1000);
  const m = buildFeatures(c, HMM);
  const col = (name: (typeof FEATURE_NAMES)[number]): number => FEATURE_NAMES.indexOf(name);

  it('rows before FEATURE_WARMUP are undefined and every row from it on is defined (recorded BTC/USDT 1h)', () => {
    expect(FEATURE_COUNT).toBe(18);
    for (let t = 0; t < FEATURE_WARMUP; t++) expect(rowValid(m, t)).toBe(false);
    for (let t = FEATURE_WARMUP; t < 1000; t++) expect(rowValid(m, t)).toBe(true);
  });

  it('the return columns are log returns over their lags and the ratios are what they say', () => {
    const t = 700;
    const at = (name: (typeof FEATURE_NAMES)[number]): number => m.data[t * FEATURE_COUNT + col(name)] as number;
    const close = (i: number): number => c.close[i] as number;
    expect(at('ret1')).toBeCloseTo(Math.log(close(t) / close(t - 1)), 15);
    expect(at('ret24')).toBeCloseTo(Math.log(close(t) / close(t - 24)), 15);
    let s = 0;
    for (let i = t - 49; i <= t; i++) s += close(i);
    expect(at('smaGap50')).toBeCloseTo(close(t) / (s / 50) - 1, 10);
    let v = 0;
    for (let i = t - 23; i <= t; i++) v += c.volume[i] as number;
    expect(at('volumeRatio24')).toBeCloseTo((c.volume[t] as number) / (v / 24) - 1, 10);
    expect(at('rsi14')).toBeGreaterThanOrEqual(-0.5);
    expect(at('rsi14')).toBeLessThanOrEqual(0.5);
    expect(logReturns(c.close)[t]).toBe(at('ret1'));
  });

  it('the HMM fitted on returns orders its states by variance (the feature is P(volatile))', () => {
    const r = logReturns(c.close).subarray(1);
    const hmm = fitRegimeHmm(r);
    expect(hmm.variances[1]).toBeGreaterThan(hmm.variances[0] as number);
  });
});

describe('samples and labels', () => {
  const series: SeriesColumns = { time: btc.time, open: btc.open, high: btc.high, low: btc.low, close: btc.close, volume: btc.volume, timeframeMs: H };
  const fs = featureSeries(series);

  it('cuts the record at its 6 gaps and computes nothing across one', () => {
    expect(segmentsOf(btc.time, H)).toHaveLength(7);
    expect(fs.segments).toHaveLength(7);
    // the first FEATURE_WARMUP rows after every gap are undefined again
    for (const [a, b] of fs.segments) {
      for (let t = a; t < Math.min(b, a + FEATURE_WARMUP); t++) expect(Number.isNaN(fs.features.data[t * FEATURE_COUNT] as number)).toBe(true);
    }
  });

  for (const h of [1, 24]) {
    it(`label = close[t+${h}] > close[t]; sequence and label candle inside one contiguous run (h = ${h})`, () => {
      const L = 24;
      const s = samplesOf(fs, L, h);
      expect(s.index.length).toBeGreaterThan(4000);
      for (let i = 0; i < s.index.length; i++) {
        const t = s.index[i] as number;
        expect(s.label[i]).toBe((btc.close[t + h] as number) > (btc.close[t] as number) ? 1 : 0);
        expect(s.labelTime[i]).toBe((btc.time[t] as number) + h * H);
        // the sequence's first warm-up candle and the label candle are in the same run as t
        expect((btc.time[t + h] as number) - (btc.time[t - L + 1 - FEATURE_WARMUP] as number)).toBe((h + L - 1 + FEATURE_WARMUP) * H);
      }
    });
  }

  it('for prediction, the newest candles (label not known yet) are samples too, with label −1', () => {
    const s = samplesOf(fs, 24, 24, { labelled: false });
    const last = s.index.length - 1;
    expect(s.index[last]).toBe(btc.length - 1);
    expect(s.label[last]).toBe(-1);
    expect(Number.isNaN(s.labelTime[last] as number)).toBe(true);
  });

  it('the model input is the scaled feature rows t−L+1..t: it never contains the label', () => {
    const L = 24;
    const s = samplesOf(fs, L, 1);
    const rows = s.index.subarray(0, 500);
    applyHmm(fs, HMM);
    const scaler = fitScaler(fs.features, rows);
    const x = sequences(fs.features, [rows[100] as number], L, scaler);
    expect(x).toHaveLength(L * FEATURE_COUNT);
    const t = rows[100] as number;
    const z = ((fs.features.data[t * FEATURE_COUNT] as number) - (scaler.mean[0] as number)) / (scaler.std[0] as number);
    // the last row of the sequence is candle t's own
    expect(x[(L - 1) * FEATURE_COUNT]).toBeCloseTo(Math.max(-5, Math.min(5, z)), 5);
  });
});
