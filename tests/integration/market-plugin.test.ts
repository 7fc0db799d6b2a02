import { afterEach, describe, expect, it } from 'vitest';
import marketPlugin from '../../plugins/market/index.js';
import { DataGapError } from '../../src/market/errors.js';
import { describeGap } from '../../src/market/integrity.js';
import { recordedCandles, sharedDataDir } from '../helpers/recorded.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';

let desk: TestDesk;
afterEach(async () => desk.kernel.stop());

function replayDesk(market: Record<string, unknown> = {}): Promise<TestDesk> {
  return startDesk({ plugins: [marketPlugin], config: testConfig({ market: { dir: sharedDataDir(), ...market } }) });
}

const btc = recordedCandles('binance', 'BTC/USDT', '1h');
const lastClose = btc.close[btc.length - 1] as number;
const lastOpen = btc.time[btc.length - 1] as number;

describe('/price on recorded data', () => {
  it('prints the last recorded close of the BTC/USDT file and its time', async () => {
    desk = await replayDesk();
    expect(desk.kernel.market.mode).toBe('replay');
    const out = await desk.say('vic', '/price BTC/USDT');
    const closeText = lastClose.toLocaleString('en-US', { maximumFractionDigits: 2 });
    // the candle closes one hour after it opens: that is when its close was the price
    const asOf = new Date(lastOpen + 3_600_000).toISOString().slice(0, 16).replace('T', ' ');
    expect(out).toMatch(new RegExp(`BTC/USDT \\(binance\\)\\s+${closeText.replace('.', '\\.')}\\s`));
    expect(out).toContain(asOf);
    expect(out).toContain('recorded');
  });

  it('answers a typo with close matches and still prices the rest', async () => {
    desk = await replayDesk();
    const out = await desk.say('vic', '/price btc btx');
    expect(out).toContain('BTC/USDT (binance)');
    expect(out).toContain('binance has no market "btx". Did you mean BTC/USDT');
  });

  it('a replay time in the past shows the desk as it was then', async () => {
    desk = await replayDesk({ replayTime: '2021-05-19T14:00:00Z' });
    const t = await desk.kernel.market.ticker({ symbol: 'btc' });
    const i = btc.time.indexOf(Date.parse('2021-05-19T13:00:00Z'));
    expect(t.last).toBe(btc.close[i]);
    expect(t.time).toBe(Date.parse('2021-05-19T14:00:00Z'));
  });
});

describe('/chart', () => {
  it('replies with a PNG and says when the range has missing candles', async () => {
    // "now" 100 hours after the record's last real gap, so the chart's range crosses it
    const times = Array.from(btc.time);
    const after = times.findLast((t, i) => i > 0 && t - (times[i - 1] as number) > 3_600_000) as number;
    desk = await replayDesk({ replayTime: new Date(after + 100 * 3_600_000).toISOString() });
    const r = await desk.raw('vic', '/chart btc 1h 1000');
    const image = r?.blocks.find((b) => b.type === 'image');
    expect(image?.type === 'image' && Buffer.from(image.png.subarray(0, 8)).toString('hex')).toBe('89504e470d0a1a0a');
    const text = r?.blocks.find((b) => b.type === 'text');
    expect(text?.type === 'text' && text.text).toMatch(/1000 candles, last close .* — \d+ candles missing in this range \(shown as gaps, not filled\)/);
  });

  it('says which timeframes are recorded, and refuses one that is not a timeframe', async () => {
    desk = await replayDesk();
    expect(await desk.say('vic', '/chart btc 2h')).toBe('✗ binance BTC/USDT has no 2h record (recorded: 5m, 1h)');
    expect(await desk.say('vic', '/chart btc 7x')).toContain('/chart: timeframe: expected one of 1m, 3m, 5m');
  });
});

describe('/markets', () => {
  it('lists the recorded markets with a filter', async () => {
    desk = await replayDesk();
    const out = await desk.say('vic', '/markets sol');
    expect(out).toContain('SOL/USDT');
    expect(out).not.toContain('BTC/USDT');
  });
});

describe('series for computations', () => {
  it('refuses a window across a real maintenance gap, naming the range', async () => {
    desk = await replayDesk();
    const all = await desk.kernel.market.candles({ symbol: 'BTC/USDT', timeframe: '1h', limit: 6000 });
    const gap = all.gaps[all.gaps.length - 1];
    if (!gap) throw new Error('the record should have gaps');
    const tail = all.length - all.time.indexOf(gap.before);
    const ok = await desk.kernel.market.series({ symbol: 'btc', timeframe: '1h', need: tail });
    expect(ok.length).toBe(tail);
    const err = await desk.kernel.market.series({ symbol: 'btc', timeframe: '1h', need: tail + 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataGapError);
    expect((err as Error).message).toContain(describeGap(gap));
  });
});
