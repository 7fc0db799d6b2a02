import { z } from 'zod';
import {
  arg,
  ArgSpec,
  backtest,
  block,
  closest,
  defineCommand,
  definePlugin,
  readNumber,
  reply,
  TIMEFRAMES,
  type Channel,
  type Principal,
  type Reply,
} from '../../src/kernel/index.js';

/**
 * `/backtest <strategy> <symbol> [timeframe] [from] [to]`: a strategy over recorded or exchange
 * candles through the backtest engine (src/backtest) — the signals plugin's strategies through
 * its "signals.strategies" service, so the backtest runs the very code /signal runs — with the
 * paper broker's fee and slippage model, next to buy-and-hold, with an equity + drawdown chart.
 * Each run gets an id; a run still going after a few seconds posts its progress to the channel,
 * and `/backtest cancel <id>` stops it. `deskbot backtest` prints the same numbers.
 */

interface Run {
  id: string;
  person: string;
  label: string;
  startedAt: number;
  progress: backtest.Progress | null;
  controller: AbortController;
}

const dateArg = (what: string) =>
  new ArgSpec<number>({
    hint: 'date',
    required: true,
    rest: false,
    schema: z.string().transform((s, zc) => {
      const ms = backtest.parseUtcDate(s);
      if (ms !== undefined) return ms;
      zc.addIssue(`expected a UTC date like 2021-03-01 or 2021-03-01T12:00 (${what}), got "${s}"`);
      return z.NEVER;
    }),
  }).optional();

/** "5", "5%" → 5 (percent points) */
const percentArg = (what: string, max: number) =>
  new ArgSpec<number>({
    hint: 'percent',
    required: true,
    rest: false,
    schema: z.string().transform((s, zc) => {
      const v = readNumber(s.endsWith('%') ? s.slice(0, -1) : s);
      if (v !== undefined && v > 0 && v < max) return v;
      zc.addIssue(`${what}: expected a percentage above 0 and below ${max}, like 5%, got "${s}"`);
      return z.NEVER;
    }),
  }).optional();

/** the person from config, else the platform user */
function who(p: Principal): string {
  return p.person ?? `${p.platform}:${p.userId}`;
}

function target(ch: Channel): string {
  return `${ch.platform}:${ch.channelId}${ch.threadId !== undefined ? `:${ch.threadId}` : ''}`;
}

function progressText(run: Run): string {
  const p = run.progress;
  if (p === null) return `backtest ${run.id} (${run.label}): reading candles`;
  const pct = p.total > 0 ? Math.min(99, Math.floor((100 * p.done) / p.total)) : 0;
  const what = p.stage === 'walk-forward' ? 'walk-forward: fitting parameter sets' : p.stage === 'signals' ? 'evaluating the strategy' : 'running';
  return `backtest ${run.id} (${run.label}): ${pct} % — ${what}, ${p.done.toLocaleString('en-US')} of ${p.total.toLocaleString('en-US')} candle decisions`;
}

