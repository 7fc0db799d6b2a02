import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import execution from '../../plugins/execution/index.js';
import risk from '../../plugins/risk/index.js';
import type { OrderRequest, Requester } from '../../src/kernel/index.js';
import { openStore, type KernelStore } from '../../src/kernel/store.js';
import { sharedDataDir } from '../helpers/recorded.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';
import { requireRedisUrl } from '../setup/redis-url.js';

/**
 * Two desk instances on one Redis (each with its own connection, as two processes would have):
 * shared state, one handling of a redelivered message between them, and a halt on one closing
 * the other's gateway and cancelling its open orders.
 */

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function instance(prefix: string, name: string): Promise<TestDesk> {
  const store: KernelStore = await openStore({ kind: 'redis', dataDir: '/tmp', sqliteFile: 'x', redisUrl: requireRedisUrl(), keyPrefix: prefix });
  cleanups.push(() => store.close());
  const d = await startDesk({ plugins: [risk, execution], config: testConfig({ instance: name, market: { dir: sharedDataDir() }, trading: { pollMs: 0 } }), store });
  cleanups.push(() => d.kernel.stop());
  return d;
}

const TOM: Requester = {
  principal: { platform: 'console', userId: 'tom', person: 'tom', displayName: 'Tom', roles: ['trader'] },
  channel: { platform: 'console', channelId: 'terminal' },
};

const buy = (key: string, over: Partial<OrderRequest> = {}): OrderRequest => ({ exchange: 'binance', symbol: 'BTC/USDT', side: 'buy', type: 'market', amount: 0.001, key, origin: 'test', ...over });

describe('two instances on one Redis', () => {
  it('share state: a message redelivered to the other instance is handled once; pending confirms carry over', async () => {
    const prefix = `t-${randomUUID().slice(0, 8)}`;
    const a = await instance(prefix, 'a');
    const b = await instance(prefix, 'b');
    const ask = await a.raw('tom', '/buy btc 0.001', { id: 'slack-evt-7' });
    expect(ask).not.toBeNull();
    expect(await b.raw('tom', '/buy btc 0.001', { id: 'slack-evt-7' })).toBeNull();
    // the confirm asked on A is answered on B
    expect(await b.say('tom', 'yes')).toContain('Filled');
    expect((await a.kernel.orders.recent(5)).length + (await b.kernel.orders.recent(5)).length).toBe(1);
  });

  it('a halt on A refuses the next order on B and cancels what B has open', async () => {
    const prefix = `t-${randomUUID().slice(0, 8)}`;
    const a = await instance(prefix, 'a');
    const b = await instance(prefix, 'b');
    const last = (await b.kernel.orders.estimate(buy('probe'))).reference;
    const resting = await b.kernel.orders.place(buy('b-limit', { type: 'limit', price: Math.round(last * 0.97) }), TOM);
    expect(resting.state).toBe('acknowledged');
    const closed: Array<{ by: string; peer: boolean }> = [];
    b.kernel.orders.onHalt((h) => closed.push({ by: h.by, peer: h.peer }));

    await a.kernel.orders.halt('ann', 'drill on A');
    // the store is the truth: B refuses the very next order, whatever the pub/sub is doing
    const refused = await b.kernel.orders.place(buy('b-after'), TOM);
    expect(refused.state).toBe('rejected');
    expect(refused.reason).toContain('trading is halted by ann');
    // and the broadcast closes B's gateway and cancels its resting order
    await vi.waitFor(() => expect(closed).toEqual([{ by: 'ann', peer: true }]), { timeout: 10_000 });
    await vi.waitFor(async () => expect((await b.kernel.orders.get(resting.id))?.state).toBe('cancelled'), { timeout: 10_000 });
    expect(await b.kernel.orders.open()).toHaveLength(0);
  });
});
