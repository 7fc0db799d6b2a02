import { type RespondArguments, type RespondFn, webApi } from '@slack/bolt';
import type { Reply } from '../../kernel/index.js';
import { escapeMrkdwn } from './mrkdwn.js';
import { renderReply, type SlackMessagePart } from './render.js';

/** Where a reply goes: a channel (and thread); for replies to a person, who asked and how to answer them. */
export interface Destination {
  channel: string;
  threadTs?: string;
  /** the asker: `private` replies go to them alone (chat.postEphemeral) */
  user?: string;
  /**
   * the request's response_url (slash commands, button presses): used when the bot cannot post
   * in the channel itself (not a member, a DM it has no access to), which response_url always can
   */
  respond?: RespondFn;
}

/** Platform errors that mean "not allowed to post here", where response_url still works. */
const NO_ACCESS = new Set(['not_in_channel', 'channel_not_found', 'is_archived', 'restricted_action', 'cannot_dm_bot', 'messages_tab_disabled']);

/**
 * Sends a Reply through Bolt's WebClient. Retries (429 after Retry-After, 5xx with backoff) are
 * the WebClient's own, configured by the adapter; a failure that survives them is thrown.
 */
export class SlackSender {
  constructor(private readonly client: webApi.WebClient) {}

  async send(to: Destination, reply: Reply): Promise<void> {
    const ephemeral = reply.private === true && to.user !== undefined;
    for (const part of renderReply(reply)) {
      if (part.kind === 'message') {
        await this.message(to, part, ephemeral);
      } else if (ephemeral) {
        // files cannot be ephemeral; a private reply's image would be shown to the whole channel
        const note = `(${escapeMrkdwn(part.alt)}: images are not shown in a private reply)`;
        await this.message(to, { kind: 'message', text: note, blocks: [{ type: 'context', elements: [{ type: 'mrkdwn', text: note }] }] }, true);
      } else {
        // filesUploadV2: files.getUploadURLExternal, the upload, files.completeUploadExternal shares it
        const file = { file: Buffer.from(part.png), filename: part.filename, title: part.alt, alt_text: part.alt };
        await this.client.filesUploadV2(
          to.threadTs !== undefined ? { ...file, channel_id: to.channel, thread_ts: to.threadTs } : { ...file, channel_id: to.channel },
        );
      }
    }
  }

  private async message(to: Destination, part: SlackMessagePart, ephemeral: boolean): Promise<void> {
    const thread = to.threadTs !== undefined ? { thread_ts: to.threadTs } : {};
    try {
      if (ephemeral && to.user !== undefined) {
        await this.client.chat.postEphemeral({ channel: to.channel, user: to.user, text: part.text, blocks: part.blocks, ...thread });
      } else {
        await this.client.chat.postMessage({ channel: to.channel, text: part.text, blocks: part.blocks, unfurl_links: false, unfurl_media: false, ...thread });
      }
    } catch (err) {
      const code = platformError(err);
      if (to.respond === undefined || code === undefined || !NO_ACCESS.has(code)) throw err;
      await to.respond({ response_type: ephemeral ? 'ephemeral' : 'in_channel', replace_original: false, text: part.text, blocks: part.blocks, ...thread });
    }
  }
}

/** A slash command's acknowledgement carrying the reply: Slack shows it as the command's answer. */
export type AckMessage = RespondArguments & { response_type: 'in_channel' | 'ephemeral'; text: string };

/**
 * The reply as an acknowledgement's message, or null when it cannot be one: an image (an
 * upload), several messages, or buttons (posted, so the press can retire them with chat.update).
 * A private reply is ephemeral: only the asker sees it, as with chat.postEphemeral.
 */
export function ackMessage(reply: Reply): AckMessage | null {
  const parts = renderReply(reply);
  const only = parts[0];
  if (parts.length !== 1 || only === undefined || only.kind !== 'message') return null;
  if (only.blocks.some((b) => b.type === 'actions')) return null;
  return { response_type: reply.private === true ? 'ephemeral' : 'in_channel', text: only.text, blocks: only.blocks };
}

/** The Web API's error code ("not_in_channel", "invalid_auth") of a failed call, if it was one. */
export function platformError(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === webApi.ErrorCode.PlatformError) {
    const e = (err as { data?: { error?: unknown } }).data?.error;
    return typeof e === 'string' ? e : undefined;
  }
  return undefined;
}
