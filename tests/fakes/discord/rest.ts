import type { IncomingMessage, ServerResponse } from 'node:http';
import { EPHEMERAL, channelObject, messageObject, snowflake, userObject, type StoredAttachment, type StoredMessage } from './payloads.js';
import type { FakeState, RecordedRequest } from './state.js';
import { commandProblems, messageProblems } from './validate.js';

/**
 * The fake Discord REST API (v10) under /api/v10: the routes discord.js uses for a bot that
 * answers interactions and posts to channels. Bot routes need "Authorization: Bot <token>";
 * interaction callbacks and interaction webhooks are authorised by the interaction token in the
 * URL (discord.js sends them without the bot token, as Discord expects). Every request is
 * recorded; faults (429 with Retry-After, 5xx) are served before routing.
 */

type Json = Record<string, unknown>;

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const PREFIX = '/api/v10';

const err = (status: number, code: number, message: string, extra: Json = {}): Answer => ({ status, body: { message, code, ...extra } });
const NOT_FOUND: Answer = err(404, 0, '404: Not Found');

export function restHandler(state: FakeState, baseUrl: () => string): (req: IncomingMessage, res: ServerResponse) => void {
  let seq = 0;
  return (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const raw = await readBody(req);
      const record: RecordedRequest = {
        seq: ++seq,
        at: Date.now(),
        method: req.method ?? 'GET',
        // decoded: discord.js sends "@original" as %40original
        path: decodeURIComponent(url.pathname.startsWith(PREFIX) ? url.pathname.slice(PREFIX.length) : url.pathname),
        query: Object.fromEntries(url.searchParams),
        botAuth: req.headers.authorization === `Bot ${state.token}`,
        body: undefined,
        files: [],
        status: 0,
      };
      let answer: Answer;
      try {
        await parseBody(req.headers['content-type'] ?? '', raw, record);
        answer = url.pathname.startsWith(PREFIX) ? route(state, record, baseUrl()) : NOT_FOUND;
      } catch (e) {
        answer = err(400, 50109, `The request body contains invalid JSON. (${e instanceof Error ? e.message : String(e)})`);
      }
      record.status = answer.status;
      state.requests.push(record);
      const headers: Record<string, string> = { ...(answer.headers ?? {}) };
      if (answer.body !== undefined) headers['content-type'] = 'application/json';
      res.writeHead(answer.status, headers);
      res.end(answer.body === undefined ? undefined : JSON.stringify(answer.body));
      state.changed();
    })();
  };
}

function route(state: FakeState, r: RecordedRequest, baseUrl: string): Answer {
  const fault = state.takeFault(r.method, r.path);
  if (fault) return faultAnswer(fault.status, fault.retryAfter ?? 1, fault.global ?? false);

  const parts = r.path.split('/').filter(Boolean);
  const m = (method: string, ...pattern: string[]): string[] | null => {
    if (r.method !== method || parts.length !== pattern.length) return null;
    const params: string[] = [];
    for (let i = 0; i < pattern.length; i++) {
      const p = pattern[i] as string;
      const v = parts[i] as string;
      if (p === '*') params.push(v);
      else if (p !== v) return null;
    }
    return params;
  };
  const body = (r.body ?? {}) as Json;
  let p: string[] | null;

  // interaction routes: authorised by their token, not the bot token
  if ((p = m('POST', 'interactions', '*', '*', 'callback'))) return interactionCallback(state, p[0] as string, p[1] as string, body, r);
  if ((p = m('POST', 'webhooks', '*', '*'))) return followUp(state, p[0] as string, p[1] as string, body, r, baseUrl);
  if ((p = m('PATCH', 'webhooks', '*', '*', 'messages', '*'))) return editWebhookMessage(state, p[0] as string, p[1] as string, p[2] as string, body, r, baseUrl);
  if ((p = m('GET', 'webhooks', '*', '*', 'messages', '*'))) {
    const target = webhookTarget(state, p[0] as string, p[1] as string, p[2] as string);
    return 'status' in target ? target : ok(messageObject(target, state.bot, state.appId, baseUrl));
  }
  if ((p = m('DELETE', 'webhooks', '*', '*', 'messages', '*'))) {
    const target = webhookTarget(state, p[0] as string, p[1] as string, p[2] as string);
    if ('status' in target) return target;
    target.deleted = true;
    return { status: 204 };
  }

  if (!r.botAuth) return err(401, 0, '401: Unauthorized');

  if (m('GET', 'gateway', 'bot')) {
    return ok({ url: gatewayBase(baseUrl), shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 } });
  }
  if (m('GET', 'users', '@me')) return ok(userObject(state.bot));
  if (m('GET', 'applications', '@me')) return ok({ id: state.appId, name: state.bot.username, flags: 0, bot_public: false, bot_require_code_grant: false, description: '', verify_key: '0' });
  if ((p = m('PUT', 'applications', '*', 'commands'))) return putCommands(state, p[0] as string, undefined, r.body);
  if ((p = m('PUT', 'applications', '*', 'guilds', '*', 'commands'))) return putCommands(state, p[0] as string, p[1] as string, r.body);
  if ((p = m('GET', 'applications', '*', 'commands'))) return ok(state.globalCommands);
  if ((p = m('GET', 'applications', '*', 'guilds', '*', 'commands'))) return ok(state.guildCommands.get(p[1] as string) ?? []);
  if ((p = m('GET', 'channels', '*'))) {
    const c = state.channels.get(p[0] as string);
    return c ? ok(channelObject(c)) : err(404, 10003, 'Unknown Channel');
  }
  if ((p = m('POST', 'channels', '*', 'messages'))) {
    const c = state.channels.get(p[0] as string);
    if (!c) return err(404, 10003, 'Unknown Channel');
    return createMessage(state, c.id, body, r, baseUrl, undefined);
  }
  if ((p = m('POST', 'users', '@me', 'channels'))) {
    const id = String(body.recipient_id ?? '');
    if (!/^\d+$/.test(id)) return err(400, 50035, 'Invalid Form Body', { errors: { recipient_id: 'expected a snowflake' } });
    const user = state.users.get(id) ?? { id, username: `user${id.slice(-4)}` };
    state.users.set(id, user);
    let dm = [...state.channels.values()].find((c) => c.type === 1 && c.recipient?.id === id);
    if (!dm) {
      dm = { id: snowflake(), type: 1, recipient: user };
      state.channels.set(dm.id, dm);
    }
    return ok(channelObject(dm));
  }
  return NOT_FOUND;
}

