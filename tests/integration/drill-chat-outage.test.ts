import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import digest from '../../plugins/digest/index.js';
import market from '../../plugins/market/index.js';
import { ManualClock } from '../../src/kernel/clock.js';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { OUTBOX_MAX_AGE_MS } from '../../src/kernel/outbox.js';
import type { Block, Reply } from '../../src/kernel/reply.js';
import type { KernelStore } from '../../src/kernel/store.js';
import { FlakyChat } from '../helpers/flaky-chat.js';
import { testConfig } from '../helpers/kernel.js';
import { sharedDataDir } from '../helpers/recorded.js';
import { storeFixtures } from '../helpers/stores.js';

/**
 * Fault drill: a chat platform answers 5xx for minutes. What the desk posts there on its own —
 * alerts, halt notices, digests (with their chart) — waits in the outbox in the kernel store, and
 * is delivered once each, in order, when the platform answers again; the healthy platform gets
 * every post at once meanwhile. A restart on the same store sends the queue once; a post older
 * than the outbox's max age is dropped with a log line and an audit line.
 *
 * The outbox retries on a timer too (every 30 s); these tests drive it with outbox.flush() and
 * only assert what holds whether or not the timer also ran.
 */

const T0 = Date.UTC(2026, 10, 27, 9, 0, 0);
const DIGEST = { name: 'morning', cron: '0 8 * * *', kind: 'digest', targets: ['flaky:desk', 'steady:desk'] };

interface Desk {
  kernel: Kernel;
  clock: ManualClock;
  logs: Array<Record<string, unknown>>;
  say(person: string, text: string): Promise<Reply | null>;
}

// stores are closed after each test, once the desks on them have stopped
const stores = storeFixtures('outbox');
const running: Kernel[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()?.stop();
});

let msg = 0;
async function desk(opts: { store?: KernelStore; at?: number } = {}): Promise<Desk> {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const clock = new ManualClock(opts.at ?? T0);
  const config = testConfig({
    market: { dir: sharedDataDir() },
    trading: { pollMs: 0, notify: ['flaky:desk', 'steady:desk'] },
    alerts: { rules: [{ channel: 'flaky:desk', kinds: ['whale'], minSeverity: 'info' }, { channel: 'steady:desk', kinds: ['whale'], minSeverity: 'info' }] },
    schedules: [DIGEST],
  });
  const kernel = await Kernel.start({
    config,
    secrets: readSecrets({}),
    logger: pino({ level: 'info' }, sink),
    clock,
    plugins: [market, digest],
    discover: false,
    ...(opts.store ? { store: opts.store } : {}),
  });
  running.push(kernel);
  return {
    kernel,
    clock,
    logs,
    say: (person, text) => kernel.handle({ platform: 'console', id: `m${++msg}`, userId: person, channelId: 'terminal', text }),
  };
}

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0xff, 0x00, 0x7f, 0x80]);
function withImage(text: string): Reply {
  return { blocks: [{ type: 'text', text }, { type: 'image', png: PNG, alt: 'equity curve', filename: 'equity.png' }] };
}

function images(r: Reply): Array<Extract<Block, { type: 'image' }>> {
  return r.blocks.filter((b): b is Extract<Block, { type: 'image' }> => b.type === 'image');
}

