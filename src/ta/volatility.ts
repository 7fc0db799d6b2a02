/**
 * Volatility and channels: Bollinger Bands, ATR, Keltner Channels, Donchian Channels,
 * realised volatility.
 */
import { checkPeriod, checkSameLength, COLLAPSE, emaInto, output, resyncInterval, rollingMaxMinInto, sumRange, warmup } from './util.js';

/**
 * Bollinger Bands (Bollinger 2001): middle = SMA_n(close), σ = POPULATION standard deviation
 * of the same n closes (divisor n, as John Bollinger defines the bands),
 * upper/lower = middle ± k·σ, width = (upper − lower)/middle, percentB = (close − lower)/(upper − lower).
 * First values at index n − 1. A window of n identical closes has σ = 0 exactly: width 0 and
 * percentB NaN (0/0: the close is not anywhere in a band of no width).
 *
 * O(len): the mean comes from a rolling sum, the sum of squared
 * deviations M2 from the sliding Welford update M2' = M2 + (x_in − x_out)(x_in − mean' + x_out − mean).
 * M2 is recomputed exactly (two passes over the window, shifted by its first value so a flat
 * window gives exactly 0) every max(256, 4n) steps, and whenever M2 falls below 2^−16 of
 * U, the sum of |updates| since the last recomputation: U bounds the rounding error M2 may have
 * gathered (a few ulps of U), so this keeps that error below ~1e−11 of M2 — and catches the
 * collapse of M2 to (almost) nothing when a window goes flat. The rolling sum behind the mean is
 * Kahan-compensated here: a drift δ of the mean adds ≈ 2δ·(S_now − S_then) to M2, which on a
 * trending series with σ ≪ price reached 3e−10 of σ uncompensated (`middle` may therefore differ
 * from sma() in the last bits). Measured against an exact two-pass σ per window on the recorded
 * series: ≤ 1e−11 relative.
 */
export function bollinger(
  close: Float64Array,
  n = 20,
  k = 2,
): { middle: Float64Array; upper: Float64Array; lower: Float64Array; width: Float64Array; percentB: Float64Array } {
  checkPeriod('bollinger period', n);
  const len = close.length;
  const res = { middle: output(len), upper: output(len), lower: output(len), width: output(len), percentB: output(len) };
  bollingerInto(close, n, k, res.middle, res.upper, res.lower, res.width, res.percentB);
  return res;
}

export function bollingerInto(
  close: Float64Array,
  n: number,
  k: number,
  middle: Float64Array,
  upper: Float64Array,
  lower: Float64Array,
  width: Float64Array,
  percentB: Float64Array,
): void {
  const len = close.length;
  const w = n - 1;
  for (const o of [middle, upper, lower, width, percentB]) warmup(o, w);
  if (w >= len) return;
  const inv = 1 / n;
  const R = Math.max(256, 4 * n); // more often than resyncInterval: M2's rounding grows with p/σ
  let sum = sumRange(close, 0, n);
  let comp = 0; // Kahan compensation of the rolling sum (see below)
  let mean = sum * inv;
  let m2 = sqDev(close, 0, n);
  let u = m2;
  let since = 0;
  for (let i = w; i < len; i++) {
    if (i > w) {
      const xin = close[i] as number;
      const xout = close[i - n] as number;
      if (++since === R) {
        since = 0;
        sum = sumRange(close, i - w, i + 1);
        comp = 0;
        mean = sum * inv;
        m2 = sqDev(close, i - w, i + 1);
        u = m2;
      } else {
        const prevMean = mean;
        const y = xin - xout - comp;
        const t = sum + y;
        comp = t - sum - y;
        sum = t;
        mean = sum * inv;
        const d = (xin - xout) * (xin - mean + xout - prevMean);
        m2 += d;
        u += Math.abs(d);
        if (m2 < u * COLLAPSE) {
          m2 = sqDev(close, i - w, i + 1);
          u = m2;
        }
      }
    }
    const d = k * Math.sqrt(m2 * inv);
    const up = mean + d;
    const lo = mean - d;
    middle[i] = mean;
    upper[i] = up;
    lower[i] = lo;
    width[i] = (up - lo) / mean;
    percentB[i] = ((close[i] as number) - lo) / (up - lo);
  }
}

