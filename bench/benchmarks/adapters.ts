import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { FromDesk, ToDesk } from '../adapters/desk-process.js';
import { startFakeDiscord, type FakeDiscord, type FakeUser as DiscordUser } from '../../tests/fakes/discord/index.js';
import { FakeSlack } from '../../tests/fakes/slack/server.js';
import { FakeTelegram, privateChat, type FakeUser as TelegramUser } from '../../tests/fakes/telegram/index.js';
import { percentile, type Benchmark, type Metric } from '../lib.js';

/**
 * Round trip through each chat adapter and its protocol fake (tests/fakes/<platform>), where the
 * real telegraf, Bolt and discord.js do the talking. The desk runs in its own process
 * (bench/adapters/desk-process.ts): one Kernel with all three adapters attached by
 * startAdapters, as `deskbot start` attaches them (SQLite store, the embedded default; audit
 * on); 50 people in config, each with an id on every platform. The fakes and the people stay in
 * this process, as the platforms are elsewhere in production: the figures are the desk's, not
 * the fakes' parsing queued on the same event loop.
 *
 * Load: the 50 people at once, each sending 40 × /whoami one after the other (the next as soon
 * as the previous is answered, no think time): 2,000 commands per platform, after an untimed
 * warm-up of 2 each; the platforms one after another. /whoami takes the whole kernel path
 * (dedupe, identify, authorise, parse, audit, render) and calls neither the LLM nor an exchange.
 * Solo: then one person alone, 200 commands one after another — the round trip without queueing
 * behind 49 others.
 *
 * Each sample runs from the moment the fake delivers the command to the moment the fake has the
 * reply (performance.now(); the end is stamped on the fake's own change notification, raised as
 * it records the request):
 *  - telegram: the person's message enters the fake (FakeTelegram.userSays puts the update in
 *    the getUpdates queue; each person in a private chat with the bot) → sendMessage reaches
 *    the fake. Long polling is in this figure by design: an update waits for the bot's next
 *    getUpdates when none is held at that moment. `telegram.handed.*` is the part after the
 *    getUpdates answer that carried the update (stamped by wrapping the fake's queue).
 *  - slack: HTTP receiver mode; the signed slash-command POST leaves the fake (each person in a
 *    DM with the app) → the reply reaches the fake: in the HTTP answer (the acknowledgement
 *    carries a reply ready within answerInAckMs, counted in `in_ack`) or by chat.postMessage.
 *  - discord: INTERACTION_CREATE sent on the gateway → the interaction callback carrying the
 *    reply (type 4) reaches the fake. Were it deferred (type 5), the sample would run until the
 *    edit with the reply; deferrals are counted.
 *
 * Under load each command waits for the 49 others' work in the desk (and the fakes' in this
 * process): the load figures are queueing (see `throughput`), the solo figures the cost of one
 * round trip. The machine has 2 cores; each side has one event loop.
 */

const USERS = 50;
const PER_USER = 40;
/** untimed, before the timed rounds: connections opened, code paths warm */
const WARMUP_PER_USER = 2;
const SOLO = 200;
const COMMAND = 'whoami';
const GOAL = '<=50';
/** a reply that has not come after this is a failure, not a slow sample */
const REPLY_CAP_MS = 30_000;
/** a listener on a fake that lives for one platform's rounds */
const LISTEN_CAP_MS = 30 * 60_000;

const TELEGRAM_TOKEN = '123456789:AAHbenchTokenForAdapters_abcdefghijk';
const SLACK_BOT_TOKEN = 'xoxb-1111-2222-deskbot-bench-token';
const SLACK_SIGNING_SECRET = '0ddba11cafe0123456789abcdefbench0';

interface Person {
  id: string;
  telegram: TelegramUser;
  slack: { user: string; dm: string };
  discord: DiscordUser;
}

const people: Person[] = Array.from({ length: USERS }, (_, i) => {
  const n = String(i + 1).padStart(2, '0');
  return {
    id: `bench${n}`,
    telegram: { id: 7_000_000 + i + 1, first_name: `Bench ${n}`, username: `bench_${n}` },
    slack: { user: `U0BENCH${n}`, dm: `D0BENCH${n}` },
    discord: { id: `5000000000000000${n}`, username: `bench${n}` },
  };
});

