import type { AuditLog } from './audit.js';
import type { Permissions } from './auth/permissions.js';
import { arg } from './commands/args.js';
import { defineCommand, type CommandSpec } from './commands/command.js';
import type { Dispatcher } from './commands/dispatcher.js';
import { helpIndex } from './commands/help.js';
import type { CommandRegistry } from './commands/registry.js';
import { block, reply } from './reply.js';
import type { ArgShape } from './commands/args.js';

/** The kernel's own commands: help, identity, confirm/approve/reject, audit. */
export function builtinCommands(deps: {
  registry: CommandRegistry;
  permissions: Permissions;
  dispatcher: () => Dispatcher;
  audit: AuditLog;
}): Array<CommandSpec<ArgShape>> {
  const { registry, permissions, audit } = deps;
  const list = [
    defineCommand({
      name: 'help',
      summary: 'List commands, or explain one',
      aliases: ['start'],
      args: { command: arg.string({ max: 40 }).optional().describe('a command name, e.g. status') },
      permission: null,
      examples: ['/help', '/help status'],
      handler: (ctx) =>
        ctx.args.command === undefined
          ? helpIndex(registry, permissions, ctx.principal, ctx.channel)
          : deps.dispatcher().helpFor(ctx.args.command),
    }),
    defineCommand({
      name: 'whoami',
      summary: 'Who the desk thinks you are, your roles and what they allow here',
      permission: null,
      handler: (ctx) => {
        const p = ctx.principal;
        if (p.person === null) {
          return reply.of(
            block.kv({ platform: p.platform, 'user id': p.userId, person: 'unknown', roles: 'none' }, 'You'),
            block.text(`Ask an admin to add you to the config: people.<you>.ids.${p.platform}: "${p.userId}".`),
          );
        }
        const granted = permissions.granted(p);
        const usable = registry
          .list()
          .filter((c) => c.spec.permission !== null && permissions.check(p, c.spec.permission, ctx.channel).allowed)
          .map((c) => `/${c.spec.name}`);
        return reply.of(
          block.kv(
            {
              person: `${p.person} (${p.displayName})`,
              platform: `${p.platform} user ${p.userId}`,
              channel: `${ctx.channel.platform}:${ctx.channel.channelId}`,
              roles: p.roles.join(', ') || 'none',
              permissions: granted.join(', ') || 'none',
            },
            'You',
          ),
          block.text(usable.length > 0 ? `Here you may use: ${usable.join(' ')}` : 'Here you may use only the public commands.'),
        );
      },
    }),
    defineCommand({
      name: 'confirm',
      summary: 'Confirm your pending command (same person, before it expires)',
      args: { token: arg.string({ max: 16 }).optional().describe('the code shown with the request; default: your latest') },
      permission: null,
      handler: (ctx) => deps.dispatcher().confirm(ctx.principal, ctx.channel, ctx.args.token),
    }),
    defineCommand({
      name: 'approve',
      summary: "Approve another person's four-eyes command",
      args: { token: arg.string({ max: 16 }).describe('the code shown with the request') },
      permission: null,
      handler: (ctx) => deps.dispatcher().approve(ctx.principal, ctx.channel, ctx.args.token),
    }),
    defineCommand({
      name: 'reject',
      summary: 'Cancel a pending command (yours, or one you could approve)',
      args: { token: arg.string({ max: 16 }).optional() },
      permission: null,
      handler: (ctx) => deps.dispatcher().reject(ctx.principal, ctx.channel, ctx.args.token),
    }),
    defineCommand({
      name: 'audit',
      summary: 'The latest audit log lines',
      args: { n: arg.int({ min: 1, max: 200 }).default(20).describe('how many lines') },
      permission: 'admin:audit',
      handler: async (ctx) => {
        const records = await audit.tail(ctx.args.n);
        const rows = records.map((r) => {
          const { seq, at, prev: _prev, kind, ...rest } = r;
          const who = typeof rest.actor === 'string' ? rest.actor : rest.actor === null ? '?' : '';
          const what = Object.entries(rest)
            .filter(([k]) => k !== 'actor')
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          return [String(seq), at.slice(0, 19).replace('T', ' '), kind, who, what.length > 120 ? `${what.slice(0, 117)}...` : what];
        });
        return reply.of(block.table(['seq', 'at (UTC)', 'kind', 'who', 'details'], rows, { title: `Audit: last ${rows.length}` }));
      },
    }),
  ];
  return list as unknown as Array<CommandSpec<ArgShape>>;
}
