/**
 * Rolling Hurst exponent by rescaled-range (R/S) analysis on log returns.
 *
 * The method, at index i ≥ n, over the n log returns r_j = ln c_j − ln c_{j−1}, j = i−n+1..i:
 *   m   = mean of the r_j = (ln c_i − ln c_{i−n})/n
 *   Y_k = Σ_{j=i−n+1..k} (r_j − m)                  cumulative deviations, k = i−n..i (Y_{i−n} = Y_i = 0)
 *   R   = max_k Y_k − min_k Y_k                      the range
 *   S   = √((1/n) Σ (r_j − m)²)                      population standard deviation
 *   H   = 0.5 + ln((R/S) / E[R/S]_n) / ln n
 * where E[R/S]_n is the expected rescaled range of n independent normal returns — the
 * Anis–Lloyd (1976) formula with Peters' (1994) small-sample factor:
 *   E[R/S]_n = ((n − ½)/n) · Γ((n−1)/2) / (√π Γ(n/2)) · Σ_{i=1..n−1} √((n−i)/i).
 * So H = 0.5 exactly when the window's R/S is what a random walk gives on average; R/S growing
 * like n^H makes H above 0.5 persistent ("trending": moves tend to continue) and below 0.5
 * anti-persistent (mean-reverting). This is a single-scale estimate: a classic R/S analysis would
 * regress ln(R/S) on ln of several window sizes; with one window per candle the scale is fixed at
 * n and the Anis–Lloyd–Peters expectation supplies the random-walk anchor, which removes the
 * well-known upward bias of the uncorrected R/S on short windows (Hurst's own ln(R/S)/ln(n/2)
 * gives ≈ 0.62 for a random walk at n = 100). A single window's estimate is noisy (its
 * standard error is about 0.05 at n = 100 on a random walk) and is not clipped to [0, 1]. A
 * window whose returns are all zero (the price did not move) has R = S = 0: NaN.
 *
 * Cost. S comes from a sliding update of the returns' squared deviations (as in realizedVol).
 * Since Y_k = (ln c_k − (k − s)·m) − ln c_s with s = i − n, R is the spread of
 * f(k) = ln c_k − (k − s)·m over k ∈ [s, i]: a max/min of a linear functional over the points
 * (k, ln c_k), attained at a vertex of their upper/lower convex hull. The series is cut into
 * blocks of n + 1 indices, so a window covers a prefix of the current block and a suffix of the
 * previous one. The prefix hulls grow by Andrew's monotone chain (amortised O(1) per point);
 * the suffix hulls are built once per block right to left with an undo log (each push
 * overwrites one slot) and shrink by undoing one push per step. A query walks from the previous
 * query's vertex (usually 0–1 steps) and falls back to a binary search over the hull's vertices
 * (a random walk's hull has O(log n) of them). Total O(len·log n) in the worst case, a few hull
 * steps per candle in practice, against O(len·n) for the direct scan. Still the costliest series
 * of computeAll: ≈ 130–160 ns per candle on the recorded 1h universe, about half of a scan, the
 * hull updates' data-dependent branches being what it pays for.
 */
import { checkPeriod, COLLAPSE, output, resyncInterval, warmup } from './util.js';
import { logPrices, retSqDev } from './volatility.js';

export function hurst(close: Float64Array, n = 100): Float64Array {
  checkPeriod('hurst period', n, 8);
  const len = close.length;
  const out = output(len);
  hurstInto(logPrices(close, output(len)), n, out);
  return out;
}

/** E[R/S]_n of n iid normal returns, Anis–Lloyd with Peters' (n − ½)/n factor. */
export function expectedRescaledRange(n: number): number {
  // g(k) = Γ((k−1)/2)/Γ(k/2): g(2) = √π, g(3) = 2/√π, g(k+2) = g(k)·(k−1)/k
  const sqrtPi = Math.sqrt(Math.PI);
  let k = n % 2 === 0 ? 2 : 3;
  let g = n % 2 === 0 ? sqrtPi : 2 / sqrtPi;
  for (; k < n; k += 2) g *= (k - 1) / k;
  let sum = 0;
  for (let i = 1; i < n; i++) sum += Math.sqrt((n - i) / i);
  return (((n - 0.5) / n) * g * sum) / sqrtPi;
}

