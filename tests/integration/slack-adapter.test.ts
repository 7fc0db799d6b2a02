import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import execution from '../../plugins/execution/index.js';
import market from '../../plugins/market/index.js';
import risk from '../../plugins/risk/index.js';
import { createSlackAdapter, SlackAdapter } from '../../src/adapters/slack/index.js';
import { SECTION_LIMIT } from '../../src/adapters/slack/render.js';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import { block, defineCommand, definePlugin, reply, type Reply } from '../../src/kernel/index.js';
import { FakeSlack } from '../fakes/slack/server.js';
import type { PostedMessage } from '../fakes/slack/web-api.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';
import { sharedDataDir } from '../helpers/recorded.js';

/**
 * The Slack adapter end to end: the real Bolt app (HTTP receiver, signature verification,
 * WebClient with its own retries) against a fake Slack on 127.0.0.1 that signs requests like
 * Slack and records every Web API call, with a real kernel and recorded prices.
 */

const BOT_TOKEN = 'xoxb-1111-2222-deskbot-test-token';
const SIGNING_SECRET = 'f00dfeedcafe0123456789abcdef0123';
/** fast, bounded WebClient retries: the tests check that retries happen, not Slack's real pacing */
const FAST_RETRY = { retries: 4, factor: 2, minTimeout: 20, maxTimeout: 200 };
const TOM = { id: 'U_TOM', username: 'tom' };
const ANN = { id: 'U_ANN', username: 'ann' };
const STRANGER = { id: 'U_STRANGER', username: 'stranger' };
const DESK = 'C0DESK';

/** a gate the /slow command waits on, so a test decides when the kernel answers */
let openGate: () => void = () => undefined;
let gate: Promise<void> = Promise.resolve();
function closeGate(): void {
  gate = new Promise((resolve) => (openGate = resolve));
}

const probe = definePlugin({
  name: 'slack-probe',
  version: '0.0.0',
  setup(ctx) {
    ctx.command(
      defineCommand({
        name: 'slow',
        summary: 'Answers when the test opens the gate',
        permission: null,
        handler: async () => {
          await gate;
          return reply.text('finally done', 'ok');
        },
      }),
    );
  },
});

interface Rig {
  fake: FakeSlack;
  desk: TestDesk;
  adapter: SlackAdapter;
  /** log lines the adapter wrote (to check no secret leaks) */
  logs: string[];
}

const rigs: Rig[] = [];
afterEach(async () => {
  while (rigs.length > 0) {
    const r = rigs.pop();
    await r?.desk.kernel.stop();
    await r?.fake.close();
  }
});

function deskConfig(): ReturnType<typeof testConfig> {
  const base = testConfig();
  return testConfig({
    market: { dir: sharedDataDir() },
    people: {
      ...base.people,
      ann: { ...base.people['ann'], ids: { ...base.people['ann']?.ids, slack: 'U_ANN' } },
    },
    trading: { pollMs: 0, notify: [`slack:${DESK}`] },
  });
}

const APP_TOKEN = 'xapp-1-A0DESKBOT-3333-socket-test-token';

/** answerInAckMs: the product's default (2 s) unless a test needs every reply posted (0) */
async function rig(opts: { mode?: 'http' | 'socket'; appToken?: string; answerInAckMs?: number } = {}): Promise<Rig> {
  const mode = opts.mode ?? 'http';
  const fake = await FakeSlack.start({ botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, appToken: APP_TOKEN });
  fake.via = mode;
  const desk = await startDesk({ plugins: [market, risk, execution, probe], config: deskConfig() });
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (l: string) => void logs.push(l) });
  const adapter = new SlackAdapter({
    config: { enabled: true, mode, port: 0, apiUrl: fake.apiUrl, answerInAckMs: opts.answerInAckMs ?? 2000 },
    botToken: BOT_TOKEN,
    ...(mode === 'http' ? { signingSecret: SIGNING_SECRET } : { appToken: opts.appToken ?? APP_TOKEN }),
    logger,
    listenHost: '127.0.0.1',
    retry: FAST_RETRY,
  });
  const r: Rig = { fake, desk, adapter, logs };
  rigs.push(r);
  await desk.kernel.attach(adapter);
  if (mode === 'http') fake.appUrl = `http://127.0.0.1:${adapter.port}/slack/events`;
  return r;
}

