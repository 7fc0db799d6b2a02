/**
 * Rolling Hurst exponent by the variance-time (aggregated-variance) method on log returns.
 *
 * The method, at index i ≥ n, over the n log returns r_j = ln c_j − ln c_{j−1}, j = i−n+1..i
 * (the closes s = i − n .. i):
 *   μ    = mean of the r_j = (ln c_i − ln c_s)/n
 *   d_t  = ln c_t − ln c_{t−q}, the K_q = n − q + 1 overlapping q-candle returns (t = s+q..i)
 *   V_q  = Σ_t (d_t − q·μ)² / (K_q·q·(1 − q/n))            aggregation levels q = 1, 2, 4, 8
 *   b    = least-squares slope of ln V_q on ln q = ln(V_4·V_8³ / (V_1³·V_2)) / (10 ln 2)
 *   H    = 0.5 + (b − β_n)/2
 * V_q is the variance per candle of q-candle returns: Lo & MacKinlay's overlapping estimator
 * σ²_c(q) (1988, "Stock market prices do not follow random walks", Rev. Financ. Stud. 1(1),
 * eq. 12), centred on q times the window's mean return and divided by their
 * m = q(nq − q + 1)(1 − q/nq), which makes it unbiased for σ² when the returns are uncorrelated,
 * whatever their mean. For fractional Gaussian noise, Var(sum of q returns) = q^{2H}·σ², so
 * V_q ∝ q^{2H−1}: the slope of the variance-time plot (ln V_q against ln q) is 2H − 1. That is
 * the aggregated-variance estimator of Beran (1994, "Statistics for Long-Memory Processes",
 * §4.4) and Taqqu, Teverovsky & Willinger (1995, "Estimators for long-range dependence: an
 * empirical study", Fractals 3(4)), with all overlapping blocks instead of disjoint ones
 * (Lo–MacKinlay's more efficient form). With dyadic levels, x = ln q = (0, 1, 2, 3)·ln 2 and the
 * least-squares slope is the single logarithm above. The period is at least 32 so that the
 * largest level fits 4 disjoint times in the window and β_n is accurate.
 *
 * β_n anchors a Gaussian random walk at 0.5 on average: ln V_q is low by about half the relative
 * variance of V_q (Jensen's inequality, to second order), and for overlapping q-sums of iid
 * returns that variance is 2(2q² + 1)/(3q·K_q) (Var Σ_t d_t² = 2σ⁴ Σ_{t,t′} (q − |t − t′|)₊²);
 * β_n = Σ_q w_q·(−v_q/2) with w_q the slope's weights. Without it H would be 0.011 low at
 * n = 100. Measured on 1.6·10⁷ seeded Gaussian returns per n, what remains is +0.0005 at n = 100,
 * +0.0015 at n = 50 and +0.006 at n = 32 (at n = 16 it would be +0.06: hence the minimum).
 *
 * Above 0.5 the returns are persistent ("trending": q-candle moves are larger than √q
 * one-candle moves), below anti-persistent (mean-reverting). One window's estimate is noisy —
 * standard error ≈ 0.075 at n = 100 on a random walk, 0.14 at n = 32 — and is not clipped to
 * [0, 1]. A window in which some V_q is 0 (the price did not move, or repeated an exact
 * pattern) has no finite logarithm: NaN.
 *
 * Why not rescaled range (R/S), which this replaced: R, the range of the cumulative deviations
 * from the window's mean, moves with that mean, so a rolling R/S needs convex-hull queries every
 * candle (≈ 150 ns, half of the 1,500-symbol scan); every V_q here is a sliding sum, O(1). It is
 * also the more sensitive of the two to the short-range persistence a trading window shows: on
 * seeded AR(1) returns with φ = ±0.1 a single R/S(100) window moved by 0.36 of its standard
 * error, this estimator by 0.55.
 *
 * Cost: one Math.log and a sliding update per level per candle. Each level's Σ(d − d̄)² slides
 * like realizedVol's (Welford update; d̄ from a rolling sum; exact recomputation every
 * resyncInterval(n) steps and when it collapses relative to its updates, so a window that goes
 * flat gives exactly 0), and Σ(d − qμ)² = Σ(d − d̄)² + K_q(d̄ − qμ)² (for q = 1, d̄ = μ exactly,
 * from two log prices).
 */
