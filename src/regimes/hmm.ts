/**
 * A Gaussian hidden Markov model on a return series: K hidden states, each emitting
 * N(mean_k, variance_k); a first-order Markov chain between them. Pure, no dependencies,
 * deterministic (no randomness anywhere: the same data always gives the same model).
 *
 * Fit: Baum-Welch (EM) with the scaled forward-backward recursions of Rabiner (1989, §V.A),
 * so 5,000+ observations never underflow: each forward step is normalised to sum to one and
 * the log-likelihood is the sum of the logs of the normalisers. Emissions are computed in log
 * space and shifted by their per-step maximum before exponentiating, so an observation far
 * from every state (a crash candle) cannot make all densities 0.
 *
 * Initialisation (deterministic): observations are ranked by their squared deviation from the
 * sample mean and cut into K equal quantile bands; band k gives state k its starting mean and
 * variance (the quietest band the calmest state). Transitions start persistent (0.9 on the
 * diagonal), the initial distribution uniform.
 *
 * Convergence: stop when the log-likelihood improves by less than tol · (1 + |logL|), or after
 * maxIter EM steps. EM never decreases the likelihood; the variance floor keeps a state from
 * collapsing onto a few identical returns (the floored M-step is still the constrained
 * maximiser, so monotonicity holds).
 *
 * After fitting, states are relabelled by variance, ascending: state 0 is the calmest and
 * state K−1 the most volatile; means, variances, initial and transition are permuted together.
 *
 * `filteredProbabilities` are forward (filtered) probabilities P(state_t | obs_1..t): the value
 * at t uses no observation after t, so with the model fixed, appending data never changes it.
 * (Smoothed probabilities, which use the whole series, are what EM needs internally; they are
 * deliberately not exported for decisions.)
 */

export interface GaussianHmm {
  /** per state, sorted by variance ascending (state 0 calmest) */
  means: Float64Array;
  variances: Float64Array;
  /** transition[i][j] = P(state_{t+1} = j | state_t = i); rows sum to 1 */
  transition: Float64Array[];
  /** P(state_1) */
  initial: Float64Array;
  /** log-likelihood of the data under the returned parameters */
  logLikelihood: number;
  /** EM steps (M-steps) done */
  iterations: number;
  /** true when the tolerance was met before maxIter */
  converged: boolean;
  /** log-likelihood before each M-step and of the final parameters (non-decreasing) */
  trace: Float64Array;
}

export interface FitOptions {
  /** hidden states, 2 (default) or 3 (up to 6 allowed) */
  states?: number;
  /** EM steps at most (default 300) */
  maxIter?: number;
  /** relative log-likelihood tolerance (default 1e-8): stop when the gain < tol · (1 + |logL|) */
  tol?: number;
  /** smallest variance a state may have; default 1e-4 × the sample variance (and > 0) */
  varianceFloor?: number;
}

const LOG_2PI = Math.log(2 * Math.PI);

