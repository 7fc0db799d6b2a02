import { z } from 'zod';
import { BadDataError } from '../errors.js';
import type { BookLevel, MarketInfo, OrderBook, Ticker, Trade } from '../types.js';

/**
 * ccxt's unified structures → the desk's types, validated with zod first. ccxt fills what an
 * exchange did not send with undefined; we keep "not given" as null and refuse data that lacks
 * what the type promises (a ticker without a numeric last, a book level that is not a number).
 * Nothing is ever substituted: no zero for a missing price.
 */

const num = z.number(); // zod 4: finite only (NaN and ±Infinity are refused)
const opt = num.nullish();

function issues(e: z.ZodError): string {
  return e.issues
    .slice(0, 3)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : 'value'}: ${i.message}`)
    .join('; ');
}

/** [time, open, high, low, close, volume]: time must be an integer ms; a missing value stays null (→ NaN, refused by the gate) */
const ohlcvPage = z.array(z.tuple([z.number().int(), opt, opt, opt, opt, opt]).rest(z.unknown()));
export type OhlcvRow = [number, number | null | undefined, number | null | undefined, number | null | undefined, number | null | undefined, number | null | undefined];

export function parseOhlcvPage(raw: unknown, where: string): OhlcvRow[] {
  const r = ohlcvPage.safeParse(raw);
  if (!r.success) throw new BadDataError(`${where}: the exchange sent candles that are not [time, o, h, l, c, v] numbers (${issues(r.error)}) — not using them`);
  return r.data as unknown as OhlcvRow[];
}

const tickerSchema = z.object({
  timestamp: z.number().int().nullish(),
  last: num.positive(),
  percentage: opt,
  high: opt,
  low: opt,
  baseVolume: opt,
  quoteVolume: opt,
  bid: opt,
  ask: opt,
});

export function toTicker(raw: unknown, exchange: string, symbol: string, receivedAt: number): Ticker {
  const r = tickerSchema.safeParse(raw);
  if (!r.success) {
    const noLast = r.error.issues.some((i) => i.path[0] === 'last');
    throw new BadDataError(
      noLast
        ? `${exchange} ticker for ${symbol} has no numeric last price — not using it`
        : `${exchange} ticker for ${symbol} is malformed (${issues(r.error)}) — not using it`,
    );
  }
  const t = r.data;
  return {
    exchange,
    symbol,
    last: t.last,
    change24hPct: t.percentage ?? null,
    high24h: t.high ?? null,
    low24h: t.low ?? null,
    baseVolume24h: t.baseVolume ?? null,
    quoteVolume24h: t.quoteVolume ?? null,
    bid: t.bid ?? null,
    ask: t.ask ?? null,
    // the exchange's own time when it gives one; otherwise the moment we received the answer
    // (the price is the exchange's current one at that moment, e.g. kraken sends no timestamp)
    time: t.timestamp ?? receivedAt,
    source: 'live',
  };
}

const level = z.tuple([num.positive(), num.nonnegative()]).rest(z.unknown());
const bookSchema = z.object({ bids: z.array(level), asks: z.array(level), timestamp: z.number().int().nullish() });

export function toOrderBook(raw: unknown, exchange: string, symbol: string, depth: number, receivedAt: number): OrderBook {
  const r = bookSchema.safeParse(raw);
  if (!r.success) throw new BadDataError(`${exchange} order book for ${symbol} is malformed (${issues(r.error)}) — not using it`);
  const bids: BookLevel[] = r.data.bids.slice(0, depth).map((l) => [l[0], l[1]]);
  const asks: BookLevel[] = r.data.asks.slice(0, depth).map((l) => [l[0], l[1]]);
  for (let i = 1; i < bids.length; i++) {
    if ((bids[i] as BookLevel)[0] >= (bids[i - 1] as BookLevel)[0]) throw new BadDataError(`${exchange} order book for ${symbol}: bids not in descending price order — not using it`);
  }
  for (let i = 1; i < asks.length; i++) {
    if ((asks[i] as BookLevel)[0] <= (asks[i - 1] as BookLevel)[0]) throw new BadDataError(`${exchange} order book for ${symbol}: asks not in ascending price order — not using it`);
  }
  return { exchange, symbol, bids, asks, time: r.data.timestamp ?? receivedAt, source: 'live' };
}

const tradeSchema = z.object({
  id: z.union([z.string(), z.number()]).nullish(),
  timestamp: z.number().int(),
  side: z.enum(['buy', 'sell']).nullish(),
  price: num.positive(),
  amount: num.positive(),
  cost: num.nonnegative().nullish(),
});
const tradesSchema = z.array(tradeSchema);

export function toTrades(raw: unknown, exchange: string, symbol: string): Trade[] {
  const r = tradesSchema.safeParse(raw);
  if (!r.success) throw new BadDataError(`${exchange} trades for ${symbol} are malformed (${issues(r.error)}) — not using them`);
  return r.data.map((t) => ({
    id: t.id === null || t.id === undefined ? '' : String(t.id),
    time: t.timestamp,
    side: t.side ?? null,
    price: t.price,
    amount: t.amount,
    // ccxt computes price × amount when the exchange does not send the notional
    cost: t.cost ?? t.price * t.amount,
  }));
}

const limitSchema = z.object({ min: opt }).partial().nullish();
const marketSchema = z.object({
  symbol: z.string().min(1),
  base: z.string().min(1),
  quote: z.string().min(1),
  spot: z.boolean().nullish(),
  type: z.string().nullish(),
  active: z.boolean().nullish(),
  taker: opt,
  maker: opt,
  precision: z.object({ price: opt, amount: opt }).partial().nullish(),
  limits: z.object({ amount: limitSchema, cost: limitSchema }).partial().nullish(),
});

/** ccxt precisionMode constants (ccxt/js/src/base/functions/number.js) */
const DECIMAL_PLACES = 2;
const SIGNIFICANT_DIGITS = 3;

/** a precision as a step ("smallest price step"): tick sizes as they are, decimal places as 10^-n, significant digits unknown */
function step(p: number | null | undefined, mode: number | undefined): number | null {
  if (p === null || p === undefined) return null;
  if (mode === DECIMAL_PLACES) return 10 ** -p;
  if (mode === SIGNIFICANT_DIGITS) return null;
  return p;
}

/**
 * ccxt's loaded markets → spot MarketInfo, sorted by symbol. A market ccxt could not describe
 * properly is left out (reported through `skipped`), not guessed. `active` is false only when
 * the exchange says so (ccxt's undefined means "not stated").
 */
export function toMarkets(markets: Record<string, unknown> | undefined, precisionMode: number | undefined): { markets: MarketInfo[]; skipped: string[] } {
  const out: MarketInfo[] = [];
  const skipped: string[] = [];
  for (const [key, raw] of Object.entries(markets ?? {})) {
    const r = marketSchema.safeParse(raw);
    if (!r.success) {
      skipped.push(key);
      continue;
    }
    const m = r.data;
    if (!(m.spot === true || m.type === 'spot')) continue;
    out.push({
      symbol: m.symbol,
      base: m.base,
      quote: m.quote,
      active: m.active !== false,
      taker: m.taker ?? null,
      maker: m.maker ?? null,
      pricePrecision: step(m.precision?.price, precisionMode),
      amountPrecision: step(m.precision?.amount, precisionMode),
      minAmount: m.limits?.amount?.min ?? null,
      minCost: m.limits?.cost?.min ?? null,
    });
  }
  out.sort((a, b) => a.symbol.localeCompare(b.symbol));
  return { markets: out, skipped };
}
