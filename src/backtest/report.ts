import type { Trade } from './engine.js';
import type { Metrics } from './metrics.js';
import type { BacktestResult } from './run.js';
import type { Params } from './strategy.js';
import { utcMinute } from '../kernel/utc.js';

/**
 * A run as plain data (what `deskbot backtest --json` prints) and as the rows chat and the CLI
 * table show. Both are made from the same BacktestResult by the same functions, so the numbers
 * in chat and on the command line are the same numbers.
 */

export const FILL_RULE = "decisions on each candle's close (candles up to it only), filled at the next candle's open";

export interface ReportTrade {
  entryTime: string;
  exitTime: string;
  quantity: number;
  entryPrice: number;
  exitPrice: number;
  entryFee: number;
  exitFee: number;
  grossPnl: number;
  netPnl: number;
  netReturn: number;
  reason: Trade['reason'];
}

export interface BacktestReport {
  strategy: { name: string; label: string; description: string; params: Params };
  market: { exchange: string; symbol: string; timeframe: string; source: string };
  window: {
    /** first scored candle's open and last scored candle's close, UTC */
    from: string;
    to: string;
    candles: number;
    /** candles before the window read by the strategy's indicators only */
    warmupCandles: number;
    gaps: Array<{ after: string; before: string; missing: number }>;
  };
  assumptions: {
    initialCash: number;
    quote: string;
    sizing: { kind: 'fraction'; fraction: number } | { kind: 'fixed'; amount: number };
    feeRate: number;
    feeSource: string;
    slippage: { baseBps: number; impactBps: number };
    exits: { stopLoss: number | null; takeProfit: number | null; trailingStop: number | null };
    fills: string;
    longOnly: true;
  };
  metrics: { strategy: Metrics; buyAndHold: Metrics };
  walkForward: null | {
    train: number;
    test: number;
    objective: string;
    gridSize: number;
    windows: Array<{ train: { from: string; to: string }; test: { from: string; to: string }; params: Params; trainScore: number; trainTrades: number; testReturn: number; testTrades: number }>;
  };
  trades: ReportTrade[];
}

const DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** "2021-01-01" (UTC midnight), "2021-01-01T12:00" (UTC) or an ISO time with an offset → ms; else undefined */
export function parseUtcDate(s: string): number | undefined {
  if (!DATE.test(s)) return undefined;
  const text = s.replace(' ', 'T');
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/.test(text);
  const ms = Date.parse(text.includes('T') ? (zoned ? text : `${text}Z`) : `${text}T00:00:00Z`);
  return Number.isFinite(ms) ? ms : undefined;
}


export function toReport(r: BacktestResult): BacktestReport {
  const c = r.candles;
  const tf = r.meta.timeframeMs;
  const s = r.settings;
  const open = (i: number): string => utcMinute(c.time[i] as number);
  const closeOf = (i: number): string => utcMinute((c.time[i] as number) + tf);
  return {
    strategy: r.strategy,
    market: { exchange: r.meta.exchange, symbol: r.meta.symbol, timeframe: r.meta.timeframe, source: r.meta.source },
    window: {
      from: open(r.start),
      to: closeOf(r.end - 1),
      candles: r.end - r.start,
      warmupCandles: r.warmupCandles,
      gaps: r.gaps.map((g) => ({ after: utcMinute(g.after), before: utcMinute(g.before), missing: g.missing })),
    },
    assumptions: {
      initialCash: s.initialCash,
      quote: r.meta.symbol.split('/')[1] ?? '',
      sizing: s.sizing,
      feeRate: s.costs.feeRate,
      feeSource: s.costs.feeSource,
      slippage: { baseBps: s.costs.slippage.baseBps, impactBps: s.costs.slippage.impactBps },
      exits: s.exits,
      fills: FILL_RULE,
      longOnly: true,
    },
    metrics: { strategy: r.metrics, buyAndHold: r.buyAndHold },
    walkForward:
      r.walkForward === null
        ? null
        : {
            train: r.walkForward.settings.train,
            test: r.walkForward.settings.test,
            objective: r.walkForward.settings.objective,
            gridSize: r.walkForward.gridSize,
            windows: r.walkForward.windows.map((w) => ({
              train: { from: open(w.trainStart), to: closeOf(w.trainEnd - 1) },
              test: { from: open(w.testStart), to: closeOf(w.testEnd - 1) },
              params: w.params,
              trainScore: w.trainScore,
              trainTrades: w.trainTrades,
              testReturn: w.testReturn,
              testTrades: w.testTrades,
            })),
          },
    trades: r.trades.map((t) => ({
      entryTime: utcMinute(t.entryTime),
      exitTime: utcMinute(t.exitTime),
      quantity: t.quantity,
      entryPrice: t.entryPrice,
      exitPrice: t.exitPrice,
      entryFee: t.entryFee,
      exitFee: t.exitFee,
      grossPnl: t.grossPnl,
      netPnl: t.netPnl,
      netReturn: t.netReturn,
      reason: t.reason,
    })),
  };
}

