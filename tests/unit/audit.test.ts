import { createHash } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AuditLog, GENESIS_HASH, verifyAuditLog } from '../../src/kernel/audit.js';

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
const fixedClock = (ms = Date.UTC(2024, 0, 2, 3, 4, 5, 678)) => ({ now: () => ms });

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deskbot-audit-'));
  file = join(dir, 'nested', 'audit.jsonl');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function lines(): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n');
}

async function writeLog(count: number): Promise<void> {
  const log = await AuditLog.open(file, { clock: fixedClock() });
  for (let i = 1; i <= count; i++) log.append({ kind: 'decision', actor: 'alice', command: 'buy', n: i });
  await log.close();
}

async function rewriteLines(edit: (ls: string[]) => string[]): Promise<void> {
  const edited = edit(await lines());
  await writeFile(file, `${edited.join('\n')}\n`);
}

describe('AuditLog line format', () => {
  it('writes seq, at, prev first and chains each line to the hash of the previous one', async () => {
    const log = await AuditLog.open(file, { clock: fixedClock() });
    const first = log.append({ kind: 'decision', actor: 'alice', allowed: false });
    const second = log.append({ kind: 'command', actor: 'bob', command: 'halt' });
    await log.close();

    const [l1, l2] = await lines();
    expect(l1).toBe(
      `{"seq":1,"at":"2024-01-02T03:04:05.678Z","prev":"${GENESIS_HASH}","kind":"decision","actor":"alice","allowed":false}`,
    );
    expect(Object.keys(JSON.parse(l2 ?? '') as object)).toEqual(['seq', 'at', 'prev', 'kind', 'actor', 'command']);
    expect(second.prev).toBe(sha(l1 ?? ''));
    expect(first).toEqual({ seq: 1, at: '2024-01-02T03:04:05.678Z', prev: GENESIS_HASH, kind: 'decision', actor: 'alice', allowed: false });
  });

  it('keeps the chain fields even when the event carries seq/at/prev of its own', async () => {
    const log = await AuditLog.open(file, { clock: fixedClock() });
    const record = log.append({ kind: 'x', seq: 99, at: 'forged', prev: 'f'.repeat(64), keep: 1 });
    await log.close();
    const onDisk = JSON.parse((await lines())[0] ?? '') as Record<string, unknown>;
    expect(onDisk).toEqual({ seq: 1, at: '2024-01-02T03:04:05.678Z', prev: GENESIS_HASH, kind: 'x', keep: 1 });
    expect(record).toEqual(onDisk);
  });

  it('writes bigint as a string and an error as its message only', async () => {
    const log = await AuditLog.open(file, { clock: fixedClock() });
    const record = log.append({ kind: 'order', qty: 12345678901234567890n, error: new Error('insufficient funds'), nested: { big: 1n } });
    await log.close();
    const onDisk = JSON.parse((await lines())[0] ?? '') as Record<string, unknown>;
    expect(onDisk.qty).toBe('12345678901234567890');
    expect(onDisk.error).toBe('insufficient funds');
    expect(onDisk.nested).toEqual({ big: '1' });
    expect(record).toEqual(onDisk);
  });

  it('rejects an event that cannot be serialised, without breaking the chain', async () => {
    const log = await AuditLog.open(file);
    const cyclic: Record<string, unknown> = { kind: 'x' };
    cyclic.self = cyclic;
    expect(() => log.append(cyclic as { kind: string })).toThrow(/not JSON-serialisable/);
    log.append({ kind: 'ok' });
    await log.close();
    expect(await verifyAuditLog(file)).toMatchObject({ ok: true, lines: 1 });
  });

  it('throws on append after close', async () => {
    const log = await AuditLog.open(file);
    await log.close();
    expect(() => log.append({ kind: 'late' })).toThrow(/closed/);
  });
});

