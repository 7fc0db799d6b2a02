import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { configSchema } from '../../src/kernel/config/schema.js';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import { arg, block, defineCommand, definePlugin, reply } from '../../src/kernel/index.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { measureThroughput } from '../lib.js';
import type { Benchmark, Metric } from '../lib.js';

/** A command shaped like the real ones: a symbol, an amount with a unit, an optional key=value. */
const quote = definePlugin({
  name: 'bench',
  version: '1.0.0',
  setup(ctx) {
    ctx.command(
      defineCommand({
        name: 'quote',
        summary: 'bench',
        args: { symbol: arg.symbol(), amount: arg.quantity({ units: ['usdt'] }), side: arg.choice(['buy', 'sell'] as const).default('buy') },
        permission: 'market:read',
        handler: (c) => reply.of(block.kv({ symbol: c.args.symbol, amount: c.args.amount.value, side: c.args.side })),
      }),
    );
  },
});

async function desk(store: 'memory' | 'sqlite'): Promise<{ kernel: Kernel; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), `deskbot-bench-dispatch-${store}-`));
  const config = configSchema.parse({
    dataDir: dir,
    store: { kind: store },
    people: { tom: { name: 'Tom', roles: ['trader'], ids: { slack: 'U_TOM' } } },
    roles: { trader: ['market:read', 'trade:execute'] },
    channelRules: [{ permissions: ['trade:*'], effect: 'only', channels: ['slack:C0DESK'] }],
  });
  const kernel = await Kernel.start({ config, secrets: readSecrets({}), logger: pino({ level: 'silent' }), plugins: [quote], discover: false });
  return { kernel, dir };
}

async function measure(store: 'memory' | 'sqlite', iterations: number): Promise<Metric[]> {
  const { kernel, dir } = await desk(store);
  try {
    let i = 0;
    const t = await measureThroughput(
      () => kernel.handle({ platform: 'slack', id: `m${++i}`, userId: 'U_TOM', channelId: 'C0DESK', text: '/quote btc 100usdt side=sell' }),
      { warmup: Math.min(5_000, iterations / 10), iterations },
    );
    const prefix = store === 'memory' ? 'dispatch' : 'dispatch-sqlite';
    return [
      // the goal: in-process dispatch (dedupe, parse, authorise, two audit lines, handler) on one core
      { name: `${prefix}.throughput`, value: t.opsPerSec, unit: 'commands/s', ...(store === 'memory' ? { goal: '>=50000' } : {}) },
      { name: `${prefix}.p50`, value: t.p50Us, unit: 'us' },
      { name: `${prefix}.p99`, value: t.p99Us, unit: 'us' },
    ];
  } finally {
    await kernel.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export const dispatch: Benchmark = {
  name: 'dispatch',
  description: 'kernel.handle(): dedupe + parse + authorise + audit + handler, memory store; then with the SQLite store (dedupe on disk)',
  async run(): Promise<Metric[]> {
    return [...(await measure('memory', 200_000)), ...(await measure('sqlite', 20_000))];
  },
};
