import { z } from 'zod';
import {
  arg,
  block,
  DataGapError,
  defineCommand,
  definePlugin,
  describeGap,
  MarketError,
  NotEnoughDataError,
  reply,
  sliceCandles,
  TIMEFRAMES,
  utcAt,
  utcMinute,
  type Candles,
  type PluginContext,
  type Reply,
  ta,
  filteredProbabilities,
  fitGaussianHmm,
  stationaryDistribution,
} from '../../src/kernel/index.js';

const { adx, ema, realizedVol } = ta;

/**
 * Regimes: what kind of market a symbol is in, per timeframe.
 *
 *   trend       ADX(n) and the slope of an EMA: bull when ADX ≥ threshold and the slope is up,
 *               bear when ADX ≥ threshold and it is down, else sideways.
 *   volatility  the current realised volatility's percentile against its own history in the
 *               window: volatile at or above the percentile threshold, else calm.
 *   HMM         a Gaussian hidden Markov model fitted (Baum-Welch) on the window's log returns;
 *               the filtered probability of each state at the newest candle.
 *
 * Combined into one label (bull|bear|sideways × calm|volatile) with probabilities:
 *   P(trending) = logistic((ADX − threshold) / adxSoftness)        ≥ ½ exactly when ADX ≥ threshold
 *   P(up | trending) = Φ(slope t)   slope t = EMA change over `slopeBars` bars divided by the
 *                                   random-walk σ of that many bars (σ from the last emaPeriod
 *                                   log returns): how unusual the EMA's move is for pure noise;
 *                                   > ½ exactly when the slope is up
 *   P(bull) = P(trending)·P(up), P(bear) = P(trending)·(1 − P(up)), P(sideways) = 1 − P(trending)
 *   P(volatile) = w · P_HMM + (1 − w) · P_pct    (a linear opinion pool of the two vol models)
 *       P_HMM = the HMM's filtered probability of its highest-variance state
 *       P_pct = logistic((percentile − volPercentile) / volSoftness)   ≥ ½ exactly at the threshold
 *   P(label) = P(trend part) · P(vol part) (independence); confidence = P(label)
 * The trend part of the label is the trend rule (trending? then which way); the vol part is
 * volatile when P(volatile) ≥ ½ — so the percentile rule decides when the HMM is unsure, and a
 * confident HMM can overrule a borderline percentile (and vice versa).
 *
 * No look-ahead: the regime at candle t is computed from the `window` candles ending at t only
 * (indicators are causal, the HMM is fitted on the window and read with forward — filtered,
 * not smoothed — probabilities). Appending candles never changes a regime already computed.
 *
 * Hysteresis: the label the desk announces (stored per exchange/symbol/timeframe) changes only
 * when the new reading's probability beats the stored label's by `margin`, or when the new
 * label has been read at `persist` consecutive evaluations of new candles (re-reading the same
 * candle is not new evidence and does not count).
 */

export const TRENDS = ['bull', 'bear', 'sideways'] as const;
export const VOLS = ['calm', 'volatile'] as const;
export type Trend = (typeof TRENDS)[number];
export type Vol = (typeof VOLS)[number];
export type RegimeLabel = `${Trend}/${Vol}`;
export const LABELS: readonly RegimeLabel[] = TRENDS.flatMap((t) => VOLS.map((v) => `${t}/${v}` as const));

/** what `regime.changed` carries: for the alert router and anyone listening */
export interface RegimeChange {
  exchange: string;
  symbol: string;
  timeframe: string;
  from: RegimeLabel;
  to: RegimeLabel;
  confidence: number;
  /** close time (ms UTC) of the candle the change was read at */
  at: number;
}

declare module '../../src/kernel/index.js' {
  interface KernelEvents {
    'regime.changed': RegimeChange;
  }
}

// ---------------------------------------------------------------------------------------------
// settings

const YEAR_MS = 365 * 86_400_000; // crypto trades every day
/** realised-vol readings needed before a percentile means anything */
export const MIN_VOL_HISTORY = 100;

/** "BTC/USDT" or "ETH/USDT 4h" → { symbol, timeframe } (other values pass through to the object schema) */
function readWatchEntry(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const words = v.trim().split(/\s+/);
  if (words.length > 2 || words[0] === '') return v;
  return words[1] === undefined ? { symbol: words[0] } : { symbol: words[0], timeframe: words[1] };
}

