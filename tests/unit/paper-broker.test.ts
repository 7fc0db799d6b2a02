import Keyv from 'keyv';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { candleSlippageBps, MAX_SLIPPAGE_BPS, PaperBroker, walkBook, type PaperFill, type PaperMarket } from '../../src/brokers/paper/index.js';
import { ManualClock } from '../../src/kernel/clock.js';
import { marketConfigSchema, tradingConfigSchema, type TradingConfig } from '../../src/kernel/config/schema.js';
import { UserError } from '../../src/kernel/errors.js';
import type { BrokerUpdate, Order, OrderRequest } from '../../src/kernel/orders/types.js';
import { createReplaySource } from '../../src/market/replay/replay-source.js';
import { MarketData } from '../../src/market/service.js';
import type { MarketInfo, OrderBook } from '../../src/market/types.js';
import { recordedCandles, sharedDataDir } from '../helpers/recorded.js';

/**
 * The paper broker on the real recorded prices in ../shared/data (required: these tests fail
 * naming the path when it is missing, they never skip). The record has candles but no order
 * books and no fees, so:
 *   - market orders fill at the last closed 5m close (BTC/USDT has no 1m record) moved by the
 *     slippage model, with the config's fee;
 *   - moving prices come from replaying the same record at later times (the May 2021 crash);
 *   - order books and exchange fees are hand-written TEST INPUTS, wrapped around the real market.
 */

const DATA = sharedDataDir();
const M5 = 300_000;
const clock = new ManualClock(Date.UTC(2026, 0, 5, 12, 0, 0));
const DEFAULTS: TradingConfig['paper'] = tradingConfigSchema.parse({}).paper; // 100,000 USDT, 0.1 % fees, 2 + 10 bps model
const CONFIG_FEE_SOURCE = "config default: the exchange's markets give no fee";

async function replayAt(time: string | null): Promise<MarketData> {
  const source = await createReplaySource({ dir: DATA, replayTime: time === null ? null : Date.parse(time), clock });
  return new MarketData({ source, config: marketConfigSchema.parse({}), clock, logger: pino({ level: 'silent' }) });
}

/** The last 5m BTC/USDT candle closed by `at`, read from the file independently of the product. */
const btc5m = recordedCandles('binance', 'BTC/USDT', '5m');
function candleClosedBy(at: number): { open: number; close: number; volume: number } {
  let i = btc5m.length - 1;
  while ((btc5m.time[i] as number) + M5 > at) i--;
  return { open: btc5m.time[i] as number, close: btc5m.close[i] as number, volume: btc5m.volume[i] as number };
}

/** The slippage model as config/schema.ts documents it: baseBps + impactBps × sqrt(notional / (volume × close)) × 100. */
function modelBps(amount: number, c: { close: number; volume: number }): number {
  return DEFAULTS.slippage.baseBps + DEFAULTS.slippage.impactBps * Math.sqrt((amount * c.close) / (c.volume * c.close)) * 100;
}

const memory = (): Keyv => new Keyv({ throwOnErrors: true });
const broker = (market: PaperMarket, store: Keyv = memory(), config: Partial<TradingConfig['paper']> = {}): PaperBroker =>
  new PaperBroker({ market, store, clock, config: { ...DEFAULTS, ...config } });

let n = 0;
/** An order as the gateway hands it to a broker ("sent", nothing filled yet). */
function order(o: Pick<Order, 'side' | 'type' | 'amount'> & Partial<Order>): Order {
  const id = o.id ?? `test-${++n}`;
  return {
    exchange: 'binance', symbol: 'BTC/USDT', key: id, origin: 'test', id, state: 'sent', broker: 'paper', requestedBy: 'tom',
    filled: 0, avgPrice: null, fees: 0, feeCurrency: null, fills: [], createdAt: clock.now(), updatedAt: clock.now(), history: [], ...o,
  };
}
const request = (o: Pick<OrderRequest, 'side' | 'type' | 'amount'> & Partial<OrderRequest>): OrderRequest => ({ exchange: 'binance', symbol: 'BTC/USDT', key: 'k', origin: 'test', ...o });

