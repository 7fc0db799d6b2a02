import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { listenOnLoopback } from '../exchange/http.js';
import {
  mentionBody,
  pressBody,
  sendSigned,
  slashCommandBody,
  type MentionInput,
  type SentRequest,
  type SignOptions,
  type SlashCommandInput,
} from './deliveries.js';
import { FakeWebApi, type PostedMessage } from './web-api.js';

export interface FakeSlackOptions {
  botToken: string;
  signingSecret: string;
}

/**
 * A Slack workspace on 127.0.0.1 for the real Bolt app: the Web API, file upload URLs and
 * response_urls on one loopback server (`apiUrl` is what Bolt's client gets as slackApiUrl), and
 * the platform's side that signs and sends slash commands, button presses and events to the
 * app's Request URL (`appUrl`, set once the app listens).
 */
export class FakeSlack {
  readonly api: FakeWebApi;
  /** the app's Request URL, e.g. http://127.0.0.1:PORT/slack/events */
  appUrl = '';
  private readonly changed = new EventEmitter();
  private responseSeq = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly opts: FakeSlackOptions,
    api: (self: FakeSlack) => FakeWebApi,
  ) {
    this.api = api(this);
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
    self = new FakeSlack(server, port, opts, (s) => new FakeWebApi({ botToken: opts.botToken, baseUrl: () => s.baseUrl, record: () => s.changed.emit('change') }));
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

  slash(c: SlashCommandInput, o: SignOptions = {}): Promise<SentRequest> {
    return this.send(slashCommandBody(c, this.responseUrl(c.channel_id)), 'application/x-www-form-urlencoded', o);
  }

  /** an app_mention event_callback; returns the event_id so a test can deliver it again */
  async mention(m: MentionInput, o: SignOptions = {}): Promise<SentRequest & { eventId: string }> {
    const { body, eventId } = mentionBody(m, this.api.bot.user_id);
    return { ...(await this.send(body, 'application/json', o)), eventId };
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
      const body = pressBody(
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
      return this.send(body, 'application/x-www-form-urlencoded', o);
    }
    throw new Error(`no button "${label}" in message ${message.ts}`);
  }

  /** a raw body with Slack's headers (tests of forged or stale requests) */
  send(body: string, contentType: string, o: SignOptions = {}): Promise<SentRequest> {
    if (this.appUrl === '') throw new Error('FakeSlack.appUrl is not set: start the app first');
    return sendSigned(this.appUrl, body, contentType, this.opts.signingSecret, o);
  }

  /**
   * Resolves with `probe()`'s first non-undefined value, re-checked whenever the bot calls the
   * fake; rejects after `timeoutMs` (a generous cap, not a speed assertion).
   */
  waitFor<T>(probe: () => T | undefined | false, timeoutMs = 15_000, what = 'the expected Slack call'): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = (): boolean => {
        const v = probe();
        if (v === undefined || v === false) return false;
        cleanup();
        resolve(v);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const onChange = (): void => void check();
      const cleanup = (): void => {
        clearTimeout(timer);
        this.changed.off('change', onChange);
      };
      this.changed.on('change', onChange);
      check();
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
