import type { Logger } from 'pino';
import { exchangeSecretEnv } from '../../kernel/config/secrets.js';
import type { Balance, Broker, BrokerUpdate, Estimate, Fill, LedgerEntry, Order, OrderRequest, Position } from '../../kernel/orders/types.js';
import { loadExchangeClass } from '../../market/live/ccxt-loader.js';
import { toOrderBook, toTicker } from '../../market/live/parse.js';
import type { MarketData } from '../../market/service.js';
import type { OrderBook, Ticker } from '../../market/types.js';
import { classifyFailure, failureMessage, LiveBrokerError, maskSecrets, type ExchangeFailure } from './errors.js';
import { ccxtBalanceSchema, ccxtMarketSchema, ccxtOrderSchema, ccxtTradeSchema, validate, type CcxtMarket, type CcxtOrder, type CcxtTrade } from './parse.js';

/**
 * The live broker: orders go to a real exchange through the real ccxt class, keyed by our client
 * order id (Order.id) so that any retry — after a timeout, a crash, a second instance — finds
 * the order instead of placing it twice.
 *
 * Idempotency. Binance keeps newClientOrderId unique among OPEN orders only: once an order has
 * filled (a market order at once), the same id is accepted again as a new order. So place()
 * first asks the exchange for the client id (fetchOrder with origClientOrderId) and only sends
 * when it is unknown; a -2010 "Duplicate order sent." (two senders racing) is answered with the
 * order already there. An order sent without an answer (timeout) is looked up once; if the
 * exchange does not know it either, place() throws an 'unknown-outcome' error and lookup() tells
 * later. The remaining window — an order still in flight inside the exchange when the lookup
 * runs, and filled before a retry — is the exchange's, and is why the gateway retries via
 * lookup(), not place().
 *
 * Fills. A fill is reported once per order: fills are taken from the order's trades (the FULL
 * placement answer; otherwise fetchMyTrades for the order id) in exchange order, skipping the
 * amount the journal's order already has filled.
 *
 * Positions and PnL. A spot account has balances, not positions with an entry price. positions()
 * lists every non-zero base balance (free + locked) that has a market against the quote
 * currency; avgPrice is the average cost of this broker's own fills when they account for the
 * whole balance, and 0 (unknown) otherwise — coins deposited or bought elsewhere have no known
 * entry price. realisedPnl and ledger() cover the fills this broker has seen since it started
 * (place / lookup / cancel answers), by average cost; a sale of coins whose cost it never saw
 * counts only its fee.
 */

export interface ExchangeCredentials {
  apiKey: string;
  secret: string;
  /** passphrase, for exchanges that have one (OKX, KuCoin...) */
  password?: string;
}

export interface CcxtBrokerOptions {
  /** ccxt id, e.g. "binance" */
  exchange: string;
  /** trade on the exchange's sandbox/testnet (refused at start when ccxt has none for it) */
  sandbox: boolean;
  credentials: ExchangeCredentials;
  /** API base URL override (tests: the fake exchange); replaces the origin of every REST URL, sandbox or not */
  apiUrl?: string;
  /** prices for estimate() when trading the real exchange (the sandbox's own book is read directly) */
  market: MarketData;
  clock: { now(): number };
  /** per HTTP request */
  timeoutMs: number;
  logger: Logger;
  /** quote currency positions are named against; default the market's quote for the exchange */
  quote?: string;
  /** fee rates when the exchange's markets give none */
  fees?: { maker: number; taker: number };
  /** extra attempts for reads (never for placing or cancelling) on network errors; default 2 */
  retries?: number;
  /** injectable for tests */
  sleep?: (ms: number) => Promise<void>;
}

export interface Reconciliation {
  /** journal orders (live, this exchange) that are not open at the exchange */
  missingAtExchange: Order[];
  /** open orders at the exchange the journal does not know */
  unknownAtExchange: Array<{ clientOrderId?: string; exchangeOrderId: string; symbol: string }>;
  balances: Balance[];
}

/** The part of a ccxt exchange instance the broker calls; everything it returns is validated. */
interface PrivateClient {
  urls: Record<string, unknown>;
  markets?: Record<string, unknown>;
  has: Record<string, unknown>;
  requiredCredentials?: Record<string, unknown>;
  loadMarkets(reload?: boolean): Promise<unknown>;
  setSandboxMode(enabled: boolean): void;
  createOrder(symbol: string, type: string, side: string, amount: number, price?: number, params?: Record<string, unknown>): Promise<unknown>;
  cancelOrder(id: string | undefined, symbol: string, params?: Record<string, unknown>): Promise<unknown>;
  fetchOrder(id: string | undefined, symbol: string, params?: Record<string, unknown>): Promise<unknown>;
  fetchOpenOrders(symbol?: string, since?: number, limit?: number, params?: Record<string, unknown>): Promise<unknown>;
  fetchClosedOrders(symbol?: string, since?: number, limit?: number, params?: Record<string, unknown>): Promise<unknown>;
  fetchBalance(params?: Record<string, unknown>): Promise<unknown>;
  fetchMyTrades(symbol?: string, since?: number, limit?: number, params?: Record<string, unknown>): Promise<unknown>;
  fetchTicker(symbol: string): Promise<unknown>;
  fetchOrderBook(symbol: string, limit?: number): Promise<unknown>;
  close?(): Promise<unknown>;
  fetchDispatcher?: { destroy?(): Promise<void>; close?(): Promise<void> };
}

