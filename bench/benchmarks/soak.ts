import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import digest from '../../plugins/digest/index.js';
import execution from '../../plugins/execution/index.js';
import market from '../../plugins/market/index.js';
import regimes from '../../plugins/regimes/index.js';
import risk from '../../plugins/risk/index.js';
import signals from '../../plugins/signals/index.js';
import { configSchema } from '../../src/kernel/config/schema.js';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import { Kernel } from '../../src/kernel/kernel.js';
import type { Benchmark, Metric } from '../lib.js';

/**
 * A bounded soak: the desk on the embedded SQLite store and recorded prices, fed a steady mix of
 * commands (prices, signals, regimes, paper orders with their confirms, positions, PnL, the
 * digest) for SOAK_SECONDS (default 300) at SOAK_RATE commands/s (default 20). Reports RSS growth
 * per minute (least-squares slope after the first minute's warm-up) and event-loop lag p99.
 */

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const MIX: ReadonlyArray<[person: string, text: string]> = [
  ['tom', '/price BTC/USDT ETH/USDT'],
  ['tom', '/signal BTC/USDT 1h'],
  ['tom', '/regime ETH/USDT 1h'],
  ['tom', '/buy btc 0.001'],
  ['tom', 'yes'],
  ['tom', '/positions'],
  ['tom', '/sell btc 0.001'],
  ['tom', 'yes'],
  ['tom', '/pnl today'],
  ['tom', '/orders'],
  ['vic', '/indicators SOL/USDT'],
  ['vic', '/digest'],
];

export const soak: Benchmark = {
  name: 'soak',
  description: 'bounded soak: mixed commands at a steady rate on SQLite and recorded prices; RSS growth per minute and event-loop lag p99',
  async run(): Promise<Metric[]> {
    const seconds = Number(process.env.SOAK_SECONDS ?? 300);
    const rate = Number(process.env.SOAK_RATE ?? 20);
    const env = process.env.DESKBOT_MARKET_DIR;
    const dir = env ? path.resolve(REPO_ROOT, env) : path.resolve(REPO_ROOT, '../shared/data');
    if (!existsSync(path.join(dir, 'SOURCES.md'))) throw new Error(`recorded market data not found at ${dir}: the soak needs ../shared/data or DESKBOT_MARKET_DIR`);
    const dataDir = await mkdtemp(path.join(tmpdir(), 'deskbot-bench-soak-'));
    const config = configSchema.parse({
      dataDir,
      store: { kind: 'sqlite' },
      log: { level: 'silent' },
      market: { dir },
      trading: { pollMs: 5_000, paper: { balances: { USDT: 1e9 } } },
      people: { tom: { name: 'Tom', roles: ['trader'], ids: { console: 'tom' } }, vic: { name: 'Vic', roles: ['viewer'], ids: { console: 'vic' } } },
      roles: { trader: ['market:read', 'trade:execute', 'trade:read'], viewer: ['market:read'] },
      plugins: { settings: { risk: { maxOpenOrders: 10_000, dailyLossLimit: 1e9, maxPositionNotional: 1e9, maxGrossExposure: 1e9 } } },
    });
    const kernel = await Kernel.start({ config, secrets: readSecrets({}), logger: pino({ level: 'silent' }), plugins: [market, signals, regimes, risk, execution, digest], discover: false });
    const lag = monitorEventLoopDelay({ resolution: 10 });
    const rss: Array<[number, number]> = [];
    // with node --expose-gc: the JS heap after a full collection, to tell a leak from native memory
    const gc = (globalThis as { gc?: () => void }).gc;
    const heap: Array<[number, number]> = [];
    let sent = 0;
    let errors = 0;
    try {
      const t0 = Date.now();
      const end = t0 + seconds * 1000;
      let next = t0;
      let lastSample = 0;
      let lagStarted = false;
      while (Date.now() < end) {
        const [person, text] = MIX[sent % MIX.length] as [string, string];
        const r = await kernel.handle({ platform: 'console', id: `soak-${sent}`, userId: person, channelId: 'terminal', text });
        if (r?.blocks.some((b) => b.type === 'text' && b.tone === 'error' && /internal error/.test(b.text))) errors++;
        sent++;
        const now = Date.now();
        // the first minute warms caches and the JIT: measure lag and memory after it
        if (!lagStarted && now - t0 >= Math.min(60_000, seconds * 200)) {
          lag.enable();
          lagStarted = true;
        }
        if (lagStarted && now - lastSample >= 5_000) {
          rss.push([(now - t0) / 60_000, process.memoryUsage().rss / 2 ** 20]);
          if (gc) {
            gc();
            heap.push([(now - t0) / 60_000, process.memoryUsage().heapUsed / 2 ** 20]);
          }
          lastSample = now;
        }
        next += 1000 / rate;
        const wait = next - Date.now();
        if (wait > 0) await sleep(wait);
      }
    } finally {
      lag.disable();
      await kernel.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
    if (errors > 0) throw new Error(`${errors} commands failed with internal errors during the soak`);
    return [
      { name: 'soak.commands', value: sent, unit: 'commands' },
      { name: 'soak.rss-growth', value: slope(rss), unit: 'MiB/min' },
      { name: 'soak.rss-end', value: rss.at(-1)?.[1] ?? NaN, unit: 'MiB' },
      { name: 'soak.event-loop-lag.p99', value: lag.percentile(99) / 1e6, unit: 'ms' },
      ...(heap.length > 1 ? [{ name: 'soak.heap-after-gc-growth', value: slope(heap), unit: 'MiB/min' }] : []),
    ];
  },
};

/** least-squares slope of y over x */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return NaN;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}