/** Σ (x − x̄)² over src[from..to), computed on x − src[from] (exact 0 for a flat window). */
export function sqDev(src: Float64Array, from: number, to: number): number {
  const ref = src[from] as number;
  let s = 0;
  for (let j = from; j < to; j++) s += (src[j] as number) - ref;
  const m = s / (to - from);
  let q = 0;
  for (let j = from; j < to; j++) {
    const d = (src[j] as number) - ref - m;
    q += d * d;
  }
  return q;
}

/**
 * Average true range, Wilder (1978):
 *   TR_i = max(h_i − l_i, |h_i − c_{i−1}|, |l_i − c_{i−1}|) for i ≥ 1 (it needs the previous close);
 *   ATR_n = (1/n) Σ_{i=1..n} TR_i;  ATR_i = (ATR_{i−1}·(n−1) + TR_i)/n.   First value at index n.
 */
export function atr(high: Float64Array, low: Float64Array, close: Float64Array, n = 14): Float64Array {
  checkPeriod('atr period', n);
  const out = output(checkSameLength(high, low, close));
  atrInto(high, low, close, n, out);
  return out;
}

function trueRange(high: Float64Array, low: Float64Array, close: Float64Array, i: number): number {
  const h = high[i] as number;
  const l = low[i] as number;
  const pc = close[i - 1] as number;
  const a = h - l;
  const b = Math.abs(h - pc);
  const c = Math.abs(l - pc);
  return a >= b ? (a >= c ? a : c) : b >= c ? b : c;
}

export function atrInto(high: Float64Array, low: Float64Array, close: Float64Array, n: number, out: Float64Array): void {
  const len = high.length;
  warmup(out, n);
  if (n >= len) return;
  let s = 0;
  for (let i = 1; i <= n; i++) s += trueRange(high, low, close, i);
  let a = s / n;
  out[n] = a;
  const wa = (n - 1) / n;
  const wb = 1 / n;
  for (let i = n + 1; i < len; i++) {
    a = a * wa + trueRange(high, low, close, i) * wb;
    out[i] = a;
  }
}

/**
 * Keltner Channels, the modern form (Raschke): middle = EMA_n(close) (SMA-seeded, as ema()),
 * upper/lower = middle ± mult·ATR_atrPeriod (Wilder, as atr()). Chester Keltner's 1960 original
 * used a 10-day SMA of the typical price ± the 10-day average high−low range; the EMA/ATR form is
 * the one charting tools and technicalindicators (useSMA: false) use.
 * First value at index max(n − 1, atrPeriod).
 */
export function keltner(
  high: Float64Array,
  low: Float64Array,
  close: Float64Array,
  n = 20,
  mult = 2,
  atrPeriod = 10,
): { middle: Float64Array; upper: Float64Array; lower: Float64Array } {
  checkPeriod('keltner period', n);
  checkPeriod('keltner atr period', atrPeriod);
  const len = checkSameLength(high, low, close);
  const res = { middle: output(len), upper: output(len), lower: output(len) };
  keltnerInto(high, low, close, n, mult, atrPeriod, res.middle, res.upper, res.lower, output(len));
  return res;
}

/** keltner() into given outputs; `range` is scratch for the ATR. */
export function keltnerInto(
  high: Float64Array,
  low: Float64Array,
  close: Float64Array,
  n: number,
  mult: number,
  atrPeriod: number,
  middle: Float64Array,
  upper: Float64Array,
  lower: Float64Array,
  range: Float64Array,
): void {
  const len = close.length;
  const warm = Math.max(n - 1, atrPeriod);
  // the EMA runs from n − 1 and the ATR from atrPeriod; write both, then blank what precedes `warm`
  emaInto(close, 0, n, middle);
  atrInto(high, low, close, atrPeriod, range);
  warmup(middle, warm);
  warmup(upper, warm);
  warmup(lower, warm);
  for (let i = warm; i < len; i++) {
    const m = middle[i] as number;
    const d = mult * (range[i] as number);
    upper[i] = m + d;
    lower[i] = m - d;
  }
}

/**
 * Donchian Channels: upper = highest high, lower = lowest low of the n candles ending at i
 * (the current one included), middle = (upper + lower)/2. First value at index n − 1.
 * Rolling max/min by rollingMaxMinInto (van Herk / Gil–Werman, branch-free): O(len), not O(len·n).
 */
