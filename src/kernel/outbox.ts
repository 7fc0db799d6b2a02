import { randomUUID } from 'node:crypto';
import type Keyv from 'keyv';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Channel } from './auth/principal.js';
import type { Clock } from './clock.js';
import type { Block, Reply } from './reply.js';

/** how often queued posts are retried by default */
export const OUTBOX_RETRY_MS = 30_000;
/** a queued post older than this is dropped (a digest from yesterday is noise) */
export const OUTBOX_MAX_AGE_MS = 24 * 3_600_000;
/** at most this many posts wait per channel; beyond it the oldest is dropped */
export const OUTBOX_MAX_PER_CHANNEL = 200;

export type PostResult = { ok: true } | { ok: false; error: string };

export interface OutboxDeps {
  /** the store namespace the queue lives in (the kernel's 'outbox'); keys are per instance */
  kv: Keyv;
  /** this desk's instance name: instances sharing a Redis keep separate queues */
  instance: string;
  clock: Clock;
  logger: Logger;
  audit(event: { kind: string; [field: string]: unknown }): void;
  /** the attached adapter for a platform, or undefined while none is */
  adapter(platform: string): { post(channel: Channel, reply: Reply): Promise<void> } | undefined;
  /** retry round interval; default OUTBOX_RETRY_MS; 0: no timer (flush() only) */
  retryMs?: number;
  /** default OUTBOX_MAX_AGE_MS */
  maxAgeMs?: number;
  /** default OUTBOX_MAX_PER_CHANNEL */
  maxPerChannel?: number;
}

/** a post waiting in the outbox, as pending() lists it */
export interface QueuedPost {
  id: string;
  channel: Channel;
  reply: Reply;
  /** when the desk first tried (or wanted) to post it */
  queuedAt: number;
  /** failed delivery attempts so far */
  attempts: number;
  /** when an attempt first failed (null: queued behind others, or before its platform attached) */
  firstFailureAt: number | null;
  lastError: string | null;
}

export interface FlushReport {
  delivered: number;
  dropped: number;
  /** channels ("platform:channel") whose oldest post failed again in this round, with the error */
  failed: Array<{ target: string; error: string }>;
  /** posts still waiting after the round */
  remaining: number;
}

const channelSchema = z.object({ platform: z.string().min(1), channelId: z.string().min(1), threadId: z.string().optional() });
const indexSchema = z.array(z.object({ id: z.string(), channel: channelSchema, queuedAt: z.number() }));
const storedSchema = z.object({
  id: z.string(),
  channel: channelSchema,
  reply: z.object({ blocks: z.array(z.looseObject({ type: z.string() })), private: z.boolean().optional() }),
  queuedAt: z.number(),
  attempts: z.number().int().min(0),
  firstFailureAt: z.number().nullable(),
  lastError: z.string().nullable(),
});
type Stored = z.output<typeof storedSchema>;
type IndexEntry = z.output<typeof indexSchema>[number];

/**
 * The outbox: posts the desk starts (alerts, digests, halt notices) that a chat platform did not
 * take, kept in the kernel store and sent again later, oldest first, once each.
 *
 * post() sends at once when nothing is waiting for that channel. When the adapter fails, or its
 * platform is not attached yet, the post is stored — the reply (images as base64), when it was
 * queued, the attempts and the last error — and post() answers { ok: false, error }: not
 * delivered yet. A post to a channel that already has posts waiting goes behind them (order
 * matters more than speed) and that channel's queue is tried at once: { ok: true } when the
 * platform took all of it, else the error of the oldest post. A retry round (every `retryMs`,
 * when an adapter attaches, or flush()) walks each channel's queue oldest first and stops at that
 * channel's first failure; a delivered post is removed from the store before the next one is
 * sent, so a restart on the same store never sends it again. A post older than `maxAgeMs` is
 * dropped with a log line and an audit line; so is the oldest of a channel past `maxPerChannel`.
 * Queued, delivered and dropped posts are audited (kind "outbox").
 *
 * Queues are per channel, not per platform: one channel the bot can no longer write to (removed
 * from it, a wrong id) must not hold back every other channel of that platform until it ages out.
 * During a whole-platform outage each of its channels is tried once per round.
 *
 * The queue lives under this instance's name: on a shared Redis every running process needs its
 * own `instance`, or two processes would share (and overwrite) one queue.
 *
 * Delivery is at least once only where the platform itself is ambiguous: a post the platform took
 * but answered with an error (a timeout after accepting it) is sent again, and a removal the store
 * could not write (store down right after a delivery) is retried by the next process.
 */
