import { z } from 'zod';
import { sliceOhlcv, ta, type OhlcvColumns } from '../../src/kernel/index.js';
import { fmtNum, fmtPct, fmtSigned } from './format.js';

/**
 * Signal rules. Each rule is a pure function of indicator values at one candle index `i`,
 * reading only indices ≤ i (so a signal for a past candle never changes when candles are
 * appended). It answers whether it fired, its vote in [-1, 1] (+ long, − short) and a
 * reason that carries the numbers it looked at.
 */

/** What the rules read: columnar candles (the market service's `Candles` fit). */
export type Series = OhlcvColumns;

/**
 * Indicators over one series, computed on first use and kept: a strategy computes only what
 * its rules read, and two rules reading EMA(20) share one pass.
 */
export class Indicators {
  private readonly memo = new Map<string, unknown>();
  constructor(readonly c: Series) {}

  /**
   * The indicators of the candles ending at i, at least k of them (views, no copy), and i's index
   * there. Rules that look back a fixed number of candles (Bollinger, Stochastic, Donchian, ROC,
   * OBV change, average volume) use it: their value at i depends only on those candles, and
   * computing them over a few dozen candles instead of the whole window keeps /signal's
   * allocations (and so its GC pauses) small. Windows are rounded up to a power of two (≥ 32) so
   * rules share them.
   */
  near(i: number, k: number): [Indicators, number] {
    let size = 32;
    while (size < k) size *= 2;
    const from = Math.max(0, i - size + 1);
    const view = this.get(`near${from},${i}`, () => new Indicators(sliceOhlcv(this.c, from, i + 1)));
    return [view, i - from];
  }

  private get<T>(key: string, make: () => T): T {
    let v = this.memo.get(key) as T | undefined;
    if (v === undefined) {
      v = make();
      this.memo.set(key, v);
    }
    return v;
  }

  ema(n: number): Float64Array {
    return this.get(`ema${n}`, () => ta.ema(this.c.close, n));
  }
  rsi(n: number): Float64Array {
    return this.get(`rsi${n}`, () => ta.rsi(this.c.close, n));
  }
  macd(fast: number, slow: number, signal: number): ReturnType<typeof ta.macd> {
    return this.get(`macd${fast},${slow},${signal}`, () => ta.macd(this.c.close, fast, slow, signal));
  }
  roc(n: number): Float64Array {
    return this.get(`roc${n}`, () => ta.roc(this.c.close, n));
  }
  bollinger(n: number, k: number): ReturnType<typeof ta.bollinger> {
    return this.get(`bb${n},${k}`, () => ta.bollinger(this.c.close, n, k));
  }
  adx(n: number): ReturnType<typeof ta.adx> {
    return this.get(`adx${n}`, () => ta.adx(this.c.high, this.c.low, this.c.close, n));
  }
  stochastic(n: number, d: number): ReturnType<typeof ta.stochastic> {
    return this.get(`stoch${n},${d}`, () => ta.stochastic(this.c.high, this.c.low, this.c.close, n, d));
  }
  donchian(n: number): ReturnType<typeof ta.donchian> {
    return this.get(`donchian${n}`, () => ta.donchian(this.c.high, this.c.low, n));
  }
  keltner(n: number, mult: number, atrN: number): ReturnType<typeof ta.keltner> {
    return this.get(`keltner${n},${mult},${atrN}`, () => ta.keltner(this.c.high, this.c.low, this.c.close, n, mult, atrN));
  }
  obv(): Float64Array {
    return this.get('obv', () => ta.obv(this.c.close, this.c.volume));
  }
  volumeSma(n: number): Float64Array {
    return this.get(`vsma${n}`, () => ta.sma(this.c.volume, n));
  }
  atr(n: number): Float64Array {
    return this.get(`atr${n}`, () => ta.atr(this.c.high, this.c.low, this.c.close, n));
  }
  realizedVol(n: number): Float64Array {
    return this.get(`rv${n}`, () => ta.realizedVol(this.c.close, n, 1));
  }
}

export const FAMILIES = ['trend', 'momentum', 'meanrev', 'breakout', 'volume'] as const;
export type Family = (typeof FAMILIES)[number];

/** What a rule says at one candle; null from `evaluate` when an input is not defined there. */
export interface Vote {
  fired: boolean;
  /** in [-1, 1]: + long, − short; 0 when the rule did not fire */
  vote: number;
  reason: string;
}

