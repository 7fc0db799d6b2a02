import { RollingMedian, RollingMoments } from './rolling.js';

/**
 * Whale trade detection (pure, streaming, no I/O). Used by plugins/whales and the benchmark.
 *
 * A print (one trade) is a whale print when its quote notional (price × amount) is
 *   - ≥ `absolute` (per symbol, from config), or
 *   - ≥ k × the rolling median notional of the previous `window` prints, or
 *   - its log notional is ≥ z standard deviations above the rolling mean of the previous
 *     `window` log notionals.
 * The relative rules need `minHistory` prints in the window first (no verdict from 3 trades).
 * The reference statistics exclude the print itself. Median: a fixed-window two-heap
 * order-statistic structure, O(log w) per print; moments: running sums, O(1) (see rolling.ts).
 *
 * Clustering: prints of the same side (buy, sell, or unknown when the exchange does not say)
 * form a burst while each is within `clusterMs` of the previous print of that side and within
 * `maxClusterMs` of the burst's first print (so a busy market cannot chain forever). A burst is
 * one whale event when at least one of its prints is a whale print, or its total notional is
 * ≥ `absolute`. The event carries the burst's totals — every same-side print in it, whale or
 * not: base size, quote notional, VWAP (notional / size), count, first/last time, duration and
 * price impact (last price vs first, %). Event id: `<exchange>:<symbol>:<first trade id>`.
 *
 * Input is columnar (typed arrays, side as Int8Array: 1 buy, −1 sell, 0 unknown); objects are
 * made only for events. Feeding the same trades in any split of batches gives the same events
 * (state is carried between calls and can be snapshotted with `snapshot()` / `restore`).
 */

export type Side = 'buy' | 'sell' | null;
export type Reason = 'absolute' | 'median' | 'zscore';

export interface DetectorSettings {
  /** quote notional that makes a print or a burst a whale; null: no absolute rule */
  absolute: number | null;
  /** k × rolling median; null: off */
  k: number | null;
  /** z-score on log notional; null: off */
  z: number | null;
  /** prints in the rolling window */
  window: number;
  /** prints needed in the window before the relative rules apply */
  minHistory: number;
  /** same-side prints within this many ms of the previous one join a burst */
  clusterMs: number;
  /** a burst spans at most this many ms from its first print */
  maxClusterMs: number;
}

export const DEFAULT_DETECTOR: DetectorSettings = { absolute: null, k: 50, z: 3, window: 1000, minHistory: 200, clusterMs: 2000, maxClusterMs: 10_000 };

export interface WhaleEvent {
  id: string;
  exchange: string;
  symbol: string;
  side: Side;
  firstId: string;
  lastId: string;
  firstTime: number;
  lastTime: number;
  durationMs: number;
  count: number;
  /** base amount */
  size: number;
  /** quote notional */
  notional: number;
  vwap: number;
  firstPrice: number;
  lastPrice: number;
  /** (last / first − 1) × 100 */
  impactPct: number;
  /** the largest single print's notional */
  maxPrint: number;
  reasons: Reason[];
  /** rolling median notional when the burst opened (null before minHistory prints) */
  median: number | null;
}

export interface TradeColumnsIn {
  time: ArrayLike<number>;
  id: ArrayLike<string>;
  /** 1 buy, −1 sell, 0 unknown */
  side: ArrayLike<number>;
  price: ArrayLike<number>;
  amount: ArrayLike<number>;
  /** quote notional; NaN or missing → price × amount */
  cost: ArrayLike<number>;
  length: number;
}

const R_ABS = 1;
const R_MED = 2;
const R_Z = 4;

interface Burst {
  open: boolean;
  firstId: string;
  lastId: string;
  firstTime: number;
  lastTime: number;
  count: number;
  size: number;
  notional: number;
  firstPrice: number;
  lastPrice: number;
  maxPrint: number;
  flags: number;
  median: number;
}

