import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import regimesPlugin, { DEFAULT_SETTINGS, evaluateRegime, type RegimeChange } from '../../plugins/regimes/index.js';
import { describeGap } from '../../src/market/integrity.js';
import { sliceCandles } from '../../src/market/types.js';
import { recordedCandles, sharedDataDir } from '../helpers/recorded.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';

const desks: TestDesk[] = [];
afterEach(async () => {
  for (const d of desks.splice(0)) await d.kernel.stop();
});

async function replayDesk(opts: { replayTime?: string; settings?: Record<string, unknown>; dataDir?: string } = {}): Promise<TestDesk> {
  const config = testConfig({
    market: { dir: sharedDataDir(), ...(opts.replayTime ? { replayTime: opts.replayTime } : {}) },
    plugins: { settings: { regimes: opts.settings ?? {} } },
    ...(opts.dataDir ? { dataDir: opts.dataDir, store: { kind: 'sqlite' } } : {}),
  });
  const desk = await startDesk({ plugins: [regimesPlugin], config });
  desks.push(desk);
  return desk;
}

const btc = recordedCandles('binance', 'BTC/USDT', '1h');
const H = 3_600_000;

describe('/regime on the recorded data', () => {
  it('shows the label with its probabilities, the three components and since when it holds', async () => {
    const desk = await replayDesk();
    const out = await desk.say('vic', '/regime BTC/USDT 1h');
    // the same reading computed directly from the record's newest 1000 candles
    const r = evaluateRegime(sliceCandles(btc, btc.length - 1000), DEFAULT_SETTINGS);
    const [trend, vol] = r.label.split('/') as [string, string];
    expect(out).toContain(`BTC/USDT 1h (binance): ${trend.toUpperCase()} · ${vol.toUpperCase()} — confidence ${r.confidence.toFixed(2)}`);
    expect(out).toContain(`as of the candle closed ${new Date((btc.time[btc.length - 1] as number) + H).toISOString().slice(0, 16).replace('T', ' ')} UTC`);
    expect(out).toMatch(/holds since \d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d+h\)/);
    const p = r.trend.probabilities;
    expect(out).toContain(`bull ${p.bull.toFixed(2)} · bear ${p.bear.toFixed(2)} · sideways ${p.sideways.toFixed(2)}`);
    expect(out).toContain(`calm ${r.volProbabilities.calm.toFixed(2)} · volatile ${r.volProbabilities.volatile.toFixed(2)}`);
    expect(out).toContain(`ADX(14) ${r.trend.adx.toFixed(1)} (threshold 25)`);
    expect(out).toMatch(new RegExp(`realised vol\\(30\\) ${(r.vol.realizedVol * 100).toFixed(1)}% annualised, ${Math.round(r.vol.percentile * 100)}(st|nd|rd|th) percentile of 970 readings \\(volatile from the 80th\\)`));
    expect(out).toMatch(/HMM\s+(calm|volatile) \(p \d\.\d\d\)\s+calm: μ [+−]\d\.\d{3}% σ \d\.\d{3}% stay \d\.\d\d p \d\.\d\d; volatile: μ/);
    expect(out).toContain('window: 1000 contiguous candles');
  });

  it('reads "btc" with the default timeframe, and says what is wrong with a bad symbol', async () => {
    const desk = await replayDesk();
    expect(await desk.say('vic', '/regime btc')).toContain('BTC/USDT 1h (binance):');
    expect(await desk.say('vic', '/regime btx')).toContain('binance has no market "BTX". Did you mean BTC/USDT');
  });

  it('refuses a window that would cross a gap, naming the gap’s range', async () => {
    // 100 hours after the record's last maintenance gap: a 1000-candle window would cross it
    const gap = { after: Date.parse('2021-04-25T04:00:00Z'), before: Date.parse('2021-04-25T08:00:00Z'), missing: 3 };
    expect(btc.time.indexOf(gap.after) + 1).toBe(btc.time.indexOf(gap.before));
    const desk = await replayDesk({ replayTime: new Date(gap.before + 100 * H).toISOString() });
    const out = await desk.say('vic', '/regime BTC/USDT 1h');
    expect(out).toBe(`✗ binance BTC/USDT 1h: ${describeGap(gap)}; only 100 contiguous candles after it, 1000 needed — not computing`);
  });
});

describe('regime changes', () => {
  it('a scheduled check of a watchlist entry emits regime.changed when the label changes, and audits it', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'deskbot-regimes-'));
    const settings = { window: 500, watchlist: ['BTC/USDT 1h'] };

    // the desk during the 19 May 2021 crash (the 13:00 candle has closed)
    const crash = await replayDesk({ replayTime: '2021-05-19T14:00:00Z', settings, dataDir });
    const crashEvents: RegimeChange[] = [];
    crash.kernel.events.on('regime.changed', (e) => void crashEvents.push(e));
    expect(await crash.kernel.scheduler.runNow('regimes.check-btc-usdt-1h')).toBe(true);
    expect(crashEvents).toEqual([]); // a first reading sets the label; nothing changed
    expect(await crash.say('vic', '/regime btc')).toContain('BEAR · VOLATILE');
    await crash.kernel.stop();
    desks.splice(desks.indexOf(crash), 1);

    // the same desk (same store) six weeks later, in the quiet early-July range
    const july = await replayDesk({ replayTime: '2021-07-01T01:00:00Z', settings, dataDir });
    const events: RegimeChange[] = [];
    july.kernel.events.on('regime.changed', (e) => void events.push(e));
    await july.kernel.scheduler.runNow('regimes.check-btc-usdt-1h');
    expect(events).toHaveLength(1);
    const e = events[0] as RegimeChange;
    expect(e).toMatchObject({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', from: 'bear/volatile', to: 'sideways/calm', at: Date.parse('2021-07-01T01:00:00Z') });
    expect(e.confidence).toBeGreaterThan(0.5);
    // checking the same candle again is no new evidence: no second event
    await july.kernel.scheduler.runNow('regimes.check-btc-usdt-1h');
    expect(await july.say('vic', '/regime BTC/USDT 1h')).toContain('SIDEWAYS · CALM');
    expect(events).toHaveLength(1);
    const audit = readFileSync(path.join(dataDir, 'audit.jsonl'), 'utf8');
    expect(audit).toMatch(/"kind":"regime.changed".*"from":"bear\/volatile","to":"sideways\/calm"/);
  });

  it('a scheduled check that meets a gap logs it and emits nothing', async () => {
    const desk = await replayDesk({ replayTime: '2021-04-29T12:00:00Z', settings: { watchlist: ['BTC/USDT'] } });
    const events: RegimeChange[] = [];
    desk.kernel.events.on('regime.changed', (e) => void events.push(e));
    expect(await desk.kernel.scheduler.runNow('regimes.check-btc-usdt-1h')).toBe(true);
    expect(events).toEqual([]);
  });

  it('registers one schedule per watchlist entry on the configured cron', async () => {
    const desk = await replayDesk({ settings: { watchlist: ['BTC/USDT', 'ETH/USDT 5m', { symbol: 'SOL/USDT', cron: '*/15 * * * *' }] } });
    const mine = desk.kernel.scheduler.list().filter((s) => s.owner === 'regimes');
    expect(mine.map((s) => [s.name, s.cron])).toEqual([
      ['regimes.check-btc-usdt-1h', '1 * * * *'],
      ['regimes.check-eth-usdt-5m', '1 * * * *'],
      ['regimes.check-sol-usdt-1h', '*/15 * * * *'],
    ]);
  });
});