export interface RuleResult extends Vote {
  rule: string;
  family: Family;
  weight: number;
  /** false when the rule's inputs are not defined at this candle (warm-up, a flat range): it is left out of the score */
  available: boolean;
}

type Params = Record<string, number>;

export interface Rule<P extends Params = Params> {
  id: string;
  family: Family;
  /** one line for /strategies */
  describe(p: P): string;
  /** the rule's settings with their defaults; unknown keys are refused */
  params: z.ZodType<P, Partial<P>>;
  /** contiguous candles up to and including i the rule needs to give an answer at all */
  warmup(p: P): number;
  /**
   * candles after which its answer no longer depends on where the window starts (recursive
   * smoothings forget their seed: EMA weight (1 − 2/(n+1))^k, Wilder (1 − 1/n)^k, both < 1e-3)
   */
  settle(p: P): number;
  evaluate(x: Indicators, i: number, p: P): Vote | null;
}

function defineRule<P extends Params>(r: Rule<P>): Rule {
  return r as unknown as Rule;
}

/** an EMA forgets its seed to e^-8 ≈ 3e-4 after 4n more candles */
const emaSettle = (n: number): number => 5 * n;
/** Wilder smoothing (α = 1/n) forgets its seed to e^-8 after 8n more candles */
const wilderSettle = (n: number): number => 9 * n;

const at = (a: Float64Array, i: number): number => (i >= 0 && i < a.length ? (a[i] as number) : Number.NaN);
const ok = (...v: number[]): boolean => v.every((x) => Number.isFinite(x));
const clamp = (v: number, lo = -1, hi = 1): number => Math.min(hi, Math.max(lo, v));
const quiet = (reason: string): Vote => ({ fired: false, vote: 0, reason });

const period = (def: number, max = 500) => z.number().int().min(2).max(max).default(def);
const level = (def: number) => z.number().min(0).max(100).default(def);
const positive = (def: number, max = 1000) => z.number().positive().max(max).default(def);

// ---------------------------------------------------------------- trend

const emaCross = defineRule({
  id: 'ema_cross',
  family: 'trend',
  params: z.object({ fast: period(20), slow: period(50), fresh: z.number().int().min(0).max(50).default(5) }).strict(),
  describe: (p) => `EMA(${p.fast}) vs EMA(${p.slow}): +1/−1 when it crossed within ${p.fresh} candles, ±0.5 for an older alignment`,
  warmup: (p) => Math.max(p.fast, p.slow),
  settle: (p) => emaSettle(Math.max(p.fast, p.slow)),
  evaluate(x, i, p) {
    const f = x.ema(p.fast);
    const s = x.ema(p.slow);
    const fi = at(f, i);
    const si = at(s, i);
    if (!ok(fi, si)) return null;
    const head = `EMA(${p.fast}) ${fmtNum(fi)} ${fi > si ? '>' : fi < si ? '<' : '='} EMA(${p.slow}) ${fmtNum(si)}`;
    if (fi === si) return quiet(`${head}: no bias`);
    const sign = fi > si ? 1 : -1;
    let crossedAgo = -1;
    for (let k = 1; k <= p.fresh; k++) {
      const fk = at(f, i - k);
      const sk = at(s, i - k);
      if (!ok(fk, sk)) break;
      if (Math.sign(fk - sk) !== sign) {
        crossedAgo = k - 1;
        break;
      }
    }
    const side = sign > 0 ? 'bullish' : 'bearish';
    if (crossedAgo >= 0) {
      const when = crossedAgo === 0 ? 'on this candle' : `${crossedAgo} candle${crossedAgo === 1 ? '' : 's'} ago`;
      return { fired: true, vote: sign, reason: `${head}: ${side} cross ${sign > 0 ? 'up' : 'down'} ${when}` };
    }
    return { fired: true, vote: 0.5 * sign, reason: `${head}: ${side} alignment` };
  },
});

