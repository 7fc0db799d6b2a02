/**
 * `npm run bench [-- name...]`: run the benchmarks one after another, print a table and write
 * bench/results/<time>.json. A missed goal is reported as FAIL but does not fail the exit code:
 * this is a report. A benchmark that throws does (exit 1), after the others have run.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { benchmarks } from './benchmarks/index.js';
import { checkGoal } from './lib.js';
import type { Benchmark, Metric } from './lib.js';

const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));

function select(names: string[]): Benchmark[] | null {
  if (names.length === 0) return benchmarks;
  const known = new Map(benchmarks.map((b) => [b.name, b]));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    console.error(`unknown benchmark${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
    console.error(`known: ${[...known.keys()].join(', ')}`);
    return null;
  }
  return names.map((n) => known.get(n) as Benchmark);
}

function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  // Big figures read best as whole numbers with separators; small ones need decimals.
  return Math.abs(value) >= 1000 ? Math.round(value).toLocaleString('en-US') : value.toPrecision(4);
}

function verdict(m: Metric): string {
  if (m.goal === undefined) return '';
  return checkGoal(m.value, m.goal) ? 'pass' : 'FAIL';
}

function table(metrics: Metric[]): string {
  const rows = [
    ['name', 'value', 'unit', 'goal', 'result'],
    ...metrics.map((m) => [m.name, formatValue(m.value), m.unit, m.goal ?? '', verdict(m)]),
  ];
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length))) ?? [];
  const align = (r: string[]) =>
    r.map((cell, col) => (col === 1 ? cell.padStart(widths[col] ?? 0) : cell.padEnd(widths[col] ?? 0))).join('  ').trimEnd();
  return [align(rows[0] ?? []), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(align)].join('\n');
}

async function main(): Promise<number> {
  const chosen = select(process.argv.slice(2));
  if (chosen === null) return 2;
  const at = new Date().toISOString();
  const metrics: Metric[] = [];
  let crashed = false;
  for (const bench of chosen) {
    console.error(`running ${bench.name}: ${bench.description}`);
    try {
      metrics.push(...(await bench.run()));
    } catch (err) {
      crashed = true;
      console.error(`benchmark ${bench.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }
  console.log(table(metrics));
  await mkdir(resultsDir, { recursive: true });
  const out = `${resultsDir}${at.replaceAll(':', '-')}.json`;
  await writeFile(out, `${JSON.stringify({ at, node: process.version, metrics }, null, 2)}\n`);
  console.error(`results: ${out}`);
  return crashed ? 1 : 0;
}

process.exitCode = await main();
