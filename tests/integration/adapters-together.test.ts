import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import execution from '../../plugins/execution/index.js';
import market from '../../plugins/market/index.js';
import risk from '../../plugins/risk/index.js';
import { ConsoleAdapter } from '../../src/adapters/console/console-adapter.js';
import { startAdapters } from '../../src/adapters/start.js';
import { ManualClock } from '../../src/kernel/clock.js';
import type { DeskbotConfig } from '../../src/kernel/config/schema.js';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import { reply } from '../../src/kernel/index.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { startFakeDiscord, type FakeDiscord, type FakeUser as DiscordUser, type InteractionState, type StoredMessage } from '../fakes/discord/index.js';
import type { PostedMessage } from '../fakes/slack/web-api.js';
import { FakeSlack } from '../fakes/slack/server.js';
import { botApi } from '../fakes/telegram/methods.js';
import { FakeTelegram, type FakeChat, type FakeUser as TelegramUser, type SentMessage } from '../fakes/telegram/index.js';
import { testConfig } from '../helpers/kernel.js';
import { sharedDataDir } from '../helpers/recorded.js';

/**
 * Issue #6: one deskbot process serves Telegram, Slack, Discord and the terminal at once.
 *
 * Each test runs the desk the way `deskbot start` does: one Kernel (the market, risk and
 * execution plugins on recorded prices, paper trading), then `startAdapters(kernel, config, secrets, logger)` with a token in the
 * environment for every platform, then the terminal (ConsoleAdapter) attached last. The
 * adapters are made by their factories from config alone — `adapters.telegram.apiRoot`,
 * `adapters.slack.{mode: http, port: 0, apiUrl}`, `adapters.discord.{apiBase, guildId}` point
 * them at three local protocol fakes, where the real telegraf, Bolt and discord.js do the
 * talking. Nothing here is tuned for the test (no short retry policies, no deferral override):
 * the factories expose none, so what the tests see is what production gets.
 *
 * Every wait is for an event, with a generous cap; no assertion depends on how fast the
 * machine is.
 */

type Platform = 'telegram' | 'slack' | 'discord';

const TELEGRAM_TOKEN = '123456789:AAHtogetherTokenForTests_abcdefghijk';
const SLACK_BOT_TOKEN = 'xoxb-1111-2222-deskbot-together-token';
const SLACK_SIGNING_SECRET = '0ddba11cafe0123456789abcdef45678';
/** a token each platform rejects at start-up (item 3) */
const WRONG: Record<Platform, string> = {
  telegram: '987654321:AAHwrongTokenNobodyIssued_zyxwvutsrq',
  slack: 'xoxb-9999-8888-wrong-together-token',
  discord: 'MTA.wrong.together-token-value-4242',
};

/** people as each platform knows them (ann is an admin, tom a trader; see tests/helpers/kernel.ts) */
const ANN_TG: TelegramUser = { id: 1001, first_name: 'Ann', username: 'ann_admin' };
const TOM_TG: TelegramUser = { id: 2002, first_name: 'Tom', username: 'tom_trades' };
const ANN_SLACK = 'U_ANN';
const TOM_SLACK = 'U_TOM';
const ANN_DISCORD: DiscordUser = { id: '400000000000000001', username: 'ann' };
const TOM_DISCORD: DiscordUser = { id: '400000000000000002', username: 'tom' };

/** where people talk to the desk, and where it announces halts */
const TG_DESK: FakeChat = { id: -1001234567890, type: 'supergroup', title: 'Trading desk' };
const TG_ALERTS: FakeChat = { id: -1009876543210, type: 'supergroup', title: 'Desk alerts' };
const SLACK_DESK = 'C0DESK';
const SLACK_ALERTS = 'C0ALERTS';

/** a cap for one event (a reply, a notice); generous, never a speed assertion */
const EVENT_CAP_MS = 60_000;
/** per test: the real SDKs connect, and the real retry budgets (Telegram ≈ 7.5 s) run out */
const TEST_MS = 180_000;

interface Terminal {
  input: PassThrough;
  /** everything the terminal has printed so far */
  printed(): string;
}