const priceVsEma = defineRule({
  id: 'price_ema',
  family: 'trend',
  params: z.object({ period: period(200, 1000), band: z.number().min(0).max(50).default(0.5), full: positive(5, 100) }).strict(),
  describe: (p) => `close vs EMA(${p.period}): fires beyond ±${p.band}%, vote = distance / ${p.full}% (capped at ±1)`,
  warmup: (p) => p.period,
  settle: (p) => emaSettle(p.period),
  evaluate(x, i, p) {
    const e = at(x.ema(p.period), i);
    const c = at(x.c.close, i);
    if (!ok(e, c)) return null;
    const dist = (c / e - 1) * 100;
    const head = `close ${fmtNum(c)} is ${fmtPct(Math.abs(dist))} ${dist >= 0 ? 'above' : 'below'} EMA(${p.period}) ${fmtNum(e)}`;
    if (Math.abs(dist) < p.band) return quiet(`${head}: within ${p.band}%, no long-term bias`);
    return { fired: true, vote: clamp(dist / p.full), reason: `${head}: long-term ${dist > 0 ? 'uptrend' : 'downtrend'}` };
  },
});

const adxDi = defineRule({
  id: 'adx_di',
  family: 'trend',
  params: z.object({ period: period(14, 200), threshold: level(25), full: level(50) }).strict(),
  describe: (p) => `ADX(${p.period}) ≥ ${p.threshold}: a trend, in the direction of +DI vs −DI; vote = ADX / ${p.full} (capped at 1)`,
  warmup: (p) => 2 * p.period,
  settle: (p) => 2 * p.period + wilderSettle(p.period),
  evaluate(x, i, p) {
    const d = x.adx(p.period);
    const a = at(d.adx, i);
    const plus = at(d.plusDI, i);
    const minus = at(d.minusDI, i);
    if (!ok(a, plus, minus)) return null;
    const di = `+DI ${fmtNum(plus, 1)} ${plus > minus ? '>' : plus < minus ? '<' : '='} −DI ${fmtNum(minus, 1)}`;
    if (a < p.threshold) return quiet(`ADX(${p.period}) ${fmtNum(a, 1)} < ${p.threshold}: no clear trend (${di})`);
    if (plus === minus) return quiet(`ADX(${p.period}) ${fmtNum(a, 1)} ≥ ${p.threshold} but ${di}: no direction`);
    const sign = plus > minus ? 1 : -1;
    const strength = Math.min(1, a / p.full);
    return {
      fired: true,
      vote: sign * strength,
      reason: `ADX(${p.period}) ${fmtNum(a, 1)} ≥ ${p.threshold} with ${di}: ${a >= p.full ? 'strong ' : ''}${sign > 0 ? 'uptrend' : 'downtrend'}`,
    };
  },
});

// ---------------------------------------------------------------- momentum

const rsiMomentum = defineRule({
  id: 'rsi_momentum',
  family: 'momentum',
  params: z.object({ period: period(14, 200), upper: level(55), lower: level(45) }).strict(),
  describe: (p) => `RSI(${p.period}) above ${p.upper} / below ${p.lower}: momentum; vote = (RSI − 50) / 20 (capped at ±1)`,
  warmup: (p) => p.period + 1,
  settle: (p) => p.period + 1 + wilderSettle(p.period),
  evaluate(x, i, p) {
    const r = at(x.rsi(p.period), i);
    if (!ok(r)) return null;
    const v = fmtNum(r, 1);
    if (r > p.upper) return { fired: true, vote: clamp((r - 50) / 20), reason: `RSI(${p.period}) ${v} > ${p.upper}: bullish momentum` };
    if (r < p.lower) return { fired: true, vote: clamp((r - 50) / 20), reason: `RSI(${p.period}) ${v} < ${p.lower}: bearish momentum` };
    return quiet(`RSI(${p.period}) ${v} between ${p.lower} and ${p.upper}: neutral`);
  },
});

const macdHist = defineRule({
  id: 'macd_hist',
  family: 'momentum',
  params: z.object({ fast: period(12), slow: period(26), signal: period(9, 200) }).strict(),
  describe: (p) => `MACD(${p.fast},${p.slow},${p.signal}) histogram: its sign and turn (±1 turned or building, ±0.25 fading)`,
  warmup: (p) => Math.max(p.fast, p.slow) + p.signal,
  settle: (p) => emaSettle(Math.max(p.fast, p.slow)) + emaSettle(p.signal),
  evaluate(x, i, p) {
    const h = x.macd(p.fast, p.slow, p.signal).histogram;
    const now = at(h, i);
    const prev = at(h, i - 1);
    if (!ok(now, prev)) return null;
    const head = `MACD(${p.fast},${p.slow},${p.signal}) histogram ${fmtSigned(now)} (previous ${fmtSigned(prev)})`;
    if (now === 0) return quiet(`${head}: flat`);
    if (now > 0 && prev <= 0) return { fired: true, vote: 1, reason: `${head}: turned positive` };
    if (now < 0 && prev >= 0) return { fired: true, vote: -1, reason: `${head}: turned negative` };
    if (now > 0) return now >= prev ? { fired: true, vote: 1, reason: `${head}: positive and rising` } : { fired: true, vote: 0.25, reason: `${head}: positive but falling` };
    return now <= prev ? { fired: true, vote: -1, reason: `${head}: negative and falling` } : { fired: true, vote: -0.25, reason: `${head}: negative but rising` };
  },
});

