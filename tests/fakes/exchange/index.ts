import type { IncomingMessage, ServerResponse } from 'node:http';
import { defaultMarketDir, RecordedData, tfToMs, type CandleSeries, type TradeSeries } from './data.js';
import { lowerBound } from '../../../src/market/search.js';
import { attachFakeTradeStream, type FakeTradeStream } from './ws.js';
import { listenOnLoopback, type Answer } from './http.js';
import { createFakeAccount, PRIVATE_PATHS, type FakeAccount, type FakeAccountOptions } from './account.js';

export type { FakeTradeStream, PushedTrade } from './ws.js';
export { FAKE_API_KEY, FAKE_API_SECRET } from './account.js';
export type { ExternalOrder, FakeAccount, FakeAccountOptions, FakeOrder, FakeTrade, SignedRequest, SignedVerdict } from './account.js';

/**
 * A fake Binance spot REST server for tests and benchmarks: the subset the real ccxt `binance`
 * client calls for loadMarkets (GET /api/v3/exchangeInfo, spot only), fetchOHLCV
 * (/api/v3/klines), fetchTicker (/api/v3/ticker/24hr), fetchOrderBook (/api/v3/depth) and
 * fetchTrades (/api/v3/aggTrades, ccxt's spot default; /api/v3/trades too), plus /api/v3/time
 * and /api/v3/ping. It listens on 127.0.0.1, port 0.
 *
 * Everything it serves comes from the recorded files in the shared data dir
 * (DESKBOT_MARKET_DIR, default <repo>/../shared/data). Nothing is invented or filled:
 * - klines are the recorded rows, honouring startTime / endTime / limit exactly like Binance
 *   (at most `limit` ≤ 1000 candles with open time ≥ startTime, ascending; a real gap stays a
 *   gap). Fields Binance sends that the record does not have (quote volume, trade count, taker
 *   volumes) are left out; ccxt reads only [time, o, h, l, c, v].
 * - the 24 h ticker is computed from the finest recorded timeframe at the server's "now": last =
 *   the last close; change vs the close of the candle 24 h before the last one (left out when
 *   that candle is missing); volume, high and low over the last 24 h of candles. Quote volume,
 *   VWAP, bid/ask and trade counts are not recorded and are left out (bid/ask come from a
 *   registered order book when a test registered one).
 * - the record has no order books: /api/v3/depth answers only for a book a test registered with
 *   `setOrderBook`; otherwise it answers 404 like Binance for an endpoint it does not serve.
 * - aggTrades / trades are the recorded trades (trades/binance_<BASE>-<QUOTE>_trades.csv).
 *
 * "now" is per series the last recorded candle (or trade) unless a test sets one with `setNow`
 * (or `opts.now`); nothing with an open time after now is served. A recorded candle is served
 * whole once it has opened.
 *
 * `ws` is the WebSocket trade stream endpoint on the same port (ws.ts): recorded trades as
 * Binance aggTrade/trade stream events, pushed by the test.
 *
 * `account` is the private (signed) API of one account on the same port (account.ts): orders,
 * balances and trades, every request's signature checked like Binance and logged.
 */

export type Fault =
  /** an HTTP error; 429/418 get Binance's -1003 body and a Retry-After header when retryAfterSec is set */
  | { kind: 'status'; status: number; retryAfterSec?: number; body?: string }
  /** accept the request and never answer (until the client gives up or the fake closes) */
  | { kind: 'hang' }
  /** 200 with the real answer cut in half: not valid JSON */
  | { kind: 'malformed' }
  /** a Binance API error body, e.g. { status: 400, code: -1121, msg: 'Invalid symbol.' } */
  | { kind: 'binanceError'; status?: number; code: number; msg: string };

export interface InjectOptions {
  /** request path, e.g. '/api/v3/klines', or '*' for any */
  path: string;
  /** only requests with this method (e.g. 'POST' for placing, not querying, /api/v3/order); default any */
  method?: string;
  /** how many matching requests get the fault (default 1) */
  times?: number;
  fault: Fault;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** the fault kind served instead of the real answer, if any */
  fault?: Fault['kind'];
}

/** A test-registered order book (clearly test input: the record has no books). Prices as numbers, best first. */
export interface FakeOrderBook {
  bids: Array<[number, number]>;
  asks: Array<[number, number]>;
  lastUpdateId?: number;
}

