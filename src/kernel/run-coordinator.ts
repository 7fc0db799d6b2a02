import type Keyv from 'keyv';
import type { RunCoordinator } from 'node-cron';
import { setIfAbsent } from './store.js';

/**
 * node-cron's run coordinator over the kernel store: the first instance to claim a fire slot
 * (`<task name>:<slot time>`) runs it. On Redis the claim is one `SET NX PX`, so each schedule
 * fires once across instances; node-cron skips the fire (fail-closed) when the store errors.
 */
export function storeRunCoordinator(kv: Keyv, instance: string): RunCoordinator {
  return {
    // keep the claim at least a minute so a slow instance cannot re-claim a slot another ran
    shouldRun: (key, ttlMs) => setIfAbsent(kv, key, instance, Math.max(ttlMs, 60_000)),
  };
}
