import type { WritableLike } from './io.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Keyv from 'keyv';
import { strategiesFromSettings } from '../../plugins/signals/index.js';
import {
  backtestConfigSchema,
  BacktestCancelledError,
  OBJECTIVES,
  parseUtcDate,
  renderEquityChart,
  reportText,
  runBacktest,
  toReport,
  type BacktestRequest,
  type Objective,
  type Progress,
  type SignalCatalogLike,
} from '../backtest/index.js';
import { systemClock, type Clock } from '../kernel/clock.js';
import { loadConfig } from '../kernel/config/load.js';
import { isUserError } from '../kernel/errors.js';
import { createLogger } from '../kernel/logger.js';
import { openMarket } from '../market/open.js';
import { TIMEFRAMES } from '../market/timeframes.js';
import type { MarketData } from '../market/service.js';

/**
 * `deskbot backtest <strategy> <symbol> [--timeframe 1h] [--from ISO] [--to ISO] [--json] ...`
 *
 * The same run as `/backtest` in chat: the same request runner (src/backtest), the desk's
 * market config (recorded data with DESKBOT_MARKET_DIR / market.dir, else the exchange), the
 * backtest settings of plugins.settings.backtest and the signals plugin's strategies as
 * plugins.settings.signals configures them — so the numbers are the chat's numbers.
 * Exit codes: 0 done, 1 failed (config, data, strategy), 2 usage, 130 interrupted.
 */

export const BACKTEST_USAGE = `usage: deskbot backtest <strategy> <symbol> [options]

  <strategy>              sma-cross, or a signals strategy (trend, momentum, meanrev, breakout, balanced, configured ones)
  <symbol>                e.g. BTC/USDT
  --timeframe <tf>        candle timeframe (default: 1h)
  --from <date>           first candle, UTC: 2021-01-01 or 2021-01-01T12:00:00Z (default: the last defaultCandles)
  --to <date>             candles opening before this time (exclusive; default: now)
  --exchange <id>         default: market.defaultExchange
  --fast <n> --slow <n>   sma-cross periods (default 20 / 50)
  --stop-loss <pct>       e.g. 5 for 5 % below entry
  --take-profit <pct>     e.g. 10 for 10 % above entry
  --trailing-stop <pct>   e.g. 3 for 3 % below the highest price since entry
  --size <50%|amount>     share of equity or a quote amount per entry (default: plugins.settings.backtest)
  --cash <amount>         starting quote (default: plugins.settings.backtest.initialCash)
  --walk-forward          fit parameters on rolling train windows, score test windows only
  --train <n> --test <n>  walk-forward window sizes in candles
  --objective <name>      walk-forward ranking: ${OBJECTIVES.join(', ')}
  --json                  the report as JSON (the same numbers as /backtest in chat)
  --chart <file.png>      also write the equity + drawdown chart

Decisions are made on each candle's close and fill at the next candle's open, net of the paper
broker's fees and slippage, next to buy-and-hold on the same candles.`;


export interface BacktestCliDeps {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: WritableLike;
  stderr: WritableLike;
  clock?: Clock;
  /** aborts the run (SIGINT) */
  signal?: AbortSignal;
}

function num(flag: string, s: string | undefined, opts: { int?: boolean; min?: number } = {}): number | undefined {
  if (s === undefined) return undefined;
  const v = Number(s.replace(/[_,]/g, ''));
  if (!Number.isFinite(v) || (opts.int === true && !Number.isInteger(v)) || (opts.min !== undefined && v < opts.min)) {
    throw new UsageError(`--${flag}: expected ${opts.int === true ? 'a whole number' : 'a number'}${opts.min !== undefined ? ` of at least ${opts.min}` : ''}, got "${s}"`);
  }
  return v;
}

class UsageError extends Error {}

function date(flag: string, s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const ms = parseUtcDate(s);
  if (ms === undefined) throw new UsageError(`--${flag}: expected a UTC date like 2021-01-01 or an ISO time like 2021-01-01T12:00:00Z, got "${s}"`);
  return ms;
}

