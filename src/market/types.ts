/**
 * Market data as every plugin sees it. Candles are columnar Float64Arrays: indicators run
 * over them without copying, and a year of 5m candles is five arrays, not 100k objects.
 * Nothing here is ever filled or invented: a missing candle stays missing (see integrity.ts).
 */

export type SourceKind = 'live' | 'replay';

export interface Candles {
  exchange: string;
  /** unified ccxt symbol, e.g. "BTC/USDT" */
  symbol: string;
  timeframe: string;
  timeframeMs: number;
  /** candle open time, ms UTC, ascending */
  time: Float64Array;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
  readonly length: number;
  source: SourceKind;
}

/** The OHLCV columns alone: what indicators, signal rules and strategies read (Candles fit it). */
export interface OhlcvColumns {
  readonly open: Float64Array;
  readonly high: Float64Array;
  readonly low: Float64Array;
  readonly close: Float64Array;
  readonly volume: Float64Array;
  readonly length: number;
}

/** candles [from, to) of `c` as views on its columns (nothing copied) */
export function sliceOhlcv(c: OhlcvColumns, from: number, to: number): OhlcvColumns {
  return {
    open: c.open.subarray(from, to),
    high: c.high.subarray(from, to),
    low: c.low.subarray(from, to),
    close: c.close.subarray(from, to),
    volume: c.volume.subarray(from, to),
    length: to - from,
  };
}

/** A hole in a series: `missing` candles between two recorded ones (times are candle open times). */
export interface Gap {
  /** open time of the last candle before the hole */
  after: number;
  /** open time of the first candle after the hole */
  before: number;
  missing: number;
}

/** Candles that passed the integrity gate; gaps are reported, never filled. */
export interface CheckedCandles extends Candles {
  gaps: Gap[];
}

export interface Ticker {
  exchange: string;
  symbol: string;
  last: number;
  /** percent over the last 24 h; null when the exchange or the record does not give it */
  change24hPct: number | null;
  high24h: number | null;
  low24h: number | null;
  baseVolume24h: number | null;
  quoteVolume24h: number | null;
  bid: number | null;
  ask: number | null;
  /** when this price was true (ms UTC): the exchange's timestamp, or the recorded candle's close time */
  time: number;
  source: SourceKind;
}

export type BookLevel = [price: number, amount: number];

export interface OrderBook {
  exchange: string;
  symbol: string;
  /** best first */
  bids: BookLevel[];
  asks: BookLevel[];
  time: number;
  source: SourceKind;
}

export interface Trade {
  id: string;
  time: number;
  side: 'buy' | 'sell' | null;
  price: number;
  amount: number;
  /** quote notional (price × amount) */
  cost: number;
}

export interface MarketInfo {
  symbol: string;
  base: string;
  quote: string;
  active: boolean;
  /** taker / maker fee rates as fractions (0.001 = 0.1 %), when the exchange says */
  taker: number | null;
  maker: number | null;
  /** smallest price and amount steps, when known */
  pricePrecision: number | null;
  amountPrecision: number | null;
  minAmount: number | null;
  minCost: number | null;
}

export interface CandleRequest {
  exchange: string;
  symbol: string;
  timeframe: string;
  /** first candle open time wanted (ms): then the first `limit` candles from it (paging) */
  since?: number;
  /** how many candles at most (default 500); without `since`, the newest `limit` up to now */
  limit?: number;
}

/**
 * Where prices come from: ccxt against live exchanges, or recorded files. Raw data, not yet
 * checked: the MarketData service puts every candle series through the integrity gate.
 */
export interface MarketSource {
  readonly kind: SourceKind;
  exchanges(): readonly string[];
  loadMarkets(exchange: string): Promise<MarketInfo[]>;
  fetchCandles(req: CandleRequest): Promise<Candles>;
  fetchTicker(exchange: string, symbol: string): Promise<Ticker>;
  fetchOrderBook(exchange: string, symbol: string, depth: number): Promise<OrderBook>;
  fetchTrades(exchange: string, symbol: string, opts: { since?: number; limit?: number }): Promise<Trade[]>;
  /**
   * A live trade stream (WebSocket), where the source and the exchange have one; the replay source
   * has none. Resolves once the stream is started (the subscription is sent when it connects) with
   * a function that stops it. Each batch of new trades (validated like fetchTrades, oldest first)
   * goes to `onTrades`; a failure (connection lost, bad data) goes once to `onError` and ends the
   * stream: the caller decides whether to fall back to polling and when to watch again.
   * Rejects when the exchange has no trade stream.
   */
  watchTrades?(exchange: string, symbol: string, onTrades: (trades: Trade[]) => void, onError: (err: Error) => void): Promise<() => Promise<void>>;
  /** the desk's "now" for this source: the clock when live; the replay time or last record when replaying */
  now(): number;
  close(): Promise<void>;
}

export function emptyCandles(exchange: string, symbol: string, timeframe: string, timeframeMs: number, source: SourceKind): Candles {
  return fromColumns(exchange, symbol, timeframe, timeframeMs, source, new Float64Array(0), new Float64Array(0), new Float64Array(0), new Float64Array(0), new Float64Array(0), new Float64Array(0));
}

export function fromColumns(
  exchange: string,
  symbol: string,
  timeframe: string,
  timeframeMs: number,
  source: SourceKind,
  time: Float64Array,
  open: Float64Array,
  high: Float64Array,
  low: Float64Array,
  close: Float64Array,
  volume: Float64Array,
): Candles {
  return { exchange, symbol, timeframe, timeframeMs, source, time, open, high, low, close, volume, length: time.length };
}

/** rows [[t,o,h,l,c,v], ...] (ccxt's OHLCV shape) → columns */
export function fromRows(
  meta: { exchange: string; symbol: string; timeframe: string; timeframeMs: number; source: SourceKind },
  rows: ReadonlyArray<ReadonlyArray<number | undefined | null>>,
): Candles {
  const n = rows.length;
  const cols = [0, 1, 2, 3, 4, 5].map(() => new Float64Array(n)) as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  for (let i = 0; i < n; i++) {
    const r = rows[i] as ReadonlyArray<number | undefined | null>;
    // a missing field stays NaN so the integrity gate refuses it; it is never guessed
    for (let k = 0; k < 6; k++) (cols[k] as Float64Array)[i] = r[k] ?? Number.NaN;
  }
  return fromColumns(meta.exchange, meta.symbol, meta.timeframe, meta.timeframeMs, meta.source, ...cols);
}

/** candles [from, to) as views on the same memory (no copy) */
export function sliceCandles<C extends Candles>(c: C, from: number, to: number = c.length): C {
  const a = Math.max(0, from);
  const b = Math.min(c.length, Math.max(a, to));
  return {
    ...c,
    time: c.time.subarray(a, b),
    open: c.open.subarray(a, b),
    high: c.high.subarray(a, b),
    low: c.low.subarray(a, b),
    close: c.close.subarray(a, b),
    volume: c.volume.subarray(a, b),
    length: b - a,
  };
}
