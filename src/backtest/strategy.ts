import { sma } from '../ta/moving-averages.js';
import { FLAT, LONG, NO_DECISION } from './engine.js';
import { sliceOhlcv, type OhlcvColumns } from '../market/types.js';

/**
 * Strategies as the engine sees them: a function from one *contiguous* run of candles to a
 * decision per candle (LONG, FLAT or NO_DECISION), where the decision for candle i reads only
 * candles ≤ i. The backtest calls it once per gap-free segment, so no indicator is ever computed
 * across a hole in the record, and a strategy warms up again after each gap.
 */

/** what a strategy reads: columnar candles (the market service's Candles fit) */
export type SeriesColumns = OhlcvColumns;

export type Params = Record<string, number>;

/** lets a long evaluation yield to the event loop, report progress and stop when cancelled */
export interface Tick {
  /** `done` more candles were decided */
  (done: number): Promise<void> | void;
}

export interface BacktestStrategy {
  /** e.g. "sma-cross" */
  name: string;
  /** e.g. "sma-cross(10/40)"; the name for strategies without parameters */
  label: string;
  description: string;
  params: Params;
  /** candles a first decision needs; the backtest reads this many before the test window */
  warmup: number;
  /** fills out[0..series.length) for one contiguous segment; a decision at i reads candles ≤ i only */
  decide(series: SeriesColumns, out: Int8Array, tick: Tick): void | Promise<void>;
}

/** a strategy with parameters to fit (walk-forward): a grid and a constructor */
export interface ParamStrategy {
  name: string;
  description: string;
  defaults: Params;
  /** what each parameter means, for help and docs */
  describeParams: Record<string, string>;
  grid: Params[];
  make(params: Params): BacktestStrategy;
  /** a parameter set is valid (else the reason) */
  check(params: Params): string | null;
}

// ---------------------------------------------------------------- sma-cross

export const SMA_CROSS_DEFAULTS = { fast: 20, slow: 50 } as const;
const SMA_FAST = [5, 10, 15, 20, 30, 40, 50];
const SMA_SLOW = [20, 30, 50, 75, 100, 150, 200];

/**
 * Long while SMA(fast) of the close is above SMA(slow), flat otherwise: it buys on the cross up
 * and sells on the cross down. No decision until SMA(slow) is defined (slow candles).
 */
export function smaCrossDecisions(close: Float64Array, fast: number, slow: number, out: Int8Array): void {
  const f = sma(close, fast);
  const s = sma(close, slow);
  for (let i = 0; i < close.length; i++) {
    const a = f[i] as number;
    const b = s[i] as number;
    // NaN in either (warm-up) fails both comparisons
    out[i] = a > b ? LONG : a <= b ? FLAT : NO_DECISION;
  }
}

export const smaCross: ParamStrategy = {
  name: 'sma-cross',
  description: 'long while SMA(fast) of the close is above SMA(slow), flat otherwise (buys the cross up, sells the cross down)',
  defaults: { ...SMA_CROSS_DEFAULTS },
  describeParams: { fast: 'the fast SMA period (candles)', slow: 'the slow SMA period (candles), above fast' },
  grid: SMA_FAST.flatMap((fast) => SMA_SLOW.filter((slow) => slow > fast).map((slow) => ({ fast, slow }))),
  check(p) {
    const fast = p.fast ?? SMA_CROSS_DEFAULTS.fast;
    const slow = p.slow ?? SMA_CROSS_DEFAULTS.slow;
    for (const k of Object.keys(p)) if (k !== 'fast' && k !== 'slow') return `sma-cross has no parameter "${k}" (fast, slow)`;
    if (!Number.isInteger(fast) || fast < 1 || fast > 1000) return `fast must be a whole number of candles in 1..1000, got ${fast}`;
    if (!Number.isInteger(slow) || slow < 2 || slow > 2000) return `slow must be a whole number of candles in 2..2000, got ${slow}`;
    if (fast >= slow) return `fast (${fast}) must be below slow (${slow})`;
    return null;
  },
  make(p) {
    const fast = p.fast ?? SMA_CROSS_DEFAULTS.fast;
    const slow = p.slow ?? SMA_CROSS_DEFAULTS.slow;
    const problem = smaCross.check({ fast, slow });
    if (problem !== null) throw new RangeError(problem);
    return {
      name: 'sma-cross',
      label: `sma-cross(${fast}/${slow})`,
      description: smaCross.description,
      params: { fast, slow },
      warmup: slow,
      decide(series, out) {
        smaCrossDecisions(series.close, fast, slow, out);
      },
    };
  },
};

