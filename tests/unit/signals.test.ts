import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fmtNum, fmtSigned } from '../../plugins/signals/format.js';
import { closedWindow } from '../../plugins/signals/index.js';
import { Indicators, RULES, runRule, type Rule, type Series } from '../../plugins/signals/rules.js';
import { measureAt, rank, scanQuerySchema, type ScanValues } from '../../plugins/signals/scan.js';
import { compileStrategies, compileStrategy, DEFAULT_STRATEGIES, evaluate, evaluateAt, strategyConfigSchema } from '../../plugins/signals/strategies.js';
import * as ta from '../../src/ta/index.js';
import { DataGapError, type MarketData } from '../../src/kernel/index.js';
import { checkCandles } from '../../src/market/integrity.js';
import { fromRows, sliceCandles, type Candles } from '../../src/market/types.js';
import { recordedCandles } from '../helpers/recorded.js';

/** The contiguous tail of a recorded series (after its last maintenance gap): real candles, no holes. */
function contiguousTail(c: Candles): Candles {
  let start = 0;
  for (let i = 1; i < c.length; i++) if ((c.time[i] as number) - (c.time[i - 1] as number) !== c.timeframeMs) start = i;
  return sliceCandles(c, start);
}

const btc = contiguousTail(recordedCandles('binance', 'BTC/USDT', '1h'));
const eth = contiguousTail(recordedCandles('binance', 'ETH/USDT', '1h'));
const sol = contiguousTail(recordedCandles('binance', 'SOL/USDT', '1h'));
const strategies = compileStrategies();

const rule = (id: string): Rule => RULES.get(id) as Rule;
const defaults = (id: string): Record<string, number> => rule(id).params.parse({});
const evalRule = (id: string, x: Indicators, i: number) => runRule(rule(id), defaults(id), 1, x, i);

/** every index from the first one where all of a rule's inputs exist */
function* indices(c: Series, from: number): Generator<number> {
  for (let i = from; i < c.length; i++) yield i;
}

