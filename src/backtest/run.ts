import type { SlippageModel } from '../brokers/paper/fill-model.js';
import { UserError } from '../kernel/errors.js';
import { MarketError, NotEnoughDataError } from '../market/errors.js';
import { timeframeMs as tfMsOf, TIMEFRAMES } from '../market/timeframes.js';
import type { CheckedCandles, Gap, MarketInfo, SourceKind } from '../market/types.js';
import type { BacktestConfig } from './config.js';
import { buyAndHold, runEngine, type EngineCandles, type EngineSettings, type Exits, type Sizing, type Trade } from './engine.js';
import { computeMetrics, type Metrics } from './metrics.js';
import { decideAll, fromSignalStrategy, smaCross, type BacktestStrategy, type ParamStrategy, type Params, type SignalCatalogLike } from './strategy.js';
import { walkForward, type WalkForwardSettings, type WalkForwardWindow } from './walk-forward.js';

/**
 * A backtest from a request: the candles from the market service (integrity-checked, gaps
 * listed), the strategy by name (built-in parameterised ones, else the signals plugin's), the
 * desk's fee and slippage model, the engine, the metrics and buy-and-hold on the same candles.
 * Long runs yield to the event loop, report progress and stop when their AbortSignal fires.
 */

/** Thrown when a run's AbortSignal fires (a /backtest cancel, the desk shutting down). */
export class BacktestCancelledError extends UserError {
  constructor(message = 'backtest cancelled') {
    super(message);
  }
}

/** A request the user can get wrong: the message says what to change (shown in chat as is). */
export class BacktestRequestError extends UserError {}

export interface Progress {
  stage: 'signals' | 'engine' | 'walk-forward';
  /** candle decisions made so far, of total */
  done: number;
  total: number;
}

export interface RunControl {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** yield to the event loop at least this often while computing; default 50 ms */
  yieldEveryMs?: number;
}

export interface CostModel {
  feeRate: number;
  /** where the fee came from: the exchange's markets, or the configured default */
  feeSource: string;
  slippage: SlippageModel;
}

export interface RunSettings {
  initialCash: number;
  sizing: Sizing;
  exits: Exits;
  costs: CostModel;
  walkForward: WalkForwardSettings | null;
}

export interface SeriesMeta {
  exchange: string;
  symbol: string;
  timeframe: string;
  timeframeMs: number;
  source: SourceKind;
}

/** What a run computed, with the curves (for the chart). */
export interface BacktestResult {
  strategy: { name: string; label: string; description: string; params: Params };
  meta: SeriesMeta;
  settings: RunSettings;
  /** candle indices of the scored window in `candles` and the candles read before it */
  start: number;
  end: number;
  warmupCandles: number;
  candles: EngineCandles & { time: Float64Array };
  gaps: Gap[];
  equity: Float64Array;
  buyAndHoldEquity: Float64Array;
  trades: Trade[];
  metrics: Metrics;
  buyAndHold: Metrics;
  walkForward: { settings: WalkForwardSettings; gridSize: number; windows: WalkForwardWindow[] } | null;
}

// ---------------------------------------------------------------- progress and cancellation

function ticker(control: RunControl, stage: Progress['stage'], total: number): (done: number) => Promise<void> | void {
  const every = control.yieldEveryMs ?? 50;
  let last = performance.now();
  let done = 0;
  return (n: number) => {
    done += n;
    if (control.signal?.aborted) throw new BacktestCancelledError();
    const now = performance.now();
    if (now - last < every) return;
    last = now;
    control.onProgress?.({ stage, done, total });
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      last = performance.now();
      if (control.signal?.aborted) throw new BacktestCancelledError();
    });
  };
}

function engineSettings(s: RunSettings): EngineSettings {
  return { initialCash: s.initialCash, sizing: s.sizing, feeRate: s.costs.feeRate, slippage: s.costs.slippage, exits: s.exits };
}

// ---------------------------------------------------------------- on candles in memory

