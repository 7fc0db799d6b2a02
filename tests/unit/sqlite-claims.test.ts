import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import KeyvSqlite from '@keyv/sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteClaims, type SqliteQuery } from '../../src/kernel/sqlite-claims.js';

/**
 * The SQLite group commit behind setIfAbsent: the claims of one event-loop turn go out as one
 * statement, and each key is decided as a lone claim would be. A real SQLite file throughout.
 */

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function rig(): Promise<{ claims: SqliteClaims; db: KeyvSqlite; statements: string[]; failNext: () => void }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'deskbot-claims-'));
  const db = new KeyvSqlite({ uri: `sqlite://${path.join(dir, 'claims.sqlite')}`, table: 'keyv' });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => db.disconnect());
  const statements: string[] = [];
  let fail = false;
  const query: SqliteQuery = (sql, ...params) => {
    statements.push(sql);
    if (fail) {
      fail = false;
      return Promise.reject(new Error('SQLITE_BUSY: database is locked'));
    }
    return db.query(sql, ...params);
  };
  return { claims: new SqliteClaims(query, 'keyv'), db, statements, failNext: () => (fail = true) };
}

const envelope = (value: unknown, expires: number | undefined): string => JSON.stringify(expires === undefined ? { value } : { value, expires });

describe('SqliteClaims', () => {
  it('claims made in one turn are one statement; each key is won by its first claim only', async () => {
    const { claims, db, statements } = await rig();
    const future = Date.now() + 60_000;
    await db.set('held', envelope('old', future));
    await db.set('stale', envelope('old', Date.now() - 1_000));
    await db.set('kept', envelope('old', undefined));
    statements.length = 0;

    const keys = [...Array.from({ length: 150 }, (_, i) => `id-${i}`), 'id-7', 'id-7', 'id-99', 'held', 'stale', 'kept'];
    const results = await Promise.all(keys.map((k, i) => claims.claim(k, envelope(i, future))));

    expect(statements).toHaveLength(1);
    const byKey = (k: string): boolean[] => results.filter((_, i) => keys[i] === k);
    expect(byKey('id-0')).toEqual([true]);
    expect(byKey('id-7')).toEqual([true, false, false]);
    expect(byKey('id-99')).toEqual([true, false]);
    expect(byKey('held')).toEqual([false]); // not expired: stays
    expect(byKey('stale')).toEqual([true]); // expired: taken over
    expect(byKey('kept')).toEqual([false]); // no expiry at all: stays
    expect(results.filter(Boolean)).toHaveLength(151);
    expect(JSON.parse(String(await db.get('id-7')))).toEqual({ value: 7, expires: future });
    expect(JSON.parse(String(await db.get('stale')))).toEqual({ value: keys.indexOf('stale'), expires: future });
    expect(JSON.parse(String(await db.get('held')))).toEqual({ value: 'old', expires: future });
  });

  it('more claims than one statement holds are split, and still all decided', async () => {
    const { claims, statements } = await rig();
    const results = await Promise.all(Array.from({ length: 1_201 }, (_, i) => claims.claim(`k${i}`, envelope(i, Date.now() + 60_000))));
    expect(results.every(Boolean)).toBe(true);
    expect(statements).toHaveLength(3);
  });

  it('a failed statement rejects every claim of its batch, duplicates too; the next turn starts afresh', async () => {
    const { claims, failNext, db } = await rig();
    failNext();
    const outcomes = await Promise.allSettled([claims.claim('a', envelope(1, undefined)), claims.claim('a', envelope(2, undefined)), claims.claim('b', envelope(3, undefined))]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(await db.get('a')).toBeUndefined();
    expect(await Promise.all([claims.claim('a', envelope(4, undefined)), claims.claim('a', envelope(5, undefined))])).toEqual([true, false]);
  });
});