const watchEntry = z.preprocess(
  readWatchEntry,
  z
    .object({
      symbol: z.string().min(1),
      timeframe: z.enum(TIMEFRAMES, { error: (iss) => `"${String(iss.input)}" is not a timeframe (use one of ${TIMEFRAMES.join(', ')})` }).optional(),
      exchange: z.string().regex(/^[a-z][a-z0-9]*$/, 'an exchange id like binance').optional(),
      /** overrides the plugin's cron for this entry */
      cron: z.string().min(9).optional(),
    })
    .strict(),
);

export const regimesConfig = z
  .object({
    /** candles per evaluation (the HMM is fitted on window − 1 log returns) */
    window: z.number().int().min(200).max(10_000).default(1000),
    defaultTimeframe: z.enum(TIMEFRAMES).default('1h'),
    adxPeriod: z.number().int().min(2).max(200).default(14),
    /** ADX at or above this is a trend */
    adxThreshold: z.number().min(1).max(90).default(25),
    /** ADX points around the threshold over which P(trending) goes from 27 % to 73 % */
    adxSoftness: z.number().positive().max(50).default(5),
    emaPeriod: z.number().int().min(2).max(1000).default(50),
    /** the EMA slope is measured over this many bars */
    slopeBars: z.number().int().min(1).max(500).default(10),
    /** realised volatility over this many log returns */
    volPeriod: z.number().int().min(2).max(1000).default(30),
    /** volatile when the current realised vol is at or above this percentile of its history */
    volPercentile: z.number().min(0.5).max(0.99).default(0.8),
    /** percentile points around the threshold over which P_pct(volatile) goes from 27 % to 73 % */
    volSoftness: z.number().positive().max(0.5).default(0.05),
    /** weight of the HMM in P(volatile); the rest is the percentile's */
    hmmWeight: z.number().min(0).max(1).default(0.5),
    hmmStates: z.number().int().min(2).max(3).default(2),
    hmmMaxIter: z.number().int().min(1).max(5000).default(300),
    hmmTol: z.number().positive().max(1e-2).default(1e-8),
    hysteresis: z
      .object({
        /** switch at once when the new label's probability beats the stored one's by this much */
        margin: z.number().min(0).max(1).default(0.3),
        /** …or when the new label was read at this many consecutive evaluations of new candles */
        persist: z.number().int().min(1).max(100).default(3),
      })
      .strict()
      .default({ margin: 0.3, persist: 3 }),
    /** symbols checked on the schedule: "BTC/USDT", "ETH/USDT 4h" or { symbol, timeframe, exchange, cron } */
    watchlist: z.array(watchEntry).default([]),
    /** when watchlist entries are checked: a minute after each hour by default (the 1h candle has closed) */
    cron: z.string().min(9).default('1 * * * *'),
    timezone: z.string().optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const need = minimumWindow(c);
    if (c.window < need) ctx.addIssue({ code: 'custom', path: ['window'], message: `window ${c.window} is too short for these periods: at least ${need} candles` });
  });

export type RegimesConfig = z.output<typeof regimesConfig>;
export type RegimeSettings = Pick<
  RegimesConfig,
  | 'window'
  | 'adxPeriod'
  | 'adxThreshold'
  | 'adxSoftness'
  | 'emaPeriod'
  | 'slopeBars'
  | 'volPeriod'
  | 'volPercentile'
  | 'volSoftness'
  | 'hmmWeight'
  | 'hmmStates'
  | 'hmmMaxIter'
  | 'hmmTol'
>;
export type HysteresisSettings = RegimesConfig['hysteresis'];

/** defaults of every setting (the schema's) */
export const DEFAULT_SETTINGS: RegimesConfig = regimesConfig.parse({});

/** candles a window needs so every component has a value at its newest candle */
export function minimumWindow(s: Pick<RegimeSettings, 'adxPeriod' | 'emaPeriod' | 'slopeBars' | 'volPeriod'>): number {
  return Math.max(3 * s.adxPeriod, s.emaPeriod + s.slopeBars + 1, s.volPeriod + MIN_VOL_HISTORY + 1, 100);
}

