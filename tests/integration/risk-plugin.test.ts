import { afterEach, describe, expect, it } from 'vitest';
import risk, { type RiskBreach, type RiskGuards, type RiskSizing } from '../../plugins/risk/index.js';
import { definePlugin, ta, type OrderRequest, type Requester } from '../../src/kernel/index.js';
import type { Kernel } from '../../src/kernel/kernel.js';
import { recordedCandles, sharedDataDir } from '../helpers/recorded.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';
import { storeFixtures } from '../helpers/stores.js';

/**
 * The risk plugin on the terminal desk: the order gateway runs its checks on every order, paper
 * fills on the recorded BTC/USDT prices in ../shared/data. Orders are placed through ctx.orders
 * as tom (a trader); limits are changed by ann (admin: risk:limits through "*"); rick holds the
 * risk role (risk:read). Every number expected below is derived from the same recorded prices.
 */

const stores = storeFixtures('risk');
const desks: TestDesk[] = [];
afterEach(async () => {
  while (desks.length > 0) await desks.pop()?.kernel.stop();
});

/** 12 May 2021, noon UTC, and the next midnight: BTC fell from about 56,300 to about 49,700 overnight */
const BEFORE_CRASH = '2021-05-12T12:00:00.000Z';
const AFTER_CRASH = '2021-05-13T00:00:00.000Z';

function deskConfig(o: { dataDir?: string; replayTime?: string | null; settings?: Record<string, unknown> } = {}) {
  const base = testConfig();
  return testConfig({
    ...(o.dataDir ? { dataDir: o.dataDir } : {}),
    market: { dir: sharedDataDir(), replayTime: o.replayTime ?? null },
    people: { ...base.people, rick: { name: 'Rick Risk', roles: ['risk'], ids: { console: 'rick' } } },
    roles: {
      viewer: ['market:read'],
      trader: ['market:read', 'trade:execute', 'trade:read'],
      risk: ['market:read', 'trade:read', 'risk:read', 'risk:halt', 'risk:resume'],
      admin: ['*'],
    },
    trading: { pollMs: 0 },
    plugins: { settings: { risk: o.settings ?? {} } },
  });
}

/** a plugin that needs risk and hands its services to the test */
function probe(): { plugin: ReturnType<typeof definePlugin>; sizing: () => RiskSizing; guards: () => RiskGuards } {
  const got: { sizing?: RiskSizing; guards?: RiskGuards } = {};
  const plugin = definePlugin({
    name: 'probe',
    version: '0.0.0',
    needs: ['risk'],
    setup(ctx) {
      got.sizing = ctx.use('risk.sizing');
      got.guards = ctx.use('risk.guards');
    },
  });
  return { plugin, sizing: () => got.sizing as RiskSizing, guards: () => got.guards as RiskGuards };
}

async function desk(opts: Parameters<typeof startDesk>[0] = {}): Promise<TestDesk> {
  const d = await startDesk({ plugins: [risk], config: deskConfig(), ...opts });
  desks.push(d);
  return d;
}

const tom: Requester = {
  principal: { platform: 'console', userId: 'tom', person: 'tom', displayName: 'Tom Trader', roles: ['trader'] },
  channel: { platform: 'console', channelId: 'terminal' },
};

let keys = 0;
function order(over: Partial<OrderRequest> = {}): OrderRequest {
  return { exchange: 'binance', symbol: 'BTC/USDT', side: 'buy', type: 'market', amount: 0.01, key: `console:risk-${++keys}`, origin: 'test', ...over };
}

const money = (x: number): string => x.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

async function place(k: Kernel, over: Partial<OrderRequest> = {}) {
  return k.orders.place(order(over), tom);
}

