import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buyAndHold, FLAT, LONG, NO_DECISION, runEngine, type EngineCandles, type EngineSettings, type Trade } from '../../src/backtest/engine.js';
import { backtestConfigSchema } from '../../src/backtest/config.js';
import { tradingConfigSchema } from '../../src/kernel/config/schema.js';

/**
 * The backtest engine on HAND-WRITTEN candle sequences. These are test inputs made up to pin
 * the fill, fee, slippage and exit rules to exact numbers; the product itself only ever reads
 * prices from an exchange or from recorded exchange data.
 */

const HOUR = 3_600_000;
const T0 = Date.UTC(2021, 0, 1);

/** TEST INPUT: [open, high, low, close, volume] rows, one per hour from T0 */
function handWritten(rows: Array<[number, number, number, number, number]>): EngineCandles {
  const col = (k: number): Float64Array => Float64Array.from(rows.map((r) => r[k] as number));
  return {
    time: Float64Array.from(rows.map((_, i) => T0 + i * HOUR)),
    open: col(0),
    high: col(1),
    low: col(2),
    close: col(3),
    volume: col(4),
    length: rows.length,
    timeframeMs: HOUR,
  };
}

/** TEST INPUT: flat candles at `price` with huge volume (slippage share ≈ 0) */
const flatRow = (price: number): [number, number, number, number, number] => [price, price, price, price, 1e12];

const NO_COSTS: EngineSettings = {
  initialCash: 1000,
  sizing: { kind: 'fraction', fraction: 1 },
  feeRate: 0,
  slippage: { baseBps: 0, impactBps: 0 },
  exits: { stopLoss: null, takeProfit: null, trailingStop: null },
};

const decide = (...d: number[]): Int8Array => Int8Array.from(d);

