import { open, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { BadDataError, MarketError, NotEnoughDataError, UnknownExchangeError, UnknownSymbolError } from '../errors.js';
import { checkCandles } from '../integrity.js';
import { timeframeMs, TIMEFRAMES } from '../timeframes.js';
import { fromColumns, sliceCandles, type CandleRequest, type Candles, type MarketInfo, type MarketSource, type OrderBook, type Ticker, type Trade } from '../types.js';
import { lowerBound, upperBound } from '../search.js';
import { lastCandleTimeFromTail, parseCandleCsv, parseTradesCsv, type CandleColumns, type TradeColumns } from './csv.js';
import { utcAt } from '../../kernel/utc.js';

/**
 * The replay source: the MarketSource interface over recorded files (see
 * ../shared/data/SOURCES.md for the format). This is how the desk runs offline and how tests
 * and benchmarks get real prices. It serves what was recorded and nothing else: no synthetic
 * candles, no filled gaps, no order books.
 *
 * Files
 *   <dir>/<exchange>_<BASE>-<QUOTE>_<timeframe>.csv          candles
 *   <dir>/trades/<exchange>_<BASE>-<QUOTE>_trades.csv        trades
 * The directory is indexed at start (names only, plus the last line of each candle file when
 * "now" has to be found); a file is parsed on first use and kept in memory as columns.
 *
 * "now" (what `now()` returns and what every answer is cut at)
 *   - with a replay time: that time;
 *   - without one: the close time (open + timeframe) of the newest recorded candle over all
 *     candle files in the directory, found from each file's last line. Every series then ends
 *     at or before now, so without a replay time each one is served up to its own last candle.
 *     Trade files do not move "now": they are samples from other dates (2019, 2023) and letting
 *     them drag the desk's clock would make every recorded price look years old.
 *   Only closed candles are served: open + timeframe ≤ now. Trades: time ≤ now. So a replay time
 *   in the past shows the desk as it was then — nothing after it leaks in (no look-ahead).
 *   "now" is fixed for the life of the source: the replay does not advance with the wall clock.
 *   The clock is used only to refuse a replay time in the future.
 *
 * Returned candles are views on the cached columns (no copy): read them, never write to them.
 */

export interface ReplaySourceOptions {
  dir: string;
  /** replay "now" in ms UTC (from market.replayTime), or null for the last recorded candle */
  replayTime: number | null;
  clock: { now(): number };
}

const CANDLE_FILE = /^([a-z][a-z0-9]*)_([A-Z0-9]+)-([A-Z0-9]+)_([0-9]+[smhdw])\.csv$/;
const TRADES_FILE = /^([a-z][a-z0-9]*)_([A-Z0-9]+)-([A-Z0-9]+)_trades\.csv$/;
const DAY_MS = 86_400_000;
const DEFAULT_CANDLE_LIMIT = 500;
const DEFAULT_TRADE_LIMIT = 1000;


interface SeriesEntry {
  exchange: string;
  symbol: string;
  timeframe: string;
  tfMs: number;
  file: string;
  /** open time of the last candle (from the file's tail), when read; null for a file with no rows */
  lastOpen?: number | null;
  columns?: Promise<CandleColumns>;
}

interface TradesEntry {
  exchange: string;
  symbol: string;
  file: string;
  columns?: Promise<TradeColumns>;
}

interface SymbolEntry {
  base: string;
  quote: string;
  /** timeframe → series */
  series: Map<string, SeriesEntry>;
  trades?: TradesEntry;
}

export async function createReplaySource(opts: ReplaySourceOptions): Promise<MarketSource> {
  const dir = path.resolve(opts.dir);
  const index = await indexDir(dir);

  if (opts.replayTime !== null) {
    if (!Number.isFinite(opts.replayTime)) throw new MarketError(`replay time is not a valid time (${opts.replayTime})`);
    const wall = opts.clock.now();
    if (opts.replayTime > wall) {
      throw new MarketError(`replay time ${utcAt(opts.replayTime)} is in the future (now ${utcAt(wall)}); nothing can have been recorded then`);
    }
  }
  const now = opts.replayTime ?? (await newestClose(index, dir));
  return new ReplaySource(dir, index, now);
}

/** exchange → symbol → what is recorded for it */
type Index = Map<string, Map<string, SymbolEntry>>;

async function indexDir(dir: string): Promise<Index> {
  let names: string[];
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) throw new MarketError(`recorded market data: ${dir} is not a directory (set DESKBOT_MARKET_DIR or market.dir)`);
    names = await readdir(dir);
  } catch (e) {
    if (e instanceof MarketError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'directory not found' : `cannot read it (${code ?? String(e)})`;
    throw new MarketError(`recorded market data: ${dir}: ${why} (set DESKBOT_MARKET_DIR or market.dir to the folder of <exchange>_<BASE>-<QUOTE>_<timeframe>.csv files)`);
  }
  const index: Index = new Map();
  const symbolEntry = (exchange: string, base: string, quote: string): SymbolEntry => {
    let ex = index.get(exchange);
    if (!ex) index.set(exchange, (ex = new Map()));
    const symbol = `${base}/${quote}`;
    let s = ex.get(symbol);
    if (!s) ex.set(symbol, (s = { base, quote, series: new Map() }));
    return s;
  };
  for (const name of names.sort()) {
    const m = CANDLE_FILE.exec(name);
    if (!m) continue;
    const [, exchange, base, quote, tf] = m as unknown as [string, string, string, string, string];
    const tfMs = timeframeMs(tf);
    if (tfMs === undefined) continue;
    symbolEntry(exchange, base, quote).series.set(tf, { exchange, symbol: `${base}/${quote}`, timeframe: tf, tfMs, file: path.join(dir, name) });
  }
  let tradeNames: string[] = [];
  try {
    tradeNames = await readdir(path.join(dir, 'trades'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && (e as NodeJS.ErrnoException).code !== 'ENOTDIR') throw e;
  }
  for (const name of tradeNames.sort()) {
    const m = TRADES_FILE.exec(name);
    if (!m) continue;
    const [, exchange, base, quote] = m as unknown as [string, string, string, string];
    symbolEntry(exchange, base, quote).trades = { exchange, symbol: `${base}/${quote}`, file: path.join(dir, 'trades', name) };
  }
  if (index.size === 0) {
    throw new MarketError(`recorded market data: ${dir} holds no <exchange>_<BASE>-<QUOTE>_<timeframe>.csv files`);
  }
  return index;
}

/** max over candle files of (last open + timeframe), each read from the file's tail only */
async function newestClose(index: Index, dir: string): Promise<number> {
  const all: SeriesEntry[] = [];
  for (const ex of index.values()) for (const s of ex.values()) all.push(...s.series.values());
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < all.length) {
      const e = all[next++] as SeriesEntry;
      e.lastOpen = await readLastOpen(e.file);
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, all.length) }, worker));
  let best = Number.NEGATIVE_INFINITY;
  for (const e of all) if (e.lastOpen != null) best = Math.max(best, e.lastOpen + e.tfMs);
  if (!Number.isFinite(best)) throw new NotEnoughDataError(`recorded market data: no candle files with candles in ${dir}`);
  return best;
}

