import {
  timeframeMs,
  UserError,
  type Order,
  type PluginContext,
  type Ticker,
} from '../../src/kernel/index.js';
import type { CheckEnv } from './checks.js';
import { quoteOf } from './checks.js';
import { configLimits, type LimitName, type Limits, type RiskConfig } from './config.js';
import {
  brokerErrors,
  dailyLoss,
  drawdown,
  nextPeak,
  staleData,
  startOfUtcDay,
  type GuardName,
  type GuardResult,
  type PriceAge,
} from './guards.js';
import { applyOverrides } from './limits.js';
import { closedTrades, dailyVol, finish, kellyStats, sizeByKelly, sizeByVolatility, sizeWithStop, type RawSize, type SizeRequest, type SizeResult } from './sizing.js';

/**
 * The risk plugin's state and its reads of the desk: limits in force (config + overrides in the
 * store), valuations at ctx.market prices, the guards' inputs and their outcome (halt, alert),
 * and sizing. Everything it reads comes from ctx.orders (balances, positions, open orders,
 * ledger) and ctx.market (tickers, candles); nothing is estimated or filled in.
 *
 * Store keys (the plugin's own namespace, shared by instances on Redis):
 *   limits        { [limit]: value }          overrides set with /limits set
 *   limits.meta   { [limit]: { by, at } }     who set each override, when
 *   peak          { equity, at }              equity's high-water mark (drawdown guard)
 *   failures      [{ id, at }]                broker failures inside the longest window
 *   guards        { at, results, breached }   the last guard run and which guards are breached
 */

export type RiskContext = Pick<PluginContext<RiskConfig>, 'config' | 'orders' | 'market' | 'store' | 'clock' | 'log' | 'emit' | 'alert' | 'audit'>;

export interface RiskBreach {
  guard: GuardName;
  detail: string;
  severity: 'critical';
  /** ms UTC */
  at: number;
}

export interface PositionView {
  exchange: string;
  symbol: string;
  amount: number;
  avgPrice: number;
  /** last price, or null with `error` when the market gave none */
  price: number | null;
  priceTime: number | null;
  /** |amount| × price in the desk currency */
  notional: number | null;
  /** amount × (price − avgPrice) in the desk currency */
  unrealised: number | null;
  error?: string;
}

export interface Snapshot {
  /** the desk clock's now (PnL day, failure window, peak time) */
  at: number;
  /** the market's now (price ages): the clock when live, the fixed replay time when replaying */
  marketNow: number;
  replay: boolean;
  currency: string;
  limits: Limits;
  overridden: LimitName[];
  positions: PositionView[];
  open: Order[];
  gross: number | Error;
  pnl: { realised: number; unrealised: number } | Error;
  equity: { equity: number; peak: number; peakAt: number } | Error;
  prices: PriceAge[];
  failures: number[];
}

export interface GuardRun {
  at: number;
  results: GuardResult[];
  /** guards breached as of this run */
  breached: GuardName[];
}

interface StoredFailure {
  id: string;
  at: number;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

export class RiskEngine {
  readonly currency: string;
  /** where balances are valued (their currency's ticker against the desk currency) */
  readonly exchange: string;
  private readonly base: Limits;
  private settling: Promise<unknown> = Promise.resolve();
  private running: Promise<{ snapshot: Snapshot; run: GuardRun }> | null = null;

  constructor(private readonly ctx: RiskContext) {
    this.currency = ctx.config.currency ?? ctx.market.defaultQuote();
    this.exchange = ctx.config.exchange ?? ctx.market.defaultExchange;
    this.base = configLimits(ctx.config);
  }

  // ---- limits -------------------------------------------------------------------------------

  async limitsState(): Promise<{ limits: Limits; overridden: LimitName[]; meta: Record<string, { by: string; at: number }> }> {
    const { limits, overridden } = await this.effective();
    const meta = ((await this.ctx.store.get('limits.meta')) as Record<string, { by: string; at: number }> | undefined) ?? {};
    return { limits, overridden, meta };
  }

  /** read from the store each time, so a change made on another instance applies at once */
  async limits(): Promise<Limits> {
    return (await this.effective()).limits;
  }

  private async effective(): Promise<{ limits: Limits; overridden: LimitName[] }> {
    const stored: unknown = await this.ctx.store.get('limits');
    const { limits, overridden, dropped } = applyOverrides(this.base, stored);
    if (dropped.length > 0) this.ctx.log.warn({ dropped }, 'risk: stored limit overrides ignored');
    return { limits, overridden };
  }

  configLimit<K extends LimitName>(name: K): Limits[K] {
    return this.base[name];
  }

