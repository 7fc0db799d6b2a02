/**
 * computeAll's fused passes: the default set in a few loops over the candles instead of one loop
 * per series. A loop over a Float64Array costs ~1.5–2 ns per element before it computes anything
 * (bounds checks, loads, the store), and most kernels are a chain of dependent operations (an
 * EMA is a multiply-add per candle on the previous value): separately they run one after the
 * other, in one loop the CPU overlaps the independent chains. On the 1,500-symbol scan these
 * passes took ~40 ms off computeAll (~260 → ~220 ms), and the true range is computed once
 * instead of three times.
 *
 * Every series here is the SAME sequence of floating-point operations as its own function
 * (same seeds, same order of additions, same resync points), so computeAll still equals sma(),
 * ema(), rsi(), … bit for bit. tests/unit/ta.test.ts checks every series of computeAll against
 * its function on real candles, on random prefixes (fast-check) and on degenerate candles (flat
 * stretches, no volume): a change to a kernel must be made in both places, or those tests fail.
 * Indicators start at different indices: each block runs from its own first index (the
 * branches go the same way for hundreds of candles at a time: predicted, nearly free).
 */
import { weighted } from './moving-averages.js';
import { COLLAPSE, resyncInterval, sumRange, warmup } from './util.js';
import { retSqDev, sqDev } from './volatility.js';

export interface ClosePass {
  sma20: Float64Array;
  sma50: Float64Array;
  sma200: Float64Array;
  ema12: Float64Array;
  ema26: Float64Array;
  ema50: Float64Array;
  ema200: Float64Array;
  /** EMA(20): the Keltner middle */
  ema20: Float64Array;
  wma20: Float64Array;
  rsi14: Float64Array;
  macd: Float64Array;
  signal: Float64Array;
  histogram: Float64Array;
  roc12: Float64Array;
  bbMiddle: Float64Array;
  bbUpper: Float64Array;
  bbLower: Float64Array;
  bbWidth: Float64Array;
  bbPercentB: Float64Array;
}

/**
 * Everything computeAll derives from the closes alone, except the log-return series:
 * sma(20, 50, 200), ema(12, 26, 50, 200, 20), wma(20), rsi(14), macd(12, 26, 9), roc(12),
 * bollinger(20, 2). The WMA's plain window sum is the SMA(20)'s (same updates, same resyncs).
 */
