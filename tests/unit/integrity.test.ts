import { describe, expect, it } from 'vitest';
import { BadDataError, DataGapError, NotEnoughDataError, StaleDataError } from '../../src/market/errors.js';
import { checkCandles, contiguousWindow, describeGap, findGaps, requireNoGaps } from '../../src/market/integrity.js';
import { fromColumns, sliceCandles, type Candles } from '../../src/market/types.js';
import { recordedCandles } from '../helpers/recorded.js';

const H = 3_600_000;
const btc = recordedCandles('binance', 'BTC/USDT', '1h');
const replay = { live: false, now: 0 };

/** a copy of real candles with one value changed: the gate must refuse it */
function corrupt(c: Candles, i: number, col: 'open' | 'high' | 'low' | 'close' | 'volume' | 'time', value: number): Candles {
  const copy = (a: Float64Array): Float64Array => Float64Array.from(a);
  const out = fromColumns(c.exchange, c.symbol, c.timeframe, c.timeframeMs, c.source, copy(c.time), copy(c.open), copy(c.high), copy(c.low), copy(c.close), copy(c.volume));
  out[col][i] = value;
  return out;
}

describe('integrity gate on the recorded BTC/USDT 1h series', () => {
  it('passes the real data and reports its 6 maintenance gaps (11 candles), as SOURCES.md lists', () => {
    const checked = checkCandles(btc, replay);
    expect(checked.length).toBe(5482);
    expect(checked.gaps).toHaveLength(6);
    expect(checked.gaps.reduce((s, g) => s + g.missing, 0)).toBe(11);
    for (const g of checked.gaps) expect((g.before - g.after) / H - 1).toBe(g.missing);
  });

  it.each([
    ['a NaN close', 'close', Number.NaN, /missing or non-numeric/],
    ['a negative volume', 'volume', -1, /zero or negative/],
    ['a zero open', 'open', 0, /zero or negative/],
    ['high below the close', 'high', 1, /high\/low outside open\/close/],
    ['low above the open', 'low', 1e9, /high\/low outside open\/close/],
    ['a time off the grid', 'time', 1606784400001, /not on the 1h grid/],
  ] as const)('refuses %s, naming the candle', (_what, col, value, message) => {
    expect(() => checkCandles(corrupt(btc, 1, col, value), replay)).toThrow(BadDataError);
    expect(() => checkCandles(corrupt(btc, 1, col, value), replay)).toThrow(message);
  });

  it('refuses duplicates and disorder', () => {
    const dup = corrupt(btc, 2, 'time', btc.time[1] as number);
    expect(() => checkCandles(dup, replay)).toThrow('binance BTC/USDT 1h: candle at 2020-12-01 01:00 UTC appears twice — not computing');
    const back = corrupt(btc, 2, 'time', btc.time[0] as number);
    expect(() => checkCandles(back, replay)).toThrow(/out of order/);
  });

  it('live data older than two timeframes is stale', () => {
    const last = btc.time[btc.length - 1] as number;
    expect(() => checkCandles(btc, { live: true, now: last + 2 * H + 1 })).toThrow(StaleDataError);
    expect(checkCandles(btc, { live: true, now: last + H }).length).toBe(5482);
    // recorded data is as old as it is
    expect(checkCandles(btc, { live: false, now: last + 100 * H }).length).toBe(5482);
  });
});

describe('gap policy', () => {
  const checked = checkCandles(btc, replay);
  const lastGap = checked.gaps[checked.gaps.length - 1];
  if (!lastGap) throw new Error('the recorded series should have gaps');
  const tail = checked.length - checked.time.indexOf(lastGap.before);

  it('a window inside the contiguous tail is served without the hole', () => {
    const w = contiguousWindow(checked, 200);
    expect(w.length).toBe(200);
    expect(findGaps(w.time, H)).toEqual([]);
    expect(w.time[199]).toBe(btc.time[btc.length - 1]);
  });

  it('a window that would cross the newest gap is refused with the exact missing range', () => {
    expect(() => contiguousWindow(checked, tail + 1)).toThrow(DataGapError);
    expect(() => contiguousWindow(checked, tail + 1)).toThrow(
      `binance BTC/USDT 1h: ${describeGap(lastGap)}; only ${tail} contiguous candles after it, ${tail + 1} needed — not computing`,
    );
    expect(contiguousWindow(checked, tail).length).toBe(tail);
  });

  it('requireNoGaps names the first hole and counts the rest', () => {
    const first = checked.gaps[0];
    if (!first) throw new Error('no gap');
    expect(() => requireNoGaps(checked)).toThrow(`binance BTC/USDT 1h: ${describeGap(first)} (and 5 more gaps, 11 candles missing in all) — not computing`);
    const clean = checkCandles(sliceCandles(btc, btc.length - 24), replay);
    expect(requireNoGaps(clean)).toBe(clean);
  });

  it('too short a record is its own message', () => {
    const short = checkCandles(sliceCandles(btc, 0, 10), replay);
    expect(() => contiguousWindow(short, 50)).toThrow(NotEnoughDataError);
    expect(() => contiguousWindow(short, 50)).toThrow('binance BTC/USDT 1h: only 10 candles on record, 50 needed — not computing');
  });
});
