import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mlPlugin, { type MlSignal } from '../../plugins/ml/index.js';
import signalsPlugin from '../../plugins/signals/index.js';
import { renderText } from '../../src/adapters/console/render.js';
import type { Block, Reply } from '../../src/kernel/index.js';
import { FEATURE_NAMES, FEATURE_WARMUP, loadTf, type ModelMeta, type TestPredictions } from '../../src/ml/index.js';
import { recordedCandles, sharedDataDir } from '../helpers/recorded.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';

/**
 * Acceptance on the recorded BTC/USDT 1h candles: /model train (in a worker thread), then
 * /model evaluate and /predict. Sizes are small so training fits in a test; nothing here
 * depends on how fast the machine is (no timing assertions; the waits are bounded only by the
 * generous timeouts).
 */

const H = 3_600_000;
// small but real: 3 folds × 150 test samples after 600-sample train windows, sequences of 24;
// history 6000 reads the whole record (5,482 candles)
const SETTINGS = { epochs: 2, units: 8, folds: 3, trainWindow: 600, testWindow: 150, mcPasses: 10, gate: 0.99, history: 6000 };
const SEQ_LEN = 24;
const modelsDir = mkdtempSync(path.join(os.tmpdir(), 'deskbot-ml-models-'));
const btc = recordedCandles('binance', 'BTC/USDT', '1h');

async function mlDesk(opts: { replayTime?: string; settings?: Record<string, unknown> } = {}): Promise<TestDesk> {
  const config = testConfig({
    market: { dir: sharedDataDir(), ...(opts.replayTime ? { replayTime: opts.replayTime } : {}) },
    plugins: { settings: { ml: { modelsDir, ...SETTINGS, ...opts.settings } } },
  });
  return startDesk({ plugins: [mlPlugin], config });
}

function tables(r: Reply | null): Array<Extract<Block, { type: 'table' }>> {
  return (r?.blocks ?? []).filter((b): b is Extract<Block, { type: 'table' }> => b.type === 'table');
}

function texts(r: Reply | null): string[] {
  return (r?.blocks ?? []).flatMap((b) => (b.type === 'text' ? [b.text] : []));
}

/** poll /model status until the training is done or failed (no timing assertion: the test timeout bounds it) */
async function waitForTraining(desk: TestDesk): Promise<string> {
  for (;;) {
    const s = await desk.say('vic', '/model status');
    if (/: (done|failed)/.test(s)) return s;
    await sleep(500);
  }
}

let desk: TestDesk;
const transcript: Record<string, string> = {};
const signals: MlSignal[] = [];

beforeAll(async () => {
  desk = await mlDesk();
  desk.kernel.events.on('ml.signal', (e) => void signals.push(e));
  transcript.statusBefore = await desk.say('vic', '/model status');
  transcript.predictBefore = await desk.say('vic', '/predict btc');
  transcript.trainVic = await desk.say('vic', '/model train');
  transcript.trainTom = await desk.say('tom', '/model train BTC/USDT 1h 1h');
  transcript.train = await desk.say('ann', '/model train');
  transcript.statusDuring = await desk.say('vic', '/model status');
  transcript.trainAgain = await desk.say('ann', '/model train');
  transcript.statusAfter = await waitForTraining(desk);
}, 900_000);

afterAll(async () => {
  await desk?.kernel.stop();
});