describe('rules on real candles (BTC/USDT 1h, contiguous tail)', () => {
  const x = new Indicators(btc);

  it('the tail is long enough to mean something', () => {
    expect(btc.length).toBeGreaterThan(1500);
  });

  it('every rule: vote in [-1, 1], 0 when it did not fire, a reason with numbers, and defined once warmed up', () => {
    for (const r of RULES.values()) {
      const p = r.params.parse({});
      for (let i = 0; i < btc.length; i++) {
        const res = runRule(r, p, 1, x, i);
        expect(res.vote).toBeGreaterThanOrEqual(-1);
        expect(res.vote).toBeLessThanOrEqual(1);
        if (!res.fired) expect(res.vote).toBe(0);
        if (i + 1 >= r.warmup(p)) {
          expect(res.available, `${r.id} at ${i}`).toBe(true);
          expect(res.reason).toMatch(/\d/);
        }
      }
    }
  });

  it('rsi_extreme: "RSI(14) 28.4 < 30: oversold" exactly when RSI(14) < 30, overbought above 70', () => {
    const rsi = ta.rsi(btc.close, 14);
    let oversold = 0;
    let overbought = 0;
    for (const i of indices(btc, 15)) {
      const r = evalRule('rsi_extreme', x, i);
      const v = rsi[i] as number;
      if (v < 30) {
        oversold++;
        expect(r).toMatchObject({ fired: true, vote: 1, reason: `RSI(14) ${v.toFixed(1)} < 30: oversold` });
      } else if (v > 70) {
        overbought++;
        expect(r).toMatchObject({ fired: true, vote: -1, reason: `RSI(14) ${v.toFixed(1)} > 70: overbought` });
      } else expect(r.fired).toBe(false);
    }
    // the record holds the May 2021 crash and the spring rally: both extremes occur
    expect(oversold).toBeGreaterThan(10);
    expect(overbought).toBeGreaterThan(10);
  });

  it('ema_cross: votes with the sign of EMA(20) − EMA(50), ±1 within 5 candles of a real cross', () => {
    const f = ta.ema(btc.close, 20);
    const s = ta.ema(btc.close, 50);
    let crosses = 0;
    for (const i of indices(btc, 50)) {
      const d = (f[i] as number) - (s[i] as number);
      const r = evalRule('ema_cross', x, i);
      expect(Math.sign(r.vote)).toBe(Math.sign(d));
      const prev = (f[i - 1] as number) - (s[i - 1] as number);
      if (i > 50 && Math.sign(prev) !== Math.sign(d)) {
        crosses++;
        expect(Math.abs(r.vote)).toBe(1);
        expect(r.reason).toContain(`cross ${d > 0 ? 'up' : 'down'} on this candle`);
        expect(r.reason).toContain(`EMA(20) ${fmtNum(f[i] as number)}`);
      }
    }
    expect(crosses).toBeGreaterThan(5);
  });

  it('donchian_break: close beyond the highest high / lowest low of the 20 candles before it (computed here by hand)', () => {
    let ups = 0;
    let downs = 0;
    for (const i of indices(btc, 20)) {
      let hi = -Infinity;
      let lo = Infinity;
      for (let j = i - 20; j < i; j++) {
        hi = Math.max(hi, btc.high[j] as number);
        lo = Math.min(lo, btc.low[j] as number);
      }
      const c = btc.close[i] as number;
      const r = evalRule('donchian_break', x, i);
      expect(r.vote).toBe(c > hi ? 1 : c < lo ? -1 : 0);
      if (c > hi) {
        ups++;
        expect(r.reason).toBe(`close ${fmtNum(c)} > 20-candle high ${fmtNum(hi)}: breakout up`);
      }
      if (c < lo) downs++;
    }
    expect(ups).toBeGreaterThan(10);
    expect(downs).toBeGreaterThan(10);
  });

  it('volume_surge: volume ≥ 2× the mean of the previous 20 candles, voting the candle direction', () => {
    let fired = 0;
    for (const i of indices(btc, 20)) {
      let sum = 0;
      for (let j = i - 20; j < i; j++) sum += btc.volume[j] as number;
      const ratio = (btc.volume[i] as number) / (sum / 20);
      const r = evalRule('volume_surge', x, i);
      const dir = Math.sign((btc.close[i] as number) - (btc.open[i] as number));
      expect(r.fired).toBe(ratio >= 2 && dir !== 0);
      if (r.fired) {
        fired++;
        expect(r.vote).toBeCloseTo(dir * Math.min(1, ratio / 4), 9);
      }
    }
    expect(fired).toBeGreaterThan(10);
  });

  it('adx_di fires at ADX ≥ 25 in the direction of the larger DI; macd_hist marks the histogram turns', () => {
    const d = ta.adx(btc.high, btc.low, btc.close, 14);
    const h = ta.macd(btc.close, 12, 26, 9).histogram;
    let turns = 0;
    for (const i of indices(btc, 40)) {
      const a = evalRule('adx_di', x, i);
      const adx = d.adx[i] as number;
      expect(a.fired).toBe(adx >= 25 && d.plusDI[i] !== d.minusDI[i]);
      if (a.fired) expect(Math.sign(a.vote)).toBe(Math.sign((d.plusDI[i] as number) - (d.minusDI[i] as number)));
      const m = evalRule('macd_hist', x, i);
      const now = h[i] as number;
      const prev = h[i - 1] as number;
      if (now > 0 && prev <= 0) {
        turns++;
        expect(m).toMatchObject({ vote: 1 });
        expect(m.reason).toContain('turned positive');
      }
    }
    expect(turns).toBeGreaterThan(10);
  });
});