  /** store an override; returns the value it replaces */
  async setLimit<K extends LimitName>(name: K, value: Limits[K], by: string): Promise<Limits[K]> {
    const old = (await this.limits())[name];
    const stored = ((await this.ctx.store.get('limits')) as Record<string, unknown> | undefined) ?? {};
    const meta = ((await this.ctx.store.get('limits.meta')) as Record<string, unknown> | undefined) ?? {};
    await this.ctx.store.set('limits', { ...stored, [name]: value });
    await this.ctx.store.set('limits.meta', { ...meta, [name]: { by, at: this.ctx.clock.now() } });
    return old;
  }

  /** drop an override (back to the config's value); returns the value it replaced */
  async resetLimit<K extends LimitName>(name: K): Promise<Limits[K]> {
    const old = (await this.limits())[name];
    const stored = { ...(((await this.ctx.store.get('limits')) as Record<string, unknown> | undefined) ?? {}) };
    const meta = { ...(((await this.ctx.store.get('limits.meta')) as Record<string, unknown> | undefined) ?? {}) };
    delete stored[name];
    delete meta[name];
    await this.ctx.store.set('limits', stored);
    await this.ctx.store.set('limits.meta', meta);
    return old;
  }

  // ---- prices -------------------------------------------------------------------------------

  async ticker(exchange: string, symbol: string): Promise<Ticker> {
    return this.ctx.market.ticker({ exchange, symbol });
  }

  async mark(exchange: string, symbol: string): Promise<number> {
    const t = await this.ticker(exchange, symbol);
    if (!(t.last > 0)) throw new Error(`${exchange} ${symbol}: no last price`);
    return t.last;
  }

  /** `amount` of `ccy` in the desk currency: ccy/desk or desk/ccy on the exchange, else an error naming both */
  async toDesk(amount: number, ccy: string, exchange: string): Promise<number> {
    if (ccy === this.currency || amount === 0) return amount;
    const direct = await this.mark(exchange, `${ccy}/${this.currency}`).catch(() => null);
    if (direct !== null) return amount * direct;
    const inverse = await this.mark(exchange, `${this.currency}/${ccy}`).catch(() => null);
    if (inverse !== null) return amount / inverse;
    throw new Error(`cannot value ${ccy} in ${this.currency}: no price for ${ccy}/${this.currency} or ${this.currency}/${ccy} on ${exchange}`);
  }

  checkEnv(): CheckEnv {
    return {
      currency: this.currency,
      limits: () => this.limits(),
      toDesk: (a, c, e) => this.toDesk(a, c, e),
      mark: (e, s) => this.mark(e, s),
      now: () => this.ctx.market.now(),
      replay: this.ctx.market.mode === 'replay',
    };
  }

  /** balances valued in the desk currency at current prices */
  async equity(): Promise<number> {
    const balances = await this.ctx.orders.balances();
    let total = 0;
    for (const b of balances) {
      if (b.total === 0) continue;
      total += await this.toDesk(b.total, b.currency, this.exchange);
    }
    return total;
  }

  // ---- the guards' inputs ---------------------------------------------------------------------

  async snapshot(): Promise<Snapshot> {
    const { ctx } = this;
    const at = ctx.clock.now();
    const { limits, overridden } = await this.limitsState();
    const [positions, open] = await Promise.all([ctx.orders.positions(), ctx.orders.open()]);

    // one ticker per market with a position or an open order: marks, ages, the stale guard
    const tickers = new Map<string, Ticker | Error>();
    const key = (e: string, s: string): string => `${e}\u0000${s}`;
    const watched = [...positions.filter((p) => p.amount !== 0), ...open];
    for (const m of watched) {
      const k = key(m.exchange, m.symbol);
      if (tickers.has(k)) continue;
      tickers.set(k, await this.ticker(m.exchange, m.symbol).catch(asError));
    }
    const prices: PriceAge[] = [...tickers.entries()].map(([k, t]) => {
      const [exchange = '', symbol = ''] = k.split('\u0000');
      return t instanceof Error ? { exchange, symbol, time: null, error: t.message } : { exchange, symbol, time: t.time };
    });

    const views: PositionView[] = [];
    let gross: number | Error = 0;
    let unrealised: number | Error = 0;
    for (const p of positions) {
      if (p.amount === 0) continue;
      const t = tickers.get(key(p.exchange, p.symbol));
      const view: PositionView = { exchange: p.exchange, symbol: p.symbol, amount: p.amount, avgPrice: p.avgPrice, price: null, priceTime: null, notional: null, unrealised: null };
      try {
        if (t === undefined || t instanceof Error) throw t ?? new Error('no ticker');
        view.price = t.last;
        view.priceTime = t.time;
        const q = quoteOf(p.symbol);
        view.notional = await this.toDesk(Math.abs(p.amount) * t.last, q, p.exchange);
        view.unrealised = await this.toDesk(p.amount * (t.last - p.avgPrice), q, p.exchange);
        if (typeof gross === 'number') gross += view.notional;
        if (typeof unrealised === 'number') unrealised += view.unrealised;
      } catch (err) {
        view.error = message(err);
        const e = new Error(`${p.exchange} ${p.symbol}: ${view.error}`);
        gross = e;
        unrealised = e;
      }
      views.push(view);
    }

    let pnl: Snapshot['pnl'];
    try {
      if (unrealised instanceof Error) throw unrealised;
      const entries = await ctx.orders.ledger(startOfUtcDay(at));
      let realised = 0;
      for (const e of entries) realised += await this.toDesk(e.realisedPnl, e.quote, e.exchange);
      pnl = { realised, unrealised };
    } catch (err) {
      pnl = asError(err);
    }

    let equity: Snapshot['equity'];
    try {
      const now = await this.equity();
      const stored = (await ctx.store.get('peak')) as { equity: number; at: number } | undefined;
      const peak = nextPeak(stored, now, at);
      if (peak !== stored) await ctx.store.set('peak', peak);
      equity = { equity: now, peak: peak.equity, peakAt: peak.at };
    } catch (err) {
      equity = asError(err);
    }

    return { at, marketNow: ctx.market.now(), replay: ctx.market.mode === 'replay', currency: this.currency, limits, overridden, positions: views, open, gross, pnl, equity, prices, failures: await this.failureTimes() };
  }