export interface CandlesInput {
  candles: EngineCandles & { time: Float64Array };
  meta: SeriesMeta;
  /** first candle of the scored window (earlier ones are warm-up: read by indicators, never traded) */
  start: number;
  gaps?: Gap[];
}

/** One strategy over the window [start, length) of `candles`, next to buy-and-hold. */
export async function backtestCandles(input: CandlesInput, strategy: BacktestStrategy, settings: RunSettings, control: RunControl = {}): Promise<BacktestResult> {
  const { candles: c, meta, start } = input;
  const end = c.length;
  if (!(start >= 0 && end - start >= 2)) throw new NotEnoughDataError(`${meta.symbol} ${meta.timeframe}: ${Math.max(0, end - start)} candles to test; at least 2 are needed`);
  if (control.signal?.aborted) throw new BacktestCancelledError();
  const decisions = await decideAll(c, meta.timeframeMs, strategy, ticker(control, 'signals', c.length));
  const es = engineSettings(settings);
  const r = runEngine(c, decisions, es, start, end);
  const bh = buyAndHold(c, es, start, end);
  const time = c.time.subarray(start, end);
  return {
    strategy: { name: strategy.name, label: strategy.label, description: strategy.description, params: strategy.params },
    meta,
    settings,
    start,
    end,
    warmupCandles: start,
    candles: c,
    gaps: input.gaps ?? [],
    equity: r.equity,
    buyAndHoldEquity: bh.equity,
    trades: r.trades,
    metrics: computeMetrics({ equity: r.equity, time, timeframeMs: meta.timeframeMs, initialEquity: settings.initialCash, held: r.held, trades: r.trades }),
    buyAndHold: computeMetrics({ equity: bh.equity, time, timeframeMs: meta.timeframeMs, initialEquity: settings.initialCash, held: bh.held, trades: bh.trades }),
    walkForward: null,
  };
}

/** Walk-forward over [start, length): parameters fitted on each train window, scored on the next test window only. */
export async function walkForwardCandles(input: CandlesInput, space: ParamStrategy, settings: RunSettings & { walkForward: WalkForwardSettings }, control: RunControl = {}): Promise<BacktestResult> {
  const { candles: c, meta, start } = input;
  const w = settings.walkForward;
  if (control.signal?.aborted) throw new BacktestCancelledError();
  const es = engineSettings(settings);
  let wf;
  try {
    wf = await walkForward({ ...c, timeframeMs: meta.timeframeMs }, space, w, es, start, c.length, ticker(control, 'walk-forward', c.length * space.grid.length));
  } catch (e) {
    if (e instanceof RangeError) throw new BacktestRequestError(e.message);
    throw e;
  }
  const bh = buyAndHold(c, es, wf.start, wf.end);
  const time = c.time.subarray(wf.start, wf.end);
  return {
    strategy: { name: space.name, label: `${space.name} walk-forward`, description: space.description, params: {} },
    meta,
    settings,
    start: wf.start,
    end: wf.end,
    warmupCandles: start,
    candles: c,
    gaps: input.gaps ?? [],
    equity: wf.equity,
    buyAndHoldEquity: bh.equity,
    trades: wf.trades,
    metrics: computeMetrics({ equity: wf.equity, time, timeframeMs: meta.timeframeMs, initialEquity: settings.initialCash, held: wf.held, trades: wf.trades }),
    buyAndHold: computeMetrics({ equity: bh.equity, time, timeframeMs: meta.timeframeMs, initialEquity: settings.initialCash, held: bh.held, trades: bh.trades }),
    walkForward: { settings: w, gridSize: wf.gridSize, windows: wf.windows },
  };
}

// ---------------------------------------------------------------- from a request

/** the built-in parameterised strategies, by name */
export const PARAM_STRATEGIES: ReadonlyMap<string, ParamStrategy> = new Map([[smaCross.name, smaCross]]);