export class Outbox {
  private index: IndexEntry[] = [];
  private readonly retryMs: number;
  private readonly maxAgeMs: number;
  private readonly maxPerChannel: number;
  /** every store write in call order: an entry is written before it is in the index */
  private writes: Promise<unknown> = Promise.resolve();
  /** posts being written to the store, per channel ("platform:channel" → count) */
  private readonly storing = new Map<string, number>();
  /** one retry round per channel at a time ("platform:channel" → its tail) */
  private readonly rounds = new Map<string, Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private loaded = false;

  constructor(private readonly d: OutboxDeps) {
    this.retryMs = d.retryMs ?? OUTBOX_RETRY_MS;
    this.maxAgeMs = d.maxAgeMs ?? OUTBOX_MAX_AGE_MS;
    this.maxPerChannel = d.maxPerChannel ?? OUTBOX_MAX_PER_CHANNEL;
  }

  /** Read what a previous process left queued. An unreadable index is reported and started afresh. */
  async load(): Promise<void> {
    if (this.loaded) return;
    const raw: unknown = await this.d.kv.get(this.indexKey());
    const parsed = indexSchema.safeParse(raw ?? []);
    if (parsed.success) {
      this.index = parsed.data;
    } else {
      this.d.logger.error('outbox index is unreadable; queued posts from before are lost');
      this.d.audit({ kind: 'outbox', event: 'unreadable-index' });
      this.index = [];
    }
    this.loaded = true;
    if (this.index.length > 0) this.d.logger.warn({ queued: this.index.length }, 'posts queued before the restart will be sent when their platforms answer');
  }

