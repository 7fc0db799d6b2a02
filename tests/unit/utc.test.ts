import { describe, expect, it } from 'vitest';
import { utcAt, utcClock, utcDay, utcHourMinute, utcMinute, utcSecond } from '../../src/kernel/index.js';

describe('how the desk writes times (always UTC)', () => {
  // 2026-11-27 09:05:33.250 in Tokyo is still 00:05 UTC: the host's zone never shows
  const t = Date.UTC(2026, 10, 27, 0, 5, 33, 250);

  it('each shape', () => {
    expect(utcDay(t)).toBe('2026-11-27');
    expect(utcMinute(t)).toBe('2026-11-27 00:05');
    expect(utcAt(t)).toBe('2026-11-27 00:05 UTC');
    expect(utcSecond(t)).toBe('2026-11-27 00:05:33');
    expect(utcClock(t)).toBe('00:05:33');
    expect(utcHourMinute(t)).toBe('00:05');
  });

  it('takes a Date as well as epoch milliseconds', () => {
    expect(utcAt(new Date(t))).toBe(utcAt(t));
  });
});
