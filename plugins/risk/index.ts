import { arg, block, defineCommand, definePlugin, reply } from '../../src/kernel/index.js';
import { preTradeChecks } from './checks.js';
import { LIMIT_NAMES, riskConfigSchema, type LimitName, type Limits } from './config.js';
import { RiskEngine, type GuardRun, type RiskBreach } from './engine.js';
import { cash, utc } from './format.js';
import { findLimit, formatLimit, LIMIT_INFO, parseLimitValue } from './limits.js';
import { limitsReply, riskReply } from './report.js';
import type { SizeRequest, SizeResult } from './sizing.js';

/**
 * Risk: pre-trade checks on every order, running guards that halt trading on a breach, limits an
 * admin changes at run time, and sizing for "risk %" orders.
 *
 *  - Pre-trade checks (checks.ts), registered with ctx.orders.addRiskCheck: order notional,
 *    position, gross exposure, open orders, allowed symbols, spread, book depth, price band,
 *    stale price. Each answers with its numbers. Reducing orders are not blocked (see checks.ts).
 *  - Guards (guards.ts, engine.ts), every guardIntervalSeconds and on each broker failure: daily
 *    loss, drawdown from the equity peak, stale data, broker error rate. A breach halts through
 *    ctx.orders.halt('risk', '<guard> breached: <numbers>') and emits 'risk.breach'.
 *  - `/limits` (risk:limits): show, set, reset a limit; reset the equity peak. Every change is
 *    audited with the old and new value and stored, so it survives restarts and is shared by
 *    instances on Redis.
 *  - `/risk` (risk:read): each limit, its use now and headroom; the guards, evaluated now.
 *  - Services: `risk.sizing` (size a risk % order) and `risk.guards` (run the guards now, read
 *    the last run and the limits in force).
 */

export interface RiskSizing {
  /** amount = equity × riskPct / |price − stop| with a stop; else volatility or Kelly (sizing.ts) */
  size(req: SizeRequest): Promise<SizeResult>;
}

export interface RiskGuards {
  /** evaluate every guard now (a breach halts and alerts, as on the interval) */
  run(): Promise<GuardRun>;
  /** the last evaluation, or null before the first */
  last(): Promise<GuardRun | null>;
  /** the limits in force: config with `/limits set` overrides */
  limits(): Promise<Limits>;
}

export type { GuardRun, RiskBreach } from './engine.js';
export type { GuardName, GuardResult } from './guards.js';
export type { SizeRequest, SizeResult } from './sizing.js';
export type { LimitName, Limits, RiskConfig } from './config.js';

declare module '../../src/kernel/index.js' {
  interface Services {
    'risk.sizing': RiskSizing;
    'risk.guards': RiskGuards;
  }
  interface KernelEvents {
    /** a guard breached: trading was halted (or already was); an alert for people on call */
    'risk.breach': RiskBreach;
  }
}

