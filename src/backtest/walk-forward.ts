import { runEngine, type EngineCandles, type EngineSettings, type Trade } from './engine.js';
import { computeMetrics, type Metrics } from './metrics.js';
import { decideAll, type ParamStrategy, type Params, type Tick } from './strategy.js';

/**
 * Walk-forward: rolling train/test windows over the test range [start, end). Window w trains on
 * candles [a, a + train) and tests on [a + train, a + train + test), a = start + w × test. On
 * each train window every parameter set of the strategy's grid is backtested and the best by
 * the objective is kept (ties: the first in grid order); only the following test window is
 * scored with it. Each test run starts flat with the equity the previous test window ended with,
 * and sells what it holds at the window's last close; the test windows, chained, are the
 * out-of-sample curve the metrics describe. Parameters are never chosen on data they are scored
 * on, and each decision still reads only candles up to itself (indicators may use candles before
 * a window: they are in its past).
 */

export const OBJECTIVES = ['sharpe', 'sortino', 'return'] as const;
export type Objective = (typeof OBJECTIVES)[number];

export interface WalkForwardSettings {
  /** candles per train window */
  train: number;
  /** candles per test window (and the step between windows) */
  test: number;
  /** what the train windows are ranked by; an undefined Sharpe/Sortino (no variance: no trades) counts as 0 */
  objective: Objective;
}

export interface WalkForwardWindow {
  trainStart: number;
  trainEnd: number;
  testStart: number;
  testEnd: number;
  params: Params;
  /** the objective's value on the train window */
  trainScore: number;
  trainTrades: number;
  testReturn: number;
  testTrades: number;
}

export interface WalkForwardResult {
  windows: WalkForwardWindow[];
  /** candles [testStart of the first window, testEnd of the last) */
  start: number;
  end: number;
  equity: Float64Array;
  held: Uint8Array;
  trades: Trade[];
  finalEquity: number;
  /** parameter sets tried per window */
  gridSize: number;
}

export function objectiveOf(m: Metrics, objective: Objective): number {
  switch (objective) {
    case 'sharpe':
      return m.sharpe ?? 0;
    case 'sortino':
      return m.sortino ?? 0;
    default:
      return m.totalReturn;
  }
}

export function windowCount(start: number, end: number, w: Pick<WalkForwardSettings, 'train' | 'test'>): number {
  return Math.max(0, Math.floor((end - start - w.train) / w.test));
}

export async function walkForward(
  c: EngineCandles & { time: Float64Array; timeframeMs: number },
  space: ParamStrategy,
  w: WalkForwardSettings,
  settings: EngineSettings,
  start: number,
  end: number,
  tick: Tick,
): Promise<WalkForwardResult> {
  if (!(Number.isInteger(w.train) && w.train >= 2 && Number.isInteger(w.test) && w.test >= 2)) throw new RangeError(`walk-forward windows: train ${w.train}, test ${w.test} (whole numbers of candles, at least 2)`);
  const count = windowCount(start, end, w);
  if (count < 1) {
    throw new RangeError(`walk-forward needs at least ${w.train + w.test} candles (train ${w.train} + test ${w.test}); the range has ${end - start}`);
  }
  // every parameter set's decisions over the whole series, once (each reads candles ≤ itself)
  const grid = space.grid;
  const decisions: Int8Array[] = [];
  for (const p of grid) decisions.push(await decideAll(c, c.timeframeMs, space.make(p), tick));

  const windows: WalkForwardWindow[] = [];
  const first = start + w.train;
  const last = first + count * w.test;
  const equity = new Float64Array(last - first);
  const held = new Uint8Array(last - first);
  const trades: Trade[] = [];
  let capital = settings.initialCash;
  for (let k = 0; k < count; k++) {
    const a = start + k * w.test;
    const ts = a + w.train;
    const te = ts + w.test;
    let best = -1;
    let bestScore = Number.NEGATIVE_INFINITY;
    let bestTrades = 0;
    for (let g = 0; g < grid.length; g++) {
      const r = runEngine(c, decisions[g] as Int8Array, settings, a, ts);
      const m = computeMetrics({ equity: r.equity, time: c.time.subarray(a, ts), timeframeMs: c.timeframeMs, initialEquity: r.initialCash, held: r.held, trades: r.trades });
      const score = objectiveOf(m, w.objective);
      if (score > bestScore) {
        bestScore = score;
        best = g;
        bestTrades = r.trades.length;
      }
    }
    if (best < 0) best = 0;
    const test = runEngine(c, decisions[best] as Int8Array, { ...settings, initialCash: capital }, ts, te);
    equity.set(test.equity, ts - first);
    held.set(test.held, ts - first);
    trades.push(...test.trades);
    windows.push({
      trainStart: a,
      trainEnd: ts,
      testStart: ts,
      testEnd: te,
      params: grid[best] as Params,
      trainScore: bestScore,
      trainTrades: bestTrades,
      testReturn: test.finalEquity / capital - 1,
      testTrades: test.trades.length,
    });
    capital = test.finalEquity;
    await tick(0);
  }
  return { windows, start: first, end: last, equity, held, trades, finalEquity: capital, gridSize: grid.length };
}
