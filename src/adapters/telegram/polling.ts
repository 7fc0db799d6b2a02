import { setTimeout as sleep } from 'node:timers/promises';
import type { Telegram, Types } from 'telegraf';
import type { Update } from 'telegraf/types';
import { classify, describeError, type RetryPolicy } from './retry.js';

export interface LongPollOptions {
  allowedUpdates: Types.UpdateType[];
  /** getUpdates' long-poll timeout, seconds (Telegram holds the request up to this long) */
  timeoutS?: number;
  policy: RetryPolicy;
  /** masked out of every error text */
  token: string;
  /** getUpdates started failing (with why and when the next try is), or works again (undefined) */
  onFault(fault: { error: string; retryInMs: number } | undefined): void;
}

/**
 * Long polling, our own loop rather than telegraf's launch(): telegraf retries a failing
 * getUpdates quietly every 5 s (so the adapter looked connected through an outage) and sleeps
 * through stop(). Here a failure is reported at once (health, log), retried with backoff until
 * it works again, a stop aborts the poll or the wait in flight, and the offset of the updates
 * handled is confirmed to Telegram on the way out so they are not delivered again.
 * 401 (token revoked) and 409 (another poller or a webhook) end the loop with that error.
 */
/**
 * telegraf types its signal as the abort-controller shim's; node-fetch 2, which it calls, takes
 * the built-in AbortSignal (it checks the constructor's name), so only the declared type differs.
 */
type ShimSignal = NonNullable<Parameters<Telegram['callApi']>[2]>['signal'];
const asShim = (s: AbortSignal): ShimSignal => s as unknown as ShimSignal;

export class LongPoll {
  private readonly abort = new AbortController();
  private offset = 0;

  constructor(
    private readonly telegram: Telegram,
    private readonly handle: (update: Update) => Promise<void>,
    private readonly opts: LongPollOptions,
  ) {}

  async run(): Promise<void> {
    const { signal } = this.abort;
    let failures = 0;
    try {
      while (!signal.aborted) {
        let updates: Update[];
        try {
          updates = await this.telegram.callApi(
            'getUpdates',
            // after a failure, a poll that returns at once: recovery is known now, not when the next update comes
            { timeout: failures > 0 ? 0 : (this.opts.timeoutS ?? 50), offset: this.offset, allowed_updates: this.opts.allowedUpdates },
            { signal: asShim(signal) },
          );
        } catch (err) {
          if (signal.aborted) return;
          failures++;
          const v = classify(err, failures, this.opts.policy);
          if (!v.retry) throw err;
          this.opts.onFault({ error: describeError(err, this.opts.token), retryInMs: v.waitMs });
          await sleep(v.waitMs, undefined, { signal }).catch(() => undefined);
          continue;
        }
        if (failures > 0) {
          failures = 0;
          this.opts.onFault(undefined);
        }
        const last = updates.at(-1);
        if (last !== undefined) this.offset = last.update_id + 1;
        await Promise.all(updates.map((u) => this.handle(u)));
      }
    } finally {
      // confirm what was handled, so a restart does not get it again (the kernel's dedupe would
      // drop it anyway); best effort, bounded
      if (this.offset > 0) {
        await this.telegram.callApi('getUpdates', { offset: this.offset, limit: 1, timeout: 0 }, { signal: asShim(AbortSignal.timeout(2_000)) }).catch(() => undefined);
      }
    }
  }

  stop(): void {
    this.abort.abort();
  }
}
