import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import { afterEach, describe, expect, it } from 'vitest';
import { isStoreUnavailable, redisUnavailable, sqliteUnavailable, StoreUnavailableError, typedAdapter, typedStoreError } from '../../src/kernel/store-errors.js';

/** How the store's failures get their type: by SQLite result code, by Redis client error class, through Keyv. */

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const withCode = (message: string, code: string): Error => Object.assign(new Error(message), { code });

describe('store errors', () => {
  it('SQLite: a locked, unreadable or closed file is unavailable; a wrong statement is not', () => {
    expect(sqliteUnavailable(withCode('SQLITE_BUSY: database is locked', 'SQLITE_BUSY'))).toBe(true);
    expect(sqliteUnavailable(withCode('SQLITE_IOERR: disk I/O error', 'SQLITE_IOERR'))).toBe(true);
    expect(sqliteUnavailable(withCode('SQLITE_MISUSE: Database is closed', 'SQLITE_MISUSE'))).toBe(true);
    expect(sqliteUnavailable(withCode('SQLITE_ERROR: no such table: keyv', 'SQLITE_ERROR'))).toBe(false);
    expect(sqliteUnavailable(withCode('SQLITE_CONSTRAINT: UNIQUE constraint failed', 'SQLITE_CONSTRAINT'))).toBe(false);
    expect(sqliteUnavailable(new Error('SQLITE_BUSY in the text only'))).toBe(false);
  });

  it('Redis: the client offline or closed, a refused socket, a loading server are unavailable; a command error is not', () => {
    class ClientOfflineError extends Error {}
    class ClientClosedError extends Error {}
    expect(redisUnavailable(new ClientOfflineError('The client is offline'))).toBe(true);
    expect(redisUnavailable(new ClientClosedError('The client is closed'))).toBe(true);
    expect(redisUnavailable(withCode('connect ECONNREFUSED 127.0.0.1:6390', 'ECONNREFUSED'))).toBe(true);
    expect(redisUnavailable(new Error('LOADING Redis is loading the dataset in memory'))).toBe(true);
    expect(redisUnavailable(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe(false);
  });

  it('typed errors keep the original as cause; isStoreUnavailable looks through causes', () => {
    const busy = withCode('SQLITE_BUSY: database is locked', 'SQLITE_BUSY');
    const typed = typedStoreError(busy, sqliteUnavailable, 'sqlite store (dedupe)');
    expect(typed).toBeInstanceOf(StoreUnavailableError);
    expect((typed as Error).message).toBe('sqlite store (dedupe): SQLITE_BUSY: database is locked');
    expect((typed as Error).cause).toBe(busy);
    const wrapped = new Error('could not record the order', { cause: typed });
    expect(isStoreUnavailable(wrapped)).toBe(true);
    const syntax = withCode('SQLITE_ERROR: near "SELEC"', 'SQLITE_ERROR');
    expect(typedStoreError(syntax, sqliteUnavailable, 'x')).toBe(syntax);
    expect(isStoreUnavailable(syntax)).toBe(false);
  });

  it('a Keyv over a typed adapter rejects with StoreUnavailableError when its SQLite connection is gone', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'deskbot-store-errors-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const adapter = new KeyvSqlite({ uri: `sqlite://${path.join(dir, 'x.sqlite')}`, table: 'keyv' });
    const kv = new Keyv({ store: typedAdapter(adapter, sqliteUnavailable, 'sqlite store (test)'), namespace: 'test', throwOnErrors: true });
    await kv.set('a', 1);
    expect(await kv.get('a')).toBe(1);
    await adapter.disconnect();
    const err: unknown = await kv.get('a').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toMatch(/^sqlite store \(test\): SQLITE_MISUSE/);
  });
});
