import { describe, expect, it } from 'vitest';
import { decide, verdictWord, type PredictView } from '../../plugins/ml/format.js';
import { accuracy, brier, gateTally, lastReturnBaseline, majorityBaseline, tally, verdict, type Forecast, type ModelMeta } from '../../src/ml/index.js';
import { addReliability, emptyReliability } from '../../src/ml/metrics.js';

describe('scores', () => {
  it('accuracy is the share of correct classes (up at P ≥ ½) and Brier the mean squared error of P(up)', () => {
    const p = [0.9, 0.2, 0.5, 0.4];
    const y = [1, 0, 0, 1];
    const t = tally(p, y);
    expect(t).toMatchObject({ n: 4, correct: 2 });
    expect(t.brierSum).toBeCloseTo(0.01 + 0.04 + 0.25 + 0.36, 15);
    expect(accuracy(t)).toBe(0.5);
    expect(brier(t)).toBeCloseTo(0.66 / 4, 15);
    expect(() => tally([1.2], [1])).toThrow(/not a probability/);
    expect(() => tally([0.5], [1, 0])).toThrow(/1 forecasts for 2 labels/);
  });

  it('reliability bins count, average and compare forecasts with outcomes; the last bin holds 1', () => {
    const table = emptyReliability(4);
    addReliability(table, [0.1, 0.2, 0.6, 0.7, 1], [0, 1, 1, 1, 1]);
    expect(table.map((b) => [b.from, b.to, b.n, b.ups])).toEqual([
      [0, 0.25, 2, 1],
      [0.25, 0.5, 0, 0],
      [0.5, 0.75, 2, 2],
      [0.75, 1, 1, 1],
    ]);
    expect(table[0]?.sumP).toBeCloseTo(0.3, 15);
  });

  it('the gate counts forecasts whose confidence max(p, 1 − p) reaches it, either way', () => {
    expect(gateTally([0.85, 0.1, 0.6, 0.2], [1, 1, 1, 0], 0.8)).toEqual({ gate: 0.8, n: 3, correct: 2 });
  });
});

describe('baselines', () => {
  it('majority: the training window’s majority class for every test sample; its Brier uses the training up-rate', () => {
    const m = majorityBaseline([1, 1, 0, 1], [1, 0, 0]);
    expect(m).toMatchObject({ predicts: 'up', trainUpRate: 0.75, n: 3, correct: 1 });
    expect(m.brierSum).toBeCloseTo(0.0625 + 0.5625 + 0.5625, 15);
    // a tie is up
    expect(majorityBaseline([1, 0], [0]).predicts).toBe('up');
  });

  it('last-return sign: a hard forecast, so its Brier is its error rate', () => {
    const t = lastReturnBaseline([1, 0, 1, 1], [1, 1, 1, 0]);
    expect(t).toEqual({ n: 4, correct: 2, brierSum: 2 });
  });

  it('a model beats the baselines only with higher accuracy than both and lower Brier than both, and says when the margin is noise', () => {
    const maj = { n: 1000, correct: 510, brierSum: 249.9 };
    const last = { n: 1000, correct: 490, brierSum: 510 };
    const small = verdict({ n: 1000, correct: 515, brierSum: 249.5 }, maj, last);
    expect(small).toMatchObject({ beats: true, significant: false });
    expect(small.text).toBe(
      'beats the baselines: accuracy 0.5150 > 0.5100, Brier 0.2495 < 0.2499, but by less than 2 standard errors (margin 0.0050 < 0.0316 on 1000 forecasts): not distinguishable from noise',
    );
    expect(verdict({ n: 1000, correct: 560, brierSum: 245 }, maj, last)).toMatchObject({ beats: true, significant: true });
    // at a 24-candle horizon neighbouring labels overlap: ~1000/24 independent outcomes, so the same margin is noise
    const h24 = verdict({ n: 1000, correct: 560, brierSum: 245 }, maj, last, 24);
    expect(h24).toMatchObject({ beats: true, significant: false });
    expect(h24.text).toContain('(margin 0.0500 < 0.1538 on 1000 forecasts, ~42 independent at horizon 24)');
    const worse = verdict({ n: 1000, correct: 520, brierSum: 251 }, maj, last);
    expect(worse).toMatchObject({ beats: false, significant: false });
    expect(worse.text).toBe('does not beat the baselines: Brier 0.2510 ≥ majority (climatology) 0.2499');
    expect(verdict({ n: 1000, correct: 505, brierSum: 251 }, maj, last).text).toBe(
      'does not beat the baselines: accuracy 0.5050 ≤ majority 0.5100; Brier 0.2510 ≥ majority (climatology) 0.2499',
    );
  });
});

describe('the confidence gate of /predict', () => {
  const fcOf = (kind: 'lstm' | 'gru', p: number): Forecast => ({ kind, p, sd: 0.03, p10: p - 0.04, p90: p + 0.04, passes: 30, direction: p >= 0.5 ? 'up' : 'down', confidence: Math.max(p, 1 - p) });
  const view = (p: number, gate: number, v: { beats: boolean; significant: boolean }): PredictView => ({
    meta: {
      best: 'gru',
      walkForward: { verdicts: { lstm: { beats: false, significant: false, text: 'does not beat the baselines: x' }, gru: { ...v, text: v.beats ? 'beats the baselines: y' : 'does not beat the baselines: z' } } },
    } as unknown as ModelMeta,
    forecasts: { lstm: fcOf('lstm', 0.99), gru: fcOf('gru', p) },
    candleTime: 0,
    gate,
  });

  it('signals only when the model the gate reads is at least as confident as the gate and significantly beat the baselines', () => {
    expect(decide(view(0.85, 0.8, { beats: true, significant: true }))).toEqual({ signal: true, kind: 'gru', reasons: [] });
    // down forecasts count: confidence is max(p, 1 − p)
    expect(decide(view(0.15, 0.8, { beats: true, significant: true })).signal).toBe(true);
    expect(decide(view(0.8, 0.8, { beats: true, significant: true })).signal).toBe(true);
  });

  it('refuses below the gate saying the confidence and the gate, and refuses a model that did not beat the baselines', () => {
    expect(decide(view(0.62, 0.8, { beats: true, significant: true }))).toEqual({ signal: false, kind: 'gru', reasons: ['confidence 0.62 (GRU) is below the gate 0.80'] });
    expect(decide(view(0.9, 0.8, { beats: false, significant: false })).reasons).toEqual(['GRU does not beat the baselines: z (walk-forward)']);
    expect(decide(view(0.9, 0.8, { beats: true, significant: false })).signal).toBe(false);
    expect(verdictWord({ beats: true, significant: false, text: '' })).toBe('ahead of the baselines within noise');
  });
});
