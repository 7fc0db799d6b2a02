import { arg } from '../commands/args.js';
import { defineCommand, type CommandSpec } from '../commands/command.js';
import type { ArgShape } from '../commands/args.js';
import { block, reply, type Block } from '../reply.js';
import type { AlertRouter } from './router.js';
import { utcClock, utcMinute } from '../utc.js';

/**
 * /alerts: the routing rules, active mutes and the latest alerts with where each went.
 * /mute <kind|symbol> <duration> and /unmute <kind|symbol>: in the channel they are typed in.
 */
export function alertCommands(deps: { router: AlertRouter }): Array<CommandSpec<ArgShape>> {
  const { router } = deps;
  const target = (c: { channel: { platform: string; channelId: string } }): string => `${c.channel.platform}:${c.channel.channelId}`;
  const what = arg.string({ max: 40, pattern: /^[A-Za-z0-9/_.-]+$/, patternHint: 'an alert kind (whale, regime, signal, risk, data) or a symbol (BTC/USDT)' });
  const normalise = (w: string): string => (w.includes('/') || w.includes('-') ? w.toUpperCase().replace('-', '/') : w.toLowerCase());
  const list = [
    defineCommand({
      name: 'alerts',
      summary: 'Alert rules, mutes and the latest alerts',
      args: { n: arg.int({ min: 1, max: 50 }).default(10).describe('how many recent alerts') },
      permission: 'market:read',
      handler: async (ctx) => {
        const blocks: Block[] = [];
        const rules = router.rules;
        blocks.push(
          rules.length === 0
            ? block.text('No alert rules: alerts go only to channels that watch a market (e.g. /watch).')
            : block.table(
                ['channel', 'kinds', 'min severity', 'symbols'],
                rules.map((r) => [r.channel, r.kinds.join(', '), r.minSeverity, r.symbols.join(', ') || 'any']),
                { title: 'Rules' },
              ),
        );
        const mutes = await router.mutes();
        if (mutes.length > 0) {
          blocks.push(block.table(['channel', 'muted', 'until (UTC)', 'by'], mutes.map((m) => [m.channel, m.what, utcMinute(m.until), m.by]), { title: 'Mutes' }));
        }
        const latest = router.latest(ctx.args.n);
        blocks.push(
          latest.length === 0
            ? block.text('No alerts since the desk started.')
            : block.table(
                ['at (UTC)', 'kind', 'severity', 'alert', 'sent to', 'held'],
                latest.map((a) => [
                  utcClock(a.at),
                  a.kind,
                  a.severity,
                  a.title.length > 80 ? `${a.title.slice(0, 77)}...` : a.title,
                  a.delivered.join(', ') || '-',
                  a.held.map((h) => `${h.channel}: ${h.why}`).join('; ') || '-',
                ]),
                { title: 'Latest alerts' },
              ),
        );
        return { blocks };
      },
    }),
    defineCommand({
      name: 'mute',
      summary: 'Mute an alert kind or a symbol in this channel for a while (critical alerts still come through)',
      args: { what, for: arg.duration({ maxMs: 7 * 86_400_000 }).describe('how long, e.g. 30m, 2h, 1d') },
      permission: 'alerts:mute',
      examples: ['/mute whale 1h', '/mute BTC/USDT 30m'],
      handler: async (ctx) => {
        const m = await router.mute(target(ctx), normalise(ctx.args.what), ctx.args.for, ctx.principal.person ?? ctx.principal.userId);
        return reply.text(`Muted ${m.what} here until ${utcMinute(m.until)} UTC. Critical alerts still come through; /unmute ${m.what} ends it.`, 'ok');
      },
    }),
    defineCommand({
      name: 'unmute',
      summary: 'End a mute in this channel',
      args: { what },
      permission: 'alerts:mute',
      handler: async (ctx) => {
        const w = normalise(ctx.args.what);
        return (await router.unmute(target(ctx), w)) ? reply.text(`${w} unmuted here.`, 'ok') : reply.error(`${w} is not muted here.`);
      },
    }),
  ];
  return list as unknown as Array<CommandSpec<ArgShape>>;
}
