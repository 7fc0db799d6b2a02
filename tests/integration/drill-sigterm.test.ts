import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../src/kernel/config/load.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { FINAL_STATES, type Order } from '../../src/kernel/orders/types.js';
import { openStore } from '../../src/kernel/store.js';
import { readAuditLines, REPO_ROOT, runCli, spawnCli, tempDir, type CliProcess, type CliResult } from '../helpers/cli.js';
import { sharedDataDir } from '../helpers/recorded.js';

/**
 * Fault drill: SIGTERM (docker stop, a deploy) while a person is buying. The real CLI
 * (`node --import tsx src/cli.ts start`) runs the terminal desk on the recorded prices with a
 * SQLite store in a temp DESKBOT_DATA_DIR; the test types `/buy btc 0.01`, then `yes`, and sends
 * SIGTERM: right after writing `yes`, before writing it, and — deterministically — while the
 * paper broker is placing the order. After the process exits, a desk is started on the same data
 * dir: no order is left requested/checked/sent, the paper position is exactly the filled amount
 * of the filled orders (nothing lost, nothing twice) and `deskbot audit verify` passes.
 *
 * Needs the recorded data (../shared/data or DESKBOT_MARKET_DIR): missing, it fails saying so.
 */

const TEST_TIMEOUT = 180_000;
const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

const SIGTERM_IN_BROKER = path.join(REPO_ROOT, 'tests', 'helpers', 'sigterm-in-broker.ts');
const MID_ORDER_MARKER = '[drill] SIGTERM sent while the broker places';

interface Drill {
  dataDir: string;
  env: Record<string, string>;
}

