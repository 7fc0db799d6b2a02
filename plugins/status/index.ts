import { z } from 'zod';
import { block, defineCommand, definePlugin, reply, utcMinute, type MarketData } from '../../src/kernel/index.js';

/** `/status`: is the desk up, what runs in it, is trading halted. */
export default definePlugin({
  name: 'status',
  version: '1.0.0',
  description: 'Uptime, version, plugins, halt state and store',
  config: z
    .object({
      /** also show the process id and memory use (for operators) */
      showProcess: z.boolean().default(false),
    })
    .strict(),
  setup(ctx) {
    ctx.command(
      defineCommand({
        name: 'status',
        summary: 'Uptime, version, plugins loaded, halted or not, store kind',
        aliases: ['st'],
        permission: 'market:read',
        handler: async () => {
          const k = ctx.kernel;
          const halt = await k.halt();
          const facts: Array<[string, string]> = [
            ['deskbot', `${k.version} (${k.instance})`],
            ['uptime', formatUptime(ctx.clock.now() - k.startedAt)],
            ['trading', halt.halted ? `HALTED since ${halt.since ?? '?'} by ${halt.by ?? '?'}: ${halt.reason ?? ''}` : 'running'],
            ['store', k.storeDescription],
            ['market', marketLine(ctx.market)],
          ];
          if (ctx.config.showProcess) {
            facts.push(['process', `pid ${process.pid}, rss ${Math.round(process.memoryUsage().rss / 1048576)} MiB, node ${process.version}`]);
          }
          const plugins = k.plugins().map((p) => [p.name, p.version]);
          return reply.of(
            block.kv(facts, 'Status'),
            block.table(['plugin', 'version'], plugins, { title: `Plugins (${plugins.length})` }),
          );
        },
      }),
    );
  },
});

function formatUptime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return d > 0 ? `${d}d ${h}h ${m}m` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${sec}s` : `${sec}s`;
}

/** where prices come from: live exchanges, or recorded data and the replay's "now" */
function marketLine(m: MarketData): string {
  if (m.mode === 'live') return `live: ${m.exchanges().join(', ')} (default ${m.defaultExchange})`;
  return `recorded (${m.exchanges().join(', ')}), now ${utcMinute(m.now())} UTC`;
}