import { checkPeriod, COLLAPSE, output, resyncInterval, warmup } from './util.js';
import { logPrices, retSqDev } from './volatility.js';

/** The smallest period: 4 disjoint blocks of the largest aggregation level (8); see above. */
export const HURST_MIN_PERIOD = 32;

export function hurst(close: Float64Array, n = 100): Float64Array {
  checkPeriod('hurst period', n, HURST_MIN_PERIOD);
  const len = close.length;
  const out = output(len);
  hurstInto(logPrices(close, output(len)), n, out);
  return out;
}

/**
 * β_n: the average least-squares slope of ln V_q on ln q (q = 1, 2, 4, 8) over windows of n iid
 * Gaussian returns, to second order: Σ_q w_q·E[ln V_q] with E[ln V_q] ≈ −v_q/2, v_q the relative
 * variance of V_q, 2(2q² + 1)/(3q·(n − q + 1)); w_q = (−3, −1, 1, 3)/(10 ln 2), the slope's weights.
 */
function hurstRandomWalkSlope(n: number): number {
  const w = [-3, -1, 1, 3];
  let b = 0;
  for (let j = 0; j < 4; j++) {
    const q = 2 ** j;
    b += (w[j] as number) * (-(2 * (2 * q * q + 1)) / (3 * q * (n - q + 1)) / 2);
  }
  return b / (10 * Math.LN2);
}

/** Σ (d − d̄)² and Σ d of the n − q + 1 q-candle returns d_t = L_t − L_{t−q}, t = end−n+q..end (two passes). */
function aggSqDev(L: Float64Array, end: number, n: number, q: number, res: Float64Array): void {
  const from = end - n + q;
  let s = 0;
  for (let t = from; t <= end; t++) s += (L[t] as number) - (L[t - q] as number);
  const m = s / (n - q + 1);
  let m2 = 0;
  for (let t = from; t <= end; t++) {
    const d = (L[t] as number) - (L[t - q] as number) - m;
    m2 += d * d;
  }
  res[0] = m2;
  res[1] = s;
}

/** Lo–MacKinlay's M for level q: K_q·q·(1 − q/n), so that V_q = Σ(d − qμ)²/M is unbiased for σ² under a random walk. */
function levelDivisor(n: number, q: number): number {
  return (n - q + 1) * q * (1 - q / n);
}

