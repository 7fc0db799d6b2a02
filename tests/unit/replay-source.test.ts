import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/kernel/clock.js';
import { BadDataError, MarketError, NotEnoughDataError, UnknownExchangeError, UnknownSymbolError } from '../../src/market/errors.js';
import { checkCandles } from '../../src/market/integrity.js';
import { createReplaySource } from '../../src/market/replay/replay-source.js';
import type { MarketSource } from '../../src/market/types.js';
import { sharedDataDir } from '../helpers/recorded.js';

/**
 * The replay source over the real recorded data in ../shared/data (DESKBOT_MARKET_DIR overrides).
 * The data is required: when it is missing these tests fail naming the path — they never skip.
 */

const DATA = sharedDataDir();
const BTC_1H = path.join(DATA, 'binance_BTC-USDT_1h.csv');

const H = 3_600_000;
const clock = new ManualClock(Date.UTC(2026, 0, 1));

/** The file as text rows, read independently of the parser under test. */
function textRows(file: string): string[][] {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  expect(lines[0]).toBe('timestamp,open,high,low,close,volume');
  return lines.slice(1).map((l) => l.split(','));
}

/** The newest open time of a file: its last row. */
function lastOpen(file: string): number {
  const rows = textRows(file);
  return Number((rows[rows.length - 1] as string[])[0]);
}

let src: MarketSource;
beforeAll(async () => {
  src = await createReplaySource({ dir: DATA, replayTime: null, clock });
});
afterAll(async () => {
  await src.close();
});

