/**
 * Read-modify-write on a Keyv key, serialised per key within this process. Keyv has no atomic
 * increment, so across instances (Redis) two concurrent updates can still interleave: budgets
 * and rate limits may then overshoot by the calls in flight at that moment, never by more.
 */
export class KeyLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    // Forget settled chains so the map does not grow with every person and day.
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
