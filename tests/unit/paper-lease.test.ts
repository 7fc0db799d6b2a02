import Keyv from 'keyv';
import { describe, expect, it } from 'vitest';
import { AccountLease } from '../../src/brokers/paper/lease.js';

/** The paper account's lease when several desks share one store: one holder at a time, lapsing if the holder died. */

describe('AccountLease', () => {
  it('holders take turns: the second starts only after the first has finished, and the lease is given back', async () => {
    const kv = new Keyv({ throwOnErrors: true });
    const a = new AccountLease(kv, { ttlMs: 10_000, waitMs: 10_000 });
    const b = new AccountLease(kv, { ttlMs: 10_000, waitMs: 10_000 });
    const log: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const first = a.hold(async () => {
      log.push('a in');
      await gate;
      log.push('a out');
    });
    await new Promise((r) => setTimeout(r, 20));
    const second = b.hold(async () => {
      log.push('b in');
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(log).toEqual(['a in']);
    release();
    await Promise.all([first, second]);
    expect(log).toEqual(['a in', 'a out', 'b in']);
    expect(await kv.get('lease')).toBeUndefined();
  });

  it('a lease left by a desk that died lapses after its TTL and is taken', async () => {
    const kv = new Keyv({ throwOnErrors: true });
    await kv.set('lease', 'token-of-a-dead-desk', 100);
    const lease = new AccountLease(kv, { ttlMs: 10_000, waitMs: 10_000 });
    expect(await lease.hold(async () => 'ran')).toBe('ran');
  });

  it('waiting longer than waitMs gives up with a clear error, and runs nothing', async () => {
    const kv = new Keyv({ throwOnErrors: true });
    await kv.set('lease', 'held-elsewhere', 60_000);
    const lease = new AccountLease(kv, { ttlMs: 10_000, waitMs: 50 });
    let ran = false;
    await expect(
      lease.hold(async () => {
        ran = true;
      }),
    ).rejects.toThrow('the paper account is busy: another desk has held it for over 50 ms');
    expect(ran).toBe(false);
    expect(await kv.get('lease')).toBe('held-elsewhere');
  });
});
