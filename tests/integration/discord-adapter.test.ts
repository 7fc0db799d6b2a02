import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import execution from '../../plugins/execution/index.js';
import market from '../../plugins/market/index.js';
import risk from '../../plugins/risk/index.js';
import { createDiscordAdapter, DiscordAdapter, DISCORD_LIMITS, type DiscordAdapterOptions } from '../../src/adapters/discord/index.js';
import { embedLength } from '../../src/adapters/discord/render.js';
import { ManualClock } from '../../src/kernel/clock.js';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import { arg, block, defineCommand, definePlugin, reply } from '../../src/kernel/index.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { startFakeDiscord, type FakeDiscord, type InteractionState, type StoredMessage } from '../fakes/discord/index.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';
import { sharedDataDir } from '../helpers/recorded.js';

/**
 * The Discord adapter end to end: the real discord.js client (gateway WebSocket + REST with its
 * own rate-limit handling) against a fake Discord on 127.0.0.1 that speaks the gateway protocol
 * and the REST API and records everything the bot sends, with a real kernel, the market, risk
 * and execution plugins, and recorded prices.
 */

const ANN = { id: '400000000000000001', username: 'ann' };
const TOM = { id: '400000000000000002', username: 'tom' };
const TESS = { id: '400000000000000003', username: 'tess' };
const STRANGER = { id: '400000000000000999', username: 'stranger' };
/** fast, bounded backoff: the tests check that retries happen and slow down, not Discord's pacing */
const FAST_RETRY = { attempts: 4, baseMs: 50, maxMs: 400 };

/** a gate the /slow command waits on, so a test decides when the kernel answers */
let openGate: () => void = () => undefined;
let gate: Promise<void> = Promise.resolve();
function closeGate(): void {
  gate = new Promise((resolve) => (openGate = resolve));
}

const ROWS = Array.from({ length: 150 }, (_, i) => [`ROW${String(i).padStart(3, '0')}/USDT`, (1000 + i * 7.25).toFixed(2), `${(i % 13) - 6}.5%`, 'binance']);

const probe = definePlugin({
  name: 'discord-probe',
  version: '0.0.0',
  setup(ctx) {
    ctx.command(
      defineCommand({
        name: 'rows',
        summary: 'A 150-row table',
        permission: null,
        handler: () => reply.of(block.text('Watchlist'), block.table(['symbol', 'last', '24h', 'source'], ROWS)),
      }),
    );
    ctx.command(
      defineCommand({
        name: 'ask',
        summary: 'A question whose button runs /slow',
        permission: null,
        handler: () => reply.of(block.text('Run the slow one?'), block.buttons([{ label: 'Go', command: '/slow', style: 'primary' }])),
      }),
    );
    ctx.command(
      defineCommand({
        name: 'slow',
        summary: 'Answers when the test opens the gate',
        args: { visibility: arg.choice(['public', 'private'] as const).optional() },
        permission: null,
        handler: async (c) => {
          await gate;
          return c.args.visibility === 'private' ? reply.error('only for you') : reply.text('finally done', 'ok');
        },
      }),
    );
  },
});

interface Rig {
  fake: FakeDiscord;
  desk: TestDesk;
  adapter: DiscordAdapter;
  logs: string[];
}

const rigs: Rig[] = [];
afterEach(async () => {
  openGate();
  while (rigs.length > 0) {
    const r = rigs.pop();
    await r?.desk.kernel.stop();
    await r?.fake.close();
  }
});

function deskConfig(fake: FakeDiscord): ReturnType<typeof testConfig> {
  const base = testConfig();
  const withDiscord = (p: string, id: string) => ({ ...base.people[p], ids: { ...base.people[p]?.ids, discord: id } });
  return testConfig({
    market: { dir: sharedDataDir() },
    people: { ...base.people, ann: withDiscord('ann', ANN.id), tom: withDiscord('tom', TOM.id), tess: withDiscord('tess', TESS.id) },
    trading: { pollMs: 0, notify: [`discord:${fake.alerts.id}`] },
  });
}

