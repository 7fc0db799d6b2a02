import { describe, expect, it } from 'vitest';
import { preTradeChecks, project, type CheckEnv } from '../../plugins/risk/checks.js';
import { DEFAULT_LIMITS, type Limits } from '../../plugins/risk/config.js';
import type { Estimate, Order, OrderRequest, Position, RiskCheckInput, RiskCheckResult } from '../../src/kernel/index.js';

/**
 * The pre-trade checks, each on its own: it refuses just above its limit and passes at it, with
 * the numbers in the detail. Prices here are hand-set marks (the checks never fetch their own:
 * the engine hands them ctx.market's); every amount is in USDT, the desk currency.
 */

const NOW = Date.UTC(2026, 10, 27, 9, 0, 0);
const BTC = 50_000;

function env(limits: Partial<Limits> = {}, marks: Record<string, number> = { 'BTC/USDT': BTC, 'ETH/USDT': 2_000 }): CheckEnv {
  return {
    currency: 'USDT',
    limits: async () => ({ ...DEFAULT_LIMITS, ...limits }),
    toDesk: async (amount, ccy) => {
      if (ccy === 'USDT') return amount;
      throw new Error(`no price for ${ccy}/USDT`);
    },
    mark: async (_e, symbol) => {
      const p = marks[symbol];
      if (p === undefined) throw new Error(`no price for ${symbol}`);
      return p;
    },
    now: () => NOW,
    replay: false,
  };
}

function estimate(o: Partial<Estimate> & { notional: number }): Estimate {
  return {
    price: BTC,
    reference: BTC,
    slippageBps: 0,
    fee: 0,
    feeRate: 0.001,
    feeCurrency: 'USDT',
    liquidity: 'taker',
    feeSource: 'test',
    basis: 'test',
    spreadBps: 2,
    depthQuote: 1_000_000,
    priceTime: NOW - 1000,
    ...o,
  };
}

function order(o: Partial<OrderRequest> = {}): OrderRequest {
  return { exchange: 'binance', symbol: 'BTC/USDT', side: 'buy', type: 'market', amount: 0.1, key: 'k1', origin: 'test', ...o };
}

const position = (symbol: string, amount: number, avgPrice = BTC): Position => ({ exchange: 'binance', symbol, amount, avgPrice, realisedPnl: 0 });

function openOrder(o: Partial<Order> & Pick<Order, 'side' | 'amount'>): Order {
  return {
    ...order(o),
    id: `o${Math.random()}`,
    state: 'acknowledged',
    broker: 'paper',
    requestedBy: 'tom',
    filled: 0,
    avgPrice: null,
    fees: 0,
    feeCurrency: null,
    fills: [],
    createdAt: NOW,
    updatedAt: NOW,
    history: [],
    ...o,
  };
}

/** an order of `amount` BTC at 50,000 (notional = amount × 50,000 unless given) */
function input(o: { order?: Partial<OrderRequest>; estimate?: Partial<Estimate>; positions?: Position[]; openOrders?: Order[] } = {}): RiskCheckInput {
  const req = order(o.order);
  const price = o.estimate?.price ?? req.price ?? BTC;
  return {
    order: req,
    requestedBy: 'tom',
    estimate: estimate({ price, notional: req.amount * price, ...o.estimate }),
    quote: 'USDT',
    positions: o.positions ?? [],
    openOrders: o.openOrders ?? [],
    balances: [{ currency: 'USDT', free: 100_000, used: 0, total: 100_000 }],
  };
}

async function run(name: string, e: CheckEnv, i: RiskCheckInput): Promise<RiskCheckResult> {
  const c = preTradeChecks(e).find((x) => x.name === name);
  if (c === undefined) throw new Error(`no check ${name}`);
  return c.check(i);
}

describe('the checks the risk plugin registers', () => {
  it('one per limit an order can break, each with a short name', () => {
    expect(preTradeChecks(env()).map((c) => c.name)).toEqual([
      'max-order-notional',
      'max-position-notional',
      'max-gross-exposure',
      'max-open-orders',
      'allowed-symbols',
      'max-spread',
      'min-book-depth',
      'price-band',
      'stale-price',
    ]);
  });

  it('every check passes an ordinary order (0.1 BTC at 50,000 with a tight, deep book)', async () => {
    for (const c of preTradeChecks(env())) expect(await c.check(input()), c.name).toMatchObject({ ok: true });
  });
});