function pct(flag: string, s: string | undefined, max: number): number | undefined {
  if (s === undefined) return undefined;
  const v = num(flag, s.endsWith('%') ? s.slice(0, -1) : s);
  if (v === undefined || !(v > 0 && v < max)) throw new UsageError(`--${flag}: expected a percentage above 0 and below ${max}, got "${s}"`);
  return v / 100;
}

/** argv after "backtest" → a request, or a UsageError */
export function parseBacktestArgs(argv: string[]): { request: BacktestRequest; json: boolean; chart: string | undefined; help: boolean } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        timeframe: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        exchange: { type: 'string' },
        fast: { type: 'string' },
        slow: { type: 'string' },
        'stop-loss': { type: 'string' },
        'take-profit': { type: 'string' },
        'trailing-stop': { type: 'string' },
        size: { type: 'string' },
        cash: { type: 'string' },
        'walk-forward': { type: 'boolean' },
        train: { type: 'string' },
        test: { type: 'string' },
        objective: { type: 'string' },
        json: { type: 'boolean' },
        chart: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  if (v.help === true) return { request: { strategy: '', symbol: '', timeframe: '1h' }, json: false, chart: undefined, help: true };
  const [strategy, symbol, ...extra] = parsed.positionals;
  if (strategy === undefined || symbol === undefined) throw new UsageError('give a strategy and a symbol, e.g. deskbot backtest sma-cross BTC/USDT');
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  const timeframe = str('timeframe') ?? '1h';
  if (!(TIMEFRAMES as readonly string[]).includes(timeframe)) throw new UsageError(`--timeframe: expected one of ${TIMEFRAMES.join(', ')}, got "${timeframe}"`);
  const objective = str('objective');
  if (objective !== undefined && !(OBJECTIVES as readonly string[]).includes(objective)) throw new UsageError(`--objective: expected one of ${OBJECTIVES.join(', ')}, got "${objective}"`);
  const params: Record<string, number> = {};
  const fast = num('fast', str('fast'), { int: true, min: 1 });
  const slow = num('slow', str('slow'), { int: true, min: 2 });
  if (fast !== undefined) params.fast = fast;
  if (slow !== undefined) params.slow = slow;
  const size = str('size');
  let sizing: BacktestRequest['sizing'];
  if (size !== undefined) {
    if (size.endsWith('%')) {
      const f = num('size', size.slice(0, -1));
      if (f === undefined || !(f > 0 && f <= 100)) throw new UsageError(`--size: a share of equity must be above 0% and at most 100%, got "${size}"`);
      sizing = { kind: 'fraction', fraction: f / 100 };
    } else {
      const a = num('size', size);
      if (a === undefined || !(a > 0)) throw new UsageError(`--size: expected a share like 50% or a quote amount above 0, got "${size}"`);
      sizing = { kind: 'fixed', amount: a };
    }
  }
  const stopLoss = pct('stop-loss', str('stop-loss'), 100);
  const takeProfit = pct('take-profit', str('take-profit'), 10_000);
  const trailingStop = pct('trailing-stop', str('trailing-stop'), 100);
  const train = num('train', str('train'), { int: true, min: 10 });
  const test = num('test', str('test'), { int: true, min: 10 });
  const wf = v['walk-forward'] === true || train !== undefined || test !== undefined || objective !== undefined;
  const from = date('from', str('from'));
  const to = date('to', str('to'));
  const exchange = str('exchange');
  const cash = num('cash', str('cash'), { min: 1 });
  const request: BacktestRequest = {
    strategy,
    symbol: symbol.toUpperCase().replace('-', '/'),
    timeframe,
    ...(exchange !== undefined ? { exchange } : {}),
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
    ...(Object.keys(params).length > 0 ? { params } : {}),
    ...(cash !== undefined ? { initialCash: cash } : {}),
    ...(sizing !== undefined ? { sizing } : {}),
    exits: {
      ...(stopLoss !== undefined ? { stopLoss } : {}),
      ...(takeProfit !== undefined ? { takeProfit } : {}),
      ...(trailingStop !== undefined ? { trailingStop } : {}),
    },
    ...(wf
      ? {
          walkForward: {
            ...(train !== undefined ? { train } : {}),
            ...(test !== undefined ? { test } : {}),
            ...(objective !== undefined ? { objective: objective as Objective } : {}),
          },
        }
      : {}),
  };
  return { request, json: v.json === true, chart: str('chart'), help: false };
}

