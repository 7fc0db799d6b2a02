import type { BlockAction, ButtonAction, SlashCommand } from '@slack/bolt';
import type { IncomingMessage } from '../../kernel/commands/dispatcher.js';
import { deskCommandName } from './manifest.js';
import { mentionCommand, unescapeSlack } from './mrkdwn.js';

/**
 * Slack's three ways in, as the kernel's IncomingMessage. Each id is one Slack keeps when it
 * delivers the same thing again (an Events API retry keeps event_id; a replayed request keeps
 * trigger_id), so the kernel's dedupe runs a redelivery once. The prefixes keep the id spaces apart.
 */

export function fromSlashCommand(c: SlashCommand): IncomingMessage {
  const args = unescapeSlack(c.text ?? '').trim();
  return {
    platform: 'slack',
    id: `cmd:${c.trigger_id}`,
    userId: c.user_id,
    userName: c.user_name,
    channelId: c.channel_id,
    text: args === '' ? deskCommandName(c.command) : `${deskCommandName(c.command)} ${args}`,
  };
}

/** The subset of an app_mention event used here (Bolt's event types are a wide union). */
export interface MentionEvent {
  user?: string;
  text: string;
  channel: string;
  ts: string;
  thread_ts?: string;
}

/** "@deskbot /price btc" or "@deskbot price btc"; in a thread, the thread is kept for the reply. */
export function fromMention(e: MentionEvent, eventId: string, botUserId: string | undefined): IncomingMessage {
  return {
    platform: 'slack',
    id: `evt:${eventId}`,
    userId: e.user ?? '',
    channelId: e.channel,
    ...(e.thread_ts !== undefined ? { threadId: e.thread_ts } : {}),
    text: mentionCommand(e.text, botUserId),
  };
}

/** A button press: its value is the command, run as the person who pressed it. */
export function fromButton(body: BlockAction, action: ButtonAction): IncomingMessage {
  const thread = threadOf(body);
  return {
    platform: 'slack',
    // trigger_id is new for every press, the same if Slack sends the same press again
    id: `act:${body.trigger_id || `${action.action_ts}:${body.user.id}`}`,
    userId: body.user.id,
    userName: body.user.username ?? body.user.name ?? body.user.id,
    channelId: channelOf(body) ?? '',
    ...(thread !== undefined ? { threadId: thread } : {}),
    text: action.value ?? '',
  };
}

export function channelOf(body: BlockAction): string | undefined {
  const fromContainer = body.container['channel_id'];
  return body.channel?.id ?? (typeof fromContainer === 'string' ? fromContainer : undefined);
}

export function threadOf(body: BlockAction): string | undefined {
  const t = body.message?.['thread_ts'] ?? body.container['thread_ts'];
  return typeof t === 'string' ? t : undefined;
}
