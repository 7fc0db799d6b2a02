import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import marketPlugin from '../../plugins/market/index.js';
import { startFakeExchange, type FakeExchange } from '../fakes/exchange/index.js';
import { recordedCandles } from '../helpers/recorded.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';

/**
 * The whole path a trader's /price takes when live: dispatcher → market plugin → MarketData
 * (symbols, store cache, gate) → live source → the real ccxt client → a local Binance fake
 * serving recorded data. The desk's clock sits just after the last recorded candle, so the
 * recorded prices are "live" and fresh.
 */
let fake: FakeExchange;
let desk: TestDesk;
const btc = recordedCandles('binance', 'BTC/USDT', '1h');
const btc5m = recordedCandles('binance', 'BTC/USDT', '5m');
const lastOpen = btc.time[btc.length - 1] as number;
// the fake exchange's "now" is its newest record: the last 5m candle closing
const fakeNow = (btc5m.time[btc5m.length - 1] as number) + 5 * 60_000;

beforeAll(async () => {
  fake = await startFakeExchange();
});
afterAll(async () => fake.close());
afterEach(async () => desk.kernel.stop());

function liveDesk(): Promise<TestDesk> {
  return startDesk({
    plugins: [marketPlugin],
    clockAt: fakeNow,
    config: testConfig({ market: { source: 'live', exchanges: ['binance'], urls: { binance: fake.url }, timeoutMs: 3000, retries: 1 } }),
  });
}

describe('live market through ccxt and the fake exchange', () => {
  it('/price reads the exchange ticker (the latest trade: the last 5m close) and says it is live', async () => {
    desk = await liveDesk();
    const out = await desk.say('vic', '/price btc');
    const last = (btc5m.close[btc5m.length - 1] as number).toLocaleString('en-US', { maximumFractionDigits: 2 });
    expect(out).toMatch(new RegExp(`BTC/USDT \\(binance\\)\\s+${last.replace('.', '\\.')}\\s`));
    expect(out).toContain('live');
  });

  it('a symbol typo is answered with close matches from the exchange’s markets', async () => {
    desk = await liveDesk();
    expect(await desk.say('vic', '/price etj')).toMatch(/^✗ binance has no market "etj"\. Did you mean .*ETH\/USDT/);
    const err = (await desk.kernel.market.resolve({ symbol: "BTCUSD" }).catch((e: unknown) => e)) as Error;
    expect(err.message).toBe('binance has no market "BTCUSD". Did you mean BTC/USDT?');
    expect((await desk.kernel.market.resolve({ symbol: 'ethusdt' })).symbol).toBe('ETH/USDT');
  });

  it('candles are read through the store cache: a second identical request does not reach the exchange', async () => {
    desk = await liveDesk();
    const before = fake.requests.filter((r) => r.path === '/api/v3/klines').length;
    const a = await desk.kernel.market.candles({ symbol: 'btc', timeframe: '1h', limit: 300 });
    const mid = fake.requests.filter((r) => r.path === '/api/v3/klines').length;
    const b = await desk.kernel.market.candles({ symbol: 'btc', timeframe: '1h', limit: 300 });
    expect(mid).toBeGreaterThan(before);
    expect(fake.requests.filter((r) => r.path === '/api/v3/klines').length).toBe(mid);
    expect(Array.from(b.close)).toEqual(Array.from(a.close));
    expect(a.close[a.length - 1]).toBe(btc.close[btc.length - 1]);
  });

  it('/chart renders live candles', async () => {
    desk = await liveDesk();
    const r = await desk.raw('vic', '/chart eth 1h 200');
    expect(r?.blocks.some((b) => b.type === 'image')).toBe(true);
    // the newest hour is still open on the exchange and not in the record, so 199 closed ones come back
    expect(JSON.stringify(r?.blocks.filter((b) => b.type === 'text'))).toMatch(/ETH\/USDT 1h: 199 candles, last close 1,898\.28 \(live\)/);
  });

  it('stale live data is refused, not shown as current', async () => {
    desk = await startDesk({
      plugins: [marketPlugin],
      clockAt: lastOpen + 5 * 3_600_000,
      config: testConfig({ market: { source: 'live', exchanges: ['binance'], urls: { binance: fake.url } } }),
    });
    expect(await desk.say('vic', '/chart btc 1h 50')).toMatch(/more than two timeframes ago — data is stale, not computing/);
  });
});