  assess(s: Snapshot): GuardResult[] {
    const l = s.limits;
    return [
      dailyLoss(s.pnl, l.dailyLossLimit, s.currency),
      drawdown(s.equity, l.maxDrawdownPct, s.currency),
      staleData(s.prices, s.marketNow, l.staleDataSeconds, s.replay),
      brokerErrors(s.failures, s.at, l['brokerErrorRate.maxFailures'], l['brokerErrorRate.windowMinutes']),
    ];
  }

  // ---- running the guards ---------------------------------------------------------------------

  /** evaluate every guard now; a breach halts (once) and alerts. Runs never overlap. */
  async runGuards(): Promise<GuardRun> {
    return (await this.evaluate()).run;
  }

  /** runGuards with the numbers it judged (for /risk: one reading for the table and the guards) */
  evaluate(): Promise<{ snapshot: Snapshot; run: GuardRun }> {
    if (this.running) return this.running;
    const run = (async (): Promise<{ snapshot: Snapshot; run: GuardRun }> => {
      const snapshot = await this.snapshot();
      return { snapshot, run: await this.settle(snapshot.at, this.assess(snapshot)) };
    })();
    this.running = run;
    void run
      .finally(() => {
        if (this.running === run) this.running = null;
      })
      .catch(() => undefined);
    return run;
  }

  /** resolves when no guard run or settle is in flight (teardown waits for it before the store closes) */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
    await this.settling;
  }

  /** the last run, as stored (null before the first) */
  async lastRun(): Promise<GuardRun | null> {
    return ((await this.ctx.store.get('guards')) as GuardRun | undefined) ?? null;
  }

  /**
   * Act on guard results. A breach halts unless trading is already halted (one breach, one halt:
   * the original halt's reason stands), and alerts when it halts or when the guard has just
   * become breached. A guard that is ok again is cleared, so its next breach alerts again.
   * After a resume, a guard still breached halts again: to trade on, an admin raises the limit
   * with /limits set (audited) or, for drawdown, starts a new peak with /limits reset-peak.
   */
  settle(at: number, results: GuardResult[], only?: GuardName): Promise<GuardRun> {
    // a broker failure and the interval may settle at once: one at a time, so neither loses the other's state
    const next = this.settling.then(() => this.settleNow(at, results, only));
    this.settling = next.catch(() => undefined);
    return next;
  }

  private async settleNow(at: number, results: GuardResult[], only?: GuardName): Promise<GuardRun> {
    const last = await this.lastRun();
    const before = new Set(last?.breached ?? []);
    const merged = only === undefined ? results : [...(last?.results ?? []).filter((r) => r.guard !== only), ...results];
    const breached = new Set([...before].filter((g) => only !== undefined && g !== only));
    for (const r of results) {
      if (r.status !== 'breached') continue;
      breached.add(r.guard);
      const status = await this.ctx.orders.halted();
      let halted = false;
      if (!status.halted) {
        const outcome = await this.ctx.orders.halt('risk', `${r.guard} breached: ${r.detail}`);
        halted = outcome.changed;
      }
      if (halted || !before.has(r.guard)) await this.alert(r, at, halted);
    }
    // a guard that could not be judged keeps its last breach state: unknown is not "recovered"
    for (const r of results) if (r.status === 'unknown' && before.has(r.guard)) breached.add(r.guard);
    const run: GuardRun = { at, results: merged, breached: [...breached] };
    await this.ctx.store.set('guards', run);
    return run;
  }

