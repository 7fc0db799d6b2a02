import Keyv from 'keyv';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, riskConfigSchema } from '../../plugins/risk/config.js';
import { RiskEngine, type RiskBreach, type RiskContext, type Snapshot } from '../../plugins/risk/engine.js';
import { usageRows } from '../../plugins/risk/report.js';
import { brokerErrors, dailyLoss, drawdown, nextPeak, staleData, startOfUtcDay } from '../../plugins/risk/guards.js';
import type { Alert, Balance, HaltOutcome, HaltStatus, LedgerEntry, Order, Position, Ticker } from '../../src/kernel/index.js';

/**
 * The running guards: first each judgement on its numbers, then the engine that collects them from
 * the order service and the market, halts on a breach (once) and alerts.
 */

const NOW = Date.UTC(2026, 10, 27, 9, 0, 0);

describe('the judgements', () => {
  it('daily loss: realised today + unrealised now against the limit; equal passes, above breaches', () => {
    expect(dailyLoss({ realised: -1_000, unrealised: -2_000 }, 3_000, 'USDT')).toEqual({
      guard: 'daily-loss',
      status: 'ok',
      detail: 'loss today 3,000.00 USDT ≤ limit 3,000.00 USDT (realised −1,000.00 USDT, unrealised −2,000.00 USDT)',
    });
    expect(dailyLoss({ realised: -1_000, unrealised: -2_000.01 }, 3_000, 'USDT')).toEqual({
      guard: 'daily-loss',
      status: 'breached',
      detail: 'loss today 3,000.01 USDT > limit 3,000.00 USDT (realised −1,000.00 USDT, unrealised −2,000.01 USDT)',
    });
    expect(dailyLoss({ realised: 500, unrealised: -200 }, 3_000, 'USDT').detail).toBe('loss today 0.00 USDT ≤ limit 3,000.00 USDT (realised +500.00 USDT, unrealised −200.00 USDT)');
    expect(dailyLoss(new Error('no price for SOL/USDT'), 3_000, 'USDT')).toMatchObject({ status: 'unknown', detail: 'PnL today unknown: no price for SOL/USDT' });
  });

  it('drawdown from the peak: 10 % passes a 10 % limit, 10.01 % breaches', () => {
    expect(drawdown({ equity: 90_000, peak: 100_000, peakAt: NOW }, 10, 'USDT')).toMatchObject({ status: 'ok' });
    const r = drawdown({ equity: 89_990, peak: 100_000, peakAt: NOW }, 10, 'USDT');
    expect(r).toEqual({
      guard: 'max-drawdown',
      status: 'breached',
      detail: 'drawdown 10.01 % > limit 10.00 % (equity 89,990.00 USDT, peak 100,000.00 USDT at 2026-11-27 09:00:00 UTC)',
    });
  });

  it('the peak only rises', () => {
    const p = nextPeak(undefined, 100, 1);
    expect(p).toEqual({ equity: 100, at: 1 });
    expect(nextPeak(p, 90, 2)).toBe(p);
    expect(nextPeak(p, 110, 3)).toEqual({ equity: 110, at: 3 });
  });

  it('stale data: every held or ordered market needs a price younger than the limit; no price at all breaches', () => {
    expect(staleData([], NOW, 300)).toMatchObject({ status: 'ok', detail: 'no positions or open orders to watch' });
    const fresh = { exchange: 'binance', symbol: 'BTC/USDT', time: NOW - 300_000 };
    expect(staleData([fresh], NOW, 300)).toMatchObject({ status: 'ok', detail: '1 market, oldest price 300 s ≤ limit 300 s' });
    const old = { exchange: 'binance', symbol: 'ETH/USDT', time: NOW - 301_000 };
    expect(staleData([fresh, old], NOW, 300)).toEqual({
      guard: 'stale-data',
      status: 'breached',
      detail: 'binance ETH/USDT price from 2026-11-27 08:54:59 UTC is 301 s old > limit 300 s',
    });
    expect(staleData([{ exchange: 'binance', symbol: 'SOL/USDT', time: null, error: 'exchange unavailable' }], NOW, 300)).toMatchObject({
      status: 'breached',
      detail: 'binance SOL/USDT no price (exchange unavailable)',
    });
  });

  it('stale data on recorded prices: ages are not judged against the fixed replay now, a missing price still breaches', () => {
    const old = { exchange: 'binance', symbol: 'BTC/USDT', time: NOW - 3_600_000 };
    expect(staleData([old], NOW, 300, true)).toMatchObject({ status: 'ok', detail: "recorded data: 1 market priced; ages not checked against the replay's fixed now" });
    expect(staleData([old, { exchange: 'binance', symbol: 'SOL/USDT', time: null, error: 'not recorded' }], NOW, 300, true)).toMatchObject({
      status: 'breached',
      detail: 'binance SOL/USDT no price (not recorded)',
    });
  });

  it('broker errors: failures inside the window against maxFailures', () => {
    const min = 60_000;
    const three = [NOW - 14 * min, NOW - 5 * min, NOW];
    expect(brokerErrors(three, NOW, 3, 15)).toMatchObject({ status: 'ok', detail: '3 broker failures in the last 15 min ≤ limit 3' });
    expect(brokerErrors([NOW - 16 * min, ...three], NOW, 3, 15)).toMatchObject({ status: 'ok' });
    expect(brokerErrors([NOW - 1, ...three], NOW, 3, 15)).toEqual({ guard: 'broker-errors', status: 'breached', detail: '4 broker failures in the last 15 min > limit 3' });
  });

  it('the UTC day starts at midnight UTC', () => {
    expect(startOfUtcDay(NOW)).toBe(Date.UTC(2026, 10, 27));
  });
});

