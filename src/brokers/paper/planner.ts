import type { OrderType, Side } from '../../kernel/orders/types.js';
import { describeTouch, marketable, stopTriggered, takerExecution, type Execution, type PriceView, type SlippageModel } from './fill-model.js';
import { fmt, sub } from './format.js';

/**
 * What an order does when it reaches the market — at placement, or when a stop is triggered —
 * given the price view (pure; place() applies it to the account, estimate() describes it):
 *   market       a taker fill of everything now, or a failure (book too thin …)
 *   limit        marketable (buy limit ≥ ask/last, sell limit ≤ bid/last): a taker fill now at
 *                the better of the limit and the market; on a book only the levels within the
 *                limit are taken and the rest of the order rests. Otherwise it rests.
 *   stop         once the price crosses the stop (buy: ≥ stop; sell: ≤ stop) it is a market
 *                order; a stop already crossed at placement triggers at once
 *   stop-limit   once triggered it is a limit at `price`
 */

export type ExecutionOk = Extract<Execution, { ok: true }>;

export type Arrival =
  | { kind: 'fail'; reason: string }
  /** a taker fill now; `rest` base (> 0 only for a limit on a book) then rests at `limit` */
  | { kind: 'take'; exec: ExecutionOk; rest: number; limit?: number; prefix: string }
  /** nothing fills now: rests at the limit */
  | { kind: 'rest'; limit: number }
  | { kind: 'await-trigger' };

export interface Plannable {
  side: Side;
  type: OrderType;
  price?: number | undefined;
  stopPrice?: number | undefined;
}

export function planArrival(view: PriceView, o: Plannable, remaining: number, model: SlippageModel): Arrival {
  let prefix = '';
  let type = o.type;
  if (type === 'stop' || type === 'stop-limit') {
    const stop = o.stopPrice as number;
    if (!stopTriggered(view, o.side, stop)) return { kind: 'await-trigger' };
    prefix = `stop ${fmt(stop)} crossed (${describeTouch(view, o.side)}); `;
    type = type === 'stop' ? 'market' : 'limit';
  }
  if (type === 'market') {
    const exec = takerExecution(view, o.side, remaining, model);
    return exec.ok ? { kind: 'take', exec, rest: 0, prefix } : { kind: 'fail', reason: prefix + exec.reason };
  }
  const limit = o.price as number;
  if (!marketable(view, o.side, limit)) return { kind: 'rest', limit };
  const exec = takerExecution(view, o.side, remaining, model, limit);
  if (!exec.ok) return { kind: 'fail', reason: prefix + exec.reason };
  return { kind: 'take', exec, rest: Math.max(0, sub(remaining, exec.amount)), limit, prefix };
}

/** the quote value the order would have as planned (for the market's minimum order value) */
export function plannedNotional(plan: Arrival, o: Plannable, amount: number): number {
  switch (plan.kind) {
    case 'take':
      return plan.exec.price * plan.exec.amount + (plan.limit ?? 0) * plan.rest;
    case 'rest':
      return plan.limit * amount;
    case 'await-trigger':
      return ((o.type === 'stop-limit' ? o.price : o.stopPrice) as number) * amount;
    case 'fail':
      return Number.NaN;
  }
}

/** why an order (or request) is malformed, or null */
export function checkShape(o: Plannable & { amount: number }): string | null {
  const positive = (n: number | undefined): boolean => n !== undefined && Number.isFinite(n) && n > 0;
  if (!positive(o.amount)) return `amount must be a positive number, got ${o.amount}`;
  if ((o.type === 'limit' || o.type === 'stop-limit') && !positive(o.price)) return `a ${o.type} order needs a positive limit price`;
  if ((o.type === 'stop' || o.type === 'stop-limit') && !positive(o.stopPrice)) return `a ${o.type} order needs a positive stop price`;
  if (!['market', 'limit', 'stop', 'stop-limit'].includes(o.type)) return `unknown order type "${String(o.type)}"`;
  return null;
}