export interface FakeExchangeOptions {
  /** recorded data dir; default DESKBOT_MARKET_DIR, else <repo>/../shared/data */
  dataDir?: string;
  /** the server's "now" (ms); default: each series' last record */
  now?: number;
  /** the private API's account: credentials, starting balances, fee rates */
  account?: FakeAccountOptions;
}

export interface FakeExchange {
  /** base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** the WebSocket trade streams (url: e.g. ws://127.0.0.1:41234/stream, for market.wsUrls.binance) */
  readonly ws: FakeTradeStream;
  /** every request received, in order */
  readonly requests: LoggedRequest[];
  /** the recorded data being served */
  readonly data: RecordedData;
  /** the signed endpoints' account (orders, balances, the log of signed requests) */
  readonly account: FakeAccount;
  inject(opts: InjectOptions): void;
  clearFaults(): void;
  /** cut `count` recorded candles, starting with the first at or after fromTime, out of the served klines */
  dropCandles(symbol: string, timeframe: string, fromTime: number, count: number): void;
  setOrderBook(symbol: string, book: FakeOrderBook | null): void;
  setNow(now: number | null): void;
  /** requests to a path (e.g. '/api/v3/klines') */
  requestsTo(path: string): LoggedRequest[];
  close(): Promise<void>;
}

const BINANCE_INTERVALS = new Set(['1s', '1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d', '3d', '1w', '1M']);
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;


class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    msg: string,
  ) {
    super(msg);
  }
}

const json = (value: unknown, status = 200): Answer => ({ status, body: JSON.stringify(value), headers: { 'content-type': 'application/json;charset=UTF-8' } });


/** first index with a[i] > x */
function upperBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const num = (n: number): string => String(n);
const sum8 = (n: number): string => String(Number(n.toFixed(8)));

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw new ApiError(400, -1100, `Illegal characters found in parameter '${name}'; legal range is '^[0-9]{1,20}$'.`);
  return Number(v);
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** the NOTIONAL filter's minimum the fake's exchangeInfo lists (and its orders enforce) */
function minNotionalOf(quote: string): number {
  return ['USDT', 'BUSD', 'USDC', 'USD', 'EUR'].includes(quote) ? 10 : 0.0001;
}

function marketIdOf(symbol: string): string {
  return symbol.replace('/', '').toUpperCase();
}

