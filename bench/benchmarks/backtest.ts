import { recordedDataDir } from '../lib.js';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runEngine } from '../../src/backtest/engine.js';
import { backtestCandles, type CandlesInput, type RunSettings } from '../../src/backtest/run.js';
import { decideAll, fromSignalStrategy, smaCross } from '../../src/backtest/strategy.js';
import { parseCandleCsv } from '../../src/market/replay/csv.js';
import type { Candles } from '../../src/market/types.js';
import { strategiesService } from '../../plugins/signals/index.js';
import { compileStrategies } from '../../plugins/signals/strategies.js';
import type { Benchmark, Metric } from '../lib.js';

/**
 * Backtest throughput on one core (one JS thread), in candles per second, for sma-cross(20/50):
 * the product's path for candles in memory (backtestCandles: decisions per gap-free segment,
 * the engine with the paper fee and slippage model, buy-and-hold, the metrics of both) — what
 * /backtest and `deskbot backtest` run after reading the candles.
 *
 * Data is real: every recorded 1h series in ../shared/data (or DESKBOT_MARKET_DIR), whole, with
 * its real gaps (each gap splits the strategy's segments, as in the product), cycled until there
 * are at least 3,000,000 candles — each series its own copy of the columns. One untimed pass
 * (JIT), then 5 timed passes; the median is the figure.
 *
 * For context, not goals: the engine loop alone on precomputed decisions, and a signals strategy
 * (balanced: 13 rules with reasons, the code /signal runs) on the BTC/USDT 1h series.
 */

const TARGET = 3_000_000;
const HOUR = 3_600_000;

function marketDir(): string {
  return recordedDataDir('backtest');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const copy = (c: Candles): Candles => ({
  ...c,
  time: c.time.slice(),
  open: c.open.slice(),
  high: c.high.slice(),
  low: c.low.slice(),
  close: c.close.slice(),
  volume: c.volume.slice(),
});

const SETTINGS: RunSettings = {
  initialCash: 10_000,
  sizing: { kind: 'fraction', fraction: 1 },
  exits: { stopLoss: null, takeProfit: null, trailingStop: null },
  costs: { feeRate: 0.001, feeSource: 'config default', slippage: { baseBps: 2, impactBps: 1 } },
  walkForward: null,
};

export const backtest: Benchmark = {
  name: 'backtest',
  description: `backtest throughput: sma-cross(20/50) over every recorded 1h series (real gaps kept), cycled to ≥ ${TARGET.toLocaleString('en-US')} candles, one core`,
  async run(): Promise<Metric[]> {
    const dir = marketDir();
    const files = readdirSync(dir)
      .filter((n) => /^binance_[A-Z0-9]+-USDT_1h\.csv$/.test(n))
      .sort();
    if (files.length === 0) throw new Error(`no binance_*-USDT_1h.csv files in ${dir}`);
    const recorded = files.map((f) => parseCandleCsv(readFileSync(path.join(dir, f)), f)).filter((c) => c.length > 100);
    const inputs: CandlesInput[] = [];
    let total = 0;
    for (let j = 0; total < TARGET; j++) {
      const c = copy(recorded[j % recorded.length] as Candles);
      inputs.push({ candles: c, meta: { exchange: 'binance', symbol: 'X/USDT', timeframe: '1h', timeframeMs: HOUR, source: 'replay' }, start: 50 });
      total += c.length;
    }
    const strategy = smaCross.make({ fast: 20, slow: 50 });

    let sink = 0;
    const pass = async (): Promise<number> => {
      const t0 = process.hrtime.bigint();
      for (const input of inputs) sink += (await backtestCandles(input, strategy, SETTINGS)).metrics.finalEquity;
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    await pass();
    const times: number[] = [];
    for (let r = 0; r < 5; r++) times.push(await pass());
    const ms = median(times);

    // the engine loop alone, decisions computed beforehand (untimed)
    const decided = await Promise.all(inputs.map((i) => decideAll(i.candles, HOUR, strategy, () => undefined)));
    const es = { initialCash: 10_000, sizing: SETTINGS.sizing, feeRate: 0.001, slippage: SETTINGS.costs.slippage, exits: SETTINGS.exits };
    const engineTimes: number[] = [];
    for (let r = 0; r < 5; r++) {
      const t0 = process.hrtime.bigint();
      inputs.forEach((input, k) => {
        sink += runEngine(input.candles, decided[k] as Int8Array, es, 50).finalEquity;
      });
      engineTimes.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }

    // a signals strategy (balanced) on BTC/USDT 1h, median of 3
    const btcFile = files.indexOf('binance_BTC-USDT_1h.csv');
    const btc = recorded[btcFile >= 0 ? btcFile : 0] as Candles;
    const balanced = strategiesService(compileStrategies()).get('balanced');
    if (balanced === undefined) throw new Error('no balanced strategy');
    const signalTimes: number[] = [];
    for (let r = 0; r < 3; r++) {
      const t0 = process.hrtime.bigint();
      sink += (await backtestCandles({ candles: btc, meta: { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', timeframeMs: HOUR, source: 'replay' }, start: 200 }, fromSignalStrategy(balanced), SETTINGS)).metrics.finalEquity;
      signalTimes.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    if (!Number.isFinite(sink)) throw new Error('backtest produced a non-finite equity');

    return [
      { name: 'backtest.sma_cross_candles_per_s', value: total / (ms / 1000), unit: 'candles/s', goal: '>=5000000' },
      { name: 'backtest.sma_cross_pass', value: ms, unit: `ms for ${total.toLocaleString('en-US')} candles (${inputs.length} series)` },
      { name: 'backtest.engine_only_candles_per_s', value: total / (median(engineTimes) / 1000), unit: 'candles/s' },
      { name: 'backtest.balanced_candles_per_s', value: btc.length / (median(signalTimes) / 1000), unit: 'candles/s' },
    ];
  },
};
