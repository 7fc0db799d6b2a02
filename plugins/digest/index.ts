import { z } from 'zod';
import {
  arg,
  block,
  defineCommand,
  definePlugin,
  renderCandleChart,
  TIMEFRAMES,
  utcAt,
  type Block,
  type DigestFacts,
  type DigestPeriod,
  type JobRun,
  type PluginContext,
  type Reply,
  type Summary,
  reply,
  UserError,
} from '../../src/kernel/index.js';

const kindSchema = z
  .object({
    title: z.string().min(1).default('Desk digest'),
    /** section names in order ("market", "signals", "regimes", "whales", "positions", "risk", "halts"); null: every section */
    sections: z.array(z.string().min(1)).nullable().default(null),
  })
  .strict();

const configSchema = z
  .object({
    /** the markets a digest is about */
    symbols: z.array(z.string().regex(/^[A-Z0-9]+\/[A-Z0-9]+$/)).min(1).default(['BTC/USDT', 'ETH/USDT']),
    chart: z
      .object({ enabled: z.boolean().default(true), timeframe: z.enum(TIMEFRAMES).default('1h'), bars: z.number().int().min(10).max(500).default(48) })
      .strict()
      .default({ enabled: true, timeframe: '1h', bars: 48 }),
    /** named digests; a schedule named like one uses it, any other `kind: digest` schedule uses defaultKind */
    kinds: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), kindSchema).default({ daily: { title: 'Desk digest', sections: null } }),
    defaultKind: z.string().default('daily'),
    /** the period of a digest that has no previous run (first run, /digest now) */
    periodHours: z.number().positive().max(24 * 31).default(24),
  })
  .strict()
  .refine((c) => c.kinds[c.defaultKind] !== undefined, { message: 'defaultKind must name one of kinds', path: ['defaultKind'] });

type Config = z.output<typeof configSchema>;

/**
 * Digests: one Reply composed of the sections plugins contribute (`ctx.contribute('digest', …)`)
 * plus this plugin's market overview and chart, with a summary paragraph at the top that only
 * restates the sections' facts. Runs for every configured schedule of kind `digest` (posted to its
 * targets), and on demand with /digest.
 */
export default definePlugin({
  name: 'digest',
  version: '1.0.0',
  description: 'Scheduled and on-demand digests from the sections plugins contribute',
  config: configSchema,
  setup(ctx) {
    const cfg = ctx.config;

    ctx.job('digest', async (run: JobRun) => {
      const kind = cfg.kinds[run.name] !== undefined ? run.name : cfg.defaultKind;
      const period = { since: run.previous ?? run.at - cfg.periodHours * 3_600_000, until: run.at, symbols: cfg.symbols };
      const r = await compose(ctx, kind, period, run.missed);
      for (const target of run.targets) {
        const sent = await ctx.post(target, r);
        if (!sent.ok) ctx.log.error({ target, error: sent.error, schedule: run.name }, 'digest not delivered');
      }
      ctx.audit({ kind: 'digest', schedule: run.name, digest: kind, trigger: run.trigger, targets: run.targets, missed: run.missed?.count ?? 0 });
    });

    ctx.command(
      defineCommand({
        name: 'summary',
        summary: 'A short written summary of a symbol (price, move, signal, regime) or of the portfolio',
        args: {
          what: arg.string({ max: 30, pattern: /^[A-Za-z0-9/-]+$/, patternHint: 'a symbol like BTC/USDT, or portfolio' }).describe('a symbol, or "portfolio"'),
          question: arg.string({ max: 300 }).rest().optional().describe('what to stress, in your words (passed to the LLM as quoted text, never as instructions)'),
        },
        permission: 'market:read',
        examples: ['/summary BTC/USDT', '/summary eth why did it drop?', '/summary portfolio'],
        handler: async (c) => {
          const out =
            c.args.what.toLowerCase() === 'portfolio' ? await portfolioSummary(ctx, c.principal.person) : await symbolSummary(ctx, c.args.what, c.principal.person, c.args.question);
          return reply.of(block.text(out.text), block.text(out.source === 'llm' ? `written by the LLM from the desk's numbers (${out.promptId} v${out.promptVersion})` : `template${out.reason ? ` (${out.reason})` : ''}`));
        },
      }),
    );

    ctx.command(
      defineCommand({
        name: 'digest',
        summary: 'The desk digest now: market, signals, regimes, whales, positions, risk, halts',
        args: { kind: arg.string({ max: 40, pattern: /^[a-z][a-z0-9-]*$/, patternHint: `now or a digest kind (${Object.keys(cfg.kinds).join(', ')})` }).default('now') },
        permission: 'market:read',
        examples: ['/digest', '/digest now', `/digest ${cfg.defaultKind}`],
        handler: async (c) => {
          const kind = c.args.kind === 'now' ? cfg.defaultKind : c.args.kind;
          if (cfg.kinds[kind] === undefined) return c.fail(`no digest "${kind}" (digests: ${Object.keys(cfg.kinds).join(', ')})`);
          const now = ctx.clock.now();
          return compose(ctx, kind, { since: now - cfg.periodHours * 3_600_000, until: now, symbols: cfg.symbols }, null);
        },
      }),
    );
  },
});