/** A desk on paper: balances, positions, ledger and prices set by the test; halt as the kernel does it. */
function fakeDesk(o: { balances?: Balance[]; positions?: Position[]; ledger?: LedgerEntry[]; open?: Order[]; prices?: Record<string, { last: number; time?: number }>; settings?: Record<string, unknown> } = {}) {
  const state = {
    balances: o.balances ?? [{ currency: 'USDT', free: 100_000, used: 0, total: 100_000 }],
    positions: o.positions ?? [],
    ledger: o.ledger ?? [],
    open: o.open ?? [],
    prices: o.prices ?? {},
    halt: { halted: false } as HaltStatus,
    halts: [] as Array<{ by: string; reason: string }>,
    breaches: [] as RiskBreach[],
    alerts: [] as Alert[],
    audits: [] as Array<Record<string, unknown>>,
    ledgerSince: [] as number[],
    now: NOW,
  };
  const ticker = (symbol: string): Ticker => {
    const p = state.prices[symbol];
    if (p === undefined) throw new Error(`no recorded price for ${symbol}`);
    return { exchange: 'binance', symbol, last: p.last, time: p.time ?? state.now, change24hPct: null, high24h: null, low24h: null, baseVolume24h: null, quoteVolume24h: null, bid: null, ask: null, source: 'replay' };
  };
  const ctx = {
    config: riskConfigSchema.parse(o.settings ?? {}),
    store: new Keyv(),
    clock: { now: () => state.now },
    log: pino({ level: 'silent' }),
    audit: (e: Record<string, unknown>) => void state.audits.push(e),
    emit: async (_event: string, payload: RiskBreach) => void state.breaches.push(payload),
    alert: async (a: Alert) => void state.alerts.push(a),
    market: {
      defaultExchange: 'binance',
      defaultQuote: () => 'USDT',
      now: () => state.now,
      ticker: async (r: { symbol: string }) => ticker(r.symbol),
      resolve: async (r: { exchange?: string; symbol: string }) => ({ exchange: r.exchange ?? 'binance', symbol: r.symbol }),
    },
    orders: {
      balances: async () => state.balances,
      positions: async () => state.positions,
      open: async () => state.open,
      ledger: async (since: number) => {
        state.ledgerSince.push(since);
        return state.ledger;
      },
      halted: async () => state.halt,
      halt: async (by: string, reason: string): Promise<HaltOutcome> => {
        if (state.halt.halted) return { status: state.halt, changed: false, cancelled: [], cancelFailures: [] };
        state.halts.push({ by, reason });
        state.halt = { halted: true, by, reason, since: new Date(state.now).toISOString() };
        return { status: state.halt, changed: true, cancelled: [], cancelFailures: [] };
      },
    },
  };
  return { state, engine: new RiskEngine(ctx as unknown as RiskContext) };
}