interface Fakes {
  telegram: FakeTelegram;
  slack: FakeSlack;
  discord: FakeDiscord;
}

/** the desk's config input (the child parses it with the config schema, as the CLI does) */
function benchConfig(dataDir: string, f: Fakes): Record<string, unknown> {
  return {
    instance: 'bench-adapters',
    dataDir,
    log: { level: 'silent' },
    store: { kind: 'sqlite' },
    console: { enabled: false },
    people: Object.fromEntries(
      people.map((p) => [p.id, { name: `Bench ${p.id}`, roles: ['viewer'], ids: { telegram: String(p.telegram.id), slack: p.slack.user, discord: p.discord.id } }]),
    ),
    roles: { viewer: ['market:read'] },
    trading: { pollMs: 0 },
    adapters: {
      telegram: { apiRoot: f.telegram.apiRoot },
      slack: { mode: 'http', port: 0, apiUrl: f.slack.apiUrl },
      discord: { apiBase: f.discord.apiBase, guildId: f.discord.guild.id },
    },
  };
}

/**
 * Outstanding commands by a key the reply can be matched on (one per person at a time): `expect`
 * before sending, with a word the reply must contain (the person's id); `arrive` when the fake
 * has the reply. A wrong reply fails the run (every waiter rejects); it is never just counted.
 */
class Inbox<K> {
  private readonly pending = new Map<K, { t0: number; word: string; resolve: (ms: number) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private failure: Error | undefined;
  /** replies nobody was waiting for (a reply in two parts, a duplicate) */
  unexpected = 0;

  constructor(private readonly platform: string) {}

  expect(key: K, t0: number, word: string): Promise<number> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.pending.has(key)) return Promise.reject(new Error(`${this.platform}: two commands in flight for ${String(key)}`));
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(new Error(`${this.platform}: no reply for ${String(key)} within ${REPLY_CAP_MS / 1000} s`));
      }, REPLY_CAP_MS);
      this.pending.set(key, { t0, word, resolve, reject, timer });
    });
  }

  /** the reply for `key` reached the fake at `at`; `content` is what it says (checked for the person) */
  arrive(key: K, at: number, content: string): boolean {
    const p = this.pending.get(key);
    if (p === undefined) {
      this.unexpected++;
      return false;
    }
    this.pending.delete(key);
    clearTimeout(p.timer);
    if (!content.includes(p.word)) {
      this.fail(`the reply for ${String(key)} does not name ${p.word}: ${content.slice(0, 200)}`);
      p.reject(this.failure as Error);
      return false;
    }
    p.resolve(at - p.t0);
    return true;
  }

  /** what the fake received is wrong: every command waiting, and every later one, fails with it */
  fail(why: string): void {
    this.failure ??= new Error(`${this.platform}: ${why}`);
    for (const [key, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(this.failure);
      this.pending.delete(key);
    }
  }
}

/** One platform's side of the benchmark: send a command as a person (resolves with its latency, ms). */
interface Driver {
  send(p: Person): Promise<number>;
  /** where the platform's split figure (if any) is collected from now on */
  split(into: number[]): void;
  /** checks, then stops listening; extra metrics of the platform */
  finish(): Promise<Metric[]>;
}

/** `perUser` commands per person, one after another; the people all at once */
async function drive(who: readonly Person[], perUser: number, send: (p: Person) => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  await Promise.all(
    who.map(async (p) => {
      for (let k = 0; k < perUser; k++) out.push(await send(p));
    }),
  );
  return out;
}

const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);

