import type Keyv from 'keyv';
import cron from 'node-cron';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Clock } from './clock.js';
import type { ScheduleConfig } from './config/schema.js';
import type { Scheduler } from './scheduler.js';

/** One run of a configured schedule, as the plugin that provides its kind gets it. */
export interface JobRun {
  /** the schedule's name from config, e.g. "morning-digest" */
  name: string;
  kind: string;
  /** channels to post to ("slack:C0DESK") */
  targets: string[];
  /** when it fired (ms) */
  at: number;
  /** when it last ran before this (ms), null the first time: the period a digest covers */
  previous: number | null;
  /** fires missed while the desk was down, reported once on the next run (never replayed) */
  missed: { count: number; first: number; last: number } | null;
  /** "schedule" for a cron fire, "command" for /digest now */
  trigger: 'schedule' | 'command';
}

export type JobRunner = (run: JobRun) => Promise<void>;

const stateSchema = z.object({
  lastRun: z.number().nullable(),
  /** when the desk first bound this schedule: missed fires are counted from here until it has run */
  since: z.number().nullable().default(null),
  paused: z.boolean(),
  missed: z.object({ count: z.number(), first: z.number(), last: z.number() }).nullable(),
});
type JobState = z.output<typeof stateSchema>;

/** how far back missed fires are looked for (minute by minute) */
const MISSED_LOOKBACK_MS = 7 * 86_400_000;

/**
 * The schedules in config (`schedules:`), bound to the plugin that provides each one's kind
 * (`ctx.job(kind, run)`). Last runs and pauses are kept in the store, so a restart knows what
 * it missed and a pause holds (on every instance, in Redis mode). Missed fires are counted and
 * handed to the next run to report; they are not replayed — a 08:00 digest sent at 11:00 would
 * show 11:00's numbers under an 08:00 title.
 */
export class ConfigJobs {
  private readonly kinds = new Map<string, { plugin: string; run: JobRunner }>();

  constructor(
    private readonly d: { schedules: readonly ScheduleConfig[]; scheduler: Scheduler; store: Keyv; clock: Clock; logger: Logger; timezone: string },
  ) {}

  provide(plugin: string, kind: string, run: JobRunner): void {
    const had = this.kinds.get(kind);
    if (had) throw new Error(`job kind "${kind}" is provided twice (${had.plugin} and ${plugin})`);
    this.kinds.set(kind, { plugin, run });
  }

  providedKinds(): string[] {
    return [...this.kinds.keys()];
  }

  /** After every plugin is set up: bind each enabled schedule, note missed fires, apply stored pauses. */
  async bind(): Promise<void> {
    for (const s of this.d.schedules) {
      if (!s.enabled) continue;
      const provider = this.kinds.get(s.kind);
      if (!provider) {
        const known = this.providedKinds();
        throw new Error(`schedule ${s.name}: no loaded plugin provides kind "${s.kind}" (${known.length > 0 ? `provided: ${known.join(', ')}` : 'no plugin provides any'})`);
      }
      let state = await this.state(s.name);
      if (state.lastRun === null && state.since === null) {
        // first start with this schedule: fires count as missed only from now on (and the first
        // run still has no previous one: its period is the plugin's default)
        state = { ...state, since: this.d.clock.now() };
        await this.save(s.name, state);
      }
      // from the later of the last run and the last fire already counted as missed
      const from = Math.max(state.lastRun ?? Number.NEGATIVE_INFINITY, state.since ?? Number.NEGATIVE_INFINITY);
      const missed = this.missedSince(s, Number.isFinite(from) ? from : null);
      if (missed) {
        this.d.logger.warn({ schedule: s.name, missed: missed.count, first: new Date(missed.first).toISOString() }, 'schedule missed fires while down; the next run reports them');
        // counted up to the last missed fire; the period of the next run still starts at the last real run
        await this.save(s.name, { ...state, missed: mergeMissed(state.missed, missed), since: missed.last });
      }
      this.d.scheduler.add('config', { name: s.name, cron: s.cron, ...(s.timezone ? { timezone: s.timezone } : {}), run: () => this.run(s, 'schedule') });
      if (state.paused) this.d.scheduler.pause(`config.${s.name}`);
    }
  }

  /** `/digest now`-style runs and tests: the same path as a fire */
  async runNow(name: string): Promise<boolean> {
    const s = this.d.schedules.find((x) => x.name === name);
    if (!s) return false;
    await this.run(s, 'command');
    return true;
  }

  async setPaused(name: string, paused: boolean): Promise<boolean> {
    if (!this.d.schedules.some((s) => s.name === name)) return false;
    await this.save(name, { ...(await this.state(name)), paused });
    if (paused) this.d.scheduler.pause(`config.${name}`);
    else this.d.scheduler.resume(`config.${name}`);
    return true;
  }

  async list(): Promise<Array<ScheduleConfig & { paused: boolean; lastRun: number | null; next: Date | null; provider: string | null }>> {
    const infos = new Map(this.d.scheduler.list().map((i) => [i.name, i]));
    const out = [];
    for (const s of this.d.schedules) {
      const st = await this.state(s.name);
      out.push({ ...s, paused: st.paused, lastRun: st.lastRun, next: infos.get(`config.${s.name}`)?.next ?? null, provider: this.kinds.get(s.kind)?.plugin ?? null });
    }
    return out;
  }

  private async run(s: ScheduleConfig, trigger: JobRun['trigger']): Promise<void> {
    const provider = this.kinds.get(s.kind);
    if (!provider) throw new Error(`no plugin provides kind "${s.kind}"`);
    const state = await this.state(s.name);
    const at = this.d.clock.now();
    await provider.run({ name: s.name, kind: s.kind, targets: s.targets, at, previous: state.lastRun, missed: state.missed, trigger });
    // a command run does not move the schedule's period: the next scheduled digest still covers everything since the last one
    if (trigger === 'schedule') await this.save(s.name, { ...state, lastRun: at, missed: null });
  }

  /** fires due after `lastRun` and before now, minute by minute within the look-back */
  private missedSince(s: ScheduleConfig, lastRun: number | null): JobState['missed'] {
    if (lastRun === null) return null;
    const now = this.d.clock.now();
    const task = cron.createTask(s.cron, () => undefined, { timezone: s.timezone ?? this.d.timezone });
    let count = 0;
    let first = 0;
    let last = 0;
    const start = Math.max(lastRun, now - MISSED_LOOKBACK_MS);
    for (let t = Math.floor(start / 60_000) * 60_000 + 60_000; t < now; t += 60_000) {
      if (t <= lastRun) continue;
      if (task.match(new Date(t))) {
        if (count === 0) first = t;
        last = t;
        count++;
      }
    }
    void task.destroy();
    return count === 0 ? null : { count, first, last };
  }

  private async state(name: string): Promise<JobState> {
    const parsed = stateSchema.safeParse(await this.d.store.get(`job:${name}`));
    return parsed.success ? parsed.data : { lastRun: null, since: null, paused: false, missed: null };
  }

  private async save(name: string, state: JobState): Promise<void> {
    await this.d.store.set(`job:${name}`, state);
  }
}

function mergeMissed(a: JobState['missed'], b: NonNullable<JobState['missed']>): NonNullable<JobState['missed']> {
  return a === null ? b : { count: a.count + b.count, first: Math.min(a.first, b.first), last: Math.max(a.last, b.last) };
}
