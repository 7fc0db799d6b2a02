/**
 * Backtests: the engine (pure, synchronous), metrics, walk-forward, the request runner used by
 * the backtest plugin and `deskbot backtest`, the report both print, and the equity chart.
 * See docs/backtest.md.
 */
export { buyAndHold, buyFill, checkSettings, FLAT, LONG, NO_DECISION, runEngine, sellFill } from './engine.js';
export type { EngineCandles, EngineResult, EngineSettings, ExitReason, Exits, Fill, Sizing, Trade } from './engine.js';
export { computeMetrics, drawdownSeries, YEAR_MS } from './metrics.js';
export type { CurveInput, Metrics } from './metrics.js';
export { decideAll, fromSignalStrategy, segments, SMA_CROSS_DEFAULTS, smaCross, smaCrossDecisions } from './strategy.js';
export type { BacktestStrategy, ParamStrategy, Params, SeriesColumns, SeriesSignals, SignalCatalogLike, SignalStrategyLike, Tick } from './strategy.js';
export { OBJECTIVES, objectiveOf, walkForward, windowCount } from './walk-forward.js';
export type { Objective, WalkForwardResult, WalkForwardSettings, WalkForwardWindow } from './walk-forward.js';
export { backtestConfigSchema } from './config.js';
export type { BacktestConfig } from './config.js';
export {
  BacktestCancelledError,
  BacktestRequestError,
  backtestCandles,
  costModel,
  PARAM_STRATEGIES,
  runBacktest,
  runSettings,
  strategyNames,
  walkForwardCandles,
} from './run.js';
export type { BacktestDeps, BacktestMarket, BacktestRequest, BacktestResult, CandlesInput, CostModel, Progress, RunControl, RunSettings, SeriesMeta } from './run.js';
export { assumptionRows, FILL_RULE, parseUtcDate, fmtDuration, fmtMoney, fmtPct, fmtRatio, headline, metricRows, metricsTable, reportText, toReport, walkForwardTable } from './report.js';
export type { BacktestReport, ReportTrade } from './report.js';
export { candleSlippageBps, MAX_SLIPPAGE_BPS, type SlippageModel } from '../brokers/paper/fill-model.js';
export { buildEquitySvg, equityChartInput, renderEquityChart } from './chart.js';
export type { EquityChartInput } from './chart.js';
