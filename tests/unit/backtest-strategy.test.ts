import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLAT, LONG, NO_DECISION, runEngine, type EngineSettings } from '../../src/backtest/engine.js';
import { computeMetrics } from '../../src/backtest/metrics.js';
import { backtestCandles, type RunSettings } from '../../src/backtest/run.js';
import { decideAll, fromSignalStrategy, segments, smaCross, smaCrossDecisions } from '../../src/backtest/strategy.js';
import { walkForward } from '../../src/backtest/walk-forward.js';
import { sliceCandles, type Candles } from '../../src/market/types.js';
import { strategiesService } from '../../plugins/signals/index.js';
import { Indicators } from '../../plugins/signals/rules.js';
import { compileStrategies, evaluate, evaluateAt } from '../../plugins/signals/strategies.js';
import { recordedCandles } from '../helpers/recorded.js';

/** Strategies, gaps, walk-forward and look-ahead on the recorded Binance 1h data. */

const HOUR = 3_600_000;
const btc = recordedCandles('binance', 'BTC/USDT', '1h');
const eth = recordedCandles('binance', 'ETH/USDT', '1h');
const service = strategiesService(compileStrategies());
const noTick = (): void => undefined;

const SETTINGS: EngineSettings = {
  initialCash: 10_000,
  sizing: { kind: 'fraction', fraction: 1 },
  feeRate: 0.001,
  slippage: { baseBps: 2, impactBps: 1 },
  exits: { stopLoss: null, takeProfit: null, trailingStop: null },
};
const RUN: RunSettings = {
  initialCash: 10_000,
  sizing: { kind: 'fraction', fraction: 1 },
  exits: SETTINGS.exits,
  costs: { feeRate: 0.001, feeSource: 'test', slippage: SETTINGS.slippage },
  walkForward: null,
};

/** the longest gap-free stretch of a series */
function longestRun(c: Candles): Candles {
  const segs = segments(c.time, c.timeframeMs);
  const [a, b] = segs.reduce((x, y) => (y[1] - y[0] > x[1] - x[0] ? y : x));
  return sliceCandles(c, a, b);
}

describe('sma-cross', () => {
  it('is long exactly while SMA(fast) > SMA(slow) (plain sums), no decision before slow candles', () => {
    const c = longestRun(btc);
    const out = new Int8Array(c.length);
    smaCrossDecisions(c.close, 10, 30, out);
    const mean = (to: number, n: number): number => {
      let s = 0;
      for (let j = to - n + 1; j <= to; j++) s += c.close[j] as number;
      return s / n;
    };
    for (let i = 0; i < c.length; i += 7) {
      if (i < 29) {
        expect(out[i]).toBe(NO_DECISION);
        continue;
      }
      const f = mean(i, 10);
      const s = mean(i, 30);
      // skip float ties
      if (Math.abs(f - s) < 1e-6 * s) continue;
      expect(out[i], `candle ${i}`).toBe(f > s ? LONG : FLAT);
    }
  });

  it('checks its parameters', () => {
    expect(smaCross.check({ fast: 50, slow: 20 })).toMatch(/below slow/);
    expect(smaCross.check({ fast: 5, slow: 20, other: 1 })).toMatch(/no parameter "other"/);
    expect(smaCross.check({})).toBeNull();
    expect(smaCross.make({ fast: 10 }).label).toBe('sma-cross(10/50)');
    expect(smaCross.grid.every((p) => (p.fast as number) < (p.slow as number))).toBe(true);
  });
});

describe('gaps: strategies run per gap-free segment', () => {
  it('finds the recorded gaps and warms up again after each', async () => {
    const segs = segments(btc.time, HOUR);
    // SOURCES.md: 6 gaps in the BTC/USDT 1h record
    expect(segs).toHaveLength(7);
    const d = await decideAll(btc, HOUR, smaCross.make({ fast: 5, slow: 20 }), noTick);
    for (const [a, b] of segs) {
      for (let i = a; i < Math.min(b, a + 19); i++) expect(d[i], `candle ${i} of segment ${a}`).toBe(NO_DECISION);
      if (b - a > 19) expect(d[a + 19]).not.toBe(NO_DECISION);
    }
  });
});

describe('the signals plugin’s strategies through its service: the very code /signal runs', () => {
  it('evaluateSeries at candle i equals /signal’s evaluate on the candles up to i', () => {
    const c = sliceCandles(longestRun(btc), 0, 1400);
    for (const name of ['balanced', 'trend', 'meanrev']) {
      const strategy = compileStrategies().get(name);
      const s = service.get(name);
      if (strategy === undefined || s === undefined) throw new Error(`no strategy ${name}`);
      const r = s.evaluateSeries(c, { from: 1000, to: 1400 });
      for (const i of [1000, 1123, 1250, 1399]) {
        const live = evaluate(strategy, sliceCandles(c, 0, i + 1));
        expect(r.score[i - 1000], `${name} at ${i}`).toBe(live.score);
        expect(r.direction[i - 1000]).toBe(live.direction === 'long' ? 1 : live.direction === 'short' ? -1 : 0);
      }
      // before the warm-up: no score
      const early = s.evaluateSeries(c, { from: 0, to: strategy.warmup });
      expect(Number.isNaN(early.score[strategy.warmup - 2] as number)).toBe(true);
      expect(early.score[strategy.warmup - 1]).toBe(evaluateAt(strategy, new Indicators(c), strategy.warmup - 1).score);
    }
  });

  it('a long signal buys, flat or short ones are flat (spot), no score is no decision', async () => {
    const s = service.get('momentum');
    if (s === undefined) throw new Error('no momentum');
    const c = sliceCandles(longestRun(eth), 0, 900);
    const out = new Int8Array(c.length);
    await fromSignalStrategy(s).decide(c, out, noTick);
    const r = s.evaluateSeries(c);
    for (let i = 0; i < c.length; i++) {
      const want = Number.isNaN(r.score[i] as number) ? NO_DECISION : r.direction[i] === 1 ? LONG : FLAT;
      expect(out[i]).toBe(want);
    }
  });
});