async function compose(ctx: PluginContext<Config>, kindName: string, period: DigestPeriod, missed: JobRun['missed']): Promise<Reply> {
  const kind = ctx.config.kinds[kindName] ?? { title: 'Desk digest', sections: null };
  const all = [{ name: 'market', title: 'Market', order: 10, render: (p: DigestPeriod) => marketSection(ctx, p) }, ...ctx.contributions('digest')].sort((a, b) => a.order - b.order);
  const chosen = kind.sections === null ? all : kind.sections.map((n) => all.find((s) => s.name === n)).filter((s): s is (typeof all)[number] => s !== undefined);
  const parts: Block[] = [];
  const facts: DigestFacts = { numbers: {}, symbols: [] };
  for (const section of chosen) {
    try {
      const out = await section.render(period);
      if (out === null) continue;
      parts.push(...out.blocks);
      if (out.facts) {
        Object.assign(facts.numbers, out.facts.numbers);
        facts.symbols.push(...out.facts.symbols.filter((s) => !facts.symbols.includes(s)));
      }
    } catch (err) {
      // one broken section must not sink the digest: it says so in place
      parts.push(block.text(`${section.title}: not available (${err instanceof Error ? err.message : String(err)})`, 'warn'));
      ctx.log.warn({ err, section: section.name }, 'digest section failed');
    }
  }
  const head: Block[] = [block.text(`${kind.title} — ${utcAt(period.since)} to ${utcAt(period.until)}`)];
  if (missed) {
    head.push(block.text(`Missed ${missed.count} scheduled run${missed.count === 1 ? '' : 's'} while the desk was down (${utcAt(missed.first)}${missed.count > 1 ? ` to ${utcAt(missed.last)}` : ''}); not replayed — this digest covers the whole period.`, 'warn'));
  }
  head.push(block.text(await summary(ctx, facts, period)));
  return { blocks: [...head, ...parts] };
}

/**
 * The opening paragraph: the governed LLM writes it from the sections' facts (moves of the
 * digest's symbols, the desk's PnL) and may only restate those numbers; without a key, or when
 * its text fails the checks, the prompt's template says the same from the same facts.
 */
async function summary(ctx: PluginContext<Config>, facts: DigestFacts, period: DigestPeriod): Promise<string> {
  const numbers: Record<string, number> = {};
  // the prompt takes at most 30 symbols: the biggest movers lead a digest anyway
  const symbols = facts.symbols
    .filter((s) => facts.numbers[`${s}.changePct`] !== undefined)
    .sort((a, b) => Math.abs(facts.numbers[`${b}.changePct`] as number) - Math.abs(facts.numbers[`${a}.changePct`] as number))
    .slice(0, 30);
  for (const s of symbols) numbers[`${s}.changePct`] = facts.numbers[`${s}.changePct`] as number;
  const realised = facts.numbers['realised PnL'];
  const unrealised = facts.numbers['unrealised PnL'];
  if (realised !== undefined || unrealised !== undefined) numbers.deskPnl = Number(((realised ?? 0) + (unrealised ?? 0)).toFixed(2));
  if (symbols.length === 0) return 'No market moves to summarise for this period.';
  const out = await ctx.llm.summarise({ prompt: 'digest-summary', facts: { symbols, numbers, text: { period: `${utcAt(period.since)} to ${utcAt(period.until)}` } }, person: null });
  return out.text;
}

