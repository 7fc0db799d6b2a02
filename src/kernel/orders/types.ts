import type { Channel, Principal } from '../auth/principal.js';
import type { HaltStatus } from '../halt.js';

/**
 * The order contracts: what a plugin asks for (OrderRequest), what the journal keeps (Order),
 * what a broker does (Broker), and what a risk check answers (RiskCheck). Amounts are in the
 * base currency, prices and notionals in the quote currency, times in ms UTC.
 */

export type Side = 'buy' | 'sell';
export type OrderType = 'market' | 'limit' | 'stop' | 'stop-limit';

/**
 * The life of an order. Every change is journaled before it is acted on:
 *   requested → checked → sent → acknowledged → partially-filled → filled
 *   requested → rejected (halt, permission, a risk check)          [final]
 *   sent | acknowledged | partially-filled → cancelled | failed       [final]
 */
export type OrderState =
  | 'requested'
  | 'checked'
  | 'rejected'
  | 'sent'
  | 'acknowledged'
  | 'partially-filled'
  | 'filled'
  | 'cancelled'
  | 'failed';

export const FINAL_STATES: ReadonlySet<OrderState> = new Set(['rejected', 'filled', 'cancelled', 'failed']);
/** states in which an order may be resting at the broker */
export const OPEN_STATES: ReadonlySet<OrderState> = new Set(['sent', 'acknowledged', 'partially-filled']);

export type BrokerKind = 'paper' | 'live';

export interface OrderRequest {
  exchange: string;
  /** unified symbol, e.g. "BTC/USDT" (already resolved) */
  symbol: string;
  side: Side;
  type: OrderType;
  /** base amount, > 0 */
  amount: number;
  /** limit price (limit, stop-limit) */
  price?: number;
  /** trigger price (stop, stop-limit) */
  stopPrice?: number;
  /**
   * Idempotency key, derived from the chat message that asked (platform:messageId, plus a leg
   * suffix for orders a command splits, e.g. a TWAP slice). The same key never places twice.
   */
  key: string;
  /** plugin or command that asked, for the journal */
  origin: string;
  note?: string;
}

export interface Fill {
  price: number;
  amount: number;
  /** fee in feeCurrency */
  fee: number;
  feeCurrency: string;
  liquidity: 'maker' | 'taker';
  time: number;
}

export interface OrderEvent {
  state: OrderState;
  at: number;
  note?: string;
}

/** An order as the journal keeps it. */
export interface Order extends OrderRequest {
  /** client order id: derived from `key`, the id a broker (and the exchange) sees */
  id: string;
  state: OrderState;
  broker: BrokerKind;
  /** person id who asked (or approved for automation) */
  requestedBy: string;
  /** base amount filled so far */
  filled: number;
  /** volume-weighted average fill price, null before the first fill */
  avgPrice: number | null;
  /** total fees paid, in feeCurrency (null before any fill) */
  fees: number;
  feeCurrency: string | null;
  fills: Fill[];
  /** why it was rejected, cancelled or failed */
  reason?: string;
  /** the exchange's id once the live broker has sent it */
  exchangeOrderId?: string;
  /** the risk checks it passed or failed, as shown to the person */
  checks?: RiskCheckResult[];
  createdAt: number;
  updatedAt: number;
  history: OrderEvent[];
}

/** What a broker says happened to an order (placement, a poll, a cancel). */
export interface BrokerUpdate {
  state: 'acknowledged' | 'partially-filled' | 'filled' | 'cancelled' | 'failed';
  /** fills not reported before, in order */
  fills: Fill[];
  exchangeOrderId?: string;
  reason?: string;
}

export interface Balance {
  currency: string;
  free: number;
  used: number;
  total: number;
}

export interface Position {
  exchange: string;
  symbol: string;
  /** base amount held; negative for a short (paper spot never goes short) */
  amount: number;
  avgPrice: number;
  /** realised PnL in the quote currency, net of fees, since the position was opened */
  realisedPnl: number;
}

/** A fill with what it did to realised PnL, for /pnl over a period. */
export interface LedgerEntry {
  orderId: string;
  exchange: string;
  symbol: string;
  side: Side;
  fill: Fill;
  /** realised PnL of this fill in quote, fees included (a buy's fee is a negative PnL) */
  realisedPnl: number;
  quote: string;
}

/**
 * A broker executes orders the gateway has already checked. Every method is keyed by the
 * client order id so a retry after a crash is safe: placing an id the broker already has
 * returns what it has instead of placing again.
 */
