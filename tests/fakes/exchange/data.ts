import { existsSync, openSync, readFileSync, readSync, closeSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { sharedDataDir } from '../../helpers/recorded.js';
import type { CandleColumns } from '../../../src/market/replay/csv.js';

/**
 * The recorded market data the fake exchange serves: real Binance candles and trades from the
 * shared data dir (see ../shared/data/SOURCES.md). Nothing here is generated: a series is the
 * file's rows, parsed once and kept as columns; a missing candle stays missing.
 */

/** DESKBOT_MARKET_DIR, else <repo>/../shared/data; a clear failure when it is missing */
export const defaultMarketDir = sharedDataDir;

/** a recorded candle file's columns, with its timeframe */
export type CandleSeries = CandleColumns & { timeframe: string; tfMs: number };

export interface TradeSeries {
  time: Float64Array;
  id: number[];
  side: Array<'buy' | 'sell' | null>;
  price: Float64Array;
  amount: Float64Array;
  cost: Float64Array;
  length: number;
}

export interface RecordedMarket {
  /** Binance market id, e.g. BTCUSDT */
  id: string;
  base: string;
  quote: string;
  /** timeframe → candle file */
  candleFiles: Map<string, string>;
  tradesFile: string | null;
}

const CANDLE_FILE = /^binance_([A-Z0-9]+)-([A-Z0-9]+)_(\d+[mhdw])\.csv$/;
const TRADES_FILE = /^binance_([A-Z0-9]+)-([A-Z0-9]+)_trades\.csv$/;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function tfToMs(tf: string): number | undefined {
  const m = /^(\d+)([mhdw])$/.exec(tf);
  if (m === null) return undefined;
  const unit = UNIT_MS[m[2] as string];
  return unit === undefined ? undefined : Number(m[1]) * unit;
}

export class RecordedData {
  readonly markets = new Map<string, RecordedMarket>();
  private readonly candleCache = new Map<string, CandleSeries>();
  private readonly tradeCache = new Map<string, TradeSeries>();

  private constructor(readonly dir: string) {}

  /** Lists the recorded Binance files in dir; fails loudly (naming the path) when the dir is missing or empty. */
  static open(dir: string): RecordedData {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new Error(
        `fake exchange: recorded market data dir not found: ${dir} — set DESKBOT_MARKET_DIR to the shared data dir (the default is <repo>/../shared/data)`,
      );
    }
    const data = new RecordedData(dir);
    const entry = (base: string, quote: string): RecordedMarket => {
      const id = `${base}${quote}`;
      let m = data.markets.get(id);
      if (m === undefined) {
        m = { id, base, quote, candleFiles: new Map(), tradesFile: null };
        data.markets.set(id, m);
      }
      return m;
    };
    for (const name of readdirSync(dir)) {
      const c = CANDLE_FILE.exec(name);
      if (c !== null) entry(c[1] as string, c[2] as string).candleFiles.set(c[3] as string, path.join(dir, name));
    }
    const tradesDir = path.join(dir, 'trades');
    if (existsSync(tradesDir)) {
      for (const name of readdirSync(tradesDir)) {
        const t = TRADES_FILE.exec(name);
        if (t !== null) entry(t[1] as string, t[2] as string).tradesFile = path.join(tradesDir, name);
      }
    }
    if (data.markets.size === 0) {
      throw new Error(
        `fake exchange: no recorded Binance files (binance_<BASE>-<QUOTE>_<tf>.csv or trades/binance_<BASE>-<QUOTE>_trades.csv) in ${dir} — set DESKBOT_MARKET_DIR to the shared data dir`,
      );
    }
    return data;
  }

  candles(marketId: string, tf: string): CandleSeries | undefined {
    const key = `${marketId}|${tf}`;
    const hit = this.candleCache.get(key);
    if (hit !== undefined) return hit;
    const file = this.markets.get(marketId)?.candleFiles.get(tf);
    const tfMs = tfToMs(tf);
    if (file === undefined || tfMs === undefined) return undefined;
    const s = parseCandles(file, tf, tfMs);
    this.candleCache.set(key, s);
    return s;
  }

  trades(marketId: string): TradeSeries | undefined {
    const hit = this.tradeCache.get(marketId);
    if (hit !== undefined) return hit;
    const file = this.markets.get(marketId)?.tradesFile;
    if (file === undefined || file === null) return undefined;
    const s = parseTrades(file);
    this.tradeCache.set(marketId, s);
    return s;
  }

  /** the finest recorded timeframe of a market (what the 24 h ticker is computed from) */
  finestTimeframe(marketId: string): string | undefined {
    const m = this.markets.get(marketId);
    if (m === undefined) return undefined;
    let best: string | undefined;
    let bestMs = Number.POSITIVE_INFINITY;
    for (const tf of m.candleFiles.keys()) {
      const ms = tfToMs(tf) ?? Number.POSITIVE_INFINITY;
      if (ms < bestMs) {
        best = tf;
        bestMs = ms;
      }
    }
    return best;
  }

  /**
   * Decimal places used by the recorded prices and amounts of a market (from the head of one
   * of its files): the basis of its exchangeInfo tickSize / stepSize. Metadata, not prices.
   */
  decimals(marketId: string): { price: number; amount: number } {
    const m = this.markets.get(marketId);
    if (m === undefined) return { price: 8, amount: 8 };
    const candleFile = m.candleFiles.get('1h') ?? m.candleFiles.values().next().value;
    if (candleFile !== undefined) return headDecimals(candleFile, [1, 2, 3, 4], [5]);
    if (m.tradesFile !== null) return headDecimals(m.tradesFile, [3], [4]);
    return { price: 8, amount: 8 };
  }
}

