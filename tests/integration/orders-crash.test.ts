import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import { clientOrderId } from '../../src/kernel/orders/journal.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { crashConfig, CRASH_ORDER, CRASH_REQUESTER } from '../helpers/crash-config.js';

/**
 * A desk killed (SIGKILL, no shutdown) between the journal and the broker, then restarted on the
 * same SQLite store: the order is neither lost nor placed twice.
 */

const dirs: string[] = [];
const kernels: Kernel[] = [];
afterEach(async () => {
  while (kernels.length > 0) await kernels.pop()?.stop();
  while (dirs.length > 0) rmSync(dirs.pop() as string, { recursive: true, force: true });
});

function killedAt(stage: 'after-sent' | 'after-broker'): string {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'deskbot-crash-'));
  dirs.push(dataDir);
  const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'tests/helpers/crash-child.ts'), dataDir, stage], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(child.stderr).toBe('');
  expect(child.stdout).toContain('placing');
  expect(child.stdout).not.toContain('not killed');
  expect(child.signal).toBe('SIGKILL');
  return dataDir;
}

async function restart(dataDir: string): Promise<Kernel> {
  const k = await Kernel.start({ config: crashConfig(dataDir), secrets: readSecrets({}), logger: pino({ level: 'silent' }), discover: false });
  kernels.push(k);
  return k;
}

describe('a crash between the journal and the broker', () => {
  it('killed after "sent" but before the broker: the restart marks it not placed, and the key still places nothing twice', async () => {
    const k = await restart(killedAt('after-sent'));
    const o = await k.orders.get(clientOrderId(CRASH_ORDER.key));
    expect(o?.state).toBe('failed');
    expect(o?.reason).toContain('never received');
    expect(await k.orders.positions()).toHaveLength(0);
    // the same message redelivered after the restart does not place it now either
    const again = await k.orders.place(CRASH_ORDER, CRASH_REQUESTER);
    expect(again.id).toBe(o?.id);
    expect(await k.orders.positions()).toHaveLength(0);
  }, 180_000);

  it('killed after the broker filled but before the gateway journaled it: the restart finds the fill, once', async () => {
    const k = await restart(killedAt('after-broker'));
    const o = await k.orders.get(clientOrderId(CRASH_ORDER.key));
    expect(o?.state).toBe('filled');
    expect(o?.filled).toBe(0.01);
    expect(o?.fills).toHaveLength(1);
    const positions = await k.orders.positions();
    expect(positions).toHaveLength(1);
    expect(positions[0]?.amount).toBe(0.01);
    const again = await k.orders.place(CRASH_ORDER, CRASH_REQUESTER);
    expect(again.id).toBe(o?.id);
    expect((await k.orders.positions())[0]?.amount).toBe(0.01);
    const audit = await k.audit.tail(20);
    expect(audit.some((r) => r.kind === 'order-recovery' && r.id === o?.id)).toBe(true);
  }, 180_000);
});