describe('fills: a decision at candle i fills at the open of candle i+1', () => {
  it('buys at the next open, sells at the open after the flat signal, marks equity at every close', () => {
    // TEST INPUT
    const c = handWritten([
      [100, 100, 100, 100, 1e12],
      [110, 120, 105, 115, 1e12],
      [120, 125, 118, 122, 1e12],
      [130, 131, 129, 130, 1e12],
      [90, 95, 85, 92, 1e12],
    ]);
    const r = runEngine(c, decide(LONG, LONG, FLAT, FLAT, FLAT), NO_COSTS);
    expect(r.trades).toHaveLength(1);
    const t = r.trades[0] as Trade;
    expect(t.entryIndex).toBe(1);
    expect(t.entryPrice).toBe(110);
    expect(t.exitIndex).toBe(3);
    expect(t.exitPrice).toBe(130);
    expect(t.reason).toBe('signal');
    expect(t.quantity).toBeCloseTo(1000 / 110, 12);
    // equity: flat at 0; long from the open of 1 to the open of 3
    expect(Array.from(r.equity)).toEqual([1000, (1000 / 110) * 115, (1000 / 110) * 122, (1000 / 110) * 130, (1000 / 110) * 130].map((x) => expect.closeTo(x, 9)));
    expect(Array.from(r.held)).toEqual([0, 1, 1, 0, 0]);
    expect(r.finalEquity).toBeCloseTo((1000 * 130) / 110, 9);
  });

  it('charges the taker fee on both fills and moves prices by the paper slippage model on the last closed candle', () => {
    // TEST INPUT: candle 0 closes at 100 with 50 base volume (quote volume 5,000)
    const c = handWritten([
      [100, 100, 100, 100, 50],
      [101, 101, 101, 101, 80],
      [105, 105, 105, 105, 10],
      [106, 106, 106, 106, 10],
    ]);
    const s: EngineSettings = { ...NO_COSTS, feeRate: 0.001, slippage: { baseBps: 2, impactBps: 1 } };
    const r = runEngine(c, decide(LONG, FLAT, FLAT, FLAT), s);
    const t = r.trades[0] as Trade;
    // buy: budget 1000 all in, fee included → notional 1000 / 1.001
    const notional = 1000 / 1.001;
    const buyBps = 2 + 1 * Math.sqrt(notional / (100 * 50)) * 100;
    expect(t.entryNotional).toBeCloseTo(notional, 9);
    expect(t.entryFee).toBeCloseTo(notional * 0.001, 9);
    expect(t.entryPrice).toBeCloseTo(101 * (1 + buyBps / 10_000), 9);
    // sell at the open of 2, slippage on candle 1 (close 101, volume 80)
    const qty = notional / t.entryPrice;
    const sellBps = 2 + Math.sqrt(Math.min(1, (qty * 105) / (101 * 80))) * 100;
    expect(t.exitPrice).toBeCloseTo(105 * (1 - sellBps / 10_000), 9);
    expect(t.exitFee).toBeCloseTo(qty * t.exitPrice * 0.001, 9);
    expect(r.finalEquity).toBeCloseTo(qty * t.exitPrice * 0.999, 9);
    expect(t.netPnl).toBeCloseTo(r.finalEquity - 1000, 9);
    expect(t.slippageCost).toBeCloseTo(qty * (t.entryPrice - 101) + qty * (105 - t.exitPrice), 9);
  });

  it('caps slippage at the paper broker maximum on a zero-volume candle', () => {
    // TEST INPUT: zero volume → share 1 → 2 + 100 bps
    const c = handWritten([[100, 100, 100, 100, 0], [100, 100, 100, 100, 0], [100, 100, 100, 100, 0]]);
    const r = runEngine(c, decide(LONG, LONG, LONG), { ...NO_COSTS, slippage: { baseBps: 2, impactBps: 1 } });
    expect((r.trades[0] as Trade).entryPrice).toBeCloseTo(100 * 1.0102, 9);
  });

  it('keeps the position through NO_DECISION and does not act on the last candle’s decision', () => {
    // TEST INPUT
    const c = handWritten([flatRow(10), flatRow(11), flatRow(12), flatRow(13), flatRow(14)]);
    const r = runEngine(c, decide(LONG, NO_DECISION, NO_DECISION, NO_DECISION, FLAT), NO_COSTS);
    expect(r.trades).toHaveLength(1);
    expect((r.trades[0] as Trade).reason).toBe('end');
    expect((r.trades[0] as Trade).exitIndex).toBe(4);
    expect((r.trades[0] as Trade).exitPrice).toBe(14);
    expect(r.finalEquity).toBeCloseTo((1000 / 11) * 14, 9);
  });

  it('ignores decisions before the start of the window', () => {
    // TEST INPUT
    const c = handWritten([flatRow(10), flatRow(11), flatRow(12), flatRow(13)]);
    const r = runEngine(c, decide(LONG, NO_DECISION, NO_DECISION, NO_DECISION), NO_COSTS, 1, 4);
    expect(r.trades).toHaveLength(0);
    expect(Array.from(r.equity)).toEqual([1000, 1000, 1000]);
  });

  it('sizes by a fraction of equity or a fixed quote amount, fee included', () => {
    // TEST INPUT
    const c = handWritten([flatRow(10), flatRow(10), flatRow(20), flatRow(20)]);
    const half = runEngine(c, decide(LONG, LONG, FLAT, FLAT), { ...NO_COSTS, feeRate: 0.01, sizing: { kind: 'fraction', fraction: 0.5 } });
    const t = half.trades[0] as Trade;
    expect(t.entryNotional + t.entryFee).toBeCloseTo(500, 9);
    expect(t.quantity).toBeCloseTo(500 / 1.01 / 10, 9);
    const fixed = runEngine(c, decide(LONG, LONG, FLAT, FLAT), { ...NO_COSTS, feeRate: 0.01, sizing: { kind: 'fixed', amount: 300 } });
    const f = fixed.trades[0] as Trade;
    expect(f.entryNotional + f.entryFee).toBeCloseTo(300, 9);
    // a fixed amount above the cash is capped at the cash
    const capped = runEngine(c, decide(LONG, LONG, FLAT, FLAT), { ...NO_COSTS, sizing: { kind: 'fixed', amount: 5000 } });
    expect((capped.trades[0] as Trade).entryNotional).toBeCloseTo(1000, 9);
  });

  it('refuses nonsense settings', () => {
    const c = handWritten([flatRow(10), flatRow(10)]);
    expect(() => runEngine(c, decide(LONG, LONG), { ...NO_COSTS, initialCash: 0 })).toThrow(/initial cash/);
    expect(() => runEngine(c, decide(LONG, LONG), { ...NO_COSTS, sizing: { kind: 'fraction', fraction: 1.5 } })).toThrow(/fraction/);
    expect(() => runEngine(c, decide(LONG, LONG), { ...NO_COSTS, exits: { stopLoss: 1.2, takeProfit: null, trailingStop: null } })).toThrow(/stopLoss/);
    expect(() => runEngine(c, decide(LONG), NO_COSTS)).toThrow(/decisions/);
    expect(() => runEngine(c, decide(LONG, LONG), NO_COSTS, 1, 1)).toThrow(/range/);
  });
});

