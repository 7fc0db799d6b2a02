import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Keyv, { type KeyvStoreAdapter } from 'keyv';
import KeyvSqlite from '@keyv/sqlite';
import KeyvRedis, { createClient, type RedisClientType } from '@keyv/redis';
import { SqliteClaims } from './sqlite-claims.js';
import { redisUnavailable, sqliteUnavailable, StoreUnavailableError, typedAdapter, typedStoreError } from './store-errors.js';

export { isStoreUnavailable, StoreUnavailableError } from './store-errors.js';

/**
 * The kernel store: one Keyv per namespace on SQLite (embedded default), Redis (shared across
 * instances) or memory (tests, benchmarks).
 *
 * Namespaces: in keyv 5 the namespace lives on the storage adapter (Keyv writes
 * `store.namespace = ...` when constructed), so Keyv instances sharing one adapter would overwrite
 * each other's namespace and `clear()` on one would wipe another. Every namespace therefore gets
 * its own adapter: its own Map (memory), its own KeyvSqlite (sqlite; one connection each to the
 * same file) or its own KeyvRedis wrapping one shared, already-connected Redis client (redis).
 */

export type StoreKind = 'sqlite' | 'redis' | 'memory';

export interface KernelStore {
  readonly kind: StoreKind;
  /** one Keyv per namespace (per plugin, plus kernel namespaces like 'kernel', 'dedupe', 'halt'); the same name returns the same instance */
  namespace(name: string): Keyv;
  /** short human description for /status, e.g. "sqlite (data/deskbot.sqlite)" or "redis (redis://127.0.0.1:6390)" — never include a password */
  describe(): string;
  /**
   * Drop entries whose TTL has passed; returns how many went. Redis expires keys itself (0);
   * SQLite and memory only drop an expired entry when it is read, so write-once keys (dedupe ids)
   * would pile up without this. Also runs on an unref'd timer while the store is open.
   */
  sweepExpired(): Promise<number>;
  /** messages between the instances sharing this store (Redis pub/sub; in-process for SQLite and memory) */
  readonly broadcast: Broadcast;
  close(): Promise<void>;
}

/** Fire-and-forget messages to every instance on the same store, this one included. */
export interface Broadcast {
  publish(topic: string, message: string): Promise<void>;
  /** resolves once subscribed; the returned function unsubscribes */
  subscribe(topic: string, fn: (message: string) => void): Promise<() => Promise<void>>;
}

/** one process: an event emitter is the whole bus */
function localBroadcast(): Broadcast {
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  return {
    async publish(topic, message) {
      bus.emit(topic, message);
    },
    async subscribe(topic, fn) {
      bus.on(topic, fn);
      return async () => {
        bus.off(topic, fn);
      };
    },
  };
}

export interface OpenStoreOptions {
  kind: StoreKind;
  dataDir: string;
  sqliteFile: string;
  redisUrl: string | null;
  /** prefixes every Redis key so two deployments on one Redis don't collide (ignored by sqlite/memory) */
  keyPrefix: string;
  /** bound on connecting to Redis (connect + first PING); default 5000 ms */
  connectTimeoutMs?: number;
  /** background errors (Redis reconnects, sweep failures); operations themselves throw */
  onError?: (err: Error) => void;
  /** how often the background sweep runs; default 1 h; 0 disables it */
  sweepIntervalMs?: number;
  /** SQLite: how often the WAL is checkpointed into the database file; default 1 s */
  checkpointIntervalMs?: number;
}

/** lower-case, digits, '.', '-': no SQL LIKE wildcards ('_', '%'), no Redis glob characters, no ':' separators */
const NAMESPACE_RE = /^[a-z][a-z0-9.-]{0,63}$/;
const KEY_PREFIX_RE = /^[A-Za-z0-9._-]{0,64}$/;
const SQLITE_TABLE = 'keyv';
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
/** how often the SQLite WAL is checkpointed into the file (the namespaces' connections never do it) */
const DEFAULT_CHECKPOINT_INTERVAL_MS = 1000;
const DEFAULT_SWEEP_INTERVAL_MS = 60 * 60 * 1000;


/** atomic "set if absent" for Keyvs whose backend can do it natively (Redis SET NX PX) */
type AtomicSetIfAbsent = (key: string, serialized: string, ttlMs: number) => Promise<boolean>;
const atomicSetters = new WeakMap<Keyv, AtomicSetIfAbsent>();
/** in-process lock per Keyv for backends without an atomic primitive */
const locks = new WeakMap<Keyv, Promise<unknown>>();

