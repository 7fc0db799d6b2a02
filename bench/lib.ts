import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
/** Shared types and helpers for `npm run bench`. */

export interface Metric {
  name: string;
  value: number;
  unit: string;
  /** A bound the value should meet, like "<=250" or ">=50000". */
  goal?: string;
  /** A comparable figure from another tool, for context. */
  peer?: string;
  peer_value?: number;
}

export interface Benchmark {
  name: string;
  description: string;
  run(): Promise<Metric[]>;
}

export interface Throughput {
  iterations: number;
  totalMs: number;
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
}

/**
 * Run fn warmup times untimed, then iterations times timed. One hrtime read per op: each op's
 * latency is the gap since the previous read, so the timer costs one call per op, not two, and
 * ops/s comes from the same clock. A promise result is awaited; a plain result is not, so sync
 * work is not slowed by a microtask per op.
 */
export async function measureThroughput(
  fn: () => unknown | Promise<unknown>,
  opts: { warmup: number; iterations: number },
): Promise<Throughput> {
  if (!Number.isInteger(opts.iterations) || opts.iterations < 1) {
    throw new RangeError(`iterations must be a positive integer, got ${opts.iterations}`);
  }
  for (let i = 0; i < opts.warmup; i++) {
    const r = fn();
    if (isThenable(r)) await r;
  }
  const latencies = new Float64Array(opts.iterations);
  const start = process.hrtime.bigint();
  let last = start;
  for (let i = 0; i < opts.iterations; i++) {
    const r = fn();
    if (isThenable(r)) await r;
    const now = process.hrtime.bigint();
    latencies[i] = Number(now - last) / 1000;
    last = now;
  }
  const totalMs = Number(last - start) / 1e6;
  latencies.sort();
  return {
    iterations: opts.iterations,
    totalMs,
    opsPerSec: totalMs > 0 ? opts.iterations / (totalMs / 1000) : Number.POSITIVE_INFINITY,
    p50Us: percentile(latencies, 50),
    p99Us: percentile(latencies, 99),
  };
}

/** Nearest-rank percentile of ascending-sorted samples: the smallest value with p% of samples at or below it. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of no samples');
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[rank - 1] as number;
}

const GOAL = /^\s*(<=|>=|<|>)\s*(-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*$/i;

/** Whether value meets a goal like ">=50000" or "<=250". A malformed goal is a bug in the benchmark, so it throws. */
export function checkGoal(value: number, goal: string): boolean {
  const m = GOAL.exec(goal);
  if (m === null) throw new Error(`bad goal "${goal}": expected <=, >=, < or > followed by a number`);
  const bound = Number(m[2]);
  if (Number.isNaN(value)) return false;
  switch (m[1]) {
    case '<=':
      return value <= bound;
    case '>=':
      return value >= bound;
    case '<':
      return value < bound;
    default:
      return value > bound;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * The recorded market data (../shared/data, or DESKBOT_MARKET_DIR) with `needs` in it (a file
 * inside it, SOURCES.md by default), or a clear error naming the benchmark: never invented data.
 */
export function recordedDataDir(benchmark: string, needs = 'SOURCES.md'): string {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const env = process.env.DESKBOT_MARKET_DIR;
  const dir = env ? path.resolve(root, env) : path.resolve(root, '../shared/data');
  if (!existsSync(path.join(dir, needs))) {
    throw new Error(`recorded market data not found at ${dir} (${needs} missing): the ${benchmark} benchmark needs ../shared/data or DESKBOT_MARKET_DIR`);
  }
  return dir;
}
