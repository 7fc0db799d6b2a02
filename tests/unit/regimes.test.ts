import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyHysteresis,
  DEFAULT_SETTINGS,
  evaluateRegime,
  LABELS,
  minimumWindow,
  normalCdf,
  regimesConfig,
  trackRegimes,
  type RegimeLabel,
  type RegimeReading,
  type RegimeState,
} from '../../plugins/regimes/index.js';
import { DataGapError, NotEnoughDataError } from '../../src/market/errors.js';
import { fromColumns, sliceCandles, type Candles } from '../../src/market/types.js';
import { adx, ema, realizedVol } from '../../src/ta/index.js';
import { recordedCandles } from '../helpers/recorded.js';

const btc = recordedCandles('binance', 'BTC/USDT', '1h');
const H = 3_600_000;
const at = (iso: string): number => {
  const i = btc.time.indexOf(Date.parse(iso));
  if (i < 0) throw new Error(`no candle opened at ${iso}`);
  return i;
};
/** first candle after the record's last maintenance gap (2021-04-25 08:00 UTC) */
let tailStart = 0;
for (let i = 1; i < btc.length; i++) if ((btc.time[i] as number) - (btc.time[i - 1] as number) !== H) tailStart = i;

// 500 candles (≈ 21 days) fit before the May 2021 crash inside the contiguous tail
const S = { ...DEFAULT_SETTINGS, window: 500 };
const withoutTiming = (r: RegimeReading): unknown => ({ ...r, hmm: { ...r.hmm, fitMs: 0 } });