  /** retry rounds every retryMs (unref'd: never keeps the process alive) */
  start(): void {
    if (this.retryMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      this.flush(undefined, { skipBusy: true }).catch((err: unknown) => this.d.logger.warn({ err }, 'outbox retry round failed'));
    }, this.retryMs);
    this.timer.unref();
  }

  /** stop the timer and wait for rounds and writes in progress; the queue stays in the store */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.rounds.values()]);
    await this.writes.catch(() => undefined);
  }

  /** Send now, or queue it (never throws). */
  async post(channel: Channel, reply: Reply): Promise<PostResult> {
    const adapter = this.d.adapter(channel.platform);
    if (!adapter) return { ok: false, error: (await this.enqueue(channel, reply, { error: `no ${channel.platform} adapter is attached`, failed: false })).error };
    if (this.waiting(channel)) {
      // older posts wait for this channel: this one goes behind them, and they are tried now
      const queued = await this.enqueue(channel, reply, { error: null, failed: false });
      if (queued.id === undefined) return { ok: false, error: queued.error };
      const report = emptyReport();
      await this.drain(channel, report);
      if (!this.index.some((e) => e.id === queued.id)) return { ok: true };
      const failed = report.failed[0];
      return { ok: false, error: failed?.error ?? `queued behind earlier posts to ${targetOf(channel)} that are not delivered yet` };
    }
    try {
      await adapter.post(channel, reply);
      return { ok: true };
    } catch (err) {
      const error = messageOf(err);
      this.d.logger.warn({ err, platform: channel.platform, channel: channel.channelId }, 'post failed');
      const queued = await this.enqueue(channel, reply, { error, failed: true });
      return { ok: false, error: queued.error };
    }
  }

  /**
   * One retry round: every channel of every platform (or of `platform`), each queue oldest first,
   * stopping at that channel's first failure; posts older than the max age are dropped. Resolves
   * when the round is done (a round already running for a channel is waited for first).
   */
  async flush(platform?: string, opts: { skipBusy?: boolean } = {}): Promise<FlushReport> {
    const report = emptyReport();
    const channels: Channel[] = [];
    for (const e of this.index) {
      if (platform !== undefined && e.channel.platform !== platform) continue;
      if (!channels.some((c) => sameChannel(c, e.channel))) channels.push(e.channel);
    }
    for (const c of channels) await this.drain(c, report, opts.skipBusy);
    report.remaining = this.index.length;
    return report;
  }

  /** What is waiting, oldest first (read from the store). */
  async pending(platform?: string): Promise<QueuedPost[]> {
    const out: QueuedPost[] = [];
    for (const e of this.index) {
      if (platform !== undefined && e.channel.platform !== platform) continue;
      const s = await this.read(e);
      if (s) out.push(decode(s));
    }
    return out;
  }

  /** how many posts wait (all platforms, or one), from memory */
  size(platform?: string): number {
    return platform === undefined ? this.index.length : this.index.filter((e) => e.channel.platform === platform).length;
  }

  /** posts wait for this channel, or are being stored for it */
  private waiting(channel: Channel): boolean {
    return (this.storing.get(targetOf(channel)) ?? 0) > 0 || this.index.some((e) => sameChannel(e.channel, channel));
  }

  /** store it behind what waits for its channel; `error` null: queued behind others, not tried */
  private async enqueue(channel: Channel, reply: Reply, why: { error: string | null; failed: boolean }): Promise<{ id?: string; error: string }> {
    const target = targetOf(channel);
    this.storing.set(target, (this.storing.get(target) ?? 0) + 1);
    try {
      return await this.store(channel, reply, why);
    } finally {
      const left = (this.storing.get(target) ?? 1) - 1;
      if (left > 0) this.storing.set(target, left);
      else this.storing.delete(target);
    }
  }

  private async store(channel: Channel, reply: Reply, why: { error: string | null; failed: boolean }): Promise<{ id?: string; error: string }> {
    const target = targetOf(channel);
    const now = this.d.clock.now();
    const stored: Stored = {
      id: `${now.toString(36)}-${randomUUID().slice(0, 8)}`,
      channel: copyChannel(channel),
      reply: encodeReply(reply),
      queuedAt: now,
      attempts: why.failed ? 1 : 0,
      firstFailureAt: why.failed ? now : null,
      lastError: why.error,
    };
    try {
      await this.write(async () => {
        await this.set(this.entryKey(stored.id), stored);
        // the in-memory index changes synchronously (rounds read it live); the store gets a snapshot
        this.index.push({ id: stored.id, channel: stored.channel, queuedAt: now });
        const mine = this.index.filter((e) => sameChannel(e.channel, channel));
        const gone = mine.slice(0, Math.max(0, mine.length - this.maxPerChannel));
        if (gone.length > 0) this.index = this.index.filter((e) => !gone.includes(e));
        try {
          await this.set(this.indexKey(), this.index);
        } catch (err) {
          this.index = this.index.filter((e) => e.id !== stored.id);
          await this.d.kv.delete(this.entryKey(stored.id)).catch(() => undefined);
          throw err;
        }
        for (const g of gone) {
          await this.d.kv.delete(this.entryKey(g.id)).catch(() => undefined);
          this.d.logger.warn({ target, id: g.id }, `queued post dropped: more than ${this.maxPerChannel} waiting for that channel`);
          this.d.audit({ kind: 'outbox', event: 'dropped', id: g.id, target, why: 'queue full', queuedAt: g.queuedAt });
        }
      });
    } catch (err) {
      this.d.logger.error({ err, target }, 'post not delivered and could not be queued');
      return { error: `${why.error ?? 'not sent'}; it could not be queued either (${messageOf(err)})` };
    }
    this.d.logger.warn({ target, id: stored.id, error: why.error }, 'post queued in the outbox');
    this.d.audit({ kind: 'outbox', event: 'queued', id: stored.id, target, error: why.error });
    return { id: stored.id, error: why.error ?? 'queued' };
  }

  /** one channel's queue, oldest first, under that channel's lock */
  private async drain(channel: Channel, report: FlushReport, skipBusy = false): Promise<void> {
    const key = targetOf(channel);
    const busy = this.rounds.get(key);
    if (busy && skipBusy) return;
    const run = (busy ?? Promise.resolve()).then(() => this.drainNow(channel, report));
    const tail = run.catch(() => undefined);
    this.rounds.set(key, tail);
    void tail.then(() => {
      if (this.rounds.get(key) === tail) this.rounds.delete(key);
    });
    await run;
  }

  private async drainNow(channel: Channel, report: FlushReport): Promise<void> {
    const target = targetOf(channel);
    // posts still being stored are part of the queue: wait until they are in the index
    await this.writes.catch(() => undefined);
    for (;;) {
      const next = this.index.find((e) => sameChannel(e.channel, channel));
      if (!next) return;
      const now = this.d.clock.now();
      if (now - next.queuedAt > this.maxAgeMs) {
        await this.remove(next);
        report.dropped++;
        this.d.logger.warn({ target, id: next.id, ageMs: now - next.queuedAt }, 'queued post dropped: older than the outbox max age');
        this.d.audit({ kind: 'outbox', event: 'dropped', id: next.id, target, why: 'too old', queuedAt: next.queuedAt });
        continue;
      }
      // looked up each time: the platform may attach (or be stopped) while a round runs
      const adapter = this.d.adapter(channel.platform);
      if (!adapter) return;
      let stored: Stored | undefined;
      try {
        stored = await this.read(next);
      } catch (err) {
        this.d.logger.warn({ err, target }, 'outbox unreadable (store error); retrying next round');
        report.failed.push({ target, error: `the outbox could not be read: ${messageOf(err)}` });
        return;
      }
      if (!stored) {
        await this.remove(next);
        report.dropped++;
        this.d.logger.error({ target, id: next.id }, 'queued post is unreadable; dropped');
        this.d.audit({ kind: 'outbox', event: 'dropped', id: next.id, target, why: 'unreadable' });
        continue;
      }
      const post = decode(stored);
      try {
        await adapter.post(post.channel, post.reply);
      } catch (err) {
        const error = messageOf(err);
        report.failed.push({ target, error });
        const again: Stored = { ...stored, attempts: stored.attempts + 1, firstFailureAt: stored.firstFailureAt ?? this.d.clock.now(), lastError: error };
        await this.write(() => this.set(this.entryKey(stored.id), again)).catch((e: unknown) => this.d.logger.warn({ err: e, target }, 'outbox attempt count not saved'));
        this.d.logger.warn({ err, target, id: stored.id, attempts: again.attempts }, 'queued post still not delivered');
        return;
      }
      // out of the index before the next send, so neither this process nor a restart sends it again
      await this.remove(next).catch((err: unknown) => this.d.logger.error({ err, target, id: next.id }, 'delivered post could not be removed from the outbox; a restart may send it again'));
      report.delivered++;
      const waitedMs = this.d.clock.now() - stored.queuedAt;
      this.d.logger.info({ target, id: stored.id, attempts: stored.attempts + 1, waitedMs }, 'queued post delivered');
      this.d.audit({ kind: 'outbox', event: 'delivered', id: stored.id, target, attempts: stored.attempts + 1, waitedMs });
    }
  }

  private async read(e: IndexEntry): Promise<Stored | undefined> {
    const raw: unknown = await this.d.kv.get(this.entryKey(e.id));
    const parsed = storedSchema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  }

  /** out of the in-memory index at once (this process never sends it again), then out of the store */
  private remove(e: IndexEntry): Promise<void> {
    this.index = this.index.filter((x) => x.id !== e.id);
    return this.write(async () => {
      await this.set(this.indexKey(), this.index);
      await this.d.kv.delete(this.entryKey(e.id));
    });
  }

  private write<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writes.then(fn, fn);
    this.writes = run.catch(() => undefined);
    return run;
  }

  private async set(key: string, value: unknown): Promise<void> {
    // throwOnErrors stores throw; others answer false — either way an unsaved post must not look saved
    if ((await this.d.kv.set(key, value)) === false) throw new Error(`the store did not save ${key}`);
  }

  private indexKey(): string {
    return `${this.d.instance}:index`;
  }

  private entryKey(id: string): string {
    return `${this.d.instance}:post:${id}`;
  }
}

