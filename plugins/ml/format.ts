import { block, ml, reply, utcAt, type Block, type Reply } from '../../src/kernel/index.js';

type ModelMeta = ml.ModelMeta;
type ModelKind = ml.ModelKind;
type TestPredictions = ml.TestPredictions;

/** "1h", "24h", "2d" for a horizon of `candles` candles of `timeframeMs` */
export function horizonLabel(candles: number, timeframeMs: number): string {
  const ms = candles * timeframeMs;
  const H = 3_600_000;
  if (ms % H !== 0) return `${ms / 60_000}m`;
  return `${ms / H}h`;
}

export function describeModel(m: Pick<ModelMeta, 'symbol' | 'timeframe' | 'exchange' | 'horizon' | 'timeframeMs'>): string {
  return `${m.symbol} ${m.timeframe} (${m.exchange}), direction over ${horizonLabel(m.horizon, m.timeframeMs)} (${m.horizon} candle${m.horizon === 1 ? '' : 's'})`;
}

const f4 = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : '-');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');
const count = (x: number): string => x.toLocaleString('en-US');

/** the first and the second best accuracy of the baselines, for verdict lines */
export function bestBaselineAccuracy(m: ModelMeta): number {
  return Math.max(m.walkForward.majority.accuracy, m.walkForward.lastReturn.accuracy);
}

export const SCORES_TITLE = 'Test windows, pooled';

export function verdictWord(v: ml.Verdict): string {
  return !v.beats ? 'does not beat the baselines' : v.significant ? 'beats the baselines' : 'ahead of the baselines within noise';
}

