import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import risk from '../../plugins/risk/index.js';
import { configSchema } from '../../src/kernel/config/schema.js';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import type { Requester } from '../../src/kernel/index.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { measureThroughput, percentile, recordedDataDir } from '../lib.js';
import type { Benchmark, Metric } from '../lib.js';

/**
 * The order gateway on the paper broker with recorded prices:
 * - halt latency: `/halt` received by the kernel → the gateway closed (the moment every new order
 *   is refused), p99 over many halts; and → the halt command answered (persisted, open orders
 *   cancelled).
 * - paper gateway throughput: market orders through the whole gateway (halt check, permission,
 *   idempotency claim, the risk plugin's checks on the broker's estimate, journal writes, the
 *   paper fill), on the memory store and on the embedded SQLite store.
 */


function marketDir(): string {
  return recordedDataDir('orders');
}

async function desk(store: 'memory' | 'sqlite'): Promise<{ kernel: Kernel; dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), `deskbot-bench-orders-${store}-`));
  const config = configSchema.parse({
    dataDir: dir,
    store: { kind: store },
    log: { level: 'silent' },
    market: { dir: marketDir() },
    people: {
      tom: { name: 'Tom', roles: ['trader'], ids: { console: 'tom' } },
      rick: { name: 'Rick', roles: ['risk'], ids: { console: 'rick' } },
      ann: { name: 'Ann', roles: ['admin'], ids: { console: 'ann' } },
    },
    roles: { trader: ['market:read', 'trade:execute', 'trade:read'], risk: ['risk:halt', 'risk:resume'], admin: ['*'] },
    trading: { pollMs: 0, paper: { balances: { USDT: 1e12 } } },
    // generous limits: the benchmark measures the checks, not refusals
    plugins: { settings: { risk: { maxOrderNotional: 1e9, maxPositionNotional: 1e12, maxGrossExposure: 1e13, maxOpenOrders: 10_000 } } },
  });
  const kernel = await Kernel.start({ config, secrets: readSecrets({}), logger: pino({ level: 'silent' }), plugins: [risk], discover: false });
  return { kernel, dir };
}

const TOM: Requester = {
  principal: { platform: 'console', userId: 'tom', person: 'tom', displayName: 'Tom', roles: ['trader'] },
  channel: { platform: 'console', channelId: 'terminal' },
};

async function haltLatency(iterations: number): Promise<Metric[]> {
  const { kernel, dir } = await desk('sqlite');
  try {
    let t0 = 0n;
    let closedUs = 0;
    kernel.orders.onHalt(() => {
      closedUs = Number(process.hrtime.bigint() - t0) / 1000;
    });
    const closed = new Float64Array(iterations);
    const answered = new Float64Array(iterations);
    for (let i = 0; i < iterations + 20; i++) {
      t0 = process.hrtime.bigint();
      await kernel.handle({ platform: 'console', id: `h${i}`, userId: 'rick', channelId: 'terminal', text: '/halt drill' });
      const done = Number(process.hrtime.bigint() - t0) / 1000;
      if (i >= 20) {
        closed[i - 20] = closedUs;
        answered[i - 20] = done;
      }
      await kernel.handle({ platform: 'console', id: `r${i}`, userId: 'ann', channelId: 'terminal', text: '/resume' });
    }
    closed.sort();
    answered.sort();
    return [
      { name: 'halt.closed.p50', value: percentile(closed, 50) / 1000, unit: 'ms' },
      { name: 'halt.closed.p99', value: percentile(closed, 99) / 1000, unit: 'ms', goal: '<=10' },
      { name: 'halt.answered.p99', value: percentile(answered, 99) / 1000, unit: 'ms' },
    ];
  } finally {
    await kernel.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function throughput(store: 'memory' | 'sqlite', iterations: number): Promise<Metric[]> {
  const { kernel, dir } = await desk(store);
  try {
    let i = 0;
    const t = await measureThroughput(
      () => kernel.orders.place({ exchange: 'binance', symbol: 'BTC/USDT', side: i % 2 === 0 ? 'buy' : 'sell', type: 'market', amount: 0.001, key: `b${++i}`, origin: 'bench' }, TOM),
      { warmup: 200, iterations },
    );
    const failed = (await kernel.orders.recent(50)).filter((o) => o.state !== 'filled');
    if (failed.length > 0) throw new Error(`bench orders did not fill: ${failed[0]?.state} ${failed[0]?.reason ?? ''}`);
    return [
      { name: `paper-gateway-${store}.throughput`, value: t.opsPerSec, unit: 'orders/s' },
      { name: `paper-gateway-${store}.p99`, value: t.p99Us / 1000, unit: 'ms' },
    ];
  } finally {
    await kernel.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export const orders: Benchmark = {
  name: 'orders',
  description: 'halt latency (/halt received → gateway closed) and paper gateway throughput (memory and SQLite stores)',
  async run(): Promise<Metric[]> {
    return [...(await haltLatency(300)), ...(await throughput('memory', 3_000)), ...(await throughput('sqlite', 1_000))];
  },
};
