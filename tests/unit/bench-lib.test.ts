import { describe, expect, it } from 'vitest';
import { checkGoal, measureThroughput, percentile } from '../../bench/lib.js';

describe('checkGoal', () => {
  it('compares against >=, <=, > and < bounds, inclusive only where it says so', () => {
    expect(checkGoal(50_000, '>=50000')).toBe(true);
    expect(checkGoal(49_999.9, '>=50000')).toBe(false);
    expect(checkGoal(250, '<=250')).toBe(true);
    expect(checkGoal(250.1, '<=250')).toBe(false);
    expect(checkGoal(250, '<250')).toBe(false);
    expect(checkGoal(249, '<250')).toBe(true);
    expect(checkGoal(10, '>10')).toBe(false);
    expect(checkGoal(10.5, '> 10')).toBe(true);
  });

  it('reads decimal, negative and exponent bounds', () => {
    expect(checkGoal(0.04, '<=0.05')).toBe(true);
    expect(checkGoal(-2, '>=-1.5')).toBe(false);
    expect(checkGoal(2e5, '>=2e5')).toBe(true);
  });

  it('never passes NaN', () => {
    expect(checkGoal(Number.NaN, '>=0')).toBe(false);
    expect(checkGoal(Number.NaN, '<=0')).toBe(false);
  });

  it('throws on a malformed goal', () => {
    expect(() => checkGoal(1, '50000')).toThrow(/bad goal/);
    expect(() => checkGoal(1, '=>5')).toThrow(/bad goal/);
    expect(() => checkGoal(1, '>=fast')).toThrow(/bad goal/);
  });
});

describe('percentile', () => {
  const oneToHundred = Float64Array.from({ length: 100 }, (_, i) => i + 1);

  it('uses nearest rank', () => {
    expect(percentile(oneToHundred, 50)).toBe(50);
    expect(percentile(oneToHundred, 99)).toBe(99);
    expect(percentile(oneToHundred, 100)).toBe(100);
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([10, 20, 30, 40], 51)).toBe(30);
    expect(percentile([7], 99)).toBe(7);
  });

  it('takes p99 of 1000 samples as the 990th, not the maximum', () => {
    const samples = Float64Array.from({ length: 1000 }, (_, i) => (i < 990 ? 1 : 1000));
    expect(percentile(samples, 99)).toBe(1);
    expect(percentile(samples, 99.1)).toBe(1000);
  });

  it('rejects no samples and out-of-range p', () => {
    expect(() => percentile([], 50)).toThrow(RangeError);
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });
});

describe('measureThroughput', () => {
  it('calls fn warmup + iterations times and reports consistent figures', async () => {
    let calls = 0;
    const r = await measureThroughput(() => {
      calls += 1;
    }, { warmup: 5, iterations: 200 });
    expect(calls).toBe(205);
    expect(r.iterations).toBe(200);
    expect(r.p50Us).toBeGreaterThanOrEqual(0);
    expect(r.p99Us).toBeGreaterThanOrEqual(r.p50Us);
    expect(r.opsPerSec).toBeCloseTo(200 / (r.totalMs / 1000), 6);
  });

  it('awaits a promise-returning fn before timing the next op', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    await measureThroughput(async () => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight -= 1;
    }, { warmup: 2, iterations: 20 });
    expect(maxInFlight).toBe(1);
  });

  it('rejects a non-positive iteration count', async () => {
    await expect(measureThroughput(() => 0, { warmup: 0, iterations: 0 })).rejects.toThrow(RangeError);
  });
});