describe('drill: a chat platform answers 5xx for minutes', () => {
  it('alerts, the halt notice and the digest wait in the outbox, in order; the other platform gets each at once; each is delivered once when the platform is back', async () => {
    const d = await desk();
    const flaky = new FlakyChat('flaky');
    const steady = new FlakyChat('steady');
    await d.kernel.attach(flaky);
    await d.kernel.attach(steady);
    flaky.down();

    // an alert: the healthy platform has it; the failing one did not take it, and the router says so
    const whale = await d.kernel.alerts.raise({ kind: 'whale', severity: 'warning', symbol: 'BTC/USDT', title: 'whale 1: 120 BTC bought' });
    expect(whale.delivered).toEqual(['steady:desk']);
    expect(whale.held).toEqual([{ channel: 'flaky:desk', why: 'not delivered: flaky: 503 Service Unavailable' }]);

    // the kill switch: its notice reaches steady at once and queues behind the alert on flaky
    const halted = await d.say('ann', '/halt chat outage drill');
    expect(JSON.stringify(halted)).toContain('HALTED by ann');
    await vi.waitFor(() => expect(steady.texts().some((t) => t.includes('TRADING HALTED by ann'))).toBe(true), { timeout: 10_000 });
    const haltAlert = await vi.waitFor(
      () => {
        const latest = d.kernel.alerts.latest(1)[0];
        expect(latest?.kind).toBe('halt');
        return latest;
      },
      { timeout: 10_000 },
    );
    expect(d.kernel.outbox.size('flaky')).toBe(2);
    expect(haltAlert?.held).toEqual([{ channel: 'flaky:desk', why: 'not delivered: flaky: 503 Service Unavailable' }]);

    // the digest (with its chart) and one more post with an image
    expect(await d.kernel.jobs.runNow('morning')).toBe(true);
    const equity = await d.kernel.post('flaky:desk', withImage('equity report'));
    expect(equity).toEqual({ ok: false, error: 'flaky: 503 Service Unavailable' });
    expect(await d.kernel.post('steady:desk', withImage('equity report'))).toEqual({ ok: true });

    expect(steady.texts()).toEqual([
      '⚠ [whale BTC/USDT] whale 1: 120 BTC bought',
      expect.stringContaining('TRADING HALTED by ann: chat outage drill'),
      expect.stringContaining('Desk digest'),
      'equity report',
    ]);
    expect(flaky.delivered).toHaveLength(0);
    expect(flaky.attempts).toBeGreaterThanOrEqual(4);

    // what waits, from the store: oldest first, with attempts, first failure and the last error
    const waiting = await d.kernel.outbox.pending('flaky');
    expect(waiting.map((p) => textOf(p.reply))).toEqual([
      '⚠ [whale BTC/USDT] whale 1: 120 BTC bought',
      expect.stringContaining('TRADING HALTED by ann'),
      expect.stringContaining('Desk digest'),
      'equity report',
    ]);
    expect(waiting.every((p) => p.channel.platform === 'flaky' && p.channel.channelId === 'desk')).toBe(true);
    expect(waiting[0]?.attempts).toBeGreaterThanOrEqual(1);
    expect(waiting[0]?.firstFailureAt).toBe(T0);
    expect(waiting[0]?.lastError).toBe('flaky: 503 Service Unavailable');
    // images survive the store round trip byte for byte (base64 inside)
    const digestChart = images(waiting[2]?.reply ?? { blocks: [] })[0];
    expect(digestChart?.alt).toMatch(/^BTC\/USDT 1h/);
    expect(digestChart?.png).toBeInstanceOf(Uint8Array);
    expect(digestChart?.png.subarray(0, 8)).toEqual(PNG.subarray(0, 8)); // a real PNG signature
    expect(images(waiting[3]?.reply ?? { blocks: [] })[0]).toEqual({ type: 'image', png: PNG, alt: 'equity curve', filename: 'equity.png' });

    // still down: a retry round delivers nothing and keeps the order
    d.clock.advance(5 * 60_000);
    const stillDown = await d.kernel.outbox.flush();
    expect(stillDown.delivered).toBe(0);
    expect(stillDown.failed).toEqual([{ target: 'flaky:desk', error: 'flaky: 503 Service Unavailable' }]);
    expect(d.kernel.outbox.size('flaky')).toBe(4);

    // the platform answers again: one round delivers each once, in order, and empties the queue
    flaky.up();
    await d.kernel.outbox.flush();
    expect(flaky.texts()).toEqual([
      '⚠ [whale BTC/USDT] whale 1: 120 BTC bought',
      expect.stringContaining('TRADING HALTED by ann: chat outage drill'),
      expect.stringContaining('Desk digest'),
      'equity report',
    ]);
    expect(images(flaky.delivered[3]?.reply ?? { blocks: [] })[0]?.png).toEqual(PNG);
    expect(d.kernel.outbox.size()).toBe(0);
    expect(await d.kernel.outbox.pending()).toEqual([]);
    // nothing twice: another round (or the timer) has nothing to send
    expect((await d.kernel.outbox.flush()).delivered).toBe(0);
    expect(flaky.delivered).toHaveLength(4);
    expect(steady.delivered).toHaveLength(4);

    // the record: four queued, four delivered
    await d.kernel.audit.flush();
    const audit = (await d.kernel.audit.tail(200)).filter((a) => a.kind === 'outbox');
    expect(audit.filter((a) => a['event'] === 'queued').map((a) => a['target'])).toEqual(['flaky:desk', 'flaky:desk', 'flaky:desk', 'flaky:desk']);
    expect(audit.filter((a) => a['event'] === 'delivered')).toHaveLength(4);
    expect(d.logs.filter((l) => l['msg'] === 'queued post delivered')).toHaveLength(4);
  });

  it('a platform that fails twice then works: the rounds that fail keep the post, the next one delivers it once', async () => {
    const d = await desk();
    const flaky = new FlakyChat('flaky');
    await d.kernel.attach(flaky);
    flaky.failNext(3); // the post itself, then two retry rounds
    expect((await d.kernel.post('flaky:desk', { blocks: [{ type: 'text', text: 'digest' }] })).ok).toBe(false);
    for (let round = 0; flaky.delivered.length === 0 && round < 10; round++) await d.kernel.outbox.flush('flaky');
    expect(flaky.texts()).toEqual(['digest']);
    expect(flaky.attempts).toBe(4);
    expect((await d.kernel.outbox.flush()).delivered).toBe(0);
    expect(flaky.texts()).toEqual(['digest']);
  });

  it('a new post to a channel with posts waiting goes behind them; when the platform is back it goes out with them, in order', async () => {
    const d = await desk();
    const flaky = new FlakyChat('flaky');
    await d.kernel.attach(flaky);
    flaky.down();
    expect((await d.kernel.post('flaky:desk', { blocks: [{ type: 'text', text: 'first' }] })).ok).toBe(false);
    flaky.up();
    // no retry round has run yet: the next post does not overtake the waiting one
    expect(await d.kernel.post('flaky:desk', { blocks: [{ type: 'text', text: 'second' }] })).toEqual({ ok: true });
    expect(flaky.texts()).toEqual(['first', 'second']);
    expect(d.kernel.outbox.size()).toBe(0);
  });

  it('one channel the bot was removed from does not hold back the platform\'s other channels', async () => {
    const d = await desk();
    const flaky = new FlakyChat('flaky');
    await d.kernel.attach(flaky);
    flaky.refuse.add('gone');
    expect((await d.kernel.post('flaky:gone', { blocks: [{ type: 'text', text: 'to a channel we left' }] })).ok).toBe(false);
    expect(await d.kernel.post('flaky:desk', { blocks: [{ type: 'text', text: 'to the desk' }] })).toEqual({ ok: true });
    const round = await d.kernel.outbox.flush();
    expect(round.failed).toEqual([{ target: 'flaky:gone', error: 'flaky: 403 Forbidden: bot is not a member of gone' }]);
    expect(flaky.texts('desk')).toEqual(['to the desk']);
  });

  it('posts made before the platform attached are delivered when it attaches', async () => {
    const d = await desk();
    expect(await d.kernel.post('flaky:desk', { blocks: [{ type: 'text', text: 'early notice' }] })).toEqual({ ok: false, error: 'no flaky adapter is attached' });
    const flaky = new FlakyChat('flaky');
    await d.kernel.attach(flaky); // starts a round for that platform
    await d.kernel.outbox.flush(); // waits for it
    expect(flaky.texts()).toEqual(['early notice']);
  });

  it.each(['memory', 'sqlite', 'redis'] as const)('a restart on the same %s store delivers what was queued (images too), once, in order — and the next restart sends nothing again', async (kind) => {
    const store = await stores.open(kind);
    const first = await desk({ store });
    const down = new FlakyChat('flaky');
    await first.kernel.attach(down);
    down.down();
    await first.kernel.alerts.raise({ kind: 'whale', severity: 'warning', title: 'whale before the restart' });
    await first.kernel.orders.halt('ann', 'restart drill');
    await vi.waitFor(() => expect(first.kernel.outbox.size('flaky')).toBe(2), { timeout: 10_000 });
    expect((await first.kernel.post('flaky:desk', withImage('chart before the restart'))).ok).toBe(false);
    await first.kernel.stop();
    running.splice(running.indexOf(first.kernel), 1);

    const second = await desk({ store, at: T0 + 10 * 60_000 });
    expect(second.kernel.outbox.size('flaky')).toBe(3);
    const back = new FlakyChat('flaky');
    await second.kernel.attach(back); // the platform is back: attaching starts a round
    await second.kernel.outbox.flush();
    expect(back.texts()).toEqual(['⚠ [whale] whale before the restart', expect.stringContaining('TRADING HALTED by ann: restart drill'), 'chart before the restart']);
    expect(images(back.delivered[2]?.reply ?? { blocks: [] })[0]?.png).toEqual(PNG);
    await second.kernel.stop();
    running.splice(running.indexOf(second.kernel), 1);

    const third = await desk({ store, at: T0 + 20 * 60_000 });
    const again = new FlakyChat('flaky');
    await third.kernel.attach(again);
    await third.kernel.outbox.flush();
    expect(again.delivered).toHaveLength(0);
    expect(back.delivered).toHaveLength(3);
  });

  it('a post older than the max age (24 h) is dropped with a log line and an audit line, not delivered', async () => {
    const d = await desk();
    const flaky = new FlakyChat('flaky');
    await d.kernel.attach(flaky);
    flaky.down();
    expect((await d.kernel.post('flaky:desk', { blocks: [{ type: 'text', text: "yesterday's digest" }] })).ok).toBe(false);
    d.clock.advance(OUTBOX_MAX_AGE_MS + 60_000);
    flaky.up();
    const round = await d.kernel.outbox.flush();
    expect(round).toMatchObject({ delivered: 0, dropped: 1, remaining: 0 });
    expect(flaky.delivered).toHaveLength(0);
    const dropped = d.logs.find((l) => l['msg'] === 'queued post dropped: older than the outbox max age');
    expect(dropped).toMatchObject({ level: 40, target: 'flaky:desk' });
    await d.kernel.audit.flush();
    expect((await d.kernel.audit.tail(50)).some((a) => a.kind === 'outbox' && a['event'] === 'dropped' && a['why'] === 'too old')).toBe(true);
  });
});

function textOf(r: Reply): string {
  const first = r.blocks.find((b) => b.type === 'text');
  return first?.type === 'text' ? first.text : '';
}
