import { rmSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import backtestPlugin from '../../plugins/backtest/index.js';
import signalsPlugin from '../../plugins/signals/index.js';
import { metricRows, type BacktestReport } from '../../src/backtest/report.js';
import type { ChatAdapter } from '../../src/kernel/adapters.js';
import type { Block, Channel, Reply } from '../../src/kernel/index.js';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';
import { recordedCandles, sharedDataDir } from '../helpers/recorded.js';

/**
 * /backtest end to end on the recorded Binance data (../shared/data): the metrics table next to
 * buy-and-hold and the equity chart, the same numbers from `deskbot backtest --json` run as a
 * child process, progress posts and cancellation of a long run, and the refusals.
 */

const HOUR = 3_600_000;
let desk: TestDesk | undefined;
afterEach(async () => {
  await desk?.kernel.stop();
  desk = undefined;
});
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function replayDesk(settings: Record<string, unknown> = {}): Promise<TestDesk> {
  desk = await startDesk({
    plugins: [signalsPlugin, backtestPlugin],
    config: testConfig({ market: { dir: sharedDataDir() }, plugins: { settings: { backtest: settings } } }),
  });
  return desk;
}

function tableOf(r: Reply | null, title: string): { header: string[]; rows: string[][] } {
  const t = r?.blocks.find((b): b is Extract<Block, { type: 'table' }> => b.type === 'table' && b.title === title);
  if (t === undefined) throw new Error(`no "${title}" table in ${JSON.stringify(r?.blocks.map((b) => b.type))}`);
  return { header: t.header ?? [], rows: t.rows };
}

function textOf(r: Reply | null): string {
  return (r?.blocks ?? [])
    .filter((b): b is Extract<Block, { type: 'text' }> => b.type === 'text')
    .map((b) => b.text)
    .join('\n');
}

function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout.slice(0, 2000)}\n--- stderr ---\n${r.stderr}`;
}

async function cliJson(args: string[]): Promise<BacktestReport> {
  const dataDir = tempDir();
  dirs.push(dataDir);
  const r = await runCli(['backtest', ...args, '--json'], { env: { DESKBOT_DATA_DIR: dataDir, DESKBOT_MARKET_DIR: sharedDataDir(), DESKBOT_LOG_LEVEL: 'warn' } });
  expect(r.code, show(r)).toBe(0);
  return JSON.parse(r.stdout) as BacktestReport;
}

/** every metric row of the chat table is the CLI JSON's number, formatted the same way */
function expectSameNumbers(chat: Reply | null, json: BacktestReport): void {
  const t = tableOf(chat, 'Metrics, net of fees and slippage');
  expect(t.header).toEqual(['metric', json.strategy.label, 'buy & hold']);
  const rows = metricRows(json.assumptions.quote);
  expect(t.rows).toHaveLength(rows.length);
  rows.forEach(([label, f], i) => {
    expect(t.rows[i]).toEqual([label, f(json.metrics.strategy), f(json.metrics.buyAndHold)]);
  });
  expect(textOf(chat)).toContain(`${json.window.from} → ${json.window.to} UTC, ${json.window.candles.toLocaleString('en-US')} candles`);
}

describe('/backtest on recorded data', { timeout: 120_000 }, () => {
  it('sma-cross BTC/USDT 1h: the metrics next to buy-and-hold, how they were computed, and an equity + drawdown PNG', async () => {
    const d = await replayDesk();
    const r = await d.raw('vic', '/backtest sma-cross BTC/USDT 1h');
    const head = textOf(r);
    expect(head).toMatch(/^Backtest bt1: sma-cross\(20\/50\) on binance BTC\/USDT 1h: .* UTC, [\d,]+ candles \(recorded data\)/);
    const t = tableOf(r, 'Metrics, net of fees and slippage');
    expect(t.rows.map((x) => x[0])).toEqual([
      'final equity',
      'total return',
      'CAGR',
      'Sharpe (annualised)',
      'Sortino (annualised)',
      'max drawdown',
      'max drawdown duration',
      'Calmar',
      'trades',
      'win rate',
      'profit factor',
      'average trade',
      'exposure',
      'fees paid',
      'slippage cost',
    ]);
    const how = tableOf(r, 'How it was computed');
    const how2 = Object.fromEntries(how.rows.map(([k, v]) => [k, v]));
    expect(how2.fills).toContain("filled at the next candle's open");
    expect(how2.costs).toContain('taker fee 0.100 %');
    expect(how2.gaps).toMatch(/in the record/);
    const image = r?.blocks.find((b) => b.type === 'image');
    expect(image?.type === 'image' && Buffer.from(image.png.subarray(0, 8)).toString('hex')).toBe('89504e470d0a1a0a');

    // buy-and-hold, computed here by hand from the file read plainly: the 5,000 hours before the
    // desk's now (the end of the record), bought at the first open with all of 10,000 USDT, sold at the last close, 0.1 % fee
    // and the paper slippage model (2 bps + 1 bps × √share × 100) on both fills
    const c = recordedCandles('binance', 'BTC/USDT', '1h');
    const end = c.length;
    const to = d.kernel.market.now();
    expect(to).toBeGreaterThanOrEqual((c.time[end - 1] as number) + HOUR);
    let start = 0;
    while ((c.time[start] as number) < to - 5000 * HOUR) start++;
    const slip = (notional: number, i: number): number => 2 + Math.sqrt(Math.min(1, notional / ((c.close[i] as number) * (c.volume[i] as number)))) * 100;
    const notional = 10_000 / 1.001;
    const qty = notional / ((c.open[start] as number) * (1 + slip(notional, start - 1) / 10_000));
    const last = c.close[end - 1] as number;
    const final = 10_000 - notional * 1.001 + qty * last * (1 - slip(qty * last, end - 1) / 10_000) * 0.999;
    const bh = Object.fromEntries(t.rows.map((x) => [x[0], x[2]]));
    expect(bh['final equity']).toBe(`${final.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} USDT`);
    expect(bh.trades).toBe('1');
    expect(bh.exposure).toBe('100.0 %');
    expect(head).toContain(`${(end - start).toLocaleString('en-US')} candles`);
  });

  it('deskbot backtest … --json (a child process) prints the same numbers as the chat', async () => {
    const d = await replayDesk();
    const chat = await d.raw('vic', '/backtest sma-cross BTC/USDT 1h');
    const json = await cliJson(['sma-cross', 'BTC/USDT', '--timeframe', '1h']);
    expect(json.strategy).toMatchObject({ name: 'sma-cross', params: { fast: 20, slow: 50 } });
    expect(json.market).toEqual({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', source: 'replay' });
    expectSameNumbers(chat, json);
    // the reconciliation holds on the real run too: final = initial + Σ gross − Σ fees
    const m = json.metrics.strategy;
    const sum = json.trades.reduce((a, t) => a + t.grossPnl - t.entryFee - t.exitFee, 0);
    expect(Math.abs(m.finalEquity - (json.assumptions.initialCash + sum))).toBeLessThan(0.005);
    expect(m.trades).toBe(json.trades.length);
  });

  it('with a range, parameters and exits, and in walk-forward mode: chat and CLI agree', async () => {
    const d = await replayDesk();
    const chat = await d.raw('vic', '/backtest sma-cross eth 1h 2021-01-01 2021-05-01 fast=10 slow=40 sl=5% tp=15 trail=4');
    const json = await cliJson(['sma-cross', 'ETH/USDT', '--from', '2021-01-01', '--to', '2021-05-01', '--fast', '10', '--slow', '40', '--stop-loss', '5', '--take-profit', '15', '--trailing-stop', '4']);
    expect(json.window.from).toBe('2021-01-01 00:00');
    expect(json.window.to).toBe('2021-05-01 00:00');
    expect(json.assumptions.exits).toEqual({ stopLoss: 0.05, takeProfit: 0.15, trailingStop: 0.04 });
    expect(new Set(json.trades.map((t) => t.reason)).size).toBeGreaterThan(1);
    expectSameNumbers(chat, json);

    const wfChat = await d.raw('vic', '/backtest sma-cross BTC/USDT 1h wf=on train=1000 test=400');
    const wf = await cliJson(['sma-cross', 'BTC/USDT', '--walk-forward', '--train', '1000', '--test', '400']);
    expectSameNumbers(wfChat, wf);
    expect(wf.walkForward?.windows.length).toBeGreaterThan(5);
    const windows = tableOf(wfChat, 'Walk-forward windows');
    expect(windows.rows).toHaveLength(wf.walkForward?.windows.length ?? -1);
    expect(windows.rows[0]?.[3]).toBe(Object.entries(wf.walkForward?.windows[0]?.params ?? {}).map(([k, v]) => `${k}=${v}`).join(' '));
    expect(textOf(wfChat)).toContain('the metrics above are the test windows only');
  });

  it('deskbot backtest: usage errors exit 2 with the usage, a bad strategy exits 1 with the reason', async () => {
    const env = { DESKBOT_DATA_DIR: tempDir(), DESKBOT_MARKET_DIR: sharedDataDir(), DESKBOT_LOG_LEVEL: 'warn' };
    dirs.push(env.DESKBOT_DATA_DIR);
    const usage = await runCli(['backtest', 'sma-cross'], { env });
    expect(usage.code, show(usage)).toBe(2);
    expect(usage.stderr).toContain('give a strategy and a symbol');
    expect(usage.stderr).toContain('usage: deskbot backtest <strategy> <symbol> [options]');
    const bad = await runCli(['backtest', 'nope', 'BTC/USDT', '--json'], { env });
    expect(bad.code, show(bad)).toBe(1);
    expect(bad.stderr).toContain('deskbot backtest: no strategy "nope" (strategies: sma-cross, trend, momentum, meanrev, breakout, balanced)');
    expect(bad.stdout).toBe('');
  });

  it('a signals strategy runs through the signals plugin’s service', async () => {
    const d = await replayDesk();
    const r = await d.raw('vic', '/backtest momentum SOL/USDT 1h 2021-03-01 2021-06-01');
    expect(textOf(r)).toContain('Backtest bt1: momentum on binance SOL/USDT 1h: 2021-03-01 00:00 → 2021-06-01 00:00 UTC');
    expect(tableOf(r, 'Metrics, net of fees and slippage').header).toEqual(['metric', 'momentum', 'buy & hold']);
  });

  it('refuses what it cannot do, in a sentence', async () => {
    const d = await replayDesk({ maxCandles: 10_000 });
    expect(await d.say('vic', '/backtest sma-crss btc')).toMatch(/unknown strategy "sma-crss" \(did you mean sma-cross\?\)/);
    expect(await d.say('vic', '/backtest sma-cross')).toContain('missing symbol');
    expect(await d.say('vic', '/backtest balanced btc wf=on')).toContain('walk-forward needs a strategy with parameters to fit (sma-cross)');
    expect(await d.say('vic', '/backtest sma-cross btc fast=50 slow=20')).toContain('fast (50) must be below slow (20)');
    expect(await d.say('vic', '/backtest sma-cross btc 1h 2019-01-01 2019-02-01')).toMatch(/0 closed candles between 2019-01-01T00:00Z and 2019-02-01T00:00Z/);
    expect(await d.say('vic', '/backtest sma-cross btc 5m 2020-12-01')).toMatch(/more than the 10,000 a run may read/);
    expect(await d.say('vic', '/backtest sma-cross btc 1h wf=on train=5000 test=1000')).toMatch(/walk-forward needs at least 6000 candles/);
    expect(await d.say('vic', '/backtest cancel bt9')).toContain('no running backtest "bt9" (none is running)');
  });
});

/** records what the desk posts to console channels (progress of long runs) */
class Recorder implements ChatAdapter {
  readonly platform = 'console';
  readonly posts: Array<{ channel: Channel; reply: Reply }> = [];
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async post(channel: Channel, reply: Reply): Promise<void> {
    this.posts.push({ channel, reply });
  }
  health(): { connected: boolean; detail: string } {
    return { connected: true, detail: 'test recorder' };
  }
}

async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('long runs: progress and cancellation', { timeout: 120_000 }, () => {
  it('posts progress with a cancel button, lists runs, and /backtest cancel <id> stops the run (only its owner may)', async () => {
    const d = await replayDesk({ progressAfterMs: 0, progressEveryMs: 1000, maxConcurrent: 1 });
    const rec = new Recorder();
    await d.kernel.attach(rec);
    // a signals strategy over every recorded 5m candle of a year: seconds of work
    const running = d.raw('tom', '/backtest balanced BTC/USDT 5m 2020-12-01');
    await until('a progress post', () => rec.posts.some((p) => textOf(p.reply).includes('%')));
    const post = rec.posts.find((p) => textOf(p.reply).includes('%'));
    expect(post?.channel).toEqual({ platform: 'console', channelId: 'terminal' });
    expect(textOf(post?.reply ?? null)).toMatch(/^backtest bt1 \(balanced on BTC\/USDT 5m\): \d+ % — evaluating the strategy, [\d,]+ of [\d,]+ candle decisions$/);
    const buttons = post?.reply.blocks.find((b) => b.type === 'buttons');
    expect(buttons?.type === 'buttons' && buttons.buttons[0]?.command).toBe('/backtest cancel bt1');

    expect(await d.say('vic', '/backtest runs')).toMatch(/bt1\s+tom\s+balanced on BTC\/USDT 5m/);
    expect(await d.say('vic', '/backtest sma-cross btc')).toContain('1 backtest is running (bt1: balanced on BTC/USDT 5m); wait for one or cancel it');
    expect(await d.say('vic', '/backtest cancel bt1')).toContain('bt1 was started by tom; only they can cancel it');
    expect(await d.say('tom', '/backtest cancel BT1')).toContain('cancelling bt1');
    const out = await running;
    expect(textOf(out)).toMatch(/^backtest bt1 \(balanced on BTC\/USDT 5m\) cancelled at \d+ %; nothing was computed from it$/);
    expect(out?.blocks.some((b) => b.type === 'table' || b.type === 'image')).toBe(false);
    // the slot is free again
    expect(textOf(await d.raw('tom', '/backtest sma-cross btc 1h'))).toContain('Backtest bt2: sma-cross(20/50)');
  });
});
