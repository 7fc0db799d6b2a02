import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { z } from 'zod';
import { AuditLog } from './audit.js';
import { Permissions } from './auth/permissions.js';
import { builtinCommands } from './builtin-commands.js';
import { systemClock, type Clock } from './clock.js';
import type { ArgShape } from './commands/args.js';
import type { CommandSpec } from './commands/command.js';
import { Dispatcher, type IncomingMessage } from './commands/dispatcher.js';
import { PendingActions } from './commands/pending.js';
import { CommandRegistry } from './commands/registry.js';
import { effectiveStoreKind, type DeskbotConfig } from './config/schema.js';
import type { Secrets } from './config/secrets.js';
import { Dedupe } from './dedupe.js';
import { EventBus } from './events.js';
import { HaltState, type HaltStatus } from './halt.js';
import { loadPluginModule, orderByNeeds, pluginFolders, type FoundPlugin } from './plugins/discover.js';
import { PluginHost } from './plugins/host.js';
import type { KernelInfo, PluginContext, PluginManifest, Services } from './plugins/plugin.js';
import type { Reply } from './reply.js';
import { storeRunCoordinator } from './run-coordinator.js';
import { Scheduler } from './scheduler.js';
import { openMarket } from '../market/open.js';
import type { MarketData } from '../market/service.js';
import { openStore, type KernelStore } from './store.js';
import { OrderGateway } from './orders/gateway.js';
import { OrderJournal } from './orders/journal.js';
import { LiveSwitch, type LiveBroker } from './orders/live-switch.js';
import { syncHalts } from './orders/halt-sync.js';
import type { Broker } from './orders/types.js';
import { tradingCommands } from './trading-commands.js';
import { parseTarget, type AdapterHost, type ChatAdapter } from './adapters.js';
import type { Channel } from './auth/principal.js';
import { AlertRouter } from './alerts/router.js';
import { Outbox, type PostResult } from './outbox.js';
import { alertCommands } from './alerts/commands.js';
import { ContributionRegistry } from './contributions.js';
import { ConfigJobs } from './jobs.js';
import { scheduleCommands } from './schedule-commands.js';
import { createLlm, type Llm } from '../llm/index.js';
import { PaperBroker } from '../brokers/paper/index.js';
import { createLiveBroker } from '../brokers/live/index.js';
import { DeskMetrics, Readiness, startOpsServer, type OpsServer } from '../ops/index.js';
import { utcClock, utcMinute } from './utc.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** how often the kernel flushes the audit log to disk and touches the heartbeat file */
export const HOUSEKEEPING_MS = 5_000;
/** `deskbot health` (the container healthcheck) reads this file's age */
export const HEARTBEAT_FILE = 'heartbeat';
/** where src/ and plugins/ live: the repo root under tsx, dist/ when compiled */
export const CODE_ROOT = path.resolve(here, '..', '..');

export interface KernelOptions {
  config: DeskbotConfig;
  secrets: Secrets;
  logger: Logger;
  clock?: Clock;
  /** working directory relative paths (dataDir) resolve against; default process.cwd() */
  cwd?: string;
  /** plugins given directly (tests, embedding), in addition to discovered ones */
  plugins?: PluginManifest[];
  /** false: load only `plugins`, skip folders and packages (tests) */
  discover?: boolean;
  /** an already-open store (tests share one across kernels) */
  store?: KernelStore;
  /** a market service to use instead of the configured one (tests) */
  market?: MarketData;
  /** the live broker to arm instead of the configured ccxt one (tests) */
  liveBroker?: () => Promise<LiveBroker>;
}

/**
 * The host every plugin stands on: store, audit, permissions, command registry and
 * dispatcher, scheduler, events, halt state and the plugin lifecycle. Adapters talk to it
 * through `handle(message)` and `post`-style events; plugins through their PluginContext.
 */