describe('config', () => {
  it('has the documented defaults', () => {
    const c = regimesConfig.parse({});
    expect(c).toMatchObject({ window: 1000, adxThreshold: 25, emaPeriod: 50, volPercentile: 0.8, hmmStates: 2, watchlist: [], hysteresis: { margin: 0.3, persist: 3 } });
    expect(c.cron).toBe('1 * * * *');
  });

  it('reads watchlist entries and refuses a window too short for the periods', () => {
    const c = regimesConfig.parse({ watchlist: ['BTC/USDT', 'ETH/USDT 4h', { symbol: 'sol', timeframe: '1d', exchange: 'binance' }] });
    expect(c.watchlist).toEqual([{ symbol: 'BTC/USDT' }, { symbol: 'ETH/USDT', timeframe: '4h' }, { symbol: 'sol', timeframe: '1d', exchange: 'binance' }]);
    expect(regimesConfig.safeParse({ watchlist: ['BTC/USDT 7x'] }).error?.issues[0]?.message).toMatch(/^"7x" is not a timeframe \(use one of 1m, 3m/);
    expect(() => regimesConfig.parse({ window: 200, emaPeriod: 200 })).toThrow(/window 200 is too short for these periods: at least 211 candles/);
    expect(minimumWindow(DEFAULT_SETTINGS)).toBe(131);
  });
});

describe('components on real BTC/USDT 1h candles', () => {
  it('the 19 May 2021 crash reads bear · volatile, every component agreeing', () => {
    const r = evaluateRegime(btc, S, at('2021-05-19T13:00:00Z'));
    expect(r.label).toBe('bear/volatile');
    expect(r.at).toBe(Date.parse('2021-05-19T14:00:00Z')); // known when the 13:00 candle closed
    expect(r.trend.adx).toBeGreaterThan(40);
    expect(r.trend.slopePerBar).toBeLessThan(0);
    expect(r.trend.minusDI).toBeGreaterThan(r.trend.plusDI);
    expect(r.vol.label).toBe('volatile');
    expect(r.vol.percentile).toBeGreaterThan(0.99);
    expect(r.hmm.current).toBe(1);
    expect(r.hmm.pVolatile).toBeGreaterThan(0.9);
    expect(r.hmm.states[1]?.variance as number).toBeGreaterThan(2 * (r.hmm.states[0]?.variance as number));
    expect(r.confidence).toBeGreaterThan(0.6);
  });

  it('mid-April 2021, before the all-time high, reads bull · calm', () => {
    const r = evaluateRegime(btc, S, at('2021-04-13T12:00:00Z'));
    expect(r.label).toBe('bull/calm');
    expect(r.trend.adx).toBeGreaterThan(30);
    expect(r.trend.slopeT).toBeGreaterThan(0);
    expect(r.trend.probabilities.bull).toBeGreaterThan(r.trend.probabilities.bear);
  });

  it('the early July 2021 range reads sideways · calm', () => {
    const r = evaluateRegime(btc, S, at('2021-07-01T00:00:00Z'));
    expect(r.label).toBe('sideways/calm');
    expect(r.trend.adx).toBeLessThan(25);
    expect(r.trend.probabilities.sideways).toBeGreaterThan(0.5);
    expect(r.volProbabilities.calm).toBeGreaterThan(0.9);
  });

  it('numbers are the indicator library’s on the window, and the labels follow the rules', () => {
    const i = at('2021-06-10T17:00:00Z');
    const r = evaluateRegime(btc, S, i);
    const w = sliceCandles(btc, i - S.window + 1, i + 1);
    const last = S.window - 1;
    const a = adx(w.high, w.low, w.close, S.adxPeriod);
    expect(r.trend.adx).toBe(a.adx[last]);
    expect(r.trend.plusDI).toBe(a.plusDI[last]);
    const e = ema(w.close, S.emaPeriod);
    expect(r.trend.ema).toBe(e[last]);
    expect(r.trend.slopePerBar).toBeCloseTo(Math.log((e[last] as number) / (e[last - S.slopeBars] as number)) / S.slopeBars, 15);
    // percentile: mid-rank of the newest realised vol among the window's readings
    const rv = Array.from(realizedVol(w.close, S.volPeriod, (365 * 24 * H) / H)).filter(Number.isFinite);
    const now = rv[rv.length - 1] as number;
    expect(r.vol.realizedVol).toBe(now);
    expect(r.vol.history).toBe(rv.length);
    expect(r.vol.percentile).toBeCloseTo((rv.filter((x) => x < now).length + 0.5 * rv.filter((x) => x === now).length) / rv.length, 12);
  });

  it('the default window (1000 candles) reads the end of the record', () => {
    const t0 = performance.now();
    const r = evaluateRegime(btc, DEFAULT_SETTINGS);
    const ms = performance.now() - t0;
    expect(r.window.candles).toBe(1000);
    expect(LABELS).toContain(r.label);
    expect(r.hmm.converged).toBe(true);
    expect(ms).toBeLessThan(500); // typically ~20 ms; loose for a busy machine
  });

  it('refuses a window across a gap, or too few candles', () => {
    expect(() => evaluateRegime(btc, S, tailStart + 10)).toThrow(DataGapError);
    expect(() => evaluateRegime(btc, S, tailStart + 10)).toThrow(/3 candles missing between 2021-04-25 04:00 and 2021-04-25 08:00 UTC/);
    expect(() => evaluateRegime(btc, S, 100)).toThrow(NotEnoughDataError);
  });
});

describe('invariants of a reading (random candles of the record)', () => {
  it('probabilities are coherent with the rules and the label', () => {
    const S3 = { ...S, window: 300 };
    fc.assert(
      fc.property(fc.integer({ min: tailStart + S3.window - 1, max: btc.length - 1 }), (i) => {
        const r = evaluateRegime(btc, S3, i);
        const sum = LABELS.reduce((s, l) => s + r.probabilities[l], 0);
        expect(sum).toBeCloseTo(1, 12);
        expect(r.confidence).toBe(r.probabilities[r.label]);
        const [trend, vol] = r.label.split('/');
        // the trend rule: trending when ADX ≥ threshold, then the slope's sign
        const trending = r.trend.adx >= S3.adxThreshold;
        expect(trend).toBe(trending && r.trend.slopePerBar > 0 ? 'bull' : trending && r.trend.slopePerBar < 0 ? 'bear' : 'sideways');
        expect(r.trend.probabilities.sideways <= 0.5).toBe(trending);
        if (trending) expect(r.trend.probabilities.bull > r.trend.probabilities.bear).toBe(r.trend.slopePerBar > 0);
        // the vol rule and the pooled vol probability
        expect(r.vol.label).toBe(r.vol.percentile >= S3.volPercentile ? 'volatile' : 'calm');
        expect(r.volProbabilities.volatile).toBeCloseTo(0.5 * r.hmm.pVolatile + 0.5 * r.vol.pVolatile, 12);
        expect(vol).toBe(r.volProbabilities.volatile >= 0.5 ? 'volatile' : 'calm');
        expect(r.runSince).toBeLessThanOrEqual(r.at);
      }),
      { numRuns: 25 },
    );
  });

  it('normalCdf matches known values', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1)).toBeCloseTo(0.158655, 6);
  });
});