const sectionTexts = (m: PostedMessage): string[] =>
  m.blocks.filter((b) => b['type'] === 'section').map((b) => (b['text'] as { text?: string } | undefined)?.text ?? '');
const allText = (m: PostedMessage): string =>
  JSON.stringify(m.blocks.map((b) => [b['text'], b['fields'], b['elements']]));

describe('Slack adapter: start, health and the factory', () => {
  it('checks the bot token with auth.test, listens, reports healthy, and stops', async () => {
    const { fake, adapter, desk } = await rig();
    const auth = fake.api.calls.find((c) => c.method === 'auth.test');
    expect(auth?.status).toBe(200);
    expect(adapter.health()).toMatchObject({ connected: true });
    expect(adapter.health().detail).toContain('/slack/events');
    expect(desk.kernel.adapterHealth()).toEqual([{ platform: 'slack', ...adapter.health() }]);
    await adapter.stop();
    expect(adapter.health()).toEqual({ connected: false, detail: 'stopped' });
    await expect(fetch(fake.appUrl, { method: 'POST' })).rejects.toThrow();
  });

  it('a token Slack rejects fails start with a clear error that does not contain the token', async () => {
    const fake = await FakeSlack.start({ botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET });
    const desk = await startDesk({ plugins: [], config: deskConfig() });
    rigs.push({ fake, desk, adapter: undefined as unknown as SlackAdapter, logs: [] });
    const wrong = 'xoxb-9999-wrong-token-value';
    const adapter = new SlackAdapter({
      config: { enabled: true, mode: 'http', port: 0, apiUrl: fake.apiUrl, answerInAckMs: 2000 },
      botToken: wrong,
      signingSecret: SIGNING_SECRET,
      logger: pino({ level: 'silent' }),
      listenHost: '127.0.0.1',
      retry: FAST_RETRY,
    });
    const err = await desk.kernel.attach(adapter).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe('Slack rejected SLACK_BOT_TOKEN (invalid_auth); check the bot token of the installed app');
    expect(err?.message).not.toContain(wrong);
    expect(adapter.health().connected).toBe(false);
  });

  it('createSlackAdapter: null without SLACK_BOT_TOKEN or when disabled; a clear error when the mode lacks its secret', () => {
    const logger = pino({ level: 'silent' });
    const http = { enabled: true, mode: 'http' as const, port: 0, apiUrl: null, answerInAckMs: 2000 };
    expect(createSlackAdapter({ config: http, secrets: readSecrets({}), logger })).toBeNull();
    expect(createSlackAdapter({ config: { ...http, enabled: false }, secrets: readSecrets({ SLACK_BOT_TOKEN: BOT_TOKEN }), logger })).toBeNull();
    expect(() => createSlackAdapter({ config: http, secrets: readSecrets({ SLACK_BOT_TOKEN: BOT_TOKEN }), logger })).toThrow(/SLACK_SIGNING_SECRET is not set/);
    expect(() => createSlackAdapter({ config: { ...http, mode: 'socket' }, secrets: readSecrets({ SLACK_BOT_TOKEN: BOT_TOKEN }), logger })).toThrow(
      /SLACK_APP_TOKEN is not set/,
    );
    const a = createSlackAdapter({ config: http, secrets: readSecrets({ SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: SIGNING_SECRET }), logger });
    expect(a).toBeInstanceOf(SlackAdapter);
    expect(a?.platform).toBe('slack');
  });
});

