import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import execution from '../../plugins/execution/index.js';
import market from '../../plugins/market/index.js';
import risk from '../../plugins/risk/index.js';
import { createTelegramAdapter, TelegramAdapter } from '../../src/adapters/telegram/index.js';
import { ManualClock } from '../../src/kernel/clock.js';
import { adaptersConfigSchema, type DeskbotConfig } from '../../src/kernel/config/schema.js';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import { block, defineCommand, definePlugin, reply } from '../../src/kernel/index.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { FakeTelegram, privateChat, type FakeChat, type FakeUser, type SentMessage } from '../fakes/telegram/index.js';
import { testConfig } from '../helpers/kernel.js';
import { sharedDataDir } from '../helpers/recorded.js';

/**
 * The Telegram adapter end to end: the real telegraf talks HTTP to a fake Bot API on
 * 127.0.0.1, a real kernel with the market, risk and execution plugins (recorded prices, paper
 * trading) answers. Assertions are on what Telegram would show: the HTML parsed as the Bot API
 * parses it, keyboards, photos, threads.
 */

const TOKEN = '123456789:AAHfakeTokenForTests_abcdefghijklmno';
const ANN: FakeUser = { id: 1001, first_name: 'Ann', username: 'ann_admin' };
const TOM: FakeUser = { id: 2002, first_name: 'Tom', username: 'tom_trades' };
const STRANGER: FakeUser = { id: 9999, first_name: 'Mallory' };
const DESK: FakeChat = { id: -1001234567890, type: 'supergroup', title: 'Trading desk', is_forum: true };
const TOPIC = 42;

/** a command whose reply is a 150-row table, longer than one Telegram message */
const bigTable = definePlugin({
  name: 'bigtable',
  version: '1.0.0',
  setup(ctx) {
    ctx.command(
      defineCommand({
        name: 'bigtable',
        summary: 'A 150-row table (tests)',
        permission: 'market:read',
        handler: () => reply.of(block.table(['#', 'symbol', 'note'], rows150(), { title: 'Everything <&>' })),
      }),
    );
  },
});

function rows150(): string[][] {
  return Array.from({ length: 150 }, (_, i) => [String(i + 1), `SYM${String(i + 1).padStart(3, '0')}/USDT`, `row ${i + 1} & more <text> ${'.'.repeat(30)}`]);
}

interface Rig {
  fake: FakeTelegram;
  kernel: Kernel;
  adapter: TelegramAdapter;
  logs: string[];
  waitLog: Captured['waitLog'];
  config: DeskbotConfig;
}

const rigs: Rig[] = [];
const fakes: FakeTelegram[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.kernel.stop();
  for (const f of fakes.splice(0)) await f.close();
});

interface Captured {
  logger: Logger;
  logs: string[];
  /** resolves at the first log line containing `text` (already written or still to come) */
  waitLog(text: string, timeoutMs?: number): Promise<string>;
}

function capture(): Captured {
  const logs: string[] = [];
  const written = new EventEmitter();
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString());
      written.emit('line');
      done();
    },
  });
  const waitLog = (text: string, timeoutMs = 15_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = logs.find((l) => l.includes(text));
        if (hit === undefined) return;
        clearTimeout(timer);
        written.off('line', check);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        written.off('line', check);
        reject(new Error(`no log line with "${text}" within ${timeoutMs} ms`));
      }, timeoutMs);
      written.on('line', check);
      check();
    });
  return { logger: pino({ level: 'debug' }, stream), logs, waitLog };
}

function deskConfig(fake: FakeTelegram, telegram: Record<string, unknown> = {}): DeskbotConfig {
  const base = testConfig();
  return testConfig({
    market: { dir: sharedDataDir() },
    people: {
      ...base.people,
      tom: { name: 'Tom Trader', roles: ['trader'], ids: { console: 'tom', slack: 'U_TOM', telegram: String(TOM.id) } },
    },
    trading: { pollMs: 0 },
    adapters: { telegram: { apiRoot: fake.apiRoot, ...telegram } },
  });
}

