import { z } from 'zod';
import {
  arg,
  block,
  ArgSpec,
  closest,
  contiguousWindow,
  defineCommand,
  definePlugin,
  reply,
  sliceCandles,
  TIMEFRAMES,
  type Block,
  type CheckedCandles,
  type MarketData,
  type PluginContext,
  type SignalContext,
  ta,
} from '../../src/kernel/index.js';
import { indicatorsReply, signalReply, strategiesReply, scanReply, type SeriesMeta } from './format.js';
import { Indicators, type Series } from './rules.js';
import { MEASURES, SCAN_GRAMMAR, SCAN_WARMUP, runScan, scanQuerySchema, type ScanQuery } from './scan.js';
import { compileStrategies, evaluate, evaluateAt, STRATEGY_NAME, strategyConfigSchema, DEFAULT_STRATEGIES, type SignalResult, type Strategy } from './strategies.js';

const exchangeId = z.string().regex(/^[a-z][a-z0-9]*$/);

const configSchema = z
  .object({
    defaultTimeframe: z.enum(TIMEFRAMES).default('1h'),
    defaultStrategy: z.string().regex(STRATEGY_NAME).default('balanced'),
    /** added to the built-in strategies (trend, momentum, meanrev, breakout, balanced); the same name replaces one */
    strategies: z.record(z.string().regex(STRATEGY_NAME, 'a strategy name: lower-case letters, digits, _ or -'), strategyConfigSchema).default({}),
    /** at most this many candles per /signal (a strategy asks for as many as its indicators need to settle) */
    maxWindow: z.number().int().min(50).max(5000).default(1000),
    /** candles behind /indicators (EMA(200) settles in about 1,000) */
    indicatorsWindow: z.number().int().min(50).max(5000).default(1000),
    scan: z
      .object({
        /** contiguous closed candles per symbol */
        window: z.number().int().min(SCAN_WARMUP).max(2000).default(200),
        top: z.number().int().min(1).max(100).default(10),
        maxTop: z.number().int().min(1).max(500).default(50),
        by: z.enum(MEASURES).default('momentum'),
        /** the universe's quote per exchange; default: the market config's quote for that exchange */
        quotes: z.record(exchangeId, z.string().regex(/^[A-Z0-9]+$/)).default({}),
        /** symbols fetched at once (live exchanges rate-limit) */
        concurrency: z.number().int().min(1).max(64).default(8),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    const names = new Set([...Object.keys(DEFAULT_STRATEGIES), ...Object.keys(c.strategies)]);
    if (!names.has(c.defaultStrategy)) {
      ctx.addIssue({ code: 'custom', path: ['defaultStrategy'], message: `no strategy "${c.defaultStrategy}" (strategies: ${[...names].join(', ')})` });
    }
    if (c.scan.top > c.scan.maxTop) ctx.addIssue({ code: 'custom', path: ['scan', 'top'], message: `top ${c.scan.top} is above maxTop ${c.scan.maxTop}` });
  });

/**
 * The newest `want` (at least `min`) contiguous *closed* candles. This is ctx.market.series with
 * two differences: a live candle still forming is left out (a signal on it would change until it
 * closes) — only candles opening at or before `until` are used, by default the last one closed by
 * the desk's now; and when the contiguous tail after a gap is shorter than `want` but holds `min`,
 * the tail is used (the strategy's data sufficiency says so) instead of refusing. Fewer than
 * `min`: the integrity gate's DataGapError naming the hole, or NotEnoughDataError. Nothing is
 * ever computed across a hole.
 */
export async function closedWindow(
  market: MarketData,
  req: { symbol: string; timeframe: string; exchange?: string },
  min: number,
  want: number = min,
  until?: number,
): Promise<CheckedCandles> {
  // +2: the candle still forming, and one that may have closed since `until` was fixed
  const all = await market.candles({ ...req, limit: want + 2 });
  const last = until ?? market.now() - all.timeframeMs;
  let end = all.length;
  while (end > 0 && (all.time[end - 1] as number) > last) end--;
  let c = all;
  if (end < all.length) {
    const keptTo = end > 0 ? (all.time[end - 1] as number) : Number.NEGATIVE_INFINITY;
    c = { ...sliceCandles(all, 0, end), gaps: all.gaps.filter((g) => g.before <= keptTo) };
  }
  const lastGap = c.gaps[c.gaps.length - 1];
  const tail = lastGap === undefined ? c.length : c.length - c.time.lastIndexOf(lastGap.before);
  return contiguousWindow(c, tail >= min ? Math.min(tail, want) : min);
}

/**
 * What other plugins show under a /signal answer (the ML forecast), in the order they were
 * added; one that fails says so in its place and the answer still goes out.
 */
async function signalViews(ctx: PluginContext<unknown>, s: SignalContext): Promise<Block[]> {
  const out: Block[] = [];
  for (const view of ctx.contributions('signal')) {
    try {
      out.push(...((await view.render(s)) ?? []));
    } catch (err) {
      ctx.log.warn({ err, view: view.name, symbol: s.symbol }, 'signal view failed');
      out.push(block.text(`${view.name}: not available (${err instanceof Error ? err.message : String(err)})`, 'warn'));
    }
  }
  return out;
}

function meta(w: CheckedCandles): SeriesMeta {
  const i = w.length - 1;
  return {
    exchange: w.exchange,
    symbol: w.symbol,
    timeframe: w.timeframe,
    timeframeMs: w.timeframeMs,
    source: w.source,
    candleTime: w.time[i] as number,
    close: w.close[i] as number,
    candles: w.length,
    windowStart: w.time[0] as number,
  };
}

/** A strategy's signal at every candle of a series (direction 1 long, −1 short, 0 flat; score NaN before its warm-up). */
export interface StrategySeriesSignals {
  direction: Int8Array;
  score: Float64Array;
}

/** A strategy as another plugin runs it: the very evaluateAt /signal runs, at every candle of a series. */
export interface SeriesStrategy {
  name: string;
  description: string;
  /** fewest contiguous candles the strategy answers with */
  warmup: number;
  /** candles after which its answer no longer depends on where the series starts */
  settle: number;
  /**
   * The signal at each candle i in [from, to) (default: all), reading candles ≤ i only — the same
   * answer /signal gives on a window ending at i. Indicators are computed once per call (per
   * 2,048 candles), not per candle. Candles before the warm-up get score NaN and direction 0.
   */
  evaluateSeries(series: Series, range?: { from?: number; to?: number }): StrategySeriesSignals;
}

/** The "signals.strategies" service: the configured strategies by name. */
export interface SignalStrategies {
  names(): string[];
  get(name: string): SeriesStrategy | undefined;
}

declare module '../../src/kernel/index.js' {
  interface Services {
    'signals.strategies': SignalStrategies;
  }
}

/** Indicators memoise per-candle windows; a fresh set every this many candles bounds the memory of a long series. */
const SERIES_CHUNK = 2048;

export function seriesStrategy(strategy: Strategy): SeriesStrategy {
  return {
    name: strategy.name,
    description: strategy.description,
    warmup: strategy.warmup,
    settle: strategy.settle,
    evaluateSeries(series, range = {}) {
      const from = Math.max(0, range.from ?? 0);
      const to = Math.min(series.length, range.to ?? series.length);
      const n = Math.max(0, to - from);
      const direction = new Int8Array(n);
      const score = new Float64Array(n).fill(Number.NaN);
      let x = new Indicators(series);
      let used = 0;
      for (let i = Math.max(from, strategy.warmup - 1); i < to; i++) {
        if (++used > SERIES_CHUNK) {
          x = new Indicators(series);
          used = 1;
        }
        const r = evaluateAt(strategy, x, i);
        direction[i - from] = r.direction === 'long' ? 1 : r.direction === 'short' ? -1 : 0;
        score[i - from] = r.score;
      }
      return { direction, score };
    },
  };
}

/** The service over compiled strategies (the plugin's, or the CLI's from the same settings). */
export function strategiesService(strategies: ReadonlyMap<string, Strategy>): SignalStrategies {
  const wrapped = new Map([...strategies].map(([name, s]) => [name, seriesStrategy(s)]));
  return { names: () => [...wrapped.keys()], get: (name) => wrapped.get(name) };
}

/** The strategies a desk's plugins.settings.signals configures, as the service (for `deskbot backtest`). */
export function strategiesFromSettings(settings: unknown): SignalStrategies {
  return strategiesService(compileStrategies(configSchema.parse(settings ?? {}).strategies));
}

/** `/signal`, `/indicators`, `/scan`, `/strategies`: explainable signals from the indicator library. */
export default definePlugin({
  name: 'signals',
  version: '1.0.0',
  description: 'Explainable signals from weighted indicator rules, indicator tables and universe scans',
  config: configSchema,
  setup(ctx) {
    const market = ctx.market;
    const cfg = ctx.config;
    const strategies = compileStrategies(cfg.strategies);
    const names = [...strategies.keys()];
    const exchanges = market.exchanges();
    // the same strategies, run at every candle of a series by other plugins (backtests)
    ctx.provide('signals.strategies', strategiesService(strategies));

    const strategyArg = new ArgSpec<string>({
      hint: names.join('|'),
      required: true,
      rest: false,
      schema: z.string().transform((s, zc) => {
        const k = s.toLowerCase();
        if (strategies.has(k)) return k;
        const near = closest(k, names, { max: 1 });
        zc.addIssue(`unknown strategy "${s}"${near.length > 0 ? ` (did you mean ${near[0]}?)` : ''}; strategies: ${names.join(', ')}`);
        return z.NEVER;
      }),
    })
      .optional()
      .describe(`default ${cfg.defaultStrategy}; /strategies lists them`);

    // a word that is neither a timeframe nor a strategy is refused naming both lists
    const timeframeArg = new ArgSpec<(typeof TIMEFRAMES)[number]>({
      hint: 'timeframe',
      required: true,
      rest: false,
      schema: z.string().transform((s, zc) => {
        const tf = TIMEFRAMES.find((t) => t === s);
        if (tf !== undefined) return tf;
        const near = closest(s.toLowerCase(), names, { max: 1 });
        zc.addIssue(`expected a timeframe (${TIMEFRAMES.join(', ')}) or a strategy (${names.join(', ')}), got "${s}"${near.length > 0 ? ` (did you mean ${near[0]}?)` : ''}`);
        return z.NEVER;
      }),
    })
      .optional()
      .describe(`default ${cfg.defaultTimeframe}`);

    const exchangeArg = arg
      .choice(exchanges.length > 0 ? (exchanges as [string, ...string[]]) : ['binance'])
      .optional()
      .describe(`default ${market.defaultExchange}`);

    /** the newest closed window a strategy needs on a market: its warm-up, up to where it settles */
    const windowFor = (strategy: Strategy, req: { symbol: string; timeframe: string; exchange?: string }): Promise<CheckedCandles> =>
      closedWindow(market, req, strategy.warmup, Math.max(strategy.warmup, Math.min(strategy.settle, cfg.maxWindow)));

    /** /signal and /explain: the strategy asked for (or the default) on the market asked for, evaluated */
    const signalOf = async (
      a: { symbol: string; timeframe?: string | undefined; strategy?: string | undefined; exchange?: string | undefined },
      fail: (m: string) => never,
    ): Promise<{ strategy: Strategy; w: CheckedCandles; sig: SignalResult }> => {
      const strategy = strategies.get(a.strategy ?? cfg.defaultStrategy);
      if (strategy === undefined) return fail(`no strategy "${a.strategy}" (strategies: ${names.join(', ')})`);
      const w = await windowFor(strategy, { symbol: a.symbol, timeframe: a.timeframe ?? cfg.defaultTimeframe, ...(a.exchange !== undefined ? { exchange: a.exchange } : {}) });
      return { strategy, w, sig: evaluate(strategy, w as Series) };
    };

    ctx.command(
      defineCommand({
        name: 'signal',
        summary: 'Direction, score and confidence for a symbol, with the rules that fired and their values',
        aliases: ['sig'],
        args: { symbol: arg.symbol(), timeframe: timeframeArg, strategy: strategyArg, exchange: exchangeArg },
        permission: 'market:read',
        examples: ['/signal BTC/USDT 1h', '/signal eth 4h momentum', '/signal sol trend'],
        handler: async (c) => {
          const { strategy, w, sig } = await signalOf(c.args, c.fail);
          const m = meta(w);
          const answer = signalReply(m, sig, strategy);
          const views = await signalViews(ctx, { exchange: m.exchange, symbol: m.symbol, timeframe: m.timeframe, direction: sig.direction, candleTime: m.candleTime });
          return views.length > 0 ? { ...answer, blocks: [...answer.blocks, ...views] } : answer;
        },
      }),
    );

    // the digest's signals section: the default strategy on each of the digest's symbols, now
    ctx.contribute('digest', {
      name: 'signals',
      title: 'Signals',
      order: 20,
      render: async (period) => {
        const strategy = strategies.get(cfg.defaultStrategy);
        if (strategy === undefined || period.symbols.length === 0) return null;
        const rows: string[][] = [];
        const numbers: Record<string, number> = {};
        const text: Record<string, string> = {};
        const symbols: string[] = [];
        for (const symbol of period.symbols) {
          try {
            const w = await windowFor(strategy, { symbol, timeframe: cfg.defaultTimeframe });
            const sig = evaluate(strategy, w as Series);
            rows.push([symbol, sig.direction, sig.score.toFixed(2), `${Math.round(sig.confidence * 100)} %`, sig.reasons.slice(0, 2).map((r) => r.reason).join('; ') || '-']);
            numbers[`${symbol}.signalScore`] = Number(sig.score.toFixed(2));
            text[`${symbol}.signal`] = `${sig.direction} (score ${sig.score.toFixed(2)}, confidence ${Math.round(sig.confidence * 100)} %)`;
            symbols.push(symbol);
          } catch (err) {
            rows.push([symbol, 'no signal', '-', '-', err instanceof Error ? err.message : String(err)]);
          }
        }
        return {
          blocks: [block.table(['symbol', 'direction', 'score', 'confidence', 'top reasons'], rows, { title: `Signals (${cfg.defaultStrategy}, ${cfg.defaultTimeframe})` })],
          facts: { numbers, symbols, text },
        };
      },
    });

    ctx.command(
      defineCommand({
        name: 'explain',
        summary: 'Why the signal for a symbol says what it says, in plain words, from its own reasons',
        args: { symbol: arg.symbol(), timeframe: timeframeArg, strategy: strategyArg, exchange: exchangeArg },
        permission: 'market:read',
        examples: ['/explain BTC/USDT', '/explain eth 4h momentum'],
        handler: async (c) => {
          const { strategy, w, sig } = await signalOf(c.args, c.fail);
          const text: Record<string, string> = { signal: `${sig.direction} on ${w.symbol} ${w.timeframe} (${strategy.name}: score ${sig.score.toFixed(2)}, confidence ${Math.round(sig.confidence * 100)} %)` };
          // the reasons are the engine's own words with their numbers: the only things the explanation may use
          sig.reasons.slice(0, 6).forEach((r, i) => (text[`reasons.${i + 1}`] = r.reason));
          if (sig.reasons.length === 0) text['reasons.1'] = 'no rule fired: every rule of the strategy voted neutral';
          const out = await ctx.llm.summarise({ prompt: 'signal-explain', facts: { symbols: [w.symbol], numbers: {}, text }, person: c.principal.person });
          return reply.of(block.text(out.text), block.text(out.source === 'llm' ? `written by the LLM from the signal's reasons (${out.promptId} v${out.promptVersion})` : `template${out.reason ? ` (${out.reason})` : ''}`));
        },
      }),
    );

    ctx.command(
      defineCommand({
        name: 'indicators',
        summary: 'Current values of the full indicator set for a symbol',
        aliases: ['ind'],
        args: { symbol: arg.symbol(), timeframe: arg.choice(TIMEFRAMES).optional().describe(`default ${cfg.defaultTimeframe}`), exchange: exchangeArg },
        permission: 'market:read',
        examples: ['/indicators BTC/USDT', '/indicators eth 5m'],
        handler: async (c) => {
          const timeframe = c.args.timeframe ?? cfg.defaultTimeframe;
          const req = { symbol: c.args.symbol, timeframe, ...(c.args.exchange !== undefined ? { exchange: c.args.exchange } : {}) };
          const w = await closedWindow(market, req, 30, cfg.indicatorsWindow);
          const all = ta.computeAll({ high: w.high, low: w.low, close: w.close, volume: w.volume });
          const i = w.length - 1;
          return indicatorsReply(
            meta(w),
            Object.entries(all).map(([name, a]): [string, number] => [name, a[i] as number]),
          );
        },
      }),
    );

    const queryArg = new ArgSpec<ScanQuery>({
      hint: 'query',
      required: true,
      rest: false,
      schema: scanQuerySchema({ exchanges, maxTop: cfg.scan.maxTop }),
    })
      .rest()
      .optional()
      .describe(`${SCAN_GRAMMAR}; quote: ${cfg.scan.quotes[market.defaultExchange] ?? market.defaultQuote()} by default`);

    ctx.command(
      defineCommand({
        name: 'scan',
        summary: 'Rank every market of a quote currency by momentum, breakout or volume: the fast movers',
        description: `/scan ${SCAN_GRAMMAR}. "top" and "by" are keywords; exchange defaults to ${market.defaultExchange}, timeframe to ${cfg.defaultTimeframe}, top to ${cfg.scan.top}, by to ${cfg.scan.by}. Symbols whose window crosses a gap in the record are skipped and counted.`,
        args: { query: queryArg },
        permission: 'market:read',
        examples: ['/scan', '/scan usdt 1h top 10 by momentum', '/scan binance:usdt by volume', '/scan top 5 by breakout'],
        handler: async (c) => {
          const q = c.args.query ?? {};
          const exchange = q.exchange ?? market.defaultExchange;
          const quote = q.quote ?? cfg.scan.quotes[exchange] ?? market.defaultQuote(exchange);
          const outcome = await runScan({
            market,
            read: (req, need, until) => closedWindow(market, req, need, need, until),
            exchange,
            quote,
            timeframe: q.timeframe ?? cfg.defaultTimeframe,
            by: q.by ?? cfg.scan.by,
            top: q.top ?? cfg.scan.top,
            window: cfg.scan.window,
            concurrency: cfg.scan.concurrency,
          });
          return scanReply(outcome);
        },
      }),
    );

    ctx.command(
      defineCommand({
        name: 'strategies',
        summary: 'The signal strategies and their weighted rules',
        permission: 'market:read',
        handler: () => strategiesReply(strategies.values(), cfg.defaultStrategy),
      }),
    );
  },
});