const rocRule = defineRule({
  id: 'roc',
  family: 'momentum',
  params: z.object({ period: period(12), threshold: positive(2, 100), full: positive(10, 100) }).strict(),
  describe: (p) => `ROC(${p.period}) beyond ±${p.threshold}%: vote = ROC / ${p.full}% (capped at ±1)`,
  warmup: (p) => p.period + 1,
  settle: (p) => p.period + 1,
  evaluate(x0, i0, p) {
    const [x, i] = x0.near(i0, p.period + 1);
    const r = at(x.roc(p.period), i);
    if (!ok(r)) return null;
    const v = `ROC(${p.period}) ${fmtSigned(r, 2)}%`;
    if (r >= p.threshold) return { fired: true, vote: clamp(r / p.full), reason: `${v} ≥ ${p.threshold}%: rising` };
    if (r <= -p.threshold) return { fired: true, vote: clamp(r / p.full), reason: `${v} ≤ −${p.threshold}%: falling` };
    return quiet(`${v} within ±${p.threshold}%: no momentum`);
  },
});

// ---------------------------------------------------------------- mean reversion

const rsiExtreme = defineRule({
  id: 'rsi_extreme',
  family: 'meanrev',
  params: z.object({ period: period(14, 200), oversold: level(30), overbought: level(70) }).strict(),
  describe: (p) => `RSI(${p.period}) < ${p.oversold} oversold (+1) / > ${p.overbought} overbought (−1)`,
  warmup: (p) => p.period + 1,
  settle: (p) => p.period + 1 + wilderSettle(p.period),
  evaluate(x, i, p) {
    const r = at(x.rsi(p.period), i);
    if (!ok(r)) return null;
    const v = fmtNum(r, 1);
    if (r < p.oversold) return { fired: true, vote: 1, reason: `RSI(${p.period}) ${v} < ${p.oversold}: oversold` };
    if (r > p.overbought) return { fired: true, vote: -1, reason: `RSI(${p.period}) ${v} > ${p.overbought}: overbought` };
    return quiet(`RSI(${p.period}) ${v} within ${p.oversold}–${p.overbought}`);
  },
});

const bbPercentB = defineRule({
  id: 'bb_percent_b',
  family: 'meanrev',
  params: z.object({ period: period(20), mult: positive(2, 10), edge: z.number().min(0).max(0.5).default(0.05) }).strict(),
  describe: (p) => `Bollinger(${p.period},${p.mult}) %B: below 0 (+1) or above 1 (−1) outside the bands; within ${p.edge} of a band ±0.5`,
  warmup: (p) => p.period,
  settle: (p) => p.period,
  evaluate(x0, i0, p) {
    const [x, i] = x0.near(i0, p.period);
    const bb = x.bollinger(p.period, p.mult);
    const b = at(bb.percentB, i);
    const lo = at(bb.lower, i);
    const hi = at(bb.upper, i);
    const c = at(x.c.close, i);
    if (!ok(b, lo, hi, c)) return null;
    const head = `%B(${p.period},${p.mult}) ${fmtNum(b, 2)}`;
    if (b < 0) return { fired: true, vote: 1, reason: `${head} < 0: close ${fmtNum(c)} below the lower band ${fmtNum(lo)}, stretched down` };
    if (b > 1) return { fired: true, vote: -1, reason: `${head} > 1: close ${fmtNum(c)} above the upper band ${fmtNum(hi)}, stretched up` };
    if (b < p.edge) return { fired: true, vote: 0.5, reason: `${head} < ${p.edge}: close ${fmtNum(c)} at the lower band ${fmtNum(lo)}` };
    if (b > 1 - p.edge) return { fired: true, vote: -0.5, reason: `${head} > ${fmtNum(1 - p.edge, 2)}: close ${fmtNum(c)} at the upper band ${fmtNum(hi)}` };
    return quiet(`${head}: inside the bands ${fmtNum(lo)}–${fmtNum(hi)}`);
  },
});

