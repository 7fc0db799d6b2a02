import type { Logger } from 'pino';
import { closest } from '../../kernel/fuzzy.js';
import { BadDataError, ExchangeTimeoutError, ExchangeUnavailableError, MarketError, UnknownExchangeError, UnknownSymbolError } from '../errors.js';
import { timeframeMs, TIMEFRAMES } from '../timeframes.js';
import { emptyCandles, fromRows, type CandleRequest, type Candles, type MarketInfo, type MarketSource, type OrderBook, type Ticker, type Trade } from '../types.js';
import { ccxtErrorChain, loadExchangeClass, loadProExchangeClass, type CcxtExchange, type CcxtProExchange } from './ccxt-loader.js';
import { CircuitBreaker, type BreakerState } from './circuit-breaker.js';
import { parseOhlcvPage, toMarkets, toOrderBook, toTicker, toTrades, type OhlcvRow } from './parse.js';

/**
 * The live market source: ccxt against the configured exchanges' public endpoints (no keys).
 *
 * - Lazy: no ccxt code is loaded until the first request to an exchange, and then only that
 *   exchange's class (see ccxt-loader.ts for why and what it costs).
 * - ccxt's own rate limiter is on (enableRateLimit), `timeout` = timeoutMs per HTTP request,
 *   spot markets only. `urls[exchange]` replaces the origin of every REST URL in the class's
 *   `urls.api` (so tests point the real client at the fake exchange and nothing leaks out).
 * - Retries: only for ccxt NetworkError subclasses (RequestTimeout, ExchangeNotAvailable incl.
 *   OnMaintenance, DDoSProtection, RateLimitExceeded, plain NetworkError for refused/reset
 *   connections; not InvalidNonce). Up to `retries` more attempts per operation, waiting the
 *   response's Retry-After when it had one (seconds or HTTP date; more than 60 s is not waited
 *   out: the operation fails at once saying so), else exponential backoff with full jitter:
 *   random() × min(8 s, 250 ms × 2^attempt). ExchangeError, BadSymbol, BadRequest... are
 *   answers, not outages: never retried.
 * - Exhausted retries: the last error a timeout → ExchangeTimeoutError("binance did not answer
 *   within 10 s (fetchOHLCV BTC/USDT 1h)"); otherwise ExchangeUnavailableError with the reason.
 * - A per-exchange circuit breaker (circuit-breaker.ts) counts operations that failed after
 *   their retries; while open, calls are refused without a request.
 * - Everything ccxt returns is validated (parse.ts) before it becomes a desk type; a 200 answer
 *   whose body is not JSON (or is empty) is refused as BadDataError (ccxt itself hands the raw
 *   text on, and e.g. fetchOHLCV turns it into an empty list — a silent "no data").
 * - Trade streams (watchTrades): one ccxt.pro instance per stream (loaded lazily like the REST
 *   class, given the REST client's markets), `wsUrls[exchange]` replacing the origin of every
 *   ws(s) URL in its `urls.api`. No retries and no breaker: the first failure ends the stream and
 *   is reported, and the caller falls back to polling (see MarketSource.watchTrades).
 */

export interface LiveSourceOptions {
  /** ccxt ids, e.g. ['binance','kraken'] */
  exchanges: readonly string[];
  /** per-exchange API base override (fake exchange) */
  urls: Record<string, string>;
  /** per-exchange WebSocket base override for trade streams (fake exchange), e.g. ws://127.0.0.1:1234/stream */
  wsUrls?: Record<string, string>;
  timeoutMs: number;
  retries: number;
  breaker: { failures: number; cooldownMs: number };
  clock: { now(): number };
  logger: Logger;
  /** injectable for tests */
  sleep?: (ms: number) => Promise<void>;
  /** jitter, injectable */
  random?: () => number;
  /** metrics (src/ops): failed operations and circuit changes */
  observe?: LiveSourceObserver;
}

/** what made an operation fail at the exchange (after its retries); circuit-open: refused without a request */
export type ExchangeErrorKind = 'timeout' | 'rate-limited' | 'unavailable' | 'bad-data' | 'circuit-open';

export interface LiveSourceObserver {
  error?(exchange: string, kind: ExchangeErrorKind): void;
  /** retryAt: when an open circuit lets the next trial through (ms), else null */
  circuit?(exchange: string, state: BreakerState, retryAt: number | null): void;
}

