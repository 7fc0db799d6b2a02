import { createHash } from 'node:crypto';
import { z } from 'zod';
import { UserError, type OrderSide, type PluginContext, type Requester } from '../../src/kernel/index.js';

const MINUTE = 60_000;
/** how often due slices are looked for */
const TICK_MS = 1_000;
/** slices at most one a minute, and at most this many */
const MAX_SLICES = 60;

const planSchema = z.object({
  id: z.string(),
  side: z.enum(['buy', 'sell']),
  exchange: z.string(),
  symbol: z.string(),
  amount: z.number(),
  slices: z.number().int(),
  intervalMs: z.number(),
  startAt: z.number(),
  done: z.number().int(),
  filled: z.number(),
  state: z.enum(['running', 'finished', 'cancelled', 'stopped']),
  note: z.string().optional(),
  key: z.string(),
  requester: z.object({
    principal: z.object({ platform: z.string(), userId: z.string(), person: z.string().nullable(), displayName: z.string(), roles: z.array(z.string()) }),
    channel: z.object({ platform: z.string(), channelId: z.string(), threadId: z.string().optional() }),
  }),
});
type Plan = z.output<typeof planSchema>;

/**
 * TWAP: a large order sliced into equal market orders, one every `intervalMs`. Plans live in the
 * plugin store so a restart carries on; each slice's idempotency key is the request's key plus
 * the slice number, so a slice can never be sent twice. Slices that fell due while the desk was
 * down are not fired in a burst: the plan carries on from now, and the skipped time is noted.
 * A refused slice (halt, a risk check) stops the plan: nobody should come back to a half-run
 * TWAP that quietly resumed.
 */