/** hurst() on log prices L into out (computeAll shares L with realizedVol). */
export function hurstInto(L: Float64Array, n: number, out: Float64Array): void {
  const len = L.length;
  warmup(out, n);
  if (n >= len) return;
  const B = n + 1;
  const logE = Math.log(expectedRescaledRange(n));
  const invLnN = 1 / Math.log(n);
  const R = resyncInterval(n);

  const scratch = new Int32Array(8 * B);
  // prefix hulls of the current block, ascending index
  const ru = scratch.subarray(0, B);
  const rl = scratch.subarray(B, 2 * B);
  let rut = 0;
  let rlt = 0;
  // suffix hulls of the previous block: the top of each stack is its leftmost point
  const lu = scratch.subarray(2 * B, 3 * B);
  const ll = scratch.subarray(3 * B, 4 * B);
  let lut = 0;
  let llt = 0;
  // undo log per point (indexed by point − leftBase): stack height before the push, slot overwritten
  const luTop = scratch.subarray(4 * B, 5 * B);
  const luOld = scratch.subarray(5 * B, 6 * B);
  const llTop = scratch.subarray(6 * B, 7 * B);
  const llOld = scratch.subarray(7 * B, 8 * B);
  let leftBase = 0;
  let leftLo = 0; // leftmost point in the suffix hulls
  let leftEnd = -1; // last point of the previous block; the suffix is empty when leftLo > leftEnd
  // where the last query found its extreme on each hull (queries start their search there)
  let pru = 0;
  let prl = 0;
  let plu = 0;
  let pll = 0;

  const invN = 1 / n;
  let m2 = 0;
  let u = 0;
  let mean = 0;
  let since = 0;
  let inBlock = 0; // i mod B

  for (let i = 0; i < len; i++, inBlock++) {
    const Li = L[i] as number;
    if (inBlock === B) inBlock = 0;
    if (inBlock === 0) {
      rut = 0;
      rlt = 0;
      if (i >= B) {
        // suffix hulls of the previous block [i−B, i−1], from its end down to s = i − n
        leftBase = i - B;
        leftEnd = i - 1;
        leftLo = i - n;
        lut = 0;
        llt = 0;
        for (let p = leftEnd; p >= leftLo; p--) {
          const Lp = L[p] as number;
          const slot = p - leftBase;
          // upper: drop a = top while it is not above the segment p–b
          let t = lut;
          while (t >= 2) {
            const a = lu[t - 1] as number;
            const b = lu[t - 2] as number;
            const La = L[a] as number;
            if ((La - Lp) * (b - a) <= ((L[b] as number) - La) * (a - p)) t--;
            else break;
          }
          luTop[slot] = lut;
          luOld[slot] = lu[t] as number;
          lu[t] = p;
          lut = t + 1;
          // lower: drop a while it is not below the segment p–b
          t = llt;
          while (t >= 2) {
            const a = ll[t - 1] as number;
            const b = ll[t - 2] as number;
            const La = L[a] as number;
            if ((La - Lp) * (b - a) >= ((L[b] as number) - La) * (a - p)) t--;
            else break;
          }
          llTop[slot] = llt;
          llOld[slot] = ll[t] as number;
          ll[t] = p;
          llt = t + 1;
        }
      }
    } else if (leftLo <= leftEnd && i > n) {
      // the window moved one step: drop its old leftmost point (the last push) from the suffix hulls
      const slot = leftLo - leftBase;
      lu[lut - 1] = luOld[slot] as number;
      lut = luTop[slot] as number;
      ll[llt - 1] = llOld[slot] as number;
      llt = llTop[slot] as number;
      leftLo++;
    }
    // push i on the prefix hulls
    while (rut >= 2) {
      const a = ru[rut - 1] as number;
      const b = ru[rut - 2] as number;
      const La = L[a] as number;
      if ((La - (L[b] as number)) * (i - a) <= (Li - La) * (a - b)) rut--;
      else break;
    }
    ru[rut++] = i;
    while (rlt >= 2) {
      const a = rl[rlt - 1] as number;
      const b = rl[rlt - 2] as number;
      const La = L[a] as number;
      if ((La - (L[b] as number)) * (i - a) >= (Li - La) * (a - b)) rlt--;
      else break;
    }
    rl[rlt++] = i;

    if (i < n) continue;
    const s = i - n;
    // S: sliding squared deviations of the returns (as in realizedVolInto)
    const Ls = L[s] as number;
    if (i === n || ++since === R) {
      since = 0;
      m2 = retSqDev(L, i, n);
      u = m2;
      mean = (Li - Ls) * invN;
    } else {
      const rin = Li - (L[i - 1] as number);
      const rout = Ls - (L[s - 1] as number);
      const prevMean = mean;
      mean = (Li - Ls) * invN;
      const d = (rin - rout) * (rin - mean + rout - prevMean);
      m2 += d;
      u += Math.abs(d);
      if (m2 < u * COLLAPSE) {
        m2 = retSqDev(L, i, n);
        u = m2;
      }
    }
    if (!(m2 > 0)) {
      out[i] = Number.NaN;
      continue;
    }
    // f(k) = L_k − (k − s)·m; the points where it is largest / smallest, from the four hulls
    pru = argMax(ru, rut, L, s, mean, pru);
    prl = argMin(rl, rlt, L, s, mean, prl);
    let kh = ru[pru] as number;
    let kl = rl[prl] as number;
    if (leftLo <= leftEnd && i >= B) {
      plu = argMax(lu, lut, L, s, mean, plu);
      pll = argMin(ll, llt, L, s, mean, pll);
      const kh2 = lu[plu] as number;
      const kl2 = ll[pll] as number;
      // the better of the two, selected without a branch (an unpredictable one on real data)
      kh ^= (kh ^ kh2) & -((L[kh2] as number) - (kh2 - s) * mean > (L[kh] as number) - (kh - s) * mean);
      kl ^= (kl ^ kl2) & -((L[kl2] as number) - (kl2 - s) * mean < (L[kl] as number) - (kl - s) * mean);
    }
    // H = 0.5 + (ln(R/S) − ln E[R/S]_n)/ln n, with R/S = √(R²·n/M2)
    const r = (L[kh] as number) - (kh - s) * mean - ((L[kl] as number) - (kl - s) * mean);
    out[i] = 0.5 + (0.5 * Math.log((r * r * n) / m2) - logE) * invLnN;
  }
}