export default definePlugin({
  name: 'risk',
  version: '1.0.0',
  description: 'Pre-trade risk checks, guards that halt trading on a breach, run-time limits and risk % sizing',
  config: riskConfigSchema,
  setup(ctx) {
    const engine = new RiskEngine(ctx);
    const currency = engine.currency;

    const removals = preTradeChecks(engine.checkEnv()).map((c) => ctx.orders.addRiskCheck(c));
    ctx.onClose(() => {
      for (const remove of removals) remove();
    });

    // optional auto-halt on an exchange outage: with no prices, limits and guards are blind
    ctx.on('market.circuit', async (c) => {
      if (!ctx.config.haltOnExchangeOutage || c.state !== 'open') return;
      const [positions, open] = await Promise.all([ctx.orders.positions(), ctx.orders.open()]);
      const exposed = positions.some((p) => p.exchange === c.exchange && p.amount !== 0) || open.some((o) => o.exchange === c.exchange);
      if (!exposed || (await ctx.orders.halted()).halted) return;
      const reason = `exchange-outage: ${c.exchange} market data circuit open (repeated failures); positions or orders there cannot be watched`;
      ctx.audit({ kind: 'risk.breach', guard: 'exchange-outage', detail: reason, halted: true });
      await ctx.orders.halt('risk', reason);
    });

    ctx.on('order.updated', async (order) => {
      if (order.state === 'failed') await engine.recordFailure(order);
    });

    // setInterval, not a cron schedule: the interval is in seconds and any length; unref so a
    // forgotten kernel does not keep a test process alive. Teardown waits for a run in flight.
    const timer = setInterval(() => {
      engine.runGuards().catch((err: unknown) => ctx.log.error({ err }, 'risk guards failed'));
    }, ctx.config.guardIntervalSeconds * 1000);
    timer.unref();
    ctx.onClose(async () => {
      clearInterval(timer);
      await engine.idle();
    });

    // the digest's risk section: the same reading /risk gives, at the time the digest is made
    ctx.contribute('digest', {
      name: 'risk',
      title: 'Risk use',
      order: 60,
      render: async () => {
        const { snapshot, run } = await engine.evaluate();
        const numbers: Record<string, number> = {};
        if (!(snapshot.equity instanceof Error)) numbers.equity = snapshot.equity.equity;
        if (!(snapshot.pnl instanceof Error)) numbers['pnl today'] = snapshot.pnl.realised + snapshot.pnl.unrealised;
        if (!(snapshot.gross instanceof Error)) {
          numbers['gross exposure'] = snapshot.gross;
          numbers.riskUsePct = Number(((snapshot.gross / snapshot.limits.maxGrossExposure) * 100).toFixed(1));
        }
        return { blocks: riskReply(snapshot, run, await ctx.orders.halted()).blocks, facts: { numbers, symbols: [] } };
      },
    });

    ctx.provide('risk.sizing', { size: (req) => engine.size(req) });
    ctx.provide('risk.guards', { run: () => engine.runGuards(), last: () => engine.lastRun(), limits: () => engine.limits() });

    ctx.command(
      defineCommand({
        name: 'risk',
        summary: 'Risk limits with their use now and headroom, and the guards (evaluated now)',
        permission: 'risk:read',
        handler: async () => {
          // evaluating here (not only showing the last run) gives one consistent reading; a breach
          // it finds is acted on as the interval would a moment later
          const { snapshot, run } = await engine.evaluate();
          return riskReply(snapshot, run, await ctx.orders.halted());
        },
      }),
    );

    const names = LIMIT_NAMES.join(', ');
    const resolveLimit = (text: string | undefined, fail: (m: string) => never): LimitName => {
      if (text === undefined) return fail(`name a limit: ${names}`);
      const found = findLimit(text);
      if ('name' in found) return found.name;
      const hint = found.suggestions.length > 0 ? ` (did you mean ${found.suggestions.join(' or ')}?)` : '';
      return fail(`unknown limit "${text}"${hint}; limits: ${names}`);
    };

    ctx.command(
      defineCommand({
        name: 'limits',
        summary: 'Show or change the risk limits (audited; kept across restarts)',
        description:
          '/limits shows every limit. /limits set <name> <value> changes one (money in the desk currency, bps, %, seconds or minutes, symbols); /limits reset <name> goes back to the config value; /limits reset-peak starts a new equity peak for the drawdown guard.',
        args: {
          action: arg.choice(['show', 'set', 'reset', 'reset-peak'] as const).default('show'),
          name: arg.string({ max: 64 }).optional().describe('a limit, e.g. maxOrderNotional'),
          value: arg.string({ max: 2000 }).rest().optional().describe('e.g. 5000, 25bps, 5%, 2m, "btc eth" or all'),
        },
        permission: 'risk:limits',
        examples: ['/limits', '/limits set maxOrderNotional 5000', '/limits set allowedSymbols btc,eth', '/limits reset maxSpreadBps', '/limits reset-peak'],
        handler: async (c) => {
          const by = c.principal.person ?? `${c.principal.platform}:${c.principal.userId}`;
          const { action } = c.args;
          if (action === 'show') {
            if (c.args.name !== undefined && c.args.value !== undefined) return c.fail(`to change a limit: /limits set ${c.args.name} ${c.args.value}`);
            if (c.args.name !== undefined) {
              const name = resolveLimit(c.args.name, c.fail);
              const l = await engine.limits();
              return reply.of(
                block.kv([
                  ['limit', name],
                  ['value', formatLimit(name, l[name], currency)],
                  ['config', formatLimit(name, engine.configLimit(name), currency)],
                  ['what', LIMIT_INFO[name].summary],
                  ['values', LIMIT_INFO[name].rule(currency)],
                ]),
              );
            }
            return limitsReply(await engine.limitsState(), (n) => engine.configLimit(n), currency);
          }

          if (action === 'reset-peak') {
            const { old, next } = await engine.resetPeak();
            ctx.audit({ kind: 'risk.peak', action: 'reset', old: old?.equity ?? null, new: next.equity, by });
            const was = old === null ? 'none' : `${cash(old.equity, currency)} (${utc(old.at)})`;
            return reply.text(`Equity peak: ${was} → ${cash(next.equity, currency)} now; drawdown is measured from here.`, 'ok');
          }

          const name = resolveLimit(c.args.name, c.fail);
          if (action === 'reset') {
            const old = await engine.resetLimit(name);
            const now = engine.configLimit(name);
            ctx.audit({ kind: 'risk.limit', action: 'reset', limit: name, old, new: now, by });
            return reply.text(`${name}: ${formatLimit(name, old, currency)} → ${formatLimit(name, now, currency)} (the config value)`, 'ok');
          }

          if (c.args.value === undefined) return c.fail(`/limits set ${name} <value>: ${name} must be ${LIMIT_INFO[name].rule(currency)}`);
          const parsed = await parseLimitValue(name, c.args.value, currency, async (exchange, symbol) => {
            const r = await ctx.market.resolve(exchange === undefined ? { symbol } : { exchange, symbol });
            return exchange === undefined ? r.symbol : `${r.exchange}:${r.symbol}`;
          });
          if (!parsed.ok) return c.fail(parsed.message);
          const old = await engine.setLimit(name, parsed.value, by);
          ctx.audit({ kind: 'risk.limit', action: 'set', limit: name, old, new: parsed.value, by });
          return reply.text(
            `${name}: ${formatLimit(name, old, currency)} → ${formatLimit(name, parsed.value, currency)} (config value ${formatLimit(name, engine.configLimit(name), currency)})`,
            'ok',
          );
        },
      }),
    );
  },
});
