import type Keyv from 'keyv';
import type { Clock } from '../../kernel/clock.js';
import type { TradingConfig } from '../../kernel/config/schema.js';
import { UserError } from '../../kernel/errors.js';
import type { Balance, Broker, BrokerUpdate, Estimate, LedgerEntry, Order, OrderRequest, Position } from '../../kernel/orders/types.js';
import { applyFill, balancesOf, cloneAccount, positionsOf, release, reserve, shortfall, type AccountState } from './account.js';
import { adverseBps, depthQuote, describeTouch, marketable, spreadBps, type PriceView } from './fill-model.js';
import { fmt, sub } from './format.js';
import { checkMinCost, checkOrderRules, marketRules, observe, type MarketRules, type PaperMarket } from './market-view.js';
import { newRecord, toUpdate, type PaperFill, type PaperOrder } from './order-record.js';
import { AccountLease, DEFAULT_LEASE, type LeaseOptions } from './lease.js';
import { PaperStore } from './persistence.js';
import { checkShape, planArrival, plannedNotional, type Arrival, type ExecutionOk } from './planner.js';

export interface PaperBrokerOptions {
  /** real prices: a MarketData (only markets, candles, ticker, orderBook and now are used) */
  market: PaperMarket;
  /** the broker's own Keyv namespace; must throw on store errors (the kernel's do) */
  store: Keyv;
  /** fill and ledger times */
  clock: Clock;
  config: TradingConfig['paper'];
  /**
   * other desks use the same store (Redis): each operation then takes the account's lease and
   * reads the account afresh, so two desks never spend the same balance or lose each other's fills
   */
  shared?: boolean | LeaseOptions;
}

/** one operation's working copies; committed together or not at all */
interface Work {
  rec: PaperOrder;
  acc: AccountState;
  ledger: LedgerEntry[];
  /** the account changed (a fill, a reservation taken or released) */
  moved: boolean;
}

interface Ctx {
  rules: MarketRules;
  view: PriceView;
}

/**
 * The paper broker, the default broker: fills on real prices (see fill-model.ts) without
 * touching an exchange, keeps its account in the store (see persistence.ts, account.ts).
 *
 * - Everything is keyed by the client order id: place() of an id it already has answers with
 *   that order's current state and never fills again; lookup() of an id it never saw is null.
 * - A fill's time is the clock's (when the paper trade happened on the desk); the time of the
 *   price it used is in the fill's `priceTime` and `basis` (in replay they differ by years).
 * - lookup() is the poll: it re-checks a resting order against the price it sees now (not
 *   against the candles in between) and fills a crossed limit in full at its limit as maker
 *   (queue position and traded volume are not modelled). When the price cannot be read the
 *   order is reported as it is and the next poll tries again.
 * - cancel(): a resting order → 'cancelled' (its reservation released; fills it already had
 *   stay). An order already final → that final state unchanged, with the reason "already …:
 *   nothing to cancel" (saying 'failed' about a filled order would be a lie in the journal).
 *   An unknown id → 'failed', "no such order". A cancel wins over a cross no poll has seen yet.
 * - Mutations run one at a time through an in-process promise chain, so concurrent place()
 *   calls cannot spend the same balance twice; with `shared` (several desks on one Redis) each
 *   also holds the account's lease in the store and starts from what the store holds.
 * - Failures the trader can fix (no money, a market rule, no price) end the order 'failed' with
 *   the reason, stored like any outcome, so a retry of that id answers the same.
 */
export class PaperBroker implements Broker {
  readonly kind = 'paper' as const;
  private readonly db: PaperStore;
  private account: AccountState | null = null;
  private readonly orders = new Map<string, PaperOrder>();
  private chain: Promise<unknown> = Promise.resolve();

  private readonly lease: AccountLease | undefined;

  constructor(private readonly o: PaperBrokerOptions) {
    this.db = new PaperStore(o.store);
    if (o.shared) this.lease = new AccountLease(o.store, o.shared === true ? DEFAULT_LEASE : o.shared);
  }

  place(order: Order): Promise<BrokerUpdate> {
    return this.serial(async () => {
      await this.state();
      const known = await this.record(order.id);
      if (known !== undefined) return toUpdate(known, order);
      const w = await this.work(newRecord(order, this.o.clock.now()));
      const bad = checkShape(order);
      if (bad !== null) {
        this.fail(w, bad);
      } else {
        try {
          await this.arrive(w);
        } catch (e) {
          if (!(e instanceof UserError)) throw e;
          this.fail(w, e.message);
        }
      }
      await this.commit(w);
      return toUpdate(w.rec, order);
    });
  }

