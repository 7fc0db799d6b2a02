import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import ts from 'typescript';
import { marketConfigSchema } from '../../src/kernel/config/schema.js';
import { loadExchangeClass } from '../../src/market/live/ccxt-loader.js';
import { createLiveSource } from '../../src/market/live/live-source.js';
import { startFakeExchange } from '../../tests/fakes/exchange/index.js';
import { measureThroughput } from '../lib.js';
import type { Benchmark, Metric } from '../lib.js';

/**
 * The live market source over the real ccxt binance client against the fake Binance server
 * (tests/fakes/exchange, serving the recorded data on 127.0.0.1):
 *
 *  - cold start = import the exchange class + construct + loadMarkets, each in a fresh child
 *    process (in-process, the module cache would make a second start free), median of 3;
 *  - RSS after loading the configured exchanges (the market config defaults: binance, kraken) in
 *    the same fresh child, next to a child doing `import('ccxt')` (everything) for comparison.
 *
 *  Both run the live source as plain JavaScript under plain node, as the Docker image runs the
 *  compiled build: the bench transpiles src/market/live/* and what it imports (TypeScript's
 *  transpileModule, into node_modules/.cache/deskbot-bench/) — under tsx every imported file,
 *  ccxt's included, goes through tsx's loader, which costs far more memory than ccxt itself
 *  (binance.js: +88 MiB under tsx vs +29 MiB under node). The tsx figure (`npm start` from a
 *  checkout) is reported too.
 *
 *  - warm latency of fetchCandles (500 × 1h) and fetchTicker through the live source, back to
 *    back, with ccxt's rate limiter on as in production. ccxt 4.5's leaky bucket does not credit
 *    idle time: every call waits the previous call's cost × rateLimit (binance: 0.4 × 50 ms ≈
 *    20 ms) even after a pause, so that wait is part of what a trader sees. The same fetch on a
 *    bare ccxt client with the limiter off is reported alongside, to show the split.
 */

const SELF = fileURLToPath(import.meta.url);
const REPO = path.resolve(path.dirname(SELF), '../..');
const CACHE = path.join(REPO, 'node_modules', '.cache', 'deskbot-bench', 'market-live');
const MiB = 2 ** 20;
const TSX_CHILD_FLAG = '--market-live-child';

interface ColdResult {
  how: string;
  coldMs: number;
  rssBaseMiB: number;
  rssAfterMiB: number;
  exchanges: string[];
}

interface FullImportResult {
  importMs: number;
  rssBaseMiB: number;
  rssAfterMiB: number;
}

/**
 * The child, as plain ESM. `cold <url> <ids>`: the live source's cold start against the fake,
 * then every configured exchange loaded (all pointed at the fake; only binance answers there, the
 * others are imported and constructed and their market load fails fast). `full`: import('ccxt').
 */
const CHILD_SOURCE = `
const MiB = ${MiB};
const rss = () => { globalThis.gc?.(); return process.memoryUsage().rss / MiB; };
const [mode, url, ids] = process.argv.slice(2);
let result;
if (mode === 'full') {
  const rssBaseMiB = rss();
  const t0 = performance.now();
  await import('ccxt');
  result = { importMs: performance.now() - t0, rssBaseMiB, rssAfterMiB: rss() };
} else {
  const { createLiveSource } = await import('./src/market/live/live-source.js');
  const { loadExchangeClass } = await import('./src/market/live/ccxt-loader.js');
  const { pino } = await import('pino');
  const exchanges = ids.split(',');
  const rssBaseMiB = rss();
  const source = createLiveSource({
    exchanges,
    urls: Object.fromEntries(exchanges.map((e) => [e, url])),
    timeoutMs: 5000,
    retries: 0,
    breaker: { failures: 5, cooldownMs: 30000 },
    clock: { now: () => Date.now() },
    logger: pino({ level: 'silent' }),
  });
  const t0 = performance.now();
  await source.loadMarkets('binance');
  const coldMs = performance.now() - t0;
  for (const e of exchanges) if (e !== 'binance') await source.loadMarkets(e).catch(() => undefined);
  const rssAfterMiB = rss();
  const how = (await loadExchangeClass('binance')).how;
  await source.close();
  result = { how, coldMs, rssBaseMiB, rssAfterMiB, exchanges };
}
process.stdout.write(JSON.stringify(result) + '\\n');
process.exit(0);
`;

