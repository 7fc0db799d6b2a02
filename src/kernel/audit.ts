import * as crypto from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * The audit log: append-only JSON lines, each carrying the SHA-256 of the previous line's exact
 * text, so editing, deleting or truncating lines is detectable by `verifyAuditLog`.
 *
 * Line: {"seq":N,"at":"<ISO>","prev":"<hex sha256 of line N-1, 64 zeros for N=1>",...event}
 * Sidecar `<file>.head`: {"seq":N,"hash":"<sha256 of line N>"} of the last flushed line; it lets
 * verify notice a truncated tail, which the chain alone cannot show.
 */

export interface AuditEvent {
  kind: string;
  [field: string]: unknown;
}

export interface AuditRecord extends AuditEvent {
  seq: number;
  at: string;
  prev: string;
}

export type VerifyResult =
  | { ok: true; lines: number; head: string }
  | { ok: false; lines: number; firstBadLine: number; problem: string };

export interface AuditClock {
  now(): number;
}

export const GENESIS_HASH = '0'.repeat(64);

const HEX64 = /^[0-9a-f]{64}$/;
/** Start a write at once (not on the next turn) when this much text is queued, to cap memory. */
const HIGH_WATER_CHARS = 1 << 20;
const TAIL_CHUNK = 64 * 1024;
const NEWLINE = 0x0a;

// crypto.hash is ~2x faster than createHash for short inputs but only exists from Node 20.12.
const sha256: (text: string | Uint8Array) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text).digest('hex');

const verifyHint = (file: string): string => `run \`deskbot audit verify ${file}\` to find the damage`;

export class AuditLog {
  private seq: number;
  private lastHash: string;
  private lastAtMs = Number.NaN;
  private lastAt = '';

  private pending: string[] = [];
  private pendingChars = 0;
  private scheduled = false;
  private inFlight: Promise<void> | null = null;
  /** Chain state of the last line fully written to the file, and that file's size. */
  private writtenSeq: number;
  private writtenHash: string;
  private writtenBytes: number;
  /** What the last datasync + head file covered, so an idle flush costs no fsync. */
  private syncedSeq: number;
  private flushChain: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private closed = false;

  private constructor(
    private readonly file: string,
    private readonly fh: FileHandle,
    private readonly clock: AuditClock,
    state: { seq: number; hash: string; bytes: number; headSeq: number },
  ) {
    this.seq = state.seq;
    this.lastHash = state.hash;
    this.writtenSeq = state.seq;
    this.writtenHash = state.hash;
    this.writtenBytes = state.bytes;
    this.syncedSeq = state.headSeq;
  }