describe('exits: stop-loss, take-profit, trailing stop (hand-written candles)', () => {
  const exits = (e: Partial<EngineSettings['exits']>): EngineSettings => ({ ...NO_COSTS, exits: { stopLoss: null, takeProfit: null, trailingStop: null, ...e } });

  it('a stop-loss fills at its level when the low reaches it', () => {
    // TEST INPUT: entry at 100, stop 10 % → 90; candle 2 dips to 89
    const c = handWritten([flatRow(100), [100, 102, 98, 101, 1e12], [100, 101, 89, 95, 1e12], flatRow(95)]);
    const r = runEngine(c, decide(LONG, LONG, LONG, LONG), exits({ stopLoss: 0.1 }));
    const t = r.trades[0] as Trade;
    expect(t.reason).toBe('stop-loss');
    expect(t.exitIndex).toBe(2);
    expect(t.exitPrice).toBeCloseTo(90, 9);
    expect(r.finalEquity).toBeCloseTo(900, 9);
    expect(Array.from(r.held)).toEqual([0, 1, 1, 0]);
  });

  it('a stop-loss gapped through fills at the open, not at the level', () => {
    // TEST INPUT: candle 2 opens at 80, below the 90 stop
    const c = handWritten([flatRow(100), flatRow(100), [80, 85, 78, 84, 1e12], flatRow(84)]);
    const r = runEngine(c, decide(LONG, LONG, LONG, LONG), exits({ stopLoss: 0.1 }));
    expect((r.trades[0] as Trade).exitPrice).toBe(80);
    expect(r.finalEquity).toBeCloseTo(800, 9);
  });

  it('a take-profit fills at its level; gapped above, at the open', () => {
    // TEST INPUT: entry 100, take-profit 20 % → 120
    const c = handWritten([flatRow(100), flatRow(100), [110, 125, 108, 112, 1e12], flatRow(112)]);
    const r = runEngine(c, decide(LONG, LONG, LONG, LONG), exits({ takeProfit: 0.2 }));
    expect((r.trades[0] as Trade).reason).toBe('take-profit');
    expect((r.trades[0] as Trade).exitPrice).toBeCloseTo(120, 9);
    // TEST INPUT: candle 2 opens at 130, above the level
    const g = handWritten([flatRow(100), flatRow(100), [130, 135, 128, 131, 1e12], flatRow(131)]);
    expect((runEngine(g, decide(LONG, LONG, LONG, LONG), exits({ takeProfit: 0.2 })).trades[0] as Trade).exitPrice).toBe(130);
  });

  it('when one candle reaches both the stop and the take-profit, the stop is assumed first (the worse case)', () => {
    // TEST INPUT: candle 2 spans 85..125 around entry 100 (stop 90, target 120)
    const c = handWritten([flatRow(100), flatRow(100), [100, 125, 85, 110, 1e12], flatRow(110)]);
    const t = runEngine(c, decide(LONG, LONG, LONG, LONG), exits({ stopLoss: 0.1, takeProfit: 0.2 })).trades[0] as Trade;
    expect(t.reason).toBe('stop-loss');
    expect(t.exitPrice).toBeCloseTo(90, 9);
  });

  it('a trailing stop follows the highest high of earlier candles and fills at its level', () => {
    // TEST INPUT: entry 100; highs 110, 130; trail 10 % → 117 after the 130 high
    const c = handWritten([
      flatRow(100),
      [100, 110, 99, 108, 1e12],
      [108, 130, 107, 128, 1e12],
      [128, 129, 116, 118, 1e12],
      flatRow(118),
    ]);
    const r = runEngine(c, decide(LONG, LONG, LONG, LONG, LONG), exits({ trailingStop: 0.1 }));
    const t = r.trades[0] as Trade;
    expect(t.reason).toBe('trailing-stop');
    expect(t.exitIndex).toBe(3);
    expect(t.exitPrice).toBeCloseTo(117, 9);
  });

  it('the trailing stop does not use the high of the candle it is checked on (no look-ahead inside a candle)', () => {
    // TEST INPUT: candle 2 makes a new high of 150 and a low of 134; with the new high the stop
    // would be 135 (hit), but within the candle the order of high and low is unknown: the stop
    // at that candle is 10 % below the earlier peak (110 → 99), not hit
    const c = handWritten([flatRow(100), [100, 110, 100, 105, 1e12], [105, 150, 134, 140, 1e12], flatRow(140)]);
    const r = runEngine(c, decide(LONG, LONG, LONG, LONG), exits({ trailingStop: 0.1 }));
    expect(r.trades[0]?.reason).toBe('end');
  });

  it('the tighter of stop-loss and trailing stop applies', () => {
    // TEST INPUT: entry 100, stop-loss 5 % → 95; trail 20 % below peak 110 → 88: the stop-loss is tighter
    const c = handWritten([flatRow(100), [100, 110, 100, 105, 1e12], [105, 106, 94, 96, 1e12], flatRow(96)]);
    const t = runEngine(c, decide(LONG, LONG, LONG, LONG), exits({ stopLoss: 0.05, trailingStop: 0.2 })).trades[0] as Trade;
    expect(t.reason).toBe('stop-loss');
    expect(t.exitPrice).toBeCloseTo(95, 9);
  });

  it('after a stop, a long signal that is still on does not buy again until the strategy has said flat', () => {
    // TEST INPUT
    const c = handWritten([flatRow(100), flatRow(100), [100, 100, 80, 85, 1e12], flatRow(85), flatRow(85), flatRow(86), flatRow(87)]);
    const r = runEngine(c, decide(LONG, LONG, LONG, LONG, FLAT, LONG, LONG), exits({ stopLoss: 0.1 }));
    expect(r.trades.map((t) => [t.entryIndex, t.exitIndex, t.reason])).toEqual([
      [1, 2, 'stop-loss'],
      [6, 6, 'end'],
    ]);
  });

  it('a stop is checked on the candle the position was bought at its open', () => {
    // TEST INPUT: bought at the open 100 of candle 1, which falls to 85 (stop 90)
    const c = handWritten([flatRow(100), [100, 101, 85, 88, 1e12], flatRow(88)]);
    const t = runEngine(c, decide(LONG, LONG, LONG), exits({ stopLoss: 0.1 })).trades[0] as Trade;
    expect([t.entryIndex, t.exitIndex, t.reason]).toEqual([1, 1, 'stop-loss']);
  });
});

