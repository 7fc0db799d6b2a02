/**
 * src/ta against technicalindicators (TI, v3.1, the dev dependency) on REAL recorded candles,
 * against naive textbook loops where TI has no equivalent, and a no-look-ahead property test.
 *
 * Tolerance: |ours − ref| ≤ 1e-9 · max(|ours|, |ref|, floor). The floor is 0 (purely relative)
 * for series at the price's scale (averages, bands, ATR, VWAP); for series that cross zero a
 * relative error is meaningless at the crossing, so the floor is the scale the series is made
 * from: the median close for MACD (a difference of two price EMAs), 1 for bounded oscillators
 * (RSI, %K/%D, ADX/±DI in 0..100, ROC in percent, %B around 0..1, Hurst around 0.5), the
 * median candle volume for OBV.
 *
 * TI returns no entries for the warm-up: its arrays are aligned to ours by the END, and the
 * tests also check that ours becomes finite exactly where TI's output begins (same warm-up).
 *
 * Where the definitions could differ, they are the same here by choice — checked, not assumed:
 *  - EMA: both seed with the SMA of the first n values (TI lib/moving_averages/EMA.js feeds an
 *    SMA until it yields, then ema = (x − prev)·2/(n+1) + prev). Ours computes the same
 *    recursion as prev·(1 − α) + x·α: equal up to rounding (< 1e-14 here), no seeding decay needed.
 *  - RSI/ATR/ADX Wilder seeding: TI's AverageGain/AverageLoss and WEMA seed with the plain mean
 *    of the first n values at index n (the true range and ±DM need a previous candle, so they
 *    start at index 1), as Wilder (1978) does and as ours does. TI's RSI however ROUNDS to two
 *    decimals (RSI.js: parseFloat(x.toFixed(2))), so RSI is compared at 1e-9 with the textbook
 *    RSI = 100 − 100/(1 + avgGain/avgLoss) built from TI's own AverageGain/AverageLoss, and with
 *    TI's rounded RSI within 0.005.
 *  - ADX: TI emits +DI/−DI only from 2n − 1 (where ADX starts); ours gives them from n, which
 *    is where Wilder's smoothed sums exist. The part TI leaves out is checked against a
 *    textbook loop written here.
 *  - MACD: TI's MACDInput class defaults to SMA oscillators (SimpleMAOscillator/SimpleMASignal
 *    = true); the calls below pass false for both, i.e. Appel's EMA(12) − EMA(26) with an
 *    EMA(9) signal, which is ours.
 *  - Bollinger: POPULATION standard deviation (divisor n) on both sides — John Bollinger's
 *    definition, and TI's Utils/SD.js (Math.sqrt(sum / period)). Width = (upper − lower)/middle
 *    is not in TI: compared with that formula on TI's bands.
 *  - Keltner: ours is the EMA(20) ± 2·ATR(10) form; TI computes it with useSMA: false,
 *    maPeriod 20, atrPeriod 10, multiplier 2 (TI's class default multiplier is 1, so it is passed).
 *  - Stochastic / RSI / ADX on a window without any range or movement: TI yields 0 for %K
 *    (Stochastic.js: isNaN(k) ? 0 : k), 100 for RSI and NaN for DX (which then poisons its ADX
 *    for the rest of the series); ours yields 50, 50 and DX = 0. None of the stretches compared
 *    here contains such a window — the tests assert that, so the comparison covers every index.
 */
import fc from 'fast-check';
import * as TI from 'technicalindicators';
import { describe, expect, it } from 'vitest';
import { sliceCandles, type Candles } from '../../src/market/types.js';
import {
  adx,
  atr,
  bollinger,
  computeAll,
  donchian,
  ema,
  hurst,
  HURST_MIN_PERIOD,
  INDICATOR_NAMES,
  keltner,
  macd,
  obv,
  realizedVol,
  roc,
  rsi,
  sma,
  stochastic,
  vwap,
  wma,
} from '../../src/ta/index.js';
import { recordedCandles } from '../helpers/recorded.js';

const TOL = 1e-9;

/** The longest stretch without a gap (recorded series keep Binance's maintenance gaps), at most `max` candles from its end. */
function gapless(c: Candles, max: number): Candles {
  let best = [0, 0];
  let start = 0;
  for (let i = 1; i <= c.length; i++) {
    if (i === c.length || (c.time[i] as number) - (c.time[i - 1] as number) !== c.timeframeMs) {
      if (i - start > (best[1] as number) - (best[0] as number)) best = [start, i];
      start = i;
    }
  }
  const [a, b] = best as [number, number];
  return sliceCandles(c, Math.max(a, b - max), b);
}

