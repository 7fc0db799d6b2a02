import { readdirSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import digest from '../../plugins/digest/index.js';
import market from '../../plugins/market/index.js';
import { embedLength } from '../../src/adapters/discord/render.js';
import { startAdapters } from '../../src/adapters/start.js';
import { ManualClock } from '../../src/kernel/clock.js';
import type { DeskbotConfig } from '../../src/kernel/config/schema.js';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { startFakeDiscord, type FakeDiscord, type StoredMessage } from '../fakes/discord/index.js';
import { FakeSlack } from '../fakes/slack/server.js';
import { FakeTelegram, type FakeChat, type SentMessage } from '../fakes/telegram/index.js';
import { testConfig } from '../helpers/kernel.js';
import { sharedDataDir } from '../helpers/recorded.js';

/**
 * Issue #6: a scheduled digest reaches a configured channel on every platform, natively.
 *
 * One kernel with the market and digest plugins on recorded prices and all three chat adapters
 * attached by startAdapters from their env tokens (as `deskbot start` does), pointed at the
 * protocol fakes where the real telegraf, Bolt and discord.js do the talking. The schedule
 * `daily` (kind digest) names one channel per platform; `kernel.jobs.runNow('daily')` runs it.
 *
 * The digest covers 80 markets, so its market table is longer than any one message on each
 * platform: it must arrive split under that platform's limit (Telegram 4,096 characters a
 * message; Slack 3,000 a section and 50 blocks a message; Discord 4,096 an embed description
 * and 6,000 a message), every part repeating the table's header, each market exactly once; the
 * chart arrives as the platform's own image (a photo, an uploaded file, an attachment).
 */

const TELEGRAM_TOKEN = '123456789:AAHdigestTokenForTests_abcdefghijkl';
const SLACK_BOT_TOKEN = 'xoxb-1111-2222-deskbot-digest-token';
const SLACK_SIGNING_SECRET = '0ddba11cafe0123456789abcdefdigest';

const TG_DIGESTS: FakeChat = { id: -1001555000111, type: 'supergroup', title: 'Desk digests' };
const SLACK_DIGESTS = 'C0DIGESTS';

/** the desk's clock: the digest's period ends now */
const NOW = Date.UTC(2026, 10, 27, 9, 0, 0);
const HEADER = /Desk digest — \d{4}-\d\d-\d\d \d\d:\d\d UTC to 2026-11-27 09:00 UTC/;
/** the digest's market table: its column header line, as every part of a split table repeats it */
const TABLE_HEADER = /^ {2}symbol +last +24h +volume 24h +as of$/m;
const ROW = /^ {2}([A-Z0-9]+\/USDT) /gm;
/** the halts section, the digest's last (the kernel contributes it) */
const HALTS = 'Trading is open. No halts in this period.';
const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const EVENT_CAP_MS = 60_000;
const TEST_MS = 180_000;

/** 80 recorded USDT markets, BTC/USDT first (the digest charts the first) */
function digestSymbols(): string[] {
  const bases = readdirSync(sharedDataDir())
    .map((f) => /^binance_([A-Z0-9]+)-USDT_1h\.csv$/.exec(f)?.[1])
    .filter((b): b is string => b !== undefined && b !== 'BTC' && b !== 'ETH')
    .sort();
  const symbols = ['BTC', 'ETH', ...bases].slice(0, 80).map((b) => `${b}/USDT`);
  if (symbols.length < 80) throw new Error(`only ${symbols.length} recorded binance USDT 1h series in ${sharedDataDir()}; this test wants 80`);
  return symbols;
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
}, 120_000);

interface Desk {
  kernel: Kernel;
  telegram: FakeTelegram;
  slack: FakeSlack;
  discord: FakeDiscord;
  symbols: string[];
  logs: string[];
}

function captureLogs(): { logger: Logger; logs: string[] } {
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), logs };
}

