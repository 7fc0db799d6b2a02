import type { EventEmitter } from 'node:events';

export interface WaitOptions {
  /** a generous cap, not a speed assertion */
  timeoutMs: number;
  /** also re-check this often, for state outside the fake (an adapter's health) */
  pollMs?: number;
  /** the rejection's message once the cap is reached */
  timeoutMessage: () => string;
}

/**
 * What every fake's waitFor does: resolve with `probe()`'s first value that is not undefined,
 * null or false, checked now and on each 'change' the fake emits (every call the bot makes);
 * a probe that throws rejects with its error.
 */
export function waitForChange<T>(events: EventEmitter, probe: () => T | undefined | null | false, o: WaitOptions): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const finish = (): void => {
      clearTimeout(timer);
      if (poll !== undefined) clearInterval(poll);
      events.off('change', check);
    };
    const check = (): void => {
      let v: T | undefined | null | false;
      try {
        v = probe();
      } catch (e) {
        finish();
        reject(e);
        return;
      }
      if (v !== undefined && v !== null && v !== false) {
        finish();
        resolve(v);
      }
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(o.timeoutMessage()));
    }, o.timeoutMs);
    const poll = o.pollMs === undefined ? undefined : setInterval(check, o.pollMs);
    events.on('change', check);
    check();
  });
}
