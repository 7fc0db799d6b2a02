import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AlertOutcome } from '../kernel/alerts/router.js';
import type { CommandOutcome } from '../kernel/commands/dispatcher.js';
import type { BreakerState } from '../market/live/circuit-breaker.js';
import type { ExchangeErrorKind, LiveSourceObserver } from '../market/live/live-source.js';

export type { AlertOutcome, BreakerState as CircuitState, CommandOutcome, ExchangeErrorKind };

/**
 * The desk's Prometheus metrics. Each kernel has its own Registry (two kernels in one process —
 * tests, embedding — must not collide); the process-wide default metrics (event loop lag, RSS,
 * heap, GC) live in one shared registry created on the first scrape and are appended to every
 * kernel's output, so there is one event-loop monitor per process however many kernels run.
 *
 * Nothing here throws into the code that reports: a metric must never break a command, an
 * order or an LLM call.
 */

export const METRIC_PREFIX = 'deskbot_';

/** one call of the governed LLM client, as src/llm reports it */
export interface LlmCallRecord {
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
  /** accepted | rejected | fallback (src/llm's LlmOutcome); other strings are counted as they are */
  outcome: string;
}

const CIRCUIT_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** commands take from a millisecond (/help) to tens of seconds (a backtest) */
const COMMAND_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** a typed name that is not a command: one label value, so strangers cannot grow the series */
export const UNKNOWN_COMMAND = '(unknown)';

/** a scrape never waits longer than this for a probe (the halt state read) */
const PROBE_TIMEOUT_MS = 1_000;

let processRegistry: Registry | undefined;

/** Default process metrics (prefixed deskbot_), one registry per process, created on first use. */
export function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: METRIC_PREFIX });
  }
  return processRegistry;
}

export interface DeskMetricsOptions {
  instance: string;
  version: string;
  /** the kernel clock (for when an open circuit reads half-open) */
  now: () => number;
}

/** What the metrics read at scrape time (wired by the kernel once its parts exist). */
export interface MetricProbes {
  /** whether trading is halted now (the gateway's view: a local halt not yet stored counts) */
  halted?: () => Promise<{ halted: boolean }>;
  /** the chat platforms and whether each is connected */
  adapters?: () => Array<{ platform: string; connected: boolean }>;
}

/** The parts of the kernel the metrics listen to (structural: src/ops imports only types from the kernel). */
export interface MetricSources {
  events: { on(event: 'halt.changed', fn: (s: { halted: boolean }) => void): unknown };
  orders: {
    onUpdate(fn: (o: { state: string; broker: string; history: ReadonlyArray<{ state: string }> }) => void): unknown;
    onHalt(fn: () => void): unknown;
  };
}

export class DeskMetrics {
  readonly registry = new Registry();
  private readonly commands: Counter<'command' | 'outcome'>;
  private readonly commandSeconds: Histogram<'command' | 'outcome'>;
  private readonly orders: Counter<'state' | 'broker'>;
  private readonly halts: Counter;
  private readonly halted: Gauge;
  private readonly alerts: Counter<'kind' | 'outcome'>;
  private readonly llmCalls: Counter<'outcome'>;
  private readonly llmTokens: Counter<'direction'>;
  private readonly llmCost: Counter;
  private readonly exchangeErrors: Counter<'exchange' | 'kind'>;
  private readonly circuits = new Map<string, { state: BreakerState; retryAt: number | null }>();
  private probes: MetricProbes = {};

