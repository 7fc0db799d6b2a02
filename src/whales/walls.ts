/**
 * Order-book walls and depth imbalance (pure, no I/O). Used by plugins/whales.
 *
 * A wall is a book level whose quote notional (price × amount) is ≥ `minNotional` and whose
 * price is within `withinPct` % of the mid ((best bid + best ask) / 2).
 *
 * Tracking two snapshots of the same book (`trackWalls`), per wall price and side:
 *   appeared  a wall now that was not a wall before
 *   grew      its amount rose by ≥ growPct %
 *   pulled    a wall before whose level is gone (or shrank below the threshold) although the price
 *             has not traded through it: for a bid wall no trade at or below its price and the
 *             best bid still above it (mirror for asks). That is someone cancelling, and its own alert.
 *   filled    gone because the price reached it (a trade at or through it, or the best price moved
 *             through it): the wall was hit, not pulled.
 * A wall that is merely outside the new snapshot's view (beyond its deepest level, or now
 * farther than withinPct from the mid while the level is still there) is not reported as pulled.
 *
 * Imbalance within a band of ±b % around the mid: (bid notional − ask notional) / (sum), in
 * [−1, 1], positive = more bids; null when both sides are empty in that band.
 */

export type BookLevel = readonly [price: number, amount: number];

export interface BookIn {
  /** best first */
  bids: ReadonlyArray<BookLevel>;
  asks: ReadonlyArray<BookLevel>;
}

export interface WallSettings {
  /** quote notional a level needs to be a wall */
  minNotional: number;
  /** only levels within this % of mid */
  withinPct: number;
  /** an amount increase of at least this % is "grew" */
  growPct: number;
}

export interface Wall {
  side: 'bid' | 'ask';
  price: number;
  amount: number;
  notional: number;
  /** distance from mid, % (always ≥ 0) */
  distancePct: number;
}

export type WallChangeKind = 'appeared' | 'grew' | 'pulled' | 'filled';

export interface WallChange {
  kind: WallChangeKind;
  side: 'bid' | 'ask';
  price: number;
  /** the wall now (appeared, grew) or as last seen (pulled, filled) */
  wall: Wall;
  /** as it was in the previous snapshot (grew, pulled, filled) */
  before?: Wall;
}

export interface BandImbalance {
  bandPct: number;
  bidNotional: number;
  askNotional: number;
  /** (bid − ask) / (bid + ask); null when both are 0 */
  imbalance: number | null;
}

export const DEFAULT_BANDS = [0.5, 1, 2] as const;

/** band edges are inclusive; a level exactly on an edge must not fall out through float rounding (100 × 1.005 = 100.49999…) */
const EDGE = 1e-9;

export function midPrice(book: BookIn): number | null {
  const b = book.bids[0];
  const a = book.asks[0];
  if (b === undefined || a === undefined) return null;
  return (b[0] + a[0]) / 2;
}

export function findWalls(book: BookIn, s: Pick<WallSettings, 'minNotional' | 'withinPct'>): Wall[] {
  const mid = midPrice(book);
  if (mid === null) return [];
  const out: Wall[] = [];
  const scan = (levels: ReadonlyArray<BookLevel>, side: 'bid' | 'ask'): void => {
    for (const [price, amount] of levels) {
      const distancePct = (Math.abs(price - mid) / mid) * 100;
      if (distancePct > s.withinPct * (1 + EDGE)) break; // best first: the rest are farther
      const notional = price * amount;
      if (notional >= s.minNotional) out.push({ side, price, amount, notional, distancePct });
    }
  };
  scan(book.bids, 'bid');
  scan(book.asks, 'ask');
  return out;
}

export function imbalance(book: BookIn, bands: readonly number[] = DEFAULT_BANDS): BandImbalance[] {
  const mid = midPrice(book);
  return bands.map((bandPct) => {
    let bid = 0;
    let ask = 0;
    if (mid !== null) {
      const lo = mid * (1 - bandPct / 100) * (1 - EDGE);
      const hi = mid * (1 + bandPct / 100) * (1 + EDGE);
      for (const [p, q] of book.bids) {
        if (p < lo) break;
        bid += p * q;
      }
      for (const [p, q] of book.asks) {
        if (p > hi) break;
        ask += p * q;
      }
    }
    const sum = bid + ask;
    return { bandPct, bidNotional: bid, askNotional: ask, imbalance: sum > 0 ? (bid - ask) / sum : null };
  });
}

/** the traded price range between the two snapshots, when known */
export interface TradedRange {
  low: number;
  high: number;
}

export function trackWalls(prev: readonly Wall[] | null, book: BookIn, s: WallSettings, traded: TradedRange | null = null): { walls: Wall[]; changes: WallChange[] } {
  const walls = findWalls(book, s);
  const changes: WallChange[] = [];
  if (prev === null) return { walls, changes };
  const key = (w: { side: string; price: number }): string => `${w.side}:${w.price}`;
  const before = new Map(prev.map((w) => [key(w), w]));
  const now = new Map(walls.map((w) => [key(w), w]));
  for (const w of walls) {
    const b = before.get(key(w));
    if (b === undefined) changes.push({ kind: 'appeared', side: w.side, price: w.price, wall: w });
    else if (w.amount >= b.amount * (1 + s.growPct / 100)) changes.push({ kind: 'grew', side: w.side, price: w.price, wall: w, before: b });
  }
  const bestBid = book.bids[0]?.[0];
  const bestAsk = book.asks[0]?.[0];
  for (const b of prev) {
    if (now.has(key(b))) continue;
    const levels = b.side === 'bid' ? book.bids : book.asks;
    const level = levels.find((l) => l[0] === b.price);
    // still resting with enough size, only farther from mid than the band: not gone
    if (level !== undefined && level[0] * level[1] >= s.minNotional) continue;
    // beyond the deepest level we can see: unknown, not pulled
    const deepest = levels[levels.length - 1]?.[0];
    if (level === undefined && deepest !== undefined && (b.side === 'bid' ? b.price < deepest : b.price > deepest)) continue;
    const throughByTrade = traded !== null && (b.side === 'bid' ? traded.low <= b.price : traded.high >= b.price);
    // the best price is now beyond the wall (or that side is empty): price came through it
    const throughByBook = b.side === 'bid' ? bestBid === undefined || bestBid < b.price : bestAsk === undefined || bestAsk > b.price;
    const kind: WallChangeKind = throughByTrade || throughByBook ? 'filled' : 'pulled';
    changes.push({ kind, side: b.side, price: b.price, wall: level === undefined ? { ...b, amount: 0, notional: 0 } : { ...b, amount: level[1], notional: level[0] * level[1] }, before: b });
  }
  return { walls, changes };
}
