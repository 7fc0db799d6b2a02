/**
 * From candles to samples: features per contiguous run, labels, the samples a model may use,
 * feature scaling and the sequences fed to the recurrent models. Pure, no TensorFlow here.
 *
 * A sample is a candle t with
 *   - input: the feature rows t − L + 1 … t (L = sequence length), all inside one contiguous run
 *     and all defined (so t ≥ run start + FEATURE_WARMUP + L − 1);
 *   - label: 1 when close[t + h] > close[t] ("up" over the horizon h, in candles), else 0 — only
 *     when t + h is in the same run. The label is read from the future and is never an input.
 * Its time is the open time of candle t; its label time the open time of candle t + h (the label
 * is known once that candle closes).
 */
import { FEATURE_COUNT, FEATURE_WARMUP, fitRegimeHmm, indicatorFeatures, logReturns, rowValid, segmentsOf, setHmmColumn, type FeatureMatrix, type HmmParams } from './features.js';

export interface SeriesColumns {
  time: Float64Array;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
  timeframeMs: number;
}

/** A series with its indicator features computed per contiguous run (the HMM column set per fold). */
export interface FeatureSeries {
  series: SeriesColumns;
  segments: Array<[number, number]>;
  /** segment index of each candle */
  segmentOf: Int32Array;
  /** one matrix for the whole series, rows = candles; rows near a gap's far side stay NaN */
  features: FeatureMatrix;
}

export function featureSeries(series: SeriesColumns): FeatureSeries {
  const n = series.time.length;
  const segments = segmentsOf(series.time, series.timeframeMs);
  const segmentOf = new Int32Array(n);
  const data = new Float64Array(n * FEATURE_COUNT).fill(Number.NaN);
  segments.forEach(([a, b], s) => {
    segmentOf.fill(s, a, b);
    const m = indicatorFeatures({ high: series.high.subarray(a, b), low: series.low.subarray(a, b), close: series.close.subarray(a, b), volume: series.volume.subarray(a, b) });
    data.set(m.data, a * FEATURE_COUNT);
  });
  return { series, segments, segmentOf, features: { rows: n, cols: FEATURE_COUNT, data } };
}

/** Set the HMM column of every run from the given parameters (a forward filter per run). */
export function applyHmm(fs: FeatureSeries, hmm: HmmParams): void {
  for (const [a, b] of fs.segments) {
    const view: FeatureMatrix = { rows: b - a, cols: FEATURE_COUNT, data: fs.features.data.subarray(a * FEATURE_COUNT, b * FEATURE_COUNT) };
    setHmmColumn(view, fs.series.close.subarray(a, b), hmm);
  }
}

/**
 * Fit the HMM on the log returns of candles [from, to] (indices into the series, inclusive),
 * each return within one run (none across a gap).
 */
export function fitHmmOn(fs: FeatureSeries, from: number, to: number): HmmParams {
  const r = logReturns(fs.series.close);
  const xs: number[] = [];
  for (let t = Math.max(1, from); t <= to; t++) if (fs.segmentOf[t] === fs.segmentOf[t - 1]) xs.push(r[t] as number);
  return fitRegimeHmm(Float64Array.from(xs));
}

export interface Samples {
  /** candle index of each sample, ascending */
  index: Int32Array;
  /** candle open time of each sample */
  time: Float64Array;
  /** open time of the candle its label is read at (t + h); NaN when the label is not known yet */
  labelTime: Float64Array;
  /** 1 up, 0 not up; −1 when not known yet */
  label: Int8Array;
}

/**
 * Every candle usable as a sample with sequence length L and horizon h. With `labelled` (the
 * default) only samples whose label is known; otherwise also the newest ones (for prediction).
 * Requires the indicator features only (the HMM column shares their warm-up).
 */