export function fitGaussianHmm(obs: Float64Array, opts: FitOptions = {}): GaussianHmm {
  const K = opts.states ?? 2;
  const maxIter = opts.maxIter ?? 300;
  const tol = opts.tol ?? 1e-8;
  const T = obs.length;
  if (!Number.isInteger(K) || K < 1 || K > 6) throw new RangeError(`HMM: states must be an integer 1..6, got ${K}`);
  if (!Number.isInteger(maxIter) || maxIter < 0) throw new RangeError(`HMM: maxIter must be a non-negative integer, got ${maxIter}`);
  if (T < 2 * K) throw new RangeError(`HMM: ${T} observations are too few for ${K} states`);
  for (let t = 0; t < T; t++) if (!Number.isFinite(obs[t] as number)) throw new RangeError(`HMM: observation ${t} is not a finite number`);

  // Work on centred data (y = x − sample mean): the variance accumulators Σγy² stay well
  // conditioned for returns of any scale; the mean is added back at the end.
  let mean = 0;
  for (let t = 0; t < T; t++) mean += obs[t] as number;
  mean /= T;
  const y = new Float64Array(T);
  let sampleVar = 0;
  for (let t = 0; t < T; t++) {
    const d = (obs[t] as number) - mean;
    y[t] = d;
    sampleVar += d * d;
  }
  sampleVar /= T;
  const floor = Math.max(opts.varianceFloor ?? 1e-4 * sampleVar, 1e-300);

  // --- deterministic initialisation by quantile bands of the squared deviation
  const order = Array.from({ length: T }, (_, i) => i).sort((a, b) => (y[a] as number) ** 2 - (y[b] as number) ** 2 || a - b);
  const mu = new Float64Array(K);
  const v = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    const from = Math.floor((k * T) / K);
    const to = Math.floor(((k + 1) * T) / K);
    let s = 0;
    let ss = 0;
    for (let r = from; r < to; r++) {
      const d = y[order[r] as number] as number;
      s += d;
      // spread around the overall mean: the band's scale, not its (truncated) internal spread
      ss += d * d;
    }
    mu[k] = s / (to - from);
    v[k] = Math.max(ss / (to - from), floor);
  }
  // A[i*K + j] = P(j | i)
  const A = new Float64Array(K * K);
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) A[i * K + j] = K === 1 ? 1 : i === j ? 0.9 : 0.1 / (K - 1);
  const pi = new Float64Array(K).fill(1 / K);

  // --- work buffers (T × K, row-major)
  const B = new Float64Array(T * K); // emission densities, each row scaled by exp(−offset_t)
  const offset = new Float64Array(T);
  const alpha = new Float64Array(T * K); // scaled forward variables
  const c = new Float64Array(T); // forward normalisers
  const beta = new Float64Array(K); // scaled backward variables at t
  const betaNext = new Float64Array(K); // … at t + 1
  const tmp = new Float64Array(K);
  const gSum = new Float64Array(K);
  const gY = new Float64Array(K);
  const gYY = new Float64Array(K);
  const xi = new Float64Array(K * K);
  const logNorm = new Float64Array(K);
  const inv2v = new Float64Array(K);
  const trace: number[] = [];

  /** emissions, then the scaled forward pass; returns the log-likelihood */
  const forward = (): number => {
    for (let k = 0; k < K; k++) {
      logNorm[k] = -0.5 * (LOG_2PI + Math.log(v[k] as number));
      inv2v[k] = 0.5 / (v[k] as number);
    }
    let ll = 0;
    // Π c_t is kept as a running product and folded into ll before it can over/underflow:
    // one log per ~hundreds of steps instead of one per step
    let prod = 1;
    for (let t = 0; t < T; t++) {
      const x = y[t] as number;
      const base = t * K;
      let max = Number.NEGATIVE_INFINITY;
      let arg = 0;
      for (let k = 0; k < K; k++) {
        const d = x - (mu[k] as number);
        const lb = (logNorm[k] as number) - d * d * (inv2v[k] as number);
        B[base + k] = lb;
        if (lb > max) {
          max = lb;
          arg = k;
        }
      }
      offset[t] = max;
      let sum = 0;
      for (let k = 0; k < K; k++) {
        const b = k === arg ? 1 : Math.exp((B[base + k] as number) - max);
        B[base + k] = b;
        let p: number;
        if (t === 0) p = pi[k] as number;
        else {
          p = 0;
          const prev = base - K;
          for (let j = 0; j < K; j++) p += (alpha[prev + j] as number) * (A[j * K + k] as number);
        }
        const a = p * b;
        alpha[base + k] = a;
        sum += a;
      }
      if (!(sum > 0)) sum = Number.MIN_VALUE; // impossible under a valid model; keeps NaN out
      c[t] = sum;
      const inv = 1 / sum;
      for (let k = 0; k < K; k++) alpha[base + k] = (alpha[base + k] as number) * inv;
      ll += max;
      prod *= sum;
      if (prod < 1e-250 || prod > 1e250) {
        ll += Math.log(prod);
        prod = 1;
      }
    }
    return ll + Math.log(prod);
  };

  /**
   * The scaled backward pass with the E-step sums accumulated on the way (γ_t = α̂_t β̂_t,
   * ξ_t(j,k) = α̂_t(j) A_jk b_k(t+1) β̂_{t+1}(k) / c_{t+1}), then the M-step.
   */
  const backwardAndUpdate = (): void => {
    gSum.fill(0);
    gY.fill(0);
    gYY.fill(0);
    xi.fill(0);
    betaNext.fill(1);
    for (let t = T - 1; t >= 0; t--) {
      const base = t * K;
      if (t < T - 1) {
        const next = base + K;
        const invC = 1 / (c[t + 1] as number);
        for (let k = 0; k < K; k++) tmp[k] = (B[next + k] as number) * (betaNext[k] as number) * invC;
        for (let j = 0; j < K; j++) {
          let s = 0;
          const aj = alpha[base + j] as number;
          for (let k = 0; k < K; k++) {
            const w = (A[j * K + k] as number) * (tmp[k] as number);
            s += w;
            xi[j * K + k] = (xi[j * K + k] as number) + aj * w;
          }
          beta[j] = s;
        }
      } else beta.fill(1);
      const x = y[t] as number;
      for (let k = 0; k < K; k++) {
        const g = (alpha[base + k] as number) * (beta[k] as number);
        gSum[k] = (gSum[k] as number) + g;
        gY[k] = (gY[k] as number) + g * x;
        gYY[k] = (gYY[k] as number) + g * x * x;
        betaNext[k] = beta[k] as number;
      }
    }
    // t = 0: γ_0 = α̂_0 β̂_0 (beta holds β̂_0 now)
    let s0 = 0;
    for (let k = 0; k < K; k++) s0 += (alpha[k] as number) * (beta[k] as number);
    for (let k = 0; k < K; k++) pi[k] = ((alpha[k] as number) * (beta[k] as number)) / s0;
    for (let j = 0; j < K; j++) {
      let rs = 0;
      for (let k = 0; k < K; k++) rs += xi[j * K + k] as number;
      if (rs > 0) for (let k = 0; k < K; k++) A[j * K + k] = (xi[j * K + k] as number) / rs;
    }
    // a state with (numerically) no weight keeps its parameters
    for (let k = 0; k < K; k++) {
      const g = gSum[k] as number;
      if (!(g > 1e-12)) continue;
      const m = (gY[k] as number) / g;
      mu[k] = m;
      v[k] = Math.max((gYY[k] as number) / g - m * m, floor);
    }
  };

  let iterations = 0;
  let converged = false;
  let ll = forward();
  trace.push(ll);
  while (iterations < maxIter) {
    backwardAndUpdate();
    iterations++;
    const next = forward();
    trace.push(next);
    const gain = next - ll;
    ll = next;
    if (gain < tol * (1 + Math.abs(next))) {
      converged = true;
      break;
    }
  }

  // relabel by variance ascending (ties by mean)
  const perm = Array.from({ length: K }, (_, k) => k).sort((a, b) => (v[a] as number) - (v[b] as number) || (mu[a] as number) - (mu[b] as number) || a - b);
  const means = Float64Array.from(perm, (k) => (mu[k] as number) + mean);
  const variances = Float64Array.from(perm, (k) => v[k] as number);
  const initial = Float64Array.from(perm, (k) => pi[k] as number);
  const transition = perm.map((i) => Float64Array.from(perm, (j) => A[i * K + j] as number));
  return { means, variances, transition, initial, logLikelihood: ll, iterations, converged, trace: Float64Array.from(trace) };
}

