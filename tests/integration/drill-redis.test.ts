import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import execution from '../../plugins/execution/index.js';
import market from '../../plugins/market/index.js';
import risk from '../../plugins/risk/index.js';
import type { OrderRequest, Requester } from '../../src/kernel/index.js';
import { openStore, type KernelStore } from '../../src/kernel/store.js';
import { PrivateRedis } from '../helpers/private-redis.js';
import { sharedDataDir } from '../helpers/recorded.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';

/**
 * Fault drill: Redis, the shared store, is restarted while a desk runs halted. It runs as
 * production should (append-only file on, as docker/compose.yaml starts it), on a private
 * redis-server on a port of its own — the shared test Redis is never stopped.
 *
 * While Redis is away nothing is half-done: every command is refused with "nothing was done", the
 * halt state reads as halted (fail safe), an order is refused and never reaches the broker. When
 * Redis is back on the same port the client reconnects by itself, commands work again, and the
 * halt — read from Redis again, not from memory — is still in force, on every instance.
 */

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** Redis stopped and started within this; the client backs off at most 2 s between tries */
const RECONNECT_CAP_MS = 30_000;

async function privateRedis(): Promise<PrivateRedis> {
  const redis = await PrivateRedis.start({ persistent: true });
  cleanups.push(() => redis.destroy()); // runs last: after the desks and their stores
  return redis;
}

/** one desk instance with its own Redis connection, as a separate process would have */
async function instance(redis: PrivateRedis, prefix: string, name: string): Promise<TestDesk> {
  const store: KernelStore = await openStore({ kind: 'redis', dataDir: '/tmp', sqliteFile: 'x', redisUrl: redis.url, keyPrefix: prefix });
  cleanups.push(() => store.close());
  const d = await startDesk({ plugins: [market, risk, execution], config: testConfig({ instance: name, market: { dir: sharedDataDir() }, trading: { pollMs: 0 } }), store });
  cleanups.push(() => d.kernel.stop());
  return d;
}

const TOM: Requester = {
  principal: { platform: 'console', userId: 'tom', person: 'tom', displayName: 'Tom Trader', roles: ['trader'] },
  channel: { platform: 'console', channelId: 'terminal' },
};
const TESS = { platform: 'console', userId: 'tess', person: 'tess', displayName: 'Tess Trader', roles: ['trader'] } as const;

const buy = (key: string, amount = 0.01): OrderRequest => ({ exchange: 'binance', symbol: 'BTC/USDT', side: 'buy', type: 'market', amount, key, origin: 'drill' });

const NOTHING_DONE = 'deskbot cannot reach its store right now; nothing was done';

describe('drill: Redis restarted under a running desk', () => {
  it('while it is down every command is refused with nothing done and no order is placed; back on the same port the desk reconnects and the halt is still in force', { timeout: 120_000 }, async () => {
    const redis = await privateRedis();
    const d = await instance(redis, `drill-${randomUUID().slice(0, 8)}`, 'a');

    // before: one filled order, then the kill switch, then a buy waiting for its confirm
    expect(await d.say('tom', '/buy btc 0.01')).toContain('Confirm');
    expect(await d.say('tom', 'yes')).toContain('Filled');
    expect(await d.say('ann', '/halt redis drill')).toContain('HALTED by ann');
    expect(await d.say('tom', '/buy btc 0.02')).toContain('Confirm');

    await redis.stop();

    // every command, read-only or not, is refused the same clear way: nothing was done
    for (const line of ['/help', '/whoami', '/price btc', '/buy btc 0.05', 'yes', '/resume']) {
      expect(await d.say('tom', line), line).toContain(NOTHING_DONE);
    }
    // the halt state cannot be read, so it reads as halted (fail safe) ...
    const blind = await d.kernel.orders.halted();
    expect(blind.halted).toBe(true);
    expect(blind.reason).toBe('halt state unreadable (store error: redis store (halt): The client is offline)');
    // ... and an order that reaches the gateway directly is refused: it throws before any broker call
    await expect(d.kernel.orders.place(buy('during-outage'), TOM)).rejects.toThrow('The client is offline');

    await redis.start();

    // the client reconnects by itself; commands work again
    await vi.waitFor(async () => expect(await d.say('vic', '/price btc')).toMatch(/BTC\/USDT \(binance\)/), { timeout: RECONNECT_CAP_MS, interval: 250 });
    // the halt survived the restart: Redis kept it (append-only file), the desk reads it from there
    const after = await d.kernel.orders.halted();
    expect(after).toMatchObject({ halted: true, by: 'ann', reason: 'redis drill' });

    // nothing from the outage was placed: one order (the one before), one position of 0.01
    expect(await d.kernel.orders.byKey('during-outage')).toBeUndefined();
    const orders = await d.kernel.orders.recent(10);
    expect(orders.map((o) => [o.state, o.amount])).toEqual([['filled', 0.01]]);
    expect((await d.kernel.orders.positions()).map((p) => [p.symbol, p.amount])).toEqual([['BTC/USDT', 0.01]]);

    // the buy asked before the outage, confirmed now: refused by the halt, never placed
    const confirmed = await d.say('tom', 'yes');
    expect(confirmed).toContain('trading is halted by ann');
    expect(confirmed).not.toContain('Filled');
    expect((await d.kernel.orders.positions()).map((p) => p.amount)).toEqual([0.01]);
  });

  it('a halt made on instance A is still seen by instance B after the restart, and halts reach B over pub/sub again', { timeout: 120_000 }, async () => {
    const redis = await privateRedis();
    const prefix = `drill-${randomUUID().slice(0, 8)}`;
    const a = await instance(redis, prefix, 'a');
    const b = await instance(redis, prefix, 'b');
    const peerHalts: string[] = [];
    b.kernel.orders.onHalt((h) => {
      if (h.peer) peerHalts.push(h.reason);
    });

    await a.kernel.orders.halt('ann', 'halted on A');
    await vi.waitFor(() => expect(peerHalts).toEqual(['halted on A']), { timeout: 10_000 });

    await redis.stop();
    expect((await b.kernel.orders.halted()).reason).toContain('halt state unreadable');
    await redis.start();

    // B reconnects and reads A's halt from Redis: in force, with who and why
    await vi.waitFor(async () => expect(await b.kernel.orders.halted()).toMatchObject({ halted: true, by: 'ann', reason: 'halted on A' }), { timeout: RECONNECT_CAP_MS, interval: 250 });
    const refused = await b.kernel.orders.place(buy('b-after-restart'), TOM);
    expect(refused.state).toBe('rejected');
    expect(refused.reason).toContain('trading is halted by ann');

    // the subscription came back too: a resume and a new halt on A reach B's gateway at once
    await vi.waitFor(async () => expect((await a.kernel.orders.halted()).by).toBe('ann'), { timeout: RECONNECT_CAP_MS, interval: 250 });
    await a.kernel.orders.resume(TESS);
    await a.kernel.orders.halt('ann', 'second halt after the restart');
    await vi.waitFor(() => expect(peerHalts).toEqual(['halted on A', 'second halt after the restart']), { timeout: RECONNECT_CAP_MS });
    expect(await b.kernel.orders.halted()).toMatchObject({ halted: true, reason: 'second halt after the restart' });
  });
});