export function samplesOf(fs: FeatureSeries, L: number, h: number, opts: { labelled?: boolean } = {}): Samples {
  const labelled = opts.labelled ?? true;
  const { close, time } = fs.series;
  const idx: number[] = [];
  for (const [a, b] of fs.segments) {
    let validRun = 0; // consecutive rows with every indicator defined, ending at t
    for (let t = a; t < b; t++) {
      validRun = t - a >= FEATURE_WARMUP && indicatorsValid(fs.features, t) ? validRun + 1 : 0;
      if (validRun < L) continue;
      if (labelled && t + h >= b) continue;
      idx.push(t);
    }
  }
  const index = Int32Array.from(idx);
  const n = index.length;
  const out: Samples = { index, time: new Float64Array(n), labelTime: new Float64Array(n), label: new Int8Array(n) };
  for (let i = 0; i < n; i++) {
    const t = index[i] as number;
    out.time[i] = time[t] as number;
    const u = t + h;
    if (u < close.length && fs.segmentOf[u] === fs.segmentOf[t]) {
      out.labelTime[i] = time[u] as number;
      out.label[i] = (close[u] as number) > (close[t] as number) ? 1 : 0;
    } else {
      out.labelTime[i] = Number.NaN;
      out.label[i] = -1;
    }
  }
  return out;
}

function indicatorsValid(m: FeatureMatrix, t: number): boolean {
  const base = t * m.cols;
  // every column but the HMM's (the last), which is set per fold
  for (let j = 0; j < m.cols - 1; j++) if (!Number.isFinite(m.data[base + j] as number)) return false;
  return true;
}

/** Per-feature mean and standard deviation of the training rows; inputs are z-scored and clipped to ±CLIP. */
export interface Scaler {
  mean: number[];
  std: number[];
}

export const CLIP = 5;

/** Fit on the rows of the given candles (the training samples' own rows). */
export function fitScaler(m: FeatureMatrix, rows: ArrayLike<number>): Scaler {
  const F = m.cols;
  const mean = new Array<number>(F).fill(0);
  const sq = new Array<number>(F).fill(0);
  let n = 0;
  for (let i = 0; i < rows.length; i++) {
    const t = rows[i] as number;
    if (!rowValid(m, t)) continue;
    n++;
    for (let j = 0; j < F; j++) mean[j] = (mean[j] as number) + (m.data[t * F + j] as number);
  }
  if (n === 0) throw new RangeError('no defined feature rows to fit the scaler on');
  for (let j = 0; j < F; j++) mean[j] = (mean[j] as number) / n;
  for (let i = 0; i < rows.length; i++) {
    const t = rows[i] as number;
    if (!rowValid(m, t)) continue;
    for (let j = 0; j < F; j++) {
      const d = (m.data[t * F + j] as number) - (mean[j] as number);
      sq[j] = (sq[j] as number) + d * d;
    }
  }
  const std = sq.map((s) => {
    const sd = Math.sqrt(s / n);
    return sd > 1e-12 ? sd : 1;
  });
  return { mean, std };
}

/**
 * The model input for candles `ends` (each the last row of its sequence): Float32Array of
 * shape [ends.length, L, F], z-scored with the scaler and clipped. Throws on an undefined row
 * (a caller bug: samplesOf only yields sequences of defined rows).
 */
export function sequences(m: FeatureMatrix, ends: ArrayLike<number>, L: number, scaler: Scaler): Float32Array {
  const F = m.cols;
  const out = new Float32Array(ends.length * L * F);
  let o = 0;
  for (let i = 0; i < ends.length; i++) {
    const t = ends[i] as number;
    for (let r = t - L + 1; r <= t; r++) {
      for (let j = 0; j < F; j++) {
        const x = m.data[r * F + j] as number;
        if (!Number.isFinite(x)) throw new RangeError(`feature ${j} of row ${r} is not defined`);
        const z = (x - (scaler.mean[j] as number)) / (scaler.std[j] as number);
        out[o++] = z > CLIP ? CLIP : z < -CLIP ? -CLIP : z;
      }
    }
  }
  return out;
}