export async function openStore(opts: OpenStoreOptions): Promise<KernelStore> {
  switch (opts.kind) {
    case 'memory':
      return openMemory(opts);
    case 'sqlite':
      return openSqlite(opts);
    case 'redis':
      return openRedis(opts);
    default: {
      const never: never = opts.kind;
      throw new Error(`unknown store.kind "${String(never)}" (expected sqlite, redis or memory)`);
    }
  }
}

/**
 * Set `key` to `value` with a TTL only if it is absent (or expired); true if this call set it.
 * Atomic across instances on Redis (SET NX PX on the namespace's own client) and on SQLite (an
 * INSERT … ON CONFLICT DO UPDATE … WHERE expired statement, one per event-loop turn for all the
 * turn's claims: src/kernel/sqlite-claims.ts); on memory it is atomic within this process (a
 * per-namespace lock), which is all that kind serves.
 */
export async function setIfAbsent(kv: Keyv, key: string, value: unknown, ttlMs: number): Promise<boolean> {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new Error(`setIfAbsent: ttlMs must be > 0 (got ${ttlMs})`);
  // Keyv reads a stored undefined back as "absent", which would let every caller win.
  if (value === undefined) throw new Error('setIfAbsent: value must not be undefined');
  const atomic = atomicSetters.get(kv);
  if (atomic) {
    // Same envelope Keyv writes, so kv.get(key) reads it back like any other entry.
    const serialized = await kv.serializeData({ value, expires: Date.now() + ttlMs });
    if (typeof serialized !== 'string') throw new Error('setIfAbsent: Keyv serializer did not produce a string');
    return atomic(key, serialized, ttlMs);
  }
  return withLock(kv, async () => {
    if ((await kv.get(key)) !== undefined) return false;
    await kv.set(key, value, ttlMs);
    return true;
  });
}

async function withLock<T>(kv: Keyv, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(kv) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  // The chain must survive a failed step, so store a never-rejecting tail.
  locks.set(kv, run.catch(() => undefined));
  return run;
}

function checkNamespace(name: string): void {
  if (!NAMESPACE_RE.test(name)) {
    throw new Error(`invalid store namespace "${name}": use lower-case letters, digits, '.' or '-', starting with a letter`);
  }
}

/** shared bookkeeping: one Keyv per name, closed flag, background sweep timer */
function makeStore(
  kind: StoreKind,
  description: string,
  create: (name: string) => Keyv,
  sweep: (spaces: ReadonlyMap<string, Keyv>) => Promise<number>,
  shutdown: (spaces: ReadonlyMap<string, Keyv>) => Promise<void>,
  opts: OpenStoreOptions,
  broadcast: Broadcast = localBroadcast(),
): KernelStore {
  const spaces = new Map<string, Keyv>();
  let closed = false;
  const interval = opts.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
  const timer =
    interval > 0
      ? setInterval(() => {
          sweep(spaces).catch((err: unknown) => opts.onError?.(toError(err)));
        }, interval)
      : undefined;
  timer?.unref(); // housekeeping must never keep the process alive
  return {
    kind,
    namespace(name: string): Keyv {
      if (closed) throw new StoreUnavailableError(`store is closed (namespace "${name}" requested)`);
      checkNamespace(name);
      let kv = spaces.get(name);
      if (!kv) {
        kv = create(name);
        spaces.set(name, kv);
      }
      return kv;
    },
    describe: () => description,
    broadcast,
    sweepExpired: () => (closed ? Promise.resolve(0) : sweep(spaces)),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      // Keyvs handed out earlier must fail loudly now, not hit a closed SQLite handle or let
      // @keyv/redis quietly reconnect the client we just closed.
      for (const [name, kv] of spaces) kv.store = closedAdapter(name);
      await shutdown(spaces);
    },
  };
}

/** stands in for a namespace's adapter after close(): every operation throws */
function closedAdapter(name: string): KeyvStoreAdapter {
  const fail = async (): Promise<never> => {
    throw new StoreUnavailableError(`store is closed (namespace "${name}" used after close)`);
  };
  const adapter: KeyvStoreAdapter = {
    opts: {},
    get: fail,
    set: fail,
    delete: fail,
    clear: fail,
    on: () => adapter,
  };
  return adapter;
}

// ---------------------------------------------------------------- memory