async function openDesk(): Promise<Desk> {
  const telegram = await FakeTelegram.start({ token: TELEGRAM_TOKEN });
  closers.push(() => telegram.close());
  telegram.addChat(TG_DIGESTS);
  const slack = await FakeSlack.start({ botToken: SLACK_BOT_TOKEN, signingSecret: SLACK_SIGNING_SECRET });
  closers.push(() => slack.close());
  const discord = await startFakeDiscord();
  closers.push(() => discord.close());

  const symbols = digestSymbols();
  const config: DeskbotConfig = testConfig({
    market: { dir: sharedDataDir() },
    trading: { pollMs: 0 },
    plugins: { settings: { digest: { symbols } } },
    schedules: [{ name: 'daily', cron: '0 8 * * *', kind: 'digest', targets: [`telegram:${TG_DIGESTS.id}`, `slack:${SLACK_DIGESTS}`, `discord:${discord.alerts.id}`] }],
    adapters: {
      telegram: { apiRoot: telegram.apiRoot },
      slack: { mode: 'http', port: 0, apiUrl: slack.apiUrl },
      discord: { apiBase: discord.apiBase, guildId: discord.guild.id },
    },
  });
  const secrets = readSecrets({ TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, DISCORD_BOT_TOKEN: discord.token });
  const { logger, logs } = captureLogs();
  const kernel = await Kernel.start({ config, secrets, logger, clock: new ManualClock(NOW), plugins: [market, digest], discover: false });
  closers.push(() => kernel.stop());
  expect(await startAdapters(kernel, config, secrets, logger)).toEqual(['discord', 'slack', 'telegram']);
  return { kernel, telegram, slack, discord, symbols, logs };
}

/** the market symbols of the table rows in a text, in order */
const rowsIn = (text: string): string[] => [...text.matchAll(ROW)].map((m) => m[1] as string);

const isPng = (bytes: Uint8Array | undefined): boolean => bytes !== undefined && bytes.length > 1000 && PNG.every((b, i) => bytes[i] === b);

/** the text of a Telegram message's <pre> entities */
const preTexts = (m: SentMessage): string[] => m.entities.filter((e) => e.type === 'pre').map((e) => m.text.slice(e.offset, e.offset + e.length));

const discordDescriptions = (m: StoredMessage): string[] => m.embeds.map((e) => String(e['description'] ?? ''));

