import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Answer } from './http.js';

/**
 * The private (signed) half of the fake Binance spot server: one account, its balances and
 * orders, in memory. The subset the real ccxt `binance` class calls for createOrder
 * (POST /api/v3/order), fetchOrder (GET /api/v3/order), cancelOrder (DELETE /api/v3/order),
 * cancelAllOrders (DELETE /api/v3/openOrders), fetchOpenOrders (GET /api/v3/openOrders),
 * fetchOrders / fetchClosedOrders (GET /api/v3/allOrders), fetchBalance (GET /api/v3/account)
 * and fetchMyTrades (GET /api/v3/myTrades).
 *
 * Every request is checked like Binance checks a SIGNED endpoint, in this order:
 *   X-MBX-APIKEY missing → 401 -2014, not the account's key → 401 -2015;
 *   no timestamp → 400 -1102; recvWindow > 60000 → 400 -1131;
 *   no signature → 400 -1102; signature ≠ hex HMAC-SHA256(secret, totalParams) → 400 -1022,
 *     where totalParams is the raw query string followed by the raw body, each without its
 *     `signature` parameter (the exact bytes the client signed);
 *   timestamp ≥ server time + 1000 or server time − timestamp > recvWindow (default 5000) → 400 -1021.
 * The server clock for this check is the wall clock (plus `setClockSkew`), not the market "now"
 * of the recorded data: ccxt signs with the host's clock. Every signed request is logged with
 * its verdict (`signed`), so a test can assert that each one was signed correctly.
 *
 * Orders model Binance's matching for one account with no counterparties:
 * - MARKET fills in full at the market's last price (the recorded close at the fake's "now",
 *   exactly what its ticker says), taker fee.
 * - LIMIT / LIMIT_MAKER: marketable (buy ≥ last, sell ≤ last) → LIMIT fills in full at the last
 *   price (taker; IOC/FOK too), LIMIT_MAKER is refused (-2010 "would immediately match");
 *   otherwise it rests (IOC/FOK expire) with its funds locked, and fills in full at its limit
 *   price (maker) once the last price reaches it (checked on every private request, so moving
 *   the fake's "now" with setNow can fill it). No partial fills.
 * - Filters from exchangeInfo: LOT_SIZE / PRICE_FILTER (decimal places) and NOTIONAL
 *   (-1013); insufficient free balance → -2010 "Account has insufficient balance...".
 * - newClientOrderId is unique among OPEN orders, as Binance documents it: a second order with
 *   the id of an open one is refused (-2010 "Duplicate order sent."); once the first is closed
 *   (filled, cancelled, expired) Binance accepts the id again — and so does this fake. A
 *   client's idempotency cannot rest on -2010 alone (see the live broker).
 * - Fees: commission in the asset received (base for a buy, quote for a sell), at the account's
 *   maker/taker rate; no BNB discount.
 * - Stop and take-profit types are not modelled: 501 with a plain-text reason (a fake
 *   limitation, not a Binance answer).
 */

export interface FakeAccountOptions {
  /** the account's API key; default FAKE_API_KEY */
  apiKey?: string;
  /** the account's HMAC secret; default FAKE_API_SECRET */
  secret?: string;
  /** starting free balances per asset, e.g. { USDT: 10_000 } */
  balances?: Record<string, number>;
  fees?: { maker: number; taker: number };
}

export const FAKE_API_KEY = 'fake-binance-api-key';
export const FAKE_API_SECRET = 'fake-binance-api-secret';

export type SignedVerdict = 'ok' | 'missing-key' | 'bad-key' | 'missing-timestamp' | 'bad-recv-window' | 'missing-signature' | 'bad-signature' | 'bad-timestamp';

export interface SignedRequest {
  method: string;
  path: string;
  /** every parameter as received (query and body), the signature left out */
  params: Record<string, string>;
  /** the X-MBX-APIKEY header as sent, or null */
  apiKey: string | null;
  verdict: SignedVerdict;
}

export interface FakeTrade {
  id: number;
  orderId: number;
  symbol: string;
  price: number;
  qty: number;
  quoteQty: number;
  commission: number;
  commissionAsset: string;
  time: number;
  isBuyer: boolean;
  isMaker: boolean;
}

