import { existsSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { createClient } from '@keyv/redis';
import { describe, expect, it, vi } from 'vitest';
import { openStore, redactRedisUrl, setIfAbsent, StoreUnavailableError, type StoreKind } from '../../src/kernel/store.js';
import { requireRedisUrl } from '../setup/redis-url.js';
import { storeFixtures } from '../helpers/stores.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const { tempDir, open, cleanups } = storeFixtures('store');

/** a port nothing listens on */
async function deadPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 1));
    });
  });
}

describe.each<StoreKind>(['memory', 'sqlite', 'redis'])('%s store', (kind) => {
  it('reports its kind and returns the same Keyv for the same namespace', async () => {
    const store = await open(kind);
    expect(store.kind).toBe(kind);
    expect(store.namespace('signals')).toBe(store.namespace('signals'));
    expect(store.namespace('signals')).not.toBe(store.namespace('whales'));
  });

  it('keeps namespaces apart: same key, two values; clear() on one leaves the other', async () => {
    const store = await open(kind);
    const a = store.namespace('alpha');
    const b = store.namespace('beta');
    await a.set('k', 'from-alpha');
    await b.set('k', { from: 'beta', n: 2 });
    await a.set('only-a', 1);
    expect(await a.get('k')).toBe('from-alpha');
    expect(await b.get('k')).toEqual({ from: 'beta', n: 2 });
    expect(await b.get('only-a')).toBeUndefined();

    await a.clear();
    expect(await a.get('k')).toBeUndefined();
    expect(await a.get('only-a')).toBeUndefined();
    expect(await b.get('k')).toEqual({ from: 'beta', n: 2 });

    // a namespace created after the others must not re-scope them (keyv 5 keeps the namespace on the adapter)
    const c = store.namespace('gamma');
    await c.clear();
    expect(await b.get('k')).toEqual({ from: 'beta', n: 2 });
  });

  it('expires entries by TTL and keeps entries without one', async () => {
    const store = await open(kind);
    const kv = store.namespace('ttl');
    await kv.set('short', 'x', 50);
    await kv.set('long', 'y', 60_000);
    await kv.set('forever', 'z');
    await sleep(150);
    expect(await kv.get('short')).toBeUndefined();
    expect(await kv.get('long')).toBe('y');
    expect(await kv.get('forever')).toBe('z');
  });

  it('sweepExpired() drops expired entries and nothing else', async () => {
    const store = await open(kind);
    const kv = store.namespace('sweep');
    await kv.set('short-1', 1, 30);
    await kv.set('short-2', 2, 30);
    await kv.set('long', 3, 60_000);
    await sleep(100);
    const removed = await store.sweepExpired();
    // Redis drops expired keys itself, so there is nothing left to sweep
    expect(removed).toBe(kind === 'redis' ? 0 : 2);
    expect(await kv.get('long')).toBe(3);
  });

  it('setIfAbsent() sets once, even under concurrent callers, and the value reads back', async () => {
    const store = await open(kind);
    const kv = store.namespace('once');
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => setIfAbsent(kv, 'key', i, 60_000)));
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results.indexOf(true);
    expect(await kv.get('key')).toBe(winner);
    expect(await setIfAbsent(kv, 'key', 'again', 60_000)).toBe(false);
  });

  it('setIfAbsent() sets again once the previous entry expired', async () => {
    const store = await open(kind);
    const kv = store.namespace('once');
    expect(await setIfAbsent(kv, 'key', 1, 50)).toBe(true);
    await sleep(150);
    expect(await setIfAbsent(kv, 'key', 2, 60_000)).toBe(true);
    expect(await kv.get('key')).toBe(2);
  });

  it('setIfAbsent() keeps an entry that never expires, and looks only in its own namespace', async () => {
    const store = await open(kind);
    const kv = store.namespace('once');
    await kv.set('forever', 'first');
    expect(await setIfAbsent(kv, 'forever', 'second', 60_000)).toBe(false);
    expect(await kv.get('forever')).toBe('first');
    await store.namespace('other').set('shared-name', 'elsewhere');
    expect(await setIfAbsent(kv, 'shared-name', 'here', 60_000)).toBe(true);
    expect(await kv.get('shared-name')).toBe('here');
    expect(await store.namespace('other').get('shared-name')).toBe('elsewhere');
  });

  it('rejects namespace names that could alias others', async () => {
    const store = await open(kind);
    for (const bad of ['', 'Signals', 'a_b', 'a%', 'a:b', 'a*', '1abc']) {
      expect(() => store.namespace(bad), bad).toThrow(/invalid store namespace/);
    }
  });

  it('refuses namespaces, and use of earlier Keyvs, after close()', async () => {
    const store = await open(kind);
    const kv = store.namespace('kernel');
    await kv.set('k', 1);
    await store.close();
    expect(() => store.namespace('kernel')).toThrow(/store is closed/);
    // a Keyv handed out before close fails loudly instead of reconnecting or hitting a closed handle
    await expect(kv.get('k')).rejects.toThrow(/store is closed/);
    await expect(kv.set('k', 2)).rejects.toThrow(/store is closed/);
    // typed, so the dispatcher can tell the person "nothing was done" rather than "internal error"
    await expect(kv.get('k')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(setIfAbsent(kv, 'claim', 1, 60_000)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(() => store.namespace('kernel')).toThrow(StoreUnavailableError);
    await store.close(); // idempotent
  });
});

