import { BadDataError, DataGapError, NotEnoughDataError, StaleDataError } from './errors.js';
import { sliceCandles, type Candles, type CheckedCandles, type Gap } from './types.js';
import { utcMinute } from '../kernel/utc.js';

/**
 * The integrity gate. Every candle series passes here before anyone computes with it:
 * sorted, unique, finite, non-negative, high ≥ max(open, close), low ≤ min(open, close), and
 * in live mode not stale. Gaps are found and reported — never filled, interpolated or invented.
 *
 * Gap policy (what a computation over a window does when the record has holes):
 *   - `checkCandles` returns the series with its gaps listed, for display (a chart shows the hole).
 *   - `contiguousWindow` is what indicators use: the contiguous tail ending at the newest candle,
 *     if it holds at least the candles needed; otherwise a DataGapError naming the hole, so no
 *     number is ever computed across missing data.
 */

const DAY = 86_400_000;

export function label(c: Pick<Candles, 'exchange' | 'symbol' | 'timeframe'>): string {
  return `${c.exchange} ${c.symbol} ${c.timeframe}`;
}

export function describeGap(g: Gap): string {
  return `${g.missing} candle${g.missing === 1 ? '' : 's'} missing between ${utcMinute(g.after)} and ${utcMinute(g.before)} UTC`;
}

export interface GateOptions {
  /** live data must be fresh; recorded data is as old as it is */
  live: boolean;
  /** the desk's now (ms), for staleness */
  now: number;
}

/** Finds the gaps in sorted, unique candle times. */
export function findGaps(time: Float64Array, timeframeMs: number): Gap[] {
  const gaps: Gap[] = [];
  for (let i = 1; i < time.length; i++) {
    const step = (time[i] as number) - (time[i - 1] as number);
    if (step > timeframeMs) gaps.push({ after: time[i - 1] as number, before: time[i] as number, missing: Math.round(step / timeframeMs) - 1 });
  }
  return gaps;
}

/**
 * Checks every invariant in one pass; throws BadDataError naming the first broken row, or
 * StaleDataError. Returns the same candles (no copy) with their gaps.
 */
export function checkCandles(c: Candles, opts: GateOptions): CheckedCandles {
  const { time, open, high, low, close, volume, timeframeMs } = c;
  const where = label(c);
  for (let i = 0; i < c.length; i++) {
    const t = time[i] as number;
    const o = open[i] as number;
    const h = high[i] as number;
    const l = low[i] as number;
    const cl = close[i] as number;
    const v = volume[i] as number;
    if (!(Number.isFinite(t) && Number.isFinite(o) && Number.isFinite(h) && Number.isFinite(l) && Number.isFinite(cl) && Number.isFinite(v))) {
      throw new BadDataError(`${where}: candle ${rowAt(c, i)} has a missing or non-numeric value — not computing`);
    }
    if (o <= 0 || h <= 0 || l <= 0 || cl <= 0 || v < 0) {
      throw new BadDataError(`${where}: candle ${rowAt(c, i)} has a zero or negative price or volume — not computing`);
    }
    if (h < Math.max(o, cl) || l > Math.min(o, cl) || l > h) {
      throw new BadDataError(`${where}: candle ${rowAt(c, i)} has high/low outside open/close (o ${o} h ${h} l ${l} c ${cl}) — not computing`);
    }
    // exchanges align candles up to a day to the epoch grid; weekly ones open on Mondays and 3d
    // ones vary, so those are checked by spacing only
    if (timeframeMs <= DAY && t % timeframeMs !== 0) {
      throw new BadDataError(`${where}: candle time ${rowAt(c, i)} is not on the ${c.timeframe} grid — not computing`);
    }
    if (i > 0) {
      const prev = time[i - 1] as number;
      if (t === prev) throw new BadDataError(`${where}: candle ${rowAt(c, i)} appears twice — not computing`);
      if (t < prev) throw new BadDataError(`${where}: candles out of order at ${rowAt(c, i)} — not computing`);
    }
  }
  if (opts.live && c.length > 0) {
    const last = time[c.length - 1] as number;
    // the newest candle is normally still open (its open time is within one timeframe of now)
    if (opts.now - last > 2 * timeframeMs) {
      throw new StaleDataError(`${where}: newest candle opened ${utcMinute(last)} UTC, more than two timeframes ago — data is stale, not computing`);
    }
  }
  return { ...c, gaps: findGaps(time, timeframeMs) };
}

/**
 * The newest `need` contiguous candles. Refuses when the contiguous tail is shorter, naming the
 * gap that cuts it (or saying the record is too short).
 */
export function contiguousWindow(c: CheckedCandles, need: number): CheckedCandles {
  const where = label(c);
  if (c.length === 0) throw new NotEnoughDataError(`${where}: no candles — not computing`);
  const lastGap = c.gaps[c.gaps.length - 1];
  let tailStart = 0;
  if (lastGap !== undefined) {
    // the first candle after the newest hole
    tailStart = c.time.lastIndexOf(lastGap.before);
  }
  const tail = c.length - tailStart;
  if (tail < need) {
    if (lastGap !== undefined) {
      throw new DataGapError(where, [lastGap], `${describeGap(lastGap)}; only ${tail} contiguous candles after it, ${need} needed`);
    }
    throw new NotEnoughDataError(`${where}: only ${c.length} candles on record, ${need} needed — not computing`);
  }
  const out = sliceCandles(c, c.length - need);
  return { ...out, gaps: [] };
}

/** Refuses a series with any hole in it (for computations that must span the whole range). */
export function requireNoGaps(c: CheckedCandles): CheckedCandles {
  if (c.gaps.length === 0) return c;
  const total = c.gaps.reduce((s, g) => s + g.missing, 0);
  const first = c.gaps[0] as Gap;
  const more = c.gaps.length > 1 ? ` (and ${c.gaps.length - 1} more gaps, ${total} candles missing in all)` : '';
  throw new DataGapError(label(c), c.gaps, `${describeGap(first)}${more}`);
}

function rowAt(c: Candles, i: number): string {
  const t = c.time[i] as number;
  return Number.isFinite(t) ? `at ${utcMinute(t)} UTC` : `#${i + 1}`;
}
