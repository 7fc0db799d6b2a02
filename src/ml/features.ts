/**
 * Engineered features for the direction models: one row per candle, computed only from candles
 * at or before that row (no look-ahead). Pure: Float64Array in, Float64Array out, no I/O.
 *
 * Every input is a *contiguous* run of candles (a segment between two holes of the record): a
 * feature is never computed across missing data. `segmentsOf` cuts a series at its gaps.
 *
 * The columns (FEATURE_NAMES, in order):
 *   ret1 ret2 ret4 ret8 ret24    log return over 1, 2, 4, 8, 24 candles: ln(c_t / c_{t−k})
 *   rsi14                        RSI(14)/100 − ½
 *   macdHist                     MACD(12, 26, 9) histogram / close
 *   bbPercentB                   Bollinger(20, 2) %B − ½
 *   bbWidth                      Bollinger(20, 2) width ((upper − lower)/middle)
 *   atr14                        ATR(14) / close
 *   adx14                        ADX(14)/100
 *   diSpread                     (+DI − −DI)/100
 *   stochK                       stochastic %K(14)/100 − ½
 *   roc12                        ROC(12)/100
 *   realizedVol30                sample σ of the last 30 log returns (per candle)
 *   smaGap50                     close / SMA(50) − 1
 *   volumeRatio24                volume / SMA(volume, 24) − 1 (0 when the mean volume is 0)
 *   hmmVolatile                  filtered P(most volatile state | returns up to t) of a 2-state
 *                                Gaussian HMM on log returns (src/regimes/hmm.ts), the HMM's
 *                                parameters fitted on training data only and passed in
 *
 * Level-type indicators (cumulative OBV, VWAP from the window's first candle, raw moving
 * averages) are left out: their value depends on where the window starts, not only on the market.
 * Each indicator comes from src/ta, whose outputs at index i depend only on inputs ≤ i, and the
 * HMM column is a forward (filtered) pass: appending candles never changes an earlier row
 * (tests/unit/ml-features.test.ts checks it as a property, bit for bit).
 *
 * Rows before FEATURE_WARMUP (the slowest indicator's warm-up, SMA(50)) are NaN, as are rows
 * where an indicator is undefined (e.g. %B of a perfectly flat Bollinger window): such rows are
 * never used.
 */
import { filteredProbabilities, fitGaussianHmm } from '../regimes/hmm.js';
import { adx, atr, bollinger, macd, realizedVol, roc, rsi, sma, stochastic } from '../ta/index.js';

export const RETURN_LAGS = [1, 2, 4, 8, 24] as const;

export const FEATURE_NAMES = [
  ...RETURN_LAGS.map((k) => `ret${k}`),
  'rsi14',
  'macdHist',
  'bbPercentB',
  'bbWidth',
  'atr14',
  'adx14',
  'diSpread',
  'stochK',
  'roc12',
  'realizedVol30',
  'smaGap50',
  'volumeRatio24',
  'hmmVolatile',
] as const;

export const FEATURE_COUNT = FEATURE_NAMES.length;
/** index of the HMM column (the only one that depends on fitted parameters) */
export const HMM_COLUMN = FEATURE_COUNT - 1;
/** the first row of a contiguous run with every feature defined (SMA(50) is first at index 49) */
export const FEATURE_WARMUP = 49;

/** the HMM's parameters (as fitGaussianHmm returns them, plain arrays so they survive JSON) */
export interface HmmParams {
  means: number[];
  variances: number[];
  transition: number[][];
  initial: number[];
}

export interface FeatureInput {
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
}

/** Row-major matrix: rows × FEATURE_COUNT. */
export interface FeatureMatrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** Contiguous runs [from, to) of a series: cut wherever consecutive candles are not one timeframe apart. */
export function segmentsOf(time: Float64Array, timeframeMs: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let i = 1; i <= time.length; i++) {
    if (i === time.length || (time[i] as number) - (time[i - 1] as number) !== timeframeMs) {
      if (i > start) out.push([start, i]);
      start = i;
    }
  }
  return out;
}

/** ln(c_t / c_{t−1}) for t ≥ 1; NaN at 0. */
export function logReturns(close: Float64Array): Float64Array {
  const r = new Float64Array(close.length).fill(Number.NaN);
  for (let t = 1; t < close.length; t++) r[t] = Math.log((close[t] as number) / (close[t - 1] as number));
  return r;
}

/**
 * Fit the 2-state Gaussian HMM on log returns (only those given: training data). Deterministic.
 * States are ordered by variance, so state 1 is the volatile one.
 */