interface Series {
  name: string;
  c: Candles;
  high: number[];
  low: number[];
  close: number[];
  volume: number[];
  priceScale: number;
  volumeScale: number;
}

function median(xs: ArrayLike<number>): number {
  const s = Array.from(xs).sort((a, b) => a - b);
  return s[s.length >> 1] as number;
}

function series(symbol: string, timeframe: string, max: number): Series {
  const c = gapless(recordedCandles('binance', symbol, timeframe), max);
  return {
    name: `binance ${symbol} ${timeframe} (${c.length} gapless candles)`,
    c,
    high: Array.from(c.high),
    low: Array.from(c.low),
    close: Array.from(c.close),
    volume: Array.from(c.volume),
    priceScale: median(c.close),
    volumeScale: median(c.volume),
  };
}

// BTC 1h: 2,005 candles (Mar–Jul 2021, the May crash); ETH 5m: the last 8,000 of a 24k stretch;
// WIN: an alt priced 6e-5..3e-3; SLP: a new listing with 10× swings, no gap at all.
const DATA: Series[] = [
  series('BTC/USDT', '1h', 5000),
  series('ETH/USDT', '5m', 8000),
  series('WIN/USDT', '1h', 5000),
  series('SLP/USDT', '1h', 5000),
];

/** ours vs a reference aligned by the end; `first` = the first index ours (and the reference) defines. */
function expectMatch(what: string, ours: Float64Array, ref: ArrayLike<number | undefined>, first: number, floor = 0, tol = TOL): void {
  const off = ours.length - ref.length;
  expect(off, `${what}: reference starts at index ${off}, ours at ${first}`).toBe(first);
  for (let i = 0; i < first; i++) {
    if (!Number.isNaN(ours[i] as number)) throw new Error(`${what}: index ${i} is in the warm-up but is ${ours[i]}, not NaN`);
  }
  let worst = 0;
  let worstAt = -1;
  for (let j = 0; j < ref.length; j++) {
    const a = ours[off + j] as number;
    const b = ref[j];
    if (b === undefined || !Number.isFinite(b) || !Number.isFinite(a)) {
      throw new Error(`${what}: index ${off + j}: ours ${a}, reference ${b}`);
    }
    const err = Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), floor, Number.MIN_VALUE);
    if (err > worst) {
      worst = err;
      worstAt = off + j;
    }
  }
  expect(worst, `${what}: worst relative error ${worst} at index ${worstAt}`).toBeLessThanOrEqual(tol);
}

/** TI wants plain arrays of numbers */
const col = <T, K extends keyof T>(rows: T[], k: K): T[K][] => rows.map((r) => r[k]);