interface Desk {
  kernel: Kernel;
  telegram: FakeTelegram;
  slack: FakeSlack;
  discord: FakeDiscord;
  terminal: Terminal;
  /** what startAdapters returned: the platforms that connected */
  connected: string[];
  /** every log line (JSON) of the kernel, startAdapters and the adapters, at debug level */
  logs: string[];
  /** every secret value the process was given */
  secrets: string[];
}

const desks: Desk[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const d of desks.splice(0)) {
    d.terminal.input.end();
    await d.kernel.stop();
  }
  for (const close of closers.splice(0).reverse()) await close();
}, 120_000);

function captureLogs(): { logger: Logger; logs: string[] } {
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  // a plain pino logger: no scrubbing layer, so any token in a line is the adapters' own leak
  return { logger: pino({ level: 'debug' }, stream), logs };
}

function deskConfig(fakes: { telegram: FakeTelegram; slack: FakeSlack; discord: FakeDiscord }): DeskbotConfig {
  const base = testConfig();
  const ids = (person: string, more: Record<string, string>): Record<string, unknown> => ({ ...base.people[person], ids: { ...base.people[person]?.ids, ...more } });
  return testConfig({
    market: { dir: sharedDataDir() },
    people: {
      ...base.people,
      ann: ids('ann', { telegram: String(ANN_TG.id), slack: ANN_SLACK, discord: ANN_DISCORD.id }),
      tom: ids('tom', { telegram: String(TOM_TG.id), slack: TOM_SLACK, discord: TOM_DISCORD.id }),
    },
    trading: {
      pollMs: 0,
      // one channel per platform, and the terminal: where halts are announced
      notify: [`telegram:${TG_ALERTS.id}`, `slack:${SLACK_ALERTS}`, `discord:${fakes.discord.alerts.id}`, 'console:terminal'],
    },
    adapters: {
      telegram: { apiRoot: fakes.telegram.apiRoot },
      slack: { mode: 'http', port: 0, apiUrl: fakes.slack.apiUrl },
      discord: { apiBase: fakes.discord.apiBase, guildId: fakes.discord.guild.id },
    },
  });
}

/**
 * The desk as `deskbot start` runs it, with a token in the environment for every platform
 * (`wrong`: that platform's token is one it rejects).
 */
async function openDesk(opts: { wrong?: Platform } = {}): Promise<Desk> {
  const telegram = await FakeTelegram.start({ token: TELEGRAM_TOKEN });
  closers.push(() => telegram.close());
  telegram.addChat(TG_DESK);
  telegram.addChat(TG_ALERTS);
  const slack = await FakeSlack.start({ botToken: SLACK_BOT_TOKEN, signingSecret: SLACK_SIGNING_SECRET });
  closers.push(() => slack.close());
  const discord = await startFakeDiscord();
  closers.push(() => discord.close());
  discord.user(ANN_DISCORD.id, ANN_DISCORD.username);
  discord.user(TOM_DISCORD.id, TOM_DISCORD.username);

  const env: Record<string, string> = {
    TELEGRAM_BOT_TOKEN: opts.wrong === 'telegram' ? WRONG.telegram : TELEGRAM_TOKEN,
    SLACK_BOT_TOKEN: opts.wrong === 'slack' ? WRONG.slack : SLACK_BOT_TOKEN,
    SLACK_SIGNING_SECRET,
    DISCORD_BOT_TOKEN: opts.wrong === 'discord' ? WRONG.discord : discord.token,
  };
  const secrets = readSecrets(env);
  const config = deskConfig({ telegram, slack, discord });
  const { logger, logs } = captureLogs();
  const kernel = await Kernel.start({
    config,
    secrets,
    logger,
    clock: new ManualClock(Date.UTC(2026, 10, 27, 9, 0, 0)),
    plugins: [market, risk, execution],
    discover: false,
  });

  // the terminal, as the CLI attaches it after the chat platforms
  const input = new PassThrough();
  const output = new PassThrough();
  let printed = '';
  output.on('data', (c: Buffer) => (printed += c.toString()));
  const terminal: Terminal = { input, printed: () => printed };
  const desk: Desk = { kernel, telegram, slack, discord, terminal, connected: [], logs, secrets: [...secrets.values(), ...Object.values(WRONG)] };
  desks.push(desk);

  desk.connected = await startAdapters(kernel, config, secrets, logger);
  const terminalAdapter = new ConsoleAdapter(kernel, { input, output, interactive: false, userId: 'ann', imageDir: mkdtempSync(path.join(os.tmpdir(), 'deskbot-together-')) });
  await kernel.attach(terminalAdapter);
  void terminalAdapter.run();

  // Slack calls the app's Request URL; the receiver listens on the port its health reports
  const slackHealth = kernel.adapterHealth().find((h) => h.platform === 'slack');
  if (slackHealth !== undefined) {
    const port = /on port (\d+)\//.exec(slackHealth.detail)?.[1];
    if (port === undefined) throw new Error(`no port in the Slack adapter's health: ${slackHealth.detail}`);
    slack.appUrl = `http://127.0.0.1:${port}/slack/events`;
  }
  return desk;
}