describe('buy and hold on the same candles, same costs', () => {
  it('buys everything at the first open and sells at the last close, fees and slippage on both', () => {
    // TEST INPUT
    const c = handWritten([
      [100, 100, 100, 100, 10],
      [102, 110, 101, 108, 20],
      [108, 120, 100, 115, 30],
    ]);
    const s = { initialCash: 1000, feeRate: 0.001, slippage: { baseBps: 2, impactBps: 1 } };
    const r = buyAndHold(c, s, 1, 3);
    const notional = 1000 / 1.001;
    // slippage on the candle before the window (index 0: close 100, volume 10)
    const inBps = 2 + Math.sqrt(Math.min(1, notional / (100 * 10))) * 100;
    const price = 102 * (1 + inBps / 10_000);
    const qty = notional / price;
    const cash = 1000 - notional - notional * 0.001;
    expect(r.equity[0]).toBeCloseTo(cash + qty * 108, 9);
    // out at the last close, slippage on that (closed) candle
    const outBps = 2 + Math.sqrt(Math.min(1, (qty * 115) / (115 * 30))) * 100;
    const out = qty * 115 * (1 - outBps / 10_000);
    expect(r.finalEquity).toBeCloseTo(cash + out * 0.999, 9);
    expect(r.trades).toHaveLength(1);
    expect(r.trades[0]?.netPnl).toBeCloseTo(r.finalEquity - 1000, 9);
    expect(Array.from(r.held)).toEqual([1, 1]);
  });

  it('without costs is exactly the price ratio', () => {
    // TEST INPUT
    const c = handWritten([flatRow(50), flatRow(75), flatRow(60)]);
    expect(buyAndHold(c, { initialCash: 1000, feeRate: 0, slippage: { baseBps: 0, impactBps: 0 } }).finalEquity).toBeCloseTo(1200, 9);
  });
});

describe('the defaults are the paper broker’s', () => {
  it('fees and slippage default to trading.paper’s defaults', () => {
    const paper = tradingConfigSchema.parse({}).paper;
    const bt = backtestConfigSchema.parse({});
    expect(bt.fees.taker).toBe(paper.fees.taker);
    expect(bt.slippage).toEqual(paper.slippage);
  });
});

// ---------------------------------------------------------------- properties