function ok(body: unknown): Answer {
  return { status: 200, body };
}

function gatewayBase(baseUrl: string): string {
  return `${baseUrl.replace(/^http/, 'ws')}/gateway`;
}

function faultAnswer(status: number, retryAfter: number, global: boolean): Answer {
  if (status !== 429) return { status, body: { message: status === 502 ? '502: Bad Gateway' : '500: Internal Server Error', code: 0 } };
  return {
    status: 429,
    headers: {
      'retry-after': String(retryAfter),
      'x-ratelimit-limit': '5',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': String(Date.now() / 1000 + retryAfter),
      'x-ratelimit-reset-after': String(retryAfter),
      'x-ratelimit-bucket': 'fake-bucket',
      'x-ratelimit-scope': global ? 'global' : 'user',
      ...(global ? { 'x-ratelimit-global': 'true' } : {}),
    },
    body: { message: 'You are being rate limited.', retry_after: retryAfter, global },
  };
}

function putCommands(state: FakeState, appId: string, guildId: string | undefined, body: unknown): Answer {
  if (appId !== state.appId) return err(403, 50001, 'Missing Access');
  if (guildId !== undefined && !state.guilds.some((g) => g.id === guildId)) return err(403, 50001, 'Missing Access');
  const problems = commandProblems(body);
  if (problems.length > 0) return err(400, 50035, 'Invalid Form Body', { errors: problems });
  const saved = (body as Json[]).map((c) => ({
    id: snowflake(),
    application_id: state.appId,
    version: snowflake(),
    type: 1,
    default_member_permissions: null,
    nsfw: false,
    ...(guildId === undefined ? {} : { guild_id: guildId }),
    ...c,
    options: (c.options as Json[] | undefined) ?? [],
  }));
  if (guildId === undefined) state.globalCommands = saved;
  else state.guildCommands.set(guildId, saved);
  return ok(saved);
}

function interactionCallback(state: FakeState, id: string, token: string, body: Json, r: RecordedRequest): Answer {
  const i = state.interactions.get(id);
  if (!i || i.token !== token) return err(404, 10062, 'Unknown interaction');
  if (i.callbackType !== null) return err(400, 40060, 'Interaction has already been acknowledged.');
  const type = Number(body.type);
  const data = (body.data ?? {}) as Json;
  const allowed = i.type === 4 ? [8] : i.type === 3 ? [4, 5, 6, 7] : [4, 5];
  if (!allowed.includes(type)) return err(400, 50035, 'Invalid Form Body', { errors: { type: `callback type ${type} is not valid for interaction type ${i.type}` } });
  if (type === 4 || type === 7) {
    const problems = messageProblems(data, r.files.length);
    if (problems.length > 0) return err(400, 50035, 'Invalid Form Body', { errors: problems });
  }
  i.callbackType = type;
  i.callbackData = data;
  if (type === 4) i.originalMessageId = store(state, i.channelId, data, r, i.id, false).id;
  else if (type === 5) i.originalMessageId = store(state, i.channelId, { flags: data.flags }, r, i.id, true).id;
  else if (type === 6 || type === 7) {
    i.originalMessageId = i.componentMessageId;
    const target = i.componentMessageId === undefined ? undefined : state.message(i.componentMessageId);
    if (type === 7 && target) applyEdit(target, data, r);
  }
  return { status: 204 };
}

