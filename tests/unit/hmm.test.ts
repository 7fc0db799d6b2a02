import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { filteredProbabilities, fitGaussianHmm, hmmLogLikelihood, stationaryDistribution, viterbi } from '../../src/regimes/hmm.js';
import { recordedCandles } from '../helpers/recorded.js';

/** mulberry32: a small seeded PRNG, so the synthetic draws are the same on every run */
function prng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** T draws from a known Gaussian HMM (Box-Muller normals); also returns the true state path */
function sample(model: { means: number[]; sds: number[]; transition: number[][] }, T: number, seed: number): { obs: Float64Array; states: Int32Array } {
  const rand = prng(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const obs = new Float64Array(T);
  const states = new Int32Array(T);
  let s = 0;
  for (let t = 0; t < T; t++) {
    if (t > 0) {
      const u = rand();
      const row = model.transition[s] as number[];
      let acc = 0;
      let next = row.length - 1;
      for (let k = 0; k < row.length; k++) {
        acc += row[k] as number;
        if (u < acc) {
          next = k;
          break;
        }
      }
      s = next;
    }
    states[t] = s;
    obs[t] = (model.means[s] as number) + (model.sds[s] as number) * normal();
  }
  return { obs, states };
}

// state 0 calm and drifting up, state 1 volatile and drifting down (already sorted by variance)
const TRUE2 = { means: [0.1, -0.3], sds: [0.5, 2], transition: [[0.97, 0.03], [0.06, 0.94]] };

describe('fitGaussianHmm on data drawn from a known two-state model', () => {
  const { obs, states } = sample(TRUE2, 5000, 20210519);
  const m = fitGaussianHmm(obs, { states: 2 });

  it('recovers means, variances and transition probabilities', () => {
    expect(m.converged).toBe(true);
    expect(m.means[0]).toBeCloseTo(0.1, 1); // |Δ| < 0.05
    expect(Math.abs((m.means[1] as number) - -0.3)).toBeLessThan(0.12); // the volatile state's mean is noisier
    expect(Math.abs((m.variances[0] as number) / 0.25 - 1)).toBeLessThan(0.1);
    expect(Math.abs((m.variances[1] as number) / 4 - 1)).toBeLessThan(0.1);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++) expect(Math.abs(((m.transition[i] as Float64Array)[j] as number) - ((TRUE2.transition[i] as number[])[j] as number))).toBeLessThan(0.015);
      const row = m.transition[i] as Float64Array;
      expect((row[0] as number) + (row[1] as number)).toBeCloseTo(1, 12);
    }
    // stationary share of the calm state: 0.06 / (0.03 + 0.06) = 2/3
    expect(stationaryDistribution(m.transition)[0]).toBeCloseTo(2 / 3, 1);
  });

  it('never lowers the log-likelihood from one EM step to the next', () => {
    expect(m.trace.length).toBe(m.iterations + 1);
    for (let i = 1; i < m.trace.length; i++) expect(m.trace[i] as number).toBeGreaterThanOrEqual((m.trace[i - 1] as number) - 1e-9 * Math.abs(m.trace[i - 1] as number));
    // the reported likelihood is the one of the returned parameters
    expect(hmmLogLikelihood(m, obs)).toBeCloseTo(m.logLikelihood, 6);
    // and it beats the data-generating parameters' own likelihood (the MLE is at least as good)
    const truth = {
      means: Float64Array.from(TRUE2.means),
      variances: Float64Array.from(TRUE2.sds, (s) => s * s),
      transition: TRUE2.transition.map((r) => Float64Array.from(r)),
      initial: Float64Array.from([1, 0]),
    };
    expect(m.logLikelihood).toBeGreaterThanOrEqual(hmmLogLikelihood(truth, obs) - 1e-6);
  });

  it('filtered and Viterbi states match the true path most of the time', () => {
    const f = filteredProbabilities(m, obs);
    let filteredHits = 0;
    for (let t = 0; t < obs.length; t++) if (((f[1] as Float64Array)[t] as number) > 0.5 === (states[t] === 1)) filteredHits++;
    expect(filteredHits / obs.length).toBeGreaterThan(0.9);
    const path = viterbi(m, obs);
    let viterbiHits = 0;
    for (let t = 0; t < obs.length; t++) if (path[t] === states[t]) viterbiHits++;
    expect(viterbiHits / obs.length).toBeGreaterThan(0.93);
    for (let t = 0; t < obs.length; t++) expect(((f[0] as Float64Array)[t] as number) + ((f[1] as Float64Array)[t] as number)).toBeCloseTo(1, 12);
  });

  it('is deterministic: the same data gives the same model, bit for bit', () => {
    const again = fitGaussianHmm(obs, { states: 2 });
    expect(again).toEqual(m);
  });

  it('labels states by variance whatever order the data suggests', () => {
    // the same process with the volatile state listed first
    const flipped = { means: [-0.3, 0.1], sds: [2, 0.5], transition: [[0.94, 0.06], [0.03, 0.97]] };
    const g = fitGaussianHmm(sample(flipped, 5000, 7).obs, { states: 2 });
    expect(g.variances[0] as number).toBeLessThan(g.variances[1] as number);
    expect(g.means[0]).toBeCloseTo(0.1, 1);
    expect((g.transition[0] as Float64Array)[0] as number).toBeGreaterThan((g.transition[1] as Float64Array)[1] as number);
  });
});