const REQUIRED_METHODS = ['loadMarkets', 'createOrder', 'cancelOrder', 'fetchOrder', 'fetchOpenOrders', 'fetchBalance', 'fetchMyTrades', 'fetchTicker', 'fetchOrderBook'] as const;

/**
 * Per-exchange ccxt options. binance:
 * - defaultType spot, fetchMarkets.types ['spot']: loadMarkets reads /api/v3/exchangeInfo only
 *   (not the futures exchangeInfo of fapi/dapi, which a spot key does not need);
 * - fetchCurrencies false: with keys set, ccxt would first call the signed
 *   /sapi/v1/capital/config/getall (wallet permission, absent on the testnet) on every loadMarkets;
 * - fetchMargins false: no signed /sapi/v1/margin/allPairs + isolated/allPairs inside loadMarkets;
 * - fetchOpenOrders.warnWithoutSymbol false: reconcile() asks for all open orders in one call
 *   (weight 80 on Binance, once at start-up) — ccxt otherwise refuses without a symbol;
 * - newOrderRespType FULL for market and limit (ccxt's default, pinned): the placement answer
 *   carries the fills with their commission, so a market order needs no second request.
 * ccxt's recvWindow (10 s) and adjustForTimeDifference (off: no /api/v3/time call) stay as they
 * are: a clock off by more than that is reported as such (-1021).
 */
const EXCHANGE_OPTIONS: Record<string, Record<string, unknown>> = {
  binance: {
    defaultType: 'spot',
    fetchMarkets: { types: ['spot'] },
    fetchCurrencies: false,
    fetchMargins: false,
    fetchOpenOrders: { warnWithoutSymbol: false },
    newOrderRespType: { market: 'FULL', limit: 'FULL' },
  },
};
const DEFAULT_OPTIONS: Record<string, unknown> = { defaultType: 'spot' };

/** exchanges whose fetchOrder / cancelOrder take our client id (ccxt param `clientOrderId`) */
const CLIENT_ID_LOOKUP = new Set(['binance']);
/** exchanges whose fetchMyTrades filters by order id (param `orderId`) */
const TRADES_BY_ORDER_ID = new Set(['binance']);

const EPS = 1e-12;
const DEFAULT_FEES = { maker: 0.001, taker: 0.001 };
const BOOK_DEPTH = 100;
const RETRY_BASE_MS = 250;

const HTTP_ORIGIN = /^https?:\/\/[^/]+/;

/**
 * "https://api.binance.com/api/v3" with base "http://127.0.0.1:1234" → "http://127.0.0.1:1234/api/v3",
 * recursively through ccxt's urls.api (the live source does the same for market data; its
 * helper is private to it).
 */