const btcPosition = (amount: number, avgPrice: number): Position => ({ exchange: 'binance', symbol: 'BTC/USDT', amount, avgPrice, realisedPnl: 0 });
const fill = (realisedPnl: number, orderId = 'o1'): LedgerEntry => ({
  orderId,
  exchange: 'binance',
  symbol: 'BTC/USDT',
  side: 'sell',
  fill: { price: 50_000, amount: 0.1, fee: 5, feeCurrency: 'USDT', liquidity: 'taker', time: NOW - 3_600_000 },
  realisedPnl,
  quote: 'USDT',
});

describe('the engine: numbers from the desk, a breach halts once and alerts', () => {
  it('daily loss = today’s ledger + positions marked at the ticker; a breach halts with the guard and numbers', async () => {
    // bought 1 BTC at 50,000, now 48,000: −2,000 unrealised; −1,500 realised today → loss 3,500 > 3,000
    const { state, engine } = fakeDesk({ positions: [btcPosition(1, 50_000)], ledger: [fill(-1_500)], prices: { 'BTC/USDT': { last: 48_000 } } });
    const run = await engine.runGuards();
    expect(state.ledgerSince).toEqual([Date.UTC(2026, 10, 27)]);
    const detail = 'loss today 3,500.00 USDT > limit 3,000.00 USDT (realised −1,500.00 USDT, unrealised −2,000.00 USDT)';
    expect(run.results.find((r) => r.guard === 'daily-loss')).toEqual({ guard: 'daily-loss', status: 'breached', detail });
    expect(run.breached).toEqual(['daily-loss']);
    expect(state.halts).toEqual([{ by: 'risk', reason: `daily-loss breached: ${detail}` }]);
    expect(state.breaches).toEqual([{ guard: 'daily-loss', detail, severity: 'critical', at: NOW }]);
    expect(state.audits).toEqual([{ kind: 'risk.breach', guard: 'daily-loss', detail, halted: true }]);
    expect(state.alerts).toEqual([{ kind: 'risk', severity: 'critical', title: `daily-loss breached: ${detail} — trading HALTED`, dedupeKey: `risk|daily-loss|${NOW}` }]);
  });

  it('one breach, one halt: while halted a breach still standing neither halts nor alerts again', async () => {
    const { state, engine } = fakeDesk({ positions: [btcPosition(1, 50_000)], ledger: [fill(-1_500)], prices: { 'BTC/USDT': { last: 48_000 } } });
    await engine.runGuards();
    await engine.runGuards();
    await engine.runGuards();
    expect(state.halts).toHaveLength(1);
    expect(state.breaches).toHaveLength(1);
  });

  it('halted by someone else first: the breach alerts once, the original halt stands', async () => {
    const { state, engine } = fakeDesk({ positions: [btcPosition(1, 50_000)], ledger: [fill(-1_500)], prices: { 'BTC/USDT': { last: 48_000 } } });
    state.halt = { halted: true, by: 'ann', reason: 'lunch' };
    await engine.runGuards();
    await engine.runGuards();
    expect(state.halts).toEqual([]);
    expect(state.breaches.map((b) => b.guard)).toEqual(['daily-loss']);
    expect(state.halt.reason).toBe('lunch');
  });

  it('a guard that recovers is cleared; breaching again alerts again', async () => {
    const { state, engine } = fakeDesk({ positions: [btcPosition(1, 50_000)], prices: { 'BTC/USDT': { last: 46_000 } } });
    state.halt = { halted: true, by: 'ann', reason: 'x' };
    await engine.runGuards();
    state.prices['BTC/USDT'] = { last: 50_000 };
    expect((await engine.runGuards()).breached).toEqual([]);
    state.prices['BTC/USDT'] = { last: 46_000 };
    await engine.runGuards();
    expect(state.breaches.map((b) => b.guard)).toEqual(['daily-loss', 'daily-loss']);
  });

  it('drawdown: equity is balances at current prices; the peak is kept in the store and only rises', async () => {
    const { state, engine } = fakeDesk({
      balances: [
        { currency: 'USDT', free: 50_000, used: 0, total: 50_000 },
        { currency: 'BTC', free: 1, used: 0, total: 1 },
      ],
      prices: { 'BTC/USDT': { last: 50_000 } },
      settings: { dailyLossLimit: 1e9 },
    });
    expect((await engine.runGuards()).results.find((r) => r.guard === 'max-drawdown')?.status).toBe('ok'); // peak 100,000
    state.prices['BTC/USDT'] = { last: 40_000 }; // 90,000: 10.00 %
    expect((await engine.runGuards()).results.find((r) => r.guard === 'max-drawdown')?.status).toBe('ok');
    state.prices['BTC/USDT'] = { last: 39_990 }; // 89,990: 10.01 %
    const run = await engine.runGuards();
    expect(run.results.find((r) => r.guard === 'max-drawdown')).toMatchObject({ status: 'breached', detail: 'drawdown 10.01 % > limit 10.00 % (equity 89,990.00 USDT, peak 100,000.00 USDT at 2026-11-27 09:00:00 UTC)' });
    expect(state.halts[0]?.reason).toMatch(/^max-drawdown breached: drawdown 10\.01 % > limit 10\.00 %/);
  });

  it('stale data: a held market whose ticker is older than the limit halts', async () => {
    const { state, engine } = fakeDesk({ positions: [btcPosition(0.1, 50_000)], prices: { 'BTC/USDT': { last: 50_000, time: NOW - 301_000 } } });
    await engine.runGuards();
    expect(state.halts).toEqual([{ by: 'risk', reason: 'stale-data breached: binance BTC/USDT price from 2026-11-27 08:54:59 UTC is 301 s old > limit 300 s' }]);
  });

  it('a held market without any price: stale data breaches, PnL and drawdown say unknown (not zero)', async () => {
    const { state, engine } = fakeDesk({ positions: [btcPosition(0.1, 50_000)], balances: [{ currency: 'BTC', free: 0.1, used: 0, total: 0.1 }] });
    const run = await engine.runGuards();
    const by = Object.fromEntries(run.results.map((r) => [r.guard, r]));
    expect(by['stale-data']).toMatchObject({ status: 'breached', detail: 'binance BTC/USDT no price (no recorded price for BTC/USDT)' });
    expect(by['daily-loss']).toMatchObject({ status: 'unknown' });
    expect(by['max-drawdown']).toMatchObject({ status: 'unknown' });
    expect(state.halts).toHaveLength(1);
  });

  it('broker failures: counted once per order, judged at once; the fourth in 15 minutes halts', async () => {
    const { state, engine } = fakeDesk();
    const failed = (id: string) => ({ id, updatedAt: state.now });
    await engine.recordFailure(failed('a'));
    await engine.recordFailure(failed('a')); // the same order reported twice is one failure
    await engine.recordFailure(failed('b'));
    state.now += 60_000;
    const third = await engine.recordFailure(failed('c'));
    expect(third.breached).toEqual([]);
    state.now += 60_000;
    const fourth = await engine.recordFailure(failed('d'));
    expect(fourth.breached).toEqual(['broker-errors']);
    expect(state.halts).toEqual([{ by: 'risk', reason: 'broker-errors breached: 4 broker failures in the last 15 min > limit 3' }]);
    // the interval's full run sees the same failures
    expect((await engine.runGuards()).results.find((r) => r.guard === 'broker-errors')?.status).toBe('breached');
  });

  it('limits set at run time are what the guards use, and they live in the store', async () => {
    const { state, engine } = fakeDesk({ positions: [btcPosition(1, 50_000)], prices: { 'BTC/USDT': { last: 49_000 } } });
    expect((await engine.runGuards()).breached).toEqual([]);
    expect(await engine.setLimit('dailyLossLimit', 999, 'ann')).toBe(3_000);
    expect((await engine.runGuards()).breached).toEqual(['daily-loss']);
    expect(state.halts[0]?.reason).toBe('daily-loss breached: loss today 1,000.00 USDT > limit 999.00 USDT (realised 0.00 USDT, unrealised −1,000.00 USDT)');
    expect(await engine.resetLimit('dailyLossLimit')).toBe(999);
    expect((await engine.limits()).dailyLossLimit).toBe(3_000);
  });
});

