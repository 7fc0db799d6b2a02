import Keyv from 'keyv';
import { describe, expect, it } from 'vitest';
import { Readiness } from '../../src/ops/index.js';

/** /readyz's checks on their own: a real store round trip, a cached market answer, adapters, timeouts. */

function market(answer: () => Promise<unknown[]>) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    service: {
      defaultExchange: 'binance',
      mode: 'replay',
      markets: () => {
        calls++;
        return answer();
      },
    },
  };
}

describe('Readiness', () => {
  it('is ready when the store round-trips, the market answers and every adapter is connected', async () => {
    const store = new Keyv();
    const m = market(async () => [{ symbol: 'BTC/USDT' }, { symbol: 'ETH/USDT' }]);
    const r = new Readiness({ store, instance: 'a', market: () => m.service, adapters: () => [{ platform: 'slack', connected: true, detail: 'socket open' }] });
    const report = await r.check();
    expect(report).toMatchObject({ ready: true, failing: [] });
    expect(report.checks['market']).toEqual({ ok: true, detail: 'binance: 2 markets (replay)' });
    expect(report.checks['adapter:slack']).toEqual({ ok: true, detail: 'socket open' });
    expect(report.checks['store']?.detail).toMatch(/^write and read back in \d+ ms$/);
    expect(typeof (await store.get('probe:a'))).toBe('string'); // a real write, under this instance's key
  });

  it('names each failing check', async () => {
    const store = new Keyv();
    store.get = async () => {
      throw new Error('The client is closed');
    };
    const r = new Readiness({
      store,
      instance: 'a',
      market: () => market(async () => []).service,
      adapters: () => [
        { platform: 'slack', connected: true, detail: 'ok' },
        { platform: 'telegram', connected: false, detail: 'polling stopped: 401' },
      ],
    });
    const report = await r.check();
    expect(report.ready).toBe(false);
    expect(report.failing).toEqual(['store', 'market', 'adapter:telegram']);
    expect(report.checks['store']).toEqual({ ok: false, detail: 'The client is closed' });
    expect(report.checks['market']).toEqual({ ok: false, detail: 'binance: no markets (replay)' });
  });

  it('a store that does not answer fails the probe within the timeout instead of hanging it', async () => {
    const store = new Keyv();
    store.set = () => new Promise(() => undefined);
    const r = new Readiness({ store, instance: 'a', market: () => market(async () => [1]).service, adapters: () => [], timeoutMs: 100 });
    const started = Date.now();
    const report = await r.check();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(report.failing).toEqual(['store']);
    expect(report.checks['store']?.detail).toBe('no answer within 100 ms');
  });

  it('reuses the market answer for a few seconds, but checks the store on every probe', async () => {
    const store = new Keyv();
    let writes = 0;
    const set = store.set.bind(store);
    store.set = (...a: Parameters<typeof set>) => {
      writes++;
      return set(...a);
    };
    const m = market(async () => [1]);
    const r = new Readiness({ store, instance: 'a', market: () => m.service, adapters: () => [], marketCacheMs: 60_000 });
    await r.check();
    await r.check();
    await r.check();
    expect(m.calls).toBe(1);
    expect(writes).toBe(3);

    const fresh = new Readiness({ store, instance: 'a', market: () => m.service, adapters: () => [], marketCacheMs: 0 });
    await fresh.check();
    await fresh.check();
    expect(m.calls).toBe(3);
  });

  it('probes at the same moment share one run', async () => {
    const store = new Keyv();
    const m = market(() => new Promise((r) => setTimeout(() => r([1]), 20)));
    const r = new Readiness({ store, instance: 'a', market: () => m.service, adapters: () => [] });
    const [a, b] = await Promise.all([r.check(), r.check()]);
    expect(a).toBe(b);
    expect(m.calls).toBe(1);
  });
});
