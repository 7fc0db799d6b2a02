import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { listenOnLoopback } from '../exchange/http.js';
import {
  mentionPayload,
  pressPayload,
  sendSigned,
  slashCommandPayload,
  type MentionInput,
  type SentRequest,
  type SignOptions,
  type SlashCommandInput,
} from './deliveries.js';
import { FakeSocketMode } from './socket-mode.js';
import { FakeWebApi, type PostedMessage } from './web-api.js';
import { waitForChange } from '../wait-for-change.js';

export interface FakeSlackOptions {
  botToken: string;
  signingSecret: string;
  /** the app-level token Socket Mode connects with */
  appToken?: string;
}

/**
 * A Slack workspace on 127.0.0.1 for the real Bolt app: the Web API, file upload URLs and
 * response_urls on one loopback server (`apiUrl` is what Bolt's client gets as slackApiUrl), and
 * the platform's side that sends slash commands, button presses and events to the app: signed
 * POSTs to its Request URL (`appUrl`, set once the app listens) with `via = 'http'`, or
 * envelopes over the Socket Mode connection the app opened with `via = 'socket'`.
 */
export class FakeSlack {
  readonly api: FakeWebApi;
  readonly socket: FakeSocketMode;
  /** the app's Request URL, e.g. http://127.0.0.1:PORT/slack/events */
  appUrl = '';
  /** how deliveries reach the app */
  via: 'http' | 'socket' = 'http';
  private readonly changed = new EventEmitter();
  private responseSeq = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly opts: FakeSlackOptions,
    api: (self: FakeSlack) => FakeWebApi,
  ) {
    this.api = api(this);
    this.socket = new FakeSocketMode(server, port, () => this.changed.emit('change'));
    this.changed.setMaxListeners(100);
  }

  static async start(opts: FakeSlackOptions): Promise<FakeSlack> {
    let self: FakeSlack | undefined;
    const { server, port } = await listenOnLoopback((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        self?.api.handle(req, res, Buffer.concat(chunks)).catch((err: unknown) => {
          res.writeHead(500).end(String(err));
        });
      });
    });
    self = new FakeSlack(server, port, opts, (s) =>
      new FakeWebApi({
        botToken: opts.botToken,
        appToken: opts.appToken ?? 'xapp-not-configured',
        baseUrl: () => s.baseUrl,
        socketUrl: () => s.socket.nextUrl(),
        record: () => s.changed.emit('change'),
      }),
    );
    return self;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** what Bolt's WebClient gets as slackApiUrl */
  get apiUrl(): string {
    return `${this.baseUrl}/api/`;
  }

  get messages(): PostedMessage[] {
    return this.api.messages;
  }

  responseUrl(channel: string): string {
    return `${this.baseUrl}/respond/${++this.responseSeq}?channel=${encodeURIComponent(channel)}`;
  }

  /** a slash command; a message in the app's acknowledgement is recorded as its answer (via 'ack') */
  async slash(c: SlashCommandInput, o: SignOptions = {}): Promise<SentRequest> {
    const payload = slashCommandPayload(c, this.responseUrl(c.channel_id));
    const res =
      this.via === 'socket'
        ? await this.envelope('slash_commands', payload, o)
        : await this.send(new URLSearchParams(payload).toString(), 'application/x-www-form-urlencoded', o);
    if (res.status === 200) this.api.acknowledged(c.channel_id, c.user_id, res.body);
    return res;
  }

  /** an app_mention event_callback; returns the event_id so a test can deliver it again */
  async mention(m: MentionInput, o: SignOptions = {}): Promise<SentRequest & { eventId: string }> {
    const { payload, eventId } = mentionPayload(m, this.api.bot.user_id);
    if (this.via === 'socket') return { ...(await this.envelope('events_api', payload, o)), eventId };
    return { ...(await this.send(JSON.stringify(payload), 'application/json', o)), eventId };
  }

  /** press button `label` of a message the bot posted, as `user` */
  press(
    message: PostedMessage,
    label: string,
    user: { id: string; username?: string },
    o: SignOptions & { trigger_id?: string } = {},
  ): Promise<SentRequest> {
    const blocks = message.updates.at(-1)?.blocks ?? message.blocks;
    for (const b of blocks) {
      if (b['type'] !== 'actions') continue;
      const button = (b['elements'] as Array<Record<string, unknown>>).find((e) => (e['text'] as { text?: string }).text === label);
      if (!button) continue;
      const payload = pressPayload(
        {
          user,
          channel: message.channel,
          message: { ts: message.ts, text: message.text, blocks, ...(message.thread_ts !== undefined ? { thread_ts: message.thread_ts } : {}) },
          block_id: String(b['block_id']),
          button,
          ...(o.trigger_id !== undefined ? { trigger_id: o.trigger_id } : {}),
        },
        this.responseUrl(message.channel),
      );
      if (this.via === 'socket') return this.envelope('interactive', payload, o);
      return this.send(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), 'application/x-www-form-urlencoded', o);
    }
    throw new Error(`no button "${label}" in message ${message.ts}`);
  }

  /** a raw body with Slack's headers (tests of forged or stale requests) */
  send(body: string, contentType: string, o: SignOptions = {}): Promise<SentRequest> {
    if (this.appUrl === '') throw new Error('FakeSlack.appUrl is not set: start the app first');
    return sendSigned(this.appUrl, body, contentType, this.opts.signingSecret, o);
  }

  /** an envelope over Socket Mode, resolved when the app acknowledges it (status 200, the ack's payload as body) */
  private async envelope(type: 'slash_commands' | 'interactive' | 'events_api', payload: unknown, o: SignOptions): Promise<SentRequest> {
    const id = this.socket.send(type, payload, {
      ...(o.retryNum !== undefined ? { retryAttempt: o.retryNum } : {}),
      ...(o.retryReason !== undefined ? { retryReason: o.retryReason } : {}),
    });
    await this.waitFor(() => this.socket.acks.has(id), 15_000, `the ack of envelope ${id}`);
    const ack = this.socket.acks.get(id);
    return { status: 200, body: ack === null || ack === undefined || (typeof ack === 'object' && Object.keys(ack).length === 0) ? '' : JSON.stringify(ack) };
  }

  /**
   * Resolves with `probe()`'s first non-undefined value, re-checked whenever the bot calls the
   * fake (and every 50 ms, for state outside the fake such as the adapter's health); rejects
   * after `timeoutMs` (a generous cap, not a speed assertion).
   */
  waitFor<T>(probe: () => T | undefined | false, timeoutMs = 15_000, what = 'the expected Slack call'): Promise<T> {
    return waitForChange(this.changed, probe, { timeoutMs, pollMs: 50, timeoutMessage: () => `timed out after ${timeoutMs} ms waiting for ${what}` });
  }

  async close(): Promise<void> {
    this.socket.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
