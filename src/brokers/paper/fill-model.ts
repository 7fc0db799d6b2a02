import type { Side } from '../../kernel/orders/types.js';
import type { BookLevel, OrderBook } from '../../market/types.js';
import { fmt, fmtBps, isoTime, sub } from './format.js';

/**
 * How the paper broker prices a fill, from real prices only (pure functions, no I/O).
 *
 * With an order book: a taker walks the opposite side level by level and pays the VWAP. A
 * market order the book cannot fill in full fails ("book too thin") rather than filling part of
 * it or pricing the rest from nowhere.
 *
 * Without a book (the recorded data has none): the close of the latest closed candle, moved
 * against the taker by the slippage model
 *     bps = baseBps + impactBps × sqrt(notional / (candle volume × close)) × 100
 * i.e. a square-root market-impact law on the order's share of that candle's quote volume.
 * Clamps: the share is capped at 1 (an order larger than the whole candle is priced as if it were
 * the whole candle; a zero-volume candle counts as share 1: there is no evidence of liquidity),
 * and the total at MAX_SLIPPAGE_BPS, so a sell price can never reach zero whatever the config.
 */

export const MAX_SLIPPAGE_BPS = 1000;

export interface SlippageModel {
  baseBps: number;
  impactBps: number;
}

/** The candle a book-less fill is priced from. */
export interface CandleRef {
  timeframe: string;
  openTime: number;
  /** open + timeframe: when its close was the price */
  closeTime: number;
  close: number;
  /** base volume */
  volume: number;
}

/** What the market shows now for one symbol: a real order book, or else the latest closed candle. */
export type PriceView =
  | { kind: 'book'; exchange: string; symbol: string; book: OrderBook; bid: number | null; ask: number | null; time: number }
  | {
      kind: 'candle';
      exchange: string;
      symbol: string;
      candle: CandleRef;
      /** the ticker's best bid/ask when the source gives them (the replay source does not) */
      bid: number | null;
      ask: number | null;
      time: number;
    };

export type Execution =
  | {
      ok: true;
      /** base amount filled (a limit may fill less than asked; a market order fills all or fails) */
      amount: number;
      /** average fill price */
      price: number;
      /** the price the fill started from: best level, or the candle close */
      reference: number;
      /** price vs reference, positive = worse for the taker */
      slippageBps: number;
      basis: string;
    }
  | { ok: false; reason: string };

/** The first price a taker on `side` meets: best ask for a buy, best bid for a sell; without a book the ticker's, else the last close. */
export function touch(view: PriceView, side: Side): number | null {
  const quoted = side === 'buy' ? view.ask : view.bid;
  if (quoted !== null || view.kind === 'book') return quoted;
  return view.candle.close;
}

/** A limit that the current price already reaches (buy: ask/last ≤ limit; sell: bid/last ≥ limit). */
export function marketable(view: PriceView, side: Side, limit: number): boolean {
  const t = touch(view, side);
  return t !== null && (side === 'buy' ? t <= limit : t >= limit);
}

/** A stop whose trigger the current price has crossed (buy stop: price ≥ stop; sell stop: price ≤ stop). */
export function stopTriggered(view: PriceView, side: Side, stop: number): boolean {
  const t = touch(view, side);
  return t !== null && (side === 'buy' ? t >= stop : t <= stop);
}

/** Slippage in bps of the candle model for a taker of `notional` quote (see the module comment for the clamps). */
export function candleSlippageBps(model: SlippageModel, notional: number, candle: Pick<CandleRef, 'close' | 'volume'>): number {
  const quoteVolume = candle.volume * candle.close;
  const share = quoteVolume > 0 ? Math.min(1, notional / quoteVolume) : 1;
  return Math.min(MAX_SLIPPAGE_BPS, model.baseBps + model.impactBps * Math.sqrt(share) * 100);
}

/** how much worse than `reference` the taker paid, in bps */
export function adverseBps(price: number, reference: number, side: Side): number {
  return (side === 'buy' ? price / reference - 1 : 1 - price / reference) * 10_000;
}

export interface BookWalk {
  filled: number;
  /** quote paid (buy) or received (sell) before fees */
  cost: number;
  /** levels touched */
  levels: number;
}

