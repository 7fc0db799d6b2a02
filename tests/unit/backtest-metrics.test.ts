import { describe, expect, it } from 'vitest';
import type { Trade } from '../../src/backtest/engine.js';
import { computeMetrics, drawdownSeries, YEAR_MS } from '../../src/backtest/metrics.js';

/**
 * Metrics on HAND-WRITTEN equity curves (test inputs chosen so each definition can be checked
 * by hand; nothing here is a price).
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2021, 0, 1);

function curve(values: number[], tf = HOUR, held?: number[]) {
  return {
    equity: Float64Array.from(values),
    time: Float64Array.from(values.map((_, i) => T0 + i * tf)),
    timeframeMs: tf,
    held: Uint8Array.from(held ?? values.map(() => 0)),
  };
}

function trade(netPnl: number, netReturn = netPnl / 1000, fees = 1, slippageCost = 0.5): Trade {
  return {
    entryIndex: 0,
    exitIndex: 1,
    entryTime: T0,
    exitTime: T0 + HOUR,
    quantity: 1,
    entryPrice: 1,
    exitPrice: 1,
    entryReference: 1,
    exitReference: 1,
    entryNotional: 1000,
    exitValue: 1000 + netPnl + fees,
    entryFee: fees / 2,
    exitFee: fees / 2,
    grossPnl: netPnl + fees,
    fees,
    netPnl,
    netReturn,
    slippageCost,
    reason: 'signal',
  };
}

describe('computeMetrics', () => {
  it('total return, CAGR over the elapsed time, Sharpe and Sortino from per-candle returns annualised by the timeframe', () => {
    // TEST INPUT: daily marks
    const eq = [1010, 1000, 1030, 1020, 1050];
    const m = computeMetrics({ ...curve(eq, DAY), initialEquity: 1000, trades: [] });
    expect(m.totalReturn).toBeCloseTo(0.05, 12);
    expect(m.years).toBeCloseTo((5 * DAY) / YEAR_MS, 12);
    expect(m.cagr).toBeCloseTo(1.05 ** (YEAR_MS / (5 * DAY)) - 1, 9);
    const r = [1010 / 1000 - 1, 1000 / 1010 - 1, 1030 / 1000 - 1, 1020 / 1030 - 1, 1050 / 1020 - 1];
    const mean = r.reduce((a, b) => a + b, 0) / r.length;
    const sd = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / (r.length - 1));
    const dd = Math.sqrt(r.reduce((a, b) => a + Math.min(0, b) ** 2, 0) / r.length);
    expect(m.sharpe).toBeCloseTo((mean / sd) * Math.sqrt(365), 9);
    expect(m.sortino).toBeCloseTo((mean / dd) * Math.sqrt(365), 9);
    expect(m.startTime).toBe(T0);
    expect(m.endTime).toBe(T0 + 5 * DAY);
  });

  it('max drawdown from the running peak (the initial equity counts), its duration to recovery, and Calmar', () => {
    // TEST INPUT: peak 1200 at the close of candle 1, trough 900 at candle 3, back to 1200 at candle 5
    const eq = [1100, 1200, 1000, 900, 1100, 1200, 1300];
    const m = computeMetrics({ ...curve(eq), initialEquity: 1000, trades: [] });
    expect(m.maxDrawdown).toBeCloseTo(0.25, 12);
    expect(m.maxDrawdownPeakTime).toBe(T0 + 2 * HOUR);
    expect(m.maxDrawdownTroughTime).toBe(T0 + 4 * HOUR);
    expect(m.maxDrawdownRecovered).toBe(true);
    expect(m.maxDrawdownDurationMs).toBe(4 * HOUR);
    expect(m.longestDrawdownMs).toBe(4 * HOUR);
    expect(m.calmar).toBeCloseTo((m.cagr as number) / 0.25, 9);
  });

  it('a drawdown not recovered by the end lasts to the end and says so', () => {
    // TEST INPUT: below the initial equity from the first mark on
    const m = computeMetrics({ ...curve([990, 950, 980]), initialEquity: 1000, trades: [] });
    expect(m.maxDrawdown).toBeCloseTo(0.05, 12);
    expect(m.maxDrawdownRecovered).toBe(false);
    expect(m.maxDrawdownPeakTime).toBe(T0);
    expect(m.maxDrawdownDurationMs).toBe(3 * HOUR);
    expect(m.longestDrawdownMs).toBe(3 * HOUR);
  });

  it('undefined metrics are null, not 0 or ∞', () => {
    // TEST INPUT: a flat curve and no trades
    const m = computeMetrics({ ...curve([1000, 1000, 1000]), initialEquity: 1000, trades: [] });
    expect(m.totalReturn).toBe(0);
    expect(m.sharpe).toBeNull();
    expect(m.sortino).toBeNull();
    expect(m.maxDrawdown).toBe(0);
    expect(m.maxDrawdownDurationMs).toBe(0);
    expect(m.calmar).toBeNull();
    expect(m.winRate).toBeNull();
    expect(m.profitFactor).toBeNull();
    expect(m.averageTrade).toBeNull();
    // rising only: no downside deviation
    const up = computeMetrics({ ...curve([1001, 1003, 1010]), initialEquity: 1000, trades: [] });
    expect(up.sortino).toBeNull();
    expect(up.sharpe).not.toBeNull();
  });

  it('trade statistics: win rate, profit factor, average trade, fees, slippage; exposure from the held flags', () => {
    const trades = [trade(100, 0.1), trade(-50, -0.05), trade(30, 0.03), trade(-10, -0.01)];
    const m = computeMetrics({ ...curve([1000, 1050, 1070, 1070], HOUR, [1, 1, 0, 0]), initialEquity: 1000, trades });
    expect(m.trades).toBe(4);
    expect(m.winRate).toBe(0.5);
    expect(m.grossProfit).toBe(130);
    expect(m.grossLoss).toBe(-60);
    expect(m.profitFactor).toBeCloseTo(130 / 60, 12);
    expect(m.averageTrade).toBeCloseTo(70 / 4, 12);
    expect(m.averageTradeReturn).toBeCloseTo(0.07 / 4, 12);
    expect(m.fees).toBe(4);
    expect(m.slippageCost).toBe(2);
    expect(m.exposure).toBe(0.5);
  });

  it('drawdownSeries', () => {
    expect(Array.from(drawdownSeries(Float64Array.from([1100, 990, 1210]), 1000))).toEqual([0, expect.closeTo(0.1, 12), 0]);
  });
});
