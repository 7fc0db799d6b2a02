import type { Logger } from 'pino';
import { z } from 'zod';
import type { Permissions } from '../auth/permissions.js';
import type { Principal } from '../auth/principal.js';
import type { Clock } from '../clock.js';
import { UserError } from '../errors.js';
import type { HaltState, HaltStatus } from '../halt.js';
import { clientOrderId, type OrderJournal } from './journal.js';
import {
  FINAL_STATES,
  OPEN_STATES,
  type Balance,
  type Broker,
  type BrokerKind,
  type BrokerUpdate,
  type Estimate,
  type HaltOutcome,
  type LedgerEntry,
  type Order,
  type OrderRequest,
  type OrderService,
  type OrderState,
  type Position,
  type Preview,
  type Requester,
  type RiskCheck,
  type RiskCheckResult,
} from './types.js';

export const TRADE_PERMISSION = 'trade:execute';

export interface GatewayDeps {
  journal: OrderJournal;
  halt: HaltState;
  permissions: Pick<Permissions, 'check'>;
  /** the broker orders go to, or why there is none (live configured but not armed) */
  broker: () => Broker | { refused: string };
  mode: BrokerKind;
  clock: Clock;
  logger: Logger;
  audit: { append(event: { kind: string; [field: string]: unknown }): unknown };
  fourEyesResume: boolean;
}

const positive = z.number().finite().positive();
const requestSchema = z
  .object({
    exchange: z.string().min(1),
    symbol: z.string().regex(/^[A-Z0-9.\-_]+\/[A-Z0-9.\-_]+$/, 'a resolved symbol like BTC/USDT'),
    side: z.enum(['buy', 'sell']),
    type: z.enum(['market', 'limit', 'stop', 'stop-limit']),
    amount: positive,
    price: positive.optional(),
    stopPrice: positive.optional(),
    key: z.string().min(1).max(200),
    origin: z.string().min(1),
    note: z.string().max(200).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if ((r.type === 'limit' || r.type === 'stop-limit') && r.price === undefined) ctx.addIssue({ code: 'custom', message: `a ${r.type} order needs a limit price` });
    if ((r.type === 'stop' || r.type === 'stop-limit') && r.stopPrice === undefined) ctx.addIssue({ code: 'custom', message: `a ${r.type} order needs a stop price` });
    if (r.type === 'market' && r.price !== undefined) ctx.addIssue({ code: 'custom', message: 'a market order has no limit price' });
  });

/**
 * The order gateway: the only path from a plugin or a command to a broker. For each order, in
 * this order: halt state, permission, idempotency key, every risk check, then the broker — and
 * every state change is in the journal before it is acted on.
 *
 * Halting closes the gateway synchronously (a local flag) before the halt is even persisted,
 * then waits for orders already on their way to the broker and cancels everything open. An
 * order that had not reached the broker when the flag flipped is refused, so nothing is
 * accepted after a halt is acknowledged.
 */
export class OrderGateway implements OrderService {
  private readonly checks = new Set<RiskCheck>();
  private readonly listeners = new Set<(o: Order) => void>();
  private readonly haltListeners = new Set<(h: { by: string; reason: string; peer: boolean }) => void>();
  /** orders between their final halt check and the broker's answer */
  private readonly sending = new Set<Promise<unknown>>();
  /** a local halt not yet confirmed by the store: refuse even before the store says so */
  private closing: { by: string; reason: string } | null = null;
  /** bumped synchronously by every halt: a check that straddles a halt sees it changed */
  private haltEpoch = 0;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(private readonly d: GatewayDeps) {}

  get mode(): BrokerKind {
    return this.d.mode;
  }

