import { block, reply, type HaltStatus, type Reply } from '../../src/kernel/index.js';
import { LIMIT_NAMES, type LimitName, type Limits } from './config.js';
import type { GuardRun, Snapshot } from './engine.js';
import { drawdownPct, type GuardResult } from './guards.js';
import { cash, pct, utc } from './format.js';
import { formatLimit, LIMIT_INFO } from './limits.js';

/** What `/risk` and `/limits` show. Pure: the engine collects, these only lay out. */

const PER_ORDER = 'per order';

function headroomMoney(limit: number, used: number, currency: string): string {
  const h = limit - used;
  return h >= 0 ? cash(h, currency) : `over by ${cash(-h, currency)}`;
}

/** each limit's current use and headroom, in /risk's table */
export function usageRows(s: Snapshot): string[][] {
  const l = s.limits;
  const c = s.currency;
  const star = (n: LimitName): string => (s.overridden.includes(n) ? `${n} *` : n);
  const unknown = (e: Error): [string, string] => [`unknown (${e.message})`, '—'];
  const rows: Array<[LimitName, string, string]> = [];

  rows.push(['maxOrderNotional', PER_ORDER, '—']);

  const largest = s.positions.reduce<{ symbol: string; notional: number } | null>(
    (m, p) => (p.notional !== null && (m === null || p.notional > m.notional) ? { symbol: `${p.exchange}:${p.symbol}`, notional: p.notional } : m),
    null,
  );
  if (largest === null) rows.push(['maxPositionNotional', s.positions.length === 0 ? 'no positions' : 'positions not priced', s.positions.length === 0 ? cash(l.maxPositionNotional, c) : '—']);
  else rows.push(['maxPositionNotional', `${largest.symbol} ${cash(largest.notional, c)} (largest)`, headroomMoney(l.maxPositionNotional, largest.notional, c)]);

  if (s.gross instanceof Error) rows.push(['maxGrossExposure', ...unknown(s.gross)]);
  else rows.push(['maxGrossExposure', cash(s.gross, c), headroomMoney(l.maxGrossExposure, s.gross, c)]);

  const open = s.open.length;
  rows.push(['maxOpenOrders', `${open} open`, open <= l.maxOpenOrders ? `${l.maxOpenOrders - open} more` : `over by ${open - l.maxOpenOrders}`]);

  if (l.allowedSymbols.length === 0) rows.push(['allowedSymbols', 'every market', '—']);
  else {
    const outside = s.positions.filter((p) => !l.allowedSymbols.some((a) => a === p.symbol || a === `${p.exchange}:${p.symbol}`));
    rows.push(['allowedSymbols', outside.length === 0 ? 'all positions inside' : `held outside: ${outside.map((p) => p.symbol).join(', ')}`, '—']);
  }
  rows.push(['maxSpreadBps', PER_ORDER, '—']);
  rows.push(['minBookDepthQuote', PER_ORDER, '—']);
  rows.push(['priceBandPct', PER_ORDER, '—']);

  if (s.pnl instanceof Error) rows.push(['dailyLossLimit', ...unknown(s.pnl)]);
  else {
    const loss = Math.max(0, -(s.pnl.realised + s.pnl.unrealised));
    rows.push(['dailyLossLimit', `loss today ${cash(loss, c)}`, headroomMoney(l.dailyLossLimit, loss, c)]);
  }

  if (s.equity instanceof Error) rows.push(['maxDrawdownPct', ...unknown(s.equity)]);
  else {
    const dd = drawdownPct(s.equity.equity, s.equity.peak);
    const h = l.maxDrawdownPct - dd;
    rows.push(['maxDrawdownPct', `${pct(dd)} (equity ${cash(s.equity.equity, c)}, peak ${cash(s.equity.peak, c)})`, h >= 0 ? pct(h) : `over by ${pct(-h)}`]);
  }

  const ages = s.prices.filter((p) => p.time !== null).map((p) => (s.marketNow - (p.time as number)) / 1000);
  const missing = s.prices.filter((p) => p.time === null).length;
  const without = missing > 0 ? `, ${missing} without a price` : '';
  if (s.prices.length === 0) rows.push(['staleDataSeconds', 'nothing held', '—']);
  else if (s.replay) rows.push(['staleDataSeconds', `recorded data: ages not checked${without}`, missing > 0 ? 'breached' : '—']);
  else {
    const oldest = ages.length === 0 ? null : Math.max(0, ...ages);
    const text = `${oldest === null ? 'no prices' : `oldest price ${Math.round(oldest)} s`}${without}`;
    const room = oldest === null || missing > 0 ? 'breached' : oldest <= l.staleDataSeconds ? `${Math.round(l.staleDataSeconds - oldest)} s` : `over by ${Math.round(oldest - l.staleDataSeconds)} s`;
    rows.push(['staleDataSeconds', text, room]);
  }

  const windowMs = l['brokerErrorRate.windowMinutes'] * 60_000;
  const failures = s.failures.filter((t) => t > s.at - windowMs && t <= s.at).length;
  const max = l['brokerErrorRate.maxFailures'];
  rows.push(['brokerErrorRate.maxFailures', `${failures} in the window`, failures <= max ? `${max - failures} more` : `over by ${failures - max}`]);
  rows.push(['brokerErrorRate.windowMinutes', '—', '—']);

  return rows.map(([n, now, room]) => [star(n), formatLimit(n, l[n], c), now, room]);
}

function guardRows(run: GuardRun | null): string[][] {
  if (run === null) return [['—', 'not run yet', '']];
  return run.results.map((r: GuardResult) => [r.guard, r.status === 'breached' ? 'BREACHED' : r.status, r.detail]);
}

export function riskReply(s: Snapshot, run: GuardRun, halt: HaltStatus): Reply {
  const blocks = [
    block.table(['limit', 'value', 'now', 'headroom'], usageRows(s), { title: `Risk limits (${s.currency})`, align: ['left', 'right', 'left', 'right'] }),
  ];
  if (s.overridden.length > 0) blocks.push(block.text('* set with /limits set (config values: /limits)'));
  blocks.push(block.table(['guard', 'state', 'detail'], guardRows(run), { title: `Guards (evaluated ${utc(run.at)})` }));
  const breached = run.results.some((r) => r.status === 'breached');
  blocks.push(
    halt.halted
      ? block.text(`Trading is HALTED${halt.by ? ` by ${halt.by}` : ''}${halt.since ? ` since ${halt.since}` : ''}: ${halt.reason ?? 'no reason given'}`, 'error')
      : block.text(breached ? 'Trading is open, but a guard is breached' : 'Trading is open', breached ? 'warn' : 'ok'),
  );
  return reply.of(...blocks);
}

/** `/limits`: every limit with its value, the config's value and who changed it */
export function limitsReply(
  state: { limits: Limits; overridden: LimitName[]; meta: Record<string, { by: string; at: number }> },
  configValue: (n: LimitName) => Limits[LimitName],
  currency: string,
): Reply {
  const rows = LIMIT_NAMES.map((n) => {
    const m = state.meta[n];
    const set = state.overridden.includes(n) ? (m ? `${m.by}, ${utc(m.at)}` : 'yes') : '';
    return [n, formatLimit(n, state.limits[n], currency), formatLimit(n, configValue(n), currency), set, LIMIT_INFO[n].summary];
  });
  return reply.of(
    block.table(['limit', 'value', 'config', 'set by', 'what'], rows, { title: `Risk limits (${currency})` }),
    block.text('Change one: /limits set <name> <value>; back to the config value: /limits reset <name>'),
  );
}
