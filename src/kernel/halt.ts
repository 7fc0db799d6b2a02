import type Keyv from 'keyv';
import { z } from 'zod';

export interface HaltStatus {
  halted: boolean;
  /** ISO time of the last halt or resume */
  since?: string;
  /** who halted (or resumed) */
  by?: string;
  reason?: string;
}

export interface HaltStateOptions {
  clock?: { now(): number };
  /** a throwing onChange listener is reported here; it never undoes or blocks the change */
  onListenerError?: (err: unknown) => void;
}

const STATE_KEY = 'state';
export const UNREADABLE_REASON = 'halt state unreadable';

const storedSchema = z
  .object({
    halted: z.boolean(),
    since: z.iso.datetime().optional(),
    by: z.string().min(1).optional(),
    reason: z.string().optional(),
  })
  .strict();

/**
 * The kill switch, persisted in the store (a 'halt' namespace) so it survives restarts and, on
 * Redis, is shared by every instance. status() reads the store each time rather than caching,
 * so a halt made by another instance is seen on the next check; onChange only reports changes
 * made through this object.
 */
export class HaltState {
  private readonly kv: Keyv;
  private readonly clock: { now(): number };
  private readonly onListenerError: (err: unknown) => void;
  private readonly listeners = new Set<(s: HaltStatus) => void>();

  constructor(kv: Keyv, opts?: HaltStateOptions) {
    this.kv = kv;
    this.clock = opts?.clock ?? { now: () => Date.now() };
    this.onListenerError = opts?.onListenerError ?? (() => undefined);
  }

  async status(): Promise<HaltStatus> {
    return (await this.read()).status;
  }

  /** halt; if already halted, the original halt (who, when, why) stands and is returned */
  async halt(by: string, reason: string): Promise<HaltStatus> {
    if (by.length === 0) throw new Error('halt: "by" must name who halted');
    const { status: current, readable } = await this.read();
    // An unreadable state reads as halted but is overwritten, so a real halt replaces the corrupt value.
    if (current.halted && readable) return current;
    return this.write({ halted: true, since: this.isoNow(), by, reason });
  }

  /** resume trading; a no-op returning the current status when not halted. Four-eyes is the caller's job. */
  async resume(by: string): Promise<HaltStatus> {
    if (by.length === 0) throw new Error('resume: "by" must name who resumed');
    const current = await this.status();
    if (!current.halted) return current;
    return this.write({ halted: false, since: this.isoNow(), by });
  }

  onChange(fn: (s: HaltStatus) => void): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  private async read(): Promise<{ status: HaltStatus; readable: boolean }> {
    let raw: unknown;
    try {
      raw = await this.kv.get(STATE_KEY);
    } catch (err) {
      // Fail safe: if we cannot tell whether trading is halted, it is.
      const why = err instanceof Error ? err.message : String(err);
      return { status: { halted: true, reason: `${UNREADABLE_REASON} (store error: ${why})` }, readable: false };
    }
    if (raw === undefined) return { status: { halted: false }, readable: true };
    const parsed = storedSchema.safeParse(raw);
    // Fail safe: a corrupt or foreign value must never read as "not halted".
    if (!parsed.success) return { status: { halted: true, reason: UNREADABLE_REASON }, readable: false };
    return { status: compact(parsed.data), readable: true };
  }

  private async write(next: HaltStatus): Promise<HaltStatus> {
    // throwOnErrors Keyvs throw; others return false — either way a halt that was not stored must not look stored.
    const ok = await this.kv.set(STATE_KEY, next);
    if (!ok) throw new Error('halt state could not be written to the store');
    for (const fn of [...this.listeners]) {
      try {
        fn({ ...next });
      } catch (err) {
        this.onListenerError(err);
      }
    }
    return { ...next };
  }

  private isoNow(): string {
    return new Date(this.clock.now()).toISOString();
  }
}

function compact(s: z.output<typeof storedSchema>): HaltStatus {
  const out: HaltStatus = { halted: s.halted };
  if (s.since !== undefined) out.since = s.since;
  if (s.by !== undefined) out.by = s.by;
  if (s.reason !== undefined) out.reason = s.reason;
  return out;
}