describe.each(DATA)('equal to technicalindicators on $name', (s) => {
  const { high, low, close, volume } = s.c;

  it('has no degenerate window (flat range / no movement), so every index is compared', () => {
    const hh = donchian(high, low, 14);
    for (let i = 13; i < s.c.length; i++) expect(hh.upper[i]).toBeGreaterThan(hh.lower[i] as number);
  });

  it('SMA, EMA, WMA (n = 5, 20, 50, 200)', () => {
    for (const n of [5, 20, 50, 200]) {
      expectMatch(`sma${n}`, sma(close, n), TI.SMA.calculate({ period: n, values: s.close }), n - 1);
      expectMatch(`ema${n}`, ema(close, n), TI.EMA.calculate({ period: n, values: s.close }), n - 1);
      expectMatch(`wma${n}`, wma(close, n), TI.WMA.calculate({ period: n, values: s.close }), n - 1);
    }
  });

  it('RSI (Wilder): textbook formula on TI AverageGain/AverageLoss to 1e-9, TI RSI within its 2-decimal rounding', () => {
    for (const n of [7, 14]) {
      const ours = rsi(close, n);
      const g = TI.AverageGain.calculate({ period: n, values: s.close });
      const l = TI.AverageLoss.calculate({ period: n, values: s.close });
      expect(g.length).toBe(l.length);
      expectMatch(`rsi${n} vs 100 − 100/(1 + AG/AL)`, ours, g.map((x, j) => 100 - 100 / (1 + x / (l[j] as number))), n, 1);
      const rounded = TI.RSI.calculate({ period: n, values: s.close });
      expect(rounded.length).toBe(ours.length - n);
      let worst = 0;
      for (let j = 0; j < rounded.length; j++) worst = Math.max(worst, Math.abs((ours[n + j] as number) - (rounded[j] as number)));
      expect(worst, `rsi${n}: TI RSI is rounded to 0.01`).toBeLessThanOrEqual(0.005 + 1e-9);
    }
  });

  it('MACD (12, 26, 9) with EMA oscillator and signal', () => {
    const ours = macd(close, 12, 26, 9);
    const ti = TI.MACD.calculate({ values: s.close, fastPeriod: 12, slowPeriod: 26, signalPeriod: 9, SimpleMAOscillator: false, SimpleMASignal: false });
    expectMatch('macd', ours.macd, col(ti, 'MACD'), 25, s.priceScale);
    // TI leaves signal/histogram undefined until the signal EMA is seeded (8 more candles)
    const seeded = ti.filter((r) => r.signal !== undefined);
    expectMatch('macd.signal', ours.signal, col(seeded, 'signal'), 33, s.priceScale);
    expectMatch('macd.histogram', ours.histogram, col(seeded, 'histogram'), 33, s.priceScale);
  });

  it('Bollinger (20, 2): bands and %B from TI, width from TI bands', () => {
    const ours = bollinger(close, 20, 2);
    const ti = TI.BollingerBands.calculate({ period: 20, stdDev: 2, values: s.close });
    expectMatch('bb.middle', ours.middle, col(ti, 'middle'), 19);
    expectMatch('bb.upper', ours.upper, col(ti, 'upper'), 19);
    expectMatch('bb.lower', ours.lower, col(ti, 'lower'), 19);
    expectMatch('bb.percentB', ours.percentB, col(ti, 'pb'), 19, 1);
    expectMatch('bb.width', ours.width, ti.map((r) => (r.upper - r.lower) / r.middle), 19);
  });

  it('ATR (14) and Keltner (20, 2, 10)', () => {
    expectMatch('atr14', atr(high, low, close, 14), TI.ATR.calculate({ high: s.high, low: s.low, close: s.close, period: 14 }), 14);
    const ours = keltner(high, low, close, 20, 2, 10);
    const ti = TI.KeltnerChannels.calculate({ high: s.high, low: s.low, close: s.close, maPeriod: 20, atrPeriod: 10, useSMA: false, multiplier: 2 });
    expectMatch('keltner.middle', ours.middle, col(ti, 'middle'), 19);
    expectMatch('keltner.upper', ours.upper, col(ti, 'upper'), 19);
    expectMatch('keltner.lower', ours.lower, col(ti, 'lower'), 19);
  });

  it('ADX (14) with +DI/−DI; the DIs before 2n − 1 (not emitted by TI) against a textbook loop', () => {
    const n = 14;
    const ours = adx(high, low, close, n);
    const ti = TI.ADX.calculate({ high: s.high, low: s.low, close: s.close, period: n });
    expectMatch('adx', ours.adx, col(ti, 'adx'), 2 * n - 1, 1);
    // ±DI: TI's first entry is at 2n − 1; ours starts at n: compare TI's part, then all of ours
    expectMatch('plusDI (from 2n − 1)', ours.plusDI.subarray(2 * n - 1), col(ti, 'pdi'), 0, 1);
    expectMatch('minusDI (from 2n − 1)', ours.minusDI.subarray(2 * n - 1), col(ti, 'mdi'), 0, 1);
    const ref = wilderDI(s.high, s.low, s.close, n);
    expectMatch('plusDI (textbook)', ours.plusDI, ref.plus, n, 1);
    expectMatch('minusDI (textbook)', ours.minusDI, ref.minus, n, 1);
  });

  it('Stochastic (14, 3)', () => {
    const ours = stochastic(high, low, close, 14, 3);
    const ti = TI.Stochastic.calculate({ high: s.high, low: s.low, close: s.close, period: 14, signalPeriod: 3 });
    expectMatch('stoch.k', ours.k, col(ti, 'k'), 13, 1);
    expectMatch('stoch.d', ours.d, col(ti.filter((r) => r.d !== undefined), 'd'), 15, 1);
  });

  it('OBV, VWAP (cumulative), ROC (12)', () => {
    // TI's OBV starts at candle 1 (candle 0 has no previous close), from a running total of 0
    expectMatch('obv', obv(close, volume), TI.OBV.calculate({ close: s.close, volume: s.volume }), 1, s.volumeScale);
    expectMatch('vwap', vwap(high, low, close, volume), TI.VWAP.calculate({ high: s.high, low: s.low, close: s.close, volume: s.volume }), 0);
    expectMatch('roc12', roc(close, 12), TI.ROC.calculate({ period: 12, values: s.close }), 12, 1);
  });

  it('Donchian (20) and rolling VWAP (24) against naive O(n·k) loops', () => {
    const ours = donchian(high, low, 20);
    const ref = naiveDonchian(s.high, s.low, 20);
    expectMatch('donchian.upper', ours.upper, ref.upper, 19);
    expectMatch('donchian.lower', ours.lower, ref.lower, 19);
    expectMatch('donchian.middle', ours.middle, ref.middle, 19);
    expectMatch('vwap24', vwap(high, low, close, volume, 24), naiveVwap(s.high, s.low, s.close, s.volume, 24), 23);
  });

  it('realised vol (30, per candle and annualised) against a naive sample stdev of log returns', () => {
    expectMatch('realizedVol30', realizedVol(close, 30), naiveRealizedVol(s.close, 30), 30);
    expectMatch('realizedVol30 annualised', realizedVol(close, 30, 365 * 24), naiveRealizedVol(s.close, 30).map((v) => v * Math.sqrt(365 * 24)), 30);
  });

  it('Hurst (100) against a naive variance-time loop', () => {
    expectMatch('hurst100', hurst(close, 100), naiveHurst(s.close, 100), 100, 1);
  });
});

