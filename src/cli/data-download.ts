import type { WritableLike } from './io.js';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { z } from 'zod';
import { systemClock, type Clock } from '../kernel/clock.js';
import { loadConfig } from '../kernel/config/load.js';
import type { DeskbotConfig } from '../kernel/config/schema.js';
import { isUserError } from '../kernel/errors.js';
import { createLogger } from '../kernel/logger.js';
import { downloadCandles, type DownloadResult } from '../market/download.js';
import { describeGap } from '../market/integrity.js';
import { timeframeMs } from '../market/timeframes.js';
import type { MarketSource } from '../market/types.js';
import { utcAt } from '../kernel/utc.js';

/**
 * `deskbot data download --exchange binance --symbols BTC/USDT,ETH/USDT --timeframe 1h
 *  --since 2024-01-01 [--until 2024-06-01] [--dir path]`
 *
 * Candles from the exchange (ccxt, public endpoints) into CSV files in the market dir, resumable,
 * every page through the integrity gate (see ../market/download.ts). Real exchange gaps are
 * listed, not filled. Exit codes: 0 done, 1 failed (config, exchange, bad existing file), 2 usage.
 */

export const DATA_DOWNLOAD_USAGE = `usage: deskbot data download --symbols BTC/USDT[,ETH/USDT...] --since <date> [options]

  --exchange <id>     ccxt exchange id (default: market.defaultExchange)
  --symbols <list>    comma-separated unified symbols, e.g. BTC/USDT,ETH/USDT
  --timeframe <tf>    candle timeframe, e.g. 5m, 1h, 1d (default: 1h)
  --since <date>      first candle, UTC: 2024-01-01 or 2024-01-01T12:00:00Z
  --until <date>      stop before this time (exclusive; default: now)
  --dir <path>        where the CSV files go (default: market.dir, else <dataDir>/market)

An existing file is checked and extended from its last candle; rows are only ever appended.`;


export interface SourceFactoryArgs {
  exchange: string;
  config: DeskbotConfig;
  clock: Clock;
  logger: Logger;
}

export interface DataDownloadDeps {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: WritableLike;
  stderr: WritableLike;
  /** the source to download from; default: the live ccxt source for the one exchange asked for */
  sourceFactory?: (a: SourceFactoryArgs) => MarketSource | Promise<MarketSource>;
  clock?: Clock;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** "2024-01-01" (UTC midnight) or an ISO date-time with an offset → ms */
const time = (flag: string) =>
  z
    .string({ error: `--${flag} is required (a date like 2024-01-01 or an ISO time like 2024-01-01T12:00:00Z)` })
    .transform((s, ctx) => {
      const ok = DATE.test(s) || z.iso.datetime({ offset: true }).safeParse(s).success;
      const ms = ok ? Date.parse(DATE.test(s) ? `${s}T00:00:00Z` : s) : Number.NaN;
      if (!Number.isFinite(ms)) {
        ctx.addIssue({ code: 'custom', message: `--${flag}: expected a date like 2024-01-01 or an ISO time like 2024-01-01T12:00:00Z, got "${s}"` });
        return z.NEVER;
      }
      return ms;
    });

const argsSchema = z
  .object({
    exchange: z
      .string()
      .regex(/^[a-z][a-z0-9]*$/, '--exchange: expected a ccxt exchange id like "binance"')
      .optional(),
    symbols: z
      .string({ error: '--symbols is required (e.g. --symbols BTC/USDT,ETH/USDT)' })
      .transform((s) => s.split(',').map((x) => x.trim().toUpperCase()).filter((x) => x !== ''))
      .pipe(
        z
          .array(z.string().regex(/^[A-Z0-9]+\/[A-Z0-9]+$/, '--symbols: each symbol must look like BTC/USDT'))
          .min(1, '--symbols: give at least one symbol, e.g. BTC/USDT'),
      ),
    timeframe: z
      .string()
      .default('1h')
      .refine((tf) => timeframeMs(tf) !== undefined, { message: '--timeframe: expected a timeframe like 5m, 1h or 1d' }),
    since: time('since'),
    until: time('until').optional(),
    dir: z.string().min(1, '--dir: expected a path').optional(),
  })
  .refine((a) => a.until === undefined || a.until > a.since, { message: '--until must be after --since' });

export async function runDataDownload(argv: string[], deps: DataDownloadDeps): Promise<number> {
  const usage = (msg: string): number => {
    deps.stderr.write(`deskbot data download: ${msg}\n${DATA_DOWNLOAD_USAGE}\n`);
    return 2;
  };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        exchange: { type: 'string' },
        symbols: { type: 'string' },
        symbol: { type: 'string' },
        timeframe: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        dir: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    return usage(e instanceof Error ? e.message : String(e));
  }
  if (values.help === true) {
    deps.stdout.write(`${DATA_DOWNLOAD_USAGE}\n`);
    return 0;
  }
  const parsed = argsSchema.safeParse({ ...values, symbols: values.symbols ?? values.symbol, symbol: undefined, help: undefined });
  if (!parsed.success) return usage(parsed.error.issues[0]?.message ?? 'invalid arguments');
  const args = parsed.data;

