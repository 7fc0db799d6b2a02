import { EventEmitter } from 'node:events';
import type { FakeChannel, FakeGuild, FakeUser, StoredMessage } from './payloads.js';

/** One HTTP request the bot made, as the fake received it. */
export interface RecordedRequest {
  seq: number;
  /** Date.now() when it arrived */
  at: number;
  method: string;
  /** path after /api/v10, e.g. /channels/123/messages */
  path: string;
  query: Record<string, string>;
  /** the Authorization header was "Bot <the fake's token>" */
  botAuth: boolean;
  /** the JSON body (or payload_json of a multipart body) */
  body: unknown;
  files: Array<{ field: string; name: string; contentType: string; bytes: Uint8Array }>;
  /** the status the fake answered */
  status: number;
}

/** What the fake knows about one interaction it dispatched. */
export interface InteractionState {
  id: string;
  token: string;
  /** 2 command, 3 component, 4 autocomplete */
  type: number;
  channelId: string;
  payload: Record<string, unknown>;
  /** the first callback's type (4 reply, 5 defer, 6 deferred update, 7 update, 8 autocomplete), null until answered */
  callbackType: number | null;
  callbackData?: Record<string, unknown>;
  /** the message "@original" means for webhook edits */
  originalMessageId?: string;
  /** for component interactions: the message the button is on */
  componentMessageId?: string;
}

/** A fault the next matching requests get instead of their answer. */
export interface Fault {
  method?: string;
  path: RegExp;
  status: number;
  /** how many matching requests get it */
  times: number;
  /** seconds, for 429 (header Retry-After and body retry_after) */
  retryAfter?: number;
  global?: boolean;
}

/** The fake's world: who exists, what was registered, sent and answered. Shared by REST and gateway. */
export class FakeState {
  readonly events = new EventEmitter();
  readonly requests: RecordedRequest[] = [];
  readonly messages: StoredMessage[] = [];
  readonly interactions = new Map<string, InteractionState>();
  readonly channels = new Map<string, FakeChannel>();
  readonly users = new Map<string, FakeUser>();
  readonly faults: Fault[] = [];
  globalCommands: Array<Record<string, unknown>> = [];
  readonly guildCommands = new Map<string, Array<Record<string, unknown>>>();

  constructor(
    readonly token: string,
    readonly appId: string,
    readonly bot: FakeUser,
    readonly guilds: FakeGuild[],
  ) {
    for (const g of guilds) for (const c of g.channels) this.channels.set(c.id, c);
  }

  /** wakes every waitFor after any change */
  changed(): void {
    this.events.emit('change');
  }

  takeFault(method: string, path: string): Fault | undefined {
    const f = this.faults.find((x) => x.times > 0 && (x.method === undefined || x.method === method) && x.path.test(path));
    if (f) f.times--;
    return f;
  }

  interactionByToken(token: string): InteractionState | undefined {
    for (const i of this.interactions.values()) if (i.token === token) return i;
    return undefined;
  }

  message(id: string): StoredMessage | undefined {
    return this.messages.find((m) => m.id === id);
  }
}
