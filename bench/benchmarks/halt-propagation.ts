import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { configSchema } from '../../src/kernel/config/schema.js';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { openStore } from '../../src/kernel/store.js';
import { PrivateRedis } from '../../tests/helpers/private-redis.js';
import { percentile, type Benchmark, type Metric } from '../lib.js';

/**
 * Cross-instance halt propagation: two desk kernels on one Redis, each with its own connection
 * (as two processes would have). Instance A halts; the time until instance B's gateway is closed
 * (B's onHalt from the Redis pub/sub message) is measured, then B resumes for the next round.
 * Uses REDIS_URL, else starts a throwaway redis-server on a free loopback port.
 */

/** REDIS_URL, else a throwaway redis-server on a free loopback port */
async function startRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: async () => undefined };
  const r = await PrivateRedis.start({ persistent: false });
  return { url: r.url, stop: () => r.destroy() };
}

async function instance(url: string, prefix: string, name: string, dir: string): Promise<Kernel> {
  const store = await openStore({ kind: 'redis', dataDir: dir, sqliteFile: 'x', redisUrl: url, keyPrefix: prefix });
  const config = configSchema.parse({
    instance: name,
    dataDir: path.join(dir, name),
    log: { level: 'silent' },
    store: { kind: 'redis' },
    trading: { pollMs: 0, fourEyesResume: false },
    people: { ann: { name: 'Ann', roles: ['admin'], ids: { console: 'ann' } } },
    roles: { admin: ['*'] },
  });
  return Kernel.start({ config, secrets: readSecrets({}), logger: pino({ level: 'silent' }), discover: false, store });
}

export const haltPropagation: Benchmark = {
  name: 'halt-propagation',
  description: 'cross-instance halt: A halts → B’s gateway closed (Redis pub/sub), p50/p99 over 200 halts',
  async run(): Promise<Metric[]> {
    const redis = await startRedis();
    const dir = await mkdtemp(path.join(tmpdir(), 'deskbot-bench-halt-'));
    const prefix = `bench-${randomUUID().slice(0, 8)}`;
    const kernels: Kernel[] = [];
    try {
      const a = await instance(redis.url, prefix, 'a', dir);
      kernels.push(a);
      const b = await instance(redis.url, prefix, 'b', dir);
      kernels.push(b);
      const ann = { platform: 'console', userId: 'ann', person: 'ann', displayName: 'Ann', roles: ['admin'] };
      let closedAt: bigint | null = null;
      b.orders.onHalt((h) => {
        if (h.peer) closedAt = process.hrtime.bigint();
      });
      const samples: number[] = [];
      for (let i = 0; i < 220; i++) {
        closedAt = null;
        const t0 = process.hrtime.bigint();
        await a.orders.halt('ann', `drill ${i}`);
        for (let w = 0; w < 2000 && closedAt === null; w++) await sleep(1);
        if (closedAt === null) throw new Error('B never heard of the halt');
        if (i >= 20) samples.push(Number((closedAt as bigint) - t0) / 1e6);
        await a.orders.resume(ann);
      }
      samples.sort((x, y) => x - y);
      return [
        { name: 'halt-propagation.p50', value: percentile(samples, 50), unit: 'ms' },
        { name: 'halt-propagation.p99', value: percentile(samples, 99), unit: 'ms', goal: '<=100' },
      ];
    } finally {
      for (const k of kernels.reverse()) await k.stop();
      await redis.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
