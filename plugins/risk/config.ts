import { z } from 'zod';
import { TIMEFRAMES } from '../../src/kernel/index.js';

/**
 * The risk plugin's config (plugins.settings.risk). Every key has a default so the plugin runs
 * with no section at all. The defaults are sized for the default paper account (100,000 USDT):
 * an operator with a different account changes them here, and an admin can change the limits
 * (not the sizing or the guard interval) at run time with `/limits set`.
 *
 * Amounts are in the desk currency (`currency`, by default the market's default quote, USDT on
 * binance). A limit is the largest allowed value: equal passes, above refuses or breaches.
 */

const SYMBOL = /^(?:[a-z][a-z0-9]*:)?[A-Z0-9]{1,20}\/[A-Z0-9]{1,20}$/;

/** the fields of a limit, without defaults: shared by the config and by `/limits set` validation */
export const limitSchemas = {
  /** largest notional of one order */
  maxOrderNotional: z.number().positive(),
  /** largest notional of one market's position after an order (worst case: open orders on that side fill too) */
  maxPositionNotional: z.number().positive(),
  /** largest sum of |position| × price over every market */
  maxGrossExposure: z.number().positive(),
  /** largest number of open orders, counting the new one */
  maxOpenOrders: z.number().int().min(1).max(10_000),
  /** markets that may be traded, "BTC/USDT" (any exchange) or "kraken:BTC/USD"; empty: every market */
  allowedSymbols: z.array(z.string().regex(SYMBOL, 'a symbol like BTC/USDT or kraken:BTC/USD')).max(500),
  /** widest best bid/ask spread an order may meet */
  maxSpreadBps: z.number().positive().max(10_000),
  /** least quote notional within 1 % of the price on the order's side of the book (0: no minimum) */
  minBookDepthQuote: z.number().min(0),
  /** how far a limit price may be from the last price, in % of the last price */
  priceBandPct: z.number().positive().max(100),
  /** largest loss of the UTC day (realised today + unrealised now) before trading halts */
  dailyLossLimit: z.number().positive(),
  /** largest fall of equity from its peak, in %, before trading halts */
  maxDrawdownPct: z.number().positive().max(100),
  /** oldest price the desk trades on (pre-trade) or holds a position or open order on (guard) */
  staleDataSeconds: z.number().int().min(1).max(86_400),
  /** most broker failures (orders in state "failed") in the window before trading halts */
  'brokerErrorRate.maxFailures': z.number().int().min(1).max(10_000),
  'brokerErrorRate.windowMinutes': z.number().int().min(1).max(1440),
} as const;

export type LimitName = keyof typeof limitSchemas;
export const LIMIT_NAMES = Object.keys(limitSchemas) as LimitName[];

/** The limits in force: config defaults with the `/limits set` overrides on top. Flat, by limit name. */
export type Limits = { [K in LimitName]: z.output<(typeof limitSchemas)[K]> };

export const DEFAULT_LIMITS: Limits = {
  maxOrderNotional: 10_000,
  maxPositionNotional: 25_000,
  maxGrossExposure: 50_000,
  maxOpenOrders: 20,
  allowedSymbols: [],
  maxSpreadBps: 50,
  minBookDepthQuote: 10_000,
  priceBandPct: 5,
  dailyLossLimit: 3_000,
  maxDrawdownPct: 10,
  staleDataSeconds: 300,
  'brokerErrorRate.maxFailures': 3,
  'brokerErrorRate.windowMinutes': 15,
};

const L = limitSchemas;
const D = DEFAULT_LIMITS;