type HmmParams = Pick<GaussianHmm, 'means' | 'variances' | 'transition' | 'initial'>;

/**
 * The scaled forward pass: at each t the filtered probabilities P(state_t = k | obs_1..t)
 * go to `onStep` (if given), and the returned value is log P(obs | model). Emission terms are
 * shifted by their maximum before exponentiating, so nothing underflows on long series.
 */
function forwardPass(model: HmmParams, obs: Float64Array, onStep?: (t: number, probs: Float64Array) => void): number {
  const K = model.means.length;
  const logNorm = Float64Array.from(model.variances, (v) => -0.5 * (LOG_2PI + Math.log(v)));
  const prev = new Float64Array(K);
  const cur = new Float64Array(K);
  const lb = new Float64Array(K);
  let ll = 0;
  for (let t = 0; t < obs.length; t++) {
    const x = obs[t] as number;
    let max = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < K; k++) {
      const d = x - (model.means[k] as number);
      lb[k] = (logNorm[k] as number) - (d * d) / (2 * (model.variances[k] as number));
      if ((lb[k] as number) > max) max = lb[k] as number;
    }
    let sum = 0;
    for (let k = 0; k < K; k++) {
      let p: number;
      if (t === 0) p = model.initial[k] as number;
      else {
        p = 0;
        for (let j = 0; j < K; j++) p += (prev[j] as number) * ((model.transition[j] as Float64Array)[k] as number);
      }
      cur[k] = p * Math.exp((lb[k] as number) - max);
      sum += cur[k] as number;
    }
    ll += Math.log(sum) + max;
    // an observation no state can explain leaves all-zero probabilities, not NaNs
    const norm = sum > 0 ? sum : Number.MIN_VALUE;
    for (let k = 0; k < K; k++) prev[k] = (cur[k] as number) / norm;
    onStep?.(t, prev);
  }
  return ll;
}

