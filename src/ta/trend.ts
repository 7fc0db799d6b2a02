/**
 * Trend strength: ADX with +DI / −DI (Wilder 1978, "New Concepts in Technical Trading Systems").
 */
import { checkPeriod, checkSameLength, output, warmup } from './util.js';

/**
 * For i ≥ 1:  up = h_i − h_{i−1}, down = l_{i−1} − l_i,
 *   +DM_i = up if up > down and up > 0, else 0;   −DM_i = down if down > up and down > 0, else 0;
 *   TR_i  = max(h_i − l_i, |h_i − c_{i−1}|, |l_i − c_{i−1}|).
 * Wilder's running sums: S_n = Σ_{i=1..n} x_i, then S_i = S_{i−1} − S_{i−1}/n + x_i (for TR, +DM, −DM).
 * +DI = 100·S(+DM)/S(TR), −DI = 100·S(−DM)/S(TR) from index n;
 * DX = 100·|+DI − −DI|/(+DI + −DI) = 100·|S(+DM) − S(−DM)|/(S(+DM) + S(−DM));
 * ADX_{2n−1} = mean of DX_n..DX_{2n−1}, then ADX_i = (ADX_{i−1}·(n−1) + DX_i)/n — first at index 2n − 1.
 * Degenerate windows: S(TR) = 0 (no range at all for a while) gives +DI = −DI = 0; +DI + −DI = 0
 * (no directional movement) gives DX = 0 — "no trend" — rather than 0/0, which would poison the
 * smoothing for the rest of the series.
 */
export function adx(
  high: Float64Array,
  low: Float64Array,
  close: Float64Array,
  n = 14,
): { adx: Float64Array; plusDI: Float64Array; minusDI: Float64Array } {
  checkPeriod('adx period', n);
  const len = checkSameLength(high, low, close);
  const res = { adx: output(len), plusDI: output(len), minusDI: output(len) };
  adxInto(high, low, close, n, res.adx, res.plusDI, res.minusDI);
  return res;
}

export function adxInto(
  high: Float64Array,
  low: Float64Array,
  close: Float64Array,
  n: number,
  adxOut: Float64Array,
  plusDI: Float64Array,
  minusDI: Float64Array,
): void {
  const len = high.length;
  warmup(plusDI, n);
  warmup(minusDI, n);
  warmup(adxOut, 2 * n - 1);
  if (n >= len) return;
  let str = 0;
  let spdm = 0;
  let smdm = 0;
  let dxSum = 0;
  let a = 0;
  const keep = 1 - 1 / n; // S − S/n + x = S·(1 − 1/n) + x
  const wa = (n - 1) / n;
  const wb = 1 / n;
  const adxStart = 2 * n - 1;
  for (let i = 1; i < len; i++) {
    const h = high[i] as number;
    const l = low[i] as number;
    const ph = high[i - 1] as number;
    const pl = low[i - 1] as number;
    const pc = close[i - 1] as number;
    const up = h - ph;
    const down = pl - l;
    // up·1 or up·0 (exact) instead of a branch on the data
    const pdm = up * (((up > down) as unknown as number) & ((up > 0) as unknown as number));
    const mdm = down * (((down > up) as unknown as number) & ((down > 0) as unknown as number));
    const r1 = h - l;
    const r2 = Math.abs(h - pc);
    const r3 = Math.abs(l - pc);
    const tr = r1 >= r2 ? (r1 >= r3 ? r1 : r3) : r2 >= r3 ? r2 : r3;
    if (i <= n) {
      str += tr;
      spdm += pdm;
      smdm += mdm;
      if (i < n) continue;
    } else {
      str = str * keep + tr;
      spdm = spdm * keep + pdm;
      smdm = smdm * keep + mdm;
    }
    const scale = str === 0 ? 0 : 100 / str;
    plusDI[i] = spdm * scale;
    minusDI[i] = smdm * scale;
    // DX from the sums directly (S(TR) cancels): 100·|S+ − S−|/(S+ + S−)
    const dmSum = spdm + smdm;
    const dx = dmSum === 0 ? 0 : (Math.abs(spdm - smdm) / dmSum) * 100;
    if (i < adxStart) {
      dxSum += dx;
    } else if (i === adxStart) {
      a = (dxSum + dx) / n;
      adxOut[i] = a;
    } else {
      a = a * wa + dx * wb;
      adxOut[i] = a;
    }
  }
}