describe('issue #6: a digest reaches a configured channel on every platform', () => {
  it(
    'the daily schedule posts to Telegram, Slack and Discord: the header, the market table split under each limit with its header on every part, and the chart as the native image',
    async () => {
      const d = await openDesk();
      expect(await d.kernel.jobs.runNow('daily')).toBe(true);

      // ---- Telegram: HTML messages (the table in <pre>), then the chart as a photo
      const photo = await d.telegram.waitFor(() => d.telegram.sentTo(TG_DIGESTS.id).find((m) => m.method === 'sendPhoto'), 'the digest chart on Telegram', EVENT_CAP_MS);
      const tg = d.telegram.sentTo(TG_DIGESTS.id);
      const tgTexts = tg.filter((m) => m.method === 'sendMessage');
      expect(tg.at(-1)).toBe(photo);
      expect(tgTexts.length).toBeGreaterThanOrEqual(2);
      expect(tgTexts[0]?.text).toMatch(HEADER);
      for (const m of tgTexts) {
        expect(m.parseMode).toBe('HTML');
        expect(m.raw.length).toBeLessThanOrEqual(4096);
        expect(m.replyTo).toBeUndefined();
        for (const pre of preTexts(m)) expect(pre).toMatch(TABLE_HEADER);
      }
      const tgParts = tgTexts.flatMap(preTexts);
      expect(tgParts.length).toBeGreaterThanOrEqual(2);
      expect(tgParts.flatMap(rowsIn)).toEqual(d.symbols);
      // the table's title rides with every part
      for (const m of tgTexts.filter((x) => preTexts(x).length > 0)) expect(m.entities.some((e) => e.type === 'bold' && m.text.slice(e.offset, e.offset + e.length) === 'Market')).toBe(true);
      // the text right after the chart is its caption
      expect(photo.text).toBe(HALTS);
      expect(photo.file?.field).toBe('photo');
      expect(photo.file?.filename).toBe('BTC-USDT_1h.png');
      expect(isPng(photo.file?.bytes)).toBe(true);

      // ---- Slack: Block Kit messages (the table as ``` sections), then the chart as an uploaded file
      const file = await d.slack.waitFor(() => d.slack.api.files.find((f) => f.channel_id === SLACK_DIGESTS && f.completed), EVENT_CAP_MS, 'the digest chart on Slack');
      const sl = d.slack.messages.filter((m) => m.channel === SLACK_DIGESTS);
      expect(sl.length).toBeGreaterThanOrEqual(1);
      const sections: string[] = [];
      for (const m of sl) {
        expect(m.via).toBe('chat.postMessage');
        expect(m.blocks.length).toBeGreaterThan(0);
        expect(m.blocks.length).toBeLessThanOrEqual(50);
        for (const b of m.blocks) {
          const text = (b['text'] as { text?: string } | undefined)?.text;
          if (b['type'] !== 'section' || text === undefined) continue;
          expect(text.length).toBeLessThanOrEqual(3000);
          sections.push(text);
        }
      }
      expect(sections[0]).toMatch(HEADER);
      const slParts = sections.filter((s) => s.startsWith('```\n'));
      expect(slParts.length).toBeGreaterThanOrEqual(2);
      for (const s of slParts) expect(s).toMatch(TABLE_HEADER);
      expect(slParts.flatMap(rowsIn)).toEqual(d.symbols);
      expect(sections).toContain('*Market*');
      expect(file).toMatchObject({ filename: 'btc-usdt-1h.png', alt_text: 'BTC/USDT 1h, last 48 candles' });
      expect(isPng(file.bytes)).toBe(true);
      // the chart comes after the table it belongs under, the halts line after the chart
      const calls = d.slack.api.calls.map((c) => c.method);
      expect(calls.indexOf('chat.postMessage')).toBeLessThan(calls.indexOf('files.completeUploadExternal'));
      expect(sl.at(-1)?.text).toBe(HALTS);

      // ---- Discord: channel messages of embeds (the table as ``` code blocks), the chart an attachment shown in an embed
      const withChart = await d.discord.waitFor('the digest chart on Discord', () => d.discord.channelMessages(d.discord.alerts.id).find((m) => m.attachments.length > 0), EVENT_CAP_MS);
      const dc = d.discord.channelMessages(d.discord.alerts.id);
      expect(dc.length).toBeGreaterThanOrEqual(2);
      for (const m of dc) {
        expect(m.interactionId).toBeUndefined();
        expect(m.embeds.length).toBeGreaterThan(0);
        expect(m.embeds.length).toBeLessThanOrEqual(10);
        expect(m.embeds.reduce((n, e) => n + embedLength(e), 0)).toBeLessThanOrEqual(6000);
        for (const text of discordDescriptions(m)) expect(text.length).toBeLessThanOrEqual(4096);
      }
      const descriptions = dc.flatMap(discordDescriptions);
      expect(descriptions[0]).toMatch(HEADER);
      const dcParts = descriptions.flatMap((t) => t.split(/(?=```\n)/).filter((p) => p.startsWith('```\n')));
      expect(dcParts.length).toBeGreaterThanOrEqual(2);
      for (const p of dcParts) expect(p).toMatch(TABLE_HEADER);
      expect(dcParts.flatMap(rowsIn)).toEqual(d.symbols);
      expect(dc.at(-1)).toBe(withChart);
      expect(descriptions.at(-1)).toBe(HALTS);
      expect(withChart.attachments).toHaveLength(1);
      const [chart] = withChart.attachments;
      expect(chart).toMatchObject({ filename: 'btc-usdt_1h.png', content_type: 'image/png', description: 'BTC/USDT 1h, last 48 candles' });
      expect(isPng(chart?.bytes)).toBe(true);
      expect(withChart.embeds.map((e) => (e['image'] as { url?: string } | undefined)?.url)).toContain('attachment://btc-usdt_1h.png');
      // a digest quotes market names, never pings anyone
      const posts = d.discord.requests.filter((r) => r.method === 'POST' && r.path === `/channels/${d.discord.alerts.id}/messages`);
      expect(posts).toHaveLength(dc.length);
      for (const r of posts) expect((r.body as { allowed_mentions?: unknown }).allowed_mentions).toEqual({ parse: [] });

      // one digest each, delivered, and on record
      const audit = await d.kernel.audit.tail(20);
      expect(audit.filter((a) => a.kind === 'digest')).toEqual([
        expect.objectContaining({ schedule: 'daily', trigger: 'command', targets: [`telegram:${TG_DIGESTS.id}`, `slack:${SLACK_DIGESTS}`, `discord:${d.discord.alerts.id}`] }),
      ]);
      expect(d.logs.filter((l) => l.includes('digest not delivered'))).toEqual([]);
      expect(tg.filter((m) => HEADER.test(m.text))).toHaveLength(1);
      expect(sections.filter((s) => HEADER.test(s))).toHaveLength(1);
      expect(descriptions.filter((s) => HEADER.test(s))).toHaveLength(1);
    },
    TEST_MS,
  );
});
