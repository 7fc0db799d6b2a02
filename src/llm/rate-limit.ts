import type Keyv from 'keyv';
import type { KeyLocks } from './locks.js';

/**
 * Per-person calls per rolling minute: the times of the person's recent calls live in the store
 * (rate:<id>), so the limit holds across instances. Only calls that go to the endpoint count.
 */
const WINDOW_MS = 60_000;

export class RateLimiter {
  constructor(
    private readonly kv: Keyv,
    private readonly perMinute: number,
    private readonly locks: KeyLocks,
  ) {}

  /** take a slot for `person` at `now`; false when the last minute is full (0 = no limit) */
  async tryAcquire(person: string, now: number): Promise<boolean> {
    if (this.perMinute === 0) return true;
    const key = `rate:${encodeURIComponent(person)}`;
    return this.locks.run(key, async () => {
      const recent = ((await this.kv.get<number[]>(key)) ?? []).filter((t) => t > now - WINDOW_MS);
      if (recent.length >= this.perMinute) return false;
      recent.push(now);
      await this.kv.set(key, recent, 2 * WINDOW_MS);
      return true;
    });
  }
}