const stochExtreme = defineRule({
  id: 'stoch_extreme',
  family: 'meanrev',
  params: z.object({ period: period(14, 200), smooth: period(3, 50), oversold: level(20), overbought: level(80) }).strict(),
  describe: (p) => `Stochastic(${p.period},${p.smooth}) %K and %D below ${p.oversold} (+0.5, +1 when %K crosses up) / above ${p.overbought} (mirror)`,
  warmup: (p) => p.period + p.smooth,
  settle: (p) => p.period + p.smooth,
  evaluate(x0, i0, p) {
    const [x, i] = x0.near(i0, p.period + p.smooth);
    const s = x.stochastic(p.period, p.smooth);
    const k = at(s.k, i);
    const d = at(s.d, i);
    const kp = at(s.k, i - 1);
    const dp = at(s.d, i - 1);
    if (!ok(k, d)) return null;
    const head = `Stochastic(${p.period},${p.smooth}) %K ${fmtNum(k, 1)} %D ${fmtNum(d, 1)}`;
    const crossedUp = ok(kp, dp) && kp <= dp && k > d;
    const crossedDown = ok(kp, dp) && kp >= dp && k < d;
    if (k < p.oversold && d < p.oversold) {
      return crossedUp
        ? { fired: true, vote: 1, reason: `${head} < ${p.oversold}: oversold, %K crossed above %D` }
        : { fired: true, vote: 0.5, reason: `${head} < ${p.oversold}: oversold` };
    }
    if (k > p.overbought && d > p.overbought) {
      return crossedDown
        ? { fired: true, vote: -1, reason: `${head} > ${p.overbought}: overbought, %K crossed below %D` }
        : { fired: true, vote: -0.5, reason: `${head} > ${p.overbought}: overbought` };
    }
    return quiet(`${head}: between ${p.oversold} and ${p.overbought}`);
  },
});

// ---------------------------------------------------------------- breakout

const donchianBreak = defineRule({
  id: 'donchian_break',
  family: 'breakout',
  params: z.object({ period: period(20) }).strict(),
  describe: (p) => `close above the previous ${p.period}-candle high (+1) or below its low (−1): Donchian(${p.period}) of the candles before this one`,
  warmup: (p) => p.period + 1,
  settle: (p) => p.period + 1,
  evaluate(x0, i0, p) {
    const [x, i] = x0.near(i0, p.period + 1);
    // the channel up to the previous candle: today's own high can never be above itself
    const dc = x.donchian(p.period);
    const hi = at(dc.upper, i - 1);
    const lo = at(dc.lower, i - 1);
    const c = at(x.c.close, i);
    if (!ok(hi, lo, c)) return null;
    if (c > hi) return { fired: true, vote: 1, reason: `close ${fmtNum(c)} > ${p.period}-candle high ${fmtNum(hi)}: breakout up` };
    if (c < lo) return { fired: true, vote: -1, reason: `close ${fmtNum(c)} < ${p.period}-candle low ${fmtNum(lo)}: breakdown` };
    return quiet(`close ${fmtNum(c)} inside the ${p.period}-candle range ${fmtNum(lo)}–${fmtNum(hi)}`);
  },
});

const keltnerBreak = defineRule({
  id: 'keltner_break',
  family: 'breakout',
  params: z.object({ period: period(20), mult: positive(2, 10), atrPeriod: period(10, 200) }).strict(),
  describe: (p) => `close outside Keltner(${p.period}, ${p.mult}×ATR(${p.atrPeriod})): above the upper channel +1, below the lower −1`,
  warmup: (p) => Math.max(p.period, p.atrPeriod + 1),
  settle: (p) => Math.max(emaSettle(p.period), p.atrPeriod + 1 + wilderSettle(p.atrPeriod)),
  evaluate(x, i, p) {
    const k = x.keltner(p.period, p.mult, p.atrPeriod);
    const hi = at(k.upper, i);
    const lo = at(k.lower, i);
    const c = at(x.c.close, i);
    if (!ok(hi, lo, c)) return null;
    const name = `Keltner(${p.period},${p.mult},${p.atrPeriod})`;
    if (c > hi) return { fired: true, vote: 1, reason: `close ${fmtNum(c)} > ${name} upper ${fmtNum(hi)}: breakout up` };
    if (c < lo) return { fired: true, vote: -1, reason: `close ${fmtNum(c)} < ${name} lower ${fmtNum(lo)}: breakdown` };
    return quiet(`close ${fmtNum(c)} inside ${name} ${fmtNum(lo)}–${fmtNum(hi)}`);
  },
});

