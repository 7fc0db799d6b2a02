import { randomUUID } from 'node:crypto';
import Keyv from 'keyv';
import { describe, expect, it, vi } from 'vitest';
import { HaltState, UNREADABLE_REASON, type HaltStatus } from '../../src/kernel/halt.js';
import { openStore } from '../../src/kernel/store.js';
import { storeFixtures } from '../helpers/stores.js';

const T0 = Date.parse('2025-03-01T12:00:00.000Z');

const { tempDir, open } = storeFixtures('halt');

function clockAt(t: number): { now(): number; set(v: number): void } {
  let now = t;
  return { now: () => now, set: (v) => void (now = v) };
}

describe('HaltState', () => {
  it('starts not halted', async () => {
    const halt = new HaltState((await open('memory')).namespace('halt'));
    expect(await halt.status()).toEqual({ halted: false });
  });

  it('halts with who, when and why, and tells listeners', async () => {
    const clock = clockAt(T0);
    const halt = new HaltState((await open('memory')).namespace('halt'), { clock });
    const seen: HaltStatus[] = [];
    halt.onChange((s) => seen.push(s));

    const expected = { halted: true, since: '2025-03-01T12:00:00.000Z', by: 'alice', reason: 'exchange outage' };
    expect(await halt.halt('alice', 'exchange outage')).toEqual(expected);
    expect(await halt.status()).toEqual(expected);
    expect(seen).toEqual([expected]);
  });

  it('keeps the original halt when halted again, without notifying', async () => {
    const clock = clockAt(T0);
    const halt = new HaltState((await open('memory')).namespace('halt'), { clock });
    const first = await halt.halt('alice', 'first');
    const listener = vi.fn();
    halt.onChange(listener);
    clock.set(T0 + 60_000);
    expect(await halt.halt('bob', 'second')).toEqual(first);
    expect(await halt.status()).toEqual(first);
    expect(listener).not.toHaveBeenCalled();
  });

  it('resumes, records who resumed, and stops notifying after unsubscribe', async () => {
    const clock = clockAt(T0);
    const halt = new HaltState((await open('memory')).namespace('halt'), { clock });
    const seen: HaltStatus[] = [];
    const unsubscribe = halt.onChange((s) => seen.push(s));
    await halt.halt('alice', 'drill');
    clock.set(T0 + 5 * 60_000);
    const resumed = await halt.resume('bob');
    expect(resumed).toEqual({ halted: false, since: '2025-03-01T12:05:00.000Z', by: 'bob' });
    expect(await halt.status()).toEqual(resumed);
    expect(seen.map((s) => s.halted)).toEqual([true, false]);

    unsubscribe();
    await halt.halt('carol', 'again');
    expect(seen).toHaveLength(2);
    // resuming when not halted changes nothing
    await halt.resume('dave');
    expect(await halt.resume('erin')).toMatchObject({ halted: false, by: 'dave' });
  });

  it.each<[string, unknown]>([
    ['a wrong type', { halted: 'no' }],
    ['a bare string', 'running'],
    ['a bad timestamp', { halted: false, since: 'yesterday' }],
    ['extra fields', { halted: false, override: true }],
    ['null', null],
  ])('fails safe on %s: unreadable state reads as halted', async (_label, corrupt) => {
    const kv = (await open('memory')).namespace('halt');
    await kv.set('state', corrupt);
    const halt = new HaltState(kv);
    expect(await halt.status()).toEqual({ halted: true, reason: UNREADABLE_REASON });
  });

  it('replaces an unreadable state with a real halt, and can resume from it', async () => {
    const kv = (await open('memory')).namespace('halt');
    await kv.set('state', { halted: 42 });
    const halt = new HaltState(kv, { clock: clockAt(T0) });
    expect(await halt.halt('alice', 'cleanup')).toMatchObject({ halted: true, by: 'alice', reason: 'cleanup' });
    expect(await halt.resume('bob')).toMatchObject({ halted: false, by: 'bob' });
    expect(await halt.status()).toMatchObject({ halted: false });
  });

  it('reads as halted when the store cannot be read', async () => {
    class BrokenMap extends Map<string, unknown> {
      override get(): never {
        throw new Error('disk on fire');
      }
    }
    const halt = new HaltState(new Keyv({ store: new BrokenMap(), throwOnErrors: true }));
    const status = await halt.status();
    expect(status.halted).toBe(true);
    expect(status.reason).toMatch(new RegExp(`^${UNREADABLE_REASON} \\(store error: disk on fire\\)$`));
  });

  it('persists the halt and notifies the rest even if a listener throws', async () => {
    const errors: unknown[] = [];
    const kv = (await open('memory')).namespace('halt');
    const halt = new HaltState(kv, { onListenerError: (e) => errors.push(e) });
    const after = vi.fn();
    halt.onChange(() => {
      throw new Error('listener bug');
    });
    halt.onChange(after);
    await halt.halt('alice', 'x');
    expect(after).toHaveBeenCalledOnce();
    expect(errors).toHaveLength(1);
    expect((await new HaltState(kv).status()).halted).toBe(true);
  });

  it('survives a restart (sqlite)', async () => {
    const dataDir = tempDir();
    const first = await openStore({ kind: 'sqlite', dataDir, sqliteFile: 'deskbot.sqlite', redisUrl: null, keyPrefix: 'x' });
    const halted = await new HaltState(first.namespace('halt'), { clock: clockAt(T0) }).halt('alice', 'fat finger');
    await first.close();

    const second = await open('sqlite', { dataDir });
    expect(await new HaltState(second.namespace('halt')).status()).toEqual(halted);
  });

  it('is shared by instances on one Redis', async () => {
    const prefix = `test-${randomUUID()}`;
    const a = new HaltState((await open('redis', { keyPrefix: prefix })).namespace('halt'));
    const b = new HaltState((await open('redis', { keyPrefix: prefix })).namespace('halt'));
    await a.halt('alice', 'shared');
    expect(await b.status()).toMatchObject({ halted: true, by: 'alice', reason: 'shared' });
    await b.resume('bob');
    expect(await a.status()).toMatchObject({ halted: false, by: 'bob' });
  });
});