function openMemory(opts: OpenStoreOptions): KernelStore {
  const maps = new Map<string, Map<string, unknown>>();
  return makeStore(
    'memory',
    'memory',
    (name) => {
      const map = new Map<string, unknown>();
      maps.set(name, map);
      return new Keyv({ store: map, namespace: name, throwOnErrors: true });
    },
    async () => {
      const now = Date.now();
      let removed = 0;
      for (const map of maps.values()) {
        for (const [key, raw] of map) {
          const expires = typeof raw === 'string' ? expiresOf(raw) : undefined;
          if (expires !== undefined && expires < now) {
            map.delete(key);
            removed += 1;
          }
        }
      }
      return removed;
    },
    async () => {
      maps.clear();
    },
    opts,
  );
}

/** the `expires` field of Keyv's JSON envelope `{"value":…,"expires":…}`, if any */
function expiresOf(raw: string): number | undefined {
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed !== null && typeof parsed === 'object' && 'expires' in parsed) {
      const { expires } = parsed;
      return typeof expires === 'number' ? expires : undefined;
    }
  } catch {
    // not an envelope we wrote; leave it alone
  }
  return undefined;
}

// ---------------------------------------------------------------- sqlite

async function openSqlite(opts: OpenStoreOptions): Promise<KernelStore> {
  mkdirSync(opts.dataDir, { recursive: true });
  const file = path.join(opts.dataDir, opts.sqliteFile);
  const adapters = new Map<string, KeyvSqlite>();
  const newAdapter = (): KeyvSqlite =>
    // busyTimeout: each namespace has its own connection to the same file, so writers can briefly contend.
    new KeyvSqlite({ uri: `sqlite://${file}`, table: SQLITE_TABLE, busyTimeout: 5000 });

  // Open one connection up front so a bad path fails here, not on the first command; WAL lets the
  // per-namespace connections read while another writes. The pragma persists in the file.
  const admin = newAdapter();
  try {
    await admin.query('PRAGMA journal_mode=WAL');
  } catch (err) {
    await admin.disconnect().catch(() => undefined);
    throw new Error(`cannot open sqlite store at ${file}: ${toError(err).message}`);
  }

  const sweep = async (): Promise<number> => {
    // Keyv keeps `expires` inside the JSON value; a row past it is dead weight.
    const rows: unknown = await admin.query(
      `DELETE FROM ${SQLITE_TABLE} WHERE json_valid(value) AND json_extract(value, '$.expires') < ? RETURNING key`,
      Date.now(),
    );
    return Array.isArray(rows) ? rows.length : 0;
  };

  // PASSIVE: copies what it can without waiting for, or blocking, the namespaces' readers and writers
  const checkpoint = (mode: 'PASSIVE' | 'TRUNCATE'): Promise<unknown> => admin.query(`PRAGMA wal_checkpoint(${mode})`);
  const checkpoints = setInterval(() => {
    checkpoint('PASSIVE').catch((err: unknown) => opts.onError?.(toError(err)));
  }, opts.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS);
  checkpoints.unref();

  const store = makeStore(
    'sqlite',
    `sqlite (${file})`,
    (name) => {
      const adapter = newAdapter();
      // synchronous=NORMAL is per connection: in WAL mode it cannot corrupt the file, and a power
      // cut loses at most the last commits instead of paying an fsync on every write (dedupe ids
      // are written per message). Errors surface on the connection's next query anyway.
      adapter.query('PRAGMA synchronous=NORMAL').catch(() => undefined);
      // the admin connection checkpoints on a timer (below): a namespace's commit never pays for
      // copying the WAL back and syncing the file, which held up every claim of its batch
      adapter.query('PRAGMA wal_autocheckpoint=0').catch(() => undefined);
      adapters.set(name, adapter);
      // Keyv prefixes keys with "name:" and sets adapter.namespace, which scopes clear() to that prefix.
      const where = `sqlite store (${name})`;
      const kv = new Keyv({ store: typedAdapter(adapter, sqliteUnavailable, where), namespace: name, throwOnErrors: true });
      // One statement for all the claims of an event-loop turn instead of get + set under a lock
      // per claim: a dedupe claim per message no longer costs its own round trip to the
      // connection. A row whose Keyv envelope has expired is taken over, as kv.get would treat
      // it as absent.
      const claims = new SqliteClaims(
        (sql, ...params) =>
          adapter.query(sql, ...params).catch((err: unknown) => {
            throw typedStoreError(err, sqliteUnavailable, where);
          }),
        SQLITE_TABLE,
      );
      atomicSetters.set(kv, (key, serialized) => claims.claim(key.startsWith(`${name}:`) ? key : `${name}:${key}`, serialized));
      return kv;
    },
    sweep,
    async () => {
      clearInterval(checkpoints);
      const spaces = [...adapters.values()];
      adapters.clear();
      await Promise.all(spaces.map((a) => a.disconnect()));
      // leave the file whole and the WAL empty: a copy of data/ is then a copy of the desk
      await checkpoint('TRUNCATE').catch((err: unknown) => opts.onError?.(toError(err)));
      await admin.disconnect();
    },
    opts,
  );
  await sweep().catch((err: unknown) => opts.onError?.(toError(err)));
  return store;
}

