import type { Order, RiskCheck, RiskCheckInput, RiskCheckResult } from '../../src/kernel/index.js';
import type { Limits } from './config.js';
import { bps, cash, num, pct, utc } from './format.js';

/**
 * Pre-trade checks, one RiskCheck each, run by the order gateway on every order.
 *
 * Reducing orders: a sell that leaves a long position smaller but not short (or a buy that does
 * the same to a short) is never refused by a limit on how much risk is taken (order notional,
 * position, gross exposure, open orders, allowed symbols) nor by the market-quality checks
 * (spread, depth, stale price): a trader must always be able to get out, and a wide spread in a
 * crash is exactly when they need to. The check still passes with its numbers and says why. The
 * one check that also holds reducing orders is the price band: a mistyped limit price on an exit
 * loses money, and the trader can fix the price or send a market order.
 *
 * On recorded data (replay) the stale-price check shows the price's age but does not refuse: the
 * replay's "now" is fixed where the record ends, so age there measures the record, not a feed.
 *
 * "After the order" is the worst case: open orders on the same side of the same market fill too.
 * Any check that cannot get the numbers it needs refuses (fails closed) and says what was missing.
 */

export interface CheckEnv {
  /** the desk currency limits are in */
  currency: string;
  /** the limits in force now (read per order, so a `/limits set` applies at once on every instance) */
  limits(): Promise<Limits>;
  /** `amount` of currency `ccy` in the desk currency, at prices from ctx.market */
  toDesk(amount: number, ccy: string, exchange: string): Promise<number>;
  /** last price of a market from ctx.market, in its quote currency */
  mark(exchange: string, symbol: string): Promise<number>;
  /** the desk's now for price ages (the market's now: the replay time when replaying) */
  now(): number;
  /**
   * prices are a record (replay): its "now" is fixed and its series simply end, so a price's age
   * says where the record stops, not that a feed died. Ages are shown, not enforced.
   */
  replay: boolean;
}

export interface Projection {
  /** position now (base; negative: short) */
  held: number;
  /** unfilled base of open orders on the order's side of the same market */
  pending: number;
  /** position if this order and those open orders all fill */
  projected: number;
  /** the order only shrinks the position, towards zero and not past it */
  reducing: boolean;
}

const remaining = (o: Order): number => Math.max(0, o.amount - o.filled);

/** the order's market position now and in the worst case after it */
export function project(input: Pick<RiskCheckInput, 'order' | 'positions' | 'openOrders'>): Projection {
  const { order } = input;
  const held = input.positions.find((p) => p.exchange === order.exchange && p.symbol === order.symbol)?.amount ?? 0;
  const pending = input.openOrders
    .filter((o) => o.exchange === order.exchange && o.symbol === order.symbol && o.side === order.side)
    .reduce((s, o) => s + remaining(o), 0);
  const projected = order.side === 'buy' ? held + pending + order.amount : held - pending - order.amount;
  const reducing = order.side === 'sell' ? held > 0 && projected >= 0 : held < 0 && projected <= 0;
  return { held, pending, projected, reducing };
}

const baseOf = (symbol: string): string => symbol.split('/')[0] ?? symbol;
export const quoteOf = (symbol: string): string => symbol.split('/')[1] ?? symbol;

function reducingNote(input: RiskCheckInput, p: Projection): string {
  const b = baseOf(input.order.symbol);
  return `reduces the ${input.order.symbol} position ${num(p.held)} → ${num(p.projected)} ${b}: not blocked`;
}

/** the order's notional in the desk currency, with the quote shown when it differs */
async function deskNotional(env: CheckEnv, input: RiskCheckInput): Promise<{ value: number; text: string }> {
  const n = input.estimate.notional;
  const value = await env.toDesk(n, input.quote, input.order.exchange);
  const text = input.quote === env.currency ? cash(value, env.currency) : `${cash(value, env.currency)} (${cash(n, input.quote)})`;
  return { value, text };
}

type CheckFn = (input: RiskCheckInput, limits: Limits, p: Projection) => Promise<{ ok: boolean; detail: string }> | { ok: boolean; detail: string };

function makeCheck(name: string, env: CheckEnv, limitsFor: (input: RiskCheckInput) => Promise<Limits>, fn: CheckFn): RiskCheck {
  return {
    name,
    async check(input: RiskCheckInput): Promise<RiskCheckResult> {
      try {
        const r = await fn(input, await limitsFor(input), project(input));
        return { name, ok: r.ok, detail: r.detail };
      } catch (err) {
        // fail closed: an order the risk plugin could not check does not go out
        return { name, ok: false, detail: `could not check: ${err instanceof Error ? err.message : String(err)}` };
      }
    },
  };
}

