import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildModel, fitModel, loadModel, loadTf, mcDropout, predictPlain, saveModel, startTraining, type TrainProgress } from '../../src/ml/index.js';
import { recordedCandles } from '../helpers/recorded.js';

const L = 6;
const F = 3;
const arch = { seqLen: L, features: F, units: 4, dropout: 0.3, learningRate: 0.01 };

/** a learnable toy task: up when the last step's first feature is positive */
function toy(n: number): { x: Float32Array; y: number[] } {
  const x = new Float32Array(n * L * F);
  const y: number[] = [];
  let seed = 7;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < L * F; j++) x[i * L * F + j] = rand();
    y.push((x[i * L * F + (L - 1) * F] as number) > 0 ? 1 : 0);
  }
  return { x, y };
}

describe('TensorFlow.js backend', () => {
  it('loads tfjs-node when it is installed, else says why and runs the pure-JS CPU backend', async () => {
    const rt = await loadTf();
    expect(rt.version).toBe('4.22.0');
    expect(rt.tf.getBackend()).toBe(rt.backend);
    let nodeInstalled = true;
    try {
      await import(['@tensorflow', 'tfjs-node'].join('/'));
    } catch {
      nodeInstalled = false;
    }
    if (!nodeInstalled) {
      expect(rt.backend === 'cpu' || rt.backend === 'wasm').toBe(true);
      expect(rt.notes).toContain('@tensorflow/tfjs-node: not installed');
    }
    expect(rt.describe.startsWith(`${rt.backend} (`)).toBe(true);
  });
});

describe('LSTM and GRU classifiers', () => {
  for (const kind of ['lstm', 'gru'] as const) {
    it(`${kind}: fits, gives probabilities, a Monte-Carlo-dropout spread, and survives a save/load round trip`, async () => {
      const { tf } = await loadTf();
      const { x, y } = toy(256);
      const model = buildModel(tf, kind, arch);
      const losses = await fitModel(tf, model, x, y, { n: 256, seqLen: L, features: F }, { epochs: 3, batchSize: 32 });
      expect(losses).toHaveLength(3);
      for (const l of losses) expect(Number.isFinite(l)).toBe(true);

      const n = 16;
      const xs = x.subarray(0, n * L * F);
      const plain = predictPlain(tf, model, xs, n, L, F);
      const mc = mcDropout(tf, model, xs, n, L, F, 25);
      for (let i = 0; i < n; i++) {
        for (const v of [plain[i], mc.mean[i], mc.p10[i], mc.p90[i]]) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
        }
        expect(mc.p10[i]).toBeLessThanOrEqual(mc.p90[i] as number);
        expect(mc.sd[i]).toBeGreaterThanOrEqual(0);
      }
      // dropout is on in the passes: they differ (with dropout off they would all be `plain`)
      expect(Math.max(...mc.sd)).toBeGreaterThan(0);
      // and off for plain prediction: deterministic
      expect(predictPlain(tf, model, xs, n, L, F)).toEqual(plain);

      const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'deskbot-ml-model-')), kind);
      await saveModel(tf, model, dir);
      const json = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as { weightsManifest: Array<{ paths: string[] }> };
      expect(json.weightsManifest[0]?.paths).toEqual(['weights.bin']);
      const back = await loadModel(tf, dir);
      expect(predictPlain(tf, back, xs, n, L, F)).toEqual(plain);
      model.dispose();
      back.dispose();
    }, 120_000);
  }

  it('MC dropout needs at least two passes', async () => {
    const { tf } = await loadTf();
    const model = buildModel(tf, 'gru', arch);
    expect(() => mcDropout(tf, model, new Float32Array(L * F), 1, L, F, 1)).toThrow(/at least 2 passes/);
    model.dispose();
  });
});

describe('training in a worker thread', () => {
  it('runs the walk-forward in a worker, reports progress, and writes the model set', async () => {
    const c = recordedCandles('binance', 'ETH/USDT', '1h');
    const n = 1400;
    const cut = (a: Float64Array): Float64Array => a.slice(c.length - n);
    const outDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'deskbot-ml-worker-')), 'eth');
    const progress: TrainProgress[] = [];
    const job = startTraining(
      {
        exchange: 'binance',
        symbol: 'ETH/USDT',
        timeframe: '1h',
        horizon: 24,
        series: { time: cut(c.time), open: cut(c.open), high: cut(c.high), low: cut(c.low), close: cut(c.close), volume: cut(c.volume), timeframeMs: c.timeframeMs },
        settings: { seqLen: 12, units: 4, dropout: 0.2, epochs: 1, batchSize: 64, learningRate: 0.003, folds: 2, trainWindow: 300, testWindow: 100, mcPasses: 5, bins: 5, gate: 0.8, backend: 'auto', seed: 7 },
        now: Date.UTC(2021, 6, 18),
        by: 'test',
        outDir,
      },
      (p) => progress.push(p),
    );
    expect(job.threadId).toBeGreaterThan(0);
    const meta = await job.result;
    expect(meta.horizon).toBe(24);
    expect(meta.walkForward.folds).toHaveLength(2);
    expect(meta.walkForward.majority.n).toBe(200);
    expect(progress[0]?.stage).toBe('loading');
    expect(progress.filter((p) => p.stage === 'fold')).toHaveLength(2 * 2);
    expect(progress.filter((p) => p.stage === 'final')).toHaveLength(2);
    expect(progress[progress.length - 1]).toMatchObject({ stage: 'saving', done: 6, total: 6 });
    expect(existsSync(path.join(outDir, 'meta.json'))).toBe(true);
    // the 24 samples before each test window are left out of its training (their labels reach into it)
    for (const f of meta.walkForward.folds) expect(f.train.to + 24 * 3_600_000).toBeLessThanOrEqual(f.test.from);
  }, 300_000);

  it('is repeatable: the same data, settings and seed give the same models and scores; another seed does not', async () => {
    const c = recordedCandles('binance', 'BTC/USDT', '1h');
    const n = 900;
    const cut = (a: Float64Array): Float64Array => a.slice(c.length - n);
    const series = { time: cut(c.time), open: cut(c.open), high: cut(c.high), low: cut(c.low), close: cut(c.close), volume: cut(c.volume), timeframeMs: c.timeframeMs };
    const root = mkdtempSync(path.join(os.tmpdir(), 'deskbot-ml-seed-'));
    const train = async (seed: number, name: string): Promise<{ scores: unknown; predictions: string }> => {
      const outDir = path.join(root, name);
      const meta = await startTraining(
        {
          exchange: 'binance',
          symbol: 'BTC/USDT',
          timeframe: '1h',
          horizon: 1,
          series,
          settings: { seqLen: 8, units: 4, dropout: 0.3, epochs: 2, batchSize: 32, learningRate: 0.003, folds: 2, trainWindow: 200, testWindow: 80, mcPasses: 5, bins: 5, gate: 0.8, backend: 'auto', seed },
          now: Date.UTC(2021, 6, 18),
          by: 'test',
          outDir,
        },
        () => undefined,
      ).result;
      expect(meta.settings.seed).toBe(seed);
      return { scores: meta.walkForward, predictions: readFileSync(path.join(outDir, 'predictions.json'), 'utf8') };
    };
    const [a, b, other] = await Promise.all([train(11, 'a'), train(11, 'b'), train(12, 'other')]);
    expect(b.scores).toEqual(a.scores);
    expect(b.predictions).toBe(a.predictions);
    expect(other.predictions).not.toBe(a.predictions);
  }, 300_000);
});
