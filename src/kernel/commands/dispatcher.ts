import type { Logger } from 'pino';
import type { Permissions } from '../auth/permissions.js';
import type { Channel, Principal } from '../auth/principal.js';
import type { Clock } from '../clock.js';
import { UserError, isUserError } from '../errors.js';
import { block, reply, type Reply } from '../reply.js';
import type { CommandContext, Guard, RegisteredCommand } from './command.js';
import { helpFor, usageError } from './help.js';
import type { PendingAction, PendingActions } from './pending.js';
import { isStoreUnavailable } from '../store-errors.js';
import { parseArgs } from './parse-args.js';
import type { CommandRegistry } from './registry.js';
import { tokenize } from './tokenize.js';

/** One chat message as an adapter hands it to the kernel. */
export interface IncomingMessage {
  platform: string;
  /** the platform's id for this message (or interaction / update): dedupe and idempotency key */
  id: string;
  userId: string;
  /** what the platform calls the user, for people config does not know */
  userName?: string;
  channelId: string;
  threadId?: string;
  text: string;
}

export interface AuditSink {
  append(event: { kind: string; [field: string]: unknown }): unknown;
}

export interface DispatcherDeps {
  registry: CommandRegistry;
  permissions: Permissions;
  audit: AuditSink;
  dedupe: { firstSeen(id: string): Promise<boolean> };
  pending: PendingActions;
  logger: Logger;
  clock: Clock;
  confirmTimeoutMs: number;
  approvalTimeoutMs: number;
  /** metrics (src/ops): called once per command outcome; `ms` only when the handler ran */
  observe?: (r: { command: string; outcome: CommandOutcome; ms?: number }) => void;
}

/** ok / refused / error / usage: the handler's `result` audit line; denied: the permission decision; unknown: no such command */
export type CommandOutcome = 'ok' | 'refused' | 'error' | 'usage' | 'denied' | 'unknown';

const YES = new Set(['yes', 'y', 'confirm', 'ok']);
const NO = new Set(['no', 'n', 'cancel']);

/**
 * The one path every message takes: dedupe → identify → find the command → authorise
 * (audited) → parse arguments → confirm / four-eyes → handler (audited) → Reply.
 * Errors a person can cause come back as replies; anything else is logged with a reference.
 */
export class Dispatcher {
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly abort = new AbortController();
  private accepting = true;

  constructor(private readonly d: DispatcherDeps) {}

  /** The reply to send, or null when there is nothing to say (a redelivered message, an empty line). */
  handle(msg: IncomingMessage): Promise<Reply | null> {
    if (!this.accepting) return Promise.resolve(reply.error('deskbot is shutting down; try again in a moment.'));
    const p = this.run(msg).catch((err: unknown) => {
      // the kernel itself failed (store down, audit unwritable): refuse, never half-handle
      this.d.logger.error({ err, platform: msg.platform, req: msg.id }, 'dispatch failed');
      // the kernel store is down (Redis away, SQLite locked or closed): the person is told that, not "internal error"
      if (isStoreUnavailable(err)) return reply.error('deskbot cannot reach its store right now; nothing was done (trading reads as halted until it is back). Try again in a moment.');
      return reply.error('deskbot could not handle that right now (internal error); nothing was done. The operator has the details.');
    });
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
    return p;
  }

