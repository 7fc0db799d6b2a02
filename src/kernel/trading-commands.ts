import { arg } from './commands/args.js';
import { defineCommand, type CommandSpec } from './commands/command.js';
import type { ArgShape } from './commands/args.js';
import type { Dispatcher } from './commands/dispatcher.js';
import type { OrderGateway } from './orders/gateway.js';
import type { LiveSwitch } from './orders/live-switch.js';
import { block, reply, type Block } from './reply.js';

/**
 * The kill switch and the live-trading switch are the kernel's, not a plugin's: they must work
 * with every plugin disabled.
 *   /halt [flatten] [reason]  closes the gateway at once, cancels open orders; "flatten" then asks to confirm /flatten
 *   /flatten                  market orders that close every position (allowed while halted), after a confirm
 *   /resume                   reopens; four eyes (someone other than who halted) when configured
 *   /live [status|on|off]     live trading is off until an admin arms it, with a second admin's approval
 */
export function tradingCommands(deps: {
  gateway: OrderGateway;
  live: LiveSwitch;
  dispatcher: () => Dispatcher;
}): Array<CommandSpec<ArgShape>> {
  const { gateway, live } = deps;
  const list = [
    defineCommand({
      name: 'halt',
      summary: 'Stop all trading now: refuse new orders and cancel open ones',
      description:
        'Closes the order gateway at once, persists the halt (it survives restarts and holds on every instance), cancels every open order and tells the desk. `/halt flatten <reason>` then asks you to confirm closing every position.',
      args: {
        reason: arg.string({ max: 200 }).rest().optional().describe('why, for the desk and the audit log; starting with "flatten" also closes every position (asks to confirm)'),
      },
      permission: 'risk:halt',
      examples: ['/halt spread blew out', '/halt flatten exchange incident'],
      handler: async (ctx) => {
        const by = ctx.principal.person ?? `${ctx.principal.platform}:${ctx.principal.userId}`;
        const words = (ctx.args.reason ?? '').trim();
        const flatten = /^flatten\b/i.test(words);
        const reason = (flatten ? words.slice('flatten'.length).trim() : words) || 'no reason given';
        const out = await gateway.halt(by, reason);
        const blocks: Block[] = [];
        if (out.changed) {
          blocks.push(block.text(`HALTED by ${by}: ${reason}. New orders are refused until someone runs /resume.`, 'error'));
        } else {
          blocks.push(block.text(`Already halted by ${out.status.by ?? '?'} since ${out.status.since ?? '?'}: ${out.status.reason ?? ''}. That halt stands.`, 'warn'));
        }
        blocks.push(block.text(`Open orders cancelled: ${out.cancelled.length}${out.cancelled.length > 0 ? ` (${out.cancelled.map((o) => o.id).join(', ')})` : ''}.`));
        for (const f of out.cancelFailures) blocks.push(block.text(`Could not cancel ${f.order.id} (${f.order.symbol}): ${f.reason}`, 'error'));
        if (flatten) {
          const ask = await deps.dispatcher().ask('flatten', '', ctx.principal, ctx.channel, ctx.messageId);
          blocks.push(...ask.blocks);
        }
        return { blocks };
      },
    }),
    defineCommand({
      name: 'flatten',
      summary: 'Close every position with market orders (works while halted)',
      permission: 'risk:halt',
      guard: 'confirm',
      preview: async () => {
        const positions = (await gateway.positions()).filter((p) => p.amount !== 0);
        if (positions.length === 0) return reply.text('No open positions.');
        return reply.of(
          block.table(
            ['symbol', 'amount', 'avg price', 'closing order'],
            positions.map((p) => [p.symbol, String(p.amount), String(p.avgPrice), `market ${p.amount > 0 ? 'sell' : 'buy'} ${Math.abs(p.amount)}`]),
            { title: 'Positions to close', align: ['left', 'right', 'right', 'left'] },
          ),
        );
      },
      handler: async (ctx) => {
        const by = ctx.principal.person ?? ctx.principal.userId;
        const orders = await gateway.flatten(by, `${ctx.channel.platform}:${ctx.messageId}`);
        if (orders.length === 0) return reply.text('No open positions; nothing to flatten.');
        return reply.of(
          block.table(
            ['order', 'symbol', 'side', 'amount', 'state', 'avg price', 'note'],
            orders.map((o) => [o.id, o.symbol, o.side, String(o.amount), o.state, o.avgPrice === null ? '-' : o.avgPrice.toFixed(2), o.reason ?? '']),
            { title: 'Flatten' },
          ),
        );
      },
    }),
    defineCommand({
      name: 'resume',
      summary: 'Reopen trading after a halt',
      description: 'Needs risk:resume. With four eyes on (the default), the person who halted cannot resume.',
      permission: 'risk:resume',
      handler: async (ctx) => {
        const before = await gateway.halted();
        if (!before.halted) return reply.text('Trading is not halted.');
        const status = await gateway.resume(ctx.principal);
        return reply.text(`Trading resumed by ${status.by ?? '?'} (halted by ${before.by ?? '?'}: ${before.reason ?? ''}).`, 'ok');
      },
    }),
    defineCommand({
      name: 'live',
      summary: 'Live trading: status, or arm/disarm it (admin, four eyes to arm)',
      args: { action: arg.string({ pattern: /^(status|on|off)$/i, patternHint: 'status, on or off' }).default('status') },
      permission: 'admin:live',
      guard: (args) => (args.action.toLowerCase() === 'on' ? 'four-eyes' : undefined),
      handler: async (ctx) => {
        const by = ctx.principal.person ?? ctx.principal.userId;
        const action = ctx.args.action.toLowerCase();
        if (action === 'on') {
          const out = await live.arm(by, ctx.approvedBy?.person ?? null);
          return reply.of(block.text(out.message, out.ok ? 'warn' : 'error'), ...(out.report ? [out.report] : []));
        }
        if (action === 'off') return reply.text((await live.disarm(by)).message, 'ok');
        return reply.of(block.kv(await live.describe(), 'Trading mode'));
      },
    }),
  ];
  return list as unknown as Array<CommandSpec<ArgShape>>;
}