/**
 * Forward (filtered) probabilities P(state_t = k | obs_1..t), one Float64Array of length T per
 * state. Uses nothing after t: no look-ahead.
 */
export function filteredProbabilities(model: HmmParams, obs: Float64Array): Float64Array[] {
  const out = Array.from({ length: model.means.length }, () => new Float64Array(obs.length));
  forwardPass(model, obs, (t, probs) => {
    for (let k = 0; k < out.length; k++) (out[k] as Float64Array)[t] = probs[k] as number;
  });
  return out;
}

/** log P(obs | model), by the scaled forward pass */
export function hmmLogLikelihood(model: HmmParams, obs: Float64Array): number {
  return forwardPass(model, obs);
}

/** The most likely state path (Viterbi, in log space). */
export function viterbi(model: HmmParams, obs: Float64Array): Int32Array {
  const K = model.means.length;
  const T = obs.length;
  const path = new Int32Array(T);
  if (T === 0) return path;
  const logA = model.transition.map((row) => Float64Array.from(row, (p) => Math.log(p)));
  const logNorm = Float64Array.from(model.variances, (v) => -0.5 * (LOG_2PI + Math.log(v)));
  const back = new Int32Array(T * K);
  let delta = new Float64Array(K);
  let next = new Float64Array(K);
  const emit = (t: number, k: number): number => {
    const d = (obs[t] as number) - (model.means[k] as number);
    return (logNorm[k] as number) - (d * d) / (2 * (model.variances[k] as number));
  };
  for (let k = 0; k < K; k++) delta[k] = Math.log(model.initial[k] as number) + emit(0, k);
  for (let t = 1; t < T; t++) {
    for (let k = 0; k < K; k++) {
      let best = Number.NEGATIVE_INFINITY;
      let arg = 0;
      for (let j = 0; j < K; j++) {
        const s = (delta[j] as number) + ((logA[j] as Float64Array)[k] as number);
        if (s > best) {
          best = s;
          arg = j;
        }
      }
      next[k] = best + emit(t, k);
      back[t * K + k] = arg;
    }
    [delta, next] = [next, delta];
  }
  let last = 0;
  for (let k = 1; k < K; k++) if ((delta[k] as number) > (delta[last] as number)) last = k;
  path[T - 1] = last;
  for (let t = T - 1; t > 0; t--) path[t - 1] = back[t * K + (path[t] as number)] as number;
  return path;
}

/** Long-run share of time in each state (the transition matrix's stationary distribution). */
export function stationaryDistribution(transition: Float64Array[]): Float64Array {
  const K = transition.length;
  let p = new Float64Array(K).fill(1 / K);
  for (let it = 0; it < 10_000; it++) {
    const q = new Float64Array(K);
    for (let j = 0; j < K; j++) for (let k = 0; k < K; k++) q[k] = (q[k] as number) + (p[j] as number) * ((transition[j] as Float64Array)[k] as number);
    let diff = 0;
    for (let k = 0; k < K; k++) diff = Math.max(diff, Math.abs((q[k] as number) - (p[k] as number)));
    p = q;
    if (diff < 1e-14) break;
  }
  return p;
}
