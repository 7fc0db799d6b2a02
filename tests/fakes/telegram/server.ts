import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Update } from 'telegraf/types';
import { listenOnLoopback } from '../exchange/http.js';
import { ApiError, botApi, type Handler, type Params } from './methods.js';
import { parseMultipart, type Part } from './multipart.js';
import { FakeState, type CallbackAnswer, type FakeChat, type FakeUser, type SentMessage } from './state.js';
import { waitForChange } from '../wait-for-change.js';

export type Fault = { status: 429; retryAfter: number } | { status: 500 | 502 | 503 | 504 };

export interface ApiCall {
  method: string;
  status: number;
}

export interface FakeTelegramOptions {
  /** the only token the fake accepts in /bot<token>/<method> */
  token: string;
  bot?: { id?: number; username?: string; first_name?: string };
}

const STATUS_TEXT: Record<number, string> = { 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };

/**
 * The Telegram Bot API on 127.0.0.1 for one bot: POST /bot<token>/<method> with JSON, form or
 * multipart bodies, answers {ok, result} or {ok:false, error_code, description}. It records what
 * the bot sent (parsed as Telegram parses HTML), serves getUpdates with long polling and
 * offset confirmation, delivers to a webhook when one is set, and injects faults (429 with
 * retry_after, 5xx, redelivered updates).
 */
export class FakeTelegram {
  readonly state: FakeState;
  /** every call as answered, in order */
  readonly calls: ApiCall[] = [];
  /** every method as it arrived (a long poll shows here while it is still held) */
  readonly received: string[] = [];
  /** webhook mode: where updates are actually POSTed (the registered https URL is not reachable from a test) */
  webhookTarget: string | undefined;
  readonly webhookDeliveries: Array<{ updateId: number; status: number }> = [];
  private readonly faults = new Map<string, Fault[]>();
  private readonly changed = new EventEmitter();
  private readonly api: Record<string, Handler>;
  private server: Server | undefined;
  private port = 0;
  private revoked = false;

  private constructor(private readonly opts: FakeTelegramOptions) {
    this.state = new FakeState({
      id: opts.bot?.id ?? Number(opts.token.split(':')[0]) ?? 1,
      is_bot: true,
      first_name: opts.bot?.first_name ?? 'Desk Bot',
      username: opts.bot?.username ?? 'deskbot_test_bot',
    });
    this.api = botApi(this.state);
    this.changed.setMaxListeners(100);
  }

  static async start(opts: FakeTelegramOptions): Promise<FakeTelegram> {
    const fake = new FakeTelegram(opts);
    const { server, port } = await listenOnLoopback((req, res) => void fake.serve(req, res));
    fake.server = server;
    fake.port = port;
    return fake;
  }