describe('/model status, permissions and training in a worker thread', () => {
  it('shows the backend in use (tfjs-node when it loads, else the pure-JS CPU backend) before anything is trained', async () => {
    const rt = await loadTf();
    expect(['tensorflow', 'wasm', 'cpu']).toContain(rt.backend);
    expect(transcript.statusBefore).toContain(`backend`);
    expect(transcript.statusBefore).toContain(rt.describe);
    if (rt.backend === 'cpu') expect(transcript.statusBefore).toContain('cpu (pure JavaScript; @tensorflow/tfjs-node: ');
    expect(transcript.statusBefore).toContain('No saved models yet');
    expect(transcript.predictBefore).toContain('no model for BTC/USDT 1h, horizon 1h');
    expect(transcript.predictBefore).toContain('/model train BTC/USDT 1h 1h first');
  });

  it('/model train needs ml:train: a viewer and a trader are refused, the admin starts it, a second one waits', () => {
    expect(transcript.trainVic).toContain('Not allowed: /model train needs ml:train; Vic Viewer has roles viewer.');
    expect(transcript.trainTom).toContain('Not allowed: /model train needs ml:train; Tom Trader has roles trader.');
    expect(transcript.train).toMatch(/Training started: LSTM and GRU on BTC\/USDT 1h \(binance\), direction over 1h \(1 candle\) — 5,482 candles 2020-12-01 00:00 UTC → 2021-07-17 20:00 UTC \(6 gaps\), [\d,]+ labelled samples; walk-forward 3 folds × 150 test samples/);
    expect(transcript.train).toContain('In a worker thread: /model status shows progress.');
    expect(transcript.statusDuring).toMatch(/training\s+BTC\/USDT 1h → 1h: \d+ % — /);
    expect(transcript.statusDuring).toContain('started 2026-11-27 09:00 UTC by ann');
    expect(transcript.trainAgain).toContain('already training BTC/USDT 1h → 1h');
  });

  it('reports the training done, and the saved model set has its data range, features and scores', () => {
    expect(transcript.statusAfter).toMatch(/training\s+BTC\/USDT 1h → 1h: done/);
    expect(transcript.statusAfter).toMatch(/BTC\/USDT 1h → 1h\s+2020-12-01 00:00 UTC → 2021-07-17 20:00 UTC/);
    const dir = path.join(modelsDir, 'binance_BTC-USDT_1h_h1');
    for (const f of ['meta.json', 'predictions.json', 'lstm/model.json', 'lstm/weights.bin', 'gru/model.json', 'gru/weights.bin']) expect(existsSync(path.join(dir, f)), f).toBe(true);
    const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as ModelMeta;
    expect(meta.data).toMatchObject({ from: btc.time[0], to: btc.time[btc.length - 1], candles: btc.length, gaps: 6 });
    expect(meta.features).toEqual([...FEATURE_NAMES]);
    expect(meta.walkForward.folds).toHaveLength(3);
    expect(meta.final.train.n).toBe(600);
    expect(meta.final.train.to).toBeLessThanOrEqual(btc.time[btc.length - 2] as number);
    expect(meta.trainedBy).toBe('ann');
  });
});

/** parse "0.5133" "77/150" → numbers */
function row(r: string[]): { name: string; accuracy: number; correct: number; n: number; brier: number } {
  const [name, acc, cn, br] = r as [string, string, string, string];
  const [correct, n] = cn.split('/').map(Number) as [number, number];
  return { name, accuracy: Number(acc), correct, n, brier: Number(br) };
}

