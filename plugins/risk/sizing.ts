import { ta, UserError, type LedgerEntry, type OrderSide } from '../../src/kernel/index.js';
import { cash, num, pct } from './format.js';

/**
 * Sizing for "risk %" orders: how much to buy or sell so that the trade risks `riskPct` % of
 * equity. riskPct always means "the share of equity lost in the adverse case"; the methods differ
 * in what the adverse case is:
 *
 *  - with a stop: the stop is hit.        amount = equity × riskPct / |price − stop|
 *  - volatility:  a one-σ day (realised volatility of recent candles): the position's daily
 *                 volatility is riskPct of equity. notional = equity × riskPct / σ_day, capped so
 *                 its annualised volatility is at most targetVolPct of equity.
 *  - kelly:       capped fractional Kelly from the desk's own closed trades (win rate p, payoff
 *                 b = average win / average loss, f* = p − (1 − p) / b): notional = equity ×
 *                 min(kellyFraction × f*, kellyCap). There is no adverse-move model here, so the
 *                 worst case of a spot position (the whole notional) is what riskPct bounds:
 *                 notional ≤ equity × riskPct.
 *
 * Every size is then capped by maxOrderNotional (an order the pre-trade check would refuse is no
 * use to anyone). Prices and candles come from ctx.market only; equity from the broker's balances.
 * The arithmetic is here, pure; engine.ts fetches the numbers.
 */

export interface SizeRequest {
  exchange: string;
  symbol: string;
  side: OrderSide;
  /** percent of equity at risk, e.g. 0.5 for 0.5 % */
  riskPct: number;
  /** protective stop: below the price for a buy, above it for a sell */
  stopPrice?: number;
}

export type SizeMethod = 'stop' | 'volatility' | 'kelly';

export interface SizeResult {
  /** base amount */
  amount: number;
  /** amount × price, in the market's quote */
  notional: number;
  method: SizeMethod;
  /** the arithmetic with its numbers */
  detail: string;
  price: number;
  equity: number;
  /** maxOrderNotional cut the size */
  capped: boolean;
}

/** the size before the order-notional cap, in the market's quote */
export interface RawSize {
  notional: number;
  detail: string;
}

interface Common {
  /** equity in the market's quote currency */
  equity: number;
  riskPct: number;
  price: number;
  quote: string;
}

export function sizeWithStop(x: Common & { side: OrderSide; stop: number }): RawSize {
  if (!(x.stop > 0)) throw new UserError(`stop ${num(x.stop)} is not a price`);
  if (x.side === 'buy' && x.stop >= x.price) throw new UserError(`a buy's stop must be below the price: stop ${num(x.stop)} ≥ price ${num(x.price)}`);
  if (x.side === 'sell' && x.stop <= x.price) throw new UserError(`a sell's stop must be above the price: stop ${num(x.stop)} ≤ price ${num(x.price)}`);
  const risk = (x.equity * x.riskPct) / 100;
  const distance = Math.abs(x.price - x.stop);
  const amount = risk / distance;
  return {
    notional: amount * x.price,
    detail: `risk ${pct(x.riskPct)} of equity ${cash(x.equity, x.quote)} = ${cash(risk, x.quote)} over the stop distance ${num(distance)} (price ${num(x.price)}, stop ${num(x.stop)})`,
  };
}

/** σ of one day's log return from `n` returns of candles `tfMs` long (crypto trades every day: √(day/tf)) */
export function dailyVol(close: Float64Array, n: number, tfMs: number): number {
  const v = ta.realizedVol(close, n, 1);
  const last = v[v.length - 1];
  if (last === undefined || !Number.isFinite(last)) throw new UserError(`not enough candles for realised volatility: ${close.length} closes, ${n + 1} needed`);
  return last * Math.sqrt(86_400_000 / tfMs);
}

export function sizeByVolatility(x: Common & { sigmaDay: number; targetVolPct: number; basis: string }): RawSize {
  if (!(x.sigmaDay > 0)) throw new UserError(`realised volatility is ${x.sigmaDay} (${x.basis}): volatility sizing needs prices that move`);
  const byRisk = (x.equity * x.riskPct) / 100 / x.sigmaDay;
  const sigmaYear = x.sigmaDay * Math.sqrt(365);
  const cap = (x.equity * x.targetVolPct) / 100 / sigmaYear;
  const first = `daily volatility ${pct(x.sigmaDay * 100)} (${x.basis}); position's daily volatility = ${pct(x.riskPct)} of equity ${cash(x.equity, x.quote)}: notional ${cash(byRisk, x.quote)}`;
  if (byRisk <= cap) return { notional: byRisk, detail: first };
  return {
    notional: cap,
    detail: `${first}, capped at ${cash(cap, x.quote)} so its annualised volatility (${pct(sigmaYear * 100)} a year) is ${pct(x.targetVolPct)} of equity (targetVolPct)`,
  };
}