export interface Broker {
  readonly kind: BrokerKind;
  place(order: Order): Promise<BrokerUpdate>;
  cancel(order: Order): Promise<BrokerUpdate>;
  /** what the broker knows of an order (after a crash, or to poll a resting order); null: never seen */
  lookup(order: Order): Promise<BrokerUpdate | null>;
  balances(): Promise<Balance[]>;
  positions(): Promise<Position[]>;
  /** realised PnL entries since a time (for /pnl) */
  ledger(since: number): Promise<LedgerEntry[]>;
  /** what a fill would likely cost now, for the confirm step and the risk checks; nothing is placed */
  estimate(req: OrderRequest): Promise<Estimate>;
  close(): Promise<void>;
}

/** The expected execution of an order, from real prices (a book, a ticker, the last candle). */
export interface Estimate {
  /** expected average fill price (limit orders: the limit price) */
  price: number;
  /** last traded / reference price the estimate starts from */
  reference: number;
  /** expected slippage vs reference in basis points (0 for a resting limit) */
  slippageBps: number;
  notional: number;
  fee: number;
  feeRate: number;
  feeCurrency: string;
  liquidity: 'maker' | 'taker';
  /** where the fee rate came from, e.g. "binance markets" or "config default (exchange gives none)" */
  feeSource: string;
  /** where the price came from, e.g. "order book (7 levels)" or "last 5m close 2024-01-02 03:05 UTC + slippage model" */
  basis: string;
  /** best bid/ask spread in bps when a book or ticker gives one */
  spreadBps: number | null;
  /** quote notional available within 1 % of the reference on the order's side, when a book gives one */
  depthQuote: number | null;
  /** when the reference price was true */
  priceTime: number;
}

/** What a risk check sees. */
export interface RiskCheckInput {
  order: OrderRequest;
  requestedBy: string;
  /** the broker's estimate: price, notional, spread, depth, price time */
  estimate: Estimate;
  quote: string;
  positions: Position[];
  openOrders: Order[];
  balances: Balance[];
}

export interface RiskCheckResult {
  name: string;
  ok: boolean;
  /** the numbers, e.g. "notional 1,234.50 USDT ≤ 5,000 USDT" */
  detail: string;
}

export interface RiskCheck {
  /** short, e.g. "max-order-notional" */
  name: string;
  check(input: RiskCheckInput): RiskCheckResult | Promise<RiskCheckResult>;
}

/** Who is asking and where: the gateway checks `trade:execute` for this principal in this channel. */
export interface Requester {
  principal: Principal;
  channel: Channel;
}

export interface Preview {
  estimate: Estimate;
  checks: RiskCheckResult[];
  halt: HaltStatus;
  /** false when halted or any check fails: the order would be refused */
  wouldPass: boolean;
}

export interface HaltOutcome {
  status: HaltStatus;
  /** true when this call halted; false when trading was already halted (the original halt stands) */
  changed: boolean;
  cancelled: Order[];
  /** orders that could not be cancelled, with the broker's reason */
  cancelFailures: Array<{ order: Order; reason: string }>;
}

/**
 * The order gateway as plugins see it (ctx.orders). The only path to a broker: halt state,
 * permission, idempotency key, every registered risk check, then the broker; every state
 * change journaled before it is acted on.
 */
export interface OrderService {
  readonly mode: BrokerKind;
  /** the order as it ends up: rejected (with the reason), or sent / acknowledged / filled */
  place(req: OrderRequest, as: Requester): Promise<Order>;
  /** what placing would cost and which checks would pass, without placing anything */
  preview(req: OrderRequest, as: Requester): Promise<Preview>;
  cancel(id: string, as: Requester): Promise<Order>;
  get(id: string): Promise<Order | undefined>;
  /** the order an idempotency key placed, if any */
  byKey(key: string): Promise<Order | undefined>;
  open(): Promise<Order[]>;
  /** newest first */
  recent(limit: number): Promise<Order[]>;
  balances(): Promise<Balance[]>;
  positions(): Promise<Position[]>;
  ledger(since: number): Promise<LedgerEntry[]>;
  estimate(req: OrderRequest): Promise<Estimate>;
  /** a pre-trade check run on every order after the built-in ones; returns its removal */
  addRiskCheck(check: RiskCheck): () => void;
  /** close the gateway at once, persist the halt, cancel every open order */
  halt(by: string, reason: string): Promise<HaltOutcome>;
  /** reopen; four-eyes (a different person than the one who halted) is enforced when configured */
  resume(by: Principal): Promise<HaltStatus>;
  halted(): Promise<HaltStatus>;
  /** every journaled change, after it is stored */
  onUpdate(fn: (order: Order) => void): () => void;
}
