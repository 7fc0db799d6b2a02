import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DETECTOR, WhaleDetector, type DetectorSettings, type TradeColumnsIn, type WhaleEvent } from '../../src/whales/detector.js';
import { RollingMedian, RollingMoments } from '../../src/whales/rolling.js';
import { findWalls, imbalance, trackWalls, type BookIn } from '../../src/whales/walls.js';
import { severityOf } from '../../plugins/whales/index.js';
import { sharedDataDir } from '../helpers/recorded.js';

/** a recorded trades file read plainly (not with the product's parser) */
function readTrades(file: string): TradeColumnsIn & { id: string[]; side: Int8Array; time: Float64Array; price: Float64Array; amount: Float64Array; cost: Float64Array } {
  const lines = readFileSync(path.join(sharedDataDir(), 'trades', file), 'utf8').trim().split('\n');
  const header = (lines.shift() as string).split(',');
  const n = lines.length;
  const out = { time: new Float64Array(n), id: new Array<string>(n), side: new Int8Array(n), price: new Float64Array(n), amount: new Float64Array(n), cost: new Float64Array(n), length: n };
  lines.forEach((l, i) => {
    const f = l.split(',');
    const get = (name: string): string | undefined => f[header.indexOf(name)];
    out.time[i] = Number(get('timestamp'));
    out.price[i] = Number(get('price'));
    out.amount[i] = Number(get('amount'));
    out.id[i] = get('id') ?? String(i + 1);
    const side = get('side');
    out.side[i] = side === 'buy' ? 1 : side === 'sell' ? -1 : 0;
    const cost = get('cost');
    out.cost[i] = cost === undefined ? out.price[i] * out.amount[i] : Number(cost);
  });
  return out;
}

const xrp = readTrades('binance_XRP-ETH_trades.csv');
const ethusdt = readTrades('binance_ETH-USDT_trades.csv');
const bch = readTrades('kraken_BCH-EUR_trades.csv');

function run(t: TradeColumnsIn, s: DetectorSettings, exchange = 'binance', symbol = 'XRP/ETH'): WhaleEvent[] {
  const d = new WhaleDetector(exchange, symbol, s);
  return d.flush(d.process(t, []));
}

/** indices of the n largest prints, computed directly from the file's columns */
function largest(t: { cost: Float64Array; length: number }, n: number): number[] {
  return Array.from({ length: t.length }, (_, i) => i)
    .sort((a, b) => (t.cost[b] as number) - (t.cost[a] as number))
    .slice(0, n);
}

/** -0 as 0 (x + 0 is +0 for both zeros, x otherwise) */
const zero = (x: number): number => x + 0;

describe('rolling median and moments', () => {
  it('match a naive sorted window for any values and window size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.oneof(fc.integer({ min: -50, max: 50 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })), { maxLength: 300 }), (w, xs) => {
        const m = new RollingMedian(w);
        const mo = new RollingMoments(Math.max(2, w));
        xs.forEach((x, i) => {
          m.push(x);
          mo.push(x);
          const win = xs.slice(Math.max(0, i + 1 - w), i + 1).sort((a, b) => a - b);
          const k = win.length;
          const med = k % 2 === 1 ? (win[(k - 1) / 2] as number) : ((win[k / 2 - 1] as number) + (win[k / 2] as number)) / 2;
          // -0 and 0 are one number to a median, and a sort leaves equal keys in any order
          // (fast-check found [-0, 5e-324, 0]): compare with -0 read as 0
          expect(zero(m.median())).toBe(zero(med));
          expect(m.values().slice().sort((a, b) => a - b).map(zero)).toEqual(win.map(zero));
          const mw = xs.slice(Math.max(0, i + 1 - Math.max(2, w)), i + 1);
          const mean = mw.reduce((s, v) => s + v, 0) / mw.length;
          expect(mo.mean()).toBeCloseTo(mean, 3);
        });
      }),
      { numRuns: 200 },
    );
  });
});

