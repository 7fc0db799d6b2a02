import type { AuditLog } from './audit.js';
import type { Permissions } from './auth/permissions.js';
import { arg } from './commands/args.js';
import { defineCommand, type CommandSpec } from './commands/command.js';
import type { ArgShape } from './commands/args.js';
import type { ConfigJobs } from './jobs.js';
import { block, reply } from './reply.js';
import { utcAt } from './utc.js';

const utc = (t: number | Date | null): string => (t === null ? '-' : utcAt(t));

/** the permission pause and resume need on top of the command's own */
export const SCHEDULE_ADMIN = 'admin:schedule';

/**
 * /schedule [list] — anyone who reads the market; /schedule pause|resume <name> — admins
 * (admin:schedule), audited, and the pause holds across restarts (and instances, on Redis).
 */
export function scheduleCommands(deps: { jobs: ConfigJobs; permissions: Pick<Permissions, 'check'>; audit: Pick<AuditLog, 'append'> }): Array<CommandSpec<ArgShape>> {
  const { jobs } = deps;
  const list = [
    defineCommand({
      name: 'schedule',
      summary: 'Configured schedules: list, or pause / resume one (admins)',
      args: {
        action: arg.choice(['list', 'pause', 'resume'] as const).default('list'),
        name: arg.string({ max: 60, pattern: /^[a-z][a-z0-9-]*$/, patternHint: 'a schedule name from /schedule list' }).optional(),
      },
      permission: 'market:read',
      examples: ['/schedule', '/schedule pause morning-digest', '/schedule resume morning-digest'],
      handler: async (ctx) => {
        const { action, name } = ctx.args;
        if (action === 'list') {
          const all = await jobs.list();
          if (all.length === 0) return reply.text('No schedules are configured (schedules: in the config).');
          return reply.of(
            block.table(
              ['name', 'kind', 'cron', 'zone', 'targets', 'state', 'last run', 'next'],
              all.map((s) => [s.name, s.kind, s.cron, s.timezone ?? 'desk', s.targets.join(', ') || '-', !s.enabled ? 'disabled' : s.paused ? 'PAUSED' : 'on', utc(s.lastRun), utc(s.next)]),
              { title: 'Schedules' },
            ),
          );
        }
        const decision = deps.permissions.check(ctx.principal, SCHEDULE_ADMIN, ctx.channel);
        deps.audit.append({ kind: 'schedule', action, schedule: name ?? null, actor: ctx.principal.person, allowed: decision.allowed, reason: decision.reason });
        if (!decision.allowed) ctx.fail(`Not allowed: /schedule ${action} — ${decision.reason}.`);
        if (name === undefined) return ctx.fail(`/schedule ${action} needs a schedule name (see /schedule list).`);
        if (!(await jobs.setPaused(name, action === 'pause'))) ctx.fail(`No schedule "${name}" (see /schedule list).`);
        return reply.text(action === 'pause' ? `Schedule ${name} paused; /schedule resume ${name} turns it back on.` : `Schedule ${name} resumed.`, 'ok');
      },
    }),
  ];
  return list as unknown as Array<CommandSpec<ArgShape>>;
}