const emptyBurst = (): Burst => ({ open: false, firstId: '', lastId: '', firstTime: 0, lastTime: 0, count: 0, size: 0, notional: 0, firstPrice: 0, lastPrice: 0, maxPrint: 0, flags: 0, median: Number.NaN });

export interface DetectorSnapshot {
  v: 1;
  /** the window's notionals, oldest first */
  window: number[];
  /** RollingMoments' exact state so a restored detector computes bit-identical z-scores */
  moments: { ring: number[]; head: number; count: number; sum: number; sum2: number; sinceExact: number };
  bursts: Array<Omit<Burst, 'median'> & { median: number | null }>;
}

export const sideCode = (s: Side): number => (s === 'buy' ? 1 : s === 'sell' ? -1 : 0);
const sideOf = (c: number): Side => (c > 0 ? 'buy' : c < 0 ? 'sell' : null);

export class WhaleDetector {
  private readonly median: RollingMedian;
  private readonly moments: RollingMoments;
  /** by side code + 1: sell, unknown, buy */
  private readonly bursts: [Burst, Burst, Burst] = [emptyBurst(), emptyBurst(), emptyBurst()];
  private readonly absolute: number;
  private readonly k: number;
  private readonly z: number;

  constructor(
    readonly exchange: string,
    readonly symbol: string,
    readonly s: DetectorSettings,
  ) {
    this.median = new RollingMedian(s.window);
    this.moments = new RollingMoments(Math.max(2, s.window));
    this.absolute = s.absolute ?? Number.POSITIVE_INFINITY;
    this.k = s.k ?? Number.POSITIVE_INFINITY;
    this.z = s.z ?? Number.POSITIVE_INFINITY;
  }

  /** feed trades [from, to) in time order; finished events are appended to `out` */
  process(t: TradeColumnsIn, out: WhaleEvent[], from = 0, to = t.length): WhaleEvent[] {
    const { clusterMs, maxClusterMs, minHistory } = this.s;
    const bursts = this.bursts;
    const med = this.median;
    const mom = this.moments;
    const absolute = this.absolute;
    const k = this.k;
    const z = this.z;
    for (let i = from; i < to; i++) {
      const time = t.time[i] as number;
      const price = t.price[i] as number;
      const amount = t.amount[i] as number;
      let cost = t.cost[i] as number;
      if (!(cost === cost)) cost = price * amount;
      const sc = t.side[i] as number;
      const side = sc > 0 ? 2 : sc < 0 ? 0 : 1;

      // bursts nothing can join any more are finished
      for (let b = 0; b < 3; b++) {
        const u = bursts[b] as Burst;
        if (u.open && (time - u.lastTime > clusterMs || time - u.firstTime > maxClusterMs)) this.close(b, out);
      }

      let flags = cost >= absolute ? R_ABS : 0;
      let m = Number.NaN;
      const history = med.size >= minHistory;
      if (history) {
        m = med.median();
        if (cost >= k * m) flags |= R_MED;
        if (cost > 0) {
          const sd = mom.std();
          if (sd > 0 && (Math.log(cost) - mom.mean()) / sd >= z) flags |= R_Z;
        }
      }

      const u = bursts[side] as Burst;
      if (!u.open) {
        u.open = true;
        u.firstId = t.id[i] as string;
        u.firstTime = time;
        u.firstPrice = price;
        u.count = 0;
        u.size = 0;
        u.notional = 0;
        u.maxPrint = 0;
        u.flags = 0;
        u.median = history ? m : Number.NaN;
      }
      u.lastId = t.id[i] as string;
      u.lastTime = time;
      u.lastPrice = price;
      u.count++;
      u.size += amount;
      u.notional += cost;
      if (cost > u.maxPrint) u.maxPrint = cost;
      u.flags |= flags;

      if (cost > 0) {
        med.push(cost);
        mom.push(Math.log(cost));
      }
    }
    return out;
  }

