import { parseTelegramHtml, type Entity } from './html.js';
import type { Part } from './multipart.js';
import type { FakeChat, FakeState, InlineKeyboard, SentMessage } from './state.js';

/** A Bot API error answer: {ok:false, error_code, description[, parameters]}. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly parameters?: { retry_after?: number },
  ) {
    super(description);
  }
}

export type Params = Record<string, unknown>;
export type Handler = (p: Params, files: Map<string, Part>, gone: AbortSignal) => unknown;

const TEXT_LIMIT = 4096;
const CAPTION_LIMIT = 1024;
const SECRET_TOKEN = /^[A-Za-z0-9_-]{1,256}$/;
const COMMAND = /^[a-z0-9_]{1,32}$/;

const bad = (what: string): ApiError => new ApiError(400, `Bad Request: ${what}`);

/** The Bot API methods the desk uses, with Telegram's validation where a mistake would show. */
export function botApi(s: FakeState): Record<string, Handler> {
  const chatOf = (p: Params): FakeChat => {
    const raw = p.chat_id;
    if (raw === undefined || raw === '') throw bad('chat_id is empty');
    const id = Number(raw);
    const chat = Number.isFinite(id) ? s.chats.get(id) : undefined;
    if (chat === undefined) throw bad('chat not found');
    return chat;
  };

  const threadOf = (chat: FakeChat, p: Params): number | undefined => {
    if (p.message_thread_id === undefined) return undefined;
    if (chat.is_forum !== true) throw bad('message thread not found');
    return Number(p.message_thread_id);
  };

  const keyboardOf = (p: Params): InlineKeyboard | undefined => {
    const markup = json(p.reply_markup) as { inline_keyboard?: InlineKeyboard } | undefined;
    const rows = markup?.inline_keyboard;
    if (rows === undefined) return undefined;
    for (const row of rows) {
      for (const b of row) {
        if (!b.text) throw bad('BUTTON_TEXT_EMPTY');
        if (b.callback_data !== undefined && (b.callback_data === '' || Buffer.byteLength(b.callback_data, 'utf8') > 64)) throw bad('BUTTON_DATA_INVALID');
      }
    }
    return rows;
  };

  const formatted = (text: string, mode: unknown): { text: string; entities: Entity[] } => {
    if (typeof mode === 'string' && mode.toLowerCase() === 'html') {
      const parsed = parseTelegramHtml(text);
      if (!parsed.ok) throw new ApiError(400, parsed.error);
      return { text: parsed.text, entities: parsed.entities };
    }
    if (mode !== undefined) throw bad(`unsupported parse_mode in this fake: ${String(mode)}`);
    return { text, entities: [] };
  };

  const record = (method: SentMessage['method'], chat: FakeChat, p: Params, body: { text: string; entities: Entity[]; raw: string }, extra: Record<string, unknown>, file?: SentMessage['file']): Record<string, unknown> => {
    const threadId = threadOf(chat, p);
    const keyboard = keyboardOf(p);
    const replyTo = (json(p.reply_parameters) as { message_id?: number } | undefined)?.message_id;
    const messageId = s.nextMessageId(chat.id);
    const message: Record<string, unknown> = {
      message_id: messageId,
      from: s.bot,
      date: Math.floor(Date.now() / 1000),
      chat: { ...chat },
      ...(threadId !== undefined ? { message_thread_id: threadId, is_topic_message: true } : {}),
      ...extra,
      ...(keyboard ? { reply_markup: { inline_keyboard: keyboard } } : {}),
    };
    const sent: SentMessage = { method, chatId: chat.id, messageId, raw: body.raw, text: body.text, entities: body.entities, message };
    if (threadId !== undefined) sent.threadId = threadId;
    if (replyTo !== undefined) sent.replyTo = replyTo;
    if (typeof p.parse_mode === 'string') sent.parseMode = p.parse_mode;
    if (keyboard) sent.keyboard = keyboard;
    if (file) sent.file = file;
    s.sent.push(sent);
    return message;
  };

  const upload = (method: 'sendPhoto' | 'sendDocument', field: 'photo' | 'document') => (p: Params, files: Map<string, Part>) => {
    const chat = chatOf(p);
    const part = files.get(field);
    if (part === undefined) throw bad(`there is no ${field} in the request`);
    if (part.data.length === 0) throw bad('file must be non-empty');
    if (method === 'sendPhoto') {
      if (part.data.length > 10 * 1024 * 1024) throw bad('PHOTO_TOO_BIG');
      const size = pngSize(part.data);
      if (size === undefined) throw bad('IMAGE_PROCESS_FAILED');
      if (size.width + size.height > 10_000 || Math.max(size.width, size.height) / Math.min(size.width, size.height) > 20) throw bad('PHOTO_INVALID_DIMENSIONS');
    }
    const rawCaption = typeof p.caption === 'string' ? p.caption : '';
    const caption = formatted(rawCaption, rawCaption === '' ? undefined : p.parse_mode);
    if (caption.text.length > CAPTION_LIMIT) throw bad('message caption is too long');
    const fileId = `file-${s.sent.length + 1}`;
    const media =
      method === 'sendPhoto'
        ? { photo: [{ file_id: fileId, file_unique_id: `u${fileId}`, width: pngSize(part.data)?.width ?? 0, height: pngSize(part.data)?.height ?? 0, file_size: part.data.length }] }
        : { document: { file_id: fileId, file_unique_id: `u${fileId}`, file_name: part.filename, file_size: part.data.length } };
    return record(
      method,
      chat,
      p,
      { text: caption.text, entities: caption.entities, raw: rawCaption },
      { ...media, ...(caption.text ? { caption: caption.text, caption_entities: caption.entities } : {}) },
      { field, filename: part.filename ?? '', bytes: part.data },
    );
  };

  return {
    getMe: () => s.bot,
    logOut: () => true,
    getUpdates: async (p, _files, gone) => {
      if (s.webhook !== null) throw new ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
      return s.updates.take(Number(p.offset ?? 0), Number(p.limit ?? 100), Number(p.timeout ?? 0), gone);
    },
    setWebhook: (p) => {
      const url = String(p.url ?? '');
      if (url === '') {
        s.webhook = null;
        return true;
      }
      if (!url.startsWith('https://')) throw bad('bad webhook: An HTTPS URL must be provided for webhook');
      const secret = p.secret_token;
      if (secret !== undefined && (typeof secret !== 'string' || !SECRET_TOKEN.test(secret))) throw bad('bad webhook: secret token contains unallowed characters');
      s.webhook = { url, ...(typeof secret === 'string' ? { secretToken: secret } : {}), ...(Array.isArray(json(p.allowed_updates)) ? { allowedUpdates: json(p.allowed_updates) as string[] } : {}) };
      if (p.drop_pending_updates === true || p.drop_pending_updates === 'true') s.updates.clear();
      return true;
    },
    deleteWebhook: (p) => {
      s.webhook = null;
      if (p.drop_pending_updates === true || p.drop_pending_updates === 'true') s.updates.clear();
      return true;
    },
    getWebhookInfo: () => ({ url: s.webhook?.url ?? '', has_custom_certificate: false, pending_update_count: s.updates.pending() }),
    setMyCommands: (p) => {
      const commands = json(p.commands) as Array<{ command: string; description: string }> | undefined;
      if (!Array.isArray(commands)) throw bad('parameter "commands" is required');
      if (commands.length > 100) throw bad('BOT_COMMANDS_TOO_MUCH');
      for (const c of commands) {
        if (!COMMAND.test(c.command)) throw bad('BOT_COMMAND_INVALID');
        if (typeof c.description !== 'string' || c.description.length < 1 || c.description.length > 256) throw bad('BOT_COMMAND_DESCRIPTION_INVALID');
      }
      s.commands = commands;
      return true;
    },
    getMyCommands: () => s.commands ?? [],
    sendMessage: (p) => {
      const chat = chatOf(p);
      const raw = typeof p.text === 'string' ? p.text : '';
      const body = formatted(raw, p.parse_mode);
      if (body.text.trim() === '') throw bad('message text is empty');
      if (body.text.length > TEXT_LIMIT) throw bad('message is too long');
      return record('sendMessage', chat, p, { ...body, raw }, { text: body.text, ...(body.entities.length > 0 ? { entities: body.entities } : {}) });
    },
    sendPhoto: upload('sendPhoto', 'photo'),
    sendDocument: upload('sendDocument', 'document'),
    answerCallbackQuery: (p) => {
      const id = String(p.callback_query_id ?? '');
      if (s.queries.get(id) !== false) throw bad('query is too old and response timeout expired or query ID is invalid');
      s.queries.set(id, true);
      const answer = { id, showAlert: p.show_alert === true || p.show_alert === 'true', ...(typeof p.text === 'string' ? { text: p.text } : {}) };
      s.answers.push(answer);
      return true;
    },
  };
}

/** JSON fields arrive parsed (a JSON body) or as strings (a multipart form) */
function json(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return undefined;
  }
}

function pngSize(b: Buffer): { width: number; height: number } | undefined {
  if (b.length < 24 || b.readUInt32BE(0) !== 0x89504e47 || b.subarray(12, 16).toString('latin1') !== 'IHDR') return undefined;
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}