describe('strategies', () => {
  it('has the five built-ins, each with rules, a warm-up and a settle window', () => {
    expect([...strategies.keys()]).toEqual(['trend', 'momentum', 'meanrev', 'breakout', 'balanced']);
    for (const s of strategies.values()) {
      expect(s.rules.length).toBeGreaterThan(0);
      expect(s.settle).toBeGreaterThanOrEqual(s.warmup);
    }
    // EMA(200) needs 5·200 candles to forget its seed
    expect(strategies.get('trend')?.settle).toBe(1000);
  });

  it('score is the weighted mean of the votes, in [-1, 1]; confidence in [0, 1]; direction follows the threshold', () => {
    for (const series of [btc, eth, sol]) {
      const x = new Indicators(series);
      for (const s of strategies.values()) {
        let directions = new Set<string>();
        for (let i = s.warmup - 1; i < series.length; i += 3) {
          const r = evaluateAt(s, x, i);
          expect(r.score).toBeGreaterThanOrEqual(-1);
          expect(r.score).toBeLessThanOrEqual(1);
          expect(r.confidence).toBeGreaterThanOrEqual(0);
          expect(r.confidence).toBeLessThanOrEqual(1);
          const avail = r.results.filter((q) => q.available);
          const mean = avail.reduce((a, q) => a + q.weight * q.vote, 0) / avail.reduce((a, q) => a + q.weight, 0);
          expect(r.score).toBeCloseTo(mean, 12);
          expect(r.direction).toBe(r.score >= s.threshold ? 'long' : r.score <= -s.threshold ? 'short' : 'flat');
          expect(r.reasons.map((q) => q.rule).sort()).toEqual(r.results.filter((q) => q.fired).map((q) => q.rule).sort());
          directions = directions.add(r.direction);
        }
        // on seven months of real prices every strategy says each of long, short and flat at some point
        expect([...directions].sort(), `${s.name} on ${series.length}`).toEqual(['flat', 'long', 'short']);
      }
    }
  });

  it('confidence = agreement of the fired votes × data sufficiency', () => {
    const s = strategies.get('balanced');
    if (!s) throw new Error('balanced missing');
    const r = evaluate(s, btc);
    const fired = r.results.filter((q) => q.fired);
    const net = fired.reduce((a, q) => a + q.weight * q.vote, 0);
    const abs = fired.reduce((a, q) => a + q.weight * Math.abs(q.vote), 0);
    expect(r.agreement).toBeCloseTo(Math.abs(net) / abs, 12);
    expect(r.sufficiency).toBe(1);
    expect(r.confidence).toBeCloseTo(r.agreement, 12);
    // a window shorter than the settle window scales confidence down in proportion
    const short = sliceCandles(btc, btc.length - 500);
    const rs = evaluate(s, short);
    expect(rs.sufficiency).toBeCloseTo(500 / s.settle, 12);
    expect(rs.confidence).toBeCloseTo(rs.agreement * (500 / s.settle), 12);
  });

  it('is deterministic: the same candles give the same answer, fresh or memoised', () => {
    for (const s of strategies.values()) {
      const x = new Indicators(btc);
      const a = evaluate(s, btc, x);
      const b = evaluate(s, btc, x);
      const c = evaluate(s, { ...btc, close: btc.close.slice(), high: btc.high.slice(), low: btc.low.slice(), open: btc.open.slice(), volume: btc.volume.slice() });
      expect(b).toEqual(a);
      expect(c).toEqual(a);
    }
  });

  it('config: weights and params are validated; a custom strategy compiles with rule defaults filled in', () => {
    const mine = compileStrategy('mine', { rules: [{ rule: 'rsi_extreme', params: { oversold: 25 } }, { rule: 'roc', weight: 2 }] });
    expect(mine.rules[0]?.params).toEqual({ period: 14, oversold: 25, overbought: 70 });
    expect(mine.threshold).toBe(0.2);
    const bad = strategyConfigSchema.safeParse({ rules: [{ rule: 'rsi_extreme', params: { oversold: 'x', period: 1 } }] });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues.map((i) => i.path))).toContain('params');
    expect(strategyConfigSchema.safeParse({ rules: [{ rule: 'rsi_extreme', params: { speed: 3 } }] }).success).toBe(false);
    expect(strategyConfigSchema.safeParse({ rules: [{ rule: 'nope' }] }).success).toBe(false);
    expect(strategyConfigSchema.safeParse({ rules: [] }).success).toBe(false);
    expect(Object.keys(DEFAULT_STRATEGIES)).toHaveLength(5);
  });
});

/** Any candles after the cut: real ones, or made-up ones of any size (they are in the "future"). */
const futureCandle = fc
  .record({ o: fc.double({ min: 0.01, max: 1e6, noNaN: true }), c: fc.double({ min: 0.01, max: 1e6, noNaN: true }), up: fc.double({ min: 0, max: 0.2, noNaN: true }), v: fc.double({ min: 0, max: 1e9, noNaN: true }) })
  .map(({ o, c, up, v }) => ({ o, c, h: Math.max(o, c) * (1 + up), l: Math.min(o, c) / (1 + up), v }));

function append(base: Series, cut: number, extra: Array<{ o: number; h: number; l: number; c: number; v: number }>): Series {
  const n = cut + extra.length;
  const col = (src: Float64Array, key: 'o' | 'h' | 'l' | 'c' | 'v'): Float64Array => {
    const a = new Float64Array(n);
    a.set(src.subarray(0, cut));
    extra.forEach((e, k) => (a[cut + k] = e[key]));
    return a;
  };
  return { open: col(base.open, 'o'), high: col(base.high, 'h'), low: col(base.low, 'l'), close: col(base.close, 'c'), volume: col(base.volume, 'v'), length: n };
}

