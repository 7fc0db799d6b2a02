import type Keyv from 'keyv';
import { setIfAbsent } from './store.js';

export interface DedupeOptions {
  /** an id seen again within this many ms of its first sighting is a repeat */
  windowMs: number;
  /** drives the in-memory front only; the store's TTL runs on real time */
  clock?: { now(): number };
  /** cap on ids remembered in memory; default 100 000 */
  frontSize?: number;
}

const DEFAULT_FRONT_SIZE = 100_000;

/**
 * Handle each platform message id once per window, across restarts and instances.
 *
 * The store is the source of truth: the first sighting is recorded with `setIfAbsent` (atomic
 * across instances on Redis via SET NX PX; under a per-namespace lock on SQLite/memory, which
 * serve one process). A bounded in-memory front answers repeats this process already saw
 * without a store round trip, and — because it is written before any await — also makes two
 * concurrent calls with the same id in this process agree on a single winner.
 */
export class Dedupe {
  private readonly kv: Keyv;
  private readonly windowMs: number;
  private readonly clock: { now(): number };
  private readonly frontSize: number;
  /** id → expiry (clock ms); Map keeps insertion order, so the first key is the oldest */
  private readonly front = new Map<string, number>();
  /** ids in the order they were remembered, with the expiry they were given; `head` is the oldest live slot */
  private readonly order: string[] = [];
  private readonly orderExp: number[] = [];
  private head = 0;

  constructor(kv: Keyv, opts: DedupeOptions) {
    if (!Number.isFinite(opts.windowMs) || opts.windowMs <= 0) {
      throw new Error(`dedupe window must be a positive number of ms (got ${opts.windowMs})`);
    }
    const frontSize = opts.frontSize ?? DEFAULT_FRONT_SIZE;
    if (!Number.isInteger(frontSize) || frontSize < 1) throw new Error(`dedupe frontSize must be a positive integer (got ${frontSize})`);
    this.kv = kv;
    this.windowMs = opts.windowMs;
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.frontSize = frontSize;
  }

  /** true the first time an id is seen within the window, false for a repeat. */
  async firstSeen(id: string): Promise<boolean> {
    if (id.length === 0) throw new Error('dedupe: message id must not be empty');
    const now = this.clock.now();
    const cached = this.front.get(id);
    if (cached !== undefined) {
      if (cached > now) return false;
      this.front.delete(id);
    }
    this.remember(id, now + this.windowMs, now);
    try {
      // The stored value is the first-seen time, so another instance can bound its own front.
      const first = await setIfAbsent(this.kv, id, now, this.windowMs);
      if (!first) await this.rememberRepeat(id, now);
      return first;
    } catch (err) {
      // Not recorded anywhere: forget it so a retry asks the store again.
      this.front.delete(id);
      throw err;
    }
  }

  /** for a repeat first recorded elsewhere, cache it only until that sighting's window ends */
  private async rememberRepeat(id: string, now: number): Promise<void> {
    const firstAt: unknown = await this.kv.get(id);
    if (typeof firstAt === 'number' && firstAt + this.windowMs > now) {
      this.front.delete(id);
      this.remember(id, firstAt + this.windowMs, now);
    } else {
      // Unknown age (e.g. expired between the two reads): don't let the front claim a full window.
      this.front.delete(id);
    }
  }

  private remember(id: string, expiresAt: number, now: number): void {
    this.front.set(id, expiresAt);
    this.order.push(id);
    this.orderExp.push(expiresAt);
    // Evict from the oldest end: expired ids, then whatever is over the cap. The order lives in
    // arrays with a moving head, because walking a Map from its front after many deletes skips
    // every deleted slot each time (that cost 28% of dispatch).
    while (this.head < this.order.length) {
      const oldId = this.order[this.head] as string;
      const exp = this.orderExp[this.head] as number;
      if (this.front.get(oldId) !== exp) {
        this.head++; // superseded or already gone
        continue;
      }
      if (this.front.size <= this.frontSize && exp > now) break;
      this.front.delete(oldId);
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.orderExp.splice(0, this.head);
      this.head = 0;
    }
  }
}
