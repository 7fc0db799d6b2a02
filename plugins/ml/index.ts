import path from 'node:path';
import { z } from 'zod';
import {
  ArgSpec,
  arg,
  block,
  contiguousWindow,
  defineCommand,
  definePlugin,
  ml,
  readDuration,
  reply,
  sliceCandles,
  TIMEFRAMES,
  utcAt,
  type Channel,
  type CheckedCandles,
  type MarketData,
  type Principal,
  type Reply,
} from '../../src/kernel/index.js';
import { decide, describeModel, evaluateReply, horizonLabel, predictReply, progressLine, signalView, verdictWord, type Decision, type PredictView } from './format.js';

/**
 * Direction models (LSTM and GRU, TensorFlow.js) on engineered features — returns over several
 * lags, indicators from src/ta, HMM regime probabilities — scored walk-forward next to naive
 * baselines, with calibration and Monte-Carlo-dropout uncertainty. See docs/ml.md.
 *
 *   /predict <symbol> [horizon]            both models' P(up) with their MC spread; a signal only
 *                                          when the better model beats the baselines and its
 *                                          confidence reaches the gate
 *   /model status                          backend, training progress, saved models
 *   /model train [symbol] [tf] [horizon]   walk-forward + final models, in a worker thread
 *   /model evaluate [symbol] [tf] [horizon] the walk-forward scores, baselines, calibration
 *
 * `/model train` needs the ml:train permission (checked by the kernel with ctx.can; admins hold it through "*").
 * The kernel checks one permission per command (market:read for /model), so the plugin checks
 * the sub-command itself.
 */

export interface MlSignal {
  exchange: string;
  symbol: string;
  timeframe: string;
  /** candles */
  horizon: number;
  direction: 'up' | 'down';
  p: number;
  sd: number;
  confidence: number;
  gate: number;
  model: string;
  /** close time (ms) of the candle the forecast was made at */
  at: number;
}

declare module '../../src/kernel/index.js' {
  interface KernelEvents {
    /** a /predict forecast that passed the confidence gate (from a model that beats the baselines) */
    'ml.signal': MlSignal;
  }
}

export const TRAIN_PERMISSION = 'ml:train';

/** why the ML view under /signal has nothing (or only a reason) to show */
class NoView extends Error {}

const horizonPattern = /^\d+[mhdw]$/;

export const mlConfig = z
  .object({
    /**
     * where model sets are saved (one folder per symbol/timeframe/horizon), relative to the working
     * directory. Default: <DESKBOT_DATA_DIR or data>/models — plugins are not told the desk's
     * dataDir, so a dataDir set in a config file needs this set to <dataDir>/models as well.
     */
    modelsDir: z.string().min(1).optional(),
    /** defaults of /predict and /model */
    symbol: z.string().min(1).default('BTC/USDT'),
    timeframe: z.enum(TIMEFRAMES).default('1h'),
    horizon: z.string().regex(horizonPattern, 'a duration like 1h or 24h').default('1h'),
    /** a forecast may contribute to a signal only at or above this confidence (max(P(up), 1 − P(up))) */
    gate: z.number().min(0.5).max(1).default(0.8),
    /** roles that may /model train (the ml:train permission) */
    /** candles read for training (newest; gaps split them into runs) */
    history: z.number().int().min(200).max(100_000).default(5000),
    /** contiguous candles read for a forecast (indicators settle over them) */
    predictWindow: z.number().int().min(100).max(5000).default(500),
    /** longest horizon, in candles */
    maxHorizon: z.number().int().min(1).max(1000).default(168),
    backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'),
    seqLen: z.number().int().min(2).max(256).default(24),
    units: z.number().int().min(1).max(256).default(16),
    dropout: z.number().min(0.01).max(0.9).default(0.2),
    epochs: z.number().int().min(1).max(200).default(4),
    batchSize: z.number().int().min(1).max(4096).default(64),
    learningRate: z.number().positive().max(1).default(0.003),
    folds: z.number().int().min(1).max(20).default(4),
    trainWindow: z.number().int().min(50).max(100_000).default(1500),
    testWindow: z.number().int().min(10).max(100_000).default(500),
    mcPasses: z.number().int().min(2).max(1000).default(30),
    bins: z.number().int().min(2).max(50).default(10),
    /** the training's random draws (weights, shuffles, dropout) follow from it: same data and seed, same models */
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(1),
  })
  .strict();

