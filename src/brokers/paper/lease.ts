import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type Keyv from 'keyv';
import { setIfAbsent } from '../../kernel/store.js';

export interface LeaseOptions {
  /** a holder that died frees the account after this long */
  ttlMs: number;
  /** give up waiting for the account after this long */
  waitMs: number;
}

export const DEFAULT_LEASE: LeaseOptions = { ttlMs: 30_000, waitMs: 30_000 };

/**
 * The paper account's lease in a store several desks share (Redis): one desk at a time moves its
 * money. Taken with the store's atomic "set if absent" (SET NX PX), given back only by its holder
 * (the token), and lapsing after `ttlMs` if the holder died. An operation longer than the TTL
 * could overlap the next holder's; a paper operation is a few store writes and a price read.
 */
export class AccountLease {
  constructor(
    private readonly kv: Keyv,
    private readonly o: LeaseOptions = DEFAULT_LEASE,
  ) {}

  async hold<T>(fn: () => Promise<T>): Promise<T> {
    const token = randomUUID();
    const deadline = Date.now() + this.o.waitMs;
    for (let pause = 2; !(await setIfAbsent(this.kv, 'lease', token, this.o.ttlMs)); pause = Math.min(pause * 2, 50)) {
      if (Date.now() >= deadline) throw new Error(`the paper account is busy: another desk has held it for over ${waited(this.o.waitMs)}`);
      await sleep(pause);
    }
    try {
      return await fn();
    } finally {
      // not atomic with the read, but a lease is only taken over after its TTL: the holder's own
      // token is what is there unless it overran
      if ((await this.kv.get('lease').catch(() => undefined)) === token) await this.kv.delete('lease').catch(() => undefined);
    }
  }
}

const waited = (ms: number): string => (ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`);