function overrideUrls(api: unknown, base: string): unknown {
  const u = new URL(base);
  const prefix = `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return v.replace(HTTP_ORIGIN, prefix);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(api);
}

/** a fill with the order amount filled once it is counted, for de-duplication */
interface SeenFill extends Fill {
  cumEnd: number;
}

interface SeenOrder {
  exchange: string;
  symbol: string;
  side: 'buy' | 'sell';
  fills: SeenFill[];
}

type Source = 'placement' | 'poll';

export class CcxtBroker implements Broker {
  readonly kind = 'live' as const;
  readonly exchange: string;
  readonly sandbox: boolean;

  // private fields (#): never enumerable, so a logged or serialised broker shows no credential
  readonly #credentials: ExchangeCredentials;
  #client: Promise<PrivateClient> | undefined;
  #markets: Promise<Map<string, CcxtMarket>> | undefined;
  #closed = false;
  readonly #placing = new Map<string, Promise<BrokerUpdate>>();
  readonly #seen = new Map<string, SeenOrder>();
  readonly #log: Logger;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #env: { apiKey: string; secret: string };
  readonly #o: Omit<CcxtBrokerOptions, 'credentials'>;

  constructor(opts: CcxtBrokerOptions) {
    const { credentials, ...o } = opts;
    this.#o = o;
    this.exchange = o.exchange;
    this.sandbox = o.sandbox;
    this.#credentials = { ...credentials };
    this.#log = o.logger;
    this.#sleep = o.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
    this.#env = { apiKey: exchangeSecretEnv(o.exchange, 'apiKey'), secret: exchangeSecretEnv(o.exchange, 'secret') };
  }

  /** Loads the ccxt class and checks it can trade here (sandbox, credentials); no request is made. */
  async start(): Promise<void> {
    await this.client();
  }

  private client(): Promise<PrivateClient> {
    if (this.#closed) return Promise.reject(new LiveBrokerError('config', `the ${this.exchange} live broker is closed`));
    this.#client ??= this.build();
    const p = this.#client;
    p.catch(() => {
      if (this.#client === p) this.#client = undefined;
    });
    return p;
  }

  private async build(): Promise<PrivateClient> {
    const { exchange, sandbox, apiUrl } = this.#o;
    let ctor;
    try {
      ctor = (await loadExchangeClass(exchange)).ctor;
    } catch (e) {
      throw new LiveBrokerError('config', `cannot trade on "${exchange}": ${e instanceof Error ? e.message : String(e)}`);
    }
    const c = this.#credentials;
    const ex = new ctor({
      apiKey: c.apiKey,
      secret: c.secret,
      ...(c.password !== undefined ? { password: c.password } : {}),
      enableRateLimit: true,
      timeout: this.#o.timeoutMs,
      options: structuredClone(EXCHANGE_OPTIONS[exchange] ?? DEFAULT_OPTIONS),
    }) as unknown as PrivateClient; // checked just below, method by method
    for (const m of REQUIRED_METHODS) {
      if (typeof (ex as unknown as Record<string, unknown>)[m] !== 'function') throw new LiveBrokerError('config', `ccxt's ${exchange} class has no ${m}(): cannot trade on it`);
    }
    if (ex.requiredCredentials?.['password'] === true && c.password === undefined) {
      throw new LiveBrokerError('config', `${exchange} needs an API passphrase: set ${exchangeSecretEnv(exchange, 'password')}`);
    }
    if (sandbox) {
      // ccxt's base class lists `test` for every exchange, undefined where there is none
      const test = ex.urls['test'];
      if (test !== undefined && test !== null) ex.setSandboxMode(true);
      else if (apiUrl === undefined) {
        throw new LiveBrokerError('config', `${exchange} has no sandbox/testnet in ccxt: set trading.live.sandbox to false to trade real funds there, or choose an exchange with a sandbox`);
      }
    }
    // after the sandbox switch, so an override (tests) wins over the testnet URLs too
    if (apiUrl !== undefined) ex.urls['api'] = overrideUrls(ex.urls['api'], apiUrl);
    this.#log.info({ exchange, sandbox, apiUrlOverride: apiUrl ?? null }, 'live broker ready');
    return ex;
  }

  /** the exchange's spot markets by symbol, loaded once */
  private markets(c: PrivateClient): Promise<Map<string, CcxtMarket>> {
    if (this.#markets === undefined) {
      const p = this.read('loading markets', () => c.loadMarkets()).then(() => {
        const out = new Map<string, CcxtMarket>();
        for (const raw of Object.values(c.markets ?? {})) {
          const r = ccxtMarketSchema.safeParse(raw);
          if (r.success && r.data.spot !== false) out.set(r.data.symbol, r.data);
        }
        return out;
      });
      this.#markets = p;
      p.catch(() => {
        if (this.#markets === p) this.#markets = undefined;
      });
    }
    return this.#markets;
  }

  private async marketOf(c: PrivateClient, symbol: string): Promise<CcxtMarket> {
    const m = (await this.markets(c)).get(symbol);
    if (m === undefined) throw new LiveBrokerError('rejected', `${this.exchange} has no spot market ${symbol}`);
    return m;
  }

  // ---------------------------------------------------------------------------------------
  // errors and retries

  private secrets(): string[] {
    const c = this.#credentials;
    return [c.apiKey, c.secret, ...(c.password !== undefined ? [c.password] : [])];
  }

  private failure(e: unknown): ExchangeFailure {
    const f = classifyFailure(e, this.exchange);
    return { ...f, reason: maskSecrets(f.reason, this.secrets()) };
  }

  private error(f: ExchangeFailure, op: string): LiveBrokerError {
    return new LiveBrokerError(f.kind, maskSecrets(failureMessage(f, this.exchange, op, this.#env), this.secrets()), f.code);
  }

  /** a read: retried on network failures (it changes nothing at the exchange) */
  private async read<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const retries = this.#o.retries ?? 2;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (e instanceof LiveBrokerError) throw e;
        const f = this.failure(e);
        if (f.kind !== 'network' || attempt >= retries) throw this.error(f, op);
        // (a network failure on a read changes nothing at the exchange: safe to ask again)
        const delay = RETRY_BASE_MS * 2 ** attempt;
        this.#log.warn({ exchange: this.exchange, op, attempt: attempt + 1, delayMs: delay, reason: f.reason }, 'exchange read failed; retrying');
        await this.#sleep(delay);
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // orders

  async place(order: Order): Promise<BrokerUpdate> {
    // the same order placed twice at once by this process: one request, one answer
    const inflight = this.#placing.get(order.id);
    if (inflight !== undefined) return inflight;
    const p = this.doPlace(order).finally(() => this.#placing.delete(order.id));
    this.#placing.set(order.id, p);
    return p;
  }

  private async doPlace(order: Order): Promise<BrokerUpdate> {
    const failed = (reason: string): BrokerUpdate => ({ state: 'failed', fills: [], reason });
    if (order.exchange !== this.exchange) return failed(`the live broker trades on ${this.exchange}, not ${order.exchange}`);
    if (order.type === 'stop' || order.type === 'stop-limit') return failed(`live ${order.type} orders are not supported yet (market and limit only)`);
    if (order.type === 'limit' && (order.price === undefined || !(order.price > 0))) return failed('a limit order needs a positive price');
    if (!(order.amount > 0)) return failed('the amount must be positive');
    const op = `placing ${order.id} (${order.side} ${order.amount} ${order.symbol} ${order.type})`;
    const c = await this.client();
    try {
      await this.marketOf(c, order.symbol);
    } catch (e) {
      if (e instanceof LiveBrokerError && (e.kind === 'rejected' || e.kind === 'auth')) return failed(e.message);
      throw e;
    }

    // 1. already there? (a retry after a crash or a timeout; see the class comment)
    let existing: CcxtOrder | null;
    try {
      existing = await this.find(c, order);
    } catch (e) {
      // nothing was sent: a refusal (bad key...) fails the order; a network failure is thrown, safe to retry
      if (e instanceof LiveBrokerError && e.kind !== 'network' && e.kind !== 'bad-data') return failed(e.message);
      throw e;
    }
    if (existing !== null) {
      this.#log.info({ exchange: this.exchange, order: order.id, exchangeOrderId: existing.id, status: existing.status }, 'order already at the exchange; not placing again');
      return this.toUpdate(c, existing, order, 'poll');
    }

    // 2. send it
    let raw: unknown;
    try {
      raw = await c.createOrder(order.symbol, order.type, order.side, order.amount, order.type === 'limit' ? order.price : undefined, { clientOrderId: order.id });
    } catch (e) {
      const f = this.failure(e);
      if (f.kind === 'duplicate' || f.kind === 'network' || f.kind === 'bad-data') {
        // someone else placed it first (duplicate), or it may have arrived (no answer, or one ccxt could not read): ask
        let again: CcxtOrder | null = null;
        try {
          again = await this.find(c, order);
        } catch (lookupErr) {
          this.#log.warn({ exchange: this.exchange, order: order.id, reason: lookupErr instanceof Error ? lookupErr.message : String(lookupErr) }, 'lookup after a failed placement failed');
        }
        if (again !== null) {
          this.#log.info({ exchange: this.exchange, order: order.id, exchangeOrderId: again.id, after: f.kind }, 'order found at the exchange after placing');
          return this.toUpdate(c, again, order, f.kind === 'duplicate' ? 'poll' : 'placement');
        }
        if (f.kind === 'network' || f.kind === 'bad-data') {
          const what = f.kind === 'network' ? 'did not answer' : 'gave an unreadable answer to';
          throw new LiveBrokerError('unknown-outcome', `${this.exchange} ${what} ${op} (${f.reason}), and the order is not there yet: it may still arrive — look it up before placing it again`);
        }
      }
      this.#log.warn({ exchange: this.exchange, order: order.id, kind: f.kind, code: f.code, reason: f.reason }, 'order refused by the exchange');
      // the exchange answered no: nothing was placed
      return failed(this.error(f, op).message);
    }
    let placed: CcxtOrder;
    try {
      placed = validate(ccxtOrderSchema, raw, `${this.exchange} answer to ${op}`);
    } catch (e) {
      // the exchange took the request but its answer is unreadable: the order may well be there
      const again = await this.find(c, order).catch(() => null);
      if (again !== null) return this.toUpdate(c, again, order, 'placement');
      throw new LiveBrokerError('unknown-outcome', `${e instanceof Error ? e.message : String(e)}; the order is not to be found yet — look it up before placing it again`);
    }
    this.#log.info({ exchange: this.exchange, order: order.id, exchangeOrderId: placed.id, status: placed.status, filled: placed.filled }, 'order placed');
    return this.toUpdate(c, placed, order, 'placement');
  }

  async cancel(order: Order): Promise<BrokerUpdate> {
    const c = await this.client();
    const op = `cancelling ${order.id} (${order.symbol})`;
    let raw: unknown;
    try {
      raw = CLIENT_ID_LOOKUP.has(this.exchange)
        ? await c.cancelOrder(undefined, order.symbol, { clientOrderId: order.id })
        : await c.cancelOrder(this.requireExchangeId(order, op), order.symbol);
    } catch (e) {
      if (e instanceof LiveBrokerError) throw e;
      const f = this.failure(e);
      if (f.kind === 'not-found' || f.kind === 'network' || f.kind === 'bad-data') {
        // not open any more (filled, cancelled) or the answer was lost: what is it now?
        const now = await this.find(c, order);
        if (now !== null && now.status !== 'open') return this.toUpdate(c, now, order, 'poll');
        if (now === null && f.kind === 'not-found') throw new LiveBrokerError('not-found', `${this.exchange} has no order ${order.id} (${order.symbol}) to cancel`);
      }
      throw this.error(f, op);
    }
    const cancelled = validate(ccxtOrderSchema, raw, `${this.exchange} answer to ${op}`);
    this.#log.info({ exchange: this.exchange, order: order.id, exchangeOrderId: cancelled.id, status: cancelled.status }, 'order cancelled');
    return this.toUpdate(c, cancelled, order, 'poll');
  }

  async lookup(order: Order): Promise<BrokerUpdate | null> {
    const c = await this.client();
    const found = await this.find(c, order);
    return found === null ? null : this.toUpdate(c, found, order, 'poll');
  }

  private requireExchangeId(order: Order, op: string): string {
    if (order.exchangeOrderId === undefined) throw new LiveBrokerError('not-found', `${op}: ${this.exchange} cannot find orders by client id and this order has no exchange id`);
    return order.exchangeOrderId;
  }

  /** the exchange's order for our client id, or null when it has none */
  private async find(c: PrivateClient, order: Order): Promise<CcxtOrder | null> {
    const op = `looking up ${order.id} (${order.symbol})`;
    try {
      if (CLIENT_ID_LOOKUP.has(this.exchange)) {
        const raw = await this.read(op, () => c.fetchOrder(undefined, order.symbol, { clientOrderId: order.id }));
        return validate(ccxtOrderSchema, raw, `${this.exchange} answer to ${op}`);
      }
      if (order.exchangeOrderId !== undefined) {
        const id = order.exchangeOrderId;
        return validate(ccxtOrderSchema, await this.read(op, () => c.fetchOrder(id, order.symbol)), `${this.exchange} answer to ${op}`);
      }
      // no lookup by client id: scan the open, then the closed orders of the symbol
      const open = validate(ccxtOrderSchema.array(), await this.read(op, () => c.fetchOpenOrders(order.symbol)), `${this.exchange} open orders`);
      const hit = open.find((o) => o.clientOrderId === order.id);
      if (hit !== undefined || c.has['fetchClosedOrders'] !== true) return hit ?? null;
      const closed = validate(ccxtOrderSchema.array(), await this.read(op, () => c.fetchClosedOrders(order.symbol, order.createdAt)), `${this.exchange} closed orders`);
      return closed.find((o) => o.clientOrderId === order.id) ?? null;
    } catch (e) {
      if (e instanceof LiveBrokerError && e.kind === 'not-found') return null;
      throw e;
    }
  }

  /** the exchange's order as a BrokerUpdate: its state and the fills the journal does not have yet */
  private async toUpdate(c: PrivateClient, x: CcxtOrder, order: Order, source: Source): Promise<BrokerUpdate> {
    const filled = x.filled ?? 0;
    const amount = x.amount ?? order.amount;
    let state: BrokerUpdate['state'];
    let reason: string | undefined;
    switch (x.status) {
      case 'closed':
        state = 'filled';
        break;
      case 'canceled':
        state = 'cancelled';
        reason = 'cancelled at the exchange';
        break;
      case 'expired':
        state = 'cancelled';
        reason = 'expired at the exchange (time in force)';
        break;
      case 'rejected':
        state = 'failed';
        reason = 'rejected by the exchange';
        break;
      default:
        state = filled >= amount - EPS ? 'filled' : filled > EPS ? 'partially-filled' : 'acknowledged';
    }
    const fills = filled > order.filled + EPS ? await this.newFills(c, x, order, source) : [];
    this.remember(order, fills);
    return { state, fills, exchangeOrderId: x.id, ...(reason !== undefined ? { reason } : {}) };
  }

  /** fills of `x` beyond what the journal's order has, oldest first */
  private async newFills(c: PrivateClient, x: CcxtOrder, order: Order, source: Source): Promise<Fill[]> {
    const filled = x.filled ?? 0;
    const market = await this.marketOf(c, order.symbol);
    let trades = (x.trades ?? []).filter((t) => t.amount > 0);
    if (sum(trades) < filled - 1e-9) trades = await this.orderTrades(c, x, order);
    if (sum(trades) < filled - 1e-9) return [this.syntheticFill(x, order, market, source)];
    trades.sort((a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0) || Number(a.id ?? 0) - Number(b.id ?? 0));
    const out: Fill[] = [];
    let cum = 0;
    for (const t of trades) {
      const before = cum;
      cum += t.amount;
      if (cum <= order.filled + 1e-9) continue;
      // a trade the journal has part of (it never should, but amounts decide, not counts)
      const part = before < order.filled ? (cum - order.filled) / t.amount : 1;
      const liquidity = t.takerOrMaker ?? (source === 'placement' || x.type === 'market' ? 'taker' : 'maker');
      const fee = t.fee?.cost ?? null;
      out.push({
        price: t.price,
        amount: round(t.amount * part),
        fee: fee === null ? round(t.price * t.amount * part * rate(market, liquidity, this.#o.fees)) : round(fee * part),
        feeCurrency: fee === null ? market.quote : (t.fee?.currency ?? market.quote),
        liquidity,
        time: t.timestamp ?? x.lastTradeTimestamp ?? x.timestamp ?? this.#o.clock.now(),
      });
      if (fee === null) this.#log.warn({ exchange: this.exchange, order: order.id }, 'a trade came without its fee; using the market fee rate');
    }
    return out;
  }

  /** the account's trades of one order */
  private async orderTrades(c: PrivateClient, x: CcxtOrder, order: Order): Promise<CcxtTrade[]> {
    const op = `reading the trades of ${order.id} (${order.symbol})`;
    const raw = TRADES_BY_ORDER_ID.has(this.exchange)
      ? await this.read(op, () => c.fetchMyTrades(order.symbol, undefined, undefined, { orderId: x.id }))
      : await this.read(op, () => c.fetchMyTrades(order.symbol, x.timestamp ?? order.createdAt));
    return validate(ccxtTradeSchema.array(), raw, `${this.exchange} trades of ${order.id}`).filter((t) => t.order === undefined || t.order === null || String(t.order) === x.id);
  }

  /** when no trade list is to be had: one fill for the amount the journal lacks, priced from the order's totals */
  private syntheticFill(x: CcxtOrder, order: Order, market: CcxtMarket, source: Source): Fill {
    const filled = x.filled ?? 0;
    const amount = filled - order.filled;
    const costNow = x.cost ?? (x.average ?? x.price ?? 0) * filled;
    const costBefore = (order.avgPrice ?? 0) * order.filled;
    const price = amount > 0 ? (costNow - costBefore) / amount : (x.average ?? 0);
    const liquidity = source === 'placement' || x.type === 'market' ? 'taker' : 'maker';
    const feeKnown = x.fee?.cost !== undefined && x.fee?.cost !== null && (x.fee.currency ?? market.quote) === (order.feeCurrency ?? x.fee.currency ?? market.quote);
    this.#log.warn({ exchange: this.exchange, order: order.id }, 'no trade list for the order; reporting one fill from its totals');
    return {
      price: round(price),
      amount: round(amount),
      fee: feeKnown ? round((x.fee?.cost ?? 0) - order.fees) : round(price * amount * rate(market, liquidity, this.#o.fees)),
      feeCurrency: feeKnown ? (x.fee?.currency ?? market.quote) : market.quote,
      liquidity,
      time: x.lastTradeTimestamp ?? x.timestamp ?? this.#o.clock.now(),
    };
  }

  /** keep the fills for ledger() and positions(), each once (by how much of the order it completes) */
  private remember(order: Order, fills: Fill[]): void {
    if (fills.length === 0) return;
    let seen = this.#seen.get(order.id);
    if (seen === undefined) {
      seen = { exchange: order.exchange, symbol: order.symbol, side: order.side, fills: [] };
      this.#seen.set(order.id, seen);
    }
    let cum = order.filled;
    const top = seen.fills.at(-1)?.cumEnd ?? 0;
    for (const f of fills) {
      cum += f.amount;
      if (cum > top + 1e-9) seen.fills.push({ ...f, cumEnd: cum });
    }
  }

  // ---------------------------------------------------------------------------------------
  // account

  async balances(): Promise<Balance[]> {
    const c = await this.client();
    await this.markets(c); // ccxt maps asset ids to codes with the markets
    const raw = await this.read('reading balances', () => c.fetchBalance());
    const b = validate(ccxtBalanceSchema, raw, `${this.exchange} balances`);
    const out: Balance[] = [];
    for (const [currency, total] of Object.entries(b.total)) {
      if (total === null || total === undefined || total === 0) continue;
      out.push({ currency, free: b.free[currency] ?? 0, used: b.used[currency] ?? 0, total });
    }
    return out.sort((a, b2) => a.currency.localeCompare(b2.currency));
  }

  async positions(): Promise<Position[]> {
    const c = await this.client();
    const markets = await this.markets(c);
    const quote = this.#o.quote ?? this.#o.market.defaultQuote(this.exchange);
    const { books } = this.account();
    const out: Position[] = [];
    for (const b of await this.balances()) {
      if (b.currency === quote) continue;
      const symbol = `${b.currency}/${quote}`;
      if (!markets.has(symbol)) continue; // no market to name it by
      const book = books.get(symbol);
      const known = book !== undefined && book.qty >= b.total - Math.max(1e-9, b.total * 1e-6);
      out.push({ exchange: this.exchange, symbol, amount: b.total, avgPrice: known ? round(book.avg) : 0, realisedPnl: round(book?.realised ?? 0) });
    }
    return out;
  }

  async ledger(since: number): Promise<LedgerEntry[]> {
    return this.account().entries.filter((e) => e.fill.time >= since);
  }

  /**
   * Every fill this broker has seen, in time order, with its realised PnL by average cost, and
   * per symbol the holding those fills account for.
   */
  private account(): { entries: LedgerEntry[]; books: Map<string, { qty: number; avg: number; realised: number }> } {
    const all: Array<{ orderId: string; o: SeenOrder; f: SeenFill }> = [];
    for (const [orderId, o] of this.#seen) for (const f of o.fills) all.push({ orderId, o, f });
    all.sort((a, b) => a.f.time - b.f.time);
    const books = new Map<string, { qty: number; avg: number; realised: number }>();
    const entries: LedgerEntry[] = [];
    for (const { orderId, o, f } of all) {
      const [base = '', quote = ''] = o.symbol.split('/');
      const feeQuote = f.feeCurrency === quote ? f.fee : f.feeCurrency === base ? f.fee * f.price : 0;
      const b = books.get(o.symbol) ?? { qty: 0, avg: 0, realised: 0 };
      let pnl: number;
      if (o.side === 'buy') {
        // the fee is this fill's PnL; a fee taken in base leaves fewer coins at the same price
        const got = f.amount - (f.feeCurrency === base ? f.fee : 0);
        b.avg = b.qty + got > 0 ? (b.avg * b.qty + f.price * got) / (b.qty + got) : 0;
        b.qty += got;
        pnl = -feeQuote;
      } else {
        const covered = Math.min(f.amount, b.qty);
        pnl = (f.price - b.avg) * covered - feeQuote;
        b.qty = Math.max(0, b.qty - f.amount);
      }
      b.realised += pnl;
      books.set(o.symbol, b);
      entries.push({
        orderId,
        exchange: o.exchange,
        symbol: o.symbol,
        side: o.side,
        fill: { price: f.price, amount: f.amount, fee: f.fee, feeCurrency: f.feeCurrency, liquidity: f.liquidity, time: f.time },
        realisedPnl: round(pnl),
        quote,
      });
    }
    return { entries, books };
  }

  /**
   * What the journal has open (live orders of this exchange) against what the exchange has
   * open, matched by client id (or exchange id). Read-only: nothing is cancelled or changed.
   */
  async reconcile(journalOpen: Order[]): Promise<Reconciliation> {
    const c = await this.client();
    await this.markets(c);
    const raw = await this.read('reading open orders', () => c.fetchOpenOrders());
    const open = validate(ccxtOrderSchema.array(), raw, `${this.exchange} open orders`);
    const mine = journalOpen.filter((o) => o.broker === 'live' && o.exchange === this.exchange);
    const byClient = new Set(open.map((o) => o.clientOrderId).filter((id): id is string => typeof id === 'string'));
    const byExchange = new Set(open.map((o) => o.id));
    const journalIds = new Set(mine.map((o) => o.id));
    const journalExchangeIds = new Set(mine.map((o) => o.exchangeOrderId).filter((id): id is string => id !== undefined));
    const missingAtExchange = mine.filter((o) => !byClient.has(o.id) && !(o.exchangeOrderId !== undefined && byExchange.has(o.exchangeOrderId)));
    const unknownAtExchange = open
      .filter((o) => !(typeof o.clientOrderId === 'string' && journalIds.has(o.clientOrderId)) && !journalExchangeIds.has(o.id))
      .map((o) => ({ ...(typeof o.clientOrderId === 'string' ? { clientOrderId: o.clientOrderId } : {}), exchangeOrderId: o.id, symbol: o.symbol }));
    const balances = await this.balances();
    this.#log.info({ exchange: this.exchange, journalOpen: mine.length, exchangeOpen: open.length, missing: missingAtExchange.length, unknown: unknownAtExchange.length }, 'reconciled open orders');
    return { missingAtExchange, unknownAtExchange, balances };
  }

  // ---------------------------------------------------------------------------------------
  // estimates

  /**
   * From the order book when there is one (walked level by level for the amount), else the
   * ticker. The real exchange's prices come through MarketData (cached, shared); a sandbox is
   * its own market with its own prices, so its book is read from the sandbox itself.
   */
  async estimate(req: OrderRequest): Promise<Estimate> {
    const c = await this.client();
    const m = await this.marketOf(c, req.symbol);
    const own = this.sandbox || !this.#o.market.exchanges().includes(this.exchange);
    const now = this.#o.clock.now();
    let book: OrderBook | null = null;
    let bookWhy = '';
    try {
      book = own
        ? toOrderBook(await this.read(`reading the ${req.symbol} order book`, () => c.fetchOrderBook(req.symbol, BOOK_DEPTH)), this.exchange, req.symbol, BOOK_DEPTH, now)
        : await this.#o.market.orderBook({ exchange: this.exchange, symbol: req.symbol, depth: BOOK_DEPTH });
      if ((req.side === 'buy' ? book.asks : book.bids).length === 0) {
        bookWhy = `the book has no ${req.side === 'buy' ? 'asks' : 'bids'}`;
        book = null;
      }
    } catch (e) {
      bookWhy = e instanceof Error ? e.message : String(e);
      book = null;
    }
    if (book !== null) return estimateFromBook(req, book, m, this.#o.fees, this.exchange, own);
    const ticker: Ticker = own
      ? toTicker(await this.read(`reading the ${req.symbol} ticker`, () => c.fetchTicker(req.symbol)), this.exchange, req.symbol, now)
      : await this.#o.market.ticker({ exchange: this.exchange, symbol: req.symbol });
    return estimateFromTicker(req, ticker, m, this.#o.fees, this.exchange, bookWhy, own);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const p = this.#client;
    this.#client = undefined;
    const ex = await p?.catch(() => undefined);
    if (ex === undefined) return;
    await ex.close?.().catch(() => undefined);
    // ccxt keeps an undici Agent with keep-alive sockets per instance and does not close it
    const d = ex.fetchDispatcher;
    await (d?.destroy?.() ?? d?.close?.())?.catch(() => undefined);
  }
}

// -------------------------------------------------------------------------------------------

const sum = (ts: readonly CcxtTrade[]): number => ts.reduce((s, t) => s + t.amount, 0);
const round = (n: number): number => Number(n.toPrecision(12));

function rate(m: CcxtMarket, liquidity: 'maker' | 'taker', fallback: { maker: number; taker: number } | undefined): number {
  return (liquidity === 'maker' ? m.maker : m.taker) ?? (fallback ?? DEFAULT_FEES)[liquidity];
}

function feeInfo(m: CcxtMarket, liquidity: 'maker' | 'taker', fallback: { maker: number; taker: number } | undefined, exchange: string): { rate: number; source: string } {
  const r = liquidity === 'maker' ? m.maker : m.taker;
  if (r !== null && r !== undefined) return { rate: r, source: `${exchange} markets (the standard rate; the account's own rate may be lower)` };
  return { rate: (fallback ?? DEFAULT_FEES)[liquidity], source: `default (${exchange} markets give none)` };
}

// + 0 turns a -0 (a sell with no slippage) into 0
const bps = (a: number, b: number): number => ((a - b) / b) * 10_000 + 0;

function estimateFromBook(req: OrderRequest, book: OrderBook, m: CcxtMarket, fees: CcxtBrokerOptions['fees'], exchange: string, own: boolean): Estimate {
  const levels = req.side === 'buy' ? book.asks : book.bids;
  const bestBid = book.bids[0]?.[0] ?? null;
  const bestAsk = book.asks[0]?.[0] ?? null;
  const best = (levels[0] as [number, number])[0];
  const reference = bestBid !== null && bestAsk !== null ? (bestBid + bestAsk) / 2 : best;
  const spreadBps = bestBid !== null && bestAsk !== null ? ((bestAsk - bestBid) / reference) * 10_000 : null;
  const within = levels.filter(([p]) => Math.abs(p - reference) / reference <= 0.01);
  const depthQuote = within.reduce((s, [p, q]) => s + p * q, 0);
  const where = own ? `${exchange} sandbox order book` : 'order book';
  const limit = req.type === 'limit' || req.type === 'stop-limit' ? req.price : undefined;
  const crosses = (p: number): boolean => limit === undefined || (req.side === 'buy' ? p <= limit : p >= limit);
  if (!crosses(best)) {
    // rests on the book: the limit price, as a maker
    const fee = feeInfo(m, 'maker', fees, exchange);
    const price = limit as number;
    const notional = price * req.amount;
    return { price, reference, slippageBps: 0, notional, fee: notional * fee.rate, feeRate: fee.rate, feeCurrency: m.quote, liquidity: 'maker', feeSource: fee.source, basis: `limit price, resting (${where}: best ${req.side === 'buy' ? 'ask' : 'bid'} ${best})`, spreadBps, depthQuote, priceTime: book.time };
  }
  let left = req.amount;
  let cost = 0;
  let used = 0;
  for (const [p, q] of levels) {
    if (left <= EPS || !crosses(p)) break;
    const take = Math.min(left, q);
    cost += take * p;
    left -= take;
    used++;
  }
  let basis = `${where} (${used} level${used === 1 ? '' : 's'})`;
  if (left > EPS) {
    // the book shown does not cover the amount: the rest at the limit, or at the last level seen
    const restAt = limit ?? (levels[levels.length - 1] as [number, number])[0];
    cost += left * restAt;
    basis += `; ${round(left)} of ${req.amount} beyond the levels read, counted at ${restAt}`;
  }
  const price = cost / req.amount;
  const fee = feeInfo(m, 'taker', fees, exchange);
  const notional = cost;
  return {
    price,
    reference,
    slippageBps: req.side === 'buy' ? bps(price, reference) : 0 - bps(price, reference),
    notional,
    fee: notional * fee.rate,
    feeRate: fee.rate,
    feeCurrency: m.quote,
    liquidity: 'taker',
    feeSource: fee.source,
    basis,
    spreadBps,
    depthQuote,
    priceTime: book.time,
  };
}

function estimateFromTicker(req: OrderRequest, t: Ticker, m: CcxtMarket, fees: CcxtBrokerOptions['fees'], exchange: string, bookWhy: string, own: boolean): Estimate {
  const reference = t.last;
  const touch = (req.side === 'buy' ? t.ask : t.bid) ?? t.last;
  const limit = req.type === 'limit' || req.type === 'stop-limit' ? req.price : undefined;
  const marketable = limit === undefined || (req.side === 'buy' ? limit >= touch : limit <= touch);
  const liquidity = marketable ? 'taker' : 'maker';
  const price = marketable ? touch : (limit as number);
  const fee = feeInfo(m, liquidity, fees, exchange);
  const notional = price * req.amount;
  const spreadBps = t.bid !== null && t.ask !== null ? ((t.ask - t.bid) / ((t.bid + t.ask) / 2)) * 10_000 : null;
  const what = `${own ? `${exchange} sandbox ` : ''}ticker ${t.ask !== null && t.bid !== null ? `${req.side === 'buy' ? 'ask' : 'bid'}` : 'last price'}`;
  return {
    price,
    reference,
    slippageBps: marketable ? (req.side === 'buy' ? bps(price, reference) : 0 - bps(price, reference)) : 0,
    notional,
    fee: notional * fee.rate,
    feeRate: fee.rate,
    feeCurrency: m.quote,
    liquidity,
    feeSource: fee.source,
    basis: `${marketable ? what : 'limit price, resting'} (no order book${bookWhy !== '' ? `: ${bookWhy.slice(0, 120)}` : ''})`,
    spreadBps,
    depthQuote: null,
    priceTime: t.time,
  };
}
