import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../src/kernel/audit.js';
import type { AuditEvent } from '../../src/kernel/audit.js';
import { measureThroughput } from '../lib.js';
import type { Benchmark, Metric } from '../lib.js';

/** A typical dispatch-path line: a permission decision. */
const decision: AuditEvent = {
  kind: 'decision',
  actor: 'alice',
  platform: 'slack',
  command: 'buy',
  allowed: false,
  reason: 'trade:execute is only allowed in slack:C0DESK',
};

const FLUSH_LINES = 100_000;

export const auditAppend: Benchmark = {
  name: 'audit-append',
  description: 'AuditLog.append throughput (hash + queue) and the flush of 100k queued lines to disk',
  async run(): Promise<Metric[]> {
    const dir = await mkdtemp(join(tmpdir(), 'deskbot-bench-audit-'));
    try {
      const log = await AuditLog.open(join(dir, 'append.jsonl'));
      const t = await measureThroughput(() => log.append(decision), { warmup: 20_000, iterations: 200_000 });
      await log.close();

      // A fresh log so the flush measures exactly FLUSH_LINES queued lines.
      const big = await AuditLog.open(join(dir, 'flush.jsonl'));
      const appendStart = process.hrtime.bigint();
      for (let i = 0; i < FLUSH_LINES; i++) big.append(decision);
      const flushStart = process.hrtime.bigint();
      await big.flush();
      const flushEnd = process.hrtime.bigint();
      await big.close();
      const flushMs = Number(flushEnd - flushStart) / 1e6;
      const sustained = FLUSH_LINES / (Number(flushEnd - appendStart) / 1e9);

      return [
        { name: 'audit-append.throughput', value: t.opsPerSec, unit: 'lines/s', goal: '>=200000' },
        { name: 'audit-append.p50', value: t.p50Us, unit: 'us' },
        { name: 'audit-append.p99', value: t.p99Us, unit: 'us' },
        { name: 'audit-append.flush_100k', value: flushMs, unit: 'ms' },
        // 50k commands/s with up to two lines each needs 100k lines/s end to end (append + write + datasync).
        { name: 'audit-append.sustained_100k', value: sustained, unit: 'lines/s', goal: '>=100000' },
      ];
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