describe('no look-ahead', () => {
  const S3 = { ...S, window: 300 };

  it('appending the recorded future never changes a regime already computed', () => {
    fc.assert(
      fc.property(fc.integer({ min: tailStart + S3.window - 1, max: btc.length - 2 }), fc.integer({ min: 1, max: 500 }), (t, k) => {
        const past = evaluateRegime(sliceCandles(btc, 0, t + 1), S3);
        const later = evaluateRegime(sliceCandles(btc, 0, Math.min(btc.length, t + 1 + k)), S3, t);
        expect(withoutTiming(later)).toEqual(withoutTiming(past));
      }),
      { numRuns: 20 },
    );
  });

  it('appending any future candles (made up, wild) never changes it either', () => {
    const t = btc.length - 1;
    const past = withoutTiming(evaluateRegime(btc, S3));
    const candle = fc
      .record({ o: fc.double({ min: 1, max: 1e6, noNaN: true }), c: fc.double({ min: 1, max: 1e6, noNaN: true }), up: fc.double({ min: 0, max: 1, noNaN: true }), down: fc.double({ min: 0, max: 0.99, noNaN: true }) })
      .map(({ o, c, up, down }) => ({ o, c, h: Math.max(o, c) * (1 + up), l: Math.min(o, c) * (1 - down) }));
    fc.assert(
      fc.property(fc.array(candle, { minLength: 1, maxLength: 50 }), (future) => {
        const extended = append(btc, future);
        expect(withoutTiming(evaluateRegime(extended, S3, t))).toEqual(past);
      }),
      { numRuns: 15 },
    );
  });

  it('the hysteresis-filtered labels of a track do not change when the track runs further', () => {
    const from = at('2021-05-18T00:00:00Z');
    const short = trackRegimes(btc, S3, DEFAULT_SETTINGS.hysteresis, from, from + 30);
    const long = trackRegimes(btc, S3, DEFAULT_SETTINGS.hysteresis, from, from + 50);
    expect(long.slice(0, short.length).map((x) => x.step)).toEqual(short.map((x) => x.step));
  });
});

