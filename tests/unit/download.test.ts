import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDataDownload } from '../../src/cli/data-download.js';
import { ManualClock } from '../../src/kernel/clock.js';
import { BadDataError } from '../../src/market/errors.js';
import { downloadCandles } from '../../src/market/download.js';
import { createReplaySource } from '../../src/market/replay/replay-source.js';
import type { Candles, MarketSource } from '../../src/market/types.js';
import { sharedDataDir } from '../helpers/recorded.js';

/**
 * The downloader, fed by a replay source over the real recorded data (no network): what it
 * writes must be the source's rows exactly — gaps stay holes and are reported.
 * The data is required: when ../shared/data is missing this file fails naming the path.
 */

const DATA = sharedDataDir();
const BTC_1H = path.join(DATA, 'binance_BTC-USDT_1h.csv');

const H = 3_600_000;
const HEADER = 'timestamp,open,high,low,close,volume';
const clock = new ManualClock(Date.UTC(2026, 0, 1));
const srcLines = readFileSync(BTC_1H, 'utf8').split('\n').slice(1).filter((l) => l !== '');
const srcTimes = srcLines.map((l) => Number(l.split(',')[0]));
/** a real gap of the BTC/USDT 1h record with more than a page (1000 candles) of contiguous record before it */
const gapIdx = srcTimes.findIndex((t, i) => i > 1100 && t - (srcTimes[i - 1] as number) > H && srcTimes[i - 1] === srcTimes[i - 1101]! + 1100 * H);
const GAP = { after: srcTimes[gapIdx - 1] as number, before: srcTimes[gapIdx] as number, missing: ((srcTimes[gapIdx] as number) - (srcTimes[gapIdx - 1] as number)) / H - 1 };

const made: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'deskbot-download-'));
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

let source: MarketSource;
beforeAll(async () => {
  source = await createReplaySource({ dir: DATA, replayTime: null, clock });
});

/** source lines with open time in [since, until) */
const expectedLines = (since: number, until = Number.POSITIVE_INFINITY): string[] => srcLines.filter((_, i) => (srcTimes[i] as number) >= since && (srcTimes[i] as number) < until);
const fileLines = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');

