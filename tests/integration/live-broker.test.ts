import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CcxtBroker, createLiveBroker, LiveBrokerError, type CcxtBrokerOptions } from '../../src/brokers/live/index.js';
import { ManualClock } from '../../src/kernel/clock.js';
import { marketConfigSchema, tradingConfigSchema } from '../../src/kernel/config/schema.js';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import type { Order, OrderRequest } from '../../src/kernel/orders/types.js';
import { createLiveSource } from '../../src/market/live/live-source.js';
import { MarketData } from '../../src/market/service.js';
import { startFakeExchange, type FakeExchange } from '../fakes/exchange/index.js';

/**
 * The live broker with the real ccxt binance client against the fake Binance server: its
 * private API checks every signature like Binance (HMAC-SHA256 of the exact query / body with
 * the account's secret, the key header, the receive window) and keeps one account in memory.
 * Market orders fill at the fake's ticker price (the recorded close at its "now").
 */

const KEY = 'kT9vLw2QeXr7MbN4pZs1HcYd6FgJ3aUo';
const SECRET = 'Zq8WmE2rT5yU1iO7pA4sD9fG3hJ6kL0xCvBnM2qWe5R';
const WRONG_SECRET = 'Xx1Yy2Zz3Ww4Vv5Uu6Tt7Ss8Rr9Qq0PpOoNnMmLlKk';
const WRONG_KEY = 'wrongKey0000aaaa1111bbbb2222cccc';
const ALL_SECRETS = [KEY, SECRET, WRONG_SECRET, WRONG_KEY];
const START = { USDT: 100_000, BTC: 1 };

let fake: FakeExchange;
let market: MarketData;
let last: number; // BTC/USDT as the fake's ticker says
const clock = new ManualClock(Date.UTC(2021, 6, 18));
const brokers: CcxtBroker[] = [];
/** fake.requests index where the current test's requests start (the log spans the file) */
let firstRequest = 0;
const requestsNow = (): FakeExchange['requests'] => fake.requests.slice(firstRequest);
const logLines: string[] = [];
const logger: Logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  }),
);

beforeAll(async () => {
  fake = await startFakeExchange({ account: { apiKey: KEY, secret: SECRET, balances: START } });
  const config = marketConfigSchema.parse({ source: 'live', exchanges: ['binance'], defaultExchange: 'binance', urls: { binance: fake.url } });
  const source = createLiveSource({
    exchanges: ['binance'],
    urls: { binance: fake.url },
    timeoutMs: 5_000,
    retries: 0,
    breaker: { failures: 100, cooldownMs: 1_000 },
    clock,
    logger: pino({ level: 'silent' }),
  });
  market = new MarketData({ source, config, clock, logger: pino({ level: 'silent' }) });
  const t = (await (await fetch(`${fake.url}/api/v3/ticker/24hr?symbol=BTCUSDT`)).json()) as { lastPrice: string };
  last = Number(t.lastPrice);
});

afterAll(async () => {
  await fake?.close();
});

beforeEach(() => {
  fake.account.reset({ apiKey: KEY, secret: SECRET, balances: START });
  fake.clearFaults();
  fake.setOrderBook('BTC/USDT', null);
  firstRequest = fake.requests.length;
});

afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.close()));
  // nothing the brokers logged (debug and up) carries a credential
  expectNoSecret(logLines.join('\n'));
});

function broker(over: Partial<CcxtBrokerOptions> = {}): CcxtBroker {
  const b = new CcxtBroker({
    exchange: 'binance',
    sandbox: true,
    credentials: { apiKey: KEY, secret: SECRET },
    apiUrl: fake.url,
    market,
    clock,
    timeoutMs: 5_000,
    logger,
    sleep: async () => undefined,
    ...over,
  });
  brokers.push(b);
  return b;
}

