import type { BrokerUpdate, Fill, Order, OrderType, Side } from '../../kernel/orders/types.js';

/** A paper fill also says which price it came from (the kernel's Fill has no place for it; extra fields survive the journal). */
export interface PaperFill extends Fill {
  /** e.g. "last closed 5m candle 2021-07-17T21:05:00Z (close 31,706.33, …) + slippage model 3.6 bps" or "order book …" */
  basis: string;
  /** when that price was true: the candle's close time, the book's time */
  priceTime: number;
}

/**
 * Where an order is in the paper broker's life:
 *   awaiting-trigger  a stop / stop-limit whose stop price has not been crossed yet
 *   resting           a limit (or triggered stop-limit) waiting for the price to reach it
 *   done              filled, cancelled or failed
 */
export type Phase = 'awaiting-trigger' | 'resting' | 'done';

/** What the paper broker keeps per client order id. */
export interface PaperOrder {
  v: 1;
  id: string;
  exchange: string;
  symbol: string;
  /** from the exchange's markets; null when the order failed before the market was known */
  base: string | null;
  quote: string | null;
  side: Side;
  type: OrderType;
  amount: number;
  price?: number;
  stopPrice?: number;
  state: BrokerUpdate['state'];
  phase: Phase;
  filled: number;
  fills: PaperFill[];
  reason?: string;
  createdAt: number;
  updatedAt: number;
}

export function newRecord(order: Order, now: number): PaperOrder {
  return {
    v: 1,
    id: order.id,
    exchange: order.exchange,
    symbol: order.symbol,
    base: null,
    quote: null,
    side: order.side,
    type: order.type,
    amount: order.amount,
    ...(order.price !== undefined ? { price: order.price } : {}),
    ...(order.stopPrice !== undefined ? { stopPrice: order.stopPrice } : {}),
    state: 'acknowledged',
    phase: 'resting',
    filled: 0,
    fills: [],
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * The broker's answer for a record. "New" fills are those beyond the fills the caller's Order
 * already carries (the journal's view), not the ones this broker once returned: a gateway that
 * crashed before journaling an answer asks again and gets the fills it never stored.
 */
export function toUpdate(rec: PaperOrder, order: Pick<Order, 'fills'>, reason?: string): BrokerUpdate {
  const why = reason ?? rec.reason;
  // copies: the caller may keep or change them without touching the broker's record
  return { state: rec.state, fills: rec.fills.slice(order.fills.length).map((f) => ({ ...f })), ...(why !== undefined ? { reason: why } : {}) };
}