/** hurst() on log prices L into out (computeAll passes the log prices its range pass computed). */
export function hurstInto(L: Float64Array, n: number, out: Float64Array): void {
  const len = L.length;
  warmup(out, n);
  if (n >= len) return;
  const R = resyncInterval(n);
  const invN = 1 / n;
  const K2 = n - 1;
  const K4 = n - 3;
  const K8 = n - 7;
  const iK2 = 1 / K2;
  const iK4 = 1 / K4;
  const iK8 = 1 / K8;
  // V_q = S_q / c_q, c_q = K_q·q·(1 − q/n): ratio = (S_4/S_2)·(S_8/S_1)³ · c_2·c_1³/(c_4·c_8³)
  const scale = (levelDivisor(n, 2) * levelDivisor(n, 1) ** 3) / (levelDivisor(n, 4) * levelDivisor(n, 8) ** 3);
  const slopeUnit = 1 / (20 * Math.LN2); // (ln ratio / (10 ln 2)) / 2
  const base = 0.5 - hurstRandomWalkSlope(n) / 2;
  const tmp = new Float64Array(2);

  // per level: M2 about its own mean, the rolling sum behind that mean, and U (Σ |updates|)
  let m1 = 0;
  let u1 = 0;
  let m2 = 0;
  let s2 = 0;
  let u2 = 0;
  let m4 = 0;
  let s4 = 0;
  let u4 = 0;
  let m8 = 0;
  let s8 = 0;
  let u8 = 0;
  let mu = 0;
  let since = 0;

  for (let i = n; i < len; i++) {
    const s = i - n;
    const Li = L[i] as number;
    const Ls = L[s] as number;
    if (i === n || ++since === R) {
      since = 0;
      m1 = retSqDev(L, i, n);
      u1 = m1;
      mu = (Li - Ls) * invN;
      aggSqDev(L, i, n, 2, tmp);
      m2 = u2 = tmp[0] as number;
      s2 = tmp[1] as number;
      aggSqDev(L, i, n, 4, tmp);
      m4 = u4 = tmp[0] as number;
      s4 = tmp[1] as number;
      aggSqDev(L, i, n, 8, tmp);
      m8 = u8 = tmp[0] as number;
      s8 = tmp[1] as number;
    } else {
      // slide every level by one: d_in ends at i, d_out is the window's old first q-return
      const Li1 = L[i - 1] as number;
      const Ls1 = L[s - 1] as number;
      {
        const din = Li - Li1;
        const dout = Ls - Ls1;
        const prev = mu;
        mu = (Li - Ls) * invN;
        const d = (din - dout) * (din - mu + dout - prev);
        m1 += d;
        u1 += Math.abs(d);
        if (m1 < u1 * COLLAPSE) {
          m1 = retSqDev(L, i, n);
          u1 = m1;
        }
      }
      {
        const din = Li - (L[i - 2] as number);
        const dout = (L[s + 1] as number) - Ls1;
        const prev = s2 * iK2;
        s2 += din - dout;
        const d = (din - dout) * (din - s2 * iK2 + dout - prev);
        m2 += d;
        u2 += Math.abs(d);
        if (m2 < u2 * COLLAPSE) {
          aggSqDev(L, i, n, 2, tmp);
          m2 = u2 = tmp[0] as number;
          s2 = tmp[1] as number;
        }
      }
      {
        const din = Li - (L[i - 4] as number);
        const dout = (L[s + 3] as number) - Ls1;
        const prev = s4 * iK4;
        s4 += din - dout;
        const d = (din - dout) * (din - s4 * iK4 + dout - prev);
        m4 += d;
        u4 += Math.abs(d);
        if (m4 < u4 * COLLAPSE) {
          aggSqDev(L, i, n, 4, tmp);
          m4 = u4 = tmp[0] as number;
          s4 = tmp[1] as number;
        }
      }
      {
        const din = Li - (L[i - 8] as number);
        const dout = (L[s + 7] as number) - Ls1;
        const prev = s8 * iK8;
        s8 += din - dout;
        const d = (din - dout) * (din - s8 * iK8 + dout - prev);
        m8 += d;
        u8 += Math.abs(d);
        if (m8 < u8 * COLLAPSE) {
          aggSqDev(L, i, n, 8, tmp);
          m8 = u8 = tmp[0] as number;
          s8 = tmp[1] as number;
        }
      }
    }
    // Σ(d − qμ)² = Σ(d − d̄)² + K_q(d̄ − qμ)²   (for q = 1, d̄ = μ)
    const e2 = s2 * iK2 - 2 * mu;
    const e4 = s4 * iK4 - 4 * mu;
    const e8 = s8 * iK8 - 8 * mu;
    const S2 = m2 + K2 * e2 * e2;
    const S4 = m4 + K4 * e4 * e4;
    const S8 = m8 + K8 * e8 * e8;
    const r8 = S8 / m1;
    const ratio = (S4 / S2) * (r8 * r8 * r8) * scale;
    // 0/0 (no movement), 0 or ∞ (some level without variance): no finite slope
    out[i] = ratio > 0 && ratio <= Number.MAX_VALUE ? ratio : Number.NaN;
  }
  // the logarithms in a loop of their own: a call inside the loop above would spill its ~15 live
  // values around every call (ln NaN is NaN)
  for (let i = n; i < len; i++) out[i] = base + Math.log(out[i] as number) * slopeUnit;
}