// ---------------------------------------------------------------------------------------------
// talking to the desk on each platform, as a person would

/** a person writes a command in the Telegram desk group; resolves with the bot's reply (it quotes the command) */
async function onTelegram(d: Desk, from: TelegramUser, text: string): Promise<SentMessage> {
  const u = d.telegram.userSays({ chat: TG_DESK, from, text });
  const id = (u as { message: { message_id: number } }).message.message_id;
  return d.telegram.waitFor(() => d.telegram.sent.find((m) => m.chatId === TG_DESK.id && m.replyTo === id), `the Telegram reply to "${text}"`, EVENT_CAP_MS);
}

/** a person runs a slash command in #desk; resolves with the bot's message in the channel */
async function onSlack(d: Desk, user: string, command: string, text: string): Promise<PostedMessage> {
  const before = d.slack.messages.length;
  const ack = await d.slack.slash({ command, text, user_id: user, channel_id: SLACK_DESK });
  expect(ack.status).toBe(200);
  return d.slack.waitFor(() => d.slack.messages.slice(before).find((m) => m.channel === SLACK_DESK), EVENT_CAP_MS, `the Slack reply to ${command} ${text}`);
}

/** a person runs a slash command in #desk; resolves with the interaction's answer (deferred or not) */
async function onDiscord(d: Desk, user: DiscordUser, name: string, options: Record<string, string>): Promise<StoredMessage> {
  const i: InteractionState = d.discord.slash(name, options, { user });
  return d.discord.waitFor(
    `the Discord answer to /${name}`,
    () => (d.discord.interaction(i.id)?.callbackType != null ? d.discord.responses(i.id).find((m) => !m.loading) : undefined),
    EVENT_CAP_MS,
  );
}

/** a line typed at the terminal; resolves once `expected` has been printed after it */
async function atTerminal(d: Desk, line: string, expected: string): Promise<string> {
  const from = d.terminal.printed().length;
  d.terminal.input.write(`${line}\n`);
  await vi.waitFor(() => expect(d.terminal.printed().slice(from)).toContain(expected), { timeout: EVENT_CAP_MS, interval: 20 });
  return d.terminal.printed().slice(from);
}

const slackSections = (m: PostedMessage): string[] =>
  m.blocks.filter((b) => b['type'] === 'section').map((b) => (b['text'] as { text?: string } | undefined)?.text ?? '');
const discordText = (m: StoredMessage): string => m.embeds.map((e) => String(e.description ?? '')).join('\n');

/** /price BTC/USDT on Telegram: HTML with the price grid in <pre> */
function expectTelegramPriceReply(m: SentMessage): void {
  expect(m.method).toBe('sendMessage');
  expect(m.parseMode).toBe('HTML');
  expect(m.raw).toContain('<pre>');
  const pre = m.entities.find((e) => e.type === 'pre');
  expect(pre).toBeDefined();
  expect(m.text.slice(pre?.offset, (pre?.offset ?? 0) + (pre?.length ?? 0))).toMatch(/BTC\/USDT \(binance\)\s+[\d,.]+/);
}