/** What the gateway's journal does with an answer: the order then carries the fills it was told about. */
function journal(o: Order, u: BrokerUpdate): Order {
  return { ...o, state: u.state, fills: [...o.fills, ...u.fills], filled: o.filled + u.fills.reduce((s, f) => s + f.amount, 0) };
}

const money = (x: number): string => x.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

async function balance(b: PaperBroker, currency: string): Promise<{ free: number; used: number; total: number }> {
  const found = (await b.balances()).find((x) => x.currency === currency);
  return found === undefined ? { free: 0, used: 0, total: 0 } : { free: found.free, used: found.used, total: found.total };
}

let market: MarketData; // replay "now": the end of the record (2021-07-17 21:30 UTC)
let last: { open: number; close: number; volume: number };
beforeAll(async () => {
  market = await replayAt(null);
  last = candleClosedBy(market.now());
});
afterAll(() => market.close());

describe('market orders without a book: the last closed candle plus the slippage model', () => {
  it('a market buy fills at the last 5m close plus modelled slippage, pays the taker fee in USDT, and moves balances and position exactly', async () => {
    const b = broker(market);
    const amount = 0.1;
    const price = last.close * (1 + modelBps(amount, last) / 10_000);
    const fee = price * amount * 0.001;

    const u = await b.place(order({ side: 'buy', type: 'market', amount }));

    expect(u.state).toBe('filled');
    expect(u.fills).toHaveLength(1);
    const fill = u.fills[0] as PaperFill;
    expect(fill.price).toBeCloseTo(price, 6);
    expect(fill.amount).toBe(amount);
    expect(fill.fee).toBeCloseTo(fee, 8);
    expect(fill).toMatchObject({ feeCurrency: 'USDT', liquidity: 'taker', time: clock.now(), priceTime: last.open + M5 });
    expect(last.open).toBe(Date.parse('2021-07-17T21:05:00Z'));
    expect(fill.basis).toMatch(/^last closed 5m candle 2021-07-17T21:05:00Z \(close 31,706\.33, volume 65\.710159\) \+ slippage model \d+\.\d bps$/);

    expect(await balance(b, 'USDT')).toEqual({ free: expect.closeTo(100_000 - price * amount - fee, 6), used: 0, total: expect.closeTo(100_000 - price * amount - fee, 6) });
    expect(await balance(b, 'BTC')).toEqual({ free: 0.1, used: 0, total: 0.1 });
    expect(await b.positions()).toEqual([{ exchange: 'binance', symbol: 'BTC/USDT', amount: 0.1, avgPrice: expect.closeTo(price, 6), realisedPnl: expect.closeTo(-fee, 8) }]);
  });

  it('the estimate is what place() then does, names the candle and the fee source, and has no spread or depth without a book', async () => {
    const b = broker(market);
    const bps = modelBps(0.1, last);
    const e = await b.estimate(request({ side: 'buy', type: 'market', amount: 0.1 }));
    expect(e).toEqual({
      price: expect.closeTo(last.close * (1 + bps / 10_000), 6),
      reference: last.close,
      slippageBps: expect.closeTo(bps, 6),
      notional: expect.closeTo(last.close * (1 + bps / 10_000) * 0.1, 6),
      fee: expect.closeTo(last.close * (1 + bps / 10_000) * 0.1 * 0.001, 8),
      feeRate: 0.001,
      feeCurrency: 'USDT',
      liquidity: 'taker',
      feeSource: CONFIG_FEE_SOURCE,
      basis: expect.stringContaining('last closed 5m candle 2021-07-17T21:05:00Z'),
      spreadBps: null,
      depthQuote: null,
      priceTime: Date.parse('2021-07-17T21:10:00Z'),
    });
    const u = await b.place(order({ side: 'buy', type: 'market', amount: 0.1 }));
    expect(u.fills[0]?.price).toBe(e.price);
    expect(u.fills[0]?.fee).toBe(e.fee);
  });

  it('a sell is priced below the close, realises PnL against the average entry net of both fees, and the ledger has one entry per fill', async () => {
    const b = broker(market);
    const buyPrice = last.close * (1 + modelBps(0.2, last) / 10_000);
    const sellPrice = last.close * (1 - modelBps(0.1, last) / 10_000);
    const buyFee = buyPrice * 0.2 * 0.001;
    const sellFee = sellPrice * 0.1 * 0.001;
    const sellPnl = (sellPrice - buyPrice) * 0.1 - sellFee;

    await b.place(order({ side: 'buy', type: 'market', amount: 0.2 }));
    const u = await b.place(order({ side: 'sell', type: 'market', amount: 0.1 }));

    expect(u.state).toBe('filled');
    expect(u.fills[0]?.price).toBeCloseTo(sellPrice, 6);
    expect(await b.positions()).toEqual([{ exchange: 'binance', symbol: 'BTC/USDT', amount: 0.1, avgPrice: expect.closeTo(buyPrice, 6), realisedPnl: expect.closeTo(-buyFee + sellPnl, 8) }]);
    expect((await balance(b, 'USDT')).total).toBeCloseTo(100_000 - buyPrice * 0.2 - buyFee + sellPrice * 0.1 - sellFee, 6);
    expect((await balance(b, 'BTC')).total).toBeCloseTo(0.1, 12);

    const ledger = await b.ledger(0);
    expect(ledger.map((e) => [e.side, e.quote, e.realisedPnl])).toEqual([
      ['buy', 'USDT', expect.closeTo(-buyFee, 8)], // a buy's fee is a realised loss
      ['sell', 'USDT', expect.closeTo(sellPnl, 8)],
    ]);
    // /pnl over a period: nothing after these fills
    expect(await b.ledger(clock.now() + 1)).toEqual([]);

    // selling the rest closes the position: it is no longer listed, and no BTC is left
    await b.place(order({ side: 'sell', type: 'market', amount: 0.1 }));
    expect(await b.positions()).toEqual([]);
    expect((await b.balances()).map((x) => x.currency)).toEqual(['USDT']);
  });

  it('a buy the account cannot pay for fails with the numbers, and a sell of base it does not hold fails (no shorting); nothing moves', async () => {
    const b = broker(market, memory(), { balances: { USDT: 1000 } });
    const price = last.close * (1 + modelBps(0.1, last) / 10_000);
    const buy = await b.place(order({ side: 'buy', type: 'market', amount: 0.1 }));
    expect(buy).toEqual({ state: 'failed', fills: [], reason: `insufficient USDT: need ${money(price * 0.1 * 1.001)}, free 1,000.00` });

    const sell = await b.place(order({ side: 'sell', type: 'market', amount: 0.1 }));
    expect(sell).toEqual({ state: 'failed', fills: [], reason: 'insufficient BTC: need 0.1, free 0 (spot: no shorting)' });

    expect(await b.balances()).toEqual([{ currency: 'USDT', free: 1000, used: 0, total: 1000 }]);
    expect(await b.positions()).toEqual([]);
    expect(await b.ledger(0)).toEqual([]);
  });

  it('no price, no fill: before the record starts there is no closed candle and the order fails saying so', async () => {
    const before = await replayAt('2020-06-01T00:00:00Z');
    const u = await broker(before).place(order({ side: 'buy', type: 'market', amount: 0.1 }));
    expect(u).toEqual({ state: 'failed', fills: [], reason: 'binance BTC/USDT: no order book and no closed candle in 1m, 5m, 15m, 1h — no price to fill at' });
  });

  it('the slippage model is clamped: an order larger than the candle counts as the whole candle, a zero-volume candle as no liquidity, and the total never exceeds 10 %', () => {
    const m = { baseBps: 2, impactBps: 10 };
    // 1 % of the candle's quote volume: 2 + 10 × sqrt(0.01) × 100 = 102 bps
    expect(candleSlippageBps(m, 1_000, { close: 100, volume: 1_000 })).toBeCloseTo(102, 9);
    expect(candleSlippageBps({ baseBps: 2, impactBps: 1 }, 1e9, { close: 100, volume: 1 })).toBe(102);
    expect(candleSlippageBps({ baseBps: 2, impactBps: 1 }, 10, { close: 100, volume: 0 })).toBe(102);
    expect(candleSlippageBps({ baseBps: 500, impactBps: 10_000 }, 10, { close: 100, volume: 1_000 })).toBe(MAX_SLIPPAGE_BPS);
  });
});