  lookup(order: Order): Promise<BrokerUpdate | null> {
    return this.serial(async () => {
      await this.state();
      const known = await this.record(order.id);
      if (known === undefined) return null;
      if (known.phase === 'done') return toUpdate(known, order);
      let ctx: Ctx;
      try {
        ctx = await this.context(known.exchange, known.symbol);
      } catch (e) {
        if (e instanceof UserError) return toUpdate(known, order); // no price now: the next poll tries again
        throw e;
      }
      const w = await this.work(known);
      let changed = false;
      if (known.phase === 'awaiting-trigger') {
        const plan = planArrival(ctx.view, w.rec, this.remaining(w.rec), this.o.config.slippage);
        if (plan.kind !== 'await-trigger') {
          this.apply(w, ctx, plan);
          changed = true;
        }
      } else if (marketable(ctx.view, w.rec.side, w.rec.price as number)) {
        this.makerFill(w, ctx);
        changed = true;
      }
      if (changed) await this.commit(w);
      return toUpdate(w.rec, order);
    });
  }

  cancel(order: Order): Promise<BrokerUpdate> {
    return this.serial(async () => {
      await this.state();
      const known = await this.record(order.id);
      if (known === undefined) return { state: 'failed', fills: [], reason: `the paper broker has no order ${order.id}: nothing to cancel` };
      if (known.phase === 'done') {
        return toUpdate(known, order, `already ${known.state}${known.reason !== undefined ? ` (${known.reason})` : ''}: nothing to cancel`);
      }
      const w = await this.work(known);
      this.release(w);
      this.finish(w, 'cancelled');
      await this.commit(w);
      return toUpdate(w.rec, order);
    });
  }

  balances(): Promise<Balance[]> {
    return this.serial(async () => balancesOf(await this.state()));
  }

  positions(): Promise<Position[]> {
    return this.serial(async () => positionsOf(await this.state()));
  }

  ledger(since: number): Promise<LedgerEntry[]> {
    return this.serial(async () => this.db.ledger((await this.state()).ledgerDays, since));
  }

  /** What placing would do now, from the same plan place() follows; a UserError when it would fail. */
  async estimate(req: OrderRequest): Promise<Estimate> {
    const bad = checkShape(req);
    if (bad !== null) throw new UserError(bad);
    const rules = await marketRules(this.o.market, req.exchange, req.symbol, this.o.config.fees);
    const broken = checkOrderRules(rules.info, req);
    if (broken !== null) throw new UserError(broken);
    const view = await observe(this.o.market, req.exchange, req.symbol, this.o.config.timeframes);
    const plan = planArrival(view, req, req.amount, this.o.config.slippage);
    if (plan.kind === 'fail') throw new UserError(plan.reason);
    const notional = plannedNotional(plan, req, req.amount);
    const small = checkMinCost(rules.info, notional);
    if (small !== null) throw new UserError(small);

    const now = describeTouch(view, req.side);
    let fee: number;
    let liquidity: 'maker' | 'taker';
    let basis: string;
    let reference: number;
    switch (plan.kind) {
      case 'take':
        fee = plan.exec.price * plan.exec.amount * rules.taker.rate + (plan.limit ?? 0) * plan.rest * rules.maker.rate;
        liquidity = 'taker';
        basis = plan.prefix + plan.exec.basis + (plan.rest > 0 ? `; the other ${fmt(plan.rest)} rests at the limit ${fmt(plan.limit as number)}` : '');
        reference = plan.exec.reference;
        break;
      case 'rest':
        fee = notional * rules.maker.rate;
        liquidity = 'maker';
        basis = `rests at the limit ${fmt(plan.limit)}; now ${now}`;
        reference = this.referenceOf(view, req.side) ?? plan.limit;
        break;
      case 'await-trigger': {
        const stop = req.stopPrice as number;
        liquidity = req.type === 'stop' ? 'taker' : 'maker';
        fee = notional * rules[liquidity].rate;
        basis = `stop ${fmt(stop)} not reached; now ${now}: priced at the ${req.type === 'stop' ? 'stop' : 'limit'} price, slippage at the trigger is not modelled`;
        reference = this.referenceOf(view, req.side) ?? stop;
        break;
      }
    }
    const price = notional / req.amount;
    return {
      price,
      reference,
      slippageBps: plan.kind === 'take' ? adverseBps(price, reference, req.side) : 0,
      notional,
      fee,
      // a limit partly filled on a book pays two rates: the blend is what the fee comes to
      feeRate: plan.kind === 'take' && plan.rest > 0 ? fee / notional : rules[liquidity].rate,
      feeCurrency: rules.info.quote,
      liquidity,
      feeSource: rules[liquidity].source,
      basis,
      spreadBps: spreadBps(view),
      depthQuote: depthQuote(view, req.side),
      priceTime: view.time,
    };
  }