export type MlConfig = z.output<typeof mlConfig>;

interface Job {
  key: string;
  label: string;
  by: string;
  startedAt: number;
  progress: ml.TrainProgress | null;
  state: 'running' | 'done' | 'failed';
  finishedAt?: number;
  error?: string;
  meta?: ml.ModelMeta;
  cancel?: () => Promise<void>;
}

function who(p: Principal): string {
  return p.person ?? `${p.platform}:${p.userId}`;
}

function target(ch: Channel): string {
  return `${ch.platform}:${ch.channelId}${ch.threadId !== undefined ? `:${ch.threadId}` : ''}`;
}

const horizonArg = new ArgSpec<string>({
  hint: 'horizon',
  required: true,
  rest: false,
  schema: z.string().transform((s, zc) => {
    const v = s.toLowerCase();
    if (horizonPattern.test(v) && (readDuration(v) ?? 0) > 0) return v;
    zc.addIssue(`expected a horizon like 1h or 24h, got "${s}"`);
    return z.NEVER;
  }),
});

/** The newest closed candles (a candle still forming is left out), up to `limit`. */
async function closedCandles(market: MarketData, req: { symbol: string; exchange: string; timeframe: string }, limit: number): Promise<CheckedCandles> {
  const all = await market.candles({ ...req, limit: limit + 1 });
  const last = market.now() - all.timeframeMs;
  let end = all.length;
  while (end > 0 && (all.time[end - 1] as number) > last) end--;
  const start = Math.max(0, end - limit);
  if (start === 0 && end === all.length) return all;
  const c = sliceCandles(all, start, end);
  const from = c.length > 0 ? (c.time[0] as number) : 0;
  const to = c.length > 0 ? (c.time[c.length - 1] as number) : 0;
  return { ...c, gaps: all.gaps.filter((g) => g.after >= from && g.before <= to) };
}

function columns(c: CheckedCandles): ml.SeriesColumns {
  return { time: c.time.slice(), open: c.open.slice(), high: c.high.slice(), low: c.low.slice(), close: c.close.slice(), volume: c.volume.slice(), timeframeMs: c.timeframeMs };
}