async function rounds(platform: string, d: Driver): Promise<Metric[]> {
  await drive(people, WARMUP_PER_USER, (p) => d.send(p));
  const split: number[] = [];
  d.split(split);
  const t0 = performance.now();
  const load = sorted(await drive(people, PER_USER, (p) => d.send(p)));
  const seconds = (performance.now() - t0) / 1000;
  d.split([]);
  const solo = sorted(await drive(people.slice(0, 1), SOLO, (p) => d.send(p)));
  const handed = sorted(split);
  return [
    { name: `adapters.${platform}.p50`, value: percentile(load, 50), unit: 'ms' },
    { name: `adapters.${platform}.p99`, value: percentile(load, 99), unit: 'ms', goal: GOAL },
    { name: `adapters.${platform}.count`, value: load.length, unit: 'commands' },
    { name: `adapters.${platform}.throughput`, value: load.length / seconds, unit: 'commands/s' },
    ...(handed.length > 0
      ? [
          { name: `adapters.${platform}.handed.p50`, value: percentile(handed, 50), unit: 'ms' },
          { name: `adapters.${platform}.handed.p99`, value: percentile(handed, 99), unit: 'ms' },
        ]
      : []),
    { name: `adapters.${platform}.solo.p50`, value: percentile(solo, 50), unit: 'ms' },
    { name: `adapters.${platform}.solo.p99`, value: percentile(solo, 99), unit: 'ms' },
  ];
}

async function measure(platform: string, d: Driver): Promise<Metric[]> {
  let round: Metric[];
  try {
    round = await rounds(platform, d);
  } catch (e) {
    await d.finish().catch(() => undefined);
    throw e;
  }
  return [...round, ...(await d.finish())];
}

// ---------------------------------------------------------------------------------------------

function telegramDriver(tg: FakeTelegram): Driver {
  const inbox = new Inbox<number>('telegram');
  // when the fake hands each update to the bot: the getUpdates answer that carries it
  const handedAt = new Map<number, number>(); // chat → time
  const chatOfUpdate = new Map<number, number>();
  const queue = tg.state.updates;
  const take = queue.take.bind(queue);
  queue.take = async (...args: Parameters<typeof take>) => {
    const out = await take(...args);
    const now = performance.now();
    for (const u of out) {
      const chat = chatOfUpdate.get(u.update_id);
      if (chat !== undefined && !handedAt.has(chat)) handedAt.set(chat, now);
    }
    return out;
  };
  let handed: number[] = [];
  let seen = tg.sent.length;
  let stop = false;
  const listening = tg.waitFor(
    () => {
      const now = performance.now();
      for (; seen < tg.sent.length; seen++) {
        const m = tg.sent[seen];
        if (m === undefined) continue;
        if (m.method !== 'sendMessage' || m.parseMode !== 'HTML') inbox.fail(`a reply by ${m.method} in ${m.parseMode ?? 'no'} parse mode`);
        const h = handedAt.get(m.chatId);
        handedAt.delete(m.chatId);
        if (inbox.arrive(m.chatId, now, m.text) && h !== undefined) handed.push(now - h);
      }
      return stop;
    },
    'the benchmark to end',
    LISTEN_CAP_MS,
  );
  return {
    send(p) {
      const chat = privateChat(p.telegram);
      const reply = inbox.expect(chat.id, performance.now(), p.id);
      const u = tg.userSays({ chat, from: p.telegram, text: `/${COMMAND}` });
      chatOfUpdate.set(u.update_id, chat.id);
      return reply;
    },
    split(into) {
      handed = into;
    },
    async finish() {
      stop = true;
      queue.take = take;
      // any API call wakes the listener, so it ends now
      await fetch(`${tg.apiRoot}/bot${TELEGRAM_TOKEN}/getMe`).then((r) => r.arrayBuffer()).catch(() => undefined);
      await listening.catch(() => undefined);
      if (inbox.unexpected > 0) throw new Error(`telegram: ${inbox.unexpected} replies nobody was waiting for (a reply in several parts?)`);
      return [];
    },
  };
}