describe('no look-ahead (fast-check on recorded candles): appending future candles never changes a past decision', () => {
  const base = sliceCandles(longestRun(btc), 0, 2000);

  it('sma-cross decisions', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 1999 }), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 2, max: 100 }), async (k, fast, extra) => {
        const strategy = smaCross.make({ fast, slow: fast + extra });
        const full = await decideAll(base, HOUR, strategy, noTick);
        const past = await decideAll(sliceCandles(base, 0, k), HOUR, strategy, noTick);
        expect(Array.from(past)).toEqual(Array.from(full.subarray(0, k)));
      }),
      { numRuns: 200 },
    );
  });

  it('a signals strategy’s decisions (balanced)', async () => {
    const s = service.get('balanced');
    if (s === undefined) throw new Error('no balanced');
    const strategy = fromSignalStrategy(s);
    const c = sliceCandles(base, 0, 900);
    const full = await decideAll(c, HOUR, strategy, noTick);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 899 }), async (k) => {
        const past = await decideAll(sliceCandles(c, 0, k), HOUR, strategy, noTick);
        expect(Array.from(past)).toEqual(Array.from(full.subarray(0, k)));
      }),
      { numRuns: 12 },
    );
  });

  it('the whole backtest: equity and trades up to the cut are the same with or without the later candles', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 60, max: 1999 }), fc.integer({ min: 0, max: 50 }), async (k, start) => {
        const strategy = smaCross.make({ fast: 10, slow: 30 });
        const meta = { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', timeframeMs: HOUR, source: 'replay' as const };
        const full = await backtestCandles({ candles: base, meta, start }, strategy, RUN);
        const cut = await backtestCandles({ candles: sliceCandles(base, 0, k), meta, start }, strategy, RUN);
        const n = k - start - 1;
        expect(Array.from(cut.equity.subarray(0, n))).toEqual(Array.from(full.equity.subarray(0, n)));
        const before = (r: typeof full) => r.trades.filter((t) => t.exitIndex < k - 1);
        expect(before(cut)).toEqual(before(full));
      }),
      { numRuns: 100 },
    );
  });
});

describe('walk-forward', () => {
  const c = { ...longestRun(btc), timeframeMs: HOUR };
  const w = { train: 600, test: 200, objective: 'sharpe' as const };

  it('picks each window’s parameters by the objective on its train window only', async () => {
    const r = await walkForward(c, smaCross, w, SETTINGS, 0, 2000, noTick);
    expect(r.windows).toHaveLength(7);
    expect(r.start).toBe(600);
    expect(r.end).toBe(2000);
    for (const win of r.windows.slice(0, 2)) {
      let best = Number.NEGATIVE_INFINITY;
      let bestParams = {};
      for (const p of smaCross.grid) {
        const d = await decideAll(c, HOUR, smaCross.make(p), noTick);
        const e = runEngine(c, d, SETTINGS, win.trainStart, win.trainEnd);
        const m = computeMetrics({ equity: e.equity, time: c.time.subarray(win.trainStart, win.trainEnd), timeframeMs: HOUR, initialEquity: 10_000, held: e.held, trades: e.trades });
        const score = m.sharpe ?? 0;
        if (score > best) {
          best = score;
          bestParams = p;
        }
      }
      expect(win.params).toEqual(bestParams);
      expect(win.trainScore).toBeCloseTo(best, 12);
      expect(win.testStart).toBe(win.trainEnd);
    }
  });

  it('chains the test windows: the final equity is the product of their returns; the trades are theirs', async () => {
    const r = await walkForward(c, smaCross, w, SETTINGS, 0, 2000, noTick);
    const product = r.windows.reduce((e, x) => e * (1 + x.testReturn), 10_000);
    expect(r.finalEquity).toBeCloseTo(product, 6);
    expect(r.equity[r.equity.length - 1]).toBeCloseTo(r.finalEquity, 9);
    expect(r.trades.length).toBe(r.windows.reduce((a, x) => a + x.testTrades, 0));
    for (const t of r.trades) expect(t.entryIndex).toBeGreaterThanOrEqual(600);
  });

  it('later candles never change an earlier window (no look-ahead in the fitting)', async () => {
    const full = await walkForward(c, smaCross, w, SETTINGS, 0, 2000, noTick);
    const cut = await walkForward({ ...sliceCandles(c, 0, 1400), timeframeMs: HOUR }, smaCross, w, SETTINGS, 0, 1400, noTick);
    expect(cut.windows).toHaveLength(4);
    expect(cut.windows).toEqual(full.windows.slice(0, 4));
  });

  it('refuses a range too short for one window', async () => {
    await expect(walkForward(c, smaCross, w, SETTINGS, 0, 700, noTick)).rejects.toThrow(/at least 800 candles/);
  });
});