export interface KellyStats {
  trades: number;
  wins: number;
  losses: number;
  winRate: number;
  /** average win / average loss; Infinity with no losing trade */
  payoff: number;
  /** full Kelly f* = p − (1 − p) / b */
  full: number;
}

/** win rate and payoff of closed trades' PnL (zero-PnL trades count as neither) */
export function kellyStats(outcomes: readonly number[]): KellyStats {
  const wins = outcomes.filter((x) => x > 0);
  const losses = outcomes.filter((x) => x < 0);
  const trades = wins.length + losses.length;
  const winRate = trades === 0 ? 0 : wins.length / trades;
  const avgWin = wins.length === 0 ? 0 : wins.reduce((a, b) => a + b, 0) / wins.length;
  const avgLoss = losses.length === 0 ? 0 : -losses.reduce((a, b) => a + b, 0) / losses.length;
  const payoff = avgLoss === 0 ? (avgWin > 0 ? Number.POSITIVE_INFINITY : 0) : avgWin / avgLoss;
  const full = payoff === Number.POSITIVE_INFINITY ? winRate : payoff === 0 ? -1 : winRate - (1 - winRate) / payoff;
  return { trades, wins: wins.length, losses: losses.length, winRate, payoff, full };
}

/**
 * Closed trades from the ledger: the realised PnL of each order whose fills realised something
 * beyond their fees. An order that only opened or added to a position realises just its fee (a
 * buy's fee is a negative PnL), so it is not a trade outcome.
 */
export function closedTrades(entries: readonly LedgerEntry[]): number[] {
  const byOrder = new Map<string, { pnl: number; gross: number; notional: number }>();
  for (const e of entries) {
    const base = e.symbol.split('/')[0];
    const feeQuote = e.fill.feeCurrency === e.quote ? e.fill.fee : e.fill.feeCurrency === base ? e.fill.fee * e.fill.price : 0;
    const o = byOrder.get(e.orderId) ?? { pnl: 0, gross: 0, notional: 0 };
    o.pnl += e.realisedPnl;
    o.gross += e.realisedPnl + feeQuote;
    o.notional += e.fill.price * e.fill.amount;
    byOrder.set(e.orderId, o);
  }
  return [...byOrder.values()].filter((o) => Math.abs(o.gross) > 1e-9 * Math.max(1, o.notional)).map((o) => o.pnl);
}

export function sizeByKelly(
  x: Common & { stats: KellyStats; kellyFraction: number; kellyCap: number; minTrades: number; lookbackDays: number },
): RawSize {
  const s = x.stats;
  const record = `${s.trades} closed trades in ${x.lookbackDays} days: win rate ${pct(s.winRate * 100)}, payoff ${Number.isFinite(s.payoff) ? s.payoff.toFixed(2) : '∞ (no losing trade)'}`;
  if (s.trades < x.minTrades) {
    throw new UserError(`Kelly sizing needs at least ${x.minTrades} closed trades in the ledger of the last ${x.lookbackDays} days; there are ${s.trades}. Give a stop, or size by volatility.`);
  }
  if (!(s.full > 0)) throw new UserError(`Kelly sizing refuses: no edge in the ledger (${record}, full Kelly ${pct(s.full * 100)} ≤ 0)`);
  const kelly = Math.min(x.kellyFraction * s.full, x.kellyCap);
  const f = Math.min(kelly, x.riskPct / 100);
  const why =
    f < kelly
      ? `, capped at riskPct ${pct(x.riskPct)} (the whole notional is the loss bound without a stop)`
      : kelly < x.kellyFraction * s.full
        ? `, capped at kellyCap ${pct(x.kellyCap * 100)}`
        : '';
  return {
    notional: x.equity * f,
    detail: `${record}; full Kelly ${pct(s.full * 100)} × ${x.kellyFraction} = ${pct(x.kellyFraction * s.full * 100)} of equity ${cash(x.equity, x.quote)}${why}: notional ${cash(x.equity * f, x.quote)}`,
  };
}

/** the raw size capped by maxOrderNotional (in the quote), as an amount */
export function finish(raw: RawSize, o: { method: SizeMethod; price: number; equity: number; maxNotional: number; quote: string; base: string }): SizeResult {
  const capped = raw.notional > o.maxNotional;
  const notional = capped ? o.maxNotional : raw.notional;
  const amount = notional / o.price;
  const tail = capped ? `; capped by maxOrderNotional ${cash(o.maxNotional, o.quote)}` : '';
  return {
    amount,
    notional,
    method: o.method,
    detail: `${raw.detail}${tail} → ${num(amount)} ${o.base} ≈ ${cash(notional, o.quote)} at ${num(o.price)}`,
    price: o.price,
    equity: o.equity,
    capped,
  };
}
