import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { definePlugin } from '../../src/kernel/index.js';
import { Scheduler } from '../../src/kernel/scheduler.js';
import { startDesk, testConfig } from '../helpers/kernel.js';

const silent = pino({ level: 'silent' });
let scheduler: Scheduler | undefined;
afterEach(async () => {
  await scheduler?.stop();
  scheduler = undefined;
});

describe('scheduler', () => {
  it('computes the next run in the schedule’s own time zone', () => {
    scheduler = new Scheduler(silent, 'UTC');
    const tokyo = scheduler.add('digest', { name: 'morning', cron: '0 9 * * *', timezone: 'Asia/Tokyo', run: () => undefined });
    const utc = scheduler.add('digest', { name: 'morning-utc', cron: '0 9 * * *', run: () => undefined });
    expect(tokyo).toMatchObject({ name: 'digest.morning', timezone: 'Asia/Tokyo', paused: false });
    // 09:00 in Tokyo (UTC+9, no DST) is 00:00 UTC
    expect(tokyo.next?.getUTCHours()).toBe(0);
    expect(tokyo.next?.getUTCMinutes()).toBe(0);
    expect(utc.timezone).toBe('UTC');
    expect(utc.next?.getUTCHours()).toBe(9);
  });

  it('refuses a bad expression, an unknown zone and a duplicate name with one line each', () => {
    scheduler = new Scheduler(silent, 'UTC');
    expect(() => scheduler?.add('p', { name: 'x', cron: '61 * * * *', run: () => undefined })).toThrow(/^schedule p\.x: cron "61 \* \* \* \*" is not valid \(/);
    expect(() => scheduler?.add('p', { name: 'y', cron: '0 * * * *', timezone: 'Mars/Olympus', run: () => undefined })).toThrow(
      'schedule p.y: unknown time zone "Mars/Olympus" (use an IANA name like Europe/London)',
    );
    scheduler.add('p', { name: 'z', cron: '0 * * * *', run: () => undefined });
    expect(() => scheduler?.add('p', { name: 'z', cron: '0 * * * *', run: () => undefined })).toThrow('schedule p.z is defined twice');
  });

  it('a failing job is contained; pause and resume change what list() reports', async () => {
    scheduler = new Scheduler(silent, 'UTC');
    const ran: string[] = [];
    scheduler.add('p', {
      name: 'bad',
      cron: '0 * * * *',
      run: () => {
        ran.push('bad');
        throw new Error('exchange down');
      },
    });
    await expect(scheduler.runNow('p.bad')).resolves.toBe(true);
    expect(ran).toEqual(['bad']);
    expect(await scheduler.runNow('p.missing')).toBe(false);
    expect(scheduler.pause('p.bad')).toBe(true);
    expect(scheduler.list()[0]).toMatchObject({ paused: true, next: null });
    expect(scheduler.resume('p.bad')).toBe(true);
    expect(scheduler.list()[0]?.paused).toBe(false);
  });
});

describe('schedules from plugins', () => {
  it('are named after the plugin and use the config time zone by default', async () => {
    const fired: string[] = [];
    const plugin = definePlugin({
      name: 'digest',
      version: '1.0.0',
      setup(ctx) {
        ctx.schedule({ name: 'close', cron: '0 17 * * 1-5', run: (f) => void fired.push(f.name) });
      },
    });
    const desk = await startDesk({ plugins: [plugin], config: testConfig({ timezone: 'America/New_York' }) });
    const [info] = desk.kernel.scheduler.list();
    expect(info).toMatchObject({ name: 'digest.close', owner: 'digest', timezone: 'America/New_York' });
    await desk.kernel.scheduler.runNow('digest.close');
    expect(fired).toEqual(['digest.close']);
    await desk.kernel.stop();
    expect(desk.kernel.scheduler.list()).toEqual([]);
  });
});