async function rig(opts: Partial<DiscordAdapterOptions> = {}): Promise<Rig> {
  const fake = await startFakeDiscord();
  const desk = await startDesk({ plugins: [market, risk, execution, probe], config: deskConfig(fake) });
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (l: string) => void logs.push(l) });
  const adapter = new DiscordAdapter({
    token: fake.token,
    logger,
    apiBase: fake.apiBase,
    guildId: fake.guild.id,
    retry: FAST_RETRY,
    // answers are never deferred unless a test asks: the path taken must not depend on machine speed
    deferAfterMs: 120_000,
    ...opts,
  });
  const r: Rig = { fake, desk, adapter, logs };
  rigs.push(r);
  await desk.kernel.attach(adapter);
  fake.user(ANN.id, ANN.username);
  fake.user(TOM.id, TOM.username);
  return r;
}

/** the interaction's messages once it has been answered and `count` messages exist */
async function answered(fake: FakeDiscord, i: InteractionState, count = 1): Promise<StoredMessage[]> {
  return fake.waitFor(`${count} answer(s) to interaction ${i.id}`, () => {
    const msgs = fake.responses(i.id).filter((m) => !m.loading);
    return fake.interaction(i.id)?.callbackType != null && msgs.length >= count ? msgs : undefined;
  });
}

const descriptions = (m: StoredMessage): string[] => m.embeds.map((e) => String(e.description ?? ''));
const text = (m: StoredMessage): string =>
  m.embeds
    .map((e) => [e.title, e.description, ...((e.fields as Array<{ name: string; value: string }> | undefined) ?? []).map((f) => `${f.name}: ${f.value}`)].filter(Boolean).join('\n'))
    .join('\n');
const buttonsOf = (m: StoredMessage): Array<{ label: string; style: number; custom_id: string }> =>
  m.components.flatMap((r) => r.components as Array<{ label: string; style: number; custom_id: string }>);