function followUp(state: FakeState, appId: string, token: string, body: Json, r: RecordedRequest, baseUrl: string): Answer {
  const i = state.interactionByToken(token);
  if (appId !== state.appId || !i) return err(404, 10015, 'Unknown Webhook');
  if (i.callbackType === null) return err(400, 40060, 'Interaction has not been acknowledged.');
  return createMessage(state, i.channelId, body, r, baseUrl, i.id);
}

function webhookTarget(state: FakeState, appId: string, token: string, messageId: string): StoredMessage | Answer {
  const i = state.interactionByToken(token);
  if (appId !== state.appId || !i) return err(404, 10015, 'Unknown Webhook');
  const id = messageId === '@original' ? i.originalMessageId : messageId;
  const msg = id === undefined ? undefined : state.message(id);
  if (!msg || msg.deleted) return err(404, 10008, 'Unknown Message');
  return msg;
}

function editWebhookMessage(state: FakeState, appId: string, token: string, messageId: string, body: Json, r: RecordedRequest, baseUrl: string): Answer {
  const target = webhookTarget(state, appId, token, messageId);
  if ('status' in target) return target;
  const merged = { content: body.content ?? target.content, embeds: body.embeds ?? target.embeds, components: body.components ?? target.components };
  const problems = messageProblems(merged, r.files.length);
  if (problems.length > 0) return err(400, 50035, 'Invalid Form Body', { errors: problems });
  applyEdit(target, body, r);
  return ok(messageObject(target, state.bot, state.appId, baseUrl));
}

function createMessage(state: FakeState, channelId: string, data: Json, r: RecordedRequest, baseUrl: string, interactionId: string | undefined): Answer {
  const problems = messageProblems(data, r.files.length);
  if (problems.length > 0) return err(400, 50035, 'Invalid Form Body', { errors: problems });
  const hasSomething = Boolean(data.content) || (data.embeds as unknown[] | undefined)?.length || (data.components as unknown[] | undefined)?.length || r.files.length > 0;
  if (!hasSomething) return err(400, 50006, 'Cannot send an empty message');
  return ok(messageObject(store(state, channelId, data, r, interactionId, false), state.bot, state.appId, baseUrl));
}

function store(state: FakeState, channelId: string, data: Json, r: RecordedRequest, interactionId: string | undefined, loading: boolean): StoredMessage {
  const msg: StoredMessage = {
    id: snowflake(),
    channelId,
    content: typeof data.content === 'string' ? data.content : '',
    embeds: (data.embeds as Json[] | undefined) ?? [],
    components: (data.components as Json[] | undefined) ?? [],
    attachments: attachments(data, r),
    flags: Number(data.flags ?? 0) & EPHEMERAL,
    loading,
    deleted: false,
    edits: 0,
    ...(interactionId === undefined ? {} : { interactionId }),
  };
  state.messages.push(msg);
  return msg;
}

function applyEdit(target: StoredMessage, data: Json, r: RecordedRequest): void {
  if (typeof data.content === 'string') target.content = data.content;
  if (Array.isArray(data.embeds)) target.embeds = data.embeds as Json[];
  if (Array.isArray(data.components)) target.components = data.components as Json[];
  if (Array.isArray(data.attachments) || r.files.length > 0) {
    const keep = new Set(((data.attachments as Json[] | undefined) ?? []).map((a) => String(a.id)));
    target.attachments = [...target.attachments.filter((a) => keep.has(a.id)), ...attachments(data, r)];
  }
  target.loading = false;
  target.edits++;
}

/** Uploaded files become attachments; `attachments[i].id` in the JSON names the form field files[i]. */
function attachments(data: Json, r: RecordedRequest): StoredAttachment[] {
  const meta = (data.attachments as Json[] | undefined) ?? [];
  return r.files.map((f, index) => {
    const n = /^files\[(\d+)\]$/.exec(f.field)?.[1];
    const described = meta.find((a) => String(a.id) === (n ?? String(index)));
    const a: StoredAttachment = { id: snowflake(), filename: f.name, content_type: f.contentType, size: f.bytes.length, bytes: f.bytes };
    if (typeof described?.description === 'string') a.description = described.description;
    return a;
  });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** JSON, or multipart/form-data with payload_json and files[n] (how discord.js uploads attachments). */
async function parseBody(contentType: string, raw: Buffer, record: RecordedRequest): Promise<void> {
  if (raw.length === 0) return;
  if (contentType.startsWith('multipart/form-data')) {
    const form = await new Request('http://fake/upload', { method: 'POST', headers: { 'content-type': contentType }, body: raw }).formData();
    for (const [field, value] of form.entries()) {
      if (field === 'payload_json' && typeof value === 'string') record.body = JSON.parse(value);
      else if (typeof value !== 'string') {
        record.files.push({ field, name: value.name, contentType: value.type, bytes: new Uint8Array(await value.arrayBuffer()) });
      }
    }
    return;
  }
  record.body = JSON.parse(raw.toString('utf8'));
}