/** /price BTC/USDT on Slack: Block Kit in the command's acknowledgement, for the channel; the grid as a code block in a section */
function expectSlackPriceReply(m: PostedMessage): void {
  expect(m.via).toBe('ack');
  expect(m.user).toBeUndefined();
  const [grid] = slackSections(m);
  expect(grid).toMatch(/^```\n[\s\S]*symbol\s+last\s+24h/);
  expect(grid).toMatch(/BTC\/USDT \(binance\)\s+[\d,.]+/);
}

/** /price BTC/USDT on Discord: an embed whose description is the grid in a code block */
function expectDiscordPriceReply(m: StoredMessage): void {
  expect(m.embeds.length).toBeGreaterThan(0);
  expect(m.flags).toBe(0); // for the channel, not ephemeral
  expect(discordText(m)).toMatch(/^```\n {2}symbol +last +24h/);
  expect(discordText(m)).toMatch(/BTC\/USDT \(binance\) +[\d,]+\.\d+/);
}

function expectNoSecretInLogs(d: Desk): void {
  const all = d.logs.join('');
  for (const s of d.secrets) expect(all, 'a secret value in the logs').not.toContain(s);
  // Telegram's token without its bot id, the part that is actually secret
  for (const s of [TELEGRAM_TOKEN, WRONG.telegram]) expect(all).not.toContain(s.split(':')[1]);
}

const health = (d: Desk): Record<string, { connected: boolean; detail: string }> =>
  Object.fromEntries(d.kernel.adapterHealth().map((h) => [h.platform, { connected: h.connected, detail: h.detail }]));

/** Telegram down: every Bot API method the fake serves answers 500, and the long poll it holds ends */
function telegramOutage(fake: FakeTelegram): void {
  for (const method of Object.keys(botApi(fake.state))) fake.fail(method, { status: 500 }, 10_000);
  fake.state.updates.releaseAll();
}

// ---------------------------------------------------------------------------------------------

describe('issue #6: every chat platform and the terminal in one process', () => {
  it(
    'startAdapters attaches Telegram, Slack and Discord from their env tokens; with the terminal, /price BTC/USDT gets a native reply on each',
    async () => {
      const d = await openDesk();
      expect(d.connected).toEqual(['discord', 'slack', 'telegram']);
      const h = health(d);
      expect(Object.keys(h).sort()).toEqual(['console', 'discord', 'slack', 'telegram']);
      expect(h['telegram']).toEqual({ connected: true, detail: 'long polling as @deskbot_test_bot' });
      expect(h['slack']?.connected).toBe(true);
      expect(h['slack']?.detail).toMatch(/^http receiver on port \d+\/slack\/events as @deskbot in Desk Team$/);
      expect(h['discord']?.connected).toBe(true);
      expect(h['discord']?.detail).toMatch(/^gateway ready as deskbot.*commands registered in guild/);
      expect(h['console']?.connected).toBe(true);

      // each platform got the desk's commands the way it registers them
      expect(d.telegram.state.commands?.map((c) => c.command)).toContain('price');
      expect(d.discord.commands(d.discord.guild.id).map((c) => c['name'])).toContain('price');
      expect(d.slack.api.calls.find((c) => c.method === 'auth.test')?.status).toBe(200);

      // the same question on the four at once, each answered in its own idiom
      const [tg, sl, dc, term] = await Promise.all([
        onTelegram(d, TOM_TG, '/price BTC/USDT'),
        onSlack(d, TOM_SLACK, '/price', 'BTC/USDT'),
        onDiscord(d, TOM_DISCORD, 'price', { symbols: 'BTC/USDT' }),
        atTerminal(d, '/price BTC/USDT', 'BTC/USDT (binance)'),
      ]);
      expectTelegramPriceReply(tg);
      expectSlackPriceReply(sl);
      expectDiscordPriceReply(dc);
      expect(term).toMatch(/BTC\/USDT \(binance\)\s+[\d,.]+/);

      // one kernel decided all four: the same person, each platform named in the audit
      const audit = await d.kernel.audit.tail(100);
      const decisions = audit.filter((a) => a.kind === 'decision' && a['command'] === 'price');
      expect(decisions.map((a) => [a['platform'], a['actor'], a['allowed']]).sort()).toEqual([
        ['console', 'ann', true],
        ['discord', 'tom', true],
        ['slack', 'tom', true],
        ['telegram', 'tom', true],
      ]);
      expectNoSecretInLogs(d);
    },
    TEST_MS,
  );
});