export interface BacktestRequest {
  strategy: string;
  symbol: string;
  exchange?: string;
  timeframe: string;
  /** first test candle's open time at or after this (ms); default: defaultCandles before `to` */
  from?: number;
  /** test candles open before this (ms, exclusive); default: the desk's now */
  to?: number;
  params?: Params;
  initialCash?: number;
  sizing?: Sizing;
  exits?: Partial<Exits>;
  /** true: the configured windows; an object: those windows */
  walkForward?: boolean | Partial<WalkForwardSettings>;
}

/** What runBacktest reads prices through: the MarketData service (ctx.market) fits. */
export interface BacktestMarket {
  resolve(req: { symbol: string; exchange?: string }): Promise<{ exchange: string; symbol: string }>;
  candles(req: { symbol: string; exchange?: string; timeframe: string; since?: number; limit?: number }): Promise<CheckedCandles>;
  markets(exchange?: string): Promise<MarketInfo[]>;
  now(): number;
}

export interface BacktestDeps {
  market: BacktestMarket;
  config: BacktestConfig;
  /** the signals plugin's strategies (its "signals.strategies" service); absent: built-ins only */
  signals?: SignalCatalogLike;
}

/** every strategy name a request may use */
export function strategyNames(deps: Pick<BacktestDeps, 'signals'>): string[] {
  return [...PARAM_STRATEGIES.keys(), ...(deps.signals?.names() ?? []).filter((n) => !PARAM_STRATEGIES.has(n))];
}

/** The fee the paper broker would charge a taker here: the exchange's, else the configured default. */
export async function costModel(market: BacktestMarket, exchange: string, symbol: string, config: BacktestConfig): Promise<CostModel> {
  const info = (await market.markets(exchange)).find((m) => m.symbol === symbol);
  if (info === undefined) throw new MarketError(`${exchange} has no market ${symbol}`);
  const slippage = { baseBps: config.slippage.baseBps, impactBps: config.slippage.impactBps };
  return info.taker !== null
    ? { feeRate: info.taker, feeSource: `${exchange} markets`, slippage }
    : { feeRate: config.fees.taker, feeSource: "config default: the exchange's markets give no fee", slippage };
}

export function runSettings(req: BacktestRequest, config: BacktestConfig, costs: CostModel, paramStrategy: boolean): RunSettings {
  const pct = (v: number | null): number | null => (v === null ? null : v / 100);
  const exits: Exits = {
    stopLoss: req.exits?.stopLoss !== undefined ? req.exits.stopLoss : pct(config.exits.stopLossPct),
    takeProfit: req.exits?.takeProfit !== undefined ? req.exits.takeProfit : pct(config.exits.takeProfitPct),
    trailingStop: req.exits?.trailingStop !== undefined ? req.exits.trailingStop : pct(config.exits.trailingStopPct),
  };
  const sizing: Sizing = req.sizing ?? (config.fixedAmount !== null ? { kind: 'fixed', amount: config.fixedAmount } : { kind: 'fraction', fraction: config.fraction });
  let wf: WalkForwardSettings | null = null;
  if (req.walkForward !== undefined && req.walkForward !== false) {
    if (!paramStrategy) throw new BacktestRequestError(`walk-forward needs a strategy with parameters to fit (${[...PARAM_STRATEGIES.keys()].join(', ')}); "${req.strategy}" has none`);
    wf = { ...config.walkForward, ...(typeof req.walkForward === 'object' ? req.walkForward : {}) };
  }
  return { initialCash: req.initialCash ?? config.initialCash, sizing, exits, costs, walkForward: wf };
}

