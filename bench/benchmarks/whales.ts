import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTradesCsv } from '../../src/market/replay/csv.js';
import { DEFAULT_DETECTOR, WhaleDetector, type TradeColumnsIn, type WhaleEvent } from '../../src/whales/detector.js';
import { measureThroughput } from '../lib.js';
import type { Benchmark, Metric } from '../lib.js';

/**
 * Whale trade-detection throughput on one core: the recorded binance XRP/ETH trades (12,477,
 * ../shared/data/trades or DESKBOT_MARKET_DIR) cycled to ~2M prints (each cycle shifted in time
 * after the previous one so times ascend), fed as columns to one WhaleDetector with the default
 * rules (50× rolling median over 1,000 prints, log z ≥ 3, 2 s same-side clustering) plus an
 * absolute threshold. Counts every print: stats update, rules, clustering, event objects.
 */

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const FILE = 'trades/binance_XRP-ETH_trades.csv';
const TARGET = 2_000_000;

function marketDir(): string {
  const env = process.env.DESKBOT_MARKET_DIR;
  const dir = env ? path.resolve(REPO_ROOT, env) : path.resolve(REPO_ROOT, '../shared/data');
  if (!existsSync(path.join(dir, FILE))) throw new Error(`recorded trades not found at ${path.join(dir, FILE)}; set DESKBOT_MARKET_DIR`);
  return dir;
}

function cycled(): TradeColumnsIn {
  const file = path.join(marketDir(), FILE);
  const t = parseTradesCsv(readFileSync(file), file);
  const cycles = Math.max(1, Math.round(TARGET / t.length));
  const n = cycles * t.length;
  const span = (t.time[t.length - 1] as number) - (t.time[0] as number) + 60_000;
  const out = { time: new Float64Array(n), id: new Array<string>(n), side: new Int8Array(n), price: new Float64Array(n), amount: new Float64Array(n), cost: new Float64Array(n), length: n };
  for (let c = 0; c < cycles; c++) {
    for (let i = 0; i < t.length; i++) {
      const j = c * t.length + i;
      out.time[j] = (t.time[i] as number) + c * span;
      out.id[j] = `${c}-${t.id[i] as string}`;
      const s = t.side[i];
      out.side[j] = s === 'buy' ? 1 : s === 'sell' ? -1 : 0;
      out.price[j] = t.price[i] as number;
      out.amount[j] = t.amount[i] as number;
      out.cost[j] = t.cost[i] as number;
    }
  }
  return out;
}

export const whales: Benchmark = {
  name: 'whales',
  description: 'whale trade detection (rolling median, z-score, clustering) over the recorded XRP/ETH trades cycled to ~2M, one core',
  async run(): Promise<Metric[]> {
    const cols = cycled();
    const settings = { ...DEFAULT_DETECTOR, absolute: 5 };
    let events = 0;
    const once = (): number => {
      const d = new WhaleDetector('binance', 'XRP/ETH', settings);
      const out: WhaleEvent[] = [];
      d.process(cols, out);
      d.flush(out);
      events = out.length;
      return out.length;
    };
    const t = await measureThroughput(once, { warmup: 1, iterations: 5 });
    const perRun = t.totalMs / t.iterations;
    return [
      { name: 'whales.detect', value: cols.length / (perRun / 1000), unit: 'trades/s', goal: '>=1000000' },
      { name: 'whales.detect_run_ms', value: perRun, unit: `ms per ${cols.length.toLocaleString('en-US')} trades` },
      { name: 'whales.events', value: events, unit: 'events per run' },
    ];
  },
};