// ---------------------------------------------------------------- formatting

const group = (s: string): string => s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** 1234.5 → "1,234.50" */
export function fmtMoney(v: number, decimals = 2): string {
  const s = Math.abs(v).toFixed(decimals);
  const [i, f] = s.split('.') as [string, string | undefined];
  const neg = v < 0 && Number(s) !== 0;
  return `${neg ? '-' : ''}${group(i)}${f !== undefined ? `.${f}` : ''}`;
}

/** 0.1234 → "+12.34 %" */
export function fmtPct(v: number | null, signed = true, decimals = 2): string {
  if (v === null) return 'n/a';
  const p = v * 100;
  const s = fmtMoney(p, decimals);
  return `${signed && Number(p.toFixed(decimals)) > 0 ? '+' : ''}${s} %`;
}

export function fmtRatio(v: number | null): string {
  return v === null ? 'n/a' : v.toFixed(2);
}

/** 1 d 5 h, 3 h 20 m, 45 m */
export function fmtDuration(ms: number): string {
  if (ms <= 0) return '0';
  const m = Math.round(ms / 60_000);
  const d = Math.floor(m / 1440);
  const h = Math.floor((m % 1440) / 60);
  const min = m % 60;
  if (d > 0) return h > 0 ? `${d} d ${h} h` : `${d} d`;
  if (h > 0) return min > 0 ? `${h} h ${min} m` : `${h} h`;
  return `${min} m`;
}

function profitFactor(m: Metrics): string {
  if (m.profitFactor !== null) return m.profitFactor.toFixed(2);
  if (m.trades === 0) return 'n/a (no trades)';
  return m.grossProfit > 0 ? '∞ (no losing trade)' : 'n/a';
}

function drawdownDuration(m: Metrics): string {
  if (m.maxDrawdown === 0) return '0';
  return `${fmtDuration(m.maxDrawdownDurationMs)}${m.maxDrawdownRecovered ? '' : ' (not recovered)'}`;
}

/** [label, formatter] for every metric row, in the order chat and the CLI show them */
export function metricRows(quote: string): Array<[string, (m: Metrics) => string]> {
  const money = (v: number | null): string => (v === null ? 'n/a' : `${v > 0 ? '+' : ''}${fmtMoney(v)} ${quote}`);
  return [
    ['final equity', (m) => `${fmtMoney(m.finalEquity)} ${quote}`],
    ['total return', (m) => fmtPct(m.totalReturn)],
    ['CAGR', (m) => fmtPct(m.cagr)],
    ['Sharpe (annualised)', (m) => fmtRatio(m.sharpe)],
    ['Sortino (annualised)', (m) => fmtRatio(m.sortino)],
    ['max drawdown', (m) => fmtPct(-m.maxDrawdown)],
    ['max drawdown duration', drawdownDuration],
    ['Calmar', (m) => fmtRatio(m.calmar)],
    ['trades', (m) => String(m.trades)],
    ['win rate', (m) => fmtPct(m.winRate, false, 1)],
    ['profit factor', profitFactor],
    ['average trade', (m) => (m.averageTrade === null ? 'n/a' : `${money(m.averageTrade)} (${fmtPct(m.averageTradeReturn)})`)],
    ['exposure', (m) => fmtPct(m.exposure, false, 1)],
    ['fees paid', (m) => `${fmtMoney(m.fees)} ${quote}`],
    ['slippage cost', (m) => `${fmtMoney(m.slippageCost)} ${quote}`],
  ];
}

