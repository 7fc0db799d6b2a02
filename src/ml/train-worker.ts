/**
 * The training worker's entry (node:worker_threads): receives one TrainRequest as workerData,
 * posts { type: 'progress' } messages while it trains, then { type: 'done', meta } or
 * { type: 'error', message }, and ends. Started by worker-host.ts. Its randomness is seeded
 * (settings.seed), so a training can be repeated exactly.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { seededRandom } from './seeded-random.js';
import { runTraining, type TrainRequest } from './train.js';

const port = parentPort;
if (port === null) throw new Error('train-worker.ts runs as a worker thread (see worker-host.ts)');
const req = workerData as TrainRequest;
// this thread only trains: its Math.random (TensorFlow.js's source of randomness) is the seed's
Math.random = seededRandom(req.settings.seed);

try {
  const meta = await runTraining(req, (progress) => port.postMessage({ type: 'progress', progress }));
  port.postMessage({ type: 'done', meta });
} catch (err) {
  port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err), name: err instanceof Error ? err.name : 'Error' });
}
