import { z } from 'zod';
import {
  arg,
  block,
  defineCommand,
  definePlugin,
  reply,
  utcDay,
  utcMinute,
  type CommandContext,
  type OrderRequest,
  type OrderSide,
  type PluginContext,
  type Requester,
} from '../../src/kernel/index.js';
import { money, orderResult, ordersTable, positionsTable, previewBlocks, type MarkedPosition } from './format.js';
import { parsePrice, parseSize, type SizeSpec } from './size.js';
import { TwapRunner } from './twap.js';

declare module '../../src/kernel/index.js' {
  interface Services {
    'execution.twap': { tick(): Promise<void> };
  }
}

const configSchema = z
  .object({
    /** the longest /twap, in minutes */
    maxTwapMinutes: z.number().int().min(1).max(24 * 60).default(240),
    /** how many rows /orders shows */
    recentOrders: z.number().int().min(1).max(100).default(15),
  })
  .strict();

type Config = z.output<typeof configSchema>;

/**
 * Execution: the trader's order commands, all through ctx.orders (the gateway). Orders are
 * keyed by the chat message that asked, so a redelivered message cannot place twice.
 *   /buy /sell <symbol> <size> [limit] [stop]   size: 0.01 | 0.01btc | 500usdt | 1% (risk of equity)
 *   /orders  /cancel <id|all>  /positions  /balance  /pnl [today|week|month|all]
 *   /twap <buy|sell> <symbol> <amount> <minutes>  /close <symbol|all>
 */
