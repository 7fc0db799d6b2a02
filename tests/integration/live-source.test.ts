import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/kernel/clock.js';
import { BadDataError, DataGapError, ExchangeTimeoutError, ExchangeUnavailableError, UnknownExchangeError, UnknownSymbolError } from '../../src/market/errors.js';
import { checkCandles, requireNoGaps } from '../../src/market/integrity.js';
import { CircuitBreaker } from '../../src/market/live/circuit-breaker.js';
import { createLiveSource, parseRetryAfter, type LiveSourceOptions } from '../../src/market/live/live-source.js';
import type { MarketSource } from '../../src/market/types.js';
import { defaultMarketDir } from '../fakes/exchange/data.js';
import { startFakeExchange, type FakeExchange } from '../fakes/exchange/index.js';

/**
 * The live source with the real ccxt binance client against the fake Binance server, which
 * serves the recorded data in ../shared/data (DESKBOT_MARKET_DIR). Retry waits go through an
 * injected sleep (recorded, not slept) and the breaker through a ManualClock, so nothing here
 * waits for wall time except ccxt's own rate limiter and the one deliberate 300 ms timeout.
 */

const H = 3_600_000;
const M5 = 300_000;

type Row = [number, number, number, number, number, number];

function csvCandles(file: string): Row[] {
  const text = readFileSync(path.join(defaultMarketDir(), file), 'utf8').trim().split('\n').slice(1);
  return text.map((l) => l.split(',').map(Number) as Row);
}

function csvTrades(file: string): Array<{ time: number; id: string; side: string; price: number; amount: number; cost: number }> {
  const text = readFileSync(path.join(defaultMarketDir(), 'trades', file), 'utf8').trim().split('\n').slice(1);
  return text.map((l) => {
    const f = l.split(',');
    return { time: Number(f[0]), id: f[1] as string, side: f[2] as string, price: Number(f[3]), amount: Number(f[4]), cost: Number(f[5]) };
  });
}

const lastOf = (rows: Row[]): Row => rows[rows.length - 1] as Row;

let fake: FakeExchange;
// the recorded files, read here independently of the fake, to compare against
let btc1h: Row[];
let btc5m: Row[];
let eth1h: Row[];
let eth5m: Row[];
const sources: MarketSource[] = [];

beforeAll(async () => {
  // a missing data dir fails here, naming the path and DESKBOT_MARKET_DIR (never a skip)
  fake = await startFakeExchange();
  btc1h = csvCandles('binance_BTC-USDT_1h.csv');
  btc5m = csvCandles('binance_BTC-USDT_5m.csv');
  eth1h = csvCandles('binance_ETH-USDT_1h.csv');
  eth5m = csvCandles('binance_ETH-USDT_5m.csv');
});

afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await fake?.close();
});

interface Rig {
  source: MarketSource;
  clock: ManualClock;
  sleeps: number[];
}

/** a live source on the fake; the clock sits 30 min after the last recorded BTC/USDT 1h candle opened */
function rig(over: Partial<LiveSourceOptions> = {}): Rig {
  const clock = new ManualClock(lastOf(btc1h)[0] + 30 * 60_000);
  const sleeps: number[] = [];
  const source = createLiveSource({
    exchanges: ['binance', 'kraken'],
    urls: { binance: fake.url },
    timeoutMs: 5_000,
    retries: 3,
    breaker: { failures: 3, cooldownMs: 30_000 },
    clock,
    logger: pino({ level: 'silent' }),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...over,
  });
  sources.push(source);
  return { source, clock, sleeps };
}

const count = (p: string, from: number): number => fake.requests.slice(from).filter((r) => r.path === p).length;