/** /model evaluate: walk-forward scores next to the baselines, folds, calibration, gate coverage. */
export function evaluateReply(m: ModelMeta, preds: TestPredictions, gate: number): Reply {
  const wf = m.walkForward;
  const kinds = ml.MODEL_KINDS;
  const blocks: Block[] = [];
  const n = wf.majority.n;
  blocks.push(
    block.text(
      `Walk-forward evaluation — ${describeModel(m)}: ${wf.folds.length} folds, only the test windows are scored; each test window is strictly after its training window, whose labels were all known before the test window's first candle.`,
    ),
  );
  const brierRef = wf.majority.brier;
  const row = (name: string, t: { accuracy: number; correct: number; n: number; brier: number }, note = ''): string[] => [
    name,
    f4(t.accuracy),
    `${t.correct}/${t.n}`,
    f4(t.brier),
    f4(1 - t.brier / brierRef),
    note,
  ];
  blocks.push(
    block.table(
      ['forecast', 'accuracy', 'correct/n', 'Brier', 'Brier skill', 'note'],
      [
        ...kinds.map((k) => row(ml.MODEL_LABEL[k], wf.pooled[k], `MC-dropout mean of ${m.settings.mcPasses} passes; mean spread ${f4(wf.pooled[k].meanSd)}`)),
        row('majority (train window)', wf.majority, 'majority class of each fold’s training labels; Brier with its up-rate'),
        row('last-return sign', wf.lastReturn, 'up if the last candle closed up; hard 0/1 forecast'),
      ],
      { title: `${SCORES_TITLE} (${count(n)} predictions)` },
    ),
  );
  for (const k of kinds) {
    const v = wf.verdicts[k];
    blocks.push(block.text(`${ml.MODEL_LABEL[k]} ${v.text}`, v.beats && v.significant ? 'ok' : 'warn'));
  }
  blocks.push(
    block.table(
      ['fold', 'train window', 'test window', ...kinds.map((k) => ml.MODEL_LABEL[k]), 'majority', 'last return'],
      wf.folds.map((f) => [
        String(f.fold),
        `${utcAt(f.train.from)} → ${utcAt(f.train.to)} (${f.train.n})`,
        `${utcAt(f.test.from)} → ${utcAt(f.test.to)} (${f.test.n})`,
        ...kinds.map((k) => `${f4(f.models[k].correct / f.models[k].n)} (${f.models[k].correct}/${f.models[k].n})`),
        `${f4(f.majority.correct / f.majority.n)} (${f.majority.predicts}, up-rate ${f4(f.majority.trainUpRate)})`,
        `${f4(f.lastReturn.correct / f.lastReturn.n)} (${f.lastReturn.correct}/${f.lastReturn.n})`,
      ]),
      { title: 'Folds (accuracy on each test window)' },
    ),
  );
  for (const k of kinds) {
    const rows = wf.pooled[k].reliability
      .filter((b) => b.n > 0)
      .map((b) => [`${b.from.toFixed(2)}–${b.to.toFixed(2)}`, String(b.n), f4(b.sumP / b.n), f4(b.ups / b.n)]);
    blocks.push(block.table(['P(up) bin', 'n', 'mean P(up)', 'went up'], rows, { title: `Calibration of ${ml.MODEL_LABEL[k]} (reliability, ${m.settings.bins} bins; empty bins left out)` }));
  }
  const gated = kinds.map((k) => {
    const g = ml.gateTally(preds.p[k], preds.label, gate);
    return `${ml.MODEL_LABEL[k]} ${g.n} of ${preds.label.length}${g.n > 0 ? ` (${f4(g.correct / g.n)} correct)` : ''}`;
  });
  blocks.push(block.text(`Confidence gate ${f2(gate)}: test forecasts at or above it — ${gated.join('; ')}.`));
  blocks.push(
    block.kv(
      [
        ['data', `${utcAt(m.data.from)} → ${utcAt(m.data.to)}: ${count(m.data.candles)} candles, ${m.data.gaps} gap${m.data.gaps === 1 ? '' : 's'} (nothing computed across one), ${count(m.data.samples)} labelled samples`],
        ['final models', `trained on ${utcAt(m.final.train.from)} → ${utcAt(m.final.train.to)} (${m.final.train.n} samples); /predict uses ${ml.MODEL_LABEL[m.best]} (lower walk-forward Brier)`],
        ['trained', `${utcAt(m.trainedAt)} by ${m.trainedBy} in ${m.seconds} s on ${m.backend}`],
        ['features', `${m.features.length}: ${m.features.join(', ')}`],
        [
          'settings',
          `sequence ${m.settings.seqLen}, ${m.settings.units} units, dropout ${m.settings.dropout}, ${m.settings.epochs} epochs, batch ${m.settings.batchSize}, train window ${m.settings.trainWindow}, test window ${m.settings.testWindow}, ${m.settings.seed === undefined ? 'unseeded (trained before seeds)' : `seed ${m.settings.seed}`}`,
        ],
      ],
      'Model',
    ),
  );
  return reply.of(...blocks);
}

export interface PredictView {
  meta: ModelMeta;
  forecasts: Record<ModelKind, ml.Forecast>;
  /** open time of the candle the forecast is made at (its close is the newest price used) */
  candleTime: number;
  gate: number;
}

export interface Decision {
  signal: boolean;
  kind: ModelKind;
  reasons: string[];
}

/**
 * The gate: the chosen model (lower walk-forward Brier) must be at least `gate` confident, and
 * must have beaten the baselines walk-forward by a significant margin.
 */
export function decide(v: PredictView): Decision {
  const kind = v.meta.best;
  const fc = v.forecasts[kind];
  const reasons: string[] = [];
  if (fc.confidence < v.gate) reasons.push(`confidence ${f2(fc.confidence)} (${ml.MODEL_LABEL[kind]}) is below the gate ${f2(v.gate)}`);
  const verdict = v.meta.walkForward.verdicts[kind];
  if (!verdict.beats || !verdict.significant) reasons.push(`${ml.MODEL_LABEL[kind]} ${verdict.text} (walk-forward)`);
  return { signal: reasons.length === 0, kind, reasons };
}

/**
 * The ML line under a /signal answer: the gated forecast at the same candle, and whether it
 * agrees with the strategy. Shown beside the verdict, never mixed into the strategy's score.
 */
