import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { fmtNum, fmtSigned } from '../../plugins/signals/format.js';
import signalsPlugin from '../../plugins/signals/index.js';
import { Indicators } from '../../plugins/signals/rules.js';
import { measureAt, rank } from '../../plugins/signals/scan.js';
import { compileStrategies, evaluate } from '../../plugins/signals/strategies.js';
import * as ta from '../../src/ta/index.js';
import { sliceCandles, type Candles } from '../../src/market/types.js';
import { recordedCandles, sharedDataDir } from '../helpers/recorded.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';
import { block, definePlugin, type SignalContext } from '../../src/kernel/index.js';

let desk: TestDesk | undefined;
afterEach(async () => {
  await desk?.kernel.stop();
  desk = undefined;
});

async function replayDesk(market: Record<string, unknown> = {}, settings: Record<string, unknown> = {}): Promise<TestDesk> {
  desk = await startDesk({
    plugins: [signalsPlugin],
    config: testConfig({ market: { dir: sharedDataDir(), ...market }, plugins: { settings: { signals: settings } } }),
  });
  return desk;
}

const HOUR = 3_600_000;
const strategies = compileStrategies();

/** The newest `want` contiguous candles closed by `now` (at least `min`), read plainly from the file. */
function windowAt(c: Candles, now: number, want: number): Candles {
  let end = 0;
  while (end < c.length && (c.time[end] as number) + c.timeframeMs <= now) end++;
  let start = end - 1;
  while (start > 0 && end - start < want && (c.time[start] as number) - (c.time[start - 1] as number) === c.timeframeMs) start--;
  return sliceCandles(c, start, end);
}

const usdtFiles = readdirSync(sharedDataDir())
  .filter((n) => /^binance_[A-Z0-9]+-USDT_1h\.csv$/.test(n))
  .map((n) => n.replace(/^binance_([A-Z0-9]+)-USDT_1h\.csv$/, '$1/USDT'))
  .sort();
const btc = recordedCandles('binance', 'BTC/USDT', '1h');
const recordEnd = (btc.time[btc.length - 1] as number) + HOUR;

/** the body rows of the first table in a rendered reply that has `col` in its header */
function tableRows(out: string, col: string): string[][] {
  const lines = out.split('\n');
  const h = lines.findIndex((l) => l.includes(col) && l.includes('symbol'));
  const rows: string[][] = [];
  for (const l of lines.slice(h + 1)) {
    if (/^[-─\s]+$/.test(l)) continue;
    const cells = l.trim().split(/\s{2,}/);
    if (!/^\d+$/.test(cells[0] ?? '')) break;
    rows.push(cells);
  }
  return rows;
}

