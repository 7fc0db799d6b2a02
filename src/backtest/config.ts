import { z } from 'zod';
import { OBJECTIVES } from './walk-forward.js';

/**
 * Settings of backtests (plugins.settings.backtest; `deskbot backtest` reads the same section, so
 * chat and the CLI compute the same numbers). The fee and slippage defaults are the paper
 * broker's defaults (trading.paper); a plugin cannot read the trading section, so a desk that
 * changes trading.paper.fees or .slippage should set the same values here.
 */
export const backtestConfigSchema = z
  .object({
    /** quote currency the strategy and buy-and-hold start with */
    initialCash: z.number().positive().max(1e12).default(10_000),
    /** position size: share of equity (1 = all in) unless fixedAmount is set */
    fraction: z.number().gt(0).max(1).default(1),
    /** a fixed quote amount per entry (fee included) instead of a share of equity */
    fixedAmount: z.number().positive().nullable().default(null),
    /** used when the exchange's markets give no taker fee (recorded data has none): the paper broker's default */
    fees: z.object({ taker: z.number().min(0).max(0.1).default(0.001) }).strict().prefault({}),
    /** the paper broker's candle slippage model: baseBps + impactBps × sqrt(notional / candle quote volume) × 100 */
    slippage: z.object({ baseBps: z.number().min(0).max(500).default(2), impactBps: z.number().min(0).max(10_000).default(1) }).strict().prefault({}),
    /** exits applied to every run unless the command sets them; percent, null = off */
    exits: z
      .object({
        stopLossPct: z.number().gt(0).lt(100).nullable().default(null),
        takeProfitPct: z.number().gt(0).max(10_000).nullable().default(null),
        trailingStopPct: z.number().gt(0).lt(100).nullable().default(null),
      })
      .strict()
      .prefault({}),
    /** test candles when no start is given */
    defaultCandles: z.number().int().min(10).max(1_000_000).default(5000),
    /** most test candles one run may read */
    maxCandles: z.number().int().min(100).max(5_000_000).default(200_000),
    walkForward: z
      .object({
        train: z.number().int().min(10).max(1_000_000).default(2000),
        test: z.number().int().min(10).max(1_000_000).default(500),
        objective: z.enum(OBJECTIVES).default('sharpe'),
      })
      .strict()
      .prefault({}),
    /** runs at once per desk instance; more are refused with the running ones named */
    maxConcurrent: z.number().int().min(1).max(16).default(2),
    /** a run still going after this long posts its progress to the channel, then every progressEveryMs */
    progressAfterMs: z.number().int().min(0).max(600_000).default(3000),
    progressEveryMs: z.number().int().min(1000).max(3_600_000).default(15_000),
  })
  .strict();

export type BacktestConfig = z.output<typeof backtestConfigSchema>;
