import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import execution from '../../plugins/execution/index.js';
import risk from '../../plugins/risk/index.js';
import { startFakeExchange, type FakeExchange } from '../fakes/exchange/index.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';
import { storeFixtures } from '../helpers/stores.js';
import type { KernelStore } from '../../src/kernel/store.js';

const stores = storeFixtures('live-desk');

/**
 * Live trading from chat, end to end: the desk in `trading.mode: live` against the fake Binance
 * (which checks every signature), the real ccxt client doing the talking. Live stays off until an
 * admin arms it and a second admin approves; then /buy, /orders and /cancel reach the exchange.
 */

const KEY = 'deskLiveKey0000aaaa1111bbbb2222cc';
const SECRET = 'deskLiveSecret9999zzzz8888yyyy7777xxxx6666';

let fake: FakeExchange;
/** the fake's "now": its last recorded BTC/USDT price time; the desk's clock is set just after it */
let fakeNow: number;
const desks: TestDesk[] = [];

beforeAll(async () => {
  fake = await startFakeExchange({ account: { apiKey: KEY, secret: SECRET, balances: { USDT: 50_000 } } });
  const t = (await (await fetch(`${fake.url}/api/v3/ticker/24hr?symbol=BTCUSDT`)).json()) as { closeTime: number };
  fakeNow = t.closeTime;
});
afterAll(async () => {
  await fake?.close();
});
afterEach(async () => {
  while (desks.length > 0) await desks.pop()?.kernel.stop();
});

async function liveDesk(store?: KernelStore): Promise<TestDesk> {
  const base = testConfig();
  const d = await startDesk({
    plugins: [risk, execution],
    config: testConfig({
      people: { ...base.people, amy: { name: 'Amy Admin', roles: ['admin'], ids: { console: 'amy' } } },
      market: { source: 'live', exchanges: ['binance'], defaultExchange: 'binance', urls: { binance: fake.url }, retries: 0 },
      trading: { mode: 'live', pollMs: 0, live: { exchange: 'binance', sandbox: true } },
    }),
    env: { EXCHANGE_BINANCE_API_KEY: KEY, EXCHANGE_BINANCE_SECRET: SECRET },
    clockAt: fakeNow + 30_000, // prices 30 s old: fresh for the risk plugin's stale-price check
    ...(store ? { store } : {}),
  });
  desks.push(d);
  return d;
}

describe('live trading from chat', () => {
  it('is off until armed with four eyes; then orders are placed, listed and cancelled at the exchange, every request signed', async () => {
    const d = await liveDesk();
    // refused at the confirm step already: nothing to confirm, nothing sent
    expect(await d.say('tom', '/buy btc 0.001')).toContain('live trading is configured but not armed');
    await expect(d.kernel.orders.place({ exchange: 'binance', symbol: 'BTC/USDT', side: 'buy', type: 'market', amount: 0.001, key: 'direct-1', origin: 'test' }, {
      principal: { platform: 'console', userId: 'tom', person: 'tom', displayName: 'Tom', roles: ['trader'] },
      channel: { platform: 'console', channelId: 'terminal' },
    })).resolves.toMatchObject({ state: 'rejected', reason: expect.stringContaining('not armed') });
    expect(fake.account.signed).toHaveLength(0); // nothing reached the exchange

    const ask = await d.say('ann', '/live on');
    expect(ask).toContain('needs a second person');
    const token = /\/approve (\S+)/.exec(ask)?.[1] ?? '';
    expect(await d.say('ann', `/approve ${token}`)).toContain('different person');
    const armed = await d.say('amy', `/approve ${token}`);
    expect(armed).toContain('LIVE trading armed on binance (sandbox) by ann, approved by amy');
    expect(armed).toContain('agree');

    await d.say('tom', '/buy btc 0.001');
    expect(await d.say('tom', 'yes')).toContain('Filled');
    const last = (await d.kernel.market.ticker({ symbol: 'BTC/USDT' })).last;
    const limit = Math.round(last * 0.97);
    await d.say('tom', `/buy btc 0.001 ${limit}`);
    expect(await d.say('tom', 'yes')).toContain('acknowledged');
    expect(fake.account.openOrders()).toHaveLength(1);
    const [open] = await d.kernel.orders.open();
    expect(await d.say('tom', '/orders')).toContain(open?.id ?? 'missing');
    expect(fake.account.openOrders()[0]?.clientOrderId).toBe(open?.id); // the journal's id is the exchange's client id

    expect(await d.say('tom', '/cancel all')).toContain('cancelled');
    expect(fake.account.openOrders()).toHaveLength(0);
    expect(fake.account.signed.length).toBeGreaterThan(0);
    expect(fake.account.signed.every((s) => s.verdict === 'ok' && s.apiKey === KEY)).toBe(true);
    const audit = await d.kernel.audit.tail(200);
    expect(audit.some((r) => r.kind === 'live' && r.event === 'armed' && r.by === 'ann' && r.approvedBy === 'amy')).toBe(true);
  });

  it('re-arms after a restart and reports an order the exchange has that the journal does not', async () => {
    fake.account.reset({ apiKey: KEY, secret: SECRET, balances: { USDT: 50_000 } });
    const store = await stores.open('memory');
    const d1 = await liveDesk(store);
    const token = /\/approve (\S+)/.exec(await d1.say('ann', '/live on'))?.[1] ?? '';
    expect(await d1.say('amy', `/approve ${token}`)).toContain('LIVE trading armed');
    await d1.kernel.stop();
    desks.splice(desks.indexOf(d1), 1);

    // someone trades on the exchange's website while the desk is down
    const last = (await (await fetch(`${fake.url}/api/v3/ticker/24hr?symbol=BTCUSDT`)).json()) as { lastPrice: string };
    fake.account.placeExternal({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: 0.001, price: Math.round(Number(last.lastPrice) * 0.9) });

    const d2 = await liveDesk(store);
    const status = await d2.say('ann', '/live status');
    expect(status).toMatch(/armed\s+yes, by ann/);
    expect(status).toContain('1 exchange order(s) not in the journal');
  });
});