export class TwapRunner {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly ctx: PluginContext<unknown>) {}

  async start(): Promise<void> {
    const now = this.ctx.clock.now();
    for (const p of await this.plans()) {
      if (p.state !== 'running') continue;
      const due = p.startAt + p.done * p.intervalMs;
      if (now - due > p.intervalMs) {
        // Missed while down: carry on from now rather than firing the backlog at once.
        p.startAt = now - p.done * p.intervalMs;
        p.note = `resumed after a restart at ${new Date(now).toISOString()}`;
        await this.save(p);
      }
    }
    this.timer = setInterval(() => {
      this.tick().catch((err: unknown) => this.ctx.log.warn({ err }, 'twap tick failed'));
    }, TICK_MS);
    this.timer.unref();
  }

  /** stop the timer and wait for a tick in flight, so nothing touches the store after teardown */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 5));
  }

  async plan(side: OrderSide, symbolText: string, amount: number, minutes: number) {
    if (amount <= 0) throw new UserError('the TWAP amount must be above zero');
    const { exchange, symbol } = await this.ctx.market.resolve({ symbol: symbolText });
    const slices = Math.min(MAX_SLICES, minutes);
    const intervalMs = (minutes * MINUTE) / slices;
    const base = symbol.split('/')[0] ?? '';
    return {
      exchange,
      symbol,
      slices,
      intervalMs,
      describe: {
        order: `${side} ${amount} ${base} of ${symbol} on ${exchange}`,
        slices: `${slices} market orders of ${(amount / slices).toPrecision(6)} ${base}`,
        every: `${(intervalMs / 1000).toFixed(0)} s over ${minutes} min`,
        'stops if': 'a slice is refused (halt, risk check) or you /cancel it',
      },
    };
  }

  async begin(side: OrderSide, symbolText: string, amount: number, minutes: number, requester: Requester, key: string): Promise<string> {
    const p = await this.plan(side, symbolText, amount, minutes);
    const id = `twap-${createHash('sha256').update(key).digest('hex').slice(0, 10)}`;
    const existing = await this.get(id);
    if (existing) return id;
    const principal = { ...requester.principal, roles: [...requester.principal.roles] };
    const plan: Plan = {
      id,
      side,
      exchange: p.exchange,
      symbol: p.symbol,
      amount,
      slices: p.slices,
      intervalMs: p.intervalMs,
      startAt: this.ctx.clock.now(),
      done: 0,
      filled: 0,
      state: 'running',
      key,
      requester: { principal, channel: { ...requester.channel } },
    };
    await this.save(plan);
    this.ctx.audit({ kind: 'twap', event: 'started', id, side, symbol: p.symbol, amount, slices: p.slices, by: principal.person });
    await this.tick();
    return id;
  }

  /** send every slice that is due; exposed so tests drive it with a manual clock */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const now = this.ctx.clock.now();
      for (const p of await this.plans()) {
        while (p.state === 'running' && p.done < p.slices && p.startAt + p.done * p.intervalMs <= now) {
          await this.slice(p);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async slice(p: Plan): Promise<void> {
    const n = p.done;
    // The last slice takes the rounding remainder so the total is exactly the amount asked.
    const each = p.amount / p.slices;
    const amount = n === p.slices - 1 ? p.amount - each * (p.slices - 1) : each;
    const order = await this.ctx.orders.place(
      { exchange: p.exchange, symbol: p.symbol, side: p.side, type: 'market', amount, key: `${p.key}:twap:${n}`, origin: `execution:twap:${p.id}` },
      p.requester,
    );
    p.done = n + 1;
    p.filled += order.filled;
    if (order.state === 'rejected' || order.state === 'failed') {
      p.state = 'stopped';
      p.note = `slice ${n + 1} ${order.state}: ${order.reason ?? ''}`;
    } else if (p.done >= p.slices) {
      p.state = 'finished';
    }
    await this.save(p);
    if (p.state !== 'running') this.ctx.audit({ kind: 'twap', event: p.state, id: p.id, done: p.done, filled: p.filled, note: p.note ?? null });
  }

  async cancel(id: string, by: string): Promise<string> {
    const p = await this.get(id);
    if (!p) throw new UserError(`No TWAP ${id}.`);
    if (p.state !== 'running') return `TWAP ${id} is already ${p.state}.`;
    p.state = 'cancelled';
    p.note = `cancelled by ${by}`;
    await this.save(p);
    this.ctx.audit({ kind: 'twap', event: 'cancelled', id, by, done: p.done });
    return `TWAP ${id} cancelled after ${p.done} of ${p.slices} slices (${p.filled} filled).`;
  }

  async cancelAll(by: string): Promise<string[]> {
    const out: string[] = [];
    for (const p of await this.plans()) if (p.state === 'running') out.push((await this.cancel(p.id, by)) && p.id);
    return out;
  }

  async describe(): Promise<string[][]> {
    return (await this.plans()).slice(-10).map((p) => [p.id, `${p.side} ${p.amount} ${p.symbol}`, `${p.done}/${p.slices} slices, ${p.filled} filled`, `${p.state}${p.note ? ` (${p.note})` : ''}`]);
  }

  private async plans(): Promise<Plan[]> {
    const ids = z.array(z.string()).safeParse((await this.ctx.store.get('twap:index')) ?? []);
    if (!ids.success) return [];
    const out: Plan[] = [];
    for (const id of ids.data) {
      const p = await this.get(id);
      if (p) out.push(p);
    }
    return out;
  }

  private async get(id: string): Promise<Plan | undefined> {
    const parsed = planSchema.safeParse(await this.ctx.store.get(`twap:${id}`));
    return parsed.success ? parsed.data : undefined;
  }

  private async save(p: Plan): Promise<void> {
    await this.ctx.store.set(`twap:${p.id}`, p);
    const ids = z.array(z.string()).safeParse((await this.ctx.store.get('twap:index')) ?? []);
    const list = ids.success ? ids.data : [];
    if (!list.includes(p.id)) await this.ctx.store.set('twap:index', [...list, p.id].slice(-100));
  }
}
