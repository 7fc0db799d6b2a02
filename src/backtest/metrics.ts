import type { Trade } from './engine.js';

/**
 * Performance metrics of an equity curve marked at every candle's close (pure).
 *
 *   per-candle return   r_k = E_k / E_{k−1} − 1, with E_{−1} = the initial equity
 *   total return        E_last / E_initial − 1
 *   CAGR                (E_last / E_initial)^(1 / years) − 1, years = (last close − first open) / 365 days
 *   Sharpe              mean(r) / sd(r) × √(candles per year), sd with n − 1, risk-free rate 0
 *   Sortino             mean(r) / √(Σ min(r, 0)² / n) × √(candles per year)
 *   max drawdown        max over k of 1 − E_k / max(E_initial, E_0..E_k)
 *   its duration        from the peak before the deepest trough to the first close back at that
 *                       peak (or to the end, flagged not recovered)
 *   Calmar              CAGR / max drawdown
 *   win rate            trades with net PnL > 0 / trades
 *   profit factor       Σ net PnL of winners / |Σ net PnL of losers|
 *   exposure            candles with a position held (any part of the candle) / candles
 *   average trade       mean net PnL (quote) and mean net return of the trades
 * Candles per year = 365 days / the timeframe (crypto trades every day). A metric that is not
 * defined (no variance, no drawdown, no trades, no losing trade) is null, never 0 or ∞.
 */

export const YEAR_MS = 365 * 86_400_000;

export interface Metrics {
  initialEquity: number;
  finalEquity: number;
  /** fractions: 0.12 = +12 % */
  totalReturn: number;
  cagr: number | null;
  sharpe: number | null;
  sortino: number | null;
  maxDrawdown: number;
  /** ms from the peak to recovery (or to the end when not recovered); 0 without a drawdown */
  maxDrawdownDurationMs: number;
  maxDrawdownRecovered: boolean;
  /** close time of the peak before the deepest trough, and of the trough (null without a drawdown) */
  maxDrawdownPeakTime: number | null;
  maxDrawdownTroughTime: number | null;
  /** the longest time spent below a previous peak, ms */
  longestDrawdownMs: number;
  calmar: number | null;
  trades: number;
  winRate: number | null;
  profitFactor: number | null;
  /** Σ net PnL of winning / losing trades (quote; losses ≤ 0) */
  grossProfit: number;
  grossLoss: number;
  averageTrade: number | null;
  averageTradeReturn: number | null;
  exposure: number;
  fees: number;
  slippageCost: number;
  candles: number;
  /** first candle's open and last candle's close, ms UTC */
  startTime: number;
  endTime: number;
  years: number;
}

export interface CurveInput {
  equity: Float64Array;
  /** open times of the candles the equity was marked at (same length) */
  time: Float64Array;
  timeframeMs: number;
  initialEquity: number;
  held: Uint8Array;
  trades: readonly Trade[];
}

export function computeMetrics(x: CurveInput): Metrics {
  const { equity, time, timeframeMs: tf, initialEquity: e0, held, trades } = x;
  const n = equity.length;
  if (n === 0 || time.length !== n || held.length !== n) throw new RangeError(`metrics: ${n} equity points, ${time.length} times, ${held.length} exposure flags`);
  const startTime = time[0] as number;
  const endTime = (time[n - 1] as number) + tf;
  const close = (k: number): number => (k < 0 ? startTime : (time[k] as number) + tf);
  const eN = equity[n - 1] as number;

  // returns: mean, variance, downside
  let prev = e0;
  let sum = 0;
  for (let k = 0; k < n; k++) {
    const e = equity[k] as number;
    sum += e / prev - 1;
    prev = e;
  }
  const mean = sum / n;
  prev = e0;
  let ss = 0;
  let down = 0;
  for (let k = 0; k < n; k++) {
    const e = equity[k] as number;
    const r = e / prev - 1;
    prev = e;
    ss += (r - mean) * (r - mean);
    if (r < 0) down += r * r;
  }
  const perYear = Math.sqrt(YEAR_MS / tf);
  const sd = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  const dd = Math.sqrt(down / n);
  const sharpe = sd > 0 ? (mean / sd) * perYear : null;
  const sortino = dd > 0 ? (mean / dd) * perYear : null;

  // drawdowns: the deepest, its peak and recovery; the longest time under water
  let peak = e0;
  let peakK = -1;
  let maxDd = 0;
  let mddPeakK = -1;
  let mddTroughK = -1;
  let longest = 0;
  for (let k = 0; k < n; k++) {
    const e = equity[k] as number;
    if (e >= peak) {
      if (peakK < k - 1) longest = Math.max(longest, close(k) - close(peakK));
      peak = e;
      peakK = k;
      continue;
    }
    const d = 1 - e / peak;
    if (d > maxDd) {
      maxDd = d;
      mddPeakK = peakK;
      mddTroughK = k;
    }
  }
  if (peakK < n - 1) longest = Math.max(longest, endTime - close(peakK));
  let recovered = true;
  let mddDuration = 0;
  if (maxDd > 0) {
    const level = mddPeakK < 0 ? e0 : (equity[mddPeakK] as number);
    let back = -1;
    for (let k = mddTroughK + 1; k < n; k++) {
      if ((equity[k] as number) >= level) {
        back = k;
        break;
      }
    }
    recovered = back >= 0;
    mddDuration = (back >= 0 ? close(back) : endTime) - close(mddPeakK);
  }

  const years = (endTime - startTime) / YEAR_MS;
  const growth = eN / e0;
  const cagr = years > 0 ? (growth > 0 ? growth ** (1 / years) - 1 : -1) : null;

  let wins = 0;
  let gp = 0;
  let gl = 0;
  let net = 0;
  let ret = 0;
  let fees = 0;
  let slip = 0;
  for (const t of trades) {
    if (t.netPnl > 0) {
      wins++;
      gp += t.netPnl;
    } else if (t.netPnl < 0) {
      gl += t.netPnl;
    }
    net += t.netPnl;
    ret += t.netReturn;
    fees += t.fees;
    slip += t.slippageCost;
  }
  let heldCount = 0;
  for (let k = 0; k < n; k++) heldCount += held[k] as number;
  const m = trades.length;
  return {
    initialEquity: e0,
    finalEquity: eN,
    totalReturn: growth - 1,
    cagr,
    sharpe,
    sortino,
    maxDrawdown: maxDd,
    maxDrawdownDurationMs: mddDuration,
    maxDrawdownRecovered: recovered,
    maxDrawdownPeakTime: maxDd > 0 ? close(mddPeakK) : null,
    maxDrawdownTroughTime: maxDd > 0 ? close(mddTroughK) : null,
    longestDrawdownMs: longest,
    calmar: cagr !== null && maxDd > 0 ? cagr / maxDd : null,
    trades: m,
    winRate: m > 0 ? wins / m : null,
    profitFactor: gl < 0 ? gp / -gl : null,
    grossProfit: gp,
    grossLoss: gl,
    averageTrade: m > 0 ? net / m : null,
    averageTradeReturn: m > 0 ? ret / m : null,
    exposure: heldCount / n,
    fees,
    slippageCost: slip,
    candles: n,
    startTime,
    endTime,
    years,
  };
}

/** drawdown at each close (fractions ≥ 0) against the running peak, which starts at `initial` */
export function drawdownSeries(equity: Float64Array, initial: number): Float64Array {
  const out = new Float64Array(equity.length);
  let peak = initial;
  for (let k = 0; k < equity.length; k++) {
    const e = equity[k] as number;
    if (e > peak) peak = e;
    out[k] = 1 - e / peak;
  }
  return out;
}
