import type { Update } from 'telegraf/types';

interface Queued {
  update: Update;
  /** a redelivery injected by a test: handed out once more even though already confirmed */
  forced: boolean;
}

/**
 * getUpdates as Telegram serves it: updates wait until the bot confirms them by asking with a
 * higher offset (then they are gone for good); a long poll is held until an update comes or its
 * timeout passes; the request going away releases it.
 */
export class UpdateQueue {
  private queue: Queued[] = [];
  private readonly all = new Map<number, Update>();
  private readonly waiters = new Set<() => void>();
  private nextId = 700_000_001;
  /** the highest update_id the bot has confirmed */
  confirmed = 0;

  /** a new update with the next update_id, remembered (for redelivery) but not queued */
  create(make: (updateId: number) => Update): Update {
    const update = make(this.nextId++);
    this.all.set(update.update_id, update);
    return update;
  }

  add(update: Update): void {
    this.queue.push({ update, forced: false });
    this.wake();
  }

  get(updateId: number): Update | undefined {
    return this.all.get(updateId);
  }

  /** Telegram delivering an update a second time (at-least-once delivery). */
  redeliver(updateId: number): void {
    const update = this.all.get(updateId);
    if (update === undefined) throw new Error(`no update ${updateId} to redeliver`);
    this.queue.push({ update, forced: true });
    this.wake();
  }

  clear(): void {
    this.queue = [];
  }

  pending(): number {
    return this.queue.length;
  }

  async take(offset: number, limit: number, timeoutS: number, gone: AbortSignal): Promise<Update[]> {
    if (offset > 0) {
      this.confirmed = Math.max(this.confirmed, offset - 1);
      this.queue = this.queue.filter((q) => q.forced || q.update.update_id >= offset);
    }
    if (this.ready(offset).length === 0 && timeoutS > 0 && !gone.aborted) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.waiters.delete(done);
          gone.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, timeoutS * 1000);
        this.waiters.add(done);
        gone.addEventListener('abort', done);
      });
    }
    if (gone.aborted) return [];
    const out = this.ready(offset).slice(0, Math.max(1, Math.min(100, limit)));
    // a forced redelivery is handed out once; ordinary updates stay until confirmed
    this.queue = this.queue.filter((q) => !(q.forced && out.includes(q.update)));
    return out.map((u) => u);
  }

  /** end every held long poll (server closing) */
  releaseAll(): void {
    this.wake();
  }

  private ready(offset: number): Update[] {
    const forced = this.queue.filter((q) => q.forced).map((q) => q.update);
    const fresh = this.queue.filter((q) => !q.forced && q.update.update_id >= offset).map((q) => q.update);
    return [...forced, ...fresh];
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
