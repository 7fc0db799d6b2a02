import { createHash } from 'node:crypto';
import type Keyv from 'keyv';
import { z } from 'zod';
import { setIfAbsent } from '../store.js';
import { FINAL_STATES, OPEN_STATES, type Order } from './types.js';

/** how long an idempotency key is held: far longer than any platform redelivers a message */
const KEY_TTL_MS = 90 * 86_400_000;
/** how many order ids the "recent" index keeps */
const RECENT_MAX = 1_000;

const OPEN_INDEX = 'index:open';
/** the newest ids in buckets of RECENT_BUCKET (`index:recent:<n>`), and how many ids there are (`index:recent:count`) */
const RECENT_BUCKET = 100;
const RECENT_COUNT = 'index:recent:count';

/**
 * The client order id for an idempotency key: the same key always gives the same id, so a
 * redelivered message (or a restarted gateway) can only ever name the one order. 27 chars of
 * [a-z0-9-], inside every exchange's client-id alphabet and length (Binance: 36).
 */
export function clientOrderId(key: string): string {
  return `db-${createHash('sha256').update(key).digest('hex').slice(0, 24)}`;
}

const fillSchema = z.object({
  price: z.number(),
  amount: z.number(),
  fee: z.number(),
  feeCurrency: z.string(),
  liquidity: z.enum(['maker', 'taker']),
  time: z.number(),
});

const stateSchema = z.enum(['requested', 'checked', 'rejected', 'sent', 'acknowledged', 'partially-filled', 'filled', 'cancelled', 'failed']);

/** What a stored order must look like; a record that does not parse is reported, never guessed at. */
const orderSchema = z.object({
  id: z.string(),
  key: z.string(),
  exchange: z.string(),
  symbol: z.string(),
  side: z.enum(['buy', 'sell']),
  type: z.enum(['market', 'limit', 'stop', 'stop-limit']),
  amount: z.number(),
  price: z.number().optional(),
  stopPrice: z.number().optional(),
  origin: z.string(),
  note: z.string().optional(),
  state: stateSchema,
  broker: z.enum(['paper', 'live']),
  requestedBy: z.string(),
  filled: z.number(),
  avgPrice: z.number().nullable(),
  fees: z.number(),
  feeCurrency: z.string().nullable(),
  fills: z.array(fillSchema),
  reason: z.string().optional(),
  exchangeOrderId: z.string().optional(),
  checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string() })).optional(),
  createdAt: z.number(),
  updatedAt: z.number(),
  history: z.array(z.object({ state: stateSchema, at: z.number(), note: z.string().optional() })),
});

const idList = z.array(z.string());

/**
 * The order journal: every order and every change to it, in the kernel store (SQLite, or Redis
 * shared by every instance). The gateway writes here before it acts, so after a crash the
 * journal says what was asked and how far it got.
 *
 * Layout in the 'orders' namespace: `o:<id>` the order, `k:<id>` the idempotency claim,
 * `index:open` ids that may be resting at a broker, `index:recent:<n>` every order id in buckets
 * of 100 (a new order rewrites one small bucket, not a list of all recent ids). Index updates
 * go through one in-process chain; on Redis with several instances the order records and claims
 * stay exact, while the two indexes are per-writer best effort (recovery reads the records).
 */
export class OrderJournal {
  /** the unfinished orders as last recorded by this process (the gateway records every change here) */
  private readonly openOrders = new Map<string, Order>();
  private readonly openIds = new Set<string>();
  private readonly recentIds: string[] = [];
  private recentCount = 0;
  /** ids already in the recent index (bounded like recentIds) */
  private readonly seen = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();
  private loaded = false;

  constructor(private readonly kv: Keyv) {}