async function rig(opts: { telegram?: Record<string, unknown>; webhook?: boolean; retry?: { baseDelayMs: number; maxDelayMs: number } } = {}): Promise<Rig> {
  const fake = await FakeTelegram.start({ token: TOKEN });
  fakes.push(fake);
  fake.addChat(DESK);
  const config = deskConfig(fake, opts.telegram);
  const { logger, logs, waitLog } = capture();
  const kernel = await Kernel.start({
    config,
    secrets: readSecrets({ TELEGRAM_BOT_TOKEN: TOKEN }),
    logger,
    clock: new ManualClock(Date.UTC(2026, 10, 27, 9, 0, 0)),
    plugins: [market, risk, execution, bigTable],
    discover: false,
  });
  const adapter = new TelegramAdapter({
    token: TOKEN,
    config: config.adapters.telegram,
    logger,
    // short backoff: the tests count attempts, they never time them
    retry: opts.retry ?? { baseDelayMs: 20, maxDelayMs: 200 },
    ...(opts.webhook ? { webhookListen: { port: 0, host: '127.0.0.1' } } : {}),
  });
  const r = { fake, kernel, adapter, logs, waitLog, config };
  rigs.push(r);
  await kernel.attach(adapter);
  return r;
}

/** a person's command (by default in the desk's forum topic); resolves with the bot's first reply to it */
async function ask(r: Rig, from: FakeUser, text: string, where: { chat?: FakeChat; threadId?: number } = {}): Promise<SentMessage> {
  const chat = where.chat ?? DESK;
  const threadId = where.chat === undefined ? TOPIC : where.threadId;
  const before = r.fake.sent.length;
  const u = r.fake.userSays({ chat, from, text, ...(threadId !== undefined ? { threadId } : {}) });
  const id = (u as { message: { message_id: number } }).message.message_id;
  // in a group the reply quotes the command; a private chat has only the two of them
  return r.fake.waitFor(() => r.fake.sent.slice(before).find((m) => m.chatId === chat.id && (chat.type === 'private' || m.replyTo === id)), `a reply to "${text}"`);
}

const calls = (r: Rig, method: string): number[] => r.fake.calls.filter((c) => c.method === method).map((c) => c.status);

function expectNoToken(r: Rig, ...more: string[]): void {
  for (const line of [...r.logs, ...more]) expect(line).not.toContain(TOKEN.split(':')[1]);
}

describe('Telegram adapter: connecting', () => {
  it('registers every command in the bot menu and polls for updates', async () => {
    const r = await rig();
    const menu = r.fake.state.commands ?? [];
    const names = menu.map((c) => c.command);
    expect(names).toEqual(expect.arrayContaining(['price', 'buy', 'confirm', 'halt', 'help', 'bigtable']));
    expect(names.length).toBe(r.kernel.registry.list().length);
    expect(menu.find((c) => c.command === 'bigtable')?.description).toBe('A 150-row table (tests)');
    await r.fake.waitFor(() => r.fake.received.includes('getUpdates'), 'the first getUpdates');
    expect(calls(r, 'deleteWebhook')).toContain(200);
    expect(r.adapter.health()).toEqual({ connected: true, detail: 'long polling as @deskbot_test_bot' });
  });

  it('a token Telegram rejects stops the start with a clear error that does not contain it', async () => {
    const fake = await FakeTelegram.start({ token: '555:theOtherTokenTheFakeKnows_xxxxxxxxxxx' });
    fakes.push(fake);
    const { logger, logs } = capture();
    const adapter = new TelegramAdapter({ token: TOKEN, config: adaptersConfigSchema.parse({ telegram: { apiRoot: fake.apiRoot } }).telegram, logger });
    const host = { handle: async () => null, commands: () => [], suggestSymbols: async () => [], audit: () => undefined, logger };
    const err = await adapter.start(host).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('Telegram rejected the bot token (401 Unauthorized): check TELEGRAM_BOT_TOKEN');
    expect(fake.calls).toEqual([{ method: 'getMe', status: 401 }]);
    expect(adapter.health().connected).toBe(false);
    for (const line of logs) expect(line).not.toContain(TOKEN.split(':')[1]);
  });

  it('the factory gives an adapter only with a token and not disabled', () => {
    const { logger } = capture();
    const config = adaptersConfigSchema.parse({}).telegram;
    expect(createTelegramAdapter({ config, secrets: readSecrets({}), logger })).toBeNull();
    expect(createTelegramAdapter({ config: { ...config, enabled: false }, secrets: readSecrets({ TELEGRAM_BOT_TOKEN: TOKEN }), logger })).toBeNull();
    const a = createTelegramAdapter({ config, secrets: readSecrets({ TELEGRAM_BOT_TOKEN: TOKEN }), logger });
    expect(a?.platform).toBe('telegram');
    expect(a?.health()).toEqual({ connected: false, detail: 'not started' });
  });
});