  /** finish bursts that no print at or after `now` could join */
  expire(now: number, out: WhaleEvent[]): WhaleEvent[] {
    for (let b = 0; b < 3; b++) {
      const u = this.bursts[b] as Burst;
      if (u.open && (now - u.lastTime > this.s.clusterMs || now - u.firstTime > this.s.maxClusterMs)) this.close(b, out);
    }
    return out;
  }

  /** finish every open burst (end of a finite record) */
  flush(out: WhaleEvent[]): WhaleEvent[] {
    for (let b = 0; b < 3; b++) if ((this.bursts[b] as Burst).open) this.close(b, out);
    return out;
  }

  /** the earliest first-trade time of an open burst, or null */
  openSince(): number | null {
    let t: number | null = null;
    for (const u of this.bursts) if (u.open && (t === null || u.firstTime < t)) t = u.firstTime;
    return t;
  }

  snapshot(): DetectorSnapshot {
    return {
      v: 1,
      window: this.median.values(),
      moments: this.moments.state(),
      bursts: this.bursts.map((b) => ({ ...b, median: Number.isNaN(b.median) ? null : b.median })),
    };
  }

  static restore(exchange: string, symbol: string, s: DetectorSettings, snap: DetectorSnapshot): WhaleDetector {
    const d = new WhaleDetector(exchange, symbol, s);
    if (snap.v !== 1) throw new Error(`whale detector snapshot version ${String(snap.v)} is not understood`);
    if (snap.window.length > s.window || snap.moments.ring.length > d.moments.capacity) {
      throw new Error('whale detector snapshot was taken with a larger window than configured now');
    }
    for (const x of snap.window) d.median.push(x);
    d.moments.setState(snap.moments);
    snap.bursts.forEach((b, i) => Object.assign(d.bursts[i] as Burst, { ...b, median: b.median ?? Number.NaN }));
    return d;
  }

  private close(b: number, out: WhaleEvent[]): void {
    const u = this.bursts[b] as Burst;
    u.open = false;
    let flags = u.flags;
    if (u.notional >= this.absolute) flags |= R_ABS;
    if (flags === 0) return;
    const reasons: Reason[] = [];
    if (flags & R_ABS) reasons.push('absolute');
    if (flags & R_MED) reasons.push('median');
    if (flags & R_Z) reasons.push('zscore');
    out.push({
      id: `${this.exchange}:${this.symbol}:${u.firstId}`,
      exchange: this.exchange,
      symbol: this.symbol,
      side: sideOf(b - 1),
      firstId: u.firstId,
      lastId: u.lastId,
      firstTime: u.firstTime,
      lastTime: u.lastTime,
      durationMs: u.lastTime - u.firstTime,
      count: u.count,
      size: u.size,
      notional: u.notional,
      vwap: u.size > 0 ? u.notional / u.size : u.lastPrice,
      firstPrice: u.firstPrice,
      lastPrice: u.lastPrice,
      impactPct: (u.lastPrice / u.firstPrice - 1) * 100,
      maxPrint: u.maxPrint,
      reasons,
      median: Number.isNaN(u.median) ? null : u.median,
    });
  }
}

/** Trade objects (as ctx.market.trades returns them) → columns for the detector */
export function toColumns(trades: ReadonlyArray<{ id: string; time: number; side: Side; price: number; amount: number; cost: number }>): TradeColumnsIn {
  const n = trades.length;
  const c = { time: new Float64Array(n), id: new Array<string>(n), side: new Int8Array(n), price: new Float64Array(n), amount: new Float64Array(n), cost: new Float64Array(n), length: n };
  for (let i = 0; i < n; i++) {
    const t = trades[i] as (typeof trades)[number];
    c.time[i] = t.time;
    c.id[i] = t.id;
    c.side[i] = sideCode(t.side);
    c.price[i] = t.price;
    c.amount[i] = t.amount;
    c.cost[i] = Number.isFinite(t.cost) ? t.cost : t.price * t.amount;
  }
  return c;
}