describe('/signal on recorded data', () => {
  it('BTC/USDT 1h: direction, score, confidence and the rules that fired with their values', async () => {
    const d = await replayDesk();
    const out = await d.say('vic', '/signal BTC/USDT 1h');
    const s = strategies.get('balanced');
    if (!s) throw new Error('no balanced strategy');
    const w = windowAt(btc, recordEnd, s.settle);
    const r = evaluate(s, w);
    expect(out).toContain(`BTC/USDT 1h · balanced: ${r.direction.toUpperCase()}  score ${fmtSigned(r.score, 2)}  confidence ${fmtNum(r.confidence, 2)}`);
    expect(out).toMatch(/direction\s+(long|short|flat) \(\|score\| ≥ 0\.2 gives a direction\)/);
    expect(out).toMatch(/confidence\s+\d\.\d\d = agreement \d\.\d\d × data 1\.00/);
    expect(out).toContain('2021-07-17 20:00 UTC 1h candle (closed 21:00 UTC)');
    expect(out).toContain('binance recorded candles, 1000 contiguous');
    expect(r.reasons.length).toBeGreaterThan(0);
    expect(out).toContain(`rules that fired (${r.reasons.length} of ${r.results.length})`);
    for (const q of r.reasons) expect(out).toContain(q.reason);
    // the values in the reasons are the indicator library's values at that candle
    const rsi = ta.rsi(w.close, 14)[w.length - 1] as number;
    expect(out).toContain(`RSI(14) ${rsi.toFixed(1)}`);
  });

  it('takes a strategy without a timeframe, and refuses a bad strategy naming them all', async () => {
    const d = await replayDesk();
    expect(await d.say('vic', '/signal btc momentum')).toContain('BTC/USDT 1h · momentum:');
    expect(await d.say('vic', '/signal eth 1h trend')).toContain('ETH/USDT 1h · trend:');
    const bad = await d.say('vic', '/signal BTC/USDT 1h moonshot');
    expect(bad).toContain('/signal: strategy: unknown strategy "moonshot"; strategies: trend, momentum, meanrev, breakout, balanced');
    expect(bad).toContain('usage: /signal <symbol> [timeframe] [strategy] [exchange]');
    expect(await d.say('vic', '/signal btc momentun')).toContain('(did you mean momentum?)');
    expect(await d.say('vic', '/signal btc 7x')).toContain('expected a timeframe (1m, 3m, 5m');
    expect(await d.say('vic', '/signal btc 7x')).toContain('or a strategy (trend, momentum, meanrev, breakout, balanced), got "7x"');
  });

  it('says what is missing instead of computing: an unrecorded timeframe, an unknown symbol', async () => {
    const d = await replayDesk();
    expect(await d.say('vic', '/signal btc 4h')).toContain('binance BTC/USDT has no 4h record (recorded: 5m, 1h)');
    expect(await d.say('vic', '/signal btx')).toContain('binance has no market "BTX". Did you mean BTC/USDT');
  });

  it('a replay time in the past gives the signal as it was then (no look-ahead), on the contiguous tail after a gap', async () => {
    // 300 hours after the record's last maintenance gap: only 300 contiguous candles exist then
    const times = Array.from(btc.time);
    const after = times.findLast((t, i) => i > 0 && t - (times[i - 1] as number) > HOUR) as number;
    const now = after + 300 * HOUR;
    const d = await replayDesk({ replayTime: new Date(now).toISOString() });
    for (const name of ['trend', 'breakout']) {
      const s = strategies.get(name);
      if (!s) throw new Error(name);
      const w = windowAt(btc, now, s.settle);
      expect(w.length).toBe(Math.min(300, s.settle));
      const r = evaluate(s, w);
      const out = await d.say('vic', `/signal btc 1h ${name}`);
      expect(out).toContain(`score ${fmtSigned(r.score, 2)}  confidence ${fmtNum(r.confidence, 2)}`);
      expect(out).toContain(`${w.length} contiguous`);
      if (s.settle > 300) expect(out).toContain(`only 300 contiguous candles of the ${s.settle} this strategy wants`);
    }
  });

  it('refuses a window too short for the strategy, naming the gap', async () => {
    const times = Array.from(btc.time);
    const after = times.findLast((t, i) => i > 0 && t - (times[i - 1] as number) > HOUR) as number;
    const d = await replayDesk({ replayTime: new Date(after + 100 * HOUR).toISOString() });
    // trend needs EMA(200): 100 candles after the gap are not enough
    expect(await d.say('vic', '/signal btc 1h trend')).toMatch(/candles? missing between .* only 100 contiguous candles after it, 200 needed — not computing/);
  });
});

