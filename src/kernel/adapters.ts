import type { Logger } from 'pino';
import type { Channel } from './auth/principal.js';
import type { RegisteredCommand } from './commands/command.js';
import type { IncomingMessage } from './commands/dispatcher.js';
import type { Reply } from './reply.js';

/**
 * The contract between the kernel and a chat platform. An adapter turns the platform's updates
 * into IncomingMessage (one path for everyone: dedupe, identify, authorise, parse, audit) and
 * renders Reply blocks natively. It never decides permissions itself.
 */
export interface AdapterHost {
  /** the one entry point: the reply to render, or null (a redelivered message, nothing to say) */
  handle(msg: IncomingMessage): Promise<Reply | null>;
  /** every registered command, for native registration (setMyCommands, the Slack manifest, Discord application commands) */
  commands(): readonly RegisteredCommand[];
  /** market symbols starting with (or close to) what the person typed, for autocomplete */
  suggestSymbols(typed: string, limit: number): Promise<string[]>;
  /** one audit line tagged with the platform (e.g. a rejected signature, a platform fault) */
  audit(event: { kind: string; [field: string]: unknown }): void;
  logger: Logger;
}

export interface AdapterHealth {
  /** connected to the platform (gateway open, polling, socket up) */
  connected: boolean;
  detail: string;
}

export interface ChatAdapter {
  /** the platform name used in IncomingMessage.platform, people.<p>.ids.<platform> and channel targets */
  readonly platform: string;
  /** connect and start taking messages; resolves once connected (or throws a clear error) */
  start(host: AdapterHost): Promise<void>;
  /** stop taking messages and disconnect; in-flight replies are finished first */
  stop(): Promise<void>;
  /** a message the desk starts (digest, alert, halt notice), split at the platform's limits */
  post(channel: Channel, reply: Reply): Promise<void>;
  health(): AdapterHealth;
}

/**
 * "slack:C0DESK", "telegram:-100123:42" (a forum topic), "console:terminal" → a Channel.
 * The channel id may itself contain ':' only for the thread part's separator.
 */
export function parseTarget(target: string): Channel {
  const m = /^([a-z][a-z0-9]*):([^:]+)(?::(.+))?$/.exec(target);
  if (!m || m[1] === undefined || m[2] === undefined) throw new Error(`not a channel target: "${target}" (use platform:channel, e.g. slack:C0DESK)`);
  return m[3] === undefined ? { platform: m[1], channelId: m[2] } : { platform: m[1], channelId: m[2], threadId: m[3] };
}