  static async open(file: string, opts: { clock?: AuditClock } = {}): Promise<AuditLog> {
    await mkdir(dirname(file), { recursive: true });
    const fh = await open(file, 'a+');
    try {
      const bytes = (await fh.stat()).size;
      const state = { seq: 0, hash: GENESIS_HASH, bytes, headSeq: 0 };
      if (bytes > 0) {
        const last = await readLastLines(fh, bytes, 1);
        if (last.torn) {
          throw new Error(
            `audit log ${file}: the last line has no trailing newline (a torn write, probably from a crash); ${verifyHint(file)}`,
          );
        }
        const line = last.lines[0] ?? Buffer.alloc(0);
        const record = parseRecord(line.toString('utf8'));
        if (typeof record === 'string') {
          throw new Error(`audit log ${file}: the last line is corrupt (${record}); ${verifyHint(file)}`);
        }
        state.seq = record.seq;
        state.hash = sha256(line);
      }
      const head = await readHead(file);
      if (head !== null) {
        // A head ahead of the log means lines were removed; continuing would re-use their seqs and hide that.
        if (head.seq > state.seq) {
          throw new Error(
            `audit log ${file}: the log ends at seq ${state.seq} but ${file}.head records seq ${head.seq}, ` +
              `so the tail was truncated; ${verifyHint(file)}`,
          );
        }
        if (head.seq === state.seq && head.hash !== state.hash) {
          throw new Error(
            `audit log ${file}: the last line (seq ${state.seq}) does not match the hash in ${file}.head, ` +
              `so it was altered; ${verifyHint(file)}`,
          );
        }
        state.headSeq = head.seq;
      }
      return new AuditLog(file, fh, opts.clock ?? Date, state);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Synchronous and cheap: the line is hashed and queued here, written in batches later. */
  append(event: AuditEvent): AuditRecord {
    if (this.closed) throw new Error(`audit log ${this.file} is closed`);
    // verify rejects a line without a string kind, so never write one.
    if (typeof event.kind !== 'string') throw new TypeError('audit event needs a string "kind"');
    if (this.failure !== null) {
      throw new Error(`audit log ${this.file} failed to write earlier, refusing to continue: ${this.failure.message}`, {
        cause: this.failure,
      });
    }
    const seq = this.seq + 1;
    const at = this.isoNow();
    const prev = this.lastHash;
    const fields = withoutChainFields(event);
    const flat = isFlatJson(fields);
    let body: string;
    try {
      body = flat ? JSON.stringify(fields) : JSON.stringify(fields, jsonSafe);
    } catch (err) {
      throw new Error(`audit event "${String(event.kind)}" is not JSON-serialisable: ${errorMessage(err)}`);
    }
    // Built by hand so seq/at/prev always lead, even before integer-like event keys; `kind`
    // guarantees body is a non-empty object.
    const line = `{"seq":${seq},"at":"${at}","prev":"${prev}",${body.slice(1)}`;

    this.seq = seq;
    this.lastHash = sha256(line);
    this.pending.push(line);
    this.pendingChars += line.length + 1;
    if (this.pendingChars >= HIGH_WATER_CHARS && this.inFlight === null) {
      this.startWrite();
    } else if (!this.scheduled && this.inFlight === null) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.startWrite();
      });
    }
    // Flat events serialise to exactly their values; others are re-read so the record matches the disk.
    return flat ? { seq, at, prev, ...fields } : (JSON.parse(line) as AuditRecord);
  }

  /** Resolves once every line appended before the call is written, datasynced and in the head file. */
  flush(): Promise<void> {
    const target = this.seq;
    const run = this.flushChain.then(() => this.flushTo(target));
    // Keep the chain alive after a failure; the failure itself is reported by `run`.
    this.flushChain = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.flush();
    } finally {
      await this.fh.close();
    }
  }

  /** The last n records in order, oldest first (for `/audit [n]`). */
  async tail(n: number): Promise<AuditRecord[]> {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`tail(n): n must be a non-negative integer, got ${n}`);
    if (!this.closed) await this.flush();
    if (n === 0 || this.writtenBytes === 0) return [];
    // A separate handle: reads never move or block the append handle.
    const reader = await open(this.file, 'r');
    try {
      const { lines } = await readLastLines(reader, this.writtenBytes, n);
      return lines.map((line) => {
        const record = parseRecord(line.toString('utf8'));
        if (typeof record === 'string') throw new Error(`audit log ${this.file}: ${record}; ${verifyHint(this.file)}`);
        return record;
      });
    } finally {
      await reader.close();
    }
  }

  private isoNow(): string {
    const ms = this.clock.now();
    // Many appends share a millisecond at high rates; formatting a Date is the costly part.
    if (ms !== this.lastAtMs) {
      this.lastAtMs = ms;
      this.lastAt = new Date(ms).toISOString();
    }
    return this.lastAt;
  }

  /** One write in flight at a time, each taking the whole queue, so lines can never reorder. */
  private startWrite(): void {
    if (this.inFlight !== null || this.pending.length === 0 || this.failure !== null) return;
    const data = Buffer.from(`${this.pending.join('\n')}\n`, 'utf8');
    const seq = this.seq;
    const hash = this.lastHash;
    this.pending = [];
    this.pendingChars = 0;
    this.inFlight = writeAll(this.fh, data).then(
      () => {
        this.writtenSeq = seq;
        this.writtenHash = hash;
        this.writtenBytes += data.length;
        this.inFlight = null;
        // Lines queued meanwhile form the next batch; no immediate was scheduled for them.
        this.startWrite();
      },
      (err: unknown) => {
        // A partial write leaves the chain unknowable from here; stop rather than write past it.
        this.failure = err instanceof Error ? err : new Error(String(err));
        this.inFlight = null;
      },
    );
  }

  private async flushTo(target: number): Promise<void> {
    while (this.writtenSeq < target && this.failure === null) {
      this.startWrite();
      if (this.inFlight === null) break;
      await this.inFlight;
    }
    if (this.failure !== null) throw new Error(`audit log ${this.file}: write failed: ${this.failure.message}`, { cause: this.failure });
    const seq = this.writtenSeq;
    const hash = this.writtenHash;
    if (seq <= this.syncedSeq) return;
    await this.fh.datasync();
    await writeHeadFile(this.file, seq, hash);
    this.syncedSeq = seq;
  }
}

