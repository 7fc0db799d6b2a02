import type { Update } from 'telegraf/types';
import type { IncomingMessage } from '../../kernel/commands/dispatcher.js';

export const PLATFORM = 'telegram';

/** Where a reply goes: the chat, the forum topic, and the message it answers. */
export interface ReplyTarget {
  chatId: string;
  threadId?: string;
  replyTo?: number;
  /** groups see every reply: answering the command's message says whom it is for */
  group: boolean;
}

export type Inbound =
  | { kind: 'message'; msg: IncomingMessage; target: ReplyTarget }
  | { kind: 'button'; queryId: string; data: string; from: { id: string; name?: string }; target: ReplyTarget | null }
  | { kind: 'ignore'; why: string };

/**
 * What an update means to the desk. In a private chat every text is for the bot (a bare "yes"
 * confirms); in a group only commands are, and `/cmd@otherbot` is someone else's.
 * The message id is chat-scoped in Telegram, so the dedupe id is "chat:message" (stable when
 * Telegram delivers the same update again).
 */
export function readUpdate(update: Update, botUsername: string): Inbound {
  if ('message' in update) {
    const m = update.message;
    if (!('text' in m)) return { kind: 'ignore', why: 'not a text message' };
    if (m.from === undefined || m.from.is_bot) return { kind: 'ignore', why: 'not from a person' };
    const isPrivate = m.chat.type === 'private';
    const text = m.text;
    if (!isPrivate) {
      if (!text.startsWith('/')) return { kind: 'ignore', why: 'group chatter, not a command' };
      const addressed = /^\/[^\s@]+@(\S+)/.exec(text)?.[1];
      if (addressed !== undefined && addressed.toLowerCase() !== botUsername.toLowerCase()) return { kind: 'ignore', why: 'a command for another bot' };
    }
    const chatId = String(m.chat.id);
    const threadId = m.is_topic_message === true && m.message_thread_id !== undefined ? String(m.message_thread_id) : undefined;
    const msg: IncomingMessage = { platform: PLATFORM, id: `${chatId}:${m.message_id}`, userId: String(m.from.id), channelId: chatId, text };
    const name = m.from.username ?? m.from.first_name;
    if (name) msg.userName = name;
    if (threadId !== undefined) msg.threadId = threadId;
    const target: ReplyTarget = { chatId, replyTo: m.message_id, group: !isPrivate };
    if (threadId !== undefined) target.threadId = threadId;
    return { kind: 'message', msg, target };
  }
  if ('callback_query' in update) {
    const q = update.callback_query;
    const data = 'data' in q ? q.data : undefined;
    if (data === undefined) return { kind: 'ignore', why: 'a game button' };
    const from: { id: string; name?: string } = { id: String(q.from.id) };
    const name = q.from.username ?? q.from.first_name;
    if (name) from.name = name;
    // no message: a button on an inline-mode message, which the desk never sends
    let target: ReplyTarget | null = null;
    if (q.message !== undefined) {
      const chat = q.message.chat;
      target = { chatId: String(chat.id), replyTo: q.message.message_id, group: chat.type !== 'private' };
      const thread = 'is_topic_message' in q.message && q.message.is_topic_message === true ? q.message.message_thread_id : undefined;
      if (thread !== undefined) target.threadId = String(thread);
    }
    return { kind: 'button', queryId: q.id, data, from, target };
  }
  return { kind: 'ignore', why: 'an update kind the desk does not take' };
}

/** A button press as the kernel sees it: the button's command, sent by whoever pressed it. */
export function pressAsMessage(press: Extract<Inbound, { kind: 'button' }>, command: string, target: ReplyTarget): IncomingMessage {
  const msg: IncomingMessage = { platform: PLATFORM, id: `cb:${press.queryId}`, userId: press.from.id, channelId: target.chatId, text: command };
  if (press.from.name !== undefined) msg.userName = press.from.name;
  if (target.threadId !== undefined) msg.threadId = target.threadId;
  return msg;
}
