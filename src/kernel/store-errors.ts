/**
 * The store's failures, typed where they arise: a storage adapter's error that means "the store
 * cannot be used right now" (closed, Redis unreachable, SQLite locked or failing I/O) becomes a
 * StoreUnavailableError with the original as its cause, so callers (the dispatcher telling a
 * person "nothing was done") test a type, not an error text.
 */

export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}

/** true if `err`, or an error in its `cause` chain, is a StoreUnavailableError */
export function isStoreUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof StoreUnavailableError) return true;
  }
  return false;
}

/** SQLite result codes that mean the file cannot be used now, not that the statement was wrong */
const SQLITE_UNAVAILABLE = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_CANTOPEN', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_MISUSE']);

export function sqliteUnavailable(err: unknown): boolean {
  // node-sqlite3 sets the result code; MISUSE is what a closed handle answers
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && SQLITE_UNAVAILABLE.has(code);
}

/** errors of the Redis client (node-redis names them by class only) and of its socket */
const REDIS_CLIENT_ERRORS = new Set([
  'ClientClosedError',
  'ClientOfflineError',
  'SocketClosedUnexpectedlyError',
  'ConnectionTimeoutError',
  'SocketTimeoutError',
  'ReconnectStrategyError',
  'DisconnectsClientError',
  'TimeoutError',
]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** server replies that mean "not now": still loading, a read-only replica, a failover */
const REDIS_BUSY_REPLY = /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN)\b/;

export function redisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (REDIS_CLIENT_ERRORS.has(err.constructor.name)) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  return REDIS_BUSY_REPLY.test(err.message);
}

/** `err` as a StoreUnavailableError when `unavailable` says so, else unchanged */
export function typedStoreError(err: unknown, unavailable: (err: unknown) => boolean, where: string): unknown {
  if (err instanceof StoreUnavailableError || !unavailable(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new StoreUnavailableError(`${where}: ${message}`, { cause: err });
}

/**
 * The storage adapter with every promise it returns rejecting typed (see typedStoreError).
 * Keyv rethrows its adapter's errors as they are (throwOnErrors), so this is where a Keyv's
 * failures get their type; everything else about the adapter is untouched.
 */
export function typedAdapter<T extends object>(adapter: T, unavailable: (err: unknown) => boolean, where: string): T {
  return new Proxy(adapter, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return function (this: unknown, ...args: unknown[]): unknown {
        const out: unknown = Reflect.apply(value, this === receiver ? target : this, args);
        if (out instanceof Promise) {
          return out.catch((err: unknown) => {
            throw typedStoreError(err, unavailable, where);
          });
        }
        return out;
      };
    },
  });
}