export class Kernel {
  readonly registry = new CommandRegistry();
  readonly events: EventBus;
  readonly permissions: Permissions;
  readonly scheduler: Scheduler;
  readonly startedAt: number;
  private readonly host: PluginHost;
  private dispatcherRef: Dispatcher | undefined;
  private stopping: Promise<void> | undefined;
  private housekeeping: NodeJS.Timeout | undefined;
  private marketRef: MarketData | undefined;
  private ownsMarket = false;
  private gatewayRef: OrderGateway | undefined;
  private liveRef: LiveSwitch | undefined;
  private paperRef: Broker | undefined;
  private stopHaltSync: (() => Promise<void>) | undefined;
  private readonly adapters = new Map<string, ChatAdapter>();
  private alertsRef: AlertRouter | undefined;
  private outboxRef: Outbox | undefined;
  private jobsRef: ConfigJobs | undefined;
  private llmRef: Llm | undefined;
  readonly contributions = new ContributionRegistry();
  /** Prometheus metrics (src/ops); the LLM client reports its calls with metrics.recordLlmCall */
  readonly metrics: DeskMetrics;
  private opsRef: OpsServer | undefined;
  /** platform → why its adapter failed to start (it stays unready until one attaches) */
  private readonly attachFailures = new Map<string, string>();

  private constructor(
    readonly config: DeskbotConfig,
    readonly logger: Logger,
    readonly clock: Clock,
    readonly store: KernelStore,
    readonly audit: AuditLog,
    readonly halt: HaltState,
    readonly dataDir: string,
    private readonly ownsStore: boolean,
  ) {
    this.startedAt = clock.now();
    this.events = new EventBus(logger);
    this.permissions = new Permissions(config);
    // with a shared store each schedule fires on one instance only
    const coordinator = store.kind === 'redis' ? storeRunCoordinator(store.namespace('cron'), config.instance) : undefined;
    this.scheduler = new Scheduler(logger.child({ part: 'scheduler' }), config.timezone, coordinator);
    this.host = new PluginHost(logger.child({ part: 'plugins' }));
    this.metrics = new DeskMetrics({ instance: config.instance, version: packageVersion(), now: () => clock.now() });
  }

  static async start(opts: KernelOptions): Promise<Kernel> {
    const { config, logger } = opts;
    const clock = opts.clock ?? systemClock;
    const dataDir = path.resolve(opts.cwd ?? process.cwd(), config.dataDir);
    mkdirSync(dataDir, { recursive: true });
    const store =
      opts.store ??
      (await openStore({
        kind: effectiveStoreKind(config),
        dataDir,
        sqliteFile: config.store.sqliteFile,
        redisUrl: config.redis.url,
        keyPrefix: config.redis.keyPrefix,
        onError: (err) => logger.warn({ err }, 'store error'),
      }));
    let audit: AuditLog;
    try {
      audit = await AuditLog.open(path.resolve(dataDir, config.audit.file), { clock });
    } catch (e) {
      if (!opts.store) await store.close();
      throw e;
    }
    const halt = new HaltState(store.namespace('halt'), {
      clock,
      onListenerError: (err) => logger.error({ err }, 'halt listener failed'),
    });
    const kernel = new Kernel(config, logger, clock, store, audit, halt, dataDir, !opts.store);
    try {
      await kernel.boot(opts);
    } catch (e) {
      await kernel.stop();
      throw e;
    }
    return kernel;
  }

  /** prices, candles, books and trades for every plugin (live through ccxt, or recorded) */
  get market(): MarketData {
    if (!this.marketRef) throw new Error('kernel is not started');
    return this.marketRef;
  }

  /** the governed LLM (templates when there is no key) */
  get llm(): Llm {
    if (!this.llmRef) throw new Error('kernel is not started');
    return this.llmRef;
  }

  /** the configured schedules, bound to the plugins that run their kinds */
  get jobs(): ConfigJobs {
    if (!this.jobsRef) throw new Error('kernel is not started');
    return this.jobsRef;
  }

  /** routes alerts to channels (rules, dedupe, throttle, quiet hours, mutes) */
  get alerts(): AlertRouter {
    if (!this.alertsRef) throw new Error('kernel is not started');
    return this.alertsRef;
  }

  /** posts a platform did not take (down, or not attached yet), kept in the store and retried in order */
  get outbox(): Outbox {
    if (!this.outboxRef) throw new Error('kernel is not started');
    return this.outboxRef;
  }