/** the facts of the market, signals and regimes sections for one symbol, in the market-summary prompt's shape */
async function symbolSummary(ctx: PluginContext<Config>, typed: string, person: string | null, question?: string): Promise<Summary> {
  const { symbol } = await ctx.market.resolve({ symbol: typed.toUpperCase().replace('-', '/') });
  const now = ctx.clock.now();
  const period = { since: now - 86_400_000, until: now, symbols: [symbol] };
  const t = await ctx.market.ticker({ symbol });
  if (t.change24hPct === null) throw new UserError(`${symbol}: no 24 h change on record, nothing to summarise`);
  const text: Record<string, string> = { window: '24 h', signal: 'not available', regime: 'not available' };
  for (const section of ctx.contributions('digest').filter((x) => x.name === 'signals' || x.name === 'regimes')) {
    try {
      const out = await section.render(period);
      const v = out?.facts?.text?.[`${symbol}.${section.name === 'signals' ? 'signal' : 'regime'}`];
      if (v !== undefined) text[section.name === 'signals' ? 'signal' : 'regime'] = v;
    } catch (err) {
      ctx.log.warn({ err, section: section.name }, 'summary section failed');
    }
  }
  const facts = { symbols: [symbol], numbers: { price: t.last, changePct: Number(t.change24hPct.toFixed(2)) }, text, ...(question ? { quoted: { question } } : {}) };
  return ctx.llm.summarise({ prompt: 'market-summary', facts, person });
}

/** positions marked at the ticker, total PnL and risk use, in the portfolio-summary prompt's shape */
async function portfolioSummary(ctx: PluginContext<Config>, person: string | null): Promise<Summary> {
  const positions = (await ctx.orders.positions()).filter((p) => p.amount !== 0);
  const numbers: Record<string, number> = {};
  let total = 0;
  for (const p of positions) {
    const t = await ctx.market.ticker({ exchange: p.exchange, symbol: p.symbol });
    const pnl = (t.last - p.avgPrice) * p.amount + p.realisedPnl;
    numbers[`${p.symbol}.qty`] = p.amount;
    numbers[`${p.symbol}.pnl`] = Number(pnl.toFixed(2));
    total += pnl;
  }
  numbers.totalPnl = Number(total.toFixed(2));
  const risk = ctx.contributions('digest').find((x) => x.name === 'risk');
  const riskFacts = risk ? (await risk.render({ since: ctx.clock.now(), until: ctx.clock.now(), symbols: [] }))?.facts : undefined;
  numbers.riskUsePct = riskFacts?.numbers.riskUsePct ?? 0;
  return ctx.llm.summarise({ prompt: 'portfolio-summary', facts: { symbols: positions.map((p) => p.symbol), numbers }, person });
}

/** last price, 24 h change and volume per symbol, and a chart of the first: from ctx.market only */
async function marketSection(ctx: PluginContext<Config>, period: DigestPeriod): Promise<{ blocks: Block[]; facts: DigestFacts }> {
  const rows: string[][] = [];
  const numbers: Record<string, number> = {};
  const symbols: string[] = [];
  for (const symbol of period.symbols) {
    try {
      const t = await ctx.market.ticker({ symbol });
      rows.push([t.symbol, price(t.last), t.change24hPct === null ? 'n/a' : `${t.change24hPct >= 0 ? '+' : ''}${t.change24hPct.toFixed(2)} %`, t.baseVolume24h === null ? 'n/a' : t.baseVolume24h.toFixed(2), utcAt(t.time)]);
      numbers[`${t.symbol}.price`] = t.last;
      if (t.change24hPct !== null) numbers[`${t.symbol}.changePct`] = Number(t.change24hPct.toFixed(2));
      symbols.push(t.symbol);
    } catch (err) {
      rows.push([symbol, 'no price', '-', '-', err instanceof Error ? err.message : String(err)]);
    }
  }
  const blocks: Block[] = [block.table(['symbol', 'last', '24h', 'volume 24h', 'as of'], rows, { title: 'Market', align: ['left', 'right', 'right', 'right', 'left'] })];
  const chart = ctx.config.chart;
  const first = period.symbols[0];
  if (chart.enabled && first !== undefined) {
    try {
      const candles = await ctx.market.candles({ symbol: first, timeframe: chart.timeframe, limit: chart.bars });
      if (candles.length > 1) blocks.push({ type: 'image', png: renderCandleChart(candles), alt: `${candles.symbol} ${chart.timeframe}, last ${candles.length} candles`, filename: `${candles.symbol.replace('/', '-')}_${chart.timeframe}.png` });
    } catch (err) {
      blocks.push(block.text(`Chart of ${first}: not available (${err instanceof Error ? err.message : String(err)})`, 'warn'));
    }
  }
  return { blocks, facts: { numbers, symbols } };
}

function price(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: n >= 1000 ? 2 : 6 });
}

