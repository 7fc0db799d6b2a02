import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { openStore, type KernelStore, type StoreKind } from '../../src/kernel/store.js';
import { requireRedisUrl } from '../setup/redis-url.js';

/**
 * Temp dirs and stores for a test file, removed and closed after each test. Each store gets a
 * random Redis key prefix, so tests never see each other's keys on the shared test Redis.
 */
export function storeFixtures(label: string): {
  tempDir(): string;
  open(kind: StoreKind, over?: { dataDir?: string; keyPrefix?: string; redisUrl?: string }): Promise<KernelStore>;
  cleanups: Array<() => Promise<void> | void>;
} {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()?.();
  });
  const tempDir = (): string => {
    const dir = mkdtempSync(path.join(os.tmpdir(), `deskbot-${label}-`));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  };
  const open = async (kind: StoreKind, over: { dataDir?: string; keyPrefix?: string; redisUrl?: string } = {}): Promise<KernelStore> => {
    const store = await openStore({
      kind,
      dataDir: over.dataDir ?? tempDir(),
      sqliteFile: 'deskbot.sqlite',
      redisUrl: kind === 'redis' ? (over.redisUrl ?? requireRedisUrl()) : null,
      keyPrefix: over.keyPrefix ?? `test-${randomUUID()}`,
    });
    cleanups.push(() => store.close());
    return store;
  };
  return { tempDir, open, cleanups };
}