export default definePlugin({
  name: 'ml',
  version: '1.0.0',
  description: 'LSTM/GRU direction models on engineered features, walk-forward scored next to baselines, calibrated, with MC-dropout uncertainty and a confidence gate',
  config: mlConfig,
  setup(ctx) {
    const cfg = ctx.config;
    const market = ctx.market;
    const modelsDir = path.resolve(cfg.modelsDir ?? path.join(process.env.DESKBOT_DATA_DIR ?? 'data', 'models'));
    let job: Job | null = null;
    let closing = false;
    const cache = new Map<string, { trainedAt: number; loaded: Promise<ml.LoadedModels> }>();

    const settings = (): ml.TrainSettings => ({
      seqLen: cfg.seqLen,
      units: cfg.units,
      dropout: cfg.dropout,
      epochs: cfg.epochs,
      batchSize: cfg.batchSize,
      learningRate: cfg.learningRate,
      folds: cfg.folds,
      trainWindow: cfg.trainWindow,
      testWindow: cfg.testWindow,
      mcPasses: cfg.mcPasses,
      bins: cfg.bins,
      gate: cfg.gate,
      backend: cfg.backend,
      seed: cfg.seed,
    });

    /** symbol, timeframe and horizon (in candles) of a request, resolved on the market */
    const target3 = async (
      symbol: string | undefined,
      timeframe: string | undefined,
      horizon: string | undefined,
      fail: (m: string) => never,
    ): Promise<{ exchange: string; symbol: string; timeframe: string; timeframeMs: number; horizon: number; dir: string }> => {
      const tf = timeframe ?? cfg.timeframe;
      const tfMs = readDuration(tf) as number;
      // a timeframe without a horizon: one candle ahead
      const hText = horizon ?? (timeframe !== undefined ? tf : cfg.horizon);
      const hMs = readDuration(hText) as number;
      if (hMs % tfMs !== 0) return fail(`horizon ${hText} is not a whole number of ${tf} candles`);
      const h = hMs / tfMs;
      if (h > cfg.maxHorizon) return fail(`horizon ${hText} is ${h} candles of ${tf}; at most ${cfg.maxHorizon} (maxHorizon)`);
      const r = await market.resolve({ symbol: symbol ?? cfg.symbol });
      return { exchange: r.exchange, symbol: r.symbol, timeframe: tf, timeframeMs: tfMs, horizon: h, dir: path.join(modelsDir, ml.modelKey(r.exchange, r.symbol, tf, h)) };
    };

    const noModel = (t: { symbol: string; timeframe: string; horizon: number; timeframeMs: number; dir: string }): string =>
      `no model for ${t.symbol} ${t.timeframe}, horizon ${horizonLabel(t.horizon, t.timeframeMs)} (in ${t.dir}): /model train ${t.symbol} ${t.timeframe} ${horizonLabel(t.horizon, t.timeframeMs)} first`;

    const loaded = async (dir: string): Promise<ml.LoadedModels> => {
      const meta = await ml.readMeta(dir);
      const hit = cache.get(dir);
      if (hit && hit.trainedAt === meta.trainedAt) return hit.loaded;
      if (hit) void hit.loaded.then(ml.disposeModels, () => {});
      const entry = { trainedAt: meta.trainedAt, loaded: ml.loadModels(dir) };
      entry.loaded.catch(() => cache.delete(dir));
      cache.set(dir, entry);
      return entry.loaded;
    };

    /**
     * The forecast at the newest closed candle of `t`'s market with the saved models, gated
     * (decide): shared by /predict and the view under /signal. `fail` says why there is none.
     */
    const forecastNow = async (
      t: { exchange: string; symbol: string; timeframe: string; timeframeMs: number; horizon: number; dir: string },
      fail: (m: string) => never,
    ): Promise<{ m: ml.LoadedModels; view: PredictView; d: Decision; candleTime: number }> => {
      let m: ml.LoadedModels;
      try {
        m = await loaded(t.dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fail(noModel(t));
        throw err;
      }
      const need = ml.minWindow(m.meta);
      const recent = await closedCandles(market, { symbol: t.symbol, exchange: t.exchange, timeframe: t.timeframe }, cfg.predictWindow);
      const lastGap = recent.gaps[recent.gaps.length - 1];
      const tail = lastGap === undefined ? recent.length : recent.length - recent.time.lastIndexOf(lastGap.before);
      const w = contiguousWindow(recent, tail >= need ? Math.min(tail, cfg.predictWindow) : need);
      const candleTime = w.time[w.length - 1] as number;
      if (candleTime < m.meta.final.labelsKnownUntil) {
        return fail(
          `the model was trained on labels up to ${utcAt(m.meta.final.labelsKnownUntil)}, after the candle this forecast would be made at (${utcAt(candleTime)}): that is look-ahead — not predicting`,
        );
      }
      const forecasts = ml.forecast(m, { high: w.high, low: w.low, close: w.close, volume: w.volume });
      const view: PredictView = { meta: m.meta, forecasts, candleTime, gate: cfg.gate };
      return { m, view, d: decide(view), candleTime };
    };

    // under every /signal for a market that has a model: its gated forecast at the same candle
    ctx.contribute('signal', {
      name: 'ml',
      render: async (s) => {
        const quiet = (why: string): never => {
          throw new NoView(why);
        };
        let t: Awaited<ReturnType<typeof target3>>;
        try {
          // the signal's timeframe, one candle ahead (the horizon /predict uses for a timeframe alone)
          t = await target3(s.symbol, s.timeframe, undefined, quiet);
        } catch (err) {
          if (err instanceof NoView) return null;
          throw err;
        }
        try {
          const f = await forecastNow(t, quiet);
          if (f.candleTime !== s.candleTime) {
            return [block.text(`ML: its newest closed candle (${utcAt(f.candleTime)}) is not the signal's (${utcAt(s.candleTime)}); no view.`)];
          }
          return [signalView(f.view, f.d, s.direction)];
        } catch (err) {
          // no model for this market: nothing to say; any other reason is said
          if (err instanceof NoView) return err.message === noModel(t) ? null : [block.text(`ML: no view — ${err.message}.`)];
          throw err;
        }
      },
    });

    const statusReply = async (): Promise<Reply> => {
      const rt = await ml.loadTf(cfg.backend);
      const rows: Array<[string, string]> = [
        ['backend', `${rt.describe} — TensorFlow.js ${rt.version}`],
        ['training runs in', 'a worker thread (node:worker_threads), its own TensorFlow.js with the same backend choice'],
        ['gate', `${cfg.gate.toFixed(2)}: a forecast contributes to a signal only at or above this confidence`],
        ['models dir', modelsDir],
      ];
      if (job !== null) {
        const j = job;
        if (j.state === 'running') rows.push(['training', `${j.label}: ${progressLine(j.progress)} — started ${utcAt(j.startedAt)} by ${j.by}`]);
        else if (j.state === 'done' && j.meta) {
          const m = j.meta;
          rows.push(['training', `${j.label}: done ${utcAt(j.finishedAt ?? m.trainedAt)} in ${m.seconds} s (backend ${m.backend.split(' ')[0]}) — /model evaluate ${m.symbol} ${m.timeframe} ${horizonLabel(m.horizon, m.timeframeMs)}`]);
        } else rows.push(['training', `${j.label}: failed — ${j.error ?? 'unknown error'}`]);
      } else rows.push(['training', 'none since the desk started']);
      const blocks = [block.kv(rows, 'ML models')];
      const list = await ml.listModels(modelsDir);
      if (list.length > 0) {
        blocks.push(
          block.table(
            ['model set', 'data', 'trained', 'LSTM acc', 'GRU acc', 'best baseline', 'verdict (/predict model)'],
            list.map((e) => {
              if (e.meta === undefined) return [path.basename(e.dir), '-', '-', '-', '-', '-', `unreadable: ${e.error}`];
              const m = e.meta;
              const wf = m.walkForward;
              return [
                `${m.symbol} ${m.timeframe} → ${horizonLabel(m.horizon, m.timeframeMs)}`,
                `${utcAt(m.data.from)} → ${utcAt(m.data.to)}`,
                utcAt(m.trainedAt),
                wf.pooled.lstm.accuracy.toFixed(4),
                wf.pooled.gru.accuracy.toFixed(4),
                Math.max(wf.majority.accuracy, wf.lastReturn.accuracy).toFixed(4),
                `${ml.MODEL_LABEL[m.best]} ${verdictWord(wf.verdicts[m.best])}`,
              ];
            }),
            { title: 'Saved models' },
          ),
        );
      } else blocks.push(block.text('No saved models yet: /model train trains one (admins).'));
      return reply.of(...blocks);
    };

    const train = async (
      c: { principal: Principal; channel: Channel; fail: (m: string) => never; can: (permission: string) => boolean },
      args: { symbol?: string | undefined; timeframe?: string | undefined; horizon?: string | undefined },
    ): Promise<Reply> => {
      const by = who(c.principal);
      // the kernel checks (and audits) the extra permission: /model itself is market:read
      if (!c.can(TRAIN_PERMISSION)) {
        ctx.audit({ kind: 'ml.train', by, allowed: false, reason: `${TRAIN_PERMISSION} not granted` });
        return c.fail(`Not allowed: /model train needs ${TRAIN_PERMISSION}; ${c.principal.displayName} has ${c.principal.roles.length > 0 ? `roles ${c.principal.roles.join(', ')}` : 'no roles'}.`);
      }
      if (job?.state === 'running') return c.fail(`already training ${job.label} (${progressLine(job.progress)}): one training at a time — /model status`);
      const t = await target3(args.symbol, args.timeframe, args.horizon, c.fail);
      const candles = await closedCandles(market, { symbol: t.symbol, exchange: t.exchange, timeframe: t.timeframe }, cfg.history);
      const series = columns(candles);
      const s = settings();
      // the walk-forward plan is checked here, so too little data is said at once
      const fs = ml.featureSeries(series);
      const samples = ml.samplesOf(fs, s.seqLen, t.horizon);
      try {
        ml.planFolds(samples, s);
      } catch (err) {
        if (err instanceof ml.NotEnoughSamplesError) return c.fail(`${t.symbol} ${t.timeframe}: ${err.message} — not training`);
        throw err;
      }
      const label = `${t.symbol} ${t.timeframe} → ${horizonLabel(t.horizon, t.timeframeMs)}`;
      const now = ctx.clock.now();
      const current: Job = { key: t.dir, label, by, startedAt: now, progress: null, state: 'running' };
      job = current;
      ctx.audit({ kind: 'ml.train', by, allowed: true, symbol: t.symbol, timeframe: t.timeframe, horizon: t.horizon, candles: series.time.length });
      const started = ml.startTraining(
        { exchange: t.exchange, symbol: t.symbol, timeframe: t.timeframe, horizon: t.horizon, series, settings: s, now, by, outDir: t.dir },
        (p) => {
          current.progress = p;
        },
      );
      current.cancel = started.cancel;
      started.result.then(
        async (meta) => {
          current.state = 'done';
          current.meta = meta;
          current.finishedAt = ctx.clock.now();
          if (closing) return;
          const best = meta.walkForward.pooled[meta.best];
          const v = meta.walkForward.verdicts[meta.best];
          ctx.audit({ kind: 'ml.trained', by, symbol: meta.symbol, timeframe: meta.timeframe, horizon: meta.horizon, best: meta.best, accuracy: best.accuracy, brier: best.brier, seconds: meta.seconds });
          const text = `Training done: ${label} in ${meta.seconds} s. ${ml.MODEL_LABEL[meta.best]} walk-forward accuracy ${best.accuracy.toFixed(4)}, Brier ${best.brier.toFixed(4)} — ${v.text}. /model evaluate ${meta.symbol} ${meta.timeframe} ${horizonLabel(meta.horizon, meta.timeframeMs)}`;
          const r = await ctx.post(target(c.channel), reply.text(text, v.beats && v.significant ? 'ok' : 'warn'));
          if (!r.ok) ctx.log.debug({ error: r.error }, 'training notice not posted');
        },
        async (err: unknown) => {
          current.state = 'failed';
          current.error = err instanceof Error ? err.message : String(err);
          current.finishedAt = ctx.clock.now();
          if (closing) return; // stopped by the desk's shutdown
          ctx.audit({ kind: 'ml.trained', by, symbol: t.symbol, failed: current.error });
          ctx.log.warn({ err }, 'training failed');
          const r = await ctx.post(target(c.channel), reply.text(`Training of ${label} failed: ${current.error}`, 'error'));
          if (!r.ok) ctx.log.debug({ error: r.error }, 'training notice not posted');
        },
      )
        .catch((err: unknown) => ctx.log.warn({ err }, 'training notice failed'));
      const n = series.time.length;
      return reply.text(
        `Training started: LSTM and GRU on ${describeModel(t)} — ${n.toLocaleString('en-US')} candles ${utcAt(series.time[0] as number)} → ${utcAt(series.time[n - 1] as number)} (${fs.segments.length - 1} gaps), ${samples.index.length.toLocaleString('en-US')} labelled samples; walk-forward ${s.folds} folds × ${s.testWindow} test samples after a ${s.trainWindow}-sample train window each, then final models on the newest ${s.trainWindow}. In a worker thread: /model status shows progress.`,
        'ok',
      );
    };

    ctx.command(
      defineCommand({
        name: 'model',
        summary: 'ML direction models: status (backend, training, saved models), train (admins), evaluate (walk-forward vs baselines)',
        description:
          '/model status | /model train [symbol] [timeframe] [horizon] | /model evaluate [symbol] [timeframe] [horizon]. Defaults: ' +
          `${cfg.symbol} ${cfg.timeframe} ${cfg.horizon}. Training needs ${TRAIN_PERMISSION}.`,
        args: {
          action: arg.choice(['status', 'train', 'evaluate'] as const).default('status'),
          symbol: arg.symbol().optional().describe(`default ${cfg.symbol}`),
          timeframe: arg.choice(TIMEFRAMES).optional().describe(`default ${cfg.timeframe}`),
          horizon: horizonArg.optional().describe(`default ${cfg.horizon}`),
        },
        permission: 'market:read',
        examples: ['/model status', '/model train BTC/USDT 1h 24h', '/model evaluate btc 1h 1h'],
        handler: async (c) => {
          const { action } = c.args;
          if (action === 'status') {
            if (c.args.symbol !== undefined) return c.fail('/model status takes no symbol: it lists every saved model');
            return statusReply();
          }
          if (action === 'train') return train(c, c.args);
          const t = await target3(c.args.symbol, c.args.timeframe, c.args.horizon, c.fail);
          let meta: ml.ModelMeta;
          let preds: ml.TestPredictions;
          try {
            meta = await ml.readMeta(t.dir);
            preds = await ml.readPredictions(t.dir);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') return c.fail(noModel(t));
            throw err;
          }
          return evaluateReply(meta, preds, cfg.gate);
        },
      }),
    );

    ctx.command(
      defineCommand({
        name: 'predict',
        summary: 'Direction forecast of the ML models with their MC-dropout spread; a signal only above the confidence gate',
        args: {
          symbol: arg.symbol(),
          horizon: horizonArg.optional().describe(`default ${cfg.horizon}`),
          timeframe: arg.choice(TIMEFRAMES).optional().describe(`default ${cfg.timeframe}`),
        },
        permission: 'market:read',
        examples: ['/predict BTC/USDT', '/predict btc 24h'],
        handler: async (c) => {
          const t = await target3(c.args.symbol, c.args.timeframe ?? cfg.timeframe, c.args.horizon ?? cfg.horizon, c.fail);
          const { m, view, d, candleTime } = await forecastNow(t, c.fail);
          const fc = view.forecasts[d.kind];
          ctx.audit({ kind: 'ml.predict', by: who(c.principal), symbol: t.symbol, timeframe: t.timeframe, horizon: t.horizon, model: d.kind, p: Number(fc.p.toFixed(4)), sd: Number(fc.sd.toFixed(4)), gate: cfg.gate, signal: d.signal });
          if (d.signal) {
            await ctx.emit('ml.signal', {
              exchange: m.meta.exchange,
              symbol: m.meta.symbol,
              timeframe: m.meta.timeframe,
              horizon: m.meta.horizon,
              direction: fc.direction,
              p: fc.p,
              sd: fc.sd,
              confidence: fc.confidence,
              gate: cfg.gate,
              model: d.kind,
              at: candleTime + m.meta.timeframeMs,
            });
          }
          return predictReply(view, d);
        },
      }),
    );

    return async () => {
      closing = true;
      if (job?.state === 'running') await job.cancel?.();
      for (const e of cache.values()) await e.loaded.then(ml.disposeModels, () => {});
      cache.clear();
    };
  },
});
