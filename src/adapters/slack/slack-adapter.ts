import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, SocketModeReceiver, webApi, type BlockAction, type ButtonAction, type RespondFn } from '@slack/bolt';
import type { Logger } from 'pino';
import type { AdapterHealth, AdapterHost, ChatAdapter } from '../../kernel/adapters.js';
import type { Channel } from '../../kernel/auth/principal.js';
import type { IncomingMessage } from '../../kernel/commands/dispatcher.js';
import type { AdaptersConfig } from '../../kernel/config/schema.js';
import type { Reply } from '../../kernel/reply.js';
import { ackMessage, platformError, SlackSender, type AckMessage, type Destination } from './deliver.js';
import { channelOf, fromButton, fromMention, fromSlashCommand, threadOf, type MentionEvent } from './inbound.js';
import { slackLogger } from './logger.js';
import { escapeMrkdwn } from './mrkdwn.js';
import { afterPress, BUTTON_ACTION_PREFIX } from './render.js';

export type SlackConfig = AdaptersConfig['slack'];

export interface SlackAdapterOptions {
  config: SlackConfig;
  /** SLACK_BOT_TOKEN (xoxb-…): every Web API call */
  botToken: string;
  /** SLACK_APP_TOKEN (xapp-…): Socket Mode */
  appToken?: string;
  /** SLACK_SIGNING_SECRET: the HTTP receiver verifies every request with it */
  signingSecret?: string;
  /** the adapter's log (the factory's child of the process logger, which scrubs secrets) */
  logger: Logger;
  /**
   * The WebClient's retry policy (p-retry options) for 429s (it waits Retry-After first) and
   * 5xx/network errors. Default: 5 retries, 1 s doubling to 16 s (about half a minute), then
   * the call fails; Slack's own default keeps trying for 30 minutes, too long for a reply.
   */
  retry?: webApi.RetryOptions;
  /** one Web API request's timeout (default 30 s) */
  requestTimeoutMs?: number;
  /** the HTTP receiver's interface (default: all, as Slack must reach it through the proxy); tests use 127.0.0.1 */
  listenHost?: string;
  /** how long stop() waits for replies in flight (default 15 s) */
  stopWaitMs?: number;
}

const DEFAULT_RETRY: webApi.RetryOptions = { retries: 5, factor: 2, minTimeout: 1_000, maxTimeout: 16_000, randomize: true };
const DEFAULT_API_URL = 'https://slack.com/api/';
/** how long stop() waits for replies in flight */
const STOP_WAIT_MS = 15_000;
/** the one URL Slack POSTs commands, button presses and events to in HTTP mode */
export const SLACK_EVENTS_PATH = '/slack/events';

/**
 * Slack through Bolt: slash commands, app mentions and button presses in; Block Kit out.
 * Socket Mode (SLACK_APP_TOKEN) or Bolt's HTTP receiver (SLACK_SIGNING_SECRET, which Bolt
 * verifies on every request). A slash command whose reply is ready within answerInAckMs and is
 * one plain message is answered in its acknowledgement (in_channel, or ephemeral for private
 * replies); otherwise it is acknowledged empty in time (Slack wants the ack within 3 s) and
 * answered with chat.postMessage, or chat.postEphemeral for private replies.
 */
export class SlackAdapter implements ChatAdapter {
  readonly platform = 'slack';
  private app: App | undefined;
  private sender: SlackSender | undefined;
  private host: AdapterHost | undefined;
  private log: Logger;
  private botUserId: string | undefined;
  /** " as @deskbot in Desk Team", for health details */
  private identity = '';
  private server: Server | undefined;
  private connected = false;
  private detail = 'not started';
  private accepting = false;
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(private readonly opts: SlackAdapterOptions) {
    this.log = opts.logger;
  }

  /** the HTTP receiver's port once started (mode http) */
  get port(): number | undefined {
    const a = this.server?.address();
    return a !== null && typeof a === 'object' ? (a as AddressInfo).port : undefined;
  }