  /** what the adapter's apiRoot is set to */
  get apiRoot(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get sent(): readonly SentMessage[] {
    return this.state.sent;
  }

  get answers(): readonly CallbackAnswer[] {
    return this.state.answers;
  }

  get bot(): Required<FakeUser> {
    return this.state.bot;
  }

  /** the next `times` calls of `method` fail with `fault` before reaching the method */
  fail(method: string, fault: Fault, times = 1): void {
    const list = this.faults.get(method) ?? [];
    for (let i = 0; i < times; i++) list.push(fault);
    this.faults.set(method, list);
  }

  /** the bot's token stops working (revoked in @BotFather): every later call is 401; a held long poll ends */
  revokeToken(): void {
    this.revoked = true;
    this.state.updates.releaseAll();
  }

  clearFaults(): void {
    this.faults.clear();
  }

  addChat(chat: FakeChat): FakeChat {
    return this.state.addChat(chat);
  }

  /** a person writes in a chat (the bot gets it by getUpdates or by webhook) */
  userSays(o: { chat: FakeChat; from: FakeUser; text: string; threadId?: number }): Update {
    const chat = this.state.addChat(o.chat);
    const messageId = this.state.nextMessageId(chat.id);
    const command = /^\/\S+/.exec(o.text)?.[0];
    const update = this.state.updates.create(
      (update_id) =>
        ({
          update_id,
          message: {
            message_id: messageId,
            date: Math.floor(Date.now() / 1000),
            chat: { ...chat },
            from: { is_bot: false, ...o.from },
            text: o.text,
            ...(command ? { entities: [{ type: 'bot_command', offset: 0, length: command.length }] } : {}),
            ...(o.threadId !== undefined ? { message_thread_id: o.threadId, is_topic_message: true } : {}),
          },
        }) as unknown as Update,
    );
    this.deliver(update);
    return update;
  }

  /** a person presses an inline button on a message the bot sent */
  press(o: { message: SentMessage; label: string; from: FakeUser }): Update {
    const button = o.message.keyboard?.flat().find((b) => b.text === o.label);
    if (button?.callback_data === undefined) throw new Error(`message ${o.message.messageId} has no button "${o.label}"`);
    const id = this.state.newQueryId();
    const update = this.state.updates.create(
      (update_id) =>
        ({
          update_id,
          callback_query: { id, from: { is_bot: false, ...o.from }, message: o.message.message, chat_instance: `ci${o.message.chatId}`, data: button.callback_data },
        }) as unknown as Update,
    );
    this.deliver(update);
    return update;
  }

  /** Telegram delivering an update again (at-least-once) */
  redeliver(updateId: number): void {
    const update = this.state.updates.get(updateId);
    if (update === undefined) throw new Error(`no update ${updateId}`);
    if (this.state.webhook !== null) this.postWebhook(update);
    else this.state.updates.redeliver(updateId);
  }

  /** Resolves with the first truthy value of `probe`, checked after every API call; rejects after `timeoutMs`. */
  waitFor<T>(probe: () => T | undefined | null | false, what: string, timeoutMs = 15_000): Promise<T> {
    return waitForChange(this.changed, probe, {
      timeoutMs,
      timeoutMessage: () => `timed out after ${timeoutMs} ms waiting for ${what}; last calls: ${this.calls.slice(-12).map((c) => `${c.method}→${c.status}`).join(', ')}`,
    });
  }

  /** the messages sent to a chat so far */
  sentTo(chatId: number): SentMessage[] {
    return this.state.sent.filter((m) => m.chatId === chatId);
  }

  async close(): Promise<void> {
    this.state.updates.releaseAll();
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  // ------------------------------------------------------------------------------------------

  private deliver(update: Update): void {
    if (this.state.webhook !== null) this.postWebhook(update);
    else this.state.updates.add(update);
  }

  private postWebhook(update: Update): void {
    const hook = this.state.webhook;
    if (hook === null || this.webhookTarget === undefined) throw new Error('a webhook is set but the fake has no webhookTarget to deliver to');
    const url = `${this.webhookTarget}${new URL(hook.url).pathname}`;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (hook.secretToken !== undefined) headers['x-telegram-bot-api-secret-token'] = hook.secretToken;
    void fetch(url, { method: 'POST', headers, body: JSON.stringify(update) })
      .then(async (res) => {
        await res.arrayBuffer();
        return res.status;
      })
      .catch(() => 0)
      .then((status) => {
        this.webhookDeliveries.push({ updateId: update.update_id, status });
        this.changed.emit('change');
      });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    const body = await readBody(req);
    if (!m) return this.answer(res, '?', 404, { ok: false, error_code: 404, description: 'Not Found' });
    const [, token, rawMethod] = m;
    const method = Object.keys(this.api).find((k) => k.toLowerCase() === (rawMethod as string).toLowerCase()) ?? (rawMethod as string);
    if (this.revoked || decodeURIComponent(token as string) !== this.opts.token) {
      return this.answer(res, method, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    }
    this.received.push(method);
    this.changed.emit('change');
    const fault = this.faults.get(method)?.shift();
    if (fault !== undefined) {
      if (fault.status === 429) {
        const after = fault.retryAfter;
        return this.answer(res, method, 429, { ok: false, error_code: 429, description: `Too Many Requests: retry after ${after}`, parameters: { retry_after: after } });
      }
      res.statusCode = fault.status;
      res.statusMessage = STATUS_TEXT[fault.status] ?? 'Server Error';
      res.setHeader('content-type', 'text/html');
      this.record(method, fault.status);
      res.end(`<html><body>${fault.status} ${res.statusMessage}</body></html>`);
      return;
    }
    const handler = this.api[method];
    if (handler === undefined) return this.answer(res, method, 404, { ok: false, error_code: 404, description: 'Not Found: method not found' });
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableEnded) gone.abort();
    });
    try {
      const { params, files } = readParams(req, url, body);
      const result = await handler(params, files, gone.signal);
      this.answer(res, method, 200, { ok: true, result });
    } catch (e) {
      if (e instanceof ApiError) {
        this.answer(res, method, e.code, { ok: false, error_code: e.code, description: e.description, ...(e.parameters ? { parameters: e.parameters } : {}) });
      } else {
        this.answer(res, method, 500, { ok: false, error_code: 500, description: `fake failed: ${e instanceof Error ? e.message : String(e)}` });
      }
    }
  }

  private answer(res: ServerResponse, method: string, status: number, payload: unknown): void {
    this.record(method, status);
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(payload));
  }

  private record(method: string, status: number): void {
    this.calls.push({ method, status });
    this.changed.emit('change');
  }
}

/** A private chat with a person (its id is the person's id). */
export function privateChat(user: FakeUser): FakeChat {
  return { id: user.id, type: 'private' };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function readParams(req: IncomingMessage, url: URL, body: Buffer): { params: Params; files: Map<string, Part> } {
  const params: Params = Object.fromEntries(url.searchParams);
  const files = new Map<string, Part>();
  const type = req.headers['content-type'] ?? '';
  if (body.length === 0) return { params, files };
  if (type.startsWith('application/json')) {
    Object.assign(params, JSON.parse(body.toString('utf8')) as Params);
  } else if (type.startsWith('multipart/form-data')) {
    for (const part of parseMultipart(body, type)) {
      if (part.filename !== undefined) files.set(part.name, part);
      else params[part.name] = part.data.toString('utf8');
    }
  } else if (type.startsWith('application/x-www-form-urlencoded')) {
    Object.assign(params, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
  } else {
    throw new ApiError(400, 'Bad Request: unsupported content type');
  }
  return { params, files };
}