function progressLine(p: Progress): string {
  const pctDone = p.total > 0 ? Math.min(99, Math.floor((100 * p.done) / p.total)) : 0;
  return `backtest: ${pctDone}% (${p.stage}, ${p.done}/${p.total} candle decisions)`;
}

export async function runBacktestCli(argv: string[], deps: BacktestCliDeps): Promise<number> {
  let args: ReturnType<typeof parseBacktestArgs>;
  try {
    args = parseBacktestArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    deps.stderr.write(`deskbot backtest: ${e.message}\n${BACKTEST_USAGE}\n`);
    return 2;
  }
  if (args.help) {
    deps.stdout.write(`${BACKTEST_USAGE}\n`);
    return 0;
  }
  const loaded = loadConfig({ env: deps.env, cwd: deps.cwd });
  if (!loaded.ok) {
    deps.stderr.write(`deskbot: config error\n${loaded.error}\n`);
    return 1;
  }
  const cfg = loaded.config;
  const settings = cfg.plugins.settings as Record<string, unknown>;
  const btConfig = backtestConfigSchema.safeParse(settings.backtest ?? {});
  if (!btConfig.success) {
    deps.stderr.write(`deskbot: config error\nplugins.settings.backtest: ${btConfig.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\n`);
    return 1;
  }
  let signals: SignalCatalogLike | undefined;
  if (!cfg.plugins.disable.includes('signals')) {
    try {
      signals = strategiesFromSettings(settings.signals);
    } catch (e) {
      deps.stderr.write(`deskbot: config error\nplugins.settings.signals: ${e instanceof Error ? e.message : String(e)}\n`);
      return 1;
    }
  }
  const clock = deps.clock ?? systemClock;
  const logger = createLogger({
    level: cfg.log.level,
    destination: cfg.log.destination === 'stderr' ? 'stderr' : path.resolve(deps.cwd, cfg.dataDir, cfg.log.destination),
    pretty: cfg.log.pretty,
    secrets: loaded.secrets.values(),
    ...(cfg.log.destination === 'stderr' ? { stream: deps.stderr as NodeJS.WritableStream } : {}),
  });

  let market: MarketData | undefined;
  let lastStep = -1;
  try {
    market = await openMarket(cfg.market, { clock, logger, cache: new Keyv(), cwd: deps.cwd });
    const result = await runBacktest(args.request, { market, config: btConfig.data, ...(signals !== undefined ? { signals } : {}) }, {
      ...(deps.signal !== undefined ? { signal: deps.signal } : {}),
      onProgress: (p) => {
        const step = p.total > 0 ? Math.floor((10 * p.done) / p.total) : 0;
        if (deps.stderr.isTTY === true && step !== lastStep) deps.stderr.write(`${progressLine(p)}\n`);
        lastStep = step;
      },
    });
    const report = toReport(result);
    deps.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : reportText(report));
    if (args.chart !== undefined) {
      const file = path.resolve(deps.cwd, args.chart);
      writeFileSync(file, renderEquityChart(result));
      deps.stderr.write(`chart: ${file}\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof BacktestCancelledError) {
      deps.stderr.write('deskbot backtest: interrupted\n');
      return 130;
    }
    const msg = isUserError(e) ? e.message : e instanceof Error ? e.message : String(e);
    deps.stderr.write(`deskbot backtest: ${msg.replace(/\s*\n\s*/g, ' ')}\n`);
    if (!isUserError(e)) logger.debug({ err: e }, 'backtest failed');
    return 1;
  } finally {
    await market?.close().catch(() => undefined);
  }
}