describe('max-order-notional', () => {
  it('refuses 5,000.00 USDT against a 4,999 limit and passes at exactly 5,000', async () => {
    const i = input({ order: { amount: 0.1 } }); // 0.1 × 50,000 = 5,000
    expect(await run('max-order-notional', env({ maxOrderNotional: 4_999 }), i)).toEqual({
      name: 'max-order-notional',
      ok: false,
      detail: 'notional 5,000.00 USDT > limit 4,999.00 USDT',
    });
    expect(await run('max-order-notional', env({ maxOrderNotional: 5_000 }), i)).toEqual({
      name: 'max-order-notional',
      ok: true,
      detail: 'notional 5,000.00 USDT ≤ limit 5,000.00 USDT',
    });
  });

  it('a quote the desk cannot value refuses (fails closed) and says why', async () => {
    const i = { ...input(), quote: 'EUR' };
    const r = await run('max-order-notional', env(), i);
    expect(r.ok).toBe(false);
    expect(r.detail).toBe('could not check: no price for EUR/USDT');
  });
});

describe('max-position-notional: the position after the order, with open orders on the same side', () => {
  it('0.3 BTC held + 0.1 BTC open buy + 0.1 BTC = 0.5 BTC = 25,000: passes at 25,000, refuses at 24,999.99', async () => {
    const i = input({ positions: [position('BTC/USDT', 0.3)], openOrders: [openOrder({ side: 'buy', amount: 0.1 })] });
    const at = await run('max-position-notional', env({ maxPositionNotional: 25_000 }), i);
    expect(at.ok).toBe(true);
    expect(at.detail).toBe('BTC/USDT position after the order 0.5 BTC (with 0.1 BTC in open buy orders) × 50,000 = 25,000.00 USDT ≤ limit 25,000.00 USDT');
    const over = await run('max-position-notional', env({ maxPositionNotional: 24_999.99 }), i);
    expect(over.ok).toBe(false);
    expect(over.detail).toContain('= 25,000.00 USDT > limit 24,999.99 USDT');
  });

  it('a partly filled open order counts only what is left of it', async () => {
    const i = input({ openOrders: [openOrder({ side: 'buy', amount: 0.3, filled: 0.2 })] });
    expect(project(i)).toEqual({ held: 0, pending: expect.closeTo(0.1, 12) as number, projected: expect.closeTo(0.2, 12) as number, reducing: false });
  });
});

describe('max-gross-exposure: every position marked at its last price, plus this order', () => {
  const held = [position('BTC/USDT', 0.2), position('ETH/USDT', 10, 1_900)]; // 10,000 + 20,000 = 30,000

  it('30,000 held + 5,000 = 35,000: passes at 35,000, refuses at 34,999', async () => {
    const i = input({ positions: held });
    const at = await run('max-gross-exposure', env({ maxGrossExposure: 35_000 }), i);
    expect(at).toMatchObject({ ok: true, detail: 'gross exposure after the order 35,000.00 USDT ≤ limit 35,000.00 USDT (now 30,000.00 USDT)' });
    const over = await run('max-gross-exposure', env({ maxGrossExposure: 34_999 }), i);
    expect(over).toMatchObject({ ok: false, detail: 'gross exposure after the order 35,000.00 USDT > limit 34,999.00 USDT (now 30,000.00 USDT)' });
  });

  it('a held market without a price refuses: exposure it cannot see is not zero', async () => {
    const i = input({ positions: [position('SOL/USDT', 5, 100)] });
    const r = await run('max-gross-exposure', env(), i);
    expect(r).toMatchObject({ ok: false, detail: 'could not check: no price for SOL/USDT' });
  });
});

describe('max-open-orders counts the new order', () => {
  it('with the limit at 3: two open pass (3 with this one), three open refuse (4)', async () => {
    const two = input({ openOrders: [openOrder({ side: 'buy', amount: 0.01 }), openOrder({ side: 'buy', amount: 0.01, symbol: 'ETH/USDT' })] });
    expect(await run('max-open-orders', env({ maxOpenOrders: 3 }), two)).toMatchObject({ ok: true, detail: '3 open orders with this one ≤ limit 3' });
    const three = input({ openOrders: [...two.openOrders, openOrder({ side: 'buy', amount: 0.01, symbol: 'ETH/USDT' })] });
    expect(await run('max-open-orders', env({ maxOpenOrders: 3 }), three)).toMatchObject({ ok: false, detail: '4 open orders with this one > limit 3' });
  });
});

