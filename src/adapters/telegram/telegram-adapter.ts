import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Input, Telegraf, type Types } from 'telegraf';
import type { BotCommand, Update, UserFromGetMe } from 'telegraf/types';
import type { AdapterHealth, AdapterHost, ChatAdapter } from '../../kernel/adapters.js';
import type { Channel } from '../../kernel/auth/principal.js';
import type { IncomingMessage } from '../../kernel/commands/dispatcher.js';
import type { AdaptersConfig } from '../../kernel/config/schema.js';
import type { Reply } from '../../kernel/reply.js';
import { ButtonCommands } from './buttons.js';
import { LongPoll } from './polling.js';
import { PLATFORM, pressAsMessage, readUpdate, type ReplyTarget } from './inbound.js';
import { renderReply, type Outgoing } from './render.js';
import { DEFAULT_RETRY, describeError, TelegramDeliveryError, withRetry, type RetryPolicy } from './retry.js';

export type TelegramConfig = AdaptersConfig['telegram'];

export interface TelegramAdapterOptions {
  /** the bot token (TELEGRAM_BOT_TOKEN); it never reaches a log line or an error message */
  token: string;
  config: TelegramConfig;
  /** used until start() hands over the kernel's logger */
  logger: Logger;
  retry?: Partial<RetryPolicy>;
  /** webhook mode: where the local HTTP server listens; default config.webhook.port on every interface (port 0: any free port) */
  webhookListen?: { port?: number; host?: string };
  /** how long stop() waits for replies still being sent */
  stopTimeoutMs?: number;
}

const ALLOWED_UPDATES: Types.UpdateType[] = ['message', 'callback_query'];
/** Telegram's menu takes at most 100 commands, names of 1–32 of [a-z0-9_], descriptions of 1–256 characters */
const MAX_COMMANDS = 100;
const COMMAND_NAME = /^[a-z0-9_]{1,32}$/;
const EXPIRED_BUTTON = 'This button has expired; send the command again.';

/**
 * Telegram through telegraf: long polling (telegraf's own loop) or a webhook, commands in the
 * bot menu, replies in HTML with tables as <pre>, charts as photos, confirm buttons as inline
 * keyboards. Updates are handled one at a time per chat (replies keep the order of the
 * commands) and concurrently across chats; every Bot API call the desk makes is retried on 429
 * and 5xx.
 */
export class TelegramAdapter implements ChatAdapter {
  readonly platform = PLATFORM;
  private readonly bot: Telegraf;
  private readonly policy: RetryPolicy;
  private readonly buttons = new ButtonCommands();
  private readonly queues = new Map<string, Promise<void>>();
  private readonly inflight = new Set<Promise<void>>();
  private log: Logger;
  private host: AdapterHost | undefined;
  private me: UserFromGetMe | undefined;
  private poller: LongPoll | undefined;
  private polling: Promise<void> | undefined;
  /** set while getUpdates fails (polling goes on retrying); cleared when a poll gets through */
  private pollFault: string | undefined;
  private server: Server | undefined;
  private running = false;
  private detail = 'not started';
  /** set when a send gave up; cleared by the next send that gets through */
  private sendFault: string | undefined;

  constructor(private readonly opts: TelegramAdapterOptions) {
    this.log = opts.logger;
    this.policy = { ...DEFAULT_RETRY, ...opts.retry };
    const apiRoot = opts.config.apiRoot ?? undefined;
    // webhookReply off: every call is a real request whose failure we see (and can retry)
    this.bot = new Telegraf(opts.token, { telegram: { ...(apiRoot ? { apiRoot } : {}), webhookReply: false } });
    this.bot.use((ctx) => {
      // never await the desk here: polling would wait for the slowest command before fetching again
      this.accept(ctx.update);
    });
    this.bot.catch((err) => this.log.error({ error: describeError(err, opts.token) }, 'telegram update failed'));
  }