export const sizingSchema = z
  .object({
    /** sizing without a stop: volatility targeting, or capped fractional Kelly from the desk's own ledger */
    method: z.enum(['volatility', 'kelly']).default('volatility'),
    /** refuse a risk% above this (a typo like 50 instead of 0.5 must not size a huge order) */
    maxRiskPct: z.number().positive().max(100).default(5),
    /**
     * volatility: cap on one position's annualised volatility as % of equity. The trader's riskPct
     * sets the position's one-day volatility; this caps it (40 % a year ≈ 2.1 % a day).
     */
    targetVolPct: z.number().positive().max(1000).default(40),
    /** candles realised volatility is measured on; 1h × 720 = the last 30 days */
    volTimeframe: z.enum(TIMEFRAMES).default('1h'),
    volLookback: z.number().int().min(10).max(5000).default(720),
    /** fraction of the full Kelly bet used (0.5: half Kelly, the usual hedge against estimation error) */
    kellyFraction: z.number().positive().max(1).default(0.5),
    /** largest share of equity a Kelly-sized order may take */
    kellyCap: z.number().positive().max(1).default(0.25),
    /** fewer closed trades than this in the ledger: Kelly refuses (a win rate of 5 trades is noise) */
    kellyMinTrades: z.number().int().min(5).max(100_000).default(30),
    /** how far back the ledger is read for Kelly's win rate and payoff */
    kellyLookbackDays: z.number().int().min(1).max(3650).default(90),
  })
  .strict();

export const riskConfigSchema = z
  .object({
    /** the desk currency limits, PnL and equity are in; default: the market's default quote (USDT on binance) */
    currency: z.string().regex(/^[A-Z0-9]{2,12}$/, 'a currency code like "USDT"').nullable().default(null),
    /** exchange whose tickers value balances in the desk currency; default: the market's default exchange */
    exchange: z.string().regex(/^[a-z][a-z0-9]*$/).nullable().default(null),
    maxOrderNotional: L.maxOrderNotional.default(D.maxOrderNotional), // 10,000
    maxPositionNotional: L.maxPositionNotional.default(D.maxPositionNotional), // 25,000
    maxGrossExposure: L.maxGrossExposure.default(D.maxGrossExposure), // 50,000
    maxOpenOrders: L.maxOpenOrders.default(D.maxOpenOrders), // 20
    allowedSymbols: L.allowedSymbols.default([]), // every market
    maxSpreadBps: L.maxSpreadBps.default(D.maxSpreadBps), // 50 bps
    minBookDepthQuote: L.minBookDepthQuote.default(D.minBookDepthQuote), // 10,000
    priceBandPct: L.priceBandPct.default(D.priceBandPct), // 5 %
    dailyLossLimit: L.dailyLossLimit.default(D.dailyLossLimit), // 3,000
    maxDrawdownPct: L.maxDrawdownPct.default(D.maxDrawdownPct), // 10 %
    staleDataSeconds: L.staleDataSeconds.default(D.staleDataSeconds), // 300 s
    brokerErrorRate: z
      .object({
        maxFailures: L['brokerErrorRate.maxFailures'].default(D['brokerErrorRate.maxFailures']), // 3
        windowMinutes: L['brokerErrorRate.windowMinutes'].default(D['brokerErrorRate.windowMinutes']), // 15 min
      })
      .strict()
      .prefault({}),
    sizing: sizingSchema.prefault({}),
    /** how often the running guards (daily loss, drawdown, stale data, broker errors) are evaluated */
    guardIntervalSeconds: z.number().int().min(1).max(3600).default(30),
    /** halt when the market data of an exchange the desk holds positions or orders on goes down (its circuit opens) */
    haltOnExchangeOutage: z.boolean().default(false),
  })
  .strict();

export type RiskConfig = z.output<typeof riskConfigSchema>;
export type SizingConfig = z.output<typeof sizingSchema>;

/** the config's limits, flat by limit name */
export function configLimits(cfg: RiskConfig): Limits {
  return {
    maxOrderNotional: cfg.maxOrderNotional,
    maxPositionNotional: cfg.maxPositionNotional,
    maxGrossExposure: cfg.maxGrossExposure,
    maxOpenOrders: cfg.maxOpenOrders,
    allowedSymbols: [...cfg.allowedSymbols],
    maxSpreadBps: cfg.maxSpreadBps,
    minBookDepthQuote: cfg.minBookDepthQuote,
    priceBandPct: cfg.priceBandPct,
    dailyLossLimit: cfg.dailyLossLimit,
    maxDrawdownPct: cfg.maxDrawdownPct,
    staleDataSeconds: cfg.staleDataSeconds,
    'brokerErrorRate.maxFailures': cfg.brokerErrorRate.maxFailures,
    'brokerErrorRate.windowMinutes': cfg.brokerErrorRate.windowMinutes,
  };
}