export default definePlugin({
  name: 'execution',
  version: '1.0.0',
  description: 'Orders, positions, balances and PnL through the order gateway',
  needs: ['risk'],
  config: configSchema,
  async setup(ctx) {
    const twap = new TwapRunner(ctx);
    await twap.start();
    ctx.onClose(() => twap.stop());
    // due TWAP slices are sent by a 1 s timer; the service lets tests (and a scheduler) drive it
    ctx.provide('execution.twap', { tick: () => twap.tick() });

    // the digest's positions section: marked positions and PnL over the digest's period
    ctx.contribute('digest', {
      name: 'positions',
      title: 'Positions and PnL',
      order: 50,
      render: async (period) => {
        const [entries, marked] = await Promise.all([ctx.orders.ledger(period.since), markPositions(ctx)]);
        const realised = entries.reduce((a, e) => a + e.realisedPnl, 0);
        const unrealised = marked.reduce((a, p) => a + (p.unrealised ?? 0), 0);
        const quote = marked[0]?.quote ?? entries[0]?.quote ?? ctx.market.defaultQuote();
        const blocks = [
          block.kv(
            [
              ['realised in period (net of fees)', money(realised, quote)],
              ['unrealised now', money(unrealised, quote)],
              ['fills in period', String(entries.length)],
              ['broker', ctx.orders.mode],
            ],
            'PnL',
          ),
        ];
        if (marked.length > 0) blocks.push(positionsTable(marked));
        return {
          blocks,
          facts: { numbers: { 'realised PnL': Number(realised.toFixed(2)), 'unrealised PnL': Number(unrealised.toFixed(2)), fills: entries.length, positions: marked.length }, symbols: marked.map((p) => p.symbol) },
        };
      },
    });

    const tradeArgs = {
      symbol: arg.symbol().describe('btc, BTC/USDT'),
      size: arg.string({ max: 30 }).describe('0.01 (base), 500usdt (quote) or 1% (risk of equity)'),
      limit: arg.string({ max: 30 }).optional().describe('limit price, or "market"'),
      stop: arg.string({ max: 30 }).optional().describe('protective stop price (sizes a 1% order)'),
    };
    for (const side of ['buy', 'sell'] as const) {
      ctx.command(
        defineCommand({
          name: side,
          summary: `${side === 'buy' ? 'Buy' : 'Sell'} at market or at a limit, after a confirm that shows costs and risk checks`,
          args: tradeArgs,
          permission: 'trade:execute',
          guard: 'confirm',
          examples: [`/${side} BTC/USDT 0.01`, `/${side} eth 500usdt 2400`, `/${side} btc 1% market 41000`],
          preview: async (c) => {
            const { req, summary, quote } = await buildOrder(ctx, c, side);
            return reply.of(...previewBlocks(summary, await ctx.orders.preview(req, requester(c)), quote));
          },
          handler: async (c) => {
            const { req } = await buildOrder(ctx, c, side);
            const order = await ctx.orders.place(req, requester(c));
            const blocks = orderResult(order);
            const stop = parsePrice(c.args.stop, 'stop');
            if (stop !== undefined && order.filled > 0) {
              const protect = await ctx.orders.place(
                { exchange: req.exchange, symbol: req.symbol, side: side === 'buy' ? 'sell' : 'buy', type: 'stop', amount: order.filled, stopPrice: stop, key: `${req.key}:stop`, origin: 'execution:stop' },
                requester(c),
              );
              blocks.push(block.text(`Protective stop ${protect.id}: ${protect.state}${protect.reason ? ` (${protect.reason})` : ''}`, protect.state === 'rejected' ? 'error' : 'info'));
            }
            return { blocks };
          },
        }),
      );
    }

    ctx.command(
      defineCommand({
        name: 'orders',
        summary: 'Open orders and the latest ones',
        permission: 'trade:read',
        handler: async () => {
          const [open, recent] = await Promise.all([ctx.orders.open(), ctx.orders.recent(ctx.config.recentOrders)]);
          const blocks = [open.length > 0 ? ordersTable(open, `Open orders (${open.length})`) : block.text('No open orders.')];
          if (recent.length > 0) blocks.push(ordersTable(recent, 'Latest orders'));
          const plans = await twap.describe();
          if (plans.length > 0) blocks.push(block.table(['twap', 'order', 'progress', 'state'], plans, { title: 'TWAP' }));
          return { blocks };
        },
      }),
    );

    ctx.command(
      defineCommand({
        name: 'cancel',
        summary: 'Cancel an open order, or all of them',
        args: { id: arg.string({ pattern: /^(all|db-[a-f0-9]{24}|twap-[a-z0-9]+)$/i, patternHint: 'an order id (db-…), a TWAP id or "all"' }) },
        permission: 'trade:execute',
        examples: ['/cancel db-0123456789abcdef01234567', '/cancel all'],
        handler: async (c) => {
          const id = c.args.id.toLowerCase();
          if (id.startsWith('twap-')) return reply.text(await twap.cancel(id, c.principal.person ?? c.principal.userId));
          const targets = id === 'all' ? await ctx.orders.open() : [{ id }];
          if (targets.length === 0) return reply.text('No open orders.');
          const rows: string[][] = [];
          for (const t of targets) {
            try {
              const o = await ctx.orders.cancel(t.id, requester(c));
              rows.push([o.id, o.symbol, o.state, o.reason ?? '']);
            } catch (err) {
              if (id !== 'all') throw err;
              rows.push([t.id, '', 'not cancelled', err instanceof Error ? err.message : String(err)]);
            }
          }
          if (id === 'all') rows.push(...(await twap.cancelAll(c.principal.person ?? c.principal.userId)).map((p) => [p, '', 'twap cancelled', '']));
          return reply.of(block.table(['order', 'symbol', 'state', 'note'], rows, { title: 'Cancel' }));
        },
      }),
    );

    ctx.command(
      defineCommand({
        name: 'positions',
        summary: 'Positions with average price, mark and unrealised PnL',
        permission: 'trade:read',
        handler: async () => {
          const marked = await markPositions(ctx);
          if (marked.length === 0) return reply.text('No open positions.');
          return reply.of(positionsTable(marked));
        },
      }),
    );

    ctx.command(
      defineCommand({
        name: 'balance',
        summary: 'Balances: free, in open orders, total',
        aliases: ['balances'],
        permission: 'trade:read',
        handler: async () => {
          const list = await ctx.orders.balances();
          if (list.length === 0) return reply.text('No balances.');
          return reply.of(
            block.table(['currency', 'free', 'in orders', 'total'], list.map((b) => [b.currency, String(b.free), String(b.used), String(b.total)]), {
              title: `Balances (${ctx.orders.mode})`,
              align: ['left', 'right', 'right', 'right'],
            }),
          );
        },
      }),
    );

    ctx.command(
      defineCommand({
        name: 'pnl',
        summary: 'Realised and unrealised PnL, fees and trades over a period',
        args: { period: arg.choice(['today', 'week', 'month', 'all'] as const).default('today') },
        permission: 'trade:read',
        handler: async (c) => {
          const since = periodStart(c.args.period, ctx.clock.now());
          const [entries, marked] = await Promise.all([ctx.orders.ledger(since), markPositions(ctx)]);
          const byQuote = new Map<string, { realised: number; fees: number; trades: number; unrealised: number }>();
          const row = (q: string) => {
            let r = byQuote.get(q);
            if (!r) byQuote.set(q, (r = { realised: 0, fees: 0, trades: 0, unrealised: 0 }));
            return r;
          };
          for (const e of entries) {
            const r = row(e.quote);
            r.realised += e.realisedPnl;
            r.fees += e.fill.feeCurrency === e.quote ? e.fill.fee : 0;
            r.trades++;
          }
          for (const p of marked) if (p.unrealised !== null) row(p.quote).unrealised += p.unrealised;
          if (byQuote.size === 0) return reply.text(`No trades and no open positions ${c.args.period === 'all' ? 'yet' : `since ${utcDay(since)}`}.`);
          const unpriced = marked.filter((p) => p.unrealised === null).map((p) => p.symbol);
          return reply.of(
            block.table(
              ['quote', 'realised (net of fees)', 'fees paid', 'unrealised', 'total', 'fills'],
              [...byQuote].map(([q, r]) => [q, money(r.realised, q), money(r.fees, q), money(r.unrealised, q), money(r.realised + r.unrealised, q), String(r.trades)]),
              { title: `PnL ${c.args.period}${c.args.period === 'all' ? '' : ` since ${utcMinute(since)} UTC`}`, align: ['left', 'right', 'right', 'right', 'right', 'right'] },
            ),
            ...(unpriced.length > 0 ? [block.text(`No current price for ${unpriced.join(', ')}: their unrealised PnL is left out.`, 'warn')] : []),
          );
        },
      }),
    );

    ctx.command(
      defineCommand({
        name: 'twap',
        summary: 'Slice a large order into market orders spread evenly over some minutes',
        args: {
          side: arg.choice(['buy', 'sell'] as const),
          symbol: arg.symbol(),
          amount: arg.number({ min: 0 }).describe('base amount in total'),
          minutes: arg.int({ min: 1, max: ctx.config.maxTwapMinutes }),
        },
        permission: 'trade:execute',
        guard: 'confirm',
        examples: ['/twap buy BTC/USDT 0.5 30'],
        preview: async (c) => {
          const plan = await twap.plan(c.args.side, c.args.symbol, c.args.amount, c.args.minutes);
          return reply.of(block.kv(plan.describe, 'TWAP'));
        },
        handler: async (c) => {
          const id = await twap.begin(c.args.side, c.args.symbol, c.args.amount, c.args.minutes, requester(c), `${c.channel.platform}:${c.messageId}`);
          return reply.text(`TWAP ${id} started: first slice now; /orders shows progress, /cancel ${id} stops it.`, 'ok');
        },
      }),
    );

    ctx.command(
      defineCommand({
        name: 'close',
        summary: 'Close a position (or all) with a market order',
        args: { symbol: arg.string({ max: 30 }).describe('a symbol, or "all"') },
        permission: 'trade:execute',
        guard: 'confirm',
        preview: async (c) => {
          const targets = await closeTargets(ctx, c.args.symbol);
          if (targets.length === 0) return reply.text('No matching open position.');
          return reply.of(block.table(['symbol', 'position', 'closing order'], targets.map((p) => [p.symbol, String(p.amount), `market ${p.amount > 0 ? 'sell' : 'buy'} ${Math.abs(p.amount)}`])));
        },
        handler: async (c) => {
          const targets = await closeTargets(ctx, c.args.symbol);
          if (targets.length === 0) return reply.text('No matching open position.');
          const blocks = [];
          for (const p of targets) {
            const order = await ctx.orders.place(
              { exchange: p.exchange, symbol: p.symbol, side: p.amount > 0 ? 'sell' : 'buy', type: 'market', amount: Math.abs(p.amount), key: `${c.channel.platform}:${c.messageId}:close:${p.symbol}`, origin: 'execution:close' },
              requester(c),
            );
            blocks.push(...orderResult(order));
          }
          return { blocks };
        },
      }),
    );
  },
});