describe('issue #6: a platform that stays down does not stop the others or the kernel', () => {
  it(
    'Telegram answering 500 to everything: Slack, Discord and the terminal still answer; posts there fail after the retry budget, elsewhere succeed; health names it',
    async () => {
      const d = await openDesk();
      await d.telegram.waitFor(() => d.telegram.received.includes('getUpdates'), 'the first long poll', EVENT_CAP_MS);
      telegramOutage(d.telegram);
      await d.telegram.waitFor(() => d.telegram.calls.some((c) => c.method === 'getUpdates' && c.status === 500), 'a failed long poll', EVENT_CAP_MS);

      // people on the other platforms are served as before
      expectSlackPriceReply(await onSlack(d, TOM_SLACK, '/price', 'BTC/USDT'));
      expectDiscordPriceReply(await onDiscord(d, TOM_DISCORD, 'price', { symbols: 'BTC/USDT' }));
      expect(await atTerminal(d, '/price BTC/USDT', 'BTC/USDT (binance)')).toMatch(/BTC\/USDT \(binance\)/);

      // the desk's own messages: Telegram's fails once its retries are spent, the others go out
      const toTelegram = await d.kernel.post(`telegram:${TG_ALERTS.id}`, reply.text('digest for telegram'));
      expect(toTelegram).toEqual({ ok: false, error: 'Telegram sendMessage failed after 5 attempts: 500: Internal Server Error' });
      expect(d.telegram.calls.filter((c) => c.method === 'sendMessage').map((c) => c.status)).toEqual([500, 500, 500, 500, 500]);
      expect(await d.kernel.post(`slack:${SLACK_ALERTS}`, reply.text('digest for slack'))).toEqual({ ok: true });
      expect(await d.kernel.post(`discord:${d.discord.alerts.id}`, reply.text('digest for discord'))).toEqual({ ok: true });
      expect(d.slack.messages.find((m) => m.channel === SLACK_ALERTS)?.text).toContain('digest for slack');
      expect(discordText(d.discord.channelMessages(d.discord.alerts.id)[0] as StoredMessage)).toBe('digest for discord');

      // what /readyz and /status read: Telegram not connected, with the reason; the rest fine
      const h = health(d);
      expect(h['telegram']?.connected).toBe(false);
      expect(h['telegram']?.detail).toMatch(
        /^long polling as @deskbot_test_bot; getUpdates failing: 500: Internal Server Error \(retrying in \d+ s\); last send failed: Telegram sendMessage failed after 5 attempts: 500: Internal Server Error$/,
      );
      expect(h['slack']?.connected).toBe(true);
      expect(h['discord']?.connected).toBe(true);
      expect(h['console']?.connected).toBe(true);

      // the kill switch still reaches every platform that is up; Telegram's miss is on record
      const halted = await onDiscord(d, ANN_DISCORD, 'halt', { reason: 'telegram outage drill' });
      expect(discordText(halted)).toContain('HALTED by ann: telegram outage drill');
      const slackNotice = await d.slack.waitFor(() => d.slack.messages.find((m) => m.channel === SLACK_ALERTS && m.text.includes('TRADING HALTED')), EVENT_CAP_MS, 'the halt notice on Slack');
      expect(slackSections(slackNotice)[0]).toContain('TRADING HALTED by ann: telegram outage drill');
      const discordNotice = await d.discord.waitFor('the halt notice on Discord', () => d.discord.channelMessages(d.discord.alerts.id).find((m) => discordText(m).includes('TRADING HALTED')), EVENT_CAP_MS);
      expect(discordNotice.embeds[0]?.color).toBe(0xed4245);
      await vi.waitFor(() => expect(d.terminal.printed()).toContain('[console:terminal] '), { timeout: EVENT_CAP_MS, interval: 20 });
      expect(d.terminal.printed()).toMatch(/\[console:terminal\] .*TRADING HALTED by ann: telegram outage drill/);
      const alertLine = await vi.waitFor(
        async () => {
          const line = (await d.kernel.audit.tail(50)).find((a) => a.kind === 'alert' && a['alert'] === 'halt');
          expect(line).toBeDefined();
          return line;
        },
        { timeout: EVENT_CAP_MS, interval: 50 },
      );
      expect(alertLine?.['delivered']).toEqual([`slack:${SLACK_ALERTS}`, `discord:${d.discord.alerts.id}`, 'console:terminal']);
      expect(alertLine?.['held']).toBe(1);
      expect(d.kernel.alerts.latest(1)[0]?.held).toEqual([
        { channel: `telegram:${TG_ALERTS.id}`, why: 'not delivered: Telegram sendMessage failed after 5 attempts: 500: Internal Server Error' },
      ]);
      expect((await d.kernel.halt.status()).halted).toBe(true);
      expectNoSecretInLogs(d);
    },
    TEST_MS,
  );

  it(
    "Telegram revoking the bot's token mid-run: long polling ends, health says why, posts there fail at once; Slack and Discord carry on",
    async () => {
      const d = await openDesk();
      await d.telegram.waitFor(() => d.telegram.received.includes('getUpdates'), 'the first long poll', EVENT_CAP_MS);
      d.telegram.revokeToken();
      await vi.waitFor(() => expect(health(d)['telegram']?.connected).toBe(false), { timeout: EVENT_CAP_MS, interval: 20 });
      expect(health(d)['telegram']).toEqual({ connected: false, detail: 'long polling failed: 401: Unauthorized' });

      expect(await d.kernel.post(`telegram:${TG_ALERTS.id}`, reply.text('digest'))).toEqual({ ok: false, error: 'Telegram sendMessage failed: 401: Unauthorized' });
      expect(await d.kernel.post(`slack:${SLACK_ALERTS}`, reply.text('digest'))).toEqual({ ok: true });
      expect(await d.kernel.post(`discord:${d.discord.alerts.id}`, reply.text('digest'))).toEqual({ ok: true });
      expectSlackPriceReply(await onSlack(d, TOM_SLACK, '/price', 'BTC/USDT'));
      expectDiscordPriceReply(await onDiscord(d, TOM_DISCORD, 'price', { symbols: 'BTC/USDT' }));
      expect(health(d)['slack']?.connected).toBe(true);
      expect(health(d)['discord']?.connected).toBe(true);

      const audit = await d.kernel.audit.tail(50);
      expect(audit).toContainEqual(expect.objectContaining({ kind: 'adapter-fault', platform: 'telegram', what: 'getUpdates', error: '401: Unauthorized' }));
      expectNoSecretInLogs(d);
    },
    TEST_MS,
  );
});