// ---------------------------------------------------------------- volume

const obvTrend = defineRule({
  id: 'obv_trend',
  family: 'volume',
  params: z.object({ lookback: period(20) }).strict(),
  describe: (p) => `OBV slope vs price slope over ${p.lookback} candles: both up +1, both down −1, divergence ±0.5`,
  // OBV starts at the second candle (the first has no previous close)
  warmup: (p) => p.lookback + 2,
  // OBV is a running sum, but its change over the lookback does not depend on where it started
  settle: (p) => p.lookback + 2,
  evaluate(x0, i0, p) {
    const [x, i] = x0.near(i0, p.lookback + 2);
    const o = x.obv();
    const dObv = at(o, i) - at(o, i - p.lookback);
    const c0 = at(x.c.close, i - p.lookback);
    const c1 = at(x.c.close, i);
    if (!ok(dObv, c0, c1)) return null;
    const dPx = (c1 / c0 - 1) * 100;
    const head = `over ${p.lookback} candles price ${fmtSigned(dPx, 2)}%, OBV ${fmtSigned(dObv)}`;
    if (dObv === 0 || dPx === 0) return quiet(`${head}: no slope to compare`);
    if (dPx > 0 && dObv > 0) return { fired: true, vote: 1, reason: `${head}: volume confirms the rise` };
    if (dPx < 0 && dObv < 0) return { fired: true, vote: -1, reason: `${head}: volume confirms the fall` };
    if (dPx > 0) return { fired: true, vote: -0.5, reason: `${head}: bearish divergence (price up, OBV down)` };
    return { fired: true, vote: 0.5, reason: `${head}: bullish divergence (price down, OBV up)` };
  },
});

const volumeSurge = defineRule({
  id: 'volume_surge',
  family: 'volume',
  params: z.object({ period: period(20), ratio: positive(2, 100) }).strict(),
  describe: (p) => `volume ≥ ${p.ratio}× its average of the previous ${p.period} candles, in the candle's direction; vote = ratio / ${2 * p.ratio} (capped at 1)`,
  warmup: (p) => p.period + 1,
  settle: (p) => p.period + 1,
  evaluate(x0, i0, p) {
    const [x, i] = x0.near(i0, p.period + 1);
    const avg = at(x.volumeSma(p.period), i - 1);
    const v = at(x.c.volume, i);
    const o = at(x.c.open, i);
    const c = at(x.c.close, i);
    if (!ok(avg, v, o, c) || avg <= 0) return null;
    const r = v / avg;
    const move = (c / o - 1) * 100;
    const head = `volume ${fmtNum(v)} is ${fmtNum(r, 2)}× its ${p.period}-candle average ${fmtNum(avg)}`;
    if (r < p.ratio) return quiet(`${head}: below ${p.ratio}×`);
    if (c === o) return quiet(`${head} on a flat candle: no direction`);
    const sign = c > o ? 1 : -1;
    return { fired: true, vote: sign * Math.min(1, r / (2 * p.ratio)), reason: `${head} on ${sign > 0 ? 'an up' : 'a down'} candle (${fmtSigned(move, 2)}%)` };
  },
});

/** Every rule, by id. */
export const RULES: ReadonlyMap<string, Rule> = new Map(
  [emaCross, priceVsEma, adxDi, rsiMomentum, macdHist, rocRule, rsiExtreme, bbPercentB, stochExtreme, donchianBreak, keltnerBreak, obvTrend, volumeSurge].map((r) => [r.id, r]),
);
export const RULE_IDS = [...RULES.keys()] as [string, ...string[]];

/** One rule at one candle, with its weight; a rule whose inputs are undefined there is "not available". */
export function runRule(rule: Rule, params: Params, weight: number, x: Indicators, i: number): RuleResult {
  const v = rule.evaluate(x, i, params);
  if (v === null) {
    return { rule: rule.id, family: rule.family, weight, fired: false, vote: 0, available: false, reason: `${rule.id}: not defined at this candle (warm-up or a flat range)` };
  }
  return { rule: rule.id, family: rule.family, weight, available: true, fired: v.fired, vote: v.fired ? clamp(v.vote) : 0, reason: v.reason };
}
