import type { Balance, Fill, LedgerEntry, Position, Side } from '../../kernel/orders/types.js';
import { fmt, fmtMoney, sub } from './format.js';

/**
 * The paper account: one wallet of currencies (shared by every exchange the desk trades on
 * paper), reservations held by resting orders, and positions per exchange + symbol.
 *
 * Accounting rules
 *  - Fees are always in the quote currency. A buy pays notional + fee in quote; a sell receives
 *    notional − fee.
 *  - Positions use the average-cost method (not FIFO, which spot PnL for a desk does not need):
 *    a buy moves the average entry price to the amount-weighted mean of the old average and the
 *    fill price; a sell realises (price − average) × amount and leaves the average unchanged.
 *  - Fees reduce realised PnL where they are paid: a buy's fee is realised at once as a negative
 *    PnL (it is not folded into the average price, which would count it twice), a sell's fee is
 *    subtracted from what that sell realises. Each fill's effect is one LedgerEntry.
 *  - A position's realised PnL counts from when it was opened: it restarts when a buy opens a
 *    position from zero.
 *  - Base held from the starting balances has no known cost: selling it realises only the fee
 *    (no price PnL is made up for it).
 *  - `used` is derived from the reservations, never stored separately, so it cannot drift.
 */

export interface Reservation {
  currency: string;
  amount: number;
}

export interface PositionState {
  exchange: string;
  symbol: string;
  base: string;
  quote: string;
  amount: number;
  avgPrice: number;
  realisedPnl: number;
}

export interface AccountState {
  v: 1;
  /** operations applied (see persistence.ts: the write-ahead record carries the next one) */
  seq: number;
  /** currency → total held (free + used) */
  balances: Record<string, number>;
  /** client order id → what that resting order holds back */
  reservations: Record<string, Reservation>;
  /** "exchange symbol" → position */
  positions: Record<string, PositionState>;
  /** UTC days that have ledger entries, ascending */
  ledgerDays: string[];
}

export function newAccount(starting: Record<string, number>): AccountState {
  return { v: 1, seq: 0, balances: { ...starting }, reservations: {}, positions: {}, ledgerDays: [] };
}

export function cloneAccount(a: AccountState): AccountState {
  return structuredClone(a);
}

export function used(a: AccountState, currency: string): number {
  let sum = 0;
  for (const r of Object.values(a.reservations)) if (r.currency === currency) sum += r.amount;
  return sum;
}

export function free(a: AccountState, currency: string): number {
  return sub(a.balances[currency] ?? 0, used(a, currency));
}

/** why `amount` of `currency` cannot be spent now, or null when it can; `money`: format as a quote amount */
export function shortfall(a: AccountState, currency: string, amount: number, o: { money: boolean; hint?: string }): string | null {
  const f = free(a, currency);
  // a tiny tolerance: spending exactly the free balance must pass despite float noise
  if (amount <= f * (1 + 1e-12)) return null;
  const show = o.money ? fmtMoney : fmt;
  return `insufficient ${currency}: need ${show(amount)}, free ${show(f)}${o.hint ?? ''}`;
}

export function reserve(a: AccountState, orderId: string, currency: string, amount: number): void {
  a.reservations[orderId] = { currency, amount };
}

export function release(a: AccountState, orderId: string): void {
  delete a.reservations[orderId];
}

export interface FillTarget {
  orderId: string;
  exchange: string;
  symbol: string;
  base: string;
  quote: string;
  side: Side;
}

/** Applies one fill to balances and the position; returns its ledger entry. */
export function applyFill(a: AccountState, t: FillTarget, fill: Fill): LedgerEntry {
  const notional = fill.price * fill.amount;
  const key = `${t.exchange} ${t.symbol}`;
  let pos = a.positions[key];
  let realised: number;
  if (t.side === 'buy') {
    a.balances[t.quote] = sub(a.balances[t.quote] ?? 0, notional + fill.fee);
    a.balances[t.base] = (a.balances[t.base] ?? 0) + fill.amount;
    if (pos === undefined || pos.amount <= 0) {
      pos = { exchange: t.exchange, symbol: t.symbol, base: t.base, quote: t.quote, amount: 0, avgPrice: 0, realisedPnl: 0 };
      a.positions[key] = pos;
    }
    const amount = pos.amount + fill.amount;
    pos.avgPrice = (pos.amount * pos.avgPrice + notional) / amount;
    pos.amount = amount;
    realised = -fill.fee;
  } else {
    a.balances[t.base] = sub(a.balances[t.base] ?? 0, fill.amount);
    a.balances[t.quote] = (a.balances[t.quote] ?? 0) + notional - fill.fee;
    const held = pos !== undefined ? Math.min(pos.amount, fill.amount) : 0;
    realised = (pos !== undefined ? (fill.price - pos.avgPrice) * held : 0) - fill.fee;
    if (pos !== undefined) pos.amount = sub(pos.amount, held);
  }
  if (pos !== undefined) pos.realisedPnl += realised;
  return { orderId: t.orderId, exchange: t.exchange, symbol: t.symbol, side: t.side, fill, realisedPnl: realised, quote: t.quote };
}

/** currencies with anything in them, sorted */
export function balancesOf(a: AccountState): Balance[] {
  return [...new Set([...Object.keys(a.balances), ...Object.values(a.reservations).map((r) => r.currency)])]
    .sort()
    .map((currency) => {
      const total = a.balances[currency] ?? 0;
      const u = used(a, currency);
      return { currency, free: sub(total, u), used: u, total };
    })
    .filter((b) => b.total !== 0 || b.used !== 0);
}

/** non-zero positions only */
export function positionsOf(a: AccountState): Position[] {
  return Object.values(a.positions)
    .filter((p) => p.amount !== 0)
    .sort((x, y) => `${x.exchange} ${x.symbol}`.localeCompare(`${y.exchange} ${y.symbol}`))
    .map((p) => ({ exchange: p.exchange, symbol: p.symbol, amount: p.amount, avgPrice: p.avgPrice, realisedPnl: p.realisedPnl }));
}