describe('/model evaluate on the recorded BTC/USDT 1h', () => {
  it('reports walk-forward accuracy and Brier next to the baselines, consistent with their counts and with an independent computation', async () => {
    const r = await desk.raw('vic', '/model evaluate');
    transcript.evaluate = await desk.say('vic', '/model evaluate BTC/USDT 1h 1h');
    // the draw it was trained with (the default seed), so the training can be repeated
    expect(transcript.evaluate).toMatch(/settings +sequence 24, 8 units, .*, seed 1/);
    const ts = tables(r);
    const scores = ts.find((t) => t.title?.startsWith('Test windows, pooled'));
    expect(scores?.title).toBe('Test windows, pooled (450 predictions)');
    const rows = (scores?.rows ?? []).map(row);
    expect(rows.map((x) => x.name)).toEqual(['LSTM', 'GRU', 'majority (train window)', 'last-return sign']);
    for (const x of rows) {
      expect(x.n).toBe(450);
      for (const v of [x.accuracy, x.brier]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
      // the accuracy is the fraction correct in the reported counts
      expect(x.accuracy).toBeCloseTo(x.correct / x.n, 4);
    }

    // the fold windows as reported; each test window strictly after its train window, with the
    // training labels (one candle ahead) known before the test window's first candle
    const folds = ts.find((t) => t.title?.startsWith('Folds'));
    const windows = (folds?.rows ?? []).map((fr) => {
      const parse = (cell: string): { from: number; to: number; n: number } => {
        const m = /^(\S+ \S+) UTC → (\S+ \S+) UTC \((\d+)\)$/.exec(cell);
        if (!m) throw new Error(`cannot read window "${cell}"`);
        return { from: Date.parse(`${m[1]}Z`), to: Date.parse(`${m[2]}Z`), n: Number(m[3]) };
      };
      return { train: parse(fr[1] as string), test: parse(fr[2] as string) };
    });
    expect(windows).toHaveLength(3);
    for (const [i, w] of windows.entries()) {
      expect(w.train.n).toBe(600);
      expect(w.test.n).toBe(150);
      expect(w.test.from).toBeGreaterThan(w.train.to);
      expect(w.train.to + H).toBeLessThanOrEqual(w.test.from);
      if (i > 0) expect(w.test.from).toBeGreaterThan((windows[i - 1] as (typeof windows)[number]).test.to);
    }

    // the baselines again, from the raw candles: a sample is a candle with 49 warm-up candles and
    // a 24-row sequence behind it and its label candle (t + 1) ahead, all without a gap
    const seg = new Int32Array(btc.length);
    const segStart: number[] = [0];
    for (let i = 1; i < btc.length; i++) {
      seg[i] = (btc.time[i] as number) - (btc.time[i - 1] as number) === H ? (seg[i - 1] as number) : (seg[i - 1] as number) + 1;
      if (seg[i] !== seg[i - 1]) segStart.push(i);
    }
    const eligible = (t: number): boolean => t + 1 < btc.length && seg[t + 1] === seg[t] && t - (segStart[seg[t] as number] as number) >= FEATURE_WARMUP + SEQ_LEN - 1;
    const up = (t: number): number => ((btc.close[t + 1] as number) > (btc.close[t] as number) ? 1 : 0);
    const inRange = (w: { from: number; to: number }): number[] => {
      const out: number[] = [];
      for (let t = 0; t < btc.length; t++) if ((btc.time[t] as number) >= w.from && (btc.time[t] as number) <= w.to && eligible(t)) out.push(t);
      return out;
    };
    let majCorrect = 0;
    let majBrier = 0;
    let lastCorrect = 0;
    for (const w of windows) {
      const train = inRange(w.train);
      const test = inRange(w.test);
      expect(train).toHaveLength(w.train.n);
      expect(test).toHaveLength(w.test.n);
      const rate = train.reduce((s, t) => s + up(t), 0) / train.length;
      const majority = rate >= 0.5 ? 1 : 0;
      for (const t of test) {
        if (up(t) === majority) majCorrect++;
        majBrier += (rate - up(t)) ** 2;
        if (((btc.close[t] as number) > (btc.close[t - 1] as number) ? 1 : 0) === up(t)) lastCorrect++;
      }
    }
    const [, , maj, last] = rows as [unknown, unknown, ReturnType<typeof row>, ReturnType<typeof row>];
    expect(maj.correct).toBe(majCorrect);
    expect(maj.brier).toBeCloseTo(majBrier / 450, 4);
    expect(last.correct).toBe(lastCorrect);
    expect(last.brier).toBeCloseTo(1 - lastCorrect / 450, 4);

    // the models' counts agree with their saved test-window forecasts
    const preds = JSON.parse(readFileSync(path.join(modelsDir, 'binance_BTC-USDT_1h_h1', 'predictions.json'), 'utf8')) as TestPredictions;
    expect(preds.label).toHaveLength(450);
    for (const [k, x] of [['lstm', rows[0]], ['gru', rows[1]]] as const) {
      const p = preds.p[k];
      const correct = p.filter((v, i) => (v >= 0.5 ? 1 : 0) === preds.label[i]).length;
      expect(x?.correct).toBe(correct);
      expect(x?.brier).toBeCloseTo(p.reduce((s, v, i) => s + (v - (preds.label[i] as number)) ** 2, 0) / 450, 3);
      for (const sd of preds.sd[k]) expect(sd).toBeGreaterThanOrEqual(0);
    }
    // labels in the file are the candles' own
    for (const [i, time] of preds.time.entries()) expect(preds.label[i]).toBe(up(btc.time.indexOf(time)));

    // each model says whether it beats the baselines
    const verdicts = texts(r).filter((t) => /^(LSTM|GRU) (beats|does not beat) the baselines/.test(t));
    expect(verdicts).toHaveLength(2);
    const calib = ts.filter((t) => t.title?.startsWith('Calibration of'));
    expect(calib).toHaveLength(2);
    for (const c of calib) expect(c.rows.reduce((s, rr) => s + Number(rr[1]), 0)).toBe(450);
    expect(transcript.evaluate).toContain('Confidence gate 0.99: test forecasts at or above it — LSTM ');
  });
});

describe('/predict', () => {
  it('shows both forecasts with their MC-dropout spread and refuses to signal below the gate, saying the confidence and the gate', async () => {
    // one reply: MC dropout draws new masks on every call, so two calls differ slightly
    const r = await desk.raw('tom', '/predict btc');
    const out = renderText(r as Reply);
    expect(out).toContain('BTC/USDT 1h (binance): P(up over the next 1h) at the candle closed 2021-07-17 21:00 UTC');
    const table = tables(r)[0];
    expect(table?.title).toBe('Monte-Carlo dropout, 10 passes (* the model the gate reads)');
    const starred = table?.rows.find((x) => (x[0] as string).endsWith('*'));
    expect(starred).toBeDefined();
    for (const x of table?.rows ?? []) {
      const p = Number(x[1]);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
      const sd = /^± (\d\.\d{4})$/.exec(x[2] as string);
      expect(sd, String(x[2])).not.toBeNull();
      const [p10, p90] = (x[3] as string).split('–').map(Number) as [number, number];
      expect(p10).toBeLessThanOrEqual(p90);
      expect(Number(x[5])).toBeCloseTo(Math.max(p, 1 - p), 2);
    }
    const name = (starred?.[0] as string).replace(' *', '');
    const confidence = starred?.[5] as string;
    expect(out).toContain(`No signal: confidence ${confidence} (${name}) is below the gate 0.99`);
    expect(signals).toEqual([]);
  });

  it('refuses a forecast at a time the model was trained past (look-ahead), and a horizon never trained', async () => {
    const early = await mlDesk({ replayTime: '2021-06-01T00:00:00Z' });
    try {
      expect(await early.say('vic', '/predict btc')).toMatch(/the model was trained on labels up to 2021-07-17 \d\d:00 UTC, after the candle this forecast would be made at \(2021-05-31 23:00 UTC\): that is look-ahead — not predicting/);
      expect(await early.say('vic', '/predict btc 24h')).toContain('no model for BTC/USDT 1h, horizon 24h');
      expect(await early.say('vic', '/model evaluate eth')).toContain('no model for ETH/USDT 1h, horizon 1h');
      expect(await early.say('vic', '/model evaluate btc 1h 90m')).toContain('horizon 90m is not a whole number of 1h candles');
    } finally {
      await early.kernel.stop();
    }
  });
});

describe('the ML view under /signal', () => {
  it('shows the gated forecast at the same candle beside the strategy, never in its score; nothing for a market without a model', async () => {
    const both = await startDesk({
      plugins: [signalsPlugin, mlPlugin],
      config: testConfig({ market: { dir: sharedDataDir() }, plugins: { settings: { ml: { modelsDir, ...SETTINGS } } } }),
    });
    const alone = await startDesk({ plugins: [signalsPlugin], config: testConfig({ market: { dir: sharedDataDir() } }) });
    try {
      const withMl = await both.say('vic', '/signal btc 1h');
      expect(withMl).toMatch(/ML \((LSTM|GRU), next 1h\): (up|down), P\(up\) 0\.\d{4} ± 0\.\d{4}, confidence 0\.\d\d — no ML signal: confidence 0\.\d\d \((LSTM|GRU)\) is below the gate 0\.99/);
      // the strategy's own answer is the same with or without the view
      const without = await alone.say('vic', '/signal btc 1h');
      expect(withMl.split('\n').filter((l) => !l.includes('ML ('))).toEqual(without.split('\n'));
      expect(await both.say('vic', '/signal eth 1h')).not.toContain('ML');
    } finally {
      await both.kernel.stop();
      await alone.kernel.stop();
    }
    const early = await startDesk({
      plugins: [signalsPlugin, mlPlugin],
      config: testConfig({ market: { dir: sharedDataDir(), replayTime: '2021-06-01T00:00:00Z' }, plugins: { settings: { ml: { modelsDir, ...SETTINGS } } } }),
    });
    try {
      expect(await early.say('vic', '/signal btc 1h')).toMatch(/ML: no view — the model was trained on labels up to 2021-07-17 \d\d:00 UTC, after the candle/);
    } finally {
      await early.kernel.stop();
    }
  });
});

describe('/model train with too little data', () => {
  it('says how many samples there are and how many the walk-forward needs, and trains nothing', async () => {
    const d = await mlDesk({ settings: { trainWindow: 4000, testWindow: 500 } });
    try {
      expect(await d.say('ann', '/model train btc 1h 24h')).toMatch(/BTC\/USDT 1h: 4,826 labelled samples, 5,500 needed at least \(train window 4000 \+ 3 folds × test window 500, plus the horizon between them\) — not training/);
    } finally {
      await d.kernel.stop();
    }
  });
});

afterAll(() => {
  // the replies on the recorded data, for the record (vitest prints them with --reporter=verbose)
  if (process.env.ML_TRANSCRIPT) console.log(Object.entries(transcript).map(([k, v]) => `--- ${k}\n${v}`).join('\n'));
});