/**
 * Position on the upper hull h[0..t) of the largest f(k) = L_k − (k − s)·m (argMin: on a lower
 * hull, the smallest). f is unimodal along a hull, so a local extreme is the extreme. The search
 * starts where the previous query ended (the window and m move little from one candle to the
 * next: on real data it stays put ~90% of the time) and falls back to a binary search after
 * three steps: O(log t) at worst.
 */
function argMax(h: Int32Array, t: number, L: Float64Array, s: number, m: number, from: number): number {
  let p = from < t ? from : t - 1;
  let k = h[p] as number;
  let fp = (L[k] as number) - (k - s) * m;
  let steps = 0;
  while (p + 1 < t) {
    k = h[p + 1] as number;
    const f = (L[k] as number) - (k - s) * m;
    if (f <= fp) break;
    p++;
    fp = f;
    if (++steps === 3) return bisect(h, t, L, s, m, 1);
  }
  if (steps === 0) {
    while (p > 0) {
      k = h[p - 1] as number;
      const f = (L[k] as number) - (k - s) * m;
      if (f <= fp) break;
      p--;
      fp = f;
      if (++steps === 3) return bisect(h, t, L, s, m, 1);
    }
  }
  return p;
}

function argMin(h: Int32Array, t: number, L: Float64Array, s: number, m: number, from: number): number {
  let p = from < t ? from : t - 1;
  let k = h[p] as number;
  let fp = (L[k] as number) - (k - s) * m;
  let steps = 0;
  while (p + 1 < t) {
    k = h[p + 1] as number;
    const f = (L[k] as number) - (k - s) * m;
    if (f >= fp) break;
    p++;
    fp = f;
    if (++steps === 3) return bisect(h, t, L, s, m, -1);
  }
  if (steps === 0) {
    while (p > 0) {
      k = h[p - 1] as number;
      const f = (L[k] as number) - (k - s) * m;
      if (f >= fp) break;
      p--;
      fp = f;
      if (++steps === 3) return bisect(h, t, L, s, m, -1);
    }
  }
  return p;
}

/** binary search for the extreme of sign·f along a hull (sign 1: max, −1: min) */
function bisect(h: Int32Array, t: number, L: Float64Array, s: number, m: number, sign: number): number {
  let lo = 0;
  let hi = t - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const a = h[mid] as number;
    const b = h[mid + 1] as number;
    if (sign * ((L[b] as number) - (b - s) * m) > sign * ((L[a] as number) - (a - s) * m)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