describe('views other plugins add under /signal', () => {
  it('are shown after the answer with what the strategy said at which candle; one that fails says so and the answer still comes', async () => {
    const seen: SignalContext[] = [];
    const views = definePlugin({
      name: 'views',
      version: '0.0.0',
      setup(ctx) {
        ctx.contribute('signal', {
          name: 'echo',
          render: async (s) => {
            seen.push(s);
            return [block.text(`echo: ${s.symbol} ${s.timeframe} ${s.direction} at ${new Date(s.candleTime).toISOString()}`)];
          },
        });
        ctx.contribute('signal', { name: 'none', render: async () => null });
        ctx.contribute('signal', {
          name: 'broken',
          render: async () => {
            throw new Error('model file unreadable');
          },
        });
      },
    });
    desk = await startDesk({ plugins: [signalsPlugin, views], config: testConfig({ market: { dir: sharedDataDir() } }) });
    const out = await desk.say('vic', '/signal btc 1h');
    expect(seen).toEqual([{ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', direction: expect.stringMatching(/^(long|short|flat)$/), candleTime: Date.parse('2021-07-17T20:00:00Z') }]);
    expect(out).toContain(`BTC/USDT 1h · balanced: ${(seen[0]?.direction ?? '').toUpperCase()}`);
    expect(out).toContain(`echo: BTC/USDT 1h ${seen[0]?.direction} at 2021-07-17T20:00:00.000Z`);
    expect(out).toContain('broken: not available (model file unreadable)');
    expect(out.indexOf('echo:')).toBeGreaterThan(out.indexOf('rules that fired'));
  });
});

describe('/indicators', () => {
  it('a table of the full set at the last candle', async () => {
    const d = await replayDesk();
    const out = await d.say('vic', '/indicators BTC/USDT');
    const w = windowAt(btc, recordEnd, 1000);
    const all = ta.computeAll({ high: w.high, low: w.low, close: w.close, volume: w.volume });
    expect(Object.keys(all).length).toBeGreaterThan(15);
    expect(out).toContain('binance BTC/USDT 1h: 2021-07-17 20:00 UTC 1h candle');
    for (const [name, a] of Object.entries(all)) {
      expect(out).toMatch(new RegExp(`${name.replace(/[.()]/g, '\\$&')}\\s+${fmtNum(a[w.length - 1] as number).replace(/[.+()]/g, '\\$&')}`));
    }
  });
});

describe('/scan over every USDT symbol', () => {
  const expected = (by: 'momentum' | 'breakout' | 'volume', window = 200) => {
    const rows = usdtFiles.map((symbol) => {
      const w = windowAt(recordedCandles('binance', symbol, '1h'), recordEnd, window);
      expect(w.length).toBe(window);
      return { symbol, ...measureAt(new Indicators(w), w.length - 1) };
    });
    return rank(rows, by);
  };

  it('the recorded universe is the 126 USDT pairs', () => {
    expect(usdtFiles).toHaveLength(126);
  });

  it('ranks all 126 by momentum by default and shows the top 10', async () => {
    const d = await replayDesk();
    const out = await d.say('vic', '/scan');
    expect(out).toContain('binance USDT 1h: top 10 of 126 by momentum — candle 2021-07-17 20:00 UTC');
    const rows = tableRows(out, 'momentum');
    const want = expected('momentum').slice(0, 10);
    expect(rows.map((r) => r[1])).toEqual(want.map((r) => r.symbol));
    expect(rows.map((r) => r[5])).toEqual(want.map((r) => fmtSigned(r.momentum, 2)));
    expect(out).not.toContain('skipped');
  });

  it('reads "/scan usdt 1h top 10 by momentum", and respects top N and by', async () => {
    const d = await replayDesk();
    const exact = await d.say('vic', '/scan usdt 1h top 10 by momentum');
    expect(tableRows(exact, 'momentum').map((r) => r[1])).toEqual(expected('momentum').slice(0, 10).map((r) => r.symbol));

    const vol = await d.say('vic', '/scan top 3 by volume');
    expect(vol).toContain('top 3 of 126 by volume');
    const vrows = tableRows(vol, 'volume');
    expect(vrows).toHaveLength(3);
    expect(vrows.map((r) => r[1])).toEqual(expected('volume').slice(0, 3).map((r) => r.symbol));
    const ratios = vrows.map((r) => Number((r[7] as string).replace('×', '')));
    expect([...ratios].sort((a, b) => b - a)).toEqual(ratios);

    const br = await d.say('vic', '/scan binance:usdt by breakout top 25');
    expect(tableRows(br, 'breakout').map((r) => r[1])).toEqual(expected('breakout').slice(0, 25).map((r) => r.symbol));
  });

  it('skips symbols whose window crosses a gap, and counts them in a footnote', async () => {
    const times = Array.from(btc.time);
    const after = times.findLast((t, i) => i > 0 && t - (times[i - 1] as number) > HOUR) as number;
    const now = after + 50 * HOUR;
    const d = await replayDesk({ replayTime: new Date(now).toISOString() });
    const out = await d.say('vic', '/scan usdt 1h top 50');
    // what the files say: a symbol is rankable when its 200 candles up to then are contiguous
    const gapped: string[] = [];
    const ok: string[] = [];
    for (const symbol of usdtFiles) {
      const c = recordedCandles('binance', symbol, '1h');
      const w = windowAt(c, now, 200);
      let closed = 0;
      while (closed < c.length && (c.time[closed] as number) + HOUR <= now) closed++;
      if (w.length === 200) ok.push(symbol);
      else if (closed > w.length) gapped.push(symbol);
    }
    expect(gapped.length).toBeGreaterThan(100);
    expect(out).toContain(`top ${Math.min(50, ok.length)} of ${ok.length} by momentum`);
    expect(out).toContain(`${gapped.length} skipped: window crosses a gap in the record (${gapped.slice(0, 8).join(', ')} and ${gapped.length - 8} more)`);
    for (const r of tableRows(out, 'momentum')) expect(ok).toContain(r[1]);
  });

  it('a clear usage error for what it cannot read', async () => {
    const d = await replayDesk();
    const out = await d.say('vic', '/scan usdt top ten');
    expect(out).toContain('/scan: query: "top" needs a whole number after it, got "ten" — expected [exchange] [quote] [timeframe] [top N] [by momentum|breakout|volume]');
    expect(out).toContain('usage: /scan [query...]');
    expect(await d.say('vic', '/scan by speed')).toContain('"by" needs one of momentum, breakout, volume');
    expect(await d.say('vic', '/scan eur')).toContain('binance has no active EUR markets (quotes there: USDT 126');
  });

  it('a timeframe few symbols are recorded at: the others are counted, not guessed', async () => {
    const d = await replayDesk();
    const out = await d.say('vic', '/scan 5m top 5');
    // the 5m records end at different times: only XRP's reaches the last 5m candle closed by the desk's now
    expect(out).toContain('binance USDT 5m: top 1 of 1 by momentum — candle 2021-07-17 21:25 UTC');
    expect(out).toContain('121 skipped: no 5m record (AAVE/USDT');
    expect(out).toContain('4 skipped: no 2021-07-17 21:25 UTC candle (its data ends earlier) (ADA/USDT, BTC/USDT, ETH/USDT, SOL/USDT)');
  });
});

describe('/strategies and config', () => {
  it('lists the strategies and their rules', async () => {
    const d = await replayDesk();
    const out = await d.say('vic', '/strategies');
    for (const name of ['trend', 'momentum', 'meanrev', 'breakout', 'balanced (default)']) expect(out).toContain(name);
    for (const rule of ['ema_cross', 'price_ema', 'adx_di', 'rsi_momentum', 'macd_hist', 'roc', 'rsi_extreme', 'bb_percent_b', 'stoch_extreme', 'donchian_break', 'keltner_break', 'obv_trend', 'volume_surge']) {
      expect(out).toContain(rule);
    }
    expect(out).toContain('RSI(14) < 30 oversold (+1) / > 70 overbought (−1)');
  });

  it('a strategy from config can be used by name and becomes the default', async () => {
    const d = await replayDesk(
      {},
      { defaultStrategy: 'dips', strategies: { dips: { description: 'buy deep dips', threshold: 0.1, rules: [{ rule: 'rsi_extreme', params: { oversold: 35 } }, { rule: 'bb_percent_b', weight: 2 }] } } },
    );
    expect(await d.say('vic', '/strategies')).toContain('dips (default): buy deep dips');
    expect(await d.say('vic', '/signal btc')).toContain('BTC/USDT 1h · dips:');
  });

  it('a bad strategy config stops start-up with the path', async () => {
    const err = await replayDesk({}, { strategies: { x: { rules: [{ rule: 'rsi_extreme', params: { oversold: 300 } }] } } }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain('plugin signals: config plugins.settings.signals.strategies.x.rules.0.params.oversold');
    const err2 = await replayDesk({}, { defaultStrategy: 'nope' }).catch((e: unknown) => e as Error);
    expect((err2 as Error).message).toContain('no strategy "nope"');
  });

  it('needs market:read', async () => {
    const d = await replayDesk();
    expect(await d.say('x', '/signal btc', { platform: 'telegram', userId: '777' })).toContain("I don't know you yet");
  });
});