describe('AuditLog persistence', () => {
  it('continues the chain across close and reopen', async () => {
    await writeLog(3);
    const log = await AuditLog.open(file, { clock: fixedClock() });
    const fourth = log.append({ kind: 'after-restart' });
    log.append({ kind: 'after-restart' });
    await log.close();

    const ls = await lines();
    expect(ls).toHaveLength(5);
    expect(fourth.seq).toBe(4);
    expect(fourth.prev).toBe(sha(ls[2] ?? ''));
    expect(ls.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([1, 2, 3, 4, 5]);
    expect(await verifyAuditLog(file)).toEqual({ ok: true, lines: 5, head: sha(ls[4] ?? '') });
  });

  it('writes a head file naming the last flushed line', async () => {
    const log = await AuditLog.open(file);
    log.append({ kind: 'a' });
    log.append({ kind: 'b' });
    await log.flush();
    const ls = await lines();
    expect(JSON.parse(await readFile(`${file}.head`, 'utf8'))).toEqual({ seq: 2, hash: sha(ls[1] ?? '') });
    await log.close();
  });

  it('refuses to open a log whose last line is torn, pointing at audit verify', async () => {
    await writeLog(3);
    await appendFile(file, '{"seq":4,"at":"2024-01-0');
    await expect(AuditLog.open(file)).rejects.toThrow(/torn write.*deskbot audit verify/);
  });

  it('refuses to open a log whose tail was truncated behind the head file', async () => {
    await writeLog(5);
    await rewriteLines((ls) => ls.slice(0, 3));
    await expect(AuditLog.open(file)).rejects.toThrow(/truncated.*deskbot audit verify/);
  });

  it('refuses to open a log whose last line no longer matches the head file', async () => {
    await writeLog(3);
    await rewriteLines((ls) => ls.map((l, i) => (i === 2 ? l.replace('"n":3', '"n":4') : l)));
    await expect(AuditLog.open(file)).rejects.toThrow(/seq 3\) does not match .*altered.*deskbot audit verify/);
  });

  it('keeps line order when appends interleave with event-loop turns and overlapping flushes', async () => {
    const log = await AuditLog.open(file);
    const flushes: Promise<void>[] = [];
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 40; i++) log.append({ kind: 'tick', round, i });
      if (round % 10 === 0) flushes.push(log.flush());
      await new Promise((resolve) => setImmediate(resolve));
    }
    flushes.push(log.flush());
    await Promise.all(flushes);
    const ls = await lines();
    expect(ls).toHaveLength(2000);
    expect(ls.every((l, idx) => (JSON.parse(l) as { seq: number }).seq === idx + 1)).toBe(true);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: true, lines: 2000 });
    await log.close();
  });

  it('writes lines queued during a write without waiting for a flush', async () => {
    const log = await AuditLog.open(file);
    log.append({ kind: 'first' });
    await new Promise((resolve) => setImmediate(resolve)); // the first batch's write is now in flight
    log.append({ kind: 'second' });
    await vi.waitFor(async () => expect(await lines()).toHaveLength(2), { timeout: 5000, interval: 5 });
    await log.close();
  });

  it('writes 10,000 appends on flush and they verify', async () => {
    const log = await AuditLog.open(file);
    for (let i = 0; i < 10_000; i++) log.append({ kind: 'decision', actor: 'alice', i });
    await log.flush();
    expect(await lines()).toHaveLength(10_000);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: true, lines: 10_000 });
    await log.close();
  });

  it('stays ordered when the queue passes its high-water mark before the event loop turns', async () => {
    const log = await AuditLog.open(file);
    const note = 'x'.repeat(500); // 3,000 lines of ~600 chars is well past the 1 MiB high-water mark
    for (let i = 0; i < 3000; i++) log.append({ kind: 'note', note, i });
    await log.close();
    expect(await lines()).toHaveLength(3000);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: true, lines: 3000 });
  });
});

