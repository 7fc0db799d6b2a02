/**
 * Momentum: RSI, MACD, rate of change, stochastic oscillator.
 */
import { checkPeriod, checkSameLength, emaInto, output, rollingMaxMinInto, smaInto, warmup } from './util.js';

/**
 * Relative strength index with Wilder's smoothing (Wilder 1978):
 *   gain_i = max(c_i − c_{i−1}, 0), loss_i = max(c_{i−1} − c_i, 0)  for i ≥ 1
 *   avgGain_n = (1/n) Σ_{i=1..n} gain_i;  avgGain_i = (avgGain_{i−1}·(n−1) + gain_i)/n  (same for loss)
 *   RSI_i = 100 − 100/(1 + avgGain_i/avgLoss_i) = 100·avgGain_i/(avgGain_i + avgLoss_i), first at index n.
 * avgLoss = 0 gives 100 (only gains); avgGain = avgLoss = 0 (no price change at all since the
 * start of the smoothing) gives 50, the neutral value — RS is 0/0 there, and 100 would read as
 * "overbought" in a market that has not moved.
 */
export function rsi(close: Float64Array, n = 14): Float64Array {
  checkPeriod('rsi period', n);
  const out = output(close.length);
  rsiInto(close, n, out);
  return out;
}

export function rsiInto(close: Float64Array, n: number, out: Float64Array): void {
  const len = close.length;
  warmup(out, n);
  if (n >= len) return;
  let g = 0;
  let l = 0;
  for (let i = 1; i <= n; i++) {
    const d = (close[i] as number) - (close[i - 1] as number);
    if (d > 0) g += d;
    else if (d < 0) l -= d;
  }
  g /= n;
  l /= n;
  out[n] = g + l === 0 ? 50 : (100 * g) / (g + l);
  const a = (n - 1) / n;
  const b = 1 / n;
  // gain = max(d, 0) = (d + |d|)/2 and loss = (|d| − d)/2, both exact and without a branch
  const hb = b / 2;
  for (let i = n + 1; i < len; i++) {
    const d = (close[i] as number) - (close[i - 1] as number);
    const ad = Math.abs(d);
    g = g * a + (d + ad) * hb;
    l = l * a + (ad - d) * hb;
    const s = g + l;
    out[i] = s === 0 ? 50 : (100 * g) / s;
  }
}

/**
 * MACD (Appel): macd = EMA_fast(close) − EMA_slow(close), from index max(fast, slow) − 1;
 * signal = EMA_signal(macd) seeded with the SMA of the first `signal` macd values;
 * histogram = macd − signal. EMAs as in ema() (SMA-seeded). Signal and histogram start at
 * max(fast, slow) + signal − 2.
 */
export function macd(
  close: Float64Array,
  fast = 12,
  slow = 26,
  signal = 9,
): { macd: Float64Array; signal: Float64Array; histogram: Float64Array } {
  checkPeriod('macd fast period', fast);
  checkPeriod('macd slow period', slow);
  checkPeriod('macd signal period', signal);
  const len = close.length;
  const fastEma = output(len);
  const slowEma = output(len);
  emaInto(close, 0, fast, fastEma);
  emaInto(close, 0, slow, slowEma);
  const res = { macd: output(len), signal: output(len), histogram: output(len) };
  macdInto(fastEma, slowEma, Math.max(fast, slow) - 1, signal, res.macd, res.signal, res.histogram);
  return res;
}

/** MACD from the two EMA series, defined from index `first`. */
export function macdInto(
  fastEma: Float64Array,
  slowEma: Float64Array,
  first: number,
  signal: number,
  line: Float64Array,
  sig: Float64Array,
  hist: Float64Array,
): void {
  const len = fastEma.length;
  warmup(line, first);
  for (let i = first; i < len; i++) line[i] = (fastEma[i] as number) - (slowEma[i] as number);
  emaInto(line, first, signal, sig);
  const start = first + signal - 1;
  warmup(hist, start);
  for (let i = start; i < len; i++) hist[i] = (line[i] as number) - (sig[i] as number);
}

/** Rate of change in percent: 100·(c_i − c_{i−n})/c_{i−n}, from index n. */
export function roc(close: Float64Array, n = 12): Float64Array {
  checkPeriod('roc period', n);
  const out = output(close.length);
  rocInto(close, n, out);
  return out;
}

export function rocInto(close: Float64Array, n: number, out: Float64Array): void {
  const len = close.length;
  warmup(out, n);
  for (let i = n; i < len; i++) {
    const past = close[i - n] as number;
    out[i] = (((close[i] as number) - past) / past) * 100;
  }
}

/**
 * Stochastic oscillator (Lane), the "fast" form:
 *   %K_i = 100·(c_i − LL)/(HH − LL), HH/LL the highest high / lowest low of the kPeriod
 *   candles ending at i (from index kPeriod − 1); %D = SMA_dPeriod(%K).
 * HH = LL (no range at all in the window) puts the close at every point of the range: %K is
 * then 50, the midpoint. HH/LL come from rollingMaxMinInto: O(len), not O(len·kPeriod).
 */
export function stochastic(
  high: Float64Array,
  low: Float64Array,
  close: Float64Array,
  kPeriod = 14,
  dPeriod = 3,
): { k: Float64Array; d: Float64Array } {
  checkPeriod('stochastic %K period', kPeriod);
  checkPeriod('stochastic %D period', dPeriod);
  const len = checkSameLength(high, low, close);
  const hh = output(len);
  const ll = output(len);
  rollingMaxMinInto(high, low, kPeriod, hh, ll);
  const res = { k: output(len), d: output(len) };
  stochasticInto(close, hh, ll, kPeriod, dPeriod, res.k, res.d);
  return res;
}

/** %K and %D from the rolling highest high / lowest low over kPeriod (see rollingMaxMinInto). */
export function stochasticInto(
  close: Float64Array,
  hh: Float64Array,
  ll: Float64Array,
  kPeriod: number,
  dPeriod: number,
  k: Float64Array,
  d: Float64Array,
): void {
  const len = close.length;
  warmup(k, kPeriod - 1);
  for (let i = kPeriod - 1; i < len; i++) {
    const bottom = ll[i] as number;
    const range = (hh[i] as number) - bottom;
    k[i] = range === 0 ? 50 : (((close[i] as number) - bottom) / range) * 100;
  }
  smaInto(k, kPeriod - 1, dPeriod, d);
}
