import type { Logger } from 'pino';
import type { Channel, Principal } from '../auth/principal.js';
import type { Reply } from '../reply.js';
import type { ArgShape, ArgsOf } from './args.js';

/** What a handler gets: its typed arguments and who asked, where. Services come from the plugin's setup context. */
export interface CommandContext<Args> {
  args: Args;
  principal: Principal;
  channel: Channel;
  /** the platform message id of the request (for a confirmed or approved command: of the original request) */
  messageId: string;
  /** for four-eyes commands: the person who approved */
  approvedBy?: Principal;
  log: Logger;
  /** aborted when the kernel shuts down and the handler should stop early */
  signal: AbortSignal;
  /** stop with a message for the person (a UserError) */
  fail(message: string): never;
  /**
   * Whether this person holds another permission here (roles, channel rules), audited — for a
   * sub-command that needs more than the command's own permission (`/model train` needs ml:train).
   */
  can(permission: string): boolean;
}

/**
 * confirm: the same person confirms within the confirm timeout (60 s by default).
 * four-eyes: a different person holding the same permission approves.
 */
export type Guard = 'confirm' | 'four-eyes';

export interface CommandSpec<A extends ArgShape = ArgShape> {
  /** lower-case letters, digits and _ (what Telegram, Slack and Discord all accept), at most 32 */
  name: string;
  summary: string;
  description?: string;
  aliases?: readonly string[];
  args?: A;
  /** the permission needed, e.g. "trade:execute"; null: anyone, even people config does not know */
  permission: string | null;
  /** a guard, or one chosen by the arguments (e.g. `/live on` needs four eyes, `/live status` nothing) */
  guard?: Guard | ((args: ArgsOf<A>) => Guard | undefined);
  examples?: readonly string[];
  /** for guarded commands: what the person is asked to confirm (notional, fees, checks...) */
  preview?(ctx: CommandContext<ArgsOf<A>>): Reply | Promise<Reply>;
  handler(ctx: CommandContext<ArgsOf<A>>): Reply | Promise<Reply>;
}

/** A command as the registry keeps it: the spec plus the plugin that registered it. */
export interface RegisteredCommand {
  readonly plugin: string;
  readonly spec: CommandSpec<ArgShape>;
  readonly usage: string;
}

/** Identity helper so `args` types flow into the handler. */
export function defineCommand<A extends ArgShape = Record<never, never>>(spec: CommandSpec<A>): CommandSpec<A> {
  return spec;
}