export async function startFakeExchange(opts: FakeExchangeOptions = {}): Promise<FakeExchange> {
  const dir = opts.dataDir ?? defaultMarketDir();
  const data = RecordedData.open(dir);
  const requests: LoggedRequest[] = [];
  const faults: Array<{ path: string; method?: string; remaining: number; fault: Fault }> = [];
  const drops = new Map<string, Array<[number, number]>>();
  const servedCache = new Map<string, CandleSeries>();
  const books = new Map<string, FakeOrderBook>();
  let nowOverride: number | null = opts.now ?? null;
  let exchangeInfoSymbols: unknown[] | null = null;

  const requireMarket = (q: URLSearchParams): string => {
    const symbol = q.get('symbol');
    if (symbol === null || symbol === '') throw new ApiError(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
    if (!data.markets.has(symbol)) throw new ApiError(400, -1121, 'Invalid symbol.');
    return symbol;
  };

  /** the recorded series minus the candles a test dropped */
  const served = (id: string, tf: string): CandleSeries | undefined => {
    const key = `${id}|${tf}`;
    const cut = drops.get(key);
    const base = data.candles(id, tf);
    if (base === undefined || cut === undefined) return base;
    const hit = servedCache.get(key);
    if (hit !== undefined) return hit;
    const keep = new Uint8Array(base.length).fill(1);
    for (const [from, count] of cut) {
      const start = lowerBound(base.time, from);
      for (let i = start; i < Math.min(base.length, start + count); i++) keep[i] = 0;
    }
    const n = keep.reduce((s, k) => s + k, 0);
    const cols = [base.time, base.open, base.high, base.low, base.close, base.volume].map((src) => {
      const out = new Float64Array(n);
      let j = 0;
      for (let i = 0; i < base.length; i++) if (keep[i] === 1) out[j++] = src[i] as number;
      return out;
    }) as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
    const [time, open, high, low, close, volume] = cols;
    const s: CandleSeries = { timeframe: base.timeframe, tfMs: base.tfMs, time, open, high, low, close, volume, length: n };
    servedCache.set(key, s);
    return s;
  };

  /** index one past the last candle that has opened by now */
  const endIndex = (s: CandleSeries): number => (nowOverride === null ? s.length : upperBound(s.time, nowOverride));
  const tradeEnd = (s: TradeSeries): number => (nowOverride === null ? s.length : upperBound(s.time, nowOverride));

  const exchangeInfo = (): Answer => {
    if (exchangeInfoSymbols === null) {
      exchangeInfoSymbols = [...data.markets.values()]
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((m) => {
          const d = data.decimals(m.id);
          const tick = (10 ** -d.price).toFixed(8);
          const step = (10 ** -d.amount).toFixed(8);
          const minNotional = minNotionalOf(m.quote).toFixed(8);
          return {
            symbol: m.id,
            status: 'TRADING',
            baseAsset: m.base,
            baseAssetPrecision: 8,
            quoteAsset: m.quote,
            quotePrecision: 8,
            quoteAssetPrecision: 8,
            baseCommissionPrecision: 8,
            quoteCommissionPrecision: 8,
            orderTypes: ['LIMIT', 'LIMIT_MAKER', 'MARKET', 'STOP_LOSS_LIMIT', 'TAKE_PROFIT_LIMIT'],
            icebergAllowed: true,
            ocoAllowed: true,
            quoteOrderQtyMarketAllowed: true,
            allowTrailingStop: true,
            cancelReplaceAllowed: true,
            isSpotTradingAllowed: true,
            isMarginTradingAllowed: false,
            filters: [
              { filterType: 'PRICE_FILTER', minPrice: tick, maxPrice: '1000000.00000000', tickSize: tick },
              { filterType: 'LOT_SIZE', minQty: step, maxQty: '9000000.00000000', stepSize: step },
              { filterType: 'NOTIONAL', minNotional, applyMinToMarket: true, maxNotional: '9000000.00000000', applyMaxToMarket: false, avgPriceMins: 5 },
            ],
            permissions: [],
            permissionSets: [['SPOT']],
            defaultSelfTradePreventionMode: 'EXPIRE_MAKER',
            allowedSelfTradePreventionModes: ['EXPIRE_TAKER', 'EXPIRE_MAKER', 'EXPIRE_BOTH'],
          };
        });
    }
    return json({
      timezone: 'UTC',
      serverTime: nowOverride ?? Date.now(),
      rateLimits: [
        { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 6000 },
        { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 100 },
        { rateLimitType: 'RAW_REQUESTS', interval: 'MINUTE', intervalNum: 5, limit: 61000 },
      ],
      exchangeFilters: [],
      symbols: exchangeInfoSymbols,
    });
  };

  const klines = (q: URLSearchParams): Answer => {
    const id = requireMarket(q);
    const interval = q.get('interval');
    if (interval === null || interval === '') throw new ApiError(400, -1102, "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.");
    if (!BINANCE_INTERVALS.has(interval)) throw new ApiError(400, -1120, 'Invalid interval.');
    const limit = intParam(q, 'limit') ?? 500;
    if (limit < 1 || limit > 1000) throw new ApiError(400, -1130, "Data sent for parameter 'limit' is not valid.");
    const startTime = intParam(q, 'startTime');
    const endTime = intParam(q, 'endTime');
    const s = served(id, interval);
    if (s === undefined) return json([]); // nothing recorded at this interval
    let hi = endIndex(s);
    if (endTime !== undefined) hi = Math.min(hi, upperBound(s.time, endTime));
    let lo: number;
    if (startTime !== undefined) {
      lo = lowerBound(s.time, startTime);
      hi = Math.min(hi, lo + limit);
    } else {
      lo = Math.max(0, hi - limit);
    }
    const rows: unknown[] = [];
    for (let i = lo; i < hi; i++) {
      const t = s.time[i] as number;
      rows.push([t, num(s.open[i] as number), num(s.high[i] as number), num(s.low[i] as number), num(s.close[i] as number), num(s.volume[i] as number), t + s.tfMs - 1]);
    }
    return json(rows);
  };

  const ticker24 = (id: string): Record<string, unknown> | null => {
    const tf = data.finestTimeframe(id);
    if (tf === undefined) return null;
    const s = served(id, tf);
    if (s === undefined) return null;
    const end = endIndex(s);
    if (end === 0) return null;
    const lastIdx = end - 1;
    const lastOpen = s.time[lastIdx] as number;
    const windowFrom = lastOpen - DAY_MS; // candles with open in (lastOpen - 24h, lastOpen]
    const first = upperBound(s.time, windowFrom);
    let volume = 0;
    let high = -Infinity;
    let low = Infinity;
    for (let i = first; i <= lastIdx; i++) {
      volume += s.volume[i] as number;
      high = Math.max(high, s.high[i] as number);
      low = Math.min(low, s.low[i] as number);
    }
    const last = s.close[lastIdx] as number;
    const out: Record<string, unknown> = { symbol: id };
    // the reference: the candle that closed exactly 24 h before the last one; missing → no change figure
    const refIdx = lowerBound(s.time, windowFrom);
    if (refIdx < end && s.time[refIdx] === windowFrom) {
      const ref = s.close[refIdx] as number;
      out['priceChange'] = sum8(last - ref);
      out['priceChangePercent'] = (((last - ref) / ref) * 100).toFixed(3);
      out['prevClosePrice'] = num(ref);
      out['openPrice'] = num(ref);
    }
    out['lastPrice'] = num(last);
    const book = books.get(id);
    if (book !== undefined && book.bids[0] !== undefined && book.asks[0] !== undefined) {
      out['bidPrice'] = num(book.bids[0][0]);
      out['bidQty'] = num(book.bids[0][1]);
      out['askPrice'] = num(book.asks[0][0]);
      out['askQty'] = num(book.asks[0][1]);
    }
    out['highPrice'] = num(high);
    out['lowPrice'] = num(low);
    out['volume'] = sum8(volume);
    out['openTime'] = windowFrom + s.tfMs;
    out['closeTime'] = lastOpen + s.tfMs - 1;
    return out;
  };

  const ticker = (q: URLSearchParams): Answer => {
    if (q.get('symbol') === null) {
      const all = [...data.markets.keys()].map(ticker24).filter((t) => t !== null);
      return json(all);
    }
    const id = requireMarket(q);
    const t = ticker24(id);
    if (t === null) throw new ApiError(400, -1121, 'Invalid symbol.'); // no candles recorded for it
    return json(t);
  };

  const depth = (q: URLSearchParams): Answer => {
    const id = requireMarket(q);
    const limit = intParam(q, 'limit') ?? 100;
    if (limit < 1 || limit > 5000) throw new ApiError(400, -1130, "Data sent for parameter 'limit' is not valid.");
    const book = books.get(id);
    if (book === undefined) {
      return { status: 404, body: `fake exchange: no order book for ${id} (the recorded data has none; a test must register one)`, headers: { 'content-type': 'text/plain' } };
    }
    const lvl = (l: [number, number]): [string, string] => [num(l[0]), num(l[1])];
    return json({ lastUpdateId: book.lastUpdateId ?? 1, bids: book.bids.slice(0, limit).map(lvl), asks: book.asks.slice(0, limit).map(lvl) });
  };

  const aggTrades = (q: URLSearchParams): Answer => {
    const id = requireMarket(q);
    const limit = intParam(q, 'limit') ?? 500;
    if (limit < 1 || limit > 1000) throw new ApiError(400, -1130, "Data sent for parameter 'limit' is not valid.");
    const fromId = intParam(q, 'fromId');
    const startTime = intParam(q, 'startTime');
    const endTime = intParam(q, 'endTime');
    if (startTime !== undefined && endTime !== undefined && endTime - startTime > HOUR_MS) {
      throw new ApiError(400, -1127, 'More than 1 hours between startTime and endTime.');
    }
    const s = data.trades(id);
    if (s === undefined) return json([]);
    let hi = tradeEnd(s);
    let lo: number;
    if (fromId !== undefined) {
      lo = s.id.findIndex((x) => x >= fromId);
      if (lo < 0) lo = hi;
      hi = Math.min(hi, lo + limit);
    } else if (startTime !== undefined || endTime !== undefined) {
      const from = startTime ?? (endTime as number) - HOUR_MS;
      const to = endTime ?? from + HOUR_MS;
      lo = lowerBound(s.time, from);
      hi = Math.min(hi, upperBound(s.time, to), lo + limit);
    } else {
      lo = Math.max(0, hi - limit);
    }
    const rows: unknown[] = [];
    for (let i = lo; i < hi; i++) {
      const side = s.side[i];
      const row: Record<string, unknown> = { a: s.id[i], p: num(s.price[i] as number), q: num(s.amount[i] as number), f: s.id[i], l: s.id[i], T: s.time[i] };
      if (side !== null && side !== undefined) row['m'] = side === 'sell'; // buyer was the maker ⇔ the taker sold
      row['M'] = true;
      rows.push(row);
    }
    return json(rows);
  };

  const recentTrades = (q: URLSearchParams): Answer => {
    const id = requireMarket(q);
    const limit = intParam(q, 'limit') ?? 500;
    if (limit < 1 || limit > 1000) throw new ApiError(400, -1130, "Data sent for parameter 'limit' is not valid.");
    const s = data.trades(id);
    if (s === undefined) return json([]);
    const hi = tradeEnd(s);
    const rows: unknown[] = [];
    for (let i = Math.max(0, hi - limit); i < hi; i++) {
      const side = s.side[i];
      const row: Record<string, unknown> = {
        id: s.id[i],
        price: num(s.price[i] as number),
        qty: num(s.amount[i] as number),
        quoteQty: num(s.cost[i] as number),
        time: s.time[i],
      };
      if (side !== null && side !== undefined) row['isBuyerMaker'] = side === 'sell';
      row['isBestMatch'] = true;
      rows.push(row);
    }
    return json(rows);
  };

  const account = createFakeAccount(
    {
      // the price a market order gets is the ticker's last price at the fake's now, nothing else
      lastPrice: (id) => {
        const t = ticker24(id);
        return t === null ? null : Number(t['lastPrice']);
      },
      market: (id) => {
        const m = data.markets.get(id);
        if (m === undefined) return undefined;
        const d = data.decimals(id);
        return { base: m.base, quote: m.quote, priceDecimals: d.price, amountDecimals: d.amount, minNotional: minNotionalOf(m.quote) };
      },
      now: () => nowOverride ?? Date.now(),
    },
    opts.account,
  );

  const route = (path: string, q: URLSearchParams): Answer => {
    switch (path) {
      case '/api/v3/ping':
        return json({});
      case '/api/v3/time':
        return json({ serverTime: nowOverride ?? Date.now() });
      case '/api/v3/exchangeInfo':
        return exchangeInfo();
      case '/api/v3/klines':
        return klines(q);
      case '/api/v3/ticker/24hr':
        return ticker(q);
      case '/api/v3/depth':
        return depth(q);
      case '/api/v3/aggTrades':
        return aggTrades(q);
      case '/api/v3/trades':
        return recentTrades(q);
      default:
        return { status: 404, body: '', headers: { 'content-type': 'text/html' } };
    }
  };

  /** a request as received; body only read for the private paths */
  interface Incoming {
    method: string;
    path: string;
    q: URLSearchParams;
    rawQuery: string;
    body: string;
    apiKey: string | null;
  }

  const answer = (r: Incoming): Answer => {
    try {
      if (PRIVATE_PATHS.has(r.path)) return account.answer({ method: r.method, path: r.path, rawQuery: r.rawQuery, rawBody: r.body, apiKey: r.apiKey });
      return route(r.path, r.q);
    } catch (e) {
      if (e instanceof ApiError) return json({ code: e.code, msg: e.message }, e.status);
      throw e;
    }
  };

  const hanging = new Set<ServerResponse>();

  const send = (res: ServerResponse, a: Answer): void => {
    res.writeHead(a.status, { 'x-mbx-used-weight': '1', ...a.headers });
    res.end(a.body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const u = new URL(req.url ?? '/', 'http://fake');
    if (!PRIVATE_PATHS.has(u.pathname)) {
      handleWith(req, res, u, '');
      return;
    }
    // signed POSTs carry their parameters in the body
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handleWith(req, res, u, Buffer.concat(chunks).toString('utf8')));
  };

  const handleWith = (req: IncomingMessage, res: ServerResponse, u: URL, body: string): void => {
    const key = req.headers['x-mbx-apikey'];
    const incoming: Incoming = {
      method: req.method ?? 'GET',
      path: u.pathname,
      q: u.searchParams,
      // the query exactly as sent (URL parsing may re-encode it): what the client signed
      rawQuery: (req.url ?? '').includes('?') ? (req.url ?? '').slice((req.url ?? '').indexOf('?') + 1) : '',
      body,
      apiKey: typeof key === 'string' ? key : null,
    };
    const entry: LoggedRequest = { method: req.method ?? 'GET', path: u.pathname, query: Object.fromEntries(u.searchParams) };
    requests.push(entry);
    const i = faults.findIndex((f) => f.remaining > 0 && (f.path === u.pathname || f.path === '*') && (f.method === undefined || f.method === incoming.method));
    const injected = i >= 0 ? (faults[i] as { remaining: number; fault: Fault }) : undefined;
    if (injected !== undefined) {
      injected.remaining -= 1;
      if (injected.remaining <= 0) faults.splice(i, 1);
      const f = injected.fault;
      entry.fault = f.kind;
      switch (f.kind) {
        case 'hang':
          hanging.add(res);
          res.on('close', () => hanging.delete(res));
          return;
        case 'malformed': {
          const real = answer(incoming);
          const cut = real.body.slice(0, Math.max(1, Math.floor(real.body.length / 2)));
          send(res, { status: 200, body: cut, headers: { 'content-type': 'application/json;charset=UTF-8' } });
          return;
        }
        case 'binanceError':
          send(res, json({ code: f.code, msg: f.msg }, f.status ?? 400));
          return;
        case 'status': {
          const headers: Record<string, string> = {};
          if (f.retryAfterSec !== undefined) headers['retry-after'] = String(f.retryAfterSec);
          let body = f.body;
          if (body !== undefined && isJson(body)) headers['content-type'] = 'application/json;charset=UTF-8';
          if (body === undefined && (f.status === 429 || f.status === 418)) {
            headers['content-type'] = 'application/json;charset=UTF-8';
            body = JSON.stringify({ code: -1003, msg: 'Too many requests; current limit of IP is 6000 requests per minute. Please use WebSocket Streams for live updates to avoid polling the API.' });
          }
          if (body === undefined) {
            headers['content-type'] = 'text/plain';
            body = f.status >= 500 ? 'Service Unavailable.' : '';
          }
          send(res, { status: f.status, body, headers });
          return;
        }
      }
    }
    try {
      send(res, answer(incoming));
    } catch (e) {
      send(res, { status: 500, body: `fake exchange bug: ${e instanceof Error ? e.message : String(e)}`, headers: { 'content-type': 'text/plain' } });
    }
  };

  const { server, port } = await listenOnLoopback(handle);
  const ws = attachFakeTradeStream(server, `ws://127.0.0.1:${port}/stream`, data);

  return {
    url: `http://127.0.0.1:${port}`,
    ws,
    requests,
    data,
    account,
    inject(o: InjectOptions): void {
      faults.push({ path: o.path, ...(o.method !== undefined ? { method: o.method.toUpperCase() } : {}), remaining: o.times ?? 1, fault: o.fault });
    },
    clearFaults(): void {
      faults.length = 0;
    },
    dropCandles(symbol: string, timeframe: string, fromTime: number, count: number): void {
      const id = marketIdOf(symbol);
      if (data.candles(id, timeframe) === undefined) throw new Error(`fake exchange: no recorded ${timeframe} candles for ${symbol}`);
      if (tfToMs(timeframe) === undefined) throw new Error(`fake exchange: bad timeframe ${timeframe}`);
      const key = `${id}|${timeframe}`;
      drops.set(key, [...(drops.get(key) ?? []), [fromTime, count]]);
      servedCache.delete(key);
    },
    setOrderBook(symbol: string, book: FakeOrderBook | null): void {
      const id = marketIdOf(symbol);
      if (book === null) books.delete(id);
      else books.set(id, book);
    },
    setNow(now: number | null): void {
      nowOverride = now;
    },
    requestsTo(path: string): LoggedRequest[] {
      return requests.filter((r) => r.path === path);
    },
    async close(): Promise<void> {
      await ws.close();
      for (const res of hanging) res.destroy();
      hanging.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