async function readLastOpen(file: string): Promise<number | null> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(file, 'r');
    const size = (await fh.stat()).size;
    for (let want = 512; ; want *= 4) {
      const n = Math.min(size, want);
      const buf = Buffer.alloc(n);
      await fh.read(buf, 0, n, size - n);
      const r = lastCandleTimeFromTail(buf, file, n === size);
      if (r === 'header') return null;
      if (r !== null) return r;
      if (n === size) return null;
    }
  } catch (e) {
    if (e instanceof MarketError) throw e;
    throw new MarketError(`recorded candles: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  } finally {
    await fh?.close();
  }
}

/**
 * Times must strictly ascend: everything here finds candles by binary search on time. Values
 * (NaN, high < low …) are the integrity gate's business; order is checked at load.
 */
function ascending(c: CandleColumns, file: string): CandleColumns {
  const t = c.time;
  for (let i = 1; i < c.length; i++) {
    if (!((t[i] as number) > (t[i - 1] as number))) {
      const what = t[i] === t[i - 1] ? 'appears twice' : 'is earlier than the row before it';
      throw new BadDataError(`${file}: line ${i + 2}: candle time ${t[i]} ${what} — the record must be sorted with no duplicates`);
    }
  }
  return c;
}

function positiveInt(n: number | undefined, fallback: number, what: string): number {
  if (n === undefined) return fallback;
  if (!Number.isInteger(n) || n < 1) throw new MarketError(`${what} must be a positive whole number, got ${n}`);
  return n;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] as number;
}

class ReplaySource implements MarketSource {
  readonly kind = 'replay' as const;

  constructor(
    readonly dir: string,
    private readonly index: Index,
    private readonly nowMs: number,
  ) {}

  now(): number {
    return this.nowMs;
  }

  exchanges(): readonly string[] {
    return [...this.index.keys()].sort();
  }

  async loadMarkets(exchange: string): Promise<MarketInfo[]> {
    const ex = this.exchange(exchange);
    // fees, precision and limits are not in the record: null (unknown), never a guess
    return [...ex.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([symbol, s]) => ({ symbol, base: s.base, quote: s.quote, active: true, taker: null, maker: null, pricePrecision: null, amountPrecision: null, minAmount: null, minCost: null }));
  }

  /**
   * Without `since`: the newest `limit` (default 500) closed candles at or before now.
   * With `since`: the first `limit` closed candles with open time ≥ since (what pagination needs,
   * as ccxt's fetchOHLCV does). Empty when nothing recorded falls in the range; an error when the
   * record has no closed candle at all by now (a replay time before the record starts).
   */
  async fetchCandles(req: CandleRequest): Promise<Candles> {
    const e = this.series(req.exchange, req.symbol, req.timeframe);
    const limit = positiveInt(req.limit, DEFAULT_CANDLE_LIMIT, 'limit');
    const cols = await this.load(e);
    const end = this.closedEnd(e, cols);
    let from: number;
    let to: number;
    if (req.since === undefined) {
      to = end;
      from = Math.max(0, end - limit);
    } else {
      if (!Number.isFinite(req.since)) throw new MarketError(`since must be a time in ms, got ${req.since}`);
      from = Math.min(lowerBound(cols.time, req.since), end);
      to = Math.min(end, from + limit);
    }
    const all = fromColumns(e.exchange, e.symbol, e.timeframe, e.tfMs, 'replay', cols.time, cols.open, cols.high, cols.low, cols.close, cols.volume);
    return sliceCandles(all, from, to);
  }

  /**
   * From the candles at now, 1h file preferred, else the smallest recorded timeframe:
   *   last = the last closed candle's close; time = its close time;
   *   change24hPct vs the close of the candle that opened exactly 24 h before the last one —
   *     null when that candle is missing (a gap, or before the record starts);
   *   high/low/base volume over the candles of the last 24 h — null when that window is not
   *     complete (it crosses a gap or the start of the record): a 24 h high over 21 h of data
   *     would be a number computed across a hole;
   *   quote volume, bid and ask: null — the record has base volume only and no book.
   * The candles used pass the integrity gate first.
   */
  async fetchTicker(exchange: string, symbol: string): Promise<Ticker> {
    const s = this.symbol(exchange, symbol);
    const e = s.series.get('1h') ?? [...s.series.values()].sort((a, b) => a.tfMs - b.tfMs)[0];
    if (e === undefined) throw new NotEnoughDataError(`${exchange} ${symbol}: no recorded candles (only trades), so no price`);
    const cols = await this.load(e);
    const end = this.closedEnd(e, cols);
    const lastIdx = end - 1;
    const t = cols.time;
    const lastOpen = t[lastIdx] as number;

    const refT = lastOpen - DAY_MS;
    const r = lowerBound(t, refT, 0, end);
    const refIdx = r < end && t[r] === refT ? r : -1;
    const perDay = DAY_MS / e.tfMs;
    const winStart = upperBound(t, refT, 0, end); // first candle opening after refT
    const complete = Number.isInteger(perDay) && end - winStart === perDay;

    const all = fromColumns(e.exchange, e.symbol, e.timeframe, e.tfMs, 'replay', t, cols.open, cols.high, cols.low, cols.close, cols.volume);
    checkCandles(sliceCandles(all, refIdx >= 0 ? refIdx : winStart, end), { live: false, now: this.nowMs });

    const last = cols.close[lastIdx] as number;
    const ref = refIdx >= 0 ? (cols.close[refIdx] as number) : null;
    let high: number | null = null;
    let low: number | null = null;
    let volume: number | null = null;
    if (complete) {
      high = Number.NEGATIVE_INFINITY;
      low = Number.POSITIVE_INFINITY;
      volume = 0;
      for (let i = winStart; i < end; i++) {
        high = Math.max(high, cols.high[i] as number);
        low = Math.min(low, cols.low[i] as number);
        volume += cols.volume[i] as number;
      }
    }
    return {
      exchange: e.exchange,
      symbol: e.symbol,
      last,
      change24hPct: ref === null ? null : (last / ref - 1) * 100,
      high24h: high,
      low24h: low,
      baseVolume24h: volume,
      quoteVolume24h: null,
      bid: null,
      ask: null,
      time: lastOpen + e.tfMs,
      source: 'replay',
    };
  }

  async fetchOrderBook(exchange: string, symbol: string, _depth: number): Promise<OrderBook> {
    this.symbol(exchange, symbol);
    throw new NotEnoughDataError(`no recorded order book for ${exchange} ${symbol} (the recorded data has candles and trades only)`);
  }

  /**
   * Recorded trades at or before now. Without `since`: the newest `limit` (default 1000); with
   * it: the first `limit` at or after since. An error when the record has trades but none by now.
   */
  async fetchTrades(exchange: string, symbol: string, opts: { since?: number; limit?: number }): Promise<Trade[]> {
    const s = this.symbol(exchange, symbol);
    const te = s.trades;
    if (te === undefined) {
      throw new NotEnoughDataError(`${exchange} ${symbol}: no recorded trades (recorded for ${symbol}: ${this.describeRecorded(s)})`);
    }
    const limit = positiveInt(opts.limit, DEFAULT_TRADE_LIMIT, 'limit');
    te.columns ??= readFile(te.file).then(
      (buf) => parseTradesCsv(buf, te.file),
      (err: unknown) => {
        throw new MarketError(`recorded trades: cannot read ${te.file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      },
    );
    let cols: TradeColumns;
    try {
      cols = await te.columns;
    } catch (err) {
      te.columns = undefined; // a fixed file is read again next time
      throw err;
    }
    const end = upperBound(cols.time, this.nowMs);
    if (end === 0 && cols.length > 0) {
      throw new NotEnoughDataError(
        `${exchange} ${symbol}: recorded trades start ${utcAt(cols.time[0] as number)}, after the desk's now (${utcAt(this.nowMs)}); set market.replayTime later to replay them`,
      );
    }
    let from: number;
    let to: number;
    if (opts.since === undefined) {
      to = end;
      from = Math.max(0, end - limit);
    } else {
      from = Math.min(lowerBound(cols.time, opts.since), end);
      to = Math.min(end, from + limit);
    }
    const out: Trade[] = new Array(to - from);
    for (let i = from; i < to; i++) {
      out[i - from] = { id: cols.id[i] as string, time: cols.time[i] as number, side: cols.side[i] ?? null, price: cols.price[i] as number, amount: cols.amount[i] as number, cost: cols.cost[i] as number };
    }
    return out;
  }

  async close(): Promise<void> {
    for (const ex of this.index.values()) {
      for (const s of ex.values()) {
        for (const e of s.series.values()) e.columns = undefined;
        if (s.trades) s.trades.columns = undefined;
      }
    }
  }

  // -------------------------------------------------------------------------------------------

  private exchange(exchange: string): Map<string, SymbolEntry> {
    const ex = this.index.get(exchange);
    if (!ex) throw new UnknownExchangeError(exchange, this.exchanges());
    return ex;
  }

  private symbol(exchange: string, symbol: string): SymbolEntry {
    const ex = this.exchange(exchange);
    const s = ex.get(symbol);
    if (s) return s;
    // close matches: the same base with another quote first; otherwise near spellings
    const want = symbol.toUpperCase();
    const [wantBase] = want.split('/');
    const keys = [...ex.keys()].sort();
    const sameBase = keys.filter((k) => k.split('/')[0] === wantBase);
    const scored =
      sameBase.length > 0
        ? sameBase.map((k) => ({ k, d: 0 }))
        : keys
            .map((k) => ({ k, d: levenshtein(k, want) }))
            .filter((x) => x.d <= 2)
            .sort((a, b) => a.d - b.d || a.k.localeCompare(b.k));
    throw new UnknownSymbolError(exchange, symbol, scored.slice(0, 5).map((x) => x.k));
  }

  private describeRecorded(s: SymbolEntry): string {
    const tfs = [...s.series.values()].sort((a, b) => a.tfMs - b.tfMs).map((e) => e.timeframe);
    const parts = tfs.length > 0 ? [`candles ${tfs.join(', ')}`] : [];
    if (s.trades) parts.push('trades');
    return parts.join('; ') || 'nothing';
  }

  private series(exchange: string, symbol: string, timeframe: string): SeriesEntry {
    const s = this.symbol(exchange, symbol);
    const e = s.series.get(timeframe);
    if (e) return e;
    const tfs = [...s.series.values()].sort((a, b) => a.tfMs - b.tfMs).map((x) => x.timeframe);
    if (timeframeMs(timeframe) === undefined) {
      throw new MarketError(`"${timeframe}" is not a timeframe (use one of ${TIMEFRAMES.join(', ')}); ${exchange} ${symbol} is recorded at ${tfs.join(', ') || 'no timeframe (trades only)'}`);
    }
    throw new NotEnoughDataError(`${exchange} ${symbol} has no ${timeframe} record (recorded: ${tfs.length > 0 ? tfs.join(', ') : 'trades only, no candles'})`);
  }

  private async load(e: SeriesEntry): Promise<CandleColumns> {
    e.columns ??= readFile(e.file).then(
      (buf) => ascending(parseCandleCsv(buf, e.file), e.file),
      (err: unknown) => {
        throw new MarketError(`recorded candles: cannot read ${e.file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      },
    );
    try {
      return await e.columns;
    } catch (err) {
      e.columns = undefined; // a fixed file is read again next time
      throw err;
    }
  }

  /** how many candles are closed by now (open + timeframe ≤ now); refuses when none is */
  private closedEnd(e: SeriesEntry, cols: CandleColumns): number {
    const end = upperBound(cols.time, this.nowMs - e.tfMs);
    if (end === 0) {
      const where = `${e.exchange} ${e.symbol} ${e.timeframe}`;
      if (cols.length === 0) throw new NotEnoughDataError(`${where}: the record (${e.file}) has no candles`);
      throw new NotEnoughDataError(`${where}: the record starts ${utcAt(cols.time[0] as number)}, after the desk's now (${utcAt(this.nowMs)}) — no candle had closed by then`);
    }
    return end;
  }
}