export function closePassInto(close: Float64Array, o: ClosePass): void {
  const len = close.length;
  const { sma20, sma50, sma200, ema12, ema26, ema50, ema200, ema20, wma20, rsi14, roc12 } = o;
  const { macd, signal, histogram, bbMiddle, bbUpper, bbLower, bbWidth, bbPercentB } = o;
  warmup(sma20, 19);
  warmup(sma50, 49);
  warmup(sma200, 199);
  warmup(ema12, 11);
  warmup(ema26, 25);
  warmup(ema50, 49);
  warmup(ema200, 199);
  warmup(ema20, 19);
  warmup(wma20, 19);
  warmup(rsi14, 14);
  warmup(roc12, 12);
  warmup(macd, 25);
  warmup(signal, 33);
  warmup(histogram, 33);
  for (const b of [bbMiddle, bbUpper, bbLower, bbWidth, bbPercentB]) warmup(b, 19);

  const R = resyncInterval(200); // = resyncInterval(n) for every window here (all ≤ 256)
  const R_BB = Math.max(256, 4 * 20); // bollinger's own interval
  let s20 = 0;
  let s50 = 0;
  let s200 = 0;
  let since20 = 0;
  let since50 = 0;
  let since200 = 0;
  let wnum = 0;
  let e12 = 0;
  let e26 = 0;
  let e50 = 0;
  let e200 = 0;
  let e20 = 0;
  let sig = 0;
  let g = 0;
  let l = 0;
  let bSum = 0;
  let bComp = 0;
  let bMean = 0;
  let bM2 = 0;
  let bU = 0;
  let bSince = 0;
  const k12 = 2 / 13;
  const c12 = 1 - k12;
  const k26 = 2 / 27;
  const c26 = 1 - k26;
  const k50 = 2 / 51;
  const c50 = 1 - k50;
  const k200 = 2 / 201;
  const c200 = 1 - k200;
  const k20 = 2 / 21;
  const c20 = 1 - k20;
  const k9 = 2 / 10;
  const c9 = 1 - k9;
  const rsiA = 13 / 14;
  const rsiHb = 1 / 14 / 2;

  for (let i = 0; i < len; i++) {
    const x = close[i] as number;
    // SMA(20) and WMA(20) (sharing the window sum: the WMA update reads it before it moves)
    if (i >= 19) {
      if (i === 19) {
        s20 = sumRange(close, 0, 20);
        wnum = weighted(close, 19, 20);
      } else if (++since20 === R) {
        since20 = 0;
        wnum = weighted(close, i, 20);
        s20 = sumRange(close, i - 19, i + 1);
      } else {
        wnum += 20 * x - s20;
        s20 += x - (close[i - 20] as number);
      }
      sma20[i] = s20 * (1 / 20);
      wma20[i] = wnum * (1 / 210);
    }
    if (i >= 49) {
      if (i === 49) s50 = sumRange(close, 0, 50);
      else if (++since50 === R) {
        since50 = 0;
        s50 = sumRange(close, i - 49, i + 1);
      } else s50 += x - (close[i - 50] as number);
      sma50[i] = s50 * (1 / 50);
    }
    if (i >= 199) {
      if (i === 199) s200 = sumRange(close, 0, 200);
      else if (++since200 === R) {
        since200 = 0;
        s200 = sumRange(close, i - 199, i + 1);
      } else s200 += x - (close[i - 200] as number);
      sma200[i] = s200 * (1 / 200);
    }
    // EMAs, seeded with the SMA of their first n values
    if (i >= 11) {
      e12 = i === 11 ? sumRange(close, 0, 12) / 12 : e12 * c12 + x * k12;
      ema12[i] = e12;
    }
    if (i >= 19) {
      e20 = i === 19 ? sumRange(close, 0, 20) / 20 : e20 * c20 + x * k20;
      ema20[i] = e20;
    }
    if (i >= 25) {
      e26 = i === 25 ? sumRange(close, 0, 26) / 26 : e26 * c26 + x * k26;
      ema26[i] = e26;
      // MACD line, then its EMA(9) signal seeded over line[25..33]
      const m = e12 - e26;
      macd[i] = m;
      if (i >= 33) {
        sig = i === 33 ? sumRange(macd, 25, 34) / 9 : sig * c9 + m * k9;
        signal[i] = sig;
        histogram[i] = m - sig;
      }
    }
    if (i >= 49) {
      e50 = i === 49 ? sumRange(close, 0, 50) / 50 : e50 * c50 + x * k50;
      ema50[i] = e50;
    }
    if (i >= 199) {
      e200 = i === 199 ? sumRange(close, 0, 200) / 200 : e200 * c200 + x * k200;
      ema200[i] = e200;
    }
    // RSI(14), Wilder: plain means of the first 14 gains/losses, then the smoothing
    if (i >= 1) {
      const d = x - (close[i - 1] as number);
      if (i <= 14) {
        if (d > 0) g += d;
        else if (d < 0) l -= d;
        if (i === 14) {
          g /= 14;
          l /= 14;
          rsi14[i] = g + l === 0 ? 50 : (100 * g) / (g + l);
        }
      } else {
        const ad = Math.abs(d);
        g = g * rsiA + (d + ad) * rsiHb;
        l = l * rsiA + (ad - d) * rsiHb;
        const s = g + l;
        rsi14[i] = s === 0 ? 50 : (100 * g) / s;
      }
    }
    if (i >= 12) {
      const past = close[i - 12] as number;
      roc12[i] = ((x - past) / past) * 100;
    }
    // Bollinger(20, 2): Kahan-compensated window sum, sliding M2 with its resync/collapse guards
    if (i >= 19) {
      if (i === 19) {
        bSum = sumRange(close, 0, 20);
        bComp = 0;
        bMean = bSum * (1 / 20);
        bM2 = sqDev(close, 0, 20);
        bU = bM2;
      } else {
        const xout = close[i - 20] as number;
        if (++bSince === R_BB) {
          bSince = 0;
          bSum = sumRange(close, i - 19, i + 1);
          bComp = 0;
          bMean = bSum * (1 / 20);
          bM2 = sqDev(close, i - 19, i + 1);
          bU = bM2;
        } else {
          const prevMean = bMean;
          const y = x - xout - bComp;
          const t = bSum + y;
          bComp = t - bSum - y;
          bSum = t;
          bMean = bSum * (1 / 20);
          const d = (x - xout) * (x - bMean + xout - prevMean);
          bM2 += d;
          bU += Math.abs(d);
          if (bM2 < bU * COLLAPSE) {
            bM2 = sqDev(close, i - 19, i + 1);
            bU = bM2;
          }
        }
      }
      const d = 2 * Math.sqrt(bM2 * (1 / 20));
      const up = bMean + d;
      const lo = bMean - d;
      bbMiddle[i] = bMean;
      bbUpper[i] = up;
      bbLower[i] = lo;
      bbWidth[i] = (up - lo) / bMean;
      bbPercentB[i] = (x - lo) / (up - lo);
    }
  }
}

