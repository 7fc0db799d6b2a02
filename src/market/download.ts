import { mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { BadDataError, MarketError } from './errors.js';
import { checkCandles } from './integrity.js';
import { CANDLE_HEADER, candleRow, parseCandleCsv } from './replay/csv.js';
import { timeframeMs } from './timeframes.js';
import { fromColumns, sliceCandles, type Gap, type MarketSource } from './types.js';
import { lowerBound } from './search.js';

/**
 * `deskbot data download`: candles from a source (ccxt live, or a replay in tests) into
 * `<dir>/<exchange>_<BASE>-<QUOTE>_<tf>.csv`, the format the replay source reads.
 *
 *  - Resumable: an existing file is read and put through the parser and the integrity gate
 *    first; a file that fails is refused (never "repaired"). The download continues from its
 *    last candle. Existing rows are never rewritten: pages are appended. When resuming, `since`
 *    is not used: the file's last candle is where the record continues (so no self-made hole).
 *  - Paged: source.fetchCandles({ since, limit: 1000 }) until `until` or the source's now.
 *  - Only closed candles are written: open + timeframe ≤ source.now() (a live exchange's newest
 *    candle is still moving).
 *  - Every page passes the integrity gate before a byte of it is written; the page goes to disk
 *    in one append. An interrupted run leaves whole pages; a torn last line is caught by the
 *    parser on the next run and reported with its line number.
 *  - Gaps the exchange really has are kept as holes and reported in the result — never filled.
 *
 * `until` is exclusive on candle open time: since 2024-01-01 until 2024-02-01 is January.
 */

export interface DownloadOptions {
  source: MarketSource;
  dir: string;
  exchange: string;
  /** unified symbols, "BTC/USDT" */
  symbols: string[];
  timeframe: string;
  /** first candle open time wanted (ms UTC); ignored when resuming an existing file */
  since: number;
  /** stop before candles opening at or after this (ms UTC); default: up to the source's now */
  until?: number;
  onProgress?: (p: { symbol: string; done: number; total: number }) => void;
}

export interface DownloadResult {
  symbol: string;
  file: string;
  /** candles in the file after the run */
  candles: number;
  /** gaps in the whole file after the run (real exchange holes, not filled) */
  gaps: Gap[];
  /** candles this run appended */
  appended: number;
  /** open time of the file's last candle before this run, when it resumed an existing file */
  resumedAfter: number | null;
}

export const PAGE_LIMIT = 1000;

const SYMBOL = /^([A-Z0-9]+)\/([A-Z0-9]+)$/;

export function candleFileName(exchange: string, symbol: string, timeframe: string): string {
  const m = SYMBOL.exec(symbol);
  if (!m || !/^[a-z][a-z0-9]*$/.test(exchange)) {
    throw new MarketError(`cannot name a candle file for ${exchange} "${symbol}": expected an exchange id like binance and a symbol like BTC/USDT`);
  }
  return `${exchange}_${m[1]}-${m[2]}_${timeframe}.csv`;
}

export async function downloadCandles(opts: DownloadOptions): Promise<DownloadResult[]> {
  const tfMs = timeframeMs(opts.timeframe);
  if (tfMs === undefined) throw new MarketError(`"${opts.timeframe}" is not a timeframe (e.g. 5m, 1h, 1d)`);
  if (!Number.isFinite(opts.since)) throw new MarketError(`since must be a time, got ${opts.since}`);
  if (opts.until !== undefined && !(opts.until > opts.since)) throw new MarketError('until must be after since');
  // file names are checked before anything is fetched, so a bad symbol costs nothing
  const files = opts.symbols.map((s) => path.join(opts.dir, candleFileName(opts.exchange, s, opts.timeframe)));
  await mkdir(opts.dir, { recursive: true });
  const out: DownloadResult[] = [];
  for (const [i, symbol] of opts.symbols.entries()) {
    out.push(await downloadOne(opts, symbol, files[i] as string, tfMs));
  }
  return out;
}

interface Existing {
  rows: number;
  first: number | null;
  last: number | null;
  gaps: Gap[];
  /** the file ends without a line break (a complete last row, but we must add one before appending) */
  needsNewline: boolean;
  empty: boolean;
}

async function readExisting(file: string, exchange: string, symbol: string, timeframe: string, tfMs: number): Promise<Existing | null> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new MarketError(`cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (buf.length === 0) return { rows: 0, first: null, last: null, gaps: [], needsNewline: false, empty: true };
  try {
    const cols = parseCandleCsv(buf, file);
    const c = fromColumns(exchange, symbol, timeframe, tfMs, 'replay', cols.time, cols.open, cols.high, cols.low, cols.close, cols.volume);
    const checked = checkCandles(c, { live: false, now: Date.now() });
    return {
      rows: c.length,
      first: c.length > 0 ? (c.time[0] as number) : null,
      last: c.length > 0 ? (c.time[c.length - 1] as number) : null,
      gaps: checked.gaps,
      needsNewline: buf[buf.length - 1] !== 10,
      empty: false,
    };
  } catch (e) {
    if (e instanceof BadDataError) {
      throw new BadDataError(`refusing to extend ${file}: the existing file is not a valid candle record — ${e.message}. Nothing was written; fix or move the file and run again`);
    }
    throw e;
  }
}

async function downloadOne(opts: DownloadOptions, symbol: string, file: string, tfMs: number): Promise<DownloadResult> {
  const { source, exchange, timeframe } = opts;
  const existing = await readExisting(file, exchange, symbol, timeframe, tfMs);
  const gaps: Gap[] = existing ? [...existing.gaps] : [];
  let rows = existing?.rows ?? 0;
  let prevLast: number | null = existing?.last ?? null;
  const start = prevLast !== null ? prevLast + tfMs : opts.since;

  // written: candles opening before `until` and closed by the source's now (open + tf ≤ now)
  const now = source.now();
  const until = opts.until ?? Number.POSITIVE_INFINITY;
  const lastOpenAllowed = now - tfMs;
  const stop = Math.min(until, lastOpenAllowed + 1); // progress estimate only
  const total = Math.max(0, Math.ceil((stop - start) / tfMs));
  const progress = (cursor: number): void => opts.onProgress?.({ symbol, done: Math.min(total, Math.max(0, Math.ceil((cursor - start) / tfMs))), total });

  let appended = 0;
  let header = existing === null || existing.empty;
  let newline = existing?.needsNewline ?? false;
  // opened on the first write, so a run that fails before any page leaves no file behind
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    progress(start);
    let cursor = start;
    while (cursor < until && cursor <= lastOpenAllowed) {
      const page = await source.fetchCandles({ exchange, symbol, timeframe, since: cursor, limit: PAGE_LIMIT });
      if (page.length === 0) break;
      // the gate first, on the page as the source gave it
      const checked = checkCandles({ ...page, exchange, symbol, timeframe, timeframeMs: tfMs }, { live: false, now });
      const from = lowerBound(checked.time, cursor);
      const to = Math.min(lowerBound(checked.time, until), lowerBound(checked.time, lastOpenAllowed + 1));
      if (from >= to) break; // nothing new and closed before the stop: done
      const keep = sliceCandles(checked, from, to);
      const first = keep.time[0] as number;
      const lastKept = keep.time[keep.length - 1] as number;
      if (prevLast !== null && first - prevLast > tfMs) {
        gaps.push({ after: prevLast, before: first, missing: Math.round((first - prevLast) / tfMs) - 1 });
      }
      for (const g of checked.gaps) if (g.after >= first && g.before <= lastKept) gaps.push(g);

      let text = header ? `${CANDLE_HEADER}\n` : newline ? '\n' : '';
      for (let i = 0; i < keep.length; i++) {
        text += candleRow(keep.time[i] as number, keep.open[i] as number, keep.high[i] as number, keep.low[i] as number, keep.close[i] as number, keep.volume[i] as number);
      }
      fh ??= await open(file, 'a');
      await fh.appendFile(text);
      header = false;
      newline = false;
      appended += keep.length;
      rows += keep.length;
      prevLast = lastKept;
      cursor = lastKept + tfMs;
      progress(cursor);
      if (to < checked.length) break; // the page reached past the stop
    }
    if (header) {
      // a new file with nothing in range still gets its header, so the next run can resume it
      fh ??= await open(file, 'a');
      await fh.appendFile(`${CANDLE_HEADER}\n`);
    }
    await fh?.datasync();
  } finally {
    await fh?.close();
  }
  opts.onProgress?.({ symbol, done: total, total });
  gaps.sort((a, b) => a.after - b.after);
  return { symbol, file, candles: rows, gaps, appended, resumedAfter: existing?.last ?? null };
}
