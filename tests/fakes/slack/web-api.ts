import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The Slack Web API as Bolt's WebClient speaks it: POST https://slack.com/api/<method> with the
 * bot token as `Authorization: Bearer`, arguments form-encoded (objects such as `blocks` as JSON
 * strings), answers `{ ok: true, ... }` or `{ ok: false, error }` with HTTP 200; 429 with a
 * Retry-After header when rate limited. Also the upload URL of the files.getUploadURLExternal
 * flow (multipart POST) and response_url (JSON POST). Everything the bot sends is recorded.
 */

export interface ApiCall {
  method: string;
  args: Record<string, unknown>;
  /** Date.now() when the request arrived */
  at: number;
  status: number;
}

export interface PostedMessage {
  /** 'ack': the message a slash command's acknowledgement carried (Slack shows it as the answer) */
  via: 'chat.postMessage' | 'chat.postEphemeral' | 'response_url' | 'ack';
  channel: string;
  ts: string;
  thread_ts?: string;
  /** the recipient of an ephemeral message */
  user?: string;
  text: string;
  blocks: Array<Record<string, unknown>>;
  /** chat.update calls that changed it, latest last */
  updates: Array<{ text: string; blocks: Array<Record<string, unknown>> }>;
}

export interface UploadedFile {
  id: string;
  filename: string;
  length: number;
  alt_text?: string;
  title?: string;
  bytes?: Buffer;
  channel_id?: string;
  thread_ts?: string;
  completed: boolean;
}

export type Fault = { status: 429; retryAfter: number } | { status: 500 | 502 | 503 } | { error: string };

export interface ApiState {
  botToken: string;
  /** the app-level token apps.connections.open takes (Socket Mode) */
  appToken: string;
  /** a Socket Mode URL for apps.connections.open */
  socketUrl: () => string;
  baseUrl: () => string;
  record: () => void;
}

const BOT = { user_id: 'U0BOT', bot_id: 'B0BOT', user: 'deskbot', team: 'Desk Team', team_id: 'T0DESK' };

export class FakeWebApi {
  readonly calls: ApiCall[] = [];
  readonly messages: PostedMessage[] = [];
  readonly files: UploadedFile[] = [];
  /** channels the bot is not a member of: chat.postMessage there fails with not_in_channel */
  readonly notInChannel = new Set<string>();
  private readonly faults = new Map<string, Fault[]>();
  private downFault: Fault | undefined;
  private seq = 0;

  constructor(private readonly state: ApiState) {}

  readonly bot = BOT;

  /** the next `times` calls of `method` ('*' = any) fail with `fault` */
  failNext(method: string, fault: Fault, times = 1): void {
    const q = this.faults.get(method) ?? [];
    for (let i = 0; i < times; i++) q.push(fault);
    this.faults.set(method, q);
  }

  /** every call fails with `fault` until `up()` (a platform outage) */
  down(fault: Fault = { status: 503 }): void {
    this.downFault = fault;
  }

  up(): void {
    this.downFault = undefined;
  }