  /** the order gateway: halt, permission, idempotency, risk checks, journal, broker */
  get orders(): OrderGateway {
    if (!this.gatewayRef) throw new Error('kernel is not started');
    return this.gatewayRef;
  }

  get dispatcher(): Dispatcher {
    if (!this.dispatcherRef) throw new Error('kernel is not started');
    return this.dispatcherRef;
  }

  /** the ops HTTP server (/metrics, /healthz, /readyz; `port` is the bound one) when ops.enabled and it could listen */
  get ops(): OpsServer | undefined {
    return this.opsRef;
  }

  /** The entry point for adapters: a reply to render, or null when there is nothing to say. */
  handle(msg: IncomingMessage): Promise<Reply | null> {
    return this.dispatcher.handle(msg);
  }

  /** Connect a chat platform. One adapter per platform; it is stopped first on shutdown. */
  async attach(adapter: ChatAdapter): Promise<void> {
    if (this.adapters.has(adapter.platform)) throw new Error(`an adapter for ${adapter.platform} is already attached`);
    const log = this.logger.child({ adapter: adapter.platform });
    const host: AdapterHost = {
      handle: (msg) => this.handle(msg),
      commands: () => this.registry.list(),
      suggestSymbols: (typed, limit) => this.suggestSymbols(typed, limit),
      audit: (event) => this.audit.append({ ...event, platform: adapter.platform }),
      logger: log,
    };
    try {
      await adapter.start(host);
    } catch (err) {
      this.attachFailures.set(adapter.platform, err instanceof Error ? err.message : String(err));
      throw err;
    }
    this.attachFailures.delete(adapter.platform);
    this.adapters.set(adapter.platform, adapter);
    log.info('adapter connected');
    // posts queued while it was not attached (or down before a restart) go out now, in order
    this.outboxRef?.flush(adapter.platform).catch((err: unknown) => log.warn({ err }, 'outbox flush on attach failed'));
  }

  /** the attached adapters and whether each is connected (for /status and /readyz) */
  adapterHealth(): Array<{ platform: string; connected: boolean; detail: string }> {
    return [...this.adapters.values()].map((a) => ({ platform: a.platform, ...a.health() }));
  }