  async start(host: AdapterHost): Promise<void> {
    if (this.app) throw new Error('the Slack adapter is already started');
    const { opts } = this;
    const mode = opts.config.mode;
    this.host = host;
    const secrets = [opts.botToken, opts.appToken, opts.signingSecret].filter((s): s is string => s !== undefined);
    const boltLog = slackLogger(this.log.child({ part: 'bolt' }), secrets);
    const clientOptions = (): webApi.WebClientOptions => ({
      slackApiUrl: withSlash(opts.config.apiUrl ?? DEFAULT_API_URL),
      retryConfig: opts.retry ?? DEFAULT_RETRY,
      timeout: opts.requestTimeoutMs ?? 30_000,
      logger: boltLog,
    });

    // auth.test first: a bad token is a clear start-up error, and the bot's own ids are known
    // before the first event (mentions are stripped by the bot's user id)
    let who: webApi.AuthTestResponse;
    try {
      who = await new webApi.WebClient(opts.botToken, clientOptions()).auth.test();
    } catch (err) {
      const code = platformError(err);
      this.detail = `auth.test failed: ${code ?? errorText(err)}`;
      throw new Error(
        code === 'invalid_auth' || code === 'not_authed' || code === 'token_revoked' || code === 'account_inactive'
          ? `Slack rejected SLACK_BOT_TOKEN (${code}); check the bot token of the installed app`
          : `Slack adapter could not reach the Web API (auth.test): ${code ?? errorText(err)}`,
      );
    }
    this.botUserId = who.user_id;
    this.identity = ` as @${who.user ?? '?'} in ${who.team ?? '?'}`;

    const common = {
      token: opts.botToken,
      ...(who.user_id !== undefined ? { botUserId: who.user_id } : {}),
      ...(who.bot_id !== undefined ? { botId: who.bot_id } : {}),
      logger: boltLog,
      clientOptions: clientOptions(),
      // Bolt's conversation store keeps per-conversation state for apps that ask for it; the
      // desk keeps its own state in the kernel, so the lookup on every event is pure cost
      convoStore: false as const,
    };
    let app: App;
    if (mode === 'socket') {
      if (!opts.appToken) throw new Error('Slack Socket Mode needs SLACK_APP_TOKEN (an app-level token, xapp-…, with connections:write)');
      const receiver = new SocketModeReceiver({ appToken: opts.appToken, logger: boltLog, installerOptions: { clientOptions: clientOptions() } });
      receiver.client.on('connected', () => this.setState(true, `socket mode connected${this.identity}`));
      // the client waits a few seconds between a dropped socket and the next attempt
      receiver.client.on('close', () => {
        if (this.accepting) this.setState(false, 'socket mode connection closed; reconnecting');
      });
      receiver.client.on('reconnecting', () => this.setState(false, 'socket mode reconnecting'));
      receiver.client.on('disconnected', () => this.setState(false, this.accepting ? 'socket mode disconnected' : 'stopped'));
      app = new App({ ...common, receiver, socketMode: true });
    } else {
      if (!opts.signingSecret) throw new Error('the Slack HTTP receiver needs SLACK_SIGNING_SECRET (Basic Information → App Credentials)');
      app = new App({ ...common, signingSecret: opts.signingSecret, endpoints: SLACK_EVENTS_PATH, port: opts.config.port });
    }
    app.error(async (err) => {
      this.log.error({ err: { message: errorText(err), code: (err as { code?: string }).code } }, 'slack event handling failed');
    });
    this.listen(app);
    this.app = app;
    this.sender = new SlackSender(app.client);
    this.accepting = true;

    try {
      if (mode === 'socket') {
        await app.start();
        this.setState(true, `socket mode connected${this.identity}`);
      } else {
        const listen = opts.listenHost === undefined ? opts.config.port : { port: opts.config.port, host: opts.listenHost };
        const server = (await app.start(listen)) as Server;
        this.server = server;
        this.watchRejections(server);
        this.setState(true, `http receiver on port ${this.port ?? opts.config.port}${SLACK_EVENTS_PATH}${this.identity}`);
      }
    } catch (err) {
      this.accepting = false;
      this.app = undefined;
      const code = platformError(err);
      this.detail = `start failed: ${code ?? errorText(err)}`;
      if (mode === 'socket' && (code === 'invalid_auth' || code === 'not_authed')) {
        throw new Error(`Slack rejected SLACK_APP_TOKEN (${code}); it must be the app-level token (xapp-…) with connections:write`);
      }
      throw new Error(`Slack adapter could not start (${mode} mode): ${code ?? errorText(err)}`);
    }
  }