/** Verify the whole chain, streaming; reports the first problem as a one-line message for an operator. */
export async function verifyAuditLog(file: string): Promise<VerifyResult> {
  const loaded = await loadHead(file);
  const head = loaded === 'corrupt' ? null : loaded;
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (err) {
    if (isNotFound(err) && head !== null && head.seq > 0) {
      const problem = `the log file is missing but ${file}.head records seq ${head.seq}: the log was deleted`;
      return { ok: false, lines: 0, firstBadLine: 1, problem };
    }
    throw err;
  }
  const torn = size > 0 && !(await endsWithNewline(file, size));

  const checker = new ChainChecker(head);
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  // Lag by one line so the checker knows which line is the last (a torn line is only fatal there).
  let held: string | null = null;
  let count = 0;
  try {
    for await (const line of rl) {
      if (held !== null && checker.feed(held, false)) break;
      held = line;
      count += 1;
    }
  } finally {
    rl.close();
  }
  if (checker.result === null && held !== null) checker.feed(held, true, torn);
  if (checker.result !== null) return checker.result;
  if (loaded === 'corrupt') {
    // The chain is fine but nothing vouches for its end.
    const problem = `the head file ${file}.head is corrupt, so a truncated tail cannot be ruled out after line ${count}`;
    return { ok: false, lines: count, firstBadLine: count + 1, problem };
  }
  return checker.finish(count);
}

/** Checks lines in order; `result` is set at the first problem. */
class ChainChecker {
  result: Extract<VerifyResult, { ok: false }> | null = null;
  private lineNo = 0;
  private prevHash = GENESIS_HASH;
  /** Line whose successor's prev did not match it; confirmed or widened by the next line. */
  private suspect: number | null = null;

  constructor(private readonly head: Head | null) {}

  /** Returns true once a verdict is reached and reading can stop. */
  feed(line: string, isLast: boolean, torn = false): boolean {
    this.lineNo += 1;
    const n = this.lineNo;
    if (isLast && torn) {
      return this.fail(n, `line ${n} has no trailing newline: a torn write, probably from a crash; remove that partial line`);
    }
    const record = parseRecord(line);
    if (typeof record === 'string') return this.fail(n, `line ${n}: ${record}`);
    if (record.seq !== n) {
      const gap = record.seq - n;
      const why =
        gap === 1 ? 'a line is missing' : gap > 1 ? `${gap} lines are missing` : 'a line is duplicated or out of order';
      return this.fail(n, `line ${n}: expected seq ${n}, found ${record.seq} — ${why}`);
    }
    const hash = sha256(line);
    const prevOk = record.prev === this.prevHash;
    const headHere = this.head !== null && this.head.seq === n;
    const headOk = headHere && hash === this.head?.hash;

    if (this.suspect !== null) {
      // Line n-1's prev did not match line n-2 (= k). If line n's prev matches n-1, line n-1 is intact, so k was edited.
      const k = this.suspect;
      return prevOk
        ? this.fail(k, `line ${k} was altered: line ${k + 1}'s prev hash does not match it`)
        : this.fail(k, `line ${k} or line ${k + 1} was altered: line ${k + 1}'s prev hash does not match line ${k}, and line ${n}'s does not match line ${k + 1}`);
    }
    if (!prevOk) {
      if (n === 1) return this.fail(1, 'line 1 was altered: its prev hash is not the 64 zeros that start the chain');
      const k = n - 1;
      // Line n is proven intact only by a successor or by the head file; without either it is ambiguous.
      if (headOk) return this.fail(k, `line ${k} was altered: line ${n}'s prev hash does not match it`);
      if (headHere) return this.fail(k, `line ${k} or line ${n} was altered: line ${n}'s prev hash does not match line ${k}, and line ${n} does not match the head file`);
      if (isLast) return this.fail(k, `line ${k} or line ${n} (the last) was altered: line ${n}'s prev hash does not match line ${k}`);
      this.suspect = k;
    } else if (headHere && !headOk) {
      return this.fail(n, `line ${n} was altered: it does not match the hash in the head file`);
    }
    this.prevHash = hash;
    return false;
  }

  finish(lines: number): VerifyResult {
    if (this.head !== null && this.head.seq > lines) {
      const missing = this.head.seq - lines;
      return {
        ok: false,
        lines,
        firstBadLine: lines + 1,
        problem: `the log ends at line ${lines} but its head file records seq ${this.head.seq}: the tail was truncated (${missing} line${missing === 1 ? '' : 's'} missing)`,
      };
    }
    return { ok: true, lines, head: this.prevHash };
  }

  private fail(line: number, problem: string): true {
    this.result = { ok: false, lines: this.lineNo, firstBadLine: line, problem };
    return true;
  }
}