describe('Discord adapter through the fake Discord (real discord.js)', () => {
  it('connects over the gateway with the bot token and registers typed commands in the guild', async () => {
    const { fake, adapter } = await rig();
    expect(fake.gateway.stats.identifies).toEqual([{ tokenOk: true, intents: 1, shard: [0, 1] }]);
    const gw = fake.requests.find((r) => r.path === '/gateway/bot');
    expect(gw?.botAuth).toBe(true);
    const put = fake.requests.find((r) => r.method === 'PUT');
    expect(put).toMatchObject({ path: `/applications/${fake.appId}/guilds/${fake.guild.id}/commands`, status: 200, botAuth: true });

    const cmds = fake.commands(fake.guild.id);
    const opt = (c: string, o: string) => ((cmds.find((x) => x.name === c)?.options as Array<Record<string, unknown>>) ?? []).find((x) => x.name === o);
    expect(cmds.map((c) => c.name)).toEqual(expect.arrayContaining(['price', 'buy', 'halt', 'confirm', 'help', 'chart', 'twap']));
    expect(opt('price', 'symbols')).toMatchObject({ type: 3, required: true });
    expect(opt('buy', 'symbol')).toMatchObject({ type: 3, required: true, autocomplete: true });
    expect(opt('buy', 'limit')).toMatchObject({ type: 3, required: false });
    expect(opt('twap', 'amount')).toMatchObject({ type: 10, required: true });
    expect(opt('twap', 'minutes')).toMatchObject({ type: 4, required: true });
    expect(opt('twap', 'side')).toMatchObject({ choices: [{ name: 'buy', value: 'buy' }, { name: 'sell', value: 'sell' }] });
    expect(adapter.health()).toMatchObject({ connected: true });
    expect(adapter.health().detail).toContain('commands registered in guild');
  });

  it('/price BTC/USDT from a known user: an embed with the price grid in a code block', async () => {
    const { fake, desk } = await rig();
    const i = fake.slash('price', { symbols: 'BTC/USDT' }, { user: ANN });
    const [m] = await answered(fake, i);
    expect(fake.interaction(i.id)?.callbackType).toBe(4);
    expect(m?.flags).toBe(0);
    const [d] = descriptions(m as StoredMessage);
    expect(d).toMatch(/^```\n {2}symbol +last +24h +volume 24h/);
    expect(d).toMatch(/\n {2}BTC\/USDT \(binance\) +[\d,]+\.\d+ +[+-][\d.]+%/);
    const audit = await desk.kernel.audit.tail(20);
    expect(audit.find((a) => a.kind === 'decision' && a.msg === i.id)).toMatchObject({ command: 'price', user: ANN.id, actor: 'ann', allowed: true, platform: 'discord' });
  });

  it("an unknown user's /halt is refused privately with their Discord id, and audited", async () => {
    const { fake, desk } = await rig();
    const i = fake.slash('halt', { reason: 'panic' }, { user: STRANGER });
    const [m] = await answered(fake, i);
    expect(m?.flags).toBe(64); // ephemeral: only the stranger sees it
    expect(text(m as StoredMessage)).toContain(STRANGER.id);
    expect(m?.embeds[0]?.color).toBe(0xed4245);
    const audit = await desk.kernel.audit.tail(20);
    expect(audit.find((a) => a.kind === 'decision' && a.msg === i.id)).toMatchObject({ command: 'halt', user: STRANGER.id, actor: null, allowed: false });
    expect((await desk.kernel.halt.status()).halted).toBe(false);
  });

  it('/buy asks to confirm with native buttons; another trader cannot press Confirm; the requester can, once, and it fills on paper', async () => {
    const { fake, desk } = await rig();
    const ask = fake.slash('buy', { symbol: 'BTC/USDT', size: '0.01' }, { user: TOM });
    const [m] = await answered(fake, ask);
    const question = m as StoredMessage;
    expect(text(question)).toMatch(/Confirm \/buy BTC\/USDT 0\.01\?/);
    expect(text(question)).toContain('notional');
    expect(buttonsOf(question).map((b) => [b.label, b.style])).toEqual([
      ['Confirm', 4],
      ['Cancel', 2],
    ]);
    expect(await desk.kernel.orders.recent(5)).toHaveLength(0);

    // Tess presses Tom's Confirm: a private refusal, the buttons stay
    const wrong = fake.press(question, 'Confirm', { user: TESS });
    const [refusal] = await answered(fake, wrong);
    expect(refusal?.flags).toBe(64);
    expect(text(refusal as StoredMessage)).toContain('Only Tom Trader can confirm');
    expect(buttonsOf(question)).toHaveLength(2);

    const press = fake.press(question, 'Confirm', { user: TOM });
    const [done] = await answered(fake, press);
    expect(fake.interaction(press.id)?.callbackType).toBe(7); // the question's message updated in place...
    expect(question.components).toEqual([]); // ...without its buttons
    expect(text(question)).toMatch(/Confirm \/buy BTC\/USDT 0\.01\?/); // the question itself stays
    expect(text(done as StoredMessage)).toContain('Filled');
    const [filled] = await desk.kernel.orders.recent(5);
    expect(filled).toMatchObject({ state: 'filled', filled: 0.01, symbol: 'BTC/USDT' });

    // the same press delivered again is handled once: no second order, no second answer
    fake.redeliver(press);
    const marker = fake.slash('help', {}, { user: TOM });
    await answered(fake, marker);
    expect(await desk.kernel.orders.recent(5)).toHaveLength(1);
    expect(fake.requests.filter((r) => r.path.startsWith(`/interactions/${press.id}/`))).toHaveLength(1);
  });

  it('a redelivered slash command is handled once (the interaction id is the dedupe key)', async () => {
    const { fake, desk } = await rig();
    const i = fake.slash('price', { symbols: 'BTC/USDT' }, { user: ANN });
    await answered(fake, i);
    fake.redeliver(i);
    const marker = fake.slash('price', { symbols: 'ETH/USDT' }, { user: ANN });
    await answered(fake, marker);
    const audit = await desk.kernel.audit.tail(50);
    expect(audit.filter((a) => a.kind === 'decision' && a.msg === i.id)).toHaveLength(1);
    expect(fake.requests.filter((r) => r.path.startsWith(`/interactions/${i.id}/`))).toHaveLength(1);
    expect(fake.requests.filter((r) => r.status >= 400)).toEqual([]);
  });

  it('symbol options autocomplete from the market', async () => {
    const { fake } = await rig();
    const i = fake.autocomplete('buy', { symbol: 'bt' }, 'symbol', { user: TOM });
    const choices = await fake.waitFor('autocomplete answer', () => (fake.interaction(i.id)?.callbackType === 8 ? fake.interaction(i.id)?.callbackData?.choices : undefined));
    expect(choices).toEqual(expect.arrayContaining([{ name: 'BTC/USDT', value: 'BTC/USDT' }]));
  });

  it('a 150-row table is split over messages under the limits, every part a whole table with its header', async () => {
    const { fake } = await rig();
    const i = fake.slash('rows', {}, { user: ANN });
    await answered(fake, i, 2);
    const all = await fake.waitFor('every row', () => fake.responses(i.id).flatMap(descriptions).join('\n').includes('ROW149') && fake.responses(i.id));
    const seen: string[] = [];
    for (const m of all) {
      expect(m.embeds.reduce((n, e) => n + embedLength(e as never), 0)).toBeLessThanOrEqual(DISCORD_LIMITS.embedTotal);
      for (const d of descriptions(m)) {
        expect(d.length).toBeLessThanOrEqual(DISCORD_LIMITS.description);
        const code = d.slice(d.indexOf('```'));
        expect(code).toMatch(/^```\n {2}symbol +last +24h +source\n {2}─/);
        expect(code.endsWith('\n```')).toBe(true);
        seen.push(...[...code.matchAll(/ROW\d{3}/g)].map((x) => x[0]));
      }
    }
    expect(seen).toEqual(ROWS.map((r) => (r[0] as string).slice(0, 6)));
    // the first part answers the interaction, the rest are follow-ups
    expect(fake.requests.filter((r) => r.path.startsWith(`/webhooks/${fake.appId}/`) && r.method === 'POST').length).toBe(all.length - 1);
  });

  it('/chart uploads the PNG as an attachment shown in the embed', async () => {
    const { fake } = await rig();
    const i = fake.slash('chart', { symbol: 'BTC/USDT' }, { user: ANN });
    const [m] = await answered(fake, i);
    const callback = fake.requests.find((r) => r.path === `/interactions/${i.id}/${i.token}/callback`);
    expect(callback?.files).toHaveLength(1);
    expect(callback?.files[0]?.contentType).toBe('image/png');
    const att = m?.attachments[0];
    expect(Buffer.from(att?.bytes ?? []).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(att?.description).toMatch(/BTC\/USDT .* chart/);
    expect(m?.embeds.some((e) => (e.image as { url?: string } | undefined)?.url === `attachment://${att?.filename}`)).toBe(true);
  });

  it('a slow command is deferred, then the original response is edited; a slow private answer replaces the deferral with an ephemeral follow-up', async () => {
    const { fake } = await rig({ deferAfterMs: 50 });
    closeGate();
    const i = fake.slash('slow', {}, { user: ANN });
    await fake.waitFor('the deferral', () => fake.interaction(i.id)?.callbackType === 5 || undefined);
    expect(fake.responses(i.id)[0]?.loading).toBe(true);
    openGate();
    const [m] = await answered(fake, i);
    expect(fake.requests.some((r) => r.method === 'PATCH' && r.path === `/webhooks/${fake.appId}/${i.token}/messages/@original`)).toBe(true);
    expect(descriptions(m as StoredMessage)).toEqual(['✅ finally done']);

    closeGate();
    const p = fake.slash('slow', { visibility: 'private' }, { user: ANN });
    await fake.waitFor('the second deferral', () => fake.interaction(p.id)?.callbackType === 5 || undefined);
    openGate();
    const [secret] = await fake.waitFor('the ephemeral follow-up', () => fake.responses(p.id).find((x) => !x.loading && x.flags === 64) && fake.responses(p.id));
    expect(secret?.flags).toBe(64);
    expect(text(secret as StoredMessage)).toContain('only for you');
    expect(fake.messages.filter((x) => x.interactionId === p.id && x.deleted)).toHaveLength(1); // the public "thinking…" is gone
  });

  it('a slow button press is acknowledged with a deferred update, then its buttons come off and the answer follows', async () => {
    const { fake } = await rig({ deferAfterMs: 50 });
    const ask = fake.slash('ask', {}, { user: ANN });
    const [question] = await answered(fake, ask);
    closeGate();
    const press = fake.press(question as StoredMessage, 'Go', { user: ANN });
    await fake.waitFor('the deferred update', () => fake.interaction(press.id)?.callbackType === 6 || undefined);
    expect(buttonsOf(question as StoredMessage)).toHaveLength(1);
    openGate();
    const [done] = await answered(fake, press);
    expect(descriptions(done as StoredMessage)).toEqual(['✅ finally done']);
    await fake.waitFor('the buttons removed', () => (question as StoredMessage).components.length === 0 || undefined);
    expect(fake.requests.some((r) => r.method === 'PATCH' && r.path === `/webhooks/${fake.appId}/${press.token}/messages/@original`)).toBe(true);
  });

  it('a button the adapter no longer knows (from before a restart) is refused privately; nothing runs', async () => {
    const { fake, desk } = await rig();
    const ask = fake.slash('ask', {}, { user: ANN });
    const [question] = await answered(fake, ask);
    const stale: StoredMessage = { ...(question as StoredMessage), components: [{ type: 1, components: [{ type: 2, style: 4, label: 'Confirm', custom_id: 'dk:from-a-previous-run' }] }] };
    const press = fake.press(stale, 'Confirm', { user: ANN });
    const [m] = await answered(fake, press);
    expect(m?.flags).toBe(64);
    expect(text(m as StoredMessage)).toContain('expired');
    const audit = await desk.kernel.audit.tail(20);
    expect(audit.some((a) => a.msg === press.id)).toBe(false);
  });

  it('heartbeats are ACKed; a dropped gateway connection is resumed and interactions sent meanwhile still arrive', async () => {
    const fake = await startFakeDiscord({ heartbeatIntervalMs: 100 });
    const desk = await startDesk({ plugins: [market, risk, execution, probe], config: deskConfig(fake) });
    const adapter = new DiscordAdapter({ token: fake.token, logger: pino({ level: 'silent' }), apiBase: fake.apiBase, guildId: fake.guild.id, retry: FAST_RETRY, deferAfterMs: 120_000 });
    rigs.push({ fake, desk, adapter, logs: [] });
    await desk.kernel.attach(adapter);
    await fake.waitFor('two heartbeats', () => fake.gateway.stats.heartbeats >= 2 || undefined);
    expect(adapter.health().connected).toBe(true);

    fake.gateway.drop();
    await fake.waitFor('the connection gone', () => fake.gateway.ready() === 0 || undefined);
    const i = fake.slash('price', { symbols: 'BTC/USDT' }, { user: ANN }); // sent while the bot is away: replayed on RESUME
    const [m] = await answered(fake, i);
    expect(descriptions(m as StoredMessage)[0]).toContain('BTC/USDT');
    expect(fake.gateway.stats.resumes).toBe(1);
    expect(fake.gateway.stats.identifies).toHaveLength(1);
    await fake.waitFor('healthy again', () => adapter.health().connected || undefined);
  });

  it('a command in a thread counts as its parent channel, with the thread alongside', async () => {
    const { fake, desk } = await rig();
    const i = fake.slash('price', { symbols: 'BTC/USDT' }, { user: ANN, channel: fake.thread });
    const [m] = await answered(fake, i);
    expect(m?.channelId).toBe(fake.thread.id);
    const audit = await desk.kernel.audit.tail(20);
    expect(audit.find((a) => a.kind === 'decision' && a.msg === i.id)).toMatchObject({ channel: fake.desk.id });
  });

  it('works in DMs with globally registered commands', async () => {
    const { fake } = await rig({ guildId: null });
    expect(fake.requests.find((r) => r.method === 'PUT')?.path).toBe(`/applications/${fake.appId}/commands`);
    const dm = fake.dm(ANN);
    const i = fake.slash('whoami', {}, { user: ANN, channel: dm });
    const [m] = await answered(fake, i);
    expect(m?.channelId).toBe(dm.id);
    expect(text(m as StoredMessage)).toContain('ann');
  });

  it('a 429 with Retry-After is waited out by discord.js and the reply delivered', async () => {
    const { fake } = await rig();
    fake.fault({ method: 'POST', path: /^\/interactions\/\d+\/[^/]+\/callback$/, status: 429, times: 1, retryAfter: 1 });
    const i = fake.slash('price', { symbols: 'BTC/USDT' }, { user: ANN });
    await answered(fake, i);
    const tries = fake.requests.filter((r) => r.path.startsWith(`/interactions/${i.id}/`));
    expect(tries.map((r) => r.status)).toEqual([429, 204]);
    expect((tries[1]?.at ?? 0) - (tries[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);

    // the same on a channel post (discord.js's per-route bucket handler)
    fake.fault({ method: 'POST', path: /^\/channels\/\d+\/messages$/, status: 429, times: 1, retryAfter: 1 });
    const { desk } = rigs[rigs.length - 1] as Rig;
    expect(await desk.kernel.post(`discord:${fake.alerts.id}`, reply.text('after the limit'))).toEqual({ ok: true });
    const posts = fake.requests.filter((r) => r.path === `/channels/${fake.alerts.id}/messages`);
    expect(posts.map((r) => r.status)).toEqual([429, 200]);
  });

  it('a 5xx burst is retried with growing backoff; a Discord that stays down fails post() without stopping the desk or leaking tokens', async () => {
    const { fake, desk, logs } = await rig();
    fake.fault({ method: 'POST', path: /^\/channels\/\d+\/messages$/, status: 500, times: 3 });
    expect(await desk.kernel.post(`discord:${fake.alerts.id}`, reply.text('after the burst'))).toEqual({ ok: true });
    const posts = fake.requests.filter((r) => r.path === `/channels/${fake.alerts.id}/messages`);
    expect(posts.map((r) => r.status)).toEqual([500, 500, 500, 200]);
    const gaps = posts.slice(1).map((r, k) => r.at - (posts[k]?.at ?? 0));
    gaps.forEach((g, k) => expect(g).toBeGreaterThanOrEqual(FAST_RETRY.baseMs * 2 ** k - 5));
    expect(text(fake.channelMessages(fake.alerts.id)[0] as StoredMessage)).toBe('after the burst');

    fake.fault({ method: 'POST', path: /^\/channels\/\d+\/messages$/, status: 502, times: FAST_RETRY.attempts });
    const down = await desk.kernel.post(`discord:${fake.alerts.id}`, reply.text('never arrives'));
    expect(down.ok).toBe(false);
    expect(!down.ok && down.error).toMatch(/502/);
    // the desk still answers, through a 5xx burst on the interaction callback too
    fake.fault({ method: 'POST', path: /^\/interactions\/\d+\/[^/]+\/callback$/, status: 500, times: 2 });
    const i = fake.slash('price', { symbols: 'BTC/USDT' }, { user: ANN });
    await answered(fake, i);
    expect(fake.requests.filter((r) => r.path.startsWith(`/interactions/${i.id}/`)).map((r) => r.status)).toEqual([500, 500, 204]);
    const tokens = [fake.token, ...[...fake.requests].flatMap((r) => /\/interactions\/\d+\/([^/]+)\//.exec(r.path)?.[1] ?? [])];
    expect(logs.join('\n')).toContain('request failed; retrying');
    for (const t of tokens) expect(logs.join('\n')).not.toContain(t);
  });

  it('post() reaches a channel, a thread and a DM; a halt is announced in the notify channel', async () => {
    const { fake, desk } = await rig();
    expect(await desk.kernel.post(`discord:${fake.alerts.id}`, reply.of(block.text('Digest'), block.kv({ BTC: '43,000' })))).toEqual({ ok: true });
    expect(await desk.kernel.post(`discord:${fake.desk.id}:${fake.thread.id}`, reply.text('in the thread'))).toEqual({ ok: true });
    expect(await desk.kernel.post(`discord:@${TOM.id}`, reply.text('just for Tom'))).toEqual({ ok: true });
    const [digest] = fake.channelMessages(fake.alerts.id);
    expect(digest?.embeds[1]).toMatchObject({ fields: [{ name: 'BTC', value: '43,000' }] });
    expect(text(fake.channelMessages(fake.thread.id)[0] as StoredMessage)).toBe('in the thread');
    const dm = fake.dm(TOM);
    expect(text(fake.channelMessages(dm.id)[0] as StoredMessage)).toBe('just for Tom');

    const h = fake.slash('halt', { reason: 'exchange incident' }, { user: ANN });
    await answered(fake, h);
    const notice = await fake.waitFor('the halt notice', () => fake.channelMessages(fake.alerts.id).find((m) => text(m).includes('TRADING HALTED')));
    expect(text(notice)).toContain('exchange incident');
    expect(notice.embeds[0]?.color).toBe(0xed4245);
  });

  it('every command of every bundled plugin registers as a valid Discord command', async () => {
    const fake = await startFakeDiscord();
    const kernel = await Kernel.start({
      config: deskConfig(fake),
      secrets: readSecrets({}),
      logger: pino({ level: 'silent' }),
      clock: new ManualClock(Date.UTC(2026, 10, 27, 9)),
      discover: true,
    });
    const adapter = new DiscordAdapter({ token: fake.token, logger: pino({ level: 'silent' }), apiBase: fake.apiBase, guildId: fake.guild.id, retry: FAST_RETRY });
    try {
      await kernel.attach(adapter);
      // the fake answers 400 (Invalid Form Body) to anything Discord would refuse
      expect(fake.requests.find((r) => r.method === 'PUT')?.status).toBe(200);
      expect(fake.commands(fake.guild.id).map((c) => c.name)).toEqual(kernel.registry.list().map((c) => c.spec.name));
    } finally {
      await kernel.stop();
      await fake.close();
    }
  });

  it('the factory: null without DISCORD_BOT_TOKEN or when disabled; a bad token is a clear start error without the token', async () => {
    const logger = pino({ level: 'silent' });
    const config = { enabled: true, apiBase: null, gatewayUrl: null, guildId: null };
    expect(createDiscordAdapter({ config, secrets: readSecrets({}), logger })).toBeNull();
    expect(createDiscordAdapter({ config: { ...config, enabled: false }, secrets: readSecrets({ DISCORD_BOT_TOKEN: 'x.y.z' }), logger })).toBeNull();

    const fake = await startFakeDiscord();
    try {
      const wrong = 'MTA.wrong.token-value';
      const adapter = createDiscordAdapter({ config: { ...config, apiBase: fake.apiBase }, secrets: readSecrets({ DISCORD_BOT_TOKEN: wrong }), logger });
      expect(adapter).toBeInstanceOf(DiscordAdapter);
      const desk = await startDesk({ config: deskConfig(fake) });
      try {
        const err = await desk.kernel.attach(adapter as DiscordAdapter).catch((e: unknown) => e as Error);
        expect(err).toBeInstanceOf(Error);
        expect((err as Error).message).toContain('DISCORD_BOT_TOKEN');
        expect((err as Error).message).not.toContain(wrong);
        expect(fake.requests.find((r) => r.path === '/gateway/bot')).toMatchObject({ status: 401, botAuth: false });
      } finally {
        await desk.kernel.stop();
      }
    } finally {
      await fake.close();
    }
  });
});