export const RETRY_BASE_MS = 250;
export const RETRY_CAP_MS = 8_000;
/** a Retry-After longer than this is not waited out inside a command */
export const MAX_RETRY_AFTER_MS = 60_000;
const DEFAULT_CANDLE_LIMIT = 500;
const DEFAULT_OHLCV_PAGE = 500;

/** per-exchange ccxt options: spot markets only, and no calls that need keys */
const EXCHANGE_OPTIONS: Record<string, Record<string, unknown>> = {
  // binance: exchangeInfo for spot only (not fapi/dapi), no sapi currency or margin-pair calls
  binance: { defaultType: 'spot', fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false },
};
const DEFAULT_OPTIONS: Record<string, unknown> = { defaultType: 'spot' };

/**
 * per-exchange watchTrades params. binance: the aggregate-trade stream, whose ids are those of
 * fetchTrades (ccxt reads /api/v3/aggTrades for spot), so a stream and a poll dedupe by trade id
 */
const WATCH_TRADES_PARAMS: Record<string, Record<string, unknown>> = {
  binance: { name: 'aggTrade' },
};

interface Client {
  id: string;
  ex: CcxtExchange;
  markets?: Promise<MarketInfo[]>;
  /** the loaded markets' symbols, for the per-request check */
  symbols?: Set<string>;
}

/** status and headers of the response an error came from (set by the handleRestResponse wrapper) */
interface ResponseMeta {
  status: number;
  statusText: string;
  retryAfterMs: number | null;
}

/** a successful answer whose body is not JSON (or is empty) */
class MalformedResponse extends Error {}

const responseMeta = new WeakMap<object, ResponseMeta>();

type Outcome = 'retryable' | 'timeout' | 'final';

function classify(e: unknown): Outcome {
  const chain = ccxtErrorChain(e);
  if (chain.has('RequestTimeout')) return 'timeout';
  if (chain.has('NetworkError') && !chain.has('InvalidNonce')) return 'retryable';
  return 'final';
}

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(3))} s`;

/** "binance GET http://host/api/v3/klines?… 503 Service Unavailable body" → the part after the URL, short */
function shortReason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const meta = e instanceof Error ? responseMeta.get(e) : undefined;
  const name = e instanceof Error ? e.name : 'Error';
  if (meta !== undefined && meta.status >= 400) {
    const status = `${meta.status}${meta.statusText !== '' ? ` ${meta.statusText}` : ''}`;
    if (meta.status === 429 || meta.status === 418) return `rate limited (HTTP ${status})`;
    if (meta.status >= 500) return `server error (HTTP ${status})`;
    // other refusals: what the server said, when it said something (ccxt puts the body after the status)
    const at = msg.indexOf(status);
    const said = at >= 0 ? msg.slice(at + status.length).trim().slice(0, 160) : '';
    return `refused (HTTP ${status})${said !== '' ? `: ${said}` : ''}`;
  }
  const noUrl = msg.replace(/\b(GET|POST|PUT|DELETE)\s+https?:\/\/\S+\s*/, '').replace(/^\S+\s+/, '');
  return `${name}: ${noUrl.slice(0, 160)}`;
}

function headerOf(response: unknown, name: string): string | undefined {
  const h = (response as { headers?: unknown } | null)?.headers;
  if (h === undefined || h === null) return undefined;
  if (typeof (h as { get?: unknown }).get === 'function') return (h as { get(n: string): string | null }).get(name) ?? undefined;
  const v = (h as Record<string, unknown>)[name.toLowerCase()];
  if (Array.isArray(v)) return v.join(', ');
  return typeof v === 'string' ? v : undefined;
}

/** Retry-After: delta-seconds or an HTTP date → ms from now; null when absent or unreadable */
export function parseRetryAfter(value: string | undefined, nowMs: number = Date.now()): number | null {
  if (value === undefined || value.trim() === '') return null;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

const HTTP_ORIGIN = /^https?:\/\/[^/]+/;
const WS_ORIGIN = /^wss?:\/\/[^/]+/;

/**
 * "https://api.binance.com/api/v3" with base "http://127.0.0.1:1234" → "http://127.0.0.1:1234/api/v3"
 * (recursively); with `origin` = WS_ORIGIN the same for ws(s) URLs:
 * "wss://stream.binance.com:9443/ws" with base "ws://127.0.0.1:1234/stream" → "ws://127.0.0.1:1234/stream/ws"
 */
function overrideUrls(api: unknown, base: string, origin: RegExp = HTTP_ORIGIN): unknown {
  const u = new URL(base);
  const prefix = `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return v.replace(origin, prefix);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return walk(api);
}

