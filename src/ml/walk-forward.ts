/**
 * Walk-forward folds over time-ordered samples: rolling train/test windows, only the test
 * windows are scored.
 *
 *   The test windows are the newest `folds × testWindow` samples, cut into `folds` consecutive
 *   windows of `testWindow` samples, oldest first.
 *   Fold k trains on the newest `trainWindow` samples whose label was known when the first
 *   prediction of test window k is made: label time (open of candle t + h) ≤ the first test
 *   sample's time. The last h candles before a test window are therefore never trained on
 *   (their labels reach into it): no training label looks into the test window, and every
 *   training sample is strictly before it.
 *
 * Too few samples for the windows asked is an error naming the numbers, never a shorter fold.
 */
import type { Samples } from './dataset.js';

export interface WalkForwardOptions {
  folds: number;
  trainWindow: number;
  testWindow: number;
}

export interface Fold {
  /** 0-based */
  fold: number;
  /** positions in the samples arrays, ascending */
  train: Int32Array;
  test: Int32Array;
}

export class NotEnoughSamplesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotEnoughSamplesError';
  }
}

export function planFolds(s: Pick<Samples, 'time' | 'labelTime'>, o: WalkForwardOptions): Fold[] {
  const n = s.time.length;
  const { folds, trainWindow, testWindow } = o;
  if (!(Number.isInteger(folds) && folds >= 1)) throw new RangeError(`folds must be a positive integer, got ${folds}`);
  if (!(Number.isInteger(trainWindow) && trainWindow >= 2)) throw new RangeError(`trainWindow must be an integer ≥ 2, got ${trainWindow}`);
  if (!(Number.isInteger(testWindow) && testWindow >= 1)) throw new RangeError(`testWindow must be a positive integer, got ${testWindow}`);
  const firstTest = n - folds * testWindow;
  if (firstTest < trainWindow) {
    throw new NotEnoughSamplesError(
      `${n.toLocaleString('en-US')} labelled samples, ${(trainWindow + folds * testWindow).toLocaleString('en-US')} needed at least (train window ${trainWindow} + ${folds} folds × test window ${testWindow}, plus the horizon between them)`,
    );
  }
  const out: Fold[] = [];
  for (let k = 0; k < folds; k++) {
    const testStart = firstTest + k * testWindow;
    const startTime = s.time[testStart] as number;
    // the newest sample whose label is known at the first test prediction
    let end = testStart; // exclusive
    while (end > 0 && !((s.labelTime[end - 1] as number) <= startTime)) end--;
    if (end < trainWindow) {
      throw new NotEnoughSamplesError(
        `fold ${k + 1}: only ${end} samples have their label known before its test window, ${trainWindow} needed (train window); use fewer folds, a smaller window or more history`,
      );
    }
    const train = new Int32Array(trainWindow);
    for (let i = 0; i < trainWindow; i++) train[i] = end - trainWindow + i;
    const test = new Int32Array(testWindow);
    for (let i = 0; i < testWindow; i++) test[i] = testStart + i;
    out.push({ fold: k, train, test });
  }
  return out;
}