describe('pre-trade checks through the gateway', () => {
  it('each order carries the risk plugin’s checks with their numbers; an ordinary one passes them all', async () => {
    const d = await desk();
    const o = await place(d.kernel);
    expect(o.state).toBe('filled');
    expect(o.checks?.map((c) => c.name)).toEqual([
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
    expect(o.checks?.every((c) => c.ok)).toBe(true);
    // recorded candles have no order book: spread and depth say so plainly
    expect(o.checks?.find((c) => c.name === 'max-spread')?.detail).toBe('no book: spread not checked');
    expect(o.checks?.find((c) => c.name === 'min-book-depth')?.detail).toBe('no book: depth not checked');
  });

  it('max-order-notional: /limits set to just under an order’s notional refuses it; to its notional passes it', async () => {
    const d = await desk();
    const req = order({ amount: 0.05 });
    const notional = (await d.kernel.orders.estimate(req)).notional; // the paper broker's estimate: last close + slippage
    const under = Math.floor(notional * 100) / 100 - 0.01;
    expect(await d.say('ann', `/limits set maxOrderNotional ${under}`)).toContain(`maxOrderNotional: 10,000.00 USDT → ${money(under)} USDT`);
    const refused = await d.kernel.orders.place(req, tom);
    expect(refused.state).toBe('rejected');
    expect(refused.reason).toBe(`max-order-notional: notional ${money(notional)} USDT > limit ${money(under)} USDT`);

    const at = Math.ceil(notional * 100) / 100;
    await d.say('ann', `/limits set maxOrderNotional ${at}`);
    const passed = await place(d.kernel, { amount: 0.05 });
    expect(passed.state).toBe('filled');
    expect(passed.checks?.[0]).toEqual({ name: 'max-order-notional', ok: true, detail: `notional ${money(notional)} USDT ≤ limit ${money(at)} USDT` });
  });

  it('a sell that reduces a position passes limits far below it; a buy adding to it is refused', async () => {
    const d = await desk();
    expect((await place(d.kernel, { amount: 0.1 })).state).toBe('filled');
    await d.say('ann', '/limits set maxOrderNotional 100');
    await d.say('ann', '/limits set maxPositionNotional 100');
    await d.say('ann', '/limits set maxGrossExposure 100');

    const sell = await place(d.kernel, { side: 'sell', amount: 0.06 });
    expect(sell.state).toBe('filled');
    expect(sell.checks?.find((c) => c.name === 'max-position-notional')?.detail).toBe('reduces the BTC/USDT position 0.1 → 0.04 BTC: not blocked');

    const buy = await place(d.kernel, { amount: 0.01 });
    expect(buy.state).toBe('rejected');
    expect(buy.reason).toMatch(/^max-order-notional: notional [\d,.]+ USDT > limit 100\.00 USDT; max-position-notional: BTC\/USDT position after the order 0\.05 BTC × [\d,.]+ = [\d,.]+ USDT > limit 100\.00 USDT; max-gross-exposure: /);
  });

  it('allowedSymbols and price band refuse with what was asked and what is allowed', async () => {
    const d = await desk();
    expect(await d.say('ann', '/limits set allowedSymbols eth, sol')).toContain('allowedSymbols: all markets → ETH/USDT, SOL/USDT');
    const btc = await place(d.kernel);
    expect(btc.reason).toBe('allowed-symbols: binance:BTC/USDT is not in the allowed symbols (allowed: ETH/USDT, SOL/USDT)');
    await d.say('ann', '/limits set allowedSymbols all');
    const last = (await d.kernel.market.ticker({ symbol: 'BTC/USDT' })).last;
    const far = Math.round(last * 1.1);
    const limit = await place(d.kernel, { type: 'limit', price: far });
    expect(limit.state).toBe('rejected');
    expect(limit.reason).toMatch(/^price-band: limit [\d,]+ is 10\.\d\d % above last [\d,.]+: outside the band of 5\.00 %$/);
  });
});

describe('/limits', () => {
  it('set: audited with old and new value, kept across a restart on the same store', async () => {
    const dataDir = stores.tempDir();
    const store = await stores.open('sqlite', { dataDir });
    const config = deskConfig({ dataDir });
    const a = await startDesk({ plugins: [risk], config, store });
    expect(await a.say('ann', '/limits set maxOrderNotional 5,000')).toBe('✓ maxOrderNotional: 10,000.00 USDT → 5,000.00 USDT (config value 10,000.00 USDT)');
    expect(await a.say('ann', '/limits set staleDataSeconds 2m')).toBe('✓ staleDataSeconds: 300 s → 120 s (config value 300 s)');
    const audit = await a.kernel.audit.tail(20);
    expect(audit.filter((r) => r.kind === 'risk.limit')).toEqual([
      expect.objectContaining({ kind: 'risk.limit', action: 'set', limit: 'maxOrderNotional', old: 10_000, new: 5_000, by: 'ann', plugin: 'risk' }),
      expect.objectContaining({ kind: 'risk.limit', action: 'set', limit: 'staleDataSeconds', old: 300, new: 120, by: 'ann', plugin: 'risk' }),
    ]);
    await a.kernel.stop();

    const b = await startDesk({ plugins: [risk], config, store });
    desks.push(b);
    const shown = await b.say('ann', '/limits');
    expect(shown).toMatch(/maxOrderNotional\s+5,000\.00 USDT\s+10,000\.00 USDT\s+ann, 2026-11-27 09:00:00 UTC/);
    const big = await place(b.kernel, { amount: 0.2 }); // ≈ 6,300 USDT
    expect(big.reason).toMatch(/^max-order-notional: notional [\d,.]+ USDT > limit 5,000\.00 USDT$/);
    // reset: back to the config value, audited too
    expect(await b.say('ann', '/limits reset maxOrderNotional')).toBe('✓ maxOrderNotional: 5,000.00 USDT → 10,000.00 USDT (the config value)');
    expect((await b.kernel.audit.tail(5)).some((r) => r.kind === 'risk.limit' && r.action === 'reset' && r.old === 5_000 && r.new === 10_000)).toBe(true);
  });

  it('a bad value, an unknown name, a missing value: refused with a message that says what to type', async () => {
    const d = await desk();
    // ✗: the console's mark for an error reply (private where the platform can)
    expect(await d.say('ann', '/limits set maxOpenOrders 2.5')).toBe('✗ maxOpenOrders must be a whole number from 1 to 10,000, got "2.5"');
    expect(await d.say('ann', '/limits set maxDrawdownPct -3%')).toBe('✗ maxDrawdownPct must be a percentage above 0 and at most 100, e.g. 10 or 10%, got "-3%"');
    expect(await d.say('ann', '/limits set maxOrderNotional 5btc')).toBe('✗ maxOrderNotional must be an amount above 0 in USDT, e.g. 5000, got "5btc" (limits are in USDT, not BTC)');
    expect(await d.say('ann', '/limits set maxOrderNotinal 5000')).toMatch(/^✗ unknown limit "maxOrderNotinal" \(did you mean maxOrderNotional\?\); limits: maxOrderNotional, /);
    expect(await d.say('ann', '/limits set dailyLossLimit')).toBe('✗ /limits set dailyLossLimit <value>: dailyLossLimit must be an amount above 0 in USDT, e.g. 3000');
    expect(await d.say('ann', '/limits set allowedSymbols dogecoinz')).toMatch(/^✗ allowedSymbols: /);
    // nothing was changed by any of them
    expect((await d.kernel.audit.tail(30)).filter((r) => r.kind === 'risk.limit')).toEqual([]);
  });

  it('needs risk:limits: traders and the risk role can read /risk but not change limits', async () => {
    const d = await desk();
    expect(await d.say('tom', '/limits set maxOrderNotional 1')).toMatch(/risk:limits is not granted to tom/);
    expect(await d.say('rick', '/limits set maxOrderNotional 1')).toMatch(/risk:limits is not granted to rick/);
    expect(await d.say('vic', '/risk')).toMatch(/risk:read is not granted to vic/);
    expect(await d.say('rick', '/risk')).toContain('Risk limits (USDT)');
  });
});

describe('/risk', () => {
  it('each limit with its value, its use now and the headroom; each guard with its numbers; the halt state', async () => {
    const d = await desk();
    await place(d.kernel, { amount: 0.1 });
    await d.say('ann', '/limits set maxOpenOrders 5');
    const [pos] = await d.kernel.orders.positions();
    const last = (await d.kernel.market.ticker({ symbol: 'BTC/USDT' })).last;
    const notional = 0.1 * last;
    const out = await d.say('rick', '/risk');
    expect(out).toMatch(new RegExp(`maxPositionNotional\\s+25,000\\.00 USDT\\s+binance:BTC/USDT ${money(notional).replace(/\./g, '\\.')} USDT \\(largest\\)\\s+${money(25_000 - notional).replace(/\./g, '\\.')} USDT`));
    expect(out).toMatch(new RegExp(`maxGrossExposure\\s+50,000\\.00 USDT\\s+${money(notional).replace(/\./g, '\\.')} USDT`));
    expect(out).toMatch(/maxOpenOrders \*\s+5\s+0 open\s+5 more/);
    expect(out).toMatch(/\* set with \/limits set/);
    const unreal = 0.1 * (last - (pos?.avgPrice ?? 0));
    expect(unreal).toBeLessThan(0); // bought at the close plus slippage: marked at the close, a small loss
    expect(out).toMatch(/dailyLossLimit\s+3,000\.00 USDT\s+loss today [\d.]+ USDT/);
    expect(out).toMatch(/daily-loss\s+ok\s+loss today [\d.]+ USDT ≤ limit 3,000\.00 USDT \(realised −[\d.]+ USDT, unrealised −[\d.]+ USDT\)/);
    expect(out).toMatch(/max-drawdown\s+ok\s+drawdown 0\.\d\d % ≤ limit 10\.00 %/);
    expect(out).toMatch(/stale-data\s+ok\s+recorded data: 1 market priced/);
    expect(out).toMatch(/broker-errors\s+ok\s+0 broker failures in the last 15 min ≤ limit 3/);
    expect(out).toContain('Trading is open');
  });
});

describe('guards', () => {
  it('a daily-loss breach halts trading by itself, naming the guard and the numbers, and emits risk.breach once', async () => {
    const dataDir = stores.tempDir();
    const store = await stores.open('sqlite', { dataDir });
    const settings = { dailyLossLimit: 500 };

    // noon, 12 May 2021: buy 0.1 BTC
    const a = await startDesk({ plugins: [risk], config: deskConfig({ dataDir, replayTime: BEFORE_CRASH, settings }), store });
    const bought = await place(a.kernel, { amount: 0.1 });
    expect(bought.state).toBe('filled');
    const fee = bought.fees;
    await a.kernel.stop();

    // the next midnight, same desk (same store, same UTC day on the desk's clock): the position is down
    const p = probe();
    const b = await startDesk({ plugins: [risk, p.plugin], config: deskConfig({ dataDir, replayTime: AFTER_CRASH, settings }), store });
    desks.push(b);
    const breaches: RiskBreach[] = [];
    b.kernel.events.on('risk.breach', (x) => void breaches.push(x));
    const last = (await b.kernel.market.ticker({ symbol: 'BTC/USDT' })).last;
    const unrealised = 0.1 * (last - (bought.avgPrice ?? 0));
    const loss = fee - unrealised;
    expect(loss).toBeGreaterThan(500);

    const run = await p.guards().run();
    const detail = `loss today ${money(loss)} USDT > limit 500.00 USDT (realised −${money(fee)} USDT, unrealised −${money(-unrealised)} USDT)`;
    expect(run.results.find((r) => r.guard === 'daily-loss')).toEqual({ guard: 'daily-loss', status: 'breached', detail });

    const halt = await b.kernel.orders.halted();
    expect(halt).toMatchObject({ halted: true, by: 'risk', reason: `daily-loss breached: ${detail}` });
    expect(breaches).toEqual([{ guard: 'daily-loss', detail, severity: 'critical', at: b.clock.now() }]);
    expect((await b.kernel.audit.tail(20)).some((r) => r.kind === 'risk.breach' && r.guard === 'daily-loss' && r.halted === true)).toBe(true);

    // new orders are refused with the guard's reason; a second run does not halt or alert again
    const refused = await place(b.kernel, { amount: 0.001 });
    expect(refused.reason).toBe(`trading is halted by risk since 2026-11-27 09:00 UTC: daily-loss breached: ${detail}`);
    await p.guards().run();
    expect(breaches).toHaveLength(1);
    expect(await b.say('rick', '/risk')).toMatch(/Trading is HALTED by risk since .*: daily-loss breached: loss today/);
  });
});

describe('risk.sizing', () => {
  it('with a stop: amount = equity × risk% / |price − stop|, at the recorded price', async () => {
    const p = probe();
    await desk({ plugins: [risk, p.plugin] });
    const d = desks[0] as TestDesk;
    const last = (await d.kernel.market.ticker({ symbol: 'BTC/USDT' })).last;
    const stop = Math.round(last * 0.98);
    const r = await p.sizing().size({ exchange: 'binance', symbol: 'BTC/USDT', side: 'buy', riskPct: 0.1, stopPrice: stop });
    // equity: the untouched paper account, 100,000 USDT
    expect(r).toMatchObject({ method: 'stop', equity: 100_000, price: last, capped: false });
    expect(r.amount).toBeCloseTo(100 / (last - stop), 12);
    expect(r.notional).toBeCloseTo((100 / (last - stop)) * last, 8);
  });

  it('without a stop: volatility of the last 720 hourly closes (ctx.market), capped by maxOrderNotional', async () => {
    const p = probe();
    await desk({ plugins: [risk, p.plugin] });
    const d = desks[0] as TestDesk;
    const w = await d.kernel.market.series({ symbol: 'BTC/USDT', timeframe: '1h', need: 721 });
    const btc = recordedCandles('binance', 'BTC/USDT', '1h');
    expect(w.close[720]).toBe(btc.close[btc.length - 1]); // the replay serves the record's last 1h close
    const sigmaDay = (ta.realizedVol(w.close, 720, 1)[720] as number) * Math.sqrt(24);
    const last = (await d.kernel.market.ticker({ symbol: 'BTC/USDT' })).last;

    const small = await p.sizing().size({ exchange: 'binance', symbol: 'BTC/USDT', side: 'buy', riskPct: 0.01 });
    expect(small.method).toBe('volatility');
    expect(small.notional).toBeCloseTo(10 / sigmaDay, 6);
    expect(small.amount).toBeCloseTo(10 / sigmaDay / last, 12);

    const big = await p.sizing().size({ exchange: 'binance', symbol: 'BTC/USDT', side: 'buy', riskPct: 2 });
    expect(big).toMatchObject({ notional: 10_000, capped: true });
    expect(big.detail).toContain('capped by maxOrderNotional 10,000.00 USDT');
  });
});