export type FakeOrderStatus = 'NEW' | 'FILLED' | 'CANCELED' | 'EXPIRED';

export interface FakeOrder {
  symbol: string;
  orderId: number;
  clientOrderId: string;
  side: 'BUY' | 'SELL';
  type: 'MARKET' | 'LIMIT' | 'LIMIT_MAKER';
  timeInForce: string;
  /** 0 for MARKET, as Binance reports it */
  price: number;
  origQty: number;
  executedQty: number;
  cummulativeQuoteQty: number;
  status: FakeOrderStatus;
  time: number;
  updateTime: number;
  trades: FakeTrade[];
}

export interface ExternalOrder {
  symbol: string;
  side: 'BUY' | 'SELL';
  type: 'MARKET' | 'LIMIT';
  quantity: number;
  price?: number;
  clientOrderId?: string;
}

export interface FakeAccount {
  readonly apiKey: string;
  readonly secret: string;
  /** every request to a private path, in order, with how its signature checked out */
  readonly signed: SignedRequest[];
  /** every order ever accepted, oldest first */
  orders(): FakeOrder[];
  openOrders(): FakeOrder[];
  balance(asset: string): { free: number; locked: number };
  /** forget orders, trades and the log; set credentials, balances and fees afresh */
  reset(opts?: FakeAccountOptions): void;
  /** move the server clock the signature check uses (ms, + = server ahead of the client) */
  setClockSkew(ms: number): void;
  /** an order placed outside the desk (e.g. on the exchange's website): same rules, no signature */
  placeExternal(o: ExternalOrder): FakeOrder;
}

/** what the account needs from the public half of the fake */
export interface MarketView {
  /** the market's last price at the fake's now (what its ticker says), null when it has none */
  lastPrice(marketId: string): number | null;
  market(marketId: string): { base: string; quote: string; priceDecimals: number; amountDecimals: number; minNotional: number } | undefined;
  /** the fake's "now" for order and trade times */
  now(): number;
}

export interface PrivateRequest {
  method: string;
  path: string;
  /** the raw query string without the leading "?" */
  rawQuery: string;
  rawBody: string;
  apiKey: string | null;
}

export const PRIVATE_PATHS: ReadonlySet<string> = new Set(['/api/v3/order', '/api/v3/openOrders', '/api/v3/allOrders', '/api/v3/account', '/api/v3/myTrades']);

const CLIENT_ID = /^[.A-Z:/a-z0-9_-]{1,36}$/;
const MAX_RECV_WINDOW = 60_000;
const DEFAULT_RECV_WINDOW = 5_000;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    msg: string,
  ) {
    super(msg);
  }
}