// ---------------------------------------------------------------- redis

/** the URL without username/password, for messages and /status */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '<unparseable redis url>';
  }
}

async function openRedis(opts: OpenStoreOptions): Promise<KernelStore> {
  if (!opts.redisUrl) throw new Error('store.kind is redis but no REDIS_URL / redis.url is set');
  if (!KEY_PREFIX_RE.test(opts.keyPrefix)) {
    throw new Error(`invalid redis.keyPrefix "${opts.keyPrefix}": use letters, digits, '.', '_' or '-' (at most 64)`);
  }
  const shown = redactRedisUrl(opts.redisUrl);
  const client = await connectRedis(opts.redisUrl, shown, opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  client.on('error', (err: unknown) => opts.onError?.(toError(err)));

  const prefix = opts.keyPrefix === '' ? '' : `${opts.keyPrefix}:`;
  // a subscribed node-redis client can do nothing else: subscriptions get their own connection
  let subscriber: Promise<RedisClientType> | undefined;
  const broadcast: Broadcast = {
    async publish(topic, message) {
      await client.publish(`${prefix}${topic}`, message);
    },
    async subscribe(topic, fn) {
      subscriber ??= (async () => {
        const sub = client.duplicate();
        sub.on('error', (err: unknown) => opts.onError?.(toError(err)));
        await sub.connect();
        return sub as RedisClientType;
      })();
      const sub = await subscriber;
      const channel = `${prefix}${topic}`;
      const listener = (message: string): void => fn(message);
      await sub.subscribe(channel, listener);
      return async () => {
        if (sub.isOpen) await sub.unsubscribe(channel, listener);
      };
    },
  };
  return makeStore(
    'redis',
    `redis (${shown})`,
    (name) => {
      const adapter = new KeyvRedis<string>(client, {
        namespace: `${prefix}${name}`,
        throwOnErrors: true,
        throwOnConnectError: true,
      });
      // Each adapter subscribes to the shared client's events; raise the leak-warning bar per namespace.
      client.setMaxListeners(client.getMaxListeners() + 1);
      // The adapter prefixes keys ("deskbot:dedupe::id"), so Keyv must not prefix again.
      const where = `redis store (${name})`;
      const kv = new Keyv({ store: typedAdapter(adapter, redisUnavailable, where), namespace: `${prefix}${name}`, useKeyPrefix: false, throwOnErrors: true });
      atomicSetters.set(kv, async (key, serialized, ttlMs) => {
        try {
          const reply = await client.set(adapter.createKeyPrefix(key, adapter.namespace), serialized, {
            condition: 'NX',
            expiration: { type: 'PX', value: Math.ceil(ttlMs) },
          });
          return reply === 'OK';
        } catch (err) {
          throw typedStoreError(err, redisUnavailable, where);
        }
      });
      return kv;
    },
    async () => 0, // Redis expires keys itself
    async () => {
      const sub = await subscriber?.catch(() => undefined);
      if (sub?.isOpen) await sub.close();
      if (client.isOpen) await client.close();
    },
    opts,
    broadcast,
  );
}

/** connect and PING within `timeoutMs`, or fail with one line naming the (redacted) URL */
async function connectRedis(url: string, shown: string, timeoutMs: number): Promise<RedisClientType> {
  let everReady = false;
  const client = createClient({
    url,
    // Fail fast rather than queue commands forever while Redis is away.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: timeoutMs,
      // Before the first success a failure is final (open must fail fast); afterwards back off and retry.
      reconnectStrategy: (retries: number) => (everReady ? Math.min(2 ** retries * 100, 2000) : false),
    },
  });
  let lastError: Error | undefined;
  const onError = (err: unknown): void => {
    lastError = toError(err);
  };
  client.on('error', onError); // without a listener an 'error' event would crash the process
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([
      (async () => {
        await client.connect();
        await client.ping();
      })(),
      timeout,
    ]);
    everReady = true;
    return client;
  } catch (err) {
    if (client.isOpen) client.destroy();
    const cause = lastError && lastError !== err ? `${toError(err).message}; ${lastError.message}` : toError(err).message;
    throw new Error(`cannot reach Redis at ${shown}: ${oneLine(cause)}`);
  } finally {
    clearTimeout(timer);
    client.off('error', onError);
  }
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