  async load(): Promise<void> {
    if (this.loaded) return;
    const open = idList.safeParse((await this.kv.get(OPEN_INDEX)) ?? []);
    const count = z.number().int().min(0).safeParse((await this.kv.get(RECENT_COUNT)) ?? 0);
    if (!open.success || !count.success) throw new Error('order journal index is unreadable; refusing to start trading blind');
    for (const id of open.data) {
      const o = await this.get(id);
      if (o && !FINAL_STATES.has(o.state)) {
        this.openIds.add(id);
        this.openOrders.set(id, o);
      }
    }
    this.recentCount = count.data;
    // the newest RECENT_MAX ids, from their buckets
    const last = Math.floor(Math.max(0, this.recentCount - 1) / RECENT_BUCKET);
    const first = Math.max(0, last - Math.ceil(RECENT_MAX / RECENT_BUCKET));
    for (let b = first; b <= last && this.recentCount > 0; b++) {
      const ids = idList.safeParse((await this.kv.get(`index:recent:${b}`)) ?? []);
      if (ids.success) this.recentIds.push(...ids.data);
    }
    if (this.recentIds.length > RECENT_MAX) this.recentIds.splice(0, this.recentIds.length - RECENT_MAX);
    for (const id of this.recentIds) this.seen.add(id);
    this.loaded = true;
  }

  /** true for the first claim of an order id; a repeat (a redelivered message) gets false */
  claim(id: string): Promise<boolean> {
    return setIfAbsent(this.kv, `k:${id}`, 1, KEY_TTL_MS);
  }

  async get(id: string): Promise<Order | undefined> {
    const raw: unknown = await this.kv.get(`o:${id}`);
    if (raw === undefined) return undefined;
    const parsed = orderSchema.safeParse(raw);
    if (!parsed.success) throw new Error(`order ${id} in the journal is unreadable`);
    return parsed.data as Order;
  }

  /** Store the order as it is now; resolves once it is in the store (and in the indexes). */
  async record(order: Order): Promise<void> {
    const ok = await this.kv.set(`o:${order.id}`, order);
    if (ok === false) throw new Error(`order ${order.id} could not be written to the journal`);
    if (FINAL_STATES.has(order.state)) this.openOrders.delete(order.id);
    else this.openOrders.set(order.id, order);
    await this.index(order);
  }

  /**
   * Orders that may be resting at the broker (sent, acknowledged, partly filled), oldest first.
   * From memory: risk checks ask for this on every order, and re-reading each one from the
   * store made a flood of orders quadratic.
   */
  async open(): Promise<Order[]> {
    return [...this.openOrders.values()].filter((o) => OPEN_STATES.has(o.state));
  }

  /** orders not yet final (including requested/checked ones a crash interrupted), oldest first */
  async unfinished(): Promise<Order[]> {
    return [...this.openOrders.values()];
  }

  /** newest first */
  async recent(limit: number): Promise<Order[]> {
    const ids = this.recentIds.slice(-limit).reverse();
    const out: Order[] = [];
    for (const id of ids) {
      const o = await this.get(id);
      if (o) out.push(o);
    }
    return out;
  }

  private index(order: Order): Promise<void> {
    const run = this.chain.then(async () => {
      let openChanged = false;
      let recentChanged = false;
      if (!FINAL_STATES.has(order.state)) {
        if (!this.openIds.has(order.id)) {
          this.openIds.add(order.id);
          openChanged = true;
        }
      } else if (this.openIds.delete(order.id)) {
        openChanged = true;
      }
      if (!this.seen.has(order.id)) {
        this.seen.add(order.id);
        this.recentIds.push(order.id);
        if (this.recentIds.length > RECENT_MAX) for (const gone of this.recentIds.splice(0, this.recentIds.length - RECENT_MAX)) this.seen.delete(gone);
        this.recentCount++;
        recentChanged = true;
      }
      if (openChanged) await this.kv.set(OPEN_INDEX, [...this.openIds]);
      if (recentChanged) {
        const bucket = Math.floor((this.recentCount - 1) / RECENT_BUCKET);
        const inBucket = ((this.recentCount - 1) % RECENT_BUCKET) + 1;
        await this.kv.set(`index:recent:${bucket}`, this.recentIds.slice(-inBucket));
        await this.kv.set(RECENT_COUNT, this.recentCount);
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }
}