describe('three states', () => {
  it('recovers a known three-state model', () => {
    const truth = { means: [0.2, 0, -0.8], sds: [0.3, 1, 3], transition: [[0.95, 0.04, 0.01], [0.03, 0.95, 0.02], [0.02, 0.06, 0.92]] };
    const { obs } = sample(truth, 8000, 3);
    const m = fitGaussianHmm(obs, { states: 3, maxIter: 1000 });
    const variances = Array.from(m.variances);
    [0.09, 1, 9].forEach((v, k) => expect(Math.abs((variances[k] as number) / v - 1)).toBeLessThan(0.15));
    for (let k = 0; k < 3; k++) expect(Math.abs(((m.transition[k] as Float64Array)[k] as number) - ((truth.transition[k] as number[])[k] as number))).toBeLessThan(0.03);
    for (let i = 1; i < m.trace.length; i++) expect(m.trace[i] as number).toBeGreaterThanOrEqual((m.trace[i - 1] as number) - 1e-9 * Math.abs(m.trace[i - 1] as number));
  });
});

describe('numerical robustness', () => {
  it('does not underflow on 20,000 observations with a 100-sigma outlier', () => {
    const { obs } = sample(TRUE2, 20_000, 11);
    obs[12_345] = 200;
    const m = fitGaussianHmm(obs, { states: 2, maxIter: 50 });
    expect(Number.isFinite(m.logLikelihood)).toBe(true);
    const f = filteredProbabilities(m, obs);
    for (const p of f) for (const x of p) expect(Number.isFinite(x)).toBe(true);
  });

  it('refuses non-finite data and impossible settings', () => {
    expect(() => fitGaussianHmm(Float64Array.from([0.1, Number.NaN, 0.2, 0.3]))).toThrow(/observation 1 is not a finite number/);
    expect(() => fitGaussianHmm(Float64Array.from([0.1, 0.2]), { states: 2 })).toThrow(/too few/);
    expect(() => fitGaussianHmm(new Float64Array(100), { states: 0 })).toThrow(/states/);
  });

  it('keeps a variance floor on constant data', () => {
    const m = fitGaussianHmm(new Float64Array(200).fill(0.001), { states: 2 });
    for (const v of m.variances) expect(v).toBeGreaterThan(0);
    expect(Number.isFinite(m.logLikelihood)).toBe(true);
  });
});

describe('on real BTC/USDT 1h log returns', () => {
  const btc = recordedCandles('binance', 'BTC/USDT', '1h');
  // the contiguous stretch after the record's last maintenance gap (2021-04-25 → 2021-07-17)
  let start = 0;
  for (let i = 1; i < btc.length; i++) if ((btc.time[i] as number) - (btc.time[i - 1] as number) !== 3_600_000) start = i;
  const times = btc.time.subarray(start);
  const closes = btc.close.subarray(start);
  const returns = new Float64Array(closes.length - 1);
  for (let i = 0; i < returns.length; i++) returns[i] = Math.log((closes[i + 1] as number) / (closes[i] as number));
  /** index into returns of the return that ends with the candle opened at iso */
  const at = (iso: string): number => times.indexOf(Date.parse(iso)) - 1;

  it('is a long contiguous stretch that holds the May 2021 crash', () => {
    expect(returns.length).toBeGreaterThan(1900);
    expect(at('2021-05-19T14:00:00Z')).toBeGreaterThan(0);
  });

  it('separates a high-variance state that is on during the 19 May 2021 crash', () => {
    const m = fitGaussianHmm(returns, { states: 2 });
    expect(m.converged).toBe(true);
    expect((m.variances[1] as number) / (m.variances[0] as number)).toBeGreaterThan(2);
    const f = filteredProbabilities(m, returns)[1] as Float64Array;
    // the crash hours (10:00–14:00 UTC candles, with the −9.4 % hour at 12:00) and the day as a whole
    for (const h of ['10', '11', '12', '13', '14']) expect(f[at(`2021-05-19T${h}:00:00Z`)] as number).toBeGreaterThan(0.9);
    const day = f.subarray(at('2021-05-19T00:00:00Z'), at('2021-05-20T00:00:00Z'));
    expect(day.reduce((s, p) => s + p, 0) / day.length).toBeGreaterThan(0.7);
    // and mostly off in the quiet early July range
    const july = f.subarray(at('2021-07-01T00:00:00Z'), at('2021-07-15T00:00:00Z'));
    expect(july.reduce((s, p) => s + p, 0) / july.length).toBeLessThan(0.35);
  });

  it('three states on real returns: still ordered by variance, the top one on in the crash', () => {
    const m = fitGaussianHmm(returns, { states: 3 });
    expect((m.variances[2] as number) / (m.variances[0] as number)).toBeGreaterThan(4);
    const f = filteredProbabilities(m, returns)[2] as Float64Array;
    expect(f[at('2021-05-19T14:00:00Z')] as number).toBeGreaterThan(0.9);
  });

  it('fits 1,000 returns quickly (two states)', () => {
    const window = returns.subarray(returns.length - 1000);
    fitGaussianHmm(window); // warm the JIT
    const ms: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      fitGaussianHmm(window);
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    // goal well under 50 ms; the bound is loose so a busy CI box does not fail it
    expect(ms[2] as number).toBeLessThan(100);
  });
});

describe('filtered probabilities use no future observation', () => {
  const model = fitGaussianHmm(sample(TRUE2, 2000, 5).obs, { states: 2 });
  it('appending observations never changes a probability already computed', () => {
    const finite = fc.double({ min: -50, max: 50, noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(fc.array(finite, { minLength: 1, maxLength: 300 }), fc.array(finite, { minLength: 1, maxLength: 100 }), (past, future) => {
        const before = filteredProbabilities(model, Float64Array.from(past));
        const after = filteredProbabilities(model, Float64Array.from([...past, ...future]));
        for (let k = 0; k < 2; k++) {
          const b = before[k] as Float64Array;
          const a = after[k] as Float64Array;
          for (let t = 0; t < past.length; t++) if (a[t] !== b[t]) return false;
        }
        return true;
      }),
      { numRuns: 200 },
    );
  });
});
