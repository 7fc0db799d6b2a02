/**
 * Using a saved model set: read its meta.json and predictions, load the two models, and
 * forecast P(up) at the newest candle of a contiguous window with MC dropout.
 *
 * The features are computed the way training computed them (indicators over the window, the
 * HMM column with the HMM fitted at training, the training scaler); only candles of the window
 * are read, the newest being the candle the forecast is made at.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { loadTf, type TfRuntime } from './backend.js';
import { buildFeatures, FEATURE_COUNT, FEATURE_NAMES, rowValid } from './features.js';
import { sequences, type SeriesColumns } from './dataset.js';
import { loadModel, mcDropout, MODEL_KINDS, type ModelKind } from './models.js';
import type { ModelMeta, TestPredictions } from './train.js';

export interface LoadedModels {
  dir: string;
  meta: ModelMeta;
  models: Record<ModelKind, TF.LayersModel>;
  runtime: TfRuntime;
}

export async function readMeta(dir: string): Promise<ModelMeta> {
  const meta = JSON.parse(await readFile(path.join(dir, 'meta.json'), 'utf8')) as ModelMeta;
  if (meta.format !== 'deskbot-ml/1') throw new Error(`${dir}/meta.json: unknown format ${String(meta.format)}`);
  const names = meta.features.join(',');
  if (names !== FEATURE_NAMES.join(',')) throw new Error(`${dir}: trained on other features (${names}); retrain it`);
  return meta;
}

export async function readPredictions(dir: string): Promise<TestPredictions> {
  return JSON.parse(await readFile(path.join(dir, 'predictions.json'), 'utf8')) as TestPredictions;
}

/** Every model set under modelsDir (folders with a meta.json), newest first; unreadable ones are listed with their error. */
export type ListedModel = { dir: string; meta: ModelMeta; error?: undefined } | { dir: string; meta?: undefined; error: string };

export async function listModels(modelsDir: string): Promise<ListedModel[]> {
  let names: string[];
  try {
    names = (await readdir(modelsDir, { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.includes('.tmp-')).map((d) => d.name);
  } catch {
    return [];
  }
  const out = await Promise.all(
    names.map(async (name): Promise<ListedModel> => {
      const dir = path.join(modelsDir, name);
      try {
        return { dir, meta: await readMeta(dir) };
      } catch (err) {
        return { dir, error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
  const at = (e: { meta?: ModelMeta }): number => e.meta?.trainedAt ?? 0;
  return out.sort((a, b) => at(b) - at(a));
}

export async function loadModels(dir: string): Promise<LoadedModels> {
  const meta = await readMeta(dir);
  const runtime = await loadTf(meta.settings.backend);
  const models = {} as Record<ModelKind, TF.LayersModel>;
  for (const kind of MODEL_KINDS) models[kind] = await loadModel(runtime.tf, path.join(dir, kind));
  return { dir, meta, models, runtime };
}

export interface Forecast {
  kind: ModelKind;
  /** MC-dropout mean P(up) */
  p: number;
  sd: number;
  p10: number;
  p90: number;
  passes: number;
  direction: 'up' | 'down';
  /** max(p, 1 − p) */
  confidence: number;
}

/** Candles a forecast needs at least (the warm-up plus one sequence). */
export function minWindow(meta: ModelMeta): number {
  return meta.featureWarmup + meta.settings.seqLen;
}

/** The forecast of each model at the newest candle of `window` (contiguous, closed candles). */
export function forecast(m: LoadedModels, window: Omit<SeriesColumns, 'timeframeMs' | 'time' | 'open'>, passes: number = m.meta.settings.mcPasses): Record<ModelKind, Forecast> {
  const n = window.close.length;
  const L = m.meta.settings.seqLen;
  if (n < minWindow(m.meta)) throw new RangeError(`${n} candles are too few: the features need ${minWindow(m.meta)}`);
  const f = buildFeatures(window, m.meta.final.hmm);
  for (let t = n - L; t < n; t++) if (!rowValid(f, t)) throw new RangeError(`the features of candle ${t + 1} of ${n} are undefined (a flat window?)`);
  const x = sequences(f, [n - 1], L, m.meta.final.scaler);
  const out = {} as Record<ModelKind, Forecast>;
  for (const kind of MODEL_KINDS) {
    const mc = mcDropout(m.runtime.tf, m.models[kind], x, 1, L, FEATURE_COUNT, passes);
    const p = mc.mean[0] as number;
    out[kind] = { kind, p, sd: mc.sd[0] as number, p10: mc.p10[0] as number, p90: mc.p90[0] as number, passes, direction: p >= 0.5 ? 'up' : 'down', confidence: Math.max(p, 1 - p) };
  }
  return out;
}

export function disposeModels(m: LoadedModels): void {
  for (const kind of MODEL_KINDS) m.models[kind].dispose();
}