describe('Hurst estimator (seeded synthetic series: a test of the estimator, not market data)', () => {
  const meanH = (phi: number, seed: number, n = 100): number => {
    const h = hurst(syntheticPrices(seed, phi, 20_000), n);
    let s = 0;
    let k = 0;
    for (const x of h) {
      if (!Number.isNaN(x)) {
        s += x;
        k++;
      }
    }
    return s / k;
  };

  it('the random-walk anchor puts independent Gaussian random-walk windows at 0.5 on average (Monte Carlo, naive loop)', () => {
    // the anchor is a second-order approximation: its residual bias is +0.006 at n = 32 and
    // +0.0005 at n = 100 (src/ta/hurst.ts); the Monte Carlo mean's standard error is ≈ 0.0012
    for (const [n, tol] of [
      [HURST_MIN_PERIOD, 0.012],
      [100, 0.004],
    ] as const) {
      let sum = 0;
      const windows = Math.round(400_000 / n);
      for (let w = 0; w < windows; w++) sum += naiveHurst(Array.from(syntheticPrices(1000 + w, 0, n + 1)), n)[0] as number;
      expect(Math.abs(sum / windows - 0.5), `n = ${n}`).toBeLessThan(tol);
    }
  });

  it('a random walk (iid normal log returns) gives ≈ 0.5, at the default and at the minimum period', () => {
    for (const seed of [1, 2, 3]) {
      expect(Math.abs(meanH(0, seed) - 0.5)).toBeLessThan(0.02);
      expect(Math.abs(meanH(0, seed, HURST_MIN_PERIOD) - 0.5)).toBeLessThan(0.03);
    }
  });

  it('persistent ("trending") returns give > 0.5, anti-persistent (mean-reverting) < 0.5', () => {
    // AR(1) log returns r_t = φ·r_{t−1} + ε: φ > 0 means moves tend to continue. (A constant drift
    // alone is not persistence: V_q works on deviations from the window's mean return.) From the
    // autocorrelations φ^k, V_q/σ² = 1 + 2 Σ_{k<q} (1 − k/q)·φ^k makes the expected H ≈ 0.72 for
    // φ = 0.5 and ≈ 0.29 for φ = −0.5; a window's standard error is ≈ 0.07.
    for (const seed of [1, 2]) {
      expect(meanH(0.5, seed)).toBeGreaterThan(0.65);
      expect(meanH(-0.5, seed)).toBeLessThan(0.35);
    }
  });

  it('is NaN on a window where the price did not move (every V_q = 0)', () => {
    const c = new Float64Array(300).fill(2);
    for (let i = 0; i < 150; i++) c[i] = 1 + 0.01 * Math.sin(i);
    const h = hurst(c, 100);
    expect(Number.isFinite(h[149] as number)).toBe(true);
    expect(Number.isNaN(h[299] as number)).toBe(true);
  });
});