/** transpile live-source.ts and its relative imports (recursively) into CACHE; returns the child script */
async function prepareCompiled(): Promise<string> {
  await rm(CACHE, { recursive: true, force: true });
  const seen = new Set<string>();
  const queue = [path.join(REPO, 'src/market/live/live-source.ts'), path.join(REPO, 'src/market/live/ccxt-loader.ts')];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
      queue.push(path.resolve(path.dirname(file), (m[1] as string).replace(/\.js$/, '.ts')));
    }
    const out = ts.transpileModule(text, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true, esModuleInterop: true },
    });
    const dest = path.join(CACHE, path.relative(REPO, file).replace(/\.ts$/, '.js'));
    await mkdir(path.dirname(dest), { recursive: true });
    await writeFile(dest, out.outputText);
  }
  const child = path.join(CACHE, 'child.mjs');
  await writeFile(child, CHILD_SOURCE);
  return child;
}

function runChild<T>(nodeArgs: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', ...nodeArgs], { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || line === '') return reject(new Error(`market-live child ${nodeArgs.join(' ')} exited ${code}: ${err.slice(-800)}`));
      try {
        resolve(JSON.parse(line) as T);
      } catch (e) {
        reject(new Error(`market-live child printed no JSON (${String(e)}): ${out.slice(-400)}`));
      }
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

export const marketLive: Benchmark = {
  name: 'market-live',
  description: 'live source over real ccxt vs the fake Binance: cold client start, warm fetchOHLCV/fetchTicker latency, RSS with the configured exchanges',
  async run(): Promise<Metric[]> {
    const fake = await startFakeExchange();
    try {
      const ids = marketConfigSchema.parse({}).exchanges;
      const child = await prepareCompiled();
      const colds: ColdResult[] = [];
      for (let i = 0; i < 3; i++) colds.push(await runChild<ColdResult>([child, 'cold', fake.url, ids.join(',')]));
      const full = await runChild<FullImportResult>([child, 'full']);
      const tsxCold = await runChild<ColdResult>(['--import', 'tsx', SELF, TSX_CHILD_FLAG, fake.url, ids.join(',')]);
      const cold = colds[colds.length - 1] as ColdResult;
      if (cold.how !== 'single-file') throw new Error(`expected the single-file ccxt import, got ${cold.how}`);

      // warm, in this process: the clock sits 30 min into the last recorded BTC/USDT 1h candle
      const btc = fake.data.candles('BTCUSDT', '1h');
      if (btc === undefined) throw new Error('no recorded BTC/USDT 1h candles');
      const now = (btc.time[btc.length - 1] as number) + 30 * 60_000;
      const source = createLiveSource({
        exchanges: ['binance'],
        urls: { binance: fake.url },
        timeoutMs: 5_000,
        retries: 3,
        breaker: { failures: 5, cooldownMs: 30_000 },
        clock: { now: () => now },
        logger: pino({ level: 'silent' }),
      });
      await source.loadMarkets('binance');
      const req = { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', limit: 500 };
      const first = await source.fetchCandles(req);
      if (first.length !== 500) throw new Error(`expected 500 candles, got ${first.length}`);
      const ohlcv = await measureThroughput(() => source.fetchCandles(req), { warmup: 5, iterations: 100 });
      const ticker = await measureThroughput(() => source.fetchTicker('binance', 'BTC/USDT'), { warmup: 5, iterations: 150 });
      await source.close();

      // the same fetch on a bare ccxt client with the rate limiter off: the client's own cost
      const { ctor } = await loadExchangeClass('binance');
      const bare = new ctor({ enableRateLimit: false, options: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false } });
      const api = bare.urls['api'] as Record<string, unknown>;
      for (const [k, v] of Object.entries(api)) if (typeof v === 'string') api[k] = v.replace(/^https?:\/\/[^/]+/, fake.url);
      await bare.loadMarkets();
      const since = now - 499 * 3_600_000 - 30 * 60_000;
      const bareOhlcv = await measureThroughput(() => bare.fetchOHLCV('BTC/USDT', '1h', since, 500), { warmup: 20, iterations: 300 });
      await bare.fetchDispatcher?.destroy?.();

      const tag = ids.join('_');
      return [
        { name: 'market-live.cold_start', value: median(colds.map((c) => c.coldMs)), unit: 'ms', goal: '<=1500', peer: "import('ccxt') alone", peer_value: full.importMs },
        { name: 'market-live.cold_start_tsx', value: tsxCold.coldMs, unit: 'ms' },
        { name: `market-live.rss_${tag}`, value: cold.rssAfterMiB, unit: 'MiB', goal: '<=160', peer: "import('ccxt')", peer_value: full.rssAfterMiB },
        { name: `market-live.rss_delta_${tag}`, value: cold.rssAfterMiB - cold.rssBaseMiB, unit: 'MiB', goal: '<=80', peer: "import('ccxt')", peer_value: full.rssAfterMiB - full.rssBaseMiB },
        { name: `market-live.rss_tsx_${tag}`, value: tsxCold.rssAfterMiB, unit: 'MiB' },
        { name: 'market-live.ohlcv500_p50', value: ohlcv.p50Us, unit: 'us', goal: '<=50000' },
        { name: 'market-live.ohlcv500_p99', value: ohlcv.p99Us, unit: 'us', goal: '<=100000' },
        { name: 'market-live.ticker_p50', value: ticker.p50Us, unit: 'us', goal: '<=40000' },
        { name: 'market-live.ticker_p99', value: ticker.p99Us, unit: 'us', goal: '<=80000' },
        { name: 'market-live.bare_ccxt_ohlcv500_nolimiter_p50', value: bareOhlcv.p50Us, unit: 'us' },
        { name: 'market-live.bare_ccxt_ohlcv500_nolimiter_p99', value: bareOhlcv.p99Us, unit: 'us' },
      ];
    } finally {
      await fake.close();
    }
  },
};

/** the tsx child: `node --import tsx bench/benchmarks/market-live.ts --market-live-child <url> <ids>` */
async function tsxChildCold(url: string, ids: string[]): Promise<ColdResult> {
  const rss = (): number => {
    (globalThis as { gc?: () => void }).gc?.();
    return process.memoryUsage().rss / MiB;
  };
  const rssBaseMiB = rss();
  const source = createLiveSource({
    exchanges: ids,
    urls: Object.fromEntries(ids.map((e) => [e, url])),
    timeoutMs: 5_000,
    retries: 0,
    breaker: { failures: 5, cooldownMs: 30_000 },
    clock: { now: () => Date.now() },
    logger: pino({ level: 'silent' }),
  });
  const t0 = performance.now();
  await source.loadMarkets('binance');
  const coldMs = performance.now() - t0;
  for (const e of ids) if (e !== 'binance') await source.loadMarkets(e).catch(() => undefined);
  const rssAfterMiB = rss();
  const how = (await loadExchangeClass('binance')).how;
  await source.close();
  return { how, coldMs, rssBaseMiB, rssAfterMiB, exchanges: ids };
}

if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url && process.argv[2] === TSX_CHILD_FLAG) {
  const result = await tsxChildCold(process.argv[3] ?? '', (process.argv[4] ?? 'binance').split(','));
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
