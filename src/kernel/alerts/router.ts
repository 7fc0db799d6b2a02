import type Keyv from 'keyv';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Block, Reply } from '../reply.js';
import { utcHourMinute } from '../utc.js';

export type AlertSeverity = 'info' | 'warning' | 'critical';
export const SEVERITIES: readonly AlertSeverity[] = ['info', 'warning', 'critical'];

/** What a plugin raises (ctx.alert). Kinds are open; the built-in ones: whale, regime, signal, risk, halt, data. */
export interface Alert {
  kind: string;
  severity: AlertSeverity;
  /** the market it is about, e.g. "BTC/USDT" (rules and mutes can match it) */
  symbol?: string;
  /** one line: what happened, with the numbers */
  title: string;
  /** more detail, rendered under the title */
  blocks?: Block[];
  /** alerts with the same key within the dedupe window are one alert; default kind|symbol|title */
  dedupeKey?: string;
  /** channels that asked for it (e.g. a watchlist), in addition to the rules' channels */
  channels?: string[];
}

export const alertRuleSchema = z
  .object({
    /** "slack:C0DESK", "telegram:-100123", "console:terminal" */
    channel: z.string().regex(/^[a-z][a-z0-9]*:[^:]+(:.+)?$/, 'a channel like "slack:C0DESK"'),
    /** alert kinds, or ["*"] */
    kinds: z.array(z.string().min(1)).min(1).default(['*']),
    minSeverity: z.enum(['info', 'warning', 'critical']).default('warning'),
    /** only these symbols ("BTC/USDT"); empty: any (and alerts without a symbol) */
    symbols: z.array(z.string().min(1)).default([]),
  })
  .strict();

export const alertsConfigSchema = z
  .object({
    rules: z.array(alertRuleSchema).default([]),
    /** the same alert again within this many seconds is dropped */
    dedupeSeconds: z.number().int().min(0).max(86_400).default(300),
    /** per channel: at most this many alerts per window; the rest are counted and summarised */
    throttle: z
      .object({ max: z.number().int().min(1).max(1000).default(5), windowSeconds: z.number().int().min(1).max(3600).default(300) })
      .strict()
      .default({ max: 5, windowSeconds: 300 }),
    /** no alerts but critical ones between these local times (HH:MM, the config time zone); null: none */
    quietHours: z
      .object({ from: z.string().regex(/^\d\d:\d\d$/), to: z.string().regex(/^\d\d:\d\d$/) })
      .strict()
      .nullable()
      .default(null),
  })
  .strict();

export type AlertsConfig = z.output<typeof alertsConfigSchema>;

export interface RoutedAlert extends Alert {
  id: string;
  at: number;
  /** where it went, and what stopped it elsewhere */
  delivered: string[];
  held: Array<{ channel: string; why: string }>;
}

interface Mute {
  channel: string;
  /** a kind ("whale") or a symbol ("BTC/USDT") */
  what: string;
  until: number;
  by: string;
}

const muteSchema = z.array(z.object({ channel: z.string(), what: z.string(), until: z.number(), by: z.string() }));

export interface RouterDeps {
  config: AlertsConfig;
  timezone: string;
  store: Keyv;
  clock: Clock;
  logger: Logger;
  post(channel: string, reply: Reply): Promise<{ ok: true } | { ok: false; error: string }>;
  audit(event: { kind: string; [k: string]: unknown }): void;
  /** metrics (src/ops): what happened to an alert, once per channel decision */
  observe?(e: { kind: string; outcome: AlertOutcome }): void;
}

/** sent / failed (the post failed) per channel; duplicate: dropped in the dedupe window; unrouted: no channel matched */
export type AlertOutcome = 'sent' | 'failed' | 'duplicate' | 'muted' | 'quiet' | 'throttled' | 'unrouted';

const RECENT_MAX = 100;