  async start(host: AdapterHost): Promise<void> {
    this.host = host;
    this.log = host.logger;
    const { config } = this.opts;
    let me: UserFromGetMe;
    try {
      me = await this.call('getMe', () => this.bot.telegram.getMe());
    } catch (err) {
      if (err instanceof TelegramDeliveryError && err.code === 401) {
        throw new Error('Telegram rejected the bot token (401 Unauthorized): check TELEGRAM_BOT_TOKEN');
      }
      throw new Error(`Telegram is not reachable: ${describeError(err, this.opts.token)}`);
    }
    this.me = me;
    this.bot.botInfo = me; // spares telegraf its own getMe
    await this.registerCommands(host);
    this.running = true;
    try {
      if (config.mode === 'webhook') await this.startWebhook(me);
      else await this.startPolling(me);
    } catch (err) {
      this.running = false;
      this.detail = `not connected: ${describeError(err, this.opts.token)}`;
      throw err;
    }
  }

  async stop(): Promise<void> {
    if (!this.running && this.polling === undefined && this.server === undefined) return;
    this.running = false;
    if (this.polling !== undefined) {
      this.poller?.stop();
      await this.polling;
      this.polling = undefined;
      this.poller = undefined;
    }
    if (this.server !== undefined) {
      const server = this.server;
      this.server = undefined;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    }
    await this.settle();
    this.detail = 'stopped';
  }

  async post(channel: Channel, reply: Reply): Promise<void> {
    if (this.me === undefined) throw new Error('the telegram adapter is not started');
    const target: ReplyTarget = { chatId: channel.channelId, group: false };
    if (channel.threadId !== undefined) target.threadId = channel.threadId;
    try {
      await this.deliver(target, reply);
    } catch (err) {
      this.log.error({ error: describeError(err, this.opts.token), chat: channel.channelId }, 'telegram post not delivered');
      throw err;
    }
  }

  health(): AdapterHealth {
    if (!this.running) return { connected: false, detail: this.detail };
    const faults = [
      ...(this.pollFault !== undefined ? [`getUpdates failing: ${this.pollFault}`] : []),
      ...(this.sendFault !== undefined ? [`last send failed: ${this.sendFault}`] : []),
    ];
    if (faults.length > 0) return { connected: false, detail: `${this.detail}; ${faults.join('; ')}` };
    return { connected: true, detail: this.detail };
  }

  /** webhook mode: the local address the HTTP server listens on (tests POST updates to it) */
  webhookAddress(): { host: string; port: number; path: string } | undefined {
    const a = this.server?.address() as AddressInfo | null | undefined;
    return a ? { host: a.address, port: a.port, path: this.opts.config.webhook.path } : undefined;
  }

  // ----------------------------------------------------------------------------------------
  // connecting

  private async startPolling(me: UserFromGetMe): Promise<void> {
    // a webhook left set (by another deployment) would make getUpdates fail with 409
    await this.call('deleteWebhook', () => this.bot.telegram.deleteWebhook());
    // an update that fails is logged; it must not end polling for everyone else
    const handle = (u: Update): Promise<void> =>
      this.bot.handleUpdate(u).catch((err: unknown) => this.log.error({ error: describeError(err, this.opts.token), update: u.update_id }, 'telegram update failed'));
    const poller = new LongPoll(this.bot.telegram, handle, {
      allowedUpdates: ALLOWED_UPDATES,
      policy: this.policy,
      token: this.opts.token,
      onFault: (fault) => {
        if (fault === undefined) {
          this.log.info('telegram getUpdates works again');
          this.pollFault = undefined;
          return;
        }
        const first = this.pollFault === undefined;
        this.pollFault = `${fault.error} (retrying in ${Math.ceil(fault.retryInMs / 1000)} s)`;
        this.log.warn({ error: fault.error, retryInMs: fault.retryInMs }, 'telegram getUpdates failed; retrying');
        // once per outage, not once per try
        if (first) this.host?.audit({ kind: 'adapter-fault', what: 'getUpdates', error: fault.error, retrying: true });
      },
    });
    this.poller = poller;
    this.polling = poller.run().then(
      () => {
        this.detail = 'long polling stopped';
      },
      (err: unknown) => {
        // 401: the token was revoked; 409: another process polls with the same token
        this.running = false;
        this.pollFault = undefined;
        const error = describeError(err, this.opts.token);
        this.detail = `long polling failed: ${error}`;
        this.log.error({ error }, 'telegram long polling stopped');
        this.host?.audit({ kind: 'adapter-fault', what: 'getUpdates', error });
      },
    );
    this.detail = `long polling as @${me.username}`;
  }

