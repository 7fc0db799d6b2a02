import { recordedDataDir } from '../lib.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCandleCsv } from '../../src/market/replay/csv.js';
import { applyHmm, buildModel, FEATURE_COUNT, featureSeries, fitHmmOn, fitModel, fitScaler, loadTf, mcDropout, MODEL_KINDS, samplesOf, sequences } from '../../src/ml/index.js';
import type { Benchmark, Metric } from '../lib.js';

/**
 * ML training speed with the TensorFlow.js backend this machine has (the metric names end in
 * it: tensorflow, wasm or cpu): one epoch of the default architecture — sequence 24 × 18
 * features, 16 units, dropout 0.2, batch 64, Adam — on 5,000 real samples (the recorded BTC/USDT
 * 1h record's 4,971 one-hour-horizon samples, topped up from ETH/USDT 1h), for the LSTM and the
 * GRU. One untimed epoch on 256 samples first (kernel set-up), then two timed epochs on the
 * 5,000; the figure is their mean. Also /predict's cost per model: MC dropout, 30 passes over one
 * sequence (median of 10).
 *
 * No goal: the figure is what it is on the backend found (a default /model train runs
 * (4 folds + 1) × 2 models × 4 epochs of 1,500 samples, each about 30 % of one of these epochs).
 */

const SAMPLES = 5000;
const L = 24;
const EPOCHS = 2;

function marketDir(): string {
  return recordedDataDir('ml');
}

/** up to `want` scaled sequences (and labels) of a recorded 1h series, horizon one candle */
function samplesFrom(file: string, want: number): { x: Float32Array; y: number[] } {
  const c = parseCandleCsv(readFileSync(file), path.basename(file));
  const fs = featureSeries({ time: c.time, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume, timeframeMs: 3_600_000 });
  const s = samplesOf(fs, L, 1);
  const n = Math.min(want, s.index.length);
  const idx = s.index.subarray(s.index.length - n);
  applyHmm(fs, fitHmmOn(fs, (idx[0] as number) - L + 1, idx[n - 1] as number));
  const x = sequences(fs.features, idx, L, fitScaler(fs.features, idx));
  return { x, y: Array.from(s.label.subarray(s.index.length - n)) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export const ml: Benchmark = {
  name: 'ml',
  description: `ML training: ms per epoch on ${SAMPLES.toLocaleString('en-US')} samples (sequence ${L} × ${FEATURE_COUNT} features, 16 units) for the LSTM and the GRU, and MC-dropout prediction, on the TensorFlow.js backend found`,
  async run(): Promise<Metric[]> {
    const dir = marketDir();
    const a = samplesFrom(path.join(dir, 'binance_BTC-USDT_1h.csv'), SAMPLES);
    const b = samplesFrom(path.join(dir, 'binance_ETH-USDT_1h.csv'), SAMPLES - a.y.length);
    const n = a.y.length + b.y.length;
    if (n !== SAMPLES) throw new Error(`only ${n} samples in the BTC/USDT and ETH/USDT 1h records, ${SAMPLES} wanted`);
    const x = new Float32Array(n * L * FEATURE_COUNT);
    x.set(a.x, 0);
    x.set(b.x, a.x.length);
    const y = [...a.y, ...b.y];

    const rt = await loadTf();
    const { tf } = rt;
    const be = rt.backend;
    console.error(`ml: backend ${rt.describe}`);
    const arch = { seqLen: L, features: FEATURE_COUNT, units: 16, dropout: 0.2, learningRate: 0.003 };
    const metrics: Metric[] = [];
    for (const kind of MODEL_KINDS) {
      const model = buildModel(tf, kind, arch);
      await fitModel(tf, model, x.subarray(0, 256 * L * FEATURE_COUNT), y.slice(0, 256), { n: 256, seqLen: L, features: FEATURE_COUNT }, { epochs: 1, batchSize: 64 });
      const marks: number[] = [];
      const t0 = performance.now();
      await fitModel(tf, model, x, y, { n, seqLen: L, features: FEATURE_COUNT }, { epochs: EPOCHS, batchSize: 64 }, () => void marks.push(performance.now()));
      const per = marks.map((m, i) => m - (i === 0 ? t0 : (marks[i - 1] as number)));
      const epochMs = per.reduce((s, v) => s + v, 0) / per.length;
      const one = x.subarray(0, L * FEATURE_COUNT);
      mcDropout(tf, model, one, 1, L, FEATURE_COUNT, 30);
      const predict: number[] = [];
      for (let r = 0; r < 10; r++) {
        const p0 = performance.now();
        mcDropout(tf, model, one, 1, L, FEATURE_COUNT, 30);
        predict.push(performance.now() - p0);
      }
      model.dispose();
      metrics.push(
        { name: `ml.${kind}.epoch_5000.${be}`, value: epochMs, unit: 'ms/epoch' },
        { name: `ml.${kind}.train_samples_per_s.${be}`, value: n / (epochMs / 1000), unit: 'samples/s' },
        { name: `ml.${kind}.predict_mc30.${be}`, value: median(predict), unit: 'ms' },
      );
    }
    return metrics;
  },
};
