/**
 * Scores of probabilistic direction forecasts, and the naive baselines every model is shown
 * next to. Pure.
 *
 *   accuracy      share of samples whose predicted class (up when P(up) ≥ ½) is the label
 *   Brier         mean (p − y)² of P(up) against the 0/1 label: 0 perfect, 0.25 a coin at ½
 *   reliability   predictions binned by P(up) (equal-width bins on [0, 1]): per bin, how many,
 *                 the mean predicted P(up) and the share that went up — calibrated forecasts
 *                 have the two close
 *
 * Baselines, computed per fold from that fold's data only:
 *   majority      the majority class of the fold's training labels (up when at least half went
 *                 up), predicted for every test sample; its Brier uses the training up-rate as
 *                 P(up) (climatology, the standard reference forecast)
 *   last return   up when the sample's own last return was up (close[t] > close[t−1]), else
 *                 down; a hard forecast, so its Brier is P ∈ {0, 1}: the error rate
 */

export interface Tally {
  n: number;
  correct: number;
  brierSum: number;
}

export const emptyTally = (): Tally => ({ n: 0, correct: 0, brierSum: 0 });

export function addTally(a: Tally, b: Tally): Tally {
  return { n: a.n + b.n, correct: a.correct + b.correct, brierSum: a.brierSum + b.brierSum };
}

export function accuracy(t: Tally): number {
  return t.n === 0 ? Number.NaN : t.correct / t.n;
}

export function brier(t: Tally): number {
  return t.n === 0 ? Number.NaN : t.brierSum / t.n;
}

/** Score probabilities P(up) against 0/1 labels. */
export function tally(p: ArrayLike<number>, y: ArrayLike<number>): Tally {
  if (p.length !== y.length) throw new RangeError(`${p.length} forecasts for ${y.length} labels`);
  const t = emptyTally();
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] as number;
    const yi = y[i] as number;
    if (!(pi >= 0 && pi <= 1)) throw new RangeError(`forecast ${i} is not a probability: ${pi}`);
    t.n++;
    if ((pi >= 0.5 ? 1 : 0) === yi) t.correct++;
    t.brierSum += (pi - yi) * (pi - yi);
  }
  return t;
}

export interface ReliabilityBin {
  /** [from, to) — the last bin includes 1 */
  from: number;
  to: number;
  n: number;
  sumP: number;
  ups: number;
}

export function emptyReliability(bins: number): ReliabilityBin[] {
  return Array.from({ length: bins }, (_, i) => ({ from: i / bins, to: (i + 1) / bins, n: 0, sumP: 0, ups: 0 }));
}

export function addReliability(table: ReliabilityBin[], p: ArrayLike<number>, y: ArrayLike<number>): void {
  const bins = table.length;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] as number;
    const b = table[Math.min(bins - 1, Math.floor(pi * bins))] as ReliabilityBin;
    b.n++;
    b.sumP += pi;
    b.ups += y[i] as number;
  }
}

/** Gated forecasts: those whose confidence max(p, 1 − p) is at or above the gate. */
export interface GateTally {
  gate: number;
  n: number;
  correct: number;
}

export function gateTally(p: ArrayLike<number>, y: ArrayLike<number>, gate: number): GateTally {
  const g: GateTally = { gate, n: 0, correct: 0 };
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] as number;
    if (Math.max(pi, 1 - pi) < gate) continue;
    g.n++;
    if ((pi >= 0.5 ? 1 : 0) === (y[i] as number)) g.correct++;
  }
  return g;
}

export interface MajorityBaseline extends Tally {
  /** share of training labels that were up: the climatology P(up) */
  trainUpRate: number;
  predicts: 'up' | 'down';
}

