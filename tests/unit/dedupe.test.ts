import { randomUUID } from 'node:crypto';
import Keyv from 'keyv';
import { describe, expect, it, vi } from 'vitest';
import { Dedupe } from '../../src/kernel/dedupe.js';
import { openStore } from '../../src/kernel/store.js';
import { storeFixtures } from '../helpers/stores.js';

const DAY = 24 * 60 * 60 * 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const { tempDir, open } = storeFixtures('dedupe');

function fakeClock(start = 1_700_000_000_000): { now(): number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('Dedupe', () => {
  it('sees an id once; a repeat within the window is false; other ids are unaffected', async () => {
    const d = new Dedupe((await open('memory')).namespace('dedupe'), { windowMs: DAY });
    expect(await d.firstSeen('slack:1')).toBe(true);
    expect(await d.firstSeen('slack:1')).toBe(false);
    expect(await d.firstSeen('slack:1')).toBe(false);
    expect(await d.firstSeen('slack:2')).toBe(true);
  });

  it('sees an id again after the window (real short TTL in the store)', async () => {
    const d = new Dedupe((await open('memory')).namespace('dedupe'), { windowMs: 150 });
    expect(await d.firstSeen('m')).toBe(true);
    expect(await d.firstSeen('m')).toBe(false);
    await sleep(300);
    expect(await d.firstSeen('m')).toBe(true);
  });

  it('answers repeats from the memory front without touching the store, until the window ends', async () => {
    const kv = (await open('memory')).namespace('dedupe');
    const clock = fakeClock();
    const d = new Dedupe(kv, { windowMs: 60_000, clock });
    expect(await d.firstSeen('m')).toBe(true);

    const get = vi.spyOn(kv, 'get');
    const set = vi.spyOn(kv, 'set');
    clock.advance(59_999);
    expect(await d.firstSeen('m')).toBe(false);
    expect(get).not.toHaveBeenCalled();
    expect(set).not.toHaveBeenCalled();

    // past the window by the injected clock the front forgets it and asks the store (the source of
    // truth, whose TTL runs on real time and still holds the id)
    clock.advance(2);
    expect(await d.firstSeen('m')).toBe(false);
    expect(get).toHaveBeenCalled();
    expect(set).not.toHaveBeenCalled();
  });

  it('bounds the front; an evicted id is still a repeat because the store remembers it', async () => {
    const kv = (await open('memory')).namespace('dedupe');
    const d = new Dedupe(kv, { windowMs: DAY, frontSize: 2 });
    for (const id of ['a', 'b', 'c']) expect(await d.firstSeen(id)).toBe(true);
    const get = vi.spyOn(kv, 'get');
    expect(await d.firstSeen('c')).toBe(false); // still in front
    expect(get).not.toHaveBeenCalled();
    expect(await d.firstSeen('a')).toBe(false); // evicted from front, found in store
    expect(get).toHaveBeenCalled();
  });

  it('lets exactly one of many concurrent calls for the same id win', async () => {
    const d = new Dedupe((await open('memory')).namespace('dedupe'), { windowMs: DAY });
    const results = await Promise.all(Array.from({ length: 20 }, () => d.firstSeen('same')));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('treats the store as the source of truth between two Dedupe fronts on one store', async () => {
    const kv = (await open('memory')).namespace('dedupe');
    const one = new Dedupe(kv, { windowMs: DAY });
    const two = new Dedupe(kv, { windowMs: DAY });
    expect(await one.firstSeen('x')).toBe(true);
    expect(await two.firstSeen('x')).toBe(false);
    expect(await two.firstSeen('y')).toBe(true);
    expect(await one.firstSeen('y')).toBe(false);
  });

  it('does not remember an id the store failed to record, and surfaces the error', async () => {
    class FailingMap extends Map<string, unknown> {
      fail = true;
      override set(key: string, value: unknown): this {
        if (this.fail) throw new Error('disk full');
        return super.set(key, value);
      }
    }
    const map = new FailingMap();
    const d = new Dedupe(new Keyv({ store: map, throwOnErrors: true }), { windowMs: DAY });
    await expect(d.firstSeen('m')).rejects.toThrow('disk full');
    map.fail = false;
    expect(await d.firstSeen('m')).toBe(true);
  });

  it('rejects an empty id and a non-positive window', async () => {
    const kv = (await open('memory')).namespace('dedupe');
    expect(() => new Dedupe(kv, { windowMs: 0 })).toThrow(/positive/);
    await expect(new Dedupe(kv, { windowMs: DAY }).firstSeen('')).rejects.toThrow(/empty/);
  });

  it('dedupes across a restart (sqlite)', async () => {
    const dataDir = tempDir();
    const first = await openStore({ kind: 'sqlite', dataDir, sqliteFile: 'deskbot.sqlite', redisUrl: null, keyPrefix: 'x' });
    const before = new Dedupe(first.namespace('dedupe'), { windowMs: DAY });
    expect(await before.firstSeen('telegram:42')).toBe(true);
    await first.close();

    const second = await open('sqlite', { dataDir });
    const after = new Dedupe(second.namespace('dedupe'), { windowMs: DAY });
    expect(await after.firstSeen('telegram:42')).toBe(false);
    expect(await after.firstSeen('telegram:43')).toBe(true);
  });

  it('dedupes across two instances on one Redis, atomically', async () => {
    const prefix = `test-${randomUUID()}`;
    const a = new Dedupe((await open('redis', { keyPrefix: prefix })).namespace('dedupe'), { windowMs: DAY });
    const b = new Dedupe((await open('redis', { keyPrefix: prefix })).namespace('dedupe'), { windowMs: DAY });
    expect(await a.firstSeen('discord:1')).toBe(true);
    expect(await b.firstSeen('discord:1')).toBe(false);

    // both instances race on every id: SET NX lets exactly one win each
    const ids = Array.from({ length: 50 }, (_, i) => `race:${i}`);
    const results = await Promise.all(ids.map((id) => Promise.all([a.firstSeen(id), b.firstSeen(id)])));
    for (const pair of results) expect(pair.filter(Boolean)).toHaveLength(1);
  });

  it('on Redis, an id is new again once its window has expired in the store', async () => {
    const prefix = `test-${randomUUID()}`;
    const a = new Dedupe((await open('redis', { keyPrefix: prefix })).namespace('dedupe'), { windowMs: 200 });
    const b = new Dedupe((await open('redis', { keyPrefix: prefix })).namespace('dedupe'), { windowMs: 200 });
    expect(await a.firstSeen('m')).toBe(true);
    expect(await b.firstSeen('m')).toBe(false);
    await sleep(400);
    expect(await b.firstSeen('m')).toBe(true);
    expect(await a.firstSeen('m')).toBe(false);
  });
});