// ---------------------------------------------------------------- the signals plugin's strategies

/** per-candle output of a signal strategy over a range of a series (the signals plugin's service) */
export interface SeriesSignals {
  /** 1 long, −1 short, 0 flat (0 where score is NaN) */
  direction: Int8Array;
  /** the strategy's score in [−1, 1]; NaN where it has too few candles to answer */
  score: Float64Array;
}

/** The shape of the signals plugin's "signals.strategies" service, as the backtest uses it. */
export interface SignalStrategyLike {
  name: string;
  description: string;
  warmup: number;
  /** candles after which the answer no longer depends on where the series starts */
  settle?: number;
  /** signals for candles [from, to) of `series`, each reading candles ≤ itself only */
  evaluateSeries(series: SeriesColumns, range?: { from?: number; to?: number }): SeriesSignals;
}

export interface SignalCatalogLike {
  names(): string[];
  get(name: string): SignalStrategyLike | undefined;
}

const CHUNK = 500;

/**
 * A signal strategy as a backtest strategy, long-only: long → LONG, flat or short → FLAT (spot:
 * a short signal closes the long, it does not sell short), no score yet → NO_DECISION. Evaluated
 * in chunks of 500 candles, each on the candles up to the chunk's end only.
 */
export function fromSignalStrategy(s: SignalStrategyLike): BacktestStrategy {
  return {
    name: s.name,
    label: s.name,
    description: s.description,
    params: {},
    warmup: Math.max(s.warmup, s.settle ?? 0),
    async decide(series, out, tick) {
      for (let from = 0; from < series.length; from += CHUNK) {
        const to = Math.min(series.length, from + CHUNK);
        const prefix = prefixOf(series, to);
        const r = s.evaluateSeries(prefix, { from, to });
        if (r.direction.length !== to - from || r.score.length !== to - from) throw new Error(`strategy ${s.name}: evaluateSeries gave ${r.direction.length} values for ${to - from} candles`);
        for (let k = 0; k < to - from; k++) {
          out[from + k] = Number.isNaN(r.score[k] as number) ? NO_DECISION : r.direction[k] === 1 ? LONG : FLAT;
        }
        await tick(to - from);
      }
    },
  };
}

function prefixOf(c: SeriesColumns, to: number): SeriesColumns {
  if (to === c.length) return c;
  return {
    open: c.open.subarray(0, to),
    high: c.high.subarray(0, to),
    low: c.low.subarray(0, to),
    close: c.close.subarray(0, to),
    volume: c.volume.subarray(0, to),
    length: to,
  };
}

// ---------------------------------------------------------------- gaps

/** [from, to) runs of candles whose open times follow each other by exactly one timeframe */
export function segments(time: Float64Array, timeframeMs: number, from = 0, to = time.length): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  if (to <= from) return out;
  let a = from;
  for (let i = from + 1; i < to; i++) {
    if ((time[i] as number) - (time[i - 1] as number) !== timeframeMs) {
      out.push([a, i]);
      a = i;
    }
  }
  out.push([a, to]);
  return out;
}

/**
 * Decisions for every candle of `c`, the strategy run separately on each gap-free segment (its
 * warm-up starts again after a hole). `tick` is called as candles are decided.
 */
export async function decideAll(c: SeriesColumns & { time: Float64Array }, timeframeMs: number, strategy: BacktestStrategy, tick: Tick): Promise<Int8Array> {
  const out = new Int8Array(c.length);
  for (const [a, b] of segments(c.time, timeframeMs)) {
    const view = out.subarray(a, b);
    const r = strategy.decide(sliceOhlcv(c, a, b), view, tick);
    if (r !== undefined) await r;
    else await tick(b - a);
  }
  return out;
}