describe('sqlite store', () => {
  it('creates the data dir and describes itself by file', async () => {
    const dataDir = path.join(tempDir(), 'nested', 'data');
    const store = await open('sqlite', { dataDir });
    expect(existsSync(path.join(dataDir, 'deskbot.sqlite'))).toBe(true);
    expect(store.describe()).toBe(`sqlite (${path.join(dataDir, 'deskbot.sqlite')})`);
  });

  it('persists across close and reopen, namespaces intact', async () => {
    const dataDir = tempDir();
    const first = await openStore({ kind: 'sqlite', dataDir, sqliteFile: 'deskbot.sqlite', redisUrl: null, keyPrefix: 'x' });
    await first.namespace('kernel').set('k', { v: 1 });
    await first.namespace('risk').set('k', 'risk-value');
    await first.close();

    const second = await open('sqlite', { dataDir });
    expect(await second.namespace('kernel').get('k')).toEqual({ v: 1 });
    expect(await second.namespace('risk').get('k')).toBe('risk-value');
  });

  it('checkpoints the WAL on its own timer while open, and leaves it empty at close', async () => {
    const dataDir = tempDir();
    const store = await openStore({ kind: 'sqlite', dataDir, sqliteFile: 'deskbot.sqlite', redisUrl: null, keyPrefix: 'x', checkpointIntervalMs: 20 });
    const kv = store.namespace('dedupe');
    await Promise.all(Array.from({ length: 300 }, (_, i) => setIfAbsent(kv, `msg-${i}`, i, 60_000)));
    const wal = path.join(dataDir, 'deskbot.sqlite-wal');
    // the namespaces never checkpoint (wal_autocheckpoint=0); the timer copies their commits into the file
    await vi.waitFor(() => expect(statSync(path.join(dataDir, 'deskbot.sqlite')).size).toBeGreaterThan(300 * 40), { timeout: 10_000, interval: 20 });
    expect(statSync(wal).size).toBeGreaterThan(0);
    await store.close();
    expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0);
    const again = await open('sqlite', { dataDir });
    expect(await again.namespace('dedupe').get('msg-299')).toBe(299);
  });

  it('fails with a clear error when the file cannot be opened', async () => {
    const dataDir = tempDir();
    // a directory where the database file should be
    await expect(
      openStore({ kind: 'sqlite', dataDir: path.dirname(dataDir), sqliteFile: path.basename(dataDir), redisUrl: null, keyPrefix: 'x' }),
    ).rejects.toThrow(/cannot open sqlite store at/);
  });
});

