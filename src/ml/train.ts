/**
 * Training and walk-forward scoring of the direction models on one series, then the final
 * models for prediction, saved with everything needed to use and judge them. Runs in the
 * training worker (train-worker.ts), or in-process for the benchmark.
 *
 *   1. indicator features per contiguous run; samples (sequence of L rows ending at t, label
 *      close[t+h] > close[t]); no sequence or label crosses a gap
 *   2. walk-forward folds (walk-forward.ts): per fold, the HMM is fitted on the training
 *      window's returns, the scaler on its rows, each model trained on it alone, and the test
 *      window — strictly after — scored with MC dropout next to the baselines from the same
 *      fold's data
 *   3. final models on the newest `trainWindow` labelled samples, saved under outDir:
 *      meta.json (data range, features, HMM, scaler, settings, scores), predictions.json (every
 *      test-window forecast with its label), lstm/ and gru/ (model.json + weights.bin)
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FEATURE_COUNT, FEATURE_NAMES, FEATURE_WARMUP, type HmmParams } from './features.js';
import { applyHmm, featureSeries, fitHmmOn, fitScaler, samplesOf, sequences, type Scaler, type SeriesColumns } from './dataset.js';
import { loadTf, type BackendPreference } from './backend.js';
import {
  addReliability,
  addTally,
  emptyReliability,
  emptyTally,
  gateTally,
  lastReturnBaseline,
  majorityBaseline,
  tally,
  verdict,
  type GateTally,
  type MajorityBaseline,
  type ReliabilityBin,
  type Tally,
  type Verdict,
} from './metrics.js';
import { buildModel, fitModel, mcDropout, MODEL_KINDS, saveModel, type ModelKind } from './models.js';
import { planFolds } from './walk-forward.js';

export interface TrainSettings {
  seqLen: number;
  units: number;
  dropout: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  folds: number;
  /** samples per training window (walk-forward and final) */
  trainWindow: number;
  /** samples per walk-forward test window */
  testWindow: number;
  /** stochastic passes for MC dropout */
  mcPasses: number;
  /** reliability bins on [0, 1] */
  bins: number;
  /** confidence gate the gated counts are reported at */
  gate: number;
  backend: BackendPreference;
  /**
   * every random draw of the training (initial weights, shuffling, dropout masks) follows from
   * it, in the worker (see seeded-random.ts): the same data, settings and seed, the same models
   */
  seed: number;
}

export interface TrainRequest {
  exchange: string;
  symbol: string;
  timeframe: string;
  /** horizon in candles */
  horizon: number;
  series: SeriesColumns;
  settings: TrainSettings;
  /** the desk's now (ms), recorded as trainedAt */
  now: number;
  /** who asked (for the record) */
  by: string;
  /** the model's folder; replaced when training succeeds */
  outDir: string;
}

export interface TrainProgress {
  stage: 'loading' | 'features' | 'fold' | 'scoring' | 'final' | 'saving';
  /** 1-based fold while stage is fold/scoring */
  fold?: number;
  folds: number;
  model?: ModelKind;
  /** 1-based epoch */
  epoch?: number;
  epochs: number;
  loss?: number;
  /** epochs done of all epochs (folds + final) × models */
  done: number;
  total: number;
  backend?: string;
}

export interface Range {
  /** candle open times (ms) of the first and last sample */
  from: number;
  to: number;
  n: number;
  upRate: number;
}

export interface ModelFoldScore extends Tally {
  gated: GateTally;
  meanSd: number;
}

export interface FoldReport {
  fold: number;
  train: Range;
  test: Range;
  models: Record<ModelKind, ModelFoldScore>;
  majority: MajorityBaseline;
  lastReturn: Tally;
}

export interface PooledScore extends Tally {
  accuracy: number;
  brier: number;
  gated: GateTally;
  meanSd: number;
  reliability: ReliabilityBin[];
}

export interface ModelMeta {
  format: 'deskbot-ml/1';
  exchange: string;
  symbol: string;
  timeframe: string;
  timeframeMs: number;
  horizon: number;
  trainedAt: number;
  trainedBy: string;
  backend: string;
  tfjs: string;
  /** wall-clock seconds the training took (informative only) */
  seconds: number;
  data: { from: number; to: number; candles: number; gaps: number; segments: number; samples: number };
  features: string[];
  featureWarmup: number;
  settings: TrainSettings;
  walkForward: {
    folds: FoldReport[];
    pooled: Record<ModelKind, PooledScore>;
    majority: Tally & { accuracy: number; brier: number };
    lastReturn: Tally & { accuracy: number; brier: number };
    verdicts: Record<ModelKind, Verdict>;
  };
  /** the model /predict uses: the lower pooled walk-forward Brier */
  best: ModelKind;
  final: { train: Range; labelsKnownUntil: number; hmm: HmmParams; scaler: Scaler; losses: Record<ModelKind, number[]> };
}

