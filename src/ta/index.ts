/**
 * Technical indicators on columnar candles (Float64Array), exact and fast.
 *
 * Every function returns series of the input's length with NaN during the warm-up (never 0,
 * never a guess); the value at index i depends only on inputs at indices ≤ i (no look-ahead),
 * and the first k outputs on a series equal bit for bit the outputs on its first k candles.
 * One forward pass each, O(len), no allocation per element.
 * Definitions and the few conventions at degenerate inputs (flat windows, zero volume) are
 * documented on each function; tests/unit/ta.test.ts checks them against technicalindicators
 * on the recorded market data.
 */
import { closePassInto, extremaPassInto, rangePassInto } from './fused.js';
import { hurstInto } from './hurst.js';
import { checkSameLength, rollingMaxMinInto } from './util.js';

export { sma, ema, wma } from './moving-averages.js';
export { rsi, macd, roc, stochastic } from './momentum.js';
export { bollinger, atr, keltner, donchian, realizedVol } from './volatility.js';
export { adx } from './trend.js';
export { obv, vwap } from './volume.js';
export { hurst, HURST_MIN_PERIOD } from './hurst.js';

/**
 * The names computeAll returns, in order, with their definitions (default parameters):
 *   sma20 sma50 sma200          sma(close, n)
 *   ema12 ema26 ema50 ema200    ema(close, n)
 *   wma20                       wma(close, 20)
 *   rsi14                       rsi(close, 14)
 *   macd.macd macd.signal macd.histogram            macd(close, 12, 26, 9)
 *   bb.middle bb.upper bb.lower bb.width bb.percentB bollinger(close, 20, 2)
 *   atr14                       atr(high, low, close, 14)
 *   adx.adx adx.plusDI adx.minusDI                  adx(high, low, close, 14)
 *   stoch.k stoch.d             stochastic(high, low, close, 14, 3)
 *   obv                         obv(close, volume)
 *   vwap                        vwap(high, low, close, volume) — cumulative from the first candle given
 *   roc12                       roc(close, 12) — percent
 *   donchian.upper donchian.lower donchian.middle   donchian(high, low, 20)
 *   keltner.middle keltner.upper keltner.lower      keltner(high, low, close, 20, 2, 10)
 *   realizedVol30               realizedVol(close, 30) — per candle, not annualised
 *   hurst100                    hurst(close, 100) — variance-time estimate over 100 log returns
 */
export const INDICATOR_NAMES = [
  'sma20',
  'sma50',
  'sma200',
  'ema12',
  'ema26',
  'ema50',
  'ema200',
  'wma20',
  'rsi14',
  'macd.macd',
  'macd.signal',
  'macd.histogram',
  'bb.middle',
  'bb.upper',
  'bb.lower',
  'bb.width',
  'bb.percentB',
  'atr14',
  'adx.adx',
  'adx.plusDI',
  'adx.minusDI',
  'stoch.k',
  'stoch.d',
  'obv',
  'vwap',
  'roc12',
  'donchian.upper',
  'donchian.lower',
  'donchian.middle',
  'keltner.middle',
  'keltner.upper',
  'keltner.lower',
  'realizedVol30',
  'hurst100',
] as const;

export type IndicatorName = (typeof INDICATOR_NAMES)[number];

/**
 * The full set with default parameters (names in INDICATOR_NAMES), as /indicators and /scan use
 * it. Each series equals what the individual function returns, bit for bit (the tests check
 * it). The set is computed in a few fused passes (src/ta/fused.ts) rather than one loop per
 * series, and shared pieces are computed once: the MACD's EMAs are ema12/ema26, the Keltner
 * middle is an EMA(20) of the same pass, atr, Keltner's ATR(10) and adx share one true range,
 * realised vol and Hurst share the log prices, and the Donchian(20) extremes come from the
 * stochastic's 14-candle extremes (a 20-window is the union of two overlapping 14-windows,
 * [i−13, i] ∪ [i−19, i−6], and max/min are exact). The series are views of one allocation
 * (allocating ~40 typed arrays per symbol costs more than computing them): a caller that keeps
 * one series keeps the block.
 */
export function computeAll(c: { high: Float64Array; low: Float64Array; close: Float64Array; volume: Float64Array }): Record<string, Float64Array> {
  const { high, low, close, volume } = c;
  const len = checkSameLength(high, low, close, volume);
  const count = INDICATOR_NAMES.length;
  const block = new Float64Array((count + 3) * len);
  const out = {} as Record<IndicatorName, Float64Array>;
  for (let j = 0; j < count; j++) out[INDICATOR_NAMES[j] as IndicatorName] = block.subarray(j * len, (j + 1) * len);
  const scratch = (j: number): Float64Array => block.subarray((count + j) * len, (count + j + 1) * len);
  const L = scratch(0);
  const hh14 = scratch(1);
  const ll14 = scratch(2);

  closePassInto(close, {
    sma20: out.sma20,
    sma50: out.sma50,
    sma200: out.sma200,
    ema12: out.ema12,
    ema26: out.ema26,
    ema50: out.ema50,
    ema200: out.ema200,
    ema20: out['keltner.middle'],
    wma20: out.wma20,
    rsi14: out.rsi14,
    macd: out['macd.macd'],
    signal: out['macd.signal'],
    histogram: out['macd.histogram'],
    roc12: out.roc12,
    bbMiddle: out['bb.middle'],
    bbUpper: out['bb.upper'],
    bbLower: out['bb.lower'],
    bbWidth: out['bb.width'],
    bbPercentB: out['bb.percentB'],
  });
  rangePassInto(high, low, close, volume, {
    ema20: out['keltner.middle'],
    atr14: out.atr14,
    adx: out['adx.adx'],
    plusDI: out['adx.plusDI'],
    minusDI: out['adx.minusDI'],
    keltnerUpper: out['keltner.upper'],
    keltnerLower: out['keltner.lower'],
    obv: out.obv,
    vwap: out.vwap,
    logClose: L,
    realizedVol30: out.realizedVol30,
  });
  rollingMaxMinInto(high, low, 14, hh14, ll14);
  extremaPassInto(close, hh14, ll14, out['stoch.k'], out['stoch.d'], out['donchian.upper'], out['donchian.lower'], out['donchian.middle']);
  hurstInto(L, 100, out.hurst100);
  return out;
}