  async handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (url.pathname.startsWith('/upload/')) return this.upload(url.pathname.slice('/upload/'.length), req, res, raw);
    if (url.pathname.startsWith('/respond/')) return this.respond(req, res, raw);
    const method = url.pathname.replace(/^\/api\//, '');
    const args = await parseArgs(req, raw);
    const call: ApiCall = { method, args, at: Date.now(), status: 200 };
    this.calls.push(call);

    const fault = this.downFault ?? this.takeFault(method);
    if (fault !== undefined && 'status' in fault) {
      call.status = fault.status;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (fault.status === 429) headers['retry-after'] = String(fault.retryAfter);
      res.writeHead(fault.status, headers).end(fault.status === 429 ? JSON.stringify({ ok: false, error: 'ratelimited' }) : 'upstream unavailable');
      this.state.record();
      return;
    }
    const auth = req.headers.authorization ?? (typeof args['token'] === 'string' ? `Bearer ${args['token']}` : undefined);
    // Socket Mode's one method takes the app-level token; everything else the bot token
    const token = method === 'apps.connections.open' ? this.state.appToken : this.state.botToken;
    const answer =
      fault !== undefined
        ? { ok: false, error: fault.error }
        : auth === undefined
          ? { ok: false, error: 'not_authed' }
          : auth !== `Bearer ${token}`
            ? { ok: false, error: 'invalid_auth' }
            : this.method(method, args);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(answer));
    this.state.record();
  }

  private takeFault(method: string): Fault | undefined {
    for (const key of [method, '*']) {
      const q = this.faults.get(key);
      if (q && q.length > 0) return q.shift();
    }
    return undefined;
  }

  private method(method: string, a: Record<string, unknown>): Record<string, unknown> {
    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://desk.slack.example/', ...BOT };
      case 'apps.connections.open':
        return { ok: true, url: this.state.socketUrl() };
      case 'chat.postMessage':
      case 'chat.postEphemeral': {
        const channel = str(a['channel']);
        if (channel === '') return { ok: false, error: 'channel_not_found' };
        if (this.notInChannel.has(channel)) return { ok: false, error: 'not_in_channel' };
        const blocks = withBlockIds(json(a['blocks']));
        if (blocks.length > 50) return { ok: false, error: 'invalid_blocks', errors: ['must provide an array with no more than 50 items'] };
        const text = str(a['text']);
        if (text === '' && blocks.length === 0) return { ok: false, error: 'no_text' };
        const ts = this.nextTs();
        const m: PostedMessage = { via: method, channel, ts, text, blocks, updates: [] };
        if (a['thread_ts'] !== undefined) m.thread_ts = str(a['thread_ts']);
        if (method === 'chat.postEphemeral') {
          m.user = str(a['user']);
          this.messages.push(m);
          return { ok: true, message_ts: ts };
        }
        this.messages.push(m);
        return { ok: true, channel, ts, message: { type: 'message', text, blocks, ts, bot_id: BOT.bot_id, user: BOT.user_id } };
      }
      case 'chat.update': {
        const m = this.messages.find((x) => x.channel === str(a['channel']) && x.ts === str(a['ts']) && x.via === 'chat.postMessage');
        if (!m) return { ok: false, error: 'message_not_found' };
        const blocks = withBlockIds(json(a['blocks']));
        m.updates.push({ text: str(a['text']), blocks });
        return { ok: true, channel: m.channel, ts: m.ts, text: str(a['text']) };
      }
      case 'files.getUploadURLExternal': {
        const length = Number(a['length']);
        const filename = str(a['filename']);
        if (!filename || !Number.isFinite(length) || length <= 0) return { ok: false, error: 'invalid_arguments' };
        const id = `F${String(++this.seq).padStart(8, '0')}`;
        const f: UploadedFile = { id, filename, length, completed: false };
        if (a['alt_text'] !== undefined) f.alt_text = str(a['alt_text']);
        this.files.push(f);
        return { ok: true, upload_url: `${this.state.baseUrl()}/upload/${id}`, file_id: id };
      }
      case 'files.completeUploadExternal': {
        const list = json(a['files']) as Array<{ id?: string; title?: string }>;
        const done: Array<Record<string, unknown>> = [];
        for (const item of list) {
          const f = this.files.find((x) => x.id === item.id);
          if (!f || f.bytes === undefined) return { ok: false, error: 'file_not_found' };
          f.completed = true;
          if (item.title !== undefined) f.title = item.title;
          if (a['channel_id'] !== undefined) f.channel_id = str(a['channel_id']);
          if (a['thread_ts'] !== undefined) f.thread_ts = str(a['thread_ts']);
          done.push({ id: f.id, name: f.filename, title: f.title ?? f.filename, mimetype: 'image/png', size: f.length });
        }
        return { ok: true, files: done };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  /** the upload URL: raw bytes or a multipart form with the file, like files.slack.com accepts */
  private async upload(id: string, req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
    const f = this.files.find((x) => x.id === id);
    this.calls.push({ method: `upload:${id}`, args: {}, at: Date.now(), status: f ? 200 : 404 });
    if (!f) {
      res.writeHead(404).end('no such upload');
      this.state.record();
      return;
    }
    const ct = req.headers['content-type'] ?? '';
    let bytes = raw;
    if (ct.startsWith('multipart/form-data')) {
      const form = await new Response(raw, { headers: { 'content-type': ct } }).formData();
      // lib has no DOM types: a non-string form value is a Blob (File)
      const part = [...form.values()].find((v) => typeof v !== 'string') as unknown as Blob | undefined;
      bytes = part ? Buffer.from(await part.arrayBuffer()) : Buffer.alloc(0);
    }
    f.bytes = bytes;
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`OK - ${bytes.length}`);
    this.state.record();
  }

  /** response_url: JSON with response_type, text and blocks */
  private respond(req: IncomingMessage, res: ServerResponse, raw: Buffer): void {
    const body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
    this.calls.push({ method: 'response_url', args: body, at: Date.now(), status: 200 });
    const m: PostedMessage = {
      via: 'response_url',
      channel: new URL(req.url ?? '/', 'http://fake').searchParams.get('channel') ?? '',
      ts: this.nextTs(),
      text: str(body['text']),
      blocks: withBlockIds(Array.isArray(body['blocks']) ? (body['blocks'] as unknown[]) : []),
      updates: [],
    };
    if (body['response_type'] === 'ephemeral') m.user = 'response_url';
    this.messages.push(m);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    this.state.record();
  }

  /**
   * A slash command was acknowledged with `body` (JSON; empty means no message). As Slack does,
   * a body with text or blocks becomes the command's answer: in the channel for `in_channel`,
   * for the asker alone otherwise (ephemeral is Slack's default). A body Slack would refuse is
   * recorded as a failed call, not a message.
   */
  acknowledged(channel: string, user: string, raw: string): void {
    if (raw.trim() === '') return;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      this.calls.push({ method: 'ack', args: { raw }, at: Date.now(), status: 400 });
      return;
    }
    if (Object.keys(body).length === 0) return;
    const blocks = Array.isArray(body['blocks']) ? (body['blocks'] as unknown[]) : [];
    const type = body['response_type'] ?? 'ephemeral';
    const ok = (type === 'in_channel' || type === 'ephemeral') && blocks.length <= 50 && (str(body['text']) !== '' || blocks.length > 0);
    this.calls.push({ method: 'ack', args: body, at: Date.now(), status: ok ? 200 : 400 });
    if (ok) {
      const m: PostedMessage = { via: 'ack', channel, ts: this.nextTs(), text: str(body['text']), blocks: withBlockIds(blocks), updates: [] };
      if (type === 'ephemeral') m.user = user;
      this.messages.push(m);
    }
    this.state.record();
  }

  private nextTs(): string {
    const n = ++this.seq;
    return `${1_700_000_000 + n}.${String(n).padStart(6, '0')}`;
  }
}

async function parseArgs(req: IncomingMessage, raw: Buffer): Promise<Record<string, unknown>> {
  const ct = req.headers['content-type'] ?? '';
  if (ct.startsWith('application/json')) return JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
  if (ct.startsWith('multipart/form-data')) {
    const form = await new Response(raw, { headers: { 'content-type': ct } }).formData();
    return Object.fromEntries([...form.entries()].map(([k, v]) => [k, typeof v === 'string' ? v : '[file]']));
  }
  return Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}

function json(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (typeof v !== 'string' || v === '') return [];
  const parsed = JSON.parse(v) as unknown;
  return Array.isArray(parsed) ? parsed : [];
}

/** Slack gives every block a block_id when the app did not */
function withBlockIds(blocks: unknown[]): Array<Record<string, unknown>> {
  return blocks.map((b, i) => {
    const o = b as Record<string, unknown>;
    return typeof o['block_id'] === 'string' ? o : { ...o, block_id: `blk${i}_${Math.random().toString(36).slice(2, 7)}` };
  });
}