describe('downloadCandles from a replay source', () => {
  it('writes exactly the source rows over a range with a real gap, and reports the gap (no fill)', async () => {
    expect(gapIdx).toBeGreaterThan(0);
    const dir = tmp();
    const since = GAP.after - 1100 * H; // more than one page of 1000 before the gap, no other gap in range
    const until = GAP.before + 200 * H;
    const progress: Array<{ done: number; total: number }> = [];
    const [r] = await downloadCandles({ source, dir, exchange: 'binance', symbols: ['BTC/USDT'], timeframe: '1h', since, until, onProgress: (p) => progress.push(p) });
    const file = path.join(dir, 'binance_BTC-USDT_1h.csv');
    expect(r?.file).toBe(file);
    const want = expectedLines(since, until);
    const got = fileLines(file);
    expect(got[0]).toBe(HEADER);
    expect(got.slice(1)).toEqual(want); // byte for byte: the recorded rows, none added
    expect(r?.candles).toBe(want.length);
    expect(r?.appended).toBe(want.length);
    expect(r?.resumedAfter).toBeNull();
    expect(r?.gaps).toEqual([GAP]);
    // the gap's hours are not in the file
    for (let t = GAP.after + H; t < GAP.before; t += H) expect(got.some((l) => l.startsWith(`${t},`))).toBe(false);
    expect(progress[progress.length - 1]).toEqual({ symbol: 'BTC/USDT', done: progress[progress.length - 1]?.total, total: (until - since) / H });
  });

  it('resumes: first half then the rest gives the same file as one run, with no duplicate rows', async () => {
    const since = Date.parse('2021-01-01T00:00:00Z');
    const mid = Date.parse('2021-04-01T00:00:00Z'); // real gaps on both sides of it

    const one = tmp();
    const [single] = await downloadCandles({ source, dir: one, exchange: 'binance', symbols: ['BTC/USDT'], timeframe: '1h', since });

    const two = tmp();
    const [first] = await downloadCandles({ source, dir: two, exchange: 'binance', symbols: ['BTC/USDT'], timeframe: '1h', since, until: mid });
    expect(first?.candles).toBe(expectedLines(since, mid).length);
    const [second] = await downloadCandles({ source, dir: two, exchange: 'binance', symbols: ['BTC/USDT'], timeframe: '1h', since });
    expect(second?.resumedAfter).toBe(mid - H);
    expect(second?.appended).toBe(expectedLines(mid).length);

    const a = readFileSync(path.join(one, 'binance_BTC-USDT_1h.csv'), 'utf8');
    const b = readFileSync(path.join(two, 'binance_BTC-USDT_1h.csv'), 'utf8');
    expect(b).toBe(a);
    const rows = fileLines(path.join(two, 'binance_BTC-USDT_1h.csv')).slice(1);
    expect(new Set(rows.map((l) => l.split(',')[0])).size).toBe(rows.length);
    expect(rows).toEqual(expectedLines(since));
    expect(second?.candles).toBe(single?.candles);
    expect(second?.gaps).toEqual(single?.gaps);
    // the gaps are the record's real ones in the range, found across the resume boundary too
    const real = srcTimes.flatMap((t, i) => (i > 0 && t >= since && t - (srcTimes[i - 1] as number) > H ? [{ after: srcTimes[i - 1] as number, before: t, missing: (t - (srcTimes[i - 1] as number)) / H - 1 }] : []));
    expect(real.filter((g) => g.before < mid).length).toBeGreaterThan(0);
    expect(real.filter((g) => g.after > mid).length).toBeGreaterThan(0);
    expect(single?.gaps).toEqual(real);

    // a third run finds nothing new and changes nothing
    const [third] = await downloadCandles({ source, dir: two, exchange: 'binance', symbols: ['BTC/USDT'], timeframe: '1h', since });
    expect(third?.appended).toBe(0);
    expect(readFileSync(path.join(two, 'binance_BTC-USDT_1h.csv'), 'utf8')).toBe(a);
  });

  it('an existing corrupt file is refused with a clear message and left untouched', async () => {
    const dir = tmp();
    const file = path.join(dir, 'binance_BTC-USDT_1h.csv');
    const corrupt = `${HEADER}\n${srcLines[0]}\n${srcLines[1]}\n1606788000000,19605.75,abc,19550,19600,10\n`;
    writeFileSync(file, corrupt);
    const e = await downloadCandles({ source, dir, exchange: 'binance', symbols: ['BTC/USDT'], timeframe: '1h', since: 0 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BadDataError);
    expect((e as Error).message).toMatch(new RegExp(`^refusing to extend ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the existing file is not a valid candle record — .*line 4: high is not a number`));
    expect(readFileSync(file, 'utf8')).toBe(corrupt);

    // rows that parse but break the gate (out of order) are refused too
    const unsorted = `${HEADER}\n${srcLines[1]}\n${srcLines[0]}\n`;
    writeFileSync(file, unsorted);
    await expect(downloadCandles({ source, dir, exchange: 'binance', symbols: ['BTC/USDT'], timeframe: '1h', since: 0 })).rejects.toThrow(/refusing to extend .*out of order/);
    expect(readFileSync(file, 'utf8')).toBe(unsorted);

    // a torn last line (an interrupted write) as well
    const torn = `${HEADER}\n${srcLines[0]}\n1606784400000,19565.4`;
    writeFileSync(file, torn);
    await expect(downloadCandles({ source, dir, exchange: 'binance', symbols: ['BTC/USDT'], timeframe: '1h', since: 0 })).rejects.toThrow(/refusing to extend .*line 3: 2 fields, expected 6/);
  });

  it('writes only closed candles: a candle still open at the source\'s now is left for later', async () => {
    // a source whose now is mid-candle but which returns the open candle (as a live exchange does)
    const now = Date.parse('2021-02-01T10:30:00Z');
    const live: MarketSource = { ...source, now: () => now, fetchCandles: (req) => source.fetchCandles(req) };
    const dir = tmp();
    const since = Date.parse('2021-02-01T00:00:00Z');
    const [r] = await downloadCandles({ source: live, dir, exchange: 'binance', symbols: ['BTC/USDT'], timeframe: '1h', since });
    const rows = fileLines(r?.file as string).slice(1);
    expect(rows[rows.length - 1]?.startsWith(`${Date.parse('2021-02-01T09:00:00Z')},`)).toBe(true);
    expect(rows).toEqual(expectedLines(since, Date.parse('2021-02-01T10:00:00Z')));
  });

  it('a page that fails the integrity gate is not written; earlier pages stay', async () => {
    let pages = 0;
    const bad: MarketSource = {
      ...source,
      now: () => source.now(),
      fetchCandles: async (req) => {
        const c = await source.fetchCandles(req);
        if (++pages < 2) return c;
        const high = Float64Array.from(c.high);
        high[5] = (c.low[5] as number) / 2; // high below low: impossible
        return { ...c, high } satisfies Candles;
      },
    };
    const dir = tmp();
    const since = Date.parse('2021-01-01T00:00:00Z');
    const e = await downloadCandles({ source: bad, dir, exchange: 'binance', symbols: ['BTC/USDT'], timeframe: '1h', since }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BadDataError);
    expect((e as Error).message).toMatch(/^binance BTC\/USDT 1h: candle at .* has high\/low outside open\/close/);
    const rows = fileLines(path.join(dir, 'binance_BTC-USDT_1h.csv')).slice(1);
    expect(rows).toEqual(expectedLines(since).slice(0, 1000)); // exactly the first page
  });

  it('several symbols, and a bad symbol refused before anything is fetched', async () => {
    const dir = tmp();
    const since = Date.parse('2021-07-10T00:00:00Z');
    const rs = await downloadCandles({ source, dir, exchange: 'binance', symbols: ['ETH/USDT', 'SOL/USDT'], timeframe: '5m', since });
    expect(rs.map((r) => path.basename(r.file))).toEqual(['binance_ETH-USDT_5m.csv', 'binance_SOL-USDT_5m.csv']);
    const solText = readFileSync(path.join(DATA, 'binance_SOL-USDT_5m.csv'), 'utf8').split('\n').slice(1).filter((l) => l !== '' && Number(l.split(',')[0]) >= since);
    expect(fileLines(rs[1]?.file as string).slice(1)).toEqual(solText);
    await expect(downloadCandles({ source, dir, exchange: 'binance', symbols: ['BTCUSDT'], timeframe: '1h', since })).rejects.toThrow(/symbol like BTC\/USDT/);
    expect(existsSync(path.join(dir, 'binance_BTCUSDT_1h.csv'))).toBe(false);
  });
});

describe('deskbot data download (runDataDownload)', () => {
  const sink = (tty = false) => {
    const s = { text: '', isTTY: tty, write: (c: string) => ((s.text += c), true) };
    return s;
  };
  const env = (dataDir: string): NodeJS.ProcessEnv => ({ DESKBOT_DATA_DIR: dataDir, DESKBOT_LOG_LEVEL: 'warn' });

  it('downloads with an injected source, prints the gaps, plain progress lines when not a TTY', async () => {
    const data = tmp();
    const out = sink();
    const err = sink();
    const code = await runDataDownload(['--exchange', 'binance', '--symbols', 'BTC/USDT', '--timeframe', '1h', '--since', new Date(GAP.after - 100 * H).toISOString(), '--until', new Date(GAP.before + 100 * H).toISOString()], {
      env: env(data),
      cwd: data,
      stdout: out,
      stderr: err,
      sourceFactory: () => source,
    });
    expect(code, err.text).toBe(0);
    const file = path.join(data, 'market', 'binance_BTC-USDT_1h.csv'); // default: <dataDir>/market
    expect(fileLines(file).slice(1)).toEqual(expectedLines(GAP.after - 100 * H, GAP.before + 100 * H));
    expect(out.text).toMatch(new RegExp(`^BTC/USDT: \\d+ candles in ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(\\+\\d+ new\\); 1 gap \\(${GAP.missing} candles? missing at the exchange, left as they are\\)\\n  gap: ${GAP.missing} candles? missing between`));
    expect(err.text).toMatch(/BTC\/USDT \[-{20}\] 0% 0\/\d+\n/);
    expect(err.text).toMatch(/BTC\/USDT \[#{20}\] 100% (\d+)\/\1\n/);
    expect(err.text).not.toContain('\r');
  });

  it('draws a bar in place on a TTY, and --dir wins over the default', async () => {
    const data = tmp();
    const target = path.join(data, 'elsewhere');
    const err = sink(true);
    const code = await runDataDownload(['--symbols', 'eth/usdt', '--since', '2021-07-01', '--dir', target], { env: env(data), cwd: data, stdout: sink(), stderr: err, sourceFactory: () => source });
    expect(code, err.text).toBe(0);
    expect(existsSync(path.join(target, 'binance_ETH-USDT_1h.csv'))).toBe(true);
    expect(err.text).toMatch(/\rETH\/USDT \[#{20}\] 100% \d+\/\d+\x1b\[K\n/);
  });

  it('usage errors are one line and exit 2', async () => {
    const data = tmp();
    const run = async (argv: string[]) => {
      const err = sink();
      const code = await runDataDownload(argv, { env: env(data), cwd: data, stdout: sink(), stderr: err, sourceFactory: () => source });
      return { code, first: err.text.split('\n')[0] };
    };
    expect(await run(['--symbols', 'BTC/USDT'])).toEqual({ code: 2, first: 'deskbot data download: --since is required (a date like 2024-01-01 or an ISO time like 2024-01-01T12:00:00Z)' });
    expect(await run(['--since', '2021-01-01'])).toEqual({ code: 2, first: 'deskbot data download: --symbols is required (e.g. --symbols BTC/USDT,ETH/USDT)' });
    expect(await run(['--symbols', 'BTC/USDT', '--since', 'yesterday'])).toEqual({ code: 2, first: 'deskbot data download: --since: expected a date like 2024-01-01 or an ISO time like 2024-01-01T12:00:00Z, got "yesterday"' });
    expect(await run(['--symbols', 'BTCUSDT', '--since', '2021-01-01'])).toEqual({ code: 2, first: 'deskbot data download: --symbols: each symbol must look like BTC/USDT' });
    expect(await run(['--symbols', 'BTC/USDT', '--since', '2021-01-01', '--timeframe', '1x'])).toEqual({ code: 2, first: 'deskbot data download: --timeframe: expected a timeframe like 5m, 1h or 1d' });
    expect(await run(['--symbols', 'BTC/USDT', '--since', '2021-02-01', '--until', '2021-01-01'])).toEqual({ code: 2, first: 'deskbot data download: --until must be after --since' });
    expect((await run(['--symbols', 'BTC/USDT', '--since', '2021-01-01', '--bogus'])).code).toBe(2);
  });

  it('a market error (unknown symbol) is one line and exit 1', async () => {
    const data = tmp();
    const err = sink();
    const code = await runDataDownload(['--symbols', 'BTC/USD', '--since', '2021-01-01'], { env: env(data), cwd: data, stdout: sink(), stderr: err, sourceFactory: () => source });
    expect(code).toBe(1);
    expect(err.text.trim().split('\n').pop()).toBe('deskbot data download: binance has no market "BTC/USD". Did you mean BTC/USDT?');
  });
});
