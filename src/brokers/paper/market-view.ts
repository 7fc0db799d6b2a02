import type { TradingConfig } from '../../kernel/config/schema.js';
import { MarketError, NotEnoughDataError } from '../../market/errors.js';
import type { MarketData } from '../../market/service.js';
import { timeframeMs } from '../../market/timeframes.js';
import type { MarketInfo } from '../../market/types.js';
import type { CandleRef, PriceView } from './fill-model.js';
import { fmt, fmtMoney } from './format.js';

/**
 * What the paper broker reads from the market: the price view (book, else the latest closed
 * candle) and the market's rules (fees, steps, minima). Only MarketData methods are used, so
 * tests can wrap a real MarketData and replace one method (e.g. a hand-written order book).
 */
export type PaperMarket = Pick<MarketData, 'markets' | 'candles' | 'ticker' | 'orderBook' | 'now'>;

/** levels asked for when walking a book */
export const BOOK_DEPTH = 50;

/**
 * The book when the source has one; otherwise the latest closed candle of the finest timeframe
 * (of `timeframes`) that is recorded/served for the symbol, plus the ticker's bid/ask when given.
 * Only "the source has none" (NotEnoughDataError) falls through to the next source: any other
 * failure (exchange down, stale candles) is thrown, never papered over with an older price.
 */
export async function observe(market: PaperMarket, exchange: string, symbol: string, timeframes: readonly string[]): Promise<PriceView> {
  try {
    const book = await market.orderBook({ exchange, symbol, depth: BOOK_DEPTH });
    return { kind: 'book', exchange, symbol, book, bid: book.bids[0]?.[0] ?? null, ask: book.asks[0]?.[0] ?? null, time: book.time };
  } catch (e) {
    if (!(e instanceof NotEnoughDataError)) throw e;
  }
  const candle = await latestClosedCandle(market, exchange, symbol, timeframes);
  let bid: number | null = null;
  let ask: number | null = null;
  try {
    const t = await market.ticker({ exchange, symbol });
    bid = t.bid;
    ask = t.ask;
  } catch (e) {
    if (!(e instanceof NotEnoughDataError)) throw e;
  }
  return { kind: 'candle', exchange, symbol, candle, bid, ask, time: candle.closeTime };
}

/** finest timeframe first; a candle still open at the desk's now is never used */
export async function latestClosedCandle(market: PaperMarket, exchange: string, symbol: string, timeframes: readonly string[]): Promise<CandleRef> {
  const ordered = [...timeframes].sort((a, b) => (timeframeMs(a) ?? Infinity) - (timeframeMs(b) ?? Infinity));
  const now = market.now();
  for (const timeframe of ordered) {
    const tfMs = timeframeMs(timeframe);
    if (tfMs === undefined) throw new MarketError(`trading.paper.timeframes: "${timeframe}" is not a timeframe`);
    let c;
    try {
      c = await market.candles({ exchange, symbol, timeframe, limit: 3 });
    } catch (e) {
      if (e instanceof NotEnoughDataError) continue;
      throw e;
    }
    for (let i = c.length - 1; i >= 0; i--) {
      const openTime = c.time[i] as number;
      if (openTime + tfMs <= now) {
        return { timeframe, openTime, closeTime: openTime + tfMs, close: c.close[i] as number, volume: c.volume[i] as number };
      }
    }
  }
  throw new NotEnoughDataError(`${exchange} ${symbol}: no order book and no closed candle in ${ordered.join(', ')} — no price to fill at`);
}

export interface FeeRate {
  rate: number;
  /** "binance markets" or "config default: the exchange's markets give no fee" */
  source: string;
}

export interface MarketRules {
  info: MarketInfo;
  maker: FeeRate;
  taker: FeeRate;
}

/** The market's description and fee rates: the exchange's when it gives them, else the config's. */
export async function marketRules(market: PaperMarket, exchange: string, symbol: string, fees: TradingConfig['paper']['fees']): Promise<MarketRules> {
  const info = (await market.markets(exchange)).find((m) => m.symbol === symbol);
  if (info === undefined) throw new MarketError(`${exchange} has no market ${symbol}`);
  const pick = (given: number | null, fallback: number): FeeRate =>
    given !== null ? { rate: given, source: `${exchange} markets` } : { rate: fallback, source: "config default: the exchange's markets give no fee" };
  return { info, maker: pick(info.maker, fees.maker), taker: pick(info.taker, fees.taker) };
}

/** n is a whole number of `step`s (within float noise) */
function onStep(n: number, step: number): boolean {
  const k = n / step;
  return Math.abs(k - Math.round(k)) <= 1e-9 * Math.max(1, Math.abs(k));
}

/** The first rule of the market that the order breaks (amount step, minimum amount, price step), or null. */
export function checkOrderRules(info: MarketInfo, o: { amount: number; price?: number | undefined; stopPrice?: number | undefined }): string | null {
  const where = `${info.symbol}`;
  if (info.amountPrecision !== null && info.amountPrecision > 0 && !onStep(o.amount, info.amountPrecision)) {
    return `amount ${fmt(o.amount)} ${info.base} is not a multiple of the ${where} amount step ${fmt(info.amountPrecision)}`;
  }
  if (info.minAmount !== null && o.amount < info.minAmount) {
    return `amount ${fmt(o.amount)} ${info.base} is below the ${where} minimum of ${fmt(info.minAmount)} ${info.base}`;
  }
  if (info.pricePrecision !== null && info.pricePrecision > 0) {
    for (const [what, p] of [['limit price', o.price], ['stop price', o.stopPrice]] as const) {
      if (p !== undefined && !onStep(p, info.pricePrecision)) return `${what} ${fmt(p)} is not a multiple of the ${where} price step ${fmt(info.pricePrecision)}`;
    }
  }
  return null;
}

/** The market's minimum order value, checked against the notional the order would have. */
export function checkMinCost(info: MarketInfo, notional: number): string | null {
  if (info.minCost !== null && notional < info.minCost) {
    return `order value ${fmtMoney(notional)} ${info.quote} is below the ${info.symbol} minimum of ${fmtMoney(info.minCost)} ${info.quote}`;
  }
  return null;
}