  const loaded = loadConfig({ env: deps.env, cwd: deps.cwd });
  if (!loaded.ok) {
    deps.stderr.write(`deskbot: config error\n${loaded.error}\n`);
    return 1;
  }
  const cfg = loaded.config;
  const exchange = args.exchange ?? cfg.market.defaultExchange;
  const dir = path.resolve(deps.cwd, args.dir ?? cfg.market.dir ?? path.join(cfg.dataDir, 'market'));
  const clock = deps.clock ?? systemClock;
  const logger = createLogger({
    level: cfg.log.level,
    destination: cfg.log.destination === 'stderr' ? 'stderr' : path.resolve(deps.cwd, cfg.dataDir, cfg.log.destination),
    pretty: cfg.log.pretty,
    secrets: loaded.secrets.values(),
    ...(cfg.log.destination === 'stderr' ? { stream: deps.stderr as NodeJS.WritableStream } : {}),
  });

  const bar = progressPrinter(deps.stderr);
  let source: MarketSource | undefined;
  try {
    source = await (deps.sourceFactory ?? liveSource)({ exchange, config: cfg, clock, logger });
    deps.stderr.write(`downloading ${exchange} ${args.symbols.join(', ')} ${args.timeframe} into ${dir}\n`);
    // one symbol at a time, so each finished file is reported even if a later one fails
    for (const symbol of args.symbols) {
      const [r] = await downloadCandles({
        source,
        dir,
        exchange,
        symbols: [symbol],
        timeframe: args.timeframe,
        since: args.since,
        ...(args.until !== undefined ? { until: args.until } : {}),
        onProgress: bar.update,
      });
      bar.end();
      if (r) deps.stdout.write(summary(r));
    }
    return 0;
  } catch (e) {
    bar.end();
    const msg = isUserError(e) ? e.message : e instanceof Error ? e.message : String(e);
    deps.stderr.write(`deskbot data download: ${msg.replace(/\s*\n\s*/g, ' ')}\n`);
    if (!isUserError(e)) logger.debug({ err: e }, 'data download failed');
    return 1;
  } finally {
    await source?.close().catch(() => undefined);
  }
}

async function liveSource(a: SourceFactoryArgs): Promise<MarketSource> {
  // imported here so ccxt is loaded only when a live download really runs
  const { createLiveSource } = await import('../market/live/live-source.js');
  const m = a.config.market;
  return createLiveSource({
    exchanges: [a.exchange],
    urls: m.urls,
    timeoutMs: m.timeoutMs,
    retries: m.retries,
    breaker: m.breaker,
    clock: a.clock,
    logger: a.logger,
  });
}


function summary(r: DownloadResult): string {
  const missing = r.gaps.reduce((s, g) => s + g.missing, 0);
  const resumed = r.resumedAfter !== null ? `, resumed after ${utcAt(r.resumedAfter)}` : '';
  const lines = [
    `${r.symbol}: ${r.candles} candles in ${r.file} (+${r.appended} new${resumed}); ${r.gaps.length === 0 ? 'no gaps' : `${r.gaps.length} gap${r.gaps.length === 1 ? '' : 's'} (${missing} candle${missing === 1 ? '' : 's'} missing at the exchange, left as they are)`}`,
    ...r.gaps.map((g) => `  gap: ${describeGap(g)}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** `BTC/USDT [#####-----] 52% 2600/5000` redrawn in place on a TTY; a plain line per 10 % otherwise. */
export function progressBar(symbol: string, done: number, total: number, width = 20): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(frac * width);
  return `${symbol} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.floor(frac * 100)}% ${done}/${total}`;
}

function progressPrinter(out: WritableLike): { update: (p: { symbol: string; done: number; total: number }) => void; end: () => void } {
  const tty = out.isTTY === true;
  let drawn = false;
  let lastSymbol = '';
  let lastStep = -1;
  return {
    update(p) {
      const line = progressBar(p.symbol, p.done, p.total);
      if (tty) {
        if (drawn && p.symbol !== lastSymbol) out.write('\n');
        out.write(`\r${line}\x1b[K`);
        drawn = true;
      } else {
        const step = p.total > 0 ? Math.floor((10 * p.done) / p.total) : 10;
        if (p.symbol !== lastSymbol || step !== lastStep) out.write(`${line}\n`);
        lastStep = step;
      }
      lastSymbol = p.symbol;
    },
    end() {
      if (tty && drawn) out.write('\n');
      drawn = false;
    },
  };
}
