/**
 * The training worker's entry (node:worker_threads): receives one TrainRequest as workerData,
 * posts { type: 'progress' } messages while it trains, then { type: 'done', meta } or
 * { type: 'error', message }, and ends. Started by worker-host.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runTraining, type TrainRequest } from './train.js';

const port = parentPort;
if (port === null) throw new Error('train-worker.ts runs as a worker thread (see worker-host.ts)');
const req = workerData as TrainRequest;

try {
  const meta = await runTraining(req, (progress) => port.postMessage({ type: 'progress', progress }));
  port.postMessage({ type: 'done', meta });
} catch (err) {
  port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err), name: err instanceof Error ? err.name : 'Error' });
}
