import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { storeRunCoordinator } from '../../src/kernel/run-coordinator.js';
import { Scheduler } from '../../src/kernel/scheduler.js';
import { openStore, type KernelStore } from '../../src/kernel/store.js';
import { requireRedisUrl } from '../setup/redis-url.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});

async function redisStore(prefix: string): Promise<KernelStore> {
  const store = await openStore({ kind: 'redis', dataDir: '/tmp', sqliteFile: 'x', redisUrl: requireRedisUrl(), keyPrefix: prefix });
  open.push(store);
  return store;
}

describe('schedules across instances (Redis run coordinator)', () => {
  it('exactly one instance claims a fire slot', async () => {
    const prefix = `t-${randomUUID().slice(0, 8)}`;
    const a = storeRunCoordinator((await redisStore(prefix)).namespace('cron'), 'a');
    const b = storeRunCoordinator((await redisStore(prefix)).namespace('cron'), 'b');
    const slot = 'digest.morning:2026-11-27T09:00:00.000Z';
    const claims = await Promise.all([a.shouldRun(slot, 1000), b.shouldRun(slot, 1000)]);
    expect(claims.filter(Boolean)).toHaveLength(1);
    // a different slot is claimable again
    expect(await a.shouldRun('digest.morning:2026-11-28T09:00:00.000Z', 1000)).toBe(true);
  });

  it('two schedulers on one Redis run each every-second fire once between them', async () => {
    const prefix = `t-${randomUUID().slice(0, 8)}`;
    const runs: Array<{ instance: string; at: string }> = [];
    const schedulers = await Promise.all(
      ['a', 'b'].map(async (instance) => {
        const s = new Scheduler(pino({ level: 'silent' }), 'UTC', storeRunCoordinator((await redisStore(prefix)).namespace('cron'), instance));
        s.add('test', { name: 'tick', cron: '* * * * * *', run: (f) => void runs.push({ instance, at: f.at.toISOString() }) });
        open.push({ close: () => s.stop() });
        return s;
      }),
    );
    for (const s of schedulers) s.start();
    // wait for at least two fires, however slow the machine (bounded)
    for (let i = 0; i < 100 && runs.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    for (const s of schedulers) await s.stop();
    expect(runs.length).toBeGreaterThanOrEqual(2);
    const slots = runs.map((r) => r.at);
    expect(new Set(slots).size).toBe(slots.length); // no slot ran twice
  });
});
