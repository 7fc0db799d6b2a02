import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import signalsPlugin from '../../plugins/signals/index.js';
import { configSchema } from '../../src/kernel/config/schema.js';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import type { Reply } from '../../src/kernel/index.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { measureThroughput, recordedDataDir } from '../lib.js';
import type { Benchmark, Metric } from '../lib.js';

/**
 * `/signal` latency from cached candles, end to end through kernel.handle (dedupe, parse,
 * authorise, audit, handler: candles from the replay source's in-memory columns, the integrity
 * gate over the window, the strategy's indicators, scoring, the reply) on the recorded data
 * (../shared/data, or DESKBOT_MARKET_DIR). The default strategy (balanced: 13 rules over the
 * 1,000 candles EMA(200) needs to settle) on BTC/USDT 1h, and the lighter momentum strategy.
 * For context: `/scan` over all 126 USDT pairs (200 candles each), p50 of 30 runs.
 */


function marketDir(): string {
  return recordedDataDir('signal', 'binance_BTC-USDT_1h.csv');
}

function check(r: Reply | null, what: string, expect: string): void {
  const text = r?.blocks.map((b) => ('text' in b ? b.text : 'title' in b ? (b.title ?? '') : '')).join('\n') ?? '';
  if (!text.includes(expect)) throw new Error(`${what} did not answer as expected: ${text.slice(0, 300)}`);
}

export const signal: Benchmark = {
  name: 'signal',
  description: '/signal BTC/USDT 1h through kernel.handle on recorded candles already in memory (p50/p99), and /scan over the 126 USDT pairs (p50 of 30)',
  async run(): Promise<Metric[]> {
    const dir = await mkdtemp(path.join(tmpdir(), 'deskbot-bench-signal-'));
    const config = configSchema.parse({
      dataDir: dir,
      store: { kind: 'memory' },
      log: { level: 'silent' },
      market: { dir: marketDir() },
      people: { tom: { name: 'Tom', roles: ['viewer'], ids: { slack: 'U_TOM' } } },
      roles: { viewer: ['market:read'] },
    });
    const kernel = await Kernel.start({ config, secrets: readSecrets({}), logger: pino({ level: 'silent' }), plugins: [signalsPlugin], discover: false });
    let n = 0;
    const say = (text: string): Promise<Reply | null> => kernel.handle({ platform: 'slack', id: `b${++n}`, userId: 'U_TOM', channelId: 'C0DESK', text });
    try {
      const metrics: Metric[] = [];
      for (const [label, line, expect] of [
        ['signal', '/signal BTC/USDT 1h', 'BTC/USDT 1h · balanced'],
        ['signal-momentum', '/signal BTC/USDT 1h momentum', 'BTC/USDT 1h · momentum'],
      ] as const) {
        // the first call reads and parses the CSV file: after it the candles are cached in memory;
        // the warm-up also lets the JIT settle (the first few hundred calls run unoptimised code)
        check(await say(line), line, expect);
        const t = await measureThroughput(() => say(line), { warmup: 2_000, iterations: 5_000 });
        metrics.push(
          { name: `${label}.p50`, value: t.p50Us / 1000, unit: 'ms' },
          { name: `${label}.p99`, value: t.p99Us / 1000, unit: 'ms', ...(label === 'signal' ? { goal: '<=5' } : {}) },
        );
      }
      check(await say('/scan'), '/scan', 'top 10 of 126 by momentum');
      const s = await measureThroughput(() => say('/scan usdt 1h top 10 by momentum'), { warmup: 3, iterations: 30 });
      metrics.push({ name: 'signal.scan-126.p50', value: s.p50Us / 1000, unit: 'ms' });
      return metrics;
    } finally {
      await kernel.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
