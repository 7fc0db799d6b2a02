import type Keyv from 'keyv';
import type { Logger } from 'pino';
import type { Clock } from '../kernel/clock.js';
import type { MarketConfig } from '../kernel/config/schema.js';
import { MarketError, UnknownExchangeError } from './errors.js';
import { checkCandles, contiguousWindow } from './integrity.js';
import { resolveSymbol } from './symbols.js';
import { timeframeMs, TIMEFRAMES } from './timeframes.js';
import {
  fromColumns,
  type Candles,
  type CheckedCandles,
  type MarketInfo,
  type MarketSource,
  type OrderBook,
  type SourceKind,
  type Ticker,
  type Trade,
} from './types.js';

export interface MarketRequest {
  /** as the trader typed it: "btc", "ETH/USDT" */
  symbol: string;
  /** default: market.defaultExchange */
  exchange?: string;
}

export interface CandlesRequest extends MarketRequest {
  timeframe: string;
  /** newest candles wanted; default 500 */
  limit?: number;
  since?: number;
}

export interface MarketDataOptions {
  source: MarketSource;
  config: MarketConfig;
  /** read-through cache (the kernel store's "market" namespace); used for live data only */
  cache?: Keyv;
  clock: Clock;
  logger: Logger;
}

type CachedCandles = { t: number[]; o: number[]; h: number[]; l: number[]; c: number[]; v: number[] };

/**
 * The one way plugins read prices. Resolves symbols per exchange, reads through the store
 * cache (so instances share it in Redis mode), coalesces identical requests in flight, and
 * puts every candle series through the integrity gate before returning it.
 */
export class MarketData {
  readonly mode: SourceKind;
  private readonly inflight = new Map<string, Promise<unknown>>();
  private readonly symbolSets = new Map<string, Set<string>>();

  constructor(private readonly o: MarketDataOptions) {
    this.mode = o.source.kind;
  }

  /** exchanges the desk can read: configured ones when live; recorded ones when replaying */
  exchanges(): string[] {
    return this.mode === 'live' ? [...this.o.config.exchanges] : [...this.o.source.exchanges()];
  }

  get defaultExchange(): string {
    const list = this.exchanges();
    return list.includes(this.o.config.defaultExchange) ? this.o.config.defaultExchange : (list[0] ?? this.o.config.defaultExchange);
  }

  /** the quote a bare symbol gets on this exchange ("btc" → BTC/USDT on binance), from market.quotes */
  defaultQuote(exchange: string = this.defaultExchange): string {
    return this.o.config.quotes[exchange] ?? 'USDT';
  }

  /** the desk's now: the clock when live; the replay time or last recorded candle when replaying */
  now(): number {
    return this.o.source.now();
  }

  async markets(exchange: string = this.defaultExchange): Promise<MarketInfo[]> {
    this.checkExchange(exchange);
    return this.cached(`markets:${exchange}`, this.o.config.cacheTtlMs.markets, () => this.o.source.loadMarkets(exchange));
  }

  /** "btc" → { exchange: "binance", symbol: "BTC/USDT" }, or UnknownSymbolError with close matches */
  async resolve(req: MarketRequest): Promise<{ exchange: string; symbol: string }> {
    const exchange = req.exchange ?? this.defaultExchange;
    this.checkExchange(exchange);
    let known = this.symbolSets.get(exchange);
    if (!known) {
      known = new Set((await this.markets(exchange)).map((m) => m.symbol));
      this.symbolSets.set(exchange, known);
    }
    return { exchange, symbol: resolveSymbol(exchange, req.symbol, known, this.defaultQuote(exchange)) };
  }

  /** Checked candles with their gaps listed (for display); see `series` for computations. */
  async candles(req: CandlesRequest): Promise<CheckedCandles> {
    const tfMs = timeframeMs(req.timeframe);
    if (tfMs === undefined) throw new MarketError(`unknown timeframe "${req.timeframe}" (use one of ${TIMEFRAMES.join(', ')})`);
    const { exchange, symbol } = await this.resolve(req);
    const limit = req.limit ?? 500;
    const key = `candles:${exchange}:${symbol}:${req.timeframe}:${limit}:${req.since ?? ''}`;
    const raw = await this.cached(key, this.o.config.cacheTtlMs.candles, () =>
      this.o.source.fetchCandles({ exchange, symbol, timeframe: req.timeframe, limit, ...(req.since !== undefined ? { since: req.since } : {}) }),
    );
    return checkCandles(raw, { live: this.mode === 'live', now: this.now() });
  }

  /**
   * The newest `need` contiguous candles, for indicators and models. A hole inside them is a
   * DataGapError naming the missing range: no number is computed across missing data.
   */
  async series(req: Omit<CandlesRequest, 'limit'> & { need: number }): Promise<CheckedCandles> {
    const all = await this.candles({ ...req, limit: req.need });
    return contiguousWindow(all, req.need);
  }

