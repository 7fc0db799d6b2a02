import type Keyv from 'keyv';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Clock } from '../clock.js';
import type { ArgShape } from '../commands/args.js';
import type { CommandSpec } from '../commands/command.js';
import type { KernelEvents } from '../events.js';
import type { HaltStatus } from '../halt.js';
import type { ScheduleSpec } from '../scheduler.js';
import type { MarketData } from '../../market/service.js';
import type { OrderService } from '../orders/types.js';
import type { Reply } from '../reply.js';
import type { Summary, SummariseRequest } from '../../llm/index.js';
import type { Alert } from '../alerts/router.js';
import type { Contributions } from '../contributions.js';
import type { JobRunner } from '../jobs.js';

/**
 * Services plugins provide to each other, by name. A plugin that provides one declares it:
 *   declare module '../../src/kernel/index.js' { interface Services { orders: OrderGateway } }
 * and a plugin that uses it lists the provider in `needs`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface Services {}

export interface KernelInfo {
  version: string;
  instance: string;
  startedAt: number;
  storeKind: string;
  storeDescription: string;
  plugins(): Array<{ name: string; version: string }>;
  halt(): Promise<HaltStatus>;
}

/** What `setup` gets: everything a plugin may touch. Nothing else of the kernel is reachable. */
export interface PluginContext<Config> {
  readonly name: string;
  /** this plugin's section of config (plugins.settings.<name>), validated by its schema */
  readonly config: Config;
  readonly log: Logger;
  /** a store namespace of its own (SQLite or Redis, shared across instances in Redis mode) */
  readonly store: Keyv;
  readonly clock: Clock;
  readonly kernel: KernelInfo;
  /** prices, candles (integrity-checked), tickers, books, trades — live or recorded */
  readonly market: MarketData;
  /** the order gateway: the only way to a broker (halt, permission, idempotency, risk checks, journal) */
  readonly orders: OrderService;
  command<A extends ArgShape>(spec: CommandSpec<A>): void;
  schedule(spec: ScheduleSpec): void;
  /** publish a service for the plugins that list this one in `needs` */
  provide<K extends keyof Services>(name: K, service: Services[K]): void;
  /** a service from a plugin named in `needs` */
  use<K extends keyof Services>(name: K): Services[K];
  on<K extends keyof KernelEvents>(event: K, fn: (payload: KernelEvents[K]) => void | Promise<void>): void;
  emit<K extends keyof KernelEvents>(event: K, payload: KernelEvents[K]): Promise<void>;
  /**
   * Short summaries under governance (budgets, checks that every number and symbol was given,
   * audit); never throws for LLM trouble: falls back to the prompt's template of the same facts.
   */
  readonly llm: { readonly enabled: boolean; summarise(req: SummariseRequest): Promise<Summary> };
  /** send a message the desk starts to "platform:channel[:thread]" (a digest, a report); a platform that is down fails alone */
  post(target: string, reply: Reply): Promise<{ ok: true } | { ok: false; error: string }>;
  /** run configured schedules (`schedules:` in config) of this kind, e.g. "digest" */
  job(kind: string, run: JobRunner): void;
  /** add to a shared slot (a digest section…); removed at teardown */
  contribute<K extends keyof Contributions>(slot: K, item: Contributions[K]): void;
  /** what every plugin contributed to a slot so far (read it when needed, not in setup: later plugins add too) */
  contributions<K extends keyof Contributions>(slot: K): Array<Contributions[K]>;
  /** raise an alert: routed to channels by the alert rules (and `alert.channels`), deduped, throttled, muted */
  alert(alert: Alert): Promise<void>;
  /** one audit line, tagged with the plugin */
  audit(event: { kind: string; [field: string]: unknown }): void;
  /** runs on shutdown, in reverse order of registration, after the plugins set up later */
  onClose(fn: () => void | Promise<void>): void;
}

export type Teardown = () => void | Promise<void>;

export interface PluginManifest<S extends z.ZodType = z.ZodType> {
  name: string;
  version: string;
  description?: string;
  /** plugins that must be set up first (their services become usable) */
  needs?: readonly string[];
  /** schema of plugins.settings.<name>; the parsed value is ctx.config */
  config?: S;
  setup(ctx: PluginContext<z.output<S>>): void | Teardown | Promise<void | Teardown>;
}

/** Identity helper so the config type flows into `setup`. */
export function definePlugin<S extends z.ZodType = z.ZodObject<Record<never, never>>>(manifest: PluginManifest<S>): PluginManifest<S> {
  return manifest;
}