describe('shape, warm-up, conventions', () => {
  const btc = DATA[0] as Series;
  const { high, low, close, volume } = btc.c;

  it('every output has the input length and exactly the documented warm-up of NaN', () => {
    const firstFinite = (a: Float64Array): number => a.findIndex((x) => !Number.isNaN(x));
    const expectWarm = (a: Float64Array, warm: number): void => {
      expect(a.length).toBe(close.length);
      expect(firstFinite(a)).toBe(warm);
      for (let i = warm; i < a.length; i++) expect(Number.isFinite(a[i] as number)).toBe(true);
    };
    expectWarm(sma(close, 10), 9);
    expectWarm(ema(close, 10), 9);
    expectWarm(wma(close, 10), 9);
    expectWarm(rsi(close), 14);
    const m = macd(close);
    expectWarm(m.macd, 25);
    expectWarm(m.signal, 33);
    expectWarm(m.histogram, 33);
    for (const a of Object.values(bollinger(close))) expectWarm(a, 19);
    expectWarm(atr(high, low, close), 14);
    const d = adx(high, low, close);
    expectWarm(d.adx, 27);
    expectWarm(d.plusDI, 14);
    expectWarm(d.minusDI, 14);
    const st = stochastic(high, low, close);
    expectWarm(st.k, 13);
    expectWarm(st.d, 15);
    expectWarm(obv(close, volume), 1);
    expectWarm(vwap(high, low, close, volume), 0);
    expectWarm(vwap(high, low, close, volume, 24), 23);
    expectWarm(roc(close), 12);
    for (const a of Object.values(donchian(high, low))) expectWarm(a, 19);
    for (const a of Object.values(keltner(high, low, close))) expectWarm(a, 19);
    expectWarm(keltner(high, low, close, 5, 2, 10).middle, 10);
    expectWarm(realizedVol(close), 30);
    expectWarm(hurst(close), 100);
  });

  it('a series shorter than the warm-up is all NaN, an empty one is empty', () => {
    const short = close.subarray(0, 10);
    expect(Array.from(sma(short, 20)).every(Number.isNaN)).toBe(true);
    expect(Array.from(hurst(short)).every(Number.isNaN)).toBe(true);
    expect(Array.from(adx(high.subarray(0, 10), low.subarray(0, 10), short).adx).every(Number.isNaN)).toBe(true);
    const all = computeAll({ high: high.subarray(0, 0), low: low.subarray(0, 0), close: short.subarray(0, 0), volume: volume.subarray(0, 0) });
    for (const name of INDICATOR_NAMES) expect(all[name]?.length).toBe(0);
  });

  it('rejects bad periods and mismatched inputs', () => {
    expect(() => sma(close, 0)).toThrow(RangeError);
    expect(() => ema(close, 2.5)).toThrow(RangeError);
    expect(() => rsi(close, -1)).toThrow(RangeError);
    expect(() => realizedVol(close, 1)).toThrow(RangeError);
    expect(() => realizedVol(close, 30, 0)).toThrow(RangeError);
    expect(() => hurst(close, 4)).toThrow(RangeError);
    expect(() => hurst(close, HURST_MIN_PERIOD - 1)).toThrow(RangeError);
    expect(() => atr(high, low.subarray(1), close)).toThrow(RangeError);
    expect(() => computeAll({ high, low, close, volume: volume.subarray(1) })).toThrow(RangeError);
  });

  it('flat market conventions: RSI 50, %K 50, ADX 0, Bollinger width 0 and %B NaN, realised vol 0', () => {
    const flat = new Float64Array(60).fill(3);
    expect(rsi(flat)[59]).toBe(50);
    expect(stochastic(flat, flat, flat).k[59]).toBe(50);
    expect(adx(flat, flat, flat).adx[59]).toBe(0);
    const bb = bollinger(flat);
    expect(bb.width[59]).toBe(0);
    expect(Number.isNaN(bb.percentB[59] as number)).toBe(true);
    expect(realizedVol(flat)[59]).toBe(0);
    // a real series that goes flat gets exactly 0 too (the rolling sums are recomputed, not left with a residue)
    const c = new Float64Array(200);
    for (let i = 0; i < 200; i++) c[i] = i < 120 ? 100 + 7 * Math.sin(i / 3) : 101.5;
    expect(realizedVol(c, 30)[199]).toBe(0);
    expect(bollinger(c, 20).width[199]).toBe(0);
  });

  it('rolling VWAP of a window without volume is NaN; cumulative VWAP is NaN until the first trade', () => {
    const v = new Float64Array(40).fill(0);
    for (let i = 0; i < 10; i++) v[i] = 5;
    const p = close.subarray(0, 40);
    const r = vwap(p, p, p, v, 10);
    expect(Number.isFinite(r[15] as number)).toBe(true);
    expect(Number.isNaN(r[39] as number)).toBe(true);
    const z = new Float64Array(40);
    z[3] = 1;
    const cum = vwap(p, p, p, z);
    expect(Number.isNaN(cum[2] as number)).toBe(true);
    const p3 = p[3] as number;
    expect(cum[39]).toBe((p3 + p3 + p3) / 3);
  });

  it('computeAll gives every documented series, each equal bit for bit to its own function', () => {
    const all = computeAll({ high, low, close, volume });
    expect(Object.keys(all)).toEqual([...INDICATOR_NAMES]);
    const expected = eachOnItsOwn(high, low, close, volume);
    for (const name of INDICATOR_NAMES) {
      expect(sameBits(all[name] as Float64Array, expected[name] as Float64Array), name).toBe(true);
    }
  });

  it('… also on degenerate candles: flat stretches (collapse guards, zero ranges, NaN Hurst) and no volume', () => {
    // computeAll's fused passes repeat each function's code, including the branches real
    // markets rarely take; 1,400 candles cross the 256- and 1,024-step resyncs too
    const len = 1400;
    const h = new Float64Array(len);
    const l = new Float64Array(len);
    const c = new Float64Array(len);
    const v = new Float64Array(len);
    for (let i = 0; i < len; i++) {
      const flat = (i >= 300 && i < 700) || i >= 1200; // longer than every window (≤ 200)
      const p = flat ? 50 : 50 + 5 * Math.sin(i / 7) + 0.01 * i;
      c[i] = p;
      h[i] = flat ? p : p + 0.5 + 0.3 * Math.sin(i);
      l[i] = flat ? p : p - 0.4;
      v[i] = i < 40 || flat ? 0 : 10 + (i % 13);
    }
    const all = computeAll({ high: h, low: l, close: c, volume: v });
    const expected = eachOnItsOwn(h, l, c, v);
    for (const name of INDICATOR_NAMES) {
      expect(sameBits(all[name] as Float64Array, expected[name] as Float64Array), name).toBe(true);
    }
    // the degenerate paths were taken
    expect(Number.isNaN(all.vwap?.[10] as number)).toBe(true);
    expect(all['stoch.k']?.[650]).toBe(50);
    expect(all['bb.width']?.[650]).toBe(0);
    expect(Number.isNaN(all['bb.percentB']?.[650] as number)).toBe(true);
    expect(all.realizedVol30?.[650]).toBe(0);
    expect(Number.isNaN(all.hurst100?.[650] as number)).toBe(true);
    expect(Number.isFinite(all.hurst100?.[1100] as number)).toBe(true);
  });
});

