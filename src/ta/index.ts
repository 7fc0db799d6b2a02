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
import { hurstInto } from './hurst.js';
import { macdInto, rocInto, rsiInto, stochasticInto } from './momentum.js';
import { wmaInto } from './moving-averages.js';
import { adxInto } from './trend.js';
import { checkSameLength, emaInto, rollingMaxMinInto, smaInto, warmup } from './util.js';
import { atrInto, bollingerInto, donchianMiddleInto, keltnerInto, logPrices, realizedVolInto } from './volatility.js';
import { obvInto, vwapCumulativeInto } from './volume.js';

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
 * it). Shared pieces are computed once: the MACD's EMAs are ema12/ema26, realised vol and Hurst
 * share the log prices, and the Donchian(20) extremes come from the stochastic's 14-candle
 * extremes (a 20-window is the union of two overlapping 14-windows, [i−13, i] ∪ [i−19, i−6],
 * and max/min are exact). The series are views of one allocation (allocating ~40 typed arrays
 * per symbol costs more than computing them): a caller that keeps one series keeps the block.
 */
export function computeAll(c: { high: Float64Array; low: Float64Array; close: Float64Array; volume: Float64Array }): Record<string, Float64Array> {
  const { high, low, close, volume } = c;
  const len = checkSameLength(high, low, close, volume);
  const count = INDICATOR_NAMES.length;
  const block = new Float64Array((count + 4) * len);
  const out = {} as Record<IndicatorName, Float64Array>;
  for (let j = 0; j < count; j++) out[INDICATOR_NAMES[j] as IndicatorName] = block.subarray(j * len, (j + 1) * len);
  const scratch = (j: number): Float64Array => block.subarray((count + j) * len, (count + j + 1) * len);
  const L = scratch(0);
  const atr10 = scratch(1);
  const hh14 = scratch(2);
  const ll14 = scratch(3);

  smaInto(close, 0, 20, out.sma20);
  smaInto(close, 0, 50, out.sma50);
  smaInto(close, 0, 200, out.sma200);
  emaInto(close, 0, 12, out.ema12);
  emaInto(close, 0, 26, out.ema26);
  emaInto(close, 0, 50, out.ema50);
  emaInto(close, 0, 200, out.ema200);
  wmaInto(close, 20, out.wma20);
  rsiInto(close, 14, out.rsi14);
  macdInto(out.ema12, out.ema26, 25, 9, out['macd.macd'], out['macd.signal'], out['macd.histogram']);
  bollingerInto(close, 20, 2, out['bb.middle'], out['bb.upper'], out['bb.lower'], out['bb.width'], out['bb.percentB']);
  atrInto(high, low, close, 14, out.atr14);
  adxInto(high, low, close, 14, out['adx.adx'], out['adx.plusDI'], out['adx.minusDI']);
  rollingMaxMinInto(high, low, 14, hh14, ll14);
  stochasticInto(close, hh14, ll14, 14, 3, out['stoch.k'], out['stoch.d']);
  obvInto(close, volume, out.obv);
  vwapCumulativeInto(high, low, close, volume, out.vwap);
  rocInto(close, 12, out.roc12);
  const du = out['donchian.upper'];
  const dl = out['donchian.lower'];
  warmup(du, 19);
  warmup(dl, 19);
  for (let i = 19; i < len; i++) {
    const h1 = hh14[i] as number;
    const h2 = hh14[i - 6] as number;
    du[i] = h1 >= h2 ? h1 : h2;
    const l1 = ll14[i] as number;
    const l2 = ll14[i - 6] as number;
    dl[i] = l1 <= l2 ? l1 : l2;
  }
  donchianMiddleInto(du, dl, 20, out['donchian.middle']);
  keltnerInto(high, low, close, 20, 2, 10, out['keltner.middle'], out['keltner.upper'], out['keltner.lower'], atr10);
  logPrices(close, L);
  realizedVolInto(L, 30, 1, out.realizedVol30);
  hurstInto(L, 100, out.hurst100);
  return out;
}
