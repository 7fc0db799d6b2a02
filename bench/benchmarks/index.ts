import type { Benchmark } from '../lib.js';
import { adapters } from './adapters.js';
import { auditAppend } from './audit-append.js';
import { backtest } from './backtest.js';
import { dispatch } from './dispatch.js';
import { marketLive } from './market-live.js';
import { ml } from './ml.js';
import { orders } from './orders.js';
import { haltPropagation } from './halt-propagation.js';
import { soak } from './soak.js';
import { digest } from './digest.js';
import { replayLoad } from './replay-load.js';
import { scan } from './scan.js';
import { signal } from './signal.js';
import { whales } from './whales.js';

/** Every benchmark `npm run bench` knows, in the order they run; `npm run bench -- <name>` picks one. */
export const benchmarks: Benchmark[] = [dispatch, auditAppend, replayLoad, marketLive, signal, scan, whales, orders, haltPropagation, backtest, digest, soak, adapters, ml];
