import type { Entity } from './html.js';
import { UpdateQueue } from './updates.js';

export interface FakeChat {
  id: number;
  type: 'private' | 'group' | 'supergroup' | 'channel';
  title?: string;
  /** a supergroup with topics: messages may carry message_thread_id */
  is_forum?: boolean;
}

export interface FakeUser {
  id: number;
  first_name: string;
  username?: string;
  is_bot?: boolean;
}

export type InlineKeyboard = Array<Array<{ text: string; callback_data?: string }>>;

/** What the bot sent, as Telegram understood it. */
export interface SentMessage {
  method: 'sendMessage' | 'sendPhoto' | 'sendDocument';
  chatId: number;
  messageId: number;
  threadId?: number;
  replyTo?: number;
  parseMode?: string;
  /** the text or caption exactly as sent (HTML in HTML mode) */
  raw: string;
  /** what the person sees: entities parsed, HTML entities decoded */
  text: string;
  entities: Entity[];
  keyboard?: InlineKeyboard;
  file?: { field: string; filename: string; bytes: Buffer };
  /** the Message object Telegram returned (and puts in a callback query) */
  message: Record<string, unknown>;
}

export interface CallbackAnswer {
  id: string;
  text?: string;
  showAlert: boolean;
}

/** Everything the fake Bot API remembers for one bot. */
export class FakeState {
  readonly updates = new UpdateQueue();
  readonly chats = new Map<number, FakeChat>();
  readonly sent: SentMessage[] = [];
  readonly answers: CallbackAnswer[] = [];
  /** callback query ids handed to the bot → answered yet */
  readonly queries = new Map<string, boolean>();
  commands: Array<{ command: string; description: string }> | undefined;
  webhook: { url: string; secretToken?: string; allowedUpdates?: string[] } | null = null;
  private readonly lastMessageId = new Map<number, number>();
  private nextQuery = 4_000_000_001;

  constructor(readonly bot: Required<FakeUser>) {}

  addChat(chat: FakeChat): FakeChat {
    const known = this.chats.get(chat.id);
    if (known) return known;
    this.chats.set(chat.id, chat);
    return chat;
  }

  /** message ids count up per chat, shared by people and the bot (as on Telegram) */
  nextMessageId(chatId: number): number {
    const n = (this.lastMessageId.get(chatId) ?? 0) + 1;
    this.lastMessageId.set(chatId, n);
    return n;
  }

  newQueryId(): string {
    const id = String(this.nextQuery++);
    this.queries.set(id, false);
    return id;
  }
}