describe('no look-ahead (fast-check): the first k values never change when later candles are appended', () => {
  // the whole BTC 1h record (5,482 candles, gaps included — this is about computation, not data):
  // long enough to cross the rolling sums' resync points (every 1,024 steps)
  const full = recordedCandles('binance', 'BTC/USDT', '1h');
  const allFull = computeAll(full);

  it('computeAll on the first k candles equals the first k values on the whole series (bitwise, NaN-aware)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: full.length }), (k) => {
        const part = computeAll(sliceCandles(full, 0, k));
        for (const name of INDICATOR_NAMES) {
          if (!sameBits(part[name] as Float64Array, (allFull[name] as Float64Array).subarray(0, k))) return false;
        }
        return true;
      }),
      { numRuns: 60 },
    );
  });

  it('every indicator with random parameters, cut at a random point', () => {
    const period = (max: number): fc.Arbitrary<number> => fc.integer({ min: 1, max });
    fc.assert(
      fc.property(
        fc.record({
          k: fc.integer({ min: 0, max: full.length }),
          n: period(60),
          m: period(60),
          q: period(12),
          mult: fc.double({ min: 0.5, max: 4, noNaN: true }),
          big: fc.integer({ min: HURST_MIN_PERIOD, max: 300 }),
        }),
        ({ k, n, m, q, mult, big }) => {
          const cut = sliceCandles(full, 0, k);
          const run = (c: Candles): Float64Array[] => [
            sma(c.close, n),
            ema(c.close, n),
            wma(c.close, n),
            rsi(c.close, n),
            ...Object.values(macd(c.close, n, m, q)),
            ...Object.values(bollinger(c.close, n, mult)),
            atr(c.high, c.low, c.close, n),
            ...Object.values(adx(c.high, c.low, c.close, n)),
            ...Object.values(stochastic(c.high, c.low, c.close, n, q)),
            obv(c.close, c.volume),
            vwap(c.high, c.low, c.close, c.volume),
            vwap(c.high, c.low, c.close, c.volume, n),
            roc(c.close, n),
            ...Object.values(donchian(c.high, c.low, n)),
            ...Object.values(keltner(c.high, c.low, c.close, n, mult, m)),
            realizedVol(c.close, Math.max(2, n), 24),
            hurst(c.close, big),
          ];
          const whole = run(full);
          const part = run(cut);
          return whole.every((w, j) => sameBits(part[j] as Float64Array, w.subarray(0, k)));
        },
      ),
      { numRuns: 40 },
    );
  });
});

