import { randomUUID } from 'node:crypto';
import type Keyv from 'keyv';
import { withTimeout } from './metrics.js';

/**
 * /readyz: can this instance do its job right now? Three kinds of check, each bounded by a short
 * timeout so a hung dependency makes the probe fail rather than hang:
 *
 * - store: a real write and read-back of a per-instance key in the kernel's `ops` namespace
 *   (on Redis this is the shared store: halts, dedupe, pending confirmations all need it);
 * - market: the market service answers a cheap call — markets() of the default exchange, which
 *   comes from memory, the store cache or the replay index; the result is reused for a few
 *   seconds so probes never drive exchange traffic;
 * - adapter:<platform>: every chat platform the desk attached (or tried to) reports connected.
 *
 * Concurrent probes share one run; the store check is never cached (a stopped Redis must show on
 * the next probe).
 */

export interface CheckResult {
  ok: boolean;
  detail: string;
}

export interface ReadinessReport {
  ready: boolean;
  /** names of the failing checks, e.g. ["store", "adapter:slack"] */
  failing: string[];
  checks: Record<string, CheckResult>;
}

export interface ReadinessDeps {
  /** the kernel store's `ops` namespace */
  store: Keyv;
  /** written into the probe key so instances sharing a Redis do not race each other */
  instance: string;
  market: () => { defaultExchange: string; mode: string; markets(exchange?: string): Promise<unknown[]> };
  /** attached platforms, plus ones that failed to attach (connected: false) */
  adapters: () => Array<{ platform: string; connected: boolean; detail: string }>;
  /** per check; default 2000 ms */
  timeoutMs?: number;
  /** how long a market answer is reused; default 5000 ms */
  marketCacheMs?: number;
}

const PROBE_TTL_MS = 5 * 60_000;

export class Readiness {
  private running: Promise<ReadinessReport> | undefined;
  private market: { at: number; result: CheckResult } | undefined;
  private marketRunning: Promise<CheckResult> | undefined;

  constructor(private readonly d: ReadinessDeps) {}

  check(): Promise<ReadinessReport> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(): Promise<ReadinessReport> {
    const [store, market] = await Promise.all([this.storeCheck(), this.marketCheck()]);
    const checks: Record<string, CheckResult> = { store, market };
    for (const a of this.d.adapters()) checks[`adapter:${a.platform}`] = { ok: a.connected, detail: a.detail };
    const failing = Object.entries(checks)
      .filter(([, c]) => !c.ok)
      .map(([name]) => name);
    return { ready: failing.length === 0, failing, checks };
  }

  private async storeCheck(): Promise<CheckResult> {
    const key = `probe:${this.d.instance}`;
    const nonce = randomUUID();
    const started = performance.now();
    try {
      await withTimeout(
        (async () => {
          await this.d.store.set(key, nonce, PROBE_TTL_MS);
          const back: unknown = await this.d.store.get(key);
          if (back !== nonce) throw new Error('read back a different value than was written');
        })(),
        this.timeoutMs,
      );
      return { ok: true, detail: `write and read back in ${Math.round(performance.now() - started)} ms` };
    } catch (err) {
      return { ok: false, detail: message(err) };
    }
  }

  private marketCheck(): Promise<CheckResult> {
    const cached = this.market;
    if (cached !== undefined && performance.now() - cached.at < (this.d.marketCacheMs ?? 5_000)) return Promise.resolve(cached.result);
    this.marketRunning ??= (async (): Promise<CheckResult> => {
      let result: CheckResult;
      try {
        const m = this.d.market();
        const exchange = m.defaultExchange;
        const list = await withTimeout(m.markets(exchange), this.timeoutMs);
        result = list.length > 0 ? { ok: true, detail: `${exchange}: ${list.length} markets (${m.mode})` } : { ok: false, detail: `${exchange}: no markets (${m.mode})` };
      } catch (err) {
        result = { ok: false, detail: message(err) };
      }
      this.market = { at: performance.now(), result };
      return result;
    })().finally(() => {
      this.marketRunning = undefined;
    });
    return this.marketRunning;
  }

  private get timeoutMs(): number {
    return this.d.timeoutMs ?? 2_000;
  }
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 300);
}