  private async startWebhook(me: UserFromGetMe): Promise<void> {
    const { webhook } = this.opts.config;
    if (webhook.domain === null) throw new Error('telegram webhook mode needs adapters.telegram.webhook.domain (the public HTTPS URL Telegram calls)');
    const domain = webhook.domain;
    // Telegram sends this back in a header on every call, so forged POSTs to the path are refused (403)
    const secret = createHash('sha256').update(`deskbot-telegram-webhook:${this.opts.token}`).digest('hex');
    const callback = await this.call('setWebhook', () =>
      this.bot.createWebhook({ domain, path: webhook.path, secret_token: secret, allowed_updates: ALLOWED_UPDATES }),
    );
    const server = createServer((req, res) => {
      callback(req, res).catch((err: unknown) => {
        this.log.error({ error: describeError(err, this.opts.token) }, 'telegram webhook request failed');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    const port = this.opts.webhookListen?.port ?? webhook.port;
    const host = this.opts.webhookListen?.host;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (host === undefined) server.listen(port, () => resolve());
      else server.listen(port, host, () => resolve());
    });
    this.server = server;
    const bound = (server.address() as AddressInfo).port;
    this.detail = `webhook as @${me.username} at ${domain}${webhook.path} (listening on ${bound})`;
  }

  /** The bot menu from the registry; a failure here is logged, not fatal: commands still work typed. */
  private async registerCommands(host: AdapterHost): Promise<void> {
    const commands: BotCommand[] = [];
    for (const c of host.commands()) {
      const command = c.spec.name.toLowerCase();
      const description = oneLine(c.spec.summary).slice(0, 256) || command;
      if (COMMAND_NAME.test(command)) commands.push({ command, description });
    }
    if (commands.length > MAX_COMMANDS) this.log.warn({ total: commands.length }, `telegram shows only the first ${MAX_COMMANDS} commands in its menu`);
    try {
      await this.call('setMyCommands', () => this.bot.telegram.setMyCommands(commands.slice(0, MAX_COMMANDS)));
    } catch (err) {
      this.log.warn({ error: describeError(err, this.opts.token) }, 'telegram command menu not set');
    }
  }

  // ----------------------------------------------------------------------------------------
  // updates in

  private accept(update: Update): void {
    // taken even while stopping: telegraf confirms a fetched batch, so dropping it would lose it
    const me = this.me;
    if (me === undefined) return;
    const inbound = readUpdate(update, me.username);
    switch (inbound.kind) {
      case 'ignore':
        this.log.debug({ update: update.update_id, why: inbound.why }, 'telegram update ignored');
        return;
      case 'message': {
        const { msg, target } = inbound;
        this.enqueue(target.chatId, () => this.converse(msg, target));
        return;
      }
      case 'button': {
        const command = this.buttons.commandFor(inbound.data);
        // answered at once, so the button stops spinning whatever the command then takes
        this.track(
          this.call('answerCallbackQuery', () =>
            command === undefined
              ? this.bot.telegram.answerCbQuery(inbound.queryId, EXPIRED_BUTTON, { show_alert: true })
              : this.bot.telegram.answerCbQuery(inbound.queryId),
          ).then(
            () => undefined,
            (err: unknown) => this.log.warn({ error: describeError(err, this.opts.token) }, 'telegram button press not answered'),
          ),
        );
        const target = inbound.target;
        if (command === undefined || target === null) return;
        this.enqueue(target.chatId, () => this.converse(pressAsMessage(inbound, command, target), target));
        return;
      }
    }
  }

  /** one chat's messages in order; different chats in parallel */
  private enqueue(chat: string, job: () => Promise<void>): void {
    const next = (this.queues.get(chat) ?? Promise.resolve()).then(job);
    this.queues.set(chat, next);
    this.track(next);
    void next.finally(() => {
      if (this.queues.get(chat) === next) this.queues.delete(chat);
    });
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private async settle(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.opts.stopTimeoutMs ?? 15_000);
      timer.unref();
    });
    await Promise.race([Promise.allSettled([...this.inflight]), timeout]);
    clearTimeout(timer);
  }