/** Every scored test-window forecast (predictions.json), oldest first. */
export interface TestPredictions {
  time: number[];
  fold: number[];
  label: number[];
  /** 1 when close[t] > close[t−1] */
  lastUp: number[];
  p: Record<ModelKind, number[]>;
  sd: Record<ModelKind, number[]>;
}

export function modelKey(exchange: string, symbol: string, timeframe: string, horizon: number): string {
  return `${exchange}_${symbol.replace('/', '-')}_${timeframe}_h${horizon}`;
}

const round = (x: number, d = 6): number => Number(x.toFixed(d));

function rangeOf(time: Float64Array, label: Int8Array, positions: Int32Array): Range {
  let ups = 0;
  for (const i of positions) ups += label[i] as number;
  return { from: time[positions[0] as number] as number, to: time[positions[positions.length - 1] as number] as number, n: positions.length, upRate: round(ups / positions.length) };
}

export async function runTraining(req: TrainRequest, onProgress: (p: TrainProgress) => void = () => {}): Promise<ModelMeta> {
  const t0 = performance.now();
  const s = req.settings;
  const total = (s.folds + 1) * MODEL_KINDS.length * s.epochs;
  let done = 0;
  const base = { folds: s.folds, epochs: s.epochs, total };
  onProgress({ stage: 'loading', done, ...base });
  const rt = await loadTf(s.backend);
  const { tf } = rt;
  onProgress({ stage: 'features', done, ...base, backend: rt.describe });

  const fs = featureSeries(req.series);
  const { close } = req.series;
  const smp = samplesOf(fs, s.seqLen, req.horizon);
  const folds = planFolds(smp, s);
  const L = s.seqLen;
  const F = FEATURE_COUNT;
  const arch = { seqLen: L, features: F, units: s.units, dropout: s.dropout, learningRate: s.learningRate };

  const candleIdx = (positions: Int32Array): Int32Array => Int32Array.from(positions, (i) => smp.index[i] as number);
  const labelsAt = (positions: Int32Array): Int8Array => Int8Array.from(positions, (i) => smp.label[i] as number);
  /** HMM on the returns the training samples' sequences cover (first row of the first sequence … last sample) */
  const hmmFor = (trainCandles: Int32Array): HmmParams => fitHmmOn(fs, (trainCandles[0] as number) - L + 1, trainCandles[trainCandles.length - 1] as number);

  const preds: TestPredictions = { time: [], fold: [], label: [], lastUp: [], p: { lstm: [], gru: [] }, sd: { lstm: [], gru: [] } };
  const reports: FoldReport[] = [];
  const pooled = Object.fromEntries(MODEL_KINDS.map((k) => [k, { tally: emptyTally(), gated: { gate: s.gate, n: 0, correct: 0 }, sdSum: 0, rel: emptyReliability(s.bins) }])) as Record<
    ModelKind,
    { tally: Tally; gated: GateTally; sdSum: number; rel: ReliabilityBin[] }
  >;
  let majority = emptyTally();
  let lastReturn = emptyTally();

  for (const fold of folds) {
    const trainCandles = candleIdx(fold.train);
    const testCandles = candleIdx(fold.test);
    const yTrain = labelsAt(fold.train);
    const yTest = labelsAt(fold.test);
    applyHmm(fs, hmmFor(trainCandles));
    const scaler = fitScaler(fs.features, trainCandles);
    const xTrain = sequences(fs.features, trainCandles, L, scaler);
    const xTest = sequences(fs.features, testCandles, L, scaler);
    const models = {} as Record<ModelKind, ModelFoldScore>;
    for (const kind of MODEL_KINDS) {
      const model = buildModel(tf, kind, arch);
      try {
        await fitModel(tf, model, xTrain, yTrain, { n: trainCandles.length, seqLen: L, features: F }, s, (epoch, loss) => {
          done++;
          onProgress({ stage: 'fold', fold: fold.fold + 1, model: kind, epoch: epoch + 1, loss, done, ...base });
        });
        onProgress({ stage: 'scoring', fold: fold.fold + 1, model: kind, done, ...base });
        const mc = mcDropout(tf, model, xTest, testCandles.length, L, F, s.mcPasses);
        const t = tally(mc.mean, yTest);
        const g = gateTally(mc.mean, yTest, s.gate);
        let sdSum = 0;
        for (const v of mc.sd) sdSum += v;
        models[kind] = { ...t, gated: g, meanSd: round(sdSum / testCandles.length) };
        const P = pooled[kind];
        P.tally = addTally(P.tally, t);
        P.gated.n += g.n;
        P.gated.correct += g.correct;
        P.sdSum += sdSum;
        addReliability(P.rel, mc.mean, yTest);
        preds.p[kind].push(...Array.from(mc.mean, (v) => round(v)));
        preds.sd[kind].push(...Array.from(mc.sd, (v) => round(v)));
      } finally {
        model.dispose();
      }
    }
    const lastUp = Int8Array.from(testCandles, (t) => ((close[t] as number) > (close[t - 1] as number) ? 1 : 0));
    const maj = majorityBaseline(yTrain, yTest);
    const last = lastReturnBaseline(lastUp, yTest);
    majority = addTally(majority, maj);
    lastReturn = addTally(lastReturn, last);
    for (let i = 0; i < testCandles.length; i++) {
      preds.time.push(req.series.time[testCandles[i] as number] as number);
      preds.fold.push(fold.fold + 1);
      preds.label.push(yTest[i] as number);
      preds.lastUp.push(lastUp[i] as number);
    }
    reports.push({
      fold: fold.fold + 1,
      train: rangeOf(smp.time, smp.label, fold.train),
      test: rangeOf(smp.time, smp.label, fold.test),
      models,
      majority: { ...maj, brierSum: round(maj.brierSum) },
      lastReturn: last,
    });
  }

  // final models: the newest trainWindow labelled samples
  const n = smp.index.length;
  const finalPos = Int32Array.from({ length: s.trainWindow }, (_, i) => n - s.trainWindow + i);
  const finalCandles = candleIdx(finalPos);
  const hmm = hmmFor(finalCandles);
  applyHmm(fs, hmm);
  const scaler = fitScaler(fs.features, finalCandles);
  const xFinal = sequences(fs.features, finalCandles, L, scaler);
  const yFinal = labelsAt(finalPos);
  const tmp = `${req.outDir}.tmp-${process.pid}-${Date.now()}`;
  const losses = {} as Record<ModelKind, number[]>;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    for (const kind of MODEL_KINDS) {
      const model = buildModel(tf, kind, arch);
      try {
        losses[kind] = (
          await fitModel(tf, model, xFinal, yFinal, { n: finalCandles.length, seqLen: L, features: F }, s, (epoch, loss) => {
            done++;
            onProgress({ stage: 'final', model: kind, epoch: epoch + 1, loss, done, ...base });
          })
        ).map((v) => round(v));
        onProgress({ stage: 'saving', model: kind, done, ...base });
        await saveModel(tf, model, path.join(tmp, kind));
      } finally {
        model.dispose();
      }
    }

    const score = (t: Tally): Tally & { accuracy: number; brier: number } => ({ ...t, brierSum: round(t.brierSum), accuracy: round(t.correct / t.n), brier: round(t.brierSum / t.n) });
    const pooledOut = Object.fromEntries(
      MODEL_KINDS.map((k) => {
        const P = pooled[k];
        return [k, { ...score(P.tally), gated: P.gated, meanSd: round(P.sdSum / P.tally.n), reliability: P.rel.map((b) => ({ ...b, sumP: round(b.sumP) })) }];
      }),
    ) as Record<ModelKind, PooledScore>;
    const verdicts = Object.fromEntries(MODEL_KINDS.map((k) => [k, verdict(pooled[k].tally, majority, lastReturn, req.horizon)])) as Record<ModelKind, Verdict>;
    const best = [...MODEL_KINDS].sort((a, b) => pooledOut[a].brier - pooledOut[b].brier)[0] as ModelKind;
    const lastFinal = smp.index[n - 1] as number;
    const meta: ModelMeta = {
      format: 'deskbot-ml/1',
      exchange: req.exchange,
      symbol: req.symbol,
      timeframe: req.timeframe,
      timeframeMs: req.series.timeframeMs,
      horizon: req.horizon,
      trainedAt: req.now,
      trainedBy: req.by,
      backend: rt.describe,
      tfjs: rt.version,
      seconds: round((performance.now() - t0) / 1000, 1),
      data: {
        from: req.series.time[0] as number,
        to: req.series.time[req.series.time.length - 1] as number,
        candles: req.series.time.length,
        gaps: fs.segments.length - 1,
        segments: fs.segments.length,
        samples: n,
      },
      features: [...FEATURE_NAMES],
      featureWarmup: FEATURE_WARMUP,
      settings: s,
      walkForward: { folds: reports, pooled: pooledOut, majority: score(majority), lastReturn: score(lastReturn), verdicts },
      best,
      final: { train: rangeOf(smp.time, smp.label, finalPos), labelsKnownUntil: req.series.time[lastFinal + req.horizon] as number, hmm, scaler, losses },
    };
    await writeFile(path.join(tmp, 'meta.json'), `${JSON.stringify(meta, null, 1)}\n`);
    await writeFile(path.join(tmp, 'predictions.json'), `${JSON.stringify(preds)}\n`);
    await rm(req.outDir, { recursive: true, force: true });
    await mkdir(path.dirname(req.outDir), { recursive: true });
    await rename(tmp, req.outDir);
    return meta;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