describe('AuditLog.tail', () => {
  it('returns the last n records, oldest first, including ones not yet flushed', async () => {
    await writeLog(7);
    const log = await AuditLog.open(file);
    log.append({ kind: 'fresh' });
    const last3 = await log.tail(3);
    expect(last3.map((r) => r.seq)).toEqual([6, 7, 8]);
    expect(last3[2]?.kind).toBe('fresh');
    expect((await log.tail(100)).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await log.tail(0)).toEqual([]);
    await expect(log.tail(-1)).rejects.toThrow(RangeError);
    await log.close();
  });

  it('returns records whose lines span more than one read chunk', async () => {
    const log = await AuditLog.open(file);
    const note = 'y'.repeat(30_000);
    for (let i = 1; i <= 6; i++) log.append({ kind: 'big', note, i });
    const last = await log.tail(4);
    expect(last.map((r) => r.i)).toEqual([3, 4, 5, 6]);
    await log.close();
  });
});

describe('verifyAuditLog', () => {
  it('reports ok with the line count and the hash of the last line', async () => {
    await writeLog(10);
    const ls = await lines();
    expect(await verifyAuditLog(file)).toEqual({ ok: true, lines: 10, head: sha(ls[9] ?? '') });
  });

  it('names a middle line whose field was edited', async () => {
    await writeLog(10);
    await rewriteLines((ls) => ls.map((l, i) => (i === 4 ? l.replace('"actor":"alice"', '"actor":"mallory"') : l)));
    const result = await verifyAuditLog(file);
    expect(result).toMatchObject({ ok: false, firstBadLine: 5 });
    expect(result.ok ? '' : result.problem).toBe("line 5 was altered: line 6's prev hash does not match it");
  });

  it('names the last line when it was edited, using the head file', async () => {
    await writeLog(4);
    await rewriteLines((ls) => ls.map((l, i) => (i === 3 ? l.replace('"command":"buy"', '"command":"sell"') : l)));
    const result = await verifyAuditLog(file);
    expect(result).toMatchObject({ ok: false, firstBadLine: 4 });
    expect(result.ok ? '' : result.problem).toMatch(/^line 4 was altered/);
  });

  it('names the position of a deleted middle line', async () => {
    await writeLog(10);
    await rewriteLines((ls) => ls.filter((_, i) => i !== 6));
    const result = await verifyAuditLog(file);
    expect(result).toMatchObject({ ok: false, firstBadLine: 7 });
    expect(result.ok ? '' : result.problem).toBe('line 7: expected seq 7, found 8 — a line is missing');
  });

  it('detects a truncated tail through the head file', async () => {
    await writeLog(10);
    await rewriteLines((ls) => ls.slice(0, 8));
    const result = await verifyAuditLog(file);
    expect(result).toMatchObject({ ok: false, lines: 8, firstBadLine: 9 });
    expect(result.ok ? '' : result.problem).toMatch(/truncated \(2 lines missing\)/);
    // The chain alone cannot see it: without the head file the short log looks fine.
    await rm(`${file}.head`);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: true, lines: 8 });
  });

  it('reports a torn last line', async () => {
    await writeLog(3);
    await appendFile(file, '{"seq":4');
    const result = await verifyAuditLog(file);
    expect(result).toMatchObject({ ok: false, firstBadLine: 4 });
    expect(result.ok ? '' : result.problem).toMatch(/torn write/);
  });

  it('reports an unparsable line by number', async () => {
    await writeLog(5);
    await rewriteLines((ls) => ls.map((l, i) => (i === 2 ? 'not json' : l)));
    expect(await verifyAuditLog(file)).toEqual({ ok: false, lines: 3, firstBadLine: 3, problem: 'line 3: not valid JSON' });
  });

  it('treats an empty log without a head file as ok', async () => {
    const log = await AuditLog.open(file);
    await log.close();
    expect((await stat(file)).size).toBe(0);
    expect(await verifyAuditLog(file)).toEqual({ ok: true, lines: 0, head: GENESIS_HASH });
  });
});