// ---------------------------------------------------------------- references and helpers

/** the set computeAll returns, each series from its own function (default parameters) */
function eachOnItsOwn(high: Float64Array, low: Float64Array, close: Float64Array, volume: Float64Array): Record<string, Float64Array> {
  const m = macd(close);
  const bb = bollinger(close);
  const d = adx(high, low, close);
  const st = stochastic(high, low, close);
  const dc = donchian(high, low);
  const kc = keltner(high, low, close);
  return {
    sma20: sma(close, 20),
    sma50: sma(close, 50),
    sma200: sma(close, 200),
    ema12: ema(close, 12),
    ema26: ema(close, 26),
    ema50: ema(close, 50),
    ema200: ema(close, 200),
    wma20: wma(close, 20),
    rsi14: rsi(close),
    'macd.macd': m.macd,
    'macd.signal': m.signal,
    'macd.histogram': m.histogram,
    'bb.middle': bb.middle,
    'bb.upper': bb.upper,
    'bb.lower': bb.lower,
    'bb.width': bb.width,
    'bb.percentB': bb.percentB,
    atr14: atr(high, low, close),
    'adx.adx': d.adx,
    'adx.plusDI': d.plusDI,
    'adx.minusDI': d.minusDI,
    'stoch.k': st.k,
    'stoch.d': st.d,
    obv: obv(close, volume),
    vwap: vwap(high, low, close, volume),
    roc12: roc(close),
    'donchian.upper': dc.upper,
    'donchian.lower': dc.lower,
    'donchian.middle': dc.middle,
    'keltner.middle': kc.middle,
    'keltner.upper': kc.upper,
    'keltner.lower': kc.lower,
    realizedVol30: realizedVol(close),
    hurst100: hurst(close),
  };
}