describe('live source ↔ fake binance (real ccxt)', () => {
  it('loads spot markets only, from exchangeInfo, with fees, precision and limits', async () => {
    const { source } = rig();
    const before = fake.requests.length;
    const markets = await source.loadMarkets('binance');
    const paths = fake.requests.slice(before).map((r) => r.path);
    expect(paths).toEqual(['/api/v3/exchangeInfo']); // no fapi/dapi/sapi calls
    expect(markets.length).toBe(fake.data.markets.size);
    const btc = markets.find((m) => m.symbol === 'BTC/USDT');
    expect(btc).toMatchObject({ base: 'BTC', quote: 'USDT', active: true, taker: 0.001, maker: 0.001, pricePrecision: 0.01, minCost: 10 });
    expect(markets.find((m) => m.symbol === 'XRP/ETH')).toBeDefined(); // a market with recorded trades only
    // cached for the source's life
    await source.loadMarkets('binance');
    expect(count('/api/v3/exchangeInfo', before)).toBe(1);
    expect(source.exchanges()).toEqual(['binance', 'kraken']);
    await expect(source.loadMarkets('bitstamp')).rejects.toBeInstanceOf(UnknownExchangeError);
  });

  it('paginates 2500 5m candles in 3 klines requests (1000 + 1000 + 500), contiguous and equal to the CSV', async () => {
    const { source } = rig();
    await source.loadMarkets('binance');
    // a stretch of the 5m record without a real gap
    const start = btc5m.findIndex((r, i) => i + 2500 < btc5m.length && (btc5m[i + 2499] as Row)[0] - r[0] === 2499 * M5);
    expect(start).toBeGreaterThanOrEqual(0);
    const want = btc5m.slice(start, start + 2500);
    const before = fake.requests.length;
    const c = await source.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '5m', since: (want[0] as Row)[0], limit: 2500 });
    const klines = fake.requests.slice(before).filter((r) => r.path === '/api/v3/klines');
    expect(klines.map((r) => r.query['limit'])).toEqual(['1000', '1000', '500']);
    expect(klines.map((r) => Number(r.query['startTime']))).toEqual([(want[0] as Row)[0], (want[999] as Row)[0] + M5, (want[1999] as Row)[0] + M5]);
    expect(c).toMatchObject({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '5m', timeframeMs: M5, source: 'live', length: 2500 });
    expect(Array.from(c.time)).toEqual(want.map((r) => r[0]));
    expect(Array.from(c.open)).toEqual(want.map((r) => r[1]));
    expect(Array.from(c.high)).toEqual(want.map((r) => r[2]));
    expect(Array.from(c.low)).toEqual(want.map((r) => r[3]));
    expect(Array.from(c.close)).toEqual(want.map((r) => r[4]));
    expect(Array.from(c.volume)).toEqual(want.map((r) => r[5]));
    const checked = checkCandles(c, { live: false, now: 0 });
    expect(checked.gaps).toEqual([]);
  });

  it('keeps the record’s real gaps across pages (1h from the start of the record: 2500 rows, the real gaps, nothing filled)', async () => {
    const { source } = rig();
    const before = fake.requests.length;
    const c = await source.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', since: (btc1h[0] as Row)[0], limit: 2500 });
    expect(count('/api/v3/klines', before)).toBe(3);
    expect(Array.from(c.time)).toEqual(btc1h.slice(0, 2500).map((r) => r[0]));
    const gaps = checkCandles(c, { live: false, now: 0 }).gaps;
    // exactly the record's own holes in those rows (SOURCES.md: real maintenance gaps)
    const recorded = btc1h
      .slice(0, 2500)
      .flatMap((r, i, a) => (i > 0 && r[0] - (a[i - 1] as Row)[0] > H ? [{ after: (a[i - 1] as Row)[0], before: r[0], missing: (r[0] - (a[i - 1] as Row)[0]) / H - 1 }] : []));
    expect(recorded.length).toBeGreaterThan(0);
    expect(gaps).toEqual(recorded);
  });

  it('without since returns the newest `limit` candle slots up to the clock', async () => {
    const { source } = rig();
    const before = fake.requests.length;
    const c = await source.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', limit: 300 });
    const reqs = fake.requests.slice(before).filter((r) => r.path === '/api/v3/klines');
    expect(reqs.length).toBe(1);
    expect(Number(reqs[0]?.query['startTime'])).toBe(lastOf(btc1h)[0] - 299 * H);
    expect(Array.from(c.time)).toEqual(btc1h.slice(-300).map((r) => r[0]));
    expect(Array.from(c.close)).toEqual(btc1h.slice(-300).map((r) => r[4]));
  });

  it('a gap cut into the klines comes back as a gap: the gate lists it and requireNoGaps refuses with the exact range', async () => {
    const { source, clock } = rig();
    const tail = eth1h.slice(-200);
    const cutFrom = (tail[100] as Row)[0];
    fake.dropCandles('ETH/USDT', '1h', cutFrom, 3);
    const c = await source.fetchCandles({ exchange: 'binance', symbol: 'ETH/USDT', timeframe: '1h', limit: 200 });
    expect(c.length).toBe(197);
    expect(Array.from(c.time)).not.toContain(cutFrom);
    const checked = checkCandles(c, { live: true, now: clock.now() });
    expect(checked.gaps).toEqual([{ after: (tail[99] as Row)[0], before: (tail[103] as Row)[0], missing: 3 }]);
    const refusal = (() => {
      try {
        requireNoGaps(checked);
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(refusal).toBeInstanceOf(DataGapError);
    const iso = (t: number): string => new Date(t).toISOString().slice(0, 16).replace('T', ' ');
    expect((refusal as Error).message).toBe(`binance ETH/USDT 1h: 3 candles missing between ${iso((tail[99] as Row)[0])} and ${iso((tail[103] as Row)[0])} UTC — not computing`);
  });

  it('retries after a 429, waiting exactly the Retry-After, and succeeds', async () => {
    const { source, sleeps } = rig();
    await source.loadMarkets('binance');
    fake.inject({ path: '/api/v3/klines', times: 1, fault: { kind: 'status', status: 429, retryAfterSec: 1 } });
    const before = fake.requests.length;
    const c = await source.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', limit: 10 });
    expect(c.length).toBe(10);
    expect(sleeps).toEqual([1000]);
    const reqs = fake.requests.slice(before).filter((r) => r.path === '/api/v3/klines');
    expect(reqs.map((r) => r.fault ?? 'ok')).toEqual(['status', 'ok']);
  });

  it('does not wait out a Retry-After longer than a minute: fails at once saying so', async () => {
    const { source, sleeps } = rig();
    await source.loadMarkets('binance');
    fake.inject({ path: '/api/v3/klines', times: 1, fault: { kind: 'status', status: 418, retryAfterSec: 120 } });
    const err = await source.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', limit: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExchangeUnavailableError);
    expect((err as Error).message).toBe(
      "binance is unavailable (fetchOHLCV BTC/USDT 1h): rate limited (HTTP 418 I'm a Teapot), asking to wait 120 s — not waiting that long",
    );
    expect(sleeps).toEqual([]);
  });

  it('retries a 503 with exponential backoff and full jitter, then gives up with the reason', async () => {
    const { source, sleeps } = rig({ retries: 3 });
    await source.loadMarkets('binance');
    fake.inject({ path: '/api/v3/ticker/24hr', times: 4, fault: { kind: 'status', status: 503 } });
    const err = await source.fetchTicker('binance', 'BTC/USDT').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExchangeUnavailableError);
    expect((err as Error).message).toBe('binance is unavailable (fetchTicker BTC/USDT): server error (HTTP 503 Service Unavailable); gave up after 4 attempts');
    // random() = 0.5 of min(8 s, 250 ms × 2^attempt)
    expect(sleeps).toEqual([125, 250, 500]);
  });

  it('opens the circuit after repeated 5xx, refuses without a request while open, and closes after the cool-down', async () => {
    const { source, clock, sleeps } = rig({ retries: 1, breaker: { failures: 2, cooldownMs: 30_000 } });
    await source.loadMarkets('binance');
    fake.inject({ path: '/api/v3/ticker/24hr', times: 4, fault: { kind: 'status', status: 503 } });
    const before = fake.requests.length;
    for (let i = 0; i < 2; i++) {
      await expect(source.fetchTicker('binance', 'BTC/USDT')).rejects.toBeInstanceOf(ExchangeUnavailableError);
    }
    expect(count('/api/v3/ticker/24hr', before)).toBe(4); // 2 operations × (1 try + 1 retry)
    expect(sleeps.length).toBe(2);

    // open: refused at once, nothing sent
    const openedAt = clock.now();
    const retryAt = new Date(openedAt + 30_000).toISOString().slice(11, 19);
    const refused = await source.fetchTicker('binance', 'BTC/USDT').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ExchangeUnavailableError);
    expect((refused as Error).message).toBe(`binance circuit open after 2 failures; retrying after ${retryAt} UTC`);
    // other calls to the same exchange are refused too
    await expect(source.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', limit: 5 })).rejects.toThrow(/circuit open/);
    expect(count('/api/v3/ticker/24hr', before)).toBe(4);
    expect(count('/api/v3/klines', before)).toBe(0);

    clock.advance(29_999);
    await expect(source.fetchTicker('binance', 'BTC/USDT')).rejects.toThrow(/circuit open/);

    // cool-down over: one trial goes through (the fault is spent), succeeds, the circuit closes
    clock.advance(1);
    const t = await source.fetchTicker('binance', 'BTC/USDT');
    expect(t.last).toBe(lastOf(btc5m)[4]);
    await source.fetchTicker('binance', 'BTC/USDT');
    expect(count('/api/v3/ticker/24hr', before)).toBe(6);
  });

  it('a failed half-open trial opens the circuit for another cool-down', () => {
    const clock = new ManualClock(Date.UTC(2021, 6, 17, 14, 5, 0));
    const b = new CircuitBreaker('binance', { failures: 2, cooldownMs: 30_000 }, clock);
    b.acquire();
    b.failure();
    b.acquire();
    b.failure();
    expect(b.state).toBe('open');
    expect(() => b.acquire()).toThrow('binance circuit open after 2 failures; retrying after 14:05:30 UTC');
    clock.advance(30_000);
    expect(b.state).toBe('half-open');
    b.acquire(); // the trial
    expect(() => b.acquire()).toThrow(/trial request is in flight/);
    b.failure();
    expect(b.state).toBe('open');
    expect(() => b.acquire()).toThrow('retrying after 14:06:00 UTC');
    clock.advance(30_000);
    b.acquire();
    b.success();
    expect(b.state).toBe('closed');
    expect(b.failures).toBe(0);
  });

  it('reports a hang past the timeout as ExchangeTimeoutError', async () => {
    const { source } = rig({ timeoutMs: 300, retries: 1 });
    await source.loadMarkets('binance');
    fake.inject({ path: '/api/v3/klines', times: 2, fault: { kind: 'hang' } });
    const before = fake.requests.length;
    const t0 = performance.now();
    const err = await source.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', limit: 10 }).catch((e: unknown) => e);
    const took = performance.now() - t0;
    expect(err).toBeInstanceOf(ExchangeTimeoutError);
    expect((err as Error).message).toBe('binance did not answer within 0.3 s (fetchOHLCV BTC/USDT 1h)');
    expect(count('/api/v3/klines', before)).toBe(2);
    expect(took).toBeGreaterThanOrEqual(550);
  });

  it('refuses malformed JSON as bad data, without retrying', async () => {
    const { source, sleeps } = rig();
    await source.loadMarkets('binance');
    fake.inject({ path: '/api/v3/klines', fault: { kind: 'malformed' } });
    const before = fake.requests.length;
    const err = await source.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', limit: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadDataError);
    expect((err as Error).message).toMatch(/^binance sent malformed data \(fetchOHLCV BTC\/USDT 1h\): HTTP 200 answer is not valid JSON .* — not using it$/);
    expect(count('/api/v3/klines', before)).toBe(1);
    expect(sleeps).toEqual([]);

    fake.inject({ path: '/api/v3/ticker/24hr', fault: { kind: 'malformed' } });
    await expect(source.fetchTicker('binance', 'BTC/USDT')).rejects.toThrow(/malformed data \(fetchTicker BTC\/USDT\)/);

    // a proxy's HTML page with 200 is not "no candles" either
    fake.inject({ path: '/api/v3/klines', fault: { kind: 'status', status: 200, body: '<html><body>down for maintenance</body></html>' } });
    await expect(source.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', limit: 10 })).rejects.toBeInstanceOf(BadDataError);
  });

  it('refuses a ticker without a numeric last price (never a zero)', async () => {
    const { source } = rig();
    await source.loadMarkets('binance');
    fake.inject({ path: '/api/v3/ticker/24hr', fault: { kind: 'status', status: 200, body: JSON.stringify({ symbol: 'BTCUSDT', volume: '1.0', bidQty: '1' }) } });
    const err = await source.fetchTicker('binance', 'BTC/USDT').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadDataError);
    expect((err as Error).message).toBe('binance ticker for BTC/USDT has no numeric last price — not using it');
  });

  it('does not retry a bad symbol: the exchange’s -1121 and a local typo both become UnknownSymbolError', async () => {
    const { source, sleeps } = rig({ breaker: { failures: 1, cooldownMs: 30_000 } });
    await source.loadMarkets('binance');
    fake.inject({ path: '/api/v3/klines', times: 3, fault: { kind: 'binanceError', status: 400, code: -1121, msg: 'Invalid symbol.' } });
    const before = fake.requests.length;
    const err = await source.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', limit: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownSymbolError);
    expect(count('/api/v3/klines', before)).toBe(1);
    expect(sleeps).toEqual([]);
    fake.clearFaults();

    const typo = await source.fetchTicker('binance', 'BTX/USDT').catch((e: unknown) => e);
    expect(typo).toBeInstanceOf(UnknownSymbolError);
    expect((typo as Error).message).toMatch(/^binance has no market "BTX\/USDT"\. Did you mean .*BTC\/USDT/);
    expect(count('/api/v3/ticker/24hr', before)).toBe(0);
    // neither counted against the exchange: the circuit (failures: 1) is still closed
    const t = await source.fetchTicker('binance', 'ETH/USDT');
    expect(t.last).toBe(lastOf(eth5m)[4]);
  });

  it('maps the 24 h ticker computed from the record', async () => {
    const { source } = rig();
    const t = await source.fetchTicker('binance', 'ETH/USDT');
    const last = lastOf(eth5m);
    const ref = eth5m.find((r) => r[0] === last[0] - 24 * H) as Row;
    const window = eth5m.filter((r) => r[0] > last[0] - 24 * H && r[0] <= last[0]);
    expect(t).toMatchObject({ exchange: 'binance', symbol: 'ETH/USDT', source: 'live', last: last[4], quoteVolume24h: null, bid: null, ask: null, time: last[0] + M5 - 1 });
    expect(t.change24hPct).toBeCloseTo(((last[4] - ref[4]) / ref[4]) * 100, 2);
    expect(t.baseVolume24h).toBeCloseTo(window.reduce((s, r) => s + r[5], 0), 6);
    expect(t.high24h).toBe(Math.max(...window.map((r) => r[2])));
    expect(t.low24h).toBe(Math.min(...window.map((r) => r[3])));
  });

  it('serves an order book only when the test registered one', async () => {
    const { source } = rig({ retries: 0 });
    await expect(source.fetchOrderBook('binance', 'SOL/USDT', 5)).rejects.toThrow(
      'binance is unavailable (fetchOrderBook SOL/USDT): refused (HTTP 404 Not Found): fake exchange: no order book for SOLUSDT (the recorded data has none; a test must register one); gave up after 1 attempt',
    );
    // test input, not market data: a small literal book
    fake.setOrderBook('SOL/USDT', {
      bids: [
        [33.1, 2],
        [33.0, 5],
        [32.9, 1],
      ],
      asks: [
        [33.2, 1.5],
        [33.3, 4],
      ],
    });
    const book = await source.fetchOrderBook('binance', 'SOL/USDT', 2);
    expect(book).toMatchObject({ exchange: 'binance', symbol: 'SOL/USDT', source: 'live', bids: [[33.1, 2], [33.0, 5]], asks: [[33.2, 1.5], [33.3, 4]] });
    fake.setOrderBook('SOL/USDT', null);
  });

  it('fetches recorded trades through aggTrades (newest, and from a time)', async () => {
    const { source } = rig();
    const rec = csvTrades('binance_ETH-USDT_trades.csv');
    const before = fake.requests.length;
    const newest = await source.fetchTrades('binance', 'ETH/USDT', { limit: 5 });
    expect(fake.requests.slice(before).filter((r) => r.path === '/api/v3/aggTrades').length).toBe(1);
    expect(newest.map((t) => t.id)).toEqual(rec.slice(-5).map((r) => r.id));
    expect(newest.map((t) => [t.time, t.side, t.price, t.amount])).toEqual(rec.slice(-5).map((r) => [r.time, r.side, r.price, r.amount]));
    for (const [i, t] of newest.entries()) expect(t.cost).toBeCloseTo((rec.slice(-5)[i] as { cost: number }).cost, 8);
    const from = (rec[10] as { time: number }).time;
    const page = await source.fetchTrades('binance', 'ETH/USDT', { since: from, limit: 3 });
    expect(page.map((t) => t.id)).toEqual(rec.filter((r) => r.time >= from).slice(0, 3).map((r) => r.id));
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('1')).toBe(1000);
    expect(parseRetryAfter('0.5')).toBe(500);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:05 GMT', Date.UTC(2015, 9, 21, 7, 28, 0))).toBe(5000);
    expect(parseRetryAfter('soon')).toBeNull();
    expect(parseRetryAfter(undefined)).toBeNull();
  });
});

describe('fake exchange', () => {
  it('fails loudly, naming the path and DESKBOT_MARKET_DIR, when the data dir is missing', async () => {
    await expect(startFakeExchange({ dataDir: '/nonexistent/deskbot-market-data' })).rejects.toThrow(
      /recorded market data dir not found: \/nonexistent\/deskbot-market-data — set DESKBOT_MARKET_DIR/,
    );
  });
});