describe('/risk’s table: use and headroom per limit', () => {
  const snapshot = (o: Partial<Snapshot> = {}): Snapshot => ({
    at: NOW,
    marketNow: NOW,
    replay: false,
    currency: 'USDT',
    limits: { ...DEFAULT_LIMITS, maxOpenOrders: 2 },
    overridden: ['maxOpenOrders'],
    positions: [{ exchange: 'binance', symbol: 'BTC/USDT', amount: 0.5, avgPrice: 50_000, price: 52_000, priceTime: NOW - 400_000, notional: 26_000, unrealised: 1_000 }],
    open: [{}, {}, {}] as Order[],
    gross: 26_000,
    pnl: { realised: -4_000, unrealised: 1_000 },
    equity: { equity: 95_000, peak: 100_000, peakAt: NOW },
    prices: [{ exchange: 'binance', symbol: 'BTC/USDT', time: NOW - 400_000 }],
    failures: [NOW - 60_000],
    ...o,
  });
  const row = (rows: string[][], name: string) => rows.find((r) => r[0]?.startsWith(name));

  it('over a limit reads "over by", under it the room left; a changed limit is starred', () => {
    const rows = usageRows(snapshot());
    expect(row(rows, 'maxPositionNotional')).toEqual(['maxPositionNotional', '25,000.00 USDT', 'binance:BTC/USDT 26,000.00 USDT (largest)', 'over by 1,000.00 USDT']);
    expect(row(rows, 'maxGrossExposure')).toEqual(['maxGrossExposure', '50,000.00 USDT', '26,000.00 USDT', '24,000.00 USDT']);
    expect(row(rows, 'maxOpenOrders')).toEqual(['maxOpenOrders *', '2', '3 open', 'over by 1']);
    expect(row(rows, 'dailyLossLimit')).toEqual(['dailyLossLimit', '3,000.00 USDT', 'loss today 3,000.00 USDT', '0.00 USDT']);
    expect(row(rows, 'maxDrawdownPct')).toEqual(['maxDrawdownPct', '10.00 %', '5.00 % (equity 95,000.00 USDT, peak 100,000.00 USDT)', '5.00 %']);
    expect(row(rows, 'staleDataSeconds')).toEqual(['staleDataSeconds', '300 s', 'oldest price 400 s', 'over by 100 s']);
    expect(row(rows, 'brokerErrorRate.maxFailures')).toEqual(['brokerErrorRate.maxFailures', '3', '1 in the window', '2 more']);
  });

  it('numbers it could not get are shown as unknown with the reason; recorded data says ages are not checked', () => {
    const rows = usageRows(snapshot({ gross: new Error('no price for SOL/USDT'), replay: true }));
    expect(row(rows, 'maxGrossExposure')).toEqual(['maxGrossExposure', '50,000.00 USDT', 'unknown (no price for SOL/USDT)', '—']);
    expect(row(rows, 'staleDataSeconds')).toEqual(['staleDataSeconds', '300 s', 'recorded data: ages not checked', '—']);
  });
});
