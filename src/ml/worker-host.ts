/**
 * Starts training in a worker thread so the desk keeps answering while models train.
 *
 * Under tsx or vitest the source files are TypeScript: a worker thread does not inherit the
 * parent's loader hooks on Node 20 (`execArgv: ['--import', 'tsx']` is not enough), so the
 * worker is started from a tiny inline ES module that registers tsx's loader (tsx/esm/api)
 * and then imports train-worker.ts. Built to JavaScript, train-worker.js is started directly.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ModelMeta, TrainProgress, TrainRequest } from './train.js';

export interface TrainingJob {
  /** the worker's thread id */
  threadId: number;
  result: Promise<ModelMeta>;
  /** stop the worker (its temporary folder may stay behind; it is never read as a model) */
  cancel(): Promise<void>;
}

/** file URL of tsx's ESM API entry (tsx/esm/api), read from its package.json exports */
function tsxApiUrl(): string {
  const req = createRequire(import.meta.url);
  const pkgFile = req.resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports?: Record<string, unknown> };
  const entry = pkg.exports?.['./esm/api'] as { import?: { default?: string } | string } | undefined;
  const rel = typeof entry?.import === 'string' ? entry.import : (entry?.import?.default ?? './dist/esm/api/index.mjs');
  return pathToFileURL(path.join(path.dirname(pkgFile), rel)).href;
}

function spawn(workerData: TrainRequest): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './train-worker.ts' : './train-worker.js', import.meta.url);
  if (!fromSource) return new Worker(entry, { workerData });
  const boot = [
    `import { register } from ${JSON.stringify(tsxApiUrl())};`,
    'register();',
    `await import(${JSON.stringify(entry.href)});`,
  ].join('\n');
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { workerData });
}

export function startTraining(req: TrainRequest, onProgress: (p: TrainProgress) => void): TrainingJob {
  const worker = spawn(req);
  let settled = false;
  const result = new Promise<ModelMeta>((resolve, reject) => {
    worker.on('message', (msg: { type: string; progress?: TrainProgress; meta?: ModelMeta; message?: string }) => {
      if (msg.type === 'progress' && msg.progress) onProgress(msg.progress);
      else if (msg.type === 'done' && msg.meta) {
        settled = true;
        resolve(msg.meta);
      } else if (msg.type === 'error') {
        settled = true;
        reject(new Error(msg.message ?? 'training failed'));
      }
    });
    worker.on('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(code === 1 ? 'training stopped' : `training worker exited with code ${code}`));
    });
  });
  return {
    threadId: worker.threadId,
    result,
    cancel: async () => {
      await worker.terminate();
    },
  };
}