describe('replay source over ../shared/data', () => {
  it('indexes exchanges and markets from the file names', async () => {
    expect(src.kind).toBe('replay');
    expect(src.exchanges()).toEqual(['binance', 'kraken']);
    const markets = await src.loadMarkets('binance');
    // 126 USDT pairs with candles, plus XRP/ETH which is recorded as trades only
    expect(markets.filter((m) => m.quote === 'USDT')).toHaveLength(126);
    const btc = markets.find((m) => m.symbol === 'BTC/USDT');
    expect(btc).toEqual({ symbol: 'BTC/USDT', base: 'BTC', quote: 'USDT', active: true, taker: null, maker: null, pricePrecision: null, amountPrecision: null, minAmount: null, minCost: null });
    expect(markets.map((m) => m.symbol)).toContain('XRP/ETH');
    expect((await src.loadMarkets('kraken')).map((m) => m.symbol)).toEqual(['BCH/EUR']);
  });

  it('now is the close time of the newest recorded candle across all files', () => {
    // XRP/USDT 5m has the newest candle (SOURCES.md: → 2021-07-17T21:25); its close is 21:30
    const newest = Math.max(lastOpen(path.join(DATA, 'binance_XRP-USDT_5m.csv')) + 300_000, lastOpen(BTC_1H) + H);
    expect(newest).toBe(Date.parse('2021-07-17T21:30:00Z'));
    expect(src.now()).toBe(newest);
  });

  it('BTC/USDT 1h loads all 5,482 candles, equal to the CSV', async () => {
    const rows = textRows(BTC_1H);
    expect(rows).toHaveLength(5482);
    const c = await src.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', limit: 100_000 });
    expect(c.length).toBe(5482);
    expect([c.exchange, c.symbol, c.timeframe, c.timeframeMs, c.source]).toEqual(['binance', 'BTC/USDT', '1h', H, 'replay']);
    // spot checks against the text of the first and last rows
    expect(readFileSync(BTC_1H, 'utf8').split('\n')[1]).toBe('1606780800000,19695.87,19720,19479.8,19565.47,4570.361518');
    expect([c.time[0], c.open[0], c.high[0], c.low[0], c.close[0], c.volume[0]]).toEqual([1606780800000, 19695.87, 19720, 19479.8, 19565.47, 4570.361518]);
    const last = rows[rows.length - 1] as string[];
    const n = c.length - 1;
    expect([c.time[n], c.open[n], c.high[n], c.low[n], c.close[n], c.volume[n]]).toEqual(last.map(Number));
    expect(new Date(c.time[n] as number).toISOString()).toBe('2021-07-17T20:00:00.000Z');
    // and every value of every row
    const cols = [c.time, c.open, c.high, c.low, c.close, c.volume];
    let diff = 0;
    rows.forEach((r, i) => r.forEach((v, k) => (Number(v) === cols[k]?.[i] ? 0 : diff++)));
    expect(diff).toBe(0);
  });

  it('the 6 real gaps of binance_BTC-USDT_1h.csv are found by the gate with their exact times and counts', async () => {
    // expectations computed from the file's text
    const times = textRows(BTC_1H).map((r) => Number(r[0]));
    const expected: Array<{ after: number; before: number; missing: number }> = [];
    for (let i = 1; i < times.length; i++) {
      const step = (times[i] as number) - (times[i - 1] as number);
      if (step !== H) expected.push({ after: times[i - 1] as number, before: times[i] as number, missing: step / H - 1 });
    }
    const c = await src.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', limit: 100_000 });
    const checked = checkCandles(c, { live: false, now: src.now() });
    expect(checked.gaps).toEqual(expected);

    // and the totals match SOURCES.md's table row for the file
    const table = readFileSync(path.join(DATA, 'SOURCES.md'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('| binance_BTC-USDT_1h.csv |'));
    const m = /\|\s*(\d+)\s*\|[^|]*\|[^|]*\|[^|]*\|\s*(\d+) \((\d+) candles\)\s*\|/.exec(table ?? '');
    expect(m, `SOURCES.md row for binance_BTC-USDT_1h.csv: ${table}`).not.toBeNull();
    const [, count, gaps, missing] = m as RegExpExecArray;
    expect(Number(count)).toBe(c.length);
    expect(Number(gaps)).toBe(6);
    expect(Number(missing)).toBe(11);
    expect(checked.gaps).toHaveLength(Number(gaps));
    expect(checked.gaps.reduce((s, g) => s + g.missing, 0)).toBe(Number(missing));
  });

  it('fetchCandles: the newest `limit` by default, or `limit` from `since`', async () => {
    const all = await src.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', limit: 100_000 });
    const dflt = await src.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h' });
    expect(dflt.length).toBe(500);
    expect(dflt.time[499]).toBe(all.time[all.length - 1]);
    const since = Date.parse('2021-01-01T00:00:00Z');
    const page = await src.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', since, limit: 10 });
    expect(page.length).toBe(10);
    expect(page.time[0]).toBe(since);
    expect(page.time[9]).toBe(since + 9 * H);
    // since before the record: from its first candle; after now: nothing
    const early = await src.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', since: 0, limit: 3 });
    expect(early.time[0]).toBe(1606780800000);
    expect((await src.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', since: src.now(), limit: 3 })).length).toBe(0);
    await expect(src.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', limit: 0 })).rejects.toThrow(/limit must be a positive whole number/);
  });

  it('a replay time in the past serves only candles closed by then', async () => {
    const t = Date.parse('2021-03-01T10:30:00Z');
    const past = await createReplaySource({ dir: DATA, replayTime: t, clock });
    expect(past.now()).toBe(t);
    const c = await past.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', limit: 100_000 });
    // the 10:00 candle closes at 11:00, after the replay time: the last served one is 09:00
    expect(c.time[c.length - 1]).toBe(Date.parse('2021-03-01T09:00:00Z'));
    for (let i = 0; i < c.length; i++) expect((c.time[i] as number) + H).toBeLessThanOrEqual(t);
    const rows = textRows(BTC_1H).filter((r) => Number(r[0]) + H <= t);
    expect(c.length).toBe(rows.length);
    const m5 = await past.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '5m', limit: 3 });
    expect(m5.time[2]).toBe(Date.parse('2021-03-01T10:25:00Z'));
    const tk = await past.fetchTicker('binance', 'BTC/USDT');
    expect(tk.time).toBe(Date.parse('2021-03-01T10:00:00Z'));
    expect(tk.last).toBe(Number((rows[rows.length - 1] as string[])[4]));
    // since past the replay time: nothing, even though the file has more
    expect((await past.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', since: t, limit: 5 })).length).toBe(0);
    // a replay time exactly on a close serves that candle
    const onClose = await createReplaySource({ dir: DATA, replayTime: Date.parse('2021-03-01T11:00:00Z'), clock });
    const c2 = await onClose.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', limit: 1 });
    expect(c2.time[0]).toBe(Date.parse('2021-03-01T10:00:00Z'));
  });

  it('a replay time before the record, or in the future, is refused clearly', async () => {
    const before = await createReplaySource({ dir: DATA, replayTime: Date.parse('2020-06-01T00:00:00Z'), clock });
    await expect(before.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h' })).rejects.toThrow(
      'binance BTC/USDT 1h: the record starts 2020-12-01 00:00 UTC, after the desk\'s now (2020-06-01 00:00 UTC) — no candle had closed by then',
    );
    await expect(createReplaySource({ dir: DATA, replayTime: Date.UTC(2030, 0, 1), clock })).rejects.toThrow(/replay time 2030-01-01 00:00 UTC is in the future/);
  });

  it('ticker at now matches the last row of the 1h file', async () => {
    const rows = textRows(BTC_1H);
    const last = rows[rows.length - 1] as string[];
    const lastT = Number(last[0]);
    const tk = await src.fetchTicker('binance', 'BTC/USDT');
    expect(tk.last).toBe(Number(last[4]));
    expect(tk.time).toBe(lastT + H);
    expect(tk.source).toBe('replay');
    expect([tk.bid, tk.ask, tk.quoteVolume24h]).toEqual([null, null, null]);
    // 24 h: the candle exactly 24 h earlier, and the 24 candles of the last day (no gap there)
    const byT = new Map(rows.map((r) => [Number(r[0]), r.map(Number)]));
    const ref = byT.get(lastT - 24 * H) as number[];
    expect(tk.change24hPct).toBeCloseTo(((Number(last[4]) / (ref[4] as number)) - 1) * 100, 10);
    const day = rows.slice(-24).map((r) => r.map(Number));
    expect(day[0]?.[0]).toBe(lastT - 23 * H);
    expect(tk.high24h).toBe(Math.max(...day.map((r) => r[2] as number)));
    expect(tk.low24h).toBe(Math.min(...day.map((r) => r[3] as number)));
    expect(tk.baseVolume24h).toBeCloseTo(day.reduce((s, r) => s + (r[5] as number), 0), 6);
  });

  it('a ticker whose last 24 h cross a real gap gives null for what the gap would falsify', async () => {
    // first BTC 1h gap, from the file: put the desk just after it
    const times = textRows(BTC_1H).map((r) => Number(r[0]));
    const i = times.findIndex((t, k) => k > 0 && t - (times[k - 1] as number) > H);
    const afterGap = times[i] as number;
    const at = await createReplaySource({ dir: DATA, replayTime: afterGap + H, clock });
    const tk = await at.fetchTicker('binance', 'BTC/USDT');
    expect(tk.time).toBe(afterGap + H);
    // the 24 h window holds fewer than 24 candles: no high/low/volume computed across the hole
    expect([tk.high24h, tk.low24h, tk.baseVolume24h]).toEqual([null, null, null]);
    // the change is between two real closes exactly 24 h apart, if that candle exists
    const hasRef = times.includes(afterGap - 24 * H);
    expect(tk.change24hPct === null).toBe(!hasRef);
  });

  it('recorded trades load: binance XRP/ETH (12,477) and kraken BCH/EUR (486)', async () => {
    const xrp = await src.fetchTrades('binance', 'XRP/ETH', { limit: 100_000 });
    expect(xrp).toHaveLength(12_477);
    expect(xrp[0]).toEqual({ id: '13519807', time: 1570752011620, side: 'sell', price: 0.00141342, amount: 23, cost: 0.03250866 });
    // kraken's trades are from 2023: past the candles' now, so they replay with a later replay time
    await expect(src.fetchTrades('kraken', 'BCH/EUR', {})).rejects.toThrow(/kraken BCH\/EUR: recorded trades start 2023-01-02 .* after the desk's now \(2021-07-17 21:30 UTC\)/);
    const later = await createReplaySource({ dir: DATA, replayTime: Date.parse('2023-06-01T00:00:00Z'), clock });
    const bch = await later.fetchTrades('kraken', 'BCH/EUR', { limit: 100_000 });
    expect(bch).toHaveLength(486);
    expect(bch[0]).toEqual({ id: '1', time: 1672620536000, side: null, price: 90.07, amount: 1.1, cost: 90.07 * 1.1 });
    const eth = await later.fetchTrades('binance', 'ETH/USDT', {});
    expect(eth).toHaveLength(1000);
    // since + limit: the first `limit` from since; default: the newest
    const some = await src.fetchTrades('binance', 'XRP/ETH', { since: xrp[100]?.time as number, limit: 5 });
    expect(some[0]?.time).toBe(xrp[100]?.time);
    expect(some).toHaveLength(5);
    const newest = await src.fetchTrades('binance', 'XRP/ETH', { limit: 3 });
    expect(newest.map((t) => t.id)).toEqual(xrp.slice(-3).map((t) => t.id));
  });

  it('trades after a replay time are not served', async () => {
    const xrp = await src.fetchTrades('binance', 'XRP/ETH', { limit: 100_000 });
    const cut = xrp[5000]?.time as number;
    const at = await createReplaySource({ dir: DATA, replayTime: cut, clock });
    const got = await at.fetchTrades('binance', 'XRP/ETH', { limit: 100_000 });
    expect(got.length).toBe(xrp.filter((t) => t.time <= cut).length);
    expect(got.every((t) => t.time <= cut)).toBe(true);
  });

  it('no order books are recorded: refused, never synthesised', async () => {
    const e = await src.fetchOrderBook('binance', 'BTC/USDT', 10).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NotEnoughDataError);
    expect((e as Error).message).toMatch(/^no recorded order book for binance BTC\/USDT/);
  });

  it('an unknown timeframe lists what is recorded for the symbol', async () => {
    const e = await src.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '4h' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MarketError);
    expect((e as Error).message).toBe('binance BTC/USDT has no 4h record (recorded: 5m, 1h)');
    await expect(src.fetchCandles({ exchange: 'binance', symbol: 'ETH/USDT', timeframe: '15m' })).rejects.toThrow('binance ETH/USDT has no 15m record (recorded: 5m, 1h)');
    await expect(src.fetchCandles({ exchange: 'binance', symbol: 'AAVE/USDT', timeframe: '5m' })).rejects.toThrow('binance AAVE/USDT has no 5m record (recorded: 1h)');
    await expect(src.fetchCandles({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: 'hourly' })).rejects.toThrow(/"hourly" is not a timeframe .*binance BTC\/USDT is recorded at 5m, 1h/);
    await expect(src.fetchCandles({ exchange: 'binance', symbol: 'XRP/ETH', timeframe: '1h' })).rejects.toThrow('binance XRP/ETH has no 1h record (recorded: trades only, no candles)');
  });

  it('an unknown symbol or exchange is a clear error with close matches', async () => {
    const e = await src.fetchCandles({ exchange: 'binance', symbol: 'BTC/USD', timeframe: '1h' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnknownSymbolError);
    expect((e as Error).message).toBe('binance has no market "BTC/USD". Did you mean BTC/USDT?');
    await expect(src.fetchTicker('binance', 'ETHH/USDT')).rejects.toThrow(/binance has no market "ETHH\/USDT"\. Did you mean .*ETH\/USDT/);
    await expect(src.fetchTicker('binance', 'ZZZZZZ/QQQ')).rejects.toThrow('binance has no market "ZZZZZZ/QQQ".');
    await expect(src.fetchTrades('binance', 'BTC/USDT', {})).rejects.toThrow('binance BTC/USDT: no recorded trades (recorded for BTC/USDT: candles 5m, 1h)');
    await expect(src.loadMarkets('coinbase')).rejects.toBeInstanceOf(UnknownExchangeError);
  });

  it('a missing directory is a clear error naming the path', async () => {
    const missing = path.join(os.tmpdir(), 'deskbot-no-such-market-dir');
    const e = await createReplaySource({ dir: missing, replayTime: null, clock }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MarketError);
    expect((e as Error).message).toContain(missing);
    expect((e as Error).message).toMatch(/directory not found.*DESKBOT_MARKET_DIR/);
  });

  describe('with files of our own', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'deskbot-replay-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('a directory with no candle files is refused', async () => {
      await expect(createReplaySource({ dir, replayTime: null, clock })).rejects.toThrow(`recorded market data: ${dir} holds no`);
    });

    it('a malformed row is a BadDataError naming the file and line, on first use', async () => {
      const file = path.join(dir, 'binance_FOO-USDT_1h.csv');
      writeFileSync(file, 'timestamp,open,high,low,close,volume\n0,1,2,1,1,5\n3600000,1,2,oops,1,5\n7200000,1,2,1,1,5\n');
      const s = await createReplaySource({ dir, replayTime: null, clock });
      expect(s.now()).toBe(7200000 + H);
      const e = await s.fetchCandles({ exchange: 'binance', symbol: 'FOO/USDT', timeframe: '1h' }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(BadDataError);
      expect((e as Error).message).toBe(`${file}: line 3: low is not a number: "3600000,1,2,oops,1,5"`);
    });

    it('unsorted or duplicate rows are refused at load (binary search needs order)', async () => {
      const file = path.join(dir, 'binance_FOO-USDT_1h.csv');
      writeFileSync(file, 'timestamp,open,high,low,close,volume\n0,1,2,1,1,5\n3600000,1,2,1,1,5\n3600000,1,2,1,1,5\n');
      const s = await createReplaySource({ dir, replayTime: null, clock });
      await expect(s.fetchCandles({ exchange: 'binance', symbol: 'FOO/USDT', timeframe: '1h' })).rejects.toThrow(`${file}: line 4: candle time 3600000 appears twice`);
    });
  });
});
