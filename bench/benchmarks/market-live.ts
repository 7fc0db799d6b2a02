import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { marketConfigSchema } from '../../src/kernel/config/schema.js';
import { loadExchangeClass } from '../../src/market/live/ccxt-loader.js';
import { createLiveSource } from '../../src/market/live/live-source.js';
import { startFakeExchange } from '../../tests/fakes/exchange/index.js';
import { measureThroughput } from '../lib.js';
import type { Benchmark, Metric } from '../lib.js';

/**
 * The live market source over the real ccxt binance client against the fake Binance server
 * (tests/fakes/exchange, serving the recorded data on 127.0.0.1):
 *  - cold start: import the exchange class + construct + loadMarkets, in a fresh child process
 *    each time (the module cache would make a second start in-process free), median of 3;
 *  - RSS after loading the configured exchanges (market config defaults: binance, kraken), in a
 *    fresh child, next to the same child doing `import('ccxt')` (everything) for comparison;
 *  - warm latency of fetchCandles (500 × 1h) and fetchTicker through the live source, calls back
 *    to back with ccxt's rate limiter on as in production. ccxt 4.5's leaky bucket does not
 *    credit idle time: each call waits the previous call's cost × rateLimit (binance: 0.4 × 50 ms
 *    ≈ 20 ms) even after a pause, so that wait is part of what a trader sees. The same fetch on
 *    a bare ccxt client with the limiter off is reported alongside, to show the split.
 */

const SELF = fileURLToPath(import.meta.url);
const MiB = 2 ** 20;
const CHILD_FLAG = '--market-live-child';

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

const rss = (): number => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss / MiB;
};

/** runs in the child: one cold start against the fake at `url` */
async function childCold(url: string): Promise<ColdResult> {
  const exchanges = marketConfigSchema.parse({}).exchanges;
  const rssBaseMiB = rss();
  const source = createLiveSource({
    exchanges,
    // every configured exchange points at the fake, so nothing leaves the machine; only binance
    // answers there — the others are loaded and constructed, and their market load fails fast
    urls: Object.fromEntries(exchanges.map((e) => [e, url])),
    timeoutMs: 5_000,
    retries: 0,
    breaker: { failures: 5, cooldownMs: 30_000 },
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
  return { how, coldMs, rssBaseMiB, rssAfterMiB, exchanges: [...exchanges] };
}

/** runs in the child: the whole ccxt package, for comparison */
async function childFullImport(): Promise<FullImportResult> {
  const rssBaseMiB = rss();
  const t0 = performance.now();
  await import('ccxt');
  const importMs = performance.now() - t0;
  return { importMs, rssBaseMiB, rssAfterMiB: rss() };
}

function runChild<T>(args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', SELF, CHILD_FLAG, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || line === '') return reject(new Error(`market-live child ${args.join(' ')} exited ${code}: ${err.slice(-800)}`));
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
      const colds: ColdResult[] = [];
      for (let i = 0; i < 3; i++) colds.push(await runChild<ColdResult>(['cold', fake.url]));
      const full = await runChild<FullImportResult>(['full']);
      const cold = colds[colds.length - 1] as ColdResult;

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

      return [
        { name: 'market-live.cold_start', value: median(colds.map((c) => c.coldMs)), unit: 'ms', goal: '<=1500', peer: `import('ccxt') alone`, peer_value: full.importMs },
        { name: 'market-live.cold_start_max', value: Math.max(...colds.map((c) => c.coldMs)), unit: 'ms' },
        { name: `market-live.rss_after_${cold.exchanges.join('_')}`, value: cold.rssAfterMiB, unit: 'MiB', goal: '<=200', peer: `import('ccxt') child`, peer_value: full.rssAfterMiB },
        { name: 'market-live.rss_delta_exchanges', value: cold.rssAfterMiB - cold.rssBaseMiB, unit: 'MiB', goal: '<=70', peer: `import('ccxt') delta`, peer_value: full.rssAfterMiB - full.rssBaseMiB },
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

// child mode: `node --import tsx bench/benchmarks/market-live.ts --market-live-child cold <url>`
if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url && process.argv[2] === CHILD_FLAG) {
  const mode = process.argv[3];
  const result = mode === 'cold' ? await childCold(process.argv[4] ?? '') : await childFullImport();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
