import { cash, money, pct, utc } from './format.js';

/**
 * The running guards, as pure judgements of numbers the engine collects (engine.ts). Each says
 * ok, breached (trading halts) or unknown (the numbers could not be had: shown, not halted on —
 * a missing price of a held market is the stale-data guard's breach, so it is never silent).
 */

export type GuardName = 'daily-loss' | 'max-drawdown' | 'stale-data' | 'broker-errors';
export const GUARD_NAMES: readonly GuardName[] = ['daily-loss', 'max-drawdown', 'stale-data', 'broker-errors'];

export interface GuardResult {
  guard: GuardName;
  status: 'ok' | 'breached' | 'unknown';
  /** the numbers, e.g. "loss today 3,100.00 USDT > limit 3,000.00 USDT (realised …, unrealised …)" */
  detail: string;
}

const DAY = 86_400_000;
export const startOfUtcDay = (t: number): number => Math.floor(t / DAY) * DAY;

const signed = (x: number, currency: string): string => `${x > 0 ? '+' : x < 0 ? '−' : ''}${money(Math.abs(x))} ${currency}`;

/** realised PnL since 00:00 UTC plus unrealised PnL of the positions now, against the daily loss limit */
export function dailyLoss(pnl: { realised: number; unrealised: number } | Error, limit: number, currency: string): GuardResult {
  if (pnl instanceof Error) return { guard: 'daily-loss', status: 'unknown', detail: `PnL today unknown: ${pnl.message}` };
  const total = pnl.realised + pnl.unrealised;
  const loss = Math.max(0, -total);
  const parts = `realised ${signed(pnl.realised, currency)}, unrealised ${signed(pnl.unrealised, currency)}`;
  const breached = loss > limit;
  return {
    guard: 'daily-loss',
    status: breached ? 'breached' : 'ok',
    detail: `loss today ${cash(loss, currency)} ${breached ? '>' : '≤'} limit ${cash(limit, currency)} (${parts})`,
  };
}

/** equity's fall from its peak against maxDrawdownPct */
export function drawdown(x: { equity: number; peak: number; peakAt: number } | Error, limitPct: number, currency: string): GuardResult {
  if (x instanceof Error) return { guard: 'max-drawdown', status: 'unknown', detail: `equity unknown: ${x.message}` };
  const dd = drawdownPct(x.equity, x.peak);
  const breached = dd > limitPct;
  return {
    guard: 'max-drawdown',
    status: breached ? 'breached' : 'ok',
    detail: `drawdown ${pct(dd)} ${breached ? '>' : '≤'} limit ${pct(limitPct)} (equity ${cash(x.equity, currency)}, peak ${cash(x.peak, currency)} at ${utc(x.peakAt)})`,
  };
}

export function drawdownPct(equity: number, peak: number): number {
  return peak > 0 ? Math.max(0, ((peak - equity) / peak) * 100) : 0;
}

/** the peak after seeing `equity`: a new high replaces it; the first reading starts it */
export function nextPeak(peak: { equity: number; at: number } | undefined, equity: number, at: number): { equity: number; at: number } {
  return peak === undefined || equity > peak.equity ? { equity, at } : peak;
}

export interface PriceAge {
  exchange: string;
  symbol: string;
  /** when the ticker's price was true, or null with the reason when there is no price */
  time: number | null;
  error?: string;
}

/** every market with a position or an open order must have a price younger than the limit */
export function staleData(prices: readonly PriceAge[], now: number, limitSeconds: number, replay = false): GuardResult {
  if (prices.length === 0) return { guard: 'stale-data', status: 'ok', detail: 'no positions or open orders to watch' };
  if (replay) {
    // a record's series end where the record does; its fixed "now" makes every price look old
    const missing = prices.filter((p) => p.time === null);
    if (missing.length > 0) return { guard: 'stale-data', status: 'breached', detail: missing.map((p) => `${p.exchange} ${p.symbol} no price (${p.error ?? 'unknown reason'})`).join('; ') };
    return { guard: 'stale-data', status: 'ok', detail: `recorded data: ${prices.length} market${prices.length === 1 ? '' : 's'} priced; ages not checked against the replay's fixed now` };
  }
  const bad: string[] = [];
  let oldest = 0;
  for (const p of prices) {
    if (p.time === null) {
      bad.push(`${p.exchange} ${p.symbol} no price (${p.error ?? 'unknown reason'})`);
      continue;
    }
    const s = Math.max(0, (now - p.time) / 1000);
    oldest = Math.max(oldest, s);
    if (s > limitSeconds) bad.push(`${p.exchange} ${p.symbol} price from ${utc(p.time)} is ${Math.round(s)} s old > limit ${limitSeconds} s`);
  }
  if (bad.length > 0) return { guard: 'stale-data', status: 'breached', detail: bad.join('; ') };
  return { guard: 'stale-data', status: 'ok', detail: `${prices.length} market${prices.length === 1 ? '' : 's'}, oldest price ${Math.round(oldest)} s ≤ limit ${limitSeconds} s` };
}

/** broker failures (orders ending "failed") within the window before `now` */
export function brokerErrors(failures: readonly number[], now: number, maxFailures: number, windowMinutes: number): GuardResult {
  const from = now - windowMinutes * 60_000;
  const n = failures.filter((t) => t > from && t <= now).length;
  const breached = n > maxFailures;
  return {
    guard: 'broker-errors',
    status: breached ? 'breached' : 'ok',
    detail: `${n} broker failure${n === 1 ? '' : 's'} in the last ${windowMinutes} min ${breached ? '>' : '≤'} limit ${maxFailures}`,
  };
}