  async ticker(req: MarketRequest): Promise<Ticker> {
    const { exchange, symbol } = await this.resolve(req);
    return this.cached(`ticker:${exchange}:${symbol}`, this.o.config.cacheTtlMs.ticker, () => this.o.source.fetchTicker(exchange, symbol));
  }

  async orderBook(req: MarketRequest & { depth?: number }): Promise<OrderBook> {
    const { exchange, symbol } = await this.resolve(req);
    const depth = req.depth ?? 20;
    return this.cached(`book:${exchange}:${symbol}:${depth}`, this.o.config.cacheTtlMs.orderBook, () =>
      this.o.source.fetchOrderBook(exchange, symbol, depth),
    );
  }

  async trades(req: MarketRequest & { since?: number; limit?: number }): Promise<Trade[]> {
    const { exchange, symbol } = await this.resolve(req);
    const opts = { ...(req.since !== undefined ? { since: req.since } : {}), ...(req.limit !== undefined ? { limit: req.limit } : {}) };
    return this.cached(`trades:${exchange}:${symbol}:${req.since ?? ''}:${req.limit ?? ''}`, this.o.config.cacheTtlMs.trades, () =>
      this.o.source.fetchTrades(exchange, symbol, opts),
    );
  }

  /** whether the source has live trade streams (live: yes, per exchange where ccxt.pro has one; replay: no) */
  get canWatchTrades(): boolean {
    return this.o.source.watchTrades !== undefined;
  }

  /**
   * A live trade stream for a market (WebSocket through ccxt.pro): batches of new trades,
   * validated like `trades`, go to `onTrades`; the first failure goes to `onError` and ends the
   * stream. Resolves with a stop function; rejects when the source or the exchange has no stream.
   * Not cached or coalesced: each call is its own stream.
   */
  async watchTrades(req: MarketRequest, onTrades: (trades: Trade[]) => void, onError: (err: Error) => void): Promise<() => Promise<void>> {
    const source = this.o.source;
    if (source.watchTrades === undefined) throw new MarketError(`the ${this.mode} market source has no trade streams`);
    const { exchange, symbol } = await this.resolve(req);
    return source.watchTrades(exchange, symbol, onTrades, onError);
  }

  close(): Promise<void> {
    return this.o.source.close();
  }

  private checkExchange(exchange: string): void {
    if (!this.exchanges().includes(exchange)) throw new UnknownExchangeError(exchange, this.exchanges());
  }

  /**
   * Identical requests in flight share one fetch. Live results go through the store cache;
   * recorded data is already in memory, so replay skips the store.
   */
  private cached<T>(key: string, ttlMs: number, load: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key) as Promise<T> | undefined;
    if (running) return running;
    const p = (async (): Promise<T> => {
      const cache = this.mode === 'live' && ttlMs > 0 ? this.o.cache : undefined;
      if (cache) {
        const hit: unknown = await cache.get(key);
        if (hit !== undefined) return revive(key, hit) as T;
      }
      const value = await load();
      if (cache) await cache.set(key, flatten(value), ttlMs).catch((err: unknown) => this.o.logger.warn({ err, key }, 'market cache write failed'));
      return value;
    })();
    this.inflight.set(key, p);
    void p.finally(() => this.inflight.delete(key)).catch(() => undefined);
    return p;
  }
}

/** Float64Arrays do not survive JSON: candles are stored as plain arrays and rebuilt. */
function flatten(value: unknown): unknown {
  if (isCandles(value)) {
    const c = value;
    const cols: CachedCandles = {
      t: Array.from(c.time),
      o: Array.from(c.open),
      h: Array.from(c.high),
      l: Array.from(c.low),
      c: Array.from(c.close),
      v: Array.from(c.volume),
    };
    return { candles: { exchange: c.exchange, symbol: c.symbol, timeframe: c.timeframe, timeframeMs: c.timeframeMs, source: c.source }, cols };
  }
  return value;
}

function revive(key: string, hit: unknown): unknown {
  if (!key.startsWith('candles:')) return hit;
  const { candles: m, cols } = hit as { candles: Pick<Candles, 'exchange' | 'symbol' | 'timeframe' | 'timeframeMs' | 'source'>; cols: CachedCandles };
  const f = (a: number[]): Float64Array => Float64Array.from(a);
  return fromColumns(m.exchange, m.symbol, m.timeframe, m.timeframeMs, m.source, f(cols.t), f(cols.o), f(cols.h), f(cols.l), f(cols.c), f(cols.v));
}

function isCandles(v: unknown): v is Candles {
  return typeof v === 'object' && v !== null && 'time' in v && v.time instanceof Float64Array;
}