describe('allowed-symbols', () => {
  it('empty: every market; a list: only those (a bare symbol on any exchange, exchange:symbol on that one)', async () => {
    expect(await run('allowed-symbols', env(), input())).toMatchObject({ ok: true, detail: 'every market is allowed (allowedSymbols is empty)' });
    expect(await run('allowed-symbols', env({ allowedSymbols: ['ETH/USDT', 'binance:BTC/USDT'] }), input())).toMatchObject({ ok: true, detail: 'binance:BTC/USDT is allowed' });
    expect(await run('allowed-symbols', env({ allowedSymbols: ['kraken:BTC/USDT', 'ETH/USDT'] }), input())).toEqual({
      name: 'allowed-symbols',
      ok: false,
      detail: 'binance:BTC/USDT is not in the allowed symbols (allowed: kraken:BTC/USDT, ETH/USDT)',
    });
  });
});

describe('max-spread and min-book-depth', () => {
  it('spread 50.0 bps passes a 50 bps limit; 50.1 bps refuses', async () => {
    expect(await run('max-spread', env({ maxSpreadBps: 50 }), input({ estimate: { spreadBps: 50 } }))).toMatchObject({ ok: true, detail: 'spread 50.0 bps ≤ limit 50.0 bps' });
    expect(await run('max-spread', env({ maxSpreadBps: 50 }), input({ estimate: { spreadBps: 50.1 } }))).toMatchObject({ ok: false, detail: 'spread 50.1 bps > limit 50.0 bps' });
  });

  it('depth on the order side: 10,000 passes a 10,000 minimum; 9,999.99 refuses; a sell reads the bid side', async () => {
    expect(await run('min-book-depth', env({ minBookDepthQuote: 10_000 }), input({ estimate: { depthQuote: 10_000 } }))).toMatchObject({
      ok: true,
      detail: 'depth within 1 % on the ask side 10,000.00 USDT ≥ minimum 10,000.00 USDT',
    });
    expect(await run('min-book-depth', env({ minBookDepthQuote: 10_000 }), input({ order: { side: 'sell' }, estimate: { depthQuote: 9_999.99 } }))).toMatchObject({
      ok: false,
      detail: 'depth within 1 % on the bid side 9,999.99 USDT < minimum 10,000.00 USDT',
    });
  });

  it('no book (recorded data): both pass and say plainly that they did not check', async () => {
    const i = input({ estimate: { spreadBps: null, depthQuote: null } });
    expect(await run('max-spread', env(), i)).toEqual({ name: 'max-spread', ok: true, detail: 'no book: spread not checked' });
    expect(await run('min-book-depth', env(), i)).toEqual({ name: 'min-book-depth', ok: true, detail: 'no book: depth not checked' });
  });
});

describe('price-band: a limit price against the last price', () => {
  it('5 % above last passes a 5 % band, 5.01 % refuses; below works the same; market orders have nothing to check', async () => {
    const e = env({ priceBandPct: 5 });
    const at = input({ order: { type: 'limit', price: 52_500 } });
    expect(await run('price-band', e, at)).toMatchObject({ ok: true, detail: 'limit 52,500 is 5.00 % above last 50,000: within the band of 5.00 %' });
    const over = input({ order: { type: 'limit', price: 52_505 } });
    expect(await run('price-band', e, over)).toMatchObject({ ok: false, detail: 'limit 52,505 is 5.01 % above last 50,000: outside the band of 5.00 %' });
    const below = input({ order: { type: 'limit', side: 'sell', price: 47_000 } });
    expect(await run('price-band', e, below)).toMatchObject({ ok: false, detail: 'limit 47,000 is 6.00 % below last 50,000: outside the band of 5.00 %' });
    expect(await run('price-band', e, input())).toMatchObject({ ok: true, detail: 'market order: no limit price to check' });
  });
});