function emptyReport(): FlushReport {
  return { delivered: 0, dropped: 0, failed: [], remaining: 0 };
}

function targetOf(c: Channel): string {
  return `${c.platform}:${c.channelId}${c.threadId !== undefined ? `:${c.threadId}` : ''}`;
}

function sameChannel(a: Channel, b: Channel): boolean {
  return a.platform === b.platform && a.channelId === b.channelId && a.threadId === b.threadId;
}

function copyChannel(c: Channel): Channel {
  return c.threadId === undefined ? { platform: c.platform, channelId: c.channelId } : { platform: c.platform, channelId: c.channelId, threadId: c.threadId };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** images as base64: a Uint8Array does not survive JSON (it becomes {"0":137,…}) */
function encodeReply(r: Reply): Stored['reply'] {
  const blocks = r.blocks.map((b) => {
    if (b.type !== 'image') return { ...b };
    const { png, ...rest } = b;
    return { ...rest, pngBase64: Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64') };
  });
  return r.private === undefined ? { blocks } : { blocks, private: r.private };
}

function decode(s: Stored): QueuedPost {
  const blocks = s.reply.blocks.map((b): Block => {
    if (b.type !== 'image') return b as unknown as Block;
    const { pngBase64, ...rest } = b as { pngBase64?: unknown; [k: string]: unknown };
    const png = typeof pngBase64 === 'string' ? new Uint8Array(Buffer.from(pngBase64, 'base64')) : new Uint8Array();
    return { ...(rest as { type: 'image'; alt: string; filename?: string }), png };
  });
  const reply: Reply = s.reply.private === undefined ? { blocks } : { blocks, private: s.reply.private };
  return { id: s.id, channel: copyChannel(s.channel), reply, queuedAt: s.queuedAt, attempts: s.attempts, firstFailureAt: s.firstFailureAt, lastError: s.lastError };
}