export function signalView(v: PredictView, d: Decision, strategy: 'long' | 'short' | 'flat'): Block {
  const fc = v.forecasts[d.kind];
  const h = horizonLabel(v.meta.horizon, v.meta.timeframeMs);
  const head = `ML (${ml.MODEL_LABEL[d.kind]}, next ${h}): ${fc.direction}, P(up) ${f4(fc.p)} ± ${f4(fc.sd)}, confidence ${f2(fc.confidence)}`;
  if (!d.signal) return block.text(`${head} — no ML signal: ${d.reasons.join('; ')}.`);
  const agrees = (fc.direction === 'up' && strategy === 'long') || (fc.direction === 'down' && strategy === 'short');
  const relation = strategy === 'flat' ? 'the strategy is flat' : agrees ? `agrees with ${strategy.toUpperCase()}` : `disagrees with ${strategy.toUpperCase()}`;
  return block.text(`${head} — ML signal (gate ${f2(v.gate)}): ${relation}.`, agrees ? 'ok' : 'warn');
}

export function predictReply(v: PredictView, d: Decision): Reply {
  const m = v.meta;
  const kinds = ml.MODEL_KINDS;
  const h = horizonLabel(m.horizon, m.timeframeMs);
  const rows = kinds.map((k) => {
    const fc = v.forecasts[k];
    const wf = m.walkForward.pooled[k];
    return [
      `${ml.MODEL_LABEL[k]}${k === m.best ? ' *' : ''}`,
      f4(fc.p),
      `± ${f4(fc.sd)}`,
      `${f4(fc.p10)}–${f4(fc.p90)}`,
      fc.direction,
      f2(fc.confidence),
      `acc ${f4(wf.accuracy)}, Brier ${f4(wf.brier)} — ${verdictWord(m.walkForward.verdicts[k])}`,
    ];
  });
  const fc = v.forecasts[d.kind];
  const decision = d.signal
    ? block.text(`Signal: ${fc.direction.toUpperCase()} over ${h} from ${ml.MODEL_LABEL[d.kind]} — confidence ${f2(fc.confidence)} ≥ gate ${f2(v.gate)} (MC spread ± ${f4(fc.sd)}).`, 'ok')
    : block.text(`No signal: ${d.reasons.join('; ')}.`, 'warn');
  return reply.of(
    block.text(`${m.symbol} ${m.timeframe} (${m.exchange}): P(up over the next ${h}) at the candle closed ${utcAt(v.candleTime + m.timeframeMs)}`),
    block.table(['model', 'P(up)', 'MC spread (sd)', 'passes 10–90 %', 'direction', 'confidence', 'walk-forward'], rows, {
      title: `Monte-Carlo dropout, ${fc.passes} passes (* the model the gate reads)`,
    }),
    decision,
    block.text(
      `Models trained ${utcAt(m.trainedAt)} on candles to ${utcAt(m.data.to)}; walk-forward baselines: majority ${f4(m.walkForward.majority.accuracy)}, last-return sign ${f4(m.walkForward.lastReturn.accuracy)}. /model evaluate ${m.symbol} ${m.timeframe} ${h} shows the scores.`,
    ),
  );
}

export function progressLine(p: ml.TrainProgress | null): string {
  if (p === null) return '0 % — starting the worker thread';
  const pct = p.total > 0 ? Math.min(99, Math.floor((100 * p.done) / p.total)) : 0;
  const model = p.model ? ml.MODEL_LABEL[p.model] : '';
  const loss = p.loss !== undefined ? ` (loss ${p.loss.toFixed(4)})` : '';
  switch (p.stage) {
    case 'loading':
      return `${pct} % — loading TensorFlow.js`;
    case 'features':
      return `${pct} % — features and walk-forward folds`;
    case 'fold':
      return `${pct} % — fold ${p.fold}/${p.folds}: ${model} epoch ${p.epoch}/${p.epochs}${loss}`;
    case 'scoring':
      return `${pct} % — fold ${p.fold}/${p.folds}: scoring ${model} on the test window (MC dropout)`;
    case 'final':
      return `${pct} % — final ${model} on the newest window: epoch ${p.epoch}/${p.epochs}${loss}`;
    case 'saving':
      return `${pct} % — saving ${model}`;
  }
}
