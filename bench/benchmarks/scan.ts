import { recordedDataDir } from '../lib.js';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as TI from 'technicalindicators';
import { parseCandleCsv } from '../../src/market/replay/csv.js';
import { computeAll, hurst, INDICATOR_NAMES } from '../../src/ta/index.js';
import type { Benchmark, Metric } from '../lib.js';

/**
 * The full-universe scan: 1,500 symbols × 1,000 candles × computeAll (the full indicator set,
 * INDICATOR_NAMES) on one core (one JS thread), against the same set computed by
 * technicalindicators in the same run.
 *
 * Symbols are real: every non-overlapping 1,000-candle window without a gap (gaps are real
 * exchange maintenance and stay gaps) of every recorded 1h series in ../shared/data (or
 * DESKBOT_MARKET_DIR), cycled until there are 1,500 — each symbol its own copy of the columns.
 *
 * The peer computes everything technicalindicators has: SMA/EMA/WMA, RSI, MACD (EMA oscillator
 * and signal), Bollinger (+ width from its bands), ATR, ADX/±DI, Stochastic, OBV, VWAP, ROC,
 * Keltner (EMA 20 ± 2·ATR 10), Donchian from its Highest/Lowest, realised volatility from its SD
 * of the log returns (population → sample). It has no Hurst exponent, so the peer does strictly
 * less work than ours: the speed-up is a lower bound. Its inputs are prepared as number[] before
 * the clock starts (what its users pass); ours run on the Float64Array columns.
 */

const SYMBOLS = 1500;
const CANDLES = 1000;
const HOUR = 3_600_000;

interface Columns {
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
}

interface Plain {
  high: number[];
  low: number[];
  close: number[];
  volume: number[];
}

function marketDir(): string {
  return recordedDataDir('scan');
}

/** every non-overlapping gapless CANDLES-window of every 1h file, oldest first within a file */
function loadWindows(dir: string): { windows: Columns[]; files: number } {
  const files = readdirSync(dir)
    .filter((n) => /^binance_[A-Z0-9]+-USDT_1h\.csv$/.test(n))
    .sort();
  if (files.length === 0) throw new Error(`no binance_*-USDT_1h.csv files in ${dir}`);
  const windows: Columns[] = [];
  for (const f of files) {
    const c = parseCandleCsv(readFileSync(path.join(dir, f)), f);
    let start = 0;
    for (let i = 1; i <= c.length; i++) {
      if (i === c.length || (c.time[i] as number) - (c.time[i - 1] as number) !== HOUR) {
        for (let a = start; a + CANDLES <= i; a += CANDLES) {
          windows.push({
            high: c.high.slice(a, a + CANDLES),
            low: c.low.slice(a, a + CANDLES),
            close: c.close.slice(a, a + CANDLES),
            volume: c.volume.slice(a, a + CANDLES),
          });
        }
        start = i;
      }
    }
  }
  if (windows.length === 0) throw new Error(`no gapless ${CANDLES}-candle window in the 1h files of ${dir}`);
  return { windows, files: files.length };
}