export function donchian(
  high: Float64Array,
  low: Float64Array,
  n = 20,
): { upper: Float64Array; lower: Float64Array; middle: Float64Array } {
  checkPeriod('donchian period', n);
  const len = checkSameLength(high, low);
  const res = { upper: output(len), lower: output(len), middle: output(len) };
  rollingMaxMinInto(high, low, n, res.upper, res.lower);
  donchianMiddleInto(res.upper, res.lower, n, res.middle);
  return res;
}

export function donchianMiddleInto(upper: Float64Array, lower: Float64Array, n: number, middle: Float64Array): void {
  const len = upper.length;
  warmup(middle, n - 1);
  for (let i = n - 1; i < len; i++) middle[i] = ((upper[i] as number) + (lower[i] as number)) / 2;
}

/**
 * Realised volatility: the SAMPLE standard deviation (divisor n − 1) of the n log returns
 * r_j = ln c_j − ln c_{j−1} ending at i, times √periodsPerYear (1 = per candle, not annualised;
 * e.g. 365·24 for 1h candles). First value at index n (n returns need n + 1 closes).
 */
export function realizedVol(close: Float64Array, n = 30, periodsPerYear = 1): Float64Array {
  checkPeriod('realizedVol period', n, 2);
  if (!(periodsPerYear > 0) || !Number.isFinite(periodsPerYear)) {
    throw new RangeError(`periodsPerYear must be a positive number, got ${periodsPerYear}`);
  }
  const out = output(close.length);
  realizedVolInto(logPrices(close, output(close.length)), n, periodsPerYear, out);
  return out;
}

/** ln of every close into L; returns L. */
export function logPrices(close: Float64Array, L: Float64Array): Float64Array {
  const len = close.length;
  for (let i = 0; i < len; i++) L[i] = Math.log(close[i] as number);
  return L;
}

/**
 * realizedVol on log prices L. The window mean of the returns is exact from two log prices,
 * m = (L_i − L_{i−n})/n; their M2 is updated like bollinger()'s (sliding Welford, exact
 * recomputation every resyncInterval(n) steps and when M2 collapses relative to its updates,
 * so that a window of zero returns gives exactly 0).
 */
export function realizedVolInto(L: Float64Array, n: number, periodsPerYear: number, out: Float64Array): void {
  const len = L.length;
  warmup(out, n);
  if (n >= len) return;
  const R = resyncInterval(n);
  const scale = Math.sqrt(periodsPerYear);
  const invNm1 = 1 / (n - 1);
  let m2 = retSqDev(L, n, n);
  let u = m2;
  const invN = 1 / n;
  let mean = ((L[n] as number) - (L[0] as number)) * invN;
  let since = 0;
  out[n] = Math.sqrt(m2 * invNm1) * scale;
  for (let i = n + 1; i < len; i++) {
    if (++since === R) {
      since = 0;
      m2 = retSqDev(L, i, n);
      u = m2;
      mean = ((L[i] as number) - (L[i - n] as number)) * invN;
    } else {
      const rin = (L[i] as number) - (L[i - 1] as number);
      const rout = (L[i - n] as number) - (L[i - n - 1] as number);
      const prevMean = mean;
      mean = ((L[i] as number) - (L[i - n] as number)) * invN;
      const d = (rin - rout) * (rin - mean + rout - prevMean);
      m2 += d;
      u += Math.abs(d);
      if (m2 < u * COLLAPSE) {
        m2 = retSqDev(L, i, n);
        u = m2;
      }
    }
    out[i] = Math.sqrt(m2 * invNm1) * scale;
  }
}

/** Σ (r − r̄)² over the n returns ending at `end` (two passes; 0 exactly when all returns are 0). */
export function retSqDev(L: Float64Array, end: number, n: number): number {
  let s = 0;
  for (let j = end - n + 1; j <= end; j++) s += (L[j] as number) - (L[j - 1] as number);
  const m = s / n;
  let q = 0;
  for (let j = end - n + 1; j <= end; j++) {
    const d = (L[j] as number) - (L[j - 1] as number) - m;
    q += d * d;
  }
  return q;
}
