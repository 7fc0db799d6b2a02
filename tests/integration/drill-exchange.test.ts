import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import execution from '../../plugins/execution/index.js';
import risk from '../../plugins/risk/index.js';
import { startFakeExchange, type FakeExchange } from '../fakes/exchange/index.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';

/**
 * Fault drill: the exchange goes down while the desk holds a position there. Its circuit opens
 * after repeated failures, the desk is told (a "data" alert), and with haltOnExchangeOutage the
 * risk plugin halts trading — positions nobody can price must not be traded around.
 */

let fake: FakeExchange;
const desks: TestDesk[] = [];
beforeAll(async () => {
  fake = await startFakeExchange();
});
afterAll(async () => {
  await fake?.close();
});
afterEach(async () => {
  fake.clearFaults();
  while (desks.length > 0) await desks.pop()?.kernel.stop();
});

async function desk(haltOnExchangeOutage: boolean): Promise<TestDesk> {
  const t = (await (await fetch(`${fake.url}/api/v3/ticker/24hr?symbol=BTCUSDT`)).json()) as { closeTime: number; lastPrice: string };
  // a hand-written book around the recorded last price (test input: the record has no books)
  const last = Number(t.lastPrice);
  fake.setOrderBook('BTC/USDT', { bids: [[last - 1, 2], [last - 2, 5]], asks: [[last + 1, 2], [last + 2, 5]] });
  const d = await startDesk({
    plugins: [risk, execution],
    config: testConfig({
      market: { source: 'live', exchanges: ['binance'], defaultExchange: 'binance', urls: { binance: fake.url }, retries: 0, breaker: { failures: 2, cooldownMs: 600_000 }, cacheTtlMs: { markets: 3_600_000, ticker: 0, candles: 0, orderBook: 0, trades: 0 } },
      trading: { pollMs: 0, notify: ['console:terminal'] },
      plugins: { settings: { risk: { haltOnExchangeOutage } } },
    }),
    clockAt: t.closeTime + 30_000,
  });
  desks.push(d);
  return d;
}

describe('drill: the exchange goes down', () => {
  it('opens the circuit, tells the desk, and halts when the desk holds a position there', async () => {
    const d = await desk(true);
    const ask = await d.say('tom', '/buy btc 0.01');
    expect(ask, ask).toContain('Confirm');
    expect(await d.say('tom', 'yes')).toContain('Filled');
    fake.inject({ path: '*', times: 1000, fault: { kind: 'status', status: 503 } });
    for (let i = 0; i < 3; i++) await d.kernel.market.ticker({ symbol: 'BTC/USDT' }).catch(() => undefined);
    await vi.waitFor(async () => expect((await d.kernel.orders.halted()).halted).toBe(true), { timeout: 10_000 });
    const status = await d.kernel.orders.halted();
    expect(status.by).toBe('risk');
    expect(status.reason).toContain('exchange-outage: binance market data circuit open');
    // the halt's alert follows the halt (it is raised when the persisted change is announced)
    await vi.waitFor(() => {
      const alerts = d.kernel.alerts.latest(10).map((a) => `${a.kind}:${a.title}`);
      expect(alerts.some((a) => a.startsWith('data:binance market data unavailable'))).toBe(true);
      expect(alerts.some((a) => a.startsWith('halt:TRADING HALTED by risk'))).toBe(true);
    });
  });

  it('without the option it tells the desk but leaves trading open', async () => {
    const d = await desk(false);
    fake.inject({ path: '*', times: 1000, fault: { kind: 'status', status: 503 } });
    for (let i = 0; i < 3; i++) await d.kernel.market.ticker({ symbol: 'BTC/USDT' }).catch(() => undefined);
    await vi.waitFor(() => expect(d.kernel.alerts.latest(5).some((a) => a.kind === 'data')).toBe(true), { timeout: 10_000 });
    expect((await d.kernel.orders.halted()).halted).toBe(false);
  });
});