/** a data dir and a config: the embedded default with a SQLite store and any free ops port */
function drill(): Drill {
  const marketDir = sharedDataDir(); // fails clearly when the recorded data is missing
  const dataDir = tempDir('deskbot-sigterm-');
  made.push(dataDir);
  const cfg = parse(readFileSync(path.join(REPO_ROOT, 'config', 'default.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
  cfg['store'] = { ...cfg['store'], kind: 'sqlite' };
  cfg['ops'] = { ...cfg['ops'], port: 0 };
  const file = path.join(dataDir, 'drill.yaml');
  writeFileSync(file, stringify(cfg));
  return { dataDir, env: { DESKBOT_CONFIG: file, DESKBOT_DATA_DIR: dataDir, DESKBOT_MARKET_DIR: marketDir, DESKBOT_LOG_LEVEL: 'info' } };
}

function start(d: Drill, nodeArgs: string[] = []): CliProcess {
  return spawnCli(['start'], { keepStdinOpen: true, env: d.env, nodeArgs, timeoutMs: 120_000 });
}

function show(r: CliResult): string {
  return `exit ${r.code} (signal ${r.signal})\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** every order record in the SQLite journal, read from the store itself (not through an index) */
async function journal(d: Drill): Promise<Order[]> {
  const store = await openStore({ kind: 'sqlite', dataDir: d.dataDir, sqliteFile: 'deskbot.sqlite', redisUrl: null, keyPrefix: '', sweepIntervalMs: 0 });
  try {
    const kv = store.namespace('orders');
    const out: Order[] = [];
    if (!kv.iterator) throw new Error('the sqlite store cannot list its keys');
    for await (const [key, value] of kv.iterator(kv.namespace)) {
      if (String(key).startsWith('o:')) out.push(value as Order);
    }
    return out;
  } finally {
    await store.close();
  }
}

interface AfterRestart {
  /** the journal as the killed process left it */
  left: Order[];
  /** what recovery found and did, from the restarted desk's audit */
  recovered: Array<Record<string, unknown>>;
  /** every order after the restart */
  orders: Order[];
  position: number;
  ledgerFills: number;
}

/** Start the same desk (config, plugins) on the same data dir — recovery runs at start — read the journal and the paper account, stop it. */
async function restart(d: Drill): Promise<AfterRestart> {
  const left = await journal(d);
  const loaded = loadConfig({ env: d.env, cwd: REPO_ROOT });
  if (!loaded.ok) throw new Error(loaded.error);
  const kernel = await Kernel.start({ config: loaded.config, secrets: loaded.secrets, logger: pino({ level: 'silent' }), cwd: REPO_ROOT });
  try {
    await kernel.audit.flush();
    const recovered = (await kernel.audit.tail(50)).filter((a) => a.kind === 'order-recovery');
    const positions = await kernel.orders.positions();
    const ledger = await kernel.orders.ledger(0);
    return {
      left,
      recovered,
      orders: await journal(d),
      position: positions.find((p) => p.symbol === 'BTC/USDT')?.amount ?? 0,
      ledgerFills: ledger.filter((l) => l.symbol === 'BTC/USDT').length,
    };
  } finally {
    await kernel.stop();
  }
}

/** the invariants every drill ends with */
async function expectConsistent(d: Drill, after: AfterRestart): Promise<void> {
  // every order is final: either it was when the process exited, or recovery settled it
  for (const o of after.orders) expect(FINAL_STATES.has(o.state), `${o.id} is ${o.state}`).toBe(true);
  // the paper position is exactly what the filled orders filled: nothing lost, nothing twice
  const filled = after.orders.filter((o) => o.symbol === 'BTC/USDT').reduce((sum, o) => sum + (o.side === 'buy' ? o.filled : -o.filled), 0);
  expect(after.position).toBe(filled);
  expect(after.ledgerFills).toBe(after.orders.reduce((n, o) => n + o.fills.length, 0));
  // the audit log (the killed run's lines, then the restart's) is one intact chain
  const verify = await runCli(['audit', 'verify'], { env: d.env });
  expect(verify.code, show(verify)).toBe(0);
  expect(verify.stdout).toMatch(/^ok: .*chain intact/);
}

async function untilConfirmAsked(desk: CliProcess): Promise<void> {
  await desk.waitFor('stderr', 'deskbot ready');
  desk.write('/buy btc 0.01\n');
  await desk.waitFor('stdout', /Confirm \/buy btc 0\.01\?/);
}

describe('drill: SIGTERM while a person is buying', { timeout: TEST_TIMEOUT }, () => {
  it('SIGTERM right after "yes": a clean exit, and the order is either filled once or never sent — the journal and the position agree', async () => {
    const d = drill();
    const desk = start(d);
    await untilConfirmAsked(desk);
    desk.write('yes\n');
    desk.kill('SIGTERM');
    const r = await desk.exited;
    expect(r.code, show(r)).toBe(0);
    expect(readAuditLines(path.join(d.dataDir, 'audit.jsonl')).at(-1)).toMatchObject({ kind: 'kernel', event: 'stopped' });

    const after = await restart(d);
    // whether the line was read before the terminal closed is up to the race; both ends are whole
    expect(after.orders.length).toBeLessThanOrEqual(1);
    if (after.orders.length === 1) {
      expect(after.orders[0]).toMatchObject({ state: 'filled', filled: 0.01 });
      expect(r.stdout).toContain('Filled');
    } else {
      expect(after.position).toBe(0);
    }
    // a graceful stop waits for the order in flight: nothing was left for recovery
    expect(after.left.every((o) => FINAL_STATES.has(o.state))).toBe(true);
    expect(after.recovered).toEqual([]);
    await expectConsistent(d, after);
  });

  it('SIGTERM before "yes": nothing is placed; the restarted desk finds no order and no position', async () => {
    const d = drill();
    const desk = start(d);
    await untilConfirmAsked(desk);
    desk.kill('SIGTERM');
    const r = await desk.exited;
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).not.toContain('Filled');

    const after = await restart(d);
    expect(after.left).toEqual([]);
    expect(after.orders).toEqual([]);
    expect(after.position).toBe(0);
    await expectConsistent(d, after);
  });

  it('SIGTERM while the broker is placing the order: the shutdown waits for it; it is filled once, the position is 0.01, nothing needs recovery', async () => {
    const d = drill();
    const desk = start(d, ['--import', 'tsx', '--import', pathToFileURL(SIGTERM_IN_BROKER).href]);
    await untilConfirmAsked(desk);
    desk.write('yes\n');
    const r = await desk.exited;
    expect(r.stderr).toContain(MID_ORDER_MARKER);
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).toContain('"msg":"shutting down"');
    // the person still got the answer: the drain let the command finish
    expect(r.stdout).toContain('Filled');
    expect(readAuditLines(path.join(d.dataDir, 'audit.jsonl')).at(-1)).toMatchObject({ kind: 'kernel', event: 'stopped' });

    const after = await restart(d);
    expect(after.left.map((o) => [o.state, o.filled])).toEqual([['filled', 0.01]]);
    expect(after.recovered).toEqual([]);
    expect(after.orders).toHaveLength(1);
    expect(after.orders[0]?.fills).toHaveLength(1);
    expect(after.position).toBe(0.01);
    await expectConsistent(d, after);
  });
});