export interface RangePass {
  /** EMA(20) of the closes (from closePassInto): the Keltner middle, read here */
  ema20: Float64Array;
  atr14: Float64Array;
  adx: Float64Array;
  plusDI: Float64Array;
  minusDI: Float64Array;
  keltnerUpper: Float64Array;
  keltnerLower: Float64Array;
  obv: Float64Array;
  vwap: Float64Array;
  /** ln of every close (scratch for hurst) */
  logClose: Float64Array;
  realizedVol30: Float64Array;
}

/**
 * What needs the highs, lows or volumes, plus the log prices: the true range once for
 * atr(14), the Keltner ATR(10) and adx(14); obv; the cumulative vwap; ln close and
 * realizedVol(30).
 */
export function rangePassInto(high: Float64Array, low: Float64Array, close: Float64Array, volume: Float64Array, o: RangePass): void {
  const len = close.length;
  const { ema20, atr14, adx, plusDI, minusDI, keltnerUpper, keltnerLower, obv, vwap, logClose, realizedVol30 } = o;
  warmup(atr14, 14);
  warmup(plusDI, 14);
  warmup(minusDI, 14);
  warmup(adx, 27);
  warmup(keltnerUpper, 19);
  warmup(keltnerLower, 19);
  warmup(obv, 1);
  warmup(realizedVol30, 30);

  let pv = 0;
  let vs = 0;
  let obvTotal = 0;
  let a14 = 0;
  let a10 = 0;
  let str = 0;
  let spdm = 0;
  let smdm = 0;
  let dxSum = 0;
  let ax = 0;
  let rvM2 = 0;
  let rvU = 0;
  let rvMean = 0;
  let rvSince = 0;
  const R = resyncInterval(30);
  const keep = 1 - 1 / 14;
  const w14a = 13 / 14;
  const w14b = 1 / 14;
  const w10a = 9 / 10;
  const w10b = 1 / 10;
  const invNm1 = 1 / 29;

  for (let i = 0; i < len; i++) {
    const h = high[i] as number;
    const l = low[i] as number;
    const c = close[i] as number;
    const v = volume[i] as number;
    pv += v * ((h + l + c) / 3);
    vs += v;
    vwap[i] = vs === 0 ? Number.NaN : pv / vs;
    const Li = Math.log(c);
    logClose[i] = Li;
    if (i === 0) continue;

    const pc = close[i - 1] as number;
    obvTotal += v * (((c > pc) as unknown as number) - ((c < pc) as unknown as number));
    obv[i] = obvTotal;

    // true range, as atr() and adx() compute it
    const r1 = h - l;
    const r2 = Math.abs(h - pc);
    const r3 = Math.abs(l - pc);
    const tr = r1 >= r2 ? (r1 >= r3 ? r1 : r3) : r2 >= r3 ? r2 : r3;
    // ATR(14): plain mean of TR_1..TR_14, then Wilder's smoothing
    if (i <= 14) {
      a14 += tr;
      if (i === 14) {
        a14 = a14 / 14;
        atr14[i] = a14;
      }
    } else {
      a14 = a14 * w14a + tr * w14b;
      atr14[i] = a14;
    }
    // ATR(10) for Keltner(20, 2, 10), which starts with its EMA(20) at 19
    if (i <= 10) {
      a10 += tr;
      if (i === 10) a10 = a10 / 10;
    } else a10 = a10 * w10a + tr * w10b;
    if (i >= 19) {
      const m = ema20[i] as number;
      const d = 2 * a10;
      keltnerUpper[i] = m + d;
      keltnerLower[i] = m - d;
    }

    // ADX(14) with ±DI (as adxInto)
    const up = h - (high[i - 1] as number);
    const down = (low[i - 1] as number) - l;
    const pdm = up * (((up > down) as unknown as number) & ((up > 0) as unknown as number));
    const mdm = down * (((down > up) as unknown as number) & ((down > 0) as unknown as number));
    if (i <= 14) {
      str += tr;
      spdm += pdm;
      smdm += mdm;
    } else {
      str = str * keep + tr;
      spdm = spdm * keep + pdm;
      smdm = smdm * keep + mdm;
    }
    if (i >= 14) {
      const scale = str === 0 ? 0 : 100 / str;
      plusDI[i] = spdm * scale;
      minusDI[i] = smdm * scale;
      const dmSum = spdm + smdm;
      const dx = dmSum === 0 ? 0 : (Math.abs(spdm - smdm) / dmSum) * 100;
      if (i < 27) dxSum += dx;
      else if (i === 27) {
        ax = (dxSum + dx) / 14;
        adx[i] = ax;
      } else {
        ax = ax * w14a + dx * w14b;
        adx[i] = ax;
      }
    }

    // realizedVol(30) of the log returns (as realizedVolInto, per candle)
    if (i >= 30) {
      const Ls = logClose[i - 30] as number;
      if (i === 30 || ++rvSince === R) {
        rvSince = 0;
        rvM2 = retSqDev(logClose, i, 30);
        rvU = rvM2;
        rvMean = (Li - Ls) * (1 / 30);
      } else {
        const rin = Li - (logClose[i - 1] as number);
        const rout = Ls - (logClose[i - 31] as number);
        const prevMean = rvMean;
        rvMean = (Li - Ls) * (1 / 30);
        const d = (rin - rout) * (rin - rvMean + rout - prevMean);
        rvM2 += d;
        rvU += Math.abs(d);
        if (rvM2 < rvU * COLLAPSE) {
          rvM2 = retSqDev(logClose, i, 30);
          rvU = rvM2;
        }
      }
      realizedVol30[i] = Math.sqrt(rvM2 * invNm1);
    }
  }
}

