/**
 * The two direction classifiers and what is done with them: build, fit, Monte-Carlo-dropout
 * prediction, and saving/loading to plain files (pure tfjs has no file:// handler in Node, so
 * model.json and weights.bin are written and read here through tf.io.withSaveHandler /
 * tf.io.fromMemory).
 *
 *   lstm   LSTM(units) over the sequence → Dropout(rate) → Dense(1, sigmoid) = P(up)
 *   gru    GRU(units) over the sequence  → Dropout(rate) → Dense(1, sigmoid) = P(up)
 * Loss: binary cross-entropy, Adam. Weights start random; in the training worker every draw
 * follows from settings.seed (seeded-random.ts), so a training can be repeated exactly, and
 * another seed shows how much the scores owe to the draw.
 *
 * Monte-Carlo dropout (Gal & Ghahramani 2016): the model is run `passes` times with dropout
 * left on (`apply(x, { training: true })`); the mean of the passes is the forecast P(up) and
 * their standard deviation its spread (model uncertainty). The passes of one sample are one
 * batch of `passes` copies: each row gets its own dropout mask.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type { Tf } from './backend.js';

export const MODEL_KINDS = ['lstm', 'gru'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];
export const MODEL_LABEL: Record<ModelKind, string> = { lstm: 'LSTM', gru: 'GRU' };

export interface ArchSettings {
  seqLen: number;
  features: number;
  units: number;
  dropout: number;
  learningRate: number;
}

export function buildModel(tf: Tf, kind: ModelKind, a: ArchSettings): TF.LayersModel {
  const m = tf.sequential({ name: `${kind}_direction` });
  const rnn = { units: a.units, inputShape: [a.seqLen, a.features] };
  m.add(kind === 'lstm' ? tf.layers.lstm(rnn) : tf.layers.gru(rnn));
  m.add(tf.layers.dropout({ rate: a.dropout }));
  m.add(tf.layers.dense({ units: 1, activation: 'sigmoid' }));
  m.compile({ optimizer: tf.train.adam(a.learningRate), loss: 'binaryCrossentropy' });
  return m;
}

export interface FitSettings {
  epochs: number;
  batchSize: number;
}

/** Fit on x [n, L, F] (flat) and 0/1 labels; onEpoch after each epoch with its mean loss. */
export async function fitModel(
  tf: Tf,
  model: TF.LayersModel,
  x: Float32Array,
  y: ArrayLike<number>,
  shape: { n: number; seqLen: number; features: number },
  s: FitSettings,
  onEpoch?: (epoch: number, loss: number) => void | Promise<void>,
): Promise<number[]> {
  const xs = tf.tensor3d(x, [shape.n, shape.seqLen, shape.features]);
  const ys = tf.tensor2d(Float32Array.from(y as ArrayLike<number>), [shape.n, 1]);
  const losses: number[] = [];
  try {
    await model.fit(xs, ys, {
      epochs: s.epochs,
      batchSize: s.batchSize,
      shuffle: true,
      verbose: 0,
      callbacks: {
        onEpochEnd: async (epoch, logs) => {
          const loss = Number(logs?.loss ?? Number.NaN);
          losses.push(loss);
          await onEpoch?.(epoch, loss);
        },
      },
    });
  } finally {
    xs.dispose();
    ys.dispose();
  }
  return losses;
}

export interface McForecast {
  /** mean P(up) over the passes, per sample */
  mean: Float64Array;
  /** standard deviation of P(up) over the passes, per sample */
  sd: Float64Array;
  /** 10th and 90th percentile of the passes, per sample */
  p10: Float64Array;
  p90: Float64Array;
  passes: number;
}

/**
 * Monte-Carlo dropout on x [n, L, F]: `passes` stochastic forward passes with dropout on.
 * Samples go through in chunks so a chunk's copies stay under ~4,096 rows.
 */
export function mcDropout(tf: Tf, model: TF.LayersModel, x: Float32Array, n: number, seqLen: number, features: number, passes: number): McForecast {
  if (!(Number.isInteger(passes) && passes >= 2)) throw new RangeError(`MC dropout needs at least 2 passes, got ${passes}`);
  const out: McForecast = { mean: new Float64Array(n), sd: new Float64Array(n), p10: new Float64Array(n), p90: new Float64Array(n), passes };
  const per = seqLen * features;
  const chunk = Math.max(1, Math.floor(4096 / passes));
  const draws = new Float64Array(passes);
  for (let a = 0; a < n; a += chunk) {
    const b = Math.min(n, a + chunk);
    const m = b - a;
    const probs = tf.tidy(() => {
      const xs = tf.tensor3d(x.subarray(a * per, b * per), [m, seqLen, features]);
      // [passes × m] rows: pass-major copies of the chunk
      const tiled = tf.tile(xs, [passes, 1, 1]);
      return (model.apply(tiled, { training: true }) as TF.Tensor).dataSync();
    });
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let p = 0; p < passes; p++) {
        const v = probs[p * m + i] as number;
        draws[p] = v;
        s += v;
      }
      const mean = s / passes;
      let ss = 0;
      for (let p = 0; p < passes; p++) ss += ((draws[p] as number) - mean) ** 2;
      draws.sort();
      out.mean[a + i] = mean;
      out.sd[a + i] = Math.sqrt(ss / passes);
      out.p10[a + i] = quantile(draws, 0.1);
      out.p90[a + i] = quantile(draws, 0.9);
    }
  }
  return out;
}

/** linear interpolation between order statistics of sorted values */
function quantile(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return (sorted[lo] as number) + (pos - lo) * ((sorted[hi] as number) - (sorted[lo] as number));
}

/** Deterministic P(up) (dropout off), for checks. */
export function predictPlain(tf: Tf, model: TF.LayersModel, x: Float32Array, n: number, seqLen: number, features: number): Float64Array {
  const data = tf.tidy(() => (model.predict(tf.tensor3d(x, [n, seqLen, features])) as TF.Tensor).dataSync());
  return Float64Array.from(data);
}

/** Write model.json (topology + weights manifest) and weights.bin into dir. */
export async function saveModel(tf: Tf, model: TF.LayersModel, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const json = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      await writeFile(path.join(dir, 'weights.bin'), new Uint8Array(weights));
      await writeFile(path.join(dir, 'model.json'), `${JSON.stringify(json)}\n`);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } };
    }),
  );
}

/** Read what saveModel wrote. */
export async function loadModel(tf: Tf, dir: string): Promise<TF.LayersModel> {
  const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as {
    modelTopology: object;
    weightsManifest: Array<{ paths: string[]; weights: TF.io.WeightsManifestEntry[] }>;
  };
  const group = json.weightsManifest[0];
  if (group === undefined) throw new Error(`${dir}/model.json has no weights manifest`);
  const buffers = await Promise.all(group.paths.map(async (p) => {
    const b = await readFile(path.join(dir, p));
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  }));
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: group.weights, weightData: tf.io.CompositeArrayBuffer.join(buffers) }));
}