function requester(c: CommandContext<unknown>): Requester {
  return { principal: c.principal, channel: c.channel };
}

/** The order a /buy or /sell asks for, sized from real prices. */
async function buildOrder(
  ctx: PluginContext<Config>,
  c: CommandContext<{ symbol: string; size: string; limit: string | undefined; stop: string | undefined }>,
  side: OrderSide,
): Promise<{ req: OrderRequest; summary: string; quote: string }> {
  const { exchange, symbol } = await ctx.market.resolve({ symbol: c.args.symbol });
  const [base = '', quote = ''] = symbol.split('/');
  const size: SizeSpec = parseSize(c.args.size, base, quote);
  const limit = parsePrice(c.args.limit, 'limit price');
  const stop = parsePrice(c.args.stop, 'stop');
  if (stop !== undefined && limit !== undefined && (side === 'buy' ? stop >= limit : stop <= limit)) {
    c.fail(`a protective stop for a ${side} must be ${side === 'buy' ? 'below' : 'above'} the limit price (${limit}).`);
  }
  let amount: number;
  let how: string;
  if (size.kind === 'base') {
    amount = size.amount;
    how = `${size.amount} ${base}`;
  } else if (size.kind === 'quote') {
    const price = limit ?? (await ctx.market.ticker({ exchange, symbol })).last;
    amount = size.amount / price;
    how = `${size.amount} ${quote} ≈ ${amount.toPrecision(6)} ${base} at ${price}`;
  } else {
    const sizing = await ctx.use('risk.sizing').size({ exchange, symbol, side, riskPct: size.pct, ...(stop !== undefined ? { stopPrice: stop } : {}) });
    amount = sizing.amount;
    how = `${size.pct}% risk → ${amount.toPrecision(6)} ${base} (${sizing.detail})`;
  }
  const req: OrderRequest = {
    exchange,
    symbol,
    side,
    type: limit === undefined ? 'market' : 'limit',
    amount,
    key: `${c.channel.platform}:${c.messageId}`,
    origin: `execution:${side}`,
  };
  if (limit !== undefined) req.price = limit;
  const summary = `${side.toUpperCase()} ${how} ${symbol} ${limit === undefined ? 'at market' : `limit ${limit}`}${stop !== undefined ? `, stop ${stop}` : ''} on ${exchange}`;
  return { req, summary, quote };
}

