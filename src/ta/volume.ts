/**
 * Volume: on-balance volume and VWAP.
 */
import { checkPeriod, checkSameLength, output, resyncInterval, warmup } from './util.js';

/**
 * On-balance volume (Granville): OBV_i = OBV_{i−1} + v_i if c_i > c_{i−1}, − v_i if c_i < c_{i−1},
 * unchanged otherwise, the running total starting at 0 before candle 1. Candle 0 has no previous
 * close, hence no direction: NaN. OBV's level is relative to the first candle of the series; its
 * changes are what carries information.
 */
export function obv(close: Float64Array, volume: Float64Array): Float64Array {
  const out = output(checkSameLength(close, volume));
  obvInto(close, volume, out);
  return out;
}

export function obvInto(close: Float64Array, volume: Float64Array, out: Float64Array): void {
  const len = close.length;
  warmup(out, 1);
  let total = 0;
  for (let i = 1; i < len; i++) {
    const c = close[i] as number;
    const p = close[i - 1] as number;
    // sign(c − p)·v without a branch (±v and 0 are exact)
    total += (volume[i] as number) * (((c > p) as unknown as number) - ((c < p) as unknown as number));
    out[i] = total;
  }
}

/**
 * Volume-weighted average price of the typical price tp = (h + l + c)/3:
 *   VWAP_i = Σ v_j·tp_j / Σ v_j over j ≤ i (n undefined: cumulative from the first candle) or over
 *   the n candles ending at i (n given; first value at index n − 1).
 * No volume at all in the span makes the ratio 0/0: NaN (there was no trade to average).
 */
export function vwap(
  high: Float64Array,
  low: Float64Array,
  close: Float64Array,
  volume: Float64Array,
  n?: number,
): Float64Array {
  const len = checkSameLength(high, low, close, volume);
  const out = output(len);
  if (n === undefined) {
    vwapCumulativeInto(high, low, close, volume, out);
    return out;
  }
  checkPeriod('vwap period', n);
  warmup(out, n - 1);
  if (n - 1 >= len) return out;
  // rolling sums (re-summed every resyncInterval(n)); `traded` counts candles with volume in the
  // window, exactly, so an all-zero window is NaN even if the float sums kept a rounding residue
  const R = resyncInterval(n);
  let pv = 0;
  let vs = 0;
  let traded = 0;
  for (let i = 0; i < n - 1; i++) {
    const v = volume[i] as number;
    pv += v * tp(high, low, close, i);
    vs += v;
    if (v !== 0) traded++;
  }
  let since = -1;
  for (let i = n - 1; i < len; i++) {
    const v = volume[i] as number;
    if (v !== 0) traded++;
    if (i >= n) {
      const vo = volume[i - n] as number;
      if (vo !== 0) traded--;
      if (++since === R) {
        since = 0;
        pv = 0;
        vs = 0;
        for (let j = i - n + 1; j <= i; j++) {
          const vj = volume[j] as number;
          pv += vj * tp(high, low, close, j);
          vs += vj;
        }
      } else {
        pv += v * tp(high, low, close, i) - vo * tp(high, low, close, i - n);
        vs += v - vo;
      }
    } else {
      pv += v * tp(high, low, close, i);
      vs += v;
      since = 0;
    }
    out[i] = traded === 0 ? Number.NaN : pv / vs;
  }
  return out;
}

export function vwapCumulativeInto(high: Float64Array, low: Float64Array, close: Float64Array, volume: Float64Array, out: Float64Array): void {
  const len = high.length;
  let pv = 0;
  let vs = 0;
  for (let i = 0; i < len; i++) {
    const v = volume[i] as number;
    pv += v * (((high[i] as number) + (low[i] as number) + (close[i] as number)) / 3);
    vs += v;
    out[i] = vs === 0 ? Number.NaN : pv / vs;
  }
}

function tp(high: Float64Array, low: Float64Array, close: Float64Array, i: number): number {
  return ((high[i] as number) + (low[i] as number) + (close[i] as number)) / 3;
}
