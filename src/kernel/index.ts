/**
 * The kernel's public API: the only module a plugin imports.
 *
 *   import { definePlugin, defineCommand, arg, reply, block } from '../../src/kernel/index.js';
 */
export { definePlugin } from './plugins/plugin.js';
export type { KernelInfo, PluginContext, PluginManifest, Services, Teardown } from './plugins/plugin.js';
export { defineCommand } from './commands/command.js';
export type { CommandContext, CommandSpec, Guard } from './commands/command.js';
export { arg, ArgSpec, readDuration, readNumber, readQuantity } from './commands/args.js';
export type { ArgShape, ArgsOf, Quantity } from './commands/args.js';
export { reply, block } from './reply.js';
export type { Block, Reply, Tone } from './reply.js';
export type { Channel, Principal } from './auth/principal.js';
export type { KernelEvents } from './events.js';
export type { HaltStatus } from './halt.js';
export type { ScheduleSpec } from './scheduler.js';
export type { Clock } from './clock.js';
export { UserError } from './errors.js';
export type { Alert, AlertSeverity } from './alerts/router.js';
export type { Contributions, DigestFacts, DigestPeriod, DigestSection, SignalContext, SignalView } from './contributions.js';
export type { JobRun, JobRunner } from './jobs.js';
export type { Facts as LlmFacts, Summary, SummariseRequest } from '../llm/index.js';

// Orders: the gateway's contracts (ctx.orders), for execution, risk and backtest plugins.
export type {
  Balance,
  Broker,
  BrokerKind,
  Estimate,
  Fill,
  HaltOutcome,
  LedgerEntry,
  Order,
  OrderRequest,
  OrderService,
  OrderState,
  OrderType,
  Position,
  Preview,
  Requester,
  RiskCheck,
  RiskCheckInput,
  RiskCheckResult,
  Side as OrderSide,
} from './orders/types.js';
export { FINAL_STATES, OPEN_STATES } from './orders/types.js';
export { closest, editDistance } from './fuzzy.js';
export { utcAt, utcClock, utcDay, utcHourMinute, utcMinute, utcSecond } from './utc.js';

// Market data: the service on ctx.market, its types, errors and the integrity gate's helpers.
export type { MarketData, CandlesRequest, MarketRequest } from '../market/service.js';
export type { Candles, CheckedCandles, Gap, MarketInfo, OhlcvColumns, OrderBook, Ticker, Trade, SourceKind } from '../market/types.js';
export { sliceCandles, sliceOhlcv } from '../market/types.js';
export { contiguousWindow, describeGap, requireNoGaps } from '../market/integrity.js';
export { timeframeMs, TIMEFRAMES } from '../market/timeframes.js';
export {
  BadDataError,
  DataGapError,
  ExchangeTimeoutError,
  ExchangeUnavailableError,
  MarketError,
  NotEnoughDataError,
  StaleDataError,
  UnknownExchangeError,
  UnknownSymbolError,
} from '../market/errors.js';
export { renderCandleChart } from '../market/chart/candle-chart.js';

// Pure analysis libraries plugins compute with: Float64Array in, Float64Array out, no state, no I/O.
export * as ta from '../ta/index.js';
/** Backtests (the engine, metrics, walk-forward, the request runner, its report and chart), for the backtest plugin. */
export * as backtest from '../backtest/index.js';
export { filteredProbabilities, fitGaussianHmm, stationaryDistribution } from '../regimes/hmm.js';
/** ML direction models (features, walk-forward, LSTM/GRU in TensorFlow.js loaded on first use), for the ml plugin. */
export * as ml from '../ml/index.js';
export { WhaleDetector, toColumns as tradeColumns } from '../whales/detector.js';
export type { DetectorSettings, DetectorSnapshot, Side, WhaleEvent } from '../whales/detector.js';
export { imbalance, trackWalls } from '../whales/walls.js';
export type { BandImbalance, Wall, WallChange } from '../whales/walls.js';