describe('memory store', () => {
  it('describes itself', async () => {
    expect((await open('memory')).describe()).toBe('memory');
  });
});

describe('redis store', () => {
  it('is a clear error without a URL', async () => {
    await expect(openStore({ kind: 'redis', dataDir: tempDir(), sqliteFile: 'x', redisUrl: null, keyPrefix: 'p' })).rejects.toThrow(
      'store.kind is redis but no REDIS_URL / redis.url is set',
    );
  });

  it('fails fast with one line, and no password, when Redis is unreachable', async () => {
    const port = await deadPort();
    const err = await openStore({
      kind: 'redis',
      dataDir: tempDir(),
      sqliteFile: 'x',
      redisUrl: `redis://default:hunter2@127.0.0.1:${port}`,
      keyPrefix: 'p',
      connectTimeoutMs: 1000,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).toMatch(new RegExp(`^cannot reach Redis at redis://127\\.0\\.0\\.1:${port}: `));
    expect(message).not.toContain('hunter2');
    expect(message).not.toContain('\n');
  });

  it('gives up after the connect timeout when the server accepts but never answers', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          silent.close(() => r());
        }),
    );
    const addr = silent.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    await expect(
      openStore({ kind: 'redis', dataDir: tempDir(), sqliteFile: 'x', redisUrl: `redis://127.0.0.1:${port}`, keyPrefix: 'p', connectTimeoutMs: 300 }),
    ).rejects.toThrow(/cannot reach Redis at .*no answer within 300 ms/);
  });

  it('rejects a key prefix with glob or separator characters', async () => {
    await expect(open('redis', { keyPrefix: 'a*b' })).rejects.toThrow(/invalid redis.keyPrefix/);
    await expect(open('redis', { keyPrefix: 'a::b' })).rejects.toThrow(/invalid redis.keyPrefix/);
  });

  it('describe() shows the URL without username or password', async () => {
    const base = new URL(requireRedisUrl());
    // the throwaway server's default user has no password, so it accepts any password for "default"
    if (!base.password) {
      base.username = 'default';
      base.password = 's3cret-pw';
    }
    const store = await open('redis', { redisUrl: base.toString() });
    const text = store.describe();
    expect(text).toMatch(/^redis \(rediss?:\/\//);
    expect(text).toContain(base.host);
    expect(text).not.toContain(base.password);
    expect(text).not.toContain('@');
    expect(redactRedisUrl('redis://user:pw@h:1/2')).toBe('redis://h:1/2');
  });

  it('prefixes keys so deployments on one Redis do not collide, and expires them natively', async () => {
    const url = requireRedisUrl();
    const p1 = `test-${randomUUID()}`;
    const p2 = `test-${randomUUID()}`;
    const one = await open('redis', { keyPrefix: p1 });
    const two = await open('redis', { keyPrefix: p2 });
    await one.namespace('kernel').set('k', 'one');
    await two.namespace('kernel').set('k', 'two');
    await one.namespace('kernel').set('ttl', 'x', 60_000);
    await two.namespace('kernel').clear();
    expect(await one.namespace('kernel').get('k')).toBe('one');
    expect(await two.namespace('kernel').get('k')).toBeUndefined();

    const raw = createClient({ url });
    await raw.connect();
    cleanups.push(async () => void (await raw.close()));
    expect(await raw.exists(`${p1}:kernel::k`)).toBe(1);
    const pttl = await raw.pTTL(`${p1}:kernel::ttl`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(60_000);
  });

  it('shares state between two instances with the same prefix', async () => {
    const prefix = `test-${randomUUID()}`;
    const a = await open('redis', { keyPrefix: prefix });
    const b = await open('redis', { keyPrefix: prefix });
    await a.namespace('halt').set('state', { halted: true });
    expect(await b.namespace('halt').get('state')).toEqual({ halted: true });
  });
});