describe('Slack adapter: commands in, Block Kit out', () => {
  it('/price BTC/USDT: answered in the acknowledgement itself, in the channel, with a monospace table in a section block', async () => {
    const { fake } = await rig();
    const ack = await fake.slash({ command: '/price', text: 'BTC/USDT', user_id: TOM.id, channel_id: DESK });
    // the reply is the HTTP answer to Slack's request: no Web API call at all
    expect(ack.status).toBe(200);
    expect(JSON.parse(ack.body)).toMatchObject({ response_type: 'in_channel' });
    expect(fake.api.calls.filter((c) => c.method.startsWith('chat.'))).toHaveLength(0);
    const m = await fake.waitFor(() => fake.messages.find((x) => x.channel === DESK && x.via === 'ack'));
    expect(m.user).toBeUndefined(); // everyone in the channel sees it
    const [table] = sectionTexts(m);
    expect(table).toMatch(/^```\n/);
    expect(table).toMatch(/\n```$/);
    expect(table).toMatch(/symbol\s+last\s+24h/);
    expect(table).toContain('BTC/USDT (binance)');
    expect(m.text).toContain('BTC/USDT'); // the notification fallback
    expect(m.thread_ts).toBeUndefined();
  });

  it('with answerInAckMs 0 the command is acknowledged empty and answered with chat.postMessage', async () => {
    const { fake } = await rig({ answerInAckMs: 0 });
    expect(await fake.slash({ command: '/price', text: 'BTC/USDT', user_id: TOM.id, channel_id: DESK })).toEqual({ status: 200, body: '' });
    const m = await fake.waitFor(() => fake.messages.find((x) => x.channel === DESK && x.via === 'chat.postMessage'));
    expect(sectionTexts(m)[0]).toContain('BTC/USDT (binance)');
    expect(fake.messages.filter((x) => x.via === 'ack')).toHaveLength(0);
  });

  it('a reply slower than answerInAckMs: the ack goes out empty in time, the reply is posted when it comes', async () => {
    const { fake } = await rig({ answerInAckMs: 50 });
    closeGate();
    try {
      // the ack (the HTTP answer) returns while the command is still waiting on the gate
      expect(await fake.slash({ command: '/slow', user_id: TOM.id, channel_id: DESK })).toEqual({ status: 200, body: '' });
      expect(fake.messages).toHaveLength(0);
    } finally {
      openGate();
    }
    const m = await fake.waitFor(() => fake.messages.find((x) => x.via === 'chat.postMessage'));
    expect(sectionTexts(m)).toEqual([':white_check_mark: finally done']);
    expect(fake.messages).toHaveLength(1);
  });

  it('app mentions: "@deskbot /price btc" and "@deskbot price btc" in a thread answer in that thread', async () => {
    const { fake } = await rig();
    await fake.mention({ user: TOM.id, channel: DESK, text: '<@U0BOT> /price btc' });
    const top = await fake.waitFor(() => fake.messages.find((x) => x.channel === DESK));
    expect(sectionTexts(top)[0]).toContain('BTC/USDT (binance)');
    expect(top.thread_ts).toBeUndefined();

    await fake.mention({ user: TOM.id, channel: DESK, text: '<@U0BOT> price eth', thread_ts: '1700000000.000100' });
    const threaded = await fake.waitFor(() => fake.messages.find((x) => x.thread_ts === '1700000000.000100'));
    expect(sectionTexts(threaded)[0]).toContain('ETH/USDT (binance)');
  });

  it("an unknown user's /halt is refused privately (an ephemeral answer, with their Slack id) and audited", async () => {
    const { fake, desk } = await rig();
    const ack = await fake.slash({ command: '/halt', text: 'testing', user_id: STRANGER.id, user_name: STRANGER.username, channel_id: DESK });
    expect(JSON.parse(ack.body)).toMatchObject({ response_type: 'ephemeral' });
    const m = await fake.waitFor(() => fake.messages.find((x) => x.via === 'ack'));
    expect(m.user).toBe(STRANGER.id);
    expect(m.channel).toBe(DESK);
    const [text] = sectionTexts(m);
    expect(text).toContain(':x: ');
    expect(text).toContain('slack user U_STRANGER');
    expect(text).toContain('people.&lt;you&gt;.ids.slack'); // escaped for mrkdwn
    expect(fake.messages.filter((x) => x.via === 'chat.postMessage')).toHaveLength(0);
    expect(await desk.kernel.halt.status()).toMatchObject({ halted: false });
    await desk.kernel.audit.flush();
    const tail = await desk.kernel.audit.tail(20);
    expect(tail).toContainEqual(
      expect.objectContaining({ kind: 'decision', platform: 'slack', user: 'U_STRANGER', command: 'halt', allowed: false, actor: null }),
    );
  });

  it('/buy asks with native buttons; Confirm pressed by someone else is refused to them alone; pressed by the asker it fills on paper', async () => {
    const { fake, desk } = await rig();
    await fake.slash({ command: '/buy', text: 'BTC/USDT 0.01', user_id: TOM.id, channel_id: DESK });
    const ask = await fake.waitFor(() => fake.messages.find((x) => x.blocks.some((b) => b['type'] === 'actions')));
    expect(sectionTexts(ask)[0]).toMatch(/^:warning: Confirm \/buy BTC\/USDT 0\.01\?/);
    const actions = ask.blocks.find((b) => b['type'] === 'actions') as { elements: Array<Record<string, unknown>> };
    expect(actions.elements.map((e) => [(e['text'] as { text: string }).text, e['style']])).toEqual([
      ['Confirm', 'danger'],
      ['Cancel', undefined],
    ]);
    const confirmValue = String(actions.elements[0]?.['value']);
    expect(confirmValue).toMatch(/^\/confirm \S+$/);
    const small = ask.blocks[ask.blocks.indexOf(actions as unknown as Record<string, unknown>) + 1];
    expect(small?.['type']).toBe('context');
    // the preview (notional, fee, checks) is a key/value table: section fields
    expect(ask.blocks.some((b) => b['type'] === 'section' && Array.isArray(b['fields']))).toBe(true);
    expect(await desk.kernel.orders.recent(5)).toHaveLength(0);

    // Ann presses Tom's Confirm: refused, only Ann sees it, the buttons stay
    expect((await fake.press(ask, 'Confirm', ANN)).status).toBe(200);
    const refusal = await fake.waitFor(() => fake.messages.find((x) => x.via === 'chat.postEphemeral' && x.user === ANN.id));
    expect(sectionTexts(refusal)[0]).toContain('Only Tom Trader can confirm');
    expect(ask.updates).toHaveLength(0);

    // Tom presses Confirm: the press is acked, the order fills on paper, the buttons retire
    expect((await fake.press(ask, 'Confirm', TOM)).status).toBe(200);
    const filled = await fake.waitFor(() => fake.messages.find((x) => x.via === 'chat.postMessage' && allText(x).includes('Filled')));
    expect(filled.channel).toBe(DESK);
    const [order] = await desk.kernel.orders.recent(1);
    expect(order).toMatchObject({ state: 'filled', filled: 0.01, symbol: 'BTC/USDT' });
    await fake.waitFor(() => ask.updates.length > 0);
    const after = ask.updates.at(-1)?.blocks ?? [];
    expect(after.some((b) => b['type'] === 'actions')).toBe(false);
    expect(JSON.stringify(after)).toContain('<@U_TOM> pressed *Confirm*');
  });

  it('a slash command in a channel the bot is not in: answered in the ack; posted, it goes through the response_url', async () => {
    const inAck = await rig();
    inAck.fake.api.notInChannel.add('C0OTHER');
    await inAck.fake.slash({ command: '/price', text: 'btc', user_id: TOM.id, channel_id: 'C0OTHER' });
    expect(inAck.fake.messages.map((x) => [x.via, x.channel])).toEqual([['ack', 'C0OTHER']]);

    const { fake } = await rig({ answerInAckMs: 0 });
    fake.api.notInChannel.add('C0OTHER');
    await fake.slash({ command: '/price', text: 'btc', user_id: TOM.id, channel_id: 'C0OTHER' });
    const m = await fake.waitFor(() => fake.messages.find((x) => x.via === 'response_url'));
    expect(m.channel).toBe('C0OTHER');
    expect(sectionTexts(m)[0]).toContain('BTC/USDT (binance)');
    expect(fake.api.calls.find((c) => c.method === 'response_url')?.args['response_type']).toBe('in_channel');
  });

  it('/chart is uploaded as a file (getUploadURLExternal → upload → completeUploadExternal) after its text', async () => {
    const { fake } = await rig();
    await fake.slash({ command: '/chart', text: 'btc 1h 50', user_id: TOM.id, channel_id: DESK });
    const file = await fake.waitFor(() => fake.api.files.find((f) => f.completed));
    expect(file.channel_id).toBe(DESK);
    expect(file.bytes?.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(file.bytes?.length).toBe(file.length);
    expect(file.filename).toMatch(/\.png$/);
    expect(file.alt_text).toBeTruthy();
    const order = fake.api.calls.map((c) => c.method.replace(/^upload:.*/, 'upload')).filter((m) => m !== 'auth.test');
    expect(order.slice(order.indexOf('files.getUploadURLExternal'))).toEqual(['files.getUploadURLExternal', 'upload', 'files.completeUploadExternal']);
  });
});

describe('Slack adapter: redelivery and forged requests', () => {
  it('an event Slack retries (same event_id, X-Slack-Retry-Num) is handled once', async () => {
    const { fake } = await rig();
    const first = await fake.mention({ user: TOM.id, channel: DESK, text: '<@U0BOT> price btc' });
    expect(first.status).toBe(200);
    const again = await fake.mention({ user: TOM.id, channel: DESK, text: '<@U0BOT> price btc', event_id: first.eventId }, { retryNum: 1 });
    expect(again.status).toBe(200);
    await fake.waitFor(() => fake.messages.length >= 1);
    // a later, different command is the marker that both deliveries were processed
    await fake.mention({ user: TOM.id, channel: DESK, text: '<@U0BOT> price eth' });
    await fake.waitFor(() => fake.messages.find((m) => sectionTexts(m)[0]?.includes('ETH/USDT')));
    expect(fake.messages.filter((m) => sectionTexts(m)[0]?.includes('BTC/USDT'))).toHaveLength(1);
  });

  it('the same slash command request and the same button press delivered twice run once', async () => {
    const { fake, desk } = await rig();
    const cmd = { command: '/buy', text: 'BTC/USDT 0.01', user_id: TOM.id, channel_id: DESK, trigger_id: '1111.2222.buytrigger' };
    await fake.slash(cmd);
    await fake.slash(cmd, { retryNum: 1 });
    const ask = await fake.waitFor(() => fake.messages.find((x) => x.blocks.some((b) => b['type'] === 'actions')));
    await fake.press(ask, 'Confirm', TOM, { trigger_id: '3333.4444.presstrigger' });
    await fake.press(ask, 'Confirm', TOM, { trigger_id: '3333.4444.presstrigger' });
    await fake.waitFor(() => fake.messages.find((x) => allText(x).includes('Filled')));
    await fake.slash({ command: '/positions', user_id: TOM.id, channel_id: DESK });
    await fake.waitFor(() => fake.messages.find((x) => allText(x).includes('BTC/USDT') && !allText(x).includes('Filled') && !allText(x).includes('Confirm')));
    expect(fake.messages.filter((x) => x.blocks.some((b) => b['type'] === 'actions'))).toHaveLength(1);
    expect(fake.messages.filter((x) => allText(x).includes('Filled'))).toHaveLength(1);
    expect(fake.messages.filter((x) => allText(x).includes('already handled') || allText(x).includes('Nothing to confirm'))).toHaveLength(0);
    expect(await desk.kernel.orders.recent(5)).toHaveLength(1);
  });

  it('Bolt rejects a bad signature or a stale timestamp with 401; nothing is handled; the rejection is audited', async () => {
    const { fake, desk } = await rig();
    const forged = await fake.slash({ command: '/price', text: 'btc', user_id: TOM.id, channel_id: DESK }, { secret: 'not-the-signing-secret' });
    expect(forged.status).toBe(401);
    const stale = await fake.slash({ command: '/price', text: 'btc', user_id: TOM.id, channel_id: DESK }, { timestamp: Math.floor(Date.now() / 1000) - 600 });
    expect(stale.status).toBe(401);
    const forgedEvent = await fake.mention({ user: TOM.id, channel: DESK, text: '<@U0BOT> price btc' }, { secret: 'nope-nope-nope' });
    expect(forgedEvent.status).toBe(401);
    // an accepted request afterwards proves the rejected ones were not merely slow
    await fake.slash({ command: '/price', text: 'eth', user_id: TOM.id, channel_id: DESK });
    await fake.waitFor(() => fake.messages.length > 0);
    expect(fake.messages).toHaveLength(1);
    expect(sectionTexts(fake.messages[0] as PostedMessage)[0]).toContain('ETH/USDT');
    await desk.kernel.audit.flush();
    const tail = await desk.kernel.audit.tail(30);
    expect(tail.filter((e) => e.kind === 'signature-rejected' && e['platform'] === 'slack')).toHaveLength(3);
    expect(tail.filter((e) => e.kind === 'decision' && e['platform'] === 'slack')).toHaveLength(1);
  });
});

describe('Slack adapter: limits and faults', () => {
  it('a long reply is split: sections under 3,000 characters, each table part with its header, at most 50 blocks a message', async () => {
    const { fake, adapter } = await rig();
    const grid = block.table(
      ['symbol', 'last', 'change'],
      Array.from({ length: 150 }, (_, i) => [`SYM${i}/USDT`, (1000 + i * 3.25).toFixed(2), `${(i % 7) - 3}.00%`]),
      { title: 'Prices' },
    );
    const kv = block.kv(Array.from({ length: 600 }, (_, i): [string, string] => [`key ${i}`, `value ${i} with <tags> & more`]));
    const long: Reply = { blocks: [block.text('x'.repeat(7_000)), grid, kv] };
    await adapter.post({ platform: 'slack', channelId: DESK }, long);
    const posted = fake.messages.filter((m) => m.channel === DESK);
    expect(posted.length).toBeGreaterThan(1);
    for (const m of posted) expect(m.blocks.length).toBeLessThanOrEqual(50);
    const sections = posted.flatMap((m) => m.blocks.filter((b) => b['type'] === 'section'));
    for (const s of sections) {
      const t = (s['text'] as { text?: string } | undefined)?.text;
      if (t !== undefined) expect(t.length).toBeLessThanOrEqual(SECTION_LIMIT);
      const fields = s['fields'] as unknown[] | undefined;
      if (fields) expect(fields.length).toBeLessThanOrEqual(10);
    }
    const tableParts = sections.map((s) => (s['text'] as { text?: string } | undefined)?.text ?? '').filter((t) => t.startsWith('```'));
    expect(tableParts.length).toBeGreaterThan(1);
    for (const t of tableParts) expect(t.split('\n')[1]).toMatch(/^\s+symbol\s+last\s+change$/);
    const rows = tableParts.flatMap((t) => t.split('\n').filter((l) => /SYM\d+\/USDT/.test(l)));
    expect(rows).toHaveLength(150); // every row once, none lost or repeated at the cuts
    const fields = sections.flatMap((s) => (s['fields'] as Array<{ text: string }> | undefined) ?? []);
    expect(fields).toHaveLength(600);
    expect(fields[0]?.text).toBe('*key 0*\nvalue 0 with &lt;tags&gt; &amp; more');
  });

  it('a 429 with Retry-After is waited out by the WebClient and the message delivered', async () => {
    const { fake } = await rig({ answerInAckMs: 0 });
    fake.api.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    await fake.slash({ command: '/price', text: 'btc', user_id: TOM.id, channel_id: DESK });
    await fake.waitFor(() => fake.messages.find((m) => m.channel === DESK));
    const posts = fake.api.calls.filter((c) => c.method === 'chat.postMessage');
    expect(posts.map((c) => c.status)).toEqual([429, 200]);
    // the retry came no sooner than Retry-After said (a lower bound: never a speed assertion)
    expect((posts[1]?.at ?? 0) - (posts[0]?.at ?? 0)).toBeGreaterThanOrEqual(1_000 - 5);
  });

  it('a burst of 5xx is retried with backoff and the message delivered', async () => {
    const { fake, adapter } = await rig();
    fake.api.failNext('chat.postMessage', { status: 503 }, 2);
    fake.api.failNext('chat.postMessage', { status: 500 }, 1);
    await adapter.post({ platform: 'slack', channelId: DESK }, { blocks: [block.text('after the storm', 'ok')] });
    const posts = fake.api.calls.filter((c) => c.method === 'chat.postMessage');
    expect(posts.map((c) => c.status)).toEqual([503, 503, 500, 200]);
    const gaps = posts.slice(1).map((c, i) => c.at - (posts[i]?.at ?? 0));
    // p-retry's backoff: each wait at least the configured minimum, growing
    expect(gaps[0]).toBeGreaterThanOrEqual(FAST_RETRY.minTimeout - 5);
    expect(gaps[2]).toBeGreaterThanOrEqual(FAST_RETRY.minTimeout * FAST_RETRY.factor ** 2 - 5);
    expect(sectionTexts(fake.messages[0] as PostedMessage)).toEqual([':white_check_mark: after the storm']);
  });

  it('Slack staying down: post() gives up after bounded retries, kernel.post reports it, the desk keeps working', async () => {
    const { fake, desk, logs } = await rig({ answerInAckMs: 0 });
    fake.api.down({ status: 503 });
    const result = await desk.kernel.post(`slack:${DESK}`, { blocks: [block.text('digest')] });
    expect(result.ok).toBe(false);
    expect(fake.api.calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(FAST_RETRY.retries + 1);
    // the kernel still answers (the terminal here), and Slack again once it is back
    expect(await desk.say('vic', '/price btc')).toContain('BTC/USDT (binance)');
    fake.api.up();
    await fake.slash({ command: '/price', text: 'btc', user_id: TOM.id, channel_id: DESK });
    await fake.waitFor(() => fake.messages.find((m) => m.channel === DESK));
    // a reply that could not be delivered is logged and audited, without the token
    fake.api.down({ status: 500 });
    await fake.slash({ command: '/price', text: 'eth', user_id: TOM.id, channel_id: DESK });
    await expect
      .poll(async () => (await desk.kernel.audit.tail(10)).some((e) => e.kind === 'platform-fault' && e['platform'] === 'slack'), { timeout: 15_000 })
      .toBe(true);
    expect(logs.join('\n')).toContain('slack reply not delivered');
    expect(logs.join('\n')).not.toContain(BOT_TOKEN);
    expect(logs.join('\n')).not.toContain(SIGNING_SECRET);
  });

  it('post() to a channel and to a thread ("slack:C0DESK:<ts>"), and a halt notice reaches the notify channel', async () => {
    const { fake, desk } = await rig();
    expect(await desk.kernel.post(`slack:${DESK}`, { blocks: [block.text('morning digest <b> & co')] })).toEqual({ ok: true });
    expect(await desk.kernel.post(`slack:${DESK}:1700000000.000200`, { blocks: [block.text('in the thread')] })).toEqual({ ok: true });
    const [digest, threaded] = fake.messages;
    expect(sectionTexts(digest as PostedMessage)).toEqual(['morning digest &lt;b&gt; &amp; co']);
    expect(threaded?.thread_ts).toBe('1700000000.000200');
    // a private reply posted proactively has nobody to be private to: it goes to the channel
    expect(await desk.kernel.post(`slack:${DESK}`, { blocks: [block.text('note')], private: true })).toEqual({ ok: true });
    expect(fake.messages.at(-1)?.via).toBe('chat.postMessage');

    await desk.say('ann', '/halt drill');
    const notice = await fake.waitFor(() => fake.messages.find((m) => allText(m).includes('TRADING HALTED')));
    expect(sectionTexts(notice)[0]).toMatch(/^:x: .*TRADING HALTED by ann: drill/);
  });
});

describe('Slack adapter: Socket Mode', () => {
  it('opens the connection with the app token, answers a slash command envelope (acked) with Block Kit, and reports the socket in health', async () => {
    const { fake, adapter } = await rig({ mode: 'socket' });
    expect(fake.api.calls.find((c) => c.method === 'apps.connections.open')?.status).toBe(200);
    expect(fake.socket.connected).toBe(1);
    expect(adapter.health()).toMatchObject({ connected: true });
    expect(adapter.health().detail).toContain('socket mode connected');
    const ack = await fake.slash({ command: '/price', text: 'BTC/USDT', user_id: TOM.id, channel_id: DESK });
    expect(JSON.parse(ack.body)).toMatchObject({ response_type: 'in_channel' });
    const m = await fake.waitFor(() => fake.messages.find((x) => x.channel === DESK && x.via === 'ack'));
    expect(sectionTexts(m)[0]).toMatch(/^```\n\s+symbol\s+last/);
    expect(sectionTexts(m)[0]).toContain('BTC/USDT (binance)');
  });

  it('/buy and its Confirm button over the socket fill on paper; a retried event envelope is handled once', async () => {
    const { fake, desk } = await rig({ mode: 'socket' });
    await fake.slash({ command: '/buy', text: 'BTC/USDT 0.01', user_id: TOM.id, channel_id: DESK });
    const ask = await fake.waitFor(() => fake.messages.find((x) => x.blocks.some((b) => b['type'] === 'actions')));
    expect((await fake.press(ask, 'Confirm', TOM)).status).toBe(200);
    await fake.waitFor(() => fake.messages.find((x) => allText(x).includes('Filled')));
    expect((await desk.kernel.orders.recent(1))[0]).toMatchObject({ state: 'filled', filled: 0.01 });

    const first = await fake.mention({ user: TOM.id, channel: DESK, text: '<@U0BOT> price eth' });
    await fake.mention({ user: TOM.id, channel: DESK, text: '<@U0BOT> price eth', event_id: first.eventId }, { retryNum: 1, retryReason: 'timeout' });
    await fake.mention({ user: TOM.id, channel: DESK, text: '<@U0BOT> price sol' });
    // mentions are handled concurrently: wait for both answers, whichever comes first
    await fake.waitFor(() => fake.messages.find((m) => sectionTexts(m)[0]?.includes('SOL/USDT')));
    await fake.waitFor(() => fake.messages.find((m) => sectionTexts(m)[0]?.includes('ETH/USDT')));
    expect(fake.messages.filter((m) => sectionTexts(m)[0]?.includes('ETH/USDT'))).toHaveLength(1);
    // the retried envelope never reached a decision: two /price decisions for three envelopes
    const decisions = (await desk.kernel.audit.tail(100)).filter((a) => a.kind === 'decision' && a.command === 'price');
    expect(decisions).toHaveLength(2);
  });

  it('when Slack recycles the connection the client reconnects and keeps working; stop() closes it', async () => {
    const { fake, adapter } = await rig({ mode: 'socket' });
    fake.socket.refresh();
    // the client waits a few seconds before reconnecting: health says so meanwhile
    await fake.waitFor(() => !adapter.health().connected || undefined, 15_000, 'health to show the dropped socket');
    expect(adapter.health().detail).toMatch(/reconnecting/);
    await fake.waitFor(() => fake.socket.connections >= 2 && fake.socket.connected === 1, 15_000, 'a second Socket Mode connection');
    await fake.waitFor(() => adapter.health().connected || undefined, 15_000, 'healthy again');
    expect(fake.api.calls.filter((c) => c.method === 'apps.connections.open')).toHaveLength(2);
    await fake.slash({ command: '/price', text: 'btc', user_id: TOM.id, channel_id: DESK });
    await fake.waitFor(() => fake.messages.find((x) => x.channel === DESK));
    await adapter.stop();
    expect(adapter.health()).toEqual({ connected: false, detail: 'stopped' });
    await fake.waitFor(() => fake.socket.connected === 0, 15_000, 'the socket to close');
  });

  it('a wrong app token fails start with a clear error', async () => {
    const err = await rig({ mode: 'socket', appToken: 'xapp-1-wrong-token-0000' }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe('Slack rejected SLACK_APP_TOKEN (invalid_auth); it must be the app-level token (xapp-…) with connections:write');
    expect(err?.message).not.toContain('wrong-token');
  });
});