  private async converse(msg: IncomingMessage, target: ReplyTarget): Promise<void> {
    const host = this.host;
    if (host === undefined) return;
    let reply: Reply | null;
    try {
      reply = await host.handle(msg);
    } catch (err) {
      // the dispatcher answers its own failures; this is the kernel gone (shutting down)
      this.log.error({ error: describeError(err, this.opts.token), message: msg.id }, 'telegram message not handled');
      return;
    }
    if (reply === null) return;
    try {
      await this.deliver(target, reply);
    } catch (err) {
      const error = describeError(err, this.opts.token);
      this.log.error({ error, chat: target.chatId, message: msg.id }, 'telegram reply not delivered');
      host.audit({ kind: 'adapter-fault', what: 'reply not delivered', chat: target.chatId, msg: msg.id, error });
    }
  }

  // ----------------------------------------------------------------------------------------
  // replies out

  /** every part of a reply in order; the first failure (after retries) stops the rest and is thrown */
  private async deliver(target: ReplyTarget, reply: Reply): Promise<void> {
    const parts = renderReply(reply, { buttonData: (command) => this.buttons.dataFor(command) });
    for (const [i, part] of parts.entries()) {
      const first = i === 0 && target.group && target.replyTo !== undefined;
      await this.send(target, part, first ? target.replyTo : undefined);
    }
  }

  private async send(target: ReplyTarget, part: Outgoing, replyTo: number | undefined): Promise<void> {
    const tg = this.bot.telegram;
    const chat = chatRef(target.chatId);
    const extra = {
      parse_mode: 'HTML' as const,
      ...(target.threadId !== undefined ? { message_thread_id: Number(target.threadId) } : {}),
      ...(replyTo !== undefined ? { reply_parameters: { message_id: replyTo, allow_sending_without_reply: true } } : {}),
      ...(part.keyboard !== undefined ? { reply_markup: { inline_keyboard: part.keyboard } } : {}),
    };
    try {
      if (part.kind === 'text') {
        await this.call('sendMessage', () => tg.sendMessage(chat, part.html, { ...extra, link_preview_options: { is_disabled: true } }));
      } else {
        const caption = part.captionHtml !== undefined ? { caption: part.captionHtml } : {};
        // telegraf's multipart encoder drops object fields it does not know (reply_parameters):
        // the Bot API takes them JSON-serialised, so they go as a string
        const upload = { ...extra, ...caption, ...(extra.reply_parameters ? { reply_parameters: JSON.stringify(extra.reply_parameters) as never } : {}) };
        const file = (): ReturnType<typeof Input.fromBuffer> => Input.fromBuffer(Buffer.from(part.png), part.filename);
        try {
          await this.call('sendPhoto', () => tg.sendPhoto(chat, file(), upload));
        } catch (err) {
          // a chart too tall or too large for a photo still goes, as a file
          if (!(err instanceof TelegramDeliveryError && err.code === 400 && /PHOTO|too big/i.test(err.message))) throw err;
          this.log.info({ chat: target.chatId, reason: err.message }, 'telegram refused the image as a photo; sending it as a file');
          await this.call('sendDocument', () => tg.sendDocument(chat, file(), upload));
        }
      }
      this.sendFault = undefined;
    } catch (err) {
      this.sendFault = describeError(err, this.opts.token);
      throw err;
    }
  }

  private call<T>(method: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(method, fn, { policy: this.policy, log: this.log, token: this.opts.token });
  }
}

/** numeric chat ids as numbers; "@channelname" as it is */
function chatRef(id: string): number | string {
  return /^-?\d+$/.test(id) ? Number(id) : id;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