/**
 * From the rolling 14-candle highest high / lowest low (rollingMaxMinInto): stochastic(14, 3)
 * %K and %D, and donchian(20), whose 20-candle extremes are the larger/smaller of the 14-candle
 * ones at i and i − 6 ([i−13, i] ∪ [i−19, i−6] = [i−19, i]; max and min are exact).
 */
export function extremaPassInto(
  close: Float64Array,
  hh14: Float64Array,
  ll14: Float64Array,
  k: Float64Array,
  d: Float64Array,
  upper: Float64Array,
  lower: Float64Array,
  middle: Float64Array,
): void {
  const len = close.length;
  warmup(k, 13);
  warmup(d, 15);
  warmup(upper, 19);
  warmup(lower, 19);
  warmup(middle, 19);
  const R = resyncInterval(3);
  let sum = 0;
  let since = 0;
  for (let i = 13; i < len; i++) {
    const hi = hh14[i] as number;
    const lo = ll14[i] as number;
    const range = hi - lo;
    const ki = range === 0 ? 50 : (((close[i] as number) - lo) / range) * 100;
    k[i] = ki;
    // %D = SMA(3) of %K from index 15 (as smaInto(k, 13, 3))
    if (i >= 15) {
      if (i === 15) sum = sumRange(k, 13, 16);
      else if (++since === R) {
        since = 0;
        sum = sumRange(k, i - 2, i + 1);
      } else sum += ki - (k[i - 3] as number);
      d[i] = sum * (1 / 3);
    }
    if (i >= 19) {
      // the extreme's index picked with an integer mask, not a branch (which way it goes is a
      // coin toss on real prices): j when the older window's extreme is beyond, else i
      const j = i - 6;
      const u = hh14[i ^ ((i ^ j) & -((hh14[j] as number) > hi))] as number;
      const w = ll14[i ^ ((i ^ j) & -((ll14[j] as number) < lo))] as number;
      upper[i] = u;
      lower[i] = w;
      middle[i] = (u + w) / 2;
    }
  }
}