/** TEST INPUT generator: random but valid OHLCV rows */
const rowsArb = fc
  .array(
    fc.record({
      open: fc.double({ min: 1, max: 1000, noNaN: true }),
      up: fc.double({ min: 0, max: 0.2, noNaN: true }),
      down: fc.double({ min: 0, max: 0.2, noNaN: true }),
      move: fc.double({ min: -0.15, max: 0.15, noNaN: true }),
      volume: fc.double({ min: 0, max: 1e6, noNaN: true }),
    }),
    { minLength: 2, maxLength: 120 },
  )
  .map((xs) =>
    xs.map(({ open, up, down, move, volume }): [number, number, number, number, number] => {
      const close = open * (1 + move);
      return [open, Math.max(open, close) * (1 + up), Math.min(open, close) * (1 - down), close, volume];
    }),
  );

const settingsArb = fc.record({
  initialCash: fc.double({ min: 100, max: 1e7, noNaN: true }),
  fraction: fc.double({ min: 0.05, max: 1, noNaN: true }),
  fixed: fc.option(fc.double({ min: 10, max: 1e6, noNaN: true }), { nil: null }),
  feeRate: fc.double({ min: 0, max: 0.01, noNaN: true }),
  baseBps: fc.double({ min: 0, max: 50, noNaN: true }),
  impactBps: fc.double({ min: 0, max: 20, noNaN: true }),
  stopLoss: fc.option(fc.double({ min: 0.01, max: 0.5, noNaN: true }), { nil: null }),
  takeProfit: fc.option(fc.double({ min: 0.01, max: 1, noNaN: true }), { nil: null }),
  trailingStop: fc.option(fc.double({ min: 0.01, max: 0.5, noNaN: true }), { nil: null }),
});

type SettingsDraw = typeof settingsArb extends fc.Arbitrary<infer T> ? T : never;

function toSettings(x: SettingsDraw): EngineSettings {
  return {
    initialCash: x.initialCash,
    sizing: x.fixed !== null ? { kind: 'fixed', amount: x.fixed } : { kind: 'fraction', fraction: x.fraction },
    feeRate: x.feeRate,
    slippage: { baseBps: x.baseBps, impactBps: x.impactBps },
    exits: { stopLoss: x.stopLoss, takeProfit: x.takeProfit, trailingStop: x.trailingStop },
  };
}

describe('properties (fast-check)', () => {
  it('reconciliation: final equity = initial cash + Σ trade gross PnL − Σ fees, to the cent', () => {
    fc.assert(
      fc.property(rowsArb, fc.array(fc.constantFrom(LONG, FLAT, NO_DECISION), { minLength: 120, maxLength: 120 }), settingsArb, (rows, ds, sx) => {
        const c = handWritten(rows);
        const s = toSettings(sx);
        const r = runEngine(c, Int8Array.from(ds.slice(0, rows.length)), s);
        const gross = r.trades.reduce((a, t) => a + t.grossPnl, 0);
        const fees = r.trades.reduce((a, t) => a + t.fees, 0);
        expect(Math.abs(r.finalEquity - (s.initialCash + gross - fees))).toBeLessThan(0.005);
        expect(r.finalEquity).toBe(r.equity[r.equity.length - 1]);
        // every trade: net = gross − fees, fees = entry + exit fee
        for (const t of r.trades) {
          expect(t.netPnl).toBeCloseTo(t.grossPnl - t.fees, 6);
          expect(t.fees).toBeCloseTo(t.entryFee + t.exitFee, 9);
          expect(t.exitIndex).toBeGreaterThanOrEqual(t.entryIndex);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('no look-ahead: appending candles never changes the equity, exposure or trades before the last original candle', () => {
    fc.assert(
      fc.property(rowsArb, rowsArb, fc.array(fc.constantFrom(LONG, FLAT, NO_DECISION), { minLength: 240, maxLength: 240 }), settingsArb, (past, future, ds, sx) => {
        const s = toSettings(sx);
        const all = [...past, ...future];
        const k = past.length;
        const d = Int8Array.from(ds.slice(0, all.length));
        const short = runEngine(handWritten(past), d.slice(0, k), s);
        const long = runEngine(handWritten(all), d, s);
        // up to candle k−2 the runs saw the same candles; at k−1 the short run sells what it holds ("end")
        expect(Array.from(short.equity.subarray(0, k - 1))).toEqual(Array.from(long.equity.subarray(0, k - 1)));
        expect(Array.from(short.held.subarray(0, k))).toEqual(Array.from(long.held.subarray(0, k)));
        const before = (ts: Trade[]): Trade[] => ts.filter((t) => t.exitIndex < k - 1);
        expect(before(short.trades)).toEqual(before(long.trades));
      }),
      { numRuns: 300 },
    );
  });
});