/** Takes `amount` from `levels` (best first), stopping at levels beyond `limit` when one is given. */
export function walkBook(levels: readonly BookLevel[], side: Side, amount: number, limit?: number): BookWalk {
  let filled = 0;
  let cost = 0;
  let used = 0;
  for (const [price, size] of levels) {
    const remaining = sub(amount, filled);
    if (remaining <= 0) break;
    if (limit !== undefined && (side === 'buy' ? price > limit : price < limit)) break;
    const take = Math.min(remaining, size);
    if (take <= 0) continue;
    filled += take;
    cost += take * price;
    used++;
  }
  // snap float noise so a full fill reports exactly the amount asked
  if (sub(amount, filled) === 0) filled = amount;
  return { filled, cost, levels: used };
}

/**
 * A taker fill of `amount` on `side` now. With `limit` (a marketable limit order) the price is
 * never worse than the limit: on a book only levels within it are taken (the rest of the order
 * may then rest); on a candle the price is the better of the limit and the modelled price.
 */
export function takerExecution(view: PriceView, side: Side, amount: number, model: SlippageModel, limit?: number): Execution {
  if (view.kind === 'book') {
    const levels = side === 'buy' ? view.book.asks : view.book.bids;
    const best = levels[0]?.[0];
    if (best === undefined) return { ok: false, reason: `the ${view.exchange} ${view.symbol} order book has no ${side === 'buy' ? 'asks' : 'bids'}` };
    const walk = walkBook(levels, side, amount, limit);
    if (limit === undefined && walk.filled < amount) {
      return { ok: false, reason: `book too thin: only ${fmt(walk.filled)} of ${fmt(amount)} available within ${levels.length} levels (${view.exchange} ${view.symbol})` };
    }
    if (walk.filled <= 0) return { ok: false, reason: `nothing in the ${view.exchange} ${view.symbol} book within the limit ${fmt(limit ?? Number.NaN)}` };
    const price = walk.cost / walk.filled;
    return {
      ok: true,
      amount: walk.filled,
      price,
      reference: best,
      slippageBps: adverseBps(price, best, side),
      basis: `order book ${isoTime(view.book.time)}: ${walk.levels} of ${levels.length} levels, VWAP ${fmt(price)} vs best ${fmt(best)}`,
    };
  }
  const c = view.candle;
  const modelBps = candleSlippageBps(model, amount * c.close, c);
  const modelled = side === 'buy' ? c.close * (1 + modelBps / 10_000) : c.close * (1 - modelBps / 10_000);
  const capped = limit !== undefined && (side === 'buy' ? limit < modelled : limit > modelled);
  const price = capped ? (limit as number) : modelled;
  return {
    ok: true,
    amount,
    price,
    reference: c.close,
    slippageBps: adverseBps(price, c.close, side),
    basis:
      `last closed ${c.timeframe} candle ${isoTime(c.openTime)} (close ${fmt(c.close)}, volume ${fmt(c.volume)}) + slippage model ${fmtBps(modelBps)} bps` +
      (capped ? `, capped at the limit ${fmt(price)}` : ''),
  };
}

/** best bid/ask spread in bps of the mid, when both are known */
export function spreadBps(view: PriceView): number | null {
  const { bid, ask } = view;
  if (bid === null || ask === null || !(bid > 0) || !(ask > 0)) return null;
  return ((ask - bid) / ((ask + bid) / 2)) * 10_000;
}

/** quote notional resting within 1 % of the best price on the side a taker on `side` takes from; null without a book */
export function depthQuote(view: PriceView, side: Side): number | null {
  if (view.kind !== 'book') return null;
  const levels = side === 'buy' ? view.book.asks : view.book.bids;
  const best = levels[0]?.[0];
  if (best === undefined) return 0;
  const bound = side === 'buy' ? best * 1.01 : best * 0.99;
  let sum = 0;
  for (const [price, size] of levels) {
    if (side === 'buy' ? price > bound : price < bound) break;
    sum += price * size;
  }
  return sum;
}

/** the touch in words, for a basis: "best ask 31,700.00 in the order book at …" or "last closed 5m candle … close …" */
export function describeTouch(view: PriceView, side: Side): string {
  const which = side === 'buy' ? 'ask' : 'bid';
  if (view.kind === 'book') {
    const t = touch(view, side);
    return t === null ? `the order book has no ${which}s` : `best ${which} ${fmt(t)} in the order book at ${isoTime(view.book.time)}`;
  }
  const quoted = side === 'buy' ? view.ask : view.bid;
  if (quoted !== null) return `ticker ${which} ${fmt(quoted)}`;
  const c = view.candle;
  return `last closed ${c.timeframe} candle ${isoTime(c.openTime)} close ${fmt(c.close)}`;
}