function slackDriver(slack: FakeSlack): Driver {
  const inbox = new Inbox<string>('slack');
  let seen = slack.messages.length;
  let stop = false;
  let sent = 0;
  let acked = 0;
  /** replies that came in the slash command's acknowledgement (the rest by chat.postMessage) */
  let inAck = 0;
  const listening = slack.waitFor(
    () => {
      const now = performance.now();
      for (; seen < slack.messages.length; seen++) {
        const m = slack.messages[seen];
        if (m === undefined) continue;
        if ((m.via !== 'ack' && m.via !== 'chat.postMessage') || m.blocks.length === 0) inbox.fail(`a reply by ${m.via} with ${m.blocks.length} blocks`);
        if (m.via === 'ack') inAck++;
        inbox.arrive(m.channel, now, JSON.stringify(m.blocks));
      }
      return stop;
    },
    LISTEN_CAP_MS,
    'the benchmark to end',
  );
  return {
    async send(p) {
      const reply = inbox.expect(p.slack.dm, performance.now(), p.id);
      sent++;
      const ack = await slack.slash({ command: `/${COMMAND}`, text: '', user_id: p.slack.user, channel_id: p.slack.dm, channel_name: 'directmessage' });
      if (ack.status === 200) acked++;
      else inbox.fail(`a slash command was answered ${ack.status}: ${ack.body.slice(0, 200)}`);
      return reply;
    },
    split() {},
    async finish() {
      stop = true; // the fake's waitFor re-checks every 50 ms as well
      await listening.catch(() => undefined);
      if (inbox.unexpected > 0) throw new Error(`slack: ${inbox.unexpected} replies nobody was waiting for`);
      if (acked !== sent) throw new Error(`slack: ${acked} of ${sent} slash commands acknowledged`);
      return [{ name: 'adapters.slack.in_ack', value: inAck, unit: 'replies' }];
    },
  };
}

function discordDriver(dc: FakeDiscord): Driver {
  const inbox = new Inbox<string>('discord');
  const CALLBACK = /^\/interactions\/(\d+)\/[^/]+\/callback$/;
  const EDIT = /^\/webhooks\/\d+\/([^/]+)\/messages\/@original$/;
  const idOfToken = new Map<string, string>();
  let seen = dc.requests.length;
  let stop = false;
  let deferred = 0;
  const listening = dc.waitFor(
    'the benchmark to end',
    () => {
      const now = performance.now();
      for (; seen < dc.requests.length; seen++) {
        const r = dc.requests[seen];
        if (r === undefined) continue;
        const callback = CALLBACK.exec(r.path)?.[1];
        const edited = r.method === 'PATCH' ? EDIT.exec(r.path)?.[1] : undefined;
        const id = callback ?? (edited === undefined ? undefined : idOfToken.get(edited));
        if (id === undefined) continue;
        if (r.status >= 300) inbox.fail(`${r.method} ${r.path.split('/')[1]} answered ${r.status}: ${JSON.stringify(r.body).slice(0, 200)}`);
        const type = (r.body as { type?: number } | undefined)?.type;
        if (callback !== undefined && type === 5) {
          // deferred ("thinking…"): the reply is the edit that follows, so the sample runs until then
          deferred++;
          continue;
        }
        if (callback !== undefined && type !== 4) inbox.fail(`interaction callback type ${String(type)}`);
        inbox.arrive(id, now, JSON.stringify(r.body));
      }
      return stop;
    },
    LISTEN_CAP_MS,
  );
  return {
    send(p) {
      const t0 = performance.now();
      const i = dc.slash(COMMAND, {}, { user: p.discord });
      idOfToken.set(i.token, i.id);
      return inbox.expect(i.id, t0, p.id);
    },
    split() {},
    async finish() {
      stop = true;
      // any REST request wakes the listener, so it ends now
      await fetch(`${dc.apiBase}/v10/gateway/bot`).then((r) => r.arrayBuffer()).catch(() => undefined);
      await listening.catch(() => undefined);
      if (inbox.unexpected > 0) throw new Error(`discord: ${inbox.unexpected} callbacks nobody was waiting for`);
      return [{ name: 'adapters.discord.deferred', value: deferred, unit: 'interactions' }];
    },
  };
}

const DESK_ENTRY = fileURLToPath(new URL('../adapters/desk-process.ts', import.meta.url));
/** the desk's start-up (tsx compiles on the fly) and shutdown, at most */
const DESK_CAP_MS = 120_000;