/** the peer's version of the set, one symbol */
function peerAll(s: Plain): number {
  const { high, low, close, volume } = s;
  const out: unknown[] = [];
  for (const period of [20, 50, 200]) out.push(TI.SMA.calculate({ period, values: close }));
  for (const period of [12, 26, 50, 200]) out.push(TI.EMA.calculate({ period, values: close }));
  out.push(TI.WMA.calculate({ period: 20, values: close }));
  out.push(TI.RSI.calculate({ period: 14, values: close }));
  out.push(TI.MACD.calculate({ values: close, fastPeriod: 12, slowPeriod: 26, signalPeriod: 9, SimpleMAOscillator: false, SimpleMASignal: false }));
  const bb = TI.BollingerBands.calculate({ period: 20, stdDev: 2, values: close });
  out.push(bb, bb.map((b) => (b.upper - b.lower) / b.middle));
  out.push(TI.ATR.calculate({ high, low, close, period: 14 }));
  out.push(TI.ADX.calculate({ high, low, close, period: 14 }));
  out.push(TI.Stochastic.calculate({ high, low, close, period: 14, signalPeriod: 3 }));
  out.push(TI.OBV.calculate({ close, volume }));
  out.push(TI.VWAP.calculate({ high, low, close, volume }));
  out.push(TI.ROC.calculate({ period: 12, values: close }));
  const hi = TI.Highest.calculate({ period: 20, values: high });
  const lo = TI.Lowest.calculate({ period: 20, values: low });
  out.push(hi, lo, hi.map((h, j) => (h + (lo[j] as number)) / 2));
  out.push(TI.KeltnerChannels.calculate({ high, low, close, maPeriod: 20, atrPeriod: 10, useSMA: false, multiplier: 2 }));
  // log returns shifted by +1 (the SD is unchanged): TI's linked-list iterator stops at a 0 value
  const r1 = close.slice(1).map((c, j) => 1 + Math.log(c / (close[j] as number)));
  out.push(TI.SD.calculate({ period: 30, values: r1 }).map((sd) => sd * Math.sqrt(30 / 29)));
  return out.length;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** both sides must compute the same numbers, or the timing means nothing */
function crossCheck(ours: Record<string, Float64Array>, s: Plain): void {
  const last = (a: Float64Array): number => a[a.length - 1] as number;
  const tail = <T>(a: T[]): T => a[a.length - 1] as T;
  const checks: [string, number, number][] = [
    ['sma200', last(ours.sma200 as Float64Array), tail(TI.SMA.calculate({ period: 200, values: s.close }))],
    ['ema200', last(ours.ema200 as Float64Array), tail(TI.EMA.calculate({ period: 200, values: s.close }))],
    ['bb.upper', last(ours['bb.upper'] as Float64Array), tail(TI.BollingerBands.calculate({ period: 20, stdDev: 2, values: s.close })).upper],
    ['adx.adx', last(ours['adx.adx'] as Float64Array), tail(TI.ADX.calculate({ high: s.high, low: s.low, close: s.close, period: 14 })).adx],
    ['keltner.upper', last(ours['keltner.upper'] as Float64Array), tail(TI.KeltnerChannels.calculate({ high: s.high, low: s.low, close: s.close, maPeriod: 20, atrPeriod: 10, useSMA: false, multiplier: 2 })).upper],
    ['donchian.upper', last(ours['donchian.upper'] as Float64Array), tail(TI.Highest.calculate({ period: 20, values: s.high }))],
  ];
  for (const [name, a, b] of checks) {
    if (!(Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)))) throw new Error(`scan cross-check failed: ${name} ours ${a}, technicalindicators ${b}`);
  }
}

export const scan: Benchmark = {
  name: 'scan',
  description: `full-universe scan: ${SYMBOLS} symbols × ${CANDLES} 1h candles (real recorded series, cycled) × computeAll (${INDICATOR_NAMES.length} series), vs technicalindicators`,
  async run(): Promise<Metric[]> {
    const { windows, files } = loadWindows(marketDir());
    const symbols: Columns[] = [];
    for (let j = 0; j < SYMBOLS; j++) {
      const w = windows[j % windows.length] as Columns;
      symbols.push({ high: w.high.slice(), low: w.low.slice(), close: w.close.slice(), volume: w.volume.slice() });
    }
    const plain: Plain[] = symbols.map((s) => ({ high: Array.from(s.high), low: Array.from(s.low), close: Array.from(s.close), volume: Array.from(s.volume) }));

    const scanOurs = (): number => {
      let sink = 0;
      for (const s of symbols) sink += computeAll(s).rsi14?.[CANDLES - 1] ?? 0;
      return sink;
    };
    crossCheck(computeAll(symbols[0] as Columns), plain[0] as Plain);

    // ours: 2 untimed scans (JIT), then 9 timed ones; the median is the figure
    scanOurs();
    scanOurs();
    const times: number[] = [];
    for (let r = 0; r < 9; r++) {
      const t0 = process.hrtime.bigint();
      scanOurs();
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const ours = median(times);

    // how much of that is the rolling Hurst exponent alone (the set's costliest series, and one
    // the peer does not have): hurst() over the same universe, median of 3
    const hurstTimes: number[] = [];
    for (let r = 0; r < 3; r++) {
      const t0 = process.hrtime.bigint();
      for (const s of symbols) hurst(s.close, 100);
      hurstTimes.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }

    // peer: untimed on 100 symbols (JIT), then 2 full timed scans (each takes seconds); the median
    for (let j = 0; j < 100; j++) peerAll(plain[j] as Plain);
    const peerTimes: number[] = [];
    for (let r = 0; r < 2; r++) {
      const t0 = process.hrtime.bigint();
      for (const s of plain) peerAll(s);
      peerTimes.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const peer = median(peerTimes);

    return [
      { name: 'scan.ours', value: ours, unit: 'ms', goal: '<=250', peer: 'technicalindicators', peer_value: peer },
      { name: 'scan.ours_best', value: Math.min(...times), unit: 'ms' },
      { name: 'scan.ours_hurst_part', value: median(hurstTimes), unit: 'ms' },
      { name: 'scan.peer', value: peer, unit: 'ms', peer: 'technicalindicators', peer_value: peer },
      { name: 'scan.speedup', value: peer / ours, unit: '×', goal: '>=10' },
      { name: 'scan.candles_per_s', value: (SYMBOLS * CANDLES) / (ours / 1000), unit: 'candles/s' },
      { name: 'scan.windows', value: windows.length, unit: `distinct windows from ${files} files` },
    ];
  },
};