export function createLiveSource(opts: LiveSourceOptions): MarketSource {
  const log = opts.logger;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = opts.random ?? Math.random;
  const clients = new Map<string, Promise<Client>>();
  const breakers = new Map<string, CircuitBreaker>();
  /** running trade streams' stop functions */
  const streams = new Set<() => Promise<void>>();
  let closed = false;

  const breakerFor = (id: string): CircuitBreaker => {
    let b = breakers.get(id);
    if (b === undefined) {
      b = new CircuitBreaker(id, opts.breaker, opts.clock, (to, info) => {
        const fields = { exchange: id, state: to, failures: info.failures, ...(info.retryAt !== null ? { retryAt: new Date(info.retryAt).toISOString() } : {}) };
        if (to === 'open') log.warn(fields, 'exchange circuit opened');
        else log.info(fields, `exchange circuit ${to}`);
        opts.observe?.circuit?.(id, to, info.retryAt);
      });
      breakers.set(id, b);
    }
    return b;
  };

  const instrument = (ex: CcxtExchange): void => {
    const original = ex.handleRestResponse;
    if (typeof original !== 'function') return; // ccxt changed: Retry-After and malformed-JSON detection fall back to ccxt's own behaviour
    ex.handleRestResponse = (response: unknown, ...rest: unknown[]): Promise<unknown> => {
      const r = response as { status?: unknown; statusText?: unknown };
      const meta: ResponseMeta = {
        status: typeof r.status === 'number' ? r.status : 0,
        statusText: typeof r.statusText === 'string' ? r.statusText : '',
        retryAfterMs: parseRetryAfter(headerOf(response, 'retry-after')),
      };
      return original.call(ex, response, ...rest).then(
        (body) => {
          // ccxt hands on the raw text of a body it could not parse; every endpoint this source
          // calls answers JSON, so text (or nothing) in a successful answer is malformed data —
          // whatever the content type says (a proxy's HTML page is not a list of candles)
          if (typeof body === 'string') {
            let bad = body.trim() === '' ? 'is empty' : null;
            if (bad === null) {
              try {
                JSON.parse(body);
              } catch {
                bad = `is not valid JSON (${body.length} bytes: ${JSON.stringify(body.slice(0, 40))}…)`;
              }
            }
            if (bad !== null) {
              const err = new MalformedResponse(`HTTP ${meta.status} answer ${bad}`);
              responseMeta.set(err, meta);
              throw err;
            }
          }
          return body;
        },
        (err: unknown) => {
          if (err !== null && typeof err === 'object') responseMeta.set(err, meta);
          throw err;
        },
      );
    };
  };

  const client = (id: string): Promise<Client> => {
    if (closed) return Promise.reject(new MarketError('the live market source is closed'));
    if (!opts.exchanges.includes(id)) return Promise.reject(new UnknownExchangeError(id, opts.exchanges));
    let p = clients.get(id);
    if (p === undefined) {
      p = (async (): Promise<Client> => {
        const loaded = await loadExchangeClass(id);
        const ex = new loaded.ctor({ enableRateLimit: true, timeout: opts.timeoutMs, options: { ...(EXCHANGE_OPTIONS[id] ?? DEFAULT_OPTIONS) } });
        const base = opts.urls[id];
        if (base !== undefined) ex.urls['api'] = overrideUrls(ex.urls['api'], base);
        instrument(ex);
        log.debug({ exchange: id, how: loaded.how, importMs: Math.round(loaded.ms), urlOverride: base ?? null }, 'ccxt exchange loaded');
        return { id, ex };
      })();
      clients.set(id, p);
      p.catch(() => clients.delete(id));
    }
    return p;
  };

  /**
   * One ccxt call with retries, through the exchange's breaker. `op` names it for messages,
   * e.g. "fetchOHLCV BTC/USDT 1h".
   */
  async function call<T>(c: Client, op: string, fn: () => Promise<T>, symbol?: string): Promise<T> {
    const breaker = breakerFor(c.id);
    const failed = (kind: ExchangeErrorKind): void => opts.observe?.error?.(c.id, kind);
    try {
      breaker.acquire();
    } catch (e) {
      failed('circuit-open');
      throw e;
    }
    for (let attempt = 0; ; attempt++) {
      try {
        const out = await fn();
        breaker.success();
        return out;
      } catch (e) {
        const outcome = classify(e);
        if (outcome === 'final') {
          breaker.neutral();
          if (e instanceof MalformedResponse) failed('bad-data');
          throw await finalError(c, op, e, symbol);
        }
        const meta = e instanceof Error ? responseMeta.get(e) : undefined;
        const retryAfter = meta?.retryAfterMs ?? null;
        if (retryAfter !== null && retryAfter > MAX_RETRY_AFTER_MS) {
          breaker.failure();
          failed('rate-limited');
          throw new ExchangeUnavailableError(`${c.id} is unavailable (${op}): ${shortReason(e)}, asking to wait ${seconds(retryAfter)} — not waiting that long`);
        }
        if (attempt >= opts.retries) {
          breaker.failure();
          failed(outcome === 'timeout' ? 'timeout' : meta?.status === 429 || meta?.status === 418 ? 'rate-limited' : 'unavailable');
          if (outcome === 'timeout') throw new ExchangeTimeoutError(`${c.id} did not answer within ${seconds(opts.timeoutMs)} (${op})`);
          throw new ExchangeUnavailableError(`${c.id} is unavailable (${op}): ${shortReason(e)}; gave up after ${attempt + 1} attempt${attempt === 0 ? '' : 's'}`);
        }
        const delay = retryAfter ?? Math.floor(random() * Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** attempt));
        log.warn({ exchange: c.id, op, attempt: attempt + 1, of: opts.retries + 1, delayMs: delay, retryAfter: retryAfter !== null, reason: shortReason(e) }, 'exchange request failed; retrying');
        await sleep(delay);
      }
    }
  }

  /** a non-retryable failure → the error the trader sees */
  async function finalError(c: Client, op: string, e: unknown, symbol: string | undefined): Promise<Error> {
    if (e instanceof MarketError) return e;
    if (e instanceof MalformedResponse) return new BadDataError(`${c.id} sent malformed data (${op}): ${e.message} — not using it`);
    const chain = ccxtErrorChain(e);
    if (chain.has('BadSymbol') && symbol !== undefined) {
      let known: string[] = [];
      try {
        known = (await (c.markets ?? Promise.resolve([]))).map((m) => m.symbol);
      } catch {
        // markets unavailable: no suggestions
      }
      return new UnknownSymbolError(c.id, symbol, closest(symbol, known));
    }
    if (chain.has('BaseError')) {
      const what = chain.has('NotSupported') ? 'does not support' : 'refused';
      return new MarketError(`${c.id} ${what} ${op}: ${shortReason(e)}`);
    }
    return e instanceof Error ? e : new Error(String(e));
  }

  async function markets(c: Client): Promise<MarketInfo[]> {
    if (c.markets === undefined) {
      const p = call(c, 'loadMarkets', () => c.ex.loadMarkets(true)).then(() => {
        const { markets: list, skipped } = toMarkets(c.ex.markets, c.ex.precisionMode);
        if (skipped.length > 0) log.warn({ exchange: c.id, skipped: skipped.slice(0, 10), count: skipped.length }, 'markets ccxt could not describe were left out');
        c.symbols = new Set(list.map((m) => m.symbol));
        return list;
      });
      c.markets = p;
      p.catch(() => {
        if (c.markets === p) c.markets = undefined;
      });
    }
    return c.markets;
  }

  /** the client with markets loaded and `symbol` known (a spot market), else UnknownSymbolError with close matches */
  async function market(exchange: string, symbol: string): Promise<Client> {
    const c = await client(exchange);
    const list = await markets(c);
    if (!(c.symbols?.has(symbol) ?? false)) {
      throw new UnknownSymbolError(exchange, symbol, closest(symbol, list.map((m) => m.symbol)));
    }
    return c;
  }

  return {
    kind: 'live',

    exchanges(): readonly string[] {
      return opts.exchanges;
    },

    now(): number {
      return opts.clock.now();
    },

    async loadMarkets(exchange: string): Promise<MarketInfo[]> {
      return markets(await client(exchange));
    },

    /**
     * Without `since`: the newest `limit` (default 500) candle slots up to now, i.e. since =
     * (open time of the current candle) − (limit − 1) × timeframe; a real gap leaves fewer.
     * With `since`: the first `limit` candles with open time ≥ since, up to now (as ccxt's
     * fetchOHLCV and the replay source do; the downloader pages this way). Pages of the
     * exchange's maximum (ccxt `features.spot.fetchOHLCV.limit`, binance 1000) are requested
     * one after another from the last candle + 1 timeframe until `limit` candles, now, or a
     * short page (the exchange has no more). Overlapping page edges are deduplicated by open
     * time; candles opened after now are dropped. Live data includes the candle still open.
     */
    async fetchCandles(req: CandleRequest): Promise<Candles> {
      const tfMs = timeframeMs(req.timeframe);
      if (tfMs === undefined) throw new MarketError(`unknown timeframe "${req.timeframe}" (use one of ${TIMEFRAMES.join(', ')})`);
      const limit = req.limit ?? DEFAULT_CANDLE_LIMIT;
      if (!Number.isInteger(limit) || limit < 1) throw new MarketError(`limit must be a positive whole number of candles, got ${limit}`);
      if (req.since !== undefined && !Number.isFinite(req.since)) throw new MarketError(`since must be a time in ms, got ${req.since}`);
      const c = await market(req.exchange, req.symbol);
      const tfs = c.ex.timeframes;
      if (tfs !== undefined && !(req.timeframe in tfs)) {
        throw new MarketError(`${req.exchange} has no ${req.timeframe} candles (it has ${Object.keys(tfs).join(', ')})`);
      }
      const meta = { exchange: req.exchange, symbol: req.symbol, timeframe: req.timeframe, timeframeMs: tfMs, source: 'live' as const };
      const now = opts.clock.now();
      const currentOpen = Math.floor(now / tfMs) * tfMs;
      const since = req.since ?? currentOpen - (limit - 1) * tfMs;
      if (since > now) return emptyCandles(req.exchange, req.symbol, req.timeframe, tfMs, 'live');
      const pageMax = ohlcvPageMax(c.ex);
      const op = `fetchOHLCV ${req.symbol} ${req.timeframe}`;
      const rows: OhlcvRow[] = [];
      let last = Number.NEGATIVE_INFINITY;
      let cursor = since;
      while (rows.length < limit && cursor <= now) {
        const want = Math.min(pageMax, limit - rows.length);
        const from = cursor;
        const page = parseOhlcvPage(await call(c, op, () => c.ex.fetchOHLCV(req.symbol, req.timeframe, from, want), req.symbol), `${req.exchange} ${req.symbol} ${req.timeframe}`);
        let added = 0;
        for (const r of page) {
          const t = r[0];
          if (t < from || t <= last) continue; // before the cursor, or an overlapping edge
          if (t > now) break;
          rows.push(r);
          last = t;
          added++;
          if (rows.length >= limit) break;
        }
        if (page.length < want || added === 0) break;
        cursor = last + tfMs;
      }
      return fromRows(meta, rows);
    },

    async fetchTicker(exchange: string, symbol: string): Promise<Ticker> {
      const c = await market(exchange, symbol);
      const raw = await call(c, `fetchTicker ${symbol}`, () => c.ex.fetchTicker(symbol), symbol);
      return toTicker(raw, exchange, symbol, opts.clock.now());
    },

    async fetchOrderBook(exchange: string, symbol: string, depth: number): Promise<OrderBook> {
      if (!Number.isInteger(depth) || depth < 1) throw new MarketError(`depth must be a positive whole number, got ${depth}`);
      const c = await market(exchange, symbol);
      const raw = await call(c, `fetchOrderBook ${symbol}`, () => c.ex.fetchOrderBook(symbol, depth), symbol);
      return toOrderBook(raw, exchange, symbol, depth, opts.clock.now());
    },

    async fetchTrades(exchange: string, symbol: string, o: { since?: number; limit?: number }): Promise<Trade[]> {
      if (o.limit !== undefined && (!Number.isInteger(o.limit) || o.limit < 1)) throw new MarketError(`limit must be a positive whole number of trades, got ${o.limit}`);
      const c = await market(exchange, symbol);
      const raw = await call(c, `fetchTrades ${symbol}`, () => c.ex.fetchTrades(symbol, o.since, o.limit), symbol);
      return toTrades(c.id === 'kraken' ? krakenSidesAsSent(raw) : raw, exchange, symbol);
    },

    async watchTrades(exchange: string, symbol: string, onTrades: (trades: Trade[]) => void, onError: (err: Error) => void): Promise<() => Promise<void>> {
      const c = await market(exchange, symbol);
      const base = opts.urls[exchange];
      const wsBase = opts.wsUrls?.[exchange];
      // a redirected REST API (a fake exchange) with the real exchange's stream would mix two markets
      if (base !== undefined && wsBase === undefined) throw new MarketError(`${exchange}: no trade stream — its REST API is redirected (market.urls) but its WebSocket is not (market.wsUrls)`);
      let ex: CcxtProExchange;
      try {
        const loaded = await loadProExchangeClass(exchange);
        ex = new loaded.ctor({ enableRateLimit: true, timeout: opts.timeoutMs, options: { ...(EXCHANGE_OPTIONS[exchange] ?? DEFAULT_OPTIONS) } });
      } catch (e) {
        throw new MarketError(`${exchange} has no WebSocket trade stream in ccxt (${e instanceof Error ? e.message : String(e)})`);
      }
      if (ex.has['watchTrades'] !== true) throw new MarketError(`${exchange} has no WebSocket trade stream (ccxt watchTrades)`);
      if (base !== undefined) ex.urls['api'] = overrideUrls(ex.urls['api'], base);
      if (wsBase !== undefined) {
        ex.urls['api'] = overrideUrls(ex.urls['api'], wsBase, WS_ORIGIN);
        if (wsBase.startsWith('ws:')) await ex.loadHttpProxyAgent?.();
      }
      ex.setMarkets(c.ex.markets); // the REST client's: no second markets request
      let stopped = false;
      const stop = async (): Promise<void> => {
        if (stopped) return;
        stopped = true;
        streams.delete(stop);
        await ex.close().catch(() => undefined);
        const d = ex.fetchDispatcher;
        await (d?.destroy?.() ?? d?.close?.())?.catch(() => undefined);
      };
      streams.add(stop);
      const fail = async (err: Error): Promise<void> => {
        if (stopped) return;
        await stop();
        onError(err);
      };
      log.debug({ exchange, symbol, wsUrlOverride: wsBase ?? null }, 'trade stream starting');
      void (async (): Promise<void> => {
        while (!stopped) {
          let raw: unknown;
          try {
            // ccxt mutates params: a fresh object per call
            raw = await ex.watchTrades(symbol, undefined, undefined, { ...(WATCH_TRADES_PARAMS[exchange] ?? {}) });
          } catch (e) {
            await fail(new ExchangeUnavailableError(`${exchange} trade stream for ${symbol} failed: ${shortReason(e)}`));
            return;
          }
          if (stopped) return;
          let trades: Trade[];
          try {
            trades = toTrades(raw, exchange, symbol);
          } catch (e) {
            await fail(e instanceof Error ? e : new Error(String(e)));
            return;
          }
          try {
            if (trades.length > 0) onTrades(trades);
          } catch (err) {
            log.error({ err, exchange, symbol }, 'trade stream consumer failed');
          }
        }
      })();
      return stop;
    },

    async close(): Promise<void> {
      closed = true;
      await Promise.all([...streams].map((stop) => stop()));
      const all = [...clients.values()];
      clients.clear();
      await Promise.all(
        all.map(async (p) => {
          const c = await p.catch(() => undefined);
          if (c === undefined) return;
          await c.ex.close?.().catch(() => undefined);
          // ccxt keeps an undici Agent with keep-alive sockets per instance and does not close it
          const d = c.ex.fetchDispatcher;
          await (d?.destroy?.() ?? d?.close?.())?.catch(() => undefined);
        }),
      );
    },
  };
}

/**
 * ccxt's kraken parser turns every side marker other than "s" into "buy". Kraken's REST trades
 * ([price, volume, time, side, type, misc, id]) always carry "b" or "s"; a row with anything
 * else has no known side, and it stays unknown here instead of becoming a buy.
 */
function krakenSidesAsSent(raw: unknown): unknown {
  if (!Array.isArray(raw)) return raw;
  return raw.map((t: unknown) => {
    const info = (t as { info?: unknown } | null)?.info;
    if (!Array.isArray(info) || info[3] === 'b' || info[3] === 's') return t;
    return { ...(t as Record<string, unknown>), side: undefined };
  });
}

function ohlcvPageMax(ex: CcxtExchange): number {
  const spot = (ex.features as { spot?: { fetchOHLCV?: { limit?: unknown } } } | undefined)?.spot;
  const n = spot?.fetchOHLCV?.limit;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : DEFAULT_OHLCV_PAGE;
}