describe('whale detection on the recorded trades', () => {
  it('finds the largest prints of each file (checked against the file itself)', () => {
    for (const [t, exchange, symbol] of [
      [xrp, 'binance', 'XRP/ETH'],
      [ethusdt, 'binance', 'ETH/USDT'],
      [bch, 'kraken', 'BCH/EUR'],
    ] as const) {
      // absolute threshold at the 10th largest print: the top 10 must all be in events
      const top = largest(t, 10);
      const tenth = t.cost[top[9] as number] as number;
      const events = run(t, { ...DEFAULT_DETECTOR, absolute: tenth }, exchange, symbol);
      for (const i of top) {
        const side = t.side[i] === 1 ? 'buy' : t.side[i] === -1 ? 'sell' : null;
        const holder = events.find((e) => e.side === side && e.firstTime <= (t.time[i] as number) && (t.time[i] as number) <= e.lastTime && e.maxPrint >= (t.cost[i] as number));
        expect(holder, `${symbol} print ${t.id[i]}`).toBeDefined();
      }
      const maxCost = Math.max(...Array.from(t.cost));
      expect(Math.max(...events.map((e) => e.maxPrint))).toBe(maxCost);
      // relative rules alone still find the largest print once the window is warm
      const rel = run(t, { ...DEFAULT_DETECTOR, minHistory: 50 }, exchange, symbol);
      const iMax = top[0] as number;
      if (iMax >= 50) expect(rel.some((e) => e.firstTime <= (t.time[iMax] as number) && (t.time[iMax] as number) <= e.lastTime && e.maxPrint === maxCost)).toBe(true);
    }
    expect(Math.max(...Array.from(xrp.cost))).toBe(54.85896591); // the XRP/ETH record's largest print, 2019-10-13 08:03:07
  });

  it('a real burst of prints is one event whose totals are the direct sums of the file rows', () => {
    const events = run(xrp, DEFAULT_DETECTOR);
    // the burst with the most prints
    const e = events.reduce((a, b) => (b.count > a.count ? b : a));
    expect(e.count).toBeGreaterThan(20);
    const code = e.side === 'buy' ? 1 : -1;
    const rows: number[] = [];
    for (let i = 0; i < xrp.length; i++) if (xrp.side[i] === code && (xrp.time[i] as number) >= e.firstTime && (xrp.time[i] as number) <= e.lastTime) rows.push(i);
    const sum = (col: Float64Array): number => rows.reduce((s, i) => s + (col[i] as number), 0);
    expect(e.count).toBe(rows.length);
    expect(e.size).toBeCloseTo(sum(xrp.amount), 6);
    expect(e.notional).toBeCloseTo(sum(xrp.cost), 9);
    expect(e.vwap).toBeCloseTo(sum(xrp.cost) / sum(xrp.amount), 12);
    const first = rows[0] as number;
    const last = rows[rows.length - 1] as number;
    expect(e.id).toBe(`binance:XRP/ETH:${xrp.id[first]}`);
    expect(e.firstPrice).toBe(xrp.price[first]);
    expect(e.lastPrice).toBe(xrp.price[last]);
    expect(e.impactPct).toBeCloseTo(((xrp.price[last] as number) / (xrp.price[first] as number) - 1) * 100, 12);
    expect(e.durationMs).toBe((xrp.time[last] as number) - (xrp.time[first] as number));
    // it is a whole burst: consecutive same-side prints ≤ 2 s apart inside, and > 2 s (or the 10 s cap) at both ends
    for (let k = 1; k < rows.length; k++) expect((xrp.time[rows[k] as number] as number) - (xrp.time[rows[k - 1] as number] as number)).toBeLessThanOrEqual(2000);
    expect(e.durationMs).toBeLessThanOrEqual(10_000);
    let before = first - 1;
    while (before >= 0 && xrp.side[before] !== code) before--;
    if (before >= 0) expect(e.firstTime - (xrp.time[before] as number)).toBeGreaterThan(2000);
    let after = last + 1;
    while (after < xrp.length && xrp.side[after] !== code) after++;
    if (after < xrp.length) {
      const t = xrp.time[after] as number;
      expect(t - e.lastTime > 2000 || t - e.firstTime > 10_000).toBe(true);
    }
  });

  it('any split into batches with a snapshot/restore (JSON) between them gives the same events, none twice', () => {
    const s = { ...DEFAULT_DETECTOR, absolute: 5 };
    const whole = run(xrp, s);
    expect(whole.length).toBeGreaterThan(50);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: xrp.length - 1 }), { maxLength: 6 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), xrp.length];
        let d = new WhaleDetector('binance', 'XRP/ETH', s);
        const out: WhaleEvent[] = [];
        for (let k = 0; k + 1 < points.length; k++) {
          d.process(xrp, out, points[k], points[k + 1]);
          d = WhaleDetector.restore('binance', 'XRP/ETH', s, JSON.parse(JSON.stringify(d.snapshot())));
        }
        d.flush(out);
        expect(out).toEqual(whole);
      }),
      { numRuns: 25 },
    );
  });

  it('severity: by share of 24 h volume, else by threshold multiples, saying which', () => {
    const e = run(xrp, { ...DEFAULT_DETECTOR, absolute: 5 })[0] as WhaleEvent;
    const lv = { high: 0.01, medium: 0.001 };
    expect(severityOf(e, { quote: e.notional * 50, base: null }, { ...DEFAULT_DETECTOR, absolute: 5 }, lv)).toEqual({ severity: 'high', basis: '2.00 % of 24 h quote volume' });
    expect(severityOf(e, { quote: null, base: e.size * 10_000 }, { ...DEFAULT_DETECTOR, absolute: 5 }, lv).severity).toBe('low');
    expect(severityOf(e, null, { ...DEFAULT_DETECTOR, absolute: e.notional / 4 }, lv)).toEqual({ severity: 'medium', basis: '4.0× the absolute threshold (no 24 h volume)' });
  });
});