  /** Bring the journal in line with the broker after a restart; returns what it found. */
  async recover(): Promise<Array<{ order: Order; outcome: string }>> {
    await this.d.journal.load();
    const out: Array<{ order: Order; outcome: string }> = [];
    for (const order of await this.d.journal.unfinished()) {
      if (order.state === 'requested' || order.state === 'checked') {
        // Never reached a broker: not sent, so nothing to lose; it is closed and reported.
        const o = await this.transition(order, 'failed', { reason: 'interrupted by a restart before it was sent; not placed' });
        out.push({ order: o, outcome: 'not sent (interrupted before the broker)' });
        continue;
      }
      const broker = this.d.broker();
      if ('refused' in broker) {
        out.push({ order, outcome: `left as ${order.state}: ${broker.refused}` });
        continue;
      }
      try {
        const update = await broker.lookup(order);
        if (update === null) {
          const o = await this.transition(order, 'failed', { reason: 'the broker never received it (interrupted by a restart); not placed' });
          out.push({ order: o, outcome: 'not at the broker' });
        } else {
          const o = await this.apply(order, update);
          out.push({ order: o, outcome: `at the broker: ${o.state}` });
        }
      } catch (err) {
        out.push({ order, outcome: `broker lookup failed: ${message(err)}` });
      }
    }
    return out;
  }

  /** Re-check resting orders every `ms` (paper: price crossing; live: exchange status). */
  startPolling(ms: number): void {
    if (ms <= 0) return;
    this.pollTimer = setInterval(() => void this.pollOnce(), ms);
    this.pollTimer.unref();
  }

  stopPolling(): void {
    clearInterval(this.pollTimer);
  }