  /** waits for operations in flight; the store belongs to the caller */
  async close(): Promise<void> {
    await this.chain;
  }

  // ---------------------------------------------------------------------------------------------

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const lease = this.lease;
    const step =
      lease === undefined
        ? fn
        : () =>
            lease.hold(() => {
              // another desk may have moved the account since: nothing cached is trusted
              this.account = null;
              this.orders.clear();
              this.db.forget();
              return fn();
            });
    const run = this.chain.then(step, step);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** loaded on first use (and after a failed write, so the store's recovery runs again) */
  private async state(): Promise<AccountState> {
    this.account ??= await this.db.loadAccount(this.o.config.balances);
    return this.account;
  }

  private async record(id: string): Promise<PaperOrder | undefined> {
    const cached = this.orders.get(id);
    if (cached !== undefined) return cached;
    const rec = await this.db.order(id);
    if (rec !== undefined && (rec.state === 'acknowledged' || rec.state === 'partially-filled')) this.orders.set(id, rec);
    return rec;
  }

  private async work(rec: PaperOrder): Promise<Work> {
    return { rec: structuredClone(rec), acc: cloneAccount(await this.state()), ledger: [], moved: false };
  }

  private async commit(w: Work): Promise<void> {
    w.rec.updatedAt = this.o.clock.now();
    try {
      await this.db.commit({ order: w.rec, ...(w.moved ? { account: w.acc, ledger: w.ledger } : {}) });
    } catch (e) {
      // what is in the store is now only known to the store: read it again (and recover) next time
      this.account = null;
      this.orders.clear();
      throw e;
    }
    if (w.moved) this.account = w.acc;
    // only resting orders stay in memory (polls read them); a finished one is read from the store
    // if ever asked again, so a long-running desk does not keep every order it ever filled
    if (w.rec.state === 'acknowledged' || w.rec.state === 'partially-filled') this.orders.set(w.rec.id, w.rec);
    else this.orders.delete(w.rec.id);
  }

  private async context(exchange: string, symbol: string): Promise<Ctx> {
    const rules = await marketRules(this.o.market, exchange, symbol, this.o.config.fees);
    const view = await observe(this.o.market, exchange, symbol, this.o.config.timeframes);
    return { rules, view };
  }

  /** placement: market rules, then the plan, then the market's minimum order value */
  private async arrive(w: Work): Promise<void> {
    const rec = w.rec;
    const rules = await marketRules(this.o.market, rec.exchange, rec.symbol, this.o.config.fees);
    rec.base = rules.info.base;
    rec.quote = rules.info.quote;
    const broken = checkOrderRules(rules.info, rec);
    if (broken !== null) return this.fail(w, broken);
    const view = await observe(this.o.market, rec.exchange, rec.symbol, this.o.config.timeframes);
    const plan = planArrival(view, rec, rec.amount, this.o.config.slippage);
    if (plan.kind !== 'fail') {
      const small = checkMinCost(rules.info, plannedNotional(plan, rec, rec.amount));
      if (small !== null) return this.fail(w, small);
    }
    this.apply(w, { rules, view }, plan);
  }

  /** carries out a plan on the working copies: fills, reservations, the order's state */
  private apply(w: Work, ctx: Ctx, plan: Arrival): void {
    const rec = w.rec;
    const remaining = this.remaining(rec);
    const { maker, taker } = ctx.rules;
    switch (plan.kind) {
      case 'fail':
        return this.fail(w, plan.reason);
      case 'await-trigger': {
        // a buy stop holds what it would likely cost at the stop (stop-limit: at its limit, at the higher fee rate)
        const price = rec.type === 'stop-limit' ? (rec.price as number) : (rec.stopPrice as number);
        const rate = rec.type === 'stop-limit' ? Math.max(maker.rate, taker.rate) : taker.rate;
        const hold = rec.side === 'buy' ? remaining * price * (1 + rate) : remaining;
        if (!this.afford(w, hold)) return;
        this.reserveFor(w, hold);
        rec.phase = 'awaiting-trigger';
        rec.state = rec.filled > 0 ? 'partially-filled' : 'acknowledged';
        return;
      }
      case 'rest': {
        const hold = rec.side === 'buy' ? remaining * plan.limit * (1 + maker.rate) : remaining;
        if (!this.afford(w, hold)) return;
        this.reserveFor(w, hold);
        rec.phase = 'resting';
        rec.state = rec.filled > 0 ? 'partially-filled' : 'acknowledged';
        return;
      }
      case 'take': {
        const e = plan.exec;
        const need = rec.side === 'buy' ? e.price * e.amount * (1 + taker.rate) + plan.rest * (plan.limit ?? 0) * (1 + maker.rate) : remaining;
        if (!this.afford(w, need)) return;
        this.fill(w, ctx, { ...e, basis: plan.prefix + e.basis }, 'taker');
        if (plan.rest > 0) {
          const restLimit = plan.limit as number;
          this.reserveFor(w, rec.side === 'buy' ? plan.rest * restLimit * (1 + maker.rate) : plan.rest);
          rec.phase = 'resting';
          rec.state = 'partially-filled';
        } else {
          this.finish(w, 'filled');
        }
        return;
      }
    }
  }

  /** a resting limit the price has reached fills in full at its limit, as maker */
  private makerFill(w: Work, ctx: Ctx): void {
    const rec = w.rec;
    const limit = rec.price as number;
    const amount = this.remaining(rec);
    const need = rec.side === 'buy' ? amount * limit * (1 + ctx.rules.maker.rate) : amount;
    if (!this.afford(w, need)) return;
    const basis = `resting limit ${fmt(limit)} reached (${describeTouch(ctx.view, rec.side)})`;
    this.fill(w, ctx, { ok: true, amount, price: limit, reference: limit, slippageBps: 0, basis }, 'maker');
    this.finish(w, 'filled');
  }

  /**
   * Releases what the order held (it is about to be spent or held anew) and checks that `need`
   * (quote for a buy, base for a sell) is free; if not, fails the order with the numbers.
   */
  private afford(w: Work, need: number): boolean {
    const rec = w.rec;
    this.release(w);
    const short =
      rec.side === 'buy'
        ? shortfall(w.acc, rec.quote as string, need, { money: true })
        : shortfall(w.acc, rec.base as string, need, { money: false, hint: ' (spot: no shorting)' });
    if (short === null) return true;
    this.fail(w, short);
    return false;
  }

  private reserveFor(w: Work, amount: number): void {
    reserve(w.acc, w.rec.id, (w.rec.side === 'buy' ? w.rec.quote : w.rec.base) as string, amount);
    w.moved = true;
  }

  private release(w: Work): void {
    if (w.acc.reservations[w.rec.id] === undefined) return;
    release(w.acc, w.rec.id);
    w.moved = true;
  }

  private fill(w: Work, ctx: Ctx, e: ExecutionOk, liquidity: 'maker' | 'taker'): void {
    const rec = w.rec;
    const quote = rec.quote as string;
    const fill: PaperFill = {
      price: e.price,
      amount: e.amount,
      fee: e.price * e.amount * ctx.rules[liquidity].rate,
      feeCurrency: quote,
      liquidity,
      time: this.o.clock.now(),
      basis: e.basis,
      priceTime: ctx.view.time,
    };
    const target = { orderId: rec.id, exchange: rec.exchange, symbol: rec.symbol, base: rec.base as string, quote, side: rec.side };
    w.ledger.push(applyFill(w.acc, target, fill));
    rec.fills.push(fill);
    rec.filled = sub(rec.amount, rec.filled + e.amount) === 0 ? rec.amount : rec.filled + e.amount;
    w.moved = true;
  }

  private fail(w: Work, reason: string): void {
    this.release(w);
    w.rec.reason = reason;
    this.finish(w, 'failed');
  }

  private finish(w: Work, state: 'filled' | 'cancelled' | 'failed'): void {
    w.rec.state = state;
    w.rec.phase = 'done';
  }

  private remaining(rec: PaperOrder): number {
    return sub(rec.amount, rec.filled);
  }

  /** the price the order's side meets now, for an estimate that fills nothing now */
  private referenceOf(view: PriceView, side: 'buy' | 'sell'): number | null {
    if (view.kind === 'candle') return (side === 'buy' ? view.ask : view.bid) ?? view.candle.close;
    return side === 'buy' ? view.ask : view.bid;
  }
}