let seq = 0;
/** a journal order as the gateway hands it to a broker */
function order(o: Partial<Order> & Pick<Order, 'side' | 'type' | 'amount'>): Order {
  seq++;
  const id = `db-test${String(seq).padStart(4, '0')}${Date.now().toString(36)}`;
  return {
    id,
    key: `test:${id}`,
    exchange: 'binance',
    symbol: 'BTC/USDT',
    origin: 'test',
    state: 'sent',
    broker: 'live',
    requestedBy: 'vic',
    filled: 0,
    avgPrice: null,
    fees: 0,
    feeCurrency: null,
    fills: [],
    createdAt: clock.now(),
    updatedAt: clock.now(),
    history: [],
    ...o,
  };
}

/** a fresh account (and request log) in the middle of a test */
function resetAccount(balances: Record<string, number>): void {
  fake.account.reset({ apiKey: KEY, secret: SECRET, balances });
  firstRequest = fake.requests.length;
}

/** every private request the fake saw was signed with the right key and secret */
function expectAllSigned(): void {
  // (a request answered by an injected fault never reached the account)
  const privatePaths = requestsNow().filter((r) => r.fault === undefined && ['/api/v3/order', '/api/v3/openOrders', '/api/v3/allOrders', '/api/v3/account', '/api/v3/myTrades'].includes(r.path));
  expect(fake.account.signed.length).toBe(privatePaths.length);
  expect(fake.account.signed.length).toBeGreaterThan(0);
  for (const s of fake.account.signed) {
    expect(s.verdict).toBe('ok');
    expect(s.apiKey).toBe(KEY);
    expect(s.params['timestamp']).toMatch(/^\d+$/);
  }
}

async function failure(p: Promise<unknown>): Promise<LiveBrokerError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(LiveBrokerError);
  return e as LiveBrokerError;
}

function expectNoSecret(text: string): void {
  for (const s of ALL_SECRETS) expect(text).not.toContain(s);
}