describe('hysteresis', () => {
  const H3 = { margin: 0.3, persist: 3 };
  /** a reading of `label` at candle close n·1h, with `p` its probability and `q` every other label's */
  const reading = (label: RegimeLabel, n: number, p = 0.4, q = 0.12): Pick<RegimeReading, 'label' | 'at' | 'probabilities' | 'confidence' | 'runSince' | 'runCapped'> => {
    const probabilities = Object.fromEntries(LABELS.map((l) => [l, l === label ? p : q])) as Record<RegimeLabel, number>;
    return { label, at: n * H, probabilities, confidence: p, runSince: n * H, runCapped: false };
  };
  const run = (readings: Array<ReturnType<typeof reading>>, h = H3): { labels: RegimeLabel[]; changes: number; state: RegimeState | undefined } => {
    let state: RegimeState | undefined;
    let changes = 0;
    const labels: RegimeLabel[] = [];
    for (const r of readings) {
      const step = applyHysteresis(state, r, h);
      if (step.changed) changes++;
      state = step.state;
      labels.push(state.label);
    }
    return { labels, changes, state };
  };

  it('the first reading sets the label without an event', () => {
    const step = applyHysteresis(undefined, { ...reading('bull/calm', 10), runSince: 4 * H, runCapped: true }, H3);
    expect(step).toEqual({ state: { label: 'bull/calm', since: 4 * H, sinceCapped: true, at: 10 * H, confidence: 0.4 }, changed: false });
  });

  it('a new label with a small lead changes the stored one only after persisting for N evaluations', () => {
    const r = run([reading('bull/calm', 1), reading('bear/calm', 2), reading('bear/calm', 3)]);
    expect(r.labels).toEqual(['bull/calm', 'bull/calm', 'bull/calm']);
    expect(r.state?.pending).toEqual({ label: 'bear/calm', count: 2, since: 2 * H });
    const step = applyHysteresis(r.state, reading('bear/calm', 4), H3);
    expect(step.changed).toBe(true);
    expect(step.from).toBe('bull/calm');
    expect(step.state).toEqual({ label: 'bear/calm', since: 4 * H, at: 4 * H, confidence: 0.4 });
  });

  it('a new label that wins by the margin changes it at once', () => {
    const r = run([reading('bull/calm', 1), reading('bear/volatile', 2, 0.7, 0.06)]);
    expect(r.labels).toEqual(['bull/calm', 'bear/volatile']);
    expect(r.changes).toBe(1);
  });

  it('a blip, or labels that alternate, never change it', () => {
    const blip = run([reading('bull/calm', 1), reading('bear/calm', 2), reading('bear/calm', 3), reading('bull/calm', 4), reading('bear/calm', 5), reading('bear/calm', 6)]);
    expect(blip.changes).toBe(0);
    const alternating = run(Array.from({ length: 30 }, (_, i) => reading(i === 0 ? 'sideways/calm' : i % 2 ? 'bull/calm' : 'bear/calm', i + 1)));
    expect(alternating.changes).toBe(0);
  });

  it('reading the same candle again is no new evidence', () => {
    const r = run([reading('bull/calm', 1), reading('bear/calm', 2), reading('bear/calm', 2), reading('bear/calm', 2), reading('bear/calm', 2)]);
    expect(r.changes).toBe(0);
    expect(r.state?.pending?.count).toBe(1);
  });

  it('property: it changes exactly when the new label leads by the margin or has persisted N readings', () => {
    const step = fc.record({ label: fc.constantFrom(...LABELS.slice(0, 3)), p: fc.double({ min: 0, max: 1, noNaN: true }), q: fc.double({ min: 0, max: 1, noNaN: true }) });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 5 }), fc.double({ min: 0, max: 1, noNaN: true }), (steps, persist, margin) => {
        const h = { margin, persist };
        let state: RegimeState | undefined;
        let runLabel: RegimeLabel | undefined;
        let runLength = 0;
        steps.forEach((s, n) => {
          const r = reading(s.label, n + 1, s.p, s.q);
          runLength = s.label === runLabel ? runLength + 1 : 1;
          runLabel = s.label;
          const next = applyHysteresis(state, r, h);
          if (state === undefined) expect(next.changed).toBe(false);
          else {
            const shouldChange = s.label !== state.label && (s.p - s.q >= margin || runLength >= persist);
            expect(next.changed).toBe(shouldChange);
            expect(next.state.label).toBe(shouldChange ? s.label : state.label);
          }
          state = next.state;
        });
      }),
      { numRuns: 300 },
    );
  });

  it('on real candles around the crash it removes flicker: fewer changes than the raw labels', () => {
    const from = at('2021-05-17T00:00:00Z');
    const track = trackRegimes(btc, S, DEFAULT_SETTINGS.hysteresis, from, from + 14 * 24);
    let raw = 0;
    let filtered = 0;
    for (let i = 1; i < track.length; i++) {
      if (track[i]?.reading.label !== track[i - 1]?.reading.label) raw++;
      if (track[i]?.step.changed) filtered++;
    }
    expect(raw).toBeGreaterThan(0);
    expect(filtered).toBeLessThan(raw * 0.85);
    // and every change is one the rule allows
    for (let i = 1; i < track.length; i++) {
      const x = track[i];
      if (!x?.step.changed) continue;
      const before = track[i - 1]?.step.state as RegimeState;
      const lead = x.reading.probabilities[x.reading.label] - x.reading.probabilities[before.label];
      const persisted = (before.pending?.label === x.reading.label ? before.pending.count : 0) + 1;
      expect(lead >= DEFAULT_SETTINGS.hysteresis.margin || persisted >= DEFAULT_SETTINGS.hysteresis.persist).toBe(true);
    }
  });
});

/** the candles with made-up ones appended, one timeframe apart */
function append(c: Candles, extra: Array<{ o: number; h: number; l: number; c: number }>): Candles {
  const n = c.length + extra.length;
  const grow = (src: Float64Array, f: (x: (typeof extra)[number], i: number) => number): Float64Array => {
    const out = new Float64Array(n);
    out.set(src);
    extra.forEach((x, i) => (out[c.length + i] = f(x, i)));
    return out;
  };
  const last = c.time[c.length - 1] as number;
  return fromColumns(
    c.exchange,
    c.symbol,
    c.timeframe,
    c.timeframeMs,
    c.source,
    grow(c.time, (_, i) => last + (i + 1) * c.timeframeMs),
    grow(c.open, (x) => x.o),
    grow(c.high, (x) => x.h),
    grow(c.low, (x) => x.l),
    grow(c.close, (x) => x.c),
    grow(c.volume, () => 1),
  );
}