describe('Telegram adapter: commands in a forum topic', () => {
  it('/price BTC/USDT answers in the same topic, as a reply, with the table in <pre>', async () => {
    const r = await rig();
    const m = await ask(r, ANN, '/price BTC/USDT');
    expect(m.method).toBe('sendMessage');
    expect(m.parseMode).toBe('HTML');
    expect(m.threadId).toBe(TOPIC);
    expect(m.text).toContain('BTC/USDT (binance)');
    const pre = m.entities.find((e) => e.type === 'pre');
    expect(pre).toBeDefined();
    expect(m.text.slice(pre?.offset, (pre?.offset ?? 0) + (pre?.length ?? 0))).toMatch(/BTC\/USDT \(binance\)\s+[\d,.]+/);
    expect(m.raw).toMatch(/^(<b>.*<\/b>\n)?<pre>/s);
  });

  it('takes /cmd@thisbot, ignores /cmd@otherbot and plain chatter in a group', async () => {
    const r = await rig();
    const ignored = r.fake.userSays({ chat: DESK, from: ANN, text: '/price@some_other_bot BTC/USDT', threadId: TOPIC });
    r.fake.userSays({ chat: DESK, from: ANN, text: 'nice weather', threadId: TOPIC });
    const m = await ask(r, ANN, `/price@${r.fake.bot.username} BTC/USDT`);
    expect(m.text).toContain('BTC/USDT (binance)');
    await r.fake.waitFor(() => r.fake.state.updates.confirmed >= ignored.update_id + 2, 'the updates confirmed');
    expect(r.fake.sent).toHaveLength(1);
  });

  it('escapes <, > and & in what people typed', async () => {
    const r = await rig();
    const m = await ask(r, ANN, '/price AT&T<b>x</b>');
    // the Bot API parsed the HTML and the person sees their symbol exactly as typed (case aside)
    expect(m.text.toUpperCase()).toContain('AT&T<B>X</B>');
    expect(m.raw).toContain('&amp;');
    expect(m.raw).toContain('&lt;');
    expect(m.entities.filter((e) => e.type === 'bold')).toHaveLength(0);
  });

  it("refuses an unknown user's /halt with their Telegram id, and the refusal is audited", async () => {
    const r = await rig();
    const m = await ask(r, STRANGER, '/halt everything is on fire');
    expect(m.text).toContain(`telegram user ${STRANGER.id}`);
    expect(m.text).toContain(`people.<you>.ids.telegram: "${STRANGER.id}"`);
    expect((await r.kernel.halt.status()).halted).toBe(false);
    const audit = await r.kernel.audit.tail(20);
    expect(audit).toContainEqual(expect.objectContaining({ kind: 'decision', platform: 'telegram', user: String(STRANGER.id), command: 'halt', allowed: false, actor: null }));
  });

  it('/buy asks with Confirm/Cancel buttons; only the asker can confirm; pressing Confirm fills on paper', async () => {
    const r = await rig();
    const ask1 = await ask(r, TOM, '/buy BTC/USDT 0.01');
    expect(ask1.text).toMatch(/Confirm \/buy BTC\/USDT 0\.01\?/);
    const confirmMsg = r.fake.sent.find((m) => m.keyboard !== undefined) as SentMessage;
    expect(confirmMsg.keyboard?.flat().map((b) => b.text)).toEqual(['Confirm', 'Cancel']);
    for (const b of confirmMsg.keyboard?.flat() ?? []) expect(Buffer.byteLength(b.callback_data ?? '')).toBeLessThanOrEqual(64);
    expect(confirmMsg.threadId).toBe(TOPIC);
    expect(await r.kernel.orders.recent(5)).toHaveLength(0);

    // Ann presses Tom's Confirm: answered, refused, nothing placed
    const sentBefore = r.fake.sent.length;
    const annPress = r.fake.press({ message: confirmMsg, label: 'Confirm', from: ANN });
    const refused = await r.fake.waitFor(() => r.fake.sent.slice(sentBefore).find((m) => m.text.includes('Only Tom Trader can confirm')), 'the refusal');
    expect(refused.threadId).toBe(TOPIC);
    expect(r.fake.answers.map((a) => a.id)).toContain((annPress as { callback_query: { id: string } }).callback_query.id);
    expect(await r.kernel.orders.recent(5)).toHaveLength(0);

    // Tom presses it: answered, filled
    const tomPress = r.fake.press({ message: confirmMsg, label: 'Confirm', from: TOM });
    const done = await r.fake.waitFor(() => r.fake.sent.find((m) => m.text.includes('Filled')), 'the fill');
    expect(done.threadId).toBe(TOPIC);
    expect(r.fake.answers.map((a) => a.id)).toContain((tomPress as { callback_query: { id: string } }).callback_query.id);
    const [order] = await r.kernel.orders.recent(1);
    expect(order).toMatchObject({ state: 'filled', filled: 0.01, symbol: 'BTC/USDT' });
    const audit = await r.kernel.audit.tail(50);
    expect(audit).toContainEqual(expect.objectContaining({ kind: 'confirmed', command: 'buy', actor: 'tom' }));
  });

  it('a bare "yes" in a private chat confirms, and private replies quote nothing', async () => {
    const r = await rig();
    const chat = privateChat(TOM);
    const q = await ask(r, TOM, '/buy BTC/USDT 0.01', { chat });
    expect(q.replyTo).toBeUndefined();
    expect(q.threadId).toBeUndefined();
    await r.fake.waitFor(() => r.fake.sentTo(chat.id).find((m) => m.keyboard), 'the buttons');
    r.fake.userSays({ chat, from: TOM, text: 'yes' });
    await r.fake.waitFor(() => r.fake.sentTo(chat.id).find((m) => m.text.includes('Filled')), 'the fill');
    expect((await r.kernel.orders.recent(1))[0]?.state).toBe('filled');
  });

  it('a redelivered update (message or button press) is handled once', async () => {
    const r = await rig();
    const u = r.fake.userSays({ chat: DESK, from: TOM, text: '/buy BTC/USDT 0.01', threadId: TOPIC });
    const confirmMsg = await r.fake.waitFor(() => r.fake.sent.find((m) => m.keyboard), 'the confirm buttons');
    r.fake.redeliver(u.update_id);
    const press = r.fake.press({ message: confirmMsg, label: 'Confirm', from: TOM });
    await r.fake.waitFor(() => r.fake.sent.find((m) => m.text.includes('Filled')), 'the fill');
    r.fake.redeliver(press.update_id);
    // a later command's reply proves both redeliveries were read before it
    await ask(r, TOM, '/whoami');
    expect(r.fake.sent.filter((m) => m.keyboard !== undefined)).toHaveLength(1);
    expect(r.fake.sent.filter((m) => m.text.includes('Filled'))).toHaveLength(1);
    expect(r.fake.sent.filter((m) => m.text.includes('already handled') || m.text.includes('Nothing to confirm'))).toHaveLength(0);
    expect(await r.kernel.orders.recent(5)).toHaveLength(1);
  });

  it('/chart comes as a photo upload of the PNG with its caption', async () => {
    const r = await rig();
    const m = await ask(r, ANN, '/chart btc 1h 100');
    expect(m.method).toBe('sendPhoto');
    expect(m.file?.bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(m.file?.filename).toMatch(/\.png$/);
    expect(m.text).toMatch(/100 candles, last close/);
    expect(m.threadId).toBe(TOPIC);
  });

  it('a 150-row table is split under 4,096 characters, each part a whole table with its header', async () => {
    const r = await rig();
    const before = r.fake.sent.length;
    await ask(r, ANN, '/bigtable');
    const rows = rows150();
    const parts = await r.fake.waitFor(() => {
      const got = r.fake.sent.slice(before);
      return got.some((m) => m.text.includes(rows[149]?.[1] ?? '?')) ? got : undefined;
    }, 'the last row');
    expect(parts.length).toBeGreaterThan(1);
    const seen: string[] = [];
    for (const m of parts) {
      expect(m.text.length).toBeLessThanOrEqual(4096);
      expect(m.raw.length).toBeLessThanOrEqual(4096);
      expect(m.text.startsWith('Everything <&>\n')).toBe(true);
      const pres = m.entities.filter((e) => e.type === 'pre');
      expect(pres).toHaveLength(1);
      const lines = m.text.slice(pres[0]?.offset, (pres[0]?.offset ?? 0) + (pres[0]?.length ?? 0)).split('\n');
      expect(lines[0]).toMatch(/^\s+#\s+symbol\s+note$/);
      expect(lines[1]).toMatch(/^\s+─+/);
      seen.push(...lines.slice(2).map((l) => /SYM\d{3}\/USDT/.exec(l)?.[0] ?? `?${l}`));
      expect(m.threadId).toBe(TOPIC);
    }
    expect(seen).toEqual(rows.map((x) => x[1]));
  });
});

describe('Telegram adapter: faults', () => {
  it('a 429 is retried after retry_after and the reply delivered', async () => {
    const r = await rig();
    r.fake.fail('sendMessage', { status: 429, retryAfter: 1 });
    const m = await ask(r, ANN, '/price BTC/USDT');
    expect(m.text).toContain('BTC/USDT (binance)');
    expect(calls(r, 'sendMessage')).toEqual([429, 200]);
    expect(r.logs.join('')).toContain('429, retry after 1 s');
    expectNoToken(r);
  });

  it('a burst of 5xx is retried with backoff and the reply delivered', async () => {
    const r = await rig();
    r.fake.fail('sendMessage', { status: 502 }, 3);
    const m = await ask(r, ANN, '/price BTC/USDT');
    expect(m.text).toContain('BTC/USDT (binance)');
    expect(calls(r, 'sendMessage')).toEqual([502, 502, 502, 200]);
    const waits = r.logs.filter((l) => l.includes('telegram sendMessage: 502')).map((l) => (JSON.parse(l) as { attempt: number }).attempt);
    expect(waits).toEqual([1, 2, 3]);
  });

  it('Telegram staying down: post() gives up after bounded tries without the token, the kernel carries on, health says so', async () => {
    const r = await rig();
    r.fake.fail('sendMessage', { status: 503 }, 1000);
    const out = await r.kernel.post(`telegram:${DESK.id}`, reply.text('digest'));
    expect(out.ok).toBe(false);
    expect(!out.ok && out.error).toMatch(/Telegram sendMessage failed after 5 attempts: 503/);
    expect(calls(r, 'sendMessage')).toEqual([503, 503, 503, 503, 503]);
    expect(r.adapter.health().connected).toBe(false);
    expect(r.adapter.health().detail).toContain('last send failed');
    expectNoToken(r, !out.ok ? out.error : '');

    // a reply that cannot be delivered is logged and audited, and polling goes on
    r.fake.userSays({ chat: DESK, from: ANN, text: '/price BTC/USDT', threadId: TOPIC });
    await r.waitLog('telegram reply not delivered');
    r.fake.clearFaults();
    const m = await ask(r, ANN, '/whoami');
    expect(m.text).toContain('Ann Admin');
    // the fake records the message before the adapter reads the answer
    await vi.waitFor(() => expect(r.adapter.health().connected).toBe(true), { timeout: 15_000, interval: 10 });
    const audit = await r.kernel.audit.tail(30);
    expect(audit).toContainEqual(expect.objectContaining({ kind: 'adapter-fault', platform: 'telegram', what: 'reply not delivered' }));
    expectNoToken(r);
  });
});

describe('Telegram adapter: losing the connection', () => {
  it('a revoked token ends long polling: health says so, the fault is audited, the token is not logged', async () => {
    const r = await rig();
    await r.fake.waitFor(() => r.fake.received.includes('getUpdates'), 'the first long poll');
    r.fake.revokeToken();
    await r.waitLog('telegram long polling stopped');
    expect(r.adapter.health()).toEqual({ connected: false, detail: 'long polling failed: 401: Unauthorized' });
    const audit = await r.kernel.audit.tail(10);
    expect(audit).toContainEqual(expect.objectContaining({ kind: 'adapter-fault', platform: 'telegram', what: 'getUpdates', error: '401: Unauthorized' }));
    expectNoToken(r);
  });

  it('getUpdates failing: health says so from the first failure, audited once per outage; polling retries and recovers', async () => {
    const r = await rig();
    await r.fake.waitFor(() => r.fake.received.includes('getUpdates'), 'the first long poll');
    r.fake.fail('getUpdates', { status: 502 }, 10_000);
    r.fake.state.updates.releaseAll(); // the held poll returns; the next ones fail
    await r.waitLog('telegram getUpdates failed; retrying');
    expect(r.adapter.health().connected).toBe(false);
    expect(r.adapter.health().detail).toMatch(/^long polling as @deskbot_test_bot; getUpdates failing: 502: Bad Gateway \(retrying in \d+ s\)$/);
    await vi.waitFor(() => expect(calls(r, 'getUpdates').filter((c) => c === 502).length).toBeGreaterThanOrEqual(3), { timeout: 15_000, interval: 10 });

    r.fake.clearFaults();
    await vi.waitFor(() => expect(r.adapter.health()).toEqual({ connected: true, detail: 'long polling as @deskbot_test_bot' }), { timeout: 15_000, interval: 10 });
    expect((await ask(r, ANN, '/whoami')).text).toContain('Ann Admin');
    await r.kernel.audit.flush();
    const faults = (await r.kernel.audit.tail(50)).filter((e) => e.kind === 'adapter-fault' && e['what'] === 'getUpdates');
    expect(faults).toEqual([expect.objectContaining({ platform: 'telegram', error: '502: Bad Gateway', retrying: true })]);
    expectNoToken(r);
  });

  it('stop() during an outage does not sit out the backoff, and confirms the offset of what was handled', async () => {
    const r = await rig({ retry: { baseDelayMs: 10 * 60_000, maxDelayMs: 10 * 60_000 } });
    expect((await ask(r, ANN, '/whoami')).text).toContain('Ann Admin');
    r.fake.fail('getUpdates', { status: 503 }, 1);
    r.fake.state.updates.releaseAll();
    await r.waitLog('telegram getUpdates failed; retrying');
    const polls = r.fake.calls.filter((c) => c.method === 'getUpdates').length;
    // a backoff of ten minutes is under way: stop() must end it, not wait it out (the test's own timeout is far shorter)
    await r.kernel.stop();
    expect(r.adapter.health()).toEqual({ connected: false, detail: 'stopped' });
    // one last getUpdates, past the /whoami update, tells Telegram it was handled
    const last = r.fake.calls.filter((c) => c.method === 'getUpdates').slice(polls);
    expect(last).toHaveLength(1);
    expect(last[0]?.status).toBe(200);
  });
});

describe('Telegram adapter: posts', () => {
  it('post() to a forum topic sends there, split without breaking the table', async () => {
    const r = await rig();
    const res = await r.kernel.post(`telegram:${DESK.id}:${TOPIC}`, reply.of(block.text('Morning digest <b>&</b>', 'info'), block.table(['#', 'symbol', 'note'], rows150())));
    expect(res).toEqual({ ok: true });
    const sent = r.fake.sentTo(DESK.id);
    expect(sent.length).toBeGreaterThan(1);
    expect(sent[0]?.text.startsWith('Morning digest <b>&</b>')).toBe(true);
    for (const m of sent) {
      expect(m.threadId).toBe(TOPIC);
      expect(m.replyTo).toBeUndefined();
      expect(m.text.length).toBeLessThanOrEqual(4096);
    }
    const rows = sent.flatMap((m) => m.text.split('\n')).filter((l) => /SYM\d{3}/.test(l));
    expect(rows).toHaveLength(150);
  });

  it('an image Telegram refuses as a photo (too tall) goes as a file', async () => {
    const r = await rig();
    // a PNG header claiming 100 × 5,000 px: more than Telegram's 20:1 for photos
    const png = Buffer.alloc(33);
    png.writeUInt32BE(0x89504e47, 0);
    png.writeUInt32BE(0x0d0a1a0a, 4);
    png.writeUInt32BE(13, 8);
    png.write('IHDR', 12, 'latin1');
    png.writeUInt32BE(100, 16);
    png.writeUInt32BE(5000, 20);
    const res = await r.kernel.post(`telegram:${DESK.id}`, reply.of({ type: 'image', png: new Uint8Array(png), alt: 'tall', filename: 'tall.png' }));
    expect(res).toEqual({ ok: true });
    expect(calls(r, 'sendPhoto')).toEqual([400]);
    expect(r.fake.sent.map((m) => [m.method, m.file?.filename])).toEqual([['sendDocument', 'tall.png']]);
  });

  it('a chat the bot is not in is an error from post()', async () => {
    const r = await rig();
    const res = await r.kernel.post('telegram:-100999', reply.text('hello'));
    expect(res).toEqual({ ok: false, error: 'Telegram sendMessage failed: 400: Bad Request: chat not found' });
  });
});

describe('Telegram adapter: webhook mode', () => {
  it('sets the webhook with a secret, takes updates POSTed to it, refuses forged ones', async () => {
    const r = await rig({ telegram: { mode: 'webhook', webhook: { domain: 'https://desk.example.com', path: '/telegram/hook', port: 8443 } }, webhook: true });
    const hook = r.fake.state.webhook;
    expect(hook?.url).toBe('https://desk.example.com/telegram/hook');
    expect(hook?.secretToken).toMatch(/^[0-9a-f]{64}$/);
    expect(hook?.secretToken).not.toContain(TOKEN);
    expect(hook?.allowedUpdates).toEqual(['message', 'callback_query']);
    const addr = r.adapter.webhookAddress();
    expect(addr?.port).toBeGreaterThan(0);
    r.fake.webhookTarget = `http://127.0.0.1:${addr?.port}`;

    const m = await ask(r, ANN, '/price BTC/USDT');
    expect(m.text).toContain('BTC/USDT (binance)');
    expect(r.fake.webhookDeliveries.map((d) => d.status)).toEqual([200]);
    expect(calls(r, 'getUpdates')).toEqual([]);

    const forged = await fetch(`http://127.0.0.1:${addr?.port}/telegram/hook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': 'guess' },
      body: JSON.stringify({ update_id: 1, message: { message_id: 1, date: 0, chat: DESK, from: ANN, text: '/halt forged' } }),
    });
    expect(forged.status).toBe(403);
    expect((await r.kernel.halt.status()).halted).toBe(false);

    // Telegram delivering the same update twice: handled once
    const u = r.fake.userSays({ chat: DESK, from: TOM, text: '/buy BTC/USDT 0.01', threadId: TOPIC });
    await r.fake.waitFor(() => r.fake.sent.find((x) => x.keyboard), 'the confirm buttons');
    r.fake.redeliver(u.update_id);
    await r.fake.waitFor(() => r.fake.webhookDeliveries.length === 3, 'the redelivery');
    await ask(r, ANN, '/whoami');
    expect(r.fake.sent.filter((x) => x.keyboard)).toHaveLength(1);
    expect(r.adapter.health()).toMatchObject({ connected: true });
    expect(r.adapter.health().detail).toContain('webhook as @deskbot_test_bot');
  });
});

describe('Telegram adapter: stopping', () => {
  it('stop() ends the long poll, confirms what was read and reports disconnected', async () => {
    const r = await rig();
    const u = r.fake.userSays({ chat: DESK, from: ANN, text: '/whoami', threadId: TOPIC });
    await r.fake.waitFor(() => r.fake.sent.length > 0, 'the reply');
    await r.adapter.stop();
    expect(r.fake.state.updates.confirmed).toBeGreaterThanOrEqual(u.update_id);
    expect(r.adapter.health().connected).toBe(false);
    const polls = calls(r, 'getUpdates').length;
    r.fake.userSays({ chat: DESK, from: ANN, text: '/whoami', threadId: TOPIC });
    await r.adapter.stop(); // idempotent
    expect(calls(r, 'getUpdates').length).toBe(polls);
  });
});