describe('live broker ↔ fake binance (real ccxt, signed requests)', () => {
  it('places a market buy: filled at the ticker price, fee in BTC, balances moved, every private request signed', async () => {
    const b = broker();
    const o = order({ side: 'buy', type: 'market', amount: 0.25 });
    const u = await b.place(o);
    expect(u.state).toBe('filled');
    expect(u.fills).toHaveLength(1);
    const f = u.fills[0];
    expect(f).toMatchObject({ price: last, amount: 0.25, fee: 0.00025, feeCurrency: 'BTC', liquidity: 'taker' });

    const at = fake.account.orders();
    expect(at).toHaveLength(1);
    expect(at[0]).toMatchObject({ clientOrderId: o.id, type: 'MARKET', side: 'BUY', status: 'FILLED' });
    expect(u.exchangeOrderId).toBe(String(at[0]?.orderId));
    expect(fake.account.balance('USDT').free).toBeCloseTo(START.USDT - 0.25 * last, 6);
    expect(fake.account.balance('BTC').free).toBeCloseTo(START.BTC + 0.25 - 0.00025, 8);

    // the placement was one lookup (unknown id) and one POST carrying our client id, and nothing else private
    const posts = fake.account.signed.filter((s) => s.method === 'POST');
    expect(posts).toHaveLength(1);
    expect(posts[0]?.params).toMatchObject({ newClientOrderId: o.id, type: 'MARKET', side: 'BUY', quantity: '0.25', newOrderRespType: 'FULL' });
    expectAllSigned();
    // ccxt options: spot exchangeInfo only, no sapi currency / margin calls, no futures endpoints
    expect(requestsNow().every((r) => r.path.startsWith('/api/v3/'))).toBe(true);
  });

  it('a limit order rests: acknowledged, listed open, funds locked, cancelled, then looked up as cancelled', async () => {
    const b = broker();
    const price = Math.round(last * 0.9);
    const o = order({ side: 'buy', type: 'limit', amount: 0.1, price });
    const u = await b.place(o);
    expect(u).toMatchObject({ state: 'acknowledged', fills: [] });
    expect(fake.account.openOrders().map((x) => x.clientOrderId)).toEqual([o.id]);
    expect(fake.account.openOrders()[0]).toMatchObject({ type: 'LIMIT', timeInForce: 'GTC', price });

    const sent = { ...o, state: 'acknowledged' as const, exchangeOrderId: u.exchangeOrderId as string };
    expect(await b.lookup(sent)).toMatchObject({ state: 'acknowledged', fills: [], exchangeOrderId: u.exchangeOrderId });
    const rec = await b.reconcile([sent]);
    expect(rec.missingAtExchange).toEqual([]);
    expect(rec.unknownAtExchange).toEqual([]);

    const usdt = (await b.balances()).find((x) => x.currency === 'USDT');
    expect(usdt?.total).toBe(START.USDT);
    expect(usdt?.used).toBeCloseTo(0.1 * price, 6);
    expect(usdt?.free).toBeCloseTo(START.USDT - 0.1 * price, 6);

    const c = await b.cancel(sent);
    expect(c).toMatchObject({ state: 'cancelled', fills: [], exchangeOrderId: u.exchangeOrderId });
    expect(fake.account.openOrders()).toEqual([]);
    expect(fake.account.orders()[0]?.status).toBe('CANCELED');
    expect(fake.account.balance('USDT')).toEqual({ free: START.USDT, locked: 0 });
    expect(await b.lookup(sent)).toMatchObject({ state: 'cancelled' });

    // cancelling it again: the exchange knows it is not open, and says how it ended
    expect(await b.cancel(sent)).toMatchObject({ state: 'cancelled' });
    // an order the exchange never had
    const never = order({ side: 'sell', type: 'limit', amount: 0.1, price: Math.round(last * 1.2) });
    expect(await b.lookup(never)).toBeNull();
    expect((await failure(b.cancel(never))).kind).toBe('not-found');
    expectAllSigned();
  });

  it('a resting limit order fills when the price reaches it: lookup reports the maker fill once (from myTrades)', async () => {
    const b = broker();
    const series = fake.data.candles('BTCUSDT', fake.data.finestTimeframe('BTCUSDT') as string);
    if (series === undefined) throw new Error('no BTC/USDT candles recorded');
    const limit = Math.round(last * 0.995 * 100) / 100;
    // the latest recorded candle (before the last one) that closed at or below the limit
    let at = -1;
    for (let i = series.length - 2; i >= 0; i--) {
      if ((series.close[i] as number) <= limit) {
        at = i;
        break;
      }
    }
    expect(at).toBeGreaterThanOrEqual(0);
    const o = order({ side: 'buy', type: 'limit', amount: 0.05, price: limit });
    expect((await b.place(o)).state).toBe('acknowledged');
    fake.setNow(series.time[at] as number);
    try {
      const u = await b.lookup(o);
      expect(u?.state).toBe('filled');
      expect(u?.fills).toEqual([{ price: limit, amount: 0.05, fee: 0.00005, feeCurrency: 'BTC', liquidity: 'maker', time: series.time[at] }]);
      expect(fake.account.signed.some((s) => s.path === '/api/v3/myTrades' && s.params['orderId'] === u?.exchangeOrderId)).toBe(true);
      // the journal has the fill now: nothing new to report
      const journaled = { ...o, state: 'filled' as const, filled: 0.05, avgPrice: limit, fees: 0.00005, feeCurrency: 'BTC', fills: u?.fills ?? [] };
      expect(await b.lookup(journaled)).toMatchObject({ state: 'filled', fills: [] });
    } finally {
      fake.setNow(null);
    }
    expectAllSigned();
  });

  it('balances are the account’s non-zero ones; positions come from base balances, with an entry price only when our own fills explain them', async () => {
    resetAccount({ USDT: 50_000, BTC: 0.5, ETH: 0 });
    const b = broker();
    expect(await b.balances()).toEqual([
      { currency: 'BTC', free: 0.5, used: 0, total: 0.5 },
      { currency: 'USDT', free: 50_000, used: 0, total: 50_000 },
    ]);
    // BTC held before the desk traded: no entry price known
    expect(await b.positions()).toEqual([{ exchange: 'binance', symbol: 'BTC/USDT', amount: 0.5, avgPrice: 0, realisedPnl: 0 }]);

    resetAccount({ USDT: 50_000 });
    const buy = await b.place(order({ side: 'buy', type: 'market', amount: 0.2 }));
    expect(buy.state).toBe('filled');
    const pos = await b.positions();
    expect(pos).toHaveLength(1);
    expect(pos[0]).toMatchObject({ symbol: 'BTC/USDT', avgPrice: last });
    expect(pos[0]?.amount).toBeCloseTo(0.2 - 0.0002, 10);
    expect(pos[0]?.realisedPnl).toBeCloseTo(-0.0002 * last, 6);

    const sell = await b.place(order({ side: 'sell', type: 'market', amount: 0.1 }));
    expect(sell.fills[0]).toMatchObject({ price: last, amount: 0.1, feeCurrency: 'USDT', liquidity: 'taker' });
    expect(sell.fills[0]?.fee).toBeCloseTo(0.1 * last * 0.001, 8);
    const ledger = await b.ledger(0);
    expect(ledger.map((e) => [e.side, e.fill.amount, e.quote])).toEqual([
      ['buy', 0.2, 'USDT'],
      ['sell', 0.1, 'USDT'],
    ]);
    // same price in and out: the realised PnL is the fees, each counted once
    expect(ledger[0]?.realisedPnl).toBeCloseTo(-0.0002 * last, 6);
    expect(ledger[1]?.realisedPnl).toBeCloseTo(-0.1 * last * 0.001, 6);
    expect(await b.ledger(clock.now() + 365 * 86_400_000 * 10)).toEqual([]);
    expectAllSigned();
  });

  it('a wrong secret gets Binance’s signature error as a clear message, and the order fails without reaching the book', async () => {
    const b = broker({ credentials: { apiKey: KEY, secret: WRONG_SECRET } });
    const e = await failure(b.balances());
    expect(e.kind).toBe('auth');
    expect(e.code).toBe(-1022);
    expect(e.message).toBe(
      'binance refused reading balances: the request signature is not valid (Signature for this request is not valid. (-1022)) — EXCHANGE_BINANCE_SECRET does not belong to EXCHANGE_BINANCE_API_KEY',
    );
    expect(fake.account.signed.at(-1)?.verdict).toBe('bad-signature');

    const o = order({ side: 'buy', type: 'market', amount: 0.01 });
    const u = await b.place(o);
    expect(u.state).toBe('failed');
    expect(u.reason).toMatch(/signature is not valid/);
    expect(fake.account.orders()).toEqual([]);
    expect(fake.account.signed.every((s) => s.verdict === 'bad-signature')).toBe(true);

    // a key the exchange does not know: -2015
    const k = await failure(broker({ credentials: { apiKey: WRONG_KEY, secret: SECRET } }).balances());
    expect(k.kind).toBe('auth');
    expect(k.message).toMatch(/the API key was not accepted \(Invalid API-key, IP, or permissions for action\. \(-2015\)\) — check EXCHANGE_BINANCE_API_KEY/);
    expect(fake.account.signed.at(-1)?.verdict).toBe('bad-key');
    for (const err of [e, k]) expectNoSecret(`${err.message} ${err.stack ?? ''}`);
    expectNoSecret(u.reason ?? '');
  });

  it('the same client id placed twice leaves one order at the exchange (also after a restart, and for a filled market order Binance would accept again)', async () => {
    const o = order({ side: 'buy', type: 'market', amount: 0.1 });
    const first = await broker().place(o);
    // a retry by this broker, and by a fresh one (a restarted desk) with the journal's view
    const again = await broker().place(o);
    expect(again.exchangeOrderId).toBe(first.exchangeOrderId);
    expect(again.state).toBe('filled');
    const journaled = { ...o, state: 'filled' as const, filled: 0.1, avgPrice: last, fees: 0.0001, feeCurrency: 'BTC', fills: first.fills };
    expect(await broker().place(journaled)).toMatchObject({ state: 'filled', fills: [], exchangeOrderId: first.exchangeOrderId });
    expect(fake.account.orders()).toHaveLength(1);
    expect(fake.account.signed.filter((s) => s.method === 'POST')).toHaveLength(1);

    // why the lookup comes first: Binance keeps client ids unique among OPEN orders only
    const reused = 'web_reused_id_1';
    fake.account.placeExternal({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: 0.01, clientOrderId: reused });
    fake.account.placeExternal({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: 0.01, clientOrderId: reused });
    expect(fake.account.orders().filter((x) => x.clientOrderId === reused)).toHaveLength(2);
  });

  it('a duplicate id answered with -2010 (a racing sender) returns the order already there; two brokers racing leave one order', async () => {
    const b = broker();
    const o = order({ side: 'sell', type: 'limit', amount: 0.2, price: Math.round(last * 1.1) });
    // someone else (another instance) got it in first, and our lookup raced past it
    fake.account.placeExternal({ symbol: 'BTCUSDT', side: 'SELL', type: 'LIMIT', quantity: 0.2, price: Math.round(last * 1.1), clientOrderId: o.id });
    fake.inject({ path: '/api/v3/order', method: 'GET', fault: { kind: 'binanceError', status: 400, code: -2013, msg: 'Order does not exist.' } });
    const u = await b.place(o);
    expect(u.state).toBe('acknowledged');
    expect(u.exchangeOrderId).toBe(String(fake.account.orders()[0]?.orderId));
    expect(fake.account.orders()).toHaveLength(1);
    expect(fake.account.signed.filter((s) => s.method === 'POST').map((s) => s.params['newClientOrderId'])).toEqual([o.id]);
    expect(logLines.some((l) => l.includes('"after":"duplicate"'))).toBe(true);
    // the fake refuses an open id itself, as Binance does
    expect(() => fake.account.placeExternal({ symbol: 'BTCUSDT', side: 'SELL', type: 'LIMIT', quantity: 0.2, price: Math.round(last * 1.1), clientOrderId: o.id })).toThrow(/Duplicate order sent\./);

    const race = order({ side: 'buy', type: 'limit', amount: 0.1, price: Math.round(last * 0.8) });
    const [x, y] = await Promise.all([broker().place(race), broker().place(race)]);
    expect(x.exchangeOrderId).toBe(y.exchangeOrderId);
    expect(fake.account.orders().filter((z) => z.clientOrderId === race.id)).toHaveLength(1);
    expectAllSigned();
  });

  it('an answer lost after the exchange took the order is recovered by lookup; no answer and no order is an unknown outcome', async () => {
    const b = broker();
    const o = order({ side: 'buy', type: 'market', amount: 0.05 });
    fake.inject({ path: '/api/v3/order', method: 'POST', fault: { kind: 'malformed' } });
    const u = await b.place(o);
    expect(u.state).toBe('filled');
    expect(u.fills.map((f) => f.amount)).toEqual([0.05]);
    expect(fake.account.orders()).toHaveLength(1);

    const slow = broker({ timeoutMs: 300 });
    const h = order({ side: 'buy', type: 'market', amount: 0.05 });
    fake.inject({ path: '/api/v3/order', method: 'POST', fault: { kind: 'hang' } });
    const e = await failure(slow.place(h));
    expect(e.kind).toBe('unknown-outcome');
    expect(e.message).toMatch(/^binance did not answer placing db-\w+ \(buy 0\.05 BTC\/USDT market\) \(.*timed out.*\), and the order is not there yet/);
    expect(await slow.lookup(h)).toBeNull();
    expectNoSecret(e.message);
  });

  it('reconcile reports a journal order the exchange does not have open, and an exchange order the journal does not know', async () => {
    const b = broker();
    const known = order({ side: 'buy', type: 'limit', amount: 0.1, price: Math.round(last * 0.9) });
    const placed = await b.place(known);
    const ghost = order({ side: 'sell', type: 'limit', amount: 0.3, price: Math.round(last * 1.3), state: 'acknowledged', exchangeOrderId: '999' });
    const paper = order({ side: 'buy', type: 'limit', amount: 1, price: 100, broker: 'paper' });
    const web = fake.account.placeExternal({ symbol: 'BTCUSDT', side: 'SELL', type: 'LIMIT', quantity: 0.25, price: Math.round(last * 1.5), clientOrderId: 'web_4242' });

    const rec = await b.reconcile([{ ...known, state: 'acknowledged', exchangeOrderId: placed.exchangeOrderId as string }, ghost, paper]);
    expect(rec.missingAtExchange.map((x) => x.id)).toEqual([ghost.id]);
    expect(rec.unknownAtExchange).toEqual([{ clientOrderId: 'web_4242', exchangeOrderId: String(web.orderId), symbol: 'BTC/USDT' }]);
    expect(rec.balances.map((x) => x.currency)).toEqual(['BTC', 'USDT']);
    expect(rec.balances.find((x) => x.currency === 'BTC')).toMatchObject({ used: 0.25, total: 1 });
    // one request for all open orders (no symbol), signed
    expect(fake.account.signed.filter((s) => s.path === '/api/v3/openOrders').map((s) => s.params['symbol'])).toEqual([undefined]);
    expectAllSigned();
  });

  it('estimates from the order book when there is one (the sandbox’s own, or MarketData’s for the real exchange), else from the ticker', async () => {
    fake.setOrderBook('BTC/USDT', {
      bids: [
        [last - 1, 2],
        [last - 5, 3],
      ],
      asks: [
        [last + 1, 1],
        [last + 3, 2],
      ],
    });
    const req: OrderRequest = { exchange: 'binance', symbol: 'BTC/USDT', side: 'buy', type: 'market', amount: 1.5, key: 'k', origin: 'test' };
    const sandboxed = await broker().estimate(req);
    expect(sandboxed.price).toBeCloseTo((last + 1 + 0.5 * (last + 3)) / 1.5, 8);
    expect(sandboxed).toMatchObject({ reference: last, liquidity: 'taker', feeRate: 0.001, feeCurrency: 'USDT', basis: 'binance sandbox order book (2 levels)' });
    expect(sandboxed.spreadBps).toBeCloseTo((2 / last) * 10_000, 6);
    expect(sandboxed.depthQuote).toBeCloseTo((last + 1) * 1 + (last + 3) * 2, 6);
    const real = await broker({ sandbox: false }).estimate(req);
    expect(real.basis).toBe('order book (2 levels)');
    expect(real.price).toBeCloseTo(sandboxed.price, 8);

    const resting = await broker().estimate({ ...req, type: 'limit', price: last - 100 });
    expect(resting).toMatchObject({ price: last - 100, slippageBps: 0, liquidity: 'maker' });

    fake.setOrderBook('BTC/USDT', null);
    const t = await broker().estimate({ ...req, side: 'sell', amount: 0.5 });
    expect(t).toMatchObject({ price: last, reference: last, slippageBps: 0, notional: 0.5 * last, liquidity: 'taker', depthQuote: null });
    expect(t.basis).toMatch(/^binance sandbox ticker last price \(no order book: /);
    expect(t.fee).toBeCloseTo(0.5 * last * 0.001, 8);
  });

  it('exchange errors are sentences without secrets: a clock outside the receive window, a refused order, a closed port', async () => {
    const b = broker();
    fake.account.setClockSkew(30_000);
    const clockErr = await failure(b.balances());
    expect(clockErr.kind).toBe('clock');
    expect(clockErr.message).toBe(
      "binance refused reading balances: Timestamp for this request is outside of the recvWindow. (-1021) — this host's clock differs from the exchange's by more than the receive window; sync it (NTP)",
    );
    fake.account.setClockSkew(0);

    const poor = await b.place(order({ side: 'buy', type: 'market', amount: 50 }));
    expect(poor).toMatchObject({ state: 'failed' });
    expect(poor.reason).toMatch(/^binance refused placing db-\w+ \(buy 50 BTC\/USDT market\): Account has insufficient balance for requested action\.$/);
    const tiny = await b.place(order({ side: 'buy', type: 'limit', amount: 0.0001, price: 1000 }));
    expect(tiny.reason).toMatch(/^binance refused placing db-\w+ \(buy 0\.0001 BTC\/USDT limit\): Filter failure: NOTIONAL/);
    expect(fake.account.orders()).toEqual([]);
    const stop = await b.place(order({ side: 'sell', type: 'stop', amount: 0.1, stopPrice: 20_000 }));
    expect(stop.reason).toBe('live stop orders are not supported yet (market and limit only)');

    fake.inject({ path: '/api/v3/account', times: 3, fault: { kind: 'status', status: 503 } });
    const down = await failure(b.balances());
    expect(down.kind).toBe('network');
    expect(down.message).toMatch(/^binance did not answer reading balances: /);
    expect(down.message).not.toMatch(/https?:\/\//);

    for (const err of [clockErr, down]) expectNoSecret(`${err.message} ${err.stack ?? ''}`);
    expectNoSecret(`${poor.reason} ${tiny.reason}`);
    expect(logLines.some((l) => l.includes('order refused by the exchange'))).toBe(true);
  });

  it('refuses a sandbox the exchange does not have, unless an API URL override (a test) is given', async () => {
    const e = await failure(broker({ exchange: 'kraken', apiUrl: undefined }).start());
    expect(e.kind).toBe('config');
    expect(e.message).toBe('kraken has no sandbox/testnet in ccxt: set trading.live.sandbox to false to trade real funds there, or choose an exchange with a sandbox');
    await expect(broker({ exchange: 'kraken' }).start()).resolves.toBeUndefined();
    await expect(broker({ exchange: 'kraken', sandbox: false, apiUrl: undefined }).start()).resolves.toBeUndefined();
  });

  it('createLiveBroker reads the keys from the environment only, naming the missing variables', async () => {
    const config = { trading: tradingConfigSchema.parse({ mode: 'live' }), market: marketConfigSchema.parse({ urls: { binance: fake.url } }) };
    const deps = { config, market, clock, logger };
    const none = await failure(createLiveBroker({ ...deps, secrets: readSecrets({}) }));
    expect(none.message).toBe('live trading on binance needs its API key in the environment: set EXCHANGE_BINANCE_API_KEY and EXCHANGE_BINANCE_SECRET');
    const half = await failure(createLiveBroker({ ...deps, secrets: readSecrets({ EXCHANGE_BINANCE_API_KEY: KEY }) }));
    expect(half.message).toBe('live trading on binance needs its API key in the environment: set EXCHANGE_BINANCE_SECRET');
    expectNoSecret(half.message);

    const b = await createLiveBroker({ ...deps, secrets: readSecrets({ EXCHANGE_BINANCE_API_KEY: KEY, EXCHANGE_BINANCE_SECRET: SECRET }) });
    brokers.push(b);
    expect(b).toMatchObject({ kind: 'live', exchange: 'binance', sandbox: true });
    expect((await b.balances()).map((x) => x.currency)).toEqual(['BTC', 'USDT']);
    // the broker itself shows no credential when logged or serialised
    expectNoSecret(JSON.stringify(b));
    expectAllSigned();
  });
});