// ---------------------------------------------------------------------------------------------
// Order books: none are recorded, so these are hand-written test inputs.

/** mid 100; a 60-unit bid wall at 99.5 (5,970) and a 40-unit ask wall at 101 (4,040) */
const TEST_BOOK_1: BookIn = {
  bids: [[99.9, 2], [99.5, 60], [99, 3], [97, 100]],
  asks: [[100.1, 1], [100.5, 2], [101, 40], [103, 100]],
};
/** the bid wall at 99.5 is gone while the best bid is still 99.9 (nothing traded down to it); the ask wall grew */
const TEST_BOOK_2_PULLED: BookIn = {
  bids: [[99.9, 2], [99, 3], [97, 100]],
  asks: [[100.1, 1], [100.5, 2], [101, 60], [103, 100]],
};
/** the price fell through 99.5: best bid 99.4, the wall's level consumed */
const TEST_BOOK_3_HIT: BookIn = {
  bids: [[99.4, 2], [99, 3], [97, 100]],
  asks: [[99.45, 1], [100.5, 2], [101, 40], [103, 100]],
};

describe('order-book walls and imbalance (test books)', () => {
  const s = { minNotional: 3000, withinPct: 2, growPct: 25 };

  it('finds levels above the notional threshold within X % of mid', () => {
    const w = findWalls(TEST_BOOK_1, s);
    expect(w.map((x) => [x.side, x.price, x.notional])).toEqual([
      ['bid', 99.5, 5970],
      ['ask', 101, 4040],
    ]);
    // 97 (100 units = 9,700) and 103 are 3 % away: outside the band
    expect(findWalls(TEST_BOOK_1, { ...s, withinPct: 5 }).map((x) => x.price)).toEqual([99.5, 97, 101, 103]);
  });

  it('a wall that appears and then disappears before the price reaches it is "pulled"', () => {
    const a = trackWalls(null, TEST_BOOK_1, s);
    expect(a.changes).toEqual([]);
    const b = trackWalls(a.walls, TEST_BOOK_2_PULLED, s, { low: 99.9, high: 100.1 });
    expect(b.changes.map((c) => [c.kind, c.side, c.price])).toEqual([
      ['grew', 'ask', 101],
      ['pulled', 'bid', 99.5],
    ]);
    // appearing again is "appeared"
    expect(trackWalls(b.walls, TEST_BOOK_1, s).changes.map((c) => c.kind)).toEqual(['appeared']);
  });

  it('a wall the price traded through is "filled", not pulled', () => {
    const a = trackWalls(null, TEST_BOOK_1, s);
    expect(trackWalls(a.walls, TEST_BOOK_3_HIT, s).changes.map((c) => [c.kind, c.price])).toEqual([['filled', 99.5]]);
    // a trade at the wall's price also counts, whatever the book shows afterwards
    expect(trackWalls(a.walls, TEST_BOOK_2_PULLED, s, { low: 99.5, high: 100 }).changes.find((c) => c.side === 'bid')?.kind).toBe('filled');
  });

  it('imbalance in ±0.5, ±1, ±2 % bands', () => {
    const r = imbalance(TEST_BOOK_1);
    // ±0.5 %: 99.5..100.5 → bids 99.9·2 + 99.5·60 = 6169.8; asks 100.1 + 100.5·2 = 301.1
    expect(r[0]?.bidNotional).toBeCloseTo(6169.8, 9);
    expect(r[0]?.askNotional).toBeCloseTo(301.1, 9);
    expect(r[0]?.imbalance).toBeCloseTo((6169.8 - 301.1) / (6169.8 + 301.1), 12);
    // ±1 %: + bid 99·3, + ask 101·40
    expect(r[1]?.bidNotional).toBeCloseTo(6169.8 + 297, 9);
    expect(r[1]?.askNotional).toBeCloseTo(301.1 + 4040, 9);
    // ±2 %: nothing more (97 and 103 are 3 % away)
    expect(r[2]?.bidNotional).toBeCloseTo(6169.8 + 297, 9);
    expect(imbalance({ bids: [], asks: [] })[0]?.imbalance).toBeNull();
  });
});