  async stop(): Promise<void> {
    const app = this.app;
    if (!app) return;
    this.accepting = false;
    this.app = undefined;
    try {
      await app.stop();
    } catch (err) {
      this.log.warn({ err: { message: errorText(err) } }, 'slack receiver stop failed');
    }
    // replies already being worked on are still delivered, within a bound: the kernel drains
    // (and aborts) its handlers only after every adapter has stopped
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.opts.stopWaitMs ?? STOP_WAIT_MS);
    });
    await Promise.race([Promise.allSettled([...this.inflight]), bound]);
    clearTimeout(timer);
    this.server = undefined;
    this.setState(false, 'stopped');
  }

  async post(channel: Channel, reply: Reply): Promise<void> {
    if (!this.sender || !this.accepting) throw new Error('the Slack adapter is not started');
    await this.sender.send({ channel: channel.channelId, ...(channel.threadId !== undefined ? { threadTs: channel.threadId } : {}) }, reply);
  }

  health(): AdapterHealth {
    return { connected: this.connected, detail: this.detail };
  }

  private setState(connected: boolean, detail: string): void {
    this.connected = connected;
    this.detail = detail;
  }

  private listen(app: App): void {
    // every slash command of the manifest arrives here; the kernel knows which exist
    app.command(/^\/.+/, async ({ command, ack, respond }) => {
      const answer = ackAnswer(ack, this.opts.config.answerInAckMs, (err) =>
        this.log.warn({ err: { message: errorText(err) }, channel: command.channel_id }, 'slack ack failed'),
      );
      try {
        await this.run(fromSlashCommand(command), { channel: command.channel_id, user: command.user_id, respond }, answer.withReply);
      } finally {
        await answer.empty();
      }
    });

    app.event('app_mention', async ({ event, body }) => {
      const e = event as unknown as MentionEvent;
      if (e.user === undefined) return; // a bot or a workflow mentioning us: nobody to answer
      const to: Destination = { channel: e.channel, user: e.user, ...(e.thread_ts !== undefined ? { threadTs: e.thread_ts } : {}) };
      await this.run(fromMention(e, (body as { event_id: string }).event_id, this.botUserId), to);
    });

    app.action(new RegExp(`^${BUTTON_ACTION_PREFIX.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), async ({ ack, body, action, respond, client }) => {
      await ack();
      if (body.type !== 'block_actions' || action.type !== 'button') return;
      const press = body as BlockAction;
      const button = action as ButtonAction;
      const channel = channelOf(press);
      if (channel === undefined) return;
      const thread = threadOf(press);
      const to: Destination = { channel, user: press.user.id, respond: respond as RespondFn, ...(thread !== undefined ? { threadTs: thread } : {}) };
      const out = await this.run(fromButton(press, button), to);
      // a press that did something retires the buttons, so the question shows it was answered
      const message = press.message;
      if (out === null || out.private === true || message === undefined || press.container['is_ephemeral'] === true) return;
      const blocks = afterPress(message['blocks'], button.block_id, `<@${press.user.id}> pressed *${escapeMrkdwn(button.text.text)}*`);
      if (blocks === null) return;
      try {
        await client.chat.update({ channel, ts: message.ts, blocks, text: typeof message.text === 'string' ? message.text : 'deskbot' });
      } catch (err) {
        this.log.warn({ err: { message: errorText(err) }, channel }, 'could not retire the pressed buttons');
      }
    });
  }

  /**
   * One message through the kernel and its reply to Slack; delivery failures are logged and
   * audited, never thrown into Bolt. `inAck` (slash commands) may carry the reply in the
   * request's acknowledgement instead; false means it did not, and the reply is posted.
   */
  private run(msg: IncomingMessage, to: Destination, inAck?: (reply: Reply) => Promise<boolean>): Promise<Reply | null> {
    const host = this.host;
    const sender = this.sender;
    if (!host || !sender || !this.accepting) return Promise.resolve(null);
    const task = (async (): Promise<Reply | null> => {
      const out = await host.handle(msg);
      if (out === null) return null;
      if (inAck !== undefined && (await inAck(out))) return out;
      try {
        await sender.send(to, out);
      } catch (err) {
        const error = platformError(err) ?? errorText(err);
        this.log.error({ msg: msg.id, channel: to.channel, error }, 'slack reply not delivered');
        host.audit({ kind: 'platform-fault', op: 'reply', msg: msg.id, channel: to.channel, error });
      }
      return out;
    })();
    this.inflight.add(task);
    void task.finally(() => this.inflight.delete(task)).catch(() => {});
    return task;
  }

  /** Bolt answers a request whose signature does not verify with 401; that is worth an audit line. */
  private watchRejections(server: Server): void {
    server.on('request', (req, res) => {
      res.on('finish', () => {
        if (res.statusCode !== 401) return;
        const ts = req.headers['x-slack-request-timestamp'];
        this.log.warn({ path: req.url, remote: req.socket.remoteAddress }, 'slack request rejected: signature did not verify');
        this.host?.audit({ kind: 'signature-rejected', path: req.url ?? '', remote: req.socket.remoteAddress ?? '', timestamp: typeof ts === 'string' ? ts : null });
      });
    });
  }
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/** An error's message only: Web API errors carry request data we do not want in logs wholesale. */
function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A slash command's acknowledgement, sent once: with the reply as its message when the reply is
 * ready within `waitMs` and is one plain message (no images, no buttons: those are posted, so a
 * press can retire them with chat.update), else empty — at `waitMs` at the latest, so Slack's
 * 3 s limit holds. The reply in the ack saves a Web API call per command, works in channels the
 * bot has not joined, and is not subject to chat.postMessage's per-channel rate limit.
 */
function ackAnswer(
  ack: (body?: AckMessage) => Promise<void>,
  waitMs: number,
  onError: (err: unknown) => void,
): { withReply(reply: Reply): Promise<boolean>; empty(): Promise<void> } {
  let sent = false;
  const send = async (body?: AckMessage): Promise<boolean> => {
    if (sent) return false;
    sent = true;
    clearTimeout(timer);
    try {
      await ack(body);
      return true;
    } catch (err) {
      onError(err);
      return false;
    }
  };
  const timer = setTimeout(() => void send(), waitMs);
  return {
    async withReply(reply) {
      const body = waitMs > 0 ? ackMessage(reply) : null;
      if (body === null) {
        await send();
        return false;
      }
      return send(body);
    },
    async empty() {
      await send();
    },
  };
}