/**
 * Routes alerts to channels by rule (kinds, minimum severity, symbols), once per dedupe window,
 * at most `throttle.max` per channel per window — the overflow is counted and summarised ("and
 * 14 more whale alerts in the last 5 min") when the window ends — silent in quiet hours and
 * under a /mute, except critical alerts, which always go out.
 */
export class AlertRouter {
  private readonly seen = new Map<string, number>();
  /** channel → times of alerts sent in the current window */
  private readonly sent = new Map<string, number[]>();
  /** channel → kind → count held back by the throttle since the last summary */
  private readonly overflow = new Map<string, Map<string, number>>();
  private readonly recent: RoutedAlert[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;

  /** the desk's local HH:MM, for quiet hours (built once: an alert storm asks for every alert) */
  private readonly localTime: Intl.DateTimeFormat;

  constructor(private readonly d: RouterDeps) {
    this.localTime = new Intl.DateTimeFormat('en-GB', { timeZone: d.timezone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  }

  get rules(): AlertsConfig['rules'] {
    return this.d.config.rules;
  }

  start(): void {
    this.timer = setInterval(() => {
      this.flushOverflow().catch((err: unknown) => this.d.logger.warn({ err }, 'alert summary failed'));
    }, this.d.config.throttle.windowSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flushOverflow();
  }

  async raise(alert: Alert): Promise<RoutedAlert> {
    const now = this.d.clock.now();
    const routed: RoutedAlert = { ...alert, id: `a${now.toString(36)}-${++this.seq}`, at: now, delivered: [], held: [] };
    const key = alert.dedupeKey ?? `${alert.kind}|${alert.symbol ?? ''}|${alert.title}`;
    const last = this.seen.get(key);
    if (last !== undefined && now - last < this.d.config.dedupeSeconds * 1000) {
      routed.held.push({ channel: '*', why: 'duplicate within the dedupe window' });
      this.d.observe?.({ kind: alert.kind, outcome: 'duplicate' });
      return routed;
    }
    this.seen.set(key, now);
    if (this.seen.size > 10_000) for (const [k, t] of this.seen) if (now - t >= this.d.config.dedupeSeconds * 1000) this.seen.delete(k);

    const mutes = await this.mutes();
    const critical = alert.severity === 'critical';
    const targets = [...this.d.config.rules.filter((r) => matches(r, alert)).map((r) => r.channel), ...(alert.channels ?? [])];
    if (targets.length === 0) this.d.observe?.({ kind: alert.kind, outcome: 'unrouted' });
    const sends: string[] = [];
    for (const channel of targets) {
      if (sends.includes(channel)) continue;
      const mute = mutes.find((m) => m.channel === channel && m.until > now && (m.what === alert.kind || m.what === alert.symbol));
      if (mute && !critical) {
        routed.held.push({ channel, why: `muted (${mute.what}) until ${utcHourMinute(mute.until)} UTC by ${mute.by}` });
        this.d.observe?.({ kind: alert.kind, outcome: 'muted' });
        continue;
      }
      if (!critical && this.quiet(now)) {
        routed.held.push({ channel, why: 'quiet hours' });
        this.d.observe?.({ kind: alert.kind, outcome: 'quiet' });
        continue;
      }
      if (!critical && !this.takeSlot(channel, now)) {
        const byKind = this.overflow.get(channel) ?? new Map<string, number>();
        byKind.set(alert.kind, (byKind.get(alert.kind) ?? 0) + 1);
        this.overflow.set(channel, byKind);
        routed.held.push({ channel, why: 'throttled (counted in the next summary)' });
        this.d.observe?.({ kind: alert.kind, outcome: 'throttled' });
        continue;
      }
      sends.push(channel);
    }
    // every channel at once: a platform that is down (retrying for seconds) must not delay a halt notice elsewhere
    const results = await Promise.all(sends.map((channel) => this.d.post(channel, render(alert))));
    results.forEach((r, i) => {
      const channel = sends[i] as string;
      if (r.ok) routed.delivered.push(channel);
      else routed.held.push({ channel, why: `not delivered: ${r.error}` });
      this.d.observe?.({ kind: alert.kind, outcome: r.ok ? 'sent' : 'failed' });
    });
    this.d.audit({ kind: 'alert', alert: alert.kind, severity: alert.severity, symbol: alert.symbol ?? null, title: alert.title, delivered: routed.delivered, held: routed.held.length });
    this.recent.push(routed);
    if (this.recent.length > RECENT_MAX) this.recent.shift();
    return routed;
  }

  /** the latest alerts, newest first */
  latest(n: number): RoutedAlert[] {
    return this.recent.slice(-n).reverse();
  }

  async mute(channel: string, what: string, forMs: number, by: string): Promise<Mute> {
    const now = this.d.clock.now();
    const list = (await this.mutes()).filter((m) => m.until > now && !(m.channel === channel && m.what === what));
    const mute = { channel, what, until: now + forMs, by };
    list.push(mute);
    await this.d.store.set('mutes', list);
    return mute;
  }

  async unmute(channel: string, what: string): Promise<boolean> {
    const list = await this.mutes();
    const next = list.filter((m) => !(m.channel === channel && m.what === what));
    await this.d.store.set('mutes', next);
    return next.length !== list.length;
  }

  async mutes(): Promise<Mute[]> {
    const parsed = muteSchema.safeParse((await this.d.store.get('mutes')) ?? []);
    return parsed.success ? parsed.data.filter((m) => m.until > this.d.clock.now()) : [];
  }

  /** post "and N more <kind> alerts in the last M min" for each channel the throttle held back */
  async flushOverflow(): Promise<void> {
    const mins = Math.round(this.d.config.throttle.windowSeconds / 60);
    const pending = [...this.overflow];
    this.overflow.clear();
    for (const [channel, byKind] of pending) {
      const parts = [...byKind].map(([kind, n]) => `${n} more ${kind} alert${n === 1 ? '' : 's'}`);
      const text = `…and ${parts.join(', ')} in the last ${mins} min (throttled: at most ${this.d.config.throttle.max} per ${mins} min here). /alerts lists them.`;
      await this.d.post(channel, { blocks: [{ type: 'text', text, tone: 'info' }] });
    }
  }

  private takeSlot(channel: string, now: number): boolean {
    const windowMs = this.d.config.throttle.windowSeconds * 1000;
    const times = (this.sent.get(channel) ?? []).filter((t) => now - t < windowMs);
    if (times.length >= this.d.config.throttle.max) {
      this.sent.set(channel, times);
      return false;
    }
    times.push(now);
    this.sent.set(channel, times);
    return true;
  }

  private quiet(now: number): boolean {
    const q = this.d.config.quietHours;
    if (q === null) return false;
    const hm = this.localTime.format(new Date(now));
    // a window may wrap midnight (22:00 → 07:00)
    return q.from <= q.to ? hm >= q.from && hm < q.to : hm >= q.from || hm < q.to;
  }
}

function matches(rule: AlertsConfig['rules'][number], a: Alert): boolean {
  if (!rule.kinds.includes('*') && !rule.kinds.includes(a.kind)) return false;
  if (SEVERITIES.indexOf(a.severity) < SEVERITIES.indexOf(rule.minSeverity)) return false;
  if (rule.symbols.length > 0 && (a.symbol === undefined || !rule.symbols.includes(a.symbol))) return false;
  return true;
}

const MARK: Record<AlertSeverity, string> = { info: '', warning: '⚠ ', critical: '🚨 ' };

function render(a: Alert): Reply {
  return {
    blocks: [{ type: 'text', text: `${MARK[a.severity]}[${a.kind}${a.symbol ? ` ${a.symbol}` : ''}] ${a.title}`, tone: a.severity === 'critical' ? 'error' : a.severity === 'warning' ? 'warn' : 'info' }, ...(a.blocks ?? [])],
  };
}