const prefix = (c: Series, n: number): Series => ({
  open: c.open.subarray(0, n),
  high: c.high.subarray(0, n),
  low: c.low.subarray(0, n),
  close: c.close.subarray(0, n),
  volume: c.volume.subarray(0, n),
  length: n,
});

describe('no look-ahead', () => {
  const names = [...strategies.keys()];

  it('appending real future candles never changes a signal already computed for a past candle', () => {
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.integer({ min: 30, max: btc.length - 1 }), fc.integer({ min: 1, max: 600 }), fc.nat(), (name, cut, more, back) => {
        const s = strategies.get(name) as NonNullable<ReturnType<typeof strategies.get>>;
        const i = cut - 1 - (back % Math.min(cut, 50));
        const past = evaluateAt(s, new Indicators(prefix(btc, cut)), i);
        const later = evaluateAt(s, new Indicators(prefix(btc, Math.min(btc.length, cut + more))), i);
        expect(later).toEqual(past);
      }),
      { numRuns: 200 },
    );
  });

  it('appending any made-up future candles does not either (signals and scan measures)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.integer({ min: 30, max: 1200 }), fc.array(futureCandle, { minLength: 1, maxLength: 40 }), (name, cut, extra) => {
        const s = strategies.get(name) as NonNullable<ReturnType<typeof strategies.get>>;
        const base = prefix(eth, cut);
        const grown = append(eth, cut, extra);
        expect(evaluateAt(s, new Indicators(grown), cut - 1)).toEqual(evaluate(s, base));
        expect(measureAt(new Indicators(grown), cut - 1)).toEqual(measureAt(new Indicators(base), cut - 1));
      }),
      { numRuns: 200 },
    );
  });
});

describe('/scan pieces', () => {
  const schema = scanQuerySchema({ exchanges: ['binance', 'kraken'], maxTop: 50 });

  it('reads "usdt 1h top 10 by momentum" and its variations', () => {
    expect(schema.parse('usdt 1h top 10 by momentum')).toEqual({ quote: 'USDT', timeframe: '1h', top: 10, by: 'momentum' });
    expect(schema.parse('by volume top 3')).toEqual({ by: 'volume', top: 3 });
    expect(schema.parse('kraken usd 4h')).toEqual({ exchange: 'kraken', quote: 'USD', timeframe: '4h' });
    expect(schema.parse('binance:usdt by breakout')).toEqual({ exchange: 'binance', quote: 'USDT', by: 'breakout' });
    expect(schema.parse('TOP 5 BY Volume')).toEqual({ top: 5, by: 'volume' });
  });

  it('refuses what it cannot read, saying what it expects', () => {
    const problem = (text: string): string => {
      const r = schema.safeParse(text);
      expect(r.success, text).toBe(false);
      return r.error?.issues[0]?.message ?? '';
    };
    expect(problem('top')).toMatch(/^"top" needs a whole number after it — expected \[exchange\] \[quote\] \[timeframe\] \[top N\] \[by momentum\|breakout\|volume\]/);
    expect(problem('top ten')).toContain('got "ten"');
    expect(problem('top 0')).toContain('expected 1 to 50');
    expect(problem('top 51')).toContain('expected 1 to 50');
    expect(problem('by speed')).toContain('"by" needs one of momentum, breakout, volume, got "speed"');
    expect(problem('top 5 top 6')).toContain('top given twice');
    expect(problem('usdt btc')).toContain('quote given twice');
    expect(problem('7x')).toContain('"7x" is not a timeframe');
    expect(problem('ftx:usdt')).toContain('unknown exchange "ftx"');
    expect(problem('usdt!')).toContain('did not understand "usdt!"');
  });

  it('ranks by size either way for momentum and breakout, highest first for volume, ties by symbol', () => {
    const row = (symbol: string, momentum: number, breakout: number, volumeRatio: number): ScanValues & { symbol: string } => ({
      symbol,
      close: 1,
      roc: 0,
      rsi: 50,
      momentum,
      breakout,
      volumeRatio,
    });
    const rows = [row('A/USDT', 1, -3, 0.5), row('B/USDT', -2.5, 0.2, 4), row('C/USDT', 2.5, Number.NaN, 1), row('D/USDT', 0.1, 1.5, Number.NaN)];
    expect(rank(rows, 'momentum').map((r) => r.symbol)).toEqual(['B/USDT', 'C/USDT', 'A/USDT', 'D/USDT']);
    expect(rank(rows, 'breakout').map((r) => r.symbol)).toEqual(['A/USDT', 'D/USDT', 'B/USDT']);
    expect(rank(rows, 'volume').map((r) => r.symbol)).toEqual(['B/USDT', 'C/USDT', 'A/USDT']);
  });

  it('measures at a candle from its own definitions', () => {
    const x = new Indicators(btc);
    const i = btc.length - 1;
    const m = measureAt(x, i);
    const c = btc.close;
    const rets: number[] = [];
    for (let j = i - 29; j <= i; j++) rets.push(Math.log((c[j] as number) / (c[j - 1] as number)));
    const mean = rets.reduce((a, b) => a + b, 0) / 30;
    const sd = Math.sqrt(rets.reduce((a, b) => a + (b - mean) ** 2, 0) / 29);
    expect(m.momentum).toBeCloseTo(Math.log((c[i] as number) / (c[i - 12] as number)) / (sd * Math.sqrt(12)), 9);
    expect(m.roc).toBeCloseTo(((c[i] as number) / (c[i - 12] as number) - 1) * 100, 9);
    let vsum = 0;
    for (let j = i - 20; j < i; j++) vsum += btc.volume[j] as number;
    expect(m.volumeRatio).toBeCloseTo((btc.volume[i] as number) / (vsum / 20), 9);
  });
});