  /** Stop taking messages and wait for the ones in flight (at most `timeoutMs`, then abort them). */
  async drain(timeoutMs: number): Promise<void> {
    this.accepting = false;
    if (this.inflight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.abort.abort();
        resolve();
      }, timeoutMs);
    });
    await Promise.race([Promise.allSettled([...this.inflight]), timeout]);
    clearTimeout(timer);
  }

  get inFlight(): number {
    return this.inflight.size;
  }

  private async run(msg: IncomingMessage): Promise<Reply | null> {
    const { d } = this;
    if (!(await d.dedupe.firstSeen(`${msg.platform}:${msg.id}`))) {
      d.logger.debug({ platform: msg.platform, req: msg.id }, 'duplicate message dropped');
      return null;
    }
    const principal = d.permissions.identify(msg.platform, msg.userId, msg.userName);
    const channel: Channel =
      msg.threadId === undefined
        ? { platform: msg.platform, channelId: msg.channelId }
        : { platform: msg.platform, channelId: msg.channelId, threadId: msg.threadId };

    const line = normaliseLine(msg.text);
    if (line === null) return null;
    const space = line.search(/\s/);
    const rawName = (space < 0 ? line : line.slice(0, space)).toLowerCase();
    const name = rawName.split('@')[0] ?? rawName; // Telegram groups send /cmd@botname
    const argsText = space < 0 ? '' : line.slice(space + 1);

    const cmd = d.registry.lookup(name);
    const base = { msg: msg.id, platform: msg.platform, channel: msg.channelId, user: msg.userId, actor: principal.person };
    if (cmd === undefined) {
      d.audit.append({ kind: 'command', ...base, command: name, outcome: 'unknown' });
      d.observe?.({ command: name, outcome: 'unknown' });
      const near = d.registry.suggest(name);
      const hint = near.length > 0 ? ` Did you mean ${near.map((n) => `/${n}`).join(' or ')}?` : '';
      return reply.error(`Unknown command /${name}.${hint || ' Try /help for the list of commands.'}`);
    }

    const decision = cmd.spec.permission === null ? null : d.permissions.check(principal, cmd.spec.permission, channel);
    d.audit.append({
      kind: 'decision',
      ...base,
      command: cmd.spec.name,
      args: argsText,
      permission: cmd.spec.permission,
      allowed: decision?.allowed ?? true,
      reason: decision?.reason ?? 'public command',
    });
    if (decision !== null && !decision.allowed) {
      d.observe?.({ command: cmd.spec.name, outcome: 'denied' });
      return refusal(principal, cmd, decision.reason);
    }

    const tokens = tokenize(argsText);
    const parsed = tokens.ok ? parseArgs(cmd.spec.args ?? {}, tokens.tokens) : tokens;
    if (!parsed.ok) {
      d.audit.append({ kind: 'result', msg: msg.id, command: cmd.spec.name, outcome: 'usage', error: parsed.error });
      d.observe?.({ command: cmd.spec.name, outcome: 'usage' });
      return usageError(cmd, parsed.error);
    }

    const guard = guardFor(cmd, parsed.args);
    if (guard !== undefined) return this.hold(cmd, guard, argsText, parsed.args, principal, channel, msg.id);
    return this.execute(cmd, parsed.args, principal, channel, msg.id);
  }

  /**
   * Ask `who` to confirm another command as if they had sent it (e.g. `/halt flatten` halts at
   * once and then asks to confirm `/flatten`). Permission and arguments are checked as usual.
   */
  async ask(name: string, argsText: string, who: Principal, where: Channel, messageId: string): Promise<Reply> {
    const cmd = this.d.registry.lookup(name);
    if (cmd === undefined) return reply.error(`/${name} is not available.`);
    if (cmd.spec.permission !== null) {
      const decision = this.d.permissions.check(who, cmd.spec.permission, where);
      if (!decision.allowed) return refusal(who, cmd, decision.reason);
    }
    const tokens = tokenize(argsText);
    const parsed = tokens.ok ? parseArgs(cmd.spec.args ?? {}, tokens.tokens) : tokens;
    if (!parsed.ok) return usageError(cmd, parsed.error);
    return this.hold(cmd, guardFor(cmd, parsed.args) ?? 'confirm', argsText, parsed.args, who, where, `${messageId}:${name}`);
  }

  /** A guarded command: store it and ask for the confirm or the approval. */
  private async hold(
    cmd: RegisteredCommand,
    guard: Guard,
    argsText: string,
    args: unknown,
    principal: Principal,
    channel: Channel,
    messageId: string,
  ): Promise<Reply> {
    const { d } = this;
    const ttl = guard === 'confirm' ? d.confirmTimeoutMs : d.approvalTimeoutMs;
    let preview: Reply = { blocks: [] };
    if (cmd.spec.preview) {
      try {
        preview = await cmd.spec.preview(this.context(cmd, args, principal, channel, messageId));
      } catch (e) {
        return this.failure(cmd, messageId, e);
      }
    }
    const requester = { ...principal, roles: [...principal.roles] };
    const action = await d.pending.create({ command: cmd.spec.name, argsText, requester, channel, messageId }, guard, ttl);
    d.audit.append({ kind: 'pending', msg: messageId, command: cmd.spec.name, guard, token: action.token, actor: principal.person });
    const secs = Math.round(ttl / 1000);
    const line = `/${cmd.spec.name}${argsText ? ` ${argsText}` : ''}`;
    if (guard === 'confirm') {
      return {
        blocks: [
          block.text(`Confirm ${line}? Reply /confirm ${action.token} (or yes) within ${secs} s.`, 'warn'),
          ...preview.blocks,
          block.buttons([
            { label: 'Confirm', command: `/confirm ${action.token}`, style: 'danger' },
            { label: 'Cancel', command: `/reject ${action.token}` },
          ]),
        ],
      };
    }
    return {
      blocks: [
        block.text(
          `${line} needs a second person with ${cmd.spec.permission ?? 'the same permission'}: they run /approve ${action.token} within ${Math.round(secs / 60)} min.`,
          'warn',
        ),
        ...preview.blocks,
        block.buttons([
          { label: 'Approve', command: `/approve ${action.token}`, style: 'primary' },
          { label: 'Reject', command: `/reject ${action.token}` },
        ]),
      ],
    };
  }

  /** `/confirm [token]` and a bare "yes": the same person, before it expires. */
  async confirm(who: Principal, where: Channel, token: string | undefined): Promise<Reply> {
    const { d } = this;
    const action =
      token !== undefined ? await d.pending.peek(token) : who.person === null ? undefined : await d.pending.latestConfirmOf(who.person);
    if (action === undefined || action.guard !== 'confirm') {
      return reply.error(token ? `Nothing to confirm with ${token}.` : 'Nothing is waiting for your confirmation.');
    }
    if (action.expiresAt < 0) {
      d.audit.append({ kind: 'confirm', token: action.token, command: action.command, actor: who.person, outcome: 'expired' });
      return reply.error(`/${action.command} was not confirmed in time; nothing was done. Send it again if you still want it.`);
    }
    if (!samePerson(action.requester, who)) {
      d.audit.append({ kind: 'confirm', token: action.token, command: action.command, actor: who.person, outcome: 'refused', reason: 'not the requester' });
      return reply.error(`Only ${action.requester.displayName} can confirm their /${action.command}.`);
    }
    return this.resume(action, who, where, undefined);
  }

  /** `/approve <token>`: a different person who holds the command's permission in their channel. */
  async approve(who: Principal, where: Channel, token: string): Promise<Reply> {
    const { d } = this;
    const action = await d.pending.peek(token);
    if (action === undefined || action.guard !== 'four-eyes') return reply.error(`Nothing to approve with ${token}.`);
    const base = { kind: 'approval', token: action.token, command: action.command, requester: action.requester.person, actor: who.person };
    if (action.expiresAt < 0) {
      d.audit.append({ ...base, allowed: false, reason: 'expired' });
      return reply.error(`/${action.command} from ${action.requester.displayName} expired before approval; nothing was done.`);
    }
    if (samePerson(action.requester, who)) {
      d.audit.append({ ...base, allowed: false, reason: 'requester cannot approve own request' });
      return reply.error(`/${action.command} needs a different person to approve it (four eyes).`);
    }
    const cmd = d.registry.lookup(action.command);
    if (cmd === undefined) return reply.error(`/${action.command} is no longer available.`);
    if (cmd.spec.permission !== null) {
      const decision = d.permissions.check(who, cmd.spec.permission, where);
      d.audit.append({ ...base, allowed: decision.allowed, reason: decision.reason });
      if (!decision.allowed) return refusal(who, cmd, decision.reason);
    }
    return this.resume(action, action.requester, action.channel, who);
  }

  /** `/reject <token>`: the requester withdraws, or anyone who could approve declines. */
  async reject(who: Principal, where: Channel, token: string | undefined): Promise<Reply> {
    const { d } = this;
    const action =
      token !== undefined ? await d.pending.peek(token) : who.person === null ? undefined : await d.pending.latestConfirmOf(who.person);
    if (action === undefined || action.expiresAt < 0) return reply.error('Nothing to cancel.');
    const cmd = d.registry.lookup(action.command);
    const mayDecline =
      samePerson(action.requester, who) ||
      (action.guard === 'four-eyes' && cmd?.spec.permission != null && d.permissions.check(who, cmd.spec.permission, where).allowed);
    if (!mayDecline) return reply.error(`You cannot cancel ${action.requester.displayName}'s /${action.command}.`);
    if (!(await d.pending.take(action.token))) return reply.error('Nothing to cancel.');
    d.audit.append({ kind: 'rejected', token: action.token, command: action.command, actor: who.person });
    return reply.text(`/${action.command} cancelled; nothing was done.`);
  }

  /** Run a held command once: re-parse its stored line, take the token, execute. */
  private async resume(action: PendingAction, as: Principal, where: Channel, approvedBy: Principal | undefined): Promise<Reply> {
    const cmd = this.d.registry.lookup(action.command);
    if (cmd === undefined) return reply.error(`/${action.command} is no longer available.`);
    const tokens = tokenize(action.argsText);
    const parsed = tokens.ok ? parseArgs(cmd.spec.args ?? {}, tokens.tokens) : tokens;
    if (!parsed.ok) return usageError(cmd, parsed.error);
    if (!(await this.d.pending.take(action.token))) return reply.error(`/${action.command} was already handled.`);
    this.d.audit.append({ kind: 'confirmed', token: action.token, command: action.command, actor: as.person, approvedBy: approvedBy?.person ?? null });
    return this.execute(cmd, parsed.args, as, where, action.messageId, approvedBy);
  }

  private async execute(
    cmd: RegisteredCommand,
    args: unknown,
    principal: Principal,
    channel: Channel,
    messageId: string,
    approvedBy?: Principal,
  ): Promise<Reply> {
    const started = this.d.clock.now();
    try {
      const out = await cmd.spec.handler(this.context(cmd, args, principal, channel, messageId, approvedBy));
      const ms = this.d.clock.now() - started;
      this.d.audit.append({ kind: 'result', msg: messageId, command: cmd.spec.name, outcome: 'ok', ms });
      this.d.observe?.({ command: cmd.spec.name, outcome: 'ok', ms });
      return out;
    } catch (e) {
      return this.failure(cmd, messageId, e, started);
    }
  }

  /** `started`: when the handler began (absent when a preview failed) */
  private failure(cmd: RegisteredCommand, messageId: string, e: unknown, started?: number): Reply {
    const ms = started === undefined ? undefined : this.d.clock.now() - started;
    if (isUserError(e)) {
      this.d.audit.append({ kind: 'result', msg: messageId, command: cmd.spec.name, outcome: 'refused', error: e.message });
      this.d.observe?.({ command: cmd.spec.name, outcome: 'refused', ...(ms !== undefined ? { ms } : {}) });
      return reply.error(e.message);
    }
    const ref = messageId.slice(-8);
    this.d.logger.error({ err: e, command: cmd.spec.name, plugin: cmd.plugin, ref, req: messageId }, 'command failed');
    this.d.audit.append({ kind: 'result', msg: messageId, command: cmd.spec.name, outcome: 'error', ref });
    this.d.observe?.({ command: cmd.spec.name, outcome: 'error', ...(ms !== undefined ? { ms } : {}) });
    return reply.error(`/${cmd.spec.name} failed with an internal error (ref ${ref}); it is logged for the operator.`);
  }

  private context(
    cmd: RegisteredCommand,
    args: unknown,
    principal: Principal,
    channel: Channel,
    messageId: string,
    approvedBy?: Principal,
  ): CommandContext<never> {
    const parent = this.d.logger;
    let log: Logger | undefined;
    const ctx: CommandContext<unknown> = {
      args,
      principal,
      channel,
      messageId,
      // the request id on every line the handler logs; made on first use (most handlers never log)
      get log(): Logger {
        log ??= parent.child({ req: messageId, plugin: cmd.plugin, command: cmd.spec.name });
        return log;
      },
      signal: this.abort.signal,
      fail(message: string): never {
        throw new UserError(message);
      },
      can: (permission: string): boolean => {
        const decision = this.d.permissions.check(principal, permission, channel);
        this.d.audit.append({ kind: 'decision', msg: messageId, command: cmd.spec.name, permission, allowed: decision.allowed, reason: decision.reason, actor: principal.person, sub: true });
        return decision.allowed;
      },
    };
    if (approvedBy) ctx.approvedBy = approvedBy;
    return ctx as CommandContext<never>;
  }

  /** `/help <command>` needs the registry's view; kept here so help and dispatch agree on lookup. */
  helpFor(name: string): Reply {
    const cmd = this.d.registry.lookup(name.replace(/^\//, '').toLowerCase());
    if (cmd) return helpFor(cmd);
    const near = this.d.registry.suggest(name);
    return reply.error(`No command /${name}.${near.length > 0 ? ` Did you mean ${near.map((n) => `/${n}`).join(' or ')}?` : ''}`);
  }
}

/** Trims, accepts a leading slash or none, maps a bare yes/no to /confirm or /reject. */
function normaliseLine(text: string): string | null {
  const t = text.trim();
  if (t === '' || t === '/') return null;
  const lower = t.toLowerCase();
  if (YES.has(lower)) return 'confirm';
  if (NO.has(lower)) return 'reject';
  return t.startsWith('/') ? t.slice(1) : t;
}

function guardFor(cmd: RegisteredCommand, args: unknown): Guard | undefined {
  const g = cmd.spec.guard;
  return typeof g === 'function' ? g(args as never) : g;
}

function samePerson(a: Principal, b: Principal): boolean {
  return a.person !== null ? a.person === b.person : a.platform === b.platform && a.userId === b.userId;
}

function refusal(who: Principal, cmd: RegisteredCommand, reason: string): Reply {
  if (who.person === null) {
    return reply.error(
      `I don't know you yet (${who.platform} user ${who.userId}). Ask an admin to add you to the config (people.<you>.ids.${who.platform}: "${who.userId}"). Until then only /help and /whoami work.`,
    );
  }
  return reply.error(`Not allowed: /${cmd.spec.name} — ${reason}.`);
}
