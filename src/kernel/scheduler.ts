import cron, { type RunCoordinator, type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';

export interface ScheduleSpec {
  /** unique within the plugin; the full name is "<plugin>.<name>" */
  name: string;
  /** cron expression, 5 fields (or 6 with seconds) */
  cron: string;
  /** IANA zone, e.g. "Europe/London"; defaults to the config's timezone */
  timezone?: string;
  run(fired: { at: Date; name: string }): void | Promise<void>;
}

export interface ScheduleInfo {
  name: string;
  owner: string;
  cron: string;
  timezone: string;
  paused: boolean;
  next: Date | null;
}

interface Job {
  owner: string;
  spec: ScheduleSpec;
  timezone: string;
  task: ScheduledTask;
  paused: boolean;
}

/** An IANA zone the runtime knows, else undefined. */
export function checkTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * node-cron tasks, created stopped and started together once every plugin is set up, so a
 * schedule never fires into a half-built kernel. Jobs never overlap themselves; a failing
 * job is logged and the schedule keeps going. With a run coordinator (Redis mode) each fire
 * runs on one instance only.
 */
export class Scheduler {
  private readonly jobs = new Map<string, Job>();
  private started = false;

  constructor(
    private readonly logger: Logger,
    private readonly defaultTimezone: string,
    private readonly coordinator?: RunCoordinator,
  ) {}

  /** Throws a one-line error for a bad expression, zone or duplicate name: a config or plugin bug. */
  add(owner: string, spec: ScheduleSpec): ScheduleInfo {
    const name = `${owner}.${spec.name}`;
    if (this.jobs.has(name)) throw new Error(`schedule ${name} is defined twice`);
    const v = cron.validateDetailed(spec.cron);
    if (!v.valid) {
      const why = v.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
      throw new Error(`schedule ${name}: cron "${spec.cron}" is not valid (${why || 'bad expression'})`);
    }
    const timezone = spec.timezone ?? this.defaultTimezone;
    if (!checkTimezone(timezone)) throw new Error(`schedule ${name}: unknown time zone "${timezone}" (use an IANA name like Europe/London)`);
    const task = cron.createTask(spec.cron, (ctx) => this.fire(name, ctx.date), {
      name,
      timezone,
      noOverlap: true,
      ...(this.coordinator ? { distributed: true, runCoordinator: this.coordinator } : {}),
    });
    const job: Job = { owner, spec, timezone, task, paused: false };
    this.jobs.set(name, job);
    if (this.started) void task.start();
    return this.info(name, job);
  }

  start(): void {
    this.started = true;
    for (const job of this.jobs.values()) if (!job.paused) void job.task.start();
  }

  pause(name: string): boolean {
    const job = this.jobs.get(name);
    if (!job) return false;
    job.paused = true;
    void job.task.stop();
    return true;
  }

  resume(name: string): boolean {
    const job = this.jobs.get(name);
    if (!job) return false;
    job.paused = false;
    if (this.started) void job.task.start();
    return true;
  }

  list(): ScheduleInfo[] {
    return [...this.jobs.entries()].map(([name, job]) => this.info(name, job));
  }

  /** Run a job now (tests, `/digest now`), with the same error handling as a scheduled fire. */
  async runNow(name: string): Promise<boolean> {
    if (!this.jobs.has(name)) return false;
    await this.fire(name, new Date());
    return true;
  }

  async stop(): Promise<void> {
    this.started = false;
    for (const job of this.jobs.values()) await job.task.destroy();
    this.jobs.clear();
  }

  private async fire(name: string, at: Date): Promise<void> {
    const job = this.jobs.get(name);
    if (!job) return;
    try {
      await job.spec.run({ at, name });
      this.logger.debug({ schedule: name }, 'schedule ran');
    } catch (err) {
      this.logger.error({ err, schedule: name }, 'schedule failed');
    }
  }

  private info(name: string, job: Job): ScheduleInfo {
    return {
      name,
      owner: job.owner,
      cron: job.spec.cron,
      timezone: job.timezone,
      paused: job.paused,
      // getNextRun() is null until a task starts; getNextRuns works on a stopped one too
      next: job.paused ? null : (job.task.getNextRuns(1)[0] ?? null),
    };
  }
}
