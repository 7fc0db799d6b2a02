import type Keyv from 'keyv';
import { setIfAbsent } from '../kernel/store.js';
import type { KeyLocks } from './locks.js';

/**
 * Circuit breaker for the endpoint, in the store so every instance skips a failing endpoint.
 * Closed: calls go through; `failures` consecutive endpoint failures open it. Open: no request is
 * sent until `cooldownMs` has passed on the clock. Then one caller (across instances: whoever
 * wins an atomic set-if-absent) makes a trial call; success closes it, failure re-opens it.
 * Only endpoint failures count (timeouts, connection errors, HTTP errors, unreadable bodies); a
 * summary rejected by the output checks is the model's fault, not the endpoint's.
 */

interface State {
  failures: number;
  openedAt: number | null;
}

const KEY = 'breaker';

export type BreakerTicket = { trial: false } | { trial: true; release(): Promise<void> };

export class Breaker {
  constructor(
    private readonly kv: Keyv,
    private readonly opts: { failures: number; cooldownMs: number; trialTtlMs: number },
    private readonly locks: KeyLocks,
  ) {}

  private async state(): Promise<State> {
    return (await this.kv.get<State>(KEY)) ?? { failures: 0, openedAt: null };
  }

  /** a ticket to call the endpoint, or the reason not to */
  async acquire(now: number): Promise<BreakerTicket | { refused: string }> {
    const s = await this.state();
    if (s.openedAt === null) return { trial: false };
    const reopensAt = s.openedAt + this.opts.cooldownMs;
    if (now < reopensAt) return { refused: `circuit open after ${s.failures} endpoint failures; next try at ${new Date(reopensAt).toISOString()}` };
    // One trial per open period: the key names the period, so a new opening gets a new trial.
    const trialKey = `breaker-trial:${s.openedAt}`;
    if (!(await setIfAbsent(this.kv, trialKey, now, this.opts.trialTtlMs))) return { refused: 'circuit half-open: a trial call is in flight' };
    return { trial: true, release: async () => void (await this.kv.delete(trialKey)) };
  }

  async success(): Promise<void> {
    await this.locks.run(KEY, async () => {
      const s = await this.state();
      if (s.failures !== 0 || s.openedAt !== null) await this.kv.set(KEY, { failures: 0, openedAt: null });
    });
  }

  /** count a failure; true when this opened (or re-opened) the circuit */
  async failure(now: number): Promise<boolean> {
    return this.locks.run(KEY, async () => {
      const s = await this.state();
      const failures = s.failures + 1;
      const open = s.openedAt !== null || failures >= this.opts.failures;
      await this.kv.set(KEY, { failures, openedAt: open ? now : null });
      return open;
    });
  }

  async snapshot(): Promise<State> {
    return this.state();
  }
}