function lines(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out = text.split('\n');
  if (out.length > 0 && out[out.length - 1]?.trim() === '') out.pop();
  return out;
}

function parseCandles(file: string, timeframe: string, tfMs: number): CandleSeries {
  const rows = lines(file);
  const header = rows[0]?.trim();
  if (header !== 'timestamp,open,high,low,close,volume') throw new Error(`fake exchange: ${file}: unexpected header "${header}"`);
  const n = rows.length - 1;
  const cols = [0, 1, 2, 3, 4, 5].map(() => new Float64Array(n));
  for (let i = 0; i < n; i++) {
    const f = (rows[i + 1] as string).split(',');
    if (f.length < 6) throw new Error(`fake exchange: ${file}: line ${i + 2} has ${f.length} fields`);
    for (let k = 0; k < 6; k++) (cols[k] as Float64Array)[i] = Number(f[k]);
  }
  const [time, open, high, low, close, volume] = cols as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  return { timeframe, tfMs, time, open, high, low, close, volume, length: n };
}

function parseTrades(file: string): TradeSeries {
  const rows = lines(file);
  const header = rows[0]?.trim();
  if (header !== 'timestamp,id,side,price,amount,cost') throw new Error(`fake exchange: ${file}: unexpected header "${header}"`);
  const n = rows.length - 1;
  const s: TradeSeries = {
    time: new Float64Array(n),
    id: new Array<number>(n),
    side: new Array<'buy' | 'sell' | null>(n),
    price: new Float64Array(n),
    amount: new Float64Array(n),
    cost: new Float64Array(n),
    length: n,
  };
  for (let i = 0; i < n; i++) {
    const f = (rows[i + 1] as string).split(',');
    s.time[i] = Number(f[0]);
    s.id[i] = Number(f[1]);
    s.side[i] = f[2] === 'buy' || f[2] === 'sell' ? f[2] : null;
    s.price[i] = Number(f[3]);
    s.amount[i] = Number(f[4]);
    s.cost[i] = Number(f[5]);
  }
  return s;
}

function headDecimals(file: string, priceCols: number[], amountCols: number[]): { price: number; amount: number } {
  const fd = openSync(file, 'r');
  const buf = Buffer.alloc(64 * 1024);
  let n: number;
  try {
    n = readSync(fd, buf, 0, buf.length, 0);
  } finally {
    closeSync(fd);
  }
  const rows = buf.subarray(0, n).toString('utf8').split('\n').slice(1, -1);
  let price = 0;
  let amount = 0;
  const dec = (s: string | undefined): number => {
    const dot = s?.indexOf('.') ?? -1;
    return s === undefined || dot < 0 ? 0 : s.trim().length - dot - 1;
  };
  for (const r of rows) {
    const f = r.split(',');
    for (const c of priceCols) price = Math.max(price, dec(f[c]));
    for (const c of amountCols) amount = Math.max(amount, dec(f[c]));
  }
  return { price: Math.min(price, 8), amount: Math.min(amount, 8) };
}