/** The desk in a child process (bench/adapters/desk-process.ts), started and stopped over IPC. */
class DeskProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly platforms: string[],
    readonly slackPort: number | undefined,
  ) {}

  static async start(config: Record<string, unknown>, env: Record<string, string>): Promise<DeskProcess> {
    // e.g. BENCH_DESK_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the desk side
    const extra = (process.env.BENCH_DESK_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    const child = fork(DESK_ENTRY, [], { execArgv: ['--import', 'tsx', ...extra], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    try {
      const ready = await DeskProcess.reply(child, { type: 'start', config, env }, 'ready');
      if (ready.type !== 'ready') throw new Error('unreachable');
      return new DeskProcess(child, ready.platforms, ready.slackPort);
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
  }

  /** send `msg` and wait for the answer of type `want`; the child dying or saying 'error' rejects */
  private static reply(child: ChildProcess, msg: ToDesk, want: FromDesk['type']): Promise<FromDesk> {
    return new Promise<FromDesk>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      const onMessage = (m: FromDesk): void => {
        if (m.type !== want && m.type !== 'error') return;
        done();
        if (m.type === 'error') reject(new Error(`the desk process failed: ${m.message}`));
        else resolve(m);
      };
      const onExit = (code: number | null, signal: string | null): void => {
        done();
        reject(new Error(`the desk process exited (${signal ?? `code ${String(code)}`}) before '${want}'`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`the desk process did not say '${want}' within ${DESK_CAP_MS / 1000} s`));
      }, DESK_CAP_MS);
      child.on('message', onMessage);
      child.on('exit', onExit);
      child.send(msg);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      await DeskProcess.reply(this.child, { type: 'stop' }, 'stopped');
    } catch (e) {
      this.child.kill('SIGKILL');
      throw e;
    }
    await exited;
  }
}

export const adapters: Benchmark = {
  name: 'adapters',
  description: `chat round trip per platform through the adapter and its protocol fake: ${USERS} people × ${PER_USER} /${COMMAND} at once (p50/p99, command at the fake → reply at the fake), then one person alone`,
  async run(): Promise<Metric[]> {
    const closers: Array<() => Promise<void>> = [];
    const dir = await mkdtemp(path.join(tmpdir(), 'deskbot-bench-adapters-'));
    try {
      const telegram = await FakeTelegram.start({ token: TELEGRAM_TOKEN });
      closers.push(() => telegram.close());
      const slack = await FakeSlack.start({ botToken: SLACK_BOT_TOKEN, signingSecret: SLACK_SIGNING_SECRET });
      closers.push(() => slack.close());
      const discord = await startFakeDiscord();
      closers.push(() => discord.close());
      for (const p of people) discord.user(p.discord.id, p.discord.username);

      const desk = await DeskProcess.start(benchConfig(dir, { telegram, slack, discord }), {
        TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN,
        SLACK_BOT_TOKEN,
        SLACK_SIGNING_SECRET,
        DISCORD_BOT_TOKEN: discord.token,
      });
      closers.push(() => desk.stop());
      if (desk.platforms.join(',') !== 'discord,slack,telegram') throw new Error(`adapters connected: ${desk.platforms.join(', ') || 'none'}; expected all three`);
      if (desk.slackPort === undefined) throw new Error("no port in the Slack adapter's health");
      slack.appUrl = `http://127.0.0.1:${desk.slackPort}/slack/events`;
      // the bot's first long poll is held before anyone speaks
      await telegram.waitFor(() => telegram.received.includes('getUpdates'), 'the first long poll', 30_000);

      // the host's load when the rounds start: other processes share the CPUs with the whole round trip
      const out: Metric[] = [
        { name: 'adapters.host.cpus', value: cpus().length, unit: 'cpus' },
        { name: 'adapters.host.load1', value: loadavg()[0] ?? NaN, unit: 'load avg' },
      ];
      out.push(...(await measure('telegram', telegramDriver(telegram))));
      out.push(...(await measure('slack', slackDriver(slack))));
      out.push(...(await measure('discord', discordDriver(discord))));
      return out;
    } finally {
      // the desk (its kernel and adapters) first, then the fakes they talk to
      for (const close of closers.reverse()) await close().catch((e: unknown) => console.error(`adapters bench: cleanup failed: ${e instanceof Error ? e.message : String(e)}`));
      await rm(dir, { recursive: true, force: true });
    }
  },
};