  constructor(private readonly opts: DeskMetricsOptions) {
    const registers = [this.registry];
    const name = (n: string): string => `${METRIC_PREFIX}${n}`;
    new Gauge({
      name: name('info'),
      help: 'Always 1; the labels say which deskbot this is.',
      labelNames: ['instance', 'version'],
      registers,
    }).set({ instance: opts.instance, version: opts.version }, 1);
    this.commands = new Counter({
      name: name('commands_total'),
      help: 'Commands by name and outcome: ok, refused (a user error), error (internal), usage, denied (permission), unknown (no such command).',
      labelNames: ['command', 'outcome'],
      registers,
    });
    this.commandSeconds = new Histogram({
      name: name('command_duration_seconds'),
      help: 'Time in the command handler, for commands whose handler ran (outcome ok, refused or error).',
      labelNames: ['command', 'outcome'],
      buckets: COMMAND_BUCKETS,
      registers,
    });
    this.orders = new Counter({
      name: name('orders_total'),
      help: 'Orders entering each state (requested, checked, sent, acknowledged, partially-filled, filled, rejected, cancelled, failed), by broker.',
      labelNames: ['state', 'broker'],
      registers,
    });
    this.halts = new Counter({ name: name('halts_total'), help: 'Trading halts made through this instance.', registers });
    const self = this;
    this.halted = new Gauge({
      name: name('halted'),
      help: '1 while trading is halted (an unreadable halt state reads as halted), else 0.',
      registers,
      async collect() {
        const probe = self.probes.halted;
        if (probe === undefined) return;
        // a store that does not answer leaves the last known value rather than stalling the scrape
        const s = await withTimeout(probe(), PROBE_TIMEOUT_MS).catch(() => undefined);
        if (s !== undefined) this.set(s.halted ? 1 : 0);
      },
    });
    this.alerts = new Counter({
      name: name('alerts_total'),
      help: 'Alerts per channel decision by kind and outcome: sent, failed (post failed), duplicate (dropped in the dedupe window), muted, quiet (quiet hours), throttled (held for the summary), unrouted (no channel).',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.llmCalls = new Counter({ name: name('llm_calls_total'), help: 'LLM summary calls by outcome (accepted, rejected, fallback).', labelNames: ['outcome'], registers });
    this.llmTokens = new Counter({ name: name('llm_tokens_total'), help: 'LLM tokens by direction (in: prompt, out: completion).', labelNames: ['direction'], registers });
    this.llmCost = new Counter({ name: name('llm_cost_usd_total'), help: 'LLM cost in USD, at the configured pricing.', registers });
    this.exchangeErrors = new Counter({
      name: name('exchange_errors_total'),
      help: 'Market-data operations that failed at an exchange after their retries, by kind: timeout, rate-limited, unavailable, bad-data, circuit-open (refused without a request).',
      labelNames: ['exchange', 'kind'],
      registers,
    });
    new Gauge({
      name: name('exchange_circuit_state'),
      help: "An exchange's circuit breaker: 0 closed, 1 half-open, 2 open.",
      labelNames: ['exchange'],
      registers,
      collect() {
        const now = self.opts.now();
        for (const [exchange, c] of self.circuits) {
          // an open circuit whose cool-down has passed lets the next call through: half-open, as the breaker reads it
          const state = c.state === 'open' && c.retryAt !== null && now >= c.retryAt ? 'half-open' : c.state;
          this.set({ exchange }, CIRCUIT_VALUE[state]);
        }
      },
    });
    new Gauge({
      name: name('adapter_connected'),
      help: '1 when the chat platform is connected, else 0.',
      labelNames: ['platform'],
      registers,
      collect() {
        const list = self.probes.adapters?.() ?? [];
        this.reset(); // a platform that went away is not reported as it last was
        for (const a of list) this.set({ platform: a.platform }, a.connected ? 1 : 0);
      },
    });
  }

  /** Listen to the kernel's events and order gateway, and read the halt state and adapters at scrape time. */
  watch(sources: MetricSources, probes: MetricProbes): void {
    this.probes = probes;
    sources.orders.onUpdate((o) => this.orderUpdated(o));
    // the gateway closes synchronously on a halt, before the store has it: show it at once
    sources.orders.onHalt(() => this.halted.set(1));
    sources.events.on('halt.changed', (s) => {
      this.halted.set(s.halted ? 1 : 0);
      if (s.halted) this.halts.inc();
    });
  }

  /** the dispatcher's observer: one call per command outcome; `ms` when the handler ran */
  commandDone(r: { command: string; outcome: CommandOutcome; ms?: number }): void {
    const command = r.outcome === 'unknown' ? UNKNOWN_COMMAND : r.command;
    this.commands.inc({ command, outcome: r.outcome });
    if (r.ms !== undefined && Number.isFinite(r.ms) && r.ms >= 0) this.commandSeconds.observe({ command, outcome: r.outcome }, r.ms / 1000);
  }

  /** an order journaled: counted once per state it enters (a new fill in the same state is not a new state) */
  orderUpdated(o: { state: string; broker: string; history: ReadonlyArray<{ state: string }> }): void {
    const prev = o.history.length >= 2 ? o.history[o.history.length - 2] : undefined;
    if (prev !== undefined && prev.state === o.state) return;
    this.orders.inc({ state: o.state, broker: o.broker });
  }

  /** the alert router's observer: one call per channel decision (or one for a duplicate / unrouted alert) */
  alertRouted(e: { kind: string; outcome: AlertOutcome }): void {
    this.alerts.inc({ kind: e.kind, outcome: e.outcome });
  }

  /**
   * One LLM call. src/llm (the governed client) should call this once per summarise() — the same
   * numbers it writes to its `kind: 'llm'` audit line. Bad numbers are ignored, never thrown.
   */
  recordLlmCall(r: LlmCallRecord): void {
    this.llmCalls.inc({ outcome: r.outcome });
    if (nonNegative(r.tokensIn)) this.llmTokens.inc({ direction: 'in' }, r.tokensIn);
    if (nonNegative(r.tokensOut)) this.llmTokens.inc({ direction: 'out' }, r.tokensOut);
    if (nonNegative(r.costUsd)) this.llmCost.inc(r.costUsd);
  }

  /** the live market source's observer */
  readonly exchange: Required<LiveSourceObserver> = {
    error: (exchange: string, kind: ExchangeErrorKind): void => {
      this.exchangeErrors.inc({ exchange, kind });
    },
    circuit: (exchange: string, state: BreakerState, retryAt: number | null): void => {
      this.circuits.set(exchange, { state, retryAt });
    },
  };

  /** exchanges the desk reads live start closed, so a dashboard shows them before the first request */
  exchangesKnown(exchanges: readonly string[]): void {
    for (const e of exchanges) if (!this.circuits.has(e)) this.circuits.set(e, { state: 'closed', retryAt: null });
  }

  /** The Prometheus text for this kernel followed by the process metrics. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    const own = await this.registry.metrics();
    const proc = await processMetrics().metrics();
    return { contentType: this.registry.contentType, body: `${own.endsWith('\n') ? own : `${own}\n`}${proc}` };
  }
}

function nonNegative(n: number): boolean {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0;
}

/** `p`, or a rejection naming the wait when it takes longer than `ms` (the timer never keeps the process alive) */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