/** The majority class of the training labels, scored on the test labels. */
export function majorityBaseline(trainLabels: ArrayLike<number>, testLabels: ArrayLike<number>): MajorityBaseline {
  let ups = 0;
  for (let i = 0; i < trainLabels.length; i++) ups += trainLabels[i] as number;
  const rate = trainLabels.length > 0 ? ups / trainLabels.length : 0.5;
  const cls = rate >= 0.5 ? 1 : 0;
  const t = emptyTally();
  for (let i = 0; i < testLabels.length; i++) {
    const y = testLabels[i] as number;
    t.n++;
    if (y === cls) t.correct++;
    t.brierSum += (rate - y) * (rate - y);
  }
  return { ...t, trainUpRate: rate, predicts: cls === 1 ? 'up' : 'down' };
}

/** Up when the last return was up; lastUp[i] is 1 when close[t] > close[t−1] for test sample i. */
export function lastReturnBaseline(lastUp: ArrayLike<number>, testLabels: ArrayLike<number>): Tally {
  const t = emptyTally();
  for (let i = 0; i < testLabels.length; i++) {
    const wrong = (lastUp[i] as number) !== (testLabels[i] as number);
    t.n++;
    if (!wrong) t.correct++;
    t.brierSum += wrong ? 1 : 0;
  }
  return t;
}

export interface Verdict {
  /** accuracy above both baselines and Brier below both */
  beats: boolean;
  /** …and the accuracy margin over the better baseline is at least two standard errors */
  significant: boolean;
  /** one line, e.g. "does not beat the baselines: accuracy 0.5105 ≤ majority 0.5160" */
  text: string;
}

/**
 * A model beats the baselines when its accuracy is above both and its Brier below both. The
 * margin is called significant when the accuracy exceeds the better baseline's by at least two
 * standard errors of the model's accuracy, √(acc·(1 − acc)/n_eff) with n_eff = n / horizon: with
 * a horizon of h candles the labels of neighbouring samples share h − 1 candles, so n forecasts
 * hold only about n/h independent outcomes. A rough yardstick (it ignores the correlation with
 * the baseline's errors), but it keeps 0.511 against 0.500 on a few hundred samples from reading
 * as skill.
 */
export function verdict(model: Tally, majority: Tally, last: Tally, horizon = 1): Verdict {
  const acc = accuracy(model);
  const br = brier(model);
  const reasons: string[] = [];
  if (!(acc > accuracy(majority))) reasons.push(`accuracy ${acc.toFixed(4)} ≤ majority ${accuracy(majority).toFixed(4)}`);
  if (!(acc > accuracy(last))) reasons.push(`accuracy ${acc.toFixed(4)} ≤ last return ${accuracy(last).toFixed(4)}`);
  if (!(br < brier(majority))) reasons.push(`Brier ${br.toFixed(4)} ≥ majority (climatology) ${brier(majority).toFixed(4)}`);
  if (!(br < brier(last))) reasons.push(`Brier ${br.toFixed(4)} ≥ last return ${brier(last).toFixed(4)}`);
  if (reasons.length > 0) return { beats: false, significant: false, text: `does not beat the baselines: ${reasons.join('; ')}` };
  const bestAcc = Math.max(accuracy(majority), accuracy(last));
  const nEff = model.n / Math.max(1, horizon);
  const se = Math.sqrt((acc * (1 - acc)) / nEff);
  const margin = acc - bestAcc;
  const significant = margin >= 2 * se;
  const head = `beats the baselines: accuracy ${acc.toFixed(4)} > ${bestAcc.toFixed(4)}, Brier ${br.toFixed(4)} < ${Math.min(brier(majority), brier(last)).toFixed(4)}`;
  return {
    beats: true,
    significant,
    text: significant
      ? `${head} (margin ${margin.toFixed(4)} ≥ 2 standard errors, ${(2 * se).toFixed(4)})`
      : `${head}, but by less than 2 standard errors (margin ${margin.toFixed(4)} < ${(2 * se).toFixed(4)} on ${model.n} forecasts${horizon > 1 ? `, ~${Math.round(nEff)} independent at horizon ${horizon}` : ''}): not distinguishable from noise`,
  };
}
