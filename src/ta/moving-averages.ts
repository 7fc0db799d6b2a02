/**
 * Moving averages. Each returns a series of the input's length, NaN for the first n − 1.
 *
 *   SMA_i = (1/n) Σ_{j=i−n+1..i} x_j
 *   EMA_{n−1} = SMA_{n−1};  EMA_i = (x_i − EMA_{i−1})·α + EMA_{i−1},  α = 2/(n+1)
 *   WMA_i = Σ_{j=1..n} j·x_{i−n+j} / (n(n+1)/2)        (the newest value weighs n)
 */
import { checkPeriod, emaInto, output, resyncInterval, smaInto, sumRange, warmup } from './util.js';

export function sma(src: Float64Array, n: number): Float64Array {
  checkPeriod('sma period', n);
  const out = output(src.length);
  smaInto(src, 0, n, out);
  return out;
}

export function ema(src: Float64Array, n: number): Float64Array {
  checkPeriod('ema period', n);
  const out = output(src.length);
  emaInto(src, 0, n, out);
  return out;
}

/**
 * O(len): with S the plain sum and N the weighted sum of the window, sliding by one is
 * N' = N + n·x_new − S, then S' = S + x_new − x_old (both re-summed every resyncInterval).
 */
export function wma(src: Float64Array, n: number): Float64Array {
  checkPeriod('wma period', n);
  const out = output(src.length);
  wmaInto(src, n, out);
  return out;
}

export function wmaInto(src: Float64Array, n: number, out: Float64Array): void {
  const len = src.length;
  const start = n - 1;
  warmup(out, start);
  if (start >= len) return;
  const denom = (n * (n + 1)) / 2;
  const R = resyncInterval(n);
  let num = weighted(src, start, n);
  let sum = sumRange(src, 0, n);
  const inv = 1 / denom;
  out[start] = num * inv;
  let since = 0;
  for (let i = start + 1; i < len; i++) {
    const x = src[i] as number;
    if (++since === R) {
      since = 0;
      num = weighted(src, i, n);
      sum = sumRange(src, i - n + 1, i + 1);
    } else {
      num += n * x - sum;
      sum += x - (src[i - n] as number);
    }
    out[i] = num * inv;
  }
}

/** Σ_{j=1..n} j·src[end−n+j] */
export function weighted(src: Float64Array, end: number, n: number): number {
  let s = 0;
  const base = end - n;
  for (let j = 1; j <= n; j++) s += j * (src[base + j] as number);
  return s;
}