/** the metrics table: [metric, strategy, buy & hold] rows */
export function metricsTable(report: BacktestReport): { header: string[]; rows: string[][] } {
  const q = report.assumptions.quote;
  return {
    header: ['metric', report.strategy.label, 'buy & hold'],
    rows: metricRows(q).map(([label, f]) => [label, f(report.metrics.strategy), f(report.metrics.buyAndHold)]),
  };
}

/** one line: what was tested, where, when */
export function headline(report: BacktestReport): string {
  const w = report.window;
  const m = report.market;
  return `${report.strategy.label} on ${m.exchange} ${m.symbol} ${m.timeframe}: ${w.from} → ${w.to} UTC, ${w.candles.toLocaleString('en-US')} candles${m.source === 'replay' ? ' (recorded data)' : ''}`;
}

/** the assumptions as key/value rows */
export function assumptionRows(report: BacktestReport): Array<[string, string]> {
  const a = report.assumptions;
  const e = a.exits;
  const exits = [
    e.stopLoss !== null ? `stop-loss ${fmtPct(e.stopLoss, false)}` : null,
    e.takeProfit !== null ? `take-profit ${fmtPct(e.takeProfit, false)}` : null,
    e.trailingStop !== null ? `trailing stop ${fmtPct(e.trailingStop, false)}` : null,
  ].filter((x) => x !== null);
  const gaps = report.window.gaps;
  const missing = gaps.reduce((s, g) => s + g.missing, 0);
  return [
    ['fills', `${a.fills}; long only (spot)`],
    ['costs', `taker fee ${fmtPct(a.feeRate, false, 3)} (${a.feeSource}); slippage ${a.slippage.baseBps} bps + ${a.slippage.impactBps} bps × √(notional / last candle's quote volume) × 100, as the paper broker`],
    ['sizing', a.sizing.kind === 'fraction' ? `${fmtPct(a.sizing.fraction, false, 0)} of equity per entry, fee included` : `${fmtMoney(a.sizing.amount)} ${a.quote} per entry, fee included`],
    ['exits', exits.length > 0 ? `${exits.join(', ')} (taker fills at the level, or at the open when the candle opened through it; stop first when both are hit in one candle)` : 'strategy signals only'],
    ['start', `${fmtMoney(a.initialCash)} ${a.quote}; buy & hold buys with all of it at the first open, both sell at the last close`],
    ['warm-up', `${report.window.warmupCandles.toLocaleString('en-US')} earlier candles read by indicators, never traded`],
    [
      'gaps',
      gaps.length === 0
        ? 'none'
        : `${gaps.length} in the record (${missing} candles missing): held positions stay open across them, fills go to the next recorded open, and the strategy warms up again after each`,
    ],
  ];
}

/** the walk-forward windows as a grid */
export function walkForwardTable(report: BacktestReport): { header: string[]; rows: string[][] } | null {
  const wf = report.walkForward;
  if (wf === null) return null;
  return {
    header: ['#', 'train (UTC)', 'test (UTC)', 'chosen', `train ${wf.objective}`, 'test return', 'test trades'],
    rows: wf.windows.map((w, i) => [
      String(i + 1),
      `${w.train.from} → ${w.train.to}`,
      `${w.test.from} → ${w.test.to}`,
      Object.entries(w.params)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
      wf.objective === 'return' ? fmtPct(w.trainScore) : w.trainScore.toFixed(2),
      fmtPct(w.testReturn),
      String(w.testTrades),
    ]),
  };
}

/** plain text of a whole report (the CLI without --json) */
export function reportText(report: BacktestReport): string {
  const lines: string[] = [headline(report), ''];
  const t = metricsTable(report);
  lines.push(grid(t.header, t.rows), '');
  const wf = walkForwardTable(report);
  if (wf !== null && report.walkForward !== null) {
    lines.push(`walk-forward: ${report.walkForward.windows.length} windows, train ${report.walkForward.train} / test ${report.walkForward.test} candles, ${report.walkForward.gridSize} parameter sets ranked by ${report.walkForward.objective} on train; only test windows are scored`);
    lines.push(grid(wf.header, wf.rows), '');
  }
  const a = assumptionRows(report);
  const w = Math.max(...a.map(([k]) => k.length));
  for (const [k, v] of a) lines.push(`${k.padEnd(w)}  ${v}`);
  return `${lines.join('\n')}\n`;
}

function grid(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]): string => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ').trimEnd();
  return [line(header), widths.map((x) => '-'.repeat(x)).join('  '), ...rows.map(line)].join('\n');
}