export function fitRegimeHmm(returns: Float64Array, maxIter = 200): HmmParams {
  const m = fitGaussianHmm(returns, { states: 2, maxIter, tol: 1e-7 });
  return {
    means: Array.from(m.means),
    variances: Array.from(m.variances),
    transition: m.transition.map((row) => Array.from(row)),
    initial: Array.from(m.initial),
  };
}

/**
 * The HMM column for one contiguous run: P(volatile state at t | returns 1..t), NaN at t = 0.
 * The filter starts at the run's first return from the HMM's initial distribution.
 */
export function hmmColumn(close: Float64Array, hmm: HmmParams): Float64Array {
  const out = new Float64Array(close.length).fill(Number.NaN);
  if (close.length < 2) return out;
  const r = logReturns(close).subarray(1);
  const model = {
    means: Float64Array.from(hmm.means),
    variances: Float64Array.from(hmm.variances),
    transition: hmm.transition.map((row) => Float64Array.from(row)),
    initial: Float64Array.from(hmm.initial),
  };
  const probs = filteredProbabilities(model, r);
  const volatile = probs[probs.length - 1] as Float64Array;
  for (let t = 1; t < close.length; t++) out[t] = volatile[t - 1] as number;
  return out;
}

/**
 * Every column except the HMM's (left NaN), for one contiguous run. Separate from the HMM column
 * because the indicators do not depend on fitted parameters: the walk-forward computes them once
 * and the HMM column once per fold.
 */
export function indicatorFeatures(c: FeatureInput): FeatureMatrix {
  const n = c.close.length;
  const F = FEATURE_COUNT;
  const data = new Float64Array(n * F).fill(Number.NaN);
  const { high, low, close, volume } = c;
  const cols: Float64Array[] = [];
  for (const k of RETURN_LAGS) {
    const r = new Float64Array(n).fill(Number.NaN);
    for (let t = k; t < n; t++) r[t] = Math.log((close[t] as number) / (close[t - k] as number));
    cols.push(r);
  }
  const rsi14 = rsi(close, 14);
  const m = macd(close, 12, 26, 9);
  const bb = bollinger(close, 20, 2);
  const atr14 = atr(high, low, close, 14);
  const dx = adx(high, low, close, 14);
  const st = stochastic(high, low, close, 14, 3);
  const roc12 = roc(close, 12);
  const rv = realizedVol(close, 30);
  const sma50 = sma(close, 50);
  const vol24 = sma(volume, 24);
  const map = (src: Float64Array, f: (x: number, t: number) => number): Float64Array => {
    const out = new Float64Array(n);
    for (let t = 0; t < n; t++) out[t] = f(src[t] as number, t);
    return out;
  };
  const cl = (t: number): number => close[t] as number;
  cols.push(
    map(rsi14, (x) => x / 100 - 0.5),
    map(m.histogram, (x, t) => x / cl(t)),
    map(bb.percentB, (x) => x - 0.5),
    bb.width,
    map(atr14, (x, t) => x / cl(t)),
    map(dx.adx, (x) => x / 100),
    map(dx.plusDI, (x, t) => (x - (dx.minusDI[t] as number)) / 100),
    map(st.k, (x) => x / 100 - 0.5),
    map(roc12, (x) => x / 100),
    rv,
    map(sma50, (x, t) => cl(t) / x - 1),
    map(vol24, (x, t) => (x > 0 ? (volume[t] as number) / x - 1 : Number.isNaN(x) ? Number.NaN : 0)),
  );
  for (let t = FEATURE_WARMUP; t < n; t++) {
    for (let j = 0; j < cols.length; j++) data[t * F + j] = (cols[j] as Float64Array)[t] as number;
  }
  return { rows: n, cols: F, data };
}

/** Write a run's HMM column into its feature matrix (rows from FEATURE_WARMUP on). */
export function setHmmColumn(m: FeatureMatrix, close: Float64Array, hmm: HmmParams): void {
  const h = hmmColumn(close, hmm);
  for (let t = FEATURE_WARMUP; t < m.rows; t++) m.data[t * m.cols + HMM_COLUMN] = h[t] as number;
}

/** All features of one contiguous run, with the given (training-data) HMM. */
export function buildFeatures(c: FeatureInput, hmm: HmmParams): FeatureMatrix {
  const m = indicatorFeatures(c);
  setHmmColumn(m, c.close, hmm);
  return m;
}

/** true when every feature of row t is a finite number */
export function rowValid(m: FeatureMatrix, t: number): boolean {
  const base = t * m.cols;
  for (let j = 0; j < m.cols; j++) if (!Number.isFinite(m.data[base + j] as number)) return false;
  return true;
}