describe('issue #6: a platform whose token is wrong at start-up is left out', () => {
  const expected: Record<Platform, string> = {
    telegram: 'Telegram rejected the bot token (401 Unauthorized): check TELEGRAM_BOT_TOKEN',
    slack: 'Slack rejected SLACK_BOT_TOKEN (invalid_auth); check the bot token of the installed app',
    discord: 'Discord refused the bot token (DISCORD_BOT_TOKEN): check it in the Developer Portal (Bot → Reset Token)',
  };

  it.each(['telegram', 'slack', 'discord'] as const)(
    'a wrong %s token: startAdapters starts the other two, logs and audits the failure, and no token reaches the logs',
    async (wrong) => {
      const d = await openDesk({ wrong });
      const others = (['discord', 'slack', 'telegram'] as const).filter((p) => p !== wrong);
      expect(d.connected).toEqual(others);
      expect(d.kernel.adapterHealth().map((h) => h.platform).sort()).toEqual([...others, 'console'].sort());
      for (const p of others) expect(health(d)[p]?.connected).toBe(true);

      // the operator's view: one audit line and one error log line naming the platform and the fix
      const audit = await d.kernel.audit.tail(50);
      expect(audit.filter((a) => a.kind === 'adapter')).toEqual([
        expect.objectContaining({ kind: 'adapter', platform: wrong, event: 'start-failed', error: expected[wrong] }),
      ]);
      const line = d.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'chat adapter did not start; the desk runs without it');
      expect(line).toMatchObject({ level: 50, platform: wrong, error: expected[wrong] });

      // the platforms that started answer; posts to the missing one are refused, not thrown
      if (wrong !== 'telegram') expectTelegramPriceReply(await onTelegram(d, TOM_TG, '/price BTC/USDT'));
      if (wrong !== 'slack') expectSlackPriceReply(await onSlack(d, TOM_SLACK, '/price', 'BTC/USDT'));
      if (wrong !== 'discord') expectDiscordPriceReply(await onDiscord(d, TOM_DISCORD, 'price', { symbols: 'BTC/USDT' }));
      const target = { telegram: `telegram:${TG_ALERTS.id}`, slack: `slack:${SLACK_ALERTS}`, discord: `discord:${d.discord.alerts.id}` }[wrong];
      expect(await d.kernel.post(target, reply.text('digest'))).toEqual({ ok: false, error: `no ${wrong} adapter is attached` });

      expectNoSecretInLogs(d);
    },
    TEST_MS,
  );
});