/** The event's own fields, minus any that would collide with the chain fields. */
function withoutChainFields(event: AuditEvent): AuditEvent {
  if (!Object.hasOwn(event, 'seq') && !Object.hasOwn(event, 'at') && !Object.hasOwn(event, 'prev')) return event;
  const { seq: _seq, at: _at, prev: _prev, ...rest } = event;
  return rest as AuditEvent;
}

/** True when JSON.stringify needs no replacer and keeps every value exactly (the common, fast case). */
function isFlatJson(fields: AuditEvent): boolean {
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    const type = typeof value;
    if (type === 'string' || type === 'boolean' || value === null) continue;
    if (type === 'number' && Number.isFinite(value)) continue;
    return false;
  }
  return true;
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  // An error's stack and own props can carry secrets and are noise in an audit line.
  if (value instanceof Error) return value.message;
  return value;
}

/** Parse one line into a record, or describe why it is not one. */
function parseRecord(line: string): AuditRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not valid JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const r = value as Record<string, unknown>;
  if (typeof r.seq !== 'number' || !Number.isInteger(r.seq) || r.seq < 1) return 'seq is not a positive integer';
  if (typeof r.at !== 'string') return 'at is not a string';
  if (typeof r.prev !== 'string' || !HEX64.test(r.prev)) return 'prev is not a sha256 hex hash';
  if (typeof r.kind !== 'string') return 'kind is not a string';
  return r as AuditRecord;
}

/**
 * The last n complete lines (as bytes, oldest first) of the first `end` bytes, reading backwards
 * in growing chunks so a big log costs only its tail. `torn` when byte end-1 is not a newline.
 */
async function readLastLines(fh: FileHandle, end: number, n: number): Promise<{ lines: Buffer[]; torn: boolean }> {
  let start = end;
  let buf = Buffer.alloc(0);
  let chunk = TAIL_CHUNK;
  for (;;) {
    const size = Math.min(chunk, start);
    start -= size;
    const part = Buffer.allocUnsafe(size);
    await readAll(fh, part, start);
    buf = Buffer.concat([part, buf]);
    if (buf[buf.length - 1] !== NEWLINE) return { lines: [], torn: true };
    const lines = splitLastLines(buf, n, start === 0);
    if (lines !== null) return { lines, torn: false };
    chunk *= 2;
  }
}

/** Split off the last n lines of buf (which ends in a newline); null if buf may start mid-line and holds too few. */
function splitLastLines(buf: Buffer, n: number, atFileStart: boolean): Buffer[] | null {
  const lines: Buffer[] = [];
  let lineEnd = buf.length - 1;
  while (lines.length < n) {
    const nl = lineEnd > 0 ? buf.lastIndexOf(NEWLINE, lineEnd - 1) : -1;
    if (nl === -1) {
      if (!atFileStart) return null;
      lines.push(buf.subarray(0, lineEnd));
      break;
    }
    lines.push(buf.subarray(nl + 1, lineEnd));
    lineEnd = nl;
  }
  return lines.reverse();
}

async function readAll(fh: FileHandle, into: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await fh.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new Error('audit log shrank while being read');
    done += bytesRead;
  }
}

async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  let done = 0;
  // write() may be partial; the file is in append mode so each piece lands at the end in order.
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done);
    done += bytesWritten;
  }
}

async function endsWithNewline(file: string, size: number): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const last = Buffer.alloc(1);
    await readAll(fh, last, size - 1);
    return last[0] === NEWLINE;
  } finally {
    await fh.close();
  }
}

/** Atomic replace: a crash leaves either the old or the new head, never half of one. */
async function writeHeadFile(file: string, seq: number, hash: string): Promise<void> {
  const tmp = `${file}.head.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(`${JSON.stringify({ seq, hash })}\n`, 'utf8');
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, `${file}.head`);
}

interface Head {
  seq: number;
  hash: string;
}

async function readHead(file: string): Promise<Head | null> {
  const head = await loadHead(file);
  if (head === 'corrupt') throw new Error(`audit head file ${file}.head is corrupt; ${verifyHint(file)}`);
  return head;
}

async function loadHead(file: string): Promise<Head | null | 'corrupt'> {
  let text: string;
  try {
    text = await readFile(`${file}.head`, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'corrupt';
  }
  if (typeof value !== 'object' || value === null) return 'corrupt';
  const { seq, hash } = value as { seq?: unknown; hash?: unknown };
  if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0) return 'corrupt';
  if (typeof hash !== 'string' || !HEX64.test(hash)) return 'corrupt';
  return { seq, hash };
}

function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOENT';
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