describe('stale-price: how old the estimate’s price is', () => {
  it('300 s old passes a 300 s limit; 301 s refuses', async () => {
    const e = env({ staleDataSeconds: 300 });
    expect(await run('stale-price', e, input({ estimate: { priceTime: NOW - 300_000 } }))).toMatchObject({
      ok: true,
      detail: 'price from 2026-11-27 08:55:00 UTC is 300 s old ≤ limit 300 s',
    });
    expect(await run('stale-price', e, input({ estimate: { priceTime: NOW - 301_000 } }))).toMatchObject({
      ok: false,
      detail: 'price from 2026-11-27 08:54:59 UTC is 301 s old > limit 300 s',
    });
  });

  it('on recorded data the age is shown, not enforced: the replay’s now is fixed where the record ends', async () => {
    const e = { ...env({ staleDataSeconds: 300 }), replay: true };
    expect(await run('stale-price', e, input({ estimate: { priceTime: NOW - 1_200_000 } }))).toMatchObject({
      ok: true,
      detail: "recorded data: price from 2026-11-27 08:40:00 UTC is 1200 s before the replay's now; age not checked",
    });
  });
});

describe('a sell that reduces a long is never blocked by a limit on risk taken', () => {
  // 1 BTC held = 50,000: over every size limit below; selling 0.6 of it (30,000) leaves 0.4
  const tight = env({ maxOrderNotional: 1_000, maxPositionNotional: 1_000, maxGrossExposure: 1_000, maxOpenOrders: 1, allowedSymbols: ['ETH/USDT'], maxSpreadBps: 5, minBookDepthQuote: 1e6, staleDataSeconds: 10 });
  const reduce = input({
    order: { side: 'sell', amount: 0.6 },
    positions: [position('BTC/USDT', 1)],
    openOrders: [openOrder({ side: 'buy', amount: 0.01, symbol: 'ETH/USDT' })],
    estimate: { spreadBps: 80, depthQuote: 5_000, priceTime: NOW - 60_000 },
  });

  it('every check passes and says why, with its numbers', async () => {
    const results = await Promise.all(preTradeChecks(tight).map((c) => c.check(reduce)));
    for (const r of results) expect(r.ok, `${r.name}: ${r.detail}`).toBe(true);
    const by = Object.fromEntries(results.map((r) => [r.name, r.detail]));
    expect(by['max-position-notional']).toBe('reduces the BTC/USDT position 1 → 0.4 BTC: not blocked');
    expect(by['max-order-notional']).toBe('notional 30,000.00 USDT > limit 1,000.00 USDT; reduces the BTC/USDT position 1 → 0.4 BTC: not blocked');
    expect(by['max-spread']).toBe('spread 80.0 bps > limit 5.0 bps; reduces the BTC/USDT position 1 → 0.4 BTC: not blocked');
  });

  it('closing the whole position is reducing too; selling past it (going short) is not', async () => {
    expect(project(input({ order: { side: 'sell', amount: 1 }, positions: [position('BTC/USDT', 1)] })).reducing).toBe(true);
    const past = input({ order: { side: 'sell', amount: 1.5 }, positions: [position('BTC/USDT', 1)] });
    expect(project(past)).toMatchObject({ projected: -0.5, reducing: false });
    expect(await run('max-order-notional', tight, past)).toMatchObject({ ok: false, detail: 'notional 75,000.00 USDT > limit 1,000.00 USDT' });
  });

  it('open sells count first: with 0.8 BTC already offered, selling 0.5 more of 1 BTC is not reducing', () => {
    const i = input({ order: { side: 'sell', amount: 0.5 }, positions: [position('BTC/USDT', 1)], openOrders: [openOrder({ side: 'sell', amount: 0.8 })] });
    expect(project(i)).toMatchObject({ held: 1, pending: 0.8, reducing: false });
    expect(project(i).projected).toBeCloseTo(-0.3, 12);
  });

  it('the price band still holds a reducing limit order: a mistyped exit price loses money', async () => {
    const i = input({ order: { side: 'sell', amount: 0.5, type: 'limit', price: 5_000 }, positions: [position('BTC/USDT', 1)] });
    expect(await run('price-band', env(), i)).toMatchObject({ ok: false, detail: 'limit 5,000 is 90.00 % below last 50,000: outside the band of 5.00 %' });
  });

  it('a buy that adds to a long is not reducing: the position limit applies', async () => {
    const i = input({ order: { side: 'buy', amount: 0.1 }, positions: [position('BTC/USDT', 1)] });
    expect(await run('max-position-notional', tight, i)).toMatchObject({ ok: false });
  });
});