describe('issue #6: a halt reaches every platform', () => {
  it(
    '/halt on Slack: the notice arrives in the notify channel on Telegram, Slack and Discord, and on the terminal',
    async () => {
      const d = await openDesk();
      const answer = await onSlack(d, ANN_SLACK, '/halt', 'exchange incident');
      expect(slackSections(answer)[0]).toContain('HALTED by ann: exchange incident');

      const title = 'TRADING HALTED by ann: exchange incident. New orders are refused; open orders are being cancelled.';
      const tg = await d.telegram.waitFor(() => d.telegram.sentTo(TG_ALERTS.id).find((m) => m.text.includes('TRADING HALTED')), 'the halt notice on Telegram', EVENT_CAP_MS);
      expect(tg.parseMode).toBe('HTML');
      expect(tg.text).toContain(title);
      const sl = await d.slack.waitFor(() => d.slack.messages.find((m) => m.channel === SLACK_ALERTS && m.text.includes('TRADING HALTED')), EVENT_CAP_MS, 'the halt notice on Slack');
      expect(sl.via).toBe('chat.postMessage');
      expect(slackSections(sl)[0]).toMatch(/^:x: .*TRADING HALTED by ann: exchange incident/);
      const dc = await d.discord.waitFor('the halt notice on Discord', () => d.discord.channelMessages(d.discord.alerts.id).find((m) => discordText(m).includes('TRADING HALTED')), EVENT_CAP_MS);
      expect(discordText(dc)).toContain(title);
      expect(dc.embeds[0]?.color).toBe(0xed4245);
      await vi.waitFor(() => expect(d.terminal.printed()).toContain(`[console:terminal] `), { timeout: EVENT_CAP_MS, interval: 20 });
      expect(d.terminal.printed()).toContain(title);

      // once each, and the alert's audit line lists all four as delivered
      expect(d.telegram.sentTo(TG_ALERTS.id).filter((m) => m.text.includes('TRADING HALTED'))).toHaveLength(1);
      expect(d.slack.messages.filter((m) => m.channel === SLACK_ALERTS)).toHaveLength(1);
      expect(d.discord.channelMessages(d.discord.alerts.id)).toHaveLength(1);
      const alertLine = await vi.waitFor(
        async () => {
          const line = (await d.kernel.audit.tail(50)).find((a) => a.kind === 'alert' && a['alert'] === 'halt');
          expect(line).toBeDefined();
          return line;
        },
        { timeout: EVENT_CAP_MS, interval: 50 },
      );
      expect(alertLine?.['delivered']).toEqual([`telegram:${TG_ALERTS.id}`, `slack:${SLACK_ALERTS}`, `discord:${d.discord.alerts.id}`, 'console:terminal']);
      expect(alertLine?.['held']).toBe(0);
      expect(await d.kernel.halt.status()).toMatchObject({ halted: true, by: 'ann', reason: 'exchange incident' });

      // the halt holds everywhere: a trader on Telegram is told a new order would be refused
      const preview = await onTelegram(d, TOM_TG, '/buy BTC/USDT 0.01');
      expect(preview.text).toContain('Trading is HALTED (ann: exchange incident); this order would be refused.');
      expectNoSecretInLogs(d);
    },
    TEST_MS,
  );
});