function strategyFor(req: BacktestRequest, deps: BacktestDeps): { single: BacktestStrategy; space: ParamStrategy | null } {
  const name = req.strategy.toLowerCase();
  const space = PARAM_STRATEGIES.get(name);
  if (space !== undefined) {
    const problem = space.check(req.params ?? {});
    if (problem !== null) throw new BacktestRequestError(problem);
    return { single: space.make(req.params ?? {}), space };
  }
  const signal = deps.signals?.get(name);
  if (signal === undefined) throw new BacktestRequestError(`no strategy "${req.strategy}" (strategies: ${strategyNames(deps).join(', ')})`);
  if (req.params !== undefined && Object.keys(req.params).length > 0) {
    throw new BacktestRequestError(`${name} takes no parameters here (it is configured in the signals plugin); got ${Object.keys(req.params).join(', ')}`);
  }
  return { single: fromSignalStrategy(signal), space: null };
}

const iso = (t: number): string => new Date(t).toISOString().replace(':00.000Z', 'Z').replace('.000Z', 'Z');

/** Reads the candles a request needs (the test window plus warm-up before it) and runs it. */
export async function runBacktest(req: BacktestRequest, deps: BacktestDeps, control: RunControl = {}): Promise<BacktestResult> {
  const { market, config } = deps;
  const tf = tfMsOf(req.timeframe);
  if (tf === undefined || !(TIMEFRAMES as readonly string[]).includes(req.timeframe)) {
    throw new BacktestRequestError(`unknown timeframe "${req.timeframe}" (use one of ${TIMEFRAMES.join(', ')})`);
  }
  const { single, space } = strategyFor(req, deps);
  const { exchange, symbol } = await market.resolve({ symbol: req.symbol, ...(req.exchange !== undefined ? { exchange: req.exchange } : {}) });
  const costs = await costModel(market, exchange, symbol, config);
  const settings = runSettings(req, config, costs, space !== null);

  const now = market.now();
  const to = Math.min(req.to ?? now, now);
  const from = req.from ?? to - config.defaultCandles * tf;
  if (!(from < to)) throw new BacktestRequestError(`the range is empty: from ${iso(from)} is not before to ${iso(to)}`);
  const count = Math.ceil((to - from) / tf);
  if (count > config.maxCandles) {
    throw new BacktestRequestError(`${count.toLocaleString('en-US')} ${req.timeframe} candles from ${iso(from)} to ${iso(to)} is more than the ${config.maxCandles.toLocaleString('en-US')} a run may read: narrow the range or use a longer timeframe`);
  }
  const warm = space !== null && settings.walkForward !== null ? Math.max(...space.grid.map((p) => space.make(p).warmup)) : single.warmup;
  const raw = await market.candles({ symbol, exchange, timeframe: req.timeframe, since: from - warm * tf, limit: warm + count + 1 });
  if (control.signal?.aborted) throw new BacktestCancelledError();

  // closed candles opening before `to` only; the window starts at the first one at or after `from`
  let end = raw.length;
  while (end > 0 && ((raw.time[end - 1] as number) >= to || (raw.time[end - 1] as number) + tf > now)) end--;
  let start = 0;
  while (start < end && (raw.time[start] as number) < from) start++;
  if (end - start < 2) {
    throw new NotEnoughDataError(`${exchange} ${symbol} ${req.timeframe}: ${end - start} closed candle${end - start === 1 ? '' : 's'} between ${iso(from)} and ${iso(to)}; a backtest needs at least 2`);
  }
  const candles = {
    time: raw.time.subarray(0, end),
    open: raw.open.subarray(0, end),
    high: raw.high.subarray(0, end),
    low: raw.low.subarray(0, end),
    close: raw.close.subarray(0, end),
    volume: raw.volume.subarray(0, end),
    length: end,
    timeframeMs: tf,
  };
  const first = raw.time[0] as number;
  const last = raw.time[end - 1] as number;
  const gaps = raw.gaps.filter((g) => g.after >= first && g.before <= last);
  const input: CandlesInput = { candles, meta: { exchange, symbol, timeframe: req.timeframe, timeframeMs: tf, source: raw.source }, start, gaps };
  if (space !== null && settings.walkForward !== null) return walkForwardCandles(input, space, { ...settings, walkForward: settings.walkForward }, control);
  return backtestCandles(input, single, settings, control);
}