/** equal element by element, bit for bit (Object.is: NaN equals NaN) */
function sameBits(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** Wilder's +DI/−DI, textbook loops (sums of the first n, then S − S/n + x), aligned from index n */
function wilderDI(high: number[], low: number[], close: number[], n: number): { plus: number[]; minus: number[] } {
  const tr: number[] = [];
  const pdm: number[] = [];
  const mdm: number[] = [];
  for (let i = 1; i < close.length; i++) {
    const h = high[i] as number;
    const l = low[i] as number;
    const up = h - (high[i - 1] as number);
    const down = (low[i - 1] as number) - l;
    tr.push(Math.max(h - l, Math.abs(h - (close[i - 1] as number)), Math.abs(l - (close[i - 1] as number))));
    pdm.push(up > down && up > 0 ? up : 0);
    mdm.push(down > up && down > 0 ? down : 0);
  }
  const plus: number[] = [];
  const minus: number[] = [];
  let st = 0;
  let sp = 0;
  let sm = 0;
  for (let j = 0; j < tr.length; j++) {
    if (j < n) {
      st += tr[j] as number;
      sp += pdm[j] as number;
      sm += mdm[j] as number;
      if (j < n - 1) continue;
    } else {
      st = st - st / n + (tr[j] as number);
      sp = sp - sp / n + (pdm[j] as number);
      sm = sm - sm / n + (mdm[j] as number);
    }
    plus.push((100 * sp) / st);
    minus.push((100 * sm) / st);
  }
  return { plus, minus };
}

function naiveDonchian(high: number[], low: number[], n: number): { upper: number[]; lower: number[]; middle: number[] } {
  const upper: number[] = [];
  const lower: number[] = [];
  const middle: number[] = [];
  for (let i = n - 1; i < high.length; i++) {
    let u = -Infinity;
    let d = Infinity;
    for (let j = i - n + 1; j <= i; j++) {
      u = Math.max(u, high[j] as number);
      d = Math.min(d, low[j] as number);
    }
    upper.push(u);
    lower.push(d);
    middle.push((u + d) / 2);
  }
  return { upper, lower, middle };
}

function naiveVwap(high: number[], low: number[], close: number[], volume: number[], n: number): number[] {
  const out: number[] = [];
  for (let i = n - 1; i < close.length; i++) {
    let pv = 0;
    let v = 0;
    for (let j = i - n + 1; j <= i; j++) {
      pv += (volume[j] as number) * (((high[j] as number) + (low[j] as number) + (close[j] as number)) / 3);
      v += volume[j] as number;
    }
    out.push(pv / v);
  }
  return out;
}

/** sample standard deviation (n − 1) of the n log returns ln(c_j/c_{j−1}) ending at each i ≥ n, two passes */
function naiveRealizedVol(close: number[], n: number): number[] {
  const out: number[] = [];
  for (let i = n; i < close.length; i++) {
    const r: number[] = [];
    for (let j = i - n + 1; j <= i; j++) r.push(Math.log((close[j] as number) / (close[j - 1] as number)));
    const mean = r.reduce((a, x) => a + x, 0) / n;
    out.push(Math.sqrt(r.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)));
  }
  return out;
}

/**
 * The documented variance-time method, literally: log returns, all overlapping q-sums centred on
 * q·mean, Lo–MacKinlay divisors, an ordinary least-squares fit of ln V_q on ln q with intercept,
 * the anchor from the second-order formula with the fit's weights (not the closed forms of src/ta).
 */
function naiveHurst(close: number[], n: number): number[] {
  const levels = [1, 2, 4, 8];
  const x = levels.map((q) => Math.log(q));
  const xMean = x.reduce((a, v) => a + v, 0) / x.length;
  const sxx = x.reduce((a, v) => a + (v - xMean) ** 2, 0);
  const anchor = levels.reduce((a, q, j) => a + (((x[j] as number) - xMean) / sxx) * (-(2 * (2 * q * q + 1)) / (3 * q * (n - q + 1)) / 2), 0);
  const out: number[] = [];
  for (let i = n; i < close.length; i++) {
    const r: number[] = [];
    for (let j = i - n + 1; j <= i; j++) r.push(Math.log((close[j] as number) / (close[j - 1] as number)));
    const mean = r.reduce((a, v) => a + v, 0) / n;
    const y = levels.map((q) => {
      let ss = 0;
      for (let t = q - 1; t < n; t++) {
        let d = 0;
        for (let k = t - q + 1; k <= t; k++) d += r[k] as number;
        ss += (d - q * mean) ** 2;
      }
      return Math.log(ss / ((n - q + 1) * q * (1 - q / n)));
    });
    const yMean = y.reduce((a, v) => a + v, 0) / y.length;
    const slope = x.reduce((a, v, j) => a + (v - xMean) * ((y[j] as number) - yMean), 0) / sxx;
    out.push(0.5 + (slope - anchor) / 2);
  }
  return out;
}

/** seeded prices whose log returns are AR(1): r_t = φ·r_{t−1} + 0.01·ε_t, ε standard normal (mulberry32 + Box–Muller) */
function syntheticPrices(seed: number, phi: number, len: number): Float64Array {
  let state = seed | 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float64Array(len);
  let p = 100;
  let prev = 0;
  for (let i = 0; i < len; i++) {
    let u = 0;
    while (u === 0) u = uniform();
    const e = phi * prev + 0.01 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
    prev = e;
    p *= Math.exp(e);
    out[i] = p;
  }
  return out;
}