describe('formatting', () => {
  it('prints numbers by size and never turns a missing value into 0', () => {
    expect(fmtNum(31234.567)).toBe('31,234.57');
    expect(fmtNum(1.23456)).toBe('1.2346');
    expect(fmtNum(0.000341234)).toBe('0.0003412');
    expect(fmtNum(12_345_678)).toBe('12.35M');
    expect(fmtNum(-2.5e9)).toBe('-2.50B');
    expect(fmtNum(Number.NaN)).toBe('—');
    expect(fmtNum(28.449, 1)).toBe('28.4');
    expect(fmtSigned(0.5, 2)).toBe('+0.50');
    expect(fmtSigned(-0.5, 2)).toBe('-0.50');
  });
});

describe('the candle window /signal and /scan read', () => {
  const H = 3_600_000;
  const t0 = Date.UTC(2024, 0, 1);
  /** hourly candles at the given hour offsets (a missing offset is a gap), served like a live exchange at `now` */
  const fakeMarket = (hours: number[], now: number): MarketData => {
    const rows = hours.map((h) => [t0 + h * H, 10, 11, 9, 10 + h / 100, 5]);
    const all = checkCandles(fromRows({ exchange: 'x', symbol: 'A/USDT', timeframe: '1h', timeframeMs: H, source: 'live' }, rows), { live: false, now });
    return {
      now: () => now,
      candles: async (req: { limit?: number }) => {
        const n = Math.min(all.length, req.limit ?? 500);
        const c = sliceCandles(all, all.length - n);
        return { ...c, gaps: all.gaps.filter((g) => g.after >= (c.time[0] as number)) };
      },
    } as unknown as MarketData;
  };
  const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, k) => a + k);

  it('leaves out a live candle still forming (its close time is after now)', async () => {
    // candles 0..99; at now = 99h30m the 99h candle is still open
    const w = await closedWindow(fakeMarket(range(0, 100), t0 + 99.5 * H), { symbol: 'a', timeframe: '1h' }, 50, 60);
    expect(w.length).toBe(60);
    expect(w.time[w.length - 1]).toBe(t0 + 98 * H);
  });

  it('uses the contiguous tail after a gap when it holds the minimum, and refuses with the gap when it does not', async () => {
    const hours = [...range(0, 40), ...range(42, 100)]; // 40h and 41h missing
    const now = t0 + 100 * H;
    const tail = await closedWindow(fakeMarket(hours, now), { symbol: 'a', timeframe: '1h' }, 30, 80);
    expect(tail.length).toBe(58);
    expect(tail.time[0]).toBe(t0 + 42 * H);
    const err = await closedWindow(fakeMarket(hours, now), { symbol: 'a', timeframe: '1h' }, 70, 80).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataGapError);
    expect((err as Error).message).toContain('2 candles missing between 2024-01-02 15:00 and 2024-01-02 18:00 UTC; only 58 contiguous candles after it, 70 needed');
  });

  it('with `until`, every symbol of a scan ends at the same candle', async () => {
    const w = await closedWindow(fakeMarket(range(0, 100), t0 + 100 * H), { symbol: 'a', timeframe: '1h' }, 20, 20, t0 + 97 * H);
    expect(w.time[w.length - 1]).toBe(t0 + 97 * H);
    expect(w.length).toBe(20);
  });
});