  private async alert(r: GuardResult, at: number, halted: boolean): Promise<void> {
    this.ctx.log.warn({ guard: r.guard, detail: r.detail, halted }, 'risk guard breached');
    this.ctx.audit({ kind: 'risk.breach', guard: r.guard, detail: r.detail, halted });
    await this.ctx.emit('risk.breach', { guard: r.guard, detail: r.detail, severity: 'critical', at });
    await this.ctx.alert({ kind: 'risk', severity: 'critical', title: `${r.guard} breached: ${r.detail}${halted ? ' — trading HALTED' : ' (trading was already halted)'}`, dedupeKey: `risk|${r.guard}|${at}` });
  }

  // ---- broker failures ------------------------------------------------------------------------

  async failureTimes(): Promise<number[]> {
    return (((await this.ctx.store.get('failures')) as StoredFailure[] | undefined) ?? []).map((f) => f.at);
  }

  /** an order ended "failed": count it (once per order) and judge the broker-error guard at once */
  async recordFailure(order: Pick<Order, 'id' | 'updatedAt'>): Promise<GuardRun> {
    const now = this.ctx.clock.now();
    const limits = await this.limits();
    const windowMs = limits['brokerErrorRate.windowMinutes'] * 60_000;
    const list = ((await this.ctx.store.get('failures')) as StoredFailure[] | undefined) ?? [];
    const at = Number.isFinite(order.updatedAt) ? order.updatedAt : now;
    // keep a day at least, so a wider window set later still sees recent failures
    const keepFrom = now - Math.max(windowMs, 86_400_000);
    const next = list.some((f) => f.id === order.id) ? list : [...list, { id: order.id, at }];
    await this.ctx.store.set('failures', next.filter((f) => f.at > keepFrom));
    const result = brokerErrors(next.map((f) => f.at), now, limits['brokerErrorRate.maxFailures'], limits['brokerErrorRate.windowMinutes']);
    return this.settle(now, [result], 'broker-errors');
  }

  /** start a new equity peak at the current equity; returns the old and the new peak */
  async resetPeak(): Promise<{ old: { equity: number; at: number } | null; next: { equity: number; at: number } }> {
    const old = ((await this.ctx.store.get('peak')) as { equity: number; at: number } | undefined) ?? null;
    const next = { equity: await this.equity(), at: this.ctx.clock.now() };
    await this.ctx.store.set('peak', next);
    return { old, next };
  }

  // ---- sizing ---------------------------------------------------------------------------------

  async size(req: SizeRequest): Promise<SizeResult> {
    const cfg = this.ctx.config.sizing;
    if (!(req.riskPct > 0)) throw new UserError(`riskPct must be above 0, got ${req.riskPct}`);
    if (req.riskPct > cfg.maxRiskPct) throw new UserError(`risk ${req.riskPct} % is above the most a sizing allows (${cfg.maxRiskPct} %, sizing.maxRiskPct)`);
    const { exchange, symbol } = await this.ctx.market.resolve({ exchange: req.exchange, symbol: req.symbol });
    const [baseCcy = symbol, quote = this.currency] = symbol.split('/');
    const price = await this.mark(exchange, symbol);
    const deskPerQuote = await this.toDesk(1, quote, exchange);
    const equity = (await this.equity()) / deskPerQuote;
    if (!(equity > 0)) throw new UserError(`equity is ${equity}: nothing to size from`);
    const common = { equity, riskPct: req.riskPct, price, quote };

    let raw: RawSize;
    let method: SizeResult['method'];
    if (req.stopPrice !== undefined) {
      method = 'stop';
      raw = sizeWithStop({ ...common, side: req.side, stop: req.stopPrice });
    } else if (cfg.method === 'volatility') {
      method = 'volatility';
      const tfMs = timeframeMs(cfg.volTimeframe) as number;
      const w = await this.ctx.market.series({ exchange, symbol, timeframe: cfg.volTimeframe, need: cfg.volLookback + 1 });
      const sigmaDay = dailyVol(w.close, cfg.volLookback, tfMs);
      raw = sizeByVolatility({ ...common, sigmaDay, targetVolPct: cfg.targetVolPct, basis: `${cfg.volLookback} × ${cfg.volTimeframe} returns of ${symbol}` });
    } else {
      method = 'kelly';
      const since = this.ctx.clock.now() - cfg.kellyLookbackDays * 86_400_000;
      const stats = kellyStats(closedTrades(await this.ctx.orders.ledger(since)));
      raw = sizeByKelly({ ...common, stats, kellyFraction: cfg.kellyFraction, kellyCap: cfg.kellyCap, minTrades: cfg.kellyMinTrades, lookbackDays: cfg.kellyLookbackDays });
    }
    const maxNotional = (await this.limits()).maxOrderNotional / deskPerQuote;
    return finish(raw, { method, price, equity, maxNotional, quote, base: baseCcy });
  }
}