describe('idempotency and persistence', () => {
  it('placing the same client order id twice fills once; the retry gets the fills its journal does not have yet', async () => {
    const b = broker(market);
    const o = order({ side: 'buy', type: 'market', amount: 0.1 });
    const first = await b.place(o);
    // a gateway that crashed before journaling the answer asks again with the order as it has it
    const retry = await b.place(o);
    expect(retry).toEqual(first);
    // a gateway that did journal it is told nothing new
    expect(await b.place(journal(o, first))).toEqual({ state: 'filled', fills: [] });
    expect((await balance(b, 'BTC')).total).toBe(0.1);
    expect(await b.ledger(0)).toHaveLength(1);
  });

  it('state survives a new PaperBroker on the same store: balances, positions, ledger and the orders it holds', async () => {
    const store = memory();
    const a = broker(market, store);
    const o = order({ side: 'buy', type: 'market', amount: 0.1 });
    const u = await a.place(o);
    const resting = order({ side: 'buy', type: 'limit', amount: 0.1, price: 20_000 });
    expect((await a.place(resting)).state).toBe('acknowledged');
    const seen = { balances: await a.balances(), positions: await a.positions(), ledger: await a.ledger(0) };
    await a.close();

    const b = broker(market, store, { balances: { USDT: 5 } }); // starting balances apply to a new account only
    expect({ balances: await b.balances(), positions: await b.positions(), ledger: await b.ledger(0) }).toEqual(seen);
    expect(await b.lookup(o)).toEqual({ state: 'filled', fills: u.fills });
    expect(await b.place(journal(o, u))).toEqual({ state: 'filled', fills: [] });
    expect(await b.lookup(resting)).toEqual({ state: 'acknowledged', fills: [] });
    expect((await balance(b, 'USDT')).used).toBeCloseTo(0.1 * 20_000 * 1.001, 9);
  });

  it('concurrent places cannot spend the same dollars twice', async () => {
    const b = broker(market, memory(), { balances: { USDT: 10_000 } });
    const cost = last.close * (1 + modelBps(0.05, last) / 10_000) * 0.05 * 1.001; // each buy: notional + fee
    const answers = await Promise.all(Array.from({ length: 10 }, () => b.place(order({ side: 'buy', type: 'market', amount: 0.05 }))));

    const filled = answers.filter((u) => u.state === 'filled');
    expect(filled).toHaveLength(Math.floor(10_000 / cost)); // 6 of 10 at ~1,600 USDT each
    for (const u of answers.filter((x) => x.state === 'failed')) expect(u.reason).toMatch(/^insufficient USDT: need 1,\d{3}\.\d{2}, free \d{1,3}\.\d{2}$/);
    const usdt = await balance(b, 'USDT');
    expect(usdt.total).toBeCloseTo(10_000 - filled.length * cost, 6);
    expect(usdt.total).toBeGreaterThanOrEqual(0);
    expect((await balance(b, 'BTC')).total).toBeCloseTo(filled.length * 0.05, 12);
  });

  it('a crash between the writes of a fill is finished on the next start: the fill is in the balances and in lookup, once', async () => {
    const store = memory();
    let crashOnAccount = false;
    // the store dies right after the order record is written and before the account is
    const crashing = new Proxy(store, {
      get(target, prop) {
        if (prop === 'set') {
          return async (key: string, value: unknown) => {
            if (crashOnAccount && key === 'account') throw new Error('store went away');
            return target.set(key, value);
          };
        }
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const a = broker(market, crashing);
    await a.balances(); // the account exists before the crash
    crashOnAccount = true;
    const o = order({ side: 'buy', type: 'market', amount: 0.1 });
    await expect(a.place(o)).rejects.toThrow('store went away');

    const b = broker(market, store); // the restart
    const u = await b.lookup(o);
    expect(u?.state).toBe('filled');
    expect(u?.fills).toHaveLength(1);
    const fill = u?.fills[0] as PaperFill;
    expect((await balance(b, 'BTC')).total).toBe(0.1);
    expect((await balance(b, 'USDT')).total).toBeCloseTo(100_000 - fill.price * 0.1 - fill.fee, 6);
    expect(await b.ledger(0)).toHaveLength(1);
    expect(await b.place(o)).toEqual(u); // and the gateway's retry does not fill again
    expect((await balance(b, 'BTC')).total).toBe(0.1);
  });
});

/**
 * Moving prices: the same record replayed at successive times of 19 May 2021, when BTC fell
 * from 38,700 to 32,300 in 75 minutes. The test steps the desk's "now"; every price is recorded.
 */
class ReplayClockMarket implements PaperMarket {
  private i = 0;
  constructor(private readonly steps: MarketData[]) {}
  next(): void {
    this.i = Math.min(this.i + 1, this.steps.length - 1);
  }
  private get m(): MarketData {
    return this.steps[this.i] as MarketData;
  }
  markets: PaperMarket['markets'] = (exchange) => this.m.markets(exchange);
  candles: PaperMarket['candles'] = (req) => this.m.candles(req);
  ticker: PaperMarket['ticker'] = (req) => this.m.ticker(req);
  orderBook: PaperMarket['orderBook'] = (req) => this.m.orderBook(req);
  now: PaperMarket['now'] = () => this.m.now();
}

describe('limit and stop orders on moving recorded prices (19 May 2021)', () => {
  const T = ['2021-05-19T12:00:00Z', '2021-05-19T12:30:00Z', '2021-05-19T13:15:00Z'];
  const at = T.map((t) => candleClosedBy(Date.parse(t)));
  let steps: MarketData[];
  beforeAll(async () => {
    steps = await Promise.all(T.map(replayAt));
  });
  const stepping = (): ReplayClockMarket => new ReplayClockMarket(steps);

  it('the recorded closes used below', () => {
    expect(at.map((c) => c.close)).toEqual([38_700, 38_314.39, 32_300.46]);
  });

  it('a buy limit below the market rests holding its USDT, and fills as maker at its limit when a later lookup sees the price below it', async () => {
    const m = stepping();
    const b = broker(m);
    let o = order({ side: 'buy', type: 'limit', amount: 0.5, price: 36_000 });
    const held = 0.5 * 36_000 * 1.001;

    let u = await b.place(o);
    expect(u).toEqual({ state: 'acknowledged', fills: [] });
    o = journal(o, u);
    expect(await balance(b, 'USDT')).toEqual({ free: expect.closeTo(100_000 - held, 9), used: expect.closeTo(held, 9), total: 100_000 });

    m.next(); // 12:30, close 38,314.39: not there yet
    expect(await b.lookup(o)).toEqual({ state: 'acknowledged', fills: [] });

    m.next(); // 13:15, close 32,300.46
    u = (await b.lookup(o)) as BrokerUpdate;
    expect(u.state).toBe('filled');
    expect(u.fills).toEqual([
      {
        price: 36_000, amount: 0.5, fee: 0.5 * 36_000 * 0.001, feeCurrency: 'USDT', liquidity: 'maker', time: clock.now(),
        basis: 'resting limit 36,000.00 reached (last closed 5m candle 2021-05-19T13:10:00Z close 32,300.46)', priceTime: Date.parse('2021-05-19T13:15:00Z'),
      },
    ]);
    o = journal(o, u);
    expect(await b.lookup(o)).toEqual({ state: 'filled', fills: [] }); // polled again: nothing new
    expect(await balance(b, 'USDT')).toEqual({ free: expect.closeTo(100_000 - held, 9), used: 0, total: expect.closeTo(100_000 - held, 9) });
    expect(await b.positions()).toEqual([{ exchange: 'binance', symbol: 'BTC/USDT', amount: 0.5, avgPrice: 36_000, realisedPnl: -18 }]);
  });

  it('a buy limit at or above the market fills at once as taker, at the better of the limit and the modelled price', async () => {
    const b = broker(steps[0] as MarketData);
    const modelled = at[0]!.close * (1 + modelBps(0.1, at[0]!) / 10_000);
    const above = await b.place(order({ side: 'buy', type: 'limit', amount: 0.1, price: 40_000 }));
    expect(above.fills[0]).toMatchObject({ price: expect.closeTo(modelled, 6), liquidity: 'taker' });
    const atClose = await b.place(order({ side: 'buy', type: 'limit', amount: 0.1, price: 38_700 }));
    expect(atClose.fills[0]).toMatchObject({ price: 38_700, liquidity: 'taker', fee: expect.closeTo(3.87, 9) });
    expect((atClose.fills[0] as PaperFill).basis).toMatch(/, capped at the limit 38,700\.00$/);
  });

  it('a sell stop waits holding its BTC, and when the crash crosses it fills as a market order at that candle’s close minus slippage', async () => {
    const m = stepping();
    const b = broker(m);
    await b.place(order({ side: 'buy', type: 'market', amount: 0.5 }));
    const o = order({ side: 'sell', type: 'stop', amount: 0.5, stopPrice: 37_000 });
    expect(await b.place(o)).toEqual({ state: 'acknowledged', fills: [] });
    expect(await balance(b, 'BTC')).toEqual({ free: 0, used: 0.5, total: 0.5 });
    // the held BTC cannot be sold twice
    expect((await b.place(order({ side: 'sell', type: 'market', amount: 0.1 }))).reason).toBe('insufficient BTC: need 0.1, free 0 (spot: no shorting)');

    m.next();
    expect((await b.lookup(o))?.state).toBe('acknowledged');
    m.next();
    const u = (await b.lookup(o)) as BrokerUpdate;
    const price = at[2]!.close * (1 - modelBps(0.5, at[2]!) / 10_000);
    expect(u.state).toBe('filled');
    expect(u.fills[0]).toMatchObject({ price: expect.closeTo(price, 6), amount: 0.5, liquidity: 'taker' });
    expect((u.fills[0] as PaperFill).basis).toMatch(/^stop 37,000\.00 crossed \(last closed 5m candle 2021-05-19T13:10:00Z close 32,300\.46\); last closed 5m candle/);
    expect(await b.positions()).toEqual([]);
    expect(await balance(b, 'BTC')).toEqual({ free: 0, used: 0, total: 0 });
  });

  it('a sell stop-limit triggered by the crash becomes a limit at its price, and rests there because the market gapped below it', async () => {
    const m = stepping();
    const b = broker(m);
    await b.place(order({ side: 'buy', type: 'market', amount: 0.5 }));
    const req = { side: 'sell', type: 'stop-limit', amount: 0.5, stopPrice: 37_000, price: 36_000 } as const;
    expect(await b.estimate(request(req))).toMatchObject({
      price: 36_000, reference: 38_700, slippageBps: 0, liquidity: 'maker',
      basis: 'stop 37,000.00 not reached; now last closed 5m candle 2021-05-19T11:55:00Z close 38,700.00: priced at the limit price, slippage at the trigger is not modelled',
    });
    const o = order(req);
    expect(await b.place(o)).toEqual({ state: 'acknowledged', fills: [] });
    m.next();
    m.next(); // 13:15: 32,300.46 ≤ 37,000 triggers it; a sell limit at 36,000 is above the market, so it rests
    expect(await b.lookup(o)).toEqual({ state: 'acknowledged', fills: [] });
    expect(await balance(b, 'BTC')).toEqual({ free: 0, used: 0.5, total: 0.5 });
    expect((await b.estimate(request({ ...req, type: 'limit' }))).basis).toBe('rests at the limit 36,000.00; now last closed 5m candle 2021-05-19T13:10:00Z close 32,300.46');
  });

  it('cancel releases a resting order’s reservation; cancelling again, a filled order or an unknown id answers without changing anything', async () => {
    const b = broker(steps[0] as MarketData);
    const resting = order({ side: 'buy', type: 'limit', amount: 0.5, price: 30_000 });
    await b.place(resting);
    expect((await balance(b, 'USDT')).used).toBeCloseTo(15_015, 9);
    expect(await b.cancel(resting)).toEqual({ state: 'cancelled', fills: [] });
    expect(await balance(b, 'USDT')).toEqual({ free: 100_000, used: 0, total: 100_000 });
    expect(await b.cancel(resting)).toEqual({ state: 'cancelled', fills: [], reason: 'already cancelled: nothing to cancel' });

    const filled = order({ side: 'buy', type: 'market', amount: 0.1 });
    const u = await b.place(filled);
    expect(await b.cancel(journal(filled, u))).toEqual({ state: 'filled', fills: [], reason: 'already filled: nothing to cancel' });

    const unknown = order({ side: 'buy', type: 'market', amount: 0.1 });
    expect(await b.cancel(unknown)).toEqual({ state: 'failed', fills: [], reason: `the paper broker has no order ${unknown.id}: nothing to cancel` });
    expect(await b.lookup(unknown)).toBeNull();
  });
});

/** A hand-written order book (TEST INPUT — the record has no books) served by the real market otherwise. */
function withBook(real: MarketData, book: Omit<OrderBook, 'exchange' | 'symbol' | 'source'>): PaperMarket {
  return {
    markets: (exchange) => real.markets(exchange),
    candles: (req) => real.candles(req),
    ticker: (req) => real.ticker(req),
    now: () => real.now(),
    orderBook: async (req) => ({ exchange: req.exchange ?? 'binance', symbol: req.symbol, source: 'live', ...book }),
  };
}

describe('order book walking (hand-written test book)', () => {
  const BOOK = {
    time: Date.parse('2021-07-17T21:29:00Z'),
    asks: [[31_710, 0.2], [31_720, 0.3], [31_750, 1]] as Array<[number, number]>,
    bids: [[31_700, 0.5], [31_690, 1]] as Array<[number, number]>,
  };

  it('a market buy walks the asks and pays the VWAP; the estimate gives spread, depth within 1 % and the same price', async () => {
    const b = broker(withBook(market, BOOK));
    const vwap = (0.2 * 31_710 + 0.3 * 31_720 + 0.1 * 31_750) / 0.6; // 31,721.67

    const e = await b.estimate(request({ side: 'buy', type: 'market', amount: 0.6 }));
    expect(e).toMatchObject({
      price: expect.closeTo(vwap, 9),
      reference: 31_710,
      slippageBps: expect.closeTo((vwap / 31_710 - 1) * 10_000, 9),
      liquidity: 'taker',
      spreadBps: expect.closeTo((10 / 31_705) * 10_000, 9),
      depthQuote: expect.closeTo(0.2 * 31_710 + 0.3 * 31_720 + 1 * 31_750, 9), // all three asks are within 1 % of 31,710
      priceTime: BOOK.time,
      basis: 'order book 2021-07-17T21:29:00Z: 3 of 3 levels, VWAP 31,721.67 vs best 31,710.00',
    });

    const u = await b.place(order({ side: 'buy', type: 'market', amount: 0.6 }));
    expect(u.fills[0]).toMatchObject({ price: expect.closeTo(vwap, 9), amount: 0.6, fee: expect.closeTo(vwap * 0.6 * 0.001, 9), priceTime: BOOK.time });
  });

  it('a market order deeper than the book fails instead of filling part of it', async () => {
    const b = broker(withBook(market, BOOK));
    expect(await b.place(order({ side: 'buy', type: 'market', amount: 2 }))).toEqual({
      state: 'failed', fills: [], reason: 'book too thin: only 1.5 of 2 available within 3 levels (binance BTC/USDT)',
    });
    await expect(b.estimate(request({ side: 'sell', type: 'market', amount: 2 }))).rejects.toThrow('book too thin: only 1.5 of 2 available within 2 levels (binance BTC/USDT)');
    expect(walkBook(BOOK.asks, 'buy', 1, 31_720)).toEqual({ filled: 0.5, cost: 0.2 * 31_710 + 0.3 * 31_720, levels: 2 });
  });

  it('a marketable limit takes the levels within its limit as taker and rests the rest at the limit', async () => {
    const b = broker(withBook(market, BOOK));
    const o = order({ side: 'buy', type: 'limit', amount: 0.6, price: 31_720 });
    const u = await b.place(o);
    expect(u.state).toBe('partially-filled');
    expect(u.fills[0]).toMatchObject({ amount: 0.5, price: expect.closeTo((0.2 * 31_710 + 0.3 * 31_720) / 0.5, 9), liquidity: 'taker' });
    expect((await balance(b, 'USDT')).used).toBeCloseTo(0.1 * 31_720 * 1.001, 9);
    expect((await balance(b, 'BTC')).total).toBeCloseTo(0.5, 12);
  });
});

/** The real markets with BTC/USDT's fee and limits replaced (TEST INPUT — the record gives none). */
function withMarket(real: MarketData, patch: Partial<MarketInfo>): PaperMarket {
  return {
    markets: async (exchange) => (await real.markets(exchange)).map((m) => (m.symbol === 'BTC/USDT' ? { ...m, ...patch } : m)),
    candles: (req) => real.candles(req),
    ticker: (req) => real.ticker(req),
    orderBook: (req) => real.orderBook(req),
    now: () => real.now(),
  };
}

describe('fees and market rules', () => {
  it('fees come from the exchange’s markets when they give them, and from the config when they do not', async () => {
    const withFees = broker(withMarket(market, { maker: 0.0002, taker: 0.0004 }));
    const e = await withFees.estimate(request({ side: 'buy', type: 'market', amount: 0.1 }));
    expect(e).toMatchObject({ feeRate: 0.0004, feeSource: 'binance markets', fee: expect.closeTo(e.notional * 0.0004, 9) });
    expect((await withFees.place(order({ side: 'buy', type: 'market', amount: 0.1 }))).fills[0]?.fee).toBeCloseTo(e.notional * 0.0004, 9);

    // the recorded markets have no fees (null): the config's rates are used and the estimate says so
    const configured = broker(market, memory(), { fees: { maker: 0.0005, taker: 0.00075 } });
    const c = await configured.estimate(request({ side: 'buy', type: 'market', amount: 0.1 }));
    expect(c).toMatchObject({ feeRate: 0.00075, feeSource: CONFIG_FEE_SOURCE, fee: expect.closeTo(c.notional * 0.00075, 9) });
    const resting = await configured.estimate(request({ side: 'buy', type: 'limit', amount: 0.1, price: 30_000 }));
    expect(resting).toMatchObject({ price: 30_000, slippageBps: 0, liquidity: 'maker', feeRate: 0.0005, fee: expect.closeTo(1.5, 9), reference: last.close });
  });

  it('amounts off the step, under the minimum amount or under the minimum order value are refused, with the rule named', async () => {
    const b = broker(withMarket(market, { amountPrecision: 0.001, minAmount: 0.01, minCost: 1_000 }));
    const cases: Array<[number, string]> = [
      [0.0125, 'amount 0.0125 BTC is not a multiple of the BTC/USDT amount step 0.001'],
      [0.005, 'amount 0.005 BTC is below the BTC/USDT minimum of 0.01 BTC'],
      [0.02, `order value ${money(last.close * (1 + modelBps(0.02, last) / 10_000) * 0.02)} USDT is below the BTC/USDT minimum of 1,000.00 USDT`],
    ];
    for (const [amount, reason] of cases) {
      expect(await b.place(order({ side: 'buy', type: 'market', amount }))).toEqual({ state: 'failed', fills: [], reason });
      await expect(b.estimate(request({ side: 'buy', type: 'market', amount }))).rejects.toThrow(new UserError(reason));
    }
    expect((await b.place(order({ side: 'buy', type: 'market', amount: 0.035 }))).state).toBe('filled');
  });
});