export default definePlugin({
  name: 'backtest',
  version: '1.0.0',
  description: 'Backtests of the desk strategies on recorded or exchange candles, net of fees and slippage, next to buy-and-hold',
  needs: ['signals'],
  config: backtest.backtestConfigSchema,
  setup(ctx) {
    const cfg = ctx.config;
    const signals = ctx.use('signals.strategies');
    const names = backtest.strategyNames({ signals });
    const words = [...names, 'cancel', 'runs'];
    const runs = new Map<string, Run>();
    let seq = 0;

    ctx.onClose(() => {
      for (const r of runs.values()) r.controller.abort();
    });

    const strategyArg = new ArgSpec<string>({
      hint: 'strategy',
      required: true,
      rest: false,
      schema: z.string().transform((s, zc) => {
        const k = s.toLowerCase();
        if (words.includes(k)) return k;
        const near = closest(k, names, { max: 1 });
        zc.addIssue(`unknown strategy "${s}"${near.length > 0 ? ` (did you mean ${near[0]}?)` : ''}; strategies: ${names.join(', ')}`);
        return z.NEVER;
      }),
    }).describe(`${names.join(', ')}; or "cancel <id>", "runs"`);

    const exchanges = ctx.market.exchanges();

    ctx.command(
      defineCommand({
        name: 'backtest',
        summary: 'Backtest a strategy on a symbol: metrics vs buy-and-hold, net of fees and slippage, equity chart',
        description:
          `/backtest <strategy> <symbol> [timeframe] [from] [to], dates in UTC (to is exclusive; default: the last ${cfg.defaultCandles.toLocaleString('en-US')} candles). ` +
          "Decisions are made on each candle's close and fill at the next candle's open. Options: fast= slow= (sma-cross), sl= tp= trail= (percent), " +
          'size= (50% of equity or a quote amount), cash=, wf=on (walk-forward; train= test= in candles, objective=sharpe|sortino|return). ' +
          '/backtest cancel <id> stops a run; /backtest runs lists them.',
        args: {
          strategy: strategyArg,
          symbol: arg.symbol().optional().describe('the market, e.g. BTC/USDT (after cancel: the run id)'),
          timeframe: arg.choice(TIMEFRAMES).optional().describe('default 1h'),
          from: dateArg('first candle'),
          to: dateArg('end, exclusive'),
          fast: arg.int({ min: 1, max: 1000 }).optional().describe('sma-cross fast period'),
          slow: arg.int({ min: 2, max: 2000 }).optional().describe('sma-cross slow period'),
          sl: percentArg('stop-loss', 100).describe('stop-loss, % below entry'),
          tp: percentArg('take-profit', 10_000).describe('take-profit, % above entry'),
          trail: percentArg('trailing stop', 100).describe('trailing stop, % below the highest price since entry'),
          size: arg.quantity({ units: ['%'], bare: true }).optional().describe('50% of equity, or a quote amount per entry'),
          cash: arg.number({ min: 1, max: 1e12 }).optional().describe(`starting quote, default ${cfg.initialCash}`),
          wf: arg.choice(['on', 'off']).optional().describe('walk-forward (parameterised strategies)'),
          train: arg.int({ min: 10, max: 1_000_000 }).optional().describe(`walk-forward train candles, default ${cfg.walkForward.train}`),
          test: arg.int({ min: 10, max: 1_000_000 }).optional().describe(`walk-forward test candles, default ${cfg.walkForward.test}`),
          objective: arg.choice(backtest.OBJECTIVES).optional().describe(`walk-forward ranking, default ${cfg.walkForward.objective}`),
          exchange: (exchanges.length > 0 ? arg.choice(exchanges as [string, ...string[]]) : arg.string()).optional(),
        },
        permission: 'market:read',
        examples: ['/backtest sma-cross BTC/USDT 1h', '/backtest balanced ETH/USDT 1h 2021-01-01 2021-06-01', '/backtest sma-cross btc 1h fast=10 slow=40 sl=5%', '/backtest sma-cross btc wf=on', '/backtest cancel bt3'],
        handler: async (c): Promise<Reply> => {
          const a = c.args;
          if (a.strategy === 'runs') {
            if (runs.size === 0) return reply.text('no backtests running');
            return reply.of(block.table(['id', 'by', 'what', 'progress'], [...runs.values()].map((r) => [r.id, r.person, r.label, progressText(r)]), { title: 'Backtests running' }));
          }
          if (a.strategy === 'cancel') {
            const id = (a.symbol ?? '').toLowerCase();
            if (id === '') return c.fail('usage: /backtest cancel <id>');
            const run = runs.get(id);
            if (run === undefined) {
              return c.fail(`no running backtest "${id}"${runs.size > 0 ? ` (running: ${[...runs.keys()].join(', ')})` : ' (none is running)'}`);
            }
            if (run.person !== who(c.principal)) return c.fail(`${id} was started by ${run.person}; only they can cancel it`);
            run.controller.abort();
            return reply.text(`cancelling ${id} (${run.label})`);
          }
          if (a.symbol === undefined) return c.fail(`missing symbol: /backtest ${a.strategy} <symbol> [timeframe] [from] [to]`);
          if (runs.size >= cfg.maxConcurrent) {
            return c.fail(`${runs.size} backtest${runs.size === 1 ? ' is' : 's are'} running (${[...runs.values()].map((r) => `${r.id}: ${r.label}`).join('; ')}); wait for one or cancel it with /backtest cancel <id>`);
          }
          const timeframe = a.timeframe ?? '1h';
          const params: Record<string, number> = {};
          if (a.fast !== undefined) params.fast = a.fast;
          if (a.slow !== undefined) params.slow = a.slow;
          const size = a.size;
          const req: backtest.BacktestRequest = {
            strategy: a.strategy,
            symbol: a.symbol,
            timeframe,
            ...(a.exchange !== undefined ? { exchange: a.exchange } : {}),
            ...(a.from !== undefined ? { from: a.from } : {}),
            ...(a.to !== undefined ? { to: a.to } : {}),
            ...(Object.keys(params).length > 0 ? { params } : {}),
            ...(a.cash !== undefined ? { initialCash: a.cash } : {}),
            ...(size !== undefined
              ? { sizing: size.unit === '%' ? { kind: 'fraction' as const, fraction: Math.min(100, size.value) / 100 } : { kind: 'fixed' as const, amount: size.value } }
              : {}),
            exits: {
              ...(a.sl !== undefined ? { stopLoss: a.sl / 100 } : {}),
              ...(a.tp !== undefined ? { takeProfit: a.tp / 100 } : {}),
              ...(a.trail !== undefined ? { trailingStop: a.trail / 100 } : {}),
            },
            ...(a.wf === 'on' || a.train !== undefined || a.test !== undefined || a.objective !== undefined
              ? {
                  walkForward: a.wf === 'off' ? false : {
                    ...(a.train !== undefined ? { train: a.train } : {}),
                    ...(a.test !== undefined ? { test: a.test } : {}),
                    ...(a.objective !== undefined ? { objective: a.objective } : {}),
                  },
                }
              : {}),
          };
          if (size !== undefined && size.unit === '%' && size.value > 100) return c.fail(`size ${size.value}% is above 100% of equity (no leverage on spot)`);

          const id = `bt${++seq}`;
          const label = `${a.strategy}${a.fast !== undefined || a.slow !== undefined ? `(${a.fast ?? backtest.SMA_CROSS_DEFAULTS.fast}/${a.slow ?? backtest.SMA_CROSS_DEFAULTS.slow})` : ''} on ${a.symbol} ${timeframe}${req.walkForward ? ', walk-forward' : ''}`;
          const controller = new AbortController();
          const run: Run = { id, person: who(c.principal), label, startedAt: ctx.clock.now(), progress: null, controller };
          runs.set(id, run);
          const where = target(c.channel);
          const post = (): void => {
            void ctx
              .post(where, reply.of(block.text(progressText(run)), block.buttons([{ label: `Cancel ${id}`, command: `/backtest cancel ${id}`, style: 'danger' }])))
              .then((r) => {
                if (!r.ok) ctx.log.debug({ id, error: r.error }, 'backtest progress not posted');
              });
          };
          let every: NodeJS.Timeout | undefined;
          const first = setTimeout(() => {
            post();
            every = setInterval(post, cfg.progressEveryMs);
            every.unref();
          }, cfg.progressAfterMs);
          first.unref();
          // the run stops on /backtest cancel and when the desk shuts down (the handler's signal)
          const onShutdown = (): void => controller.abort();
          if (c.signal.aborted) controller.abort();
          else c.signal.addEventListener('abort', onShutdown, { once: true });
          let result: backtest.BacktestResult;
          try {
            result = await backtest.runBacktest(
              req,
              { market: ctx.market, config: cfg, signals },
              {
                signal: controller.signal,
                onProgress: (p) => {
                  run.progress = p;
                },
              },
            );
          } catch (e) {
            if (e instanceof backtest.BacktestCancelledError) {
              const p = run.progress;
              const done = p !== null && p.total > 0 ? ` at ${Math.floor((100 * p.done) / p.total)} %` : '';
              return reply.text(`backtest ${id} (${label}) cancelled${done}${c.signal.aborted ? ': the desk is shutting down' : ''}; nothing was computed from it`, 'warn');
            }
            throw e;
          } finally {
            c.signal.removeEventListener('abort', onShutdown);
            clearTimeout(first);
            if (every !== undefined) clearInterval(every);
            runs.delete(id);
          }
          const report = backtest.toReport(result);
          const table = backtest.metricsTable(report);
          const wf = backtest.walkForwardTable(report);
          const blocks = [
            block.text(`Backtest ${id}: ${backtest.headline(report)}`),
            block.table(table.header, table.rows, { title: 'Metrics, net of fees and slippage', align: ['left', 'right', 'right'] }),
          ];
          if (wf !== null && report.walkForward !== null) {
            blocks.push(
              block.text(
                `Walk-forward: ${report.walkForward.windows.length} windows of train ${report.walkForward.train} / test ${report.walkForward.test} candles; ` +
                  `${report.walkForward.gridSize} parameter sets ranked by ${report.walkForward.objective} on each train window; the metrics above are the test windows only, chained.`,
              ),
              block.table(wf.header, wf.rows, { title: 'Walk-forward windows' }),
            );
          }
          blocks.push(block.kv(backtest.assumptionRows(report), 'How it was computed'));
          blocks.push({
            type: 'image',
            png: backtest.renderEquityChart(result),
            alt: `equity and drawdown of ${report.strategy.label} vs buy & hold, ${report.market.symbol} ${report.market.timeframe}`,
            filename: `backtest-${id}-${report.market.symbol.replace('/', '-')}-${report.market.timeframe}.png`,
          });
          return reply.of(...blocks);
        },
      }),
    );
  },
});