// ---------------------------------------------------------------------------------------------
// evaluation (pure)

export interface TrendReading {
  label: Trend;
  adx: number;
  plusDI: number;
  minusDI: number;
  threshold: number;
  ema: number;
  /** EMA log change per bar over slopeBars bars */
  slopePerBar: number;
  /** EMA change over slopeBars ÷ (σ per bar · √slopeBars) */
  slopeT: number;
  probabilities: Record<Trend, number>;
}

export interface VolReading {
  /** the percentile rule's reading */
  label: Vol;
  /** annualised realised volatility (fraction: 0.8 = 80 %) */
  realizedVol: number;
  /** mid-rank percentile of the current value among the window's readings up to now (0..1) */
  percentile: number;
  threshold: number;
  /** readings the percentile is taken over */
  history: number;
  /** P_pct(volatile): the percentile's soft vote */
  pVolatile: number;
}

export interface HmmReading {
  /** per state, calmest first: mean and variance of log returns, filtered probability now */
  states: Array<{ mean: number; variance: number; probability: number; persistence: number; share: number }>;
  /** most probable state now */
  current: number;
  /** P_HMM(volatile): filtered probability of the highest-variance state now */
  pVolatile: number;
  logLikelihood: number;
  iterations: number;
  converged: boolean;
  /** ms the fit took */
  fitMs: number;
}

export interface RegimeReading {
  exchange: string;
  symbol: string;
  timeframe: string;
  /** open time of the newest candle in the window */
  candleOpen: number;
  /** close time of that candle: when this reading became knowable */
  at: number;
  label: RegimeLabel;
  trend: TrendReading;
  vol: VolReading;
  hmm: HmmReading;
  /** combined volatility probabilities (the opinion pool of the percentile and the HMM) */
  volProbabilities: Record<Vol, number>;
  /** joint probability of each label (trend part × vol part) */
  probabilities: Record<RegimeLabel, number>;
  /** P(label) */
  confidence: number;
  /**
   * close time of the first candle of the unbroken run of this label, read back candle by
   * candle inside the window (indicators causal; HMM filtered probabilities with this fit)
   */
  runSince: number;
  /** true when the run reaches back to the first candle the window can assess */
  runCapped: boolean;
  window: { from: number; to: number; candles: number };
}

const SQRT1_2 = Math.SQRT1_2;

