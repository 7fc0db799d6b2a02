import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { featureSeries, NotEnoughSamplesError, planFolds, samplesOf, type SeriesColumns } from '../../src/ml/index.js';

const H = 3_600_000;

/** a series of `n` hourly candles with holes after the given candle indices (each hole `missing` candles) */
function series(n: number, holes: Array<[after: number, missing: number]>): SeriesColumns {
  const time = new Float64Array(n);
  let t = 0;
  const skip = new Map(holes);
  for (let i = 0; i < n; i++) {
    time[i] = t;
    t += H * (1 + (skip.get(i) ?? 0));
  }
  const close = Float64Array.from({ length: n }, (_, i) => 100 + 10 * Math.sin(i / 7) + (i % 5));
  return { time, open: close.slice(), high: close.map((c) => c * 1.01), low: close.map((c) => c * 0.99), close, volume: close.map((c) => c), timeframeMs: H };
}

describe('walk-forward folds', () => {
  it('each test window is strictly after its train window, whose labels are all known before it; windows roll forward without overlap (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 400, max: 1500 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1499 }), fc.integer({ min: 1, max: 5 })), { maxLength: 6 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 50, max: 300 }),
        fc.integer({ min: 10, max: 80 }),
        (n, holes, h, folds, trainWindow, testWindow) => {
          const fs = featureSeries(series(n, holes.filter(([a]) => a < n - 1)));
          const s = samplesOf(fs, 8, h);
          let plan;
          try {
            plan = planFolds(s, { folds, trainWindow, testWindow });
          } catch (err) {
            // refused only when there really are too few samples
            expect(err).toBeInstanceOf(NotEnoughSamplesError);
            // (at most h samples — the hours before a test window — have labels reaching into it)
            expect(s.time.length).toBeLessThan(trainWindow + folds * testWindow + h);
            return;
          }
          expect(plan).toHaveLength(folds);
          const n2 = s.time.length;
          plan.forEach((f, k) => {
            expect(f.train).toHaveLength(trainWindow);
            expect(f.test).toHaveLength(testWindow);
            // the test windows are the newest folds × testWindow samples, in order
            expect(f.test[0]).toBe(n2 - (folds - k) * testWindow);
            for (let i = 1; i < f.test.length; i++) expect(f.test[i]).toBe((f.test[i - 1] as number) + 1);
            for (let i = 1; i < f.train.length; i++) expect(f.train[i]).toBe((f.train[i - 1] as number) + 1);
            const firstTest = s.time[f.test[0] as number] as number;
            const lastTrain = f.train[f.train.length - 1] as number;
            expect(s.time[lastTrain]).toBeLessThan(firstTest);
            expect(s.labelTime[lastTrain]).toBeLessThanOrEqual(firstTest);
            // the newest such sample is used: the next one's label was not known yet
            const next = lastTrain + 1;
            if (next < (f.test[0] as number)) expect(s.labelTime[next]).toBeGreaterThan(firstTest);
          });
        },
      ),
      { numRuns: 80 },
    );
  });

  it('leaves out exactly the h samples whose labels reach into the test window when the record is contiguous', () => {
    const fs = featureSeries(series(1000, []));
    const s = samplesOf(fs, 8, 24);
    const [f] = planFolds(s, { folds: 1, trainWindow: 300, testWindow: 100 });
    expect((f?.test[0] as number) - (f?.train[299] as number)).toBe(24);
  });

  it('refuses, naming the numbers, when the samples do not fill the windows', () => {
    const fs = featureSeries(series(500, []));
    const s = samplesOf(fs, 8, 1);
    expect(() => planFolds(s, { folds: 4, trainWindow: 300, testWindow: 100 })).toThrow(
      new NotEnoughSamplesError(`${s.time.length} labelled samples, 700 needed at least (train window 300 + 4 folds × test window 100, plus the horizon between them)`),
    );
    // enough for the test windows but not for the purge in front of the first one
    const n = s.time.length;
    expect(() => planFolds(s, { folds: 1, trainWindow: n - 100, testWindow: 100 })).not.toThrow();
    const s24 = samplesOf(fs, 8, 24);
    expect(() => planFolds(s24, { folds: 1, trainWindow: s24.time.length - 100, testWindow: 100 })).toThrow(/fold 1: only \d+ samples have their label known before its test window/);
  });

  it('no sample sequence or label crosses a gap', () => {
    const fs = featureSeries(series(600, [[200, 3], [350, 1]]));
    const s = samplesOf(fs, 10, 5);
    for (let i = 0; i < s.index.length; i++) {
      const t = s.index[i] as number;
      // from the first warm-up candle to the label candle: all one hour apart
      expect((fs.series.time[t + 5] as number) - (fs.series.time[t - 9 - 49] as number)).toBe((5 + 9 + 49) * H);
    }
    // samples resume only after a new warm-up behind each gap
    const after = Array.from(s.index).filter((t) => t > 200);
    expect(after[0]).toBe(201 + 49 + 9);
  });
});