const json = (value: unknown, status = 200): Answer => ({ status, body: JSON.stringify(value), headers: { 'content-type': 'application/json;charset=UTF-8' } });
const s8 = (n: number): string => n.toFixed(8);
const round8 = (n: number): number => Number(n.toFixed(8));
const mandatory = (name: string): ApiError => new ApiError(400, -1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`);

function decimals(v: string): number {
  const dot = v.indexOf('.');
  return dot < 0 ? 0 : v.replace(/0+$/, '').length - dot - 1;
}

/** the raw "a=1&b=2" without its signature parameter, and the signature */
function splitSignature(raw: string): { rest: string; signature: string | null } {
  if (raw === '') return { rest: '', signature: null };
  let signature: string | null = null;
  const kept: string[] = [];
  for (const part of raw.split('&')) {
    if (part.startsWith('signature=')) signature = decodeURIComponent(part.slice('signature='.length));
    else kept.push(part);
  }
  return { rest: kept.join('&'), signature };
}

export function createFakeAccount(view: MarketView, initial: FakeAccountOptions = {}): FakeAccount & { answer(req: PrivateRequest): Answer } {
  let apiKey = FAKE_API_KEY;
  let secret = FAKE_API_SECRET;
  let fees = { maker: 0.001, taker: 0.001 };
  let skew = 0;
  const signed: SignedRequest[] = [];
  const orders: FakeOrder[] = [];
  const free = new Map<string, number>();
  const locked = new Map<string, number>();
  let nextOrderId = 1_000_001;
  let nextTradeId = 5_000_001;
  let cancelSeq = 0;

  const reset = (o: FakeAccountOptions = {}): void => {
    apiKey = o.apiKey ?? FAKE_API_KEY;
    secret = o.secret ?? FAKE_API_SECRET;
    fees = o.fees ?? { maker: 0.001, taker: 0.001 };
    skew = 0;
    signed.length = 0;
    orders.length = 0;
    free.clear();
    locked.clear();
    for (const [asset, amount] of Object.entries(o.balances ?? {})) free.set(asset, amount);
  };
  reset(initial);

  const add = (m: Map<string, number>, asset: string, d: number): void => {
    m.set(asset, round8((m.get(asset) ?? 0) + d));
  };

  const marketOf = (id: string): NonNullable<ReturnType<MarketView['market']>> => {
    const m = view.market(id);
    if (m === undefined) throw new ApiError(400, -1121, 'Invalid symbol.');
    return m;
  };

  const lastOf = (id: string): number => {
    const p = view.lastPrice(id);
    if (p === null) throw new ApiError(400, -1121, 'Invalid symbol.'); // nothing recorded to trade at
    return p;
  };

  // resting orders: NEW limit orders accepted onto the (otherwise empty) book, funds locked
  const resting = new WeakSet<FakeOrder>();
  const isResting = (o: FakeOrder): boolean => resting.has(o);

  /** fill an order in full at `price`; funds it locked (a resting order) are released first */
  const fill = (o: FakeOrder, price: number, maker: boolean): void => {
    const m = marketOf(o.symbol);
    const now = view.now();
    const qty = o.origQty;
    const quoteQty = round8(qty * price);
    const rate = maker ? fees.maker : fees.taker;
    if (isResting(o)) {
      if (o.side === 'BUY') {
        add(locked, m.quote, -round8(qty * o.price));
        add(free, m.quote, round8(qty * o.price));
      } else {
        add(locked, m.base, -qty);
        add(free, m.base, qty);
      }
    }
    let commission: number;
    let commissionAsset: string;
    if (o.side === 'BUY') {
      commission = round8(qty * rate);
      commissionAsset = m.base;
      add(free, m.quote, -quoteQty);
      add(free, m.base, qty - commission);
    } else {
      commission = round8(quoteQty * rate);
      commissionAsset = m.quote;
      add(free, m.base, -qty);
      add(free, m.quote, quoteQty - commission);
    }
    o.trades.push({ id: nextTradeId++, orderId: o.orderId, symbol: o.symbol, price, qty, quoteQty, commission, commissionAsset, time: now, isBuyer: o.side === 'BUY', isMaker: maker });
    o.executedQty = qty;
    o.cummulativeQuoteQty = quoteQty;
    o.status = 'FILLED';
    o.updateTime = now;
  };

  /** resting limit orders the last price has reached fill at their limit price (maker) */
  const settle = (): void => {
    for (const o of orders) {
      if (o.status !== 'NEW' || !isResting(o)) continue;
      const last = view.lastPrice(o.symbol);
      if (last === null) continue;
      if ((o.side === 'BUY' && last <= o.price) || (o.side === 'SELL' && last >= o.price)) {
        fill(o, o.price, true);
        resting.delete(o);
      }
    }
  };

  const openById = (clientOrderId: string): FakeOrder | undefined => orders.find((o) => o.clientOrderId === clientOrderId && o.status === 'NEW');

  const place = (p: URLSearchParams): FakeOrder => {
    const symbol = p.get('symbol') ?? '';
    if (symbol === '') throw mandatory('symbol');
    const m = marketOf(symbol);
    const side = p.get('side') ?? '';
    if (side === '') throw mandatory('side');
    if (side !== 'BUY' && side !== 'SELL') throw new ApiError(400, -1117, 'Invalid side.');
    const type = p.get('type') ?? '';
    if (type === '') throw mandatory('type');
    if (['STOP_LOSS', 'STOP_LOSS_LIMIT', 'TAKE_PROFIT', 'TAKE_PROFIT_LIMIT'].includes(type)) {
      throw new ApiError(501, 0, `fake exchange: ${type} orders are not modelled`);
    }
    if (type !== 'MARKET' && type !== 'LIMIT' && type !== 'LIMIT_MAKER') throw new ApiError(400, -1116, 'Invalid orderType.');
    if (p.get('quoteOrderQty') !== null) throw new ApiError(501, 0, 'fake exchange: quoteOrderQty is not modelled');
    const qtyText = p.get('quantity') ?? '';
    if (qtyText === '') throw mandatory('quantity');
    const qty = Number(qtyText);
    if (!Number.isFinite(qty) || qty <= 0) throw new ApiError(400, -1100, "Illegal characters found in parameter 'quantity'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.");
    if (decimals(qtyText) > m.amountDecimals || qty < 10 ** -m.amountDecimals) throw new ApiError(400, -1013, 'Filter failure: LOT_SIZE');
    let price = 0;
    let timeInForce = '';
    if (type !== 'MARKET') {
      const priceText = p.get('price') ?? '';
      if (priceText === '') throw mandatory('price');
      price = Number(priceText);
      if (!Number.isFinite(price) || price <= 0) throw new ApiError(400, -1100, "Illegal characters found in parameter 'price'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.");
      if (decimals(priceText) > m.priceDecimals) throw new ApiError(400, -1013, 'Filter failure: PRICE_FILTER');
      if (type === 'LIMIT') {
        timeInForce = p.get('timeInForce') ?? '';
        if (timeInForce === '') throw mandatory('timeInForce');
        if (!['GTC', 'IOC', 'FOK'].includes(timeInForce)) throw new ApiError(400, -1115, 'Invalid timeInForce.');
      }
    }
    const clientOrderId = p.get('newClientOrderId') ?? `fake_${nextOrderId}`;
    if (!CLIENT_ID.test(clientOrderId)) {
      throw new ApiError(400, -1100, "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.");
    }
    settle();
    const last = lastOf(symbol);
    const refPrice = type === 'MARKET' ? last : price;
    if (qty * refPrice < m.minNotional) throw new ApiError(400, -1013, 'Filter failure: NOTIONAL');
    if (openById(clientOrderId) !== undefined) throw new ApiError(400, -2010, 'Duplicate order sent.');
    const marketable = type === 'MARKET' || (side === 'BUY' ? price >= last : price <= last);
    if (type === 'LIMIT_MAKER' && marketable) throw new ApiError(400, -2010, 'Order would immediately match and take.');
    // funds: what a fill at the last price (marketable) or the resting limit price would take
    const needPrice = marketable ? last : price;
    if (side === 'BUY' ? (free.get(m.quote) ?? 0) + 1e-9 < qty * needPrice : (free.get(m.base) ?? 0) + 1e-9 < qty) {
      throw new ApiError(400, -2010, 'Account has insufficient balance for requested action.');
    }
    const now = view.now();
    const o: FakeOrder = {
      symbol,
      orderId: nextOrderId++,
      clientOrderId,
      side,
      type,
      timeInForce: type === 'MARKET' ? 'GTC' : type === 'LIMIT_MAKER' ? 'GTC' : timeInForce,
      price,
      origQty: qty,
      executedQty: 0,
      cummulativeQuoteQty: 0,
      status: 'NEW',
      time: now,
      updateTime: now,
      trades: [],
    };
    orders.push(o);
    if (marketable) {
      fill(o, last, false);
    } else if (timeInForce === 'IOC' || timeInForce === 'FOK') {
      o.status = 'EXPIRED';
    } else {
      if (side === 'BUY') {
        add(free, m.quote, -round8(qty * price));
        add(locked, m.quote, round8(qty * price));
      } else {
        add(free, m.base, -qty);
        add(locked, m.base, qty);
      }
      resting.add(o);
    }
    return o;
  };

  const cancel = (o: FakeOrder): void => {
    const m = marketOf(o.symbol);
    if (o.side === 'BUY') {
      add(locked, m.quote, -round8(o.origQty * o.price));
      add(free, m.quote, round8(o.origQty * o.price));
    } else {
      add(locked, m.base, -o.origQty);
      add(free, m.base, o.origQty);
    }
    resting.delete(o);
    o.status = 'CANCELED';
    o.updateTime = view.now();
  };

  /** GET /api/v3/order's shape (also openOrders, allOrders) */
  const orderView = (o: FakeOrder): Record<string, unknown> => ({
    symbol: o.symbol,
    orderId: o.orderId,
    orderListId: -1,
    clientOrderId: o.clientOrderId,
    price: s8(o.price),
    origQty: s8(o.origQty),
    executedQty: s8(o.executedQty),
    cummulativeQuoteQty: s8(o.cummulativeQuoteQty),
    status: o.status,
    timeInForce: o.timeInForce,
    type: o.type,
    side: o.side,
    stopPrice: s8(0),
    icebergQty: s8(0),
    time: o.time,
    updateTime: o.updateTime,
    isWorking: true,
    workingTime: o.time,
    origQuoteOrderQty: s8(0),
    selfTradePreventionMode: 'EXPIRE_MAKER',
  });

  /** POST /api/v3/order's answer for newOrderRespType ACK / RESULT / FULL */
  const placedView = (o: FakeOrder, respType: string): Record<string, unknown> => {
    const ack = { symbol: o.symbol, orderId: o.orderId, orderListId: -1, clientOrderId: o.clientOrderId, transactTime: o.time };
    if (respType === 'ACK') return ack;
    const result = {
      ...ack,
      price: s8(o.price),
      origQty: s8(o.origQty),
      executedQty: s8(o.executedQty),
      origQuoteOrderQty: s8(0),
      cummulativeQuoteQty: s8(o.cummulativeQuoteQty),
      status: o.status,
      timeInForce: o.timeInForce,
      type: o.type,
      side: o.side,
      workingTime: o.time,
      selfTradePreventionMode: 'EXPIRE_MAKER',
    };
    if (respType === 'RESULT') return result;
    return { ...result, fills: o.trades.map((t) => ({ price: s8(t.price), qty: s8(t.qty), commission: s8(t.commission), commissionAsset: t.commissionAsset, tradeId: t.id })) };
  };

  const find = (p: URLSearchParams): FakeOrder => {
    const symbol = p.get('symbol') ?? '';
    if (symbol === '') throw mandatory('symbol');
    marketOf(symbol);
    const orderId = p.get('orderId');
    const clientId = p.get('origClientOrderId');
    if ((orderId === null || orderId === '') && (clientId === null || clientId === '')) {
      throw new ApiError(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!");
    }
    let hit: FakeOrder | undefined;
    if (orderId !== null && orderId !== '') {
      hit = orders.find((o) => o.symbol === symbol && String(o.orderId) === orderId);
    } else {
      // a client id can name more than one order over time (see above): the newest one
      hit = orders.filter((o) => o.symbol === symbol && o.clientOrderId === clientId).at(-1);
    }
    if (hit === undefined) throw new ApiError(400, -2013, 'Order does not exist.');
    return hit;
  };

  const cancelView = (o: FakeOrder, p: URLSearchParams): Record<string, unknown> => ({
    symbol: o.symbol,
    origClientOrderId: o.clientOrderId,
    orderId: o.orderId,
    orderListId: -1,
    // Binance names the cancel request itself with a new client id
    clientOrderId: p.get('newClientOrderId') ?? `cancel_fake_${++cancelSeq}`,
    transactTime: o.updateTime,
    price: s8(o.price),
    origQty: s8(o.origQty),
    executedQty: s8(o.executedQty),
    origQuoteOrderQty: s8(0),
    cummulativeQuoteQty: s8(o.cummulativeQuoteQty),
    status: o.status,
    timeInForce: o.timeInForce,
    type: o.type,
    side: o.side,
    selfTradePreventionMode: 'EXPIRE_MAKER',
  });

  const intParam = (p: URLSearchParams, name: string): number | undefined => {
    const v = p.get(name);
    if (v === null || v === '') return undefined;
    if (!/^\d+$/.test(v)) throw new ApiError(400, -1100, `Illegal characters found in parameter '${name}'; legal range is '^[0-9]{1,20}$'.`);
    return Number(v);
  };

  const route = (method: string, path: string, p: URLSearchParams): Answer => {
    settle();
    switch (`${method} ${path}`) {
      case 'POST /api/v3/order': {
        const o = place(p);
        const respType = p.get('newOrderRespType') ?? 'FULL';
        return json(placedView(o, respType));
      }
      case 'GET /api/v3/order':
        return json(orderView(find(p)));
      case 'DELETE /api/v3/order': {
        const o = find(p);
        if (o.status !== 'NEW') throw new ApiError(400, -2011, 'Unknown order sent.');
        cancel(o);
        return json(cancelView(o, p));
      }
      case 'GET /api/v3/openOrders': {
        const symbol = p.get('symbol');
        if (symbol !== null && symbol !== '') marketOf(symbol);
        return json(orders.filter((o) => o.status === 'NEW' && (symbol === null || symbol === '' || o.symbol === symbol)).map(orderView));
      }
      case 'DELETE /api/v3/openOrders': {
        const symbol = p.get('symbol') ?? '';
        if (symbol === '') throw mandatory('symbol');
        marketOf(symbol);
        const open = orders.filter((o) => o.status === 'NEW' && o.symbol === symbol);
        if (open.length === 0) throw new ApiError(400, -2011, 'Unknown order sent.');
        for (const o of open) cancel(o);
        return json(open.map((o) => cancelView(o, new URLSearchParams())));
      }
      case 'GET /api/v3/allOrders': {
        const symbol = p.get('symbol') ?? '';
        if (symbol === '') throw mandatory('symbol');
        marketOf(symbol);
        const limit = Math.min(intParam(p, 'limit') ?? 500, 1000);
        const fromId = intParam(p, 'orderId');
        const start = intParam(p, 'startTime');
        const end = intParam(p, 'endTime');
        const list = orders.filter(
          (o) => o.symbol === symbol && (fromId === undefined || o.orderId >= fromId) && (start === undefined || o.time >= start) && (end === undefined || o.time <= end),
        );
        return json((fromId !== undefined || start !== undefined ? list.slice(0, limit) : list.slice(-limit)).map(orderView));
      }
      case 'GET /api/v3/account': {
        const omitZero = p.get('omitZeroBalances') === 'true';
        const assets = [...new Set([...free.keys(), ...locked.keys()])].sort();
        const balances = assets
          .map((a) => ({ asset: a, free: s8(free.get(a) ?? 0), locked: s8(locked.get(a) ?? 0) }))
          .filter((b) => !omitZero || Number(b.free) !== 0 || Number(b.locked) !== 0);
        const rate = (r: number): string => s8(r);
        return json({
          makerCommission: Math.round(fees.maker * 10_000),
          takerCommission: Math.round(fees.taker * 10_000),
          buyerCommission: 0,
          sellerCommission: 0,
          commissionRates: { maker: rate(fees.maker), taker: rate(fees.taker), buyer: rate(0), seller: rate(0) },
          canTrade: true,
          canWithdraw: true,
          canDeposit: true,
          brokered: false,
          requireSelfTradePrevention: false,
          preventSor: false,
          updateTime: view.now(),
          accountType: 'SPOT',
          balances,
          permissions: ['SPOT'],
          uid: 354_937_868,
        });
      }
      case 'GET /api/v3/myTrades': {
        const symbol = p.get('symbol') ?? '';
        if (symbol === '') throw mandatory('symbol');
        marketOf(symbol);
        const orderId = intParam(p, 'orderId');
        const fromId = intParam(p, 'fromId');
        const start = intParam(p, 'startTime');
        const end = intParam(p, 'endTime');
        const limit = Math.min(intParam(p, 'limit') ?? 500, 1000);
        const trades = orders
          .flatMap((o) => o.trades)
          .filter(
            (t) =>
              t.symbol === symbol &&
              (orderId === undefined || t.orderId === orderId) &&
              (fromId === undefined || t.id >= fromId) &&
              (start === undefined || t.time >= start) &&
              (end === undefined || t.time <= end),
          )
          .sort((a, b) => a.id - b.id);
        const page = fromId !== undefined || start !== undefined ? trades.slice(0, limit) : trades.slice(-limit);
        return json(
          page.map((t) => ({
            symbol: t.symbol,
            id: t.id,
            orderId: t.orderId,
            orderListId: -1,
            price: s8(t.price),
            qty: s8(t.qty),
            quoteQty: s8(t.quoteQty),
            commission: s8(t.commission),
            commissionAsset: t.commissionAsset,
            time: t.time,
            isBuyer: t.isBuyer,
            isMaker: t.isMaker,
            isBestMatch: true,
          })),
        );
      }
      default:
        return { status: 404, body: '', headers: { 'content-type': 'text/html' } };
    }
  };

  /** the Binance SIGNED-endpoint checks; null when the request passes */
  const authenticate = (req: PrivateRequest, params: URLSearchParams): { verdict: SignedVerdict; error: ApiError | null } => {
    if (req.apiKey === null || req.apiKey === '') return { verdict: 'missing-key', error: new ApiError(401, -2014, 'API-key format invalid.') };
    if (req.apiKey !== apiKey) return { verdict: 'bad-key', error: new ApiError(401, -2015, 'Invalid API-key, IP, or permissions for action.') };
    const ts = params.get('timestamp');
    if (ts === null || ts === '' || !/^\d+$/.test(ts)) return { verdict: 'missing-timestamp', error: mandatory('timestamp') };
    const rw = params.get('recvWindow');
    const recvWindow = rw === null || rw === '' ? DEFAULT_RECV_WINDOW : Number(rw);
    if (!Number.isFinite(recvWindow) || recvWindow > MAX_RECV_WINDOW) return { verdict: 'bad-recv-window', error: new ApiError(400, -1131, 'recvWindow must be less than 60000') };
    const q = splitSignature(req.rawQuery);
    const b = splitSignature(req.rawBody);
    const signature = q.signature ?? b.signature;
    if (signature === null || signature === '') return { verdict: 'missing-signature', error: mandatory('signature') };
    const expected = createHmac('sha256', secret).update(q.rest + b.rest).digest('hex');
    const got = Buffer.from(signature.toLowerCase());
    const want = Buffer.from(expected);
    if (got.length !== want.length || !timingSafeEqual(got, want)) {
      return { verdict: 'bad-signature', error: new ApiError(400, -1022, 'Signature for this request is not valid.') };
    }
    const server = Date.now() + skew;
    const t = Number(ts);
    if (t >= server + 1000) return { verdict: 'bad-timestamp', error: new ApiError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.") };
    if (server - t > recvWindow) return { verdict: 'bad-timestamp', error: new ApiError(400, -1021, 'Timestamp for this request is outside of the recvWindow.') };
    return { verdict: 'ok', error: null };
  };

  const answer = (req: PrivateRequest): Answer => {
    // query and body together, as Binance reads them (the query wins on a clash)
    const params = new URLSearchParams(req.rawBody);
    for (const [k, v] of new URLSearchParams(req.rawQuery)) params.set(k, v);
    const { verdict, error } = authenticate(req, params);
    const logged = Object.fromEntries([...params].filter(([k]) => k !== 'signature'));
    signed.push({ method: req.method, path: req.path, params: logged, apiKey: req.apiKey, verdict });
    try {
      if (error !== null) throw error;
      return route(req.method, req.path, params);
    } catch (e) {
      if (e instanceof ApiError) {
        if (e.code === 0) return { status: e.status, body: e.message, headers: { 'content-type': 'text/plain' } };
        return json({ code: e.code, msg: e.message }, e.status);
      }
      throw e;
    }
  };

  return {
    get apiKey() {
      return apiKey;
    },
    get secret() {
      return secret;
    },
    signed,
    answer,
    orders: () => [...orders],
    openOrders: () => {
      settle();
      return orders.filter((o) => o.status === 'NEW');
    },
    balance: (asset) => {
      settle();
      return { free: free.get(asset) ?? 0, locked: locked.get(asset) ?? 0 };
    },
    reset,
    setClockSkew(ms) {
      skew = ms;
    },
    placeExternal(o) {
      const p = new URLSearchParams({ symbol: o.symbol, side: o.side, type: o.type, quantity: String(o.quantity) });
      if (o.price !== undefined) p.set('price', String(o.price));
      if (o.type === 'LIMIT') p.set('timeInForce', 'GTC');
      if (o.clientOrderId !== undefined) p.set('newClientOrderId', o.clientOrderId);
      try {
        return place(p);
      } catch (e) {
        throw new Error(`fake exchange: external order refused: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
  };
}