/** standard normal CDF (Abramowitz & Stegun 7.1.26 erf, |error| < 1.5e-7) */
export function normalCdf(x: number): number {
  const z = Math.abs(x) * SQRT1_2;
  const t = 1 / (1 + 0.3275911 * z);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

const where = (c: Pick<Candles, 'exchange' | 'symbol' | 'timeframe'>): string => `${c.exchange} ${c.symbol} ${c.timeframe}`;

/** refuses a window with a hole (naming the newest one): nothing is computed across missing candles */
function assertContiguous(w: Candles): void {
  for (let i = w.length - 1; i > 0; i--) {
    const step = (w.time[i] as number) - (w.time[i - 1] as number);
    if (step !== w.timeframeMs) {
      const gap = { after: w.time[i - 1] as number, before: w.time[i] as number, missing: Math.round(step / w.timeframeMs) - 1 };
      throw new DataGapError(where(w), [gap], `${describeGap(gap)}; the ${w.length}-candle window ending ${utcAt(w.time[w.length - 1] as number)} crosses it`);
    }
  }
}

/**
 * The regime at candle `at` (default: the newest) from the `window` candles ending there — and
 * nothing after it. Throws NotEnoughDataError when fewer candles precede it, DataGapError when
 * the window has a hole.
 */
export function evaluateRegime(candles: Candles, s: RegimeSettings, at: number = candles.length - 1): RegimeReading {
  if (!Number.isInteger(at) || at < 0 || at >= candles.length) throw new RangeError(`candle index ${at} is outside 0..${candles.length - 1}`);
  const W = s.window;
  const from = at - W + 1;
  if (from < 0) throw new NotEnoughDataError(`${where(candles)}: ${at + 1} candles up to this one, ${W} needed for a regime — not computing`);
  const w = sliceCandles(candles, from, at + 1);
  assertContiguous(w);
  const tf = w.timeframeMs;
  const { high, low, close } = w;

  const adxOut = adx(high, low, close, s.adxPeriod);
  const emaArr = ema(close, s.emaPeriod);
  const rv = realizedVol(close, s.volPeriod, YEAR_MS / tf);

  // log returns; r[i] is the return into candle i (r[0] undefined → NaN); prefix sums for σ
  const r = new Float64Array(W);
  r[0] = Number.NaN;
  const cs = new Float64Array(W + 1);
  const cs2 = new Float64Array(W + 1);
  for (let i = 1; i < W; i++) {
    const x = Math.log((close[i] as number) / (close[i - 1] as number));
    r[i] = x;
    cs[i + 1] = (cs[i] as number) + x;
    cs2[i + 1] = (cs2[i] as number) + x * x;
  }

  const trendAt = (j: number): { label: Trend; slope: number; slopeT: number } | null => {
    const a = adxOut.adx[j] as number;
    const L = s.slopeBars;
    if (j - L < 0 || j - s.emaPeriod < 0) return null;
    const e1 = emaArr[j] as number;
    const e0 = emaArr[j - L] as number;
    if (!Number.isFinite(a) || !Number.isFinite(e1) || !Number.isFinite(e0)) return null;
    const change = Math.log(e1) - Math.log(e0);
    // σ of the emaPeriod log returns ending at j (r[j-n+1..j])
    const n = s.emaPeriod;
    const sum = (cs[j + 1] as number) - (cs[j + 1 - n] as number);
    const sum2 = (cs2[j + 1] as number) - (cs2[j + 1 - n] as number);
    const variance = Math.max(0, (sum2 - (sum * sum) / n) / (n - 1));
    const sigma = Math.sqrt(variance);
    const slopeT = sigma > 0 ? change / (sigma * Math.sqrt(L)) : 0;
    const label: Trend = a >= s.adxThreshold && change > 0 ? 'bull' : a >= s.adxThreshold && change < 0 ? 'bear' : 'sideways';
    return { label, slope: change / L, slopeT };
  };

  /** percentile of rv[j] among the finite rv[0..j] (mid-rank), or null with too little history */
  const volAt = (j: number): { label: Vol; percentile: number; history: number; pVolatile: number } | null => {
    const v = rv[j] as number;
    if (!Number.isFinite(v)) return null;
    let below = 0;
    let equal = 0;
    let count = 0;
    for (let k = 0; k <= j; k++) {
      const h = rv[k] as number;
      if (!Number.isFinite(h)) continue;
      count++;
      if (h < v) below++;
      else if (h === v) equal++;
    }
    if (count < MIN_VOL_HISTORY) return null;
    const percentile = (below + 0.5 * equal) / count;
    return {
      label: percentile >= s.volPercentile ? 'volatile' : 'calm',
      percentile,
      history: count,
      pVolatile: 1 / (1 + Math.exp(-(percentile - s.volPercentile) / s.volSoftness)),
    };
  };

  const last = W - 1;
  const t = trendAt(last);
  const v = volAt(last);
  if (t === null || v === null) {
    throw new NotEnoughDataError(`${where(w)}: ${W} candles are too few for these indicator periods (need ${minimumWindow(s)}) — not computing`);
  }

  // HMM on the window's log returns (returns[i] = r[i + 1])
  const returns = r.subarray(1);
  const t0 = performance.now();
  const model = fitGaussianHmm(returns, { states: s.hmmStates, maxIter: s.hmmMaxIter, tol: s.hmmTol });
  const fitMs = performance.now() - t0;
  const filtered = filteredProbabilities(model, returns);
  const K = model.means.length;
  const top = filtered[K - 1] as Float64Array;
  const share = stationaryDistribution(model.transition);
  const states = Array.from({ length: K }, (_, k) => ({
    mean: model.means[k] as number,
    variance: model.variances[k] as number,
    probability: (filtered[k] as Float64Array)[returns.length - 1] as number,
    persistence: (model.transition[k] as Float64Array)[k] as number,
    share: share[k] as number,
  }));
  let current = 0;
  for (let k = 1; k < K; k++) if ((states[k]?.probability as number) > (states[current]?.probability as number)) current = k;

  const pTrendingAt = (j: number): number => 1 / (1 + Math.exp(-((adxOut.adx[j] as number) - s.adxThreshold) / s.adxSoftness));
  const pVolatileAt = (pPct: number, j: number): number => s.hmmWeight * (top[j - 1] as number) + (1 - s.hmmWeight) * pPct;
  const volOf = (p: number): Vol => (p >= 0.5 ? 'volatile' : 'calm');

  // probabilities
  const pTrending = pTrendingAt(last);
  const pUp = t.slope === 0 ? 0.5 : normalCdf(t.slopeT);
  const trendP: Record<Trend, number> = { bull: pTrending * pUp, bear: pTrending * (1 - pUp), sideways: 1 - pTrending };
  const pVolatile = pVolatileAt(v.pVolatile, last);
  const volP: Record<Vol, number> = { calm: 1 - pVolatile, volatile: pVolatile };
  const probabilities = Object.fromEntries(
    LABELS.map((l) => {
      const [tr, vo] = l.split('/') as [Trend, Vol];
      return [l, trendP[tr] * volP[vo]];
    }),
  ) as Record<RegimeLabel, number>;
  const label: RegimeLabel = `${t.label}/${volOf(pVolatile)}`;

  // how long the label has held, read back candle by candle inside the window
  let j = last;
  let capped = false;
  for (;;) {
    if (j <= 1) {
      capped = true;
      break;
    }
    const pt = trendAt(j - 1);
    const pv = volAt(j - 1);
    if (pt === null || pv === null) {
      capped = true;
      break;
    }
    if (`${pt.label}/${volOf(pVolatileAt(pv.pVolatile, j - 1))}` !== label) break;
    j--;
  }

  return {
    exchange: w.exchange,
    symbol: w.symbol,
    timeframe: w.timeframe,
    candleOpen: w.time[last] as number,
    at: (w.time[last] as number) + tf,
    label,
    trend: {
      label: t.label,
      adx: adxOut.adx[last] as number,
      plusDI: adxOut.plusDI[last] as number,
      minusDI: adxOut.minusDI[last] as number,
      threshold: s.adxThreshold,
      ema: emaArr[last] as number,
      slopePerBar: t.slope,
      slopeT: t.slopeT,
      probabilities: trendP,
    },
    vol: { label: v.label, realizedVol: rv[last] as number, percentile: v.percentile, threshold: s.volPercentile, history: v.history, pVolatile: v.pVolatile },
    hmm: { states, current, pVolatile: top[returns.length - 1] as number, logLikelihood: model.logLikelihood, iterations: model.iterations, converged: model.converged, fitMs },
    volProbabilities: volP,
    probabilities,
    confidence: probabilities[label],
    runSince: (w.time[j] as number) + tf,
    runCapped: capped,
    window: { from: w.time[0] as number, to: w.time[last] as number, candles: W },
  };
}

// ---------------------------------------------------------------------------------------------
// hysteresis (pure)

/** what the desk keeps per exchange/symbol/timeframe */
export interface RegimeState {
  label: RegimeLabel;
  /** close time from which the label holds (start of the run of readings that led to it) */
  since: number;
  /** the run reached back to the start of the window: the label holds since `since` at least */
  sinceCapped?: boolean;
  /** close time of the last candle evaluated */
  at: number;
  /** the stored label's probability at that candle */
  confidence: number;
  /** a different label read at consecutive evaluations, not yet adopted */
  pending?: { label: RegimeLabel; count: number; since: number };
}

export interface HysteresisStep {
  state: RegimeState;
  changed: boolean;
  /** the label before a change */
  from?: RegimeLabel;
}

/**
 * One evaluation through the hysteresis filter. The stored label changes only when the new
 * label's probability beats the stored label's by `margin`, or when the new label has been
 * read at `persist` consecutive evaluations. A reading of a candle at or before the last one
 * seen changes nothing (no new evidence).
 */
export function applyHysteresis(
  prev: RegimeState | undefined,
  r: Pick<RegimeReading, 'label' | 'at' | 'probabilities' | 'confidence' | 'runSince' | 'runCapped'>,
  h: HysteresisSettings,
): HysteresisStep {
  if (prev === undefined) return { state: { label: r.label, since: r.runSince, ...(r.runCapped ? { sinceCapped: true } : {}), at: r.at, confidence: r.confidence }, changed: false };
  if (r.at <= prev.at) return { state: prev, changed: false };
  if (r.label === prev.label) {
    const { pending: _dropped, ...kept } = prev;
    return { state: { ...kept, at: r.at, confidence: r.confidence }, changed: false };
  }
  const count = prev.pending?.label === r.label ? prev.pending.count + 1 : 1;
  const lead = r.probabilities[r.label] - r.probabilities[prev.label];
  if (lead >= h.margin || count >= h.persist) {
    return { state: { label: r.label, since: r.runSince, ...(r.runCapped ? { sinceCapped: true } : {}), at: r.at, confidence: r.confidence }, changed: true, from: prev.label };
  }
  const pendingSince = prev.pending?.label === r.label ? prev.pending.since : r.at;
  return { state: { ...prev, at: r.at, confidence: r.probabilities[prev.label], pending: { label: r.label, count, since: pendingSince } }, changed: false };
}

/**
 * Regimes candle by candle over [from, to] through the hysteresis filter, as a desk checking
 * at every candle would have announced them (each reading from candles up to its own only).
 */
export function trackRegimes(
  candles: Candles,
  s: RegimeSettings,
  h: HysteresisSettings,
  from: number,
  to: number = candles.length - 1,
): Array<{ reading: RegimeReading; step: HysteresisStep }> {
  const out: Array<{ reading: RegimeReading; step: HysteresisStep }> = [];
  let state: RegimeState | undefined;
  for (let i = from; i <= to; i++) {
    const reading = evaluateRegime(candles, s, i);
    const step = applyHysteresis(state, reading, h);
    state = step.state;
    out.push({ reading, step });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// display

const pct = (x: number, digits = 2): string => `${(x * 100).toFixed(digits)}%`;
const signedPct = (x: number, digits = 3): string => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(digits)}%`;
const p2 = (x: number): string => x.toFixed(2);
const ordinal = (n: number): string => {
  const m = n % 100;
  if (m >= 11 && m <= 13) return `${n}th`;
  return `${n}${['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;
};
const span = (ms: number): string => {
  const h = ms / 3_600_000;
  if (h < 48) return `${Math.round(h)}h`;
  return `${(h / 24).toFixed(h < 240 ? 1 : 0)}d`;
};
const pretty = (l: RegimeLabel): string => l.replace('/', ' · ');

export function stateName(k: number, K: number): string {
  if (K === 2) return k === 0 ? 'calm' : 'volatile';
  return k === 0 ? 'calm' : k === K - 1 ? 'volatile' : 'middle';
}

export function formatRegime(r: RegimeReading, state: RegimeState, h: HysteresisSettings, s: Pick<RegimeSettings, 'emaPeriod' | 'slopeBars' | 'volPeriod' | 'adxPeriod'>): Reply {
  const head = `${r.symbol} ${r.timeframe} (${r.exchange}): ${pretty(state.label).toUpperCase()} — confidence ${p2(state.label === r.label ? r.confidence : r.probabilities[state.label])}`;
  const held = `holds since ${state.sinceCapped ? 'at least ' : ''}${utcAt(state.since)} (${span(Math.max(0, r.at - state.since))}); as of the candle closed ${utcAt(r.at)}`;
  const lines = [head, held];
  if (state.label !== r.label) {
    const need = state.pending?.label === r.label ? state.pending.count : 1;
    lines.push(`the newest reading is ${pretty(r.label)} (${p2(r.confidence)}): held back by hysteresis, ${need} of ${h.persist} readings or a lead of ${p2(h.margin)} needed`);
  }
  const tp = r.trend.probabilities;
  const vp = r.volProbabilities;
  const top = [...LABELS].sort((a, b) => r.probabilities[b] - r.probabilities[a]).slice(0, 3);
  const K = r.hmm.states.length;
  const hmmStates = r.hmm.states
    .map((st, k) => `${stateName(k, K)}: μ ${signedPct(st.mean)} σ ${pct(Math.sqrt(st.variance), 3)} stay ${p2(st.persistence)} p ${p2(st.probability)}`)
    .join('; ');
  return reply.of(
    block.text(lines.join('\n')),
    block.kv(
      [
        ['trend', `bull ${p2(tp.bull)} · bear ${p2(tp.bear)} · sideways ${p2(tp.sideways)}`],
        ['volatility', `calm ${p2(vp.calm)} · volatile ${p2(vp.volatile)} (pooled: HMM ${p2(r.hmm.pVolatile)}, from the percentile ${p2(r.vol.pVolatile)})`],
        ['most likely', top.map((l) => `${pretty(l)} ${p2(r.probabilities[l])}`).join(', ')],
      ],
      'probabilities',
    ),
    block.table(
      ['component', 'reads', 'numbers'],
      [
        [
          'trend',
          r.trend.label,
          `ADX(${s.adxPeriod}) ${r.trend.adx.toFixed(1)} (threshold ${r.trend.threshold}), +DI ${r.trend.plusDI.toFixed(1)} −DI ${r.trend.minusDI.toFixed(1)}; EMA(${s.emaPeriod}) slope ${signedPct(r.trend.slopePerBar)}/bar over ${s.slopeBars} bars, t ${r.trend.slopeT < 0 ? '−' : '+'}${Math.abs(r.trend.slopeT).toFixed(2)}`,
        ],
        [
          'volatility',
          r.vol.label,
          `realised vol(${s.volPeriod}) ${pct(r.vol.realizedVol, 1)} annualised, ${ordinal(Math.round(r.vol.percentile * 100))} percentile of ${r.vol.history} readings (volatile from the ${ordinal(Math.round(r.vol.threshold * 100))})`,
        ],
        ['HMM', `${stateName(r.hmm.current, K)} (p ${p2(r.hmm.states[r.hmm.current]?.probability ?? Number.NaN)})`, hmmStates],
      ],
      { title: 'components' },
    ),
    block.text(
      `window: ${r.window.candles} contiguous candles ${utcAt(r.window.from)} → ${utcAt(r.window.to)}; HMM ${K} states on ${r.window.candles - 1} log returns, ${r.hmm.iterations} EM steps${r.hmm.converged ? '' : ' (not converged)'}, log-likelihood ${r.hmm.logLikelihood.toFixed(1)}`,
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// the plugin

export default definePlugin({
  name: 'regimes',
  version: '1.0.0',
  description: 'Market regimes: trend (ADX + EMA slope), volatility percentile and a Gaussian HMM, with hysteresis',
  config: regimesConfig,
  setup(ctx) {
    const cfg = ctx.config;
    const regimes = new RegimeDesk(ctx);

    ctx.command(
      defineCommand({
        name: 'regime',
        summary: 'Market regime: bull/bear/sideways × calm/volatile, with probabilities and the evidence',
        args: {
          symbol: arg.symbol(),
          timeframe: arg.choice(TIMEFRAMES).optional(),
          exchange: arg.string({ pattern: /^[a-z][a-z0-9]*$/, patternHint: 'an exchange id like binance' }).optional().describe('default: the configured exchange'),
        },
        permission: 'market:read',
        examples: ['/regime BTC/USDT 1h', '/regime eth 4h'],
        handler: async (c) => {
          const { reading, state } = await regimes.check({ symbol: c.args.symbol, timeframe: c.args.timeframe ?? cfg.defaultTimeframe, exchange: c.args.exchange });
          return formatRegime(reading, state, cfg.hysteresis, cfg);
        },
      }),
    );

    // the digest's regimes section: each of the digest's symbols on the default timeframe
    ctx.contribute('digest', {
      name: 'regimes',
      title: 'Regimes',
      order: 30,
      render: async (period) => {
        if (period.symbols.length === 0) return null;
        const rows: string[][] = [];
        const numbers: Record<string, number> = {};
        const text: Record<string, string> = {};
        const symbols: string[] = [];
        for (const symbol of period.symbols) {
          try {
            const { reading, state } = await regimes.check({ symbol, timeframe: cfg.defaultTimeframe, exchange: undefined });
            rows.push([symbol, state.label, `${Math.round(reading.confidence * 100)} %`, `since ${utcMinute(state.since)} UTC`]);
            numbers[`${symbol}.regimeConfidencePct`] = Math.round(reading.confidence * 100);
            text[`${symbol}.regime`] = `${state.label} (${Math.round(reading.confidence * 100)} %)`;
            symbols.push(symbol);
          } catch (err) {
            rows.push([symbol, 'no reading', '-', err instanceof Error ? err.message : String(err)]);
          }
        }
        return { blocks: [block.table(['symbol', 'regime', 'confidence', 'held'], rows, { title: `Regimes (${cfg.defaultTimeframe})` })], facts: { numbers, symbols, text } };
      },
    });

    const seen = new Set<string>();
    for (const entry of cfg.watchlist) {
      const timeframe = entry.timeframe ?? cfg.defaultTimeframe;
      const name = `check-${[entry.exchange, entry.symbol, timeframe].filter(Boolean).join('-').toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
      if (seen.has(name)) continue;
      seen.add(name);
      ctx.schedule({
        name,
        cron: entry.cron ?? cfg.cron,
        ...(cfg.timezone !== undefined ? { timezone: cfg.timezone } : {}),
        run: async () => {
          try {
            await regimes.check({ symbol: entry.symbol, timeframe, exchange: entry.exchange });
          } catch (err) {
            // missing or short data is the market's state, not a bug: say it and wait for the next run
            if (err instanceof MarketError) ctx.log.warn({ symbol: entry.symbol, timeframe, reason: err.message }, 'regime check skipped');
            else throw err;
          }
        },
      });
    }
  },
});

/** Evaluations with the stored, hysteresis-filtered label per exchange/symbol/timeframe. */
class RegimeDesk {
  private readonly locks = new Map<string, Promise<unknown>>();
  /** a reading depends only on its window: the same newest candle gives the same reading */
  private readonly readings = new Map<string, RegimeReading>();

  constructor(private readonly ctx: PluginContext<RegimesConfig>) {}

  async check(req: { symbol: string; timeframe: string; exchange?: string | undefined }): Promise<{ reading: RegimeReading; state: RegimeState; changed: boolean }> {
    const cfg = this.ctx.config;
    const market = this.ctx.market;
    // live: the newest candle is usually still forming; a regime is read on closed candles only
    const live = market.mode === 'live';
    const series = await market.series({
      symbol: req.symbol,
      timeframe: req.timeframe,
      need: cfg.window + (live ? 1 : 0),
      ...(req.exchange !== undefined ? { exchange: req.exchange } : {}),
    });
    let closed: Candles = series;
    if ((series.time[series.length - 1] as number) + series.timeframeMs > market.now()) closed = sliceCandles(series, 0, series.length - 1);
    if (closed.length > cfg.window) closed = sliceCandles(closed, closed.length - cfg.window);
    const key = `${closed.exchange}:${closed.symbol}:${closed.timeframe}`;
    const cacheKey = `${key}:${closed.time[closed.length - 1]}`;
    let reading = this.readings.get(cacheKey);
    if (reading === undefined) {
      reading = evaluateRegime(closed, cfg);
      if (this.readings.size >= 512) this.readings.delete(this.readings.keys().next().value as string);
      this.readings.set(cacheKey, reading);
    }
    const r = reading;
    // one store update at a time per market, so two checks cannot both "change" it
    const step = await this.serial(key, async () => {
      const prev = (await this.ctx.store.get(key)) as RegimeState | undefined;
      const next = applyHysteresis(prev, r, cfg.hysteresis);
      if (next.state !== prev) await this.ctx.store.set(key, next.state);
      return next;
    });
    if (step.changed && step.from !== undefined) {
      const change: RegimeChange = { exchange: r.exchange, symbol: r.symbol, timeframe: r.timeframe, from: step.from, to: step.state.label, confidence: r.confidence, at: r.at };
      this.ctx.audit({ kind: 'regime.changed', ...change });
      await this.ctx.emit('regime.changed', change);
      await this.ctx.alert({
        kind: 'regime',
        severity: 'warning',
        symbol: r.symbol,
        title: `regime ${change.from} → ${change.to} on ${r.exchange} ${r.symbol} ${r.timeframe} (confidence ${(r.confidence * 100).toFixed(0)} %)`,
        dedupeKey: `regime|${r.exchange}|${r.symbol}|${r.timeframe}|${change.at}`,
      });
    }
    return { reading: r, state: step.state, changed: step.changed };
  }

  private async serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.locks.get(key) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }
}