  /** one pass over the open orders; exposed so tests and the paper desk need not wait */
  async pollOnce(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const broker = this.d.broker();
      if ('refused' in broker) return;
      for (const order of await this.d.journal.open()) {
        try {
          const update = await broker.lookup(order);
          if (update !== null && (update.fills.length > 0 || update.state !== order.state)) await this.apply(order, update);
        } catch (err) {
          this.d.logger.warn({ err, order: order.id }, 'order poll failed');
        }
      }
    } finally {
      this.polling = false;
    }
  }

  async place(raw: OrderRequest, as: Requester): Promise<Order> {
    const req = parseRequest(raw);
    const id = clientOrderId(req.key);
    const who = as.principal.person ?? `${as.principal.platform}:${as.principal.userId}`;

    // 1. halt
    const halt = await this.halted();
    if (halt.halted) return this.refuse(req, id, who, `trading is halted${haltWho(halt)}: ${halt.reason ?? 'no reason given'}`);
    // 2. permission
    const decision = this.d.permissions.check(as.principal, TRADE_PERMISSION, as.channel);
    if (!decision.allowed) return this.refuse(req, id, who, `not allowed: ${decision.reason}`);
    // 3. idempotency: one order per key, ever
    if (!(await this.d.journal.claim(id))) return this.existing(id);

    const broker = this.d.broker();
    const now = this.d.clock.now();
    let order = this.newOrder(req, id, who, now);
    await this.record(order);
    if ('refused' in broker) return this.transition(order, 'rejected', { reason: broker.refused });

    // 4. risk checks, on the broker's estimate from real prices
    let checks: RiskCheckResult[];
    try {
      checks = await this.runChecks(req, who, await broker.estimate(req));
    } catch (err) {
      return this.transition(order, 'rejected', { reason: `no price to check it against: ${message(err)}` });
    }
    const failed = checks.filter((c) => !c.ok);
    if (failed.length > 0) {
      return this.transition(order, 'rejected', { reason: failed.map((c) => `${c.name}: ${c.detail}`).join('; '), checks });
    }
    order = await this.transition(order, 'checked', { checks });

    // A halt during the checks wins: look again right before the broker. The epoch catches a
    // halt that began while this read was in flight (the read may predate the halt's write).
    const epoch = this.haltEpoch;
    const again = await this.halted();
    if (again.halted || epoch !== this.haltEpoch) {
      const h = again.halted ? again : await this.halted();
      return this.transition(order, 'rejected', { reason: `trading is halted${haltWho(h)}: ${h.reason ?? 'no reason given'}` });
    }

    const sent = this.send(broker, order);
    this.sending.add(sent);
    try {
      return await sent;
    } finally {
      this.sending.delete(sent);
    }
  }

  async preview(raw: OrderRequest, as: Requester): Promise<Preview> {
    const req = parseRequest(raw);
    const who = as.principal.person ?? `${as.principal.platform}:${as.principal.userId}`;
    const halt = await this.halted();
    const broker = this.d.broker();
    if ('refused' in broker) throw new UserError(broker.refused);
    const estimate = await broker.estimate(req);
    const checks = await this.runChecks(req, who, estimate);
    return { estimate, checks, halt, wouldPass: !halt.halted && checks.every((c) => c.ok) };
  }

  async cancel(id: string, as: Requester): Promise<Order> {
    const decision = this.d.permissions.check(as.principal, TRADE_PERMISSION, as.channel);
    if (!decision.allowed) throw new UserError(`Not allowed to cancel orders: ${decision.reason}.`);
    const order = await this.d.journal.get(id);
    if (!order) throw new UserError(`No order ${id}.`);
    if (!OPEN_STATES.has(order.state)) throw new UserError(`Order ${id} is ${order.state}; only open orders can be cancelled.`);
    return this.cancelOne(order, `cancelled by ${as.principal.person ?? as.principal.userId}`);
  }

  get(id: string): Promise<Order | undefined> {
    return this.d.journal.get(id);
  }

  byKey(key: string): Promise<Order | undefined> {
    return this.d.journal.get(clientOrderId(key));
  }

  open(): Promise<Order[]> {
    return this.d.journal.open();
  }

  recent(limit: number): Promise<Order[]> {
    return this.d.journal.recent(limit);
  }

  balances(): Promise<Balance[]> {
    return this.brokerOrThrow().balances();
  }

  positions(): Promise<Position[]> {
    return this.brokerOrThrow().positions();
  }

  ledger(since: number): Promise<LedgerEntry[]> {
    return this.brokerOrThrow().ledger(since);
  }

  estimate(req: OrderRequest): Promise<Estimate> {
    return this.brokerOrThrow().estimate(parseRequest(req));
  }

  addRiskCheck(check: RiskCheck): () => void {
    this.checks.add(check);
    return () => {
      this.checks.delete(check);
    };
  }

  async halt(by: string, reason: string): Promise<HaltOutcome> {
    // Closed before anything is awaited: every place() from here on is refused.
    this.closing = { by, reason };
    this.haltEpoch++;
    this.tellHalt({ by, reason, peer: false });
    let status: HaltStatus;
    let changed: boolean;
    try {
      const before = await this.d.halt.status();
      status = await this.d.halt.halt(by, reason);
      changed = !before.halted;
    } catch (err) {
      // Not persisted: stay closed locally (fail safe) and say so.
      this.d.logger.error({ err }, 'halt could not be persisted; the gateway stays closed in this process');
      throw err;
    }
    this.closing = null;
    this.d.audit.append({ kind: 'halt', by, reason, changed });
    // Orders already past their last halt check finish first, so they can be cancelled too.
    return { status, changed, ...(await this.cancelAllOpen(by, reason)) };
  }

  /**
   * Another instance halted (it persisted the halt and told us): close this gateway at once and
   * cancel the orders this instance has open. The store stays the source of truth: every order
   * reads it anyway, so a lost message only delays the cancelling, never lets an order through.
   */
  async peerHalted(by: string, reason: string): Promise<Omit<HaltOutcome, 'status' | 'changed'>> {
    this.haltEpoch++;
    this.tellHalt({ by, reason, peer: true });
    return this.cancelAllOpen(by, reason);
  }

  private tellHalt(h: { by: string; reason: string; peer: boolean }): void {
    for (const fn of [...this.haltListeners]) {
      try {
        fn(h);
      } catch (err) {
        this.d.logger.error({ err }, 'halt listener failed');
      }
    }
  }

  /** after the orders already on their way to the broker land, cancel everything open */
  private async cancelAllOpen(by: string, reason: string): Promise<Omit<HaltOutcome, 'status' | 'changed'>> {
    await Promise.allSettled([...this.sending]);
    const cancelled: Order[] = [];
    const cancelFailures: HaltOutcome['cancelFailures'] = [];
    for (const order of await this.d.journal.open()) {
      try {
        const o = await this.cancelOne(order, `cancelled by the halt (${by}: ${reason})`);
        if (o.state === 'cancelled') cancelled.push(o);
        else if (OPEN_STATES.has(o.state)) cancelFailures.push({ order: o, reason: o.reason ?? 'still open' });
      } catch (err) {
        cancelFailures.push({ order, reason: message(err) });
      }
    }
    return { cancelled, cancelFailures };
  }

  async resume(by: Principal): Promise<HaltStatus> {
    const current = await this.d.halt.status();
    if (!current.halted) return current;
    if (this.d.fourEyesResume && by.person !== null && current.by === by.person) {
      this.d.audit.append({ kind: 'resume', by: by.person, allowed: false, reason: 'four eyes: the person who halted cannot resume' });
      throw new UserError(`Trading was halted by you; four eyes: someone else with risk:resume must /resume.`);
    }
    const who = by.person ?? `${by.platform}:${by.userId}`;
    const status = await this.d.halt.resume(who);
    this.closing = null;
    this.d.audit.append({ kind: 'resume', by: who, allowed: true, haltedBy: current.by ?? null, haltReason: current.reason ?? null });
    return status;
  }

  async halted(): Promise<HaltStatus> {
    if (this.closing) return { halted: true, by: this.closing.by, reason: this.closing.reason };
    return this.d.halt.status();
  }

  onUpdate(fn: (order: Order) => void): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  /** called synchronously the moment a halt closes this gateway (before it is persisted); `peer`: another instance halted */
  onHalt(fn: (h: { by: string; reason: string; peer: boolean }) => void): () => void {
    this.haltListeners.add(fn);
    return () => {
      this.haltListeners.delete(fn);
    };
  }

  /** Orders that only reduce positions, sent even while halted (the halt's "flatten"). */
  async flatten(by: string, key: string): Promise<Order[]> {
    const broker = this.brokerOrThrow();
    const out: Order[] = [];
    for (const p of await broker.positions()) {
      if (p.amount === 0) continue;
      const req = parseRequest({
        exchange: p.exchange,
        symbol: p.symbol,
        side: p.amount > 0 ? 'sell' : 'buy',
        type: 'market',
        amount: Math.abs(p.amount),
        key: `${key}:flatten:${p.exchange}:${p.symbol}`,
        origin: 'halt-flatten',
      });
      const id = clientOrderId(req.key);
      if (!(await this.d.journal.claim(id))) {
        out.push(await this.existing(id));
        continue;
      }
      const now = this.d.clock.now();
      const order = this.newOrder(req, id, by, now, 'flatten: reduces a position, allowed while halted');
      await this.record(order);
      const checked = await this.transition(order, 'checked', { checks: [{ name: 'reduce-only', ok: true, detail: `closes ${p.amount} ${p.symbol}` }] });
      out.push(await this.send(broker, checked));
    }
    return out;
  }

  private async send(broker: Broker, checked: Order): Promise<Order> {
    const order = await this.transition(checked, 'sent', {});
    let update: BrokerUpdate;
    try {
      update = await broker.place(order);
    } catch (err) {
      return this.transition(order, 'failed', { reason: `broker error: ${message(err)}` });
    }
    return this.apply(order, update);
  }

  private async cancelOne(order: Order, why: string): Promise<Order> {
    const broker = this.brokerOrThrow();
    const update = await broker.cancel(order);
    if (update.state === 'cancelled') return this.apply(order, { ...update, reason: update.reason ?? why });
    return this.apply(order, update);
  }

  private async runChecks(req: OrderRequest, who: string, estimate: Estimate): Promise<RiskCheckResult[]> {
    if (this.checks.size === 0) return [];
    const broker = this.brokerOrThrow();
    const [positions, openOrders, balances] = await Promise.all([broker.positions(), this.d.journal.open(), broker.balances()]);
    const quote = req.symbol.split('/')[1] ?? '';
    const input = { order: req, requestedBy: who, estimate, quote, positions, openOrders, balances };
    const results: RiskCheckResult[] = [];
    for (const check of this.checks) {
      try {
        results.push(await check.check(input));
      } catch (err) {
        // A check that cannot decide refuses: fail closed.
        results.push({ name: check.name, ok: false, detail: `could not be evaluated (${message(err)})` });
      }
    }
    return results;
  }

  /** A refusal before the key was claimed: journaled under the key unless the key already names an order. */
  private async refuse(req: OrderRequest, id: string, who: string, reason: string): Promise<Order> {
    if (!(await this.d.journal.claim(id))) return this.existing(id);
    const now = this.d.clock.now();
    const fresh = this.newOrder(req, id, who, now);
    const order: Order = { ...fresh, state: 'rejected', reason, history: [...fresh.history, { state: 'rejected', at: now, note: reason }] };
    await this.record(order);
    return order;
  }

  /** the order a claimed key already names; a concurrent first claim may still be writing it */
  private async existing(id: string): Promise<Order> {
    for (let i = 0; i < 50; i++) {
      const o = await this.d.journal.get(id);
      if (o) return o;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`order ${id} was claimed but never journaled`);
  }

  /** a just-requested order: nothing filled yet, its first history line */
  private newOrder(req: OrderRequest, id: string, who: string, now: number, note?: string): Order {
    return {
      ...req,
      id,
      state: 'requested',
      broker: this.d.mode,
      requestedBy: who,
      filled: 0,
      avgPrice: null,
      fees: 0,
      feeCurrency: null,
      fills: [],
      createdAt: now,
      updatedAt: now,
      history: [note === undefined ? { state: 'requested', at: now } : { state: 'requested', at: now, note }],
    };
  }

  private apply(order: Order, update: BrokerUpdate): Promise<Order> {
    let filled = order.filled;
    let cost = order.avgPrice === null ? 0 : order.avgPrice * order.filled;
    let fees = order.fees;
    let feeCurrency = order.feeCurrency;
    for (const f of update.fills) {
      filled += f.amount;
      cost += f.amount * f.price;
      fees += f.fee;
      feeCurrency ??= f.feeCurrency;
    }
    const patch: Partial<Order> = {
      filled,
      avgPrice: filled > 0 ? cost / filled : null,
      fees,
      feeCurrency,
      fills: [...order.fills, ...update.fills],
    };
    if (update.exchangeOrderId !== undefined) patch.exchangeOrderId = update.exchangeOrderId;
    if (update.reason !== undefined) patch.reason = update.reason;
    // A broker that reports nothing new about a final order changes nothing.
    if (FINAL_STATES.has(order.state) && update.fills.length === 0) return Promise.resolve(order);
    return this.transition(order, update.state, patch);
  }

  private async transition(order: Order, state: OrderState, patch: Partial<Order>): Promise<Order> {
    const at = this.d.clock.now();
    const note = patch.reason;
    const next: Order = {
      ...order,
      ...patch,
      state,
      updatedAt: at,
      history: [...order.history, note !== undefined && state !== order.state ? { state, at, note } : { state, at }],
    };
    await this.record(next);
    return next;
  }

  private async record(order: Order): Promise<void> {
    await this.d.journal.record(order);
    const last = order.history[order.history.length - 1];
    this.d.audit.append({
      kind: 'order',
      id: order.id,
      key: order.key,
      state: order.state,
      symbol: order.symbol,
      side: order.side,
      type: order.type,
      amount: order.amount,
      ...(order.price !== undefined ? { price: order.price } : {}),
      filled: order.filled,
      by: order.requestedBy,
      broker: order.broker,
      ...(last?.note !== undefined ? { reason: last.note } : {}),
    });
    for (const fn of [...this.listeners]) {
      try {
        fn(order);
      } catch (err) {
        this.d.logger.error({ err }, 'order listener failed');
      }
    }
  }

  private brokerOrThrow(): Broker {
    const b = this.d.broker();
    if ('refused' in b) throw new UserError(b.refused);
    return b;
  }

  /** wait for orders on their way to the broker (shutdown) */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.sending]);
  }
}

function parseRequest(raw: OrderRequest): OrderRequest {
  const r = requestSchema.safeParse(raw);
  if (!r.success) throw new UserError(`Bad order: ${r.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ')}.`);
  const out: OrderRequest = { exchange: r.data.exchange, symbol: r.data.symbol, side: r.data.side, type: r.data.type, amount: r.data.amount, key: r.data.key, origin: r.data.origin };
  if (r.data.price !== undefined) out.price = r.data.price;
  if (r.data.stopPrice !== undefined) out.stopPrice = r.data.stopPrice;
  if (r.data.note !== undefined) out.note = r.data.note;
  return out;
}

function haltWho(h: HaltStatus): string {
  return `${h.by ? ` by ${h.by}` : ''}${h.since ? ` since ${h.since.slice(0, 16).replace('T', ' ')} UTC` : ''}`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