  /**
   * A message the desk starts (digest, alert, halt notice) to "platform:channel[:thread]".
   * A platform that is down or not attached does not stop the others. What its adapter does not
   * take is queued in the outbox (in the store) and sent once, in order, when it answers again;
   * { ok: false, error } then means "not delivered yet" (see src/kernel/outbox.ts).
   */
  async post(target: string | Channel, message: Reply): Promise<PostResult> {
    let channel: Channel;
    try {
      channel = typeof target === 'string' ? parseTarget(target) : target;
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    if (!this.outboxRef) return { ok: false, error: 'kernel is not started' };
    return this.outboxRef.post(channel, message);
  }

  private async suggestSymbols(typed: string, limit: number): Promise<string[]> {
    const t = typed.trim().toUpperCase().replace('-', '/');
    let markets: Array<{ symbol: string; base: string; active: boolean }>;
    try {
      markets = await this.market.markets();
    } catch {
      return [];
    }
    const active = markets.filter((m) => m.active);
    const starts = active.filter((m) => m.symbol.startsWith(t) || m.base.startsWith(t));
    // the desk's quote first: "btc" suggests BTC/USDT before BTC/EUR
    const quote = this.market.defaultQuote();
    starts.sort((a, b) => Number(b.symbol.endsWith(`/${quote}`)) - Number(a.symbol.endsWith(`/${quote}`)) || a.symbol.localeCompare(b.symbol));
    return starts.slice(0, limit).map((m) => m.symbol);
  }

  info(): KernelInfo {
    return {
      version: packageVersion(),
      instance: this.config.instance,
      startedAt: this.startedAt,
      storeKind: this.store.kind,
      storeDescription: this.store.describe(),
      plugins: () => this.host.list(),
      halt: (): Promise<HaltStatus> => this.halt.status(),
    };
  }

  /** Stop intake, finish in-flight commands, tear plugins down in reverse, flush the audit log. Idempotent. */
  stop(opts: { drainMs?: number } = {}): Promise<void> {
    this.stopping ??= this.shutdown(opts.drainMs ?? 10_000);
    return this.stopping;
  }

  private async shutdown(drainMs: number): Promise<void> {
    const log = this.logger;
    clearInterval(this.housekeeping);
    // probes first: a stopping desk is not ready (a refused connection fails a probe too)
    await this.opsRef?.close().catch((err: unknown) => log.error({ err }, 'ops server close failed'));
    // throttled-alert summaries go out while the adapters are still connected
    await this.alertsRef?.stop().catch((err: unknown) => log.error({ err }, 'alert router stop failed'));
    // no retry rounds once the adapters stop; what is queued stays in the store for the next start
    await this.outboxRef?.stop().catch((err: unknown) => log.error({ err }, 'outbox stop failed'));
    // adapters next: no new messages, while the dispatcher finishes the ones in flight
    await Promise.all(
      [...this.adapters.values()].map((a) => a.stop().catch((err: unknown) => log.error({ err, adapter: a.platform }, 'adapter stop failed'))),
    );
    if (this.dispatcherRef) await this.dispatcherRef.drain(drainMs);
    await this.events.emit('kernel.stopping', {});
    await this.scheduler.stop();
    this.gatewayRef?.stopPolling();
    await this.stopHaltSync?.().catch((err: unknown) => log.warn({ err }, 'halt sync stop failed'));
    await this.gatewayRef?.settle();
    await this.host.teardownAll();
    await this.liveRef?.close().catch((err: unknown) => log.error({ err }, 'live broker close failed'));
    await this.paperRef?.close().catch((err: unknown) => log.error({ err }, 'paper broker close failed'));
    if (this.ownsMarket) await this.marketRef?.close().catch((err: unknown) => log.error({ err }, 'market close failed'));
    try {
      this.audit.append({ kind: 'kernel', event: 'stopped', instance: this.config.instance });
      await this.audit.close();
    } catch (err) {
      log.error({ err }, 'audit log close failed');
    }
    if (this.ownsStore) await this.store.close();
    rmSync(path.join(this.dataDir, HEARTBEAT_FILE), { force: true });
    log.info('deskbot stopped');
  }

  private async boot(opts: KernelOptions): Promise<void> {
    const { config } = this;
    const pending = new PendingActions(this.store.namespace('pending'), this.clock);
    const dedupe = new Dedupe(this.store.namespace('dedupe'), {
      windowMs: config.dedupe.windowHours * 3_600_000,
      clock: this.clock,
    });
    this.dispatcherRef = new Dispatcher({
      registry: this.registry,
      permissions: this.permissions,
      audit: this.audit,
      dedupe,
      pending,
      logger: this.logger.child({ part: 'dispatch' }),
      clock: this.clock,
      confirmTimeoutMs: config.confirm.timeoutSeconds * 1000,
      approvalTimeoutMs: config.confirm.approvalTimeoutSeconds * 1000,
      observe: (r) => this.metrics.commandDone(r),
    });
    for (const spec of builtinCommands({
      registry: this.registry,
      permissions: this.permissions,
      dispatcher: () => this.dispatcher,
      audit: this.audit,
    })) {
      this.registry.register('kernel', spec);
    }
    this.halt.onChange((s) => void this.events.emit('halt.changed', s));
    this.outboxRef = new Outbox({
      kv: this.store.namespace('outbox'),
      instance: config.instance,
      clock: this.clock,
      logger: this.logger.child({ part: 'outbox' }),
      audit: (e) => this.audit.append(e),
      adapter: (platform) => this.adapters.get(platform),
    });
    await this.outboxRef.load();
    // Alerts: the configured rules, plus trading.notify channels for halts and risk breaches.
    this.alertsRef = new AlertRouter({
      config: {
        ...config.alerts,
        rules: [...config.alerts.rules, ...config.trading.notify.map((channel) => ({ channel, kinds: ['halt', 'risk'], minSeverity: 'info' as const, symbols: [] }))],
      },
      timezone: config.timezone,
      store: this.store.namespace('alerts'),
      clock: this.clock,
      logger: this.logger.child({ part: 'alerts' }),
      post: (channel, r) => this.post(channel, r),
      audit: (e) => this.audit.append(e),
      observe: (e) => this.metrics.alertRouted(e),
    });
    for (const spec of alertCommands({ router: this.alertsRef })) this.registry.register('kernel', spec);
    // every platform user id in config is personal data the LLM must not see
    const personalIds = Object.values(config.people).flatMap((p) => Object.values(p.ids).flatMap((v) => (Array.isArray(v) ? v : [v])));
    this.llmRef = createLlm({ config: config.llm, secrets: opts.secrets, store: this.store.namespace('llm'), audit: this.audit, clock: this.clock, logger: this.logger.child({ part: 'llm' }), personalIds, onCall: (c) => this.metrics.recordLlmCall(c) });
    if (!this.llmRef.enabled) this.logger.info(this.llmRef.startupNotice());
    this.jobsRef = new ConfigJobs({ schedules: config.schedules, scheduler: this.scheduler, store: this.store.namespace('schedules'), clock: this.clock, logger: this.logger.child({ part: 'jobs' }), timezone: config.timezone });
    for (const spec of scheduleCommands({ jobs: this.jobsRef, permissions: this.permissions, audit: this.audit })) this.registry.register('kernel', spec);
    // halts in a digest's period: kept in the store (shared in Redis mode), newest last
    const haltLog = this.store.namespace('halt');
    this.events.on('halt.changed', async (s) => {
      const list = z.array(z.object({ halted: z.boolean(), at: z.number(), by: z.string(), reason: z.string() })).safeParse((await haltLog.get('history')) ?? []);
      const next = [...(list.success ? list.data : []), { halted: s.halted, at: this.clock.now(), by: s.by ?? '?', reason: s.reason ?? '' }].slice(-200);
      await haltLog.set('history', next);
    });
    this.contributions.add('digest', {
      name: 'halts',
      title: 'Halts',
      order: 70,
      render: async (period) => {
        const list = z.array(z.object({ halted: z.boolean(), at: z.number(), by: z.string(), reason: z.string() })).safeParse((await haltLog.get('history')) ?? []);
        const inPeriod = (list.success ? list.data : []).filter((h) => h.at >= period.since && h.at <= period.until);
        const now = await this.halt.status();
        const state = now.halted ? `Trading is HALTED (by ${now.by ?? '?'}: ${now.reason ?? ''}).` : 'Trading is open.';
        if (inPeriod.length === 0) return { blocks: [{ type: 'text', text: `${state} No halts in this period.` }], facts: { numbers: { halts: 0 }, symbols: [] } };
        return {
          blocks: [
            { type: 'text', text: state, tone: now.halted ? 'error' : 'info' },
            { type: 'table', title: 'Halts and resumes', header: ['at (UTC)', 'what', 'by', 'reason'], rows: inPeriod.map((h) => [utcMinute(h.at), h.halted ? 'halt' : 'resume', h.by, h.reason]) },
          ],
          facts: { numbers: { halts: inPeriod.filter((h) => h.halted).length }, symbols: [] },
        };
      },
    });
    // an exchange outage is told to the desk (kind "data"), and its recovery too
    this.events.on('market.circuit', async (c) => {
      if (c.state === 'half-open') return;
      await this.alerts.raise(
        c.state === 'open'
          ? { kind: 'data', severity: 'warning', title: `${c.exchange} market data unavailable: repeated failures opened its circuit${c.retryAt ? `; next try ${utcClock(c.retryAt)} UTC` : ''}. Prices from ${c.exchange} are refused until it answers again.` }
          : { kind: 'data', severity: 'info', title: `${c.exchange} market data is back.` },
      );
    });
    // the kill switch tells every channel that routes halts, on every platform
    this.events.on('halt.changed', async (s) => {
      await this.alerts.raise({
        kind: 'halt',
        severity: 'critical',
        title: s.halted
          ? `TRADING HALTED by ${s.by ?? '?'}: ${s.reason ?? 'no reason given'}. New orders are refused; open orders are being cancelled.`
          : `Trading resumed by ${s.by ?? '?'}.`,
        dedupeKey: `halt|${s.halted}|${s.since ?? ''}`,
      });
    });

    this.ownsMarket = opts.market === undefined;
    this.marketRef =
      opts.market ??
      (await openMarket(config.market, {
        clock: this.clock,
        logger: this.logger,
        cache: this.store.namespace('market'),
        cwd: opts.cwd ?? process.cwd(),
        observe: {
          error: (exchange, kind) => this.metrics.exchange.error(exchange, kind),
          circuit: (exchange, state, retryAt) => {
            this.metrics.exchange.circuit(exchange, state, retryAt);
            // plugins (risk: auto-halt on an outage) and the alert router hear about it
            void this.events.emit('market.circuit', { exchange, state, retryAt });
          },
        },
      }));

    await this.openOrders(opts);
    // attached platforms, plus ones whose adapter failed to start: readiness wants every one connected
    const adapters = (): Array<{ platform: string; connected: boolean; detail: string }> => [
      ...this.adapterHealth(),
      ...[...this.attachFailures].filter(([p]) => !this.adapters.has(p)).map(([platform, error]) => ({ platform, connected: false, detail: `not attached: ${error}` })),
    ];
    this.metrics.watch({ events: this.events, orders: this.orders }, { halted: () => this.orders.halted(), adapters });
    if (this.market.mode === 'live') this.metrics.exchangesKnown(this.market.exchanges());

    const found = await this.findPlugins(opts);
    const ordered = orderByNeeds(found);
    await this.host.setupAll(ordered, config.plugins.settings, (p, cfg, hooks) => this.contextFor(p, cfg, hooks));
    await this.jobs.bind();
    this.scheduler.start();
    this.alerts.start();
    this.outbox.start();
    this.orders.startPolling(config.trading.pollMs);
    const names = this.host.list().map((p) => p.name);
    this.audit.append({ kind: 'kernel', event: 'started', instance: config.instance, version: packageVersion(), plugins: names, store: this.store.kind });
    this.beat();
    this.housekeeping = setInterval(() => this.beat(), HOUSEKEEPING_MS).unref();
    this.opsRef = await startOpsServer({
      config: config.ops,
      logger: this.logger.child({ part: 'ops' }),
      metrics: this.metrics,
      readiness: new Readiness({ store: this.store.namespace('ops'), instance: config.instance, market: () => this.market, adapters }),
    });
    await this.events.emit('kernel.ready', { plugins: names });
    this.logger.info({ plugins: names, store: this.store.describe(), dataDir: this.dataDir }, 'deskbot ready');
  }

  /** The order gateway with its journal, the paper broker and the live switch; recovers what a crash left. */
  private async openOrders(opts: KernelOptions): Promise<void> {
    const { config } = this;
    const journal = new OrderJournal(this.store.namespace('orders'));
    // on Redis other desks share the paper account: they take turns through its lease
    const paper = new PaperBroker({ market: this.market, store: this.store.namespace('paper'), clock: this.clock, config: config.trading.paper, shared: this.store.kind === 'redis' });
    this.paperRef = paper;
    const live = new LiveSwitch({
      kv: this.store.namespace('orders'),
      mode: config.trading.mode,
      paper: () => paper,
      createLive:
        opts.liveBroker ??
        (() => createLiveBroker({ config, secrets: opts.secrets, market: this.market, clock: this.clock, logger: this.logger.child({ part: 'live-broker' }) })),
      exchange: config.trading.live.exchange,
      sandbox: config.trading.live.sandbox,
      journalOpen: () => journal.open(),
      audit: this.audit,
      clock: this.clock,
    });
    this.liveRef = live;
    const gateway = new OrderGateway({
      journal,
      halt: this.halt,
      permissions: this.permissions,
      broker: () => live.current(),
      mode: config.trading.mode,
      clock: this.clock,
      logger: this.logger.child({ part: 'orders' }),
      audit: this.audit,
      fourEyesResume: config.trading.fourEyesResume,
    });
    this.gatewayRef = gateway;
    gateway.onUpdate((o) => void this.events.emit('order.updated', o));
    // a halt on any instance closes every instance's gateway at once (Redis pub/sub; in-process otherwise)
    this.stopHaltSync = await syncHalts({ broadcast: this.store.broadcast, gateway, logger: this.logger.child({ part: 'halt-sync' }) });
    const liveNote = await live.init();
    if (liveNote !== null) this.logger.warn(liveNote);
    const recovered = await gateway.recover();
    for (const r of recovered) {
      this.audit.append({ kind: 'order-recovery', id: r.order.id, state: r.order.state, outcome: r.outcome });
      this.logger.warn({ order: r.order.id, symbol: r.order.symbol, outcome: r.outcome }, 'order recovered after restart');
    }
    for (const spec of tradingCommands({ gateway, live, dispatcher: () => this.dispatcher })) this.registry.register('kernel', spec);
  }

  /** Audit lines reach the disk (and its head file) within HOUSEKEEPING_MS; the heartbeat says we are alive. */
  private beat(): void {
    this.audit.flush().catch((err: unknown) => this.logger.error({ err }, 'audit flush failed'));
    try {
      writeFileSync(path.join(this.dataDir, HEARTBEAT_FILE), `${new Date(this.clock.now()).toISOString()} ${process.pid}\n`);
    } catch (err) {
      this.logger.warn({ err }, 'heartbeat write failed');
    }
  }

  private async findPlugins(opts: KernelOptions): Promise<FoundPlugin[]> {
    const found: FoundPlugin[] = (opts.plugins ?? []).map((manifest) => ({ manifest, from: 'embedded' }));
    if (opts.discover === false) return found;
    const disabled = new Set(this.config.plugins.disable);
    for (const dir of this.config.plugins.dirs) {
      const abs = path.isAbsolute(dir) ? dir : path.resolve(CODE_ROOT, dir);
      for (const file of pluginFolders(abs)) {
        // a disabled folder is not even imported: operators disable a plugin because it misbehaves
        if (disabled.has(path.basename(path.dirname(file)))) continue;
        found.push(await loadPluginModule(file, path.relative(CODE_ROOT, path.dirname(file)) || file));
      }
    }
    for (const pkg of this.config.plugins.packages) found.push(await loadPluginModule(pkg, `package ${pkg}`));
    return found.filter((p) => !disabled.has(p.manifest.name));
  }

  private contextFor(
    p: FoundPlugin,
    config: unknown,
    hooks: { onClose(fn: () => void | Promise<void>): void; provide(name: string, service: unknown): void; use(name: string): unknown },
  ): PluginContext<unknown> {
    const name = p.manifest.name;
    const info = this.info();
    return {
      name,
      config,
      log: this.logger.child({ plugin: name }),
      store: this.store.namespace(`plugin.${name}`),
      clock: this.clock,
      kernel: info,
      market: this.market,
      orders: this.orders,
      command: (spec) => {
        this.registry.register(name, spec as unknown as CommandSpec<ArgShape>);
      },
      schedule: (spec) => {
        this.scheduler.add(name, spec);
      },
      provide: <K extends keyof Services>(service: K, impl: Services[K]) => hooks.provide(String(service), impl),
      use: <K extends keyof Services>(service: K) => hooks.use(String(service)) as Services[K],
      on: (event, fn) => {
        hooks.onClose(this.events.on(event, fn));
      },
      emit: (event, payload) => this.events.emit(event, payload),
      llm: this.llm,
      post: (target, r) => this.post(target, r),
      job: (kind, run) => this.jobs.provide(name, kind, run),
      contribute: (slot, item) => {
        hooks.onClose(this.contributions.add(slot, item));
      },
      contributions: (slot) => this.contributions.list(slot),
      alert: async (a) => {
        await this.alerts.raise(a);
      },
      audit: (event) => {
        this.audit.append({ ...event, plugin: name });
      },
      onClose: (fn) => hooks.onClose(fn),
    };
  }
}

let version: string | undefined;
/** deskbot's version from package.json (read once) */
export function packageVersion(): string {
  if (version !== undefined) return version;
  for (let dir = here; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
      version = typeof parsed === 'object' && parsed !== null && 'version' in parsed ? String(parsed.version) : '0.0.0';
      return version;
    }
    if (path.dirname(dir) === dir) return (version = '0.0.0');
  }
}