export function preTradeChecks(env: CheckEnv): RiskCheck[] {
  const cur = env.currency;
  // the gateway hands every check the same input object: one read of the limits per order
  const byInput = new WeakMap<RiskCheckInput, Promise<Limits>>();
  const limitsFor = (input: RiskCheckInput): Promise<Limits> => {
    let p = byInput.get(input);
    if (p === undefined) {
      p = env.limits();
      byInput.set(input, p);
    }
    return p;
  };
  const check = (name: string, fn: CheckFn): RiskCheck => makeCheck(name, env, limitsFor, fn);
  return [
    check('max-order-notional', async (input, l, p) => {
      const n = await deskNotional(env, input);
      const cmp = `notional ${n.text} ${n.value > l.maxOrderNotional ? '>' : '≤'} limit ${cash(l.maxOrderNotional, cur)}`;
      if (p.reducing) return { ok: true, detail: `${cmp}; ${reducingNote(input, p)}` };
      return { ok: n.value <= l.maxOrderNotional, detail: cmp };
    }),

    check('max-position-notional', async (input, l, p) => {
      if (p.reducing) return { ok: true, detail: reducingNote(input, p) };
      const price = input.estimate.price;
      const after = await env.toDesk(Math.abs(p.projected) * price, input.quote, input.order.exchange);
      const b = baseOf(input.order.symbol);
      const open = p.pending > 0 ? ` (with ${num(p.pending)} ${b} in open ${input.order.side} orders)` : '';
      const ok = after <= l.maxPositionNotional;
      return {
        ok,
        detail: `${input.order.symbol} position after the order ${num(p.projected)} ${b}${open} × ${num(price)} = ${cash(after, cur)} ${ok ? '≤' : '>'} limit ${cash(l.maxPositionNotional, cur)}`,
      };
    }),

    check('max-gross-exposure', async (input, l, p) => {
      if (p.reducing) return { ok: true, detail: reducingNote(input, p) };
      const { order } = input;
      let others = 0;
      for (const pos of input.positions) {
        if (pos.amount === 0 || (pos.exchange === order.exchange && pos.symbol === order.symbol)) continue;
        const px = await env.mark(pos.exchange, pos.symbol);
        others += await env.toDesk(Math.abs(pos.amount) * px, quoteOf(pos.symbol), pos.exchange);
      }
      const price = input.estimate.price;
      const mineNow = await env.toDesk(Math.abs(p.held) * price, input.quote, order.exchange);
      const mineAfter = await env.toDesk(Math.abs(p.projected) * price, input.quote, order.exchange);
      const after = others + mineAfter;
      const ok = after <= l.maxGrossExposure;
      return {
        ok,
        detail: `gross exposure after the order ${cash(after, cur)} ${ok ? '≤' : '>'} limit ${cash(l.maxGrossExposure, cur)} (now ${cash(others + mineNow, cur)})`,
      };
    }),

    check('max-open-orders', (input, l, p) => {
      const count = input.openOrders.length + 1;
      const cmp = `${count} open orders with this one ${count > l.maxOpenOrders ? '>' : '≤'} limit ${l.maxOpenOrders}`;
      if (p.reducing) return { ok: true, detail: `${cmp}; ${reducingNote(input, p)}` };
      return { ok: count <= l.maxOpenOrders, detail: cmp };
    }),

    check('allowed-symbols', (input, l, p) => {
      const { exchange, symbol } = input.order;
      if (l.allowedSymbols.length === 0) return { ok: true, detail: 'every market is allowed (allowedSymbols is empty)' };
      const allowed = l.allowedSymbols.some((s) => s === symbol || s === `${exchange}:${symbol}`);
      if (allowed) return { ok: true, detail: `${exchange}:${symbol} is allowed` };
      const list = `allowed: ${l.allowedSymbols.join(', ')}`;
      if (p.reducing) return { ok: true, detail: `${exchange}:${symbol} is not in the allowed symbols (${list}); ${reducingNote(input, p)}` };
      return { ok: false, detail: `${exchange}:${symbol} is not in the allowed symbols (${list})` };
    }),

    check('max-spread', (input, l, p) => {
      const s = input.estimate.spreadBps;
      if (s === null) return { ok: true, detail: 'no book: spread not checked' };
      const cmp = `spread ${bps(s)} ${s > l.maxSpreadBps ? '>' : '≤'} limit ${bps(l.maxSpreadBps)}`;
      if (p.reducing) return { ok: true, detail: `${cmp}; ${reducingNote(input, p)}` };
      return { ok: s <= l.maxSpreadBps, detail: cmp };
    }),

    check('min-book-depth', async (input, l, p) => {
      const d = input.estimate.depthQuote;
      if (d === null) return { ok: true, detail: 'no book: depth not checked' };
      const side = input.order.side === 'buy' ? 'ask' : 'bid';
      const desk = await env.toDesk(d, input.quote, input.order.exchange);
      const cmp = `depth within 1 % on the ${side} side ${cash(desk, cur)} ${desk < l.minBookDepthQuote ? '<' : '≥'} minimum ${cash(l.minBookDepthQuote, cur)}`;
      if (p.reducing) return { ok: true, detail: `${cmp}; ${reducingNote(input, p)}` };
      return { ok: desk >= l.minBookDepthQuote, detail: cmp };
    }),

    check('price-band', (input, l) => {
      const { order, estimate } = input;
      if (order.price === undefined) return { ok: true, detail: `${order.type} order: no limit price to check` };
      const last = estimate.reference;
      if (!(last > 0)) return { ok: false, detail: `no last price to compare the limit ${num(order.price)} with` };
      const off = ((order.price - last) / last) * 100;
      const ok = Math.abs(off) <= l.priceBandPct;
      return {
        ok,
        detail: `limit ${num(order.price)} is ${pct(Math.abs(off))} ${off >= 0 ? 'above' : 'below'} last ${num(last)}: ${ok ? 'within' : 'outside'} the band of ${pct(l.priceBandPct)}`,
      };
    }),

    check('stale-price', (input, l, p) => {
      const seconds = (env.now() - input.estimate.priceTime) / 1000;
      const old = `price from ${utc(input.estimate.priceTime)} is ${Math.round(Math.max(0, seconds))} s`;
      if (env.replay) return { ok: true, detail: `recorded data: ${old} before the replay's now; age not checked` };
      const cmp = `${old} old ${seconds > l.staleDataSeconds ? '>' : '≤'} limit ${l.staleDataSeconds} s`;
      if (p.reducing) return { ok: true, detail: `${cmp}; ${reducingNote(input, p)}` };
      return { ok: seconds <= l.staleDataSeconds, detail: cmp };
    }),
  ];
}