/** Positions with a mark price from the market service; no price → no unrealised PnL, said so. */
async function markPositions(ctx: PluginContext<Config>): Promise<MarkedPosition[]> {
  const positions = (await ctx.orders.positions()).filter((p) => p.amount !== 0);
  return Promise.all(
    positions.map(async (p) => {
      const quote = p.symbol.split('/')[1] ?? '';
      try {
        const t = await ctx.market.ticker({ exchange: p.exchange, symbol: p.symbol });
        return { ...p, quote, mark: t.last, markTime: t.time, unrealised: (t.last - p.avgPrice) * p.amount };
      } catch {
        return { ...p, quote, mark: null, markTime: null, unrealised: null };
      }
    }),
  );
}

async function closeTargets(ctx: PluginContext<Config>, what: string) {
  const positions = (await ctx.orders.positions()).filter((p) => p.amount !== 0);
  if (what.toLowerCase() === 'all') return positions;
  const { symbol } = await ctx.market.resolve({ symbol: what.toUpperCase().replace('-', '/') });
  return positions.filter((p) => p.symbol === symbol);
}

/** Start of a period in UTC: today (midnight), week (Monday), month (the 1st), all (0). */
export function periodStart(period: 'today' | 'week' | 'month' | 'all', now: number): number {
  const d = new Date(now);
  const midnight = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  if (period === 'today') return midnight;
  if (period === 'week') return midnight - ((d.getUTCDay() + 6) % 7) * 86_400_000;
  if (period === 'month') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  return 0;
}
